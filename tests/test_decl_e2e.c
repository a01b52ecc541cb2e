/*
 * Commands declared by the operator, end to end: the whole bot in-process (app_start) against
 * the loopback fake Discord and fake ComfyUI, with a workflows folder holding the shipped
 * declarations plus one of the operator's own (a copy of the Redux-with-prompt workflow that
 * also saves an animated WebP). Checked where a user or an operator sees it:
 *   - the declared command goes out in the one bulk PUT with the built-in ones;
 *   - every option type (string, integer, number, boolean, attachment, choice) reaches the node
 *     input its declaration names, with scale, defaults and the model name chosen from the list
 *     the fake's GET /object_info gave; the LoRA list and a file feed autocomplete;
 *   - bad values (out of bounds, not in a list, a model the server does not have) are refused
 *     with an ephemeral message; the analytics rows carry the command's name and type;
 *   - SIGHUP adds a command (registered again in a new bulk PUT, then usable), and a broken
 *     declaration at reload is refused naming its file and key while the set in use stays;
 *   - a broken declaration refuses the start, naming its file and key.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>
#include <inttypes.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "actors/comfy_runner.h"
#include "app/reload.h"
#include "comfy/decl.h"
#include "comfy/dlpol.h"
#include "comfy/models.h"
#include "e2e_util.h"
#include "fakes/image_fixture.h"

#define TOKEN "decl-e2e-token.abc"
#define APP_ID 777000000000000042ULL

static e2e_app_world W;
static char wf[128];     /* the workflows folder: the shipped files and the operator's */
static uint8_t *ref_png; /* the reference image the guided commands get */
static size_t ref_png_len;

static void write_file(const char *name, const char *text)
{
    char path[256];
    snprintf(path, sizeof path, "%s/%s", wf, name);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    assert_int_equal(fputs(text, f) >= 0, 1);
    assert_int_equal(fclose(f), 0);
}

static void remove_file(const char *name)
{
    char path[256];
    snprintf(path, sizeof path, "%s/%s", wf, name);
    unlink(path);
}

/* The operator's workflow: the shipped Redux-with-prompt export plus an animated-WebP save
 * node whose `lossless` (a BOOLEAN input) the command exposes. */
static void write_operator_workflow(void)
{
    char path[256];
    snprintf(path, sizeof path, "%s/reduxprompt.json", wf);
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    static char buf[1 << 16];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    cJSON *g = cJSON_Parse(buf);
    assert_non_null(g);
    cJSON *node =
        cJSON_Parse("{\"class_type\":\"SaveAnimatedWEBP\",\"inputs\":{\"images\":[\"8\",0],"
                    "\"filename_prefix\":\"mine_anim\",\"fps\":6.0,\"lossless\":false,"
                    "\"quality\":80,\"method\":\"default\"},"
                    "\"_meta\":{\"title\":\"Animated copy\"}}");
    cJSON_AddItemToObject(g, "70", node);
    char *text = cJSON_Print(g);
    write_file("mine.json", text);
    free(text);
    cJSON_Delete(g);

    snprintf(path, sizeof path, "%s/reduxprompt.map.json", wf);
    f = fopen(path, "r");
    assert_non_null(f);
    n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    cJSON *m = cJSON_Parse(buf);
    cJSON_ReplaceItemInObject(m, "workflow", cJSON_CreateString("mine.json"));
    text = cJSON_Print(m);
    write_file("mine.map.json", text);
    free(text);
    cJSON_Delete(m);
    write_file("schedulers.txt", "simple\nbeta\nkarras\nsgm_uniform\n");
}

