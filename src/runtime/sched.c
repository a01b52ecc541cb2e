/*
 * The M:N scheduler's workers: run queues, the inject stack, parking and waking. See sched.h
 * for the protocol; actor.c decides what one run of an actor does.
 */
#include "runtime/sched.h"

#include <errno.h>
#include <limits.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fluxbot/log.h"
#include "runtime/mailbox.h"
#include "runtime/park.h"
#include "runtime/spin.h"

#define DEFAULT_SPIN_NS 20000u /* as parked actors: below a futex round trip, above a hop */

static _Thread_local sched_worker *tl_worker;

sched_worker *sched_current(void)
{
    return tl_worker;
}

int sched_init(sched *s, unsigned nworkers)
{
    memset(s, 0, sizeof *s);
    if (nworkers == 0) nworkers = SCHED_DEFAULT_WORKERS;
    if (nworkers > SCHED_MAX_WORKERS) return -EINVAL;
    s->workers = aligned_alloc(64, ((sizeof(sched_worker) * nworkers) + 63) & ~(size_t)63);
    if (!s->workers) return -ENOMEM;
    memset(s->workers, 0, sizeof(sched_worker) * nworkers);
    for (unsigned i = 0; i < nworkers; i++) {
        s->workers[i].s = s;
        s->workers[i].index = i;
    }
    s->nworkers = nworkers;
    s->spin_ns = DEFAULT_SPIN_NS;
    return 0;
}

sched_worker *sched_place(sched *s)
{
    return &s->workers[s->next++ % s->nworkers];
}

/* ---- queues ------------------------------------------------------------------------------ */

/* A counter only the worker's own thread writes: a plain increment, no locked instruction
 * (readers on other threads see a recent value, which is all a counter needs). */
static inline void bump(_Atomic uint64_t *c)
{
    atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + 1,
                          memory_order_relaxed);
}

static void local_push(sched_worker *w, rt_actor *a)
{
    *rt_actor_sched_link(a) = NULL;
    if (w->ltail)
        *rt_actor_sched_link(w->ltail) = a;
    else
        w->lhead = a;
    w->ltail = a;
}

static rt_actor *local_pop(sched_worker *w)
{
    rt_actor *a = w->lhead;
    if (!a) return NULL;
    w->lhead = *rt_actor_sched_link(a);
    if (!w->lhead) w->ltail = NULL;
    return a;
}

/* Takes the whole inject stack (newest first) and appends it to the local queue oldest first,
 * so actors woken from outside run in the order they were woken. */
static bool take_inject(sched_worker *w)
{
    if (!atomic_load_explicit(&w->inject, memory_order_relaxed)) return false;
    rt_actor *a = atomic_exchange_explicit(&w->inject, NULL, memory_order_acquire), *rev = NULL;
    while (a) {
        rt_actor *next = *rt_actor_sched_link(a);
        *rt_actor_sched_link(a) = rev;
        rev = a;
        a = next;
    }
    while (rev) {
        rt_actor *next = *rt_actor_sched_link(rev);
        local_push(w, rev);
        rev = next;
    }
    return true;
}

static bool wake_worker(sched_worker *w)
{
    /* After the inject push (a seq_cst CAS) and this fence: the waker's half of the pattern
     * whose other half is park()'s `sleeping` store, fence, inject load. The exchange lets
     * only the first waker of a park pay the futex call. */
    atomic_thread_fence(memory_order_seq_cst);
    if (atomic_load_explicit(&w->sleeping, memory_order_relaxed) &&
        atomic_exchange(&w->sleeping, 0)) {
        atomic_fetch_add(&w->epoch, 1);
        rt_futex_wake(&w->epoch, 1);
        atomic_fetch_add_explicit(&w->wakeups, 1, memory_order_relaxed);
        return true;
    }
    return false;
}

void sched_enqueue(void *actor)
{
    rt_actor *a = actor;
    sched_worker *w = rt_actor_sched_worker(a);
    if (tl_worker == w) {
        /* The sender runs on this worker: the queue is ours and the worker is awake. */
        local_push(w, a);
        bump(&w->local_enqueues);
        return;
    }
    rt_actor *head = atomic_load_explicit(&w->inject, memory_order_relaxed);
    do {
        *rt_actor_sched_link(a) = head;
    } while (!atomic_compare_exchange_weak_explicit(&w->inject, &head, a, memory_order_seq_cst,
                                                    memory_order_relaxed));
    atomic_fetch_add_explicit(&w->remote_enqueues, 1, memory_order_relaxed);
    if (wake_worker(w)) /* the actor's own count: its senders' wake-ups, as for other actors */
        atomic_fetch_add_explicit(&rt_actor_mailbox(a)->wakeups, 1, memory_order_relaxed);
}

