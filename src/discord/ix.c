/*
 * INTERACTION_CREATE parsing and validation (see ix.h). Owns nothing beyond the block
 * it returns: the struct and, behind it, an arena holding copies of every string. The arena is
 * sized from the input length, which bounds the total of all decoded strings.
 */
#include "discord/ix.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "util/util_cjarena.h"
#include "util/util_dec.h"
#include "util/util_url.h"
#include "util/util_utf8.h"

#define IX_MAX_SAFE_INT 9007199254740992.0 /* 2^53: Discord's integer option range */

typedef struct pctx {
    ix_interaction *ix;
    char *arena;
    size_t used, cap;
    ix_error *err;
} pctx;

static bool fail(pctx *c, ix_err code, const char *field, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static bool fail(pctx *c, ix_err code, const char *field, const char *fmt, ...)
{
    if (c->err && c->err->code == IX_OK) {
        c->err->code = code;
        snprintf(c->err->field, sizeof c->err->field, "%s", field);
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(c->err->msg, sizeof c->err->msg, fmt, ap);
        va_end(ap);
    }
    return false;
}

const char *ix_strerror(ix_err code)
{
    switch (code) {
    case IX_OK:
        return "ok";
    case IX_E_TOO_LARGE:
        return "payload too large";
    case IX_E_JSON:
        return "malformed JSON";
    case IX_E_MISSING:
        return "required field missing";
    case IX_E_TYPE:
        return "field has the wrong type";
    case IX_E_SNOWFLAKE:
        return "invalid snowflake";
    case IX_E_RANGE:
        return "number out of range";
    case IX_E_LENGTH:
        return "string length out of bounds";
    case IX_E_TOO_MANY:
        return "too many elements";
    case IX_E_UTF8:
        return "invalid UTF-8";
    case IX_E_TOKEN:
        return "invalid interaction token";
    case IX_E_DUPLICATE:
        return "duplicate option";
    case IX_E_UNSUPPORTED:
        return "unsupported type";
    }
    return "unknown error";
}

/* ---- scalar parsers ------------------------------------------------------------------------ */

bool ix_parse_snowflake(const char *s, uint64_t *out)
{
    return util_dec_snowflake(s, out);
}

/* ---- field helpers --------------------------------------------------------------------------- */

static const char *arena_dup(pctx *c, const char *s)
{
    size_t n = strlen(s) + 1;
    if (c->used + n > c->cap) return NULL; /* cannot happen: strings are bounded by the input */
    char *p = c->arena + c->used;
    memcpy(p, s, n);
    c->used += n;
    return p;
}

/* obj[key] unless absent or null (Discord sends null for unset optional fields); then NULL,
 * with *ok false only when the field is required. */
static const cJSON *field(pctx *c, const cJSON *obj, const char *key, const char *path,
                          bool required, bool *ok)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    *ok = true;
    if (v && !cJSON_IsNull(v)) return v;
    if (required) *ok = fail(c, IX_E_MISSING, path, "%s is required", path);
    return NULL;
}

/* A string field: required or optional, bounded in characters, valid UTF-8, copied. */
static bool get_str(pctx *c, const cJSON *obj, const char *key, const char *path, bool required,
                    size_t min_chars, size_t max_chars, const char **out)
{
    bool ok;
    const cJSON *v = field(c, obj, key, path, required, &ok);
    *out = NULL;
    if (!v) return ok;
    if (!cJSON_IsString(v) || !v->valuestring)
        return fail(c, IX_E_TYPE, path, "%s must be a string", path);
    size_t chars;
    if (!util_utf8_valid(v->valuestring, strlen(v->valuestring), &chars))
        return fail(c, IX_E_UTF8, path, "%s is not valid UTF-8", path);
    if (chars < min_chars || chars > max_chars)
        return fail(c, IX_E_LENGTH, path, "%s must have %zu..%zu characters (has %zu)", path,
                    min_chars, max_chars, chars);
    *out = arena_dup(c, v->valuestring);
    return *out ? true : fail(c, IX_E_TOO_LARGE, path, "out of arena space");
}

