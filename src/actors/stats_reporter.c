/*
 * The stats_reporter actor (see stats_reporter.h): a thin loop around an_reader_stats and
 * an_stats_reply_json. Each pool thread keeps its own reader in a thread-local, since SQLite
 * connections are not shared between threads here.
 */
#include "actors/stats_reporter.h"

#include "actors/stats_flight.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analytics/an_chart.h"
#include "analytics/an_chartcache.h"
#include "analytics/an_commands.h"
#include "analytics/an_engine.h"
#include "analytics/an_view.h"
#include "analytics/an_horizon.h"
#include "analytics/an_stats.h"
#include "discord/embed.h"
#include "discord/stats_reply.h"
#include "discord/reply_req.h"
#include "fluxbot/log.h"
#include "msgs/rest.h"
#include "msgs/stats.h"

#define WHO "stats"

struct stats_reporter {
    rt_actor *actor;
    char db_path[1024]; /* a SQLite path or a postgresql:// URL (an_engine.h) */
    unsigned active_min;
    const _Atomic uint64_t *data_version;
    bool no_chart;
    an_chartcache *charts; /* NULL with no_chart */
    stats_flight *flight;
    _Atomic uint64_t answered, failed, rejected;
};

static _Thread_local an_view *tl_reader;
static _Thread_local an_horizon *tl_horizon; /* only with a data version (answers reused) */
/* Each thread's answer buffer (~13 KB with the chart series), allocated once: a query that is
 * handed an earlier answer costs a copy, not an allocation of this size. */
static _Thread_local stats_flight_answer *tl_answer;

static int on_thread_start(rt_actor *self, void *state, unsigned index)
{
    (void)self;
    stats_reporter *r = state;
    char err[768];
    tl_reader = an_view_open(r->db_path, err, sizeof err);
    if (!tl_reader) {
        LOG_ERROR(WHO, "thread %u: %s", index, err);
        return -1;
    }
    if (r->active_min) an_view_set_active_min(tl_reader, r->active_min);
    if (r->data_version) {
        tl_horizon = an_horizon_open(r->db_path, err, sizeof err);
        if (!tl_horizon) {
            LOG_ERROR(WHO, "thread %u: %s", index, err);
            an_view_close(tl_reader);
            tl_reader = NULL;
            return -1;
        }
    }
    tl_answer = malloc(sizeof *tl_answer);
    if (!tl_answer) abort();
    return 0;
}

static void on_thread_exit(rt_actor *self, void *state, unsigned index)
{
    (void)self;
    (void)state;
    (void)index;
    an_view_close(tl_reader);
    tl_reader = NULL;
    an_horizon_close(tl_horizon);
    tl_horizon = NULL;
    free(tl_answer);
    tl_answer = NULL;
}

/* A leader's computation (stats_flight.h): the numbers from this thread's reader, how long
 * they stay exact (when answers are reused), and the chart drawn from them. */
static void compute(void *ctx, int days, int64_t now_ms, stats_flight_answer *out)
{
    const stats_reporter *r = ctx;
    out->rc = an_view_stats(tl_reader, days, now_ms, &out->stats, out->err, sizeof out->err);
    if (out->rc != 0) return;
    if (tl_horizon) {
        char err[256];
        int64_t until;
        /* Without a horizon the answer is still right; it is just not handed on. */
        if (an_horizon_until(tl_horizon, &out->stats, &until, err, sizeof err) == SQLITE_OK)
            out->valid_until_ms = until;
        else
            LOG_WARN(WHO, "%s", err);
    }
    if (r->no_chart) return;
    /* The chart is a bonus: if it cannot be drawn, the numbers still go out. */
    char err[256];
    if (an_chartcache_png(r->charts, &out->stats, now_ms, &out->png, &out->png_len, NULL, err,
                          sizeof err) != 0) {
        LOG_WARN(WHO, "stats chart: %s", err);
        out->png = NULL;
    }
}

