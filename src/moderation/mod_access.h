/*
 * mod_access: who may use which command where. Pure: built from the configuration (the
 * access_* keys, see the README's "Moderation and access control"), then checked against an
 * interaction's channel, roles and place. Built on the start and on every SIGHUP into a new
 * value that mod_state publishes; never changed once built.
 *
 * Rules: a command's entry in access_commands overrides, field by field, the defaults
 * (access_channels, access_roles, access_dms, access_nsfw_only). Checked in this order:
 *   DMs       - outside a guild the command must allow DMs;
 *   channels  - a non-empty list holds the channel ids where the command works;
 *   NSFW      - nsfw_only applies to the generation commands (comfy, redux, pulid, video);
 *   roles     - a non-empty list of role ids or names: the member needs one of them
 *               (administrators pass; names are resolved through the gateway's role cache).
 */
#ifndef FLUXBOT_MOD_ACCESS_H
#define FLUXBOT_MOD_ACCESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "discord/gw_roles.h"
#include "config/fb_config.h"

#define MOD_ACCESS_LIST_MAX 16
#define MOD_ACCESS_COMMANDS_MAX 32

typedef struct mod_access_rule {
    bool has_channels, has_roles, has_dms, has_nsfw; /* set in this layer */
    uint64_t channels[MOD_ACCESS_LIST_MAX];
    unsigned nchannels;
    uint64_t role_ids[MOD_ACCESS_LIST_MAX]; /* 0 where the entry is a name */
    char role_names[MOD_ACCESS_LIST_MAX][101];
    unsigned nroles;
    bool dms;
    bool nsfw_only;
} mod_access_rule;

typedef struct mod_access {
    mod_access_rule dflt;
    char names[MOD_ACCESS_COMMANDS_MAX][33];
    mod_access_rule cmds[MOD_ACCESS_COMMANDS_MAX];
    unsigned ncmds;
} mod_access;

/* Builds from the configuration. 0, or -1 with a message naming the key and the entry (an id
 * that is not a snowflake, an unknown field or command, a wrong type). known_commands (NULL
 * terminated) are the names access_commands may use. */
int mod_access_build(mod_access *out, const fb_config *cfg, const char *const *known_commands,
                     char *err, size_t errlen);

/* The effective rule of a command (defaults with its overrides applied). */
void mod_access_effective(const mod_access *a, const char *command, mod_access_rule *out);

typedef enum mod_access_result {
    MOD_ACCESS_OK = 0,
    MOD_ACCESS_NO_DM,
    MOD_ACCESS_CHANNEL,
    MOD_ACCESS_NSFW,
    MOD_ACCESS_ROLE,
} mod_access_result;

typedef struct mod_access_who {
    bool in_guild;
    uint64_t guild_id, channel_id;
    bool channel_nsfw;
    bool admin;
    const uint64_t *roles;
    unsigned nroles;
} mod_access_who;

/* Checks one use of `command` (generation: one of the commands nsfw_only covers). roles may
 * be NULL (names then never match). */
mod_access_result mod_access_check(const mod_access *a, const char *command, bool generation,
                                   const mod_access_who *who, gw_roles *roles);

/* The ephemeral refusal for a result (says where the command can be used), into out. */
void mod_access_explain(const mod_access *a, const char *command, mod_access_result res, char *out,
                        size_t cap);

#endif
