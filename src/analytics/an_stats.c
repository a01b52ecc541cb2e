/* /stats over rollups with exact edge corrections, and the raw-only baseline (see an_stats.h). */
#include "analytics/an_stats.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analytics/an_event.h"
#include "analytics/an_schema.h"
#include "analytics/an_sqlerr.h"
#include "analytics/an_tally.h"
#include "analytics/an_time.h"
#include "util/util_assert.h"

/*
 * The fast path binds the rollup ranges ?1 ?2 (days), ?3 ?4 (head hours), ?5 ?6 (tail hours);
 * the raw correction queries bind one ts range ?1 ?2. Names and user ids are merged in C
 * (an_tally.h) instead of letting SQLite sort unions in temporary B-trees.
 */
#define ROLLUP_BRANCHES(cols, scaled, daily, hourly)                                               \
    " SELECT " cols ", " scaled " AS n FROM " daily " WHERE day BETWEEN ?1 AND ?2"                 \
    " UNION ALL SELECT " cols ", " scaled " * ?7 FROM " hourly " WHERE hour BETWEEN ?3 AND ?4"     \
    " UNION ALL SELECT " cols ", " scaled " * ?8 FROM " hourly " WHERE hour BETWEEN ?5 AND ?6"

/* Per bucket: the part (0 days, 1 head hours, 2 tail hours), the ms of its start, images,
 * image ms, videos, video ms, commands, buttons. */
static const char k_f_totals[] =
    "SELECT 0, day * 86400000, total_images, image_ms_sum, total_videos, video_ms_sum,"
    " total_commands, total_buttons FROM daily_stats WHERE day BETWEEN ?1 AND ?2"
    " UNION ALL SELECT 1, hour * 3600000, total_images, image_ms_sum, total_videos, video_ms_sum,"
    " total_commands, total_buttons FROM hourly_stats WHERE hour BETWEEN ?3 AND ?4"
    " UNION ALL SELECT 2, hour * 3600000, total_images, image_ms_sum, total_videos, video_ms_sum,"
    " total_commands, total_buttons FROM hourly_stats WHERE hour BETWEEN ?5 AND ?6";
/* ?7 and ?8 are the signs (+1 or -1) of the head and tail hours. */
static const char k_f_commands[] = "SELECT command_name, SUM(n) FROM (" ROLLUP_BRANCHES(
    "command_name", "count", "daily_commands", "hourly_commands") ") GROUP BY command_name";
static const char k_f_resolutions[] = "SELECT resolution, SUM(n) FROM (" ROLLUP_BRANCHES(
    "resolution", "count", "daily_resolutions", "hourly_resolutions") ") GROUP BY resolution";
static const char k_f_users[] =
    "SELECT user_id, events FROM daily_users WHERE day BETWEEN ?1 AND ?2"
    " UNION ALL SELECT user_id, events * ?7 FROM hourly_users WHERE hour BETWEEN ?3 AND ?4"
    " UNION ALL SELECT user_id, events * ?8 FROM hourly_users WHERE hour BETWEEN ?5 AND ?6";
static const char k_f_raw_commands[] =
    "SELECT ts_ms, kind, command_name, user_id FROM command_usage"
    " WHERE ts_ms BETWEEN ?1 AND ?2";
static const char k_f_raw_images[] =
    "SELECT ts_ms, success, is_video, IFNULL(generation_ms, 0), resolution, user_id"
    " FROM image_stats WHERE ts_ms BETWEEN ?1 AND ?2";
static const char k_f_raw_activity[] =
    "SELECT user_id FROM user_activity WHERE ts_ms BETWEEN ?1 AND ?2";

/* The raw-only baseline: ?1 ?2 the window, ?3 the bucket length (series), ?4 active_min. */
static const char k_r_media[] =
    "SELECT COALESCE(SUM(is_video = 0), 0),"
    " COALESCE(SUM(CASE WHEN is_video = 0 THEN IFNULL(generation_ms, 0) END), 0),"
    " COALESCE(SUM(is_video <> 0), 0),"
    " COALESCE(SUM(CASE WHEN is_video <> 0 THEN IFNULL(generation_ms, 0) END), 0)"
    " FROM image_stats WHERE ts_ms BETWEEN ?1 AND ?2 AND success = 1";
