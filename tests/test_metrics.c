/* fluxbot-test: tsan */
/*
 * The Prometheus exporter over a real loopback socket: a scrape of a running system is
 * well-formed and shows each actor's counters with the values the test caused; the analytics
 * writer's rows appear once committed; HEAD, 404, 405, 400 and oversized requests get the
 * right status; a client that sends nothing, a slowloris client, 200 idle sockets and a 4 MB
 * header never block a concurrent scrape (the exporter is an event loop with per-connection
 * deadlines, a bounded request and a connection cap); the pure request parser's edge cases;
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
#include <pthread.h>
#include <stdbool.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "actors/analytics_writer.h"
#include "actors/mod_refresher.h"
#include "analytics/an_record.h"
#include "app/metrics.h"
#include "fluxbot/log.h"
#include "fluxbot/runtime.h"
#include "metrics_check.h"

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
    rt_actor *quiet = rt_actor_new(sys, &spec2);
    assert_non_null(quiet);
    assert_int_equal(rt_actor_schedule(quiet), 0); /* the scheduler's families are filled */
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
    const char *bad = metrics_check_validate(body, where, sizeof where);
    if (bad) fail_msg("%s: %s", bad, where);
    assert_float_equal(
        metrics_check_value(body, "fluxbot_actor_messages_processed_total{actor=\"echo\"}"), N, 0);
    assert_float_equal(
        metrics_check_value(body, "fluxbot_actor_messages_received_total{actor=\"echo\"}"), N, 0);
    assert_float_equal(
        metrics_check_value(body, "fluxbot_actor_messages_processed_total{actor=\"quiet\"}"), 0, 0);
    assert_float_equal(metrics_check_value(body, "fluxbot_actor_mailbox_depth{actor=\"echo\"}"), 0,
                       0);
    assert_true(metrics_check_value(body, "fluxbot_actor_mailbox_depth_max{actor=\"echo\"}") >= 1);
    assert_true(metrics_check_value(body, "fluxbot_actor_busy_seconds_total{actor=\"echo\"}") >= 0);
    assert_false(isnan(metrics_check_value(body, "fluxbot_actor_parks_total{actor=\"quiet\"}")));
    assert_false(isnan(metrics_check_value(body, "fluxbot_actor_wakeups_total{actor=\"echo\"}")));
    assert_false(
        isnan(metrics_check_value(body, "fluxbot_actor_mailbox_spills_total{actor=\"echo\"}")));
    assert_false(
        isnan(metrics_check_value(body, "fluxbot_actor_mailbox_full_total{actor=\"echo\"}")));
    assert_false(isnan(
        metrics_check_value(body, "fluxbot_actor_queue_latency_seconds_count{actor=\"echo\"}")));
    assert_float_equal(metrics_check_value(body, "fluxbot_sched_workers"), 1, 0);
    assert_true(metrics_check_value(body, "fluxbot_sched_runs_total") >= 1); /* its start */
    assert_false(isnan(metrics_check_value(body, "fluxbot_sched_parks_total")));
    assert_false(isnan(metrics_check_value(body, "fluxbot_sched_wakeups_total")));
    assert_false(isnan(metrics_check_value(body, "fluxbot_sched_io_events_total")));
    assert_false(isnan(metrics_check_value(body, "fluxbot_sched_deadlines_total")));
    assert_false(
        isnan(metrics_check_value(body, "fluxbot_sched_enqueues_total{from=\"other_thread\"}")));
    assert_false(isnan(metrics_check_value(body, "fluxbot_sched_enqueues_total{from=\"worker\"}")));
    assert_true(metrics_check_value(body, "process_resident_memory_bytes") > 0);
    assert_true(metrics_check_value(body, "process_threads") >= 3);
    assert_true(metrics_check_value(body, "process_open_fds") >= 3);
    assert_float_equal(metrics_check_value(body, "fluxbot_metrics_scrapes_total"), 1, 0);
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
    assert_float_equal(metrics_check_value(body_of(resp), "fluxbot_metrics_scrapes_total"), 3, 0);
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
    size_t big = METRICS_HTTP_MAX_REQUEST + 100;
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
        assert_int_equal(metrics_http_route(full, i), METRICS_HTTP_INCOMPLETE);
    assert_int_equal(metrics_http_route(full, strlen(full)), METRICS_HTTP_METRICS);

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
    assert_true(waited < 4.0); /* served at once, while the idle client still waits */
    free(r);
    /* The silent client gets a 408 at its request deadline, then the connection closes. */
    char buf[512];
    size_t len = 0;
    struct timeval tv = {10, 0};
    setsockopt(idle, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    for (;;) {
        ssize_t n = recv(idle, buf + len, sizeof buf - 1 - len, 0);
        if (n < 0 && errno == EINTR) continue;
        assert_true(n >= 0); /* not the receive timeout: the server closed it */
        if (n == 0) break;
        len += (size_t)n;
    }
    buf[len] = 0;
    assert_int_equal(status_of(buf), 408);
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
    assert_float_equal(metrics_check_value(body, "fluxbot_custom{who=\"te\\\"st\"}"), 42, 0);
    char where[256];
    assert_null(metrics_check_validate(body, where, sizeof where));
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
    analytics_writer_config wc = {.db_path = db, .flush_ms = 20};
    analytics_writer *w = analytics_writer_new(sys, &wc);
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
        assert_int_equal(an_record_command(analytics_writer_actor(w), &e), 0);
    }
    double rows = 0;
    for (int i = 0; i < 300 && rows < K; i++) {
        char *r = http_get(metrics_port(ms), "GET", "/metrics");
        const char *body = body_of(r);
        rows = metrics_check_value(body, "fluxbot_analytics_rows_written_total");
        char where[256];
        const char *bad = metrics_check_validate(body, where, sizeof where);
        if (bad) fail_msg("%s: %s", bad, where);
        free(r);
        if (rows < K) sleep_ms(10);
    }
    assert_float_equal(rows, K, 0);
    metrics_stop(ms);
    rt_system_free(sys);
    analytics_writer_free(w);
    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
}

