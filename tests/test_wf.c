/* Workflow templates and mappings: the shipped files load, broken ones name file and node,
 * patching puts hostile prompt text and exact 53-bit seeds in place, LoRAs are chained. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "comfy/wf.h"

static char err[1024];

/* A shipped mapping (and its workflow) of the repository's workflows folder. */
static wf_workflow *shipped(wf_kind kind, const char *base)
{
    char path[512];
    snprintf(path, sizeof path, "%s/workflows/%s.map.json", FLUXBOT_SOURCE_DIR, base);
    wf_workflow *wf = wf_load(kind, path, err, sizeof err);
    if (!wf) fprintf(stderr, "%s\n", err);
    assert_non_null(wf);
    return wf;
}

static void test_shipped_workflows_load(void **state)
{
    (void)state;
    wf_workflow *img = shipped(WF_IMAGE, "flux_txt2img");
    wf_workflow *redux = shipped(WF_REDUX, "redux");
    wf_workflow *video = shipped(WF_VIDEO, "video");
    wf_free(shipped(WF_PULID, "pulid"));
    wf_free(shipped(WF_PULID, "reduxprompt")); /* a prompt and one image */
    wf_free(shipped(WF_UPSCALE, "upscale"));
    assert_true(wf_has_param(img, WF_P_PROMPT));
    assert_int_equal(img->ntargets[WF_P_WIDTH], 2); /* latent + ModelSamplingFlux */
    assert_int_equal(img->lora_mode, WF_LORA_INSERT);
    assert_string_equal(img->lora_model_node, "12");
    assert_int_equal(img->noutputs, 1);
    assert_string_equal(img->outputs[0], "9");
    assert_true(wf_has_param(redux, WF_P_IMAGE2));
    assert_false(wf_has_param(video, WF_P_WIDTH));
    wf_free(img);
    wf_free(redux);
    wf_free(video);
}

static const char *tpl =
    "{\"1\":{\"class_type\":\"UNETLoader\",\"inputs\":{\"unet_name\":\"f.safetensors\"}},"
    " \"2\":{\"class_type\":\"CLIPTextEncode\",\"inputs\":{\"text\":\"x\",\"clip\":[\"5\",0]},"
    "        \"_meta\":{\"title\":\"Positive\"}},"
    " \"3\":{\"class_type\":\"RandomNoise\",\"inputs\":{\"noise_seed\":1}},"
    " \"4\":{\"class_type\":\"ModelSamplingFlux\",\"inputs\":{\"model\":[\"1\",0],\"width\":8}},"
    " \"6\":{\"class_type\":\"BasicScheduler\",\"inputs\":{\"model\":[\"1\",0],\"steps\":4}},"
    " \"5\":{\"class_type\":\"DualCLIPLoader\",\"inputs\":{\"type\":\"flux\"}},"
    " \"9\":{\"class_type\":\"SaveImage\",\"inputs\":{\"images\":[\"4\",0],\"filename_prefix\":"
    "\"a\"}}}";

static wf_workflow *load_map(const char *map)
{
    return wf_load_text(WF_IMAGE, "test.map.json", map, "test.json", tpl, err, sizeof err);
}

static void test_broken_mapping_names_file_and_node(void **state)
{
    (void)state;
    assert_null(load_map("{\"inputs\":{\"prompt\":{\"node\":\"77\",\"input\":\"text\"}}}"));
    assert_non_null(strstr(err, "test.map.json"));
    assert_non_null(strstr(err, "node 77"));

    assert_null(load_map("{\"inputs\":{\"prompt\":{\"node\":\"2\",\"input\":\"txt\"}}}"));
    assert_non_null(strstr(err, "node 2 (CLIPTextEncode)"));
    assert_non_null(strstr(err, "\"txt\""));

    /* an input holding a link cannot take a value */
    assert_null(load_map("{\"inputs\":{\"prompt\":{\"node\":\"2\",\"input\":\"clip\"}}}"));
    assert_non_null(strstr(err, "wired to node 5"));

    assert_null(load_map("{\"inputs\":{\"promt\":{\"node\":\"2\",\"input\":\"text\"}}}"));
    assert_non_null(strstr(err, "unknown parameter \"promt\""));

    assert_null(load_map("{\"inputs\":{\"seed\":{\"class_type\":\"RandomNoise\",\"input\":"
                         "\"noise_seed\"}}}"));
    assert_non_null(strstr(err, "needs a mapping for \"prompt\""));

    assert_null(load_map("{\"inputs\":{\"prompt\":{\"class_type\":\"KSampler\",\"input\":"
                         "\"text\"}}}"));
    assert_non_null(strstr(err, "no node with class_type KSampler"));

    /* type mismatch: a string parameter into a number */
    assert_null(load_map("{\"inputs\":{\"prompt\":{\"node\":\"3\",\"input\":\"noise_seed\"}}}"));
    assert_non_null(strstr(err, "expected a string"));

    /* broken template: dangling link */
    const char *bad = "{\"1\":{\"class_type\":\"VAEDecode\",\"inputs\":{\"vae\":[\"42\",0]}}}";
    assert_null(
        wf_load_text(WF_IMAGE, "m.map.json", "{\"inputs\":{}}", "bad.json", bad, err, sizeof err));
    assert_non_null(strstr(err, "bad.json"));
    assert_non_null(strstr(err, "node 1 (VAEDecode)"));
    assert_non_null(strstr(err, "missing node 42"));

    /* UI-format export (no class_type) */
    assert_null(wf_load_text(WF_IMAGE, "m.map.json", "{\"inputs\":{}}", "ui.json",
                             "{\"nodes\":[1,2],\"links\":[]}", err, sizeof err));
    assert_non_null(strstr(err, "Save (API)"));
}