/* Every option type, each patching what its declaration names. */
static const char *mine_decl =
    "{\"name\":\"mine\",\"description\":\"My guided workflow\",\"workflow\":\"mine.json\","
    "\"mapping\":\"mine.map.json\",\"output\":\"image\",\"generation_type\":\"guided\","
    "\"options\":["
    "{\"name\":\"prompt\",\"type\":\"string\",\"description\":\"What to draw\",\"required\":true,"
    "\"max_length\":500,\"param\":\"prompt\"},"
    "{\"name\":\"image\",\"type\":\"attachment\",\"description\":\"Reference\","
    "\"required\":true,\"param\":\"image1\"},"
    "{\"name\":\"resolution\",\"type\":\"choice\",\"description\":\"Size\",\"choices\":\"ratios\","
    "\"param\":\"resolution\"},"
    "{\"name\":\"steps\",\"type\":\"integer\",\"description\":\"Steps\",\"min\":1,\"max\":50,"
    "\"default\":20,\"patch\":{\"class_type\":\"BasicScheduler\",\"input\":\"steps\"}},"
    "{\"name\":\"guidance\",\"type\":\"number\",\"description\":\"Guidance\",\"min\":1,"
    "\"max\":10,\"default\":3.5,\"patch\":{\"class_type\":\"FluxGuidance\",\"input\":\"guidance\"}}"
    ","
    "{\"name\":\"denoise\",\"type\":\"integer\",\"description\":\"Denoise in percent\",\"min\":10,"
    "\"max\":100,\"patch\":{\"class_type\":\"BasicScheduler\",\"input\":\"denoise\","
    "\"scale\":0.01}},"
    "{\"name\":\"lossless\",\"type\":\"boolean\",\"description\":\"Lossless copy\","
    "\"patch\":{\"title\":\"Animated copy\",\"input\":\"lossless\"}},"
    "{\"name\":\"sampler\",\"type\":\"choice\",\"description\":\"Sampler\",\"choices\":["
    "{\"name\":\"Euler\",\"value\":\"euler\"},{\"name\":\"DPM++ 2M\",\"value\":\"dpmpp_2m\"}],"
    "\"default\":\"euler\",\"patch\":{\"class_type\":\"KSamplerSelect\","
    "\"input\":\"sampler_name\"}},"
    "{\"name\":\"scheduler\",\"type\":\"string\",\"description\":\"Scheduler\","
    "\"autocomplete\":\"file:schedulers.txt\",\"patch\":{\"class_type\":\"BasicScheduler\","
    "\"input\":\"scheduler\"}},"
    "{\"name\":\"model\",\"type\":\"string\",\"description\":\"Diffusion model\","
    "\"autocomplete\":\"object_info:unet\",\"patch\":{\"class_type\":\"UNETLoader\","
    "\"input\":\"unet_name\"}},"
    "{\"name\":\"batch\",\"type\":\"choice\",\"description\":\"Images\",\"choices\":["
    "{\"name\":\"one\",\"value\":1},{\"name\":\"two\",\"value\":2}],\"default\":1,"
    "\"patch\":{\"class_type\":\"EmptySD3LatentImage\",\"input\":\"batch_size\"}},"
    "{\"name\":\"strength\",\"type\":\"number\",\"description\":\"Image influence\",\"min\":0.1,"
    "\"max\":1.0,\"default\":0.5,\"param\":\"strength1\"}]}";

static int setup(void **state)
{
    (void)state;
    fake_comfy_opts co = {.steps = 3, .step_delay_ms = 30, .png_width = 48, .png_height = 32};
    e2e_app_opts o = {.name = "decl_e2e", .token = TOKEN, .application_id = APP_ID, .comfy = &co};
    e2e_app_begin(&W, &o);
    fb_config *cfg = &W.cfg;
    /* the shipped workflows and declarations, and the operator's own beside them */
    snprintf(wf, sizeof wf, "%s/wf", W.dir);
    snprintf(cfg->workflows_dir, sizeof cfg->workflows_dir, "%s", wf);
    char cmd[512];
    snprintf(cmd, sizeof cmd, "mkdir -p %s && cp %s/workflows/* %s/", wf, FLUXBOT_SOURCE_DIR, wf);
    assert_int_equal(system(cmd), 0);
    write_operator_workflow();
    write_file("mine.cmd.json", mine_decl);
    ref_png = image_fixture_png(64, 48, 1, 7, &ref_png_len);
    cfg->progress_interval_ms = 100;
    cfg->analytics_flush_ms = 20;
    /* The attachments are served by the fake Discord on loopback. */
    dlpol_url u;
    assert_int_equal(dlpol_parse_url(cfg->discord_api_base, &u), DLPOL_OK);
    cfg->attachment_hosts.count = 1;
    snprintf(cfg->attachment_hosts.items[0], FB_CONFIG_STR, "%s:%d", u.host, u.port);
    e2e_app_start(&W);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    e2e_app_end(&W);
    free(ref_png);
    return 0;
}

