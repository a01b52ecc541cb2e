/* The router's pure command logic: interactions in, work messages and answers out (cmd.h). */
#include "router/rcmd.h"

#include <ctype.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analytics/an_confirm.h"
#include "comfy/loras.h"
#include "comfy/ratios.h"
#include "comfy/cres.h"
#include "discord/cmd.h"
#include "discord/embed.h"
#include "discord/gw_json.h"
#include "discord/lorainfo.h"
#include "discord/opts_dialog.h"
#include "discord/reply.h"

bool rcmd_kind_of(const char *name, comfy_kind *kind)
{
    static const struct {
        const char *name;
        comfy_kind kind;
    } map[] = {
        {CMD_COMFY, COMFY_KIND_IMAGE},
        {CMD_REDUX, COMFY_KIND_REDUX},
        {CMD_PULID, COMFY_KIND_PULID},
        {CMD_VIDEO, COMFY_KIND_VIDEO},
    };
    for (size_t i = 0; name && i < sizeof map / sizeof map[0]; i++)
        if (strcmp(name, map[i].name) == 0) {
            *kind = map[i].kind;
            return true;
        }
    return false;
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

static bool add_strength(comfy_job_msg *m, const ix_interaction *ix, const char *name, int slot)
{
    double v;
    if (!ix_opt_number(ix, name, &v)) return true;
    m->has_strength[slot] = true;
    m->strength[slot] = v;
    return true;
}

comfy_job_msg *rcmd_job(const ix_interaction *ix, comfy_kind kind, const cjob_catalog *cat,
                        uint64_t received_wall_ms, char *err, size_t errlen)
{
    if (!cat || !cat->workflows) {
        snprintf(err, errlen, "/%s is not set up on this bot.", comfy_kind_name(kind));
        return NULL;
    }
    comfy_job_msg *m = comfy_job_msg_new(kind, ix->application_id, ix->id, ix->token);
    rcmd_origin(ix, &m->origin);
    m->received_ms = received_wall_ms;

    const char *prompt = ix_opt_str(ix, "prompt");
    if (prompt) comfy_job_set_prompt(m, prompt);

    const char *res = ix_opt_str(ix, "resolution");
    if (res && *res) {
        /* Checked here as well as in cjob_check_options so an over-long label is reported
         * as what it is instead of being cut into some other, possibly valid, label. */
        const ratios_set *ratios = cat->ratios; /* one load: SIGHUP may swap the lists */
        if (strlen(res) > COMFY_LABEL_MAX || !ratios || !ratios_find(ratios, res)) {
            snprintf(err, errlen, "Unknown resolution \"%.100s\". Pick one of the listed choices.",
                     res);
            goto fail;
        }
        snprintf(m->resolution, sizeof m->resolution, "%s", res);
    }

    int64_t v;
    if (ix_opt_int(ix, "upscale_factor", &v)) {
        if (v < 1 || v > 4) {
            snprintf(err, errlen, "upscale_factor must be 1, 2, 3 or 4 (got %" PRId64 ").", v);
            goto fail;
        }
        m->upscale_factor = (uint32_t)v;
    }
    if (ix_opt_int(ix, "seed", &v)) {
        if (v < 0 || (uint64_t)v > CJOB_MAX_SEED) {
            snprintf(err, errlen, "seed must be between 0 and %" PRIu64 ".",
                     (uint64_t)CJOB_MAX_SEED);
            goto fail;
        }
        m->has_seed = true;
        m->seed = (uint64_t)v;
    }

    static const char *const lora_opts[] = {"lora", "lora2", "lora3"};
    static const char *const strength_opts[] = {"lora_strength", "lora2_strength",
                                                "lora3_strength"};
    for (unsigned i = 0; i < sizeof lora_opts / sizeof lora_opts[0]; i++) {
        const char *l = ix_opt_str(ix, lora_opts[i]);
        double strength = 0;
        bool has_strength = ix_opt_number(ix, strength_opts[i], &strength);
        if (has_strength && (!l || !*l)) {
            snprintf(err, errlen, "%s is the strength of the %s option; pick a LoRA there too.",
                     strength_opts[i], lora_opts[i]);
            goto fail;
        }
        if (has_strength &&
            !(strength >= CJOB_LORA_STRENGTH_MIN && strength <= CJOB_LORA_STRENGTH_MAX)) {
            snprintf(err, errlen, "%s must be between %.1f and %.1f (got %g).", strength_opts[i],
                     CJOB_LORA_STRENGTH_MIN, CJOB_LORA_STRENGTH_MAX, strength);
            goto fail;
        }
        if (!l || !*l) continue;
        const loras_set *loras = cat->loras; /* one load: SIGHUP may swap the lists */
        if (strlen(l) > COMFY_NAME_MAX || !loras || !loras_find(loras, l)) {
            snprintf(err, errlen,
                     "Unknown LoRA \"%.100s\". Start typing in the %s option and pick one "
                     "from the list.",
                     l, lora_opts[i]);
            goto fail;
        }
        comfy_job_add_lora(m, l);
        if (has_strength && m->nloras) {
            m->has_lora_strength[m->nloras - 1] = true;
            m->lora_strength[m->nloras - 1] = strength;
        }
    }

    switch (kind) {
    case COMFY_KIND_REDUX:
        if (!add_image(m, ix, "image1", err, errlen) || !add_image(m, ix, "image2", err, errlen))
            goto fail;
        add_strength(m, ix, "strength1", 0);
        add_strength(m, ix, "strength2", 1);
        break;
    case COMFY_KIND_PULID:
        if (!add_image(m, ix, "image", err, errlen)) goto fail;
        add_strength(m, ix, "strength", 0);
        break;
    default:
        break;
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

int rcmd_check_options(const ix_interaction *ix, char *err, size_t errlen)
{
    const char *name = ix->command_name ? ix->command_name : "";
    const cmd_def *c = cmd_find(name);
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

char *rcmd_autocomplete_json(const ix_interaction *ix, const cjob_catalog *cat)
{
    reply_choice choices[REPLY_CHOICES_MAX];
    unsigned n = 0;
    const ix_option *f = ix_focused(ix);
    const char *typed = f && f->str ? f->str : "";
    /* Each list is loaded once: SIGHUP may swap them while this runs. */
    const loras_set *loras = cat ? cat->loras : NULL;
    const ratios_set *ratios = cat ? cat->ratios : NULL;
    if (f && cat) {
        bool lorainfo = ix->command_name && strcmp(ix->command_name, CMD_LORAINFO) == 0;
        if ((strcmp(f->name, "lora") == 0 || strcmp(f->name, "lora2") == 0 ||
             strcmp(f->name, "lora3") == 0 || (lorainfo && strcmp(f->name, "name") == 0)) &&
            loras) {
            const loras_entry *found[LORAS_CHOICES_MAX];
            unsigned k = loras_match(loras, typed, found, LORAS_CHOICES_MAX);
            for (unsigned i = 0; i < k && n < REPLY_CHOICES_MAX; i++)
                choices[n++] = (reply_choice){.name = found[i]->name, .str_value = found[i]->name};
        } else if (strcmp(f->name, "resolution") == 0 && ratios) {
            /* Prefix matches first, then the rest that contain the text. */
            for (int pass = 0; pass < 2; pass++)
                for (unsigned i = 0; i < ratios->count && n < REPLY_CHOICES_MAX; i++) {
                    const char *label = ratios->items[i].label;
                    bool prefix = strncasecmp(label, typed, strlen(typed)) == 0;
                    if (pass == 0 ? prefix : (!prefix && contains_ci(label, typed)))
                        choices[n++] = (reply_choice){.name = label, .str_value = label};
                }
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
