/*
 * fake_gateway: loopback Discord gateway server (see fake_gateway.h for what it speaks).
 *
 * One lws context with one vhost on 127.0.0.1:0 serves both HTTP (/gateway/bot) and the
 * websocket (protocols[0] gets both because Discord clients send no subprotocol). All mutable
 * state lives in struct fake_gateway under one mutex; the service thread takes it inside callbacks
 * and control functions take it from test threads, then poke the service thread with
 * lws_cancel_service() so it asks for writability of connections with queued frames. Frames
 * are compressed when queued (the deflate stream must follow queue order) and written one per
 * WRITEABLE callback, as lws requires.
 */
#include "fakes/fake_gateway.h"

#include <errno.h>
#include <libwebsockets.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <zlib.h>

#include <cjson/cJSON.h>

#include "fakes/fake_front.h"
#include "fluxbot/log.h"
#include "fluxbot/runtime.h"
#include "util/util_time.h"

#define FAKE_GATEWAY_LOG "fake_gateway"
#define CLIENT_PAYLOAD_MAX 4096 /* Discord closes 4002 above this */
#define RATE_EVENTS 120
#define RATE_PERIOD_MS 60000
#define MAX_BUCKETS 64
#define MAX_CLOSE_CODES 64
#define PRIVILEGED_INTENTS ((1u << 1) | (1u << 8) | (1u << 15))

typedef enum of_kind { OF_DATA, OF_CLOSE, OF_DROP } of_kind;

typedef struct out_frame {
    struct out_frame *next;
    of_kind kind;
    bool binary;
    int code;
    size_t len;
    unsigned char *buf; /* owned: LWS_PRE headroom + len bytes */
} out_frame;

typedef struct event {
    int64_t seq;
    char *frame; /* owned: the uncompressed frame text */
    size_t len;
} event;

typedef struct session session;
typedef struct conn conn;

struct session {
    char id[40];
    int shard, shard_count;
    int64_t seq;
    event *log; /* ring of the last `keep` dispatches */
    size_t keep, head, n;
    bool dead;  /* invalidated: no resume, no dispatches */
    conn *conn; /* the connection currently attached, if any */
};

struct conn {
    conn *next;
    struct lws *wsi;
    uint64_t id;
    bool compress;
    z_stream zs;
    bool zs_ready;
    bool identified; /* IDENTIFY or RESUME accepted: dispatches flow */
    bool closing;    /* close or drop queued: nothing more is queued or handled */
    session *sess;
    int shard;
    out_frame *oq_head, *oq_tail;
    char *rx;
    size_t rx_len, rx_cap;
    bool rx_overflow;
    uint64_t stamps[RATE_EVENTS + 1];
    unsigned st_head, st_n;
};

/* Per-wsi storage (lws allocates it): the connection, or an HTTP response in flight. */
typedef struct pss {
    conn *c;
    int http_status;
    size_t http_len;
    char http_body[1024];
} pss;

struct fake_gateway {
    fake_gateway_options o;
    char token[256];
    char *guilds_json; /* owned copy */
    struct lws_context *ctx;
    pthread_t th;
    bool th_started;
    atomic_bool stop;
    int port;
    char http_base[64];
    char ws_url[64];
    fake_front *front; /* stall_front only */

    pthread_mutex_t mu;
    pthread_cond_t cv;
    conn *conns;
    session **sessions;
    size_t nsess, capsess;
    fake_gateway_record *recs;
    size_t nrec, caprec;
    fake_gateway_stats st;
    uint32_t hb_interval;
    bool ack;
    unsigned zsplit;
    bool resume_fails;
    bool paused;
    uint64_t next_conn_id;
    uint64_t bucket_last_ns[MAX_BUCKETS]; /* arrival of the bucket's last identify */
    bool bucket_used[MAX_BUCKETS];
    uint64_t budget_reset_at;
    int close_codes[MAX_CLOSE_CODES];
    unsigned close_counts[MAX_CLOSE_CODES];
    uint64_t rng;
};

static uint64_t next_rand(fake_gateway *f)
{
    uint64_t x = f->rng;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    f->rng = x;
    return x;
}

/* ---- outbound queue (mutex held) --------------------------------------------------------- */

static void oq_push(conn *c, out_frame *of)
{
    of->next = NULL;
    if (c->oq_tail)
        c->oq_tail->next = of;
    else
        c->oq_head = of;
    c->oq_tail = of;
}

static out_frame *oq_pop(conn *c)
{
    out_frame *of = c->oq_head;
    if (of) {
        c->oq_head = of->next;
        if (!c->oq_head) c->oq_tail = NULL;
    }
    return of;
}

static out_frame *frame_new(of_kind kind, const void *data, size_t len, bool binary)
{
    out_frame *of = calloc(1, sizeof *of);
    if (!of) return NULL;
    of->kind = kind;
    of->binary = binary;
    of->len = len;
    of->buf = malloc(LWS_PRE + len + 1);
    if (!of->buf) {
        free(of);
        return NULL;
    }
    if (len) memcpy(of->buf + LWS_PRE, data, len);
    return of;
}

static void frame_free(out_frame *of)
{
    if (!of) return;
    free(of->buf);
    free(of);
}

/* Queues raw bytes as one websocket message. */
static void queue_raw(conn *c, const void *data, size_t len, bool binary)
{
    if (c->closing) return;
    out_frame *of = frame_new(OF_DATA, data, len, binary);
    if (of) oq_push(c, of);
}

/* Queues a gateway frame: text, or deflated with a sync flush (split into f->zsplit
 * websocket messages) on compressed connections. */
