/*
 * The operator side of the app: `fluxbot check` against loopback fakes (all well, a refused
 * token, a dead ComfyUI, a broken file), a start that stops on a broken file with the file
 * named, and a bot whose token Discord refuses stopping by itself with exit code 4.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/stat.h>
#include <unistd.h>

#include "analytics/an_chart.h"
#include "app/app.h"
#include "fakes/fake_comfy.h"
#include "fakes/fake_discord.h"
#include "fluxbot/log.h"

#define TOKEN "ops-bot-token"

static fake_discord *fd;
static fake_comfy *comfy;
static char db[192];
static char tmpdir[128];

static int setup(void **state)
{
    (void)state;
    log_configure(LOG_LEVEL_ERROR, false, 2);
    fake_discord_options o = {.token = TOKEN};
    fd = fake_discord_start(&o);
    comfy = fake_comfy_start(NULL);
    assert_non_null(fd);
    assert_non_null(comfy);
    snprintf(tmpdir, sizeof tmpdir, "/tmp/fb_app_ops_%d", (int)getpid());
    assert_int_equal(mkdir(tmpdir, 0700), 0);
    snprintf(db, sizeof db, "%s/bot.db", tmpdir);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    fake_comfy_stop(comfy);
    fake_discord_stop(fd);
    char cmd[200];
    snprintf(cmd, sizeof cmd, "rm -rf %s", tmpdir);
    if (system(cmd) != 0) fprintf(stderr, "cleanup of %s failed\n", tmpdir);
    return 0;
}

static void config(fb_config *c, const char *token)
{
    fb_config_defaults(c);
    snprintf(c->discord_token, sizeof c->discord_token, "%s", token);
    snprintf(c->discord_api_base, sizeof c->discord_api_base, "%s", fake_discord_api_base(fd));
    c->comfyui_urls.count = 1;
    snprintf(c->comfyui_urls.items[0], FB_CONFIG_STR, "%s", fake_comfy_url(comfy));
    snprintf(c->db_path, sizeof c->db_path, "%s", db);
    snprintf(c->output_dir, sizeof c->output_dir, "%s/out", tmpdir);
    c->rest_timeout_ms = 5000;
}

/* Runs the check, returns its exit code and its report (malloc'd) in *text. */
static int check(const fb_config *c, char **text)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&buf, &len);
    int rc = app_check_report(c, out);
    fclose(out);
    *text = buf;
    return rc;
}

static void check_passes_when_all_is_well(void **state)
{
    (void)state;
    fb_config c;
    config(&c, TOKEN);
    char *t;
    int rc = check(&c, &t);
    if (rc != 0) fprintf(stderr, "%s", t);
    assert_int_equal(rc, 0);
    assert_non_null(strstr(t, "[ok]   discord"));
    assert_non_null(strstr(t, "[ok]   comfyui"));
    assert_non_null(strstr(t, "[ok]   workflows"));
    assert_non_null(strstr(t, "[ok]   commands"));
    assert_non_null(strstr(t, "6 declarations (comfy, pulid, redux, reduxprompt, upscale, video)"));
    assert_non_null(strstr(t, "all checks passed"));
    assert_non_null(strstr(t, "[ok]   access"));
    assert_non_null(strstr(t, "[ok]   moderation"));
    assert_non_null(strstr(t, "[ok]   stats chart    drawn (800x400 PNG"));
    assert_null(strstr(t, TOKEN)); /* the token never appears */
    free(t);
}

/* stats_chart = false is reported as a choice, and `check` still passes. */
static void check_reports_the_chart_off(void **state)
{
    (void)state;
    fb_config c;
    config(&c, TOKEN);
    c.stats_chart = false;
    char *t;
    int rc = check(&c, &t);
    if (rc != 0) fprintf(stderr, "%s", t);
    assert_int_equal(rc, 0);
    assert_non_null(strstr(t, "[ok]   stats chart    off (stats_chart = false)"));
    assert_null(strstr(t, "drawn ("));
    free(t);
}

