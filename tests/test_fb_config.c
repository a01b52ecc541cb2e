/*
 * Configuration layers (defaults < file < environment < flags), type and range errors that
 * name the key and the layer, and the token never leaving through --print-config or logs.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdbool.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "actors/gateway.h"
#include "config/fb_config.h"
#include "discord/gw_idq.h"
#include "fluxbot/log.h"
#include "pg/pg_idgate.h"

static char g_err[512];

static int load(fb_config *c, int argc, char **argv, char *const *envp)
{
    fb_config_action act;
    FILE *out = fopen("/dev/null", "w");
    int rc = fb_config_load(c, argc, argv, envp, &act, out, g_err, sizeof g_err);
    fclose(out);
    return rc;
}

static char *write_temp(const char *text)
{
    static char path[64];
    snprintf(path, sizeof path, "/tmp/fluxbot-cfg-XXXXXX");
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    return path;
}

static void test_defaults_are_valid(void **s)
{
    (void)s;
    fb_config c;
    char *env[] = {NULL};
    assert_int_equal(load(&c, 0, NULL, env), 0);
    assert_string_equal(c.discord_api_base, "https://discord.com/api/v10");
    assert_int_equal(c.analytics_batch_max, 512);
    assert_true(c.gateway_compress);
    assert_int_equal(c.comfyui_urls.count, 1);
    assert_string_equal(c.bot_manager_role, "Bot Manager");
}

static void test_precedence_file_env_flags(void **s)
{
    (void)s;
    char *path =
        write_temp("{\"router_threads\": 3, \"runner_threads\": 5, \"db_path\": \"file.db\","
                   " \"comfyui_urls\": [\"http://a:1\", \"http://b:2\"]}");
    char *env[] = {"FLUXBOT_RUNNER_THREADS=6", "FLUXBOT_DB=env.db", NULL};
    char *argv[] = {"-c", path, "--db-path", "flag.db", "--gateway-compress=false"};
    fb_config c;
    assert_int_equal(load(&c, 5, argv, env), 0);
    assert_int_equal(c.router_threads, 3);     /* file */
    assert_int_equal(c.runner_threads, 6);     /* env beats file */
    assert_string_equal(c.db_path, "flag.db"); /* flag beats env */
    assert_false(c.gateway_compress);
    assert_int_equal(c.comfyui_urls.count, 2);
    assert_string_equal(c.comfyui_urls.items[1], "http://b:2");
    unlink(path);

    char *env2[] = {"COMFYUI_URLS= http://x:1 ,http://y:2,", NULL};
    assert_int_equal(load(&c, 0, NULL, env2), 0);
    assert_int_equal(c.comfyui_urls.count, 2);
    assert_string_equal(c.comfyui_urls.items[0], "http://x:1");
}

static void expect_error(int argc, char **argv, char *const *env, const char *needle)
{
    fb_config c;
    assert_int_equal(load(&c, argc, argv, env), -1);
    if (!strstr(g_err, needle)) fail_msg("error \"%s\" lacks \"%s\"", g_err, needle);
}

