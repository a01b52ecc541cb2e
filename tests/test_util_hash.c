/* util_hash: FNV-1a 64 (with the tree's offset basis, see util_hash.h) against values computed
 * independently; the string and byte forms agree.
 * fluxbot-test: tsan */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "util/util_hash.h"

/* computed outside C from the definition written in test_vectors */
#define A_HASH 4953267810257967366ull
#define FOOBAR_HASH 9870438755804841970ull

static void test_vectors(void **state)
{
    (void)state;
    /* h = 1469598103934665603; for each byte: h = (h ^ byte) * 1099511628211 mod 2^64 */
    assert_true(util_fnv1a_str("") == 1469598103934665603ull);
    assert_true(util_fnv1a_str("a") == A_HASH);
    assert_true(util_fnv1a_str("foobar") == FOOBAR_HASH);
    assert_true(util_fnv1a("", 0) == 1469598103934665603ull);
    assert_true(util_fnv1a("foobar", 6) == FOOBAR_HASH);
}

static void test_bytes_and_strings_agree(void **state)
{
    (void)state;
    const char *s[] = {"POST /interactions/:id/:token/callback", "caf\xc3\xa9", "x"};
    for (size_t i = 0; i < 3; i++)
        assert_true(util_fnv1a(s[i], strlen(s[i])) == util_fnv1a_str(s[i]));
    /* the byte form reads past NULs; the string form stops there */
    assert_true(util_fnv1a("a\0b", 3) != util_fnv1a_str("a\0b"));
    assert_true(util_fnv1a("a\0b", 1) == util_fnv1a_str("a\0b"));
    assert_true(util_fnv1a_str("ab") != util_fnv1a_str("ba"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_vectors),
        cmocka_unit_test(test_bytes_and_strings_agree),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
