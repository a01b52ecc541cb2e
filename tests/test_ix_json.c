/* ix_json against cJSON itself: for crafted inputs (every rule ix_json.h lists), real-shaped
 * interaction payloads and thousands of random mutations of them, ix_json_parse accepts exactly
 * what cJSON_ParseWithLength accepts and builds the same tree (types, keys, strings byte for
 * byte, numbers bit for bit, valueint, the order and the prev links). The arena is reused across
 * parses, grows for a large payload and shrinks back, and nesting is bounded as in cJSON.
 *
 * fluxbot-test: tsan
 */
#include <setjmp.h>
#include <stdbool.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "discord/ix_json.h"

/* Same shape and values; returns false (and says where) on the first difference. */
static bool same_tree(const cJSON *a, const cJSON *b, char *where, size_t cap)
{
    if (a->type != b->type) {
        snprintf(where, cap, "type %d vs %d", a->type, b->type);
        return false;
    }
    if ((a->string == NULL) != (b->string == NULL) || (a->string && strcmp(a->string, b->string))) {
        snprintf(where, cap, "key %s vs %s", a->string ? a->string : "-",
                 b->string ? b->string : "-");
        return false;
    }
    if ((a->valuestring == NULL) != (b->valuestring == NULL) ||
        (a->valuestring && strcmp(a->valuestring, b->valuestring))) {
        snprintf(where, cap, "string under %s", a->string ? a->string : "-");
        return false;
    }
    if (memcmp(&a->valuedouble, &b->valuedouble, sizeof(double)) != 0 ||
        a->valueint != b->valueint) {
        snprintf(where, cap, "number %.17g/%d vs %.17g/%d", a->valuedouble, a->valueint,
                 b->valuedouble, b->valueint);
        return false;
    }
    const cJSON *x = a->child, *y = b->child;
    if ((x == NULL) != (y == NULL)) {
        snprintf(where, cap, "children under %s", a->string ? a->string : "-");
        return false;
    }
    if (x) {
        /* the first element's prev is the last one in both */
        const cJSON *lx = x, *ly = y;
        while (lx->next)
            lx = lx->next;
        while (ly->next)
            ly = ly->next;
        if (x->prev != lx || y->prev != ly) {
            snprintf(where, cap, "prev link of the first child");
            return false;
        }
    }
    for (; x && y; x = x->next, y = y->next) {
        if (!same_tree(x, y, where, cap)) return false;
        if (x->next && x->next->prev != x) return false;
        if (y->next && y->next->prev != y) {
            snprintf(where, cap, "prev link");
            return false;
        }
    }
    if (x || y) {
        snprintf(where, cap, "child count");
        return false;
    }
    return true;
}

/* Parses buf[0..len) both ways (buf is NUL-terminated after len, as payloads are) and fails the
 * test on any difference; returns whether it parsed. */
static bool check(ix_json_arena *a, const char *buf, size_t len)
{
    cJSON *want = cJSON_ParseWithLength(buf, len);
    const cJSON *got = ix_json_parse(a, buf, len);
    if ((want == NULL) != (got == NULL))
        fail_msg("cJSON %s, ix_json %s: \"%.*s\"", want ? "accepts" : "refuses",
                 got ? "accepts" : "refuses", (int)(len > 200 ? 200 : len), buf);
    char where[160] = "";
    if (want && !same_tree(want, got, where, sizeof where))
        fail_msg("trees differ (%s): \"%.*s\"", where, (int)(len > 200 ? 200 : len), buf);
    cJSON_Delete(want);
    return got != NULL;
}

static bool check_str(ix_json_arena *a, const char *s)
{
    return check(a, s, strlen(s));
}

