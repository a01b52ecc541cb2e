/* Bodies of the helpers declared in e2e_util.h (see there). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "e2e_util.h"

#include <pthread.h>

#include "analytics/an_chart.h"

uint64_t e2e_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

void e2e_sleep(unsigned ms)
{
    struct timespec d = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&d, NULL);
}

void e2e_print_log(e2e_world *w)
{
    char cmd[300];
    snprintf(cmd, sizeof cmd, "tail -n 60 '%s' >&2", w->log);
    if (system(cmd) != 0) fprintf(stderr, "(no log)\n");
}

bool e2e_ready(e2e_world *w)
{
    fake_gateway_stats gs;
    fake_gateway_get_stats(fake_discord_gateway(w->fd), &gs);
    char *cmds = fake_rest_commands_json(fake_discord_rest(w->fd), 0);
    bool ok = gs.ready_connections >= 1 && cmds != NULL;
    free(cmds);
    return ok;
}

bool e2e_start(e2e_world *w, unsigned step_delay_ms, const char *const *extra_args)
{
    memset(w, 0, sizeof *w);
    w->rng = 42;
    snprintf(w->dir, sizeof w->dir, "/tmp/fluxbot-e2e-XXXXXX");
    if (!mkdtemp(w->dir)) return false;
    snprintf(w->db, sizeof w->db, "%s/e2e.db", w->dir);
    snprintf(w->out, sizeof w->out, "%s/out", w->dir);
    snprintf(w->log, sizeof w->log, "%s/fluxbot.log", w->dir);
    snprintf(w->supp, sizeof w->supp, "%s/lsan.supp", w->dir);
    /* Empty, for the child's LSAN_OPTIONS: a child that is an ASan build must exit without any
     * leak report. It has no TLS client context but the gateway's (libwebsockets 4.1 leaks the
     * CA store of all but one), and it frees the chart's font caches at exit (an_chart_release). */
    FILE *s = fopen(w->supp, "w");
    if (!s) return false;
    fclose(s);

    fake_discord_options fo = {.token = E2E_TOKEN};
    w->fd = fake_discord_start(&fo);
    fake_comfy_opts co = {
        .steps = 4, .step_delay_ms = step_delay_ms, .png_width = 32, .png_height = 32};
    w->comfy[0] = fake_comfy_start(&co);
    w->comfy[1] = fake_comfy_start(&co);
    if (!w->fd || !w->comfy[0] || !w->comfy[1]) return false;
    fb_config defaults;
    fb_config_defaults(&defaults);
    char err[300];
    if (demo_users_init(&w->users, w->fd, defaults.ratios_file, defaults.loras_file, 7, err,
                        sizeof err) != 0)
        return false;

    char urls[200];
    snprintf(urls, sizeof urls, "%s,%s", fake_comfy_url(w->comfy[0]), fake_comfy_url(w->comfy[1]));
    char **env = NULL;
    e2e_env_set(&env, "DISCORD_TOKEN", E2E_TOKEN);
    e2e_env_set(&env, "DISCORD_API_BASE", fake_discord_api_base(w->fd));
    e2e_env_set(&env, "COMFYUI_URLS", urls);
    /* result attachments (the Upscale button's source) are served by the fake on loopback */
    char hosts[200];
    const char *api = fake_discord_api_base(w->fd);
    const char *hp = strstr(api, "://");
    snprintf(hosts, sizeof hosts, "%.*s", hp ? (int)strcspn(hp + 3, "/") : 0, hp ? hp + 3 : "");
    e2e_env_set(&env, "FLUXBOT_ATTACHMENT_HOSTS", hosts);
    e2e_env_set(&env, "FLUXBOT_DB", w->db);
    e2e_env_set(&env, "FLUXBOT_OUTPUT_DIR", w->out);
    e2e_env_set(&env, "FLUXBOT_LOG_LEVEL", "info");
    e2e_env_set(&env, "FLUXBOT_GATEWAY_COMPRESS", "false");
    char lsan[200];
    snprintf(lsan, sizeof lsan, "suppressions=%s", w->supp);
    e2e_env_set(&env, "LSAN_OPTIONS", lsan);
    e2e_env_set(&env, "ASAN_OPTIONS", "detect_leaks=1:abort_on_error=1");
    const char *bin = getenv("FLUXBOT_BIN");
    if (!bin) {
        fprintf(stderr, "FLUXBOT_BIN is not set (run through ctest)\n");
        return false;
    }
    char *argv[32];
    unsigned ac = 0;
    argv[ac++] = (char *)bin;
    argv[ac++] = "run";
    argv[ac++] = "--user-max-concurrent-jobs";
    argv[ac++] = "100";
    argv[ac++] = "--user-max-jobs-per-hour";
    argv[ac++] = "10000";
    argv[ac++] = "--max-queued-jobs";
    argv[ac++] = "10000";
    for (unsigned i = 0; extra_args && extra_args[i] && ac < 30; i++)
        argv[ac++] = (char *)extra_args[i];
    argv[ac] = NULL;
    int rc = e2e_spawn(&w->child, bin, argv, env, w->log);
    e2e_env_free(env);
    if (rc != 0) return false;
    for (uint64_t until = e2e_ms() + 20000; !e2e_ready(w);) {
        if (e2e_wait(&w->child, 0) == 0 || e2e_ms() > until) {
            e2e_print_log(w);
            return false;
        }
        e2e_sleep(20);
    }
    return true;
}

