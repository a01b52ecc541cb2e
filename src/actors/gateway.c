/*
 * gateway actor: lws client loop around the pure gateway modules (see gateway.h).
 *
 * Everything below runs on the actor's loop thread except gateway_new/gateway_free, the
 * wake hook and gateway_counters_get. One loop turn: drain the mailbox, retry kept dispatches,
 * let every shard's session act on time (connect, heartbeat, zombie, identify permit), carry
 * out the actions it emitted, schedule an lws timer for the earliest deadline, then
 * lws_service() until a socket event, that timer or a wake.
 *
 * Connections: each websocket has a `conn` (the lws opaque user data). When a session
 * abandons a connection (zombie, op 7, op 9, timeouts) the conn is detached from its shard
 * and closed; its late callbacks only free it, so a dead peer never delays the reconnect.
 */
#include "actors/gateway.h"
#include "util/util_http.h"

#include <libwebsockets.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "discord/gw_envelope.h"
#include "discord/gw_idq.h"
#include "pg/pg_idgate.h"
#include "discord/gw_payload.h"
#include "discord/gw_session.h"
#include "discord/gw_url.h"
#include "discord/gw_zlib.h"
#include "fluxbot/log.h"
#include "msgs/gw.h"
#include "msgs/rest.h"
#include "util/util_time.h"

#define LOGN GATEWAY_ACTOR_NAME
#define DEF(v, d) ((v) ? (v) : (d))
#define RX_INITIAL 16384u
#define PENDING_MAX 100000u
#define BOT_INFO_MAX 65536u
#define GW_READ_BUF 65536u

typedef struct shard shard;
typedef struct gateway gateway;

typedef struct out_frame {
    struct out_frame *next;
    size_t len;
    unsigned char data[]; /* LWS_PRE headroom, then the payload */
} out_frame;

typedef struct conn {
    struct conn *next_all; /* every live conn, for shutdown accounting */
    gateway *g;
    shard *sh; /* NULL once abandoned */
    struct lws *wsi;
    bool established;
    bool in_connect; /* inside lws_client_connect_via_info */
    bool sync_error; /* the connect failed inside that call */
    int close_code;  /* > 0: close with it at the next writable */
    int peer_code;   /* close code the server sent, 0 = none */
    out_frame *oq_head, *oq_tail;
    char *rx;
    size_t rx_len, rx_cap;
    bool rx_overflow;
} conn;

struct shard {
    gateway *g;
    uint32_t id;
    gw_session s;
    conn *cur;
    gw_inflater z;
    bool budget_logged;
    uint64_t last_connects;
};

typedef struct pending {
    struct pending *next;
    gw_dispatch_msg *m;
} pending;

struct gateway {
    gateway_config cfg;
    char token[256];
    char api_base[FB_CONFIG_STR];
    rt_actor *actor;
    rt_system *sys;
    gw_roles *roles;
    bool own_roles;

    pthread_mutex_t ctx_lock; /* guards ctx against the wake hook during teardown */
    struct lws_context *ctx;
    lws_sorted_usec_list_t sul;

    gw_bot_info bot;
    gw_idq idq;
    pg_idgate *idgate;        /* shared pacing across processes; NULL = this process only */
    bool idgate_err_logged;   /* one log line per outage, not one per poll */
    uint64_t idgate_retry_at; /* after a failure, no shard asks before this (ms) */
    shard *shards;
    uint32_t nshards;
    conn *conns;
    pending *p_head, *p_tail;
    uint64_t npending;
    bool started; /* shards exist */
    bool fatal;
    bool stopping;
    bool holding;
    uint64_t stop_deadline;
    bool warned_no_target;

    /* counters (written on the loop thread, read anywhere) */
    _Atomic uint64_t n_connections, n_reconnects, n_identifies, n_resumes, n_resumed, n_ready,
        n_zombies, n_invalid, n_frames_in, n_frames_out, n_bytes_in, n_malformed, n_oversized,
        n_dropped, n_duplicates, n_forwarded, n_fwd_retries, n_pending, n_lost, n_role_events,
        n_id_waits, n_id_gate_errors, application_id, user_id;
    _Atomic uint32_t n_shards, n_active;
    _Atomic int fatal_code;
};

static void bump(_Atomic uint64_t *c)
{
    atomic_fetch_add_explicit(c, 1, memory_order_relaxed);
}

/* ---- dispatch forwarding ---------------------------------------------------------------- */

static void pending_push(gateway *g, gw_dispatch_msg *m)
{
    if (g->npending >= PENDING_MAX) {
        LOG_ERROR(LOGN,
                  "dropping %s (shard %u, seq %llu): %llu dispatches already wait for the "
                  "target actor, which is not draining its mailbox",
                  m->event, m->shard_id, (unsigned long long)m->seq,
                  (unsigned long long)g->npending);
        bump(&g->n_lost);
        rt_msg_free(&m->hdr);
        return;
    }
    pending *p = malloc(sizeof *p);
    if (!p) abort();
    p->next = NULL;
    p->m = m;
    if (g->p_tail)
        g->p_tail->next = p;
    else
        g->p_head = p;
    g->p_tail = p;
    g->npending++;
    atomic_store(&g->n_pending, g->npending);
}

