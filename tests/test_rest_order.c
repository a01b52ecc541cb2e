/* rest_order_target: which message a REST request writes to (pure). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "discord/rest_order.h"

static void test_message_writes_have_a_target(void **state)
{
    (void)state;
    char t[256];
    assert_true(rest_order_target("PATCH", "/webhooks/1/tok/messages/@original", t, sizeof t));
    assert_string_equal(t, "/webhooks/1/tok/messages/@original");
    assert_true(
        rest_order_target("DELETE", "/webhooks/1/tok/messages/99?thread_id=3", t, sizeof t));
    assert_string_equal(t, "/webhooks/1/tok/messages/99");
    assert_true(rest_order_target("PATCH", "/channels/5/messages/6", t, sizeof t));
    assert_string_equal(t, "/channels/5/messages/6");
}

static void test_other_requests_are_unordered(void **state)
{
    (void)state;
    char t[256];
    assert_false(rest_order_target("POST", "/webhooks/1/tok", t, sizeof t));
    assert_false(rest_order_target("POST", "/interactions/1/tok/callback", t, sizeof t));
    assert_false(rest_order_target("GET", "/webhooks/1/tok/messages/@original", t, sizeof t));
    assert_false(rest_order_target("POST", "/channels/5/messages", t, sizeof t));
    assert_false(rest_order_target("PATCH", "/webhooks/1/tok/messages/", t, sizeof t));
    assert_false(rest_order_target("PATCH", "/webhooks/1/tok/messages/2/extra", t, sizeof t));
    assert_false(rest_order_target("PATCH", "webhooks/1/tok/messages/2", t, sizeof t));
    assert_false(rest_order_target("PATCH", "/webhooks/1/tok/messages/@original", t, 10));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_message_writes_have_a_target),
        cmocka_unit_test(test_other_requests_are_unordered),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
