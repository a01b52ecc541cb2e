/*
 * util_cjarena: cJSON trees allocated from a thread's bump arena for the length of a scope, so a
 * hot parse whose tree is read and dropped (the router's parse of each interaction) costs no
 * malloc/free per value. Owns the process-wide cJSON allocation hooks and the rule that nothing
 * allocated in an arena outlives its scope.
 *
 * How: util_cjarena_install() sets cJSON's hooks (cJSON_InitHooks) once, at startup before any
 * thread, to functions that look at the calling thread's innermost active scope. While a scope
 * is active on a thread, every cJSON allocation made on that thread is bumped from the scope's
 * arena (a region reused from scope to scope); a free of arena memory is a no-op; ending the
 * scope takes back the whole region at once. With no scope active (every other thread, and this
 * one outside the scope) the hooks are plain malloc and free. An allocation that does not fit
 * falls back to malloc (freed as usual by cJSON_Delete) and the region grows, up to
 * UTIL_CJARENA_MAX, before the next scope. Without install() a scope still works: cJSON then
 * mallocs as usual and util_cjarena_clean() says so.
 *
 * Rules (what breaks if one is violated):
 *   - Nothing cJSON allocates inside a scope may be used or freed after util_cjarena_end: not a
 *     detached item, not a value string, not cJSON_Print's text. The next scope reuses the
 *     memory, so a kept pointer reads another payload's bytes; free() of it corrupts the heap.
 *     Copy out what must outlive the scope before ending it. Debug builds (FB_DEBUG; not under
 * TSan, whose view of thread ordering the check's lock would blur) abort when arena memory reaches
 *     the free hook outside its scope, on any thread; ASan builds poison the region on end (and
 *     the gaps between allocations), so a read after the scope is reported.
 *   - Scopes nest last-in first-out on one thread: an inner scope allocates from its own arena,
 *     the outer one's memory stays valid until the outer ends. One arena is never active twice
 *     at once, and a scope ends on the thread that began it (asserted in debug builds).
 *   - Only cJSON goes through the hooks; plain malloc/free never see arena memory, so a value
 *     of the tree must never be handed to free() (cJSON_free is fine).
 *
 * Side effect of installing: cJSON 1.7 only grows print buffers with realloc when the hooks are
 * malloc and free themselves, so with these hooks cJSON_Print* grows its buffer by
 * malloc + copy + free and copies the text once more at the end. Measured by bench_cjarena.
 */
#ifndef FLUXBOT_UTIL_CJARENA_H
#define FLUXBOT_UTIL_CJARENA_H

#include <stdbool.h>
#include <stddef.h>

#include "util/util_assert.h"

#define UTIL_CJARENA_FIRST (16u * 1024u) /* region of the first scope */
#define UTIL_CJARENA_MAX (1024u * 1024u) /* the region never grows past this */

typedef struct util_cjarena {
    unsigned char *base;        /* NULL until the first scope after install() */
    size_t cap;                 /* bytes at base */
    size_t used;                /* handed out in the current scope */
    size_t short_by;            /* bytes of this scope's allocations that did not fit */
    unsigned long served;       /* this scope's allocations from the region */
    unsigned long fallbacks;    /* this scope's allocations that went to malloc */
    struct util_cjarena *outer; /* the scope this one nests in, while active */
    bool active;
#ifdef FB_DEBUG
    struct util_cjarena *reg_next; /* the debug registry of regions (util_cjarena.c) */
    util_owner owner;              /* the thread between begin and end */
#endif
} util_cjarena; /* zero-initialise; release with util_cjarena_free */

/* Sets cJSON's allocation hooks for the whole process. Call once before any thread uses cJSON
 * (main, a test's or harness's setup); calling it again is harmless. */
void util_cjarena_install(void);
bool util_cjarena_installed(void);

/* Makes a the calling thread's active scope (nesting inside any active one). */
void util_cjarena_begin(util_cjarena *a);
/* True when every cJSON allocation of a's scope so far came from its region, so the tree needs
 * no cJSON_Delete: util_cjarena_end takes it all back. False without install(), or when some
 * allocation fell back to malloc (then cJSON_Delete frees those and skips the arena's). */
bool util_cjarena_clean(const util_cjarena *a);
/* Ends a's scope: everything allocated in it is gone (poisoned under ASan). The region stays
 * for the next scope, grown if this one overflowed. */
void util_cjarena_end(util_cjarena *a);
/* Releases the region (a must not be active); a is zeroed and may be used again. */
void util_cjarena_free(util_cjarena *a);
/* True when p lies in a's region (whatever the scope). */
bool util_cjarena_owns(const util_cjarena *a, const void *p);

#endif
