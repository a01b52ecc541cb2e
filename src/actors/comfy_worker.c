/*
 * The worker pool (see comfy_worker.h for threads and dependencies): one job at a time per
 * thread, run to the end with blocking HTTP on a per-thread curl handle, following the websocket
 * events routed to the job's channel. The progress edits of a running job are sent from here
 * (throttled per job); its final message is prepared here and sent by the coordinator.
 *
 * A job's run, in named steps: run_job = job_begin → fetch_inputs → generate (pick_server →
 * upload_inputs → submit → follow, resubmitted once when lost) → deliver (websocket_output or
 * output_url + fetch_output → final_edit) → job_report → job_end.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "analytics/an_record.h"
#include "actors/comfy_http.h"
#include "actors/comfy_rest.h"
#include "actors/comfy_worker.h"
#include "comfy/img.h"
#include "comfy/imgchk.h"
#include "comfy/cres.h"
#include "comfy/qcancel.h"
#include "discord/enh_note.h"
#include "discord/qctl.h"
#include "discord/reply.h"
#include "fluxbot/log.h"
#include "util/util_json.h"
#include "util/util_rand.h"
#include "util/util_time.h"

#define EVENT_BATCH 64
#define WAIT_SLICE_MS 200
#define TOKEN_VALID_DEFAULT_MS (15ULL * 60 * 1000)
#define DURABLE_WAIT_MS 3000ULL /* the keeper's statement timeout (job_keeper_config) */
/* A taken-over job is worth running only while this much of its token's life is left: enough
 * to fetch a finished result and edit the message. */
#define TAKEOVER_RESERVE_MS 30000ULL

static _Thread_local comfy_http *tls_http;
static _Thread_local unsigned tls_worker;  /* this worker's index: names its upload slots */
static _Thread_local comfy_chan *tls_chan; /* its jobs' event channel, one job at a time */

/* The bot's uploads live in this subfolder of ComfyUI's input folder (see upload_inputs). */
#define COMFY_UPLOAD_SUBFOLDER "fluxbot"

struct comfy_worker {
    comfy_worker_config cfg; /* immutable after comfy_worker_new */
    rt_actor *actor;
    /* stop: set once by comfy_worker_stop, read by every worker thread */
    atomic_bool stopping;
    _Atomic uint64_t stop_deadline_ms;
    /* counters (every worker thread adds, the metrics read) */
    _Atomic uint64_t n_succeeded, n_failed, n_resubmitted, n_edits, n_suppressed;
    _Atomic uint64_t n_timed, run_ms_sum, total_ms_sum;
    _Atomic uint64_t avg_job_ms; /* running average of successful jobs, for ETAs */
    atomic_bool output_dir_made; /* output_dir exists (keep_copy) */
};

static bool past_stop_deadline(comfy_worker *r)
{
    return atomic_load(&r->stopping) && rt_now_ms() >= atomic_load(&r->stop_deadline_ms);
}

/* The cancel hook of every transfer on a worker's handle: at the stop deadline a transfer in
 * flight (a stalled download, an upload to a hung server) is cut within a second, so the stop
 * stays bounded by its grace instead of by http_timeout_ms. */
static bool stop_deadline_passed(void *ctx)
{
    return past_stop_deadline(ctx);
}

static int worker_thread_start(rt_actor *self, void *state, unsigned index)
{
    (void)self;
    comfy_worker *r = state;
    tls_worker = index;
    tls_http = comfy_http_new();
    if (!tls_http) return -1;
    tls_chan = comfy_chan_new(1024);
    comfy_http_set_connect_timeout(tls_http, (long)r->cfg.connect_timeout_ms);
    comfy_http_set_cancel(tls_http, stop_deadline_passed, r);
    return 0;
}

static void worker_thread_exit(rt_actor *self, void *state, unsigned index)
{
    (void)self;
    (void)state;
    (void)index;
    comfy_http_free(tls_http);
    tls_http = NULL;
    comfy_chan_free(tls_chan);
    tls_chan = NULL;
}

typedef enum outcome {
    OUT_OK = 0,
    OUT_FAILED,      /* fail_text says why */
    OUT_LOST,        /* resubmit on another server (once) */
    OUT_INTERRUPTED, /* by the operator on ComfyUI */
    OUT_STOPPED,     /* the bot is stopping */
    OUT_FENCED,      /* another process took the job over: drop it without a word */
    OUT_HANDED_BACK, /* the bot is stopping: the job is left to another process (its lease) */
    OUT_CANCELLED,   /* its user (or a manager) cancelled it: the prompt left its server */
    OUT_CONTINUE,    /* follow()'s steps: no outcome yet */
} outcome;

/* One running job: this worker thread only, from job_begin to job_end. */
typedef struct jctx {
    comfy_worker *r;
    rt_actor *reply_to; /* where status and done go */
    comfy_http *http;
    cjob *job;
    const wf_workflow *wf;
    uint64_t t0;
    prog_state prog;
    prog_throttle thr;
    int server;
    bool resubmitted;
    bool submitted;
    bool started_noted;
    bool unanswered; /* the last server left POST /prompt unanswered */
    char pid[CPROTO_ID_MAX];
    comfy_chan *chan;
    char uploaded[COMFY_MAX_IMAGES][300];
    cJSON *graph;
    cproto_history hist;
    char fail_text[700];
    char fail_reason[64];
    /* leases (job_keeper.h): the job's key ("" = not leased), and a taken-over job's origin */
    char key[PG_LEASE_KEY_MAX];
    comfy_worker_takeover tko;
    bool polled; /* a prompt another process submitted: its events come to that process's
                    websocket, so it is followed by asking /history and /queue */
    comfy_worker_cancel *cancel; /* a reference (comfy_worker.h); NULL: cannot be cancelled */
    char cancel_id[101];         /* the Cancel button's custom_id on the progress message */
} jctx;

/* The coordinator asked to cancel the job (read between steps and every event wait). */
static bool cancel_asked(const jctx *x)
{
    return x->cancel && atomic_load_explicit(&x->cancel->on, memory_order_acquire);
}

static const char *kind_label(const cjob *j)
{
    return j->kind == COMFY_KIND_VIDEO ? "video" : "image";
}