static void test_errors_name_key_and_source(void **s)
{
    (void)s;
    char *none[] = {NULL};
    char *path = write_temp("{\"router_thread\": 2}");
    char *a1[] = {"-c", path};
    expect_error(2, a1, none, "unknown key \"router_thread\"");
    unlink(path);

    path = write_temp("{\"router_threads\": \"two\"}");
    char *a2[] = {"-c", path};
    expect_error(2, a2, none, "router_threads must be an integer");
    expect_error(2, a2, none, path);
    unlink(path);

    path = write_temp("{\"router_threads\": 2.5}");
    char *a2b[] = {"-c", path};
    expect_error(2, a2b, none, "router_threads must be an integer");
    unlink(path);

    path = write_temp("{\"guild_ids\": [123]}");
    char *a2c[] = {"-c", path};
    expect_error(2, a2c, none, "must be a string");
    unlink(path);

    path = write_temp("{\"router_threads\": 2,");
    char *a3[] = {"-c", path};
    expect_error(2, a3, none, "not valid JSON");
    unlink(path);

    char *a4[] = {"-c", "/nonexistent/fluxbot.json"};
    expect_error(2, a4, none, "cannot open");

    char *env[] = {"FLUXBOT_ROUTER_THREADS=0", NULL};
    expect_error(0, NULL, env,
                 "environment FLUXBOT_ROUTER_THREADS: router_threads must be between 1 and 64");

    char *a5[] = {"--runner-threads", "abc"};
    expect_error(2, a5, none, "flag --runner-threads: runner_threads must be an integer");
    char *a6[] = {"--no-such-flag"};
    expect_error(1, a6, none, "unknown option \"--no-such-flag\"");
    char *a7[] = {"--log-level", "loud"};
    expect_error(2, a7, none,
                 "flag --log-level: log_level must be error, warn, info, debug or trace, got "
                 "\"loud\"");
    /* a word outside a key's set is refused in every layer, which the error names */
    char *env7[] = {"FLUXBOT_LOG_FORMAT=xml", NULL};
    expect_error(0, NULL, env7,
                 "environment FLUXBOT_LOG_FORMAT: log_format must be text or json, got \"xml\"");
    path = write_temp("{\"log_level\": \"\"}");
    char *a7b[] = {"-c", path};
    expect_error(2, a7b, none, "log_level must be error, warn, info, debug or trace, got \"\"");
    unlink(path);
    char *a8[] = {"--gateway-compress=maybe"};
    expect_error(1, a8, none, "must be true or false");
    char *a9[] = {"--db-path"};
    expect_error(1, a9, none, "needs a value");
}

/* stats_chart: on by default; off from the file, the environment or a flag; anything but a
 * boolean is refused naming the key and the layer (`fluxbot check` loads the configuration
 * this way, so it exits 2 on such a value before checking anything else). */
static void test_stats_chart_key(void **s)
{
    (void)s;
    fb_config c;
    char *none[] = {NULL};
    assert_int_equal(load(&c, 0, NULL, none), 0);
    assert_true(c.stats_chart);
    char *path = write_temp("{\"stats_chart\": false}");
    char *a1[] = {"-c", path};
    assert_int_equal(load(&c, 2, a1, none), 0);
    assert_false(c.stats_chart);
    char *env_on[] = {"FLUXBOT_STATS_CHART=true", NULL};
    assert_int_equal(load(&c, 2, a1, env_on), 0);
    assert_true(c.stats_chart); /* the environment beats the file */
    char *a2[] = {"-c", path, "--stats-chart", "true"};
    assert_int_equal(load(&c, 4, a2, none), 0);
    assert_true(c.stats_chart); /* a flag beats the file */
    unlink(path);
    char *env_off[] = {"FLUXBOT_STATS_CHART=off", NULL};
    assert_int_equal(load(&c, 0, NULL, env_off), 0);
    assert_false(c.stats_chart);
    char *a3[] = {"--stats-chart=false"};
    assert_int_equal(load(&c, 1, a3, none), 0);
    assert_false(c.stats_chart);

    char *env_bad[] = {"FLUXBOT_STATS_CHART=sometimes", NULL};
    expect_error(0, NULL, env_bad,
                 "environment FLUXBOT_STATS_CHART: stats_chart must be true or false, got "
                 "\"sometimes\"");
    char *a4[] = {"--stats-chart", "png"};
    expect_error(2, a4, none, "stats_chart must be true or false");
    path = write_temp("{\"stats_chart\": \"no chart\"}");
    char *a5[] = {"-c", path};
    expect_error(2, a5, none, "stats_chart");
    unlink(path);
}

/* The words a key accepts are what its users accept: every log_level word is a log level. */
static void test_choices_are_what_the_code_accepts(void **s)
{
    (void)s;
    unsigned seen = 0;
    for (size_t i = 0; i < fb_config_key_count(); i++) {
        fb_config_key_info k;
        fb_config_key_get(i, &k);
        if (k.value != FB_CONFIG_VALUE_CHOICE) {
            assert_null(k.choices);
            continue;
        }
        assert_non_null(k.choices);
        if (strcmp(k.key, "log_level") != 0) continue;
        char words[128];
        snprintf(words, sizeof words, "%s", k.choices);
        char *save = NULL;
        for (char *w = strtok_r(words, " ", &save); w; w = strtok_r(NULL, " ", &save)) {
            assert_true(log_level_parse(w) >= 0);
            seen++;
        }
    }
    assert_int_equal(seen, LOG_LEVEL_TRACE + 1);
}

