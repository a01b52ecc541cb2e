/*
 * The analytics database schema and its forward migrations.
 *
 * Storage conventions (every table):
 *  - timestamps are INTEGER Unix epoch milliseconds, UTC (column ts_ms);
 *  - snowflakes (user, guild, channel ids) are INTEGER: the uint64_t bit pattern bound with
 *    sqlite3_bind_int64 and read back with a cast to uint64_t. Discord snowflakes are below
 *    2^63, so stored values are positive and sort like the ids. 0 ids ("no guild") are NULL;
 *  - every raw row carries seq, the writer-assigned event sequence number, so a reset can
 *    delete exactly the events that were recorded before it.
 *
 * The version lives in table schema_version (one row per applied migration). A migration runs
 * in its own transaction; a database newer than this build, or one holding tables of another
 * program (the Python original's analytics.db), is refused rather than guessed at.
 */
#ifndef FLUXBOT_AN_SCHEMA_H
#define FLUXBOT_AN_SCHEMA_H

#include <stddef.h>

#include <sqlite3.h>

/* The version this build creates and understands. */
#define AN_SCHEMA_VERSION 10

/* Sets the connection pragmas of a writer connection (WAL, synchronous=NORMAL, ...). */
int an_schema_pragmas(sqlite3 *db, char *err, size_t errlen);
/* Current version (0 for an empty database), or -1 with err set. */
int an_schema_version(sqlite3 *db, char *err, size_t errlen);
/* Applies every migration above the current version up to target (<= AN_SCHEMA_VERSION).
 * Rollups are rebuilt from the raw rows when the last step reaches AN_SCHEMA_VERSION (a lower
 * target, used by tests to make old databases, leaves them as they are).
 * Returns SQLITE_OK, or an SQLite error code with err set (nothing of the failing step kept). */
int an_schema_migrate(sqlite3 *db, int target, char *err, size_t errlen);

#endif
