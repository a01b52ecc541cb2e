/*
 * The runner's coordinator (see comfy_coord.h): admission (limits), the waiting line, dispatch
 * to idle workers, the workers' status and done messages, /queue answers and result buttons (as
 * edits of the router's acknowledgement), the recent results, and the stop sequence. It never
 * blocks, except on the shared limits' database calls (bounded, and paused after a failure).
 */
#include "actors/comfy_coord.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "actors/comfy_deliver.h"
#include "actors/comfy_rest.h"
#include "actors/llm_enhance.h"
#include "analytics/an_record.h"
#include "analytics/an_engine.h"
#include "analytics/an_view.h"
#include "analytics/an_results.h"
#include "comfy/lim.h"
#include "comfy/cres.h"
#include "comfy/qcancel.h"
#include "comfy/qsched.h"
#include "discord/enh_note.h"
#include "discord/qctl.h"
#include "discord/reply.h"
#include "discord/reply_req.h"
#include "fluxbot/log.h"
#include "moderation/mod_state.h"
#include "msgs/comfy.h"
#include "pg/pg_conn.h"
#include "pg/pg_quota.h"
#include "util/util_assert.h"
#include "util/util_rand.h"
#include "util/util_str.h"
#include "util/util_utf8.h"

#define RECORDS_MAX 1024
/* Cookie of a Delete step's REST answer: this bit | slot in the delete table (the deliveries'
 * answers carry COMFY_DELIVER_COOKIE_BIT). */
#define COMFY_DELETE_COOKIE_BIT (1ULL << 62)
/* A held job of a process that stopped renewing (killed, host lost) stops counting against
 * the bot-wide limits this long after its last renewal. */
#define QUOTA_LEASE_MS 30000u
/* After a failed call to the database, this process uses its own limits for this long before
 * asking again. */
#define QUOTA_RETRY_MS 5000u

/* ---- coordinator state ------------------------------------------------------------------- */

typedef struct co_job {
    uint64_t id, user_id, guild_id;
    comfy_kind kind;
    char command[COMFY_CMD_MAX + 1];
    char snippet[80];
    cjob *job;    /* owned while waiting; NULL once a worker has it */
    bool running; /* its progress is in its cancel cell (comfy_worker_progress_get) */
    uint64_t last_edit_ms;
    uint64_t queued_ms;         /* when it joined the waiting line */
    bool counted;               /* holds a slot of the limits (admitted here, or taken over) */
    char key[PG_LEASE_KEY_MAX]; /* its lease row (job_keeper.h); "" = not leased */
    comfy_worker_takeover tko;  /* taken over from a process that died */
    /* Running: the cancel request shared with its worker (a reference, comfy_worker.h). Once
     * asked (cancelling), who asked and their interaction (token owned), answered when the
     * worker's done message says how the job ended. */
    comfy_worker_cancel *cancel;
    bool cancelling;
    uint64_t cancel_by;
    comfy_reply_ref cancel_reply;
    unsigned wait_pos; /* waiting: its place in the dispatch order (refresh_positions) */
    /* The position its message shows (0: none yet). show_positions edits the message whenever
     * wait_pos differs: without it, a job that another job was put ahead of (a newcomer whose
     * user has its turn first, a higher priority) would show its old place for as long as it
     * waits, and its message would disagree with /queue. */
    unsigned shown_pos;
    /* Admitted, not yet in the line: its prompt is with the enhancer (llm_enhance.h), which
     * answers with MSG_LLM_ENHANCE_RES. Such a job counts as waiting (/queue lists it, Cancel
     * and /queue clear take it as a waiting one) but is not handed out, nor failed for want of
     * a server, until the answer came. */
    bool enhancing;
} co_job;

typedef struct co_record {
    uint64_t id;
    cjob *params; /* owned */
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

/* Everything below is the coordinator thread's (see comfy_coord.h), except the counters. */
struct comfy_coord {
    comfy_coord_config cfg;
    rt_system *sys;
    rt_actor *self;
    comfy_deliver *dlv;    /* final messages in flight (comfy_deliver.h) */
    comfy_ws *ws;          /* started with the coordinator's thread, stopped by comfy_coord_free */
    char results_db[1024]; /* a SQLite path or a postgresql:// URL (an_engine.h) */
    bool stopping;
    uint64_t stop_deadline_ms;
    uint64_t last_id; /* the newest job id handed out */
    co_job *active;
    co_delete dels[DELETES_MAX];
    unsigned nactive, cap_active;
    unsigned idle_workers;
    lim_table *lim;
    qsched *sched;  /* the dispatch order: priorities, users taking turns (comfy/qsched.h) */
    bool pos_dirty; /* the waiting jobs' wait_pos need computing again */
    /* The line changed (a job joined or left it, a priority changed) or a message's position
     * edit was held back by the progress interval: show_positions has messages to look at. */
    bool pos_unshown;
    uint64_t mod_changes; /* the moderation state's change count when the line was last ordered */
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
    an_view *results;    /* stored results, opened on first need (coordinator thread only) */
    bool results_failed; /* logged once */
    uint64_t none_usable_since_ms; /* no server up and answering since then; 0 while one is */
    /* counters: written here, read by comfy_coord_counters_get on any thread */
    _Atomic uint64_t n_admitted, n_refused, n_failed, n_waiting, n_running, n_cancelled;
#ifdef FB_DEBUG
    util_owner owner; /* the coordinator's thread, claimed when it starts */
#endif
};

static void limits_finish(comfy_coord *co, uint64_t user_id);

/* Job ids are wall-clock based so they stay unique across restarts (buttons of old messages
 * carry them; the stored results are found by them). Coordinator thread only. */
static uint64_t new_job_id(comfy_coord *co)
{
    uint64_t id = rt_wall_ms() << 16;
    if (id <= co->last_id) id = co->last_id + 1;
    co->last_id = id;
    return id;
}

static void activity(comfy_coord *co, uint64_t user, uint64_t guild, const char *action,
                     const char *details)
{
    if (!co->cfg.analytics) return;
    an_activity_event e = {
        .user_id = user, .guild_id = guild, .action = action, .details = details};
    an_record_activity(co->cfg.analytics, &e);
}

static co_job *co_find(comfy_coord *co, uint64_t id)
{
    for (unsigned i = 0; i < co->nactive; i++)
        if (co->active[i].id == id) return &co->active[i];
    return NULL;
}

static co_job *co_add(comfy_coord *co, cjob *job)
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
    c->queued_ms = rt_now_ms();
    co->pos_dirty = true;
    co->pos_unshown = true;
    return c;
}

/* What a co_job owns besides its place in the line. */
static void co_job_release(co_job *c)
{
    cjob_free(c->job);
    c->job = NULL;
    comfy_worker_cancel_unref(c->cancel);
    c->cancel = NULL;
    free(c->cancel_reply.token);
    c->cancel_reply.token = NULL;
}

static void co_remove(comfy_coord *co, uint64_t id)
{
    for (unsigned i = 0; i < co->nactive; i++) {
        if (co->active[i].id != id) continue;
        co_job_release(&co->active[i]);
        memmove(&co->active[i], &co->active[i + 1], (co->nactive - i - 1) * sizeof co->active[0]);
        co->nactive--;
        co->pos_dirty = true;
        co->pos_unshown = true;
        return;
    }
}