static void queue_text(fake_gateway *f, conn *c, const char *text, size_t len)
{
    if (c->closing) return;
    if (!c->compress) {
        queue_raw(c, text, len, false);
        return;
    }
    size_t cap = deflateBound(&c->zs, len) + 64, out_len = 0;
    unsigned char *out = malloc(cap);
    if (!out) return;
    c->zs.next_in = (Bytef *)(uintptr_t)text;
    c->zs.avail_in = (uInt)len;
    do {
        if (out_len == cap) {
            unsigned char *p = realloc(out, cap * 2);
            if (!p) {
                free(out);
                return;
            }
            out = p;
            cap *= 2;
        }
        c->zs.next_out = out + out_len;
        c->zs.avail_out = (uInt)(cap - out_len);
        deflate(&c->zs, Z_SYNC_FLUSH);
        out_len = cap - c->zs.avail_out;
    } while (c->zs.avail_out == 0);
    unsigned parts = f->zsplit ? f->zsplit : 1;
    if (parts > out_len) parts = (unsigned)out_len;
    size_t off = 0;
    for (unsigned i = 0; i < parts; i++) {
        size_t n = i + 1 == parts ? out_len - off : out_len / parts;
        queue_raw(c, out + off, n, true);
        off += n;
    }
    free(out);
}

/* Queues the end of the connection (a close frame with code, or a drop without one); nothing
 * is queued after it. */
static void queue_end(conn *c, of_kind kind, int code)
{
    if (c->closing) return;
    out_frame *of = frame_new(kind, NULL, 0, false);
    if (!of) return;
    of->code = code;
    oq_push(c, of);
    c->closing = true;
}

static void queue_close(conn *c, int code)
{
    queue_end(c, OF_CLOSE, code);
}

static void queue_op(fake_gateway *f, conn *c, int op, const char *d)
{
    char buf[256];
    int n = snprintf(buf, sizeof buf, "{\"t\":null,\"s\":null,\"op\":%d,\"d\":%s}", op, d);
    queue_text(f, c, buf, (size_t)n);
}

/* ---- sessions and dispatches (mutex held) ------------------------------------------------ */

static session *session_new(fake_gateway *f, int shard, int count)
{
    if (f->nsess == f->capsess) {
        size_t cap = f->capsess ? f->capsess * 2 : 8;
        session **p = realloc(f->sessions, cap * sizeof *p);
        if (!p) return NULL;
        f->sessions = p;
        f->capsess = cap;
    }
    session *s = calloc(1, sizeof *s);
    if (!s) return NULL;
    s->keep = f->o.replay_keep ? f->o.replay_keep : 10000;
    s->log = calloc(s->keep, sizeof *s->log);
    if (!s->log) {
        free(s);
        return NULL;
    }
    snprintf(s->id, sizeof s->id, "%016llx%08llx", (unsigned long long)next_rand(f),
             (unsigned long long)(f->nsess + 1));
    s->shard = shard;
    s->shard_count = count;
    f->sessions[f->nsess++] = s;
    return s;
}

static void session_free(session *s)
{
    for (size_t i = 0; i < s->n; i++)
        free(s->log[(s->head + i) % s->keep].frame);
    free(s->log);
    free(s);
}

static session *session_find(fake_gateway *f, const char *id)
{
    for (size_t i = 0; i < f->nsess; i++)
        if (strcmp(f->sessions[i]->id, id) == 0) return f->sessions[i];
    return NULL;
}

/* Numbers one dispatch for the session, keeps it for replay and sends it if attached. */
static void session_dispatch(fake_gateway *f, session *s, const char *t, const char *d, size_t dlen)
{
    size_t cap = dlen + strlen(t) + 64;
    char *frame = malloc(cap);
    if (!frame) return;
    int64_t seq = ++s->seq;
    int n = snprintf(frame, cap, "{\"t\":\"%s\",\"s\":%lld,\"op\":0,\"d\":%.*s}", t, (long long)seq,
                     (int)dlen, d);
    if (s->n == s->keep) { /* forget the oldest */
        free(s->log[s->head].frame);
        s->head = (s->head + 1) % s->keep;
        s->n--;
    }
    event *e = &s->log[(s->head + s->n) % s->keep];
    e->seq = seq;
    e->frame = frame;
    e->len = (size_t)n;
    s->n++;
    if (s->conn && s->conn->identified) {
        queue_text(f, s->conn, frame, (size_t)n);
        f->st.dispatches_sent++;
    }
}

static bool shard_of_guild(const char *id, int count, int *shard)
{
    char *end;
    errno = 0;
    unsigned long long g = strtoull(id, &end, 10);
    if (errno || *end || end == id) return false;
    *shard = count > 0 ? (int)((g >> 22) % (unsigned)count) : 0;
    return true;
}

static void send_ready(fake_gateway *f, conn *c, session *s)
{
    /* unavailable guild stubs of this shard, then one GUILD_CREATE each */
    cJSON *guilds = f->guilds_json ? cJSON_Parse(f->guilds_json) : NULL;
    cJSON *stubs = cJSON_CreateArray();
    cJSON *g;
    cJSON_ArrayForEach(g, guilds)
    {
        cJSON *id = cJSON_GetObjectItem(g, "id");
        int sh;
        if (!cJSON_IsString(id) || !shard_of_guild(id->valuestring, s->shard_count, &sh) ||
            sh != s->shard)
            continue;
        cJSON *stub = cJSON_CreateObject();
        cJSON_AddStringToObject(stub, "id", id->valuestring);
        cJSON_AddTrueToObject(stub, "unavailable");
        cJSON_AddItemToArray(stubs, stub);
    }
    cJSON *d = cJSON_CreateObject();
    cJSON_AddNumberToObject(d, "v", 10);
    cJSON *user = cJSON_AddObjectToObject(d, "user");
    char idbuf[32];
    snprintf(idbuf, sizeof idbuf, "%llu", (unsigned long long)f->o.user_id);
    cJSON_AddStringToObject(user, "id", idbuf);
    cJSON_AddStringToObject(user, "username", "fluxbot-fake");
    cJSON_AddStringToObject(user, "discriminator", "0");
    cJSON_AddNullToObject(user, "global_name");
    cJSON_AddNullToObject(user, "avatar");
    cJSON_AddTrueToObject(user, "bot");
    cJSON_AddNumberToObject(user, "flags", 0);
    cJSON_AddItemToObject(d, "guilds", stubs);
    cJSON_AddStringToObject(d, "session_id", s->id);
    cJSON_AddStringToObject(d, "resume_gateway_url", f->ws_url);
    cJSON *shard = cJSON_AddArrayToObject(d, "shard");
    cJSON_AddItemToArray(shard, cJSON_CreateNumber(s->shard));
    cJSON_AddItemToArray(shard, cJSON_CreateNumber(s->shard_count));
    cJSON *app = cJSON_AddObjectToObject(d, "application");
    snprintf(idbuf, sizeof idbuf, "%llu", (unsigned long long)f->o.application_id);
    cJSON_AddStringToObject(app, "id", idbuf);
    cJSON_AddNumberToObject(app, "flags", 0);
    char *text = cJSON_PrintUnformatted(d);
    cJSON_Delete(d);
    if (text) {
        session_dispatch(f, s, "READY", text, strlen(text));
        f->st.ready_sent++;
        free(text);
    }
    cJSON_ArrayForEach(g, guilds)
    {
        cJSON *id = cJSON_GetObjectItem(g, "id");
        int sh;
        if (!cJSON_IsString(id) || !shard_of_guild(id->valuestring, s->shard_count, &sh) ||
            sh != s->shard)
            continue;
        char *gt = cJSON_PrintUnformatted(g);
        if (gt) {
            session_dispatch(f, s, "GUILD_CREATE", gt, strlen(gt));
            free(gt);
        }
    }
    cJSON_Delete(guilds);
}