/* With a shared database, the moderation refresher's checks are counted by result. */
static void test_modsync_counters_appear(void **state)
{
    (void)state;
    rt_system *sys = rt_system_new();
    mod_state *mod = mod_state_new(NULL);
    /* Never started: no database is asked, every count is 0. */
    mod_refresher_config mc = {.db_url = "postgresql:///unused", .mod = mod};
    mod_refresher *r = mod_refresher_new(sys, &mc);
    assert_non_null(r);
    char err[256];
    metrics_server *ms = metrics_start(0, err, sizeof err);
    assert_non_null(ms);
    metrics_sources src = {.modsync = r};
    assert_int_equal(metrics_add_sources(ms, &src), 0);
    size_t len;
    char *page = metrics_render(ms, &len);
    assert_non_null(page);
    const char *results[] = {"adopted", "unchanged", "skipped", "failed"};
    for (int i = 0; i < 4; i++) {
        char line[128];
        snprintf(line, sizeof line, "fluxbot_moderation_refreshes_total{result=\"%s\"} 0\n",
                 results[i]);
        assert_non_null(strstr(page, line));
    }
    char where[256];
    const char *bad = metrics_check_validate(page, where, sizeof where);
    if (bad) fail_msg("%s: %s", bad, where);
    free(page);
    metrics_stop(ms);
    rt_system_free(sys);
    mod_refresher_free(r);
    mod_state_free(mod);
}

/* ---- concurrency and hostile clients ------------------------------------------------------ */

/* A scrape on its own connection with a receive timeout: returns the response or NULL when
 * nothing complete arrived in time. */
