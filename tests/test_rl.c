/* Rate-limit bookkeeping, driven with synthetic headers and an injected clock. */
/* fluxbot-test: tsan */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "discord/rl.h"

static void hdrs(rl_headers *h, const char *text)
{
    /* text: header lines separated by '\n' */
    rl_headers_init(h);
    const char *p = text;
    while (*p) {
        const char *nl = strchr(p, '\n');
        size_t n = nl ? (size_t)(nl - p) : strlen(p);
        rl_headers_feed(h, p, n);
        p += n + (nl ? 1 : 0);
    }
}

static rl_verdict acq(rl_limiter *l, rl_ticket *t, uint64_t now, uint64_t *wake)
{
    uint64_t w = 0;
    rl_verdict v = rl_acquire(l, t, now, &w);
    if (wake) *wake = w;
    return v;
}

/* A new ticket for method path, acquired at now: the limiter lets it go (asserted). */
static void send_new(rl_limiter *l, rl_ticket *t, const char *method, const char *path,
                     uint64_t now)
{
    rl_ticket_init(t, method, path);
    assert_int_equal(acq(l, t, now, NULL), RL_SEND);
}

/* A new ticket for method path, acquired at now: it must wait (asserted); returns until
 * when. */
static uint64_t wait_new(rl_limiter *l, rl_ticket *t, const char *method, const char *path,
                         uint64_t now)
{
    rl_ticket_init(t, method, path);
    uint64_t wake;
    assert_int_equal(acq(l, t, now, &wake), RL_WAIT);
    return wake;
}

/* Completes t at now with an HTTP status and the header lines in text (NULL: no headers). */
static rl_outcome complete(rl_limiter *l, rl_ticket *t, int status, const char *text, uint64_t now)
{
    rl_headers h;
    if (text) hdrs(&h, text);
    return rl_complete(l, t, status, text ? &h : NULL, now);
}

/* complete, asserting its outcome is want. */
static void expect_complete(rl_limiter *l, rl_ticket *t, int status, const char *text, uint64_t now,
                            rl_outcome want)
{
    assert_int_equal(complete(l, t, status, text, now), want);
}

static rl_stats stats_at(rl_limiter *l, uint64_t now)
{
    rl_stats st;
    rl_stats_get(l, now, &st);
    return st;
}

static void test_route_keys(void **state)
{
    (void)state;
    rl_route r;
    assert_int_equal(rl_route_of("DELETE", "/channels/42/messages/7", &r), 0);
    assert_string_equal(r.key, "DELETE /channels/{id}/messages/{id}");
    assert_string_equal(r.major, "channels/42");
    assert_false(r.global_exempt);

    assert_int_equal(rl_route_of("POST", "/interactions/111/aToken.x-y/callback", &r), 0);
    assert_string_equal(r.key, "POST /interactions/{id}/{token}/callback");
    assert_string_equal(r.major, "interactions/111/aToken.x-y");
    assert_true(r.global_exempt);

    assert_int_equal(rl_route_of("PATCH", "/webhooks/9/tok/messages/@original", &r), 0);
    assert_string_equal(r.key, "PATCH /webhooks/{id}/{token}/messages/@original");
    assert_string_equal(r.major, "webhooks/9/tok");
    assert_true(r.global_exempt);

    /* A webhook without token uses bot auth and counts globally. */
    assert_int_equal(rl_route_of("GET", "/webhooks/9", &r), 0);
    assert_string_equal(r.major, "webhooks/9");
    assert_false(r.global_exempt);

    /* The guild of an application route is not top-level: no major parameter. */
    assert_int_equal(rl_route_of("PUT", "/applications/5/guilds/6/commands", &r), 0);
    assert_string_equal(r.key, "PUT /applications/{id}/guilds/{id}/commands");
    assert_string_equal(r.major, "");

    assert_int_equal(rl_route_of("GET", "/guilds/77/roles?x=1", &r), 0);
    assert_string_equal(r.key, "GET /guilds/{id}/roles");
    assert_string_equal(r.major, "guilds/77");

    assert_int_equal(rl_route_of("PUT", "/channels/1/messages/2/reactions/%F0%9F%91%8D/@me", &r),
                     0);
    assert_string_equal(r.key, "PUT /channels/{id}/messages/{id}/reactions/*");

    /* Method matters: GET and PATCH of one path are different routes. */
    rl_route g, p;
    rl_route_of("GET", "/webhooks/1/t/messages/@original", &g);
    rl_route_of("PATCH", "/webhooks/1/t/messages/@original", &p);
    assert_string_not_equal(g.key, p.key);

    assert_int_equal(rl_route_of("GET", "channels/1", &r), -1);
    assert_int_equal(rl_route_of("GET", "/channels//1", &r), -1);
    assert_int_equal(rl_route_of("GET", "/channels/1/", &r), -1);
    assert_int_equal(rl_route_of("GET", "/channels/1 x", &r), -1);
    assert_int_equal(rl_route_of("GET", "/channels/1\r\nX: y", &r), -1);
    assert_int_equal(rl_route_of("get", "/channels/1", &r), -1);
    char longp[RL_PATH_MAX + 16];
    memset(longp, 'a', sizeof longp - 1);
    longp[0] = '/';
    longp[sizeof longp - 1] = '\0';
    assert_int_equal(rl_route_of("GET", longp, &r), -1);
}

