/*
 * The Options dialog of a result end to end: the whole bot in-process (app_start) against the
 * loopback fake Discord and a fake ComfyUI, with 30 LoRAs (two pages in the picker) and a
 * workflow that maps a negative prompt. What users see is read from the callbacks and edits
 * the fake Discord received; what ran is read from the graphs the fake ComfyUI was sent.
 *
 *  - round trip: /comfy, Options (ephemeral dialog), a resolution, LoRAs on page 1 and page 2,
 *    a sixth LoRA refused (at most 5), the prompt modal (prompt, negative, seed), the strengths
 *    modal, Regenerate → the new job's workflow has all of them;
 *  - another user: Options and the dialog's buttons are refused, ephemerally;
 *  - restart: a new bot on the same database opens Options of the old result from the results
 *    table and regenerates it; the dialog opened before the restart answers that it expired;
 *  - /video's declared negative prompt (an option, not the mapping's): in the dialog of a video
 *    read back after a restart, changed, and in the regenerated video's workflow.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <sqlite3.h>

#include "e2e_util.h"

#define TOKEN "opts-e2e-token.abc"
#define APP_ID 777000000000000015ULL
#define OTHER_USER 300000000000000777ULL
#define WAIT_MS 20000

static e2e_app_world W;
static struct {
    char loras[128], wf[128];
    char result_opt[101]; /* the Options custom_id of the first result */
    char old_go[101];     /* a dialog button from before the restart */
    unsigned prompts;     /* graphs the fake ComfyUI accepted so far */
} T;

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *b = malloc((size_t)n + 1);
    assert_non_null(b);
    assert_int_equal(fread(b, 1, (size_t)n, f), (size_t)n);
    b[n] = 0;
    fclose(f);
    return b;
}

