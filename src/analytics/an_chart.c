/* The /stats chart drawn with cairo (see an_chart.h). */
#include "analytics/an_chart.h"

#include <errno.h>
#include <math.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cairo.h>
#include <fontconfig/fontconfig.h>
#include <png.h>

#include "analytics/an_time.h"

/* The plot area inside the card. */
#define PLOT_L 60.0
#define PLOT_R (AN_CHART_W - 16.0)
#define PLOT_T 64.0
#define PLOT_B (AN_CHART_H - 40.0)
#define GROUPED_MIN_SLOT 9.0 /* narrower buckets stack their three bars */

static const uint32_t k_colors[AN_CHART_SERIES] = {AN_CHART_IMAGES, AN_CHART_VIDEOS,
                                                   AN_CHART_COMMANDS};
static const char *const k_names[AN_CHART_SERIES] = {"Images", "Videos", "Commands"};

static uint64_t value(const an_series_point *p, unsigned which)
{
    return which == 0 ? p->images : which == 1 ? p->videos : p->commands;
}

static double slot_width(const an_stats *s)
{
    return s->n_series ? (PLOT_R - PLOT_L) / s->n_series : 0;
}

static bool grouped(const an_stats *s)
{
    return slot_width(s) >= GROUPED_MIN_SLOT;
}

/* The top of the value axis: a round number >= the largest bar (or stack). */
static uint64_t axis_max(const an_stats *s)
{
    uint64_t m = 0;
    for (unsigned i = 0; i < s->n_series; i++) {
        const an_series_point *p = &s->series[i];
        uint64_t v = grouped(s) ? p->images : p->images + p->videos + p->commands;
        if (grouped(s)) {
            if (p->videos > v) v = p->videos;
            if (p->commands > v) v = p->commands;
        }
        if (v > m) m = v;
    }
    if (m < 4) return 4;
    uint64_t step = 1;
    while (step * 10 < m)
        step *= 10;
    for (;;) {
        for (uint64_t k = 1; k <= 10; k++)
            if (k * step >= m && (k * step) % 4 == 0) return k * step;
        step *= 10;
    }
}

/* Whole pixels, so bars are crisp (no anti-aliased edges) however narrow they are. */
static double bar_height(uint64_t v, uint64_t max)
{
    if (!v) return 0;
    double h = floor((double)v / (double)max * (PLOT_B - PLOT_T) + 0.5);
    return h < 1.0 ? 1.0 : h; /* a bar with a value is always visible */
}

int an_chart_bar(const an_stats *s, unsigned i, unsigned which, an_chart_rect *out)
{
    if (i >= s->n_series || which >= AN_CHART_SERIES) return 0;
    const an_series_point *p = &s->series[i];
    uint64_t max = axis_max(s);
    double slot = slot_width(s), x0 = PLOT_L + slot * i;
    double below = 0;
    if (grouped(s)) {
        double bw = floor(slot * 0.8 / AN_CHART_SERIES);
        out->x = floor(x0 + slot * 0.1) + bw * which;
        out->w = bw;
    } else {
        for (unsigned k = 0; k < which; k++)
            below += bar_height(value(p, k), max);
        out->x = floor(x0);
        out->w = slot >= 3 ? floor(slot) - 1 : 1;
    }
    out->h = bar_height(value(p, which), max);
    out->y = PLOT_B - below - out->h;
    return 1;
}

static void set_rgb(cairo_t *cr, uint32_t rgb)
{
    cairo_set_source_rgb(cr, ((rgb >> 16) & 0xff) / 255.0, ((rgb >> 8) & 0xff) / 255.0,
                         (rgb & 0xff) / 255.0);
}

static void text_at(cairo_t *cr, double x, double y, const char *t, double align)
{
    cairo_text_extents_t e;
    cairo_text_extents(cr, t, &e);
    cairo_move_to(cr, x - e.x_advance * align, y);
    cairo_show_text(cr, t);
}

static void bucket_label(const an_stats *s, unsigned i, char *out, size_t outlen)
{
    time_t t = (time_t)(s->series[i].start_ms / 1000);
    struct tm tm;
    gmtime_r(&t, &tm);
    if (s->bucket_ms == AN_HOUR_MS)
        snprintf(out, outlen, "%02d:00", tm.tm_hour);
    else
        snprintf(out, outlen, "%02d-%02d", tm.tm_mon + 1, tm.tm_mday);
}

