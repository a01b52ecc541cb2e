/* The analytics store on real SQLite files: schema and migrations, open failures; and on both
 * engines (SQLite and the test script's PostgreSQL, through an_engine.h): batched writes keeping
 * the rollups equal to the raw tables, resets by sequence number, outcomes, results, and the
 * two engines giving identical tables and answers for one stream of events. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "analytics/an_engine.h"
#include "analytics/an_view.h"
#include "analytics/an_schema.h"
#include "analytics/an_stats.h"
#include "analytics/an_store.h"
#include "analytics/an_time.h"
#include "test_an_stats_eq.h"
#include "test_an_util.h"
#include "tpg.h"

#define DAY AN_DAY_MS
/* 2024-03-10 15:00:00 UTC */
#define NOW 1710082800000LL

static int setup(void **state)
{
    tdir *d = calloc(1, sizeof *d);
    tdir_make(d);
    *state = d;
    return 0;
}

static int teardown(void **state)
{
    tdir_remove(*state);
    free(*state);
    return 0;
}

static an_store *open_store(tdir *d, const char *name)
{
    char path[512], err[512] = "";
    tdir_file(d, name, path, sizeof path);
    an_store *s = an_store_open(path, err, sizeof err);
    if (!s) fprintf(stderr, "open failed: %s\n", err);
    assert_non_null(s);
    return s;
}

static void write_events(an_store *s, an_event *evs, size_t n)
{
    const an_event **p = calloc(n, sizeof *p);
    for (size_t i = 0; i < n; i++)
        p[i] = &evs[i];
    char err[512] = "";
    int rc = an_store_write(s, p, n, err, sizeof err);
    if (rc != SQLITE_OK) fprintf(stderr, "write failed: %s\n", err);
    assert_int_equal(rc, SQLITE_OK);
    free(p);
}

static void free_events(an_event *evs, size_t n)
{
    for (size_t i = 0; i < n; i++)
        an_event_clear(&evs[i]);
}

/* ---- schema ------------------------------------------------------------------------------ */

static void test_fresh_schema(void **state)
{
    an_store *s = open_store(*state, "a.db");
    sqlite3 *db = an_store_db(s);
    char err[256];
    assert_int_equal(an_schema_version(db, err, sizeof err), AN_SCHEMA_VERSION);
    assert_int_equal(sql_int(db, "SELECT COUNT(*) FROM schema_version"), AN_SCHEMA_VERSION);
    assert_int_equal(sql_int(db, "SELECT COUNT(*) FROM pragma_journal_mode WHERE journal_mode"
                                 " = 'wal'"),
                     1);
    assert_int_equal(sql_int(db, "PRAGMA synchronous"), 1); /* NORMAL */
    const char *tables[] = {
        "command_usage",  "image_stats",       "user_activity",      "daily_stats",
        "daily_commands", "daily_resolutions", "daily_users",        "known_users",
        "meta",           "hourly_stats",      "hourly_commands",    "hourly_resolutions",
        "minute_stats",   "minute_commands",   "minute_resolutions", "user_minutes"};
    for (size_t i = 0; i < sizeof tables / sizeof tables[0]; i++) {
        char q[256];
        snprintf(q, sizeof q, "SELECT COUNT(*) FROM sqlite_master WHERE type='table' AND name='%s'",
                 tables[i]);
        assert_int_equal(sql_int(db, q), 1);
    }
    /* Every tracked field of the spec is a column. */
    assert_int_equal(sql_int(db, "SELECT COUNT(*) FROM pragma_table_info('image_stats') WHERE"
                                 " name IN ('user_id','prompt','resolution','loras',"
                                 "'upscale_factor','generation_ms','is_video','generation_type',"
                                 "'ts_ms')"),
                     9);
    assert_int_equal(sql_int(db, "SELECT COUNT(*) FROM pragma_table_info('command_usage') WHERE"
                                 " name IN ('command_name','user_id','guild_id','channel_id',"
                                 "'ts_ms','execution_ms','success')"),
                     7);
    assert_int_equal(sql_int(db, "SELECT COUNT(*) FROM pragma_table_info('user_activity') WHERE"
                                 " name IN ('user_id','guild_id','action_type','ts_ms','details')"),
                     5);
    /* The window queries use the time indexes. */
    assert_int_equal(sql_int(db, "SELECT COUNT(*) FROM sqlite_master WHERE type='index' AND name"
                                 " IN ('command_usage_by_time','image_stats_by_time',"
                                 "'user_activity_by_time')"),
                     3);
    assert_int_equal(an_store_seq_hwm(s), 0);
    an_store_close(s);

    /* Reopening applies nothing twice. */
    s = open_store(*state, "a.db");
    assert_int_equal(sql_int(an_store_db(s), "SELECT COUNT(*) FROM schema_version"),
                     AN_SCHEMA_VERSION);
    an_store_close(s);
}

/* A database left at an older schema version, with raw rows in it, is brought forward on open
 * and its rollups are computed from those rows. */
