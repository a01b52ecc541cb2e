/* Command declarations: the shipped ones load and describe exactly the built-in commands (same
 * registration JSON), a declaration with every option type loads with its patch targets
 * resolved, and each class of broken declaration is refused with the file, the key and (for a
 * patch) the node named. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "comfy/decl.h"
#include "discord/cmd.h"

#define WFDIR FLUXBOT_SOURCE_DIR "/workflows"

static char err[2048];

static const char *const labels[] = {"1:1 (1024x1024)", "16:9 (1344x768)", "9:16 (768x1344)"};

static void test_shipped_declarations_load(void **state)
{
    (void)state;
    decl_set set;
    int rc = decl_set_load(&set, WFDIR, err, sizeof err);
    if (rc) fprintf(stderr, "%s\n", err);
    assert_int_equal(rc, 0);
    assert_int_equal(set.count, 6);
    static const char *const names[] = {"comfy",       "pulid",   "redux",
                                        "reduxprompt", "upscale", "video"};
    for (unsigned i = 0; i < 6; i++)
        assert_string_equal(set.cmds[i]->name, names[i]); /* sorted by file name */
    assert_int_equal(decl_set_find(&set, "video")->output, DECL_OUT_VIDEO);
    assert_int_equal(decl_set_find(&set, "comfy")->output, DECL_OUT_IMAGE);
    assert_true(decl_set_find(&set, "upscale")->button);
    assert_false(decl_set_find(&set, "comfy")->button);

    const decl_command *c = decl_set_find(&set, "comfy");
    assert_int_equal(c->noptions, 15);
    assert_int_equal(c->options[7].param, DECL_P_LORA_STRENGTH);
    /* prompt enhancement: last, levels 1..10, left out of the registration when it is off */
    assert_int_equal(c->options[14].param, DECL_P_ENHANCE);
    assert_true(c->options[14].min == 1 && c->options[14].max == 10);
    assert_int_equal(c->cmd.noptions, 15);
    assert_int_equal(c->cmd_plain.noptions, 14);
    for (unsigned i = 0; i < c->cmd_plain.noptions; i++)
        assert_string_not_equal(c->cmd_plain.options[i].name, "enhance");
    const cmd_def *defs[DECL_MAX_COMMANDS];
    unsigned nd = decl_set_defs(&set, defs, DECL_MAX_COMMANDS);
    assert_true(nd >= 1 && defs[0] == &c->cmd);
    set.without_enhance = true;
    nd = decl_set_defs(&set, defs, DECL_MAX_COMMANDS);
    assert_true(nd >= 1 && defs[0] == &c->cmd_plain);
    set.without_enhance = false;
    assert_int_equal(c->options[0].param, DECL_P_MAPPED);
    assert_int_equal(c->options[0].wf_param, WF_P_PROMPT);
    assert_int_equal(c->options[1].param, DECL_P_RESOLUTION);
    assert_int_equal(c->options[4].param, DECL_P_LORA);
    assert_int_equal(c->options[4].source, DECL_SRC_LORAS);
    assert_true(c->options[2].has_default);
    assert_int_equal((int)c->options[2].def_num, 1);
    const decl_command *pu = decl_set_find(&set, "pulid");
    assert_int_equal(pu->options[1].wf_param, WF_P_IMAGE1);
    assert_int_equal(pu->options[3].wf_param, WF_P_STRENGTH1);
    /* The common options: steps, cfg and the model on every Flux command; the video's length,
     * frame rate and negative prompt reach its latent, CreateVideo and negative encoder. */
    for (unsigned i = 0; i < set.count; i++) {
        if (set.cmds[i]->button) continue;
        const decl_option *st = decl_find_option(set.cmds[i], "steps");
        const decl_option *m = decl_find_option(set.cmds[i], "model");
        assert_non_null(st);
        assert_non_null(decl_find_option(set.cmds[i], "cfg"));
        assert_non_null(m);
        assert_int_equal(m->source, DECL_SRC_OBJECT_INFO);
        assert_string_equal(m->source_arg, "unet");
    }
    const decl_command *v = decl_set_find(&set, "video");
    assert_string_equal(v->options[decl_find_option(v, "length") - v->options].targets[0].input,
                        "length");
    assert_string_equal(decl_find_option(v, "fps")->targets[0].node, "49");
    assert_string_equal(decl_find_option(v, "negative_prompt")->targets[0].node, "7");
    decl_set_free(&set);
}

/* The options of /comfy, /redux, /pulid and /video as the bot's built-in table had them before
 * they became declarations: users keep every option they had, as it was. */
static const cmd_int_choice upscale_choices[] = {
    {"1x (no upscale)", 1},
    {"2x", 2},
    {"3x", 3},
    {"4x", 4},
};

#define OLD_PROMPT(desc)                                                                           \
    {                                                                                              \
        .type = CMD_OPT_STRING, .name = "prompt", .description = desc, .required = true,           \
        .min_length = 1, .max_length = CMD_PROMPT_MAX                                              \
    }
#define OLD_RESOLUTION                                                                             \
    {                                                                                              \
        .type = CMD_OPT_STRING, .name = "resolution",                                              \
        .description = "Image size and aspect ratio", .required = true, .resolution = true         \
    }