static void draw(cairo_t *cr, const an_stats *s)
{
    set_rgb(cr, AN_CHART_BG);
    cairo_paint(cr);
    cairo_select_font_face(cr, "DejaVu Sans", CAIRO_FONT_SLANT_NORMAL, CAIRO_FONT_WEIGHT_BOLD);
    cairo_set_font_size(cr, 17);
    set_rgb(cr, 0xF2F3F5);
    char title[96];
    if (s->window.days == 1)
        snprintf(title, sizeof title, "Last day, per hour (UTC)");
    else
        snprintf(title, sizeof title, "Last %d days, per day (UTC)", s->window.days);
    text_at(cr, 16, 30, title, 0);

    /* Legend, right-aligned on the title's line. */
    cairo_select_font_face(cr, "DejaVu Sans", CAIRO_FONT_SLANT_NORMAL, CAIRO_FONT_WEIGHT_NORMAL);
    cairo_set_font_size(cr, 13);
    double x = PLOT_R;
    for (int k = AN_CHART_SERIES - 1; k >= 0; k--) {
        cairo_text_extents_t e;
        cairo_text_extents(cr, k_names[k], &e);
        x -= e.x_advance;
        set_rgb(cr, 0xDBDEE1);
        text_at(cr, x, 30, k_names[k], 0);
        x -= 18;
        set_rgb(cr, k_colors[k]);
        cairo_rectangle(cr, x, 20, 12, 12);
        cairo_fill(cr);
        x -= 18;
    }

    /* Value axis: four grid lines with their numbers. */
    uint64_t max = axis_max(s);
    cairo_set_line_width(cr, 1);
    for (int g = 0; g <= 4; g++) {
        double y = PLOT_B - (PLOT_B - PLOT_T) * g / 4.0;
        set_rgb(cr, g ? 0x3F4147 : 0x80848E);
        cairo_move_to(cr, PLOT_L, (int)y + 0.5);
        cairo_line_to(cr, PLOT_R, (int)y + 0.5);
        cairo_stroke(cr);
        char n[32];
        snprintf(n, sizeof n, "%llu", (unsigned long long)(max / 4 * (uint64_t)g));
        set_rgb(cr, 0xB5BAC1);
        text_at(cr, PLOT_L - 8, y + 4, n, 1.0);
    }

    /* Bars. */
    bool any = false;
    for (unsigned i = 0; i < s->n_series; i++)
        for (unsigned k = 0; k < AN_CHART_SERIES; k++) {
            an_chart_rect r;
            if (!an_chart_bar(s, i, k, &r) || r.h <= 0) continue;
            any = true;
            set_rgb(cr, k_colors[k]);
            cairo_rectangle(cr, r.x, r.y, r.w, r.h);
            cairo_fill(cr);
        }

    /* Bucket labels, spaced so they never overlap. */
    set_rgb(cr, 0xB5BAC1);
    cairo_set_font_size(cr, 12);
    double slot = slot_width(s);
    unsigned every = slot > 0 ? (unsigned)(56.0 / slot) + 1 : 1;
    for (unsigned i = 0; i < s->n_series; i += every) {
        char label[16];
        bucket_label(s, i, label, sizeof label);
        text_at(cr, PLOT_L + slot * (i + 0.5), PLOT_B + 18, label, 0.5);
    }
    if (!any) {
        set_rgb(cr, 0xB5BAC1);
        cairo_set_font_size(cr, 15);
        text_at(cr, (PLOT_L + PLOT_R) / 2, (PLOT_T + PLOT_B) / 2, "No data in this window", 0.5);
    }
}

typedef struct membuf {
    unsigned char *p;
    size_t len, cap;
    bool oom;
} membuf;

static void mem_write(png_structp png, png_bytep data, size_t length)
{
    membuf *b = png_get_io_ptr(png);
    if (b->oom) return;
    if (b->len + length > b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 65536;
        while (cap < b->len + length)
            cap *= 2;
        unsigned char *p = realloc(b->p, cap);
        if (!p) {
            b->oom = true;
            return;
        }
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->len, data, length);
    b->len += length;
}

static void mem_flush(png_structp png)
{
    (void)png;
}

static void png_error_quiet(png_structp png, png_const_charp msg)
{
    snprintf(png_get_error_ptr(png), 128, "%s", msg);
    png_longjmp(png, 1);
}

static void png_warning_quiet(png_structp png, png_const_charp msg)
{
    (void)png;
    (void)msg;
}

/* The rows of a cairo RGB24 surface (native-endian 0x00RRGGBB words) as 8-bit RGB. Once
 * png_write_info has run; libpng longjmps out of here on an error. */
