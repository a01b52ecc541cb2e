/* `fluxbot import-analytics`: both schemas of the Python original (FluxAI, and the
 * FluxComfyDiscordbot beta before its is_video/generation_type migration, with daily_stats and
 * its JSON columns) built with realistic rows through the SQLite API, imported, and read back
 * as /stats; a second import adds nothing; other files are refused; a failure leaves the
 * destination as it was. The same imports into the test script's PostgreSQL server give the
 * same rows, rollups and /stats as into SQLite. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "analytics/an_cli.h"
#include "analytics/an_import.h"
#include "analytics/an_stats.h"
#include "analytics/an_store.h"
#include "analytics/an_time.h"
#include "analytics/an_view.h"
#include "test_an_stats_eq.h"
#include "test_an_util.h"
#include "tpg.h"

#define DAY_S 86400.0
/* 2024-03-10 15:00:00 UTC */
#define NOW_S 1710082800.0
#define NOW ((int64_t)(NOW_S * 1000))

static const char k_fluxai_schema[] =
    "CREATE TABLE command_usage (id INTEGER PRIMARY KEY AUTOINCREMENT, command_name TEXT NOT NULL,"
    " user_id TEXT NOT NULL, guild_id TEXT, channel_id TEXT, timestamp REAL NOT NULL,"
    " execution_time REAL, success INTEGER NOT NULL);"
    "CREATE TABLE image_stats (id INTEGER PRIMARY KEY AUTOINCREMENT, user_id TEXT NOT NULL,"
    " prompt TEXT, resolution TEXT, loras TEXT, upscale_factor INTEGER, generation_time REAL,"
    " is_video INTEGER DEFAULT 0, generation_type TEXT DEFAULT 'standard',"
    " timestamp REAL NOT NULL);"
    "CREATE TABLE user_activity (id INTEGER PRIMARY KEY AUTOINCREMENT, user_id TEXT NOT NULL,"
    " guild_id TEXT, action_type TEXT NOT NULL, timestamp REAL NOT NULL, details TEXT);"
    "CREATE TABLE daily_stats (date TEXT PRIMARY KEY, total_commands INTEGER NOT NULL,"
    " total_images INTEGER NOT NULL, unique_users INTEGER NOT NULL, avg_generation_time REAL,"
    " popular_commands TEXT, popular_resolutions TEXT);";

/* The beta's tables as created before migrate_db() added is_video and generation_type. */
static const char k_beta_schema[] =
    "CREATE TABLE command_usage (id INTEGER PRIMARY KEY AUTOINCREMENT, command_name TEXT NOT NULL,"
    " user_id TEXT NOT NULL, guild_id TEXT, channel_id TEXT, timestamp REAL NOT NULL,"
    " execution_time REAL, success INTEGER NOT NULL);"
    "CREATE TABLE image_stats (id INTEGER PRIMARY KEY AUTOINCREMENT, user_id TEXT NOT NULL,"
    " prompt TEXT, resolution TEXT, loras TEXT, upscale_factor INTEGER, generation_time REAL,"
    " timestamp REAL NOT NULL);"
    "CREATE TABLE user_activity (id INTEGER PRIMARY KEY AUTOINCREMENT, user_id TEXT NOT NULL,"
    " guild_id TEXT, action_type TEXT NOT NULL, timestamp REAL NOT NULL, details TEXT);"
    "CREATE TABLE daily_stats (date TEXT PRIMARY KEY, total_commands INTEGER NOT NULL,"
    " total_images INTEGER NOT NULL, unique_users INTEGER NOT NULL, avg_generation_time REAL,"
    " popular_commands TEXT, popular_resolutions TEXT);";

#define U1 "112233445566778899"
#define U2 "223344556677889900"
#define U3 "334455667788990011"
#define U4 "445566778899001122"
#define GUILD "987654321098765432"
#define CHAN "876543210987654321"

typedef struct fx {
    tdir dir;
    char fluxai[512], beta[512], dest[512];
} fx;

