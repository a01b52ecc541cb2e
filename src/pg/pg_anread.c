/*
 * /stats and stored results read from PostgreSQL (see pg_anread.h): rollups per day and hour,
 * the minute rollups at the window's edges (never the raw rows, unless an edge is older than
 * the minute rollups kept), merged in C by an_tally, with PostgreSQL's SQL. Owned by the pg module;
 * used by the stats reporter, the CLI and the runner through an_engine.h, one thread per reader.
 */
#include "pg/pg_anread.h"

#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "analytics/an_event.h"
#include "analytics/an_tally.h"
#include "analytics/an_time.h"
#include "pg/pg_anstore.h"
#include "pg/pg_conn.h"
#include "util/util_assert.h"

#define TIMEOUT_MS 10000

/* $1 $2 days, $3 $4 head hours, $5 $6 tail hours, $7 $8 the signs of the head and tail hours. */
#define ROLLUP_BRANCHES(cols, scaled, daily, hourly)                                               \
    " SELECT " cols ", " scaled " AS n FROM " daily " WHERE day BETWEEN $1::bigint AND $2::bigint" \
    " UNION ALL SELECT " cols ", " scaled " * $7::bigint FROM " hourly                             \
    " WHERE hour BETWEEN $3::bigint AND $4::bigint"                                                \
    " UNION ALL SELECT " cols ", " scaled " * $8::bigint FROM " hourly                             \
    " WHERE hour BETWEEN $5::bigint AND $6::bigint"

static const char k_f_totals[] =
    "SELECT 0, day * 86400000, total_images, image_ms_sum, total_videos, video_ms_sum,"
    " total_commands, total_buttons FROM daily_stats WHERE day BETWEEN $1::bigint AND $2::bigint"
    " UNION ALL SELECT 1, hour * 3600000, total_images, image_ms_sum, total_videos, video_ms_sum,"
    " total_commands, total_buttons FROM hourly_stats WHERE hour BETWEEN $3::bigint AND $4::bigint"
    " UNION ALL SELECT 2, hour * 3600000, total_images, image_ms_sum, total_videos, video_ms_sum,"
    " total_commands, total_buttons FROM hourly_stats WHERE hour BETWEEN $5::bigint AND $6::bigint";
static const char k_f_commands[] = "SELECT command_name, SUM(n) FROM (" ROLLUP_BRANCHES(
    "command_name", "count", "daily_commands", "hourly_commands") ") x GROUP BY command_name";
static const char k_f_resolutions[] = "SELECT resolution, SUM(n) FROM (" ROLLUP_BRANCHES(
    "resolution", "count", "daily_resolutions", "hourly_resolutions") ") x GROUP BY resolution";
static const char k_f_users[] =
    "SELECT user_id, events FROM daily_users WHERE day BETWEEN $1::bigint AND $2::bigint"
    " UNION ALL SELECT user_id, events * $7::bigint FROM hourly_users"
    " WHERE hour BETWEEN $3::bigint AND $4::bigint"
    " UNION ALL SELECT user_id, events * $8::bigint FROM hourly_users"
    " WHERE hour BETWEEN $5::bigint AND $6::bigint";
static const char k_f_raw_commands[] =
    "SELECT ts_ms, kind, command_name, user_id FROM command_usage"
    " WHERE ts_ms BETWEEN $1::bigint AND $2::bigint";
static const char k_f_raw_images[] =
    "SELECT ts_ms, success, is_video, COALESCE(generation_ms, 0), resolution, user_id"
    " FROM image_stats WHERE ts_ms BETWEEN $1::bigint AND $2::bigint";
static const char k_f_raw_activity[] =
    "SELECT user_id FROM user_activity WHERE ts_ms BETWEEN $1::bigint AND $2::bigint";

/* The minute rollups of [$1, $2] (UTC minutes), for the window's edges. */
static const char k_m_totals[] =
    "SELECT minute * 60000, total_images, image_ms_sum, total_videos, video_ms_sum,"
    " total_commands, total_buttons FROM minute_stats"
    " WHERE minute BETWEEN $1::bigint AND $2::bigint";
