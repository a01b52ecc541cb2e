/*
 * Process lifecycle: the first SIGTERM makes the main thread stop the system, which drains
 * every mailbox before exiting 0; a second signal while stopping exits at once with 130.
 * Each case runs in a forked child so real signals hit a real process.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <signal.h>
#include <stdbool.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "fluxbot/log.h"
#include "fluxbot/runtime.h"

static _Atomic int g_processed;

static void slow_on_message(rt_actor *self, void *st, rt_msg *m)
{
    (void)self;
    (void)st;
    rt_msg_free(m);
    struct timespec ts = {0, 200000}; /* 0.2 ms: 500 messages take ~0.1 s to drain */
    nanosleep(&ts, NULL);
    atomic_fetch_add(&g_processed, 1);
}

static void stuck_on_message(rt_actor *self, void *st, rt_msg *m)
{
    (void)st;
    rt_msg_free(m);
    rt_actor_hold(self); /* never released: the stop would wait for ever */
}

/* Child body: queue `n` messages, tell the parent we are ready, wait for the signal, stop. */
static int child(int ready_fd, bool stuck)
{
    log_configure(LOG_LEVEL_ERROR, false, 2);
    rt_signals_install();
    rt_system *sys = rt_system_new();
    rt_actor_spec spec = {.name = "worker",
                          .threads = 1,
                          .lane_capacity = 64,
                          .ops = {.on_message = stuck ? stuck_on_message : slow_on_message}};
    rt_actor *a = rt_actor_new(sys, &spec);
    if (rt_system_start(sys) != 0) return 3;
    for (int i = 0; i < 500; i++)
        rt_send_spill(a, rt_msg_new(RT_MSG_PING, sizeof(rt_msg), NULL));
    if (write(ready_fd, "r", 1) != 1) return 4;
    if (!rt_system_wait_signal(sys, 10000)) return 5; /* no signal: the parent failed */
    rt_system_stop(sys);
    int processed = atomic_load(&g_processed);
    rt_system_free(sys);
    return processed == 500 ? 0 : 6;
}

static int run_child(bool stuck, int signals)
{
    int p[2];
    assert_int_equal(pipe(p), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(p[0]);
        _exit(child(p[1], stuck));
    }
    close(p[1]);
    char c;
    assert_int_equal(read(p[0], &c, 1), 1);
    close(p[0]);
    for (int i = 0; i < signals; i++) {
        kill(pid, SIGTERM);
        struct timespec ts = {0, 50000000};
        nanosleep(&ts, NULL);
    }
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    return WEXITSTATUS(status);
}

static void test_sigterm_drains_then_exits_zero(void **s)
{
    (void)s;
    assert_int_equal(run_child(false, 1), 0);
}

static void test_second_signal_exits_now(void **s)
{
    (void)s;
    assert_int_equal(run_child(true, 2), 130);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sigterm_drains_then_exits_zero),
        cmocka_unit_test(test_second_signal_exits_now),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
