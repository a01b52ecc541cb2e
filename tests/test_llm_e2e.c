/*
 * Prompt enhancement end to end: the whole bot in-process (app_start) against the loopback fake
 * Discord, the fake ComfyUI and the fake chat-completions endpoint (testkit/fakes/fake_llm.h),
 * with llm_url set. Checked where users and operators see it:
 *   - /comfy registers its "enhance" option (1..10) with the other options;
 *   - enhanced: the endpoint gets the typed prompt at temperature level / 10 with the key as a
 *     bearer token; the workflow gets the model's text; the user sees "Enhancing…", then the
 *     result with the typed prompt and the enhanced one side by side; the activity row says
 *     "enhance":"ok";
 *   - slow (past llm_timeout_ms), failing (HTTP 500) and malformed answers: the workflow gets the
 *     prompt as typed and the progress and result messages say why, without any URL;
 *   - filtered: an enhanced text that hits the content filter is never used nor shown; the
 *     typed prompt runs, the user is told, and no violation is held against them;
 *   - a command without the option never reaches the endpoint;
 *   - Regenerate of an enhanced result runs the enhanced prompt without asking again; Options →
 *     Regenerate with these options enhances the typed prompt anew at the same level;
 *   - the fluxbot_llm_* metrics count the outcomes; `fluxbot check` probes the endpoint.
 * A second run of the bot (a model that takes a minute, one job per user at a time) shows a job
 * waiting for its enhancement as users and operators see any waiting job:
 *   - /queue lists it as waiting for prompt enhancement; its message says "Enhancing…" with a
 *     Cancel button;
 *   - the Cancel button, then /cancel, drop such a job: the same "Cancelled." message, the
 *     request to the model is cut (the cancelled outcome in the metrics), the prompt never
 *     reaches ComfyUI, the user's one slot is free again (the next job is accepted and runs),
 *     and the analytics have the job's unsuccessful image_stats row and its job_cancelled row;
 *   - a Cancel racing the model's answer ends the job exactly once: one image_stats row, and
 *     nothing reached ComfyUI when it was cancelled before it ran.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>
#include <ctype.h>
#include <inttypes.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "actors/router.h"
#include "addr_check.h"
#include "e2e_util.h"
#include "fakes/fake_llm.h"
#include "moderation/mod_state.h"
#include "metrics_check.h"

#define TOKEN "llm-e2e-token.abc"
#define APP_ID 777000000000000043ULL
#define KEY "sk-e2e-secret-4242"
#define USER 300000000000000001ULL /* the fake's default user */
#define RES "1:1 [1024x1024 square]"

static e2e_app_world W;
static fake_llm *llm;         /* the chat-completions endpoint */
static unsigned metrics_port; /* the bot's metrics */
/* Set by the second group's setup: llm_timeout_ms, and one job per user at a time. */
static int64_t slow_timeout_ms;

static int setup(void **state)
{
    (void)state;
    fake_comfy_opts co = {.steps = 2, .step_delay_ms = 20, .png_width = 48, .png_height = 32};
    e2e_app_opts o = {.name = "llm_e2e", .token = TOKEN, .application_id = APP_ID, .comfy = &co};
    e2e_app_begin(&W, &o);
    llm = fake_llm_start();
    assert_non_null(llm);
    fake_llm_expect_key(llm, KEY);

    fb_config *cfg = &W.cfg;
    cfg->progress_interval_ms = 500;
    cfg->analytics_flush_ms = 20;
    cfg->user_max_jobs_per_hour = 1000;
    snprintf(cfg->llm_url, sizeof cfg->llm_url, "%s", fake_llm_url(llm));
    snprintf(cfg->llm_model, sizeof cfg->llm_model, "fake-model");
    snprintf(cfg->llm_key, sizeof cfg->llm_key, "%s", KEY);
    /* long enough for a loaded machine to answer a well-behaved request, short enough that
     * the slow case (the fake waits 20 s) ends in a few seconds */
    cfg->llm_timeout_ms = 3000;
    if (slow_timeout_ms) {
        cfg->llm_timeout_ms = slow_timeout_ms;
        cfg->user_max_concurrent_jobs = 1;
    }
    metrics_port = metrics_check_free_port();
    cfg->metrics_port = metrics_port;
    e2e_app_start(&W);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    e2e_app_end(&W);
    fake_llm_stop(llm);
    return 0;
}

/* ---- helpers --------------------------------------------------------------------------------- */

static bool prompts_at_least(const fake_comfy_stats *s, void *arg)
{
    return s->prompts_accepted >= *(unsigned *)arg;
}

