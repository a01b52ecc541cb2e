/* Every message body the bot can send disables mentions (allowed_mentions.parse = []): each
 * reply builder — interaction callbacks with a message, edits of the original response,
 * follow-ups, the /stats and /reset_stats replies, the result and progress payloads, the
 * Options dialog — is
 * called and its output inspected. Deferred acks (types 5/6) and autocomplete choices carry no
 * message and are the only bodies without it. The /reset_stats Confirm prompt once lacked it. */
/* fluxbot-test: tsan */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <cjson/cJSON.h>

#include "analytics/an_commands.h"
#include "analytics/an_stats.h"
#include "comfy/cres.h"
#include "discord/opts_dialog.h"
#include "discord/embed.h"
#include "discord/reply.h"
#include "discord/stats_reply.h"

/* The message object of a body: `data` of a callback, else the body itself (edit, follow-up). */
static void expect_no_mentions(const char *what, char *body)
{
    if (!body) fail_msg("%s: no body", what);
    cJSON *root = cJSON_Parse(body);
    if (!root) fail_msg("%s: not JSON: %s", what, body);
    const cJSON *msg = root;
    const cJSON *type = cJSON_GetObjectItemCaseSensitive(root, "type");
    if (cJSON_IsNumber(type)) msg = cJSON_GetObjectItemCaseSensitive(root, "data");
    const cJSON *am = cJSON_GetObjectItemCaseSensitive(msg, "allowed_mentions");
    const cJSON *parse = cJSON_GetObjectItemCaseSensitive(am, "parse");
    if (!cJSON_IsArray(parse) || cJSON_GetArraySize(parse) != 0)
        fail_msg("%s: mentions are not disabled: %s", what, body);
    cJSON_Delete(root);
    free(body);
}

static void discord_reply_builders(void **state)
{
    (void)state;
    reply_msg m = {.content = "@everyone <@1> hello", .flags = REPLY_FLAG_EPHEMERAL};
    expect_no_mentions("reply_message_json", reply_message_json(&m, NULL, 0));
    expect_no_mentions("reply_callback_json(MESSAGE)",
                       reply_callback_json(REPLY_CB_MESSAGE, &m, NULL, 0));
    reply_msg u = {.content = "updated", .set_components = true};
    expect_no_mentions("reply_callback_json(UPDATE)",
                       reply_callback_json(REPLY_CB_UPDATE, &u, NULL, 0));
    expect_no_mentions("reply_text_json", reply_text_json("@here", true));
    expect_no_mentions("reply_text_json public", reply_text_json("hi", false));
}

static void analytics_reply_builders(void **state)
{
    (void)state;
    expect_no_mentions("an_ephemeral_json", an_ephemeral_json("x"));
    expect_no_mentions("an_reset_prompt_json", an_reset_prompt_json("a:confirm:1", "a:cancel:1"));
    expect_no_mentions("an_reset_refusal_json", an_reset_refusal_json());
    expect_no_mentions("an_reset_wrong_user_json", an_reset_wrong_user_json());
    expect_no_mentions("an_reset_unknown_json", an_reset_unknown_json());
    expect_no_mentions("an_reset_cancelled_json", an_reset_cancelled_json());
    expect_no_mentions("an_reset_expired_json", an_reset_expired_json());
    expect_no_mentions("an_reset_done_json", an_reset_done_json(3, NULL));
    expect_no_mentions("an_reset_done_json error", an_reset_done_json(0, "disk full"));
    an_stats st;
    memset(&st, 0, sizeof st);
    expect_no_mentions("an_stats_reply_json", an_stats_reply_json(&st));
    embed em;
    an_commands_stats_embed(&st, &em);
    expect_no_mentions("stats_reply_edit_body", stats_reply_edit_body(&em, NULL));
    expect_no_mentions("stats_reply_edit_body chart", stats_reply_edit_body(&em, "stats.png"));
    embed_free(&em);
    expect_no_mentions("an_stats_failed_json", an_stats_failed_json("busy"));
}

static void result_builders(void **state)
{
    (void)state;
    cjob j;
    memset(&j, 0, sizeof j);
    j.id = 7;
    j.kind = COMFY_KIND_IMAGE;
    j.origin.user_id = 9;
    strcpy(j.origin.user_name, "Ann");
    j.user_prompt = "<@&5> a cat";
    strcpy(j.resolution, "1:1 [1024x1024 square]");
    cres_result r = {.job = &j, .filename = "fluxbot_7.png", .is_image = true};
    expect_no_mentions("cres_final_payload", cres_final_payload(&r));
    /* the runner's text edits and follow-ups now come from src/discord (they were cres_*) */
    expect_no_mentions("reply_edit_text_json", reply_edit_text_json("50%", false));
    expect_no_mentions("reply_edit_text_json clear", reply_edit_text_json("failed", true));
    expect_no_mentions("reply_text_json", reply_text_json("queued", true));
    expect_no_mentions("reply_followup_text_json", reply_followup_text_json("done", false));
    expect_no_mentions("reply_update_text_json", reply_update_text_json("done"));
}

/* The Options dialog echoes the prompt a user typed: its message and its update. */
static void options_dialog_builders(void **state)
{
    (void)state;
    opts_dialog_view *v = calloc(1, sizeof *v);
    v->sid = 9;
    v->prompt_offered = true;
    snprintf(v->prompt, sizeof v->prompt, "@everyone <@&5> a cat");
    snprintf(v->note, sizeof v->note, "@here");
    expect_no_mentions("opts_dialog_message_json", opts_dialog_message_json(v, NULL, NULL));
    expect_no_mentions("opts_dialog_update_json", opts_dialog_update_json(v, NULL, NULL));
    free(v);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(options_dialog_builders),
        cmocka_unit_test(discord_reply_builders),
        cmocka_unit_test(analytics_reply_builders),
        cmocka_unit_test(result_builders),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
