/*
 * Admission limits shared through PostgreSQL (see pg_quota.h). Owned by the pg module; used by
 * the actor that admits jobs, from its own thread.
 */
#include "pg/pg_quota.h"

#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pg/pg_conn.h"

/* Advisory lock space: the identify gate uses 1179407426 ("FLXB"); quotas use "FLXQ". */
#define QUOTA_LOCK_CLASS "1179407441"
#define QUOTA_LOCK_ADMIT "0"
#define QUOTA_LOCK_SCHEMA "-1"
#define HOUR_MS 3600000

struct pg_quota {
    char url[1024];
    char owner[128];
    unsigned max_active, max_hour, max_total, lease_ms, timeout_ms;
    PGconn *c;
    bool schema_ok;
};

pg_quota *pg_quota_new(const pg_quota_cfg *cfg)
{
    if (!cfg || !pg_is_url(cfg->url) || strlen(cfg->url) >= sizeof((pg_quota *)0)->url ||
        !cfg->owner || !cfg->owner[0] || strlen(cfg->owner) >= sizeof((pg_quota *)0)->owner)
        return NULL;
    pg_quota *q = calloc(1, sizeof *q);
    if (!q) return NULL;
    snprintf(q->url, sizeof q->url, "%s", cfg->url);
    snprintf(q->owner, sizeof q->owner, "%s", cfg->owner);
    q->max_active = cfg->user_max_active;
    q->max_hour = cfg->user_max_per_hour;
    q->max_total = cfg->max_total;
    q->lease_ms = cfg->lease_ms ? cfg->lease_ms : 30000;
    q->timeout_ms = cfg->timeout_ms ? cfg->timeout_ms : 3000;
    return q;
}

void pg_quota_free(pg_quota *q)
{
    if (!q) return;
    if (q->c) PQfinish(q->c);
    free(q);
}

static void drop(pg_quota *q)
{
    if (q->c) PQfinish(q->c);
    q->c = NULL;
    q->schema_ok = false;
}

/* Ends a failed transaction: the connection is dropped, which rolls it back on the server. */
static int fail(pg_quota *q)
{
    drop(q);
    return -1;
}

static int ensure(pg_quota *q, char *err, size_t errlen)
{
    if (q->c && PQstatus(q->c) != CONNECTION_OK) drop(q);
    if (!q->c) {
        q->c = pg_open(q->url, q->timeout_ms, err, errlen);
        if (!q->c) return -1;
    }
    if (q->schema_ok) return 0;
    const char *lk[2] = {QUOTA_LOCK_CLASS, QUOTA_LOCK_SCHEMA};
    if (pg_run(q->c, "BEGIN", 0, NULL, err, errlen) != 0 ||
        pg_run(q->c, "SELECT pg_advisory_xact_lock($1::int, $2::int)", 2, lk, err, errlen) != 0 ||
        pg_run(q->c,
               "CREATE TABLE IF NOT EXISTS fluxbot_jobs_held ("
               " job_key text PRIMARY KEY,"
               " user_id bigint NOT NULL,"
               " owner text NOT NULL,"
               " expires_ms bigint NOT NULL)",
               0, NULL, err, errlen) != 0 ||
        pg_run(q->c,
               "CREATE INDEX IF NOT EXISTS fluxbot_jobs_held_by_user"
               " ON fluxbot_jobs_held (user_id, expires_ms)",
               0, NULL, err, errlen) != 0 ||
        pg_run(q->c,
               "CREATE TABLE IF NOT EXISTS fluxbot_job_starts ("
               " user_id bigint NOT NULL,"
               " ts_ms bigint NOT NULL)",
               0, NULL, err, errlen) != 0 ||
        pg_run(q->c,
               "CREATE INDEX IF NOT EXISTS fluxbot_job_starts_by_user"
               " ON fluxbot_job_starts (user_id, ts_ms)",
               0, NULL, err, errlen) != 0 ||
        pg_run(q->c, "COMMIT", 0, NULL, err, errlen) != 0)
        return fail(q);
    q->schema_ok = true;
    return 0;
}

