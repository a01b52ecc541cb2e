/* The discord_rest actor against the fake Discord REST server over loopback: headers, every
 * 429 scope, 5xx/network retries, 401 stopping the bot, a multipart upload arriving byte for
 * byte, a burst of 200 interaction callbacks all answered inside the 3-second window, timeouts,
 * bounded responses, a graceful stop that finishes what is in flight, pooled curl handles
 * that carry nothing of one request into the next (paths and queries included), answers cut
 * mid-body, buckets honoured with many requests in flight, waves of requests over reused
 * descriptors, answers nobody waits for settled, retried and kept in order, and closed messages
 * remembered up to a bound. Every test runs twice: with the actor on a worker of its own (its
 * default without the app), and on one shared scheduler worker together with the actor that
 * receives its answers (the app's default layout, sched_actors), where requests and answers are
 * calls on one thread and the worker's epoll_wait serves curl's sockets. */
#include <inttypes.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include <curl/curl.h>

#include "actors/discord_rest.h"
#include "fakes/fake_rest.h"
#include "fluxbot/log.h"
#include "fluxbot/runtime.h"
#include "msgs/rest.h"
#include "util/util_time.h"

#define TOKEN "actor-test-token.XyZ"
#define APP 4242
#define APP_S "4242"

/* ---- a collector actor that keeps every MSG_REST_RES --------------------------------------- */

typedef struct collector {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    rest_res_msg *res[1024];
    size_t n;
} collector;

static void col_on_message(rt_actor *self, void *state, rt_msg *m)
{
    (void)self;
    collector *c = state;
    if (m->type != MSG_REST_RES) {
        rt_msg_free(m);
        return;
    }
    pthread_mutex_lock(&c->mu);
    if (c->n < 1024)
        c->res[c->n++] = (rest_res_msg *)m;
    else
        rt_msg_free(m);
    pthread_cond_broadcast(&c->cv);
    pthread_mutex_unlock(&c->mu);
}

static size_t col_wait(collector *c, size_t n, int timeout_ms)
{
    struct timespec dl = util_deadline(CLOCK_REALTIME, (uint64_t)timeout_ms);
    pthread_mutex_lock(&c->mu);
    while (c->n < n)
        if (pthread_cond_timedwait(&c->cv, &c->mu, &dl) != 0) break;
    size_t got = c->n;
    pthread_mutex_unlock(&c->mu);
    return got;
}

static rest_res_msg *col_get(collector *c, uint64_t cookie)
{
    rest_res_msg *r = NULL;
    pthread_mutex_lock(&c->mu);
    for (size_t i = 0; i < c->n; i++)
        if (c->res[i]->cookie == cookie) r = c->res[i];
    pthread_mutex_unlock(&c->mu);
    return r;
}

/* ---- fixture ------------------------------------------------------------------------------- */

typedef struct fx {
    fake_rest *fake;
    rt_system *sys;
    collector col;
    rt_actor *col_actor;
    discord_rest *rest;
} fx;

static unsigned g_keepalive_s; /* the fake's idle keep-alive limit for the next fx_start */
static bool g_shared;          /* REST and the collector on one shared scheduler worker */

static void fx_start(fx *x, const char *token, bool enforce, const discord_rest_config *over)
{
    memset(x, 0, sizeof *x);
    fake_rest_config fc = {.token = TOKEN,
                           .application_id = APP,
                           .enforce_limits = enforce,
                           .gateway_url = "ws://127.0.0.1:7",
                           .keepalive_s = g_keepalive_s};
    x->fake = fake_rest_start(&fc);
    assert_non_null(x->fake);
    pthread_mutex_init(&x->col.mu, NULL);
    pthread_cond_init(&x->col.cv, NULL);
    x->sys = rt_system_new();
    rt_actor_spec cs = {.name = "collector",
                        .threads = 1,
                        .lane_capacity = 1024,
                        .state = &x->col,
                        .ops = {.on_message = col_on_message}};
    x->col_actor = rt_actor_new(x->sys, &cs);
    assert_non_null(x->col_actor);
    static rl_config lim;
    rl_config_defaults(&lim);
    lim.backoff_base_ms = 20;
    lim.backoff_max_ms = 100;
    discord_rest_config dc = {.api_base = fake_rest_base_url(x->fake),
                              .token = token,
                              .timeout_ms = 5000,
                              .limits = &lim};
    if (over) {
        if (over->timeout_ms) dc.timeout_ms = over->timeout_ms;
        if (over->max_response) dc.max_response = over->max_response;
        if (over->stop_grace_ms) dc.stop_grace_ms = over->stop_grace_ms;
        if (over->limits) {
            lim = *over->limits;
            lim.backoff_base_ms = 20;
            lim.backoff_max_ms = 100;
        }
    }
    x->rest = discord_rest_new(x->sys, &dc);
    assert_non_null(x->rest);
    assert_true(rt_actor_is_io(discord_rest_actor(x->rest)));
    if (g_shared) {
        assert_int_equal(rt_actor_schedule(x->col_actor), 0);
        assert_int_equal(rt_actor_schedule(discord_rest_actor(x->rest)), 0);
    }
    assert_int_equal(rt_system_start(x->sys), 0);
}

static void fx_stop(fx *x)
{
    rt_system_stop(x->sys);
    rt_system_free(x->sys);
    discord_rest_free(x->rest);
    for (size_t i = 0; i < x->col.n; i++)
        rt_msg_free(&x->col.res[i]->hdr);
    pthread_mutex_destroy(&x->col.mu);
    pthread_cond_destroy(&x->col.cv);
    fake_rest_stop(x->fake);
}

static void send_req(fx *x, rest_method m, const char *path, const char *json, uint64_t cookie)
{
    rest_req_msg *r = rest_req_msg_new(m, path, json);
    r->reply_to = x->col_actor;
    r->cookie = cookie;
    assert_int_equal(rt_send_wait(discord_rest_actor(x->rest), &r->hdr, 1000), 0);
}

static rest_res_msg *send_and_wait(fx *x, rest_method m, const char *path, const char *json,
                                   uint64_t cookie)
{
    size_t before = x->col.n;
    send_req(x, m, path, json, cookie);
    assert_true(col_wait(&x->col, before + 1, 10000) >= before + 1);
    rest_res_msg *r = col_get(&x->col, cookie);
    assert_non_null(r);
    return r;
}

/* ---- tests ----------------------------------------------------------------------------------- */