/* Delivers kept dispatches in order; wait_ms > 0 waits that long for the first one. */
static void pending_flush(gateway *g, int64_t wait_ms)
{
    while (g->p_head) {
        pending *p = g->p_head;
        int rc = wait_ms > 0 ? rt_send_wait(g->cfg.target, &p->m->hdr, wait_ms)
                             : rt_send(g->cfg.target, &p->m->hdr);
        if (rc == -RT_ESTOPPED) {
            LOG_ERROR(LOGN, "target actor stopped: %s (shard %u, seq %llu) cannot be delivered",
                      p->m->event, p->m->shard_id, (unsigned long long)p->m->seq);
            bump(&g->n_lost);
            rt_msg_free(&p->m->hdr);
        } else if (rc != 0) {
            break;
        } else {
            bump(&g->n_forwarded);
        }
        g->p_head = p->next;
        if (!g->p_head) g->p_tail = NULL;
        free(p);
        g->npending--;
        wait_ms = 0;
    }
    if (!g->p_head && atomic_load(&g->n_pending)) {
        LOG_INFO(LOGN, "all kept dispatches were delivered");
    }
    atomic_store(&g->n_pending, g->npending);
}

static void forward(gateway *g, shard *sh, const gw_envelope *env, uint64_t recv_ns)
{
    if (!g->cfg.target) {
        if (!g->warned_no_target) {
            LOG_WARN(LOGN, "no target actor: %s and later dispatches are not delivered", env->t);
            g->warned_no_target = true;
        }
        bump(&g->n_lost);
        return;
    }
    gw_dispatch_msg *m = gw_dispatch_msg_new(env->t, sh->id, env->has_seq ? (uint64_t)env->seq : 0,
                                             env->d.p, env->has_d ? env->d.len : 0);
    m->recv_ns = recv_ns;
    if (g->p_head) { /* keep the order: behind the ones already waiting */
        pending_push(g, m);
        pending_flush(g, 0);
        return;
    }
    int rc = rt_send_wait(g->cfg.target, &m->hdr, DEF(g->cfg.send_wait_ms, 20u));
    if (rc == 0) {
        bump(&g->n_forwarded);
        return;
    }
    if (rc == -RT_ESTOPPED) {
        LOG_ERROR(LOGN, "target actor stopped: %s (shard %u, seq %llu) cannot be delivered", env->t,
                  sh->id, (unsigned long long)m->seq);
        bump(&g->n_lost);
        rt_msg_free(&m->hdr);
        return;
    }
    LOG_WARN(LOGN, "target mailbox full for %u ms: keeping %s (shard %u, seq %llu) and retrying",
             DEF(g->cfg.send_wait_ms, 20u), env->t, sh->id, (unsigned long long)m->seq);
    bump(&g->n_fwd_retries);
    pending_push(g, m);
}

static bool is_role_event(const char *t)
{
    return strcmp(t, "GUILD_CREATE") == 0 || strcmp(t, "GUILD_DELETE") == 0 ||
           strcmp(t, "GUILD_ROLE_CREATE") == 0 || strcmp(t, "GUILD_ROLE_UPDATE") == 0 ||
           strcmp(t, "GUILD_ROLE_DELETE") == 0;
}

static void on_dispatch(gateway *g, shard *sh, const gw_envelope *env, uint64_t recv_ns)
{
    if (strcmp(env->t, "INTERACTION_CREATE") == 0) {
        forward(g, sh, env, recv_ns);
    } else if (is_role_event(env->t)) {
        int rc = gw_roles_apply(g->roles, env->t, env->d.p, env->d.len);
        if (rc < 0)
            LOG_WARN(LOGN, "shard %u: malformed %s ignored by the role cache", sh->id, env->t);
        else
            bump(&g->n_role_events);
        if (g->cfg.forward_guild_events) forward(g, sh, env, recv_ns);
    } else if (strcmp(env->t, "READY") == 0) {
        bump(&g->n_ready);
        atomic_store(&g->application_id, sh->s.application_id);
        atomic_store(&g->user_id, sh->s.user_id);
        LOG_INFO(LOGN, "shard %u/%u ready (session %s, application %llu, user %llu)", sh->id,
                 g->nshards ? sh->s.cfg.shard_count : 0, sh->s.session_id,
                 (unsigned long long)sh->s.application_id, (unsigned long long)sh->s.user_id);
    } else if (strcmp(env->t, "RESUMED") == 0) {
        bump(&g->n_resumed);
        LOG_INFO(LOGN, "shard %u resumed (seq %lld)", sh->id, (long long)sh->s.seq);
    } else {
        bump(&g->n_dropped);
    }
}

/* ---- connections ------------------------------------------------------------------------ */

static void conn_free(gateway *g, conn *c)
{
    for (conn **pp = &g->conns; *pp; pp = &(*pp)->next_all) {
        if (*pp == c) {
            *pp = c->next_all;
            break;
        }
    }
    if (c->sh && c->sh->cur == c) c->sh->cur = NULL;
    out_frame *f = c->oq_head;
    while (f) {
        out_frame *n = f->next;
        free(f);
        f = n;
    }
    free(c->rx);
    free(c);
}

static void apply_actions(shard *sh);

static void conn_queue(conn *c, const char *payload, size_t len, bool front)
{
    out_frame *f = malloc(sizeof *f + LWS_PRE + len);
    if (!f) abort();
    f->len = len;
    memcpy(f->data + LWS_PRE, payload, len);
    if (front) {
        f->next = c->oq_head;
        c->oq_head = f;
        if (!c->oq_tail) c->oq_tail = f;
    } else {
        f->next = NULL;
        if (c->oq_tail)
            c->oq_tail->next = f;
        else
            c->oq_head = f;
        c->oq_tail = f;
    }
    if (c->wsi && c->established) lws_callback_on_writable(c->wsi);
}