/* Every PATCH of @original of an interaction so far: the JSON bodies, and the payload_json of
 * a multipart one (the result) in *result (NULL when none yet). Returns the texts joined. */
static char *edits_of(const fake_discord_ix *ix, cJSON **result)
{
    char prefix[256];
    snprintf(prefix, sizeof prefix, "/webhooks/%" PRIu64 "/%s/messages/@original", (uint64_t)APP_ID,
             ix->token);
    fake_rest_filter f = {.method = "PATCH", .path_prefix = prefix};
    fake_rest_request *rq;
    size_t n = fake_rest_collect(W.rest, &f, &rq);
    size_t cap = 1, len = 0;
    for (size_t i = 0; i < n; i++)
        cap += rq[i].body_len + 1;
    char *all = calloc(1, cap);
    assert_non_null(all);
    if (result) *result = NULL;
    for (size_t i = 0; i < n; i++) {
        memcpy(all + len, rq[i].body, rq[i].body_len);
        len += rq[i].body_len;
        all[len++] = '\n';
        for (unsigned k = 0; result && k < rq[i].nparts; k++)
            if (strcmp(rq[i].parts[k].name, "payload_json") == 0) {
                cJSON_Delete(*result);
                *result = cJSON_Parse((const char *)rq[i].parts[k].data);
            }
    }
    fake_rest_requests_free(rq, n);
    return all;
}

/* Runs /comfy with prompt (and enhance when level > 0) to its result; the graph ComfyUI got
 * in *graph, the result's payload in *result, every edit's text in *edits. */
static void run(const char *prompt, int level, cJSON **graph, cJSON **result, char **edits)
{
    fake_comfy_stats before;
    fake_comfy_get_stats(W.comfy, &before);
    char opts[512];
    char lv[64] = "";
    if (level) snprintf(lv, sizeof lv, ",{\"name\":\"enhance\",\"type\":4,\"value\":%d}", level);
    snprintf(opts, sizeof opts,
             "[{\"name\":\"prompt\",\"type\":3,\"value\":\"%s\"},"
             "{\"name\":\"resolution\",\"type\":3,\"value\":\"" RES "\"}%s]",
             prompt, lv);
    fake_discord_ix ix;
    assert_int_equal(fake_discord_inject_command(W.fd, "comfy", opts, NULL, 0, NULL, &ix), 0);
    unsigned want = (unsigned)before.prompts_accepted + 1;
    assert_true(fake_comfy_wait(W.comfy, prompts_at_least, &want, 60000));
    char *text = fake_comfy_prompt_json(W.comfy, (unsigned)before.prompts_accepted);
    assert_non_null(text);
    *graph = cJSON_Parse(text);
    free(text);
    assert_non_null(*graph);
    uint64_t until = e2e_ms() + 60000;
    *result = NULL;
    *edits = NULL;
    while (e2e_ms() < until) {
        free(*edits);
        *edits = edits_of(&ix, result);
        if (*result) break;
        e2e_sleep(40);
    }
    assert_non_null(*result);
}

/* The text the positive prompt node (6) got. */
static const char *prompt_of(const cJSON *g)
{
    const cJSON *t =
        cJSON_GetObjectItem(cJSON_GetObjectItem(cJSON_GetObjectItem(g, "6"), "inputs"), "text");
    assert_true(cJSON_IsString(t));
    return t->valuestring;
}

static const char *content_of(const cJSON *result)
{
    const cJSON *c = cJSON_GetObjectItem(result, "content");
    return cJSON_IsString(c) ? c->valuestring : "";
}

/* The embed's field named like name, or NULL. */
static const char *field_of(const cJSON *result, const char *name)
{
    const cJSON *em = cJSON_GetArrayItem(cJSON_GetObjectItem(result, "embeds"), 0);
    const cJSON *f;
    cJSON_ArrayForEach(f, cJSON_GetObjectItem(em, "fields"))
    {
        if (strstr(cJSON_GetObjectItem(f, "name")->valuestring, name))
            return cJSON_GetObjectItem(f, "value")->valuestring;
    }
    return NULL;
}

static const char *description_of(const cJSON *result)
{
    const cJSON *em = cJSON_GetArrayItem(cJSON_GetObjectItem(result, "embeds"), 0);
    return cJSON_GetObjectItem(em, "description")->valuestring;
}

static void wait_sql(const char *sql, int want)
{
    e2e_app_expect_db_int(&W, sql, want, 30000);
}

