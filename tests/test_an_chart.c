/* The /stats chart: the PNG decodes (cairo reads it back), has the promised size, is not blank,
 * has bars of each series' colour exactly where the data is and none elsewhere, in the grouped
 * (up to ~80 buckets) and the stacked (a year of days) layouts; the file written for the CLI is
 * the same picture. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <cairo.h>
#include <string.h>

#include "analytics/an_chart.h"
#include "analytics/an_stats.h"
#include "analytics/an_time.h"
#include "test_an_util.h"

#define NOW 1710082800123LL /* 2024-03-10 15:00:00.123 UTC */

typedef struct rd {
    const unsigned char *p;
    size_t len, off;
} rd;

static cairo_status_t read_mem(void *closure, unsigned char *data, unsigned int length)
{
    rd *r = closure;
    if (r->off + length > r->len) return CAIRO_STATUS_READ_ERROR;
    memcpy(data, r->p + r->off, length);
    r->off += length;
    return CAIRO_STATUS_SUCCESS;
}

/* Decodes png (fails the test when it is not a PNG cairo can read). */
static cairo_surface_t *decode(const unsigned char *png, size_t len)
{
    assert_true(len > 8 && memcmp(png, "\x89PNG\r\n\x1a\n", 8) == 0);
    rd r = {png, len, 0};
    cairo_surface_t *s = cairo_image_surface_create_from_png_stream(read_mem, &r);
    assert_int_equal(cairo_surface_status(s), CAIRO_STATUS_SUCCESS);
    cairo_surface_flush(s);
    return s;
}

static uint32_t pixel(cairo_surface_t *s, double x, double y)
{
    const unsigned char *d = cairo_image_surface_get_data(s);
    int stride = cairo_image_surface_get_stride(s);
    const uint32_t *row = (const uint32_t *)(d + stride * (int)y);
    return row[(int)x] & 0xFFFFFFu;
}

static an_stats *stats_days(int days)
{
    an_stats *s = calloc(1, sizeof *s);
    an_window_make(days, NOW, &s->window);
    s->bucket_ms = days == 1 ? AN_HOUR_MS : AN_DAY_MS;
    int64_t first = (s->window.start_ms / s->bucket_ms) * s->bucket_ms;
    s->n_series = (unsigned)((NOW / s->bucket_ms * s->bucket_ms - first) / s->bucket_ms + 1);
    for (unsigned i = 0; i < s->n_series; i++)
        s->series[i].start_ms = first + (int64_t)i * s->bucket_ms;
    return s;
}

static cairo_surface_t *draw(const an_stats *s)
{
    unsigned char *png;
    size_t len;
    char err[256];
    assert_int_equal(an_chart_png(s, &png, &len, err, sizeof err), 0);
    assert_true(len < 8u * 1024 * 1024); /* far inside Discord's upload limit */
    cairo_surface_t *img = decode(png, len);
    free(png);
    assert_int_equal(cairo_image_surface_get_width(img), AN_CHART_W);
    assert_int_equal(cairo_image_surface_get_height(img), AN_CHART_H);
    return img;
}

static const uint32_t k_color[3] = {AN_CHART_IMAGES, AN_CHART_VIDEOS, AN_CHART_COMMANDS};

/* Every bar with a value shows its colour at its centre; every empty bar's place shows none of
 * the series colours. */
static void check_bars(const an_stats *s, cairo_surface_t *img)
{
    for (unsigned i = 0; i < s->n_series; i++) {
        for (unsigned k = 0; k < 3; k++) {
            an_chart_rect r;
            assert_true(an_chart_bar(s, i, k, &r));
            uint64_t v = k == 0   ? s->series[i].images
                         : k == 1 ? s->series[i].videos
                                  : s->series[i].commands;
            if (v) {
                assert_true(r.h >= 1.0);
                assert_int_equal(pixel(img, r.x + r.w / 2, r.y + r.h / 2), k_color[k]);
            } else {
                assert_true(r.h == 0);
                /* Just above the axis, where the bar would start. */
                uint32_t px = pixel(img, r.x + r.w / 2, r.y - 2);
                if (s->series[i].images + s->series[i].videos + s->series[i].commands == 0)
                    for (unsigned c = 0; c < 3; c++)
                        assert_int_not_equal(px, k_color[c]);
            }
        }
    }
}

