/* /stats and /reset_stats driven without Discord: the days option, the embed and its limits,
 * the reset permission rule, the confirmation store and the reply payloads. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analytics/an_commands.h"
#include "discord/embed.h"
#include "analytics/an_confirm.h"
#include "analytics/an_time.h"
#include "discord/stats_reply.h"
#include "util/util_utf8.h"

#define NOW 1710082800000LL /* 2024-03-10 15:00:00 UTC */

/* ---- days -------------------------------------------------------------------------------- */

static an_days_result days_json(const char *options_json)
{
    cJSON *o = cJSON_Parse(options_json);
    assert_non_null(o);
    an_days_result r = an_days_from_options(o);
    cJSON_Delete(o);
    return r;
}

static void assert_days_ok(const char *json, int want)
{
    an_days_result r = days_json(json);
    if (!r.ok) fprintf(stderr, "%s -> %s\n", json, r.error);
    assert_true(r.ok);
    assert_int_equal(r.days, want);
}

static void assert_days_bad(const char *json)
{
    an_days_result r = days_json(json);
    assert_false(r.ok);
    assert_non_null(strstr(r.error, "from 1 to 365"));
}

static void test_days_option(void **state)
{
    (void)state;
    an_days_result r = an_days_from_options(NULL);
    assert_true(r.ok && r.days == 7);
    assert_days_ok("[]", 7);
    assert_days_ok("[{\"name\":\"other\",\"type\":4,\"value\":3}]", 7);
    assert_days_ok("[{\"name\":\"days\",\"type\":4,\"value\":30}]", 30);
    assert_days_ok("[{\"name\":\"x\",\"type\":3,\"value\":\"a\"},"
                   "{\"name\":\"days\",\"type\":4,\"value\":1}]",
                   1);
    assert_days_ok("[{\"name\":\"days\",\"type\":4,\"value\":365}]", 365);
    assert_days_ok("[{\"name\":\"days\",\"type\":3,\"value\":\"12\"}]", 12);
    assert_days_bad("[{\"name\":\"days\",\"type\":4,\"value\":0}]");
    assert_days_bad("[{\"name\":\"days\",\"type\":4,\"value\":366}]");
    assert_days_bad("[{\"name\":\"days\",\"type\":4,\"value\":-5}]");
    assert_days_bad("[{\"name\":\"days\",\"type\":10,\"value\":2.5}]");
    assert_days_bad("[{\"name\":\"days\",\"type\":4,\"value\":1e300}]");
    assert_days_bad("[{\"name\":\"days\",\"type\":3,\"value\":\"abc\"}]");
    assert_days_bad("[{\"name\":\"days\",\"type\":3,\"value\":\"7 days\"}]");
    assert_days_bad("[{\"name\":\"days\",\"type\":5,\"value\":true}]");
    assert_days_bad("[{\"name\":\"days\",\"type\":4,\"value\":[7]}]");
    r = days_json("[{\"name\":\"days\",\"type\":4,\"value\":0}]");
    assert_non_null(strstr(r.error, "(got 0)"));

    r = an_days_from_text("30");
    assert_true(r.ok && r.days == 30);
    const char *bad[] = {"", "0", "366", "-1", "+3", " 7", "7x", "1.5", "99999999999999999999999"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        r = an_days_from_text(bad[i]);
        assert_false(r.ok);
        assert_non_null(strstr(r.error, "from 1 to 365"));
    }
    assert_false(an_days_from_text(NULL).ok);
}

/* ---- embed ------------------------------------------------------------------------------- */

