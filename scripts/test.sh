#!/usr/bin/env bash
# Sets up, builds and runs every test: every C file must match .clang-format (CI fails on
# drift; fix with clang-format -i); the release build (what the run command and the
# benchmarks use: -O2 raises warnings Debug does not) must compile; then all tests under
# ASan+UBSan, then the concurrent ones (label "tsan") under ThreadSanitizer.
# Extra arguments go to ctest (e.g. -R router).
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
"$here/scripts/bootstrap.sh"
jobs=$(nproc)

(cd "$here" && find . \( -path ./build -o -path './.*' \) -prune -o -type f -name '*.[ch]' -print0 |
    xargs -0 clang-format --dry-run -Werror)
echo "== every C file matches .clang-format"

"$here/scripts/build.sh" release >/dev/null
echo "== release build (with benchmarks) compiled"

asan=$("$here/scripts/build.sh" asan)
echo "== tests under AddressSanitizer + UndefinedBehaviorSanitizer"
(cd "$asan" && ctest --output-on-failure -j "$jobs" "$@")

tsan=$("$here/scripts/build.sh" tsan)
echo "== concurrent tests under ThreadSanitizer"
(cd "$tsan" && ctest --output-on-failure -j "$jobs" -L tsan "$@")