static void set_fail(jctx *x, const char *reason, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void set_fail(jctx *x, const char *reason, const char *fmt, ...)
{
    char msg[600];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    cres_error_text(msg, x->fail_text, sizeof x->fail_text);
    snprintf(x->fail_reason, sizeof x->fail_reason, "%s", reason);
}

/* Publishes the job's progress in its shared cell (what /queue shows): one atomic store, so it
 * is done at every look, not only when the phase changes. */
static void publish_progress(jctx *x)
{
    if (!x->cancel) return;
    unsigned pos = x->prog.queue_position;
    uint64_t w = (uint64_t)(x->prog.phase & 0xff) | (uint64_t)(prog_percent(&x->prog) & 0xff) << 8 |
                 (uint64_t)((unsigned)(x->server + 1) & 0xffff) << 16 |
                 (uint64_t)(pos > 0xffffffffu ? 0xffffffffu : pos) << 32;
    atomic_store_explicit(&x->cancel->progress, w, memory_order_relaxed);
}

/* Edits the deferred message with the progress text, at most once per progress interval. */
static void progress(jctx *x)
{
    comfy_worker *r = x->r;
    uint64_t now = rt_now_ms();
    x->prog.avg_job_ms = atomic_load(&r->avg_job_ms);
    publish_progress(x);
    char text[300];
    prog_text(&x->prog, kind_label(x->job), now, text, sizeof text);
    if (!prog_throttle_allow(&x->thr, text, now, r->cfg.progress_ms)) {
        atomic_fetch_add(&r->n_suppressed, 1);
        return;
    }
    if (x->key[0] && !job_keeper_may_speak(r->cfg.keeper, x->key)) {
        /* not sure the job is still this process's (a pause, a database outage): say nothing */
        atomic_fetch_add(&r->n_suppressed, 1);
        return;
    }
    char *shown = enh_note_append(text, x->job); /* what became of an enhancement, below */
    comfy_rest_edit_original(r->cfg.rest, &x->job->reply, qctl_progress_json(shown, x->cancel_id),
                             false);
    free(shown);
    atomic_fetch_add(&r->n_edits, 1);
}

/* The job is another process's now (its keeper said so at a renewal or a fenced change). When
 * the lease is not known to be current (this process was paused, or the database did not
 * answer), waits for the keeper's next renewal, at most a lease, to know which. */
static bool fenced(jctx *x)
{
    comfy_worker *r = x->r;
    if (!x->key[0]) return false;
    uint64_t until = rt_now_ms() + job_keeper_lease_ms(r->cfg.keeper);
    while (!job_keeper_lost(r->cfg.keeper, x->key)) {
        if (job_keeper_may_speak(r->cfg.keeper, x->key) || rt_now_ms() >= until) return false;
        util_sleep_ms(50);
    }
    return true;
}

/* Before a job goes to ComfyUI its row is written (job_keeper_settled): a job running on a
 * server without a row would be lost with this process. The keeper's one statement is bounded
 * by its timeout; this wait by twice that, then the job runs as in one process. */
static void wait_durable(jctx *x)
{
    if (!x->key[0]) return;
    uint64_t until = rt_now_ms() + 2 * DURABLE_WAIT_MS;
    while (!job_keeper_settled(x->r->cfg.keeper, x->key) && rt_now_ms() < until)
        util_sleep_ms(2);
}

/* The rt_now_ms() time the job's interaction token stops working. */
static uint64_t token_deadline(const jctx *x)
{
    uint64_t valid = x->r->cfg.token_valid_ms ? x->r->cfg.token_valid_ms : TOKEN_VALID_DEFAULT_MS;
    uint64_t wall = rt_wall_ms(), now = rt_now_ms();
    uint64_t end = x->job->received_wall_ms + valid;
    return end > wall ? now + (end - wall) : now;
}

/* The stop deadline ended the job's run (a transfer cut by the cancel hook, or follow seeing
 * the deadline): a leased job is left to another process, which takes it over from its row;
 * any other is answered as interrupted. */
static outcome stopped(jctx *x)
{
    if (x->key[0]) return OUT_HANDED_BACK;
    set_fail(x, "shutdown",
             "The bot is restarting, so this job was interrupted. Please run the command again.");
    return OUT_STOPPED;
}

static void fmt_mb(char *out, size_t n, uint64_t bytes)
{
    snprintf(out, n, "%.1f MB", (double)bytes / (1024.0 * 1024.0));
}

/* Downloads every input image (Discord attachment or an earlier result) under the download
 * policy (dlpol.h: allowed hosts, every redirect hop checked) and validates it
 * (imgchk.h): the bytes decide the type, never the name or the declared type, and nothing
 * malformed, truncated or over the dimension limits reaches ComfyUI. */
static outcome fetch_inputs(jctx *x)
{
    comfy_worker *r = x->r;
    cjob *j = x->job;
    for (unsigned i = 0; i < j->nimages; i++) {
        cjob_image *img = &j->images[i];
        if (img->data) continue;
        char what[32];
        snprintf(what, sizeof what, j->nimages > 1 ? "image%u" : "The image", i + 1);
        comfy_http_res res;
        dlpol_fail f;
        int rc =
            comfy_http_download(x->http, img->url, r->cfg.dl_policy, (size_t)r->cfg.max_attachment,
                                (long)r->cfg.http_timeout_ms, &res, &f);
        if (rc != 0 && res.cancelled) {
            comfy_http_res_free(&res);
            return stopped(x);
        }
        if (rc != 0) {
            char why[160];
            dlpol_fail_text(f, res.status, r->cfg.max_attachment, why, sizeof why);
            /* the log names the cause, never the URL (it carries Discord's signature) */
            LOG_WARN("comfy", "job %" PRIu64 ": input image %u not downloaded: %s (HTTP %d)", j->id,
                     i + 1, dlpol_fail_name(f), res.status);
            if (f == DLPOL_FAIL_TOO_LARGE) {
                char lim[32];
                fmt_mb(lim, sizeof lim, r->cfg.max_attachment);
                set_fail(x, "input_too_large", "%s is larger than the %s limit.", what, lim);
            } else {
                set_fail(x, "input_download", "%s could not be downloaded: %s.", what, why);
            }
            comfy_http_res_free(&res);
            return OUT_FAILED;
        }
        char why[200];
        imgchk_info info;
        imgchk_verdict v =
            imgchk_validate(res.body, res.len, &r->cfg.img_limits, &info, why, sizeof why);
        if (v != IMGCHK_OK) {
            LOG_WARN("comfy", "job %" PRIu64 ": input image %u refused (%s): %s", j->id, i + 1,
                     imgchk_verdict_name(v), why);
            set_fail(x, v == IMGCHK_NOT_IMAGE ? "input_type" : "input_invalid",
                     "%s was refused: %s.", what, why);
            comfy_http_res_free(&res);
            return OUT_FAILED;
        }
        img->data = res.body;
        img->len = res.len;
        img->type = info.type;
        res.body = NULL;
        comfy_http_res_free(&res);
    }
    return OUT_OK;
}

/* How long a worker waits for a server it was promised: the coordinator hands out jobs only
 * while one is up, so this covers a server dropping in between, not an outage (jobs wait for
 * those in the coordinator's line, without a thread). */
#define PICK_RACE_WAIT_MS 3000

/* Chooses a server. The first time, waiting briefly for one to be up. A resubmission waits up
 * to no_server_wait_ms (a restarted server comes back), except after a call the server left
 * unanswered: then only another server will do, so a hanging server costs one timeout. */
static int pick_server(jctx *x, int exclude)
{
    comfy_worker *r = x->r;
    uint64_t wait =
        r->cfg.no_server_wait_ms < PICK_RACE_WAIT_MS ? r->cfg.no_server_wait_ms : PICK_RACE_WAIT_MS;
    if (exclude >= 0) wait = x->unanswered ? 0 : r->cfg.no_server_wait_ms;
    uint64_t until = rt_now_ms() + wait;
    for (;;) {
        int s = comfy_servers_acquire(r->cfg.srv, exclude, true);
        if (s >= 0) return s;
        if (rt_now_ms() >= until || past_stop_deadline(r) || cancel_asked(x)) return -1;
        progress(x);
        util_sleep_ms(100);
    }
}

static outcome upload_inputs(jctx *x)
{
    comfy_worker *r = x->r;
    cjob *j = x->job;
    for (unsigned i = 0; i < j->nimages; i++) {
        cjob_image *img = &j->images[i];
        /* One name per worker and image slot, overwritten: a worker follows one job at a time
         * and ComfyUI reads the file when the job runs, so a slot is free again when the worker
         * takes its next job. ComfyUI's input folder thus holds at most runner_threads ×
         * images × 3 types of the bot's files (never one per job), in a subfolder of its own
         * (LoadImage checks the file exists, so "fluxbot/name" is accepted; its IS_CHANGED
         * hashes the bytes, so a reused name never serves a cached older image). */
        char name[128];
        snprintf(name, sizeof name, "w%u_image%u.%s", tls_worker, i + 1, img_ext(img->type));
        comfy_http_res res;
        int rc = comfy_http_upload_into(x->http, comfy_servers_url(r->cfg.srv, (unsigned)x->server),
                                        COMFY_UPLOAD_SUBFOLDER, true, name, img_mime(img->type),
                                        img->data, img->len, (long)r->cfg.http_timeout_ms, &res);
        if (rc != 0 && res.cancelled) {
            comfy_http_res_free(&res);
            return stopped(x);
        }
        if (rc != 0 || res.status != 200 ||
            cproto_parse_upload((const char *)res.body, x->uploaded[i], sizeof x->uploaded[i])) {
            LOG_WARN("comfy", "job %" PRIu64 ": upload to %s failed (HTTP %d%s%s)", j->id,
                     comfy_servers_label(r->cfg.srv, (unsigned)x->server), res.status,
                     res.error[0] ? ": " : "", res.error);
            comfy_http_res_free(&res);
            return OUT_LOST;
        }
        comfy_http_res_free(&res);
    }
    return OUT_OK;
}

/* POST /queue delete + POST /interrupt of x->pid on its server (defined below). */
static void interrupt_prompt(jctx *x);

static outcome submit(jctx *x)
{
    comfy_worker *r = x->r;
    cjob *j = x->job;
    const char *names[COMFY_MAX_IMAGES] = {x->uploaded[0], x->uploaded[1]};
    char prefix[64];
    snprintf(prefix, sizeof prefix, "fluxbot_%" PRIu64, j->id);
    wf_values v;
    cjob_values(j, names, prefix, &v);
    char err[300];
    cJSON_Delete(x->graph);
    x->graph = wf_patch(x->wf, &v, err, sizeof err);
    if (x->graph && j->decl &&
        decl_apply_patches(j->decl, x->graph, j->patches, j->npatches, err, sizeof err)) {
        cJSON_Delete(x->graph);
        x->graph = NULL;
    }
    if (!x->graph) {
        set_fail(x, "patch", "%s", err);
        return OUT_FAILED;
    }
    uint8_t rnd[16];
    uint64_t a = util_rand_u64(), b = util_rand_u64() ^ j->id;
    memcpy(rnd, &a, 8);
    memcpy(rnd + 8, &b, 8);
    cproto_uuid(rnd, x->pid);
    /* registered before the POST: events may beat its reply */
    comfy_events_register(r->cfg.events, (unsigned)x->server, x->pid, x->chan);
    char *body = cproto_prompt_body(x->graph, r->cfg.client_id, x->pid);
    char url[FB_CONFIG_STR + 16];
    snprintf(url, sizeof url, "%s/prompt", comfy_servers_url(r->cfg.srv, (unsigned)x->server));
    comfy_http_res res;
    int rc = comfy_http_post_json(x->http, url, body, (long)r->cfg.http_timeout_ms, &res);
    free(body);
    if (rc != 0 && res.cancelled) {
        /* the prompt may have been queued: take it back (the id is ours) */
        comfy_http_res_free(&res);
        comfy_events_unregister(r->cfg.events, (unsigned)x->server, x->pid);
        interrupt_prompt(x);
        return stopped(x);
    }
    if (rc != 0) {
        LOG_WARN("comfy", "job %" PRIu64 ": POST /prompt to %s failed: %s", j->id,
                 comfy_servers_label(r->cfg.srv, (unsigned)x->server), res.error);
        if (res.status == 0) {
            comfy_servers_unanswered(r->cfg.srv, (unsigned)x->server);
            x->unanswered = true;
        }
        comfy_http_res_free(&res);
        comfy_events_unregister(r->cfg.events, (unsigned)x->server, x->pid);
        return OUT_LOST;
    }
    cproto_submit sub;
    int status = res.status;
    const char *outs[WF_MAX_TARGETS];
    for (unsigned i = 0; i < x->wf->noutputs; i++)
        outs[i] = x->wf->outputs[i];
    cproto_parse_submit_for(status, (const char *)res.body, outs, x->wf->noutputs, &sub);
    comfy_http_res_free(&res);
    if (sub.partial) {
        /* ComfyUI queued the prompt but runs only the outputs that validated */
        LOG_WARN("comfy",
                 "job %" PRIu64 " (/%s, workflow %s): %s queued prompt %s without some "
                 "outputs: %s",
                 j->id, j->command, x->wf->name,
                 comfy_servers_label(r->cfg.srv, (unsigned)x->server), sub.prompt_id,
                 sub.operator_text);
    }
    if (!sub.ok && sub.partial) {
        /* none of our outputs will be produced: take the prompt back off ComfyUI's queue */
        comfy_events_unregister(r->cfg.events, (unsigned)x->server, x->pid);
        snprintf(x->pid, sizeof x->pid, "%s", sub.prompt_id);
        interrupt_prompt(x);
        set_fail(x, "validation", "%s", sub.user_text);
        return OUT_FAILED;
    }
    if (!sub.ok) {
        comfy_events_unregister(r->cfg.events, (unsigned)x->server, x->pid);
        if (status >= 500 || status == 0) {
            LOG_WARN("comfy", "job %" PRIu64 ": %s: %s", j->id,
                     comfy_servers_label(r->cfg.srv, (unsigned)x->server), sub.operator_text);
            return OUT_LOST;
        }
        /* the operator needs every node error; the user gets the first one */
        LOG_ERROR("comfy", "job %" PRIu64 " (/%s, workflow %s) rejected by %s: %s", j->id,
                  j->command, x->wf->name, comfy_servers_label(r->cfg.srv, (unsigned)x->server),
                  sub.operator_text);
        set_fail(x, "validation", "%s", sub.user_text);
        return OUT_FAILED;
    }
    if (strcmp(sub.prompt_id, x->pid) != 0) {
        /* an older server ignored our id: follow the one it chose (buffered events move over) */
        comfy_events_unregister(r->cfg.events, (unsigned)x->server, x->pid);
        snprintf(x->pid, sizeof x->pid, "%s", sub.prompt_id);
        comfy_events_register(r->cfg.events, (unsigned)x->server, x->pid, x->chan);
    }
    LOG_INFO("comfy", "job %" PRIu64 " submitted to %s (%s) as prompt %s%s", j->id,
             comfy_servers_label(r->cfg.srv, (unsigned)x->server),
             comfy_servers_url(r->cfg.srv, (unsigned)x->server), x->pid,
             x->resubmitted ? " (resubmitted)" : "");
    comfy_servers_submitted(r->cfg.srv, (unsigned)x->server, +1);
    x->submitted = true;
    if (x->key[0])
        job_keeper_submitted(r->cfg.keeper, x->key,
                             comfy_servers_url(r->cfg.srv, (unsigned)x->server), x->pid);
    return OUT_OK;
}

typedef enum rec_state { REC_DONE, REC_PENDING, REC_RUNNING, REC_ABSENT, REC_ERROR } rec_state;

static bool get_history(jctx *x)
{
    comfy_worker *r = x->r;
    char url[FB_CONFIG_STR + 128];
    snprintf(url, sizeof url, "%s/history/%s", comfy_servers_url(r->cfg.srv, (unsigned)x->server),
             x->pid);
    comfy_http_res res;
    int rc = comfy_http_get(x->http, url, 64u << 20, (long)r->cfg.http_timeout_ms, &res);
    const char *pref[WF_MAX_TARGETS];
    for (unsigned i = 0; i < x->wf->noutputs; i++)
        pref[i] = x->wf->outputs[i];
    bool ok =
        rc == 0 && res.status == 200 &&
        cproto_parse_history((const char *)res.body, x->pid, pref, x->wf->noutputs, &x->hist) == 0;
    comfy_http_res_free(&res);
    if (!ok) memset(&x->hist, 0, sizeof x->hist);
    return ok;
}

/* Where x->pid stands in its server's GET /queue; false when the server gave no usable answer. */
static bool get_queue(jctx *x, cproto_queue_pos *q)
{
    comfy_worker *r = x->r;
    char url[FB_CONFIG_STR + 16];
    snprintf(url, sizeof url, "%s/queue", comfy_servers_url(r->cfg.srv, (unsigned)x->server));
    comfy_http_res res;
    int rc = comfy_http_get(x->http, url, 64u << 20, (long)r->cfg.http_timeout_ms, &res);
    bool ok =
        rc == 0 && res.status == 200 && cproto_parse_queue((const char *)res.body, x->pid, q) == 0;
    comfy_http_res_free(&res);
    return ok;
}

/* Where is our prompt? history → done; queue → waiting or running; neither → lost. */
static rec_state reconcile(jctx *x)
{
    if (!get_history(x)) return REC_ERROR;
    if (x->hist.found) return REC_DONE;
    cproto_queue_pos q;
    if (!get_queue(x, &q)) return REC_ERROR;
    if (q.running) return REC_RUNNING;
    if (q.pending) {
        if (!x->started_noted) {
            prog_set_phase(&x->prog, PROG_QUEUED, rt_now_ms());
            x->prog.queue_position = q.position;
        }
        return REC_PENDING;
    }
    /* it may have finished between the two calls */
    if (get_history(x) && x->hist.found) return REC_DONE;
    return REC_ABSENT;
}

static void interrupt_prompt(jctx *x)
{
    comfy_worker *r = x->r;
    char url[FB_CONFIG_STR + 32], body[128];
    comfy_http_res res;
    /* the one call made after the stop deadline (freeing the GPU): bounded by its own 5 s, not
     * cut by the hook, which would abort it before it is sent */
    comfy_http_set_cancel(x->http, NULL, NULL);
    snprintf(url, sizeof url, "%s/queue", comfy_servers_url(r->cfg.srv, (unsigned)x->server));
    snprintf(body, sizeof body, "{\"delete\":[\"%s\"]}", x->pid);
    comfy_http_post_json(x->http, url, body, 5000, &res);
    comfy_http_res_free(&res);
    snprintf(url, sizeof url, "%s/interrupt", comfy_servers_url(r->cfg.srv, (unsigned)x->server));
    snprintf(body, sizeof body, "{\"prompt_id\":\"%s\"}", x->pid);
    comfy_http_post_json(x->http, url, body, 5000, &res);
    comfy_http_res_free(&res);
    comfy_http_set_cancel(x->http, stop_deadline_passed, r);
}

/* Where x->pid is in its server's queue: 1 running, 2 pending, 0 neither, -1 no answer. */
static int queue_place(jctx *x)
{
    cproto_queue_pos q;
    if (!get_queue(x, &q)) return -1;
    return q.running ? 1 : q.pending ? 2 : 0;
}

/* A cancelled job's prompt leaves its server: a pending one is deleted from the queue
 * (POST /queue {"delete": [id]}); a running one is interrupted (POST /interrupt with its id)
 * only when /queue shows it is the prompt running there, since a ComfyUI older than the
 * targeted interrupt ignores the id and stops whatever runs. A prompt that starts between the
 * look and the delete is looked at again (the delete does not touch a running prompt). */
static void cancel_prompt(jctx *x)
{
    comfy_worker *r = x->r;
    if (x->server < 0 || !x->pid[0] || !x->submitted) return;
    for (int tries = 0; tries < 3; tries++) {
        int place = queue_place(x);
        if (place <= 0) return; /* finished, gone, or the server does not answer */
        char url[FB_CONFIG_STR + 32], body[128];
        comfy_http_res res;
        const char *what = place == 1 ? "interrupt" : "queue";
        snprintf(url, sizeof url, "%s/%s", comfy_servers_url(r->cfg.srv, (unsigned)x->server),
                 what);
        if (place == 1)
            snprintf(body, sizeof body, "{\"prompt_id\":\"%s\"}", x->pid);
        else
            snprintf(body, sizeof body, "{\"delete\":[\"%s\"]}", x->pid);
        comfy_http_post_json(x->http, url, body, (long)r->cfg.http_timeout_ms, &res);
        LOG_INFO("comfy", "job %" PRIu64 ": prompt %s %s on %s (HTTP %d)", x->job->id, x->pid,
                 place == 1 ? "interrupted" : "deleted from the queue",
                 comfy_servers_label(r->cfg.srv, (unsigned)x->server), res.status);
        comfy_http_res_free(&res);
        if (place == 1) return;
    }
}

static const char *node_class(jctx *x, const char *node)
{
    return util_json_str(cJSON_GetObjectItemCaseSensitive(x->graph, node), "class_type", "?");
}

static void note_started(jctx *x)
{
    if (x->started_noted) return;
    x->started_noted = true;
    prog_set_phase(&x->prog, PROG_LOADING, rt_now_ms());
    if (x->r->cfg.analytics) {
        char d[96];
        snprintf(d, sizeof d, "{\"job\":%" PRIu64 ",\"server\":%d}", x->job->id, x->server + 1);
        an_activity_event e = {.user_id = x->job->origin.user_id,
                               .guild_id = x->job->origin.guild_id,
                               .action = "job_started",
                               .details = d};
        an_record_activity(x->r->cfg.analytics, &e);
    }
}

/* Outcome from a history entry that says the prompt finished. */
static outcome from_history(jctx *x)
{
    if (x->hist.success) return OUT_OK;
    if (x->hist.interrupted) return OUT_INTERRUPTED;
    if (x->hist.error_node[0])
        set_fail(x, "node_error", "Generation failed at node %s (%s): %.400s", x->hist.error_node,
                 x->hist.error_node_type[0] ? x->hist.error_node_type : "?",
                 x->hist.error_message[0] ? x->hist.error_message : "no message");
    else
        set_fail(x, "node_error", "Generation failed on the ComfyUI server.");
    return OUT_FAILED;
}

/* What follow() tracks between its steps. */
typedef struct follow_state {
    uint64_t last_event;        /* last sign of life (event, or the prompt seen waiting/running) */
    uint64_t next_queue_poll;   /* when to ask /queue for the position again */
    uint64_t next_reconcile;    /* when to ask /history and /queue again after a link change */
    uint64_t trouble_since;     /* first failed reconcile of a series, 0 = none */
    unsigned failed_reconciles; /* in a row, with the socket down */
    bool need_reconcile;        /* the socket went down or came back: events may be missing */
    bool link_ever_changed;     /* the socket dropped (or came back) since the prompt was sent */
    bool success_seen;
} follow_state;

/* The prompt is in neither queue nor history. After a socket drop that is a restarted server:
 * lost, resubmitted. With the socket up all along the server did not restart, so someone removed
 * the prompt (POST /queue delete): the operator cancelled it, and resubmitting elsewhere would
 * undo that. */
static outcome vanished(jctx *x, follow_state *fs)
{
    comfy_worker *r = x->r;
    if (!fs->link_ever_changed) {
        /* a restart's socket drop may still be on its way: wait one reconcile period for it
         * (the prompt is gone, so its events no longer matter) */
        cproto_event evs[8];
        bool lc = false;
        comfy_chan_wait(x->chan, evs, 8, r->cfg.reconcile_poll_ms, &lc);
        if (lc) fs->link_ever_changed = true;
    }
    if (fs->link_ever_changed || !comfy_servers_up(r->cfg.srv, (unsigned)x->server))
        return OUT_LOST;
    LOG_WARN("comfy",
             "job %" PRIu64 ": prompt %s left %s's queue while its websocket stayed up: "
             "cancelled there, not resubmitted",
             x->job->id, x->pid, comfy_servers_label(r->cfg.srv, (unsigned)x->server));
    set_fail(x, "cancelled", "The job was cancelled on the ComfyUI server.");
    return OUT_FAILED;
}

/* A prompt that succeeded told everything /history would over its websocket: its
 * execution_success and, for every mapped output node, an `executed` frame with the node's
 * output (the object /history lists under it), files included. Then x->hist is built from
 * those frames and GET /history (a round trip, and a parse of an entry that echoes the whole
 * workflow) is skipped. Anything short of that (no mapped output, a frame not kept, one
 * without the prompt's id, a mapped node with no file in its frames, as a SaveImageWebsocket
 * node has none) leaves the history to /history. */
static bool history_from_events(jctx *x, const follow_state *fs)
{
    char *frames[COMFY_CHAN_EXEC_MAX];
    size_t lens[COMFY_CHAN_EXEC_MAX];
    bool lost = false;
    unsigned n = comfy_chan_take_executed(x->chan, frames, lens, COMFY_CHAN_EXEC_MAX, &lost);
    bool ok = fs->success_seen && !lost && n > 0 && x->wf->noutputs > 0;
    cproto_history h;
    if (ok) {
        const char *pref[WF_MAX_TARGETS];
        for (unsigned i = 0; i < x->wf->noutputs; i++)
            pref[i] = x->wf->outputs[i];
        ok = cproto_history_from_executed((const char *const *)frames, lens, n, x->pid, pref,
                                          x->wf->noutputs, &h) == 0;
    }
    for (unsigned i = 0; ok && i < x->wf->noutputs; i++) {
        bool has = false;
        for (unsigned k = 0; k < h.noutputs && !has; k++)
            has = h.outputs[k].preferred && strcmp(h.outputs[k].node, x->wf->outputs[i]) == 0;
        ok = has;
    }
    for (unsigned i = 0; i < n; i++)
        free(frames[i]);
    if (ok) x->hist = h;
    return ok;
}

/* The prompt finished (executing null): the history says how (from the websocket's frames when
 * they tell all of it, see history_from_events). */
static outcome finished(jctx *x, const follow_state *fs)
{
    if (history_from_events(x, fs)) return from_history(x);
    for (int k = 0; k < 5; k++) {
        if (get_history(x) && x->hist.found) return from_history(x);
        util_sleep_ms(100);
    }
    if (fs->success_seen) return OUT_OK;
    set_fail(x, "history", "ComfyUI finished the job but has no record of it.");
    return OUT_FAILED;
}

/* Applies the websocket events of one wait. */
static outcome apply_events(jctx *x, follow_state *fs, const cproto_event *evs, unsigned n,
                            uint64_t now)
{
    for (unsigned i = 0; i < n; i++) {
        const cproto_event *e = &evs[i];
        uint64_t at = e->at_ms && e->at_ms <= now ? e->at_ms : now; /* its arrival */
        fs->last_event = now;
        switch (e->type) {
        case CPROTO_EV_EXECUTION_START:
        case CPROTO_EV_EXECUTION_CACHED:
            note_started(x);
            break;
        case CPROTO_EV_EXECUTING:
            if (e->node_null) return finished(x, fs); /* any outcome: the history says which */
            note_started(x);
            snprintf(x->prog.node_class, sizeof x->prog.node_class, "%s", node_class(x, e->node));
            break;
        case CPROTO_EV_PROGRESS:
            note_started(x);
            prog_step(&x->prog, e->value, e->max, at);
            break;
        case CPROTO_EV_SUCCESS:
            fs->success_seen = true;
            break;
        case CPROTO_EV_ERROR:
            set_fail(x, "node_error", "Generation failed at node %s (%s): %.400s",
                     e->node[0] ? e->node : "?",
                     e->node_type[0] ? e->node_type : node_class(x, e->node),
                     e->message[0] ? e->message : "no message");
            return OUT_FAILED;
        case CPROTO_EV_INTERRUPTED:
            return OUT_INTERRUPTED;
        default:
            break;
        }
    }
    return OUT_CONTINUE;
}

/* A socket that went down (or came back) may have lost events: ask the server, every
 * reconcile_poll_ms, until the socket is up and the answer is clear. */
static outcome reconcile_link(jctx *x, follow_state *fs, bool ws_up, uint64_t now)
{
    comfy_worker *r = x->r;
    if (!(fs->need_reconcile || !ws_up) || now < fs->next_reconcile) return OUT_CONTINUE;
    rec_state st = reconcile(x);
    fs->next_reconcile = now + r->cfg.reconcile_poll_ms;
    if (st == REC_DONE) return from_history(x);
    if (st == REC_ABSENT) return OUT_LOST;
    if (st == REC_ERROR) {
        if (!fs->trouble_since) fs->trouble_since = now;
        /* socket down and the server unreachable over HTTP too: it is down (a ComfyUI that
         * is up but slow keeps its socket, and its jobs keep the stall timeout) */
        if (!ws_up && ++fs->failed_reconciles >= r->cfg.down_after) {
            LOG_WARN("comfy",
                     "job %" PRIu64 ": %s (%s) is down (websocket dropped, %u reconciles "
                     "failed); resubmitting the job elsewhere now",
                     x->job->id, comfy_servers_label(r->cfg.srv, (unsigned)x->server),
                     comfy_servers_url(r->cfg.srv, (unsigned)x->server), fs->failed_reconciles);
            return OUT_LOST;
        }
        if (now - fs->trouble_since >= r->cfg.stall_ms) return OUT_LOST;
    } else {
        fs->failed_reconciles = 0;
        fs->trouble_since = 0;
        if (ws_up) fs->need_reconcile = false;
        if (st == REC_PENDING || st == REC_RUNNING) fs->last_event = now;
    }
    return OUT_CONTINUE;
}

/* While it waits in ComfyUI's own queue, show the position. */
static outcome poll_position(jctx *x, follow_state *fs, bool ws_up, uint64_t now)
{
    if (x->started_noted || now < fs->next_queue_poll || !ws_up) return OUT_CONTINUE;
    fs->next_queue_poll = now + x->r->cfg.queue_poll_ms;
    rec_state st = reconcile(x);
    if (st == REC_DONE) return from_history(x);
    if (st == REC_ABSENT) return vanished(x, fs);
    if (st == REC_PENDING) fs->last_event = now;
    if (st == REC_RUNNING) note_started(x);
    return OUT_CONTINUE;
}

/* Silence: waiting in a queue is fine; a running prompt that says nothing is stalled. */
static outcome check_silence(jctx *x, follow_state *fs, bool ws_up, uint64_t now)
{
    comfy_worker *r = x->r;
    if (!ws_up || now - fs->last_event < r->cfg.stall_ms) return OUT_CONTINUE;
    rec_state st = reconcile(x);
    if (st == REC_DONE) return from_history(x);
    if (st == REC_PENDING) {
        fs->last_event = now;
        return OUT_CONTINUE;
    }
    LOG_WARN("comfy", "job %" PRIu64 ": no word from %s for %" PRIu64 " ms (%s)", x->job->id,
             comfy_servers_label(r->cfg.srv, (unsigned)x->server), now - fs->last_event,
             st == REC_RUNNING ? "running, stalled" : "missing");
    if (st == REC_RUNNING) {
        interrupt_prompt(x);
        return OUT_LOST;
    }
    return vanished(x, fs);
}

/* A prompt another process submitted (taken over): its events go to that process's websocket,
 * so it is followed by asking /history and /queue every reconcile_poll_ms. A server that does
 * not answer for stall_ms loses the job (resubmitted); a prompt still running when the token is
 * about to die ends the job as too late. */
static outcome poll_taken(jctx *x, follow_state *fs, uint64_t now)
{
    comfy_worker *r = x->r;
    if (!x->polled || now < fs->next_reconcile) return OUT_CONTINUE;
    fs->next_reconcile = now + r->cfg.reconcile_poll_ms;
    if (now + TAKEOVER_RESERVE_MS / 3 >= token_deadline(x)) {
        set_fail(x, "too_late",
                 "This job could not be finished within Discord's 15 minutes for an answer. "
                 "Please run the command again.");
        return OUT_FAILED;
    }
    rec_state st = reconcile(x);
    if (st == REC_DONE) return from_history(x);
    if (st == REC_ABSENT) return OUT_LOST;
    if (st == REC_ERROR) {
        if (!fs->trouble_since) fs->trouble_since = now;
        return now - fs->trouble_since >= r->cfg.stall_ms ? OUT_LOST : OUT_CONTINUE;
    }
    fs->trouble_since = 0;
    fs->last_event = now;
    if (st == REC_RUNNING) note_started(x);
    return OUT_CONTINUE;
}

/* Until when the job's events need not wake its worker (comfy_chan_wait_quiet): once the prompt
 * is seen started (its first event wakes the worker, so the start is noted and recorded on
 * time), progress matters only for the next progress edit, which the throttle allows at the
 * earliest one interval after the last. Outcomes always wake it; what waited is taken by then
 * with its arrival time, so step rates and ETAs are as before. 0: every event wakes it. */
static uint64_t quiet_until(const jctx *x)
{
    if (!x->started_noted || !x->thr.last_sent_ms || x->polled) return 0;
    return x->thr.last_sent_ms + x->r->cfg.progress_ms;
}

/* Follows the prompt until it ends, is lost, or the bot stops: each turn waits for events, then
 * runs the named checks in order; the first that reaches an outcome ends the job's run. */
static outcome follow(jctx *x)
{
    comfy_worker *r = x->r;
    cproto_event evs[EVENT_BATCH];
    follow_state fs = {.last_event = rt_now_ms()};
    fs.next_queue_poll = fs.last_event;
    for (;;) {
        if (x->key[0] && job_keeper_lost(r->cfg.keeper, x->key)) return OUT_FENCED;
        if (past_stop_deadline(r)) {
            /* leased: the prompt goes on, and another process follows it once the lease is
             * released; otherwise nobody will collect it, so the GPU is freed */
            if (!x->key[0]) interrupt_prompt(x);
            return stopped(x);
        }
        if (cancel_asked(x)) {
            cancel_prompt(x);
            return OUT_CANCELLED;
        }
        bool link_changed = false;
        unsigned n = comfy_chan_wait_quiet(x->chan, evs, EVENT_BATCH, WAIT_SLICE_MS, quiet_until(x),
                                           &link_changed);
        uint64_t now = rt_now_ms();
        if (link_changed) fs.need_reconcile = fs.link_ever_changed = true;
        outcome oc = apply_events(x, &fs, evs, n, now);
        bool ws_up = comfy_servers_up(r->cfg.srv, (unsigned)x->server);
        if (oc == OUT_CONTINUE) oc = poll_taken(x, &fs, now);
        if (oc == OUT_CONTINUE) oc = reconcile_link(x, &fs, ws_up, now);
        if (oc == OUT_CONTINUE) oc = poll_position(x, &fs, ws_up, now);
        if (oc == OUT_CONTINUE) oc = check_silence(x, &fs, ws_up, now);
        if (oc != OUT_CONTINUE) return oc;
        progress(x);
    }
}

static void release_server(jctx *x)
{
    if (x->server < 0) return;
    if (x->pid[0]) comfy_events_unregister(x->r->cfg.events, (unsigned)x->server, x->pid);
    if (x->submitted) comfy_servers_submitted(x->r->cfg.srv, (unsigned)x->server, -1);
    comfy_servers_release(x->r->cfg.srv, (unsigned)x->server);
    x->submitted = false;
    x->pid[0] = '\0';
    x->server = -1;
}

/* Creates output_dir once per process (the mkdir was a syscall per result); a folder removed
 * while the bot runs is made again when a copy finds it missing. False with errno. */
static bool output_dir_ready(comfy_worker *r, const char *dir, bool again)
{
    if (atomic_load_explicit(&r->output_dir_made, memory_order_relaxed) && !again) return true;
    if (mkdir(dir, 0755) != 0 && errno != EEXIST) return false;
    atomic_store_explicit(&r->output_dir_made, true, memory_order_relaxed);
    return true;
}

/* Writes len bytes to a new file at path (created or truncated, mode 0666 less the umask). */
static bool write_file(const char *path, const uint8_t *data, size_t len)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
    if (fd < 0) return false;
    size_t off = 0;
    while (off < len) {
        ssize_t w = write(fd, data + off, len - off);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) break;
        off += (size_t)w;
    }
    int saved = errno;
    bool ok = off == len;
    if (close(fd) != 0 && ok) {
        ok = false;
        saved = errno;
    }
    errno = saved;
    return ok;
}

