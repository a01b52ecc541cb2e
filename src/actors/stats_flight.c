/* Shared /stats computations (see stats_flight.h). */
#include "actors/stats_flight.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "fluxbot/runtime.h"

#define FLIGHTS_MAX 16 /* distinct queries computed at once; beyond, a query just computes */

typedef struct flight {
    bool used, done;
    int days;
    int64_t key_now; /* 0 for queries on the clock */
    int64_t now_ms;  /* the end of the window the leader computes */
    unsigned waiters;
    stats_flight_answer answer;
} flight;

struct stats_flight {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    flight slots[FLIGHTS_MAX];
    uint64_t computed, shared;
};

stats_flight *stats_flight_new(void)
{
    stats_flight *f = calloc(1, sizeof *f);
    if (!f) abort();
    pthread_mutex_init(&f->mu, NULL);
    pthread_cond_init(&f->cv, NULL);
    return f;
}

void stats_flight_free(stats_flight *f)
{
    if (!f) return;
    pthread_mutex_destroy(&f->mu);
    pthread_cond_destroy(&f->cv);
    free(f);
}

static void copy_answer(stats_flight_answer *dst, const stats_flight_answer *src)
{
    *dst = *src;
    dst->png = NULL;
    if (src->png) {
        dst->png = malloc(src->png_len);
        if (!dst->png) abort();
        memcpy(dst->png, src->png, src->png_len);
    }
}

static void release(flight *fl)
{
    free(fl->answer.png);
    memset(fl, 0, sizeof *fl);
}

void stats_flight_run(stats_flight *f, int days, int64_t now_ms, stats_flight_compute_fn fn,
                      void *ctx, stats_flight_answer *out, bool *shared)
{
    pthread_mutex_lock(&f->mu);
    flight *fl = NULL, *free_slot = NULL;
    for (unsigned i = 0; i < FLIGHTS_MAX; i++) {
        flight *c = &f->slots[i];
        if (c->used && !c->done && c->days == days && c->key_now == now_ms) fl = c;
        if (!c->used && !free_slot) free_slot = c;
    }
    if (fl) {
        /* Follower: wait for the leader's answer and take a copy. */
        fl->waiters++;
        while (!fl->done)
            pthread_cond_wait(&f->cv, &f->mu);
        copy_answer(out, &fl->answer);
        if (--fl->waiters == 0) release(fl);
        f->shared++;
        pthread_mutex_unlock(&f->mu);
        *shared = true;
        return;
    }
    int64_t when = now_ms ? now_ms : (int64_t)rt_wall_ms();
    if (free_slot) {
        free_slot->used = true;
        free_slot->days = days;
        free_slot->key_now = now_ms;
        free_slot->now_ms = when;
    }
    f->computed++;
    pthread_mutex_unlock(&f->mu);

    memset(out, 0, sizeof *out);
    fn(ctx, days, when, out);
    *shared = false;
    if (!free_slot) return;

    pthread_mutex_lock(&f->mu);
    if (free_slot->waiters) {
        copy_answer(&free_slot->answer, out);
        free_slot->done = true;
        pthread_cond_broadcast(&f->cv);
    } else {
        release(free_slot);
    }
    pthread_mutex_unlock(&f->mu);
}

void stats_flight_counts(stats_flight *f, uint64_t *computed, uint64_t *shared)
{
    pthread_mutex_lock(&f->mu);
    *computed = f->computed;
    *shared = f->shared;
    pthread_mutex_unlock(&f->mu);
}
