/* How long a /stats answer stays exact without a commit (an_horizon.h): the first row to
 * leave at the start, the first future row to enter, and the next bucket bound, on a fixture
 * by hand; and, over random data and random ends, every end before the horizon gives exactly
 * the numbers and chart of the answer it was computed from. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "analytics/an_horizon.h"
#include "analytics/an_stats.h"
#include "analytics/an_store.h"
#include "analytics/an_time.h"
#include "test_an_stats_eq.h"
#include "test_an_util.h"

#define DAY AN_DAY_MS
#define HOUR AN_HOUR_MS
#define MIN AN_TIME_MINUTE_MS
/* 2024-03-10 15:00:00 UTC */
#define NOW 1710082800000LL

typedef struct fx {
    tdir dir;
    char path[512];
    an_store *store;
    an_reader *reader;
    an_horizon *horizon;
} fx;

static int setup(void **state)
{
    fx *f = calloc(1, sizeof *f);
    tdir_make(&f->dir);
    tdir_file(&f->dir, "stats.db", f->path, sizeof f->path);
    char err[512];
    f->store = an_store_open(f->path, err, sizeof err);
    assert_non_null(f->store);
    f->reader = an_reader_open(f->path, err, sizeof err);
    assert_non_null(f->reader);
    f->horizon = an_horizon_open(f->path, err, sizeof err);
    assert_non_null(f->horizon);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fx *f = *state;
    an_horizon_close(f->horizon);
    an_reader_close(f->reader);
    an_store_close(f->store);
    tdir_remove(&f->dir);
    free(f);
    return 0;
}

static void put(fx *f, an_event *evs, size_t n)
{
    const an_event **p = calloc(n, sizeof *p);
    for (size_t i = 0; i < n; i++)
        p[i] = &evs[i];
    char err[512] = "";
    int rc = an_store_write(f->store, p, n, err, sizeof err);
    if (rc) fprintf(stderr, "%s\n", err);
    assert_int_equal(rc, SQLITE_OK);
    for (size_t i = 0; i < n; i++)
        an_event_clear(&evs[i]);
    free(p);
}

static int64_t until_of(fx *f, int days, int64_t end, an_stats *s)
{
    char err[256];
    assert_int_equal(an_reader_stats(f->reader, days, end, s, err, sizeof err), 0);
    int64_t until = 0;
    assert_int_equal(an_horizon_until(f->horizon, s, &until, err, sizeof err), 0);
    assert_true(until > end);
    return until;
}

static void test_bounds_by_hand(void **state)
{
    fx *f = *state;
    an_stats *s = malloc(sizeof *s);
    /* Empty: only the chart's bars. 7 days at 15:00 runs from 03-03 15:01 to 03-10 15:00: its
     * first bar (03-03) goes at 23:59, when the window becomes 03-04 00:00 .. 23:59. One day:
     * from 03-09 15:01, its first bar (15:00) goes at 15:59. */
    assert_int_equal(until_of(f, 7, NOW + 5, s), NOW - 15 * HOUR + DAY - MIN);
    assert_int_equal(until_of(f, 1, NOW + 5, s), NOW + HOUR - MIN);
    uint64_t q = 0;
    an_event evs[] = {
        ev_command(++q, NOW - 7 * DAY + MIN - 1, 1, "comfy", true),    /* already out */
        ev_command(++q, NOW - 7 * DAY + MIN + 1000, 2, "comfy", true), /* the first to leave */
        ev_image(++q, NOW - 7 * DAY + 2 * MIN + 2000, 3, "1x1", 5, false, true),
        ev_activity(++q, NOW - 2 * HOUR + 10, 4, "x"),
        ev_command(++q, NOW - 1000, 5, "stats", true),
        ev_image(++q, NOW + 3 * MIN + 30000, 6, "1x1", 5, false, true), /* the future */
        ev_activity(++q, NOW + MIN + 20000, 7, "y"),                    /* enters first */
    };
    put(f, evs, sizeof evs / sizeof evs[0]);
    /* 7 days: the command of the window's first minute leaves when that minute does, one
     * minute later, as the future activity of the next minute comes in. */
    assert_int_equal(until_of(f, 7, NOW, s), NOW + MIN);
    assert_int_equal(until_of(f, 7, NOW + 59999, s), NOW + MIN); /* the same window */
    /* From there, the image of the second minute; then the future image comes first. */
    assert_int_equal(until_of(f, 7, NOW + MIN, s), NOW + 2 * MIN);
    assert_int_equal(until_of(f, 7, NOW + 2 * MIN, s), NOW + 3 * MIN);
    /* 1 day: nothing leaves; the hour ends first, then the future rows' minutes come. */
    assert_int_equal(until_of(f, 1, NOW - 10, s), NOW);
    assert_int_equal(until_of(f, 1, NOW + 10, s), NOW + MIN);
    assert_int_equal(until_of(f, 1, NOW + MIN + 20000, s), NOW + 3 * MIN);
    assert_int_equal(until_of(f, 1, NOW + 3 * MIN + 30000, s), NOW + HOUR - MIN);
    free(s);
}

