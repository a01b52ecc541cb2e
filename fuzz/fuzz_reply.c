/*
 * fuzz_reply: the builders of everything the bot sends to Discord, fed hostile text and
 * structure — reply.c (message bodies, interaction callbacks, autocomplete), embed.c (embeds,
 * clipping, the 6000-character total over a message), comfy/cres.c (the finished result with
 * its embed and buttons, custom_ids, error texts), the text edits and follow-ups of reply.c,
 * and the analytics replies (the /stats embed, /reset_stats prompts and answers).
 *
 * The first byte picks the builder; text pieces are FZ_SEP-separated and may be any bytes
 * (invalid UTF-8 included: the builders clean text), numbers come from the input.
 *
 * Invariants asserted on every output, beyond "no crash, no sanitizer report":
 *  - valid JSON (cJSON parses it) made of valid UTF-8 (util_utf8_valid);
 *  - Discord's limits: content 2000; embed title 256, description 4096, field name 256 and
 *    value 1024, 25 fields, footer 2048, author 256, 6000 over all embeds of a message,
 *    10 embeds; custom_id 1..100, button label 80, 5 rows of 5; 25 choices of 1..100;
 *  - allowed_mentions with an empty "parse" on every message body (the README promises that
 *    every message the bot sends disables mentions);
 *  - a structure reply.c refuses comes with a reason; the /stats embed alone stays within the
 *    6000-character total;
 *  - the /stats edit body written as text equals, byte for byte, the one built with cJSON.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analytics/an_chart.h"
#include "analytics/an_commands.h"
#include "comfy/cres.h"
#include "discord/embed.h"
#include "discord/reply.h"
#include "discord/stats_reply.h"
#include "fuzz_support.h"
#include "util/util_utf8.h"

#define PIECES 64

typedef struct texts {
    char *s[PIECES];
    unsigned n, next;
} texts;

/* Splits what is left of the input into up to PIECES text pieces, used round-robin. */
static void texts_read(texts *t, fz_in *in)
{
    t->n = t->next = 0;
    while (in->len && t->n < PIECES)
        t->s[t->n++] = fz_text(in, 9000, NULL);
    if (t->n == 0) t->s[t->n++] = fz_text(in, 1, NULL);
}

static const char *tx(texts *t)
{
    return t->s[t->next++ % t->n];
}

static void texts_free(texts *t)
{
    for (unsigned i = 0; i < t->n; i++)
        free(t->s[i]);
}

static void check_body(char *body, bool mentions, const char *what)
{
    cJSON *j = fz_json(body, what);
    fz_check_message(j, mentions, what);
    cJSON_Delete(j);
    free(body);
}

static void check_cb(char *body, bool mentions, const char *what)
{
    cJSON *j = fz_json(body, what);
    fz_check_callback(j, mentions, what);
    cJSON_Delete(j);
    free(body);
}

static void fill_embed(embed *e, texts *t, uint8_t shape)
{
    embed_init(e);
    if (shape & 1) embed_set_title(e, tx(t));
    if (shape & 2) embed_set_description(e, tx(t));
    if (shape & 4) embed_set_footer(e, tx(t), (shape & 8) ? tx(t) : NULL);
    if (shape & 16) embed_set_author(e, tx(t), tx(t), NULL);
    (void)embed_set_url(e, tx(t));
    (void)embed_set_image(e, tx(t));
    (void)embed_set_thumbnail(e, "attachment://fluxbot_42.png");
    embed_set_color(e, shape * 65793u);
    embed_set_timestamp_ms(e, (uint64_t)shape * 86400000ull * 365);
    unsigned nfields = (shape >> 5) * 4 + (shape & 3);
    for (unsigned i = 0; i < nfields + 2; i++) {
        int rc = embed_add_field(e, tx(t), tx(t), i & 1);
        FZ_ASSERT(rc == 0 || e->nfields == EMBED_FIELDS_MAX, "field refused below the limit", NULL);
    }
}

/* The /stats edit body is written as text (stats_reply_edit_body) for speed; it must stay the
 * very bytes the cJSON-built body has (stats_reply_edit_json of embed_to_json), whatever the
 * embed's text: a difference would be an escaping bug in the hand-written writer. */
