/* `fluxbot stats`: the same numbers as /stats as a table and as JSON, and clear errors for a
 * missing or unreadable database and bad arguments. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <cjson/cJSON.h>

#include "analytics/an_cli.h"
#include "analytics/an_commands.h"
#include "analytics/an_store.h"
#include "analytics/an_time.h"
#include "test_an_util.h"

#define DAY AN_DAY_MS
#define NOW 1710082800000LL /* 2024-03-10 15:00:00 UTC */

typedef struct fx {
    tdir dir;
    char db[512];
    char *out, *err;
    int rc;
} fx;

static int setup(void **state)
{
    fx *f = calloc(1, sizeof *f);
    tdir_make(&f->dir);
    tdir_file(&f->dir, "cli.db", f->db, sizeof f->db);
    char err[512];
    an_store *s = an_store_open(f->db, err, sizeof err);
    assert_non_null(s);
    an_event evs[] = {
        ev_command(1, NOW - DAY, 1, "comfy", true),
        ev_command(2, NOW - 2 * DAY, 2, "comfy", true),
        ev_command(3, NOW - 3 * DAY, 2, "video", false),
        ev_command(4, NOW - 8 * DAY, 3, "stats", true), /* outside 7 days */
        ev_image(5, NOW - DAY + AN_TIME_MINUTE_MS, 1, "1024x1024", 2500, false, true),
        ev_image(6, NOW - 2 * DAY, 2, "1024x1024", 3500, false, true),
        ev_image(7, NOW - 10, 2, "", 60000, true, true),
    };
    const an_event *p[7];
    for (int i = 0; i < 7; i++)
        p[i] = &evs[i];
    assert_int_equal(an_store_write(s, p, 7, err, sizeof err), 0);
    for (int i = 0; i < 7; i++)
        an_event_clear(&evs[i]);
    an_store_close(s);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fx *f = *state;
    free(f->out);
    free(f->err);
    tdir_remove(&f->dir);
    free(f);
    return 0;
}

static char *slurp(FILE *fp)
{
    fflush(fp);
    long n = ftell(fp);
    char *buf = calloc(1, (size_t)n + 1);
    rewind(fp);
    if (n > 0 && fread(buf, 1, (size_t)n, fp) != (size_t)n) abort();
    fclose(fp);
    return buf;
}

/* Runs the subcommand with up to 6 arguments after "stats". */
static void run(fx *f, const char *a1, const char *a2, const char *a3, const char *a4)
{
    char *argv[8] = {"stats"};
    int argc = 1;
    const char *args[] = {a1, a2, a3, a4};
    for (int i = 0; i < 4 && args[i]; i++)
        argv[argc++] = (char *)args[i];
    FILE *out = tmpfile(), *err = tmpfile();
    free(f->out);
    free(f->err);
    f->rc = an_cli_stats_at(argc, argv, NOW, out, err);
    f->out = slurp(out);
    f->err = slurp(err);
}

static void test_table(void **state)
{
    fx *f = *state;
    run(f, "--db", f->db, NULL, NULL);
    assert_int_equal(f->rc, 0);
    assert_string_equal(f->err, "");
    assert_non_null(strstr(f->out, "last 7 days (2024-03-03 15:01:00 UTC .. 2024-03-10 15:00:00"));
    assert_non_null(strstr(f->out, "Total Images               2\n"));
    assert_non_null(strstr(f->out, "Average Generation Time    3.00 s\n"));
    assert_non_null(strstr(f->out, "Total Videos               1\n"));
    assert_non_null(strstr(f->out, "Average Video Time         60.00 s\n"));
    assert_non_null(strstr(f->out, "Total Commands             3\n"));
    assert_non_null(strstr(f->out, "Buttons Pressed            0\n"));
    assert_non_null(strstr(f->out, "1. /comfy"));
    assert_non_null(strstr(f->out, "2. /video"));
    assert_null(strstr(f->out, "stats "));
    /* Users with an event in the last 7 days (user 3 only used /stats 8 days ago). */
    assert_non_null(strstr(f->out, "Total Users                2\n"));
    assert_non_null(strstr(f->out, "Active Users (5+ events)   0\n"));
    assert_non_null(strstr(f->out, "1. 1024x1024"));
}