static an_stats sample_stats(void)
{
    an_stats s;
    memset(&s, 0, sizeof s);
    an_window_make(7, NOW, &s.window);
    s.total_images = 4;
    s.image_ms_sum = 14000;
    s.total_videos = 2;
    s.video_ms_sum = 150000;
    s.total_commands = 9;
    const char *cmds[] = {"comfy", "redux", "lorainfo", "pulid", "stats"};
    const uint64_t counts[] = {3, 2, 1, 1, 1};
    for (int i = 0; i < 5; i++) {
        snprintf(s.top_commands[i].name, sizeof s.top_commands[i].name, "%s", cmds[i]);
        s.top_commands[i].count = counts[i];
    }
    s.n_top_commands = 5;
    s.total_users = 8;
    s.active_users = 3;
    s.active_min = 5;
    s.total_buttons = 4;
    snprintf(s.top_resolutions[0].name, 128, "1024x1024");
    s.top_resolutions[0].count = 2;
    snprintf(s.top_resolutions[1].name, 128, "16:9 [1920x1080 landscape]");
    s.top_resolutions[1].count = 1;
    s.n_top_resolutions = 2;
    return s;
}

static const char *field_value(const cJSON *em, const char *name)
{
    const cJSON *f;
    cJSON_ArrayForEach(f, cJSON_GetObjectItem(em, "fields"))
    {
        if (strcmp(cJSON_GetObjectItem(f, "name")->valuestring, name) == 0)
            return cJSON_GetObjectItem(f, "value")->valuestring;
    }
    fail_msg("no field %s", name);
    return NULL;
}

static void test_stats_embed_sections(void **state)
{
    (void)state;
    an_stats s = sample_stats();
    char *json = an_stats_reply_json(&s);
    cJSON *root = cJSON_Parse(json);
    free(json);
    assert_non_null(root);
    cJSON *em = cJSON_GetArrayItem(cJSON_GetObjectItem(root, "embeds"), 0);
    assert_non_null(em);
    assert_string_equal(cJSON_GetObjectItem(em, "title")->valuestring,
                        "Usage Statistics (Last 7 Days)");
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(em, "fields")), 4);
    assert_string_equal(field_value(em, "Image Generation"),
                        "Total Images: 4\nAverage Generation Time: 3.50 s\n"
                        "Total Videos: 2\nAverage Video Time: 1 min 15 s");
    assert_string_equal(field_value(em, "Command Usage"),
                        "Total Commands: 9\nPopular Commands:\n1. /comfy \xe2\x80\x94 3\n"
                        "2. /redux \xe2\x80\x94 2\n3. /lorainfo \xe2\x80\x94 1\n"
                        "4. /pulid \xe2\x80\x94 1\n5. /stats \xe2\x80\x94 1\n"
                        "Buttons pressed: 4");
    assert_string_equal(field_value(em, "User Activity"),
                        "Total Users: 8\nActive Users: 3 (5+ events)");
    assert_string_equal(field_value(em, "Popular Resolutions"),
                        "1. 1024x1024 \xe2\x80\x94 2\n"
                        "2. 16:9 \\[1920x1080 landscape\\] \xe2\x80\x94 1");
    assert_string_equal(cJSON_GetObjectItem(em, "timestamp")->valuestring,
                        "2024-03-10T15:00:00.000Z");
    assert_non_null(
        strstr(cJSON_GetObjectItem(cJSON_GetObjectItem(em, "footer"), "text")->valuestring,
               "2024-03-03 15:01:00 UTC \xe2\x86\x92 2024-03-10 15:00:00 UTC"));
    char why[128];
    assert_true(embed_json_within_limits(em, why, sizeof why));
    cJSON_Delete(root);
}

static void test_stats_embed_no_data(void **state)
{
    (void)state;
    an_stats s;
    memset(&s, 0, sizeof s);
    an_window_make(1, NOW, &s.window);
    cJSON *em = an_stats_embed(&s);
    assert_string_equal(cJSON_GetObjectItem(em, "title")->valuestring,
                        "Usage Statistics (Last Day)");
    assert_string_equal(field_value(em, "Image Generation"), "No data");
    assert_string_equal(field_value(em, "Command Usage"), "No data");
    assert_string_equal(field_value(em, "User Activity"), "No data");
    assert_string_equal(field_value(em, "Popular Resolutions"), "No data");
    cJSON_Delete(em);

    /* Videos but no images: the missing average says so instead of showing 0.00 s. */
    s.total_videos = 1;
    s.video_ms_sum = 42000;
    s.total_users = 3;
    s.active_min = 5;
    em = an_stats_embed(&s);
    assert_string_equal(field_value(em, "Image Generation"),
                        "Total Images: 0\nAverage Generation Time: No data\n"
                        "Total Videos: 1\nAverage Video Time: 42.00 s");
    assert_string_equal(field_value(em, "User Activity"),
                        "Total Users: 3\nActive Users: 0 (5+ events)");
    cJSON_Delete(em);

    /* Only button presses: no command is popular, the buttons are counted apart. */
    memset(&s, 0, sizeof s);
    an_window_make(1, NOW, &s.window);
    s.total_buttons = 2;
    em = an_stats_embed(&s);
    assert_string_equal(field_value(em, "Command Usage"),
                        "Total Commands: 0\nPopular Commands:\nNo data\nButtons pressed: 2");
    cJSON_Delete(em);
}

