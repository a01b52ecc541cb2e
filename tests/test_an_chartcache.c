/* The /stats chart cache: the kept chart is handed out again when the picture would be the
 * same, or (with a lag allowed) when the bars only grew and it is recent enough; it is redrawn
 * when the buckets differ, when a bar total shrank (a reset), when it is too old, or when the
 * clock went back. What it hands out is always byte for byte a chart an_chart_png draws: the
 * current numbers' or, lagging, the kept numbers'. Two threads asking at once each get a
 * valid chart.
 *
 * fluxbot-test: tsan
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <pthread.h>

#include "analytics/an_chart.h"
#include "analytics/an_chartcache.h"
#include "analytics/an_stats.h"
#include "analytics/an_time.h"

#define NOW 1710082800000LL /* 2024-03-10 15:00:00 UTC */

static an_stats *week(int days, int64_t now)
{
    an_stats *s = calloc(1, sizeof *s);
    an_window w;
    an_window_make(days, now, &w);
    an_stats_begin(s, &w, AN_ACTIVE_MIN_DEFAULT);
    for (unsigned i = 0; i < s->n_series; i++) {
        s->series[i].images = 10 + i;
        s->series[i].videos = i % 3;
        s->series[i].commands = 40 + 2 * i;
    }
    return s;
}

/* The PNG an_chart_png draws for s. */
static unsigned char *drawn(const an_stats *s, size_t *len)
{
    unsigned char *png;
    char err[256];
    assert_int_equal(an_chart_png(s, &png, len, err, sizeof err), 0);
    return png;
}

/* Asks the cache; checks how, and that the PNG is exactly the one drawn for want. */
static void expect(an_chartcache *c, const an_stats *s, int64_t now, an_chartcache_how want_how,
                   const an_stats *want)
{
    unsigned char *png;
    size_t len;
    an_chartcache_how how;
    char err[256];
    assert_int_equal(an_chartcache_png(c, s, now, &png, &len, &how, err, sizeof err), 0);
    assert_int_equal(how, want_how);
    size_t wlen;
    unsigned char *w = drawn(want, &wlen);
    assert_int_equal(len, wlen);
    assert_memory_equal(png, w, len);
    free(w);
    free(png);
}

static void test_same_lagging_and_redrawn(void **state)
{
    (void)state;
    an_chartcache *c = an_chartcache_new(10000);
    an_stats *s = week(7, NOW), *grown = week(7, NOW), *fewer = week(7, NOW);
    grown->series[grown->n_series - 1].commands += 3; /* a few new commands today */
    grown->series[0].images += 1;
    fewer->series[fewer->n_series - 1].commands -= 1; /* a row left (a reset, or the window) */

    expect(c, s, NOW, AN_CHARTCACHE_DRAWN, s);
    expect(c, s, NOW + 60000, AN_CHARTCACHE_SAME, s); /* the same picture: any age */
    /* grown bars within the lag: the kept chart (the older numbers) */
    expect(c, grown, NOW + 5000, AN_CHARTCACHE_LAGGING, s);
    expect(c, grown, NOW + 10000, AN_CHARTCACHE_LAGGING, s);
    /* too old: redrawn with the current numbers, and kept from then on */
    expect(c, grown, NOW + 10001, AN_CHARTCACHE_DRAWN, grown);
    expect(c, grown, NOW + 10002, AN_CHARTCACHE_SAME, grown);
    /* a smaller total: redrawn at once, however recent */
    expect(c, fewer, NOW + 10003, AN_CHARTCACHE_DRAWN, fewer);
    /* the clock went back: redrawn */
    expect(c, grown, NOW, AN_CHARTCACHE_DRAWN, grown);

    uint64_t d, same, lag;
    an_chartcache_counts(c, &d, &same, &lag);
    assert_int_equal(d, 4);
    assert_int_equal(same, 2);
    assert_int_equal(lag, 2);
    an_chartcache_free(c);
    free(s);
    free(grown);
    free(fewer);
}