static char *scrape_within(uint16_t port, int seconds)
{
    int fd = connect_to(port);
    struct timeval tv = {seconds, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    const char *req = "GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
    assert_int_equal(send(fd, req, strlen(req), MSG_NOSIGNAL), (ssize_t)strlen(req));
    size_t cap = 1 << 16, len = 0;
    char *buf = malloc(cap);
    bool closed = false;
    for (;;) {
        if (len + 1 == cap) buf = realloc(buf, cap *= 2);
        ssize_t n = recv(fd, buf + len, cap - len - 1, 0);
        if (n < 0 && errno == EINTR) continue;
        if (n == 0) closed = true;
        if (n <= 0) break;
        len += (size_t)n;
    }
    close(fd);
    buf[len] = 0;
    if (!closed) {
        free(buf);
        return NULL;
    }
    return buf;
}

typedef struct slow_client {
    uint16_t port;
    int fd;
    atomic_bool stop;
    atomic_bool server_closed;
    unsigned sent;
    char reply[256];
} slow_client;

/* Slowloris: one byte of a valid request every 1.5 s, never finishing in time. */
static void *slowloris(void *arg)
{
    slow_client *sc = arg;
    const char *req = "GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: slow\r\n\r\n";
    for (size_t i = 0; req[i] && !atomic_load(&sc->stop); i++) {
        if (send(sc->fd, req + i, 1, MSG_NOSIGNAL) != 1) break;
        sc->sent++;
        for (int k = 0; k < 15 && !atomic_load(&sc->stop); k++)
            sleep_ms(100);
        ssize_t n = recv(sc->fd, sc->reply, sizeof sc->reply - 1, MSG_DONTWAIT);
        if (n > 0) sc->reply[n] = 0;
        if (n == 0 || n > 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK)) {
            atomic_store(&sc->server_closed, true);
            break;
        }
    }
    return NULL;
}

static void test_slowloris_does_not_block_scrapes(void **state)
{
    (void)state;
    char err[256];
    metrics_server *ms = metrics_start(0, err, sizeof err);
    assert_non_null(ms);
    /* static: if an assertion fails, the thread still running must not write into a dead
     * stack frame */
    static slow_client sc;
    memset(&sc, 0, sizeof sc);
    sc.port = metrics_port(ms);
    sc.fd = connect_to(sc.port);
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, slowloris, &sc), 0);
    sleep_ms(200);
    /* Several scrapes while the slow client keeps its connection alive: each is answered
     * (a server serving one connection at a time never gets to them). */
    for (int i = 0; i < 3; i++) {
        char *r = scrape_within(sc.port, 4);
        assert_non_null(r);
        assert_int_equal(status_of(r), 200);
        free(r);
    }
    assert_false(atomic_load(&sc.server_closed));
    /* The slow client is cut at its request deadline with a 408, never served. */
    for (int i = 0; i < 150 && !atomic_load(&sc.server_closed); i++)
        sleep_ms(100);
    atomic_store(&sc.stop, true);
    pthread_join(t, NULL);
    assert_true(atomic_load(&sc.server_closed));
    assert_non_null(strstr(sc.reply, "HTTP/1.1 408"));
    close(sc.fd);
    char *r = http_get(metrics_port(ms), "GET", "/metrics");
    assert_true(metrics_check_value(body_of(r), "fluxbot_metrics_requests_timed_out_total") >= 1);
    free(r);
    metrics_stop(ms);
}

static void test_many_idle_sockets(void **state)
{
    (void)state;
    char err[256];
    metrics_server *ms = metrics_start(0, err, sizeof err);
    assert_non_null(ms);
    uint16_t port = metrics_port(ms);
    enum { IDLE = 200 };
    int idle[IDLE];
    for (int i = 0; i < IDLE; i++) {
        idle[i] = connect_to(port);
        if (i % 2) assert_int_equal(send(idle[i], "GET /met", 8, MSG_NOSIGNAL), 8);
    }
    char *r = scrape_within(port, 4);
    assert_non_null(r);
    assert_int_equal(status_of(r), 200);
    /* the cap holds: the oldest idle connections were closed to make room */
    assert_true(metrics_check_value(body_of(r), "fluxbot_metrics_connections_evicted_total") >=
                IDLE - METRICS_MAX_CONNS);
    free(r);
    unsigned closed = 0;
    for (int i = 0; i < IDLE; i++) {
        char c;
        ssize_t n = recv(idle[i], &c, 1, MSG_DONTWAIT);
        if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK)) closed++;
        close(idle[i]);
    }
    assert_true(closed >= IDLE - METRICS_MAX_CONNS);
    r = http_get(port, "GET", "/metrics");
    assert_int_equal(status_of(r), 200);
    free(r);
    metrics_stop(ms);
}

