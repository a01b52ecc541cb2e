/*
 * Prompt enhancement in the job model and in what users read: cjob_enhance_apply keeps the
 * LoRA trigger words the model may drop, a failure keeps the prompt as typed, the Options
 * dialog's reset forgets the enhancement; the stored form (results table) carries it back and
 * refuses inconsistent fields; each outcome has its line (no URL, no detail), and the result
 * message shows the enhanced prompt beside the typed one.
 *
 * fluxbot-test: tsan
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "comfy/cjob.h"
#include "comfy/cres.h"
#include "discord/enh_note.h"
#include "util/util_str.h"

static cjob *job(void)
{
    cjob *j = calloc(1, sizeof *j);
    assert_non_null(j);
    j->id = 5;
    snprintf(j->command, sizeof j->command, "comfy");
    snprintf(j->generation_type, sizeof j->generation_type, "standard");
    j->reply.application_id = 1;
    j->reply.interaction_id = 2;
    j->reply.token = util_strdup("tok");
    j->origin.user_id = 42;
    j->user_prompt = util_strdup("a lighthouse");
    j->prompt = util_strdup("a lighthouse, anime style");
    snprintf(j->resolution, sizeof j->resolution, "Square");
    j->width = j->height = 1024;
    j->seed = 7;
    j->upscale = 1;
    j->creativity = 7;
    return j;
}

static void test_apply_fail_reset(void **state)
{
    (void)state;
    cjob *j = job();
    cjob_enhance_apply(j, "A lighthouse on a cliff at dusk");
    assert_int_equal(j->enhance, CJOB_ENH_OK);
    assert_string_equal(j->enhanced_prompt, "A lighthouse on a cliff at dusk");
    /* the trigger words resolution appended are kept */
    assert_string_equal(j->prompt, "A lighthouse on a cliff at dusk, anime style");
    assert_string_equal(j->user_prompt, "a lighthouse");
    /* a Regenerate checks the enhanced text with the filter too (the rules may have changed) */
    const char *texts[CJOB_TEXTS_MAX];
    unsigned nt = cjob_user_texts(j, texts);
    assert_int_equal(nt, 2);
    assert_string_equal(texts[0], "a lighthouse");
    assert_string_equal(texts[1], "A lighthouse on a cliff at dusk");
    cjob *c = cjob_clone(j, 6, NULL, NULL);
    assert_int_equal(c->enhance, CJOB_ENH_OK);
    assert_string_equal(c->enhanced_prompt, j->enhanced_prompt);
    assert_int_equal(c->creativity, 7);
    cjob_enhance_reset(c);
    assert_int_equal(c->enhance, CJOB_ENH_NONE);
    assert_null(c->enhanced_prompt);
    assert_int_equal(c->creativity, 7); /* may be enhanced again */
    cjob_free(c);
    cjob_enhance_fail(j, CJOB_ENH_TIMEOUT);
    assert_int_equal(j->enhance, CJOB_ENH_TIMEOUT);
    assert_null(j->enhanced_prompt);
    assert_string_equal(j->prompt, "a lighthouse, anime style"); /* as typed again */
    /* a failure never claims success */
    cjob_enhance_fail(j, CJOB_ENH_OK);
    assert_int_equal(j->enhance, CJOB_ENH_ERROR);
    cjob_free(j);
}

static void test_stored_form(void **state)
{
    (void)state;
    char err[256];
    cjob *j = job();
    cjob_enhance_apply(j, "A lighthouse on a cliff at dusk");
    char *pj = cjob_to_json(j);
    cjob *back = cjob_from_json(pj, 5, err, sizeof err);
    if (!back) fprintf(stderr, "%s\n", err);
    assert_non_null(back);
    assert_int_equal(back->enhance, CJOB_ENH_OK);
    assert_int_equal(back->creativity, 7);
    assert_string_equal(back->enhanced_prompt, "A lighthouse on a cliff at dusk");
    assert_string_equal(back->prompt, j->prompt);
    char *pj2 = cjob_to_json(back);
    assert_string_equal(pj, pj2);
    free(pj2);
    cjob_free(back);

    /* inconsistent or out-of-range fields are refused, never trusted */
    static const struct {
        const char *key, *value;
    } bad[] = {
        {"creativity", "11"},       {"creativity", "0"},
        {"creativity", "2.5"},      {"creativity", "\"7\""},
        {"enhance", "\"great\""},   {"enhance", "3"},
        {"enhanced_prompt", "17"},  {"enhanced_prompt", "\"\xff\xfe\""},
        {"enhance", "\"timeout\""}, /* an enhanced text with a failed status */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        cJSON *o = cJSON_Parse(pj);
        cJSON *v = cJSON_Parse(bad[i].value);
        assert_non_null(v);
        cJSON_ReplaceItemInObject(o, bad[i].key, v);
        char *t = cJSON_PrintUnformatted(o);
        cJSON_Delete(o);
        cjob *b = cjob_from_json(t, 5, err, sizeof err);
        if (b) fprintf(stderr, "accepted %s=%s\n", bad[i].key, bad[i].value);
        assert_null(b);
        free(t);
    }
    /* a status "ok" without its text */
    cJSON *o = cJSON_Parse(pj);
    cJSON_DeleteItemFromObject(o, "enhanced_prompt");
    char *t = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    assert_null(cjob_from_json(t, 5, err, sizeof err));
    free(t);
    free(pj);
    cjob_free(j);
}