static void test_header_parsing(void **state)
{
    (void)state;
    rl_headers h;
    hdrs(&h, "X-RateLimit-Limit: 5\r\nx-ratelimit-remaining: 4\r\n"
             "X-RateLimit-Reset-After: 1.0005\r\nX-RateLimit-Bucket: abcd1234\r\n"
             "X-RateLimit-Scope: shared\r\nRetry-After: 2\r\nContent-Type: application/json\r\n");
    assert_true(h.has_limit && h.has_remaining && h.has_reset_after && h.has_retry_after);
    assert_int_equal(h.limit, 5);
    assert_int_equal(h.remaining, 4);
    assert_int_equal(h.reset_after_ms, 1001); /* rounded up, never early */
    assert_int_equal(h.retry_after_ms, 2000);
    assert_string_equal(h.bucket, "abcd1234");
    assert_int_equal(h.scope, RL_SCOPE_SHARED);

    rl_headers_feed_body(&h,
                         "{\"message\":\"You are being rate limited.\",\"retry_after\":2.5,"
                         "\"global\":true}",
                         76);
    assert_int_equal(h.retry_after_ms, 2500);
    assert_true(h.global);

    hdrs(&h, "X-RateLimit-Limit: five\nX-RateLimit-Remaining: -1\nX-RateLimit-Reset-After: 1e3\n"
             "X-RateLimit-Bucket: has space\nX-RateLimit-Scope: bogus\n");
    assert_false(h.has_limit || h.has_remaining || h.has_reset_after);
    assert_string_equal(h.bucket, "");
    assert_int_equal(h.scope, RL_SCOPE_NONE);
    rl_headers_feed_body(&h, "{not json", 9);
    assert_false(h.has_retry_after);
}

static void test_unknown_bucket_one_in_flight(void **state)
{
    (void)state;
    rl_limiter *l = rl_new(NULL);
    rl_ticket a, b, c;
    send_new(l, &a, "POST", "/channels/1/messages", 1000);
    assert_int_equal(wait_new(l, &b, "POST", "/channels/1/messages", 1000), RL_WAKE_ON_COMPLETION);
    /* A different channel is a different bucket. */
    send_new(l, &c, "POST", "/channels/2/messages", 1000);

    expect_complete(l, &a, 200,
                    "X-RateLimit-Limit: 5\nX-RateLimit-Remaining: 4\n"
                    "X-RateLimit-Reset-After: 2",
                    1010, RL_DONE);
    assert_int_equal(acq(l, &b, 1010, NULL), RL_SEND);
    rl_release(l, &b);
    rl_release(l, &c);
    rl_free(l);
}

