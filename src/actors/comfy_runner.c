/*
 * The runner's coordinator actor ("comfy") and the runner's lifetime: loading the catalogue,
 * creating the worker pool and the coordinator, the websockets, server bookkeeping, REST helpers.
 * The coordinator never blocks: admission (limits), the waiting line, dispatch to idle workers,
 * /queue answers and result buttons (as edits of the router's acknowledgement), and the stop
 * sequence. See comfy_runner.h for the shape.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "analytics/an_record.h"
#include "actors/comfy_runner_http.h"
#include "actors/comfy_runner_internal.h"
#include "analytics/an_results.h"
#include "comfy/limits.h"
#include "comfy/result.h"
#include "discord/reply.h"
#include "discord/reply_req.h"
#include "util/util_utf8.h"
#include "fluxbot/log.h"
#include "moderation/mod_state.h"
#include "msgs/comfy_msgs.h"
#include "pg/pg_conn.h"
#include "pg/pg_quota.h"

#define RECORDS_MAX 1024
/* A held job of a process that stopped renewing (killed, host lost) stops counting against
 * the bot-wide limits this long after its last renewal. */
#define QUOTA_LEASE_MS 30000u
/* After a failed call to the database, this process uses its own limits for this long before
 * asking again. */
#define QUOTA_RETRY_MS 5000u

static void limits_finish(comfy_runner *r, uint64_t user_id);

/* ---- small shared helpers ------------------------------------------------------------------ */

static uint64_t random_u64(void)
{
    uint64_t v = 0;
    if (getrandom(&v, sizeof v, 0) != (ssize_t)sizeof v) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        v = ((uint64_t)ts.tv_nsec << 20) ^ (uint64_t)ts.tv_sec ^ (uint64_t)(uintptr_t)&v;
        v *= 0x9E3779B97F4A7C15ULL;
    }
    return v;
}

uint64_t comfy_new_job_id(comfy_runner *r)
{
    /* wall-clock based so ids stay unique across restarts (buttons of old messages carry them) */
    uint64_t id = rt_wall_ms() << 16;
    pthread_mutex_lock(&r->id_mu);
    if (id <= r->last_id) id = r->last_id + 1;
    r->last_id = id;
    pthread_mutex_unlock(&r->id_mu);
    return id;
}

static void run_dtor(rt_msg *m)
{
    cjob_free(((comfy_run_msg *)m)->job);
}

comfy_run_msg *comfy_run_msg_new(comfy_job *job)
{
    comfy_run_msg *m = RT_MSG_NEW(comfy_run_msg, MSG_COMFY_RUN, run_dtor);
    m->job = job;
    return m;
}

static void done_dtor(rt_msg *m)
{
    comfy_done_msg *d = (comfy_done_msg *)m;
    cjob_free(d->job);
    comfy_outcome_clear(&d->out);
    if (d->final) rt_msg_free(&d->final->hdr);
}

comfy_done_msg *comfy_done_msg_new(comfy_job *job)
{
    comfy_done_msg *m = RT_MSG_NEW(comfy_done_msg, MSG_COMFY_DONE, done_dtor);
    m->job = job;
    return m;
}

rest_req_msg *comfy_req_edit_original(const comfy_reply_ref *ref, char *json_owned)
{
    return reply_req_edit_original(ref->application_id, ref->token, json_owned);
}

int comfy_rest_send(comfy_runner *r, rest_req_msg *m, bool must_deliver)
{
    if (!r->rest) {
        rt_msg_free(&m->hdr);
        return -1;
    }
    int rc = must_deliver ? rt_send_spill(r->rest, &m->hdr) : rt_send(r->rest, &m->hdr);
    if (rc != 0) {
        rt_msg_free(&m->hdr);
        return -1;
    }
    return 0;
}

void comfy_rest_edit_original(comfy_runner *r, const comfy_reply_ref *ref, char *json_owned,
                              bool must_deliver)
{
    comfy_rest_send(r, comfy_req_edit_original(ref, json_owned), must_deliver);
}

/* ---- servers ------------------------------------------------------------------------------- */

/* ---- coordinator state ------------------------------------------------------------------- */

typedef struct co_job {
    uint64_t id, user_id, guild_id;
    comfy_kind kind;
    char command[COMFY_CMD_MAX + 1];
    char snippet[80];
    comfy_job *job; /* owned while waiting; NULL once a worker has it */
    bool running;
    prog_phase phase;
    unsigned position, percent;
    int server;
    uint64_t last_edit_ms;
    uint64_t queued_ms; /* when it joined the waiting line */
} co_job;

typedef struct co_record {
    uint64_t id;
    comfy_job *params; /* owned */
    bool success, is_image;
    char view_url[1800];
} co_record;

/* A Delete in progress: its route so far and what the fallback needs (see on_delete_res). */
typedef struct co_delete {
    bool used;
    bool via_channel; /* the channel route is the one in flight */
    uint64_t app_id, channel_id, message_id, user_id, guild_id;
    char token[128];
} co_delete;

#define DELETES_MAX 64

struct comfy_coord {
    co_job *active;
    co_delete dels[DELETES_MAX];
    unsigned nactive, cap_active;
    unsigned idle_workers;
    lim_table *lim;
    /* With a postgresql:// db_url: the same limits held across every process of the bot
     * (pg/pg_quota.h); lim stays the local check, asked first. NULL = this process only. */
    pg_quota *quota;
    uint64_t quota_renewed_ms;
    uint64_t quota_retry_at; /* after a failure: local limits only until then (no blocking) */
    bool quota_dirty;        /* a release or admission missed the database: resync first */
    bool quota_err_logged;
    uint64_t quota_seq;
    char quota_owner[96];
    co_record recs[RECORDS_MAX];
    unsigned rec_next;
    uint64_t avg_job_ms;
    uint64_t timer_id;
    an_results *results; /* stored results, opened on first need (coordinator thread only) */
    bool results_failed; /* logged once */
    uint64_t none_usable_since_ms; /* no server up and answering since then; 0 while one is */
};

