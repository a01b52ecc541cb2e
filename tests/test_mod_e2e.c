/*
 * Moderation end to end: the whole bot in-process (app_start) against the loopback fake Discord
 * and a fake ComfyUI over real sockets. Refusals are checked where users see them (the
 * callbacks Discord received), violations and bans where operators do (the SQLite tables), and
 * "no GPU time" where ComfyUI would see it (the fake's prompt counter). The tests run in order
 * and share the bot; the last one restarts it on the same database.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>
#include <inttypes.h>
#include <sqlite3.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "actors/router.h"
#include "e2e_util.h"
#include "moderation/mod_state.h"
#include "analytics/an_chart.h"

#define TOKEN "mod-e2e-token.abc"
#define APP_ID 777000000000000002ULL
#define GUILD 200000000000000001ULL
#define CHANNEL 200000000000000002ULL /* the fake's default channel */
#define OTHER_CHANNEL 200000000000000099ULL
#define MANAGER 300000000000000077ULL
#define USER_U 300000000000000101ULL /* warned, then banned by the filter */
#define USER_V 300000000000000102ULL /* banned for an hour */
#define USER_W 300000000000000103ULL /* banned before the restart */
#define USER_X 300000000000000104ULL /* one warning before the restart */

static const char *guilds = "[{\"id\":\"200000000000000001\",\"name\":\"test guild\",\"roles\":["
                            "{\"id\":\"61\",\"name\":\"Bot Manager\",\"permissions\":\"0\"},"
                            "{\"id\":\"62\",\"name\":\"Artists\",\"permissions\":\"0\"}]}]";

static e2e_app_world W;

static _Atomic int64_t g_now;
static int64_t test_clock(void *ctx)
{
    (void)ctx;
    return atomic_load(&g_now);
}

/* Starts the bot on W.cfg (again after a stop) with the moderation on the test's clock. */
static void start_bot(void)
{
    e2e_app_start(&W);
    atomic_store(&g_now, 1800000000000);
    mod_state_set_clock(router_moderation(app_router(W.a)), test_clock, NULL);
}

static int setup(void **state)
{
    (void)state;
    fake_comfy_opts co = {.steps = 2, .step_delay_ms = 20, .png_width = 32, .png_height = 32};
    e2e_app_opts o = {.name = "mod_e2e",
                      .token = TOKEN,
                      .application_id = APP_ID,
                      .guilds_json = guilds,
                      .comfy = &co};
    e2e_app_begin(&W, &o);
    fb_config *c = &W.cfg;
    c->analytics_flush_ms = 20;
    c->router_threads = 2;
    c->runner_threads = 1;
    snprintf(c->access_commands, sizeof c->access_commands,
             "{\"stats\":{\"roles\":[\"Artists\"],\"channels\":[\"%llu\"]},"
             "\"video\":{\"nsfw_only\":true},\"queue\":{\"dms\":true}}",
             (unsigned long long)CHANNEL);
    start_bot();
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    app_set_config_args(0, NULL);
    e2e_app_end(&W);
    return 0;
}

/* ---- helpers --------------------------------------------------------------------------------- */

/* Waits for the interaction's callback; returns its type, and its content (copied). */
static int answer_of(uint64_t id, char *content, size_t cap, int *flags)
{
    size_t n;
    cJSON *o = e2e_app_callback(&W, id, 8000, &n, NULL);
    assert_int_equal(n, 1); /* answered exactly once */
    int type = e2e_app_cb_type(o);
    snprintf(content, cap, "%s", e2e_app_cb_content(o));
    if (flags) *flags = e2e_app_cb_flags(o);
    cJSON_Delete(o);
    return type;
}

static const fake_discord_member *who(uint64_t user, uint64_t channel, const uint64_t *roles,
                                      unsigned nroles, bool dm, bool nsfw)
{
    static fake_discord_member m;
    m = (fake_discord_member){.user_id = user,
                              .username = "someone",
                              .channel_id = channel,
                              .roles = roles,
                              .nroles = nroles,
                              .dm = dm,
                              .channel_nsfw = nsfw};
    return &m;
}

static const uint64_t k_manager_roles[] = {61};
static const uint64_t k_artist_roles[] = {62};

/* Note: who() returns the same static struct each time; a caller keeping one across calls
 * copies it. */