/* Nothing a user reads names the endpoint. */
static void no_address(const char *edits)
{
    /* the port as a number of its own: a snowflake may hold its digits (addr_check.h) */
    const char *u = fake_llm_url(llm);
    assert_false(addr_check_has_number(edits, (unsigned)strtoul(strrchr(u, ':') + 1, NULL, 10)));
    assert_null(strstr(edits, "/v1"));
    assert_null(strstr(edits, KEY));
}

/* ---- the flow -------------------------------------------------------------------------------- */

static void enhance_option_is_registered(void **state)
{
    (void)state;
    char *cmds = fake_rest_commands_json(W.rest, 0);
    assert_non_null(cmds);
    cJSON *arr = cJSON_Parse(cmds);
    free(cmds);
    const cJSON *c, *enh = NULL;
    cJSON_ArrayForEach(c, arr)
    {
        if (strcmp(cJSON_GetObjectItem(c, "name")->valuestring, "comfy") != 0) continue;
        const cJSON *o;
        cJSON_ArrayForEach(o, cJSON_GetObjectItem(c, "options"))
        {
            if (strcmp(cJSON_GetObjectItem(o, "name")->valuestring, "enhance") == 0) enh = o;
        }
    }
    assert_non_null(enh);
    assert_int_equal(cJSON_GetObjectItem(enh, "type")->valueint, 4);
    assert_int_equal(cJSON_GetObjectItem(enh, "min_value")->valueint, 1);
    assert_int_equal(cJSON_GetObjectItem(enh, "max_value")->valueint, 10);
    cJSON_Delete(arr);
}

static void enhanced_prompt_runs_and_both_are_shown(void **state)
{
    (void)state;
    fake_llm_set_mode(llm, FAKE_LLM_OK);
    fake_llm_set_reply(llm, "A lighthouse on a cliff at dusk, oil painting");
    unsigned before = fake_llm_requests(llm);
    cJSON *g, *res;
    char *edits;
    run("a lighthouse", 7, &g, &res, &edits);
    assert_string_equal(prompt_of(g), "A lighthouse on a cliff at dusk, oil painting");
    /* what the endpoint got: the typed prompt, the model, temperature 7 / 10, the key */
    assert_int_equal(fake_llm_requests(llm), before + 1);
    assert_true(fake_llm_last_key_ok(llm));
    char *body = fake_llm_last_body(llm);
    cJSON *rq = cJSON_Parse(body);
    free(body);
    assert_string_equal(cJSON_GetObjectItem(rq, "model")->valuestring, "fake-model");
    double t = cJSON_GetObjectItem(rq, "temperature")->valuedouble;
    assert_true(t > 0.69 && t < 0.71);
    const cJSON *msgs = cJSON_GetObjectItem(rq, "messages");
    assert_string_equal(
        cJSON_GetObjectItem(cJSON_GetArrayItem(msgs, cJSON_GetArraySize(msgs) - 1), "content")
            ->valuestring,
        "a lighthouse");
    cJSON_Delete(rq);
    /* what the user saw: the placeholder, then both prompts */
    assert_non_null(strstr(edits, "Enhancing your prompt"));
    assert_non_null(strstr(content_of(res), "Prompt enhanced (creativity 7)"));
    assert_non_null(strstr(description_of(res), "a lighthouse"));
    const char *f = field_of(res, "Enhanced prompt");
    assert_non_null(f);
    assert_string_equal(f, "A lighthouse on a cliff at dusk, oil painting");
    no_address(edits);
    free(edits);
    cJSON_Delete(res);
    cJSON_Delete(g);
    wait_sql("SELECT COUNT(*) FROM user_activity WHERE action_type='job_finished' AND details "
             "LIKE '%\"enhance\":\"ok\"%'",
             1);
    /* the prompt row keeps what the user typed */
    wait_sql("SELECT COUNT(*) FROM image_stats WHERE prompt='a lighthouse'", 1);
}

static void slow_endpoint_times_out_and_the_prompt_runs_as_typed(void **state)
{
    (void)state;
    fake_llm_set_mode(llm, FAKE_LLM_SLOW);
    fake_llm_set_delay_ms(llm, 20000);
    uint64_t t0 = e2e_ms();
    cJSON *g, *res;
    char *edits;
    run("a slow harbour", 4, &g, &res, &edits);
    assert_true(e2e_ms() - t0 < 20000); /* the bot gave up, not the fake */
    assert_string_equal(prompt_of(g), "a slow harbour");
    assert_non_null(strstr(content_of(res), "Prompt enhancement timed out"));
    assert_null(field_of(res, "Enhanced prompt"));
    /* the progress messages said it too */
    const char *line = strstr(edits, "timed out");
    assert_non_null(line);
    no_address(edits);
    free(edits);
    cJSON_Delete(res);
    cJSON_Delete(g);
    wait_sql("SELECT COUNT(*) FROM user_activity WHERE details LIKE '%\"enhance\":\"timeout\"%'",
             1);
}

