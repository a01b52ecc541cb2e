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

static void idcount_grow(an_idcount *m)
{
    size_t cap = m->cap ? m->cap * 2 : 1024;
    an_idcount_slot *slots = calloc(cap, sizeof *slots);
    if (!slots) abort();
    for (size_t i = 0; i < m->cap; i++) {
        if (!m->slots[i].id) continue;
        size_t j = hash_u64(m->slots[i].id) & (cap - 1);
        while (slots[j].id)
            j = (j + 1) & (cap - 1);
        slots[j] = m->slots[i];
    }
    free(m->slots);
    m->slots = slots;
    m->cap = cap;
}

void an_idcount_add(an_idcount *m, uint64_t id, int64_t delta)
{
    if (id == 0) {
        m->zero_count += delta;
        return;
    }
    if ((m->n + 1) * 2 > m->cap) idcount_grow(m);
    size_t j = hash_u64(id) & (m->cap - 1);
    while (m->slots[j].id && m->slots[j].id != id)
        j = (j + 1) & (m->cap - 1);
    if (!m->slots[j].id) {
        m->slots[j].id = id;
        m->n++;
    }
    m->slots[j].count += delta;
}

void an_idcount_summary(const an_idcount *m, int64_t min, uint64_t *with_any, uint64_t *with_min)
{
    uint64_t any = 0, active = 0;
    for (size_t i = 0; i < m->cap; i++) {
        if (!m->slots[i].id) continue;
        any += m->slots[i].count >= 1;
        active += m->slots[i].count >= min;
    }
    any += m->zero_count >= 1;
    active += m->zero_count >= min;
    *with_any = any;
    *with_min = active;
}

void an_idcount_free(an_idcount *m)
{
    free(m->slots);
    memset(m, 0, sizeof *m);
}
