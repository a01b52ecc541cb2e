/* End-to-end tests of the gateway actor against the fake gateway on loopback, with a sink
 * actor standing in for the router: connect → identify → ready, jittered first heartbeat,
 * zombie → resume, op 1, op 7 with replay (nothing lost or delivered twice), op 9 true/false,
 * each close-code class, 4004 and 401 as clean fatal stops, zlib-stream split across frames,
 * malformed and oversized frames survived, the role cache, sharding with identify spacing,
 * back-pressure from a slow router, and the 1000 close on shutdown. Intervals are short so
 * every test takes a few seconds at most. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>
#include <libwebsockets.h>

#include "actors/gateway.h"
#include "fakes/fake_gateway.h"
#include "fluxbot/log.h"
#include "fluxbot/runtime.h"
#include "msgs/gw.h"
#include "msgs/rest.h"
#include "util/util_time.h"

#define TOKEN "Mz.fake-token.for-tests"
#define MAX_EVENTS 512

/* ---- sink actor: records what the gateway forwards -------------------------------------- */

typedef struct sink {
    pthread_mutex_t mu;
    char *events[MAX_EVENTS]; /* "EVENT shard data" */
    unsigned n;
    unsigned slow_first_ms; /* sleep this long on the first message (back-pressure) */
    bool slept;
} sink;

static void sink_on_message(rt_actor *self, void *state, rt_msg *m)
{
    (void)self;
    sink *s = state;
    if (m->type == MSG_GW_DISPATCH) {
        gw_dispatch_msg *d = (gw_dispatch_msg *)m;
        if (s->slow_first_ms && !s->slept) {
            s->slept = true;
            util_sleep_ms(s->slow_first_ms);
        }
        size_t len = strlen(d->event) + d->data_len + 32;
        char *e = malloc(len);
        snprintf(e, len, "%s %u %s", d->event, d->shard_id, d->data_json);
        pthread_mutex_lock(&s->mu);
        if (s->n < MAX_EVENTS)
            s->events[s->n++] = e;
        else
            free(e);
        pthread_mutex_unlock(&s->mu);
    }
    rt_msg_free(m);
}

static unsigned sink_count(sink *s, const char *prefix)
{
    unsigned n = 0;
    pthread_mutex_lock(&s->mu);
    for (unsigned i = 0; i < s->n; i++)
        if (strncmp(s->events[i], prefix, strlen(prefix)) == 0) n++;
    pthread_mutex_unlock(&s->mu);
    return n;
}

/* How many forwarded events contain needle. */
static unsigned sink_find(sink *s, const char *needle)
{
    unsigned n = 0;
    pthread_mutex_lock(&s->mu);
    for (unsigned i = 0; i < s->n; i++)
        if (strstr(s->events[i], needle)) n++;
    pthread_mutex_unlock(&s->mu);
    return n;
}

/* ---- harness ---------------------------------------------------------------------------- */

typedef struct env {
    fake_gateway *f;
    rt_system *sys;
    sink sk;
    rt_actor *sink_actor;
    gateway *gw;
} env;

static env E;

static const char *GUILDS =
    "[{\"id\":\"4194304\",\"name\":\"g0\",\"roles\":[{\"id\":\"11\",\"name\":\"@everyone\"},"
    "{\"id\":\"12\",\"name\":\"Bot Manager\"}]},"
    "{\"id\":\"8388608\",\"name\":\"g1\",\"roles\":[{\"id\":\"21\",\"name\":\"Bot Manager\"}]}]";

typedef struct opts {
    uint32_t hb_ms;
    uint32_t shards; /* fake's recommendation */
    bool compress;
    unsigned zsplit;
    const char *token; /* the gateway's token (NULL = the valid one) */
    unsigned sink_lanes;
    unsigned slow_first_ms;
    size_t max_frame;
    bool stall_front;            /* the websocket goes through a stallable TCP front */
    uint32_t connect_timeout_ms; /* 0 = the gateway's default */
    uint32_t hello_timeout_ms;
    uint32_t lws_timeout_s;
} opts;

static bool stall_at_start;

