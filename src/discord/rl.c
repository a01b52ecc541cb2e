/*
 * Discord REST rate-limit bookkeeping (see rl.h for the model). Owns the bucket table,
 * the learned route → bucket-hash map, the global sliding window and the 429/retry policy.
 *
 * Accounting rule: a bucket's `remaining` is what the server last reported (or the refilled
 * limit after a reset), and it does not include requests in flight; a request may go when
 * remaining > in_flight. A response's Remaining already counts that response's request, so the
 * update is simply "take the server's number" — except inside one window, where responses can
 * arrive out of order and only a smaller number is trusted.
 */
#include "discord/rl.h"
#include "util/util_str.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <cjson/cJSON.h>

#include "util/util_hash.h"

#define RL_GC_EVERY 256     /* acquisitions between automatic sweeps */
#define RL_MAX_ROUTES 4096  /* learned route hashes kept at most */
#define RL_INVALID_SLOTS 10 /* one-minute slots of the invalid-request window */
#define RL_MAX_DELAY_MS (24ull * 3600 * 1000)

enum bucket_state { B_UNKNOWN = 0, B_LIMITED, B_UNLIMITED };

struct rl_bucket {
    rl_bucket *next;
    uint64_t hv;
    char *key; /* owned */
    enum bucket_state state;
    uint32_t limit;
    uint32_t remaining;
    uint32_t in_flight;
    uint64_t reset_at;      /* monotonic ms when the window ends; 0 = unknown (just refilled) */
    uint64_t blocked_until; /* shared-scope 429 */
    uint64_t last_used;
};

typedef struct route_hash {
    struct route_hash *next;
    uint64_t hv;
    char route[RL_ROUTE_MAX];
    char hash[RL_HASH_MAX];
} route_hash;

struct rl_limiter {
    rl_config cfg;
    rl_bucket **slots;
    size_t nslots;
    size_t nbuckets;
    route_hash **rslots;
    size_t nrslots;
    size_t nroutes;

    uint64_t *window; /* send times of the last global_per_sec non-exempt requests (ring) */
    uint32_t win_head, win_count;
    uint64_t global_until; /* global 429: non-exempt routes wait (never exempt ones) */
    bool fatal;

    uint64_t invalid_minute[RL_INVALID_SLOTS];
    uint64_t invalid_count[RL_INVALID_SLOTS];

    uint64_t acquisitions;
    uint64_t in_flight;
    rl_stats st;
};

/* ---- small helpers ------------------------------------------------------------------------- */

static uint64_t max_u64(uint64_t a, uint64_t b)
{
    return a > b ? a : b;
}
static uint64_t min_u64(uint64_t a, uint64_t b)
{
    return a < b ? a : b;
}

static bool all_digits(const char *s, size_t n)
{
    if (n == 0 || n > 20) return false;
    for (size_t i = 0; i < n; i++)
        if (s[i] < '0' || s[i] > '9') return false;
    return true;
}

/* Parses "12", "1.5", "0.001" (seconds) into ms, rounding up; false when malformed. */
static bool parse_seconds_ms(const char *s, size_t n, uint64_t *out)
{
    size_t i = 0;
    uint64_t whole = 0, frac_ms = 0;
    bool any = false, round_up = false;
    while (i < n && s[i] >= '0' && s[i] <= '9') {
        if (whole < RL_MAX_DELAY_MS) whole = whole * 10 + (uint64_t)(s[i] - '0');
        i++;
        any = true;
    }
    if (i < n && s[i] == '.') {
        i++;
        unsigned digits = 0;
        while (i < n && s[i] >= '0' && s[i] <= '9') {
            if (digits < 3)
                frac_ms = frac_ms * 10 + (uint64_t)(s[i] - '0');
            else if (s[i] != '0')
                round_up = true;
            digits++;
            i++;
            any = true;
        }
        for (; digits < 3; digits++)
            frac_ms *= 10;
    }
    if (!any || i != n) return false;
    uint64_t ms = min_u64(whole, RL_MAX_DELAY_MS) * 1000 + frac_ms + (round_up ? 1 : 0);
    *out = min_u64(ms, RL_MAX_DELAY_MS);
    return true;
}

static bool parse_u32(const char *s, size_t n, uint32_t *out)
{
    if (!all_digits(s, n) || n > 10) return false;
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++)
        v = v * 10 + (uint64_t)(s[i] - '0');
    if (v > UINT32_MAX) return false;
    *out = (uint32_t)v;
    return true;
}