static int bot_json_locked(fake_gateway *f, char *buf, size_t cap);

/* ---- client frames (mutex held) --------------------------------------------------------- */

static void record(fake_gateway *f, conn *c, int op, const char *text, size_t len, uint64_t at)
{
    if (f->nrec == f->caprec) {
        size_t cap = f->caprec ? f->caprec * 2 : 64;
        fake_gateway_record *p = realloc(f->recs, cap * sizeof *p);
        if (!p) return;
        f->recs = p;
        f->caprec = cap;
    }
    fake_gateway_record *r = &f->recs[f->nrec];
    r->payload = malloc(len + 1);
    if (!r->payload) return;
    memcpy(r->payload, text, len);
    r->payload[len] = '\0';
    r->len = len;
    r->conn_id = c->id;
    r->shard = c->identified ? c->shard : -1;
    r->op = op;
    r->at_ms = at;
    f->nrec++;
}

/* Counts a client frame in the connection's 60 s window; false when it is one too many. */
static bool rate_ok(fake_gateway *f, conn *c, uint64_t at)
{
    while (c->st_n && c->stamps[c->st_head] + RATE_PERIOD_MS <= at) {
        c->st_head = (c->st_head + 1) % (RATE_EVENTS + 1);
        c->st_n--;
    }
    if (c->st_n == RATE_EVENTS) return false;
    c->stamps[(c->st_head + c->st_n) % (RATE_EVENTS + 1)] = at;
    c->st_n++;
    if (c->st_n > f->st.max_frames_in_window) f->st.max_frames_in_window = c->st_n;
    return true;
}

/* at: the frame's arrival (ms, for the budget); at_ns: the same instant, to the nanosecond,
 * for the spacing check. */
static void handle_identify(fake_gateway *f, conn *c, cJSON *d, uint64_t at, uint64_t at_ns)
{
    f->st.identifies++;
    if (c->identified) {
        queue_close(c, 4005);
        return;
    }
    cJSON *tok = cJSON_GetObjectItem(d, "token");
    if (!cJSON_IsString(tok) || strcmp(tok->valuestring, f->token) != 0) {
        queue_close(c, 4004);
        return;
    }
    cJSON *intents = cJSON_GetObjectItem(d, "intents");
    if (!cJSON_IsNumber(intents) || intents->valuedouble < 0 ||
        intents->valuedouble > (double)(1u << 30) ||
        intents->valuedouble != (double)(int64_t)intents->valuedouble) {
        queue_close(c, 4013);
        return;
    }
    uint32_t iv = (uint32_t)intents->valuedouble;
    if (iv & PRIVILEGED_INTENTS & ~f->o.allowed_intents) {
        queue_close(c, 4014);
        return;
    }
    int shard = 0, count = 1;
    cJSON *sh = cJSON_GetObjectItem(d, "shard");
    if (sh) {
        cJSON *a = cJSON_GetArrayItem(sh, 0), *b = cJSON_GetArrayItem(sh, 1);
        if (!cJSON_IsArray(sh) || cJSON_GetArraySize(sh) != 2 || !cJSON_IsNumber(a) ||
            !cJSON_IsNumber(b) || a->valueint < 0 || b->valueint < 1 ||
            a->valueint >= b->valueint) {
            queue_close(c, 4010);
            return;
        }
        shard = a->valueint;
        count = b->valueint;
    }
    if ((uint32_t)count < f->o.shards) {
        queue_close(c, 4011);
        return;
    }
    if (at >= f->budget_reset_at) {
        f->st.session_remaining = f->o.session_total;
        f->budget_reset_at = at + 24ull * 3600 * 1000;
    }
    if (f->st.session_remaining == 0) {
        /* The real consequence is a token reset; an invalid token is what follows. */
        f->st.budget_violations++;
        queue_close(c, 4004);
        return;
    }
    unsigned b = (unsigned)shard % f->o.max_concurrency % MAX_BUCKETS;
    bool too_soon = false;
    /* Spacing as Discord measures it: between the arrivals of two identifies of a bucket, on
     * the server's clock, to the nanosecond. Nothing is rounded in the client's favour: a gap
     * of 4999.9 ms is too soon (whole milliseconds on both ends would call it 5000 half the
     * time and hide a client that paces exactly at the interval). */
    if (f->bucket_used[b]) {
        uint64_t gap_ns = at_ns - f->bucket_last_ns[b];
        int64_t gap_ms = (int64_t)(gap_ns / 1000000u);
        if (f->st.min_identify_gap_ms < 0 || gap_ms < f->st.min_identify_gap_ms)
            f->st.min_identify_gap_ms = gap_ms;
        too_soon = gap_ns < (uint64_t)f->o.identify_interval_ms * 1000000u;
    }
    f->bucket_used[b] = true;
    f->bucket_last_ns[b] = at_ns;
    if (too_soon) {
        /* What Discord answers when identify concurrency is exceeded. */
        f->st.identify_spacing_violations++;
        queue_op(f, c, 9, "false");
        return;
    }
    f->st.session_remaining--;
    session *s = session_new(f, shard, count);
    if (!s) {
        queue_close(c, 4000);
        return;
    }
    c->sess = s;
    c->shard = shard;
    c->identified = true;
    s->conn = c;
    f->st.ready_connections++;
    send_ready(f, c, s);
}