static void test_headers_and_registration(void **state)
{
    (void)state;
    char logpath[] = "/tmp/fluxbot-rest-log-XXXXXX";
    int fd = mkstemp(logpath);
    assert_true(fd >= 0);
    log_configure(LOG_LEVEL_DEBUG, false, fd);

    fx x;
    fx_start(&x, TOKEN, true, NULL);
    const char *labels[] = {"1024x1024", "1344x768"};
    uint64_t guilds[] = {77, 78};
    char err[128];
    /* A declared command (comfy/decl.h) goes in the same bulk PUT as the table's. */
    static const cmd_def comfy = {"comfy", "Generate an image", NULL, 0};
    const cmd_def *declared[] = {&comfy};
    assert_int_equal(discord_rest_register_commands(x.rest, APP, NULL, 0, declared, 1, labels, 2,
                                                    x.col_actor, 10, err, sizeof err),
                     1);
    assert_int_equal(discord_rest_register_commands(x.rest, APP, guilds, 2, declared, 1, labels, 2,
                                                    x.col_actor, 20, err, sizeof err),
                     2);
    assert_int_equal(col_wait(&x.col, 3, 10000), 3);
    assert_int_equal(col_get(&x.col, 10)->status, 200);
    assert_int_equal(col_get(&x.col, 20)->status, 200);
    assert_int_equal(col_get(&x.col, 21)->status, 200);
    char *cmds = fake_rest_commands_json(x.fake, 78);
    assert_non_null(cmds);
    assert_non_null(strstr(cmds, "\"name\":\"comfy\""));
    free(cmds);

    rest_res_msg *r = send_and_wait(&x, REST_GET, "/gateway/bot", NULL, 30);
    assert_int_equal(r->status, 200);
    assert_non_null(strstr(r->body, "ws://127.0.0.1:7"));

    fake_rest_register_interaction(x.fake, 900, "itok", 5, false);
    r = send_and_wait(&x, REST_POST, "/interactions/900/itok/callback", "{\"type\":5}", 31);
    assert_int_equal(r->status, 204);
    assert_null(r->body);

    rest_req_msg *del = rest_req_msg_new(REST_DELETE, "/channels/5/messages/1", NULL);
    snprintf(del->audit_reason, sizeof del->audit_reason, "clean up r\xc3\xa9sum\xc3\xa9 & co");
    del->reply_to = x.col_actor;
    del->cookie = 32;
    assert_int_equal(rt_send_wait(discord_rest_actor(x.rest), &del->hdr, 1000), 0);
    assert_int_equal(col_wait(&x.col, 6, 5000), 6);
    assert_int_equal(col_get(&x.col, 32)->status, 404); /* unknown message: final, no retry */

    /* A failure nobody waits for is logged. */
    rest_req_msg *fire = rest_req_msg_new(REST_GET, "/no/such/route", NULL);
    rt_send_wait(discord_rest_actor(x.rest), &fire->hdr, 1000);
    fake_rest_filter nf = {.path_prefix = "/no/such"};
    assert_int_equal(fake_rest_wait(x.fake, &nf, 1, 5000), 1);

    fake_rest_request *reqs;
    size_t n = fake_rest_collect(x.fake, NULL, &reqs);
    bool saw_callback = false;
    for (size_t i = 0; i < n; i++) {
        assert_non_null(reqs[i].user_agent);
        assert_memory_equal(reqs[i].user_agent, "DiscordBot (https://github.com/fluxbot/fluxbot, ",
                            48);
        if (strncmp(reqs[i].path, "/interactions/", 14) == 0) {
            saw_callback = true;
            assert_null(reqs[i].authorization); /* the interaction token is the credential */
            assert_string_equal(reqs[i].content_type, "application/json");
        } else {
            assert_string_equal(reqs[i].authorization, "Bot " TOKEN);
        }
        if (strcmp(reqs[i].method, "DELETE") == 0)
            assert_string_equal(reqs[i].audit_reason, "clean%20up%20r%C3%A9sum%C3%A9%20%26%20co");
    }
    assert_true(saw_callback);
    fake_rest_requests_free(reqs, n);
    fx_stop(&x);

    /* The token never reached the log, while the failure did. */
    log_configure(LOG_LEVEL_INFO, false, 2);
    char buf[65536];
    ssize_t k = pread(fd, buf, sizeof buf - 1, 0);
    assert_true(k > 0);
    buf[k] = '\0';
    assert_null(strstr(buf, TOKEN));
    assert_non_null(strstr(buf, "GET /no/such/route failed: status 404"));
    close(fd);
    unlink(logpath);
}

static void test_429_every_scope(void **state)
{
    (void)state;
    fx x;
    fx_start(&x, TOKEN, false, NULL);
    fake_rest *f = x.fake;

    fake_rest_script(f, "GET", "/users/@me", FAKE_REST_FAULT_429_USER, 300, 1);
    rest_res_msg *r = send_and_wait(&x, REST_GET, "/users/@me", NULL, 1);
    assert_int_equal(r->status, 200);
    fake_rest_request *reqs;
    assert_int_equal(fake_rest_collect(f, &(fake_rest_filter){.path_prefix = "/users"}, &reqs), 2);
    assert_int_equal(reqs[0].status, 429);
    assert_true(reqs[1].t_ms - reqs[0].t_ms >= 295);
    fake_rest_requests_free(reqs, 2);

    fake_rest_script(f, "GET", "/gateway/bot", FAKE_REST_FAULT_429_SHARED, 250, 1);
    r = send_and_wait(&x, REST_GET, "/gateway/bot", NULL, 2);
    assert_int_equal(r->status, 200);
    assert_int_equal(fake_rest_collect(f, &(fake_rest_filter){.path_prefix = "/gateway"}, &reqs),
                     2);
    assert_true(reqs[1].t_ms - reqs[0].t_ms >= 245);
    fake_rest_requests_free(reqs, 2);

    /* Global: every bot route pauses; an interaction callback does not. */
    fake_rest_register_interaction(f, 555, "gtok", 1, false);
    fake_rest_script(f, "DELETE", "/channels/", FAKE_REST_FAULT_429_GLOBAL, 500, 1);
    send_req(&x, REST_DELETE, "/channels/1/messages/2", NULL, 3);
    assert_int_equal(
        fake_rest_wait(f, &(fake_rest_filter){.status = 429, .method = "DELETE"}, 1, 5000), 1);
    /* Let the actor see the 429 before the next requests arrive. */
    discord_rest_counters st;
    for (int i = 0; i < 500; i++) {
        discord_rest_counters_get(x.rest, &st);
        if (st.r429_global == 1) break;
        usleep(2000);
    }
    send_req(&x, REST_GET, "/gateway/bot", NULL, 4);
    send_req(&x, REST_POST, "/interactions/555/gtok/callback", "{\"type\":5}", 5);
    assert_int_equal(col_wait(&x.col, 5, 10000), 5);
    fake_rest_request *g429, *gw, *cb;
    assert_int_equal(
        fake_rest_collect(f, &(fake_rest_filter){.status = 429, .method = "DELETE"}, &g429), 1);
    size_t ngw = fake_rest_collect(f, &(fake_rest_filter){.path_prefix = "/gateway"}, &gw);
    assert_int_equal(fake_rest_collect(f, &(fake_rest_filter){.path_prefix = "/interactions"}, &cb),
                     1);
    assert_int_equal(ngw, 3);
    assert_true(gw[2].t_ms - g429[0].t_ms >= 490); /* waited out the global pause */
    assert_true(cb[0].t_ms < gw[2].t_ms); /* exempt: went during the pause, before the others */
    assert_int_equal(col_get(&x.col, 5)->status, 204);
    assert_int_equal(col_get(&x.col, 4)->status, 200);
    assert_int_equal(col_get(&x.col, 3)->status, 404); /* retried after the pause: unknown msg */
    fake_rest_requests_free(g429, 1);
    fake_rest_requests_free(gw, ngw);
    fake_rest_requests_free(cb, 1);

    discord_rest_counters_get(x.rest, &st);
    assert_int_equal(st.r429_user, 1);
    assert_int_equal(st.r429_shared, 1);
    assert_int_equal(st.r429_global, 1);
    assert_int_equal(st.retries, 3);
    assert_true(st.wait_ms >= 1000);
    fx_stop(&x);
}

/* Issue 9: one global 429 with Retry-After 3600 on an interaction callback muted every request
 * for an hour. Now that request fails at once with a clear error, other interactions' callbacks
 * and webhooks go through during the pause, and bot routes wait only for the cap. */