/* Detaches the shard's current connection and has it closed (code 0: abort). */
static void conn_abandon(shard *sh, int code)
{
    conn *c = sh->cur;
    if (!c) return;
    sh->cur = NULL;
    c->sh = NULL;
    if (!c->wsi) return;
    if (c->established && code > 0) {
        c->close_code = code;
        lws_callback_on_writable(c->wsi);
        /* If the peer never completes the closing handshake, kill it anyway. */
        lws_set_timeout(c->wsi, PENDING_TIMEOUT_USER_OK, 3);
    } else {
        lws_set_timeout(c->wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
    }
}

static void fatal_stop(gateway *g, int code, const char *text)
{
    if (g->fatal) return;
    g->fatal = true;
    atomic_store(&g->fatal_code, code);
    LOG_ERROR(LOGN, "FATAL: %s. The bot is stopping (exit code %d).", text,
              DEF(g->cfg.fatal_exit_code, 4));
    rt_system_request_exit(g->sys, DEF(g->cfg.fatal_exit_code, 4));
}

static void shard_connect(shard *sh, const char *url)
{
    gateway *g = sh->g;
    gw_url u;
    uint64_t now = rt_now_ms();
    if (gw_url_parse(url, &u) < 0 || (!u.tls && !gw_url_host_is_loopback(u.host))) {
        LOG_ERROR(LOGN, "shard %u: refusing gateway URL %s (only wss://, or ws:// to loopback)",
                  sh->id, url);
        gw_session_on_connect_error(&sh->s, now);
        return;
    }
    if (sh->s.n_connects > 1) bump(&g->n_reconnects);
    gw_inflater_reset(&sh->z);
    conn *c = calloc(1, sizeof *c);
    if (!c) abort();
    c->g = g;
    c->sh = sh;
    c->next_all = g->conns;
    g->conns = c;
    sh->cur = c;

    struct lws_client_connect_info ci;
    memset(&ci, 0, sizeof ci);
    ci.context = g->ctx;
    ci.address = u.host;
    ci.port = u.port;
    ci.path = u.path;
    ci.host = u.host;
    ci.origin = u.host;
    ci.ssl_connection = u.tls ? LCCSCF_USE_SSL : 0;
    ci.local_protocol_name = "fluxbot-gateway";
    ci.opaque_user_data = c;
    /* No ci.pwsi: libwebsockets would write through it when the wsi dies, possibly after the
     * conn was freed. c->wsi is set from the return value and cleared by conn_lost. */
    ci.retry_and_idle_policy = NULL;
    c->in_connect = true;
    struct lws *wsi = lws_client_connect_via_info(&ci);
    c->in_connect = false;
    if (wsi && !c->sync_error) c->wsi = wsi;
    LOG_DEBUG(LOGN, "shard %u: connecting to %s", sh->id, url);
    if (!wsi || c->sync_error) {
        c->wsi = NULL; /* conn_lost already detached it from the wsi */
        conn_free(g, c);
        gw_session_on_connect_error(&sh->s, now);
        LOG_WARN(LOGN, "shard %u: gateway connection failed: cannot connect to %s://%s:%d", sh->id,
                 u.tls ? "wss" : "ws", u.host, u.port);
    }
}

static void apply_actions(shard *sh)
{
    gateway *g = sh->g;
    gw_action a;
    while (gw_session_next_action(&sh->s, &a)) {
        switch (a.kind) {
        case GW_ACT_CONNECT:
            if (sh->cur) conn_abandon(sh, 0);
            shard_connect(sh, a.url);
            break;
        case GW_ACT_SEND:
            if (!sh->cur) break;
            if (a.op == GW_OP_IDENTIFY) {
                bump(&g->n_identifies);
                LOG_INFO(LOGN, "shard %u: identifying", sh->id);
            } else if (a.op == GW_OP_RESUME) {
                bump(&g->n_resumes);
                LOG_INFO(LOGN, "shard %u: resuming session %s at seq %lld", sh->id,
                         sh->s.session_id, (long long)sh->s.seq);
            }
            conn_queue(sh->cur, a.payload, a.len, a.priority);
            break;
        case GW_ACT_CLOSE:
            if (a.code == 4000 && strstr(a.text, "zombie")) bump(&g->n_zombies);
            if (a.code > 0)
                LOG_WARN(LOGN, "shard %u: closing with %d (%s)", sh->id, a.code, a.text);
            else
                LOG_WARN(LOGN, "shard %u: gateway connection failed: %s; retrying", sh->id, a.text);
            conn_abandon(sh, a.code);
            break;
        case GW_ACT_FATAL:
            fatal_stop(g, a.code, a.text);
            break;
        }
    }
}

/* One complete gateway message from the shard's current connection. */
static void on_message(shard *sh, const char *msg, size_t len, uint64_t recv_ns)
{
    gateway *g = sh->g;
    bump(&g->n_frames_in);
    atomic_fetch_add_explicit(&g->n_bytes_in, len, memory_order_relaxed);
    gw_envelope env;
    int rc = gw_envelope_parse(msg, len, 0, &env);
    if (rc != GW_ENV_OK) {
        bump(&g->n_malformed);
        LOG_WARN(LOGN, "shard %u: dropped a malformed frame (%zu bytes): %s", sh->id, len,
                 gw_envelope_strerror(rc));
        return;
    }
    uint64_t now = rt_now_ms();
    const uint64_t invalid_before = sh->s.n_invalid_sessions;
    gw_frame_result r = gw_session_on_frame(&sh->s, now, &env);
    if (sh->s.n_invalid_sessions != invalid_before) {
        bump(&g->n_invalid);
        LOG_WARN(LOGN, "shard %u: invalid session (%s)", sh->id,
                 gw_json_kind_of(env.d) == GW_JSON_TRUE ? "resumable" : "not resumable");
    }
    if (env.op == GW_OP_RECONNECT) LOG_INFO(LOGN, "shard %u: server asked to reconnect", sh->id);
    if (r == GW_FRAME_DUPLICATE) bump(&g->n_duplicates);
    if (r == GW_FRAME_DISPATCH) on_dispatch(g, sh, &env, recv_ns);
    apply_actions(sh);
}

static void rx_append(conn *c, const void *in, size_t len, size_t max)
{
    if (c->rx_overflow) return;
    if (c->rx_len + len > max) {
        c->rx_overflow = true;
        return;
    }
    if (c->rx_len + len + 1 > c->rx_cap) {
        size_t cap = c->rx_cap ? c->rx_cap : RX_INITIAL;
        while (cap < c->rx_len + len + 1)
            cap *= 2;
        char *p = realloc(c->rx, cap);
        if (!p) {
            c->rx_overflow = true;
            return;
        }
        c->rx = p;
        c->rx_cap = cap;
    }
    memcpy(c->rx + c->rx_len, in, len);
    c->rx_len += len;
}

static void on_receive(conn *c, struct lws *wsi, const void *in, size_t len)
{
    shard *sh = c->sh;
    gateway *g = c->g;
    const size_t max = DEF(g->cfg.max_frame_bytes, (size_t)16u << 20);
    const bool end = lws_is_final_fragment(wsi) && lws_remaining_packet_payload(wsi) == 0;
    const uint64_t recv_ns = rt_now_ns();
    if (sh->s.cfg.compress) {
        const char *msg = NULL;
        size_t mlen = 0;
        int rc = gw_inflater_feed(&sh->z, in, len, end, &msg, &mlen);
        if (rc == GW_INFLATE_MESSAGE) {
            on_message(sh, msg, mlen, recv_ns);
        } else if (rc == GW_INFLATE_OVERSIZED) {
            bump(&g->n_oversized);
            LOG_WARN(LOGN, "shard %u: dropped an oversized frame (%zu bytes inflated > %zu)",
                     sh->id, mlen, max);
        } else if (rc == GW_INFLATE_ERROR) {
            bump(&g->n_malformed);
            LOG_WARN(LOGN, "shard %u: corrupt zlib stream; reconnecting", sh->id);
            gw_session_on_protocol_error(&sh->s, rt_now_ms(), "corrupt zlib stream");
            apply_actions(sh);
        }
        return;
    }
    rx_append(c, in, len, max);
    if (!end) return;
    if (c->rx_overflow) {
        bump(&g->n_oversized);
        LOG_WARN(LOGN, "shard %u: dropped an oversized frame (> %zu bytes)", sh->id, max);
    } else {
        if (c->rx) c->rx[c->rx_len] = '\0';
        on_message(sh, c->rx ? c->rx : "", c->rx_len, recv_ns);
    }
    /* on_message may have abandoned c (it is then freed only by a later callback). */
    c->rx_len = 0;
    c->rx_overflow = false;
    if (c->rx_cap > (1u << 20)) { /* do not keep a GUILD_CREATE-sized buffer forever */
        free(c->rx);
        c->rx = NULL;
        c->rx_cap = 0;
    }
}

/* The connection behind wsi is gone for good: a failed connect (refused, TLS, upgrade
 * refused or never answered, libwebsockets' own timeout), a close, or the wsi's destruction.
 * Every one of those callbacks comes here, and the first one drops every pointer to the wsi:
 * libwebsockets frees it right after, and a pointer kept past that (the conn's, or the
 * shard's through the conn) is a use-after-free at the next lws_set_timeout — a remote crash
 * any server that accepts TCP and never answers could trigger. */
static void conn_lost(conn *c, struct lws *wsi, int code, const char *why)
{
    gateway *g = c->g;
    lws_set_opaque_user_data(wsi, NULL);
    c->wsi = NULL;
    if (c->in_connect) {
        c->sync_error = true; /* shard_connect reports and frees it */
        return;
    }
    shard *sh = c->sh;
    const bool opened = c->established;
    conn_free(g, c);
    if (!sh || !g->ctx) return; /* abandoned, or the context is being destroyed */
    lws_cancel_service(g->ctx); /* come around the loop now: the session has a new deadline */
    const uint64_t now = rt_now_ms();
    if (!opened) {
        gw_session_on_connect_error(&sh->s, now);
        LOG_WARN(LOGN, "shard %u: gateway connection failed: %s; retrying in %llu ms", sh->id, why,
                 (unsigned long long)(sh->s.reconnect_at > now ? sh->s.reconnect_at - now : 0));
    } else {
        if (gw_close_classify(code) != GW_CLOSE_FATAL)
            LOG_WARN(LOGN, "shard %u: %s", sh->id, gw_close_describe(code));
        gw_session_on_close(&sh->s, now, code);
    }
    apply_actions(sh);
}

static int callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                    size_t len)
{
    (void)user;
    conn *c = lws_get_opaque_user_data(wsi);
    switch (reason) {
    case LWS_CALLBACK_CLIENT_CONNECTION_ERROR: {
        if (!c) return 0;
        char why[160];
        snprintf(why, sizeof why, "%s", in ? (const char *)in : "unknown error");
        conn_lost(c, wsi, 1006, why);
        return 0;
    }
    case LWS_CALLBACK_CLIENT_ESTABLISHED:
        if (!c) return 0;
        c->established = true;
        if (c->sh) {
            bump(&c->g->n_connections);
            gw_session_on_open(&c->sh->s, rt_now_ms());
            apply_actions(c->sh);
        }
        if (c->oq_head || c->close_code) lws_callback_on_writable(wsi);
        return 0;

    case LWS_CALLBACK_CLIENT_RECEIVE:
        if (c && c->sh) on_receive(c, wsi, in, len);
        return 0;

    case LWS_CALLBACK_CLIENT_WRITEABLE: {
        if (!c) return 0;
        if (c->close_code > 0) {
            static const char why[] = "fluxbot";
            lws_close_reason(wsi, (enum lws_close_status)c->close_code, (unsigned char *)why,
                             sizeof why - 1);
            return -1;
        }
        if (!c->sh) return 0;
        out_frame *f = c->oq_head;
        if (!f) return 0;
        c->oq_head = f->next;
        if (!c->oq_head) c->oq_tail = NULL;
        int w = lws_write(wsi, f->data + LWS_PRE, f->len, LWS_WRITE_TEXT);
        size_t want = f->len;
        free(f);
        if (w < (int)want) return -1;
        bump(&c->g->n_frames_out);
        if (c->oq_head) lws_callback_on_writable(wsi);
        return 0;
    }

    case LWS_CALLBACK_WS_PEER_INITIATED_CLOSE:
        if (c && len >= 2)
            c->peer_code = (((const unsigned char *)in)[0] << 8) | ((const unsigned char *)in)[1];
        return 0;

    case LWS_CALLBACK_CLIENT_CLOSED:
        if (c) conn_lost(c, wsi, c->peer_code ? c->peer_code : 1006, "connection closed");
        return 0;

    case LWS_CALLBACK_WSI_DESTROY:
        /* The last word on every wsi, also when libwebsockets ends one on its own timeout
         * (a server that never answers the upgrade) without any of the callbacks above. */
        if (c)
            conn_lost(c, wsi, c->peer_code ? c->peer_code : 1006,
                      c->established ? "connection dropped"
                                     : "no answer to the websocket upgrade (timed out)");
        return 0;

    default:
        return 0;
    }
}

