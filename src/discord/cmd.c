/*
 * The command table and its JSON form, and the validator of command arrays (see cmd.h).
 */
#include "discord/cmd.h"

#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "util/util_dec.h"
#include "util/util_json.h"
#include "util/util_utf8.h"

#define MAX_SAFE 9007199254740991.0 /* 2^53 - 1 */

static const cmd_option_def stats_opts[] = {
    {.type = CMD_OPT_INTEGER,
     .name = "days",
     .description = "How many days back (default 7)",
     .has_min = true,
     .min = 1,
     .has_max = true,
     .max = 365},
};

/* ---- moderation (administrators and the bot-manager role; checked by the router) ---------- */

static const cmd_str_choice severity_choices[] = {
    {"low", "low"},
    {"medium", "medium"},
    {"high", "high"},
};
static const cmd_str_choice kind_choices[] = {
    {"banned words", "word"},
    {"patterns", "regex"},
    {"context rules", "context"},
};

#define OPT_TEXT(nm, desc, req, maxlen)                                                            \
    {                                                                                              \
        .type = CMD_OPT_STRING, .name = nm, .description = desc, .required = req, .min_length = 1, \
        .max_length = maxlen                                                                       \
    }
#define OPT_USER(desc, req)                                                                        \
    {                                                                                              \
        .type = CMD_OPT_USER, .name = "user", .description = desc, .required = req                 \
    }
#define SUB(nm, desc, opts, n)                                                                     \
    {                                                                                              \
        .type = CMD_OPT_SUB_COMMAND, .name = nm, .description = desc, .sub = opts, .nsub = n       \
    }
#define GROUP(nm, desc, subs, n)                                                                   \
    {                                                                                              \
        .type = CMD_OPT_SUB_COMMAND_GROUP, .name = nm, .description = desc, .sub = subs, .nsub = n \
    }

static const cmd_option_def word_opts[] = {OPT_TEXT("word", "A word or phrase", true, 100)};
static const cmd_option_def regex_add_opts[] = {
    OPT_TEXT("name", "A short name for the pattern", true, 100),
    OPT_TEXT("pattern", "A PCRE2 regular expression (matched on lowercase, accent-free text)", true,
             500),
    OPT_TEXT("description", "What it blocks", false, 200),
    {.type = CMD_OPT_STRING,
     .name = "severity",
     .description = "How serious a match is (default medium)",
     .str_choices = severity_choices,
     .nstr_choices = 3},
};
static const cmd_option_def regex_remove_opts[] = {
    OPT_TEXT("name", "The pattern's name", true, 100)};
static const cmd_option_def context_add_opts[] = {
    OPT_TEXT("trigger", "The word the rule is about", true, 100),
    OPT_TEXT("allowed", "Comma-separated words it may appear next to (only these)", false, 400),
    OPT_TEXT("disallowed", "Comma-separated words it may never appear next to", false, 400),
    OPT_TEXT("description", "Why", false, 200),
};
static const cmd_option_def context_remove_opts[] = {
    OPT_TEXT("trigger", "The rule's trigger word", true, 100)};
