/*
 * gw_idq: identify pacing and daily budget (see gw_idq.h).
 */
#include "discord/gw_idq.h"

#include <string.h>

void gw_idq_init(gw_idq *q, uint32_t max_concurrency, uint64_t interval_ms, uint64_t now)
{
    memset(q, 0, sizeof *q);
    if (max_concurrency == 0) max_concurrency = 1;
    if (max_concurrency > GW_IDQ_MAX_BUCKETS) max_concurrency = GW_IDQ_MAX_BUCKETS;
    q->max_concurrency = max_concurrency;
    q->interval_ms = interval_ms ? interval_ms : GW_IDQ_INTERVAL_MS;
    /* Unknown budget until /gateway/bot said otherwise: Discord's default day. */
    q->total = 1000;
    q->remaining = 1000;
    q->reset_at = now + GW_IDQ_DAY_MS;
}

void gw_idq_set_budget(gw_idq *q, uint32_t total, uint32_t remaining, uint64_t reset_after_ms,
                       uint64_t now)
{
    q->total = total;
    q->remaining = remaining > total ? total : remaining;
    q->reset_at = now + reset_after_ms;
}

static void refill(gw_idq *q, uint64_t now)
{
    if (now >= q->reset_at) {
        q->remaining = q->total;
        q->reset_at = now + GW_IDQ_DAY_MS;
    }
}

/* The spacing granted: the protocol's interval plus the margin (see GW_IDQ_MARGIN_MS). */
static uint64_t spacing(const gw_idq *q)
{
    return q->interval_ms + GW_IDQ_MARGIN_MS;
}

static uint32_t bucket_of(const gw_idq *q, uint32_t shard_id)
{
    return shard_id % q->max_concurrency;
}

uint64_t gw_idq_ready_at(gw_idq *q, uint32_t shard_id, uint64_t now)
{
    refill(q, now);
    uint64_t at = now;
    if (q->remaining == 0) at = q->reset_at;
    uint32_t b = bucket_of(q, shard_id);
    if (q->used[b] && q->last[b] + spacing(q) > at) at = q->last[b] + spacing(q);
    return at;
}

gw_idq_verdict gw_idq_acquire(gw_idq *q, uint32_t shard_id, uint64_t now, uint64_t *retry_at)
{
    refill(q, now);
    if (q->remaining == 0) {
        q->refused_budget++;
        if (retry_at) *retry_at = q->reset_at;
        return GW_IDQ_WAIT_BUDGET;
    }
    uint32_t b = bucket_of(q, shard_id);
    if (q->used[b] && q->last[b] + spacing(q) > now) {
        if (retry_at) *retry_at = q->last[b] + spacing(q);
        return GW_IDQ_WAIT_BUCKET;
    }
    q->used[b] = true;
    q->last[b] = now;
    q->remaining--;
    q->granted++;
    if (retry_at) *retry_at = now;
    return GW_IDQ_GRANTED;
}
