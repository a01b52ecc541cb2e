/* Loading and lookup of the resolution list (see ratios.h). */
#include "comfy/ratios.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/util_file.h"
#include "util/util_json.h"

static int side_ok(const cJSON *v, uint32_t *out)
{
    if (!cJSON_IsNumber(v)) return 0;
    double d = v->valuedouble;
    if (d != floor(d) || d < 64 || d > 8192) return 0;
    *out = (uint32_t)d;
    return 1;
}

int ratios_parse(ratios_set *out, const char *json, const char *source, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    cJSON *root = util_json_parse_named(json, source, err, errlen);
    if (!root) return -1;
    int rc = -1;
    const cJSON *ratios = cJSON_GetObjectItemCaseSensitive(root, "ratios");
    if (!cJSON_IsObject(ratios)) {
        snprintf(err, errlen, "%s: missing object \"ratios\"", source);
        goto out;
    }
    const cJSON *e;
    cJSON_ArrayForEach(e, ratios)
    {
        const char *label = e->string;
        size_t ll = label ? strlen(label) : 0;
        if (ll == 0 || ll > RATIOS_LABEL_MAX) {
            snprintf(err, errlen, "%s: label \"%.40s\" must be 1..%d bytes", source,
                     label ? label : "", RATIOS_LABEL_MAX);
            goto out;
        }
        if (out->count == RATIOS_MAX) {
            snprintf(err, errlen, "%s: more than %d resolutions (Discord allows %d choices)",
                     source, RATIOS_MAX, RATIOS_MAX);
            goto out;
        }
        for (unsigned i = 0; i < out->count; i++) {
            if (strcmp(out->items[i].label, label) == 0) {
                snprintf(err, errlen, "%s: duplicate label \"%s\"", source, label);
                goto out;
            }
        }
        ratios_entry *r = &out->items[out->count];
        if (!cJSON_IsObject(e) ||
            !side_ok(cJSON_GetObjectItemCaseSensitive(e, "width"), &r->width) ||
            !side_ok(cJSON_GetObjectItemCaseSensitive(e, "height"), &r->height)) {
            snprintf(err, errlen, "%s: \"%s\" needs integer width and height in 64..8192", source,
                     label);
            goto out;
        }
        memcpy(r->label, label, ll + 1);
        out->count++;
    }
    if (out->count == 0) {
        snprintf(err, errlen, "%s: no resolutions", source);
        goto out;
    }
    rc = 0;
out:
    cJSON_Delete(root);
    if (rc) out->count = 0;
    return rc;
}

int ratios_load_file(ratios_set *out, const char *path, char *err, size_t errlen)
{
    char *text = util_file_read(path, 1 << 20, NULL, err, errlen);
    if (!text) return -1;
    int rc = ratios_parse(out, text, path, err, errlen);
    free(text);
    return rc;
}

const ratios_entry *ratios_find(const ratios_set *set, const char *label)
{
    if (!set || !label) return NULL;
    for (unsigned i = 0; i < set->count; i++)
        if (strcmp(set->items[i].label, label) == 0) return &set->items[i];
    unsigned w, h;
    char tail;
    if (sscanf(label, "%ux%u%c", &w, &h, &tail) == 2) {
        for (unsigned i = 0; i < set->count; i++)
            if (set->items[i].width == w && set->items[i].height == h) return &set->items[i];
    }
    return NULL;
}

const ratios_entry *ratios_default(const ratios_set *set)
{
    if (!set || set->count == 0) return NULL;
    for (unsigned i = 0; i < set->count; i++)
        if (set->items[i].width == 1024 && set->items[i].height == 1024) return &set->items[i];
    return &set->items[0];
}
