/* util_time: deadlines are "now + timeout" on the asked clock, normalised, and really end a
 * pthread_cond_timedwait on a condition variable set up with that clock; sleeps are never short.
 * fluxbot-test: tsan */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <pthread.h>

#include "util/util_time.h"

static int64_t ns_of(struct timespec t)
{
    return (int64_t)t.tv_sec * 1000000000LL + t.tv_nsec;
}

static void check_clock(clockid_t clk)
{
    const uint64_t timeouts[] = {0, 1, 999, 1000, 1001, 2500, 86400000};
    for (size_t i = 0; i < sizeof timeouts / sizeof timeouts[0]; i++) {
        struct timespec before, after;
        clock_gettime(clk, &before);
        struct timespec d = util_deadline(clk, timeouts[i]);
        clock_gettime(clk, &after);
        assert_true(d.tv_nsec >= 0 && d.tv_nsec < 1000000000L);
        int64_t want = (int64_t)timeouts[i] * 1000000LL;
        assert_true(ns_of(d) - ns_of(before) >= want);
        assert_true(ns_of(d) - ns_of(after) <= want);
    }
}

static void test_deadline_arithmetic(void **state)
{
    (void)state;
    check_clock(CLOCK_REALTIME);
    check_clock(CLOCK_MONOTONIC);
}

static void test_deadline_ends_a_wait(void **state)
{
    (void)state;
    const clockid_t clocks[] = {CLOCK_REALTIME, CLOCK_MONOTONIC};
    for (int k = 0; k < 2; k++) {
        pthread_mutex_t mu;
        pthread_cond_t cv;
        pthread_condattr_t ca;
        pthread_condattr_init(&ca);
        pthread_condattr_setclock(&ca, clocks[k]);
        pthread_mutex_init(&mu, NULL);
        pthread_cond_init(&cv, &ca);
        pthread_condattr_destroy(&ca);
        struct timespec t0, t1;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        struct timespec dl = util_deadline(clocks[k], 30);
        pthread_mutex_lock(&mu);
        int rc = 0;
        while (rc != ETIMEDOUT)
            rc = pthread_cond_timedwait(&cv, &mu, &dl); /* nobody signals */
        pthread_mutex_unlock(&mu);
        clock_gettime(CLOCK_MONOTONIC, &t1);
        assert_true(ns_of(t1) - ns_of(t0) >= 29000000LL); /* not early (1 ms clock slack) */
        pthread_cond_destroy(&cv);
        pthread_mutex_destroy(&mu);
    }
}

static void test_sleep(void **state)
{
    (void)state;
    const unsigned ms[] = {0, 1, 25, 1100};
    for (size_t i = 0; i < 4; i++) {
        struct timespec t0, t1;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        util_sleep_ms(ms[i]);
        clock_gettime(CLOCK_MONOTONIC, &t1);
        assert_true(ns_of(t1) - ns_of(t0) >= (int64_t)ms[i] * 1000000LL); /* never short */
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_deadline_arithmetic),
        cmocka_unit_test(test_deadline_ends_a_wait),
        cmocka_unit_test(test_sleep),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
