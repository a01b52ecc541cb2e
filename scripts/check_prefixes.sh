#!/usr/bin/env bash
# A module's prefix is its file's name: every external (non-static) function defined in src/,
# testkit/, tests/support/ or bench/support/ is named after its file (cjob.c exports cjob_*),
# or belongs to one of the shared prefixes listed in docs/layers.md ("Shared prefixes", the
# table between the check_prefixes markers): a family of files (an_*.c may export an_*), a
# folder (src/runtime/ exports rt_*), or a named file kept as it is. The table is read here, so
# the documentation and the check cannot disagree; a name outside both fails the run. Without
# the rule a name no longer leads to its file, and two files can grow the same prefix.
#
# The names are read from the object files of a build (nm: exactly what the linker sees, macros
# expanded, static functions excluded), so run it after a build: scripts/check_prefixes.sh
# [BUILD_DIR] (default build/release). Every C file of those folders must have its object there.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-${FLUXBOT_BUILD_ROOT:-$here/build}/release}
cd "$here"
exec python3 - "$build" <<'EOF'
import fnmatch, glob, os, re, subprocess, sys

build = sys.argv[1]
doc = "docs/layers.md"
text = open(doc).read()
m = re.search(r"<!-- check_prefixes: begin -->(.*?)<!-- check_prefixes: end -->", text, re.S)
if not m:
    sys.exit(f"{doc}: the shared-prefix table (check_prefixes markers) is missing")
# A row: | `p1`, `p2` | what | `scope` |; scope is a file-name glob (an_*.c), a folder
# (src/runtime/) or one file (tests/support/x.c).
shared = []
for row in m.group(1).splitlines():
    cells = [c.strip() for c in row.strip().strip("|").split("|")]
    if len(cells) < 3 or not cells[0].startswith("`"):
        continue
    prefixes = re.findall(r"`([^`]+)`", cells[0])
    scope = re.findall(r"`([^`]+)`", cells[-1])
    if not prefixes or len(scope) != 1:
        sys.exit(f"{doc}: cannot read the shared-prefix row: {row.strip()}")
    shared.append((prefixes, scope[0]))
if not shared:
    sys.exit(f"{doc}: the shared-prefix table has no rows")

def in_scope(src, scope):
    if scope.endswith("/"):
        return src.startswith(scope)
    if "/" in scope:
        return src == scope
    return fnmatch.fnmatchcase(os.path.basename(src), scope)

def allowed(src, name):
    base = os.path.splitext(os.path.basename(src))[0]
    if name == base or name.startswith(base + "_"):
        return True
    return any(in_scope(src, scope) and any(name.startswith(p) for p in prefixes)
               for prefixes, scope in shared)

roots = ("src/", "testkit/", "tests/support/", "bench/support/")
sources = subprocess.run(["git", "ls-files", "-co", "--exclude-standard", *roots],
                         capture_output=True, text=True, check=True).stdout.split()
sources = [s for s in sources if s.endswith(".c") and os.path.exists(s)]
bad, missing = [], []
for src in sorted(sources):
    objs = glob.glob(os.path.join(build, "CMakeFiles", "*.dir", src + ".o"))
    if not objs:
        missing.append(src)
        continue
    out = subprocess.run(["nm", "--defined-only", "-g", objs[0]], capture_output=True,
                         text=True, check=True).stdout
    for line in out.splitlines():
        f = line.split()
        if len(f) == 3 and f[1] == "T" and not allowed(src, f[2]):
            bad.append((src, f[2]))
for src in missing:
    print(f"{src}: no object file under {build} (build it first)", file=sys.stderr)
for src, name in bad:
    print(f"{src}: exports {name}, which is neither {os.path.splitext(os.path.basename(src))[0]}_* "
          f"nor a shared prefix of {doc}", file=sys.stderr)
sys.exit(1 if bad or missing else 0)
EOF