static const char k_r_commands[] =
    "SELECT COALESCE(SUM(kind = 'command'), 0), COALESCE(SUM(kind = 'button'), 0)"
    " FROM command_usage WHERE ts_ms BETWEEN ?1 AND ?2";
static const char k_r_top_commands[] =
    "SELECT command_name, COUNT(*) AS n FROM command_usage"
    " WHERE ts_ms BETWEEN ?1 AND ?2 AND kind = 'command'"
    " GROUP BY command_name ORDER BY n DESC, command_name ASC LIMIT 5";
static const char k_r_top_resolutions[] =
    "SELECT resolution, COUNT(*) AS n FROM image_stats"
    " WHERE ts_ms BETWEEN ?1 AND ?2 AND success = 1 AND resolution <> ''"
    " GROUP BY resolution ORDER BY n DESC, resolution ASC LIMIT 5";
static const char k_r_users[] =
    "SELECT COUNT(*), COALESCE(SUM(n >= ?3), 0) FROM (SELECT user_id, COUNT(*) AS n FROM ("
    " SELECT user_id FROM command_usage WHERE ts_ms BETWEEN ?1 AND ?2"
    " UNION ALL SELECT user_id FROM image_stats WHERE ts_ms BETWEEN ?1 AND ?2"
    " UNION ALL SELECT user_id FROM user_activity WHERE ts_ms BETWEEN ?1 AND ?2)"
    " GROUP BY user_id)";
static const char k_r_series[] =
    "SELECT b, SUM(i), SUM(v), SUM(c) FROM ("
    " SELECT ts_ms / ?3 AS b, is_video = 0 AS i, is_video <> 0 AS v, 0 AS c FROM image_stats"
    "  WHERE ts_ms BETWEEN ?1 AND ?2 AND success = 1"
    " UNION ALL SELECT ts_ms / ?3, 0, 0, 1 FROM command_usage"
    "  WHERE ts_ms BETWEEN ?1 AND ?2 AND kind = 'command')"
    " GROUP BY b ORDER BY b";

enum {
    F_TOTALS,
    F_COMMANDS,
    F_RESOLUTIONS,
    F_USERS,
    F_RAW_COMMANDS,
    F_RAW_IMAGES,
    F_RAW_ACTIVITY,
    R_MEDIA,
    R_COMMANDS,
    R_TOP_COMMANDS,
    R_TOP_RES,
    R_USERS,
    R_SERIES,
    Q_COUNT
};

static const char *const k_queries[Q_COUNT] = {
    k_f_totals,          k_f_commands,     k_f_resolutions, k_f_users,    k_f_raw_commands,
    k_f_raw_images,      k_f_raw_activity, k_r_media,       k_r_commands, k_r_top_commands,
    k_r_top_resolutions, k_r_users,        k_r_series,
};

struct an_reader {
    sqlite3 *db;
    bool owns_db;
    unsigned active_min;
    sqlite3_stmt *q[Q_COUNT];
#ifdef FB_DEBUG
    util_owner user; /* the one thread running a query (see an_stats.h) */
#endif
};

/* The smallest multiple of unit that is >= v (v >= 0 in practice; floor division anyway). */
static int64_t ceil_to(int64_t v, int64_t unit)
{
    int64_t f = (v / unit - (v % unit < 0)) * unit;
    return f == v ? v : f + unit;
}

static int64_t floor_to(int64_t v, int64_t unit)
{
    return (v / unit - (v % unit < 0)) * unit;
}

