/* Shared /stats computations: a burst of identical queries on many threads is computed far
 * fewer times than it is asked, every thread gets the same answer (chart bytes included), and
 * different queries never share. With a data version, an answer is handed on to later
 * identical queries only while the version is unchanged, the new end lies in the answer's
 * validity, and the answer is young enough; each handed-on answer states the new window.
 * fluxbot-test: tsan */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "actors/stats_flight.h"
#include "analytics/an_time.h"

#define THREADS 8

typedef struct shared_ctx {
    stats_flight *f;
    _Atomic unsigned calls;
    _Atomic unsigned started;
    int days[THREADS];
    stats_flight_answer answers[THREADS];
    bool was_shared[THREADS];
} shared_ctx;

static void slow_compute(void *ctx, int days, int64_t now_ms, stats_flight_answer *out)
{
    shared_ctx *c = ctx;
    atomic_fetch_add(&c->calls, 1);
    /* The first computation lasts until every thread has started, and then a while longer so
     * they reach the flight table, however slow the machine is. */
    struct timespec ts = {0, 5 * 1000 * 1000};
    while (atomic_load(&c->started) < THREADS)
        nanosleep(&ts, NULL);
    ts.tv_nsec = 100 * 1000 * 1000;
    nanosleep(&ts, NULL);
    out->rc = 0;
    out->stats.window.days = days;
    out->stats.total_images = (uint64_t)days * 1000 + (uint64_t)(now_ms % 1000);
    out->png_len = 16;
    out->png = malloc(out->png_len);
    memset(out->png, days, out->png_len);
}

typedef struct arg {
    shared_ctx *c;
    int i;
} arg;

static void *worker(void *p)
{
    arg *a = p;
    atomic_fetch_add(&a->c->started, 1);
    stats_flight_run(a->c->f, a->c->days[a->i], 1710082800123LL, slow_compute, a->c,
                     &a->c->answers[a->i], &a->c->was_shared[a->i]);
    return NULL;
}

static void run_all(shared_ctx *c)
{
    pthread_t t[THREADS];
    arg a[THREADS];
    for (int i = 0; i < THREADS; i++) {
        a[i] = (arg){c, i};
        pthread_create(&t[i], NULL, worker, &a[i]);
    }
    for (int i = 0; i < THREADS; i++)
        pthread_join(t[i], NULL);
}

static void test_identical_queries_share(void **state)
{
    (void)state;
    shared_ctx *c = calloc(1, sizeof *c);
    c->f = stats_flight_new(NULL, 0);
    for (int i = 0; i < THREADS; i++)
        c->days[i] = 7;
    run_all(c);
    unsigned calls = atomic_load(&c->calls);
    /* Threads joined another's computation (typically one computation serves all eight). */
    assert_true(calls >= 1 && calls < THREADS);
    unsigned shared = 0;
    for (int i = 0; i < THREADS; i++) {
        assert_int_equal(c->answers[i].rc, 0);
        assert_int_equal(c->answers[i].stats.total_images, 7123);
        assert_int_equal(c->answers[i].png_len, 16);
        assert_int_equal(c->answers[i].png[15], 7);
        shared += c->was_shared[i];
        free(c->answers[i].png);
    }
    assert_int_equal(shared + calls, THREADS);
    uint64_t computed, nshared, reused;
    stats_flight_counts(c->f, &computed, &nshared, &reused);
    assert_int_equal(computed, calls);
    assert_int_equal(nshared, shared);
    assert_int_equal(reused, 0);
    stats_flight_free(c->f);
    free(c);
}

static void test_different_queries_do_not_share(void **state)
{
    (void)state;
    shared_ctx *c = calloc(1, sizeof *c);
    c->f = stats_flight_new(NULL, 0);
    for (int i = 0; i < THREADS; i++)
        c->days[i] = i + 1;
    run_all(c);
    assert_int_equal(atomic_load(&c->calls), THREADS);
    for (int i = 0; i < THREADS; i++) {
        assert_false(c->was_shared[i]);
        assert_int_equal(c->answers[i].stats.total_images, (uint64_t)(i + 1) * 1000 + 123);
        free(c->answers[i].png);
    }
    stats_flight_free(c->f);
    free(c);
}

/* ---- answers handed on ------------------------------------------------------------------- */

#define T0 1710082800123LL

typedef struct count_ctx {
    unsigned calls;
    int64_t valid_for; /* valid_until = now + this (0: not reusable) */
    _Atomic uint64_t version;
    bool bump_during; /* the "writer" commits while the answer is read */
} count_ctx;

static void counting_compute(void *ctx, int days, int64_t now_ms, stats_flight_answer *out)
{
    count_ctx *c = ctx;
    c->calls++;
    out->rc = 0;
    an_window_make(days, now_ms, &out->stats.window);
    out->stats.total_images = c->calls;
    out->png_len = 4;
    out->png = malloc(4);
    memset(out->png, (int)c->calls, 4);
    out->valid_until_ms = c->valid_for ? now_ms + c->valid_for : 0;
    if (c->bump_during) atomic_fetch_add(&c->version, 1);
}