/* ---- the worker -------------------------------------------------------------------------- */

static void run_one(sched_worker *w, rt_actor *a, uint64_t *now)
{
    bump(&w->runs);
    sched_next next = rt_actor_sched_run(a, now);
    if (next == SCHED_RUN_AGAIN) {
        local_push(w, a);
        return;
    }
    if (next == SCHED_RUN_DONE) return; /* stays QUEUED: nobody enqueues it again */
    mailbox *mb = rt_actor_mailbox(a);
    /* release: the next enqueuer (another thread's CAS) writes the link we wrote last */
    atomic_store_explicit(&mb->sstate, 0, memory_order_release);
    /* The consumer half of the Dekker pattern (mailbox.h): IDLE is visible before we look at
     * the lanes, so a sender that published before our look is seen by it, and one that
     * publishes after sees IDLE and enqueues the actor itself. */
    atomic_thread_fence(memory_order_seq_cst);
    if (!rt_actor_sched_wants_run(a)) return;
    uint32_t idle = 0;
    if (atomic_compare_exchange_strong(&mb->sstate, &idle, 1)) local_push(w, a);
    /* else a sender won the CAS: the actor is in our inject stack already */
}

static bool stopping(sched_worker *w)
{
    return atomic_load_explicit(&w->s->stopping, memory_order_acquire);
}

static void park(sched_worker *w)
{
    uint32_t e = atomic_load(&w->epoch);
    atomic_store(&w->sleeping, 1);
    atomic_thread_fence(memory_order_seq_cst);
    if (atomic_load(&w->inject) || stopping(w)) {
        atomic_store(&w->sleeping, 0);
        return;
    }
    bump(&w->parks);
    rt_futex_wait(&w->epoch, e, 0);
    atomic_store(&w->sleeping, 0);
}

static void *worker_main(void *p)
{
    sched_worker *w = p;
    tl_worker = w;
    mailbox_thread_slot();
    mailbox_set_home(w);
    uint64_t spin = w->s->spin_ns, clock = rt_now_ns();
    for (;;) {
        /* The inject stack first, every time: actors woken from outside join the tail of the
         * local queue, so a local actor that keeps itself busy cannot starve them. */
        take_inject(w);
        rt_actor *a = local_pop(w);
        if (a) {
            run_one(w, a, &clock);
            continue;
        }
        if (stopping(w)) break;
        /* Every actor of this worker is idle. Spin briefly (adaptive, runtime/spin.h), yielding
         * as it goes, then park: one futex wake brings the worker back for whatever arrives. */
        uint64_t now = rt_now_ns(), until = now + spin;
        bool found = false;
        for (unsigned round = 1; now < until; round++) {
            if (atomic_load_explicit(&w->inject, memory_order_relaxed)) {
                found = true;
                break;
            }
            if (round % 4 == 0)
                sched_yield();
            else
                for (int i = 0; i < 32; i++)
                    rt_cpu_relax();
            now = rt_now_ns();
        }
        if (found) {
            spin = rt_spin_next(spin, w->s->spin_ns, true, 0);
            clock = now;
            continue;
        }
        uint64_t parked_at = rt_now_ns();
        park(w);
        clock = rt_now_ns();
        spin = rt_spin_next(spin, w->s->spin_ns, false, clock - parked_at);
    }
    mailbox_set_home(NULL);
    tl_worker = NULL;
    return NULL;
}

int sched_start(sched *s)
{
    atomic_store(&s->stopping, false);
    for (unsigned i = 0; i < s->nworkers; i++) {
        sched_worker *w = &s->workers[i];
        int err = pthread_create(&w->thread, NULL, worker_main, w);
        if (err != 0) {
            LOG_ERROR("runtime", "cannot start scheduler worker %u: %s", i, strerror(err));
            sched_stop(s);
            return -err;
        }
        w->started = true;
        char name[16];
        snprintf(name, sizeof name, "sched/%u", i % 100);
        pthread_setname_np(w->thread, name);
    }
    s->running = true;
    return 0;
}

void sched_stop(sched *s)
{
    atomic_store_explicit(&s->stopping, true, memory_order_release);
    for (unsigned i = 0; i < s->nworkers; i++) {
        sched_worker *w = &s->workers[i];
        if (!w->started) continue;
        atomic_fetch_add(&w->epoch, 1);
        rt_futex_wake(&w->epoch, INT_MAX);
        pthread_join(w->thread, NULL);
        w->started = false;
    }
    s->running = false;
}

void sched_free(sched *s)
{
    if (s->running) sched_stop(s);
    free(s->workers);
    memset(s, 0, sizeof *s);
}
