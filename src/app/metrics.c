/*
 * The Prometheus exporter (see metrics.h): the server thread and the built-in collectors. The
 * request parser is pure and lives in metrics_http.c.
 *
 * The server is one thread running a poll() loop over non-blocking sockets, so no client can
 * hold another up: a connection that trickles its request (slowloris), sends nothing, or sends
 * megabytes of headers only ever costs its own slot. Each connection has a deadline for its
 * request and one for its response; its request is bounded (431 past METRICS_HTTP_MAX_REQUEST);
 * at most METRICS_MAX_CONNS are open, and a new one closes the oldest still waiting for its
 * request. A scrape is a few kilobytes rendered in microseconds on this thread, and never
 * reaches the actors' mailboxes.
 */
#include "app/metrics.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <dirent.h>
#include <unistd.h>

#include "actors/analytics_writer.h"
#include "actors/comfy_runner.h"
#include "actors/discord_rest.h"
#include "actors/gateway.h"
#include "actors/mod_refresher.h"
#include "actors/stats_reporter.h"
#include "fluxbot/log.h"

#define MAX_COLLECTORS 32
#define REQUEST_DEADLINE_MS 5000  /* from accept to the end of the request head */
#define RESPONSE_DEADLINE_MS 5000 /* to write the response */
#define LINGER_MS 2000            /* reading (and dropping) what a refused client still sends */
#define LINGER_MAX_BYTES (64u << 20)

typedef enum conn_state {
    C_FREE = 0,
    C_READ,   /* waiting for the request head */
    C_WRITE,  /* sending the response */
    C_LINGER, /* response sent and write side shut: draining input until EOF */
} conn_state;

typedef struct conn {
    int fd;
    conn_state state;
    uint64_t accepted_ms, deadline_ms;
    size_t len; /* request bytes in buf */
    char buf[METRICS_HTTP_MAX_REQUEST];
    char *out; /* response (malloc'd) */
    size_t out_len, out_pos;
    size_t drained; /* bytes dropped while lingering */
} conn;

struct metrics_server {
    int listen_fd;
    int wake_pipe[2]; /* written once by metrics_stop */
    uint16_t port;
    pthread_t thread;
    pthread_mutex_t lock; /* collectors table; also serializes renders */
    struct {
        metrics_collect_fn fn;
        void *ctx;
    } collectors[MAX_COLLECTORS];
    unsigned ncollectors;
    atomic_uint_fast64_t scrapes;
    /* server thread only */
    conn conns[METRICS_MAX_CONNS];
    uint64_t accept_pause_until;
    /* counters (server thread writes, any thread reads) */
    atomic_uint_fast64_t evicted, timed_out, refused;
};

/* ---- rendering ----------------------------------------------------------------------------- */

char *metrics_render(metrics_server *s, size_t *len)
{
    mfmt m;
    mfmt_init(&m);
    pthread_mutex_lock(&s->lock);
    mfmt_family(&m, "fluxbot_build_info", "gauge", "Version of the running fluxbot.");
    mfmt_label v = {"version", FLUXBOT_VERSION};
    mfmt_sample_u64(&m, "fluxbot_build_info", NULL, &v, 1, 1);
    mfmt_family(&m, "fluxbot_metrics_scrapes_total", "counter", "Scrapes served so far.");
    mfmt_sample_u64(&m, "fluxbot_metrics_scrapes_total", NULL, NULL, 0,
                    (uint64_t)atomic_load(&s->scrapes));
    mfmt_single(&m, "fluxbot_metrics_requests_refused_total", "counter",
                "Exporter requests answered with a 4xx (malformed, oversized, too slow).",
                (uint64_t)atomic_load(&s->refused));
    mfmt_single(&m, "fluxbot_metrics_requests_timed_out_total", "counter",
                "Exporter connections cut at their request or response deadline.",
                (uint64_t)atomic_load(&s->timed_out));
    mfmt_single(&m, "fluxbot_metrics_connections_evicted_total", "counter",
                "Exporter connections closed to make room (over the connection cap).",
                (uint64_t)atomic_load(&s->evicted));
    for (unsigned i = 0; i < s->ncollectors; i++)
        s->collectors[i].fn(&m, s->collectors[i].ctx);
    pthread_mutex_unlock(&s->lock);
    if (m.bad) LOG_WARN("metrics", "%u samples skipped for invalid names", m.bad);
    return mfmt_take(&m, len);
}

/* ---- the server ---------------------------------------------------------------------------- */

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void conn_close(conn *c)
{
    if (c->state == C_FREE) return;
    close(c->fd);
    free(c->out);
    c->out = NULL;
    c->fd = -1;
    c->state = C_FREE;
}

/* Queues a whole response on c and switches it to writing. */
static void conn_respond(conn *c, char *resp, size_t len)
{
    free(c->out);
    c->out = resp;
    c->out_len = len;
    c->out_pos = 0;
    c->state = C_WRITE;
    c->deadline_ms = now_ms() + RESPONSE_DEADLINE_MS;
}

static char *status_response(int code, const char *reason, const char *extra, size_t *len)
{
    char body[96];
    int bl = snprintf(body, sizeof body, "%d %s\n", code, reason);
    char *r = malloc(512);
    if (!r) abort();
    int hl = snprintf(r, 512,
                      "HTTP/1.1 %d %s\r\nContent-Type: text/plain; charset=utf-8\r\n"
                      "Content-Length: %d\r\n%sConnection: close\r\n\r\n%s",
                      code, reason, bl, extra ? extra : "", body);
    *len = (size_t)hl;
    return r;
}

