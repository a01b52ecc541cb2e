/*
 * gw_ratelimit: the outbound limit of one gateway connection. Discord allows 120 events per
 * 60 s per connection, heartbeats included, and closes with 4008 beyond it. Like twilight's
 * CommandRatelimiter, heartbeats bypass the limiter and a share of the window is reserved for
 * them: permits = 120 - (ceil(60 s / heartbeat_interval) + 1), but never fewer than 110 (a
 * faulty gateway announcing a tiny interval must not starve commands). The window is a
 * sliding log of the last `permits` send times. Pure: the caller passes the clock.
 */
#ifndef FLUXBOT_GW_RATELIMIT_H
#define FLUXBOT_GW_RATELIMIT_H

#include <stdbool.h>
#include <stdint.h>

#define GW_RL_PERIOD_MS 60000u
#define GW_RL_EVENTS 120u
#define GW_RL_MIN_PERMITS 110u

typedef struct gw_ratelimit {
    uint64_t stamps[GW_RL_EVENTS]; /* ring of send times (ms) of the last `permits` commands */
    unsigned head;                 /* index of the oldest stamp */
    unsigned count;
    unsigned permits; /* non-heartbeat commands allowed per period */
} gw_ratelimit;

/* Commands allowed per period for a heartbeat interval (0 = unknown yet: the minimum). */
unsigned gw_rl_permits_for_interval(uint64_t heartbeat_interval_ms);

/* Resets the window (new connection) with the permits for this interval. */
void gw_rl_init(gw_ratelimit *rl, uint64_t heartbeat_interval_ms);

/* Takes one permit at time now (ms). false when none is free; *ready_at (may be NULL) then
 * receives the earliest time one will be. */
bool gw_rl_acquire(gw_ratelimit *rl, uint64_t now, uint64_t *ready_at);

/* Permits free at time now. */
unsigned gw_rl_available(const gw_ratelimit *rl, uint64_t now);

#endif