static void test_429_global_hour_does_not_mute(void **state)
{
    (void)state;
    rl_config lim;
    rl_config_defaults(&lim);
    lim.max_retry_after_ms = 1500; /* the cap (60 s by default), short for the test */
    discord_rest_config over = {.limits = &lim};
    fx x;
    fx_start(&x, TOKEN, false, &over);
    fake_rest *f = x.fake;
    fake_rest_register_interaction(f, 601, "tok601", 1, false);
    fake_rest_register_interaction(f, 602, "tok602", 1, false);
    fake_rest_script(f, "POST", "/interactions/601/", FAKE_REST_FAULT_429_GLOBAL, 3600000, 1);
    uint64_t t0 = rt_now_ms();
    rest_res_msg *r =
        send_and_wait(&x, REST_POST, "/interactions/601/tok601/callback", "{\"type\":5}", 1);
    assert_int_equal(r->status, 429);
    assert_non_null(strstr(r->error, "rate limited (global)"));
    assert_non_null(strstr(r->error, "3600 s"));
    assert_true(rt_now_ms() - t0 < 1400); /* failed, not held */
    discord_rest_counters st;
    discord_rest_counters_get(x.rest, &st);
    assert_int_equal(st.r429_global, 1);
    /* during the pause: another interaction's callback and its webhook go at once */
    uint64_t t1 = rt_now_ms();
    r = send_and_wait(&x, REST_POST, "/interactions/602/tok602/callback", "{\"type\":5}", 2);
    assert_int_equal(r->status, 204);
    r = send_and_wait(&x, REST_PATCH, "/webhooks/" APP_S "/tok602/messages/@original",
                      "{\"content\":\"done\"}", 3);
    assert_true(r->status >= 200 && r->status < 300);
    assert_true(rt_now_ms() - t1 < 1000);
    /* a bot route waits for the capped pause, not the hour */
    r = send_and_wait(&x, REST_GET, "/gateway/bot", NULL, 4);
    assert_int_equal(r->status, 200);
    uint64_t took = rt_now_ms() - t0;
    assert_true(took >= 1400 && took < 8000);
    fx_stop(&x);
}

static void test_5xx_and_network_retries(void **state)
{
    (void)state;
    fx x;
    fx_start(&x, TOKEN, false, NULL);
    fake_rest_script(x.fake, NULL, "/gateway", FAKE_REST_FAULT_502, 0, 2);
    rest_res_msg *r = send_and_wait(&x, REST_GET, "/gateway/bot", NULL, 1);
    assert_int_equal(r->status, 200);
    assert_int_equal(fake_rest_count(x.fake, &(fake_rest_filter){.path_prefix = "/gateway"}), 3);

    fake_rest_script(x.fake, NULL, "/users", FAKE_REST_FAULT_DROP, 0, 1);
    r = send_and_wait(&x, REST_GET, "/users/@me", NULL, 2);
    assert_int_equal(r->status, 200);

    /* Persistent 500: bounded retries (3), then the 500 is reported. */
    fake_rest_script(x.fake, NULL, "/applications", FAKE_REST_FAULT_500, 0, 100);
    r = send_and_wait(&x, REST_PUT, "/applications/4242/commands", "[]", 3);
    assert_int_equal(r->status, 500);
    assert_string_equal(r->error, "retries exhausted");
    assert_int_equal(fake_rest_count(x.fake, &(fake_rest_filter){.path_prefix = "/applications"}),
                     4);

    discord_rest_counters st;
    fx_stop(&x);

    /* A callback whose first attempt reached Discord but whose answer was lost (timeout): the
     * retry gets 40060, which means the interaction is answered. */
    discord_rest_config over = {.timeout_ms = 300};
    fx_start(&x, TOKEN, false, &over);
    fake_rest_register_interaction(x.fake, 701, "rt2", 1, false);
    fake_rest_script(x.fake, "POST", "/interactions/701", FAKE_REST_FAULT_DELAY, 600, 1);
    r = send_and_wait(&x, REST_POST, "/interactions/701/rt2/callback", "{\"type\":5}", 4);
    assert_int_equal(r->status, 204);
    assert_string_equal(r->error, "acknowledged by an earlier attempt");
    fake_rest_ix_state is;
    assert_true(fake_rest_interaction_state(x.fake, 701, &is));
    assert_int_equal(is.ack_type, 5);
    assert_int_equal(is.callbacks, 2);
    free(is.original_json);
    discord_rest_counters_get(x.rest, &st);
    assert_true(st.network_errors >= 1);
    fx_stop(&x);
}

static void test_401_stops_the_bot(void **state)
{
    (void)state;
    fx x;
    fx_start(&x, "a-wrong-token", false, NULL);
    rest_res_msg *r = send_and_wait(&x, REST_GET, "/users/@me", NULL, 1);
    assert_int_equal(r->status, 401);
    assert_true(rt_system_wait_signal(x.sys, 2000));
    assert_int_equal(rt_system_exit_code(x.sys), 4);
    /* Nothing more is sent with a token Discord refused. */
    r = send_and_wait(&x, REST_GET, "/gateway/bot", NULL, 2);
    assert_int_equal(r->status, 401);
    assert_int_equal(fake_rest_count(x.fake, NULL), 1);
    discord_rest_counters st;
    discord_rest_counters_get(x.rest, &st);
    assert_true(st.fatal);
    fx_stop(&x);
}

static void test_multipart_upload_byte_identical(void **state)
{
    (void)state;
    fx x;
    fx_start(&x, TOKEN, true, NULL);
    fake_rest_register_interaction(x.fake, 42, "mtok", 8, false);
    rest_res_msg *r =
        send_and_wait(&x, REST_POST, "/interactions/42/mtok/callback", "{\"type\":5}", 1);
    assert_int_equal(r->status, 204);

    size_t n1 = 256 * 1024, n2 = 1000;
    uint8_t *a = malloc(n1), *b = malloc(n2);
    unsigned s = 99;
    for (size_t i = 0; i < n1; i++)
        a[i] = (uint8_t)((s = s * 1103515245u + 12345u) >> 16);
    for (size_t i = 0; i < n2; i++)
        b[i] = (uint8_t)(i % 3 == 0 ? 0 : i % 3 == 1 ? '\r' : '\n');
    memcpy(a, "\r\n--boundary\r\n\0", 15);
    const char *payload =
        "{\"content\":\"done\",\"attachments\":[{\"id\":0,\"filename\":\"a.png\"},"
        "{\"id\":1,\"filename\":\"b.bin\"}]}";
    rest_req_msg *m =
        rest_req_msg_new(REST_PATCH, "/webhooks/4242/mtok/messages/@original", payload);
    rest_req_add_file(m, "a.png", "image/png", a, n1);
    rest_req_add_file(m, "b.bin", "application/octet-stream", b, n2);
    m->reply_to = x.col_actor;
    m->cookie = 2;
    assert_int_equal(rt_send_wait(discord_rest_actor(x.rest), &m->hdr, 1000), 0);
    assert_int_equal(col_wait(&x.col, 2, 10000), 2);
    assert_int_equal(col_get(&x.col, 2)->status, 200);

    fake_rest_request *reqs;
    assert_int_equal(fake_rest_collect(x.fake, &(fake_rest_filter){.method = "PATCH"}, &reqs), 1);
    assert_non_null(strstr(reqs[0].content_type, "multipart/form-data"));
    assert_int_equal(reqs[0].nparts, 3);
    assert_string_equal(reqs[0].parts[0].name, "payload_json");
    assert_int_equal(reqs[0].parts[0].len, strlen(payload));
    assert_memory_equal(reqs[0].parts[0].data, payload, strlen(payload));
    assert_string_equal(reqs[0].parts[1].name, "files[0]");
    assert_string_equal(reqs[0].parts[1].filename, "a.png");
    assert_string_equal(reqs[0].parts[1].content_type, "image/png");
    assert_int_equal(reqs[0].parts[1].len, n1);
    assert_memory_equal(reqs[0].parts[1].data, a, n1);
    assert_string_equal(reqs[0].parts[2].name, "files[1]");
    assert_int_equal(reqs[0].parts[2].len, n2);
    assert_memory_equal(reqs[0].parts[2].data, b, n2);
    fake_rest_requests_free(reqs, 1);
    fake_rest_ix_state is;
    fake_rest_interaction_state(x.fake, 42, &is);
    assert_non_null(strstr(is.original_json, "\"filename\":\"b.bin\""));
    free(is.original_json);
    free(a);
    free(b);
    discord_rest_counters st;
    discord_rest_counters_get(x.rest, &st);
    assert_true(st.bytes_out > n1);
    fx_stop(&x);
}

/* Files are sent in one form body up to 1 MiB and streamed above: both arrive byte-identical,
 * and so does a file that holds the actor's own boundary (the request draws another). */