static void migrate_from(tdir *d, int from)
{
    char path[512], err[512] = "", name[32];
    snprintf(name, sizeof name, "v%d.db", from);
    tdir_file(d, name, path, sizeof path);
    sqlite3 *db;
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    assert_int_equal(an_schema_pragmas(db, err, sizeof err), SQLITE_OK);
    assert_int_equal(an_schema_migrate(db, from, err, sizeof err), SQLITE_OK);
    assert_int_equal(an_schema_version(db, err, sizeof err), from);
    char sql[1024];
    snprintf(sql, sizeof sql,
             "INSERT INTO command_usage(seq, command_name, user_id, ts_ms, success) VALUES"
             " (5, 'comfy', 11, %lld, 1), (6, 'comfy', 12, %lld, 0), (9, 'stats', 11, %lld, 1),"
             " (10, 'button:upscale', 12, %lld, 1);"
             "INSERT INTO image_stats(seq, user_id, resolution, generation_ms, is_video, ts_ms,"
             " loras) VALUES (7, 13, '1024x1024', 3000, 0, %lld, 'Anime Style, Watercolor'),"
             " (8, 11, '', 50000, 1, %lld, NULL);",
             NOW - 2 * DAY, NOW - 2 * DAY, NOW, NOW - 2 * DAY, NOW - 2 * DAY, NOW);
    assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);

    an_store *s = open_store(d, name);
    db = an_store_db(s);
    assert_int_equal(an_schema_version(db, err, sizeof err), AN_SCHEMA_VERSION);
    assert_int_equal(an_store_seq_hwm(s), 10);
    int64_t day2 = an_day_of(NOW - 2 * DAY), today = an_day_of(NOW);
    snprintf(sql, sizeof sql,
             "SELECT total_commands, failed_commands, total_images, image_ms_sum, unique_users"
             " FROM daily_stats WHERE day = %lld",
             (long long)day2);
    assert_int_equal(sql_diff(db, sql, "SELECT 2, 1, 1, 3000, 3"), 0);
    snprintf(sql, sizeof sql,
             "SELECT total_commands, total_videos, video_ms_sum, unique_users, date"
             " FROM daily_stats WHERE day = %lld",
             (long long)today);
    assert_int_equal(sql_diff(db, sql, "SELECT 1, 1, 50000, 1, '2024-03-10'"), 0);
    assert_int_equal(sql_diff(db, "SELECT command_name, SUM(count) FROM daily_commands GROUP BY 1",
                              "VALUES ('comfy', 2), ('stats', 1)"),
                     0);
    assert_int_equal(sql_int(db, "SELECT COUNT(*) FROM known_users"), 3);
    assert_int_equal(sql_int(db, "SELECT COUNT(*) FROM user_minutes"), 4);
    assert_int_equal(sql_int(db, "SELECT SUM(events) FROM known_users"), 6);
    assert_int_equal(sql_int(db, "SELECT COUNT(*) FROM sqlite_master WHERE name = 'hourly_users'"),
                     0);
    /* v5: kinds from the names, LoRA lists as JSON, sizes split from "WxH" labels. */
    assert_int_equal(sql_int(db, "SELECT COUNT(*) FROM command_usage WHERE kind = 'button'"
                                 " AND command_name = 'button:upscale'"),
                     1);
    assert_int_equal(sql_int(db, "SELECT COUNT(*) FROM image_stats WHERE loras ="
                                 " '[\"Anime Style\",\"Watercolor\"]' AND width = 1024"
                                 " AND height = 1024"),
                     1);
    assert_int_equal(sql_int(db, "SELECT COUNT(*) FROM image_stats WHERE loras = '[]'"), 1);
    assert_int_equal(sql_int(db, "SELECT SUM(total_buttons) FROM daily_stats"), 1);
    assert_rollups_match_raw(db);
    /* The human-readable daily summary. */
    snprintf(sql, sizeof sql,
             "SELECT date, total_commands, popular_commands, popular_resolutions,"
             " avg_generation_ms FROM daily_report WHERE day = %lld",
             (long long)day2);
    assert_int_equal(
        sql_diff(db, sql, "SELECT '2024-03-08', 2, '{\"comfy\":2}', '{\"1024x1024\":1}', 3000.0"),
        0);
    an_store_close(s);
}

static void test_migrations_roll_up_existing_rows(void **state)
{
    /* Databases from before the last rollup change (v3). Rows of a v3 database were written
     * with their rollups, and v4 adds only a view. */
    for (int from = 1; from < 3; from++)
        migrate_from(*state, from);
}

static void test_refuses_foreign_database(void **state)
{
    char path[512], err[512] = "";
    tdir_file(*state, "analytics.db", path, sizeof path);
    sqlite3 *db;
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    /* The Python original's table. */
    assert_int_equal(sqlite3_exec(db,
                                  "CREATE TABLE command_usage(id INTEGER PRIMARY KEY, command_name"
                                  " TEXT, user_id TEXT, timestamp REAL)",
                                  NULL, NULL, NULL),
                     SQLITE_OK);
    sqlite3_close(db);
    assert_null(an_store_open(path, err, sizeof err));
    assert_non_null(strstr(err, "not a fluxbot analytics database"));
    assert_non_null(strstr(err, path));
}

static void test_refuses_newer_schema(void **state)
{
    an_store *s = open_store(*state, "n.db");
    assert_int_equal(
        sqlite3_exec(an_store_db(s), "INSERT INTO schema_version VALUES (99, 0)", NULL, NULL, NULL),
        SQLITE_OK);
    an_store_close(s);
    char path[512], err[512] = "";
    tdir_file(*state, "n.db", path, sizeof path);
    assert_null(an_store_open(path, err, sizeof err));
    assert_non_null(strstr(err, "newer"));
}

static void test_cannot_open_missing_directory(void **state)
{
    char path[512], err[512] = "";
    tdir_file(*state, "no/such/dir/x.db", path, sizeof path);
    assert_null(an_store_open(path, err, sizeof err));
    assert_non_null(strstr(err, path));
    assert_non_null(strstr(err, "cannot open"));
    assert_null(an_store_open("", err, sizeof err));
}

static void test_corrupt_file(void **state)
{
    char path[512], err[512] = "";
    tdir_file(*state, "garbage.db", path, sizeof path);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    for (int i = 0; i < 8192; i++)
        fputc((i * 7919) & 0xff, f);
    fclose(f);
    assert_null(an_store_open(path, err, sizeof err));
    assert_non_null(strstr(err, "not a database"));
    assert_non_null(strstr(err, path));
}

static void test_read_only_file(void **state)
{
    an_store *s = open_store(*state, "ro.db");
    an_store_close(s);
    char path[512], err[512] = "";
    tdir_file(*state, "ro.db", path, sizeof path);
    assert_int_equal(make_unwritable(path, 1), 0);
    assert_null(an_store_open(path, err, sizeof err));
    assert_non_null(strstr(err, "read-only"));
    assert_int_equal(make_unwritable(path, 0), 0);
}

/* ---- writes ------------------------------------------------------------------------------ */