/* ---- helpers --------------------------------------------------------------------------------- */

static size_t puts_so_far(void)
{
    fake_rest_filter f = {.method = "PUT", .path_prefix = "/applications/"};
    return fake_rest_count(W.rest, &f);
}

/* The first callback body of an interaction, parsed. */
static cJSON *callback_of(uint64_t id)
{
    return e2e_app_callback(&W, id, 30000, NULL, NULL);
}

/* Waits for the final edit of @original carrying a PNG; true when it came. */
static bool wait_png(const fake_discord_ix *ix, unsigned timeout_ms)
{
    char prefix[256];
    snprintf(prefix, sizeof prefix, "/webhooks/%" PRIu64 "/%s/messages/@original", (uint64_t)APP_ID,
             ix->token);
    fake_rest_filter f = {.method = "PATCH", .path_prefix = prefix};
    uint64_t until = e2e_ms() + timeout_ms;
    while (e2e_ms() < until) {
        fake_rest_request *rq;
        size_t n = fake_rest_collect(W.rest, &f, &rq);
        bool png = false;
        for (size_t i = 0; i < n; i++)
            for (unsigned k = 0; k < rq[i].nparts; k++)
                if (strcmp(rq[i].parts[k].name, "files[0]") == 0 && rq[i].parts[k].len > 8 &&
                    memcmp(rq[i].parts[k].data, "\x89PNG", 4) == 0)
                    png = true;
        fake_rest_requests_free(rq, n);
        if (png) return true;
        e2e_sleep(40);
    }
    return false;
}

/* The PNG files of the final edit of @original (0 when none), and its attachments array. */
static unsigned final_pngs(const fake_discord_ix *ix, int *nattachments)
{
    char prefix[256];
    snprintf(prefix, sizeof prefix, "/webhooks/%" PRIu64 "/%s/messages/@original", (uint64_t)APP_ID,
             ix->token);
    fake_rest_filter f = {.method = "PATCH", .path_prefix = prefix};
    fake_rest_request *rq;
    size_t n = fake_rest_collect(W.rest, &f, &rq);
    unsigned pngs = 0;
    *nattachments = -1;
    for (size_t i = 0; i < n; i++) {
        unsigned here = 0;
        const char *payload = NULL;
        for (unsigned k = 0; k < rq[i].nparts; k++) {
            if (strncmp(rq[i].parts[k].name, "files[", 6) == 0 && rq[i].parts[k].len > 8 &&
                memcmp(rq[i].parts[k].data, "\x89PNG", 4) == 0)
                here++;
            if (strcmp(rq[i].parts[k].name, "payload_json") == 0)
                payload = (const char *)rq[i].parts[k].data;
        }
        if (here) {
            pngs = here;
            cJSON *o = payload ? cJSON_Parse(payload) : NULL;
            *nattachments = cJSON_GetArraySize(cJSON_GetObjectItem(o, "attachments"));
            cJSON_Delete(o);
        }
    }
    fake_rest_requests_free(rq, n);
    return pngs;
}

/* An ephemeral refusal of a command, with the text it says. */
static void expect_refusal(const char *name, const char *opts, bool with_image, const char *want)
{
    fake_discord_file file = {"image", "ref.png", "image/png", ref_png, ref_png_len};
    fake_discord_ix ix;
    assert_int_equal(fake_discord_inject_command(W.fd, name, opts, with_image ? &file : NULL,
                                                 with_image ? 1 : 0, NULL, &ix),
                     0);
    cJSON *cb = callback_of(ix.id);
    assert_int_equal(cJSON_GetObjectItem(cb, "type")->valueint, 4);
    if (!strstr(e2e_app_cb_content(cb), want))
        fail_msg("/%s %s: \"%s\" does not say \"%s\"", name, opts, e2e_app_cb_content(cb), want);
    cJSON_Delete(cb);
}

