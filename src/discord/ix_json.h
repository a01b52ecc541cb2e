/*
 * ix_json: the JSON parser of interaction payloads on the router's hot path. It builds the same
 * read-only cJSON tree that cJSON_ParseWithLength builds from the same bytes (same accepted
 * inputs, same rejections, same values; tests/test_ix_json.c compares the two on crafted and
 * mutated payloads), but every node and string lives in an arena the caller keeps and reuses:
 * nothing is malloc'd or freed per parse once the arena has grown to the payloads' size.
 *
 * Why: cJSON allocates one block per value and per string (about 120 for a /stats
 * interaction) and frees them all at once, which fills glibc's per-thread cache and fast bins;
 * the next large allocation then consolidates them. At 300 interactions per second this was
 * the largest item of the router's CPU in perf (malloc, malloc_consolidate, unlink_chunk).
 *
 * The tree is only to be read (cJSON_GetObjectItemCaseSensitive, cJSON_Is*, cJSON_ArrayForEach,
 * cJSON_GetArraySize, the value fields): never cJSON_Delete it, never add to it or detach from
 * it (those would free arena memory). It stays valid until the arena is parsed into again or
 * freed. Pure: no threads, no I/O; one arena per thread.
 *
 * cJSON 1.7.15's rules (as Debian ships it), kept on purpose (the router has always run with
 * them): any byte up to 0x20 is white space; a leading UTF-8 byte-order mark is skipped; bytes
 * after the first value are ignored; numbers are what strtod reads of the longest run of
 * [0-9+-.eE] after a '-' or a digit; strings keep raw control characters and bytes as they
 * are, decode \b \f \n \r \t \" \\ \/ and \uXXXX (surrogate pairs joined, a lone low surrogate
 * or an unpaired high one refused, an invalid hex digit read as U+0000); nesting deeper than
 * 1000 is refused; duplicate keys are all kept (lookups find the first).
 */
#ifndef FLUXBOT_IX_JSON_H
#define FLUXBOT_IX_JSON_H

#include <stddef.h>

#include <cjson/cJSON.h>

/* Zero-initialise; ix_json_arena_free releases it. */
typedef struct ix_json_arena {
    struct ix_json_block *first; /* kept across parses */
    struct ix_json_block *cur;
} ix_json_arena;

/* The tree of the JSON value at the start of json[0..len), or NULL when cJSON_ParseWithLength
 * would refuse it (or len is 0). Resets the arena first: an earlier tree from it is gone. */
const cJSON *ix_json_parse(ix_json_arena *a, const char *json, size_t len);

void ix_json_arena_free(ix_json_arena *a);

#endif
