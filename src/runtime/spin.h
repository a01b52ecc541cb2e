/*
 * The adaptive spin of parked actors: how long a thread that just ran out of messages spins
 * before it parks. Pure arithmetic, owned by the runtime (actor.c's parked loop is its only user).
 *
 * A spin pays when the next message arrives sooner than a park + futex wake would take (a
 * reply already on its way, back-to-back traffic); otherwise it only burns the core, and its
 * sched_yield calls make context switches, which on a shared 2-core VM cost more than the
 * futex round trip it was meant to save. So the budget follows what the last wait showed:
 *   - the spin found work, or the park that followed it ended within what a full spin would
 *     have waited: spin the full budget next time;
 *   - otherwise halve it, down to none (under RT_SPIN_MIN_NS), until a short park shows that
 *     spinning would have paid again.
 * At a few hundred interactions per second every actor settles on no spin (messages are
 * milliseconds apart); under a burst the budget is back at full after one short wait.
 */
#ifndef FLUXBOT_RT_SPIN_H
#define FLUXBOT_RT_SPIN_H

#include <stdbool.h>
#include <stdint.h>

#define RT_SPIN_MIN_NS 1000u /* a spin shorter than this cannot catch anything worth it */

/* The next spin budget. budget: the one just used; max: the actor's full spin; found: the spin
 * ended because work arrived; parked_ns: how long the park that followed lasted (ignored when
 * found). */
static inline uint64_t rt_spin_next(uint64_t budget, uint64_t max, bool found, uint64_t parked_ns)
{
    if (found || parked_ns < max) return max;
    uint64_t half = budget / 2;
    return half < RT_SPIN_MIN_NS ? 0 : half;
}

#endif