static void failing_endpoint_falls_back(void **state)
{
    (void)state;
    static const fake_llm_mode modes[] = {FAKE_LLM_FAIL, FAKE_LLM_MALFORMED};
    for (int i = 0; i < 2; i++) {
        fake_llm_set_mode(llm, modes[i]);
        fake_llm_set_status(llm, 500);
        cJSON *g, *res;
        char *edits;
        run(i ? "a malformed mill" : "a failing fort", 9, &g, &res, &edits);
        assert_string_equal(prompt_of(g), i ? "a malformed mill" : "a failing fort");
        assert_non_null(strstr(content_of(res), "Prompt enhancement failed"));
        assert_null(field_of(res, "Enhanced prompt"));
        /* the service's own error text stays in the log */
        assert_null(strstr(edits, "fake service failed"));
        assert_null(strstr(edits, "HTTP 500"));
        no_address(edits);
        free(edits);
        cJSON_Delete(res);
        cJSON_Delete(g);
    }
    wait_sql("SELECT COUNT(*) FROM user_activity WHERE details LIKE '%\"enhance\":\"error\"%'", 2);
}

static void filtered_enhancement_is_withheld(void **state)
{
    (void)state;
    mod_state *mod = router_moderation(app_router(W.a));
    char err[256];
    assert_int_equal(mod_state_add_word(mod, 1, "forbidden", err, sizeof err), 0);
    fake_llm_set_mode(llm, FAKE_LLM_OK);
    fake_llm_set_reply(llm, "a FORBIDDEN tower in the mist");
    unsigned warnings = mod_state_warnings(mod, USER);
    cJSON *g, *res;
    char *edits;
    run("a tower", 5, &g, &res, &edits);
    assert_string_equal(prompt_of(g), "a tower");
    assert_non_null(strstr(content_of(res), "blocked by the content filter"));
    assert_null(field_of(res, "Enhanced prompt"));
    assert_null(strstr(edits, "FORBIDDEN tower"));
    no_address(edits);
    free(edits);
    cJSON_Delete(res);
    cJSON_Delete(g);
    /* the user did not write it: no warning */
    assert_int_equal(mod_state_warnings(mod, USER), warnings);
    assert_false(mod_state_banned(mod, USER, NULL));
    wait_sql("SELECT COUNT(*) FROM user_activity WHERE details LIKE '%\"enhance\":\"filtered\"%'",
             1);
    assert_int_equal(mod_state_remove_word(mod, 1, "forbidden", err, sizeof err), 0);
}

static void without_the_option_the_endpoint_is_not_asked(void **state)
{
    (void)state;
    fake_llm_set_mode(llm, FAKE_LLM_OK);
    fake_llm_set_reply(llm, NULL);
    unsigned before = fake_llm_requests(llm);
    cJSON *g, *res;
    char *edits;
    run("a plain barn", 0, &g, &res, &edits);
    assert_string_equal(prompt_of(g), "a plain barn");
    assert_null(strstr(edits, "nhance"));
    assert_int_equal(fake_llm_requests(llm), before);
    free(edits);
    cJSON_Delete(res);
    cJSON_Delete(g);
}

/* The first custom_id in text that starts with prefix and ends with suffix ("" = any). */
static bool custom_id(const char *text, const char *prefix, const char *suffix, char *out,
                      size_t cap)
{
    const char *p = text;
    while ((p = strstr(p, "\"custom_id\":\"")) != NULL) {
        p += 13;
        const char *e = strchr(p, '"');
        if (!e) return false;
        size_t n = (size_t)(e - p), sl = strlen(suffix);
        if (n < cap && strncmp(p, prefix, strlen(prefix)) == 0 &&
            (sl == 0 || (n >= sl && strncmp(e - sl, suffix, sl) == 0))) {
            memcpy(out, p, n);
            out[n] = '\0';
            return true;
        }
        p = e;
    }
    return false;
}

/* A click on a button; waits until the click's @original has the result (payload in *result)
 * or, with want set, a body containing want (the joined edits returned). */
static char *click_and_wait(const char *id, const char *want, cJSON **result)
{
    fake_discord_ix ix;
    assert_int_equal(
        fake_discord_inject_component(W.fd, id, 2, NULL, 900000000000000021ULL, NULL, &ix), 0);
    uint64_t until = e2e_ms() + 60000;
    char *edits = NULL;
    *result = NULL;
    while (e2e_ms() < until) {
        free(edits);
        cJSON_Delete(*result);
        edits = edits_of(&ix, result);
        if (want ? strstr(edits, want) != NULL : *result != NULL) break;
        e2e_sleep(40);
    }
    return edits;
}

