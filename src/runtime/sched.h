/*
 * The M:N scheduler: a small pool of worker threads that run the parked actors placed on it
 * (rt_actor_schedule), so that a message between two actors on the same worker is a ring store
 * and a run-queue append, with no wake-up, no fence and no system call. Owned by the runtime
 * (actor.c is its only user); actors never see it.
 *
 * How an actor moves (the state word is the actor mailbox's `sstate`):
 *  - IDLE (0): not in any queue. A sender that publishes a message and then finds IDLE moves it
 *    to QUEUED with a CAS and enqueues it on its worker: the worker's own local queue when the
 *    sender runs on that worker (no atomics beyond the CAS, nobody to wake), else the worker's
 *    inject stack (one CAS) plus a futex wake if, and only if, the worker is parked.
 *  - QUEUED (1): in one queue, or running. Only the CAS winner enqueues, so an actor is in at
 *    most one queue and runs on one thread at a time (asserted in debug builds).
 *  - After a run the worker puts the actor back at the tail of its local queue (it used its
 *    whole batch: the other actors of the worker go first) or stores IDLE, issues a fence and
 *    looks at the mailbox again (the consumer half of the Dekker pattern of mailbox.h): a
 *    message that arrived in between makes it CAS the actor back to QUEUED itself.
 * Actors are pinned: each stays on the worker it was given at start, so its thread-local state
 * (a SQLite connection, an answer buffer) stays valid and its callbacks see one thread.
 *
 * A worker parks only when every one of its actors is idle: it announces `sleeping`, fences,
 * looks at its inject stack once more, then sleeps on its futex word. Waking it costs one
 * futex call per park, whatever the number of messages that arrive meanwhile (the first
 * waker clears `sleeping`; the others see it clear).
 */
#ifndef FLUXBOT_RT_SCHED_H
#define FLUXBOT_RT_SCHED_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "fluxbot/runtime.h"

#define SCHED_MAX_WORKERS 64
#define SCHED_DEFAULT_WORKERS 1

/* What one run of an actor asks of its worker (actor.c decides). */
typedef enum sched_next {
    SCHED_RUN_AGAIN, /* more to do: back to the tail of the local queue */
    SCHED_RUN_IDLE,  /* nothing to do: IDLE, unless the re-check finds work */
    SCHED_RUN_DONE,  /* the actor exited: never runs again */
} sched_next;

typedef struct sched_worker {
    struct sched *s;
    unsigned index;
    pthread_t thread;
    bool started;
    /* the local run queue: only this worker's thread touches it */
    rt_actor *lhead, *ltail;
    /* the inject stack: any thread pushes, the worker takes all at once */
    _Alignas(64) _Atomic(rt_actor *) inject;
    _Alignas(64) _Atomic uint32_t epoch; /* futex word */
    _Atomic uint32_t sleeping;
    _Alignas(64) _Atomic uint64_t runs, parks, wakeups, local_enqueues, remote_enqueues;
} sched_worker;

typedef struct sched {
    unsigned nworkers;
    sched_worker *workers;
    unsigned next; /* round-robin placement */
    uint64_t spin_ns;
    _Atomic bool stopping;
    bool running;
} sched;

/* Callbacks into actor.c. */
/* Runs one bounded slice of a on this thread; *now is the worker's clock (advanced when the
 * run handled messages). */
sched_next rt_actor_sched_run(rt_actor *a, uint64_t *now);
bool rt_actor_sched_wants_run(rt_actor *a); /* after IDLE + fence: does it need a run? */
sched_worker *rt_actor_sched_worker(rt_actor *a);
rt_actor **rt_actor_sched_link(rt_actor *a); /* the intrusive queue link */
struct mailbox *rt_actor_mailbox(rt_actor *a);

int sched_init(sched *s, unsigned nworkers);
/* The worker that will run the next actor placed (round-robin). */
sched_worker *sched_place(sched *s);
int sched_start(sched *s);
/* After every scheduled actor exited: stops and joins the workers. */
void sched_stop(sched *s);
void sched_free(sched *s);
/* Queues a (just moved to QUEUED) actor on its worker; wakes the worker if it sleeps on another
 * thread. The caller won the IDLE → QUEUED CAS. */
void sched_enqueue(void *actor);
/* The worker the calling thread is, or NULL. */
sched_worker *sched_current(void);

#endif
