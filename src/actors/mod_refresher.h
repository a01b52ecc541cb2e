/*
 * The mod_refresher actor: with a database several processes share (postgresql:// db_url), it
 * checks the moderation version every period and, when another change was committed since,
 * re-reads the moderation state (mod_pgstore.h) and hands it to mod_state, so
 * filters, warnings and bans changed by any process hold in every process. The router never
 * waits on the database: it keeps reading the in-memory snapshots, which this actor replaces
 * (mod_state_refresh). Staleness bound: a change made in another process shows here at most
 * its writer's commit delay (analytics_flush_ms, 200 ms by default) + period_ms + one read
 * later, while the database answers; a change made here shows here at once. While the
 * database does not answer, the last state read stays in force (logged once per outage).
 */
#ifndef FLUXBOT_MOD_REFRESHER_H
#define FLUXBOT_MOD_REFRESHER_H

#include <stdint.h>

#include "config/fb_config.h"
#include "fluxbot/runtime.h"
#include "moderation/mod_state.h"

#define MOD_REFRESHER_ACTOR_NAME "modsync"

typedef struct mod_refresher_config {
    const char *db_url; /* postgresql:// (secret: never logged) */
    mod_state *mod;     /* refreshed; outlives the actor */
    unsigned period_ms; /* 0 = 5000 */
    unsigned guard_ms;  /* skip a read while the latest local change is younger (0 = 2000) */
} mod_refresher_config;

typedef struct mod_refresher mod_refresher;

/* db_url and the guard (4 x analytics_flush_ms, at least 2 s) from the configuration; the
 * caller then sets .mod. */
void mod_refresher_config_from(mod_refresher_config *out, const fb_config *cfg);
/* Adds the actor to sys; NULL on bad configuration (no postgresql:// db_url or no state).
 * Free after rt_system_free. */
mod_refresher *mod_refresher_new(rt_system *sys, const mod_refresher_config *cfg);
rt_actor *mod_refresher_actor(mod_refresher *r);

typedef struct mod_refresher_counters {
    uint64_t refreshes; /* states read and adopted */
    uint64_t unchanged; /* ticks that found the version unchanged (nothing else read) */
    uint64_t skipped;   /* reads skipped or discarded for a local change not yet committed */
    uint64_t failures;  /* reads that failed (the database did not answer) */
} mod_refresher_counters;
void mod_refresher_counters_get(mod_refresher *r, mod_refresher_counters *out); /* any thread */
void mod_refresher_free(mod_refresher *r);

#endif
