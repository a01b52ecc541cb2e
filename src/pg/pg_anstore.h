/*
 * pg_anstore: the analytics store on PostgreSQL, the engine an_engine.h selects for a
 * postgresql:// db_url. It keeps the tables of the SQLite store (command_usage, image_stats,
 * user_activity, the daily and hourly rollups, known_users, results) under the same names and
 * meanings, so /stats, `fluxbot stats` and the reset give the same answers on either engine,
 * and several processes (one writer each) write into one database.
 *
 * A batch is one transaction: its events are streamed into a temporary staging table with one
 * COPY, then one script of statements (no parameters: every value came through COPY) applies
 * the outcomes, inserts the raw rows and updates every rollup with INSERT ... ON CONFLICT DO
 * UPDATE from the staged rows, grouped and sorted by key so that concurrent writers lock rollup
 * rows in one order. Outcomes whose command row no process has written yet are kept in a table
 * (an_early_outcomes), so an outcome finds its row whichever process writes the row.
 *
 * Reset ordering across processes (the reset epoch): every batch first takes the epoch row
 * FOR SHARE; a reset updates it. So a reset waits for the batches in flight in every process
 * and no batch starts while it runs: each batch is wholly before the reset (deleted) or wholly
 * after it (kept), and the rollups always equal the raw rows. A reset deletes every statistic
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
