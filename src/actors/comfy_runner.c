/*
 * The runner's assembly and lifetime (see comfy_runner.h for the shape): loads the catalogue,
 * builds the server table, the event registry, the worker pool and the coordinator, each with
 * the narrow parts it needs, and sums their counters for the metrics. It owns the lists the
 * router reads (comfy_runner_catalog, comfy_runner_swap_lists). Nothing here runs on the actors'
 * threads: the parts talk to each other by messages, never through this struct.
 *
 * Dependencies, one way only:
 *   comfy_runner → comfy_coord → comfy_deliver → comfy_outcome, comfy_rest
 *                              → comfy_worker (the pool's actor and its stop)
 *                → comfy_worker → comfy_events → comfy_chan, comfy_servers
 *                               → comfy_http, comfy_servers, comfy_rest, comfy_outcome
 *                → comfy_ws (started by the coordinator; calls comfy_events' callbacks)
 */
#include "actors/comfy_runner.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "actors/comfy_coord.h"
#include "actors/comfy_events.h"
#include "actors/comfy_servers.h"
#include "actors/comfy_worker.h"
#include "actors/job_keeper.h"
#include "comfy/cproto.h"
#include "comfy/dlpol.h"
#include "fluxbot/log.h"
#include "pg/pg_conn.h"
#include "util/util_rand.h"

struct comfy_runner {
    comfy_runner_config rc;
    ratios_set ratios;
    loras_set loras;
    decl_set *decls; /* the declared commands at start (heap) */
    /* Lists swapped in by comfy_runner_swap_lists (heap) and the ones they replaced: all kept
     * until comfy_runner_free, because readers may still hold a pointer they loaded. */
    pthread_mutex_t swap_mu;
    ratios_set **swapped_ratios;
    loras_set **swapped_loras;
    unsigned nswapped;
    decl_set **swapped_decls; /* declarations SIGHUP made current (jobs point into them) */
    unsigned nswapped_decls;
    cjob_catalog cat;
    char client_id[40];
    dlpol dl_policy; /* where input images may come from (read-only after create) */
    const char *ws_urls[FB_CONFIG_MAX_LIST];
    comfy_servers srv;   /* the server table (comfy_servers.h) */
    comfy_events events; /* websocket events → jobs (comfy_events.h) */
    comfy_worker *workers;
    comfy_coord *coord;
    job_keeper *keeper; /* postgresql:// db_url: the jobs' leases (job_keeper.h); else NULL */
};

/* The bot's one websocket clientId: given, or a random UUID. */
static void make_client_id(comfy_runner *r, const char *given)
{
    if (given && *given) {
        snprintf(r->client_id, sizeof r->client_id, "%s", given);
        return;
    }
    uint8_t rnd[16];
    for (int i = 0; i < 2; i++) {
        uint64_t v = util_rand_u64();
        memcpy(rnd + i * 8, &v, 8);
    }
    cproto_uuid(rnd, r->client_id);
}

static int load_lists(comfy_runner *r, const fb_config *cfg, char *err, size_t errlen)
{
    r->decls = calloc(1, sizeof *r->decls);
    if (!r->decls) abort();
    /* The generation commands: a broken declaration stops the start, file and key named. */
    if (ratios_load_file(&r->ratios, cfg->ratios_file, err, errlen) ||
        loras_load_file(&r->loras, cfg->loras_file, err, errlen) ||
        decl_set_load(r->decls, cfg->workflows_dir, err, errlen))
        return -1;
    /* without a chat endpoint the "enhance" options are not registered (comfy/decl.h) */
    r->decls->without_enhance = cfg->llm_url[0] == '\0';
    r->cat.ratios = &r->ratios;
    r->cat.loras = &r->loras;
    r->cat.decls = r->decls;
    r->cat.models = r->rc.models;
    r->cat.max_attachment_bytes = (uint64_t)cfg->max_attachment_bytes;
    return 0;
}

static unsigned lanes_of(const fb_config *cfg)
{
    return cfg->mailbox_capacity > 0 ? (unsigned)cfg->mailbox_capacity : 1024;
}