/* Regenerate runs the enhanced prompt again without asking the model; Options → Regenerate
 * with these options enhances the typed prompt anew at the same level. */
static void regenerate_and_options_of_an_enhanced_result(void **state)
{
    (void)state;
    fake_llm_set_mode(llm, FAKE_LLM_OK);
    fake_llm_set_reply(llm, "A red barn under snow, ink sketch");
    cJSON *g, *res;
    char *edits;
    run("a red barn", 3, &g, &res, &edits);
    assert_string_equal(prompt_of(g), "A red barn under snow, ink sketch");
    cJSON_Delete(g);
    char *payload = cJSON_PrintUnformatted(res);
    cJSON_Delete(res);
    free(edits);
    char regen[101], opt[101];
    assert_true(custom_id(payload, "fb:regen:", "", regen, sizeof regen));
    assert_true(custom_id(payload, "fb:opt:", "", opt, sizeof opt));
    free(payload);

    /* Regenerate: same enhanced prompt, no new request, both prompts shown */
    unsigned asked = fake_llm_requests(llm);
    fake_comfy_stats before;
    fake_comfy_get_stats(W.comfy, &before);
    edits = click_and_wait(regen, NULL, &res);
    assert_non_null(res);
    unsigned want = (unsigned)before.prompts_accepted + 1;
    assert_true(fake_comfy_wait(W.comfy, prompts_at_least, &want, 60000));
    char *text = fake_comfy_prompt_json(W.comfy, (unsigned)before.prompts_accepted);
    g = cJSON_Parse(text);
    free(text);
    assert_string_equal(prompt_of(g), "A red barn under snow, ink sketch");
    cJSON_Delete(g);
    assert_int_equal(fake_llm_requests(llm), asked);
    assert_non_null(strstr(description_of(res), "a red barn"));
    assert_string_equal(field_of(res, "Enhanced prompt"), "A red barn under snow, ink sketch");
    cJSON_Delete(res);
    free(edits);

    /* Options, then Regenerate with these options: asked again, at creativity 3 */
    fake_llm_set_reply(llm, "A red barn at dawn, watercolor");
    edits = click_and_wait(opt, ":go\"", &res);
    cJSON_Delete(res);
    char go[101];
    assert_true(custom_id(edits, "fo:", ":go", go, sizeof go));
    free(edits);
    fake_comfy_get_stats(W.comfy, &before);
    edits = click_and_wait(go, NULL, &res);
    assert_non_null(res);
    want = (unsigned)before.prompts_accepted + 1;
    assert_true(fake_comfy_wait(W.comfy, prompts_at_least, &want, 60000));
    text = fake_comfy_prompt_json(W.comfy, (unsigned)before.prompts_accepted);
    g = cJSON_Parse(text);
    free(text);
    assert_string_equal(prompt_of(g), "A red barn at dawn, watercolor");
    cJSON_Delete(g);
    assert_int_equal(fake_llm_requests(llm), asked + 1);
    char *body = fake_llm_last_body(llm);
    cJSON *rq = cJSON_Parse(body);
    free(body);
    double t = cJSON_GetObjectItem(rq, "temperature")->valuedouble;
    assert_true(t > 0.29 && t < 0.31);
    const cJSON *msgs = cJSON_GetObjectItem(rq, "messages");
    assert_string_equal(
        cJSON_GetObjectItem(cJSON_GetArrayItem(msgs, cJSON_GetArraySize(msgs) - 1), "content")
            ->valuestring,
        "a red barn");
    cJSON_Delete(rq);
    assert_non_null(strstr(edits, "Enhancing your prompt"));
    assert_string_equal(field_of(res, "Enhanced prompt"), "A red barn at dawn, watercolor");
    cJSON_Delete(res);
    free(edits);
}

