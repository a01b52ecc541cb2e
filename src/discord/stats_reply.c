/* The /stats edit: path and body (see stats_reply.h). */
#include "discord/stats_reply.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "discord/embed.h"
#include "util/util_utf8.h"

#define CHART_DESCRIPTION "Images, videos and commands over the window"

static bool token_ok(const char *t)
{
    size_t n = t ? strlen(t) : 0;
    if (n == 0 || n > STATS_REPLY_TOKEN_MAX) return false;
    for (size_t i = 0; i < n; i++) {
        char c = t[i];
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '_' || c == '-' || c == '.';
        if (!ok) return false;
    }
    return true;
}

bool stats_reply_original_path(uint64_t app, const char *token, char *out, size_t outlen)
{
    if (!app || !token_ok(token)) return false;
    int n = snprintf(out, outlen, "/webhooks/%" PRIu64 "/%s/messages/@original", app, token);
    return n > 0 && (size_t)n < outlen;
}

char *stats_reply_edit_json(const cJSON *embed_obj, const char *attachment)
{
    cJSON *root = cJSON_CreateObject();
    if (!root) return NULL;
    cJSON_AddStringToObject(root, "content", "");
    cJSON *embeds = cJSON_AddArrayToObject(root, "embeds");
    cJSON *e = embed_obj ? cJSON_Duplicate(embed_obj, 1) : NULL;
    if (e) {
        cJSON_DeleteItemFromObjectCaseSensitive(e, "image");
        if (attachment) {
            char url[160];
            snprintf(url, sizeof url, "attachment://%s", attachment);
            cJSON *img = cJSON_AddObjectToObject(e, "image");
            cJSON_AddStringToObject(img, "url", url);
        }
        cJSON_AddItemToArray(embeds, e);
    }
    /* Listing the attachments replaces the message's files: the new chart, or none. */
    cJSON *atts = cJSON_AddArrayToObject(root, "attachments");
    if (attachment) {
        cJSON *a = cJSON_CreateObject();
        cJSON_AddNumberToObject(a, "id", 0);
        cJSON_AddStringToObject(a, "filename", attachment);
        cJSON_AddStringToObject(a, "description", CHART_DESCRIPTION);
        cJSON_AddItemToArray(atts, a);
    }
    /* Nothing in a stats answer may ping anyone (command names are user-visible text). */
    cJSON *am = cJSON_AddObjectToObject(root, "allowed_mentions");
    cJSON_AddArrayToObject(am, "parse");
    char *out = cJSON_PrintUnformatted(root);
    cJSON_Delete(root);
    return out;
}

/* ---- the body written as text (stats_reply_edit_body) ------------------------------------- */

typedef struct wbuf {
    char *p;
    size_t len, cap;
} wbuf;

static void w_grow(wbuf *b, size_t more)
{
    if (b->len + more + 1 <= b->cap) return;
    size_t cap = b->cap ? b->cap : 2048;
    while (cap < b->len + more + 1)
        cap *= 2;
    char *p = realloc(b->p, cap);
    if (!p) abort();
    b->p = p;
    b->cap = cap;
}