/* Other buckets: another window length, the window a day later, the hourly one-day chart. */
static void test_other_buckets_redraw(void **state)
{
    (void)state;
    an_chartcache *c = an_chartcache_new(600000);
    an_stats *w7 = week(7, NOW), *w30 = week(30, NOW), *next_day = week(7, NOW + AN_DAY_MS),
             *one = week(1, NOW), *one_later = week(1, NOW + AN_HOUR_MS);
    expect(c, w7, NOW, AN_CHARTCACHE_DRAWN, w7);
    expect(c, w30, NOW + 1, AN_CHARTCACHE_DRAWN, w30);
    expect(c, w7, NOW + 2, AN_CHARTCACHE_DRAWN, w7); /* one chart is kept: the latest */
    expect(c, next_day, NOW + 3, AN_CHARTCACHE_DRAWN, next_day);
    expect(c, one, NOW + 4, AN_CHARTCACHE_DRAWN, one);
    expect(c, one_later, NOW + 5, AN_CHARTCACHE_DRAWN, one_later);
    an_chartcache_free(c);
    free(w7);
    free(w30);
    free(next_day);
    free(one);
    free(one_later);
}

/* No lag allowed: only the same picture is handed out again. */
static void test_no_lag_is_exact(void **state)
{
    (void)state;
    an_chartcache *c = an_chartcache_new(0);
    an_stats *s = week(7, NOW), *grown = week(7, NOW);
    grown->series[3].videos += 1;
    expect(c, s, NOW, AN_CHARTCACHE_DRAWN, s);
    expect(c, grown, NOW, AN_CHARTCACHE_DRAWN, grown);
    expect(c, grown, NOW + 1, AN_CHARTCACHE_SAME, grown);
    expect(c, s, NOW + 2, AN_CHARTCACHE_DRAWN, s); /* fewer: redrawn */
    an_chartcache_free(c);
    free(s);
    free(grown);
}

typedef struct racer {
    an_chartcache *c;
    const an_stats *a, *b;
    unsigned char *png_a, *png_b;
    size_t len_a, len_b;
    int bad;
} racer;

static void *race(void *arg)
{
    racer *r = arg;
    for (int i = 0; i < 20; i++) {
        const an_stats *s = (i % 2) ? r->b : r->a;
        unsigned char *png;
        size_t len;
        char err[256];
        if (an_chartcache_png(r->c, s, NOW + i, &png, &len, NULL, err, sizeof err) != 0) {
            r->bad++;
            continue;
        }
        /* a chart of either set of numbers (b only grew from a, so a lagging a is fine) */
        bool is_a = len == r->len_a && memcmp(png, r->png_a, len) == 0;
        bool is_b = len == r->len_b && memcmp(png, r->png_b, len) == 0;
        if (!is_a && !is_b) r->bad++;
        if (s == r->a && !is_a) r->bad++; /* a's own chart is never b's (b is never older) */
        free(png);
    }
    return NULL;
}

static void test_two_threads(void **state)
{
    (void)state;
    an_chartcache *c = an_chartcache_new(10000);
    an_stats *a = week(7, NOW), *b = week(7, NOW);
    b->series[2].commands += 5;
    racer r[2] = {{.c = c, .a = a, .b = b}, {.c = c, .a = a, .b = b}};
    r[0].png_a = drawn(a, &r[0].len_a);
    r[0].png_b = drawn(b, &r[0].len_b);
    r[1].png_a = r[0].png_a;
    r[1].len_a = r[0].len_a;
    r[1].png_b = r[0].png_b;
    r[1].len_b = r[0].len_b;
    pthread_t t[2];
    for (int i = 0; i < 2; i++)
        pthread_create(&t[i], NULL, race, &r[i]);
    for (int i = 0; i < 2; i++)
        pthread_join(t[i], NULL);
    assert_int_equal(r[0].bad + r[1].bad, 0);
    free(r[0].png_a);
    free(r[0].png_b);
    an_chartcache_free(c);
    free(a);
    free(b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_same_lagging_and_redrawn),
        cmocka_unit_test(test_other_buckets_redraw),
        cmocka_unit_test(test_no_lag_is_exact),
        cmocka_unit_test(test_two_threads),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    /* The font caches cairo and fontconfig keep for the whole process, freed as the fluxbot
     * executable frees them at exit: without this LeakSanitizer reports fontconfig's cache. */
    an_chart_release();
    return rc;
}
