/*
 * util_hash: 64-bit FNV-1a, the one non-cryptographic hash used for hash-table slots and for
 * stable ids derived from names (rate-limit routes, the fakes' tables and ids, progress-text
 * dedup). Not for anything an attacker could exploit by choosing collisions.
 *
 * The offset basis is 1469598103934665603, the value every copy of this hash in the tree used
 * before it lived here; the published basis has one more digit (14695981039346656037). Any basis
 * mixes as well; this one is kept so that ids and bucket names derived from names stay the same.
 */
#ifndef FLUXBOT_UTIL_HASH_H
#define FLUXBOT_UTIL_HASH_H

#include <stddef.h>
#include <stdint.h>

/* FNV-1a of the n bytes at p. */
uint64_t util_fnv1a(const void *p, size_t n);
/* FNV-1a of a NUL-terminated string (without the NUL). */
uint64_t util_fnv1a_str(const char *s);

#endif
