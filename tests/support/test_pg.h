/*
 * The tests' view of the throw-away PostgreSQL server that scripts/test.sh starts
 * (scripts/pg.sh): its URL comes in FLUXBOT_TEST_PG_URL. Each test takes a fresh database of its
 * own on that server (ctest runs tests in parallel; a shared database would let them see each
 * other's rows), dropped at the end. Bodies in test_pg.c (test-support library).
 *
 * Without the variable a test that needs the server fails under CI (CI set: the run must not
 * pass having tested nothing) and is skipped otherwise (a developer's plain `ctest` without
 * scripts/pg.sh).
 */
#ifndef FLUXBOT_TEST_PG_H
#define FLUXBOT_TEST_PG_H

#include <libpq-fe.h>

typedef struct tpg {
    char name[64];  /* the fresh database's name */
    char url[1024]; /* a postgresql:// URL naming it, for code under test that takes db_url */
    PGconn *conn;   /* a connection to it, owned by the test */
} tpg;

/* The server's URL, or NULL after failing (CI) or skipping the calling cmocka test. */
const char *tpg_server_url(void);

/* Creates a fresh database, fills *t and connects to it; fails or skips the test like
 * tpg_server_url. */
void tpg_open(tpg *t);

/* Closes the connection and drops the database (forcing out any session still on it). */
void tpg_close(tpg *t);

/* Runs sql (no parameters: test-owned text only) and fails the test unless it succeeds. */
void tpg_exec(PGconn *c, const char *sql);

/* The first column of the first row of a one-row query with up to 4 text parameters, as a
 * long long; fails the test on error or when there is no row. */
long long tpg_scalar(PGconn *c, const char *sql, int nparams, const char *const *params);

#endif