/* ---- headers ----------------------------------------------------------------------------- */

void rl_headers_init(rl_headers *h)
{
    memset(h, 0, sizeof *h);
}

static bool name_is(const char *name, size_t n, const char *want)
{
    return strlen(want) == n && strncasecmp(name, want, n) == 0;
}

void rl_headers_feed(rl_headers *h, const char *line, size_t len)
{
    const char *colon = memchr(line, ':', len);
    if (!colon) return;
    size_t nlen = (size_t)(colon - line);
    const char *v = colon + 1;
    size_t vlen = len - nlen - 1;
    while (vlen && (*v == ' ' || *v == '\t'))
        v++, vlen--;
    while (vlen && (v[vlen - 1] == '\r' || v[vlen - 1] == '\n' || v[vlen - 1] == ' ' ||
                    v[vlen - 1] == '\t'))
        vlen--;

    uint64_t ms;
    if (name_is(line, nlen, "x-ratelimit-limit")) {
        h->has_limit = parse_u32(v, vlen, &h->limit);
    } else if (name_is(line, nlen, "x-ratelimit-remaining")) {
        h->has_remaining = parse_u32(v, vlen, &h->remaining);
    } else if (name_is(line, nlen, "x-ratelimit-reset-after")) {
        if (parse_seconds_ms(v, vlen, &ms)) {
            h->reset_after_ms = ms;
            h->has_reset_after = true;
        }
    } else if (name_is(line, nlen, "retry-after")) {
        if (parse_seconds_ms(v, vlen, &ms)) {
            h->retry_after_ms = h->has_retry_after ? max_u64(h->retry_after_ms, ms) : ms;
            h->has_retry_after = true;
        }
    } else if (name_is(line, nlen, "x-ratelimit-bucket")) {
        if (vlen == 0 || vlen >= sizeof h->bucket) return;
        for (size_t i = 0; i < vlen; i++)
            if ((unsigned char)v[i] <= 0x20 || (unsigned char)v[i] >= 0x7f || v[i] == '|') return;
        memcpy(h->bucket, v, vlen);
        h->bucket[vlen] = '\0';
    } else if (name_is(line, nlen, "x-ratelimit-scope")) {
        if (vlen == 4 && strncasecmp(v, "user", 4) == 0)
            h->scope = RL_SCOPE_USER;
        else if (vlen == 6 && strncasecmp(v, "global", 6) == 0)
            h->scope = RL_SCOPE_GLOBAL;
        else if (vlen == 6 && strncasecmp(v, "shared", 6) == 0)
            h->scope = RL_SCOPE_SHARED;
    } else if (name_is(line, nlen, "x-ratelimit-global")) {
        h->global = vlen == 4 && strncasecmp(v, "true", 4) == 0;
    }
}

void rl_headers_feed_body(rl_headers *h, const char *body, size_t len)
{
    if (!body || len == 0 || len > 65536) return;
    cJSON *j = cJSON_ParseWithLength(body, len);
    if (!j) return;
    const cJSON *ra = cJSON_GetObjectItemCaseSensitive(j, "retry_after");
    if (cJSON_IsNumber(ra) && ra->valuedouble >= 0 && ra->valuedouble < 86400.0) {
        /* Seconds with fractions; round up to the next millisecond so we never come back early. */
        double msd = ra->valuedouble * 1000.0;
        uint64_t ms = (uint64_t)msd;
        if ((double)ms < msd) ms++;
        /* The body's value is precise; the Retry-After header is rounded up to whole seconds. */
        h->retry_after_ms = ms;
        h->has_retry_after = true;
    }
    if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(j, "global"))) h->global = true;
    cJSON_Delete(j);
}

/* ---- routes -------------------------------------------------------------------------------- */

static bool appendf(char *buf, size_t cap, size_t *len, const char *s, size_t n)
{
    if (*len + n + 1 > cap) return false;
    memcpy(buf + *len, s, n);
    *len += n;
    buf[*len] = '\0';
    return true;
}

#define APPEND_LIT(buf, cap, len, lit) appendf((buf), (cap), (len), (lit), sizeof(lit) - 1)

