/*
 * /stats numbers for a window of days, read from the rollups (see an_rollup.h) only: per-day
 * rollups for the whole days, per-hour rollups for the part of the first day that is cheaper
 * to read per hour, per-minute rollups for the partial hour at the start and the minutes after
 * now's in the current hour, and per-user cumulative counts for the users. The cost depends on
 * the window and on the number of users in it, not on the number of rows.
 *
 * The window of `days` (1..365) at now_ms is the last days x 1440 UTC minutes, now's minute
 * included: an event counts when its minute (floor(ts_ms / 60000)) is one of them. In
 * milliseconds it is the closed interval
 *     [(m - days * 1440 + 1) * 60000, (m + 1) * 60000 - 1],   m = floor(now_ms / 60000),
 * exactly `days` days long. Both edges are minute boundaries, so every piece of it is a whole
 * rollup row and the answer is exact without reading raw rows. Against a window cut at the
 * millisecond of now, the start is up to 59.999 s later (an event counts while its minute is
 * one of the last days x 1440) and an event stamped later in now's minute counts (events are
 * stamped when recorded, so none is in practice). It is read as signed pieces:
 *     days        whole UTC days, today included                      daily rollups   +
 *     head hours  the first day: either its hours from the start's hour boundary on (+), or
 *                 the whole day is among the days and its hours before that boundary are
 *                 subtracted (-), whichever is fewer hours (at most 12)
 *     head mins   start inside an hour: either its minutes from the start on are added (+),
 *                 or the hour is taken whole and its minutes before the start subtracted (-),
 *                 whichever is fewer minutes (at most 30)                minute rollups
 *     tail hours  today's hours after now's, subtracted (normally empty)    hourly rollups  -
 *     tail mins   the minutes after now's in now's hour, subtracted (normally empty)
 *     users       per user with an event since the start (known_users.last_minute): its
 *                 cumulative count at the window's last minute minus the one before its first
 *                 (user_minutes), so Total and Active Users are exact
 * A one-day window is read per hour instead (the hours from the start's boundary to now's), so
 * that each rollup row is one bar of its hourly chart. Everything is read in one transaction,
 * so the rollups are one snapshot. Minute rollups are kept AN_ROLLUP_MINUTE_KEEP_DAYS back: a
 * window starting before that (a query with a now far in the past) is answered from the raw rows.
 *
 * Definitions (the spec's): Total/Average Images and Videos count successful generations
 * only; Total Commands counts every slash command (failed ones too; buttons, autocomplete,
 * modal submits and unknown interactions are not commands: buttons are counted apart);
 * Popular Commands and Resolutions are the five highest counts in the window, ties broken by
 * name; Total Users is the distinct users with any tracked event (a command_usage,
 * image_stats or user_activity row) in the window; Active Users is the distinct users with at
 * least `active_min` tracked events in the window (default 5).
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
#define AN_ACTIVE_MIN_DEFAULT 5
/* Chart buckets: days of the window (the first and last partial), or hours for days == 1. */
#define AN_SERIES_MAX (AN_DAYS_MAX + 2)

typedef struct an_window {
    int days;
    int64_t now_ms;                     /* the moment asked for */
    int64_t start_ms, end_ms;           /* the closed interval above */
    int64_t first_minute, last_minute;  /* the same in UTC minutes */
    int64_t day_lo, day_hi;             /* body: UTC day numbers (every range: empty if lo > hi) */
    int64_t head_hour_lo, head_hour_hi; /* head hours: UTC hour numbers */
    int head_hour_sign;                 /* +1 added, -1 subtracted (from the first day) */
    int64_t tail_hour_lo, tail_hour_hi; /* tail hours */
    int tail_hour_sign;                 /* -1: today's hours after now's, from today */
    int64_t head_min_lo, head_min_hi;   /* head minutes: UTC minute numbers */
    int head_min_sign;                  /* +1 added, -1 subtracted (from the start's hour) */
    int64_t tail_min_lo, tail_min_hi;   /* tail minutes: always subtracted */
} an_window;

/* One bar of the chart: the events of one bucket that lie in the window. */
typedef struct an_series_point {
    int64_t start_ms; /* the bucket's start (UTC day or hour), may precede the window */
    uint64_t images, videos, commands;
} an_series_point;

typedef struct an_top_item {
    char name[128];
    uint64_t count;
} an_top_item;

typedef struct an_stats {
    an_window window;
    uint64_t total_images, image_ms_sum;
    uint64_t total_videos, video_ms_sum;
    uint64_t total_commands; /* slash commands */
    uint64_t total_buttons;  /* button presses */
    an_top_item top_commands[AN_TOP_N];
    unsigned n_top_commands;
    uint64_t total_users, active_users;
    unsigned active_min; /* the events an active user has at least */
    an_top_item top_resolutions[AN_TOP_N];
    unsigned n_top_resolutions;
    int64_t bucket_ms; /* AN_DAY_MS, or AN_HOUR_MS for days == 1 */
    unsigned n_series;
    an_series_point series[AN_SERIES_MAX];
} an_stats;

/* Splits the window of `days` ending at now_ms (days must be in 1..365). */
void an_window_make(int days, int64_t now_ms, an_window *w);

/* For the readers of every engine: zeroes out for the window w (its chart buckets set), and
 * the chart bar a timestamp falls in (NULL outside the series). */
void an_stats_begin(an_stats *out, const an_window *w, unsigned active_min);
an_series_point *an_stats_bar(an_stats *out, int64_t ts);
/* *dst = *src, without the chart entries past src->n_series (they mean nothing: every reader
 * stops at n_series). The whole struct is ~12 KB of which a 7-day answer uses ~0.3 KB, and
 * /stats answers are copied for every query that is handed an earlier one (stats_flight.h). */
void an_stats_copy(an_stats *dst, const an_stats *src);
/* 1 when days is in range, else 0 with err set. */
int an_stats_days_ok(int days, char *err, size_t errlen);

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
/* Events an Active User has at least (>= 1; default AN_ACTIVE_MIN_DEFAULT). */
void an_reader_set_active_min(an_reader *r, unsigned min_events);

/* Fills out for the window (one read transaction, so the numbers are one snapshot).
 * SQLITE_OK, or the SQLite error with err set; SQLITE_RANGE when days is out of range. */
int an_reader_stats(an_reader *r, int days, int64_t now_ms, an_stats *out, char *err,
                    size_t errlen);
/* The same numbers computed from the raw tables alone: the baseline for the benchmark and an
 * independent cross-check for tests. */
int an_reader_stats_raw(an_reader *r, int days, int64_t now_ms, an_stats *out, char *err,
                        size_t errlen);

#endif
