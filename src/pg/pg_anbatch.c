/*
 * A batch of analytics events as COPY text and per-key rollup arrays (see pg_anbatch.h). Owned
 * by the pg module; used by pg_anstore.c only, on the store's thread.
 */
#include "pg/pg_anbatch.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analytics/an_time.h"

/* ---- buffers ------------------------------------------------------------------------------ */

static void put(pg_anbatch_buf *b, const char *p, size_t n)
{
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap < b->len + n + 1)
            cap *= 2;
        b->p = realloc(b->p, cap);
        if (!b->p) abort();
        b->cap = cap;
    }
    memcpy(b->p + b->len, p, n);
    b->len += n;
    b->p[b->len] = 0;
}

void pg_anbatch_buf_clear(pg_anbatch_buf *b)
{
    b->len = 0;
    if (b->p) b->p[0] = 0;
}

void pg_anbatch_buf_free(pg_anbatch_buf *b)
{
    free(b->p);
    memset(b, 0, sizeof *b);
}

/* Decimal digits by hand, two at a time: snprintf was the largest client-side cost of a
 * batch, and the numbers are most of a batch's text. */
static const char k_digits2[] = "00010203040506070809101112131415161718192021222324252627282930"
                                "31323334353637383940414243444546474849505152535455565758596061"
                                "62636465666768697071727374757677787980818283848586878889909192"
                                "93949596979899";

static void put_num(pg_anbatch_buf *b, int64_t v)
{
    char t[24];
    size_t i = sizeof t;
    uint64_t u = v < 0 ? 0 - (uint64_t)v : (uint64_t)v;
    while (u >= 100) {
        unsigned d = (unsigned)(u % 100) * 2;
        u /= 100;
        t[--i] = k_digits2[d + 1];
        t[--i] = k_digits2[d];
    }
    if (u >= 10) {
        t[--i] = k_digits2[u * 2 + 1];
        t[--i] = k_digits2[u * 2];
    } else {
        t[--i] = (char)('0' + u);
    }
    if (v < 0) t[--i] = '-';
    put(b, t + i, sizeof t - i);
}

void pg_anbatch_buf_array_i64(pg_anbatch_buf *b, const int64_t *v, size_t n)
{
    pg_anbatch_buf_clear(b);
    put(b, "{", 1);
    for (size_t i = 0; i < n; i++) {
        if (i) put(b, ",", 1);
        put_num(b, v[i]);
    }
    put(b, "}", 1);
}

/* ---- COPY text format: tab-separated columns, \N for NULL ---------------------------------- */

static void c_sep(pg_anbatch_buf *b, bool first)
{
    if (!first) put(b, "\t", 1);
}

static void c_i64(pg_anbatch_buf *b, bool first, int64_t v)
{
    c_sep(b, first);
    put_num(b, v);
}

/* 0 = none (NULL), as the SQLite store binds ids. Snowflakes keep their 64 bits in bigint. */
static void c_id(pg_anbatch_buf *b, uint64_t id)
{
    c_sep(b, false);
    if (id)
        put_num(b, (int64_t)id);
    else
        put(b, "\\N", 2);
}

/* Backslash, tab, newline and carriage return escaped; the values are data, never SQL. */
static void c_text(pg_anbatch_buf *b, const char *t)
{
    c_sep(b, false);
    if (!t) {
        put(b, "\\N", 2);
        return;
    }
    const char *run = t;
    for (const char *p = t; *p; p++) {
        const char *esc;
        switch (*p) {
        case '\\':
            esc = "\\\\";
            break;
        case '\t':
            esc = "\\t";
            break;
        case '\n':
            esc = "\\n";
            break;
        case '\r':
            esc = "\\r";
            break;
        default:
            continue;
        }
        put(b, run, (size_t)(p - run));
        put(b, esc, 2);
        run = p + 1;
    }
    put(b, run, strlen(run));
}

static void c_double(pg_anbatch_buf *b, double v)
{
    if (v == (double)(int64_t)v && v > -1e15 && v < 1e15) { /* whole (1, 2, 4): exact */
        c_i64(b, false, (int64_t)v);
        return;
    }
    char t[40];
    int n = snprintf(t, sizeof t, "%.17g", v);
    c_sep(b, false);
    put(b, t, (size_t)n);
}

/* ---- array literals -------------------------------------------------------------------------- */

/* One element of a text[] literal: double-quoted, with backslash and quote escaped (so commas,
 * braces and spaces are data); NULL is the bare word. */
