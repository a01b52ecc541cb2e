/*
 * Fresh PostgreSQL databases for the tests (see tpg.h). Owned by the test-support library.
 */
#include "tpg.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static atomic_uint tpg_counter;

const char *tpg_server_url(void)
{
    const char *url = getenv("FLUXBOT_TEST_PG_URL");
    if (url && *url) return url;
    if (getenv("CI")) {
        fail_msg("FLUXBOT_TEST_PG_URL is not set: run the tests through scripts/test.sh, which "
                 "starts PostgreSQL");
        return NULL;
    }
    print_message("[  SKIP    ] FLUXBOT_TEST_PG_URL is not set (scripts/pg.sh start prints one)\n");
    skip();
    return NULL;
}

/* Connects to the database named by url, with dbname overriding the URL's when not NULL. */
static PGconn *tpg_connect(const char *url, const char *dbname)
{
    /* Only the first dbname is expanded as a URL; a later one overrides the URL's name. */
    const char *keys[] = {"dbname", "connect_timeout", dbname ? "dbname" : NULL, NULL};
    const char *vals[] = {url, "10", dbname, NULL};
    PGconn *c = PQconnectdbParams(keys, vals, 1);
    if (!c || PQstatus(c) != CONNECTION_OK) {
        char err[512];
        snprintf(err, sizeof err, "%s", c ? PQerrorMessage(c) : "out of memory");
        PQfinish(c);
        fail_msg("cannot connect to the test PostgreSQL: %s", err);
    }
    return c;
}

void tpg_exec(PGconn *c, const char *sql)
{
    PGresult *r = PQexec(c, sql);
    ExecStatusType st = PQresultStatus(r);
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
        char err[512];
        snprintf(err, sizeof err, "%s", PQresultErrorMessage(r));
        PQclear(r);
        fail_msg("%s: %s", sql, err);
    }
    PQclear(r);
}

long long tpg_scalar(PGconn *c, const char *sql, int nparams, const char *const *params)
{
    PGresult *r = PQexecParams(c, sql, nparams, NULL, params, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) < 1) {
        char err[512];
        snprintf(err, sizeof err, "%s", PQresultErrorMessage(r));
        PQclear(r);
        fail_msg("%s: no row (%s)", sql, err);
    }
    long long v = PQgetisnull(r, 0, 0) ? 0 : strtoll(PQgetvalue(r, 0, 0), NULL, 10);
    PQclear(r);
    return v;
}

void tpg_open(tpg *t)
{
    memset(t, 0, sizeof *t);
    const char *base = tpg_server_url();
    if (!base) return;
    snprintf(t->name, sizeof t->name, "fluxbot_t%ld_%u", (long)getpid(),
             atomic_fetch_add(&tpg_counter, 1));
    PGconn *admin = tpg_connect(base, NULL);
    char sql[128];
    /* The name is made above from digits and letters only: no quoting question. */
    snprintf(sql, sizeof sql, "CREATE DATABASE %s", t->name);
    tpg_exec(admin, sql);
    PQfinish(admin);
    /* The same server parameters with this database: postgresql:///NAME?<the base's query>. */
    const char *q = strchr(base, '?');
    int n = snprintf(t->url, sizeof t->url, "postgresql:///%s%s", t->name, q ? q : "");
    assert_true(n > 0 && (size_t)n < sizeof t->url);
    t->conn = tpg_connect(t->url, NULL);
}

void tpg_close(tpg *t)
{
    if (t->conn) PQfinish(t->conn);
    t->conn = NULL;
    if (!t->name[0]) return;
    const char *base = getenv("FLUXBOT_TEST_PG_URL");
    if (base && *base) {
        PGconn *admin = tpg_connect(base, NULL);
        char sql[128];
        snprintf(sql, sizeof sql, "DROP DATABASE IF EXISTS %s WITH (FORCE)", t->name);
        tpg_exec(admin, sql);
        PQfinish(admin);
    }
    t->name[0] = 0;
}

void tpg_spawn_shard(e2e_child *kid, const char *bin, const char *dir, int i, int count,
                     const char *token, const char *api_base, const char *comfy_url,
                     const char *db_url, const char *supp, const char *log_level,
                     const char *const *extra)
{
    char db[160], out[160], log[160], lsan[200], shard[24];
    snprintf(db, sizeof db, "%s/shard%d.db", dir, i);
    snprintf(out, sizeof out, "%s/out%d", dir, i);
    snprintf(log, sizeof log, "%s/shard%d.log", dir, i);
    snprintf(lsan, sizeof lsan, "suppressions=%s", supp);
    snprintf(shard, sizeof shard, "%d/%d", i, count);
    char **env = NULL;
    e2e_env_set(&env, "DISCORD_TOKEN", token);
    e2e_env_set(&env, "DISCORD_API_BASE", api_base);
    e2e_env_set(&env, "COMFYUI_URLS", comfy_url);
    e2e_env_set(&env, "FLUXBOT_DB", db);
    e2e_env_set(&env, "FLUXBOT_DB_URL", db_url);
    e2e_env_set(&env, "FLUXBOT_OUTPUT_DIR", out);
    e2e_env_set(&env, "FLUXBOT_LOG_LEVEL", log_level);
    e2e_env_set(&env, "FLUXBOT_GATEWAY_COMPRESS", "false");
    e2e_env_set(&env, "LSAN_OPTIONS", lsan);
    e2e_env_set(&env, "ASAN_OPTIONS", "detect_leaks=1:abort_on_error=1");
    char *argv[16] = {(char *)bin, "run", "--shard", shard};
    int n = 4;
    for (int k = 0; extra && extra[k] && n < 15; k++)
        argv[n++] = (char *)extra[k];
    argv[n] = NULL;
    assert_int_equal(e2e_spawn(kid, bin, argv, env, log), 0);
    e2e_env_free(env);
}