#define OLD_UPSCALE                                                                                \
    {                                                                                              \
        .type = CMD_OPT_INTEGER, .name = "upscale_factor",                                         \
        .description = "Upscale the result (default 1x)", .choices = upscale_choices,              \
        .nchoices = 4                                                                              \
    }
#define OLD_STRENGTH(nm, desc)                                                                     \
    {                                                                                              \
        .type = CMD_OPT_NUMBER, .name = nm, .description = desc, .has_min = true, .min = 0.1,      \
        .has_max = true, .max = 1.0                                                                \
    }
#define OLD_LORA(nm, desc)                                                                         \
    {                                                                                              \
        .type = CMD_OPT_STRING, .name = nm, .description = desc, .autocomplete = true,             \
        .max_length = 100                                                                          \
    }

static const cmd_option_def comfy_opts[] = {
    OLD_PROMPT("What to draw"),
    OLD_RESOLUTION,
    OLD_UPSCALE,
    {.type = CMD_OPT_INTEGER,
     .name = "seed",
     .description = "Seed for a reproducible image",
     .has_min = true,
     .min = 0,
     .has_max = true,
     .max = 9007199254740991.0},
    OLD_LORA("lora", "A LoRA style to apply"),
    OLD_LORA("lora2", "A second LoRA"),
    OLD_LORA("lora3", "A third LoRA"),
};

static const cmd_option_def redux_opts[] = {
    {.type = CMD_OPT_ATTACHMENT,
     .name = "image1",
     .description = "First reference image",
     .required = true},
    {.type = CMD_OPT_ATTACHMENT,
     .name = "image2",
     .description = "Second reference image",
     .required = true},
    OLD_RESOLUTION,
    OLD_STRENGTH("strength1", "Influence of the first image, 0.1-1.0 (default 1.0)"),
    OLD_STRENGTH("strength2", "Influence of the second image, 0.1-1.0 (default 0.5)"),
};

static const cmd_option_def pulid_opts[] = {
    OLD_PROMPT("What to draw"),
    {.type = CMD_OPT_ATTACHMENT,
     .name = "image",
     .description = "Reference photo of a face",
     .required = true},
    OLD_RESOLUTION,
    OLD_STRENGTH("strength", "Likeness strength, 0.1-1.0 (default 0.5)"),
    OLD_UPSCALE,
};

static const cmd_option_def video_opts[] = {
    OLD_PROMPT("What should happen in the video"),
};

#undef OLD_PROMPT
#undef OLD_RESOLUTION
#undef OLD_UPSCALE
#undef OLD_STRENGTH
#undef OLD_LORA

static const cmd_def old_table[] = {
    {"comfy", "Generate an image from a text prompt with Flux", comfy_opts, 7},
    {"redux", "Blend two reference images into a new image", redux_opts, 5},
    {"pulid", "Generate an image of the person in a reference photo", pulid_opts, 5},
    {"video", "Generate a short video from a text prompt", video_opts, 1},
};

/* The shipped declarations of the former built-ins register what the built-in table did, byte
 * for byte (the same name, description, and first options; options added since come after),
 * with resolution choices and with resolution autocomplete. */
static void test_shipped_match_builtin_table(void **state)
{
    (void)state;
    decl_set set;
    assert_int_equal(decl_set_load(&set, WFDIR, err, sizeof err), 0);
    for (unsigned i = 0; i < 4; i++) {
        const decl_command *d = decl_set_find(&set, old_table[i].name);
        assert_non_null(d);
        assert_true(d->noptions >= old_table[i].noptions);
        for (unsigned nl = 0; nl <= 3; nl += 3) {
            char *want = cmd_def_json(&old_table[i], labels, nl);
            char *full = cmd_def_json(&d->cmd, labels, nl);
            cJSON *o = cJSON_Parse(full);
            cJSON *opts = cJSON_GetObjectItem(o, "options");
            while (cJSON_GetArraySize(opts) > (int)old_table[i].noptions)
                cJSON_DeleteItemFromArray(opts, cJSON_GetArraySize(opts) - 1);
            char *got = cJSON_PrintUnformatted(o);
            cJSON_Delete(o);
            if (strcmp(want, got) != 0) fprintf(stderr, "want %s\ngot  %s\n", want, got);
            assert_string_equal(got, want);
            free(want);
            free(full);
            free(got);
        }
    }
    /* Every registered declaration passes Discord's documented limits. */
    cJSON *arr = cJSON_CreateArray();
    for (unsigned i = 0; i < set.count; i++) {
        if (set.cmds[i]->button) continue;
        char *one = cmd_def_json(&set.cmds[i]->cmd, labels, 3);
        cJSON_AddItemToArray(arr, cJSON_Parse(one));
        free(one);
    }
    char *all = cJSON_PrintUnformatted(arr);
    cJSON_Delete(arr);
    int rc = cmd_validate_json(all, strlen(all), err, sizeof err);
    if (rc) fprintf(stderr, "%s\n", err);
    assert_int_equal(rc, 0);
    assert_non_null(strstr(all, "\"name\":\"reduxprompt\""));
    assert_null(strstr(all, "\"name\":\"upscale\"")); /* a button, not a slash command */
    free(all);
    decl_set_free(&set);
}