static void handle_resume(fake_gateway *f, conn *c, cJSON *d)
{
    f->st.resumes++;
    if (c->identified) {
        queue_close(c, 4005);
        return;
    }
    cJSON *tok = cJSON_GetObjectItem(d, "token");
    if (!cJSON_IsString(tok) || strcmp(tok->valuestring, f->token) != 0) {
        queue_close(c, 4004);
        return;
    }
    cJSON *sid = cJSON_GetObjectItem(d, "session_id");
    cJSON *seqj = cJSON_GetObjectItem(d, "seq");
    session *s = cJSON_IsString(sid) ? session_find(f, sid->valuestring) : NULL;
    int64_t seq = cJSON_IsNumber(seqj) ? (int64_t)seqj->valuedouble : 0;
    int64_t oldest = s && s->n ? s->log[s->head].seq : (s ? s->seq + 1 : 0);
    if (!s || s->dead || f->resume_fails || seq > s->seq || seq + 1 < oldest) {
        f->st.resume_rejected++;
        queue_op(f, c, 9, "false");
        return;
    }
    if (s->conn && s->conn != c) {
        /* The client abandoned the old connection; it no longer carries the session. */
        if (s->conn->identified) f->st.ready_connections--;
        s->conn->identified = false;
        s->conn->sess = NULL;
    }
    s->conn = c;
    c->sess = s;
    c->shard = s->shard;
    c->identified = true;
    f->st.ready_connections++;
    for (size_t i = 0; i < s->n; i++) {
        event *e = &s->log[(s->head + i) % s->keep];
        if (e->seq <= seq) continue;
        queue_text(f, c, e->frame, e->len);
        f->st.replayed++;
        f->st.dispatches_sent++;
    }
    session_dispatch(f, s, "RESUMED", "{}", 2);
    f->st.resumed_sent++;
}

static void handle_message(fake_gateway *f, conn *c, const char *text, size_t len)
{
    const uint64_t at_ns = rt_now_ns(), at = at_ns / 1000000u;
    f->st.frames_received++;
    cJSON *j = cJSON_ParseWithLength(text, len);
    cJSON *opj = j ? cJSON_GetObjectItem(j, "op") : NULL;
    int op = cJSON_IsNumber(opj) ? opj->valueint : -1;
    record(f, c, op, text, len, at);
    if (!rate_ok(f, c, at)) {
        f->st.rate_violations++;
        queue_close(c, 4008);
        cJSON_Delete(j);
        return;
    }
    if (!cJSON_IsObject(j) || op < 0) {
        queue_close(c, 4002);
        cJSON_Delete(j);
        return;
    }
    cJSON *d = cJSON_GetObjectItem(j, "d");
    switch (op) {
    case 1:
        f->st.heartbeats++;
        if (f->ack) {
            queue_op(f, c, 11, "null");
            f->st.acks_sent++;
        }
        break;
    case 2:
        if (!cJSON_IsObject(d)) {
            queue_close(c, 4002);
            break;
        }
        handle_identify(f, c, d, at, at_ns);
        break;
    case 6:
        if (!cJSON_IsObject(d)) {
            queue_close(c, 4002);
            break;
        }
        handle_resume(f, c, d);
        break;
    case 3:
    case 4:
    case 8:
    case 31:
    case 43:
        if (!c->identified) queue_close(c, 4003);
        break;
    default:
        queue_close(c, 4001);
        break;
    }
    cJSON_Delete(j);
}

/* ---- lws callback ----------------------------------------------------------------------- */

static conn *conn_new(fake_gateway *f, struct lws *wsi)
{
    conn *c = calloc(1, sizeof *c);
    if (!c) return NULL;
    c->wsi = wsi;
    c->id = ++f->next_conn_id;
    c->shard = -1;
    c->next = f->conns;
    f->conns = c;
    return c;
}

static void conn_free(fake_gateway *f, conn *c)
{
    for (conn **pp = &f->conns; *pp; pp = &(*pp)->next) {
        if (*pp == c) {
            *pp = c->next;
            break;
        }
    }
    if (c->sess && c->sess->conn == c) c->sess->conn = NULL;
    if (c->identified && f->st.ready_connections) f->st.ready_connections--;
    out_frame *of;
    while ((of = oq_pop(c)))
        frame_free(of);
    if (c->zs_ready) deflateEnd(&c->zs);
    free(c->rx);
    free(c);
}

static bool ends_with(const char *s, const char *suffix)
{
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && strcmp(s + a - b, suffix) == 0;
}

static int http_request(fake_gateway *f, struct lws *wsi, pss *p, const char *uri)
{
    char auth[512] = "";
    lws_hdr_copy(wsi, auth, sizeof auth, WSI_TOKEN_HTTP_AUTHORIZATION);
    pthread_mutex_lock(&f->mu);
    f->st.http_requests++;
    char want[300];
    snprintf(want, sizeof want, "Bot %s", f->token);
    if (!ends_with(uri, "/gateway/bot")) {
        p->http_status = 404;
        p->http_len = (size_t)snprintf(p->http_body, sizeof p->http_body,
                                       "{\"message\":\"404: Not Found\",\"code\":0}");
    } else if (strcmp(auth, want) != 0) {
        f->st.http_unauthorized++;
        p->http_status = 401;
        p->http_len = (size_t)snprintf(p->http_body, sizeof p->http_body,
                                       "{\"message\":\"401: Unauthorized\",\"code\":0}");
    } else {
        int n = bot_json_locked(f, p->http_body, sizeof p->http_body);
        p->http_status = 200;
        p->http_len = n > 0 ? (size_t)n : 0;
    }
    pthread_cond_broadcast(&f->cv);
    pthread_mutex_unlock(&f->mu);

    unsigned char hdr[LWS_PRE + 512], *start = hdr + LWS_PRE, *pos = start,
                                      *end = hdr + sizeof hdr - 1;
    if (lws_add_http_common_headers(wsi, (unsigned)p->http_status, "application/json", p->http_len,
                                    &pos, end))
        return -1;
    if (lws_finalize_write_http_header(wsi, start, &pos, end)) return -1;
    lws_callback_on_writable(wsi);
    return 0;
}