static void same_edit_body(const embed *e, const char *attachment)
{
    char *text = stats_reply_edit_body(e, attachment);
    cJSON *tree = embed_to_json(e);
    char *ref = stats_reply_edit_json(tree, attachment);
    cJSON_Delete(tree);
    FZ_ASSERT(ref != NULL, "stats_reply_edit_json failed", NULL);
    FZ_ASSERT(strcmp(text, ref) == 0, "stats_reply_edit_body differs from the cJSON body", text);
    free(ref);
    /* Valid JSON of valid UTF-8; Discord's limits are the embed's business (these embeds are
     * any size, the /stats one is checked in analytics_case). */
    cJSON_Delete(fz_json(text, "stats_reply_edit_body"));
    free(text);
}

static void embeds_case(fz_in *in)
{
    unsigned n = fz_u8(in) % (EMBED_PER_MESSAGE_MAX + 1);
    uint8_t shapes[EMBED_PER_MESSAGE_MAX];
    for (unsigned i = 0; i < n; i++)
        shapes[i] = fz_u8(in);
    texts t;
    texts_read(&t, in);
    embed es[EMBED_PER_MESSAGE_MAX];
    const embed *list[EMBED_PER_MESSAGE_MAX];
    for (unsigned i = 0; i < n; i++) {
        fill_embed(&es[i], &t, shapes[i]);
        list[i] = &es[i];
        cJSON *one = embed_to_json(&es[i]);
        char *s = cJSON_PrintUnformatted(one);
        cJSON *back = fz_json(s, "embed");
        (void)fz_check_embed(back, "embed");
        cJSON_Delete(back);
        free(s);
        cJSON_Delete(one);
        (void)embed_total_chars(&es[i]);
        same_edit_body(&es[i], (shapes[i] & 64) ? AN_CHART_FILENAME : NULL);
    }
    cJSON *msg = cJSON_CreateObject();
    cJSON_AddItemToObject(msg, "embeds", embed_list_to_json(list, n));
    char *s = cJSON_PrintUnformatted(msg);
    cJSON_Delete(msg);
    check_body(s, false, "embed list");
    /* The same embeds through the message builder, with content and buttons. */
    reply_button b[3] = {
        {.style = REPLY_BTN_PRIMARY, .label = tx(&t), .custom_id = tx(&t)},
        {.style = REPLY_BTN_DANGER, .label = tx(&t), .custom_id = "fb:del:1:2", .emoji = tx(&t)},
        {.style = REPLY_BTN_LINK, .label = tx(&t), .url = tx(&t)},
    };
    reply_row row = {.buttons = b, .nbuttons = 3};
    reply_attachment att = {.id = 0, .filename = tx(&t), .description = tx(&t)};
    uint64_t users[2] = {800000000000000001ull, 5};
    reply_msg m = {.content = tx(&t),
                   .flags = REPLY_FLAG_EPHEMERAL,
                   .embeds = list,
                   .nembeds = n,
                   .rows = &row,
                   .nrows = 1,
                   .attachments = &att,
                   .nattachments = 1,
                   .mention_users = users,
                   .nmention_users = n & 1 ? 2 : 0};
    char err[256] = "";
    char *body = reply_message_json(&m, err, sizeof err);
    if (body)
        check_body(body, true, "reply_message_json");
    else
        FZ_ASSERT(err[0] != '\0', "message refused without a reason", NULL);
    err[0] = '\0';
    body = reply_callback_json(REPLY_CB_UPDATE, &m, err, sizeof err);
    if (body)
        check_cb(body, true, "reply_callback_json");
    else
        FZ_ASSERT(err[0] != '\0', "callback refused without a reason", NULL);
    for (unsigned i = 0; i < n; i++)
        embed_free(&es[i]);
    texts_free(&t);
}

