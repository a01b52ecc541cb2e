/* util_json: string lookups with a fallback, ids as decimal strings, clipped text,
 * print-and-free.
 * fluxbot-test: tsan */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "util/util_json.h"

static void test_str(void **state)
{
    (void)state;
    cJSON *o = cJSON_Parse("{\"a\":\"x\",\"n\":5,\"z\":null,\"e\":\"\",\"A\":\"upper\"}");
    assert_non_null(o);
    assert_string_equal(util_json_str(o, "a", NULL), "x");
    assert_string_equal(util_json_str(o, "e", "fb"), ""); /* an empty string is a string */
    assert_null(util_json_str(o, "n", NULL));             /* not a string */
    assert_string_equal(util_json_str(o, "z", "?"), "?");
    assert_string_equal(util_json_str(o, "missing", "dflt"), "dflt");
    assert_string_equal(util_json_str(o, "A", NULL), "upper"); /* case-sensitive */
    assert_null(util_json_str(NULL, "a", NULL));
    cJSON *arr = cJSON_Parse("[\"a\"]");
    assert_string_equal(util_json_str(arr, "0", "-"), "-"); /* not an object */
    cJSON_Delete(arr);
    cJSON_Delete(o);
}

static void test_u64(void **state)
{
    (void)state;
    cJSON *o = cJSON_CreateObject();
    util_json_add_u64(o, "max", UINT64_MAX);
    util_json_add_u64(o, "zero", 0);
    util_json_add_u64(o, "big", 9007199254740993ull); /* 2^53 + 1: a double would round it */
    cJSON *arr = cJSON_AddArrayToObject(o, "ids");
    cJSON_AddItemToArray(arr, util_json_u64(175928847299117063ull));
    cJSON_AddItemToArray(arr, util_json_u64(1));
    char *s = util_json_print_free(o);
    assert_string_equal(s, "{\"max\":\"18446744073709551615\",\"zero\":\"0\","
                           "\"big\":\"9007199254740993\",\"ids\":[\"175928847299117063\",\"1\"]}");
    free(s);
}

static void test_print_free(void **state)
{
    (void)state;
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "content", "caf\xc3\xa9 \"q\"");
    cJSON_AddArrayToObject(cJSON_AddObjectToObject(o, "allowed_mentions"), "parse");
    char *s = util_json_print_free(o); /* o is gone: ASan would catch a leak or a double free */
    assert_string_equal(
        s, "{\"content\":\"caf\xc3\xa9 \\\"q\\\"\",\"allowed_mentions\":{\"parse\":[]}}");
    free(s);
}

static void test_add_clipped(void **state)
{
    (void)state;
    cJSON *o = cJSON_CreateObject();
    util_json_add_clipped(o, "fits", "caf\xc3\xa9", 4);
    util_json_add_clipped(o, "cut", "abcdef", 4);
    util_json_add_clipped(o, "repaired",
                          "a\xff"
                          "b",
                          10);
    util_json_add_clipped(o, "null", NULL, 10);
    char *s = util_json_print_free(o);
    assert_string_equal(s, "{\"fits\":\"caf\xc3\xa9\",\"cut\":\"abc\xe2\x80\xa6\","
                           "\"repaired\":\"a\xef\xbf\xbd"
                           "b\",\"null\":\"\"}");
    free(s);
}

static void test_parse_named(void **state)
{
    (void)state;
    char err[64] = "";
    cJSON *o = util_json_parse_named("{\"a\":[1]}", "x.json", err, sizeof err);
    assert_non_null(o);
    assert_string_equal(err, ""); /* untouched on success */
    cJSON_Delete(o);
    assert_null(util_json_parse_named("{\"a\":", "loras.json", err, sizeof err));
    assert_string_equal(err, "loras.json: not valid JSON");
    assert_null(util_json_parse_named("", "e", err, sizeof err));
    assert_string_equal(err, "e: not valid JSON");
}

static void test_i64_and_snowflake(void **state)
{
    (void)state;
    cJSON *o = cJSON_Parse("{\"n\": 1700000000123, \"s\": \"12\", \"id\": "
                           "\"18446744073709551615\", \"bad\": \"12x\", \"num\": 5}");
    assert_non_null(o);
    assert_int_equal(util_json_i64(o, "n", -1), 1700000000123LL);
    assert_int_equal(util_json_i64(o, "s", -1), -1);  /* a string is not a number */
    assert_int_equal(util_json_i64(o, "none", 7), 7); /* absent */
    assert_int_equal(util_json_i64(NULL, "n", 3), 3);
    assert_true(util_json_snowflake(o, "id") == UINT64_MAX);
    assert_true(util_json_snowflake(o, "s") == 12);
    assert_true(util_json_snowflake(o, "bad") == 0); /* not a valid snowflake */
    assert_true(util_json_snowflake(o, "num") == 0); /* ids travel as strings only */
    assert_true(util_json_snowflake(o, "none") == 0);
    cJSON_Delete(o);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_str),         cmocka_unit_test(test_u64),
        cmocka_unit_test(test_print_free),  cmocka_unit_test(test_add_clipped),
        cmocka_unit_test(test_parse_named), cmocka_unit_test(test_i64_and_snowflake),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
