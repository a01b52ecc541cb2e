/*
 * The whole bot in-process (app_start: analytics writer, REST actor, stats reporter, ComfyUI
 * runner, router, gateway) against the loopback fake Discord (websocket gateway + REST) and a
 * fake ComfyUI, over real sockets. Interactions are injected the way Discord delivers them,
 * and everything is checked where a user or an operator would see it: the callbacks and edits
 * Discord received, the uploaded PNG, and the rows in the SQLite database.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>
#include <inttypes.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "actors/gateway.h"
#include "actors/router.h"
#include "analytics/an_confirm.h"
#include "comfy/loras.h"
#include "comfy/ratios.h"
#include "e2e_util.h"
#include "analytics/an_chart.h"

#define TOKEN "e2e-bot-token.abc"
#define APP_ID 777000000000000001ULL
#define MANAGER_ROLE 61ULL
#define MANAGER_USER 300000000000000077ULL
#define OTHER_USER 300000000000000088ULL

static const char *guilds = "[{\"id\":\"200000000000000001\",\"name\":\"test guild\",\"roles\":["
                            "{\"id\":\"61\",\"name\":\"Bot Manager\",\"permissions\":\"0\"},"
                            "{\"id\":\"62\",\"name\":\"Artists\",\"permissions\":\"0\"}]}]";

static e2e_app_world W;

static int setup(void **state)
{
    fake_comfy_opts co = {.steps = 4, .step_delay_ms = 60, .png_width = 48, .png_height = 32};
    e2e_app_opts o = {.name = "app_e2e",
                      .token = TOKEN,
                      .application_id = APP_ID,
                      .guilds_json = guilds,
                      .comfy = &co};
    e2e_app_begin(&W, &o);
    fb_config *cfg = &W.cfg;
    cfg->progress_interval_ms = 100;
    cfg->analytics_flush_ms = 20;
    cfg->router_threads = 2;
    cfg->runner_threads = 2;
    cfg->gateway_compress = true;
    e2e_app_start(&W);
    *state = &W;
    return 0;
}

/* ---- helpers --------------------------------------------------------------------------------- */

/* The body of the (first) callback Discord received for an interaction, parsed. */
static cJSON *callback_of(uint64_t id)
{
    int status;
    cJSON *o = e2e_app_callback(&W, id, 5000, NULL, &status);
    assert_int_equal(status, 204);
    return o;
}

/* Waits until the interaction's @original was edited at least n times; returns its JSON. */
static char *wait_edits(uint64_t id, unsigned n, int timeout_ms)
{
    uint64_t until = e2e_ms() + (uint64_t)timeout_ms;
    fake_rest_ix_state st;
    for (;;) {
        assert_true(fake_rest_interaction_state(W.rest, id, &st));
        if (st.edits >= n || e2e_ms() > until) break;
        free(st.original_json);
        e2e_sleep(20);
    }
    assert_true(st.edits >= n);
    return st.original_json;
}

static void ix_check_ack(uint64_t id, int type)
{
    fake_rest_ix_state st;
    uint64_t until = e2e_ms() + 5000;
    do {
        assert_true(fake_rest_interaction_state(W.rest, id, &st));
        free(st.original_json);
        if (st.ack_type) break;
        e2e_sleep(10);
    } while (e2e_ms() < until);
    assert_int_equal(st.ack_type, type);
    assert_true(st.ack_ms >= 0 && st.ack_ms < 3000); /* inside Discord's window */
    assert_false(st.late);
    assert_int_equal(st.callbacks, 1); /* answered exactly once */
}

/* command_usage as "name:success" lines in insertion order, once the writer committed `want`
 * rows (or 5 s passed); autocomplete rows apart (see stats_shows_what_was_done). */