static int sql_int(const char *sql, char *text, size_t cap)
{
    return (int)e2e_app_db_int(&W, sql, text, cap);
}

/* A node's input in the graph of the idx-th prompt the fake ComfyUI accepted. */
static const cJSON *node_input(cJSON *g, const char *node, const char *input)
{
    return cJSON_GetObjectItem(cJSON_GetObjectItem(cJSON_GetObjectItem(g, node), "inputs"), input);
}

/* ---- the flow -------------------------------------------------------------------------------- */

static void declared_command_is_in_the_one_bulk_put(void **state)
{
    (void)state;
    assert_int_equal(puts_so_far(), 1);
    char *cmds = fake_rest_commands_json(W.rest, 0);
    assert_non_null(cmds);
    cJSON *arr = cJSON_Parse(cmds);
    free(cmds);
    cJSON *mine = NULL, *c;
    bool comfy = false, stats = false, upscale = false;
    cJSON_ArrayForEach(c, arr)
    {
        const char *n = cJSON_GetObjectItem(c, "name")->valuestring;
        if (strcmp(n, "mine") == 0) mine = c;
        comfy |= strcmp(n, "comfy") == 0;
        stats |= strcmp(n, "stats") == 0;
        upscale |= strcmp(n, "upscale") == 0;
    }
    assert_true(comfy && stats);
    assert_false(upscale); /* a button trigger is not a slash command */
    assert_non_null(mine);
    /* Discord's option types: string 3, attachment 11, integer 4, number 10, boolean 5; a
     * string choice is a string with choices, an integer choice an integer with choices. */
    static const struct {
        const char *name;
        int type;
    } want[] = {{"prompt", 3},    {"image", 11},  {"resolution", 3}, {"steps", 4},
                {"guidance", 10}, {"denoise", 4}, {"lossless", 5},   {"sampler", 3},
                {"scheduler", 3}, {"model", 3},   {"batch", 4},      {"strength", 10}};
    cJSON *opts = cJSON_GetObjectItem(mine, "options");
    assert_int_equal(cJSON_GetArraySize(opts), 12);
    for (int i = 0; i < 12; i++) {
        cJSON *o = cJSON_GetArrayItem(opts, i);
        assert_string_equal(cJSON_GetObjectItem(o, "name")->valuestring, want[i].name);
        assert_int_equal(cJSON_GetObjectItem(o, "type")->valueint, want[i].type);
    }
    assert_true(cJSON_IsTrue(cJSON_GetObjectItem(cJSON_GetArrayItem(opts, 9), "autocomplete")));
    assert_int_equal(
        cJSON_GetArraySize(cJSON_GetObjectItem(cJSON_GetArrayItem(opts, 7), "choices")), 2);
    cJSON_Delete(arr);
}

/* The model list comes from the fake's GET /object_info; the file list from the folder. */
static void autocomplete_offers_models_and_file_entries(void **state)
{
    (void)state;
    models_cache *mc = comfy_runner_catalog(app_runner(W.a))->models;
    uint64_t until = e2e_ms() + 30000;
    while (e2e_ms() < until && models_count(mc, "unet", NULL) == 0)
        e2e_sleep(20);
    assert_int_equal(models_count(mc, "unet", NULL), 4);
    fake_discord_ix ix;
    assert_int_equal(fake_discord_inject_autocomplete(
                         W.fd, "mine",
                         "[{\"name\":\"model\",\"type\":3,\"value\":\"schn\",\"focused\":true}]",
                         NULL, &ix),
                     0);
    cJSON *cb = callback_of(ix.id);
    assert_int_equal(cJSON_GetObjectItem(cb, "type")->valueint, 8);
    cJSON *ch = cJSON_GetObjectItem(cJSON_GetObjectItem(cb, "data"), "choices");
    assert_int_equal(cJSON_GetArraySize(ch), 1);
    assert_string_equal(cJSON_GetObjectItem(cJSON_GetArrayItem(ch, 0), "value")->valuestring,
                        "flux1-schnell.safetensors");
    cJSON_Delete(cb);

    assert_int_equal(fake_discord_inject_autocomplete(
                         W.fd, "mine",
                         "[{\"name\":\"scheduler\",\"type\":3,\"value\":\"KA\",\"focused\":true}]",
                         NULL, &ix),
                     0);
    cb = callback_of(ix.id);
    ch = cJSON_GetObjectItem(cJSON_GetObjectItem(cb, "data"), "choices");
    assert_int_equal(cJSON_GetArraySize(ch), 1);
    assert_string_equal(cJSON_GetObjectItem(cJSON_GetArrayItem(ch, 0), "name")->valuestring,
                        "karras");
    cJSON_Delete(cb);
}

