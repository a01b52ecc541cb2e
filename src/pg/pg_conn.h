/*
 * pg_conn: how fluxbot opens PostgreSQL connections (libpq) for the state several processes
 * share. One place decides what a PostgreSQL URL is and bounds every wait, so that a database
 * that stops answering delays a caller by seconds, never blocks an actor for ever.
 * Not thread-safe per connection: a PGconn belongs to the actor that opened it.
 */
#ifndef FLUXBOT_PG_CONN_H
#define FLUXBOT_PG_CONN_H

#include <stdbool.h>
#include <stddef.h>

#include <libpq-fe.h>

/* True for "postgresql://..." and "postgres://..." (libpq's URI forms); anything else given as
 * db_url is a SQLite path. */
bool pg_is_url(const char *s);

/* Connects to url: connecting takes at most timeout_ms (rounded up to whole seconds, libpq's
 * unit, at least 1 s) and so does each statement, including waits for locks (statement_timeout),
 * so a dead or wedged server returns an error instead of hanging. NULL with a message in err
 * on failure; the message is libpq's, which never contains the password. */
PGconn *pg_open(const char *url, unsigned timeout_ms, char *err, size_t errlen);

/* Runs a statement with text parameters (always bound, never formatted into the SQL) and
 * returns its result when its status is COMMAND_OK or TUPLES_OK; otherwise NULL with the
 * server's message in err. The caller PQclear()s the result. */
PGresult *pg_exec(PGconn *c, const char *sql, int nparams, const char *const *params, char *err,
                  size_t errlen);

/* pg_exec for statements whose rows are not needed: 0 on success, -1 with err. */
int pg_run(PGconn *c, const char *sql, int nparams, const char *const *params, char *err,
           size_t errlen);

#endif
