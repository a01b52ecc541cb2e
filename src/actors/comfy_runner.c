/*
 * The runner's coordinator actor ("comfy") and the runner's lifetime: loading the catalogue,
 * creating the worker pool and the coordinator, the websockets, server bookkeeping, REST helpers.
 * The coordinator never blocks: admission (limits), the waiting line, dispatch to idle workers,
 * /queue answers, result buttons, and the stop sequence. See comfy_runner.h for the shape.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "analytics/an_record.h"
#include "actors/comfy_runner_http.h"
#include "actors/comfy_runner_internal.h"
#include "analytics/an_results.h"
#include "discord/message_ref.h"
#include "comfy/limits.h"
#include "comfy/result.h"
#include "util/util_utf8.h"
#include "fluxbot/log.h"
#include "moderation/mod_state.h"
#include "msgs/comfy_msgs.h"

#define RECORDS_MAX 1024

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
    cjob_free(((comfy_done_msg *)m)->job);
}

comfy_done_msg *comfy_done_msg_new(comfy_job *job)
{
    comfy_done_msg *m = RT_MSG_NEW(comfy_done_msg, MSG_COMFY_DONE, done_dtor);
    m->job = job;
    return m;
}

void comfy_path_original(const comfy_reply_ref *ref, char *out, size_t outlen)
{
    snprintf(out, outlen, "/webhooks/%" PRIu64 "/%s/messages/@original", ref->application_id,
             ref->token ? ref->token : "");
}

static void path_callback(const comfy_reply_ref *ref, char *out, size_t outlen)
{
    snprintf(out, outlen, "/interactions/%" PRIu64 "/%s/callback", ref->interaction_id,
             ref->token ? ref->token : "");
}

static void path_followup(const comfy_reply_ref *ref, char *out, size_t outlen)
{
    snprintf(out, outlen, "/webhooks/%" PRIu64 "/%s", ref->application_id,
             ref->token ? ref->token : "");
}

rest_req_msg *comfy_rest_new(rest_method m, const char *path, const char *json)
{
    return rest_req_msg_new(m, path, json);
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
    char path[600];
    comfy_path_original(ref, path, sizeof path);
    rest_req_msg *m = rest_req_msg_new(REST_PATCH, path, NULL);
    m->json = json_owned;
    comfy_rest_send(r, m, must_deliver);
}

/* ---- servers ------------------------------------------------------------------------------- */

int comfy_srv_acquire(comfy_runner *r, int exclude, bool allow_excluded)
{
    pthread_mutex_lock(&r->srv_mu);
    spick_server tmp[CFG_MAX_LIST];
    for (unsigned i = 0; i < r->nservers; i++)
        tmp[i] = r->servers[i].pick;
    int s = spick_choose(tmp, r->nservers, exclude, allow_excluded, r->rotate++);
    if (s >= 0) r->servers[s].pick.assigned++;
    pthread_mutex_unlock(&r->srv_mu);
    return s;
}

void comfy_srv_submitted(comfy_runner *r, unsigned s, int delta)
{
    pthread_mutex_lock(&r->srv_mu);
    spick_server *p = &r->servers[s].pick;
    if (delta > 0)
        p->submitted++;
    else if (p->submitted > 0)
        p->submitted--;
    pthread_mutex_unlock(&r->srv_mu);
}

void comfy_srv_release(comfy_runner *r, unsigned s)
{
    pthread_mutex_lock(&r->srv_mu);
    if (r->servers[s].pick.assigned > 0) r->servers[s].pick.assigned--;
    pthread_mutex_unlock(&r->srv_mu);
}

bool comfy_srv_up(comfy_runner *r, unsigned s)
{
    pthread_mutex_lock(&r->srv_mu);
    bool up = r->servers[s].pick.up;
    pthread_mutex_unlock(&r->srv_mu);
    return up;
}

/* ---- coordinator state ------------------------------------------------------------------- */

typedef struct co_job {
    uint64_t id, user_id, guild_id;
    comfy_kind kind;
    char snippet[80];
    comfy_job *job;    /* owned while waiting; NULL once a worker has it */
    bool awaiting_ack; /* button jobs: the interaction callback is not confirmed yet */
    bool running;
    prog_phase phase;
    unsigned position, percent;
    int server;
    uint64_t last_edit_ms;
} co_job;

