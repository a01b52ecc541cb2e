/*
 * Job rows under renewable, fenced leases in PostgreSQL (see pg_lease.h). Owned by the pg
 * module; used by the job keeper's thread only.
 */
#include "pg/pg_lease.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pg/pg_conn.h"

/* Advisory lock space of this table ("FLXJ"): only the schema creation takes it, so that two
 * processes starting at once do not race on CREATE TABLE IF NOT EXISTS. */
#define LEASE_LOCK_CLASS "1179408458"
#define LEASE_LOCK_SCHEMA "0"

/* The database server's clock in ms: the one clock every lease is measured with. */
#define NOW_MS "(extract(epoch FROM clock_timestamp()) * 1000)::bigint"

struct pg_lease {
    char url[1024];
    char owner[PG_LEASE_OWNER_MAX];
    unsigned lease_ms, timeout_ms;
    PGconn *c;
    bool schema_ok;
    unsigned long unreadable;
};

static const char *const state_names[] = {"accepted", "submitted", "delivering"};

const char *pg_lease_state_name(pg_lease_state s)
{
    return (unsigned)s < sizeof state_names / sizeof state_names[0] ? state_names[s] : "?";
}

static bool state_parse(const char *s, pg_lease_state *out)
{
    for (unsigned i = 0; i < sizeof state_names / sizeof state_names[0]; i++)
        if (strcmp(s, state_names[i]) == 0) {
            *out = (pg_lease_state)i;
            return true;
        }
    return false;
}

pg_lease *pg_lease_new(const pg_lease_cfg *cfg)
{
    if (!cfg || !pg_is_url(cfg->url) || strlen(cfg->url) >= sizeof((pg_lease *)0)->url ||
        !cfg->owner || !cfg->owner[0] || strlen(cfg->owner) >= PG_LEASE_OWNER_MAX)
        return NULL;
    pg_lease *l = calloc(1, sizeof *l);
    if (!l) return NULL;
    snprintf(l->url, sizeof l->url, "%s", cfg->url);
    snprintf(l->owner, sizeof l->owner, "%s", cfg->owner);
    l->lease_ms = cfg->lease_ms ? cfg->lease_ms : 10000;
    l->timeout_ms = cfg->timeout_ms ? cfg->timeout_ms : 3000;
    return l;
}

void pg_lease_free(pg_lease *l)
{
    if (!l) return;
    if (l->c) PQfinish(l->c);
    free(l);
}

void pg_lease_job_clear(pg_lease_job *j)
{
    if (!j) return;
    free(j->params);
    memset(j, 0, sizeof *j);
}

void pg_lease_jobs_free(pg_lease_job *v, size_t n)
{
    for (size_t i = 0; v && i < n; i++)
        pg_lease_job_clear(&v[i]);
    free(v);
}

/* Drops the connection: an open transaction is rolled back by the server. */
static void drop(pg_lease *l)
{
    if (l->c) PQfinish(l->c);
    l->c = NULL;
    l->schema_ok = false;
}

static int ensure(pg_lease *l, char *err, size_t errlen)
{
    if (l->c && PQstatus(l->c) != CONNECTION_OK) drop(l);
    if (!l->c) {
        l->c = pg_open(l->url, l->timeout_ms, err, errlen);
        if (!l->c) return -1;
    }
    if (l->schema_ok) return 0;
    const char *lk[2] = {LEASE_LOCK_CLASS, LEASE_LOCK_SCHEMA};
    if (pg_run(l->c, "BEGIN", 0, NULL, err, errlen) != 0 ||
        pg_run(l->c, "SELECT pg_advisory_xact_lock($1::int, $2::int)", 2, lk, err, errlen) != 0 ||
        pg_run(l->c,
               "CREATE TABLE IF NOT EXISTS fluxbot_jobs ("
               " job_key text PRIMARY KEY,"
               " state text NOT NULL,"
               " gen bigint NOT NULL,"
               " owner text NOT NULL,"
               " expires_ms bigint NOT NULL,"
               " server text NOT NULL DEFAULT '',"
               " prompt_id text NOT NULL DEFAULT '',"
               " params text NOT NULL,"
               " app_id bigint NOT NULL,"
               " interaction_id bigint NOT NULL,"
               " token text NOT NULL,"
               " received_ms bigint NOT NULL,"
               " user_id bigint NOT NULL,"
               " guild_id bigint NOT NULL,"
               " channel_id bigint NOT NULL,"
               " takeovers integer NOT NULL DEFAULT 0)",
               0, NULL, err, errlen) != 0 ||
        pg_run(l->c,
               "CREATE INDEX IF NOT EXISTS fluxbot_jobs_by_expiry ON fluxbot_jobs (expires_ms)", 0,
               NULL, err, errlen) != 0 ||
        pg_run(l->c, "CREATE INDEX IF NOT EXISTS fluxbot_jobs_by_owner ON fluxbot_jobs (owner)", 0,
               NULL, err, errlen) != 0 ||
        pg_run(l->c, "COMMIT", 0, NULL, err, errlen) != 0) {
        drop(l);
        return -1;
    }
    l->schema_ok = true;
    return 0;
}