/* ---- a private folder with a small workflow -------------------------------------------------- */

static char tmpdir[64];

static void write_file(const char *name, const char *text)
{
    char path[256];
    snprintf(path, sizeof path, "%s/%s", tmpdir, name);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static const char *tpl =
    "{\"1\":{\"class_type\":\"UNETLoader\",\"inputs\":{\"unet_name\":\"f.safetensors\"}},"
    "\"2\":{\"class_type\":\"CLIPTextEncode\",\"_meta\":{\"title\":\"Positive\"},"
    "\"inputs\":{\"text\":\"\",\"clip\":[\"1\",0]}},"
    "\"3\":{\"class_type\":\"CLIPTextEncode\",\"_meta\":{\"title\":\"Negative\"},"
    "\"inputs\":{\"text\":\"\",\"clip\":[\"1\",0]}},"
    "\"4\":{\"class_type\":\"KSampler\",\"inputs\":{\"seed\":0,\"steps\":20,\"cfg\":3.5,"
    "\"sampler_name\":\"euler\",\"denoise\":1.0,\"model\":[\"1\",0],\"positive\":[\"2\",0]}},"
    "\"5\":{\"class_type\":\"TeaCache\",\"inputs\":{\"enabled\":true,\"model\":[\"4\",0]}},"
    "\"6\":{\"class_type\":\"LoadImage\",\"inputs\":{\"image\":\"example.png\"}},"
    "\"9\":{\"class_type\":\"SaveImage\",\"inputs\":{\"filename_prefix\":\"x\","
    "\"images\":[\"4\",0]}}}";

static const char *map =
    "{\"workflow\":\"w.json\",\"inputs\":{\"prompt\":{\"title\":\"Positive\",\"input\":\"text\"},"
    "\"seed\":{\"class_type\":\"KSampler\",\"input\":\"seed\"},"
    "\"image1\":{\"class_type\":\"LoadImage\",\"input\":\"image\"}},"
    "\"loras\":{\"insert_after\":{\"class_type\":\"UNETLoader\"},\"output\":0,\"max\":2},"
    "\"output\":{\"class_type\":\"SaveImage\"}}";

static int setup(void **state)
{
    (void)state;
    snprintf(tmpdir, sizeof tmpdir, "/tmp/fluxbot-decl-XXXXXX");
    if (!mkdtemp(tmpdir)) return -1;
    write_file("w.json", tpl);
    write_file("w.map.json", map);
    write_file("samplers.txt", "euler\ndpmpp_2m\r\n\nddim\n");
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    static const char *const files[] = {"w.json",     "w.map.json", "samplers.txt",
                                        "a.cmd.json", "b.cmd.json", "empty.txt"};
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        char path[256];
        snprintf(path, sizeof path, "%s/%s", tmpdir, files[i]);
        unlink(path);
    }
    rmdir(tmpdir);
    return 0;
}

/* A declaration with "%s" in place of its options list. */
static char *with_options(const char *options)
{
    static const char *head = "{\"name\":\"mine\",\"description\":\"My workflow\","
                              "\"workflow\":\"w.json\",\"mapping\":\"w.map.json\","
                              "\"output\":\"image\",\"options\":[%s]}";
    size_t n = strlen(head) + strlen(options) + 1;
    char *s = malloc(n);
    snprintf(s, n, head, options);
    return s;
}

#define OPT_PROMPT                                                                                 \
    "{\"name\":\"prompt\",\"type\":\"string\",\"description\":\"What\",\"required\":true,"         \
    "\"param\":\"prompt\"}"
#define OPT_IMAGE                                                                                  \
    "{\"name\":\"image\",\"type\":\"attachment\",\"description\":\"Ref\",\"required\":true,"       \
    "\"param\":\"image1\"}"

