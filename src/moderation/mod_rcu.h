/*
 * mod_rcu: read-copy-update for the moderation snapshots (rules, users, access). Readers never
 * block and never write shared memory other than one of two counters; a writer (serialised by
 * the caller) publishes a new snapshot with an atomic store, then waits in mod_rcu_synchronize
 * until no reader can still hold the old one, and frees it.
 *
 * How: a reader adds itself to readers[phase] before it loads a snapshot pointer and leaves
 * after its last use. synchronize flips the phase twice and each time waits for the counter
 * the new readers no longer use to drain. Every reader that could have loaded the old pointer
 * had entered one of the two counters before the pointer was replaced (all accesses are
 * sequentially consistent), so after both drains none is left. What breaks if violated: a
 * reader that loads a snapshot outside begin/end, or keeps a pointer after end, may use freed
 * memory; a writer that calls synchronize inside its own read section waits forever.
 *
 * Read sections must be short (a prompt check under the PCRE2 limits is the longest).
 */
#ifndef FLUXBOT_MOD_RCU_H
#define FLUXBOT_MOD_RCU_H

#include <stdatomic.h>

typedef struct mod_rcu {
    atomic_uint phase;
    atomic_long readers[2];
} mod_rcu;

void mod_rcu_init(mod_rcu *r);
/* Enters a read section; pass the result to mod_rcu_read_end. */
unsigned mod_rcu_read_begin(mod_rcu *r);
void mod_rcu_read_end(mod_rcu *r, unsigned token);
/* Waits until every read section that began before the call has ended. */
void mod_rcu_synchronize(mod_rcu *r);

#endif