static void parse_query(struct lws *wsi, int *version, bool *json, bool *compress, bool *bad)
{
    char arg[128];
    *version = -1;
    *json = false;
    *compress = false;
    *bad = false;
    for (int i = 0; i < 16; i++) {
        int n = lws_hdr_copy_fragment(wsi, arg, sizeof arg, WSI_TOKEN_HTTP_URI_ARGS, i);
        if (n <= 0) break;
        if (strncmp(arg, "v=", 2) == 0)
            *version = atoi(arg + 2);
        else if (strcmp(arg, "encoding=json") == 0)
            *json = true;
        else if (strcmp(arg, "compress=zlib-stream") == 0)
            *compress = true;
        else if (strncmp(arg, "compress=", 9) == 0 || strncmp(arg, "encoding=", 9) == 0)
            *bad = true;
    }
}

static int callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                    size_t len)
{
    struct lws_context *ctx = lws_get_context(wsi);
    fake_gateway *f = ctx ? lws_context_user(ctx) : NULL;
    pss *p = user;
    if (!f) return 0;

    switch (reason) {
    case LWS_CALLBACK_HTTP:
        return http_request(f, wsi, p, in ? (const char *)in : "");

    case LWS_CALLBACK_HTTP_WRITEABLE: {
        unsigned char *buf = malloc(LWS_PRE + p->http_len + 1);
        if (!buf) return -1;
        memcpy(buf + LWS_PRE, p->http_body, p->http_len);
        int w = lws_write(wsi, buf + LWS_PRE, p->http_len, LWS_WRITE_HTTP_FINAL);
        free(buf);
        if (w < (int)p->http_len) return -1;
        return lws_http_transaction_completed(wsi) ? -1 : 0;
    }

    case LWS_CALLBACK_ESTABLISHED: {
        int version;
        bool json, compress, bad;
        parse_query(wsi, &version, &json, &compress, &bad);
        pthread_mutex_lock(&f->mu);
        conn *c = conn_new(f, wsi);
        if (!c) {
            pthread_mutex_unlock(&f->mu);
            return -1;
        }
        p->c = c;
        f->st.connections++;
        f->st.open_connections++;
        if (compress && deflateInit(&c->zs, Z_DEFAULT_COMPRESSION) == Z_OK) {
            c->zs_ready = true;
            c->compress = true;
        }
        if (version != 10) {
            queue_close(c, 4012);
        } else if (!json || bad) {
            queue_close(c, 4002);
        } else {
            char hello[128];
            snprintf(hello, sizeof hello,
                     "{\"heartbeat_interval\":%u,\"_trace\":[\"fake_gateway\"]}", f->hb_interval);
            queue_op(f, c, 10, hello);
            record(f, c, FAKE_GATEWAY_REC_HELLO, hello, strlen(hello), rt_now_ms());
        }
        pthread_cond_broadcast(&f->cv);
        pthread_mutex_unlock(&f->mu);
        lws_callback_on_writable(wsi);
        return 0;
    }

    case LWS_CALLBACK_RECEIVE: {
        conn *c = p->c;
        if (!c) return 0;
        pthread_mutex_lock(&f->mu);
        if (!c->closing) {
            if (c->rx_len + len > CLIENT_PAYLOAD_MAX) {
                c->rx_overflow = true;
            } else {
                if (c->rx_len + len + 1 > c->rx_cap) {
                    size_t cap = CLIENT_PAYLOAD_MAX + 1;
                    char *np = realloc(c->rx, cap);
                    if (np) {
                        c->rx = np;
                        c->rx_cap = cap;
                    }
                }
                if (c->rx_cap >= c->rx_len + len + 1) {
                    memcpy(c->rx + c->rx_len, in, len);
                    c->rx_len += len;
                }
            }
            if (lws_is_final_fragment(wsi) && lws_remaining_packet_payload(wsi) == 0) {
                if (c->rx_overflow) {
                    f->st.frames_received++;
                    record(f, c, -1, "(oversized)", 11, rt_now_ms());
                    queue_close(c, 4002);
                } else {
                    handle_message(f, c, c->rx ? c->rx : "", c->rx_len);
                }
                c->rx_len = 0;
                c->rx_overflow = false;
            }
        }
        bool pending = c->oq_head != NULL;
        pthread_cond_broadcast(&f->cv);
        pthread_mutex_unlock(&f->mu);
        if (pending) lws_callback_on_writable(wsi);
        return 0;
    }

    case LWS_CALLBACK_SERVER_WRITEABLE: {
        conn *c = p->c;
        if (!c) return 0;
        pthread_mutex_lock(&f->mu);
        out_frame *of = f->paused ? NULL : oq_pop(c);
        bool more = c->oq_head != NULL;
        pthread_mutex_unlock(&f->mu);
        if (!of) return 0;
        if (of->kind == OF_CLOSE) {
            static const char why[] = "fake gateway close";
            lws_close_reason(wsi, (enum lws_close_status)of->code, (unsigned char *)why,
                             sizeof why - 1);
            frame_free(of);
            return -1;
        }
        if (of->kind == OF_DROP) {
            /* Vanish without a close frame, like a dead TCP path or a killed proxy. */
            int fd = lws_get_socket_fd(wsi);
            if (fd >= 0) {
                struct linger lg = {1, 0};
                setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
                shutdown(fd, SHUT_RDWR);
            }
            frame_free(of);
            return -1;
        }
        int w = lws_write(wsi, of->buf + LWS_PRE, of->len,
                          of->binary ? LWS_WRITE_BINARY : LWS_WRITE_TEXT);
        size_t want = of->len;
        frame_free(of);
        if (w < (int)want) return -1;
        if (more) lws_callback_on_writable(wsi);
        return 0;
    }

    case LWS_CALLBACK_WS_PEER_INITIATED_CLOSE: {
        conn *c = p->c;
        int code = len >= 2 ? (((const unsigned char *)in)[0] << 8) | ((const unsigned char *)in)[1]
                            : 1005;
        pthread_mutex_lock(&f->mu);
        f->st.client_closes++;
        f->st.last_client_close_code = code;
        for (int i = 0; i < MAX_CLOSE_CODES; i++) {
            if (f->close_codes[i] == code || f->close_codes[i] == 0) {
                f->close_codes[i] = code;
                f->close_counts[i]++;
                break;
            }
        }
        /* A client closing with 1000/1001 ends its session (the bot shows offline). */
        if (c && c->sess && (code == 1000 || code == 1001)) c->sess->dead = true;
        pthread_cond_broadcast(&f->cv);
        pthread_mutex_unlock(&f->mu);
        return 0;
    }

    case LWS_CALLBACK_CLOSED: {
        conn *c = p->c;
        if (!c) return 0;
        pthread_mutex_lock(&f->mu);
        record(f, c, FAKE_GATEWAY_REC_CLOSED, "", 0, rt_now_ms());
        conn_free(f, c);
        p->c = NULL;
        if (f->st.open_connections) f->st.open_connections--;
        pthread_cond_broadcast(&f->cv);
        pthread_mutex_unlock(&f->mu);
        return 0;
    }

    case LWS_CALLBACK_EVENT_WAIT_CANCELLED: {
        pthread_mutex_lock(&f->mu);
        for (conn *c = f->conns; c; c = c->next)
            if (c->oq_head) lws_callback_on_writable(c->wsi);
        pthread_mutex_unlock(&f->mu);
        return 0;
    }

    default:
        return lws_callback_http_dummy(wsi, reason, user, in, len);
    }
}