static void respond_status(metrics_server *s, conn *c, int code, const char *reason,
                           const char *extra)
{
    if (code >= 400) atomic_fetch_add(&s->refused, 1);
    size_t len;
    char *r = status_response(code, reason, extra, &len);
    conn_respond(c, r, len);
}

static void respond_route(metrics_server *s, conn *c, metrics_http_outcome r)
{
    switch (r) {
    case METRICS_HTTP_METRICS:
    case METRICS_HTTP_HEAD_METRICS: {
        atomic_fetch_add(&s->scrapes, 1);
        size_t blen = 0;
        char *body = metrics_render(s, &blen);
        if (!body) {
            respond_status(s, c, 500, "Internal Server Error", NULL);
            return;
        }
        char head[256];
        int hl = snprintf(head, sizeof head,
                          "HTTP/1.1 200 OK\r\nContent-Type: text/plain; version=0.0.4; "
                          "charset=utf-8\r\nContent-Length: %zu\r\nConnection: close\r\n\r\n",
                          blen);
        size_t total = (size_t)hl + (r == METRICS_HTTP_METRICS ? blen : 0);
        char *resp = malloc(total + 1);
        if (!resp) abort();
        memcpy(resp, head, (size_t)hl);
        if (r == METRICS_HTTP_METRICS) memcpy(resp + hl, body, blen);
        free(body);
        conn_respond(c, resp, total);
        return;
    }
    case METRICS_HTTP_NOT_FOUND:
        respond_status(s, c, 404, "Not Found", NULL);
        return;
    case METRICS_HTTP_BAD_METHOD:
        respond_status(s, c, 405, "Method Not Allowed", "Allow: GET, HEAD\r\n");
        return;
    case METRICS_HTTP_TOO_LARGE:
        respond_status(s, c, 431, "Request Header Fields Too Large", NULL);
        return;
    default:
        respond_status(s, c, 400, "Bad Request", NULL);
        return;
    }
}

/* Reads what is there; answers once the head is complete or refused. */
static void conn_read(metrics_server *s, conn *c)
{
    for (;;) {
        if (c->len == sizeof c->buf) break; /* the parser has decided 431 already */
        ssize_t n = recv(c->fd, c->buf + c->len, sizeof c->buf - c->len, 0);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
        if (n <= 0) { /* closed before a full request, or reset */
            conn_close(c);
            return;
        }
        c->len += (size_t)n;
    }
    metrics_http_outcome r = metrics_http_parse_request(c->buf, c->len, NULL);
    if (r != METRICS_HTTP_INCOMPLETE) respond_route(s, c, r);
}

static void conn_write(conn *c)
{
    while (c->out_pos < c->out_len) {
        ssize_t w = send(c->fd, c->out + c->out_pos, c->out_len - c->out_pos, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR) continue;
        if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
        if (w <= 0) {
            conn_close(c);
            return;
        }
        c->out_pos += (size_t)w;
    }
    /* Half-close, then drain: closing a socket with unread input sends a reset, which can
     * destroy the response before the client reads it (a refused 4 MB header would never
     * see its 431). */
    free(c->out);
    c->out = NULL;
    shutdown(c->fd, SHUT_WR);
    c->state = C_LINGER;
    c->drained = 0;
    c->deadline_ms = now_ms() + LINGER_MS;
}

static void conn_linger(conn *c)
{
    char sink[16384];
    for (;;) {
        ssize_t n = recv(c->fd, sink, sizeof sink, 0);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
        if (n <= 0) {
            conn_close(c);
            return;
        }
        c->drained += (size_t)n;
        if (c->drained > LINGER_MAX_BYTES) {
            conn_close(c);
            return;
        }
    }
}

/* A free slot; when every slot is taken, the oldest connection still waiting for its request
 * is closed (an idle or trickling client), then the oldest of any kind. */
static conn *conn_slot(metrics_server *s)
{
    conn *oldest_read = NULL, *oldest = NULL;
    for (unsigned i = 0; i < METRICS_MAX_CONNS; i++) {
        conn *c = &s->conns[i];
        if (c->state == C_FREE) return c;
        if (c->state == C_READ && (!oldest_read || c->accepted_ms < oldest_read->accepted_ms))
            oldest_read = c;
        if (!oldest || c->accepted_ms < oldest->accepted_ms) oldest = c;
    }
    conn *victim = oldest_read ? oldest_read : oldest;
    conn_close(victim);
    atomic_fetch_add(&s->evicted, 1);
    return victim;
}