static const struct lws_protocols protocols[] = {
    {"fluxbot-gateway", callback, 0, 65536, 0, NULL, 0},
    {NULL, NULL, 0, 0, 0, NULL, 0},
};

/* ---- GET /gateway/bot ------------------------------------------------------------------- */

static bool stop_asked(void *ctx)
{
    gateway *g = ctx;
    return rt_actor_stop_requested(g->actor); /* abort on shutdown */
}

/* 0 = got it, 1 = retry later, -1 = fatal (logged). */
static int fetch_bot_info(gateway *g)
{
    char url[FB_CONFIG_STR + 32];
    size_t n = strlen(g->api_base);
    while (n && g->api_base[n - 1] == '/')
        n--;
    snprintf(url, sizeof url, "%.*s/gateway/bot", (int)n, g->api_base);
    char auth[300];
    snprintf(auth, sizeof auth, "Bot %s", g->token);
    util_http_opts o = {.authorization = auth,
                        .timeout_ms = 10000,
                        .max_bytes = BOT_INFO_MAX,
                        .cancel = stop_asked,
                        .cancel_ctx = g};
    util_http_res b;
    int rc = util_http_get(url, &o, &b);
    long status = b.status;

    int result = 1;
    if (rc != 0) {
        if (!rt_actor_stop_requested(g->actor))
            LOG_WARN(LOGN, "GET /gateway/bot failed: %s", b.error);
    } else if (status == 401) {
        fatal_stop(g, 401,
                   "Discord rejected the bot token (401 on GET /gateway/bot); set a valid "
                   "DISCORD_TOKEN");
        result = -1;
    } else if (status != 200) {
        LOG_WARN(LOGN, "GET /gateway/bot answered HTTP %ld; retrying", status);
    } else {
        char err[160];
        if (gw_parse_bot_info(b.body ? b.body : "", b.len, &g->bot, err, sizeof err) == 0)
            result = 0;
        else
            LOG_WARN(LOGN, "%s; retrying", err);
    }
    util_http_res_free(&b);
    return result;
}

