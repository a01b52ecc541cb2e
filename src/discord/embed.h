/*
 * Discord embeds with the documented limits enforced at the source, so a message built here is
 * never refused with a 400 for length. Text is cleaned (invalid UTF-8 becomes U+FFFD) and cut on
 * character boundaries with an ellipsis; URLs must be http(s) or attachment://.
 *
 * Limits (docs: resources/message.mdx): title 256, description 4096, fields 25 (name 256,
 * value 1024), footer 2048, author name 256, and 6000 characters over all embeds of a message
 * (enforced by embed_list_to_json, which shortens descriptions, then drops trailing fields).
 *
 * Ownership: an embed owns copies of all its strings; embed_free releases them.
 */
#ifndef FLUXBOT_DISCORD_EMBED_H
#define FLUXBOT_DISCORD_EMBED_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#define EMBED_TITLE_MAX 256
#define EMBED_DESCRIPTION_MAX 4096
#define EMBED_FIELDS_MAX 25
#define EMBED_FIELD_NAME_MAX 256
#define EMBED_FIELD_VALUE_MAX 1024
#define EMBED_FOOTER_MAX 2048
#define EMBED_AUTHOR_MAX 256
#define EMBED_TOTAL_MAX 6000
#define EMBED_PER_MESSAGE_MAX 10
#define EMBED_URL_MAX 2048

typedef struct embed_field {
    char *name;
    char *value;
    bool inline_;
} embed_field;

typedef struct embed {
    char *title;
    char *description;
    char *url;
    char *timestamp; /* ISO 8601 */
    bool has_color;
    uint32_t color;
    char *footer_text;
    char *footer_icon_url;
    char *image_url;
    char *thumbnail_url;
    char *author_name;
    char *author_url;
    char *author_icon_url;
    embed_field fields[EMBED_FIELDS_MAX];
    unsigned nfields;
} embed;

void embed_init(embed *e);
void embed_free(embed *e);

/* Text setters clip to their limit (NULL clears). */
void embed_set_title(embed *e, const char *s);
void embed_set_description(embed *e, const char *s);
void embed_set_footer(embed *e, const char *text, const char *icon_url);
void embed_set_author(embed *e, const char *name, const char *url, const char *icon_url);
void embed_set_color(embed *e, uint32_t rgb);
/* Sets "timestamp" from Unix epoch milliseconds (UTC). */
void embed_set_timestamp_ms(embed *e, uint64_t epoch_ms);
/* URL setters: 0, or -1 (and nothing set) when the URL is not http(s):// or attachment://. */
int embed_set_url(embed *e, const char *url);
int embed_set_image(embed *e, const char *url);
int embed_set_thumbnail(embed *e, const char *url);
/* 0, or -1 when 25 fields exist already. Empty names/values become a zero-width space, since
 * Discord refuses empty field text. */
int embed_add_field(embed *e, const char *name, const char *value, bool inline_);

/* Characters counted by Discord towards the 6000 total. */
size_t embed_total_chars(const embed *e);
/* One embed as a cJSON object (caller owns). */
cJSON *embed_to_json(const embed *e);
/* Up to 10 embeds as a cJSON array, shortened to fit the 6000-character total. */
cJSON *embed_list_to_json(const embed *const *list, unsigned n);
/* Checks an embed object built elsewhere (or received) against the same limits: title,
 * description, footer, author name, field names and values, 25 fields, 6000 in total; fields need
 * a non-empty name and value. Characters are Unicode code points. On violation fills why and
 * returns false. */
bool embed_json_within_limits(const cJSON *obj, char *why, size_t whylen);

/* True for an http(s):// or attachment:// URL of at most EMBED_URL_MAX bytes without blanks or
 * control characters. (Text is clipped with util_utf8_clip, counted with util_utf8_chars.) */
bool embed_url_ok(const char *url);

#endif