int rl_route_of(const char *method, const char *path, rl_route *out)
{
    memset(out, 0, sizeof *out);
    if (!method || !path || path[0] != '/') return -1;
    size_t mlen = strlen(method);
    if (mlen == 0 || mlen > 7) return -1;
    for (size_t i = 0; i < mlen; i++)
        if (method[i] < 'A' || method[i] > 'Z') return -1;
    size_t plen = strnlen(path, RL_PATH_MAX + 1);
    if (plen > RL_PATH_MAX) return -1;
    for (size_t i = 0; i < plen; i++)
        if ((unsigned char)path[i] <= 0x20 || (unsigned char)path[i] >= 0x7f) return -1;
    const char *q = memchr(path, '?', plen);
    if (q) plen = (size_t)(q - path);

    size_t klen = 0, jlen = 0;
    if (!appendf(out->key, sizeof out->key, &klen, method, mlen) ||
        !APPEND_LIT(out->key, sizeof out->key, &klen, " "))
        return -1;

    const char *seg0 = NULL;
    size_t seg0len = 0;
    unsigned idx = 0;
    const char *p = path + 1;
    const char *end = path + plen;
    if (p == end) return APPEND_LIT(out->key, sizeof out->key, &klen, "/") ? 0 : -1;
    while (p <= end) {
        const char *slash = memchr(p, '/', (size_t)(end - p));
        const char *segend = slash ? slash : end;
        size_t n = (size_t)(segend - p);
        if (n == 0) return -1; /* "//" or a trailing '/' */
        bool top_major = seg0 && idx == 1 && all_digits(p, n) &&
                         ((seg0len == 8 && !memcmp(seg0, "channels", 8)) ||
                          (seg0len == 6 && !memcmp(seg0, "guilds", 6)) ||
                          (seg0len == 8 && !memcmp(seg0, "webhooks", 8)) ||
                          (seg0len == 12 && !memcmp(seg0, "interactions", 12)));
        bool token = seg0 && idx == 2 && jlen > 0 &&
                     ((seg0len == 8 && !memcmp(seg0, "webhooks", 8)) ||
                      (seg0len == 12 && !memcmp(seg0, "interactions", 12)));
        if (idx == 0) {
            seg0 = p;
            seg0len = n;
            if (!APPEND_LIT(out->key, sizeof out->key, &klen, "/") ||
                !appendf(out->key, sizeof out->key, &klen, p, n))
                return -1;
            if (n == 12 && !memcmp(p, "interactions", 12)) out->global_exempt = true;
        } else if (top_major) {
            if (!appendf(out->major, sizeof out->major, &jlen, seg0, seg0len) ||
                !APPEND_LIT(out->major, sizeof out->major, &jlen, "/") ||
                !appendf(out->major, sizeof out->major, &jlen, p, n) ||
                !APPEND_LIT(out->key, sizeof out->key, &klen, "/{id}"))
                return -1;
        } else if (token) {
            /* webhooks/{id}/{token} and interactions/{id}/{token}: the token is part of the
             * major parameter (each interaction is its own bucket) and such routes do not
             * count against the bot's global limit. */
            if (!APPEND_LIT(out->major, sizeof out->major, &jlen, "/") ||
                !appendf(out->major, sizeof out->major, &jlen, p, n) ||
                !APPEND_LIT(out->key, sizeof out->key, &klen, "/{token}"))
                return -1;
            out->global_exempt = true;
        } else if (all_digits(p, n)) {
            if (!APPEND_LIT(out->key, sizeof out->key, &klen, "/{id}")) return -1;
        } else if (n == 9 && !memcmp(p, "reactions", 9)) {
            /* Every reaction route of a message shares a limit; emoji and user ids don't matter. */
            return APPEND_LIT(out->key, sizeof out->key, &klen, "/reactions/*") ? 0 : -1;
        } else {
            if (!APPEND_LIT(out->key, sizeof out->key, &klen, "/") ||
                !appendf(out->key, sizeof out->key, &klen, p, n))
                return -1;
        }
        idx++;
        if (!slash) break;
        p = slash + 1;
        if (p == end) return -1; /* trailing slash */
    }
    return 0;
}

int rl_ticket_init(rl_ticket *t, const char *method, const char *path)
{
    memset(t, 0, sizeof *t);
    return rl_route_of(method, path, &t->route);
}

/* ---- limiter ------------------------------------------------------------------------------- */

