/*
 * router: turns Discord interactions into work for the other actors and answers each one inside
 * Discord's 3-second window.
 *
 * A parked actor with `threads` threads sharing one mailbox. Shared state — the pending table
 * (src/router/rpend.h), the /reset_stats confirmations (an_confirm.h), the role cache
 * (gw_roles.h) and the counters — is each safe for concurrent use; nothing else is mutable.
 *
 * Inputs:
 *   MSG_GW_DISPATCH   INTERACTION_CREATE → ix_parse → one of the paths below. GUILD_CREATE,
 *                     GUILD_ROLE_* and GUILD_DELETE, when forwarded, are applied to the role
 *                     cache (the gateway normally applies them itself to the same cache).
 *   MSG_REST_RES      the outcome of a callback this router sent (cookie = pending entry)
 *   MSG_AN_RESET_DONE the writer finished a reset this router asked for
 *   RT_MSG_TIMER      the sweep: pending entries past their deadline are dropped
 *
 * Moderation (src/router/rmod.h) runs first on every command and click: bans, the access
 * rules, the moderation commands and the content filter answer with an ephemeral type 4 before
 * any work exists.
 *
 * Answers (POST /interactions/{id}/{token}/callback through the REST actor):
 *   bad input, unknown command or component, refusal  → type 4, ephemeral (flags 64)
 *   a declared generation command (/comfy, ...)        → type 5; the resolved job to the runner
 *                                                        (which has the prompt enhanced first
 *                                                        when its enhance option was set)
 *   /stats                                             → type 5 ephemeral; query to the reporter
 *   /reset_stats                                       → type 4 ephemeral prompt with buttons
 *   autocomplete (declared options, /lorainfo)         → type 8
 *   /queue                                             → type 5 ephemeral; to the runner
 *   Regenerate, Upscale ×2                             → type 5; the parsed click to the runner
 *   Delete by the requester or a moderator             → type 6; the parsed click to the runner
 *   Delete by anyone else                              → type 4 ephemeral refusal
 * The router owns every first answer: the runner, the reporter and the writer only edit
 * @original or send follow-ups.
 * Work that follows a defer is forwarded only after the defer's MSG_REST_RES is 2xx, so the
 * runner's or reporter's PATCH of @original can never reach Discord before the defer; a failed
 * defer drops the work (logged, failed command_usage row). Every pending entry holds the actor
 * (rt_actor_hold) so a stop waits for the outstanding answers; a periodic sweep bounds the wait.
 *
 * command_usage: one row per interaction (autocomplete excepted: it fires per keystroke and is
 * not a use of a command), with exec_ms from the frame's arrival to the callback's answer.
 *
 * Lifetime: router_new before rt_system_start (after the actors it sends to exist, before
 * the gateway), router_free after rt_system_free.
 */
#ifndef FLUXBOT_ACTORS_ROUTER_H
#define FLUXBOT_ACTORS_ROUTER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "msgs/gw.h"
#include "comfy/cjob.h"
#include "discord/gw_roles.h"
#include "config/fb_config.h"
#include "fluxbot/runtime.h"

#define ROUTER_ACTOR_NAME "router"

typedef struct router_config {
    unsigned threads;            /* 0 = 2 */
    unsigned lane_capacity;      /* mailbox slots per sender; 0 = 1024 */
    const char *manager_role;    /* bot-manager role, name or id; NULL = "Bot Manager" */
    bool stats_managers_only;    /* /stats only for administrators and bot managers */
    rt_actor *rest;              /* the discord_rest actor (required) */
    rt_actor *runner;            /* the comfy coordinator; NULL: generation is off */
    rt_actor *enhancer;          /* the llm_enhance actor (the runner talks to it); NULL:
                                    enhancement is off, and a job asking for it is marked so */
    rt_actor *stats;             /* the stats reporter; NULL: /stats is off */
    rt_actor *analytics;         /* the analytics writer; NULL: no rows, no resets */
    const cjob_catalog *catalog; /* ratios, LoRAs, workflows (immutable); NULL: generation off */
    gw_roles *roles;             /* the role cache shared with the gateway; NULL: own one */
    /* Filters, bans and access rules (src/moderation/mod_state.h); NULL: an empty one of its
     * own, recorded to analytics. */
    struct mod_state *mod;

    /* Tuning; 0 = default. */
    unsigned pending_max;        /* interactions awaiting an answer at once: 4096 */
    uint64_t pending_timeout_ms; /* longest wait for a callback's (or reset's) answer: 15000 */
    uint64_t sweep_ms;           /* how often expired entries are dropped: 1000 */
    unsigned confirm_max;        /* open /reset_stats prompts: 256 */
    int64_t confirm_ttl_ms;      /* how long a prompt's buttons work: 60000 */
    unsigned options_max;        /* open Options dialogs: 256 */
    uint64_t options_ttl_ms;     /* an Options dialog's life after its last use: 15 min */
} router_config;

