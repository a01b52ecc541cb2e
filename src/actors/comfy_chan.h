/*
 * comfy_chan: the event channel of one running job. The websocket thread pushes (through
 * comfy_events, which finds the channel by prompt id), the job's worker waits and takes.
 *
 * Threads: one producer at a time (the websocket thread, under the registry's mutex) and one
 * consumer (the worker that created the channel); every field is under the channel's mutex.
 * Lock order: the registry's mutex (comfy_events) before a channel's, never the other way: the
 * worker side never holds its channel's mutex while it calls into comfy_events, so the two can
 * never deadlock. A full queue drops the oldest non-terminal event and counts it (the worker
 * reconciles through /history), so a slow worker never blocks the websocket thread.
 * One consumer at a time (asserted in debug builds): two would split a job's events between
 * them, and the one that missed the terminal event would wait out the stall timeout.
 */
#ifndef FLUXBOT_COMFY_CHAN_H
#define FLUXBOT_COMFY_CHAN_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "comfy/cproto.h"
#include "util/util_assert.h"

typedef struct comfy_chan {
    pthread_mutex_t mu;
    pthread_cond_t cv; /* CLOCK_MONOTONIC */
    cproto_event *q;
    unsigned head, n, cap;
    unsigned dropped;
    bool reconcile; /* the server's socket went down or came back: check /history, /queue */
    /* The first PNG the newest node sent as a binary websocket frame while it executed
     * (SaveImageWebsocket writes nothing to history): malloc'd, owned by the channel until
     * taken. */
    uint8_t *img;
    size_t img_len;
    char img_node[CPROTO_ID_MAX];
#ifdef FB_DEBUG
    util_owner consumer; /* the thread inside comfy_chan_wait / _take_image (one at a time) */
#endif
} comfy_chan;

comfy_chan *comfy_chan_new(unsigned cap);
/* The worker, once the channel is unregistered (no producer can reach it any more). */
void comfy_chan_free(comfy_chan *c);
/* Producer side (caller holds the registry's mutex, not the channel's): queues e and wakes the
 * worker. */
void comfy_chan_push(comfy_chan *c, const cproto_event *e);
/* Producer side: the link of the channel's server changed, events may be missing. */
void comfy_chan_flag_reconcile(comfy_chan *c);
/* Producer side: a PNG a node sent as a binary frame (copied); replaces the kept one unless it
 * came from the same node (a batch keeps its first image). */
void comfy_chan_put_image(comfy_chan *c, const char *node, const uint8_t *img, size_t len);
/* Waits up to timeout_ms for an event; copies up to max into out. Returns the count; sets
 * *reconcile (and clears it in the channel) when a link change was signalled. */
unsigned comfy_chan_wait(comfy_chan *c, cproto_event *out, unsigned max, uint64_t timeout_ms,
                         bool *reconcile);
/* Takes the websocket image (see img above): true with *data (caller frees), its length and the
 * node that sent it; false when none arrived. */
bool comfy_chan_take_image(comfy_chan *c, char node[CPROTO_ID_MAX], uint8_t **data, size_t *len);

#endif