static void cmd(sqlite3 *db, const char *name, const char *user, double ago_days, double exec_s,
                int ok)
{
    sqlite3_stmt *st;
    assert_int_equal(sqlite3_prepare_v2(db,
                                        "INSERT INTO command_usage(command_name, user_id, guild_id,"
                                        " channel_id, timestamp, execution_time, success)"
                                        " VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                                        -1, &st, NULL),
                     SQLITE_OK);
    sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, user, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, GUILD, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, CHAN, -1, SQLITE_STATIC);
    sqlite3_bind_double(st, 5, NOW_S - ago_days * DAY_S);
    sqlite3_bind_double(st, 6, exec_s);
    sqlite3_bind_int(st, 7, ok);
    assert_int_equal(sqlite3_step(st), SQLITE_DONE);
    sqlite3_finalize(st);
}

static void img(sqlite3 *db, bool beta, const char *user, const char *res, const char *loras,
                int up, double gen_s, int video, double ago_days)
{
    sqlite3_stmt *st;
    const char *sql = beta ? "INSERT INTO image_stats(user_id, prompt, resolution, loras,"
                             " upscale_factor, generation_time, timestamp)"
                             " VALUES(?1, 'a lighthouse at dusk', ?2, ?3, ?4, ?5, ?7)"
                           : "INSERT INTO image_stats(user_id, prompt, resolution, loras,"
                             " upscale_factor, generation_time, is_video, generation_type,"
                             " timestamp) VALUES(?1, 'a lighthouse at dusk', ?2, ?3, ?4, ?5, ?6,"
                             " CASE WHEN ?6 THEN 'video' ELSE 'standard' END, ?7)";
    assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
    sqlite3_bind_text(st, 1, user, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, res, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, loras, -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 4, up);
    sqlite3_bind_double(st, 5, gen_s);
    if (!beta) sqlite3_bind_int(st, 6, video);
    sqlite3_bind_double(st, 7, NOW_S - ago_days * DAY_S);
    assert_int_equal(sqlite3_step(st), SQLITE_DONE);
    sqlite3_finalize(st);
}

static void act(sqlite3 *db, const char *user, const char *action, double ago_days)
{
    char sql[400];
    snprintf(sql, sizeof sql,
             "INSERT INTO user_activity(user_id, guild_id, action_type, timestamp, details)"
             " VALUES('%s', '%s', '%s', %.3f, '{\"request_id\": \"r1\"}')",
             user, GUILD, action, NOW_S - ago_days * DAY_S);
    assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
}

static void make_fluxai(const char *path)
{
    sqlite3 *db;
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db, k_fluxai_schema, NULL, NULL, NULL), SQLITE_OK);
    cmd(db, "comfy", U1, 1.0 - 0.01, 1.25, 1);
    cmd(db, "comfy", U1, 2.0, 0.8, 1);
    cmd(db, "video", U2, 3.0, 2.5, 1);
    cmd(db, "stats", U2, 10.0, 0.1, 1); /* outside 7 days */
    cmd(db, "comfy", U3, 1.5, 0.3, 0);
    cmd(db, "comfy", "not-a-snowflake", 1.0, 0.3, 1); /* unusable: skipped */
    img(db, false, U1, "1:1 [1024x1024 square]", "[\"Anime Style\"]", 2, 12.5, 0, 0.99);
    img(db, false, U2, "", "[]", 1, 90.0, 1, 3.0);
    img(db, false, U3, "16:9 [1920x1080 landscape]", "[]", 1, 7.5, 0, 2.0);
    act(db, U1, "generate_image", 0.99);
    sqlite3_close(db);
}

static void make_beta(const char *path)
{
    sqlite3 *db;
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db, k_beta_schema, NULL, NULL, NULL), SQLITE_OK);
    cmd(db, "comfy", U4, 0.5, 1.0, 1);
    cmd(db, "comfy", U1, 0.4, 1.0, 1);
    img(db, true, U4, "9:16 [768x1344 portrait]", "[\"Watercolor\", \"Anime Style\"]", 1, 20.0, 0,
        0.5);
    act(db, U4, "command", 0.5);
    assert_int_equal(sqlite3_exec(db,
                                  "INSERT INTO daily_stats VALUES ('2024-03-09', 2, 1, 2, 20.0,"
                                  " '{\"comfy\": 2}', '{\"9:16 [768x1344 portrait]\": 1}'),"
                                  " ('2024-03-08', 0, 0, 0, NULL, '{}', '{}'),"
                                  " ('2024-03-07', 1, 0, 1, NULL, 'not json', '{}')",
                                  NULL, NULL, NULL),
                     SQLITE_OK);
    sqlite3_close(db);
}

