/* Proves the test harness itself: cmocka runs and ctest sees a failing test as a failure. */
/* fluxbot-test: tsan */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "fluxbot/msgs.h"

static void test_header_layout(void **state)
{
    (void)state;
    assert_int_equal(offsetof(rt_msg, rt_link), 0);
    assert_true(sizeof(rt_msg) <= 32);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_header_layout)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