static void test_bucket_math(void **state)
{
    (void)state;
    rl_limiter *l = rl_new(NULL);
    rl_ticket t[8];
    uint64_t now = 5000, wake;

    send_new(l, &t[0], "PATCH", "/channels/9/messages/1", now);
    expect_complete(l, &t[0], 200,
                    "X-RateLimit-Limit: 3\nX-RateLimit-Remaining: 2\n"
                    "X-RateLimit-Reset-After: 1.5",
                    now, RL_DONE);

    /* Two left in this window: two may be in flight at once, the third waits for the reset. */
    send_new(l, &t[1], "PATCH", "/channels/9/messages/1", now + 10);
    send_new(l, &t[2], "PATCH", "/channels/9/messages/1", now + 10);
    assert_int_equal(wait_new(l, &t[3], "PATCH", "/channels/9/messages/1", now + 10), now + 1500);

    /* Responses out of order: the later (smaller) Remaining wins inside a window. */
    expect_complete(l, &t[2], 200,
                    "X-RateLimit-Limit: 3\nX-RateLimit-Remaining: 0\n"
                    "X-RateLimit-Reset-After: 1.49",
                    now + 20, RL_DONE);
    expect_complete(l, &t[1], 200,
                    "X-RateLimit-Limit: 3\nX-RateLimit-Remaining: 1\n"
                    "X-RateLimit-Reset-After: 1.48",
                    now + 21, RL_DONE);
    assert_int_equal(acq(l, &t[3], now + 30, &wake), RL_WAIT);
    assert_true(wake >= now + 1500 && wake <= now + 1511);

    /* After the reset the bucket refills to the limit. */
    assert_int_equal(acq(l, &t[3], wake, NULL), RL_SEND);
    send_new(l, &t[4], "PATCH", "/channels/9/messages/1", wake);
    send_new(l, &t[5], "PATCH", "/channels/9/messages/1", wake);
    /* All three in flight, no reset known yet: wait for a response. */
    assert_int_equal(wait_new(l, &t[6], "PATCH", "/channels/9/messages/1", wake),
                     RL_WAKE_ON_COMPLETION);
    assert_true(t[3].waited_ms >= 1400);
    for (int i = 3; i <= 5; i++)
        rl_release(l, &t[i]);
    rl_free(l);
}

static void test_learned_hash_shared_and_method(void **state)
{
    (void)state;
    rl_limiter *l = rl_new(NULL);
    rl_ticket a, b, c, d, e;
    /* Two different routes that Discord says share the bucket hash "msg": one budget. */
    send_new(l, &a, "POST", "/channels/1/messages", 0 + 100);
    complete(l, &a, 200,
             "X-RateLimit-Limit: 2\nX-RateLimit-Remaining: 1\n"
             "X-RateLimit-Reset-After: 5\nX-RateLimit-Bucket: msg",
             100);
    send_new(l, &b, "PATCH", "/channels/1/messages/5", 100);
    complete(l, &b, 200,
             "X-RateLimit-Limit: 2\nX-RateLimit-Remaining: 0\n"
             "X-RateLimit-Reset-After: 4.9\nX-RateLimit-Bucket: msg",
             110);
    /* Now POST (hash known) sees remaining 0 of the shared bucket. */
    assert_int_equal(wait_new(l, &c, "POST", "/channels/1/messages", 120), 5100);
    /* Same hash, other channel: its own bucket. */
    send_new(l, &d, "POST", "/channels/2/messages", 120);
    /* GET of the same path is another route (hash unknown): not blocked. */
    send_new(l, &e, "GET", "/channels/1/messages/5", 120);
    assert_int_equal(stats_at(l, 120).routes_hashed, 2);
    rl_release(l, &d);
    rl_release(l, &e);
    rl_free(l);
}

