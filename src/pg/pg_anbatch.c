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

/* Decimal digits by hand: snprintf was the largest client-side cost of a batch. */
static void put_num(pg_anbatch_buf *b, int64_t v)
{
    char t[24];
    size_t i = sizeof t;
    uint64_t u = v < 0 ? 0 - (uint64_t)v : (uint64_t)v;
    do {
        t[--i] = (char)('0' + u % 10);
        u /= 10;
    } while (u);
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

/* ---- per-key aggregates -----------------------------------------------------------------------
 */

#define AGG_NV 9

/* A row: key (k1, k2 or name), values summed (or, for the per-user aggregate, the minimum). */
typedef struct agg_row {
    int64_t k1, k2;
    const char *name;
    int64_t v[AGG_NV];
} agg_row;

struct pg_anbatch_agg {
    agg_row *r;
    size_t n, cap;
};

static agg_row *agg_new(pg_anbatch_agg *a, int64_t k1, int64_t k2, const char *name);

enum { A_MS, A_MC, A_MR, A_MU, A_DS, A_HU, A_HS, A_DC, A_DR, A_HC, A_HR, A_US, A_COUNT };

static bool same_key(const agg_row *r, int64_t k1, int64_t k2, const char *name)
{
    return r->k1 == k1 && r->k2 == k2 &&
           (r->name == name || (r->name && name && strcmp(r->name, name) == 0));
}

/* The row of a key among the last few added (most aggregates have a handful of keys per
 * batch: days, hours, command names), else a new row; agg_fold merges whatever repeats. */
static agg_row *agg_add(pg_anbatch_agg *a, int64_t k1, int64_t k2, const char *name)
{
    for (size_t i = a->n, probes = 0; i > 0 && probes < 8; i--, probes++)
        if (same_key(&a->r[i - 1], k1, k2, name)) return &a->r[i - 1];
    return agg_new(a, k1, k2, name);
}

static agg_row *agg_new(pg_anbatch_agg *a, int64_t k1, int64_t k2, const char *name)
{
    if (a->n == a->cap) {
        a->cap = a->cap ? a->cap * 2 : 64;
        a->r = realloc(a->r, a->cap * sizeof *a->r);
        if (!a->r) abort();
    }
    agg_row *r = &a->r[a->n++];
    memset(r, 0, sizeof *r);
    r->k1 = k1;
    r->k2 = k2;
    r->name = name;
    return r;
}

/* Keys in the order the server sorts them: numbers as signed bigint, names byte-wise (the
 * "C" collation of the tables' text keys). */
static int row_cmp(const void *pa, const void *pb)
{
    const agg_row *a = pa, *b = pb;
    if (a->k1 != b->k1) return a->k1 < b->k1 ? -1 : 1;
    if (a->k2 != b->k2) return a->k2 < b->k2 ? -1 : 1;
    if (a->name && b->name) return strcmp(a->name, b->name);
    return (a->name != NULL) - (b->name != NULL);
}

/* Sorts by key and folds equal keys into one row (sum; min for the per-user times). */
static void agg_fold(pg_anbatch_agg *a, bool min)
{
    if (a->n < 2) return;
    qsort(a->r, a->n, sizeof *a->r, row_cmp);
    size_t out = 0;
    for (size_t i = 1; i < a->n; i++) {
        agg_row *o = &a->r[out], *r = &a->r[i];
        if (row_cmp(o, r) == 0) {
            for (int j = 0; j < AGG_NV; j++)
                o->v[j] = min ? (r->v[j] < o->v[j] ? r->v[j] : o->v[j]) : o->v[j] + r->v[j];
        } else {
            a->r[++out] = *r;
        }
    }
    a->n = out + 1;
}

/* The arrays of an aggregate: k1, then k2 or name when used, then nv value columns. */
static void agg_arrays(const pg_anbatch_agg *a, pg_anbatch_buf *out, int key2, int nv)
{
    int col = 0;
    a_open(&out[col]);
    for (size_t i = 0; i < a->n; i++)
        a_i64(&out[col], i == 0, a->r[i].k1);
    a_close(&out[col++]);
    if (key2) {
        a_open(&out[col]);
        for (size_t i = 0; i < a->n; i++) {
            if (key2 == 2)
                a_text(&out[col], i == 0, a->r[i].name);
            else
                a_i64(&out[col], i == 0, a->r[i].k2);
        }
        a_close(&out[col++]);
    }
    for (int j = 0; j < nv; j++, col++) {
        a_open(&out[col]);
        for (size_t i = 0; i < a->n; i++)
            a_i64(&out[col], i == 0, a->r[i].v[j]);
        a_close(&out[col]);
    }
}

/* ---- the batch --------------------------------------------------------------------------------
 */

void pg_anbatch_init(pg_anbatch *b)
{
    memset(b, 0, sizeof *b);
    b->aggs = calloc(A_COUNT, sizeof *b->aggs);
    if (!b->aggs) abort();
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
        for (int i = 0; i < A_COUNT; i++)
            free(b->aggs[i].r);
    free(b->aggs);
    free(b->user_ids);
    free(b->user_first_ms);
    free(b->success);
    memset(b, 0, sizeof *b);
}

static int u64_cmp(const void *pa, const void *pb)
{
    uint64_t a = *(const uint64_t *)pa, b = *(const uint64_t *)pb;
    return a < b ? -1 : a > b;
}

void pg_anbatch_interactions(pg_anbatch *b, const an_event *const *evs, size_t n)
{
    uint64_t *ids = malloc((n ? n : 1) * sizeof *ids);
    if (!ids) abort();
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
    free(ids);
}

/* The latest event of each key among the events of one kind: (key, index) sorted by key, the
 * latest first, then one per key. */
typedef struct latest {
    uint64_t key;
    size_t i;
} latest;

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

static bool in_batch_commands(const an_event *const *evs, size_t n, uint64_t ix)
{
    for (size_t i = 0; i < n; i++)
        if (evs[i]->kind == AN_EV_COMMAND && evs[i]->interaction_id == ix) return true;
    return false;
}

/* The final success of each command row: its own, then an outcome stored earlier for its
 * interaction, then this batch's latest outcome for it (the newest word wins). */
static void command_success(pg_anbatch *b, const an_event *const *evs, size_t n, const latest *outs,
                            size_t nouts, const pg_anbatch_early *early, size_t nearly)
{
    if (b->success_cap < n) {
        b->success_cap = n;
        b->success = realloc(b->success, n * sizeof *b->success);
        if (!b->success) abort();
    }
    for (size_t i = 0; i < n; i++) {
        const an_event *e = evs[i];
        bool ok = e->success;
        if (e->kind == AN_EV_COMMAND && e->interaction_id) {
            for (size_t j = 0; j < nearly; j++)
                if (early[j].interaction_id == e->interaction_id) ok = early[j].success;
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
        const char *name = e->command ? e->command : "";
        agg_add(&b->aggs[A_DC], day, 0, name)->v[0] += 1;
        agg_add(&b->aggs[A_HC], hour, 0, name)->v[0] += 1;
        agg_add(&b->aggs[A_MC], minute, 0, name)->v[0] += 1;
    }
    if (img && ok && e->resolution && e->resolution[0]) {
        agg_add(&b->aggs[A_DR], day, 0, e->resolution)->v[0] += 1;
        agg_add(&b->aggs[A_HR], hour, 0, e->resolution)->v[0] += 1;
        agg_add(&b->aggs[A_MR], minute, 0, e->resolution)->v[0] += 1;
    }
    if (minute > b->newest_minute) b->newest_minute = minute;
    /* the earliest event per user: a new row starts at this event's time */
    r = agg_add(&b->aggs[A_US], user, 0, NULL);
    if (r->v[1] == 0 || e->ts_ms < r->v[0]) r->v[0] = e->ts_ms;
    r->v[1] = 1;
}

static void outcome_arrays(pg_anbatch *b, const an_event *const *evs, size_t n, const latest *outs,
                           size_t nouts)
{
    a_open(&b->outcomes[0]);
    a_open(&b->outcomes[1]);
    b->n_outcomes = 0;
    for (size_t i = 0; i < nouts; i++) {
        if (in_batch_commands(evs, n, outs[i].key)) continue; /* applied to the row itself */
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

void pg_anbatch_build(pg_anbatch *b, int64_t wid, const an_event *const *evs, size_t n,
                      const pg_anbatch_early *early, size_t nearly)
{
    pg_anbatch_buf_clear(&b->copy_cmd);
    pg_anbatch_buf_clear(&b->copy_img);
    pg_anbatch_buf_clear(&b->copy_act);
    b->n_cmd = b->n_img = b->n_act = 0;
    b->newest_minute = INT64_MIN;
    for (int i = 0; i < A_COUNT; i++)
        b->aggs[i].n = 0;
    latest *scratch = malloc((n ? n : 1) * sizeof *scratch);
    if (!scratch) abort();

    size_t nouts = latest_of(evs, n, AN_EV_OUTCOME, false, scratch);
    command_success(b, evs, n, scratch, nouts, early, nearly);
    outcome_arrays(b, evs, n, scratch, nouts);

    for (size_t i = 0; i < n; i++) {
        const an_event *e = evs[i];
        if (e->kind != AN_EV_COMMAND && e->kind != AN_EV_IMAGE && e->kind != AN_EV_ACTIVITY)
            continue;
        raw_rows(b, wid, e, b->success[i]);
        roll(b, e, b->success[i]);
    }
    for (int i = 0; i < A_COUNT; i++)
        agg_fold(&b->aggs[i], i == A_US);
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

    const pg_anbatch_agg *us = &b->aggs[A_US];
    if (b->users_cap < us->n) {
        b->users_cap = us->n;
        b->user_ids = realloc(b->user_ids, us->n * sizeof *b->user_ids);
        b->user_first_ms = realloc(b->user_first_ms, us->n * sizeof *b->user_first_ms);
        if (!b->user_ids || !b->user_first_ms) abort();
    }
    for (size_t i = 0; i < us->n; i++) {
        b->user_ids[i] = us->r[i].k1;
        b->user_first_ms[i] = us->r[i].v[0];
    }
    b->n_users = us->n;

    size_t nres = latest_of(evs, n, AN_EV_RESULT, true, scratch);
    result_arrays(b, evs, scratch, nres, false);
    nres = latest_of(evs, n, AN_EV_RESULT_MSG, true, scratch);
    result_arrays(b, evs, scratch, nres, true);
    free(scratch);
}