typedef struct co_record {
    uint64_t id;
    comfy_job *params; /* owned */
    bool success, is_image;
    char view_url[1800];
} co_record;

typedef enum pa_kind {
    PA_EPHEMERAL_AFTER_DELETE = 1, /* a late refusal: original deleted, now the ephemeral text */
    PA_START_AFTER_ACK,            /* a button job: callback type 5 confirmed, now queue it */
    PA_DELETE_AFTER_ACK,           /* Delete: callback type 6 confirmed, now delete */
} pa_kind;

typedef struct co_pending {
    bool used;
    uint64_t cookie;
    pa_kind kind;
    uint64_t job_id;
    comfy_reply_ref ref;             /* token owned */
    char *text;                      /* owned */
    uint64_t channel_id, message_id; /* Delete: the result message */
    uint64_t expires_ms;
} co_pending;

struct comfy_coord {
    co_job *active;
    unsigned nactive, cap_active;
    unsigned idle_workers;
    lim_table *lim;
    co_record recs[RECORDS_MAX];
    unsigned rec_next;
    co_pending *pend;
    unsigned pend_cap;
    uint64_t next_cookie;
    uint64_t avg_job_ms;
    uint64_t timer_id;
    an_results *results; /* stored results, opened on first need (coordinator thread only) */
    bool results_failed; /* logged once */
};

static void ref_copy(comfy_reply_ref *dst, const comfy_reply_ref *src)
{
    dst->application_id = src->application_id;
    dst->interaction_id = src->interaction_id;
    size_t n = src->token ? strlen(src->token) : 0;
    dst->token = malloc(n + 1);
    if (!dst->token) abort();
    memcpy(dst->token, src->token ? src->token : "", n + 1);
}

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
    char *snip = util_utf8_clip(job->user_prompt && *job->user_prompt ? job->user_prompt : "", 40);
    snprintf(c->snippet, sizeof c->snippet, "%s", snip);
    free(snip);
    c->job = job;
    c->server = -1;
    c->phase = PROG_QUEUED;
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

static co_pending *pend_add(comfy_coord *co, pa_kind kind, const comfy_reply_ref *ref,
                            const char *text, uint64_t job_id)
{
    co_pending *p = NULL;
    for (unsigned i = 0; i < co->pend_cap && !p; i++)
        if (!co->pend[i].used) p = &co->pend[i];
    if (!p) {
        unsigned nc = co->pend_cap ? co->pend_cap * 2 : 16;
        co->pend = realloc(co->pend, nc * sizeof *co->pend);
        if (!co->pend) abort();
        memset(co->pend + co->pend_cap, 0, (nc - co->pend_cap) * sizeof *co->pend);
        p = &co->pend[co->pend_cap];
        co->pend_cap = nc;
    }
    memset(p, 0, sizeof *p);
    p->used = true;
    p->cookie = ++co->next_cookie;
    p->kind = kind;
    p->job_id = job_id;
    ref_copy(&p->ref, ref);
    if (text) {
        p->text = malloc(strlen(text) + 1);
        if (!p->text) abort();
        strcpy(p->text, text);
    }
    p->expires_ms = rt_now_ms() + 60000;
    return p;
}

static void pend_clear(co_pending *p)
{
    free(p->ref.token);
    free(p->text);
    memset(p, 0, sizeof *p);
}

static void send_callback(comfy_runner *r, const comfy_reply_ref *ref, int type,
                          const char *content, bool ephemeral, uint64_t cookie)
{
    char path[600];
    path_callback(ref, path, sizeof path);
    char *json = cres_callback_payload(type, content, ephemeral);
    rest_req_msg *m = rest_req_msg_new(REST_POST, path, NULL);
    m->json = json;
    if (cookie) {
        m->reply_to = r->coord;
        m->cookie = cookie;
    }
    comfy_rest_send(r, m, true);
}

/* The interaction's command_usage row gets its real outcome (the router recorded it as a
 * success when the defer or hand-over went through). */
static void outcome(comfy_runner *r, const comfy_reply_ref *ref, bool ok)
{
    if (r->analytics) an_record_outcome(r->analytics, ref->interaction_id, ok);
}

/* A button press refused with an ephemeral message: a failed interaction. */
static void refuse_button(comfy_runner *r, const comfy_reply_ref *ref, const char *text)
{
    send_callback(r, ref, 4, text, true, 0);
    outcome(r, ref, false);
}

