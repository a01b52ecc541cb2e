/* pg_anbatch (no server): a batch's rollup arrays against a plain reference computed here
 * (every event summed per key, keys sorted as the server sorts them) on batches larger than any
 * of its tables start with, with names in per-event copies, outcomes in and out of the batch
 * and outcomes stored earlier; the same arrays whatever the order of the events and whatever
 * batch the same pg_anbatch built before; the rollups' arrays well-formed in PostgreSQL's binary
 * format; COPY text with one line per row. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analytics/an_event.h"
#include "analytics/an_time.h"
#include "pg/pg_anbatch.h"
#include "test_an_util.h"

#define DAY_MS 86400000LL
#define T0 (19700LL * DAY_MS)

static uint64_t rnd(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

static const char *const k_cmds[] = {"comfy", "redux", "pulid", "video", "stats", "q\"u\\ote"};
static const char *const k_res[] = {"1024x1024", "16:9 [1920x1080 landscape]", "832x1216", "",
                                    "2:3"};

/* n random events over three days: commands (slash and buttons, most with an interaction id),
 * images, activity, and outcomes for interactions in and out of the batch. */
static an_event *make_events(uint64_t seed, size_t n, unsigned users)
{
    an_event *evs = calloc(n, sizeof *evs);
    uint64_t s = seed;
    for (size_t i = 0; i < n; i++) {
        uint64_t r = rnd(&s);
        int64_t ts = T0 + (int64_t)(rnd(&s) % (3 * DAY_MS));
        uint64_t user = 1000 + (r >> 8) % users;
        switch (r % 10) {
        case 0:
        case 1:
        case 2:
        case 3:
            evs[i] = ev_interaction(i + 1, ts, user, k_cmds[(r >> 20) % 6],
                                    (r >> 30) % 4 ? AN_CMD_SLASH : AN_CMD_BUTTON, (r >> 33) % 3);
            if ((r >> 36) % 8) evs[i].interaction_id = 500000 + (r >> 40) % 3000;
            break;
        case 4:
        case 5:
        case 6:
            evs[i] = ev_image(i + 1, ts, user, k_res[(r >> 20) % 5], (uint32_t)((r >> 24) % 90000),
                              (r >> 30) % 5 == 0, (r >> 33) % 6 != 0);
            break;
        case 7:
        case 8:
            evs[i] = ev_activity(i + 1, ts, user, "job_queued");
            break;
        default:
            evs[i].kind = AN_EV_OUTCOME;
            evs[i].seq = i + 1;
            evs[i].ts_ms = ts;
            evs[i].interaction_id = 500000 + (r >> 40) % 3600; /* some name no row */
            evs[i].success = (r >> 33) % 2;
            break;
        }
    }
    return evs;
}

static void free_events(an_event *evs, size_t n)
{
    for (size_t i = 0; i < n; i++)
        an_event_clear(&evs[i]);
    free(evs);
}

static const an_event **ptrs_of(an_event *evs, size_t n)
{
    const an_event **p = calloc(n, sizeof *p);
    for (size_t i = 0; i < n; i++)
        p[i] = &evs[i];
    return p;
}

/* ---- the reference ---------------------------------------------------------------------- */

typedef struct ref_row {
    int64_t k1, k2;
    const char *name;
    int64_t v[9];
} ref_row;

static int ref_cmp(const void *pa, const void *pb)
{
    const ref_row *a = pa, *b = pb;
    if (a->k1 != b->k1) return a->k1 < b->k1 ? -1 : 1;
    if (a->k2 != b->k2) return a->k2 < b->k2 ? -1 : 1;
    if (a->name && b->name) return strcmp(a->name, b->name);
    return (a->name != NULL) - (b->name != NULL);
}

/* Sorted, equal keys summed (or their minimum). */
static size_t ref_fold(ref_row *r, size_t n, bool min)
{
    if (n == 0) return 0;
    qsort(r, n, sizeof *r, ref_cmp);
    size_t out = 0;
    for (size_t i = 1; i < n; i++) {
        if (ref_cmp(&r[out], &r[i]) == 0) {
            for (int j = 0; j < 9; j++)
                r[out].v[j] = min ? (r[i].v[j] < r[out].v[j] ? r[i].v[j] : r[out].v[j])
                                  : r[out].v[j] + r[i].v[j];
        } else {
            r[++out] = r[i];
        }
    }
    return out + 1;
}

static void put(char **p, size_t *len, size_t *cap, const char *s)
{
    size_t n = strlen(s);
    if (*len + n + 1 > *cap) {
        *cap = (*len + n + 1) * 2;
        *p = realloc(*p, *cap);
    }
    memcpy(*p + *len, s, n + 1);
    *len += n;
}

