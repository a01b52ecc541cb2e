/*
 * mod_cmd: the moderation slash commands (/filter, /ban, /unban, /banned, /warnings, /priority)
 * and the texts users see when moderation refuses them. Takes a parsed interaction and the state,
 * changes the state, and returns the text of the ephemeral answer; the router wraps it in the
 * reply envelope (src/discord/reply.h) and sends it. No threads, no sockets.
 *
 * Who may: administrators and the bot-manager role (the /reset_stats rule, decided by the
 * caller and passed as `manager`) for everything, except /warnings show about oneself, which
 * anyone may run. A refused use is answered, ephemerally, and counted as denied.
 * Texts never show a hidden rule: a user is told the kind of rule their prompt matched
 * ("a banned word"), never the word or the pattern; only /filter list shows them, to managers.
 */
#ifndef FLUXBOT_MOD_CMD_H
#define FLUXBOT_MOD_CMD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "discord/ix.h"
#include "moderation/mod_state.h"

#define MOD_ANSWER_MAX 2000
#define MOD_BANNED_PAGE 10 /* bans per /banned page */

/* True for the commands this module answers. */
bool mod_cmd_owns(const char *command_name);

typedef struct mod_answer {
    char text[MOD_ANSWER_MAX * 4 + 1];
    bool success; /* the command did what was asked */
    bool denied;  /* refused for lack of permission */
} mod_answer;

void mod_cmd_run(mod_state *s, const ix_interaction *ix, bool manager, mod_answer *out);

/* "30m", "12h", "7d", "2w" (also "90 min", "1 day"...) → milliseconds; "", "permanent",
 * "perm", "forever" → 0. -1 when unreadable or outside 1 minute .. 10 years. */
int64_t mod_parse_duration(const char *s);

/* Texts of refusals (into out). */
void mod_text_banned(const mod_user *u, char *out, size_t cap);
void mod_text_violation(const mod_hit *hit, mod_violation_outcome o, unsigned warnings,
                        unsigned max_warnings, char *out, size_t cap);
void mod_text_uncheckable(char *out, size_t cap);

#endif
