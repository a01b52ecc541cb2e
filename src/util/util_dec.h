/*
 * util_dec: strict decimal parsing of unsigned 64-bit numbers, the way snowflakes, permission
 * sets and the ids inside custom_ids arrive: ASCII digits only (no sign, no blanks, no base
 * prefix), at most 20 of them, no overflow. strtoull accepts all of those and wraps silently, so
 * nothing that parses outside input uses it.
 */
#ifndef FLUXBOT_UTIL_DEC_H
#define FLUXBOT_UTIL_DEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define UTIL_DEC_OK 0
#define UTIL_DEC_ESYNTAX (-1) /* empty, or a byte that is not a digit */
#define UTIL_DEC_ERANGE (-2)  /* more than 20 digits, or above UINT64_MAX */

/* Parses exactly the n bytes at p (leading zeros allowed). UTIL_DEC_OK with *out set, or an
 * error with *out untouched; a length over 20 is ERANGE whatever the bytes are. */
int util_dec_u64(const char *p, size_t n, uint64_t *out);

/* The canonical decimal form of a NUL-terminated string: as util_dec_u64, and no leading zero
 * unless the number is 0 itself. */
bool util_dec_u64_canon(const char *s, uint64_t *out);

/* A snowflake: canonical and not 0. */
bool util_dec_snowflake(const char *s, uint64_t *out);

#endif