/* Snowflakes are uint64_t, bigint is signed: the bits are stored as they are (a bijection). */
static void u64_param(char *out, size_t cap, uint64_t v)
{
    snprintf(out, cap, "%" PRId64, (int64_t)v);
}

static int64_t col_i64(PGresult *r, int row, int col)
{
    return PQgetisnull(r, row, col) ? 0 : strtoll(PQgetvalue(r, row, col), NULL, 10);
}

static uint64_t col_u64(PGresult *r, int row, int col)
{
    return (uint64_t)col_i64(r, row, col);
}

/* Copies a text column into a bounded buffer: false when it does not fit (a row this code did
 * not write, or one written with other limits: refused rather than cut). */
static bool col_str(PGresult *r, int row, int col, char *out, size_t cap)
{
    const char *s = PQgetisnull(r, row, col) ? "" : PQgetvalue(r, row, col);
    size_t n = strlen(s);
    if (n >= cap) return false;
    memcpy(out, s, n + 1);
    return true;
}

/* One row (the columns of pg_lease_take_expired's RETURNING) into j; false (j cleared) when a value
 * is out of bounds. */
static bool row_from(PGresult *r, int row, pg_lease_job *j)
{
    memset(j, 0, sizeof *j);
    char st[16];
    const char *params = PQgetisnull(r, row, 6) ? "" : PQgetvalue(r, row, 6);
    if (!col_str(r, row, 0, j->key, sizeof j->key) || !col_str(r, row, 1, st, sizeof st) ||
        !state_parse(st, &j->state) || !col_str(r, row, 3, j->owner, sizeof j->owner) ||
        !col_str(r, row, 4, j->server, sizeof j->server) ||
        !col_str(r, row, 5, j->prompt_id, sizeof j->prompt_id) ||
        strlen(params) > PG_LEASE_PARAMS_MAX || !col_str(r, row, 9, j->token, sizeof j->token))
        return false;
    j->params = strdup(params);
    if (!j->params) return false;
    j->gen = col_i64(r, row, 2);
    j->app_id = col_u64(r, row, 7);
    j->interaction_id = col_u64(r, row, 8);
    j->received_ms = col_u64(r, row, 10);
    j->user_id = col_u64(r, row, 11);
    j->guild_id = col_u64(r, row, 12);
    j->channel_id = col_u64(r, row, 13);
    int64_t t = col_i64(r, row, 14);
    j->takeovers = t > 0 ? (unsigned)t : 0;
    j->expires_ms = col_i64(r, row, 15);
    return true;
}

static void set_err(char *err, size_t errlen, const char *msg)
{
    if (err && errlen) snprintf(err, errlen, "%s", msg);
}

pg_lease_result pg_lease_insert(pg_lease *l, const pg_lease_job *j, char *err, size_t errlen)
{
    if (!l || !j || !j->key[0] || !j->params || strlen(j->params) > PG_LEASE_PARAMS_MAX) {
        set_err(err, errlen, "job lease: bad arguments");
        return PG_LEASE_ERROR;
    }
    if (ensure(l, err, errlen) != 0) return PG_LEASE_ERROR;
    char lease[16], app[24], ix[24], rcv[24], user[24], guild[24], chan[24];
    snprintf(lease, sizeof lease, "%u", l->lease_ms);
    u64_param(app, sizeof app, j->app_id);
    u64_param(ix, sizeof ix, j->interaction_id);
    u64_param(rcv, sizeof rcv, j->received_ms);
    u64_param(user, sizeof user, j->user_id);
    u64_param(guild, sizeof guild, j->guild_id);
    u64_param(chan, sizeof chan, j->channel_id);
    const char *p[11] = {j->key,   l->owner, lease, j->params, app, ix,
                         j->token, rcv,      user,  guild,     chan};
    PGresult *r =
        pg_exec(l->c,
                "INSERT INTO fluxbot_jobs (job_key, state, gen, owner, expires_ms, params,"
                " app_id, interaction_id, token, received_ms, user_id, guild_id,"
                " channel_id) VALUES ($1, 'accepted', 1, $2, " NOW_MS " + $3::bigint,"
                " $4, $5::bigint, $6::bigint, $7, $8::bigint, $9::bigint, $10::bigint,"
                " $11::bigint) ON CONFLICT (job_key) DO NOTHING",
                11, p, err, errlen);
    if (!r) {
        drop(l);
        return PG_LEASE_ERROR;
    }
    bool added = strcmp(PQcmdTuples(r), "1") == 0;
    PQclear(r);
    return added ? PG_LEASE_OK : PG_LEASE_FENCED;
}