/* Snowflakes are uint64_t; bigint is signed. The bits are stored as they are (a bijection), so
 * equality, the only comparison made on user ids, holds for every value. */
static void user_param(char *out, size_t cap, uint64_t user_id)
{
    snprintf(out, cap, "%" PRId64, (int64_t)user_id);
}

static int64_t col_i64(PGresult *r, int row, int col)
{
    return PQgetisnull(r, row, col) ? 0 : strtoll(PQgetvalue(r, row, col), NULL, 10);
}

pg_quota_verdict pg_quota_admit(pg_quota *q, uint64_t user_id, const char *job_key,
                                uint64_t *retry_after_ms, char *err, size_t errlen)
{
    if (retry_after_ms) *retry_after_ms = 0;
    if (!q || !job_key || !job_key[0]) {
        snprintf(err, errlen, "quota: bad arguments");
        return PG_QUOTA_ERROR;
    }
    if (ensure(q, err, errlen) != 0) return PG_QUOTA_ERROR;
    char u[24];
    user_param(u, sizeof u, user_id);
    const char *lk[2] = {QUOTA_LOCK_CLASS, QUOTA_LOCK_ADMIT};
    if (pg_run(q->c, "BEGIN", 0, NULL, err, errlen) != 0 ||
        pg_run(q->c, "SELECT pg_advisory_xact_lock($1::int, $2::int)", 2, lk, err, errlen) != 0) {
        fail(q);
        return PG_QUOTA_ERROR;
    }
    /* One statement reads the clock and every count the verdict needs; expired leases (a dead
     * process's jobs) do not count. */
    const char *pc[1] = {u};
    PGresult *r =
        pg_exec(q->c,
                "WITH now AS (SELECT (extract(epoch FROM clock_timestamp()) * 1000)::bigint AS ms)"
                " SELECT now.ms,"
                "  (SELECT count(*) FROM fluxbot_jobs_held WHERE user_id = $1::bigint"
                "    AND expires_ms > now.ms),"
                "  (SELECT count(*) FROM fluxbot_jobs_held WHERE expires_ms > now.ms),"
                "  (SELECT count(*) FROM fluxbot_job_starts WHERE user_id = $1::bigint"
                "    AND ts_ms > now.ms - 3600000),"
                "  (SELECT min(ts_ms) FROM fluxbot_job_starts WHERE user_id = $1::bigint"
                "    AND ts_ms > now.ms - 3600000)"
                " FROM now",
                1, pc, err, errlen);
    if (!r || PQntuples(r) != 1) {
        PQclear(r);
        fail(q);
        return PG_QUOTA_ERROR;
    }
    int64_t now = col_i64(r, 0, 0), user_active = col_i64(r, 0, 1), total = col_i64(r, 0, 2),
            hour = col_i64(r, 0, 3), oldest = col_i64(r, 0, 4);
    PQclear(r);
    pg_quota_verdict v = PG_QUOTA_OK;
    if (q->max_active && user_active >= q->max_active) {
        v = PG_QUOTA_USER_ACTIVE;
    } else if (q->max_hour && hour >= q->max_hour) {
        v = PG_QUOTA_USER_HOURLY;
        if (retry_after_ms) {
            int64_t left = oldest + HOUR_MS - now;
            *retry_after_ms = left > 0 ? (uint64_t)left : 1;
        }
    } else if (q->max_total && total >= q->max_total) {
        v = PG_QUOTA_GLOBAL;
    }
    if (v == PG_QUOTA_OK) {
        char exp[24], ts[24];
        snprintf(exp, sizeof exp, "%" PRId64, now + (int64_t)q->lease_ms);
        snprintf(ts, sizeof ts, "%" PRId64, now);
        const char *ph[4] = {job_key, u, q->owner, exp};
        const char *ps[2] = {u, ts};
        /* The key of an expired lease may be taken again (a job retried under its old key). */
        if (pg_run(q->c,
                   "INSERT INTO fluxbot_jobs_held (job_key, user_id, owner, expires_ms)"
                   " VALUES ($1, $2::bigint, $3, $4::bigint)"
                   " ON CONFLICT (job_key) DO UPDATE SET user_id = EXCLUDED.user_id,"
                   " owner = EXCLUDED.owner, expires_ms = EXCLUDED.expires_ms",
                   4, ph, err, errlen) != 0 ||
            pg_run(
                q->c,
                "INSERT INTO fluxbot_job_starts (user_id, ts_ms) VALUES ($1::bigint, $2::bigint)",
                2, ps, err, errlen) != 0) {
            fail(q);
            return PG_QUOTA_ERROR;
        }
        /* Housekeeping under the same lock: starts older than the hour never count again, and
         * leases expired for a minute belong to processes that are gone. */
        const char *pn[1] = {ts};
        if (pg_run(q->c, "DELETE FROM fluxbot_job_starts WHERE ts_ms < $1::bigint - 3600000", 1, pn,
                   err, errlen) != 0 ||
            pg_run(q->c, "DELETE FROM fluxbot_jobs_held WHERE expires_ms < $1::bigint - 60000", 1,
                   pn, err, errlen) != 0) {
            fail(q);
            return PG_QUOTA_ERROR;
        }
    }
    if (pg_run(q->c, "COMMIT", 0, NULL, err, errlen) != 0) {
        fail(q);
        return PG_QUOTA_ERROR;
    }
    return v;
}

