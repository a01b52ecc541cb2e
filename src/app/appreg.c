/* Slash-command registration and its outcome (see appreg.h). */
#include "app/appreg.h"

#include <inttypes.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fluxbot/log.h"
#include "msgs/rest.h"

#define LOGN APPREG_ACTOR_NAME
#define COOKIE_BASE 1
/* A registration's cookies carry its generation above this bit, and the request's index below. */
#define GEN_SHIFT 32

/* The outcome counters are (generation << GEN_SHIFT | count): a registration starts its
 * generation's counters before it queues any PUT, so an answer that arrives before
 * appreg_register returns (a loaded machine: the REST actor and this one run while the caller
 * is preempted) is counted, never wiped; an answer of an earlier registration (before a reload)
 * carries an older generation and is not counted for the new one. Resetting the counters after
 * queueing lost such an early answer: the commands stayed "not registered" forever. */
struct appreg {
    rt_actor *self;
    uint64_t guilds[FB_CONFIG_MAX_LIST];
    unsigned nguilds;
    atomic_bool started;
    _Atomic uint32_t gen; /* the current registration's generation */
    _Atomic unsigned queued;
    _Atomic uint64_t succeeded, failed;
};

/* Counts one answer of generation gen, unless a newer registration has started. */
static void tally(_Atomic uint64_t *c, uint32_t gen)
{
    uint64_t v = atomic_load(c);
    while ((uint32_t)(v >> GEN_SHIFT) == gen)
        if (atomic_compare_exchange_weak(c, &v, v + 1)) return;
}

static void on_message(rt_actor *self, void *state, rt_msg *m)
{
    (void)self;
    appreg *r = state;
    if (m->type == MSG_REST_RES) {
        const rest_res_msg *res = (const rest_res_msg *)m;
        const uint32_t gen = (uint32_t)(res->cookie >> GEN_SHIFT);
        uint64_t i = (res->cookie & (((uint64_t)1 << GEN_SHIFT) - 1)) - COOKIE_BASE;
        char where[48] = "globally";
        if (r->nguilds && i < r->nguilds)
            snprintf(where, sizeof where, "in guild %" PRIu64, r->guilds[i]);
        if (res->status >= 200 && res->status < 300) {
            tally(&r->succeeded, gen);
            LOG_INFO(LOGN, "slash commands registered %s", where);
        } else {
            tally(&r->failed, gen);
            LOG_ERROR(LOGN, "registering the slash commands %s failed: status %d %s %.300s", where,
                      res->status, res->error, res->body ? res->body : "");
        }
    }
    rt_msg_free(m);
}

appreg *appreg_new(rt_system *sys, const uint64_t *guilds, unsigned nguilds)
{
    appreg *r = calloc(1, sizeof *r);
    if (!r) return NULL;
    if (nguilds > FB_CONFIG_MAX_LIST) nguilds = FB_CONFIG_MAX_LIST;
    if (nguilds) memcpy(r->guilds, guilds, nguilds * sizeof *guilds);
    r->nguilds = nguilds;
    rt_actor_spec spec = {.name = APPREG_ACTOR_NAME,
                          .threads = 1,
                          .lane_capacity = 16,
                          .state = r,
                          .ops = {.on_message = on_message}};
    r->self = rt_actor_new(sys, &spec);
    if (!r->self) {
        free(r);
        return NULL;
    }
    return r;
}

rt_actor *appreg_actor(appreg *r)
{
    return r->self;
}

int appreg_register(appreg *r, discord_rest *rest, uint64_t application_id,
                    const ratios_set *ratios, const decl_set *decls)
{
    if (atomic_exchange(&r->started, true)) return 0;
    const char *labels[RATIOS_MAX];
    unsigned n = 0;
    for (unsigned i = 0; ratios && i < ratios->count && i < RATIOS_MAX; i++)
        labels[n++] = ratios->items[i].label;
    const cmd_def *declared[DECL_MAX_COMMANDS];
    unsigned nd = decl_set_defs(decls, declared, DECL_MAX_COMMANDS);
    /* A registration again (a reload) counts afresh: registered means this one succeeded.
     * Started before the PUTs are queued (see struct appreg). */
    const uint32_t gen = atomic_fetch_add(&r->gen, 1) + 1;
    atomic_store(&r->queued, 0);
    atomic_store(&r->succeeded, (uint64_t)gen << GEN_SHIFT);
    atomic_store(&r->failed, (uint64_t)gen << GEN_SHIFT);
    char err[256];
    int q = discord_rest_register_commands(
        rest, application_id, r->guilds, r->nguilds, declared, nd, labels, n, r->self,
        ((uint64_t)gen << GEN_SHIFT) + COOKIE_BASE, err, sizeof err);
    if (q < 0) {
        LOG_ERROR(LOGN, "cannot register the slash commands: %s", err);
        return -1;
    }
    atomic_store(&r->queued, (unsigned)q);
    LOG_INFO(LOGN,
             "registering %u slash-command set%s (%u declared generation commands) for "
             "application %" PRIu64,
             (unsigned)q, q == 1 ? "" : "s", nd, application_id);
    return q;
}

void appreg_request_again(appreg *r)
{
    atomic_store(&r->started, false);
}

void appreg_counters_get(appreg *r, appreg_counters *out)
{
    out->queued = atomic_load(&r->queued);
    /* The low bits are the count (at most FB_CONFIG_MAX_LIST PUTs per registration). */
    out->succeeded = (unsigned)(uint32_t)atomic_load(&r->succeeded);
    out->failed = (unsigned)(uint32_t)atomic_load(&r->failed);
}

void appreg_free(appreg *r)
{
    free(r);
}