void an_window_make(int days, int64_t now_ms, an_window *w)
{
    memset(w, 0, sizeof *w);
    w->days = days;
    w->end_ms = now_ms;
    w->start_ms = now_ms - (int64_t)days * AN_DAY_MS;
    /* Boundaries, in time order: h0 <= start <= h1 <= d1 <= d2 <= h2 <= now < h3, where h0/h1
     * are the hour boundaries around start, d1 the first day boundary at or after start, d2
     * the last day boundary at or before now, h2 the start of now's hour and h3 its end. */
    int64_t h0 = floor_to(w->start_ms, AN_HOUR_MS);
    int64_t h1 = ceil_to(w->start_ms, AN_HOUR_MS);
    int64_t d1 = ceil_to(w->start_ms, AN_DAY_MS);
    int64_t d2 = floor_to(now_ms, AN_DAY_MS);
    int64_t h2 = floor_to(now_ms, AN_HOUR_MS);
    w->head_sign = 1;
    w->head_hour_sign = 1;
    w->tail_hour_sign = 1;
    int64_t hb; /* the hour boundary the raw rows at the start reach: hours from there on */
    if (h1 == w->start_ms) { /* start on an hour boundary: no raw rows */
        hb = h1;
        w->head_lo = 1;
        w->head_hi = 0;
    } else if (w->start_ms - h0 <= h1 - w->start_ms) { /* hour h0 minus rows of [h0, start) */
        hb = h0;
        w->head_lo = h0;
        w->head_hi = w->start_ms - 1;
        w->head_sign = -1;
    } else { /* rows of [start, h1) */
        hb = h1;
        w->head_lo = w->start_ms;
        w->head_hi = h1 - 1;
    }
    w->tail_lo = now_ms + 1; /* minus the rows of (now, end of now's hour) */
    w->tail_hi = h2 + AN_HOUR_MS - 1;
    if (days == 1) {
        /* Per hour throughout, so each rollup row is one bar of the hourly chart: the hours
         * from hb to now's (a day always holds 24 or 25 of them). */
        w->day_lo = 1;
        w->day_hi = 0;
        w->head_hour_lo = hb / AN_HOUR_MS;
        w->head_hour_hi = h2 / AN_HOUR_MS;
        w->tail_hour_lo = 1;
        w->tail_hour_hi = 0;
        return;
    }
    /* The first day: the hours from hb to its end, or the whole day minus its hours before hb,
     * whichever reads fewer hours. */
    int64_t d0 = floor_to(w->start_ms, AN_DAY_MS);
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
    /* Today whole, minus its hours after now's (normally empty: nothing is stamped there). */
    w->day_hi = d2 / AN_DAY_MS;
    w->tail_hour_lo = h2 / AN_HOUR_MS + 1;
    w->tail_hour_hi = (d2 + AN_DAY_MS) / AN_HOUR_MS - 1;
    w->tail_hour_sign = -1;
}

double an_stats_avg_image_ms(const an_stats *s)
{
    return s->total_images ? (double)s->image_ms_sum / (double)s->total_images : -1.0;
}

double an_stats_avg_video_ms(const an_stats *s)
{
    return s->total_videos ? (double)s->video_ms_sum / (double)s->total_videos : -1.0;
}

/* ---- reader ------------------------------------------------------------------------------ */

static an_reader *reader_prepare(sqlite3 *db, bool owns, char *err, size_t errlen)
{
    an_reader *r = calloc(1, sizeof *r);
    if (!r) abort();
    r->db = db;
    r->owns_db = owns;
    r->active_min = AN_ACTIVE_MIN_DEFAULT;
    for (int i = 0; i < Q_COUNT; i++) {
        int rc =
            sqlite3_prepare_v3(db, k_queries[i], -1, SQLITE_PREPARE_PERSISTENT, &r->q[i], NULL);
        if (rc != SQLITE_OK) {
            an_sql_err(db, rc, "preparing the stats queries", err, errlen);
            r->owns_db = false; /* the caller closes what it passed or opened */
            an_reader_close(r);
            return NULL;
        }
    }
    return r;
}

