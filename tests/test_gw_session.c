/* Unit tests of the gateway session state machine (gw_session), driven with a fake clock and
 * a scripted random source: heartbeat jitter and zombies, identify and resume, op 1/7/9,
 * every close-code class, resume give-up, backoff, duplicates and shutdown. */
/* fluxbot-test: tsan */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "discord/gw_session.h"

typedef struct fake_rng {
    double value; /* returned by every call */
    unsigned calls;
} fake_rng;

static double fake_rand(void *ctx)
{
    fake_rng *r = ctx;
    r->calls++;
    return r->value;
}

typedef struct harness {
    gw_session s;
    fake_rng rng;
    uint64_t now;
    gw_action acts[16];
    unsigned nacts;
} harness;

static harness H;

static void drain(void)
{
    H.nacts = 0;
    gw_action a;
    while (gw_session_next_action(&H.s, &a)) {
        assert_true(H.nacts < 16);
        H.acts[H.nacts++] = a;
    }
}

static const gw_action *find(gw_action_kind kind)
{
    for (unsigned i = 0; i < H.nacts; i++)
        if (H.acts[i].kind == kind) return &H.acts[i];
    return NULL;
}

static void setup_cfg(gw_session_cfg *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->token = "secret-token";
    cfg->gateway_url = "wss://gateway.example";
    cfg->compress = true;
    cfg->shard_id = 0;
    cfg->shard_count = 1;
    cfg->intents = 1;
    cfg->rand01 = fake_rand;
    cfg->rand_ctx = &H.rng;
}

static int setup(void **state)
{
    (void)state;
    memset(&H, 0, sizeof H);
    H.rng.value = 0.25;
    H.now = 1000000;
    gw_session_cfg cfg;
    setup_cfg(&cfg);
    assert_int_equal(gw_session_init(&H.s, &cfg, H.now), 0);
    return 0;
}

static void advance(uint64_t ms)
{
    H.now += ms;
    gw_session_poll(&H.s, H.now);
    drain();
}

static void frame(const char *json)
{
    gw_envelope env;
    assert_int_equal(gw_envelope_parse(json, strlen(json), 0, &env), GW_ENV_OK);
    gw_session_on_frame(&H.s, H.now, &env);
    drain();
}

static gw_frame_result frame_result(const char *json)
{
    gw_envelope env;
    assert_int_equal(gw_envelope_parse(json, strlen(json), 0, &env), GW_ENV_OK);
    gw_frame_result r = gw_session_on_frame(&H.s, H.now, &env);
    drain();
    return r;
}

static const char *READY =
    "{\"t\":\"READY\",\"s\":1,\"op\":0,\"d\":{\"v\":10,\"session_id\":\"sess-A\","
    "\"resume_gateway_url\":\"wss://"
    "resume.example\",\"user\":{\"id\":\"222\",\"username\":\"bot\"},"
    "\"application\":{\"id\":\"333\",\"flags\":0},\"guilds\":[]}}";

/* Drives a fresh session to ACTIVE: connect, open, HELLO(interval), identify, READY. */
static void bring_up(uint64_t interval)
{
    advance(0);
    const gw_action *c = find(GW_ACT_CONNECT);
    assert_non_null(c);
    assert_string_equal(c->url, "wss://gateway.example/?v=10&encoding=json&compress=zlib-stream");
    assert_int_equal(H.s.state, GW_ST_CONNECTING);
    gw_session_on_open(&H.s, H.now);
    drain();
    assert_int_equal(H.nacts, 0); /* nothing is ever sent before HELLO */
    char hello[96];
    snprintf(hello, sizeof hello, "{\"op\":10,\"d\":{\"heartbeat_interval\":%llu}}",
             (unsigned long long)interval);
    frame(hello);
    assert_int_equal(H.s.state, GW_ST_IDENTIFYING);
    assert_true(gw_session_wants_identify(&H.s));
    gw_session_identify(&H.s, H.now);
    drain();
    const gw_action *id = find(GW_ACT_SEND);
    assert_non_null(id);
    assert_int_equal(id->op, GW_OP_IDENTIFY);
    assert_non_null(strstr(id->payload, "\"token\":\"secret-token\""));
    assert_non_null(strstr(id->payload, "\"shard\":[0,1]"));
    frame(READY);
    assert_int_equal(H.s.state, GW_ST_ACTIVE);
}