static const struct lws_protocols protocols[] = {
    {"fake-discord-gateway", callback, sizeof(pss), 0, 0, NULL, 0},
    {NULL, NULL, 0, 0, 0, NULL, 0},
};

static void *service_main(void *arg)
{
    fake_gateway *f = arg;
    while (!atomic_load(&f->stop))
        if (lws_service(f->ctx, 0) < 0) break;
    return NULL;
}

/* ---- public API ------------------------------------------------------------------------- */

fake_gateway *fake_gateway_start(const fake_gateway_options *opts)
{
    if (!opts || !opts->token || !opts->token[0] || strlen(opts->token) >= 256) return NULL;
    fake_gateway *f = calloc(1, sizeof *f);
    if (!f) return NULL;
    f->o = *opts;
    snprintf(f->token, sizeof f->token, "%s", opts->token);
    f->o.token = f->token;
    if (opts->guilds_json) {
        f->guilds_json = strdup(opts->guilds_json);
        cJSON *g = cJSON_Parse(opts->guilds_json);
        bool ok = cJSON_IsArray(g);
        cJSON_Delete(g);
        if (!ok || !f->guilds_json) {
            LOG_ERROR(FAKE_GATEWAY_LOG, "guilds_json must be a JSON array of guild objects");
            free(f->guilds_json);
            free(f);
            return NULL;
        }
    }
    f->o.guilds_json = NULL;
    if (!f->o.heartbeat_interval_ms) f->o.heartbeat_interval_ms = 41250;
    if (!f->o.shards) f->o.shards = 1;
    if (!f->o.max_concurrency) f->o.max_concurrency = 1;
    if (!f->o.session_total) f->o.session_total = 1000;
    if (!f->o.session_remaining) f->o.session_remaining = f->o.session_total;
    if (!f->o.reset_after_ms) f->o.reset_after_ms = 24ull * 3600 * 1000;
    if (!f->o.identify_interval_ms) f->o.identify_interval_ms = 5000;
    if (!f->o.application_id) f->o.application_id = 100000000000000001ull;
    if (!f->o.user_id) f->o.user_id = 100000000000000002ull;
    f->hb_interval = f->o.heartbeat_interval_ms;
    f->ack = true;
    f->zsplit = 1;
    f->st.session_remaining = f->o.session_remaining;
    f->st.min_identify_gap_ms = -1;
    f->budget_reset_at = rt_now_ms() + f->o.reset_after_ms;
    f->rng = 0x853c49e6748fea9bull ^ rt_now_ms() ^ (uint64_t)(uintptr_t)f;
    atomic_init(&f->stop, false);
    pthread_mutex_init(&f->mu, NULL);
    pthread_cond_init(&f->cv, NULL);

    struct lws_context_creation_info info;
    memset(&info, 0, sizeof info);
    info.port = 0; /* ephemeral */
    info.iface = "127.0.0.1";
    info.protocols = protocols;
    info.user = f;
    info.gid = -1;
    info.uid = -1;
    info.options = LWS_SERVER_OPTION_DISABLE_IPV6;
    f->ctx = lws_create_context(&info);
    if (!f->ctx) {
        LOG_ERROR(FAKE_GATEWAY_LOG, "cannot create the lws server context");
        fake_gateway_stop(f);
        return NULL;
    }
    struct lws_vhost *vh = lws_get_vhost_by_name(f->ctx, "default");
    f->port = vh ? lws_get_vhost_listen_port(vh) : -1;
    if (f->port <= 0) {
        LOG_ERROR(FAKE_GATEWAY_LOG, "cannot find the listening port");
        fake_gateway_stop(f);
        return NULL;
    }
    snprintf(f->http_base, sizeof f->http_base, "http://127.0.0.1:%d/api/v10", f->port);
    snprintf(f->ws_url, sizeof f->ws_url, "ws://127.0.0.1:%d", f->port);
    if (f->o.stall_front) {
        f->front = fake_front_start(f->port);
        if (!f->front) {
            fake_gateway_stop(f);
            return NULL;
        }
        snprintf(f->ws_url, sizeof f->ws_url, "ws://127.0.0.1:%d", fake_front_port(f->front));
    }
    if (pthread_create(&f->th, NULL, service_main, f) != 0) {
        fake_gateway_stop(f);
        return NULL;
    }
    f->th_started = true;
    return f;
}