static void a_text(pg_anbatch_buf *b, bool first, const char *t)
{
    if (!first) put(b, ",", 1);
    if (!t) {
        put(b, "NULL", 4);
        return;
    }
    put(b, "\"", 1);
    const char *run = t;
    for (const char *p = t; *p; p++) {
        if (*p != '\\' && *p != '"') continue;
        put(b, run, (size_t)(p - run));
        put(b, "\\", 1);
        put(b, p, 1);
        run = p + 1;
    }
    put(b, run, strlen(run));
    put(b, "\"", 1);
}

static void a_i64(pg_anbatch_buf *b, bool first, int64_t v)
{
    if (!first) put(b, ",", 1);
    put_num(b, v);
}

static void a_id(pg_anbatch_buf *b, bool first, uint64_t id)
{
    if (!first) put(b, ",", 1);
    if (id)
        put_num(b, (int64_t)id);
    else
        put(b, "NULL", 4);
}

static void a_open(pg_anbatch_buf *b)
{
    pg_anbatch_buf_clear(b);
    put(b, "{", 1);
}

static void a_close(pg_anbatch_buf *b)
{
    put(b, "}", 1);
}

/* ---- per-key aggregates ----------------------------------------------------------------------
 *
 * A hash table per aggregate: each event finds its key's row in O(1), so a batch costs one row
 * per distinct key (about one per user for the per-user rollups) instead of one per event, and
 * only the distinct keys are sorted for the arrays. (Appending a row per event and sorting them
 * all was most of the client's time for a transaction of a backlog: 4096 events sorted per
 * per-user rollup.) */

#define AGG_NV 9

/* A row: key (k1, k2 or name), values summed (or, for the per-user aggregate, the minimum). */
typedef struct agg_row {
    int64_t k1, k2;
    const char *name;
    int64_t v[AGG_NV];
} agg_row;

/* A slot of the hash table: the row's index + 1, valid while gen is the table's generation
 * (so a batch empties the table by incrementing the generation, not by clearing it). */
typedef struct agg_slot {
    uint32_t gen, row;
} agg_slot;

struct pg_anbatch_agg {
    agg_row *r; /* the batch's distinct keys, in the order first seen */
    size_t n, cap;
    agg_slot *slot;
    size_t nslots; /* a power of two, at least twice n */
    uint32_t gen;
    uint32_t *order; /* r's indices sorted by key (agg_sort), cap of them */
    size_t last;     /* the row the previous event used (most events repeat their key) */
};

enum { A_MS, A_MC, A_MR, A_MU, A_DS, A_HU, A_HS, A_DC, A_DR, A_HC, A_HR, A_US, A_COUNT };

/* Names are interned (intern_name): equal names are the same pointer within a batch, so keys
 * compare and hash as numbers. */
static bool same_key(const agg_row *r, int64_t k1, int64_t k2, const char *name)
{
    return r->k1 == k1 && r->k2 == k2 && r->name == name;
}

static uint64_t mix64(uint64_t h)
{
    h ^= h >> 29;
    h *= 0xBF58476D1CE4E5B9ULL;
    return h ^ (h >> 32);
}

static uint64_t key_hash(int64_t k1, int64_t k2, const char *name)
{
    uint64_t h = (uint64_t)k1 * 0x9E3779B97F4A7C15ULL;
    h ^= (uint64_t)k2 + 0x7F4A7C159E3779B9ULL + (h << 6) + (h >> 2);
    h ^= (uint64_t)(uintptr_t)name * 0xC2B2AE3D27D4EB4FULL;
    return mix64(h);
}

static void agg_reset(pg_anbatch_agg *a)
{
    a->n = 0;
    a->last = 0;
    if (++a->gen == 0) { /* wrapped: stale slots could look current */
        if (a->slot) memset(a->slot, 0, a->nslots * sizeof *a->slot);
        a->gen = 1;
    }
}

static void agg_place(pg_anbatch_agg *a, size_t row, uint64_t h)
{
    size_t m = a->nslots - 1, i = (size_t)h & m;
    while (a->slot[i].gen == a->gen)
        i = (i + 1) & m;
    a->slot[i].gen = a->gen;
    a->slot[i].row = (uint32_t)row + 1;
}

/* Room for one more row: the rows and the order grow together, the table stays at most half
 * full (rebuilt from the rows when it doubles). */
