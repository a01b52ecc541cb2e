/* The command table's JSON against the documented limits, and the validator against arrays
 * real Discord would refuse. */
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

#include "comfy/decl.h"
#include "discord/cmd.h"

/* The bulk PUT body as the bot sends it: the shipped declarations (workflows/) and the table. */
static char *table_json_dms(const char *const *labels, unsigned n, cmd_dms_fn dms, void *ctx,
                            char *err, size_t errlen)
{
    decl_set set;
    if (decl_set_load(&set, FLUXBOT_SOURCE_DIR "/workflows", err, errlen) != 0) return NULL;
    const cmd_def *defs[DECL_MAX_COMMANDS];
    unsigned nd = decl_set_defs(&set, defs, DECL_MAX_COMMANDS);
    char *s = cmd_table_json_all(defs, nd, labels, n, dms, ctx, err, errlen);
    decl_set_free(&set);
    return s;
}

static char *table_json(const char *const *labels, unsigned n, char *err, size_t errlen)
{
    return table_json_dms(labels, n, NULL, NULL, err, errlen);
}

static const char *LABELS[] = {"1024x1024 (1:1)",  "1152x896 (9:7)", "896x1152 (7:9)",
                               "1216x832 (19:13)", "1344x768 (7:4)", "1536x640 (12:5)"};

static cJSON *find_cmd(cJSON *arr, const char *name)
{
    cJSON *c;
    cJSON_ArrayForEach(c, arr) if (strcmp(cJSON_GetStringValue(cJSON_GetObjectItem(c, "name")),
                                          name) == 0) return c;
    return NULL;
}

static cJSON *find_opt(cJSON *cmd, const char *name)
{
    cJSON *o;
    cJSON_ArrayForEach(
        o, cJSON_GetObjectItem(
               cmd, "options")) if (strcmp(cJSON_GetStringValue(cJSON_GetObjectItem(o, "name")),
                                           name) == 0) return o;
    return NULL;
}