/* A refusal after the router deferred a public "thinking" message: delete it, then answer with
 * an ephemeral follow-up (sequenced through the REST reply, since the two routes run apart). */
static void reject_late(comfy_runner *r, const comfy_reply_ref *ref, const char *text)
{
    comfy_coord *co = r->co;
    outcome(r, ref, false);
    co_pending *p = pend_add(co, PA_EPHEMERAL_AFTER_DELETE, ref, text, 0);
    char path[600];
    comfy_path_original(ref, path, sizeof path);
    rest_req_msg *m = rest_req_msg_new(REST_DELETE, path, NULL);
    m->reply_to = r->coord;
    m->cookie = p->cookie;
    if (comfy_rest_send(r, m, true) != 0) pend_clear(p);
}

static void post_ephemeral_followup(comfy_runner *r, const comfy_reply_ref *ref, const char *text)
{
    char path[600];
    path_followup(ref, path, sizeof path);
    rest_req_msg *m = rest_req_msg_new(REST_POST, path, NULL);
    m->json = cres_followup_payload(text, true);
    comfy_rest_send(r, m, true);
}

static unsigned waiting_position(comfy_coord *co, uint64_t id)
{
    unsigned pos = 0;
    for (unsigned i = 0; i < co->nactive; i++) {
        co_job *c = &co->active[i];
        if (c->running || c->awaiting_ack) continue;
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
    p.queue_position = waiting_position(r->co, c->id) + r->threads;
    p.avg_job_ms = r->co->avg_job_ms ? r->co->avg_job_ms / (r->threads ? r->threads : 1) : 0;
    char text[300];
    prog_text(&p, c->kind == COMFY_KIND_VIDEO ? "video" : "image", now, text, sizeof text);
    comfy_rest_edit_original(r, &c->job->reply, cres_content_payload(text, false), false);
    c->last_edit_ms = now;
}

static void dispatch(comfy_runner *r)
{
    comfy_coord *co = r->co;
    bool moved = false;
    for (unsigned i = 0; i < co->nactive && co->idle_workers > 0; i++) {
        co_job *c = &co->active[i];
        if (c->running || c->awaiting_ack || !c->job) continue;
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
            if (!c->running && !c->awaiting_ack && c->job) edit_waiting(r, c, false);
        }
    }
}

/* Admission of a built job; returns false (and answers) when refused. */
static bool admit(comfy_runner *r, comfy_job *job, bool from_button)
{
    comfy_coord *co = r->co;
    uint64_t retry = 0;
    lim_verdict v = lim_admit(co->lim, job->origin.user_id, rt_wall_ms(), &retry);
    if (v != LIM_OK) {
        char text[300];
        lim_explain(v, co->lim, retry, text, sizeof text);
        if (from_button)
            refuse_button(r, &job->reply, text);
        else
            reject_late(r, &job->reply, text);
        atomic_fetch_add(&r->n_refused, 1);
        cjob_free(job);
        return false;
    }
    atomic_fetch_add(&r->n_admitted, 1);
    atomic_fetch_add(&r->n_waiting, 1);
    char details[160];
    snprintf(details, sizeof details, "{\"job\":%" PRIu64 ",\"kind\":\"%s\"}", job->id,
             comfy_kind_name(job->kind));
    activity(r, job->origin.user_id, job->origin.guild_id, "job_queued", details);
    co_job *c = co_add(co, job);
    if (from_button) {
        c->awaiting_ack = true;
        co_pending *p = pend_add(co, PA_START_AFTER_ACK, &job->reply, NULL, job->id);
        send_callback(r, &job->reply, 5, NULL, false, p->cookie);
    }
    return true;
}

static void on_job(comfy_runner *r, comfy_job_msg *m)
{
    char err[512];
    if (atomic_load(&r->stopping)) {
        reject_late(r, &m->reply,
                    "\xe2\x8f\xb9\xef\xb8\x8f The bot is shutting down; please try "
                    "again in a minute.");
        return;
    }
    comfy_job *job = cjob_from_msg(m, &r->cat, comfy_new_job_id(r), random_u64(), err, sizeof err);
    if (!job) {
        atomic_fetch_add(&r->n_refused, 1);
        reject_late(r, &m->reply, err);
        return;
    }
    if (!job->received_wall_ms) job->received_wall_ms = rt_wall_ms();
    uint64_t id = job->id;
    if (!admit(r, job, false)) return;
    dispatch(r);
    co_job *c = co_find(r->co, id);
    if (c && c->job) edit_waiting(r, c, true); /* could not start at once: say where it waits */
}