static void test_interactions_never_serialized(void **state)
{
    (void)state;
    rl_limiter *l = rl_new(NULL);
    rl_ticket t[200];
    char path[128];
    /* 200 callbacks of 200 interactions at the same instant: all go now, none waits on the
     * global limit or on each other. */
    for (int i = 0; i < 200; i++) {
        snprintf(path, sizeof path, "/interactions/%d/token%d/callback", 1000 + i, i);
        send_new(l, &t[i], "POST", path, 7000);
    }
    /* Webhook edits of different interactions likewise. */
    rl_ticket w[100];
    for (int i = 0; i < 100; i++) {
        snprintf(path, sizeof path, "/webhooks/55/token%d/messages/@original", i);
        send_new(l, &w[i], "PATCH", path, 7000);
    }
    for (int i = 0; i < 200; i++)
        rl_release(l, &t[i]);
    for (int i = 0; i < 100; i++)
        rl_release(l, &w[i]);
    rl_free(l);
}

static void test_global_window(void **state)
{
    (void)state;
    rl_limiter *l = rl_new(NULL);
    rl_ticket t, x;
    char path[64];
    for (int i = 0; i < 50; i++) {
        snprintf(path, sizeof path, "/channels/%d/messages", i + 1);
        send_new(l, &t, "POST", path, 10000 + (uint64_t)i);
        rl_complete(l, &t, 200, NULL, 10000 + (uint64_t)i);
    }
    /* the oldest send leaves the 1 s window */
    assert_int_equal(wait_new(l, &t, "POST", "/channels/999/messages", 10100), 11000);
    /* Exempt routes do not count and are not held back. */
    send_new(l, &x, "POST", "/interactions/1/tok/callback", 10100);
    rl_release(l, &x);
    assert_int_equal(acq(l, &t, 11000, NULL), RL_SEND);
    rl_release(l, &t);
    rl_free(l);
}

static void test_429_global(void **state)
{
    (void)state;
    rl_limiter *l = rl_new(NULL);
    rl_ticket t, other, ix;
    uint64_t wake;
    send_new(l, &t, "GET", "/guilds/1/roles", 100);
    expect_complete(l, &t, 429,
                    "Retry-After: 3\nX-RateLimit-Global: true\n"
                    "X-RateLimit-Scope: global",
                    100, RL_RETRY);
    /* Every non-exempt route is paused. */
    assert_int_equal(wait_new(l, &other, "GET", "/channels/5", 200), 3100);
    assert_int_equal(acq(l, &t, 200, &wake), RL_WAIT);
    assert_int_equal(wake, 3100);
    /* Interaction callbacks are not bound by the global limit. */
    send_new(l, &ix, "POST", "/interactions/2/tok/callback", 200);
    rl_release(l, &ix);
    assert_int_equal(acq(l, &t, 3100, NULL), RL_SEND);
    assert_int_equal(rl_complete(l, &t, 200, NULL, 3150), RL_DONE);
    rl_stats st = stats_at(l, 3200);
    assert_int_equal(st.r429_global, 1);
    assert_int_equal(st.invalid_10min, 1);
    rl_free(l);
}

static void test_429_shared(void **state)
{
    (void)state;
    rl_limiter *l = rl_new(NULL);
    rl_ticket t, u, v;
    send_new(l, &t, "PATCH", "/channels/3", 100);
    expect_complete(l, &t, 429,
                    "X-RateLimit-Limit: 10\nX-RateLimit-Remaining: 9\n"
                    "X-RateLimit-Reset-After: 1\nRetry-After: 2\n"
                    "X-RateLimit-Scope: shared",
                    100, RL_RETRY);
    /* The bucket waits Retry-After, although Remaining says 9. */
    assert_int_equal(wait_new(l, &u, "PATCH", "/channels/3", 150), 2100);
    /* Other channels are not affected. */
    send_new(l, &v, "PATCH", "/channels/4", 150);
    rl_release(l, &v);
    assert_int_equal(acq(l, &t, 2100, NULL), RL_SEND);
    rl_release(l, &t);
    rl_stats st = stats_at(l, 2200);
    assert_int_equal(st.r429_shared, 1);
    assert_int_equal(st.invalid_10min, 0); /* shared 429s are not counted as invalid */
    rl_free(l);
}

