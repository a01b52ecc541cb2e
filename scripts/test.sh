#!/usr/bin/env bash
# Sets up, builds and runs every test: the release build (what the run command and the
# benchmarks use: -O2 raises warnings Debug does not) must compile; then all tests under
# ASan+UBSan, then the concurrent ones (label "tsan") under ThreadSanitizer, then every libFuzzer
# harness of fuzz/ for a few seconds (FLUXBOT_FUZZ_SECONDS, default 8; 0 skips the stage).
# Extra arguments go to ctest (e.g. -R router); a run filtered that way skips the fuzz stage.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
"$here/scripts/bootstrap.sh"
jobs=$(nproc)

"$here/scripts/build.sh" release >/dev/null
echo "== release build (with benchmarks) compiled"

asan=$("$here/scripts/build.sh" asan)
echo "== tests under AddressSanitizer + UndefinedBehaviorSanitizer"
(cd "$asan" && ctest --output-on-failure -j "$jobs" "$@")

tsan=$("$here/scripts/build.sh" tsan)
echo "== concurrent tests under ThreadSanitizer"
(cd "$tsan" && ctest --output-on-failure -j "$jobs" -L tsan "$@")

fuzz_seconds=${FLUXBOT_FUZZ_SECONDS:-8}
if [ $# -eq 0 ] && [ "$fuzz_seconds" != 0 ]; then
    echo "== fuzz harnesses, ${fuzz_seconds}s each (scripts/fuzz.sh runs them longer)"
    "$here/scripts/fuzz.sh" "$fuzz_seconds"
fi
