/* util_dec: strict decimal u64 parsing, canonical form, snowflakes.
 * fluxbot-test: tsan */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "util/util_dec.h"

static void test_u64(void **state)
{
    (void)state;
    uint64_t v = 0;
    assert_int_equal(util_dec_u64("42", 2, &v), UTIL_DEC_OK);
    assert_int_equal(v, 42);
    assert_int_equal(util_dec_u64("4295x", 4, &v), UTIL_DEC_OK); /* only n bytes are read */
    assert_int_equal(v, 4295);
    assert_int_equal(util_dec_u64("007", 3, &v), UTIL_DEC_OK);
    assert_int_equal(v, 7);
    assert_int_equal(util_dec_u64("18446744073709551615", 20, &v), UTIL_DEC_OK);
    assert_true(v == UINT64_MAX);
    v = 5;
    assert_int_equal(util_dec_u64("18446744073709551616", 20, &v), UTIL_DEC_ERANGE);
    assert_int_equal(util_dec_u64("000000000000000000001", 21, &v), UTIL_DEC_ERANGE);
    assert_int_equal(util_dec_u64("abcdefghijklmnopqrstu", 21, &v), UTIL_DEC_ERANGE);
    assert_int_equal(util_dec_u64("", 0, &v), UTIL_DEC_ESYNTAX);
    assert_int_equal(util_dec_u64("+7", 2, &v), UTIL_DEC_ESYNTAX);
    assert_int_equal(util_dec_u64("-7", 2, &v), UTIL_DEC_ESYNTAX);
    assert_int_equal(util_dec_u64(" 7", 2, &v), UTIL_DEC_ESYNTAX);
    assert_int_equal(util_dec_u64("0x7", 3, &v), UTIL_DEC_ESYNTAX);
    assert_int_equal(v, 5); /* untouched by every failure */
}

static void test_canon_and_snowflake(void **state)
{
    (void)state;
    uint64_t v;
    assert_true(util_dec_u64_canon("0", &v) && v == 0);
    assert_true(util_dec_u64_canon("1099511627776", &v) && v == 1099511627776ull);
    assert_false(util_dec_u64_canon("01", &v));
    assert_false(util_dec_u64_canon("", &v));
    assert_false(util_dec_u64_canon(NULL, &v));
    assert_false(util_dec_u64_canon("12 ", &v));

    assert_true(util_dec_snowflake("18446744073709551615", &v) && v == UINT64_MAX);
    assert_true(util_dec_snowflake("175928847299117063", &v) && v == 175928847299117063ull);
    assert_false(util_dec_snowflake("18446744073709551616", &v));
    assert_false(util_dec_snowflake("0", &v));
    assert_false(util_dec_snowflake("007", &v));
    assert_false(util_dec_snowflake("+7", &v));
    assert_false(util_dec_snowflake("7 ", &v));
    assert_false(util_dec_snowflake("", &v));
    assert_false(util_dec_snowflake(NULL, &v));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_u64),
        cmocka_unit_test(test_canon_and_snowflake),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
