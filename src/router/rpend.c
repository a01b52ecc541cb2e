/* The router's bounded table of interactions awaiting an answer (see rpend.h). */
#include "router/rpend.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

/* A cookie is (generation << SLOT_BITS) | (slot + 1): never 0, and a recycled slot gets a new
 * generation, so an answer that arrives after its entry expired cannot hit the next tenant. */
#define SLOT_BITS 24
#define SLOT_MASK ((1ULL << SLOT_BITS) - 1)
#define CAPACITY_MAX ((size_t)SLOT_MASK - 1)

typedef struct slot {
    bool used;
    uint64_t generation;
    rpend_entry e;
} slot;

struct rpend {
    pthread_mutex_t mu;
    size_t capacity;
    slot *slots;
    size_t *free_stack; /* indices of unused slots */
    size_t nfree;
    size_t high_water;
};

rpend *rpend_new(size_t capacity)
{
    if (capacity < 1) capacity = 1;
    if (capacity > CAPACITY_MAX) capacity = CAPACITY_MAX;
    rpend *p = calloc(1, sizeof *p);
    if (!p) abort();
    p->capacity = capacity;
    p->slots = calloc(capacity, sizeof *p->slots);
    p->free_stack = calloc(capacity, sizeof *p->free_stack);
    if (!p->slots || !p->free_stack) abort();
    /* Push in reverse so slot 0 is handed out first (readable cookies in tests). */
    for (size_t i = 0; i < capacity; i++)
        p->free_stack[i] = capacity - 1 - i;
    p->nfree = capacity;
    pthread_mutex_init(&p->mu, NULL);
    return p;
}

void rpend_entry_release(rpend_entry *e)
{
    if (!e) return;
    rt_msg_free(e->work);
    e->work = NULL;
    free(e->token);
    e->token = NULL;
}

void rpend_free(rpend *p)
{
    if (!p) return;
    for (size_t i = 0; i < p->capacity; i++)
        if (p->slots[i].used) rpend_entry_release(&p->slots[i].e);
    pthread_mutex_destroy(&p->mu);
    free(p->slots);
    free(p->free_stack);
    free(p);
}

uint64_t rpend_add(rpend *p, const rpend_entry *e)
{
    pthread_mutex_lock(&p->mu);
    if (p->nfree == 0) {
        pthread_mutex_unlock(&p->mu);
        return 0;
    }
    size_t i = p->free_stack[--p->nfree];
    slot *s = &p->slots[i];
    s->used = true;
    s->generation++;
    s->e = *e;
    s->e.cookie = (s->generation << SLOT_BITS) | (uint64_t)(i + 1);
    uint64_t cookie = s->e.cookie;
    size_t used = p->capacity - p->nfree;
    if (used > p->high_water) p->high_water = used;
    pthread_mutex_unlock(&p->mu);
    return cookie;
}

/* Caller holds the mutex. */
static void vacate(rpend *p, size_t i, rpend_entry *out)
{
    slot *s = &p->slots[i];
    *out = s->e;
    memset(&s->e, 0, sizeof s->e);
    s->used = false;
    p->free_stack[p->nfree++] = i;
}

bool rpend_take(rpend *p, uint64_t cookie, rpend_entry *out)
{
    uint64_t low = cookie & SLOT_MASK;
    if (low == 0 || low > p->capacity) return false;
    size_t i = (size_t)(low - 1);
    pthread_mutex_lock(&p->mu);
    bool ok = p->slots[i].used && p->slots[i].e.cookie == cookie;
    if (ok) vacate(p, i, out);
    pthread_mutex_unlock(&p->mu);
    return ok;
}

size_t rpend_expire(rpend *p, uint64_t now_ms, rpend_entry *out, size_t max)
{
    size_t n = 0;
    pthread_mutex_lock(&p->mu);
    for (size_t i = 0; i < p->capacity && n < max; i++)
        if (p->slots[i].used && p->slots[i].e.deadline_ms <= now_ms) vacate(p, i, &out[n++]);
    pthread_mutex_unlock(&p->mu);
    return n;
}

size_t rpend_count(rpend *p)
{
    pthread_mutex_lock(&p->mu);
    size_t n = p->capacity - p->nfree;
    pthread_mutex_unlock(&p->mu);
    return n;
}

size_t rpend_high_water(rpend *p)
{
    pthread_mutex_lock(&p->mu);
    size_t n = p->high_water;
    pthread_mutex_unlock(&p->mu);
    return n;
}

size_t rpend_capacity(const rpend *p)
{
    return p->capacity;
}