static void agg_grow(pg_anbatch_agg *a)
{
    if (a->n == a->cap) {
        a->cap = a->cap ? a->cap * 2 : 64;
        a->r = realloc(a->r, a->cap * sizeof *a->r);
        a->order = realloc(a->order, a->cap * sizeof *a->order);
        if (!a->r || !a->order) abort();
    }
    if ((a->n + 1) * 2 <= a->nslots) return;
    free(a->slot);
    a->nslots = a->nslots ? a->nslots * 2 : 128;
    a->slot = calloc(a->nslots, sizeof *a->slot);
    if (!a->slot) abort();
    a->gen = 1;
    for (size_t i = 0; i < a->n; i++)
        agg_place(a, i, key_hash(a->r[i].k1, a->r[i].k2, a->r[i].name));
}

/* The row of a key, added (zeroed) when the batch has none yet. */
static agg_row *agg_add(pg_anbatch_agg *a, int64_t k1, int64_t k2, const char *name)
{
    if (a->n && same_key(&a->r[a->last], k1, k2, name)) return &a->r[a->last];
    uint64_t h = key_hash(k1, k2, name);
    if (a->nslots) {
        size_t m = a->nslots - 1;
        for (size_t i = (size_t)h & m; a->slot[i].gen == a->gen; i = (i + 1) & m) {
            agg_row *r = &a->r[a->slot[i].row - 1];
            if (same_key(r, k1, k2, name)) {
                a->last = a->slot[i].row - 1;
                return r;
            }
        }
    }
    agg_grow(a);
    agg_row *r = &a->r[a->n];
    memset(r, 0, sizeof *r);
    r->k1 = k1;
    r->k2 = k2;
    r->name = name;
    agg_place(a, a->n, h);
    a->last = a->n++;
    return r;
}

/* Keys in the order the server sorts them: numbers as signed bigint, names byte-wise (the
 * "C" collation of the tables' text keys). */
static int row_cmp(const agg_row *a, const agg_row *b)
{
    if (a->k1 != b->k1) return a->k1 < b->k1 ? -1 : 1;
    if (a->k2 != b->k2) return a->k2 < b->k2 ? -1 : 1;
    if (a->name && b->name) return strcmp(a->name, b->name);
    return (a->name != NULL) - (b->name != NULL);
}

/* The rows agg_sort's comparison reads: qsort has no context argument in C11, and stores on
 * several threads sort at the same time. */
static _Thread_local const agg_row *g_sort_rows;

static int order_cmp(const void *pa, const void *pb)
{
    return row_cmp(&g_sort_rows[*(const uint32_t *)pa], &g_sort_rows[*(const uint32_t *)pb]);
}

/* a->order: the rows by key, so that the arrays list keys in the server's order. */
static void agg_sort(pg_anbatch_agg *a)
{
    for (size_t i = 0; i < a->n; i++)
        a->order[i] = (uint32_t)i;
    if (a->n < 2) return;
    /* insertion sort (rows are mostly few and often already in order), else qsort */
    if (a->n <= 16) {
        for (size_t i = 1; i < a->n; i++) {
            uint32_t x = a->order[i];
            size_t j = i;
            for (; j > 0 && row_cmp(&a->r[a->order[j - 1]], &a->r[x]) > 0; j--)
                a->order[j] = a->order[j - 1];
            a->order[j] = x;
        }
        return;
    }
    g_sort_rows = a->r;
    qsort(a->order, a->n, sizeof *a->order, order_cmp);
}

/* ---- binary arrays (the rollups' parameters) -------------------------------------------------
 *
 * PostgreSQL's binary array format (array_send/array_recv): dimensions, a has-nulls flag, the
 * element type, then each element as its length and bytes, all integers big-endian. The
 * server reads a bigint[] of a few thousand elements several times faster this way than from
 * its text literal, and the pending row's arrays are most of a transaction's statements. */

#define OID_INT8 20
#define OID_TEXT 25

static void put_be32(pg_anbatch_buf *b, uint32_t v)
{
    unsigned char t[4] = {(unsigned char)(v >> 24), (unsigned char)(v >> 16),
                          (unsigned char)(v >> 8), (unsigned char)v};
    put(b, (const char *)t, 4);
}

static void put_be64(pg_anbatch_buf *b, uint64_t v)
{
    put_be32(b, (uint32_t)(v >> 32));
    put_be32(b, (uint32_t)v);
}

/* The header of a one-dimensional array of n elements (none: the empty array). */
static void bin_open(pg_anbatch_buf *b, size_t n, uint32_t elemtype, bool hasnull)
{
    pg_anbatch_buf_clear(b);
    put_be32(b, n ? 1 : 0);
    put_be32(b, hasnull ? 1 : 0);
    put_be32(b, elemtype);
    if (n) {
        put_be32(b, (uint32_t)n);
        put_be32(b, 1); /* lower bound */
    }
}

