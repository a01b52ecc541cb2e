/*
 * The timer service: one thread keeps a min-heap of deadlines and, when one is due, hands an
 * RT_MSG_TIMER message (rt_timer_msg) to the deliver function it was built with. It knows
 * nothing of actors: a target is an opaque pointer, and actor.c, which owns one rt_timers per
 * system, passes rt_send_spill as deliver and wraps these calls as rt_timer_start /
 * rt_timer_cancel. So the dependency runs one way, actor.c -> timer.c.
 *
 * Thread safety: rt_timers_add, _cancel and _drop_target may be called from any thread (the
 * heap is under the service's mutex); _init/_start/_stop/_free belong to the system's owner.
 */
#ifndef FLUXBOT_RT_TIMER_H
#define FLUXBOT_RT_TIMER_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fluxbot/msgs.h"

/* Queues m for target; nonzero when the target no longer takes messages (m stays the
 * caller's). Called on the timer thread, without the service's lock held. */
typedef int (*rt_timer_deliver)(void *target, rt_msg *m);

typedef struct rt_timer_entry {
    uint64_t due_ms;
    uint64_t period_ms;
    uint64_t id;
    uint64_t tag;
    void *target;
} rt_timer_entry;

typedef struct rt_timers {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    rt_timer_entry *heap;
    size_t len, cap;
    uint64_t next_id;
    bool running, stopping;
    pthread_t thread;
    rt_timer_deliver deliver;
} rt_timers;

int rt_timers_init(rt_timers *t, rt_timer_deliver deliver);
int rt_timers_start(rt_timers *t);
void rt_timers_stop(rt_timers *t);
void rt_timers_free(rt_timers *t);
/* After delay_ms, then every period_ms if nonzero. Returns the timer's id (> 0). */
uint64_t rt_timers_add(rt_timers *t, void *target, uint64_t delay_ms, uint64_t period_ms,
                       uint64_t tag);
/* A tick already handed to deliver may still arrive (check the id). */
void rt_timers_cancel(rt_timers *t, uint64_t timer_id);
/* Forgets every timer aimed at target (it stopped: no tick may queue up behind its exit). */
void rt_timers_drop_target(rt_timers *t, const void *target);

#endif