/* stats_reply_edit_body writes, as text, exactly the JSON that building the embed with cJSON
 * and printing it gives (stats_reply_edit_json), byte for byte: for the /stats embeds, with and
 * without the chart, and for an embed with every member set and text that needs escaping. */
static void expect_same_edit(const embed *e)
{
    const char *attachments[] = {NULL, "stats.png"};
    for (int i = 0; i < 2; i++) {
        cJSON *tree = embed_to_json(e);
        char *want = stats_reply_edit_json(tree, attachments[i]);
        cJSON_Delete(tree);
        char *got = stats_reply_edit_body(e, attachments[i]);
        assert_non_null(want);
        assert_non_null(got);
        assert_string_equal(got, want);
        cJSON *parsed = cJSON_Parse(got);
        assert_non_null(parsed); /* valid JSON */
        cJSON_Delete(parsed);
        free(want);
        free(got);
    }
}

static void test_edit_body_is_the_cjson_edit(void **state)
{
    (void)state;
    an_stats s = sample_stats();
    embed e;
    an_commands_stats_embed(&s, &e);
    expect_same_edit(&e);
    embed_free(&e);

    memset(&s, 0, sizeof s);
    an_window_make(1, NOW, &s.window);
    an_commands_stats_embed(&s, &e);
    expect_same_edit(&e);
    embed_free(&e);

    /* a top command whose stored name needs JSON escapes */
    s = sample_stats();
    snprintf(s.top_commands[0].name, 128, "q\"uo\\te\t\x01\x1f</x> caf\xc3\xa9 \xf0\x9f\x98\x80");
    an_commands_stats_embed(&s, &e);
    expect_same_edit(&e);
    embed_free(&e);

    /* every member, and an image of its own (dropped, as by stats_reply_edit_json) */
    embed_init(&e);
    embed_set_title(&e, "T \"1\"\b\f\r");
    embed_set_description(&e, "line\nline\\ \x7f \xe2\x80\xa8");
    assert_int_equal(embed_set_url(&e, "https://example.com/a"), 0);
    embed_set_timestamp_ms(&e, (uint64_t)NOW);
    embed_set_color(&e, 0xFFFFFF);
    embed_set_footer(&e, "foot", "https://example.com/i.png");
    assert_int_equal(embed_set_image(&e, "https://example.com/img.png"), 0);
    assert_int_equal(embed_set_thumbnail(&e, "https://example.com/t.png"), 0);
    embed_set_author(&e, "auth\tor", "https://example.com/u", "https://example.com/au.png");
    embed_add_field(&e, "a", "b", true);
    embed_add_field(&e, "", "", false);
    expect_same_edit(&e);
    embed_free(&e);

    /* nothing set */
    embed_init(&e);
    expect_same_edit(&e);
    embed_free(&e);
    char *none = stats_reply_edit_body(NULL, NULL);
    char *want = stats_reply_edit_json(NULL, NULL);
    assert_string_equal(none, want);
    free(none);
    free(want);
}

