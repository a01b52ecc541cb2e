/* The router's pure command logic: interactions in, work messages and answers out (cmd.h). */
#include "router/rcmd.h"

#include <ctype.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analytics/an_confirm.h"
#include "comfy/loras.h"
#include "comfy/models.h"
#include "comfy/ratios.h"
#include "comfy/cres.h"
#include "discord/cmd.h"
#include "discord/embed.h"
#include "discord/gw_json.h"
#include "discord/lorainfo.h"
#include "discord/opts_dialog.h"
#include "discord/reply.h"

const decl_command *rcmd_decl_of(const cjob_catalog *cat, const char *name)
{
    const decl_command *d = cat ? decl_set_find(cat->decls, name) : NULL;
    return d && !d->button ? d : NULL;
}

void rcmd_origin(const ix_interaction *ix, comfy_origin *o)
{
    o->user_id = ix->user_id;
    o->guild_id = ix->guild_id;
    o->channel_id = ix->channel_id;
    o->permissions = ix->has_permissions ? ix->permissions : 0;
    snprintf(o->user_name, sizeof o->user_name, "%s", ix->username ? ix->username : "");
    o->attachment_size_limit = ix->attachment_size_limit;
}

/* Adds the attachment behind option `name`; false (with err) when the option is missing or its
 * attachment was not resolved by Discord. */
static bool add_image(comfy_job_msg *m, const ix_interaction *ix, const char *name, char *err,
                      size_t errlen)
{
    const ix_attachment *a = ix_opt_attachment(ix, name);
    if (!a) {
        snprintf(err, errlen, "Please attach an image in the %s option.", name);
        return false;
    }
    comfy_job_add_image(m, a->id, a->url, a->filename, a->content_type, a->size);
    return true;
}

/* An option's text: as given, else the declaration's default (NULL when neither). */
static const char *opt_text(const ix_interaction *ix, const decl_option *o)
{
    const char *v = ix_opt_str(ix, o->name);
    if (v) return v;
    return o->has_default ? o->def_str : NULL;
}

/* An option's number (integer, number, boolean, integer choice): as given, else the default. */
static bool opt_number(const ix_interaction *ix, const decl_option *o, double *out)
{
    bool b;
    if (o->type == DECL_BOOLEAN && ix_opt_bool(ix, o->name, &b)) {
        *out = b;
        return true;
    }
    if (o->type != DECL_BOOLEAN && ix_opt_number(ix, o->name, out)) return true;
    *out = o->def_num;
    return o->has_default;
}

static bool is_str_option(const decl_option *o)
{
    return o->type == DECL_STRING || o->type == DECL_ATTACHMENT ||
           (o->type == DECL_CHOICE && !o->int_choices);
}

/* One option of the declaration into the job message: where it goes is the declaration's
 * ("param" or "patch"); every value is checked against the declaration here, before the
 * defer, so a bad one is an immediate ephemeral error. */
/* Where the LoRA options' values went: the k-th "lora" option's slot in m->loras (-1: not
 * given), so the k-th "lora_strength" option sets that LoRA's strength. */
typedef struct lora_slots {
    int slot[CMD_OPTIONS_MAX];
    unsigned nlora, nstrength;
} lora_slots;