static void test_table_json(void **state)
{
    (void)state;
    char err[200] = "";
    char *s = table_json(LABELS, 6, err, sizeof err);
    if (!s) fail_msg("%s", err);
    assert_int_equal(cmd_validate_json(s, strlen(s), err, sizeof err), 0);
    cJSON *arr = cJSON_Parse(s);
    assert_int_equal(cJSON_GetArraySize(arr), 16);
    const char *names[] = {"comfy",    "redux",       "pulid",  "reduxprompt", "video",  "queue",
                           "stats",    "filter",      "ban",    "unban",       "banned", "warnings",
                           "lorainfo", "reset_stats", "cancel", "priority"};
    for (int i = 0; i < 16; i++) {
        cJSON *c = find_cmd(arr, names[i]);
        assert_non_null(c);
        assert_int_equal((int)cJSON_GetObjectItem(c, "type")->valuedouble, 1);
        /* The bot checks permissions itself; nothing is restricted server-side. */
        assert_null(cJSON_GetObjectItem(c, "default_member_permissions"));
    }

    /* /cancel [user]: the user is optional (default: the caller) */
    cJSON *cancel_user = find_opt(find_cmd(arr, "cancel"), "user");
    assert_non_null(cancel_user);
    assert_int_equal((int)cJSON_GetObjectItem(cancel_user, "type")->valuedouble, 6);
    assert_false(cJSON_IsTrue(cJSON_GetObjectItem(cancel_user, "required")));
    /* /queue show and /queue clear; /priority user [level high|normal|low] */
    cJSON *queue = find_cmd(arr, "queue");
    assert_int_equal((int)cJSON_GetObjectItem(find_opt(queue, "show"), "type")->valuedouble, 1);
    assert_int_equal((int)cJSON_GetObjectItem(find_opt(queue, "clear"), "type")->valuedouble, 1);
    cJSON *level = find_opt(find_cmd(arr, "priority"), "level");
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(level, "choices")), 3);
    assert_true(
        cJSON_IsTrue(cJSON_GetObjectItem(find_opt(find_cmd(arr, "priority"), "user"), "required")));

    cJSON *comfy = find_cmd(arr, "comfy");
    const char *order[] = {"prompt",         "resolution",     "upscale_factor", "seed",
                           "lora",           "lora2",          "lora3",          "lora_strength",
                           "lora2_strength", "lora3_strength", "steps",          "cfg",
                           "model",          "batch_size",     "enhance"};
    int i = 0;
    cJSON *o;
    cJSON_ArrayForEach(o, cJSON_GetObjectItem(comfy, "options"))
        assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(o, "name")), order[i++]);
    cJSON *res = find_opt(comfy, "resolution");
    assert_true(cJSON_IsTrue(cJSON_GetObjectItem(res, "required")));
    cJSON *choices = cJSON_GetObjectItem(res, "choices");
    assert_int_equal(cJSON_GetArraySize(choices), 6);
    assert_string_equal(
        cJSON_GetStringValue(cJSON_GetObjectItem(cJSON_GetArrayItem(choices, 3), "value")),
        "1216x832 (19:13)");
    assert_null(cJSON_GetObjectItem(res, "autocomplete"));
    assert_true(cJSON_IsTrue(cJSON_GetObjectItem(find_opt(comfy, "lora2"), "autocomplete")));
    /* each LoRA option has its strength, a number from -2 to 2 */
    cJSON *ls = find_opt(comfy, "lora2_strength");
    assert_int_equal((int)cJSON_GetObjectItem(ls, "type")->valuedouble, 10);
    assert_true(cJSON_GetObjectItem(ls, "min_value")->valuedouble == -2.0);
    assert_true(cJSON_GetObjectItem(ls, "max_value")->valuedouble == 2.0);
    cJSON *up = find_opt(comfy, "upscale_factor");
    assert_int_equal((int)cJSON_GetObjectItem(up, "type")->valuedouble, 4);
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(up, "choices")), 4);
    assert_int_equal(
        (int)cJSON_GetObjectItem(cJSON_GetArrayItem(cJSON_GetObjectItem(up, "choices"), 3), "value")
            ->valuedouble,
        4);

    cJSON *redux = find_cmd(arr, "redux");
    assert_int_equal((int)cJSON_GetObjectItem(find_opt(redux, "image1"), "type")->valuedouble, 11);
    cJSON *s1 = find_opt(redux, "strength1");
    assert_int_equal((int)cJSON_GetObjectItem(s1, "type")->valuedouble, 10);
    assert_true(cJSON_GetObjectItem(s1, "min_value")->valuedouble == 0.1);
    assert_true(cJSON_GetObjectItem(s1, "max_value")->valuedouble == 1.0);

    cJSON *pulid = find_cmd(arr, "pulid");
    assert_int_equal((int)cJSON_GetObjectItem(find_opt(pulid, "image"), "type")->valuedouble, 11);
    assert_non_null(find_opt(pulid, "strength"));
    assert_non_null(find_opt(pulid, "upscale_factor"));

    cJSON *stats = find_cmd(arr, "stats");
    cJSON *days = find_opt(stats, "days");
    assert_int_equal((int)cJSON_GetObjectItem(days, "min_value")->valuedouble, 1);
    assert_int_equal((int)cJSON_GetObjectItem(days, "max_value")->valuedouble, 365);
    assert_false(cJSON_IsTrue(cJSON_GetObjectItem(days, "required")));
    cJSON_Delete(arr);
    free(s);

    /* The table matches its lookup helpers. */
    const cmd_def *d = cmd_find(CMD_STATS);
    assert_non_null(d);
    assert_non_null(cmd_find_option(d, "days"));
    /* The generation commands are declarations (comfy/decl.h), not table entries. */
    assert_null(cmd_find("comfy"));
    assert_null(cmd_find("nope"));
}

static void test_resolution_autocomplete_fallback(void **state)
{
    (void)state;
    const char *labels[30];
    char buf[30][16];
    for (int i = 0; i < 30; i++) {
        snprintf(buf[i], sizeof buf[i], "r%d", i);
        labels[i] = buf[i];
    }
    char err[200];
    assert_true(cmd_resolution_autocomplete(30));
    assert_false(cmd_resolution_autocomplete(25));
    char *s = table_json(labels, 30, err, sizeof err);
    assert_non_null(s);
    cJSON *arr = cJSON_Parse(s);
    cJSON *res = find_opt(find_cmd(arr, "comfy"), "resolution");
    assert_true(cJSON_IsTrue(cJSON_GetObjectItem(res, "autocomplete")));
    assert_null(cJSON_GetObjectItem(res, "choices"));
    cJSON_Delete(arr);
    free(s);
    s = table_json(labels, 25, err, sizeof err);
    assert_non_null(s);
    free(s);

    const char *bad[] = {"ok", ""};
    assert_null(table_json(bad, 2, err, sizeof err));
    const char *dup[] = {"a", "a"};
    assert_null(table_json(dup, 2, err, sizeof err));
    assert_non_null(strstr(err, "twice"));
}

