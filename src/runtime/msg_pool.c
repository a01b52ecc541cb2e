/*
 * Message allocation: size-class pools with per-thread magazines and a shared depot.
 *
 * Messages are usually allocated on one thread (the sender) and freed on another (the
 * receiver), so a plain thread-local free list would drain on one side and pile up on the
 * other. Each thread keeps per size class a current magazine and a full spare (Bonwick's
 * magazines); full magazines travel to and from a per-class depot in O(1), so the depot's lock
 * is taken once per 64 messages for a few instructions. The depot is bounded: beyond it memory
 * goes back to malloc, so a burst does not pin memory for ever.
 * A lock-free stack was rejected: it needs nodes that are never freed (a concurrent pop may
 * still read a popped node's link), which would make the pool's memory only ever grow.
 */
#include "fluxbot/msgs.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/tsan.h"

#define POOL_CLASSES 6
#define MAG_SIZE 64   /* messages per magazine (a linked list through rt_link) */
#define DEPOT_MAGS 64 /* magazines per class kept in the depot: 4096 messages */
#define OVERSIZE_CLASS 0xff

static const size_t class_size[POOL_CLASSES] = {64, 128, 256, 512, 1024, 2048};

/* The depot trades whole magazines, so its lock is held for O(1) work and a spinlock is
 * cheaper than a mutex that would sleep in the kernel on every collision. */
typedef struct depot {
    pthread_spinlock_t lock;
    rt_msg *mags[DEPOT_MAGS];
    unsigned nmags;
} depot;

static depot g_depot[POOL_CLASSES];
static pthread_once_t g_depot_once = PTHREAD_ONCE_INIT;

/* Per thread and class: the magazine being used and a full spare, so a thread alternating
 * between alloc and free at a magazine boundary does not hit the depot every time. */
typedef struct cache {
    rt_msg *cur[POOL_CLASSES];
    unsigned ncur[POOL_CLASSES];
    rt_msg *spare[POOL_CLASSES]; /* full magazine or NULL */
} cache;

static _Thread_local cache *tl_cache;
static pthread_key_t g_cache_key;

static _Atomic uint64_t g_hits, g_misses, g_oversize;

static void free_list(rt_msg *m)
{
    while (m) {
        rt_msg *next = m->rt_link;
        free(m);
        m = next;
    }
}

/* Gives a full magazine to the depot, or frees it when the depot is full. */
static void depot_put(int k, rt_msg *mag)
{
    depot *d = &g_depot[k];
    pthread_spin_lock(&d->lock);
    if (d->nmags < DEPOT_MAGS) {
        d->mags[d->nmags++] = mag;
        mag = NULL;
    }
    pthread_spin_unlock(&d->lock);
    free_list(mag);
}

static rt_msg *depot_get(int k)
{
    depot *d = &g_depot[k];
    rt_msg *mag = NULL;
    pthread_spin_lock(&d->lock);
    if (d->nmags) mag = d->mags[--d->nmags];
    pthread_spin_unlock(&d->lock);
    return mag;
}

/* Thread exit: full magazines go to the depot, partial ones back to malloc. */
static void cache_release(void *p)
{
    cache *c = p;
    for (int k = 0; k < POOL_CLASSES; k++) {
        if (c->spare[k]) depot_put(k, c->spare[k]);
        if (c->ncur[k] == MAG_SIZE)
            depot_put(k, c->cur[k]);
        else
            free_list(c->cur[k]);
    }
    free(c);
}

static void depot_init(void)
{
    for (int k = 0; k < POOL_CLASSES; k++)
        pthread_spin_init(&g_depot[k].lock, PTHREAD_PROCESS_PRIVATE);
    pthread_key_create(&g_cache_key, cache_release);
}

static cache *my_cache(void)
{
    if (tl_cache) return tl_cache;
    pthread_once(&g_depot_once, depot_init);
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

/* An empty current magazine: swap in the spare, else one from the depot. */
static bool reload(cache *c, int k)
{
    rt_msg *mag = c->spare[k];
    if (mag) {
        c->spare[k] = NULL;
    } else {
        mag = depot_get(k);
        if (!mag) return false;
    }
    c->cur[k] = mag;
    c->ncur[k] = MAG_SIZE;
    /* Counted per magazine: a shared counter per allocation would bounce between cores. */
    atomic_fetch_add_explicit(&g_hits, MAG_SIZE, memory_order_relaxed);
    return true;
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
        if (c->ncur[k] == 0) reload(c, k);
        if (c->ncur[k]) {
            m = c->cur[k];
            c->cur[k] = m->rt_link;
            c->ncur[k]--;
            RT_TSAN_ACQUIRE(m);
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
    if (c->ncur[k] == MAG_SIZE) {
        /* Current magazine full: it becomes the spare (the old spare goes to the depot). */
        if (c->spare[k]) depot_put(k, c->spare[k]);
        c->spare[k] = c->cur[k];
        c->cur[k] = NULL;
        c->ncur[k] = 0;
    }
    m->rt_link = c->cur[k];
    c->cur[k] = m;
    c->ncur[k]++;
}

void rt_msg_pool_stats_get(rt_msg_pool_stats *out)
{
    out->pool_hits = atomic_load(&g_hits);
    out->pool_misses = atomic_load(&g_misses);
    out->oversize = atomic_load(&g_oversize);
}
