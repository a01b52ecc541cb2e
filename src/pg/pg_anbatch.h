/*
 * pg_anbatch: one batch of analytics events turned into what the PostgreSQL store
 * (pg_anstore.h) sends for it, computed in the client so that the server does only the writes:
 *
 *  - the raw rows as COPY text for command_usage, image_stats and user_activity (streamed
 *    straight into those tables: no staging table, no INSERT ... SELECT);
 *  - every rollup's change aggregated per key (one element per key per batch, sorted by key)
 *    as arrays in PostgreSQL's binary format (bigint[] and text[], bound as binary parameters:
 *    the server reads them several times faster than text literals): daily_stats, daily_commands,
 *    daily_resolutions, hourly_stats, hourly_commands, hourly_resolutions, and per (hour,
 *    user) the slash commands and events (hourly_users, and daily_users summed per day), per
 *    UTC minute the hourly rollups' numbers (minute_stats, minute_commands,
 *    minute_resolutions, and per (minute, user) the events: minute_users);
 *  - per user the earliest event (known_users), outcomes (latest per interaction) and results
 *    (latest per job) as array literals (text).
 *
 * The meanings are an_rollup.c's (and pg_anstore.c's k_rollups, which rebuilds the same tables
 * from the raw rows after a reset): only slash commands count as commands and only they make
 * failed commands; buttons apart; successful generations by medium with their time sums; every
 * statistic event is one event of its user. The tests compare the two engines' tables after
 * the same stream, so a difference in meaning here fails them.
 *
 * Pure: no connection, no thread. One pg_anbatch per store, reused batch after batch.
 */
#ifndef FLUXBOT_PG_ANBATCH_H
#define FLUXBOT_PG_ANBATCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "analytics/an_event.h"

/* A growable buffer: COPY data, one array literal (text) or one binary array; len bytes, then
 * a NUL. */
typedef struct pg_anbatch_buf {
    char *p;
    size_t len, cap;
} pg_anbatch_buf;

void pg_anbatch_buf_clear(pg_anbatch_buf *b);
void pg_anbatch_buf_free(pg_anbatch_buf *b);
/* "{v0,v1,...}": a bigint[] literal. */
void pg_anbatch_buf_array_i64(pg_anbatch_buf *b, const int64_t *v, size_t n);

/* The parameters of each prepared statement, in its $n order (see pg_anstore.c). */
enum {
    PG_ANBATCH_DAYS_NP = 10,    /* daily_stats: day and 9 sums */
    PG_ANBATCH_HOURS_NP = 11,   /* per (hour, user): commands, events; hourly_stats: 7 */
    PG_ANBATCH_NAMES_NP = 12,   /* daily/hourly commands and resolutions, 3 each */
    PG_ANBATCH_MINUTES_NP = 16, /* minute_stats 7, minute_commands 3, minute_resolutions 3,
                                   minute_users 3 */
    PG_ANBATCH_OUTCOMES_NP = 2,
    PG_ANBATCH_RESULTS_NP = 8,
    PG_ANBATCH_RESULT_MSGS_NP = 6,
};

typedef struct pg_anbatch_agg pg_anbatch_agg;       /* internal: one aggregate (hash table) */
typedef struct pg_anbatch_latest pg_anbatch_latest; /* internal: the latest event per key */
typedef struct pg_anbatch_names pg_anbatch_names;   /* internal: the batch's interned names */

typedef struct pg_anbatch {
    /* COPY text of the raw rows, and how many rows each holds */
    pg_anbatch_buf copy_cmd, copy_img, copy_act;
    size_t n_cmd, n_img, n_act;
    /* the rollups' array parameters, binary (valid when n_cmd + n_img + n_act > 0) */
    pg_anbatch_buf days[PG_ANBATCH_DAYS_NP], hours[PG_ANBATCH_HOURS_NP], names[PG_ANBATCH_NAMES_NP];
    pg_anbatch_buf minutes[PG_ANBATCH_MINUTES_NP];
    int64_t newest_minute; /* of the batch's statistic events (the minute rollups' retention) */
    /* per user of the batch's statistic events, sorted by id: the earliest event time */
    size_t n_users;
    int64_t *user_ids, *user_first_ms;
    /* outcomes whose command row is not in this batch (latest per interaction, sorted) */
    size_t n_outcomes;
    pg_anbatch_buf outcomes[PG_ANBATCH_OUTCOMES_NP];
    /* results (AN_EV_RESULT) and result messages (AN_EV_RESULT_MSG), latest per job */
    size_t n_results, n_result_msgs;
    pg_anbatch_buf results[PG_ANBATCH_RESULTS_NP], result_msgs[PG_ANBATCH_RESULT_MSGS_NP];
    /* the interaction ids of the batch's command rows (sorted, distinct): the early outcomes
     * another batch left for them are taken before the rows are built */
    size_t n_ix;
    pg_anbatch_buf ix;
    /* internal */
    pg_anbatch_agg *aggs;
    pg_anbatch_names *names_tab;
    size_t users_cap;
    bool *success; /* the final success of each event of the batch (pg_anbatch_begin) */
    size_t success_cap;
    uint64_t *ix_ids; /* b->ix as numbers */
    size_t ix_cap;
    struct pg_anbatch_early *early; /* the early outcomes, sorted by interaction */
    size_t nearly, early_cap;
    pg_anbatch_latest *latest;
    size_t latest_cap;
} pg_anbatch;

void pg_anbatch_init(pg_anbatch *b);
void pg_anbatch_free(pg_anbatch *b);

/* First step: the interaction ids of evs' command rows (b->ix, b->n_ix). */
void pg_anbatch_interactions(pg_anbatch *b, const an_event *const *evs, size_t n);

/* An outcome stored earlier for one of those interactions (taken from an_early_outcomes): the
 * row takes it unless an outcome of this batch, which is newer, names the same interaction. */
typedef struct pg_anbatch_early {
    uint64_t interaction_id;
    bool success;
} pg_anbatch_early;

/* Second step: everything else, for writer id wid, in three parts so that the store can
 * stream one table's rows to the server while it builds the next part (pg_anstore.c):
 *  _begin     the final success of every row (its own, then an early outcome, then this
 *             batch's latest outcome for it) and the outcomes of rows not in the batch;
 *  _copy      the COPY text of one raw table (kind AN_EV_COMMAND, _IMAGE or _ACTIVITY), after
 *             _begin (the activity rows also before it: no outcome changes them);
 *  _rollups   every rollup's arrays, the users' earliest events and the results, after _begin.
 * _build does all of them. Events of kinds the store does not stage (moderation) are skipped. */
void pg_anbatch_begin(pg_anbatch *b, const an_event *const *evs, size_t n,
                      const pg_anbatch_early *early, size_t nearly);
void pg_anbatch_copy(pg_anbatch *b, int64_t wid, const an_event *const *evs, size_t n,
                     an_event_kind kind);
void pg_anbatch_rollups(pg_anbatch *b, const an_event *const *evs, size_t n);
void pg_anbatch_build(pg_anbatch *b, int64_t wid, const an_event *const *evs, size_t n,
                      const pg_anbatch_early *early, size_t nearly);

#endif