/* ---- shards ----------------------------------------------------------------------------- */

static int shards_start(gateway *g)
{
    uint64_t now = rt_now_ms();
    uint32_t count = g->cfg.shard_count > 0 ? (uint32_t)g->cfg.shard_count : g->bot.shards;
    uint32_t first = 0, n = count;
    if (g->cfg.shard_id >= 0) {
        if ((uint64_t)g->cfg.shard_id >= count) {
            fatal_stop(g, 0, "shard_id is not below the shard count");
            return -1;
        }
        first = (uint32_t)g->cfg.shard_id;
        n = 1;
    }
    if (n > DEF(g->cfg.max_shards, 64u)) {
        char why[160];
        snprintf(why, sizeof why,
                 "%u shards requested but this process runs at most %u; split them with "
                 "--shard ID/COUNT across processes",
                 n, DEF(g->cfg.max_shards, 64u));
        fatal_stop(g, 0, why);
        return -1;
    }
    gw_idq_init(&g->idq, g->bot.max_concurrency, DEF(g->cfg.identify_interval_ms, 5000u), now);
    if (g->cfg.db_url && g->cfg.db_url[0]) {
        pg_idgate_cfg ic = {.url = g->cfg.db_url, .margin_ms = g->cfg.identify_margin_ms};
        g->idgate = pg_idgate_new(&ic);
        if (!g->idgate) {
            fatal_stop(g, 0, "db_url is not a usable postgresql:// URL");
            return -1;
        }
        LOG_INFO(LOGN, "identify pacing shared with the other processes through PostgreSQL");
    }
    gw_idq_set_budget(&g->idq, g->bot.total, g->bot.remaining, g->bot.reset_after_ms, now);
    if (g->bot.remaining < n)
        LOG_WARN(LOGN,
                 "only %u session starts remain today for %u shards; identifies will wait "
                 "%llu s for the reset rather than exceed the budget (that would reset the "
                 "token)",
                 g->bot.remaining, n, (unsigned long long)(g->bot.reset_after_ms / 1000));
    g->shards = calloc(n, sizeof *g->shards);
    if (!g->shards) return -1;
    for (uint32_t i = 0; i < n; i++) {
        shard *sh = &g->shards[i];
        sh->g = g;
        sh->id = first + i;
        gw_session_cfg sc = {
            .token = g->token,
            .gateway_url = g->bot.url,
            .compress = g->cfg.compress,
            .shard_id = sh->id,
            .shard_count = count,
            .intents = DEF(g->cfg.intents, GW_INTENT_GUILDS),
            .large_threshold = 50,
            .backoff_base_ms = g->cfg.backoff_base_ms,
            .backoff_cap_ms = g->cfg.backoff_cap_ms,
            .invalid_wait_min_ms = g->cfg.invalid_wait_min_ms,
            .invalid_wait_max_ms = g->cfg.invalid_wait_max_ms,
            .connect_timeout_ms = g->cfg.connect_timeout_ms,
            .hello_timeout_ms = g->cfg.hello_timeout_ms,
        };
        if (gw_session_init(&sh->s, &sc, now) != 0 ||
            gw_inflater_init(&sh->z, DEF(g->cfg.max_frame_bytes, (size_t)16u << 20)) != 0) {
            fatal_stop(g, 0, "invalid gateway configuration (token, URL or shard)");
            g->nshards = i;
            return -1;
        }
        g->nshards = i + 1;
    }
    atomic_store(&g->n_shards, g->nshards);
    g->started = true;
    LOG_INFO(LOGN, "running %u of %u shard(s) from %s (max_concurrency %u, %u/%u starts left)", n,
             count, g->bot.url, g->bot.max_concurrency, g->bot.remaining, g->bot.total);
    return 0;
}

