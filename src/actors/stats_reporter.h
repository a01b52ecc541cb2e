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
 * to the query's REST actor, which edits the deferred (ephemeral) response. A failed query
 * edits it with a short error text instead, so the user never stays on "thinking". Identical
 * queries arriving while one is computed share its answer (stats_flight.h).
 * The same numbers without Discord: an_reader_stats() (the `fluxbot stats` CLI uses it).
 */
#ifndef FLUXBOT_STATS_REPORTER_H
#define FLUXBOT_STATS_REPORTER_H

#include <stdint.h>

#include "fluxbot/runtime.h"

typedef struct stats_reporter_config {
    const char *db_path;
    unsigned threads;       /* 0 = 1 */
    unsigned lane_capacity; /* 0 = 256 */
    unsigned active_min;    /* events that make an Active User (0 = AN_ACTIVE_MIN_DEFAULT) */
} stats_reporter_config;

typedef struct stats_reporter_counters {
    uint64_t answered; /* queries answered with the embed */
    uint64_t computed; /* database reads (identical concurrent queries share one) */
    uint64_t shared;   /* answers taken from a concurrent identical query's read */
    uint64_t failed;   /* queries answered with an error text */
    uint64_t rejected; /* malformed queries (bad application id or token): nothing sent */
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