static const cmd_option_def word_subs[] = {
    SUB("add", "Ban a word or phrase", word_opts, 1),
    SUB("remove", "Allow a banned word again", word_opts, 1),
};
static const cmd_option_def regex_subs[] = {
    SUB("add", "Block prompts matching a regular expression", regex_add_opts, 4),
    SUB("remove", "Remove a pattern", regex_remove_opts, 1),
};
static const cmd_option_def context_subs[] = {
    SUB("add", "Allow a word only next to some words, or never next to others", context_add_opts,
        4),
    SUB("remove", "Remove a context rule", context_remove_opts, 1),
};
static const cmd_option_def list_opts[] = {
    {.type = CMD_OPT_STRING,
     .name = "kind",
     .description = "Only this kind of rule",
     .str_choices = kind_choices,
     .nstr_choices = 3},
};
static const cmd_option_def filter_opts[] = {
    GROUP("word", "Banned words and phrases", word_subs, 2),
    GROUP("regex", "Blocked regular expressions", regex_subs, 2),
    GROUP("context", "Context rules", context_subs, 2),
    SUB("list", "Show the content filter's rules", list_opts, 1),
};
static const cmd_option_def ban_opts[] = {
    OPT_USER("Who to ban from the bot", true),
    OPT_TEXT("reason", "Why (shown to the user)", false, 200),
    OPT_TEXT("duration", "How long: 30m, 12h, 7d, 2w (default: permanent)", false, 20),
};
static const cmd_option_def unban_opts[] = {OPT_USER("Who to unban", true)};
static const cmd_option_def banned_opts[] = {
    {.type = CMD_OPT_INTEGER,
     .name = "page",
     .description = "Page of the list (default 1)",
     .has_min = true,
     .min = 1,
     .has_max = true,
     .max = 1000},
};
static const cmd_option_def warnings_show_opts[] = {
    OPT_USER("Whose warnings (default: yours; others need moderation rights)", false)};
static const cmd_option_def warnings_clear_opts[] = {OPT_USER("Whose warnings to clear", true)};
static const cmd_option_def warnings_opts[] = {
    SUB("show", "Show content-filter warnings", warnings_show_opts, 1),
    SUB("clear", "Clear a user's warnings (moderators)", warnings_clear_opts, 1),
};

static const cmd_option_def lorainfo_opts[] = {
    {.type = CMD_OPT_STRING,
     .name = "name",
     .description = "One LoRA (default: browse them all)",
     .autocomplete = true,
     .max_length = 100},
};

static const cmd_option_def queue_opts[] = {
    SUB("show", "Your jobs and where each one is", NULL, 0),
    SUB("clear", "Cancel every waiting job (administrators and bot managers)", NULL, 0),
};
static const cmd_str_choice level_choices[] = {
    {"high", "high"}, {"normal", "normal"}, {"low", "low"}};
static const cmd_option_def priority_opts[] = {
    OPT_USER("Whose priority", true),
    {.type = CMD_OPT_STRING,
     .name = "level",
     .description = "high, normal or low (default: show the current one)",
     .str_choices = level_choices,
     .nstr_choices = 3},
};
static const cmd_option_def cancel_opts[] = {
    OPT_USER("Whose job (default: yours; others need moderation rights)", false)};

static const cmd_def table[] = {
    {CMD_QUEUE, "Show the generation queue, or clear it (administrators and bot managers)",
     queue_opts, 2},
    {CMD_CANCEL, "Cancel one of your waiting or running jobs", cancel_opts, 1},
    {CMD_STATS, "Show usage statistics", stats_opts, 1},
    {CMD_RESET_STATS, "Reset all usage statistics (administrators and bot managers)", NULL, 0},
    {CMD_FILTER, "Manage the content filter (administrators and bot managers)", filter_opts, 4},
    {CMD_BAN, "Ban a user from the bot (administrators and bot managers)", ban_opts, 3},
    {CMD_UNBAN, "Lift a user's ban (administrators and bot managers)", unban_opts, 1},
    {CMD_BANNED, "List the users banned from the bot (administrators and bot managers)",
     banned_opts, 1},
    {CMD_WARNINGS, "Content-filter warnings", warnings_opts, 2},
    {CMD_LORAINFO, "Browse the LoRA styles this bot offers", lorainfo_opts, 1},
    {CMD_PRIORITY, "A user's job priority: high, normal or low (administrators and bot managers)",
     priority_opts, 2},
};

const cmd_def *cmd_table(unsigned *count)
{
    *count = sizeof table / sizeof table[0];
    return table;
}

const cmd_def *cmd_find(const char *name)
{
    for (size_t i = 0; i < sizeof table / sizeof table[0]; i++)
        if (strcmp(table[i].name, name) == 0) return &table[i];
    return NULL;
}