static void test_connect_identify_ready(void **state)
{
    (void)state;
    bring_up(1000);
    assert_string_equal(H.s.session_id, "sess-A");
    /* The resume URL keeps the query string (twilight #1901). */
    assert_string_equal(H.s.resume_url,
                        "wss://resume.example/?v=10&encoding=json&compress=zlib-stream");
    assert_true(H.s.application_id == 333);
    assert_true(H.s.user_id == 222);
    assert_true(H.s.has_seq);
    assert_int_equal(H.s.seq, 1);
    assert_int_equal(H.s.n_identifies, 1);
}

static void test_jittered_first_heartbeat(void **state)
{
    (void)state;
    H.rng.value = 0.25;
    advance(0);
    gw_session_on_open(&H.s, H.now);
    frame("{\"op\":10,\"d\":{\"heartbeat_interval\":1000}}");
    const uint64_t hello_at = H.now;
    assert_true(gw_session_next_deadline(&H.s) == hello_at + 250);
    advance(249);
    assert_null(find(GW_ACT_SEND));
    advance(1);
    const gw_action *hb = find(GW_ACT_SEND);
    assert_non_null(hb);
    assert_int_equal(hb->op, GW_OP_HEARTBEAT);
    assert_true(hb->priority);
    assert_string_equal(hb->payload, "{\"op\":1,\"d\":null}"); /* no dispatch yet */
    frame("{\"op\":11}");
    assert_true(H.s.latency_ms == 0);
    /* Then every interval. */
    advance(999);
    assert_null(find(GW_ACT_SEND));
    advance(1);
    assert_non_null(find(GW_ACT_SEND));

    /* With rand = 0 the first beat is immediate; with rand just below 1 it is within the
     * interval. */
    setup(NULL);
    H.rng.value = 0.0;
    advance(0);
    gw_session_on_open(&H.s, H.now);
    frame("{\"op\":10,\"d\":{\"heartbeat_interval\":1000}}");
    assert_true(gw_session_next_deadline(&H.s) == H.now);
    setup(NULL);
    H.rng.value = 0.9999;
    advance(0);
    gw_session_on_open(&H.s, H.now);
    frame("{\"op\":10,\"d\":{\"heartbeat_interval\":1000}}");
    assert_true(gw_session_next_deadline(&H.s) < H.now + 1000);
}

static void test_heartbeat_carries_seq(void **state)
{
    (void)state;
    H.rng.value = 0.5;
    bring_up(1000);
    frame("{\"t\":\"INTERACTION_CREATE\",\"s\":7,\"op\":0,\"d\":{}}");
    advance(500);
    const gw_action *hb = find(GW_ACT_SEND);
    assert_non_null(hb);
    assert_string_equal(hb->payload, "{\"op\":1,\"d\":7}");
}

static void test_server_heartbeat_request(void **state)
{
    (void)state;
    bring_up(1000);
    frame("{\"op\":1,\"d\":null}");
    const gw_action *hb = find(GW_ACT_SEND);
    assert_non_null(hb);
    assert_int_equal(hb->op, GW_OP_HEARTBEAT);
    assert_string_equal(hb->payload, "{\"op\":1,\"d\":1}");
}

static unsigned count_heartbeats(void)
{
    unsigned n = 0;
    for (unsigned i = 0; i < H.nacts; i++)
        if (H.acts[i].kind == GW_ACT_SEND && H.acts[i].op == GW_OP_HEARTBEAT) n++;
    return n;
}