static bool prompts_at_least(const fake_comfy_stats *s, void *arg)
{
    return s->prompts_accepted >= *(unsigned *)arg;
}

static void every_option_type_reaches_its_node(void **state)
{
    (void)state;
    fake_comfy_stats before;
    fake_comfy_get_stats(W.comfy, &before);
    fake_discord_file file = {"image", "ref.png", "image/png", ref_png, ref_png_len};
    fake_discord_ix ix;
    assert_int_equal(
        fake_discord_inject_command(
            W.fd, "mine",
            "[{\"name\":\"prompt\",\"type\":3,\"value\":\"a lighthouse in fog\"},"
            "{\"name\":\"resolution\",\"type\":3,\"value\":\"1:1 [1024x1024 square]\"},"
            "{\"name\":\"steps\",\"type\":4,\"value\":12},"
            "{\"name\":\"guidance\",\"type\":10,\"value\":4.5},"
            "{\"name\":\"denoise\",\"type\":4,\"value\":80},"
            "{\"name\":\"lossless\",\"type\":5,\"value\":true},"
            "{\"name\":\"sampler\",\"type\":3,\"value\":\"dpmpp_2m\"},"
            "{\"name\":\"scheduler\",\"type\":3,\"value\":\"karras\"},"
            "{\"name\":\"model\",\"type\":3,\"value\":\"flux1-schnell.safetensors\"},"
            "{\"name\":\"batch\",\"type\":4,\"value\":2}]",
            &file, 1, NULL, &ix),
        0);
    assert_true(wait_png(&ix, 60000));
    /* batch 2: both images of the batch in the one result message */
    int natt;
    assert_int_equal(final_pngs(&ix, &natt), 2);
    assert_int_equal(natt, 2);
    unsigned want = (unsigned)before.prompts_accepted + 1;
    assert_true(fake_comfy_wait(W.comfy, prompts_at_least, &want, 30000));
    char *text = fake_comfy_prompt_json(W.comfy, (unsigned)before.prompts_accepted);
    assert_non_null(text);
    cJSON *g = cJSON_Parse(text);
    free(text);
    assert_non_null(g);
    assert_string_equal(node_input(g, "6", "text")->valuestring, "a lighthouse in fog");
    assert_int_equal(node_input(g, "17", "steps")->valueint, 12);
    assert_true(node_input(g, "26", "guidance")->valuedouble == 4.5);
    assert_true(node_input(g, "17", "denoise")->valuedouble == 0.8); /* 80 x scale 0.01 */
    assert_true(cJSON_IsTrue(node_input(g, "70", "lossless")));
    assert_string_equal(node_input(g, "16", "sampler_name")->valuestring, "dpmpp_2m");
    assert_string_equal(node_input(g, "17", "scheduler")->valuestring, "karras");
    assert_string_equal(node_input(g, "12", "unet_name")->valuestring, "flux1-schnell.safetensors");
    assert_int_equal(node_input(g, "27", "batch_size")->valueint, 2);
    assert_int_equal(node_input(g, "27", "width")->valueint, 1024);
    /* the default of an option not given (strength 0.5 → StyleModelApply) */
    assert_true(node_input(g, "41", "strength")->valuedouble == 0.5);
    /* the attachment was uploaded and named in LoadImage */
    const cJSON *img = node_input(g, "40", "image");
    assert_true(cJSON_IsString(img) && strcmp(img->valuestring, "example.png") != 0);
    cJSON_Delete(g);

    /* The analytics rows carry the command's name and its generation type. */
    char txt[64];
    uint64_t until = e2e_ms() + 20000;
    int n = 0;
    while (e2e_ms() < until &&
           (n = sql_int("SELECT count(*), max(generation_type) FROM image_stats WHERE "
                        "generation_type = 'guided'",
                        txt, sizeof txt)) < 1)
        e2e_sleep(30);
    assert_int_equal(n, 1);
    assert_string_equal(txt, "guided");
    until = e2e_ms() + 20000;
    while (e2e_ms() < until && (n = sql_int("SELECT count(*), 'x' FROM command_usage WHERE "
                                            "command_name = 'mine' AND kind <> 'autocomplete'",
                                            NULL, 0)) < 1)
        e2e_sleep(30);
    assert_int_equal(n, 1);
}

