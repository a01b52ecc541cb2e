/*
 * How long a /stats answer stays exact without a new commit. An answer (an_stats.h) is a
 * function of the raw rows whose minute lies in its window (the last days x 1440 minutes up to
 * now's) and of the chart's buckets. While nothing is committed, asking again at a later
 * moment `when` changes nothing as long as
 *   - no row leaves at the start: the window's first minute has not passed the minute of any
 *     row at or after the start (a row of minute r leaves when when's minute reaches
 *     r + days x 1440),
 *   - no row enters at the end: no row stamped after the window's last minute has its minute
 *     reached by when (rows stamped in the future),
 *   - the chart keeps its bars: the bucket (day, or hour for one day) of the window's first
 *     minute and that of its last are the same.
 * an_horizon_until() finds the first moment at which one of these fails, with one indexed
 * lookup per table and edge. The stats reporter uses it to hand one computed answer to later
 * identical queries until then, or until the analytics writer commits again.
 *
 * Owned by the stats reporter's threads: one horizon (one read-only connection and its
 * prepared statement) per thread, like an_reader.
 */
#ifndef FLUXBOT_AN_HORIZON_H
#define FLUXBOT_AN_HORIZON_H

#include <stddef.h>
#include <stdint.h>

#include "analytics/an_stats.h"

typedef struct an_horizon an_horizon;

/* Opens path read-only (the caller has checked the schema, e.g. with an_reader_open). NULL
 * with err set when it cannot. */
an_horizon *an_horizon_open(const char *path, char *err, size_t errlen);
void an_horizon_close(an_horizon *h);

/* For the answer s (its window and bucket length): *until = the earliest moment > s's now at
 * which the answer can differ from s with the same rows (so s is exact for every moment in
 * [s's now, *until)). SQLITE_OK, or the SQLite error with err set. Read in its own
 * transaction: the caller makes sure no commit happened since s was read. */
int an_horizon_until(an_horizon *h, const an_stats *s, int64_t *until, char *err, size_t errlen);

#endif