static int take_option(comfy_job_msg *m, const ix_interaction *ix, const decl_command *d,
                       const decl_option *o, const cjob_catalog *cat, lora_slots *ls, char *err,
                       size_t errlen)
{
    /* A required option Discord let through without a value (an old client, a crafted
     * request) falls back like an optional one: to the template's value, the default
     * resolution; the prompt and images, which have none, are refused below and in
     * cjob_check_options. */
    if (o->type == DECL_ATTACHMENT) return 0; /* images are added in image1, image2 order */
    if (o->param == DECL_P_RESOLUTION) {
        const char *res = opt_text(ix, o);
        if (!res || !*res) return 0;
        /* Checked here as well as in cjob_check_options so an over-long label is reported
         * as what it is instead of being cut into some other, possibly valid, label. */
        const ratios_set *ratios = cat->ratios; /* one load: SIGHUP may swap the lists */
        if (strlen(res) > COMFY_LABEL_MAX || !ratios || !ratios_find(ratios, res)) {
            snprintf(err, errlen, "Unknown resolution \"%.100s\". Pick one of the listed choices.",
                     res);
            return -1;
        }
        snprintf(m->resolution, sizeof m->resolution, "%s", res);
        return 0;
    }
    if (o->param == DECL_P_LORA_STRENGTH) {
        double s;
        unsigned k = ls->nstrength++;
        const ix_option *io = ix_opt(ix, o->name);
        if (!io || !io->has_value || !ix_opt_number(ix, o->name, &s)) return 0;
        int slot = k < ls->nlora ? ls->slot[k] : -1;
        if (slot < 0) {
            snprintf(err, errlen, "%s is the strength of a LoRA option; pick a LoRA there too.",
                     o->name);
            return -1;
        }
        if (!(s >= CJOB_LORA_STRENGTH_MIN && s <= CJOB_LORA_STRENGTH_MAX)) {
            snprintf(err, errlen, "%s must be between %.1f and %.1f (got %g).", o->name,
                     CJOB_LORA_STRENGTH_MIN, CJOB_LORA_STRENGTH_MAX, s);
            return -1;
        }
        if (decl_check_number(o, s, err, errlen)) return -1;
        m->has_lora_strength[slot] = true;
        m->lora_strength[slot] = s;
        return 0;
    }
    if (o->param == DECL_P_LORA) {
        const char *l = opt_text(ix, o);
        unsigned k = ls->nlora++;
        ls->slot[k] = -1;
        if (!l || !*l) return 0;
        const loras_set *loras = cat->loras; /* one load: SIGHUP may swap the lists */
        if (strlen(l) > COMFY_NAME_MAX || !loras || !loras_find(loras, l)) {
            snprintf(err, errlen,
                     "Unknown LoRA \"%.100s\". Start typing in the %s option and pick one "
                     "from the list.",
                     l, o->name);
            return -1;
        }
        if (comfy_job_add_lora(m, l) == 0) ls->slot[k] = (int)m->nloras - 1;
        return 0;
    }
    if (is_str_option(o)) {
        const char *v = opt_text(ix, o);
        if (!v) return 0;
        if (o->param == DECL_P_MAPPED) { /* the prompt */
            comfy_job_set_prompt(m, v);
            return 0;
        }
        if (o->source == DECL_SRC_OBJECT_INFO && cat->models &&
            models_has(cat->models, o->source_arg, v) == 0) {
            snprintf(err, errlen,
                     "Unknown %s \"%.100s\" on the ComfyUI server. Start typing in the %s "
                     "option and pick one from the list.",
                     o->name, v, o->name);
            return -1;
        }
        comfy_job_add_patch(m, o->name, v, 0);
        return 0;
    }
    double v;
    if (!opt_number(ix, o, &v)) return 0;
    bool upscale = o->param == DECL_P_MAPPED && o->wf_param == WF_P_UPSCALE;
    if (upscale && (v < 1 || v > 4 || v != floor(v))) {
        snprintf(err, errlen, "%s must be 1, 2, 3 or 4 (got %g).", o->name, v);
        return -1;
    }
    if (o->type == DECL_CHOICE) {
        bool listed = false;
        for (unsigned i = 0; i < o->nchoices; i++)
            listed = listed || (double)o->choices[i].ival == v;
        if (!listed) {
            snprintf(err, errlen, "%s: pick one of the listed choices (got %g).", o->name, v);
            return -1;
        }
    } else if (o->type != DECL_BOOLEAN && decl_check_number(o, v, err, errlen)) {
        return -1;
    }
    if (o->param == DECL_P_NONE) {
        comfy_job_add_patch(m, o->name, NULL, v);
        return 0;
    }
    if (o->param == DECL_P_ENHANCE) {
        /* checked against the declaration's bounds above, which lie within 1..10 */
        if (v < DECL_ENHANCE_MIN || v > DECL_ENHANCE_MAX || v != floor(v)) {
            snprintf(err, errlen, "%s must be a whole number from %d to %d (got %g).", o->name,
                     DECL_ENHANCE_MIN, DECL_ENHANCE_MAX, v);
            return -1;
        }
        m->creativity = (unsigned)v;
        return 0;
    }
    switch (o->wf_param) {
    case WF_P_SEED:
        if (v < 0 || v > (double)CJOB_MAX_SEED) {
            snprintf(err, errlen, "seed must be between 0 and %" PRIu64 ".",
                     (uint64_t)CJOB_MAX_SEED);
            return -1;
        }
        m->has_seed = true;
        m->seed = (uint64_t)v;
        return 0;
    case WF_P_UPSCALE:
        m->upscale_factor = (uint32_t)v;
        return 0;
    case WF_P_STRENGTH1:
    case WF_P_STRENGTH2: {
        int slot = o->wf_param == WF_P_STRENGTH2;
        m->has_strength[slot] = true;
        m->strength[slot] = v;
        return 0;
    }
    default:
        snprintf(err, errlen, "/%s: the %s option cannot be used.", d->name, o->name);
        return -1;
    }
}

