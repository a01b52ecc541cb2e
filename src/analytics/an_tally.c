/* Name counts and id sets for the /stats fast path (see an_tally.h). */
#include "analytics/an_tally.h"

#include "util/util_hash.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static uint64_t hash_u64(uint64_t x)
{
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdULL;
    x ^= x >> 33;
    return x;
}

static void tally_grow(an_tally *t)
{
    size_t cap = t->cap ? t->cap * 2 : 64;
    an_tally_slot *slots = calloc(cap, sizeof *slots);
    if (!slots) abort();
    for (size_t i = 0; i < t->cap; i++) {
        if (!t->slots[i].name) continue;
        size_t j = util_fnv1a_str(t->slots[i].name) & (cap - 1);
        while (slots[j].name)
            j = (j + 1) & (cap - 1);
        slots[j] = t->slots[i];
    }
    free(t->slots);
    t->slots = slots;
    t->cap = cap;
}

void an_tally_add(an_tally *t, const char *name, uint64_t count)
{
    if (!name) name = "";
    if ((t->n + 1) * 2 > t->cap) tally_grow(t);
    size_t j = util_fnv1a_str(name) & (t->cap - 1);
    while (t->slots[j].name && strcmp(t->slots[j].name, name) != 0)
        j = (j + 1) & (t->cap - 1);
    if (!t->slots[j].name) {
        t->slots[j].name = strdup(name);
        if (!t->slots[j].name) abort();
        t->n++;
    }
    t->slots[j].count += count;
}

static bool before(const an_tally_slot *a, const an_top_item *b)
{
    return a->count != b->count ? a->count > b->count : strcmp(a->name, b->name) < 0;
}

void an_tally_top(const an_tally *t, an_top_item *out, unsigned max, unsigned *n)
{
    *n = 0;
    for (size_t i = 0; i < t->cap; i++) {
        const an_tally_slot *s = &t->slots[i];
        if (!s->name || s->count == 0) continue;
        /* Insertion into the sorted top list; max is tiny (5). */
        unsigned pos = *n;
        while (pos > 0 && before(s, &out[pos - 1]))
            pos--;
        if (pos >= max) continue;
        unsigned last = *n < max ? *n : max - 1;
        memmove(&out[pos + 1], &out[pos], (last - pos) * sizeof *out);
        snprintf(out[pos].name, sizeof out[pos].name, "%s", s->name);
        out[pos].count = s->count;
        if (*n < max) (*n)++;
    }
}

void an_tally_free(an_tally *t)
{
    for (size_t i = 0; i < t->cap; i++)
        free(t->slots[i].name);
    free(t->slots);
    memset(t, 0, sizeof *t);
}

static void idset_grow(an_idset *s)
{
    size_t cap = s->cap ? s->cap * 2 : 1024;
    uint64_t *slots = calloc(cap, sizeof *slots);
    if (!slots) abort();
    for (size_t i = 0; i < s->cap; i++) {
        if (!s->slots[i]) continue;
        size_t j = hash_u64(s->slots[i]) & (cap - 1);
        while (slots[j])
            j = (j + 1) & (cap - 1);
        slots[j] = s->slots[i];
    }
    free(s->slots);
    s->slots = slots;
    s->cap = cap;
}

void an_idset_add(an_idset *s, uint64_t id)
{
    if (id == 0) {
        s->has_zero = true;
        return;
    }
    if ((s->n + 1) * 2 > s->cap) idset_grow(s);
    size_t j = hash_u64(id) & (s->cap - 1);
    while (s->slots[j] && s->slots[j] != id)
        j = (j + 1) & (s->cap - 1);
    if (!s->slots[j]) {
        s->slots[j] = id;
        s->n++;
    }
}

size_t an_idset_count(const an_idset *s)
{
    return s->n + (s->has_zero ? 1 : 0);
}

void an_idset_free(an_idset *s)
{
    free(s->slots);
    memset(s, 0, sizeof *s);
}
