/*
 * The Options dialog's pure parts: its custom_ids (discord/opts_dialog), its state table
 * (router/opts_state: LoRA pages and the 5-LoRA cap, texts, strengths, expiry with an injected
 * clock, the user check, eviction, the new job), the modal builder (reply_modal_json) and the
 * parsing of modal submits (ix_parse).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "comfy/cjob.h"
#include "discord/ix.h"
#include "discord/opts_dialog.h"
#include "discord/reply.h"
#include "router/opts_state.h"

#define USER 300000000000000001ULL

static struct {
    loras_set loras;
    ratios_set ratios;
    decl_set decls;
    cjob_catalog cat;
} C;

static int setup(void **state)
{
    (void)state;
    char json[8192], err[256];
    size_t used = (size_t)snprintf(json, sizeof json, "{\"loras\": [");
    for (int i = 0; i < 60; i++) /* three pages: 25, 25, 10 */
        used += (size_t)snprintf(json + used, sizeof json - used,
                                 "%s{\"file\": \"l%02d.safetensors\", \"name\": \"L%02d\", "
                                 "\"weight\": 0.5, \"trigger_words\": \"tw%02d\"}",
                                 i ? "," : "", i, i, i);
    snprintf(json + used, sizeof json - used, "]}");
    assert_int_equal(loras_parse(&C.loras, json, "loras.json", err, sizeof err), 0);
    assert_int_equal(
        ratios_load_file(&C.ratios, FLUXBOT_SOURCE_DIR "/config/ratios.json", err, sizeof err), 0);
    assert_int_equal(decl_set_load(&C.decls, FLUXBOT_SOURCE_DIR "/workflows", err, sizeof err), 0);
    C.cat.ratios = &C.ratios;
    C.cat.loras = &C.loras;
    C.cat.decls = &C.decls;
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    loras_free(&C.loras);
    decl_set_free(&C.decls);
    return 0;
}

static cjob *base_job(void)
{
    cjob *j = calloc(1, sizeof *j);
    j->id = 1234;
    j->kind = COMFY_KIND_IMAGE;
    snprintf(j->command, sizeof j->command, "comfy"); /* the shipped /comfy declaration */
    j->reply.token = strdup("");
    j->user_prompt = strdup("a cat");
    j->prompt = strdup("a cat, tw01");
    snprintf(j->resolution, sizeof j->resolution, "1:1 [1024x1024 square]");
    j->width = j->height = 1024;
    j->seed = 42;
    j->nloras = 1;
    snprintf(j->lora_name[0], sizeof j->lora_name[0], "L01");
    snprintf(j->lora_file[0], sizeof j->lora_file[0], "l01.safetensors");
    j->lora_strength[0] = 0.8;
    j->origin.user_id = USER;
    return j;
}

/* A loaded dialog at time 1000. */
static uint64_t open_loaded(opts_state *st, opts_dialog_view *v)
{
    uint64_t sid = opts_state_open(st, USER, 1234, 77, "tok", 1000);
    assert_int_not_equal(sid, 0);
    uint64_t app;
    char token[OPTS_STATE_TOKEN_MAX + 1];
    assert_int_equal(opts_state_attach(st, sid, base_job(), &C.cat, 1000, v, &app, token),
                     OPTS_STATE_OK);
    assert_int_equal(app, 77);
    assert_string_equal(token, "tok");
    return sid;
}

