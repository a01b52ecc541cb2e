/*
 * util_hash: 64-bit FNV-1a, the non-cryptographic hash used for hash-table slots and for
 * stable ids derived from names (the fakes' tables and ids, progress-text dedup), and
 * util_hash_mem, a word-at-a-time hash for the slots of tables with long keys (the rate
 * limiter's). Not for anything an attacker could exploit by choosing collisions.
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

/* A hash of the n bytes at p for hash-table slots only, eight bytes per step (FNV-1a takes one):
 * keys of a few hundred bytes (rate-limit buckets carry an interaction token) cost a fifth.
 * Every bit of the result depends on every byte (a final avalanche), so any mask of it picks a
 * slot. Its values are not part of any interface and may change: never store them nor derive
 * ids from them (use FNV-1a above for that). */
uint64_t util_hash_mem(const void *p, size_t n);

#endif