static uint64_t ask(stats_flight *f, count_ctx *c, int days, int64_t now_ms, bool *shared)
{
    stats_flight_answer a;
    stats_flight_run(f, days, now_ms, counting_compute, c, &a, shared);
    assert_int_equal(a.rc, 0);
    /* Whoever computed it, the window is the query's own. */
    assert_int_equal(a.stats.window.now_ms, now_ms);
    assert_int_equal(a.stats.window.start_ms,
                     (an_time_minute_of(now_ms) - (int64_t)days * 1440 + 1) * AN_TIME_MINUTE_MS);
    assert_int_equal(a.png_len, 4);
    assert_int_equal(a.png[3], (unsigned char)a.stats.total_images);
    free(a.png);
    return a.stats.total_images;
}

static void test_answers_handed_on_while_nothing_changes(void **state)
{
    (void)state;
    count_ctx c = {.valid_for = 500};
    stats_flight *f = stats_flight_new(&c.version, 60000);
    bool shared;
    assert_int_equal(ask(f, &c, 7, T0, &shared), 1);
    assert_false(shared);
    /* Same version, later end inside the validity: the first answer, restated. */
    assert_int_equal(ask(f, &c, 7, T0 + 10, &shared), 1);
    assert_true(shared);
    assert_int_equal(ask(f, &c, 7, T0 + 499, &shared), 1);
    /* At valid_until, earlier than the answer, or another window: computed again. */
    assert_int_equal(ask(f, &c, 7, T0 + 500, &shared), 2);
    assert_false(shared);
    assert_int_equal(ask(f, &c, 7, T0 + 400, &shared), 3);
    assert_int_equal(ask(f, &c, 30, T0 + 450, &shared), 4);
    /* Each window length keeps its own answer. */
    assert_int_equal(ask(f, &c, 7, T0 + 401, &shared), 3);
    assert_int_equal(ask(f, &c, 30, T0 + 451, &shared), 4);
    /* A commit: the next query reads again, and its answer is handed on in turn. */
    atomic_fetch_add(&c.version, 1);
    assert_int_equal(ask(f, &c, 7, T0 + 402, &shared), 5);
    assert_false(shared);
    assert_int_equal(ask(f, &c, 7, T0 + 403, &shared), 5);
    uint64_t computed, nshared, reused;
    stats_flight_counts(f, &computed, &nshared, &reused);
    assert_int_equal(computed, 5);
    assert_int_equal(nshared, 0);
    assert_int_equal(reused, 5);
    stats_flight_free(f);
}

static void test_answers_not_handed_on(void **state)
{
    (void)state;
    bool shared;
    /* A commit while the answer was read: its rows may be older than the version now. */
    count_ctx c = {.valid_for = 500, .bump_during = true};
    stats_flight *f = stats_flight_new(&c.version, 60000);
    assert_int_equal(ask(f, &c, 7, T0, &shared), 1);
    assert_int_equal(ask(f, &c, 7, T0 + 1, &shared), 2);
    stats_flight_free(f);
    /* No validity (the horizon could not be read). */
    count_ctx d = {.valid_for = 0};
    f = stats_flight_new(&d.version, 60000);
    assert_int_equal(ask(f, &d, 7, T0, &shared), 1);
    assert_int_equal(ask(f, &d, 7, T0 + 1, &shared), 2);
    stats_flight_free(f);
    /* Without a data version nothing outlives its computation. */
    count_ctx e = {.valid_for = 500};
    f = stats_flight_new(NULL, 0);
    assert_int_equal(ask(f, &e, 7, T0, &shared), 1);
    assert_int_equal(ask(f, &e, 7, T0 + 1, &shared), 2);
    stats_flight_free(f);
}

/* The age bound: an answer older than reuse_max_ms is read again even with the same version
 * (a write by another process is not counted). */
static void test_old_answers_read_again(void **state)
{
    (void)state;
    count_ctx c = {.valid_for = 10 * 60 * 1000};
    stats_flight *f = stats_flight_new(&c.version, 300);
    bool shared;
    assert_int_equal(ask(f, &c, 7, T0, &shared), 1);
    /* (reused unless this thread lost the CPU for 300 ms: then computed, which is right too) */
    uint64_t second = ask(f, &c, 7, T0 + 1, &shared);
    assert_true(second == 1 || second == 2);
    struct timespec ts = {0, 400 * 1000 * 1000};
    nanosleep(&ts, NULL);
    assert_int_equal(ask(f, &c, 7, T0 + 2, &shared), second + 1);
    stats_flight_free(f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_answers_handed_on_while_nothing_changes),
        cmocka_unit_test(test_answers_not_handed_on),
        cmocka_unit_test(test_old_answers_read_again),
        cmocka_unit_test(test_identical_queries_share),
        cmocka_unit_test(test_different_queries_do_not_share),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
