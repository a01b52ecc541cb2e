/* INTERACTION_CREATE parsing: typed fields from real-shaped payloads, and malformed input
 * rejected with a clear error naming the field. */
/* fluxbot-test: tsan */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "discord/ix.h"
#include "util/util_cjarena.h"

static const char *COMFY =
    "{\"id\":\"1234567890123456789\",\"application_id\":\"987654321098765432\",\"type\":2,"
    "\"token\":\"aW50ZXJhY3Rpb246MTIzNDU2Nzg5.abc_DEF-123\",\"version\":1,"
    "\"guild_id\":\"111111111111111111\",\"channel_id\":\"222222222222222222\","
    "\"member\":{\"user\":{\"id\":\"333333333333333333\",\"username\":\"ann\"},"
    "\"roles\":[\"444444444444444444\",\"555555555555555555\"],"
    "\"permissions\":\"18446744073709551615\",\"nick\":null},"
    "\"app_permissions\":\"2147483648\",\"locale\":\"en-US\",\"attachment_size_limit\":26214400,"
    "\"data\":{\"id\":\"666666666666666666\",\"name\":\"comfy\",\"type\":1,\"options\":["
    "{\"name\":\"prompt\",\"type\":3,\"value\":\"a caf\\u00e9 \\ud83d\\ude00 at dusk\"},"
    "{\"name\":\"resolution\",\"type\":3,\"value\":\"1024x1024\"},"
    "{\"name\":\"upscale_factor\",\"type\":4,\"value\":2},"
    "{\"name\":\"seed\",\"type\":4,\"value\":9007199254740992}]}}";

static ix_interaction *parse(const char *s, ix_error *e)
{
    return ix_parse(s, strlen(s), e);
}

static void test_command(void **state)
{
    (void)state;
    ix_error e;
    ix_interaction *ix = parse(COMFY, &e);
    assert_non_null(ix);
    assert_int_equal(e.code, IX_OK);
    assert_true(ix->id == 1234567890123456789ull);
    assert_true(ix->application_id == 987654321098765432ull);
    assert_int_equal(ix->type, IX_COMMAND);
    assert_string_equal(ix->token, "aW50ZXJhY3Rpb246MTIzNDU2Nzg5.abc_DEF-123");
    assert_true(ix->guild_id == 111111111111111111ull);
    assert_true(ix->channel_id == 222222222222222222ull);
    assert_true(ix->user_id == 333333333333333333ull);
    assert_string_equal(ix->username, "ann");
    assert_true(ix->in_guild && ix->has_permissions);
    assert_true(ix->permissions == UINT64_MAX); /* all 64 bits survive: no double on the way */
    assert_true(ix->app_permissions == 2147483648ull);
    assert_int_equal(ix->nroles, 2);
    assert_true(ix_has_role(ix, 555555555555555555ull));
    assert_false(ix_has_role(ix, 1));
    assert_string_equal(ix->locale, "en-US");
    assert_true(ix->attachment_size_limit == 26214400);
    assert_string_equal(ix->command_name, "comfy");
    assert_null(ix->subcommand);
    assert_int_equal(ix->noptions, 4);
    assert_string_equal(ix_opt_str(ix, "prompt"), "a caf\xc3\xa9 \xf0\x9f\x98\x80 at dusk");
    assert_string_equal(ix_opt_str(ix, "resolution"), "1024x1024");
    int64_t up = 0, seed = 0;
    assert_true(ix_opt_int(ix, "upscale_factor", &up));
    assert_int_equal(up, 2);
    assert_true(ix_opt_int(ix, "seed", &seed));
    assert_true(seed == 9007199254740992ll);
    assert_null(ix_opt(ix, "lora"));
    assert_false(ix_opt_int(ix, "prompt", &up)); /* wrong type */
    assert_true(ix_has_permissions(ix, IX_PERM_MANAGE_GUILD));
    ix_free(ix);
}

