/* Shared /stats computations: a burst of identical queries on many threads is computed far
 * fewer times than it is asked, every thread gets the same answer (chart bytes included), and
 * different queries never share.
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
    c->f = stats_flight_new();
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
    uint64_t computed, nshared;
    stats_flight_counts(c->f, &computed, &nshared);
    assert_int_equal(computed, calls);
    assert_int_equal(nshared, shared);
    stats_flight_free(c->f);
    free(c);
}

static void test_different_queries_do_not_share(void **state)
{
    (void)state;
    shared_ctx *c = calloc(1, sizeof *c);
    c->f = stats_flight_new();
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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_identical_queries_share),
        cmocka_unit_test(test_different_queries_do_not_share),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
