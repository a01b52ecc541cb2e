/*
 * End-to-end benchmark: drives the real `fluxbot` binary, as a separate process, against the
 * loopback fakes started here (fake Discord gateway + REST, one or more fake ComfyUI servers
 * with instant or fixed-delay generation), at a fixed interaction rate.
 *
 * Load is open-loop: every interaction's due time is fixed before the run, the injector sends
 * whatever is due (catching up after a stall), and each latency is measured from the due time
 * to the moment the fake Discord saw the answer — so a slow bot shows up as latency, not as a
 * politely slower load (no coordinated omission).
 *
 * Reported: interactions/s sustained, interaction → first reply (the callback) p50/p99/p999,
 * job completion (due → final result edit with the file) p50/p99, analytics rows/s, fluxbot
 * CPU per 1000 interactions, peak RSS; checked: every interaction answered exactly once,
 * every job finished and recorded exactly once in image_stats, exit code 0 after SIGTERM.
 *
 *   bench_e2e [--bin PATH] [--rate N] [--seconds S] [--router-threads N] [--runner-threads N]
 *             [--servers K] [--gen-ms MS] [--mix comfy=8,stats=1,bad=1] [--users N] [--json]
 *   bench_e2e --sweep ROUTERS:RUNNERS (e.g. 0,1,2,4:1,2,4) [--csv FILE] [--svg FILE] ...
 * Router threads 0 is the bot's default layout: the router on the scheduler's worker with the
 * stats reporter and the analytics writer (sched_actors); N >= 1 gives it N threads of its own.
 *   bench_e2e --soak MINUTES ...     (RSS must stay flat; nothing may be lost)
 * Exit status: 0 when every check passed, 1 when one failed, 2 on a usage/setup error.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <libgen.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <libwebsockets.h>
#include <sqlite3.h>

#include "demo/demo_users.h"
#include "bench_util.h"
#include "e2e_proc.h"
#include "e2e_report.h"
#include "e2e_sched.h"
#include "fakes/fake_comfy.h"
#include "fakes/fake_discord.h"
#include "config/fb_config.h"
#include "fluxbot/log.h"
#include "hist.h"

#define TOKEN "bench-token.e2e.fluxbot"
#define MAX_SERVERS 8
#define USER_BASE 310000000000000000ull

static const char *const mix_names[] = {"comfy", "redux", "pulid", "video", "stats", "bad"};
static const demo_users_kind mix_kinds[] = {DEMO_USERS_COMFY, DEMO_USERS_REDUX, DEMO_USERS_PULID,
                                            DEMO_USERS_VIDEO, DEMO_USERS_STATS, DEMO_USERS_BAD};
#define NMIX 6

typedef struct bench_opts {
    char bin[PATH_MAX];
    double rate, seconds, drain_seconds, soak_minutes;
    unsigned router_threads, runner_threads, servers, gen_ms, steps, users;
    unsigned weights[NMIX];
    bool json, keep, quiet;
    unsigned routers[16], runners[16], nrouters, nrunners; /* sweep */
    const char *csv, *svg;
    uint64_t seed;
} bench_opts;

typedef struct rec {
    demo_users_sent s;
    uint64_t due_ns;
    uint64_t reply_ns; /* first accepted callback seen by the fake, 0 = none */
    unsigned acks;     /* accepted (2xx) callbacks */
    uint64_t done_ns;  /* final result edit with a file, 0 = none */
    unsigned images;   /* image_stats rows carrying this seq */
    bool sent_ok;
} rec;

static void sleep_ms(unsigned ms)
{
    bench_sleep_until_ns(bench_now_ns() + (uint64_t)ms * 1000000ull);
}

