/*
 * an_engine: one analytics store interface, two engines. db names the store: a postgresql://
 * (or postgres://) URL selects PostgreSQL (pg/pg_anstore.h, pg/pg_anread.h), shared by every
 * process given the same URL; anything else is a SQLite file path (an_store.h, an_stats.h),
 * the embedded default for one process. The analytics writer, the stats reporter, the CLI and
 * the runner's stored results call only this interface, so they behave the same on both
 * engines; the engines keep the same tables with the same meanings and answer /stats
 * identically (tests/test_an_store.c runs the same tests against both).
 *
 * This file is the writer side (an_engine: batched writes with their rollups, resets, with
 * an_store.h's failure contract: all or nothing, SQLite-style result codes on both engines);
 * an_view.h is the read side (/stats numbers and stored results). One handle per thread.
 */
#ifndef FLUXBOT_AN_ENGINE_H
#define FLUXBOT_AN_ENGINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "analytics/an_event.h"
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

typedef struct an_engine an_engine;

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

#endif