void fake_gateway_stop(fake_gateway *f)
{
    if (!f) return;
    atomic_store(&f->stop, true);
    if (f->ctx) lws_cancel_service(f->ctx);
    if (f->th_started) pthread_join(f->th, NULL);
    fake_front_stop(f->front);
    if (f->ctx) lws_context_destroy(f->ctx); /* closes every wsi: CLOSED frees the conns */
    while (f->conns)
        conn_free(f, f->conns);
    for (size_t i = 0; i < f->nsess; i++)
        session_free(f->sessions[i]);
    free(f->sessions);
    fake_gateway_records_free(f->recs, f->nrec);
    free(f->guilds_json);
    pthread_mutex_destroy(&f->mu);
    pthread_cond_destroy(&f->cv);
    free(f);
}

int fake_gateway_port(const fake_gateway *f)
{
    return f->port;
}
const char *fake_gateway_http_base(const fake_gateway *f)
{
    return f->http_base;
}
const char *fake_gateway_ws_url(const fake_gateway *f)
{
    return f->ws_url;
}

int fake_gateway_gateway_bot_json(fake_gateway *f, char *buf, size_t cap)
{
    pthread_mutex_lock(&f->mu);
    int n = bot_json_locked(f, buf, cap);
    pthread_mutex_unlock(&f->mu);
    return n;
}

static int bot_json_locked(fake_gateway *f, char *buf, size_t cap)
{
    uint64_t now = rt_now_ms();
    uint64_t reset_after = f->budget_reset_at > now ? f->budget_reset_at - now : 0;
    int n = snprintf(buf, cap,
                     "{\"url\":\"%s\",\"shards\":%u,\"session_start_limit\":{\"total\":%u,"
                     "\"remaining\":%u,\"reset_after\":%llu,\"max_concurrency\":%u}}",
                     f->ws_url, f->o.shards, f->o.session_total, f->st.session_remaining,
                     (unsigned long long)reset_after, f->o.max_concurrency);
    return n < 0 || (size_t)n >= cap ? -1 : n;
}

/* Runs fn on every targeted connection with the mutex held, then wakes the service thread. */
static void for_targets(fake_gateway *f, int shard, bool identified_only,
                        void (*fn)(fake_gateway *, conn *, void *), void *ctx)
{
    pthread_mutex_lock(&f->mu);
    for (conn *c = f->conns; c; c = c->next) {
        if (c->closing) continue;
        if (shard >= 0 && (!c->identified || c->shard != shard)) continue;
        if (shard < 0 && identified_only && !c->identified) continue;
        fn(f, c, ctx);
    }
    pthread_mutex_unlock(&f->mu);
    lws_cancel_service(f->ctx);
}

int fake_gateway_dispatch(fake_gateway *f, int shard, const char *t, const char *d_json)
{
    if (!f || !t || !t[0] || strlen(t) > 64 || !d_json) return -1;
    for (const char *q = t; *q; q++)
        if (!((*q >= 'A' && *q <= 'Z') || *q == '_' || (*q >= '0' && *q <= '9'))) return -1;
    cJSON *check = cJSON_Parse(d_json);
    if (!check) return -1;
    cJSON_Delete(check);
    int count = 0;
    pthread_mutex_lock(&f->mu);
    for (size_t i = 0; i < f->nsess; i++) {
        session *s = f->sessions[i];
        if (s->dead || (shard >= 0 && s->shard != shard)) continue;
        session_dispatch(f, s, t, d_json, strlen(d_json));
        count++;
    }
    pthread_mutex_unlock(&f->mu);
    lws_cancel_service(f->ctx);
    return count;
}

void fake_gateway_set_heartbeat_interval(fake_gateway *f, uint32_t ms)
{
    pthread_mutex_lock(&f->mu);
    f->hb_interval = ms ? ms : 41250;
    pthread_mutex_unlock(&f->mu);
}

void fake_gateway_set_ack(fake_gateway *f, bool ack)
{
    pthread_mutex_lock(&f->mu);
    f->ack = ack;
    pthread_mutex_unlock(&f->mu);
}

void fake_gateway_set_zlib_split(fake_gateway *f, unsigned parts)
{
    pthread_mutex_lock(&f->mu);
    f->zsplit = parts ? parts : 1;
    pthread_mutex_unlock(&f->mu);
}

void fake_gateway_set_paused(fake_gateway *f, bool paused)
{
    pthread_mutex_lock(&f->mu);
    f->paused = paused;
    pthread_mutex_unlock(&f->mu);
    lws_cancel_service(f->ctx);
}

void fake_gateway_set_resume_fails(fake_gateway *f, bool fail)
{
    pthread_mutex_lock(&f->mu);
    f->resume_fails = fail;
    pthread_mutex_unlock(&f->mu);
}

void fake_gateway_set_budget(fake_gateway *f, uint32_t remaining, uint64_t reset_after_ms)
{
    pthread_mutex_lock(&f->mu);
    f->st.session_remaining = remaining;
    f->budget_reset_at = rt_now_ms() + reset_after_ms;
    pthread_mutex_unlock(&f->mu);
}

static void do_op_null(fake_gateway *f, conn *c, void *ctx)
{
    queue_op(f, c, *(const int *)ctx, "null");
}
void fake_gateway_request_heartbeat(fake_gateway *f, int shard)
{
    int op = 1;
    for_targets(f, shard, true, do_op_null, &op);
}

