/*
 * pg_anstore: the analytics store on PostgreSQL, the engine an_engine.h selects for a
 * postgresql:// db_url. It keeps the tables of the SQLite store (command_usage, image_stats,
 * user_activity, the daily and hourly rollups, known_users, results) under the same names and
 * meanings (and minute rollups of its own: minute_stats, minute_commands, minute_resolutions,
 * minute_users, for the edges of a /stats window, see pg_anread.c), so /stats, `fluxbot stats` and
 * the reset give the same answers on either engine, and several processes (one writer each) write
 * into one database.
 *
 * A batch is one transaction and, in the common case, three round trips beside the COPYs
 * (pg_anbatch.h builds everything in the client):
 *  1. BEGIN, the analytics lock shared, the reset epoch, and the outcomes other batches left
 *     for this batch's command rows (an_early_outcomes: an outcome finds its row whichever
 *     process writes the row), pipelined;
 *  2. the raw rows, with their final success, COPYed straight into their tables (the client
 *     builds the next part of the batch while the server takes each COPY's rows);
 *  3. one pipeline of prepared statements ending in COMMIT: outcomes of rows written earlier,
 *     results, the batch's rollup changes, known users, expired results.
 *
 * Rollups are append-only per batch: a batch adds one row to an_rollup_pending holding every
 * rollup's change as arrays (one element per key, aggregated in the client), and every
 * FOLD_EVERY batches a store folds all pending rows (of every process) into the base tables
 * (daily_stats_base, ..., hourly_users_base), summed per key, in the batch's transaction.
 * Readers see the rollups under their SQLite names (daily_stats, daily_users, hourly_stats,
 * ...) as views that add the pending rows to the base tables, so every committed batch is
 * counted, exactly, from its commit on. Upserting each (day, user) and (hour, user) key of
 * every batch instead cost more than the batch's raw rows: now a key is upserted once per
 * fold, whatever number of batches named it. known_users is written only for users this
 * store has not seen at or before the batch's time (a cache cleared when the epoch moves).
 *
 * Reset ordering across processes (the reset epoch): every batch first takes an advisory lock
 * shared (no row is written for it, unlike a row lock every batch would take); a reset takes
 * it exclusive and advances the epoch. So a reset waits for the batches in flight in every
 * process and no batch starts while it runs: each batch is wholly before the reset (deleted) or
 * wholly after it (kept), and the rollups always equal the raw rows (a reset empties the base and
 * pending tables and rebuilds the base tables from the rows left). A reset deletes every statistic
 * row committed before it, except those this process numbered at or above before_seq (its own
 * events recorded after the reset was asked for, as on SQLite). Events another process has
 * accepted but not yet committed (at most its flush interval, 200 ms by default) are written
 * after the reset and counted.
 *
 * Errors are reported as SQLite result codes (an_sqlerr.h) so the writer's retry rules hold for
 * both engines: a lost connection or an unavailable server is SQLITE_IOERR (retried, and the
 * connection reopened), a deadlock, serialization failure or timeout SQLITE_BUSY (retried), a
 * full disk SQLITE_FULL, and a value the server refuses SQLITE_CONSTRAINT (not retried).
 * Single-threaded like an_store: one pg_anstore belongs to the thread that opened it.
 */
#ifndef FLUXBOT_PG_ANSTORE_H
#define FLUXBOT_PG_ANSTORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <libpq-fe.h>

#include "analytics/an_event.h"

typedef struct pg_anstore pg_anstore;

/* Connects to url and creates the tables when missing. NULL with err on failure (the URL's
 * password never appears in err). */
pg_anstore *pg_anstore_open(const char *url, char *err, size_t errlen);
void pg_anstore_close(pg_anstore *s);

/* Writes evs[0..n) and their rollups in one transaction: SQLITE_OK or an SQLite-style code
 * with err (nothing written). A lost connection is reopened by the next call. */
int pg_anstore_write(pg_anstore *s, const an_event *const *evs, size_t n, char *err, size_t errlen);

/* `fluxbot import-analytics` into PostgreSQL (an_import.h): one transaction, ordered with
 * resets as a batch is, across any number of calls. After begin: _seen remembers a chunk of
 * source rows by (tbl, src_ids[i], ts_ms[i], users[i]) in imported_rows and sets fresh[i] for
 * those not imported before; _rows writes events (rows and rollups, as pg_anstore_write); _end
 * commits (commit true) or rolls everything back. Any failure rolls the import back and ends
 * it. SQLITE_OK or the code with err. */
int pg_anstore_import_begin(pg_anstore *s, char *err, size_t errlen);
int pg_anstore_import_seen(pg_anstore *s, const char *tbl, const int64_t *src_ids,
                           const int64_t *ts_ms, const uint64_t *users, size_t n, bool *fresh,
                           char *err, size_t errlen);
int pg_anstore_import_rows(pg_anstore *s, const an_event *const *evs, size_t n, char *err,
                           size_t errlen);
int pg_anstore_import_end(pg_anstore *s, bool commit, char *err, size_t errlen);

/* Deletes the statistic rows (see the header comment for which) and rebuilds the rollups, in
 * one transaction ordered with every process's batches. *rows_deleted counts raw rows. */
int pg_anstore_reset(pg_anstore *s, uint64_t before_seq, uint64_t *rows_deleted, char *err,
                     size_t errlen);

/* Results older than ms before the newest written are deleted (0 = kept). */
void pg_anstore_set_result_retention(pg_anstore *s, int64_t ms);

/* The reset epoch this store last saw (incremented by every reset of any process). */
int64_t pg_anstore_epoch(const pg_anstore *s);

/* Creates the analytics tables on c when missing (serialised between processes by an
 * advisory lock). 0, or -1 with err. Used by the readers too. */
int pg_anstore_schema(PGconn *c, char *err, size_t errlen);

/* The SQLite-style code (an_sqlerr.h) for a failed libpq result r on c (r may be NULL). */
int pg_anstore_code(PGconn *c, const PGresult *r);

#endif