static void test_embed_limits(void **state)
{
    (void)state;
    /* Longest names the store can hold, full of markdown: still within every limit. */
    an_stats s = sample_stats();
    for (int i = 0; i < 5; i++) {
        memset(s.top_commands[i].name, '*', 127);
        s.top_commands[i].name[127] = '\0';
        memset(s.top_resolutions[i].name, '_', 127);
        s.top_resolutions[i].name[127] = '\0';
        s.top_resolutions[i].count = UINT64_MAX;
    }
    s.n_top_resolutions = 5;
    s.total_commands = UINT64_MAX;
    cJSON *em = an_stats_embed(&s);
    char why[128] = "";
    assert_true(embed_json_within_limits(em, why, sizeof why));
    cJSON_Delete(em);

    /* The checker itself catches each kind of violation. */
    char big[1100];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    em = cJSON_CreateObject();
    cJSON *fields = cJSON_AddArrayToObject(em, "fields");
    cJSON *f = cJSON_CreateObject();
    cJSON_AddStringToObject(f, "name", "n");
    cJSON_AddStringToObject(f, "value", big);
    cJSON_AddItemToArray(fields, f);
    assert_false(embed_json_within_limits(em, why, sizeof why));
    assert_non_null(strstr(why, "field value"));
    cJSON_Delete(em);

    em = cJSON_CreateObject();
    big[300] = '\0';
    cJSON_AddStringToObject(em, "title", big);
    assert_false(embed_json_within_limits(em, why, sizeof why));
    cJSON_Delete(em);

    em = cJSON_CreateObject();
    fields = cJSON_AddArrayToObject(em, "fields");
    big[300] = 'x';
    big[1000] = '\0';
    for (int i = 0; i < 7; i++) {
        f = cJSON_CreateObject();
        cJSON_AddStringToObject(f, "name", "n");
        cJSON_AddStringToObject(f, "value", big);
        cJSON_AddItemToArray(fields, f);
    }
    assert_false(embed_json_within_limits(em, why, sizeof why));
    assert_non_null(strstr(why, "in total"));
    for (int i = 0; i < 20; i++) {
        f = cJSON_CreateObject();
        cJSON_AddStringToObject(f, "name", "n");
        cJSON_AddStringToObject(f, "value", "v");
        cJSON_AddItemToArray(fields, f);
    }
    assert_false(embed_json_within_limits(em, why, sizeof why));
    assert_non_null(strstr(why, "fields"));
    cJSON_Delete(em);
}

/* ---- permission -------------------------------------------------------------------------- */

static void test_reset_permission(void **state)
{
    (void)state;
    const an_role guild[] = {
        {111, "Member"}, {222, "Bot Manager"}, {333, "bot manager"}, {444, "Moderators"}};
    const uint64_t holds_manager[] = {111, 222};
    const uint64_t holds_member[] = {111};
    const uint64_t holds_lowercase[] = {333};
    const uint64_t holds_unknown[] = {999};

    uint64_t perms;
    assert_true(an_parse_u64("2147483656", &perms)); /* USE_APPLICATION_COMMANDS | ADMIN */
    assert_int_equal(an_reset_permission(perms, NULL, 0, NULL, 0, NULL), AN_PERM_ADMIN);
    assert_int_equal(an_reset_permission(8, holds_member, 1, guild, 4, "Bot Manager"),
                     AN_PERM_ADMIN);

    /* Role by name, default and configured. */
    assert_int_equal(an_reset_permission(2147483648ULL, holds_manager, 2, guild, 4, NULL),
                     AN_PERM_ROLE);
    assert_int_equal(an_reset_permission(0, holds_manager, 2, guild, 4, ""), AN_PERM_ROLE);
    assert_int_equal(an_reset_permission(0, holds_manager, 2, guild, 4, "Moderators"),
                     AN_PERM_DENIED);
    assert_int_equal(an_reset_permission(0, holds_lowercase, 1, guild, 4, NULL), AN_PERM_DENIED);
    assert_int_equal(an_reset_permission(0, holds_unknown, 1, guild, 4, NULL), AN_PERM_DENIED);
    /* Without the guild's role list a name cannot be resolved. */
    assert_int_equal(an_reset_permission(0, holds_manager, 2, NULL, 0, NULL), AN_PERM_DENIED);

    /* Role by id. */
    assert_int_equal(an_reset_permission(0, holds_manager, 2, NULL, 0, "222"), AN_PERM_ROLE);
    assert_int_equal(an_reset_permission(0, holds_member, 1, guild, 4, "222"), AN_PERM_DENIED);

    /* Neither: MANAGE_GUILD and friends are not enough. */
    assert_int_equal(
        an_reset_permission(0x20 | 0x2000 | (1ULL << 28), holds_member, 1, guild, 4, NULL),
        AN_PERM_DENIED);
    assert_int_equal(an_reset_permission(0, NULL, 0, guild, 4, NULL), AN_PERM_DENIED);

    uint64_t v;
    assert_true(an_parse_u64("18446744073709551615", &v) && v == UINT64_MAX);
    assert_false(an_parse_u64("18446744073709551616", &v));
    assert_false(an_parse_u64("", &v));
    assert_false(an_parse_u64("-1", &v));
    assert_false(an_parse_u64(" 1", &v));
    assert_false(an_parse_u64("12a", &v));
    assert_false(an_parse_u64(NULL, &v));
}

