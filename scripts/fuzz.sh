#!/usr/bin/env bash
# Builds the libFuzzer harnesses (build/fuzz, clang-14 with ASan+UBSan) and runs each one for
# SECONDS (default 300), starting from its seed corpus in fuzz/corpus/<harness>/. New inputs
# the fuzzer finds go to build/fuzz/corpus/<harness>/ (kept between runs, never into the tree);
# a crash, sanitizer report, leak, timeout or broken invariant is saved under build/fuzz/crashes/
# and makes the script fail after every harness has run.
#   scripts/fuzz.sh [SECONDS] [HARNESS...]     e.g. scripts/fuzz.sh 60 fuzz_gw_zlib
# Environment: FLUXBOT_FUZZ_RSS_MB (default 2048), FLUXBOT_FUZZ_TIMEOUT (seconds per input,
# default 10).
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
seconds=${1:-300}
shift || true
case "$seconds" in
    '' | *[!0-9]*) echo "usage: $0 [SECONDS] [HARNESS...]" >&2; exit 2 ;;
esac
rss=${FLUXBOT_FUZZ_RSS_MB:-2048}
per_input=${FLUXBOT_FUZZ_TIMEOUT:-10}

dir=$("$here/scripts/build.sh" fuzz)
if [ $# -gt 0 ]; then
    harnesses=("$@")
else
    harnesses=()
    for src in "$here"/fuzz/fuzz_*.c; do
        harnesses+=("$(basename "$src" .c)")
    done
fi

mkdir -p "$dir/crashes"
failed=()
for h in "${harnesses[@]}"; do
    name=${h#fuzz_}
    seeds="$here/fuzz/corpus/$name"
    work="$dir/corpus/$name"
    log="$dir/logs/$h.log"
    mkdir -p "$work" "$dir/logs"
    corpora=("$work")
    [ -d "$seeds" ] && corpora+=("$seeds")
    # The run's own wall-clock limit is a safety net: libFuzzer stops at -max_total_time.
    set +e
    timeout --kill-after=10 $((seconds + 120)) "$dir/$h" "${corpora[@]}" \
        -max_total_time="$seconds" -rss_limit_mb="$rss" -timeout="$per_input" \
        -artifact_prefix="$dir/crashes/$h-" -print_final_stats=1 >"$log" 2>&1
    rc=$?
    set -e
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
    cov=$(grep -aEo 'cov: [0-9]+' "$log" | tail -n 1 | cut -d' ' -f2 || true)
    if [ "$rc" -eq 0 ]; then
        printf '%-24s %10s runs in %ss, coverage %s, no crash\n' "$h" "${runs:-?}" "$seconds" "${cov:-?}"
    else
        failed+=("$h")
        printf '%-24s FAILED (exit %d) after %s runs; log: %s\n' "$h" "$rc" "${runs:-?}" "$log"
        grep -aE 'fuzz invariant broken|ERROR: (AddressSanitizer|LeakSanitizer|libFuzzer)|runtime error|SUMMARY|Test unit written' "$log" | head -n 8 | sed 's/^/    /' || true
    fi
done

if [ ${#failed[@]} -gt 0 ]; then
    echo "fuzz: ${#failed[@]} harness(es) failed: ${failed[*]} (crashing inputs in $dir/crashes/)" >&2
    exit 1
fi
echo "fuzz: ${#harnesses[@]} harnesses, no crash"