static void bin_i64(pg_anbatch_buf *b, int64_t v)
{
    put_be32(b, 8);
    put_be64(b, (uint64_t)v);
}

static void bin_text(pg_anbatch_buf *b, const char *t)
{
    if (!t) {
        put_be32(b, UINT32_MAX); /* -1: NULL */
        return;
    }
    size_t n = strlen(t);
    put_be32(b, (uint32_t)n);
    put(b, t, n);
}

/* The arrays of an aggregate, keys in order, in the binary format: k1, then k2 or name when
 * used, then nv value columns. */
static void agg_arrays(pg_anbatch_agg *a, pg_anbatch_buf *out, int key2, int nv)
{
    agg_sort(a);
    int col = 0;
    bin_open(&out[col], a->n, OID_INT8, false);
    for (size_t i = 0; i < a->n; i++)
        bin_i64(&out[col], a->r[a->order[i]].k1);
    col++;
    if (key2 == 2) {
        bool hasnull = false;
        for (size_t i = 0; i < a->n; i++)
            hasnull |= a->r[i].name == NULL;
        bin_open(&out[col], a->n, OID_TEXT, hasnull);
        for (size_t i = 0; i < a->n; i++)
            bin_text(&out[col], a->r[a->order[i]].name);
        col++;
    } else if (key2) {
        bin_open(&out[col], a->n, OID_INT8, false);
        for (size_t i = 0; i < a->n; i++)
            bin_i64(&out[col], a->r[a->order[i]].k2);
        col++;
    }
    for (int j = 0; j < nv; j++, col++) {
        bin_open(&out[col], a->n, OID_INT8, false);
        for (size_t i = 0; i < a->n; i++)
            bin_i64(&out[col], a->r[a->order[i]].v[j]);
    }
}

/* ---- names interned per batch ------------------------------------------------------------
 *
 * Every event carries its own copy of its command and resolution names. The first event of a
 * batch with a name stands for all equal ones: one hash of the string per name and event,
 * instead of comparing strings in every rollup that has the name in its key. */

typedef struct name_slot {
    uint32_t gen;
    const char *p;
} name_slot;

struct pg_anbatch_names {
    name_slot *slot;
    size_t nslots, n; /* a power of two, at least twice n */
    uint32_t gen;
};

static uint64_t str_hash(const char *p)
{
    uint64_t h = 0xCBF29CE484222325ULL;
    for (const unsigned char *c = (const unsigned char *)p; *c; c++)
        h = (h ^ *c) * 0x100000001B3ULL;
    return mix64(h);
}

static void names_reset(pg_anbatch_names *t)
{
    t->n = 0;
    if (++t->gen == 0) {
        if (t->slot) memset(t->slot, 0, t->nslots * sizeof *t->slot);
        t->gen = 1;
    }
}

static void names_place(pg_anbatch_names *t, const char *p, uint64_t h)
{
    size_t m = t->nslots - 1, i = (size_t)h & m;
    while (t->slot[i].gen == t->gen)
        i = (i + 1) & m;
    t->slot[i].gen = t->gen;
    t->slot[i].p = p;
}

/* The batch's pointer for the name p (p itself the first time). */
static const char *intern_name(pg_anbatch_names *t, const char *p)
{
    uint64_t h = str_hash(p);
    if (t->nslots) {
        size_t m = t->nslots - 1;
        for (size_t i = (size_t)h & m; t->slot[i].gen == t->gen; i = (i + 1) & m)
            if (strcmp(t->slot[i].p, p) == 0) return t->slot[i].p;
    }
    if ((t->n + 1) * 2 > t->nslots) {
        name_slot *old = t->slot;
        size_t oldn = t->nslots;
        uint32_t oldgen = t->gen;
        t->nslots = t->nslots ? t->nslots * 2 : 32;
        t->slot = calloc(t->nslots, sizeof *t->slot);
        if (!t->slot) abort();
        t->gen = 1;
        for (size_t i = 0; i < oldn; i++)
            if (old[i].gen == oldgen) names_place(t, old[i].p, str_hash(old[i].p));
        free(old);
    }
    names_place(t, p, h);
    t->n++;
    return p;
}

/* ---- the batch --------------------------------------------------------------------------------
 */

void pg_anbatch_init(pg_anbatch *b)
{
    memset(b, 0, sizeof *b);
    b->aggs = calloc(A_COUNT, sizeof *b->aggs);
    b->names_tab = calloc(1, sizeof *b->names_tab);
    if (!b->aggs || !b->names_tab) abort();
}

