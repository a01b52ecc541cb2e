/* Loading, lookup and autocomplete of the LoRA catalogue (see loras.h). */
#include "comfy/loras.h"

#include <cjson/cJSON.h>
#include <ctype.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "util/util_file.h"
#include "util/util_json.h"

static bool ends_with(const char *s, const char *suffix)
{
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && strcasecmp(s + a - b, suffix) == 0;
}

/* The operator's link, shown to users as is: http(s) only, no blanks or control characters
 * (a link Discord would not render, or one that breaks the markdown around it). */
static bool url_ok(const char *u)
{
    size_t n = strlen(u);
    if (n > LORAS_URL_MAX || (strncmp(u, "https://", 8) != 0 && strncmp(u, "http://", 7) != 0))
        return false;
    for (const unsigned char *p = (const unsigned char *)u; *p; p++)
        if (*p <= 0x20 || *p == 0x7f || *p == '(' || *p == ')') return false;
    return true;
}

static bool file_ok(const char *f)
{
    size_t n = strlen(f);
    if (n == 0 || n > LORAS_FILE_MAX || f[0] == '/' || f[0] == '\\' || strstr(f, ".."))
        return false;
    for (const unsigned char *p = (const unsigned char *)f; *p; p++)
        if (*p < 0x20) return false;
    return ends_with(f, ".safetensors") || ends_with(f, ".ckpt") || ends_with(f, ".pt") ||
           ends_with(f, ".bin");
}

int loras_parse(loras_set *out, const char *json, const char *source, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    cJSON *root = util_json_parse_named(json, source, err, errlen);
    if (!root) return -1;
    int rc = -1;
    const cJSON *arr = cJSON_GetObjectItemCaseSensitive(root, "loras");
    bool legacy = false;
    if (!arr) {
        arr = cJSON_GetObjectItemCaseSensitive(root, "available_loras");
        legacy = true;
    }
    if (!cJSON_IsArray(arr)) {
        snprintf(err, errlen, "%s: missing array \"loras\"", source);
        goto out;
    }
    int n = cJSON_GetArraySize(arr);
    if (n > LORAS_MAX) {
        snprintf(err, errlen, "%s: more than %d LoRAs", source, LORAS_MAX);
        goto out;
    }
    out->items = calloc(n > 0 ? (size_t)n : 1, sizeof *out->items);
    if (!out->items) {
        snprintf(err, errlen, "%s: out of memory", source);
        goto out;
    }
    int idx = 0;
    const cJSON *e;
    cJSON_ArrayForEach(e, arr)
    {
        idx++;
        if (!cJSON_IsObject(e)) {
            snprintf(err, errlen, "%s: entry %d is not an object", source, idx);
            goto out;
        }
        const cJSON *active = cJSON_GetObjectItemCaseSensitive(e, "is_active");
        if (cJSON_IsFalse(active)) continue;
        const char *file = util_json_str(e, "file", NULL);
        const char *name = util_json_str(e, "name", NULL);
        const char *trig = util_json_str(e, legacy ? "add_prompt" : "trigger_words", NULL);
        if (!trig) trig = util_json_str(e, legacy ? "trigger_words" : "add_prompt", NULL);
        if (!file || !file_ok(file)) {
            snprintf(err, errlen,
                     "%s: entry %d: \"file\" must name a .safetensors/.ckpt/.pt/.bin file "
                     "inside the loras folder",
                     source, idx);
            goto out;
        }
        if (!name || !*name) name = file;
        if (strlen(name) > LORAS_NAME_MAX) {
            snprintf(err, errlen, "%s: entry %d: name longer than %d bytes", source, idx,
                     LORAS_NAME_MAX);
            goto out;
        }
        if (trig && strlen(trig) > LORAS_TRIGGER_MAX) {
            snprintf(err, errlen, "%s: entry %d (%s): trigger words longer than %d bytes", source,
                     idx, name, LORAS_TRIGGER_MAX);
            goto out;
        }
        const char *desc = util_json_str(e, "description", NULL);
        const char *url = util_json_str(e, "url", NULL);
        if (desc && strlen(desc) > LORAS_DESC_MAX) {
            snprintf(err, errlen, "%s: entry %d (%s): description longer than %d bytes", source,
                     idx, name, LORAS_DESC_MAX);
            goto out;
        }
        if (url && *url && !url_ok(url)) {
            snprintf(err, errlen,
                     "%s: entry %d (%s): url must be an http(s) link of at most %d bytes "
                     "without blanks or parentheses",
                     source, idx, name, LORAS_URL_MAX);
            goto out;
        }
        double w = 1.0;
        const cJSON *wv = cJSON_GetObjectItemCaseSensitive(e, "weight");
        if (cJSON_IsNumber(wv)) {
            w = wv->valuedouble;
        } else if (cJSON_IsString(wv)) {
            char *end;
            w = strtod(wv->valuestring, &end);
            if (end == wv->valuestring || *end) {
                snprintf(err, errlen, "%s: entry %d (%s): weight is not a number", source, idx,
                         name);
                goto out;
            }
        } else if (wv) {
            snprintf(err, errlen, "%s: entry %d (%s): weight is not a number", source, idx, name);
            goto out;
        }
        if (!(w >= -10.0 && w <= 10.0)) {
            snprintf(err, errlen, "%s: entry %d (%s): weight must be in -10..10", source, idx,
                     name);
            goto out;
        }
        for (unsigned i = 0; i < out->count; i++) {
            if (strcasecmp(out->items[i].name, name) == 0) {
                snprintf(err, errlen, "%s: duplicate LoRA name \"%s\"", source, name);
                goto out;
            }
        }
        loras_entry *le = &out->items[out->count++];
        snprintf(le->name, sizeof le->name, "%s", name);
        snprintf(le->file, sizeof le->file, "%s", file);
        snprintf(le->trigger_words, sizeof le->trigger_words, "%s", trig ? trig : "");
        snprintf(le->description, sizeof le->description, "%s", desc ? desc : "");
        snprintf(le->url, sizeof le->url, "%s", url ? url : "");
        le->weight = w;
    }
    rc = 0;
out:
    cJSON_Delete(root);
    if (rc) loras_free(out);
    return rc;
}

