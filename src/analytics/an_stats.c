/* /stats queries over rollups plus raw edge days, and the raw-only baseline (see an_stats.h). */
#include "analytics/an_stats.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analytics/an_schema.h"
#include "analytics/an_sqlerr.h"
#include "analytics/an_tally.h"
#include "analytics/an_time.h"
#include "util/util_assert.h"

/*
 * Every windowed query binds the same parameters (see an_window):
 *   ?1 ?2  body days (daily rollups)     ?3 ?4  head hours    ?5 ?6  tail hours (hourly rollups)
 *   ?7 ?8  head raw ts range             ?9 ?10 tail raw ts range
 * The raw-only baseline binds empty rollup ranges and the whole window as head raw.
 */
#define RAW_MEDIA(lo, hi)                                                                          \
    " SELECT is_video = 0, CASE WHEN is_video = 0 THEN IFNULL(generation_ms, 0) ELSE 0 END,"       \
    "  is_video <> 0, CASE WHEN is_video <> 0 THEN IFNULL(generation_ms, 0) ELSE 0 END"            \
    "  FROM image_stats WHERE ts_ms BETWEEN " lo " AND " hi " AND success = 1"

static const char k_q_media[] =
    "SELECT COALESCE(SUM(ni), 0), COALESCE(SUM(mi), 0), COALESCE(SUM(nv), 0),"
    " COALESCE(SUM(mv), 0) FROM ("
    " SELECT total_images AS ni, image_ms_sum AS mi, total_videos AS nv, video_ms_sum AS mv"
    "  FROM daily_stats WHERE day BETWEEN ?1 AND ?2"
    " UNION ALL SELECT total_images, image_ms_sum, total_videos, video_ms_sum"
    "  FROM hourly_stats WHERE hour BETWEEN ?3 AND ?4"
    " UNION ALL SELECT total_images, image_ms_sum, total_videos, video_ms_sum"
    "  FROM hourly_stats WHERE hour BETWEEN ?5 AND ?6"
    " UNION ALL" RAW_MEDIA("?7", "?8") " UNION ALL" RAW_MEDIA("?9", "?10") ")";

static const char k_q_commands[] =
    "SELECT COALESCE(SUM(n), 0) FROM ("
    " SELECT total_commands AS n FROM daily_stats WHERE day BETWEEN ?1 AND ?2"
    " UNION ALL SELECT total_commands FROM hourly_stats WHERE hour BETWEEN ?3 AND ?4"
    " UNION ALL SELECT total_commands FROM hourly_stats WHERE hour BETWEEN ?5 AND ?6"
    " UNION ALL SELECT COUNT(*) FROM command_usage WHERE ts_ms BETWEEN ?7 AND ?8"
    " UNION ALL SELECT COUNT(*) FROM command_usage WHERE ts_ms BETWEEN ?9 AND ?10)";

static const char k_q_top_commands[] =
    "SELECT name, SUM(n) AS total FROM ("
    " SELECT command_name AS name, count AS n FROM daily_commands WHERE day BETWEEN ?1 AND ?2"
    " UNION ALL SELECT command_name, count FROM hourly_commands WHERE hour BETWEEN ?3 AND ?4"
    " UNION ALL SELECT command_name, count FROM hourly_commands WHERE hour BETWEEN ?5 AND ?6"
    " UNION ALL SELECT command_name, 1 FROM command_usage WHERE ts_ms BETWEEN ?7 AND ?8"
    " UNION ALL SELECT command_name, 1 FROM command_usage WHERE ts_ms BETWEEN ?9 AND ?10)"
    " GROUP BY name ORDER BY total DESC, name ASC LIMIT 5";