/* Safety over random data: every end in [end, until) gives the same answer. */
static void test_answers_stay_exact(void **state)
{
    fx *f = *state;
    uint64_t seed = 0x5eedULL, q = 0;
    static const char *const names[] = {"comfy", "stats", "video", "redux"};
    static const char *const res[] = {"832x1216", "1024x1024", ""};
    /* Rows spread over 10 days around NOW, many within seconds of the 1- and 7-day edges. */
    for (int batch = 0; batch < 8; batch++) {
        an_event evs[100];
        for (int i = 0; i < 100; i++) {
            uint64_t r = rnd_next(&seed);
            int64_t ts;
            switch (r % 4) {
            case 0:
                ts = NOW - 7 * DAY + (int64_t)(rnd_next(&seed) % 120000);
                break;
            case 1:
                ts = NOW - 1 * DAY + (int64_t)(rnd_next(&seed) % 120000);
                break;
            case 2:
                ts = NOW + (int64_t)(rnd_next(&seed) % 120000);
                break;
            default:
                ts = NOW - 9 * DAY + (int64_t)(rnd_next(&seed) % (10 * DAY));
                break;
            }
            uint64_t user = 1 + rnd_next(&seed) % 6;
            switch ((r >> 8) % 3) {
            case 0:
                evs[i] = ev_command(++q, ts, user, names[(r >> 16) % 4], true);
                break;
            case 1:
                evs[i] =
                    ev_image(++q, ts, user, res[(r >> 16) % 3], 100, (r >> 20) & 1, (r >> 21) & 1);
                break;
            default:
                evs[i] = ev_activity(++q, ts, user, "a");
                break;
            }
        }
        put(f, evs, 100);
    }
    an_stats *a = malloc(sizeof *a), *b = malloc(sizeof *b);
    char err[256];
    unsigned checked = 0;
    for (int round = 0; round < 60; round++) {
        int days = round % 3 == 0 ? 1 : 7;
        int64_t end = NOW + (int64_t)(rnd_next(&seed) % 120000) - 60000;
        int64_t until = until_of(f, days, end, a);
        /* The ends just before the horizon, and a few in between. */
        int64_t probes[] = {end + 1, until - 1, end + (until - end) / 2, end + (until - end) / 3};
        for (int p = 0; p < 4; p++) {
            if (probes[p] < end || probes[p] >= until) continue;
            assert_int_equal(an_reader_stats(f->reader, days, probes[p], b, err, sizeof err), 0);
            assert_stats_equal(a, b);
            checked++;
        }
    }
    assert_true(checked > 100);
    free(a);
    free(b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_bounds_by_hand, setup, teardown),
        cmocka_unit_test_setup_teardown(test_answers_stay_exact, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
