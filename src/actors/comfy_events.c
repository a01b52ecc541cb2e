/*
 * Routing of websocket events to jobs (see comfy_events.h for threads and lock order).
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "actors/comfy_events.h"
#include "comfy/img.h"
#include "fluxbot/log.h"
#include "fluxbot/runtime.h"
#include "util/util_time.h"

#define ORPHAN_TTL_MS 60000

void comfy_events_init(comfy_events *e, comfy_servers *srv)
{
    memset(e, 0, sizeof *e);
    pthread_mutex_init(&e->mu, NULL);
    e->srv = srv;
    e->orph_cap = 512;
    e->orph = calloc(e->orph_cap, sizeof *e->orph);
    e->sock = calloc(srv->n ? srv->n : 1, sizeof *e->sock);
    if (!e->orph || !e->sock) abort();
}

void comfy_events_destroy(comfy_events *e)
{
    free(e->reg);
    free(e->orph);
    free(e->sock);
    e->sock = NULL;
    e->reg = NULL;
    e->orph = NULL;
    pthread_mutex_destroy(&e->mu);
}

static comfy_events_reg *reg_find(comfy_events *r, unsigned server, const char *pid)
{
    for (unsigned i = 0; i < r->reg_cap; i++) {
        comfy_events_reg *g = &r->reg[i];
        if (g->used && g->server == server && strcmp(g->pid, pid) == 0) return g;
    }
    return NULL;
}

void comfy_events_register(comfy_events *r, unsigned server, const char *pid, comfy_chan *chan)
{
    pthread_mutex_lock(&r->mu);
    comfy_events_reg *g = reg_find(r, server, pid);
    if (!g) {
        for (unsigned i = 0; i < r->reg_cap && !g; i++)
            if (!r->reg[i].used) g = &r->reg[i];
        if (!g) {
            unsigned nc = r->reg_cap ? r->reg_cap * 2 : 16;
            comfy_events_reg *nr = realloc(r->reg, nc * sizeof *nr);
            if (!nr) abort();
            memset(nr + r->reg_cap, 0, (nc - r->reg_cap) * sizeof *nr);
            r->reg = nr;
            g = &r->reg[r->reg_cap];
            r->reg_cap = nc;
        }
    }
    g->used = true;
    g->server = server;
    snprintf(g->pid, sizeof g->pid, "%s", pid);
    g->chan = chan;
    /* events that beat the registration, in arrival order */
    unsigned claimed = 0;
    for (unsigned k = 0; k < r->orph_cap; k++) {
        comfy_events_orphan *o = &r->orph[(r->orph_next + k) % r->orph_cap];
        if (o->used && o->server == server && strcmp(o->ev.prompt_id, pid) == 0) {
            comfy_chan_push(chan, &o->ev);
            o->used = false;
            claimed++;
        }
    }
    pthread_mutex_unlock(&r->mu);
    if (claimed) atomic_fetch_add(&r->n_claimed, claimed);
}

void comfy_events_unregister(comfy_events *r, unsigned server, const char *pid)
{
    pthread_mutex_lock(&r->mu);
    comfy_events_reg *g = reg_find(r, server, pid);
    if (g) memset(g, 0, sizeof *g);
    pthread_mutex_unlock(&r->mu);
}

void comfy_events_on_event(void *ctx, unsigned server, const cproto_event *ev)
{
    comfy_events *r = ctx;
    FB_ASSERT_OWNER(&r->ws_thread);
    if (server >= r->srv->n) return;
    switch (ev->type) {
    case CPROTO_EV_STATUS:
        comfy_servers_queue_remaining(r->srv, server, ev->queue_remaining);
        return;
    case CPROTO_EV_PREVIEW:
    case CPROTO_EV_TEXT:
    case CPROTO_EV_FEATURE_FLAGS:
    case CPROTO_EV_PROGRESS_STATE: /* progress carries what we show */
    case CPROTO_EV_UNKNOWN:
        return;
    default:
        break;
    }
    cproto_event e = *ev;
    comfy_events_sock *sv = &r->sock[server];
    if (!e.prompt_id[0]) {
        /* old servers and reconnects: events without prompt_id belong to the last started one */
        if (!sv->last_pid[0]) return;
        memcpy(e.prompt_id, sv->last_pid, sizeof e.prompt_id);
    } else if (e.type == CPROTO_EV_EXECUTION_START ||
               (e.type == CPROTO_EV_EXECUTING && !e.node_null)) {
        memcpy(sv->last_pid, e.prompt_id, sizeof sv->last_pid);
    }
    if (e.type == CPROTO_EV_EXECUTING)
        snprintf(sv->last_node, sizeof sv->last_node, "%s", e.node_null ? "" : e.node);
    pthread_mutex_lock(&r->mu);
    comfy_events_reg *g = reg_find(r, server, e.prompt_id);
    if (g) {
        comfy_chan_push(g->chan, &e);
        pthread_mutex_unlock(&r->mu);
        atomic_fetch_add(&r->n_routed, 1);
        return;
    }
    /* nobody follows this prompt (yet): keep it briefly, dropping expired ones first */
    uint64_t now = rt_now_ms();
    comfy_events_orphan *slot = &r->orph[r->orph_next];
    for (unsigned k = 0; k < r->orph_cap; k++) {
        comfy_events_orphan *o = &r->orph[(r->orph_next + k) % r->orph_cap];
        if (o->used && now - o->at_ms > ORPHAN_TTL_MS) o->used = false;
    }
    slot->used = true;
    slot->server = server;
    slot->at_ms = now;
    slot->ev = e;
    slot->ev.at_ms = now; /* its arrival, not its claim, is what the job's progress times */
    r->orph_next = (r->orph_next + 1) % r->orph_cap;
    pthread_mutex_unlock(&r->mu);
    atomic_fetch_add(&r->n_orphaned, 1);
}