static void say(const bench_opts *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void say(const bench_opts *o, const char *fmt, ...)
{
    if (o->quiet) return;
    va_list ap;
    va_start(ap, fmt);
    fputs("bench_e2e: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

/* ---- the fixture: fakes + the fluxbot child -------------------------------------------- */

typedef struct fixture {
    char dir[64];
    char db[128], out_dir[128], log[128];
    fake_discord *fd;
    fake_comfy *comfy[MAX_SERVERS];
    unsigned ncomfy;
    e2e_child child;
    bool child_started;
} fixture;

static bool bot_ready(fixture *f)
{
    fake_gateway_stats gs;
    fake_gateway_get_stats(fake_discord_gateway(f->fd), &gs);
    if (gs.ready_connections < 1) return false;
    char *cmds = fake_rest_commands_json(fake_discord_rest(f->fd), 0);
    bool ok = cmds != NULL;
    free(cmds);
    return ok;
}

static void print_log_tail(const fixture *f)
{
    FILE *l = fopen(f->log, "r");
    if (!l) return;
    fseek(l, 0, SEEK_END);
    long sz = ftell(l);
    fseek(l, sz > 4000 ? sz - 4000 : 0, SEEK_SET);
    char buf[4001];
    size_t n = fread(buf, 1, sizeof buf - 1, l);
    buf[n] = 0;
    fclose(l);
    fprintf(stderr, "---- end of %s ----\n%s\n----\n", f->log, buf);
}

static int fixture_start(fixture *f, const bench_opts *o, unsigned router, unsigned runner)
{
    memset(f, 0, sizeof *f);
    snprintf(f->dir, sizeof f->dir, "/tmp/fluxbot-bench-XXXXXX");
    if (!mkdtemp(f->dir)) return -1;
    snprintf(f->db, sizeof f->db, "%s/bench.db", f->dir);
    snprintf(f->out_dir, sizeof f->out_dir, "%s/output", f->dir);
    snprintf(f->log, sizeof f->log, "%s/fluxbot.log", f->dir);

    fake_discord_options fo = {.token = TOKEN};
    f->fd = fake_discord_start(&fo);
    if (!f->fd) return -1;
    unsigned steps = o->steps ? o->steps : 1;
    fake_comfy_opts co = {.steps = steps,
                          .step_delay_ms = o->gen_ms / steps,
                          .png_width = 64,
                          .png_height = 64,
                          .name = "bench-comfy"};
    char urls[MAX_SERVERS * 40] = "";
    for (unsigned i = 0; i < o->servers && i < MAX_SERVERS; i++) {
        f->comfy[i] = fake_comfy_start(&co);
        if (!f->comfy[i]) return -1;
        f->ncomfy++;
        size_t used = strlen(urls);
        snprintf(urls + used, sizeof urls - used, "%s%s", i ? "," : "",
                 fake_comfy_url(f->comfy[i]));
    }

    char **env = NULL;
    char num[32];
    e2e_env_set(&env, "DISCORD_TOKEN", TOKEN);
    e2e_env_set(&env, "DISCORD_API_BASE", fake_discord_api_base(f->fd));
    e2e_env_set(&env, "COMFYUI_URLS", urls);
    e2e_env_set(&env, "FLUXBOT_DB", f->db);
    e2e_env_set(&env, "FLUXBOT_OUTPUT_DIR", f->out_dir);
    e2e_env_set(&env, "FLUXBOT_LOG_LEVEL", "warn");
    /* router 0: the bot's default layout, the router on the scheduler's worker with the stats
     * reporter and the analytics writer; N: the router on N threads of its own. */
    if (router > 0) {
        snprintf(num, sizeof num, "%u", router);
        e2e_env_set(&env, "FLUXBOT_ROUTER_THREADS", num);
        e2e_env_set(&env, "FLUXBOT_SCHED_ACTORS", "stats,analytics");
    }
    snprintf(num, sizeof num, "%u", runner);
    e2e_env_set(&env, "FLUXBOT_RUNNER_THREADS", num);
    /* Many simulated users at a high rate: lift the per-user and global admission limits,
     * which would otherwise (correctly) refuse most of the load. */
    char bin[PATH_MAX];
    snprintf(bin, sizeof bin, "%s", o->bin);
    char *argv[] = {bin,
                    "run",
                    "--user-max-concurrent-jobs",
                    "1000",
                    "--user-max-jobs-per-hour",
                    "100000",
                    "--max-queued-jobs",
                    "1000000",
                    "--progress-interval-ms",
                    "500",
                    NULL};
    int rc = e2e_spawn(&f->child, o->bin, argv, env, f->log);
    e2e_env_free(env);
    if (rc != 0) {
        fprintf(stderr, "bench_e2e: cannot start %s: %s\n", o->bin, strerror(-rc));
        return -1;
    }
    f->child_started = true;
    uint64_t deadline = bench_now_ns() + 30000000000ull;
    while (!bot_ready(f)) {
        if (e2e_wait(&f->child, 0) == 0) {
            fprintf(stderr, "bench_e2e: fluxbot exited during start (code %d)\n",
                    e2e_exit_code(&f->child));
            print_log_tail(f);
            return -1;
        }
        if (bench_now_ns() > deadline) {
            fprintf(stderr, "bench_e2e: fluxbot did not connect within 30 s\n");
            print_log_tail(f);
            return -1;
        }
        sleep_ms(20);
    }
    return 0;
}

static void fixture_stop(fixture *f, bool keep)
{
    if (f->child_started) e2e_kill(&f->child);
    for (unsigned i = 0; i < f->ncomfy; i++)
        fake_comfy_stop(f->comfy[i]);
    fake_discord_stop(f->fd);
    if (!keep && f->dir[0]) {
        char cmd[128];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", f->dir);
        if (system(cmd) != 0) fprintf(stderr, "bench_e2e: could not remove %s\n", f->dir);
    } else if (f->dir[0]) {
        fprintf(stderr, "bench_e2e: kept %s (database, images, fluxbot.log)\n", f->dir);
    }
}

/* ---- matching what the fake saw to what was sent ----------------------------------------- */

static int cmp_rec_id(const void *a, const void *b)
{
    const rec *x = *(rec *const *)a, *y = *(rec *const *)b;
    return x->s.id < y->s.id ? -1 : x->s.id > y->s.id;
}

static int cmp_rec_token(const void *a, const void *b)
{
    return strcmp((*(rec *const *)a)->s.token, (*(rec *const *)b)->s.token);
}

static rec *find_by_id(rec **by_id, size_t n, uint64_t id)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (by_id[mid]->s.id == id) return by_id[mid];
        if (by_id[mid]->s.id < id)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

static rec *find_by_token(rec **by_tok, size_t n, const char *tok, size_t len)
{
    size_t lo = 0, hi = n;
    char key[160];
    if (len >= sizeof key) return NULL;
    memcpy(key, tok, len);
    key[len] = 0;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        int c = strcmp(by_tok[mid]->s.token, key);
        if (c == 0) return by_tok[mid];
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

/* Fills reply/done times from the fake's recorder. */
static void match_requests(fixture *f, rec *recs, size_t n)
{
    rec **by_id = malloc(n * sizeof *by_id), **by_tok = malloc(n * sizeof *by_tok);
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (recs[i].sent_ok) by_id[k] = by_tok[k] = &recs[i], k++;
    qsort(by_id, k, sizeof *by_id, cmp_rec_id);
    qsort(by_tok, k, sizeof *by_tok, cmp_rec_token);

    fake_rest *fr = fake_discord_rest(f->fd);
    fake_rest_request *reqs;
    fake_rest_filter cb = {.method = "POST", .path_prefix = "/interactions/"};
    size_t nr = fake_rest_collect(fr, &cb, &reqs);
    for (size_t i = 0; i < nr; i++) {
        rec *r = find_by_id(by_id, k, reqs[i].interaction_id);
        if (!r || reqs[i].status < 200 || reqs[i].status >= 300) continue;
        if (r->acks++ == 0) r->reply_ns = reqs[i].mono_ns;
    }
    fake_rest_requests_free(reqs, nr);

    /* The final result: an edit of @original carrying a file (progress edits carry none). */
    fake_rest_filter ed = {.method = "PATCH", .path_prefix = "/webhooks/"};
    nr = fake_rest_collect(fr, &ed, &reqs);
    for (size_t i = 0; i < nr; i++) {
        if (reqs[i].status < 200 || reqs[i].status >= 300) continue;
        bool has_file = false;
        for (unsigned p = 0; p < reqs[i].nparts; p++)
            if (reqs[i].parts[p].filename) has_file = true;
        if (!has_file) continue;
        /* /webhooks/{app}/{token}/messages/@original */
        const char *tok = strchr(reqs[i].path + 10, '/');
        if (!tok) continue;
        tok++;
        const char *end = strchr(tok, '/');
        if (!end) continue;
        rec *r = find_by_token(by_tok, k, tok, (size_t)(end - tok));
        if (r && !r->done_ns) r->done_ns = reqs[i].mono_ns;
    }
    fake_rest_requests_free(reqs, nr);
    free(by_id);
    free(by_tok);
}

/* Counts analytics rows and the image_stats rows of each job (by the "#seq" prompt marker). */
static int read_database(const char *db, rec *recs, size_t n, uint64_t *rows)
{
    sqlite3 *h;
    *rows = 0;
    if (sqlite3_open_v2(db, &h, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) {
        fprintf(stderr, "bench_e2e: cannot open %s: %s\n", db, sqlite3_errmsg(h));
        sqlite3_close(h);
        return -1;
    }
    static const char *const counts[] = {"SELECT count(*) FROM command_usage",
                                         "SELECT count(*) FROM image_stats",
                                         "SELECT count(*) FROM user_activity"};
    for (int i = 0; i < 3; i++) {
        sqlite3_stmt *st;
        if (sqlite3_prepare_v2(h, counts[i], -1, &st, NULL) == SQLITE_OK &&
            sqlite3_step(st) == SQLITE_ROW)
            *rows += (uint64_t)sqlite3_column_int64(st, 0);
        sqlite3_finalize(st);
    }
    /* seq → record: records are indexed by seq (recs[i].s.seq == i). */
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(h, "SELECT prompt FROM image_stats", -1, &st, NULL) == SQLITE_OK) {
        while (sqlite3_step(st) == SQLITE_ROW) {
            const char *p = (const char *)sqlite3_column_text(st, 0);
            const char *hash = p ? strrchr(p, '#') : NULL;
            if (!hash) continue;
            char *end;
            unsigned long long seq = strtoull(hash + 1, &end, 10);
            if (end == hash + 1 || seq >= n) continue;
            recs[seq].images++;
        }
    }
    sqlite3_finalize(st);
    sqlite3_close(h);
    return 0;
}

static bool job_done_now(fake_rest *fr, const rec *r)
{
    fake_rest_ix_state st;
    if (!fake_rest_interaction_state(fr, r->s.id, &st)) return false;
    bool done = st.original_json && strstr(st.original_json, "\"attachments\":[{") != NULL;
    free(st.original_json);
    return done;
}

/* ---- one run ------------------------------------------------------------------------------ */

typedef struct rss_track {
    uint64_t *kb;
    size_t n, cap;
} rss_track;

static void rss_add(rss_track *t, uint64_t kb)
{
    if (t->n == t->cap) {
        t->cap = t->cap ? t->cap * 2 : 256;
        t->kb = realloc(t->kb, t->cap * sizeof *t->kb);
    }
    t->kb[t->n++] = kb;
}

static double rss_mean(const rss_track *t, size_t from, size_t to)
{
    double s = 0;
    for (size_t i = from; i < to; i++)
        s += (double)t->kb[i];
    return to > from ? s / (double)(to - from) : 0;
}

static int run_once(const bench_opts *o, unsigned router, unsigned runner, double seconds,
                    e2e_result *res, rss_track *rss, bool *failed)
{
    memset(res, 0, sizeof *res);
    res->router_threads = router;
    res->runner_threads = runner;
    res->rate_target = o->rate;
    res->seconds = seconds;
    fixture f;
    if (fixture_start(&f, o, router, runner) != 0) {
        fixture_stop(&f, true);
        return -1;
    }
    demo_users users;
    char err[512];
    fb_config defaults;
    fb_config_defaults(&defaults);
    if (demo_users_init(&users, f.fd, defaults.ratios_file, defaults.loras_file, o->seed, err,
                        sizeof err) != 0) {
        fprintf(stderr, "bench_e2e: %s\n", err);
        fixture_stop(&f, o->keep);
        return -1;
    }

    e2e_sched s;
    e2e_procstat p0, p1;
    e2e_proc_sample(f.child.pid, &p0);
    e2e_sched_init(&s, bench_now_ns() + 20000000ull, o->rate, seconds);
    say(o, "router %u, runner %u: %" PRIu64 " interactions at %.0f/s", router, runner, s.count,
        o->rate);
    rec *recs = calloc(s.count, sizeof *recs);
    uint64_t rng = o->seed ? o->seed : 1, max_lag = 0, inject_fail = 0;
    uint64_t next_rss = bench_now_ns();
    for (uint64_t i = 0; i < s.count; i++) {
        uint64_t due = e2e_sched_due(&s, i);
        bench_sleep_until_ns(due);
        uint64_t t = bench_now_ns();
        if (t - due > max_lag) max_lag = t - due;
        if (rss && t >= next_rss) {
            e2e_procstat ps;
            if (e2e_proc_sample(f.child.pid, &ps) == 0) rss_add(rss, ps.rss_kb);
            next_rss = t + 1000000000ull;
        }
        int k = e2e_pick(o->weights, NMIX, &rng);
        recs[i].due_ns = due;
        uint64_t user = USER_BASE + (i % o->users);
        if (demo_users_inject(&users, mix_kinds[k], i, user, NULL, &recs[i].s) == 0)
            recs[i].sent_ok = true;
        else
            inject_fail++;
        recs[i].s.kind = mix_kinds[k];
        recs[i].s.seq = i;
    }
    uint64_t t_end_inject = bench_now_ns();
    if (max_lag > 50000000ull)
        say(o,
            "note: the injector fell behind by up to %.1f ms (latencies still count from "
            "the schedule)",
            (double)max_lag / 1e6);

    /* Drain: wait for every answer and every job, bounded. */
    fake_rest *fr = fake_discord_rest(f.fd);
    size_t njobs = 0;
    for (uint64_t i = 0; i < s.count; i++)
        if (recs[i].sent_ok && demo_users_kind_is_job(recs[i].s.kind)) njobs++;
    size_t *pending = malloc((njobs + 1) * sizeof *pending), npend = 0;
    for (uint64_t i = 0; i < s.count; i++)
        if (recs[i].sent_ok && demo_users_kind_is_job(recs[i].s.kind)) pending[npend++] = i;
    uint64_t drain_deadline = bench_now_ns() + (uint64_t)(o->drain_seconds * 1e9);
    fake_rest_filter cbf = {.method = "POST", .path_prefix = "/interactions/"};
    for (;;) {
        size_t keep = 0;
        for (size_t j = 0; j < npend; j++)
            if (!job_done_now(fr, &recs[pending[j]])) pending[keep++] = pending[j];
        npend = keep;
        bool answered = fake_rest_count(fr, &cbf) >= s.count - inject_fail;
        if ((npend == 0 && answered) || bench_now_ns() > drain_deadline) break;
        if (rss && bench_now_ns() >= next_rss) {
            e2e_procstat ps;
            if (e2e_proc_sample(f.child.pid, &ps) == 0) rss_add(rss, ps.rss_kb);
            next_rss = bench_now_ns() + 1000000000ull;
        }
        sleep_ms(50);
    }
    free(pending);
    /* Let the last analytics batch commit (flush interval) before measuring and stopping. */
    sleep_ms(300);
    e2e_proc_sample(f.child.pid, &p1);
    e2e_signal(&f.child, SIGTERM);
    if (e2e_wait(&f.child, 60000) != 0) {
        fprintf(stderr, "bench_e2e: fluxbot did not exit within 60 s of SIGTERM\n");
        print_log_tail(&f);
        e2e_kill(&f.child);
    }
    res->exit_code = e2e_exit_code(&f.child);
    res->peak_rss_kb = f.child.maxrss_kb ? f.child.maxrss_kb : p1.hwm_kb;

    match_requests(&f, recs, s.count);
    uint64_t rows = 0;
    read_database(f.db, recs, s.count, &rows);

    hist reply, job;
    hist_init(&reply);
    hist_init(&job);
    uint64_t last_reply = 0, last_done = 0, lost_rows = 0, dup_rows = 0;
    res->sent = s.count - inject_fail;
    for (uint64_t i = 0; i < s.count; i++) {
        rec *r = &recs[i];
        if (!r->sent_ok) continue;
        if (r->acks == 1 || (r->acks > 1)) {
            uint64_t lat = r->reply_ns > r->due_ns ? r->reply_ns - r->due_ns : 0;
            hist_add(&reply, lat);
            if (r->reply_ns > last_reply) last_reply = r->reply_ns;
        }
        if (r->acks == 1) res->answered++;
        if (r->acks > 1) res->answered_twice++;
        if (r->acks == 0) res->unanswered++;
        if (demo_users_kind_is_job(r->s.kind)) {
            res->jobs++;
            if (r->done_ns) {
                res->jobs_done++;
                hist_add(&job, r->done_ns - r->due_ns);
                if (r->done_ns > last_done) last_done = r->done_ns;
            }
            if (r->images == 0) lost_rows++;
            if (r->images > 1) dup_rows++;
        } else if (r->images) {
            dup_rows++; /* a row for something that was no job */
        }
    }
    double window = (double)((last_reply > last_done ? last_reply : last_done) - s.t0_ns) / 1e9;
    if (!(window > 0)) window = seconds;
    double reply_window = last_reply > s.t0_ns ? (double)(last_reply - s.t0_ns) / 1e9 : seconds;
    res->throughput = (double)(res->answered + res->answered_twice) / reply_window;
    res->reply_p50_ms = reply.total ? (double)hist_quantile(&reply, 0.50) / 1e6 : NAN;
    res->reply_p99_ms = reply.total ? (double)hist_quantile(&reply, 0.99) / 1e6 : NAN;
    res->reply_p999_ms = reply.total ? (double)hist_quantile(&reply, 0.999) / 1e6 : NAN;
    res->reply_max_ms = reply.total ? (double)reply.max / 1e6 : NAN;
    res->job_p50_ms = job.total ? (double)hist_quantile(&job, 0.50) / 1e6 : NAN;
    res->job_p99_ms = job.total ? (double)hist_quantile(&job, 0.99) / 1e6 : NAN;
    res->job_max_ms = job.total ? (double)job.max / 1e6 : NAN;
    res->jobs_per_s =
        last_done > s.t0_ns ? (double)res->jobs_done / ((double)(last_done - s.t0_ns) / 1e9) : 0;
    res->analytics_rows = rows;
    res->analytics_rows_per_s = (double)rows / window;
    double cpu = e2e_proc_cpu_seconds(&p1) - e2e_proc_cpu_seconds(&p0);
    uint64_t handled = res->answered + res->answered_twice;
    res->cpu_ms_per_1000 = handled ? cpu * 1e3 * 1000.0 / (double)handled : NAN;
    (void)t_end_inject;

    bool bad = res->unanswered || res->answered_twice || inject_fail ||
               res->jobs_done != res->jobs || lost_rows || dup_rows || res->exit_code != 0;
    if (bad) {
        *failed = true;
        fprintf(stderr,
                "bench_e2e: CHECK FAILED: %" PRIu64 " unanswered, %" PRIu64
                " answered twice, %" PRIu64 " not injected, %" PRIu64 "/%" PRIu64
                " jobs finished, %" PRIu64 " jobs without an image_stats row, %" PRIu64
                " duplicate rows, exit code %d\n",
                res->unanswered, res->answered_twice, inject_fail, res->jobs_done, res->jobs,
                lost_rows, dup_rows, res->exit_code);
        print_log_tail(&f);
    }
    demo_users_free(&users);
    free(recs);
    fixture_stop(&f, o->keep || bad);
    return 0;
}

/* ---- command line -------------------------------------------------------------------------- */

/* Comma-separated thread counts, each in [min, 64] (router threads may be 0: the scheduler). */
static unsigned parse_list(const char *s, unsigned *out, unsigned max, unsigned long min)
{
    unsigned n = 0;
    while (s && *s && n < max) {
        char *end;
        unsigned long v = strtoul(s, &end, 10);
        if (end == s || v < min || v > 64) return 0;
        out[n++] = (unsigned)v;
        s = *end == ',' ? end + 1 : (*end ? NULL : end);
        if (!s) return 0;
    }
    return n;
}

static void usage(void)
{
    fprintf(stderr,
            "usage: bench_e2e [--bin PATH] [--rate N] [--seconds S] [--router-threads N (0 = on\n"
            "                 the scheduler, the default)]\n"
            "                 [--runner-threads N] [--servers K] [--gen-ms MS] [--steps N]\n"
            "                 [--mix comfy=8,redux=0,pulid=0,video=0,stats=1,bad=1] [--users N]\n"
            "                 [--drain S] [--seed N] [--json] [--keep] [--quiet]\n"
            "       bench_e2e --sweep ROUTERS:RUNNERS [--csv FILE] [--svg FILE] ...\n"
            "       bench_e2e --soak MINUTES ...\n");
}

int main(int argc, char **argv)
{
    bench_opts o = {.rate = 50,
                    .seconds = 5,
                    .drain_seconds = 30,
                    .router_threads = 0,
                    .runner_threads = 2,
                    .servers = 1,
                    .gen_ms = 0,
                    .steps = 1,
                    .users = 1000,
                    .seed = 12345,
                    .csv = "bench_e2e_sweep.csv",
                    .svg = "bench_e2e_sweep.svg"};
    char err[300];
    if (e2e_mix_parse("comfy=8,stats=1,bad=1", mix_names, NMIX, o.weights, err, sizeof err))
        return 2;
    /* The fluxbot binary next to this program (build/release/fluxbot). */
    char self[PATH_MAX];
    ssize_t sl = readlink("/proc/self/exe", self, sizeof self - 1);
    if (sl > 0) {
        self[sl] = 0;
        snprintf(o.bin, sizeof o.bin, "%s/fluxbot", dirname(self));
    }
    const char *sweep = NULL;
    static const struct option lo[] = {{"bin", 1, 0, 'b'},
                                       {"rate", 1, 0, 'r'},
                                       {"seconds", 1, 0, 's'},
                                       {"router-threads", 1, 0, 'R'},
                                       {"runner-threads", 1, 0, 'N'},
                                       {"servers", 1, 0, 'S'},
                                       {"gen-ms", 1, 0, 'g'},
                                       {"steps", 1, 0, 't'},
                                       {"mix", 1, 0, 'm'},
                                       {"users", 1, 0, 'u'},
                                       {"json", 0, 0, 'j'},
                                       {"keep", 0, 0, 'k'},
                                       {"quiet", 0, 0, 'q'},
                                       {"sweep", 1, 0, 'w'},
                                       {"csv", 1, 0, 'c'},
                                       {"svg", 1, 0, 'v'},
                                       {"soak", 1, 0, 'o'},
                                       {"drain", 1, 0, 'd'},
                                       {"seed", 1, 0, 'e'},
                                       {"help", 0, 0, 'h'},
                                       {0, 0, 0, 0}};
    int c;
    while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
        switch (c) {
        case 'b':
            snprintf(o.bin, sizeof o.bin, "%s", optarg);
            break;
        case 'r':
            o.rate = atof(optarg);
            break;
        case 's':
            o.seconds = atof(optarg);
            break;
        case 'R':
            o.router_threads = (unsigned)atoi(optarg);
            break;
        case 'N':
            o.runner_threads = (unsigned)atoi(optarg);
            break;
        case 'S':
            o.servers = (unsigned)atoi(optarg);
            break;
        case 'g':
            o.gen_ms = (unsigned)atoi(optarg);
            break;
        case 't':
            o.steps = (unsigned)atoi(optarg);
            break;
        case 'm':
            if (e2e_mix_parse(optarg, mix_names, NMIX, o.weights, err, sizeof err) != 0) {
                fprintf(stderr, "bench_e2e: --mix: %s\n", err);
                return 2;
            }
            break;
        case 'u':
            o.users = (unsigned)atoi(optarg);
            break;
        case 'j':
            o.json = true;
            break;
        case 'k':
            o.keep = true;
            break;
        case 'q':
            o.quiet = true;
            break;
        case 'w':
            sweep = optarg;
            break;
        case 'c':
            o.csv = optarg;
            break;
        case 'v':
            o.svg = optarg;
            break;
        case 'o':
            o.soak_minutes = atof(optarg);
            break;
        case 'd':
            o.drain_seconds = atof(optarg);
            break;
        case 'e':
            o.seed = strtoull(optarg, NULL, 10);
            break;
        default:
            usage();
            return c == 'h' ? 0 : 2;
        }
    }
    if (!(o.rate > 0) || o.rate > 100000 || !(o.seconds > 0) || o.router_threads > 64 ||
        o.runner_threads < 1 || o.servers < 1 || o.servers > MAX_SERVERS || o.users < 1 ||
        o.soak_minutes < 0 || o.soak_minutes > 120) {
        usage();
        return 2;
    }
    if (access(o.bin, X_OK) != 0) {
        fprintf(stderr, "bench_e2e: no fluxbot binary at %s (give --bin PATH)\n", o.bin);
        return 2;
    }
    log_configure(LOG_LEVEL_ERROR, false, 2);
    lws_set_log_level(LLL_ERR, NULL); /* the fakes' notices would clutter the report */
    signal(SIGPIPE, SIG_IGN);
    char machine[300];
    e2e_machine(machine, sizeof machine);
    bool failed = false;

    if (sweep) {
        char rs[128], ns[128];
        const char *colon = strchr(sweep, ':');
        if (!colon || (size_t)(colon - sweep) >= sizeof rs) {
            usage();
            return 2;
        }
        snprintf(rs, sizeof rs, "%.*s", (int)(colon - sweep), sweep);
        snprintf(ns, sizeof ns, "%s", colon + 1);
        o.nrouters = parse_list(rs, o.routers, 16, 0);
        o.nrunners = parse_list(ns, o.runners, 16, 1);
        if (!o.nrouters || !o.nrunners) {
            fprintf(stderr, "bench_e2e: --sweep wants lists like 0,1,2,4:1,2,4\n");
            return 2;
        }
        FILE *csv = fopen(o.csv, "w");
        if (!csv) {
            fprintf(stderr, "bench_e2e: cannot write %s\n", o.csv);
            return 2;
        }
        e2e_csv_header(csv);
        e2e_result *pts = calloc(o.nrouters * o.nrunners, sizeof *pts);
        size_t np = 0;
        for (unsigned i = 0; i < o.nrouters; i++) {
            for (unsigned j = 0; j < o.nrunners; j++) {
                e2e_result r;
                if (run_once(&o, o.routers[i], o.runners[j], o.seconds, &r, NULL, &failed) != 0) {
                    fclose(csv);
                    free(pts);
                    return 2;
                }
                e2e_csv_row(csv, &r);
                fflush(csv);
                pts[np++] = r;
                if (o.json)
                    e2e_report_json(stdout, &r, machine);
                else
                    printf("router %2u runner %2u: %8.1f interactions/s, reply p50 %.2f ms, "
                           "p99 %.2f ms, p99.9 %.2f ms; %.1f jobs/s, job p99 %.1f ms\n",
                           r.router_threads, r.runner_threads, r.throughput, r.reply_p50_ms,
                           r.reply_p99_ms, r.reply_p999_ms, r.jobs_per_s, r.job_p99_ms);
                fflush(stdout);
            }
        }
        fclose(csv);
        FILE *svg = fopen(o.svg, "w");
        char title[400];
        snprintf(title, sizeof title, "fluxbot end to end, %.0f interactions/s offered — %s",
                 o.rate, machine);
        if (svg) {
            e2e_svg_sweep(svg, pts, np, title);
            fclose(svg);
        }
        if (!o.json) printf("wrote %s and %s\n", o.csv, o.svg);
        free(pts);
        return failed ? 1 : 0;
    }

    rss_track rss = {0};
    double seconds = o.soak_minutes > 0 ? o.soak_minutes * 60 : o.seconds;
    e2e_result r;
    if (run_once(&o, o.router_threads, o.runner_threads, seconds, &r,
                 o.soak_minutes > 0 ? &rss : NULL, &failed) != 0)
        return 2;
    if (o.json)
        e2e_report_json(stdout, &r, machine);
    else
        e2e_report_table(stdout, &r, machine);
    if (o.soak_minutes > 0) {
        /* Flat RSS: the mean of the last quarter may exceed the second quarter's (after
         * warm-up: caches, pools, SQLite page cache) by at most 10% + 4 MiB. */
        if (rss.n >= 8) {
            double q2 = rss_mean(&rss, rss.n / 4, rss.n / 2);
            double q4 = rss_mean(&rss, rss.n * 3 / 4, rss.n);
            bool flat = q4 <= q2 * 1.10 + 4096;
            printf("soak: RSS second quarter %.1f MiB, last quarter %.1f MiB over %zu samples: "
                   "%s\n",
                   q2 / 1024, q4 / 1024, rss.n, flat ? "flat" : "GROWING");
            if (!flat) failed = true;
        } else {
            printf("soak: too few RSS samples (%zu) to judge; run longer\n", rss.n);
        }
        printf("soak: %s\n", failed ? "FAILED" : "nothing lost, every interaction answered once");
    }
    free(rss.kb);
    return failed ? 1 : 0;
}