an_reader *an_reader_wrap(sqlite3 *db, char *err, size_t errlen)
{
    return reader_prepare(db, false, err, errlen);
}

an_reader *an_reader_open(const char *path, char *err, size_t errlen)
{
    sqlite3 *db = NULL;
    char msg[256] = "";
    int rc = sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, NULL);
    if (rc != SQLITE_OK) {
        an_sql_err(db, rc, "open", msg, sizeof msg);
    } else {
        sqlite3_busy_timeout(db, 1000);
        sqlite3_extended_result_codes(db, 1);
        int v = an_schema_version(db, msg, sizeof msg);
        if (v < 0) {
            rc = SQLITE_ERROR;
        } else if (v == 0) {
            rc = SQLITE_ERROR;
            snprintf(msg, sizeof msg, "the database is empty (fluxbot has not written to it)");
        } else if (v != AN_SCHEMA_VERSION) {
            rc = SQLITE_ERROR;
            snprintf(msg, sizeof msg, "schema version %d, this build reads version %d%s", v,
                     AN_SCHEMA_VERSION,
                     v < AN_SCHEMA_VERSION ? " (start the bot once to migrate it)" : "");
        }
    }
    an_reader *r = NULL;
    if (rc == SQLITE_OK) r = reader_prepare(db, true, msg, sizeof msg);
    if (!r) {
        snprintf(err, errlen, "cannot read analytics database '%s': %s", path, msg);
        sqlite3_close_v2(db);
        return NULL;
    }
    return r;
}

void an_reader_set_active_min(an_reader *r, unsigned min_events)
{
    r->active_min = min_events ? min_events : 1;
}

void an_reader_close(an_reader *r)
{
    if (!r) return;
    for (int i = 0; i < Q_COUNT; i++)
        sqlite3_finalize(r->q[i]);
    if (r->owns_db) sqlite3_close_v2(r->db);
    free(r);
}

/* ---- shared helpers ---------------------------------------------------------------------- */

static uint64_t col_u64(sqlite3_stmt *st, int i)
{
    int64_t v = sqlite3_column_int64(st, i);
    return v > 0 ? (uint64_t)v : 0;
}

void an_stats_begin(an_stats *out, const an_window *w, unsigned active_min)
{
    memset(out, 0, sizeof *out);
    out->window = *w;
    out->active_min = active_min;
    out->bucket_ms = w->days == 1 ? AN_HOUR_MS : AN_DAY_MS;
    int64_t first = floor_to(w->start_ms, out->bucket_ms);
    int64_t last = floor_to(w->end_ms, out->bucket_ms);
    out->n_series = (unsigned)((last - first) / out->bucket_ms + 1);
    if (out->n_series > AN_SERIES_MAX) out->n_series = AN_SERIES_MAX;
    for (unsigned i = 0; i < out->n_series; i++)
        out->series[i].start_ms = first + (int64_t)i * out->bucket_ms;
}

/* Zeroes out and opens one read transaction, so every number of a query comes from the same
 * snapshot of the database (the writer may commit in between). */
static int begin_read(an_reader *r, const an_window *w, an_stats *out, char *err, size_t errlen)
{
    an_stats_begin(out, w, r->active_min);
    int rc = sqlite3_exec(r->db, "BEGIN", NULL, NULL, NULL);
    if (rc != SQLITE_OK) an_sql_err(r->db, rc, "starting the stats read", err, errlen);
    return rc;
}

an_series_point *an_stats_bar(an_stats *out, int64_t ts)
{
    if (!out->n_series || ts < out->series[0].start_ms) return NULL;
    uint64_t i = (uint64_t)((ts - out->series[0].start_ms) / out->bucket_ms);
    return i < out->n_series ? &out->series[i] : NULL;
}

/* The chart bar of a timestamp (NULL outside the series). */
static an_series_point *bar_of(an_stats *out, int64_t ts)
{
    return an_stats_bar(out, ts);
}

/* ---- the raw-only baseline ---------------------------------------------------------------- */