/* Keeps a copy of the result in output_dir (when set): written to a temporary name, then
 * renamed, so a reader never sees half a file. One open, write and close (no stdio buffer:
 * the bytes are in memory already) and the rename. Failures are logged, never fatal. */
static void keep_copy(comfy_worker *r, const char *filename, const uint8_t *data, size_t len)
{
    const char *dir = r->cfg.output_dir ? r->cfg.output_dir : "";
    if (!dir[0]) return;
    if (!output_dir_ready(r, dir, false)) {
        LOG_WARN("comfy", "output_dir %s: %s", dir, strerror(errno));
        return;
    }
    char path[FB_CONFIG_STR + 128], tmp[FB_CONFIG_STR + 140];
    snprintf(path, sizeof path, "%s/%s", dir, filename);
    snprintf(tmp, sizeof tmp, "%s.part", path);
    bool ok = write_file(tmp, data, len);
    if (!ok && errno == ENOENT) { /* the folder was removed: made again */
        if (!output_dir_ready(r, dir, true)) {
            LOG_WARN("comfy", "output_dir %s: %s", dir, strerror(errno));
            return;
        }
        ok = write_file(tmp, data, len);
    }
    if (!ok || rename(tmp, path) != 0) {
        LOG_WARN("comfy", "could not keep %s: %s", path, strerror(errno));
        unlink(tmp);
    }
}

