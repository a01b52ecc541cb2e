#!/usr/bin/env bash
# Configures and builds one flavour into build/<flavour>: release, asan (ASan+UBSan), tsan, or
# fuzz (the libFuzzer harnesses of fuzz/, built with clang-14; run them with scripts/fuzz.sh).
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
flavour=${1:-release}
case "$flavour" in
    release) args=(-DCMAKE_BUILD_TYPE=Release -DFLUXBOT_SANITIZE=none) ;;
    asan) args=(-DCMAKE_BUILD_TYPE=Debug -DFLUXBOT_SANITIZE=address -DFLUXBOT_BUILD_BENCH=OFF) ;;
    tsan) args=(-DCMAKE_BUILD_TYPE=Debug -DFLUXBOT_SANITIZE=thread -DFLUXBOT_BUILD_BENCH=OFF) ;;
    fuzz) args=(-DCMAKE_C_COMPILER="${FLUXBOT_FUZZ_CC:-clang-14}" -DCMAKE_BUILD_TYPE=RelWithDebInfo
                -DFLUXBOT_SANITIZE=none -DFLUXBOT_FUZZ=ON -DFLUXBOT_BUILD_TESTS=OFF
                -DFLUXBOT_BUILD_BENCH=OFF) ;;
    *) echo "usage: $0 [release|asan|tsan|fuzz]" >&2; exit 2 ;;
esac
dir="${FLUXBOT_BUILD_ROOT:-$here/build}/$flavour"
cmake -S "$here" -B "$dir" "${args[@]}" >/dev/null
cmake --build "$dir" -j "$(nproc)" -- --no-print-directory >&2
echo "$dir"