/* A bad access rule is named by `check`, and stops the start with exit code 2. */
static void bad_access_rules_are_named(void **state)
{
    (void)state;
    fb_config c;
    config(&c, TOKEN);
    snprintf(c.access_commands, sizeof c.access_commands, "{\"comfy\":{\"channels\":[\"art\"]}}");
    char *t;
    assert_int_equal(check(&c, &t), APP_EXIT_CONFIG);
    assert_non_null(strstr(t, "[FAIL] access"));
    assert_non_null(strstr(t, "access_commands.comfy.channels"));
    free(t);
    char err[768];
    int code = 0;
    assert_null(app_start(&c, err, sizeof err, &code));
    assert_int_equal(code, APP_EXIT_CONFIG);
    assert_non_null(strstr(err, "\"art\" is not a channel id"));
}

static void check_names_each_problem_and_its_fix(void **state)
{
    (void)state;
    fb_config c;
    config(&c, "wrong-token");
    char *t;
    assert_int_equal(check(&c, &t), APP_EXIT_DISCORD_REFUSED);
    assert_non_null(strstr(t, "[FAIL] discord"));
    assert_non_null(strstr(t, "refused the token"));
    assert_non_null(strstr(t, "fix: "));
    free(t);

    /* A ComfyUI that is not there, a broken ratios file, a bad guild id. */
    config(&c, TOKEN);
    c.comfyui_urls.count = 2;
    snprintf(c.comfyui_urls.items[1], FB_CONFIG_STR, "http://127.0.0.1:1");
    char bad[160];
    snprintf(bad, sizeof bad, "%s/ratios.json", tmpdir);
    FILE *f = fopen(bad, "w");
    fputs("{\"ratios\": {\"1:1\": {\"width\": 10}}", f);
    fclose(f);
    snprintf(c.ratios_file, sizeof c.ratios_file, "%s", bad);
    c.guild_ids.count = 1;
    snprintf(c.guild_ids.items[0], FB_CONFIG_STR, "my-server");
    assert_int_equal(check(&c, &t), APP_EXIT_CONFIG);
    assert_non_null(strstr(t, "[FAIL] comfyui"));
    assert_non_null(strstr(t, "http://127.0.0.1:1"));
    assert_non_null(strstr(t, "[ok]   comfyui")); /* the good server still passes */
    assert_non_null(strstr(t, "[FAIL] ratios"));
    assert_non_null(strstr(t, bad)); /* the file is named */
    assert_non_null(strstr(t, "[FAIL] configuration"));
    assert_non_null(strstr(t, "my-server"));
    assert_non_null(strstr(t, "3 problems found"));
    free(t);
}

/* A broken command declaration fails `check`, naming its file, the key and the node. */
static void check_names_a_broken_declaration(void **state)
{
    (void)state;
    fb_config c;
    config(&c, TOKEN);
    char wf[192], cmd[1400];
    snprintf(wf, sizeof wf, "%s/wf", tmpdir);
    snprintf(cmd, sizeof cmd, "cp -r '%s' '%s'", c.workflows_dir, wf);
    assert_int_equal(system(cmd), 0);
    snprintf(c.workflows_dir, sizeof c.workflows_dir, "%s", wf);
    char path[256];
    snprintf(path, sizeof path, "%s/steps.cmd.json", wf);
    FILE *f = fopen(path, "w");
    fputs("{\"name\": \"steps\", \"description\": \"d\", \"workflow\": \"flux_txt2img.json\","
          " \"mapping\": \"flux_txt2img.map.json\", \"output\": \"image\", \"options\": ["
          "{\"name\": \"steps\", \"type\": \"integer\", \"description\": \"Steps\","
          " \"patch\": {\"node\": \"17\", \"input\": \"step\"}}]}",
          f);
    fclose(f);
    char *t;
    assert_int_not_equal(check(&c, &t), 0);
    assert_non_null(strstr(t, "[FAIL] commands"));
    assert_non_null(strstr(t, "steps.cmd.json: options[0] \"steps\": \"patch\": node 17 "
                              "(BasicScheduler) has no input \"step\""));
    free(t);
    /* The same file stops the start, named. */
    char err[768];
    int code = 0;
    assert_null(app_start(&c, err, sizeof err, &code));
    assert_int_equal(code, APP_EXIT_START);
    assert_non_null(strstr(err, "steps.cmd.json: options[0] \"steps\": \"patch\": node 17"));
}

/* A workflows_dir that does not exist: check says why and where to point it, not how to
 * repair a declaration. */