static void test_dm_user_and_attachments(void **state)
{
    (void)state;
    const char *s =
        "{\"id\":\"10\",\"application_id\":\"20\",\"type\":2,\"token\":\"tok\","
        "\"channel\":{\"id\":\"30\",\"type\":1},\"user\":{\"id\":\"40\",\"username\":\"bo\"},"
        "\"data\":{\"id\":\"50\",\"name\":\"redux\",\"options\":["
        "{\"name\":\"image1\",\"type\":11,\"value\":\"70\"},"
        "{\"name\":\"image2\",\"type\":11,\"value\":\"71\"},"
        "{\"name\":\"resolution\",\"type\":3,\"value\":\"square\"},"
        "{\"name\":\"strength1\",\"type\":10,\"value\":0.25}],"
        "\"resolved\":{\"attachments\":{"
        "\"70\":{\"id\":\"70\",\"filename\":\"a.png\",\"size\":1234,\"url\":\"https://cdn/a.png\","
        "\"proxy_url\":\"https://media/a.png\",\"content_type\":\"image/png\",\"width\":64,"
        "\"height\":32},"
        "\"71\":{\"id\":\"71\",\"filename\":\"b.jpg\",\"size\":99,\"url\":\"http://127.0.0.1:9/b\"}"
        "}}}}";
    ix_error e;
    ix_interaction *ix = parse(s, &e);
    assert_non_null(ix);
    assert_false(ix->in_guild);
    assert_false(ix->has_permissions);
    assert_false(ix_has_permissions(ix, 0));
    assert_int_equal(ix->guild_id, 0);
    assert_int_equal(ix->channel_id, 30);
    assert_int_equal(ix->user_id, 40);
    const ix_attachment *a = ix_opt_attachment(ix, "image1");
    assert_non_null(a);
    assert_int_equal(a->id, 70);
    assert_string_equal(a->filename, "a.png");
    assert_string_equal(a->content_type, "image/png");
    assert_int_equal(a->size, 1234);
    assert_int_equal(a->width, 64);
    const ix_attachment *b = ix_opt_attachment(ix, "image2");
    assert_non_null(b);
    assert_string_equal(b->content_type, "");
    double st = 0;
    assert_true(ix_opt_number(ix, "strength1", &st));
    assert_true(st > 0.2499 && st < 0.2501);
    assert_false(ix_opt_number(ix, "strength2", &st));
    ix_free(ix);
}

static void test_autocomplete_and_subcommands(void **state)
{
    (void)state;
    const char *s =
        "{\"id\":\"1\",\"application_id\":\"2\",\"type\":4,\"token\":\"t\","
        "\"user\":{\"id\":\"3\"},\"data\":{\"id\":\"4\",\"name\":\"admin\",\"options\":["
        "{\"name\":\"grp\",\"type\":2,\"options\":[{\"name\":\"sub\",\"type\":1,\"options\":["
        "{\"name\":\"lora\",\"type\":3,\"value\":\"ani\",\"focused\":true},"
        "{\"name\":\"days\",\"type\":4,\"value\":\"1\"}]}]}]}}";
    ix_error e;
    ix_interaction *ix = parse(s, &e);
    assert_non_null(ix);
    assert_int_equal(ix->type, IX_AUTOCOMPLETE);
    assert_string_equal(ix->subcommand, "grp sub");
    const ix_option *f = ix_focused(ix);
    assert_non_null(f);
    assert_string_equal(f->name, "lora");
    assert_string_equal(f->str, "ani");
    /* Partial numeric input arrives as text; a complete number is decoded too. */
    int64_t d = 0;
    assert_true(ix_opt_int(ix, "days", &d));
    assert_int_equal(d, 1);
    assert_string_equal(ix_opt(ix, "days")->str, "1");
    ix_free(ix);
}

static void test_component(void **state)
{
    (void)state;
    const char *s = "{\"id\":\"1\",\"application_id\":\"2\",\"type\":3,\"token\":\"t\","
                    "\"member\":{\"user\":{\"id\":\"3\"},\"roles\":[],\"permissions\":\"8\"},"
                    "\"message\":{\"id\":\"99\",\"content\":\"x\"},"
                    "\"data\":{\"custom_id\":\"image:regenerate:42\",\"component_type\":2,"
                    "\"values\":[\"a\",\"b\"]}}";
    ix_error e;
    ix_interaction *ix = parse(s, &e);
    assert_non_null(ix);
    assert_int_equal(ix->type, IX_COMPONENT);
    assert_string_equal(ix->custom_id, "image:regenerate:42");
    assert_int_equal(ix->component_type, 2);
    assert_int_equal(ix->nvalues, 2);
    assert_string_equal(ix->values[1], "b");
    assert_int_equal(ix->message_id, 99);
    assert_true(ix_has_permissions(ix, 1ull << 40)); /* ADMINISTRATOR implies everything */
    ix_free(ix);
}