/* The operator counts the outcomes on the metrics port (after the runs above). */
static void metrics_count_the_outcomes(void **state)
{
    (void)state;
    char *text = metrics_check_scrape(metrics_port);
    assert_non_null(text);
    char where[256];
    const char *bad = metrics_check_validate(text, where, sizeof where);
    if (bad) fprintf(stderr, "%s at %s\n", bad, where);
    assert_null(bad);
    /* ok: the command, and the Options rerun (a Regenerate does not ask again) */
    assert_true(metrics_check_value(text, "fluxbot_llm_outcomes_total{outcome=\"ok\"}") == 3);
    assert_true(metrics_check_value(text, "fluxbot_llm_outcomes_total{outcome=\"timeout\"}") == 1);
    assert_true(metrics_check_value(text, "fluxbot_llm_outcomes_total{outcome=\"error\"}") == 2);
    assert_true(metrics_check_value(text, "fluxbot_llm_outcomes_total{outcome=\"filtered\"}") == 1);
    assert_true(metrics_check_value(text, "fluxbot_llm_jobs_total") == 7);
    assert_true(metrics_check_value(text, "fluxbot_llm_in_flight") == 0);
    free(text);
}

/* ---- a job waiting for its enhancement ---------------------------------------------------------
 */

static int setup_slow(void **state)
{
    slow_timeout_ms = 120000;
    return setup(state);
}

static cJSON *original_with(uint64_t id, const char *needle)
{
    return e2e_app_original_with(&W, id, needle, 60000);
}

static const char *text_of(const cJSON *msg)
{
    const char *c = cJSON_GetStringValue(cJSON_GetObjectItem(msg, "content"));
    return c ? c : "";
}

/* The custom_id of the message's Cancel button ("" when none). */
static void cancel_id_of(const cJSON *msg, char out[101])
{
    out[0] = '\0';
    const cJSON *row, *it;
    cJSON_ArrayForEach(row, cJSON_GetObjectItem(msg, "components"))
    {
        cJSON_ArrayForEach(it, cJSON_GetObjectItem(row, "components"))
        {
            const char *id = cJSON_GetStringValue(cJSON_GetObjectItem(it, "custom_id"));
            if (id && strstr(id, "fb:cancel:")) snprintf(out, 101, "%s", id);
        }
    }
}

/* /comfy with enhance by the default user; the interaction id (and the interaction in *out
 * when not NULL). */
static uint64_t enhance_job_ix(const char *prompt, fake_discord_ix *out)
{
    char opts[512];
    snprintf(opts, sizeof opts,
             "[{\"name\":\"prompt\",\"type\":3,\"value\":\"%s\"},"
             "{\"name\":\"resolution\",\"type\":3,\"value\":\"" RES "\"},"
             "{\"name\":\"enhance\",\"type\":4,\"value\":6}]",
             prompt);
    fake_discord_ix ix;
    assert_int_equal(fake_discord_inject_command(W.fd, "comfy", opts, NULL, 0, NULL, &ix), 0);
    if (out) *out = ix;
    return ix.id;
}

static uint64_t enhance_job(const char *prompt)
{
    return enhance_job_ix(prompt, NULL);
}

/* Waits until one of the job's edits so far said "Enhancing…" (the model may have answered,
 * and later edits replaced it, by then); the Cancel button's id it carried. */
static void wait_enhancing_said(const fake_discord_ix *ix, char cancel_id[101])
{
    cancel_id[0] = '\0';
    uint64_t until = e2e_ms() + 60000;
    while (!cancel_id[0] && e2e_ms() < until) {
        char *all = edits_of(ix, NULL);
        const char *c = strstr(all, "Enhancing your prompt") ? strstr(all, "fb:cancel:") : NULL;
        if (c) snprintf(cancel_id, 101, "%.*s", (int)strcspn(c, "\"\\"), c);
        free(all);
        if (!cancel_id[0]) e2e_sleep(20);
    }
    assert_true(cancel_id[0] != '\0');
}

static uint64_t command(const char *name, const char *opts)
{
    fake_discord_ix ix;
    assert_int_equal(fake_discord_inject_command(W.fd, name, opts, NULL, 0, NULL, &ix), 0);
    return ix.id;
}

static const char *const show_opts = "[{\"name\":\"show\",\"type\":1}]";

static uint64_t press(const char *custom_id)
{
    fake_discord_ix ix;
    assert_int_equal(
        fake_discord_inject_component(W.fd, custom_id, 2, NULL, 900000000000000077ULL, NULL, &ix),
        0);
    return ix.id;
}

/* Waits until the job's message says "Enhancing…" with its Cancel button; the button's id. */
static void wait_enhancing(uint64_t ix, char cancel_id[101])
{
    cJSON *msg = original_with(ix, "Enhancing your prompt");
    cancel_id_of(msg, cancel_id);
    cJSON_Delete(msg);
    assert_true(cancel_id[0] != '\0');
}

static int prompt_rows(const char *prompt, int success)
{
    char sql[300];
    snprintf(sql, sizeof sql, "SELECT count(*) FROM image_stats WHERE prompt = '%s'%s", prompt,
             success < 0 ? ""
             : success   ? " AND success = 1"
                         : " AND success = 0");
    return (int)e2e_app_db_int(&W, sql, NULL, 0);
}