static void check_says_where_to_point_a_missing_workflows_dir(void **state)
{
    (void)state;
    fb_config c;
    config(&c, TOKEN);
    snprintf(c.workflows_dir, sizeof c.workflows_dir, "%s/no-such-folder", tmpdir);
    char *t;
    assert_int_not_equal(check(&c, &t), 0);
    assert_non_null(strstr(t, "[FAIL] commands"));
    assert_non_null(strstr(t, "no-such-folder: cannot open the folder: No such file or directory"));
    assert_non_null(strstr(t, "fix: point workflows_dir (FLUXBOT_WORKFLOWS_DIR) at the folder"));
    assert_null(strstr(t, "repair the named key"));
    free(t);
}

static void a_broken_file_stops_the_start_naming_it(void **state)
{
    (void)state;
    fb_config c;
    config(&c, TOKEN);
    char bad[160];
    snprintf(bad, sizeof bad, "%s/loras.json", tmpdir);
    FILE *f = fopen(bad, "w");
    fputs("{\"loras\": [{\"file\": \"../escape.safetensors\", \"name\": \"x\"}]}", f);
    fclose(f);
    snprintf(c.loras_file, sizeof c.loras_file, "%s", bad);
    char err[768];
    int code = 0;
    assert_null(app_start(&c, err, sizeof err, &code));
    assert_int_equal(code, APP_EXIT_START);
    assert_non_null(strstr(err, bad));

    config(&c, "");
    assert_null(app_start(&c, err, sizeof err, &code));
    assert_int_equal(code, APP_EXIT_CONFIG);
    assert_non_null(strstr(err, "DISCORD_TOKEN"));
}

static void a_refused_token_stops_the_bot_with_exit_4(void **state)
{
    (void)state;
    fb_config c;
    config(&c, "not-the-token");
    char err[768];
    int code = 0;
    app *a = app_start(&c, err, sizeof err, &code);
    if (!a) fprintf(stderr, "app_start: %s\n", err);
    assert_non_null(a);
    bool stopped = false;
    for (int i = 0; i < 200 && !stopped; i++)
        stopped = app_poll(a, 50);
    assert_true(stopped); /* nobody sent a signal: the bot stopped itself */
    assert_int_equal(app_stop(a), APP_EXIT_DISCORD_REFUSED);
}

static void commands_register_per_guild(void **state)
{
    (void)state;
    fb_config c;
    config(&c, TOKEN);
    c.guild_ids.count = 2;
    snprintf(c.guild_ids.items[0], FB_CONFIG_STR, "200000000000000001");
    snprintf(c.guild_ids.items[1], FB_CONFIG_STR, "200000000000000002");
    char err[768];
    int code = 0;
    app *a = app_start(&c, err, sizeof err, &code);
    assert_non_null(a);
    for (int i = 0; i < 300 && !app_commands_registered(a); i++)
        app_poll(a, 20);
    assert_true(app_commands_registered(a));
    fake_rest *rest = fake_discord_rest(fd);
    for (uint64_t g = 200000000000000001ULL; g <= 200000000000000002ULL; g++) {
        char *cmds = fake_rest_commands_json(rest, g);
        assert_non_null(cmds);
        assert_non_null(strstr(cmds, "\"stats\""));
        free(cmds);
    }
    assert_null(fake_rest_commands_json(rest, 0)); /* nothing global */
    assert_int_equal(app_stop(a), 0);

    /* No ComfyUI configured: a configuration error that says what to set. */
    config(&c, TOKEN);
    c.comfyui_urls.count = 0;
    assert_null(app_start(&c, err, sizeof err, &code));
    assert_int_equal(code, APP_EXIT_CONFIG);
    assert_non_null(strstr(err, "COMFYUI_URLS"));
}

/* sched_actors names actors the bot has, without an event loop of their own (the start and
 * `fluxbot check` both say so); every layout (the scheduler with the REST actor on it, every
 * actor on threads of its own, two workers, the REST actor alone) starts and stops cleanly. */