static void answer(stats_reporter *r, stats_query_msg *q)
{
    uint64_t app;
    char path[64 + STATS_REPLY_TOKEN_MAX];
    if (!an_parse_u64(q->application_id, &app) || !q->rest ||
        !stats_reply_original_path(app, q->token, path, sizeof path)) {
        atomic_fetch_add(&r->rejected, 1);
        LOG_WARN(WHO, "dropping a malformed stats query (application id, token or REST actor)");
        return;
    }
    stats_flight_answer *a = tl_answer;
    bool shared;
    stats_flight_run(r->flight, q->days, q->now_ms, compute, r, a, &shared);
    char *json;
    if (a->rc == 0) {
        embed e;
        an_commands_stats_embed(&a->stats, &e);
        json = stats_reply_edit_body(&e, a->png ? AN_CHART_FILENAME : NULL);
        embed_free(&e);
        atomic_fetch_add(&r->answered, 1);
    } else {
        LOG_ERROR(WHO, "stats query for %d days failed: %s", q->days, a->err);
        json = an_stats_failed_json(a->rc == SQLITE_RANGE ? a->err
                                                          : "the statistics database could "
                                                            "not be read");
        atomic_fetch_add(&r->failed, 1);
    }
    rest_req_msg *req = reply_req_edit_original(app, q->token, json);
    if (a->png) rest_req_add_file_owned(req, AN_CHART_FILENAME, "image/png", a->png, a->png_len);
    a->png = NULL; /* the request owns it now */
    req->reply_to = q->rest_reply_to;
    req->cookie = q->cookie;
    if (rt_send_spill(q->rest, &req->hdr) != 0) {
        LOG_WARN(WHO, "the REST actor has stopped; a stats answer was not sent");
        rt_msg_free(&req->hdr);
    }
}

static void on_message(rt_actor *self, void *state, rt_msg *m)
{
    (void)self;
    if (m->type == MSG_STATS_QUERY)
        answer(state, (stats_query_msg *)m);
    else
        LOG_WARN(WHO, "ignoring message type %u", m->type);
    rt_msg_free(m);
}

void stats_reporter_config_from(stats_reporter_config *out, const fb_config *cfg)
{
    memset(out, 0, sizeof *out);
    /* A postgresql:// db_url holds the analytics (an_engine.h); else the SQLite db_path. */
    out->db_path = cfg->db_url[0] ? cfg->db_url : cfg->db_path;
    out->threads = cfg->stats_threads > 0 ? (unsigned)cfg->stats_threads : 0;
    out->lane_capacity = cfg->mailbox_capacity > 0 ? (unsigned)cfg->mailbox_capacity : 0;
    out->active_min = cfg->active_user_min_events > 0 ? (unsigned)cfg->active_user_min_events : 0;
    out->no_chart = !cfg->stats_chart;
    out->chart_max_lag_ms =
        cfg->stats_chart_max_lag_ms > 0 ? (unsigned)cfg->stats_chart_max_lag_ms : 0;
}

stats_reporter *stats_reporter_new(rt_system *sys, const stats_reporter_config *cfg)
{
    stats_reporter *r = calloc(1, sizeof *r);
    if (!r) abort();
    snprintf(r->db_path, sizeof r->db_path, "%s", cfg && cfg->db_path ? cfg->db_path : "");
    r->active_min = cfg ? cfg->active_min : 0;
    r->no_chart = cfg && cfg->no_chart;
    if (!r->no_chart) r->charts = an_chartcache_new(cfg ? cfg->chart_max_lag_ms : 0);
    /* Answers are reused until this process's writer commits again: with a database other
     * processes write too, that would miss their commits, so never on PostgreSQL. */
    r->data_version = cfg && !an_engine_is_pg(r->db_path) ? cfg->data_version : NULL;
    r->flight = stats_flight_new(r->data_version, cfg ? cfg->reuse_max_ms : 0);
    rt_actor_spec spec = {
        .name = "stats",
        .threads = cfg && cfg->threads ? cfg->threads : 1,
        .lane_capacity = cfg && cfg->lane_capacity ? cfg->lane_capacity : 256,
        .state = r,
        .ops = {.on_thread_start = on_thread_start,
                .on_message = on_message,
                .on_thread_exit = on_thread_exit},
    };
    r->actor = rt_actor_new(sys, &spec);
    if (!r->actor) {
        stats_flight_free(r->flight);
        an_chartcache_free(r->charts);
        free(r);
        return NULL;
    }
    return r;
}

rt_actor *stats_reporter_actor(stats_reporter *r)
{
    return r ? r->actor : NULL;
}

void stats_reporter_counters_get(stats_reporter *r, stats_reporter_counters *out)
{
    out->answered = atomic_load(&r->answered);
    out->failed = atomic_load(&r->failed);
    out->rejected = atomic_load(&r->rejected);
    stats_flight_counts(r->flight, &out->computed, &out->shared, &out->reused);
    out->charts_drawn = out->charts_reused = 0;
    if (r->charts) {
        uint64_t same, lagging;
        an_chartcache_counts(r->charts, &out->charts_drawn, &same, &lagging);
        out->charts_reused = same + lagging;
    }
}

void stats_reporter_free(stats_reporter *r)
{
    if (r) {
        stats_flight_free(r->flight);
        an_chartcache_free(r->charts);
    }
    free(r);
}
