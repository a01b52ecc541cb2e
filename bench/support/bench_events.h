/*
 * The synthetic analytics events the analytics benchmarks feed (bench_analytics into SQLite,
 * bench_pg_ingest into PostgreSQL): one mix and one generator, so both engines are measured on
 * the same stream. Pure; the caller owns the random state.
 */
#ifndef FLUXBOT_BENCH_EVENTS_H
#define FLUXBOT_BENCH_EVENTS_H

#include <stdint.h>

#include "analytics/an_event.h"

#define BENCH_EVENTS_NCMDS 7
#define BENCH_EVENTS_NRES 7

extern const char *const bench_events_cmds[BENCH_EVENTS_NCMDS];
extern const char *const bench_events_res[BENCH_EVENTS_NRES];

/* xorshift64*: the next pseudo-random number of *state (never 0). */
uint64_t bench_events_rnd(uint64_t *state);

/* One event: 40% commands, 40% generations (1 in 8 a video), 20% activity. */
void bench_events_make(an_event *e, uint64_t *rng, uint64_t seq, int64_t ts);

#endif