static void test_multipart_large_and_colliding_files(void **state)
{
    (void)state;
    fx x;
    fx_start(&x, TOKEN, true, NULL);
    fake_rest_register_interaction(x.fake, 43, "ltok", 8, false);
    rest_res_msg *r =
        send_and_wait(&x, REST_POST, "/interactions/43/ltok/callback", "{\"type\":5}", 1);
    assert_int_equal(r->status, 204);
    size_t big = 1536 * 1024, small = 4096;
    uint8_t *a = malloc(big), *b = malloc(small);
    unsigned s = 7;
    for (size_t i = 0; i < big; i++)
        a[i] = (uint8_t)((s = s * 1103515245u + 12345u) >> 16);
    memset(b, 'x', small);
    const char *boundary = discord_rest_form_boundary(x.rest);
    assert_int_equal(strlen(boundary), 32);
    memcpy(b + 100, "\r\n--", 4);
    memcpy(b + 104, boundary, strlen(boundary));
    for (int round = 0; round < 2; round++) {
        rest_req_msg *m = rest_req_msg_new(REST_PATCH, "/webhooks/4242/ltok/messages/@original",
                                           "{\"content\":\"x\"}");
        if (round == 0)
            rest_req_add_file(m, "big.bin", "application/octet-stream", a, big);
        else
            rest_req_add_file(m, "b\"q.txt", "text/plain", b, small);
        m->reply_to = x.col_actor;
        m->cookie = 10 + (uint64_t)round;
        assert_int_equal(rt_send_wait(discord_rest_actor(x.rest), &m->hdr, 1000), 0);
        assert_int_equal(col_wait(&x.col, 2 + (size_t)round, 10000), 2 + (size_t)round);
        assert_int_equal(col_get(&x.col, 10 + (uint64_t)round)->status, 200);
    }
    fake_rest_request *reqs;
    assert_int_equal(fake_rest_collect(x.fake, &(fake_rest_filter){.method = "PATCH"}, &reqs), 2);
    assert_int_equal(reqs[0].nparts, 2);
    assert_int_equal(reqs[0].parts[1].len, big);
    assert_memory_equal(reqs[0].parts[1].data, a, big);
    assert_int_equal(reqs[1].nparts, 2);
    assert_null(strstr(reqs[1].content_type, boundary)); /* its own boundary */
    assert_string_equal(reqs[1].parts[1].filename, "b%22q.txt");
    assert_string_equal(reqs[1].parts[1].content_type, "text/plain");
    assert_int_equal(reqs[1].parts[1].len, small);
    assert_memory_equal(reqs[1].parts[1].data, b, small);
    fake_rest_requests_free(reqs, 2);
    free(a);
    free(b);
    fx_stop(&x);
}

/* Idle connections stay in the epoll set between requests: when the server closes one while
 * it is idle, the next request still goes through (on a new connection). */
static void test_idle_connection_closed_by_the_server(void **state)
{
    (void)state;
    fx x;
    g_keepalive_s = 1;
    fx_start(&x, TOKEN, false, NULL);
    g_keepalive_s = 0;
    rest_res_msg *r = send_and_wait(&x, REST_GET, "/users/@me", NULL, 1);
    assert_int_equal(r->status, 200);
    r = send_and_wait(&x, REST_GET, "/users/@me", NULL, 2);
    assert_int_equal(r->status, 200);
    fake_rest_stats fs;
    fake_rest_stats_get(x.fake, &fs);
    assert_int_equal(fs.connections, 1); /* kept alive */
    struct timespec ts = {2, 500 * 1000 * 1000};
    nanosleep(&ts, NULL); /* the fake closes the idle connection after 1 s */
    r = send_and_wait(&x, REST_GET, "/users/@me", NULL, 3);
    assert_int_equal(r->status, 200);
    r = send_and_wait(&x, REST_GET, "/users/@me", NULL, 4);
    assert_int_equal(r->status, 200);
    fake_rest_stats_get(x.fake, &fs);
    assert_int_equal(fs.connections, 2);
    fx_stop(&x);
}

/* Easy handles are pooled and not reset between requests: one after another (so each reuses
 * the previous one's handle), requests of every shape must arrive with their own method, body,
 * content type, Authorization and audit reason, and nothing of the request before. */
static void test_pooled_handles_carry_nothing_over(void **state)
{
    (void)state;
    fx x;
    fx_start(&x, TOKEN, false, NULL);
    fake_rest_register_interaction(x.fake, 51, "ptok", 8, false);
    const char *edit = "{\"content\":\"pic\",\"attachments\":[{\"id\":0,\"filename\":\"p.png\"}]}";
    static const uint8_t png[] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n', 0, 1, 2, 3};

    assert_int_equal(
        send_and_wait(&x, REST_POST, "/interactions/51/ptok/callback", "{\"type\":5}", 1)->status,
        204);
    rest_req_msg *m = rest_req_msg_new(REST_PATCH, "/webhooks/4242/ptok/messages/@original", edit);
    rest_req_add_file(m, "p.png", "image/png", png, sizeof png);
    snprintf(m->audit_reason, sizeof m->audit_reason, "first");
    m->reply_to = x.col_actor;
    m->cookie = 2;
    assert_int_equal(rt_send_wait(discord_rest_actor(x.rest), &m->hdr, 1000), 0);
    assert_int_equal(col_wait(&x.col, 2, 10000), 2);
    assert_int_equal(col_get(&x.col, 2)->status, 200);
    assert_int_equal(
        send_and_wait(&x, REST_GET, "/webhooks/4242/ptok/messages/@original", NULL, 3)->status,
        200);
    assert_int_equal(send_and_wait(&x, REST_GET, "/users/@me", NULL, 4)->status, 200);
    assert_int_equal(send_and_wait(&x, REST_PATCH, "/webhooks/4242/ptok/messages/@original",
                                   "{\"content\":\"text\"}", 5)
                         ->status,
                     200);
    assert_int_equal(
        send_and_wait(&x, REST_DELETE, "/webhooks/4242/ptok/messages/@original", NULL, 6)->status,
        204);

    fake_rest_request *q;
    assert_int_equal(fake_rest_collect(x.fake, NULL, &q), 6);
    assert_string_equal(q[0].method, "POST");
    assert_string_equal(q[0].content_type, "application/json");
    assert_null(q[0].authorization);
    assert_string_equal(q[1].method, "PATCH");
    assert_non_null(strstr(q[1].content_type, "multipart/form-data"));
    assert_int_equal(q[1].nparts, 2);
    assert_int_equal(q[1].parts[1].len, sizeof png);
    assert_memory_equal(q[1].parts[1].data, png, sizeof png);
    assert_string_equal(q[1].audit_reason, "first");
    assert_null(q[1].authorization);
    for (int i = 2; i < 6; i++)
        assert_null(q[i].audit_reason); /* only the request that had one */
    assert_string_equal(q[2].method, "GET");
    assert_int_equal(q[2].body_len, 0);
    assert_null(q[2].content_type);
    assert_null(q[2].authorization);
    assert_string_equal(q[3].method, "GET");
    assert_int_equal(q[3].body_len, 0);
    assert_string_equal(q[3].authorization, "Bot " TOKEN);
    assert_string_equal(q[4].method, "PATCH");
    assert_string_equal(q[4].content_type, "application/json");
    assert_int_equal(q[4].nparts, 0);
    assert_int_equal(q[4].body_len, strlen("{\"content\":\"text\"}"));
    assert_memory_equal(q[4].body, "{\"content\":\"text\"}", q[4].body_len);
    assert_string_equal(q[5].method, "DELETE");
    assert_int_equal(q[5].body_len, 0);
    assert_null(q[5].content_type);
    fake_rest_requests_free(q, 6);
    fx_stop(&x);
}

/* A pooled handle keeps the API base parsed once and gets only a path and query per request;
 * paths curl would rewrite (a dot segment, a percent escape) go as a whole URL instead. Either
 * way, one after another on the same handle, each request reaches the path and query it names,
 * with nothing of the one before (a query left over, a path from the other way). */
