/*
 * Embed building with Discord's limits enforced (see embed.h). Every outgoing text is cleaned
 * and clipped by util_utf8_clip.
 */
#include "discord/embed.h"
#include "util/util_str.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "util/util_utf8.h"
#include "util/util_url.h"

static const char ZWSP[] = "\xE2\x80\x8B"; /* U+200B, Discord's accepted "empty" text */

bool embed_url_ok(const char *url)
{
    if (!url || !*url || strlen(url) > EMBED_URL_MAX) return false;
    if (!util_url_is_http(url) && strncmp(url, "attachment://", 13) != 0) return false;
    return util_url_clean(url);
}

void embed_init(embed *e)
{
    memset(e, 0, sizeof *e);
}

void embed_free(embed *e)
{
    free(e->title);
    free(e->description);
    free(e->url);
    free(e->timestamp);
    free(e->footer_text);
    free(e->footer_icon_url);
    free(e->image_url);
    free(e->thumbnail_url);
    free(e->author_name);
    free(e->author_url);
    free(e->author_icon_url);
    for (unsigned i = 0; i < e->nfields; i++) {
        free(e->fields[i].name);
        free(e->fields[i].value);
    }
    memset(e, 0, sizeof *e);
}

static void set_text(char **slot, const char *s, size_t max)
{
    free(*slot);
    *slot = s ? util_utf8_clip(s, max) : NULL;
}

static int set_url(char **slot, const char *url)
{
    if (url && !embed_url_ok(url)) return -1;
    free(*slot);
    *slot = url ? util_strdup(url) : NULL;
    return 0;
}

void embed_set_title(embed *e, const char *s)
{
    set_text(&e->title, s, EMBED_TITLE_MAX);
}

void embed_set_description(embed *e, const char *s)
{
    set_text(&e->description, s, EMBED_DESCRIPTION_MAX);
}

void embed_set_footer(embed *e, const char *text, const char *icon_url)
{
    set_text(&e->footer_text, text, EMBED_FOOTER_MAX);
    if (set_url(&e->footer_icon_url, icon_url) != 0) set_url(&e->footer_icon_url, NULL);
}

void embed_set_author(embed *e, const char *name, const char *url, const char *icon_url)
{
    set_text(&e->author_name, name, EMBED_AUTHOR_MAX);
    if (set_url(&e->author_url, url) != 0) set_url(&e->author_url, NULL);
    if (set_url(&e->author_icon_url, icon_url) != 0) set_url(&e->author_icon_url, NULL);
}

void embed_set_color(embed *e, uint32_t rgb)
{
    e->has_color = true;
    e->color = rgb & 0xFFFFFFu;
}

void embed_set_timestamp_ms(embed *e, uint64_t epoch_ms)
{
    time_t secs = (time_t)(epoch_ms / 1000);
    struct tm tm;
    gmtime_r(&secs, &tm);
    char buf[96];
    snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03uZ", tm.tm_year + 1900,
             tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
             (unsigned)(epoch_ms % 1000));
    free(e->timestamp);
    e->timestamp = util_strdup(buf);
}

int embed_set_url(embed *e, const char *url)
{
    return set_url(&e->url, url);
}
int embed_set_image(embed *e, const char *url)
{
    return set_url(&e->image_url, url);
}
int embed_set_thumbnail(embed *e, const char *url)
{
    return set_url(&e->thumbnail_url, url);
}

int embed_add_field(embed *e, const char *name, const char *value, bool inline_)
{
    if (e->nfields >= EMBED_FIELDS_MAX) return -1;
    embed_field *f = &e->fields[e->nfields++];
    f->name = util_utf8_clip(name && *name ? name : ZWSP, EMBED_FIELD_NAME_MAX);
    f->value = util_utf8_clip(value && *value ? value : ZWSP, EMBED_FIELD_VALUE_MAX);
    f->inline_ = inline_;
    return 0;
}