/* Mapping files as operators write them: numeric ids, typos, several outputs, old exports. */
static void test_mapping_keys_ids_and_outputs(void **state)
{
    (void)state;
    /* a numeric node id is the same node */
    wf_workflow *wf = load_map("{\"inputs\":{\"prompt\":{\"node\":2,\"input\":\"text\"}},"
                               "\"output\":{\"node\":9}}");
    assert_non_null(wf);
    assert_string_equal(wf->targets[WF_P_PROMPT][0].node, "2");
    assert_string_equal(wf->outputs[0], "9");
    wf_free(wf);
    assert_null(load_map("{\"inputs\":{\"prompt\":{\"node\":2.5,\"input\":\"text\"}}}"));
    assert_non_null(strstr(err, "test.map.json: prompt: \"node\" must be a node id"));

    /* a misspelt key inside a target is named, with the parameter */
    assert_null(load_map("{\"inputs\":{\"prompt\":{\"nod\":\"2\",\"input\":\"text\"}}}"));
    assert_non_null(strstr(err, "test.map.json: prompt: unknown key \"nod\""));
    assert_null(load_map("{\"inputs\":{\"prompt\":{\"node\":\"2\",\"input\":\"text\"},"
                         "\"seed\":[{\"node\":\"3\",\"input\":\"noise_seed\"},"
                         "{\"clas_type\":\"RandomNoise\",\"input\":\"noise_seed\"}]}}"));
    assert_non_null(strstr(err, "seed (target 2): unknown key \"clas_type\""));
    /* an unknown top-level key ("ouput") is refused, not ignored; "_" keys are comments */
    assert_null(load_map("{\"inputs\":{\"prompt\":{\"node\":\"2\",\"input\":\"text\"}},"
                         "\"ouput\":{\"node\":\"9\"}}"));
    assert_non_null(strstr(err, "test.map.json: unknown key \"ouput\""));
    wf = load_map("{\"_note\":\"mine\",\"inputs\":{\"prompt\":{\"node\":\"2\",\"input\":"
                  "\"text\"}}}");
    assert_non_null(wf);
    wf_free(wf);
    assert_null(load_map("{\"inputs\":{\"prompt\":{\"node\":\"2\",\"input\":\"text\"}},"
                         "\"output\":{\"class\":\"SaveImage\"}}"));
    assert_non_null(strstr(err, "output: unknown key \"class\""));
    assert_null(load_map("{\"inputs\":{\"prompt\":{\"node\":\"2\",\"input\":\"text\"}},"
                         "\"loras\":{\"insert_afer\":{\"node\":\"1\"}}}"));
    assert_non_null(strstr(err, "loras: unknown key \"insert_afer\""));

    /* several outputs, in order, without duplicates */
    wf = load_map("{\"inputs\":{\"prompt\":{\"node\":\"2\",\"input\":\"text\"}},"
                  "\"output\":[{\"node\":\"9\"},{\"class_type\":\"RandomNoise\"},{\"node\":9}]}");
    assert_non_null(wf);
    assert_int_equal(wf->noutputs, 2);
    assert_string_equal(wf->outputs[0], "9");
    assert_string_equal(wf->outputs[1], "3");
    wf_free(wf);
    assert_null(load_map("{\"inputs\":{\"prompt\":{\"node\":\"2\",\"input\":\"text\"}},"
                         "\"output\":[]}"));
    assert_non_null(strstr(err, "\"output\" must be a target object or a non-empty array"));

    /* SaveImageWebsocket (its PNGs come over the websocket) is an output, named or found */
    const char *ws_tpl = "{\"2\":{\"class_type\":\"CLIPTextEncode\",\"inputs\":{\"text\":\"x\"}},"
                         "\"7\":{\"class_type\":\"SaveImageWebsocket\",\"inputs\":{\"images\":"
                         "[\"2\",0]}}}";
    wf = wf_load_text(WF_IMAGE, "ws.map.json",
                      "{\"inputs\":{\"prompt\":{\"node\":\"2\",\"input\":\"text\"}}}", "ws.json",
                      ws_tpl, err, sizeof err);
    assert_non_null(wf);
    assert_int_equal(wf->noutputs, 1);
    assert_string_equal(wf->outputs[0], "7");
    wf_free(wf);

    /* an older export has no "_meta": a title selector says so instead of "no node" */
    const char *old_tpl = "{\"2\":{\"class_type\":\"CLIPTextEncode\",\"inputs\":{\"text\":\"x\"}},"
                          "\"9\":{\"class_type\":\"SaveImage\",\"inputs\":{\"images\":[\"2\",0],"
                          "\"filename_prefix\":\"a\"}}}";
    assert_null(
        wf_load_text(WF_IMAGE, "old.map.json",
                     "{\"inputs\":{\"prompt\":{\"title\":\"Positive\",\"input\":\"text\"}}}",
                     "old.json", old_tpl, err, sizeof err));
    assert_non_null(strstr(err, "old.map.json: prompt: the workflow has no node titles"));
    assert_non_null(strstr(err, "select by \"node\" or \"class_type\""));
    /* ...and the same mapping by class_type loads */
    wf = wf_load_text(WF_IMAGE, "old.map.json",
                      "{\"inputs\":{\"prompt\":{\"class_type\":\"CLIPTextEncode\",\"input\":"
                      "\"text\"}}}",
                      "old.json", old_tpl, err, sizeof err);
    assert_non_null(wf);
    wf_free(wf);
}

