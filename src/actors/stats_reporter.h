/*
 * The stats_reporter actor: answers /stats. A pool of `threads` threads, each with its own
 * read-only SQLite connection (WAL lets them read while the analytics writer commits).
 *
 * On MSG_STATS_QUERY (src/msgs/stats.h) it computes the numbers for the window
 * (an_stats.h) and their chart (an_chart.h), builds the embed (an_commands.h) and sends one
 * MSG_REST_REQ, a multipart edit built by src/discord/stats_reply.h:
 *     PATCH /webhooks/{application_id}/{token}/messages/@original
 *     payload_json {"embeds":[... "image":{"url":"attachment://stats.png"}], "attachments":[...]}
 *     files[0] stats.png
 * to the query's REST actor, which edits the deferred (ephemeral) response; with no_chart
 * (stats_chart = false) the edit is a plain JSON body with the embed and no attachment. A failed
 * query edits it with a short error text instead, so the user never stays on "thinking". Identical
 * queries arriving while one is computed share its answer, and with the writer's data version
 * an answer is handed on to later identical queries until the writer commits again or a row
 * would leave or enter the window (stats_flight.h, an_horizon.h). A new answer's chart is the
 * last one drawn while that is the same picture, or lags by at most chart_max_lag_ms
 * (an_chartcache.h); the embed's numbers are always the new answer's.
 * The same numbers without Discord: an_reader_stats() (the `fluxbot stats` CLI uses it).
 */
#ifndef FLUXBOT_STATS_REPORTER_H
#define FLUXBOT_STATS_REPORTER_H

#include <stdatomic.h>
#include <stdint.h>

#include "config/fb_config.h"
#include "fluxbot/runtime.h"

typedef struct stats_reporter_config {
    const char *db_path;
    unsigned threads;       /* 0 = 1 */
    unsigned lane_capacity; /* 0 = 256 */
    unsigned active_min;    /* events that make an Active User (0 = AN_ACTIVE_MIN_DEFAULT) */
    /* The analytics writer's commit counter (analytics_writer_data_version) of the same database:
     * answers are reused while it is unchanged. NULL = every query not sharing a concurrent
     * computation reads the database. */
    const _Atomic uint64_t *data_version;
    unsigned reuse_max_ms; /* the oldest answer handed on (0 = 1000 ms; stats_flight.h) */
    /* Skip the chart: the edit is the embed alone, a JSON body without a file part (and no
     * cairo drawing or PNG encoding per answer). The config's stats_chart, inverted so that a
     * zeroed config keeps the chart. */
    bool no_chart;
    /* How long a chart may lag the numbers (an_chartcache.h): a chart drawn this recently for
     * the same buckets is attached again while the bars only grew. 0 = only when the picture
     * would be the same. The embed's numbers are exact either way. */
    unsigned chart_max_lag_ms;
} stats_reporter_config;

/* Fills out from the bot configuration (db_path, stats_threads, mailbox_capacity,
 * active_user_min_events, stats_chart, stats_chart_max_lag_ms). */
void stats_reporter_config_from(stats_reporter_config *out, const fb_config *cfg);

typedef struct stats_reporter_counters {
    uint64_t answered;      /* queries answered with the embed */
    uint64_t computed;      /* database reads (identical concurrent queries share one) */
    uint64_t shared;        /* answers taken from a concurrent identical query's read */
    uint64_t reused;        /* answers handed on from an earlier read (no commit since) */
    uint64_t failed;        /* queries answered with an error text */
    uint64_t rejected;      /* malformed queries (bad application id or token): nothing sent */
    uint64_t charts_drawn;  /* charts drawn and encoded */
    uint64_t charts_reused; /* charts attached again: the same picture, or lagging */
} stats_reporter_counters;

typedef struct stats_reporter stats_reporter;

/* Adds the actor (named "stats") to sys. Each thread opens the database read-only when the
 * system starts; a database that cannot be read fails the start with the path and cause
 * logged. Free the handle with stats_reporter_free after rt_system_free. */
stats_reporter *stats_reporter_new(rt_system *sys, const stats_reporter_config *cfg);
rt_actor *stats_reporter_actor(stats_reporter *r);
void stats_reporter_counters_get(stats_reporter *r, stats_reporter_counters *out);
void stats_reporter_free(stats_reporter *r);

#endif
