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
 * The fast path binds the rollup ranges ?1 ?2 (days), ?3 ?4 (head hours), ?5 ?6 (tail hours),
 * ?7 ?8 (head minutes), ?9 ?10 (tail minutes), and the signs of the four partial pieces as
 * ?11 .. ?14. Names are merged in C (an_tally.h) instead of letting SQLite sort unions in
 * temporary B-trees.
 */
#define ROLLUP_BRANCHES(cols, scaled, daily, hourly, minute)                                       \
    " SELECT " cols ", " scaled " AS n FROM " daily " WHERE day BETWEEN ?1 AND ?2"                 \
    " UNION ALL SELECT " cols ", " scaled " * ?11 FROM " hourly " WHERE hour BETWEEN ?3 AND ?4"    \
    " UNION ALL SELECT " cols ", " scaled " * ?12 FROM " hourly " WHERE hour BETWEEN ?5 AND ?6"    \
    " UNION ALL SELECT " cols ", " scaled " * ?13 FROM " minute " WHERE minute BETWEEN ?7 AND ?8"  \
    " UNION ALL SELECT " cols ", " scaled " * ?14 FROM " minute " WHERE minute BETWEEN ?9 AND ?10"

#define TOTALS_COLS                                                                                \
    "total_images, image_ms_sum, total_videos, video_ms_sum, total_commands,"                      \
    " total_buttons"
/* Per bucket: the part (0 days, 1 head hours, 2 tail hours, 3 head minutes, 4 tail minutes),
 * the ms of its start, images, image ms, videos, video ms, commands, buttons. */
static const char k_f_totals[] =
    "SELECT 0, day * 86400000, " TOTALS_COLS " FROM daily_stats WHERE day BETWEEN ?1 AND ?2"
    " UNION ALL SELECT 1, hour * 3600000, " TOTALS_COLS " FROM hourly_stats"
    "  WHERE hour BETWEEN ?3 AND ?4"
    " UNION ALL SELECT 2, hour * 3600000, " TOTALS_COLS " FROM hourly_stats"
    "  WHERE hour BETWEEN ?5 AND ?6"
    " UNION ALL SELECT 3, minute * 60000, " TOTALS_COLS " FROM minute_stats"
    "  WHERE minute BETWEEN ?7 AND ?8"
    " UNION ALL SELECT 4, minute * 60000, " TOTALS_COLS " FROM minute_stats"
    "  WHERE minute BETWEEN ?9 AND ?10";
static const char k_f_commands[] = "SELECT command_name, SUM(n) FROM (" ROLLUP_BRANCHES(
    "command_name", "count", "daily_commands", "hourly_commands",
    "minute_commands") ") GROUP BY command_name";
static const char k_f_resolutions[] = "SELECT resolution, SUM(n) FROM (" ROLLUP_BRANCHES(
    "resolution", "count", "daily_resolutions", "hourly_resolutions",
    "minute_resolutions") ") GROUP BY resolution";
/* Per user with an event at or after the first minute ?1: its events up to the last minute ?2
 * minus those before ?1. Each cumulative count is one lookup in user_minutes, skipped when
 * known_users answers it (first event inside the window: 0 before; newest event not after the
 * window: all its events). */
static const char k_f_users[] =
    "SELECT CASE WHEN k.last_minute <= ?2 THEN k.events ELSE IFNULL((SELECT cum FROM user_minutes"
    "  m WHERE m.user_id = k.user_id AND m.minute <= ?2 ORDER BY m.minute DESC LIMIT 1), 0) END"
    " - CASE WHEN k.first_seen_ms >= ?1 * 60000 THEN 0 ELSE IFNULL((SELECT cum FROM user_minutes"
    "  m WHERE m.user_id = k.user_id AND m.minute < ?1 ORDER BY m.minute DESC LIMIT 1), 0) END"
    " FROM known_users k WHERE k.last_minute >= ?1";
static const char k_f_horizon[] = "SELECT value FROM meta WHERE key = 'minute_horizon'";

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
    F_HORIZON,
    R_MEDIA,
    R_COMMANDS,
    R_TOP_COMMANDS,
    R_TOP_RES,
    R_USERS,
    R_SERIES,
    Q_COUNT
};