/* The /view URL of the job's first output, or false (fail_text set). */
static bool output_url(jctx *x, char *url, size_t cap)
{
    if (x->hist.noutputs == 0) {
        set_fail(x, "no_output", "ComfyUI finished but produced no output file.");
        return false;
    }
    char view[1100];
    if (cproto_view_path(&x->hist.outputs[0], view, sizeof view)) {
        set_fail(x, "output", "The output file name is too long to fetch.");
        return false;
    }
    snprintf(url, cap, "%s%s", comfy_servers_url(x->r->cfg.srv, (unsigned)x->server), view);
    return true;
}

/* Discord's upload limit for the job's channel. */
static uint64_t upload_limit(const cjob *j)
{
    return j->origin.attachment_size_limit ? j->origin.attachment_size_limit
                                           : CJOB_DEFAULT_ATTACHMENT_LIMIT;
}

/* Downloads the output into res (capped well above the upload limit, so an oversized result
 * can still be reported with its size); false with fail_text. */
static outcome fetch_output(jctx *x, const char *url, comfy_http_res *res)
{
    uint64_t limit = upload_limit(x->job);
    uint64_t cap = limit * 4 > (64u << 20) ? limit * 4 : (64u << 20);
    if (cap > (512u << 20)) cap = 512u << 20;
    prog_set_phase(&x->prog, PROG_DOWNLOADING, rt_now_ms());
    progress(x);
    int rc = comfy_http_get(x->http, url, (size_t)cap, (long)x->r->cfg.http_timeout_ms, res);
    if (rc != 0 && res->cancelled) {
        comfy_http_res_free(res);
        return stopped(x); /* leased: another process fetches it from the server's history */
    }
    if (rc != 0 || res->status != 200) {
        set_fail(x, "output", "The result could not be fetched from ComfyUI (%s%d).",
                 res->too_large ? "too large, HTTP " : "HTTP ", res->status);
        comfy_http_res_free(res);
        return OUT_FAILED;
    }
    return OUT_OK;
}

