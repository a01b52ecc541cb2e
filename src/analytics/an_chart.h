/*
 * The /stats chart: images, videos and slash commands per bucket of the window (per UTC day, per
 * hour for a one-day window), drawn with cairo into a PNG that the /stats answer attaches and
 * its embed shows (`attachment://stats.png`), and that `fluxbot stats --chart FILE` writes.
 *
 * Readable on Discord's dark and light themes: the picture paints its own opaque dark card, so
 * its contrast does not depend on the client's background. 800x400 pixels, a few tens of KB:
 * far inside Discord's attachment limits. Pure (no threads, no sockets); the geometry is
 * exposed so tests can find the bars in the decoded PNG.
 */
#ifndef FLUXBOT_AN_CHART_H
#define FLUXBOT_AN_CHART_H

#include <stddef.h>
#include <stdint.h>

#include "analytics/an_stats.h"

#define AN_CHART_W 800
#define AN_CHART_H 400
#define AN_CHART_FILENAME "stats.png"
#define AN_CHART_SERIES 3 /* 0 images, 1 videos, 2 commands */

/* Colours (0xRRGGBB): the card, and the three series. */
#define AN_CHART_BG 0x1E1F22u
#define AN_CHART_IMAGES 0x5865F2u
#define AN_CHART_VIDEOS 0xF0B232u
#define AN_CHART_COMMANDS 0x57F287u

typedef struct an_chart_rect {
    double x, y, w, h; /* pixels, y downwards; h == 0 for an empty bar */
} an_chart_rect;

/* Where series `which` of bucket `i` is drawn (the bar for its value in s). False when i or
 * which is out of range. */
int an_chart_bar(const an_stats *s, unsigned i, unsigned which, an_chart_rect *out);

/* At the process's exit, once no thread draws a chart any more: frees the font caches cairo
 * and fontconfig keep for the whole process (cairo_debug_reset_static_data, then FcFini).
 * Nothing needs them after the last chart, and without this every run that drew one ends with
 * LeakSanitizer reporting fontconfig's cache as leaked (a library cannot know it is the last
 * user of fontconfig; the program can). Does nothing when no chart was drawn; idempotent.
 * Drawing a chart after it is not allowed (cairo's caches are gone). */
void an_chart_release(void);

/* The PNG of s: malloc'd bytes in *png (free()), 0; or -1 with err. */
int an_chart_png(const an_stats *s, unsigned char **png, size_t *len, char *err, size_t errlen);
/* The same PNG written to path: 0, or -1 with err naming the cause. */
int an_chart_write_file(const an_stats *s, const char *path, char *err, size_t errlen);

#endif