/* A refusal after the router deferred a public "thinking" message: delete it, then answer with
 * an ephemeral follow-up. The follow-up is chained after the deletion (rest_req_msg.then): sent
 * the other way round, it would become the deferred message itself, visible to everyone. */
static void reject_late(comfy_coord *co, const comfy_reply_ref *ref, const char *text)
{
    /* The interaction's command_usage row gets its real outcome (the router recorded it as a
     * success when its defer went through). */
    if (co->cfg.analytics) an_record_outcome(co->cfg.analytics, ref->interaction_id, false);
    rest_req_msg *del = reply_req_delete_original(ref->application_id, ref->token);
    del->final_write = true;
    del->then =
        reply_req_followup(ref->application_id, ref->token, reply_followup_text_json(text, true));
    comfy_rest_send(co->cfg.rest, del, true);
}

/* The user's dispatch priority, read from the moderation state each time the line is ordered
 * (so /priority applies to jobs already waiting). */
static qsched_level level_of(comfy_coord *co, uint64_t user)
{
    if (!co->cfg.mod) return QSCHED_NORMAL;
    switch (mod_state_priority(co->cfg.mod, user)) {
    case MOD_PRIORITY_HIGH:
        return QSCHED_HIGH;
    case MOD_PRIORITY_LOW:
        return QSCHED_LOW;
    default:
        return QSCHED_NORMAL;
    }
}

/* The jobs waiting in the line (no worker yet), in arrival order: their index in active[] into
 * idx and the scheduler's view into w (both with room for nactive). Returns how many. */
static unsigned waiting_list(comfy_coord *co, unsigned *idx, qsched_job *w)
{
    unsigned n = 0;
    for (unsigned i = 0; i < co->nactive; i++) {
        co_job *c = &co->active[i];
        if (c->running || !c->job || c->enhancing) continue;
        idx[n] = i;
        w[n] = (qsched_job){.user_id = c->user_id, .level = level_of(co, c->user_id)};
        n++;
    }
    return n;
}

/* Every waiting job's wait_pos, from the order the scheduler would hand them out in. */
static void refresh_positions(comfy_coord *co)
{
    if (!co->pos_dirty) return;
    unsigned cap = co->nactive ? co->nactive : 1;
    /* zeroed: the release build's -Wmaybe-uninitialized cannot see waiting_list fill them */
    unsigned *idx = calloc(cap, sizeof *idx), *order = calloc(cap, sizeof *order);
    qsched_job *w = calloc(cap, sizeof *w);
    if (!idx || !order || !w) abort();
    unsigned n = waiting_list(co, idx, w);
    qsched_order(co->sched, w, n, order);
    for (unsigned k = 0; k < n; k++)
        co->active[idx[order[k]]].wait_pos = k + 1;
    free(idx);
    free(order);
    free(w);
    co->pos_dirty = false;
}

/* THE position of a job waiting for a runner: 1 = the next job a free runner takes (in the
 * dispatch order: priorities, users taking turns). The job's own message and /queue both show
 * this number, so the two can never disagree. */
static unsigned waiting_position(comfy_coord *co, uint64_t id)
{
    refresh_positions(co);
    co_job *c = co_find(co, id);
    return c && !c->running && c->job && !c->enhancing ? c->wait_pos : 0;
}

/* Edits a waiting job's message: its position and the Cancel button. Without force, at most
 * once per progress interval; returns false when held back for that reason (show_positions
 * tries again on a later tick), true otherwise. */
static bool edit_waiting(comfy_coord *co, co_job *c, bool force)
{
    if (!c->job || c->enhancing) return true; /* its message says "Enhancing…" until the answer */
    /* a job this process may no longer hold (paused, database unreachable): no word */
    if (c->key[0] && !job_keeper_may_speak(co->cfg.keeper, c->key)) return true;
    uint64_t now = rt_now_ms();
    if (!force && c->last_edit_ms && now - c->last_edit_ms < co->cfg.progress_ms) return false;
    prog_state p;
    prog_init(&p, now);
    prog_set_phase(&p, PROG_QUEUED, now);
    unsigned pos = waiting_position(co, c->id);
    unsigned th = co->cfg.threads ? co->cfg.threads : 1;
    p.queue_position = pos;
    /* the ETA is avg_job_ms × position; this job starts once the pos jobs up to it and the th
     * running ones have left th runners, ≈ (pos + th) / th average jobs from now */
    p.avg_job_ms = co->avg_job_ms && pos ? co->avg_job_ms * (pos + th) / (th * pos) : 0;
    char text[300], cancel_id[101];
    prog_text(&p, c->kind == COMFY_KIND_VIDEO ? "video" : "image", now, text, sizeof text);
    if (cres_custom_id(CRES_CANCEL, c->id, c->user_id, cancel_id, sizeof cancel_id) != 0)
        cancel_id[0] = '\0';
    char *shown = enh_note_append(text, c->job); /* what became of an enhancement, below */
    comfy_rest_edit_original(co->cfg.rest, &c->job->reply, qctl_progress_json(shown, cancel_id),
                             false);
    free(shown);
    c->last_edit_ms = now;
    c->shown_pos = pos;
    return true;
}

/* Brings every waiting job's message to its current position: each one whose shown position
 * differs is edited (within the progress interval; one held back is retried on the tick).
 * Called when the line changed, and on every tick while an edit is owed. */
static void show_positions(comfy_coord *co)
{
    if (co->cfg.mod) {
        /* a /priority (or any moderation change) may have reordered the line */
        uint64_t ch = mod_state_changes(co->cfg.mod, NULL);
        if (ch != co->mod_changes) {
            co->mod_changes = ch;
            co->pos_dirty = co->pos_unshown = true;
        }
    }
    if (!co->pos_unshown) return;
    refresh_positions(co);
    bool owed = false;
    for (unsigned i = 0; i < co->nactive; i++) {
        co_job *c = &co->active[i];
        if (c->running || !c->job || c->enhancing || c->wait_pos == c->shown_pos) continue;
        if (!edit_waiting(co, c, false)) owed = true;
    }
    co->pos_unshown = owed;
}

/* Fails a waiting job that no server could take (coordinator; the job never had a thread). */
static void fail_waiting(comfy_coord *co, co_job *c, const char *reason, const char *text)
{
    if (c->key[0] && !job_keeper_may_speak(co->cfg.keeper, c->key)) {
        /* another process may hold it now: it answers, this one only forgets the job */
        LOG_WARN("comfy", "job %" PRIu64 ": not failed here, its lease is not certain", c->id);
        job_keeper_finish(co->cfg.keeper, c->key);
        atomic_fetch_sub(&co->n_waiting, 1);
        if (c->counted) limits_finish(co, c->user_id);
        co_remove(co, c->id);
        return;
    }
    char full[700];
    cres_error_text(text, full, sizeof full);
    comfy_outcome out;
    memset(&out, 0, sizeof out);
    comfy_outcome_fill(&out, c->job, false, 0, reason, full);
    rest_req_msg *m =
        comfy_rest_edit_original_req(&c->job->reply, reply_edit_text_json(full, true));
    comfy_deliver_start(co->dlv, &out, m);
    atomic_fetch_add(&co->n_failed, 1);
    atomic_fetch_sub(&co->n_waiting, 1);
    if (c->counted) limits_finish(co, c->user_id);
    co_remove(co, c->id);
}

