/*
 * Embed building with Discord's limits enforced (see embed.h). Owns the UTF-8 cleaning and
 * clipping that every outgoing text uses.
 */
#include "discord/embed.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char ELLIPSIS[] = "\xE2\x80\xA6";    /* U+2026 */
static const char REPLACEMENT[] = "\xEF\xBF\xBD"; /* U+FFFD */
static const char ZWSP[] = "\xE2\x80\x8B";        /* U+200B, Discord's accepted "empty" text */

/* Length of the valid UTF-8 sequence at p (1..4), or 0 when invalid. */
static size_t utf8_seq(const unsigned char *p, size_t avail)
{
    unsigned char c = p[0];
    size_t need;
    uint32_t cp;
    if (c < 0x80) return 1;
    if (c >= 0xC2 && c <= 0xDF) {
        need = 1;
        cp = c & 0x1F;
    } else if (c >= 0xE0 && c <= 0xEF) {
        need = 2;
        cp = c & 0x0F;
    } else if (c >= 0xF0 && c <= 0xF4) {
        need = 3;
        cp = c & 0x07;
    } else {
        return 0;
    }
    if (need >= avail) return 0;
    for (size_t k = 1; k <= need; k++) {
        if ((p[k] & 0xC0) != 0x80) return 0;
        cp = (cp << 6) | (p[k] & 0x3F);
    }
    if ((need == 2 && cp < 0x800) || (need == 3 && (cp < 0x10000 || cp > 0x10FFFF)) ||
        (cp >= 0xD800 && cp <= 0xDFFF))
        return 0;
    return need + 1;
}

size_t embed_text_chars(const char *s)
{
    size_t n = 0;
    if (!s) return 0;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        if ((*p & 0xC0) != 0x80) n++;
    return n;
}

char *embed_text_clip(const char *s, size_t max_chars)
{
    if (!s) s = "";
    size_t len = strlen(s);
    /* Worst case every byte becomes a 3-byte replacement character. */
    char *out = malloc(len * 3 + sizeof ELLIPSIS + 1);
    if (!out) abort();
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0, o = 0, chars = 0;
    size_t last_start = 0; /* where the last emitted character starts, for the ellipsis */
    bool cut = false;
    while (i < len) {
        if (chars == max_chars) {
            cut = true;
            break;
        }
        size_t n = utf8_seq(p + i, len - i);
        last_start = o;
        if (n == 0) {
            memcpy(out + o, REPLACEMENT, 3);
            o += 3;
            i++;
        } else {
            memcpy(out + o, p + i, n);
            o += n;
            i += n;
        }
        chars++;
    }
    if (cut && max_chars > 0) {
        o = last_start; /* replace the last kept character by the ellipsis */
        memcpy(out + o, ELLIPSIS, 3);
        o += 3;
    }
    out[o] = '\0';
    return out;
}

bool embed_url_ok(const char *url)
{
    if (!url || !*url || strlen(url) > EMBED_URL_MAX) return false;
    if (strncmp(url, "https://", 8) != 0 && strncmp(url, "http://", 7) != 0 &&
        strncmp(url, "attachment://", 13) != 0)
        return false;
    for (const unsigned char *p = (const unsigned char *)url; *p; p++)
        if (*p <= 0x20 || *p == 0x7f) return false;
    return true;
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
    *slot = s ? embed_text_clip(s, max) : NULL;
}

static int set_url(char **slot, const char *url)
{
    if (url && !embed_url_ok(url)) return -1;
    free(*slot);
    *slot = url ? strdup(url) : NULL;
    if (url && !*slot) abort();
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
    e->timestamp = strdup(buf);
    if (!e->timestamp) abort();
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
    f->name = embed_text_clip(name && *name ? name : ZWSP, EMBED_FIELD_NAME_MAX);
    f->value = embed_text_clip(value && *value ? value : ZWSP, EMBED_FIELD_VALUE_MAX);
    f->inline_ = inline_;
    return 0;
}

size_t embed_total_chars(const embed *e)
{
    size_t n = embed_text_chars(e->title) + embed_text_chars(e->description) +
               embed_text_chars(e->footer_text) + embed_text_chars(e->author_name);
    for (unsigned i = 0; i < e->nfields; i++)
        n += embed_text_chars(e->fields[i].name) + embed_text_chars(e->fields[i].value);
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
        char *d = embed_text_clip(e->description, desc_max);
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
        desc_max[i] = embed_text_chars(list[i]->description);
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
            total -= embed_text_chars(f->name) + embed_text_chars(f->value);
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
        size_t rest = embed_text_chars(e->title) + embed_text_chars(e->footer_text) +
                      embed_text_chars(e->author_name) + desc_max[n - 1];
        for (unsigned k = 0; k < nfields[n - 1]; k++)
            rest += embed_text_chars(e->fields[k].name) + embed_text_chars(e->fields[k].value);
        total -= rest;
        n--;
    }
    cJSON *arr = cJSON_CreateArray();
    for (unsigned i = 0; i < n; i++)
        cJSON_AddItemToArray(arr, embed_emit(list[i], desc_max[i], nfields[i]));
    return arr;
}