void rl_config_defaults(rl_config *c)
{
    c->global_per_sec = 50;
    c->max_retries = 3;
    c->max_429_retries = 5;
    c->backoff_base_ms = 250;
    c->backoff_max_ms = 4000;
    c->max_retry_after_ms = 60000;
    c->idle_gc_ms = 60000;
}

rl_limiter *rl_new(const rl_config *cfg)
{
    rl_limiter *l = calloc(1, sizeof *l);
    if (!l) return NULL;
    if (cfg)
        l->cfg = *cfg;
    else
        rl_config_defaults(&l->cfg);
    if (l->cfg.global_per_sec == 0) l->cfg.global_per_sec = 1;
    if (l->cfg.backoff_base_ms == 0) l->cfg.backoff_base_ms = 1;
    l->nslots = 64;
    l->nrslots = 64;
    l->slots = calloc(l->nslots, sizeof *l->slots);
    l->rslots = calloc(l->nrslots, sizeof *l->rslots);
    l->window = calloc(l->cfg.global_per_sec, sizeof *l->window);
    if (!l->slots || !l->rslots || !l->window) {
        rl_free(l);
        return NULL;
    }
    return l;
}

void rl_free(rl_limiter *l)
{
    if (!l) return;
    for (size_t i = 0; l->slots && i < l->nslots; i++) {
        for (rl_bucket *b = l->slots[i], *n; b; b = n) {
            n = b->next;
            free(b->key);
            free(b);
        }
    }
    for (size_t i = 0; l->rslots && i < l->nrslots; i++) {
        for (route_hash *r = l->rslots[i], *n; r; r = n) {
            n = r->next;
            free(r);
        }
    }
    free(l->slots);
    free(l->rslots);
    free(l->window);
    free(l);
}

/* Slots of both tables: util_hash_mem (keys hold interaction tokens, ~250 bytes: FNV-1a's byte
 * loop was most of a bucket lookup). */
static uint64_t key_hash(const char *key, size_t len)
{
    return util_hash_mem(key, len);
}

static const route_hash *route_lookup(const rl_limiter *l, const char *route)
{
    uint64_t hv = key_hash(route, strlen(route));
    for (const route_hash *r = l->rslots[hv & (l->nrslots - 1)]; r; r = r->next)
        if (r->hv == hv && strcmp(r->route, route) == 0) return r;
    return NULL;
}

static void route_learn(rl_limiter *l, const char *route, const char *hash)
{
    uint64_t hv = key_hash(route, strlen(route));
    for (route_hash *r = l->rslots[hv & (l->nrslots - 1)]; r; r = r->next) {
        if (r->hv == hv && strcmp(r->route, route) == 0) {
            snprintf(r->hash, sizeof r->hash, "%s", hash);
            return;
        }
    }
    if (l->nroutes >= RL_MAX_ROUTES) return;
    if (l->nroutes + 1 > l->nrslots) {
        size_t nn = l->nrslots * 2;
        route_hash **ns = calloc(nn, sizeof *ns);
        if (!ns) return;
        for (size_t i = 0; i < l->nrslots; i++) {
            for (route_hash *r = l->rslots[i], *n; r; r = n) {
                n = r->next;
                r->next = ns[r->hv & (nn - 1)];
                ns[r->hv & (nn - 1)] = r;
            }
        }
        free(l->rslots);
        l->rslots = ns;
        l->nrslots = nn;
    }
    route_hash *r = calloc(1, sizeof *r);
    if (!r) return;
    r->hv = hv;
    snprintf(r->route, sizeof r->route, "%s", route);
    snprintf(r->hash, sizeof r->hash, "%s", hash);
    r->next = l->rslots[hv & (l->nrslots - 1)];
    l->rslots[hv & (l->nrslots - 1)] = r;
    l->nroutes++;
}

/* Appends s to buf[*len] (cap bytes in all), cut as snprintf would cut it. */
static void key_put(char *buf, size_t cap, size_t *len, const char *s, size_t n)
{
    if (*len + n >= cap) n = cap - 1 - *len;
    memcpy(buf + *len, s, n);
    *len += n;
}

/* The bucket key of a route right now: learned hash if any, else the route itself
 * ("h:HASH|MAJOR" or "r:ROUTE|MAJOR"); its length returned. Put together with memcpy: the
 * major of a webhook route is a ~200-byte token, and this runs twice per request. */
