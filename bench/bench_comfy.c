/*
 * ComfyUI runner benchmark, all in one run against loopback fakes (fake Discord REST + the
 * discord_rest actor, K fake ComfyUI servers that execute instantly, sequentially per server
 * like the real one):
 *  - jobs/s through the runner for 1..M runner threads × 1..K servers: each job is the full
 *    path (admission, POST /prompt, websocket events, /history, /view of a real PNG, progress
 *    edits and the final multipart PATCH through the REST actor). Ratios are against
 *    1 thread / 1 server measured in the same run.
 *  - the progress-edit rate of a job that emits many progress events, against the configured
 *    limit (one edit per progress_interval_ms per job).
 * With --gpu-ms G each job also occupies its fake server for G ms (as a GPU would), which is
 * what shows the spread over servers; instantly, the bottleneck is this machine's CPU.
 *
 *   bench_comfy [--json] [--jobs N] [--max-threads M] [--max-servers K] [--repeat R]
 *               [--gpu-ms G]
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "actors/comfy_runner.h"
#include "comfy/cjob.h"
#include "actors/comfy_http.h"
#include "actors/discord_rest.h"
#include "fakes/fake_comfy.h"
#include "fakes/fake_rest.h"
#include "fluxbot/log.h"
#include "msgs/comfy.h"
#include "util/util_time.h"
#include "bench_util.h"

#define TOKEN "bench-token"
#define APP 777ULL
#define MAXK 8

static unsigned g_jobs = 100, g_max_threads = 4, g_max_servers = 4, g_repeat = 3, g_gpu_ms = 0;
static uint64_t g_ix = 5000;

typedef struct env {
    fake_rest *rest;
    fake_comfy *srv[MAXK];
    comfy_http *http;
} env;

typedef struct run {
    rt_system *sys;
    discord_rest *dr;
    comfy_runner *cr;
    fb_config cfg;
} run;

static int run_start(run *r, env *e, unsigned threads, unsigned servers, int64_t progress_ms)
{
    memset(r, 0, sizeof *r);
    fb_config_defaults(&r->cfg);
    r->cfg.runner_threads = threads;
    r->cfg.progress_interval_ms = progress_ms;
    r->cfg.user_max_concurrent_jobs = 1000;
    r->cfg.user_max_jobs_per_hour = 100000;
    r->cfg.max_queued_jobs = 100000;
    r->cfg.comfyui_urls.count = servers;
    for (unsigned i = 0; i < servers; i++)
        snprintf(r->cfg.comfyui_urls.items[i], FB_CONFIG_STR, "%s", fake_comfy_url(e->srv[i]));
    r->sys = rt_system_new();
    discord_rest_config dc = {.api_base = fake_rest_base_url(e->rest), .token = TOKEN};
    r->dr = discord_rest_new(r->sys, &dc);
    comfy_runner_config rc = {
        .cfg = &r->cfg, .rest = discord_rest_actor(r->dr), .queue_poll_ms = 1000};
    char err[512];
    r->cr = comfy_runner_new(r->sys, &rc, err, sizeof err);
    if (!r->cr) {
        fprintf(stderr, "bench_comfy: %s\n", err);
        return -1;
    }
    if (rt_system_start(r->sys) != 0) return -1;
    for (int i = 0; i < 1000; i++) {
        comfy_runner_counters st;
        comfy_runner_counters_get(r->cr, &st);
        if (st.servers_up == servers) return 0;
        util_sleep_ms(5);
    }
    fprintf(stderr, "bench_comfy: servers did not come up\n");
    return -1;
}

static void run_stop(run *r)
{
    rt_system_stop(r->sys);
    comfy_runner_free(r->cr);
    rt_system_free(r->sys);
    discord_rest_free(r->dr);
}

/* A deferred interaction on the fake Discord, like the router leaves it. */
static uint64_t interaction(env *e, char token[64])
{
    uint64_t id = ++g_ix;
    snprintf(token, 64, "btok-%" PRIu64, id);
    fake_rest_register_interaction(e->rest, id, token, 1, false);
    char url[256];
    snprintf(url, sizeof url, "%s/interactions/%" PRIu64 "/%s/callback",
             fake_rest_base_url(e->rest), id, token);
    comfy_http_res res;
    comfy_http_post_json(e->http, url, "{\"type\":5}", 5000, &res);
    comfy_http_res_free(&res);
    return id;
}

/* The resolved job the router forwards after its defer (what the runner receives). */
static comfy_start_msg *job_msg(const cjob_catalog *cat, uint64_t id, const char *token,
                                uint64_t user)
{
    comfy_job_msg *m = comfy_job_msg_new(COMFY_KIND_IMAGE, APP, id, token);
    m->decl = decl_set_find(cat->decls, "comfy");
    comfy_job_set_prompt(m, "a lighthouse at dusk, volumetric light");
    m->origin.user_id = user;
    m->origin.attachment_size_limit = 10u << 20;
    char err[256];
    cjob *job = cjob_from_msg(m, cat, 0, id * 0x9E3779B97F4A7C15ULL, err, sizeof err);
    rt_msg_free(&m->hdr);
    if (!job) {
        fprintf(stderr, "bench_comfy: %s\n", err);
        exit(1);
    }
    return comfy_start_msg_new(job);
}

