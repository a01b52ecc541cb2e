/* Tests of the fake Discord gateway itself, driven by a minimal scripted websocket client on
 * loopback (lws client + libcurl for /gateway/bot): what it answers to each client move, the
 * close codes it enforces, replay on resume, zlib-stream output, and its fault scripts. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <curl/curl.h>
#include <libwebsockets.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "discord/gw_envelope.h"
#include "discord/gw_payload.h"
#include "discord/gw_zlib.h"
#include "fakes/fake_gateway.h"
#include "fluxbot/runtime.h"

#define TOKEN "test-token-abc"

/* ---- a tiny single-threaded client ------------------------------------------------------- */

typedef struct tclient {
    struct lws_context *ctx;
    struct lws *wsi;
    lws_sorted_usec_list_t tick;
    bool established, closed, conn_error, peer_closed;
    int peer_code;
    bool compress;
    gw_inflater z;
    char *rx;
    size_t rx_len, rx_cap;
    char *frames[512];
    size_t nframes;
    char *outq[64];
    size_t nout;
    int close_with; /* > 0: close with this code at the next writable */
} tclient;

static void tick_cb(lws_sorted_usec_list_t *sul)
{
    tclient *t = lws_container_of(sul, tclient, tick);
    lws_sul_schedule(t->ctx, 0, &t->tick, tick_cb, 10 * LWS_US_PER_MS);
}

static void push_frame(tclient *t, const char *p, size_t n)
{
    if (t->nframes < 512) {
        char *c = malloc(n + 1);
        memcpy(c, p, n);
        c[n] = '\0';
        t->frames[t->nframes++] = c;
    }
}

static int client_cb(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                     size_t len)
{
    tclient *t = lws_get_opaque_user_data(wsi);
    (void)user;
    switch (reason) {
    case LWS_CALLBACK_CLIENT_ESTABLISHED:
        t->established = true;
        if (t->nout) lws_callback_on_writable(wsi);
        break;
    case LWS_CALLBACK_CLIENT_CONNECTION_ERROR:
        t->conn_error = true;
        t->wsi = NULL;
        break;
    case LWS_CALLBACK_CLIENT_RECEIVE:
        if (t->rx_len + len + 1 > t->rx_cap) {
            t->rx_cap = (t->rx_len + len + 1) * 2;
            t->rx = realloc(t->rx, t->rx_cap);
        }
        memcpy(t->rx + t->rx_len, in, len);
        t->rx_len += len;
        if (lws_is_final_fragment(wsi) && lws_remaining_packet_payload(wsi) == 0) {
            if (t->compress) {
                const char *msg;
                size_t mlen;
                int rc = gw_inflater_feed(&t->z, t->rx, t->rx_len, true, &msg, &mlen);
                if (rc == GW_INFLATE_MESSAGE) push_frame(t, msg, mlen);
                if (rc == GW_INFLATE_ERROR) push_frame(t, "INFLATE_ERROR", 13);
            } else {
                push_frame(t, t->rx, t->rx_len);
            }
            t->rx_len = 0;
        }
        break;
    case LWS_CALLBACK_CLIENT_WRITEABLE:
        if (t->close_with > 0) {
            lws_close_reason(wsi, (enum lws_close_status)t->close_with, NULL, 0);
            return -1;
        }
        if (t->nout) {
            char *m = t->outq[0];
            memmove(t->outq, t->outq + 1, (t->nout - 1) * sizeof *t->outq);
            t->nout--;
            size_t n = strlen(m);
            unsigned char *buf = malloc(LWS_PRE + n);
            memcpy(buf + LWS_PRE, m, n);
            lws_write(wsi, buf + LWS_PRE, n, LWS_WRITE_TEXT);
            free(buf);
            free(m);
            if (t->nout) lws_callback_on_writable(wsi);
        }
        break;
    case LWS_CALLBACK_WS_PEER_INITIATED_CLOSE:
        t->peer_closed = true;
        t->peer_code = len >= 2 ? (((unsigned char *)in)[0] << 8) | ((unsigned char *)in)[1] : 0;
        break;
    case LWS_CALLBACK_CLIENT_CLOSED:
        t->closed = true;
        t->wsi = NULL;
        break;
    default:
        break;
    }
    return 0;
}

