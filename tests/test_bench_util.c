/* bench_util (bench/support): medians and quantiles of rounds, and the benchmarks' command line.
 * fluxbot-test: tsan */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "../bench/support/bench_util.c"

static void test_median_and_quantile(void **state)
{
    (void)state;
    double one[] = {7};
    assert_true(bench_median(one, 1) == 7);
    double odd[] = {9, 1, 5};
    assert_true(bench_median(odd, 3) == 5);
    assert_true(odd[0] == 1 && odd[2] == 9); /* sorted in place */
    double even[] = {4, 1, 3, 2};
    assert_true(bench_median(even, 4) == 2.5);
    double v[] = {10, 0, 5, 7, 3, 1, 9, 2, 8, 4, 6}; /* 0..10 */
    assert_true(bench_quantile(v, 11, 0.5) == 5);
    assert_true(bench_quantile(v, 11, 0.0) == 0);
    assert_true(bench_quantile(v, 11, 1.0) == 10);
    assert_true(bench_quantile(v, 11, 0.99) == 10); /* nearest rank: 9.9 rounds up */
    assert_true(bench_quantile(v, 11, 0.94) == 9);
    double three[] = {3, 1, 2};
    assert_true(bench_quantile(three, 3, 0.5) == bench_median(three, 3));
}

static void test_args(void **state)
{
    (void)state;
    bool json = false;
    unsigned repeat = 5;
    uint64_t events = 1;
    size_t kb = 2;
    const char *dir = "/tmp";
    const bench_arg args[] = {{"--json", BENCH_FLAG, &json},
                              {"--repeat", BENCH_UNSIGNED, &repeat},
                              {"--events", BENCH_U64, &events},
                              {"--guild-kb", BENCH_SIZE, &kb},
                              {"--dir", BENCH_TEXT, &dir}};
    char *ok[] = {"bench_x",  "--repeat", "3",        "--events",   "18446744073709551615",
                  "--json",   "--dir",    "/var/tmp", "--guild-kb", "64",
                  "--repeat", "4"};
    assert_true(bench_args(12, ok, args, 5, "[...]"));
    assert_true(json);
    assert_int_equal(repeat, 4); /* the last one wins */
    assert_true(events == UINT64_MAX);
    assert_int_equal(kb, 64);
    assert_string_equal(dir, "/var/tmp");

    /* nothing given: defaults stay */
    json = false;
    char *none[] = {"bench_x"};
    assert_true(bench_args(1, none, args, 5, "[...]"));
    assert_false(json);

    /* unknown option, or a value missing */
    char *unknown[] = {"bench_x", "--jsn"};
    assert_false(bench_args(2, unknown, args, 5, "[--json]"));
    char *missing[] = {"bench_x", "--json", "--repeat"};
    repeat = 9;
    assert_false(bench_args(3, missing, args, 5, "[--repeat R]"));
    assert_int_equal(repeat, 9);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_median_and_quantile),
        cmocka_unit_test(test_args),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
