/*
 * util_assert: invariants that run. FB_ASSERT(cond) and the owner-thread checks abort with the
 * failed expression, file and line in debug builds (CMake Debug: the asan and tsan flavours,
 * where every test runs) and compile to nothing in release builds (NDEBUG: the bot, the
 * benchmarks), like assert(3), so a check may sit on a hot path.
 *
 * An owner record (util_owner) states who may touch an object, in the spirit of SQLite's
 * sqlite3_mutex_held(), which exists to be asserted:
 *   - FB_OWNER_CLAIM(o): the calling thread owns o from now on (open/creation, or a handoff);
 *   - FB_ASSERT_OWNER(o): the calling thread is o's owner (the first caller claims an unowned
 *     record). For "this thread only" rules: the writer's SQLite connection.
 *   - FB_OWNER_ENTER(o) / FB_OWNER_LEAVE(o): no other thread is between ENTER and LEAVE on o.
 *     For "one thread at a time" rules whose thread may change: a mailbox lane's producer (the
 *     lane follows a recycled thread slot), a reader's connection.
 * Declare the record only in debug builds, so release layouts do not change:
 *     #ifdef FB_DEBUG
 *         util_owner owner;
 *     #endif
 * The macros do not evaluate their argument in release builds, so the field may be missing.
 *
 * What breaks without them: an owner rule violated by a change elsewhere corrupts state
 * silently and far from the cause (a lost message in an SPSC ring, a statement stepped on two
 * threads at once); the check turns it into an abort at the offending call, in every test run.
 */
#ifndef FLUXBOT_UTIL_ASSERT_H
#define FLUXBOT_UTIL_ASSERT_H

#include <stdatomic.h>
#include <stdint.h>

#ifndef NDEBUG
#define FB_DEBUG 1
#endif

typedef struct util_owner {
    _Atomic uint64_t tid; /* owning (or entered) thread's kernel id, 0 = none */
} util_owner;

/* Prints "fluxbot: assertion failed: ..." to stderr and aborts. */
_Noreturn void util_assert_fail(const char *what, const char *file, int line, const char *func);
/* The calling thread's kernel thread id (cached per thread). */
uint64_t util_thread_id(void);
void util_owner_claim(util_owner *o);
void util_owner_check(util_owner *o, const char *what, const char *file, int line,
                      const char *func);
void util_owner_enter(util_owner *o, const char *what, const char *file, int line,
                      const char *func);
void util_owner_leave(util_owner *o);

#ifdef FB_DEBUG
#define FB_ASSERT(cond) ((cond) ? (void)0 : util_assert_fail(#cond, __FILE__, __LINE__, __func__))
#define FB_OWNER_CLAIM(o) util_owner_claim(o)
#define FB_ASSERT_OWNER(o) util_owner_check((o), #o, __FILE__, __LINE__, __func__)
#define FB_OWNER_ENTER(o) util_owner_enter((o), #o, __FILE__, __LINE__, __func__)
#define FB_OWNER_LEAVE(o) util_owner_leave(o)
#else
#define FB_ASSERT(cond) ((void)sizeof(!(cond)))
#define FB_OWNER_CLAIM(o) ((void)0)
#define FB_ASSERT_OWNER(o) ((void)0)
#define FB_OWNER_ENTER(o) ((void)0)
#define FB_OWNER_LEAVE(o) ((void)0)
#endif

#endif