static const char *const k_queries[Q_COUNT] = {
    k_f_totals,   k_f_commands,     k_f_resolutions,     k_f_users, k_f_horizon, k_r_media,
    k_r_commands, k_r_top_commands, k_r_top_resolutions, k_r_users, k_r_series,
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

/* The largest multiple of unit that is <= v (floor division, also right for negatives). */
static int64_t floor_to(int64_t v, int64_t unit)
{
    return (v / unit - (v % unit < 0)) * unit;
}

void an_window_make(int days, int64_t now_ms, an_window *w)
{
    memset(w, 0, sizeof *w);
    w->days = days;
    w->now_ms = now_ms;
    /* In minutes: ms = the window's first minute, me = its last (now's). */
    const int64_t me = an_time_minute_of(now_ms), ms = me - (int64_t)days * 1440 + 1;
    w->first_minute = ms;
    w->last_minute = me;
    w->start_ms = ms * AN_TIME_MINUTE_MS;
    w->end_ms = (me + 1) * AN_TIME_MINUTE_MS - 1;
    const int64_t hs = floor_to(ms, 60) / 60; /* the start's hour */
    const int64_t he = floor_to(me, 60) / 60; /* now's hour */
    const int64_t off = ms - hs * 60;         /* minutes of the start's hour before the start */
    w->head_min_sign = 1;
    w->head_hour_sign = 1;
    w->tail_hour_sign = 1;
    int64_t hb; /* the hour boundary the head minutes reach: whole hours from there on */
    w->head_min_lo = 1;
    w->head_min_hi = 0;
    if (off == 0) { /* start on an hour boundary: no minutes */
        hb = hs;
    } else if (off <= 60 - off) { /* hour hs minus its minutes before the start */
        hb = hs;
        w->head_min_lo = hs * 60;
        w->head_min_hi = ms - 1;
        w->head_min_sign = -1;
    } else { /* the minutes of [start, next hour) */
        hb = hs + 1;
        w->head_min_lo = ms;
        w->head_min_hi = hs * 60 + 59;
    }
    /* Minus the minutes after now's in now's hour (normally empty: nothing is stamped there). */
    w->tail_min_lo = me + 1;
    w->tail_min_hi = he * 60 + 59;
    if (days == 1) {
        /* Per hour throughout, so each rollup row is one bar of the hourly chart: the hours
         * from hb to now's (a day always holds 24 or 25 of them). */
        w->day_lo = 1;
        w->day_hi = 0;
        w->head_hour_lo = hb;
        w->head_hour_hi = he;
        w->tail_hour_lo = 1;
        w->tail_hour_hi = 0;
        return;
    }
    /* The first day: the hours from hb to its end, or the whole day minus its hours before hb,
     * whichever reads fewer hours. */
    const int64_t d0 = floor_to(hb, 24) / 24; /* the day of hb */
    const int64_t before = hb - d0 * 24;      /* its hours before hb */
    if (before == 0) {
        w->day_lo = d0;
        w->head_hour_lo = 1;
        w->head_hour_hi = 0;
    } else if (before < 24 - before) {
        w->day_lo = d0;
        w->head_hour_lo = d0 * 24;
        w->head_hour_hi = hb - 1;
        w->head_hour_sign = -1;
    } else {
        w->day_lo = d0 + 1;
        w->head_hour_lo = hb;
        w->head_hour_hi = d0 * 24 + 23;
    }
    /* Today whole, minus its hours after now's (normally empty: nothing is stamped there). */
    const int64_t de = floor_to(he, 24) / 24;
    w->day_hi = de;
    w->tail_hour_lo = he + 1;
    w->tail_hour_hi = de * 24 + 23;
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
        /* A /stats answer looks up one or two user_minutes pages per user of the window:
         * keep them in this connection's cache (32 MB) rather than read them again from the
         * file at each query (SQLite's default cache is 2 MB). */
        sqlite3_exec(db, "PRAGMA cache_size=-32768", NULL, NULL, NULL);
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

void an_stats_copy(an_stats *dst, const an_stats *src)
{
    unsigned n = src->n_series < AN_SERIES_MAX ? src->n_series : AN_SERIES_MAX;
    memcpy(dst, src, offsetof(an_stats, series) + n * sizeof src->series[0]);
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
    const int64_t v[10] = {w->day_lo,       w->day_hi,       w->head_hour_lo, w->head_hour_hi,
                           w->tail_hour_lo, w->tail_hour_hi, w->head_min_lo,  w->head_min_hi,
                           w->tail_min_lo,  w->tail_min_hi};
    for (int i = 0; i < 10; i++)
        sqlite3_bind_int64(st, i + 1, v[i]);
    if (sqlite3_bind_parameter_count(st) >= 14) {
        sqlite3_bind_int(st, 11, w->head_hour_sign);
        sqlite3_bind_int(st, 12, w->tail_hour_sign);
        sqlite3_bind_int(st, 13, w->head_min_sign);
        sqlite3_bind_int(st, 14, -1);
    }
}

/* v added with sign (modulo 2^64: the sums end non-negative). */
static uint64_t signed_u64(uint64_t v, int sign)
{
    return sign > 0 ? v : (uint64_t)0 - v;
}

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
    const int signs[5] = {1, w->head_hour_sign, w->tail_hour_sign, w->head_min_sign, -1};
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        int part = sqlite3_column_int(st, 0);
        int sign = part >= 0 && part < 5 ? signs[part] : 1;
        uint64_t v[6];
        for (int i = 0; i < 6; i++)
            v[i] = signed_u64(col_u64(st, i + 2), sign);
        out->total_images += v[0];
        out->image_ms_sum += v[1];
        out->total_videos += v[2];
        out->video_ms_sum += v[3];
        out->total_commands += v[4];
        out->total_buttons += v[5];
        /* A row lands in the bar of the day (or hour) it belongs to. */
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

/* Total Users (>= 1 event in the window) and Active Users (>= active_min). */
static int rollup_users(sqlite3_stmt *st, const an_window *w, unsigned active_min, an_stats *out)
{
    sqlite3_bind_int64(st, 1, w->first_minute);
    sqlite3_bind_int64(st, 2, w->last_minute);
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        int64_t n = sqlite3_column_int64(st, 0);
        if (n >= 1) out->total_users++;
        if (n >= (int64_t)active_min) out->active_users++;
    }
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

/* Whether the minute rollups still hold the start's hour (see AN_ROLLUP_MINUTE_KEEP_DAYS). */
static int rollups_cover(an_reader *r, const an_window *w, bool *yes)
{
    sqlite3_stmt *st = r->q[F_HORIZON];
    int64_t horizon = 0;
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        horizon = sqlite3_column_int64(st, 0);
        rc = SQLITE_DONE;
    }
    sqlite3_reset(st);
    *yes = floor_to(w->first_minute, 60) >= horizon;
    return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

static int run_fast(an_reader *r, const an_window *w, an_stats *out, char *err, size_t errlen)
{
    int rc = begin_read(r, w, out, err, errlen);
    if (rc != SQLITE_OK) return rc;
    bool covered = true;
    rc = rollups_cover(r, w, &covered);
    if (rc == SQLITE_OK && !covered) {
        /* A window older than the minute rollups: the raw rows (its own transaction). */
        sqlite3_exec(r->db, "COMMIT", NULL, NULL, NULL);
        return run_raw(r, w, out, err, errlen);
    }
    an_tally names = {0}, res = {0};
    if (rc == SQLITE_OK) rc = rollup_totals(r->q[F_TOTALS], w, out);
    if (rc == SQLITE_OK) rc = tally_rows(r->q[F_COMMANDS], w, &names);
    if (rc == SQLITE_OK) rc = tally_rows(r->q[F_RESOLUTIONS], w, &res);
    if (rc == SQLITE_OK) rc = rollup_users(r->q[F_USERS], w, r->active_min, out);
    if (rc != SQLITE_OK) an_sql_err(r->db, rc, "reading stats", err, errlen);
    sqlite3_exec(r->db, "COMMIT", NULL, NULL, NULL);
    an_tally_top(&names, out->top_commands, AN_TOP_N, &out->n_top_commands);
    an_tally_top(&res, out->top_resolutions, AN_TOP_N, &out->n_top_resolutions);
    an_tally_free(&names);
    an_tally_free(&res);
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
