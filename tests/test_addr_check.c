/*
 * The tests' address-leak check (tests/support/addr_check.c): a port is found only as a number
 * of its own, so a snowflake or a seed holding the port's digits is not taken for a leak (the
 * false failure test_llm_e2e had), while "host:port", "port 41234" and a port at either end of
 * the text are; loopback hosts and URLs are always found.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "addr_check.h"

static void test_port_is_a_number_of_its_own(void **s)
{
    (void)s;
    /* inside a longer run of digits: a snowflake, a seed */
    assert_false(addr_check_has_number("user <@1184123456789012345> asked", 41234));
    assert_false(addr_check_has_number("seed 9412340", 41234));
    assert_false(addr_check_has_number("seed 412345", 41234));
    assert_false(addr_check_has_number("", 41234));
    /* on its own */
    assert_true(addr_check_has_number("failed: localhost:41234 refused", 41234));
    assert_true(addr_check_has_number("41234", 41234));
    assert_true(addr_check_has_number("port 41234.", 41234));
    assert_true(addr_check_has_number("x1184123456789012345 41234", 41234)); /* second match */
}

static void test_find_hosts_and_ports(void **s)
{
    (void)s;
    const int ports[] = {8188, 41234, 0, -1};
    char what[64];
    assert_false(addr_check_find("{\"content\":\"seed 941234, by <@1184123456789012345>\"}", ports,
                                 4, what, sizeof what));
    addr_check_none("seed 941234, by <@1184123456789012345>", ports, 4);
    assert_true(addr_check_find("the server at localhost could not be reached", ports, 4, what,
                                sizeof what));
    assert_string_equal(what, "\"localhost\"");
    assert_true(addr_check_find("see http://example/x", ports, 4, what, sizeof what));
    assert_string_equal(what, "\"://\"");
    assert_true(addr_check_find("127.0.0.1 refused", ports, 4, what, sizeof what));
    assert_true(
        addr_check_find("the server (port 41234) did not answer", ports, 4, what, sizeof what));
    assert_string_equal(what, "port 41234");
    assert_false(addr_check_find("1 0 -1", ports + 2, 2, what, sizeof what)); /* skipped */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_port_is_a_number_of_its_own),
        cmocka_unit_test(test_find_hosts_and_ports),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
