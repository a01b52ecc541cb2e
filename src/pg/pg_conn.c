/*
 * PostgreSQL connections with bounded waits (see pg_conn.h). Owned by the pg module; every
 * fluxbot use of libpq connects through pg_open.
 */
#include "pg/pg_conn.h"

#include <stdio.h>
#include <string.h>

bool pg_is_url(const char *s)
{
    return s && (strncmp(s, "postgresql://", 13) == 0 || strncmp(s, "postgres://", 11) == 0);
}

/* libpq ends its messages with a newline; a log line should not. */
static void copy_err(char *err, size_t errlen, const char *what, const char *msg)
{
    if (!err || !errlen) return;
    snprintf(err, errlen, "%s: %s", what, msg && *msg ? msg : "unknown error");
    size_t n = strlen(err);
    while (n > 0 && (err[n - 1] == '\n' || err[n - 1] == ' '))
        err[--n] = 0;
}

PGconn *pg_open(const char *url, unsigned timeout_ms, char *err, size_t errlen)
{
    if (!pg_is_url(url)) {
        copy_err(err, errlen, "database", "not a postgresql:// URL");
        return NULL;
    }
    unsigned secs = (timeout_ms + 999) / 1000;
    if (secs < 1) secs = 1;
    char ct[16], opts[96];
    snprintf(ct, sizeof ct, "%u", secs);
    /* statement_timeout also bounds lock waits, advisory locks included. */
    /* Notices (CREATE ... IF NOT EXISTS that exists) are not errors: kept out of the logs. */
    snprintf(opts, sizeof opts, "-c statement_timeout=%u -c client_min_messages=warning",
             secs * 1000);
    /* The URL is expanded first (expand_dbname); the later keys override what it says. */
    const char *keys[] = {"dbname", "connect_timeout", "options", "application_name", NULL};
    const char *vals[] = {url, ct, opts, "fluxbot", NULL};
    PGconn *c = PQconnectdbParams(keys, vals, 1);
    if (!c) {
        copy_err(err, errlen, "database", "out of memory");
        return NULL;
    }
    if (PQstatus(c) != CONNECTION_OK) {
        copy_err(err, errlen, "cannot connect to PostgreSQL", PQerrorMessage(c));
        PQfinish(c);
        return NULL;
    }
    return c;
}

PGresult *pg_exec(PGconn *c, const char *sql, int nparams, const char *const *params, char *err,
                  size_t errlen)
{
    PGresult *r = PQexecParams(c, sql, nparams, NULL, params, NULL, NULL, 0);
    ExecStatusType st = PQresultStatus(r);
    if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK) return r;
    copy_err(err, errlen, "PostgreSQL", r ? PQresultErrorMessage(r) : PQerrorMessage(c));
    PQclear(r);
    return NULL;
}

int pg_run(PGconn *c, const char *sql, int nparams, const char *const *params, char *err,
           size_t errlen)
{
    PGresult *r = pg_exec(c, sql, nparams, params, err, errlen);
    if (!r) return -1;
    PQclear(r);
    return 0;
}