static const char k_m_commands[] =
    "SELECT command_name, SUM(count) FROM minute_commands"
    " WHERE minute BETWEEN $1::bigint AND $2::bigint GROUP BY command_name";
static const char k_m_resolutions[] =
    "SELECT resolution, SUM(count) FROM minute_resolutions"
    " WHERE minute BETWEEN $1::bigint AND $2::bigint GROUP BY resolution";
static const char k_m_users[] = "SELECT user_id, SUM(events) FROM minute_users"
                                " WHERE minute BETWEEN $1::bigint AND $2::bigint GROUP BY user_id";

/* The raw-only baseline: $1 $2 the window, $3 the bucket length (series) or active_min. */
#define WIN " ts_ms BETWEEN $1::bigint AND $2::bigint"
static const char k_r_media[] =
    "SELECT COALESCE(SUM(CASE WHEN is_video = 0 THEN 1 ELSE 0 END), 0),"
    " COALESCE(SUM(CASE WHEN is_video = 0 THEN COALESCE(generation_ms, 0) END), 0),"
    " COALESCE(SUM(CASE WHEN is_video <> 0 THEN 1 ELSE 0 END), 0),"
    " COALESCE(SUM(CASE WHEN is_video <> 0 THEN COALESCE(generation_ms, 0) END), 0)"
    " FROM image_stats WHERE" WIN " AND success = 1";
static const char k_r_commands[] =
    "SELECT COALESCE(SUM(CASE WHEN kind = 'command' THEN 1 ELSE 0 END), 0),"
    " COALESCE(SUM(CASE WHEN kind = 'button' THEN 1 ELSE 0 END), 0)"
    " FROM command_usage WHERE" WIN;
static const char k_r_top_commands[] =
    "SELECT command_name, COUNT(*) AS n FROM command_usage WHERE" WIN " AND kind = 'command'"
    " GROUP BY command_name ORDER BY n DESC, command_name COLLATE \"C\" ASC LIMIT 5";
static const char k_r_top_resolutions[] =
    "SELECT resolution, COUNT(*) AS n FROM image_stats"
    " WHERE" WIN " AND success = 1 AND resolution <> ''"
    " GROUP BY resolution ORDER BY n DESC, resolution COLLATE \"C\" ASC LIMIT 5";
static const char k_r_users[] =
    "SELECT COUNT(*), COALESCE(SUM(CASE WHEN n >= $3::bigint THEN 1 ELSE 0 END), 0) FROM"
    " (SELECT user_id, COUNT(*) AS n FROM ("
    " SELECT user_id FROM command_usage WHERE" WIN
    " UNION ALL SELECT user_id FROM image_stats WHERE" WIN
    " UNION ALL SELECT user_id FROM user_activity WHERE" WIN ") a GROUP BY user_id) b";
static const char k_r_series[] =
    "SELECT b, SUM(i), SUM(v), SUM(c) FROM ("
    " SELECT ts_ms / $3::bigint AS b, CASE WHEN is_video = 0 THEN 1 ELSE 0 END AS i,"
    "  CASE WHEN is_video <> 0 THEN 1 ELSE 0 END AS v, 0 AS c FROM image_stats"
    "  WHERE" WIN " AND success = 1"
    " UNION ALL SELECT ts_ms / $3::bigint, 0, 0, 1 FROM command_usage"
    "  WHERE" WIN " AND kind = 'command') x"
    " GROUP BY b ORDER BY b";

struct pg_anread {
    char url[1024];
    PGconn *c;
    unsigned active_min;
#ifdef FB_DEBUG
    util_owner user;
#endif
};

/*
 * The pieces the fast path reads for the closed window [start, end] (an_stats.h defines the
 * window; only its two ends and the chart's bucket are taken from it): whole UTC days from the
 * daily rollups; the first day's hours from the start's nearest hour boundary, added, or the
 * whole day with its hours before it subtracted, whichever is fewer; for a one-day window
 * every hour instead (each hourly row is one bar of its chart); the hours after end's in its
 * day subtracted; and the minutes between each edge and its nearest hour boundary, added or
 * subtracted, from the minute rollups (the window is made of whole UTC minutes, an_stats.h), or
 * from the raw rows when they are older than the first minute kept (an_minute_horizon). Computed
 * here rather than taken from an_window's own split, so this reader stays exact whatever finer
 * rollups the SQLite reader uses: both count the rows of [start, end].
 */