comfy_job_msg *rcmd_job(const ix_interaction *ix, const decl_command *d, const cjob_catalog *cat,
                        uint64_t received_wall_ms, char *err, size_t errlen)
{
    if (!cat || !d || d->button) {
        snprintf(err, errlen, "/%s is not set up on this bot.",
                 ix->command_name ? ix->command_name : "?");
        return NULL;
    }
    comfy_job_msg *m = comfy_job_msg_new(cjob_kind_of(d), ix->application_id, ix->id, ix->token);
    m->decl = d;
    rcmd_origin(ix, &m->origin);
    m->received_ms = received_wall_ms;
    lora_slots ls = {.nlora = 0};
    for (unsigned i = 0; i < d->noptions; i++)
        if (take_option(m, ix, d, &d->options[i], cat, &ls, err, errlen)) goto fail;
    for (int p = WF_P_IMAGE1; p <= WF_P_IMAGE2; p++) {
        const decl_option *o = decl_option_for(d, (wf_param)p);
        if (o && !add_image(m, ix, o->name, err, errlen)) goto fail;
    }
    if (cjob_check_options(m, cat, err, errlen) != 0) goto fail;
    return m;
fail:
    rt_msg_free(&m->hdr);
    return NULL;
}

/* ---- option types ------------------------------------------------------------------------------
 *
 * ix_parse checks each value against the type the option declares, but not the declared type
 * against the command's definition; the accessors then treat a mismatch as absence, so a
 * resolution sent as a number ran at the default size and a seed of "NaN" ran with a random
 * seed. Checking every option against the command table makes any such request an error the
 * user sees. */

static const char *opt_type_text(int t)
{
    switch (t) {
    case IX_OPT_SUB_COMMAND:
        return "a sub-command";
    case IX_OPT_SUB_COMMAND_GROUP:
        return "a sub-command group";
    case IX_OPT_STRING:
        return "text";
    case IX_OPT_INTEGER:
        return "a whole number";
    case IX_OPT_BOOLEAN:
        return "true or false";
    case IX_OPT_USER:
        return "a user";
    case IX_OPT_CHANNEL:
        return "a channel";
    case IX_OPT_ROLE:
        return "a role";
    case IX_OPT_MENTIONABLE:
        return "a user or role";
    case IX_OPT_NUMBER:
        return "a number";
    case IX_OPT_ATTACHMENT:
        return "an attachment";
    default:
        return "an unknown type";
    }
}

static const cmd_option_def *find_def(const cmd_option_def *defs, unsigned n, const char *name,
                                      size_t len)
{
    for (unsigned i = 0; i < n; i++)
        if (strlen(defs[i].name) == len && strncmp(defs[i].name, name, len) == 0) return &defs[i];
    return NULL;
}

/* The option definitions the interaction's options must match: the command's own, or those of
 * the sub-command its path ("sub" or "group sub") names. False with err when the path does not
 * fit the command (a sub-command sent to a command without, or missing or unknown). */
static bool leaf_defs(const cmd_def *c, const char *path, const cmd_option_def **defs, unsigned *n,
                      char *err, size_t errlen)
{
    bool has_subs = c->noptions && (c->options[0].type == CMD_OPT_SUB_COMMAND ||
                                    c->options[0].type == CMD_OPT_SUB_COMMAND_GROUP);
    if (!path) {
        if (has_subs) {
            snprintf(err, errlen, "/%s needs a sub-command.", c->name);
            return false;
        }
        *defs = c->options;
        *n = c->noptions;
        return true;
    }
    if (!has_subs) {
        snprintf(err, errlen, "/%s has no sub-commands (got \"%.32s\").", c->name, path);
        return false;
    }
    const char *sp = strchr(path, ' ');
    const cmd_option_def *d =
        find_def(c->options, c->noptions, path, sp ? (size_t)(sp - path) : strlen(path));
    if (d && sp && d->type == CMD_OPT_SUB_COMMAND_GROUP)
        d = find_def(d->sub, d->nsub, sp + 1, strlen(sp + 1));
    else if (d && (sp || d->type != CMD_OPT_SUB_COMMAND))
        d = NULL;
    if (!d || d->type != CMD_OPT_SUB_COMMAND) {
        snprintf(err, errlen, "/%s has no sub-command \"%.64s\".", c->name, path);
        return false;
    }
    *defs = d->sub;
    *n = d->nsub;
    return true;
}