static void test_mapping_may_omit_inputs(void **state)
{
    (void)state;
    wf_workflow *wf =
        load_map("{\"inputs\":{\"prompt\":{\"title\":\"Positive\",\"input\":\"text\"}}}");
    assert_non_null(wf);
    assert_false(wf_has_param(wf, WF_P_SEED));
    assert_false(wf_has_param(wf, WF_P_UPSCALE));
    wf_values v = {0};
    v.prompt = "hello";
    v.has_seed = true; /* no seed target: nothing patched, no error */
    v.seed = 5;
    cJSON *g = wf_patch(wf, &v, err, sizeof err);
    assert_non_null(g);
    cJSON_Delete(g);
    wf_free(wf);
}

static const char *hostile =
    "a \"quoted\" {brace} [bracket] \\backslash\\ \n newline \t tab "
    "\xe2\x9c\xa8 \xf0\x9f\x90\x88 \xe4\xb8\xad\xe6\x96\x87 \xd8\xb9\xd8\xb1\xd8\xa8\xd9\x8a "
    "</script> %s %n \x01 control";

static void test_hostile_prompt_arrives_intact(void **state)
{
    (void)state;
    wf_workflow *wf =
        load_map("{\"inputs\":{\"prompt\":{\"node\":\"2\",\"input\":\"text\"},"
                 "\"seed\":{\"class_type\":\"RandomNoise\",\"input\":\"noise_seed\"}}}");
    assert_non_null(wf);
    wf_values v = {0};
    v.prompt = hostile;
    v.has_seed = true;
    v.seed = (1ULL << 53) - 1;
    cJSON *g = wf_patch(wf, &v, err, sizeof err);
    assert_non_null(g);
    char *text = cJSON_PrintUnformatted(g);
    cJSON_Delete(g);
    /* what ComfyUI would parse */
    cJSON *back = cJSON_Parse(text);
    assert_non_null(back);
    const cJSON *t =
        cJSON_GetObjectItem(cJSON_GetObjectItem(cJSON_GetObjectItem(back, "2"), "inputs"), "text");
    assert_string_equal(t->valuestring, hostile);
    /* the seed is written exactly, as an integer literal */
    assert_non_null(strstr(text, "\"noise_seed\":9007199254740991"));
    /* the template itself is untouched */
    const cJSON *orig = cJSON_GetObjectItem(
        cJSON_GetObjectItem(cJSON_GetObjectItem(wf->graph, "2"), "inputs"), "text");
    assert_string_equal(orig->valuestring, "x");
    free(text);
    cJSON_Delete(back);
    v.seed = 1ULL << 53;
    assert_null(wf_patch(wf, &v, err, sizeof err));
    wf_free(wf);
}