static void test_paths_and_queries_arrive_as_sent(void **state)
{
    (void)state;
    fx x;
    fx_start(&x, TOKEN, false, NULL);
    fake_rest_register_interaction(x.fake, 61, "qtok", 8, false);
    assert_int_equal(
        send_and_wait(&x, REST_POST, "/interactions/61/qtok/callback", "{\"type\":5}", 1)->status,
        204);
    assert_int_equal(
        send_and_wait(&x, REST_POST, "/webhooks/4242/qtok?wait=true", "{\"content\":\"follow\"}", 2)
            ->status,
        200);
    assert_int_equal(send_and_wait(&x, REST_GET, "/users/@me", NULL, 3)->status, 200);
    assert_int_equal(send_and_wait(&x, REST_GET, "/users/./@me", NULL, 4)->status, 200);
    assert_int_equal(send_and_wait(&x, REST_GET, "/users/%40me", NULL, 5)->status, 200);
    assert_int_equal(
        send_and_wait(&x, REST_GET, "/webhooks/4242/qtok/messages/@original", NULL, 6)->status,
        200);
    assert_int_equal(send_and_wait(&x, REST_POST, "/webhooks/4242/qtok?thread_id=7",
                                   "{\"content\":\"again\"}", 7)
                         ->status,
                     200);

    fake_rest_request *q;
    assert_int_equal(fake_rest_collect(x.fake, NULL, &q), 7);
    assert_string_equal(q[0].path, "/interactions/61/qtok/callback");
    assert_null(q[0].query);
    assert_string_equal(q[1].path, "/webhooks/4242/qtok");
    assert_string_equal(q[1].query, "wait=true");
    assert_string_equal(q[2].path, "/users/@me");
    assert_null(q[2].query);                      /* nothing left of the request before */
    assert_string_equal(q[3].path, "/users/@me"); /* the dot segment removed, as curl does */
    assert_string_equal(q[4].path, "/users/@me"); /* %40 decoded by the server */
    assert_string_equal(q[5].path, "/webhooks/4242/qtok/messages/@original");
    assert_null(q[5].query);
    assert_string_equal(q[5].method, "GET");
    assert_string_equal(q[6].path, "/webhooks/4242/qtok");
    assert_string_equal(q[6].query, "thread_id=7");
    assert_string_equal(q[6].method, "POST");
    assert_memory_equal(q[6].body, "{\"content\":\"again\"}", q[6].body_len);
    for (int i = 0; i < 7; i++)
        assert_non_null(q[i].user_agent);
    fake_rest_requests_free(q, 7);
    fx_stop(&x);
}

static void test_burst_of_200_callbacks(void **state)
{
    (void)state;
    fx x;
    fx_start(&x, TOKEN, true, NULL);
    enum { N = 200 };
    char tok[32], path[96];
    for (int i = 0; i < N; i++) {
        snprintf(tok, sizeof tok, "burst%d", i);
        fake_rest_register_interaction(x.fake, 10000 + (uint64_t)i, tok, 3, false);
    }
    /* Every callback takes 150 ms to answer: one at a time would need 30 s. */
    fake_rest_script(x.fake, "POST", "/interactions/", FAKE_REST_FAULT_DELAY, 150, N);
    for (int i = 0; i < N; i++) {
        snprintf(path, sizeof path, "/interactions/%d/burst%d/callback", 10000 + i, i);
        send_req(&x, REST_POST, path, "{\"type\":5,\"data\":{\"flags\":64}}", (uint64_t)i);
    }
    assert_int_equal(col_wait(&x.col, N, 10000), N);
    int64_t worst = 0;
    for (int i = 0; i < N; i++) {
        assert_int_equal(col_get(&x.col, (uint64_t)i)->status, 204);
        fake_rest_ix_state is;
        assert_true(fake_rest_interaction_state(x.fake, 10000 + (uint64_t)i, &is));
        assert_int_equal(is.ack_type, 5);
        assert_false(is.late);
        if (is.ack_ms > worst) worst = is.ack_ms;
        free(is.original_json);
    }
    assert_true(worst < 3000);
    print_message("burst: slowest of %d callbacks acknowledged %lld ms after injection\n", N,
                  (long long)worst);
    fx_stop(&x);
}

static void test_timeout_and_bounded_response(void **state)
{
    (void)state;
    discord_rest_config over = {.timeout_ms = 300, .max_response = 100};
    fx x;
    fx_start(&x, TOKEN, false, &over);
    /* GET /gateway answers {"url": ...}, well under 100 bytes */
    fake_rest_script(x.fake, "GET", "/gateway", FAKE_REST_FAULT_DELAY, 800, 1);
    rest_res_msg *r = send_and_wait(&x, REST_GET, "/gateway", NULL, 1);
    assert_int_equal(r->status, 200); /* timed out once, then answered */
    assert_int_equal(fake_rest_count(x.fake, NULL), 2);
    r = send_and_wait(&x, REST_GET, "/gateway/bot", NULL, 2); /* body > 100 bytes */
    assert_int_equal(r->status, 0);
    assert_string_equal(r->error, "response too large");
    r = send_and_wait(&x, REST_GET, "bad path", NULL, 3);
    assert_int_equal(r->status, 0);
    assert_string_equal(r->error, "invalid API path");
    fx_stop(&x);
}

static void test_graceful_stop_finishes_in_flight(void **state)
{
    (void)state;
    fx x;
    fx_start(&x, TOKEN, false, NULL);
    char tok[32], path[96];
    for (int i = 0; i < 20; i++) {
        snprintf(tok, sizeof tok, "stop%d", i);
        fake_rest_register_interaction(x.fake, 500 + (uint64_t)i, tok, 3, false);
    }
    fake_rest_script(x.fake, "POST", "/interactions/", FAKE_REST_FAULT_DELAY, 300, 20);
    for (int i = 0; i < 20; i++) {
        snprintf(path, sizeof path, "/interactions/%d/stop%d/callback", 500 + i, i);
        send_req(&x, REST_POST, path, "{\"type\":5}", (uint64_t)i);
    }
    fake_rest_wait(x.fake, &(fake_rest_filter){.path_prefix = "/interactions"}, 1, 2000);
    rt_system_stop(x.sys); /* REST stops before the collector: it must finish first */
    assert_int_equal(x.col.n, 20);
    for (size_t i = 0; i < 20; i++)
        assert_int_equal(x.col.res[i]->status, 204);
    fx_stop(&x);
}

/* ---- per-message order, final writes, delivery deadlines --------------------------------------
 */

static void send_write(fx *x, rest_method m, const char *path, const char *json, uint64_t cookie,
                       bool final, uint64_t until)
{
    rest_req_msg *r = rest_req_msg_new(m, path, json);
    r->reply_to = x->col_actor;
    r->cookie = cookie;
    r->final_write = final;
    r->deliver_until_ms = until;
    assert_int_equal(rt_send_wait(discord_rest_actor(x->rest), &r->hdr, 1000), 0);
}

static void deferred(fx *x, uint64_t id, const char *token, uint64_t cookie)
{
    fake_rest_register_interaction(x->fake, id, token, 1, false);
    char path[128];
    snprintf(path, sizeof path, "/interactions/%llu/%s/callback", (unsigned long long)id, token);
    assert_int_equal(send_and_wait(x, REST_POST, path, "{\"type\":5}", cookie)->status, 204);
}

static char *original_of(fx *x, uint64_t id)
{
    fake_rest_ix_state is;
    assert_true(fake_rest_interaction_state(x->fake, id, &is));
    return is.original_json;
}

/* A progress edit that gets a 503 is retried after a backoff; a later edit of the same message
 * must still land after it, or the message ends on the stale progress text. */