/* Binds the window as ?1 ?2 and, when the query has it, p3 as ?3. */
static void bind_raw(sqlite3_stmt *st, const an_stats *out, int64_t p3)
{
    sqlite3_bind_int64(st, 1, out->window.start_ms);
    sqlite3_bind_int64(st, 2, out->window.end_ms);
    if (sqlite3_bind_parameter_count(st) >= 3) sqlite3_bind_int64(st, 3, p3);
}

static int raw_row(sqlite3_stmt *st, const an_stats *out, int64_t p3, uint64_t *v, int n)
{
    bind_raw(st, out, p3);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        for (int i = 0; i < n; i++)
            v[i] = col_u64(st, i);
        rc = SQLITE_OK;
    }
    sqlite3_reset(st);
    return rc;
}

static int raw_top(sqlite3_stmt *st, const an_stats *out, an_top_item *items, unsigned *count)
{
    bind_raw(st, out, 0);
    *count = 0;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW && *count < AN_TOP_N) {
        an_top_item *it = &items[(*count)++];
        const char *name = (const char *)sqlite3_column_text(st, 0);
        snprintf(it->name, sizeof it->name, "%s", name ? name : "");
        it->count = col_u64(st, 1);
    }
    sqlite3_reset(st);
    return rc == SQLITE_DONE || rc == SQLITE_ROW ? SQLITE_OK : rc;
}

static int raw_series(sqlite3_stmt *st, an_stats *out)
{
    bind_raw(st, out, out->bucket_ms);
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        an_series_point *p = bar_of(out, sqlite3_column_int64(st, 0) * out->bucket_ms);
        if (!p) continue;
        p->images += col_u64(st, 1);
        p->videos += col_u64(st, 2);
        p->commands += col_u64(st, 3);
    }
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