static int usage_rows(char *out, size_t cap, int want)
{
    int n = 0;
    uint64_t until = e2e_ms() + 5000;
    do {
        sqlite3 *db;
        out[0] = 0;
        n = 0;
        if (sqlite3_open_v2(W.db, &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK) {
            sqlite3_stmt *st;
            if (sqlite3_prepare_v2(db,
                                   "SELECT command_name, success FROM command_usage"
                                   " WHERE kind <> 'autocomplete' ORDER BY seq",
                                   -1, &st, NULL) == SQLITE_OK) {
                while (sqlite3_step(st) == SQLITE_ROW) {
                    size_t l = strlen(out);
                    snprintf(out + l, cap - l, "%s:%d\n", sqlite3_column_text(st, 0),
                             sqlite3_column_int(st, 1));
                    n++;
                }
                sqlite3_finalize(st);
            }
        }
        sqlite3_close(db);
        if (n == want) break;
        e2e_sleep(25);
    } while (e2e_ms() < until);
    return n;
}

static int sql_count(const char *sql)
{
    return (int)e2e_app_db_int(&W, sql, NULL, 0);
}

static int table_count(const char *table)
{
    char sql[96];
    snprintf(sql, sizeof sql, "SELECT count(*) FROM %s", table);
    return sql_count(sql);
}

/* ---- the flow (tests run in order and share the bot) ----------------------------------------- */

static void commands_were_registered_globally(void **state)
{
    (void)state;
    char *cmds = fake_rest_commands_json(W.rest, 0);
    assert_non_null(cmds);
    assert_non_null(strstr(cmds, "\"comfy\""));
    assert_non_null(strstr(cmds, "\"reset_stats\""));
    assert_non_null(strstr(cmds, "1:1 [1024x1024 square]")); /* resolution choices */
    free(cmds);
    gateway_counters gs;
    gateway_counters_get(app_gateway(W.a), &gs);
    assert_int_equal(gs.application_id, APP_ID);
    assert_true(gs.role_events >= 1); /* GUILD_CREATE with the roles reached the cache */
}

static void comfy_defers_then_progress_then_png(void **state)
{
    (void)state;
    fake_discord_ix ix;
    assert_int_equal(
        fake_discord_inject_command(W.fd, "comfy",
                                    "[{\"name\":\"prompt\",\"type\":3,\"value\":\"a red fox\"},"
                                    "{\"name\":\"resolution\",\"type\":3,"
                                    "\"value\":\"1:1 [1024x1024 square]\"},"
                                    "{\"name\":\"lora\",\"type\":3,\"value\":\"Watercolor\"}]",
                                    NULL, 0, NULL, &ix),
        0);
    assert_int_equal(ix.sessions, 1);
    ix_check_ack(ix.id, 5);
    cJSON *cb = callback_of(ix.id);
    assert_int_equal(e2e_app_cb_flags(cb), 0);
    cJSON_Delete(cb);

    /* Progress edits, then the final edit with the image. */
    char prefix[256];
    snprintf(prefix, sizeof prefix, "/webhooks/%" PRIu64 "/%s/messages/@original", (uint64_t)APP_ID,
             ix.token);
    fake_rest_filter f = {.method = "PATCH", .path_prefix = prefix};
    bool png = false;
    size_t nreq = 0;
    uint64_t until = e2e_ms() + 20000;
    while (!png && e2e_ms() < until) {
        fake_rest_request *rq;
        nreq = fake_rest_collect(W.rest, &f, &rq);
        for (size_t i = 0; i < nreq; i++)
            for (unsigned k = 0; k < rq[i].nparts; k++)
                if (strcmp(rq[i].parts[k].name, "files[0]") == 0 && rq[i].parts[k].len > 8 &&
                    memcmp(rq[i].parts[k].data, "\x89PNG\r\n\x1a\n", 8) == 0 &&
                    rq[i].status >= 200 && rq[i].status < 300)
                    png = true;
        fake_rest_requests_free(rq, nreq);
        if (!png) e2e_sleep(50);
    }
    assert_true(png);
    assert_true(nreq >= 2); /* at least one progress edit before the result */
    char *final = wait_edits(ix.id, (unsigned)nreq, 2000);
    assert_non_null(strstr(final, "a red fox"));
    assert_non_null(strstr(final, "Watercolor"));
    free(final);
}

static void bad_options_get_ephemeral_errors(void **state)
{
    (void)state;
    fake_discord_ix ix;
    fake_discord_inject_command(W.fd, "comfy",
                                "[{\"name\":\"prompt\",\"type\":3,\"value\":\"x\"},"
                                "{\"name\":\"resolution\",\"type\":3,\"value\":\"99:1 [nope]\"}]",
                                NULL, 0, NULL, &ix);
    ix_check_ack(ix.id, 4);
    cJSON *cb = callback_of(ix.id);
    assert_int_equal(e2e_app_cb_flags(cb), 64);
    assert_non_null(strstr(e2e_app_cb_content(cb), "Unknown resolution"));
    cJSON_Delete(cb);

    fake_discord_inject_command(W.fd, "comfy",
                                "[{\"name\":\"prompt\",\"type\":3,\"value\":\"x\"},"
                                "{\"name\":\"upscale_factor\",\"type\":4,\"value\":9}]",
                                NULL, 0, NULL, &ix);
    ix_check_ack(ix.id, 4);
    cb = callback_of(ix.id);
    assert_int_equal(e2e_app_cb_flags(cb), 64);
    assert_non_null(strstr(e2e_app_cb_content(cb), "upscale_factor"));
    cJSON_Delete(cb);
}

static void autocomplete_offers_loras(void **state)
{
    (void)state;
    fake_discord_ix ix;
    fake_discord_inject_autocomplete(
        W.fd, "comfy",
        "[{\"name\":\"prompt\",\"type\":3,\"value\":\"x\"},"
        "{\"name\":\"lora\",\"type\":3,\"value\":\"pix\",\"focused\":true}]",
        NULL, &ix);
    ix_check_ack(ix.id, 8);
    cJSON *cb = callback_of(ix.id);
    cJSON *choices = cJSON_GetObjectItem(cJSON_GetObjectItem(cb, "data"), "choices");
    assert_true(cJSON_GetArraySize(choices) >= 1 && cJSON_GetArraySize(choices) <= 25);
    assert_string_equal(cJSON_GetObjectItem(cJSON_GetArrayItem(choices, 0), "name")->valuestring,
                        "Pixel Art");
    cJSON_Delete(cb);
}

static void stats_shows_what_was_done(void **state)
{
    (void)state;
    /* So far: comfy ok, comfy failed twice; the autocomplete is recorded with its kind and is
     * never a command. */
    char rows[2048];
    assert_int_equal(usage_rows(rows, sizeof rows, 3), 3);
    assert_string_equal(rows, "comfy:1\ncomfy:0\ncomfy:0\n");
    /* (its row is committed by the writer on its own schedule: wait for it, up to 5 s) */
    int ac = 0;
    for (uint64_t until = e2e_ms() + 5000; e2e_ms() < until; e2e_sleep(25))
        if ((ac = sql_count("SELECT COUNT(*) FROM command_usage WHERE kind = 'autocomplete'")) == 1)
            break;
    assert_int_equal(ac, 1);
    assert_int_equal(table_count("image_stats"), 1);

    fake_discord_ix ix;
    fake_discord_inject_command(W.fd, "stats", "[{\"name\":\"days\",\"type\":4,\"value\":1}]", NULL,
                                0, NULL, &ix);
    ix_check_ack(ix.id, 5);
    cJSON *cb = callback_of(ix.id);
    assert_int_equal(e2e_app_cb_flags(cb), 64); /* ephemeral */
    cJSON_Delete(cb);
    char *msg = wait_edits(ix.id, 1, 5000);
    assert_non_null(msg);
    assert_non_null(strstr(msg, "Total Images: 1"));
    /* The /stats row itself may or may not be committed when the query runs. */
    assert_true(strstr(msg, "Total Commands: 3") || strstr(msg, "Total Commands: 4"));
    assert_non_null(strstr(msg, "Last Day"));
    /* The chart rides along as a file the embed shows. */
    assert_non_null(strstr(msg, "attachment://stats.png"));
    free(msg);
}

static char *prompt_confirm_id(uint64_t id)
{
    cJSON *cb = callback_of(id);
    assert_int_equal(e2e_app_cb_type(cb), 4);
    assert_int_equal(e2e_app_cb_flags(cb), 64);
    cJSON *rowsj = cJSON_GetObjectItem(cJSON_GetObjectItem(cb, "data"), "components");
    cJSON *btn =
        cJSON_GetArrayItem(cJSON_GetObjectItem(cJSON_GetArrayItem(rowsj, 0), "components"), 0);
    char *idc = strdup(cJSON_GetObjectItem(btn, "custom_id")->valuestring);
    cJSON_Delete(cb);
    return idc;
}

static void reset_stats_permissions_and_confirmation(void **state)
{
    (void)state;
    /* A plain member: refused. */
    fake_discord_ix ix;
    fake_discord_inject_command(W.fd, "reset_stats", NULL, NULL, 0, NULL, &ix);
    ix_check_ack(ix.id, 4);
    cJSON *cb = callback_of(ix.id);
    assert_int_equal(e2e_app_cb_flags(cb), 64);
    assert_null(cJSON_GetObjectItem(cJSON_GetObjectItem(cb, "data"), "components"));
    cJSON_Delete(cb);

    /* A bot manager (by role name, through the role cache): gets the prompt. */
    uint64_t roles[] = {62, MANAGER_ROLE};
    fake_discord_member mgr = {
        .user_id = MANAGER_USER, .username = "manager", .roles = roles, .nroles = 2};
    fake_discord_inject_command(W.fd, "reset_stats", NULL, NULL, 0, &mgr, &ix);
    ix_check_ack(ix.id, 4);
    char *confirm = prompt_confirm_id(ix.id);
    assert_true(an_confirm_owns(confirm));

    /* Another user presses Confirm: refused, the prompt stays valid. */
    fake_discord_member other = {.user_id = OTHER_USER, .username = "other"};
    fake_discord_inject_component(W.fd, confirm, 2, NULL, 0, &other, &ix);
    ix_check_ack(ix.id, 4);
    cb = callback_of(ix.id);
    assert_int_equal(e2e_app_cb_flags(cb), 64);
    cJSON_Delete(cb);

    /* Before the reset, the rows are exactly what was done. */
    char rows[2048];
    assert_int_equal(usage_rows(rows, sizeof rows, 7), 7);
    assert_string_equal(rows, "comfy:1\ncomfy:0\ncomfy:0\nstats:1\nreset_stats:0\n"
                              "reset_stats:1\nbutton:reset_confirm:0\n");

    /* The manager confirms: the prompt updated (buttons gone), the reset, then the prompt
     * edited with the count. */
    fake_discord_inject_component(W.fd, confirm, 2, NULL, 0, &mgr, &ix);
    ix_check_ack(ix.id, 7);
    char *done = wait_edits(ix.id, 1, 5000);
    assert_non_null(done);
    assert_non_null(strstr(done, "rows deleted"));
    free(done);
    free(confirm);

    /* Only the confirming click survives; the generation statistics are gone. */
    assert_int_equal(usage_rows(rows, sizeof rows, 1), 1);
    assert_string_equal(rows, "button:reset_confirm:1\n");
    assert_int_equal(table_count("image_stats"), 0);

    router_counters st;
    router_counters_get(app_router(W.a), &st);
    assert_int_equal(st.resets, 1);
    assert_int_equal(st.by[ROUTER_CMD_GENERATE][ROUTER_OUT_OK], 1);
    assert_int_equal(st.by[ROUTER_CMD_GENERATE][ROUTER_OUT_INVALID], 2);
    assert_int_equal(st.by[ROUTER_CMD_RESET_STATS][ROUTER_OUT_DENIED], 1);
    assert_int_equal(st.by[ROUTER_CMD_RESET_BUTTON][ROUTER_OUT_DENIED], 1);
    assert_int_equal(st.by[ROUTER_CMD_AUTOCOMPLETE][ROUTER_OUT_OK], 1);
    assert_int_equal(st.pending, 0);
}

/* SIGHUP's apply step: new lists are used at once by validation and autocomplete, and new
 * resolution labels make the bot register its commands again (they are the choices). */
static void reloaded_lists_are_used_and_registered(void **state)
{
    (void)state;
    ratios_set r;
    loras_set l;
    char err[256];
    assert_int_equal(ratios_parse(&r,
                                  "{\"ratios\":{\"Square test [1024x1024]\":{\"width\":1024,"
                                  "\"height\":1024},\"Wide test [1536x640]\":{\"width\":1536,"
                                  "\"height\":640}}}",
                                  "test", err, sizeof err),
                     0);
    assert_int_equal(loras_parse(&l,
                                 "{\"loras\":[{\"file\":\"neon.safetensors\",\"name\":\"Neon "
                                 "Test\",\"weight\":0.7,\"trigger_words\":\"\"}]}",
                                 "test", err, sizeof err),
                     0);
    assert_int_equal(app_apply_lists(W.a, &r, &l, err, sizeof err), 0);

    /* Registered again, with the new labels as choices. */
    char *cmds = NULL;
    uint64_t until = e2e_ms() + 10000;
    while (e2e_ms() < until) {
        app_poll(W.a, 20);
        free(cmds);
        cmds = fake_rest_commands_json(W.rest, 0);
        if (cmds && strstr(cmds, "Wide test [1536x640]")) break;
    }
    assert_non_null(cmds);
    assert_non_null(strstr(cmds, "Wide test [1536x640]"));
    assert_null(strstr(cmds, "1:1 [1024x1024 square]"));
    free(cmds);

    /* Autocomplete offers the new LoRA, not the old ones. */
    fake_discord_ix ix;
    fake_discord_inject_autocomplete(
        W.fd, "comfy",
        "[{\"name\":\"prompt\",\"type\":3,\"value\":\"x\"},"
        "{\"name\":\"lora\",\"type\":3,\"value\":\"neo\",\"focused\":true}]",
        NULL, &ix);
    ix_check_ack(ix.id, 8);
    cJSON *cb = callback_of(ix.id);
    cJSON *choices = cJSON_GetObjectItem(cJSON_GetObjectItem(cb, "data"), "choices");
    assert_int_equal(cJSON_GetArraySize(choices), 1);
    assert_string_equal(cJSON_GetObjectItem(cJSON_GetArrayItem(choices, 0), "name")->valuestring,
                        "Neon Test");
    cJSON_Delete(cb);

    /* An old resolution is now refused; a new one is accepted (deferred). */
    fake_discord_inject_command(W.fd, "comfy",
                                "[{\"name\":\"prompt\",\"type\":3,\"value\":\"x\"},"
                                "{\"name\":\"resolution\",\"type\":3,"
                                "\"value\":\"1:1 [1024x1024 square]\"}]",
                                NULL, 0, NULL, &ix);
    ix_check_ack(ix.id, 4);
    cb = callback_of(ix.id);
    assert_non_null(strstr(e2e_app_cb_content(cb), "Unknown resolution"));
    cJSON_Delete(cb);
    fake_discord_inject_command(W.fd, "comfy",
                                "[{\"name\":\"prompt\",\"type\":3,\"value\":\"x\"},"
                                "{\"name\":\"resolution\",\"type\":3,"
                                "\"value\":\"Wide test [1536x640]\"}]",
                                NULL, 0, NULL, &ix);
    ix_check_ack(ix.id, 5);
    char *final = wait_edits(ix.id, 1, 15000);
    free(final);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(commands_were_registered_globally),
        cmocka_unit_test(comfy_defers_then_progress_then_png),
        cmocka_unit_test(bad_options_get_ephemeral_errors),
        cmocka_unit_test(autocomplete_offers_loras),
        cmocka_unit_test(stats_shows_what_was_done),
        cmocka_unit_test(reset_stats_permissions_and_confirmation),
        cmocka_unit_test(reloaded_lists_are_used_and_registered),
    };
    int rc = cmocka_run_group_tests(tests, setup, e2e_app_teardown);
    /* The font caches cairo and fontconfig keep for the whole process, freed as the fluxbot
     * executable frees them at exit: without this LeakSanitizer reports fontconfig's cache. */
    an_chart_release();
    return rc;
}
