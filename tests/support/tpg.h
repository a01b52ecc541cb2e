/*
 * The tests' view of the throw-away PostgreSQL server that scripts/test.sh starts
 * (scripts/pg.sh): its URL comes in FLUXBOT_TEST_PG_URL. Each test takes a fresh database of its
 * own on that server (ctest runs tests in parallel; a shared database would let them see each
 * other's rows), dropped at the end. Bodies in tpg.c (test-support library).
 *
 * Without the variable a test that needs the server fails under CI (CI set: the run must not
 * pass having tested nothing) and is skipped otherwise (a developer's plain `ctest` without
 * scripts/pg.sh).
 */
#ifndef FLUXBOT_TEST_PG_H
#define FLUXBOT_TEST_PG_H

#include <libpq-fe.h>

#include "e2e_proc.h"

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

/* Starts `bin run --shard I/COUNT [extra...]` as shard process i of a multi-process test: its
 * own SQLite file, output folder and log (dir/shardI.db, dir/outI, dir/shardI.log), the shared
 * database db_url, the fake Discord and ComfyUI, the leak suppressions file supp, the given log
 * level. extra is NULL or a NULL-terminated list of further arguments. Fails the test when the
 * process cannot be started. */
void tpg_spawn_shard(e2e_child *kid, const char *bin, const char *dir, int i, int count,
                     const char *token, const char *api_base, const char *comfy_url,
                     const char *db_url, const char *supp, const char *log_level,
                     const char *const *extra);

#endif
