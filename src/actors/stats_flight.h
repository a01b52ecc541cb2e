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
 * Answers also outlive their computation: given the analytics writer's data version (a counter
 * it bumps after every commit), a computed answer is handed to later identical queries while
 * the version is unchanged, their moment (now) is not earlier than the answer's and is before
 * the answer's valid_until_ms (an_horizon.h: no row leaves or enters the window, the chart
 * keeps its buckets), and the answer is at most reuse_max_ms old. Such an answer
 * is exactly what a new computation would return (its window is restated for the new end);
 * the age bound only limits how long a write by another process (which the counter does not
 * see) can go unnoticed. At a steady rate of /stats, the work is one computation per commit
 * of the writer (every analytics_flush_ms at most), not one per query.
 *
 * Thread-safe (a mutex and a condition variable); used by the stats_reporter actor's threads.
 */
#ifndef FLUXBOT_STATS_FLIGHT_H
#define FLUXBOT_STATS_FLIGHT_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "analytics/an_stats.h"

typedef struct stats_flight stats_flight;

/* The longest a computed answer is handed on without recomputing, by default (ms). */
#define STATS_FLIGHT_REUSE_MAX_MS 1000

/* One computed answer: the numbers, the SQLite code and message, the chart (may be NULL). */
typedef struct stats_flight_answer {
    int rc;
    char err[256];
    an_stats stats;
    unsigned char *png; /* malloc'd */
    size_t png_len;
    /* The answer is exact for every moment in [its now, valid_until_ms) as long as
     * nothing is committed (an_horizon.h); 0 = it is not handed on. */
    int64_t valid_until_ms;
} stats_flight_answer;

/* The computation a leader runs: fills out (rc, stats, png). */
typedef void (*stats_flight_compute_fn)(void *ctx, int days, int64_t now_ms,
                                        stats_flight_answer *out);

/* data_version: the writer's commit counter (analytics_writer_data_version), or NULL to share only
 * among concurrent queries; reuse_max_ms: the age bound (0 = STATS_FLIGHT_REUSE_MAX_MS). */
stats_flight *stats_flight_new(const _Atomic uint64_t *data_version, unsigned reuse_max_ms);
void stats_flight_free(stats_flight *f);

/* Answers (days, now_ms) into out, computing with fn only when no identical computation is in
 * flight; *shared says which. out->png is the caller's to free. now_ms 0 = the clock. */
void stats_flight_run(stats_flight *f, int days, int64_t now_ms, stats_flight_compute_fn fn,
                      void *ctx, stats_flight_answer *out, bool *shared);

/* Computations done, answers taken from another thread's concurrent computation, and answers
 * handed on from an earlier computation. */
void stats_flight_counts(stats_flight *f, uint64_t *computed, uint64_t *shared, uint64_t *reused);

#endif