typedef struct pg_split {
    int64_t day_lo, day_hi;             /* UTC days (empty when lo > hi) */
    int64_t head_hour_lo, head_hour_hi; /* UTC hours */
    int head_hour_sign;
    int64_t tail_hour_lo, tail_hour_hi;
    int tail_hour_sign;
    int64_t head_lo, head_hi; /* minutes (or raw rows), closed ms range */
    int head_sign;
    int64_t tail_lo, tail_hi; /* the minutes after end in its hour: subtracted */
} pg_split;

static int64_t floor_to(int64_t v, int64_t unit)
{
    return (v / unit - (v % unit < 0)) * unit;
}

static int64_t ceil_to(int64_t v, int64_t unit)
{
    int64_t f = floor_to(v, unit);
    return f == v ? v : f + unit;
}

static void split_make(bool hourly, int64_t start, int64_t end, pg_split *w)
{
    memset(w, 0, sizeof *w);
    int64_t h0 = floor_to(start, AN_HOUR_MS), h1 = ceil_to(start, AN_HOUR_MS);
    int64_t d1 = ceil_to(start, AN_DAY_MS), d2 = floor_to(end, AN_DAY_MS);
    int64_t h2 = floor_to(end, AN_HOUR_MS);
    w->head_sign = w->head_hour_sign = w->tail_hour_sign = 1;
    int64_t hb; /* the hour boundary the raw rows at the start reach */
    if (h1 == start) {
        hb = h1;
        w->head_lo = 1;
        w->head_hi = 0;
    } else if (start - h0 <= h1 - start) {
        hb = h0;
        w->head_lo = h0;
        w->head_hi = start - 1;
        w->head_sign = -1;
    } else {
        hb = h1;
        w->head_lo = start;
        w->head_hi = h1 - 1;
    }
    w->tail_lo = end + 1;
    w->tail_hi = h2 + AN_HOUR_MS - 1;
    if (hourly) {
        w->day_lo = 1;
        w->day_hi = 0;
        w->head_hour_lo = hb / AN_HOUR_MS;
        w->head_hour_hi = h2 / AN_HOUR_MS;
        w->tail_hour_lo = 1;
        w->tail_hour_hi = 0;
        return;
    }
    int64_t d0 = floor_to(start, AN_DAY_MS);
    if (hb - d0 < d1 - hb) {
        w->day_lo = d0 / AN_DAY_MS;
        w->head_hour_lo = d0 / AN_HOUR_MS;
        w->head_hour_hi = hb / AN_HOUR_MS - 1;
        w->head_hour_sign = -1;
    } else {
        w->day_lo = d1 / AN_DAY_MS;
        w->head_hour_lo = hb / AN_HOUR_MS;
        w->head_hour_hi = d1 / AN_HOUR_MS - 1;
    }
    w->day_hi = d2 / AN_DAY_MS;
    w->tail_hour_lo = h2 / AN_HOUR_MS + 1;
    w->tail_hour_hi = (d2 + AN_DAY_MS) / AN_HOUR_MS - 1;
    w->tail_hour_sign = -1;
}

static void set_err(char *err, size_t errlen, const char *what, PGconn *c, const PGresult *r)
{
    const char *msg = r ? PQresultErrorMessage(r) : NULL;
    if (!msg || !*msg) msg = c ? PQerrorMessage(c) : "no connection";
    snprintf(err, errlen, "%s: %s", what, msg && *msg ? msg : "unknown error");
    size_t n = strlen(err);
    while (n > 0 && (err[n - 1] == '\n' || err[n - 1] == ' '))
        err[--n] = 0;
}