static void test_429_user(void **state)
{
    (void)state;
    rl_limiter *l = rl_new(NULL);
    rl_ticket t, u;
    uint64_t wake;
    send_new(l, &t, "POST", "/channels/3/messages", 100);
    expect_complete(l, &t, 429,
                    "X-RateLimit-Limit: 5\nX-RateLimit-Remaining: 0\n"
                    "X-RateLimit-Reset-After: 0.75\nRetry-After: 1\n"
                    "X-RateLimit-Scope: user\nX-RateLimit-Bucket: b1",
                    100, RL_RETRY);
    /* the larger of Retry-After and Reset-After */
    assert_int_equal(wait_new(l, &u, "POST", "/channels/3/messages", 120), 1100);
    assert_int_equal(acq(l, &t, 500, &wake), RL_WAIT);
    assert_int_equal(acq(l, &t, 1100, NULL), RL_SEND);
    assert_int_equal(acq(l, &u, 1100, NULL), RL_SEND); /* refilled to the limit */
    rl_release(l, &t);
    rl_release(l, &u);
    rl_stats st = stats_at(l, 1200);
    assert_int_equal(st.r429_user, 1);
    assert_int_equal(st.invalid_10min, 1);
    rl_free(l);
}

static void test_429_bounds(void **state)
{
    (void)state;
    rl_config c;
    rl_config_defaults(&c);
    c.max_429_retries = 2;
    c.max_retry_after_ms = 10000;
    rl_limiter *l = rl_new(&c);
    rl_ticket t, u;
    uint64_t now = 100;
    rl_ticket_init(&t, "GET", "/channels/1");
    for (int i = 0; i < 2; i++) {
        assert_int_equal(acq(l, &t, now, NULL), RL_SEND);
        expect_complete(l, &t, 429, "Retry-After: 1\nX-RateLimit-Scope: user", now, RL_RETRY);
        now += 1000;
    }
    assert_int_equal(acq(l, &t, now, NULL), RL_SEND);
    expect_complete(l, &t, 429, "Retry-After: 1\nX-RateLimit-Scope: user", now, RL_GIVE_UP);
    /* A Retry-After beyond the configured maximum fails at once. */
    send_new(l, &u, "GET", "/channels/2", now);
    expect_complete(l, &u, 429, "Retry-After: 3600\nX-RateLimit-Scope: user", now, RL_GIVE_UP);
    rl_free(l);
}

/* A global 429 asking for an hour (issue 9): the request fails, every non-exempt route pauses
 * for the cap (60 s) only, and interaction callbacks/webhooks are never held. */
static void test_429_global_hour_is_capped(void **state)
{
    (void)state;
    rl_limiter *l = rl_new(NULL);
    rl_ticket t, ch, ix, wh;
    send_new(l, &t, "POST", "/channels/9/messages", 1000);
    expect_complete(l, &t, 429,
                    "Retry-After: 3600\nX-RateLimit-Global: true\n"
                    "X-RateLimit-Scope: global",
                    1000, RL_GIVE_UP);
    assert_int_equal(t.last_429.scope, RL_SCOPE_GLOBAL);
    assert_true(t.last_429.asked_ms == 3600000);
    assert_true(t.last_429.pause_ms == 60000);
    assert_true(t.last_429.paused_global);
    assert_true(stats_at(l, 1000).global_paused_until_ms == 61000);
    /* +5 s: bot routes wait for the cap, not for the hour */
    assert_true(wait_new(l, &ch, "GET", "/channels/5", 6000) == 61000);
    /* interaction callbacks and interaction webhooks go at once */
    send_new(l, &ix, "POST", "/interactions/2/tok/callback", 6000);
    send_new(l, &wh, "PATCH", "/webhooks/77/tok/messages/@original", 6000);
    /* +70 s: everything flows again */
    assert_int_equal(acq(l, &ch, 71000, NULL), RL_SEND);
    rl_free(l);
}