/* Fills the fb_config-derived fields (threads, lane capacity, manager role, stats rule). */
void router_config_from(router_config *rc, const fb_config *cfg);

typedef struct router router;

/* Creates the state and the actor (ROUTER_ACTOR_NAME) in sys. NULL on error (logged). */
router *router_new(rt_system *sys, const router_config *rc);
rt_actor *router_actor(router *r);
gw_roles *router_roles(router *r);
struct mod_state *router_moderation(router *r);
/* Frees the state; the actor must have stopped. NULL is ignored. */
void router_free(router *r);

/* ---- counters ---------------------------------------------------------------------------- */

typedef enum router_cmd {
    ROUTER_CMD_GENERATE = 0, /* every declared generation command (comfy/decl.h) */
    ROUTER_CMD_QUEUE,
    ROUTER_CMD_STATS,
    ROUTER_CMD_RESET_STATS,
    ROUTER_CMD_RESET_BUTTON,  /* Confirm / Cancel of a /reset_stats prompt */
    ROUTER_CMD_RESULT_BUTTON, /* the runner's result buttons */
    ROUTER_CMD_AUTOCOMPLETE,
    ROUTER_CMD_UNKNOWN,   /* unknown command, component or interaction type */
    ROUTER_CMD_MALFORMED, /* refused by ix_parse */
    /* /filter /ban /unban /banned /warnings */
    ROUTER_CMD_MODERATION,
    ROUTER_CMD_LORAINFO, /* /lorainfo and its page buttons */
    ROUTER_CMD_OPTIONS,  /* a result's Options button, its dialog and modals */
    ROUTER_CMD_CANCEL,   /* /cancel and the Cancel buttons of jobs */
    ROUTER_CMD_COUNT
} router_cmd;

typedef enum router_outcome {
    ROUTER_OUT_OK = 0,     /* answered as intended / work handed on */
    ROUTER_OUT_INVALID,    /* bad input: answered with an ephemeral error */
    ROUTER_OUT_DENIED,     /* not allowed: answered with a refusal */
    ROUTER_OUT_ACK_FAILED, /* Discord refused the callback (expired, already answered, ...) */
    ROUTER_OUT_TIMEOUT,    /* no answer for the callback in time */
    ROUTER_OUT_DROPPED,    /* could not be handled (table full, actor stopped, no id/token) */
    ROUTER_OUT_COUNT
} router_outcome;

typedef struct router_counters {
    uint64_t by[ROUTER_CMD_COUNT][ROUTER_OUT_COUNT]; /* final outcome of each interaction */
    uint64_t dispatches;                             /* MSG_GW_DISPATCH received */
    uint64_t interactions;                           /* INTERACTION_CREATE received */
    uint64_t role_events;     /* guild/role dispatches applied to the cache */
    uint64_t callbacks_sent;  /* POST .../callback requests issued */
    uint64_t stale_answers;   /* MSG_REST_RES / reset answers for no pending entry */
    uint64_t resets;          /* resets asked of the writer */
    uint64_t callback_ns_sum; /* interaction arrival to Discord's answer to its callback */
    uint64_t callbacks_timed; /* callbacks answered (the count of callback_ns_sum) */
    uint64_t pending;         /* entries waiting right now */
    uint64_t pending_hwm;
} router_counters;

void router_counters_get(router *r, router_counters *out);
const char *router_cmd_name(router_cmd c);         /* "generate", ..., "malformed" */
const char *router_outcome_name(router_outcome o); /* "ok", "invalid", ... */

#endif
