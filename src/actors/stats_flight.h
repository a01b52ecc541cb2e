/*
 * Shared /stats computations: when several reporter threads get the same query (same window
 * length, asked while the first is being computed), one computes and the others wait for its
 * answer instead of reading the database again. Under a burst of identical /stats the work is
 * one computation per burst, not one per query.
 *
 * The shared answer is the leader's: its window ends when the leader started, at most one
 * computation earlier than a follower's own "now" (milliseconds), and it is exact for that
 * window. Queries that name their own end time (now_ms != 0, tests) only share with queries
 * naming the same one.
 *
 * Thread-safe (a mutex and a condition variable); used by the stats_reporter actor's threads.
 */
#ifndef FLUXBOT_STATS_FLIGHT_H
#define FLUXBOT_STATS_FLIGHT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "analytics/an_stats.h"

typedef struct stats_flight stats_flight;

/* One computed answer: the numbers, the SQLite code and message, the chart (may be NULL). */
typedef struct stats_flight_answer {
    int rc;
    char err[256];
    an_stats stats;
    unsigned char *png; /* malloc'd */
    size_t png_len;
} stats_flight_answer;

/* The computation a leader runs: fills out (rc, stats, png). */
typedef void (*stats_flight_compute_fn)(void *ctx, int days, int64_t now_ms,
                                        stats_flight_answer *out);

stats_flight *stats_flight_new(void);
void stats_flight_free(stats_flight *f);

/* Answers (days, now_ms) into out, computing with fn only when no identical computation is in
 * flight; *shared says which. out->png is the caller's to free. now_ms 0 = the clock. */
void stats_flight_run(stats_flight *f, int days, int64_t now_ms, stats_flight_compute_fn fn,
                      void *ctx, stats_flight_answer *out, bool *shared);

/* Computations done, and answers taken from another thread's computation. */
void stats_flight_counts(stats_flight *f, uint64_t *computed, uint64_t *shared);

#endif