static int ensure(pg_anread *r, char *err, size_t errlen)
{
    if (r->c && PQstatus(r->c) == CONNECTION_OK) return SQLITE_OK;
    if (r->c) PQfinish(r->c);
    r->c = pg_open(r->url, TIMEOUT_MS, err, errlen);
    if (!r->c) return SQLITE_CANTOPEN;
    if (PQsetClientEncoding(r->c, "UTF8") != 0 || pg_anstore_schema(r->c, err, errlen) != 0) {
        if (!*err) set_err(err, errlen, "setting the client encoding", r->c, NULL);
        PQfinish(r->c);
        r->c = NULL;
        return SQLITE_CANTOPEN;
    }
    return SQLITE_OK;
}

pg_anread *pg_anread_open(const char *url, char *err, size_t errlen)
{
    if (!pg_is_url(url) || strlen(url) >= sizeof((pg_anread *)0)->url) {
        snprintf(err, errlen, "db_url is not a usable postgresql:// URL");
        return NULL;
    }
    pg_anread *r = calloc(1, sizeof *r);
    if (!r) abort();
    snprintf(r->url, sizeof r->url, "%s", url);
    r->active_min = AN_ACTIVE_MIN_DEFAULT;
    char msg[512] = "";
    if (ensure(r, msg, sizeof msg) != SQLITE_OK) {
        snprintf(err, errlen, "cannot read the analytics database (PostgreSQL): %s", msg);
        pg_anread_close(r);
        return NULL;
    }
    return r;
}

void pg_anread_close(pg_anread *r)
{
    if (!r) return;
    if (r->c) PQfinish(r->c);
    free(r);
}

void pg_anread_set_active_min(pg_anread *r, unsigned min_events)
{
    r->active_min = min_events ? min_events : 1;
}

/* ---- queries ------------------------------------------------------------------------------- */

typedef struct qargs {
    char v[8][24];
    const char *p[8];
    int n;
} qargs;

static void arg(qargs *a, int64_t v)
{
    snprintf(a->v[a->n], sizeof a->v[a->n], "%" PRId64, v);
    a->p[a->n] = a->v[a->n];
    a->n++;
}

static int64_t i64(const PGresult *r, int row, int col)
{
    return PQgetisnull(r, row, col) ? 0 : strtoll(PQgetvalue(r, row, col), NULL, 10);
}

static uint64_t u64(const PGresult *r, int row, int col)
{
    int64_t v = i64(r, row, col);
    return v > 0 ? (uint64_t)v : 0;
}

/* Runs a query; NULL with rc/err set on failure. */
static PGresult *query(pg_anread *r, const char *sql, const qargs *a, int *rc, char *err,
                       size_t errlen)
{
    PGresult *res = PQexecParams(r->c, sql, a->n, NULL, a->p, NULL, NULL, 0);
    if (PQresultStatus(res) == PGRES_TUPLES_OK) return res;
    *rc = pg_anstore_code(r->c, res);
    set_err(err, errlen, "reading stats", r->c, res);
    PQclear(res);
    return NULL;
}