static void w_putn(wbuf *b, const char *s, size_t n)
{
    w_grow(b, n);
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

static void w_puts(wbuf *b, const char *s)
{
    w_putn(b, s, strlen(s));
}

/* s as a JSON string literal: quote, backslash and control characters escaped (what cJSON
 * escapes); bytes >= 0x80 go as they are (valid UTF-8 here). Runs without an escape are copied
 * in one piece. */
static void w_str(wbuf *b, const char *s)
{
    static const char hex[] = "0123456789abcdef";
    w_putn(b, "\"", 1);
    const unsigned char *p = (const unsigned char *)s, *run = p;
    for (; *p; p++) {
        unsigned char c = *p;
        if (c >= 0x20 && c != '"' && c != '\\') continue;
        w_putn(b, (const char *)run, (size_t)(p - run));
        char esc[7] = {'\\', (char)c, 0};
        size_t n = 2;
        switch (c) {
        case '"':
        case '\\':
            break;
        case '\b':
            esc[1] = 'b';
            break;
        case '\f':
            esc[1] = 'f';
            break;
        case '\n':
            esc[1] = 'n';
            break;
        case '\r':
            esc[1] = 'r';
            break;
        case '\t':
            esc[1] = 't';
            break;
        default:
            memcpy(esc + 1, "u00", 3);
            esc[4] = hex[c >> 4];
            esc[5] = hex[c & 15];
            n = 6;
        }
        w_putn(b, esc, n);
        run = p + 1;
    }
    w_putn(b, (const char *)run, (size_t)(p - run));
    w_putn(b, "\"", 1);
}

/* ,"key":"value" (or without the comma first); nothing when v is NULL. */
static void w_member(wbuf *b, bool *first, const char *key, const char *v)
{
    if (!v) return;
    if (!*first) w_putn(b, ",", 1);
    *first = false;
    w_str(b, key);
    w_putn(b, ":", 1);
    w_str(b, v);
}

static void w_uint(wbuf *b, uint64_t v)
{
    char d[24];
    size_t n = 0;
    do {
        d[sizeof d - 1 - n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    w_putn(b, d + sizeof d - n, n);
}

/* One embed object: the members embed_to_json emits, in its order, without e's image; the
 * attachment's image last (where stats_reply_edit_json adds it). */
static void w_embed(wbuf *b, const embed *e, const char *attachment)
{
    bool first = true;
    w_putn(b, "{", 1);
    w_member(b, &first, "title", e->title);
    if (e->description) {
        char *d = util_utf8_clip(e->description, EMBED_DESCRIPTION_MAX);
        w_member(b, &first, "description", d);
        free(d);
    }
    w_member(b, &first, "url", e->url);
    w_member(b, &first, "timestamp", e->timestamp);
    if (e->has_color) {
        w_puts(b, first ? "\"color\":" : ",\"color\":");
        w_uint(b, e->color);
        first = false;
    }
    if (e->footer_text) {
        w_puts(b, first ? "\"footer\":{" : ",\"footer\":{");
        bool f = true;
        w_member(b, &f, "text", e->footer_text);
        w_member(b, &f, "icon_url", e->footer_icon_url);
        w_putn(b, "}", 1);
        first = false;
    }
    if (e->thumbnail_url) {
        w_puts(b, first ? "\"thumbnail\":{" : ",\"thumbnail\":{");
        bool f = true;
        w_member(b, &f, "url", e->thumbnail_url);
        w_putn(b, "}", 1);
        first = false;
    }
    if (e->author_name) {
        w_puts(b, first ? "\"author\":{" : ",\"author\":{");
        bool f = true;
        w_member(b, &f, "name", e->author_name);
        w_member(b, &f, "url", e->author_url);
        w_member(b, &f, "icon_url", e->author_icon_url);
        w_putn(b, "}", 1);
        first = false;
    }
    if (e->nfields > 0) {
        w_puts(b, first ? "\"fields\":[" : ",\"fields\":[");
        for (unsigned i = 0; i < e->nfields; i++) {
            w_puts(b, i ? ",{" : "{");
            bool f = true;
            w_member(b, &f, "name", e->fields[i].name);
            w_member(b, &f, "value", e->fields[i].value);
            if (e->fields[i].inline_) w_puts(b, ",\"inline\":true");
            w_putn(b, "}", 1);
        }
        w_putn(b, "]", 1);
        first = false;
    }
    if (attachment) {
        w_puts(b, first ? "\"image\":{\"url\":" : ",\"image\":{\"url\":");
        char url[160];
        snprintf(url, sizeof url, "attachment://%s", attachment);
        w_str(b, url);
        w_putn(b, "}", 1);
    }
    w_putn(b, "}", 1);
}

char *stats_reply_edit_body(const embed *e, const char *attachment)
{
    wbuf b = {0};
    w_puts(&b, "{\"content\":\"\",\"embeds\":[");
    if (e) w_embed(&b, e, attachment);
    w_puts(&b, "],\"attachments\":[");
    if (attachment) {
        w_puts(&b, "{\"id\":0,\"filename\":");
        w_str(&b, attachment);
        w_puts(&b, ",\"description\":\"" CHART_DESCRIPTION "\"}");
    }
    /* Nothing in a stats answer may ping anyone (command names are user-visible text). */
    w_puts(&b, "],\"allowed_mentions\":{\"parse\":[]}}");
    return b.p;
}