static size_t bucket_key(const rl_limiter *l, const rl_route *rt, char *buf, size_t cap)
{
    const route_hash *r = route_lookup(l, rt->key);
    const char *first = r ? r->hash : rt->key;
    size_t len = 0;
    key_put(buf, cap, &len, r ? "h:" : "r:", 2);
    key_put(buf, cap, &len, first, strlen(first));
    key_put(buf, cap, &len, "|", 1);
    key_put(buf, cap, &len, rt->major, strlen(rt->major));
    buf[len] = '\0';
    return len;
}

static void buckets_grow(rl_limiter *l)
{
    size_t nn = l->nslots * 2;
    rl_bucket **ns = calloc(nn, sizeof *ns);
    if (!ns) return; /* keep the longer chains; still correct */
    for (size_t i = 0; i < l->nslots; i++) {
        for (rl_bucket *b = l->slots[i], *n; b; b = n) {
            n = b->next;
            b->next = ns[b->hv & (nn - 1)];
            ns[b->hv & (nn - 1)] = b;
        }
    }
    free(l->slots);
    l->slots = ns;
    l->nslots = nn;
}

static rl_bucket *bucket_get(rl_limiter *l, const char *key, size_t len, bool create)
{
    uint64_t hv = key_hash(key, len);
    for (rl_bucket *b = l->slots[hv & (l->nslots - 1)]; b; b = b->next)
        if (b->hv == hv && strcmp(b->key, key) == 0) return b;
    if (!create) return NULL;
    if (l->nbuckets + 1 > l->nslots) buckets_grow(l);
    rl_bucket *b = calloc(1, sizeof *b);
    if (!b) return NULL;
    b->key = util_strdup(key);
    b->hv = hv;
    b->next = l->slots[hv & (l->nslots - 1)];
    l->slots[hv & (l->nslots - 1)] = b;
    l->nbuckets++;
    return b;
}

void rl_gc(rl_limiter *l, uint64_t now_ms)
{
    for (size_t i = 0; i < l->nslots; i++) {
        rl_bucket **pp = &l->slots[i];
        while (*pp) {
            rl_bucket *b = *pp;
            bool idle = b->in_flight == 0 && now_ms >= b->reset_at && now_ms >= b->blocked_until &&
                        now_ms - b->last_used >= l->cfg.idle_gc_ms;
            if (idle) {
                *pp = b->next;
                free(b->key);
                free(b);
                l->nbuckets--;
            } else {
                pp = &b->next;
            }
        }
    }
}

static void count_invalid(rl_limiter *l, uint64_t now_ms)
{
    uint64_t minute = now_ms / 60000;
    unsigned s = (unsigned)(minute % RL_INVALID_SLOTS);
    if (l->invalid_minute[s] != minute) {
        l->invalid_minute[s] = minute;
        l->invalid_count[s] = 0;
    }
    l->invalid_count[s]++;
}

/* Global sliding window: 0 when a send may go now, else the time the oldest send leaves it. */
static uint64_t global_window_wait(const rl_limiter *l, uint64_t now_ms)
{
    if (l->win_count < l->cfg.global_per_sec) return 0;
    uint64_t oldest = l->window[l->win_head];
    return oldest + 1000 <= now_ms ? 0 : oldest + 1000;
}

static void global_window_take(rl_limiter *l, uint64_t now_ms)
{
    uint32_t cap = l->cfg.global_per_sec;
    if (l->win_count < cap) {
        l->window[(l->win_head + l->win_count) % cap] = now_ms;
        l->win_count++;
    } else {
        l->window[l->win_head] = now_ms;
        l->win_head = (l->win_head + 1) % cap;
    }
}

static rl_verdict wait_until(rl_limiter *l, rl_ticket *t, uint64_t now_ms, uint64_t at,
                             uint64_t *wake_at)
{
    if (t->first_wait_ms == 0) t->first_wait_ms = now_ms ? now_ms : 1;
    l->st.waits++;
    if (wake_at) *wake_at = at;
    return RL_WAIT;
}