static bool get_snowflake_value(pctx *c, const cJSON *v, const char *path, uint64_t *out)
{
    if (!cJSON_IsString(v) || !v->valuestring)
        return fail(c, IX_E_TYPE, path, "%s must be a snowflake string", path);
    if (!util_dec_snowflake(v->valuestring, out))
        return fail(c, IX_E_SNOWFLAKE, path, "%s is not a valid snowflake", path);
    return true;
}

static bool get_snowflake(pctx *c, const cJSON *obj, const char *key, const char *path,
                          bool required, uint64_t *out)
{
    bool ok;
    const cJSON *v = field(c, obj, key, path, required, &ok);
    *out = 0;
    return v ? get_snowflake_value(c, v, path, out) : ok;
}

/* An optional array of at most max elements; *out is NULL when absent or null. */
static bool get_array(pctx *c, const cJSON *obj, const char *key, const char *path, int max,
                      const char *noun, const cJSON **out)
{
    bool ok;
    const cJSON *v = field(c, obj, key, path, false, &ok);
    *out = NULL;
    if (!v) return ok;
    if (!cJSON_IsArray(v)) return fail(c, IX_E_TYPE, path, "%s must be an array", path);
    if (cJSON_GetArraySize(v) > max)
        return fail(c, IX_E_TOO_MANY, path, "more than %d %s", max, noun);
    *out = v;
    return true;
}

static bool get_int(pctx *c, const cJSON *obj, const char *key, const char *path, bool required,
                    double lo, double hi, int64_t *out)
{
    bool ok;
    const cJSON *v = field(c, obj, key, path, required, &ok);
    if (!v) return ok;
    if (!cJSON_IsNumber(v)) return fail(c, IX_E_TYPE, path, "%s must be a number", path);
    double d = v->valuedouble;
    if (!isfinite(d) || d != floor(d) || d < lo || d > hi)
        return fail(c, IX_E_RANGE, path, "%s must be an integer in %.0f..%.0f", path, lo, hi);
    *out = (int64_t)d;
    return true;
}

/* ---- options -----------------------------------------------------------------------------------
 */

/* An option's text (v is a string): valid UTF-8 of at most IX_STRING_MAX characters, copied. */
static bool option_text(pctx *c, const cJSON *v, const char *vpath, ix_option *opt)
{
    size_t chars;
    if (!util_utf8_valid(v->valuestring, strlen(v->valuestring), &chars))
        return fail(c, IX_E_UTF8, vpath, "%s is not valid UTF-8", vpath);
    if (chars > IX_STRING_MAX)
        return fail(c, IX_E_LENGTH, vpath, "%s is longer than %d characters", vpath, IX_STRING_MAX);
    opt->str = arena_dup(c, v->valuestring);
    return true;
}

