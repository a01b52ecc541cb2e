/*
 * Mailbox: the set of single-producer lanes an actor receives on, plus its parking state.
 *
 * Invariants (the reasons the code is shaped as it is, and what breaks without them):
 *  - Lane i is written only by the thread holding thread slot i, so ck's SPSC enqueue is
 *    enough and a preempted producer can never stall another producer. Two producers on one
 *    lane race on the ring's head: a message is overwritten (lost) or taken twice (double
 *    free). Asserted in debug builds (FB_OWNER_ENTER on the lane's `producer`).
 *  - A single-consumer mailbox is popped by one thread at a time (SPSC dequeue, plain store of
 *    `taken`); a second concurrent consumer takes the same message twice. Asserted likewise
 *    (`consumer`). Pools of threads use a multi-consumer mailbox (SPMC dequeue).
 *  - A lane's overflow (spill) list is appended to only by the lane's producer, and only while
 *    it is non-empty or the ring is full; so every ring entry is older than every spill entry,
 *    and taking "ring first, then spill" keeps per-producer order. Appending to the spill
 *    while the ring has room would deliver that producer's messages out of order.
 *  - Wake-ups follow a Dekker pattern: a producer publishes, then (barrier) reads `sleepers`;
 *    a consumer increments `sleepers`, then (barrier) re-checks the lanes before sleeping on
 *    `epoch`. One of them always sees the other, so no wake-up is lost. The barrier pair is a
 *    fence on each side, or, per mailbox (`asym`, mailbox.c says which), membarrier on the
 *    parking side and a compiler barrier on the send side. Dropping either barrier, or pairing
 *    a compiler barrier with a fence, lets a message sit in a lane while its consumer sleeps.
 */
#ifndef FLUXBOT_RT_MAILBOX_H
#define FLUXBOT_RT_MAILBOX_H

#include <ck_ring.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "fluxbot/runtime.h"
#include "util/util_assert.h"

#define MAILBOX_MAX_LANES 512 /* distinct threads that may send at once (slots are recycled) */

/* Fields are grouped by writer so the producer and the consumer never write the same cache
 * line on the hot path (false sharing cost more than the ring hop itself). */
typedef struct mailbox_lane {
    ck_ring_t ring; /* ck pads its consumer and producer indices onto separate lines */
    _Alignas(64) ck_ring_buffer_t *buf; /* read-only after creation */
    /* written by the producer */
    _Alignas(64) _Atomic uint64_t sent;
    _Atomic uint64_t spill_count;
    pthread_mutex_t spill_lock;
    rt_msg *spill_head, *spill_tail;
#ifdef FB_DEBUG
    util_owner producer; /* the one thread inside mailbox_push on this lane */
#endif
    /* written by the consumer(s) */
    _Alignas(64) _Atomic uint64_t taken;
} mailbox_lane;

typedef struct mailbox {
    /* read-mostly: every send reads these */
    _Atomic(mailbox_lane *) lanes[MAILBOX_MAX_LANES];
    _Atomic unsigned nlanes; /* 1 + highest slot that has a lane */
    unsigned lane_capacity;
    unsigned lazy_wake_depth; /* lane depth at which a lazy send wakes (< lane_capacity) */
    bool multi_consumer;
    bool asym;       /* the parking barrier is membarrier, the senders' a compiler barrier */
    rt_wake_fn wake; /* loop actors */
    void *wake_ctx;
    _Atomic bool closed;

    /* parking: written only when a consumer parks or a wake is issued, read by every send */
    _Alignas(64) _Atomic uint32_t epoch; /* futex word: bumped by every wake */
    _Atomic uint32_t sleepers;
    _Atomic uint32_t wake_pending; /* single consumer: a wake is already on its way */
    _Atomic uint32_t armed;

    /* scheduled actors (sched.h): set before the system starts, read by every send */
    void *home;              /* the worker that runs the actor, or NULL */
    void (*enqueue)(void *); /* puts the actor on its worker's queue (sched_enqueue) */
    void *enqueue_ctx;
    _Atomic uint32_t sstate; /* 0 idle, 1 queued or running (sched.h) */

    /* written by the consumer on every pop */
    _Alignas(64) _Atomic unsigned cursor; /* lane the consumer looks at first */
    _Atomic unsigned burst;               /* messages taken from that lane in a row */

    _Alignas(64) _Atomic uint64_t spills, full, parks, wakeups, depth_hwm;
#ifdef FB_DEBUG
    util_owner consumer; /* single consumer: the one thread inside mailbox_pop */
#endif
} mailbox;

int mailbox_init(mailbox *mb, unsigned lane_capacity, bool multi_consumer, rt_wake_fn wake,
                 void *wake_ctx);
/* Frees the lanes and every message still queued; returns how many were discarded. */
size_t mailbox_destroy(mailbox *mb);

/* 0, -RT_EFULL (only when !spill), -RT_ESTOPPED. Wakes the consumer when needed. */
/* lazy: no wake-up unless the lane holds lazy_wake_depth messages or spills (rt_send_lazy). */
int mailbox_push(mailbox *mb, rt_msg *m, bool spill, bool lazy);
/* Next message or NULL. */
rt_msg *mailbox_pop(mailbox *mb);
bool mailbox_has_work(mailbox *mb);
size_t mailbox_depth(mailbox *mb);
uint64_t mailbox_received(mailbox *mb);

/* Parked consumers: sleep until woken, unless keep_awake() says otherwise after registering as
 * a sleeper (the caller's own stop/hold conditions). */
void mailbox_park(mailbox *mb, bool (*keep_awake)(void *ctx), void *ctx);
/* Loop consumers: arm the wake hook; returns true when work is already queued (do not sleep). */
bool mailbox_arm(mailbox *mb);
/* Wakes every sleeper and fires the wake hook (stop requests, releases). */
void mailbox_wake_all(mailbox *mb);

/* Scheduled actors: the worker the calling thread is (sched.c sets it on its threads). A send
 * from a receiver's own worker needs no barrier and wakes no one. */
void mailbox_set_home(void *home);
/* True when the calling thread is the worker that runs this mailbox's actor. */
bool mailbox_is_home(const mailbox *mb);
/* Scheduled actors: moves an idle actor to QUEUED and enqueues it (sends, stops, releases). */
void mailbox_kick(mailbox *mb);

/* True when this mailbox's parking uses membarrier (its senders then need no fence). */
bool mailbox_uses_membarrier(const mailbox *mb);
/* Fences on both sides (scheduled actors: rt_actor_schedule, before any send). */
void mailbox_set_fences(mailbox *mb);

/* This thread's slot (allocated on first use, released at thread exit). */
int mailbox_thread_slot(void);

#endif
