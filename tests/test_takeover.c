/* The takeover decision (comfy/takeover.h): for a job taken over from a process that died,
 * - too late once what is left of the interaction token's 15 minutes does not cover the
 *   reserve, whatever the server says (and exactly at the boundary);
 * - resubmitted when it never reached a server, or its server is not one of ours;
 * - for a submitted (or delivering) job: ask the server first, then fetch what history has,
 *   follow what is queued or running (or a server that does not answer: the follower's outage
 *   rules apply), resubmit what is gone. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "comfy/takeover.h"

#define MIN_MS 60000ull

static takeover_facts facts(takeover_stage st, takeover_server srv)
{
    takeover_facts f = {.stage = st,
                        .has_prompt = st != TAKEOVER_STAGE_ACCEPTED,
                        .server_known = true,
                        .server = srv,
                        .received_ms = 1000000,
                        .now_ms = 1000000 + 2 * MIN_MS,
                        .token_valid_ms = 15 * MIN_MS,
                        .reserve_ms = MIN_MS};
    return f;
}

static void test_submitted_job_follows_the_server(void **state)
{
    (void)state;
    takeover_facts f = facts(TAKEOVER_STAGE_SUBMITTED, TAKEOVER_NOT_ASKED);
    assert_int_equal(takeover_decide(&f), TAKEOVER_ASK);
    f.server = TAKEOVER_IN_HISTORY;
    assert_int_equal(takeover_decide(&f), TAKEOVER_FETCH);
    f.server = TAKEOVER_IN_QUEUE;
    assert_int_equal(takeover_decide(&f), TAKEOVER_FOLLOW);
    f.server = TAKEOVER_NO_ANSWER;
    assert_int_equal(takeover_decide(&f), TAKEOVER_FOLLOW);
    f.server = TAKEOVER_ABSENT;
    assert_int_equal(takeover_decide(&f), TAKEOVER_RESUBMIT);
    /* cleared to deliver and died: delivered again from history (an identical edit) */
    f = facts(TAKEOVER_STAGE_DELIVERING, TAKEOVER_IN_HISTORY);
    assert_int_equal(takeover_decide(&f), TAKEOVER_FETCH);
    f.server = TAKEOVER_ABSENT;
    assert_int_equal(takeover_decide(&f), TAKEOVER_RESUBMIT);
}

static void test_unsubmitted_or_foreign_server_resubmits(void **state)
{
    (void)state;
    takeover_facts f = facts(TAKEOVER_STAGE_ACCEPTED, TAKEOVER_NOT_ASKED);
    assert_int_equal(takeover_decide(&f), TAKEOVER_RESUBMIT);
    f = facts(TAKEOVER_STAGE_SUBMITTED, TAKEOVER_NOT_ASKED);
    f.server_known = false;
    assert_int_equal(takeover_decide(&f), TAKEOVER_RESUBMIT);
    f = facts(TAKEOVER_STAGE_SUBMITTED, TAKEOVER_IN_QUEUE);
    f.has_prompt = false;
    assert_int_equal(takeover_decide(&f), TAKEOVER_RESUBMIT);
}

static void test_too_late_after_the_token_window(void **state)
{
    (void)state;
    takeover_server all[] = {TAKEOVER_NOT_ASKED, TAKEOVER_IN_HISTORY, TAKEOVER_IN_QUEUE,
                             TAKEOVER_ABSENT, TAKEOVER_NO_ANSWER};
    for (unsigned i = 0; i < sizeof all / sizeof all[0]; i++) {
        takeover_facts f = facts(TAKEOVER_STAGE_SUBMITTED, all[i]);
        f.now_ms = f.received_ms + 16 * MIN_MS;
        assert_int_equal(takeover_decide(&f), TAKEOVER_TOO_LATE);
        f = facts(TAKEOVER_STAGE_ACCEPTED, all[i]);
        f.now_ms = f.received_ms + 15 * MIN_MS;
        assert_int_equal(takeover_decide(&f), TAKEOVER_TOO_LATE);
    }
    /* the boundary: exactly the reserve left is too late, one ms more is not */
    takeover_facts f = facts(TAKEOVER_STAGE_SUBMITTED, TAKEOVER_IN_HISTORY);
    f.now_ms = f.received_ms + 14 * MIN_MS;
    assert_int_equal(takeover_decide(&f), TAKEOVER_TOO_LATE);
    f.now_ms -= 1;
    assert_int_equal(takeover_decide(&f), TAKEOVER_FETCH);
    /* a received time in the future (clock skew between machines) is not too late */
    f.now_ms = f.received_ms - 5000;
    assert_int_equal(takeover_decide(&f), TAKEOVER_FETCH);
}

static void test_names(void **state)
{
    (void)state;
    assert_string_equal(takeover_action_name(TAKEOVER_FOLLOW), "follow");
    assert_string_equal(takeover_action_name(TAKEOVER_TOO_LATE), "too_late");
    assert_string_equal(takeover_action_name((takeover_action)99), "?");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_submitted_job_follows_the_server),
        cmocka_unit_test(test_unsubmitted_or_foreign_server_resubmits),
        cmocka_unit_test(test_too_late_after_the_token_window),
        cmocka_unit_test(test_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