int loras_load_file(loras_set *out, const char *path, char *err, size_t errlen)
{
    char *text = util_file_read(path, 16 << 20, NULL, err, errlen);
    if (!text) {
        memset(out, 0, sizeof *out);
        return -1;
    }
    int rc = loras_parse(out, text, path, err, errlen);
    free(text);
    return rc;
}

void loras_free(loras_set *set)
{
    if (!set) return;
    free(set->items);
    set->items = NULL;
    set->count = 0;
}

const loras_entry *loras_find(const loras_set *set, const char *q)
{
    if (!set || !q || !*q) return NULL;
    for (unsigned i = 0; i < set->count; i++)
        if (strcasecmp(set->items[i].name, q) == 0) return &set->items[i];
    for (unsigned i = 0; i < set->count; i++)
        if (strcmp(set->items[i].file, q) == 0) return &set->items[i];
    return NULL;
}

/* ASCII case-insensitive substring search; returns offset or -1. */
static long ci_find(const char *hay, const char *needle)
{
    size_t nl = strlen(needle);
    if (nl == 0) return 0;
    for (const char *p = hay; *p; p++)
        if (strncasecmp(p, needle, nl) == 0) return (long)(p - hay);
    return -1;
}

static int match_rank(const loras_entry *e, const char *t)
{
    if (!*t) return 0;
    long at = ci_find(e->name, t);
    if (at == 0) return 0;
    if (at > 0) {
        /* a word of the name starts with it? */
        for (const char *p = e->name; *p; p++) {
            if (p != e->name && !isalnum((unsigned char)p[-1]) && strncasecmp(p, t, strlen(t)) == 0)
                return 1;
        }
        return 2;
    }
    if (ci_find(e->file, t) >= 0 || ci_find(e->trigger_words, t) >= 0) return 3;
    return -1;
}

unsigned loras_match(const loras_set *set, const char *typed, const loras_entry **out, unsigned max)
{
    if (!set || !out) return 0;
    if (max > LORAS_CHOICES_MAX) max = LORAS_CHOICES_MAX;
    char t[LORAS_NAME_MAX + 1];
    /* trim surrounding blanks and bound what we compare */
    const char *s = typed ? typed : "";
    while (*s == ' ' || *s == '\t')
        s++;
    snprintf(t, sizeof t, "%s", s);
    size_t tl = strlen(t);
    while (tl > 0 && (t[tl - 1] == ' ' || t[tl - 1] == '\t'))
        t[--tl] = '\0';
    unsigned n = 0;
    for (int rank = 0; rank <= 3 && n < max; rank++) {
        for (unsigned i = 0; i < set->count && n < max; i++) {
            if (match_rank(&set->items[i], t) == rank) out[n++] = &set->items[i];
        }
        if (!*t) break;
    }
    return n;
}

double loras_strength(const loras_entry *e, unsigned n_stacked)
{
    if (!e) return 0.0;
    if (n_stacked > 1 && e->weight > 0.5) return 0.5;
    return e->weight;
}

char *loras_apply_triggers(const char *prompt, const loras_entry *const *loras, unsigned n)
{
    const char *p = prompt ? prompt : "";
    size_t cap = strlen(p) + 1;
    for (unsigned i = 0; i < n; i++)
        if (loras[i]) cap += strlen(loras[i]->trigger_words) + 2;
    char *out = malloc(cap);
    if (!out) abort();
    size_t len = strlen(p);
    memcpy(out, p, len + 1);
    for (unsigned i = 0; i < n; i++) {
        const char *tw = loras[i] ? loras[i]->trigger_words : "";
        if (!*tw || ci_find(out, tw) >= 0) continue;
        if (len > 0) {
            memcpy(out + len, ", ", 2);
            len += 2;
        }
        size_t tl = strlen(tw);
        memcpy(out + len, tw, tl + 1);
        len += tl;
    }
    return out;
}
