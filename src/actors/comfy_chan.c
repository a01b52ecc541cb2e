/* The per-job event channel (see comfy_chan.h). */
#include "actors/comfy_chan.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fluxbot/runtime.h"
#include "util/util_time.h"

/* Slots a channel starts with: a job's events are taken as they come, so a few dozen are
 * waiting at most; the ring grows (doubling, up to cap) only for a consumer that falls behind.
 * Allocating cap slots up front cost a megabyte zeroed per job (an event is ~1 KB). */
#define CHAN_FIRST_SLOTS 32u

comfy_chan *comfy_chan_new(unsigned cap)
{
    comfy_chan *c = calloc(1, sizeof *c);
    if (!c) abort();
    c->cap = cap ? cap : 1024;
    c->alloc = c->cap < CHAN_FIRST_SLOTS ? c->cap : CHAN_FIRST_SLOTS;
    c->q = malloc(c->alloc * sizeof *c->q); /* every slot is written before it is read */
    if (!c->q) abort();
    pthread_mutex_init(&c->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&c->cv, &ca);
    pthread_condattr_destroy(&ca);
    return c;
}

void comfy_chan_free(comfy_chan *c)
{
    if (!c) return;
    for (unsigned i = 0; i < c->nexec; i++)
        free(c->exec[i]);
    free(c->img);
    pthread_mutex_destroy(&c->mu);
    pthread_cond_destroy(&c->cv);
    free(c->q);
    free(c);
}

void comfy_chan_reset(comfy_chan *c)
{
    pthread_mutex_lock(&c->mu);
    c->head = c->n = 0;
    c->dropped = 0;
    c->reconcile = false;
    c->quiet_until_ms = 0;
    free(c->img);
    c->img = NULL;
    c->img_len = 0;
    c->img_node[0] = '\0';
    for (unsigned i = 0; i < c->nexec; i++)
        free(c->exec[i]);
    c->nexec = 0;
    c->exec_lost = false;
    pthread_mutex_unlock(&c->mu);
}

void comfy_chan_put_executed(comfy_chan *c, const char *text, size_t len)
{
    char *copy = len <= COMFY_CHAN_EXEC_BYTES ? malloc(len + 1) : NULL;
    if (copy) {
        memcpy(copy, text, len);
        copy[len] = '\0';
    }
    pthread_mutex_lock(&c->mu);
    if (copy && c->nexec < COMFY_CHAN_EXEC_MAX) {
        c->exec[c->nexec] = copy;
        c->exec_len[c->nexec++] = len;
        copy = NULL;
    } else {
        c->exec_lost = true;
    }
    pthread_mutex_unlock(&c->mu);
    free(copy);
}

unsigned comfy_chan_take_executed(comfy_chan *c, char **frames, size_t *lens, unsigned max,
                                  bool *lost)
{
    FB_OWNER_ENTER(&c->consumer);
    pthread_mutex_lock(&c->mu);
    unsigned n = c->nexec < max ? c->nexec : max;
    for (unsigned i = 0; i < c->nexec; i++) {
        if (i < n) {
            frames[i] = c->exec[i];
            lens[i] = c->exec_len[i];
        } else {
            free(c->exec[i]);
        }
    }
    *lost = c->exec_lost || c->nexec > max;
    c->nexec = 0;
    c->exec_lost = false;
    pthread_mutex_unlock(&c->mu);
    FB_OWNER_LEAVE(&c->consumer);
    return n;
}

bool comfy_chan_take_image(comfy_chan *c, char node[CPROTO_ID_MAX], uint8_t **data, size_t *len)
{
    FB_OWNER_ENTER(&c->consumer);
    pthread_mutex_lock(&c->mu);
    bool have = c->img != NULL;
    if (have) {
        *data = c->img;
        *len = c->img_len;
        memcpy(node, c->img_node, CPROTO_ID_MAX);
        c->img = NULL;
        c->img_len = 0;
    }
    pthread_mutex_unlock(&c->mu);
    FB_OWNER_LEAVE(&c->consumer);
    return have;
}

static bool is_terminal(const cproto_event *e)
{
    return e->type == CPROTO_EV_SUCCESS || e->type == CPROTO_EV_ERROR ||
           e->type == CPROTO_EV_INTERRUPTED || (e->type == CPROTO_EV_EXECUTING && e->node_null);
}

