/* The router's moderation gate (see rmod.h). */
#include "router/rmod.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "discord/reply.h"
#include "fluxbot/log.h"
#include "moderation/mod_cmd.h"
#include "router/rcmd.h"

#define LOGN "router"

static bool answer(rmod_verdict *v, const char *text, bool success, rmod_outcome o)
{
    v->body = reply_text_json(text, true);
    v->success = success;
    v->outcome = o;
    return true;
}

/* The free text a user typed into a declared command: its string options without a fixed list
 * (the prompt, a negative prompt, any other text the workflow takes). Options whose values come
 * from the operator's lists (choices, LoRAs, a file, the server's models) are checked against
 * those lists instead. Returns how many, at most max. */
static unsigned prompt_sources(const decl_command *d, const ix_interaction *ix, const char **out,
                               unsigned max)
{
    unsigned n = 0;
    for (unsigned i = 0; d && i < d->noptions && n < max; i++) {
        const decl_option *o = &d->options[i];
        if (o->type != DECL_STRING || o->source != DECL_SRC_NONE) continue;
        const char *t = ix_opt_str(ix, o->name);
        if (!t && o->has_default) t = o->def_str;
        if (t && *t) out[n++] = t;
    }
    return n;
}

bool rmod_check(mod_state *s, const ix_interaction *ix, gw_roles *roles, const char *manager_role,
                const decl_set *decls, rmod_verdict *v)
{
    memset(v, 0, sizeof *v);
    if (!s || (ix->type != IX_COMMAND && ix->type != IX_COMPONENT && ix->type != IX_MODAL_SUBMIT))
        return false;
    const char *name = ix->type == IX_COMMAND && ix->command_name ? ix->command_name : "";
    v->moderation = mod_cmd_owns(name);
    /* Only the moderation commands depend on it (it reads the role cache). */
    bool manager = v->moderation && rcmd_manager_perm(ix, roles, manager_role) != AN_PERM_DENIED;
    char text[1024];

    mod_user u;
    if (mod_state_banned(s, ix->user_id, &u) && !(v->moderation && manager)) {
        mod_text_banned(&u, text, sizeof text);
        return answer(v, text, false, RMOD_DENIED);
    }
    if (ix->type != IX_COMMAND) return false;

    const decl_command *decl = decl_set_find(decls, name);
    bool generation = decl && !decl->button;
    mod_access_who who = {.in_guild = ix->in_guild,
                          .guild_id = ix->guild_id,
                          .channel_id = ix->channel_id,
                          .channel_nsfw = ix->channel_nsfw,
                          .admin = ix->has_permissions && (ix->permissions & IX_PERM_ADMINISTRATOR),
                          .roles = ix->roles,
                          .nroles = ix->nroles};
    if (v->moderation && manager) who.admin = true;
    if (mod_state_access(s, name, generation, &who, roles, text, sizeof text) != MOD_ACCESS_OK) {
        LOG_DEBUG(LOGN, "/%s refused by the access rules for user %" PRIu64, name, ix->user_id);
        return answer(v, text, false, RMOD_DENIED);
    }

    if (v->moderation) {
        /* The same option typing as every other command (the gate answers these itself). */
        if (rcmd_check_options(ix, NULL, text, sizeof text) != 0)
            return answer(v, text, false, RMOD_INVALID);
        mod_answer *a = malloc(sizeof *a);
        if (!a) abort();
        mod_cmd_run(s, ix, manager, a);
        if (a->denied)
            LOG_INFO(LOGN, "/%s refused for user %" PRIu64 " in guild %" PRIu64 ": not a manager",
                     name, ix->user_id, ix->guild_id);
        answer(v, a->text, a->success,
               a->denied    ? RMOD_DENIED
               : a->success ? RMOD_OK
                            : RMOD_INVALID);
        free(a);
        return true;
    }

    const char *sources[CMD_OPTIONS_MAX];
    unsigned nsources = generation ? prompt_sources(decl, ix, sources, CMD_OPTIONS_MAX) : 0;
    for (unsigned i = 0; i < nsources; i++)
        if (rmod_check_text(s, ix, name, sources[i], v)) return true;
    return false;
}

bool rmod_check_text(mod_state *s, const ix_interaction *ix, const char *command,
                     const char *prompt, rmod_verdict *v)
{
    memset(v, 0, sizeof *v);
    if (!s || !prompt || !*prompt) return false;
    char text[1024];
    mod_hit hit;
    mod_check_result cr = mod_state_check(s, prompt, strlen(prompt), &hit);
    if (cr == MOD_CHECK_OK) return false;
    if (cr == MOD_CHECK_LIMIT) {
        LOG_WARN(LOGN,
                 "pattern \"%s\" hit its match limits on a prompt of user %" PRIu64
                 "; refused without a warning",
                 hit.name, ix->user_id);
        mod_text_uncheckable(text, sizeof text);
        return answer(v, text, false, RMOD_INVALID);
    }
    unsigned warnings = 0;
    mod_violation_outcome o =
        mod_state_violation(s, ix->user_id, ix->guild_id, &hit, prompt, &warnings);
    LOG_INFO(LOGN, "/%s prompt of user %" PRIu64 " refused (%s \"%s\"): %s", command, ix->user_id,
             mod_kind_id(hit.kind), hit.name, o == MOD_VIOL_BANNED ? "banned" : "warned");
    mod_text_violation(&hit, o, warnings, mod_state_max_warnings(s), text, sizeof text);
    return answer(v, text, false, RMOD_DENIED);
}

bool rmod_check_rerun(mod_state *s, const ix_interaction *ix, gw_roles *roles, const char *command,
                      const char *const *texts, unsigned ntexts, rmod_verdict *v)
{
    memset(v, 0, sizeof *v);
    if (!s) return false;
    char text[1024];
    mod_access_who who = {.in_guild = ix->in_guild,
                          .guild_id = ix->guild_id,
                          .channel_id = ix->channel_id,
                          .channel_nsfw = ix->channel_nsfw,
                          .admin = ix->has_permissions && (ix->permissions & IX_PERM_ADMINISTRATOR),
                          .roles = ix->roles,
                          .nroles = ix->nroles};
    if (mod_state_access(s, command, true, &who, roles, text, sizeof text) != MOD_ACCESS_OK)
        return answer(v, text, false, RMOD_DENIED);
    for (unsigned i = 0; i < ntexts; i++) {
        mod_hit hit;
        if (texts[i] && *texts[i] &&
            mod_state_check(s, texts[i], strlen(texts[i]), &hit) != MOD_CHECK_OK)
            return answer(v,
                          "\xf0\x9f\x9a\xab This prompt is not allowed by the server's "
                          "content filter, so it cannot be regenerated.",
                          false, RMOD_DENIED);
    }
    return false;
}