static const char k_q_top_resolutions[] =
    "SELECT name, SUM(n) AS total FROM ("
    " SELECT resolution AS name, count AS n FROM daily_resolutions WHERE day BETWEEN ?1 AND ?2"
    " UNION ALL SELECT resolution, count FROM hourly_resolutions WHERE hour BETWEEN ?3 AND ?4"
    " UNION ALL SELECT resolution, count FROM hourly_resolutions WHERE hour BETWEEN ?5 AND ?6"
    " UNION ALL SELECT resolution, 1 FROM image_stats"
    "  WHERE ts_ms BETWEEN ?7 AND ?8 AND success = 1 AND resolution <> ''"
    " UNION ALL SELECT resolution, 1 FROM image_stats"
    "  WHERE ts_ms BETWEEN ?9 AND ?10 AND success = 1 AND resolution <> '')"
    " GROUP BY name ORDER BY total DESC, name ASC LIMIT 5";

static const char k_q_active[] =
    "SELECT COUNT(*) FROM ("
    " SELECT user_id FROM daily_users WHERE day BETWEEN ?1 AND ?2 AND commands > 0"
    " UNION SELECT user_id FROM hourly_users WHERE hour BETWEEN ?3 AND ?4"
    " UNION SELECT user_id FROM hourly_users WHERE hour BETWEEN ?5 AND ?6"
    " UNION SELECT user_id FROM command_usage WHERE ts_ms BETWEEN ?7 AND ?8"
    " UNION SELECT user_id FROM command_usage WHERE ts_ms BETWEEN ?9 AND ?10)";

static const char k_q_users[] = "SELECT COUNT(*) FROM known_users";

static const char k_q_users_raw[] =
    "SELECT COUNT(*) FROM (SELECT user_id FROM command_usage"
    " UNION SELECT user_id FROM image_stats UNION SELECT user_id FROM user_activity)";

/*
 * The fast path (an_reader_stats) reads the rollups with these (?1..?6 as above) and scans each
 * raw edge range once per table (?1 ?2 = the range), merging names and user ids in C
 * (an_tally.h) instead of letting SQLite sort unions in temporary B-trees.
 */
#define ROLLUP_BRANCHES(cols, daily, hourly, extra)                                                \
    " SELECT " cols " FROM " daily " WHERE day BETWEEN ?1 AND ?2" extra " UNION ALL SELECT " cols  \
    " FROM " hourly " WHERE hour BETWEEN ?3 AND ?4" extra " UNION ALL SELECT " cols                \
    " FROM " hourly " WHERE hour BETWEEN ?5 AND ?6" extra

static const char k_f_totals[] =
    "SELECT COALESCE(SUM(total_images), 0), COALESCE(SUM(image_ms_sum), 0),"
    " COALESCE(SUM(total_videos), 0), COALESCE(SUM(video_ms_sum), 0),"
    " COALESCE(SUM(total_commands), 0) FROM (" ROLLUP_BRANCHES(
        "total_images, image_ms_sum, total_videos, video_ms_sum, total_commands", "daily_stats",
        "hourly_stats", "") ")";
static const char k_f_commands[] = "SELECT command_name, SUM(count) FROM (" ROLLUP_BRANCHES(
    "command_name, count", "daily_commands", "hourly_commands", "") ") GROUP BY command_name";
static const char k_f_resolutions[] = "SELECT resolution, SUM(count) FROM (" ROLLUP_BRANCHES(
    "resolution, count", "daily_resolutions", "hourly_resolutions", "") ") GROUP BY resolution";
static const char k_f_users[] =
    "SELECT user_id FROM daily_users WHERE day BETWEEN ?1 AND ?2 AND commands > 0"
    " UNION ALL SELECT user_id FROM hourly_users WHERE hour BETWEEN ?3 AND ?4"
    " UNION ALL SELECT user_id FROM hourly_users WHERE hour BETWEEN ?5 AND ?6";
static const char k_f_raw_commands[] =
    "SELECT command_name, user_id FROM command_usage WHERE ts_ms BETWEEN ?1 AND ?2";
static const char k_f_raw_images[] =
    "SELECT is_video, IFNULL(generation_ms, 0), resolution FROM image_stats"
    " WHERE ts_ms BETWEEN ?1 AND ?2 AND success = 1";