static void test_writes_to_one_message_keep_their_order(void **state)
{
    (void)state;
    fx x;
    fx_start(&x, TOKEN, false, NULL);
    deferred(&x, 801, "ord", 1);
    const char *path = "/webhooks/4242/ord/messages/@original";
    fake_rest_script(x.fake, "PATCH", "/webhooks/4242/ord", FAKE_REST_FAULT_503, 0, 1);
    send_write(&x, REST_PATCH, path, "{\"content\":\"Preparing 0%\"}", 2, false, 0);
    send_write(&x, REST_PATCH, path, "{\"content\":\"FAILED\"}", 3, false, 0);
    assert_true(col_wait(&x.col, 3, 10000) >= 3);
    assert_int_equal(col_get(&x.col, 2)->status, 200);
    assert_int_equal(col_get(&x.col, 3)->status, 200);
    char *orig = original_of(&x, 801);
    assert_non_null(orig);
    assert_non_null(strstr(orig, "FAILED"));
    free(orig);
    /* and on the wire: the first edit's retry before the second edit */
    fake_rest_request *reqs = NULL;
    size_t n =
        fake_rest_collect(x.fake, &(fake_rest_filter){.method = "PATCH", .status = 200}, &reqs);
    assert_int_equal(n, 2);
    assert_non_null(strstr((const char *)reqs[0].body, "Preparing"));
    assert_non_null(strstr((const char *)reqs[1].body, "FAILED"));
    fake_rest_requests_free(reqs, n);
    fx_stop(&x);
}

/* After a message's final write, later non-final writes never reach it; writes queued before
 * it and not yet sent are dropped in its favour; another final write still goes. */
static void test_final_write_closes_the_message(void **state)
{
    (void)state;
    fx x;
    fx_start(&x, TOKEN, false, NULL);
    deferred(&x, 802, "fin", 1);
    const char *path = "/webhooks/4242/fin/messages/@original";
    fake_rest_script(x.fake, "PATCH", "/webhooks/4242/fin", FAKE_REST_FAULT_DELAY, 300, 1);
    send_write(&x, REST_PATCH, path, "{\"content\":\"p1\"}", 2, false, 0); /* in flight */
    for (int i = 0; i < 1000; i++) {
        discord_rest_counters st;
        discord_rest_counters_get(x.rest, &st);
        if (st.in_flight == 1) break;
        util_sleep_ms(5);
    }
    send_write(&x, REST_PATCH, path, "{\"content\":\"p2\"}", 3, false, 0); /* queued */
    send_write(&x, REST_PATCH, path, "{\"content\":\"RESULT\"}", 4, true, 0);
    assert_true(col_wait(&x.col, 4, 10000) >= 4);
    send_write(&x, REST_PATCH, path, "{\"content\":\"late progress\"}", 5, false, 0);
    assert_true(col_wait(&x.col, 5, 10000) >= 5);
    assert_int_equal(col_get(&x.col, 2)->status, 200);
    assert_int_equal(col_get(&x.col, 3)->status, 0);
    assert_non_null(strstr(col_get(&x.col, 3)->error, "superseded"));
    assert_int_equal(col_get(&x.col, 4)->status, 200);
    assert_int_equal(col_get(&x.col, 5)->status, 0);
    char *orig = original_of(&x, 802);
    assert_non_null(strstr(orig, "RESULT"));
    free(orig);
    assert_int_equal(fake_rest_count(x.fake, &(fake_rest_filter){.method = "PATCH"}), 2);
    send_write(&x, REST_PATCH, path, "{\"content\":\"NOTICE\"}", 6, true, 0);
    assert_true(col_wait(&x.col, 6, 10000) >= 6);
    assert_int_equal(col_get(&x.col, 6)->status, 200);
    orig = original_of(&x, 802);
    assert_non_null(strstr(orig, "NOTICE"));
    free(orig);
    discord_rest_counters st;
    discord_rest_counters_get(x.rest, &st);
    assert_int_equal(st.superseded, 2);
    fx_stop(&x);
}

/* A request with a delivery deadline outlasts a 5xx outage longer than the bounded retries;
 * past the deadline it fails with the last status. */
/* Frees every answer collected so far (for tests with more than the collector holds). */
static void col_drain(collector *c)
{
    pthread_mutex_lock(&c->mu);
    for (size_t i = 0; i < c->n; i++)
        rt_msg_free(&c->res[i]->hdr);
    c->n = 0;
    pthread_mutex_unlock(&c->mu);
}

/* The actor remembers the last 1024 messages closed by a final write (indexed by hash): after
 * more than that, the oldest are forgotten (a write to them goes out again) while the newest
 * still refuse non-final writes. Exercises the ring's wrap-around and the hash chains' upkeep. */
static void test_closed_messages_forgotten_oldest_first(void **state)
{
    (void)state;
    fx x;
    fx_start(&x, TOKEN, false, NULL);
    char path[128];
    const unsigned batch = 350, batches = 3; /* 1050 messages closed, 1024 remembered */
    for (unsigned b = 0; b < batches; b++) {
        for (unsigned i = 0; i < batch; i++) {
            snprintf(path, sizeof path, "/webhooks/4242/ctok%u/messages/@original", b * batch + i);
            send_write(&x, REST_PATCH, path, "{\"content\":\"final\"}", 1000 + b * batch + i, true,
                       0);
        }
        assert_int_equal(col_wait(&x.col, batch, 20000), batch);
        col_drain(&x.col);
    }
    send_write(&x, REST_PATCH, "/webhooks/4242/ctok0/messages/@original", "{\"content\":\"late\"}",
               1, false, 0);
    send_write(&x, REST_PATCH, "/webhooks/4242/ctok30/messages/@original", "{\"content\":\"late\"}",
               2, false, 0);
    send_write(&x, REST_PATCH, "/webhooks/4242/ctok1049/messages/@original",
               "{\"content\":\"late\"}", 3, false, 0);
    assert_int_equal(col_wait(&x.col, 3, 10000), 3);
    assert_int_not_equal(col_get(&x.col, 1)->status, 0); /* forgotten: sent (the fake's 404) */
    assert_null(strstr(col_get(&x.col, 1)->error, "superseded"));
    assert_int_equal(col_get(&x.col, 2)->status, 0); /* 1050 - 30 < 1024: still closed */
    assert_non_null(strstr(col_get(&x.col, 2)->error, "superseded"));
    assert_int_equal(col_get(&x.col, 3)->status, 0);
    assert_non_null(strstr(col_get(&x.col, 3)->error, "superseded"));
    discord_rest_counters st;
    discord_rest_counters_get(x.rest, &st);
    assert_int_equal(st.superseded, 2);
    fx_stop(&x);
}

static void test_deliver_until_outlasts_an_outage(void **state)
{
    (void)state;
    fx x;
    fx_start(&x, TOKEN, false, NULL);
    deferred(&x, 803, "dl", 1);
    const char *path = "/webhooks/4242/dl/messages/@original";
    fake_rest_script(x.fake, "PATCH", "/webhooks/4242/dl", FAKE_REST_FAULT_503, 0, 8);
    send_write(&x, REST_PATCH, path, "{\"content\":\"RESULT\"}", 2, true, rt_now_ms() + 20000);
    assert_true(col_wait(&x.col, 2, 20000) >= 2);
    assert_int_equal(col_get(&x.col, 2)->status, 200);
    assert_int_equal(fake_rest_count(x.fake, &(fake_rest_filter){.method = "PATCH"}), 9);
    /* bounded: the same outage without a deadline fails after 1 + 3 attempts */
    fake_rest_script(x.fake, "PATCH", "/webhooks/4242/dl", FAKE_REST_FAULT_503, 0, 8);
    send_write(&x, REST_PATCH, path, "{\"content\":\"again\"}", 3, true, 0);
    assert_true(col_wait(&x.col, 3, 20000) >= 3);
    assert_int_equal(col_get(&x.col, 3)->status, 503);
    /* a deadline that passes during the outage ends the retries */
    fake_rest_script(x.fake, "PATCH", "/webhooks/4242/dl", FAKE_REST_FAULT_503, 0, 1000);
    uint64_t t0 = rt_now_ms();
    send_write(&x, REST_PATCH, path, "{\"content\":\"never\"}", 4, true, t0 + 400);
    assert_true(col_wait(&x.col, 4, 20000) >= 4);
    assert_int_equal(col_get(&x.col, 4)->status, 503);
    assert_true(fake_rest_count(x.fake, &(fake_rest_filter){.method = "PATCH", .status = 503}) >=
                8 + 4 + 4);
    fx_stop(&x);
}

