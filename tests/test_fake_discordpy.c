/* The fakes judged by a real client library: discord.py (Debian's python3-discord) runs the
 * peers benchmark's bot (bench/peers/discordpy_bot.py) unchanged against the fake Discord and
 * the fake ComfyUI. It logs in (GET /users/@me, GET /oauth2/applications/@me), connects where
 * GET /gateway/bot points, identifies, registers its commands with a bulk PUT, and answers an
 * injected /stats with a deferral and an embed edit of @original, and /comfy with what fluxbot
 * does for a generation: a deferral, a progress edit, the workflow queued on ComfyUI and
 * followed on its websocket (its outputs read from the `executed` frames, as fluxbot does after
 * `execution_success`: no history fetched), its image fetched, and a multipart PNG edit. The
 * fakes' counters (Discord calls by kind, ComfyUI requests by route) count exactly that
 * sequence, as the benchmark's equal-work check reads them. Any field the fakes leave out that
 * discord.py reads, or any route they lack, fails here. */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include <cjson/cJSON.h>

#include "e2e_proc.h"
#include "fakes/fake_comfy.h"
#include "fakes/fake_discord.h"
#include "fluxbot/runtime.h"

#define TOKEN "discordpy-token.fake"

static bool registered(fake_discord *fd)
{
    char *cmds = fake_rest_commands_json(fake_discord_rest(fd), 0);
    bool ok = cmds && strstr(cmds, "\"stats\"") && strstr(cmds, "\"comfy\"");
    free(cmds);
    return ok;
}

static void dump_log(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f) return;
    char buf[8192];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    buf[n] = 0;
    fclose(f);
    fprintf(stderr, "---- discord.py bot log ----\n%s\n----\n", buf);
}

/* Waits for the deferral and the first edit of interaction id; returns @original's JSON. */
static char *wait_answered(fake_discord *fd, uint64_t id, int *ack_type)
{
    for (int i = 0; i < 400; i++) {
        fake_rest_ix_state st;
        if (fake_rest_interaction_state(fake_discord_rest(fd), id, &st) && st.ack_type &&
            st.edits >= 1) {
            *ack_type = st.ack_type;
            return st.original_json;
        }
        free(st.original_json);
        usleep(25000);
    }
    return NULL;
}

/* Waits for the deferral and the multipart result of a generation; returns @original's JSON. */
static char *wait_result(fake_discord *fd, uint64_t id, int *ack_type)
{
    for (int i = 0; i < 800; i++) { /* 20 s */
        fake_rest_ix_state st;
        if (fake_rest_interaction_state(fake_discord_rest(fd), id, &st) && st.ack_type &&
            st.file_edits >= 1) {
            *ack_type = st.ack_type;
            return st.original_json;
        }
        free(st.original_json);
        usleep(25000);
    }
    return NULL;
}