void pg_anbatch_free(pg_anbatch *b)
{
    pg_anbatch_buf_free(&b->copy_cmd);
    pg_anbatch_buf_free(&b->copy_img);
    pg_anbatch_buf_free(&b->copy_act);
    for (int i = 0; i < PG_ANBATCH_DAYS_NP; i++)
        pg_anbatch_buf_free(&b->days[i]);
    for (int i = 0; i < PG_ANBATCH_HOURS_NP; i++)
        pg_anbatch_buf_free(&b->hours[i]);
    for (int i = 0; i < PG_ANBATCH_NAMES_NP; i++)
        pg_anbatch_buf_free(&b->names[i]);
    for (int i = 0; i < PG_ANBATCH_MINUTES_NP; i++)
        pg_anbatch_buf_free(&b->minutes[i]);
    for (int i = 0; i < PG_ANBATCH_OUTCOMES_NP; i++)
        pg_anbatch_buf_free(&b->outcomes[i]);
    for (int i = 0; i < PG_ANBATCH_RESULTS_NP; i++)
        pg_anbatch_buf_free(&b->results[i]);
    for (int i = 0; i < PG_ANBATCH_RESULT_MSGS_NP; i++)
        pg_anbatch_buf_free(&b->result_msgs[i]);
    pg_anbatch_buf_free(&b->ix);
    if (b->aggs)
        for (int i = 0; i < A_COUNT; i++) {
            free(b->aggs[i].r);
            free(b->aggs[i].slot);
            free(b->aggs[i].order);
        }
    free(b->aggs);
    if (b->names_tab) free(b->names_tab->slot);
    free(b->names_tab);
    free(b->user_ids);
    free(b->user_first_ms);
    free(b->success);
    free(b->ix_ids);
    free(b->early);
    free(b->latest);
    memset(b, 0, sizeof *b);
}

/* p with room for n elements of size sz (its capacity in *cap, updated). */
static void *reserve(void *p, size_t *cap, size_t n, size_t sz)
{
    if (n == 0) n = 1;
    if (p && *cap >= n) return p;
    size_t c = *cap ? *cap : 64;
    while (c < n)
        c *= 2;
    p = realloc(p, c * sz);
    if (!p) abort();
    *cap = c;
    return p;
}

static int u64_cmp(const void *pa, const void *pb)
{
    uint64_t a = *(const uint64_t *)pa, b = *(const uint64_t *)pb;
    return a < b ? -1 : a > b;
}

/* Whether the sorted v[0..n) holds key. */
static bool u64_has(const uint64_t *v, size_t n, uint64_t key)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (v[mid] < key)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < n && v[lo] == key;
}

void pg_anbatch_interactions(pg_anbatch *b, const an_event *const *evs, size_t n)
{
    b->ix_ids = reserve(b->ix_ids, &b->ix_cap, n, sizeof *b->ix_ids);
    uint64_t *ids = b->ix_ids;
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (evs[i]->kind == AN_EV_COMMAND && evs[i]->interaction_id)
            ids[k++] = evs[i]->interaction_id;
    qsort(ids, k, sizeof *ids, u64_cmp);
    size_t d = 0;
    for (size_t i = 0; i < k; i++)
        if (d == 0 || ids[i] != ids[d - 1]) ids[d++] = ids[i];
    a_open(&b->ix);
    for (size_t i = 0; i < d; i++)
        a_i64(&b->ix, i == 0, (int64_t)ids[i]);
    a_close(&b->ix);
    b->n_ix = d;
}

/* The latest event of each key among the events of one kind: (key, index) sorted by key, the
 * latest first, then one per key. */
struct pg_anbatch_latest {
    uint64_t key;
    size_t i;
};
typedef struct pg_anbatch_latest latest;

static int latest_cmp(const void *pa, const void *pb)
{
    const latest *a = pa, *b = pb;
    if (a->key != b->key) return a->key < b->key ? -1 : 1;
    return a->i > b->i ? -1 : a->i < b->i; /* later events first */
}

static size_t latest_of(const an_event *const *evs, size_t n, an_event_kind kind, bool by_job,
                        latest *out)
{
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (evs[i]->kind == kind)
            out[k++] = (latest){by_job ? evs[i]->job_id : evs[i]->interaction_id, i};
    qsort(out, k, sizeof *out, latest_cmp);
    size_t d = 0;
    for (size_t i = 0; i < k; i++)
        if (d == 0 || out[i].key != out[d - 1].key) out[d++] = out[i];
    return d;
}

static const latest *latest_find(const latest *v, size_t n, uint64_t key)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (v[mid].key < key)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < n && v[lo].key == key ? &v[lo] : NULL;
}