static void write_rows(png_structp png, png_infop info, cairo_surface_t *sf, unsigned char *row)
{
    const unsigned char *data = cairo_image_surface_get_data(sf);
    int stride = cairo_image_surface_get_stride(sf);
    png_write_info(png, info);
    for (int y = 0; y < AN_CHART_H; y++) {
        const uint32_t *px = (const uint32_t *)(const void *)(data + (size_t)y * (size_t)stride);
        for (int x = 0; x < AN_CHART_W; x++) {
            row[3 * x] = (unsigned char)(px[x] >> 16);
            row[3 * x + 1] = (unsigned char)(px[x] >> 8);
            row[3 * x + 2] = (unsigned char)px[x];
        }
        png_write_row(png, row);
    }
    png_write_end(png, info);
}

/*
 * The PNG written with libpng at zlib level 1 and the "up" filter on every row: the chart is
 * drawn once per commit of the analytics writer under a steady /stats load, and encoding is
 * most of its cost. cairo's own writer (libpng's defaults: level 6, an adaptive filter per
 * row) took about 3.5 times as long for a file about 30% smaller (12 KB against 16 KB), which
 * is nothing next to Discord's attachment limits.
 */
static int encode_png(cairo_surface_t *sf, membuf *b, char *why)
{
    unsigned char *row = malloc(3 * AN_CHART_W);
    png_structp png =
        png_create_write_struct(PNG_LIBPNG_VER_STRING, why, png_error_quiet, png_warning_quiet);
    png_infop info = png ? png_create_info_struct(png) : NULL;
    if (!row || !png || !info) {
        snprintf(why, 128, "out of memory");
        png_destroy_write_struct(&png, &info);
        free(row);
        return -1;
    }
    int rc = -1;
    if (setjmp(png_jmpbuf(png)) == 0) {
        png_set_write_fn(png, b, mem_write, mem_flush);
        png_set_IHDR(png, info, AN_CHART_W, AN_CHART_H, 8, PNG_COLOR_TYPE_RGB, PNG_INTERLACE_NONE,
                     PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
        png_set_compression_level(png, 1);
        png_set_filter(png, PNG_FILTER_TYPE_BASE, PNG_FILTER_UP);
        write_rows(png, info, sf, row);
        rc = 0;
    }
    png_destroy_write_struct(&png, &info);
    free(row);
    if (rc == 0 && b->oom) {
        snprintf(why, 128, "out of memory");
        rc = -1;
    }
    return rc;
}

/* Set once a chart was drawn: an_chart_release then has caches to free. */
static atomic_bool drawn;

void an_chart_release(void)
{
    if (!atomic_exchange(&drawn, false)) return;
    cairo_debug_reset_static_data(); /* drops cairo's font faces, which hold fontconfig patterns */
    FcFini();
}

int an_chart_png(const an_stats *s, unsigned char **png, size_t *len, char *err, size_t errlen)
{
    *png = NULL;
    *len = 0;
    atomic_store(&drawn, true);
    cairo_surface_t *sf = cairo_image_surface_create(CAIRO_FORMAT_RGB24, AN_CHART_W, AN_CHART_H);
    cairo_t *cr = cairo_create(sf);
    draw(cr, s);
    cairo_status_t st = cairo_status(cr);
    cairo_destroy(cr);
    cairo_surface_flush(sf);
    membuf b = {0};
    char why[128] = "";
    if (st != CAIRO_STATUS_SUCCESS)
        snprintf(why, sizeof why, "%s", cairo_status_to_string(st));
    else if (cairo_surface_status(sf) != CAIRO_STATUS_SUCCESS)
        snprintf(why, sizeof why, "%s", cairo_status_to_string(cairo_surface_status(sf)));
    else
        encode_png(sf, &b, why);
    cairo_surface_destroy(sf);
    if (*why) {
        snprintf(err, errlen, "cannot draw the chart: %s", why);
        free(b.p);
        return -1;
    }
    *png = b.p;
    *len = b.len;
    return 0;
}

int an_chart_write_file(const an_stats *s, const char *path, char *err, size_t errlen)
{
    unsigned char *png;
    size_t len;
    if (an_chart_png(s, &png, &len, err, errlen) != 0) return -1;
    FILE *f = fopen(path, "wb");
    if (!f) {
        snprintf(err, errlen, "cannot write '%s': %s", path, strerror(errno));
        free(png);
        return -1;
    }
    bool ok = fwrite(png, 1, len, f) == len;
    ok = fclose(f) == 0 && ok;
    free(png);
    if (!ok) {
        snprintf(err, errlen, "cannot write '%s': %s", path, strerror(errno));
        return -1;
    }
    return 0;
}
