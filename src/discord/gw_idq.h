/*
 * gw_idq: IDENTIFY pacing for all shards of the process. Discord allows `max_concurrency`
 * identifies per 5 s, one per bucket `shard_id % max_concurrency`, and about 1000 session
 * starts per day; going over the daily budget resets the bot's token, so this is a
 * credential-safety feature, not an optimisation. The budget is the `session_start_limit`
 * from GET /gateway/bot, counted down locally and refilled when its reset_after passes.
 * Pure: the caller passes the clock and logs the refusals this returns.
 */
#ifndef FLUXBOT_GW_IDENTIFY_H
#define FLUXBOT_GW_IDENTIFY_H

#include <stdbool.h>
#include <stdint.h>

#define GW_IDQ_INTERVAL_MS 5000u
/* Added to the interval between two identifies of one bucket. The permit is taken when the
 * frame is queued, but Discord measures the spacing when the frames arrive: the first one may
 * have waited longer for the socket (writeable callback, TCP) than the second, and our clock is
 * read in whole milliseconds, so identifies spaced exactly 5000 ms here can arrive 4998 ms apart
 * and be answered INVALID_SESSION (a lost identify, a session start spent, and the
 * invalid-session wait). 300 ms is 6% of the interval: far above that jitter on a live
 * connection, and a cost only when many shards identify in a row. The shared pacing through
 * PostgreSQL (pg/pg_idgate.h) keeps at least this margin too. */
#define GW_IDQ_MARGIN_MS 300u
#define GW_IDQ_MAX_BUCKETS 1024u
#define GW_IDQ_DAY_MS (24u * 3600u * 1000u)

typedef enum gw_idq_verdict {
    GW_IDQ_GRANTED = 0,
    GW_IDQ_WAIT_BUCKET, /* the bucket identified less than interval_ms + margin ago */
    GW_IDQ_WAIT_BUDGET, /* the daily session budget is spent until reset_at */
} gw_idq_verdict;

typedef struct gw_idq {
    uint32_t max_concurrency;
    uint64_t interval_ms; /* the protocol's spacing per bucket (what Discord enforces) */
    uint64_t last[GW_IDQ_MAX_BUCKETS]; /* time of the bucket's last identify (ms) */
    bool used[GW_IDQ_MAX_BUCKETS];
    uint32_t total;
    uint32_t remaining;
    uint64_t reset_at; /* when `remaining` is refilled to `total` (ms, caller's clock) */
    uint64_t granted;
    uint64_t refused_budget;
} gw_idq;

/* max_concurrency is clamped into 1..GW_IDQ_MAX_BUCKETS; interval_ms 0 = 5000. Identifies of
 * one bucket are then granted interval_ms + GW_IDQ_MARGIN_MS apart. */
void gw_idq_init(gw_idq *q, uint32_t max_concurrency, uint64_t interval_ms, uint64_t now);

/* Installs a session_start_limit read from /gateway/bot at time now. */
void gw_idq_set_budget(gw_idq *q, uint32_t total, uint32_t remaining, uint64_t reset_after_ms,
                       uint64_t now);

/* Earliest time an identify of this shard could be granted (<= now when it could now). */
uint64_t gw_idq_ready_at(gw_idq *q, uint32_t shard_id, uint64_t now);

/* Tries to take the permit for one IDENTIFY of shard_id. On refusal *retry_at (may be NULL)
 * receives the earliest time to try again. */
gw_idq_verdict gw_idq_acquire(gw_idq *q, uint32_t shard_id, uint64_t now, uint64_t *retry_at);

#endif