static void test_grouped_week(void **state)
{
    (void)state;
    an_stats *s = stats_days(7);
    assert_int_equal(s->n_series, 8); /* the partial first day, six whole ones, today */
    s->series[1].images = 40;
    s->series[1].commands = 10;
    s->series[3].videos = 3;
    s->series[7].images = 1; /* tiny next to 40: still a visible bar */
    cairo_surface_t *img = draw(s);
    check_bars(s, img);
    /* The card is opaque and dark (readable on both Discord themes); the tallest bar reaches
     * near the top of the plot. */
    assert_int_equal(pixel(img, 2, 2), AN_CHART_BG);
    an_chart_rect r;
    an_chart_bar(s, 1, 0, &r);
    assert_true(r.h > 200);
    /* Not blank: many distinct colours (text, grid, bars). */
    unsigned distinct = 0;
    uint32_t seen[64];
    for (int y = 0; y < AN_CHART_H && distinct < 64; y += 3)
        for (int x = 0; x < AN_CHART_W && distinct < 64; x += 3) {
            uint32_t p = pixel(img, x, y);
            bool known = false;
            for (unsigned i = 0; i < distinct; i++)
                known |= seen[i] == p;
            if (!known) seen[distinct++] = p;
        }
    assert_true(distinct >= 8);
    cairo_surface_destroy(img);
    free(s);
}

static void test_hourly_day(void **state)
{
    (void)state;
    an_stats *s = stats_days(1);
    assert_int_equal(s->n_series, 25);
    for (unsigned i = 0; i < s->n_series; i += 4)
        s->series[i].commands = i + 1;
    s->series[24].images = 7;
    cairo_surface_t *img = draw(s);
    check_bars(s, img);
    cairo_surface_destroy(img);
    free(s);
}

static void test_stacked_year(void **state)
{
    (void)state;
    an_stats *s = stats_days(365);
    assert_int_equal(s->n_series, 366);
    for (unsigned i = 0; i < s->n_series; i += 30) {
        s->series[i].images = 50;
        s->series[i].videos = 20;
        s->series[i].commands = 30;
    }
    cairo_surface_t *img = draw(s);
    check_bars(s, img);
    cairo_surface_destroy(img);
    free(s);
}

static void test_empty_and_file(void **state)
{
    (void)state;
    an_stats *s = stats_days(30);
    cairo_surface_t *img = draw(s);
    check_bars(s, img);
    cairo_surface_destroy(img);
    /* The file the CLI writes is the same PNG. */
    s->series[5].images = 9;
    tdir d;
    tdir_make(&d);
    char path[512], err[256];
    tdir_file(&d, "chart.png", path, sizeof path);
    assert_int_equal(an_chart_write_file(s, path, err, sizeof err), 0);
    unsigned char *png;
    size_t len;
    assert_int_equal(an_chart_png(s, &png, &len, err, sizeof err), 0);
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    unsigned char *buf = malloc(len + 1);
    assert_int_equal(fread(buf, 1, len + 1, f), len);
    fclose(f);
    assert_memory_equal(buf, png, len);
    free(buf);
    free(png);
    char bad[600];
    snprintf(bad, sizeof bad, "%s/no/such/dir/c.png", d.path);
    assert_int_equal(an_chart_write_file(s, bad, err, sizeof err), -1);
    assert_non_null(strstr(err, "cannot write"));
    tdir_remove(&d);
    free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_grouped_week),
        cmocka_unit_test(test_hourly_day),
        cmocka_unit_test(test_stacked_year),
        cmocka_unit_test(test_empty_and_file),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    /* The font caches cairo and fontconfig keep for the whole process, freed as the fluxbot
     * executable frees them at exit: without this LeakSanitizer reports fontconfig's cache. */
    an_chart_release();
    return rc;
}
