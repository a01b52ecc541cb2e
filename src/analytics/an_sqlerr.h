/*
 * SQLite error reporting for analytics: names the cause an operator can act on (busy, disk
 * full, read-only, corrupt, ...) and says whether retrying the same work can succeed.
 */
#ifndef FLUXBOT_AN_SQLERR_H
#define FLUXBOT_AN_SQLERR_H

#include <stdbool.h>
#include <stddef.h>

#include <sqlite3.h>

/* A short, stable name of the cause of an SQLite result code (primary or extended). */
const char *an_sql_cause(int rc);
/* Busy/locked: another connection holds the lock, retry soon. */
bool an_sql_is_busy(int rc);
/* Formats "<what>: <sqlite message> (<cause>)" into err. db may be NULL. */
void an_sql_err(sqlite3 *db, int rc, const char *what, char *err, size_t errlen);

#endif