/* ---- confirmation store ------------------------------------------------------------------ */

static void test_confirm_flow(void **state)
{
    (void)state;
    an_confirm *c = an_confirm_new(8, 0);
    char ok_id[AN_CONFIRM_ID_MAX], cancel_id[AN_CONFIRM_ID_MAX];
    an_confirm_create(c, 42, 7, 9001, NOW, ok_id, cancel_id);
    assert_true(an_confirm_owns(ok_id) && an_confirm_owns(cancel_id));
    assert_int_equal(strncmp(ok_id, "rs:confirm:", 11), 0);
    assert_int_equal(strncmp(cancel_id, "rs:cancel:", 10), 0);
    assert_string_equal(ok_id + 11, cancel_id + 10); /* same nonce */
    assert_true(strlen(ok_id) <= 100);
    assert_int_equal(an_confirm_pending(c), 1);

    /* Another member is refused and the prompt stays valid. */
    an_confirm_ticket t;
    assert_int_equal(an_confirm_resolve(c, ok_id, 43, NOW + 10, &t), AN_CONFIRM_WRONG_USER);
    assert_int_equal(an_confirm_pending(c), 1);
    /* The asker confirms just before the deadline. */
    memset(&t, 0, sizeof t);
    assert_int_equal(an_confirm_resolve(c, ok_id, 42, NOW + 59999, &t), AN_CONFIRM_OK);
    assert_true(t.user_id == 42 && t.guild_id == 7 && t.interaction_id == 9001);
    assert_true(t.created_ms == NOW);
    /* Single use. */
    assert_int_equal(an_confirm_resolve(c, ok_id, 42, NOW + 60000, NULL), AN_CONFIRM_UNKNOWN);
    assert_int_equal(an_confirm_resolve(c, cancel_id, 42, NOW + 60000, NULL), AN_CONFIRM_UNKNOWN);

    /* Cancel. */
    an_confirm_create(c, 42, 7, 9002, NOW, ok_id, cancel_id);
    assert_int_equal(an_confirm_resolve(c, cancel_id, 42, NOW + 1, NULL), AN_CONFIRM_CANCELLED);
    assert_int_equal(an_confirm_resolve(c, ok_id, 42, NOW + 2, NULL), AN_CONFIRM_UNKNOWN);

    /* Expired at exactly 60 s, and consumed. */
    an_confirm_create(c, 42, 7, 9003, NOW, ok_id, cancel_id);
    assert_int_equal(an_confirm_resolve(c, ok_id, 42, NOW + 60000, NULL), AN_CONFIRM_EXPIRED);
    assert_int_equal(an_confirm_resolve(c, ok_id, 42, NOW + 60001, NULL), AN_CONFIRM_UNKNOWN);
    assert_int_equal(an_confirm_pending(c), 0);

    /* Not ours or malformed. */
    const char *junk[] = {"",
                          "image:regenerate",
                          "rs:",
                          "rs:confirm:",
                          "rs:confirm:zzzzzzzzzzzzzzzz",
                          "rs:confirm:0123456789abcdef0",
                          "rs:delete:0123456789abcdef",
                          "rs:confirm:0123456789ABCDEF"};
    for (size_t i = 0; i < sizeof junk / sizeof junk[0]; i++)
        assert_int_equal(an_confirm_resolve(c, junk[i], 42, NOW, NULL), AN_CONFIRM_UNKNOWN);
    assert_int_equal(an_confirm_resolve(c, NULL, 42, NOW, NULL), AN_CONFIRM_UNKNOWN);
    an_confirm_free(c);
}