static bool parse_option_value(pctx *c, const cJSON *o, ix_option *opt, const char *path,
                               bool autocomplete)
{
    char vpath[128];
    snprintf(vpath, sizeof vpath, "%s.value", path);
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, "value");
    if (!v || cJSON_IsNull(v)) {
        if (autocomplete) return true; /* options not filled in yet */
        return fail(c, IX_E_MISSING, vpath, "%s is required", vpath);
    }
    opt->has_value = true;
    if (autocomplete && cJSON_IsString(v) && opt->type != IX_OPT_ATTACHMENT) {
        /* Partial input: keep the text whatever the declared type. */
        if (!option_text(c, v, vpath, opt)) return false;
        if (opt->type == IX_OPT_STRING) return true;
        /* A typed value that is complete is also decoded, for convenience. */
        char *end = NULL;
        double d = strtod(v->valuestring, &end);
        if (end && *end == '\0' && end != v->valuestring && isfinite(d)) {
            opt->number = d;
            if (d == floor(d) && fabs(d) <= IX_MAX_SAFE_INT) opt->integer = (int64_t)d;
        }
        return true;
    }
    switch (opt->type) {
    case IX_OPT_STRING:
        if (!cJSON_IsString(v) || !v->valuestring)
            return fail(c, IX_E_TYPE, vpath, "%s must be a string", vpath);
        return option_text(c, v, vpath, opt);
    case IX_OPT_INTEGER: {
        if (!cJSON_IsNumber(v)) return fail(c, IX_E_TYPE, vpath, "%s must be a number", vpath);
        double d = v->valuedouble;
        if (!isfinite(d) || d != floor(d) || fabs(d) > IX_MAX_SAFE_INT)
            return fail(c, IX_E_RANGE, vpath, "%s must be an integer within +-2^53", vpath);
        opt->integer = (int64_t)d;
        opt->number = d;
        return true;
    }
    case IX_OPT_NUMBER: {
        if (!cJSON_IsNumber(v)) return fail(c, IX_E_TYPE, vpath, "%s must be a number", vpath);
        double d = v->valuedouble;
        if (!isfinite(d) || fabs(d) > IX_MAX_SAFE_INT)
            return fail(c, IX_E_RANGE, vpath, "%s is out of range", vpath);
        opt->number = d;
        if (d == floor(d)) opt->integer = (int64_t)d;
        return true;
    }
    case IX_OPT_BOOLEAN:
        if (!cJSON_IsBool(v)) return fail(c, IX_E_TYPE, vpath, "%s must be a boolean", vpath);
        opt->boolean = cJSON_IsTrue(v);
        return true;
    case IX_OPT_USER:
    case IX_OPT_CHANNEL:
    case IX_OPT_ROLE:
    case IX_OPT_MENTIONABLE:
    case IX_OPT_ATTACHMENT:
        return get_snowflake_value(c, v, vpath, &opt->id);
    default:
        return fail(c, IX_E_UNSUPPORTED, path, "option type %d not supported", opt->type);
    }
}

static bool parse_options(pctx *c, const cJSON *arr, const char *base, int depth, bool autocomplete)
{
    ix_interaction *ix = c->ix;
    if (!arr || cJSON_IsNull(arr)) return true;
    if (!cJSON_IsArray(arr)) return fail(c, IX_E_TYPE, base, "%s must be an array", base);
    int n = cJSON_GetArraySize(arr);
    if (n > IX_MAX_OPTIONS)
        return fail(c, IX_E_TOO_MANY, base, "%s has %d entries (max %d)", base, n, IX_MAX_OPTIONS);
    int i = 0;
    const cJSON *o;
    cJSON_ArrayForEach(o, arr)
    {
        char path[96];
        snprintf(path, sizeof path, "%s[%d]", base, i++);
        if (!cJSON_IsObject(o)) return fail(c, IX_E_TYPE, path, "%s must be an object", path);
        char npath[128], tpath[128];
        snprintf(npath, sizeof npath, "%s.name", path);
        snprintf(tpath, sizeof tpath, "%s.type", path);
        const char *name;
        int64_t type = 0;
        if (!get_str(c, o, "name", npath, true, 1, IX_NAME_MAX, &name)) return false;
        if (!get_int(c, o, "type", tpath, true, 1, 11, &type)) return false;

        if (type == IX_OPT_SUB_COMMAND || type == IX_OPT_SUB_COMMAND_GROUP) {
            /* Sub-commands are the only entry of their level; the leaf options are below. */
            if (n != 1 || depth >= 2 || (type == IX_OPT_SUB_COMMAND_GROUP && depth != 0))
                return fail(c, IX_E_UNSUPPORTED, path, "%s: misplaced sub-command", path);
            if (ix->subcommand) {
                size_t len = strlen(ix->subcommand) + 1 + strlen(name) + 1;
                if (c->used + len > c->cap) return fail(c, IX_E_TOO_LARGE, path, "arena");
                char *p = c->arena + c->used;
                snprintf(p, len, "%s %s", ix->subcommand, name);
                c->used += len;
                ix->subcommand = p;
            } else {
                ix->subcommand = name;
            }
            char sub[128];
            snprintf(sub, sizeof sub, "%s.options", path);
            return parse_options(c, cJSON_GetObjectItemCaseSensitive(o, "options"), sub, depth + 1,
                                 autocomplete);
        }
        for (unsigned k = 0; k < ix->noptions; k++)
            if (strcmp(ix->options[k].name, name) == 0)
                return fail(c, IX_E_DUPLICATE, npath, "option \"%s\" given twice", name);
        ix_option *opt = &ix->options[ix->noptions];
        memset(opt, 0, sizeof *opt);
        opt->name = name;
        opt->type = (ix_opt_type)type;
        const cJSON *f = cJSON_GetObjectItemCaseSensitive(o, "focused");
        if (f && !cJSON_IsNull(f)) {
            if (!cJSON_IsBool(f))
                return fail(c, IX_E_TYPE, path, "%s.focused must be a boolean", path);
            opt->focused = cJSON_IsTrue(f);
        }
        if (!parse_option_value(c, o, opt, path, autocomplete)) return false;
        ix->noptions++;
    }
    return true;
}