/* While no server is up, jobs wait in the line without a thread; once the outage has lasted
 * no_server_wait_ms for a job, it is failed with a clear message. All waiting jobs are
 * answered together, not one runner timeout after another. */
static void check_servers(comfy_coord *co)
{
    uint64_t now = rt_now_ms();
    if (comfy_servers_any_usable(co->cfg.srv)) {
        co->none_usable_since_ms = 0;
        return;
    }
    if (!co->none_usable_since_ms) co->none_usable_since_ms = now;
    for (unsigned i = 0; i < co->nactive;) {
        co_job *c = &co->active[i];
        uint64_t since =
            c->queued_ms > co->none_usable_since_ms ? c->queued_ms : co->none_usable_since_ms;
        if (c->running || !c->job || c->enhancing || now - since < co->cfg.no_server_wait_ms) {
            i++;
            continue;
        }
        fail_waiting(co, c, "no_server",
                     "No ComfyUI server is reachable right now. Please try again later.");
    }
}

static void dispatch(comfy_coord *co)
{
    bool moved = false;
    check_servers(co);
    if (co->none_usable_since_ms) return; /* the jobs wait here, not on a worker thread */
    if (co->idle_workers == 0) return;
    unsigned cap = co->nactive ? co->nactive : 1;
    unsigned *idx = calloc(cap, sizeof *idx);
    qsched_job *w = calloc(cap, sizeof *w);
    if (!idx || !w) abort();
    unsigned n = waiting_list(co, idx, w);
    while (co->idle_workers > 0 && n > 0) {
        int k = qsched_next(co->sched, w, n);
        co_job *c = &co->active[idx[k]];
        comfy_worker_run_msg *m = comfy_worker_run_msg_new(c->job, co->self);
        m->tko = c->tko;
        if (!c->cancel) c->cancel = comfy_worker_cancel_new();
        m->cancel = comfy_worker_cancel_ref(c->cancel);
        if (rt_send(comfy_worker_actor(co->cfg.workers), &m->hdr) != 0) {
            m->job = NULL;
            rt_msg_free(&m->hdr);
            break;
        }
        c->job = NULL;
        c->running = true;
        co->idle_workers--;
        rt_actor_hold(co->self);
        atomic_fetch_sub(&co->n_waiting, 1);
        atomic_fetch_add(&co->n_running, 1);
        qsched_served(co->sched, c->user_id);
        memmove(&idx[k], &idx[k + 1], (n - (unsigned)k - 1) * sizeof *idx);
        memmove(&w[k], &w[k + 1], (n - (unsigned)k - 1) * sizeof *w);
        n--;
        moved = true;
        co->pos_dirty = true;
    }
    free(idx);
    free(w);
    if (moved) {
        co->pos_unshown = true; /* the jobs behind the ones handed out moved up */
        show_positions(co);
    }
}

/* The shared limits could not be asked: the local ones still hold, so a database outage
 * costs strictness across processes, not availability. Logged once per outage. */
static void quota_trouble(comfy_coord *co, const char *what, const char *err)
{
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
static bool quota_usable(comfy_coord *co)
{
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
        quota_trouble(co, "resync", err);
        return false;
    }
    co->quota_dirty = false;
    co->quota_renewed_ms = rt_now_ms();
    if (co->quota_err_logged) LOG_INFO("comfy", "shared job limits: the database answers again");
    co->quota_err_logged = false;
    return true;
}

/* Local limits first (no round trip to refuse), then the bot-wide ones. ix: the job's
 * interaction, whose key (job_keeper_key) names its row in the shared limits, so a process that
 * takes the job over finds that row (limits_adopt). */
static lim_verdict limits_admit(comfy_coord *co, uint64_t user_id, uint64_t ix, uint64_t *retry)
{
    lim_verdict v = lim_admit(co->lim, user_id, rt_wall_ms(), retry);
    if (v != LIM_OK || !quota_usable(co)) {
        /* admitted on local limits alone: the rows no longer match, resync when back */
        if (v == LIM_OK && co->quota) co->quota_dirty = true;
        return v;
    }
    char key[128], err[256];
    if (!job_keeper_key(ix, key))
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
        quota_trouble(co, "admission", err);
        return LIM_OK;
    }
    lim_finish(co->lim, user_id); /* refused bot-wide: the local count goes back */
    return v;
}

/* A job taken over from a process that died: it holds a slot of its user's limits here from
 * now on, locally and in the shared limits (its row there becomes this process's). It is not
 * refused: it was admitted once. Without this the user could start more jobs than the limits
 * allow while it runs here (the dead owner's row stops counting when its lease runs out, and
 * this process's own table never had it). */
static void limits_adopt(comfy_coord *co, uint64_t user_id, const char *key, uint64_t started_ms)
{
    lim_adopt(co->lim, user_id, started_ms, rt_wall_ms());
    if (!co->quota) return;
    char err[256];
    if (!quota_usable(co))
        co->quota_dirty = true; /* the resync writes a row for every job held, this one too */
    else if (pg_quota_adopt(co->quota, user_id, key, err, sizeof err) != 0)
        quota_trouble(co, "takeover", err);
}

static void limits_finish(comfy_coord *co, uint64_t user_id)
{
    lim_finish(co->lim, user_id);
    if (!co->quota) return;
    char err[256];
    if (!quota_usable(co))
        co->quota_dirty = true; /* the resync drops the row */
    else if (pg_quota_release_user(co->quota, user_id, err, sizeof err) != 0)
        quota_trouble(co, "release", err);
}

/* With leases: the job's row, written by the keeper on its own thread (this one never waits). */
static void lease(comfy_coord *co, co_job *c, const cjob *job)
{
    if (!co->cfg.keeper || !job_keeper_key(job->reply.interaction_id, c->key)) return;
    pg_lease_job row;
    memset(&row, 0, sizeof row);
    snprintf(row.key, sizeof row.key, "%s", c->key);
    row.params = cjob_to_json(job);
    row.app_id = job->reply.application_id;
    row.interaction_id = job->reply.interaction_id;
    snprintf(row.token, sizeof row.token, "%s", job->reply.token ? job->reply.token : "");
    row.received_ms = job->received_wall_ms;
    row.user_id = job->origin.user_id;
    row.guild_id = job->origin.guild_id;
    row.channel_id = job->origin.channel_id;
    job_keeper_accept(co->cfg.keeper, &row);
    free(row.params); /* NULL once moved */
}

/* A job taken over from a process whose lease expired (job_keeper.h): rebuilt from its row and
 * put in the waiting line. It was admitted by the process that died, so the limits are not
 * asked again, but it counts against them here from now on (limits_adopt); what to do with its
 * prompt is the worker's to find out (takeover.h). */
