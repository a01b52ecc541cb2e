/* The ComfyUI model-list cache and its /object_info parser (see models.h). */
#include "comfy/models.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <cjson/cJSON.h>

#include "comfy/decl.h"
#include "util/util_utf8.h"

static const char *const kinds[MODELS_KINDS] = {"checkpoint", "unet", "lora",
                                                "vae",        "clip", "upscale_model"};

typedef struct list {
    char **names;
    unsigned n;
    bool known;
    uint64_t updated_ms;
} list;

struct models_cache {
    pthread_mutex_t mu;
    list lists[MODELS_KINDS];
};

static int kind_index(const char *kind)
{
    for (int i = 0; kind && i < MODELS_KINDS; i++)
        if (strcmp(kinds[i], kind) == 0) return i;
    return -1;
}

static void list_clear(list *l)
{
    for (unsigned i = 0; i < l->n; i++)
        free(l->names[i]);
    free(l->names);
    l->names = NULL;
    l->n = 0;
}

models_cache *models_new(void)
{
    models_cache *m = calloc(1, sizeof *m);
    if (!m) return NULL;
    pthread_mutex_init(&m->mu, NULL);
    return m;
}

void models_free(models_cache *m)
{
    if (!m) return;
    for (int i = 0; i < MODELS_KINDS; i++)
        list_clear(&m->lists[i]);
    pthread_mutex_destroy(&m->mu);
    free(m);
}

/* The names array of an input spec: [[names], {...}] (older servers) or
 * ["COMBO", {"options": [names]}] (newer ones). NULL when it is neither. */
static const cJSON *spec_names(const cJSON *spec)
{
    const cJSON *first = cJSON_GetArrayItem(spec, 0);
    if (cJSON_IsArray(first)) return first;
    if (cJSON_IsString(first) && strcmp(first->valuestring, "COMBO") == 0) {
        const cJSON *o = cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(spec, 1), "options");
        if (cJSON_IsArray(o)) return o;
    }
    return NULL;
}

/* The new list from names: strings of 1..MODELS_NAME_MAX bytes of UTF-8 (others are left out:
 * a Discord choice could not carry them), at most MODELS_MAX_NAMES. */
static int build(list *out, const cJSON *names)
{
    memset(out, 0, sizeof *out);
    int total = cJSON_GetArraySize(names);
    unsigned cap = total < MODELS_MAX_NAMES ? (unsigned)total : MODELS_MAX_NAMES;
    out->names = calloc(cap ? cap : 1, sizeof *out->names);
    if (!out->names) return -1;
    const cJSON *x;
    cJSON_ArrayForEach(x, names)
    {
        if (out->n == cap) break;
        if (!cJSON_IsString(x)) continue;
        size_t len = strlen(x->valuestring);
        if (len == 0 || len > MODELS_NAME_MAX || !util_utf8_valid(x->valuestring, len, NULL))
            continue;
        out->names[out->n] = strdup(x->valuestring);
        if (!out->names[out->n]) {
            list_clear(out);
            return -1;
        }
        out->n++;
    }
    return 0;
}

int models_update(models_cache *m, const char *json, size_t len, uint64_t now_ms, char *err,
                  size_t errlen)
{
    if (!json || len > MODELS_ANSWER_MAX) {
        snprintf(err, errlen, "the answer is empty or larger than %u bytes", MODELS_ANSWER_MAX);
        return -1;
    }
    cJSON *root = cJSON_ParseWithLength(json, len);
    if (!cJSON_IsObject(root)) {
        cJSON_Delete(root);
        snprintf(err, errlen, "the answer is not a JSON object");
        return -1;
    }
    int replaced = 0;
    for (int k = 0; k < MODELS_KINDS; k++) {
        const char *cls, *input;
        decl_object_info_field(kinds[k], &cls, &input);
        const cJSON *req = cJSON_GetObjectItemCaseSensitive(
            cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(root, cls), "input"),
            "required");
        const cJSON *spec = cJSON_GetObjectItemCaseSensitive(req, input);
        const cJSON *names = cJSON_IsArray(spec) ? spec_names(spec) : NULL;
        if (!names) continue;
        list fresh;
        if (build(&fresh, names) != 0) {
            cJSON_Delete(root);
            snprintf(err, errlen, "out of memory");
            return -1;
        }
        fresh.known = true;
        fresh.updated_ms = now_ms;
        pthread_mutex_lock(&m->mu);
        list old = m->lists[k];
        m->lists[k] = fresh;
        pthread_mutex_unlock(&m->mu);
        list_clear(&old);
        replaced++;
    }
    cJSON_Delete(root);
    return replaced;
}

int models_has(models_cache *m, const char *kind, const char *name)
{
    int k = kind_index(kind);
    if (!m || k < 0 || !name) return -1;
    pthread_mutex_lock(&m->mu);
    const list *l = &m->lists[k];
    int rc = l->known ? 0 : -1;
    for (unsigned i = 0; rc == 0 && i < l->n; i++)
        if (strcmp(l->names[i], name) == 0) rc = 1;
    pthread_mutex_unlock(&m->mu);
    return rc;
}

static bool contains_ci(const char *hay, const char *needle)
{
    size_t n = strlen(needle);
    for (; *hay; hay++)
        if (strncasecmp(hay, needle, n) == 0) return true;
    return n == 0;
}

unsigned models_match(models_cache *m, const char *kind, const char *typed,
                      char out[][MODELS_NAME_MAX + 1], unsigned max)
{
    int k = kind_index(kind);
    if (!m || k < 0) return 0;
    if (!typed) typed = "";
    unsigned n = 0;
    pthread_mutex_lock(&m->mu);
    const list *l = &m->lists[k];
    for (int pass = 0; pass < 2; pass++)
        for (unsigned i = 0; i < l->n && n < max; i++) {
            bool prefix = strncasecmp(l->names[i], typed, strlen(typed)) == 0;
            if (pass == 0 ? prefix : (!prefix && contains_ci(l->names[i], typed)))
                snprintf(out[n++], MODELS_NAME_MAX + 1, "%s", l->names[i]);
        }
    pthread_mutex_unlock(&m->mu);
    return n;
}

unsigned models_count(models_cache *m, const char *kind, uint64_t *updated_ms)
{
    int k = kind_index(kind);
    if (updated_ms) *updated_ms = 0;
    if (!m || k < 0) return 0;
    pthread_mutex_lock(&m->mu);
    unsigned n = m->lists[k].n;
    if (updated_ms) *updated_ms = m->lists[k].updated_ms;
    pthread_mutex_unlock(&m->mu);
    return n;
}