static void spit(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

/* The repository's Flux workflow with a negative conditioning node ("7") and its mapping
 * extended with negative_prompt; the /comfy declaration beside it. */
static void write_workflows(void)
{
    snprintf(T.wf, sizeof T.wf, "%s/wf", W.dir);
    char p[256];
    snprintf(p, sizeof p, "mkdir -p %s", T.wf);
    assert_int_equal(system(p), 0);
    char *g = slurp(FLUXBOT_SOURCE_DIR "/workflows/flux_txt2img.json");
    cJSON *graph = cJSON_Parse(g);
    free(g);
    assert_non_null(graph);
    cJSON *neg = cJSON_Parse("{\"class_type\":\"CLIPTextEncode\",\"inputs\":{\"text\":\"\","
                             "\"clip\":[\"11\",0]},\"_meta\":{\"title\":\"Negative\"}}");
    cJSON_AddItemToObject(graph, "7", neg);
    char *t = cJSON_PrintUnformatted(graph);
    cJSON_Delete(graph);
    snprintf(p, sizeof p, "%s/flux_txt2img.json", T.wf);
    spit(p, t);
    free(t);
    char *m = slurp(FLUXBOT_SOURCE_DIR "/workflows/flux_txt2img.map.json");
    cJSON *map = cJSON_Parse(m);
    free(m);
    assert_non_null(map);
    cJSON_AddItemToObject(cJSON_GetObjectItem(map, "inputs"), "negative_prompt",
                          cJSON_Parse("{\"node\":\"7\",\"input\":\"text\"}"));
    t = cJSON_PrintUnformatted(map);
    cJSON_Delete(map);
    snprintf(p, sizeof p, "%s/flux_txt2img.map.json", T.wf);
    spit(p, t);
    free(t);
    /* the shipped declarations, /video's with its workflow and mapping */
    static const char *const copies[] = {"comfy.cmd.json", "video.cmd.json", "video.json",
                                         "video.map.json"};
    for (size_t i = 0; i < sizeof copies / sizeof copies[0]; i++) {
        char src[300];
        snprintf(src, sizeof src, "%s/workflows/%s", FLUXBOT_SOURCE_DIR, copies[i]);
        char *d = slurp(src);
        snprintf(p, sizeof p, "%s/%s", T.wf, copies[i]);
        spit(p, d);
        free(d);
    }
}

static int setup(void **state)
{
    e2e_app_opts o = {.name = "opts_e2e", .token = TOKEN, .application_id = APP_ID};
    e2e_app_begin(&W, &o);
    snprintf(T.loras, sizeof T.loras, "%s/loras.json", W.dir);
    FILE *f = fopen(T.loras, "w");
    assert_non_null(f);
    fputs("{\"loras\": [", f);
    for (int i = 0; i < 30; i++) /* L00..L29: 25 on page 1, 5 on page 2 */
        fprintf(f,
                "%s{\"file\": \"l%02d.safetensors\", \"name\": \"L%02d\", \"weight\": 0.%d, "
                "\"trigger_words\": \"tw%02d\"}",
                i ? ", " : "", i, i, 1 + i % 9, i);
    fputs("]}", f);
    fclose(f);
    write_workflows();
    snprintf(W.cfg.loras_file, sizeof W.cfg.loras_file, "%s", T.loras);
    snprintf(W.cfg.workflows_dir, sizeof W.cfg.workflows_dir, "%s", T.wf);
    e2e_app_start(&W);
    *state = &W;
    return 0;
}

/* The one callback of an interaction, parsed. */
static cJSON *answer_of(uint64_t id)
{
    size_t n;
    cJSON *o = e2e_app_callback(&W, id, WAIT_MS, &n, NULL);
    assert_int_equal(n, 1); /* answered exactly once */
    fake_rest_ix_state st;
    assert_true(fake_rest_interaction_state(W.rest, id, &st));
    free(st.original_json);
    if (st.ack_type == 0) fprintf(stderr, "refused callback: %s\n", cJSON_PrintUnformatted(o));
    assert_int_not_equal(st.ack_type, 0); /* the fake Discord accepted it */
    return o;
}

static const cJSON *data_of(const cJSON *o)
{
    return cJSON_GetObjectItem(o, "data");
}

/* @original of an interaction once it contains `needle` (edits arrive after the ack). */
static cJSON *original_with(uint64_t id, const char *needle)
{
    return e2e_app_original_with(&W, id, needle, WAIT_MS);
}

/* The custom_id of the first component (in a message object) whose id contains `part`. */
static bool find_id(const cJSON *msg, const char *part, char *out, size_t cap)
{
    const cJSON *row, *it;
    cJSON_ArrayForEach(row, cJSON_GetObjectItem(msg, "components"))
    {
        cJSON_ArrayForEach(it, cJSON_GetObjectItem(row, "components"))
        {
            const char *id = cJSON_GetStringValue(cJSON_GetObjectItem(it, "custom_id"));
            if (id && strstr(id, part)) {
                snprintf(out, cap, "%s", id);
                return true;
            }
        }
    }
    return false;
}

static const cJSON *component(const cJSON *msg, const char *part)
{
    const cJSON *row, *it;
    cJSON_ArrayForEach(row, cJSON_GetObjectItem(msg, "components"))
    {
        cJSON_ArrayForEach(it, cJSON_GetObjectItem(row, "components"))
        {
            const char *id = cJSON_GetStringValue(cJSON_GetObjectItem(it, "custom_id"));
            if (id && strstr(id, part)) return it;
        }
    }
    return NULL;
}

/* The embed field value of the dialog called name. */
static const char *field_value(const cJSON *msg, const char *name)
{
    const cJSON *e = cJSON_GetArrayItem(cJSON_GetObjectItem(msg, "embeds"), 0);
    const cJSON *f;
    cJSON_ArrayForEach(f, cJSON_GetObjectItem(e, "fields"))
    {
        if (strncmp(cJSON_GetObjectItem(f, "name")->valuestring, name, strlen(name)) == 0)
            return cJSON_GetObjectItem(f, "value")->valuestring;
    }
    return NULL;
}

static bool prompts_at_least(const fake_comfy_stats *s, void *arg)
{
    return s->prompts_accepted >= *(unsigned *)arg;
}

/* The next graph the fake ComfyUI accepts, as JSON text (malloc'd). */
static char *next_graph(void)
{
    unsigned want = T.prompts + 1;
    assert_true(fake_comfy_wait(W.comfy, prompts_at_least, &want, WAIT_MS));
    char *g = fake_comfy_prompt_json(W.comfy, T.prompts);
    T.prompts++;
    assert_non_null(g);
    return g;
}

static const cJSON *node(const cJSON *graph, const char *id)
{
    return cJSON_GetObjectItem(cJSON_GetObjectItem(graph, id), "inputs");
}

/* /comfy, then its result's Options custom_id. */
static void first_result(void)
{
    fake_discord_ix ix;
    assert_int_equal(fake_discord_inject_command(W.fd, "comfy",
                                                 "[{\"name\":\"prompt\",\"type\":3,"
                                                 "\"value\":\"a quiet harbour\"},"
                                                 "{\"name\":\"resolution\",\"type\":3,"
                                                 "\"value\":\"1:1 [1024x1024 square]\"},"
                                                 "{\"name\":\"seed\",\"type\":4,\"value\":42}]",
                                                 NULL, 0, NULL, &ix),
                     0);
    free(next_graph());
    cJSON *res = original_with(ix.id, "fb:opt:");
    assert_true(find_id(res, "fb:opt:", T.result_opt, sizeof T.result_opt));
    /* beside Regenerate and Delete */
    assert_non_null(component(res, "fb:regen:"));
    assert_non_null(component(res, "fb:del:"));
    cJSON_Delete(res);
}

/* Clicks a component of the dialog; the answer parsed. */
static cJSON *click(const char *id, int ctype, const char *values, const fake_discord_member *who)
{
    fake_discord_ix ix;
    assert_int_equal(
        fake_discord_inject_component(W.fd, id, ctype, values, 900000000000000015ULL, who, &ix), 0);
    return answer_of(ix.id);
}

static cJSON *submit(const char *id, const char *fields)
{
    fake_discord_ix ix;
    assert_int_equal(fake_discord_inject_modal(W.fd, id, fields, 900000000000000015ULL, NULL, &ix),
                     0);
    return answer_of(ix.id);
}

/* Presses the Options button opt_id of a result; the dialog once loaded. */
static cJSON *open_dialog_of(const char *opt_id)
{
    fake_discord_ix ix;
    assert_int_equal(
        fake_discord_inject_component(W.fd, opt_id, 2, NULL, 900000000000000014ULL, NULL, &ix), 0);
    cJSON *a = answer_of(ix.id);
    assert_int_equal(e2e_app_cb_type(a), 5); /* "thinking", only for the presser */
    assert_int_equal(cJSON_GetObjectItem(data_of(a), "flags")->valueint, 64);
    cJSON_Delete(a);
    return original_with(ix.id, "fo:");
}

/* Presses Options on the first result. */
static cJSON *open_dialog(void)
{
    return open_dialog_of(T.result_opt);
}

static void round_trip(void **state)
{
    (void)state;
    first_result();
    cJSON *dlg = open_dialog();
    assert_string_equal(field_value(dlg, "Resolution"), "1:1 [1024x1024 square]");
    assert_string_equal(field_value(dlg, "Prompt"), "a quiet harbour");
    assert_string_equal(field_value(dlg, "Seed"), "42");
    assert_string_equal(field_value(dlg, "LoRAs"), "none");
    char res_id[101], lora0[101], next_id[101], edit_id[101], str_id[101], go_id[101];
    assert_true(find_id(dlg, ":res", res_id, sizeof res_id));
    assert_true(find_id(dlg, ":lora:0", lora0, sizeof lora0));
    assert_true(find_id(dlg, ":next:", next_id, sizeof next_id));
    assert_true(find_id(dlg, ":edit", edit_id, sizeof edit_id));
    assert_true(find_id(dlg, ":str", str_id, sizeof str_id));
    assert_true(find_id(dlg, ":go", go_id, sizeof go_id));
    /* the resolutions are config/ratios.json's labels; the page holds 25 LoRAs */
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(component(dlg, ":res"), "options")),
                     25);
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(component(dlg, ":lora:0"), "options")),
                     25);
    assert_int_equal(cJSON_GetObjectItem(component(dlg, ":lora:0"), "max_values")->valueint, 5);
    snprintf(T.old_go, sizeof T.old_go, "%s", go_id);
    cJSON_Delete(dlg);

    /* a resolution */
    cJSON *a = click(res_id, 3, "[\"16:9 [1344x768 landscape]\"]", NULL);
    assert_int_equal(e2e_app_cb_type(a), 7);
    assert_string_equal(field_value(data_of(a), "Resolution"), "16:9 [1344x768 landscape]");
    cJSON_Delete(a);

    /* three LoRAs on page 1, then page 2 */
    a = click(lora0, 3, "[\"L00\",\"L03\",\"L24\"]", NULL);
    assert_int_equal(e2e_app_cb_type(a), 7);
    assert_string_equal(field_value(data_of(a), "LoRAs"), "L00 (0.10), L03 (0.40), L24 (0.70)");
    cJSON_Delete(a);
    a = click(next_id, 2, NULL, NULL);
    assert_int_equal(e2e_app_cb_type(a), 7);
    char lora1[101];
    assert_true(find_id(data_of(a), ":lora:1", lora1, sizeof lora1));
    const cJSON *sel = component(data_of(a), ":lora:1");
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(sel, "options")), 5);
    assert_int_equal(cJSON_GetObjectItem(sel, "max_values")->valueint, 2); /* 5 - 3 */
    cJSON_Delete(a);
    /* a sixth is refused, the settings stay */
    a = click(lora1, 3, "[\"L25\",\"L26\",\"L27\"]", NULL);
    assert_int_equal(e2e_app_cb_type(a), 7);
    assert_non_null(
        strstr(cJSON_GetObjectItem(data_of(a), "content")->valuestring, "At most 5 LoRAs"));
    assert_string_equal(field_value(data_of(a), "LoRAs"), "L00 (0.10), L03 (0.40), L24 (0.70)");
    cJSON_Delete(a);
    a = click(lora1, 3, "[\"L26\",\"L29\"]", NULL);
    assert_int_equal(e2e_app_cb_type(a), 7);
    assert_non_null(strstr(field_value(data_of(a), "LoRAs"), "L26 (0.90), L29 (0.30)"));
    /* with five chosen, page 2's menu still lets them be removed (2 defaults, max 2) */
    sel = component(data_of(a), ":lora:1");
    assert_int_equal(cJSON_GetObjectItem(sel, "max_values")->valueint, 2);
    cJSON_Delete(a);

    /* the prompt modal, pre-filled, then submitted */
    a = click(edit_id, 2, NULL, NULL);
    assert_int_equal(e2e_app_cb_type(a), 9);
    char *modal = cJSON_PrintUnformatted(a);
    assert_non_null(strstr(modal, "\"value\":\"a quiet harbour\""));
    assert_non_null(strstr(modal, "\"custom_id\":\"negative\""));
    assert_non_null(strstr(modal, "\"value\":\"42\""));
    char modal_id[101];
    snprintf(modal_id, sizeof modal_id, "%s",
             cJSON_GetObjectItem(data_of(a), "custom_id")->valuestring);
    free(modal);
    cJSON_Delete(a);
    a = submit(modal_id, "{\"prompt\":\"a red fox in snow\",\"negative\":\"blurry, text\","
                         "\"seed\":\"12345\"}");
    assert_int_equal(e2e_app_cb_type(a), 7);
    assert_string_equal(field_value(data_of(a), "Prompt"), "a red fox in snow");
    assert_string_equal(field_value(data_of(a), "Negative prompt"), "blurry, text");
    assert_string_equal(field_value(data_of(a), "Seed"), "12345");
    cJSON_Delete(a);
    /* a bad seed is refused with a reason */
    a = submit(modal_id, "{\"prompt\":\"a red fox in snow\",\"negative\":\"\",\"seed\":\"-4\"}");
    assert_int_equal(e2e_app_cb_type(a), 7);
    assert_non_null(strstr(cJSON_GetObjectItem(data_of(a), "content")->valuestring, "seed"));
    assert_string_equal(field_value(data_of(a), "Seed"), "12345");
    cJSON_Delete(a);

    /* strengths: one field per LoRA */
    a = click(str_id, 2, NULL, NULL);
    assert_int_equal(e2e_app_cb_type(a), 9);
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(data_of(a), "components")), 5);
    char smodal_id[101];
    snprintf(smodal_id, sizeof smodal_id, "%s",
             cJSON_GetObjectItem(data_of(a), "custom_id")->valuestring);
    cJSON_Delete(a);
    a = submit(smodal_id, "{\"s0\":\"0.35\",\"s1\":\"0.40\",\"s2\":\"0.70\",\"s3\":\"1.25\","
                          "\"s4\":\"0.30\"}");
    assert_int_equal(e2e_app_cb_type(a), 7);
    assert_non_null(strstr(field_value(data_of(a), "LoRAs"), "L00 (0.35)"));
    assert_non_null(strstr(field_value(data_of(a), "LoRAs"), "L26 (1.25)"));
    cJSON_Delete(a);

    /* Regenerate: a public "thinking", then a job with everything */
    a = click(go_id, 2, NULL, NULL);
    assert_int_equal(e2e_app_cb_type(a), 5);
    assert_null(cJSON_GetObjectItem(data_of(a), "flags"));
    cJSON_Delete(a);
    char *g = next_graph();
    cJSON *graph = cJSON_Parse(g);
    assert_non_null(graph);
    assert_int_equal(cJSON_GetObjectItem(node(graph, "27"), "width")->valueint, 1344);
    assert_int_equal(cJSON_GetObjectItem(node(graph, "27"), "height")->valueint, 768);
    assert_int_equal(cJSON_GetObjectItem(node(graph, "25"), "noise_seed")->valuedouble, 12345);
    const char *text = cJSON_GetObjectItem(node(graph, "6"), "text")->valuestring;
    assert_non_null(strstr(text, "a red fox in snow"));
    assert_non_null(strstr(text, "tw00")); /* trigger words of the chosen LoRAs */
    assert_non_null(strstr(text, "tw29"));
    assert_null(strstr(text, "harbour"));
    assert_string_equal(cJSON_GetObjectItem(node(graph, "7"), "text")->valuestring, "blurry, text");
    /* five LoRA loaders with the files and strengths */
    static const char *const files[5] = {"l00.safetensors", "l03.safetensors", "l24.safetensors",
                                         "l26.safetensors", "l29.safetensors"};
    static const double strengths[5] = {0.35, 0.40, 0.70, 1.25, 0.30};
    unsigned found = 0;
    const cJSON *n;
    cJSON_ArrayForEach(n, graph)
    {
        const cJSON *in = cJSON_GetObjectItem(n, "inputs");
        const cJSON *ln = cJSON_GetObjectItem(in, "lora_name");
        if (!cJSON_IsString(ln)) continue;
        for (int i = 0; i < 5; i++)
            if (strcmp(ln->valuestring, files[i]) == 0) {
                double s = cJSON_GetObjectItem(in, "strength_model")->valuedouble;
                assert_true(s > strengths[i] - 1e-9 && s < strengths[i] + 1e-9);
                found++;
            }
    }
    assert_int_equal(found, 5);
    cJSON_Delete(graph);
    free(g);
}

