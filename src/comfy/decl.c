/*
 * Command declarations: loader, validator and command-table entries (see decl.h). Owned by the
 * comfy layer; the router and runner only read loaded declarations.
 */
#include "comfy/decl.h"

#include <dirent.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "util/util_file.h"
#include "util/util_json.h"
#include "util/util_utf8.h"

#define DECL_FILE_BYTES (256u << 10) /* a declaration is a few kB; anything larger is a mistake */
#define LIST_FILE_BYTES (1u << 20)   /* autocomplete lists */
#define MAX_SAFE 9007199254740991.0  /* 2^53 - 1: seeds and integers stay exact in JSON */

static const char *const type_names[] = {"string",  "integer",    "number",
                                         "boolean", "attachment", "choice"};
static const char *const output_names[] = {"image", "video", "animation"};

static const struct {
    const char *kind, *class_type, *input;
} object_info[] = {
    {"checkpoint", "CheckpointLoaderSimple", "ckpt_name"},
    {"unet", "UNETLoader", "unet_name"},
    {"lora", "LoraLoader", "lora_name"},
    {"vae", "VAELoader", "vae_name"},
    {"clip", "CLIPLoader", "clip_name"},
    {"upscale_model", "UpscaleModelLoader", "model_name"},
};

const char *decl_type_name(decl_type t)
{
    return (unsigned)t < sizeof type_names / sizeof type_names[0] ? type_names[t] : "?";
}

const char *decl_output_name(decl_output o)
{
    return (unsigned)o < sizeof output_names / sizeof output_names[0] ? output_names[o] : "?";
}

bool decl_object_info_field(const char *kind, const char **class_type, const char **input)
{
    for (size_t i = 0; kind && i < sizeof object_info / sizeof object_info[0]; i++)
        if (strcmp(kind, object_info[i].kind) == 0) {
            if (class_type) *class_type = object_info[i].class_type;
            if (input) *input = object_info[i].input;
            return true;
        }
    return false;
}

typedef struct lctx {
    decl_command *d;
    const char *dir;
    char *err;
    size_t errlen;
    const wf_workflow *wf;
} lctx;

static int fail(lctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Every message starts with the declaration's file name; fmt says the key (and the node). */
static int fail(lctx *c, const char *fmt, ...)
{
    int n = snprintf(c->err, c->errlen, "%s: ", c->d->file);
    if (n < 0 || (size_t)n >= c->errlen) return -1;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->err + n, c->errlen - (size_t)n, fmt, ap);
    va_end(ap);
    return -1;
}

/* Only these keys are known, so a misspelt key is an error and not a silently ignored one. */
static int check_keys(lctx *c, const cJSON *o, const char *where, const char *const *keys,
                      size_t nkeys)
{
    const cJSON *k;
    cJSON_ArrayForEach(k, o)
    {
        bool known = false;
        for (size_t i = 0; i < nkeys && !known; i++)
            known = strcmp(k->string, keys[i]) == 0;
        if (!known) return fail(c, "%s\"%s\": unknown key", where, k->string);
    }
    return 0;
}

/* A string of lo..hi characters (UTF-8) copied into out. */
static int get_text(lctx *c, const cJSON *o, const char *key, const char *where, bool required,
                    size_t lo, size_t hi, char *out, size_t cap)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!v) return required ? fail(c, "%s\"%s\": missing (required)", where, key) : 0;
    size_t chars;
    if (!cJSON_IsString(v) || !util_utf8_valid(v->valuestring, strlen(v->valuestring), &chars) ||
        chars < lo || chars > hi || strlen(v->valuestring) >= cap)
        return fail(c, "%s\"%s\": must be a string of %zu..%zu characters", where, key, lo, hi);
    snprintf(out, cap, "%s", v->valuestring);
    return 0;
}