rl_verdict rl_acquire(rl_limiter *l, rl_ticket *t, uint64_t now_ms, uint64_t *wake_at)
{
    if (l->fatal) return RL_FATAL;
    if (t->held) return RL_SEND; /* already holds a slot: caller error, stay consistent */
    if (++l->acquisitions % RL_GC_EVERY == 0) rl_gc(l, now_ms);

    if (now_ms < t->not_before_ms) return wait_until(l, t, now_ms, t->not_before_ms, wake_at);
    if (!t->route.global_exempt && now_ms < l->global_until)
        return wait_until(l, t, now_ms, l->global_until, wake_at);

    char key[RL_HASH_MAX + RL_ROUTE_MAX + RL_MAJOR_MAX + 8];
    size_t klen = bucket_key(l, &t->route, key, sizeof key);
    rl_bucket *b = bucket_get(l, key, klen, true);
    if (!b) return wait_until(l, t, now_ms, now_ms + 10, wake_at); /* out of memory: back off */
    b->last_used = now_ms;
    if (now_ms < b->blocked_until) return wait_until(l, t, now_ms, b->blocked_until, wake_at);

    switch (b->state) {
    case B_UNKNOWN:
        /* Limits unknown: one request teaches them before others follow. */
        if (b->in_flight >= 1) return wait_until(l, t, now_ms, RL_WAKE_ON_COMPLETION, wake_at);
        break;
    case B_LIMITED:
        if (b->reset_at && now_ms >= b->reset_at) {
            b->remaining = b->limit;
            b->reset_at = 0;
        }
        if (b->remaining <= b->in_flight) {
            if (b->reset_at) return wait_until(l, t, now_ms, b->reset_at, wake_at);
            if (b->in_flight > 0) return wait_until(l, t, now_ms, RL_WAKE_ON_COMPLETION, wake_at);
            /* Nothing in flight and no reset known (limit 0 reported): treat as fresh. */
            b->remaining = b->limit ? b->limit : 1;
        }
        break;
    case B_UNLIMITED:
        break;
    }

    if (!t->route.global_exempt) {
        uint64_t gw = global_window_wait(l, now_ms);
        if (gw) return wait_until(l, t, now_ms, gw, wake_at);
        global_window_take(l, now_ms);
    }

    b->in_flight++;
    l->in_flight++;
    t->held = b;
    t->sends++;
    if (t->first_wait_ms) {
        t->waited_ms += now_ms > t->first_wait_ms ? now_ms - t->first_wait_ms : 0;
        t->first_wait_ms = 0;
    }
    l->st.sends++;
    return RL_SEND;
}

void rl_release(rl_limiter *l, rl_ticket *t)
{
    if (!t->held) return;
    if (t->held->in_flight) t->held->in_flight--;
    if (l->in_flight) l->in_flight--;
    t->held = NULL;
}

static void apply_limits(rl_bucket *b, const rl_headers *h, uint64_t now_ms)
{
    uint64_t new_reset = now_ms + h->reset_after_ms;
    if (b->state != B_LIMITED || b->reset_at == 0 || now_ms >= b->reset_at) {
        b->remaining = h->remaining;
        b->reset_at = new_reset;
    } else {
        /* Same window: responses may arrive out of order; the smaller count is the newer one. */
        if (h->remaining < b->remaining) b->remaining = h->remaining;
        if (new_reset > b->reset_at) b->reset_at = new_reset;
    }
    b->limit = h->limit;
    b->state = B_LIMITED;
}

static rl_outcome retry_after_error(rl_limiter *l, rl_ticket *t, uint64_t now_ms)
{
    uint64_t delay = l->cfg.backoff_base_ms << (t->retries_error < 16 ? t->retries_error : 16);
    delay = min_u64(delay, l->cfg.backoff_max_ms);
    bool out_of_time = t->retry_until_ms ? now_ms + delay > t->retry_until_ms
                                         : t->retries_error >= l->cfg.max_retries;
    if (out_of_time) {
        l->st.give_ups++;
        return RL_GIVE_UP;
    }
    t->retries_error++;
    t->not_before_ms = now_ms + delay;
    l->st.retries++;
    return RL_RETRY;
}