static void start(const opts *o)
{
    memset(&E, 0, sizeof E);
    fake_gateway_options fo = {.token = TOKEN,
                               .heartbeat_interval_ms = o->hb_ms ? o->hb_ms : 5000,
                               .shards = o->shards,
                               .identify_interval_ms = 250,
                               .guilds_json = GUILDS,
                               .stall_front = o->stall_front};
    E.f = fake_gateway_start(&fo);
    assert_non_null(E.f);
    if (o->stall_front && stall_at_start) fake_gateway_set_stall(E.f, true);
    if (o->zsplit) fake_gateway_set_zlib_split(E.f, o->zsplit);
    E.sys = rt_system_new();
    assert_non_null(E.sys);
    pthread_mutex_init(&E.sk.mu, NULL);
    E.sk.slow_first_ms = o->slow_first_ms;
    rt_actor_spec ss = {.name = "sink",
                        .threads = 1,
                        .lane_capacity = o->sink_lanes ? o->sink_lanes : 256,
                        .state = &E.sk,
                        .ops = {.on_message = sink_on_message}};
    E.sink_actor = rt_actor_new(E.sys, &ss);
    assert_non_null(E.sink_actor);
    gateway_config gc = {
        .token = o->token ? o->token : TOKEN,
        .api_base = fake_gateway_http_base(E.f),
        .shard_id = -1,
        .shard_count = 0,
        .compress = o->compress,
        .target = E.sink_actor,
        /* Exactly what the fake enforces (as the bot's 5000 ms is Discord's): the gateway's own
         * margin (GW_IDQ_MARGIN_MS) keeps delivery jitter between two identifies from making
         * them arrive closer than the server allows. */
        .identify_interval_ms = 250,
        .invalid_wait_min_ms = 1000,
        .invalid_wait_max_ms = 1500,
        .backoff_base_ms = 100,
        .backoff_cap_ms = 1000,
        .max_frame_bytes = o->max_frame,
        .connect_timeout_ms = o->connect_timeout_ms,
        .hello_timeout_ms = o->hello_timeout_ms,
        .lws_timeout_s = o->lws_timeout_s,
    };
    E.gw = gateway_new(E.sys, &gc);
    assert_non_null(E.gw);
    assert_int_equal(rt_system_start(E.sys), 0);
}

/* start(), with the front stalled before the gateway's first connect. */
static void start_stalled(const opts *o);

static void start_stalled(const opts *o)
{
    stall_at_start = true;
    start(o);
    stall_at_start = false;
}

static void finish(void)
{
    rt_system_stop(E.sys);
    rt_system_free(E.sys);
    gateway_free(E.gw);
    fake_gateway_stop(E.f);
    for (unsigned i = 0; i < E.sk.n; i++)
        free(E.sk.events[i]);
    pthread_mutex_destroy(&E.sk.mu);
}

static bool stat_at_least(const fake_gateway_stats *s, void *ctx)
{
    const uint64_t *want = ctx; /* {offset, value} */
    return *(const uint64_t *)((const char *)s + want[0]) >= want[1];
}

