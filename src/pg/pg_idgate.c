/*
 * The shared IDENTIFY gate (see pg_idgate.h). Owned by the pg module; used by the gateway actor
 * only, from its own thread.
 */
#include "pg/pg_idgate.h"

#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "discord/gw_idq.h"
#include "pg/pg_conn.h"

/* The advisory lock space of the identify gate: the first key of the two-int form, so that no
 * other user of advisory locks on the database collides with the buckets (the second key). */
#define IDGATE_LOCK_CLASS "1179407426" /* "FLXB" */
/* Bucket -1 of that class serialises the table's creation: CREATE TABLE IF NOT EXISTS from
 * processes starting at once can otherwise fail on the catalog's unique index. */
#define IDGATE_SCHEMA_LOCK "-1"

struct pg_idgate {
    char url[1024];
    unsigned timeout_ms, margin_ms;
    PGconn *c;
    bool schema_ok;
};

pg_idgate *pg_idgate_new(const pg_idgate_cfg *cfg)
{
    if (!cfg || !pg_is_url(cfg->url) || strlen(cfg->url) >= sizeof((pg_idgate *)0)->url)
        return NULL;
    pg_idgate *g = calloc(1, sizeof *g);
    if (!g) return NULL;
    snprintf(g->url, sizeof g->url, "%s", cfg->url);
    g->timeout_ms = cfg->timeout_ms ? cfg->timeout_ms : 3000;
    g->margin_ms = cfg->margin_ms ? cfg->margin_ms : PG_IDGATE_MARGIN_MS;
    if (g->margin_ms < GW_IDQ_MARGIN_MS) g->margin_ms = GW_IDQ_MARGIN_MS;
    return g;
}

void pg_idgate_free(pg_idgate *g)
{
    if (!g) return;
    if (g->c) PQfinish(g->c);
    free(g);
}

/* A connection that failed (server restarted, network) is dropped; the next claim reconnects. */
static void drop(pg_idgate *g)
{
    if (g->c) PQfinish(g->c);
    g->c = NULL;
    g->schema_ok = false;
}

static int ensure(pg_idgate *g, char *err, size_t errlen)
{
    if (g->c && PQstatus(g->c) != CONNECTION_OK) drop(g);
    if (!g->c) {
        g->c = pg_open(g->url, g->timeout_ms, err, errlen);
        if (!g->c) return -1;
    }
    if (g->schema_ok) return 0;
    const char *lk[2] = {IDGATE_LOCK_CLASS, IDGATE_SCHEMA_LOCK};
    if (pg_run(g->c, "BEGIN", 0, NULL, err, errlen) != 0 ||
        pg_run(g->c, "SELECT pg_advisory_xact_lock($1::int, $2::int)", 2, lk, err, errlen) != 0 ||
        pg_run(g->c,
               "CREATE TABLE IF NOT EXISTS fluxbot_identify ("
               " bucket integer PRIMARY KEY,"
               " last_ms bigint NOT NULL)",
               0, NULL, err, errlen) != 0 ||
        pg_run(g->c, "COMMIT", 0, NULL, err, errlen) != 0) {
        drop(g);
        return -1;
    }
    g->schema_ok = true;
    return 0;
}

pg_idgate_verdict pg_idgate_claim(pg_idgate *g, uint32_t bucket, uint32_t interval_ms,
                                  uint64_t *wait_ms, char *err, size_t errlen)
{
    if (wait_ms) *wait_ms = 0;
    if (!g) {
        snprintf(err, errlen, "no identify gate");
        return PG_IDGATE_ERROR;
    }
    if (ensure(g, err, errlen) != 0) return PG_IDGATE_ERROR;
    int64_t gap = (int64_t)(interval_ms ? interval_ms : GW_IDQ_INTERVAL_MS) + g->margin_ms;
    char b[16];
    snprintf(b, sizeof b, "%" PRIu32, bucket);
    const char *lk[2] = {IDGATE_LOCK_CLASS, b};
    const char *pb[1] = {b};
    /* The advisory lock is held to the end of the transaction: a second process claiming the
     * same bucket waits here and then reads the time this one wrote. */
    if (pg_run(g->c, "BEGIN", 0, NULL, err, errlen) != 0 ||
        pg_run(g->c, "SELECT pg_advisory_xact_lock($1::int, $2::int)", 2, lk, err, errlen) != 0) {
        drop(g);
        return PG_IDGATE_ERROR;
    }
    PGresult *r = pg_exec(g->c,
                          "SELECT (extract(epoch FROM clock_timestamp()) * 1000)::bigint,"
                          " (SELECT last_ms FROM fluxbot_identify WHERE bucket = $1::int)",
                          1, pb, err, errlen);
    if (!r || PQntuples(r) != 1) {
        PQclear(r);
        drop(g);
        return PG_IDGATE_ERROR;
    }
    int64_t now = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
    bool seen = !PQgetisnull(r, 0, 1);
    int64_t last = seen ? strtoll(PQgetvalue(r, 0, 1), NULL, 10) : 0;
    PQclear(r);
    pg_idgate_verdict v;
    int64_t write_at = now;
    if (!seen || now - last >= gap) {
        v = PG_IDGATE_GRANTED;
    } else if (last > now) {
        /* The server's clock went back (failover to a host behind it): a stored time in the
         * future would hold the bucket for as long as the jump. Count it as an identify now. */
        v = PG_IDGATE_WAIT;
        if (wait_ms) *wait_ms = (uint64_t)gap;
    } else {
        v = PG_IDGATE_WAIT;
        if (wait_ms) *wait_ms = (uint64_t)(gap - (now - last));
        write_at = -1;
    }
    if (write_at >= 0) {
        char t[24];
        snprintf(t, sizeof t, "%" PRId64, write_at);
        const char *pw[2] = {b, t};
        if (pg_run(g->c,
                   "INSERT INTO fluxbot_identify (bucket, last_ms) VALUES ($1::int, $2::bigint)"
                   " ON CONFLICT (bucket) DO UPDATE SET last_ms = EXCLUDED.last_ms",
                   2, pw, err, errlen) != 0) {
            drop(g);
            return PG_IDGATE_ERROR;
        }
    }
    /* A grant counts only once committed: if COMMIT fails, the caller must not identify. */
    if (pg_run(g->c, "COMMIT", 0, NULL, err, errlen) != 0) {
        drop(g);
        return PG_IDGATE_ERROR;
    }
    return v;
}
