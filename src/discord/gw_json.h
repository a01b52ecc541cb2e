/*
 * gw_json: a small validating JSON scanner that works on spans of the received buffer.
 *
 * The gateway reads only a few fields out of frames that can be megabytes long (GUILD_CREATE),
 * so it never builds a DOM: it skips values (checking their syntax), finds members of objects,
 * iterates arrays, and decodes the few scalars it needs (strings, integers, snowflakes) into
 * caller buffers. Nothing here allocates. Every input is untrusted: nesting depth is bounded,
 * strings must be valid JSON strings (no raw control characters, valid escapes), numbers follow
 * the JSON grammar, and every function fails cleanly on malformed input.
 */
#ifndef FLUXBOT_GW_JSON_H
#define FLUXBOT_GW_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Deepest nesting accepted; Discord payloads stay far below it. */
#define GW_JSON_MAX_DEPTH 64

/* A view into a buffer: one complete JSON value, without surrounding whitespace. */
typedef struct gw_span {
    const char *p;
    size_t len;
} gw_span;

enum {
    GW_JSON_OK = 0,
    GW_JSON_ESYNTAX = -1,  /* not valid JSON */
    GW_JSON_EDEPTH = -2,   /* nested deeper than GW_JSON_MAX_DEPTH */
    GW_JSON_ETYPE = -3,    /* valid JSON of the wrong type for the request */
    GW_JSON_ERANGE = -4,   /* a number or snowflake out of range */
    GW_JSON_ETOOLONG = -5, /* decoded string longer than the caller's buffer */
};

/* Scans one value starting at buf[*pos] (leading whitespace allowed), validating it. On success
 * *out is the value, *pos points just past it, and GW_JSON_OK is returned. */
int gw_json_value(const char *buf, size_t len, size_t *pos, gw_span *out);

/* Validates that buf holds exactly one JSON value (whitespace around it allowed). */
int gw_json_parse_span(const char *buf, size_t len, gw_span *out);

/* The kind of a (validated) value, from its first character. */
typedef enum gw_json_kind {
    GW_JSON_OBJECT,
    GW_JSON_ARRAY,
    GW_JSON_STRING,
    GW_JSON_NUMBER,
    GW_JSON_TRUE,
    GW_JSON_FALSE,
    GW_JSON_NULL,
    GW_JSON_INVALID,
} gw_json_kind;
gw_json_kind gw_json_kind_of(gw_span v);

/* Looks up member `key` of object `obj` (a validated span). 1 found (*val set), 0 absent,
 * GW_JSON_ETYPE if obj is not an object, other negatives on malformed input. When a key
 * appears twice, the last one wins (as most JSON parsers do). Keys are compared after
 * decoding escapes only when they contain a backslash. */
int gw_json_get(gw_span obj, const char *key, gw_span *val);

/* Iterates an object: *iter starts at 0. Returns 1 with *key (the raw key string span, quotes
 * included) and *val, 0 at the end, negative on error. */
int gw_json_object_next(gw_span obj, size_t *iter, gw_span *key, gw_span *val);

/* Iterates an array: *iter starts at 0. Returns 1 with *elem, 0 at the end, negative on error. */
int gw_json_array_next(gw_span arr, size_t *iter, gw_span *elem);

/* Decodes a JSON string value into out (cap bytes including the NUL) as UTF-8. \u escapes,
 * including surrogate pairs, are converted; a NUL (\u0000) is rejected. *out_len may be NULL. */
int gw_json_string(gw_span v, char *out, size_t cap, size_t *out_len);

/* True when the string value v equals the C string s (escapes decoded). */
bool gw_json_string_eq(gw_span v, const char *s);

/* An integer number (no fraction or exponent) that fits int64_t. */
int gw_json_int64(gw_span v, int64_t *out);

/* A Discord snowflake: a string of 1..20 decimal digits that fits uint64_t. As a courtesy to
 * hand-written fixtures, a non-negative JSON integer is accepted too. Zero is rejected. */
int gw_json_snowflake(gw_span v, uint64_t *out);

/* Writes s as a JSON string literal (with quotes) into out; returns the length written
 * (excluding the NUL), or -1 when it does not fit. Control characters are \u-escaped. */
int gw_json_escape(const char *s, char *out, size_t cap);

const char *gw_json_strerror(int err);

#endif
