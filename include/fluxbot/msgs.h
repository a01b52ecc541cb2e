/*
 * fluxbot messages: the common header every message starts with, and pooled allocation.
 *
 * A message is a struct whose first member is `rt_msg hdr`. It is allocated with rt_msg_new
 * (from a size-class pool, not malloc, on the hot path), filled by the sender, and sent; the
 * receiver owns it and releases it with rt_msg_free, which first runs the message's destructor
 * (freeing heap fields the message owns), then returns the memory to its pool.
 *
 * Message type numbers are partitioned by module so modules can add types independently:
 *   0..99     runtime            (this header)
 *   100..199  discord            (src/msgs/rest.h)
 *   200..299  analytics          (src/msgs/an.h)
 *   300..399  comfy / jobs       (src/msgs/comfy.h)
 *   400..499  stats reporter     (src/msgs/stats.h)
 *   500..599  router / app       (reserved; no message of this range exists yet)
 *   900..999  tests and benchmarks
 */
#ifndef FLUXBOT_MSGS_H
#define FLUXBOT_MSGS_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct rt_msg rt_msg;
typedef void (*rt_msg_dtor)(rt_msg *m);

struct rt_msg {
    rt_msg *rt_link;    /* runtime-internal (pool and spill links); writing it corrupts them */
    uint16_t type;      /* one of the partitioned type numbers */
    uint8_t size_class; /* runtime-internal */
    uint8_t flags;      /* free for the message kind's own use */
    uint32_t sender;    /* id of the sending actor, 0 for a thread that is no actor */
    uint64_t enq_ns;    /* runtime-internal: sampled send time for mailbox latency (0 for
                           most messages); keep your own timestamps for end-to-end latency */
    rt_msg_dtor dtor;   /* frees owned fields; NULL when the message owns none */
};

enum {
    RT_MSG_TIMER = 1, /* rt_timer_msg */
    RT_MSG_PING = 2,  /* bare rt_msg, for tests, benchmarks and liveness checks */
};

typedef struct rt_timer_msg {
    rt_msg hdr;
    uint64_t timer_id;
    uint64_t tag;
    uint64_t due_ms; /* monotonic ms when it was due */
} rt_timer_msg;

/* Allocates a zeroed message of `size` bytes (>= sizeof(rt_msg)) with the given type and
 * destructor. Aborts the process on out-of-memory (there is no sane recovery mid-message). */
rt_msg *rt_msg_new(uint16_t type, size_t size, rt_msg_dtor dtor);
/* Runs the destructor and returns the message to its pool. NULL is ignored. */
void rt_msg_free(rt_msg *m);

/* Convenience for typed messages: T *p = RT_MSG_NEW(T, TYPE, dtor). */
#define RT_MSG_NEW(T, type, dtor) ((T *)rt_msg_new((type), sizeof(T), (dtor)))

/* Pool statistics (allocations served from the pool vs. from malloc), for the benchmark. */
typedef struct rt_msg_pool_stats {
    uint64_t pool_hits; /* counted a magazine (64 messages) at a time */
    uint64_t pool_misses;
    uint64_t oversize; /* larger than the biggest size class: plain malloc/free */
} rt_msg_pool_stats;
void rt_msg_pool_stats_get(rt_msg_pool_stats *out);

#ifdef __cplusplus
}
#endif
#endif