/* A burst of op 1 gets one answer; the requests folded into it get one more after the ACK. */
static void test_heartbeat_requests_coalesced(void **state)
{
    (void)state;
    bring_up(41250);
    unsigned sent = 0;
    frame("{\"op\":1,\"d\":null}");
    sent += count_heartbeats();
    for (int i = 0; i < 299; i++) {
        frame("{\"op\":1,\"d\":null}");
        sent += count_heartbeats();
    }
    assert_int_equal(sent, 1);
    assert_int_equal(H.s.n_heartbeat_requests, 300);
    assert_int_equal(H.s.n_heartbeat_coalesced, 299);
    frame("{\"op\":11}");
    assert_int_equal(count_heartbeats(), 1); /* the folded requests, answered once */
    frame("{\"op\":11}");
    assert_int_equal(count_heartbeats(), 0); /* nothing more owed */
    assert_int_equal(H.s.state, GW_ST_ACTIVE);
}

/* A server alternating op 1 and ACK as fast as it can still cannot make the session exceed
 * 120 sends in any 60 s: answers take limiter permits, and wait for one when none is free. */
static void test_heartbeat_requests_rate_bounded(void **state)
{
    (void)state;
    bring_up(41250);
    uint64_t t0 = H.now;
    unsigned sent = 1; /* the IDENTIFY */
    for (int i = 0; i < 1000; i++) {
        frame("{\"op\":1,\"d\":null}");
        sent += count_heartbeats();
        frame("{\"op\":11}");
        sent += count_heartbeats();
        advance(10); /* 10 s of requests in all */
        sent += count_heartbeats();
    }
    assert_true(H.now - t0 < 60000);
    assert_true(sent <= 120);
    assert_true(sent >= 100); /* answered while permits last */
    assert_true(H.s.hb_reply_pending);
    /* once the window slides, the owed answer goes out */
    uint64_t due = gw_session_next_deadline(&H.s);
    assert_true(due <= t0 + 60000 + 10);
    H.now = due;
    gw_session_poll(&H.s, H.now);
    drain();
    assert_true(count_heartbeats() >= 1);
}

static void resume_cycle(const char *expect_url)
{
    const gw_action *c = find(GW_ACT_CONNECT);
    assert_non_null(c);
    assert_string_equal(c->url, expect_url);
    gw_session_on_open(&H.s, H.now);
    drain();
    assert_int_equal(H.nacts, 0);
    frame("{\"op\":10,\"d\":{\"heartbeat_interval\":1000}}");
    const gw_action *r = find(GW_ACT_SEND);
    assert_non_null(r);
    assert_int_equal(r->op, GW_OP_RESUME);
    assert_int_equal(H.s.state, GW_ST_RESUMING);
}

static void test_zombie_then_resume(void **state)
{
    (void)state;
    H.rng.value = 0.5;
    bring_up(1000);
    advance(500); /* first beat */
    assert_non_null(find(GW_ACT_SEND));
    advance(1000); /* no ACK came: zombie */
    const gw_action *cl = find(GW_ACT_CLOSE);
    assert_non_null(cl);
    assert_int_equal(cl->code, 4000); /* never 1000/1001: that would end the session */
    assert_int_equal(H.s.n_zombies, 1);
    assert_int_equal(H.s.state, GW_ST_DISCONNECTED);
    /* It was an active connection: the reconnect is immediate. */
    advance(0);
    resume_cycle("wss://resume.example/?v=10&encoding=json&compress=zlib-stream");
    const gw_action *r = find(GW_ACT_SEND);
    assert_non_null(strstr(r->payload, "\"session_id\":\"sess-A\""));
    assert_non_null(strstr(r->payload, "\"seq\":1"));
    /* Replayed events then RESUMED. */
    assert_int_equal(frame_result("{\"t\":\"INTERACTION_CREATE\",\"s\":2,\"op\":0,\"d\":{}}"),
                     GW_FRAME_DISPATCH);
    frame("{\"t\":\"RESUMED\",\"s\":3,\"op\":0,\"d\":{}}");
    assert_int_equal(H.s.state, GW_ST_ACTIVE);
    assert_int_equal(H.s.n_resumed, 1);
    assert_int_equal(H.s.n_identifies, 1);
}

static void test_op7_reconnect(void **state)
{
    (void)state;
    bring_up(1000);
    frame("{\"op\":7,\"d\":null}");
    const gw_action *cl = find(GW_ACT_CLOSE);
    assert_non_null(cl);
    assert_int_equal(cl->code, 4000);
    advance(0);
    resume_cycle("wss://resume.example/?v=10&encoding=json&compress=zlib-stream");
}