/* The README's key table is what `fluxbot --config-reference` prints, row for row: the key
 * table is the one source of every default (max_image_side, max_image_pixels, ...), and a
 * README edited by hand, or a key changed without regenerating the table, fails here. */
static void test_readme_reference_is_generated(void **s)
{
    (void)s;
    char *ref = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&ref, &len);
    assert_non_null(out);
    fb_config_print_reference(out);
    fclose(out);
    FILE *f = fopen(FLUXBOT_SOURCE_DIR "/README.md", "r");
    assert_non_null(f);
    static char readme[1 << 20];
    size_t n = fread(readme, 1, sizeof readme - 1, f);
    fclose(f);
    readme[n] = '\0';
    if (!strstr(readme, ref)) {
        /* name the first row that differs */
        for (char *line = strtok(ref, "\n"); line; line = strtok(NULL, "\n"))
            if (!strstr(readme, line))
                fail_msg("README.md lacks the reference row (regenerate the table with "
                         "`fluxbot --config-reference`): %s",
                         line);
        fail_msg("README.md's key table is not `fluxbot --config-reference` in one piece");
    }
    free(ref);
}

/* result_retention_days: the key's help (so --help, the manual and the README table), the
 * README's prose and docs/analytics.md say the same thing: the three buttons it keeps working
 * (Regenerate, Upscale, Options), and that Delete needs nothing kept. */
static void test_result_retention_said_alike(void **s)
{
    (void)s;
    char *ref = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&ref, &len);
    assert_non_null(out);
    fb_config_print_reference(out);
    fclose(out);
    char *row = strstr(ref, "| `result_retention_days` |");
    assert_non_null(row);
    char *end = strchr(row, '\n');
    if (end) *end = '\0';
    static const char *const said[] = {"Regenerate", "Upscale", "Options", "after a restart",
                                       "Delete"};
    for (int i = 0; i < 5; i++)
        if (!strstr(row, said[i])) fail_msg("result_retention_days' help lacks '%s'", said[i]);
    free(ref);
    static const char *const docs[] = {FLUXBOT_SOURCE_DIR "/README.md",
                                       FLUXBOT_SOURCE_DIR "/docs/analytics.md"};
    static char text[1 << 20];
    for (int d = 0; d < 2; d++) {
        FILE *f = fopen(docs[d], "r");
        assert_non_null(f);
        size_t n = fread(text, 1, sizeof text - 1, f);
        fclose(f);
        text[n] = '\0';
        /* every line that names the key, with the next two (the sentence goes on there) */
        bool options = false;
        for (char *p = strstr(text, "result_retention_days"); p;
             p = strstr(p + 1, "result_retention_days")) {
            char *from = p;
            while (from > text && from[-1] != '\n')
                from--;
            char *to = p;
            for (int k = 0; k < 3 && to; k++)
                to = strchr(to + 1, '\n');
            size_t m = to ? (size_t)(to - from) : strlen(from);
            char piece[2048];
            snprintf(piece, sizeof piece, "%.*s",
                     (int)(m < sizeof piece - 1 ? m : sizeof piece - 1), from);
            if (strstr(piece, "Regenerate") && !strstr(piece, "Options"))
                fail_msg("%s names Regenerate but not Options beside result_retention_days: %s",
                         docs[d], piece);
            if (strstr(piece, "Options")) options = true;
        }
        if (!options)
            fail_msg("%s does not say result_retention_days keeps Options working", docs[d]);
    }
}

static void test_shard_flag(void **s)
{
    (void)s;
    char *none[] = {NULL};
    fb_config c;
    char *a1[] = {"--shard", "3/8"};
    assert_int_equal(load(&c, 2, a1, none), 0);
    assert_int_equal(c.shard_id, 3);
    assert_int_equal(c.shard_count, 8);
    char *a2[] = {"--shard=0/1"};
    assert_int_equal(load(&c, 1, a2, none), 0);
    assert_int_equal(c.shard_count, 1);
    char *a3[] = {"--shard", "8/8"};
    expect_error(2, a3, none, "shard_id 8 must be below shard_count 8");
    char *a4[] = {"--shard", "2"};
    expect_error(2, a4, none, "expected ID/COUNT");
    char *a5[] = {"--shard", "x/2"};
    expect_error(2, a5, none, "shard_id must be an integer");
    char *a6[] = {"--shard"};
    expect_error(1, a6, none, "expected ID/COUNT");
}