int rcmd_check_options(const ix_interaction *ix, const cmd_def *declared, char *err, size_t errlen)
{
    const char *name = ix->command_name ? ix->command_name : "";
    const cmd_def *c = declared ? declared : cmd_find(name);
    if (!c) return 0; /* not one of ours: answered as an unknown command */
    const cmd_option_def *defs = NULL;
    unsigned ndefs = 0;
    if (!leaf_defs(c, ix->subcommand, &defs, &ndefs, err, errlen)) return -1;
    for (unsigned i = 0; i < ix->noptions; i++) {
        const ix_option *o = &ix->options[i];
        const cmd_option_def *d = find_def(defs, ndefs, o->name, strlen(o->name));
        if (!d) {
            snprintf(err, errlen, "/%s has no option \"%.32s\".", c->name, o->name);
            return -1;
        }
        if ((int)o->type != (int)d->type) {
            snprintf(err, errlen, "The %s option of /%s must be %s, not %s.", d->name, c->name,
                     opt_type_text((int)d->type), opt_type_text((int)o->type));
            return -1;
        }
    }
    return 0;
}

/* ---- autocomplete ---------------------------------------------------------------------------- */

static bool contains_ci(const char *hay, const char *needle)
{
    size_t n = strlen(needle);
    if (n == 0) return true;
    for (; *hay; hay++)
        if (strncasecmp(hay, needle, n) == 0) return true;
    return false;
}

/* Up to REPLY_CHOICES_MAX entries of a list matching typed: prefix matches first. */
static unsigned match_list(char *const *list, unsigned n, const char *typed, reply_choice *out,
                           unsigned have)
{
    for (int pass = 0; pass < 2; pass++)
        for (unsigned i = 0; i < n && have < REPLY_CHOICES_MAX; i++) {
            bool prefix = strncasecmp(list[i], typed, strlen(typed)) == 0;
            if (pass == 0 ? prefix : (!prefix && contains_ci(list[i], typed)))
                out[have++] = (reply_choice){.name = list[i], .str_value = list[i]};
        }
    return have;
}

char *rcmd_autocomplete_json(const ix_interaction *ix, const cjob_catalog *cat)
{
    reply_choice choices[REPLY_CHOICES_MAX];
    char models[REPLY_CHOICES_MAX][MODELS_NAME_MAX + 1];
    unsigned n = 0;
    const ix_option *f = ix_focused(ix);
    const char *typed = f && f->str ? f->str : "";
    /* Each list is loaded once: SIGHUP may swap them while this runs. */
    const loras_set *loras = cat ? cat->loras : NULL;
    const ratios_set *ratios = cat ? cat->ratios : NULL;
    const decl_command *d = f ? rcmd_decl_of(cat, ix->command_name) : NULL;
    const decl_option *o = d ? decl_find_option(d, f->name) : NULL;
    bool lorainfo = f && ix->command_name && strcmp(ix->command_name, CMD_LORAINFO) == 0 &&
                    strcmp(f->name, "name") == 0;
    if ((lorainfo || (o && o->source == DECL_SRC_LORAS)) && loras) {
        const loras_entry *found[LORAS_CHOICES_MAX];
        unsigned k = loras_match(loras, typed, found, LORAS_CHOICES_MAX);
        for (unsigned i = 0; i < k && n < REPLY_CHOICES_MAX; i++)
            choices[n++] = (reply_choice){.name = found[i]->name, .str_value = found[i]->name};
    } else if (o && o->source == DECL_SRC_FILE) {
        n = match_list(o->list, o->nlist, typed, choices, n);
    } else if (o && o->source == DECL_SRC_OBJECT_INFO && cat->models) {
        unsigned k = models_match(cat->models, o->source_arg, typed, models, REPLY_CHOICES_MAX);
        for (unsigned i = 0; i < k; i++)
            choices[n++] = (reply_choice){.name = models[i], .str_value = models[i]};
    } else if (o && o->choices_ratios && ratios) {
        /* Prefix matches first, then the rest that contain the text. */
        for (int pass = 0; pass < 2; pass++)
            for (unsigned i = 0; i < ratios->count && n < REPLY_CHOICES_MAX; i++) {
                const char *label = ratios->items[i].label;
                bool prefix = strncasecmp(label, typed, strlen(typed)) == 0;
                if (pass == 0 ? prefix : (!prefix && contains_ci(label, typed)))
                    choices[n++] = (reply_choice){.name = label, .str_value = label};
            }
    }
    return reply_autocomplete_json(choices, n);
}