static void test_snowflakes_and_fields_round_trip(void **state)
{
    an_store *s = open_store(*state, "rt.db");
    an_event evs[3];
    evs[0] = ev_command(1, NOW, 1234567890123456789ULL, "comfy", true);
    evs[0].guild_id = 0; /* DM */
    evs[0].channel_id = 18446744073709551615ULL;
    evs[1] =
        ev_image(2, NOW, 9223372036854775813ULL, "16:9 [1920x1080 landscape]", 4200, false, true);
    evs[1].upscale_factor = 2;
    evs[2] = ev_activity(3, NOW, 42, "job_queued");
    write_events(s, evs, 3);
    sqlite3 *db = an_store_db(s);
    sqlite3_stmt *st;
    assert_int_equal(sqlite3_prepare_v2(db,
                                        "SELECT user_id, guild_id, channel_id, ts_ms, seq,"
                                        " execution_ms, success FROM command_usage",
                                        -1, &st, NULL),
                     SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    assert_true((uint64_t)sqlite3_column_int64(st, 0) == 1234567890123456789ULL);
    assert_int_equal(sqlite3_column_type(st, 1), SQLITE_NULL);
    assert_true((uint64_t)sqlite3_column_int64(st, 2) == 18446744073709551615ULL);
    assert_true(sqlite3_column_int64(st, 3) == NOW);
    assert_int_equal(sqlite3_column_int64(st, 4), 1);
    assert_int_equal(sqlite3_column_int64(st, 5), 120);
    assert_int_equal(sqlite3_column_int64(st, 6), 1);
    sqlite3_finalize(st);
    assert_int_equal(sqlite3_prepare_v2(db,
                                        "SELECT user_id, resolution, upscale_factor, generation_ms,"
                                        " is_video, generation_type, prompt FROM image_stats",
                                        -1, &st, NULL),
                     SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    assert_true((uint64_t)sqlite3_column_int64(st, 0) == 9223372036854775813ULL);
    assert_string_equal(sqlite3_column_text(st, 1), "16:9 [1920x1080 landscape]");
    assert_true(sqlite3_column_double(st, 2) == 2.0);
    assert_int_equal(sqlite3_column_int64(st, 3), 4200);
    assert_int_equal(sqlite3_column_int(st, 4), 0);
    assert_string_equal(sqlite3_column_text(st, 5), "standard");
    assert_string_equal(sqlite3_column_text(st, 6), "a cat");
    sqlite3_finalize(st);
    assert_int_equal(sql_int(db, "SELECT COUNT(*) FROM user_activity WHERE action_type ="
                                 " 'job_queued' AND details = '{}' AND user_id = 42"),
                     1);
    assert_int_equal(an_store_seq_hwm(s), 3);
    free_events(evs, 3);
    an_store_close(s);
}

static void test_text_is_bounded_at_utf8_boundary(void **state)
{
    size_t n = 10001;
    char *big = malloc(n * 2 + 1);
    for (size_t i = 0; i < n; i++)
        memcpy(big + 2 * i, "\xc3\xa9", 2); /* é */
    big[n * 2] = '\0';
    an_event e = {.kind = AN_EV_IMAGE, .seq = 1, .ts_ms = NOW, .user_id = 1, .success = true};
    an_event_text t = {.prompt = big, .resolution = big, .command = "x"};
    an_event_set_text(&e, &t);
    assert_int_equal(strlen(e.prompt), AN_MAX_PROMPT);
    assert_int_equal(strlen(e.resolution), AN_MAX_RESOLUTION);
    free(big);
    /* A 3-byte character straddling the limit is dropped whole. */
    char edge[AN_MAX_NAME + 8];
    memset(edge, 'a', AN_MAX_NAME - 1);
    memcpy(edge + AN_MAX_NAME - 1, "\xe2\x82\xac", 4); /* € + NUL */
    assert_int_equal(an_utf8_cut(edge, AN_MAX_NAME), AN_MAX_NAME - 1);
    an_store *s = open_store(*state, "big.db");
    const an_event *p = &e;
    char err[256];
    assert_int_equal(an_store_write(s, &p, 1, err, sizeof err), SQLITE_OK);
    assert_int_equal(sql_int(an_store_db(s), "SELECT length(prompt) FROM image_stats"),
                     AN_MAX_PROMPT / 2);
    an_event_clear(&e);
    an_store_close(s);
}

/* ---- both engines ----------------------------------------------------------------------------
 * The tests below run on SQLite and on PostgreSQL (the throw-away server of the test script)
 * through the engine interface (an_engine.h), with the same events and the same expectations;
 * test_engines_agree then writes one stream to both and compares every rollup table and every
 * /stats answer between them. */

typedef struct fx {
    tdir d;
    bool pg;
    tpg t;
    an_engine *e;
    char db[1024]; /* the path or URL the engine was opened with */
} fx;

static int setup_sqlite(void **state)
{
    fx *f = calloc(1, sizeof *f);
    tdir_make(&f->d);
    *state = f;
    return 0;
}

static int setup_pg(void **state)
{
    setup_sqlite(state);
    ((fx *)*state)->pg = true;
    return 0;
}

static int teardown_fx(void **state)
{
    fx *f = *state;
    an_engine_close(f->e);
    if (f->t.conn) tpg_close(&f->t);
    tdir_remove(&f->d);
    free(f);
    return 0;
}

static an_engine *fx_open(fx *f)
{
    if (f->pg) {
        tpg_open(&f->t); /* skips (or fails under CI) without a server */
        snprintf(f->db, sizeof f->db, "%s", f->t.url);
    } else {
        tdir_file(&f->d, "engine.db", f->db, sizeof f->db);
    }
    char err[512] = "";
    f->e = an_engine_open(f->db, err, sizeof err);
    if (!f->e) fprintf(stderr, "open failed: %s\n", err);
    assert_non_null(f->e);
    return f->e;
}

/* First column of the first row of a query written in SQL both engines read. */
static int64_t fx_int(fx *f, const char *sql)
{
    if (f->pg) return tpg_scalar(f->t.conn, sql, 0, NULL);
    return sql_int(an_store_db(an_engine_sqlite(f->e)), sql);
}

static void fx_write(fx *f, an_event *evs, size_t n)
{
    const an_event **p = calloc(n, sizeof *p);
    for (size_t i = 0; i < n; i++)
        p[i] = &evs[i];
    char err[512] = "";
    int rc = an_engine_write(f->e, p, n, err, sizeof err);
    if (rc != SQLITE_OK) fprintf(stderr, "write failed: %s\n", err);
    assert_int_equal(rc, SQLITE_OK);
    free(p);
}

static const int k_days[] = {1, 2, 7, 30, 39, 365};
static const int64_t k_nows[] = {NOW, NOW - 3 * DAY + 1, 19792 * DAY, NOW + DAY / 3, NOW + 1234567,
                                 NOW - 5 * DAY + 3599999, NOW + 60001, NOW - 11 * DAY - 1800000,
                                 /* mornings: the first day is read whole minus its early hours */
                                 19792 * DAY + 3 * AN_HOUR_MS + 600007,
                                 19792 * DAY + 11 * AN_HOUR_MS + 59 * 60000};

/* The rollup path and the raw-only path agree on every window size and edge. */
static void assert_view_consistent(const char *db)
{
    char err[256];
    an_view *v = an_view_open(db, err, sizeof err);
    if (!v) fprintf(stderr, "view: %s\n", err);
    assert_non_null(v);
    for (size_t i = 0; i < sizeof k_days / sizeof k_days[0]; i++) {
        for (size_t j = 0; j < sizeof k_nows / sizeof k_nows[0]; j++) {
            an_view_set_active_min(v, (unsigned)(1 + (i + j) % 12));
            an_stats a, b;
            assert_int_equal(an_view_stats(v, k_days[i], k_nows[j], &a, err, sizeof err),
                             SQLITE_OK);
            assert_int_equal(an_view_stats_raw(v, k_days[i], k_nows[j], &b, err, sizeof err),
                             SQLITE_OK);
            assert_stats_equal(&a, &b);
        }
    }
    an_view_close(v);
}

/* SQLite: every rollup table against plain SQL over the raw rows; both engines: the rollup
 * path against the raw-only path (and test_engines_agree holds PostgreSQL's tables to
 * SQLite's). */
static void fx_rollups_match_raw(fx *f)
{
    if (!f->pg) assert_rollups_match_raw(an_store_db(an_engine_sqlite(f->e)));
    assert_view_consistent(f->db);
}

static const char *const k_cmds[] = {"comfy", "redux",    "pulid", "video",
                                     "stats", "lorainfo", "queue"};
static const char *const k_res[] = {
    "1024x1024", "16:9 [1920x1080 landscape]", "832x1216", "1216x832", "2:3", "3:2", "4:5"};

/* Random events over ~40 days, written in batches of random sizes to every engine given. */
static void write_random(an_engine **es, size_t nes, uint64_t *rng, uint64_t *seq, size_t total)
{
    an_event *evs = calloc(300, sizeof *evs);
    const an_event **p = calloc(300, sizeof *p);
    size_t done = 0;
    while (done < total) {
        size_t n = 1 + rnd_next(rng) % 300;
        if (n > total - done) n = total - done;
        for (size_t i = 0; i < n; i++) {
            uint64_t r = rnd_next(rng);
            int64_t ts = NOW - (int64_t)(r % (40 * (uint64_t)DAY)) + DAY / 2;
            uint64_t user = 1 + (r >> 40) % 57;
            switch ((r >> 20) % 3) {
            case 0: {
                /* Mostly slash commands; buttons, autocomplete and modal submits too. */
                unsigned k = (unsigned)((r >> 50) % 8);
                evs[i] =
                    ev_interaction(++*seq, ts, user, k_cmds[(r >> 24) % 7],
                                   k < 5 ? AN_CMD_SLASH : (an_cmd_kind)(k - 4), (r >> 30) % 5 != 0);
                break;
            }
            case 1:
                evs[i] =
                    ev_image(++*seq, ts, user, (r >> 33) % 9 == 0 ? "" : k_res[(r >> 24) % 7],
                             (uint32_t)((r >> 8) % 60000), (r >> 28) % 4 == 0, (r >> 30) % 6 != 0);
                break;
            default:
                evs[i] = ev_activity(++*seq, ts, user, "job_queued");
            }
            p[i] = &evs[i];
        }
        for (size_t k = 0; k < nes; k++) {
            char err[512] = "";
            int rc = an_engine_write(es[k], p, n, err, sizeof err);
            if (rc != SQLITE_OK) fprintf(stderr, "write failed: %s\n", err);
            assert_int_equal(rc, SQLITE_OK);
        }
        free_events(evs, n);
        done += n;
    }
    free(p);
    free(evs);
}

static void test_rollups_equal_raw_after_many_batches(void **state)
{
    fx *f = *state;
    an_engine *e = fx_open(f);
    uint64_t rng = 0x9E3779B97F4A7C15ULL, seq = 0;
    write_random(&e, 1, &rng, &seq, 12000);
    assert_int_equal(fx_int(f, "SELECT (SELECT COUNT(*) FROM command_usage) + (SELECT COUNT(*)"
                               " FROM image_stats) + (SELECT COUNT(*) FROM user_activity)"),
                     12000);
    fx_rollups_match_raw(f);
    if (!f->pg) assert_int_equal(an_engine_seq_hwm(e), 12000);
}

/* Both paths on random data clustered at the window edges: events in the last and first
 * milliseconds of the minutes around a window's start and around now, written out of time
 * order, with nows anywhere in their minute; every window length and active threshold. */
static void test_fast_equals_raw_at_random_edges(void **state)
{
    an_store *s = open_store(*state, "edges.db");
    uint64_t rng = 0xC0FFEE1234567ULL, seq = 0;
    const int days[] = {1, 2, 7, 30};
    int64_t nows[12];
    for (size_t k = 0; k < 12; k++)
        nows[k] = NOW - (int64_t)(rnd_next(&rng) % (3 * (uint64_t)DAY));
    an_event *evs = calloc(400, sizeof *evs);
    for (size_t k = 0; k < 12; k++) {
        size_t n = 0;
        for (size_t d = 0; d < 4; d++) {
            int64_t edges[2] = {nows[k] - days[d] * DAY, nows[k]};
            for (int e = 0; e < 2; e++) {
                for (int i = 0; i < 12; i++) {
                    uint64_t r = rnd_next(&rng);
                    /* A minute boundary within 3 minutes of the edge, then -2 .. +2 ms of it,
                     * or anywhere in the minutes around it. */
                    int64_t m = an_time_minute_of(edges[e]) + (int64_t)(r % 7) - 3;
                    int64_t ts = (r >> 8) % 2 ? m * AN_TIME_MINUTE_MS + (int64_t)((r >> 9) % 5) - 2
                                              : m * AN_TIME_MINUTE_MS + (int64_t)((r >> 9) % 60000);
                    uint64_t user = 1 + (r >> 20) % 9;
                    switch ((r >> 30) % 3) {
                    case 0:
                        evs[n] = ev_command(++seq, ts, user, k_cmds[(r >> 33) % 7], true);
                        break;
                    case 1:
                        evs[n] = ev_image(++seq, ts, user, k_res[(r >> 33) % 7], 100, false,
                                          (r >> 40) % 4 != 0);
                        break;
                    default:
                        evs[n] = ev_activity(++seq, ts, user, "job_queued");
                    }
                    n++;
                }
            }
        }
        write_events(s, evs, n);
        free_events(evs, n);
    }
    free(evs);
    sqlite3 *db = an_store_db(s);
    assert_rollups_match_raw(db);
    char err[256];
    an_reader *r = an_reader_wrap(db, err, sizeof err);
    assert_non_null(r);
    const int64_t shifts[] = {0, 1, -1, 59999, -59999, 60000, -60000, 30 * 60000};
    for (size_t k = 0; k < 12; k++)
        for (size_t d = 0; d < 4; d++)
            for (size_t i = 0; i < sizeof shifts / sizeof shifts[0]; i++) {
                an_reader_set_active_min(r, (unsigned)(1 + (k + d + i) % 6));
                an_stats a, b;
                int64_t now = nows[k] + shifts[i];
                assert_int_equal(an_reader_stats(r, days[d], now, &a, err, sizeof err), 0);
                assert_int_equal(an_reader_stats_raw(r, days[d], now, &b, err, sizeof err), 0);
                assert_stats_equal(&a, &b);
            }
    an_reader_close(r);
    an_store_close(s);
}

/* The minute rollups are kept AN_ROLLUP_MINUTE_KEEP_DAYS back from the newest event: older minutes
 * are deleted, user_minutes is compacted to the last row before the horizon per user, and a
 * window starting before the horizon is still answered exactly (from the raw rows). */
static void test_minute_rollups_retention(void **state)
{
    an_store *s = open_store(*state, "keep.db");
    sqlite3 *db = an_store_db(s);
    an_event old[] = {
        ev_command(1, NOW - 400 * DAY, 1, "comfy", true),
        ev_image(2, NOW - 390 * DAY, 1, "1024x1024", 100, false, true),
        ev_command(3, NOW - 380 * DAY, 2, "redux", true),
        ev_activity(4, NOW - 370 * DAY + 5, 1, "job_queued"),
    };
    write_events(s, old, 4);
    free_events(old, 4);
    int64_t first = sql_int(db, "SELECT value FROM meta WHERE key = 'minute_horizon'");
    /* Nothing of these is older than 366 days before the newest (NOW - 370 days). */
    assert_true(first <= an_time_minute_of(NOW - 400 * DAY));
    assert_int_equal(sql_int(db, "SELECT COUNT(*) FROM minute_stats"), 4);
    an_event recent[] = {
        ev_command(5, NOW - 364 * DAY, 2, "comfy", true),
        ev_command(6, NOW - 10 * DAY, 1, "comfy", true),
        ev_command(7, NOW, 3, "video", true),
    };
    write_events(s, recent, 3);
    free_events(recent, 3);
    int64_t horizon = sql_int(db, "SELECT value FROM meta WHERE key = 'minute_horizon'");
    assert_int_equal(horizon, an_hour_of(NOW - 366 * DAY) * 60);
    char q[256];
    snprintf(q, sizeof q, "SELECT COUNT(*) FROM minute_stats WHERE minute < %lld",
             (long long)horizon);
    assert_int_equal(sql_int(db, q), 0);
    assert_int_equal(sql_int(db, "SELECT COUNT(*) FROM minute_stats"), 3);
    assert_int_equal(sql_int(db, "SELECT COUNT(*) FROM minute_commands"), 3);
    /* User 1: its three old minutes become the last one, with the count of all three. */
    assert_int_equal(sql_diff(db, "SELECT user_id, minute, cum FROM user_minutes",
                              "VALUES (1, (1710082800000 - 370 * 86400000 + 5) / 60000, 3),"
                              " (1, (1710082800000 - 10 * 86400000) / 60000, 4),"
                              " (2, (1710082800000 - 380 * 86400000) / 60000, 1),"
                              " (2, (1710082800000 - 364 * 86400000) / 60000, 2),"
                              " (3, 1710082800000 / 60000, 1)"),
                     0);
    /* Hourly and daily rollups stay. */
    assert_int_equal(sql_int(db, "SELECT SUM(total_commands) FROM daily_stats"), 5);
    char err[256];
    an_reader *r = an_reader_wrap(db, err, sizeof err);
    assert_non_null(r);
    an_reader_set_active_min(r, 2);
    const struct {
        int days;
        int64_t now;
    } cases[] = {
        {365, NOW},
        {7, NOW},
        {5, NOW - 360 * DAY},
        {2, NOW - 364 * DAY + 60000},
        /* starting before the horizon: answered from the raw rows */
        {30, NOW - 350 * DAY},
        {7, NOW - 370 * DAY},
        {365, NOW - 2 * DAY},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        an_stats a, b;
        assert_int_equal(an_reader_stats(r, cases[i].days, cases[i].now, &a, err, sizeof err), 0);
        assert_int_equal(an_reader_stats_raw(r, cases[i].days, cases[i].now, &b, err, sizeof err),
                         0);
        assert_stats_equal(&a, &b);
    }
    an_stats a;
    assert_int_equal(an_reader_stats(r, 30, NOW - 350 * DAY, &a, err, sizeof err), 0);
    assert_int_equal(a.total_users, 2);  /* users 1 (NOW - 370 days) and 2 (NOW - 364) */
    assert_int_equal(a.active_users, 0); /* one event each in those 30 days */
    assert_int_equal(an_reader_stats(r, 365, NOW, &a, err, sizeof err), 0);
    assert_int_equal(a.total_users, 3);
    /* One event each in the last 365 days: user 1's is its 4 events minus the 3 of its
     * compacted row before the window. */
    assert_int_equal(a.active_users, 0);
    an_reader_close(r);
    an_store_close(s);
}

/* A database of schema version 8 (hourly_users, known_users without counts) is brought to 9:
 * the minute rollups and the users' cumulative counts are computed from its rows. */
static void test_migration_to_minute_rollups(void **state)
{
    char path[512], err[512] = "";
    tdir_file(*state, "v8.db", path, sizeof path);
    sqlite3 *db;
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    assert_int_equal(an_schema_pragmas(db, err, sizeof err), SQLITE_OK);
    assert_int_equal(an_schema_migrate(db, 8, err, sizeof err), SQLITE_OK);
    char sql[1024];
    snprintf(
        sql, sizeof sql,
        "INSERT INTO command_usage(seq, command_name, kind, user_id, ts_ms, success) VALUES"
        " (1, 'comfy', 'command', 11, %lld, 1), (2, 'button:upscale', 'button', 12, %lld, 1),"
        " (3, 'comfy', 'command', 11, %lld, 0);"
        "INSERT INTO image_stats(seq, user_id, resolution, generation_ms, ts_ms, loras)"
        " VALUES (4, 13, '1024x1024', 3000, %lld, '[]');"
        "INSERT INTO user_activity(seq, user_id, action_type, ts_ms) VALUES (5, 11, 'x', %lld);"
        "INSERT INTO hourly_users(hour, user_id, events) VALUES (1, 11, 1);"
        "INSERT INTO known_users(user_id, first_seen_ms) VALUES (11, 1);",
        NOW - 2 * DAY, NOW - 2 * DAY + 61000, NOW - 5, NOW - 7 * DAY + 30000, NOW);
    assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);

    an_store *s = open_store(*state, "v8.db");
    db = an_store_db(s);
    assert_int_equal(an_schema_version(db, err, sizeof err), AN_SCHEMA_VERSION);
    assert_int_equal(sql_int(db, "SELECT COUNT(*) FROM sqlite_master WHERE name = 'hourly_users'"),
                     0);
    assert_rollups_match_raw(db);
    assert_int_equal(
        sql_diff(db, "SELECT user_id, events FROM known_users", "VALUES (11, 3), (12, 1), (13, 1)"),
        0);
    an_reader *r = an_reader_wrap(db, err, sizeof err);
    assert_non_null(r);
    an_reader_set_active_min(r, 3);
    an_stats a, b;
    assert_int_equal(an_reader_stats(r, 7, NOW, &a, err, sizeof err), 0);
    assert_int_equal(an_reader_stats_raw(r, 7, NOW, &b, err, sizeof err), 0);
    assert_stats_equal(&a, &b);
    assert_int_equal(a.total_users, 2);  /* 13's image is in the minute before the window */
    assert_int_equal(a.active_users, 1); /* 11: two commands and an activity row */
    assert_int_equal(a.total_buttons, 1);
    an_reader_close(r);
    an_store_close(s);
}

static void test_reset_deletes_below_sequence_and_rebuilds(void **state)
{
    fx *f = *state;
    an_engine *e = fx_open(f);
    uint64_t rng = 12345, seq = 0;
    write_random(&e, 1, &rng, &seq, 2000);
    char err[256];
    uint64_t deleted = 0;
    assert_int_equal(an_engine_reset(e, 1501, &deleted, err, sizeof err), SQLITE_OK);
    assert_int_equal(deleted, 1500);
    assert_int_equal(fx_int(f, "SELECT MIN(m) FROM (SELECT MIN(seq) m FROM command_usage"
                               " UNION ALL SELECT MIN(seq) FROM image_stats UNION ALL"
                               " SELECT MIN(seq) FROM user_activity) x"),
                     1501);
    fx_rollups_match_raw(f);
    /* A reset of everything leaves empty rollups, and the sequence mark stays. */
    assert_int_equal(an_engine_reset(e, UINT64_MAX >> 1, &deleted, err, sizeof err), SQLITE_OK);
    assert_int_equal(deleted, 500);
    assert_int_equal(fx_int(f, "SELECT COUNT(*) FROM daily_stats"), 0);
    assert_int_equal(fx_int(f, "SELECT COUNT(*) FROM known_users"), 0);
    if (!f->pg) assert_int_equal(an_engine_seq_hwm(e), 2000);
}

static an_event outcome_ev(uint64_t seq, uint64_t ix, bool ok)
{
    an_event e = {
        .kind = AN_EV_OUTCOME, .seq = seq, .ts_ms = NOW, .interaction_id = ix, .success = ok};
    return e;
}

/* An outcome updates its command row whether it comes after the row (same batch or later),
 * or before it (kept until the row arrives); the failed-command totals follow. Button rows
 * change too but are not in the command totals. */
static void test_outcomes_in_any_order(void **state)
{
    fx *f = *state;
    fx_open(f);
    an_event a = ev_command(1, NOW - 10, 7, "comfy", true);
    a.interaction_id = 1001;
    an_event o1 = outcome_ev(2, 1001, false); /* same batch, after the row */
    fx_write(f, (an_event[]){a, o1}, 2);
    an_event_clear(&a);
    assert_int_equal(fx_int(f, "SELECT success FROM command_usage WHERE interaction_id = 1001"), 0);
    assert_int_equal(fx_int(f, "SELECT SUM(failed_commands) FROM daily_stats"), 1);

    an_event o2 = outcome_ev(3, 1002, false); /* before its row, in an earlier batch */
    fx_write(f, &o2, 1);
    an_event b = ev_command(4, NOW - 5, 8, "comfy", true);
    b.interaction_id = 1002;
    fx_write(f, &b, 1);
    an_event_clear(&b);
    assert_int_equal(fx_int(f, "SELECT success FROM command_usage WHERE interaction_id = 1002"), 0);
    assert_int_equal(fx_int(f, "SELECT SUM(failed_commands) FROM daily_stats"), 2);

    an_event o3 = outcome_ev(5, 1001, true); /* a later batch flips it back */
    fx_write(f, &o3, 1);
    assert_int_equal(fx_int(f, "SELECT SUM(failed_commands) FROM daily_stats"), 1);

    an_event c = ev_interaction(6, NOW - 4, 9, "button:upscale", AN_CMD_BUTTON, true);
    c.interaction_id = 1003;
    an_event o4 = outcome_ev(7, 1003, false); /* a refused button */
    fx_write(f, (an_event[]){o4, c}, 2);      /* outcome first in the batch */
    an_event_clear(&c);
    assert_int_equal(fx_int(f, "SELECT success FROM command_usage WHERE interaction_id = 1003"), 0);
    assert_int_equal(fx_int(f, "SELECT SUM(failed_commands) FROM daily_stats"), 1);
    /* Outcomes are no rows of their own, and the rollups still match the raw rows. */
    assert_int_equal(fx_int(f, "SELECT COUNT(*) FROM command_usage"), 3);
    fx_rollups_match_raw(f);
}

static an_event result_ev(uint64_t seq, uint64_t job, int64_t ts)
{
    an_event e = {.kind = AN_EV_RESULT,
                  .seq = seq,
                  .ts_ms = ts,
                  .job_id = job,
                  .user_id = 9,
                  .success = true,
                  .is_image = true};
    an_event_set_text(&e, &(an_event_text){.params = "{\"v\":1}", .url = "http://x/view"});
    return e;
}

/* Results are stored (not statistics: no rollup, a reset keeps them), their message comes in
 * either order, the retention bounds the table, and the read side finds them. */
static void test_results_stored_and_bounded(void **state)
{
    fx *f = *state;
    an_engine *e = fx_open(f);
    an_engine_set_result_retention(e, 2 * DAY);
    an_event msg = {
        .kind = AN_EV_RESULT_MSG, .seq = 1, .ts_ms = NOW - 5 * DAY, .job_id = 1, .message_id = 555};
    an_event_set_text(&msg, &(an_event_text){.url = "https://cdn.example/a.png"});
    an_event evs[] = {msg, result_ev(2, 1, NOW - 5 * DAY), result_ev(3, 2, NOW - 3 * DAY)};
    fx_write(f, evs, 3);
    free_events(evs, 3);
    assert_int_equal(fx_int(f, "SELECT message_id FROM results WHERE job_id = 1"), 555);
    assert_int_equal(fx_int(f, "SELECT COUNT(*) FROM results WHERE params = '{\"v\":1}'"
                               " AND attachment_url LIKE 'https://%'"),
                     1);
    /* Written on their own, the two older results are more than 2 days before the newest. */
    assert_int_equal(fx_int(f, "SELECT COUNT(*) FROM results"), 2);
    assert_int_equal(fx_int(f, "SELECT COUNT(*) FROM daily_stats"), 0);
    an_event later = result_ev(4, 3, NOW);
    fx_write(f, &later, 1);
    an_event_clear(&later);
    assert_int_equal(fx_int(f, "SELECT COUNT(*) FROM results"), 1);
    assert_int_equal(fx_int(f, "SELECT job_id FROM results"), 3);
    uint64_t deleted;
    char err[256];
    assert_int_equal(an_engine_reset(e, 100, &deleted, err, sizeof err), SQLITE_OK);
    assert_int_equal(fx_int(f, "SELECT COUNT(*) FROM results"), 1);
    /* The read side (Regenerate and Upscale after a restart). */
    an_view *v = an_view_open(f->db, err, sizeof err);
    assert_non_null(v);
    an_result_row row;
    assert_int_equal(an_view_result(v, 3, &row, err, sizeof err), 1);
    assert_string_equal(row.params, "{\"v\":1}");
    assert_string_equal(row.view_url, "http://x/view");
    assert_true(row.user_id == 9 && row.success && row.is_image);
    an_result_row_free(&row);
    assert_int_equal(an_view_result(v, 1, &row, err, sizeof err), 0);
    an_view_close(v);
}

/* PostgreSQL: a connection the server drops (restart, failover, network) fails the batch with
 * an error the writer retries (environmental), and the next write reconnects and commits;
 * nothing of the failed batch was written. */
static void test_pg_connection_lost_and_back(void **state)
{
    fx *f = *state;
    an_engine *e = fx_open(f);
    an_event a = ev_command(1, NOW, 7, "comfy", true);
    fx_write(f, &a, 1);
    an_event_clear(&a);
    tpg_exec(f->t.conn, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                        " WHERE datname = current_database() AND pid <> pg_backend_pid()");
    an_event b = ev_command(2, NOW, 8, "comfy", true);
    const an_event *p = &b;
    char err[512] = "";
    int rc = an_engine_write(e, &p, 1, err, sizeof err);
    assert_int_not_equal(rc, SQLITE_OK);
    assert_true(rc == SQLITE_IOERR || rc == SQLITE_CANTOPEN);
    assert_int_equal(fx_int(f, "SELECT COUNT(*) FROM command_usage"), 1);
    rc = an_engine_write(e, &p, 1, err, sizeof err);
    if (rc != SQLITE_OK) fprintf(stderr, "retry failed: %s\n", err);
    assert_int_equal(rc, SQLITE_OK);
    an_event_clear(&b);
    assert_int_equal(fx_int(f, "SELECT COUNT(*) FROM command_usage"), 2);
    assert_int_equal(fx_int(f, "SELECT SUM(total_commands) FROM daily_stats"), 2);
}

/* Every row of a query as text, one line per row (columns tab-separated). */
static char *dump(fx *f, const char *sql)
{
    size_t cap = 1 << 16, len = 0;
    char *out = malloc(cap);
    out[0] = 0;
    if (f->pg) {
        PGresult *r = PQexec(f->t.conn, sql);
        assert_int_equal(PQresultStatus(r), PGRES_TUPLES_OK);
        for (int i = 0; i < PQntuples(r); i++) {
            for (int c = 0; c < PQnfields(r); c++) {
                const char *v = PQgetisnull(r, i, c) ? "NULL" : PQgetvalue(r, i, c);
                while (len + strlen(v) + 2 >= cap)
                    out = realloc(out, cap *= 2);
                len += (size_t)sprintf(out + len, "%s%c", v, c + 1 < PQnfields(r) ? '\t' : '\n');
            }
        }
        PQclear(r);
        return out;
    }
    sqlite3_stmt *st;
    assert_int_equal(sqlite3_prepare_v2(an_store_db(an_engine_sqlite(f->e)), sql, -1, &st, NULL),
                     SQLITE_OK);
    while (sqlite3_step(st) == SQLITE_ROW) {
        for (int c = 0; c < sqlite3_column_count(st); c++) {
            const char *v = sqlite3_column_type(st, c) == SQLITE_NULL
                                ? "NULL"
                                : (const char *)sqlite3_column_text(st, c);
            while (len + strlen(v) + 2 >= cap)
                out = realloc(out, cap *= 2);
            len += (size_t)sprintf(out + len, "%s%c", v,
                                   c + 1 < sqlite3_column_count(st) ? '\t' : '\n');
        }
    }
    sqlite3_finalize(st);
    return out;
}

/* /stats from both views for every window of k_days and k_nows: the same answers. */
static void check_views_agree(an_view *va, an_view *vb)
{
    char err[512];
    for (size_t i = 0; i < sizeof k_days / sizeof k_days[0]; i++) {
        for (size_t j = 0; j < sizeof k_nows / sizeof k_nows[0]; j++) {
            an_stats a, b;
            assert_int_equal(an_view_stats(va, k_days[i], k_nows[j], &a, err, sizeof err), 0);
            assert_int_equal(an_view_stats(vb, k_days[i], k_nows[j], &b, err, sizeof err), 0);
            assert_stats_equal(&a, &b);
        }
    }
}

/* One stream of events (outcomes, a reset and results among them) written to both engines:
 * every rollup table holds the same rows and /stats gives the same answer for every window. */
static void test_engines_agree(void **state)
{
    fx *sq = *state; /* set up for SQLite; its PostgreSQL twin shares the scratch directory */
    fx pg = {.pg = true};
    an_engine *es[2] = {fx_open(sq), NULL};
    tpg_open(&pg.t);
    char err[512] = "";
    pg.e = es[1] = an_engine_open(pg.t.url, err, sizeof err);
    if (!pg.e) fprintf(stderr, "open failed: %s\n", err);
    assert_non_null(pg.e);
    snprintf(pg.db, sizeof pg.db, "%s", pg.t.url);
    uint64_t rng = 777, seq = 0;
    write_random(es, 2, &rng, &seq, 6000);
    for (int k = 0; k < 2; k++) {
        uint64_t deleted = 0;
        assert_int_equal(an_engine_reset(es[k], 2001, &deleted, err, sizeof err), SQLITE_OK);
        assert_int_equal(deleted, 2000);
    }
    for (uint64_t i = 0; i < 40; i++) { /* outcomes of rows written before and after */
        an_event o = outcome_ev(++seq, 5000 + i, i % 3 == 0);
        an_event c = ev_command(++seq, NOW - (int64_t)i * 3600000, 3 + i % 5, "comfy", true);
        c.interaction_id = 5000 + i + (i % 2 ? 0 : 20);
        for (int k = 0; k < 2; k++) {
            const an_event *p[2] = {&o, &c};
            assert_int_equal(an_engine_write(es[k], p, 2, err, sizeof err), SQLITE_OK);
        }
        an_event_clear(&c);
    }
    write_random(es, 2, &rng, &seq, 3000);
    static const char *const tables[] = {
        "SELECT day, date, total_commands, failed_commands, total_images, image_ms_sum,"
        " total_videos, video_ms_sum, failed_generations, total_activity, unique_users,"
        " total_buttons FROM daily_stats ORDER BY day",
        "SELECT day, command_name, count FROM daily_commands ORDER BY 1, 2",
        "SELECT day, resolution, count FROM daily_resolutions ORDER BY 1, 2",
        "SELECT day, user_id, commands, events FROM daily_users ORDER BY 1, 2",
        "SELECT user_id, first_seen_ms FROM known_users ORDER BY 1",
        "SELECT hour, total_commands, total_images, image_ms_sum, total_videos, video_ms_sum,"
        " total_buttons FROM hourly_stats ORDER BY 1",
        "SELECT hour, command_name, count FROM hourly_commands ORDER BY 1, 2",
        "SELECT hour, resolution, count FROM hourly_resolutions ORDER BY 1, 2",
        "SELECT seq, command_name, user_id, ts_ms, success, kind, interaction_id"
        " FROM command_usage ORDER BY seq",
        "SELECT seq, user_id, resolution, generation_ms, is_video, success, ts_ms"
        " FROM image_stats ORDER BY seq",
    };
    for (size_t i = 0; i < sizeof tables / sizeof tables[0]; i++) {
        char *a = dump(sq, tables[i]), *b = dump(&pg, tables[i]);
        if (strcmp(a, b) != 0) fprintf(stderr, "differs: %s\n", tables[i]);
        assert_string_equal(a, b);
        free(a);
        free(b);
    }
    an_view *va = an_view_open(sq->db, err, sizeof err), *vb = an_view_open(pg.db, err, sizeof err);
    assert_non_null(va);
    assert_non_null(vb);
    check_views_agree(va, vb);
    /* PostgreSQL's edges come from its minute rollups: the same answers once the edges are
     * read from the raw rows instead (every minute before the horizon, as when pruned), and
     * still the same with the raw rows gone (the rollups alone answer; the old minutes again). */
    tpg_exec(pg.t.conn, "UPDATE an_minute_horizon SET minute = 9000000000");
    check_views_agree(va, vb);
    tpg_exec(pg.t.conn, "UPDATE an_minute_horizon SET minute = 0;"
                        "DELETE FROM command_usage; DELETE FROM image_stats;"
                        " DELETE FROM user_activity;");
    check_views_agree(va, vb);
    an_view_close(va);
    an_view_close(vb);
    an_engine_close(pg.e);
    tpg_close(&pg.t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_outcomes_in_any_order, setup_sqlite, teardown_fx),
        cmocka_unit_test_setup_teardown(test_outcomes_in_any_order, setup_pg, teardown_fx),
        cmocka_unit_test_setup_teardown(test_results_stored_and_bounded, setup_sqlite, teardown_fx),
        cmocka_unit_test_setup_teardown(test_results_stored_and_bounded, setup_pg, teardown_fx),
        cmocka_unit_test_setup_teardown(test_fresh_schema, setup, teardown),
        cmocka_unit_test_setup_teardown(test_migrations_roll_up_existing_rows, setup, teardown),
        cmocka_unit_test_setup_teardown(test_refuses_foreign_database, setup, teardown),
        cmocka_unit_test_setup_teardown(test_refuses_newer_schema, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cannot_open_missing_directory, setup, teardown),
        cmocka_unit_test_setup_teardown(test_corrupt_file, setup, teardown),
        cmocka_unit_test_setup_teardown(test_read_only_file, setup, teardown),
        cmocka_unit_test_setup_teardown(test_snowflakes_and_fields_round_trip, setup, teardown),
        cmocka_unit_test_setup_teardown(test_text_is_bounded_at_utf8_boundary, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rollups_equal_raw_after_many_batches, setup_sqlite,
                                        teardown_fx),
        cmocka_unit_test_setup_teardown(test_rollups_equal_raw_after_many_batches, setup_pg,
                                        teardown_fx),
        cmocka_unit_test_setup_teardown(test_reset_deletes_below_sequence_and_rebuilds,
                                        setup_sqlite, teardown_fx),
        cmocka_unit_test_setup_teardown(test_reset_deletes_below_sequence_and_rebuilds, setup_pg,
                                        teardown_fx),
        cmocka_unit_test_setup_teardown(test_engines_agree, setup_sqlite, teardown_fx),
        cmocka_unit_test_setup_teardown(test_pg_connection_lost_and_back, setup_pg, teardown_fx),
        cmocka_unit_test_setup_teardown(test_fast_equals_raw_at_random_edges, setup, teardown),
        cmocka_unit_test_setup_teardown(test_minute_rollups_retention, setup, teardown),
        cmocka_unit_test_setup_teardown(test_migration_to_minute_rollups, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
