/*
 * Counting structures for the /stats fast path: a name → count table (top-5 lists) and a set
 * of user ids with their event counts (total and active users), both open-addressing hash tables
 * that grow as needed. They let the reader merge rollup rows and raw rows in one pass each, instead
 * of SQLite sorting them in temporary B-trees. Single-threaded; each query builds and frees its
 * own.
 */
#ifndef FLUXBOT_AN_TALLY_H
#define FLUXBOT_AN_TALLY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "analytics/an_stats.h"

typedef struct an_tally_slot {
    char *name; /* owned; NULL = empty slot */
    uint64_t count;
} an_tally_slot;

typedef struct an_tally {
    an_tally_slot *slots;
    size_t cap, n;
} an_tally;

/* Adds count to name (copied on first sight). A zeroed an_tally is an empty table. Counts wrap
 * modulo 2^64, so a subtraction is adding (uint64_t)-n; names whose total is 0 are not listed. */
void an_tally_add(an_tally *t, const char *name, uint64_t count);
/* The `max` highest counts, ties broken by name (byte order, as SQLite's BINARY collation). */
void an_tally_top(const an_tally *t, an_top_item *out, unsigned max, unsigned *n);
void an_tally_free(an_tally *t);

/* User id -> event count. Counts are signed (a window edge may subtract rows from an hour's
 * rollup); a user counts once the total is positive. */
typedef struct an_idcount_slot {
    uint64_t id; /* 0 = empty slot; id 0 is kept in zero_count */
    int64_t count;
} an_idcount_slot;

typedef struct an_idcount {
    an_idcount_slot *slots;
    size_t cap, n;
    int64_t zero_count;
} an_idcount;

/* Adds delta to id's count. A zeroed an_idcount is an empty map. */
void an_idcount_add(an_idcount *m, uint64_t id, int64_t delta);
/* Ids whose count is >= 1, and whose count is >= min (min >= 1). */
void an_idcount_summary(const an_idcount *m, int64_t min, uint64_t *with_any, uint64_t *with_min);
void an_idcount_free(an_idcount *m);

#endif