bool e2e_send_one(e2e_world *w)
{
    if (w->n >= E2E_MAX) return false;
    static const unsigned weights[] = {7, 2, 1};
    static const demo_users_kind kinds[] = {DEMO_USERS_COMFY, DEMO_USERS_STATS, DEMO_USERS_BAD};
    demo_users_kind k = kinds[e2e_pick(weights, 3, &w->rng)];
    e2e_ix *x = &w->ix[w->n];
    x->sent = demo_users_inject(&w->users, k, w->n, E2E_USER_BASE + w->n, NULL, &x->s) == 0;
    x->s.kind = k;
    w->n++;
    return x->sent;
}

void e2e_observe(e2e_world *w)
{
    fake_rest *fr = fake_discord_rest(w->fd);
    for (unsigned i = 0; i < w->n; i++) {
        e2e_ix *x = &w->ix[i];
        fake_rest_ix_state st;
        if (!x->sent || !fake_rest_interaction_state(fr, x->s.id, &st)) continue;
        x->callbacks = st.callbacks;
        x->acked = st.ack_type != 0;
        /* A delivered job; /stats answers carry a file too (the chart), they are no jobs. */
        x->done = demo_users_kind_is_job(x->s.kind) && st.original_json &&
                  strstr(st.original_json, "\"attachments\":[{");
        free(st.original_json);
    }
}

bool e2e_settle(e2e_world *w, unsigned timeout_ms)
{
    for (uint64_t until = e2e_ms() + timeout_ms;;) {
        e2e_observe(w);
        bool all = true;
        for (unsigned i = 0; i < w->n && all; i++) {
            const e2e_ix *x = &w->ix[i];
            if (!x->sent) continue;
            if (!x->acked || (demo_users_kind_is_job(x->s.kind) && !x->done)) all = false;
        }
        if (all) return true;
        if (e2e_ms() > until) return false;
        e2e_sleep(50);
    }
}

int e2e_read_db(e2e_world *w)
{
    sqlite3 *h;
    if (sqlite3_open_v2(w->db, &h, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) {
        sqlite3_close(h);
        return -1;
    }
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(h, "SELECT user_id FROM command_usage", -1, &st, NULL) != SQLITE_OK)
        return -1;
    while (sqlite3_step(st) == SQLITE_ROW) {
        uint64_t u = (uint64_t)sqlite3_column_int64(st, 0);
        if (u >= E2E_USER_BASE && u - E2E_USER_BASE < w->n) w->ix[u - E2E_USER_BASE].usage_rows++;
    }
    sqlite3_finalize(st);
    if (sqlite3_prepare_v2(h, "SELECT prompt, success FROM image_stats", -1, &st, NULL) !=
        SQLITE_OK)
        return -1;
    while (sqlite3_step(st) == SQLITE_ROW) {
        const char *p = (const char *)sqlite3_column_text(st, 0);
        const char *hash = p ? strrchr(p, '#') : NULL;
        if (!hash) continue;
        unsigned long seq = strtoul(hash + 1, NULL, 10);
        if (seq < w->n) {
            w->ix[seq].image_rows++;
            if (sqlite3_column_int(st, 1)) w->ix[seq].image_ok_rows++;
        }
    }
    sqlite3_finalize(st);
    sqlite3_close(h);
    return 0;
}

