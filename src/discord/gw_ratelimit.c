/*
 * gw_ratelimit: sliding-window log limiter (see gw_ratelimit.h).
 */
#include "discord/gw_ratelimit.h"

#include <string.h>

unsigned gw_rl_permits_for_interval(uint64_t heartbeat_interval_ms)
{
    if (heartbeat_interval_ms == 0) return GW_RL_MIN_PERMITS;
    uint64_t beats = (GW_RL_PERIOD_MS + heartbeat_interval_ms - 1) / heartbeat_interval_ms + 1;
    if (beats >= GW_RL_EVENTS - GW_RL_MIN_PERMITS) return GW_RL_MIN_PERMITS;
    return GW_RL_EVENTS - (unsigned)beats;
}

void gw_rl_init(gw_ratelimit *rl, uint64_t heartbeat_interval_ms)
{
    memset(rl, 0, sizeof *rl);
    rl->permits = gw_rl_permits_for_interval(heartbeat_interval_ms);
}

/* Forgets stamps that left the window. */
static void expire(gw_ratelimit *rl, uint64_t now)
{
    while (rl->count > 0 && rl->stamps[rl->head] + GW_RL_PERIOD_MS <= now) {
        rl->head = (rl->head + 1) % GW_RL_EVENTS;
        rl->count--;
    }
}

unsigned gw_rl_available(const gw_ratelimit *rl, uint64_t now)
{
    unsigned live = 0;
    for (unsigned i = 0; i < rl->count; i++)
        if (rl->stamps[(rl->head + i) % GW_RL_EVENTS] + GW_RL_PERIOD_MS > now) live++;
    return live >= rl->permits ? 0 : rl->permits - live;
}

bool gw_rl_acquire(gw_ratelimit *rl, uint64_t now, uint64_t *ready_at)
{
    expire(rl, now);
    if (rl->count >= rl->permits) {
        if (ready_at) *ready_at = rl->stamps[rl->head] + GW_RL_PERIOD_MS;
        return false;
    }
    rl->stamps[(rl->head + rl->count) % GW_RL_EVENTS] = now;
    rl->count++;
    if (ready_at) *ready_at = now;
    return true;
}
