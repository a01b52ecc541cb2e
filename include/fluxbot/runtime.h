/*
 * fluxbot runtime: actors, mailboxes, parking, timers, lifecycle and metrics.
 *
 * An actor is state + a mailbox + a behaviour + one or more threads. Actors talk only by
 * sending messages (rt_msg, see msgs.h) into each other's mailboxes. A mailbox is a set of
 * single-producer lanes (bounded ck rings), one per sending thread, drained round-robin by the
 * actor's thread(s), so sending is wait-free and one preempted producer never stalls another.
 *
 * Two kinds of actor:
 *  - parked actors: the runtime runs the loop. It calls on_message for each message and
 *    on_idle when the mailbox is empty; idle threads spin briefly, yield, then sleep on a futex.
 *  - loop actors: the actor brings its own thread body (an lws or curl-multi event loop). The
 *    runtime gives it a wake hook, called from a sender's thread when a message arrives while
 *    the loop is armed; the loop drains with rt_actor_drain().
 * A parked actor runs either on threads of its own (spec.threads of them) or, once placed with
 * rt_actor_schedule, on one of the system's scheduler workers (M:N, runtime/sched.h): a small
 * pool of threads that run many actors, each at most one batch of messages at a time, so that a
 * message between two actors on one worker wakes nobody. The behaviour (rt_actor_ops) is the
 * same either way; only actors that never block for long belong on a worker, because while one
 * runs, the other actors of its worker wait.
 *
 * Ownership: a message pointer passed to rt_send* belongs to the receiver once the call
 * succeeds (returns 0); on failure it still belongs to the caller. Touching a sent message is
 * a data race with its receiver (which may already have freed it into a pool another thread
 * reuses); not freeing a refused one leaks it.
 *
 * Debug builds assert the mailbox's thread rules (mailbox.h, util_assert.h).
 */
#ifndef FLUXBOT_RUNTIME_H
#define FLUXBOT_RUNTIME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fluxbot/msgs.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct rt_actor rt_actor;
typedef struct rt_system rt_system;

/* Error codes returned (negated) by the send functions. */
enum {
    RT_OK = 0,
    RT_EFULL = 1,     /* lane full (rt_send only) */
    RT_ETIMEDOUT = 2, /* rt_send_wait deadline passed */
    RT_ESTOPPED = 3,  /* the target actor has stopped and accepts nothing */
};

/* Behaviour of a parked actor. Every callback runs on one of the actor's threads.
 * state is the pointer given in rt_actor_spec.state (shared by all threads of a pool). */
typedef struct rt_actor_ops {
    /* Once per thread before the first message; nonzero aborts the start. */
    int (*on_thread_start)(rt_actor *self, void *state, unsigned thread_index);
    /* Takes ownership of m (free it with rt_msg_free unless forwarded). */
    void (*on_message)(rt_actor *self, void *state, rt_msg *m);
    /* Called when the mailbox became empty after processing at least one message (batch end). */
    void (*on_idle)(rt_actor *self, void *state);
    /* Called once (on one thread) when a stop was requested; the mailbox is still drained after. */
    void (*on_stop_requested)(rt_actor *self, void *state);
    /* Once per thread after the loop ended. */
    void (*on_thread_exit)(rt_actor *self, void *state, unsigned thread_index);
    /* I/O actors (below, "I/O on a scheduler worker"): a descriptor registered with rt_io_ctl
     * is ready; events are RT_IO_* bits. */
    void (*on_io)(rt_actor *self, void *state, int fd, uint32_t events);
    /* I/O actors: the deadline set with rt_io_deadline is due (it was cleared first). */
    void (*on_deadline)(rt_actor *self, void *state);
} rt_actor_ops;

/* The thread body of a loop actor. It must call rt_actor_drain() whenever its wake hook fired
 * (and may call it any time), and return when rt_actor_should_exit() is true: a loop that
 * does not drain after a wake leaves messages queued until some later event (the hook fires
 * once per arming), and one that does not return blocks rt_system_stop forever. */
