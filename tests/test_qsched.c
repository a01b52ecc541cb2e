/*
 * comfy/qsched.c, the dispatch order of waiting jobs: levels first (high, normal, low), users
 * taking turns within a level (one user's burst does not starve others), a user's own jobs in
 * arrival order, the remembered turns bounded.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "comfy/qsched.h"

#define A 1
#define B 2
#define C 3

/* Hands every job out as the coordinator does (next, served, remove); the users in order. */
static void drain(qsched *s, qsched_job *w, unsigned n, uint64_t *users)
{
    for (unsigned k = 0; k < n; k++) {
        unsigned left = n - k;
        int i = qsched_next(s, w, left);
        assert_true(i >= 0 && (unsigned)i < left);
        users[k] = w[i].user_id;
        qsched_served(s, w[i].user_id);
        memmove(&w[i], &w[i + 1], (left - i - 1) * sizeof *w);
    }
    assert_int_equal(qsched_next(s, w, 0), -1);
}

static void burst_does_not_starve(void **state)
{
    (void)state;
    qsched *s = qsched_new();
    /* A sends five, then B and C one each */
    qsched_job w[] = {{A, QSCHED_NORMAL}, {A, QSCHED_NORMAL}, {A, QSCHED_NORMAL},
                      {A, QSCHED_NORMAL}, {A, QSCHED_NORMAL}, {B, QSCHED_NORMAL},
                      {C, QSCHED_NORMAL}};
    uint64_t got[7];
    drain(s, w, 7, got);
    uint64_t want[7] = {A, B, C, A, A, A, A};
    assert_memory_equal(got, want, sizeof want);
    qsched_free(s);
}

static void turns_remembered(void **state)
{
    (void)state;
    qsched *s = qsched_new();
    /* A was just served: B and C, never served, go before A's next, in arrival order */
    qsched_served(s, A);
    qsched_job w[] = {{A, QSCHED_NORMAL}, {C, QSCHED_NORMAL}, {B, QSCHED_NORMAL}};
    uint64_t got[3];
    drain(s, w, 3, got);
    uint64_t want[3] = {C, B, A};
    assert_memory_equal(got, want, sizeof want);
    /* now the longest ago is C: C, B, A again */
    qsched_job v[] = {{A, QSCHED_NORMAL}, {B, QSCHED_NORMAL}, {C, QSCHED_NORMAL}};
    drain(s, v, 3, got);
    assert_memory_equal(got, want, sizeof want);
    qsched_free(s);
}

static void levels_first(void **state)
{
    (void)state;
    qsched *s = qsched_new();
    qsched_job w[] = {{C, QSCHED_LOW},  {B, QSCHED_NORMAL}, {C, QSCHED_LOW},
                      {A, QSCHED_HIGH}, {B, QSCHED_NORMAL}, {A, QSCHED_HIGH}};
    uint64_t got[6];
    drain(s, w, 6, got);
    uint64_t want[6] = {A, A, B, B, C, C};
    assert_memory_equal(got, want, sizeof want);
    qsched_free(s);
}

static void order_matches_next(void **state)
{
    (void)state;
    qsched *s = qsched_new();
    qsched_served(s, B);
    qsched_job w[] = {{A, QSCHED_NORMAL}, {A, QSCHED_NORMAL}, {B, QSCHED_NORMAL},
                      {C, QSCHED_LOW},    {B, QSCHED_HIGH},   {A, QSCHED_NORMAL}};
    unsigned order[6];
    qsched_order(s, w, 6, order);
    /* B's high job, then A and B take turns (A never served), A's rest, then C's low one */
    unsigned want[6] = {4, 0, 2, 1, 5, 3};
    assert_memory_equal(order, want, sizeof want);
    /* the order is what next/served hand out, and asking for it changes nothing */
    qsched_job copy[6];
    memcpy(copy, w, sizeof w);
    unsigned idx[6] = {0, 1, 2, 3, 4, 5};
    for (unsigned k = 0; k < 6; k++) {
        unsigned left = 6 - k;
        int i = qsched_next(s, copy, left);
        assert_int_equal(idx[i], want[k]);
        qsched_served(s, copy[i].user_id);
        memmove(&copy[i], &copy[i + 1], (left - i - 1) * sizeof *copy);
        memmove(&idx[i], &idx[i + 1], (left - i - 1) * sizeof *idx);
    }
    qsched_free(s);
}

static void bounded_memory(void **state)
{
    (void)state;
    qsched *s = qsched_new();
    for (uint64_t u = 1; u <= QSCHED_USERS_MAX + 10; u++)
        qsched_served(s, 1000 + u);
    /* the most recently served are still remembered (after those never served) */
    qsched_job w[] = {{1000 + QSCHED_USERS_MAX + 10, QSCHED_NORMAL}, {7, QSCHED_NORMAL}};
    assert_int_equal(qsched_next(s, w, 2), 1);
    /* one of the first, forgotten, counts as never served: before the newest */
    qsched_job v[] = {{1000 + QSCHED_USERS_MAX + 10, QSCHED_NORMAL}, {1001, QSCHED_NORMAL}};
    assert_int_equal(qsched_next(s, v, 2), 1);
    qsched_free(s);
}

static void level_names(void **state)
{
    (void)state;
    assert_int_equal(qsched_level_parse("high"), QSCHED_HIGH);
    assert_int_equal(qsched_level_parse("normal"), QSCHED_NORMAL);
    assert_int_equal(qsched_level_parse("low"), QSCHED_LOW);
    assert_int_equal(qsched_level_parse("HIGH"), -1);
    assert_int_equal(qsched_level_parse(NULL), -1);
    assert_string_equal(qsched_level_name(QSCHED_LOW), "low");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(burst_does_not_starve), cmocka_unit_test(turns_remembered),
        cmocka_unit_test(levels_first),          cmocka_unit_test(order_matches_next),
        cmocka_unit_test(bounded_memory),        cmocka_unit_test(level_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