static void test_register_path(void **state)
{
    (void)state;
    char p[128];
    assert_true(cmd_register_path(11, 0, p, sizeof p) > 0);
    assert_string_equal(p, "/applications/11/commands");
    assert_true(cmd_register_path(11, 22, p, sizeof p) > 0);
    assert_string_equal(p, "/applications/11/guilds/22/commands");
    assert_int_equal(cmd_register_path(11, 22, p, 10), -1);
}

static void expect_invalid(const char *json, const char *needle)
{
    char err[256] = "";
    if (cmd_validate_json(json, strlen(json), err, sizeof err) != -1)
        fail_msg("accepted: %s", json);
    if (needle && !strstr(err, needle)) fail_msg("error \"%s\" lacks \"%s\"", err, needle);
}

static void test_validator_rejects(void **state)
{
    (void)state;
    char err[128];
    const char *ok = "[{\"name\":\"a\",\"description\":\"d\",\"options\":[{\"type\":3,\"name\":"
                     "\"x\",\"description\":\"d\",\"required\":true}]}]";
    assert_int_equal(cmd_validate_json(ok, strlen(ok), err, sizeof err), 0);
    expect_invalid("{}", "array");
    expect_invalid("[{\"name\":\"Comfy\",\"description\":\"d\"}]", "lowercase");
    expect_invalid("[{\"name\":\"has space\",\"description\":\"d\"}]", "lowercase");
    expect_invalid("[{\"name\":\"abcdefghijklmnopqrstuvwxyzabcdefg\",\"description\":\"d\"}]",
                   "1..32");
    expect_invalid("[{\"name\":\"a\",\"description\":\"\"}]", "description");
    expect_invalid("[{\"name\":\"a\"}]", "description is required");
    expect_invalid(
        "[{\"name\":\"a\",\"description\":\"d\"},{\"name\":\"a\",\"description\":\"e\"}]", "twice");
    expect_invalid("[{\"name\":\"a\",\"description\":\"d\",\"options\":[{\"type\":3,\"name\":\"x\","
                   "\"description\":\"d\"},{\"type\":3,\"name\":\"y\",\"description\":\"d\","
                   "\"required\":true}]}]",
                   "before optional");
    expect_invalid("[{\"name\":\"a\",\"description\":\"d\",\"options\":[{\"type\":3,\"name\":\"x\","
                   "\"description\":\"d\",\"autocomplete\":true,\"choices\":[{\"name\":\"n\","
                   "\"value\":\"v\"}]}]}]",
                   "autocomplete cannot");
    expect_invalid("[{\"name\":\"a\",\"description\":\"d\",\"options\":[{\"type\":4,\"name\":\"x\","
                   "\"description\":\"d\",\"choices\":[{\"name\":\"n\",\"value\":\"v\"}]}]}]",
                   "match the option type");
    expect_invalid("[{\"name\":\"a\",\"description\":\"d\",\"options\":[{\"type\":3,\"name\":\"x\","
                   "\"description\":\"d\",\"min_value\":1}]}]",
                   "min/max_value");
    expect_invalid("[{\"name\":\"a\",\"description\":\"d\",\"options\":[{\"type\":4,\"name\":\"x\","
                   "\"description\":\"d\",\"min_value\":5,\"max_value\":1}]}]",
                   "exceeds");
    expect_invalid("[{\"name\":\"a\",\"description\":\"d\",\"options\":[{\"type\":4,\"name\":\"x\","
                   "\"description\":\"d\",\"max_value\":1e300}]}]",
                   "out of range");
    expect_invalid("[{\"name\":\"a\",\"description\":\"d\",\"options\":[{\"type\":3,\"name\":\"x\","
                   "\"description\":\"d\",\"max_length\":6001}]}]",
                   "max_length");
    expect_invalid("[{\"name\":\"a\",\"description\":\"d\",\"options\":[{\"type\":3,\"name\":\"x\","
                   "\"description\":\"d\"},{\"type\":3,\"name\":\"x\",\"description\":\"d\"}]}]",
                   "twice");
    expect_invalid(
        "[{\"name\":\"a\",\"description\":\"d\",\"options\":[{\"type\":12,\"name\":\"x\","
        "\"description\":\"d\"}]}]",
        "type");
    expect_invalid("[{\"name\":\"a\",\"description\":\"d\",\"default_member_permissions\":8}]",
                   "default_member_permissions");

    /* 26 choices. */
    char buf[8192];
    size_t o = (size_t)snprintf(buf, sizeof buf,
                                "[{\"name\":\"a\",\"description\":\"d\",\"options\":["
                                "{\"type\":3,\"name\":\"x\",\"description\":\"d\","
                                "\"choices\":[");
    for (int i = 0; i < 26; i++)
        o += (size_t)snprintf(buf + o, sizeof buf - o, "%s{\"name\":\"c%d\",\"value\":\"v%d\"}",
                              i ? "," : "", i, i);
    snprintf(buf + o, sizeof buf - o, "]}]}]");
    expect_invalid(buf, "at most 25");

    /* More than 4000 characters over one command. */
    o = (size_t)snprintf(buf, sizeof buf, "[{\"name\":\"a\",\"description\":\"d\",\"options\":[");
    for (int i = 0; i < 25; i++) {
        char desc[101];
        memset(desc, 'x', 100);
        desc[100] = '\0';
        char nm[33];
        memset(nm, 'n', 30);
        snprintf(nm + 30, 3, "%02d", i);
        o += (size_t)snprintf(buf + o, sizeof buf - o,
                              "%s{\"type\":3,\"name\":\"%s\",\"description\":\"%s\"}", i ? "," : "",
                              nm, desc);
    }
    snprintf(buf + o, sizeof buf - o, "]}]");
    assert_int_equal(cmd_validate_json(buf, strlen(buf), err, sizeof err), 0); /* 25*132+2 < 4000 */
    /* ...pushed over with choices. */
    o = (size_t)snprintf(buf, sizeof buf, "[{\"name\":\"a\",\"description\":\"d\",\"options\":[");
    for (int k = 0; k < 2; k++) {
        o += (size_t)snprintf(buf + o, sizeof buf - o,
                              "%s{\"type\":3,\"name\":\"o%d\",\"description\":\"d\",\"choices\":[",
                              k ? "," : "", k);
        for (int i = 0; i < 25; i++)
            o += (size_t)snprintf(buf + o, sizeof buf - o,
                                  "%s{\"name\":\"%080d\",\"value\":\"%02d\"}", i ? "," : "", i, i);
        o += (size_t)snprintf(buf + o, sizeof buf - o, "]}");
    }
    snprintf(buf + o, sizeof buf - o, "]}]");
    expect_invalid(buf, "4000");
}