typedef void (*rt_loop_fn)(rt_actor *self, void *state, unsigned thread_index);
/* Called on a sender's thread; must be async-safe with respect to the loop (lws_cancel_service,
 * curl_multi_wakeup, eventfd write): it runs concurrently with the loop, so anything else races
 * with the loop's own state. */
typedef void (*rt_wake_fn)(void *wake_ctx);

typedef struct rt_actor_spec {
    const char *name;       /* short, used in logs and metrics ("router", "comfy") */
    unsigned threads;       /* >= 1; a pool shares one mailbox */
    unsigned lane_capacity; /* per-sender ring slots, rounded up to a power of two */
    void *state;
    rt_actor_ops ops; /* parked actors */
    rt_loop_fn loop;  /* loop actors: non-NULL selects this kind */
    rt_wake_fn wake;  /* loop actors: how to wake the loop */
    void *wake_ctx;
    /* Spin budget before parking, in nanoseconds (0 = default 20 us). */
    uint64_t spin_ns;
    /* rt_send_lazy wakes this actor once a sender's lane holds this many messages (0 = half
     * the lane). */
    unsigned lazy_wake_depth;
} rt_actor_spec;

/* ---- system and lifecycle ---------------------------------------------------------------- */

rt_system *rt_system_new(void);
/* Creates an actor in the system; actors start in the order they were added. NULL on error. */
rt_actor *rt_actor_new(rt_system *sys, const rt_actor_spec *spec);
/* Starts every actor in order (threads created). 0 or -errno. */
int rt_system_start(rt_system *sys);
/* Stops in reverse start order: each actor gets on_stop_requested, drains its mailbox, its
 * threads exit, then the next (earlier-started) actor is asked. Returns when all have exited. */
void rt_system_stop(rt_system *sys);
/* The scheduler's worker count (before rt_system_start; default 1, at most 64). Workers exist
 * only when at least one actor is scheduled. 0 or -EINVAL. */
int rt_system_set_workers(rt_system *sys, unsigned n);
/* Places a parked actor on the scheduler instead of threads of its own (before
 * rt_system_start). Scheduled actors are pinned round-robin to the workers in creation order
 * and run one batch at a time; on_thread_start/on_thread_exit run once, on that worker, with
 * index 0. 0, or -EINVAL for a loop actor or a started system. */
int rt_actor_schedule(rt_actor *a);
bool rt_actor_is_scheduled(const rt_actor *a);
/* True for an actor with I/O callbacks (ops.on_io or ops.on_deadline): it always runs on a
 * scheduler worker, a shared one when placed with rt_actor_schedule, else a worker of its own
 * (a thread named after it, like an actor on a thread of its own). */
bool rt_actor_is_io(const rt_actor *a);
/* Parks this actor with fences instead of membarrier (before rt_system_start). Actors on
 * threads of their own park with membarrier by default, which pays under floods and costs an
 * inter-processor interrupt per park; an actor that parks after most messages (one on the
 * interaction path at ordinary rates) is cheaper with fences. Scheduled and loop actors always
 * use fences. 0, or -EINVAL after the start. */
int rt_actor_use_fences(rt_actor *a);
/* Stops (if running) and frees every actor and the system. */
void rt_system_free(rt_system *sys);
/* Installs SIGINT/SIGTERM handling: the first signal makes rt_system_wait_signal return,
 * a second one exits the process at once with status 130. Call before starting threads. */
void rt_signals_install(void);
/* Blocks until a stop signal arrived or rt_system_request_exit was called, or timeout_ms passed
 * (timeout_ms < 0 waits forever). Returns true when a stop was requested. */
bool rt_system_wait_signal(rt_system *sys, int64_t timeout_ms);
/* Any thread: asks rt_system_wait_signal to return (used by actors on a fatal error). */
void rt_system_request_exit(rt_system *sys, int exit_code);
int rt_system_exit_code(const rt_system *sys);

/* Looks an actor up by name (NULL if none). */
rt_actor *rt_system_find(rt_system *sys, const char *name);
const char *rt_actor_name(const rt_actor *a);
rt_system *rt_actor_system(rt_actor *a);
void *rt_actor_state(rt_actor *a);