static const struct lws_protocols client_protocols[] = {
    {"test-client", client_cb, 0, 0, 0, NULL, 0},
    {NULL, NULL, 0, 0, 0, NULL, 0},
};

static tclient *tc_open(fake_gateway *f, const char *query, bool compress)
{
    tclient *t = calloc(1, sizeof *t);
    struct lws_context_creation_info info;
    memset(&info, 0, sizeof info);
    info.port = CONTEXT_PORT_NO_LISTEN;
    info.protocols = client_protocols;
    info.gid = -1;
    info.uid = -1;
    t->ctx = lws_create_context(&info);
    assert_non_null(t->ctx);
    t->compress = compress;
    if (compress) assert_int_equal(gw_inflater_init(&t->z, 1 << 20), 0);
    lws_sul_schedule(t->ctx, 0, &t->tick, tick_cb, 10 * LWS_US_PER_MS);
    struct lws_client_connect_info ci;
    memset(&ci, 0, sizeof ci);
    ci.context = t->ctx;
    ci.address = "127.0.0.1";
    ci.port = fake_gateway_port(f);
    ci.path = query;
    ci.host = "127.0.0.1";
    ci.origin = "127.0.0.1";
    ci.local_protocol_name = "test-client";
    ci.opaque_user_data = t;
    ci.pwsi = &t->wsi;
    assert_non_null(lws_client_connect_via_info(&ci));
    return t;
}

static void tc_free(tclient *t)
{
    lws_sul_cancel(&t->tick);
    lws_context_destroy(t->ctx);
    for (size_t i = 0; i < t->nframes; i++)
        free(t->frames[i]);
    for (size_t i = 0; i < t->nout; i++)
        free(t->outq[i]);
    if (t->compress) gw_inflater_free(&t->z);
    free(t->rx);
    free(t);
}

/* Services the client until pred holds or timeout. */
static bool tc_pump(tclient *t, int timeout_ms, bool (*pred)(tclient *, void *), void *ctx)
{
    uint64_t end = rt_now_ms() + (uint64_t)timeout_ms;
    while (rt_now_ms() < end) {
        if (pred && pred(t, ctx)) return true;
        lws_service(t->ctx, 0);
    }
    return pred ? pred(t, ctx) : true;
}

static bool has_frames(tclient *t, void *ctx)
{
    return t->nframes >= *(size_t *)ctx;
}
static bool is_closed(tclient *t, void *ctx)
{
    (void)ctx;
    return t->closed || t->conn_error;
}

static void tc_send(tclient *t, const char *json)
{
    assert_true(t->nout < 64);
    t->outq[t->nout++] = strdup(json);
    if (t->wsi && t->established) lws_callback_on_writable(t->wsi);
}

/* Waits for frame number idx (0-based) and returns its envelope op (and the frame). */
static const char *tc_frame(tclient *t, size_t idx, gw_envelope *env)
{
    size_t want = idx + 1;
    if (!tc_pump(t, 3000, has_frames, &want)) fail_msg("no frame #%zu", idx);
    const char *fr = t->frames[idx];
    assert_int_equal(gw_envelope_parse(fr, strlen(fr), 0, env), GW_ENV_OK);
    return fr;
}

static int tc_wait_close(tclient *t)
{
    if (!tc_pump(t, 5000, is_closed, NULL)) fail_msg("connection not closed");
    return t->peer_closed ? t->peer_code : 1006;
}

static void identify(tclient *t, const char *token, uint32_t intents, int shard, int count)
{
    char buf[GW_PAYLOAD_MAX];
    gw_identify_params p = {.token = token,
                            .intents = intents,
                            .shard_id = (uint32_t)shard,
                            .shard_count = (uint32_t)count,
                            .large_threshold = 50};
    assert_true(gw_build_identify(buf, sizeof buf, &p) > 0);
    tc_send(t, buf);
}

static const char *GUILDS =
    "[{\"id\":\"4194304\",\"name\":\"g1\",\"roles\":[{\"id\":\"7\",\"name\":\"Bot Manager\"}]},"
    "{\"id\":\"8388608\",\"name\":\"g2\",\"roles\":[]}]";