static void on_takeover(comfy_coord *co, job_keeper_takeover_msg *m)
{
    pg_lease_job *row = &m->row;
    char err[200];
    uint64_t id = new_job_id(co);
    cjob *job = cjob_from_json(row->params, id, err, sizeof err);
    if (!job) {
        LOG_ERROR("comfy", "job %s taken over but unreadable (%s): dropped", row->key, err);
        job_keeper_finish(co->cfg.keeper, row->key);
        return;
    }
    job->reply.application_id = row->app_id;
    job->reply.interaction_id = row->interaction_id;
    free(job->reply.token); /* cjob_from_json's "" (the row has the real one) */
    job->reply.token = util_strdup(row->token);
    job->origin.user_id = row->user_id;
    job->origin.guild_id = row->guild_id;
    job->origin.channel_id = row->channel_id;
    job->received_wall_ms = row->received_ms;
    LOG_INFO("comfy",
             "job %" PRIu64 " accepted: taken over (%s, was %s's) by user %" PRIu64
             " in guild %" PRIu64 " (interaction %" PRIu64 ")",
             id, pg_lease_state_name(row->state), row->prev_owner, row->user_id, row->guild_id,
             row->interaction_id);
    atomic_fetch_add(&co->n_waiting, 1);
    co_job *c = co_add(co, job);
    snprintf(c->key, sizeof c->key, "%s", row->key);
    limits_adopt(co, row->user_id, row->key, row->received_ms);
    c->counted = true;
    c->tko.on = true;
    c->tko.stage = row->state == PG_LEASE_ACCEPTED    ? TAKEOVER_STAGE_ACCEPTED
                   : row->state == PG_LEASE_SUBMITTED ? TAKEOVER_STAGE_SUBMITTED
                                                      : TAKEOVER_STAGE_DELIVERING;
    snprintf(c->tko.server, sizeof c->tko.server, "%s", row->server);
    snprintf(c->tko.prompt_id, sizeof c->tko.prompt_id, "%s", row->prompt_id);
    if (co->stopping) return; /* handed back again with the others at the keeper's exit */
    dispatch(co);
}

/* The job's prompt goes to the enhancer; the job stays here, admitted, marked enhancing, and
 * its message says "Enhancing your prompt…" with the Cancel button. False when the enhancer
 * cannot take it (stopped): the job then runs as typed, and its user is told the enhancer was
 * busy. */
static bool enhance_start(comfy_coord *co, co_job *c)
{
    cjob *job = c->job;
    llm_enhance_req_msg *q = llm_enhance_req_msg_new(c->id, job->reply.interaction_id,
                                                     job->creativity, job->user_prompt, co->self);
    if (!q || rt_send_spill(co->cfg.enhancer, &q->hdr) != 0) {
        if (q) rt_msg_free(&q->hdr);
        cjob_enhance_fail(job, CJOB_ENH_BUSY);
        return false;
    }
    c->enhancing = true;
    LOG_INFO("comfy", "job %" PRIu64 ": prompt sent for enhancement (creativity %u)", c->id,
             job->creativity);
    /* Sent from here, not by the enhancer: this edit and a cancellation's come from one sender,
     * so the REST actor applies them in order and "Enhancing…" never overwrites "Cancelled". */
    if (c->key[0] && !job_keeper_may_speak(co->cfg.keeper, c->key)) return true;
    char cancel_id[101];
    if (cres_custom_id(CRES_CANCEL, c->id, c->user_id, cancel_id, sizeof cancel_id) != 0)
        cancel_id[0] = '\0';
    comfy_rest_edit_original(co->cfg.rest, &job->reply,
                             qctl_progress_json(enh_note_working(), cancel_id), false);
    c->last_edit_ms = rt_now_ms();
    return true;
}

/* The enhancer's answer: the job joins the line with its prompt enhanced, or as typed and the
 * reason noted (its messages say which). An answer for a job no longer held here (cancelled,
 * cleared, the bot stopping) is dropped: the job already ended, exactly once. */
static void on_enhanced(comfy_coord *co, llm_enhance_res_msg *r)
{
    co_job *c = co_find(co, r->job_id);
    if (!c || !c->enhancing || !c->job) {
        LOG_DEBUG("comfy", "job %" PRIu64 ": enhancement answer for a job that has ended",
                  r->job_id);
        return;
    }
    if (r->verdict == CJOB_ENH_OK && r->text)
        cjob_enhance_apply(c->job, r->text);
    else
        cjob_enhance_fail(c->job, r->verdict > CJOB_ENH_OK && r->verdict < CJOB_ENH_COUNT
                                      ? (cjob_enhance)r->verdict
                                      : CJOB_ENH_ERROR);
    LOG_INFO("comfy", "job %" PRIu64 ": prompt enhancement %s; now waiting for a runner", c->id,
             cjob_enhance_name(c->job->enhance));
    c->enhancing = false;
    c->queued_ms = rt_now_ms(); /* its wait for a server starts now */
    co->pos_dirty = true;
    uint64_t id = c->id;
    if (co->stopping) return; /* (held jobs were answered at the stop request) */
    dispatch(co);
    c = co_find(co, id);
    if (c && c->job && !c->running) edit_waiting(co, c, true);
    co->pos_unshown = true; /* it joined the line: the jobs it went ahead of moved back */
    show_positions(co);
}

/* Admission of a resolved job (the router has answered its interaction): the limits, then the
 * waiting line, through the prompt enhancer first when enhance says so. Returns false (and
 * answers) when refused. */
static bool admit(comfy_coord *co, cjob *job, bool enhance)
{
    if (co->stopping) {
        reject_late(co, &job->reply,
                    "\xe2\x8f\xb9\xef\xb8\x8f The bot is shutting down; please try "
                    "again in a minute.");
        atomic_fetch_add(&co->n_refused, 1);
        cjob_free(job);
        return false;
    }
    uint64_t retry = 0;
    lim_verdict v = limits_admit(co, job->origin.user_id, job->reply.interaction_id, &retry);
    if (v != LIM_OK) {
        char text[300];
        lim_explain(v, co->lim, retry, text, sizeof text);
        reject_late(co, &job->reply, text);
        atomic_fetch_add(&co->n_refused, 1);
        cjob_free(job);
        return false;
    }
    if (!job->id) job->id = new_job_id(co);
    if (!job->received_wall_ms) job->received_wall_ms = rt_wall_ms();
    atomic_fetch_add(&co->n_admitted, 1);
    atomic_fetch_add(&co->n_waiting, 1);
    char details[160];
    snprintf(details, sizeof details, "{\"job\":%" PRIu64 ",\"kind\":\"%s\"}", job->id,
             job->command);
    activity(co, job->origin.user_id, job->origin.guild_id, "job_queued", details);
    /* one line per job step, each starting "job <id>": grep follows a job through the log */
    char from[48] = "";
    if (job->source_job_id) snprintf(from, sizeof from, ", from job %" PRIu64, job->source_job_id);
    LOG_INFO("comfy",
             "job %" PRIu64 " accepted: /%s by user %" PRIu64 " in guild %" PRIu64
             " (interaction %" PRIu64 "%s)",
             job->id, job->command, job->origin.user_id, job->origin.guild_id,
             job->reply.interaction_id, from);
    uint64_t id = job->id;
    co_job *added = co_add(co, job);
    added->counted = true;
    lease(co, added, job);
    if (enhance && enhance_start(co, added)) return true;
    dispatch(co);
    co_job *c = co_find(co, id);
    if (c && c->job) edit_waiting(co, c, true); /* could not start at once: say where it waits */
    show_positions(co); /* the jobs it was put ahead of (its user's turn came first) moved back */
    return true;
}

