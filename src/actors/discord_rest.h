/*
 * discord_rest: the one actor through which all Discord HTTP goes (interaction callbacks,
 * webhook edits of @original, follow-ups, multipart uploads, command registration, anything
 * else). An I/O actor (runtime.h): one curl multi handle driven by socket readiness on the
 * epoll set of the scheduler worker it runs on (the app's shared worker by default, else a
 * worker of its own), with no thread or event loop of its own. Rate limits are applied by the
 * pure limiter in src/discord/rl.c.
 *
 * Protocol: send MSG_REST_REQ (src/msgs/rest.h). When reply_to is set, the outcome
 * comes back as MSG_REST_RES with the same cookie: the final HTTP status after the actor's own
 * retries (429 by scope, 5xx and network errors with backoff), the body (bounded), or status 0
 * and a short error. Without reply_to, failures are logged. Requests with deliver_until_ms are
 * retried until then instead of a fixed number of times. Writes to one message (PATCH/DELETE of
 * a webhook or channel message) go one at a time in arrival order, and after a final_write
 * nothing but another final write reaches that message (see rest_req_msg). A 401 stops the bot
 * (rt_system_request_exit) with an operator message, since the token is wrong.
 *
 * Requests with files go as multipart/form-data: "payload_json" + "files[n]". Interaction and
 * webhook-token routes are sent without the bot's Authorization header (their token is the
 * credential). The bot token is never logged; logs name routes, not paths, so interaction
 * tokens stay out of them too.
 *
 * Stop: the actor keeps serving until everything queued or in flight is answered, for at most
 * stop_grace_ms; what is left then is answered with status 0 ("shutting down").
 *
 * Lifetime: discord_rest_new before rt_system_start; discord_rest_free after rt_system_free (or
 * stop).
 */
#ifndef FLUXBOT_ACTORS_DISCORD_REST_H
#define FLUXBOT_ACTORS_DISCORD_REST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "discord/rl.h"
#include "config/fb_config.h"
#include "discord/cmd.h"
#include "fluxbot/runtime.h"

#define DISCORD_REST_ACTOR_NAME "discord_rest"

typedef struct discord_rest_config {
    const char *api_base;    /* "https://discord.com/api/v10" (no trailing slash needed) */
    const char *token;       /* bot token, without "Bot " */
    const char *version;     /* for the User-Agent; NULL = FLUXBOT_VERSION */
    int64_t timeout_ms;      /* per HTTP attempt; 0 = 15000 */
    size_t max_response;     /* bytes kept of a response body; 0 = 1 MiB (larger fails) */
    unsigned max_in_flight;  /* concurrent transfers; 0 = 64 */
    uint64_t stop_grace_ms;  /* 0 = 5000 */
    unsigned lane_capacity;  /* mailbox lane slots; 0 = 1024 */
    int fatal_exit_code;     /* passed to rt_system_request_exit on 401; 0 = 4 */
    const rl_config *limits; /* NULL = defaults */
} discord_rest_config;

/* Fills out from the bot configuration (discord_api_base, discord_token, rest_timeout_ms,
 * mailbox_capacity); the caller then sets the wiring (limits, fatal_exit_code), the other
 * fields are zero (their defaults). */
void discord_rest_config_from(discord_rest_config *out, const fb_config *cfg);

typedef struct discord_rest discord_rest;

/* Creates the state and the actor (named DISCORD_REST_ACTOR_NAME) in sys. NULL on error. */
discord_rest *discord_rest_new(rt_system *sys, const discord_rest_config *cfg);
rt_actor *discord_rest_actor(discord_rest *d);
/* Frees the state; the actor must have stopped. NULL is ignored. */
void discord_rest_free(discord_rest *d);

/* Counters, readable from any thread. */
typedef struct discord_rest_counters {
    uint64_t requests;  /* MSG_REST_REQ accepted */
    uint64_t attempts;  /* HTTP requests sent (retries included) */
    uint64_t completed; /* answered with a final 2xx/3xx */
    uint64_t failed;    /* answered with 4xx/5xx or no response */
    uint64_t retries;
    uint64_t r429_user, r429_global, r429_shared;
    uint64_t network_errors;
    uint64_t wait_ms; /* total time requests spent waiting for the limiter */
    uint64_t pending; /* queued, not yet sent */
    uint64_t in_flight;
    uint64_t bytes_out, bytes_in;
    uint64_t superseded; /* writes dropped because their message had its final write */
    bool fatal;          /* a 401 was seen */
} discord_rest_counters;

void discord_rest_counters_get(discord_rest *d, discord_rest_counters *out);
/* The multipart boundary of this actor's requests with files (rest_form.h): a request whose
 * parts contain it draws its own. For tests. */
const char *discord_rest_form_boundary(const discord_rest *d);

/* Which commands are registered as usable in DMs with the bot (their `contexts`); called on
 * the registering thread at each registration. Set before the first one; NULL = none. */
void discord_rest_set_command_dms(discord_rest *d, cmd_dms_fn dms_allowed, void *ctx);

/* Registers the declared commands and the command table (src/discord/cmd.c) with one bulk
 * PUT: globally when nguilds is 0, else one PUT per guild. The outcome(s) come back to reply_to
 * (cookie, cookie+1, ...) if set. Returns the number of requests queued, or -1 with err. */
int discord_rest_register_commands(discord_rest *d, uint64_t application_id, const uint64_t *guilds,
                                   unsigned nguilds, const cmd_def *const *declared,
                                   unsigned ndeclared, const char *const *resolution_labels,
                                   unsigned nlabels, rt_actor *reply_to, uint64_t cookie, char *err,
                                   size_t errlen);

#endif