enum {
    Q_MEDIA,
    Q_COMMANDS,
    Q_TOP_COMMANDS,
    Q_TOP_RES,
    Q_ACTIVE,
    Q_USERS,
    Q_USERS_RAW,
    F_TOTALS,
    F_COMMANDS,
    F_RESOLUTIONS,
    F_USERS,
    F_RAW_COMMANDS,
    F_RAW_IMAGES,
    Q_COUNT
};

static const char *const k_queries[Q_COUNT] = {
    k_q_media, k_q_commands,     k_q_top_commands, k_q_top_resolutions, k_q_active,
    k_q_users, k_q_users_raw,    k_f_totals,       k_f_commands,        k_f_resolutions,
    k_f_users, k_f_raw_commands, k_f_raw_images,
};

struct an_reader {
    sqlite3 *db;
    bool owns_db;
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

void an_window_make(int days, int64_t now_ms, an_window *w)
{
    memset(w, 0, sizeof *w);
    w->days = days;
    w->end_ms = now_ms;
    w->start_ms = now_ms - (int64_t)days * AN_DAY_MS;
    /* Boundaries, in time order: start <= h1 <= d1 <= d2 <= h2 <= now, where h1/d1 are the
     * first hour/day boundaries at or after start and d2/h2 the last ones at or before now. */
    int64_t h1 = ceil_to(w->start_ms, AN_HOUR_MS);
    int64_t d1 = ceil_to(w->start_ms, AN_DAY_MS);
    int64_t d2 = an_day_of(now_ms) * AN_DAY_MS;
    int64_t h2 = an_hour_of(now_ms) * AN_HOUR_MS;
    w->head_lo = w->start_ms; /* [start, h1) */
    w->head_hi = h1 - 1;
    w->head_hour_lo = h1 / AN_HOUR_MS; /* [h1, d1) */
    w->head_hour_hi = d1 / AN_HOUR_MS - 1;
    w->day_lo = d1 / AN_DAY_MS; /* [d1, d2) */
    w->day_hi = d2 / AN_DAY_MS - 1;
    w->tail_hour_lo = d2 / AN_HOUR_MS; /* [d2, h2) */
    w->tail_hour_hi = h2 / AN_HOUR_MS - 1;
    w->tail_lo = h2; /* [h2, now] */
    w->tail_hi = now_ms;
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

void an_reader_close(an_reader *r)
{
    if (!r) return;
    for (int i = 0; i < Q_COUNT; i++)
        sqlite3_finalize(r->q[i]);
    if (r->owns_db) sqlite3_close_v2(r->db);
    free(r);
}

/* ---- queries ----------------------------------------------------------------------------- */

static void bind_window(sqlite3_stmt *st, const an_window *w)
{
    const int64_t v[10] = {w->day_lo,       w->day_hi,       w->head_hour_lo, w->head_hour_hi,
                           w->tail_hour_lo, w->tail_hour_hi, w->head_lo,      w->head_hi,
                           w->tail_lo,      w->tail_hi};
    for (int i = 0; i < 10; i++)
        sqlite3_bind_int64(st, i + 1, v[i]);
}

/* Runs a one-row query; copies up to n integer columns into out. */
static int one_row(sqlite3_stmt *st, const an_window *w, uint64_t *out, int n)
{
    if (w) bind_window(st, w);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        for (int i = 0; i < n; i++) {
            int64_t v = sqlite3_column_int64(st, i);
            out[i] = v > 0 ? (uint64_t)v : 0;
        }
        rc = SQLITE_OK;
    }
    sqlite3_reset(st);
    return rc;
}

static int top_list(sqlite3_stmt *st, const an_window *w, an_top_item *items, unsigned *count)
{
    bind_window(st, w);
    *count = 0;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW && *count < AN_TOP_N) {
        an_top_item *it = &items[(*count)++];
        const char *name = (const char *)sqlite3_column_text(st, 0);
        snprintf(it->name, sizeof it->name, "%s", name ? name : "");
        int64_t n = sqlite3_column_int64(st, 1);
        it->count = n > 0 ? (uint64_t)n : 0;
    }
    sqlite3_reset(st);
    return rc == SQLITE_DONE || rc == SQLITE_ROW ? SQLITE_OK : rc;
}

