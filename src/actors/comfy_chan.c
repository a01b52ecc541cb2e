/* The per-job event channel (see comfy_chan.h). */
#include "actors/comfy_chan.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "util/util_time.h"

comfy_chan *comfy_chan_new(unsigned cap)
{
    comfy_chan *c = calloc(1, sizeof *c);
    if (!c) abort();
    c->cap = cap ? cap : 1024;
    c->q = calloc(c->cap, sizeof *c->q);
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
    free(c->img);
    pthread_mutex_destroy(&c->mu);
    pthread_cond_destroy(&c->cv);
    free(c->q);
    free(c);
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

/* Caller holds c->mu. A full channel drops progress first; terminal events always get in. */
static void push_locked(comfy_chan *c, const cproto_event *e)
{
    if (c->n == c->cap) {
        if (!is_terminal(e)) {
            c->dropped++;
            return;
        }
        c->head = (c->head + 1) % c->cap; /* lose the oldest, keep the outcome */
        c->n--;
        c->dropped++;
    }
    c->q[(c->head + c->n) % c->cap] = *e;
    c->n++;
    pthread_cond_signal(&c->cv);
}

unsigned comfy_chan_wait(comfy_chan *c, cproto_event *out, unsigned max, uint64_t timeout_ms,
                         bool *reconcile)
{
    FB_OWNER_ENTER(&c->consumer);
    pthread_mutex_lock(&c->mu);
    if (c->n == 0 && !c->reconcile && timeout_ms > 0) {
        struct timespec ts = util_deadline(CLOCK_MONOTONIC, timeout_ms);
        while (c->n == 0 && !c->reconcile) {
            if (pthread_cond_timedwait(&c->cv, &c->mu, &ts) != 0) break;
        }
    }
    unsigned k = 0;
    while (k < max && c->n > 0) {
        out[k++] = c->q[c->head];
        c->head = (c->head + 1) % c->cap;
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

void comfy_chan_push(comfy_chan *c, const cproto_event *e)
{
    pthread_mutex_lock(&c->mu);
    push_locked(c, e);
    pthread_mutex_unlock(&c->mu);
}

void comfy_chan_flag_reconcile(comfy_chan *c)
{
    pthread_mutex_lock(&c->mu);
    c->reconcile = true;
    pthread_cond_signal(&c->cv);
    pthread_mutex_unlock(&c->mu);
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
