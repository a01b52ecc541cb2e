/* One lws client thread for every ComfyUI websocket (see comfy_ws.h). */
#include "actors/comfy_ws.h"

#include <libwebsockets.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "comfy/spick.h"
#include "fluxbot/log.h"

typedef struct ws_conn {
    struct comfy_ws *w;
    unsigned index;
    char host[256];
    char host_hdr[300];
    char path[512];
    int port;
    bool tls;
    struct lws *wsi;
    bool up;
    bool attempt_pending;
    uint32_t failures;
    lws_sorted_usec_list_t sul;
    uint8_t *rx;
    size_t rx_len, rx_cap;
    bool rx_binary, rx_skip;
} ws_conn;

struct comfy_ws {
    comfy_ws_opts o;
    char client_id[CPROTO_ID_MAX];
    struct lws_context *ctx;
    pthread_t thr;
    atomic_bool stopping;
    bool started;
    ws_conn *conns;
    lws_retry_bo_t retry;
    atomic_ulong frames, bad;
    uint64_t rng;
};

static double jitter(comfy_ws *w)
{
    w->rng ^= w->rng << 13;
    w->rng ^= w->rng >> 7;
    w->rng ^= w->rng << 17;
    return (double)(w->rng >> 11) / 9007199254740992.0;
}

static void connect_now(ws_conn *c);

static void reconnect_cb(lws_sorted_usec_list_t *sul)
{
    ws_conn *c = lws_container_of(sul, ws_conn, sul);
    if (!atomic_load(&c->w->stopping)) connect_now(c);
}

static void schedule_retry(ws_conn *c)
{
    if (atomic_load(&c->w->stopping)) return;
    c->failures++;
    uint64_t d = spick_backoff_ms(c->failures, jitter(c->w));
    lws_sul_schedule(c->w->ctx, 0, &c->sul, reconnect_cb, (lws_usec_t)d * 1000);
}

static void link_change(ws_conn *c, bool up)
{
    if (atomic_load(&c->w->stopping)) return;
    if (c->w->o.on_link) c->w->o.on_link(c->w->o.ctx, c->index, up);
}

static void connect_now(ws_conn *c)
{
    struct lws_client_connect_info ci;
    memset(&ci, 0, sizeof ci);
    ci.context = c->w->ctx;
    ci.address = c->host;
    ci.port = c->port;
    ci.path = c->path;
    ci.host = c->host_hdr;
    ci.origin = NULL; /* ComfyUI refuses a foreign Origin on loopback */
    ci.ssl_connection = c->tls ? LCCSCF_USE_SSL : 0;
    ci.protocol = NULL;
    ci.local_protocol_name = "comfy-client";
    ci.pwsi = &c->wsi;
    ci.userdata = c;
    ci.retry_and_idle_policy = &c->w->retry;
    c->attempt_pending = true;
    c->rx_len = 0;
    c->rx_skip = false;
    if (!lws_client_connect_via_info(&ci)) {
        c->wsi = NULL;
        if (c->attempt_pending) {
            c->attempt_pending = false;
            schedule_retry(c);
        }
    }
}

static void deliver(ws_conn *c)
{
    comfy_ws *w = c->w;
    atomic_fetch_add(&w->frames, 1);
    /* most frames of a job are progress_state, which nothing reads: not parsed at all */
    if (!c->rx_binary && cproto_event_skippable((const char *)c->rx, c->rx_len)) return;
    cproto_event ev;
    int rc = c->rx_binary ? cproto_parse_binary(c->rx, c->rx_len, &ev)
                          : cproto_parse_event((const char *)c->rx, c->rx_len, &ev);
    if (rc != 0) {
        atomic_fetch_add(&w->bad, 1);
        return;
    }
    if (ev.type == CPROTO_EV_UNKNOWN || atomic_load(&w->stopping)) return;
    if (c->rx_binary) {
        if (ev.type == CPROTO_EV_PREVIEW && w->o.on_binary)
            w->o.on_binary(w->o.ctx, c->index, &ev, c->rx, c->rx_len);
        return;
    }
    if (ev.type == CPROTO_EV_EXECUTED && w->o.on_executed)
        w->o.on_executed(w->o.ctx, c->index, &ev, (const char *)c->rx, c->rx_len);
    if (w->o.on_event) w->o.on_event(w->o.ctx, c->index, &ev);
}