void comfy_events_on_executed(void *ctx, unsigned server, const cproto_event *ev, const char *text,
                              size_t len)
{
    comfy_events *r = ctx;
    FB_ASSERT_OWNER(&r->ws_thread);
    /* without its prompt id a frame could belong to another prompt: the worker asks /history */
    if (server >= r->srv->n || ev->type != CPROTO_EV_EXECUTED || !ev->prompt_id[0]) return;
    pthread_mutex_lock(&r->mu);
    comfy_events_reg *g = reg_find(r, server, ev->prompt_id);
    if (g) comfy_chan_put_executed(g->chan, text, len);
    pthread_mutex_unlock(&r->mu);
}

void comfy_events_on_binary(void *ctx, unsigned server, const cproto_event *ev,
                            const uint8_t *frame, size_t len)
{
    comfy_events *r = ctx;
    FB_ASSERT_OWNER(&r->ws_thread);
    if (server >= r->srv->n || ev->type != CPROTO_EV_PREVIEW) return;
    if (ev->preview_offset > len || ev->preview_len > len - ev->preview_offset) return;
    const uint8_t *img = frame + ev->preview_offset;
    /* SaveImageWebsocket sends PNGs (format 2); latent previews are JPEGs and not results */
    if (ev->preview_format != 2 || img_sniff(img, ev->preview_len) != IMG_PNG) return;
    comfy_events_sock *sv = &r->sock[server];
    /* type-1 frames carry no ids: they belong to the node executing on this socket */
    const char *pid = ev->prompt_id[0] ? ev->prompt_id : sv->last_pid;
    const char *node = ev->node[0] ? ev->node : sv->last_node;
    if (!pid[0] || !node[0]) return;
    pthread_mutex_lock(&r->mu);
    comfy_events_reg *g = reg_find(r, server, pid);
    if (g) {
        comfy_chan_put_image(g->chan, node, img, ev->preview_len);
    }
    pthread_mutex_unlock(&r->mu);
}

void comfy_events_on_link(void *ctx, unsigned server, bool up)
{
    comfy_events *r = ctx;
    if (server >= r->srv->n) return;
    bool was = comfy_servers_link(r->srv, server, up);
    if (was != up) {
        /* the coordinator holds jobs while no server is up: wake it (best effort; it also
         * looks on every tick) */
        if (r->notify) {
            rt_msg *m = RT_MSG_NEW(rt_msg, MSG_COMFY_EVENTS_LINK, NULL);
            if (rt_send(r->notify, m) != 0) rt_msg_free(m);
        }
        if (up)
            LOG_INFO("comfy", "%s (%s) is up", comfy_servers_label(r->srv, server),
                     comfy_servers_url(r->srv, server));
        else
            LOG_WARN("comfy", "%s (%s) is down; jobs on it will be reconciled",
                     comfy_servers_label(r->srv, server), comfy_servers_url(r->srv, server));
    }
    /* jobs on this server must check /history and /queue: events may have been missed */
    pthread_mutex_lock(&r->mu);
    for (unsigned i = 0; i < r->reg_cap; i++) {
        comfy_events_reg *g = &r->reg[i];
        if (!g->used || g->server != server) continue;
        comfy_chan_flag_reconcile(g->chan);
    }
    pthread_mutex_unlock(&r->mu);
}