static void activity(comfy_runner *r, uint64_t user, uint64_t guild, const char *action,
                     const char *details)
{
    if (!r->analytics) return;
    an_activity_event e = {
        .user_id = user, .guild_id = guild, .action = action, .details = details};
    an_record_activity(r->analytics, &e);
}

static co_job *co_find(comfy_coord *co, uint64_t id)
{
    for (unsigned i = 0; i < co->nactive; i++)
        if (co->active[i].id == id) return &co->active[i];
    return NULL;
}

static co_job *co_add(comfy_coord *co, comfy_job *job)
{
    if (co->nactive == co->cap_active) {
        co->cap_active = co->cap_active ? co->cap_active * 2 : 32;
        co->active = realloc(co->active, co->cap_active * sizeof *co->active);
        if (!co->active) abort();
    }
    co_job *c = &co->active[co->nactive++];
    memset(c, 0, sizeof *c);
    c->id = job->id;
    c->user_id = job->origin.user_id;
    c->guild_id = job->origin.guild_id;
    c->kind = job->kind;
    snprintf(c->command, sizeof c->command, "%s", job->command);
    char *snip = util_utf8_clip(job->user_prompt && *job->user_prompt ? job->user_prompt : "", 40);
    snprintf(c->snippet, sizeof c->snippet, "%s", snip);
    free(snip);
    c->job = job;
    c->server = -1;
    c->phase = PROG_QUEUED;
    c->queued_ms = rt_now_ms();
    return c;
}

static void co_remove(comfy_coord *co, uint64_t id)
{
    for (unsigned i = 0; i < co->nactive; i++) {
        if (co->active[i].id != id) continue;
        cjob_free(co->active[i].job);
        memmove(&co->active[i], &co->active[i + 1], (co->nactive - i - 1) * sizeof co->active[0]);
        co->nactive--;
        return;
    }
}

/* A refusal after the router deferred a public "thinking" message: delete it, then answer with
 * an ephemeral follow-up. The follow-up is chained after the deletion (rest_req_msg.then): sent
 * the other way round, it would become the deferred message itself, visible to everyone. */
static void reject_late(comfy_runner *r, const comfy_reply_ref *ref, const char *text)
{
    /* The interaction's command_usage row gets its real outcome (the router recorded it as a
     * success when its defer went through). */
    if (r->analytics) an_record_outcome(r->analytics, ref->interaction_id, false);
    rest_req_msg *del = reply_req_delete_original(ref->application_id, ref->token);
    del->final_write = true;
    del->then =
        reply_req_followup(ref->application_id, ref->token, reply_followup_text_json(text, true));
    comfy_rest_send(r, del, true);
}

/* THE position of a job waiting for a runner: 1 = the next job a free runner takes. The job's
 * own message and /queue both show this number, so the two can never disagree. */
static unsigned waiting_position(comfy_coord *co, uint64_t id)
{
    unsigned pos = 0;
    for (unsigned i = 0; i < co->nactive; i++) {
        co_job *c = &co->active[i];
        if (c->running) continue;
        pos++;
        if (c->id == id) return pos;
    }
    return 0;
}

static void edit_waiting(comfy_runner *r, co_job *c, bool force)
{
    if (!c->job) return;
    uint64_t now = rt_now_ms();
    if (!force && c->last_edit_ms && now - c->last_edit_ms < r->progress_ms) return;
    prog_state p;
    prog_init(&p, now);
    prog_set_phase(&p, PROG_QUEUED, now);
    unsigned pos = waiting_position(r->co, c->id);
    unsigned th = r->threads ? r->threads : 1;
    p.queue_position = pos;
    /* the ETA is avg_job_ms × position; this job starts once the pos jobs up to it and the th
     * running ones have left th runners, ≈ (pos + th) / th average jobs from now */
    p.avg_job_ms = r->co->avg_job_ms && pos ? r->co->avg_job_ms * (pos + th) / (th * pos) : 0;
    char text[300];
    prog_text(&p, c->kind == COMFY_KIND_VIDEO ? "video" : "image", now, text, sizeof text);
    comfy_rest_edit_original(r, &c->job->reply, reply_edit_text_json(text, false), false);
    c->last_edit_ms = now;
}

/* Fails a waiting job that no server could take (coordinator; the job never had a thread). */
static void fail_waiting(comfy_runner *r, co_job *c, const char *reason, const char *text)
{
    comfy_coord *co = r->co;
    char full[700];
    cres_error_text(text, full, sizeof full);
    comfy_outcome out;
    memset(&out, 0, sizeof out);
    comfy_outcome_fill(&out, c->job, false, 0, reason, full);
    rest_req_msg *m = comfy_req_edit_original(&c->job->reply, reply_edit_text_json(full, true));
    comfy_dlv_start(r, &out, m);
    atomic_fetch_add(&r->n_failed, 1);
    atomic_fetch_sub(&r->n_waiting, 1);
    limits_finish(r, c->user_id);
    co_remove(co, c->id);
}

/* While no server is up, jobs wait in the line without a thread; once the outage has lasted
 * no_server_wait_ms for a job, it is failed with a clear message. All waiting jobs are
 * answered together, not one runner timeout after another. */
static void check_servers(comfy_runner *r)
{
    comfy_coord *co = r->co;
    uint64_t now = rt_now_ms();
    if (comfy_servers_any_usable(&r->srv)) {
        co->none_usable_since_ms = 0;
        return;
    }
    if (!co->none_usable_since_ms) co->none_usable_since_ms = now;
    for (unsigned i = 0; i < co->nactive;) {
        co_job *c = &co->active[i];
        uint64_t since =
            c->queued_ms > co->none_usable_since_ms ? c->queued_ms : co->none_usable_since_ms;
        if (c->running || !c->job || now - since < r->no_server_wait_ms) {
            i++;
            continue;
        }
        fail_waiting(r, c, "no_server",
                     "No ComfyUI server is reachable right now. Please try again later.");
    }
}