/* jobs/s for one configuration (median of g_repeat rounds). */
static double bench_config(env *e, unsigned threads, unsigned servers)
{
    double rates[16];
    unsigned rounds = g_repeat > 16 ? 16 : g_repeat;
    run r;
    if (run_start(&r, e, threads, servers, 1500)) return 0;
    for (unsigned k = 0; k < rounds; k++) {
        comfy_start_msg **msgs = calloc(g_jobs, sizeof *msgs);
        for (unsigned i = 0; i < g_jobs; i++) {
            char tok[64];
            uint64_t id = interaction(e, tok);
            msgs[i] = job_msg(comfy_runner_catalog(r.cr), id, tok, 100 + i);
        }
        comfy_runner_counters st0;
        comfy_runner_counters_get(r.cr, &st0);
        uint64_t done0 = st0.jobs_succeeded + st0.jobs_failed;
        uint64_t t0 = rt_now_ms();
        for (unsigned i = 0; i < g_jobs; i++)
            rt_send_wait(comfy_runner_actor(r.cr), &msgs[i]->hdr, 5000);
        free(msgs);
        comfy_runner_counters st;
        for (;;) {
            comfy_runner_counters_get(r.cr, &st);
            if (st.jobs_succeeded + st.jobs_failed >= done0 + g_jobs) break;
            util_sleep_ms(1);
        }
        uint64_t dt = rt_now_ms() - t0;
        if (st.jobs_failed != st0.jobs_failed)
            fprintf(stderr, "bench_comfy: %" PRIu64 " job(s) failed\n",
                    st.jobs_failed - st0.jobs_failed);
        rates[k] = g_jobs * 1000.0 / (double)(dt ? dt : 1);
    }
    run_stop(&r);
    return bench_median(rates, rounds);
}

typedef struct prog_result {
    unsigned jobs, events_per_job, edits_min, edits_max;
    double min_gap_ms, max_rate, limit_rate;
    uint64_t suppressed;
} prog_result;

/* Several concurrent jobs, each emitting 100 progress events over ~2 s; counts the PATCH edits
 * each job's message got and the smallest gap between two of them. */
static void bench_progress(env *e, prog_result *out)
{
    const unsigned njobs = 2, steps = 100, delay = 20;
    const int64_t interval = 500;
    memset(out, 0, sizeof *out);
    for (unsigned i = 0; i < 2; i++) {
        fake_comfy_set_steps(e->srv[i], steps);
        fake_comfy_set_step_delay(e->srv[i], delay);
    }
    run r;
    if (run_start(&r, e, njobs, 2, interval)) return;
    char toks[njobs][64];
    for (unsigned i = 0; i < njobs; i++) {
        uint64_t id = interaction(e, toks[i]);
        rt_send_wait(comfy_runner_actor(r.cr),
                     &job_msg(comfy_runner_catalog(r.cr), id, toks[i], 7 + i)->hdr, 5000);
    }
    comfy_runner_counters st;
    for (;;) {
        comfy_runner_counters_get(r.cr, &st);
        if (st.jobs_succeeded + st.jobs_failed >= njobs) break;
        util_sleep_ms(5);
    }
    util_sleep_ms(200);
    run_stop(&r);
    out->jobs = njobs;
    out->events_per_job = steps;
    out->limit_rate = 1000.0 / (double)interval;
    out->min_gap_ms = 1e9;
    out->edits_min = ~0u;
    out->suppressed = st.progress_suppressed;
    for (unsigned j = 0; j < njobs; j++) {
        char prefix[200];
        snprintf(prefix, sizeof prefix, "/webhooks/%" PRIu64 "/%s", (uint64_t)APP, toks[j]);
        fake_rest_filter f = {.method = "PATCH", .path_prefix = prefix};
        fake_rest_request *reqs = NULL;
        size_t n = fake_rest_collect(e->rest, &f, &reqs);
        /* progress edits are all but the final one */
        unsigned edits = n > 0 ? (unsigned)n - 1 : 0;
        if (edits < out->edits_min) out->edits_min = edits;
        if (edits > out->edits_max) out->edits_max = edits;
        for (size_t i = 1; i + 1 < n; i++) {
            double gap = (double)(reqs[i].t_ms - reqs[i - 1].t_ms);
            if (gap < out->min_gap_ms) out->min_gap_ms = gap;
        }
        if (n > 2) {
            double span = (double)(reqs[n - 2].t_ms - reqs[0].t_ms);
            double rate = span > 0 ? (double)(n - 2) * 1000.0 / span : 0;
            if (rate > out->max_rate) out->max_rate = rate;
        }
        fake_rest_requests_free(reqs, n);
    }
    for (unsigned i = 0; i < 2; i++) {
        fake_comfy_set_steps(e->srv[i], 4);
        fake_comfy_set_step_delay(e->srv[i], g_gpu_ms / 4);
    }
}