/* A batch in a channel whose upload limit holds one image: the first is attached, the message
 * says how many were left out and why; the batch's other images never exceed the limit. */
static void batch_within_the_upload_limit(void **state)
{
    (void)state;
    fake_comfy_set_png(W.comfy, 64, 64, true);
    size_t one = 0;
    uint8_t *probe = image_fixture_png(64, 64, 1, 12345, &one);
    free(probe);
    assert_true(one > 1000);
    fake_discord_member who = {.attachment_size_limit = one * 3 / 2};
    fake_discord_ix ix;
    assert_int_equal(
        fake_discord_inject_command(W.fd, "comfy",
                                    "[{\"name\":\"prompt\",\"type\":3,\"value\":\"three foxes\"},"
                                    "{\"name\":\"batch_size\",\"type\":4,\"value\":3}]",
                                    NULL, 0, &who, &ix),
        0);
    assert_true(wait_png(&ix, 60000));
    int natt;
    assert_int_equal(final_pngs(&ix, &natt), 1);
    assert_int_equal(natt, 1);
    fake_rest_ix_state st;
    assert_true(fake_rest_interaction_state(W.rest, ix.id, &st));
    assert_non_null(strstr(st.original_json, "2 of the 3 images are not attached"));
    free(st.original_json);
    fake_comfy_set_png(W.comfy, 48, 32, false);
}

/* The shipped /video exposes the common video options: length, frame rate, negative prompt. */
static void video_length_and_fps_reach_the_workflow(void **state)
{
    (void)state;
    fake_comfy_stats before;
    fake_comfy_get_stats(W.comfy, &before);
    fake_discord_ix ix;
    assert_int_equal(fake_discord_inject_command(
                         W.fd, "video",
                         "[{\"name\":\"prompt\",\"type\":3,\"value\":\"waves on a pier\"},"
                         "{\"name\":\"negative_prompt\",\"type\":3,\"value\":\"people\"},"
                         "{\"name\":\"length\",\"type\":4,\"value\":33},"
                         "{\"name\":\"fps\",\"type\":4,\"value\":8},"
                         "{\"name\":\"steps\",\"type\":4,\"value\":10}]",
                         NULL, 0, NULL, &ix),
                     0);
    unsigned want = before.prompts_accepted + 1;
    assert_true(fake_comfy_wait(W.comfy, prompts_at_least, &want, 30000));
    char *text = fake_comfy_prompt_json(W.comfy, before.prompts_accepted);
    cJSON *g = cJSON_Parse(text);
    free(text);
    assert_non_null(g);
    assert_int_equal(node_input(g, "40", "length")->valueint, 33);
    assert_true(node_input(g, "49", "fps")->valuedouble == 8);
    assert_string_equal(node_input(g, "7", "text")->valuestring, "people");
    assert_string_equal(node_input(g, "6", "text")->valuestring, "waves on a pier");
    assert_int_equal(node_input(g, "3", "steps")->valueint, 10);
    assert_true(node_input(g, "3", "cfg")->valuedouble == 6.0); /* not given: the workflow's */
    cJSON_Delete(g);
    expect_refusal("video",
                   "[{\"name\":\"prompt\",\"type\":3,\"value\":\"x\"},"
                   "{\"name\":\"fps\",\"type\":4,\"value\":60}]",
                   false, "pick one of the listed choices");
}

