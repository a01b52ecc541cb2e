/*
 * Counting structures for the /stats fast path: a name → count table (top-5 lists) and a set
 * of user ids (distinct users), both open-addressing hash tables that grow as needed. They let
 * the reader merge rollup rows and raw rows in one pass each, instead of SQLite sorting them
 * in temporary B-trees. Single-threaded; each query builds and frees its own.
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

/* Adds count to name (copied on first sight). A zeroed an_tally is an empty table. */
void an_tally_add(an_tally *t, const char *name, uint64_t count);
/* The `max` highest counts, ties broken by name (byte order, as SQLite's BINARY collation). */
void an_tally_top(const an_tally *t, an_top_item *out, unsigned max, unsigned *n);
void an_tally_free(an_tally *t);

typedef struct an_idset {
    uint64_t *slots; /* 0 = empty slot; id 0 is tracked by has_zero */
    size_t cap, n;
    bool has_zero;
} an_idset;

/* Adds id. A zeroed an_idset is an empty set. */
void an_idset_add(an_idset *s, uint64_t id);
size_t an_idset_count(const an_idset *s);
void an_idset_free(an_idset *s);

#endif