static bool parse_attachments(pctx *c, const cJSON *resolved)
{
    ix_interaction *ix = c->ix;
    if (!resolved || cJSON_IsNull(resolved)) return true;
    if (!cJSON_IsObject(resolved))
        return fail(c, IX_E_TYPE, "data.resolved", "data.resolved must be an object");
    const cJSON *atts = cJSON_GetObjectItemCaseSensitive(resolved, "attachments");
    if (!atts || cJSON_IsNull(atts)) return true;
    if (!cJSON_IsObject(atts))
        return fail(c, IX_E_TYPE, "data.resolved.attachments", "attachments must be an object");
    if (cJSON_GetArraySize(atts) > IX_MAX_ATTACHMENTS)
        return fail(c, IX_E_TOO_MANY, "data.resolved.attachments", "more than %d attachments",
                    IX_MAX_ATTACHMENTS);
    const cJSON *a;
    cJSON_ArrayForEach(a, atts)
    {
        const char *path = "data.resolved.attachments[]";
        if (!cJSON_IsObject(a)) return fail(c, IX_E_TYPE, path, "attachment must be an object");
        ix_attachment *at = &ix->attachments[ix->nattachments];
        memset(at, 0, sizeof *at);
        uint64_t key_id;
        if (!a->string || !util_dec_snowflake(a->string, &key_id))
            return fail(c, IX_E_SNOWFLAKE, path, "attachment key is not a snowflake");
        if (!get_snowflake(c, a, "id", "data.resolved.attachments[].id", true, &at->id))
            return false;
        if (at->id != key_id) return fail(c, IX_E_SNOWFLAKE, path, "attachment key and id differ");
        const char *ct = NULL;
        if (!get_str(c, a, "filename", "data.resolved.attachments[].filename", true, 1,
                     IX_FILENAME_MAX, &at->filename) ||
            !get_str(c, a, "url", "data.resolved.attachments[].url", true, 1, IX_URL_MAX,
                     &at->url) ||
            !get_str(c, a, "content_type", "data.resolved.attachments[].content_type", false, 0,
                     255, &ct))
            return false;
        if (!util_url_is_http(at->url))
            return fail(c, IX_E_TYPE, "data.resolved.attachments[].url",
                        "attachment url must be http(s)");
        at->content_type = ct ? ct : "";
        int64_t size = 0, w = 0, h = 0;
        if (!get_int(c, a, "size", "data.resolved.attachments[].size", true, 0, IX_MAX_SAFE_INT,
                     &size) ||
            !get_int(c, a, "width", "data.resolved.attachments[].width", false, 0, 1e6, &w) ||
            !get_int(c, a, "height", "data.resolved.attachments[].height", false, 0, 1e6, &h))
            return false;
        at->size = (uint64_t)size;
        at->width = (uint32_t)w;
        at->height = (uint32_t)h;
        ix->nattachments++;
    }
    return true;
}

