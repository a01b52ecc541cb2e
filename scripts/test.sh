#!/usr/bin/env bash
# Sets up, builds and runs every test: every C file must match .clang-format (CI fails on
# drift; fix with clang-format -i); Discord reply structure is built in src/discord/ only
# (scripts/check_reply_owner.sh); every file a comment or document names exists
# (scripts/check_file_refs.sh); the release build (what the run command and the
# benchmarks use: -O2 raises warnings Debug does not) must compile, and every function it
# exports is named after its file or a shared prefix of docs/layers.md
# (scripts/check_prefixes.sh reads the objects); the Debian package is built
# and unpacked into a temporary root (or, with FLUXBOT_TEST_DPKG_INSTALL=1 as root, as CI does
# on its fresh machine, installed with apt/dpkg), and the release build installed with
# `cmake --install` into another, for test_install to run the installed files; then
# all tests under ASan+UBSan, then the concurrent ones (label "tsan") under ThreadSanitizer.
# A throw-away PostgreSQL 15 (scripts/pg.sh: Unix socket in a temporary directory, no TCP port)
# serves both runs; its URL reaches the tests as FLUXBOT_TEST_PG_URL, and it is stopped at exit.
# Extra arguments go to ctest (e.g. -R router).
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
"$here/scripts/bootstrap.sh"
jobs=$(nproc)

(cd "$here" && find . \( -path ./build -o -path './.*' \) -prune -o -type f -name '*.[ch]' -print0 |
    xargs -0 clang-format --dry-run -Werror)
echo "== every C file matches .clang-format"

"$here/scripts/check_reply_owner.sh"
echo "== Discord replies (envelopes, allowed_mentions, interaction/webhook paths) only in src/discord/"

"$here/scripts/check_file_refs.sh"
echo "== every file a comment or document names exists"

"$here/scripts/build.sh" release >/dev/null
echo "== release build (with benchmarks) compiled"

"$here/scripts/check_prefixes.sh" "${FLUXBOT_BUILD_ROOT:-$here/build}/release"
echo "== every exported function is named after its file (or a shared prefix of docs/layers.md)"

pkglog="${FLUXBOT_BUILD_ROOT:-$here/build}/package.log"
mkdir -p "$(dirname "$pkglog")"
if ! deb=$("$here/scripts/package.sh" 2>"$pkglog"); then
    cat "$pkglog" >&2
    exit 1
fi
if [ "${FLUXBOT_TEST_DPKG_INSTALL:-0}" = 1 ] && [ "$(id -u)" -eq 0 ]; then
    # apt resolves what the package depends on and a fresh machine may lack (procps).
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$deb" >/dev/null
    export FLUXBOT_INSTALLED_ROOT=/
else
    FLUXBOT_INSTALLED_ROOT=$(mktemp -d "${TMPDIR:-/tmp}/fluxbot-pkg-XXXXXX")
    export FLUXBOT_INSTALLED_ROOT
    dpkg -x "$deb" "$FLUXBOT_INSTALLED_ROOT"
fi
# And a source build installed the GNU way, into a temporary root.
FLUXBOT_SOURCE_INSTALL_ROOT=$(mktemp -d "${TMPDIR:-/tmp}/fluxbot-inst-XXXXXX")
export FLUXBOT_SOURCE_INSTALL_ROOT
pg_dir=
cleanup() {
    rm -rf "$FLUXBOT_SOURCE_INSTALL_ROOT"
    [ "$FLUXBOT_INSTALLED_ROOT" = / ] || rm -rf "$FLUXBOT_INSTALLED_ROOT"
    [ -z "$pg_dir" ] || "$here/scripts/pg.sh" stop "$pg_dir"
}
trap cleanup EXIT
DESTDIR="$FLUXBOT_SOURCE_INSTALL_ROOT" cmake --install "${FLUXBOT_BUILD_ROOT:-$here/build}/release" >/dev/null
echo "== package $(basename "$deb") built, installed in $FLUXBOT_INSTALLED_ROOT; release build installed in $FLUXBOT_SOURCE_INSTALL_ROOT (test_install runs both)"

pg_out=$("$here/scripts/pg.sh" start)
pg_dir=$(sed -n 1p <<<"$pg_out")
FLUXBOT_TEST_PG_URL=$(sed -n 2p <<<"$pg_out")
export FLUXBOT_TEST_PG_URL
echo "== PostgreSQL $("${FLUXBOT_PG_BIN:-/usr/lib/postgresql/15/bin}/postgres" --version | awk '{print $3}') on a Unix socket in $pg_dir (no TCP)"

asan=$("$here/scripts/build.sh" asan)
echo "== tests under AddressSanitizer + UndefinedBehaviorSanitizer"
(cd "$asan" && ctest --output-on-failure -j "$jobs" "$@")

tsan=$("$here/scripts/build.sh" tsan)
echo "== concurrent tests under ThreadSanitizer"
(cd "$tsan" && ctest --output-on-failure -j "$jobs" -L tsan "$@")

# Last, every libFuzzer harness of fuzz/ for a few seconds (FLUXBOT_FUZZ_SECONDS, default 6; 0
# skips the stage; a run filtered with ctest arguments skips it too). scripts/fuzz.sh runs them
# longer.
fuzz_seconds=${FLUXBOT_FUZZ_SECONDS:-6}
if [ $# -eq 0 ] && [ "$fuzz_seconds" != 0 ]; then
    echo "== fuzz harnesses, ${fuzz_seconds}s each (scripts/fuzz.sh runs them longer)"
    "$here/scripts/fuzz.sh" "$fuzz_seconds"
fi
