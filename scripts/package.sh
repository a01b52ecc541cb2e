#!/usr/bin/env bash
# Builds the Debian package: a release build with the /usr prefix (so the configuration goes to
# /etc) and Debian's hardening flags in build/package, packaged by CPack's DEB generator with its
# dependencies computed by dpkg-shlibdeps. Prints the .deb's path. Install it with:
# apt install ./build/package/fluxbot_*.deb. The package's maintainer comes from the
# environment's FLUXBOT_DEB_MAINTAINER ("Name <address>"; see cmake/install.cmake) when set.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
"$here/scripts/bootstrap.sh"
dir="${FLUXBOT_BUILD_ROOT:-$here/build}/package"
# Debian's hardening flags (stack protector, _FORTIFY_SOURCE, format checks, full RELRO with
# immediate binding), as a package built by debhelper gets them.
export DEB_BUILD_MAINT_OPTIONS=hardening=+all
cflags="$(cd "$here" && dpkg-buildflags --get CFLAGS) $(dpkg-buildflags --get CPPFLAGS)"
ldflags=$(dpkg-buildflags --get LDFLAGS)
maintainer=()
[ -z "${FLUXBOT_DEB_MAINTAINER:-}" ] || maintainer=(-DFLUXBOT_DEB_MAINTAINER="$FLUXBOT_DEB_MAINTAINER")
cmake -S "$here" -B "$dir" -DCMAKE_BUILD_TYPE=Release -DFLUXBOT_SANITIZE=none \
    -DCMAKE_C_FLAGS="$cflags" -DCMAKE_EXE_LINKER_FLAGS="$ldflags" "${maintainer[@]}" \
    -DCMAKE_INSTALL_PREFIX=/usr -DFLUXBOT_BUILD_TESTS=OFF -DFLUXBOT_BUILD_BENCH=OFF >/dev/null
cmake --build "$dir" -j "$(nproc)" -- --no-print-directory >&2
rm -f "$dir"/fluxbot_*.deb
(cd "$dir" && cpack -G DEB --config CPackConfig.cmake >&2)
ls "$dir"/fluxbot_*.deb
