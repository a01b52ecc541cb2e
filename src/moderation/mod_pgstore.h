/*
 * mod_pgstore: the moderation state (filters, violations, warning clears, bans) in PostgreSQL,
 * for processes that share a postgresql:// db_url. The same tables and operations as mod_store.h
 * (SQLite), written by the analytics writer of whichever process the change was made in, read
 * by every process at start and then periodically (mod_state refresh, see app.c).
 *
 * Order between processes: each row keeps the event time (ts_ms) and the writer's sequence
 * number of its last change; an update applies only when it is later by (ts_ms, seq). Within
 * one process that is the recording order (seq); between processes it is the wall clock of the
 * processes, so two changes of the same rule or user made on two machines within their clock
 * difference may apply in either order. Warnings count when they are later than the user's
 * last clear by the same ordering.
 */
#ifndef FLUXBOT_MOD_PGSTORE_H
#define FLUXBOT_MOD_PGSTORE_H

#include <stddef.h>
#include <stdint.h>

#include <libpq-fe.h>

#include "analytics/an_event.h"
#include "moderation/mod_store.h"

/* Creates the tables when missing, inside the caller's transaction. SQLITE_OK or a code. */
int mod_pgstore_schema(PGconn *c, char *err, size_t errlen);

/* Applies one AN_EV_MODERATION event inside the caller's transaction (wid: the writer's id).
 * SQLITE_OK, SQLITE_MISMATCH for a malformed event (dropped by the writer), or the code of a
 * database failure (pg_anstore_code). */
int mod_pgstore_apply(PGconn *c, int64_t wid, const an_event *e, char *err, size_t errlen);

/* On a connection the caller holds (tables created, e.g. by mod_pgstore_load): the version
 * every change bumps (0, or -1 with err), and the whole state (as mod_pgstore_load). */
int mod_pgstore_version(PGconn *c, int64_t *version, char *err, size_t errlen);
int mod_pgstore_read(PGconn *c, int64_t now_ms, mod_loaded *out, char *err, size_t errlen);

/* Reads the whole state from the database at url: 0, or -1 with err. An empty database (no
 * tables yet) gives an empty state. */
int mod_pgstore_load(const char *url, int64_t now_ms, mod_loaded *out, char *err, size_t errlen);

#endif
