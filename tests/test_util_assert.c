/* util_assert: in debug builds (every test flavour) a failed FB_ASSERT and a violated owner rule
 * abort the process with a message naming the expression, and the analytics store's
 * "opening thread only" rule is enforced on the real code; in release builds (NDEBUG) the
 * checks compile to nothing. Death tests: the violation runs in a forked child, the parent
 * checks how it ended and what it printed. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "analytics/an_store.h"
#include "death.h"
#include "util/util_assert.h"

/* Debug: the child died of SIGABRT saying `expect`. Release: it ran to the end. */
static void expect_abort(const death *d, const char *expect)
{
#ifdef FB_DEBUG
    if (!WIFSIGNALED(d->status)) fprintf(stderr, "child did not abort; stderr: %s\n", d->err);
    assert_true(WIFSIGNALED(d->status));
    assert_int_equal(WTERMSIG(d->status), SIGABRT);
    assert_non_null(strstr(d->err, "fluxbot: assertion failed: "));
    if (!strstr(d->err, expect)) fprintf(stderr, "stderr: %s\n", d->err);
    assert_non_null(strstr(d->err, expect));
#else
    (void)expect;
    assert_true(WIFEXITED(d->status));
    assert_int_equal(WEXITSTATUS(d->status), 0);
#endif
}

static void *in_thread(void *arg)
{
    void (**fn)(void) = arg;
    (*fn)();
    return NULL;
}

static void on_other_thread(void (*fn)(void))
{
    pthread_t th;
    pthread_create(&th, NULL, in_thread, &fn);
    pthread_join(th, NULL);
}

/* ---- FB_ASSERT --------------------------------------------------------------------------- */

static int g_two = 2;

static void fail_plain(void *arg)
{
    (void)arg;
    FB_ASSERT(1 + 1 == g_two + 1);
}

static void test_assert_holds_and_fails(void **state)
{
    (void)state;
    FB_ASSERT(1 + 1 == g_two); /* holds: nothing happens */
    death d;
    death_run(fail_plain, NULL, &d);
    expect_abort(&d, "1 + 1 == g_two + 1 (");
#ifdef FB_DEBUG
    assert_non_null(strstr(d.err, "fail_plain"));
#endif
}

/* ---- owner records ----------------------------------------------------------------------- */

static __attribute__((unused)) util_owner g_owner;

static void check_owner(void)
{
    FB_ASSERT_OWNER(&g_owner);
}

static void owner_from_two_threads(void *arg)
{
    (void)arg;
    FB_ASSERT_OWNER(&g_owner); /* the first user claims it */
    FB_ASSERT_OWNER(&g_owner); /* and may come back */
    on_other_thread(check_owner);
}

static void test_owner_check_aborts_on_another_thread(void **state)
{
    (void)state;
    death d;
    death_run(owner_from_two_threads, NULL, &d);
    expect_abort(&d, "&g_owner is owned by one thread");
}

static void claim_then_hand_over(void *arg)
{
    (void)arg;
    FB_OWNER_CLAIM(&g_owner);
    on_other_thread(check_owner);
}

static void test_claimed_owner_aborts_other_users(void **state)
{
    (void)state;
    death d;
    death_run(claim_then_hand_over, NULL, &d);
    expect_abort(&d, "is owned by one thread");
}

static __attribute__((unused)) util_owner g_lane;

static void enter_leave(void)
{
    FB_OWNER_ENTER(&g_lane);
    FB_OWNER_LEAVE(&g_lane);
}

static void enter_only(void)
{
    FB_OWNER_ENTER(&g_lane);
}

static void test_one_at_a_time_allows_turns(void **state)
{
    (void)state;
    /* different threads, one after the other: allowed (a recycled lane, a pooled reader) */
    enter_leave();
    on_other_thread(enter_leave);
    enter_leave();
}

static void overlap(void *arg)
{
    (void)arg;
    FB_OWNER_ENTER(&g_lane);
    on_other_thread(enter_only); /* while this thread is still inside */
}

static void test_one_at_a_time_aborts_on_overlap(void **state)
{
    (void)state;
    death d;
    death_run(overlap, NULL, &d);
    expect_abort(&d, "&g_lane takes one thread at a time");
}

/* ---- the rule on real code: the analytics store belongs to its opening thread ------------- */

static an_store *g_store;

static void write_nothing(void)
{
    char err[256];
    an_store_write(g_store, NULL, 0, err, sizeof err);
}

static void store_from_two_threads(void *arg)
{
    char err[512];
    g_store = an_store_open(arg, err, sizeof err);
    if (!g_store) {
        fprintf(stderr, "open: %s\n", err);
        _exit(3);
    }
    write_nothing(); /* the opening thread: fine */
    on_other_thread(write_nothing);
}

static void test_store_used_from_another_thread_aborts(void **state)
{
    (void)state;
    char dir[] = "/tmp/fluxbot-assert-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char path[128];
    snprintf(path, sizeof path, "%s/a.db", dir);
    death d;
    death_run(store_from_two_threads, path, &d);
    expect_abort(&d, "an_store_write");
    char cmd[200];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_assert_holds_and_fails),
        cmocka_unit_test(test_owner_check_aborts_on_another_thread),
        cmocka_unit_test(test_claimed_owner_aborts_other_users),
        cmocka_unit_test(test_one_at_a_time_allows_turns),
        cmocka_unit_test(test_one_at_a_time_aborts_on_overlap),
        cmocka_unit_test(test_store_used_from_another_thread_aborts),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