/* Zeroes out and opens one read transaction, so every number of a query comes from the same
 * snapshot of the database (the writer may commit in between). */
static int begin_read(an_reader *r, const an_window *w, an_stats *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    out->window = *w;
    int rc = sqlite3_exec(r->db, "BEGIN", NULL, NULL, NULL);
    if (rc != SQLITE_OK) an_sql_err(r->db, rc, "starting the stats read", err, errlen);
    return rc;
}

/* The SQL path: every number from one SQL query (used for the raw-only baseline). */
static int run_sql(an_reader *r, const an_window *w, bool raw_users, an_stats *out, char *err,
                   size_t errlen)
{
    int rc = begin_read(r, w, out, err, errlen);
    if (rc != SQLITE_OK) return rc;
    uint64_t media[4] = {0};
    rc = one_row(r->q[Q_MEDIA], w, media, 4);
    if (rc == SQLITE_OK) rc = one_row(r->q[Q_COMMANDS], w, &out->total_commands, 1);
    if (rc == SQLITE_OK)
        rc = top_list(r->q[Q_TOP_COMMANDS], w, out->top_commands, &out->n_top_commands);
    if (rc == SQLITE_OK)
        rc = top_list(r->q[Q_TOP_RES], w, out->top_resolutions, &out->n_top_resolutions);
    if (rc == SQLITE_OK) rc = one_row(r->q[Q_ACTIVE], w, &out->active_users, 1);
    if (rc == SQLITE_OK)
        rc = one_row(r->q[raw_users ? Q_USERS_RAW : Q_USERS], NULL, &out->total_users, 1);
    if (rc != SQLITE_OK) an_sql_err(r->db, rc, "reading stats", err, errlen);
    sqlite3_exec(r->db, "COMMIT", NULL, NULL, NULL);
    out->total_images = media[0];
    out->image_ms_sum = media[1];
    out->total_videos = media[2];
    out->video_ms_sum = media[3];
    return rc;
}

/* ---- the fast path ------------------------------------------------------------------------ */

static void bind_rollup_ranges(sqlite3_stmt *st, const an_window *w)
{
    const int64_t v[6] = {w->day_lo,       w->day_hi,       w->head_hour_lo,
                          w->head_hour_hi, w->tail_hour_lo, w->tail_hour_hi};
    for (int i = 0; i < 6; i++)
        sqlite3_bind_int64(st, i + 1, v[i]);
}

static uint64_t col_u64(sqlite3_stmt *st, int i)
{
    int64_t v = sqlite3_column_int64(st, i);
    return v > 0 ? (uint64_t)v : 0;
}

/* Rows of (name, count) into the tally. */
static int tally_rows(sqlite3_stmt *st, const an_window *w, an_tally *t)
{
    bind_rollup_ranges(st, w);
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW)
        an_tally_add(t, (const char *)sqlite3_column_text(st, 0), col_u64(st, 1));
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

static int rollup_users(sqlite3_stmt *st, const an_window *w, an_idset *users)
{
    bind_rollup_ranges(st, w);
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW)
        an_idset_add(users, (uint64_t)sqlite3_column_int64(st, 0));
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

/* One raw range of command_usage: count, per-name counts, users. */
static int raw_commands(sqlite3_stmt *st, int64_t lo, int64_t hi, an_stats *out, an_tally *names,
                        an_idset *users)
{
    if (lo > hi) return SQLITE_OK;
    sqlite3_bind_int64(st, 1, lo);
    sqlite3_bind_int64(st, 2, hi);
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        out->total_commands++;
        an_tally_add(names, (const char *)sqlite3_column_text(st, 0), 1);
        an_idset_add(users, (uint64_t)sqlite3_column_int64(st, 1));
    }
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