static void dispatch(comfy_runner *r)
{
    comfy_coord *co = r->co;
    bool moved = false;
    check_servers(r);
    if (co->none_usable_since_ms) return; /* the jobs wait here, not on a worker thread */
    for (unsigned i = 0; i < co->nactive && co->idle_workers > 0; i++) {
        co_job *c = &co->active[i];
        if (c->running || !c->job) continue;
        comfy_run_msg *m = comfy_run_msg_new(c->job);
        if (rt_send(r->workers, &m->hdr) != 0) {
            m->job = NULL;
            rt_msg_free(&m->hdr);
            break;
        }
        c->job = NULL;
        c->running = true;
        c->phase = PROG_PREPARING;
        co->idle_workers--;
        rt_actor_hold(r->coord);
        atomic_fetch_sub(&r->n_waiting, 1);
        atomic_fetch_add(&r->n_running, 1);
        moved = true;
    }
    if (moved) {
        for (unsigned i = 0; i < co->nactive; i++) {
            co_job *c = &co->active[i];
            if (!c->running && c->job) edit_waiting(r, c, false);
        }
    }
}

/* The shared limits could not be asked: the local ones still hold, so a database outage
 * costs strictness across processes, not availability. Logged once per outage. */
static void quota_trouble(comfy_runner *r, const char *what, const char *err)
{
    comfy_coord *co = r->co;
    /* Every call may wait for the database (bounded, but seconds when it is unreachable): a
     * pause keeps an outage from stalling every admission of the coordinator. */
    co->quota_retry_at = rt_now_ms() + QUOTA_RETRY_MS;
    co->quota_dirty = true;
    if (!co->quota_err_logged)
        LOG_ERROR("comfy",
                  "shared job limits: %s failed (%s); this process applies its own limits "
                  "until the database answers",
                  what, err);
    co->quota_err_logged = true;
}

/* True when the shared limits may be asked now: not within the pause after a failure, and
 * this process's rows match its jobs (resynced after an outage). */
static bool quota_usable(comfy_runner *r)
{
    comfy_coord *co = r->co;
    if (!co->quota || rt_now_ms() < co->quota_retry_at) return false;
    if (!co->quota_dirty) return true;
    uint64_t *users = malloc((co->nactive ? co->nactive : 1) * sizeof *users);
    if (!users) return false;
    for (unsigned i = 0; i < co->nactive; i++)
        users[i] = co->active[i].user_id;
    char err[256];
    int rc = pg_quota_resync(co->quota, users, co->nactive, err, sizeof err);
    free(users);
    if (rc != 0) {
        quota_trouble(r, "resync", err);
        return false;
    }
    co->quota_dirty = false;
    co->quota_renewed_ms = rt_now_ms();
    if (co->quota_err_logged) LOG_INFO("comfy", "shared job limits: the database answers again");
    co->quota_err_logged = false;
    return true;
}

/* Local limits first (no round trip to refuse), then the bot-wide ones. */
static lim_verdict limits_admit(comfy_runner *r, uint64_t user_id, uint64_t *retry)
{
    comfy_coord *co = r->co;
    lim_verdict v = lim_admit(co->lim, user_id, rt_wall_ms(), retry);
    if (v != LIM_OK || !quota_usable(r)) {
        /* admitted on local limits alone: the rows no longer match, resync when back */
        if (v == LIM_OK && co->quota) co->quota_dirty = true;
        return v;
    }
    char key[128], err[256];
    snprintf(key, sizeof key, "%s:%" PRIu64, co->quota_owner, ++co->quota_seq);
    switch (pg_quota_admit(co->quota, user_id, key, retry, err, sizeof err)) {
    case PG_QUOTA_OK:
        return LIM_OK;
    case PG_QUOTA_USER_ACTIVE:
        v = LIM_USER_CONCURRENT;
        break;
    case PG_QUOTA_USER_HOURLY:
        v = LIM_USER_HOURLY;
        break;
    case PG_QUOTA_GLOBAL:
        v = LIM_GLOBAL;
        break;
    case PG_QUOTA_ERROR:
        quota_trouble(r, "admission", err);
        return LIM_OK;
    }
    lim_finish(co->lim, user_id); /* refused bot-wide: the local count goes back */
    return v;
}

static void limits_finish(comfy_runner *r, uint64_t user_id)
{
    comfy_coord *co = r->co;
    lim_finish(co->lim, user_id);
    if (!co->quota) return;
    char err[256];
    if (!quota_usable(r))
        co->quota_dirty = true; /* the resync drops the row */
    else if (pg_quota_release_user(co->quota, user_id, err, sizeof err) != 0)
        quota_trouble(r, "release", err);
}

/* Admission of a resolved job (the router has answered its interaction): the limits, then the
 * waiting line. Returns false (and answers) when refused. */
