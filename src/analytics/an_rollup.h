/*
 * Rollups: per-UTC-day and per-hour aggregates maintained incrementally in the writer's
 * transactions, so the /stats queries read a few rows per day (and per hour at the window's
 * edges) instead of every event.
 *
 *   daily_stats        one row per day: command/image/video/activity totals, time sums (for
 *                      averages), failed counts, unique users
 *   daily_commands     (day, command_name) -> uses       top-5 commands over a window = SUM
 *   daily_resolutions  (day, resolution) -> generations  top-5 resolutions likewise
 *   daily_users        (day, user_id) -> commands        unique users per day; active users
 *                                                         over a window = DISTINCT user_id
 *   known_users        user_id -> first seen             "Total Users" (ever seen)
 *   hourly_stats, hourly_commands, hourly_resolutions, hourly_users
 *                      the same per UTC hour (hours since the epoch), for the partial days at
 *                      a window's edges; hourly_users holds users with a command that hour
 *
 * A batch is aggregated in memory first (sorted keys, run lengths), so a batch of N events
 * costs one statement per distinct (bucket, key), not per event.
 */
#ifndef FLUXBOT_AN_ROLLUP_H
#define FLUXBOT_AN_ROLLUP_H

#include <stddef.h>

#include <sqlite3.h>

#include "analytics/an_event.h"

typedef struct an_rollup {
    sqlite3 *db;
    sqlite3_stmt *day_upsert;
    sqlite3_stmt *cmd_upsert;
    sqlite3_stmt *res_upsert;
    sqlite3_stmt *user_insert;
    sqlite3_stmt *user_add;
    sqlite3_stmt *known_user;
    sqlite3_stmt *hour_upsert;
    sqlite3_stmt *hour_cmd_upsert;
    sqlite3_stmt *hour_res_upsert;
    sqlite3_stmt *hour_user_insert;
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

#endif