static void test_op9_resumable(void **state)
{
    (void)state;
    bring_up(1000);
    frame("{\"op\":9,\"d\":true}");
    const gw_action *cl = find(GW_ACT_CLOSE);
    assert_non_null(cl);
    assert_int_equal(cl->code, 4000);
    assert_string_equal(H.s.session_id, "sess-A");
    advance(0);
    resume_cycle("wss://resume.example/?v=10&encoding=json&compress=zlib-stream");
}

static void test_op9_not_resumable(void **state)
{
    (void)state;
    H.rng.value = 0.5;
    bring_up(1000);
    frame("{\"op\":9,\"d\":false}");
    assert_non_null(find(GW_ACT_CLOSE));
    assert_string_equal(H.s.session_id, ""); /* dropped, with its resume URL */
    assert_string_equal(H.s.resume_url, "");
    assert_false(H.s.has_seq);
    /* Waits 1 + 0.5 * 4 = 3 s before the fresh identify. */
    advance(2999);
    assert_null(find(GW_ACT_CONNECT));
    advance(1);
    const gw_action *c = find(GW_ACT_CONNECT);
    assert_non_null(c);
    assert_string_equal(c->url, "wss://gateway.example/?v=10&encoding=json&compress=zlib-stream");
    gw_session_on_open(&H.s, H.now);
    frame("{\"op\":10,\"d\":{\"heartbeat_interval\":1000}}");
    assert_true(gw_session_wants_identify(&H.s));
}

static void test_close_code_classes(void **state)
{
    (void)state;
    static const int resume_codes[] = {4000, 4001, 4002, 4003, 4005, 4008, 1000, 1001, 1006, 4999};
    for (size_t i = 0; i < sizeof resume_codes / sizeof resume_codes[0]; i++) {
        setup(NULL);
        bring_up(1000);
        gw_session_on_close(&H.s, H.now, resume_codes[i]);
        drain();
        assert_null(find(GW_ACT_CLOSE)); /* the server closed: nothing to close */
        assert_int_equal(H.s.state, GW_ST_DISCONNECTED);
        assert_string_equal(H.s.session_id, "sess-A");
        advance(0);
        resume_cycle("wss://resume.example/?v=10&encoding=json&compress=zlib-stream");
    }
    static const int new_session_codes[] = {4007, 4009};
    for (size_t i = 0; i < 2; i++) {
        setup(NULL);
        bring_up(1000);
        gw_session_on_close(&H.s, H.now, new_session_codes[i]);
        drain();
        assert_string_equal(H.s.session_id, "");
        advance(0);
        const gw_action *c = find(GW_ACT_CONNECT);
        assert_non_null(c);
        assert_string_equal(c->url,
                            "wss://gateway.example/?v=10&encoding=json&compress=zlib-stream");
        gw_session_on_open(&H.s, H.now);
        frame("{\"op\":10,\"d\":{\"heartbeat_interval\":1000}}");
        assert_true(gw_session_wants_identify(&H.s));
    }
    static const int fatal_codes[] = {4004, 4010, 4011, 4012, 4013, 4014};
    for (size_t i = 0; i < 6; i++) {
        setup(NULL);
        bring_up(1000);
        gw_session_on_close(&H.s, H.now, fatal_codes[i]);
        drain();
        const gw_action *f = find(GW_ACT_FATAL);
        assert_non_null(f);
        assert_int_equal(f->code, fatal_codes[i]);
        assert_true(strlen(f->text) > 20);
        assert_int_equal(H.s.state, GW_ST_FATAL);
        advance(100000);
        assert_int_equal(H.nacts, 0); /* never reconnects */
        assert_true(gw_session_next_deadline(&H.s) == UINT64_MAX);
    }
    assert_non_null(strstr(gw_close_describe(4004), "DISCORD_TOKEN"));
    assert_non_null(strstr(gw_close_describe(4014), "Developer Portal"));
}