static void custom_ids(void **state)
{
    (void)state;
    char id[101];
    uint64_t sid;
    opts_dialog_verb v;
    unsigned page;
    assert_int_equal(
        opts_dialog_custom_id(0xabcdef0123456789ULL, OPTS_DIALOG_V_LORAS, 12, id, sizeof id), 0);
    assert_string_equal(id, "fo:abcdef0123456789:lora:12");
    assert_int_equal(opts_dialog_parse_id(id, &sid, &v, &page), 0);
    assert_true(sid == 0xabcdef0123456789ULL);
    assert_int_equal(v, OPTS_DIALOG_V_LORAS);
    assert_int_equal(page, 12);
    assert_int_equal(opts_dialog_custom_id(1, OPTS_DIALOG_V_GO, 0, id, sizeof id), 0);
    assert_string_equal(id, "fo:0000000000000001:go");
    assert_int_equal(opts_dialog_parse_id(id, &sid, &v, &page), 0);
    assert_int_equal(v, OPTS_DIALOG_V_GO);
    /* one spelling only, and nothing that is not ours */
    static const char *const bad[] = {"fo:0000000000000001:go:1",
                                      "fo:0000000000000001:lora",
                                      "fo:0000000000000001:lora:01",
                                      "fo:0000000000000001:lora:-1",
                                      "fo:0000000000000001:lora:1000",
                                      "fo:000000000000001:go",
                                      "fo:0000000000000000:go",
                                      "fo:ABCDEF0123456789:go",
                                      "fo:0000000000000001:gone",
                                      "fo:0000000000000001:",
                                      "fb:opt:1:2",
                                      "fo:0000000000000001:lora:1x"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(opts_dialog_parse_id(bad[i], &sid, &v, &page), -1);
    assert_int_equal(
        opts_dialog_custom_id(1, OPTS_DIALOG_V_LORAS, OPTS_DIALOG_PAGES_MAX, id, sizeof id), -1);
    assert_int_equal(opts_dialog_pages(&C.loras), 3);
    assert_int_equal(opts_dialog_pages(NULL), 1);
}

static void loras_across_pages_and_cap(void **state)
{
    (void)state;
    opts_state *st = opts_state_new(4, 0);
    opts_dialog_view *v = malloc(sizeof *v);
    uint64_t sid = open_loaded(st, v);
    assert_int_equal(v->lora_cap, 5);
    assert_int_equal(v->nloras, 1);
    assert_true(v->resolution_offered && v->prompt_offered);
    assert_false(v->negative_offered); /* the shipped Flux workflow has none */

    /* page 1: L01 kept (its strength too), L02 and L03 added at their weight */
    const char *p0[] = {"L01", "L02", "L03"};
    opts_state_input in = {.sid = sid,
                           .user_id = USER,
                           .verb = OPTS_DIALOG_V_LORAS,
                           .page = 0,
                           .values = p0,
                           .nvalues = 3};
    assert_int_equal(opts_state_apply(st, &in, &C.cat, 2000, v), OPTS_STATE_OK);
    assert_int_equal(v->nloras, 3);
    assert_true(v->lora_strength[0] == 0.8 && v->lora_strength[1] == 0.5);
    /* page 2: two more makes five */
    const char *p1[] = {"L30", "L40"};
    in = (opts_state_input){.sid = sid,
                            .user_id = USER,
                            .verb = OPTS_DIALOG_V_LORAS,
                            .page = 1,
                            .values = p1,
                            .nvalues = 2};
    assert_int_equal(opts_state_apply(st, &in, &C.cat, 2000, v), OPTS_STATE_OK);
    assert_int_equal(v->nloras, 5);
    assert_int_equal(v->page, 1);
    /* a sixth on page 3 is refused with a reason, nothing changes */
    const char *p2[] = {"L55"};
    in = (opts_state_input){.sid = sid,
                            .user_id = USER,
                            .verb = OPTS_DIALOG_V_LORAS,
                            .page = 2,
                            .values = p2,
                            .nvalues = 1};
    assert_int_equal(opts_state_apply(st, &in, &C.cat, 2000, v), OPTS_STATE_REFUSED);
    assert_non_null(strstr(v->note, "At most 5 LoRAs"));
    assert_int_equal(v->nloras, 5);
    /* its page's menu is disabled (no room), while page 2's still removes */
    char *msg = opts_dialog_message_json(v, &C.ratios, &C.loras);
    assert_non_null(strstr(msg, "5 LoRAs chosen: remove one on its page first"));
    free(msg);
    /* deselecting on page 2 (an empty selection) removes its two */
    in = (opts_state_input){.sid = sid, .user_id = USER, .verb = OPTS_DIALOG_V_LORAS, .page = 1};
    assert_int_equal(opts_state_apply(st, &in, &C.cat, 2000, v), OPTS_STATE_OK);
    assert_int_equal(v->nloras, 3);
    assert_int_equal(v->note[0], '\0');
    /* a name that is not on the page it came from */
    const char *wrong[] = {"L02"};
    in = (opts_state_input){.sid = sid,
                            .user_id = USER,
                            .verb = OPTS_DIALOG_V_LORAS,
                            .page = 1,
                            .values = wrong,
                            .nvalues = 1};
    assert_int_equal(opts_state_apply(st, &in, &C.cat, 2000, v), OPTS_STATE_REFUSED);
    /* Next clamps to the last page */
    in = (opts_state_input){.sid = sid, .user_id = USER, .verb = OPTS_DIALOG_V_NEXT, .page = 7};
    assert_int_equal(opts_state_apply(st, &in, &C.cat, 2000, v), OPTS_STATE_OK);
    assert_int_equal(v->page, 2);
    free(v);
    opts_state_free(st);
}

static void texts_seed_strengths_and_job(void **state)
{
    (void)state;
    opts_state *st = opts_state_new(4, 0);
    opts_dialog_view *v = malloc(sizeof *v);
    uint64_t sid = open_loaded(st, v);
    opts_state_input in = {
        .sid = sid, .user_id = USER, .verb = OPTS_DIALOG_V_MODAL, .prompt = "   ", .seed = ""};
    assert_int_equal(opts_state_apply(st, &in, &C.cat, 2000, v), OPTS_STATE_REFUSED);
    assert_non_null(strstr(v->note, "cannot be empty"));
    in.prompt = "a dog";
    in.seed = "9007199254740992"; /* 2^53: one too many */
    assert_int_equal(opts_state_apply(st, &in, &C.cat, 2000, v), OPTS_STATE_REFUSED);
    in.seed = " 7 ";
    assert_int_equal(opts_state_apply(st, &in, &C.cat, 2000, v), OPTS_STATE_OK);
    assert_string_equal(v->prompt, "a dog");
    assert_true(v->has_seed && v->seed == 7);
    in.seed = "";
    assert_int_equal(opts_state_apply(st, &in, &C.cat, 2000, v), OPTS_STATE_OK);
    assert_false(v->has_seed);

    in = (opts_state_input){.sid = sid, .user_id = USER, .verb = OPTS_DIALOG_V_SMODAL};
    in.strength[0] = "2.5";
    assert_int_equal(opts_state_apply(st, &in, &C.cat, 2000, v), OPTS_STATE_REFUSED);
    assert_non_null(strstr(v->note, "L01"));
    in.strength[0] = "0.25x";
    assert_int_equal(opts_state_apply(st, &in, &C.cat, 2000, v), OPTS_STATE_REFUSED);
    in.strength[0] = "-0.5";
    assert_int_equal(opts_state_apply(st, &in, &C.cat, 2000, v), OPTS_STATE_OK);
    assert_true(v->lora_strength[0] == -0.5);

    const char *res[] = {"9:16 [768x1344 portrait]"};
    in = (opts_state_input){
        .sid = sid, .user_id = USER, .verb = OPTS_DIALOG_V_RESOLUTION, .values = res, .nvalues = 1};
    assert_int_equal(opts_state_apply(st, &in, &C.cat, 2000, v), OPTS_STATE_OK);
    const char *nores[] = {"7:7 [1x1]"};
    in.values = nores;
    assert_int_equal(opts_state_apply(st, &in, &C.cat, 2000, v), OPTS_STATE_REFUSED);

    comfy_reply_ref ref = {.application_id = 77, .interaction_id = 5, .token = "tok2"};
    comfy_origin origin = {.user_id = USER};
    cjob *j = NULL;
    assert_int_equal(
        opts_state_job(st, sid, USER, &C.cat, &ref, &origin, 0xffffffffffffffffULL, 2000, &j, v),
        OPTS_STATE_OK);
    assert_non_null(j);
    assert_int_equal(j->width, 768);
    assert_int_equal(j->height, 1344);
    assert_string_equal(j->user_prompt, "a dog");
    assert_string_equal(j->prompt, "a dog, tw01"); /* trigger words again, of the LoRAs now */
    assert_true(j->seed == CJOB_MAX_SEED);         /* the random one, within range */
    assert_int_equal(j->nloras, 1);
    assert_string_equal(j->lora_file[0], "l01.safetensors");
    assert_true(j->lora_strength[0] == -0.5);
    assert_int_equal(j->source_job_id, 1234);
    assert_string_equal(j->reply.token, "tok2");
    cjob_free(j);
    free(v);
    opts_state_free(st);
}

/* The shipped /video declares its negative prompt as an option that patches the workflow (its
 * mapping has none): the dialog offers it, starting from the result's value, holds it to the
 * option's limits, and the new job carries it as that option; the other options stay. The job
 * is read back from storage: its declaration is found by the command's name. */
static void declared_negative_prompt(void **state)
{
    (void)state;
    cjob *j = base_job();
    j->kind = COMFY_KIND_VIDEO;
    snprintf(j->command, sizeof j->command, "video");
    j->nloras = 0;
    j->npatches = 2;
    snprintf(j->patches[0].option, sizeof j->patches[0].option, "negative_prompt");
    j->patches[0].is_str = true;
    j->patches[0].str = strdup("people");
    snprintf(j->patches[1].option, sizeof j->patches[1].option, "length");
    j->patches[1].num = 33;
    assert_null(j->decl);
    opts_state *st = opts_state_new(4, 0);
    opts_dialog_view *v = malloc(sizeof *v);
    uint64_t sid = opts_state_open(st, USER, 1234, 77, "tok", 1000);
    uint64_t app;
    char token[OPTS_STATE_TOKEN_MAX + 1];
    assert_int_equal(opts_state_attach(st, sid, j, &C.cat, 1000, v, &app, token), OPTS_STATE_OK);
    assert_true(v->prompt_offered);
    assert_true(v->negative_offered);
    assert_string_equal(v->negative, "people");
    assert_int_equal(v->lora_cap, 0); /* the video workflow takes no LoRA */
    /* the option's max_length (1000 characters) applies */
    char *longer = malloc(1002);
    memset(longer, 'x', 1001);
    longer[1001] = '\0';
    opts_state_input in = {.sid = sid,
                           .user_id = USER,
                           .verb = OPTS_DIALOG_V_MODAL,
                           .prompt = "waves",
                           .negative = longer,
                           .seed = "5"};
    assert_int_equal(opts_state_apply(st, &in, &C.cat, 2000, v), OPTS_STATE_REFUSED);
    assert_non_null(strstr(v->note, "negative_prompt"));
    assert_string_equal(v->negative, "people");
    free(longer);
    in.negative = "shaky camera";
    assert_int_equal(opts_state_apply(st, &in, &C.cat, 2000, v), OPTS_STATE_OK);
    assert_string_equal(v->negative, "shaky camera");
    comfy_reply_ref ref = {.application_id = 77, .interaction_id = 5, .token = "tok2"};
    comfy_origin origin = {.user_id = USER};
    cjob *out = NULL;
    assert_int_equal(opts_state_job(st, sid, USER, &C.cat, &ref, &origin, 1, 2000, &out, v),
                     OPTS_STATE_OK);
    assert_null(out->negative_prompt); /* not the mapping's parameter: the option */
    assert_int_equal(out->npatches, 2);
    bool neg = false, len = false;
    for (unsigned i = 0; i < out->npatches; i++) {
        if (!strcmp(out->patches[i].option, "negative_prompt"))
            neg = out->patches[i].is_str && !strcmp(out->patches[i].str, "shaky camera");
        if (!strcmp(out->patches[i].option, "length")) len = out->patches[i].num == 33;
    }
    assert_true(neg && len);
    assert_string_equal(out->user_prompt, "waves");
    cjob_free(out);
    /* emptied: the workflow's own negative text (no patch) */
    in.negative = " ";
    assert_int_equal(opts_state_apply(st, &in, &C.cat, 3000, v), OPTS_STATE_OK);
    assert_int_equal(opts_state_job(st, sid, USER, &C.cat, &ref, &origin, 1, 3000, &out, v),
                     OPTS_STATE_OK);
    assert_int_equal(out->npatches, 1);
    assert_string_equal(out->patches[0].option, "length");
    cjob_free(out);
    free(v);
    opts_state_free(st);
}

static void users_expiry_and_eviction(void **state)
{
    (void)state;
    opts_state *st = opts_state_new(2, 60000);
    opts_dialog_view *v = malloc(sizeof *v);
    uint64_t sid = open_loaded(st, v);
    opts_state_input in = {.sid = sid, .user_id = USER + 1, .verb = OPTS_DIALOG_V_GO};
    assert_int_equal(opts_state_apply(st, &in, &C.cat, 2000, v), OPTS_STATE_WRONG_USER);
    /* loading: opened, not attached */
    uint64_t other = opts_state_open(st, USER, 99, 77, "t", 2000);
    in = (opts_state_input){.sid = other, .user_id = USER, .verb = OPTS_DIALOG_V_EDIT};
    assert_int_equal(opts_state_apply(st, &in, &C.cat, 2000, v), OPTS_STATE_LOADING);
    /* every use extends the life: 50 s later, then 50 s after that, still alive */
    in = (opts_state_input){.sid = sid, .user_id = USER, .verb = OPTS_DIALOG_V_EDIT};
    assert_int_equal(opts_state_apply(st, &in, &C.cat, 51000, v), OPTS_STATE_OK);
    assert_int_equal(opts_state_apply(st, &in, &C.cat, 101000, v), OPTS_STATE_OK);
    /* a third dialog in a table of two evicts the least recently used (the loading one) */
    uint64_t third = opts_state_open(st, USER, 5, 77, "t", 101000);
    assert_int_equal(opts_state_count(st), 2);
    uint64_t app;
    char token[OPTS_STATE_TOKEN_MAX + 1];
    assert_false(opts_state_drop(st, other, &app, token));
    assert_int_equal(opts_state_attach(st, other, base_job(), &C.cat, 101000, v, &app, token),
                     OPTS_STATE_GONE);
    /* more than the life after the last use: gone */
    assert_int_equal(opts_state_apply(st, &in, &C.cat, 161001, v), OPTS_STATE_GONE);
    assert_true(opts_state_drop(st, third, &app, token));
    assert_int_equal(opts_state_count(st), 0);
    free(v);
    opts_state_free(st);
}

static void modal_payloads(void **state)
{
    (void)state;
    opts_dialog_view *v = calloc(1, sizeof *v);
    v->sid = 3;
    v->prompt_offered = true;
    v->negative_offered = true;
    snprintf(v->prompt, sizeof v->prompt, "a cat");
    v->has_seed = true;
    v->seed = 9;
    char *m = opts_dialog_modal_json(v);
    cJSON *o = cJSON_Parse(m);
    assert_int_equal(cJSON_GetObjectItem(o, "type")->valueint, 9);
    const cJSON *d = cJSON_GetObjectItem(o, "data");
    assert_string_equal(cJSON_GetObjectItem(d, "custom_id")->valuestring,
                        "fo:0000000000000003:modal");
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(d, "components")), 3);
    assert_non_null(strstr(m, "\"value\":\"a cat\""));
    assert_non_null(strstr(m, "\"value\":\"9\""));
    cJSON_Delete(o);
    free(m);
    assert_null(opts_dialog_strength_modal_json(v)); /* no LoRA chosen */
    v->nloras = 1;
    snprintf(v->lora_name[0], sizeof v->lora_name[0],
             "A LoRA with a very long display name that does not fit a label");
    v->lora_strength[0] = 0.75;
    m = opts_dialog_strength_modal_json(v);
    o = cJSON_Parse(m);
    const cJSON *in = cJSON_GetArrayItem(
        cJSON_GetObjectItem(
            cJSON_GetArrayItem(cJSON_GetObjectItem(cJSON_GetObjectItem(o, "data"), "components"),
                               0),
            "components"),
        0);
    assert_true(strlen(cJSON_GetObjectItem(in, "label")->valuestring) <= 45 + 2);
    assert_string_equal(cJSON_GetObjectItem(in, "value")->valuestring, "0.75");
    cJSON_Delete(o);
    free(m);
    free(v);
    /* the builder refuses what Discord would */
    reply_text_input two[2] = {{.custom_id = "a", .label = "A"}, {.custom_id = "a", .label = "B"}};
    reply_modal bad = {.custom_id = "x", .title = "T", .inputs = two, .ninputs = 2};
    char err[160];
    assert_null(reply_modal_json(&bad, err, sizeof err));
    bad.ninputs = 0;
    assert_null(reply_modal_json(&bad, err, sizeof err));
}

