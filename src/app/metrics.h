/*
 * The Prometheus exporter: a small HTTP/1.1 server on 127.0.0.1 (its own thread, one poll()
 * loop over non-blocking sockets) answering GET /metrics with the text exposition format
 * (mfmt.h). Many clients are served at once, each with a deadline for its request and
 * for its response and a bounded request size, so a slow, idle or oversized client never
 * delays a scrape.
 *
 * What it shows comes from collectors: functions that append families to the page. The
 * built-in ones read the runtime's per-actor counters (rt_system_foreach + rt_actor_metrics),
 * the analytics writer, the stats reporter, the Discord gateway and REST actors, the ComfyUI
 * runner and the process itself (/proc/self). Anyone may add a collector (metrics_add) at any time;
 * every collector runs on the exporter's thread during a scrape, so it must only read thread-safe
 * accessors.
 *
 * Lifetime: every handle given to a collector must outlive the exporter — stop the exporter
 * (metrics_stop) before freeing the actors it reads. Opt-in: the app starts it only when
 * metrics_port is non-zero; loopback only, by design (no authentication).
 */
#ifndef FLUXBOT_APP_METRICS_H
#define FLUXBOT_APP_METRICS_H

#include <stddef.h>
#include <stdint.h>

#include "app/mfmt.h"
#include "app/metrics_http.h"
#include "fluxbot/runtime.h"

typedef struct metrics_server metrics_server;

/* Appends families to out. ctx is what was given to metrics_add. */
typedef void (*metrics_collect_fn)(mfmt *out, void *ctx);

/* Binds 127.0.0.1:port (0 = an ephemeral port, for tests) and starts the thread.
 * NULL with a reason in err (e.g. the port is taken). */
metrics_server *metrics_start(uint16_t port, char *err, size_t errlen);
/* The bound port. */
uint16_t metrics_port(const metrics_server *s);
/* Adds a collector; 0, or -1 when the table is full (32). Thread-safe. */
int metrics_add(metrics_server *s, metrics_collect_fn fn, void *ctx);
/* Stops the thread (an in-progress scrape finishes first) and frees. NULL is ignored. */
void metrics_stop(metrics_server *s);
/* The page GET /metrics would return now (malloc'd, caller frees); NULL on allocation
 * failure. Runs the collectors on the calling thread. */
char *metrics_render(metrics_server *s, size_t *len);

/* The handles the app owns, for metrics_add_sources: any may be NULL. */
struct analytics_writer;
struct comfy_runner;
struct discord_rest;
struct stats_reporter;
struct gateway;
struct mod_refresher;
typedef struct metrics_sources {
    rt_system *sys;
    struct analytics_writer *analytics;
    struct comfy_runner *runner;
    struct discord_rest *rest;
    struct stats_reporter *stats;
    struct gateway *gateway;
    struct mod_refresher *modsync; /* with a shared database only */
} metrics_sources;
/* Adds the built-in collectors for every non-NULL source, plus the process collector. 0/-1. */
int metrics_add_sources(metrics_server *s, const metrics_sources *src);

/* The built-in collectors (ctx is the handle named; process takes NULL). */
void metrics_collect_runtime(mfmt *out, void *rt_system_ptr);
void metrics_collect_analytics(mfmt *out, void *analytics_writer_ptr);
void metrics_collect_runner(mfmt *out, void *comfy_runner_ptr);
void metrics_collect_rest(mfmt *out, void *discord_rest_ptr);
void metrics_collect_stats(mfmt *out, void *stats_reporter_ptr);
void metrics_collect_gateway(mfmt *out, void *gateway_ptr);
void metrics_collect_modsync(mfmt *out, void *mod_refresher_ptr);
void metrics_collect_process(mfmt *out, void *unused);

/* ---- the HTTP side ------------------------------------------------------------------------ */

/* Connections served at once; one more closes the oldest still waiting for its request. */
#define METRICS_MAX_CONNS 64

/* The request parser (metrics_http_parse_request, metrics_http_route) is in metrics_http.h. */

#endif
