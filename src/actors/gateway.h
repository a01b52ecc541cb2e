/*
 * gateway: the actor that holds the bot's Discord gateway connections.
 *
 * A loop actor: one thread owns one libwebsockets client context with one connection per
 * shard; senders wake it with lws_cancel_service. At start it asks GET {api_base}/gateway/bot
 * (libcurl, "Authorization: Bot <token>"; a 401 stops the bot) for the gateway URL, the
 * recommended shard count and the session start limit, then runs each shard's protocol state
 * machine (src/discord/gw_session.c): HELLO, jittered heartbeats, zombie detection, paced
 * IDENTIFY (src/discord/gw_idq.c), READY, RESUME with replay, RECONNECT, INVALID_SESSION,
 * close codes, backoff, zlib-stream.
 *
 * Only the envelope of each frame is parsed here (src/discord/gw_envelope.c), so this thread
 * never runs command code and heartbeats are never starved. Dispatches:
 *   - INTERACTION_CREATE goes to the target actor (normally the router) as MSG_GW_DISPATCH,
 *     with rt_send_wait and a short deadline; if the target's mailbox stays full the message is
 *     kept, in order, and retried (loudly logged) — an interaction is never silently dropped;
 *   - GUILD_CREATE, GUILD_ROLE_CREATE/UPDATE/DELETE and GUILD_DELETE are applied HERE to the
 *     role cache (gw_roles) before the next frame is read, so a role lookup made for an
 *     interaction always reflects the role events Discord sent before it. The router reads
 *     the same cache (gateway_roles) and does not need the events; they are forwarded as
 *     well only when forward_guild_events is set;
 *   - everything else is dropped after the envelope scan.
 * Fatal close codes (4004, 4010-4014) log an operator message and call rt_system_request_exit
 * with fatal_exit_code. On stop every shard closes with 1000 (the session ends, the bot goes
 * offline) — the only time a 1000 close is sent.
 *
 * Lifetime: gateway_new before rt_system_start (add it last: it should start last and stop
 * first); gateway_free after rt_system_free (or stop).
 */
#ifndef FLUXBOT_ACTORS_GATEWAY_H
#define FLUXBOT_ACTORS_GATEWAY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "msgs/gw.h"
#include "discord/gw_roles.h"
#include "config/fb_config.h"
#include "fluxbot/runtime.h"

#define GATEWAY_ACTOR_NAME "gateway"

typedef struct gateway_config {
    const char *token;         /* raw bot token */
    const char *api_base;      /* "https://discord.com/api/v10" */
    int64_t shard_id;          /* -1 = every shard of shard_count */
    int64_t shard_count;       /* 0 = as /gateway/bot recommends */
    bool compress;             /* zlib-stream transport compression */
    uint32_t intents;          /* 0 = GUILDS */
    rt_actor *target;          /* receives MSG_GW_DISPATCH (normally the router) */
    gw_roles *roles;           /* shared role cache; NULL = the gateway owns one */
    bool forward_guild_events; /* also forward GUILD_* / GUILD_ROLE_* to target */
    int fatal_exit_code;       /* rt_system_request_exit code on 401/4004/4010-4014; 0 = 4 */
    unsigned lane_capacity;    /* mailbox lane slots; 0 = 64 */
    /* A postgresql:// URL shared by every process of the bot: IDENTIFYs are then also paced
     * through it (pg/pg_idgate.h), so processes starting at once stay within max_concurrency
     * per 5 s for the whole bot. NULL or "" = this process paces only its own shards. */
    const char *db_url;

    /* Tuning, mostly for tests (0 = the protocol's value). */
    uint32_t identify_interval_ms; /* 5000 */
    uint32_t invalid_wait_min_ms;  /* 1000: wait after INVALID_SESSION false ... */
    uint32_t invalid_wait_max_ms;  /* 5000 */
    uint32_t backoff_base_ms;      /* 1000 */
    uint32_t backoff_cap_ms;       /* 60000 */
    uint32_t send_wait_ms;         /* rt_send_wait deadline per dispatch: 20 */
    uint32_t stop_grace_ms;        /* closing handshakes on stop: 2000 */
    size_t max_frame_bytes;        /* largest (inflated) frame kept: 16 MiB */
    uint32_t max_shards;           /* shards in this process: 64 */
    uint32_t connect_timeout_ms;   /* TCP + TLS + websocket upgrade must finish within: 10000 */
    uint32_t hello_timeout_ms;     /* HELLO must follow the upgrade within: 15000 */
    uint32_t lws_timeout_s; /* libwebsockets' own per-step network timeout: its default (5 s) */
    /* Shared pacing: added to the interval (pg_idgate); 0 = PG_IDGATE_MARGIN_MS (1000), never
     * below GW_IDQ_MARGIN_MS. Configured as identify_margin_ms (gateway_config_from). */
    uint32_t identify_margin_ms;
} gateway_config;

/* Fills cfg from the bot configuration (token, api base, shards, compression, db_url,
 * identify_margin_ms); the caller then sets the wiring (target, roles), the other fields are
 * zero (their defaults). */
void gateway_config_from(gateway_config *cfg, const fb_config *c);

typedef struct gateway gateway;

/* Creates the state and the actor (named GATEWAY_ACTOR_NAME) in sys. NULL on error. */
gateway *gateway_new(rt_system *sys, const gateway_config *cfg);
rt_actor *gateway_actor(gateway *g);
/* The role cache the gateway maintains (shared with the router). */
gw_roles *gateway_roles(gateway *g);
/* Frees the state; the actor must have stopped. NULL is ignored. */
void gateway_free(gateway *g);

/* Counters, readable from any thread. */
typedef struct gateway_counters {
    uint64_t connections; /* websockets opened */
    uint64_t reconnects;  /* connects after a shard's first */
    uint64_t identifies;  /* IDENTIFY sent */
    uint64_t resumes;     /* RESUME sent */
    uint64_t resumed;     /* RESUMED received */
    uint64_t ready;       /* READY received */
    uint64_t zombies;     /* connections closed for a missing heartbeat ACK */
    uint64_t invalid_sessions;
    uint64_t frames_in, frames_out, bytes_in;
    uint64_t dropped_malformed;    /* frames that were not valid JSON envelopes */
    uint64_t dropped_oversized;    /* frames above max_frame_bytes */
    uint64_t dropped_events;       /* dispatches nobody needs */
    uint64_t duplicates;           /* dispatches already seen in the session */
    uint64_t forwarded;            /* MSG_GW_DISPATCH delivered */
    uint64_t forward_retries;      /* deliveries that had to wait for room */
    uint64_t forward_pending;      /* kept for retry right now */
    uint64_t forward_lost;         /* could not be delivered at all (target stopped): logged */
    uint64_t role_events;          /* applied to the role cache */
    uint64_t identify_waits;       /* shared pacing: another process had identified the bucket */
    uint64_t identify_gate_errors; /* shared pacing: the database could not be asked */
    uint32_t shards;
    uint32_t shards_active;  /* shards in ACTIVE state */
    uint64_t application_id; /* from READY, 0 until then */
    uint64_t user_id;
    int fatal_code; /* close code (or 401) that stopped the bot, 0 = none */
} gateway_counters;

void gateway_counters_get(gateway *g, gateway_counters *out);

#endif