static bool admit(comfy_runner *r, comfy_job *job)
{
    comfy_coord *co = r->co;
    if (atomic_load(&r->stopping)) {
        reject_late(r, &job->reply,
                    "\xe2\x8f\xb9\xef\xb8\x8f The bot is shutting down; please try "
                    "again in a minute.");
        atomic_fetch_add(&r->n_refused, 1);
        cjob_free(job);
        return false;
    }
    uint64_t retry = 0;
    lim_verdict v = limits_admit(r, job->origin.user_id, &retry);
    if (v != LIM_OK) {
        char text[300];
        lim_explain(v, co->lim, retry, text, sizeof text);
        reject_late(r, &job->reply, text);
        atomic_fetch_add(&r->n_refused, 1);
        cjob_free(job);
        return false;
    }
    if (!job->id) job->id = comfy_new_job_id(r);
    if (!job->received_wall_ms) job->received_wall_ms = rt_wall_ms();
    atomic_fetch_add(&r->n_admitted, 1);
    atomic_fetch_add(&r->n_waiting, 1);
    char details[160];
    snprintf(details, sizeof details, "{\"job\":%" PRIu64 ",\"kind\":\"%s\"}", job->id,
             job->command);
    activity(r, job->origin.user_id, job->origin.guild_id, "job_queued", details);
    /* one line per job step, each starting "job <id>": grep follows a job through the log */
    char from[48] = "";
    if (job->source_job_id) snprintf(from, sizeof from, ", from job %" PRIu64, job->source_job_id);
    LOG_INFO("comfy",
             "job %" PRIu64 " accepted: /%s by user %" PRIu64 " in guild %" PRIu64
             " (interaction %" PRIu64 "%s)",
             job->id, job->command, job->origin.user_id, job->origin.guild_id,
             job->reply.interaction_id, from);
    uint64_t id = job->id;
    co_add(co, job);
    dispatch(r);
    co_job *c = co_find(co, id);
    if (c && c->job) edit_waiting(r, c, true); /* could not start at once: say where it waits */
    return true;
}

static void on_start(comfy_runner *r, comfy_start_msg *m)
{
    comfy_job *job = m->job;
    m->job = NULL;
    if (job) admit(r, job);
}

static co_record *record_find(comfy_coord *co, uint64_t id)
{
    for (unsigned i = 0; i < RECORDS_MAX; i++)
        if (co->recs[i].params && co->recs[i].id == id) return &co->recs[i];
    return NULL;
}

/* Delete, in order: the click's @original through the interaction webhook (after the router's
 * type-6 ack that is the message the button is on, and the webhook needs no permission in the
 * channel), then the channel route by id (needs the bot to see the channel: 403 where it
 * cannot), then an ephemeral follow-up telling the clicker it did not work. Each step waits
 * for the previous one's answer (cookie COMFY_DELETE_COOKIE_BIT | slot). */
static void delete_send(comfy_runner *r, unsigned slot)
{
    co_delete *d = &r->co->dels[slot];
    rest_req_msg *m = d->via_channel ? reply_req_delete_message(d->channel_id, d->message_id)
                                     : reply_req_delete_original(d->app_id, d->token);
    m->reply_to = r->coord;
    m->cookie = COMFY_DELETE_COOKIE_BIT | slot;
    if (comfy_rest_send(r, m, true) != 0) d->used = false;
}

static void start_delete(comfy_runner *r, const comfy_button_msg *b)
{
    comfy_coord *co = r->co;
    unsigned slot = DELETES_MAX;
    for (unsigned i = 0; i < DELETES_MAX && slot == DELETES_MAX; i++)
        if (!co->dels[i].used) slot = i;
    bool have_token = b->reply.token && strlen(b->reply.token) < sizeof co->dels[0].token;
    if (slot == DELETES_MAX || (!have_token && !(b->origin.channel_id && b->message_id))) {
        /* no room to follow it (64 deletes in flight) or nothing to delete by: one try */
        if (b->origin.channel_id && b->message_id)
            comfy_rest_send(r, reply_req_delete_message(b->origin.channel_id, b->message_id), true);
        return;
    }
    co_delete *d = &co->dels[slot];
    *d = (co_delete){.used = true,
                     .via_channel = !have_token,
                     .app_id = b->reply.application_id,
                     .channel_id = b->origin.channel_id,
                     .message_id = b->message_id,
                     .user_id = b->origin.user_id,
                     .guild_id = b->origin.guild_id};
    if (have_token) snprintf(d->token, sizeof d->token, "%s", b->reply.token);
    delete_send(r, slot);
}

static void on_delete_res(comfy_runner *r, const rest_res_msg *res)
{
    unsigned slot = (unsigned)(res->cookie & 0xffffffffu);
    if (slot >= DELETES_MAX || !r->co->dels[slot].used) return;
    co_delete *d = &r->co->dels[slot];
    if (res->status >= 200 && res->status < 300) {
        activity(r, d->user_id, d->guild_id, "result_deleted", NULL);
        LOG_INFO("comfy", "result message %" PRIu64 " deleted by user %" PRIu64 " (%s route)",
                 d->message_id, d->user_id, d->via_channel ? "channel" : "webhook");
        d->used = false;
        return;
    }
    LOG_WARN("comfy", "deleting result message %" PRIu64 " through the %s route: HTTP %d%s%s",
             d->message_id, d->via_channel ? "channel" : "webhook", res->status,
             res->error[0] ? " " : "", res->error);
    if (!d->via_channel && d->channel_id && d->message_id) {
        d->via_channel = true;
        delete_send(r, slot);
        return;
    }
    if (d->token[0]) {
        const char *text = res->status == 404 ? "This result was already deleted."
                                              : "The result could not be deleted: the bot may not "
                                                "see that channel. A member with Manage Messages "
                                                "can delete it.";
        comfy_rest_send(
            r, reply_req_followup(d->app_id, d->token, reply_followup_text_json(text, true)), true);
    }
    d->used = false;
}

/* A result button, already acknowledged by the router: Delete (type 6, the router checked the
 * permission) removes the result; Regenerate and Upscale ×2 (type 5) start a job under the
 * click's interaction, or refuse late. */
/* A stored result (an_results.h) as a record: 1 found (out->params owned by the caller), 0 not
 * stored (never, or expired), -1 the store cannot be read (logged once). */