void e2e_stop_world(e2e_world *w, bool keep)
{
    e2e_kill(&w->child);
    demo_users_free(&w->users);
    fake_comfy_stop(w->comfy[0]);
    fake_comfy_stop(w->comfy[1]);
    fake_discord_stop(w->fd);
    if (keep) {
        fprintf(stderr, "kept %s for inspection\n", w->dir);
        return;
    }
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", w->dir);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", w->dir);
}

/* ---- the bot in-process ---------------------------------------------------------------------- */

/* The bot in-process may draw /stats charts (the reporter, `check`), which load cairo's and
 * fontconfig's process-wide font caches. As the fluxbot executable does at exit, they are
 * freed once every bot of the test has stopped: an atexit handler registered after
 * LeakSanitizer's own runs before its leak check (handlers run last-registered first), so the
 * check reports only what is really lost, with no suppression. */
static void e2e_app_release_at_exit(void)
{
    if (atexit(an_chart_release) != 0) fprintf(stderr, "atexit: could not register\n");
}

void e2e_app_begin(e2e_app_world *w, const e2e_app_opts *o)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, e2e_app_release_at_exit);
    memset(w, 0, sizeof *w);
    log_configure(LOG_LEVEL_WARN, false, 2);
    fake_discord_options fo = {
        .token = o->token, .application_id = o->application_id, .guilds_json = o->guilds_json};
    w->fd = fake_discord_start(&fo);
    assert_non_null(w->fd);
    w->rest = fake_discord_rest(w->fd);
    w->comfy = fake_comfy_start(o->comfy);
    assert_non_null(w->comfy);
    snprintf(w->dir, sizeof w->dir, "/tmp/fb_%s_XXXXXX", o->name);
    assert_non_null(mkdtemp(w->dir));
    snprintf(w->db, sizeof w->db, "%s/bot.db", w->dir);
    snprintf(w->out, sizeof w->out, "%s/out", w->dir);
    fb_config *c = &w->cfg;
    fb_config_defaults(c);
    snprintf(c->discord_token, sizeof c->discord_token, "%s", o->token);
    snprintf(c->discord_api_base, sizeof c->discord_api_base, "%s", fake_discord_api_base(w->fd));
    c->comfyui_urls.count = 1;
    snprintf(c->comfyui_urls.items[0], FB_CONFIG_STR, "%s", fake_comfy_url(w->comfy));
    snprintf(c->db_path, sizeof c->db_path, "%s", w->db);
    snprintf(c->output_dir, sizeof c->output_dir, "%s", w->out);
    snprintf(c->workflows_dir, sizeof c->workflows_dir, "%s", FLUXBOT_SOURCE_DIR "/workflows");
    snprintf(c->ratios_file, sizeof c->ratios_file, "%s", FLUXBOT_SOURCE_DIR "/config/ratios.json");
    snprintf(c->loras_file, sizeof c->loras_file, "%s", FLUXBOT_SOURCE_DIR "/config/loras.json");
}

void e2e_app_start(e2e_app_world *w)
{
    char err[768];
    int code;
    w->a = app_start(&w->cfg, err, sizeof err, &code);
    if (!w->a) fprintf(stderr, "app_start: %s (%d)\n", err, code);
    assert_non_null(w->a);
    /* Connected, identified, and the commands registered once READY gave the app id. */
    uint64_t until = e2e_ms() + 90000; /* generous: the machine may be loaded */
    while (e2e_ms() < until && !app_commands_registered(w->a))
        app_poll(w->a, 20);
    assert_true(app_commands_registered(w->a));
}