/* A request chained with `then` is sent only once the first has its answer: a late refusal
 * deletes the deferred message first, then posts the ephemeral follow-up. */
static void test_then_is_sent_after_the_first_answer(void **state)
{
    (void)state;
    fx x;
    fx_start(&x, TOKEN, false, NULL);
    deferred(&x, 804, "then", 1);
    fake_rest_script(x.fake, "DELETE", "/webhooks/4242/then", FAKE_REST_FAULT_DELAY, 300, 1);
    rest_req_msg *del =
        rest_req_msg_new(REST_DELETE, "/webhooks/4242/then/messages/@original", NULL);
    del->then = rest_req_msg_new(REST_POST, "/webhooks/4242/then",
                                 "{\"content\":\"refused\",\"flags\":64}");
    del->then->reply_to = x.col_actor;
    del->then->cookie = 2;
    assert_int_equal(rt_send_wait(discord_rest_actor(x.rest), &del->hdr, 1000), 0);
    assert_true(col_wait(&x.col, 2, 10000) >= 2);
    assert_int_equal(col_get(&x.col, 2)->status, 200);
    fake_rest_request *reqs = NULL;
    size_t n =
        fake_rest_collect(x.fake, &(fake_rest_filter){.path_prefix = "/webhooks/4242/then"}, &reqs);
    assert_int_equal(n, 2);
    assert_string_equal(reqs[0].method, "DELETE");
    assert_string_equal(reqs[1].method, "POST");
    assert_true(reqs[1].t_ms >= reqs[0].t_ms + 250); /* after the delayed answer, not beside it */
    fake_rest_requests_free(reqs, n);
    fx_stop(&x);
}

/* A peer that dies mid-response (headers and half the body, then a close): curl reports a
 * partial transfer on that socket, the request is retried with backoff on a new connection and
 * succeeds; one that keeps dying is reported after the bounded retries, with curl's reason. */
static void test_answer_cut_mid_body_is_retried(void **state)
{
    (void)state;
    fx x;
    fx_start(&x, TOKEN, false, NULL);
    deferred(&x, 901, "cut", 1);
    const char *path = "/webhooks/4242/cut/messages/@original";
    fake_rest_script(x.fake, "PATCH", "/webhooks/4242/cut", FAKE_REST_FAULT_TRUNCATE, 0, 1);
    rest_res_msg *r = send_and_wait(&x, REST_PATCH, path, "{\"content\":\"first\"}", 2);
    assert_int_equal(r->status, 200);
    assert_non_null(r->body);
    assert_non_null(strstr(r->body, "first")); /* the whole answer of the retry */
    assert_int_equal(fake_rest_count(x.fake, &(fake_rest_filter){.method = "PATCH"}), 2);
    discord_rest_counters st;
    discord_rest_counters_get(x.rest, &st);
    assert_true(st.network_errors >= 1);
    assert_true(st.retries >= 1);

    fake_rest_script(x.fake, "PATCH", "/webhooks/4242/cut", FAKE_REST_FAULT_TRUNCATE, 0, 100);
    r = send_and_wait(&x, REST_PATCH, path, "{\"content\":\"second\"}", 3);
    assert_int_equal(r->status, 0);
    assert_true(r->error[0] != '\0');
    /* the first attempt and max_retries (3) more */
    assert_int_equal(fake_rest_count(x.fake, &(fake_rest_filter){.method = "PATCH"}), 2 + 4);
    /* and the connection pool is still usable afterwards */
    r = send_and_wait(&x, REST_GET, "/users/@me", NULL, 4);
    assert_int_equal(r->status, 200);
    fx_stop(&x);
}

/* Many requests at once on a fake that enforces its buckets (5 per second per route, real 429s
 * beyond): the limiter lets each bucket's requests go only as its headers allow, so none gets a
 * 429, and every request is answered once. */
static void test_buckets_hold_with_many_in_flight(void **state)
{
    (void)state;
    fx x;
    fx_start(&x, TOKEN, true, NULL);
    enum { N = 12 };
    for (int i = 0; i < N; i++)
        send_req(&x, REST_POST, "/channels/77/messages", "{\"content\":\"hello\"}",
                 (uint64_t)i + 1);
    assert_int_equal(col_wait(&x.col, N, 15000), N);
    for (int i = 0; i < N; i++)
        assert_int_equal(col_get(&x.col, (uint64_t)i + 1)->status, 200);
    assert_int_equal(fake_rest_count(x.fake, &(fake_rest_filter){.status = 429}), 0);
    assert_int_equal(fake_rest_count(x.fake, &(fake_rest_filter){.method = "POST"}), N);
    discord_rest_counters st;
    discord_rest_counters_get(x.rest, &st);
    assert_int_equal(st.r429_user + st.r429_shared + st.r429_global, 0);
    assert_true(st.wait_ms > 0); /* some of them waited for the bucket's reset */
    fx_stop(&x);
}

/* Two waves of 120 slow requests (more than the 64 that may be in flight), with the fake closing
 * every idle connection between them: curl opens new connections whose descriptors reuse the
 * numbers of the closed ones, and the epoll registrations (kept while a connection is idle,
 * dropped when it closes) must follow, or a wave hangs on a socket nobody watches. */
static void test_waves_over_reused_descriptors(void **state)
{
    (void)state;
    fx x;
    g_keepalive_s = 1;
    fx_start(&x, TOKEN, false, NULL);
    g_keepalive_s = 0;
    enum { N = 120 };
    char tok[32], path[96];
    for (int w = 0; w < 2; w++) {
        for (int i = 0; i < N; i++) {
            snprintf(tok, sizeof tok, "wave%d_%d", w, i);
            fake_rest_register_interaction(x.fake, 20000 + (uint64_t)(w * N + i), tok, 3, false);
        }
        fake_rest_script(x.fake, "POST", "/interactions/", FAKE_REST_FAULT_DELAY, 100, N);
        size_t before = x.col.n;
        for (int i = 0; i < N; i++) {
            snprintf(path, sizeof path, "/interactions/%d/wave%d_%d/callback", 20000 + w * N + i, w,
                     i);
            send_req(&x, REST_POST, path, "{\"type\":5}", (uint64_t)(w * N + i + 1));
        }
        assert_int_equal(col_wait(&x.col, before + N, 20000), before + N);
        for (int i = 0; i < N; i++)
            assert_int_equal(col_get(&x.col, (uint64_t)(w * N + i + 1))->status, 204);
        if (w == 0) {
            struct timespec ts = {2, 500 * 1000 * 1000};
            nanosleep(&ts, NULL); /* the fake closes every idle connection after 1 s */
        }
    }
    fake_rest_stats fs;
    fake_rest_stats_get(x.fake, &fs);
    assert_true(fs.connections > 64); /* the second wave did open new connections */
    discord_rest_counters st;
    discord_rest_counters_get(x.rest, &st);
    assert_int_equal(st.completed, 2 * N + 0u);
    assert_int_equal(st.in_flight, 0);
    fx_stop(&x);
}

/* Fire and forget: edits nobody waits for (no reply_to). */
static void send_unawaited(fx *x, const char *path, const char *json)
{
    rest_req_msg *r = rest_req_msg_new(REST_PATCH, path, json);
    assert_int_equal(rt_send_wait(discord_rest_actor(x->rest), &r->hdr, 1000), 0);
}

