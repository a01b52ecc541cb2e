/* util_str: owned copies, NULL in gives NULL out, embedded bytes copied exactly.
 * fluxbot-test: tsan */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "util/util_str.h"

static void test_strdup(void **state)
{
    (void)state;
    const char *src = "caf\xc3\xa9";
    char *c = util_strdup(src);
    assert_non_null(c);
    assert_ptr_not_equal(c, src);
    assert_string_equal(c, src);
    free(c);
    c = util_strdup("");
    assert_non_null(c);
    assert_string_equal(c, "");
    free(c);
    assert_null(util_strdup(NULL));
}

static void test_strndup(void **state)
{
    (void)state;
    /* takes exactly n bytes, even from an unterminated buffer or across a NUL */
    const char buf[5] = {'a', 'b', 'c', 'd', 'e'};
    char *c = util_strndup(buf, 3);
    assert_string_equal(c, "abc");
    free(c);
    c = util_strndup("x\0y", 3);
    assert_memory_equal(c, "x\0y\0", 4);
    free(c);
    c = util_strndup("abc", 0);
    assert_string_equal(c, "");
    free(c);
    assert_null(util_strndup(NULL, 4));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_strdup),
        cmocka_unit_test(test_strndup),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