/* Replaces the first occurrence of `from` in COMFY with `to` and expects a parse error. */
static void expect_error(const char *base, const char *from, const char *to, ix_err code,
                         const char *field)
{
    const char *at = strstr(base, from);
    assert_non_null(at);
    size_t n = strlen(base) - strlen(from) + strlen(to) + 1;
    char *s = malloc(n);
    snprintf(s, n, "%.*s%s%s", (int)(at - base), base, to, at + strlen(from));
    ix_error e;
    ix_interaction *ix = ix_parse(s, strlen(s), &e);
    if (ix || e.code != code || (field && strcmp(e.field, field) != 0))
        fail_msg("input with %s -> %s: got code %d field \"%s\" msg \"%s\" (want %d %s)", from, to,
                 (int)e.code, e.field, e.msg, (int)code, field ? field : "");
    assert_true(e.msg[0] != '\0');
    free(s);
}

static void test_malformed(void **state)
{
    (void)state;
    ix_error e;
    assert_null(ix_parse("", 0, &e));
    assert_int_equal(e.code, IX_E_JSON);
    assert_null(parse("[1,2]", &e));
    assert_int_equal(e.code, IX_E_JSON);
    assert_null(parse("{\"id\":", &e));
    assert_int_equal(e.code, IX_E_JSON);

    /* Snowflakes must be strings of digits in range, never numbers. */
    expect_error(COMFY, "\"id\":\"1234567890123456789\"", "\"id\":1234567890123456789", IX_E_TYPE,
                 "id");
    expect_error(COMFY, "\"id\":\"1234567890123456789\"", "\"id\":\"12a\"", IX_E_SNOWFLAKE, "id");
    expect_error(COMFY, "\"id\":\"1234567890123456789\"", "\"id\":\"18446744073709551616\"",
                 IX_E_SNOWFLAKE, "id");
    expect_error(COMFY, "\"id\":\"1234567890123456789\"", "\"id\":\"0\"", IX_E_SNOWFLAKE, "id");
    expect_error(COMFY, "\"id\":\"1234567890123456789\"", "\"id\":\"-5\"", IX_E_SNOWFLAKE, "id");
    expect_error(COMFY, "\"id\":\"1234567890123456789\",", "", IX_E_MISSING, "id");
    expect_error(COMFY, "\"guild_id\":\"111111111111111111\"", "\"guild_id\":\" 1\"",
                 IX_E_SNOWFLAKE, "guild_id");
    expect_error(COMFY, "\"444444444444444444\"", "444", IX_E_TYPE, "member.roles[]");
    expect_error(COMFY, "\"permissions\":\"18446744073709551615\"",
                 "\"permissions\":\"18446744073709551616\"", IX_E_RANGE, "member.permissions");
    expect_error(COMFY, "\"permissions\":\"18446744073709551615\"", "\"permissions\":8", IX_E_TYPE,
                 "member.permissions");
    expect_error(COMFY, "\"user\":{\"id\":\"333333333333333333\",\"username\":\"ann\"}",
                 "\"nouser\":1", IX_E_MISSING, "member.user");
    /* Types and unsupported kinds. */
    expect_error(COMFY, "\"type\":2", "\"type\":\"2\"", IX_E_TYPE, "type");
    expect_error(COMFY, "\"type\":2", "\"type\":1", IX_E_UNSUPPORTED, "type");
    expect_error(COMFY, "\"type\":2", "\"type\":2.5", IX_E_RANGE, "type");
    /* Tokens go into URLs: only URL-safe characters, bounded. */
    expect_error(COMFY, "aW50ZXJhY3Rpb246MTIzNDU2Nzg5.abc_DEF-123", "a/../b", IX_E_TOKEN, "token");
    expect_error(COMFY, "aW50ZXJhY3Rpb246MTIzNDU2Nzg5.abc_DEF-123", "a?b", IX_E_TOKEN, "token");
    expect_error(COMFY, "\"token\":\"aW50ZXJhY3Rpb246MTIzNDU2Nzg5.abc_DEF-123\"", "\"token\":\"\"",
                 IX_E_LENGTH, "token");
    char longtok[IX_TOKEN_MAX + 20];
    memset(longtok, 'a', IX_TOKEN_MAX + 1);
    longtok[IX_TOKEN_MAX + 1] = '\0';
    expect_error(COMFY, "aW50ZXJhY3Rpb246MTIzNDU2Nzg5.abc_DEF-123", longtok, IX_E_LENGTH, "token");
    /* Option values. */
    expect_error(COMFY, "\"value\":2}", "\"value\":2.5}", IX_E_RANGE, "data.options[2].value");
    expect_error(COMFY, "\"value\":2}", "\"value\":\"2\"}", IX_E_TYPE, "data.options[2].value");
    expect_error(COMFY, "\"value\":9007199254740992", "\"value\":9007199254740994", IX_E_RANGE,
                 "data.options[3].value");
    expect_error(COMFY, "{\"name\":\"resolution\",\"type\":3,\"value\":\"1024x1024\"}",
                 "{\"name\":\"prompt\",\"type\":3,\"value\":\"again\"}", IX_E_DUPLICATE,
                 "data.options[1].name");
    expect_error(COMFY, "\"type\":3,\"value\":\"1024x1024\"", "\"type\":3", IX_E_MISSING,
                 "data.options[1].value");
    expect_error(COMFY, "\"type\":3,\"value\":\"1024x1024\"", "\"type\":42,\"value\":\"x\"",
                 IX_E_RANGE, "data.options[1].type");
    expect_error(COMFY, "\"value\":\"1024x1024\"", "\"value\":\"\xff\xfe\"", IX_E_UTF8,
                 "data.options[1].value");
    expect_error(COMFY, "\"value\":\"1024x1024\"", "\"value\":\"\xed\xa0\x80\"", IX_E_UTF8,
                 "data.options[1].value"); /* an encoded surrogate */
    expect_error(COMFY, "\"value\":\"1024x1024\"", "\"value\":\"\xc0\xaf\"", IX_E_UTF8,
                 "data.options[1].value"); /* overlong '/' */
    expect_error(COMFY, "\"name\":\"comfy\"", "\"name\":\"\"", IX_E_LENGTH, "data.name");
    expect_error(COMFY, "\"data\":{", "\"data\":7,\"x\":{", IX_E_MISSING, "data");
    expect_error(COMFY, "\"locale\":\"en-US\"", "\"locale\":\"a-very-long-locale-tag\"",
                 IX_E_LENGTH, "locale");
    expect_error(COMFY, "\"attachment_size_limit\":26214400", "\"attachment_size_limit\":-1",
                 IX_E_RANGE, "attachment_size_limit");

    /* An attachment option without its resolved attachment. */
    const char *att = "{\"id\":\"1\",\"application_id\":\"2\",\"type\":2,\"token\":\"t\","
                      "\"user\":{\"id\":\"3\"},\"data\":{\"id\":\"4\",\"name\":\"pulid\","
                      "\"options\":[{\"name\":\"image\",\"type\":11,\"value\":\"9\"}]}}";
    assert_null(parse(att, &e));
    assert_int_equal(e.code, IX_E_MISSING);
    assert_string_equal(e.field, "data.resolved.attachments");

    /* Too many options. */
    char big[8192];
    size_t o = (size_t)snprintf(big, sizeof big,
                                "{\"id\":\"1\",\"application_id\":\"2\",\"type\":2,\"token\":\"t\","
                                "\"user\":{\"id\":\"3\"},\"data\":{\"id\":\"4\",\"name\":\"x\","
                                "\"options\":[");
    for (int i = 0; i < 26; i++)
        o += (size_t)snprintf(big + o, sizeof big - o,
                              "%s{\"name\":\"o%d\",\"type\":5,\"value\":true}", i ? "," : "", i);
    snprintf(big + o, sizeof big - o, "]}}");
    assert_null(parse(big, &e));
    assert_int_equal(e.code, IX_E_TOO_MANY);

    /* Oversized input is refused before parsing. */
    size_t huge = IX_INPUT_MAX + 1;
    char *h = malloc(huge);
    memset(h, ' ', huge);
    assert_null(ix_parse(h, huge, &e));
    assert_int_equal(e.code, IX_E_TOO_LARGE);
    free(h);
    assert_string_equal(ix_strerror(IX_E_TOKEN), "invalid interaction token");
}