static int record_load(comfy_runner *r, uint64_t job_id, co_record *out)
{
    comfy_coord *co = r->co;
    if (!r->results_db[0]) return 0;
    char err[600];
    if (!co->results) {
        co->results = an_results_open(r->results_db, err, sizeof err);
        if (!co->results) {
            if (!co->results_failed) LOG_WARN("comfy", "%s", err);
            co->results_failed = true;
            return -1;
        }
    }
    an_result_row row;
    int found = an_results_get(co->results, job_id, &row, err, sizeof err);
    if (found < 0) {
        LOG_WARN("comfy", "%s", err);
        return -1;
    }
    if (found == 0) return 0;
    comfy_job *j = cjob_from_json(row.params, job_id, err, sizeof err);
    if (!j) {
        LOG_WARN("comfy", "stored result %" PRIu64 " is unreadable: %s", job_id, err);
        an_result_row_free(&row);
        return 0;
    }
    memset(out, 0, sizeof *out);
    out->id = job_id;
    out->params = j;
    out->success = row.success;
    out->is_image = row.is_image;
    /* The Discord attachment first (ComfyUI's copy may be gone after its restart). */
    const char *url = row.attachment_url ? row.attachment_url : row.view_url;
    snprintf(out->view_url, sizeof out->view_url, "%s", url ? url : "");
    an_result_row_free(&row);
    return 1;
}

static void on_button(comfy_runner *r, comfy_button_msg *b)
{
    comfy_coord *co = r->co;
    if (b->action == COMFY_BUTTON_DELETE) {
        start_delete(r, b);
        return;
    }
    co_record *rec = record_find(co, b->job_id);
    co_record stored = {0};
    if (!rec) {
        /* Not among the recent results in memory: the stored ones (a restart, or older). */
        int found = record_load(r, b->job_id, &stored);
        if (found <= 0) {
            uint64_t made_ms = b->job_id >> 16; /* job ids are wall-clock based */
            uint64_t now = rt_wall_ms();
            char text[300];
            if (found == 0 && r->result_retention_ms && now > made_ms &&
                now - made_ms > r->result_retention_ms)
                snprintf(text, sizeof text,
                         "\xe2\x8f\xb3 This result is older than %" PRIu64
                         " days, the time this bot keeps what it needs to redo a result. "
                         "Please run the command again.",
                         (uint64_t)(r->result_retention_ms / 86400000ULL));
            else
                snprintf(text, sizeof text,
                         "This result is no longer known to the bot. Please run the command "
                         "again.");
            reject_late(r, &b->reply, text);
            return;
        }
        rec = &stored;
    }
    comfy_job *job;
    if (b->action == COMFY_BUTTON_REGENERATE) {
        /* Rules may have changed since the result was made: no GPU time for a prompt the
         * filter refuses now (not counted as a violation: it passed when it was typed). */
        const comfy_job *src = rec->params;
        bool refused = false;
        mod_hit hit;
        /* Every text the user typed: the prompt and the declared text options (a negative
         * prompt, ...). */
        for (unsigned i = 0; r->rc.mod && !refused && i <= src->npatches; i++) {
            const char *p = i == src->npatches ? src->user_prompt : src->patches[i].str;
            refused = p && *p && mod_state_check(r->rc.mod, p, strlen(p), &hit) != MOD_CHECK_OK;
        }
        if (refused) {
            reject_late(r, &b->reply,
                        "\xf0\x9f\x9a\xab This prompt is no longer allowed by the server's "
                        "content filter, so it cannot be regenerated.");
            cjob_free(stored.params);
            return;
        }
        /* The command as declared now (a reload may have changed or removed it). */
        const decl_command *d = decl_set_find(r->cat.decls, rec->params->command);
        if (!d || d->button) {
            reject_late(r, &b->reply, "This command is no longer offered by this bot.");
            cjob_free(stored.params);
            return;
        }
        job = cjob_clone(rec->params, 0, &b->reply, &b->origin);
        job->decl = d;
        job->seed = random_u64() & CJOB_MAX_SEED;
    } else {
        /* the result as Discord holds it (the clicked message's attachment) first: it is there
         * whichever ComfyUI server made it and whether that server is up; the producing
         * server's /view only when the click carries no attachment. Any healthy server runs
         * the upscale (its input is uploaded there). */
        const char *url = b->image_url && *b->image_url ? b->image_url : rec->view_url;
        const decl_command *up = decl_set_button(r->cat.decls);
        if (!up || !rec->success || !rec->is_image || !url || !*url) {
            reject_late(r, &b->reply,
                        !up ? "Upscaling is not set up on this bot."
                            : "This result cannot be upscaled.");
            cjob_free(stored.params);
            return;
        }
        job = cjob_new_upscale(rec->params, up, 0, 2, url, &b->reply, &b->origin);
    }
    cjob_free(stored.params);
    job->received_wall_ms = rt_wall_ms();
    admit(r, job);
}

static const char *phase_words(prog_phase p)
{
    switch (p) {
    case PROG_PREPARING:
        return "\xf0\x9f\x93\xa5 preparing";
    case PROG_QUEUED:
        return "\xe2\x8f\xb3 in the ComfyUI queue";
    case PROG_LOADING:
        return "\xe2\x9a\x99\xef\xb8\x8f loading models";
    case PROG_SAMPLING:
        return "\xf0\x9f\x8e\xa8 generating";
    case PROG_FINISHING:
        return "\xf0\x9f\x94\x8d finishing";
    default:
        return "\xf0\x9f\x93\xa4 sending";
    }
}