static void bad_values_are_refused(void **state)
{
    (void)state;
    expect_refusal("mine",
                   "[{\"name\":\"prompt\",\"type\":3,\"value\":\"x\"},"
                   "{\"name\":\"steps\",\"type\":4,\"value\":99}]",
                   true, "steps must be between 1 and 50");
    expect_refusal("mine",
                   "[{\"name\":\"prompt\",\"type\":3,\"value\":\"x\"},"
                   "{\"name\":\"model\",\"type\":3,\"value\":\"../../etc/passwd\"}]",
                   true, "Unknown model");
    expect_refusal("mine",
                   "[{\"name\":\"prompt\",\"type\":3,\"value\":\"x\"},"
                   "{\"name\":\"scheduler\",\"type\":3,\"value\":\"exotic\"}]",
                   true, "Unknown scheduler");
    expect_refusal("mine",
                   "[{\"name\":\"prompt\",\"type\":3,\"value\":\"x\"},"
                   "{\"name\":\"sampler\",\"type\":3,\"value\":\"heun\"}]",
                   true, "pick one of the listed choices");
    expect_refusal("mine",
                   "[{\"name\":\"prompt\",\"type\":3,\"value\":\"x\"},"
                   "{\"name\":\"lossless\",\"type\":3,\"value\":\"yes\"}]",
                   true, "must be true or false");
    expect_refusal("mine", "[{\"name\":\"prompt\",\"type\":3,\"value\":\"x\"}]", false,
                   "Please attach an image");
}

static const char *second_decl =
    "{\"name\":\"second\",\"description\":\"Flux, fast\",\"workflow\":\"flux_txt2img.json\","
    "\"mapping\":\"flux_txt2img.map.json\",\"output\":\"image\",\"options\":["
    "{\"name\":\"prompt\",\"type\":\"string\",\"description\":\"What to draw\",\"required\":true,"
    "\"param\":\"prompt\"},"
    "{\"name\":\"steps\",\"type\":\"integer\",\"description\":\"Steps\",\"min\":1,\"max\":8,"
    "\"default\":4,\"patch\":{\"class_type\":\"BasicScheduler\",\"input\":\"steps\"}}]}";

static void sighup_adds_a_command(void **state)
{
    (void)state;
    size_t puts0 = puts_so_far();
    write_file("second.cmd.json", second_decl);
    reload_config rc = {.ratios_file = W.cfg.ratios_file,
                        .loras_file = W.cfg.loras_file,
                        .apply = app_apply_lists,
                        .apply_ctx = W.a,
                        .apply_commands = app_apply_commands,
                        .commands_ctx = W.a};
    char err[256];
    reload_watcher *rw = reload_start(&rc, err, sizeof err);
    assert_non_null(rw);
    assert_int_equal(raise(SIGHUP), 0);
    uint64_t until = e2e_ms() + 60000;
    char *cmds = NULL;
    while (e2e_ms() < until) {
        app_poll(W.a, 20);
        free(cmds);
        cmds = puts_so_far() > puts0 ? fake_rest_commands_json(W.rest, 0) : NULL;
        if (cmds && strstr(cmds, "\"second\"") && app_commands_registered(W.a)) break;
    }
    assert_true(reload_count(rw) >= 1);
    assert_non_null(cmds);
    assert_non_null(strstr(cmds, "\"name\":\"second\""));
    assert_non_null(strstr(cmds, "\"name\":\"mine\"")); /* the whole set, in one PUT */
    free(cmds);
    assert_int_equal(puts_so_far(), puts0 + 1);
    reload_stop(rw);

    fake_comfy_stats before;
    fake_comfy_get_stats(W.comfy, &before);
    fake_discord_ix ix;
    assert_int_equal(fake_discord_inject_command(
                         W.fd, "second", "[{\"name\":\"prompt\",\"type\":3,\"value\":\"a fox\"}]",
                         NULL, 0, NULL, &ix),
                     0);
    assert_true(wait_png(&ix, 60000));
    char *text = fake_comfy_prompt_json(W.comfy, (unsigned)before.prompts_accepted);
    cJSON *g = cJSON_Parse(text);
    free(text);
    assert_int_equal(node_input(g, "17", "steps")->valueint, 4); /* its default */
    cJSON_Delete(g);
}

