/*
 * The bot's slash commands: one table of definitions, turned into the JSON array of the bulk
 * overwrite PUT /applications/{app}/commands (or .../guilds/{guild}/commands), plus a validator
 * of such arrays against the documented limits (docs: interactions/application-commands.mdx),
 * used by tests and by the fake Discord to refuse what real Discord would refuse.
 *
 * The generation commands (/comfy, /redux, /pulid, /video, /reduxprompt and the operator's own)
 * are not in this table: each is a declaration file (comfy/decl.h) whose cmd_def joins the
 * table's in the one bulk PUT (cmd_table_json_all). The table holds the bot's own commands:
 *
 *   /queue show, /queue clear
 *   /cancel [user]
 *   /stats [days]
 *   /reset_stats
 *   /filter word add|remove, /filter regex add|remove, /filter context add|remove, /filter list
 *   /ban user [reason] [duration], /unban user, /banned [page]
 *   /warnings show [user], /warnings clear user
 *   /priority user [level]
 *   /lorainfo [name]
 *
 * The resolution choices come from the ratios file at run time. Discord allows 25 choices; with
 * more labels (or none) the resolution option becomes an autocomplete option instead, and the
 * router must answer its autocomplete (cmd_resolution_autocomplete tells which).
 * No command sets default_member_permissions: /reset_stats checks permissions and the bot-manager
 * role itself, so the bot-manager role keeps working without server-side overrides.
 */
#ifndef FLUXBOT_DISCORD_COMMANDS_H
#define FLUXBOT_DISCORD_COMMANDS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CMD_NAME_MAX 32
#define CMD_DESCRIPTION_MAX 100
#define CMD_OPTIONS_MAX 25
#define CMD_CHOICES_MAX 25
#define CMD_TOTAL_CHARS_MAX 4000
#define CMD_CHAT_INPUT_MAX 100
#define CMD_PROMPT_MAX 1000 /* max_length of prompt options */

/* Names used by the router (one place, so a rename cannot drift). */
#define CMD_QUEUE "queue"
#define CMD_CANCEL "cancel"
#define CMD_STATS "stats"
#define CMD_RESET_STATS "reset_stats"
#define CMD_FILTER "filter"
#define CMD_BAN "ban"
#define CMD_UNBAN "unban"
#define CMD_BANNED "banned"
#define CMD_WARNINGS "warnings"
#define CMD_LORAINFO "lorainfo"
#define CMD_PRIORITY "priority"

typedef enum cmd_opt_type {
    CMD_OPT_SUB_COMMAND = 1,
    CMD_OPT_SUB_COMMAND_GROUP = 2,
    CMD_OPT_STRING = 3,
    CMD_OPT_INTEGER = 4,
    CMD_OPT_BOOLEAN = 5,
    CMD_OPT_USER = 6,
    CMD_OPT_NUMBER = 10,
    CMD_OPT_ATTACHMENT = 11,
} cmd_opt_type;

typedef struct cmd_int_choice {
    const char *name;
    int64_t value;
} cmd_int_choice;

typedef struct cmd_str_choice {
    const char *name;
    const char *value;
} cmd_str_choice;

typedef struct cmd_option_def {
    cmd_opt_type type;
    const char *name;
    const char *description;
    bool required;
    bool autocomplete;
    bool resolution;       /* choices filled from the ratio labels at run time */
    bool has_min, has_max; /* min_value / max_value (INTEGER, NUMBER) */
    double min, max;
    unsigned min_length, max_length; /* STRING; 0 = not sent */
    const cmd_int_choice *choices;   /* INTEGER choices */
    unsigned nchoices;
    const cmd_str_choice *str_choices; /* STRING choices */
    unsigned nstr_choices;
    const struct cmd_option_def *sub; /* SUB_COMMAND / SUB_COMMAND_GROUP: their options */
    unsigned nsub;
} cmd_option_def;

typedef struct cmd_def {
    const char *name;
    const char *description;
    const cmd_option_def *options;
    unsigned noptions;
} cmd_def;

/* The table itself. */
const cmd_def *cmd_table(unsigned *count);
const cmd_def *cmd_find(const char *name);
const cmd_option_def *cmd_find_option(const cmd_def *c, const char *name);

/* True when resolution must be an autocomplete option for this many labels (0 or > 25). */
bool cmd_resolution_autocomplete(unsigned nlabels);

/* The JSON array for the bulk PUT (malloc'd), or NULL with err (a label empty or > 100
 * characters, or the result invalid per cmd_validate_json). Every command is sent with
 * contexts [0] (guild channels only). */
char *cmd_table_json(const char *const *resolution_labels, unsigned nlabels, char *err,
                     size_t errlen);
/* The same, with contexts [0, 1] (guild channels and DMs with the bot) for each command
 * dms_allowed(ctx, name) says works in DMs (the access_* configuration). */
typedef bool (*cmd_dms_fn)(void *ctx, const char *command);
char *cmd_table_json_dms(const char *const *resolution_labels, unsigned nlabels,
                         cmd_dms_fn dms_allowed, void *ctx, char *err, size_t errlen);
/* The whole bulk PUT body: the declared generation commands (comfy/decl.h, one cmd_def each)
 * and the table's, so a reload that adds a declaration registers it with the rest. */
char *cmd_table_json_all(const cmd_def *const *declared, unsigned ndeclared,
                         const char *const *resolution_labels, unsigned nlabels,
                         cmd_dms_fn dms_allowed, void *ctx, char *err, size_t errlen);

/* One command's registration object (name, type, description, options; no contexts), as
 * cmd_table_json builds it, malloc'd. For declared commands and their tests. */
char *cmd_def_json(const cmd_def *d, const char *const *resolution_labels, unsigned nlabels);

/* "/applications/{app}/commands", or the guild variant when guild_id != 0.
 * Returns the length, or -1 if it does not fit. */
int cmd_register_path(uint64_t app_id, uint64_t guild_id, char *buf, size_t cap);

/* Validates a bulk-overwrite body. 0, or -1 with a message naming the offending element. */
int cmd_validate_json(const char *json, size_t len, char *err, size_t errlen);

#endif