static int begin_read(pg_anread *r, const an_window *w, an_stats *out, char *err, size_t errlen)
{
    an_stats_begin(out, w, r->active_min);
    int rc = ensure(r, err, errlen);
    if (rc != SQLITE_OK) return rc;
    PGresult *res = PQexec(r->c, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY");
    if (PQresultStatus(res) != PGRES_COMMAND_OK) {
        rc = pg_anstore_code(r->c, res);
        set_err(err, errlen, "starting the stats read", r->c, res);
    }
    PQclear(res);
    return rc;
}

static void end_read(pg_anread *r)
{
    if (PQstatus(r->c) == CONNECTION_OK) PQclear(PQexec(r->c, "COMMIT"));
    if (PQstatus(r->c) != CONNECTION_OK) {
        PQfinish(r->c);
        r->c = NULL;
    }
}

/* ---- the raw-only baseline ---------------------------------------------------------------- */

static void win_args(qargs *a, const an_stats *out, bool third, int64_t p3)
{
    a->n = 0;
    arg(a, out->window.start_ms);
    arg(a, out->window.end_ms);
    if (third) arg(a, p3);
}

static int raw_row(pg_anread *r, const char *sql, const an_stats *out, bool third, int64_t p3,
                   uint64_t *v, int n, char *err, size_t errlen)
{
    qargs a;
    win_args(&a, out, third, p3);
    int rc = SQLITE_OK;
    PGresult *res = query(r, sql, &a, &rc, err, errlen);
    if (!res) return rc;
    for (int i = 0; i < n && PQntuples(res) > 0; i++)
        v[i] = u64(res, 0, i);
    PQclear(res);
    return SQLITE_OK;
}

static int raw_top(pg_anread *r, const char *sql, const an_stats *out, an_top_item *items,
                   unsigned *count, char *err, size_t errlen)
{
    qargs a;
    win_args(&a, out, false, 0);
    int rc = SQLITE_OK;
    PGresult *res = query(r, sql, &a, &rc, err, errlen);
    *count = 0;
    if (!res) return rc;
    for (int i = 0; i < PQntuples(res) && *count < AN_TOP_N; i++) {
        an_top_item *it = &items[(*count)++];
        snprintf(it->name, sizeof it->name, "%s", PQgetvalue(res, i, 0));
        it->count = u64(res, i, 1);
    }
    PQclear(res);
    return SQLITE_OK;
}

static int raw_series(pg_anread *r, an_stats *out, char *err, size_t errlen)
{
    qargs a;
    win_args(&a, out, true, out->bucket_ms);
    int rc = SQLITE_OK;
    PGresult *res = query(r, k_r_series, &a, &rc, err, errlen);
    if (!res) return rc;
    for (int i = 0; i < PQntuples(res); i++) {
        an_series_point *p = an_stats_bar(out, i64(res, i, 0) * out->bucket_ms);
        if (!p) continue;
        p->images += u64(res, i, 1);
        p->videos += u64(res, i, 2);
        p->commands += u64(res, i, 3);
    }
    PQclear(res);
    return SQLITE_OK;
}

static int run_raw(pg_anread *r, const an_window *w, an_stats *out, char *err, size_t errlen)
{
    int rc = begin_read(r, w, out, err, errlen);
    if (rc != SQLITE_OK) return rc;
    uint64_t media[4] = {0}, cmds[2] = {0}, users[2] = {0};
    rc = raw_row(r, k_r_media, out, false, 0, media, 4, err, errlen);
    if (rc == SQLITE_OK) rc = raw_row(r, k_r_commands, out, false, 0, cmds, 2, err, errlen);
    if (rc == SQLITE_OK)
        rc =
            raw_top(r, k_r_top_commands, out, out->top_commands, &out->n_top_commands, err, errlen);
    if (rc == SQLITE_OK)
        rc = raw_top(r, k_r_top_resolutions, out, out->top_resolutions, &out->n_top_resolutions,
                     err, errlen);
    if (rc == SQLITE_OK)
        rc = raw_row(r, k_r_users, out, true, r->active_min, users, 2, err, errlen);
    if (rc == SQLITE_OK) rc = raw_series(r, out, err, errlen);
    end_read(r);
    out->total_images = media[0];
    out->image_ms_sum = media[1];
    out->total_videos = media[2];
    out->video_ms_sum = media[3];
    out->total_commands = cmds[0];
    out->total_buttons = cmds[1];
    out->total_users = users[0];
    out->active_users = users[1];
    return rc;
}

/* ---- the fast path ------------------------------------------------------------------------ */

static void rollup_args(qargs *a, const pg_split *w)
{
    a->n = 0;
    arg(a, w->day_lo);
    arg(a, w->day_hi);
    arg(a, w->head_hour_lo);
    arg(a, w->head_hour_hi);
    arg(a, w->tail_hour_lo);
    arg(a, w->tail_hour_hi);
    arg(a, w->head_hour_sign);
    arg(a, w->tail_hour_sign);
}

static uint64_t signed_u64(uint64_t v, int sign)
{
    return sign > 0 ? v : (uint64_t)0 - v;
}

static void bar_add(an_stats *out, int64_t ts, uint64_t images, uint64_t videos, uint64_t commands)
{
    an_series_point *p = an_stats_bar(out, ts);
    if (!p) return;
    p->images += images;
    p->videos += videos;
    p->commands += commands;
}

typedef struct fast_acc {
    an_stats *out;
    an_tally names, res;
    an_idcount users;
} fast_acc;

static int rollup_totals(pg_anread *r, const pg_split *w, an_stats *out, char *err, size_t errlen)
{
    qargs a;
    rollup_args(&a, w);
    a.n = 6; /* the totals read the signs in C */
    int rc = SQLITE_OK;
    PGresult *res = query(r, k_f_totals, &a, &rc, err, errlen);
    if (!res) return rc;
    for (int i = 0; i < PQntuples(res); i++) {
        int64_t part = i64(res, i, 0);
        int sign = part == 1 ? w->head_hour_sign : part == 2 ? w->tail_hour_sign : 1;
        uint64_t v[6];
        for (int k = 0; k < 6; k++)
            v[k] = signed_u64(u64(res, i, k + 2), sign);
        out->total_images += v[0];
        out->image_ms_sum += v[1];
        out->total_videos += v[2];
        out->video_ms_sum += v[3];
        out->total_commands += v[4];
        out->total_buttons += v[5];
        bar_add(out, i64(res, i, 1), v[0], v[2], v[4]);
    }
    PQclear(res);
    return SQLITE_OK;
}

static int tally_rows(pg_anread *r, const char *sql, const pg_split *w, an_tally *t, char *err,
                      size_t errlen)
{
    qargs a;
    rollup_args(&a, w);
    int rc = SQLITE_OK;
    PGresult *res = query(r, sql, &a, &rc, err, errlen);
    if (!res) return rc;
    for (int i = 0; i < PQntuples(res); i++) /* a signed sum, never negative in total */
        an_tally_add(t, PQgetvalue(res, i, 0), (uint64_t)i64(res, i, 1));
    PQclear(res);
    return SQLITE_OK;
}

static int rollup_users(pg_anread *r, const pg_split *w, an_idcount *users, char *err,
                        size_t errlen)
{
    qargs a;
    rollup_args(&a, w);
    int rc = SQLITE_OK;
    PGresult *res = query(r, k_f_users, &a, &rc, err, errlen);
    if (!res) return rc;
    for (int i = 0; i < PQntuples(res); i++)
        an_idcount_add(users, (uint64_t)i64(res, i, 0), i64(res, i, 1));
    PQclear(res);
    return SQLITE_OK;
}

/* The raw rows of [lo, hi] added (sign 1) or subtracted (sign -1) from every number. */
static int raw_correct(pg_anread *r, int64_t lo, int64_t hi, int sign, fast_acc *acc, char *err,
                       size_t errlen)
{
    if (lo > hi) return SQLITE_OK;
    an_stats *out = acc->out;
    uint64_t one = sign > 0 ? 1 : UINT64_MAX;
    qargs a = {.n = 0};
    arg(&a, lo);
    arg(&a, hi);
    int rc = SQLITE_OK;
    PGresult *res = query(r, k_f_raw_commands, &a, &rc, err, errlen);
    if (!res) return rc;
    for (int i = 0; i < PQntuples(res); i++) {
        an_cmd_kind k = an_cmd_kind_parse(PQgetvalue(res, i, 1));
        if (k == AN_CMD_SLASH) {
            out->total_commands += one;
            an_tally_add(&acc->names, PQgetvalue(res, i, 2), one);
            bar_add(out, i64(res, i, 0), 0, 0, one);
        } else if (k == AN_CMD_BUTTON) {
            out->total_buttons += one;
        }
        an_idcount_add(&acc->users, (uint64_t)i64(res, i, 3), sign);
    }
    PQclear(res);
    res = query(r, k_f_raw_images, &a, &rc, err, errlen);
    if (!res) return rc;
    for (int i = 0; i < PQntuples(res); i++) {
        an_idcount_add(&acc->users, (uint64_t)i64(res, i, 5), sign);
        if (i64(res, i, 1) == 0) continue; /* failed: not in the media numbers */
        uint64_t ms = u64(res, i, 3) * one;
        bool video = i64(res, i, 2) != 0;
        if (video) {
            out->total_videos += one;
            out->video_ms_sum += ms;
        } else {
            out->total_images += one;
            out->image_ms_sum += ms;
        }
        bar_add(out, i64(res, i, 0), video ? 0 : one, video ? one : 0, 0);
        if (!PQgetisnull(res, i, 4) && *PQgetvalue(res, i, 4))
            an_tally_add(&acc->res, PQgetvalue(res, i, 4), one);
    }
    PQclear(res);
    res = query(r, k_f_raw_activity, &a, &rc, err, errlen);
    if (!res) return rc;
    for (int i = 0; i < PQntuples(res); i++)
        an_idcount_add(&acc->users, (uint64_t)i64(res, i, 0), sign);
    PQclear(res);
    return SQLITE_OK;
}

/* The minutes of the closed ms range [lo, hi] added (sign 1) or subtracted (sign -1) from every
 * number, from the minute rollups; from the raw rows when the range does not fall on minute
 * boundaries or starts before the first minute kept (horizon). */
static int edge_correct(pg_anread *r, int64_t lo, int64_t hi, int sign, int64_t horizon,
                        fast_acc *acc, char *err, size_t errlen)
{
    if (lo > hi) return SQLITE_OK;
    if (lo % AN_TIME_MINUTE_MS != 0 || (hi + 1) % AN_TIME_MINUTE_MS != 0 ||
        lo / AN_TIME_MINUTE_MS < horizon)
        return raw_correct(r, lo, hi, sign, acc, err, errlen);
    an_stats *out = acc->out;
    uint64_t one = sign > 0 ? 1 : UINT64_MAX; /* unsigned wrap-around: a subtraction */
    qargs a = {.n = 0};
    arg(&a, lo / AN_TIME_MINUTE_MS);
    arg(&a, (hi + 1) / AN_TIME_MINUTE_MS - 1);
    int rc = SQLITE_OK;
    PGresult *res = query(r, k_m_totals, &a, &rc, err, errlen);
    if (!res) return rc;
    for (int i = 0; i < PQntuples(res); i++) {
        uint64_t v[6];
        for (int k = 0; k < 6; k++)
            v[k] = u64(res, i, k + 1) * one;
        out->total_images += v[0];
        out->image_ms_sum += v[1];
        out->total_videos += v[2];
        out->video_ms_sum += v[3];
        out->total_commands += v[4];
        out->total_buttons += v[5];
        bar_add(out, i64(res, i, 0), v[0], v[2], v[4]);
    }
    PQclear(res);
    const char *const names[2] = {k_m_commands, k_m_resolutions};
    an_tally *t[2] = {&acc->names, &acc->res};
    for (int k = 0; k < 2; k++) {
        res = query(r, names[k], &a, &rc, err, errlen);
        if (!res) return rc;
        for (int i = 0; i < PQntuples(res); i++)
            an_tally_add(t[k], PQgetvalue(res, i, 0), u64(res, i, 1) * one);
        PQclear(res);
    }
    res = query(r, k_m_users, &a, &rc, err, errlen);
    if (!res) return rc;
    for (int i = 0; i < PQntuples(res); i++)
        an_idcount_add(&acc->users, (uint64_t)i64(res, i, 0), sign * i64(res, i, 1));
    PQclear(res);
    return SQLITE_OK;
}

/* The first minute the minute rollups still hold (older ones were pruned). */
static int minute_horizon(pg_anread *r, int64_t *out, char *err, size_t errlen)
{
    qargs a = {.n = 0};
    int rc = SQLITE_OK;
    PGresult *res =
        query(r, "SELECT minute FROM an_minute_horizon WHERE id = 1", &a, &rc, err, errlen);
    if (!res) return rc;
    *out = PQntuples(res) == 1 ? i64(res, 0, 0) : INT64_MAX; /* no row: raw rows only */
    PQclear(res);
    return SQLITE_OK;
}

static int run_fast(pg_anread *r, const an_window *win, an_stats *out, char *err, size_t errlen)
{
    int rc = begin_read(r, win, out, err, errlen);
    if (rc != SQLITE_OK) return rc;
    pg_split split, *w = &split;
    split_make(out->bucket_ms == AN_HOUR_MS, win->start_ms, win->end_ms, w);
    fast_acc a = {.out = out};
    rc = rollup_totals(r, w, out, err, errlen);
    if (rc == SQLITE_OK) rc = tally_rows(r, k_f_commands, w, &a.names, err, errlen);
    if (rc == SQLITE_OK) rc = tally_rows(r, k_f_resolutions, w, &a.res, err, errlen);
    if (rc == SQLITE_OK) rc = rollup_users(r, w, &a.users, err, errlen);
    int64_t horizon = 0;
    if (rc == SQLITE_OK) rc = minute_horizon(r, &horizon, err, errlen);
    if (rc == SQLITE_OK)
        rc = edge_correct(r, w->head_lo, w->head_hi, w->head_sign, horizon, &a, err, errlen);
    if (rc == SQLITE_OK) rc = edge_correct(r, w->tail_lo, w->tail_hi, -1, horizon, &a, err, errlen);
    end_read(r);
    an_idcount_summary(&a.users, r->active_min, &out->total_users, &out->active_users);
    an_tally_top(&a.names, out->top_commands, AN_TOP_N, &out->n_top_commands);
    an_tally_top(&a.res, out->top_resolutions, AN_TOP_N, &out->n_top_resolutions);
    an_tally_free(&a.names);
    an_tally_free(&a.res);
    an_idcount_free(&a.users);
    return rc;
}

int pg_anread_stats(pg_anread *r, int days, int64_t now_ms, an_stats *out, char *err, size_t errlen)
{
    if (!an_stats_days_ok(days, err, errlen)) return SQLITE_RANGE;
    FB_OWNER_ENTER(&r->user);
    an_window w;
    an_window_make(days, now_ms, &w);
    int rc = run_fast(r, &w, out, err, errlen);
    FB_OWNER_LEAVE(&r->user);
    return rc;
}

int pg_anread_stats_raw(pg_anread *r, int days, int64_t now_ms, an_stats *out, char *err,
                        size_t errlen)
{
    if (!an_stats_days_ok(days, err, errlen)) return SQLITE_RANGE;
    FB_OWNER_ENTER(&r->user);
    an_window w;
    an_window_make(days, now_ms, &w);
    int rc = run_raw(r, &w, out, err, errlen);
    FB_OWNER_LEAVE(&r->user);
    return rc;
}

/* ---- results -------------------------------------------------------------------------------- */

static char *dup_col(const PGresult *res, int col)
{
    if (PQgetisnull(res, 0, col)) return NULL;
    char *d = strdup(PQgetvalue(res, 0, col));
    if (!d) abort();
    return d;
}

int pg_anread_result(pg_anread *r, uint64_t job_id, an_result_row *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    if (ensure(r, err, errlen) != SQLITE_OK) return -1;
    qargs a = {.n = 0};
    arg(&a, (int64_t)job_id);
    PGresult *res = PQexecParams(r->c,
                                 "SELECT created_ms, user_id, channel_id, message_id, success,"
                                 " is_image, params, view_url, attachment_url FROM results"
                                 " WHERE job_id = $1::bigint",
                                 1, NULL, a.p, NULL, NULL, 0);
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        set_err(err, errlen, "reading a stored result", r->c, res);
        PQclear(res);
        if (PQstatus(r->c) != CONNECTION_OK) {
            PQfinish(r->c);
            r->c = NULL;
        }
        return -1;
    }
    int found = 0;
    if (PQntuples(res) == 1) {
        out->created_ms = i64(res, 0, 0);
        out->user_id = (uint64_t)i64(res, 0, 1);
        out->channel_id = (uint64_t)i64(res, 0, 2);
        out->message_id = (uint64_t)i64(res, 0, 3);
        out->success = i64(res, 0, 4) != 0;
        out->is_image = i64(res, 0, 5) != 0;
        out->params = dup_col(res, 6);
        out->view_url = dup_col(res, 7);
        out->attachment_url = dup_col(res, 8);
        found = out->params ? 1 : 0;
    }
    PQclear(res);
    return found;
}