static int run_raw(an_reader *r, const an_window *w, an_stats *out, char *err, size_t errlen)
{
    int rc = begin_read(r, w, out, err, errlen);
    if (rc != SQLITE_OK) return rc;
    uint64_t media[4] = {0}, cmds[2] = {0}, users[2] = {0};
    rc = raw_row(r->q[R_MEDIA], out, 0, media, 4);
    if (rc == SQLITE_OK) rc = raw_row(r->q[R_COMMANDS], out, 0, cmds, 2);
    if (rc == SQLITE_OK)
        rc = raw_top(r->q[R_TOP_COMMANDS], out, out->top_commands, &out->n_top_commands);
    if (rc == SQLITE_OK)
        rc = raw_top(r->q[R_TOP_RES], out, out->top_resolutions, &out->n_top_resolutions);
    if (rc == SQLITE_OK) rc = raw_row(r->q[R_USERS], out, r->active_min, users, 2);
    if (rc == SQLITE_OK) rc = raw_series(r->q[R_SERIES], out);
    if (rc != SQLITE_OK) an_sql_err(r->db, rc, "reading stats", err, errlen);
    sqlite3_exec(r->db, "COMMIT", NULL, NULL, NULL);
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

static void bind_rollup_ranges(sqlite3_stmt *st, const an_window *w)
{
    const int64_t v[6] = {w->day_lo,       w->day_hi,       w->head_hour_lo,
                          w->head_hour_hi, w->tail_hour_lo, w->tail_hour_hi};
    for (int i = 0; i < 6; i++)
        sqlite3_bind_int64(st, i + 1, v[i]);
    if (sqlite3_bind_parameter_count(st) >= 8) {
        sqlite3_bind_int(st, 7, w->head_hour_sign);
        sqlite3_bind_int(st, 8, w->tail_hour_sign);
    }
}

/* v added with sign (modulo 2^64: the sums end non-negative). */
static uint64_t signed_u64(uint64_t v, int sign)
{
    return sign > 0 ? v : (uint64_t)0 - v;
}

/* Signed sums while merging: counts wrap modulo 2^64 and end non-negative. */
typedef struct fast_acc {
    an_stats *out;
    an_tally names, res;
    an_idcount users;
} fast_acc;

static void bar_add(an_stats *out, int64_t ts, uint64_t images, uint64_t videos, uint64_t commands)
{
    an_series_point *p = bar_of(out, ts);
    if (!p) return;
    p->images += images;
    p->videos += videos;
    p->commands += commands;
}

static int rollup_totals(sqlite3_stmt *st, const an_window *w, an_stats *out)
{
    bind_rollup_ranges(st, w);
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        int part = sqlite3_column_int(st, 0);
        int sign = part == 1 ? w->head_hour_sign : part == 2 ? w->tail_hour_sign : 1;
        uint64_t v[6];
        for (int i = 0; i < 6; i++)
            v[i] = signed_u64(col_u64(st, i + 2), sign);
        out->total_images += v[0];
        out->image_ms_sum += v[1];
        out->total_videos += v[2];
        out->video_ms_sum += v[3];
        out->total_commands += v[4];
        out->total_buttons += v[5];
        /* A day row lands in its day's bar; an hour row in its day's (or its own) bar. */
        bar_add(out, sqlite3_column_int64(st, 1), v[0], v[2], v[4]);
    }
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

static int tally_rows(sqlite3_stmt *st, const an_window *w, an_tally *t)
{
    bind_rollup_ranges(st, w);
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) /* a signed sum, never negative in total */
        an_tally_add(t, (const char *)sqlite3_column_text(st, 0),
                     (uint64_t)sqlite3_column_int64(st, 1));
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

static int rollup_users(sqlite3_stmt *st, const an_window *w, an_idcount *users)
{
    bind_rollup_ranges(st, w);
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW)
        an_idcount_add(users, (uint64_t)sqlite3_column_int64(st, 0), sqlite3_column_int64(st, 1));
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

/* The raw rows of [lo, hi] added (sign 1) or subtracted (sign -1) from every number. */
static int raw_correct(an_reader *r, int64_t lo, int64_t hi, int sign, fast_acc *a)
{
    if (lo > hi) return SQLITE_OK;
    an_stats *out = a->out;
    uint64_t one = sign > 0 ? 1 : UINT64_MAX; /* +1 or -1 modulo 2^64 */
    sqlite3_stmt *st = r->q[F_RAW_COMMANDS];
    sqlite3_bind_int64(st, 1, lo);
    sqlite3_bind_int64(st, 2, hi);
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        an_cmd_kind k = an_cmd_kind_parse((const char *)sqlite3_column_text(st, 1));
        if (k == AN_CMD_SLASH) {
            out->total_commands += one;
            an_tally_add(&a->names, (const char *)sqlite3_column_text(st, 2), one);
            bar_add(out, sqlite3_column_int64(st, 0), 0, 0, one);
        } else if (k == AN_CMD_BUTTON) {
            out->total_buttons += one;
        }
        an_idcount_add(&a->users, (uint64_t)sqlite3_column_int64(st, 3), sign);
    }
    sqlite3_reset(st);
    if (rc != SQLITE_DONE) return rc;
    st = r->q[F_RAW_IMAGES];
    sqlite3_bind_int64(st, 1, lo);
    sqlite3_bind_int64(st, 2, hi);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        an_idcount_add(&a->users, (uint64_t)sqlite3_column_int64(st, 5), sign);
        if (sqlite3_column_int(st, 1) == 0) continue; /* failed: not in the media numbers */
        uint64_t ms = col_u64(st, 3) * one;
        bool video = sqlite3_column_int(st, 2) != 0;
        if (video) {
            out->total_videos += one;
            out->video_ms_sum += ms;
        } else {
            out->total_images += one;
            out->image_ms_sum += ms;
        }
        bar_add(out, sqlite3_column_int64(st, 0), video ? 0 : one, video ? one : 0, 0);
        const char *name = (const char *)sqlite3_column_text(st, 4);
        if (name && *name) an_tally_add(&a->res, name, one);
    }
    sqlite3_reset(st);
    if (rc != SQLITE_DONE) return rc;
    st = r->q[F_RAW_ACTIVITY];
    sqlite3_bind_int64(st, 1, lo);
    sqlite3_bind_int64(st, 2, hi);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW)
        an_idcount_add(&a->users, (uint64_t)sqlite3_column_int64(st, 0), sign);
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

