/* Two-counter read-copy-update (see mod_rcu.h). */
#include "moderation/mod_rcu.h"

#include <sched.h>
#include <time.h>

void mod_rcu_init(mod_rcu *r)
{
    atomic_init(&r->phase, 0);
    atomic_init(&r->readers[0], 0);
    atomic_init(&r->readers[1], 0);
}

unsigned mod_rcu_read_begin(mod_rcu *r)
{
    unsigned p = atomic_load(&r->phase) & 1u;
    atomic_fetch_add(&r->readers[p], 1);
    return p;
}

void mod_rcu_read_end(mod_rcu *r, unsigned token)
{
    atomic_fetch_sub(&r->readers[token & 1u], 1);
}

void mod_rcu_synchronize(mod_rcu *r)
{
    for (int round = 0; round < 2; round++) {
        unsigned old = atomic_load(&r->phase) & 1u;
        atomic_store(&r->phase, old ^ 1u);
        /* Readers are short: yield first, then sleep briefly so a preempted reader on the
         * other core gets to finish (2 cores are shared by everything). */
        for (unsigned spins = 0; atomic_load(&r->readers[old]) != 0; spins++) {
            if (spins < 64) {
                sched_yield();
            } else {
                struct timespec ts = {0, 100000};
                nanosleep(&ts, NULL);
            }
        }
    }
}