static co_record *record_find(comfy_coord *co, uint64_t id)
{
    for (unsigned i = 0; i < RECORDS_MAX; i++)
        if (co->recs[i].params && co->recs[i].id == id) return &co->recs[i];
    return NULL;
}

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
    cres_action act;
    uint64_t job_id, owner;
    if (cres_parse_custom_id(b->custom_id, &act, &job_id, &owner) != 0) {
        refuse_button(r, &b->reply, "This button is not one of this bot's buttons.");
        return;
    }
    if (act == CRES_DELETE) {
        if (!cres_may_delete(b->origin.user_id, owner, b->origin.permissions)) {
            refuse_button(r, &b->reply,
                          "\xf0\x9f\x9a\xab Only the person who asked for this result, or a "
                          "member with Manage Messages, can delete it.");
            return;
        }
        co_pending *p = pend_add(co, PA_DELETE_AFTER_ACK, &b->reply, NULL, job_id);
        p->channel_id = b->origin.channel_id;
        p->message_id = b->message_id;
        send_callback(r, &b->reply, 6, NULL, false, p->cookie);
        activity(r, b->origin.user_id, b->origin.guild_id, "result_deleted", NULL);
        return;
    }
    co_record *rec = record_find(co, job_id);
    co_record stored = {0};
    if (!rec) {
        /* Not among the recent results in memory: the stored ones (a restart, or older). */
        int found = record_load(r, job_id, &stored);
        if (found <= 0) {
            uint64_t made_ms = job_id >> 16; /* job ids are wall-clock based */
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
            refuse_button(r, &b->reply, text);
            return;
        }
        rec = &stored;
    }
    if (atomic_load(&r->stopping)) {
        refuse_button(r, &b->reply,
                      "\xe2\x8f\xb9\xef\xb8\x8f The bot is shutting down; please try again in a "
                      "minute.");
        cjob_free(stored.params);
        return;
    }
    comfy_job *job;
    if (act == CRES_REGENERATE) {
        /* Rules may have changed since the result was made: no GPU time for a prompt the
         * filter refuses now (not counted as a violation: it passed when it was typed). */
        const char *p = rec->params->user_prompt ? rec->params->user_prompt : "";
        mod_hit hit;
        if (r->rc.mod && *p && mod_state_check(r->rc.mod, p, strlen(p), &hit) != MOD_CHECK_OK) {
            send_callback(r, &b->reply, 4,
                          "\xf0\x9f\x9a\xab This prompt is no longer allowed by the server's "
                          "content filter, so it cannot be regenerated.",
                          true, 0);
            return;
        }
        job = cjob_clone(rec->params, comfy_new_job_id(r), &b->reply, &b->origin);
        job->seed = random_u64() & CJOB_MAX_SEED;
    } else {
        /* A stored result: the image on the clicked message is the freshest copy (ComfyUI's
         * may be gone since), then the stored ones. */
        const char *url = rec == &stored && b->image_url && b->image_url[0] ? b->image_url
                          : rec->view_url[0]                                ? rec->view_url
                                                                            : b->image_url;
        if (!r->wf.kinds[WF_UPSCALE] || !rec->success || !rec->is_image || !url || !*url) {
            refuse_button(r, &b->reply,
                          !r->wf.kinds[WF_UPSCALE] ? "Upscaling is not set up on this bot."
                                                   : "This result cannot be upscaled.");
            cjob_free(stored.params);
            return;
        }
        job = cjob_new_upscale(rec->params, comfy_new_job_id(r), 2, url, &b->reply, &b->origin);
    }
    cjob_free(stored.params);
    job->received_wall_ms = rt_wall_ms();
    admit(r, job, true);
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
        APPEND("%u. `/%s` %s%s%s \xe2\x80\x94 ", mine, comfy_kind_name(c->kind),
               c->snippet[0] ? "\"" : "", c->snippet, c->snippet[0] ? "\"" : "");
        if (!c->running) {
            APPEND("\xe2\x8f\xb3 waiting for a free runner (position %u)\n",
                   waiting_position(co, c->id));
        } else if (c->phase == PROG_QUEUED && c->position) {
            APPEND("\xe2\x8f\xb3 position %u in the queue of %s\n", c->position,
                   c->server >= 0 ? r->servers[c->server].label : "ComfyUI");
        } else if (c->phase == PROG_SAMPLING) {
            APPEND("%s %u%%\n", phase_words(c->phase), c->percent);
        } else {
            APPEND("%s\n", phase_words(c->phase));
        }
    }
    if (!mine) APPEND("You have no jobs running or waiting.\n");
    unsigned up = 0;
    pthread_mutex_lock(&r->srv_mu);
    for (unsigned i = 0; i < r->nservers; i++)
        up += r->servers[i].pick.up;
    pthread_mutex_unlock(&r->srv_mu);
    APPEND("\nAll users: %u running, %u waiting \xc2\xb7 ComfyUI servers up: %u/%u", running,
           waiting, up, r->nservers);
