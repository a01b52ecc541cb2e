/*
 * The Grafana dashboard in contrib/grafana/ against the real bot: the JSON loads and has the
 * shape Grafana imports (title, uid, panels with targets), every panel's queries use the
 * Prometheus datasource variable, and every metric name its queries use appears in a real
 * scrape of the running `fluxbot` binary (as a child, against the loopback fakes, after some
 * traffic), so a renamed metric cannot leave an empty panel behind.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <cjson/cJSON.h>
#include <ctype.h>

#include "e2e_util.h"
#include "metrics_check.h"
#include "util/util_file.h"

#define MAX_NAMES 256

typedef struct names {
    char v[MAX_NAMES][96];
    unsigned n;
} names;

/* Metric names in a PromQL expression: the identifiers starting with fluxbot_ or process_
 * (label names, functions and the $variables never do). */
static void names_from_expr(names *out, const char *expr)
{
    for (const char *p = expr; *p;) {
        bool start = (p == expr || !(isalnum((unsigned char)p[-1]) || p[-1] == '_')) &&
                     (!strncmp(p, "fluxbot_", 8) || !strncmp(p, "process_", 8));
        if (!start) {
            p++;
            continue;
        }
        const char *e = p;
        while (isalnum((unsigned char)*e) || *e == '_' || *e == ':')
            e++;
        size_t len = (size_t)(e - p);
        assert_true(len < sizeof out->v[0]);
        bool seen = false;
        for (unsigned i = 0; i < out->n && !seen; i++)
            seen = strlen(out->v[i]) == len && !strncmp(out->v[i], p, len);
        if (!seen) {
            assert_true(out->n < MAX_NAMES);
            memcpy(out->v[out->n], p, len);
            out->v[out->n++][len] = '\0';
        }
        p = e;
    }
}

/* Walks panels (and rows' nested panels): checks each and collects its metric names. */
static unsigned walk_panels(const cJSON *panels, names *out)
{
    unsigned queries = 0;
    const cJSON *panel;
    cJSON_ArrayForEach(panel, panels)
    {
        const cJSON *type = cJSON_GetObjectItemCaseSensitive(panel, "type");
        const cJSON *title = cJSON_GetObjectItemCaseSensitive(panel, "title");
        assert_true(cJSON_IsString(type));
        assert_true(cJSON_IsString(title) && title->valuestring[0]);
        assert_true(cJSON_IsObject(cJSON_GetObjectItemCaseSensitive(panel, "gridPos")));
        if (!strcmp(type->valuestring, "row")) {
            queries += walk_panels(cJSON_GetObjectItemCaseSensitive(panel, "panels"), out);
            continue;
        }
        const cJSON *ds = cJSON_GetObjectItemCaseSensitive(panel, "datasource");
        const cJSON *uid = cJSON_GetObjectItemCaseSensitive(ds, "uid");
        assert_true(cJSON_IsString(uid));
        assert_string_equal(uid->valuestring, "${datasource}");
        const cJSON *targets = cJSON_GetObjectItemCaseSensitive(panel, "targets");
        if (!cJSON_IsArray(targets) || cJSON_GetArraySize(targets) == 0)
            fail_msg("panel \"%s\" has no query", title->valuestring);
        const cJSON *t;
        cJSON_ArrayForEach(t, targets)
        {
            const cJSON *expr = cJSON_GetObjectItemCaseSensitive(t, "expr");
            assert_true(cJSON_IsString(expr) && expr->valuestring[0]);
            names mine = {.n = 0};
            names_from_expr(&mine, expr->valuestring);
            if (mine.n == 0) fail_msg("query without a metric: %s", expr->valuestring);
            for (unsigned i = 0; i < mine.n; i++)
                names_from_expr(out, mine.v[i]);
            queries++;
        }
    }
    return queries;
}

/* Does the scrape hold a sample (or a family) named exactly `name`? */
static bool scraped(const char *text, const char *name)
{
    size_t n = strlen(name);
    for (const char *p = text; p && *p;) {
        if (!strncmp(p, name, n) && (p[n] == ' ' || p[n] == '{')) return true;
        p = strchr(p, '\n');
        if (p) p++;
    }
    return false;
}