static void on_queue(comfy_runner *r, comfy_queue_msg *q)
{
    comfy_coord *co = r->co;
    char text[1900];
    size_t used = 0;
    unsigned mine = 0, running = 0, waiting = 0;
#define APPEND(...)                                                                                \
    do {                                                                                           \
        if (used < sizeof text) {                                                                  \
            int w_ = snprintf(text + used, sizeof text - used, __VA_ARGS__);                       \
            if (w_ > 0) used += (size_t)w_;                                                        \
        }                                                                                          \
    } while (0)
    APPEND("**Your jobs**\n");
    for (unsigned i = 0; i < co->nactive; i++) {
        co_job *c = &co->active[i];
        if (c->running)
            running++;
        else
            waiting++;
        if (c->user_id != q->origin.user_id) continue;
        mine++;
        APPEND("%u. `/%s` %s%s%s \xe2\x80\x94 ", mine, c->command, c->snippet[0] ? "\"" : "",
               c->snippet, c->snippet[0] ? "\"" : "");
        if (!c->running) {
            APPEND("\xe2\x8f\xb3 waiting for a free runner (position %u)\n",
                   waiting_position(co, c->id));
        } else if (c->phase == PROG_QUEUED && c->position) {
            APPEND("\xe2\x8f\xb3 position %u in the queue of %s\n", c->position,
                   c->server >= 0 ? r->srv.v[c->server].label : "ComfyUI");
        } else if (c->phase == PROG_SAMPLING) {
            APPEND("%s %u%%\n", phase_words(c->phase), c->percent);
        } else {
            APPEND("%s\n", phase_words(c->phase));
        }
    }
    if (!mine) APPEND("You have no jobs running or waiting.\n");
    unsigned up = comfy_servers_up_count(&r->srv);
    APPEND("\nAll users: %u running, %u waiting \xc2\xb7 ComfyUI servers up: %u/%u", running,
           waiting, up, r->srv.n);
#undef APPEND
    /* the router deferred ephemerally: the answer replaces its "thinking" */
    comfy_rest_edit_original(r, &q->reply, reply_edit_text_json(text, false), true);
}

/* The result's parameters into the results table, through the analytics writer (batched; the
 * coordinator never waits on SQLite), so its buttons work after a restart. */
static void record_persist(comfy_runner *r, const comfy_done_msg *d)
{
    if (!r->analytics || !d->job) return;
    char *params = cjob_to_json(d->job);
    an_result_event e = {.job_id = d->job->id,
                         .user_id = d->job->origin.user_id,
                         .channel_id = d->job->origin.channel_id,
                         .params = params,
                         .view_url = d->view_url[0] ? d->view_url : NULL,
                         .success = d->success,
                         .is_image = d->is_image};
    an_record_result(r->analytics, &e);
    free(params);
}

static void record_store(comfy_runner *r, comfy_done_msg *d)
{
    comfy_coord *co = r->co;
    record_persist(r, d);
    co_record *rec = &co->recs[co->rec_next];
    co->rec_next = (co->rec_next + 1) % RECORDS_MAX;
    cjob_free(rec->params);
    rec->id = d->job->id;
    rec->params = d->job;
    d->job = NULL;
    rec->success = d->success;
    rec->is_image = d->is_image;
    snprintf(rec->view_url, sizeof rec->view_url, "%s", d->view_url);
}

static void on_done(comfy_runner *r, comfy_done_msg *d)
{
    comfy_coord *co = r->co;
    co_job *c = co_find(co, d->job->id);
    if (c) {
        limits_finish(r, c->user_id);
        co_remove(co, c->id);
    }
    co->idle_workers++;
    atomic_fetch_sub(&r->n_running, 1);
    if (d->success && d->duration_ms) {
        co->avg_job_ms =
            co->avg_job_ms ? (co->avg_job_ms * 7 + d->duration_ms) / 8 : d->duration_ms;
    }
    record_store(r, d);
    if (d->final) {
        comfy_dlv_start(r, &d->out, d->final);
        d->final = NULL;
    } else {
        comfy_outcome_record(r, &d->out, false);
    }
    rt_actor_release(r->coord);
    if (!atomic_load(&r->stopping)) dispatch(r);
}

static void on_status(comfy_runner *r, comfy_status_msg *s)
{
    co_job *c = co_find(r->co, s->job_id);
    if (!c) return;
    c->phase = s->phase;
    c->position = s->queue_position;
    c->percent = s->percent;
    c->server = s->server;
}

static void on_rest_res(comfy_runner *r, rest_res_msg *res)
{
    if (res->cookie & COMFY_FINAL_COOKIE_BIT)
        comfy_dlv_on_result(r, res);
    else if (res->cookie & COMFY_DELETE_COOKIE_BIT)
        on_delete_res(r, res);
}

static void on_tick(comfy_runner *r)
{
    comfy_coord *co = r->co;
    uint64_t now = rt_now_ms();
    /* Leases of held jobs: renewed at a third of their length, so two missed ticks never let
     * a live process's jobs stop counting. */
    if (co->quota && now - co->quota_renewed_ms >= QUOTA_LEASE_MS / 3 && quota_usable(r)) {
        char err[256];
        if (pg_quota_renew(co->quota, err, sizeof err) == 0)
            co->quota_renewed_ms = now;
        else
            quota_trouble(r, "lease renewal", err);
    }
    if (!atomic_load(&r->stopping)) dispatch(r);
    if (atomic_load(&r->stopping)) {
        /* results still on their way to Discord get the stop grace, then are given up */
        if (now >= atomic_load(&r->stop_deadline_ms)) comfy_dlv_abandon(r);
        if (!comfy_dlv_pending(r) && co->timer_id) {
            rt_timer_cancel(r->sys, co->timer_id);
            co->timer_id = 0;
        }
    }
}