static void cancelled_while_enhancing(void **state)
{
    (void)state;
    fake_llm_set_mode(llm, FAKE_LLM_SLOW);
    fake_llm_set_delay_ms(llm, 60000);
    fake_comfy_stats c0;
    fake_comfy_get_stats(W.comfy, &c0);
    unsigned asked = fake_llm_requests(llm);

    /* 1. the Cancel button */
    uint64_t a = enhance_job("enh cancel one");
    char cancel_id[101];
    wait_enhancing(a, cancel_id);
    uint64_t q = command("queue", show_opts);
    cJSON *list = original_with(q, "Your jobs");
    const char *lt = text_of(list);
    assert_non_null(strstr(lt, "/comfy"));
    assert_non_null(strstr(lt, "enh cancel one"));
    assert_non_null(strstr(lt, "waiting for prompt enhancement"));
    assert_non_null(strstr(lt, "0 running, 1 waiting"));
    cJSON_Delete(list);
    uint64_t p = press(cancel_id);
    cJSON_Delete(original_with(p, "was cancelled"));
    cJSON *msg = original_with(a, "Cancelled.");
    assert_string_equal(text_of(msg), "\xf0\x9f\x9a\xab Cancelled.");
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(msg, "components")), 0);
    cJSON_Delete(msg);
    wait_sql("SELECT count(*) FROM image_stats WHERE prompt = 'enh cancel one' AND success = 0", 1);
    wait_sql("SELECT count(*) FROM user_activity WHERE action_type = 'job_cancelled'"
             " AND details LIKE '%\"stage\":\"waiting\"%'",
             1);
    /* the request to the model was cut: its metrics say so, nothing is in flight */
    uint64_t until = e2e_ms() + 30000;
    double dropped = 0, in_flight = -1;
    while (e2e_ms() < until) {
        char *text = metrics_check_scrape(metrics_port);
        assert_non_null(text);
        dropped = metrics_check_value(text, "fluxbot_llm_outcomes_total{outcome=\"cancelled\"}");
        in_flight = metrics_check_value(text, "fluxbot_llm_in_flight");
        free(text);
        if (dropped == 1 && in_flight == 0) break;
        e2e_sleep(50);
    }
    assert_true(dropped == 1);
    assert_true(in_flight == 0);

    /* 2. /cancel, for the next job: accepted, so the one slot of the user is free again */
    uint64_t b = enhance_job("enh cancel two");
    wait_enhancing(b, cancel_id);
    uint64_t k = command("cancel", NULL);
    cJSON_Delete(original_with(k, "was cancelled"));
    msg = original_with(b, "Cancelled.");
    assert_string_equal(text_of(msg), "\xf0\x9f\x9a\xab Cancelled.");
    cJSON_Delete(msg);
    wait_sql("SELECT count(*) FROM image_stats WHERE prompt = 'enh cancel two' AND success = 0", 1);
    wait_sql("SELECT count(*) FROM user_activity WHERE action_type = 'job_cancelled'"
             " AND details LIKE '%\"stage\":\"waiting\"%'",
             2);
    /* pressed again: the job has ended */
    p = press(cancel_id);
    cJSON_Delete(original_with(p, "no longer waiting or running"));

    /* 3. the slot is free: a third job is accepted and, the model answering now, runs */
    fake_llm_set_mode(llm, FAKE_LLM_OK);
    cJSON *g, *res;
    char *edits;
    run("enh after cancels", 6, &g, &res, &edits);
    assert_non_null(strstr(prompt_of(g), FAKE_LLM_SUFFIX));
    cJSON_Delete(g);
    cJSON_Delete(res);
    free(edits);
    fake_comfy_stats c1;
    fake_comfy_get_stats(W.comfy, &c1);
    assert_int_equal(c1.prompts_accepted, c0.prompts_accepted + 1); /* only the third */
    assert_int_equal(prompt_rows("enh cancel one", -1), 1);
    assert_int_equal(prompt_rows("enh cancel two", -1), 1);
    assert_true(fake_llm_requests(llm) >= asked + 2);
}