/* ---- /stats and /reset_stats ----------------------------------------------------------------- */

cJSON *rcmd_days_options(const ix_interaction *ix)
{
    cJSON *arr = cJSON_CreateArray();
    const ix_option *o = ix_opt(ix, "days");
    if (o && o->has_value) {
        cJSON *opt = cJSON_CreateObject();
        cJSON_AddStringToObject(opt, "name", "days");
        cJSON_AddNumberToObject(opt, "type", o->type);
        if (o->type == IX_OPT_STRING && o->str)
            cJSON_AddStringToObject(opt, "value", o->str);
        else if (o->type == IX_OPT_INTEGER)
            cJSON_AddNumberToObject(opt, "value", (double)o->integer);
        else
            cJSON_AddNumberToObject(opt, "value", o->number);
        cJSON_AddItemToArray(arr, opt);
    }
    return arr;
}

an_perm rcmd_manager_perm(const ix_interaction *ix, gw_roles *roles, const char *configured_role)
{
    if (!ix->in_guild || !ix->guild_id) return AN_PERM_DENIED;
    /* The guild's roles as far as the rule needs them: those carrying the configured name. */
    const char *want =
        configured_role && *configured_role ? configured_role : AN_DEFAULT_MANAGER_ROLE;
    uint64_t ids[16];
    an_role known[16];
    size_t nknown = 0;
    if (roles) {
        size_t total = gw_roles_find_by_name(roles, ix->guild_id, want, ids, 16);
        nknown = total < 16 ? total : 16;
        for (size_t i = 0; i < nknown; i++)
            known[i] = (an_role){.id = ids[i], .name = want};
    }
    return an_reset_permission(ix->has_permissions ? ix->permissions : 0, ix->roles, ix->nroles,
                               known, nknown, configured_role);
}

void rcmd_usage_name(const ix_interaction *ix, char *out, size_t cap)
{
    if (ix->type == IX_COMMAND || ix->type == IX_AUTOCOMPLETE) {
        snprintf(out, cap, "%s", ix->command_name ? ix->command_name : "unknown");
        return;
    }
    const char *what = "unknown";
    const char *id = ix->custom_id ? ix->custom_id : "";
    uint64_t sid;
    opts_dialog_verb verb;
    unsigned page;
    if (ix->type == IX_MODAL_SUBMIT) {
        snprintf(out, cap, "modal:%s", opts_dialog_owns(id) ? "options" : "unknown");
        return;
    }
    if (opts_dialog_parse_id(id, &sid, &verb, &page) == 0) {
        snprintf(out, cap, "button:options_%s", opts_dialog_verb_name(verb));
        return;
    }
    cres_action a;
    uint64_t job, owner;
    if (cres_parse_custom_id(id, &a, &job, &owner) == 0) {
        what = a == CRES_REGENERATE ? "regenerate"
               : a == CRES_UPSCALE2 ? "upscale"
               : a == CRES_DELETE   ? "delete"
               : a == CRES_OPTIONS  ? "options"
               : a == CRES_CANCEL   ? "cancel"
                                    : "unknown";
    } else if (lorainfo_owns(id)) {
        what = "lorainfo";
    } else if (an_confirm_owns(id)) {
        if (strncmp(id, AN_CONFIRM_PREFIX "confirm:", strlen(AN_CONFIRM_PREFIX "confirm:")) == 0)
            what = "reset_confirm";
        else if (strncmp(id, AN_CONFIRM_PREFIX "cancel:", strlen(AN_CONFIRM_PREFIX "cancel:")) == 0)
            what = "reset_cancel";
    }
    snprintf(out, cap, "button:%s", what);
}

/* ---- salvage of malformed interactions --------------------------------------------------------
 *
 * ix_parse (cJSON) refuses what the gateway's own scanner accepted — a lone surrogate escape
 * such as \ud800 in an option value, a `d` over IX_INPUT_MAX — and such an interaction must
 * still be answered and counted. So the salvage reads only the few fields it needs with the
 * gateway's scanner (gw_json): it validates the syntax of the whole value but never decodes
 * strings it does not read, works on any length the gateway delivered, copies nothing but
 * bounded fields, and trusts each field only after checking it (strict snowflakes, URL-safe
 * token, command names of Discord's charset). */

