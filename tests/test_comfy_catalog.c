/* Resolutions, LoRAs and job option validation: the shipped files load, bad files are refused
 * with a reason, autocomplete stays within 25 choices, bad options get clear user messages. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "comfy/cjob.h"
#include "comfy/loras.h"
#include "comfy/ratios.h"
#include "comfy/wf.h"

static char err[1024];

static void test_ratios_shipped(void **state)
{
    (void)state;
    ratios_set r;
    assert_int_equal(
        ratios_load_file(&r, FLUXBOT_SOURCE_DIR "/config/ratios.json", err, sizeof err), 0);
    assert_int_equal(r.count, 25);
    const ratios_entry *e = ratios_find(&r, "16:9 [1344x768 landscape]");
    assert_non_null(e);
    assert_int_equal(e->width, 1344);
    assert_int_equal(e->height, 768);
    assert_null(ratios_find(&r, "17:9 [bogus]"));
    assert_non_null(ratios_find(&r, "1920x1080"));
    assert_int_equal(ratios_default(&r)->width, 1024);
    assert_int_equal(ratios_default(&r)->height, 1024);
    /* order is the file's (it is the order of the Discord choices) */
    assert_string_equal(r.items[0].label, "4:3 [1024x768 square]");
}

static void test_ratios_invalid(void **state)
{
    (void)state;
    ratios_set r;
    assert_int_equal(ratios_parse(&r, "{\"ratios\":{\"a\":{\"width\":10,\"height\":512}}}", "f",
                                  err, sizeof err),
                     -1);
    assert_non_null(strstr(err, "64..8192"));
    assert_int_equal(ratios_parse(&r, "{\"ratios\":{}}", "f", err, sizeof err), -1);
    assert_int_equal(ratios_parse(&r, "{\"x\":1}", "f", err, sizeof err), -1);
    assert_int_equal(ratios_parse(&r, "{\"ratios\":{\"a\":{\"width\":512.5,\"height\":512}}}", "f",
                                  err, sizeof err),
                     -1);
    char big[4096] = "{\"ratios\":{";
    for (int i = 0; i < 26; i++) {
        char e[64];
        snprintf(e, sizeof e, "%s\"r%d\":{\"width\":512,\"height\":512}", i ? "," : "", i);
        strcat(big, e);
    }
    strcat(big, "}}");
    assert_int_equal(ratios_parse(&r, big, "f", err, sizeof err), -1);
    assert_non_null(strstr(err, "more than 25"));
}

static void test_loras_shipped_and_match(void **state)
{
    (void)state;
    loras_set l;
    assert_int_equal(loras_load_file(&l, FLUXBOT_SOURCE_DIR "/config/loras.json", err, sizeof err),
                     0);
    assert_true(l.count >= 5);
    const loras_entry *e = loras_find(&l, "anime style");
    assert_non_null(e);
    assert_string_equal(e->file, "flux_anime_style.safetensors");
    assert_non_null(loras_find(&l, "flux_anime_style.safetensors"));
    assert_null(loras_find(&l, "nope"));
    const loras_entry *out[25];
    unsigned n = loras_match(&l, "", out, 25);
    assert_int_equal(n, l.count);
    n = loras_match(&l, "  wat ", out, 25);
    assert_int_equal(n, 1);
    assert_string_equal(out[0]->name, "Watercolor");
    /* by trigger word */
    n = loras_match(&l, "16-bit", out, 25);
    assert_int_equal(n, 1);
    assert_string_equal(out[0]->name, "Pixel Art");
    loras_free(&l);
}

static void test_loras_ranking_and_cap(void **state)
{
    (void)state;
    char *json = malloc(200000);
    strcpy(json, "{\"loras\":[");
    for (int i = 0; i < 600; i++) {
        char e[200];
        snprintf(e, sizeof e,
                 "%s{\"file\":\"l%d.safetensors\",\"name\":\"Style %03d\",\"weight\":1}",
                 i ? "," : "", i, i);
        strcat(json, e);
    }
    strcat(json, ",{\"file\":\"s.safetensors\",\"name\":\"Sketchy\"},"
                 "{\"file\":\"t.safetensors\",\"name\":\"Art sketch\",\"weight\":\"0.8\"}]}");
    loras_set l;
    assert_int_equal(loras_parse(&l, json, "big", err, sizeof err), 0);
    free(json);
    const loras_entry *out[40];
    assert_int_equal(loras_match(&l, "style", out, 40), 25); /* never more than Discord's 25 */
    assert_int_equal(loras_match(&l, "sket", out, 40), 2);
    assert_string_equal(out[0]->name, "Sketchy");    /* prefix first */
    assert_string_equal(out[1]->name, "Art sketch"); /* then word prefix */
    assert_true(loras_find(&l, "art sketch")->weight == 0.8);
    loras_free(&l);
}