static int early_cmp(const void *pa, const void *pb)
{
    const pg_anbatch_early *a = pa, *b = pb;
    return a->interaction_id < b->interaction_id ? -1 : a->interaction_id > b->interaction_id;
}

static const pg_anbatch_early *early_find(const pg_anbatch_early *v, size_t n, uint64_t key)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (v[mid].interaction_id < key)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < n && v[lo].interaction_id == key ? &v[lo] : NULL;
}

/* The final success of each command row: its own, then an outcome stored earlier for its
 * interaction, then this batch's latest outcome for it (the newest word wins). */
static void command_success(pg_anbatch *b, const an_event *const *evs, size_t n, const latest *outs,
                            size_t nouts)
{
    for (size_t i = 0; i < n; i++) {
        const an_event *e = evs[i];
        bool ok = e->success;
        if (e->kind == AN_EV_COMMAND && e->interaction_id) {
            const pg_anbatch_early *x = early_find(b->early, b->nearly, e->interaction_id);
            if (x) ok = x->success;
            const latest *o = latest_find(outs, nouts, e->interaction_id);
            if (o) ok = evs[o->i]->success;
        }
        b->success[i] = ok;
    }
}

static void raw_rows(pg_anbatch *b, int64_t wid, const an_event *e, bool ok)
{
    switch (e->kind) {
    case AN_EV_COMMAND: {
        pg_anbatch_buf *c = &b->copy_cmd;
        c_i64(c, true, wid);
        c_i64(c, false, (int64_t)e->seq);
        c_text(c, e->command ? e->command : "");
        c_i64(c, false, (int64_t)e->user_id);
        c_id(c, e->guild_id);
        c_id(c, e->channel_id);
        c_i64(c, false, e->ts_ms);
        c_i64(c, false, e->duration_ms);
        c_i64(c, false, ok ? 1 : 0);
        c_text(c, an_cmd_kind_name(e->cmd_kind));
        c_id(c, e->interaction_id);
        put(c, "\n", 1);
        b->n_cmd++;
        break;
    }
    case AN_EV_IMAGE: {
        pg_anbatch_buf *c = &b->copy_img;
        c_i64(c, true, wid);
        c_i64(c, false, (int64_t)e->seq);
        c_i64(c, false, (int64_t)e->user_id);
        c_id(c, e->guild_id);
        c_text(c, e->prompt);
        c_text(c, e->resolution);
        c_text(c, e->loras);
        c_double(c, e->upscale_factor > 0 ? e->upscale_factor : 1.0);
        c_i64(c, false, e->duration_ms);
        c_i64(c, false, e->is_video ? 1 : 0);
        c_text(c, e->generation_type ? e->generation_type : e->is_video ? "video" : "standard");
        c_i64(c, false, ok ? 1 : 0);
        c_i64(c, false, e->ts_ms);
        c_id(c, e->width);
        c_id(c, e->height);
        put(c, "\n", 1);
        b->n_img++;
        break;
    }
    case AN_EV_ACTIVITY: {
        pg_anbatch_buf *c = &b->copy_act;
        c_i64(c, true, wid);
        c_i64(c, false, (int64_t)e->seq);
        c_i64(c, false, (int64_t)e->user_id);
        c_id(c, e->guild_id);
        c_text(c, e->action ? e->action : "");
        c_i64(c, false, e->ts_ms);
        c_text(c, e->details);
        put(c, "\n", 1);
        b->n_act++;
        break;
    }
    default:
        break;
    }
}