#undef APPEND
    send_callback(r, &q->reply, 4, text, true, 0);
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
        lim_finish(co->lim, c->user_id);
        co_remove(co, c->id);
    }
    co->idle_workers++;
    atomic_fetch_sub(&r->n_running, 1);
    if (d->success && d->duration_ms) {
        co->avg_job_ms =
            co->avg_job_ms ? (co->avg_job_ms * 7 + d->duration_ms) / 8 : d->duration_ms;
    }
    record_store(r, d);
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
    comfy_coord *co = r->co;
    bool ok = res->status >= 200 && res->status < 300;
    if (res->cookie & COMFY_FINAL_COOKIE_BIT) {
        uint64_t job_id = res->cookie & ~COMFY_FINAL_COOKIE_BIT;
        if (ok) {
            /* Delivered: the message that shows it, for the stored result. */
            dmsg_ref ref;
            if (r->analytics && dmsg_parse_ref(res->body, res->body_len, &ref)) {
                an_result_msg_event e = {.job_id = job_id,
                                         .channel_id = ref.channel_id,
                                         .message_id = ref.message_id,
                                         .attachment_url =
                                             ref.attachment_url[0] ? ref.attachment_url : NULL};
                an_record_result_msg(r->analytics, &e);
            }
            return;
        }
        LOG_WARN("comfy", "job %" PRIu64 ": posting the result failed (HTTP %d%s%s)", job_id,
                 res->status, res->error[0] ? ": " : "", res->error);
        co_record *rec = record_find(co, job_id);
        if (rec && res->status != 0) {
            char text[300];
            snprintf(text, sizeof text,
                     "\xe2\x9d\x8c The result could not be posted to Discord (HTTP %d%s).",
                     res->status, res->status == 413 ? ": the file is too large" : "");
            comfy_rest_edit_original(r, &rec->params->reply, cres_content_payload(text, true),
                                     true);
        }
        return;
    }
    co_pending *p = NULL;
    for (unsigned i = 0; i < co->pend_cap && !p; i++)
        if (co->pend[i].used && co->pend[i].cookie == res->cookie) p = &co->pend[i];
    if (!p) return;
    switch (p->kind) {
    case PA_EPHEMERAL_AFTER_DELETE:
        post_ephemeral_followup(r, &p->ref, p->text);
        break;
    case PA_DELETE_AFTER_ACK:
        if (ok) {
            /* the bot authored the result, so it may delete it by id; without the ids, the
             * click's @original (the component's message after a type-6 ack) */
            char path[600];
            if (p->channel_id && p->message_id)
                snprintf(path, sizeof path, "/channels/%" PRIu64 "/messages/%" PRIu64,
                         p->channel_id, p->message_id);
            else
                comfy_path_original(&p->ref, path, sizeof path);
            comfy_rest_send(r, rest_req_msg_new(REST_DELETE, path, NULL), true);
        }
        break;
    case PA_START_AFTER_ACK: {
        co_job *c = co_find(co, p->job_id);
        if (c && ok) {
            c->awaiting_ack = false;
            dispatch(r);
            if (c->job) edit_waiting(r, c, true);
        } else if (c) {
            LOG_WARN("comfy",
                     "job %" PRIu64 ": the button's interaction could not be answered "
                     "(HTTP %d); dropped",
                     p->job_id, res->status);
            lim_finish(co->lim, c->user_id);
            co_remove(co, c->id);
            atomic_fetch_sub(&r->n_waiting, 1);
        }
        break;
    }
    }
    pend_clear(p);
}