const cmd_option_def *cmd_find_option(const cmd_def *c, const char *name)
{
    for (unsigned i = 0; c && i < c->noptions; i++)
        if (strcmp(c->options[i].name, name) == 0) return &c->options[i];
    return NULL;
}

bool cmd_resolution_autocomplete(unsigned nlabels)
{
    return nlabels == 0 || nlabels > CMD_CHOICES_MAX;
}

int cmd_register_path(uint64_t app_id, uint64_t guild_id, char *buf, size_t cap)
{
    int n = guild_id ? snprintf(buf, cap, "/applications/%" PRIu64 "/guilds/%" PRIu64 "/commands",
                                app_id, guild_id)
                     : snprintf(buf, cap, "/applications/%" PRIu64 "/commands", app_id);
    return (n < 0 || (size_t)n >= cap) ? -1 : n;
}

static int seterr(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int seterr(char *err, size_t errlen, const char *fmt, ...)
{
    if (err && errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return -1;
}

static void add_options(cJSON *o, const cmd_option_def *defs, unsigned n, const char *const *labels,
                        unsigned nlabels, bool autoc)
{
    if (n == 0) return;
    cJSON *opts = cJSON_AddArrayToObject(o, "options");
    for (unsigned i = 0; i < n; i++) {
        const cmd_option_def *od = &defs[i];
        cJSON *x = cJSON_CreateObject();
        cJSON_AddItemToArray(opts, x);
        cJSON_AddNumberToObject(x, "type", od->type);
        cJSON_AddStringToObject(x, "name", od->name);
        cJSON_AddStringToObject(x, "description", od->description);
        if (od->type == CMD_OPT_SUB_COMMAND || od->type == CMD_OPT_SUB_COMMAND_GROUP) {
            add_options(x, od->sub, od->nsub, labels, nlabels, autoc);
            continue;
        }
        if (od->required) cJSON_AddTrueToObject(x, "required");
        if (od->min_length) cJSON_AddNumberToObject(x, "min_length", od->min_length);
        if (od->max_length) cJSON_AddNumberToObject(x, "max_length", od->max_length);
        if (od->has_min) cJSON_AddNumberToObject(x, "min_value", od->min);
        if (od->has_max) cJSON_AddNumberToObject(x, "max_value", od->max);
        if (od->autocomplete || (od->resolution && autoc)) cJSON_AddTrueToObject(x, "autocomplete");
        if (od->resolution && !autoc) {
            cJSON *ch = cJSON_AddArrayToObject(x, "choices");
            for (unsigned k = 0; k < nlabels; k++) {
                cJSON *cc = cJSON_CreateObject();
                cJSON_AddStringToObject(cc, "name", labels[k]);
                cJSON_AddStringToObject(cc, "value", labels[k]);
                cJSON_AddItemToArray(ch, cc);
            }
        }
        if (od->nchoices) {
            cJSON *ch = cJSON_AddArrayToObject(x, "choices");
            for (unsigned k = 0; k < od->nchoices; k++) {
                cJSON *cc = cJSON_CreateObject();
                cJSON_AddStringToObject(cc, "name", od->choices[k].name);
                cJSON_AddNumberToObject(cc, "value", (double)od->choices[k].value);
                cJSON_AddItemToArray(ch, cc);
            }
        }
        if (od->nstr_choices) {
            cJSON *ch = cJSON_AddArrayToObject(x, "choices");
            for (unsigned k = 0; k < od->nstr_choices; k++) {
                cJSON *cc = cJSON_CreateObject();
                cJSON_AddStringToObject(cc, "name", od->str_choices[k].name);
                cJSON_AddStringToObject(cc, "value", od->str_choices[k].value);
                cJSON_AddItemToArray(ch, cc);
            }
        }
    }
}

char *cmd_table_json_dms(const char *const *labels, unsigned nlabels, cmd_dms_fn dms_allowed,
                         void *ctx, char *err, size_t errlen)
{
    return cmd_table_json_all(NULL, 0, labels, nlabels, dms_allowed, ctx, err, errlen);
}

char *cmd_table_json_all(const cmd_def *const *declared, unsigned ndeclared,
                         const char *const *labels, unsigned nlabels, cmd_dms_fn dms_allowed,
                         void *ctx, char *err, size_t errlen)
{
    bool autoc = cmd_resolution_autocomplete(nlabels);
    if (!autoc) {
        for (unsigned i = 0; i < nlabels; i++) {
            size_t chars;
            if (!labels[i] || !util_utf8_valid(labels[i], strlen(labels[i]), &chars) || chars < 1 ||
                chars > 100) {
                seterr(err, errlen, "resolution label %u must be 1..100 characters of UTF-8", i);
                return NULL;
            }
            for (unsigned k = 0; k < i; k++)
                if (strcmp(labels[k], labels[i]) == 0) {
                    seterr(err, errlen, "resolution label \"%s\" is listed twice", labels[i]);
                    return NULL;
                }
        }
    }
    cJSON *arr = cJSON_CreateArray();
    size_t ntable = sizeof table / sizeof table[0];
    /* The declared generation commands first (the operator's order), then the bot's own. */
    for (size_t c = 0; c < ndeclared + ntable; c++) {
        const cmd_def *d = c < ndeclared ? declared[c] : &table[c - ndeclared];
        cJSON *o = cJSON_CreateObject();
        cJSON_AddItemToArray(arr, o);
        cJSON_AddStringToObject(o, "name", d->name);
        cJSON_AddNumberToObject(o, "type", 1);
        cJSON_AddStringToObject(o, "description", d->description);
        /* Guild installs. Guild channels always (the bot relies on roles and channels); the
         * bot's DMs (context 1) only where the operator allows the command there. */
        cJSON *ctxs = cJSON_AddArrayToObject(o, "contexts");
        cJSON_AddItemToArray(ctxs, cJSON_CreateNumber(0));
        if (dms_allowed && dms_allowed(ctx, d->name))
            cJSON_AddItemToArray(ctxs, cJSON_CreateNumber(1));
        cJSON *it = cJSON_AddArrayToObject(o, "integration_types");
        cJSON_AddItemToArray(it, cJSON_CreateNumber(0));
        add_options(o, d->options, d->noptions, labels, nlabels, autoc);
    }
    char *s = util_json_print_free(arr);
    if (cmd_validate_json(s, strlen(s), err, errlen) != 0) {
        free(s);
        return NULL;
    }
    return s;
}

char *cmd_table_json(const char *const *labels, unsigned nlabels, char *err, size_t errlen)
{
    return cmd_table_json_dms(labels, nlabels, NULL, NULL, err, errlen);
}

/* One command's registration object, built exactly like the table's (declared commands and
 * the tests that compare a declaration with the built-in entry use it). */
char *cmd_def_json(const cmd_def *d, const char *const *labels, unsigned nlabels)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "name", d->name);
    cJSON_AddNumberToObject(o, "type", 1);
    cJSON_AddStringToObject(o, "description", d->description);
    add_options(o, d->options, d->noptions, labels, nlabels, cmd_resolution_autocomplete(nlabels));
    return util_json_print_free(o);
}