static void others_refused(void **state)
{
    (void)state;
    fake_discord_member other = {.user_id = OTHER_USER, .username = "someone"};
    cJSON *a = click(T.result_opt, 2, NULL, &other);
    assert_int_equal(e2e_app_cb_type(a), 4);
    assert_int_equal(cJSON_GetObjectItem(data_of(a), "flags")->valueint, 64);
    assert_non_null(strstr(cJSON_GetObjectItem(data_of(a), "content")->valuestring,
                           "Only the person who asked for this result"));
    cJSON_Delete(a);
    /* the dialog's own buttons too (its custom_ids reached someone else) */
    a = click(T.old_go, 2, NULL, &other);
    assert_int_equal(e2e_app_cb_type(a), 4);
    assert_int_equal(cJSON_GetObjectItem(data_of(a), "flags")->valueint, 64);
    assert_non_null(strstr(cJSON_GetObjectItem(data_of(a), "content")->valuestring,
                           "Only the person who asked for this result"));
    cJSON_Delete(a);
}

/* One integer from the stopped bot's database. */
static long long db_int(const char *sql)
{
    sqlite3 *db;
    assert_int_equal(sqlite3_open_v2(W.db, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    sqlite3_stmt *st;
    assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    long long v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    sqlite3_close(db);
    return v;
}

static void after_restart(void **state)
{
    (void)state;
    assert_int_equal(app_stop(W.a), 0);
    W.a = NULL;
    /* analytics, with everything flushed: the presses are buttons and modals, never commands;
     * the regenerated job is an image like any other, with its options */
    assert_int_equal(db_int("SELECT count(*) FROM command_usage WHERE kind = 'command'"), 1);
    assert_int_equal(db_int("SELECT count(*) FROM command_usage WHERE command_name = "
                            "'button:options' AND kind = 'button'"),
                     2); /* the requester's, and the refused one of another user */
    assert_int_equal(db_int("SELECT count(*) FROM command_usage WHERE command_name = "
                            "'button:options_go' AND kind = 'button' AND success = 1"),
                     1);
    assert_int_equal(db_int("SELECT count(*) FROM command_usage WHERE command_name = "
                            "'modal:options' AND kind = 'modal'"),
                     3);
    assert_int_equal(db_int("SELECT count(*) FROM image_stats WHERE success = 1"), 2);
    assert_int_equal(db_int("SELECT count(*) FROM image_stats WHERE resolution = "
                            "'16:9 [1344x768 landscape]' AND loras LIKE '%L00%L29%' "
                            "AND prompt LIKE 'a red fox in snow%'"),
                     1);
    e2e_app_start(&W); /* a new bot, the same database */
    /* the dialog opened before the restart is gone, and says so */
    cJSON *a = click(T.old_go, 2, NULL, NULL);
    assert_int_equal(e2e_app_cb_type(a), 4);
    assert_int_equal(cJSON_GetObjectItem(data_of(a), "flags")->valueint, 64);
    assert_non_null(strstr(cJSON_GetObjectItem(data_of(a), "content")->valuestring, "expired"));
    cJSON_Delete(a);
    /* Options of the first result, read back from the results table */
    cJSON *dlg = open_dialog();
    assert_string_equal(field_value(dlg, "Prompt"), "a quiet harbour");
    assert_string_equal(field_value(dlg, "Seed"), "42");
    char go_id[101];
    assert_true(find_id(dlg, ":go", go_id, sizeof go_id));
    cJSON_Delete(dlg);
    a = click(go_id, 2, NULL, NULL);
    assert_int_equal(e2e_app_cb_type(a), 5);
    cJSON_Delete(a);
    char *g = next_graph();
    cJSON *graph = cJSON_Parse(g);
    assert_non_null(
        strstr(cJSON_GetObjectItem(node(graph, "6"), "text")->valuestring, "a quiet harbour"));
    assert_int_equal(cJSON_GetObjectItem(node(graph, "25"), "noise_seed")->valuedouble, 42);
    assert_int_equal(cJSON_GetObjectItem(node(graph, "27"), "width")->valueint, 1024);
    cJSON_Delete(graph);
    free(g);
}

/* A command's LoRA options take a strength each; without one, the loras.json weight. */
static void command_lora_strength(void **state)
{
    (void)state;
    fake_discord_ix ix;
    assert_int_equal(
        fake_discord_inject_command(W.fd, "comfy",
                                    "[{\"name\":\"prompt\",\"type\":3,"
                                    "\"value\":\"a lighthouse\"},"
                                    "{\"name\":\"resolution\",\"type\":3,"
                                    "\"value\":\"1:1 [1024x1024 square]\"},"
                                    "{\"name\":\"lora\",\"type\":3,\"value\":\"L05\"},"
                                    "{\"name\":\"lora2\",\"type\":3,\"value\":\"L07\"},"
                                    "{\"name\":\"lora_strength\",\"type\":10,"
                                    "\"value\":1.5}]",
                                    NULL, 0, NULL, &ix),
        0);
    char *g = next_graph();
    cJSON *graph = cJSON_Parse(g);
    double s05 = -9, s07 = -9;
    const cJSON *n;
    cJSON_ArrayForEach(n, graph)
    {
        const cJSON *in = cJSON_GetObjectItem(n, "inputs");
        const char *ln = cJSON_GetStringValue(cJSON_GetObjectItem(in, "lora_name"));
        if (!ln) continue;
        double s = cJSON_GetObjectItem(in, "strength_model")->valuedouble;
        if (strcmp(ln, "l05.safetensors") == 0) s05 = s;
        if (strcmp(ln, "l07.safetensors") == 0) s07 = s;
    }
    assert_true(s05 > 1.5 - 1e-9 && s05 < 1.5 + 1e-9);
    assert_true(s07 > 0.5 - 1e-9 && s07 < 0.5 + 1e-9); /* its weight 0.8, capped when stacked */
    cJSON_Delete(graph);
    free(g);
    /* the result shows them */
    cJSON *res = original_with(ix.id, "fb:opt:");
    char *t = cJSON_PrintUnformatted(res);
    assert_non_null(strstr(t, "L05 (1.50), L07 (0.50)"));
    free(t);
    cJSON_Delete(res);
    /* out of range, or without its LoRA: refused at once */
    assert_int_equal(fake_discord_inject_command(W.fd, "comfy",
                                                 "[{\"name\":\"prompt\",\"type\":3,"
                                                 "\"value\":\"a lighthouse\"},"
                                                 "{\"name\":\"resolution\",\"type\":3,"
                                                 "\"value\":\"1:1 [1024x1024 square]\"},"
                                                 "{\"name\":\"lora2_strength\",\"type\":10,"
                                                 "\"value\":0.5}]",
                                                 NULL, 0, NULL, &ix),
                     0);
    cJSON *a = answer_of(ix.id);
    assert_int_equal(e2e_app_cb_type(a), 4);
    assert_non_null(
        strstr(cJSON_GetObjectItem(data_of(a), "content")->valuestring, "lora2_strength"));
    cJSON_Delete(a);
}

/* /video declares its negative prompt as an option (its mapping has none): the dialog offers it
 * like a mapped one, also for a result read back after a restart (its declaration found by the
 * command's name), and the regenerated video has the new one and the result's other options. */
static void video_negative_prompt(void **state)
{
    (void)state;
    fake_discord_ix ix;
    assert_int_equal(fake_discord_inject_command(
                         W.fd, "video",
                         "[{\"name\":\"prompt\",\"type\":3,\"value\":\"waves on a pier\"},"
                         "{\"name\":\"negative_prompt\",\"type\":3,\"value\":\"people\"},"
                         "{\"name\":\"length\",\"type\":4,\"value\":33},"
                         "{\"name\":\"seed\",\"type\":4,\"value\":9}]",
                         NULL, 0, NULL, &ix),
                     0);
    char *g = next_graph();
    cJSON *graph = cJSON_Parse(g);
    free(g);
    assert_string_equal(cJSON_GetObjectItem(node(graph, "7"), "text")->valuestring, "people");
    cJSON_Delete(graph);
    cJSON *res = original_with(ix.id, "fb:opt:");
    char opt_id[101];
    assert_true(find_id(res, "fb:opt:", opt_id, sizeof opt_id));
    cJSON_Delete(res);
    /* a new bot on the same database: the result comes from the results table */
    assert_int_equal(app_stop(W.a), 0);
    W.a = NULL;
    e2e_app_start(&W);
    cJSON *dlg = open_dialog_of(opt_id);
    assert_string_equal(field_value(dlg, "Prompt"), "waves on a pier");
    assert_string_equal(field_value(dlg, "Negative prompt"), "people");
    assert_string_equal(field_value(dlg, "Seed"), "9");
    char edit_id[101], go_id[101];
    assert_true(find_id(dlg, ":edit", edit_id, sizeof edit_id));
    assert_true(find_id(dlg, ":go", go_id, sizeof go_id));
    cJSON_Delete(dlg);
    cJSON *a = click(edit_id, 2, NULL, NULL);
    assert_int_equal(e2e_app_cb_type(a), 9);
    char *modal = cJSON_PrintUnformatted(a);
    assert_non_null(strstr(modal, "\"custom_id\":\"negative\""));
    assert_non_null(strstr(modal, "\"value\":\"people\""));
    free(modal);
    char modal_id[101];
    snprintf(modal_id, sizeof modal_id, "%s",
             cJSON_GetObjectItem(data_of(a), "custom_id")->valuestring);
    cJSON_Delete(a);
    a = submit(modal_id,
               "{\"prompt\":\"waves on a pier\",\"negative\":\"shaky camera\",\"seed\":\"9\"}");
    assert_int_equal(e2e_app_cb_type(a), 7);
    assert_string_equal(field_value(data_of(a), "Negative prompt"), "shaky camera");
    cJSON_Delete(a);
    a = click(go_id, 2, NULL, NULL);
    assert_int_equal(e2e_app_cb_type(a), 5);
    cJSON_Delete(a);
    g = next_graph();
    graph = cJSON_Parse(g);
    free(g);
    assert_non_null(graph);
    assert_string_equal(cJSON_GetObjectItem(node(graph, "7"), "text")->valuestring, "shaky camera");
    assert_string_equal(cJSON_GetObjectItem(node(graph, "6"), "text")->valuestring,
                        "waves on a pier");
    assert_int_equal(cJSON_GetObjectItem(node(graph, "40"), "length")->valueint, 33);
    cJSON_Delete(graph);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(round_trip),
        cmocka_unit_test(others_refused),
        cmocka_unit_test(after_restart),
        cmocka_unit_test(command_lora_strength),
        cmocka_unit_test(video_negative_prompt),
    };
    return cmocka_run_group_tests(tests, setup, e2e_app_teardown);
}