static void on_start(comfy_coord *co, comfy_start_msg *m)
{
    cjob *job = m->job;
    m->job = NULL;
    if (!job) return;
    /* A new job that asks for an enhancement not yet made (a command's, or Options → Regenerate
     * with the prompt typed again); Regenerate of an enhanced result reuses its text instead
     * (on_button). A bot without an enhancer says so (the router marks it too). */
    bool enhance = job->creativity > 0 && job->enhance == CJOB_ENH_NONE && job->user_prompt &&
                   job->user_prompt[0];
    if (enhance && !co->cfg.enhancer) {
        cjob_enhance_fail(job, CJOB_ENH_OFF);
        enhance = false;
    }
    /* A job built from a stored result (read back without its declaration) runs the command
     * as declared now; one whose command no longer exists is refused plainly. */
    if (!job->decl) job->decl = decl_set_find(co->cfg.cat->decls, job->command);
    if (!job->decl) {
        reject_late(co, &job->reply, "This command is no longer offered by this bot.");
        atomic_fetch_add(&co->n_refused, 1);
        cjob_free(job);
        return;
    }
    admit(co, job, enhance);
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
static void delete_send(comfy_coord *co, unsigned slot)
{
    co_delete *d = &co->dels[slot];
    rest_req_msg *m = d->via_channel ? reply_req_delete_message(d->channel_id, d->message_id)
                                     : reply_req_delete_original(d->app_id, d->token);
    m->reply_to = co->self;
    m->cookie = COMFY_DELETE_COOKIE_BIT | slot;
    if (comfy_rest_send(co->cfg.rest, m, true) != 0) d->used = false;
}

static void start_delete(comfy_coord *co, const comfy_button_msg *b)
{
    unsigned slot = DELETES_MAX;
    for (unsigned i = 0; i < DELETES_MAX && slot == DELETES_MAX; i++)
        if (!co->dels[i].used) slot = i;
    bool have_token = b->reply.token && strlen(b->reply.token) < sizeof co->dels[0].token;
    if (slot == DELETES_MAX || (!have_token && !(b->origin.channel_id && b->message_id))) {
        /* no room to follow it (64 deletes in flight) or nothing to delete by: one try */
        if (b->origin.channel_id && b->message_id)
            comfy_rest_send(co->cfg.rest,
                            reply_req_delete_message(b->origin.channel_id, b->message_id), true);
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
    delete_send(co, slot);
}

static void on_delete_res(comfy_coord *co, const rest_res_msg *res)
{
    unsigned slot = (unsigned)(res->cookie & 0xffffffffu);
    if (slot >= DELETES_MAX || !co->dels[slot].used) return;
    co_delete *d = &co->dels[slot];
    if (res->status >= 200 && res->status < 300) {
        activity(co, d->user_id, d->guild_id, "result_deleted", NULL);
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
        delete_send(co, slot);
        return;
    }
    if (d->token[0]) {
        const char *text = res->status == 404 ? "This result was already deleted."
                                              : "The result could not be deleted: the bot may not "
                                                "see that channel. A member with Manage Messages "
                                                "can delete it.";
        comfy_rest_send(
            co->cfg.rest,
            reply_req_followup(d->app_id, d->token, reply_followup_text_json(text, true)), true);
    }
    d->used = false;
}

/* A result button, already acknowledged by the router: Delete (type 6, the router checked the
 * permission) removes the result; Regenerate and Upscale ×2 (type 5) start a job under the
 * click's interaction, or refuse late. */
/* A stored result (an_results.h) as a record: 1 found (out->params owned by the caller), 0 not
 * stored (never, or expired), -1 the store cannot be read (logged once). */
static int record_load(comfy_coord *co, uint64_t job_id, co_record *out)
{
    if (!co->results_db[0]) return 0;
    char err[600];
    if (!co->results) {
        co->results = an_view_open(co->results_db, err, sizeof err);
        if (!co->results) {
            if (!co->results_failed) LOG_WARN("comfy", "%s", err);
            co->results_failed = true;
            return -1;
        }
    }
    an_result_row row;
    int found = an_view_result(co->results, job_id, &row, err, sizeof err);
    if (found < 0) {
        LOG_WARN("comfy", "%s", err);
        return -1;
    }
    if (found == 0) return 0;
    cjob *j = cjob_from_json(row.params, job_id, err, sizeof err);
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

static void on_button(comfy_coord *co, comfy_button_msg *b)
{
    if (b->action == COMFY_BUTTON_DELETE) {
        start_delete(co, b);
        return;
    }
    co_record *rec = record_find(co, b->job_id);
    co_record stored = {0};
    if (!rec) {
        /* Not among the recent results in memory: the stored ones (a restart, or older). */
        int found = record_load(co, b->job_id, &stored);
        if (found <= 0) {
            uint64_t made_ms = b->job_id >> 16; /* job ids are wall-clock based */
            uint64_t now = rt_wall_ms();
            char text[300];
            if (found == 0 && co->cfg.result_retention_ms && now > made_ms &&
                now - made_ms > co->cfg.result_retention_ms)
                snprintf(text, sizeof text,
                         "\xe2\x8f\xb3 This result is older than %" PRIu64
                         " days, the time this bot keeps what it needs to redo a result. "
                         "Please run the command again.",
                         (uint64_t)(co->cfg.result_retention_ms / 86400000ULL));
            else
                snprintf(text, sizeof text,
                         "This result is no longer known to the bot. Please run the command "
                         "again.");
            reject_late(co, &b->reply, text);
            return;
        }
        rec = &stored;
    }
    cjob *job;
    if (b->action == COMFY_BUTTON_REGENERATE) {
        /* Rules may have changed since the result was made: no GPU time for a prompt the
         * filter refuses now (not counted as a violation: it passed when it was typed). */
        const cjob *src = rec->params;
        bool refused = false;
        mod_hit hit;
        /* Every text the user typed: the prompt, a negative prompt, the declared text options. */
        const char *texts[CJOB_TEXTS_MAX];
        unsigned ntexts = co->cfg.mod ? cjob_user_texts(src, texts) : 0;
        for (unsigned i = 0; !refused && i < ntexts; i++)
            refused =
                mod_state_check(co->cfg.mod, texts[i], strlen(texts[i]), &hit) != MOD_CHECK_OK;
        if (refused) {
            reject_late(co, &b->reply,
                        "\xf0\x9f\x9a\xab This prompt is no longer allowed by the server's "
                        "content filter, so it cannot be regenerated.");
            cjob_free(stored.params);
            return;
        }
        /* The command as declared now (a reload may have changed or removed it). */
        const decl_command *d = decl_set_find(co->cfg.cat->decls, src->command);
        if (!d || d->button) {
            reject_late(co, &b->reply, "This command is no longer offered by this bot.");
            cjob_free(stored.params);
            return;
        }
        job = cjob_clone(rec->params, 0, &b->reply, &b->origin);
        job->decl = d;
        job->seed = util_rand_u64() & CJOB_MAX_SEED;
    } else {
        /* the result as Discord holds it (the clicked message's attachment) first: it is there
         * whichever ComfyUI server made it and whether that server is up; the producing
         * server's /view only when the click carries no attachment. Any healthy server runs
         * the upscale (its input is uploaded there). */
        const char *url = b->image_url && *b->image_url ? b->image_url : rec->view_url;
        const decl_command *up = decl_set_button(co->cfg.cat->decls);
        if (!up || !rec->success || !rec->is_image || !url || !*url) {
            reject_late(co, &b->reply,
                        !up ? "Upscaling is not set up on this bot."
                            : "This result cannot be upscaled.");
            cjob_free(stored.params);
            return;
        }
        job = cjob_new_upscale(rec->params, up, 0, 2, url, &b->reply, &b->origin);
    }
    cjob_free(stored.params);
    job->received_wall_ms = rt_wall_ms();
    admit(co, job, false);
}

/* The Options dialog asks for a result's parameters (the router keeps the dialog): a copy of
 * the job from memory or, after a restart, from the results table; or why there is none. */
static void on_lookup(comfy_coord *co, const comfy_lookup_msg *q)
{
    comfy_lookup_status st = COMFY_LOOKUP_FOUND;
    cjob *copy = NULL;
    co_record *rec = record_find(co, q->job_id);
    if (rec) {
        /* the copy answers a dialog, not an interaction: no token travels with it */
        comfy_reply_ref none = {0};
        copy = cjob_clone(rec->params, rec->id, &none, NULL);
        copy->source_job_id = rec->params->source_job_id;
    } else {
        co_record stored = {0};
        int found = record_load(co, q->job_id, &stored);
        if (found > 0) {
            copy = stored.params; /* its id is the result's */
        } else {
            uint64_t made_ms = q->job_id >> 16; /* job ids are wall-clock based */
            uint64_t now = rt_wall_ms();
            st = found < 0 ? COMFY_LOOKUP_ERROR
                 : co->cfg.result_retention_ms && now > made_ms &&
                         now - made_ms > co->cfg.result_retention_ms
                     ? COMFY_LOOKUP_EXPIRED
                     : COMFY_LOOKUP_UNKNOWN;
        }
    }
    comfy_lookup_res_msg *res = comfy_lookup_res_msg_new(q->job_id, q->cookie, st, copy);
    res->retention_days = (uint32_t)(co->cfg.result_retention_ms / 86400000ULL);
    if (!q->reply_to || rt_send_spill(q->reply_to, &res->hdr) != 0) rt_msg_free(&res->hdr);
}

/* ---- cancelling ------------------------------------------------------------------------------ */

/* A waiting job leaves the line at once: its message says it was cancelled (and by whom when
 * not by its owner), its limits are released, its analytics rows are written once the edit's
 * fate is known (comfy_deliver.h), as for any job that ends. */
static void cancel_waiting(comfy_coord *co, co_job *c, uint64_t by)
{
    char text[160];
    qcancel_job_text(c->user_id, by, text, sizeof text);
    LOG_INFO("comfy", "job %" PRIu64 " cancelled while %s, by user %" PRIu64, c->id,
             c->enhancing ? "its prompt was being enhanced" : "waiting", by);
    if (c->enhancing) {
        /* the request is cut; its answer, if it crosses this, finds no job (on_enhanced) */
        llm_enhance_drop_msg *d = llm_enhance_drop_msg_new(c->id);
        if (d && rt_send_spill(co->cfg.enhancer, &d->hdr) != 0) rt_msg_free(&d->hdr);
    }
    if (c->key[0] && !job_keeper_may_speak(co->cfg.keeper, c->key)) {
        /* another process may hold it now: only forgetting it is certain (as fail_waiting) */
        job_keeper_finish(co->cfg.keeper, c->key);
    } else {
        comfy_outcome out;
        memset(&out, 0, sizeof out);
        comfy_outcome_fill(&out, c->job, false, 0, "cancelled", text);
        out.cancelled = true;
        out.cancelled_waiting = true;
        out.cancelled_by = by;
        rest_req_msg *m =
            comfy_rest_edit_original_req(&c->job->reply, reply_edit_text_json(text, true));
        comfy_deliver_start(co->dlv, &out, m);
    }
    atomic_fetch_add(&co->n_cancelled, 1);
    atomic_fetch_sub(&co->n_waiting, 1);
    if (c->counted) limits_finish(co, c->user_id);
    co_remove(co, c->id);
}

static void on_cancel(comfy_coord *co, comfy_cancel_msg *m)
{
    qcancel_job *jobs = calloc(co->nactive ? co->nactive : 1, sizeof *jobs);
    if (!jobs) abort();
    for (unsigned i = 0; i < co->nactive; i++) {
        co_job *c = &co->active[i];
        jobs[i] = (qcancel_job){.id = c->id,
                                .user_id = c->user_id,
                                .running = c->running,
                                .cancelling = c->cancelling,
                                .command = c->command,
                                .snippet = c->snippet};
    }
    qcancel_req r = {.job_id = m->job_id,
                     .by_user = m->origin.user_id,
                     .target_user = m->target_user,
                     .manager = m->manager};
    qcancel_decision d;
    qcancel_decide(jobs, co->nactive, &r, &d);
    char text[1900];
    if (d.kind == QCANCEL_ONE) {
        co_job *c = &co->active[d.index];
        qcancel_job j = jobs[d.index];
        if (!c->running && c->job) {
            cancel_waiting(co, c, r.by_user); /* c is gone from here on */
            qcancel_done_text(&j, r.by_user, true, text, sizeof text);
            comfy_rest_edit_original(co->cfg.rest, &m->reply, reply_edit_text_json(text, true),
                                     true);
            show_positions(co); /* the jobs behind it moved up */
        } else {
            /* running: its worker takes the prompt off its server and ends the job; the asker
             * is answered when the done message says how it ended (on_done) */
            LOG_INFO("comfy", "job %" PRIu64 ": cancel asked by user %" PRIu64 " while running",
                     c->id, r.by_user);
            c->cancelling = true;
            c->cancel_by = r.by_user;
            c->cancel_reply.application_id = m->reply.application_id;
            c->cancel_reply.interaction_id = m->reply.interaction_id;
            c->cancel_reply.token = m->reply.token;
            m->reply.token = NULL;
            if (!c->cancel) c->cancel = comfy_worker_cancel_new();
            comfy_worker_cancel_set(c->cancel, r.by_user);
        }
    } else if (d.kind == QCANCEL_CHOOSE) {
        qctl_choice items[QCANCEL_CHOICES_MAX];
        char ids[QCANCEL_CHOICES_MAX][101], labels[QCANCEL_CHOICES_MAX][8];
        unsigned n = 0;
        for (unsigned i = 0; i < d.nchoice && i < QCTL_CHOICES_MAX; i++) {
            const qcancel_job *j = &jobs[d.choice[i]];
            if (cres_custom_id(CRES_CANCEL, j->id, j->user_id, ids[n], sizeof ids[n]) != 0)
                continue;
            snprintf(labels[n], sizeof labels[n], "%u", i + 1);
            items[n] = (qctl_choice){.custom_id = ids[n], .label = labels[n]};
            n++;
        }
        qcancel_choice_text(jobs, &d, &r, text, sizeof text);
        comfy_rest_edit_original(co->cfg.rest, &m->reply, qctl_choice_json(text, items, n), true);
    } else {
        qcancel_refusal_text(&d, &r, text, sizeof text);
        comfy_rest_edit_original(co->cfg.rest, &m->reply, reply_edit_text_json(text, true), true);
    }
    free(jobs);
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

/* /queue clear: every job waiting in the line is cancelled (its message names who cleared
 * it); jobs a worker has go on. The answer says how many. */
static void queue_clear(comfy_coord *co, comfy_queue_msg *q)
{
    unsigned n = 0;
    for (unsigned i = 0; i < co->nactive;) {
        co_job *c = &co->active[i];
        if (c->running || !c->job) {
            i++;
            continue;
        }
        cancel_waiting(co, c, q->origin.user_id); /* removes active[i] */
        n++;
    }
    LOG_INFO("comfy", "/queue clear by user %" PRIu64 ": %u waiting job(s) cancelled",
             q->origin.user_id, n);
    char text[300];
    if (n == 0)
        snprintf(text, sizeof text, "No job was waiting: nothing was cancelled.");
    else
        snprintf(text, sizeof text,
                 "\xe2\x9c\x85 Cancelled %u waiting job%s. Jobs already running go on (their "
                 "Cancel button or /cancel stops them).",
                 n, n == 1 ? "" : "s");
    comfy_rest_edit_original(co->cfg.rest, &q->reply, reply_edit_text_json(text, true), true);
}

static void on_queue(comfy_coord *co, comfy_queue_msg *q)
{
    if (q->clear) {
        queue_clear(co, q);
        return;
    }
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
        if (c->enhancing) {
            APPEND("\xe2\x9c\xa8 waiting for prompt enhancement\n");
        } else if (!c->running) {
            APPEND("\xe2\x8f\xb3 waiting for a free runner (position %u)\n",
                   waiting_position(co, c->id));
        } else {
            comfy_worker_progress p;
            comfy_worker_progress_get(c->cancel, &p);
            if (p.phase == PROG_QUEUED && p.queue_position)
                APPEND("\xe2\x8f\xb3 position %u in the queue of %s\n", p.queue_position,
                       p.server >= 0 && (unsigned)p.server < co->cfg.srv->n
                           ? comfy_servers_label(co->cfg.srv, (unsigned)p.server)
                           : "ComfyUI");
            else if (p.phase == PROG_SAMPLING)
                APPEND("%s %u%%\n", phase_words(p.phase), p.percent);
            else
                APPEND("%s\n", phase_words(p.phase));
        }
    }
    if (!mine) APPEND("You have no jobs running or waiting.\n");
    unsigned up = comfy_servers_up_count(co->cfg.srv);
    APPEND("\nAll users: %u running, %u waiting \xc2\xb7 ComfyUI servers up: %u/%u", running,
           waiting, up, co->cfg.srv->n);
#undef APPEND
    /* the router deferred ephemerally: the answer replaces its "thinking" */
    comfy_rest_edit_original(co->cfg.rest, &q->reply, reply_edit_text_json(text, false), true);
}

/* The result's parameters into the results table, through the analytics writer (batched; the
 * coordinator never waits on SQLite), so its buttons work after a restart. */
static void record_persist(comfy_coord *co, const comfy_worker_done_msg *d)
{
    if (!co->cfg.analytics || !d->job) return;
    char *params = cjob_to_json(d->job);
    an_result_event e = {.job_id = d->job->id,
                         .user_id = d->job->origin.user_id,
                         .channel_id = d->job->origin.channel_id,
                         .params = params,
                         .view_url = d->view_url[0] ? d->view_url : NULL,
                         .success = d->success,
                         .is_image = d->is_image};
    an_record_result(co->cfg.analytics, &e);
    free(params);
}

static void record_store(comfy_coord *co, comfy_worker_done_msg *d)
{
    record_persist(co, d);
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

/* The answer to whoever asked to cancel a job that has now ended: cancelled (done), or ended
 * first (its result or failure went out instead). */
static void answer_canceller(comfy_coord *co, co_job *c, bool done)
{
    if (!c->cancelling || !c->cancel_reply.token) return;
    qcancel_job j = {.id = c->id,
                     .user_id = c->user_id,
                     .running = c->running,
                     .command = c->command,
                     .snippet = c->snippet};
    char text[400];
    qcancel_done_text(&j, c->cancel_by, done, text, sizeof text);
    comfy_rest_edit_original(co->cfg.rest, &c->cancel_reply, reply_edit_text_json(text, true),
                             true);
}

static void on_done(comfy_coord *co, comfy_worker_done_msg *d)
{
    co_job *c = co_find(co, d->job->id);
    char key[PG_LEASE_KEY_MAX] = "";
    if (d->cancelled) atomic_fetch_add(&co->n_cancelled, 1);
    if (c) {
        answer_canceller(co, c, d->cancelled);
        snprintf(key, sizeof key, "%s", c->key);
        if (c->counted) limits_finish(co, c->user_id);
        co_remove(co, c->id);
    }
    co->idle_workers++;
    atomic_fetch_sub(&co->n_running, 1);
    if (d->silent) {
        /* another process answers for it (fenced), or will (handed back: the row stays and the
         * keeper releases it when it stops) */
        if (!d->handed_back && key[0]) job_keeper_finish(co->cfg.keeper, key);
        rt_actor_release(co->self);
        if (!co->stopping) dispatch(co);
        return;
    }
    if (d->success && d->duration_ms) {
        co->avg_job_ms =
            co->avg_job_ms ? (co->avg_job_ms * 7 + d->duration_ms) / 8 : d->duration_ms;
    }
    record_store(co, d);
    if (d->final) {
        comfy_deliver_start(co->dlv, &d->out, d->final);
        d->final = NULL;
    } else {
        comfy_outcome_record(co->cfg.analytics, &d->out, false);
        if (key[0]) job_keeper_finish(co->cfg.keeper, key);
    }
    rt_actor_release(co->self);
    if (!co->stopping) dispatch(co);
}

static void on_rest_res(comfy_coord *co, rest_res_msg *res)
{
    if (res->cookie & COMFY_DELIVER_COOKIE_BIT)
        comfy_deliver_on_result(co->dlv, res);
    else if (res->cookie & COMFY_DELETE_COOKIE_BIT)
        on_delete_res(co, res);
}

static void on_tick(comfy_coord *co)
{
    uint64_t now = rt_now_ms();
    /* Leases of held jobs: renewed at a third of their length, so two missed ticks never let
     * a live process's jobs stop counting. */
    if (co->quota && now - co->quota_renewed_ms >= QUOTA_LEASE_MS / 3 && quota_usable(co)) {
        char err[256];
        if (pg_quota_renew(co->quota, err, sizeof err) == 0)
            co->quota_renewed_ms = now;
        else
            quota_trouble(co, "lease renewal", err);
    }
    if (!co->stopping) {
        dispatch(co);
        show_positions(co); /* edits held back by the progress interval, priority changes */
    }
    if (co->stopping) {
        /* results still on their way to Discord get the stop grace, then are given up */
        if (now >= co->stop_deadline_ms) comfy_deliver_abandon(co->dlv);
        if (!comfy_deliver_pending(co->dlv) && co->timer_id) {
            rt_timer_cancel(co->sys, co->timer_id);
            co->timer_id = 0;
        }
    }
}

static void coord_on_message(rt_actor *self, void *state, rt_msg *m)
{
    (void)self;
    comfy_coord *co = state;
    FB_ASSERT_OWNER(&co->owner);
    co->pos_dirty = true; /* a /priority may have changed the order since the last message */
    switch (m->type) {
    case MSG_COMFY_START:
        on_start(co, (comfy_start_msg *)m);
        break;
    case MSG_COMFY_BUTTON:
        on_button(co, (comfy_button_msg *)m);
        break;
    case MSG_COMFY_QUEUE:
        on_queue(co, (comfy_queue_msg *)m);
        break;
    case MSG_COMFY_LOOKUP:
        on_lookup(co, (const comfy_lookup_msg *)m);
        break;
    case MSG_COMFY_CANCEL:
        on_cancel(co, (comfy_cancel_msg *)m);
        break;
    case MSG_COMFY_WORKER_DONE:
        on_done(co, (comfy_worker_done_msg *)m);
        break;
    case MSG_COMFY_EVENTS_LINK:
        if (!co->stopping) dispatch(co);
        break;
    case MSG_REST_RES:
        on_rest_res(co, (rest_res_msg *)m);
        break;
    case MSG_JOB_KEEPER_TAKEOVER:
        on_takeover(co, (job_keeper_takeover_msg *)m);
        break;
    case MSG_LLM_ENHANCE_RES:
        on_enhanced(co, (llm_enhance_res_msg *)m);
        break;
    case RT_MSG_TIMER:
        on_tick(co);
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
    comfy_coord *co = state;
    FB_OWNER_CLAIM(&co->owner);
    char err[256];
    co->ws = comfy_ws_start(&co->cfg.ws, err, sizeof err);
    if (!co->ws) {
        LOG_ERROR("comfy", "%s", err);
        return -1;
    }
    co->timer_id = rt_timer_start(self, 250, 250, 0);
    return 0;
}

static void coord_stop_requested(rt_actor *self, void *state)
{
    comfy_coord *co = state;
    FB_ASSERT_OWNER(&co->owner);
    co->stopping = true;
    co->stop_deadline_ms = rt_now_ms() + co->cfg.stop_grace_ms;
    comfy_worker_stop(co->cfg.workers, co->stop_deadline_ms);
    comfy_deliver_stop(co->dlv, co->stop_deadline_ms);
    /* the tick keeps running while results are being delivered (see on_tick) */
    if (co->timer_id && !comfy_deliver_pending(co->dlv)) {
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
        if (c->job && c->key[0]) {
            /* leased: left to another process (the keeper releases the row at its exit), which
             * runs it as a job taken over */
            LOG_INFO("comfy", "job %" PRIu64 " handed back (not started before the stop)", c->id);
        } else if (c->job) {
            comfy_rest_edit_original(
                co->cfg.rest, &c->job->reply,
                reply_edit_text_json("\xe2\x8f\xb9\xef\xb8\x8f The bot is restarting, so this job "
                                     "was not started. Please run the command again.",
                                     true),
                true);
            activity(co, c->user_id, c->guild_id, "job_failed", "{\"reason\":\"shutdown\"}");
        }
        if (c->counted) limits_finish(co, c->user_id);
        atomic_fetch_sub(&co->n_waiting, 1);
        co_remove(co, c->id);
    }
    unsigned running = 0;
    for (unsigned i = 0; i < co->nactive; i++)
        running += co->active[i].running;
    if (running)
        LOG_INFO("comfy", "stopping: waiting up to %" PRIu64 " ms for %u running job(s)",
                 co->cfg.stop_grace_ms, running);
}

/* ---- lifetime ------------------------------------------------------------------------------ */

/* With a postgresql:// db_url: the limits shared by every process of the bot (pg_quota.h). */
static int quota_open(comfy_coord *co, char *err, size_t errlen)
{
    const comfy_coord_config *c = &co->cfg;
    if (!c->db_url || !pg_is_url(c->db_url)) return 0;
    char host[64] = "host";
    gethostname(host, sizeof host - 1);
    snprintf(co->quota_owner, sizeof co->quota_owner, "%.60s:%ld:%016" PRIx64, host, (long)getpid(),
             util_rand_u64());
    pg_quota_cfg qc = {.url = c->db_url,
                       .owner = co->quota_owner,
                       .user_max_active = c->user_max_active,
                       .user_max_per_hour = c->user_max_per_hour,
                       .max_total = c->max_total,
                       .lease_ms = QUOTA_LEASE_MS};
    co->quota = pg_quota_new(&qc);
    if (!co->quota) {
        snprintf(err, errlen, "comfy: db_url is not a usable postgresql:// URL");
        return -1;
    }
    return 0;
}

comfy_coord *comfy_coord_new(rt_system *sys, const comfy_coord_config *c, char *err, size_t errlen)
{
    comfy_coord *co = calloc(1, sizeof *co);
    if (!co) abort();
    co->cfg = *c;
    co->sys = sys;
    snprintf(co->results_db, sizeof co->results_db, "%s", c->results_db ? c->results_db : "");
    co->cfg.results_db = co->results_db;
    co->idle_workers = c->threads ? c->threads : 1;
    co->lim = lim_new(c->user_max_active, c->user_max_per_hour, c->max_total);
    co->sched = qsched_new();
    int qrc = quota_open(co, err, errlen);
    co->cfg.db_url = NULL; /* read by quota_open only: the caller's string need not outlive it */
    if (qrc != 0) {
        comfy_coord_free(co);
        return NULL;
    }
    rt_actor_spec spec = {.name = COMFY_COORD_ACTOR_NAME,
                          .threads = 1,
                          .lane_capacity = c->lane_capacity ? c->lane_capacity : 1024,
                          .state = co,
                          .ops = {.on_thread_start = coord_thread_start,
                                  .on_message = coord_on_message,
                                  .on_stop_requested = coord_stop_requested}};
    co->self = rt_actor_new(sys, &spec);
    if (!co->self) {
        snprintf(err, errlen, "comfy: cannot create the actors");
        comfy_coord_free(co);
        return NULL;
    }
    comfy_deliver_config dc = {.self = co->self,
                               .rest = c->rest,
                               .analytics = c->analytics,
                               .token_valid_ms = c->token_valid_ms,
                               .keeper = c->keeper};
    co->dlv = comfy_deliver_new(&dc);
    return co;
}

rt_actor *comfy_coord_actor(comfy_coord *co)
{
    return co ? co->self : NULL;
}

void comfy_coord_counters_get(comfy_coord *co, comfy_coord_counters *out)
{
    *out = (comfy_coord_counters){.admitted = atomic_load(&co->n_admitted),
                                  .refused = atomic_load(&co->n_refused),
                                  .failed = atomic_load(&co->n_failed),
                                  .waiting = atomic_load(&co->n_waiting),
                                  .running = atomic_load(&co->n_running),
                                  .cancelled = atomic_load(&co->n_cancelled)};
}

void comfy_coord_free(comfy_coord *co)
{
    if (!co) return;
    comfy_ws_stop(co->ws);
    co->ws = NULL;
    for (unsigned i = 0; i < co->nactive; i++)
        co_job_release(&co->active[i]);
    free(co->active);
    for (unsigned i = 0; i < RECORDS_MAX; i++)
        cjob_free(co->recs[i].params);
    an_view_close(co->results);
    lim_free(co->lim);
    qsched_free(co->sched);
    pg_quota_free(co->quota);
    comfy_deliver_free(co->dlv);
    free(co);
}
