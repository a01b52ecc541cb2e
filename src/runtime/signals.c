/*
 * Stop signals and exit requests. SIGINT/SIGTERM set a flag and wake the main thread, which is
 * parked in rt_system_wait_signal; a second signal means "now": the process exits at once.
 * Actors that hit a fatal condition (bad token, fatal gateway close) use the same path through
 * rt_system_request_exit, so every shutdown goes through one orderly stop.
 */
#include <signal.h>
#include <string.h>
#include <unistd.h>

#include "runtime/actor_internal.h"
#include "runtime/park.h"

static _Atomic uint32_t g_stop_word; /* futex: bumped by signals and exit requests */
static _Atomic int g_signals;

static void on_signal(int sig)
{
    (void)sig;
    if (atomic_fetch_add(&g_signals, 1) >= 1) {
        static const char msg[] = "fluxbot: second signal, exiting now\n";
        ssize_t r = write(2, msg, sizeof msg - 1);
        (void)r;
        _exit(130);
    }
    atomic_fetch_add(&g_stop_word, 1);
    rt_futex_wake(&g_stop_word, 1 << 30);
}

void rt_signals_install(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN); /* peers closing sockets must not kill the bot */
}

void rt_system_request_exit(rt_system *sys, int exit_code)
{
    if (sys) {
        int zero = 0;
        atomic_compare_exchange_strong(&sys->exit_code, &zero, exit_code);
    }
    atomic_fetch_add(&g_stop_word, 1);
    rt_futex_wake(&g_stop_word, 1 << 30);
}

int rt_system_exit_code(const rt_system *sys)
{
    return atomic_load(&((rt_system *)sys)->exit_code);
}

bool rt_system_wait_signal(rt_system *sys, int64_t timeout_ms)
{
    (void)sys;
    uint64_t deadline = timeout_ms >= 0 ? rt_now_ns() + (uint64_t)timeout_ms * 1000000u : 0;
    uint32_t seen = atomic_load(&g_stop_word);
    static _Thread_local uint32_t last_seen;
    if (seen != last_seen) {
        last_seen = seen;
        return true;
    }
    for (;;) {
        uint64_t wait_ns = 0;
        if (timeout_ms >= 0) {
            uint64_t now = rt_now_ns();
            if (now >= deadline) return false;
            wait_ns = deadline - now;
        }
        rt_futex_wait(&g_stop_word, seen, wait_ns);
        uint32_t cur = atomic_load(&g_stop_word);
        if (cur != seen) {
            last_seen = cur;
            return true;
        }
    }
}