/* Runs a command and returns the answer's type; an ephemeral type 4 puts its text in out. */
static int run(const char *name, const char *options, const fake_discord_member *m, char *out,
               size_t cap)
{
    fake_discord_ix ix;
    assert_int_equal(fake_discord_inject_command(W.fd, name, options, NULL, 0, m, &ix), 0);
    int flags = 0;
    int type = answer_of(ix.id, out, cap, &flags);
    if (type == 4) assert_int_equal(flags & 64, 64); /* every moderation answer is ephemeral */
    return type;
}

static int manager(const char *name, const char *options, char *out, size_t cap)
{
    return run(name, options, who(MANAGER, 0, k_manager_roles, 1, false, false), out, cap);
}

static char *opts_sub(const char *group, const char *sub, const char *inner)
{
    static char buf[2048];
    if (group)
        snprintf(buf, sizeof buf,
                 "[{\"type\":2,\"name\":\"%s\",\"options\":[{\"type\":1,\"name\":\"%s\","
                 "\"options\":%s}]}]",
                 group, sub, inner);
    else
        snprintf(buf, sizeof buf, "[{\"type\":1,\"name\":\"%s\",\"options\":%s}]", sub, inner);
    return buf;
}

static const char *prompt_opts(const char *prompt)
{
    static char buf[1024];
    cJSON *arr = cJSON_CreateArray();
    cJSON *p = cJSON_CreateObject();
    cJSON_AddStringToObject(p, "name", "prompt");
    cJSON_AddNumberToObject(p, "type", 3);
    cJSON_AddStringToObject(p, "value", prompt);
    cJSON_AddItemToArray(arr, p);
    cJSON *r = cJSON_CreateObject();
    cJSON_AddStringToObject(r, "name", "resolution");
    cJSON_AddNumberToObject(r, "type", 3);
    cJSON_AddStringToObject(r, "value", "1:1 [1024x1024 square]");
    cJSON_AddItemToArray(arr, r);
    char *s = cJSON_PrintUnformatted(arr);
    snprintf(buf, sizeof buf, "%s", s);
    free(s);
    cJSON_Delete(arr);
    return buf;
}

static unsigned comfy_prompts(void)
{
    fake_comfy_stats st;
    fake_comfy_get_stats(W.comfy, &st);
    return st.prompts_accepted + st.prompts_rejected;
}

/* Waits (the writer batches) until the query gives want. */
static void expect_sql(const char *sql, int64_t want)
{
    e2e_app_expect_db_int(&W, sql, want, 5000);
}

/* ---- the flow -------------------------------------------------------------------------------- */

static void moderation_commands_are_registered(void **state)
{
    (void)state;
    char *cmds = fake_rest_commands_json(W.rest, 0);
    assert_non_null(cmds);
    cJSON *arr = cJSON_Parse(cmds);
    free(cmds);
    const char *names[] = {"filter", "ban", "unban", "banned", "warnings"};
    for (int i = 0; i < 5; i++) {
        bool found = false;
        const cJSON *c;
        cJSON_ArrayForEach(c, arr) found |=
            strcmp(cJSON_GetObjectItem(c, "name")->valuestring, names[i]) == 0;
        assert_true(found);
    }
    /* access_commands.queue.dms → contexts [0, 1]; the rest guild only. */
    const cJSON *c;
    cJSON_ArrayForEach(c, arr)
    {
        int n = cJSON_GetArraySize(cJSON_GetObjectItem(c, "contexts"));
        assert_int_equal(n, strcmp(cJSON_GetObjectItem(c, "name")->valuestring, "queue") ? 1 : 2);
    }
    cJSON_Delete(arr);
}