/* The array literal of column col of r (col -1: k1, -2: k2, -3: name, else v[col]). */
static char *ref_array(const ref_row *r, size_t n, int col)
{
    char *p = NULL, t[64];
    size_t len = 0, cap = 0;
    put(&p, &len, &cap, "{");
    for (size_t i = 0; i < n; i++) {
        if (i) put(&p, &len, &cap, ",");
        if (col == -3) {
            put(&p, &len, &cap, "\"");
            for (const char *c = r[i].name; *c; c++) {
                char one[3] = {0};
                if (*c == '"' || *c == '\\') {
                    one[0] = '\\';
                    one[1] = *c;
                } else {
                    one[0] = *c;
                }
                put(&p, &len, &cap, one);
            }
            put(&p, &len, &cap, "\"");
            continue;
        }
        int64_t v = col == -1 ? r[i].k1 : col == -2 ? r[i].k2 : r[i].v[col];
        snprintf(t, sizeof t, "%" PRId64, v);
        put(&p, &len, &cap, t);
    }
    put(&p, &len, &cap, "}");
    return p;
}

static uint32_t be32_at(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* A rollup parameter (PostgreSQL's binary array format: bigint[] or text[]) as the text
 * literal ref_array writes, after checking its header. */
static char *decode(const pg_anbatch_buf *b)
{
    const unsigned char *p = (const unsigned char *)b->p, *end = p + b->len;
    assert_true(b->len >= 12);
    uint32_t ndim = be32_at(p), elemtype = be32_at(p + 8);
    assert_true(ndim <= 1);
    assert_true(elemtype == 20 || elemtype == 25);
    p += 12;
    size_t n = 0;
    if (ndim) {
        n = be32_at(p);
        assert_int_equal(be32_at(p + 4), 1); /* lower bound */
        p += 8;
    }
    char *out = NULL, t[64];
    size_t len = 0, cap = 0;
    put(&out, &len, &cap, "{");
    for (size_t i = 0; i < n; i++) {
        assert_true(p + 4 <= end);
        uint32_t l = be32_at(p);
        p += 4;
        if (i) put(&out, &len, &cap, ",");
        if (l == UINT32_MAX) {
            put(&out, &len, &cap, "NULL");
            continue;
        }
        assert_true(p + l <= end);
        if (elemtype == 20) {
            assert_int_equal(l, 8);
            uint64_t v = (uint64_t)be32_at(p) << 32 | be32_at(p + 4);
            snprintf(t, sizeof t, "%" PRId64, (int64_t)v);
            put(&out, &len, &cap, t);
        } else {
            put(&out, &len, &cap, "\"");
            for (uint32_t k = 0; k < l; k++) {
                char one[3] = {0};
                if (p[k] == '"' || p[k] == '\\') {
                    one[0] = '\\';
                    one[1] = (char)p[k];
                } else {
                    one[0] = (char)p[k];
                }
                put(&out, &len, &cap, one);
            }
            put(&out, &len, &cap, "\"");
        }
        p += l;
    }
    assert_true(p == end);
    put(&out, &len, &cap, "}");
    return out;
}

static void expect_array(const ref_row *r, size_t n, int col, const pg_anbatch_buf *got)
{
    char *want = ref_array(r, n, col), *text = decode(got);
    if (strcmp(want, text) != 0)
        fprintf(stderr, "column %d: want %.200s\n            got  %.200s\n", col, want, text);
    assert_string_equal(want, text);
    free(want);
    free(text);
}

/* The final success of event i: its own; an outcome stored earlier; the batch's latest. */
static bool final_success(const an_event *evs, size_t n, size_t i, const pg_anbatch_early *early,
                          size_t nearly)
{
    const an_event *e = &evs[i];
    bool ok = e->success;
    if (e->kind != AN_EV_COMMAND || !e->interaction_id) return ok;
    for (size_t j = 0; j < nearly; j++)
        if (early[j].interaction_id == e->interaction_id) ok = early[j].success;
    for (size_t j = 0; j < n; j++)
        if (evs[j].kind == AN_EV_OUTCOME && evs[j].interaction_id == e->interaction_id)
            ok = evs[j].success; /* the last one in the batch wins */
    return ok;
}

/* Checks b (built from evs) against the reference: daily stats, per (hour, user), per
 * (minute, user), daily commands, hourly resolutions, users' earliest events. */
static void check_against_reference(const pg_anbatch *b, const an_event *evs, size_t n,
                                    const pg_anbatch_early *early, size_t nearly)
{
    ref_row *ds = calloc(n, sizeof *ds), *hu = calloc(n, sizeof *hu), *mu = calloc(n, sizeof *mu);
    ref_row *dc = calloc(n, sizeof *dc), *hr = calloc(n, sizeof *hr), *us = calloc(n, sizeof *us);
    size_t nds = 0, nhu = 0, nmu = 0, ndc = 0, nhr = 0, nus = 0, ncmd = 0, nimg = 0, nact = 0;
    for (size_t i = 0; i < n; i++) {
        const an_event *e = &evs[i];
        if (e->kind != AN_EV_COMMAND && e->kind != AN_EV_IMAGE && e->kind != AN_EV_ACTIVITY)
            continue;
        ncmd += e->kind == AN_EV_COMMAND;
        nimg += e->kind == AN_EV_IMAGE;
        nact += e->kind == AN_EV_ACTIVITY;
        bool ok = final_success(evs, n, i, early, nearly);
        bool cmd = e->kind == AN_EV_COMMAND && e->cmd_kind == AN_CMD_SLASH;
        bool button = e->kind == AN_EV_COMMAND && e->cmd_kind == AN_CMD_BUTTON;
        bool img = e->kind == AN_EV_IMAGE;
        bool image = img && ok && !e->is_video, video = img && ok && e->is_video;
        int64_t day = an_day_of(e->ts_ms), hour = an_hour_of(e->ts_ms);
        int64_t minute = an_time_minute_of(e->ts_ms), user = (int64_t)e->user_id;
        ds[nds++] = (ref_row){.k1 = day,
                              .v = {cmd, cmd && !ok, image, image ? e->duration_ms : 0, video,
                                    video ? e->duration_ms : 0, img && !ok,
                                    e->kind == AN_EV_ACTIVITY, button}};
        hu[nhu++] = (ref_row){.k1 = hour, .k2 = user, .v = {cmd, 1}};
        mu[nmu++] = (ref_row){.k1 = minute, .k2 = user, .v = {1}};
        us[nus++] = (ref_row){.k1 = user, .v = {e->ts_ms}};
        if (cmd) dc[ndc++] = (ref_row){.k1 = day, .name = e->command, .v = {1}};
        if (img && ok && e->resolution && e->resolution[0])
            hr[nhr++] = (ref_row){.k1 = hour, .name = e->resolution, .v = {1}};
    }
    assert_int_equal(b->n_cmd, ncmd);
    assert_int_equal(b->n_img, nimg);
    assert_int_equal(b->n_act, nact);
    nds = ref_fold(ds, nds, false);
    nhu = ref_fold(hu, nhu, false);
    nmu = ref_fold(mu, nmu, false);
    ndc = ref_fold(dc, ndc, false);
    nhr = ref_fold(hr, nhr, false);
    nus = ref_fold(us, nus, true);
    expect_array(ds, nds, -1, &b->days[0]);
    for (int j = 0; j < 9; j++)
        expect_array(ds, nds, j, &b->days[1 + j]);
    expect_array(hu, nhu, -1, &b->hours[0]);
    expect_array(hu, nhu, -2, &b->hours[1]);
    expect_array(hu, nhu, 0, &b->hours[2]);
    expect_array(hu, nhu, 1, &b->hours[3]);
    expect_array(mu, nmu, -1, &b->minutes[13]);
    expect_array(mu, nmu, -2, &b->minutes[14]);
    expect_array(mu, nmu, 0, &b->minutes[15]);
    expect_array(dc, ndc, -1, &b->names[0]);
    expect_array(dc, ndc, -3, &b->names[1]);
    expect_array(dc, ndc, 0, &b->names[2]);
    expect_array(hr, nhr, -1, &b->names[9]);
    expect_array(hr, nhr, -3, &b->names[10]);
    expect_array(hr, nhr, 0, &b->names[11]);
    assert_int_equal(b->n_users, nus);
    for (size_t i = 0; i < nus; i++) {
        assert_int_equal(b->user_ids[i], us[i].k1);
        assert_int_equal(b->user_first_ms[i], us[i].v[0]);
    }
    free(ds);
    free(hu);
    free(mu);
    free(dc);
    free(hr);
    free(us);
}

static size_t lines(const pg_anbatch_buf *b)
{
    size_t k = 0;
    for (size_t i = 0; i < b->len; i++)
        k += b->p[i] == '\n';
    return k;
}

/* A batch of 6000 events, 700 users over three days (thousands of keys per per-user rollup,
 * more than any table starts with), with early outcomes: every array as the reference has
 * it, and one COPY line per row. */
static void test_large_batch_matches_reference(void **state)
{
    (void)state;
    size_t n = 6000;
    an_event *evs = make_events(0x1234567, n, 700);
    const an_event **p = ptrs_of(evs, n);
    pg_anbatch_early early[] = {{500007, true}, {500003, false}, {500011, false}, {599999, true}};
    pg_anbatch b;
    pg_anbatch_init(&b);
    pg_anbatch_interactions(&b, p, n);
    pg_anbatch_build(&b, 1, p, n, early, 4);
    check_against_reference(&b, evs, n, early, 4);
    assert_int_equal(lines(&b.copy_cmd), b.n_cmd);
    assert_int_equal(lines(&b.copy_img), b.n_img);
    assert_int_equal(lines(&b.copy_act), b.n_act);
    assert_true(b.n_users > 600);
    pg_anbatch_free(&b);
    free(p);
    free_events(evs, n);
}

/* Every array a batch sends, concatenated (the rollups' decoded). */
static void put_arrays(char **p, size_t *len, size_t *cap, const pg_anbatch_buf *a, int n,
                       bool binary)
{
    for (int i = 0; i < n; i++) {
        char *text = binary ? decode(&a[i]) : NULL;
        put(p, len, cap, binary ? text : a[i].p);
        put(p, len, cap, "|");
        free(text);
    }
}

static char *all_arrays(const pg_anbatch *b)
{
    char *p = NULL;
    size_t len = 0, cap = 0;
    put_arrays(&p, &len, &cap, b->days, PG_ANBATCH_DAYS_NP, true);
    put_arrays(&p, &len, &cap, b->hours, PG_ANBATCH_HOURS_NP, true);
    put_arrays(&p, &len, &cap, b->names, PG_ANBATCH_NAMES_NP, true);
    put_arrays(&p, &len, &cap, b->minutes, PG_ANBATCH_MINUTES_NP, true);
    put_arrays(&p, &len, &cap, b->outcomes, PG_ANBATCH_OUTCOMES_NP, false);
    return p;
}

/* The same pg_anbatch reused: a small batch after a large one (and after many batches, so the
 * tables' generations move on) gives exactly what a fresh one gives. */
static void test_reuse_leaves_nothing_behind(void **state)
{
    (void)state;
    size_t nbig = 5000, nsmall = 300;
    an_event *big = make_events(99, nbig, 900), *small = make_events(7, nsmall, 40);
    const an_event **pb = ptrs_of(big, nbig), **ps = ptrs_of(small, nsmall);
    pg_anbatch fresh, reused;
    pg_anbatch_init(&fresh);
    pg_anbatch_init(&reused);
    pg_anbatch_interactions(&fresh, ps, nsmall);
    pg_anbatch_build(&fresh, 1, ps, nsmall, NULL, 0);
    char *want = all_arrays(&fresh);
    for (int round = 0; round < 300; round++) {
        pg_anbatch_interactions(&reused, round % 2 ? ps : pb, round % 2 ? nsmall : nbig / 50);
        pg_anbatch_build(&reused, 1, round % 2 ? ps : pb, round % 2 ? nsmall : nbig / 50, NULL, 0);
    }
    pg_anbatch_interactions(&reused, pb, nbig);
    pg_anbatch_build(&reused, 1, pb, nbig, NULL, 0);
    check_against_reference(&reused, big, nbig, NULL, 0);
    pg_anbatch_interactions(&reused, ps, nsmall);
    pg_anbatch_build(&reused, 1, ps, nsmall, NULL, 0);
    char *got = all_arrays(&reused);
    assert_string_equal(want, got);
    assert_string_equal(fresh.copy_cmd.p, reused.copy_cmd.p);
    assert_string_equal(fresh.copy_img.p, reused.copy_img.p);
    check_against_reference(&reused, small, nsmall, NULL, 0);
    free(want);
    free(got);
    pg_anbatch_free(&fresh);
    pg_anbatch_free(&reused);
    free(pb);
    free(ps);
    free_events(big, nbig);
    free_events(small, nsmall);
}

/* Without outcomes, the order of the events changes no rollup array (only the rows' order). */
static void test_rollups_ignore_event_order(void **state)
{
    (void)state;
    size_t n = 3000;
    an_event *evs = make_events(4242, n, 300);
    for (size_t i = 0; i < n; i++)
        if (evs[i].kind == AN_EV_OUTCOME) {
            evs[i].kind = AN_EV_ACTIVITY;
            evs[i].user_id = 1000 + i;
        }
    const an_event **p = ptrs_of(evs, n);
    pg_anbatch b;
    pg_anbatch_init(&b);
    pg_anbatch_interactions(&b, p, n);
    pg_anbatch_build(&b, 1, p, n, NULL, 0);
    char *want = all_arrays(&b);
    uint64_t s = 17;
    for (size_t i = n - 1; i > 0; i--) {
        size_t j = (size_t)(rnd(&s) % (i + 1));
        const an_event *t = p[i];
        p[i] = p[j];
        p[j] = t;
    }
    pg_anbatch_interactions(&b, p, n);
    pg_anbatch_build(&b, 1, p, n, NULL, 0);
    char *got = all_arrays(&b);
    assert_string_equal(want, got);
    free(want);
    free(got);
    pg_anbatch_free(&b);
    free(p);
    free_events(evs, n);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_large_batch_matches_reference),
        cmocka_unit_test(test_reuse_leaves_nothing_behind),
        cmocka_unit_test(test_rollups_ignore_event_order),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
