#!/usr/bin/env bash
# Builds the Debian package: a release build with the /usr prefix (so the configuration goes to
# /etc) in build/package, packaged by CPack's DEB generator with its dependencies computed by
# dpkg-shlibdeps. Prints the .deb's path. Install it with: apt install ./build/package/fluxbot_*.deb
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
"$here/scripts/bootstrap.sh"
dir="${FLUXBOT_BUILD_ROOT:-$here/build}/package"
cmake -S "$here" -B "$dir" -DCMAKE_BUILD_TYPE=Release -DFLUXBOT_SANITIZE=none \
    -DCMAKE_INSTALL_PREFIX=/usr -DFLUXBOT_BUILD_TESTS=OFF -DFLUXBOT_BUILD_BENCH=OFF >/dev/null
cmake --build "$dir" -j "$(nproc)" -- --no-print-directory >&2
rm -f "$dir"/fluxbot_*.deb
(cd "$dir" && cpack -G DEB --config CPackConfig.cmake >&2)
ls "$dir"/fluxbot_*.deb