static void on_tick(comfy_runner *r)
{
    comfy_coord *co = r->co;
    uint64_t now = rt_now_ms();
    for (unsigned i = 0; i < co->pend_cap; i++) {
        co_pending *p = &co->pend[i];
        if (!p->used || now < p->expires_ms) continue;
        if (p->kind == PA_START_AFTER_ACK) {
            co_job *c = co_find(co, p->job_id);
            if (c) {
                lim_finish(co->lim, c->user_id);
                co_remove(co, c->id);
                atomic_fetch_sub(&r->n_waiting, 1);
            }
        }
        pend_clear(p);
    }
}

static void coord_on_message(rt_actor *self, void *state, rt_msg *m)
{
    (void)self;
    comfy_runner *r = state;
    switch (m->type) {
    case MSG_COMFY_JOB:
        on_job(r, (comfy_job_msg *)m);
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
    for (unsigned i = 0; i < r->nservers; i++)
        urls[i] = r->servers[i].url;
    comfy_ws_opts o = {.urls = urls,
                       .n = r->nservers,
                       .client_id = r->client_id,
                       .on_event = comfy_ev_on_event,
                       .on_link = comfy_ev_on_link,
                       .ctx = r,
                       .ping_secs = r->rc.ws_ping_secs};
    char err[256];
    r->ws = comfy_ws_start(&o, err, sizeof err);
    if (!r->ws) {
        LOG_ERROR("comfy", "%s", err);
        return -1;
    }
    r->co->timer_id = rt_timer_start(self, 1000, 1000, 0);
    return 0;
}

static void coord_stop_requested(rt_actor *self, void *state)
{
    comfy_runner *r = state;
    comfy_coord *co = r->co;
    atomic_store(&r->stopping, true);
    atomic_store(&r->stop_deadline_ms, rt_now_ms() + r->stop_grace_ms);
    if (co->timer_id) rt_timer_cancel(rt_actor_system(self), co->timer_id);
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
                cres_content_payload("\xe2\x8f\xb9\xef\xb8\x8f The bot is restarting, so this job "
                                     "was not started. Please run the command again.",
                                     true),
                true);
            activity(r, c->user_id, c->guild_id, "job_failed", "{\"reason\":\"shutdown\"}");
        }
        lim_finish(co->lim, c->user_id);
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
    pthread_mutex_init(&r->srv_mu, NULL);
    pthread_mutex_init(&r->reg_mu, NULL);
    pthread_mutex_init(&r->id_mu, NULL);
    pthread_mutex_init(&r->swap_mu, NULL);
    if (ratios_load_file(&r->ratios, cfg->ratios_file, err, errlen) ||
        loras_load_file(&r->loras, cfg->loras_file, err, errlen) ||
        wf_set_load(&r->wf, cfg->workflows_dir, err, errlen)) {
        comfy_runner_free(r);
        return NULL;
    }
    r->cat.ratios = &r->ratios;
    r->cat.loras = &r->loras;
    r->cat.workflows = &r->wf;
    r->cat.max_attachment_bytes = (uint64_t)cfg->max_attachment_bytes;
    r->max_attachment = (uint64_t)cfg->max_attachment_bytes;
    r->progress_ms = (uint64_t)cfg->progress_interval_ms;
    r->stall_ms = (uint64_t)cfg->job_stall_timeout_ms;
    r->threads = cfg->runner_threads > 0 ? (unsigned)cfg->runner_threads : 1;
    snprintf(r->results_db, sizeof r->results_db, "%s", rc->analytics ? cfg->db_path : "");
    r->result_retention_ms = (uint64_t)cfg->result_retention_days * 86400000ULL;
    r->http_timeout_ms = rc->http_timeout_ms ? rc->http_timeout_ms : 30000;
    r->stop_grace_ms = rc->stop_grace_ms ? rc->stop_grace_ms : 30000;
    r->no_server_wait_ms = rc->no_server_wait_ms ? rc->no_server_wait_ms : 30000;
    r->reconcile_poll_ms = rc->reconcile_poll_ms ? rc->reconcile_poll_ms : 1000;
    r->queue_poll_ms = rc->queue_poll_ms ? rc->queue_poll_ms : 3000;
    r->nservers = cfg->comfyui_urls.count;
    r->servers = calloc(r->nservers, sizeof *r->servers);
    if (!r->servers) abort();
    for (unsigned i = 0; i < r->nservers; i++) {
        comfy_server *s = &r->servers[i];
        snprintf(s->url, sizeof s->url, "%s", cfg->comfyui_urls.items[i]);
        size_t l = strlen(s->url);
        while (l > 0 && s->url[l - 1] == '/')
            s->url[--l] = '\0';
        char host[256], prefix[256];
        int port;
        bool tls;
        if (cproto_parse_base_url(s->url, host, sizeof host, &port, &tls, prefix, sizeof prefix)) {
            snprintf(err, errlen, "comfy: COMFYUI_URLS entry %u \"%s\" is not an http(s) URL",
                     i + 1, s->url);
            comfy_runner_free(r);
            return NULL;
        }
        snprintf(s->label, sizeof s->label, "server %u", i + 1);
        spick_init(&s->pick);
    }
    if (dlpol_init(&r->dl_policy, &cfg->attachment_hosts, &cfg->comfyui_urls, err, errlen) != 0) {
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
    r->orph_cap = 512;
    r->orph = calloc(r->orph_cap, sizeof *r->orph);
    if (!r->orph) abort();
    r->co = calloc(1, sizeof *r->co);
    if (!r->co) abort();
    r->co->idle_workers = r->threads;
    r->co->lim = lim_new((unsigned)cfg->user_max_concurrent_jobs,
                         (unsigned)cfg->user_max_jobs_per_hour, (unsigned)cfg->max_queued_jobs);
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
    if (!r->workers || !r->coord) {
        snprintf(err, errlen, "comfy: cannot create the actors");
        comfy_runner_free(r);
        return NULL;
    }
    LOG_INFO("comfy", "%u ComfyUI server(s), %u runner thread(s), %u resolution(s), %u LoRA(s)",
             r->nservers, r->threads, r->ratios.count, r->loras.count);
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
        for (unsigned i = 0; i < r->co->pend_cap; i++)
            if (r->co->pend[i].used) pend_clear(&r->co->pend[i]);
        free(r->co->pend);
        an_results_close(r->co->results);
        lim_free(r->co->lim);
        free(r->co);
    }
    free(r->reg);
    free(r->orph);
    free(r->servers);
    loras_free(&r->loras);
    for (unsigned i = 0; i < r->nswapped; i++) {
        loras_free(r->swapped_loras[i]);
        free(r->swapped_loras[i]);
        free(r->swapped_ratios[i]);
    }
    free(r->swapped_loras);
    free(r->swapped_ratios);
    pthread_mutex_destroy(&r->swap_mu);
    wf_set_free(&r->wf);
    pthread_mutex_destroy(&r->srv_mu);
    pthread_mutex_destroy(&r->reg_mu);
    pthread_mutex_destroy(&r->id_mu);
    free(r);
}

