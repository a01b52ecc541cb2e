/*
 * comfy_events: routing of websocket events to running jobs. The registry of (server,
 * prompt_id) → channel (comfy_chan.h), the short buffer of events nobody follows yet (they can
 * beat the POST /prompt reply), and what a server's link change means for the jobs on it.
 *
 * Threads: the websocket thread calls the comfy_events_on_* callbacks (it is the only caller,
 * so the per-server "last prompt / last node" memory needs no lock); workers register and
 * unregister their channels; the metrics read the counters. Registry and orphan buffer are
 * under mu.
 * Lock order: mu, then a channel's mutex (inside comfy_chan_*); the server table's mutex is never
 * held with either. A caller must never hold a channel's mutex while calling in here: the
 * websocket thread takes mu then the channel's, so the reverse order would deadlock it, and
 * every job's events with it. The websocket-thread-only rule of sock is asserted in debug
 * builds: a second caller would race on last_pid and route events to the wrong job.
 * Dependencies one way: this module knows the server table (status events, link changes) and
 * tells a link change to the actor it was given (notify, MSG_COMFY_EVENTS_LINK), never the
 * coordinator itself.
 */
#ifndef FLUXBOT_COMFY_EVENTS_H
#define FLUXBOT_COMFY_EVENTS_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "actors/comfy_chan.h"
#include "actors/comfy_servers.h"
#include "comfy/cproto.h"
#include "fluxbot/runtime.h"
#include "util/util_assert.h"

enum {
    /* comfy_events → notify (the coordinator): a server went up or down (a bare rt_msg) */
    MSG_COMFY_EVENTS_LINK = 313,
};

typedef struct comfy_events_reg {
    bool used;
    unsigned server;
    char pid[CPROTO_ID_MAX];
    comfy_chan *chan;
} comfy_events_reg;

typedef struct comfy_events_orphan {
    bool used;
    unsigned server;
    uint64_t at_ms;
    cproto_event ev;
} comfy_events_orphan;

/* What the websocket thread remembers of one server's socket (that thread only). */
typedef struct comfy_events_sock {
    char last_pid[CPROTO_ID_MAX];  /* for events without a prompt_id */
    char last_node[CPROTO_ID_MAX]; /* the node executing (binary frames carry no ids) */
} comfy_events_sock;

typedef struct comfy_events {
    pthread_mutex_t mu;
    comfy_events_reg *reg; /* under mu */
    unsigned reg_cap;
    comfy_events_orphan *orph; /* under mu */
    unsigned orph_cap, orph_next;
    comfy_servers *srv;      /* the table, not owned */
    comfy_events_sock *sock; /* one per server; the websocket thread only */
    rt_actor *notify; /* gets MSG_COMFY_EVENTS_LINK when a server goes up or down (may be NULL); set
                         before the websocket thread starts, read-only afterwards */
    _Atomic uint64_t n_routed, n_orphaned, n_claimed;
#ifdef FB_DEBUG
    util_owner ws_thread; /* the thread that calls the comfy_events_on_* callbacks */
#endif
} comfy_events;

void comfy_events_init(comfy_events *e, comfy_servers *srv);
void comfy_events_destroy(comfy_events *e);
/* The websocket callbacks (ctx is the comfy_events; comfy_ws.h). */
void comfy_events_on_event(void *ctx, unsigned server, const cproto_event *ev);
void comfy_events_on_link(void *ctx, unsigned server, bool up);
/* Websocket callback (the websocket thread): an `executed` frame, kept raw in the channel of
 * the job following its prompt (the worker reads a success's outputs from it). */
void comfy_events_on_executed(void *ctx, unsigned server, const cproto_event *ev, const char *text,
                              size_t len);
/* A binary preview frame (websocket thread): a PNG (format 2) is kept in the channel of the
 * prompt whose node is executing, for a SaveImageWebsocket output; JPEG latent previews are
 * ignored. */
void comfy_events_on_binary(void *ctx, unsigned server, const cproto_event *ev,
                            const uint8_t *frame, size_t len);
/* Registers (server, pid) → chan and moves any buffered events for it into chan. */
void comfy_events_register(comfy_events *e, unsigned server, const char *pid, comfy_chan *chan);
/* After this returns, no producer reaches the channel any more: the worker may free it. */
void comfy_events_unregister(comfy_events *e, unsigned server, const char *pid);

#endif