static void test_every_option_type(void **state)
{
    (void)state;
    char *j = with_options(
        OPT_PROMPT
        "," OPT_IMAGE ","
        "{\"name\":\"negative\",\"type\":\"string\",\"description\":\"Avoid\","
        "\"max_length\":500,\"patch\":{\"title\":\"Negative\",\"input\":\"text\"}},"
        "{\"name\":\"steps\",\"type\":\"integer\",\"description\":\"Steps\",\"min\":1,"
        "\"max\":50,\"default\":20,\"patch\":{\"class_type\":\"KSampler\","
        "\"input\":\"steps\"}},"
        "{\"name\":\"cfg\",\"type\":\"number\",\"description\":\"CFG\",\"min\":1,"
        "\"max\":10,\"patch\":[{\"node\":\"4\",\"input\":\"cfg\",\"scale\":0.5}]},"
        "{\"name\":\"fast\",\"type\":\"boolean\",\"description\":\"TeaCache\","
        "\"default\":true,\"patch\":{\"class_type\":\"TeaCache\",\"input\":\"enabled\"}},"
        "{\"name\":\"sampler\",\"type\":\"choice\",\"description\":\"Sampler\","
        "\"choices\":[{\"name\":\"Euler\",\"value\":\"euler\"},{\"name\":\"DPM++\","
        "\"value\":\"dpmpp_2m\"}],\"default\":\"euler\","
        "\"patch\":{\"class_type\":\"KSampler\",\"input\":\"sampler_name\"}},"
        "{\"name\":\"model\",\"type\":\"string\",\"description\":\"UNet\","
        "\"autocomplete\":\"object_info:unet\","
        "\"patch\":{\"class_type\":\"UNETLoader\",\"input\":\"unet_name\"}},"
        "{\"name\":\"sampler2\",\"type\":\"string\",\"description\":\"From a file\","
        "\"autocomplete\":\"file:samplers.txt\","
        "\"patch\":{\"class_type\":\"KSampler\",\"input\":\"sampler_name\"}},"
        "{\"name\":\"seed\",\"type\":\"integer\",\"description\":\"Seed\",\"min\":0,"
        "\"param\":\"seed\"},"
        "{\"name\":\"lora\",\"type\":\"string\",\"description\":\"LoRA\","
        "\"autocomplete\":\"loras\",\"param\":\"lora\"}");
    decl_command *d = decl_load_text("mine.cmd.json", j, tmpdir, err, sizeof err);
    if (!d) fprintf(stderr, "%s\n", err);
    assert_non_null(d);
    assert_int_equal(d->noptions, 11);
    assert_int_equal(d->options[2].ntargets, 1);
    assert_string_equal(d->options[2].targets[0].node, "3");
    assert_string_equal(d->options[4].targets[0].input, "cfg");
    assert_true(d->options[4].targets[0].scale == 0.5);
    assert_true(d->options[5].has_default && d->options[5].def_num == 1);
    assert_int_equal(d->options[6].nchoices, 2);
    assert_false(d->options[6].int_choices);
    assert_int_equal(d->options[7].source, DECL_SRC_OBJECT_INFO);
    assert_string_equal(d->options[7].source_arg, "unet");
    assert_int_equal(d->options[8].source, DECL_SRC_FILE);
    /* Its registration: Discord types, choices and autocomplete, valid per the limits. */
    char *one = cmd_def_json(&d->cmd, NULL, 0);
    assert_non_null(strstr(one, "\"name\":\"fast\",\"description\":\"TeaCache\""));
    assert_non_null(strstr(one, "{\"type\":5,\"name\":\"fast\""));
    assert_non_null(strstr(one, "{\"type\":11,\"name\":\"image\""));
    assert_non_null(strstr(one, "\"choices\":[{\"name\":\"Euler\",\"value\":\"euler\"}"));
    assert_non_null(strstr(one, "\"name\":\"model\",\"description\":\"UNet\",\"max_length\":100,"
                                "\"autocomplete\":true"));
    size_t n = strlen(one) + 3;
    char *arr = malloc(n);
    snprintf(arr, n, "[%s]", one);
    assert_int_equal(cmd_validate_json(arr, strlen(arr), err, sizeof err), 0);
    free(arr);
    free(one);
    decl_free(d);
    free(j);

    const char *cls = NULL, *in = NULL;
    assert_true(decl_object_info_field("checkpoint", &cls, &in));
    assert_string_equal(cls, "CheckpointLoaderSimple");
    assert_string_equal(in, "ckpt_name");
    assert_false(decl_object_info_field("weights", &cls, &in));
}

/* Each broken declaration is refused; the message names the file and the key (and the node). */
static void refused(const char *json, const char *const *want, size_t nwant)
{
    decl_command *d = decl_load_text("bad.cmd.json", json, tmpdir, err, sizeof err);
    if (d) fprintf(stderr, "accepted: %s\n", json);
    assert_null(d);
    if (strncmp(err, "bad.cmd.json", 12) != 0) fprintf(stderr, "message: %s\n", err);
    assert_true(strncmp(err, "bad.cmd.json", 12) == 0);
    for (size_t i = 0; i < nwant; i++) {
        if (!strstr(err, want[i])) fprintf(stderr, "message: %s\nmissing: %s\n", err, want[i]);
        assert_non_null(strstr(err, want[i]));
    }
}

#define REFUSED(json, ...)                                                                         \
    do {                                                                                           \
        static const char *const w_[] = {__VA_ARGS__};                                             \
        refused(json, w_, sizeof w_ / sizeof w_[0]);                                               \
    } while (0)

static void refused_opts(const char *options, const char *const *want, size_t nwant)
{
    char *j = with_options(options);
    refused(j, want, nwant);
    free(j);
}

#define REFUSED_OPTS(options, ...)                                                                 \
    do {                                                                                           \
        static const char *const w_[] = {__VA_ARGS__};                                             \
        refused_opts(options, w_, sizeof w_ / sizeof w_[0]);                                       \
    } while (0)