static uint64_t snowflake_in(gw_span obj, const char *key)
{
    gw_span v;
    uint64_t id = 0;
    if (gw_json_get(obj, key, &v) == 1 && gw_json_kind_of(v) == GW_JSON_STRING &&
        gw_json_snowflake(v, &id) == GW_JSON_OK)
        return id;
    return 0;
}

static bool url_safe_token(const char *t)
{
    size_t n = strlen(t);
    if (n == 0 || n > IX_TOKEN_MAX) return false;
    for (; *t; t++)
        if (!isalnum((unsigned char)*t) && *t != '-' && *t != '_' && *t != '.') return false;
    return true;
}

/* Discord's command names: 1-32 characters, lower-case letters, digits, '-' and '_' (ASCII is
 * all this bot registers; anything else is not one of its commands). */
static bool command_name_ok(const char *n)
{
    size_t len = strlen(n);
    if (len == 0 || len > CMD_NAME_MAX) return false;
    for (; *n; n++)
        if (!islower((unsigned char)*n) && !isdigit((unsigned char)*n) && *n != '-' && *n != '_')
            return false;
    return true;
}

void rcmd_recover(const char *json, size_t len, rcmd_recovered *out)
{
    memset(out, 0, sizeof *out);
    gw_span root;
    if (!json || len == 0 || gw_json_parse_span(json, len, &root) != GW_JSON_OK ||
        gw_json_kind_of(root) != GW_JSON_OBJECT)
        return;
    out->id = snowflake_in(root, "id");
    out->application_id = snowflake_in(root, "application_id");
    gw_span v;
    char tok[IX_TOKEN_MAX + 1];
    if (out->id && gw_json_get(root, "token", &v) == 1 && gw_json_kind_of(v) == GW_JSON_STRING &&
        gw_json_string(v, tok, sizeof tok, NULL) == GW_JSON_OK && url_safe_token(tok)) {
        snprintf(out->token, sizeof out->token, "%s", tok);
        out->has_reply = true;
    }
    int64_t type = 0;
    if (gw_json_get(root, "type", &v) == 1 && gw_json_int64(v, &type) == GW_JSON_OK && type >= 1 &&
        type <= 5)
        out->type = (int)type;
    out->guild_id = snowflake_in(root, "guild_id");
    out->channel_id = snowflake_in(root, "channel_id");
    gw_span member, user;
    bool in_member =
        gw_json_get(root, "member", &member) == 1 && gw_json_kind_of(member) == GW_JSON_OBJECT;
    if (gw_json_get(in_member ? member : root, "user", &user) == 1 &&
        gw_json_kind_of(user) == GW_JSON_OBJECT)
        out->user_id = snowflake_in(user, "id");
    gw_span data;
    char name[CMD_NAME_MAX + 1];
    if ((out->type == IX_COMMAND || out->type == IX_AUTOCOMPLETE) &&
        gw_json_get(root, "data", &data) == 1 && gw_json_kind_of(data) == GW_JSON_OBJECT &&
        gw_json_get(data, "name", &v) == 1 && gw_json_kind_of(v) == GW_JSON_STRING &&
        gw_json_string(v, name, sizeof name, NULL) == GW_JSON_OK && command_name_ok(name))
        snprintf(out->command, sizeof out->command, "%s", name);
}

char *rcmd_message_image_url(const char *json, size_t len)
{
    if (!json || len == 0 || len > IX_INPUT_MAX) return NULL;
    cJSON *root = cJSON_ParseWithLength(json, len);
    char *url = NULL;
    const cJSON *msg = cJSON_GetObjectItemCaseSensitive(root, "message");
    const cJSON *atts = cJSON_GetObjectItemCaseSensitive(msg, "attachments");
    const cJSON *first = cJSON_IsArray(atts) ? cJSON_GetArrayItem(atts, 0) : NULL;
    const cJSON *u = cJSON_GetObjectItemCaseSensitive(first, "url");
    if (cJSON_IsString(u) && u->valuestring && strlen(u->valuestring) <= IX_URL_MAX &&
        (strncmp(u->valuestring, "https://", 8) == 0 || strncmp(u->valuestring, "http://", 7) == 0))
        url = strdup(u->valuestring);
    cJSON_Delete(root);
    return url;
}