/* Runs an UPDATE/DELETE guarded by owner and generation; one row changed = OK. */
static pg_lease_result fenced_change(pg_lease *l, const char *sql, int nparams,
                                     const char *const *params, char *err, size_t errlen)
{
    if (ensure(l, err, errlen) != 0) return PG_LEASE_ERROR;
    PGresult *r = pg_exec(l->c, sql, nparams, params, err, errlen);
    if (!r) {
        drop(l);
        return PG_LEASE_ERROR;
    }
    bool one = strcmp(PQcmdTuples(r), "1") == 0;
    PQclear(r);
    return one ? PG_LEASE_OK : PG_LEASE_FENCED;
}

pg_lease_result pg_lease_set_submitted(pg_lease *l, const char *key, int64_t gen,
                                       const char *server, const char *prompt_id, char *err,
                                       size_t errlen)
{
    if (!l || !key || !server || !prompt_id || strlen(server) >= PG_LEASE_SERVER_MAX ||
        strlen(prompt_id) >= PG_LEASE_PID_MAX) {
        set_err(err, errlen, "job lease: bad arguments");
        return PG_LEASE_ERROR;
    }
    char g[24];
    snprintf(g, sizeof g, "%" PRId64, gen);
    const char *p[5] = {key, l->owner, g, server, prompt_id};
    /* A job already cleared to deliver stays so: a late submission report changes nothing. */
    return fenced_change(l,
                         "UPDATE fluxbot_jobs SET state = 'submitted', server = $4,"
                         " prompt_id = $5 WHERE job_key = $1 AND owner = $2 AND gen = $3::bigint"
                         " AND state <> 'delivering'",
                         5, p, err, errlen);
}

pg_lease_result pg_lease_claim_delivery(pg_lease *l, const char *key, int64_t gen, char *err,
                                        size_t errlen)
{
    if (!l || !key) {
        set_err(err, errlen, "job lease: bad arguments");
        return PG_LEASE_ERROR;
    }
    char g[24];
    snprintf(g, sizeof g, "%" PRId64, gen);
    const char *p[3] = {key, l->owner, g};
    /* Also requires the lease to be current: an owner whose lease ran out must not deliver even
     * if nobody has taken the job yet, since a taker may be about to (it saw the row expired). */
    return fenced_change(l,
                         "UPDATE fluxbot_jobs SET state = 'delivering' WHERE job_key = $1"
                         " AND owner = $2 AND gen = $3::bigint AND expires_ms >= " NOW_MS,
                         3, p, err, errlen);
}

pg_lease_result pg_lease_finish(pg_lease *l, const char *key, int64_t gen, char *err, size_t errlen)
{
    if (!l || !key) {
        set_err(err, errlen, "job lease: bad arguments");
        return PG_LEASE_ERROR;
    }
    char g[24];
    snprintf(g, sizeof g, "%" PRId64, gen);
    const char *p[3] = {key, l->owner, g};
    return fenced_change(
        l, "DELETE FROM fluxbot_jobs WHERE job_key = $1 AND owner = $2 AND gen = $3::bigint", 3, p,
        err, errlen);
}

pg_lease_result pg_lease_release(pg_lease *l, const char *key, int64_t gen, char *err,
                                 size_t errlen)
{
    if (!l || !key) {
        set_err(err, errlen, "job lease: bad arguments");
        return PG_LEASE_ERROR;
    }
    char g[24];
    snprintf(g, sizeof g, "%" PRId64, gen);
    const char *p[3] = {key, l->owner, g};
    return fenced_change(l,
                         "UPDATE fluxbot_jobs SET expires_ms = 0 WHERE job_key = $1"
                         " AND owner = $2 AND gen = $3::bigint",
                         3, p, err, errlen);
}