/* A global 429 on an exempt route (Discord would not send it; a proxy or a fake might) pauses
 * bot routes for at most the cap and never holds other interactions. */
static void test_429_global_on_callback(void **state)
{
    (void)state;
    rl_limiter *l = rl_new(NULL);
    rl_ticket ix, other, ch, ix3, ix4;
    uint64_t wake;
    send_new(l, &ix, "POST", "/interactions/1/tok/callback", 1000);
    expect_complete(l, &ix, 429, "Retry-After: 3600\nX-RateLimit-Scope: global", 1000, RL_GIVE_UP);
    send_new(l, &other, "POST", "/interactions/2/tok2/callback", 1500);
    rl_release(l, &other);
    assert_true(wait_new(l, &ch, "GET", "/channels/5", 6000) <= 61000);
    assert_int_equal(acq(l, &ch, 70000, NULL), RL_SEND);
    /* a short global 429 on a callback is retried, holding only that request */
    send_new(l, &ix3, "POST", "/interactions/3/tok3/callback", 80000);
    expect_complete(l, &ix3, 429, "Retry-After: 2\nX-RateLimit-Scope: global", 80000, RL_RETRY);
    assert_int_equal(acq(l, &ix3, 80500, &wake), RL_WAIT);
    assert_true(wake == 82000);
    send_new(l, &ix4, "POST", "/interactions/4/tok4/callback", 80500);
    rl_free(l);
}

/* Shared and user 429s cannot block a bucket beyond the cap either. */
static void test_429_bucket_pause_capped(void **state)
{
    (void)state;
    rl_limiter *l = rl_new(NULL);
    rl_ticket t, u, v, w;
    send_new(l, &t, "PATCH", "/channels/3", 100);
    expect_complete(l, &t, 429, "Retry-After: 7200\nX-RateLimit-Scope: shared", 100, RL_GIVE_UP);
    assert_true(wait_new(l, &u, "PATCH", "/channels/3", 200) == 60100);
    rl_release(l, &u);
    send_new(l, &v, "POST", "/channels/4/messages", 100);
    expect_complete(l, &v, 429,
                    "X-RateLimit-Limit: 5\nX-RateLimit-Remaining: 0\n"
                    "X-RateLimit-Reset-After: 9000\nRetry-After: 9000\n"
                    "X-RateLimit-Scope: user",
                    100, RL_GIVE_UP);
    assert_true(wait_new(l, &w, "POST", "/channels/4/messages", 200) <= 60100);
    assert_int_equal(acq(l, &w, 60100, NULL), RL_SEND);
    rl_free(l);
}

/* One retried failure of t at *now: the verdict RL_RETRY, then the wait of backoff_ms before the
 * next send, which goes (all asserted); *now moves to that send. */
static void retry_after_backoff(rl_limiter *l, rl_ticket *t, int status, uint64_t *now,
                                uint64_t ask_at, uint64_t backoff_ms)
{
    assert_int_equal(rl_complete(l, t, status, NULL, *now), RL_RETRY);
    uint64_t wake;
    assert_int_equal(acq(l, t, ask_at, &wake), RL_WAIT);
    assert_int_equal(wake, *now + backoff_ms);
    *now = wake;
    assert_int_equal(acq(l, t, *now, NULL), RL_SEND);
}