/* Waits until the actor has settled `n` requests (completed or failed) and has none in flight. */
static void settled(fx *x, uint64_t n)
{
    discord_rest_counters st;
    for (int i = 0; i < 1000; i++) {
        discord_rest_counters_get(x->rest, &st);
        if (st.completed + st.failed >= n && st.in_flight == 0 && st.pending == 0) return;
        struct timespec ts = {0, 10 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    fail_msg("%" PRIu64 " requests settled, %" PRIu64 " in flight, %" PRIu64 " queued",
             st.completed + st.failed, st.in_flight, st.pending);
}

/* Answers nobody waits for are read and settled when nothing else happens, one after another
 * and in a burst; an unawaited edit that gets a 503 or a cut answer is retried; one that times
 * out is retried on curl's timer. */
static void test_unawaited_answers_are_settled(void **state)
{
    (void)state;
    discord_rest_config over = {.timeout_ms = 400};
    fx x;
    fx_start(&x, TOKEN, false, &over);
    deferred(&x, 1001, "faf", 1); /* 1 request settled */
    const char *path = "/webhooks/4242/faf/messages/@original";
    char json[64];
    for (int i = 0; i < 10; i++) { /* one at a time: nothing else wakes the actor */
        snprintf(json, sizeof json, "{\"content\":\"step %d\"}", i);
        send_unawaited(&x, path, json);
        settled(&x, 2 + (uint64_t)i);
    }
    fake_rest_ix_state is;
    assert_true(fake_rest_interaction_state(x.fake, 1001, &is));
    assert_int_equal(is.edits, 10);
    assert_non_null(strstr(is.original_json, "step 9"));
    free(is.original_json);

    /* a burst to ten other interactions */
    char tok[32], p2[96];
    for (int i = 0; i < 10; i++) {
        snprintf(tok, sizeof tok, "fafb%d", i);
        deferred(&x, 1100 + (uint64_t)i, tok, 100 + (uint64_t)i);
    }
    for (int i = 0; i < 10; i++) {
        snprintf(p2, sizeof p2, "/webhooks/4242/fafb%d/messages/@original", i);
        send_unawaited(&x, p2, "{\"content\":\"burst\"}");
    }
    settled(&x, 11 + 10 + 10);
    for (int i = 0; i < 10; i++) {
        assert_true(fake_rest_interaction_state(x.fake, 1100 + (uint64_t)i, &is));
        assert_int_equal(is.edits, 1);
        free(is.original_json);
    }

    /* failures of unawaited requests: retried as before */
    fake_rest_script(x.fake, "PATCH", "/webhooks/4242/faf/", FAKE_REST_FAULT_503, 0, 1);
    send_unawaited(&x, path, "{\"content\":\"after a 503\"}");
    settled(&x, 32);
    fake_rest_script(x.fake, "PATCH", "/webhooks/4242/faf/", FAKE_REST_FAULT_TRUNCATE, 0, 1);
    send_unawaited(&x, path, "{\"content\":\"after a cut\"}");
    settled(&x, 33);
    fake_rest_script(x.fake, "PATCH", "/webhooks/4242/faf/", FAKE_REST_FAULT_DELAY, 900, 1);
    send_unawaited(&x, path, "{\"content\":\"after a timeout\"}");
    settled(&x, 34);
    discord_rest_counters st;
    discord_rest_counters_get(x.rest, &st);
    assert_int_equal(st.completed, 34);
    assert_int_equal(st.failed, 0);
    assert_true(st.retries >= 3);
    assert_int_equal(
        fake_rest_count(x.fake, &(fake_rest_filter){.path_prefix = "/webhooks/4242/faf/"}),
        10 + 2 + 2 + 2);
    assert_true(fake_rest_interaction_state(x.fake, 1001, &is));
    assert_non_null(strstr(is.original_json, "after a timeout"));
    free(is.original_json);
    fx_stop(&x);
}

/* An awaited write queued behind an unawaited write to the same message (which takes 300 ms to
 * be answered) is sent once that answer is in, in order, and answered; and a stop with
 * unawaited writes in flight finishes them. */
static void test_awaited_write_behind_an_unawaited_one(void **state)
{
    (void)state;
    fx x;
    fx_start(&x, TOKEN, false, NULL);
    deferred(&x, 1201, "lzord", 1);
    const char *path = "/webhooks/4242/lzord/messages/@original";
    fake_rest_script(x.fake, "PATCH", "/webhooks/4242/lzord", FAKE_REST_FAULT_DELAY, 300, 1);
    send_unawaited(&x, path, "{\"content\":\"progress\"}");
    fake_rest_wait(x.fake, &(fake_rest_filter){.method = "PATCH"}, 1, 2000);
    rest_res_msg *r = send_and_wait(&x, REST_PATCH, path, "{\"content\":\"result\"}", 2);
    assert_int_equal(r->status, 200);
    char *orig = original_of(&x, 1201);
    assert_non_null(strstr(orig, "result"));
    free(orig);
    fake_rest_request *reqs = NULL;
    size_t n = fake_rest_collect(x.fake, &(fake_rest_filter){.method = "PATCH"}, &reqs);
    assert_int_equal(n, 2);
    assert_non_null(strstr((const char *)reqs[0].body, "progress"));
    assert_non_null(strstr((const char *)reqs[1].body, "result"));
    fake_rest_requests_free(reqs, n);

    fake_rest_script(x.fake, "PATCH", "/webhooks/4242/lzord", FAKE_REST_FAULT_DELAY, 300, 3);
    for (int i = 0; i < 3; i++)
        send_unawaited(&x, path, "{\"content\":\"last\"}");
    fake_rest_wait(x.fake, &(fake_rest_filter){.method = "PATCH"}, 3, 2000);
    rt_system_stop(x.sys);
    discord_rest_counters st;
    discord_rest_counters_get(x.rest, &st);
    assert_int_equal(st.completed, 1 + 2 + 3);
    assert_int_equal(st.in_flight, 0);
    fx_stop(&x);
}

int main(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_headers_and_registration),
        cmocka_unit_test(test_429_every_scope),
        cmocka_unit_test(test_429_global_hour_does_not_mute),
        cmocka_unit_test(test_5xx_and_network_retries),
        cmocka_unit_test(test_401_stops_the_bot),
        cmocka_unit_test(test_multipart_upload_byte_identical),
        cmocka_unit_test(test_multipart_large_and_colliding_files),
        cmocka_unit_test(test_idle_connection_closed_by_the_server),
        cmocka_unit_test(test_pooled_handles_carry_nothing_over),
        cmocka_unit_test(test_paths_and_queries_arrive_as_sent),
        cmocka_unit_test(test_burst_of_200_callbacks),
        cmocka_unit_test(test_timeout_and_bounded_response),
        cmocka_unit_test(test_graceful_stop_finishes_in_flight),
        cmocka_unit_test(test_writes_to_one_message_keep_their_order),
        cmocka_unit_test(test_final_write_closes_the_message),
        cmocka_unit_test(test_closed_messages_forgotten_oldest_first),
        cmocka_unit_test(test_deliver_until_outlasts_an_outage),
        cmocka_unit_test(test_then_is_sent_after_the_first_answer),
        cmocka_unit_test(test_answer_cut_mid_body_is_retried),
        cmocka_unit_test(test_buckets_hold_with_many_in_flight),
        cmocka_unit_test(test_waves_over_reused_descriptors),
        cmocka_unit_test(test_unawaited_answers_are_settled),
        cmocka_unit_test(test_awaited_write_behind_an_unawaited_one),
    };
    int rc = _cmocka_run_group_tests("discord_rest_on_its_own_worker", tests,
                                     sizeof tests / sizeof tests[0], NULL, NULL);
    g_shared = true;
    rc += _cmocka_run_group_tests("discord_rest_on_a_shared_worker", tests,
                                  sizeof tests / sizeof tests[0], NULL, NULL);
    curl_global_cleanup();
    return rc;
}