/* The other images of a batch: the files the first output's node wrote after it (a latent of
 * batch_size N gives N files), fetched into more[] (at most CRES_MAX_FILES - 1); a file that
 * cannot be fetched is left out (logged). Returns how many. */
static unsigned fetch_batch(jctx *x, comfy_http_res *more)
{
    unsigned n = 0;
    const cproto_output *first = &x->hist.outputs[0];
    for (unsigned i = 1; i < x->hist.noutputs && n < CRES_MAX_FILES - 1; i++) {
        const cproto_output *o = &x->hist.outputs[i];
        if (strcmp(o->node, first->node) != 0) continue;
        char view[1100], url[FB_CONFIG_STR + 1200];
        if (cproto_view_path(o, view, sizeof view)) continue;
        snprintf(url, sizeof url, "%s%s", comfy_servers_url(x->r->cfg.srv, (unsigned)x->server),
                 view);
        uint64_t cap = upload_limit(x->job);
        int rc = comfy_http_get(x->http, url, (size_t)cap + 1, (long)x->r->cfg.http_timeout_ms,
                                &more[n]);
        bool cut = rc != 0 && more[n].cancelled; /* the stop deadline: the rest would be too */
        if (rc != 0 || more[n].status != 200) {
            LOG_WARN("comfy", "job %" PRIu64 ": batch image %u could not be fetched (%s %d)",
                     x->job->id, i + 1, cut ? "stopping, HTTP" : "HTTP", more[n].status);
            comfy_http_res_free(&more[n]);
            if (cut) break;
            continue;
        }
        n++;
    }
    return n;
}

