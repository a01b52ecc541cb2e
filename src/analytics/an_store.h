/*
 * The analytics store: the writer's SQLite connection. Opens (creating and migrating) the
 * database, writes batches of events with their rollups in one transaction, and performs
 * resets. Single-threaded: one an_store belongs to the thread that opened it (the
 * analytics_writer actor, a test, or a benchmark); its connection is opened NOMUTEX, so a
 * second thread would corrupt SQLite's state, and two writers would interleave batches and
 * break the all-or-nothing contract below. Asserted in debug builds (util_assert.h).
 * Readers use an_stats.h on their own connections.
 *
 * Failure contract: an_store_write and an_store_reset either commit everything they were given
 * or nothing (the transaction is rolled back), and return the SQLite code with a message that
 * names the cause (an_sqlerr.h), so the caller can keep the events and try again.
 */
#ifndef FLUXBOT_AN_STORE_H
#define FLUXBOT_AN_STORE_H

#include <stddef.h>
#include <stdint.h>

#include <sqlite3.h>

#include "analytics/an_event.h"

typedef struct an_store an_store;

/* Opens path read-write (created when missing), sets WAL and the pragmas, applies pending
 * migrations and prepares the statements. NULL with a message naming the path and the cause
 * in err (missing directory, read-only file, not a database, newer schema, ...). */
an_store *an_store_open(const char *path, char *err, size_t errlen);
void an_store_close(an_store *s);

sqlite3 *an_store_db(an_store *s);
/* Highest event sequence number ever committed (persisted in meta), 0 for a new database. */
uint64_t an_store_seq_hwm(const an_store *s);
/* How long a statement waits on another connection's lock before returning SQLITE_BUSY. */
void an_store_set_busy_timeout(an_store *s, int ms);

/* Inserts evs[0..n) and updates the rollups in one transaction. SQLITE_OK or the error. */
int an_store_write(an_store *s, const an_event *const *evs, size_t n, char *err, size_t errlen);

/* Results (AN_EV_RESULT) older than ms before the newest written are deleted (0 = never). */
void an_store_set_result_retention(an_store *s, int64_t ms);

/* Inserts the raw rows of evs[0..n) only (no rollups, no sequence mark), inside a transaction
 * the caller holds; the caller rebuilds the rollups (an_rollup_rebuild) before committing.
 * For bulk loads (the import of the original's database). SQLITE_OK or the error. */
int an_store_insert_raw(an_store *s, const an_event *const *evs, size_t n, char *err,
                        size_t errlen);

/* Deletes every raw row whose seq is below before_seq and recomputes all rollups from the rows
 * that remain, in one transaction. *rows_deleted counts raw rows. SQLITE_OK or the error. */
int an_store_reset(an_store *s, uint64_t before_seq, uint64_t *rows_deleted, char *err,
                   size_t errlen);

#endif
