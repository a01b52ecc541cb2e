/* fluxbot-test: tsan */
/*
 * The Prometheus exporter over a real loopback socket: a scrape of a running system is
 * well-formed and shows each actor's counters with the values the test caused; the analytics
 * writer's rows appear once committed; HEAD, 404, 405, 400 and oversized requests get the
 * right status; a client that sends nothing cannot block scrapes beyond the I/O timeout;
 * collectors added while serving show up; stop is clean.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <math.h>
#include <netinet/in.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "actors/analytics_writer.h"
#include "analytics/an_record.h"
#include "app/metrics.h"
#include "fluxbot/log.h"
#include "fluxbot/runtime.h"
#include "test_metrics_check.h"

enum { MSG_T = 901 };

static int connect_to(uint16_t port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    struct sockaddr_in a = {0};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons(port);
    assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof a), 0);
    struct timeval tv = {10, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    return fd;
}

/* Sends raw request bytes, reads until the server closes; returns the malloc'd response. */
static char *http_raw(uint16_t port, const char *req, size_t reqlen)
{
    int fd = connect_to(port);
    assert_int_equal(send(fd, req, reqlen, MSG_NOSIGNAL), (ssize_t)reqlen);
    size_t cap = 1 << 16, len = 0;
    char *buf = malloc(cap);
    for (;;) {
        if (len + 1 == cap) buf = realloc(buf, cap *= 2);
        ssize_t n = recv(fd, buf + len, cap - len - 1, 0);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        len += (size_t)n;
    }
    buf[len] = 0;
    close(fd);
    return buf;
}

static char *http_get(uint16_t port, const char *method, const char *path)
{
    char req[512];
    int n = snprintf(req, sizeof req, "%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: */*\r\n\r\n",
                     method, path);
    return http_raw(port, req, (size_t)n);
}

static int status_of(const char *resp)
{
    int code = 0;
    sscanf(resp, "HTTP/1.1 %d", &code);
    return code;
}

/* Splits a 200 response; checks Content-Length against the body; returns the body. */
static const char *body_of(const char *resp)
{
    const char *b = strstr(resp, "\r\n\r\n");
    assert_non_null(b);
    b += 4;
    const char *cl = strstr(resp, "Content-Length: ");
    assert_non_null(cl);
    assert_int_equal((size_t)strtoul(cl + 16, NULL, 10), strlen(b));
    return b;
}

/* ---- a small system: "pinger" sends N messages to "echo" ------------------------------- */

typedef struct echo_state {
    atomic_uint count;
} echo_state;

static void echo_on_message(rt_actor *self, void *st, rt_msg *m)
{
    (void)self;
    echo_state *s = st;
    atomic_fetch_add(&s->count, 1);
    rt_msg_free(m);
}