static void test_confirm_bounded(void **state)
{
    (void)state;
    an_confirm *c = an_confirm_new(2, 1000);
    char a[AN_CONFIRM_ID_MAX], b[AN_CONFIRM_ID_MAX], x[AN_CONFIRM_ID_MAX];
    char a2[AN_CONFIRM_ID_MAX], b2[AN_CONFIRM_ID_MAX];
    an_confirm_create(c, 1, 0, 1, NOW, a, x);
    an_confirm_create(c, 2, 0, 2, NOW + 1, b, x);
    assert_string_not_equal(a, b);
    /* Full: the oldest (a) is dropped. */
    an_confirm_create(c, 3, 0, 3, NOW + 2, a2, x);
    assert_int_equal(an_confirm_pending(c), 2);
    assert_int_equal(an_confirm_resolve(c, a, 1, NOW + 3, NULL), AN_CONFIRM_UNKNOWN);
    /* Expired entries are swept on create, so the live one (a2) survives. */
    an_confirm_create(c, 4, 0, 4, NOW + 1001, b2, x);
    assert_int_equal(an_confirm_resolve(c, b, 2, NOW + 1001, NULL), AN_CONFIRM_UNKNOWN);
    assert_int_equal(an_confirm_resolve(c, a2, 3, NOW + 1001, NULL), AN_CONFIRM_OK);
    assert_int_equal(an_confirm_resolve(c, b2, 4, NOW + 1001, NULL), AN_CONFIRM_OK);
    an_confirm_free(c);
}

/* ---- reply payloads ---------------------------------------------------------------------- */

static cJSON *parse_owned(char *json)
{
    assert_non_null(json);
    cJSON *j = cJSON_Parse(json);
    free(json);
    assert_non_null(j);
    return j;
}