static const char *const k_payloads[] = {
    /* a /stats command as the fake and Discord send it */
    "{\"id\":\"1234567890123456789\",\"application_id\":\"987654321098765432\",\"type\":2,"
    "\"token\":\"aW50ZXJhY3Rpb246MTIzNDU2Nzg5.abc_DEF-123\",\"version\":1,"
    "\"guild_id\":\"111111111111111111\",\"channel_id\":\"222222222222222222\","
    "\"member\":{\"user\":{\"id\":\"333333333333333333\",\"username\":\"ann\",\"global_name\":null}"
    ","
    "\"roles\":[\"444444444444444444\",\"555555555555555555\"],"
    "\"permissions\":\"18446744073709551615\",\"nick\":null,\"deaf\":false,\"mute\":true},"
    "\"app_permissions\":\"2147483648\",\"locale\":\"en-US\",\"attachment_size_limit\":26214400,"
    "\"data\":{\"id\":\"666666666666666666\",\"name\":\"stats\",\"type\":1,\"options\":["
    "{\"name\":\"days\",\"type\":4,\"value\":7}]}}",
    /* a command with escapes, numbers of every form, and an attachment */
    "{\"id\":\"1\",\"type\":2,\"token\":\"t\",\"data\":{\"name\":\"comfy\",\"options\":["
    "{\"name\":\"prompt\",\"type\":3,\"value\":\"a caf\\u00e9 \\ud83d\\ude00 at "
    "\\\"dusk\\\"\\n\\t\\/"
    "\\\\ \\b\\f\\r\"},{\"name\":\"seed\",\"type\":4,\"value\":9007199254740993},"
    "{\"name\":\"cfg\",\"type\":10,\"value\":-3.5e-2},{\"name\":\"big\",\"type\":10,\"value\":"
    "1e400},"
    "{\"name\":\"neg\",\"type\":4,\"value\":-2147483649},{\"name\":\"z\",\"type\":4,\"value\":-0}],"
    "\"resolved\":{\"attachments\":{\"9\":{\"id\":\"9\",\"filename\":\"x.png\",\"size\":12,"
    "\"url\":\"https://cdn.discordapp.com/a/x.png\",\"width\":64,\"height\":64}}}}}",
    /* a component and a modal */
    "{\"id\":\"1\",\"application_id\":\"2\",\"type\":3,\"token\":\"t\",\"member\":{\"user\":"
    "{\"id\":\"3\"},\"roles\":[],\"permissions\":\"8\"},\"message\":{\"id\":\"99\"},\"data\":"
    "{\"custom_id\":\"image:regenerate:42\",\"component_type\":2,\"values\":[\"a\",\"b\"]}}",
    "{\"type\":5,\"data\":{\"custom_id\":\"opts:1\",\"components\":[{\"type\":1,\"components\":"
    "[{\"type\":4,\"custom_id\":\"prompt\",\"value\":\"line1\\nline2\"}]}]}}",
};

static void test_payloads_and_their_mutations(void **state)
{
    (void)state;
    ix_json_arena a = {0};
    char buf[4096];
    unsigned rnd = 2024;
    static const char noise[] = "{}[],:\"\\u0123456789abcdefEe+-.ntrfl \t\n\x01\x7f\xc3\xa9";
    for (size_t p = 0; p < sizeof k_payloads / sizeof k_payloads[0]; p++) {
        size_t len = strlen(k_payloads[p]);
        assert_true(len < sizeof buf);
        assert_true(check(&a, k_payloads[p], len));
        int accepted = 0;
        for (int iter = 0; iter < 4000; iter++) {
            memcpy(buf, k_payloads[p], len + 1);
            size_t n = len;
            int edits = 1 + iter % 4;
            for (int k = 0; k < edits; k++) {
                rnd = rnd * 1103515245u + 12345u;
                size_t at = (rnd >> 8) % n;
                rnd = rnd * 1103515245u + 12345u;
                switch ((rnd >> 4) % 4) {
                case 0: /* a random byte */
                    buf[at] = (char)(rnd >> 16);
                    break;
                case 1: /* a JSON-ish character */
                    buf[at] = noise[(rnd >> 16) % (sizeof noise - 1)];
                    break;
                case 2: /* cut short */
                    n = at + 1;
                    buf[n] = '\0';
                    break;
                default: /* a character removed */
                    memmove(buf + at, buf + at + 1, n - at);
                    n--;
                }
                if (n == 0) n = 1;
            }
            accepted += check(&a, buf, n);
        }
        assert_true(accepted > 0);
    }
    ix_json_arena_free(&a);
}

