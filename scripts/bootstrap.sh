#!/usr/bin/env bash
# Installs the Debian packages fluxbot builds and tests with, only when one is missing.
# Non-interactive and idempotent: when everything is present it only runs dpkg-query.
set -euo pipefail

packages=(
    build-essential cmake pkg-config clang-14 libclang-rt-14-dev
    libwebsockets-dev libcurl4-openssl-dev libssl-dev libsqlite3-dev libcjson-dev libck-dev
    zlib1g-dev libcmocka-dev sqlite3 clang-format libpcre2-dev
    dpkg-dev file lintian
    python3 python3-discord python3-aiohttp python3-yarl strace
    postgresql libpq-dev
    libcairo2-dev libfontconfig-dev libpng-dev fonts-dejavu-core
)

missing=()
for p in "${packages[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
        missing+=("$p")
    fi
done

if [ ${#missing[@]} -eq 0 ]; then
    exit 0
fi

echo "bootstrap: installing ${missing[*]}" >&2
sudo_cmd=()
if [ "$(id -u)" -ne 0 ]; then
    sudo_cmd=(sudo)
fi
export DEBIAN_FRONTEND=noninteractive
"${sudo_cmd[@]}" apt-get update -qq
"${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