static void test_loras_invalid_and_legacy(void **state)
{
    (void)state;
    loras_set l;
    assert_int_equal(loras_parse(&l, "{\"loras\":[{\"file\":\"../../etc/passwd.safetensors\"}]}",
                                 "f", err, sizeof err),
                     -1);
    assert_int_equal(loras_parse(&l, "{\"loras\":[{\"file\":\"a.txt\"}]}", "f", err, sizeof err),
                     -1);
    assert_int_equal(loras_parse(&l,
                                 "{\"loras\":[{\"file\":\"a.safetensors\",\"name\":\"A\"},"
                                 "{\"file\":\"b.safetensors\",\"name\":\"a\"}]}",
                                 "f", err, sizeof err),
                     -1);
    assert_non_null(strstr(err, "duplicate"));
    assert_int_equal(loras_parse(&l, "{\"loras\":[{\"file\":\"a.safetensors\",\"weight\":\"x\"}]}",
                                 "f", err, sizeof err),
                     -1);
    /* the original bot's file */
    assert_int_equal(
        loras_parse(&l,
                    "{\"default\":\"a.safetensors\",\"available_loras\":["
                    "{\"file\":\"a.safetensors\",\"name\":\"A\",\"weight\":\"0.7\","
                    "\"add_prompt\":\"tw\",\"is_active\":true},"
                    "{\"file\":\"b.safetensors\",\"name\":\"B\",\"is_active\":false}]}",
                    "f", err, sizeof err),
        0);
    assert_int_equal(l.count, 1);
    assert_string_equal(l.items[0].trigger_words, "tw");
    const loras_entry *list[2] = {&l.items[0], &l.items[0]};
    char *p = loras_apply_triggers("a cat", list, 1);
    assert_string_equal(p, "a cat, tw");
    free(p);
    p = loras_apply_triggers("tw already", list, 2);
    assert_string_equal(p, "tw already");
    free(p);
    assert_true(loras_strength(&l.items[0], 1) == 0.7);
    assert_true(loras_strength(&l.items[0], 2) == 0.5);
    loras_free(&l);
}

typedef struct catalog {
    ratios_set r;
    loras_set l;
    decl_set d;
    cjob_catalog c;
} catalog;

static const decl_set *g_decls; /* msg_init's: the shipped declarations */

static int cat_setup(void **state)
{
    catalog *c = calloc(1, sizeof *c);
    if (ratios_load_file(&c->r, FLUXBOT_SOURCE_DIR "/config/ratios.json", err, sizeof err) ||
        loras_load_file(&c->l, FLUXBOT_SOURCE_DIR "/config/loras.json", err, sizeof err) ||
        decl_set_load(&c->d, FLUXBOT_SOURCE_DIR "/workflows", err, sizeof err))
        return -1;
    c->c.ratios = &c->r;
    c->c.loras = &c->l;
    c->c.decls = &c->d;
    g_decls = &c->d;
    c->c.max_attachment_bytes = 8u << 20;
    *state = c;
    return 0;
}

static int cat_teardown(void **state)
{
    catalog *c = *state;
    loras_free(&c->l);
    decl_set_free(&c->d);
    free(c);
    return 0;
}

/* A message of the shipped declaration that used to be kind k (/comfy, /redux, ...). */
static void msg_init(comfy_job_msg *m, comfy_kind k)
{
    memset(m, 0, sizeof *m);
    m->kind = k;
    m->decl = decl_set_find(g_decls, comfy_kind_name(k));
    assert_non_null(m->decl);
    m->reply.token = "tok";
    m->upscale_factor = 1;
}