/* The final edit for the fetched output (its bytes move into the request, or, over the
 * channel's upload limit, the result's note says why the file is missing), with the other
 * images of a batch that fit within the limit beside it. */
static rest_req_msg *final_edit(jctx *x, comfy_http_res *res, comfy_http_res *more, unsigned nmore,
                                bool *shows_image)
{
    comfy_worker *r = x->r;
    cjob *j = x->job;
    img_type t = img_sniff(res->body, res->len);
    bool is_video = j->kind == COMFY_KIND_VIDEO || img_is_video(t);
    bool is_image = !is_video && t != IMG_UNKNOWN;
    char filename[96];
    snprintf(filename, sizeof filename, "fluxbot_%" PRIu64 ".%s", j->id,
             t != IMG_UNKNOWN ? img_ext(t) : "bin");
    keep_copy(r, filename, res->body, res->len);
    cres_result cr = {.job = j,
                      .filename = filename,
                      .is_video = is_video,
                      .is_image = is_image,
                      .upscale_offered = decl_set_button(r->cfg.cat->decls) != NULL,
                      .generation_ms = rt_now_ms() - x->t0,
                      .server_label = r->cfg.srv->n > 1
                                          ? comfy_servers_label(r->cfg.srv, (unsigned)x->server)
                                          : NULL};
    uint64_t limit = upload_limit(j);
    char note[300];
    /* A batch: every image that still fits in the channel's limit with those before it (the
     * limit holds for the whole message), in the order ComfyUI wrote them. */
    char names[CRES_MAX_FILES - 1][96];
    const char *more_names[CRES_MAX_FILES - 1];
    unsigned nattach = 0, left_out = 0;
    uint64_t total = res->len;
    for (unsigned i = 0; i < nmore; i++) {
        img_type mt = img_sniff(more[i].body, more[i].len);
        if (!is_image || mt == IMG_UNKNOWN || img_is_video(mt)) continue; /* stills only */
        if (res->len > limit || total + more[i].len > limit) {
            left_out++;
            continue;
        }
        total += more[i].len;
        snprintf(names[nattach], sizeof names[0], "fluxbot_%" PRIu64 "_%u.%s", j->id, i + 2,
                 img_ext(mt));
        keep_copy(r, names[nattach], more[i].body, more[i].len);
        more_names[nattach] = names[nattach];
        nattach++;
        more[i].status = -1; /* attached: its bytes move into the request below */
    }
    cr.more_files = more_names;
    cr.nmore = nattach;
    if (left_out && res->len <= limit) {
        char lim[32];
        fmt_mb(lim, sizeof lim, limit);
        snprintf(note, sizeof note,
                 "\xe2\x9a\xa0\xef\xb8\x8f %u of the %u images are not attached: together they "
                 "are over this channel's upload limit of %s.",
                 left_out, nmore + 1, lim);
        cr.note = note;
    }
    if (res->len > limit) {
        /* Discord would refuse it: say so plainly, keep the embed and the buttons */
        char got[32], lim[32];
        fmt_mb(got, sizeof got, res->len);
        fmt_mb(lim, sizeof lim, limit);
        snprintf(note, sizeof note,
                 "\xe2\x9a\xa0\xef\xb8\x8f The %s is %s, over this channel's upload limit of %s, "
                 "so it could not be attached.",
                 is_video ? "video" : "image", got, lim);
        cr.filename = NULL;
        cr.is_image = false;
        cr.note = note;
        cr.nmore = 0;
    }
    rest_req_msg *m = comfy_rest_edit_original_req(&j->reply, cres_final_payload(&cr));
    if (cr.filename) {
        rest_req_add_file_owned(m, filename, img_mime(t), res->body, res->len);
        res->body = NULL;
        unsigned k = 0;
        for (unsigned i = 0; i < nmore && k < cr.nmore; i++) {
            if (more[i].status != -1) continue;
            img_type mt = img_sniff(more[i].body, more[i].len);
            rest_req_add_file_owned(m, more_names[k++], img_mime(mt), more[i].body, more[i].len);
            more[i].body = NULL;
        }
    }
    comfy_http_res_free(res);
    for (unsigned i = 0; i < nmore; i++)
        comfy_http_res_free(&more[i]);
    *shows_image = cr.is_image && cr.filename != NULL;
    return m;
}

/* The PNG a mapped SaveImageWebsocket output sent over the websocket, when history lists no
 * file of a mapped output (that node writes none). */
static bool websocket_output(jctx *x, comfy_http_res *res)
{
    for (unsigned i = 0; i < x->hist.noutputs; i++)
        if (x->hist.outputs[i].preferred) return false;
    char node[CPROTO_ID_MAX];
    uint8_t *data;
    size_t len;
    if (!comfy_chan_take_image(x->chan, node, &data, &len)) return false;
    bool mapped = false;
    for (unsigned i = 0; i < x->wf->noutputs; i++)
        if (strcmp(x->wf->outputs[i], node) == 0) mapped = true;
    if (!mapped) {
        free(data);
        return false;
    }
    memset(res, 0, sizeof *res);
    res->status = 200;
    res->body = data;
    res->len = len;
    return true;
}

/* Downloads the output and prepares the final edit into *final (the coordinator sends it once
 * it has the job's record, so the result's buttons work the moment it shows); another outcome,
 * with fail_text, when it cannot. */
static outcome deliver(jctx *x, comfy_worker_done_msg *done, rest_req_msg **final)
{
    char url[FB_CONFIG_STR + 1200];
    comfy_http_res res;
    if (websocket_output(x, &res)) {
        prog_set_phase(&x->prog, PROG_DOWNLOADING, rt_now_ms());
        *final = final_edit(x, &res, NULL, 0, &done->is_image); /* frees res */
        done->view_url[0] = '\0'; /* no /view file: Upscale ×2 uses the Discord attachment */
        return OUT_OK;
    }
    if (!output_url(x, url, sizeof url)) return OUT_FAILED;
    outcome oc = fetch_output(x, url, &res);
    if (oc != OUT_OK) return oc;
    comfy_http_res more[CRES_MAX_FILES - 1];
    unsigned nmore = fetch_batch(x, more);
    *final = final_edit(x, &res, more, nmore, &done->is_image); /* frees all */
    snprintf(done->view_url, sizeof done->view_url, "%s", url);
    return OUT_OK;
}

/* Picks a server, uploads, submits and follows the prompt; a lost job is resubmitted once
 * (on another server when there is one). */
