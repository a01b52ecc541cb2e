#!/usr/bin/env bash
# Every file a comment or a document names exists in the repository. Checked: the comments of
# every C file, and README.md and docs/*.md; a name is a repository path (src/..., tests/...,
# docs/..., testkit/..., bench/..., fuzz/..., scripts/..., include/..., contrib/..., cmake/...),
# an include-style path ("comfy/cjob.h", found under src/, testkit/, include/ or a support
# folder) or a bare C file name ("cjob.c", found anywhere in the tree). A module may be named
# without its extension ("bench/support/e2e_sched") and both files with braces
# ("router/rcmd.{c,h}"); globs and <placeholders> are skipped, and so are C library headers (any name some file
# includes with <...>). A stale name sends the reader to a file that was renamed or never
# existed: after a rename, this is what finds the comments that still use the old name.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
cd "$here"
exec python3 - <<'EOF'
import os, re, subprocess, sys

def git_files(*args):
    out = subprocess.run(["git", "ls-files", "-co", "--exclude-standard", *args],
                         capture_output=True, text=True, check=True).stdout
    return [f for f in out.split("\n") if f and os.path.exists(f)]

tracked = git_files()
bases = {os.path.basename(f) for f in tracked}
roots = ("src/", "testkit/", "include/", "tests/support/", "bench/support/", "fuzz/support/")
rels = {f[len(r):] for f in tracked for r in roots if f.startswith(r)}
system = set()
for f in tracked:
    if f.endswith((".c", ".h")):
        with open(f, errors="replace") as fh:
            system.update(re.findall(r"#\s*include\s*<([^>]+)>", fh.read()))
system_bases = {os.path.basename(s) for s in system}

repo_path = re.compile(r"(?<![\w/.-])((?:src|tests|docs|testkit|bench|fuzz|scripts|include|contrib|cmake)"
                       r"/[\w./{},*-]*[\w}*])")
rel_path = re.compile(r"(?<![\w/.<-])((?:actors|analytics|app|comfy|config|discord|llm|moderation|msgs"
                      r"|pg|router|runtime|util|fakes|demo|fluxbot)/[\w.-]+\.(?:c|h))\b")
bare = re.compile(r"(?<![\w/.<-])([A-Za-z_][\w-]*\.(?:c|h))\b")

def expand(p):
    m = re.search(r"\{([^}]*)\}", p)
    return [p[:m.start()] + a + p[m.end():] for a in m.group(1).split(",")] if m else [p]

def exists(p):
    p = p.rstrip(".")
    return os.path.exists(p) or os.path.exists(p + ".c") or os.path.exists(p + ".h")

bad = []
for f in tracked:
    if f.endswith((".c", ".h")):
        with open(f, errors="replace") as fh:
            text = "\n".join(re.findall(r"/\*.*?\*/|//[^\n]*", fh.read(), re.S))
    elif f == "README.md" or (f.startswith("docs/") and f.endswith(".md")):
        with open(f, errors="replace") as fh:
            text = fh.read()
    else:
        continue
    for m in repo_path.finditer(text):
        if "*" in m.group(1) or text[m.end():m.end() + 1] == "<":  # a glob, a <placeholder>
            continue
        bad += [(f, p) for p in expand(m.group(1)) if not exists(p)]
    for m in rel_path.finditer(text):
        if m.group(1) not in rels and m.group(1) not in system:
            bad.append((f, m.group(1)))
    for m in bare.finditer(text):
        if m.group(1) not in bases and m.group(1) not in system_bases:
            bad.append((f, m.group(1)))

for f, p in sorted(set(bad)):
    print(f"{f}: names {p}, which is not in the repository", file=sys.stderr)
sys.exit(1 if bad else 0)
EOF