/* One statistic event into every rollup aggregate (an_rollup.c's meanings). */
static void roll(pg_anbatch *b, const an_event *e, bool ok)
{
    int64_t day = an_day_of(e->ts_ms), hour = an_hour_of(e->ts_ms), user = (int64_t)e->user_id;
    int64_t minute = an_time_minute_of(e->ts_ms);
    bool cmd = e->kind == AN_EV_COMMAND && e->cmd_kind == AN_CMD_SLASH;
    bool button = e->kind == AN_EV_COMMAND && e->cmd_kind == AN_CMD_BUTTON;
    bool img = e->kind == AN_EV_IMAGE;
    bool image = img && ok && !e->is_video, video = img && ok && e->is_video;
    int64_t ms = e->duration_ms;

    agg_row *r = agg_add(&b->aggs[A_DS], day, 0, NULL);
    r->v[0] += cmd;
    r->v[1] += cmd && !ok;
    r->v[2] += image;
    r->v[3] += image ? ms : 0;
    r->v[4] += video;
    r->v[5] += video ? ms : 0;
    r->v[6] += img && !ok;
    r->v[7] += e->kind == AN_EV_ACTIVITY;
    r->v[8] += button;
    r = agg_add(&b->aggs[A_HU], hour, user, NULL); /* daily_users sums these per day */
    r->v[0] += cmd;
    r->v[1] += 1;
    r = agg_add(&b->aggs[A_HS], hour, 0, NULL);
    r->v[0] += cmd;
    r->v[1] += image;
    r->v[2] += image ? ms : 0;
    r->v[3] += video;
    r->v[4] += video ? ms : 0;
    r->v[5] += button;
    r = agg_add(&b->aggs[A_MS], minute, 0, NULL);
    r->v[0] += cmd;
    r->v[1] += image;
    r->v[2] += image ? ms : 0;
    r->v[3] += video;
    r->v[4] += video ? ms : 0;
    r->v[5] += button;
    agg_add(&b->aggs[A_MU], minute, user, NULL)->v[0] += 1;
    if (cmd) {
        const char *name = intern_name(b->names_tab, e->command ? e->command : "");
        agg_add(&b->aggs[A_DC], day, 0, name)->v[0] += 1;
        agg_add(&b->aggs[A_HC], hour, 0, name)->v[0] += 1;
        agg_add(&b->aggs[A_MC], minute, 0, name)->v[0] += 1;
    }
    if (img && ok && e->resolution && e->resolution[0]) {
        const char *res = intern_name(b->names_tab, e->resolution);
        agg_add(&b->aggs[A_DR], day, 0, res)->v[0] += 1;
        agg_add(&b->aggs[A_HR], hour, 0, res)->v[0] += 1;
        agg_add(&b->aggs[A_MR], minute, 0, res)->v[0] += 1;
    }
    if (minute > b->newest_minute) b->newest_minute = minute;
    /* the earliest event per user: a new row starts at this event's time */
    r = agg_add(&b->aggs[A_US], user, 0, NULL);
    if (r->v[1] == 0 || e->ts_ms < r->v[0]) r->v[0] = e->ts_ms;
    r->v[1] = 1;
}

/* The outcomes whose command row is not in this batch (those in it went into the row). */
static void outcome_arrays(pg_anbatch *b, const an_event *const *evs, const latest *outs,
                           size_t nouts)
{
    a_open(&b->outcomes[0]);
    a_open(&b->outcomes[1]);
    b->n_outcomes = 0;
    for (size_t i = 0; i < nouts; i++) {
        if (u64_has(b->ix_ids, b->n_ix, outs[i].key)) continue; /* applied to the row itself */
        bool first = b->n_outcomes++ == 0;
        a_i64(&b->outcomes[0], first, (int64_t)outs[i].key);
        a_i64(&b->outcomes[1], first, evs[outs[i].i]->success ? 1 : 0);
    }
    a_close(&b->outcomes[0]);
    a_close(&b->outcomes[1]);
}

static void result_arrays(pg_anbatch *b, const an_event *const *evs, const latest *v, size_t nv,
                          bool msg)
{
    pg_anbatch_buf *a = msg ? b->result_msgs : b->results;
    int na = msg ? PG_ANBATCH_RESULT_MSGS_NP : PG_ANBATCH_RESULTS_NP;
    for (int j = 0; j < na; j++)
        a_open(&a[j]);
    for (size_t i = 0; i < nv; i++) {
        const an_event *e = evs[v[i].i];
        bool f = i == 0;
        a_i64(&a[0], f, (int64_t)e->job_id);
        a_i64(&a[1], f, e->ts_ms);
        a_i64(&a[2], f, (int64_t)e->user_id);
        a_id(&a[3], f, e->channel_id);
        if (msg) {
            a_id(&a[4], f, e->message_id);
            a_text(&a[5], f, e->url);
        } else {
            a_text(&a[4], f, e->params ? e->params : "{}");
            a_i64(&a[5], f, e->success ? 1 : 0);
            a_i64(&a[6], f, e->is_image ? 1 : 0);
            a_text(&a[7], f, e->url);
        }
    }
    for (int j = 0; j < na; j++)
        a_close(&a[j]);
    if (msg)
        b->n_result_msgs = nv;
    else
        b->n_results = nv;
}