static void accept_all(metrics_server *s)
{
    for (unsigned k = 0; k < 256; k++) {
        int fd = accept4(s->listen_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
        if (fd < 0) {
            if (errno == EINTR) continue;
            if (errno == EMFILE || errno == ENFILE) {
                /* Out of descriptors (the process's, not only ours): stop accepting for a
                 * moment, or the still-readable listening socket would spin this loop. */
                s->accept_pause_until = now_ms() + 100;
            }
            return; /* EAGAIN, ECONNABORTED, ...: the next poll tells */
        }
        conn *c = conn_slot(s);
        memset(c, 0, offsetof(conn, buf));
        c->fd = fd;
        c->state = C_READ;
        c->accepted_ms = now_ms();
        c->deadline_ms = c->accepted_ms + REQUEST_DEADLINE_MS;
        c->len = 0;
    }
}

/* Deadlines: a request that has not arrived in time gets 408; a response or a drain that
 * takes too long is cut. Returns the poll timeout until the next deadline. */
static int expire(metrics_server *s, uint64_t now)
{
    uint64_t next = UINT64_MAX;
    for (unsigned i = 0; i < METRICS_MAX_CONNS; i++) {
        conn *c = &s->conns[i];
        if (c->state == C_FREE) continue;
        if (now >= c->deadline_ms) {
            atomic_fetch_add(&s->timed_out, 1);
            if (c->state == C_READ) {
                respond_status(s, c, 408, "Request Timeout", NULL);
                conn_write(c);
                if (c->state == C_FREE) continue;
            } else {
                conn_close(c);
                continue;
            }
        }
        if (c->deadline_ms < next) next = c->deadline_ms;
    }
    if (next == UINT64_MAX) return -1;
    return next > now ? (int)(next - now) : 0;
}

static void *server_main(void *arg)
{
    metrics_server *s = arg;
    struct pollfd p[2 + METRICS_MAX_CONNS];
    conn *owner[2 + METRICS_MAX_CONNS];
    for (;;) {
        uint64_t now = now_ms();
        int timeout = expire(s, now);
        bool paused = now < s->accept_pause_until;
        if (paused && (timeout < 0 || (uint64_t)timeout > s->accept_pause_until - now))
            timeout = (int)(s->accept_pause_until - now);
        nfds_t n = 0;
        p[n++] = (struct pollfd){s->listen_fd, paused ? 0 : POLLIN, 0};
        p[n++] = (struct pollfd){s->wake_pipe[0], POLLIN, 0};
        for (unsigned i = 0; i < METRICS_MAX_CONNS; i++) {
            conn *c = &s->conns[i];
            if (c->state == C_FREE) continue;
            owner[n] = c;
            p[n++] = (struct pollfd){c->fd, c->state == C_WRITE ? POLLOUT : POLLIN, 0};
        }
        int rc = poll(p, n, timeout);
        if (rc < 0) {
            if (errno == EINTR) continue;
            LOG_ERROR("metrics", "poll failed: %s", strerror(errno));
            break;
        }
        if (p[1].revents) break;
        for (nfds_t i = 2; i < n; i++) {
            if (!p[i].revents) continue;
            conn *c = owner[i];
            if (c->state == C_READ) conn_read(s, c);
            if (c->state == C_WRITE)
                conn_write(c);
            else if (c->state == C_LINGER)
                conn_linger(c);
        }
        if (p[0].revents & POLLIN) accept_all(s);
    }
    for (unsigned i = 0; i < METRICS_MAX_CONNS; i++)
        conn_close(&s->conns[i]);
    return NULL;
}

metrics_server *metrics_start(uint16_t port, char *err, size_t errlen)
{
    metrics_server *s = calloc(1, sizeof *s);
    if (!s) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    s->listen_fd = -1;
    s->wake_pipe[0] = s->wake_pipe[1] = -1;
    pthread_mutex_init(&s->lock, NULL);

    s->listen_fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (s->listen_fd < 0) {
        snprintf(err, errlen, "metrics socket: %s", strerror(errno));
        goto fail;
    }
    int one = 1;
    setsockopt(s->listen_fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in a = {0};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons(port);
    if (bind(s->listen_fd, (struct sockaddr *)&a, sizeof a) != 0) {
        snprintf(err, errlen, "metrics port 127.0.0.1:%u: %s (choose another metrics_port)",
                 (unsigned)port, strerror(errno));
        goto fail;
    }
    for (unsigned i = 0; i < METRICS_MAX_CONNS; i++)
        s->conns[i].fd = -1;
    if (listen(s->listen_fd, 256) != 0) {
        snprintf(err, errlen, "metrics listen: %s", strerror(errno));
        goto fail;
    }
    socklen_t al = sizeof a;
    getsockname(s->listen_fd, (struct sockaddr *)&a, &al);
    s->port = ntohs(a.sin_port);
    if (pipe2(s->wake_pipe, O_CLOEXEC) != 0) {
        snprintf(err, errlen, "metrics pipe: %s", strerror(errno));
        goto fail;
    }
    int rc = pthread_create(&s->thread, NULL, server_main, s);
    if (rc != 0) {
        snprintf(err, errlen, "metrics thread: %s", strerror(rc));
        goto fail;
    }
    return s;
fail:
    if (s->listen_fd >= 0) close(s->listen_fd);
    if (s->wake_pipe[0] >= 0) close(s->wake_pipe[0]);
    if (s->wake_pipe[1] >= 0) close(s->wake_pipe[1]);
    pthread_mutex_destroy(&s->lock);
    free(s);
    return NULL;
}

uint16_t metrics_port(const metrics_server *s)
{
    return s->port;
}

int metrics_add(metrics_server *s, metrics_collect_fn fn, void *ctx)
{
    int rc = -1;
    pthread_mutex_lock(&s->lock);
    if (fn && s->ncollectors < MAX_COLLECTORS) {
        s->collectors[s->ncollectors].fn = fn;
        s->collectors[s->ncollectors].ctx = ctx;
        s->ncollectors++;
        rc = 0;
    }
    pthread_mutex_unlock(&s->lock);
    return rc;
}

void metrics_stop(metrics_server *s)
{
    if (!s) return;
    char c = 1;
    ssize_t w;
    do {
        w = write(s->wake_pipe[1], &c, 1);
    } while (w < 0 && errno == EINTR);
    pthread_join(s->thread, NULL);
    close(s->listen_fd);
    close(s->wake_pipe[0]);
    close(s->wake_pipe[1]);
    pthread_mutex_destroy(&s->lock);
    free(s);
}

int metrics_add_sources(metrics_server *s, const metrics_sources *src)
{
    int rc = 0;
    if (src->sys) rc |= metrics_add(s, metrics_collect_runtime, src->sys);
    if (src->analytics) rc |= metrics_add(s, metrics_collect_analytics, src->analytics);
    if (src->stats) rc |= metrics_add(s, metrics_collect_stats, src->stats);
    if (src->modsync) rc |= metrics_add(s, metrics_collect_modsync, src->modsync);
    if (src->gateway) rc |= metrics_add(s, metrics_collect_gateway, src->gateway);
    if (src->rest) rc |= metrics_add(s, metrics_collect_rest, src->rest);
    if (src->runner) rc |= metrics_add(s, metrics_collect_runner, src->runner);
    rc |= metrics_add(s, metrics_collect_process, NULL);
    return rc ? -1 : 0;
}

/* ---- collectors ---------------------------------------------------------------------------- */

typedef struct actor_snap {
    const char *name;
    rt_metrics m;
} actor_snap;

typedef struct snap_list {
    actor_snap *v;
    size_t n, cap;
    bool oom;
} snap_list;

static void snap_one(rt_actor *a, void *ctx)
{
    snap_list *l = ctx;
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 16;
        actor_snap *nv = realloc(l->v, cap * sizeof *nv);
        if (!nv) {
            l->oom = true;
            return;
        }
        l->v = nv;
        l->cap = cap;
    }
    l->v[l->n].name = rt_actor_name(a);
    rt_actor_metrics(a, &l->v[l->n].m);
    l->n++;
}

enum { F_U64, F_SECONDS };

void metrics_collect_runtime(mfmt *out, void *ctx)
{
    snap_list l = {0};
    rt_system_foreach((rt_system *)ctx, snap_one, &l);
    static const struct {
        const char *name, *type, *help;
        size_t off;
        int kind;
    } fams[] = {
        {"fluxbot_actor_messages_received_total", "counter",
         "Messages accepted into the actor's mailbox (ring or spill).",
         offsetof(rt_metrics, received), F_U64},
        {"fluxbot_actor_messages_processed_total", "counter",
         "Messages handed to the actor's behaviour.", offsetof(rt_metrics, processed), F_U64},
        {"fluxbot_actor_mailbox_depth", "gauge", "Messages waiting in the mailbox now.",
         offsetof(rt_metrics, depth), F_U64},
        {"fluxbot_actor_mailbox_depth_max", "gauge", "Highest mailbox depth seen.",
         offsetof(rt_metrics, depth_hwm), F_U64},
        {"fluxbot_actor_mailbox_spills_total", "counter",
         "Messages that found a full lane and went to the overflow list.",
         offsetof(rt_metrics, spills), F_U64},
        {"fluxbot_actor_mailbox_full_total", "counter", "Send attempts that found a lane full.",
         offsetof(rt_metrics, full), F_U64},
        {"fluxbot_actor_parks_total", "counter", "Times an actor thread went to sleep.",
         offsetof(rt_metrics, parks), F_U64},
        {"fluxbot_actor_wakeups_total", "counter", "Wakes issued by senders.",
         offsetof(rt_metrics, wakeups), F_U64},
        {"fluxbot_actor_busy_seconds_total", "counter", "Time spent inside the actor's behaviour.",
         offsetof(rt_metrics, busy_ns), F_SECONDS},
    };
    for (size_t f = 0; f < sizeof fams / sizeof fams[0]; f++) {
        mfmt_family(out, fams[f].name, fams[f].type, fams[f].help);
        for (size_t i = 0; i < l.n; i++) {
            uint64_t v;
            memcpy(&v, (const char *)&l.v[i].m + fams[f].off, sizeof v);
            mfmt_label lab = {"actor", l.v[i].name ? l.v[i].name : ""};
            if (fams[f].kind == F_SECONDS)
                mfmt_sample(out, fams[f].name, NULL, &lab, 1, (double)v / 1e9);
            else
                mfmt_sample_u64(out, fams[f].name, NULL, &lab, 1, v);
        }
    }
    /* The scheduler's workers (runtime/sched.h): all zero when no actor is scheduled. */
    rt_sched_metrics sm;
    rt_system_sched_metrics((rt_system *)ctx, &sm);
    mfmt_single(out, "fluxbot_sched_workers", "gauge",
                "Scheduler worker threads (they run the actors of sched_actors).", sm.workers);
    mfmt_single(out, "fluxbot_sched_runs_total", "counter",
                "Actor runs on the workers (at most 64 messages each).", sm.runs);
    mfmt_single(out, "fluxbot_sched_parks_total", "counter",
                "Times a worker went to sleep with all its actors idle.", sm.parks);
    mfmt_single(out, "fluxbot_sched_wakeups_total", "counter",
                "Wake-ups of a sleeping worker by another thread (at most one per park).",
                sm.wakeups);
    mfmt_single(out, "fluxbot_sched_io_events_total", "counter",
                "Ready descriptors (the REST actor's sockets) handed to their actor by a worker.",
                sm.io_events);
    mfmt_single(out, "fluxbot_sched_deadlines_total", "counter",
                "Due actor deadlines (curl's timer, rate-limit waits) run by a worker.",
                sm.deadlines);
    const char *enq = "fluxbot_sched_enqueues_total";
    mfmt_family(out, enq, "counter",
                "Actors made runnable by a message: from their own worker (no wake-up possible) "
                "or from another thread.");
    mfmt_label lfrom = {"from", "worker"};
    mfmt_sample_u64(out, enq, NULL, &lfrom, 1, sm.local_enqueues);
    lfrom.value = "other_thread";
    mfmt_sample_u64(out, enq, NULL, &lfrom, 1, sm.remote_enqueues);
    /* Sampled enqueue → dequeue latency: a summary without quantiles (sum and count). */
    const char *lat = "fluxbot_actor_queue_latency_seconds";
    mfmt_family(out, lat, "summary",
                "Sampled time messages waited in the mailbox (1 in 64 messages timed).");
    for (size_t i = 0; i < l.n; i++) {
        mfmt_label lab = {"actor", l.v[i].name ? l.v[i].name : ""};
        mfmt_sample(out, lat, "_sum", &lab, 1, (double)l.v[i].m.latency_ns / 1e9);
        mfmt_sample_u64(out, lat, "_count", &lab, 1, l.v[i].m.latency_samples);
    }
    free(l.v);
}

/* ---- the actors' counters: one table of families per actor ------------------------------- */

/* Where a field of an actor's counters struct is, and how wide: uint64_t, unsigned, or bool
 * (a field of another width does not compile: the array size would be negative). */
typedef struct cfield {
    size_t off, size;
} cfield;
#define MF_SIZE(T, f) sizeof(((T *)0)->f)
/* 1 for a width cfield_get reads, else a negative array size. */
#define MF_WIDTH_OK(T, f)                                                                          \
    sizeof(char[MF_SIZE(T, f) == 8 || MF_SIZE(T, f) == 4 || MF_SIZE(T, f) == 1 ? 1 : -1])
#define MF_FIELD(T, f)                                                                             \
    {                                                                                              \
        offsetof(T, f), MF_SIZE(T, f) * MF_WIDTH_OK(T, f)                                          \
    }

static uint64_t cfield_get(const void *s, cfield f)
{
    const char *p = (const char *)s + f.off;
    if (f.size == sizeof(uint64_t)) {
        uint64_t v;
        memcpy(&v, p, sizeof v);
        return v;
    }
    if (f.size == sizeof(uint32_t)) {
        uint32_t v;
        memcpy(&v, p, sizeof v);
        return v;
    }
    return *(const unsigned char *)p != 0; /* a bool */
}

typedef enum mkind {
    M_VALUE,    /* one sample: f[0] (type counter or gauge) */
    M_SECONDS,  /* one sample: f[0], milliseconds, shown in seconds */
    M_BY_LABEL, /* a counter, one sample per label value: key = values[i] is f[i] (n of them) */
    M_SUMMARY,  /* a summary without quantiles: _sum f[0] (ms, shown in seconds), _count f[1];
                 * rate(sum) / rate(count) is the mean over any window */
} mkind;

typedef struct mfam {
    mkind kind;
    const char *name, *type, *help;
    cfield f[4];
    const char *key;
    const char *values[4];
    unsigned n;
} mfam;

#define MF_COUNTER(T, fld, nm, hp)                                                                 \
    {                                                                                              \
        .kind = M_VALUE, .name = nm, .type = "counter", .help = hp, .f = { MF_FIELD(T, fld) }      \
    }
#define MF_GAUGE(T, fld, nm, hp)                                                                   \
    {                                                                                              \
        .kind = M_VALUE, .name = nm, .type = "gauge", .help = hp, .f = { MF_FIELD(T, fld) }        \
    }

/* Writes the families of t, in order, from the counters struct s. */
static void families(mfmt *out, const mfam *t, size_t n, const void *s)
{
    for (size_t i = 0; i < n; i++) {
        const mfam *m = &t[i];
        switch (m->kind) {
        case M_VALUE:
            mfmt_single(out, m->name, m->type, m->help, cfield_get(s, m->f[0]));
            break;
        case M_SECONDS:
            mfmt_family(out, m->name, m->type, m->help);
            mfmt_sample(out, m->name, NULL, NULL, 0, (double)cfield_get(s, m->f[0]) / 1e3);
            break;
        case M_BY_LABEL:
            mfmt_family(out, m->name, "counter", m->help);
            for (unsigned k = 0; k < m->n; k++) {
                mfmt_label l = {m->key, m->values[k]};
                mfmt_sample_u64(out, m->name, NULL, &l, 1, cfield_get(s, m->f[k]));
            }
            break;
        case M_SUMMARY:
            mfmt_family(out, m->name, "summary", m->help);
            mfmt_sample(out, m->name, "_sum", NULL, 0, (double)cfield_get(s, m->f[0]) / 1e3);
            mfmt_sample_u64(out, m->name, "_count", NULL, 0, cfield_get(s, m->f[1]));
            break;
        }
    }
}

#define FAMILIES(out, table, s) families(out, table, sizeof table / sizeof table[0], s)

void metrics_collect_analytics(mfmt *out, void *ctx)
{
    typedef analytics_writer_counters T;
    static const mfam t[] = {
        MF_COUNTER(T, accepted, "fluxbot_analytics_events_accepted_total",
                   "Analytics events taken into a batch."),
        MF_COUNTER(T, rows_written, "fluxbot_analytics_rows_written_total",
                   "Analytics events committed to SQLite."),
        MF_COUNTER(T, batches, "fluxbot_analytics_batches_total",
                   "Analytics transactions committed."),
        MF_COUNTER(T, retries, "fluxbot_analytics_retries_total",
                   "Failed SQLite attempts that were retried."),
        MF_COUNTER(T, dropped_by_reset, "fluxbot_analytics_dropped_by_reset_total",
                   "Events recorded before a reset that arrived after it."),
        MF_COUNTER(T, dropped_invalid, "fluxbot_analytics_dropped_invalid_total",
                   "Events SQLite rejected on their own."),
        MF_COUNTER(T, resets, "fluxbot_analytics_resets_total", "Statistics resets executed."),
        MF_GAUGE(T, pending, "fluxbot_analytics_pending", "Events accepted but not yet committed."),
        MF_COUNTER(T, db_replaced, "fluxbot_analytics_db_replaced_total",
                   "Times db_path was found naming another file (renamed over or removed)."),
        MF_COUNTER(T, mod_reloads, "fluxbot_analytics_mod_reloads_total",
                   "Times the moderation state was re-read from a database renamed over db_path."),
        {.kind = M_SECONDS,
         .name = "fluxbot_analytics_lag_seconds",
         .type = "gauge",
         .help = "How long the oldest accepted, uncommitted event has waited (0 when none).",
         .f = {MF_FIELD(T, lag_ms)}},
    };
    T m;
    analytics_writer_counters_get((analytics_writer *)ctx, &m);
    FAMILIES(out, t, &m);
}

void metrics_collect_stats(mfmt *out, void *ctx)
{
    typedef stats_reporter_counters T;
    static const mfam t[] = {
        {.kind = M_BY_LABEL,
         .name = "fluxbot_stats_queries_total",
         .help = "/stats queries by outcome.",
         .key = "outcome",
         .values = {"answered", "failed", "rejected"},
         .f = {MF_FIELD(T, answered), MF_FIELD(T, failed), MF_FIELD(T, rejected)},
         .n = 3},
        {.kind = M_BY_LABEL,
         .name = "fluxbot_stats_answers_total",
         .help = "/stats answers by where their numbers came from: a database read, a concurrent "
                 "identical query's read, or an earlier read handed on (no commit since).",
         .key = "source",
         .values = {"computed", "shared", "reused"},
         .f = {MF_FIELD(T, computed), MF_FIELD(T, shared), MF_FIELD(T, reused)},
         .n = 3},
        {.kind = M_BY_LABEL,
         .name = "fluxbot_stats_charts_total",
         .help = "/stats charts: drawn and encoded, or the last one attached again (the same "
                 "picture, or lagging the numbers by at most stats_chart_max_lag_ms).",
         .key = "how",
         .values = {"drawn", "reused"},
         .f = {MF_FIELD(T, charts_drawn), MF_FIELD(T, charts_reused)},
         .n = 2},
    };
    T m;
    stats_reporter_counters_get((stats_reporter *)ctx, &m);
    FAMILIES(out, t, &m);
}

void metrics_collect_modsync(mfmt *out, void *ctx)
{
    typedef mod_refresher_counters T;
    static const mfam t[] = {
        {.kind = M_BY_LABEL,
         .name = "fluxbot_moderation_refreshes_total",
         .help = "Checks of the moderation state shared by the processes: read and adopted, found "
                 "unchanged, skipped (a local change not yet committed), or failed (no database).",
         .key = "result",
         .values = {"adopted", "unchanged", "skipped", "failed"},
         .f = {MF_FIELD(T, refreshes), MF_FIELD(T, unchanged), MF_FIELD(T, skipped),
               MF_FIELD(T, failures)},
         .n = 4},
    };
    T m;
    mod_refresher_counters_get((mod_refresher *)ctx, &m);
    FAMILIES(out, t, &m);
}

void metrics_collect_gateway(mfmt *out, void *ctx)
{
    typedef gateway_counters T;
    static const mfam t[] = {
        MF_COUNTER(T, connections, "fluxbot_gateway_connections_total",
                   "Gateway websockets opened."),
        MF_COUNTER(T, reconnects, "fluxbot_gateway_reconnects_total",
                   "Gateway connects after a shard's first."),
        MF_COUNTER(T, identifies, "fluxbot_gateway_identifies_total", "IDENTIFY frames sent."),
        MF_COUNTER(T, resumes, "fluxbot_gateway_resumes_total", "RESUME frames sent."),
        MF_COUNTER(T, resumed, "fluxbot_gateway_resumed_total",
                   "Sessions resumed (RESUMED received)."),
        MF_COUNTER(T, zombies, "fluxbot_gateway_zombies_total",
                   "Connections closed for a missing heartbeat ACK."),
        MF_COUNTER(T, invalid_sessions, "fluxbot_gateway_invalid_sessions_total",
                   "INVALID_SESSION received."),
        MF_COUNTER(T, identify_waits, "fluxbot_gateway_identify_waits_total",
                   "IDENTIFYs delayed because another process had just identified the bucket."),
        MF_COUNTER(T, identify_gate_errors, "fluxbot_gateway_identify_gate_errors_total",
                   "IDENTIFY claims the shared database could not answer (not identified)."),
        MF_COUNTER(T, frames_in, "fluxbot_gateway_frames_received_total",
                   "Gateway frames received."),
        MF_COUNTER(T, frames_out, "fluxbot_gateway_frames_sent_total", "Gateway frames sent."),
        MF_COUNTER(T, bytes_in, "fluxbot_gateway_received_bytes_total", "Gateway bytes received."),
        {.kind = M_BY_LABEL,
         .name = "fluxbot_gateway_frames_dropped_total",
         .help = "Gateway frames dropped, by reason.",
         .key = "reason",
         .values = {"malformed", "oversized", "duplicate", "unused"},
         .f = {MF_FIELD(T, dropped_malformed), MF_FIELD(T, dropped_oversized),
               MF_FIELD(T, duplicates), MF_FIELD(T, dropped_events)},
         .n = 4},
        MF_COUNTER(T, forwarded, "fluxbot_gateway_dispatches_forwarded_total",
                   "Dispatches handed to the router."),
        MF_COUNTER(T, forward_retries, "fluxbot_gateway_forward_retries_total",
                   "Dispatches that waited for room in the router's mailbox."),
        MF_GAUGE(T, forward_pending, "fluxbot_gateway_forward_pending",
                 "Dispatches kept for retry right now."),
        MF_COUNTER(T, forward_lost, "fluxbot_gateway_forward_lost_total",
                   "Dispatches that could not be delivered (router stopped)."),
        MF_GAUGE(T, shards, "fluxbot_gateway_shards", "Shards run by this process."),
        MF_GAUGE(T, shards_active, "fluxbot_gateway_shards_active", "Shards with a live session."),
    };
    T s;
    gateway_counters_get((gateway *)ctx, &s);
    FAMILIES(out, t, &s);
}

void metrics_collect_rest(mfmt *out, void *ctx)
{
    typedef discord_rest_counters T;
    static const mfam t[] = {
        MF_COUNTER(T, requests, "fluxbot_rest_requests_total", "Discord REST requests accepted."),
        MF_COUNTER(T, attempts, "fluxbot_rest_attempts_total",
                   "Discord HTTP requests sent (retries included)."),
        {.kind = M_BY_LABEL,
         .name = "fluxbot_rest_responses_total",
         .help = "Discord REST requests answered, by final outcome.",
         .key = "outcome",
         .values = {"ok", "failed"},
         .f = {MF_FIELD(T, completed), MF_FIELD(T, failed)},
         .n = 2},
        MF_COUNTER(T, retries, "fluxbot_rest_retries_total", "Discord REST retries."),
        {.kind = M_BY_LABEL,
         .name = "fluxbot_rest_429_total",
         .help = "429 answers from Discord, by scope.",
         .key = "scope",
         .values = {"user", "global", "shared"},
         .f = {MF_FIELD(T, r429_user), MF_FIELD(T, r429_global), MF_FIELD(T, r429_shared)},
         .n = 3},
        MF_COUNTER(T, network_errors, "fluxbot_rest_network_errors_total",
                   "Discord requests that got no HTTP answer."),
        {.kind = M_SECONDS,
         .name = "fluxbot_rest_ratelimit_wait_seconds_total",
         .type = "counter",
         .help = "Time requests spent waiting for the rate limiter.",
         .f = {MF_FIELD(T, wait_ms)}},
        MF_GAUGE(T, pending, "fluxbot_rest_pending", "Discord requests queued, not yet sent."),
        MF_GAUGE(T, in_flight, "fluxbot_rest_in_flight", "Discord requests on the wire."),
        MF_COUNTER(T, bytes_out, "fluxbot_rest_sent_bytes_total", "Bytes sent to Discord."),
        MF_COUNTER(T, bytes_in, "fluxbot_rest_received_bytes_total",
                   "Bytes received from Discord."),
        MF_GAUGE(T, fatal, "fluxbot_rest_unauthorized", "1 once Discord refused the token (401)."),
    };
    T s;
    discord_rest_counters_get((discord_rest *)ctx, &s);
    FAMILIES(out, t, &s);
}

void metrics_collect_runner(mfmt *out, void *ctx)
{
    typedef comfy_runner_counters T;
    static const mfam t[] = {
        {.kind = M_BY_LABEL,
         .name = "fluxbot_jobs_total",
         .help = "Generation jobs by outcome.",
         .key = "outcome",
         .values = {"admitted", "refused", "succeeded", "failed"},
         .f = {MF_FIELD(T, jobs_admitted), MF_FIELD(T, jobs_refused), MF_FIELD(T, jobs_succeeded),
               MF_FIELD(T, jobs_failed)},
         .n = 4},
        MF_COUNTER(T, jobs_resubmitted, "fluxbot_jobs_resubmitted_total",
                   "Jobs resubmitted after a lost prompt (server restart or stall)."),
        MF_COUNTER(T, jobs_taken_over, "fluxbot_jobs_taken_over_total",
                   "Jobs taken over from processes whose lease expired (PostgreSQL db_url)."),
        MF_COUNTER(T, jobs_fenced, "fluxbot_jobs_fenced_total",
                   "Jobs dropped here because another process took them over (this one was paused "
                   "or cut off from the database)."),
        MF_COUNTER(T, lease_renew_failures, "fluxbot_job_lease_renew_failures_total",
                   "Job lease renewals the database did not answer."),
        MF_GAUGE(T, waiting, "fluxbot_jobs_waiting", "Jobs waiting for a runner or a server."),
        MF_GAUGE(T, running, "fluxbot_jobs_running", "Jobs generating now."),
        {.kind = M_SUMMARY,
         .name = "fluxbot_job_run_seconds",
         .help = "Finished jobs: time from a runner taking the job to its result being sent.",
         .f = {MF_FIELD(T, job_run_ms_sum), MF_FIELD(T, jobs_timed)}},
        {.kind = M_SUMMARY,
         .name = "fluxbot_job_total_seconds",
         .help = "Finished jobs: time from the interaction's arrival to its result (queue "
                 "included).",
         .f = {MF_FIELD(T, job_total_ms_sum), MF_FIELD(T, jobs_timed)}},
        MF_COUNTER(T, progress_edits, "fluxbot_progress_edits_total",
                   "Progress edits sent to Discord."),
        MF_COUNTER(T, progress_suppressed, "fluxbot_progress_suppressed_total",
                   "Progress updates not sent (throttled)."),
        MF_COUNTER(T, events_orphaned, "fluxbot_comfy_events_orphaned_total",
                   "ComfyUI websocket events for prompts nobody follows."),
        MF_GAUGE(T, servers, "fluxbot_comfy_servers", "ComfyUI servers configured."),
        MF_GAUGE(T, servers_up, "fluxbot_comfy_servers_up",
                 "ComfyUI servers with a live websocket."),
    };
    comfy_runner_counters s;
    comfy_runner_counters_get((comfy_runner *)ctx, &s);
    FAMILIES(out, t, &s);

    /* Per server, so an alert can say which one is down. */
    static const struct {
        const char *name, *help;
    } per_server[] = {
        {"fluxbot_comfy_server_up", "1 while the server's websocket is connected."},
        {"fluxbot_comfy_server_jobs", "The bot's own jobs on the server."},
        {"fluxbot_comfy_server_queue_remaining",
         "The server's queue from its last status event (-1 unknown)."},
        {"fluxbot_comfy_server_connect_failures", "Consecutive failed connects to the server."},
    };
    /* One snapshot per server (the runner's lock taken once each), then the families. */
    comfy_runner *r = ctx;
    comfy_servers_info info[FB_CONFIG_MAX_LIST];
    unsigned n = 0;
    while (n < FB_CONFIG_MAX_LIST && comfy_runner_server_get(r, n, &info[n]))
        n++;
    for (unsigned f = 0; f < sizeof per_server / sizeof per_server[0]; f++) {
        mfmt_family(out, per_server[f].name, "gauge", per_server[f].help);
        for (unsigned i = 0; i < n; i++) {
            mfmt_label server = {"server", info[i].url};
            double v = f == 0   ? (info[i].up ? 1 : 0)
                       : f == 1 ? (double)info[i].jobs
                       : f == 2 ? (double)info[i].queue_remaining
                                : (double)info[i].failures;
            mfmt_sample(out, per_server[f].name, NULL, &server, 1, v);
        }
    }
}

/* /proc/self/status lines "VmRSS:  1234 kB" and "Threads: 7". */
static void read_status(uint64_t *rss_bytes, uint64_t *threads)
{
    *rss_bytes = 0;
    *threads = 0;
    FILE *f = fopen("/proc/self/status", "re");
    if (!f) return;
    char line[256];
    while (fgets(line, sizeof line, f)) {
        unsigned long long v;
        if (sscanf(line, "VmRSS: %llu kB", &v) == 1) *rss_bytes = (uint64_t)v * 1024;
        if (sscanf(line, "Threads: %llu", &v) == 1) *threads = v;
    }
    fclose(f);
}

static uint64_t count_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    if (!d) return 0;
    uint64_t n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        if (e->d_name[0] != '.') n++;
    closedir(d);
    return n > 0 ? n - 1 : 0; /* opendir's own descriptor */
}

void metrics_collect_process(mfmt *out, void *unused)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    double cpu = (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
                 (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
    mfmt_family(out, "process_cpu_seconds_total", "counter", "User and system CPU time.");
    mfmt_sample(out, "process_cpu_seconds_total", NULL, NULL, 0, cpu);
    uint64_t rss, threads;
    read_status(&rss, &threads);
    mfmt_single(out, "process_resident_memory_bytes", "gauge", "Resident memory.", rss);
    mfmt_single(out, "process_threads", "gauge", "Threads of the process.", threads);
    mfmt_single(out, "process_open_fds", "gauge", "Open file descriptors.", count_fds());
}
