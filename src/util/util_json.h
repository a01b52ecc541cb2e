/*
 * util_json: the small cJSON idioms every payload builder and parser repeated. Owns the rule that
 * 64-bit ids travel as decimal strings (a JSON number would lose bits in a double) and that
 * printing a payload either succeeds or aborts (there is nothing useful to send half-built).
 */
#ifndef FLUXBOT_UTIL_JSON_H
#define FLUXBOT_UTIL_JSON_H

#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

/* The string value of o[key] (case-sensitive), or fallback when o is NULL, the key is absent or
 * the value is not a string. Borrowed from o. */
const char *util_json_str(const cJSON *o, const char *key, const char *fallback);
/* The number o[key] as an int64_t (truncated), or fallback when absent or not a number. */
int64_t util_json_i64(const cJSON *o, const char *key, int64_t fallback);
/* The snowflake o[key] (a decimal string, as ids travel), or 0 when absent, not a string or not
 * a valid snowflake. */
uint64_t util_json_snowflake(const cJSON *o, const char *key);

/* Parses text (an operator's file or a template); NULL with err "<source>: not valid JSON" when
 * it is not. The caller deletes the result. */
cJSON *util_json_parse_named(const char *text, const char *source, char *err, size_t errlen);

/* A new string item holding v in decimal, for arrays of ids (NULL on OOM, which cJSON's add
 * functions ignore). Caller owns it. */
cJSON *util_json_u64(uint64_t v);
/* Adds key: "<v in decimal>" to o. */
void util_json_add_u64(cJSON *o, const char *key, uint64_t v);

/* Adds key: s cut to max_chars code points by util_utf8_clip (invalid bytes repaired, "…" when
 * cut; NULL s is ""). */
void util_json_add_clipped(cJSON *o, const char *key, const char *s, size_t max_chars);

/* The compact text of o, which is deleted; the caller frees the text. Aborts on OOM. */
char *util_json_print_free(cJSON *o);

#endif
