/*
 * fake_discord: the whole loopback Discord in one handle — the fake gateway (fake_gateway.h,
 * websocket) and the fake REST API (fake_rest.h, HTTP) started together and wired up: the REST
 * side's /gateway/bot points at the gateway and serves its session budget, both share one
 * application id and bot token. Used by tests, the demo and benchmarks.
 *
 * Injecting an interaction does what Discord does when a user runs a command or clicks: it
 * mints an id and a token, makes the interaction known to the REST side (its 3-second callback
 * deadline starts then), and dispatches INTERACTION_CREATE through the gateway to the shard of
 * the guild. Attachments given to a command are stored on the fake CDN and resolved in the
 * payload, as Discord does for uploads.
 *
 * Thread-safety: every function may be called from any thread.
 */
#ifndef FLUXBOT_FAKES_FAKE_DISCORD_H
#define FLUXBOT_FAKES_FAKE_DISCORD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fakes/fake_gateway.h"
#include "fakes/fake_rest.h"

typedef struct fake_discord fake_discord;

typedef struct fake_discord_options {
    const char *token;              /* the valid bot token (required) */
    uint64_t application_id;        /* 0 = 100000000000000001 */
    uint32_t heartbeat_interval_ms; /* 0 = 41250 */
    uint32_t shards;                /* recommended shard count; 0 = 1 */
    uint32_t max_concurrency;       /* 0 = 1 */
    uint32_t identify_interval_ms;  /* 0 = 5000 */
    uint32_t allowed_intents;       /* privileged intents "enabled in the portal" */
    const char *guilds_json;        /* fixture guilds for GUILD_CREATE (roles ...), or NULL */
    uint32_t callback_deadline_ms;  /* 0 = 3000 */
    bool enforce_limits;            /* REST answers 429 when a bucket or 50/s overflows */
} fake_discord_options;

fake_discord *fake_discord_start(const fake_discord_options *o);
/* Stops both servers and frees everything. NULL is ignored. */
void fake_discord_stop(fake_discord *fd);

/* "http://127.0.0.1:<port>/api/v10": what DISCORD_API_BASE should be. */
const char *fake_discord_api_base(const fake_discord *fd);
uint64_t fake_discord_application_id(const fake_discord *fd);
/* Direct access to both halves, for scripting faults and reading their recorders. */
fake_gateway *fake_discord_gateway(fake_discord *fd);
fake_rest *fake_discord_rest(fake_discord *fd);

/* Who acts. Zeroed fields get defaults: user 300000000000000001 "tester", guild
 * 200000000000000001, channel 200000000000000002, permissions VIEW_CHANNEL | SEND_MESSAGES |
 * USE_APPLICATION_COMMANDS, locale "en-US". dm = true sends a DM interaction (user, no member,
 * no guild). */
typedef struct fake_discord_member {
    uint64_t user_id;
    const char *username;
    uint64_t guild_id;
    uint64_t channel_id;
    uint64_t permissions;
    bool has_permissions; /* use `permissions` even when it is 0 */
    const uint64_t *roles;
    unsigned nroles;
    const char *locale;
    bool dm;
    bool channel_nsfw;              /* the channel is age-restricted (channel.nsfw) */
    uint64_t attachment_size_limit; /* the channel's upload limit; 0 = 25 MiB */
} fake_discord_member;

/* A file attached to an ATTACHMENT option of a command. */
typedef struct fake_discord_file {
    const char *option; /* the option name, e.g. "image1" */
    const char *filename;
    const char *content_type;
    const uint8_t *data;
    size_t len;
} fake_discord_file;

/* What an injection produced. */
typedef struct fake_discord_ix {
    uint64_t id;
    char token[160];
    uint64_t channel_id;
    int sessions; /* gateway sessions it went to (0: no bot connected on that shard) */
} fake_discord_ix;

/* Any interaction: type 2 (command), 3 (component) or 4 (autocomplete), with its `data` object
 * as JSON. who may be NULL (defaults). 0, or -1 on bad input. */
int fake_discord_inject(fake_discord *fd, int type, const char *data_json,
                        const fake_discord_member *who, fake_discord_ix *out);
/* A slash command. options_json is the options array as Discord sends it (NULL: none); files
 * are appended as ATTACHMENT options and resolved. */
int fake_discord_inject_command(fake_discord *fd, const char *name, const char *options_json,
                                const fake_discord_file *files, unsigned nfiles,
                                const fake_discord_member *who, fake_discord_ix *out);
/* Autocomplete of a command: options_json must mark one option "focused": true. */
int fake_discord_inject_autocomplete(fake_discord *fd, const char *name, const char *options_json,
                                     const fake_discord_member *who, fake_discord_ix *out);
/* A click on a button (component_type 2) or a select (3, values_json the picked values). */
int fake_discord_inject_component(fake_discord *fd, const char *custom_id, int component_type,
                                  const char *values_json, uint64_t message_id,
                                  const fake_discord_member *who, fake_discord_ix *out);

/* A submitted modal (type 5): custom_id is the modal's, fields_json an object of its text inputs
 * {"<input custom_id>": "<value>", ...} (in that order). message_id names the message of the
 * button that opened it (0: the modal answered a command). */
int fake_discord_inject_modal(fake_discord *fd, const char *custom_id, const char *fields_json,
                              uint64_t message_id, const fake_discord_member *who,
                              fake_discord_ix *out);

#endif