static void components_case(fz_in *in)
{
    unsigned nrows = fz_u8(in) % 7, per = fz_u8(in) % 7, nopts = fz_u8(in) % 28;
    texts t;
    texts_read(&t, in);
    reply_button b[REPLY_ROWS_MAX + 2][7];
    reply_row rows[REPLY_ROWS_MAX + 2];
    reply_select_option opts[28];
    for (unsigned i = 0; i < nopts; i++)
        opts[i] = (reply_select_option){.label = tx(&t), .value = tx(&t), .description = tx(&t)};
    reply_select sel = {.custom_id = tx(&t),
                        .placeholder = tx(&t),
                        .min_values = 1,
                        .max_values = 1,
                        .options = opts,
                        .noptions = nopts};
    for (unsigned r = 0; r < nrows; r++) {
        for (unsigned k = 0; k < per; k++)
            b[r][k] = (reply_button){.style = (reply_button_style)(1 + (r + k) % 5),
                                     .label = tx(&t),
                                     .custom_id = tx(&t),
                                     .url = tx(&t),
                                     .disabled = k & 1};
        rows[r] = (reply_row){.buttons = b[r], .nbuttons = per};
        if (r == 0 && nopts) rows[r] = (reply_row){.select = &sel};
    }
    reply_msg m = {.content = tx(&t), .rows = rows, .nrows = nrows, .set_components = true};
    char err[256] = "";
    char *body = reply_message_json(&m, err, sizeof err);
    if (body)
        check_body(body, true, "components");
    else
        FZ_ASSERT(err[0] != '\0', "components refused without a reason", NULL);
    /* Autocomplete choices and the shorthands. */
    unsigned nch = fz_u8(in) % 30;
    reply_choice ch[30];
    for (unsigned i = 0; i < nch && i < 30; i++)
        ch[i] = (reply_choice){
            .name = tx(&t), .str_value = (i & 1) ? NULL : tx(&t), .num_value = i * 1.5};
    check_cb(reply_autocomplete_json(ch, nch), false, "autocomplete");
    check_cb(reply_text_json(tx(&t), true), true, "reply_text_json");
    check_cb(reply_deferred_json(true), false, "deferred");
    check_cb(reply_deferred_update_json(), false, "deferred update");
    texts_free(&t);
}

/* A job as the runner holds it, its strings from the input (made valid UTF-8 as the router's
 * validation leaves them). */
static void result_case(fz_in *in)
{
    uint64_t job_id = fz_u64(in), owner = fz_u64(in), seed = fz_u64(in) & CJOB_MAX_SEED;
    uint8_t flags = fz_u8(in);
    texts t;
    texts_read(&t, in);
    char *user_prompt = util_utf8_clip(tx(&t), 6000);
    char *prompt = util_utf8_clip(tx(&t), 6000);
    char *name = util_utf8_clip(tx(&t), 32);
    cjob j;
    memset(&j, 0, sizeof j);
    j.id = job_id;
    j.kind = (comfy_kind)(flags % COMFY_KIND_COUNT);
    j.origin.user_id = owner;
    snprintf(j.origin.user_name, sizeof j.origin.user_name, "%s", name);
    j.user_prompt = user_prompt;
    j.prompt = prompt;
    char *label = util_utf8_clip(tx(&t), 30);
    snprintf(j.resolution, sizeof j.resolution, "%s", label);
    j.width = 1024;
    j.height = 768;
    j.seed = seed;
    j.upscale = 1 + flags % 4;
    j.nloras = (flags >> 2) % (COMFY_MAX_LORAS + 1);
    for (unsigned i = 0; i < j.nloras; i++) {
        char *ln = util_utf8_clip(tx(&t), 25);
        snprintf(j.lora_name[i], sizeof j.lora_name[i], "%s", ln);
        free(ln);
        j.lora_strength[i] = i * 0.3;
    }
    cres_result r = {.job = &j,
                     .filename = (flags & 16) ? "fluxbot_42.png" : NULL,
                     .is_image = flags & 16,
                     .is_video = flags & 32,
                     .generation_ms = seed % 10000000,
                     .server_label = (flags & 64) ? "server 2" : NULL};
    check_body(cres_final_payload(&r), true, "cres_final_payload");
    const char *content = tx(&t);
    check_body(reply_edit_text_json(content, flags & 1), true, "reply_edit_text_json");
    check_cb(reply_text_json(content, flags & 2), true, "reply_text_json");
    check_cb(reply_update_text_json(content), true, "reply_update_text_json");
    check_body(reply_followup_text_json(content, flags & 2), true, "reply_followup_text_json");
    char text[700];
    cres_error_text(content, text, sizeof text);
    check_body(reply_edit_text_json(text, true), true, "error edit");
    for (int a = CRES_REGENERATE; a <= CRES_DELETE; a++) {
        char id[101];
        if (cres_custom_id((cres_action)a, job_id, owner, id, sizeof id) == 0) {
            FZ_ASSERT(strlen(id) >= 1 && strlen(id) <= 100, "custom_id over 100", id);
            cres_action back;
            uint64_t bj, bo;
            FZ_ASSERT(cres_parse_custom_id(id, &back, &bj, &bo) == 0 && (int)back == a &&
                          bj == job_id,
                      "custom_id does not parse back", id);
        }
    }
    free(user_prompt);
    free(prompt);
    free(name);
    free(label);
    texts_free(&t);
}