static fake_gateway *start_fake(uint32_t interval, uint32_t identify_interval)
{
    fake_gateway_options o = {.token = TOKEN,
                              .heartbeat_interval_ms = interval,
                              .identify_interval_ms = identify_interval,
                              .guilds_json = GUILDS};
    fake_gateway *f = fake_gateway_start(&o);
    assert_non_null(f);
    return f;
}

/* ---- tests ------------------------------------------------------------------------------ */

typedef struct body {
    char buf[2048];
    size_t len;
} body;

static size_t on_body(char *p, size_t sz, size_t n, void *ud)
{
    body *b = ud;
    size_t k = sz * n;
    if (b->len + k < sizeof b->buf) {
        memcpy(b->buf + b->len, p, k);
        b->len += k;
        b->buf[b->len] = '\0';
    }
    return k;
}

static long http_get(const char *url, const char *auth, body *b)
{
    CURL *c = curl_easy_init();
    struct curl_slist *h = NULL;
    if (auth) h = curl_slist_append(h, auth);
    memset(b, 0, sizeof *b);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, b);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 3000L);
    long status = 0;
    if (curl_easy_perform(c) == CURLE_OK) curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    curl_slist_free_all(h);
    curl_easy_cleanup(c);
    return status;
}

static void test_gateway_bot_http(void **state)
{
    (void)state;
    fake_gateway *f = start_fake(1000, 0);
    char url[128];
    snprintf(url, sizeof url, "%s/gateway/bot", fake_gateway_http_base(f));
    body b;
    assert_int_equal(http_get(url, "Authorization: Bot " TOKEN, &b), 200);
    gw_bot_info bi;
    char err[128];
    assert_int_equal(gw_parse_bot_info(b.buf, b.len, &bi, err, sizeof err), 0);
    assert_string_equal(bi.url, fake_gateway_ws_url(f));
    assert_int_equal(bi.shards, 1);
    assert_int_equal(bi.remaining, 1000);
    assert_int_equal(bi.max_concurrency, 1);
    assert_int_equal(http_get(url, "Authorization: Bot wrong", &b), 401);
    assert_int_equal(http_get(url, NULL, &b), 401);
    assert_int_equal(http_get(url, "Authorization: " TOKEN, &b), 401); /* needs "Bot " */
    fake_gateway_stats st;
    fake_gateway_get_stats(f, &st);
    assert_int_equal(st.http_unauthorized, 3);
    fake_gateway_stop(f);
}

static void test_hello_heartbeat_identify_ready(void **state)
{
    (void)state;
    fake_gateway *f = start_fake(1234, 0);
    tclient *t = tc_open(f, "/?v=10&encoding=json", false);
    gw_envelope env;
    const char *fr = tc_frame(t, 0, &env);
    assert_int_equal(env.op, GW_OP_HELLO);
    assert_non_null(strstr(fr, "\"heartbeat_interval\":1234"));
    tc_send(t, "{\"op\":1,\"d\":null}");
    tc_frame(t, 1, &env);
    assert_int_equal(env.op, GW_OP_HEARTBEAT_ACK);
    identify(t, TOKEN, GW_INTENT_GUILDS, 0, 1);
    fr = tc_frame(t, 2, &env);
    assert_string_equal(env.t, "READY");
    assert_int_equal(env.seq, 1);
    gw_span v;
    char sid[64], rurl[128];
    assert_int_equal(gw_json_get(env.d, "session_id", &v), 1);
    assert_int_equal(gw_json_string(v, sid, sizeof sid, NULL), 0);
    assert_int_equal(gw_json_get(env.d, "resume_gateway_url", &v), 1);
    assert_int_equal(gw_json_string(v, rurl, sizeof rurl, NULL), 0);
    assert_string_equal(rurl, fake_gateway_ws_url(f));
    /* GUILD_CREATE for both fixture guilds (shard 0 of 1) */
    tc_frame(t, 3, &env);
    assert_string_equal(env.t, "GUILD_CREATE");
    assert_int_equal(env.seq, 2);
    tc_frame(t, 4, &env);
    assert_string_equal(env.t, "GUILD_CREATE");
    /* injected dispatch */
    assert_int_equal(fake_gateway_dispatch(f, -1, "INTERACTION_CREATE", "{\"id\":\"99\"}"), 1);
    tc_frame(t, 5, &env);
    assert_string_equal(env.t, "INTERACTION_CREATE");
    assert_int_equal(env.seq, 4);
    /* the heartbeat and identify were recorded */
    assert_int_equal(fake_gateway_count_op(f, 1), 1);
    assert_int_equal(fake_gateway_count_op(f, 2), 1);
    fake_gateway_record *recs;
    size_t n = fake_gateway_records(f, &recs);
    bool seen_identify = false;
    for (size_t i = 0; i < n; i++)
        if (recs[i].op == 2) seen_identify = strstr(recs[i].payload, TOKEN) != NULL;
    assert_true(seen_identify);
    fake_gateway_records_free(recs, n);
    tc_free(t);
    fake_gateway_stop(f);
}