size_t embed_total_chars(const embed *e)
{
    size_t n = util_utf8_chars(e->title) + util_utf8_chars(e->description) +
               util_utf8_chars(e->footer_text) + util_utf8_chars(e->author_name);
    for (unsigned i = 0; i < e->nfields; i++)
        n += util_utf8_chars(e->fields[i].name) + util_utf8_chars(e->fields[i].value);
    return n;
}

static void add_str(cJSON *o, const char *key, const char *v)
{
    if (v) cJSON_AddStringToObject(o, key, v);
}

/* Emits e, with its description cut to desc_max characters and only the first nfields. */
static cJSON *embed_emit(const embed *e, size_t desc_max, unsigned nfields)
{
    cJSON *o = cJSON_CreateObject();
    add_str(o, "title", e->title);
    if (e->description && desc_max > 0) {
        char *d = util_utf8_clip(e->description, desc_max);
        cJSON_AddStringToObject(o, "description", d);
        free(d);
    }
    add_str(o, "url", e->url);
    add_str(o, "timestamp", e->timestamp);
    if (e->has_color) cJSON_AddNumberToObject(o, "color", (double)e->color);
    if (e->footer_text) {
        cJSON *f = cJSON_AddObjectToObject(o, "footer");
        add_str(f, "text", e->footer_text);
        add_str(f, "icon_url", e->footer_icon_url);
    }
    if (e->image_url) add_str(cJSON_AddObjectToObject(o, "image"), "url", e->image_url);
    if (e->thumbnail_url) add_str(cJSON_AddObjectToObject(o, "thumbnail"), "url", e->thumbnail_url);
    if (e->author_name) {
        cJSON *a = cJSON_AddObjectToObject(o, "author");
        add_str(a, "name", e->author_name);
        add_str(a, "url", e->author_url);
        add_str(a, "icon_url", e->author_icon_url);
    }
    if (nfields > 0) {
        cJSON *arr = cJSON_AddArrayToObject(o, "fields");
        for (unsigned i = 0; i < nfields; i++) {
            cJSON *f = cJSON_CreateObject();
            cJSON_AddStringToObject(f, "name", e->fields[i].name);
            cJSON_AddStringToObject(f, "value", e->fields[i].value);
            if (e->fields[i].inline_) cJSON_AddTrueToObject(f, "inline");
            cJSON_AddItemToArray(arr, f);
        }
    }
    return o;
}

cJSON *embed_to_json(const embed *e)
{
    return embed_emit(e, EMBED_DESCRIPTION_MAX, e->nfields);
}

cJSON *embed_list_to_json(const embed *const *list, unsigned n)
{
    if (n > EMBED_PER_MESSAGE_MAX) n = EMBED_PER_MESSAGE_MAX;
    size_t desc_max[EMBED_PER_MESSAGE_MAX];
    unsigned nfields[EMBED_PER_MESSAGE_MAX];
    size_t total = 0;
    for (unsigned i = 0; i < n; i++) {
        desc_max[i] = util_utf8_chars(list[i]->description);
        nfields[i] = list[i]->nfields;
        total += embed_total_chars(list[i]);
    }
    /* Over the message total: shorten descriptions from the last embed backwards (keeping at
     * least a little of each), then drop trailing fields, then whole descriptions. */
    for (unsigned i = n; i-- > 0 && total > EMBED_TOTAL_MAX;) {
        size_t excess = total - EMBED_TOTAL_MAX;
        size_t keep_min = desc_max[i] < 64 ? desc_max[i] : 64;
        size_t cuttable = desc_max[i] - keep_min;
        size_t cut = excess < cuttable ? excess : cuttable;
        desc_max[i] -= cut;
        total -= cut;
    }
    for (unsigned i = n; i-- > 0 && total > EMBED_TOTAL_MAX;) {
        while (nfields[i] > 0 && total > EMBED_TOTAL_MAX) {
            const embed_field *f = &list[i]->fields[nfields[i] - 1];
            total -= util_utf8_chars(f->name) + util_utf8_chars(f->value);
            nfields[i]--;
        }
    }
    for (unsigned i = n; i-- > 0 && total > EMBED_TOTAL_MAX;) {
        total -= desc_max[i];
        desc_max[i] = 0;
    }
    /* Titles, footers and author names alone can still exceed it with many embeds: drop
     * trailing embeds (one embed alone always fits: 256 + 2048 + 256 < 6000). */
    while (n > 1 && total > EMBED_TOTAL_MAX) {
        const embed *e = list[n - 1];
        size_t rest = util_utf8_chars(e->title) + util_utf8_chars(e->footer_text) +
                      util_utf8_chars(e->author_name) + desc_max[n - 1];
        for (unsigned k = 0; k < nfields[n - 1]; k++)
            rest += util_utf8_chars(e->fields[k].name) + util_utf8_chars(e->fields[k].value);
        total -= rest;
        n--;
    }
    cJSON *arr = cJSON_CreateArray();
    for (unsigned i = 0; i < n; i++)
        cJSON_AddItemToArray(arr, embed_emit(list[i], desc_max[i], nfields[i]));
    return arr;
}