/* ---- validation ------------------------------------------------------------------------------ */

typedef struct vctx {
    char *err;
    size_t errlen;
    size_t chars; /* per-command character total */
} vctx;

/* Names: 1..32 characters, no spaces or uppercase ASCII; ASCII limited to [a-z0-9_-]. */
static int check_name(vctx *v, const cJSON *o, const char *where)
{
    const cJSON *n = cJSON_GetObjectItemCaseSensitive(o, "name");
    size_t chars;
    if (!cJSON_IsString(n) || !n->valuestring)
        return seterr(v->err, v->errlen, "%s: name must be a string", where);
    const char *s = n->valuestring;
    if (!util_utf8_valid(s, strlen(s), &chars) || chars < 1 || chars > CMD_NAME_MAX)
        return seterr(v->err, v->errlen, "%s: name \"%s\" must be 1..32 characters", where, s);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p >= 0x80) continue; /* letters of other scripts are allowed */
        bool ok = (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '_' || *p == '-';
        if (!ok)
            return seterr(v->err, v->errlen,
                          "%s: name \"%s\" may hold only lowercase letters, digits, '-' and '_'",
                          where, s);
    }
    v->chars += chars;
    return 0;
}

static int check_text(vctx *v, const cJSON *o, const char *key, const char *where, size_t lo,
                      size_t hi, bool required)
{
    const cJSON *d = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!d || cJSON_IsNull(d))
        return required ? seterr(v->err, v->errlen, "%s: %s is required", where, key) : 0;
    size_t chars;
    if (!cJSON_IsString(d) || !util_utf8_valid(d->valuestring, strlen(d->valuestring), &chars) ||
        chars < lo || chars > hi)
        return seterr(v->err, v->errlen, "%s: %s must be a string of %zu..%zu characters", where,
                      key, lo, hi);
    v->chars += chars;
    return 0;
}