int main(int argc, char **argv)
{
    bool json = false;
    const bench_arg args[] = {{"--json", BENCH_FLAG, &json},
                              {"--jobs", BENCH_UNSIGNED, &g_jobs},
                              {"--max-threads", BENCH_UNSIGNED, &g_max_threads},
                              {"--max-servers", BENCH_UNSIGNED, &g_max_servers},
                              {"--repeat", BENCH_UNSIGNED, &g_repeat},
                              {"--gpu-ms", BENCH_UNSIGNED, &g_gpu_ms}};
    if (!bench_args(argc, argv, args, 6,
                    "[--json] [--jobs N] [--max-threads M] [--max-servers K] [--repeat R] "
                    "[--gpu-ms G]"))
        return 2;
    if (g_jobs == 0 || g_max_threads == 0 || g_max_servers == 0 || g_repeat == 0) return 2;
    if (g_max_servers > MAXK) g_max_servers = MAXK;
    if (g_max_threads > 64) g_max_threads = 64;
    log_configure(LOG_LEVEL_ERROR, false, 2);
    env e;
    memset(&e, 0, sizeof e);
    fake_rest_config fc = {.token = TOKEN, .application_id = APP};
    e.rest = fake_rest_start(&fc);
    fake_comfy_opts o = {
        .steps = 4, .step_delay_ms = g_gpu_ms / 4, .png_width = 64, .png_height = 64};
    unsigned nsrv = g_max_servers > 2 ? g_max_servers : 2;
    for (unsigned i = 0; i < nsrv; i++)
        e.srv[i] = fake_comfy_start(&o);
    e.http = comfy_http_new();
    if (!e.rest || !e.http) return 1;

    unsigned tvals[8], nt = 0, svals[8], ns = 0;
    for (unsigned t = 1; t <= g_max_threads && nt < 8; t *= 2)
        tvals[nt++] = t;
    if (tvals[nt - 1] != g_max_threads && nt < 8) tvals[nt++] = g_max_threads;
    for (unsigned s = 1; s <= g_max_servers && ns < 8; s *= 2)
        svals[ns++] = s;
    if (svals[ns - 1] != g_max_servers && ns < 8) svals[ns++] = g_max_servers;
    double rate[8][8];
    for (unsigned a = 0; a < nt; a++)
        for (unsigned b = 0; b < ns; b++)
            rate[a][b] = bench_config(&e, tvals[a], svals[b]);
    prog_result pr;
    bench_progress(&e, &pr);
    double base = rate[0][0] > 0 ? rate[0][0] : 1;

    if (json) {
        printf("{\"bench\":\"comfy\",\"jobs_per_round\":%u,\"repeat\":%u,\"gpu_ms\":%u,"
               "\"rows\":[",
               g_jobs, g_repeat, g_gpu_ms);
        for (unsigned a = 0; a < nt; a++)
            for (unsigned b = 0; b < ns; b++)
                printf("%s{\"threads\":%u,\"servers\":%u,\"jobs_per_s\":%.1f,\"ratio\":%.2f}",
                       a || b ? "," : "", tvals[a], svals[b], rate[a][b], rate[a][b] / base);
        printf("],\"progress\":{\"jobs\":%u,\"events_per_job\":%u,\"edits_min\":%u,"
               "\"edits_max\":%u,\"min_gap_ms\":%.0f,\"max_edits_per_s\":%.2f,"
               "\"limit_edits_per_s\":%.2f,\"under_limit\":%s}}\n",
               pr.jobs, pr.events_per_job, pr.edits_min, pr.edits_max, pr.min_gap_ms, pr.max_rate,
               pr.limit_rate, pr.max_rate <= pr.limit_rate * 1.05 ? "true" : "false");
    } else {
        if (g_gpu_ms)
            printf("comfy runner: %u jobs per round, median of %u rounds, fake ComfyUI busy %u ms "
                   "per job\n\n",
                   g_jobs, g_repeat, g_gpu_ms);
        else
            printf("comfy runner: %u jobs per round, median of %u rounds, instant fake "
                   "ComfyUI\n\n",
                   g_jobs, g_repeat);
        printf("%-8s", "threads");
        for (unsigned b = 0; b < ns; b++)
            printf("  %u server%s (jobs/s, ×)", svals[b], svals[b] == 1 ? " " : "s");
        printf("\n");
        for (unsigned a = 0; a < nt; a++) {
            printf("%-8u", tvals[a]);
            for (unsigned b = 0; b < ns; b++)
                printf("  %8.1f  %5.2fx            ", rate[a][b], rate[a][b] / base);
            printf("\n");
        }
        printf("\nprogress edits: %u jobs × %u progress events; edits per job %u..%u; smallest "
               "gap %.0f ms; highest rate %.2f/s; limit %.2f/s (%s)\n",
               pr.jobs, pr.events_per_job, pr.edits_min, pr.edits_max, pr.min_gap_ms, pr.max_rate,
               pr.limit_rate, pr.max_rate <= pr.limit_rate * 1.05 ? "under" : "OVER");
    }
    comfy_http_free(e.http);
    for (unsigned i = 0; i < nsrv; i++)
        fake_comfy_stop(e.srv[i]);
    fake_rest_stop(e.rest);
    return 0;
}