/* ---- sending -------------------------------------------------------------------------- */

/* Wait-free: 0, or -RT_EFULL when this thread's lane is full, -RT_ESTOPPED after exit. */
int rt_send(rt_actor *to, rt_msg *m);
/* Control messages: waits (yielding, then sleeping in short steps) up to timeout_ms for room.
 * 0, -RT_ETIMEDOUT or -RT_ESTOPPED. To a receiver on the caller's own scheduler worker it
 * spills instead of waiting (the receiver cannot run until the caller returns). Never use on a
 * generation path with a long timeout: the sending thread stalls, and every message it would send
 * next waits behind it. */
int rt_send_wait(rt_actor *to, rt_msg *m, int64_t timeout_ms);
/* Event streams: never fails while the actor runs; when the lane is full the message goes to
 * the lane's overflow list (counted as a spill), keeping per-sender order. 0 or -RT_ESTOPPED. */
int rt_send_spill(rt_actor *to, rt_msg *m);
/* Like rt_send_spill, but a parked receiver is not woken for it unless this thread's lane holds
 * the receiver's lazy_wake_depth messages (rt_actor_spec) or is overflowing: the message waits
 * until the receiver wakes for another reason. Only for receivers that wake on their own at a
 * bounded interval (a periodic timer) and for messages that may wait that long (the analytics
 * events, committed in batches anyway). Saves the receiver a wake-up and a context switch per
 * message. */
int rt_send_lazy(rt_actor *to, rt_msg *m);

/* ---- inside an actor ------------------------------------------------------------------ */

typedef void (*rt_handler_fn)(rt_actor *self, void *state, rt_msg *m);
/* Loop actors: processes up to max messages (0 = until empty) with handler; returns the count.
 * Re-arms the wake hook when the mailbox is found empty. */
size_t rt_actor_drain(rt_actor *self, rt_handler_fn handler, size_t max);
/* True once a stop was requested for this actor. */
bool rt_actor_stop_requested(const rt_actor *self);
/* Loop actors: true when the stop was requested and the mailbox is empty, i.e. time to return.
 * Parked actors never need it. */
bool rt_actor_should_exit(rt_actor *self);
/* Holds the actor's exit until rt_actor_release: use for in-flight work that must finish after
 * a stop request (a job being generated, a batch not yet committed). Counted, any thread.
 * Every hold needs its release: a missing one keeps the actor, and so the stop, waiting. */
void rt_actor_hold(rt_actor *self);
void rt_actor_release(rt_actor *self);
/* Number of messages currently queued (approximate; any thread). */
size_t rt_actor_depth(rt_actor *a);

/* ---- I/O on a scheduler worker ----------------------------------------------------------- */

/* An actor that runs on a scheduler worker (scheduled, or an I/O actor on a worker of its own)
 * may have the worker watch file descriptors and one deadline for it, instead of running an
 * event loop of its own: the worker sleeps in one epoll_wait over its wake-up eventfd, every
 * descriptor its actors registered and the earliest of their deadlines, so a message from
 * another actor of the worker, a socket turning readable and a timer all wake (at most) that
 * one thread. ops.on_io and ops.on_deadline run on the worker in the actor's turn: never while
 * the actor runs elsewhere, never beside its on_message, one thread at a time.
 *
 * These calls belong to the actor's own callbacks (on_thread_start through on_thread_exit,
 * on_io, on_deadline, and anything they call): from any other thread they fail with -EINVAL,
 * since the worker's registrations are its own thread's state. An actor must take its
 * descriptors out (RT_IO_DEL) before it closes them or exits; one it forgets is taken out
 * the first time it turns ready after the exit. At most 16 actors of one worker register. */