static void test_lora_chain_inserted_and_rewired(void **state)
{
    (void)state;
    wf_workflow *wf =
        load_map("{\"inputs\":{\"prompt\":{\"node\":\"2\",\"input\":\"text\"}},"
                 "\"loras\":{\"insert_after\":{\"class_type\":\"UNETLoader\"},\"max\":2}}");
    assert_non_null(wf);
    wf_values v = {0};
    v.prompt = "p";
    v.nloras = 2;
    v.lora_file[0] = "a.safetensors";
    v.lora_strength[0] = 0.5;
    v.lora_file[1] = "b.safetensors";
    v.lora_strength[1] = 0.25;
    cJSON *g = wf_patch(wf, &v, err, sizeof err);
    assert_non_null(g);
    /* new ids above the max numeric id (9) */
    const cJSON *l1 = cJSON_GetObjectItem(g, "10"), *l2 = cJSON_GetObjectItem(g, "11");
    assert_non_null(l1);
    assert_non_null(l2);
    assert_string_equal(cJSON_GetObjectItem(l1, "class_type")->valuestring, "LoraLoaderModelOnly");
    const cJSON *in1 = cJSON_GetObjectItem(l1, "inputs"), *in2 = cJSON_GetObjectItem(l2, "inputs");
    assert_string_equal(cJSON_GetArrayItem(cJSON_GetObjectItem(in1, "model"), 0)->valuestring, "1");
    assert_string_equal(cJSON_GetArrayItem(cJSON_GetObjectItem(in2, "model"), 0)->valuestring,
                        "10");
    assert_string_equal(cJSON_GetObjectItem(in2, "lora_name")->valuestring, "b.safetensors");
    /* both consumers of the UNET now take the last LoRA */
    for (const char *id = "4"; id; id = strcmp(id, "4") == 0 ? "6" : NULL) {
        const cJSON *m =
            cJSON_GetObjectItem(cJSON_GetObjectItem(cJSON_GetObjectItem(g, id), "inputs"), "model");
        assert_string_equal(cJSON_GetArrayItem(m, 0)->valuestring, "11");
    }
    cJSON_Delete(g);
    v.nloras = 3;
    v.lora_file[2] = "c.safetensors";
    assert_null(wf_patch(wf, &v, err, sizeof err));
    assert_non_null(strstr(err, "at most 2 LoRAs"));
    wf_free(wf);

    /* a workflow without LoRA mapping refuses LoRAs clearly */
    wf = load_map("{\"inputs\":{\"prompt\":{\"node\":\"2\",\"input\":\"text\"}}}");
    v.nloras = 1;
    assert_null(wf_patch(wf, &v, err, sizeof err));
    assert_non_null(strstr(err, "does not take LoRAs"));
    wf_free(wf);
}

static void test_power_lora_and_scale(void **state)
{
    (void)state;
    const char *t2 =
        "{\"1\":{\"class_type\":\"Power Lora Loader (rgthree)\",\"inputs\":{"
        "  \"lora_1\":{\"on\":true,\"lora\":\"old.safetensors\",\"strength\":1},"
        "  \"lora_2\":{\"on\":true,\"lora\":\"old2.safetensors\",\"strength\":1}}},"
        " \"2\":{\"class_type\":\"CLIPTextEncode\",\"inputs\":{\"text\":\"\"}},"
        " \"3\":{\"class_type\":\"ImageScaleBy\",\"inputs\":{\"scale_by\":1.0}},"
        " \"4\":{\"class_type\":\"EmptyLatentImage\",\"inputs\":{\"width\":512}},"
        " \"9\":{\"class_type\":\"SaveImage\",\"inputs\":{\"filename_prefix\":\"a\"}}}";
    wf_workflow *wf =
        wf_load_text(WF_IMAGE, "p.map.json",
                     "{\"inputs\":{\"prompt\":{\"node\":\"2\",\"input\":\"text\"},"
                     "\"upscale_factor\":{\"node\":\"3\",\"input\":\"scale_by\",\"scale\":0.25},"
                     "\"width\":{\"node\":\"4\",\"input\":\"width\",\"scale\":0.5}},"
                     "\"loras\":{\"power_lora\":{\"node\":\"1\"}}}",
                     "p.json", t2, err, sizeof err);
    assert_non_null(wf);
    wf_values v = {0};
    v.prompt = "p";
    v.upscale_factor = 2;
    v.width = 1025;
    v.nloras = 1;
    v.lora_file[0] = "new.safetensors";
    v.lora_strength[0] = 0.7;
    cJSON *g = wf_patch(wf, &v, err, sizeof err);
    assert_non_null(g);
    const cJSON *in = cJSON_GetObjectItem(cJSON_GetObjectItem(g, "1"), "inputs");
    const cJSON *s1 = cJSON_GetObjectItem(in, "lora_1"), *s2 = cJSON_GetObjectItem(in, "lora_2");
    assert_true(cJSON_IsTrue(cJSON_GetObjectItem(s1, "on")));
    assert_string_equal(cJSON_GetObjectItem(s1, "lora")->valuestring, "new.safetensors");
    assert_true(cJSON_IsFalse(cJSON_GetObjectItem(s2, "on")));
    char *text = cJSON_PrintUnformatted(g);
    assert_non_null(strstr(text, "\"scale_by\":0.5"));
    assert_non_null(strstr(text, "\"width\":513")); /* 1025 * 0.5 rounded */
    free(text);
    cJSON_Delete(g);
    wf_free(wf);
}