static outcome generate(jctx *x)
{
    comfy_worker *r = x->r;
    int exclude = -1;
    for (;;) {
        if (fenced(x)) return OUT_FENCED; /* never submit another process's job */
        if (cancel_asked(x)) return OUT_CANCELLED;
        x->server = pick_server(x, exclude);
        if (cancel_asked(x)) return OUT_CANCELLED;
        if (x->server < 0) {
            if (x->unanswered)
                set_fail(x, "no_server",
                         "The ComfyUI server did not answer in time. Please try again later.");
            else
                set_fail(x, "no_server",
                         "No ComfyUI server is reachable right now. Please try again later.");
            return OUT_FAILED;
        }
        outcome oc = upload_inputs(x);
        if (oc == OUT_OK && cancel_asked(x)) oc = OUT_CANCELLED;
        if (oc == OUT_OK) oc = submit(x);
        if (oc == OUT_OK) {
            prog_set_phase(&x->prog, PROG_QUEUED, rt_now_ms());
            progress(x);
            oc = follow(x);
        }
        if (oc != OUT_LOST) return oc;
        int lost_on = x->server;
        release_server(x);
        if (past_stop_deadline(r)) return stopped(x); /* no resubmission while stopping */
        if (x->resubmitted) {
            set_fail(x, "lost",
                     "The job was lost twice (the ComfyUI servers restarted or "
                     "stopped answering). Please try again.");
            return OUT_FAILED;
        }
        LOG_WARN("comfy", "job %" PRIu64 " lost on %s; resubmitting on another server", x->job->id,
                 comfy_servers_label(r->cfg.srv, (unsigned)lost_on));
        atomic_fetch_add(&r->n_resubmitted, 1);
        x->resubmitted = true;
        x->prog.resubmitted = true;
        x->started_noted = false;
        memset(x->uploaded, 0, sizeof x->uploaded);
        prog_set_phase(&x->prog, PROG_PREPARING, rt_now_ms());
        exclude = lost_on;
    }
}

/* A job taken over from a process whose lease expired: takeover_decide says, from its row and
 * what its server answers for its prompt, whether the result is fetched from history, the
 * prompt followed, or the job run again from its parameters. */
static outcome resume(jctx *x)
{
    comfy_worker *r = x->r;
    const comfy_worker_takeover *t = &x->tko;
    int s = t->server[0] ? comfy_servers_find(r->cfg.srv, t->server) : -1;
    takeover_facts f = {.stage = t->stage,
                        .has_prompt = t->prompt_id[0] != '\0',
                        .server_known = s >= 0,
                        .server = TAKEOVER_NOT_ASKED,
                        .now_ms = rt_wall_ms(),
                        .received_ms = x->job->received_wall_ms,
                        .token_valid_ms =
                            r->cfg.token_valid_ms ? r->cfg.token_valid_ms : TOKEN_VALID_DEFAULT_MS,
                        .reserve_ms = TAKEOVER_RESERVE_MS};
    takeover_action a = takeover_decide(&f);
    rec_state st = REC_ERROR;
    if (a == TAKEOVER_ASK) {
        x->server = s;
        comfy_servers_take(r->cfg.srv, (unsigned)s);
        snprintf(x->pid, sizeof x->pid, "%s", t->prompt_id);
        comfy_events_register(r->cfg.events, (unsigned)s, x->pid, x->chan);
        comfy_servers_submitted(r->cfg.srv, (unsigned)s, +1);
        x->submitted = true;
        st = reconcile(x);
        f.server = st == REC_DONE                           ? TAKEOVER_IN_HISTORY
                   : st == REC_PENDING || st == REC_RUNNING ? TAKEOVER_IN_QUEUE
                   : st == REC_ABSENT                       ? TAKEOVER_ABSENT
                                                            : TAKEOVER_NO_ANSWER;
        f.now_ms = rt_wall_ms();
        a = takeover_decide(&f);
    }
    LOG_INFO("comfy", "job %" PRIu64 " (taken over, prompt %s on %s): %s", x->job->id,
             t->prompt_id[0] ? t->prompt_id : "none",
             s >= 0 ? comfy_servers_label(r->cfg.srv, (unsigned)s) : "no server of ours",
             takeover_action_name(a));
    switch (a) {
    case TAKEOVER_FETCH:
        return from_history(x);
    case TAKEOVER_FOLLOW: {
        x->polled = true;
        if (st == REC_RUNNING) note_started(x);
        progress(x);
        outcome oc = follow(x);
        x->polled = false;
        if (oc != OUT_LOST) return oc;
        break;
    }
    case TAKEOVER_TOO_LATE:
        set_fail(x, "too_late",
                 "This job was interrupted when the bot process running it stopped, and it "
                 "could not be finished within Discord's 15 minutes for an answer. Please run "
                 "the command again.");
        return OUT_FAILED;
    default:
        break;
    }
    /* gone from its server (or never there): run again from the stored parameters */
    release_server(x);
    atomic_fetch_add(&r->n_resubmitted, 1);
    x->prog.resubmitted = true;
    prog_set_phase(&x->prog, PROG_PREPARING, rt_now_ms());
    outcome oc = fetch_inputs(x);
    return oc == OUT_OK ? generate(x) : oc;
}

/* Counters and timings of a finished job (either outcome). */
static void count_finished(comfy_worker *r, const cjob *job, bool ok, uint64_t ms)
{
    if (ok) {
        atomic_fetch_add(&r->n_succeeded, 1);
        uint64_t avg = atomic_load(&r->avg_job_ms);
        atomic_store(&r->avg_job_ms, avg ? (avg * 7 + ms) / 8 : ms);
    } else {
        atomic_fetch_add(&r->n_failed, 1);
    }
    uint64_t now_wall = rt_wall_ms();
    atomic_fetch_add(&r->run_ms_sum, ms);
    if (job->received_wall_ms && now_wall > job->received_wall_ms)
        atomic_fetch_add(&r->total_ms_sum, now_wall - job->received_wall_ms);
    atomic_fetch_add(&r->n_timed, 1);
}

/* Releases what the job held on this thread; the job's image bytes are freed (the coordinator
 * keeps the parameters for the buttons, not the inputs). */
static void job_cleanup(jctx *x)
{
    release_server(x);
    cJSON_Delete(x->graph);
    comfy_chan_reset(x->chan); /* unregistered above: kept for the thread's next job */
    for (unsigned i = 0; i < COMFY_MAX_IMAGES; i++) {
        free(x->job->images[i].data);
        x->job->images[i].data = NULL;
        x->job->images[i].len = 0;
    }
}

/* The job's context on this thread: no server yet, a fresh channel, the clock started. */
static void job_begin(jctx *x, comfy_worker *r, comfy_http *http, cjob *job, rt_actor *reply_to,
                      const comfy_worker_takeover *tko, comfy_worker_cancel *cancel)
{
    memset(x, 0, sizeof *x);
    x->cancel = cancel;
    if (cancel && cres_custom_id(CRES_CANCEL, job->id, job->origin.user_id, x->cancel_id,
                                 sizeof x->cancel_id) != 0)
        x->cancel_id[0] = '\0';
    if (r->cfg.keeper) job_keeper_key(job->reply.interaction_id, x->key);
    if (tko) x->tko = *tko;
    x->r = r;
    x->http = http;
    x->job = job;
    x->reply_to = reply_to;
    x->server = -1;
    x->t0 = rt_now_ms();
    /* A job read back from storage (a result, a lease taken over from another process) has
     * only its command's name: it runs the command as declared now. */
    if (!job->decl) job->decl = decl_set_find(r->cfg.cat->decls, job->command);
    x->wf = job->decl ? job->decl->wf : NULL;
    prog_init(&x->prog, x->t0);
    x->chan = tls_chan;
    comfy_chan_reset(x->chan);
}

/* Runs the job to an outcome; on success *final is the result's edit. */
static outcome job_run(jctx *x, comfy_worker_done_msg *done, rest_req_msg **final)
{
    outcome oc = OUT_FAILED;
    if (!x->wf) {
        set_fail(x, "workflow", "/%s is not set up on this bot.", x->job->command);
        return OUT_FAILED;
    }
    if (fenced(x)) return OUT_FENCED;
    wait_durable(x);
    progress(x);
    if (cancel_asked(x)) {
        oc = OUT_CANCELLED;
    } else if (x->tko.on) {
        oc = resume(x);
    } else {
        oc = fetch_inputs(x);
        if (oc == OUT_OK) oc = generate(x);
    }
    if (oc == OUT_INTERRUPTED)
        set_fail(x, "interrupted", "The generation was interrupted on the ComfyUI server.");
    if (oc == OUT_OK && cancel_asked(x)) oc = OUT_CANCELLED;
    if (oc == OUT_OK) oc = deliver(x, done, final);
    /* The last look: a request seen here wins over the result (which is dropped); one that
     * comes after it finds the job ended (the coordinator tells its asker so). Exactly one
     * outcome either way. */
    if ((oc == OUT_OK || oc == OUT_FAILED) && cancel_asked(x)) {
        if (*final) rt_msg_free(&(*final)->hdr);
        *final = NULL;
        oc = OUT_CANCELLED;
    }
    if (oc == OUT_CANCELLED) {
        char text[160];
        qcancel_job_text(x->job->origin.user_id, atomic_load(&x->cancel->by), text, sizeof text);
        snprintf(x->fail_text, sizeof x->fail_text, "%s", text);
        snprintf(x->fail_reason, sizeof x->fail_reason, "cancelled");
    }
    return oc;
}

/* One log line for the job's end: a failure on ComfyUI's side is a warning (the operator has
 * something to look at), one of the user's or the bot's an info. */
