/*
 * rmod: the router's moderation gate — the one call the router makes before handling an
 * interaction. Pure glue over src/moderation (state reads, the moderation commands) and the
 * /reset_stats permission rule (cmd.h); no threads, no sockets, no database.
 *
 * In order, for commands, component clicks and modal submits (autocomplete is never gated: it
 * can only be answered with choices, and choosing is harmless):
 *   1. a banned user is refused (moderation commands stay open to managers, so a manager who
 *      banned themselves by mistake can undo it);
 *   2. commands: the access rules (DMs, channels, NSFW for generation, roles); managers pass
 *      the role rule of the moderation commands;
 *   3. moderation commands are answered here (mod_cmd.h);
 *   4. generation commands (the declared ones, comfy/decl.h): every free-text option (prompt,
 *      negative prompt, any string option without a fixed list) goes through the content
 *      filter before any job exists; a match records a violation (warning or ban) and refuses.
 * Every answer is an ephemeral type-4 callback body.
 */
#ifndef FLUXBOT_ROUTER_RMOD_H
#define FLUXBOT_ROUTER_RMOD_H

#include <stdbool.h>

#include "comfy/decl.h"
#include "discord/gw_roles.h"
#include "discord/ix.h"
#include "moderation/mod_state.h"

typedef enum rmod_outcome {
    RMOD_OK = 0, /* a moderation command did what was asked */
    RMOD_INVALID,
    RMOD_DENIED,
} rmod_outcome;

typedef struct rmod_verdict {
    char *body;           /* the callback body (malloc'd; NULL only when out of memory) */
    bool success;         /* the command_usage row's success */
    rmod_outcome outcome; /* the router counts it as ok, invalid or denied */
    bool moderation;      /* the interaction was a moderation command */
} rmod_verdict;

/* True when the gate answered the interaction (v filled, the caller sends v->body and frees
 * it); false when the router goes on as usual. */
bool rmod_check(mod_state *s, const ix_interaction *ix, gw_roles *roles, const char *manager_role,
                const decl_set *decls, rmod_verdict *v);

/* Text a user typed outside a command (the Options dialog's prompt and negative prompt, for a
 * result of /command): the content filter exactly as for a command's prompt, a match recording
 * a violation (warning or ban). True when refused (v filled with an ephemeral type-4 body). */
bool rmod_check_text(mod_state *s, const ix_interaction *ix, const char *command, const char *text,
                     rmod_verdict *v);

/* A job started from a result (Options → Regenerate): the access rules of the result's
 * command where the button was pressed, then the content filter on its texts (cjob_user_texts:
 * the prompt, a negative prompt, the declared text options) without recording a violation
 * (they passed when they were typed; the rules may have changed since). True when refused (v
 * filled, an ephemeral type-4 body). */
bool rmod_check_rerun(mod_state *s, const ix_interaction *ix, gw_roles *roles, const char *command,
                      const char *const *texts, unsigned ntexts, rmod_verdict *v);

#endif