static void discordpy_answers_through_the_fake(void **state)
{
    (void)state;
    char dir[] = "/tmp/fluxbot-dpy-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char log[128];
    snprintf(log, sizeof log, "%s/bot.log", dir);

    fake_discord_options fo = {.token = TOKEN};
    fake_discord *fd = fake_discord_start(&fo);
    assert_non_null(fd);
    fake_comfy_opts co = {.steps = 2, .png_width = 48, .png_height = 32, .name = "dpy-comfy"};
    fake_comfy *comfy = fake_comfy_start(&co);
    assert_non_null(comfy);
    char out[160];
    snprintf(out, sizeof out, "%s/output", dir);
    char **env = NULL;
    e2e_env_set(&env, "DISCORD_TOKEN", TOKEN);
    e2e_env_set(&env, "DISCORD_API_BASE", fake_discord_api_base(fd));
    e2e_env_set(&env, "COMFYUI_URLS", fake_comfy_url(comfy));
    e2e_env_set(&env, "PEER_WORKFLOW", FLUXBOT_SOURCE_DIR "/workflows/flux_txt2img.json");
    e2e_env_set(&env, "PEER_OUTPUT_DIR", out);
    e2e_env_set(&env, "PATH", "/usr/bin:/bin");
    char *argv[] = {"/usr/bin/python3", FLUXBOT_SOURCE_DIR "/bench/peers/discordpy_bot.py", NULL};
    e2e_child child;
    assert_int_equal(e2e_spawn(&child, "/usr/bin/python3", argv, env, log), 0);
    e2e_env_free(env);

    bool ok = false;
    for (int i = 0; i < 600 && !ok; i++) { /* 30 s: a cold Python start on a loaded machine */
        ok = registered(fd);
        if (!ok && e2e_wait(&child, 0) == 0) break;
        if (!ok) usleep(50000);
    }
    if (!ok) dump_log(log);
    assert_true(ok);

    /* the one websocket to ComfyUI is up before any job (the jobs' events come on it) */
    fake_comfy_stats cs;
    for (int i = 0; i < 400; i++) {
        fake_comfy_get_stats(comfy, &cs);
        if (cs.ws_open == 1) break;
        usleep(25000);
    }
    assert_int_equal(cs.ws_open, 1);
    fake_rest_stats rs0;
    fake_rest_stats_get(fake_discord_rest(fd), &rs0);

    /* /stats: deferral (type 5) then an embed in @original */
    fake_discord_ix ix;
    assert_int_equal(fake_discord_inject_command(fd, "stats",
                                                 "[{\"name\":\"days\",\"type\":4,\"value\":7}]",
                                                 NULL, 0, NULL, &ix),
                     0);
    int ack = 0;
    char *orig = wait_answered(fd, ix.id, &ack);
    if (!orig) dump_log(log);
    assert_non_null(orig);
    assert_int_equal(ack, 5);
    cJSON *m = cJSON_Parse(orig);
    assert_non_null(m);
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(m, "embeds")), 1);
    cJSON_Delete(m);
    free(orig);

    /* /comfy: deferral, a progress edit, the ComfyUI job, then a multipart edit with its PNG */
    assert_int_equal(
        fake_discord_inject_command(fd, "comfy",
                                    "[{\"name\":\"prompt\",\"type\":3,\"value\":\"a lighthouse\"},"
                                    "{\"name\":\"resolution\",\"type\":3,\"value\":\"640x480\"}]",
                                    NULL, 0, NULL, &ix),
        0);
    orig = wait_result(fd, ix.id, &ack);
    if (!orig) dump_log(log);
    assert_non_null(orig);
    assert_int_equal(ack, 5);
    m = cJSON_Parse(orig);
    assert_non_null(m);
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(m, "attachments")), 1);
    cJSON *em = cJSON_GetArrayItem(cJSON_GetObjectItem(m, "embeds"), 0);
    assert_non_null(
        strstr(cJSON_GetStringValue(cJSON_GetObjectItem(em, "description")), "a lighthouse"));
    cJSON_Delete(m);
    free(orig);
    /* the workflow ComfyUI got: the prompt and the size patched in, the bot's client_id */
    char *graph = fake_comfy_prompt_json(comfy, 0);
    assert_non_null(graph);
    assert_non_null(strstr(graph, "\"text\":\"a lighthouse\""));
    assert_non_null(strstr(graph, "\"width\":640"));
    assert_non_null(strstr(graph, "\"height\":480"));
    free(graph);
    /* the result kept in the output folder, the file ComfyUI served */
    char keep[256];
    fake_comfy_stats cs1;
    fake_comfy_get_stats(comfy, &cs1);
    assert_int_equal(cs1.prompts_succeeded, 1);
    snprintf(keep, sizeof keep, "ls '%s'/*.png >/dev/null 2>&1", out);
    assert_int_equal(system(keep), 0);

    /* what the fakes counted: the two interactions' Discord calls by kind, and one job's
     * ComfyUI requests on the websocket opened at start */
    fake_rest_stats rs;
    fake_rest_stats_get(fake_discord_rest(fd), &rs);
    assert_int_equal(rs.kinds[FAKE_REST_KIND_DEFER] - rs0.kinds[FAKE_REST_KIND_DEFER], 2);
    assert_int_equal(rs.kinds[FAKE_REST_KIND_EDIT] - rs0.kinds[FAKE_REST_KIND_EDIT], 2);
    assert_int_equal(rs.kinds[FAKE_REST_KIND_EDIT_FILE] - rs0.kinds[FAKE_REST_KIND_EDIT_FILE], 1);
    assert_int_equal(rs.kinds[FAKE_REST_KIND_CALLBACK] - rs0.kinds[FAKE_REST_KIND_CALLBACK], 0);
    assert_int_equal(rs.kinds[FAKE_REST_KIND_FOLLOWUP] - rs0.kinds[FAKE_REST_KIND_FOLLOWUP], 0);
    assert_int_equal(rs.kinds[FAKE_REST_KIND_BOT] - rs0.kinds[FAKE_REST_KIND_BOT], 0);
    unsigned want[FAKE_COMFY_ROUTE_COUNT] = {0};
    want[FAKE_COMFY_ROUTE_PROMPT_POST] = 1;
    want[FAKE_COMFY_ROUTE_VIEW] = 1;
    for (int k = 0; k < FAKE_COMFY_ROUTE_COUNT; k++)
        assert_int_equal(cs1.routes[k], want[k]);
    assert_int_equal(cs1.ws_connects, 1);
    assert_int_equal(cs1.ws_frames_in, 0);
    fake_rest_filter flt = {.method = "PATCH", .path_prefix = "/webhooks/", .status = 200};
    fake_rest_request *reqs = NULL;
    size_t n = fake_rest_collect(fake_discord_rest(fd), &flt, &reqs);
    bool multipart = false;
    for (size_t i = 0; i < n; i++)
        if (reqs[i].content_type && strstr(reqs[i].content_type, "multipart/form-data"))
            multipart = true;
    fake_rest_requests_free(reqs, n);
    assert_true(multipart);

    e2e_signal(&child, SIGTERM);
    if (e2e_wait(&child, 10000) != 0) e2e_kill(&child);
    fake_comfy_stop(comfy);
    fake_discord_stop(fd);
    char cmd[160];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(discordpy_answers_through_the_fake),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