/* "param": "enhance": an integer level within 1..10 (bounds default to it), once per command. */
static void test_enhance_option(void **state)
{
    (void)state;
    char *j = with_options(OPT_PROMPT "," OPT_IMAGE ",{\"name\":\"enhance\",\"type\":\"integer\","
                                      "\"description\":\"Creativity\",\"param\":\"enhance\"}");
    decl_command *d = decl_load_text("mine.cmd.json", j, tmpdir, err, sizeof err);
    if (!d) fprintf(stderr, "%s\n", err);
    assert_non_null(d);
    assert_int_equal(d->options[2].param, DECL_P_ENHANCE);
    assert_true(d->options[2].has_min && d->options[2].min == 1);
    assert_true(d->options[2].has_max && d->options[2].max == 10);
    char *one = cmd_def_json(&d->cmd, NULL, 0);
    assert_non_null(strstr(one, "\"name\":\"enhance\""));
    assert_non_null(strstr(one, "\"min_value\":1,\"max_value\":10"));
    free(one);
    one = cmd_def_json(&d->cmd_plain, NULL, 0);
    assert_null(strstr(one, "enhance"));
    free(one);
    decl_free(d);
    free(j);
    /* integer choices within the levels work too */
    j = with_options(OPT_PROMPT "," OPT_IMAGE
                                ",{\"name\":\"style\",\"type\":\"choice\",\"description\":"
                                "\"How free\",\"choices\":[{\"name\":\"light\",\"value\":2},"
                                "{\"name\":\"wild\",\"value\":9}],\"param\":\"enhance\"}");
    d = decl_load_text("mine.cmd.json", j, tmpdir, err, sizeof err);
    assert_non_null(d);
    assert_int_equal(d->options[2].param, DECL_P_ENHANCE);
    decl_free(d);
    free(j);
    REFUSED_OPTS(OPT_PROMPT "," OPT_IMAGE
                            ",{\"name\":\"enhance\",\"type\":\"number\",\"description\":\"x\","
                            "\"param\":\"enhance\"}",
                 "options[2] \"enhance\"", "\"param\": \"enhance\" takes an integer option");
    REFUSED_OPTS(OPT_PROMPT "," OPT_IMAGE
                            ",{\"name\":\"enhance\",\"type\":\"integer\",\"description\":\"x\","
                            "\"min\":0,\"max\":10,\"param\":\"enhance\"}",
                 "options[2] \"enhance\"", "levels lie within 1..10");
    REFUSED_OPTS(OPT_PROMPT "," OPT_IMAGE
                            ",{\"name\":\"style\",\"type\":\"choice\",\"description\":\"x\","
                            "\"choices\":[{\"name\":\"a\",\"value\":11}],\"param\":\"enhance\"}",
                 "options[2] \"style\"", "\"choices\": \"enhance\" levels lie within 1..10");
    REFUSED_OPTS(OPT_PROMPT "," OPT_IMAGE
                            ",{\"name\":\"e1\",\"type\":\"integer\",\"description\":\"x\","
                            "\"param\":\"enhance\"},{\"name\":\"e2\",\"type\":\"integer\","
                            "\"description\":\"x\",\"param\":\"enhance\"}",
                 "options[3] \"e2\"", "is set by \"e1\" already");
}

static void test_broken_top_level(void **state)
{
    (void)state;
    REFUSED("{\"name\":", "bad.cmd.json");
    REFUSED("[1]", "not a JSON object");
    REFUSED("{\"name\":\"x\",\"descripton\":\"d\"}", "\"descripton\": unknown key");
    REFUSED("{\"description\":\"d\"}", "\"name\": missing");
    REFUSED("{\"name\":\"Mine\"}", "\"name\": \"Mine\" may hold only lowercase");
    REFUSED("{\"name\":\"queue\"}", "\"name\": \"queue\" is one of the bot's own commands");
    REFUSED("{\"name\":\"x\",\"description\":\"d\",\"workflow\":\"../w.json\","
            "\"mapping\":\"w.map.json\",\"output\":\"image\"}",
            "\"workflow\": \"../w.json\" must be a file name");
    REFUSED("{\"name\":\"x\",\"description\":\"d\",\"workflow\":\"w.json\","
            "\"mapping\":\"w.map.json\",\"output\":\"gif\"}",
            "\"output\": must be image, video or animation");
    REFUSED("{\"name\":\"x\",\"description\":\"d\",\"workflow\":\"w.json\","
            "\"mapping\":\"w.map.json\",\"output\":\"image\",\"trigger\":\"reaction\"}",
            "\"trigger\"");
    REFUSED("{\"name\":\"x\",\"description\":\"d\",\"workflow\":\"w.json\","
            "\"mapping\":\"nope.map.json\",\"output\":\"image\"}",
            "\"mapping\":", "nope.map.json");
    REFUSED("{\"name\":\"x\",\"description\":\"d\",\"workflow\":\"other.json\","
            "\"mapping\":\"w.map.json\",\"output\":\"image\"}",
            "\"workflow\": w.map.json runs \"w.json\", not \"other.json\"");
    /* The mapping's own errors come through with its file and node. */
    write_file("b.map.json", "{\"workflow\":\"w.json\",\"inputs\":{\"prompt\":{\"node\":\"77\","
                             "\"input\":\"text\"}},\"output\":{\"class_type\":\"SaveImage\"}}");
    REFUSED("{\"name\":\"x\",\"description\":\"d\",\"workflow\":\"w.json\","
            "\"mapping\":\"b.map.json\",\"output\":\"image\"}",
            "\"mapping\":", "b.map.json", "node 77");
    char path[256];
    snprintf(path, sizeof path, "%s/b.map.json", tmpdir);
    unlink(path);
    /* The mapping takes an image: a declaration without an attachment for it is refused. */
    REFUSED_OPTS(OPT_PROMPT, "\"options\": w.map.json maps \"image1\" but no required attachment");
}

