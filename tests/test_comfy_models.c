/* The model-list cache and its /object_info parser (comfy/models.h): both answer shapes, the
 * bounds, lookups and matching, and answers that must change nothing. */
/* fluxbot-test: tsan */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "comfy/models.h"

static char err[256];

/* The shape of ComfyUI before the COMBO type: [[names], {options}]. */
static const char *older =
    "{\"UNETLoader\":{\"input\":{\"required\":{\"unet_name\":[[\"flux1-dev.safetensors\","
    "\"flux1-schnell.safetensors\",\"sub/wan2.1.safetensors\"],{}],\"weight_dtype\":"
    "[[\"default\",\"fp8_e4m3fn\"]]}},\"output\":[\"MODEL\"]},"
    "\"CheckpointLoaderSimple\":{\"input\":{\"required\":{\"ckpt_name\":[[\"sdxl.safetensors\"]]}}}"
    "}";

/* The newer one: ["COMBO", {"options": [names]}], for one class (/object_info/{class}). */
static const char *newer =
    "{\"LoraLoader\":{\"input\":{\"required\":{\"model\":[\"MODEL\"],\"lora_name\":[\"COMBO\","
    "{\"options\":[\"anime.safetensors\",\"Water color.safetensors\"],\"tooltip\":\"x\"}]}}}}";

static void both_shapes_fill_their_kinds(void **state)
{
    (void)state;
    models_cache *m = models_new();
    assert_int_equal(models_has(m, "unet", "flux1-dev.safetensors"), -1); /* not known yet */
    assert_int_equal(models_update(m, older, strlen(older), 5, err, sizeof err), 2);
    assert_int_equal(models_update(m, newer, strlen(newer), 9, err, sizeof err), 1);
    uint64_t at;
    assert_int_equal(models_count(m, "unet", &at), 3);
    assert_int_equal(at, 5);
    assert_int_equal(models_count(m, "checkpoint", NULL), 1);
    assert_int_equal(models_count(m, "lora", &at), 2);
    assert_int_equal(at, 9);
    assert_int_equal(models_count(m, "vae", NULL), 0);
    assert_int_equal(models_has(m, "unet", "sub/wan2.1.safetensors"), 1);
    assert_int_equal(models_has(m, "unet", "sdxl.safetensors"), 0);
    assert_int_equal(models_has(m, "vae", "ae.safetensors"), -1);
    assert_int_equal(models_has(m, "nonsense", "x"), -1);

    char out[25][MODELS_NAME_MAX + 1];
    /* prefix matches first, then the names containing the text, case ignored */
    assert_int_equal(models_match(m, "unet", "FLUX1-S", out, 25), 1);
    assert_string_equal(out[0], "flux1-schnell.safetensors");
    assert_int_equal(models_match(m, "unet", "safetensors", out, 25), 3);
    assert_int_equal(models_match(m, "unet", "", out, 2), 2);
    assert_int_equal(models_match(m, "lora", "color", out, 25), 1);
    assert_string_equal(out[0], "Water color.safetensors");

    /* A later answer replaces the list whole. */
    const char *again = "{\"UNETLoader\":{\"input\":{\"required\":{\"unet_name\":[[\"only."
                        "safetensors\"]]}}}}";
    assert_int_equal(models_update(m, again, strlen(again), 11, err, sizeof err), 1);
    assert_int_equal(models_count(m, "unet", NULL), 1);
    assert_int_equal(models_has(m, "unet", "flux1-dev.safetensors"), 0);
    models_free(m);
}

static void bad_answers_change_nothing(void **state)
{
    (void)state;
    models_cache *m = models_new();
    assert_int_equal(models_update(m, older, strlen(older), 1, err, sizeof err), 2);
    const char *bad[] = {
        "",
        "[]",
        "{\"UNETLoader\":",
        "null",
        "{\"UNETLoader\":{\"input\":1}}",
        "{\"UNETLoader\":{\"input\":{\"required\":{\"unet_name\":[\"STRING\"]}}}}"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int rc = models_update(m, bad[i], strlen(bad[i]), 2, err, sizeof err);
        assert_true(rc <= 0);
        if (rc < 0) assert_true(err[0] != '\0');
        assert_int_equal(models_count(m, "unet", NULL), 3);
    }
    /* larger than the bound: refused unread */
    assert_int_equal(models_update(m, older, MODELS_ANSWER_MAX + 1, 3, err, sizeof err), -1);
    models_free(m);
}

static void names_are_bounded(void **state)
{
    (void)state;
    /* 5000 names, one too long for a Discord choice, one not a string, one empty. */
    size_t cap = 5000 * 40 + 600;
    char *j = malloc(cap);
    assert_non_null(j);
    size_t n = (size_t)snprintf(j, cap, "{\"VAELoader\":{\"input\":{\"required\":{\"vae_name\":[[");
    char longname[MODELS_NAME_MAX + 10];
    memset(longname, 'v', sizeof longname - 1);
    longname[sizeof longname - 1] = '\0';
    n += (size_t)snprintf(j + n, cap - n, "\"%s\",7,\"\"", longname);
    for (int i = 0; i < 5000; i++)
        n += (size_t)snprintf(j + n, cap - n, ",\"vae_%04d.safetensors\"", i);
    n += (size_t)snprintf(j + n, cap - n, "]]}}}}");
    models_cache *m = models_new();
    assert_int_equal(models_update(m, j, n, 1, err, sizeof err), 1);
    assert_int_equal(models_count(m, "vae", NULL), MODELS_MAX_NAMES);
    assert_int_equal(models_has(m, "vae", longname), 0);
    assert_int_equal(models_has(m, "vae", "vae_0000.safetensors"), 1);
    models_free(m);
    free(j);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(both_shapes_fill_their_kinds),
        cmocka_unit_test(bad_answers_change_nothing),
        cmocka_unit_test(names_are_bounded),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