/* Asks the database whether shard sh may identify now (pg_idgate). False with *retry set when
 * another process identified its bucket too recently, or when the database cannot be asked:
 * the gate fails closed, since an unpaced identify is what it prevents. */
static bool shared_identify_permit(gateway *g, shard *sh, uint64_t now, uint64_t *retry)
{
    /* A failed claim may have waited seconds (an unreachable host): with one attempt per shard
     * per second the loop would spend its time there instead of heartbeating the live shards.
     * One attempt for all shards per pause. */
    if (now < g->idgate_retry_at) {
        *retry = g->idgate_retry_at;
        return false;
    }
    uint32_t bucket = sh->id % (g->idq.max_concurrency ? g->idq.max_concurrency : 1);
    uint64_t wait = 0;
    char err[256] = "";
    pg_idgate_verdict v =
        pg_idgate_claim(g->idgate, bucket, (uint32_t)g->idq.interval_ms, &wait, err, sizeof err);
    if (v == PG_IDGATE_GRANTED) {
        if (g->idgate_err_logged) LOG_INFO(LOGN, "identify pacing: the database answers again");
        g->idgate_err_logged = false;
        return true;
    }
    if (v == PG_IDGATE_WAIT) {
        bump(&g->n_id_waits);
        LOG_DEBUG(LOGN, "shard %u: bucket %u identified by another process; waiting %llu ms",
                  sh->id, bucket, (unsigned long long)wait);
        *retry = now + (wait ? wait : 1);
        return false;
    }
    bump(&g->n_id_gate_errors);
    if (!g->idgate_err_logged)
        LOG_ERROR(LOGN,
                  "shard %u: identify pacing through the database failed (%s); not identifying "
                  "until it answers (resumes go on)",
                  sh->id, err);
    g->idgate_err_logged = true;
    g->idgate_retry_at = rt_now_ms() + 1000;
    *retry = g->idgate_retry_at;
    return false;
}

/* Lets every shard act on time; returns the earliest time anything is due. */
static uint64_t shards_poll(gateway *g)
{
    uint64_t now = rt_now_ms(), next = UINT64_MAX;
    uint32_t active = 0;
    for (uint32_t i = 0; i < g->nshards; i++) {
        shard *sh = &g->shards[i];
        gw_session *s = &sh->s;
        if (s->state == GW_ST_DISCONNECTED && gw_session_needs_identify(s)) {
            uint64_t at = gw_idq_ready_at(&g->idq, sh->id, now);
            if (at > now) gw_session_hold_until(s, at);
        }
        gw_session_poll(s, now);
        apply_actions(sh);
        if (gw_session_wants_identify(s)) {
            uint64_t retry;
            /* The shared gate is asked only when this process would identify now, so a wait
             * there costs no local permit (nor a unit of the daily budget). */
            if (g->idgate && gw_idq_ready_at(&g->idq, sh->id, now) <= now &&
                !shared_identify_permit(g, sh, now, &retry)) {
                if (retry < next) next = retry;
                goto shard_done;
            }
            gw_idq_verdict v = gw_idq_acquire(&g->idq, sh->id, now, &retry);
            if (v == GW_IDQ_GRANTED) {
                sh->budget_logged = false;
                gw_session_identify(s, now);
                apply_actions(sh);
            } else {
                if (v == GW_IDQ_WAIT_BUDGET && !sh->budget_logged) {
                    LOG_ERROR(LOGN,
                              "shard %u: the daily session start budget is spent; waiting %llu "
                              "s for its reset instead of identifying (exceeding it resets the "
                              "token)",
                              sh->id, (unsigned long long)((retry - now) / 1000));
                    sh->budget_logged = true;
                }
                if (retry < next) next = retry;
            }
        }
    shard_done:
        if (s->state == GW_ST_ACTIVE) active++;
        uint64_t d = gw_session_next_deadline(s);
        if (d < next) next = d;
    }
    atomic_store(&g->n_active, active);
    return next;
}