static bool parse_member_or_user(pctx *c, const cJSON *root)
{
    ix_interaction *ix = c->ix;
    const cJSON *member = cJSON_GetObjectItemCaseSensitive(root, "member");
    const cJSON *user = NULL;
    if (member && !cJSON_IsNull(member)) {
        if (!cJSON_IsObject(member))
            return fail(c, IX_E_TYPE, "member", "member must be an object");
        ix->in_guild = true;
        user = cJSON_GetObjectItemCaseSensitive(member, "user");
        if (!user || !cJSON_IsObject(user))
            return fail(c, IX_E_MISSING, "member.user", "member.user is required");
        if (!get_snowflake(c, user, "id", "member.user.id", true, &ix->user_id)) return false;
        const char *perms = NULL;
        if (!get_str(c, member, "permissions", "member.permissions", false, 1, 20, &perms))
            return false;
        if (perms) {
            if (!util_dec_u64_canon(perms, &ix->permissions))
                return fail(c, IX_E_RANGE, "member.permissions",
                            "member.permissions is not a decimal 64-bit set");
            ix->has_permissions = true;
        }
        const cJSON *roles, *r;
        if (!get_array(c, member, "roles", "member.roles", IX_MAX_ROLES, "roles", &roles))
            return false;
        cJSON_ArrayForEach(r, roles)
        {
            if (!get_snowflake_value(c, r, "member.roles[]", &ix->roles[ix->nroles])) return false;
            ix->nroles++;
        }
    } else {
        user = cJSON_GetObjectItemCaseSensitive(root, "user");
        if (!user || !cJSON_IsObject(user))
            return fail(c, IX_E_MISSING, "user", "member or user is required");
        if (!get_snowflake(c, user, "id", "user.id", true, &ix->user_id)) return false;
    }
    const char *uname = NULL;
    if (!get_str(c, user, "username", "user.username", false, 0, 64, &uname)) return false;
    ix->username = uname ? uname : "";
    return true;
}

static bool token_ok(const char *t)
{
    for (; *t; t++) {
        char ch = *t;
        bool ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
                  (ch >= '0' && ch <= '9') || ch == '-' || ch == '_' || ch == '.';
        if (!ok) return false;
    }
    return true;
}

/* A modal submit: its custom_id and the text inputs of its action rows (Discord sends one
 * input a row; anything else in a row is refused, since the bot's modals hold only inputs). */
static bool parse_modal(pctx *c, const cJSON *root, const cJSON *data)
{
    ix_interaction *ix = c->ix;
    if (!get_str(c, data, "custom_id", "data.custom_id", true, 1, IX_CUSTOM_ID_MAX, &ix->custom_id))
        return false;
    const cJSON *rows, *row;
    if (!get_array(c, data, "components", "data.components", IX_MAX_FIELDS, "rows", &rows))
        return false;
    cJSON_ArrayForEach(row, rows)
    {
        const cJSON *inputs, *in;
        if (!cJSON_IsObject(row))
            return fail(c, IX_E_TYPE, "data.components[]", "a row must be an object");
        if (!get_array(c, row, "components", "data.components[].components", 1, "inputs", &inputs))
            return false;
        cJSON_ArrayForEach(in, inputs)
        {
            if (!cJSON_IsObject(in))
                return fail(c, IX_E_TYPE, "data.components[].components[]",
                            "an input must be an object");
            if (ix->nfields == IX_MAX_FIELDS)
                return fail(c, IX_E_TOO_MANY, "data.components", "more than %d inputs",
                            IX_MAX_FIELDS);
            ix_field *f = &ix->fields[ix->nfields];
            const char *value = NULL;
            if (!get_str(c, in, "custom_id", "data.components[].components[].custom_id", true, 1,
                         IX_CUSTOM_ID_MAX, &f->custom_id) ||
                !get_str(c, in, "value", "data.components[].components[].value", false, 0,
                         IX_FIELD_MAX, &value))
                return false;
            f->value = value ? value : "";
            ix->nfields++;
        }
    }
    const cJSON *msg = cJSON_GetObjectItemCaseSensitive(root, "message");
    if (cJSON_IsObject(msg) && !get_snowflake(c, msg, "id", "message.id", false, &ix->message_id))
        return false;
    return true;
}

