/*
 * an_chartcache: the last /stats chart drawn, handed out again instead of drawing a new one
 * while that is exact, or lags by at most a set time. Drawing and encoding the chart costs about
 * 2 ms (bench_stats_path), and under a steady /stats load a new answer is computed after every
 * commit of the analytics writer (several per second), so the chart, not the numbers, was most
 * of the stats reporter's CPU with the chart on.
 *
 * The drawn chart (an_chart.h) depends only on the window's days (its title), the buckets
 * (their start times: labels and positions) and the bars' values. A kept chart is handed out for
 * new numbers s when its buckets are s's (the same days, bucket length and bucket starts) and
 *   - the bars are the same: the picture is the same (exact, whatever its age); or
 *   - it was drawn at most max_lag_ms before now and no series' total (images, videos,
 *     commands over the buckets) is smaller in s than in it: the chart lags the numbers (which
 *     the embed states exactly) by at most max_lag_ms. A smaller total means rows left: a
 *     reset, or the window's start passing events; the chart is then redrawn at once.
 * Otherwise the chart is drawn, kept, and handed out. With max_lag_ms 0 only the exact case
 * reuses. Each call gives the caller a copy of its own (the REST request owns its file).
 *
 * Thread-safe (a mutex, not held while drawing). Pure otherwise: the caller gives the time.
 */
#ifndef FLUXBOT_AN_CHARTCACHE_H
#define FLUXBOT_AN_CHARTCACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "analytics/an_stats.h"

typedef struct an_chartcache an_chartcache;

an_chartcache *an_chartcache_new(unsigned max_lag_ms);
void an_chartcache_free(an_chartcache *c);

/* How a chart was obtained. */
typedef enum an_chartcache_how {
    AN_CHARTCACHE_DRAWN,   /* drawn now (and kept) */
    AN_CHARTCACHE_SAME,    /* the kept one: the same picture */
    AN_CHARTCACHE_LAGGING, /* the kept one, drawn from older numbers within max_lag_ms */
} an_chartcache_how;

/* The chart for s at now_ms (any clock that only moves forward; a kept chart from a later
 * moment is not used): a malloc'd PNG in *png (the caller frees it) and its length, 0; or -1
 * with err when it had to be drawn and could not. *how (may be NULL) says which case. */
int an_chartcache_png(an_chartcache *c, const an_stats *s, int64_t now_ms, unsigned char **png,
                      size_t *len, an_chartcache_how *how, char *err, size_t errlen);

/* Charts drawn, and charts handed out again (same, lagging). */
void an_chartcache_counts(an_chartcache *c, uint64_t *drawn, uint64_t *same, uint64_t *lagging);

#endif