static void test_print_config_redacts_token(void **s)
{
    (void)s;
    char *env[] = {"DISCORD_TOKEN=MTIz.secret-token-value", NULL};
    char *argv[] = {"--print-config"};
    fb_config c;
    fb_config_action act;
    char buf[16384] = {0};
    FILE *out = fmemopen(buf, sizeof buf - 1, "w");
    assert_int_equal(fb_config_load(&c, 1, argv, env, &act, out, g_err, sizeof g_err), 0);
    fclose(out);
    assert_int_equal(act, FB_CONFIG_PRINT_CONFIG);
    assert_string_equal(c.discord_token, "MTIz.secret-token-value");
    assert_null(strstr(buf, "secret-token-value"));
    assert_non_null(strstr(buf, "\"discord_token\":\t\"[redacted]\""));
}

static void test_db_url_secret_and_sqlite_path(void **s)
{
    (void)s;
    char *env[] = {"FLUXBOT_DB_URL=postgresql://fb:pw-secret@db.example/fluxbot", NULL};
    char *argv[] = {"--print-config"};
    fb_config c;
    fb_config_action act;
    char buf[16384] = {0};
    FILE *out = fmemopen(buf, sizeof buf - 1, "w");
    assert_int_equal(fb_config_load(&c, 1, argv, env, &act, out, g_err, sizeof g_err), 0);
    fclose(out);
    assert_string_equal(c.db_url, "postgresql://fb:pw-secret@db.example/fluxbot");
    assert_null(strstr(buf, "pw-secret"));
    assert_string_equal(c.db_path, "fluxbot.db");
    /* a plain path keeps SQLite: it becomes the analytics file */
    char *env2[] = {"FLUXBOT_DB_URL=/var/lib/fluxbot/a.db", NULL};
    assert_int_equal(load(&c, 0, NULL, env2), 0);
    assert_string_equal(c.db_url, "");
    assert_string_equal(c.db_path, "/var/lib/fluxbot/a.db");
}

static void test_rest_global_share(void **s)
{
    (void)s;
    fb_config c;
    assert_int_equal(load(&c, 0, NULL, (char *[]){NULL}), 0);
    assert_int_equal(fb_config_rest_global_share(&c), 50); /* every shard in one process */
    char *a3[] = {"--shard", "1/3"};
    assert_int_equal(load(&c, 2, a3, (char *[]){NULL}), 0);
    assert_int_equal(fb_config_rest_global_share(&c), 16); /* 3 processes: 48/s together */
    char *a64[] = {"--shard", "5/64"};
    assert_int_equal(load(&c, 2, a64, (char *[]){NULL}), 0);
    assert_int_equal(fb_config_rest_global_share(&c), 1);
    char *set[] = {"--shard", "1/3", "--rest-global-per-second", "30"};
    assert_int_equal(load(&c, 4, set, (char *[]){NULL}), 0);
    assert_int_equal(fb_config_rest_global_share(&c), 30);
    char *bad[] = {"--rest-global-per-second", "51"};
    assert_int_equal(load(&c, 2, bad, (char *[]){NULL}), -1);
}

/* identify_margin_ms reaches the gateway's shared IDENTIFY gate (it used to be a field no
 * configuration set, so the gate always used its built-in 1000 ms). Its default is the gate's
 * own (PG_IDGATE_MARGIN_MS) and its floor the in-process margin (GW_IDQ_MARGIN_MS): the
 * configuration layer cannot include either header, so this test keeps the numbers equal. */