static void scheduled_actors_are_checked_at_start(void **state)
{
    (void)state;
    fb_config c;
    char err[768];
    int code = 0;
    config(&c, TOKEN);
    c.sched_actors.count = 2;
    snprintf(c.sched_actors.items[0], FB_CONFIG_STR, "router");
    snprintf(c.sched_actors.items[1], FB_CONFIG_STR, "gateway");
    assert_null(app_start(&c, err, sizeof err, &code));
    assert_int_equal(code, APP_EXIT_CONFIG);
    assert_non_null(strstr(err, "gateway"));
    assert_non_null(strstr(err, "event loop"));

    snprintf(c.sched_actors.items[1], FB_CONFIG_STR, "routre");
    assert_null(app_start(&c, err, sizeof err, &code));
    assert_int_equal(code, APP_EXIT_CONFIG);
    assert_non_null(strstr(err, "routre"));

    /* `fluxbot check` names the same mistakes before any start */
    char *t;
    config(&c, TOKEN);
    c.sched_actors.count = 3;
    snprintf(c.sched_actors.items[0], FB_CONFIG_STR, "discord_rest");
    snprintf(c.sched_actors.items[1], FB_CONFIG_STR, "gateway");
    snprintf(c.sched_actors.items[2], FB_CONFIG_STR, "routre");
    assert_int_equal(check(&c, &t), APP_EXIT_CONFIG);
    assert_non_null(strstr(t, "sched_actors: gateway runs its own event loop"));
    assert_non_null(strstr(t, "no actor named \"routre\""));
    assert_null(strstr(t, "discord_rest runs"));
    free(t);

    /* the default places the REST actor on the worker; every layout starts, registers (the
     * REST actor's work) and stops: the default, everything on threads of its own, two workers,
     * and the REST actor alone on a thread of its own */
    config(&c, TOKEN);
    bool rest_default = false;
    for (unsigned i = 0; i < c.sched_actors.count; i++)
        rest_default = rest_default || !strcmp(c.sched_actors.items[i], "discord_rest");
    assert_true(rest_default);
    for (int layout = 0; layout < 4; layout++) {
        config(&c, TOKEN);
        c.sched_workers = layout == 1 ? 0 : layout == 2 ? 2 : 1;
        if (layout == 3) { /* router,stats,analytics */
            assert_string_equal(c.sched_actors.items[3], "discord_rest");
            c.sched_actors.count = 3;
        }
        app *a = app_start(&c, err, sizeof err, &code);
        if (!a) fprintf(stderr, "app_start: %s\n", err);
        assert_non_null(a);
        /* up to 90 s: a loaded machine may take long to register (a bound, not a timing) */
        for (int i = 0; i < 4500 && !app_commands_registered(a); i++)
            app_poll(a, 20);
        assert_true(app_commands_registered(a));
        assert_int_equal(app_stop(a), 0);
    }
}

static void stats_command_is_the_analytics_cli(void **state)
{
    (void)state;
    /* No such database: the CLI's "cannot read" status, not the old placeholder's 2. */
    char path[200];
    snprintf(path, sizeof path, "%s/none.db", tmpdir);
    char *argv[] = {"stats", "--db", path, NULL};
    assert_int_equal(app_stats_command(3, argv), 1);
    char *bad[] = {"stats", "--days", "0", NULL};
    assert_int_equal(app_stats_command(3, bad), 2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(commands_register_per_guild),
        cmocka_unit_test(check_passes_when_all_is_well),
        cmocka_unit_test(check_reports_the_chart_off),
        cmocka_unit_test(check_names_each_problem_and_its_fix),
        cmocka_unit_test(bad_access_rules_are_named),
        cmocka_unit_test(check_names_a_broken_declaration),
        cmocka_unit_test(check_says_where_to_point_a_missing_workflows_dir),
        cmocka_unit_test(a_broken_file_stops_the_start_naming_it),
        cmocka_unit_test(a_refused_token_stops_the_bot_with_exit_4),
        cmocka_unit_test(scheduled_actors_are_checked_at_start),
        cmocka_unit_test(stats_command_is_the_analytics_cli),
    };
    int rc = cmocka_run_group_tests(tests, setup, teardown);
    /* The font caches cairo and fontconfig keep for the whole process (`check` draws the /stats
     * chart once), freed as the fluxbot executable frees them at exit: without this
     * LeakSanitizer reports fontconfig's cache. */
    an_chart_release();
    return rc;
}
