/* Names SQLite failures by their operational cause (see an_sqlerr.h). */
#include "analytics/an_sqlerr.h"

#include <stdio.h>

const char *an_sql_cause(int rc)
{
    switch (rc & 0xff) {
    case SQLITE_OK:
        return "ok";
    case SQLITE_BUSY:
        return "busy";
    case SQLITE_LOCKED:
        return "locked";
    case SQLITE_FULL:
        return "disk full";
    case SQLITE_READONLY:
        return "read-only";
    case SQLITE_CORRUPT:
        return "corrupt";
    case SQLITE_NOTADB:
        return "not a database";
    case SQLITE_CANTOPEN:
        return "cannot open";
    case SQLITE_IOERR:
        return "I/O error";
    case SQLITE_PERM:
        return "permission denied";
    case SQLITE_NOMEM:
        return "out of memory";
    case SQLITE_CONSTRAINT:
        return "constraint";
    case SQLITE_ERROR:
        return "sql error";
    case SQLITE_SCHEMA:
        return "schema changed";
    default:
        return "error";
    }
}

bool an_sql_is_busy(int rc)
{
    return (rc & 0xff) == SQLITE_BUSY || (rc & 0xff) == SQLITE_LOCKED;
}

void an_sql_err(sqlite3 *db, int rc, const char *what, char *err, size_t errlen)
{
    if (!err || !errlen) return;
    const char *msg = db ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
    snprintf(err, errlen, "%s: %s (%s)", what, msg, an_sql_cause(rc));
}
