/*
 * fuzz_gw_bot: the answer to GET /gateway/bot (gw_parse_bot_info) and the gateway URLs built
 * from it and from READY's resume_gateway_url (gw_url_parse, gw_url_with_query).
 *
 * Input: the body, or (first byte odd) a URL text. Invariants asserted, beyond "no crash, no
 * sanitizer report":
 *  - an accepted body has a ws:// or wss:// url, at least one shard, a non-zero
 *    max_concurrency;
 *  - gw_url_with_query's result is itself a valid gateway URL, on the same host, scheme and
 *    port as its base, with the fixed query (never a path or query taken from the network);
 *  - a parsed host is NUL-terminated within its buffer and has no blank or control character.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "discord/gw_payload.h"
#include "discord/gw_url.h"
#include "fuzz_support.h"

static void check_url(const char *url)
{
    gw_url u;
    if (gw_url_parse(url, &u) != 0) return;
    size_t hl = strnlen(u.host, sizeof u.host);
    FZ_ASSERT(hl < sizeof u.host && hl > 0, "host empty or unterminated", url);
    for (size_t i = 0; i < hl; i++)
        FZ_ASSERT((unsigned char)u.host[i] > 0x20 && u.host[i] != 0x7f, "blank in host", url);
    FZ_ASSERT(u.port > 0 && u.port < 65536, "port out of range", url);
    FZ_ASSERT(u.path[0] == '/', "path does not start with '/'", url);
    (void)gw_url_host_is_loopback(u.host);
    for (int compress = 0; compress < 2; compress++) {
        char out[GW_URL_MAX];
        if (gw_url_with_query(url, compress, out, sizeof out) != 0) continue;
        gw_url q;
        FZ_ASSERT(gw_url_parse(out, &q) == 0, "URL with query does not parse", out);
        FZ_ASSERT(strcmp(q.host, u.host) == 0 && q.port == u.port && q.tls == u.tls,
                  "URL with query changed host, port or scheme", out);
        const char *want =
            compress ? "/?v=10&encoding=json&compress=zlib-stream" : "/?v=10&encoding=json";
        FZ_ASSERT(strcmp(q.path, want) == 0, "URL with query kept a foreign path or query", out);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 1u << 16 || size == 0) return 0;
    char *text = malloc(size);
    if (!text) abort();
    memcpy(text, data + 1, size - 1);
    text[size - 1] = '\0';
    if (data[0] & 1) {
        check_url(text);
    } else {
        gw_bot_info info;
        char err[256];
        /* Not NUL-terminated to the parser: it must stay inside len. */
        char *body = malloc(size - 1 ? size - 1 : 1);
        if (!body) abort();
        memcpy(body, data + 1, size - 1);
        if (gw_parse_bot_info(body, size - 1, &info, err, sizeof err) == 0) {
            FZ_ASSERT(strncmp(info.url, "ws://", 5) == 0 || strncmp(info.url, "wss://", 6) == 0,
                      "accepted a non-websocket gateway URL", info.url);
            FZ_ASSERT(info.shards >= 1 && info.max_concurrency >= 1,
                      "accepted 0 shards/concurrency", NULL);
            check_url(info.url);
        } else {
            FZ_ASSERT(strlen(err) > 0, "refused without a reason", NULL);
        }
        free(body);
    }
    free(text);
    return 0;
}
