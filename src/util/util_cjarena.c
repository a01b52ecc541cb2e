/* cJSON's allocation hooks and the per-thread arena scopes (see util_cjarena.h). */
#include "util/util_cjarena.h"

#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>

#include <cjson/cJSON.h>

#if defined(__SANITIZE_ADDRESS__)
#define CJARENA_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define CJARENA_ASAN 1
#endif
#endif

/* The registry below, in debug builds but not under TSan: its lock, taken by every cJSON free,
 * would make every two threads that free cJSON values look ordered to TSan and hide real races. */
#if defined(FB_DEBUG) && !defined(__SANITIZE_THREAD__)
#if defined(__has_feature)
#if !__has_feature(thread_sanitizer)
#define CJARENA_REGISTRY 1
#endif
#else
#define CJARENA_REGISTRY 1
#endif
#endif
#ifdef CJARENA_REGISTRY
#include <pthread.h>
#endif

#ifdef CJARENA_ASAN
#include <sanitizer/asan_interface.h>
/* Bytes left poisoned after each allocation, so an overrun into the next value is reported as
 * it would be between two malloc blocks. */
#define REDZONE 16u
#define POISON(p, n) ASAN_POISON_MEMORY_REGION((p), (n))
#define UNPOISON(p, n) ASAN_UNPOISON_MEMORY_REGION((p), (n))
#else
#define REDZONE 0u
#define POISON(p, n) ((void)(p), (void)(n))
#define UNPOISON(p, n) ((void)(p), (void)(n))
#endif

/* malloc's alignment: cJSON stores pointers and doubles, and a print buffer is plain memory. */
#define ALIGN 16u

static atomic_bool g_installed;
/* The calling thread's innermost active scope (its `outer` links lead to the enclosing ones). */
static _Thread_local util_cjarena *tl_top;

#ifdef CJARENA_REGISTRY
/* Every live region of the process, so the free hook can tell arena memory freed outside its
 * scope (a broken rule, reported at once) from a malloc block. Debug builds only: the lookup
 * takes a lock on every cJSON free outside a scope. */
static pthread_mutex_t g_reg_lock = PTHREAD_MUTEX_INITIALIZER;
static util_cjarena *g_reg;

static void reg_add(util_cjarena *a)
{
    pthread_mutex_lock(&g_reg_lock);
    a->reg_next = g_reg;
    g_reg = a;
    pthread_mutex_unlock(&g_reg_lock);
}

static void reg_remove(util_cjarena *a)
{
    pthread_mutex_lock(&g_reg_lock);
    for (util_cjarena **pp = &g_reg; *pp; pp = &(*pp)->reg_next)
        if (*pp == a) {
            *pp = a->reg_next;
            break;
        }
    a->reg_next = NULL;
    pthread_mutex_unlock(&g_reg_lock);
}

static bool reg_owns(const void *p)
{
    bool found = false;
    pthread_mutex_lock(&g_reg_lock);
    for (const util_cjarena *a = g_reg; a && !found; a = a->reg_next)
        found = util_cjarena_owns(a, p);
    pthread_mutex_unlock(&g_reg_lock);
    return found;
}
#endif

bool util_cjarena_owns(const util_cjarena *a, const void *p)
{
    uintptr_t u = (uintptr_t)p, lo = (uintptr_t)a->base;
    return a->base && u >= lo && u < lo + a->cap;
}

/* Room for size bytes in a's region, or NULL when it does not fit. */
static void *bump(util_cjarena *a, size_t size)
{
    if (!a->base || size > a->cap) return NULL;
    size_t at = a->used; /* always a multiple of ALIGN */
    if (a->cap - at < size) return NULL;
    size_t step = (size + REDZONE + ALIGN - 1) & ~(size_t)(ALIGN - 1);
    a->used = a->cap - at < step ? a->cap : at + step;
    UNPOISON(a->base + at, size ? size : 1);
    return a->base + at;
}

static void *hook_malloc(size_t size)
{
    util_cjarena *a = tl_top;
    if (a) {
        void *p = bump(a, size);
        if (p) {
            a->served++;
            return p;
        }
        a->fallbacks++;
        a->short_by += size + REDZONE + ALIGN;
    }
    return malloc(size);
}

static void hook_free(void *p)
{
    if (!p) return;
    for (const util_cjarena *a = tl_top; a; a = a->outer)
        if (util_cjarena_owns(a, p)) {
            /* taken back at the scope's end; memory past `used` was never handed out */
            FB_ASSERT((const unsigned char *)p < a->base + a->used);
            return;
        }
#ifdef CJARENA_REGISTRY
    if (reg_owns(p))
        util_assert_fail("cJSON memory of an arena freed outside its scope (util_cjarena.h)",
                         __FILE__, __LINE__, __func__);
#endif
    free(p);
}

void util_cjarena_install(void)
{
    cJSON_Hooks h = {.malloc_fn = hook_malloc, .free_fn = hook_free};
    cJSON_InitHooks(&h);
    atomic_store(&g_installed, true);
}

bool util_cjarena_installed(void)
{
    return atomic_load_explicit(&g_installed, memory_order_relaxed);
}

/* Gives the region back to malloc (unpoisoned first: malloc will hand its bytes out again). */
static void drop_region(util_cjarena *a)
{
    if (!a->base) return;
#ifdef CJARENA_REGISTRY
    reg_remove(a);
#endif
    UNPOISON(a->base, a->cap);
    free(a->base);
}

/* A new region of cap bytes (the old one, if any, is not in use); on failure none, so every
 * allocation of the scope falls back to malloc. */
static void set_region(util_cjarena *a, size_t cap)
{
    drop_region(a);
    a->base = malloc(cap);
    a->cap = a->base ? cap : 0;
    if (!a->base) return;
    POISON(a->base, a->cap);
#ifdef CJARENA_REGISTRY
    reg_add(a);
#endif
}

void util_cjarena_begin(util_cjarena *a)
{
    FB_ASSERT(!a->active); /* active twice: the inner scope would reuse the outer's memory */
    FB_OWNER_ENTER(&a->owner);
    if (!a->base && util_cjarena_installed()) set_region(a, UTIL_CJARENA_FIRST);
    a->used = a->short_by = 0;
    a->served = a->fallbacks = 0;
    a->outer = tl_top;
    a->active = true;
    tl_top = a;
}

bool util_cjarena_clean(const util_cjarena *a)
{
    return a->active && util_cjarena_installed() && a->fallbacks == 0;
}

void util_cjarena_end(util_cjarena *a)
{
    FB_ASSERT(a->active);
    FB_ASSERT(tl_top == a); /* last in, first out */
    /* unlinked wherever it is, so a release build stays consistent even if the order broke */
    for (util_cjarena **pp = &tl_top; *pp; pp = &(*pp)->outer)
        if (*pp == a) {
            *pp = a->outer;
            break;
        }
    a->outer = NULL;
    a->active = false;
    if (a->base) POISON(a->base, a->used);
    if (a->short_by && a->cap < UTIL_CJARENA_MAX) {
        size_t want = a->cap ? a->cap : UTIL_CJARENA_FIRST;
        while (want < a->used + a->short_by && want < UTIL_CJARENA_MAX)
            want *= 2;
        set_region(a, want < UTIL_CJARENA_MAX ? want : UTIL_CJARENA_MAX);
    }
    a->used = a->short_by = 0;
    FB_OWNER_LEAVE(&a->owner);
}

void util_cjarena_free(util_cjarena *a)
{
    FB_ASSERT(!a->active);
    drop_region(a);
    *a = (util_cjarena){0};
}