bool comfy_runner_server_get(comfy_runner *r, unsigned i, comfy_server_info *out)
{
    if (!r || i >= r->nservers) return false;
    memset(out, 0, sizeof *out);
    snprintf(out->url, sizeof out->url, "%.*s", (int)sizeof out->url - 1, r->servers[i].url);
    pthread_mutex_lock(&r->srv_mu);
    const spick_server *p = &r->servers[i].pick;
    out->up = p->up;
    out->jobs = p->assigned;
    out->queue_remaining = p->queue_remaining;
    out->failures = p->failures;
    pthread_mutex_unlock(&r->srv_mu);
    return true;
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
    out->events_routed = atomic_load(&r->n_routed);
    out->events_orphaned = atomic_load(&r->n_orphaned);
    out->events_claimed = atomic_load(&r->n_claimed);
    out->waiting = atomic_load(&r->n_waiting);
    out->running = atomic_load(&r->n_running);
    out->jobs_timed = atomic_load(&r->n_timed);
    out->job_run_ms_sum = atomic_load(&r->run_ms_sum);
    out->job_total_ms_sum = atomic_load(&r->total_ms_sum);
    out->servers = r->nservers;
    pthread_mutex_lock(&r->srv_mu);
    for (unsigned i = 0; i < r->nservers; i++)
        out->servers_up += r->servers[i].pick.up;
    pthread_mutex_unlock(&r->srv_mu);
}