static void modal_submit_parsing(void **state)
{
    (void)state;
    const char *ok =
        "{\"id\":\"11\",\"application_id\":\"12\",\"type\":5,\"token\":\"tok\","
        "\"channel_id\":\"13\",\"user\":{\"id\":\"14\"},\"message\":{\"id\":\"15\"},"
        "\"data\":{\"custom_id\":\"fo:0000000000000003:modal\",\"components\":["
        "{\"type\":1,\"components\":[{\"type\":4,\"custom_id\":\"prompt\",\"value\":\"a fox\"}]},"
        "{\"type\":1,\"components\":[{\"type\":4,\"custom_id\":\"seed\",\"value\":\"\"}]}]}}";
    ix_error e;
    ix_interaction *ix = ix_parse(ok, strlen(ok), &e);
    assert_non_null(ix);
    assert_int_equal(ix->type, IX_MODAL_SUBMIT);
    assert_string_equal(ix->custom_id, "fo:0000000000000003:modal");
    assert_int_equal(ix->nfields, 2);
    assert_string_equal(ix_field_value(ix, "prompt"), "a fox");
    assert_string_equal(ix_field_value(ix, "seed"), "");
    assert_null(ix_field_value(ix, "negative"));
    assert_int_equal(ix->message_id, 15);
    ix_free(ix);
    /* six inputs, two in a row, a value that is not text: refused with the field named */
    const char *bad[] = {
        "{\"id\":\"11\",\"application_id\":\"12\",\"type\":5,\"token\":\"tok\",\"user\":{\"id\":"
        "\"14\"},\"data\":{\"custom_id\":\"m\",\"components\":[{\"components\":[{\"custom_id\":"
        "\"a\",\"value\":\"1\"},{\"custom_id\":\"b\",\"value\":\"2\"}]}]}}",
        "{\"id\":\"11\",\"application_id\":\"12\",\"type\":5,\"token\":\"tok\",\"user\":{\"id\":"
        "\"14\"},\"data\":{\"custom_id\":\"m\",\"components\":[{\"components\":[{\"custom_id\":"
        "\"a\",\"value\":5}]}]}}",
        "{\"id\":\"11\",\"application_id\":\"12\",\"type\":5,\"token\":\"tok\",\"user\":{\"id\":"
        "\"14\"},\"data\":{\"components\":[]}}"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        ix = ix_parse(bad[i], strlen(bad[i]), &e);
        assert_null(ix);
        assert_true(e.code != IX_OK);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(custom_ids),
        cmocka_unit_test(loras_across_pages_and_cap),
        cmocka_unit_test(texts_seed_strengths_and_job),
        cmocka_unit_test(declared_negative_prompt),
        cmocka_unit_test(users_expiry_and_eviction),
        cmocka_unit_test(modal_payloads),
        cmocka_unit_test(modal_submit_parsing),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