static void test_missing_image_refused(void **state)
{
    (void)state;
    wf_workflow *redux = shipped(WF_REDUX, "redux");
    wf_values v = {0};
    v.image[0] = "a.png";
    assert_null(wf_patch(redux, &v, err, sizeof err));
    assert_non_null(strstr(err, "input image 2"));
    v.image[1] = "b.png";
    v.has_strength[0] = true;
    v.strength[0] = 0.3;
    cJSON *g = wf_patch(redux, &v, err, sizeof err);
    assert_non_null(g);
    assert_string_equal(
        cJSON_GetObjectItem(cJSON_GetObjectItem(cJSON_GetObjectItem(g, "46"), "inputs"), "image")
            ->valuestring,
        "b.png");
    assert_true(
        cJSON_GetObjectItem(cJSON_GetObjectItem(cJSON_GetObjectItem(g, "41"), "inputs"), "strength")
            ->valuedouble == 0.3);
    cJSON_Delete(g);
    wf_free(redux);
}

static void test_operator_export_loads(void **state)
{
    (void)state;
    char dir[] = "/tmp/fb_wf_XXXXXX";
    assert_non_null(mkdtemp(dir));
    char path[256], map[256];
    /* an operator's own export + mapping, under any name */
    snprintf(path, sizeof path, "%s/my_export.json", dir);
    FILE *f = fopen(path, "w");
    fputs(tpl, f);
    fclose(f);
    snprintf(map, sizeof map, "%s/mine.map.json", dir);
    f = fopen(map, "w");
    fputs("{\"workflow\":\"my_export.json\",\"inputs\":{\"prompt\":{\"node\":\"2\",\"input\":"
          "\"text\"}}}",
          f);
    fclose(f);
    wf_workflow *wf = wf_load(WF_IMAGE, map, err, sizeof err);
    assert_non_null(wf);
    assert_true(wf_has_param(wf, WF_P_PROMPT));
    wf_free(wf);
    /* a broken one names the file and the node */
    f = fopen(map, "w");
    fputs("{\"workflow\":\"my_export.json\",\"inputs\":{\"prompt\":{\"node\":\"99\",\"input\":"
          "\"text\"}}}",
          f);
    fclose(f);
    assert_null(wf_load(WF_IMAGE, map, err, sizeof err));
    assert_non_null(strstr(err, "mine.map.json"));
    assert_non_null(strstr(err, "node 99"));
    /* a missing workflow file is named too */
    unlink(path);
    assert_null(wf_load(WF_IMAGE, map, err, sizeof err));
    assert_non_null(strstr(err, "my_export.json"));
    unlink(map);
    rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_shipped_workflows_load),
        cmocka_unit_test(test_broken_mapping_names_file_and_node),
        cmocka_unit_test(test_mapping_keys_ids_and_outputs),
        cmocka_unit_test(test_mapping_may_omit_inputs),
        cmocka_unit_test(test_hostile_prompt_arrives_intact),
        cmocka_unit_test(test_lora_chain_inserted_and_rewired),
        cmocka_unit_test(test_power_lora_and_scale),
        cmocka_unit_test(test_missing_image_refused),
        cmocka_unit_test(test_operator_export_loads),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
