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
};

struct rt_system {
    pthread_mutex_t lock;
    rt_actor *actors[RT_MAX_ACTORS];
    unsigned nactors;
    bool started;
    rt_timers timers;
    _Atomic int exit_code;
};

#endif
