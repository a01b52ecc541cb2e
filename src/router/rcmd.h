/*
 * rcmd: the pure half of the router — a parsed interaction (discord/ix.h) in, the work
 * message or the answer out. No threads, no sockets, no actor: the router actor calls these and
 * only moves the results around; the unit tests call them directly.
 *
 *  - rcmd_job:              a declared generation command (comfy/decl.h) → a validated
 *                           MSG_COMFY_JOB (each option as its declaration says, checked with
 *                           ratios_find, loras_find, the model cache and cjob_check_options,
 *                           images from the resolved attachments), or a message for the user;
 *  - rcmd_autocomplete_json: the type-8 callback for declared options that autocomplete (LoRAs,
 *                           a file's list, the server's models), resolutions, /lorainfo;
 *  - rcmd_days_options:     the interaction's `days` option as the options array
 *                           an_days_from_options reads;
 *  - rcmd_manager_perm:     the /reset_stats rule (an_reset_permission) fed from the member's
 *                           permissions and roles and the role cache;
 *  - rcmd_usage_name:       the command_usage name of a command or a component click;
 *  - rcmd_recover:          id and token (and who) from an interaction ix_parse refused, so
 *                           even a malformed one can be answered;
 *  - rcmd_message_image_url: the first attachment URL of the message a button is on.
 */
#ifndef FLUXBOT_ROUTER_CMD_H
#define FLUXBOT_ROUTER_CMD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "analytics/an_commands.h"
#include "comfy/cjob.h"
#include "discord/cmd.h"
#include "discord/gw_roles.h"
#include "discord/ix.h"
#include "msgs/comfy.h"

/* The declared generation command of this name (slash commands only: a button trigger is not
 * one), or NULL for every other command. */
const decl_command *rcmd_decl_of(const cjob_catalog *cat, const char *command_name);

/* Builds the job for a declared generation command: every option of the declaration read as
 * its type, its default when absent, checked (required, min/max, choices, lists, the ratios,
 * LoRAs and model names), and put where the declaration says. NULL with a user-facing message
 * in err when an option is bad. received_wall_ms is stamped into the message (Unix ms). The
 * caller owns the result. */
comfy_job_msg *rcmd_job(const ix_interaction *ix, const decl_command *d, const cjob_catalog *cat,
                        uint64_t received_wall_ms, char *err, size_t errlen);

/* Fills a job's or a button's origin (who, where, permissions, display name). */
void rcmd_origin(const ix_interaction *ix, comfy_origin *o);

/* The type-8 callback body for an autocomplete interaction: for a declared option, what its
 * "autocomplete" names (LoRA names, the entries of its file, the server's model names) or the
 * ratio labels of a resolution choice; LoRA names for /lorainfo; nothing for any other option
 * (Discord then shows no choices). At most 25 choices, best first. malloc'd; NULL only when
 * out of memory. */
char *rcmd_autocomplete_json(const ix_interaction *ix, const cjob_catalog *cat);

/* [{"name":"days","type":4,"value":N}] when the interaction has a days option, else an empty
 * array. The caller owns it (cJSON_Delete). */
cJSON *rcmd_days_options(const ix_interaction *ix);

/* May this member reset statistics (and, when configured, see them)? Admin bit, or a role in
 * the member's roles that is the configured bot-manager role (by id, or by name as the role
 * cache knows the guild's roles; roles may be NULL). DMs are always denied. */
an_perm rcmd_manager_perm(const ix_interaction *ix, gw_roles *roles, const char *configured_role);

/* The command_usage name of an interaction: the command name for commands ("comfy"), and for
 * components "button:regenerate", "button:upscale", "button:delete", "button:options",
 * "button:options_<verb>" (the Options dialog: res, lora, prev, next, edit, str, go),
 * "button:reset_confirm", "button:reset_cancel" or "button:unknown"; modal submits
 * "modal:options" or "modal:unknown". */
void rcmd_usage_name(const ix_interaction *ix, char *out, size_t cap);

/* Checks every option of a command interaction against the command's definition: 0, or -1
 * with a message for the user naming the option and the type it must have, when an option is
 * unknown, has another type than the definition's, or the sub-command path does not fit the
 * command (one sent to a command that has none, none or an unknown one for a command that has
 * them; the options are then those of the sub-command). A present option of the wrong type is
 * never treated as absent. */
int rcmd_check_options(const ix_interaction *ix, const cmd_def *declared, char *err, size_t errlen);

/* What can be saved of an interaction ix_parse refused. */
typedef struct rcmd_recovered {
    bool has_reply; /* id and a URL-safe token were found: it can be answered */
    uint64_t id;
    uint64_t application_id; /* 0 when not found */
    char token[IX_TOKEN_MAX + 1];
    uint64_t user_id; /* 0 when not found */
    uint64_t guild_id;
    uint64_t channel_id;
    int type;                       /* interaction type, 0 when not found */
    char command[CMD_NAME_MAX + 1]; /* data.name of a command or autocomplete, "" when unusable */
} rcmd_recovered;

/* Best effort, never trusting more than it checks (strict snowflakes, URL-safe token, command
 * names of Discord's charset). Reads the payload with the gateway's scanner, not cJSON, so it
 * salvages whatever the gateway accepted (lone surrogate escapes, any size it delivered). */
void rcmd_recover(const char *json, size_t len, rcmd_recovered *out);

/* message.attachments[0].url of a component interaction (http/https, bounded), malloc'd, or
 * NULL when there is none. */
char *rcmd_message_image_url(const char *json, size_t len);

#endif
