/*
 * /stats numbers for a window of days, read from the rollups (see an_rollup.h) plus the raw
 * tables for the partial hours at the window's edges, so the cost depends on the window and the
 * traffic of at most two hours, not on the total number of rows.
 *
 * The window of `days` (1..365) ending at now_ms is the closed interval
 *     [now_ms - days * 86400000, now_ms]
 * in event time (ts_ms): an event exactly `days` days old counts, one a millisecond older does
 * not, nor does one stamped in the future. It splits into aligned pieces:
 *     head raw    [start, next hour boundary)                 raw tables (index range)
 *     head hours  whole hours up to the end of the first day    hourly rollups
 *     body days   whole UTC days strictly inside                daily rollups
 *     tail hours  whole hours of today before the current one   hourly rollups
 *     tail raw    [start of the current hour, now]              raw tables (index range)
 * (pieces that would be empty are: e.g. no head raw when start falls on an hour boundary).
 *
 * Definitions: Total/Average Images and Videos count successful generations only; Total
 * Commands counts every use (failed ones too); Popular Commands and Resolutions are the five
 * highest counts in the window, ties broken by name; Total Users is every distinct user ever
 * seen in any table; Active Users is distinct users with at least one command in the window.
 */
#ifndef FLUXBOT_AN_STATS_H
#define FLUXBOT_AN_STATS_H

#include <stddef.h>
#include <stdint.h>

#include <sqlite3.h>

#define AN_DAYS_MIN 1
#define AN_DAYS_MAX 365
#define AN_DAYS_DEFAULT 7
#define AN_TOP_N 5

typedef struct an_window {
    int days;
    int64_t start_ms, end_ms;           /* the closed interval above */
    int64_t day_lo, day_hi;             /* body: UTC day numbers (every range: empty if lo > hi) */
    int64_t head_hour_lo, head_hour_hi; /* head hours: UTC hour numbers */
    int64_t tail_hour_lo, tail_hour_hi; /* tail hours */
    int64_t head_lo, head_hi;           /* head raw: ts range, closed */
    int64_t tail_lo, tail_hi;           /* tail raw: ts range, closed */
} an_window;

typedef struct an_top_item {
    char name[128];
    uint64_t count;
} an_top_item;

typedef struct an_stats {
    an_window window;
    uint64_t total_images, image_ms_sum;
    uint64_t total_videos, video_ms_sum;
    uint64_t total_commands;
    an_top_item top_commands[AN_TOP_N];
    unsigned n_top_commands;
    uint64_t total_users, active_users;
    an_top_item top_resolutions[AN_TOP_N];
    unsigned n_top_resolutions;
} an_stats;

/* Splits the window of `days` ending at now_ms (days must be in 1..365). */
void an_window_make(int days, int64_t now_ms, an_window *w);

/* Average generation time in ms, or a negative value when there is nothing to average. */
double an_stats_avg_image_ms(const an_stats *s);
double an_stats_avg_video_ms(const an_stats *s);

/* A reader: one connection and its prepared queries; one thread at a time (its statements
 * are stepped without a lock: two threads in one reader corrupt each other's results).
 * Asserted in debug builds (util_assert.h). */
typedef struct an_reader an_reader;

/* Opens path read-only. Refuses a missing file, a database of another program, and a schema
 * this build does not read (err says which and what to do). */
an_reader *an_reader_open(const char *path, char *err, size_t errlen);
/* Uses a connection the caller owns and keeps (e.g. the writer's, in tests). */
an_reader *an_reader_wrap(sqlite3 *db, char *err, size_t errlen);
void an_reader_close(an_reader *r);

/* Fills out for the window (one read transaction, so the numbers are one snapshot).
 * SQLITE_OK, or the SQLite error with err set; SQLITE_RANGE when days is out of range. */
int an_reader_stats(an_reader *r, int days, int64_t now_ms, an_stats *out, char *err,
                    size_t errlen);
/* The same numbers computed from the raw tables alone: the baseline for the benchmark and an
 * independent cross-check for tests. */
int an_reader_stats_raw(an_reader *r, int days, int64_t now_ms, an_stats *out, char *err,
                        size_t errlen);

#endif
