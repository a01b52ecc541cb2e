/* Shared /stats computations (see stats_flight.h). */
#include "actors/stats_flight.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "fluxbot/runtime.h"

#define FLIGHTS_MAX 16 /* distinct queries computed at once; beyond, a query just computes */
#define KEPT_MAX 8     /* answers kept for reuse (distinct window lengths); the oldest goes */

typedef struct flight {
    bool used, done;
    int days;
    int64_t key_now; /* 0 for queries on the clock */
    int64_t now_ms;  /* the end of the window the leader computes */
    unsigned waiters;
    stats_flight_answer answer;
} flight;

/* A finished answer handed on to later queries (see stats_flight.h). */
typedef struct kept {
    bool used;
    int days;
    uint64_t version; /* the writer's counter read before the computation started */
    uint64_t made_ms; /* rt_now_ms when it was computed: the age bound */
    stats_flight_answer answer;
} kept;

struct stats_flight {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    const _Atomic uint64_t *version;
    uint64_t reuse_max_ms;
    flight slots[FLIGHTS_MAX];
    kept kept[KEPT_MAX];
    uint64_t computed, shared, reused;
};

stats_flight *stats_flight_new(const _Atomic uint64_t *data_version, unsigned reuse_max_ms)
{
    stats_flight *f = calloc(1, sizeof *f);
    if (!f) abort();
    f->version = data_version;
    f->reuse_max_ms = reuse_max_ms ? reuse_max_ms : STATS_FLIGHT_REUSE_MAX_MS;
    pthread_mutex_init(&f->mu, NULL);
    pthread_cond_init(&f->cv, NULL);
    return f;
}

void stats_flight_free(stats_flight *f)
{
    if (!f) return;
    for (unsigned i = 0; i < KEPT_MAX; i++)
        free(f->kept[i].answer.png);
    pthread_mutex_destroy(&f->mu);
    pthread_cond_destroy(&f->cv);
    free(f);
}

static void copy_answer(stats_flight_answer *dst, const stats_flight_answer *src)
{
    /* Field by field: the numbers' unused chart entries are not copied (an_stats_copy). */
    dst->rc = src->rc;
    memcpy(dst->err, src->err, sizeof dst->err);
    an_stats_copy(&dst->stats, &src->stats);
    dst->png_len = src->png_len;
    dst->valid_until_ms = src->valid_until_ms;
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

/* A kept answer that is exact for (days, when) at this version, or NULL (under f->mu). */
static kept *find_kept(stats_flight *f, int days, int64_t when, uint64_t version)
{
    uint64_t now = rt_now_ms();
    for (unsigned i = 0; i < KEPT_MAX; i++) {
        kept *k = &f->kept[i];
        if (k->used && k->days == days && k->version == version &&
            k->answer.stats.window.now_ms <= when && when < k->answer.valid_until_ms &&
            now - k->made_ms <= f->reuse_max_ms)
            return k;
    }
    return NULL;
}

/* Keeps a copy of a computed answer for later queries, in place of the one for the same days
 * or else the oldest (under f->mu). */
static void keep(stats_flight *f, int days, uint64_t version, uint64_t made_ms,
                 const stats_flight_answer *a)
{
    kept *slot = NULL;
    for (unsigned i = 0; i < KEPT_MAX && !slot; i++)
        if (f->kept[i].used && f->kept[i].days == days) slot = &f->kept[i];
    for (unsigned i = 0; i < KEPT_MAX && !slot; i++)
        if (!f->kept[i].used) slot = &f->kept[i];
    if (!slot) {
        slot = &f->kept[0];
        for (unsigned i = 1; i < KEPT_MAX; i++)
            if (f->kept[i].made_ms < slot->made_ms) slot = &f->kept[i];
    }
    /* A newer answer for the same days can only replace an older one. */
    if (slot->used && slot->days == days && slot->made_ms > made_ms) return;
    free(slot->answer.png);
    slot->used = true;
    slot->days = days;
    slot->version = version;
    slot->made_ms = made_ms;
    copy_answer(&slot->answer, a);
}

void stats_flight_run(stats_flight *f, int days, int64_t now_ms, stats_flight_compute_fn fn,
                      void *ctx, stats_flight_answer *out, bool *shared)
{
    int64_t when = now_ms ? now_ms : (int64_t)rt_wall_ms();
    pthread_mutex_lock(&f->mu);
    uint64_t version = f->version ? atomic_load(f->version) : 0;
    kept *k = f->version ? find_kept(f, days, when, version) : NULL;
    if (k) {
        /* Handed on: the same numbers and chart, restated for this query's window. */
        copy_answer(out, &k->answer);
        an_window_make(days, when, &out->stats.window);
        f->reused++;
        pthread_mutex_unlock(&f->mu);
        *shared = true;
        return;
    }
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
    if (free_slot) {
        free_slot->used = true;
        free_slot->days = days;
        free_slot->key_now = now_ms;
        free_slot->now_ms = when;
    }
    f->computed++;
    pthread_mutex_unlock(&f->mu);

    uint64_t made_ms = rt_now_ms();
    memset(out, 0, sizeof *out);
    fn(ctx, days, when, out);
    *shared = false;

    pthread_mutex_lock(&f->mu);
    /* Kept only when no commit was counted while it was read: its rows are those of version
     * (the counter was read before the read transaction began). */
    if (f->version && out->rc == 0 && out->valid_until_ms > when &&
        atomic_load(f->version) == version)
        keep(f, days, version, made_ms, out);
    if (!free_slot) {
        pthread_mutex_unlock(&f->mu);
        return;
    }
    if (free_slot->waiters) {
        copy_answer(&free_slot->answer, out);
        free_slot->done = true;
        pthread_cond_broadcast(&f->cv);
    } else {
        release(free_slot);
    }
    pthread_mutex_unlock(&f->mu);
}

void stats_flight_counts(stats_flight *f, uint64_t *computed, uint64_t *shared, uint64_t *reused)
{
    pthread_mutex_lock(&f->mu);
    *computed = f->computed;
    *shared = f->shared;
    *reused = f->reused;
    pthread_mutex_unlock(&f->mu);
}