static void test_identify_margin_reaches_gateway(void **s)
{
    (void)s;
    fb_config c;
    gateway_config g;
    assert_int_equal(load(&c, 0, NULL, (char *[]){NULL}), 0);
    assert_int_equal(c.identify_margin_ms, PG_IDGATE_MARGIN_MS);
    gateway_config_from(&g, &c);
    assert_int_equal(g.identify_margin_ms, PG_IDGATE_MARGIN_MS);

    char floor_env[64], below[64];
    snprintf(floor_env, sizeof floor_env, "FLUXBOT_IDENTIFY_MARGIN_MS=%u", GW_IDQ_MARGIN_MS);
    assert_int_equal(load(&c, 0, NULL, (char *[]){floor_env, NULL}), 0);
    gateway_config_from(&g, &c);
    assert_int_equal(g.identify_margin_ms, GW_IDQ_MARGIN_MS);

    char *flag[] = {"--identify-margin-ms", "2500"};
    assert_int_equal(load(&c, 2, flag, (char *[]){floor_env, NULL}), 0);
    gateway_config_from(&g, &c);
    assert_int_equal(g.identify_margin_ms, 2500);

    snprintf(below, sizeof below, "%u", GW_IDQ_MARGIN_MS - 1);
    char *low[] = {"--identify-margin-ms", below};
    expect_error(2, low, (char *[]){NULL}, "identify_margin_ms must be between 300 and 5000");
    char *high[] = {"--identify-margin-ms", "5001"};
    expect_error(2, high, (char *[]){NULL}, "identify_margin_ms must be between 300 and 5000");
}

static void test_log_never_shows_secret(void **s)
{
    (void)s;
    char path[] = "/tmp/fluxbot-log-XXXXXX";
    int fd = mkstemp(path);
    log_configure(LOG_LEVEL_DEBUG, false, fd);
    log_add_secret("MTIz.secret-token-value");
    LOG_INFO("test", "Authorization: Bot %s sent", "MTIz.secret-token-value");
    log_configure(LOG_LEVEL_DEBUG, true, fd);
    LOG_WARN("test", "quote \" and token MTIz.secret-token-value\n");
    LOG_DEBUG("test", "visible at debug");
    log_configure(LOG_LEVEL_WARN, false, fd);
    LOG_INFO("test", "hidden at warn");
    char buf[4096] = {0};
    lseek(fd, 0, SEEK_SET);
    assert_true(read(fd, buf, sizeof buf - 1) > 0);
    close(fd);
    unlink(path);
    log_clear_secrets();
    log_configure(LOG_LEVEL_INFO, false, 2);
    assert_null(strstr(buf, "secret-token-value"));
    assert_non_null(strstr(buf, "Authorization: Bot [redacted] sent"));
    assert_non_null(strstr(buf, "\"level\":\"warn\",\"actor\":\"test\""));
    assert_non_null(strstr(buf, "quote \\\" and token [redacted]\\n"));
    assert_non_null(strstr(buf, "visible at debug"));
    assert_null(strstr(buf, "hidden at warn"));
}

static void test_json_log_line_stays_json_when_cut(void **s)
{
    (void)s;
    char path[] = "/tmp/fluxbot-log-XXXXXX";
    int fd = mkstemp(path);
    log_configure(LOG_LEVEL_INFO, true, fd);
    static char msg[9000];
    for (size_t i = 0; i < sizeof msg - 1; i++)
        msg[i] = i % 2 ? '"' : 'x'; /* every quote doubles when escaped */
    LOG_INFO("test", "%s", msg);
    log_configure(LOG_LEVEL_INFO, false, 2);
    static char buf[16384];
    lseek(fd, 0, SEEK_SET);
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    unlink(path);
    assert_true(n > 4);
    buf[n] = '\0';
    assert_string_equal(buf + n - 3, "\"}\n");
    assert_int_equal(strchr(buf, '\n') - buf, n - 1); /* one line */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults_are_valid),
        cmocka_unit_test(test_precedence_file_env_flags),
        cmocka_unit_test(test_errors_name_key_and_source),
        cmocka_unit_test(test_choices_are_what_the_code_accepts),
        cmocka_unit_test(test_stats_chart_key),
        cmocka_unit_test(test_readme_reference_is_generated),
        cmocka_unit_test(test_result_retention_said_alike),
        cmocka_unit_test(test_shard_flag),
        cmocka_unit_test(test_print_config_redacts_token),
        cmocka_unit_test(test_log_never_shows_secret),
        cmocka_unit_test(test_db_url_secret_and_sqlite_path),
        cmocka_unit_test(test_rest_global_share),
        cmocka_unit_test(test_identify_margin_reaches_gateway),
        cmocka_unit_test(test_json_log_line_stays_json_when_cut),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