int pg_lease_renew(pg_lease *l, char (*keys)[PG_LEASE_KEY_MAX], int64_t *gens, size_t cap,
                   size_t *n, char *err, size_t errlen)
{
    if (n) *n = 0;
    if (!l || !n || (cap && (!keys || !gens))) {
        set_err(err, errlen, "job lease: bad arguments");
        return -1;
    }
    if (ensure(l, err, errlen) != 0) return -1;
    char lease[16];
    snprintf(lease, sizeof lease, "%u", l->lease_ms);
    const char *p[2] = {l->owner, lease};
    /* Rows whose lease already ran out are renewed too when nobody took them: nobody else
     * delivers them, and they are still this process's work. */
    PGresult *r = pg_exec(l->c,
                          "UPDATE fluxbot_jobs SET expires_ms = " NOW_MS " + $2::bigint"
                          " WHERE owner = $1 RETURNING job_key, gen",
                          2, p, err, errlen);
    if (!r) {
        drop(l);
        return -1;
    }
    int rows = PQntuples(r);
    for (int i = 0; i < rows && *n < cap; i++) {
        if (!col_str(r, i, 0, keys[*n], PG_LEASE_KEY_MAX)) continue;
        gens[*n] = col_i64(r, i, 1);
        (*n)++;
    }
    PQclear(r);
    return 0;
}

int pg_lease_take_expired(pg_lease *l, unsigned max, pg_lease_job **out, size_t *n, char *err,
                          size_t errlen)
{
    if (out) *out = NULL;
    if (n) *n = 0;
    if (!l || !out || !n) {
        set_err(err, errlen, "job lease: bad arguments");
        return -1;
    }
    if (max == 0) return 0;
    if (ensure(l, err, errlen) != 0) return -1;
    char lease[16], lim[16];
    snprintf(lease, sizeof lease, "%u", l->lease_ms);
    snprintf(lim, sizeof lim, "%u", max);
    const char *p[3] = {l->owner, lease, lim};
    /* One statement: the candidates are locked (SKIP LOCKED: a row another taker holds is left
     * to it) and re-checked as expired under the lock, so a renewal that committed first wins
     * and a row goes to exactly one taker, with gen + 1 fencing out every earlier owner. */
    PGresult *r =
        pg_exec(l->c,
                "WITH c AS (SELECT job_key, owner AS prev FROM fluxbot_jobs"
                "  WHERE expires_ms < " NOW_MS " AND owner <> $1"
                "  ORDER BY received_ms LIMIT $3::int FOR UPDATE SKIP LOCKED)"
                " UPDATE fluxbot_jobs j SET owner = $1, gen = j.gen + 1,"
                "  expires_ms = " NOW_MS " + $2::bigint, takeovers = j.takeovers + 1"
                " FROM c WHERE j.job_key = c.job_key"
                " RETURNING j.job_key, j.state, j.gen, j.owner, j.server, j.prompt_id,"
                "  j.params, j.app_id, j.interaction_id, j.token, j.received_ms,"
                "  j.user_id, j.guild_id, j.channel_id, j.takeovers, j.expires_ms, c.prev",
                3, p, err, errlen);
    if (!r) {
        drop(l);
        return -1;
    }
    int rows = PQntuples(r);
    pg_lease_job *v = rows ? calloc((size_t)rows, sizeof *v) : NULL;
    if (rows && !v) {
        PQclear(r);
        set_err(err, errlen, "job lease: out of memory");
        return -1;
    }
    size_t k = 0;
    for (int i = 0; i < rows; i++) {
        if (!row_from(r, i, &v[k])) {
            /* A row this process cannot read is still its own now: it is finished below so it
             * does not come back to every process for ever. */
            char key[PG_LEASE_KEY_MAX];
            if (col_str(r, i, 0, key, sizeof key)) {
                PQclear(pg_exec(l->c, "DELETE FROM fluxbot_jobs WHERE job_key = $1", 1,
                                (const char *const[]){key}, NULL, 0));
            }
            pg_lease_job_clear(&v[k]);
            l->unreadable++;
            continue;
        }
        col_str(r, i, 16, v[k].prev_owner, sizeof v[k].prev_owner);
        k++;
    }
    PQclear(r);
    if (k == 0) {
        free(v);
        v = NULL;
    }
    *out = v;
    *n = k;
    return 0;
}

long pg_lease_count(pg_lease *l, const char *owner, char *err, size_t errlen)
{
    if (!l) return -1;
    if (ensure(l, err, errlen) != 0) return -1;
    const char *p[1] = {owner ? owner : ""};
    PGresult *r = pg_exec(l->c, "SELECT count(*) FROM fluxbot_jobs WHERE $1 = '' OR owner = $1", 1,
                          p, err, errlen);
    if (!r) {
        drop(l);
        return -1;
    }
    long c = PQntuples(r) == 1 ? (long)col_i64(r, 0, 0) : -1;
    PQclear(r);
    return c;
}

unsigned long pg_lease_unreadable(const pg_lease *l)
{
    return l ? l->unreadable : 0;
}