static void test_job_bad_options(void **state)
{
    catalog *c = *state;
    comfy_job_msg m;
    msg_init(&m, COMFY_KIND_IMAGE);
    m.prompt = "a cat";
    assert_int_equal(cjob_check_options(&m, &c->c, err, sizeof err), 0);

    strcpy(m.resolution, "17:9 [bogus]");
    assert_int_equal(cjob_check_options(&m, &c->c, err, sizeof err), -1);
    assert_non_null(strstr(err, "Unknown resolution"));
    m.resolution[0] = 0;

    m.upscale_factor = 9;
    assert_int_equal(cjob_check_options(&m, &c->c, err, sizeof err), -1);
    assert_non_null(strstr(err, "upscale_factor must be 1, 2, 3 or 4 (got 9)"));
    m.upscale_factor = 1;

    strcpy(m.loras[0], "No Such Lora");
    m.nloras = 1;
    assert_int_equal(cjob_check_options(&m, &c->c, err, sizeof err), -1);
    assert_non_null(strstr(err, "Unknown LoRA"));
    m.nloras = 0;

    m.prompt = "   ";
    assert_int_equal(cjob_check_options(&m, &c->c, err, sizeof err), -1);
    m.prompt = "bad \xc3\x28 utf8";
    assert_int_equal(cjob_check_options(&m, &c->c, err, sizeof err), -1);
    assert_non_null(strstr(err, "UTF-8"));
    m.prompt = "ok";
    m.has_seed = true;
    m.seed = 1ULL << 60;
    assert_int_equal(cjob_check_options(&m, &c->c, err, sizeof err), -1);

    comfy_attachment a = {.url = "https://cdn.example/x.gif",
                          .filename = "x.gif",
                          .content_type = "image/gif",
                          .size = 1000};
    msg_init(&m, COMFY_KIND_PULID);
    m.prompt = "me";
    m.nimages = 1;
    m.images[0] = a;
    /* the declared type is the sender's claim: not checked here, the downloaded bytes decide */
    assert_int_equal(cjob_check_options(&m, &c->c, err, sizeof err), 0);
    m.images[0].content_type = "text/plain";
    assert_int_equal(cjob_check_options(&m, &c->c, err, sizeof err), 0);
    m.images[0].content_type = "image/png";
    m.images[0].size = 50u << 20;
    assert_int_equal(cjob_check_options(&m, &c->c, err, sizeof err), -1);
    assert_non_null(strstr(err, "50.0 MB; the limit is 8.0 MB"));
    m.images[0].size = 1000;
    m.has_strength[0] = true;
    m.strength[0] = 1.5;
    assert_int_equal(cjob_check_options(&m, &c->c, err, sizeof err), -1);
    assert_non_null(strstr(err, "between 0.1 and 1.0"));
    m.strength[0] = 0.4;
    assert_int_equal(cjob_check_options(&m, &c->c, err, sizeof err), 0);
    m.nimages = 0;
    assert_int_equal(cjob_check_options(&m, &c->c, err, sizeof err), -1);
    assert_non_null(strstr(err, "needs 1 image"));
}

