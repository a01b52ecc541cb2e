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

#define RT_MAX_ACTORS 64

struct rt_actor {
    rt_system *sys;
    uint32_t id; /* 1-based; 0 means "no actor" in rt_msg.sender */
    char name[32];
    rt_actor_spec spec;
    rt_mailbox mb;
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

typedef struct rt_timer_entry {
    uint64_t due_ms;
    uint64_t period_ms;
    uint64_t id;
    uint64_t tag;
    rt_actor *target;
} rt_timer_entry;

typedef struct rt_timers {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    rt_timer_entry *heap;
    size_t len, cap;
    uint64_t next_id;
    bool running, stopping;
    pthread_t thread;
} rt_timers;

struct rt_system {
    pthread_mutex_t lock;
    rt_actor *actors[RT_MAX_ACTORS];
    unsigned nactors;
    bool started;
    rt_timers timers;
    _Atomic int exit_code;
};

int rt_timers_init(rt_system *sys);
int rt_timers_start(rt_system *sys);
void rt_timers_stop(rt_system *sys);
void rt_timers_free(rt_system *sys);
/* Forgets every timer aimed at target (it stopped: no tick may queue up behind its exit). */
void rt_timers_drop_target(rt_system *sys, rt_actor *target);

#endif
