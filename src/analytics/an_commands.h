/*
 * The Discord side of /stats and /reset_stats as pure functions (no threads, no sockets), so
 * the router can call them and tests can drive them without Discord.
 *
 * How the router uses this module:
 *
 *   /stats [days]
 *     0. With stats_managers_only set, refuse (an_reset_refusal-like ephemeral text) members for
 *        whom an_reset_permission() is AN_PERM_DENIED.
 *     1. an_days_from_options(data.options): on !ok answer at once with
 *        an_ephemeral_json(result.error) (callback type 4, ephemeral) and record a failed command.
 *     2. Otherwise defer ephemerally (callback type 5, flags 64) and send MSG_STATS_QUERY
 *        (src/msgs/stats.h) to the stats_reporter, which PATCHes @original with
 *        an_stats_reply_json().
 *
 *   /reset_stats
 *     1. an_reset_permission(member.permissions, member.roles, guild roles, configured role):
 *        AN_PERM_DENIED -> an_reset_refusal_json() (type 4, ephemeral), record a failed command.
 *     2. an_confirm_create() (an_confirm.h) -> an_reset_prompt_json(confirm_id, cancel_id).
 *     3. On a button click (custom_id starting with AN_CONFIRM_PREFIX) an_confirm_resolve():
 *        OK         -> callback type 6 (deferred update), send MSG_AN_RESET
 *                      (src/msgs/an.h); on MSG_AN_RESET_DONE PATCH the message
 *                      /webhooks/{app}/{click token}/messages/@original with
 *                      an_reset_done_json(rows_deleted, error).
 *        CANCELLED  -> an_reset_cancelled_json()      (type 7, removes the buttons)
 *        EXPIRED    -> an_reset_expired_json()        (type 7, removes the buttons)
 *        WRONG_USER -> an_reset_wrong_user_json()     (type 4, ephemeral, prompt untouched)
 *        UNKNOWN    -> an_reset_unknown_json()        (type 4, ephemeral)
 *
 * Every *_json function returns malloc'd NUL-terminated JSON text (free() it), or NULL only when
 * out of memory.
 */
#ifndef FLUXBOT_AN_COMMANDS_H
#define FLUXBOT_AN_COMMANDS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "analytics/an_stats.h"

/* ---- the days option --------------------------------------------------------------------- */

/* Why a days value was refused: each interface words it for its own users (Discord's reply
 * names the `days` option; the CLI names --days). */
typedef enum an_commands_days_why {
    AN_COMMANDS_DAYS_VALID = 0,
    AN_COMMANDS_DAYS_EMPTY,        /* nothing given */
    AN_COMMANDS_DAYS_NOT_NUMBER,   /* not a whole number (letters, a fraction, a wrong JSON type) */
    AN_COMMANDS_DAYS_NEGATIVE,     /* below zero */
    AN_COMMANDS_DAYS_OUT_OF_RANGE, /* a whole number outside AN_DAYS_MIN..AN_DAYS_MAX */
} an_commands_days_why;

typedef struct an_days_result {
    bool ok;
    int days;                 /* valid when ok */
    an_commands_days_why why; /* AN_COMMANDS_DAYS_VALID when ok */
    char error[200];          /* Discord's user-facing text when !ok */
} an_days_result;

/* Reads the `days` option from an application command's data.options array (NULL or without
 * `days` -> the default, 7). Accepts an integer 1..365 (a number, or a string of digits);
 * anything else -> !ok with a clear message. */
an_days_result an_days_from_options(const cJSON *options);
/* Same rules for a bare string (the operator CLI's --days). */
an_days_result an_days_from_text(const char *text);

/* ---- the /stats embed -------------------------------------------------------------------- */

/* The embed object (title, color, the four sections as fields, footer with the window, ISO
 * timestamp). Sections with nothing to show say "No data". The caller owns the result. */
cJSON *an_stats_embed(const an_stats *s);
/* The same embed as a struct (embed.h; the caller embed_free()s it), for writers that emit it
 * as text without a cJSON tree (stats_reply_edit_body). */
struct embed;
void an_commands_stats_embed(const an_stats *s, struct embed *out);
/* The body for PATCH .../messages/@original: {"embeds":[embed]}. */
char *an_stats_reply_json(const an_stats *s);
/* The body of a failed query: {"content": "...", "embeds": []}. */
char *an_stats_failed_json(const char *why);

/* ---- /reset_stats permission ------------------------------------------------------------- */

#define AN_PERM_ADMINISTRATOR 0x8ULL
#define AN_DEFAULT_MANAGER_ROLE "Bot Manager"

typedef struct an_role {
    uint64_t id;
    const char *name;
} an_role;

typedef enum an_perm {
    AN_PERM_DENIED = 0,
    AN_PERM_ADMIN = 1, /* the ADMINISTRATOR bit */
    AN_PERM_ROLE = 2,  /* holds the bot-manager role */
} an_perm;

/* Decides who may reset. permissions is the member's permission bitset (the interaction's
 * member.permissions string parsed with an_parse_snowflake). configured_role names the
 * bot-manager role: all digits -> a role id, otherwise a role name matched exactly against
 * guild_roles (NULL or "" -> "Bot Manager"). */
an_perm an_reset_permission(uint64_t permissions, const uint64_t *member_roles,
                            size_t n_member_roles, const an_role *guild_roles, size_t n_guild_roles,
                            const char *configured_role);

/* Strict decimal uint64 (snowflakes, permission bitsets): digits only, no sign, no spaces,
 * 1..20 digits, no overflow. */
bool an_parse_u64(const char *s, uint64_t *out);

/* ---- interaction replies ----------------------------------------------------------------- */

/* Bodies built with src/discord's reply builders (callback types, flags, no pings). */
/* {"type":4,"data":{"content":text,"flags":64}} */
char *an_ephemeral_json(const char *text);
/* The confirmation prompt: type 4, ephemeral, with Confirm (danger) / Cancel (secondary). */
char *an_reset_prompt_json(const char *confirm_id, const char *cancel_id);
char *an_reset_refusal_json(void);
char *an_reset_wrong_user_json(void);
char *an_reset_unknown_json(void);
char *an_reset_cancelled_json(void); /* type 7 */
char *an_reset_expired_json(void);   /* type 7 */
/* Edit of the prompt after the reset: {"content":"Statistics reset: N rows deleted.",
 * "components":[]}; with a non-empty error, says the reset failed and why. */
char *an_reset_done_json(uint64_t rows_deleted, const char *error);

#endif