static bool parse_root(pctx *c, const cJSON *root)
{
    ix_interaction *ix = c->ix;
    int64_t type = 0;
    if (!get_snowflake(c, root, "id", "id", true, &ix->id) ||
        !get_snowflake(c, root, "application_id", "application_id", true, &ix->application_id) ||
        !get_int(c, root, "type", "type", true, 1, 100, &type))
        return false;
    if (type != IX_COMMAND && type != IX_COMPONENT && type != IX_AUTOCOMPLETE &&
        type != IX_MODAL_SUBMIT)
        return fail(c, IX_E_UNSUPPORTED, "type", "interaction type %lld is not handled",
                    (long long)type);
    ix->type = (ix_type)type;

    const char *token;
    if (!get_str(c, root, "token", "token", true, 1, IX_TOKEN_MAX, &token)) return false;
    if (!token_ok(token))
        return fail(c, IX_E_TOKEN, "token", "token has characters that are not URL-safe");
    snprintf(ix->token, sizeof ix->token, "%s", token);

    if (!get_snowflake(c, root, "guild_id", "guild_id", false, &ix->guild_id) ||
        !get_snowflake(c, root, "channel_id", "channel_id", false, &ix->channel_id))
        return false;
    const cJSON *chan = cJSON_GetObjectItemCaseSensitive(root, "channel");
    if (!ix->channel_id && cJSON_IsObject(chan) &&
        !get_snowflake(c, chan, "id", "channel.id", false, &ix->channel_id))
        return false;
    /* Only a JSON true counts: a missing or odd value leaves the channel not age-restricted,
     * which is the safe reading for the "NSFW channels only" rule. */
    ix->channel_nsfw =
        cJSON_IsObject(chan) && cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(chan, "nsfw"));
    if (!parse_member_or_user(c, root)) return false;

    const char *ap = NULL, *locale = NULL;
    if (!get_str(c, root, "app_permissions", "app_permissions", false, 1, 20, &ap)) return false;
    if (ap && !util_dec_u64_canon(ap, &ix->app_permissions))
        return fail(c, IX_E_RANGE, "app_permissions", "app_permissions is not a decimal set");
    if (!get_str(c, root, "locale", "locale", false, 0, sizeof ix->locale - 1, &locale))
        return false;
    if (locale) snprintf(ix->locale, sizeof ix->locale, "%s", locale);
    int64_t asl = 0;
    if (!get_int(c, root, "attachment_size_limit", "attachment_size_limit", false, 0,
                 IX_MAX_SAFE_INT, &asl))
        return false;
    ix->attachment_size_limit = (uint64_t)asl;

    const cJSON *data = cJSON_GetObjectItemCaseSensitive(root, "data");
    if (!data || !cJSON_IsObject(data))
        return fail(c, IX_E_MISSING, "data", "data object is required");

    if (ix->type == IX_COMPONENT) {
        int64_t ct = 0;
        if (!get_str(c, data, "custom_id", "data.custom_id", true, 1, IX_CUSTOM_ID_MAX,
                     &ix->custom_id) ||
            !get_int(c, data, "component_type", "data.component_type", true, 1, 64, &ct))
            return false;
        ix->component_type = (int)ct;
        const cJSON *vals, *v;
        if (!get_array(c, data, "values", "data.values", IX_MAX_VALUES, "values", &vals))
            return false;
        cJSON_ArrayForEach(v, vals)
        {
            size_t chars;
            if (!cJSON_IsString(v) || !v->valuestring)
                return fail(c, IX_E_TYPE, "data.values[]", "values must be strings");
            if (!util_utf8_valid(v->valuestring, strlen(v->valuestring), &chars))
                return fail(c, IX_E_UTF8, "data.values[]", "value is not valid UTF-8");
            if (chars > 100) return fail(c, IX_E_LENGTH, "data.values[]", "value longer than 100");
            ix->values[ix->nvalues++] = arena_dup(c, v->valuestring);
        }
        const cJSON *msg = cJSON_GetObjectItemCaseSensitive(root, "message");
        if (cJSON_IsObject(msg) &&
            !get_snowflake(c, msg, "id", "message.id", false, &ix->message_id))
            return false;
        return true;
    }

    if (ix->type == IX_MODAL_SUBMIT) return parse_modal(c, root, data);

    /* Application command or autocomplete. */
    int64_t ctype = 1;
    if (!get_snowflake(c, data, "id", "data.id", true, &ix->command_id) ||
        !get_str(c, data, "name", "data.name", true, 1, IX_NAME_MAX, &ix->command_name) ||
        !get_int(c, data, "type", "data.type", false, 1, 3, &ctype))
        return false;
    if (ctype != 1)
        return fail(c, IX_E_UNSUPPORTED, "data.type", "only slash commands are handled");
    if (!parse_options(c, cJSON_GetObjectItemCaseSensitive(data, "options"), "data.options", 0,
                       ix->type == IX_AUTOCOMPLETE) ||
        !parse_attachments(c, cJSON_GetObjectItemCaseSensitive(data, "resolved")))
        return false;
    for (unsigned i = 0; i < ix->noptions; i++) {
        const ix_option *o = &ix->options[i];
        if (o->type == IX_OPT_ATTACHMENT && o->has_value && !ix_attachment_by_id(ix, o->id))
            return fail(c, IX_E_MISSING, "data.resolved.attachments",
                        "attachment option \"%s\" has no resolved attachment", o->name);
    }
    return true;
}