/* A broken declaration at reload: refused with its file and key, the commands in use stay. */
static void broken_declaration_at_reload_keeps_the_set(void **state)
{
    (void)state;
    size_t puts0 = puts_so_far();
    write_file("broken.cmd.json",
               "{\"name\":\"broken\",\"description\":\"x\",\"workflow\":\"flux_txt2img.json\","
               "\"mapping\":\"flux_txt2img.map.json\",\"output\":\"image\",\"options\":["
               "{\"name\":\"steps\",\"type\":\"integer\",\"description\":\"Steps\","
               "\"requried\":true,\"patch\":{\"class_type\":\"BasicScheduler\","
               "\"input\":\"steps\"}}]}");
    char summary[900];
    assert_int_equal(app_apply_commands(W.a, summary, sizeof summary), -1);
    assert_non_null(strstr(summary, "broken.cmd.json"));
    assert_non_null(strstr(summary, "\"requried\": unknown key"));
    const decl_set *ds = comfy_runner_catalog(app_runner(W.a))->decls;
    assert_non_null(decl_set_find(ds, "second"));
    assert_null(decl_set_find(ds, "broken"));
    for (int i = 0; i < 10; i++)
        app_poll(W.a, 10);
    assert_int_equal(puts_so_far(), puts0);
    remove_file("broken.cmd.json");
}

/* ---- the start ------------------------------------------------------------------------------- */

static void broken_declaration_refuses_the_start(void **state)
{
    (void)state;
    write_file("zbad.cmd.json",
               "{\"name\":\"zbad\",\"description\":\"x\",\"workflow\":\"flux_txt2img.json\","
               "\"mapping\":\"flux_txt2img.map.json\",\"output\":\"image\",\"options\":["
               "{\"name\":\"cfg\",\"type\":\"number\",\"description\":\"CFG\","
               "\"patch\":{\"class_type\":\"KSampler\",\"input\":\"cfg\"}}]}");
    fb_config cfg = W.cfg;
    snprintf(cfg.db_path, sizeof cfg.db_path, "%s.second", W.db);
    char err[768];
    int code = 0;
    app *a = app_start(&cfg, err, sizeof err, &code);
    assert_null(a);
    assert_int_equal(code, APP_EXIT_START);
    assert_non_null(strstr(err, "zbad.cmd.json"));
    assert_non_null(strstr(err, "options[0] \"cfg\": \"patch\""));
    assert_non_null(strstr(err, "KSampler"));
    remove_file("zbad.cmd.json");
    unlink(cfg.db_path);
}

int main(void)
{
    const struct CMUnitTest flow[] = {
        cmocka_unit_test(declared_command_is_in_the_one_bulk_put),
        cmocka_unit_test(autocomplete_offers_models_and_file_entries),
        cmocka_unit_test(every_option_type_reaches_its_node),
        cmocka_unit_test(batch_within_the_upload_limit),
        cmocka_unit_test(video_length_and_fps_reach_the_workflow),
        cmocka_unit_test(bad_values_are_refused),
        cmocka_unit_test(sighup_adds_a_command),
        cmocka_unit_test(broken_declaration_at_reload_keeps_the_set),
        cmocka_unit_test(broken_declaration_refuses_the_start),
    };
    return cmocka_run_group_tests(flow, setup, teardown);
}
