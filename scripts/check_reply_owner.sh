#!/usr/bin/env bash
# Discord replies are spoken in one place: outside src/discord/, no source file may build an
# interaction callback envelope ({"type": N, "data": ...}), set "flags" or "allowed_mentions" on
# a message, or format an /interactions/ or /webhooks/ path. Those live in src/discord/reply.c,
# embed.c and reply_req.c, so that the no-pings rule, the limits and the token-bearing paths
# cannot drift apart (before, three modules each had their own copy). Comments are stripped
# first (the compiler's preprocessor keeps string literals), so documentation may name paths.
# The test kit (testkit/: fakes of Discord) is outside src/ and speaks the other side.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
cd "$here"
cc=${CC:-cc}
status=0
while IFS= read -r -d '' f; do
    code=$("$cc" -fpreprocessed -dD -E -P -x c "$f" 2>/dev/null) || code=$(cat "$f")
    hits=$(printf '%s\n' "$code" |
        grep -nE '"[^"]*(allowed_mentions|/interactions/|/webhooks/)[^"]*"|ToObject\([^,]+, *"flags"' ||
        true)
    if printf '%s\n' "$code" | grep -qE 'ToObject\([^,]+, *"type"' &&
        printf '%s\n' "$code" | grep -qE 'ObjectToObject\([^,]+, *"data"'; then
        hits+=$'\n'"builds a {\"type\", \"data\"} callback envelope"
    fi
    if [ -n "${hits//[$'\n']/}" ]; then
        echo "$f: Discord reply structure built outside src/discord/:" >&2
        printf '%s\n' "$hits" | sed '/^$/d; s/^/    /' >&2
        status=1
    fi
done < <(find src -path src/discord -prune -o \( -name '*.c' -o -name '*.h' \) -print0)
exit $status
