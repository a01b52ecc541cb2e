/*
 * fuzz_rl: Discord's rate-limit answers as the REST actor receives them — header lines
 * (X-RateLimit-*, Retry-After, as curl delivers them, rl_headers_feed), 429 JSON bodies
 * (rl_headers_feed_body), request paths (rl_route_of) — driving the limiter (rl_acquire /
 * rl_complete / rl_release) for a handful of concurrent requests over simulated time.
 *
 * Input: a script of steps; a response step carries a status byte, header lines (one text
 * piece, lines split at '\n') and a body piece.
 *
 * Invariants asserted, beyond "no crash, no sanitizer report":
 *  - route keys and major parameters are NUL-terminated within their bounds; a learned bucket
 *    hash is printable and within RL_HASH_MAX;
 *  - interaction callbacks and interaction webhooks are exempt from the global limit, other
 *    routes are not;
 *  - RL_WAIT always names a wake-up in the future (or "on completion"), RL_SEND holds a slot,
 *    every outcome of rl_complete gives the slot back, and the limiter's in-flight count is
 *    exactly the number of slots the tickets hold;
 *  - no 429 imposes more than max_retry_after_ms (per ticket, and on the global pause), and
 *    whatever happened, a new interaction's callback can be sent at once: interaction routes
 *    are never held by the bot's global limit or a global 429 (unless a 401 stopped everything).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "discord/rl.h"
#include "fuzz_support.h"

#define NTICKETS 4

static const char *const paths[] = {
    "/interactions/1180000000000000001/aW50ZXJhY3Rpb24-tok/callback",
    "/webhooks/424242424242/aW50ZXJhY3Rpb24-tok/messages/@original",
    "/channels/700000000000000002/messages",
    "/applications/424242424242/commands",
    "/guilds/700000000000000001/members/800000000000000001",
};
static const char *const methods[] = {"GET", "POST", "PATCH", "DELETE", "PUT"};

static void check_route(const char *method, const char *path)
{
    rl_route r;
    if (rl_route_of(method, path, &r) != 0) return;
    FZ_ASSERT(memchr(r.key, '\0', sizeof r.key) && memchr(r.major, '\0', sizeof r.major),
              "route key or major unterminated", path);
    if (strncmp(path, "/interactions/", 14) == 0)
        FZ_ASSERT(r.global_exempt, "interaction route not exempt from the global limit", path);
    if (strncmp(path, "/channels/", 10) == 0 || strncmp(path, "/guilds/", 8) == 0)
        FZ_ASSERT(!r.global_exempt, "bot route exempt from the global limit", path);
}

static void check_headers(const rl_headers *h)
{
    size_t n = strnlen(h->bucket, sizeof h->bucket);
    FZ_ASSERT(n < sizeof h->bucket, "bucket hash unterminated", NULL);
    for (size_t i = 0; i < n; i++)
        FZ_ASSERT(h->bucket[i] > 0x20 && h->bucket[i] < 0x7f, "bucket hash not printable",
                  h->bucket);
}

static void read_headers(fz_in *in, rl_headers *h)
{
    rl_headers_init(h);
    size_t len = 0;
    char *lines = fz_text(in, 8192, &len);
    char *p = lines, *end = lines + len;
    while (p < end) {
        char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t n = nl ? (size_t)(nl - p + 1) : (size_t)(end - p);
        rl_headers_feed(h, p, n);
        p += n;
    }
    free(lines);
    size_t blen = 0;
    char *body = fz_text(in, 8192, &blen);
    rl_headers_feed_body(h, body, blen);
    free(body);
    check_headers(h);
}

static uint64_t held_count(const rl_ticket *t, const bool *live)
{
    uint64_t n = 0;
    for (unsigned i = 0; i < NTICKETS; i++)
        n += live[i] && t[i].held != NULL;
    return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 1u << 18) return 0;
    fz_in in = {data, size};
    /* A path from the input first: route derivation on hostile text. */
    {
        char *path = fz_text(&in, RL_PATH_MAX + 16, NULL);
        for (unsigned i = 0; i < 5; i++)
            check_route(methods[i], path);
        free(path);
    }
    rl_config cfg;
    rl_config_defaults(&cfg);
    rl_limiter *l = rl_new(&cfg);
    if (!l) abort();
    rl_ticket t[NTICKETS];
    bool live[NTICKETS] = {false};
    uint64_t now = 1000000;
    for (unsigned step = 0; step < 128 && in.len; step++) {
        uint8_t op = fz_u8(&in);
        unsigned i = (op >> 4) % NTICKETS;
        switch (op % 6) {
        case 0: /* a new request on slot i */
            if (live[i]) rl_release(l, &t[i]);
            live[i] = rl_ticket_init(&t[i], methods[fz_u8(&in) % 5], paths[fz_u8(&in) % 5]) == 0;
            FZ_ASSERT(live[i], "a valid API path refused", NULL);
            break;
        case 1:
        case 2: { /* try to send, then answer it */
            if (!live[i]) break;
            uint64_t wake = 0;
            rl_verdict v = rl_acquire(l, &t[i], now, &wake);
            if (v == RL_WAIT) {
                FZ_ASSERT(wake == RL_WAKE_ON_COMPLETION || wake > now, "wait without a future wake",
                          NULL);
                break;
            }
            if (v == RL_FATAL) break;
            FZ_ASSERT(t[i].held != NULL, "RL_SEND without a slot", NULL);
            if (op % 6 == 2) break; /* left in flight for now */
        }                           /* fall through: the answer */
        /* FALLTHROUGH */
        case 3: {
            if (!live[i] || !t[i].held) break;
            int statuses[] = {200, 204, 429, 429, 500, 502, 0, 401, 403, 404};
            int status = statuses[fz_u8(&in) % 10];
            rl_headers h;
            read_headers(&in, &h);
            rl_outcome o = rl_complete(l, &t[i], status, &h, now);
            FZ_ASSERT(t[i].held == NULL, "a completed request still holds its slot", NULL);
            if (status == 429) {
                FZ_ASSERT(t[i].last_429.pause_ms <= cfg.max_retry_after_ms,
                          "a 429 imposed more than max_retry_after_ms", NULL);
                rl_stats gs;
                rl_stats_get(l, now, &gs);
                FZ_ASSERT(gs.global_paused_until_ms <= now + cfg.max_retry_after_ms,
                          "global pause longer than max_retry_after_ms", NULL);
            }
            if (o != RL_RETRY) live[i] = false;
            break;
        }
        case 4:
            now += fz_u32(&in) % 200000;
            if (fz_bool(&in)) rl_gc(l, now);
            break;
        case 5:
            if (live[i]) {
                rl_release(l, &t[i]);
                rl_release(l, &t[i]); /* idempotent */
                live[i] = false;
            }
            break;
        }
        rl_stats st;
        rl_stats_get(l, now, &st);
        FZ_ASSERT(st.in_flight == held_count(t, live), "in-flight count disagrees with tickets",
                  NULL);
        /* A brand-new interaction is answerable now, whatever the other routes went through. */
        if (!st.fatal) {
            char path[96];
            snprintf(path, sizeof path, "/interactions/%u/fresh-token/callback", 900000 + step);
            rl_ticket fresh;
            FZ_ASSERT(rl_ticket_init(&fresh, "POST", path) == 0, "callback path refused", path);
            uint64_t wake = 0;
            FZ_ASSERT(rl_acquire(l, &fresh, now, &wake) == RL_SEND,
                      "a new interaction's callback has to wait", path);
            rl_release(l, &fresh);
        }
    }
    for (unsigned i = 0; i < NTICKETS; i++)
        if (live[i]) rl_release(l, &t[i]);
    rl_free(l);
    return 0;
}