static int run_fast(an_reader *r, const an_window *w, an_stats *out, char *err, size_t errlen)
{
    int rc = begin_read(r, w, out, err, errlen);
    if (rc != SQLITE_OK) return rc;
    fast_acc a = {.out = out};
    rc = rollup_totals(r->q[F_TOTALS], w, out);
    if (rc == SQLITE_OK) rc = tally_rows(r->q[F_COMMANDS], w, &a.names);
    if (rc == SQLITE_OK) rc = tally_rows(r->q[F_RESOLUTIONS], w, &a.res);
    if (rc == SQLITE_OK) rc = rollup_users(r->q[F_USERS], w, &a.users);
    if (rc == SQLITE_OK) rc = raw_correct(r, w->head_lo, w->head_hi, w->head_sign, &a);
    if (rc == SQLITE_OK) rc = raw_correct(r, w->tail_lo, w->tail_hi, -1, &a);
    if (rc != SQLITE_OK) an_sql_err(r->db, rc, "reading stats", err, errlen);
    sqlite3_exec(r->db, "COMMIT", NULL, NULL, NULL);
    an_idcount_summary(&a.users, r->active_min, &out->total_users, &out->active_users);
    an_tally_top(&a.names, out->top_commands, AN_TOP_N, &out->n_top_commands);
    an_tally_top(&a.res, out->top_resolutions, AN_TOP_N, &out->n_top_resolutions);
    an_tally_free(&a.names);
    an_tally_free(&a.res);
    an_idcount_free(&a.users);
    return rc;
}

int an_stats_days_ok(int days, char *err, size_t errlen)
{
    if (days >= AN_DAYS_MIN && days <= AN_DAYS_MAX) return 1;
    snprintf(err, errlen, "days must be from %d to %d, not %d", AN_DAYS_MIN, AN_DAYS_MAX, days);
    return 0;
}

static int check_days(int days, char *err, size_t errlen)
{
    if (days >= AN_DAYS_MIN && days <= AN_DAYS_MAX) return SQLITE_OK;
    snprintf(err, errlen, "days must be from %d to %d, not %d", AN_DAYS_MIN, AN_DAYS_MAX, days);
    return SQLITE_RANGE;
}

static int stats_fast(an_reader *r, int days, int64_t now_ms, an_stats *out, char *err,
                      size_t errlen)
{
    int rc = check_days(days, err, errlen);
    if (rc != SQLITE_OK) return rc;
    an_window w;
    an_window_make(days, now_ms, &w);
    return run_fast(r, &w, out, err, errlen);
}

int an_reader_stats(an_reader *r, int days, int64_t now_ms, an_stats *out, char *err, size_t errlen)
{
    FB_OWNER_ENTER(&r->user);
    int rc = stats_fast(r, days, now_ms, out, err, errlen);
    FB_OWNER_LEAVE(&r->user);
    return rc;
}

static int stats_raw(an_reader *r, int days, int64_t now_ms, an_stats *out, char *err,
                     size_t errlen)
{
    int rc = check_days(days, err, errlen);
    if (rc != SQLITE_OK) return rc;
    an_window w;
    an_window_make(days, now_ms, &w);
    return run_raw(r, &w, out, err, errlen);
}

int an_reader_stats_raw(an_reader *r, int days, int64_t now_ms, an_stats *out, char *err,
                        size_t errlen)
{
    FB_OWNER_ENTER(&r->user);
    int rc = stats_raw(r, days, now_ms, out, err, errlen);
    FB_OWNER_LEAVE(&r->user);
    return rc;
}