static void test_json(void **state)
{
    fx *f = *state;
    run(f, "--json", "--days=30", "--db", f->db);
    assert_int_equal(f->rc, 0);
    cJSON *j = cJSON_Parse(f->out);
    assert_non_null(j);
    assert_int_equal(cJSON_GetObjectItem(j, "days")->valueint, 30);
    cJSON *cmd = cJSON_GetObjectItem(j, "commands");
    assert_int_equal(cJSON_GetObjectItem(cmd, "total")->valueint, 4);
    cJSON *pop = cJSON_GetObjectItem(cmd, "popular");
    assert_int_equal(cJSON_GetArraySize(pop), 3);
    assert_string_equal(cJSON_GetObjectItem(cJSON_GetArrayItem(pop, 0), "name")->valuestring,
                        "comfy");
    assert_int_equal(cJSON_GetObjectItem(cJSON_GetArrayItem(pop, 0), "count")->valueint, 2);
    cJSON *img = cJSON_GetObjectItem(j, "images");
    assert_int_equal(cJSON_GetObjectItem(img, "total")->valueint, 2);
    assert_true(cJSON_GetObjectItem(img, "avg_generation_ms")->valuedouble == 3000.0);
    cJSON *users = cJSON_GetObjectItem(j, "users");
    assert_int_equal(cJSON_GetObjectItem(users, "total")->valueint, 3);
    assert_int_equal(cJSON_GetObjectItem(users, "active")->valueint, 0);
    assert_int_equal(cJSON_GetObjectItem(users, "active_min_events")->valueint, 5);
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(j, "series")), 31);
    /* The window is the last 30 x 1440 minutes, now's included. */
    cJSON *win = cJSON_GetObjectItem(j, "window");
    assert_true(cJSON_GetObjectItem(win, "start_ms")->valuedouble ==
                (double)(NOW - 30 * AN_DAY_MS + AN_TIME_MINUTE_MS));
    assert_true(cJSON_GetObjectItem(win, "end_ms")->valuedouble == (double)(NOW + 59999));
    assert_true(cJSON_GetObjectItem(win, "now_ms")->valuedouble == (double)NOW);
    cJSON_Delete(j);

    /* The default database comes from $FLUXBOT_DB, else ./fluxbot.db. */
    char cwd[512];
    assert_non_null(getcwd(cwd, sizeof cwd));
    assert_int_equal(chdir(f->dir.path), 0);
    run(f, "--json", "--days", "1", NULL);
    assert_int_equal(f->rc, 1); /* the default, ./fluxbot.db, does not exist here */
    assert_non_null(strstr(f->err, "fluxbot.db"));
    assert_int_equal(chdir(cwd), 0);
    setenv("FLUXBOT_DB", f->db, 1);
    run(f, "--json", "--days", "1", NULL);
    unsetenv("FLUXBOT_DB");
    assert_int_equal(f->rc, 0);
    j = cJSON_Parse(f->out);
    assert_non_null(j);
    img = cJSON_GetObjectItem(j, "images");
    assert_int_equal(cJSON_GetObjectItem(img, "total")->valueint,
                     1); /* the first minute of the day */
    assert_true(
        cJSON_GetObjectItem(cJSON_GetObjectItem(j, "videos"), "avg_generation_ms")->valuedouble ==
        60000.0);
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(j, "resolutions")), 1);
    cJSON_Delete(j);
}

/* -c reads the bot's configuration: its db_path and active_user_min_events. */
static void test_config_file(void **state)
{
    fx *f = *state;
    char cfg[512];
    tdir_file(&f->dir, "fluxbot.json", cfg, sizeof cfg);
    FILE *fp = fopen(cfg, "w");
    fprintf(fp, "{\"db_path\": \"%s\", \"active_user_min_events\": 2}", f->db);
    fclose(fp);
    run(f, "-c", cfg, "--json", NULL);
    assert_int_equal(f->rc, 0);
    cJSON *j = cJSON_Parse(f->out);
    assert_non_null(j);
    cJSON *users = cJSON_GetObjectItem(j, "users");
    assert_int_equal(cJSON_GetObjectItem(users, "total")->valueint, 2);
    assert_int_equal(cJSON_GetObjectItem(users, "active")->valueint, 2); /* 2 and 4 events */
    assert_int_equal(cJSON_GetObjectItem(users, "active_min_events")->valueint, 2);
    cJSON_Delete(j);
    fp = fopen(cfg, "w");
    fprintf(fp, "{\"active_user_min_events\": 0}");
    fclose(fp);
    run(f, "-c", cfg, NULL, NULL);
    assert_int_equal(f->rc, 2);
    assert_non_null(strstr(f->err, "active_user_min_events"));
}

