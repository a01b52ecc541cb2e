/*
 * Rollups: per-UTC-day, per-hour and per-minute aggregates maintained incrementally in the
 * writer's transactions, so the /stats queries read a few rows per day, hour and minute of the
 * window's edges instead of every event (see an_stats.h).
 *
 *   daily_stats        one row per day: command/image/video/activity totals, time sums (for
 *                      averages), failed counts, unique users
 *   daily_commands     (day, command_name) -> uses       top-5 commands over a window = SUM
 *   daily_resolutions  (day, resolution) -> generations  top-5 resolutions likewise
 *   daily_users        (day, user_id) -> commands, events    unique users per day
 *   hourly_stats, hourly_commands, hourly_resolutions
 *                      the same per UTC hour (hours since the epoch), for the partial days at
 *                      a window's edges
 *   minute_stats, minute_commands, minute_resolutions
 *                      the same per UTC minute, for the partial hours at a window's edges;
 *                      kept AN_ROLLUP_MINUTE_KEEP_DAYS back (an_rollup_prune)
 *   user_minutes       (user_id, minute) -> cum: the user's events up to the end of that
 *                      minute, one row per minute the user had an event
 *   known_users        user_id -> first seen, last_minute, events: every user ever seen, and
 *                      the users of a window (last_minute at or after its first minute)
 *
 * A batch is aggregated in memory first (sorted keys, run lengths), so a batch of N events
 * costs one statement per distinct (bucket, key), not per event.
 */
#ifndef FLUXBOT_AN_ROLLUP_H
#define FLUXBOT_AN_ROLLUP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <sqlite3.h>

#include "analytics/an_event.h"

/* How far back (days before the newest event) the minute rollups are kept: a window's start is
 * at most 365 days before now, and one more day lets a query's now lag the newest event. A
 * window whose start lies before the horizon is answered from the raw rows (exact, slower). */
#define AN_ROLLUP_MINUTE_KEEP_DAYS 366

typedef struct an_rollup {
    sqlite3 *db;
    sqlite3_stmt *day_upsert;
    sqlite3_stmt *cmd_upsert;
    sqlite3_stmt *res_upsert;
    sqlite3_stmt *user_insert;
    sqlite3_stmt *user_add;
    sqlite3_stmt *hour_upsert;
    sqlite3_stmt *hour_cmd_upsert;
    sqlite3_stmt *hour_res_upsert;
    sqlite3_stmt *min_upsert;
    sqlite3_stmt *min_cmd_upsert;
    sqlite3_stmt *min_res_upsert;
    sqlite3_stmt *known_get, *known_put;
    sqlite3_stmt *um_before, *um_upsert, *um_shift;
    sqlite3_stmt *prune_stats, *prune_cmds, *prune_res, *prune_users, *prune_um, *set_horizon;
    bool rebuilding; /* user_minutes/known_users are left to the rebuild's final statement */
} an_rollup;

/* Prepares the statements (the current schema version). SQLITE_OK or an error with err set. */
int an_rollup_init(an_rollup *r, sqlite3 *db, char *err, size_t errlen);
void an_rollup_fini(an_rollup *r);

/* Adds the contribution of evs[0..n) to every rollup table. The caller holds an open write
 * transaction and rolls it back on error. */
int an_rollup_apply(an_rollup *r, const an_event *const *evs, size_t n, char *err, size_t errlen);

/* Empties every rollup table and recomputes it from the raw tables (after a reset or a
 * migration). The caller holds an open write transaction. */
int an_rollup_rebuild(sqlite3 *db, char *err, size_t errlen);

/* The first minute whose minute rollups are complete (meta 'minute_horizon'; 0 = all kept). */
int64_t an_rollup_horizon(sqlite3 *db);
/* Deletes the minute rollups before minute `horizon`, compacts user_minutes before it to one
 * row per user, and records the horizon. The caller holds an open write transaction. */
int an_rollup_prune(an_rollup *r, int64_t horizon, char *err, size_t errlen);

#endif