int pg_quota_adopt(pg_quota *q, uint64_t user_id, const char *job_key, char *err, size_t errlen)
{
    if (!q || !job_key || !job_key[0]) {
        snprintf(err, errlen, "quota: bad arguments");
        return -1;
    }
    if (ensure(q, err, errlen) != 0) return -1;
    char u[24], l[16];
    user_param(u, sizeof u, user_id);
    snprintf(l, sizeof l, "%u", q->lease_ms);
    /* Under the admission lock, so an admission's counts never see half of it. */
    const char *lk[2] = {QUOTA_LOCK_CLASS, QUOTA_LOCK_ADMIT};
    const char *p[4] = {job_key, u, q->owner, l};
    if (pg_run(q->c, "BEGIN", 0, NULL, err, errlen) != 0 ||
        pg_run(q->c, "SELECT pg_advisory_xact_lock($1::int, $2::int)", 2, lk, err, errlen) != 0 ||
        pg_run(q->c,
               "INSERT INTO fluxbot_jobs_held (job_key, user_id, owner, expires_ms)"
               " VALUES ($1, $2::bigint, $3,"
               "  (extract(epoch FROM clock_timestamp()) * 1000)::bigint + $4::bigint)"
               " ON CONFLICT (job_key) DO UPDATE SET user_id = EXCLUDED.user_id,"
               " owner = EXCLUDED.owner, expires_ms = EXCLUDED.expires_ms",
               4, p, err, errlen) != 0 ||
        pg_run(q->c, "COMMIT", 0, NULL, err, errlen) != 0)
        return fail(q);
    return 0;
}

int pg_quota_finish(pg_quota *q, const char *job_key, char *err, size_t errlen)
{
    if (!q || !job_key) return -1;
    if (ensure(q, err, errlen) != 0) return -1;
    /* Only this process's row: a job taken over by another process is not released here. */
    const char *p[2] = {job_key, q->owner};
    if (pg_run(q->c, "DELETE FROM fluxbot_jobs_held WHERE job_key = $1 AND owner = $2", 2, p, err,
               errlen) != 0)
        return fail(q);
    return 0;
}