static void test_reset_messages(void **state)
{
    (void)state;
    cJSON *j = parse_owned(
        an_reset_prompt_json("rs:confirm:00000000000000aa", "rs:cancel:00000000000000aa"));
    assert_int_equal(cJSON_GetObjectItem(j, "type")->valueint, 4);
    cJSON *data = cJSON_GetObjectItem(j, "data");
    assert_int_equal(cJSON_GetObjectItem(data, "flags")->valueint, 64);
    cJSON *row = cJSON_GetArrayItem(cJSON_GetObjectItem(data, "components"), 0);
    assert_int_equal(cJSON_GetObjectItem(row, "type")->valueint, 1);
    cJSON *buttons = cJSON_GetObjectItem(row, "components");
    assert_int_equal(cJSON_GetArraySize(buttons), 2);
    cJSON *confirm = cJSON_GetArrayItem(buttons, 0), *cancel = cJSON_GetArrayItem(buttons, 1);
    assert_int_equal(cJSON_GetObjectItem(confirm, "type")->valueint, 2);
    assert_int_equal(cJSON_GetObjectItem(confirm, "style")->valueint, 4);
    assert_string_equal(cJSON_GetObjectItem(confirm, "label")->valuestring, "Confirm");
    assert_string_equal(cJSON_GetObjectItem(confirm, "custom_id")->valuestring,
                        "rs:confirm:00000000000000aa");
    assert_int_equal(cJSON_GetObjectItem(cancel, "style")->valueint, 2);
    assert_string_equal(cJSON_GetObjectItem(cancel, "custom_id")->valuestring,
                        "rs:cancel:00000000000000aa");
    assert_non_null(strstr(cJSON_GetObjectItem(data, "content")->valuestring, "60 seconds"));
    cJSON_Delete(j);

    j = parse_owned(an_reset_done_json(42, NULL));
    assert_string_equal(cJSON_GetObjectItem(j, "content")->valuestring,
                        "Statistics reset: 42 rows deleted.");
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(j, "components")), 0);
    assert_null(cJSON_GetObjectItem(j, "type"));
    cJSON_Delete(j);
    j = parse_owned(an_reset_done_json(1, NULL));
    assert_string_equal(cJSON_GetObjectItem(j, "content")->valuestring,
                        "Statistics reset: 1 row deleted.");
    cJSON_Delete(j);
    j = parse_owned(an_reset_done_json(0, "database is locked (busy)"));
    assert_non_null(strstr(cJSON_GetObjectItem(j, "content")->valuestring, "failed"));
    assert_non_null(strstr(cJSON_GetObjectItem(j, "content")->valuestring, "busy"));
    cJSON_Delete(j);

    char *(*ephemeral[])(void) = {an_reset_refusal_json, an_reset_wrong_user_json,
                                  an_reset_unknown_json};
    for (size_t i = 0; i < 3; i++) {
        j = parse_owned(ephemeral[i]());
        assert_int_equal(cJSON_GetObjectItem(j, "type")->valueint, 4);
        assert_int_equal(cJSON_GetObjectItem(cJSON_GetObjectItem(j, "data"), "flags")->valueint,
                         64);
        cJSON_Delete(j);
    }
    char *(*updates[])(void) = {an_reset_cancelled_json, an_reset_expired_json};
    for (size_t i = 0; i < 2; i++) {
        j = parse_owned(updates[i]());
        assert_int_equal(cJSON_GetObjectItem(j, "type")->valueint, 7);
        data = cJSON_GetObjectItem(j, "data");
        assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(data, "components")), 0);
        assert_non_null(strstr(cJSON_GetObjectItem(data, "content")->valuestring, "deleted"));
        cJSON_Delete(j);
    }
    /* The days error goes out as an ephemeral message with the validator's text. */
    an_days_result r = an_days_from_text("0");
    j = parse_owned(an_ephemeral_json(r.error));
    assert_string_equal(cJSON_GetObjectItem(cJSON_GetObjectItem(j, "data"), "content")->valuestring,
                        r.error);
    cJSON_Delete(j);
    j = parse_owned(an_stats_failed_json("cannot open"));
    assert_non_null(strstr(cJSON_GetObjectItem(j, "content")->valuestring, "cannot open"));
    cJSON_Delete(j);
}

/* Found by fuzz_reply: a long error (a database message quoting a non-ASCII path) was cut
 * at a byte count with snprintf, splitting a UTF-8 sequence, so the body was not valid UTF-8
 * and Discord would refuse it. Now it is cut by characters. */
static void test_failure_texts_stay_utf8(void **state)
{
    (void)state;
    char err[1200];
    size_t n = 0;
    while (n + 2 < 1000) { /* "é" repeated, offset by one byte so any byte cut splits one */
        if (n == 0) err[n++] = 'y';
        err[n++] = '\xc3';
        err[n++] = '\xa9';
    }
    err[n] = '\0';
    char *bodies[2] = {an_reset_done_json(0, err), an_stats_failed_json(err)};
    for (int i = 0; i < 2; i++) {
        assert_non_null(bodies[i]);
        assert_true(util_utf8_valid(bodies[i], strlen(bodies[i]), NULL));
        cJSON *j = cJSON_Parse(bodies[i]);
        assert_non_null(j);
        const char *content = cJSON_GetObjectItem(j, "content")->valuestring;
        assert_true(util_utf8_chars(content) <= 2000);
        assert_non_null(strstr(content, "y\xc3\xa9\xc3\xa9")); /* the reason is quoted */
        cJSON_Delete(j);
        free(bodies[i]);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_days_option),
        cmocka_unit_test(test_stats_embed_sections),
        cmocka_unit_test(test_stats_embed_no_data),
        cmocka_unit_test(test_edit_body_is_the_cjson_edit),
        cmocka_unit_test(test_embed_limits),
        cmocka_unit_test(test_reset_permission),
        cmocka_unit_test(test_confirm_flow),
        cmocka_unit_test(test_confirm_bounded),
        cmocka_unit_test(test_reset_messages),
        cmocka_unit_test(test_failure_texts_stay_utf8),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