/* One raw range of successful generations: media counts and sums, resolutions. */
static int raw_images(sqlite3_stmt *st, int64_t lo, int64_t hi, an_stats *out, an_tally *res)
{
    if (lo > hi) return SQLITE_OK;
    sqlite3_bind_int64(st, 1, lo);
    sqlite3_bind_int64(st, 2, hi);
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        uint64_t ms = col_u64(st, 1);
        if (sqlite3_column_int(st, 0) != 0) {
            out->total_videos++;
            out->video_ms_sum += ms;
        } else {
            out->total_images++;
            out->image_ms_sum += ms;
        }
        const char *name = (const char *)sqlite3_column_text(st, 2);
        if (name && *name) an_tally_add(res, name, 1);
    }
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

static int run_fast(an_reader *r, const an_window *w, an_stats *out, char *err, size_t errlen)
{
    int rc = begin_read(r, w, out, err, errlen);
    if (rc != SQLITE_OK) return rc;
    an_tally names = {0}, res = {0};
    an_idset users = {0};
    uint64_t t[5] = {0};
    sqlite3_stmt *totals = r->q[F_TOTALS];
    bind_rollup_ranges(totals, w);
    rc = one_row(totals, NULL, t, 5);
    if (rc == SQLITE_OK) rc = tally_rows(r->q[F_COMMANDS], w, &names);
    if (rc == SQLITE_OK) rc = tally_rows(r->q[F_RESOLUTIONS], w, &res);
    if (rc == SQLITE_OK) rc = rollup_users(r->q[F_USERS], w, &users);
    sqlite3_stmt *rc_st = r->q[F_RAW_COMMANDS], *ri_st = r->q[F_RAW_IMAGES];
    if (rc == SQLITE_OK) rc = raw_commands(rc_st, w->head_lo, w->head_hi, out, &names, &users);
    if (rc == SQLITE_OK) rc = raw_commands(rc_st, w->tail_lo, w->tail_hi, out, &names, &users);
    if (rc == SQLITE_OK) rc = raw_images(ri_st, w->head_lo, w->head_hi, out, &res);
    if (rc == SQLITE_OK) rc = raw_images(ri_st, w->tail_lo, w->tail_hi, out, &res);
    if (rc == SQLITE_OK) rc = one_row(r->q[Q_USERS], NULL, &out->total_users, 1);
    if (rc != SQLITE_OK) an_sql_err(r->db, rc, "reading stats", err, errlen);
    sqlite3_exec(r->db, "COMMIT", NULL, NULL, NULL);
    out->total_images += t[0];
    out->image_ms_sum += t[1];
    out->total_videos += t[2];
    out->video_ms_sum += t[3];
    out->total_commands += t[4];
    out->active_users = an_idset_count(&users);
    an_tally_top(&names, out->top_commands, AN_TOP_N, &out->n_top_commands);
    an_tally_top(&res, out->top_resolutions, AN_TOP_N, &out->n_top_resolutions);
    an_tally_free(&names);
    an_tally_free(&res);
    an_idset_free(&users);
    return rc;
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
    /* No rollups: the whole window from the raw tables. */
    an_window raw = {.days = days,
                     .start_ms = w.start_ms,
                     .end_ms = w.end_ms,
                     .day_lo = 1,
                     .head_hour_lo = 1,
                     .tail_hour_lo = 1,
                     .head_lo = w.start_ms,
                     .head_hi = w.end_ms,
                     .tail_lo = 1};
    rc = run_sql(r, &raw, true, out, err, errlen);
    out->window = w;
    return rc;
}

int an_reader_stats_raw(an_reader *r, int days, int64_t now_ms, an_stats *out, char *err,
                        size_t errlen)
{
    FB_OWNER_ENTER(&r->user);
    int rc = stats_raw(r, days, now_ms, out, err, errlen);
    FB_OWNER_LEAVE(&r->user);
    return rc;
}