static void test_resume_replays(void **state)
{
    (void)state;
    fake_gateway *f = start_fake(5000, 0);
    tclient *t = tc_open(f, "/?v=10&encoding=json", false);
    gw_envelope env;
    tc_frame(t, 0, &env);
    identify(t, TOKEN, GW_INTENT_GUILDS, 0, 1);
    const char *ready = tc_frame(t, 1, &env);
    (void)ready;
    gw_span v;
    char sid[64];
    gw_json_get(env.d, "session_id", &v);
    gw_json_string(v, sid, sizeof sid, NULL);
    tc_frame(t, 3, &env); /* two GUILD_CREATEs: seq 3 */
    int64_t last = env.seq;
    /* client goes away with a resumable code; events keep coming */
    t->close_with = 4000;
    lws_callback_on_writable(t->wsi);
    tc_wait_close(t);
    tc_free(t);
    assert_int_equal(fake_gateway_dispatch(f, 0, "INTERACTION_CREATE", "{\"id\":\"1\"}"), 1);
    assert_int_equal(fake_gateway_dispatch(f, 0, "INTERACTION_CREATE", "{\"id\":\"2\"}"), 1);
    t = tc_open(f, "/?v=10&encoding=json", false);
    tc_frame(t, 0, &env);
    char resume[256];
    snprintf(resume, sizeof resume,
             "{\"op\":6,\"d\":{\"token\":\"%s\",\"session_id\":\"%s\",\"seq\":%lld}}", TOKEN, sid,
             (long long)last);
    tc_send(t, resume);
    const char *fr = tc_frame(t, 1, &env);
    assert_string_equal(env.t, "INTERACTION_CREATE");
    assert_int_equal(env.seq, last + 1);
    assert_non_null(strstr(fr, "\"id\":\"1\""));
    tc_frame(t, 2, &env);
    assert_int_equal(env.seq, last + 2);
    tc_frame(t, 3, &env);
    assert_string_equal(env.t, "RESUMED");
    fake_gateway_stats st;
    fake_gateway_get_stats(f, &st);
    assert_int_equal(st.replayed, 2);
    assert_int_equal(st.resumed_sent, 1);
    tc_free(t);

    /* unknown session: op 9 false */
    t = tc_open(f, "/?v=10&encoding=json", false);
    tc_frame(t, 0, &env);
    tc_send(t, "{\"op\":6,\"d\":{\"token\":\"" TOKEN "\",\"session_id\":\"nope\",\"seq\":1}}");
    fr = tc_frame(t, 1, &env);
    assert_int_equal(env.op, GW_OP_INVALID_SESSION);
    assert_int_equal(gw_json_kind_of(env.d), GW_JSON_FALSE);
    tc_free(t);
    fake_gateway_stop(f);
}

static void expect_close(fake_gateway *f, const char *query, const char *send1, const char *send2,
                         int code)
{
    tclient *t = tc_open(f, query, false);
    gw_envelope env;
    if (send1) {
        tc_frame(t, 0, &env);
        tc_send(t, send1);
    }
    if (send2) tc_send(t, send2);
    int got = tc_wait_close(t);
    if (got != code) fail_msg("expected close %d, got %d (%s)", code, got, send1 ? send1 : query);
    tc_free(t);
}

