/*
 * Message allocation: size-class pools with per-thread magazines and a shared depot.
 *
 * Messages are usually allocated on one thread (the sender) and freed on another (the
 * receiver), so a plain thread-local free list would drain on one side and pile up on the
 * other. Each thread keeps a small cache per size class; a full cache moves half of itself to
 * the class's depot, an empty one refills from it, both under a mutex taken once per batch.
 * The depot is bounded: beyond it memory goes back to malloc, so a burst does not pin memory.
 * A lock-free stack was rejected: it needs nodes that are never freed (a concurrent pop may
 * still read a popped node's link), which would make the pool's memory only ever grow.
 */
#include "fluxbot/msgs.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/tsan.h"

#define POOL_CLASSES 6
#define CACHE_MAX 64   /* messages per thread and class */
#define DEPOT_MAX 4096 /* messages per class kept in the depot */
#define OVERSIZE_CLASS 0xff

static const size_t class_size[POOL_CLASSES] = {64, 128, 256, 512, 1024, 2048};

typedef struct depot {
    pthread_mutex_t lock;
    rt_msg *head;
    size_t count;
} depot;

static depot g_depot[POOL_CLASSES] = {
    {PTHREAD_MUTEX_INITIALIZER, NULL, 0}, {PTHREAD_MUTEX_INITIALIZER, NULL, 0},
    {PTHREAD_MUTEX_INITIALIZER, NULL, 0}, {PTHREAD_MUTEX_INITIALIZER, NULL, 0},
    {PTHREAD_MUTEX_INITIALIZER, NULL, 0}, {PTHREAD_MUTEX_INITIALIZER, NULL, 0},
};

typedef struct cache {
    rt_msg *head[POOL_CLASSES];
    unsigned count[POOL_CLASSES];
} cache;

static _Thread_local cache *tl_cache;
static pthread_key_t g_cache_key;
static pthread_once_t g_key_once = PTHREAD_ONCE_INIT;

static _Atomic uint64_t g_hits, g_misses, g_oversize;

/* Thread exit: hand the thread's cached messages to the depots (or back to malloc). */
static void cache_release(void *p)
{
    cache *c = p;
    for (int k = 0; k < POOL_CLASSES; k++) {
        depot *d = &g_depot[k];
        while (c->head[k]) {
            rt_msg *m = c->head[k];
            c->head[k] = m->rt_link;
            pthread_mutex_lock(&d->lock);
            if (d->count < DEPOT_MAX) {
                m->rt_link = d->head;
                d->head = m;
                d->count++;
                m = NULL;
            }
            pthread_mutex_unlock(&d->lock);
            free(m);
        }
    }
    free(c);
}

static void make_key(void)
{
    pthread_key_create(&g_cache_key, cache_release);
}

static cache *my_cache(void)
{
    if (tl_cache) return tl_cache;
    pthread_once(&g_key_once, make_key);
    tl_cache = calloc(1, sizeof *tl_cache);
    if (!tl_cache) abort();
    pthread_setspecific(g_cache_key, tl_cache);
    return tl_cache;
}

static int class_of(size_t size)
{
    for (int k = 0; k < POOL_CLASSES; k++)
        if (size <= class_size[k]) return k;
    return -1;
}

/* Moves up to n messages from the depot into the cache; returns how many. */
static unsigned refill(cache *c, int k, unsigned n)
{
    depot *d = &g_depot[k];
    unsigned got = 0;
    pthread_mutex_lock(&d->lock);
    while (d->head && got < n) {
        rt_msg *m = d->head;
        d->head = m->rt_link;
        d->count--;
        m->rt_link = c->head[k];
        c->head[k] = m;
        got++;
    }
    pthread_mutex_unlock(&d->lock);
    c->count[k] += got;
    return got;
}

/* Moves half of a full cache to the depot; what the depot cannot take is freed. */
static void spill_to_depot(cache *c, int k)
{
    depot *d = &g_depot[k];
    unsigned n = c->count[k] / 2;
    rt_msg *excess = NULL;
    pthread_mutex_lock(&d->lock);
    for (unsigned i = 0; i < n; i++) {
        rt_msg *m = c->head[k];
        c->head[k] = m->rt_link;
        if (d->count < DEPOT_MAX) {
            m->rt_link = d->head;
            d->head = m;
            d->count++;
        } else {
            m->rt_link = excess;
            excess = m;
        }
    }
    pthread_mutex_unlock(&d->lock);
    c->count[k] -= n;
    while (excess) {
        rt_msg *m = excess;
        excess = m->rt_link;
        free(m);
    }
}

rt_msg *rt_msg_new(uint16_t type, size_t size, rt_msg_dtor dtor)
{
    if (size < sizeof(rt_msg)) size = sizeof(rt_msg);
    int k = class_of(size);
    rt_msg *m = NULL;
    if (k < 0) {
        atomic_fetch_add_explicit(&g_oversize, 1, memory_order_relaxed);
        m = malloc(size);
        if (!m) goto oom;
        memset(m, 0, size);
        m->size_class = OVERSIZE_CLASS;
    } else {
        cache *c = my_cache();
        if (!c->head[k]) refill(c, k, CACHE_MAX / 2);
        if (c->head[k]) {
            m = c->head[k];
            c->head[k] = m->rt_link;
            c->count[k]--;
            RT_TSAN_ACQUIRE(m);
            atomic_fetch_add_explicit(&g_hits, 1, memory_order_relaxed);
        } else {
            m = malloc(class_size[k]);
            if (!m) goto oom;
            atomic_fetch_add_explicit(&g_misses, 1, memory_order_relaxed);
        }
        memset(m, 0, size);
        m->size_class = (uint8_t)k;
    }
    m->type = type;
    m->dtor = dtor;
    return m;
oom:
    fprintf(stderr, "fluxbot: out of memory allocating a %zu-byte message\n", size);
    abort();
}

void rt_msg_free(rt_msg *m)
{
    if (!m) return;
    if (m->dtor) m->dtor(m);
    if (m->size_class == OVERSIZE_CLASS) {
        free(m);
        return;
    }
    int k = m->size_class;
    cache *c = my_cache();
    RT_TSAN_RELEASE(m);
    m->rt_link = c->head[k];
    c->head[k] = m;
    if (++c->count[k] > CACHE_MAX) spill_to_depot(c, k);
}

void rt_msg_pool_stats_get(rt_msg_pool_stats *out)
{
    out->pool_hits = atomic_load(&g_hits);
    out->pool_misses = atomic_load(&g_misses);
    out->oversize = atomic_load(&g_oversize);
}