static bool is_int(const cJSON *x)
{
    return cJSON_IsNumber(x) && isfinite(x->valuedouble) &&
           x->valuedouble == floor(x->valuedouble) && fabs(x->valuedouble) <= MAX_SAFE + 1;
}

static int check_options(vctx *v, const cJSON *opts, const char *where, int depth);

static int check_option(vctx *v, const cJSON *o, const char *where, int depth, bool *seen_optional)
{
    if (!cJSON_IsObject(o)) return seterr(v->err, v->errlen, "%s: must be an object", where);
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(o, "type");
    if (!is_int(t) || t->valuedouble < 1 || t->valuedouble > 11)
        return seterr(v->err, v->errlen, "%s: type must be 1..11", where);
    int type = (int)t->valuedouble;
    if (check_name(v, o, where) || check_text(v, o, "description", where, 1, 100, true)) return -1;

    const cJSON *req = cJSON_GetObjectItemCaseSensitive(o, "required");
    if (req && !cJSON_IsBool(req))
        return seterr(v->err, v->errlen, "%s: required must be a boolean", where);
    bool required = cJSON_IsTrue(req);
    if (type <= 2) {
        if (required)
            return seterr(v->err, v->errlen, "%s: sub-commands cannot be required", where);
        if (depth >= 2 || (type == 2 && depth >= 1))
            return seterr(v->err, v->errlen, "%s: sub-commands nested too deep", where);
        char sub[160];
        /* a path deeper than the buffer is cut, which only shortens error messages */
        int n = snprintf(sub, sizeof sub, "%.140s.options", where);
        (void)n;
        return check_options(v, cJSON_GetObjectItemCaseSensitive(o, "options"), sub, depth + 1);
    }
    if (required && *seen_optional)
        return seterr(v->err, v->errlen, "%s: required options must come before optional ones",
                      where);
    if (!required) *seen_optional = true;

    bool numeric = type == CMD_OPT_INTEGER || type == CMD_OPT_NUMBER;
    const cJSON *ch = cJSON_GetObjectItemCaseSensitive(o, "choices");
    const cJSON *ac = cJSON_GetObjectItemCaseSensitive(o, "autocomplete");
    if (ac && !cJSON_IsBool(ac))
        return seterr(v->err, v->errlen, "%s: autocomplete must be a boolean", where);
    if (cJSON_IsTrue(ac) && !(numeric || type == CMD_OPT_STRING))
        return seterr(v->err, v->errlen, "%s: autocomplete needs a string or number option", where);
    if (ch && !cJSON_IsNull(ch)) {
        if (!(numeric || type == CMD_OPT_STRING))
            return seterr(v->err, v->errlen, "%s: choices need a string or number option", where);
        if (cJSON_IsTrue(ac))
            return seterr(v->err, v->errlen, "%s: autocomplete cannot be combined with choices",
                          where);
        if (!cJSON_IsArray(ch) || cJSON_GetArraySize(ch) > CMD_CHOICES_MAX)
            return seterr(v->err, v->errlen, "%s: choices must be an array of at most 25", where);
        int k = 0;
        const cJSON *c;
        cJSON_ArrayForEach(c, ch)
        {
            char cw[200];
            snprintf(cw, sizeof cw, "%s.choices[%d]", where, k++);
            if (!cJSON_IsObject(c) || check_text(v, c, "name", cw, 1, 100, true))
                return seterr(v->err, v->errlen, "%s: name must be 1..100 characters", cw);
            const cJSON *val = cJSON_GetObjectItemCaseSensitive(c, "value");
            if (type == CMD_OPT_STRING) {
                size_t chars;
                if (!cJSON_IsString(val) ||
                    !util_utf8_valid(val->valuestring, strlen(val->valuestring), &chars) ||
                    chars < 1 || chars > 100)
                    return seterr(v->err, v->errlen, "%s: value must be a string of 1..100", cw);
                v->chars += chars;
            } else if (type == CMD_OPT_INTEGER
                           ? !is_int(val)
                           : !(cJSON_IsNumber(val) && isfinite(val->valuedouble))) {
                return seterr(v->err, v->errlen, "%s: value must match the option type", cw);
            }
        }
    }
    const cJSON *mn = cJSON_GetObjectItemCaseSensitive(o, "min_value");
    const cJSON *mx = cJSON_GetObjectItemCaseSensitive(o, "max_value");
    if ((mn || mx) && !numeric)
        return seterr(v->err, v->errlen, "%s: min/max_value need an integer or number option",
                      where);
    for (int i = 0; i < 2; i++) {
        const cJSON *x = i ? mx : mn;
        if (!x) continue;
        if (!cJSON_IsNumber(x) || fabs(x->valuedouble) > MAX_SAFE + 1 ||
            (type == CMD_OPT_INTEGER && !is_int(x)))
            return seterr(v->err, v->errlen, "%s: %s out of range", where,
                          i ? "max_value" : "min_value");
    }
    if (mn && mx && mn->valuedouble > mx->valuedouble)
        return seterr(v->err, v->errlen, "%s: min_value exceeds max_value", where);
    const cJSON *mnl = cJSON_GetObjectItemCaseSensitive(o, "min_length");
    const cJSON *mxl = cJSON_GetObjectItemCaseSensitive(o, "max_length");
    if ((mnl || mxl) && type != CMD_OPT_STRING)
        return seterr(v->err, v->errlen, "%s: min/max_length need a string option", where);
    if (mnl && (!is_int(mnl) || mnl->valuedouble < 0 || mnl->valuedouble > 6000))
        return seterr(v->err, v->errlen, "%s: min_length must be 0..6000", where);
    if (mxl && (!is_int(mxl) || mxl->valuedouble < 1 || mxl->valuedouble > 6000))
        return seterr(v->err, v->errlen, "%s: max_length must be 1..6000", where);
    if (mnl && mxl && mnl->valuedouble > mxl->valuedouble)
        return seterr(v->err, v->errlen, "%s: min_length exceeds max_length", where);
    return 0;
}