/* Caller holds c->mu. Doubles the ring (up to cap), its events kept in order from slot 0. */
static void grow_locked(comfy_chan *c)
{
    unsigned na = c->alloc * 2 < c->cap ? c->alloc * 2 : c->cap;
    cproto_event *nq = malloc(na * sizeof *nq);
    if (!nq) abort();
    for (unsigned k = 0; k < c->n; k++)
        nq[k] = c->q[(c->head + k) % c->alloc];
    free(c->q);
    c->q = nq;
    c->head = 0;
    c->alloc = na;
}

/* Caller holds c->mu. A full channel drops progress first; terminal events always get in.
 * Returns whether the consumer is to be woken (the caller signals once it has unlocked, so the
 * woken consumer does not at once block on the mutex the producer still holds). */
static bool push_locked(comfy_chan *c, const cproto_event *e, uint64_t now)
{
    if (c->n == c->alloc && c->alloc < c->cap) grow_locked(c);
    if (c->n == c->alloc) {
        if (!is_terminal(e)) {
            c->dropped++;
            return false;
        }
        c->head = (c->head + 1) % c->alloc; /* lose the oldest, keep the outcome */
        c->n--;
        c->dropped++;
    }
    cproto_event *slot = &c->q[(c->head + c->n) % c->alloc];
    *slot = *e;
    if (!slot->at_ms) slot->at_ms = now; /* an event kept for a late registration has its own */
    c->n++;
    /* a quiet consumer takes what is not an outcome at its own next look */
    return is_terminal(e) || now >= c->quiet_until_ms;
}

unsigned comfy_chan_wait(comfy_chan *c, cproto_event *out, unsigned max, uint64_t timeout_ms,
                         bool *reconcile)
{
    return comfy_chan_wait_quiet(c, out, max, timeout_ms, 0, reconcile);
}

unsigned comfy_chan_wait_quiet(comfy_chan *c, cproto_event *out, unsigned max, uint64_t timeout_ms,
                               uint64_t quiet_until_ms, bool *reconcile)
{
    FB_OWNER_ENTER(&c->consumer);
    pthread_mutex_lock(&c->mu);
    if (c->n == 0 && !c->reconcile && timeout_ms > 0) {
        uint64_t now = rt_now_ms();
        /* events held back by the quiet time are taken when it ends */
        if (quiet_until_ms > now && quiet_until_ms - now < timeout_ms)
            timeout_ms = quiet_until_ms - now;
        c->quiet_until_ms = quiet_until_ms;
        struct timespec ts = util_deadline(CLOCK_MONOTONIC, timeout_ms);
        while (c->n == 0 && !c->reconcile) {
            if (pthread_cond_timedwait(&c->cv, &c->mu, &ts) != 0) break;
        }
        c->quiet_until_ms = 0;
    }
    unsigned k = 0;
    while (k < max && c->n > 0) {
        out[k++] = c->q[c->head];
        c->head = (c->head + 1) % c->alloc;
        c->n--;
    }
    if (reconcile) {
        *reconcile = c->reconcile;
        c->reconcile = false;
    }
    pthread_mutex_unlock(&c->mu);
    FB_OWNER_LEAVE(&c->consumer);
    return k;
}

/* The signal goes after the unlock: the channel cannot be freed in between, since its producer
 * holds the registry's mutex (comfy_events) and the consumer frees it only once unregistered
 * there. */
void comfy_chan_push(comfy_chan *c, const cproto_event *e)
{
    uint64_t now = rt_now_ms();
    pthread_mutex_lock(&c->mu);
    bool wake = push_locked(c, e, now);
    pthread_mutex_unlock(&c->mu);
    if (wake) pthread_cond_signal(&c->cv);
}

void comfy_chan_flag_reconcile(comfy_chan *c)
{
    pthread_mutex_lock(&c->mu);
    c->reconcile = true;
    pthread_mutex_unlock(&c->mu);
    pthread_cond_signal(&c->cv);
}

void comfy_chan_put_image(comfy_chan *c, const char *node, const uint8_t *img, size_t len)
{
    pthread_mutex_lock(&c->mu);
    /* the first frame of the newest node: PNG previews of a sampler (sent before the save
     * node runs) give way to the save node's image; a batch keeps its first image */
    if (!c->img || strcmp(c->img_node, node) != 0) {
        free(c->img);
        c->img_len = 0;
        c->img = malloc(len ? len : 1);
        if (c->img) {
            memcpy(c->img, img, len);
            c->img_len = len;
            snprintf(c->img_node, sizeof c->img_node, "%s", node);
        }
    }
    pthread_mutex_unlock(&c->mu);
}