static unsigned threads_of(const fb_config *cfg)
{
    return cfg->runner_threads > 0 ? (unsigned)cfg->runner_threads : 1;
}

static uint64_t http_timeout_of(const comfy_runner_config *rc)
{
    return rc->http_timeout_ms ? rc->http_timeout_ms : 30000;
}

static uint64_t no_server_wait_of(const comfy_runner_config *rc)
{
    return rc->no_server_wait_ms ? rc->no_server_wait_ms : (uint64_t)rc->cfg->comfyui_wait_ms;
}

static comfy_worker *make_workers(comfy_runner *r, rt_system *sys, char *err, size_t errlen)
{
    const comfy_runner_config *rc = &r->rc;
    const fb_config *cfg = rc->cfg;
    comfy_worker_config wc = {
        .threads = threads_of(cfg),
        .lane_capacity = lanes_of(cfg),
        .progress_ms = (uint64_t)cfg->progress_interval_ms,
        .stall_ms = (uint64_t)cfg->job_stall_timeout_ms,
        .http_timeout_ms = http_timeout_of(rc),
        .no_server_wait_ms = no_server_wait_of(rc),
        .connect_timeout_ms =
            cfg->comfyui_connect_timeout_ms > 0 ? (uint64_t)cfg->comfyui_connect_timeout_ms : 3000,
        .reconcile_poll_ms = rc->reconcile_poll_ms ? rc->reconcile_poll_ms : 1000,
        .queue_poll_ms = rc->queue_poll_ms ? rc->queue_poll_ms : 3000,
        .down_after =
            cfg->comfyui_down_after_failures > 0 ? (unsigned)cfg->comfyui_down_after_failures : 3,
        .max_attachment = (uint64_t)cfg->max_attachment_bytes,
        .dl_policy = &r->dl_policy,
        .img_limits = {.max_side = (uint32_t)cfg->max_image_side,
                       .max_pixels = (uint64_t)cfg->max_image_pixels},
        .cat = &r->cat,
        .client_id = r->client_id,
        .output_dir = cfg->output_dir,
        .srv = &r->srv,
        .events = &r->events,
        .rest = rc->rest,
        .analytics = rc->analytics,
        .keeper = r->keeper,
        .token_valid_ms = rc->token_valid_ms,
    };
    return comfy_worker_new(sys, &wc, err, errlen);
}

static comfy_coord *make_coord(comfy_runner *r, rt_system *sys, char *err, size_t errlen)
{
    const comfy_runner_config *rc = &r->rc;
    const fb_config *cfg = rc->cfg;
    for (unsigned i = 0; i < r->srv.n; i++)
        r->ws_urls[i] = comfy_servers_url(&r->srv, i);
    comfy_coord_config cc = {
        .threads = threads_of(cfg),
        .lane_capacity = lanes_of(cfg),
        .progress_ms = (uint64_t)cfg->progress_interval_ms,
        .no_server_wait_ms = no_server_wait_of(rc),
        .stop_grace_ms = rc->stop_grace_ms ? rc->stop_grace_ms : 30000,
        .token_valid_ms = rc->token_valid_ms,
        .user_max_active = (unsigned)cfg->user_max_concurrent_jobs,
        .user_max_per_hour = (unsigned)cfg->user_max_jobs_per_hour,
        .max_total = (unsigned)cfg->max_queued_jobs,
        .db_url = cfg->db_url,
        /* Results live with the analytics: in the shared database when there is one. */
        .results_db = !rc->analytics   ? ""
                      : cfg->db_url[0] ? cfg->db_url
                                       : cfg->db_path,
        .result_retention_ms = (uint64_t)cfg->result_retention_days * 86400000ULL,
        .cat = &r->cat,
        .mod = rc->mod,
        .workers = r->workers,
        .srv = &r->srv,
        .ws = {.urls = r->ws_urls,
               .n = r->srv.n,
               .client_id = r->client_id,
               .on_event = comfy_events_on_event,
               .on_link = comfy_events_on_link,
               .on_binary = comfy_events_on_binary,
               .on_executed = comfy_events_on_executed,
               .ctx = &r->events,
               .ping_secs = rc->ws_ping_secs},
        .rest = rc->rest,
        .analytics = rc->analytics,
        .enhancer = rc->enhancer,
        .keeper = r->keeper,
    };
    return comfy_coord_new(sys, &cc, err, errlen);
}