int pg_quota_release_user(pg_quota *q, uint64_t user_id, char *err, size_t errlen)
{
    if (!q) return -1;
    if (ensure(q, err, errlen) != 0) return -1;
    char u[24];
    user_param(u, sizeof u, user_id);
    const char *p[2] = {q->owner, u};
    /* The oldest lease first: which row goes does not change any count. */
    if (pg_run(q->c,
               "DELETE FROM fluxbot_jobs_held WHERE job_key = (SELECT job_key FROM"
               " fluxbot_jobs_held WHERE owner = $1 AND user_id = $2::bigint"
               " ORDER BY expires_ms LIMIT 1)",
               2, p, err, errlen) != 0)
        return fail(q);
    return 0;
}

int pg_quota_resync(pg_quota *q, const uint64_t *users, size_t n, char *err, size_t errlen)
{
    if (!q || (n && !users)) return -1;
    if (ensure(q, err, errlen) != 0) return -1;
    /* The users go as one bound bigint[] parameter: "{1,2,...}" of numbers this code formats. */
    size_t cap = n * 22 + 3, len = 0;
    char *arr = malloc(cap);
    if (!arr) {
        snprintf(err, errlen, "quota: out of memory");
        return -1;
    }
    arr[len++] = '{';
    for (size_t i = 0; i < n; i++) {
        char u[24];
        user_param(u, sizeof u, users[i]);
        len += (size_t)snprintf(arr + len, cap - len, "%s%s", i ? "," : "", u);
    }
    snprintf(arr + len, cap - len, "}");
    char l[16];
    snprintf(l, sizeof l, "%u", q->lease_ms);
    const char *lk[2] = {QUOTA_LOCK_CLASS, QUOTA_LOCK_ADMIT};
    const char *po[1] = {q->owner};
    const char *pi[3] = {q->owner, arr, l};
    int rc = 0;
    if (pg_run(q->c, "BEGIN", 0, NULL, err, errlen) != 0 ||
        pg_run(q->c, "SELECT pg_advisory_xact_lock($1::int, $2::int)", 2, lk, err, errlen) != 0 ||
        pg_run(q->c, "DELETE FROM fluxbot_jobs_held WHERE owner = $1", 1, po, err, errlen) != 0 ||
        pg_run(q->c,
               "INSERT INTO fluxbot_jobs_held (job_key, user_id, owner, expires_ms)"
               " SELECT $1 || ':resync:' || t.i, t.u, $1,"
               "  (extract(epoch FROM clock_timestamp()) * 1000)::bigint + $3::bigint"
               " FROM unnest($2::bigint[]) WITH ORDINALITY AS t(u, i)",
               3, pi, err, errlen) != 0 ||
        pg_run(q->c, "COMMIT", 0, NULL, err, errlen) != 0)
        rc = fail(q);
    free(arr);
    return rc;
}

int pg_quota_renew(pg_quota *q, char *err, size_t errlen)
{
    if (!q) return -1;
    if (ensure(q, err, errlen) != 0) return -1;
    char l[16];
    snprintf(l, sizeof l, "%u", q->lease_ms);
    const char *p[2] = {q->owner, l};
    if (pg_run(q->c,
               "UPDATE fluxbot_jobs_held SET expires_ms ="
               " (extract(epoch FROM clock_timestamp()) * 1000)::bigint + $2::bigint"
               " WHERE owner = $1",
               2, p, err, errlen) != 0)
        return fail(q);
    return 0;
}

long pg_quota_active(pg_quota *q, uint64_t user_id, char *err, size_t errlen)
{
    if (!q) return -1;
    if (ensure(q, err, errlen) != 0) return -1;
    char u[24];
    user_param(u, sizeof u, user_id);
    const char *p[1] = {u};
    PGresult *r =
        pg_exec(q->c,
                "SELECT count(*) FROM fluxbot_jobs_held"
                " WHERE expires_ms > (extract(epoch FROM clock_timestamp()) * 1000)::bigint"
                " AND ($1::bigint = 0 OR user_id = $1::bigint)",
                1, p, err, errlen);
    if (!r) {
        fail(q);
        return -1;
    }
    long n = PQntuples(r) == 1 ? (long)col_i64(r, 0, 0) : -1;
    PQclear(r);
    return n;
}