static void sleep_ms(unsigned ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static void test_scrape_shows_actor_counters(void **state)
{
    (void)state;
    rt_system *sys = rt_system_new();
    echo_state es = {0};
    rt_actor_spec spec = {.name = "echo", .threads = 1, .lane_capacity = 64, .state = &es};
    spec.ops.on_message = echo_on_message;
    rt_actor *echo = rt_actor_new(sys, &spec);
    rt_actor_spec spec2 = spec;
    spec2.name = "quiet";
    echo_state qs = {0};
    spec2.state = &qs;
    assert_non_null(rt_actor_new(sys, &spec2));
    assert_int_equal(rt_system_start(sys), 0);

    char err[256];
    metrics_server *ms = metrics_start(0, err, sizeof err);
    assert_non_null(ms);
    assert_true(metrics_port(ms) > 0);
    metrics_sources src = {.sys = sys};
    assert_int_equal(metrics_add_sources(ms, &src), 0);

    const unsigned N = 300;
    for (unsigned i = 0; i < N; i++)
        assert_int_equal(rt_send_wait(echo, rt_msg_new(MSG_T, sizeof(rt_msg), NULL), 1000), 0);
    for (int i = 0; i < 500 && atomic_load(&es.count) < N; i++)
        sleep_ms(2);
    assert_int_equal(atomic_load(&es.count), N);

    char *resp = http_get(metrics_port(ms), "GET", "/metrics");
    assert_int_equal(status_of(resp), 200);
    assert_non_null(strstr(resp, "Content-Type: text/plain; version=0.0.4"));
    const char *body = body_of(resp);
    char where[512];
    const char *bad = mc_validate(body, where, sizeof where);
    if (bad) fail_msg("%s: %s", bad, where);
    assert_float_equal(mc_value(body, "fluxbot_actor_messages_processed_total{actor=\"echo\"}"), N,
                       0);
    assert_float_equal(mc_value(body, "fluxbot_actor_messages_received_total{actor=\"echo\"}"), N,
                       0);
    assert_float_equal(mc_value(body, "fluxbot_actor_messages_processed_total{actor=\"quiet\"}"), 0,
                       0);
    assert_float_equal(mc_value(body, "fluxbot_actor_mailbox_depth{actor=\"echo\"}"), 0, 0);
    assert_true(mc_value(body, "fluxbot_actor_mailbox_depth_max{actor=\"echo\"}") >= 1);
    assert_true(mc_value(body, "fluxbot_actor_busy_seconds_total{actor=\"echo\"}") >= 0);
    assert_false(isnan(mc_value(body, "fluxbot_actor_parks_total{actor=\"quiet\"}")));
    assert_false(isnan(mc_value(body, "fluxbot_actor_wakeups_total{actor=\"echo\"}")));
    assert_false(isnan(mc_value(body, "fluxbot_actor_mailbox_spills_total{actor=\"echo\"}")));
    assert_false(isnan(mc_value(body, "fluxbot_actor_mailbox_full_total{actor=\"echo\"}")));
    assert_false(
        isnan(mc_value(body, "fluxbot_actor_queue_latency_seconds_count{actor=\"echo\"}")));
    assert_true(mc_value(body, "process_resident_memory_bytes") > 0);
    assert_true(mc_value(body, "process_threads") >= 3);
    assert_true(mc_value(body, "process_open_fds") >= 3);
    assert_float_equal(mc_value(body, "fluxbot_metrics_scrapes_total"), 1, 0);
    free(resp);

    /* HEAD: same headers, no body. */
    resp = http_get(metrics_port(ms), "HEAD", "/metrics");
    assert_int_equal(status_of(resp), 200);
    const char *hb = strstr(resp, "\r\n\r\n");
    assert_non_null(hb);
    assert_string_equal(hb + 4, "");
    free(resp);

    /* A query string is fine. */
    resp = http_get(metrics_port(ms), "GET", "/metrics?name[]=x");
    assert_int_equal(status_of(resp), 200);
    assert_float_equal(mc_value(body_of(resp), "fluxbot_metrics_scrapes_total"), 3, 0);
    free(resp);

    metrics_stop(ms);
    rt_system_free(sys);
}

static void test_http_errors(void **state)
{
    (void)state;
    char err[256];
    metrics_server *ms = metrics_start(0, err, sizeof err);
    assert_non_null(ms);
    uint16_t port = metrics_port(ms);

    char *r = http_get(port, "GET", "/");
    assert_int_equal(status_of(r), 404);
    free(r);
    r = http_get(port, "GET", "/metricsx");
    assert_int_equal(status_of(r), 404);
    free(r);
    r = http_get(port, "POST", "/metrics");
    assert_int_equal(status_of(r), 405);
    assert_non_null(strstr(r, "Allow: GET, HEAD"));
    free(r);
    const char *junk = "GARBAGE\r\n\r\n";
    r = http_raw(port, junk, strlen(junk));
    assert_int_equal(status_of(r), 400);
    free(r);
    const char *badver = "GET /metrics HTTP/2.0\r\n\r\n";
    r = http_raw(port, badver, strlen(badver));
    assert_int_equal(status_of(r), 400);
    free(r);
    const char *lower = "get /metrics HTTP/1.1\r\n\r\n";
    r = http_raw(port, lower, strlen(lower));
    assert_int_equal(status_of(r), 400);
    free(r);

    /* Headers that never end within the limit: 431, and the server keeps serving. */
    size_t big = METRICS_MAX_REQUEST + 100;
    char *huge = malloc(big);
    memcpy(huge, "GET /metrics HTTP/1.1\r\nX: ", 26);
    memset(huge + 26, 'a', big - 26);
    r = http_raw(port, huge, big);
    assert_int_equal(status_of(r), 431);
    free(r);
    free(huge);

    /* The pure classifier on a request split at every byte: incomplete until the end. */
    const char *full = "GET /metrics HTTP/1.0\r\nHost: x\r\n\r\n";
    for (size_t i = 0; i < strlen(full); i++)
        assert_int_equal(metrics_http_route(full, i), METRICS_ROUTE_INCOMPLETE);
    assert_int_equal(metrics_http_route(full, strlen(full)), METRICS_ROUTE_METRICS);

    r = http_get(port, "GET", "/metrics");
    assert_int_equal(status_of(r), 200);
    free(r);
    metrics_stop(ms);
}

static void test_silent_client_does_not_block(void **state)
{
    (void)state;
    char err[256];
    metrics_server *ms = metrics_start(0, err, sizeof err);
    assert_non_null(ms);
    int idle = connect_to(metrics_port(ms));
    assert_int_equal(send(idle, "GET /met", 8, 0), 8);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    char *r = http_get(metrics_port(ms), "GET", "/metrics");
    clock_gettime(CLOCK_MONOTONIC, &t1);
    assert_int_equal(status_of(r), 200);
    double waited = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    assert_true(waited < 6.0); /* the idle client is dropped after the 2 s timeout */
    free(r);
    /* The silent client got nothing and was closed. */
    char c;
    struct timeval tv = {5, 0};
    setsockopt(idle, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    assert_int_equal(recv(idle, &c, 1, 0), 0);
    close(idle);
    metrics_stop(ms);
}

static void custom_collector(mfmt *out, void *ctx)
{
    mfmt_family(out, "fluxbot_custom", "gauge", "from a late collector");
    mfmt_label l = {"who", (const char *)ctx};
    mfmt_sample_u64(out, "fluxbot_custom", NULL, &l, 1, 42);
}

static void test_port_in_use_and_late_collector(void **state)
{
    (void)state;
    char err[256];
    metrics_server *a = metrics_start(0, err, sizeof err);
    assert_non_null(a);
    metrics_server *b = metrics_start(metrics_port(a), err, sizeof err);
    assert_null(b);
    assert_non_null(strstr(err, "metrics_port"));

    assert_int_equal(metrics_add(a, custom_collector, "te\"st"), 0);
    char *r = http_get(metrics_port(a), "GET", "/metrics");
    const char *body = body_of(r);
    assert_float_equal(mc_value(body, "fluxbot_custom{who=\"te\\\"st\"}"), 42, 0);
    char where[256];
    assert_null(mc_validate(body, where, sizeof where));
    free(r);
    metrics_stop(a);
}

static void test_analytics_rows_appear(void **state)
{
    (void)state;
    char dir[] = "/tmp/fluxbot-metrics-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char db[300];
    snprintf(db, sizeof db, "%s/a.db", dir);
    rt_system *sys = rt_system_new();
    an_writer_config wc = {.db_path = db, .flush_ms = 20};
    an_writer *w = an_writer_new(sys, &wc);
    assert_non_null(w);
    assert_int_equal(rt_system_start(sys), 0);
    char err[256];
    metrics_server *ms = metrics_start(0, err, sizeof err);
    metrics_sources src = {.sys = sys, .analytics = w};
    assert_int_equal(metrics_add_sources(ms, &src), 0);

    const unsigned K = 25;
    for (unsigned i = 0; i < K; i++) {
        an_command_event e = {.command = "comfy",
                              .user_id = 1 + i,
                              .guild_id = 2,
                              .channel_id = 3,
                              .exec_ms = 5,
                              .success = true};
        assert_int_equal(an_record_command(an_writer_actor(w), &e), 0);
    }
    double rows = 0;
    for (int i = 0; i < 300 && rows < K; i++) {
        char *r = http_get(metrics_port(ms), "GET", "/metrics");
        const char *body = body_of(r);
        rows = mc_value(body, "fluxbot_analytics_rows_written_total");
        char where[256];
        const char *bad = mc_validate(body, where, sizeof where);
        if (bad) fail_msg("%s: %s", bad, where);
        free(r);
        if (rows < K) sleep_ms(10);
    }
    assert_float_equal(rows, K, 0);
    metrics_stop(ms);
    rt_system_free(sys);
    an_writer_free(w);
    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
}

int main(void)
{
    log_configure(LOG_LEVEL_WARN, false, 2);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_scrape_shows_actor_counters),
        cmocka_unit_test(test_http_errors),
        cmocka_unit_test(test_silent_client_does_not_block),
        cmocka_unit_test(test_port_in_use_and_late_collector),
        cmocka_unit_test(test_analytics_rows_appear),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