static void moderation_needs_permission(void **state)
{
    (void)state;
    char out[4096];
    fake_discord_member plain_m = *who(USER_X, 0, NULL, 0, false, false);
    const fake_discord_member *plain = &plain_m;
    const char *uopt = "[{\"type\":6,\"name\":\"user\",\"value\":\"300000000000000101\"}]";
    assert_int_equal(run("filter",
                         opts_sub("word", "add",
                                  "[{\"type\":3,\"name\":\"word\","
                                  "\"value\":\"x\"}]"),
                         plain, out, sizeof out),
                     4);
    assert_non_null(strstr(out, "administrators"));
    assert_int_equal(run("ban", uopt, plain, out, sizeof out), 4);
    assert_non_null(strstr(out, "bot-manager role"));
    assert_int_equal(run("unban", uopt, plain, out, sizeof out), 4);
    assert_non_null(strstr(out, "bot-manager role"));
    assert_int_equal(run("banned", NULL, plain, out, sizeof out), 4);
    assert_non_null(strstr(out, "bot-manager role"));
    assert_int_equal(run("warnings", opts_sub(NULL, "clear", uopt), plain, out, sizeof out), 4);
    assert_non_null(strstr(out, "Only administrators"));
    assert_int_equal(run("warnings", opts_sub(NULL, "show", uopt), plain, out, sizeof out), 4);
    assert_non_null(strstr(out, "your own"));
    /* Anyone sees their own. */
    assert_int_equal(run("warnings", opts_sub(NULL, "show", "[]"), plain, out, sizeof out), 4);
    assert_non_null(strstr(out, "You have 0 of 2"));
    /* The refusals are recorded as failed uses. */
    router_counters st;
    /* (the router counts an interaction when Discord took its answer, which may come a moment
     * after the test saw the reply: wait up to 5 s) */
    for (int i = 0; i < 500; i++) {
        router_counters_get(app_router(W.a), &st);
        if (st.by[ROUTER_CMD_MODERATION][ROUTER_OUT_DENIED] >= 6) break;
        struct timespec ts = {0, 10 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    assert_int_equal(st.by[ROUTER_CMD_MODERATION][ROUTER_OUT_DENIED], 6);
    expect_sql("SELECT COUNT(*) FROM command_usage WHERE success = 0 AND command_name IN "
               "('filter','ban','unban','banned','warnings')",
               6);
}

static void manager_edits_the_filter(void **state)
{
    (void)state;
    char out[4096];
    assert_int_equal(
        manager("filter",
                opts_sub("word", "add", "[{\"type\":3,\"name\":\"word\",\"value\":\"Forbidden\"}]"),
                out, sizeof out),
        4);
    assert_non_null(strstr(out, "Banned word added"));
    assert_int_equal(
        manager("filter",
                opts_sub("regex", "add",
                         "[{\"type\":3,\"name\":\"name\",\"value\":\"codes\"},"
                         "{\"type\":3,\"name\":\"pattern\",\"value\":\"\\\\bcode\\\\s*\\\\d{4}\"},"
                         "{\"type\":3,\"name\":\"severity\",\"value\":\"high\"}]"),
                out, sizeof out),
        4);
    assert_non_null(strstr(out, "Pattern \"codes\" added"));
    /* Compile errors and catastrophic patterns are reported to the administrator. */
    manager("filter",
            opts_sub("regex", "add",
                     "[{\"type\":3,\"name\":\"name\",\"value\":\"bad\"},"
                     "{\"type\":3,\"name\":\"pattern\",\"value\":\"(unclosed\"}]"),
            out, sizeof out);
    assert_non_null(strstr(out, "does not compile"));
    manager("filter",
            opts_sub("regex", "add",
                     "[{\"type\":3,\"name\":\"name\",\"value\":\"evil\"},"
                     "{\"type\":3,\"name\":\"pattern\",\"value\":\"^(a+)+$\"}]"),
            out, sizeof out);
    assert_non_null(strstr(out, "backtracks"));
    /* Passes the probes, explodes on long runs of b: bounded by the match limits. */
    manager("filter",
            opts_sub("regex", "add",
                     "[{\"type\":3,\"name\":\"name\",\"value\":\"slow\"},"
                     "{\"type\":3,\"name\":\"pattern\",\"value\":\"^(b|bb)+$\"}]"),
            out, sizeof out);
    assert_non_null(strstr(out, "added"));
    manager("filter",
            opts_sub("context", "add",
                     "[{\"type\":3,\"name\":\"trigger\",\"value\":\"shoot\"},"
                     "{\"type\":3,\"name\":\"allowed\",\"value\":\"photo,camera\"}]"),
            out, sizeof out);
    assert_non_null(strstr(out, "Context rule for `shoot` added"));
    manager("filter", opts_sub(NULL, "list", "[]"), out, sizeof out);
    assert_non_null(strstr(out, "Forbidden"));
    assert_non_null(strstr(out, "codes [high]"));
    assert_non_null(strstr(out, "`shoot`: allowed next to photo, camera"));
    expect_sql("SELECT COUNT(*) FROM mod_words WHERE active = 1", 1);
    expect_sql("SELECT COUNT(*) FROM mod_regexes WHERE active = 1", 2);
    expect_sql("SELECT COUNT(*) FROM mod_context_rules WHERE active = 1", 1);
}

static void refused_prompts_warn_then_ban(void **state)
{
    (void)state;
    char out[4096];
    unsigned before = comfy_prompts();
    fake_discord_member u_m = *who(USER_U, 0, NULL, 0, false, false);
    const fake_discord_member *u = &u_m;
    /* Full-width and upper case: still the banned word; the word itself is never shown. */
    assert_int_equal(run("comfy",
                         prompt_opts("a \xef\xbc\xa6\xef\xbd\x8f\xef\xbd\x92\xef\xbd\x82idden cat"),
                         u, out, sizeof out),
                     4);
    assert_non_null(strstr(out, "a banned word"));
    assert_non_null(strstr(out, "Warning 1 of 2"));
    for (char *p = out; *p; p++)
        if (*p >= 'A' && *p <= 'Z') *p = (char)(*p + 32);
    assert_null(strstr(out, "forbidden"));
    /* A pattern, through accents and case. */
    assert_int_equal(run("video",
                         prompt_opts("C\xc3\xb3"
                                     "DE 1234 please"),
                         who(USER_U, 0, NULL, 0, false, true), out, sizeof out),
                     4);
    assert_non_null(strstr(out, "a blocked pattern"));
    assert_non_null(strstr(out, "Warning 2 of 2"));
    assert_null(strstr(out, "code"));
    /* A hostile prompt against the slow pattern: bounded, refused, not a violation. */
    char b[200];
    memset(b, 'b', 90);
    b[90] = '!';
    b[91] = '\0';
    assert_int_equal(run("comfy", prompt_opts(b), u, out, sizeof out), 4);
    assert_non_null(strstr(out, "could not check"));
    /* The context rule: "shoot" without photo/camera nearby. Third violation: banned. */
    assert_int_equal(run("comfy", prompt_opts("SHOOT at dawn"), u, out, sizeof out), 4);
    assert_non_null(strstr(out, "a context rule"));
    assert_non_null(strstr(out, "now banned"));
    /* Banned: every command and every button is refused. */
    assert_int_equal(run("stats", NULL, u, out, sizeof out), 4);
    assert_non_null(strstr(out, "You are banned"));
    fake_discord_ix ix;
    fake_discord_inject_component(W.fd, "whatever:1", 2, NULL, 0, u, &ix);
    int flags = 0;
    assert_int_equal(answer_of(ix.id, out, sizeof out, &flags), 4);
    assert_int_equal(flags & 64, 64);
    assert_non_null(strstr(out, "You are banned"));
    /* A clean prompt of another user still works; nothing refused reached ComfyUI. */
    assert_int_equal(run("comfy", prompt_opts("a photo shoot of a cat"),
                         who(USER_X, 0, NULL, 0, false, false), out, sizeof out),
                     5);
    uint64_t until = e2e_ms() + 8000;
    while (comfy_prompts() < before + 1 && e2e_ms() < until)
        e2e_sleep(20);
    e2e_sleep(200);
    assert_int_equal(comfy_prompts(), before + 1);

    expect_sql("SELECT COUNT(*) FROM user_activity WHERE action_type = "
               "'content_filter_violation' AND user_id = 300000000000000101",
               3);
    expect_sql("SELECT COUNT(*) FROM user_activity WHERE action_type = "
               "'content_filter_violation' AND json_extract(details, '$.kind') = 'regex' AND "
               "json_extract(details, '$.name') = 'codes'",
               1);
    expect_sql("SELECT COUNT(*) FROM mod_violations WHERE user_id = 300000000000000101 AND "
               "outcome = 'warning'",
               2);
    expect_sql("SELECT COUNT(*) FROM mod_bans WHERE user_id = 300000000000000101 AND active = 1",
               1);
    manager(
        "warnings",
        opts_sub(NULL, "show", "[{\"type\":6,\"name\":\"user\",\"value\":\"300000000000000101\"}]"),
        out, sizeof out);
    assert_non_null(strstr(out, "has 2 of 2"));
    assert_non_null(strstr(out, "Banned"));
}

static void ban_with_duration_expires(void **state)
{
    (void)state;
    char out[4096];
    assert_int_equal(manager("ban",
                             "[{\"type\":6,\"name\":\"user\",\"value\":\"300000000000000102\"},"
                             "{\"type\":3,\"name\":\"reason\",\"value\":\"spam\"},"
                             "{\"type\":3,\"name\":\"duration\",\"value\":\"1h\"}]",
                             out, sizeof out),
                     4);
    assert_non_null(strstr(out, "banned from the bot until"));
    manager("ban",
            "[{\"type\":3,\"name\":\"duration\",\"value\":\"soon\"},"
            "{\"type\":6,\"name\":\"user\",\"value\":\"300000000000000103\"}]",
            out, sizeof out);
    assert_non_null(strstr(out, "cannot read the duration"));
    fake_discord_member v_m = *who(USER_V, 0, NULL, 0, false, false);
    const fake_discord_member *v = &v_m;
    assert_int_equal(run("comfy", prompt_opts("a cat"), v, out, sizeof out), 4);
    assert_non_null(strstr(out, "banned from using this bot until"));
    assert_non_null(strstr(out, "spam"));
    manager("banned", NULL, out, sizeof out);
    assert_non_null(strstr(out, "Banned users** (2)"));
    assert_non_null(strstr(out, "<@300000000000000101>"));
    assert_non_null(strstr(out, "by the content filter"));
    assert_non_null(strstr(out, "<@300000000000000102>"));
    /* An hour later (injected clock) the ban has ended by itself. */
    atomic_fetch_add(&g_now, 3600001);
    assert_int_equal(run("comfy", prompt_opts("a cat"), v, out, sizeof out), 5);
    manager("banned", NULL, out, sizeof out);
    assert_non_null(strstr(out, "Banned users** (1)"));
}

static void unban_and_clear_warnings(void **state)
{
    (void)state;
    char out[4096];
    const char *uopt = "[{\"type\":6,\"name\":\"user\",\"value\":\"300000000000000101\"}]";
    manager("unban", uopt, out, sizeof out);
    assert_non_null(strstr(out, "may use the bot again"));
    manager("unban", uopt, out, sizeof out);
    assert_non_null(strstr(out, "is not banned"));
    manager("warnings", opts_sub(NULL, "clear", uopt), out, sizeof out);
    assert_non_null(strstr(out, "Cleared 2 warnings"));
    assert_int_equal(run("warnings", opts_sub(NULL, "show", "[]"),
                         who(USER_U, 0, NULL, 0, false, false), out, sizeof out),
                     4);
    assert_non_null(strstr(out, "You have 0 of 2"));
    expect_sql("SELECT COUNT(*) FROM mod_bans WHERE active = 1", 0 + 1 /* V, expired */);
    expect_sql("SELECT COUNT(*) FROM mod_warning_clears", 1);
}

static void access_rules_refuse_with_where(void **state)
{
    (void)state;
    char out[4096];
    /* /stats: only in CHANNEL, only for Artists. */
    const fake_discord_member *artist_elsewhere =
        who(USER_X, OTHER_CHANNEL, k_artist_roles, 1, false, false);
    assert_int_equal(run("stats", NULL, artist_elsewhere, out, sizeof out), 4);
    assert_non_null(strstr(out, "can be used only in <#200000000000000002>"));
    assert_int_equal(run("stats", NULL, who(USER_X, 0, NULL, 0, false, false), out, sizeof out), 4);
    assert_non_null(strstr(out, "\"Artists\""));
    assert_int_equal(
        run("stats", NULL, who(USER_X, 0, k_artist_roles, 1, false, false), out, sizeof out), 5);
    /* DMs: /comfy refused, /queue allowed. */
    assert_int_equal(
        run("comfy", prompt_opts("a cat"), who(USER_X, 0, NULL, 0, true, false), out, sizeof out),
        4);
    assert_non_null(strstr(out, "direct messages"));
    fake_discord_ix ix;
    fake_discord_inject_command(W.fd, "queue", "[{\"name\":\"show\",\"type\":1}]", NULL, 0,
                                who(USER_X, 0, NULL, 0, true, false), &ix);
    answer_of(ix.id, out, sizeof out, NULL);
    assert_null(strstr(out, "direct messages"));
    /* NSFW: /video only in age-restricted channels. */
    unsigned before = comfy_prompts();
    assert_int_equal(
        run("video", prompt_opts("a cat"), who(USER_X, 0, NULL, 0, false, false), out, sizeof out),
        4);
    assert_non_null(strstr(out, "NSFW"));
    assert_int_equal(comfy_prompts(), before);
    /* SIGHUP's config step: the same command line read again, applied at once. */
    char *argv[] = {"--access-channels", "4242", NULL};
    app_set_config_args(2, argv);
    char summary[700];
    assert_int_equal(app_apply_config(W.a, summary, sizeof summary), 0);
    assert_int_equal(run("warnings", opts_sub(NULL, "show", "[]"),
                         who(USER_X, 0, NULL, 0, false, false), out, sizeof out),
                     4);
    assert_non_null(strstr(out, "can be used only in <#4242>"));
    char *bad[] = {"--access-channels", "general", NULL};
    app_set_config_args(2, bad);
    assert_int_equal(app_apply_config(W.a, summary, sizeof summary), -1);
    assert_non_null(strstr(summary, "access_channels"));
    app_set_config_args(0, (char *[]){NULL});
    assert_int_equal(app_apply_config(W.a, summary, sizeof summary), 0);
    assert_int_equal(run("warnings", opts_sub(NULL, "show", "[]"),
                         who(USER_X, 0, NULL, 0, false, false), out, sizeof out),
                     4);
    assert_non_null(strstr(out, "You have"));
    app_set_config_args(0, NULL);
}

/* A result's Regenerate is checked against the rules of now: a prompt that a later rule
 * refuses gets no new job (and no warning: it passed when it was typed). */
static void regenerate_checks_the_current_rules(void **state)
{
    (void)state;
    char out[4096];
    fake_discord_member xm = *who(USER_X, 0, NULL, 0, false, false);
    fake_discord_ix ix;
    assert_int_equal(
        fake_discord_inject_command(W.fd, "comfy", prompt_opts("a red balloon"), NULL, 0, &xm, &ix),
        0);
    /* Wait for the finished message and its Regenerate button. */
    char regen[128] = "";
    uint64_t until = e2e_ms() + 15000;
    while (!regen[0] && e2e_ms() < until) {
        fake_rest_ix_state st;
        assert_true(fake_rest_interaction_state(W.rest, ix.id, &st));
        const char *p = st.original_json ? strstr(st.original_json, "\"fb:regen:") : NULL;
        if (p) sscanf(p + 1, "%127[^\"]", regen);
        free(st.original_json);
        if (!regen[0]) e2e_sleep(20);
    }
    assert_true(regen[0] != '\0');
    manager("filter",
            opts_sub("word", "add", "[{\"type\":3,\"name\":\"word\",\"value\":\"balloon\"}]"), out,
            sizeof out);
    unsigned before = comfy_prompts();
    unsigned warnings_before = 0;
    run("warnings", opts_sub(NULL, "show", "[]"), &xm, out, sizeof out);
    sscanf(strstr(out, "You have ") ? strstr(out, "You have ") : "You have 0", "You have %u",
           &warnings_before);
    fake_discord_inject_component(W.fd, regen, 2, NULL, 0, &xm, &ix);
    /* The router owns the first answer (a defer); the runner, which holds the result's prompt,
     * refuses late: the "thinking" message is deleted and an ephemeral follow-up says why. */
    int flags = 0;
    assert_int_equal(answer_of(ix.id, out, sizeof out, &flags), 5);
    char prefix[256];
    snprintf(prefix, sizeof prefix, "/webhooks/%llu/%s", (unsigned long long)APP_ID, ix.token);
    fake_rest_filter ff = {.method = "POST", .path_prefix = prefix};
    assert_true(fake_rest_wait(W.rest, &ff, 1, 8000) >= 1);
    fake_rest_request *fq;
    size_t fn = fake_rest_collect(W.rest, &ff, &fq);
    assert_int_equal(fn, 1);
    cJSON *fo = cJSON_Parse((const char *)fq[0].body);
    fake_rest_requests_free(fq, fn);
    assert_non_null(fo);
    const cJSON *fc = cJSON_GetObjectItem(fo, "content");
    snprintf(out, sizeof out, "%s", cJSON_IsString(fc) ? fc->valuestring : "");
    flags = cJSON_GetObjectItem(fo, "flags") ? cJSON_GetObjectItem(fo, "flags")->valueint : 0;
    cJSON_Delete(fo);
    assert_int_equal(flags & 64, 64);
    assert_non_null(strstr(out, "no longer allowed"));
    assert_null(strstr(out, "balloon"));
    e2e_sleep(200);
    assert_int_equal(comfy_prompts(), before);
    run("warnings", opts_sub(NULL, "show", "[]"), &xm, out, sizeof out);
    char want[64];
    snprintf(want, sizeof want, "You have %u of 2", warnings_before);
    assert_non_null(strstr(out, want));
    manager("filter",
            opts_sub("word", "remove", "[{\"type\":3,\"name\":\"word\",\"value\":\"balloon\"}]"),
            out, sizeof out);
    assert_non_null(strstr(out, "removed"));
}

static void state_survives_a_restart(void **state)
{
    (void)state;
    char out[4096];
    manager("ban", "[{\"type\":6,\"name\":\"user\",\"value\":\"300000000000000103\"}]", out,
            sizeof out);
    assert_non_null(strstr(out, "is banned"));
    /* who() returns one static member: copy it to keep it across calls. */
    fake_discord_member xm = *who(USER_X, 0, NULL, 0, false, false);
    const fake_discord_member *x = &xm;
    run("comfy", prompt_opts("forbidden"), x, out, sizeof out);
    assert_non_null(strstr(out, "Warning 1 of 2"));
    manager("filter",
            opts_sub("word", "add", "[{\"type\":3,\"name\":\"word\",\"value\":\"gone\"}]"), out,
            sizeof out);
    manager("filter",
            opts_sub("word", "remove", "[{\"type\":3,\"name\":\"word\",\"value\":\"GONE\"}]"), out,
            sizeof out);
    assert_non_null(strstr(out, "removed"));
    char prio[200];
    snprintf(prio, sizeof prio,
             "[{\"type\":6,\"name\":\"user\",\"value\":\"%" PRIu64 "\"},"
             "{\"type\":3,\"name\":\"level\",\"value\":\"low\"}]",
             (uint64_t)USER_X);
    manager("priority", prio, out, sizeof out);
    assert_non_null(strstr(out, "is now **low**"));

    /* A stop flushes everything; a new start reads it back. */
    assert_int_equal(app_stop(W.a), 0);
    start_bot();
    assert_int_equal(run("comfy", prompt_opts("FORBIDDEN"), who(USER_U, 0, NULL, 0, false, false),
                         out, sizeof out),
                     4);
    assert_non_null(strstr(out, "a banned word"));
    assert_int_equal(run("comfy", prompt_opts("gone"), x, out, sizeof out), 5);
    assert_int_equal(run("stats", NULL, who(USER_W, 0, NULL, 0, false, false), out, sizeof out), 4);
    assert_non_null(strstr(out, "You are banned"));
    assert_int_equal(run("warnings", opts_sub(NULL, "show", "[]"), x, out, sizeof out), 4);
    assert_non_null(strstr(out, "You have 1 of 2"));
    manager("filter", opts_sub(NULL, "list", "[]"), out, sizeof out);
    assert_non_null(strstr(out, "codes [high]"));
    assert_non_null(strstr(out, "`shoot`"));
    assert_null(strstr(out, "gone"));
    /* the priority too (SQLite, schema version 10) */
    snprintf(prio, sizeof prio, "[{\"type\":6,\"name\":\"user\",\"value\":\"%" PRIu64 "\"}]",
             (uint64_t)USER_X);
    manager("priority", prio, out, sizeof out);
    assert_non_null(strstr(out, "priority is **low**"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(moderation_commands_are_registered),
        cmocka_unit_test(moderation_needs_permission),
        cmocka_unit_test(manager_edits_the_filter),
        cmocka_unit_test(refused_prompts_warn_then_ban),
        cmocka_unit_test(ban_with_duration_expires),
        cmocka_unit_test(unban_and_clear_warnings),
        cmocka_unit_test(access_rules_refuse_with_where),
        cmocka_unit_test(regenerate_checks_the_current_rules),
        cmocka_unit_test(state_survives_a_restart),
    };
    int rc = cmocka_run_group_tests(tests, setup, teardown);
    /* The font caches cairo and fontconfig keep for the whole process, freed as the fluxbot
     * executable frees them at exit: without this LeakSanitizer reports fontconfig's cache. */
    an_chart_release();
    return rc;
}
