/*
 * gw_payload: gateway frame builders and the /gateway/bot reader (see gw_payload.h).
 */
#include "discord/gw_payload.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "discord/gw_json.h"
#include "util/util_url.h"

/* snprintf that reports truncation as -1. */
static int put(char *buf, size_t cap, size_t *n, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int put(char *buf, size_t cap, size_t *n, const char *fmt, ...)
{
    if (*n >= cap) return -1;
    va_list ap;
    va_start(ap, fmt);
    int w = vsnprintf(buf + *n, cap - *n, fmt, ap);
    va_end(ap);
    if (w < 0 || (size_t)w >= cap - *n) return -1;
    *n += (size_t)w;
    return 0;
}

static int put_str(char *buf, size_t cap, size_t *n, const char *s)
{
    if (*n >= cap) return -1;
    int w = gw_json_escape(s, buf + *n, cap - *n);
    if (w < 0) return -1;
    *n += (size_t)w;
    return 0;
}

int gw_build_heartbeat(char *buf, size_t cap, bool has_seq, int64_t seq)
{
    size_t n = 0;
    int rc = has_seq ? put(buf, cap, &n, "{\"op\":1,\"d\":%lld}", (long long)seq)
                     : put(buf, cap, &n, "{\"op\":1,\"d\":null}");
    return rc < 0 ? -1 : (int)n;
}

int gw_build_identify(char *buf, size_t cap, const gw_identify_params *p)
{
    if (!p || !p->token || !p->token[0] || p->shard_count == 0 || p->shard_id >= p->shard_count)
        return -1;
    uint32_t lt = p->large_threshold;
    if (lt < 50) lt = 50;
    if (lt > 250) lt = 250;
    size_t n = 0;
    if (put(buf, cap, &n, "{\"op\":2,\"d\":{\"token\":") < 0) return -1;
    if (put_str(buf, cap, &n, p->token) < 0) return -1;
    if (put(buf, cap, &n, ",\"properties\":{\"os\":") < 0) return -1;
    if (put_str(buf, cap, &n, p->os ? p->os : "linux") < 0) return -1;
    if (put(buf, cap, &n, ",\"browser\":") < 0) return -1;
    if (put_str(buf, cap, &n, p->browser ? p->browser : "fluxbot") < 0) return -1;
    if (put(buf, cap, &n, ",\"device\":") < 0) return -1;
    if (put_str(buf, cap, &n, p->device ? p->device : "fluxbot") < 0) return -1;
    if (put(buf, cap, &n,
            "},\"intents\":%u,\"shard\":[%u,%u],\"large_threshold\":%u,\"compress\":false}}",
            p->intents, p->shard_id, p->shard_count, lt) < 0)
        return -1;
    return (int)n;
}

int gw_build_resume(char *buf, size_t cap, const char *token, const char *session_id, bool has_seq,
                    int64_t seq)
{
    if (!token || !token[0] || !session_id || !session_id[0]) return -1;
    size_t n = 0;
    if (put(buf, cap, &n, "{\"op\":6,\"d\":{\"token\":") < 0) return -1;
    if (put_str(buf, cap, &n, token) < 0) return -1;
    if (put(buf, cap, &n, ",\"session_id\":") < 0) return -1;
    if (put_str(buf, cap, &n, session_id) < 0) return -1;
    int rc = has_seq ? put(buf, cap, &n, ",\"seq\":%lld}}", (long long)seq)
                     : put(buf, cap, &n, ",\"seq\":null}}");
    return rc < 0 ? -1 : (int)n;
}

static int get_u32(gw_span obj, const char *key, uint32_t *out, uint32_t min, uint32_t max)
{
    gw_span v;
    int64_t x;
    if (gw_json_get(obj, key, &v) != 1 || gw_json_int64(v, &x) != GW_JSON_OK) return -1;
    if (x < (int64_t)min || x > (int64_t)max) return -1;
    *out = (uint32_t)x;
    return 0;
}

int gw_parse_bot_info(const char *body, size_t len, gw_bot_info *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    gw_span root, v, lim;
    int rc = gw_json_parse_span(body, len, &root);
    if (rc != GW_JSON_OK) {
        snprintf(err, errlen, "/gateway/bot: %s", gw_json_strerror(rc));
        return -1;
    }
    if (gw_json_get(root, "url", &v) != 1 ||
        gw_json_string(v, out->url, sizeof out->url, NULL) != GW_JSON_OK) {
        snprintf(err, errlen, "/gateway/bot: missing or invalid url");
        return -1;
    }
    if (!util_url_after_scheme(out->url, "ws", "wss", NULL)) {
        snprintf(err, errlen, "/gateway/bot: url is not a ws:// or wss:// URL");
        return -1;
    }
    if (get_u32(root, "shards", &out->shards, 1, 1u << 20) < 0) {
        snprintf(err, errlen, "/gateway/bot: missing or invalid shards");
        return -1;
    }
    if (gw_json_get(root, "session_start_limit", &lim) != 1 ||
        gw_json_kind_of(lim) != GW_JSON_OBJECT) {
        snprintf(err, errlen, "/gateway/bot: missing session_start_limit");
        return -1;
    }
    uint32_t reset_after;
    if (get_u32(lim, "total", &out->total, 0, UINT32_MAX) < 0 ||
        get_u32(lim, "remaining", &out->remaining, 0, UINT32_MAX) < 0 ||
        get_u32(lim, "reset_after", &reset_after, 0, UINT32_MAX) < 0 ||
        get_u32(lim, "max_concurrency", &out->max_concurrency, 0, 1u << 16) < 0) {
        snprintf(err, errlen, "/gateway/bot: invalid session_start_limit");
        return -1;
    }
    if (out->max_concurrency == 0) {
        /* DPP aborts here too: with no concurrency no identify could ever be paced. */
        snprintf(err, errlen, "/gateway/bot: max_concurrency is 0");
        return -1;
    }
    out->reset_after_ms = reset_after;
    return 0;
}
