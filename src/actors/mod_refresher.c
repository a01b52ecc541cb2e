/*
 * The mod_refresher actor (see mod_refresher.h): a timer tick, one read of the shared
 * moderation state, one swap of the router's snapshots. State touched by its one thread only,
 * except the counter.
 */
#include "actors/mod_refresher.h"

#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fluxbot/log.h"
#include "moderation/mod_pgstore.h"
#include "pg/pg_conn.h"

#define WHO "moderation"

struct mod_refresher {
    rt_actor *actor;
    char url[1024];
    mod_state *mod;
    unsigned period_ms, guard_ms;
    bool failing;    /* the last read failed (logged once per outage) */
    PGconn *c;       /* kept between ticks; dropped after a failure */
    int64_t version; /* mod_version of the state adopted last (-1: none yet) */
    _Atomic uint64_t refreshes, unchanged, skipped, failures;
};

static int on_thread_start(rt_actor *self, void *state, unsigned index)
{
    (void)index;
    mod_refresher *r = state;
    rt_timer_start(self, r->period_ms, r->period_ms, 0);
    return 0;
}

static void fail(mod_refresher *r, const char *err)
{
    if (!r->failing)
        LOG_ERROR(WHO,
                  "cannot refresh the moderation state from the shared database: %s; "
                  "the last state read stays in force",
                  err);
    r->failing = true;
    atomic_fetch_add(&r->failures, 1);
    if (r->c) PQfinish(r->c);
    r->c = NULL;
}

static void refresh(mod_refresher *r)
{
    uint64_t last = 0, now = rt_now_ms();
    uint64_t before = mod_state_changes(r->mod, &last);
    if (last && now - last < r->guard_ms) { /* the writer may not have committed it yet */
        atomic_fetch_add(&r->skipped, 1);
        return;
    }
    char err[512] = "";
    if (!r->c || PQstatus(r->c) != CONNECTION_OK) {
        if (r->c) PQfinish(r->c);
        r->c = pg_open(r->url, 5000, err, sizeof err);
        if (!r->c) {
            fail(r, err);
            return;
        }
    }
    /* One small read when nothing changed (the common case); the whole state otherwise. */
    int64_t version;
    if (mod_pgstore_version(r->c, &version, err, sizeof err) != 0) {
        fail(r, err);
        return;
    }
    if (r->failing) LOG_WARN(WHO, "moderation state refreshed again from the shared database");
    r->failing = false;
    if (version == r->version) {
        atomic_fetch_add(&r->unchanged, 1);
        return;
    }
    mod_loaded l;
    if (mod_pgstore_read(r->c, (int64_t)rt_wall_ms(), &l, err, sizeof err) != 0) {
        mod_loaded_free(&l);
        fail(r, err);
        return;
    }
    if (mod_state_refresh(r->mod, &l, before) == 0) {
        atomic_fetch_add(&r->refreshes, 1);
        r->version = version; /* a change after this read bumps it again: read next time */
    } else {
        atomic_fetch_add(&r->skipped, 1);
    }
    mod_loaded_free(&l);
}

static void on_message(rt_actor *self, void *state, rt_msg *m)
{
    (void)self;
    if (m->type == RT_MSG_TIMER) refresh(state);
    rt_msg_free(m);
}

mod_refresher *mod_refresher_new(rt_system *sys, const mod_refresher_config *cfg)
{
    if (!cfg || !cfg->mod || !pg_is_url(cfg->db_url) ||
        strlen(cfg->db_url) >= sizeof((mod_refresher *)0)->url)
        return NULL;
    mod_refresher *r = calloc(1, sizeof *r);
    if (!r) abort();
    snprintf(r->url, sizeof r->url, "%s", cfg->db_url);
    r->mod = cfg->mod;
    r->period_ms = cfg->period_ms ? cfg->period_ms : 5000;
    r->guard_ms = cfg->guard_ms ? cfg->guard_ms : 2000;
    r->version = -1;
    rt_actor_spec spec = {
        .name = MOD_REFRESHER_ACTOR_NAME,
        .threads = 1,
        .lane_capacity = 16,
        .state = r,
        .ops = {.on_thread_start = on_thread_start, .on_message = on_message},
    };
    r->actor = rt_actor_new(sys, &spec);
    if (!r->actor) {
        free(r);
        return NULL;
    }
    return r;
}

void mod_refresher_config_from(mod_refresher_config *out, const fb_config *cfg)
{
    memset(out, 0, sizeof *out);
    out->db_url = cfg->db_url;
    unsigned guard = cfg->analytics_flush_ms > 0 ? 4 * (unsigned)cfg->analytics_flush_ms : 0;
    out->guard_ms = guard > 2000 ? guard : 2000;
}

rt_actor *mod_refresher_actor(mod_refresher *r)
{
    return r ? r->actor : NULL;
}

void mod_refresher_counters_get(mod_refresher *r, mod_refresher_counters *out)
{
    out->refreshes = atomic_load(&r->refreshes);
    out->unchanged = atomic_load(&r->unchanged);
    out->skipped = atomic_load(&r->skipped);
    out->failures = atomic_load(&r->failures);
}

void mod_refresher_free(mod_refresher *r)
{
    if (r && r->c) PQfinish(r->c);
    free(r);
}