static void test_fatal_during_identify(void **state)
{
    (void)state;
    advance(0);
    gw_session_on_open(&H.s, H.now);
    frame("{\"op\":10,\"d\":{\"heartbeat_interval\":1000}}");
    gw_session_identify(&H.s, H.now);
    drain();
    gw_session_on_close(&H.s, H.now, 4004);
    drain();
    assert_non_null(find(GW_ACT_FATAL));
    assert_int_equal(H.s.state, GW_ST_FATAL);
}

static void test_give_up_resuming(void **state)
{
    (void)state;
    H.rng.value = 0.0; /* backoff jitter: the lower bound (d/2) */
    bring_up(1000);
    gw_session_on_close(&H.s, H.now, 1006);
    drain();
    for (int i = 0; i < 3; i++) {
        assert_string_equal(H.s.session_id, "sess-A");
        advance(gw_session_next_deadline(&H.s) - H.now);
        assert_non_null(find(GW_ACT_CONNECT));
        gw_session_on_open(&H.s, H.now);
        frame("{\"op\":10,\"d\":{\"heartbeat_interval\":1000}}");
        assert_int_equal(H.s.state, GW_ST_RESUMING);
        gw_session_on_close(&H.s, H.now, 4000); /* the resume fails */
        drain();
    }
    /* Three consecutive failed resumes: the session is dropped, the next one identifies. */
    assert_string_equal(H.s.session_id, "");
    advance(gw_session_next_deadline(&H.s) - H.now);
    const gw_action *c = find(GW_ACT_CONNECT);
    assert_non_null(c);
    assert_string_equal(c->url, "wss://gateway.example/?v=10&encoding=json&compress=zlib-stream");
}

static void test_resume_url_connect_failure(void **state)
{
    (void)state;
    bring_up(1000);
    gw_session_on_close(&H.s, H.now, 1001);
    advance(0);
    assert_non_null(find(GW_ACT_CONNECT));
    gw_session_on_connect_error(&H.s, H.now);
    drain();
    /* twilight #1942: the unreachable resume URL is forgotten, the session is kept. */
    assert_string_equal(H.s.resume_url, "");
    assert_string_equal(H.s.session_id, "sess-A");
    advance(gw_session_next_deadline(&H.s) - H.now);
    resume_cycle("wss://gateway.example/?v=10&encoding=json&compress=zlib-stream");
}

static void test_backoff(void **state)
{
    (void)state;
    assert_true(gw_backoff_ms(0, 1000, 60000) == 0);
    assert_true(gw_backoff_ms(1, 1000, 60000) == 1000);
    assert_true(gw_backoff_ms(2, 1000, 60000) == 2000);
    assert_true(gw_backoff_ms(4, 1000, 60000) == 8000);
    assert_true(gw_backoff_ms(7, 1000, 60000) == 60000);
    assert_true(gw_backoff_ms(200, 1000, 60000) == 60000);

    /* Repeated connect failures back off with jitter in [d/2, d], capped. */
    H.rng.value = 0.0;
    uint64_t prev = 0;
    for (int i = 1; i <= 10; i++) {
        advance(gw_session_next_deadline(&H.s) - H.now);
        assert_non_null(find(GW_ACT_CONNECT));
        gw_session_on_connect_error(&H.s, H.now);
        drain();
        uint64_t delay = gw_session_next_deadline(&H.s) - H.now;
        uint64_t full = gw_backoff_ms((uint32_t)i, 1000, 60000);
        assert_true(delay == full / 2);
        assert_true(delay >= prev || delay == 30000);
        prev = delay;
    }
    H.rng.value = 0.999;
    advance(gw_session_next_deadline(&H.s) - H.now);
    gw_session_on_connect_error(&H.s, H.now);
    drain();
    uint64_t delay = gw_session_next_deadline(&H.s) - H.now;
    assert_true(delay <= 60000 && delay > 59000);
}

static void test_timeouts(void **state)
{
    (void)state;
    advance(0);
    assert_non_null(find(GW_ACT_CONNECT));
    advance(10000); /* connect timeout */
    const gw_action *cl = find(GW_ACT_CLOSE);
    assert_non_null(cl);
    assert_int_equal(cl->code, 0);
    assert_int_equal(H.s.state, GW_ST_DISCONNECTED);
    advance(gw_session_next_deadline(&H.s) - H.now);
    gw_session_on_open(&H.s, H.now);
    drain();
    advance(15000); /* no HELLO */
    cl = find(GW_ACT_CLOSE);
    assert_non_null(cl);
    assert_int_equal(cl->code, 4000);
}