static void test_scalar_parsers(void **state)
{
    (void)state;
    uint64_t v;
    assert_true(ix_parse_snowflake("18446744073709551615", &v) && v == UINT64_MAX);
    assert_false(ix_parse_snowflake("18446744073709551616", &v));
    assert_false(ix_parse_snowflake("0", &v));
    assert_false(ix_parse_snowflake("007", &v));
    assert_false(ix_parse_snowflake("+7", &v));
    assert_false(ix_parse_snowflake("7 ", &v));
    assert_false(ix_parse_snowflake("", &v));
    assert_false(ix_parse_snowflake(NULL, &v));
}

/* Writes `"key":[n copies of item]` into out. */
static void json_list(char *out, size_t cap, const char *key, const char *item, int n)
{
    size_t o = (size_t)snprintf(out, cap, "\"%s\":[", key);
    for (int i = 0; i < n; i++)
        o += (size_t)snprintf(out + o, cap - o, "%s%s", i ? "," : "", item);
    snprintf(out + o, cap - o, "]");
}

/* member.roles and data.values: arrays, bounded, null read as absent. */
static void test_bounded_arrays(void **state)
{
    (void)state;
    char list[(IX_MAX_ROLES + 1) * 6 + 32], with[sizeof list + 16];
    expect_error(COMFY, "\"roles\":[", "\"roles\":\"7\",\"x\":[", IX_E_TYPE, "member.roles");
    json_list(list, sizeof list, "roles", "\"7\"", IX_MAX_ROLES + 1);
    snprintf(with, sizeof with, "%s,\"x\":[", list); /* the old list becomes "x" */
    expect_error(COMFY, "\"roles\":[", with, IX_E_TOO_MANY, "member.roles");

    const char *comp = "{\"id\":\"1\",\"application_id\":\"2\",\"type\":3,\"token\":\"t\","
                       "\"user\":{\"id\":\"3\"},"
                       "\"data\":{\"custom_id\":\"c\",\"component_type\":3,%s}}";
    const char *vals = "\"values\":[\"a\"]";
    char payload[sizeof list + 256];
    snprintf(payload, sizeof payload, comp, vals);
    expect_error(payload, vals, "\"values\":\"a\"", IX_E_TYPE, "data.values");
    expect_error(payload, vals, "\"values\":[\"a\",2]", IX_E_TYPE, "data.values[]");
    json_list(list, sizeof list, "values", "\"v\"", IX_MAX_VALUES + 1);
    expect_error(payload, vals, list, IX_E_TOO_MANY, "data.values");

    ix_error e;
    json_list(list, sizeof list, "values", "\"v\"", IX_MAX_VALUES);
    snprintf(payload, sizeof payload, comp, list);
    ix_interaction *ix = parse(payload, &e);
    assert_non_null(ix);
    assert_int_equal(ix->nvalues, IX_MAX_VALUES);
    ix_free(ix);
    snprintf(payload, sizeof payload, comp, "\"values\":null");
    ix = parse(payload, &e);
    assert_non_null(ix);
    assert_int_equal(ix->nvalues, 0);
    ix_free(ix);
}