size_t ix_parse_need(size_t len)
{
    /* the arena holds unescaped copies of the payload's strings: never more than its bytes */
    return sizeof(ix_interaction) + len + 256;
}

static bool not_an_object(ix_error *err)
{
    pctx c = {.err = err};
    return fail(&c, IX_E_JSON, "", "not a JSON object");
}

static bool out_of_memory(ix_error *err)
{
    pctx c = {.err = err};
    return fail(&c, IX_E_TOO_LARGE, "", "out of memory");
}

/* The interaction of a parsed root into ix (zeroed, ix_parse_need(len) bytes); false with err. */
static bool fill(ix_interaction *ix, const cJSON *root, size_t len, ix_error *err)
{
    pctx c = {.err = err, .ix = ix};
    if (!cJSON_IsObject(root)) return not_an_object(err);
    c.arena = (char *)(ix + 1);
    c.cap = ix_parse_need(len) - sizeof *ix;
    return parse_root(&c, root);
}

/* The checks before any parsing: false with err set. */
static bool input_ok(const char *json, size_t len, ix_error *err)
{
    if (err) memset(err, 0, sizeof *err);
    pctx c = {.err = err};
    if (!json || len == 0) return fail(&c, IX_E_JSON, "", "empty payload");
    if (len > IX_INPUT_MAX)
        return fail(&c, IX_E_TOO_LARGE, "", "payload of %zu bytes exceeds %u", len, IX_INPUT_MAX);
    return true;
}

ix_interaction *ix_parse(const char *json, size_t len, ix_error *err)
{
    if (!input_ok(json, len, err)) return NULL;
    cJSON *root = cJSON_ParseWithLength(json, len);
    if (!cJSON_IsObject(root)) {
        cJSON_Delete(root);
        not_an_object(err);
        return NULL;
    }
    ix_interaction *ix = calloc(1, ix_parse_need(len));
    if (!ix) {
        cJSON_Delete(root);
        out_of_memory(err);
        return NULL;
    }
    bool ok = fill(ix, root, len, err);
    cJSON_Delete(root);
    if (!ok) {
        free(ix);
        return NULL;
    }
    return ix;
}

/* The interaction of root (NULL when the payload was not a JSON object) into s's block. */
static ix_interaction *fill_scratch(ix_scratch *s, const cJSON *root, size_t len, ix_error *err)
{
    if (!cJSON_IsObject(root)) {
        not_an_object(err);
        return NULL;
    }
    size_t need = ix_parse_need(len);
    if (need > s->cap) {
        void *p = realloc(s->block, need);
        if (!p) {
            out_of_memory(err);
            return NULL;
        }
        s->block = p;
        s->cap = need;
    }
    /* only the struct needs zeroing: its string arena is written before it is read */
    ix_interaction *ix = s->block;
    memset(ix, 0, sizeof *ix);
    return fill(ix, root, len, err) ? ix : NULL;
}