static void test_broken_options(void **state)
{
    (void)state;
    REFUSED_OPTS(OPT_IMAGE ",{\"name\":\"p\",\"type\":\"text\",\"description\":\"d\"}",
                 "options[1] \"p\": \"type\": must be string, integer");
    REFUSED_OPTS(OPT_IMAGE ",{\"name\":\"p\",\"type\":\"string\",\"description\":\"d\","
                           "\"requried\":true,\"param\":\"prompt\"}",
                 "options[1].\"requried\": unknown key");
    REFUSED_OPTS(OPT_IMAGE "," OPT_PROMPT "," OPT_PROMPT,
                 "options[2] \"prompt\": \"name\": used twice");
    REFUSED_OPTS(OPT_IMAGE ",{\"name\":\"seed\",\"type\":\"integer\",\"description\":\"d\","
                           "\"param\":\"seed\"}," OPT_PROMPT,
                 "options[2] \"prompt\": \"required\": required options must come first");
    REFUSED_OPTS(OPT_IMAGE ",{\"name\":\"p\",\"type\":\"string\",\"description\":\"d\"}",
                 "options[1] \"p\": needs exactly one of \"param\"");
    REFUSED_OPTS(OPT_IMAGE ",{\"name\":\"p\",\"type\":\"string\",\"description\":\"d\","
                           "\"param\":\"negative\"}",
                 "options[1] \"p\": \"param\": unknown \"negative\"");
    REFUSED_OPTS(OPT_IMAGE ",{\"name\":\"p\",\"type\":\"integer\",\"description\":\"d\","
                           "\"param\":\"prompt\"}",
                 "options[1] \"p\": \"param\": \"prompt\" takes a string option, not integer");
    REFUSED_OPTS(OPT_IMAGE ",{\"name\":\"s\",\"type\":\"number\",\"description\":\"d\","
                           "\"param\":\"strength1\"}",
                 "options[1] \"s\": \"param\": w.map.json maps no \"strength1\"");
    REFUSED_OPTS(OPT_IMAGE ",{\"name\":\"r\",\"type\":\"choice\",\"description\":\"d\","
                           "\"choices\":\"ratios\",\"param\":\"resolution\"}",
                 "options[1] \"r\": \"param\": w.map.json maps no \"width\" and \"height\"");
    REFUSED_OPTS(OPT_IMAGE ",{\"name\":\"l1\",\"type\":\"string\",\"description\":\"d\","
                           "\"autocomplete\":\"loras\",\"param\":\"lora\"},"
                           "{\"name\":\"l2\",\"type\":\"string\",\"description\":\"d\","
                           "\"autocomplete\":\"loras\",\"param\":\"lora\"},"
                           "{\"name\":\"l3\",\"type\":\"string\",\"description\":\"d\","
                           "\"autocomplete\":\"loras\",\"param\":\"lora\"}",
                 "options[3] \"l3\": \"param\": w.map.json takes at most 2 LoRAs");
    REFUSED_OPTS(OPT_IMAGE ",{\"name\":\"l\",\"type\":\"string\",\"description\":\"d\","
                           "\"param\":\"lora\"}",
                 "\"param\": \"lora\" needs \"type\": \"string\" with \"autocomplete\"");
    REFUSED_OPTS(OPT_IMAGE "," OPT_IMAGE, "options[1] \"image\": \"name\": used twice");
    /* a LoRA strength pairs with a lora option before it, and is a number */
    REFUSED_OPTS(OPT_IMAGE ",{\"name\":\"ls\",\"type\":\"number\",\"description\":\"d\","
                           "\"param\":\"lora_strength\"}",
                 "options[1] \"ls\": \"param\": \"lora_strength\" number 1 has no \"lora\"");
    REFUSED_OPTS(OPT_IMAGE ",{\"name\":\"l\",\"type\":\"string\",\"description\":\"d\","
                           "\"autocomplete\":\"loras\",\"param\":\"lora\"},"
                           "{\"name\":\"ls\",\"type\":\"string\",\"description\":\"d\","
                           "\"param\":\"lora_strength\"}",
                 "options[2] \"ls\": \"param\": \"lora_strength\" takes a number option");
    REFUSED_OPTS(OPT_IMAGE ",{\"name\":\"i2\",\"type\":\"attachment\",\"description\":\"d\","
                           "\"param\":\"image1\"}",
                 "options[1] \"i2\": \"param\": \"image1\" is set by \"image\" already");
}