rl_outcome rl_complete(rl_limiter *l, rl_ticket *t, int status, const rl_headers *h,
                       uint64_t now_ms)
{
    rl_release(l, t);

    if (status <= 0) {
        l->st.errors_network++;
        return retry_after_error(l, t, now_ms);
    }

    if (h && h->bucket[0]) {
        const route_hash *known = route_lookup(l, t->route.key);
        if (!known || strcmp(known->hash, h->bucket) != 0) route_learn(l, t->route.key, h->bucket);
    }
    char key[RL_HASH_MAX + RL_ROUTE_MAX + RL_MAJOR_MAX + 8];
    size_t klen = bucket_key(l, &t->route, key, sizeof key);
    rl_bucket *b = bucket_get(l, key, klen, true);
    if (b) b->last_used = now_ms;

    if (b && h && status != 429 && h->has_limit && h->has_remaining && h->has_reset_after) {
        apply_limits(b, h, now_ms);
    } else if (b && status >= 200 && status < 300 && b->state == B_UNKNOWN &&
               (!h || (!h->has_limit && !h->bucket[0]))) {
        /* A success without any rate-limit header: the route is not limited per bucket. */
        b->state = B_UNLIMITED;
    }

    if (status == 401) {
        count_invalid(l, now_ms);
        l->fatal = true;
        return RL_FATAL_AUTH;
    }
    if (status == 403) count_invalid(l, now_ms);

    if (status == 429) {
        uint64_t ra = 1000;
        if (h && h->has_retry_after)
            ra = h->retry_after_ms;
        else if (h && h->has_reset_after)
            ra = h->reset_after_ms;
        /* No 429 may impose more than max_retry_after_ms on anything: a (buggy or hostile)
         * Retry-After of an hour must not mute the bot for an hour. The request that got it
         * fails instead (below); later requests find out for themselves after the cap. */
        const uint64_t pause = min_u64(ra, l->cfg.max_retry_after_ms);
        rl_scope scope = h ? h->scope : RL_SCOPE_NONE;
        if (scope == RL_SCOPE_NONE) scope = (h && h->global) ? RL_SCOPE_GLOBAL : RL_SCOPE_USER;
        t->last_429.scope = scope;
        t->last_429.asked_ms = ra;
        t->last_429.pause_ms = pause;
        t->last_429.paused_global = false;
        switch (scope) {
        case RL_SCOPE_GLOBAL:
            l->st.r429_global++;
            count_invalid(l, now_ms);
            /* Interaction callbacks and interaction webhooks are exempt from the global limit
             * (Discord's docs): a global pause never holds them, whichever route got the 429,
             * or users would get "The application did not respond" for the whole pause. */
            l->global_until = max_u64(l->global_until, now_ms + pause);
            t->last_429.paused_global = true;
            break;
        case RL_SCOPE_SHARED:
            /* Another consumer of a shared resource used it up: wait, but this is not our
             * overuse and it does not count towards the invalid-request ban. */
            l->st.r429_shared++;
            if (b) b->blocked_until = max_u64(b->blocked_until, now_ms + pause);
            break;
        default:
            l->st.r429_user++;
            count_invalid(l, now_ms);
            if (b) {
                if (h && h->has_limit && h->limit) b->limit = h->limit;
                if (b->limit == 0) b->limit = 1;
                b->remaining = 0;
                uint64_t reset = now_ms + max_u64(pause, h && h->has_reset_after
                                                             ? min_u64(h->reset_after_ms,
                                                                       l->cfg.max_retry_after_ms)
                                                             : 0);
                b->reset_at = max_u64(b->reset_at, reset);
                b->state = B_LIMITED;
            }
            break;
        }
        bool out_of_time = t->retry_until_ms ? now_ms + ra > t->retry_until_ms
                                             : t->retries_429 >= l->cfg.max_429_retries;
        if (ra > l->cfg.max_retry_after_ms || out_of_time) {
            l->st.give_ups++;
            return RL_GIVE_UP;
        }
        t->retries_429++;
        t->not_before_ms = max_u64(t->not_before_ms, now_ms + pause);
        l->st.retries++;
        return RL_RETRY;
    }

    if (status >= 500 && status <= 599) {
        l->st.errors_5xx++;
        return retry_after_error(l, t, now_ms);
    }
    return RL_DONE;
}

void rl_stats_get(const rl_limiter *l, uint64_t now_ms, rl_stats *out)
{
    *out = l->st;
    uint64_t minute = now_ms / 60000, inv = 0;
    for (unsigned i = 0; i < RL_INVALID_SLOTS; i++)
        if (l->invalid_minute[i] + RL_INVALID_SLOTS > minute && l->invalid_minute[i] <= minute)
            inv += l->invalid_count[i];
    out->invalid_10min = inv;
    out->buckets = l->nbuckets;
    out->routes_hashed = l->nroutes;
    out->in_flight = l->in_flight;
    out->global_paused_until_ms = l->global_until;
    out->fatal = l->fatal;
}
