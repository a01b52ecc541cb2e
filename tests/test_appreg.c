/* appreg on a real runtime: the outcome of a slash-command registration is counted whenever
 * its answer arrives, even before appreg_register has returned (on a loaded machine the REST
 * actor and the appreg actor both run while the registering thread is preempted), and an
 * answer of an earlier registration (before a reload) does not count for a newer one.
 *
 * The REST actor is replaced by this file's discord_rest_register_commands, which records the
 * cookies it is given and, in "answer now" mode, delivers the 2xx answer and waits until the
 * appreg actor has handled it before returning: the order that left the commands "not
 * registered" forever (after_restart in test_opts_e2e, under the parallel full run).
 *
 * fluxbot-test: tsan
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdatomic.h>
#include <string.h>
#include <time.h>

#include "app/appreg.h"
#include "fluxbot/log.h"
#include "fluxbot/runtime.h"
#include "msgs/rest.h"

static struct {
    atomic_bool answer_now;
    _Atomic unsigned handled_before_return; /* answers seen handled before the call returned */
    uint64_t cookies[8];
    unsigned ncookies;
    rt_actor *reply_to;
    appreg *r;
} T;

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static void answer(uint64_t cookie, int status)
{
    assert_int_equal(
        rt_send_wait(T.reply_to, &rest_res_msg_new(cookie, status, "{}", 2)->hdr, 5000), 0);
}

/* Stands in for the REST actor's bulk PUT (one request: a global registration). */
int discord_rest_register_commands(discord_rest *d, uint64_t application_id, const uint64_t *guilds,
                                   unsigned nguilds, const cmd_def *const *declared,
                                   unsigned ndeclared, const char *const *resolution_labels,
                                   unsigned nlabels, rt_actor *reply_to, uint64_t cookie, char *err,
                                   size_t errlen)
{
    (void)d, (void)application_id, (void)guilds, (void)nguilds, (void)declared, (void)ndeclared,
        (void)resolution_labels, (void)nlabels, (void)err, (void)errlen;
    T.reply_to = reply_to;
    if (T.ncookies < 8) T.cookies[T.ncookies++] = cookie;
    if (atomic_load(&T.answer_now)) {
        answer(cookie, 200);
        /* Until the appreg actor has counted it: the answer beats appreg_register's return. */
        uint64_t until = rt_now_ms() + 10000;
        appreg_counters c;
        do {
            sleep_ms(2);
            appreg_counters_get(T.r, &c);
        } while (c.succeeded + c.failed == 0 && rt_now_ms() < until);
        if (c.succeeded + c.failed) atomic_fetch_add(&T.handled_before_return, 1);
    }
    return 1;
}

static bool wait_counts(unsigned succeeded, unsigned failed)
{
    uint64_t until = rt_now_ms() + 10000;
    appreg_counters c;
    for (;;) {
        appreg_counters_get(T.r, &c);
        if (c.succeeded == succeeded && c.failed == failed) return true;
        if (rt_now_ms() >= until) return false;
        sleep_ms(2);
    }
}

static rt_system *start(void)
{
    memset(&T, 0, sizeof T);
    rt_system *sys = rt_system_new();
    assert_non_null(sys);
    T.r = appreg_new(sys, NULL, 0);
    assert_non_null(T.r);
    assert_int_equal(rt_system_start(sys), 0);
    return sys;
}

static void stop(rt_system *sys)
{
    rt_system_stop(sys);
    rt_system_free(sys);
    appreg_free(T.r);
}

static void answer_before_register_returns(void **state)
{
    (void)state;
    rt_system *sys = start();
    decl_set decls = {0};
    atomic_store(&T.answer_now, true);
    assert_int_equal(appreg_register(T.r, NULL, 777, NULL, &decls), 1);
    assert_int_equal(atomic_load(&T.handled_before_return), 1);
    appreg_counters c;
    appreg_counters_get(T.r, &c);
    assert_int_equal(c.queued, 1);
    assert_int_equal(c.succeeded, 1); /* the answer that came first is not wiped */
    assert_int_equal(c.failed, 0);
    /* a later call does nothing (registered once) */
    assert_int_equal(appreg_register(T.r, NULL, 777, NULL, &decls), 0);
    stop(sys);
}

static void earlier_registration_answer_not_counted(void **state)
{
    (void)state;
    rt_system *sys = start();
    decl_set decls = {0};
    assert_int_equal(appreg_register(T.r, NULL, 777, NULL, &decls), 1);
    appreg_request_again(T.r); /* a reload changed the commands before the first answer */
    assert_int_equal(appreg_register(T.r, NULL, 777, NULL, &decls), 1);
    assert_int_equal(T.ncookies, 2);
    assert_true(T.cookies[0] != T.cookies[1]);
    /* the first registration's answer: a failure that must not count for the second */
    answer(T.cookies[0], 400);
    /* the second's: registered */
    answer(T.cookies[1], 200);
    assert_true(wait_counts(1, 0));
    appreg_counters c;
    appreg_counters_get(T.r, &c);
    assert_int_equal(c.queued, 1);
    stop(sys);
}

int main(void)
{
    log_configure(LOG_LEVEL_ERROR, false, 2);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(answer_before_register_returns),
        cmocka_unit_test(earlier_registration_answer_not_counted),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