/* Discord's command and option names: 1..32, lowercase ASCII letters, digits, '-', '_'. */
static int check_name(lctx *c, const char *name, const char *where)
{
    for (const char *p = name; *p; p++) {
        bool ok = (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '_' || *p == '-';
        if (!ok)
            return fail(c,
                        "%s\"name\": \"%s\" may hold only lowercase letters, digits, '-' and "
                        "'_' (Discord refuses it otherwise)",
                        where, name);
    }
    return 0;
}

/* A file named by a declaration: plain name in the same folder, never a path out of it. */
static int sibling(lctx *c, const char *name, const char *where, char *out, size_t cap)
{
    if (!*name || strchr(name, '/') || strchr(name, '\\') || strcmp(name, ".") == 0 ||
        strcmp(name, "..") == 0)
        return fail(c, "%s: \"%s\" must be a file name in the declaration's folder", where, name);
    int n = snprintf(out, cap, "%s/%s", c->dir, name);
    if (n < 0 || (size_t)n >= cap) return fail(c, "%s: \"%s\" is too long", where, name);
    return 0;
}

static const char *node_class(const cJSON *node)
{
    return util_json_str(node, "class_type", "?");
}

static const char *node_title(const cJSON *node)
{
    return util_json_str(cJSON_GetObjectItemCaseSensitive(node, "_meta"), "title", NULL);
}

static bool is_link(const cJSON *v)
{
    return cJSON_IsArray(v) && cJSON_GetArraySize(v) == 2 &&
           cJSON_IsString(cJSON_GetArrayItem(v, 0)) && cJSON_IsNumber(cJSON_GetArrayItem(v, 1));
}

/* Does the template's literal at this input take the option's values? */
static bool literal_fits(const decl_option *o, const cJSON *lit)
{
    switch (o->type) {
    case DECL_STRING:
    case DECL_ATTACHMENT:
        return cJSON_IsString(lit);
    case DECL_INTEGER:
    case DECL_NUMBER:
        return cJSON_IsNumber(lit);
    case DECL_BOOLEAN:
        return cJSON_IsBool(lit);
    case DECL_CHOICE:
        return o->int_choices ? cJSON_IsNumber(lit) : cJSON_IsString(lit);
    }
    return false;
}

/* One "patch" target: selects nodes like a mapping does, checks every selected node has the
 * input as a literal of the option's type. */
static int add_target(lctx *c, decl_option *o, const cJSON *t, const char *where)
{
    static const char *const keys[] = {"node", "class_type", "title", "input", "scale"};
    if (!cJSON_IsObject(t)) return fail(c, "%sa target must be an object", where);
    if (check_keys(c, t, where, keys, 5)) return -1;
    const cJSON *g = c->wf->graph;
    const cJSON *jn = cJSON_GetObjectItemCaseSensitive(t, "node");
    const cJSON *jc = cJSON_GetObjectItemCaseSensitive(t, "class_type");
    const cJSON *jt = cJSON_GetObjectItemCaseSensitive(t, "title");
    const cJSON *ji = cJSON_GetObjectItemCaseSensitive(t, "input");
    const cJSON *js = cJSON_GetObjectItemCaseSensitive(t, "scale");
    if ((jn && !cJSON_IsString(jn)) || (jc && !cJSON_IsString(jc)) || (jt && !cJSON_IsString(jt)) ||
        (!jn && !jc && !jt))
        return fail(c, "%sa target needs \"node\", \"class_type\" or \"title\" (strings)", where);
    if (!cJSON_IsString(ji) || !*ji->valuestring || strlen(ji->valuestring) >= WF_NAME_MAX)
        return fail(c, "%s\"input\": must name the node input to set", where);
    double scale = 1.0;
    if (js) {
        if (!cJSON_IsNumber(js) || !isfinite(js->valuedouble) || js->valuedouble == 0)
            return fail(c, "%s\"scale\": must be a non-zero number", where);
        if (o->type != DECL_INTEGER && o->type != DECL_NUMBER &&
            !(o->type == DECL_CHOICE && o->int_choices))
            return fail(c, "%s\"scale\": only numeric options are scaled", where);
        scale = js->valuedouble;
    }
    unsigned matched = 0;
    const cJSON *node;
    cJSON_ArrayForEach(node, g)
    {
        if (jn && strcmp(node->string, jn->valuestring) != 0) continue;
        if (jc && strcmp(node_class(node), jc->valuestring) != 0) continue;
        if (jt) {
            const char *title = node_title(node);
            if (!title || strcmp(title, jt->valuestring) != 0) continue;
        }
        const cJSON *in = cJSON_GetObjectItemCaseSensitive(
            cJSON_GetObjectItemCaseSensitive(node, "inputs"), ji->valuestring);
        if (!in)
            return fail(c, "%snode %s (%s) has no input \"%s\" in %s", where, node->string,
                        node_class(node), ji->valuestring, c->d->workflow);
        if (is_link(in))
            return fail(c,
                        "%snode %s (%s) input \"%s\" is a link to another node, not a value "
                        "(patch the node it comes from)",
                        where, node->string, node_class(node), ji->valuestring);
        if (!literal_fits(o, in))
            return fail(c, "%snode %s (%s) input \"%s\" does not hold a %s value", where,
                        node->string, node_class(node), ji->valuestring,
                        o->type == DECL_CHOICE ? (o->int_choices ? "number" : "string")
                                               : decl_type_name(o->type));
        if (o->ntargets == WF_MAX_TARGETS)
            return fail(c, "%smore than %d nodes are patched", where, WF_MAX_TARGETS);
        wf_target *w = &o->targets[o->ntargets++];
        snprintf(w->node, sizeof w->node, "%s", node->string);
        snprintf(w->input, sizeof w->input, "%s", ji->valuestring);
        w->scale = scale;
        matched++;
    }
    if (matched == 0) {
        if (jn)
            return fail(c, "%snode %s%s%s does not exist in %s", where, jn->valuestring,
                        jc ? " with class_type " : "", jc ? jc->valuestring : "", c->d->workflow);
        return fail(c, "%sno node with%s%s%s%s%s in %s", where, jc ? " class_type " : "",
                    jc ? jc->valuestring : "", jt ? " title \"" : "", jt ? jt->valuestring : "",
                    jt ? "\"" : "", c->d->workflow);
    }
    return 0;
}

/* "param": which parameter of the mapping the option fills, and whether its type fits. */
static int parse_param(lctx *c, decl_option *o, const char *p, const char *where)
{
    const wf_workflow *wf = c->wf;
    if (strcmp(p, "resolution") == 0) {
        if (!o->choices_ratios)
            return fail(c,
                        "%s\"param\": \"resolution\" needs \"type\": \"choice\" with "
                        "\"choices\": \"ratios\"",
                        where);
        if (!wf_has_param(wf, WF_P_WIDTH) || !wf_has_param(wf, WF_P_HEIGHT))
            return fail(c, "%s\"param\": %s maps no \"width\" and \"height\"", where,
                        c->d->mapping);
        o->param = DECL_P_RESOLUTION;
        return 0;
    }
    if (strcmp(p, "lora") == 0) {
        if (o->type != DECL_STRING || o->source != DECL_SRC_LORAS)
            return fail(c,
                        "%s\"param\": \"lora\" needs \"type\": \"string\" with "
                        "\"autocomplete\": \"loras\"",
                        where);
        if (wf->lora_mode == WF_LORA_NONE)
            return fail(c, "%s\"param\": %s has no \"loras\" section", where, c->d->mapping);
        o->param = DECL_P_LORA;
        return 0;
    }
    if (strcmp(p, "enhance") == 0) {
        if (o->type != DECL_INTEGER && !(o->type == DECL_CHOICE && o->int_choices))
            return fail(c, "%s\"param\": \"enhance\" takes an integer option (a level 1..10)",
                        where);
        if (!wf_has_param(wf, WF_P_PROMPT))
            return fail(c, "%s\"param\": \"enhance\": %s maps no \"prompt\" to enhance", where,
                        c->d->mapping);
        if (o->type == DECL_INTEGER) {
            if (!o->has_min) o->min = DECL_ENHANCE_MIN;
            if (!o->has_max) o->max = DECL_ENHANCE_MAX;
            o->has_min = o->has_max = true;
            if (o->min < DECL_ENHANCE_MIN || o->max > DECL_ENHANCE_MAX)
                return fail(c, "%s\"param\": \"enhance\" levels lie within %d..%d", where,
                            DECL_ENHANCE_MIN, DECL_ENHANCE_MAX);
        }
        for (unsigned k = 0; o->type == DECL_CHOICE && k < o->nchoices; k++)
            if (o->choices[k].ival < DECL_ENHANCE_MIN || o->choices[k].ival > DECL_ENHANCE_MAX)
                return fail(c, "%s\"choices\": \"enhance\" levels lie within %d..%d", where,
                            DECL_ENHANCE_MIN, DECL_ENHANCE_MAX);
        if (o->has_default && (o->def_num < o->min || o->def_num > o->max) &&
            o->type == DECL_INTEGER)
            return fail(c, "%s\"default\": outside min..max", where);
        o->param = DECL_P_ENHANCE;
        return 0;
    }
    if (strcmp(p, "lora_strength") == 0) {
        if (o->type != DECL_NUMBER)
            return fail(c, "%s\"param\": \"lora_strength\" takes a number option", where);
        o->param = DECL_P_LORA_STRENGTH;
        return 0;
    }
    static const struct {
        wf_param p;
        decl_type t1, t2;
    } fits[] = {
        {WF_P_PROMPT, DECL_STRING, DECL_STRING},
        {WF_P_SEED, DECL_INTEGER, DECL_INTEGER},
        {WF_P_UPSCALE, DECL_INTEGER, DECL_CHOICE},
        {WF_P_STRENGTH1, DECL_NUMBER, DECL_NUMBER},
        {WF_P_STRENGTH2, DECL_NUMBER, DECL_NUMBER},
        {WF_P_IMAGE1, DECL_ATTACHMENT, DECL_ATTACHMENT},
        {WF_P_IMAGE2, DECL_ATTACHMENT, DECL_ATTACHMENT},
    };
    for (size_t i = 0; i < sizeof fits / sizeof fits[0]; i++) {
        if (strcmp(p, wf_param_name(fits[i].p)) != 0) continue;
        if (o->type != fits[i].t1 && o->type != fits[i].t2)
            return fail(c, "%s\"param\": \"%s\" takes a%s %s option, not %s", where, p,
                        fits[i].t1 == DECL_INTEGER || fits[i].t1 == DECL_ATTACHMENT ? "n" : "",
                        decl_type_name(fits[i].t1), decl_type_name(o->type));
        if (o->type == DECL_CHOICE && !o->int_choices)
            return fail(c, "%s\"param\": \"%s\" takes integer choices", where, p);
        if (!wf_has_param(wf, fits[i].p))
            return fail(c, "%s\"param\": %s maps no \"%s\"", where, c->d->mapping, p);
        o->param = DECL_P_MAPPED;
        o->wf_param = fits[i].p;
        return 0;
    }
    return fail(c,
                "%s\"param\": unknown \"%s\" (known: prompt, seed, upscale_factor, strength1, "
                "strength2, image1, image2, resolution, lora, lora_strength, enhance; or use "
                "\"patch\")",
                where, p);
}

static int parse_choices(lctx *c, decl_option *o, const cJSON *ch, const char *where)
{
    if (cJSON_IsString(ch)) {
        if (strcmp(ch->valuestring, "ratios") != 0)
            return fail(c, "%s\"choices\": a string must be \"ratios\" (the resolutions)", where);
        o->choices_ratios = true;
        return 0;
    }
    int n = cJSON_GetArraySize(ch);
    if (!cJSON_IsArray(ch) || n < 1 || n > CMD_CHOICES_MAX)
        return fail(c, "%s\"choices\": must be \"ratios\" or a list of 1..%d choices", where,
                    CMD_CHOICES_MAX);
    int i = 0;
    const cJSON *x;
    cJSON_ArrayForEach(x, ch)
    {
        char w[256];
        snprintf(w, sizeof w, "%s\"choices\"[%d]", where, i);
        static const char *const keys[] = {"name", "value"};
        if (!cJSON_IsObject(x)) return fail(c, "%s: must be {\"name\", \"value\"}", w);
        decl_choice *dc = &o->choices[i];
        char ww[272];
        snprintf(ww, sizeof ww, "%s.", w);
        if (check_keys(c, x, ww, keys, 2)) return -1;
        if (get_text(c, x, "name", ww, true, 1, 100, dc->name, sizeof dc->name)) return -1;
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(x, "value");
        bool is_int = cJSON_IsNumber(v) && v->valuedouble == floor(v->valuedouble) &&
                      fabs(v->valuedouble) <= MAX_SAFE;
        if (!is_int && !cJSON_IsString(v))
            return fail(c, "%s.\"value\": must be an integer or a string", w);
        if (i == 0) o->int_choices = is_int;
        if (is_int != o->int_choices)
            return fail(c, "%s.\"value\": all values must be integers, or all strings", w);
        if (is_int)
            dc->ival = (long long)v->valuedouble;
        else {
            size_t chars;
            if (!util_utf8_valid(v->valuestring, strlen(v->valuestring), &chars) || chars < 1 ||
                chars > 100)
                return fail(c, "%s.\"value\": must be 1..100 characters", w);
            snprintf(dc->sval, sizeof dc->sval, "%s", v->valuestring);
        }
        for (int k = 0; k < i; k++)
            if (strcmp(o->choices[k].name, dc->name) == 0)
                return fail(c, "%s.\"name\": \"%s\" is listed twice", w, dc->name);
        i++;
    }
    o->nchoices = (unsigned)n;
    return 0;
}

/* An autocomplete list file: one entry a line, 1..100 characters, at most 10 000 lines. Its
 * entries are kept: they are what the option offers and the only values it accepts. */
static int load_list_file(lctx *c, decl_option *o, const char *name, const char *where)
{
    char path[1024], ferr[300];
    if (sibling(c, name, where, path, sizeof path)) return -1;
    size_t len;
    char *text = util_file_read(path, LIST_FILE_BYTES, &len, ferr, sizeof ferr);
    if (!text) return fail(c, "%s: %s", where, ferr);
    unsigned lines = 0, lineno = 0;
    int rc = 0;
    for (char *p = text; *p && rc == 0;) {
        char *nl = strchr(p, '\n');
        size_t n = nl ? (size_t)(nl - p) : strlen(p);
        if (n && p[n - 1] == '\r') n--;
        lineno++;
        size_t chars;
        if (n > 0) {
            if (!util_utf8_valid(p, n, &chars) || chars > 100)
                rc = fail(c, "%s: %s line %u must be 1..100 characters of UTF-8", where, name,
                          lineno);
            else if (lines < 10000) {
                char **grown = realloc(o->list, (lines + 1) * sizeof *grown);
                char *e = grown ? malloc(n + 1) : NULL;
                if (grown) o->list = grown;
                if (!e) {
                    rc = fail(c, "%s: out of memory", where);
                } else {
                    memcpy(e, p, n);
                    e[n] = '\0';
                    o->list[lines] = e;
                    o->nlist = lines + 1;
                }
            }
            lines++;
        }
        p = nl ? nl + 1 : p + strlen(p);
    }
    if (rc == 0 && (lines == 0 || lines > 10000))
        rc = fail(c, "%s: %s must list 1..10000 entries, one a line", where, name);
    free(text);
    return rc;
}

static int parse_autocomplete(lctx *c, decl_option *o, const cJSON *a, const char *where)
{
    if (!cJSON_IsString(a)) return fail(c, "%s\"autocomplete\": must be a string", where);
    const char *s = a->valuestring;
    if (o->type != DECL_STRING)
        return fail(c, "%s\"autocomplete\": only string options autocomplete", where);
    if (strcmp(s, "loras") == 0) {
        o->source = DECL_SRC_LORAS;
        return 0;
    }
    if (strncmp(s, "file:", 5) == 0) {
        char w[256];
        snprintf(w, sizeof w, "%s\"autocomplete\"", where);
        if (load_list_file(c, o, s + 5, w)) return -1;
        o->source = DECL_SRC_FILE;
        snprintf(o->source_arg, sizeof o->source_arg, "%s", s + 5);
        return 0;
    }
    if (strncmp(s, "object_info:", 12) == 0 && decl_object_info_field(s + 12, NULL, NULL)) {
        o->source = DECL_SRC_OBJECT_INFO;
        snprintf(o->source_arg, sizeof o->source_arg, "%s", s + 12);
        return 0;
    }
    return fail(c,
                "%s\"autocomplete\": unknown source \"%.60s\" (known: loras, file:<name>, "
                "object_info:checkpoint|unet|lora|vae|clip|upscale_model)",
                where, s);
}

static int parse_default(lctx *c, decl_option *o, const cJSON *v, const char *where)
{
    o->has_default = true;
    switch (o->type) {
    case DECL_STRING:
        if (!cJSON_IsString(v) || strlen(v->valuestring) >= sizeof o->def_str)
            return fail(c, "%s\"default\": must be a string", where);
        snprintf(o->def_str, sizeof o->def_str, "%s", v->valuestring);
        return 0;
    case DECL_INTEGER:
        if (!cJSON_IsNumber(v) || v->valuedouble != floor(v->valuedouble))
            return fail(c, "%s\"default\": must be an integer", where);
        o->def_num = v->valuedouble;
        break;
    case DECL_NUMBER:
        if (!cJSON_IsNumber(v)) return fail(c, "%s\"default\": must be a number", where);
        o->def_num = v->valuedouble;
        break;
    case DECL_BOOLEAN:
        if (!cJSON_IsBool(v)) return fail(c, "%s\"default\": must be true or false", where);
        o->def_num = cJSON_IsTrue(v);
        return 0;
    case DECL_ATTACHMENT:
        return fail(c, "%s\"default\": an attachment has no default", where);
    case DECL_CHOICE:
        if (o->choices_ratios) {
            if (!cJSON_IsString(v) || strlen(v->valuestring) >= sizeof o->def_str)
                return fail(c, "%s\"default\": must be a resolution label", where);
            snprintf(o->def_str, sizeof o->def_str, "%s", v->valuestring);
            return 0;
        }
        for (unsigned i = 0; i < o->nchoices; i++) {
            const decl_choice *ch = &o->choices[i];
            if (o->int_choices && cJSON_IsNumber(v) && v->valuedouble == (double)ch->ival) {
                o->def_num = v->valuedouble;
                return 0;
            }
            if (!o->int_choices && cJSON_IsString(v) && strcmp(v->valuestring, ch->sval) == 0) {
                snprintf(o->def_str, sizeof o->def_str, "%s", ch->sval);
                return 0;
            }
        }
        return fail(c, "%s\"default\": is not one of the choices' values", where);
    }
    if ((o->has_min && o->def_num < o->min) || (o->has_max && o->def_num > o->max))
        return fail(c, "%s\"default\": %g is outside min..max", where, o->def_num);
    return 0;
}

static int parse_option(lctx *c, decl_option *o, const cJSON *j, int idx)
{
    static const char *const keys[] = {
        "name",    "type",       "description", "required",     "default", "min",  "max",
        "choices", "min_length", "max_length",  "autocomplete", "param",   "patch"};
    char where[160];
    snprintf(where, sizeof where, "options[%d].", idx);
    if (!cJSON_IsObject(j)) return fail(c, "options[%d]: must be an object", idx);
    if (check_keys(c, j, where, keys, sizeof keys / sizeof keys[0])) return -1;
    if (get_text(c, j, "name", where, true, 1, CMD_NAME_MAX, o->name, sizeof o->name)) return -1;
    snprintf(where, sizeof where, "options[%d] \"%s\": ", idx, o->name);
    if (check_name(c, o->name, where)) return -1;
    if (get_text(c, j, "description", where, true, 1, CMD_DESCRIPTION_MAX, o->description,
                 sizeof o->description))
        return -1;
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(j, "type");
    int type = -1;
    for (size_t i = 0; cJSON_IsString(t) && i < sizeof type_names / sizeof type_names[0]; i++)
        if (strcmp(t->valuestring, type_names[i]) == 0) type = (int)i;
    if (type < 0)
        return fail(c,
                    "%s\"type\": must be string, integer, number, boolean, attachment or "
                    "choice",
                    where);
    o->type = (decl_type)type;
    const cJSON *r = cJSON_GetObjectItemCaseSensitive(j, "required");
    if (r && !cJSON_IsBool(r)) return fail(c, "%s\"required\": must be true or false", where);
    o->required = cJSON_IsTrue(r);

    const cJSON *mn = cJSON_GetObjectItemCaseSensitive(j, "min");
    const cJSON *mx = cJSON_GetObjectItemCaseSensitive(j, "max");
    if (mn || mx) {
        if (o->type != DECL_INTEGER && o->type != DECL_NUMBER)
            return fail(c, "%s\"%s\": only integer and number options have bounds", where,
                        mn ? "min" : "max");
        const cJSON *b[2] = {mn, mx};
        for (int i = 0; i < 2; i++) {
            if (!b[i]) continue;
            const char *k = i ? "max" : "min";
            if (!cJSON_IsNumber(b[i]) || fabs(b[i]->valuedouble) > MAX_SAFE)
                return fail(c, "%s\"%s\": must be a number within ±2^53", where, k);
            if (o->type == DECL_INTEGER && b[i]->valuedouble != floor(b[i]->valuedouble))
                return fail(c, "%s\"%s\": must be an integer", where, k);
        }
        o->has_min = mn != NULL;
        o->has_max = mx != NULL;
        o->min = mn ? mn->valuedouble : 0;
        o->max = mx ? mx->valuedouble : 0;
        if (mn && mx && o->min > o->max) return fail(c, "%s\"min\": is greater than max", where);
    }
    const cJSON *ln[2] = {cJSON_GetObjectItemCaseSensitive(j, "min_length"),
                          cJSON_GetObjectItemCaseSensitive(j, "max_length")};
    for (int i = 0; i < 2; i++) {
        if (!ln[i]) continue;
        const char *k = i ? "max_length" : "min_length";
        if (o->type != DECL_STRING) return fail(c, "%s\"%s\": only string options", where, k);
        double v = cJSON_IsNumber(ln[i]) ? ln[i]->valuedouble : -1;
        if (v != floor(v) || v < i || v > 6000)
            return fail(c, "%s\"%s\": must be an integer %d..6000", where, k, i);
        if (i)
            o->max_length = (unsigned)v;
        else
            o->min_length = (unsigned)v;
    }
    if (o->max_length && o->min_length > o->max_length)
        return fail(c, "%s\"min_length\": is greater than max_length", where);

    const cJSON *ch = cJSON_GetObjectItemCaseSensitive(j, "choices");
    if (o->type == DECL_CHOICE) {
        if (!ch) return fail(c, "%s\"choices\": missing (a choice option needs them)", where);
        if (parse_choices(c, o, ch, where)) return -1;
    } else if (ch) {
        return fail(c, "%s\"choices\": only \"type\": \"choice\" options have choices", where);
    }
    const cJSON *a = cJSON_GetObjectItemCaseSensitive(j, "autocomplete");
    if (a && parse_autocomplete(c, o, a, where)) return -1;
    const cJSON *dv = cJSON_GetObjectItemCaseSensitive(j, "default");
    if (dv && parse_default(c, o, dv, where)) return -1;
    if (dv && o->required) return fail(c, "%s\"default\": a required option has no default", where);

    const cJSON *p = cJSON_GetObjectItemCaseSensitive(j, "param");
    const cJSON *pt = cJSON_GetObjectItemCaseSensitive(j, "patch");
    if ((p != NULL) == (pt != NULL))
        return fail(c,
                    "%sneeds exactly one of \"param\" (a mapping parameter) and \"patch\" "
                    "(node inputs)",
                    where);
    if (p) {
        if (!cJSON_IsString(p)) return fail(c, "%s\"param\": must be a string", where);
        return parse_param(c, o, p->valuestring, where);
    }
    if (o->choices_ratios)
        return fail(c, "%s\"patch\": resolution choices go through \"param\": \"resolution\"",
                    where);
    if (o->type == DECL_ATTACHMENT)
        return fail(c,
                    "%s\"patch\": an attachment goes through \"param\": \"image1\"/\"image2\" "
                    "(the runner uploads it first)",
                    where);
    char w[256];
    if (cJSON_IsObject(pt)) {
        snprintf(w, sizeof w, "%s\"patch\": ", where);
        return add_target(c, o, pt, w);
    }
    if (!cJSON_IsArray(pt) || cJSON_GetArraySize(pt) < 1)
        return fail(c, "%s\"patch\": must be a target or a non-empty list of targets", where);
    int i = 0;
    const cJSON *x;
    cJSON_ArrayForEach(x, pt)
    {
        snprintf(w, sizeof w, "%s\"patch\"[%d]: ", where, i++);
        if (add_target(c, o, x, w)) return -1;
    }
    return 0;
}

/* The mapping is loaded by the workflow module, which validates it fully (and names its file
 * and node); its kind only decides which parameters it must have, so the least demanding kind
 * that fits is used: a prompt, or else one input image. */
static int load_mapping(lctx *c, wf_workflow **out)
{
    char path[1024], ferr[600];
    if (sibling(c, c->d->mapping, "\"mapping\"", path, sizeof path)) return -1;
    char *text = util_file_read(path, 1 << 20, NULL, ferr, sizeof ferr);
    if (!text) return fail(c, "\"mapping\": %s", ferr);
    cJSON *m = util_json_parse_named(text, path, ferr, sizeof ferr);
    free(text);
    if (!m) return fail(c, "\"mapping\": %s", ferr);
    const char *wfn = util_json_str(m, "workflow", "");
    const cJSON *in = cJSON_GetObjectItemCaseSensitive(m, "inputs");
    bool has_prompt = cJSON_GetObjectItemCaseSensitive(in, "prompt") != NULL;
    bool has_image = cJSON_GetObjectItemCaseSensitive(in, "image1") != NULL;
    int same = strcmp(wfn, c->d->workflow) == 0;
    char wfcopy[DECL_FILE_MAX];
    snprintf(wfcopy, sizeof wfcopy, "%s", wfn);
    cJSON_Delete(m);
    if (!same)
        return fail(c, "\"workflow\": %s runs \"%s\", not \"%s\"", c->d->mapping, wfcopy,
                    c->d->workflow);
    if (!has_prompt && !has_image)
        return fail(c, "\"mapping\": %s maps neither \"prompt\" nor \"image1\"", c->d->mapping);
    *out = wf_load(has_prompt ? WF_VIDEO : WF_UPSCALE, path, ferr, sizeof ferr);
    if (!*out) return fail(c, "\"mapping\": %s", ferr);
    return 0;
}

/* The command-table entry: what discord/cmd.c sends to Discord for this command. */
static void build_cmd(decl_command *d)
{
    for (unsigned i = 0; i < d->noptions; i++) {
        const decl_option *o = &d->options[i];
        cmd_option_def *od = &d->cmd_opts[i];
        memset(od, 0, sizeof *od);
        od->name = o->name;
        od->description = o->description;
        od->required = o->required;
        static const cmd_opt_type wire[] = {CMD_OPT_STRING,  CMD_OPT_INTEGER,    CMD_OPT_NUMBER,
                                            CMD_OPT_BOOLEAN, CMD_OPT_ATTACHMENT, CMD_OPT_STRING};
        od->type = wire[o->type];
        od->has_min = o->has_min;
        od->has_max = o->has_max;
        od->min = o->min;
        od->max = o->max;
        od->min_length = o->min_length;
        od->max_length = o->max_length;
        od->autocomplete = o->source != DECL_SRC_NONE;
        /* Autocomplete values are names (LoRAs, model files) of at most 100 characters. */
        if (od->autocomplete && !od->max_length) od->max_length = 100;
        od->resolution = o->choices_ratios;
        if (o->type == DECL_CHOICE && !o->choices_ratios) {
            if (o->int_choices) {
                od->type = CMD_OPT_INTEGER;
                for (unsigned k = 0; k < o->nchoices; k++)
                    d->cmd_ichoices[i][k] =
                        (cmd_int_choice){o->choices[k].name, o->choices[k].ival};
                od->choices = d->cmd_ichoices[i];
                od->nchoices = o->nchoices;
            } else {
                for (unsigned k = 0; k < o->nchoices; k++)
                    d->cmd_schoices[i][k] =
                        (cmd_str_choice){o->choices[k].name, o->choices[k].sval};
                od->str_choices = d->cmd_schoices[i];
                od->nstr_choices = o->nchoices;
            }
        }
    }
    d->cmd.name = d->name;
    d->cmd.description = d->description;
    d->cmd.options = d->noptions ? d->cmd_opts : NULL;
    d->cmd.noptions = d->noptions;
    unsigned n = 0;
    for (unsigned i = 0; i < d->noptions; i++)
        if (d->options[i].param != DECL_P_ENHANCE) d->cmd_plain_opts[n++] = d->cmd_opts[i];
    d->cmd_plain = d->cmd;
    d->cmd_plain.options = n ? d->cmd_plain_opts : NULL;
    d->cmd_plain.noptions = n;
}

static int parse_decl(lctx *c, const cJSON *j)
{
    static const char *const keys[] = {"name",   "description", "workflow",        "mapping",
                                       "output", "trigger",     "generation_type", "options"};
    decl_command *d = c->d;
    if (!cJSON_IsObject(j)) return fail(c, "not a JSON object");
    if (check_keys(c, j, "", keys, sizeof keys / sizeof keys[0])) return -1;
    if (get_text(c, j, "name", "", true, 1, CMD_NAME_MAX, d->name, sizeof d->name)) return -1;
    if (check_name(c, d->name, "")) return -1;
    /* The bot's own commands (the static table) keep their names: the router would route a
     * declaration of the same name to the wrong handler, and Discord refuses two. */
    if (cmd_find(d->name))
        return fail(c, "\"name\": \"%s\" is one of the bot's own commands", d->name);
    if (get_text(c, j, "description", "", true, 1, CMD_DESCRIPTION_MAX, d->description,
                 sizeof d->description) ||
        get_text(c, j, "workflow", "", true, 1, DECL_FILE_MAX - 1, d->workflow,
                 sizeof d->workflow) ||
        get_text(c, j, "mapping", "", true, 1, DECL_FILE_MAX - 1, d->mapping, sizeof d->mapping))
        return -1;
    char path[1024];
    if (sibling(c, d->workflow, "\"workflow\"", path, sizeof path)) return -1;
    const cJSON *out = cJSON_GetObjectItemCaseSensitive(j, "output");
    int ok = -1;
    for (size_t i = 0; cJSON_IsString(out) && i < 3; i++)
        if (strcmp(out->valuestring, output_names[i]) == 0) ok = (int)i;
    if (ok < 0) return fail(c, "\"output\": must be image, video or animation");
    d->output = (decl_output)ok;
    static const char *const default_gen[] = {"standard", "video", "animation"};
    snprintf(d->generation_type, sizeof d->generation_type, "%s", default_gen[ok]);
    if (cJSON_GetObjectItemCaseSensitive(j, "generation_type")) {
        if (get_text(c, j, "generation_type", "", true, 1, 20, d->generation_type,
                     sizeof d->generation_type) ||
            check_name(c, d->generation_type, "\"generation_type\": "))
            return -1;
    }
    const cJSON *tr = cJSON_GetObjectItemCaseSensitive(j, "trigger");
    if (tr) {
        if (!cJSON_IsString(tr) ||
            (strcmp(tr->valuestring, "command") != 0 && strcmp(tr->valuestring, "button") != 0))
            return fail(c, "\"trigger\": must be \"command\" (default) or \"button\"");
        d->button = strcmp(tr->valuestring, "button") == 0;
    }

    wf_workflow *wf = NULL;
    if (load_mapping(c, &wf)) return -1;
    c->wf = wf;
    int rc = 0;
    const cJSON *opts = cJSON_GetObjectItemCaseSensitive(j, "options");
    int n = cJSON_GetArraySize(opts);
    if (opts && (!cJSON_IsArray(opts) || n > CMD_OPTIONS_MAX))
        rc = fail(c, "\"options\": must be a list of at most %d options", CMD_OPTIONS_MAX);
    bool optional_seen = false;
    unsigned nlora = 0, nstrength = 0;
    for (int i = 0; rc == 0 && i < n; i++) {
        decl_option *o = &d->options[i];
        rc = parse_option(c, o, cJSON_GetArrayItem(opts, i), i);
        if (rc) break;
        d->noptions = (unsigned)i + 1;
        for (int k = 0; k < i; k++)
            if (strcmp(d->options[k].name, o->name) == 0)
                rc = fail(c, "options[%d] \"%s\": \"name\": used twice", i, o->name);
        /* Discord refuses a required option after an optional one. */
        if (rc == 0 && o->required && optional_seen)
            rc = fail(c, "options[%d] \"%s\": \"required\": required options must come first", i,
                      o->name);
        optional_seen = optional_seen || !o->required;
        if (rc == 0 && o->param == DECL_P_MAPPED)
            for (int k = 0; k < i; k++)
                if (d->options[k].param == DECL_P_MAPPED && d->options[k].wf_param == o->wf_param)
                    rc = fail(c, "options[%d] \"%s\": \"param\": \"%s\" is set by \"%s\" already",
                              i, o->name, wf_param_name(o->wf_param), d->options[k].name);
        if (rc == 0 && o->param == DECL_P_ENHANCE)
            for (int k = 0; k < i; k++)
                if (d->options[k].param == DECL_P_ENHANCE)
                    rc = fail(c,
                              "options[%d] \"%s\": \"param\": \"enhance\" is set by \"%s\" already",
                              i, o->name, d->options[k].name);
        if (rc == 0 && o->param == DECL_P_LORA && ++nlora > wf->lora_max)
            rc = fail(c, "options[%d] \"%s\": \"param\": %s takes at most %u LoRAs", i, o->name,
                      d->mapping, wf->lora_max);
        /* the k-th lora_strength is the strength of the k-th lora option */
        if (rc == 0 && o->param == DECL_P_LORA_STRENGTH && ++nstrength > nlora)
            rc = fail(c,
                      "options[%d] \"%s\": \"param\": \"lora_strength\" number %u has no "
                      "\"lora\" option before it",
                      i, o->name, nstrength);
    }
    /* Images the mapping takes must be given: a template's example image is not the user's. */
    for (int p = WF_P_IMAGE1; rc == 0 && p <= WF_P_IMAGE2; p++) {
        if (!wf_has_param(wf, (wf_param)p)) continue;
        bool given = false;
        for (unsigned i = 0; i < d->noptions; i++)
            given = given || (d->options[i].param == DECL_P_MAPPED &&
                              d->options[i].wf_param == (wf_param)p && d->options[i].required);
        if (!given && !d->button)
            rc = fail(c, "\"options\": %s maps \"%s\" but no required attachment option fills it",
                      d->mapping, wf_param_name((wf_param)p));
    }
    c->wf = NULL;
    if (rc == 0) {
        build_cmd(d);
        d->wf = wf; /* the runner patches it for every job */
    } else {
        wf_free(wf);
    }
    return rc;
}

decl_command *decl_load_text(const char *name, const char *json, const char *dir, char *err,
                             size_t errlen)
{
    decl_command *d = calloc(1, sizeof *d);
    if (!d) {
        snprintf(err, errlen, "%s: out of memory", name);
        return NULL;
    }
    snprintf(d->file, sizeof d->file, "%s", name);
    lctx c = {.d = d, .dir = dir, .err = err, .errlen = errlen};
    char perr[600];
    cJSON *j = util_json_parse_named(json, name, perr, sizeof perr);
    if (!j) {
        snprintf(err, errlen, "%s", perr);
        free(d);
        return NULL;
    }
    int rc = parse_decl(&c, j);
    cJSON_Delete(j);
    if (rc) {
        decl_free(d);
        return NULL;
    }
    return d;
}

decl_command *decl_load(const char *path, char *err, size_t errlen)
{
    char *text = util_file_read(path, DECL_FILE_BYTES, NULL, err, errlen);
    if (!text) return NULL;
    char dir[1024];
    const char *slash = strrchr(path, '/');
    if (slash)
        snprintf(dir, sizeof dir, "%.*s", (int)(slash - path), path);
    else
        snprintf(dir, sizeof dir, ".");
    decl_command *d = decl_load_text(path, text, dir, err, errlen);
    free(text);
    return d;
}

void decl_free(decl_command *d)
{
    if (!d) return;
    for (unsigned i = 0; i < CMD_OPTIONS_MAX; i++) {
        for (unsigned k = 0; k < d->options[i].nlist; k++)
            free(d->options[i].list[k]);
        free(d->options[i].list);
    }
    wf_free(d->wf);
    free(d);
}

const decl_option *decl_find_option(const decl_command *d, const char *name)
{
    for (unsigned i = 0; d && name && i < d->noptions; i++)
        if (strcmp(d->options[i].name, name) == 0) return &d->options[i];
    return NULL;
}

const decl_option *decl_option_for(const decl_command *d, wf_param p)
{
    for (unsigned i = 0; d && i < d->noptions; i++)
        if (d->options[i].param == DECL_P_MAPPED && d->options[i].wf_param == p)
            return &d->options[i];
    return NULL;
}

unsigned decl_images(const decl_command *d)
{
    unsigned n = 0;
    for (unsigned i = 0; d && i < d->noptions; i++)
        n += d->options[i].param == DECL_P_MAPPED &&
             (d->options[i].wf_param == WF_P_IMAGE1 || d->options[i].wf_param == WF_P_IMAGE2);
    return n;
}

bool decl_list_has(const decl_option *o, const char *value)
{
    for (unsigned i = 0; o && value && i < o->nlist; i++)
        if (strcmp(o->list[i], value) == 0) return true;
    return false;
}

static bool integral(const decl_option *o)
{
    return o->type == DECL_INTEGER || (o->type == DECL_CHOICE && o->int_choices);
}

int decl_check_number(const decl_option *o, double v, char *err, size_t errlen)
{
    if (!isfinite(v) || fabs(v) > MAX_SAFE) {
        snprintf(err, errlen, "%s must be a number.", o->name);
        return -1;
    }
    if (integral(o) && v != floor(v)) {
        snprintf(err, errlen, "%s must be a whole number (got %g).", o->name, v);
        return -1;
    }
    if ((o->has_min && v < o->min) || (o->has_max && v > o->max)) {
        /* A number option's whole bounds read as numbers ("0.1 and 1.0", not "0.1 and 1"). */
        const char *f = integral(o) ? "%.0f" : "%.1f";
        char lo[40], hi[40];
        snprintf(lo, sizeof lo, o->min == floor(o->min) ? f : "%g", o->min);
        snprintf(hi, sizeof hi, o->max == floor(o->max) ? f : "%g", o->max);
        if (o->has_min && o->has_max)
            snprintf(err, errlen, "%s must be between %s and %s (got %g).", o->name, lo, hi, v);
        else
            snprintf(err, errlen, "%s must be at %s %s (got %g).", o->name,
                     o->has_min ? "least" : "most", o->has_min ? lo : hi, v);
        return -1;
    }
    return 0;
}

int decl_check_patch(const decl_command *d, const comfy_patch *p, char *err, size_t errlen)
{
    const decl_option *o = decl_find_option(d, p->option);
    if (!o || o->param != DECL_P_NONE) {
        snprintf(err, errlen, "/%s has no option \"%.32s\".", d->name, p->option);
        return -1;
    }
    bool wants_str = o->type == DECL_STRING || (o->type == DECL_CHOICE && !o->int_choices);
    if (wants_str != p->is_str || (p->is_str && !p->str)) {
        snprintf(err, errlen, "The %s option of /%s has a value of the wrong type.", o->name,
                 d->name);
        return -1;
    }
    if (o->type == DECL_CHOICE) {
        for (unsigned i = 0; i < o->nchoices; i++)
            if (o->int_choices ? (double)o->choices[i].ival == p->num
                               : strcmp(o->choices[i].sval, p->str) == 0)
                return 0;
        snprintf(err, errlen, "%s: pick one of the listed choices.", o->name);
        return -1;
    }
    if (o->type == DECL_BOOLEAN) {
        if (p->num == 0 || p->num == 1) return 0;
        snprintf(err, errlen, "%s must be true or false.", o->name);
        return -1;
    }
    if (!wants_str) return decl_check_number(o, p->num, err, errlen);
    size_t chars;
    if (!util_utf8_valid(p->str, strlen(p->str), &chars)) {
        snprintf(err, errlen, "%s is not valid UTF-8 text.", o->name);
        return -1;
    }
    if ((o->min_length && chars < o->min_length) || (o->max_length && chars > o->max_length) ||
        chars > 6000) {
        snprintf(err, errlen, "%s must be %u..%u characters (got %zu).", o->name, o->min_length,
                 o->max_length ? o->max_length : 6000, chars);
        return -1;
    }
    if (o->source == DECL_SRC_FILE && !decl_list_has(o, p->str)) {
        snprintf(err, errlen,
                 "Unknown %s \"%.100s\". Start typing in the %s option and pick one from the "
                 "list.",
                 o->name, p->str, o->name);
        return -1;
    }
    return 0;
}

/* x without the binary noise of a decimal scale (80 x 0.01 = 0.8000000000000000444): rounded to
 * 12 significant digits, more than any sampler setting has. */
static double scaled(double x)
{
    char buf[40];
    snprintf(buf, sizeof buf, "%.12g", x);
    return strtod(buf, NULL);
}

int decl_apply_patches(const decl_command *d, cJSON *graph, const comfy_patch *p, unsigned n,
                       char *err, size_t errlen)
{
    for (unsigned i = 0; i < n; i++) {
        const decl_option *o = decl_find_option(d, p[i].option);
        if (!o || o->param != DECL_P_NONE) {
            snprintf(err, errlen, "/%s has no option \"%s\" that patches the workflow", d->name,
                     p[i].option);
            return -1;
        }
        bool wants_str = o->type == DECL_STRING || (o->type == DECL_CHOICE && !o->int_choices);
        if (wants_str != p[i].is_str || (p[i].is_str && !p[i].str) ||
            (!p[i].is_str && !isfinite(p[i].num))) {
            snprintf(err, errlen, "the %s option of /%s has a value of the wrong kind", p[i].option,
                     d->name);
            return -1;
        }
        for (unsigned t = 0; t < o->ntargets; t++) {
            const wf_target *tg = &o->targets[t];
            cJSON *inputs = cJSON_GetObjectItemCaseSensitive(
                cJSON_GetObjectItemCaseSensitive(graph, tg->node), "inputs");
            cJSON *val;
            if (p[i].is_str)
                val = cJSON_CreateString(p[i].str);
            else if (o->type == DECL_BOOLEAN)
                val = cJSON_CreateBool(p[i].num != 0);
            else if (tg->scale == 1.0)
                val = cJSON_CreateNumber(p[i].num); /* an integer option stays an integer */
            else
                /* Scaled as declared: 80 (percent) x 0.01 is a denoise of 0.8, 5 (seconds) x 16
                 * is 80 frames. Whole results print as integers, so an INT input takes them. */
                val = cJSON_CreateNumber(scaled(p[i].num * tg->scale));
            if (!val || !inputs ||
                !cJSON_ReplaceItemInObjectCaseSensitive(inputs, tg->input, val)) {
                cJSON_Delete(val);
                snprintf(err, errlen, "cannot set node %s input %s", tg->node, tg->input);
                return -1;
            }
        }
    }
    return 0;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int decl_set_load(decl_set *set, const char *dir, char *err, size_t errlen)
{
    memset(set, 0, sizeof *set);
    DIR *dp = opendir(dir);
    if (!dp) {
        snprintf(err, errlen, "%s: cannot open the folder", dir);
        return -1;
    }
    char *names[DECL_MAX_COMMANDS + 1];
    unsigned n = 0;
    int rc = 0;
    struct dirent *e;
    while ((e = readdir(dp)) != NULL) {
        size_t len = strlen(e->d_name);
        if (len <= 9 || strcmp(e->d_name + len - 9, ".cmd.json") != 0) continue;
        if (n == DECL_MAX_COMMANDS) {
            snprintf(err, errlen, "%s: more than %d command declarations", dir, DECL_MAX_COMMANDS);
            rc = -1;
            break;
        }
        names[n] = strdup(e->d_name);
        if (!names[n]) {
            snprintf(err, errlen, "%s: out of memory", dir);
            rc = -1;
            break;
        }
        n++;
    }
    closedir(dp);
    if (rc == 0) qsort(names, n, sizeof names[0], cmp_str);
    for (unsigned i = 0; rc == 0 && i < n; i++) {
        char path[1024];
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        decl_command *d = decl_load(path, err, errlen);
        if (!d) {
            rc = -1;
            break;
        }
        const decl_command *other = decl_set_find(set, d->name);
        if (other) {
            snprintf(err, errlen, "%s: \"name\": \"%s\" is declared by %s already", path, d->name,
                     other->file);
            decl_free(d);
            rc = -1;
            break;
        }
        set->cmds[set->count++] = d;
    }
    for (unsigned i = 0; i < n; i++)
        free(names[i]);
    if (rc) decl_set_free(set);
    return rc;
}

void decl_set_free(decl_set *set)
{
    if (!set) return;
    for (unsigned i = 0; i < set->count; i++)
        decl_free(set->cmds[i]);
    memset(set, 0, sizeof *set);
}

const decl_command *decl_set_find(const decl_set *set, const char *name)
{
    for (unsigned i = 0; set && name && i < set->count; i++)
        if (strcmp(set->cmds[i]->name, name) == 0) return set->cmds[i];
    return NULL;
}

const decl_command *decl_set_button(const decl_set *set)
{
    for (unsigned i = 0; set && i < set->count; i++)
        if (set->cmds[i]->button) return set->cmds[i];
    return NULL;
}

unsigned decl_set_defs(const decl_set *set, const cmd_def **out, unsigned cap)
{
    unsigned n = 0;
    for (unsigned i = 0; set && i < set->count && n < cap; i++)
        if (!set->cmds[i]->button)
            out[n++] = set->without_enhance ? &set->cmds[i]->cmd_plain : &set->cmds[i]->cmd;
    return n;
}