static bool dms_for_queue_and_warnings(void *ctx, const char *command)
{
    (void)ctx;
    return strcmp(command, "queue") == 0 || strcmp(command, "warnings") == 0;
}

/* The moderation commands are sub-command trees, and DM availability becomes `contexts`. */
static void test_moderation_commands_and_contexts(void **state)
{
    (void)state;
    char err[200] = "";
    char *s = table_json_dms(LABELS, 6, dms_for_queue_and_warnings, NULL, err, sizeof err);
    if (!s) fail_msg("%s", err);
    cJSON *arr = cJSON_Parse(s);
    cJSON *filter = find_cmd(arr, "filter");
    cJSON *word = find_opt(filter, "word");
    assert_int_equal((int)cJSON_GetObjectItem(word, "type")->valuedouble, 2);
    cJSON *add = find_opt(word, "add");
    assert_int_equal((int)cJSON_GetObjectItem(add, "type")->valuedouble, 1);
    assert_non_null(find_opt(add, "word"));
    cJSON *regex_add = find_opt(find_opt(filter, "regex"), "add");
    cJSON *sev = find_opt(regex_add, "severity");
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(sev, "choices")), 3);
    cJSON *user = find_opt(find_cmd(arr, "ban"), "user");
    assert_int_equal((int)cJSON_GetObjectItem(user, "type")->valuedouble, 6);
    assert_true(cJSON_IsTrue(cJSON_GetObjectItem(user, "required")));
    assert_non_null(find_opt(find_opt(find_cmd(arr, "warnings"), "clear"), "user"));
    const char *names[] = {"comfy", "queue", "warnings", "ban"};
    int want[] = {1, 2, 2, 1};
    for (int i = 0; i < 4; i++) {
        cJSON *ctx = cJSON_GetObjectItem(find_cmd(arr, names[i]), "contexts");
        assert_int_equal(cJSON_GetArraySize(ctx), want[i]);
        assert_int_equal((int)cJSON_GetArrayItem(ctx, 0)->valuedouble, 0);
        if (want[i] == 2) assert_int_equal((int)cJSON_GetArrayItem(ctx, 1)->valuedouble, 1);
    }
    cJSON_Delete(arr);
    free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_table_json),
        cmocka_unit_test(test_resolution_autocomplete_fallback),
        cmocka_unit_test(test_register_path),
        cmocka_unit_test(test_validator_rejects),
        cmocka_unit_test(test_moderation_commands_and_contexts),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