void pg_anbatch_begin(pg_anbatch *b, const an_event *const *evs, size_t n,
                      const pg_anbatch_early *early, size_t nearly)
{
    b->success = reserve(b->success, &b->success_cap, n, sizeof *b->success);
    b->latest = reserve(b->latest, &b->latest_cap, n, sizeof *b->latest);
    b->early = reserve(b->early, &b->early_cap, nearly, sizeof *b->early);
    if (nearly) memcpy(b->early, early, nearly * sizeof *early);
    qsort(b->early, nearly, sizeof *b->early, early_cmp);
    b->nearly = nearly;
    size_t nouts = latest_of(evs, n, AN_EV_OUTCOME, false, b->latest);
    command_success(b, evs, n, b->latest, nouts);
    outcome_arrays(b, evs, b->latest, nouts);
}

void pg_anbatch_copy(pg_anbatch *b, int64_t wid, const an_event *const *evs, size_t n,
                     an_event_kind kind)
{
    if (kind != AN_EV_COMMAND && kind != AN_EV_IMAGE && kind != AN_EV_ACTIVITY) return;
    pg_anbatch_buf *c = kind == AN_EV_COMMAND ? &b->copy_cmd
                        : kind == AN_EV_IMAGE ? &b->copy_img
                                              : &b->copy_act;
    size_t *count = kind == AN_EV_COMMAND ? &b->n_cmd : kind == AN_EV_IMAGE ? &b->n_img : &b->n_act;
    pg_anbatch_buf_clear(c);
    *count = 0;
    /* (activity rows have no success: they may be built before pg_anbatch_begin) */
    for (size_t i = 0; i < n; i++)
        if (evs[i]->kind == kind) raw_rows(b, wid, evs[i], kind == AN_EV_ACTIVITY || b->success[i]);
}

void pg_anbatch_rollups(pg_anbatch *b, const an_event *const *evs, size_t n)
{
    b->newest_minute = INT64_MIN;
    for (int i = 0; i < A_COUNT; i++)
        agg_reset(&b->aggs[i]);
    names_reset(b->names_tab);
    for (size_t i = 0; i < n; i++) {
        const an_event *e = evs[i];
        if (e->kind == AN_EV_COMMAND || e->kind == AN_EV_IMAGE || e->kind == AN_EV_ACTIVITY)
            roll(b, e, b->success[i]);
    }
    agg_arrays(&b->aggs[A_DS], &b->days[0], 0, 9);
    agg_arrays(&b->aggs[A_HU], &b->hours[0], 1, 2);
    agg_arrays(&b->aggs[A_HS], &b->hours[4], 0, 6);
    agg_arrays(&b->aggs[A_DC], &b->names[0], 2, 1);
    agg_arrays(&b->aggs[A_DR], &b->names[3], 2, 1);
    agg_arrays(&b->aggs[A_HC], &b->names[6], 2, 1);
    agg_arrays(&b->aggs[A_HR], &b->names[9], 2, 1);
    agg_arrays(&b->aggs[A_MS], &b->minutes[0], 0, 6);
    agg_arrays(&b->aggs[A_MC], &b->minutes[7], 2, 1);
    agg_arrays(&b->aggs[A_MR], &b->minutes[10], 2, 1);
    agg_arrays(&b->aggs[A_MU], &b->minutes[13], 1, 1);

    pg_anbatch_agg *us = &b->aggs[A_US];
    agg_sort(us);
    if (b->users_cap < us->n || !b->user_ids) {
        b->users_cap = us->n ? us->n : 1;
        b->user_ids = realloc(b->user_ids, b->users_cap * sizeof *b->user_ids);
        b->user_first_ms = realloc(b->user_first_ms, b->users_cap * sizeof *b->user_first_ms);
        if (!b->user_ids || !b->user_first_ms) abort();
    }
    for (size_t i = 0; i < us->n; i++) {
        b->user_ids[i] = us->r[us->order[i]].k1;
        b->user_first_ms[i] = us->r[us->order[i]].v[0];
    }
    b->n_users = us->n;

    size_t nres = latest_of(evs, n, AN_EV_RESULT, true, b->latest);
    result_arrays(b, evs, b->latest, nres, false);
    nres = latest_of(evs, n, AN_EV_RESULT_MSG, true, b->latest);
    result_arrays(b, evs, b->latest, nres, true);
}

void pg_anbatch_build(pg_anbatch *b, int64_t wid, const an_event *const *evs, size_t n,
                      const pg_anbatch_early *early, size_t nearly)
{
    pg_anbatch_begin(b, evs, n, early, nearly);
    pg_anbatch_copy(b, wid, evs, n, AN_EV_COMMAND);
    pg_anbatch_copy(b, wid, evs, n, AN_EV_IMAGE);
    pg_anbatch_copy(b, wid, evs, n, AN_EV_ACTIVITY);
    pg_anbatch_rollups(b, evs, n);
}