/* ---- loop ------------------------------------------------------------------------------- */

static void sul_cb(lws_sorted_usec_list_t *sul)
{
    (void)sul;
}

static void schedule(gateway *g, uint64_t at_ms)
{
    uint64_t now = rt_now_ms();
    uint64_t delay = at_ms > now ? at_ms - now : 0;
    if (delay > 1000) delay = 1000; /* also bounds how late a missed wake is noticed */
    lws_sul_schedule(g->ctx, 0, &g->sul, sul_cb, (lws_usec_t)(delay ? delay : 1) * LWS_US_PER_MS);
}

static void on_mail(rt_actor *self, void *state, rt_msg *m)
{
    (void)self;
    (void)state;
    rt_msg_free(m); /* the gateway takes no commands yet; timers and pings are just freed */
}

static void begin_stop(gateway *g)
{
    g->stopping = true;
    g->stop_deadline = rt_now_ms() + DEF(g->cfg.stop_grace_ms, 2000u);
    uint64_t now = rt_now_ms();
    for (uint32_t i = 0; i < g->nshards; i++) {
        gw_session_stop(&g->shards[i].s, now);
        apply_actions(&g->shards[i]);
    }
    LOG_INFO(LOGN, "closing %u shard(s) with 1000", g->nshards);
}

static void lws_log_emit(int level, const char *line)
{
    size_t n = strlen(line);
    while (n && (line[n - 1] == '\n' || line[n - 1] == '\r'))
        n--;
    if (level & LLL_ERR)
        LOG_WARN("lws", "%.*s", (int)n, line);
    else
        LOG_DEBUG("lws", "%.*s", (int)n, line);
}

static void gateway_loop(rt_actor *self, void *state, unsigned thread_index)
{
    (void)thread_index;
    gateway *g = state;
    lws_set_log_level(LLL_ERR | LLL_WARN, lws_log_emit);
    struct lws_context_creation_info info;
    memset(&info, 0, sizeof info);
    info.port = CONTEXT_PORT_NO_LISTEN;
    info.protocols = protocols;
    info.gid = -1;
    info.uid = -1;
    info.options = LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
    info.user = g;
    /* libwebsockets' own step timeouts may end a stalled connect before the session does. */
    info.timeout_secs = g->cfg.lws_timeout_s;
    info.connect_timeout_secs = g->cfg.lws_timeout_s;
    /* libwebsockets reads a socket into this buffer, one read per wake-up of the loop: at its
     * default 4 KiB a 2 MiB GUILD_CREATE took 512 reads (and as many polls), and a burst of
     * dispatches (150-1500 bytes each) a read per few frames. 64 KiB takes a burst, or a large
     * frame in 16x fewer, and every frame read is inflated and handled before the next poll. */
    info.pt_serv_buf_size = GW_READ_BUF;
    struct lws_context *ctx = lws_create_context(&info);
    if (!ctx) {
        LOG_ERROR(LOGN, "cannot create the libwebsockets client context");
        rt_system_request_exit(g->sys, 1);
        while (!rt_actor_should_exit(self)) {
            rt_actor_drain(self, on_mail, 0);
            util_sleep_ms(20);
        }
        return;
    }
    pthread_mutex_lock(&g->ctx_lock);
    g->ctx = ctx;
    pthread_mutex_unlock(&g->ctx_lock);
    rt_actor_hold(self); /* released once the shards closed cleanly on stop */
    g->holding = true;

    uint64_t next_fetch = 0;
    uint32_t fetch_attempts = 0;
    for (;;) {
        rt_actor_drain(self, on_mail, 0);
        uint64_t now = rt_now_ms();
        uint64_t next = UINT64_MAX;
        if (rt_actor_stop_requested(self) && !g->stopping) begin_stop(g);
        if (g->stopping) {
            if (g->holding && (!g->conns || now >= g->stop_deadline)) {
                if (g->conns) LOG_WARN(LOGN, "closing handshakes did not finish in time");
                pending_flush(g, 200);
                if (g->npending)
                    LOG_ERROR(LOGN, "%llu dispatches could not be delivered before the stop",
                              (unsigned long long)g->npending);
                g->holding = false;
                rt_actor_release(self);
            }
            if (!g->holding && rt_actor_should_exit(self)) break;
            next = g->holding ? g->stop_deadline : now + 50;
        } else if (!g->started && !g->fatal) {
            if (now >= next_fetch) {
                int rc = fetch_bot_info(g);
                if (rc == 0) {
                    shards_start(g);
                } else if (rc > 0) {
                    fetch_attempts++;
                    uint64_t d = gw_backoff_ms(fetch_attempts, 1000, 60000);
                    next_fetch = rt_now_ms() + d;
                }
            }
            next = g->started ? rt_now_ms() : next_fetch;
        }
        if (g->started && !g->stopping && !g->fatal) {
            if (g->p_head) pending_flush(g, 0);
            uint64_t d = shards_poll(g);
            if (d < next) next = d;
            if (g->p_head && rt_now_ms() + 10 < next) next = rt_now_ms() + 10;
        }
        if (g->fatal && !g->stopping) next = rt_now_ms() + 200; /* wait for the stop */
        schedule(g, next);
        lws_service(g->ctx, 0);
    }

    lws_sul_cancel(&g->sul);
    pthread_mutex_lock(&g->ctx_lock);
    g->ctx = NULL;
    pthread_mutex_unlock(&g->ctx_lock);
    lws_context_destroy(ctx); /* remaining conns get CLOSED callbacks and are freed */
    while (g->conns)
        conn_free(g, g->conns);
    atomic_store(&g->n_active, 0);
}