enum {
    RT_IO_IN = 0x001, /* readable (EPOLLIN: the values are epoll's) */
    RT_IO_OUT = 0x004,
    RT_IO_ERR = 0x008, /* reported whether asked or not */
    RT_IO_HUP = 0x010, /* reported whether asked or not */
};
enum { RT_IO_ADD = 1, RT_IO_DEL = 2, RT_IO_MOD = 3 }; /* epoll_ctl's operations */
/* Adds, changes or removes a level-triggered watch of fd for events (RT_IO_IN | RT_IO_OUT).
 * 0 or -errno (epoll_ctl's: -EEXIST on an ADD of a watched fd, -ENOENT on a MOD or DEL of
 * an unwatched one), -EINVAL off the actor's worker, -ENOSPC past 16 actors. */
int rt_io_ctl(rt_actor *self, int op, int fd, uint32_t events);
/* The actor's one deadline, on the rt_now_ms clock (UINT64_MAX: none): on_deadline runs once
 * it is due (millisecond resolution). Setting it replaces the previous one and costs no
 * system call. 0 or -EINVAL / -ENOSPC as rt_io_ctl. */
int rt_io_deadline(rt_actor *self, uint64_t at_ms);

/* ---- timers ------------------------------------------------------------------------------ */

/* One timer service thread per system delivers RT_MSG_TIMER messages (rt_timer_msg) into the
 * target's mailbox after delay_ms, then every period_ms if nonzero. Returns an id (> 0). */
uint64_t rt_timer_start(rt_actor *target, uint64_t delay_ms, uint64_t period_ms, uint64_t tag);
/* Cancels a timer; a tick already queued may still arrive (check the id). */
void rt_timer_cancel(rt_system *sys, uint64_t timer_id);

/* ---- clocks ------------------------------------------------------------------------------ */

uint64_t rt_now_ns(void);  /* CLOCK_MONOTONIC */
uint64_t rt_now_ms(void);  /* CLOCK_MONOTONIC */
uint64_t rt_wall_ms(void); /* CLOCK_REALTIME, Unix epoch milliseconds, UTC */

/* ---- metrics ----------------------------------------------------------------------------- */

typedef struct rt_metrics {
    uint64_t received;        /* messages accepted into the mailbox (ring or spill) */
    uint64_t processed;       /* messages handed to the behaviour */
    uint64_t depth;           /* current queue depth (approximate) */
    uint64_t depth_hwm;       /* highest depth seen */
    uint64_t spills;          /* messages that went to an overflow list */
    uint64_t full;            /* rt_send / rt_send_wait attempts that found a lane full */
    uint64_t parks;           /* times a thread went to sleep on the futex */
    uint64_t wakeups;         /* futex wakes / wake-hook calls issued by senders */
    uint64_t busy_ns;         /* time spent inside the behaviour */
    uint64_t latency_ns;      /* sum of sampled enqueue → dequeue latencies */
    uint64_t latency_samples; /* 1 in 64 messages is timed: mean = latency_ns / samples */
} rt_metrics;

/* Snapshot of one actor's counters; safe from any thread. */
void rt_actor_metrics(const rt_actor *a, rt_metrics *out);
/* The scheduler's counters, summed over its workers, the dedicated ones of I/O actors
 * included (`workers` counts the shared ones; all zero without actors on workers). */
typedef struct rt_sched_metrics {
    uint64_t workers;
    uint64_t runs;            /* batches run (an actor taken from a queue and run once) */
    uint64_t parks;           /* times a worker went to sleep (all its actors idle) */
    uint64_t wakeups;         /* eventfd wakes of a parked worker (at most one per park) */
    uint64_t local_enqueues;  /* actors made runnable by a message from their own worker */
    uint64_t remote_enqueues; /* ... by any other thread (gateway, runners, timers) */
    uint64_t io_events;       /* ready descriptors handed to their actors' on_io */
    uint64_t deadlines;       /* due deadlines handed to on_deadline */
} rt_sched_metrics;
void rt_system_sched_metrics(rt_system *sys, rt_sched_metrics *out);

/* Calls fn for every actor of the system, in start order. */
void rt_system_foreach(rt_system *sys, void (*fn)(rt_actor *a, void *ctx), void *ctx);

#ifdef __cplusplus
}
#endif
#endif
