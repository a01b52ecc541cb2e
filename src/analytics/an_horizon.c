/* How long a /stats answer stays exact without a commit (see an_horizon.h). */
#include "analytics/an_horizon.h"

#include <stdio.h>
#include <stdlib.h>

#include "analytics/an_sqlerr.h"
#include "analytics/an_time.h"

/* The first row at or after the start (?1) and the first after the end (?2) in each raw table
 * /stats reads; each is a MIN over the table's time index, which SQLite answers with one seek. */
static const char k_edges[] = "SELECT (SELECT MIN(ts_ms) FROM command_usage WHERE ts_ms >= ?1),"
                              " (SELECT MIN(ts_ms) FROM image_stats WHERE ts_ms >= ?1),"
                              " (SELECT MIN(ts_ms) FROM user_activity WHERE ts_ms >= ?1),"
                              " (SELECT MIN(ts_ms) FROM command_usage WHERE ts_ms > ?2),"
                              " (SELECT MIN(ts_ms) FROM image_stats WHERE ts_ms > ?2),"
                              " (SELECT MIN(ts_ms) FROM user_activity WHERE ts_ms > ?2)";

struct an_horizon {
    sqlite3 *db;
    sqlite3_stmt *edges;
};

an_horizon *an_horizon_open(const char *path, char *err, size_t errlen)
{
    sqlite3 *db = NULL;
    int rc = sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, NULL);
    sqlite3_stmt *st = NULL;
    if (rc == SQLITE_OK) {
        sqlite3_busy_timeout(db, 1000);
        rc = sqlite3_prepare_v3(db, k_edges, -1, SQLITE_PREPARE_PERSISTENT, &st, NULL);
    }
    if (rc != SQLITE_OK) {
        char msg[256];
        an_sql_err(db, rc, "opening the stats horizon", msg, sizeof msg);
        snprintf(err, errlen, "cannot read analytics database '%s': %s", path, msg);
        sqlite3_close_v2(db);
        return NULL;
    }
    an_horizon *h = calloc(1, sizeof *h);
    if (!h) abort();
    h->db = db;
    h->edges = st;
    return h;
}

void an_horizon_close(an_horizon *h)
{
    if (!h) return;
    sqlite3_finalize(h->edges);
    sqlite3_close_v2(h->db);
    free(h);
}

static int64_t floor_to(int64_t v, int64_t unit)
{
    return (v / unit - (v % unit < 0)) * unit;
}

int an_horizon_until(an_horizon *h, const an_stats *s, int64_t *until, char *err, size_t errlen)
{
    const int64_t start = s->window.start_ms, end = s->window.end_ms;
    const int64_t len = end - start + 1; /* days x 86400000: a whole number of buckets */
    /* The chart's bars run from the bucket of the first minute to that of the last; at a
     * later moment both minutes move by as many minutes as the moment's minute did. The last
     * bar changes when the moment reaches the next bucket; the first one when the first
     * minute does, i.e. when the moment's minute reaches that bucket + len - 1 minute. */
    int64_t best = floor_to(end, s->bucket_ms) + s->bucket_ms;
    int64_t first_bar = floor_to(start, s->bucket_ms) + s->bucket_ms + len - AN_TIME_MINUTE_MS;
    if (first_bar < best) best = first_bar;
    sqlite3_stmt *st = h->edges;
    sqlite3_bind_int64(st, 1, start);
    sqlite3_bind_int64(st, 2, end);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        for (int i = 0; i < 6; i++) {
            if (sqlite3_column_type(st, i) == SQLITE_NULL) continue;
            /* Minutes, not milliseconds: a row counts while its minute is in the window. A
             * row at or after the start leaves when the moment is len past its minute; a row
             * after the end comes in when the moment reaches its minute. */
            int64_t minute_ms = floor_to(sqlite3_column_int64(st, i), AN_TIME_MINUTE_MS);
            int64_t at = i < 3 ? minute_ms + len : minute_ms;
            if (at < best) best = at;
        }
        rc = SQLITE_OK;
    } else {
        an_sql_err(h->db, rc, "reading the stats horizon", err, errlen);
    }
    sqlite3_reset(st);
    *until = best;
    return rc;
}