void fake_gateway_send_reconnect(fake_gateway *f, int shard)
{
    int op = 7;
    for_targets(f, shard, true, do_op_null, &op);
}

static void do_op9(fake_gateway *f, conn *c, void *ctx)
{
    bool resumable = *(bool *)ctx;
    if (!resumable && c->sess) c->sess->dead = true;
    queue_op(f, c, 9, resumable ? "true" : "false");
}
void fake_gateway_send_invalid_session(fake_gateway *f, int shard, bool resumable)
{
    for_targets(f, shard, true, do_op9, &resumable);
}

static void do_close(fake_gateway *f, conn *c, void *ctx)
{
    (void)f;
    int code = *(int *)ctx;
    if ((code == 4007 || code == 4009) && c->sess) c->sess->dead = true;
    queue_close(c, code);
}
void fake_gateway_close(fake_gateway *f, int shard, int code)
{
    for_targets(f, shard, false, do_close, &code);
}

static void do_drop(fake_gateway *f, conn *c, void *ctx)
{
    (void)f;
    (void)ctx;
    queue_end(c, OF_DROP, 0);
}
void fake_gateway_drop(fake_gateway *f, int shard)
{
    for_targets(f, shard, false, do_drop, NULL);
}

typedef struct raw_ctx {
    const void *data;
    size_t len;
    bool binary;
} raw_ctx;
static void do_raw(fake_gateway *f, conn *c, void *ctx)
{
    (void)f;
    raw_ctx *r = ctx;
    queue_raw(c, r->data, r->len, r->binary);
}
void fake_gateway_send_raw(fake_gateway *f, int shard, const void *data, size_t len, bool binary)
{
    raw_ctx r = {data, len, binary};
    for_targets(f, shard, false, do_raw, &r);
}

static void do_frame(fake_gateway *f, conn *c, void *ctx)
{
    const char *json = ctx;
    queue_text(f, c, json, strlen(json));
}
void fake_gateway_send_frame(fake_gateway *f, int shard, const char *json)
{
    for_targets(f, shard, false, do_frame, (void *)(uintptr_t)json);
}

size_t fake_gateway_records(fake_gateway *f, fake_gateway_record **out)
{
    pthread_mutex_lock(&f->mu);
    size_t n = f->nrec;
    fake_gateway_record *copy = calloc(n ? n : 1, sizeof *copy);
    if (!copy) {
        pthread_mutex_unlock(&f->mu);
        *out = NULL;
        return 0;
    }
    for (size_t i = 0; i < n; i++) {
        copy[i] = f->recs[i];
        copy[i].payload = malloc(f->recs[i].len + 1);
        if (copy[i].payload) memcpy(copy[i].payload, f->recs[i].payload, f->recs[i].len + 1);
    }
    pthread_mutex_unlock(&f->mu);
    *out = copy;
    return n;
}

void fake_gateway_records_free(fake_gateway_record *r, size_t n)
{
    if (!r) return;
    for (size_t i = 0; i < n; i++)
        free(r[i].payload);
    free(r);
}

void fake_gateway_get_stats(fake_gateway *f, fake_gateway_stats *out)
{
    pthread_mutex_lock(&f->mu);
    *out = f->st;
    pthread_mutex_unlock(&f->mu);
    if (f->front) {
        fake_front_stats fs;
        fake_front_get_stats(f->front, &fs);
        out->stalled_connections = fs.stalled;
    }
}

void fake_gateway_set_stall(fake_gateway *f, bool stall)
{
    if (f->front) fake_front_set_stall(f->front, stall);
}

/* Waits until done(f, ctx) holds (checked with the mutex held, after every state change) or
 * timeout_ms pass; the check at the deadline decides. */
static bool wait_until(fake_gateway *f, bool (*done)(fake_gateway *f, void *ctx), void *ctx,
                       int timeout_ms)
{
    struct timespec dl = util_deadline(CLOCK_REALTIME, (uint64_t)timeout_ms);
    pthread_mutex_lock(&f->mu);
    bool ok;
    while (!(ok = done(f, ctx))) {
        if (pthread_cond_timedwait(&f->cv, &f->mu, &dl) == ETIMEDOUT) {
            ok = done(f, ctx);
            break;
        }
    }
    pthread_mutex_unlock(&f->mu);
    return ok;
}

typedef struct stats_pred {
    bool (*pred)(const fake_gateway_stats *s, void *ctx);
    void *ctx;
} stats_pred;

static bool stats_done(fake_gateway *f, void *ctx)
{
    const stats_pred *p = ctx;
    return p->pred(&f->st, p->ctx);
}

bool fake_gateway_wait(fake_gateway *f, bool (*pred)(const fake_gateway_stats *s, void *ctx),
                       void *ctx, int timeout_ms)
{
    stats_pred p = {pred, ctx};
    return wait_until(f, stats_done, &p, timeout_ms);
}

static unsigned count_op_locked(fake_gateway *f, int op)
{
    unsigned n = 0;
    for (size_t i = 0; i < f->nrec; i++)
        if (f->recs[i].op == op) n++;
    return n;
}

unsigned fake_gateway_count_op(fake_gateway *f, int op)
{
    pthread_mutex_lock(&f->mu);
    unsigned n = count_op_locked(f, op);
    pthread_mutex_unlock(&f->mu);
    return n;
}

typedef struct op_count {
    int op;
    unsigned n;
} op_count;

static bool ops_done(fake_gateway *f, void *ctx)
{
    const op_count *want = ctx;
    return count_op_locked(f, want->op) >= want->n;
}

bool fake_gateway_wait_op(fake_gateway *f, int op, unsigned n, int timeout_ms)
{
    op_count want = {op, n};
    return wait_until(f, ops_done, &want, timeout_ms);
}

unsigned fake_gateway_client_close_count(fake_gateway *f, int code)
{
    unsigned n = 0;
    pthread_mutex_lock(&f->mu);
    for (int i = 0; i < MAX_CLOSE_CODES; i++)
        if (f->close_codes[i] == code) n = f->close_counts[i];
    pthread_mutex_unlock(&f->mu);
    return n;
}
