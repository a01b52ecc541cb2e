/*
 * How long a /stats answer stays exact without a new commit. An answer (an_stats.h) is a
 * function of the raw rows whose ts_ms lies in its window [end - days, end] and of the chart's
 * buckets. While nothing is committed, moving the window's end from `end` to a later `end'`
 * changes nothing as long as
 *   - no row leaves at the start: every row with ts >= start still has ts >= end' - days,
 *   - no row enters at the end: no row has ts in (end, end'] (rows stamped in the future),
 *   - the chart keeps its buckets: end' is in the same bucket (day, or hour for one day) as
 *     end, and so is the start (the window is a whole number of buckets long).
 * an_horizon_until() finds the first end at which one of these fails, with one indexed
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

/* For the answer s (its window and bucket length): *until = the smallest window end > s's end
 * at which the answer can differ from s with the same rows (so s is exact for every end in
 * [s's end, *until)). SQLITE_OK, or the SQLite error with err set. Read in its own
 * transaction: the caller makes sure no commit happened since s was read. */
int an_horizon_until(an_horizon *h, const an_stats *s, int64_t *until, char *err, size_t errlen);

#endif