#define WAIT_FAKE(field, value, ms)                                                                \
    do {                                                                                           \
        uint64_t w_[2] = {offsetof(fake_gateway_stats, field), (uint64_t)(value)};                 \
        if (!fake_gateway_wait(E.f, stat_at_least, w_, (ms)))                                      \
            fail_msg("fake stat %s did not reach %llu", #field, (unsigned long long)(value));      \
    } while (0)

#define WAIT_GW(expr, ms)                                                                          \
    do {                                                                                           \
        uint64_t end_ = rt_now_ms() + (ms);                                                        \
        gateway_counters gs;                                                                       \
        for (;;) {                                                                                 \
            gateway_counters_get(E.gw, &gs);                                                       \
            if (expr) break;                                                                       \
            if (rt_now_ms() > end_) fail_msg("timed out waiting for %s", #expr);                   \
            util_sleep_ms(5);                                                                      \
        }                                                                                          \
    } while (0)

#define WAIT_SINK(prefix, count, ms)                                                               \
    do {                                                                                           \
        uint64_t end_ = rt_now_ms() + (ms);                                                        \
        while (sink_count(&E.sk, prefix) < (count)) {                                              \
            if (rt_now_ms() > end_)                                                                \
                fail_msg("sink got %u %s, wanted %u", sink_count(&E.sk, prefix), prefix,           \
                         (unsigned)(count));                                                       \
            util_sleep_ms(5);                                                                      \
        }                                                                                          \
    } while (0)

static void wait_ready(void)
{
    WAIT_GW(gs.shards_active >= 1 && gs.ready >= 1, 5000);
}

/* Waits up to ms for the system's exit code to be set; returns it, with the gateway's stats. */
static int wait_exit_code(unsigned ms, gateway_counters *g)
{
    uint64_t end = rt_now_ms() + ms;
    while (rt_system_exit_code(E.sys) == 0 && rt_now_ms() < end)
        util_sleep_ms(5);
    gateway_counters_get(E.gw, g);
    return rt_system_exit_code(E.sys);
}

static void interaction(int id)
{
    char d[128];
    snprintf(d, sizeof d, "{\"id\":\"%d\",\"type\":2,\"token\":\"itok\",\"data\":{\"name\":\"x\"}}",
             id);
    assert_true(fake_gateway_dispatch(E.f, -1, "INTERACTION_CREATE", d) >= 1);
}

/* Every interaction id in [first, last] arrived exactly once. */
static void expect_each_once(int first, int last)
{
    for (int i = first; i <= last; i++) {
        char needle[32];
        snprintf(needle, sizeof needle, "\"id\":\"%d\"", i);
        unsigned n = sink_find(&E.sk, needle);
        if (n != 1) fail_msg("interaction %d delivered %u times", i, n);
    }
}

/* ---- tests ------------------------------------------------------------------------------ */

static void test_connect_identify_ready(void **state)
{
    (void)state;
    opts o = {.hb_ms = 5000};
    start(&o);
    wait_ready();
    gateway_counters G;
    gateway_counters_get(E.gw, &G);
    assert_int_equal(G.identifies, 1);
    assert_int_equal(G.shards, 1);
    assert_true(G.application_id == 100000000000000001ull);
    assert_true(G.user_id == 100000000000000002ull);
    /* IDENTIFY: raw token, GUILDS intent, shard, properties */
    fake_gateway_record *r;
    size_t n = fake_gateway_records(E.f, &r);
    const char *idf = NULL;
    for (size_t i = 0; i < n; i++)
        if (r[i].op == 2) idf = r[i].payload;
    assert_non_null(idf);
    assert_non_null(strstr(idf, "\"token\":\"" TOKEN "\""));
    assert_non_null(strstr(idf, "\"intents\":1"));
    assert_non_null(strstr(idf, "\"shard\":[0,1]"));
    assert_non_null(strstr(idf, "\"properties\""));
    assert_null(strstr(idf, "Bot "));
    fake_gateway_records_free(r, n);
    fake_gateway_stats st;
    fake_gateway_get_stats(E.f, &st);
    assert_int_equal(st.http_requests, 1); /* /gateway/bot asked once */
    /* guild events went to the role cache, not to the router */
    WAIT_GW(gs.role_events >= 2, 2000);
    uint64_t id;
    assert_int_equal(gw_roles_find_by_name(gateway_roles(E.gw), 4194304, "Bot Manager", &id, 1), 1);
    assert_true(id == 12);
    assert_int_equal(sink_count(&E.sk, "GUILD_CREATE"), 0);
    /* an interaction reaches the router with its shard */
    interaction(1);
    WAIT_SINK("INTERACTION_CREATE 0 ", 1, 2000);
    /* a role created later is visible at once */
    assert_true(fake_gateway_dispatch(
                    E.f, -1, "GUILD_ROLE_CREATE",
                    "{\"guild_id\":\"4194304\",\"role\":{\"id\":\"13\",\"name\":\"Artists\"}}") ==
                1);
    WAIT_GW(gs.role_events >= 3, 2000);
    assert_int_equal(gw_roles_find_by_name(gateway_roles(E.gw), 4194304, "Artists", &id, 1), 1);
    /* unrelated events are dropped cheaply */
    fake_gateway_dispatch(E.f, -1, "TYPING_START", "{\"channel_id\":\"1\"}");
    WAIT_GW(gs.dropped_events >= 1, 2000);
    finish();
}

static void test_jittered_heartbeats(void **state)
{
    (void)state;
    opts o = {.hb_ms = 600};
    start(&o);
    wait_ready();
    assert_true(fake_gateway_wait_op(E.f, 1, 3, 4000));
    fake_gateway_record *r;
    size_t n = fake_gateway_records(E.f, &r);
    uint64_t hello = 0, beats[3];
    unsigned nb = 0;
    for (size_t i = 0; i < n && nb < 3; i++) {
        if (r[i].op == FAKE_GATEWAY_REC_HELLO && !hello) hello = r[i].at_ms;
        if (r[i].op == 1) beats[nb++] = r[i].at_ms;
    }
    fake_gateway_records_free(r, n);
    assert_int_equal(nb, 3);
    /* the first beat comes within [0, interval) of HELLO (plus scheduling slack) */
    assert_true(beats[0] >= hello);
    assert_true(beats[0] - hello < 600 + 300);
    /* then one per interval */
    assert_true(beats[1] - beats[0] >= 590 && beats[1] - beats[0] < 600 + 400);
    assert_true(beats[2] - beats[1] >= 590 && beats[2] - beats[1] < 600 + 400);
    fake_gateway_stats st;
    fake_gateway_get_stats(E.f, &st);
    assert_true(st.acks_sent >= 3);
    finish();
}

static void test_server_heartbeat_request(void **state)
{
    (void)state;
    opts o = {.hb_ms = 30000};
    start(&o);
    wait_ready();
    unsigned before = fake_gateway_count_op(E.f, 1);
    uint64_t t0 = rt_now_ms();
    fake_gateway_request_heartbeat(E.f, 0);
    assert_true(fake_gateway_wait_op(E.f, 1, before + 1, 2000));
    assert_true(rt_now_ms() - t0 < 10000); /* answered at once, not at the next beat (30 s) */
    finish();
}

/* 300 op 1 in one burst: the replies are coalesced so the connection stays under Discord's
 * 120 sends per 60 s (the fake closes 4008 beyond it) and the session survives. */
static void test_heartbeat_request_burst(void **state)
{
    (void)state;
    opts o = {.hb_ms = 30000};
    start(&o);
    wait_ready();
    unsigned before = fake_gateway_count_op(E.f, 1);
    fake_gateway_set_paused(E.f, true); /* queue the whole burst, then release it at once */
    for (int i = 0; i < 300; i++)
        fake_gateway_request_heartbeat(E.f, 0);
    fake_gateway_set_paused(E.f, false);
    assert_true(fake_gateway_wait_op(E.f, 1, before + 1, 3000)); /* answered */
    util_sleep_ms(1500); /* let every reply that would go, go */
    fake_gateway_stats st;
    fake_gateway_get_stats(E.f, &st);
    assert_int_equal(st.rate_violations, 0);
    assert_true(st.max_frames_in_window <= 120);
    assert_int_equal(st.connections, 1); /* never closed for the rate */
    gateway_counters G;
    gateway_counters_get(E.gw, &G);
    assert_int_equal(G.shards_active, 1);
    assert_int_equal(G.reconnects, 0);
    /* the connection still works */
    interaction(1);
    WAIT_SINK("INTERACTION_CREATE", 1, 2000);
    finish();
}

static uint64_t stalled_now(void)
{
    fake_gateway_stats st;
    fake_gateway_get_stats(E.f, &st);
    return st.stalled_connections;
}

#define WAIT_STALLED(n, ms)                                                                        \
    do {                                                                                           \
        uint64_t end_ = rt_now_ms() + (ms);                                                        \
        while (stalled_now() < (n)) {                                                              \
            if (rt_now_ms() > end_)                                                                \
                fail_msg("only %llu stalled connects", (unsigned long long)stalled_now());         \
            util_sleep_ms(10);                                                                     \
        }                                                                                          \
    } while (0)

/* A gateway that accepts TCP and never answers the websocket upgrade: every attempt times
 * out, the bot frees nothing twice (ASan), logs the failure, backs off and retries until the
 * server answers, then identifies. Then a zombie reconnect into the same stall: the bot
 * retries until the server answers again and resumes. */
static void stalled_scenario(const opts *o, unsigned attempts, bool zombie_part)
{
    start_stalled(o);
    WAIT_STALLED(attempts, 30000); /* that many attempts timed out against the stall */
    gateway_counters G;
    gateway_counters_get(E.gw, &G);
    assert_int_equal(G.ready, 0);
    assert_int_equal(G.connections, 0);
    fake_gateway_set_stall(E.f, false);
    WAIT_GW(gs.ready >= 1 && gs.shards_active == 1, 10000);
    interaction(1);
    WAIT_SINK("INTERACTION_CREATE", 1, 2000);
    if (zombie_part) {
        /* zombie: the reconnect meets a stalled server */
        uint64_t stalled = stalled_now();
        fake_gateway_set_stall(E.f, true);
        fake_gateway_set_ack(E.f, false);
        WAIT_GW(gs.zombies >= 1, 5000);
        WAIT_STALLED(stalled + 2, 20000);
        fake_gateway_set_ack(E.f, true);
        fake_gateway_set_stall(E.f, false);
        WAIT_GW(gs.resumed >= 1 && gs.shards_active == 1, 10000);
        gateway_counters_get(E.gw, &G);
        assert_int_equal(G.identifies, 1); /* resumed, not re-identified */
        interaction(2);
        WAIT_SINK("INTERACTION_CREATE", 2, 2000);
        expect_each_once(1, 2);
    }
    finish();
}

/* A gateway that accepts TCP and never answers the websocket upgrade: libwebsockets' own step
 * timeout (shortened to 1 s here; 5 s by default) ends each attempt before the session's
 * connect deadline (2.5 s) — the path that used to free the wsi behind the bot's back and
 * crash it at the deadline. The bot logs the failure, backs off and retries until the server
 * answers, then identifies. Then a zombie reconnect into the same stall: retries until the
 * server answers again, then resumes. */
static void test_stalled_upgrade_retries(void **state)
{
    (void)state;
    opts o = {.hb_ms = 300,
              .stall_front = true,
              .connect_timeout_ms = 2500,
              .hello_timeout_ms = 2500,
              .lws_timeout_s = 1};
    stalled_scenario(&o, 3, true);
}

/* The same stall when the session's connect deadline (700 ms) comes first: the bot abandons
 * the attempt itself. */
static void test_stalled_upgrade_session_deadline(void **state)
{
    (void)state;
    opts o = {
        .hb_ms = 300, .stall_front = true, .connect_timeout_ms = 700, .hello_timeout_ms = 700};
    stalled_scenario(&o, 3, false);
}

static void test_zombie_resume(void **state)
{
    (void)state;
    opts o = {.hb_ms = 300};
    start(&o);
    wait_ready();
    interaction(1);
    WAIT_SINK("INTERACTION_CREATE", 1, 2000);
    fake_gateway_set_ack(E.f, false);
    WAIT_GW(gs.zombies >= 1, 3000);
    fake_gateway_set_ack(E.f, true);
    WAIT_FAKE(resumed_sent, 1, 3000);
    assert_true(fake_gateway_client_close_count(E.f, 4000) >= 1); /* never 1000 for a zombie */
    assert_int_equal(fake_gateway_client_close_count(E.f, 1000), 0);
    WAIT_GW(gs.resumed >= 1 && gs.shards_active == 1, 3000);
    gateway_counters G;
    gateway_counters_get(E.gw, &G);
    assert_int_equal(G.identifies, 1); /* resumed, not re-identified */
    interaction(2);
    WAIT_SINK("INTERACTION_CREATE", 2, 2000);
    expect_each_once(1, 2);
    finish();
}

static void test_op7_resume_replay(void **state)
{
    (void)state;
    opts o = {.hb_ms = 5000};
    start(&o);
    wait_ready();
    for (int i = 1; i <= 5; i++)
        interaction(i);
    WAIT_SINK("INTERACTION_CREATE", 5, 2000);
    /* op 7, then five dispatches behind it on the same connection: the bot abandons the
     * connection at op 7, so it must get them by replay after RESUME. */
    fake_gateway_set_paused(E.f, true);
    fake_gateway_send_reconnect(E.f, 0);
    for (int i = 6; i <= 10; i++)
        interaction(i);
    fake_gateway_set_paused(E.f, false);
    WAIT_FAKE(resumed_sent, 1, 4000);
    for (int i = 11; i <= 15; i++)
        interaction(i);
    WAIT_SINK("INTERACTION_CREATE", 15, 3000);
    util_sleep_ms(100);
    assert_int_equal(sink_count(&E.sk, "INTERACTION_CREATE"), 15);
    expect_each_once(1, 15);
    fake_gateway_stats st;
    fake_gateway_get_stats(E.f, &st);
    assert_int_equal(st.replayed, 5);
    assert_int_equal(st.identifies, 1);
    assert_true(fake_gateway_client_close_count(E.f, 4000) >= 1);
    finish();
}

static void test_invalid_session_false(void **state)
{
    (void)state;
    opts o = {.hb_ms = 5000};
    start(&o);
    wait_ready();
    uint64_t t0 = rt_now_ms();
    fake_gateway_send_invalid_session(E.f, 0, false);
    WAIT_FAKE(identifies, 2, 5000);
    fake_gateway_record *r;
    size_t n = fake_gateway_records(E.f, &r);
    uint64_t second = 0;
    unsigned seen = 0;
    for (size_t i = 0; i < n; i++)
        if (r[i].op == 2 && ++seen == 2) second = r[i].at_ms;
    fake_gateway_records_free(r, n);
    /* a fresh IDENTIFY (not RESUME), after the random 1-1.5 s wait */
    assert_true(second >= t0 + 1000);
    assert_true(second < t0 + 1500 + 1000);
    fake_gateway_stats st;
    fake_gateway_get_stats(E.f, &st);
    assert_int_equal(st.resumes, 0);
    WAIT_GW(gs.ready >= 2 && gs.shards_active == 1, 3000);
    interaction(1);
    WAIT_SINK("INTERACTION_CREATE", 1, 2000);
    finish();
}

static void test_invalid_session_true(void **state)
{
    (void)state;
    opts o = {.hb_ms = 5000};
    start(&o);
    wait_ready();
    fake_gateway_send_invalid_session(E.f, 0, true);
    WAIT_FAKE(resumed_sent, 1, 4000);
    fake_gateway_stats st;
    fake_gateway_get_stats(E.f, &st);
    assert_int_equal(st.identifies, 1);
    finish();
}

static void test_close_code_classes(void **state)
{
    (void)state;
    opts o = {.hb_ms = 5000};
    start(&o);
    wait_ready();
    /* resume class: 4000, server 1000, 1001, and a TCP drop without a close frame */
    static const int resume_codes[] = {4000, 1000, 1001, 4008};
    unsigned resumed = 0;
    for (size_t i = 0; i < 4; i++) {
        fake_gateway_close(E.f, 0, resume_codes[i]);
        WAIT_FAKE(resumed_sent, ++resumed, 4000);
    }
    fake_gateway_drop(E.f, 0);
    WAIT_FAKE(resumed_sent, ++resumed, 4000);
    fake_gateway_stats st;
    fake_gateway_get_stats(E.f, &st);
    assert_int_equal(st.identifies, 1);
    /* new-session class */
    fake_gateway_close(E.f, 0, 4009);
    WAIT_FAKE(identifies, 2, 4000);
    fake_gateway_close(E.f, 0, 4007);
    WAIT_FAKE(identifies, 3, 4000);
    WAIT_GW(gs.ready >= 3 && gs.shards_active == 1, 3000);
    fake_gateway_get_stats(E.f, &st);
    assert_int_equal(st.identify_spacing_violations, 0);
    assert_int_equal(rt_system_exit_code(E.sys), 0);
    interaction(7);
    WAIT_SINK("INTERACTION_CREATE", 1, 2000);
    finish();
}

static void test_fatal_4004(void **state)
{
    (void)state;
    opts o = {.hb_ms = 5000};
    start(&o);
    wait_ready();
    fake_gateway_close(E.f, 0, 4004);
    gateway_counters G;
    assert_int_equal(wait_exit_code(3000, &G), 4);
    assert_int_equal(G.fatal_code, 4004);
    util_sleep_ms(300);
    fake_gateway_stats st;
    fake_gateway_get_stats(E.f, &st);
    assert_int_equal(st.connections, 1); /* it never reconnects */
    finish();
}

static void test_fatal_401(void **state)
{
    (void)state;
    opts o = {.hb_ms = 5000, .token = "wrong-token"};
    start(&o);
    gateway_counters G;
    assert_int_equal(wait_exit_code(3000, &G), 4);
    assert_int_equal(G.fatal_code, 401);
    fake_gateway_stats st;
    fake_gateway_get_stats(E.f, &st);
    assert_int_equal(st.http_unauthorized, 1);
    assert_int_equal(st.connections, 0);
    finish();
}

static void test_zlib_stream(void **state)
{
    (void)state;
    opts o = {.hb_ms = 400, .compress = true, .zsplit = 3};
    start(&o);
    wait_ready();
    for (int i = 1; i <= 20; i++)
        interaction(i);
    WAIT_SINK("INTERACTION_CREATE", 20, 3000);
    expect_each_once(1, 20);
    assert_true(fake_gateway_wait_op(E.f, 1, 2, 3000)); /* heartbeats ACKed through the stream */
    fake_gateway_record *r;
    size_t n = fake_gateway_records(E.f, &r);
    bool hello_seen = false;
    for (size_t i = 0; i < n; i++)
        hello_seen |= r[i].op == FAKE_GATEWAY_REC_HELLO;
    fake_gateway_records_free(r, n);
    assert_true(hello_seen);
    gateway_counters G;
    gateway_counters_get(E.gw, &G);
    assert_int_equal(G.dropped_malformed, 0);
    /* A reconnect starts a fresh stream (one z_stream per connection). */
    fake_gateway_send_reconnect(E.f, 0);
    WAIT_FAKE(resumed_sent, 1, 4000);
    interaction(21);
    WAIT_SINK("INTERACTION_CREATE", 21, 3000);
    /* Garbage in the stream: the connection is replaced and resumed. */
    fake_gateway_send_raw(E.f, 0, "\x12\x34\x56\x00\x00\xff\xff", 7, true);
    WAIT_FAKE(resumed_sent, 2, 4000);
    interaction(22);
    WAIT_SINK("INTERACTION_CREATE", 22, 3000);
    finish();
}

static void test_malformed_and_oversized(void **state)
{
    (void)state;
    opts o = {.hb_ms = 5000, .max_frame = 64 * 1024};
    start(&o);
    wait_ready();
    fake_gateway_send_raw(E.f, 0, "{\"op\":", 6, false);
    fake_gateway_send_raw(E.f, 0, "not json at all", 15, false);
    fake_gateway_send_raw(E.f, 0, "[1,2,3]", 7, false);
    size_t big_len = 200 * 1024;
    char *big = malloc(big_len + 64);
    int k = snprintf(big, 64, "{\"t\":\"X\",\"s\":null,\"op\":0,\"d\":\"");
    memset(big + k, 'a', big_len);
    strcpy(big + k + big_len, "\"}");
    fake_gateway_send_frame(E.f, 0, big);
    free(big);
    WAIT_GW(gs.dropped_malformed >= 3 && gs.dropped_oversized >= 1, 3000);
    interaction(1);
    WAIT_SINK("INTERACTION_CREATE", 1, 2000);
    fake_gateway_stats st;
    fake_gateway_get_stats(E.f, &st);
    assert_int_equal(st.connections, 1); /* survived on the same connection */
    finish();
}

static void test_sharding(void **state)
{
    (void)state;
    opts o = {.hb_ms = 5000, .shards = 2};
    start(&o);
    WAIT_GW(gs.shards == 2 && gs.shards_active == 2, 5000);
    fake_gateway_stats st;
    fake_gateway_get_stats(E.f, &st);
    assert_int_equal(st.identifies, 2);
    assert_int_equal(st.identify_spacing_violations, 0);
    assert_true(st.min_identify_gap_ms >= 250); /* max_concurrency 1: one bucket */
    /* each shard gets its own guild's roles */
    WAIT_GW(gs.role_events >= 2, 2000);
    assert_int_equal(gw_roles_role_count(gateway_roles(E.gw), 8388608), 1);
    assert_true(fake_gateway_dispatch(E.f, 1, "INTERACTION_CREATE", "{\"id\":\"77\"}") == 1);
    WAIT_SINK("INTERACTION_CREATE 1 ", 1, 2000);
    assert_true(fake_gateway_dispatch(E.f, 0, "INTERACTION_CREATE", "{\"id\":\"78\"}") == 1);
    WAIT_SINK("INTERACTION_CREATE 0 ", 1, 2000);
    finish();
}

static void test_slow_router_loses_nothing(void **state)
{
    (void)state;
    opts o = {.hb_ms = 5000, .sink_lanes = 2, .slow_first_ms = 400};
    start(&o);
    wait_ready();
    for (int i = 1; i <= 30; i++)
        interaction(i);
    WAIT_SINK("INTERACTION_CREATE", 30, 5000);
    expect_each_once(1, 30);
    /* delivered in gateway order */
    pthread_mutex_lock(&E.sk.mu);
    int prev = 0;
    for (unsigned i = 0; i < E.sk.n; i++) {
        const char *p = strstr(E.sk.events[i], "\"id\":\"");
        if (!p || strncmp(E.sk.events[i], "INTERACTION_CREATE", 18) != 0) continue;
        int id = atoi(p + 6);
        assert_true(id > prev);
        prev = id;
    }
    pthread_mutex_unlock(&E.sk.mu);
    gateway_counters G;
    gateway_counters_get(E.gw, &G);
    assert_true(G.forward_retries >= 1);
    assert_int_equal(G.forward_pending, 0);
    assert_int_equal(G.forward_lost, 0);
    /* heartbeats kept flowing while the router was stuck */
    finish();
}

static void test_stop_closes_1000(void **state)
{
    (void)state;
    opts o = {.hb_ms = 5000};
    start(&o);
    wait_ready();
    rt_system_stop(E.sys);
    uint64_t w[2] = {offsetof(fake_gateway_stats, client_closes), 1};
    assert_true(fake_gateway_wait(E.f, stat_at_least, w, 2000));
    assert_int_equal(fake_gateway_client_close_count(E.f, 1000), 1);
    finish();
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    log_configure(getenv("FLUXBOT_TEST_LOG") ? LOG_LEVEL_DEBUG : LOG_LEVEL_ERROR, false, 2);
    curl_global_init(CURL_GLOBAL_DEFAULT);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_connect_identify_ready),
        cmocka_unit_test(test_jittered_heartbeats),
        cmocka_unit_test(test_server_heartbeat_request),
        cmocka_unit_test(test_heartbeat_request_burst),
        cmocka_unit_test(test_stalled_upgrade_retries),
        cmocka_unit_test(test_stalled_upgrade_session_deadline),
        cmocka_unit_test(test_zombie_resume),
        cmocka_unit_test(test_op7_resume_replay),
        cmocka_unit_test(test_invalid_session_false),
        cmocka_unit_test(test_invalid_session_true),
        cmocka_unit_test(test_close_code_classes),
        cmocka_unit_test(test_fatal_4004),
        cmocka_unit_test(test_fatal_401),
        cmocka_unit_test(test_zlib_stream),
        cmocka_unit_test(test_malformed_and_oversized),
        cmocka_unit_test(test_sharding),
        cmocka_unit_test(test_slow_router_loses_nothing),
        cmocka_unit_test(test_stop_closes_1000),
    };
    const char *only = getenv("FLUXBOT_TEST_FILTER"); /* e.g. "*stalled*" while iterating */
    if (only && only[0]) cmocka_set_test_filter(only);
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    curl_global_cleanup();
    return rc;
}