static void coord_on_message(rt_actor *self, void *state, rt_msg *m)
{
    (void)self;
    comfy_runner *r = state;
    switch (m->type) {
    case MSG_COMFY_START:
        on_start(r, (comfy_start_msg *)m);
        break;
    case MSG_COMFY_BUTTON:
        on_button(r, (comfy_button_msg *)m);
        break;
    case MSG_COMFY_QUEUE:
        on_queue(r, (comfy_queue_msg *)m);
        break;
    case MSG_COMFY_DONE:
        on_done(r, (comfy_done_msg *)m);
        break;
    case MSG_COMFY_STATUS:
        on_status(r, (comfy_status_msg *)m);
        break;
    case MSG_COMFY_LINK:
        if (!atomic_load(&r->stopping)) dispatch(r);
        break;
    case MSG_REST_RES:
        on_rest_res(r, (rest_res_msg *)m);
        break;
    case RT_MSG_TIMER:
        on_tick(r);
        break;
    default:
        LOG_DEBUG("comfy", "ignored message type %u", m->type);
        break;
    }
    rt_msg_free(m);
}

static int coord_thread_start(rt_actor *self, void *state, unsigned index)
{
    (void)index;
    comfy_runner *r = state;
    const char *urls[CFG_MAX_LIST];
    for (unsigned i = 0; i < r->srv.n; i++)
        urls[i] = r->srv.v[i].url;
    comfy_ws_opts o = {.urls = urls,
                       .n = r->srv.n,
                       .client_id = r->client_id,
                       .on_event = comfy_events_on_event,
                       .on_link = comfy_events_on_link,
                       .on_binary = comfy_events_on_binary,
                       .ctx = &r->events,
                       .ping_secs = r->rc.ws_ping_secs};
    char err[256];
    r->ws = comfy_ws_start(&o, err, sizeof err);
    if (!r->ws) {
        LOG_ERROR("comfy", "%s", err);
        return -1;
    }
    r->co->timer_id = rt_timer_start(self, 250, 250, 0);
    return 0;
}

static void coord_stop_requested(rt_actor *self, void *state)
{
    comfy_runner *r = state;
    comfy_coord *co = r->co;
    atomic_store(&r->stopping, true);
    atomic_store(&r->stop_deadline_ms, rt_now_ms() + r->stop_grace_ms);
    /* the tick keeps running while results are being delivered (see on_tick) */
    if (co->timer_id && !comfy_dlv_pending(r)) {
        rt_timer_cancel(rt_actor_system(self), co->timer_id);
        co->timer_id = 0;
    }
    /* waiting jobs are handed back: their users are told, nothing is lost silently */
    for (unsigned i = 0; i < co->nactive;) {
        co_job *c = &co->active[i];
        if (c->running) {
            i++;
            continue;
        }
        if (c->job) {
            comfy_rest_edit_original(
                r, &c->job->reply,
                reply_edit_text_json("\xe2\x8f\xb9\xef\xb8\x8f The bot is restarting, so this job "
                                     "was not started. Please run the command again.",
                                     true),
                true);
            activity(r, c->user_id, c->guild_id, "job_failed", "{\"reason\":\"shutdown\"}");
        }
        limits_finish(r, c->user_id);
        atomic_fetch_sub(&r->n_waiting, 1);
        co_remove(co, c->id);
    }
    unsigned running = 0;
    for (unsigned i = 0; i < co->nactive; i++)
        running += co->active[i].running;
    if (running)
        LOG_INFO("comfy", "stopping: waiting up to %" PRIu64 " ms for %u running job(s)",
                 r->stop_grace_ms, running);
}

/* ---- lifetime ------------------------------------------------------------------------------ */