static int callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                    size_t len)
{
    ws_conn *c = user;
    switch (reason) {
    case LWS_CALLBACK_CLIENT_CONNECTION_ERROR:
        if (!c) break;
        /* "server N" counts from 1, as everywhere else (comfy_servers.c labels) */
        LOG_DEBUG("comfy_ws", "server %u: connect failed: %s", c->index + 1,
                  in ? (const char *)in : "?");
        c->wsi = NULL;
        if (c->up) {
            c->up = false;
            link_change(c, false);
        } else {
            link_change(c, false);
        }
        if (c->attempt_pending) {
            c->attempt_pending = false;
            schedule_retry(c);
        }
        return 0;
    case LWS_CALLBACK_CLIENT_ESTABLISHED:
        if (!c) break;
        c->attempt_pending = false;
        c->up = true;
        c->failures = 0;
        c->rx_len = 0;
        link_change(c, true);
        return 0;
    case LWS_CALLBACK_CLIENT_RECEIVE: {
        if (!c) break;
        if (lws_is_first_fragment(wsi)) {
            c->rx_len = 0;
            c->rx_binary = lws_frame_is_binary(wsi);
            /* Binary frames are images: latent previews and SaveImageWebsocket's PNGs, which
             * the runner may collect; without a binary callback they are skipped unread. */
            c->rx_skip = c->rx_binary && !c->w->o.on_binary;
        }
        if (!c->rx_skip) {
            if (c->rx_len + len > c->w->o.max_frame_bytes) {
                c->rx_skip = true; /* oversized: drop this message, keep the connection */
                atomic_fetch_add(&c->w->bad, 1);
            } else {
                if (c->rx_len + len + 1 > c->rx_cap) {
                    size_t nc = c->rx_cap ? c->rx_cap : 16384;
                    while (nc < c->rx_len + len + 1)
                        nc *= 2;
                    uint8_t *nb = realloc(c->rx, nc);
                    if (!nb) return -1;
                    c->rx = nb;
                    c->rx_cap = nc;
                }
                memcpy(c->rx + c->rx_len, in, len);
                c->rx_len += len;
                c->rx[c->rx_len] = 0;
            }
        }
        if (lws_is_final_fragment(wsi) && lws_remaining_packet_payload(wsi) == 0) {
            if (!c->rx_skip) deliver(c);
            c->rx_len = 0;
            c->rx_skip = false;
        }
        return 0;
    }
    case LWS_CALLBACK_CLIENT_CLOSED:
        if (!c) break;
        c->wsi = NULL;
        c->attempt_pending = false;
        if (c->up) {
            c->up = false;
            link_change(c, false);
        }
        schedule_retry(c);
        return 0;
    case LWS_CALLBACK_EVENT_WAIT_CANCELLED:
        return 0;
    default:
        break;
    }
    return lws_callback_http_dummy(wsi, reason, user, in, len);
}

static const struct lws_protocols protocols[] = {
    {"comfy-client", callback, 0, 65536, 0, NULL, 0},
    {NULL, NULL, 0, 0, 0, NULL, 0},
};

static void *service(void *arg)
{
    comfy_ws *w = arg;
    for (unsigned i = 0; i < w->o.n; i++)
        connect_now(&w->conns[i]);
    while (!atomic_load(&w->stopping)) {
        if (lws_service(w->ctx, 0) < 0) break;
    }
    return NULL;
}

comfy_ws *comfy_ws_start(const comfy_ws_opts *o, char *err, size_t errlen)
{
    if (!o || o->n == 0 || !o->client_id || strlen(o->client_id) >= CPROTO_ID_MAX) {
        snprintf(err, errlen, "comfy_ws: no servers or bad client id");
        return NULL;
    }
    comfy_ws *w = calloc(1, sizeof *w);
    if (!w) abort();
    w->o = *o;
    if (!w->o.ping_secs) w->o.ping_secs = 20;
    if (!w->o.max_frame_bytes) w->o.max_frame_bytes = 32u << 20;
    snprintf(w->client_id, sizeof w->client_id, "%s", o->client_id);
    w->rng = (uint64_t)(uintptr_t)w ^ 0x9e3779b97f4a7c15ULL;
    w->retry.secs_since_valid_ping = (uint16_t)w->o.ping_secs;
    w->retry.secs_since_valid_hangup = (uint16_t)(w->o.ping_secs * 2 + 10);
    w->conns = calloc(o->n, sizeof *w->conns);
    if (!w->conns) abort();
    for (unsigned i = 0; i < o->n; i++) {
        ws_conn *c = &w->conns[i];
        c->w = w;
        c->index = i;
        char prefix[256];
        if (cproto_parse_base_url(o->urls[i], c->host, sizeof c->host, &c->port, &c->tls, prefix,
                                  sizeof prefix)) {
            snprintf(err, errlen, "comfy_ws: bad ComfyUI URL \"%s\"", o->urls[i]);
            free(w->conns);
            free(w);
            return NULL;
        }
        snprintf(c->host_hdr, sizeof c->host_hdr, "%s:%d", c->host, c->port);
        snprintf(c->path, sizeof c->path, "%s/ws?clientId=%s", prefix, w->client_id);
    }
    lws_set_log_level(LLL_ERR, NULL);
    struct lws_context_creation_info info;
    memset(&info, 0, sizeof info);
    info.port = CONTEXT_PORT_NO_LISTEN;
    info.protocols = protocols;
    /* TLS (and its CA store) only when a server is https: libwebsockets 4.1 leaks the CA store
     * of all but one of the TLS client contexts alive at once (the gateway has one), and a
     * plain http ComfyUI, the usual one next to the bot, needs none. */
    bool any_tls = false;
    for (unsigned i = 0; i < o->n; i++)
        any_tls |= w->conns[i].tls;
    info.options = any_tls ? LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT : 0;
    info.timeout_secs = 10;
    info.connect_timeout_secs = 5;
    w->ctx = lws_create_context(&info);
    if (!w->ctx) {
        snprintf(err, errlen, "comfy_ws: cannot create the lws context");
        free(w->conns);
        free(w);
        return NULL;
    }
    if (pthread_create(&w->thr, NULL, service, w) != 0) {
        snprintf(err, errlen, "comfy_ws: cannot start the thread");
        lws_context_destroy(w->ctx);
        free(w->conns);
        free(w);
        return NULL;
    }
    w->started = true;
    return w;
}

void comfy_ws_stop(comfy_ws *w)
{
    if (!w) return;
    atomic_store(&w->stopping, true);
    if (w->started) {
        lws_cancel_service(w->ctx);
        pthread_join(w->thr, NULL);
    }
    for (unsigned i = 0; i < w->o.n; i++)
        lws_sul_cancel(&w->conns[i].sul);
    lws_context_destroy(w->ctx);
    for (unsigned i = 0; i < w->o.n; i++)
        free(w->conns[i].rx);
    free(w->conns);
    free(w);
}

void comfy_ws_counts(comfy_ws *w, unsigned long *frames, unsigned long *bad)
{
    if (frames) *frames = atomic_load(&w->frames);
    if (bad) *bad = atomic_load(&w->bad);
}
