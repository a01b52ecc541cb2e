/* fluxbot-test: tsan */
/*
 * The adaptive spin budget of parked actors (runtime/spin.h): full after a spin that found
 * work or a park that would have been covered by a full spin, halved after each long park, and
 * none at all below the minimum, until a short wait brings it back.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "runtime/spin.h"

#define MAX 20000u

static void test_found_work_keeps_full_budget(void **state)
{
    (void)state;
    assert_int_equal(rt_spin_next(MAX, MAX, true, 0), MAX);
    assert_int_equal(rt_spin_next(0, MAX, true, 0), MAX); /* work was there right away */
}

static void test_long_parks_halve_down_to_none(void **state)
{
    (void)state;
    uint64_t b = MAX;
    unsigned steps = 0;
    while (b) {
        uint64_t next = rt_spin_next(b, MAX, false, 3000000); /* parked 3 ms */
        assert_true(next < b);
        assert_true(next == 0 || next >= RT_SPIN_MIN_NS);
        b = next;
        steps++;
    }
    assert_int_equal(steps, 5); /* 20 -> 10 -> 5 -> 2.5 -> 1.25 -> 0 us */
    assert_int_equal(rt_spin_next(0, MAX, false, 3000000), 0);
}

static void test_short_park_restores_full_budget(void **state)
{
    (void)state;
    assert_int_equal(rt_spin_next(0, MAX, false, MAX - 1), MAX);
    assert_int_equal(rt_spin_next(0, MAX, false, MAX), 0);
    assert_int_equal(rt_spin_next(2500, MAX, false, 5), MAX);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_found_work_keeps_full_budget),
        cmocka_unit_test(test_long_parks_halve_down_to_none),
        cmocka_unit_test(test_short_park_restores_full_budget),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