static void test_5xx_and_network_backoff(void **state)
{
    (void)state;
    rl_limiter *l = rl_new(NULL); /* base 250 ms, cap 4 s, 3 retries */
    rl_ticket t, u, v;
    uint64_t now = 1000;
    send_new(l, &t, "POST", "/interactions/1/tok/callback", now);
    retry_after_backoff(l, &t, 502, &now, now + 10, 250);
    retry_after_backoff(l, &t, 0, &now, now, 500); /* network error */
    retry_after_backoff(l, &t, 503, &now, now, 1000);
    assert_int_equal(rl_complete(l, &t, 500, NULL, now), RL_GIVE_UP);
    assert_int_equal(t.sends, 4);

    /* 5xx then success. */
    send_new(l, &u, "GET", "/users/@me", now);
    assert_int_equal(rl_complete(l, &u, 500, NULL, now), RL_RETRY);
    assert_int_equal(acq(l, &u, now + 250, NULL), RL_SEND);
    assert_int_equal(rl_complete(l, &u, 200, NULL, now + 260), RL_DONE);
    /* Other 4xx are final and not retried. */
    send_new(l, &v, "GET", "/users/@me", now + 300);
    assert_int_equal(rl_complete(l, &v, 404, NULL, now + 300), RL_DONE);
    rl_stats st = stats_at(l, now);
    assert_int_equal(st.errors_5xx, 4);
    assert_int_equal(st.errors_network, 1);
    assert_int_equal(st.give_ups, 1);
    rl_free(l);
}

static void test_401_fatal(void **state)
{
    (void)state;
    rl_limiter *l = rl_new(NULL);
    rl_ticket t, u;
    send_new(l, &t, "GET", "/gateway/bot", 1);
    assert_int_equal(rl_complete(l, &t, 401, NULL, 1), RL_FATAL_AUTH);
    rl_ticket_init(&u, "POST", "/interactions/1/t/callback");
    assert_int_equal(acq(l, &u, 2, NULL), RL_FATAL);
    assert_true(stats_at(l, 2).fatal);
    rl_free(l);
}

static void test_gc_forgets_idle_buckets(void **state)
{
    (void)state;
    rl_limiter *l = rl_new(NULL);
    rl_ticket t;
    rl_headers h;
    char path[96];
    hdrs(&h, "X-RateLimit-Limit: 5\nX-RateLimit-Remaining: 4\nX-RateLimit-Reset-After: 1\n"
             "X-RateLimit-Bucket: cb");
    for (int i = 0; i < 1000; i++) {
        snprintf(path, sizeof path, "/interactions/%d/t%d/callback", i + 1, i);
        send_new(l, &t, "POST", path, 100);
        rl_complete(l, &t, 204, &h, 100);
    }
    assert_true(stats_at(l, 100).buckets >= 1000);
    rl_gc(l, 100 + 60000);
    rl_stats st = stats_at(l, 100 + 60000);
    assert_int_equal(st.buckets, 0);
    assert_int_equal(st.in_flight, 0);
    rl_free(l);
}

static void test_unlimited_route(void **state)
{
    (void)state;
    rl_limiter *l = rl_new(NULL);
    rl_ticket a, b, c;
    send_new(l, &a, "GET", "/users/@me", 1);
    rl_complete(l, &a, 200, NULL, 2); /* no rate-limit headers at all */
    send_new(l, &b, "GET", "/users/@me", 3);
    send_new(l, &c, "GET", "/users/@me", 3); /* no bucket limit: both in flight */
    rl_release(l, &b);
    rl_release(l, &c);
    rl_release(l, &c); /* idempotent */
    assert_int_equal(stats_at(l, 3).in_flight, 0);
    rl_free(l);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_route_keys),
        cmocka_unit_test(test_header_parsing),
        cmocka_unit_test(test_unknown_bucket_one_in_flight),
        cmocka_unit_test(test_bucket_math),
        cmocka_unit_test(test_learned_hash_shared_and_method),
        cmocka_unit_test(test_interactions_never_serialized),
        cmocka_unit_test(test_global_window),
        cmocka_unit_test(test_429_global),
        cmocka_unit_test(test_429_shared),
        cmocka_unit_test(test_429_user),
        cmocka_unit_test(test_429_bounds),
        cmocka_unit_test(test_429_global_hour_is_capped),
        cmocka_unit_test(test_429_global_on_callback),
        cmocka_unit_test(test_429_bucket_pause_capped),
        cmocka_unit_test(test_5xx_and_network_backoff),
        cmocka_unit_test(test_401_fatal),
        cmocka_unit_test(test_gc_forgets_idle_buckets),
        cmocka_unit_test(test_unlimited_route),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