static void test_lines(void **state)
{
    (void)state;
    cjob *j = job();
    char line[ENH_NOTE_MAX];
    enh_note_line(j, line, sizeof line);
    assert_string_equal(line, ""); /* CJOB_ENH_NONE */
    char *s = enh_note_append("progress", j);
    assert_string_equal(s, "progress");
    free(s);
    static const struct {
        cjob_enhance e;
        const char *want;
    } cases[] = {
        {CJOB_ENH_OFF, "not enabled on this bot"},
        {CJOB_ENH_TIMEOUT, "timed out, so your prompt was used as written"},
        {CJOB_ENH_ERROR, "failed, so your prompt was used as written"},
        {CJOB_ENH_FILTERED, "blocked by the content filter, so your prompt was used as written"},
        {CJOB_ENH_BUSY, "not available just then"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        cjob_enhance_fail(j, cases[i].e);
        enh_note_line(j, line, sizeof line);
        if (!strstr(line, cases[i].want)) fprintf(stderr, "%s\n", line);
        assert_non_null(strstr(line, cases[i].want));
        assert_null(strstr(line, "http"));
        s = enh_note_append("progress", j);
        assert_true(strncmp(s, "progress\n", 9) == 0);
        free(s);
    }
    cjob_enhance_apply(j, "A lighthouse on a cliff at dusk");
    enh_note_line(j, line, sizeof line);
    assert_non_null(strstr(line, "Prompt enhanced (creativity 7)"));
    s = enh_note_append(NULL, j);
    assert_string_equal(s, line);
    free(s);
    assert_non_null(strstr(enh_note_working(), "Enhancing your prompt"));
    cjob_free(j);
}

/* The result: the typed prompt in the description, the enhanced one in its own field, and
 * the line above the embed. */
static void test_result_shows_both(void **state)
{
    (void)state;
    cjob *j = job();
    cjob_enhance_apply(j, "A lighthouse on a cliff at dusk");
    cres_result r = {.job = j, .filename = "fluxbot_5.png", .is_image = true, .generation_ms = 900};
    char *body = cres_final_payload(&r);
    cJSON *o = cJSON_Parse(body);
    free(body);
    assert_non_null(o);
    assert_non_null(strstr(cJSON_GetObjectItem(o, "content")->valuestring, "Prompt enhanced"));
    const cJSON *em = cJSON_GetArrayItem(cJSON_GetObjectItem(o, "embeds"), 0);
    assert_non_null(strstr(cJSON_GetObjectItem(em, "description")->valuestring, "a lighthouse"));
    bool found = false;
    const cJSON *f;
    cJSON_ArrayForEach(f, cJSON_GetObjectItem(em, "fields"))
    {
        if (strstr(cJSON_GetObjectItem(f, "name")->valuestring, "Enhanced prompt")) {
            found = true;
            assert_string_equal(cJSON_GetObjectItem(f, "value")->valuestring,
                                "A lighthouse on a cliff at dusk");
        }
    }
    assert_true(found);
    cJSON_Delete(o);

    /* a failed enhancement: the line, no field */
    cjob_enhance_fail(j, CJOB_ENH_FILTERED);
    body = cres_final_payload(&r);
    assert_non_null(strstr(body, "blocked by the content filter"));
    assert_null(strstr(body, "Enhanced prompt"));
    assert_null(strstr(body, "on a cliff"));
    free(body);
    cjob_free(j);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_apply_fail_reset),
        cmocka_unit_test(test_stored_form),
        cmocka_unit_test(test_lines),
        cmocka_unit_test(test_result_shows_both),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