static void job_report(const jctx *x, outcome oc, uint64_t ms)
{
    const char *why = x->fail_reason;
    bool ok = oc == OUT_OK;
    if (oc == OUT_CANCELLED) {
        LOG_INFO("comfy", "job %" PRIu64 " cancelled after %" PRIu64 " ms by user %" PRIu64,
                 x->job->id, ms, atomic_load(&x->cancel->by));
    } else if (oc == OUT_FENCED) {
        LOG_WARN("comfy",
                 "job %" PRIu64 " dropped after %" PRIu64 " ms: another process took it over "
                 "(this one was paused or cut off from the database) and answers the user",
                 x->job->id, ms);
    } else if (oc == OUT_HANDED_BACK) {
        LOG_INFO("comfy",
                 "job %" PRIu64 " handed back after %" PRIu64 " ms: the bot is stopping; "
                 "another process follows its prompt",
                 x->job->id, ms);
    } else if (ok) {
        LOG_INFO("comfy", "job %" PRIu64 " finished in %" PRIu64 " ms", x->job->id, ms);
    } else if (!strcmp(why, "node_error") || !strcmp(why, "interrupted") ||
               !strcmp(why, "no_output") || !strcmp(why, "lost") || !strcmp(why, "cancelled")) {
        LOG_WARN("comfy", "job %" PRIu64 " failed after %" PRIu64 " ms (%s): %s", x->job->id, ms,
                 why, x->fail_text);
    } else {
        LOG_INFO("comfy", "job %" PRIu64 " failed after %" PRIu64 " ms (%s): %s", x->job->id, ms,
                 why, x->fail_text);
    }
}

/* Hands the job, its outcome and its final edit back to whoever sent it. */
static void job_end(jctx *x, comfy_worker_done_msg *done, outcome oc, uint64_t ms,
                    rest_req_msg *final)
{
    cjob *job = x->job;
    bool ok = oc == OUT_OK;
    done->silent = oc == OUT_FENCED || oc == OUT_HANDED_BACK;
    done->handed_back = oc == OUT_HANDED_BACK;
    done->cancelled = oc == OUT_CANCELLED;
    if (!done->silent && !done->cancelled) count_finished(x->r, job, ok, ms);
    /* recorded by the coordinator once the final message's fate is known */
    comfy_outcome_fill(&done->out, job, ok, ms, ok ? NULL : x->fail_reason,
                       ok ? NULL : x->fail_text);
    if (done->cancelled) {
        done->out.cancelled = true;
        done->out.cancelled_by = atomic_load(&x->cancel->by);
    }
    job_cleanup(x);
    /* the worker's last look at the request: the coordinator may free it once done arrives */
    comfy_worker_cancel_unref(x->cancel);
    x->cancel = NULL;
    done->job = job; /* the receiver owns the job from here */
    done->success = ok;
    done->duration_ms = ms;
    done->final = final;
    if (rt_send_spill(x->reply_to, &done->hdr) != 0) rt_msg_free(&done->hdr);
}

static void run_job(comfy_worker *r, comfy_http *http, cjob *job, rt_actor *reply_to,
                    const comfy_worker_takeover *tko, comfy_worker_cancel *cancel)
{
    jctx x;
    job_begin(&x, r, http, job, reply_to, tko, cancel);
    comfy_worker_done_msg *done = comfy_worker_done_msg_new(NULL);
    rest_req_msg *final = NULL;
    outcome oc = job_run(&x, done, &final);
    /* The fence before the final message: of this process and one that took the job over,
     * only the holder of the current generation is cleared to deliver (job_keeper.h). */
    if (oc != OUT_FENCED && oc != OUT_HANDED_BACK && x.key[0] &&
        !job_keeper_claim(r->cfg.keeper, x.key, token_deadline(&x)))
        oc = OUT_FENCED;
    uint64_t ms = rt_now_ms() - x.t0;
    if (oc == OUT_FENCED || oc == OUT_HANDED_BACK) {
        if (final) rt_msg_free(&final->hdr);
        final = NULL;
    } else if (oc != OUT_OK) {
        final = comfy_rest_edit_original_req(&job->reply, reply_edit_text_json(x.fail_text, true));
    }
    job_report(&x, oc, ms);
    job_end(&x, done, oc, ms, final);
}

static void worker_on_message(rt_actor *self, void *state, rt_msg *m)
{
    (void)self;
    comfy_worker *r = state;
    if (m->type != MSG_COMFY_WORKER_RUN) {
        rt_msg_free(m);
        return;
    }
    comfy_worker_run_msg *rm = (comfy_worker_run_msg *)m;
    cjob *job = rm->job;
    rt_actor *reply_to = rm->reply_to;
    comfy_worker_takeover tko = rm->tko;
    comfy_worker_cancel *cancel = rm->cancel;
    rm->job = NULL;
    rm->cancel = NULL;
    rt_msg_free(m);
    if (job && reply_to) {
        run_job(r, tls_http, job, reply_to, &tko, cancel);
    } else {
        cjob_free(job);
        comfy_worker_cancel_unref(cancel);
    }
}

/* ---- messages and lifetime ---------------------------------------------------------------- */

static void run_dtor(rt_msg *m)
{
    cjob_free(((comfy_worker_run_msg *)m)->job);
    comfy_worker_cancel_unref(((comfy_worker_run_msg *)m)->cancel);
}

comfy_worker_cancel *comfy_worker_cancel_new(void)
{
    comfy_worker_cancel *c = calloc(1, sizeof *c);
    if (!c) abort();
    atomic_init(&c->refs, 1);
    return c;
}

comfy_worker_cancel *comfy_worker_cancel_ref(comfy_worker_cancel *c)
{
    if (c) atomic_fetch_add(&c->refs, 1);
    return c;
}

void comfy_worker_cancel_unref(comfy_worker_cancel *c)
{
    if (c && atomic_fetch_sub_explicit(&c->refs, 1, memory_order_acq_rel) == 1) free(c);
}

void comfy_worker_cancel_set(comfy_worker_cancel *c, uint64_t by)
{
    atomic_store(&c->by, by);
    atomic_store_explicit(&c->on, true, memory_order_release);
}

void comfy_worker_progress_get(comfy_worker_cancel *c, comfy_worker_progress *out)
{
    /* packed by publish_progress: phase, percent, server + 1, queue position (low to high) */
    uint64_t w = c ? atomic_load_explicit(&c->progress, memory_order_relaxed) : 0;
    out->phase = (prog_phase)(w & 0xff);
    out->percent = (unsigned)(w >> 8 & 0xff);
    out->server = (int)(w >> 16 & 0xffff) - 1;
    out->queue_position = (unsigned)(w >> 32);
}

comfy_worker_run_msg *comfy_worker_run_msg_new(cjob *job, rt_actor *reply_to)
{
    comfy_worker_run_msg *m = RT_MSG_NEW(comfy_worker_run_msg, MSG_COMFY_WORKER_RUN, run_dtor);
    m->job = job;
    m->reply_to = reply_to;
    return m;
}

static void done_dtor(rt_msg *m)
{
    comfy_worker_done_msg *d = (comfy_worker_done_msg *)m;
    cjob_free(d->job);
    comfy_outcome_clear(&d->out);
    if (d->final) rt_msg_free(&d->final->hdr);
}

comfy_worker_done_msg *comfy_worker_done_msg_new(cjob *job)
{
    comfy_worker_done_msg *m = RT_MSG_NEW(comfy_worker_done_msg, MSG_COMFY_WORKER_DONE, done_dtor);
    m->job = job;
    return m;
}

comfy_worker *comfy_worker_new(rt_system *sys, const comfy_worker_config *c, char *err,
                               size_t errlen)
{
    comfy_worker *w = calloc(1, sizeof *w);
    if (!w) abort();
    w->cfg = *c;
    if (!w->cfg.threads) w->cfg.threads = 1;
    comfy_http_global_init();
    rt_actor_spec spec = {.name = COMFY_WORKER_ACTOR_NAME,
                          .threads = w->cfg.threads,
                          .lane_capacity = w->cfg.lane_capacity ? w->cfg.lane_capacity : 1024,
                          .state = w,
                          .ops = {.on_thread_start = worker_thread_start,
                                  .on_message = worker_on_message,
                                  .on_thread_exit = worker_thread_exit}};
    w->actor = rt_actor_new(sys, &spec);
    if (!w->actor) {
        snprintf(err, errlen, "comfy: cannot create the worker actor");
        free(w);
        return NULL;
    }
    return w;
}

rt_actor *comfy_worker_actor(comfy_worker *w)
{
    return w ? w->actor : NULL;
}

void comfy_worker_stop(comfy_worker *w, uint64_t deadline_ms)
{
    /* the deadline first: a worker that sees stopping reads a deadline that is already set */
    atomic_store(&w->stop_deadline_ms, deadline_ms);
    atomic_store(&w->stopping, true);
}

void comfy_worker_counters_get(comfy_worker *w, comfy_worker_counters *out)
{
    *out = (comfy_worker_counters){
        .succeeded = atomic_load(&w->n_succeeded),
        .failed = atomic_load(&w->n_failed),
        .resubmitted = atomic_load(&w->n_resubmitted),
        .progress_edits = atomic_load(&w->n_edits),
        .progress_suppressed = atomic_load(&w->n_suppressed),
        .timed = atomic_load(&w->n_timed),
        .run_ms_sum = atomic_load(&w->run_ms_sum),
        .total_ms_sum = atomic_load(&w->total_ms_sum),
    };
}

void comfy_worker_free(comfy_worker *w)
{
    free(w);
}