static void test_job_built(void **state)
{
    catalog *c = *state;
    comfy_job_msg m;
    msg_init(&m, COMFY_KIND_IMAGE);
    m.prompt = "a cat";
    strcpy(m.resolution, "9:16 [768x1344 portrait]");
    strcpy(m.loras[0], "Anime Style");
    strcpy(m.loras[1], "watercolor");
    strcpy(m.loras[2], "anime style"); /* duplicate: dropped */
    m.nloras = 3;
    m.upscale_factor = 2;
    m.origin.user_id = 42;
    cjob *j = cjob_from_msg(&m, &c->c, 7, 0xffffffffffffffffULL, err, sizeof err);
    assert_non_null(j);
    assert_int_equal(j->width, 768);
    assert_int_equal(j->height, 1344);
    assert_int_equal(j->nloras, 2);
    assert_true(j->seed <= CJOB_MAX_SEED);
    assert_string_equal(j->prompt, "a cat, anime style, watercolor painting");
    assert_string_equal(j->user_prompt, "a cat");
    assert_true(j->lora_strength[0] == 0.5); /* stacked: capped */
    char list[256];
    cjob_lora_list(j, list, sizeof list);
    assert_string_equal(list, "Anime Style (0.50), Watercolor (0.50)");
    wf_values v;
    cjob_values(j, NULL, "fb", &v);
    cJSON *g = wf_patch(decl_set_find(&c->d, "comfy")->wf, &v, err, sizeof err);
    assert_non_null(g);
    char *t = cJSON_PrintUnformatted(g);
    assert_non_null(strstr(t, "\"lora_name\":\"flux_anime_style.safetensors\""));
    assert_non_null(strstr(t, "\"scale_by\":2"));
    free(t);
    cJSON_Delete(g);

    comfy_reply_ref r = {.application_id = 1, .interaction_id = 2, .token = "t2"};
    cjob *re = cjob_clone(j, 8, &r, NULL);
    assert_int_equal(re->source_job_id, 7);
    assert_string_equal(re->reply.token, "t2");
    assert_int_equal(re->origin.user_id, 42);
    cjob *up =
        cjob_new_upscale(j, decl_set_button(&c->d), 9, 2, "http://127.0.0.1/x.png", &r, NULL);
    assert_int_equal(up->kind, COMFY_KIND_UPSCALE);
    /* The label and its size stay the source's; the factor adds up: the source was x2. */
    assert_string_equal(up->resolution, j->resolution);
    assert_int_equal(up->width, 768);
    assert_int_equal(cjob_total_upscale(up), 4);
    uint32_t ow, oh;
    cjob_output_size(up, &ow, &oh);
    assert_int_equal(ow, 3072);
    assert_int_equal(oh, 5376);
    /* ...and an Upscale of that result is x8 of the label. */
    cjob *up2 =
        cjob_new_upscale(up, decl_set_button(&c->d), 10, 2, "http://127.0.0.1/y.png", &r, NULL);
    assert_int_equal(cjob_total_upscale(up2), 8);
    cjob_free(up2);
    /* The stored form of a job (the results table) comes back the same, and junk is refused. */
    char *pj = cjob_to_json(up);
    cjob *back = cjob_from_json(pj, 9, err, sizeof err);
    assert_non_null(back);
    char *pj2 = cjob_to_json(back);
    assert_string_equal(pj, pj2);
    assert_int_equal(back->kind, COMFY_KIND_UPSCALE);
    assert_int_equal(cjob_total_upscale(back), 4);
    free(pj2);
    cjob_free(back);
    free(pj);
    pj = cjob_to_json(j);
    back = cjob_from_json(pj, 7, err, sizeof err);
    assert_non_null(back);
    assert_int_equal(back->nloras, 2);
    assert_string_equal(back->lora_file[0], j->lora_file[0]);
    assert_true(back->lora_strength[1] == j->lora_strength[1]);
    assert_int_equal(back->seed, j->seed);
    assert_string_equal(back->prompt, j->prompt);
    cjob_free(back);
    free(pj);
    const char *bad[] = {NULL,
                         "",
                         "[]",
                         "{\"kind\":99}",
                         "{\"v\":1,\"kind\":0}",
                         "{\"kind\":0,\"workflow\":0,\"user_prompt\":1}"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_null(cjob_from_json(bad[i], 1, err, sizeof err));

    char *lj = cjob_lora_json(j);
    assert_string_equal(lj, "[\"Anime Style\",\"Watercolor\"]");
    free(lj);
    assert_string_equal(cjob_generation_type(up), "upscale");
    cjob_free(up);
    cjob_free(re);
    cjob_free(j);

    /* A video carries the size its workflow renders (Wan: 832x480), for its analytics row. */
    msg_init(&m, COMFY_KIND_VIDEO);
    m.prompt = "a cat running";
    cjob *vid = cjob_from_msg(&m, &c->c, 11, 1, err, sizeof err);
    assert_non_null(vid);
    assert_string_equal(vid->resolution, "832x480");
    assert_int_equal(vid->width, 832);
    assert_int_equal(vid->height, 480);
    cjob_free(vid);
}

/* What the content filter checks again when a result is run anew: every text typed, and only
 * those (numbers and empty values are not texts). */
static void test_user_texts(void **state)
{
    (void)state;
    cjob *j = calloc(1, sizeof *j);
    assert_non_null(j);
    j->user_prompt = strdup("a cat");
    j->negative_prompt = strdup("blurry");
    j->npatches = 4;
    static const char *const names[4] = {"style", "steps", "empty", "negative_prompt"};
    for (int i = 0; i < 4; i++)
        snprintf(j->patches[i].option, sizeof j->patches[i].option, "%s", names[i]);
    j->patches[0].is_str = true;
    j->patches[0].str = strdup("noir");
    j->patches[1].num = 20;
    j->patches[2].is_str = true;
    j->patches[2].str = strdup("");
    j->patches[3].is_str = true;
    j->patches[3].str = strdup("people");
    const char *t[CJOB_TEXTS_MAX];
    assert_int_equal(cjob_user_texts(j, t), 4);
    assert_string_equal(t[0], "a cat");
    assert_string_equal(t[1], "blurry");
    assert_string_equal(t[2], "noir");
    assert_string_equal(t[3], "people");
    free(j->negative_prompt);
    j->negative_prompt = NULL;
    assert_int_equal(cjob_user_texts(j, t), 3);
    comfy_patches_free(j->patches, j->npatches);
    j->npatches = 0;
    assert_int_equal(cjob_user_texts(j, t), 1);
    cjob_free(j);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ratios_shipped),
        cmocka_unit_test(test_ratios_invalid),
        cmocka_unit_test(test_loras_shipped_and_match),
        cmocka_unit_test(test_loras_ranking_and_cap),
        cmocka_unit_test(test_loras_invalid_and_legacy),
        cmocka_unit_test_setup_teardown(test_job_bad_options, cat_setup, cat_teardown),
        cmocka_unit_test_setup_teardown(test_job_built, cat_setup, cat_teardown),
        cmocka_unit_test(test_user_texts),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