static int check_options(vctx *v, const cJSON *opts, const char *where, int depth)
{
    if (!opts || cJSON_IsNull(opts)) return 0;
    if (!cJSON_IsArray(opts) || cJSON_GetArraySize(opts) > CMD_OPTIONS_MAX)
        return seterr(v->err, v->errlen, "%s: must be an array of at most 25 options", where);
    bool seen_optional = false;
    int i = 0;
    const cJSON *o;
    cJSON_ArrayForEach(o, opts)
    {
        char ow[160];
        snprintf(ow, sizeof ow, "%s[%d]", where, i);
        if (check_option(v, o, ow, depth, &seen_optional)) return -1;
        const char *name = cJSON_GetStringValue(cJSON_GetObjectItem(o, "name"));
        int k = 0;
        const cJSON *p;
        cJSON_ArrayForEach(p, opts)
        {
            if (k++ >= i) break;
            const char *pn = cJSON_GetStringValue(cJSON_GetObjectItem(p, "name"));
            if (pn && strcmp(pn, name) == 0)
                return seterr(v->err, v->errlen, "%s: option name \"%s\" used twice", ow, name);
        }
        i++;
    }
    return 0;
}

int cmd_validate_json(const char *json, size_t len, char *err, size_t errlen)
{
    if (!json || len == 0 || len > 1024 * 1024)
        return seterr(err, errlen, "body empty or larger than 1 MiB");
    cJSON *arr = cJSON_ParseWithLength(json, len);
    if (!arr || !cJSON_IsArray(arr)) {
        cJSON_Delete(arr);
        return seterr(err, errlen, "body must be a JSON array of commands");
    }
    vctx v = {.err = err, .errlen = errlen};
    int chat = 0, idx = 0, rc = 0;
    const cJSON *c;
    cJSON_ArrayForEach(c, arr)
    {
        char where[48];
        snprintf(where, sizeof where, "commands[%d]", idx);
        if (!cJSON_IsObject(c)) {
            rc = seterr(err, errlen, "%s: must be an object", where);
            break;
        }
        const cJSON *t = cJSON_GetObjectItemCaseSensitive(c, "type");
        int type = 1;
        if (t && !cJSON_IsNull(t)) {
            if (!is_int(t) || t->valuedouble < 1 || t->valuedouble > 4) {
                rc = seterr(err, errlen, "%s: type must be 1..4", where);
                break;
            }
            type = (int)t->valuedouble;
        }
        v.chars = 0;
        if (check_name(&v, c, where)) {
            rc = -1;
            break;
        }
        if (type == 1) {
            chat++;
            char ow[64];
            snprintf(ow, sizeof ow, "%s.options", where);
            if (check_text(&v, c, "description", where, 1, CMD_DESCRIPTION_MAX, true) ||
                check_options(&v, cJSON_GetObjectItemCaseSensitive(c, "options"), ow, 0)) {
                rc = -1;
                break;
            }
        }
        if (v.chars > CMD_TOTAL_CHARS_MAX) {
            rc = seterr(err, errlen,
                        "%s: %zu characters in names, descriptions and choices "
                        "(max %d)",
                        where, v.chars, CMD_TOTAL_CHARS_MAX);
            break;
        }
        const cJSON *dmp = cJSON_GetObjectItemCaseSensitive(c, "default_member_permissions");
        uint64_t perms;
        if (dmp && !cJSON_IsNull(dmp) &&
            (!cJSON_IsString(dmp) || !util_dec_u64_canon(dmp->valuestring, &perms))) {
            rc = seterr(err, errlen, "%s: default_member_permissions must be a decimal string",
                        where);
            break;
        }
        const char *name = cJSON_GetStringValue(cJSON_GetObjectItem(c, "name"));
        int k = 0;
        const cJSON *p;
        cJSON_ArrayForEach(p, arr)
        {
            if (k++ >= idx) break;
            const cJSON *pt = cJSON_GetObjectItem(p, "type");
            int ptype = cJSON_IsNumber(pt) ? (int)pt->valuedouble : 1;
            const char *pn = cJSON_GetStringValue(cJSON_GetObjectItem(p, "name"));
            if (ptype == type && pn && strcmp(pn, name) == 0) {
                rc = seterr(err, errlen, "%s: command name \"%s\" used twice", where, name);
                break;
            }
        }
        if (rc) break;
        idx++;
    }
    if (!rc && chat > CMD_CHAT_INPUT_MAX)
        rc = seterr(err, errlen, "%d slash commands (max %d)", chat, CMD_CHAT_INPUT_MAX);
    cJSON_Delete(arr);
    return rc;
}