static void test_broken_values(void **state)
{
    (void)state;
    REFUSED_OPTS(OPT_IMAGE ",{\"name\":\"n\",\"type\":\"integer\",\"description\":\"d\","
                           "\"min\":5,\"max\":1,\"param\":\"seed\"}",
                 "options[1] \"n\": \"min\": is greater than max");
    REFUSED_OPTS(OPT_IMAGE ",{\"name\":\"n\",\"type\":\"integer\",\"description\":\"d\","
                           "\"min\":0,\"max\":10,\"default\":11,\"param\":\"seed\"}",
                 "options[1] \"n\": \"default\": 11 is outside min..max");
    REFUSED_OPTS(OPT_IMAGE ",{\"name\":\"n\",\"type\":\"string\",\"description\":\"d\","
                           "\"min\":1,\"param\":\"prompt\"}",
                 "\"min\": only integer and number options have bounds");
    REFUSED_OPTS(OPT_IMAGE ",{\"name\":\"c\",\"type\":\"choice\",\"description\":\"d\","
                           "\"param\":\"seed\"}",
                 "options[1] \"c\": \"choices\": missing");
    REFUSED_OPTS(OPT_IMAGE ",{\"name\":\"c\",\"type\":\"choice\",\"description\":\"d\","
                           "\"choices\":[{\"name\":\"a\",\"value\":1},{\"name\":\"b\","
                           "\"value\":\"x\"}],\"patch\":{\"node\":\"4\",\"input\":\"steps\"}}",
                 "options[1] \"c\": \"choices\"[1].\"value\": all values must be integers");
    REFUSED_OPTS(OPT_IMAGE ",{\"name\":\"c\",\"type\":\"choice\",\"description\":\"d\","
                           "\"choices\":[{\"name\":\"a\",\"value\":1},{\"name\":\"a\","
                           "\"value\":2}],\"patch\":{\"node\":\"4\",\"input\":\"steps\"}}",
                 "\"choices\"[1].\"name\": \"a\" is listed twice");
    REFUSED_OPTS(OPT_IMAGE ",{\"name\":\"c\",\"type\":\"choice\",\"description\":\"d\","
                           "\"choices\":[{\"name\":\"a\",\"value\":1}],\"default\":3,"
                           "\"patch\":{\"node\":\"4\",\"input\":\"steps\"}}",
                 "options[1] \"c\": \"default\": is not one of the choices");
    REFUSED_OPTS(OPT_IMAGE ",{\"name\":\"m\",\"type\":\"string\",\"description\":\"d\","
                           "\"autocomplete\":\"object_info:weights\","
                           "\"patch\":{\"node\":\"1\",\"input\":\"unet_name\"}}",
                 "options[1] \"m\": \"autocomplete\": unknown source \"object_info:weights\"");
    REFUSED_OPTS(OPT_IMAGE ",{\"name\":\"m\",\"type\":\"string\",\"description\":\"d\","
                           "\"autocomplete\":\"file:missing.txt\","
                           "\"patch\":{\"node\":\"1\",\"input\":\"unet_name\"}}",
                 "options[1] \"m\": \"autocomplete\"", "missing.txt");
    REFUSED_OPTS(OPT_IMAGE ",{\"name\":\"m\",\"type\":\"string\",\"description\":\"d\","
                           "\"autocomplete\":\"file:../etc/passwd\","
                           "\"patch\":{\"node\":\"1\",\"input\":\"unet_name\"}}",
                 "must be a file name in the declaration's folder");
    write_file("empty.txt", "\n\n");
    REFUSED_OPTS(OPT_IMAGE ",{\"name\":\"m\",\"type\":\"string\",\"description\":\"d\","
                           "\"autocomplete\":\"file:empty.txt\","
                           "\"patch\":{\"node\":\"1\",\"input\":\"unet_name\"}}",
                 "empty.txt must list 1..10000 entries");
    REFUSED_OPTS(OPT_IMAGE ",{\"name\":\"b\",\"type\":\"boolean\",\"description\":\"d\","
                           "\"autocomplete\":\"loras\",\"patch\":{\"node\":\"5\","
                           "\"input\":\"enabled\"}}",
                 "options[1] \"b\": \"autocomplete\": only string options autocomplete");
}

static void test_broken_patches(void **state)
{
    (void)state;
    REFUSED_OPTS(OPT_IMAGE ",{\"name\":\"steps\",\"type\":\"integer\",\"description\":\"d\","
                           "\"patch\":{\"node\":\"99\",\"input\":\"steps\"}}",
                 "options[1] \"steps\": \"patch\": node 99 does not exist in w.json");
    REFUSED_OPTS(OPT_IMAGE ",{\"name\":\"steps\",\"type\":\"integer\",\"description\":\"d\","
                           "\"patch\":{\"class_type\":\"KSampler\",\"input\":\"stepz\"}}",
                 "options[1] \"steps\": \"patch\": node 4 (KSampler) has no input \"stepz\"");
    REFUSED_OPTS(OPT_IMAGE ",{\"name\":\"m\",\"type\":\"string\",\"description\":\"d\","
                           "\"patch\":{\"node\":\"4\",\"input\":\"model\"}}",
                 "node 4 (KSampler) input \"model\" is a link to another node");
    REFUSED_OPTS(OPT_IMAGE ",{\"name\":\"steps\",\"type\":\"string\",\"description\":\"d\","
                           "\"patch\":{\"node\":\"4\",\"input\":\"steps\"}}",
                 "node 4 (KSampler) input \"steps\" does not hold a string value");
    REFUSED_OPTS(OPT_IMAGE ",{\"name\":\"cfg\",\"type\":\"number\",\"description\":\"d\","
                           "\"patch\":[{\"node\":\"4\",\"input\":\"cfg\"},"
                           "{\"class_type\":\"KSamplerAdvanced\",\"input\":\"cfg\"}]}",
                 "options[1] \"cfg\": \"patch\"[1]: no node with class_type KSamplerAdvanced in "
                 "w.json");
    REFUSED_OPTS(OPT_IMAGE ",{\"name\":\"neg\",\"type\":\"string\",\"description\":\"d\","
                           "\"patch\":{\"title\":\"Negativ\",\"input\":\"text\"}}",
                 "no node with title \"Negativ\" in w.json");
    REFUSED_OPTS(OPT_IMAGE ",{\"name\":\"neg\",\"type\":\"string\",\"description\":\"d\","
                           "\"patch\":{\"title\":\"Negative\",\"input\":\"text\",\"scale\":2}}",
                 "\"scale\": only numeric options are scaled");
    REFUSED_OPTS(OPT_IMAGE ",{\"name\":\"neg\",\"type\":\"string\",\"description\":\"d\","
                           "\"patch\":{\"input\":\"text\"}}",
                 "a target needs \"node\", \"class_type\" or \"title\"");
    REFUSED_OPTS(OPT_IMAGE ",{\"name\":\"neg\",\"type\":\"string\",\"description\":\"d\","
                           "\"patch\":{\"node\":\"3\",\"inputs\":\"text\"}}",
                 "\"inputs\": unknown key");
}