static void test_huge_header_refused(void **state)
{
    (void)state;
    char err[256];
    metrics_server *ms = metrics_start(0, err, sizeof err);
    assert_non_null(ms);
    uint16_t port = metrics_port(ms);
    /* 4 MB of one header: 431, seen by the client (the server drains before closing) */
    size_t big = 4u << 20;
    char *huge = malloc(big);
    memcpy(huge, "GET /metrics HTTP/1.1\r\nX: ", 26);
    memset(huge + 26, 'a', big - 26);
    char *r = http_raw(port, huge, big);
    assert_int_equal(status_of(r), 431);
    free(r);
    /* 4 MB in many small headers: 431 too */
    size_t pos = 0;
    memcpy(huge, "GET /metrics HTTP/1.1\r\n", 23);
    pos = 23;
    while (pos + 8 < big) {
        memcpy(huge + pos, "A: b\r\n", 6);
        pos += 6;
    }
    r = http_raw(port, huge, pos);
    assert_int_equal(status_of(r), 431);
    free(r);
    free(huge);
    r = http_get(port, "GET", "/metrics");
    assert_int_equal(status_of(r), 200);
    assert_true(metrics_check_value(body_of(r), "fluxbot_metrics_requests_refused_total") >= 2);
    free(r);
    metrics_stop(ms);
}

/* The pure parser, for the cases the socket tests do not reach. */
static void test_parse_request(void **state)
{
    (void)state;
    metrics_http_request q;
    const char *ok = "GET /metrics?x=1 HTTP/1.1\r\nHost: a\r\nAccept: */*\r\n\r\nBODY";
    assert_int_equal(metrics_http_parse_request(ok, strlen(ok), &q), METRICS_HTTP_METRICS);
    assert_int_equal(q.head_len, strlen(ok) - 4);
    assert_int_equal(q.headers, 2);
    const char *bad[] = {
        "GET /metrics HTTP/1.1\nHost: a\r\n\r\n",     /* bare LF */
        "GET /metrics HTTP/1.1\r\nHost a\r\n\r\n",    /* no colon */
        "GET /metrics HTTP/1.1\r\n Host: a\r\n\r\n",  /* obs-fold */
        "GET /metrics HTTP/1.1\r\nHo\rst: a\r\n\r\n", /* bare CR */
        "GET /metrics HTTP/1.1\r\n: a\r\n\r\n",       /* empty name */
        "GET  /metrics HTTP/1.1\r\n\r\n",             /* double space */
        "\r\n\r\n",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(metrics_http_parse_request(bad[i], strlen(bad[i]), NULL),
                         METRICS_HTTP_BAD_REQUEST);
    /* a NUL in a header value */
    const char nul[] = "GET /metrics HTTP/1.1\r\nA: b\0c\r\n\r\n";
    assert_int_equal(metrics_http_parse_request(nul, sizeof nul - 1, NULL),
                     METRICS_HTTP_BAD_REQUEST);
    /* more than METRICS_HTTP_MAX_HEADERS lines */
    char many[4096];
    size_t n = (size_t)snprintf(many, sizeof many, "GET /metrics HTTP/1.1\r\n");
    for (int i = 0; i <= METRICS_HTTP_MAX_HEADERS; i++)
        n += (size_t)snprintf(many + n, sizeof many - n, "A: b\r\n");
    n += (size_t)snprintf(many + n, sizeof many - n, "\r\n");
    assert_int_equal(metrics_http_parse_request(many, n, &q), METRICS_HTTP_TOO_LARGE);
    /* the blank line beyond the limit is too large even when it arrived in one read */
    char *big = malloc(METRICS_HTTP_MAX_REQUEST + 64);
    memcpy(big, "GET /metrics HTTP/1.1\r\nX: ", 26);
    memset(big + 26, 'a', METRICS_HTTP_MAX_REQUEST + 64 - 26);
    memcpy(big + METRICS_HTTP_MAX_REQUEST + 60, "\r\n\r\n", 4);
    assert_int_equal(metrics_http_parse_request(big, METRICS_HTTP_MAX_REQUEST + 64, NULL),
                     METRICS_HTTP_TOO_LARGE);
    free(big);
    assert_int_equal(metrics_http_parse_request(NULL, 0, &q), METRICS_HTTP_INCOMPLETE);
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
        cmocka_unit_test(test_modsync_counters_appear),
        cmocka_unit_test(test_slowloris_does_not_block_scrapes),
        cmocka_unit_test(test_many_idle_sockets),
        cmocka_unit_test(test_huge_header_refused),
        cmocka_unit_test(test_parse_request),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