void comfy_runner_config_from(comfy_runner_config *out, const fb_config *cfg)
{
    memset(out, 0, sizeof *out);
    out->cfg = cfg;
}

comfy_runner *comfy_runner_new(rt_system *sys, const comfy_runner_config *rc, char *err,
                               size_t errlen)
{
    const fb_config *cfg = rc->cfg;
    if (!cfg || cfg->comfyui_urls.count == 0) {
        snprintf(err, errlen, "comfy: no ComfyUI server configured (COMFYUI_URLS)");
        return NULL;
    }
    comfy_runner *r = calloc(1, sizeof *r);
    if (!r) abort();
    r->rc = *rc;
    pthread_mutex_init(&r->swap_mu, NULL);
    /* the table first: comfy_runner_free destroys what the calloc left zeroed just as well */
    if (comfy_servers_init(&r->srv, &cfg->comfyui_urls, http_timeout_of(rc), err, errlen) != 0) {
        comfy_runner_free(r);
        return NULL;
    }
    comfy_events_init(&r->events, &r->srv);
    if (load_lists(r, cfg, err, errlen) != 0 ||
        dlpol_init(&r->dl_policy, &cfg->attachment_hosts, &cfg->comfyui_urls, err, errlen) != 0) {
        comfy_runner_free(r);
        return NULL;
    }
    make_client_id(r, rc->client_id);
    /* the keeper first: it stops after the pool and the coordinator, so their last finishes
     * are written and the rows of the jobs they leave are handed to the other processes */
    if (pg_is_url(cfg->db_url)) {
        char host[64] = "host", owner[PG_LEASE_OWNER_MAX];
        gethostname(host, sizeof host - 1);
        snprintf(owner, sizeof owner, "%.60s:%ld:%016" PRIx64, host, (long)getpid(),
                 util_rand_u64());
        job_keeper_config kc;
        job_keeper_config_from(&kc, cfg);
        kc.owner = owner;
        r->keeper = job_keeper_new(sys, &kc);
        if (!r->keeper) {
            snprintf(err, errlen, "comfy: db_url is not a usable postgresql:// URL");
            comfy_runner_free(r);
            return NULL;
        }
    }
    /* the pool before the coordinator, which hands it jobs: the system stops them in reverse */
    r->workers = make_workers(r, sys, err, errlen);
    r->coord = r->workers ? make_coord(r, sys, err, errlen) : NULL;
    if (!r->coord) {
        comfy_runner_free(r);
        return NULL;
    }
    r->events.notify = comfy_coord_actor(r->coord);
    job_keeper_set_target(r->keeper, comfy_coord_actor(r->coord));
    LOG_INFO("comfy", "%u ComfyUI server(s), %u runner thread(s), %u resolution(s), %u LoRA(s)",
             r->srv.n, threads_of(cfg), r->ratios.count, r->loras.count);
    return r;
}