/* A Cancel pressed as the model answers: one outcome, whichever came first. */
static void cancel_racing_the_answer(void **state)
{
    (void)state;
    static const char waiting_sql[] =
        "SELECT count(*) FROM user_activity WHERE action_type = 'job_cancelled'"
        " AND details LIKE '%\"stage\":\"waiting\"%'";
    static const unsigned delays[] = {0, 30, 120, 400};
    for (unsigned i = 0; i < sizeof delays / sizeof delays[0]; i++) {
        fake_llm_set_mode(llm, FAKE_LLM_SLOW);
        fake_llm_set_delay_ms(llm, delays[i]);
        fake_comfy_stats c0;
        fake_comfy_get_stats(W.comfy, &c0);
        int64_t w0 = e2e_app_db_int(&W, waiting_sql, NULL, 0);
        char prompt[64];
        snprintf(prompt, sizeof prompt, "enh race %u", i);
        fake_discord_ix a;
        enhance_job_ix(prompt, &a);
        char cancel_id[101];
        wait_enhancing_said(&a, cancel_id);
        press(cancel_id);
        /* the job ends exactly once: one image_stats row (cancelled, or its result) */
        char sql[200];
        snprintf(sql, sizeof sql, "SELECT count(*) FROM image_stats WHERE prompt LIKE '%s%%'",
                 prompt);
        wait_sql(sql, 1);
        /* the user's one slot is free again: /queue shows no job */
        uint64_t until = e2e_ms() + 30000;
        bool none = false;
        while (!none && e2e_ms() < until) {
            cJSON *list = original_with(command("queue", show_opts), "Your jobs");
            none = strstr(text_of(list), "You have no jobs") != NULL;
            cJSON_Delete(list);
            if (!none) e2e_sleep(100);
        }
        assert_true(none);
        e2e_sleep(300); /* a second outcome, if there were one, would be written by now */
        assert_int_equal(e2e_app_db_int(&W, sql, NULL, 0), 1);
        fake_comfy_stats c1;
        fake_comfy_get_stats(W.comfy, &c1);
        if (e2e_app_db_int(&W, waiting_sql, NULL, 0) > w0)
            assert_int_equal(c1.prompts_accepted, c0.prompts_accepted); /* cancelled first */
        else
            assert_true(c1.prompts_accepted <= c0.prompts_accepted + 1); /* ran (once) */
    }
    fake_llm_set_mode(llm, FAKE_LLM_OK);
}

static char *check_text(const fb_config *c, int *rc)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&buf, &len);
    assert_non_null(out);
    *rc = app_check_report(c, out);
    fclose(out);
    return buf;
}

/* `fluxbot check` asks the endpoint for its models with the key, and never prints the key. */
static void check_reports_the_endpoint(void **state)
{
    (void)state;
    int rc;
    char *t = check_text(&W.cfg, &rc);
    if (rc != 0) fprintf(stderr, "%s", t);
    assert_int_equal(rc, 0);
    assert_non_null(strstr(t, "[ok]   enhancement"));
    assert_non_null(strstr(t, "model fake-model is listed"));
    assert_null(strstr(t, KEY));
    free(t);
    fb_config c = W.cfg;
    snprintf(c.llm_key, sizeof c.llm_key, "sk-wrong-key-77");
    t = check_text(&c, &rc);
    assert_int_not_equal(rc, 0);
    assert_non_null(strstr(t, "[FAIL] enhancement"));
    assert_non_null(strstr(t, "refused the key (401)"));
    assert_null(strstr(t, "sk-wrong-key-77"));
    free(t);
    c = W.cfg;
    snprintf(c.llm_model, sizeof c.llm_model, "no-such-model");
    t = check_text(&c, &rc);
    assert_non_null(strstr(t, "model no-such-model is not among the 2 the server lists"));
    free(t);
    c = W.cfg;
    c.llm_url[0] = '\0';
    t = check_text(&c, &rc);
    assert_non_null(strstr(t, "[ok]   enhancement    off"));
    free(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(enhance_option_is_registered),
        cmocka_unit_test(enhanced_prompt_runs_and_both_are_shown),
        cmocka_unit_test(slow_endpoint_times_out_and_the_prompt_runs_as_typed),
        cmocka_unit_test(failing_endpoint_falls_back),
        cmocka_unit_test(filtered_enhancement_is_withheld),
        cmocka_unit_test(without_the_option_the_endpoint_is_not_asked),
        cmocka_unit_test(regenerate_and_options_of_an_enhanced_result),
        cmocka_unit_test(metrics_count_the_outcomes),
        cmocka_unit_test(check_reports_the_endpoint),
    };
    const struct CMUnitTest slow[] = {
        cmocka_unit_test(cancelled_while_enhancing),
        cmocka_unit_test(cancel_racing_the_answer),
    };
    int failed = cmocka_run_group_tests_name("llm_e2e", tests, setup, teardown);
    return failed + cmocka_run_group_tests_name("llm_e2e_slow", slow, setup_slow, teardown);
}
