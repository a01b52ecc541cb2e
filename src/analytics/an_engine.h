/*
 * an_engine: one analytics store interface, two engines. db names the store: a postgresql://
 * (or postgres://) URL selects PostgreSQL (pg/pg_anstore.h, pg/pg_anread.h), shared by every
 * process given the same URL; anything else is a SQLite file path (an_store.h, an_stats.h),
 * the embedded default for one process. The analytics writer, the stats reporter, the CLI and
 * the runner's stored results call only this interface, so they behave the same on both
 * engines; the engines keep the same tables with the same meanings and answer /stats
 * identically (tests/test_an_store.c runs the same tests against both).
 *
 * Two handles, each owned by one thread:
 *   an_engine  the writer side: batched writes with their rollups, resets (an_store.h's
 *              failure contract: all or nothing, SQLite-style result codes on both engines)
 *   an_view    the read side: /stats numbers and stored results
 */
#ifndef FLUXBOT_AN_ENGINE_H
#define FLUXBOT_AN_ENGINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "analytics/an_event.h"
#include "analytics/an_results.h"
#include "analytics/an_stats.h"
#include "analytics/an_store.h"

/* What an engine does; one table per engine (k_sqlite, k_pg in an_engine.c). */
typedef struct an_engine_ops {
    const char *name; /* "sqlite" or "postgresql", for logs */
    int (*write)(void *impl, const an_event *const *evs, size_t n, char *err, size_t errlen);
    int (*reset)(void *impl, uint64_t before_seq, uint64_t *deleted, char *err, size_t errlen);
    uint64_t (*seq_hwm)(void *impl);
    void (*set_result_retention)(void *impl, int64_t ms);
    void (*close)(void *impl);
} an_engine_ops;

typedef struct an_view_ops {
    int (*stats)(void *impl, int days, int64_t now_ms, an_stats *out, char *err, size_t errlen);
    int (*stats_raw)(void *impl, int days, int64_t now_ms, an_stats *out, char *err, size_t errlen);
    void (*set_active_min)(void *impl, unsigned min_events);
    int (*result)(void *impl, uint64_t job_id, an_result_row *out, char *err, size_t errlen);
    void (*close)(void *impl);
} an_view_ops;

typedef struct an_engine an_engine;
typedef struct an_view an_view;

/* True when db selects PostgreSQL. */
bool an_engine_is_pg(const char *db);

/* Opens the store db names (created and migrated when missing). NULL with err. */
an_engine *an_engine_open(const char *db, char *err, size_t errlen);
void an_engine_close(an_engine *e);
const char *an_engine_name(const an_engine *e);
/* The SQLite store behind e, NULL on PostgreSQL (for what only a file has: its identity,
 * checkpoints, the import). */
an_store *an_engine_sqlite(an_engine *e);

int an_engine_write(an_engine *e, const an_event *const *evs, size_t n, char *err, size_t errlen);
int an_engine_reset(an_engine *e, uint64_t before_seq, uint64_t *rows_deleted, char *err,
                    size_t errlen);
/* The highest event sequence number committed by this store's writer (0 on PostgreSQL, where
 * every process numbers its own events from 1 under a writer id of its own). */
uint64_t an_engine_seq_hwm(an_engine *e);
void an_engine_set_result_retention(an_engine *e, int64_t ms);

/* Opens the read side of db: a SQLite file must exist and hold the current schema;
 * PostgreSQL tables are created when missing. NULL with err. */
an_view *an_view_open(const char *db, char *err, size_t errlen);
void an_view_close(an_view *v);
void an_view_set_active_min(an_view *v, unsigned min_events);
int an_view_stats(an_view *v, int days, int64_t now_ms, an_stats *out, char *err, size_t errlen);
int an_view_stats_raw(an_view *v, int days, int64_t now_ms, an_stats *out, char *err,
                      size_t errlen);
/* A stored result, as an_results_get: 1 found, 0 not stored, -1 error. */
int an_view_result(an_view *v, uint64_t job_id, an_result_row *out, char *err, size_t errlen);

#endif
