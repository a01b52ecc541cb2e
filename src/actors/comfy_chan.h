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

#define COMFY_CHAN_EXEC_MAX 16             /* executed frames kept for a job (CPROTO_MAX_OUTPUTS) */
#define COMFY_CHAN_EXEC_BYTES (256u << 10) /* the largest kept */

typedef struct comfy_chan {
    pthread_mutex_t mu;
    pthread_cond_t cv; /* CLOCK_MONOTONIC */
    cproto_event *q;   /* a ring of alloc slots */
    unsigned head, n;  /* first queued event, and how many */
    unsigned alloc;    /* slots allocated: grows (doubling) while full, up to cap */
    unsigned cap;      /* the most events kept; past it progress is dropped */
    unsigned dropped;
    bool reconcile; /* the server's socket went down or came back: check /history, /queue */
    /* While the consumer waits: until then an event that is not an outcome is queued without
     * waking it (0 = every event wakes it; see comfy_chan_wait_quiet). */
    uint64_t quiet_until_ms;
    /* The first PNG the newest node sent as a binary websocket frame while it executed
     * (SaveImageWebsocket writes nothing to history): malloc'd, owned by the channel until
     * taken. */
    uint8_t *img;
    size_t img_len;
    char img_node[CPROTO_ID_MAX];
    /* The raw `executed` frames of the job's prompt, in arrival order (malloc'd, owned by the
     * channel until taken): the worker reads a success's outputs from them instead of asking
     * /history. One that did not fit (too many, too large) sets exec_lost: /history then. */
    char *exec[COMFY_CHAN_EXEC_MAX];
    size_t exec_len[COMFY_CHAN_EXEC_MAX];
    unsigned nexec;
    bool exec_lost;
#ifdef FB_DEBUG
    util_owner consumer; /* the thread inside comfy_chan_wait / _take_image (one at a time) */
#endif
} comfy_chan;

comfy_chan *comfy_chan_new(unsigned cap);
/* The worker, once the channel is unregistered (no producer can reach it any more). */
void comfy_chan_free(comfy_chan *c);
/* Empties the channel for its consumer's next job (its slots are kept): only once no producer
 * can reach it (unregistered), like comfy_chan_free. A worker keeps one channel for all its
 * jobs: a new one per job cost a large allocation and its mutex and condition each time. */
void comfy_chan_reset(comfy_chan *c);
/* Producer side (caller holds the registry's mutex, not the channel's): queues e and wakes the
 * worker. */
void comfy_chan_push(comfy_chan *c, const cproto_event *e);
/* Producer side: the link of the channel's server changed, events may be missing. */
void comfy_chan_flag_reconcile(comfy_chan *c);
/* Producer side: a PNG a node sent as a binary frame (copied); replaces the kept one unless it
 * came from the same node (a batch keeps its first image). */
void comfy_chan_put_image(comfy_chan *c, const char *node, const uint8_t *img, size_t len);
/* Producer side: a raw `executed` text frame of the channel's prompt (copied). */
void comfy_chan_put_executed(comfy_chan *c, const char *text, size_t len);
/* Takes the kept executed frames (the caller frees each): their count, at most max; *lost is
 * true when one was not kept. */
unsigned comfy_chan_take_executed(comfy_chan *c, char **frames, size_t *lens, unsigned max,
                                  bool *lost);
/* Waits up to timeout_ms for an event; copies up to max into out (each with its arrival time,
 * at_ms). Returns the count; sets *reconcile (and clears it in the channel) when a link change
 * was signalled. */
unsigned comfy_chan_wait(comfy_chan *c, cproto_event *out, unsigned max, uint64_t timeout_ms,
                         bool *reconcile);
/* The same, quiet until quiet_until_ms (rt_now_ms time): events that arrive before it and are
 * not an outcome (success, error, interrupted, the end of execution) are queued without waking
 * the consumer, which takes them when it wakes anyway: for an outcome, a link change, its
 * timeout, or at quiet_until_ms at the latest (the timeout is cut to it). For a consumer that
 * acts on progress only every so often (the worker edits the progress message at most once per
 * interval), each event cost a futex wake and two context switches for nothing. */
unsigned comfy_chan_wait_quiet(comfy_chan *c, cproto_event *out, unsigned max, uint64_t timeout_ms,
                               uint64_t quiet_until_ms, bool *reconcile);
/* Takes the websocket image (see img above): true with *data (caller frees), its length and the
 * node that sent it; false when none arrived. */
bool comfy_chan_take_image(comfy_chan *c, char node[CPROTO_ID_MAX], uint8_t **data, size_t *len);

#endif
