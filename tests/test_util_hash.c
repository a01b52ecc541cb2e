/* util_hash: FNV-1a 64 (with the tree's offset basis, see util_hash.h) against values computed
 * independently; the string and byte forms agree. util_hash_mem: the same bytes give the same
 * value wherever they lie in memory, every byte and the length count, and keys that differ in
 * one byte anywhere spread evenly over the slots of a small mask.
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

static void test_slot_hash_reads_every_byte(void **state)
{
    (void)state;
    char a[80], b[96];
    for (size_t i = 0; i < sizeof a; i++)
        a[i] = (char)('A' + i % 53);
    for (size_t n = 0; n <= sizeof a; n++) {
        /* the same bytes at another alignment */
        for (size_t off = 1; off < 8; off++) {
            memcpy(b + off, a, n);
            assert_true(util_hash_mem(b + off, n) == util_hash_mem(a, n));
        }
        if (n > 0) assert_true(util_hash_mem(a, n) != util_hash_mem(a, n - 1));
        /* flipping one bit of any byte changes the value */
        for (size_t k = 0; k < n; k++) {
            memcpy(b, a, n);
            b[k] ^= 0x10;
            assert_true(util_hash_mem(b, n) != util_hash_mem(a, n));
        }
    }
    /* trailing zero bytes count: the length is part of the value */
    assert_true(util_hash_mem("ab\0\0", 4) != util_hash_mem("ab", 2));
    assert_true(util_hash_mem("", 0) == util_hash_mem(a, 0));
}

static void test_slot_hash_spreads_over_a_mask(void **state)
{
    (void)state;
    /* 4096 keys alike but for one byte (its position and value vary): 64 slots each get
     * 64 +- a few dozen; a hash whose low bits saw only some bytes would pile them up */
    char key[256];
    memset(key, 'k', sizeof key);
    unsigned slots[64] = {0};
    for (unsigned i = 0; i < 4096; i++) {
        char k2[256];
        memcpy(k2, key, sizeof k2);
        k2[(i * 37) % sizeof k2] = (char)(i / 16);
        slots[util_hash_mem(k2, sizeof k2) & 63]++;
    }
    for (unsigned s = 0; s < 64; s++) {
        assert_true(slots[s] > 24);
        assert_true(slots[s] < 120);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_vectors),
        cmocka_unit_test(test_bytes_and_strings_agree),
        cmocka_unit_test(test_slot_hash_reads_every_byte),
        cmocka_unit_test(test_slot_hash_spreads_over_a_mask),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
