#!/usr/bin/env bash
# Sets up, builds (release) and runs fluxbot. With no DISCORD_TOKEN it runs the embedded demo
# against built-in loopback fakes; arguments go to fluxbot.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
"$here/scripts/bootstrap.sh"
release=$("$here/scripts/build.sh" release)
exec "$release/fluxbot" "$@"