static void dashboard_metrics_exist_in_a_real_scrape(void **state)
{
    (void)state;
    char err[300];
    char *json = util_file_read(FLUXBOT_SOURCE_DIR "/contrib/grafana/fluxbot.json", 1 << 20, NULL,
                                err, sizeof err);
    if (!json) fail_msg("%s", err);
    cJSON *dash = cJSON_Parse(json);
    free(json);
    if (!dash) fail_msg("contrib/grafana/fluxbot.json is not valid JSON");
    const cJSON *title = cJSON_GetObjectItemCaseSensitive(dash, "title");
    const cJSON *uid = cJSON_GetObjectItemCaseSensitive(dash, "uid");
    assert_true(cJSON_IsString(title) && cJSON_IsString(uid));
    /* The Prometheus datasource is a variable, so the import works on any Grafana. */
    const cJSON *vars = cJSON_GetObjectItemCaseSensitive(
        cJSON_GetObjectItemCaseSensitive(dash, "templating"), "list");
    bool has_ds = false;
    const cJSON *var;
    cJSON_ArrayForEach(var, vars)
    {
        const cJSON *name = cJSON_GetObjectItemCaseSensitive(var, "name");
        const cJSON *type = cJSON_GetObjectItemCaseSensitive(var, "type");
        has_ds |= cJSON_IsString(name) && !strcmp(name->valuestring, "datasource") &&
                  cJSON_IsString(type) && !strcmp(type->valuestring, "datasource");
    }
    assert_true(has_ds);
    static names used;
    unsigned queries = walk_panels(cJSON_GetObjectItemCaseSensitive(dash, "panels"), &used);
    cJSON_Delete(dash);
    assert_true(queries >= 10);

    /* What the issue asks the dashboard to show, by metric. */
    static const char *const required[] = {
        "fluxbot_router_interactions_total",
        "fluxbot_router_callback_seconds_sum",
        "fluxbot_jobs_total",
        "fluxbot_job_total_seconds_sum",
        "fluxbot_comfy_server_up",
        "fluxbot_comfy_server_queue_remaining",
        "fluxbot_actor_mailbox_depth",
        "fluxbot_actor_mailbox_spills_total",
        "fluxbot_rest_429_total",
        "fluxbot_rest_ratelimit_wait_seconds_total",
        "fluxbot_analytics_rows_written_total",
        "fluxbot_analytics_lag_seconds",
    };
    for (size_t i = 0; i < sizeof required / sizeof required[0]; i++) {
        bool found = false;
        for (unsigned j = 0; j < used.n && !found; j++)
            found = !strcmp(used.v[j], required[i]);
        if (!found) fail_msg("the dashboard does not show %s", required[i]);
    }

    /* The running bot, some traffic, one scrape. */
    static e2e_world w;
    unsigned mport = metrics_check_free_port();
    assert_true(mport > 0);
    char port[16];
    snprintf(port, sizeof port, "%u", mport);
    const char *args[] = {"--metrics-port", port, NULL};
    assert_true(e2e_start(&w, 5, args));
    for (int i = 0; i < 20; i++)
        assert_true(e2e_send_one(&w));
    bool settled = e2e_settle(&w, 30000);
    if (!settled) e2e_print_log(&w);
    assert_true(settled);
    char *m = metrics_check_scrape(mport);
    assert_non_null(m);
    char where[256];
    const char *bad = metrics_check_validate(m, where, sizeof where);
    if (bad) fail_msg("metrics: %s: %s", bad, where);
    unsigned missing = 0;
    for (unsigned i = 0; i < used.n; i++) {
        if (scraped(m, used.v[i])) continue;
        fprintf(stderr, "dashboard metric not in the scrape: %s\n", used.v[i]);
        missing++;
    }
    free(m);
    assert_int_equal(e2e_signal(&w.child, SIGTERM), 0);
    assert_int_equal(e2e_wait(&w.child, 30000), 0);
    assert_int_equal(e2e_exit_code(&w.child), 0);
    assert_int_equal(e2e_read_db(&w), 0); /* the database the scraped bot wrote is readable */
    e2e_stop_world(&w, false);
    assert_int_equal(missing, 0);
}

int main(void)
{
    log_configure(LOG_LEVEL_ERROR, false, 2);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(dashboard_metrics_exist_in_a_real_scrape),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
