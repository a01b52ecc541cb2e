/* util_utf8: what counts as valid, counting, and clipping with repair and an ellipsis.
 * fluxbot-test: tsan */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "util/util_utf8.h"

static void test_seq(void **state)
{
    (void)state;
    assert_int_equal(util_utf8_seq("a", 1), 1);
    assert_int_equal(util_utf8_seq("\0", 1), 1);
    assert_int_equal(util_utf8_seq("\xc3\xa9", 2), 2);
    assert_int_equal(util_utf8_seq("\xe2\x82\xac", 3), 3);
    assert_int_equal(util_utf8_seq("\xf0\x9f\x98\x80", 4), 4);
    assert_int_equal(util_utf8_seq("\xf0\x9f\x98\x80", 3), 0); /* avail ends inside */
    assert_int_equal(util_utf8_seq("\xc1\xbf", 2), 0);         /* overlong 2-byte lead */
    assert_int_equal(util_utf8_seq("\xe0\x9f\xbf", 3), 0);     /* overlong 3-byte */
    assert_int_equal(util_utf8_seq("\xf0\x8f\xbf\xbf", 4), 0); /* overlong 4-byte */
    assert_int_equal(util_utf8_seq("\xed\xbf\xbf", 3), 0);     /* surrogate */
    assert_int_equal(util_utf8_seq("\xf5\x80\x80\x80", 4), 0); /* lead above U+10FFFF */
    assert_int_equal(util_utf8_seq("\x80", 1), 0);             /* stray continuation */
    assert_int_equal(util_utf8_seq("\xc3(", 2), 0);            /* bad continuation */
    assert_int_equal(util_utf8_seq("\xf4\x8f\xbf\xbf", 4), 4); /* U+10FFFF itself */
}

static void test_valid(void **state)
{
    (void)state;
    size_t n = 99;
    assert_true(util_utf8_valid("h\xc3\xa9\xf0\x9f\x98\x80", 7, &n) && n == 3);
    assert_false(util_utf8_valid("\xe2\x82", 2, &n));         /* truncated */
    assert_false(util_utf8_valid("\xf4\x90\x80\x80", 4, &n)); /* above U+10FFFF */
    assert_true(util_utf8_valid("h\xc3\xa9llo \xf0\x9f\x90\x88", 11, NULL));
    assert_false(util_utf8_valid("\xc0\xaf", 2, NULL));     /* overlong */
    assert_false(util_utf8_valid("\xed\xa0\x80", 3, NULL)); /* surrogate */
    assert_false(util_utf8_valid("\xf0\x9f\x90", 3, NULL)); /* truncated */
    /* len bounds what is read: a valid prefix of an invalid buffer is valid */
    assert_true(util_utf8_valid("ab\xff", 2, &n) && n == 2);
    assert_true(util_utf8_valid("a\0b", 3, &n) && n == 3); /* U+0000 is a character */
    assert_true(util_utf8_valid("", 0, &n) && n == 0);
    n = 7;
    assert_false(util_utf8_valid("ok\xff", 3, &n));
    assert_int_equal(n, 7); /* untouched on failure */
}

static void test_chars(void **state)
{
    (void)state;
    assert_int_equal(util_utf8_chars(NULL), 0);
    assert_int_equal(util_utf8_chars(""), 0);
    assert_int_equal(util_utf8_chars("abc"), 3);
    assert_int_equal(util_utf8_chars("caf\xc3\xa9 \xf0\x9f\x98\x80"), 6);
}

static void test_clip(void **state)
{
    (void)state;
    char *t = util_utf8_clip("\xf0\x9f\x90\x88\xf0\x9f\x90\x88\xf0\x9f\x90\x88", 2);
    assert_string_equal(t, "\xf0\x9f\x90\x88\xe2\x80\xa6");
    assert_int_equal(util_utf8_chars(t), 2);
    free(t);
    t = util_utf8_clip("abc", 3);
    assert_string_equal(t, "abc");
    free(t);
    char *clean = util_utf8_clip("ok\xff\xfe end", 100);
    assert_string_equal(clean, "ok\xef\xbf\xbd\xef\xbf\xbd end");
    free(clean);
    char *cut = util_utf8_clip("\xf0\x9f\x98\x80\xf0\x9f\x98\x80\xf0\x9f\x98\x80", 2);
    assert_string_equal(cut, "\xf0\x9f\x98\x80\xe2\x80\xa6"); /* never a split code point */
    free(cut);
    char *zero = util_utf8_clip("abc", 0);
    assert_string_equal(zero, "");
    free(zero);
    char *none = util_utf8_clip(NULL, 5);
    assert_string_equal(none, "");
    free(none);
    /* the ellipsis replaces a repaired character too, and the result is always valid */
    char *mixed = util_utf8_clip("a\xff\xff\xff", 2);
    assert_string_equal(mixed, "a\xe2\x80\xa6");
    assert_true(util_utf8_valid(mixed, strlen(mixed), NULL));
    free(mixed);
    char *one = util_utf8_clip("\xc3\xa9t\xc3\xa9", 1);
    assert_string_equal(one, "\xe2\x80\xa6");
    free(one);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_seq),
        cmocka_unit_test(test_valid),
        cmocka_unit_test(test_chars),
        cmocka_unit_test(test_clip),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