static void test_bad_hello_and_early_frames(void **state)
{
    (void)state;
    advance(0);
    gw_session_on_open(&H.s, H.now);
    drain();
    /* A dispatch or an ACK before HELLO sends nothing. */
    assert_int_equal(frame_result("{\"t\":\"X\",\"s\":5,\"op\":0,\"d\":{}}"), GW_FRAME_IGNORED);
    assert_int_equal(H.nacts, 0);
    assert_false(H.s.has_seq);
    frame("{\"op\":10,\"d\":{\"heartbeat_interval\":\"soon\"}}");
    const gw_action *cl = find(GW_ACT_CLOSE);
    assert_non_null(cl);
    assert_int_equal(cl->code, 4000);
    assert_int_equal(H.s.state, GW_ST_DISCONNECTED);
}

static void test_duplicates_dropped(void **state)
{
    (void)state;
    bring_up(1000);
    assert_int_equal(frame_result("{\"t\":\"INTERACTION_CREATE\",\"s\":2,\"op\":0,\"d\":{}}"),
                     GW_FRAME_DISPATCH);
    assert_int_equal(frame_result("{\"t\":\"INTERACTION_CREATE\",\"s\":2,\"op\":0,\"d\":{}}"),
                     GW_FRAME_DUPLICATE);
    assert_int_equal(frame_result("{\"t\":\"INTERACTION_CREATE\",\"s\":1,\"op\":0,\"d\":{}}"),
                     GW_FRAME_DUPLICATE);
    assert_int_equal(frame_result("{\"t\":\"INTERACTION_CREATE\",\"s\":3,\"op\":0,\"d\":{}}"),
                     GW_FRAME_DISPATCH);
    assert_int_equal(H.s.n_duplicates, 2);
    assert_int_equal(frame_result("{\"op\":42}"), GW_FRAME_IGNORED);
}

static void test_stop(void **state)
{
    (void)state;
    bring_up(1000);
    gw_session_stop(&H.s, H.now);
    drain();
    const gw_action *cl = find(GW_ACT_CLOSE);
    assert_non_null(cl);
    assert_int_equal(cl->code, 1000); /* only on a real shutdown */
    assert_int_equal(H.s.state, GW_ST_STOPPED);
    advance(100000);
    assert_int_equal(H.nacts, 0);
    /* A late close report changes nothing. */
    gw_session_on_close(&H.s, H.now, 1006);
    drain();
    assert_int_equal(H.nacts, 0);
}

static void test_init_rejects_bad_config(void **state)
{
    (void)state;
    gw_session s;
    gw_session_cfg cfg;
    setup_cfg(&cfg);
    cfg.token = "";
    assert_int_equal(gw_session_init(&s, &cfg, 0), -1);
    setup_cfg(&cfg);
    cfg.shard_id = 2;
    cfg.shard_count = 2;
    assert_int_equal(gw_session_init(&s, &cfg, 0), -1);
    setup_cfg(&cfg);
    cfg.gateway_url = "https://discord.com";
    assert_int_equal(gw_session_init(&s, &cfg, 0), -1);
}

#define T(f) cmocka_unit_test_setup(f, setup)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_connect_identify_ready),
        T(test_jittered_first_heartbeat),
        T(test_heartbeat_carries_seq),
        T(test_server_heartbeat_request),
        T(test_heartbeat_requests_coalesced),
        T(test_heartbeat_requests_rate_bounded),
        T(test_zombie_then_resume),
        T(test_op7_reconnect),
        T(test_op9_resumable),
        T(test_op9_not_resumable),
        T(test_close_code_classes),
        T(test_fatal_during_identify),
        T(test_give_up_resuming),
        T(test_resume_url_connect_failure),
        T(test_backoff),
        T(test_timeouts),
        T(test_bad_hello_and_early_frames),
        T(test_duplicates_dropped),
        T(test_stop),
        T(test_init_rejects_bad_config),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
