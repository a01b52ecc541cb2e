/*
 * Private layout of actors and the system, shared by the runtime's own files only.
 */
#ifndef FLUXBOT_RT_ACTOR_INTERNAL_H
#define FLUXBOT_RT_ACTOR_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>

#include "fluxbot/runtime.h"
#include "runtime/mailbox.h"
#include "runtime/sched.h"
#include "runtime/timer.h"

#define RT_MAX_ACTORS 64

struct rt_actor {
    rt_system *sys;
    uint32_t id; /* 1-based; 0 means "no actor" in rt_msg.sender */
    char name[32];
    rt_actor_spec spec;
    mailbox mb;
    unsigned nthreads, started_threads;
    pthread_t *threads;
    uint64_t spin_ns;

    pthread_mutex_t start_lock;
    pthread_cond_t start_cond;
    unsigned threads_ready;
    bool start_failed;
    bool running;

    _Atomic bool stop_requested;
    _Atomic bool stop_notified;
    _Atomic int holds;

    _Atomic uint64_t processed, busy_ns, latency_ns, latency_samples;

    /* scheduled actors (sched.h): placed by rt_actor_schedule, pinned to `worker` at start */
    bool scheduled;
    sched_worker *worker;
    rt_actor *sched_link;         /* the run queue or inject stack it is in (only while QUEUED) */
    _Atomic bool start_requested; /* rt_system_start reached it: it may run */
    bool sched_started;           /* on_thread_start ran (worker only) */
    bool had_work;                /* on_idle is due when the mailbox runs dry (worker only) */
    bool exited;                  /* under start_lock */
    bool io;                      /* ops.on_io / on_deadline: always on a worker (runtime.h) */
    bool alone;                   /* an I/O actor on a dedicated worker (not rt_actor_schedule) */
    int io_slot;                  /* its slot on its worker (sched_io_slot), -1 before the first */
#ifdef FB_DEBUG
    util_owner run_owner; /* the one thread running the actor's behaviour at a time */
#endif
};

struct rt_system {
    pthread_mutex_t lock;
    rt_actor *actors[RT_MAX_ACTORS];
    unsigned nactors;
    bool started;
    rt_timers timers;
    _Atomic int exit_code;
    unsigned nworkers; /* rt_system_set_workers; 0 = default */
    unsigned nscheduled;
    sched sched;
};

#endif