/* A folder: two files declaring one name refuse the set, naming both files. */
static void test_set_duplicate_name(void **state)
{
    (void)state;
    char *j = with_options(OPT_PROMPT "," OPT_IMAGE);
    write_file("a.cmd.json", j);
    write_file("b.cmd.json", j);
    free(j);
    decl_set set;
    assert_int_equal(decl_set_load(&set, tmpdir, err, sizeof err), -1);
    assert_non_null(strstr(err, "b.cmd.json: \"name\": \"mine\" is declared by"));
    assert_non_null(strstr(err, "a.cmd.json already"));
    assert_int_equal(set.count, 0);
    char path[256];
    snprintf(path, sizeof path, "%s/b.cmd.json", tmpdir);
    unlink(path);
    assert_int_equal(decl_set_load(&set, tmpdir, err, sizeof err), 0);
    assert_int_equal(set.count, 1);
    decl_set_free(&set);
}

/* The ```json block of text that starts with prefix, malloc'd. */
static char *doc_block(const char *text, const char *prefix)
{
    const char *p = text;
    while ((p = strstr(p, "```json\n")) != NULL) {
        p += 8;
        if (strncmp(p, prefix, strlen(prefix)) != 0) continue;
        const char *end = strstr(p, "```");
        assert_non_null(end);
        return strndup(p, (size_t)(end - p));
    }
    fail_msg("docs/comfy.md has no example starting with %s", prefix);
    return NULL;
}

/* The example of docs/comfy.md loads as written: the export, its mapping and the declaration
 * are read from the document itself. */
static void test_docs_example_loads(void **state)
{
    (void)state;
    FILE *f = fopen(FLUXBOT_SOURCE_DIR "/docs/comfy.md", "r");
    assert_non_null(f);
    static char text[1 << 18];
    size_t n = fread(text, 1, sizeof text - 1, f);
    fclose(f);
    text[n] = '\0';
    char *g = doc_block(text, "{\"3\": {\"class_type\": \"KSampler\"");
    char *m = doc_block(text, "{\"workflow\": \"sdxl.json\"");
    char *d = doc_block(text, "{\"name\": \"sdxl\"");
    write_file("sdxl.json", g);
    write_file("sdxl.map.json", m);
    write_file("sdxl.cmd.json", d);
    char path[256];
    snprintf(path, sizeof path, "%s/sdxl.cmd.json", tmpdir);
    decl_command *c = decl_load(path, err, sizeof err);
    if (!c) fprintf(stderr, "%s\n", err);
    assert_non_null(c);
    assert_int_equal(c->noptions, 9);
    /* the negative prompt the Options dialog offers (router/opts_state.h) */
    assert_string_equal(c->options[2].name, "negative_prompt");
    assert_string_equal(c->options[2].targets[0].node, "7");
    assert_string_equal(c->options[6].source_arg, "checkpoint");
    assert_string_equal(c->options[7].targets[0].node, "5"); /* batch size */
    decl_free(c);
    free(g);
    free(m);
    free(d);
    static const char *const files[] = {"sdxl.json", "sdxl.map.json", "sdxl.cmd.json"};
    for (size_t i = 0; i < 3; i++) {
        snprintf(path, sizeof path, "%s/%s", tmpdir, files[i]);
        unlink(path);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_shipped_declarations_load),
        cmocka_unit_test(test_shipped_match_builtin_table),
        cmocka_unit_test(test_every_option_type),
        cmocka_unit_test(test_enhance_option),
        cmocka_unit_test(test_broken_top_level),
        cmocka_unit_test(test_broken_options),
        cmocka_unit_test(test_broken_values),
        cmocka_unit_test(test_broken_patches),
        cmocka_unit_test(test_set_duplicate_name),
        cmocka_unit_test(test_docs_example_loads),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