void e2e_app_end(e2e_app_world *w)
{
    assert_int_equal(app_stop(w->a), 0);
    w->a = NULL;
    fake_comfy_stop(w->comfy);
    fake_discord_stop(w->fd);
    char cmd[200];
    int n = snprintf(cmd, sizeof cmd, "rm -rf '%s'", w->dir);
    assert_true(n > 0 && (size_t)n < sizeof cmd);
    if (system(cmd) != 0) fprintf(stderr, "cleanup of %s failed\n", w->dir);
}

int e2e_app_teardown(void **state)
{
    e2e_app_end(*state);
    return 0;
}

cJSON *e2e_app_callback(e2e_app_world *w, uint64_t id, unsigned timeout_ms, size_t *count,
                        int *status)
{
    char prefix[64];
    snprintf(prefix, sizeof prefix, "/interactions/%" PRIu64 "/", id);
    fake_rest_filter f = {.method = "POST", .path_prefix = prefix};
    assert_true(fake_rest_wait(w->rest, &f, 1, timeout_ms) >= 1);
    fake_rest_request *rq;
    size_t n = fake_rest_collect(w->rest, &f, &rq);
    assert_true(n >= 1);
    cJSON *o = cJSON_Parse((const char *)rq[0].body);
    if (count) *count = n;
    if (status) *status = rq[0].status;
    fake_rest_requests_free(rq, n);
    assert_non_null(o);
    return o;
}

int e2e_app_cb_type(const cJSON *cb)
{
    return cJSON_GetObjectItem(cb, "type")->valueint;
}

int e2e_app_cb_flags(const cJSON *cb)
{
    const cJSON *f = cJSON_GetObjectItem(cJSON_GetObjectItem(cb, "data"), "flags");
    return cJSON_IsNumber(f) ? f->valueint : 0;
}

const char *e2e_app_cb_content(const cJSON *cb)
{
    const cJSON *c = cJSON_GetObjectItem(cJSON_GetObjectItem(cb, "data"), "content");
    return cJSON_IsString(c) ? c->valuestring : "";
}

cJSON *e2e_app_original_find(e2e_app_world *w, uint64_t id, const char *needle, unsigned timeout_ms)
{
    uint64_t until = e2e_ms() + timeout_ms;
    while (e2e_ms() < until) {
        fake_rest_ix_state st = {0};
        if (fake_rest_interaction_state(w->rest, id, &st) && st.original_json &&
            strstr(st.original_json, needle)) {
            cJSON *o = cJSON_Parse(st.original_json);
            free(st.original_json);
            return o;
        }
        free(st.original_json);
        e2e_sleep(20);
    }
    return NULL;
}

cJSON *e2e_app_original_with(e2e_app_world *w, uint64_t id, const char *needle, unsigned timeout_ms)
{
    cJSON *o = e2e_app_original_find(w, id, needle, timeout_ms);
    if (!o) fail_msg("interaction %" PRIu64 ": no @original with \"%s\"", id, needle);
    return o;
}

int64_t e2e_app_db_int(const e2e_app_world *w, const char *sql, char *text, size_t cap)
{
    sqlite3 *db;
    int64_t n = -1;
    if (text) text[0] = '\0';
    if (sqlite3_open_v2(w->db, &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK) {
        sqlite3_stmt *st;
        if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK) {
            if (sqlite3_step(st) == SQLITE_ROW) {
                n = sqlite3_column_int64(st, 0);
                if (text && sqlite3_column_count(st) > 1 && sqlite3_column_text(st, 1))
                    snprintf(text, cap, "%s", sqlite3_column_text(st, 1));
            }
            sqlite3_finalize(st);
        }
    }
    sqlite3_close(db);
    return n;
}

void e2e_app_expect_db_int(const e2e_app_world *w, const char *sql, int64_t want,
                           unsigned timeout_ms)
{
    uint64_t until = e2e_ms() + timeout_ms;
    int64_t got;
    while ((got = e2e_app_db_int(w, sql, NULL, 0)) != want && e2e_ms() < until)
        e2e_sleep(25);
    if (got != want) fprintf(stderr, "%s: %lld, want %lld\n", sql, (long long)got, (long long)want);
    assert_int_equal(got, want);
}