static void gateway_wake(void *ctx)
{
    gateway *g = ctx;
    pthread_mutex_lock(&g->ctx_lock);
    if (g->ctx) lws_cancel_service(g->ctx);
    pthread_mutex_unlock(&g->ctx_lock);
}

/* ---- public ----------------------------------------------------------------------------- */

void gateway_config_from(gateway_config *cfg, const fb_config *c)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->token = c->discord_token;
    cfg->api_base = c->discord_api_base;
    cfg->shard_id = c->shard_id;
    cfg->shard_count = c->shard_count;
    cfg->compress = c->gateway_compress;
    cfg->intents = GW_INTENT_GUILDS;
    cfg->db_url = c->db_url;
    cfg->identify_margin_ms = (uint32_t)c->identify_margin_ms;
}

gateway *gateway_new(rt_system *sys, const gateway_config *cfg)
{
    if (!sys || !cfg || !cfg->token || !cfg->token[0] || !cfg->api_base || !cfg->api_base[0]) {
        LOG_ERROR(LOGN, "gateway needs a token and an API base");
        return NULL;
    }
    if (strlen(cfg->token) >= sizeof((gateway *)0)->token ||
        strlen(cfg->api_base) >= sizeof((gateway *)0)->api_base)
        return NULL;
    gateway *g = calloc(1, sizeof *g);
    if (!g) return NULL;
    g->cfg = *cfg;
    snprintf(g->token, sizeof g->token, "%s", cfg->token);
    snprintf(g->api_base, sizeof g->api_base, "%s", cfg->api_base);
    g->cfg.token = g->token;
    g->cfg.api_base = g->api_base;
    g->sys = sys;
    pthread_mutex_init(&g->ctx_lock, NULL);
    g->roles = cfg->roles;
    if (!g->roles) {
        g->roles = gw_roles_new();
        g->own_roles = true;
        if (!g->roles) {
            gateway_free(g);
            return NULL;
        }
    }
    rt_actor_spec spec = {
        .name = GATEWAY_ACTOR_NAME,
        .threads = 1,
        .lane_capacity = DEF(cfg->lane_capacity, 64u),
        .state = g,
        .loop = gateway_loop,
        .wake = gateway_wake,
        .wake_ctx = g,
    };
    g->actor = rt_actor_new(sys, &spec);
    if (!g->actor) {
        gateway_free(g);
        return NULL;
    }
    return g;
}

rt_actor *gateway_actor(gateway *g)
{
    return g->actor;
}
gw_roles *gateway_roles(gateway *g)
{
    return g->roles;
}

void gateway_free(gateway *g)
{
    if (!g) return;
    while (g->p_head) {
        pending *p = g->p_head;
        g->p_head = p->next;
        rt_msg_free(&p->m->hdr);
        free(p);
    }
    for (uint32_t i = 0; i < g->nshards; i++)
        gw_inflater_free(&g->shards[i].z);
    free(g->shards);
    pg_idgate_free(g->idgate);
    if (g->own_roles) gw_roles_free(g->roles);
    pthread_mutex_destroy(&g->ctx_lock);
    free(g);
}

void gateway_counters_get(gateway *g, gateway_counters *o)
{
    memset(o, 0, sizeof *o);
    o->connections = atomic_load(&g->n_connections);
    o->reconnects = atomic_load(&g->n_reconnects);
    o->identifies = atomic_load(&g->n_identifies);
    o->resumes = atomic_load(&g->n_resumes);
    o->resumed = atomic_load(&g->n_resumed);
    o->ready = atomic_load(&g->n_ready);
    o->zombies = atomic_load(&g->n_zombies);
    o->invalid_sessions = atomic_load(&g->n_invalid);
    o->frames_in = atomic_load(&g->n_frames_in);
    o->frames_out = atomic_load(&g->n_frames_out);
    o->bytes_in = atomic_load(&g->n_bytes_in);
    o->dropped_malformed = atomic_load(&g->n_malformed);
    o->dropped_oversized = atomic_load(&g->n_oversized);
    o->dropped_events = atomic_load(&g->n_dropped);
    o->duplicates = atomic_load(&g->n_duplicates);
    o->forwarded = atomic_load(&g->n_forwarded);
    o->forward_retries = atomic_load(&g->n_fwd_retries);
    o->forward_pending = atomic_load(&g->n_pending);
    o->forward_lost = atomic_load(&g->n_lost);
    o->role_events = atomic_load(&g->n_role_events);
    o->identify_waits = atomic_load(&g->n_id_waits);
    o->identify_gate_errors = atomic_load(&g->n_id_gate_errors);
    o->shards = atomic_load(&g->n_shards);
    o->shards_active = atomic_load(&g->n_active);
    o->application_id = atomic_load(&g->application_id);
    o->user_id = atomic_load(&g->user_id);
    o->fatal_code = atomic_load(&g->fatal_code);
}
