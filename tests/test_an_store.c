/* The analytics store on real SQLite files: schema and migrations, open failures, batched
 * writes keeping the rollups equal to the raw tables, resets by sequence number. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "analytics/an_schema.h"
#include "analytics/an_stats.h"
#include "analytics/an_store.h"
#include "analytics/an_time.h"
#include "test_an_stats_eq.h"
#include "test_an_util.h"

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

static const char *const k_cmds[] = {"comfy", "redux",    "pulid", "video",
                                     "stats", "lorainfo", "queue"};
static const char *const k_res[] = {
    "1024x1024", "16:9 [1920x1080 landscape]", "832x1216", "1216x832", "2:3", "3:2", "4:5"};

/* Random events over ~40 days, written in batches of random sizes. */
static void write_random(an_store *s, uint64_t *rng, uint64_t *seq, size_t total)
{
    an_event *evs = calloc(300, sizeof *evs);
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
        }
        write_events(s, evs, n);
        free_events(evs, n);
        done += n;
    }
    free(evs);
}

static void test_rollups_equal_raw_after_many_batches(void **state)
{
    an_store *s = open_store(*state, "many.db");
    uint64_t rng = 0x9E3779B97F4A7C15ULL, seq = 0;
    write_random(s, &rng, &seq, 12000);
    sqlite3 *db = an_store_db(s);
    assert_int_equal(sql_int(db, "SELECT (SELECT COUNT(*) FROM command_usage) + (SELECT COUNT(*)"
                                 " FROM image_stats) + (SELECT COUNT(*) FROM user_activity)"),
                     12000);
    assert_rollups_match_raw(db);
    assert_int_equal(an_store_seq_hwm(s), 12000);

    /* The rollup path and the raw-only path agree on every window size and edge. */
    char err[256];
    an_reader *r = an_reader_wrap(db, err, sizeof err);
    assert_non_null(r);
    const int days[] = {1, 2, 7, 30, 39, 365};
    const int64_t nows[] = {NOW, NOW - 3 * DAY + 1, an_day_of(NOW) * DAY, NOW + DAY / 3,
                            NOW + 1234567, NOW - 5 * DAY + 3599999, NOW + 60001,
                            NOW - 11 * DAY - 1800000,
                            /* mornings: the first day is read whole minus its early hours */
                            an_day_of(NOW) * DAY + 3 * AN_HOUR_MS + 600007,
                            an_day_of(NOW) * DAY + 11 * AN_HOUR_MS + 59 * 60000};
    for (size_t i = 0; i < sizeof days / sizeof days[0]; i++) {
        for (size_t j = 0; j < sizeof nows / sizeof nows[0]; j++) {
            an_reader_set_active_min(r, (unsigned)(1 + (i + j) % 12));
            an_stats a, b;
            assert_int_equal(an_reader_stats(r, days[i], nows[j], &a, err, sizeof err), SQLITE_OK);
            assert_int_equal(an_reader_stats_raw(r, days[i], nows[j], &b, err, sizeof err),
                             SQLITE_OK);
            assert_stats_equal(&a, &b);
        }
    }
    an_reader_close(r);
    an_store_close(s);
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
                    int64_t m = an_minute_of(edges[e]) + (int64_t)(r % 7) - 3;
                    int64_t ts = (r >> 8) % 2 ? m * AN_MINUTE_MS + (int64_t)((r >> 9) % 5) - 2
                                              : m * AN_MINUTE_MS + (int64_t)((r >> 9) % 60000);
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

/* The minute rollups are kept AN_MINUTE_KEEP_DAYS back from the newest event: older minutes
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
    assert_true(first <= an_minute_of(NOW - 400 * DAY));
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
    an_store *s = open_store(*state, "reset.db");
    uint64_t rng = 12345, seq = 0;
    write_random(s, &rng, &seq, 2000);
    sqlite3 *db = an_store_db(s);
    char err[256];
    uint64_t deleted = 0;
    assert_int_equal(an_store_reset(s, 1501, &deleted, err, sizeof err), SQLITE_OK);
    assert_int_equal(deleted, 1500);
    assert_int_equal(sql_int(db, "SELECT MIN(m) FROM (SELECT MIN(seq) m FROM command_usage"
                                 " UNION ALL SELECT MIN(seq) FROM image_stats UNION ALL"
                                 " SELECT MIN(seq) FROM user_activity)"),
                     1501);
    assert_rollups_match_raw(db);
    /* A reset of everything leaves empty rollups, and the sequence mark stays. */
    assert_int_equal(an_store_reset(s, UINT64_MAX >> 1, &deleted, err, sizeof err), SQLITE_OK);
    assert_int_equal(deleted, 500);
    assert_int_equal(sql_int(db, "SELECT COUNT(*) FROM daily_stats"), 0);
    assert_int_equal(sql_int(db, "SELECT COUNT(*) FROM known_users"), 0);
    assert_int_equal(an_store_seq_hwm(s), 2000);
    an_store_close(s);
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
    an_store *s = open_store(*state, "outcomes.db");
    sqlite3 *db = an_store_db(s);
    an_event a = ev_command(1, NOW - 10, 7, "comfy", true);
    a.interaction_id = 1001;
    an_event o1 = outcome_ev(2, 1001, false); /* same batch, after the row */
    write_events(s, (an_event[]){a, o1}, 2);
    an_event_clear(&a);
    assert_int_equal(sql_int(db, "SELECT success FROM command_usage WHERE interaction_id = 1001"),
                     0);
    assert_int_equal(sql_int(db, "SELECT SUM(failed_commands) FROM daily_stats"), 1);

    an_event o2 = outcome_ev(3, 1002, false); /* before its row, in an earlier batch */
    write_events(s, &o2, 1);
    an_event b = ev_command(4, NOW - 5, 8, "comfy", true);
    b.interaction_id = 1002;
    write_events(s, &b, 1);
    an_event_clear(&b);
    assert_int_equal(sql_int(db, "SELECT success FROM command_usage WHERE interaction_id = 1002"),
                     0);
    assert_int_equal(sql_int(db, "SELECT SUM(failed_commands) FROM daily_stats"), 2);

    an_event o3 = outcome_ev(5, 1001, true); /* a later batch flips it back */
    write_events(s, &o3, 1);
    assert_int_equal(sql_int(db, "SELECT SUM(failed_commands) FROM daily_stats"), 1);

    an_event c = ev_interaction(6, NOW - 4, 9, "button:upscale", AN_CMD_BUTTON, true);
    c.interaction_id = 1003;
    an_event o4 = outcome_ev(7, 1003, false); /* a refused button */
    write_events(s, (an_event[]){o4, c}, 2);  /* outcome first in the batch */
    an_event_clear(&c);
    assert_int_equal(sql_int(db, "SELECT success FROM command_usage WHERE interaction_id = 1003"),
                     0);
    assert_int_equal(sql_int(db, "SELECT SUM(failed_commands) FROM daily_stats"), 1);
    /* Outcomes are no rows of their own, and the rollups still match the raw rows. */
    assert_int_equal(sql_int(db, "SELECT COUNT(*) FROM command_usage"), 3);
    assert_rollups_match_raw(db);
    an_store_close(s);
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
 * either order, and the retention bounds the table. */
static void test_results_stored_and_bounded(void **state)
{
    an_store *s = open_store(*state, "results.db");
    sqlite3 *db = an_store_db(s);
    an_store_set_result_retention(s, 2 * DAY);
    an_event msg = {
        .kind = AN_EV_RESULT_MSG, .seq = 1, .ts_ms = NOW - 5 * DAY, .job_id = 1, .message_id = 555};
    an_event_set_text(&msg, &(an_event_text){.url = "https://cdn.example/a.png"});
    an_event evs[] = {msg, result_ev(2, 1, NOW - 5 * DAY), result_ev(3, 2, NOW - 3 * DAY)};
    write_events(s, evs, 3);
    free_events(evs, 3);
    assert_int_equal(sql_int(db, "SELECT message_id FROM results WHERE job_id = 1"), 555);
    assert_int_equal(sql_int(db, "SELECT COUNT(*) FROM results WHERE params = '{\"v\":1}'"
                                 " AND attachment_url LIKE 'https://%'"),
                     1);
    /* Written on their own, the two older results are more than 2 days before the newest. */
    assert_int_equal(sql_int(db, "SELECT COUNT(*) FROM results"), 2);
    assert_int_equal(sql_int(db, "SELECT COUNT(*) FROM daily_stats"), 0);
    an_event later = result_ev(4, 3, NOW);
    write_events(s, &later, 1);
    an_event_clear(&later);
    assert_int_equal(sql_int(db, "SELECT COUNT(*) FROM results"), 1);
    assert_int_equal(sql_int(db, "SELECT job_id FROM results"), 3);
    uint64_t deleted;
    char err[256];
    assert_int_equal(an_store_reset(s, 100, &deleted, err, sizeof err), SQLITE_OK);
    assert_int_equal(sql_int(db, "SELECT COUNT(*) FROM results"), 1);
    an_store_close(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_outcomes_in_any_order, setup, teardown),
        cmocka_unit_test_setup_teardown(test_results_stored_and_bounded, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fresh_schema, setup, teardown),
        cmocka_unit_test_setup_teardown(test_migrations_roll_up_existing_rows, setup, teardown),
        cmocka_unit_test_setup_teardown(test_refuses_foreign_database, setup, teardown),
        cmocka_unit_test_setup_teardown(test_refuses_newer_schema, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cannot_open_missing_directory, setup, teardown),
        cmocka_unit_test_setup_teardown(test_corrupt_file, setup, teardown),
        cmocka_unit_test_setup_teardown(test_read_only_file, setup, teardown),
        cmocka_unit_test_setup_teardown(test_snowflakes_and_fields_round_trip, setup, teardown),
        cmocka_unit_test_setup_teardown(test_text_is_bounded_at_utf8_boundary, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rollups_equal_raw_after_many_batches, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fast_equals_raw_at_random_edges, setup, teardown),
        cmocka_unit_test_setup_teardown(test_minute_rollups_retention, setup, teardown),
        cmocka_unit_test_setup_teardown(test_migration_to_minute_rollups, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reset_deletes_below_sequence_and_rebuilds, setup,
                                        teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