static void test_errors(void **state)
{
    fx *f = *state;
    /* A terminal user's wording: the flag, the value, the range; never Discord's (the `days`
     * option, markdown). */
    run(f, "--db", f->db, "--days", "0");
    assert_int_equal(f->rc, 2);
    assert_string_equal(f->err, "fluxbot stats: --days 0 is out of range: give a whole number of "
                                "days from 1 to 365 (default 7)\n"
                                "Try 'fluxbot stats --help'.\n");
    assert_string_equal(f->out, "");
    static const char *const out_of_range[] = {"366", "-3", "99999999999999999999999"};
    for (int i = 0; i < 3; i++) {
        run(f, "--db", f->db, "--days", out_of_range[i]);
        assert_int_equal(f->rc, 2);
        assert_non_null(strstr(f->err, "is out of range: give a whole number of days from 1 to"));
        assert_null(strstr(f->err, "`"));
        assert_null(strstr(f->err, "option"));
    }
    static const char *const not_number[] = {"abc", "1.5", "7d", " 7"};
    for (int i = 0; i < 4; i++) {
        run(f, "--db", f->db, "--days", not_number[i]);
        assert_int_equal(f->rc, 2);
        char want[80];
        snprintf(want, sizeof want, "--days '%s' is not a whole number: give", not_number[i]);
        assert_non_null(strstr(f->err, want));
        assert_null(strstr(f->err, "`"));
    }
    run(f, "--db", f->db, "--days=", NULL);
    assert_int_equal(f->rc, 2);
    assert_non_null(strstr(f->err, "fluxbot stats: --days needs a value: a whole number of days"));
    run(f, "--db", f->db, "--days", NULL);
    assert_int_equal(f->rc, 2);
    assert_non_null(strstr(f->err, "needs a value"));
    /* /stats 30 typed as fluxbot stats 30 */
    run(f, "--db", f->db, "30", NULL);
    assert_int_equal(f->rc, 2);
    assert_non_null(strstr(f->err, "unexpected argument '30' (for a window of 30 days, give "
                                   "--days 30)"));
    /* empty values are not file names */
    run(f, "--db=", NULL, NULL, NULL);
    assert_int_equal(f->rc, 2);
    assert_non_null(strstr(f->err, "fluxbot stats: --db needs a value (it is empty)"));
    run(f, "--db", f->db, "--chart", "");
    assert_int_equal(f->rc, 2);
    assert_non_null(strstr(f->err, "fluxbot stats: --chart needs a value (it is empty)"));
    run(f, "-c", "", NULL, NULL);
    assert_int_equal(f->rc, 2);
    assert_non_null(strstr(f->err, "fluxbot stats: -c needs a value (it is empty)"));
    /* Discord's /stats keeps its own wording */
    an_days_result d = an_days_from_text("0");
    assert_false(d.ok);
    assert_int_equal(d.why, AN_COMMANDS_DAYS_OUT_OF_RANGE);
    assert_non_null(
        strstr(d.error, "The `days` option must be a whole number of days from 1 to 365"));
    run(f, "--frobnicate", NULL, NULL, NULL);
    assert_int_equal(f->rc, 2);
    assert_non_null(strstr(f->err, "unknown argument '--frobnicate'"));
    run(f, "--help", NULL, NULL, NULL);
    assert_int_equal(f->rc, 0);
    assert_non_null(strstr(f->out, "usage: fluxbot stats"));

    char missing[512];
    tdir_file(&f->dir, "nope.db", missing, sizeof missing);
    run(f, "--db", missing, NULL, NULL);
    assert_int_equal(f->rc, 1);
    assert_non_null(strstr(f->err, missing));
    /* says what is wrong, not SQLite's "unable to open database file" */
    assert_non_null(strstr(f->err, "no analytics database at"));
    assert_non_null(strstr(f->err, "No such file or directory"));
    assert_non_null(strstr(f->err, "Check --db."));
    assert_int_equal(access(missing, F_OK), -1);

    char junk[512];
    tdir_file(&f->dir, "junk.db", junk, sizeof junk);
    FILE *fp = fopen(junk, "w");
    for (int i = 0; i < 4096; i++)
        fputc(i * 31, fp);
    fclose(fp);
    run(f, "--db", junk, NULL, NULL);
    assert_int_equal(f->rc, 1);
    assert_non_null(strstr(f->err, "not a database"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_table, setup, teardown),
        cmocka_unit_test_setup_teardown(test_json, setup, teardown),
        cmocka_unit_test_setup_teardown(test_config_file, setup, teardown),
        cmocka_unit_test_setup_teardown(test_errors, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
