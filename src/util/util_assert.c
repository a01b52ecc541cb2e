/* Assertion failure and owner-thread records (see util_assert.h). */
#include "util/util_assert.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <unistd.h>

static _Thread_local uint64_t tl_tid;

_Noreturn void util_assert_fail(const char *what, const char *file, int line, const char *func)
{
    fprintf(stderr, "fluxbot: assertion failed: %s (%s:%d, %s)\n", what, file, line, func);
    fflush(stderr);
    abort();
}

uint64_t util_thread_id(void)
{
    if (!tl_tid) tl_tid = (uint64_t)syscall(SYS_gettid);
    return tl_tid;
}

/* Aborts naming both threads: the message is what the developer sees in a failed test. */
static _Noreturn void owner_fail(const char *rule, const char *what, uint64_t holder,
                                 const char *file, int line, const char *func)
{
    char name[16] = "?";
    pthread_getname_np(pthread_self(), name, sizeof name);
    fprintf(stderr,
            "fluxbot: assertion failed: %s %s: thread %llu (\"%s\") is here while thread %llu "
            "holds it (%s:%d, %s)\n",
            what, rule, (unsigned long long)util_thread_id(), name, (unsigned long long)holder,
            file, line, func);
    fflush(stderr);
    abort();
}

void util_owner_claim(util_owner *o)
{
    atomic_store(&o->tid, util_thread_id());
}

void util_owner_check(util_owner *o, const char *what, const char *file, int line, const char *func)
{
    uint64_t me = util_thread_id(), cur = 0;
    if (atomic_compare_exchange_strong(&o->tid, &cur, me) || cur == me) return;
    owner_fail("is owned by one thread", what, cur, file, line, func);
}

void util_owner_enter(util_owner *o, const char *what, const char *file, int line, const char *func)
{
    uint64_t me = util_thread_id(), cur = 0;
    if (atomic_compare_exchange_strong(&o->tid, &cur, me)) return;
    owner_fail("takes one thread at a time", what, cur, file, line, func);
}

void util_owner_leave(util_owner *o)
{
    atomic_store(&o->tid, 0);
}