static void analytics_case(fz_in *in)
{
    an_stats s;
    memset(&s, 0, sizeof s);
    int days = AN_DAYS_MIN + (int)(fz_u16(in) % AN_DAYS_MAX);
    an_window_make(days, (int64_t)(fz_u64(in) % (1ull << 45)), &s.window);
    s.total_images = fz_u64(in);
    s.image_ms_sum = fz_u64(in);
    s.total_videos = fz_u32(in);
    s.video_ms_sum = fz_u64(in);
    s.total_commands = fz_u64(in);
    s.total_users = fz_u64(in);
    s.active_users = fz_u32(in);
    s.n_top_commands = fz_u8(in) % (AN_TOP_N + 1);
    s.n_top_resolutions = fz_u8(in) % (AN_TOP_N + 1);
    texts t;
    texts_read(&t, in);
    /* Names come from the database, where the bot wrote validated text. */
    for (unsigned i = 0; i < AN_TOP_N; i++) {
        char *a = util_utf8_clip(tx(&t), 31), *b = util_utf8_clip(tx(&t), 31);
        snprintf(s.top_commands[i].name, sizeof s.top_commands[i].name, "%s", a);
        snprintf(s.top_resolutions[i].name, sizeof s.top_resolutions[i].name, "%s", b);
        s.top_commands[i].count = s.total_commands >> i;
        s.top_resolutions[i].count = s.total_images >> i;
        free(a);
        free(b);
    }
    cJSON *e = an_stats_embed(&s);
    char *es = cJSON_PrintUnformatted(e);
    cJSON *back = fz_json(es, "/stats embed");
    FZ_ASSERT(fz_check_embed(back, "/stats embed") <= EMBED_TOTAL_MAX, "/stats embed over 6000",
              NULL);
    cJSON_Delete(back);
    free(es);
    cJSON_Delete(e);
    check_body(an_stats_reply_json(&s), true, "an_stats_reply_json");
    /* Texts that reach these builders are the bot's own or SQLite's messages (valid UTF-8). */
    char *why_text = util_utf8_clip(tx(&t), 500);
    check_body(an_stats_failed_json(why_text), true, "an_stats_failed_json");
    check_body(an_reset_done_json(s.total_users, (s.active_users & 1) ? why_text : NULL), true,
               "an_reset_done_json");
    free(why_text);
    char *text = util_utf8_clip(tx(&t), 2000);
    check_cb(an_ephemeral_json(text), true, "an_ephemeral_json");
    free(text);
    check_cb(an_reset_prompt_json("an:reset:confirm:1", "an:reset:cancel:1"), true,
             "an_reset_prompt_json");
    check_cb(an_reset_refusal_json(), true, "an_reset_refusal_json");
    check_cb(an_reset_cancelled_json(), true, "an_reset_cancelled_json");
    check_cb(an_reset_expired_json(), true, "an_reset_expired_json");
    an_days_result d = an_days_from_text(tx(&t));
    if (!d.ok) (void)fz_chars(d.error, "days error not UTF-8");
    texts_free(&t);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 1u << 18 || size == 0) return 0;
    fz_in in = {data + 1, size - 1};
    switch (data[0] % 4) {
    case 0:
        embeds_case(&in);
        break;
    case 1:
        components_case(&in);
        break;
    case 2:
        result_case(&in);
        break;
    default:
        analytics_case(&in);
        break;
    }
    return 0;
}