rt_actor *comfy_runner_actor(comfy_runner *r)
{
    return r ? comfy_coord_actor(r->coord) : NULL;
}
int comfy_runner_swap_lists(comfy_runner *r, const ratios_set *ratios, loras_set *loras, char *err,
                            size_t errlen)
{
    if (!r || !ratios || !loras || ratios->count == 0) {
        snprintf(err, errlen, "no resolutions to apply");
        return -1;
    }
    ratios_set *nr = malloc(sizeof *nr);
    loras_set *nl = malloc(sizeof *nl);
    pthread_mutex_lock(&r->swap_mu);
    ratios_set **sr = nr && nl ? realloc(r->swapped_ratios, (r->nswapped + 1) * sizeof *sr) : NULL;
    if (sr) r->swapped_ratios = sr;
    loras_set **sl = sr ? realloc(r->swapped_loras, (r->nswapped + 1) * sizeof *sl) : NULL;
    if (sl) r->swapped_loras = sl;
    if (!sr || !sl) {
        pthread_mutex_unlock(&r->swap_mu);
        free(nr);
        free(nl);
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    *nr = *ratios;
    *nl = *loras; /* takes ownership of the LoRA entries */
    memset(loras, 0, sizeof *loras);
    r->swapped_ratios[r->nswapped] = nr;
    r->swapped_loras[r->nswapped] = nl;
    r->nswapped++;
    /* Publication order does not matter: each reader loads each pointer once. */
    atomic_store(&r->cat.ratios, nr);
    atomic_store(&r->cat.loras, nl);
    pthread_mutex_unlock(&r->swap_mu);
    return 0;
}

int comfy_runner_swap_decls(comfy_runner *r, decl_set *decls, char *err, size_t errlen)
{
    decl_set *fresh = r && decls ? malloc(sizeof *fresh) : NULL;
    if (!fresh) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    pthread_mutex_lock(&r->swap_mu);
    decl_set **grown =
        realloc(r->swapped_decls, (r->nswapped_decls + 1) * sizeof *r->swapped_decls);
    if (!grown) {
        pthread_mutex_unlock(&r->swap_mu);
        free(fresh);
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    r->swapped_decls = grown;
    *fresh = *decls; /* the declarations move */
    memset(decls, 0, sizeof *decls);
    r->swapped_decls[r->nswapped_decls++] = fresh;
    atomic_store(&r->cat.decls, fresh);
    pthread_mutex_unlock(&r->swap_mu);
    return 0;
}

const cjob_catalog *comfy_runner_catalog(const comfy_runner *r)
{
    return r ? &r->cat : NULL;
}

void comfy_runner_free(comfy_runner *r)
{
    if (!r) return;
    comfy_coord_free(r->coord); /* stops the websockets: no callback into events after this */
    comfy_worker_free(r->workers);
    job_keeper_free(r->keeper);
    comfy_events_destroy(&r->events);
    loras_free(&r->loras);
    for (unsigned i = 0; i < r->nswapped; i++) {
        loras_free(r->swapped_loras[i]);
        free(r->swapped_loras[i]);
        free(r->swapped_ratios[i]);
    }
    free(r->swapped_loras);
    free(r->swapped_ratios);
    for (unsigned i = 0; i < r->nswapped_decls; i++) {
        decl_set_free(r->swapped_decls[i]);
        free(r->swapped_decls[i]);
    }
    free(r->swapped_decls);
    decl_set_free(r->decls);
    free(r->decls);
    pthread_mutex_destroy(&r->swap_mu);
    comfy_servers_destroy(&r->srv);
    free(r);
}

bool comfy_runner_server_get(comfy_runner *r, unsigned i, comfy_servers_info *out)
{
    return r && comfy_servers_get(&r->srv, i, out);
}

void comfy_runner_counters_get(comfy_runner *r, comfy_runner_counters *out)
{
    memset(out, 0, sizeof *out);
    comfy_coord_counters c;
    comfy_worker_counters w;
    comfy_coord_counters_get(r->coord, &c);
    comfy_worker_counters_get(r->workers, &w);
    out->jobs_admitted = c.admitted;
    out->jobs_refused = c.refused;
    out->jobs_succeeded = w.succeeded;
    out->jobs_failed = w.failed + c.failed;
    out->jobs_resubmitted = w.resubmitted;
    out->progress_edits = w.progress_edits;
    out->progress_suppressed = w.progress_suppressed;
    out->events_routed = atomic_load(&r->events.n_routed);
    out->events_orphaned = atomic_load(&r->events.n_orphaned);
    out->events_claimed = atomic_load(&r->events.n_claimed);
    out->waiting = c.waiting;
    out->running = c.running;
    out->jobs_timed = w.timed;
    out->job_run_ms_sum = w.run_ms_sum;
    out->job_total_ms_sum = w.total_ms_sum;
    out->servers = r->srv.n;
    out->servers_up = comfy_servers_up_count(&r->srv);
    if (r->keeper) {
        job_keeper_counters k;
        job_keeper_counters_get(r->keeper, &k);
        out->jobs_taken_over = k.taken_over;
        out->jobs_fenced = k.lost;
        out->lease_renew_failures = k.renew_failed;
    }
}
