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
 * looks at its inject stack once more, then sleeps in epoll_wait on its own epoll set, which
 * holds its wake eventfd and the descriptors its actors registered (rt_io_ctl), with a timeout
 * that is the earliest of its actors' deadlines (rt_io_deadline). Waking it costs one eventfd
 * write per park, whatever the number of messages that arrive meanwhile (the first waker
 * clears `sleeping`; the others see it clear). A ready descriptor or a due deadline wakes it
 * with no other thread involved, and its callback (ops.on_io / on_deadline) runs on the worker
 * in its actor's turn: between two runs, never beside one, so an actor still runs on one
 * thread at a time. While its actors keep it busy the worker still looks at its descriptors
 * and deadlines every SCHED_IO_EVERY runs (a zero-timeout epoll_wait), so a local flood cannot
 * starve I/O.
 *
 * Dedicated workers: an actor with I/O callbacks that is not placed with rt_actor_schedule gets
 * a worker of its own (its "own thread", named after it), so the actor's code is the same
 * wherever the operator puts it.
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
#define SCHED_IO_MAX 16   /* actors of one worker that may register descriptors or deadlines */
#define SCHED_IO_EVERY 64 /* runs between two looks at the descriptors of a busy worker */

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
    bool alone;    /* a dedicated worker (one actor) */
    char name[16]; /* its thread's name */
    int epfd;      /* the worker's epoll set: wake_fd and its actors' descriptors */
    int wake_fd;   /* eventfd, edge-triggered, never read (see park in sched.c) */
    /* worker thread only: the actors that registered I/O, by slot, and their deadlines */
    struct rt_actor *io[SCHED_IO_MAX];
    uint64_t io_deadline_ms[SCHED_IO_MAX]; /* UINT64_MAX: none */
    unsigned nio;
    unsigned io_runs; /* runs since the last look at the descriptors */
    /* the local run queue: only this worker's thread touches it */
    rt_actor *lhead, *ltail;
    /* the inject stack: any thread pushes, the worker takes all at once */
    _Alignas(64) _Atomic(rt_actor *) inject;
    _Alignas(64) _Atomic uint32_t sleeping; /* parked (or about to): a waker writes wake_fd */
    _Alignas(64) _Atomic uint64_t runs, parks, wakeups, local_enqueues, remote_enqueues;
    _Atomic uint64_t io_events, deadlines;
} sched_worker;

typedef struct sched {
    unsigned nworkers; /* shared workers: workers[0 .. nworkers) */
    unsigned nalone;   /* dedicated workers: workers[nworkers .. nworkers + nalone) */
    sched_worker *workers;
    unsigned next; /* round-robin placement */
    unsigned next_alone;
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
/* Run a's I/O callbacks in its turn (on its worker, between runs). */
void rt_actor_sched_io(rt_actor *a, int fd, uint32_t events);
void rt_actor_sched_deadline(rt_actor *a);

/* nworkers shared workers (may be 0 when nalone > 0) and nalone dedicated ones. */
int sched_init(sched *s, unsigned nworkers, unsigned nalone);
/* The shared worker that will run the next actor placed (round-robin). */
sched_worker *sched_place(sched *s);
/* The next dedicated worker, for one actor; its thread is named after name. */
sched_worker *sched_place_alone(sched *s, const char *name);
/* Worker thread only. The slot of a's I/O registrations on w (taken on first use), or
 * -ENOSPC. */
int sched_io_slot(sched_worker *w, rt_actor *a);
/* Worker thread only: epoll_ctl on the worker's set for slot's actor. 0 or -errno. */
int sched_io_ctl(sched_worker *w, int slot, int op, int fd, uint32_t events);
/* Worker thread only: slot's deadline (rt_now_ms clock; UINT64_MAX: none). */
void sched_io_deadline(sched_worker *w, int slot, uint64_t at_ms);
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