static void test_close_codes_enforced(void **state)
{
    (void)state;
    fake_gateway *f = start_fake(5000, 0);
    char bad_token[GW_PAYLOAD_MAX], privileged[GW_PAYLOAD_MAX], bad_shard[GW_PAYLOAD_MAX],
        ok[GW_PAYLOAD_MAX];
    gw_identify_params p = {.token = "nope", .intents = 1, .shard_count = 1};
    gw_build_identify(bad_token, sizeof bad_token, &p);
    p.token = TOKEN;
    p.intents = GW_INTENT_GUILDS | GW_INTENT_MESSAGE_CONTENT;
    gw_build_identify(privileged, sizeof privileged, &p);
    p.intents = 1;
    gw_build_identify(ok, sizeof ok, &p);
    snprintf(bad_shard, sizeof bad_shard,
             "{\"op\":2,\"d\":{\"token\":\"%s\",\"intents\":1,\"properties\":{},\"shard\":[3,2]}}",
             TOKEN);
    expect_close(f, "/?v=9&encoding=json", NULL, NULL, 4012);
    expect_close(f, "/?v=10&encoding=etf", NULL, NULL, 4002);
    expect_close(f, "/?v=10&encoding=json", bad_token, NULL, 4004);
    expect_close(f, "/?v=10&encoding=json", privileged, NULL, 4014);
    expect_close(f, "/?v=10&encoding=json", bad_shard, NULL, 4010);
    expect_close(f, "/?v=10&encoding=json", "not json", NULL, 4002);
    expect_close(f, "/?v=10&encoding=json", "{\"op\":42,\"d\":null}", NULL, 4001);
    expect_close(f, "/?v=10&encoding=json", "{\"op\":3,\"d\":{}}", NULL, 4003);
    char big[6000];
    memset(big, ' ', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    memcpy(big, "{\"op\":1,\"d\":null}", 17);
    expect_close(f, "/?v=10&encoding=json", big, NULL, 4002);
    fake_gateway_set_ack(f, true);
    /* second identify on one connection */
    fake_gateway_stop(f);
    f = start_fake(5000, 1); /* 1 ms identify spacing so two identifies are allowed */
    expect_close(f, "/?v=10&encoding=json", ok, ok, 4005);
    fake_gateway_stop(f);
}

static void test_identify_spacing_and_budget(void **state)
{
    (void)state;
    fake_gateway *f = start_fake(5000, 5000);
    char ok[GW_PAYLOAD_MAX];
    gw_identify_params p = {.token = TOKEN, .intents = 1, .shard_count = 1};
    gw_build_identify(ok, sizeof ok, &p);
    tclient *t = tc_open(f, "/?v=10&encoding=json", false);
    gw_envelope env;
    tc_frame(t, 0, &env);
    tc_send(t, ok);
    tc_frame(t, 1, &env);
    assert_string_equal(env.t, "READY");
    tclient *t2 = tc_open(f, "/?v=10&encoding=json", false);
    tc_frame(t2, 0, &env);
    tc_send(t2, ok);
    tc_frame(t2, 1, &env);
    assert_int_equal(env.op, GW_OP_INVALID_SESSION); /* too soon for the bucket */
    fake_gateway_stats st;
    fake_gateway_get_stats(f, &st);
    assert_int_equal(st.identify_spacing_violations, 1);
    assert_true(st.min_identify_gap_ms >= 0 && st.min_identify_gap_ms < 5000);
    assert_int_equal(st.session_remaining, 999);
    tc_free(t2);
    tc_free(t);
    fake_gateway_stop(f);

    f = start_fake(5000, 1);
    fake_gateway_set_budget(f, 0, 60000);
    expect_close(f, "/?v=10&encoding=json", ok, NULL, 4004);
    fake_gateway_get_stats(f, &st);
    assert_int_equal(st.budget_violations, 1);
    char bot[512];
    assert_true(fake_gateway_gateway_bot_json(f, bot, sizeof bot) > 0);
    assert_non_null(strstr(bot, "\"remaining\":0"));
    fake_gateway_stop(f);
}

static void test_rate_limit_enforced(void **state)
{
    (void)state;
    fake_gateway *f = start_fake(5000, 0);
    tclient *t = tc_open(f, "/?v=10&encoding=json", false);
    gw_envelope env;
    tc_frame(t, 0, &env);
    for (int i = 0; i < 63; i++)
        tc_send(t, "{\"op\":1,\"d\":null}");
    size_t want = 64;
    assert_true(tc_pump(t, 5000, has_frames, &want)); /* 63 ACKs */
    for (int i = 0; i < 58; i++)
        tc_send(t, "{\"op\":1,\"d\":null}");
    assert_int_equal(tc_wait_close(t), 4008);
    fake_gateway_stats st;
    fake_gateway_get_stats(f, &st);
    assert_int_equal(st.rate_violations, 1);
    assert_int_equal(st.max_frames_in_window, 120);
    tc_free(t);
    fake_gateway_stop(f);
}

static void test_zlib_stream_split(void **state)
{
    (void)state;
    fake_gateway *f = start_fake(777, 0);
    fake_gateway_set_zlib_split(f, 3);
    tclient *t = tc_open(f, "/?v=10&encoding=json&compress=zlib-stream", true);
    gw_envelope env;
    const char *fr = tc_frame(t, 0, &env);
    assert_int_equal(env.op, GW_OP_HELLO);
    assert_non_null(strstr(fr, "777"));
    identify(t, TOKEN, 1, 0, 1);
    tc_frame(t, 1, &env);
    assert_string_equal(env.t, "READY");
    tc_frame(t, 3, &env);
    assert_string_equal(env.t, "GUILD_CREATE");
    tc_free(t);
    fake_gateway_stop(f);
}

static void test_faults(void **state)
{
    (void)state;
    fake_gateway *f = start_fake(5000, 1);
    tclient *t = tc_open(f, "/?v=10&encoding=json", false);
    gw_envelope env;
    tc_frame(t, 0, &env);
    identify(t, TOKEN, 1, 0, 1);
    tc_frame(t, 3, &env);
    fake_gateway_request_heartbeat(f, 0);
    tc_frame(t, 4, &env);
    assert_int_equal(env.op, GW_OP_HEARTBEAT);
    fake_gateway_send_reconnect(f, -1);
    tc_frame(t, 5, &env);
    assert_int_equal(env.op, GW_OP_RECONNECT);
    fake_gateway_send_invalid_session(f, 0, true);
    tc_frame(t, 6, &env);
    assert_int_equal(env.op, GW_OP_INVALID_SESSION);
    assert_int_equal(gw_json_kind_of(env.d), GW_JSON_TRUE);
    fake_gateway_set_ack(f, false);
    tc_send(t, "{\"op\":1,\"d\":3}");
    size_t want = 8;
    assert_false(tc_pump(t, 300, has_frames, &want)); /* no ACK: a zombie connection */
    fake_gateway_send_raw(f, 0, "{\"op\":", 6, false);
    want = 8;
    assert_true(tc_pump(t, 3000, has_frames, &want));
    assert_string_equal(t->frames[7], "{\"op\":"); /* malformed frame delivered as is */
    fake_gateway_drop(f, 0);
    assert_int_equal(tc_wait_close(t), 1006);
    tc_free(t);

    t = tc_open(f, "/?v=10&encoding=json", false);
    tc_frame(t, 0, &env);
    identify(t, TOKEN, 1, 0, 1);
    tc_frame(t, 1, &env);
    fake_gateway_close(f, 0, 4009);
    assert_int_equal(tc_wait_close(t), 4009);
    tc_free(t);
    fake_gateway_stop(f);
}

int main(void)
{
    lws_set_log_level(LLL_ERR, NULL);
    curl_global_init(CURL_GLOBAL_DEFAULT);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_gateway_bot_http),
        cmocka_unit_test(test_hello_heartbeat_identify_ready),
        cmocka_unit_test(test_resume_replays),
        cmocka_unit_test(test_close_codes_enforced),
        cmocka_unit_test(test_identify_spacing_and_budget),
        cmocka_unit_test(test_rate_limit_enforced),
        cmocka_unit_test(test_zlib_stream_split),
        cmocka_unit_test(test_faults),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    curl_global_cleanup();
    return rc;
}