static int setup(void **state)
{
    fx *f = calloc(1, sizeof *f);
    tdir_make(&f->dir);
    tdir_file(&f->dir, "fluxai-analytics.db", f->fluxai, sizeof f->fluxai);
    tdir_file(&f->dir, "beta-analytics.db", f->beta, sizeof f->beta);
    tdir_file(&f->dir, "fluxbot.db", f->dest, sizeof f->dest);
    make_fluxai(f->fluxai);
    make_beta(f->beta);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fx *f = *state;
    tdir_remove(&f->dir);
    free(f);
    return 0;
}

static an_stats *stats7(const char *db)
{
    char err[512];
    an_reader *r = an_reader_open(db, err, sizeof err);
    if (!r) fail_msg("%s", err);
    an_stats *s = malloc(sizeof *s), raw;
    assert_int_equal(an_reader_stats(r, 7, NOW, s, err, sizeof err), 0);
    assert_int_equal(an_reader_stats_raw(r, 7, NOW, &raw, err, sizeof err), 0);
    assert_int_equal(raw.total_commands, s->total_commands);
    assert_int_equal(raw.total_users, s->total_users);
    an_reader_close(r);
    return s;
}

static int64_t dest_int(fx *f, const char *sql)
{
    sqlite3 *db;
    assert_int_equal(sqlite3_open_v2(f->dest, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    int64_t v = sql_int(db, sql);
    sqlite3_close(db);
    return v;
}

static void test_fluxai_then_beta(void **state)
{
    fx *f = *state;
    an_import_summary s;
    char err[1200];
    assert_int_equal(an_import_run(f->fluxai, f->dest, &s, err, sizeof err), 0);
    assert_int_equal(s.commands, 5);
    assert_int_equal(s.images, 3);
    assert_int_equal(s.activities, 1);
    assert_int_equal(s.invalid, 1);
    assert_int_equal(s.already, 0);
    assert_int_equal(s.first_ms, NOW - 10 * AN_DAY_MS);

    an_stats *st = stats7(f->dest);
    assert_int_equal(st->total_commands, 4);
    assert_int_equal(st->n_top_commands, 2);
    assert_string_equal(st->top_commands[0].name, "comfy");
    assert_int_equal(st->top_commands[0].count, 3);
    assert_int_equal(st->total_images, 2);
    assert_int_equal(st->image_ms_sum, 20000);
    assert_int_equal(st->total_videos, 1);
    assert_int_equal(st->video_ms_sum, 90000);
    assert_int_equal(st->total_users, 3);
    assert_int_equal(st->n_top_resolutions, 2);
    assert_string_equal(st->top_resolutions[0].name, "16:9 [1920x1080 landscape]");
    free(st);
    /* Converted as fluxbot stores them. */
    assert_int_equal(dest_int(f, "SELECT COUNT(*) FROM command_usage WHERE user_id ="
                                 " 112233445566778899 AND guild_id = 987654321098765432"
                                 " AND execution_ms = 1250 AND seq = 0 AND kind = 'command'"),
                     1);
    assert_int_equal(dest_int(f, "SELECT COUNT(*) FROM image_stats WHERE loras ="
                                 " '[\"Anime Style\"]' AND width = 2048 AND height = 2048"
                                 " AND upscale_factor = 2 AND generation_ms = 12500"),
                     1);
    assert_int_equal(dest_int(f, "SELECT COUNT(*) FROM command_usage WHERE success = 0"), 1);

    /* Again: nothing new. */
    assert_int_equal(an_import_run(f->fluxai, f->dest, &s, err, sizeof err), 0);
    assert_int_equal(s.commands + s.images + s.activities, 0);
    assert_int_equal(s.already, 9);
    assert_int_equal(dest_int(f, "SELECT COUNT(*) FROM command_usage"), 5);

    /* The beta's file next: its image_stats has no is_video/generation_type columns. */
    assert_int_equal(an_import_run(f->beta, f->dest, &s, err, sizeof err), 0);
    assert_int_equal(s.commands, 2);
    assert_int_equal(s.images, 1);
    assert_int_equal(s.daily_rows, 3);
    assert_int_equal(s.daily_bad_json, 1);
    st = stats7(f->dest);
    assert_int_equal(st->total_commands, 6);
    assert_int_equal(st->total_images, 3);
    assert_int_equal(st->total_users, 4);
    free(st);
    assert_int_equal(dest_int(f, "SELECT COUNT(*) FROM image_stats WHERE generation_type ="
                                 " 'standard' AND loras = '[\"Watercolor\",\"Anime Style\"]'"),
                     1);
}

static void test_cli_summary_and_refusals(void **state)
{
    fx *f = *state;
    char *argv[] = {"import-analytics", "--db", f->dest, f->beta, NULL};
    FILE *out = tmpfile(), *err = tmpfile();
    assert_int_equal(an_cli_import(4, argv, out, err), 0);
    char buf[2048] = "";
    rewind(out);
    size_t n = fread(buf, 1, sizeof buf - 1, out);
    buf[n] = '\0';
    assert_non_null(strstr(buf, "2 commands, 1 generations, 1 activity rows"));
    assert_non_null(strstr(buf, "3 daily_stats rows read (1 with unreadable JSON)"));
    fclose(out);
    fclose(err);

    char text[512], other[512], err2[1200];
    an_import_summary s;
    /* A text file. */
    tdir_file(&f->dir, "notes.txt", text, sizeof text);
    FILE *fp = fopen(text, "w");
    fputs("these are not the analytics you are looking for, just some text to read......", fp);
    fclose(fp);
    assert_int_equal(an_import_run(text, f->dest, &s, err2, sizeof err2), 1);
    assert_non_null(strstr(err2, "is not the Python bot's analytics.db"));
    /* A fluxbot database. */
    assert_int_equal(an_import_run(f->dest, f->dest, &s, err2, sizeof err2), 1);
    assert_non_null(strstr(err2, "fluxbot database already"));
    /* Another program's SQLite file. */
    tdir_file(&f->dir, "other.db", other, sizeof other);
    sqlite3 *db;
    sqlite3_open(other, &db);
    sqlite3_exec(db, "CREATE TABLE recipes(id INTEGER, name TEXT)", NULL, NULL, NULL);
    sqlite3_close(db);
    assert_int_equal(an_import_run(other, f->dest, &s, err2, sizeof err2), 1);
    assert_non_null(strstr(err2, "none of the tables"));
    /* A missing source; the CLI's exit status. */
    char *argv2[] = {"import-analytics", "--db", f->dest, "/nonexistent/analytics.db", NULL};
    out = tmpfile();
    err = tmpfile();
    assert_int_equal(an_cli_import(4, argv2, out, err), 1);
    char *argv3[] = {"import-analytics", NULL};
    assert_int_equal(an_cli_import(1, argv3, out, err), 2);
    /* A PostgreSQL destination that cannot be reached: the destination's exit status, the
     * reason, and never the URL (it may hold a password). */
    char *argv4[] = {"import-analytics", "--db",
                     "postgresql://fluxbot:s3cret@/fluxbot?host=/nonexistent-socket-dir", f->beta,
                     NULL};
    FILE *out4 = tmpfile(), *err4 = tmpfile();
    assert_int_equal(an_cli_import(4, argv4, out4, err4), 3);
    char said[1024] = "";
    rewind(err4);
    size_t got = fread(said, 1, sizeof said - 1, err4);
    said[got] = 0;
    assert_non_null(strstr(said, "PostgreSQL"));
    assert_null(strstr(said, "s3cret"));
    fclose(out4);
    fclose(err4);
    fclose(out);
    fclose(err);
}

/* A failure half-way (here a trigger in the destination refuses one activity row) leaves the
 * destination exactly as it was; a destination that could not be created leaves no file. */
static void test_all_or_nothing(void **state)
{
    fx *f = *state;
    char err[1200];
    an_store *s = an_store_open(f->dest, err, sizeof err);
    assert_non_null(s);
    an_event e = ev_command(1, NOW - 1000, 77, "comfy", true);
    const an_event *p = &e;
    assert_int_equal(an_store_write(s, &p, 1, err, sizeof err), SQLITE_OK);
    an_event_clear(&e);
    assert_int_equal(sqlite3_exec(an_store_db(s),
                                  "CREATE TRIGGER no_activity BEFORE INSERT ON user_activity"
                                  " BEGIN SELECT RAISE(ABORT, 'refused by the test'); END;",
                                  NULL, NULL, NULL),
                     SQLITE_OK);
    an_store_close(s);
    an_import_summary sum;
    assert_int_equal(an_import_run(f->fluxai, f->dest, &sum, err, sizeof err), 2);
    assert_non_null(strstr(err, "nothing was changed"));
    assert_int_equal(dest_int(f, "SELECT COUNT(*) FROM command_usage"), 1);
    assert_int_equal(dest_int(f, "SELECT COUNT(*) FROM image_stats"), 0);
    assert_int_equal(dest_int(f, "SELECT COUNT(*) FROM imported_rows"), 0);
    assert_int_equal(dest_int(f, "SELECT SUM(total_commands) FROM daily_stats"), 1);

    char nowhere[600];
    snprintf(nowhere, sizeof nowhere, "%s/missing-dir/fluxbot.db", f->dir.path);
    assert_int_equal(an_import_run(f->fluxai, nowhere, &sum, err, sizeof err), 2);
    assert_int_equal(access(nowhere, F_OK), -1);
}

/* A PostgreSQL table's query as text (rows by lines, columns by tabs), for comparisons. */
static char *pg_dump(PGconn *c, const char *sql)
{
    PGresult *r = PQexec(c, sql);
    if (PQresultStatus(r) != PGRES_TUPLES_OK) fail_msg("%s: %s", sql, PQresultErrorMessage(r));
    size_t cap = 256, len = 0;
    char *out = calloc(1, cap);
    for (int i = 0; i < PQntuples(r); i++)
        for (int j = 0; j < PQnfields(r); j++) {
            const char *v = PQgetisnull(r, i, j) ? "NULL" : PQgetvalue(r, i, j);
            while (len + strlen(v) + 2 >= cap)
                out = realloc(out, cap *= 2);
            len += (size_t)sprintf(out + len, "%s%c", v, j + 1 < PQnfields(r) ? '\t' : '\n');
        }
    PQclear(r);
    return out;
}

static char *sq_dump(const char *path, const char *sql)
{
    sqlite3 *db;
    assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
        fail_msg("%s: %s", sql, sqlite3_errmsg(db));
    size_t cap = 256, len = 0;
    char *out = calloc(1, cap);
    while (sqlite3_step(st) == SQLITE_ROW)
        for (int j = 0; j < sqlite3_column_count(st); j++) {
            const char *v = sqlite3_column_type(st, j) == SQLITE_NULL
                                ? "NULL"
                                : (const char *)sqlite3_column_text(st, j);
            while (len + strlen(v) + 2 >= cap)
                out = realloc(out, cap *= 2);
            len += (size_t)sprintf(out + len, "%s%c", v,
                                   j + 1 < sqlite3_column_count(st) ? '\t' : '\n');
        }
    sqlite3_finalize(st);
    sqlite3_close(db);
    return out;
}

/* Both files into SQLite and into PostgreSQL (the second through the CLI and the URL): the same
 * summaries, rows, rollups and /stats; a second import adds nothing; a failure half-way (a
 * trigger refusing an activity row) changes nothing. */
static void test_into_postgresql(void **state)
{
    fx *f = *state;
    tpg t;
    tpg_open(&t);
    char err[1200];
    an_import_summary a, b;
    assert_int_equal(an_import_run(f->fluxai, f->dest, &a, err, sizeof err), 0);
    assert_int_equal(an_import_run(f->fluxai, t.url, &b, err, sizeof err), 0);
    assert_int_equal(b.commands, a.commands);
    assert_int_equal(b.images, a.images);
    assert_int_equal(b.activities, a.activities);
    assert_int_equal(b.invalid, a.invalid);
    assert_int_equal(b.first_ms, a.first_ms);
    assert_int_equal(b.last_ms, a.last_ms);
    assert_int_equal(an_import_run(f->fluxai, t.url, &b, err, sizeof err), 0);
    assert_int_equal(b.commands + b.images + b.activities, 0);
    assert_int_equal(b.already, 9);

    assert_int_equal(an_import_run(f->beta, f->dest, &a, err, sizeof err), 0);
    char *argv[] = {"import-analytics", "--db", t.url, f->beta, NULL};
    FILE *out = tmpfile(), *errf = tmpfile();
    assert_int_equal(an_cli_import(4, argv, out, errf), 0);
    char buf[2048] = "";
    rewind(out);
    size_t n = fread(buf, 1, sizeof buf - 1, out);
    buf[n] = '\0';
    assert_non_null(strstr(buf, "into the PostgreSQL database"));
    assert_null(strstr(buf, "postgresql:"));
    assert_non_null(strstr(buf, "2 commands, 1 generations, 1 activity rows"));
    fclose(out);
    fclose(errf);

    static const char *const tables[] = {
        "SELECT seq, command_name, user_id, guild_id, channel_id, ts_ms, execution_ms, success,"
        " kind FROM command_usage ORDER BY ts_ms, user_id",
        "SELECT user_id, prompt, resolution, loras, CAST(upscale_factor * 10 AS INTEGER),"
        " generation_ms, is_video,"
        " generation_type, success, ts_ms, width, height FROM image_stats ORDER BY ts_ms",
        "SELECT user_id, guild_id, action_type, ts_ms, details FROM user_activity ORDER BY ts_ms",
        "SELECT day, date, total_commands, failed_commands, total_images, image_ms_sum,"
        " total_videos, video_ms_sum, failed_generations, total_activity, unique_users,"
        " total_buttons FROM daily_stats ORDER BY day",
        "SELECT day, user_id, commands, events FROM daily_users ORDER BY 1, 2",
        "SELECT day, command_name, count FROM daily_commands ORDER BY 1, 2",
        "SELECT hour, resolution, count FROM hourly_resolutions ORDER BY 1, 2",
        "SELECT user_id, first_seen_ms FROM known_users ORDER BY 1",
        "SELECT tbl, src_id, ts_ms, user_id FROM imported_rows ORDER BY 1, 2, 3",
    };
    for (size_t i = 0; i < sizeof tables / sizeof tables[0]; i++) {
        char *x = sq_dump(f->dest, tables[i]), *y = pg_dump(t.conn, tables[i]);
        if (strcmp(x, y) != 0) fprintf(stderr, "differs: %s\n", tables[i]);
        assert_string_equal(x, y);
        free(x);
        free(y);
    }
    an_view *vs = an_view_open(f->dest, err, sizeof err),
            *vp = an_view_open(t.url, err, sizeof err);
    assert_non_null(vs);
    assert_non_null(vp);
    for (int days = 1; days <= 30; days += 29) {
        an_stats x, y;
        assert_int_equal(an_view_stats(vs, days, NOW, &x, err, sizeof err), 0);
        assert_int_equal(an_view_stats(vp, days, NOW, &y, err, sizeof err), 0);
        assert_stats_equal(&x, &y);
    }
    an_view_close(vs);
    an_view_close(vp);

    /* All or nothing: a fresh database refusing activity rows keeps nothing of the import. */
    tpg u;
    tpg_open(&u);
    assert_int_equal(an_import_run(f->beta, u.url, &b, err, sizeof err), 0); /* tables made */
    tpg_exec(u.conn, "CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS"
                     " $$ BEGIN RAISE EXCEPTION 'refused by the test'; END $$;"
                     "CREATE TRIGGER no_activity BEFORE INSERT ON user_activity"
                     " FOR EACH ROW EXECUTE FUNCTION refuse();");
    long long before = tpg_scalar(u.conn, "SELECT COUNT(*) FROM imported_rows", 0, NULL);
    assert_int_equal(an_import_run(f->fluxai, u.url, &b, err, sizeof err), 2);
    assert_non_null(strstr(err, "nothing was changed"));
    assert_non_null(strstr(err, "refused by the test"));
    assert_int_equal(tpg_scalar(u.conn, "SELECT COUNT(*) FROM imported_rows", 0, NULL), before);
    assert_int_equal(tpg_scalar(u.conn, "SELECT COUNT(*) FROM command_usage", 0, NULL), 2);
    assert_int_equal(tpg_scalar(u.conn, "SELECT SUM(total_commands) FROM daily_stats", 0, NULL), 2);
    tpg_close(&u);
    tpg_close(&t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_fluxai_then_beta, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cli_summary_and_refusals, setup, teardown),
        cmocka_unit_test_setup_teardown(test_all_or_nothing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_into_postgresql, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