static void test_the_rules(void **state)
{
    (void)state;
    ix_json_arena a = {0};
    static const char *const cases[] = {
        /* white space is any byte up to 0x20, a BOM is skipped, trailing bytes are ignored */
        " \x01\x1f{\"a\":1}",
        "\xEF\xBB\xBF{\"a\":1}",
        "\xEF\xBB\xBF{",
        "\xEF\xBB\xBF"
        "1",
        "{\"a\":1} trailing garbage",
        "{\"a\":1}}",
        "   ",
        "\"s\"",
        /* literals */
        "null",
        "nul",
        "true",
        "truex",
        "[true,false,null]",
        "[tru]",
        "[nullx]",
        /* numbers */
        "0",
        "-0",
        "01",
        "1.",
        ".5",
        "-.5",
        "+1",
        "[+1]",
        "-",
        "1e",
        "1e+",
        "1e5",
        "1E-5",
        "1.5e308",
        "1e999",
        "-1e999",
        "2147483647",
        "2147483648",
        "-2147483648",
        "-2147483649",
        "0x10",
        "[1-2]",
        "[1..2]",
        "[--1]",
        "1e5e5",
        /* strings */
        "\"\"",
        "\"a\\\"b\"",
        "\"\\u00e9\\u20ac\\ud83d\\ude00\"",
        "\"\\ud83d\"",
        "\"\\ud83d\\u0041\"",
        "\"\\ude00\"",
        "\"\\u12G4x\"",
        "\"\\u0000tail\"",
        "\"\\u00\"",
        "\"\\x\"",
        "\"\\'\"",
        "\"tab\there\x01\x7f\xff\"",
        "\"unterminated",
        "\"ends in backslash\\",
        "\"\\\"",
        /* objects and arrays */
        "{}",
        "[]",
        "{ }",
        "[ ]",
        "{\"a\":1,}",
        "[1,]",
        "[,1]",
        "{\"a\" 1}",
        "{a:1}",
        "{\"a\":1,\"a\":2}",
        "{\"\":\"\"}",
        "[1 2]",
        "[[[[]]]]",
        "{\"a\":[{\"b\":{\"c\":[1,{\"d\":null}]}}]}",
        "[",
        "{",
        "[1,",
        "{\"a\":",
        "{\"a\"",
        "[1,   ",
        "{\"k\\u0041\":1}",
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        check_str(&a, cases[i]);
    /* a number longer than 63 characters is read whole (as the installed cJSON reads it since
     * Debian's fix of CVE-2023-26819; the 1.7.15 release stopped at 63) */
    const char *longnum =
        "[123456789012345678901234567890123456789012345678901234567890.12345678e-3]";
    const cJSON *ln = ix_json_parse(&a, longnum, strlen(longnum));
    assert_non_null(ln);
    assert_true(ln->child->valuedouble == strtod(longnum + 1, NULL));
    assert_true(ln->child->valuedouble > 1.2e56 && ln->child->valuedouble < 1.3e56);
    /* lengths that cut a value: the bytes after len are never read as part of it */
    check(&a, "{\"a\":12345}", 8);
    check(&a, "\"abc\"", 4);
    check(&a, "true", 3);
    check(&a, "[1]", 2);
    check(&a,
          "\xEF\xBB\xBF"
          "1",
          4);
    assert_null(ix_json_parse(&a, "1", 0));
    assert_null(ix_json_parse(&a, NULL, 3));
    ix_json_arena_free(&a);
}

/* Nesting: 1000 levels parse, 1001 do not (both ways); a payload larger than the first block
 * grows the arena, and the next parse of a small one still works (the extra blocks went). */
static void test_depth_and_growth(void **state)
{
    (void)state;
    ix_json_arena a = {0};
    size_t n = 1001;
    char *deep = malloc(2 * n + 2);
    for (size_t d = 1000; d <= 1001; d++) {
        memset(deep, '[', d);
        memset(deep + d, ']', d);
        deep[2 * d] = '\0';
        bool ok = check(&a, deep, 2 * d);
        assert_int_equal(ok, d == 1000);
    }
    free(deep);

    /* about 40000 values: several MB of nodes */
    size_t cap = 40000 * 8 + 16, len = 0;
    char *big = malloc(cap);
    big[len++] = '[';
    for (int i = 0; i < 40000; i++)
        len += (size_t)snprintf(big + len, cap - len, "%s\"v%d\"", i ? "," : "", i % 1000);
    big[len++] = ']';
    big[len] = '\0';
    assert_true(check(&a, big, len));
    const cJSON *t = ix_json_parse(&a, big, len);
    assert_int_equal(cJSON_GetArraySize(t), 40000);
    assert_string_equal(cJSON_GetArrayItem(t, 39999)->valuestring, "v999");
    free(big);
    assert_true(check_str(&a, "{\"small\":[1,2,3]}"));
    const cJSON *s = ix_json_parse(&a, "{\"small\":[1,2,3]}", 17);
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(s, "small")), 3);
    ix_json_arena_free(&a);
    ix_json_arena_free(&a); /* twice is harmless */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_the_rules),
        cmocka_unit_test(test_payloads_and_their_mutations),
        cmocka_unit_test(test_depth_and_growth),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