comfy_runner *comfy_runner_create(rt_system *sys, const comfy_runner_config *rc, char *err,
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
    r->sys = sys;
    r->rest = rc->rest;
    r->analytics = rc->analytics;
    pthread_mutex_init(&r->id_mu, NULL);
    pthread_mutex_init(&r->swap_mu, NULL);
    r->decls = calloc(1, sizeof *r->decls);
    if (!r->decls) abort();
    /* The generation commands: a broken declaration stops the start, file and key named. */
    if (ratios_load_file(&r->ratios, cfg->ratios_file, err, errlen) ||
        loras_load_file(&r->loras, cfg->loras_file, err, errlen) ||
        decl_set_load(r->decls, cfg->workflows_dir, err, errlen)) {
        comfy_runner_free(r);
        return NULL;
    }
    r->cat.ratios = &r->ratios;
    r->cat.loras = &r->loras;
    r->cat.decls = r->decls;
    r->cat.models = rc->models;
    r->cat.max_attachment_bytes = (uint64_t)cfg->max_attachment_bytes;
    r->max_attachment = (uint64_t)cfg->max_attachment_bytes;
    r->progress_ms = (uint64_t)cfg->progress_interval_ms;
    r->stall_ms = (uint64_t)cfg->job_stall_timeout_ms;
    r->threads = cfg->runner_threads > 0 ? (unsigned)cfg->runner_threads : 1;
    snprintf(r->results_db, sizeof r->results_db, "%s", rc->analytics ? cfg->db_path : "");
    r->result_retention_ms = (uint64_t)cfg->result_retention_days * 86400000ULL;
    r->http_timeout_ms = rc->http_timeout_ms ? rc->http_timeout_ms : 30000;
    r->stop_grace_ms = rc->stop_grace_ms ? rc->stop_grace_ms : 30000;
    r->no_server_wait_ms =
        rc->no_server_wait_ms ? rc->no_server_wait_ms : (uint64_t)cfg->comfyui_wait_ms;
    r->connect_timeout_ms =
        cfg->comfyui_connect_timeout_ms > 0 ? (uint64_t)cfg->comfyui_connect_timeout_ms : 3000;
    r->reconcile_poll_ms = rc->reconcile_poll_ms ? rc->reconcile_poll_ms : 1000;
    r->down_after =
        cfg->comfyui_down_after_failures > 0 ? (unsigned)cfg->comfyui_down_after_failures : 3;
    r->queue_poll_ms = rc->queue_poll_ms ? rc->queue_poll_ms : 3000;
    r->token_valid_ms = rc->token_valid_ms;
    r->dlv = comfy_dlv_new();
    if (comfy_servers_init(&r->srv, &cfg->comfyui_urls, r->http_timeout_ms, err, errlen) ||
        dlpol_init(&r->dl_policy, &cfg->attachment_hosts, &cfg->comfyui_urls, err, errlen) != 0) {
        comfy_runner_free(r);
        return NULL;
    }
    r->img_limits.max_side = (uint32_t)cfg->max_image_side;
    r->img_limits.max_pixels = (uint64_t)cfg->max_image_pixels;
    if (rc->client_id && *rc->client_id) {
        snprintf(r->client_id, sizeof r->client_id, "%s", rc->client_id);
    } else {
        uint8_t rnd[16];
        for (int i = 0; i < 2; i++) {
            uint64_t v = random_u64();
            memcpy(rnd + i * 8, &v, 8);
        }
        cproto_uuid(rnd, r->client_id);
    }
    comfy_events_init(&r->events, &r->srv);
    r->co = calloc(1, sizeof *r->co);
    if (!r->co) abort();
    r->co->idle_workers = r->threads;
    r->co->lim = lim_new((unsigned)cfg->user_max_concurrent_jobs,
                         (unsigned)cfg->user_max_jobs_per_hour, (unsigned)cfg->max_queued_jobs);
    if (pg_is_url(cfg->db_url)) {
        char host[64] = "host";
        gethostname(host, sizeof host - 1);
        snprintf(r->co->quota_owner, sizeof r->co->quota_owner, "%.60s:%ld:%016" PRIx64, host,
                 (long)getpid(), random_u64());
        pg_quota_cfg qc = {.url = cfg->db_url,
                           .owner = r->co->quota_owner,
                           .user_max_active = (unsigned)cfg->user_max_concurrent_jobs,
                           .user_max_per_hour = (unsigned)cfg->user_max_jobs_per_hour,
                           .max_total = (unsigned)cfg->max_queued_jobs,
                           .lease_ms = QUOTA_LEASE_MS};
        r->co->quota = pg_quota_new(&qc);
        if (!r->co->quota) {
            snprintf(err, errlen, "comfy: db_url is not a usable postgresql:// URL");
            comfy_runner_free(r);
            return NULL;
        }
    }
    comfy_http_global_init();
    unsigned lanes = cfg->mailbox_capacity > 0 ? (unsigned)cfg->mailbox_capacity : 1024;
    rt_actor_spec ws = {.name = COMFY_WORKER_ACTOR_NAME,
                        .threads = r->threads,
                        .lane_capacity = lanes,
                        .state = r,
                        .ops = {.on_thread_start = comfy_worker_thread_start,
                                .on_message = comfy_worker_on_message,
                                .on_thread_exit = comfy_worker_thread_exit}};
    r->workers = rt_actor_new(sys, &ws);
    rt_actor_spec cs = {.name = COMFY_ACTOR_NAME,
                        .threads = 1,
                        .lane_capacity = lanes,
                        .state = r,
                        .ops = {.on_thread_start = coord_thread_start,
                                .on_message = coord_on_message,
                                .on_stop_requested = coord_stop_requested}};
    r->coord = r->workers ? rt_actor_new(sys, &cs) : NULL;
    r->events.notify = r->coord;
    if (!r->workers || !r->coord) {
        snprintf(err, errlen, "comfy: cannot create the actors");
        comfy_runner_free(r);
        return NULL;
    }
    LOG_INFO("comfy", "%u ComfyUI server(s), %u runner thread(s), %u resolution(s), %u LoRA(s)",
             r->srv.n, r->threads, r->ratios.count, r->loras.count);
    return r;
}

rt_actor *comfy_runner_actor(comfy_runner *r)
{
    return r ? r->coord : NULL;
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
    comfy_ws_stop(r->ws);
    r->ws = NULL;
    if (r->co) {
        for (unsigned i = 0; i < r->co->nactive; i++)
            cjob_free(r->co->active[i].job);
        free(r->co->active);
        for (unsigned i = 0; i < RECORDS_MAX; i++)
            cjob_free(r->co->recs[i].params);
        an_results_close(r->co->results);
        lim_free(r->co->lim);
        pg_quota_free(r->co->quota);
        free(r->co);
    }
    comfy_dlv_free(r->dlv);
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
    pthread_mutex_destroy(&r->id_mu);
    free(r);
}

bool comfy_runner_server_get(comfy_runner *r, unsigned i, comfy_server_info *out)
{
    return r && comfy_servers_info(&r->srv, i, out);
}

void comfy_runner_stats_get(comfy_runner *r, comfy_runner_stats *out)
{
    memset(out, 0, sizeof *out);
    out->jobs_admitted = atomic_load(&r->n_admitted);
    out->jobs_refused = atomic_load(&r->n_refused);
    out->jobs_succeeded = atomic_load(&r->n_succeeded);
    out->jobs_failed = atomic_load(&r->n_failed);
    out->jobs_resubmitted = atomic_load(&r->n_resubmitted);
    out->progress_edits = atomic_load(&r->n_edits);
    out->progress_suppressed = atomic_load(&r->n_suppressed);
    out->events_routed = atomic_load(&r->events.n_routed);
    out->events_orphaned = atomic_load(&r->events.n_orphaned);
    out->events_claimed = atomic_load(&r->events.n_claimed);
    out->waiting = atomic_load(&r->n_waiting);
    out->running = atomic_load(&r->n_running);
    out->jobs_timed = atomic_load(&r->n_timed);
    out->job_run_ms_sum = atomic_load(&r->run_ms_sum);
    out->job_total_ms_sum = atomic_load(&r->total_ms_sum);
    out->servers = r->srv.n;
    out->servers_up = comfy_servers_up_count(&r->srv);
}