/* ---- checking an embed object ----------------------------------------------------------- */

/* Checks the string member `key` of obj against max; adds its length to *total. */
static bool check_str(const cJSON *obj, const char *key, size_t max, const char *what,
                      size_t *total, char *why, size_t whylen)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (!v) return true;
    if (!cJSON_IsString(v)) {
        snprintf(why, whylen, "%s is not a string", what);
        return false;
    }
    size_t n = util_utf8_chars(v->valuestring);
    if (n > max) {
        snprintf(why, whylen, "%s has %zu characters (max %zu)", what, n, max);
        return false;
    }
    *total += n;
    return true;
}

bool embed_json_within_limits(const cJSON *obj, char *why, size_t whylen)
{
    size_t total = 0;
    if (!check_str(obj, "title", EMBED_TITLE_MAX, "title", &total, why, whylen)) return false;
    if (!check_str(obj, "description", EMBED_DESCRIPTION_MAX, "description", &total, why, whylen))
        return false;
    const cJSON *footer = cJSON_GetObjectItemCaseSensitive(obj, "footer");
    if (footer && !check_str(footer, "text", EMBED_FOOTER_MAX, "footer", &total, why, whylen))
        return false;
    const cJSON *author = cJSON_GetObjectItemCaseSensitive(obj, "author");
    if (author && !check_str(author, "name", EMBED_AUTHOR_MAX, "author", &total, why, whylen))
        return false;
    const cJSON *fields = cJSON_GetObjectItemCaseSensitive(obj, "fields");
    if (fields) {
        if (cJSON_GetArraySize(fields) > EMBED_FIELDS_MAX) {
            snprintf(why, whylen, "%d fields (max %d)", cJSON_GetArraySize(fields),
                     EMBED_FIELDS_MAX);
            return false;
        }
        const cJSON *f;
        cJSON_ArrayForEach(f, fields)
        {
            if (!check_str(f, "name", EMBED_FIELD_NAME_MAX, "field name", &total, why, whylen))
                return false;
            if (!check_str(f, "value", EMBED_FIELD_VALUE_MAX, "field value", &total, why, whylen))
                return false;
            const cJSON *name = cJSON_GetObjectItemCaseSensitive(f, "name");
            const cJSON *value = cJSON_GetObjectItemCaseSensitive(f, "value");
            if (!cJSON_IsString(name) || !*name->valuestring || !cJSON_IsString(value) ||
                !*value->valuestring) {
                snprintf(why, whylen, "a field has an empty name or value");
                return false;
            }
        }
    }
    if (total > EMBED_TOTAL_MAX) {
        snprintf(why, whylen, "%zu characters in total (max %d)", total, EMBED_TOTAL_MAX);
        return false;
    }
    return true;
}