/* Random mutations of a valid payload never crash and either parse or fail cleanly. */
static void test_fuzz_mutations(void **state)
{
    (void)state;
    size_t len = strlen(COMFY);
    char *buf = malloc(len + 1);
    unsigned seed = 12345;
    int parsed = 0, rejected = 0;
    for (int iter = 0; iter < 3000; iter++) {
        memcpy(buf, COMFY, len + 1);
        for (int k = 0; k < 3; k++) {
            seed = seed * 1103515245u + 12345u;
            size_t pos = (seed >> 8) % len;
            seed = seed * 1103515245u + 12345u;
            buf[pos] = (char)(seed >> 16);
        }
        ix_error e;
        ix_interaction *ix = ix_parse(buf, len, &e);
        if (ix) {
            parsed++;
            ix_free(ix);
        } else {
            rejected++;
            assert_true(e.code != IX_OK);
        }
    }
    free(buf);
    assert_true(parsed > 0 && rejected > 0);
}

/* ix_parse_scratch: one reusable space serves interaction after interaction (a component after
 * a command leaves nothing of the command behind: the struct is zeroed, the strings are the new
 * payload's), grows for a larger payload, and gives what ix_parse gives: the same verdicts,
 * errors and fields, also for mutated payloads. */
static void test_parse_into_reused_scratch(void **state)
{
    (void)state;
    const char *comp = "{\"id\":\"1\",\"application_id\":\"2\",\"type\":3,\"token\":\"t\","
                       "\"member\":{\"user\":{\"id\":\"3\"},\"roles\":[],\"permissions\":\"8\"},"
                       "\"message\":{\"id\":\"99\",\"content\":\"x\"},"
                       "\"data\":{\"custom_id\":\"image:regenerate:42\",\"component_type\":2}}";
    ix_scratch sc = {0};
    ix_error e;
    ix_interaction *ix = ix_parse_scratch(&sc, comp, strlen(comp), &e);
    assert_non_null(ix);
    assert_ptr_equal(ix, sc.block);
    assert_int_equal(ix->type, IX_COMPONENT);
    /* garbage where the struct lives, as a reused block holds */
    memset(sc.block, 0xA5, sc.cap);
    ix = ix_parse_scratch(&sc, COMFY, strlen(COMFY), &e); /* larger: the block grows */
    assert_non_null(ix);
    assert_int_equal(e.code, IX_OK);
    assert_true(sc.cap >= ix_parse_need(strlen(COMFY)));
    assert_string_equal(ix->command_name, "comfy");
    assert_int_equal(ix->noptions, 4);
    assert_string_equal(ix_opt_str(ix, "prompt"), "a caf\xc3\xa9 \xf0\x9f\x98\x80 at dusk");
    int64_t seed = 0;
    assert_true(ix_opt_int(ix, "seed", &seed));
    assert_true(seed == 9007199254740992ll);
    assert_int_equal(ix->nroles, 2);

    ix = ix_parse_scratch(&sc, comp, strlen(comp), &e);
    assert_int_equal(ix->type, IX_COMPONENT);
    assert_string_equal(ix->custom_id, "image:regenerate:42");
    assert_null(ix->command_name); /* nothing of the command is left */
    assert_int_equal(ix->noptions, 0);
    assert_int_equal(ix->nroles, 0);
    assert_null(ix_opt(ix, "prompt"));

    /* the usual errors */
    assert_null(ix_parse_scratch(&sc, "[1]", 3, &e));
    assert_int_equal(e.code, IX_E_JSON);
    assert_null(ix_parse_scratch(&sc, "{\"id\":", 7, &e));
    assert_int_equal(e.code, IX_E_JSON);
    assert_null(ix_parse_scratch(&sc, "", 0, &e));
    assert_int_equal(e.code, IX_E_JSON);
    assert_null(ix_parse_scratch(&sc, COMFY, IX_INPUT_MAX + 1, &e));
    assert_int_equal(e.code, IX_E_TOO_LARGE);

    /* mutations: the same verdict, error and fields as ix_parse */
    size_t len = strlen(COMFY);
    char *buf = malloc(len + 1);
    unsigned rnd = 777;
    int parsed = 0;
    for (int iter = 0; iter < 3000; iter++) {
        memcpy(buf, COMFY, len + 1);
        for (int k = 0; k < 1 + iter % 3; k++) {
            rnd = rnd * 1103515245u + 12345u;
            buf[(rnd >> 8) % len] = (char)(rnd >> 16);
        }
        ix_error e1, e2;
        ix_interaction *a = ix_parse(buf, len, &e1);
        ix_interaction *b = ix_parse_scratch(&sc, buf, len, &e2);
        assert_int_equal(e1.code, e2.code);
        assert_string_equal(e1.field, e2.field);
        assert_string_equal(e1.msg, e2.msg);
        assert_int_equal(a != NULL, b != NULL);
        if (!a) continue;
        parsed++;
        assert_true(a->id == b->id && a->user_id == b->user_id && a->guild_id == b->guild_id);
        assert_true(a->permissions == b->permissions);
        assert_int_equal(a->type, b->type);
        assert_string_equal(a->token, b->token);
        assert_int_equal(a->noptions, b->noptions);
        for (unsigned i = 0; i < a->noptions; i++) {
            assert_string_equal(a->options[i].name, b->options[i].name);
            assert_int_equal(a->options[i].has_value, b->options[i].has_value);
            assert_true(a->options[i].integer == b->options[i].integer);
            if (a->options[i].str) assert_string_equal(a->options[i].str, b->options[i].str);
        }
        ix_free(a);
    }
    assert_true(parsed > 0);
    free(buf);
    ix_scratch_free(&sc);
    ix_scratch_free(&sc); /* twice is harmless */
}