ix_interaction *ix_parse_scratch(ix_scratch *s, const char *json, size_t len, ix_error *err)
{
    if (!input_ok(json, len, err)) return NULL;
    if (!s->tree && !(s->tree = calloc(1, sizeof *s->tree))) {
        out_of_memory(err);
        return NULL;
    }
    /* The scope holds cJSON's tree and nothing else: fill copies every string it keeps into
     * the block, so the tree may go with the scope. */
    util_cjarena_begin(s->tree);
    cJSON *root = cJSON_ParseWithLength(json, len);
    ix_interaction *ix = fill_scratch(s, root, len, err);
    /* a tree all in the arena goes with the scope; values that fell back to malloc need it */
    if (!util_cjarena_clean(s->tree)) cJSON_Delete(root);
    util_cjarena_end(s->tree);
    return ix;
}

void ix_scratch_free(ix_scratch *s)
{
    free(s->block);
    s->block = NULL;
    s->cap = 0;
    if (s->tree) util_cjarena_free(s->tree);
    free(s->tree);
    s->tree = NULL;
}

void ix_free(ix_interaction *ix)
{
    free(ix);
}

/* ---- accessors ---------------------------------------------------------------------------- */

const char *ix_field_value(const ix_interaction *ix, const char *custom_id)
{
    for (unsigned i = 0; i < ix->nfields; i++)
        if (strcmp(ix->fields[i].custom_id, custom_id) == 0) return ix->fields[i].value;
    return NULL;
}

const ix_option *ix_opt(const ix_interaction *ix, const char *name)
{
    for (unsigned i = 0; i < ix->noptions; i++)
        if (strcmp(ix->options[i].name, name) == 0) return &ix->options[i];
    return NULL;
}

const char *ix_opt_str(const ix_interaction *ix, const char *name)
{
    const ix_option *o = ix_opt(ix, name);
    return o && o->has_value ? o->str : NULL;
}

bool ix_opt_int(const ix_interaction *ix, const char *name, int64_t *out)
{
    const ix_option *o = ix_opt(ix, name);
    if (!o || !o->has_value || o->type != IX_OPT_INTEGER) return false;
    if (o->str && ix->type == IX_AUTOCOMPLETE && o->number != floor(o->number)) return false;
    *out = o->integer;
    return true;
}

bool ix_opt_number(const ix_interaction *ix, const char *name, double *out)
{
    const ix_option *o = ix_opt(ix, name);
    if (!o || !o->has_value || (o->type != IX_OPT_NUMBER && o->type != IX_OPT_INTEGER))
        return false;
    *out = o->number;
    return true;
}

bool ix_opt_bool(const ix_interaction *ix, const char *name, bool *out)
{
    const ix_option *o = ix_opt(ix, name);
    if (!o || !o->has_value || o->type != IX_OPT_BOOLEAN || o->str) return false;
    *out = o->boolean;
    return true;
}

const ix_attachment *ix_attachment_by_id(const ix_interaction *ix, uint64_t id)
{
    for (unsigned i = 0; i < ix->nattachments; i++)
        if (ix->attachments[i].id == id) return &ix->attachments[i];
    return NULL;
}

const ix_attachment *ix_opt_attachment(const ix_interaction *ix, const char *name)
{
    const ix_option *o = ix_opt(ix, name);
    if (!o || !o->has_value || o->type != IX_OPT_ATTACHMENT) return NULL;
    return ix_attachment_by_id(ix, o->id);
}

const ix_option *ix_focused(const ix_interaction *ix)
{
    for (unsigned i = 0; i < ix->noptions; i++)
        if (ix->options[i].focused) return &ix->options[i];
    return NULL;
}

bool ix_has_permissions(const ix_interaction *ix, uint64_t bits)
{
    if (!ix->has_permissions) return false;
    if (ix->permissions & IX_PERM_ADMINISTRATOR) return true;
    return (ix->permissions & bits) == bits;
}

bool ix_has_role(const ix_interaction *ix, uint64_t role_id)
{
    for (unsigned i = 0; i < ix->nroles; i++)
        if (ix->roles[i] == role_id) return true;
    return false;
}