/* No string of the interaction points into the arena that held cJSON's tree. */
static void nothing_in_the_arena(const ix_interaction *ix, const util_cjarena *a)
{
    const char *s[] = {ix->username, ix->command_name, ix->subcommand, ix->custom_id};
    for (size_t i = 0; i < sizeof s / sizeof s[0]; i++)
        assert_false(s[i] && util_cjarena_owns(a, s[i]));
    for (unsigned i = 0; i < ix->noptions; i++) {
        assert_false(util_cjarena_owns(a, ix->options[i].name));
        assert_false(ix->options[i].str && util_cjarena_owns(a, ix->options[i].str));
    }
}

/* With cJSON's hooks installed (main, as the bot's main does) the router's parse holds cJSON's
 * tree in the scratch's arena for the parse only: the scope is over when it returns, nothing of
 * the interaction points into the region, the region is reused parse after parse, and a payload
 * whose tree does not fit (256 roles, a long prompt) parses exactly as ix_parse does, part of
 * its tree on malloc (freed: the leak check of the ASan run), the region then grown for it. */
static void test_scratch_tree_lives_in_an_arena_for_the_parse_only(void **state)
{
    (void)state;
    ix_scratch sc = {0};
    ix_error e;
    ix_interaction *ix = ix_parse_scratch(&sc, COMFY, strlen(COMFY), &e);
    assert_non_null(ix);
    assert_non_null(sc.tree);
    assert_non_null(sc.tree->base);
    assert_false(sc.tree->active);
    assert_true(sc.tree->served > 20);
    assert_int_equal(sc.tree->fallbacks, 0);
    nothing_in_the_arena(ix, sc.tree);
    const unsigned char *base = sc.tree->base;
    size_t cap = sc.tree->cap;
    ix = ix_parse_scratch(&sc, COMFY, strlen(COMFY), &e);
    assert_non_null(ix);
    assert_ptr_equal(sc.tree->base, base);
    assert_int_equal(sc.tree->cap, cap);

    char *big = malloc(64 * 1024);
    assert_non_null(big);
    int n = snprintf(big, 64 * 1024,
                     "{\"id\":\"1\",\"application_id\":\"2\",\"type\":2,\"token\":\"t\","
                     "\"guild_id\":\"5\",\"member\":{\"user\":{\"id\":\"3\",\"username\":\"ann\"},"
                     "\"permissions\":\"8\",\"roles\":[");
    for (int i = 0; i < IX_MAX_ROLES; i++)
        n += snprintf(big + n, 64 * 1024 - (size_t)n, "%s\"%d\"", i ? "," : "", 100000 + i);
    n += snprintf(big + n, 64 * 1024 - (size_t)n,
                  "]},\"data\":{\"id\":\"6\",\"name\":\"comfy\",\"type\":1,\"options\":[{\"name\":"
                  "\"prompt\",\"type\":3,\"value\":\"");
    for (int i = 0; i < 5000; i++)
        big[n++] = (char)('a' + i % 26);
    n += snprintf(big + n, 64 * 1024 - (size_t)n, "\"}]}}");
    for (int round = 0; round < 2; round++) {
        ix_error e1;
        ix_interaction *a = ix_parse(big, (size_t)n, &e1);
        assert_non_null(a);
        ix = ix_parse_scratch(&sc, big, (size_t)n, &e);
        assert_non_null(ix);
        if (round == 0) {
            assert_true(sc.tree->fallbacks > 0); /* did not fit: malloc for the rest */
            assert_true(sc.tree->cap > cap);     /* grown for the next one */
        } else {
            assert_int_equal(sc.tree->fallbacks, 0);
        }
        assert_int_equal(ix->nroles, IX_MAX_ROLES);
        assert_memory_equal(ix->roles, a->roles, sizeof a->roles);
        assert_string_equal(ix_opt_str(ix, "prompt"), ix_opt_str(a, "prompt"));
        assert_string_equal(ix->username, "ann");
        nothing_in_the_arena(ix, sc.tree);
        ix_free(a);
    }
    free(big);
    ix_scratch_free(&sc);
    assert_null(sc.tree);
}

int main(void)
{
    util_cjarena_install(); /* before any thread, as the bot's main */
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_command),
        cmocka_unit_test(test_dm_user_and_attachments),
        cmocka_unit_test(test_autocomplete_and_subcommands),
        cmocka_unit_test(test_component),
        cmocka_unit_test(test_bounded_arrays),
        cmocka_unit_test(test_malformed),
        cmocka_unit_test(test_scalar_parsers),
        cmocka_unit_test(test_fuzz_mutations),
        cmocka_unit_test(test_parse_into_reused_scratch),
        cmocka_unit_test(test_scratch_tree_lives_in_an_arena_for_the_parse_only),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
