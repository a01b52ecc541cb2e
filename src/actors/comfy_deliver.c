/*
 * Delivery of a job's final message (coordinator thread only): the result or the failure is sent
 * as PATCH @original and retried with backoff for as long as the interaction token works (15 min
 * from the interaction, less a reserve for telling the user). When it cannot be delivered, the
 * user is told through a route that does not depend on the one that failed:
 *
 *   final edit ── ok ──────────────────────────────► record what the user got
 *        │ refused (4xx: too large, invalid)    ┌──► edit @original with a short notice ─┐
 *        │ 5xx / no answer until the deadline   │                                        │ fails
 *        └──────────────────────────────────────┴──► follow-up message (POST webhook) ◄──┘
 *                                                          │ fails
 *                                                          └──► message in the channel
 *
 * The analytics row (image_stats, job_finished / job_failed) is written once the final edit's
 * fate is known: a finished job whose result never reached the user is recorded as failed,
 * reason "not_delivered". Threads and the stop: see comfy_deliver.h.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analytics/an_record.h"
#include "actors/comfy_deliver.h"
#include "actors/comfy_rest.h"
#include "discord/message_ref.h"
#include "discord/reply.h"
#include "discord/reply_req.h"
#include "fluxbot/log.h"
#include "util/util_assert.h"

#define TOKEN_VALID_DEFAULT_MS (15ULL * 60 * 1000)
/* Of the token's life, this much is kept for the notice after a final edit gave up. */
#define NOTICE_RESERVE_MAX_MS 60000ULL
/* A channel message (bot token, no interaction deadline) is retried this long. */
#define CHANNEL_RETRY_MS 60000ULL

typedef enum dlv_stage {
    DLV_FINAL = 0,   /* the result or failure edit */
    DLV_NOTICE_EDIT, /* "could not be posted", as an edit of @original */
    DLV_FOLLOWUP,    /* the notice as a follow-up message */
    DLV_CHANNEL,     /* the notice as a channel message */
} dlv_stage;

typedef struct dlv {
    bool used;
    dlv_stage stage;
    comfy_outcome out;
    uint64_t expires_ms; /* rt_now_ms() time the interaction token stops working */
    char notice[800];
} dlv;

struct comfy_deliver {
    comfy_deliver_config cfg;
    dlv *v;
    unsigned cap, n;
    bool stopping;
    bool abandoning; /* the stop deadline passed: what is left is handed back, not finished */
    uint64_t stop_deadline_ms;
#ifdef FB_DEBUG
    util_owner owner; /* the coordinator's thread */
#endif
};

/* ---- the table -------------------------------------------------------------------------- */

comfy_deliver *comfy_deliver_new(const comfy_deliver_config *c)
{
    comfy_deliver *d = calloc(1, sizeof *d);
    if (!d) abort();
    d->cfg = *c;
    return d;
}

void comfy_deliver_free(comfy_deliver *d)
{
    if (!d) return;
    for (unsigned i = 0; i < d->cap; i++)
        if (d->v[i].used) comfy_outcome_clear(&d->v[i].out);
    free(d->v);
    free(d);
}

unsigned comfy_deliver_pending(const comfy_deliver *d)
{
    return d ? d->n : 0;
}

void comfy_deliver_stop(comfy_deliver *d, uint64_t deadline_ms)
{
    FB_ASSERT_OWNER(&d->owner);
    d->stopping = true;
    d->stop_deadline_ms = deadline_ms;
}

static dlv *dlv_find(comfy_deliver *d, uint64_t job_id)
{
    for (unsigned i = 0; i < d->cap; i++)
        if (d->v[i].used && d->v[i].out.job_id == job_id) return &d->v[i];
    return NULL;
}

static dlv *dlv_add(comfy_deliver *d)
{
    for (unsigned i = 0; i < d->cap; i++)
        if (!d->v[i].used) {
            d->n++;
            return &d->v[i];
        }
    unsigned nc = d->cap ? d->cap * 2 : 16;
    dlv *nv = realloc(d->v, nc * sizeof *nv);
    if (!nv) abort();
    memset(nv + d->cap, 0, (nc - d->cap) * sizeof *nv);
    d->v = nv;
    dlv *e = &d->v[d->cap];
    d->cap = nc;
    d->n++;
    return e;
}

static void dlv_done(comfy_deliver *d, dlv *e)
{
    /* The job is over for good: its lease row goes (job_keeper.h). Not when abandoned at a stop:
     * the row is then released to another process, which delivers it again. */
    char key[PG_LEASE_KEY_MAX];
    if (d->cfg.keeper && !d->abandoning && job_keeper_key(e->out.reply.interaction_id, key))
        job_keeper_finish(d->cfg.keeper, key);
    comfy_outcome_clear(&e->out);
    memset(e, 0, sizeof *e);
    d->n--;
    rt_actor_release(d->cfg.self);
}

uint64_t comfy_deliver_token_expiry_ms(const comfy_deliver *d, uint64_t received_wall_ms)
{
    uint64_t valid = d->cfg.token_valid_ms ? d->cfg.token_valid_ms : TOKEN_VALID_DEFAULT_MS;
    uint64_t wall = rt_wall_ms(), now = rt_now_ms();
    uint64_t ends = received_wall_ms + valid;
    return ends > wall ? now + (ends - wall) : now;
}

static uint64_t notice_reserve(const comfy_deliver *d)
{
    uint64_t valid = d->cfg.token_valid_ms ? d->cfg.token_valid_ms : TOKEN_VALID_DEFAULT_MS;
    return valid / 4 < NOTICE_RESERVE_MAX_MS ? valid / 4 : NOTICE_RESERVE_MAX_MS;
}

/* Sends one step's request; false when it could not even be queued. */
static bool send_step(comfy_deliver *d, dlv *e, rest_req_msg *m, uint64_t until)
{
    uint64_t now = rt_now_ms();
    if (d->stopping && until > d->stop_deadline_ms) until = d->stop_deadline_ms;
    m->deliver_until_ms = until > now ? until : now + 1;
    m->reply_to = d->cfg.self;
    m->cookie = COMFY_DELIVER_COOKIE_BIT | e->out.job_id;
    return comfy_rest_send(d->cfg.rest, m, true) == 0;
}

void comfy_deliver_start(comfy_deliver *d, comfy_outcome *o, rest_req_msg *final)
{
    FB_ASSERT_OWNER(&d->owner);
    dlv *e = dlv_add(d);
    e->used = true;
    e->stage = DLV_FINAL;
    e->out = *o;
    memset(o, 0, sizeof *o); /* moved */
    e->expires_ms = comfy_deliver_token_expiry_ms(d, e->out.received_wall_ms);
    rt_actor_hold(d->cfg.self);
    final->final_write = true;
    uint64_t reserve = notice_reserve(d);
    uint64_t until = e->expires_ms > reserve ? e->expires_ms - reserve : 0;
    if (!send_step(d, e, final, until)) {
        LOG_WARN("comfy", "job %" PRIu64 ": the final message could not be queued", e->out.job_id);
        comfy_outcome_record(d->cfg.analytics, &e->out, false);
        dlv_done(d, e);
    }
}

/* The next route for the notice after the current one failed with status; false when none is
 * left (the user cannot be reached). */
static bool next_route(comfy_deliver *d, dlv *e, int status)
{
    uint64_t now = rt_now_ms();
    const comfy_reply_ref *ref = &e->out.reply;
    bool token_alive = now + 1000 < e->expires_ms;
    /* A refused final edit (too large, invalid body) leaves the route working: replace the
     * progress text with the notice. 5xx, no answer or a lost message: another route. */
    if (e->stage == DLV_FINAL && status >= 400 && status < 500 && status != 404 && status != 429 &&
        token_alive) {
        e->stage = DLV_NOTICE_EDIT;
        rest_req_msg *m = comfy_rest_edit_original_req(ref, reply_edit_text_json(e->notice, true));
        m->final_write = true;
        if (send_step(d, e, m, e->expires_ms - 1000)) return true;
    }
    if (e->stage < DLV_FOLLOWUP && token_alive) {
        e->stage = DLV_FOLLOWUP;
        rest_req_msg *m = reply_req_followup(ref->application_id, ref->token,
                                             reply_followup_text_json(e->notice, false));
        if (send_step(d, e, m, e->expires_ms - 1000)) return true;
    }
    if (e->stage < DLV_CHANNEL && e->out.channel_id) {
        e->stage = DLV_CHANNEL;
        char text[900];
        snprintf(text, sizeof text, "<@%" PRIu64 "> %s", e->out.user_id, e->notice);
        /* names the user without pinging them: reply bodies never allow mentions */
        rest_req_msg *m =
            reply_req_channel_message(e->out.channel_id, reply_followup_text_json(text, false));
        if (send_step(d, e, m, now + CHANNEL_RETRY_MS)) return true;
    }
    return false;
}

void comfy_deliver_on_result(comfy_deliver *d, const rest_res_msg *res)
{
    FB_ASSERT_OWNER(&d->owner);
    uint64_t job_id = res->cookie & ~COMFY_DELIVER_COOKIE_BIT;
    dlv *e = dlv_find(d, job_id);
    if (!e) return;
    bool ok = res->status >= 200 && res->status < 300;
    if (e->stage == DLV_FINAL) {
        comfy_outcome_record(d->cfg.analytics, &e->out, ok);
        message_ref ref;
        if (ok && d->cfg.analytics && message_ref_parse(res->body, res->body_len, &ref)) {
            /* Delivered: the message that shows it, for the stored result. */
            an_result_msg_event me = {.job_id = job_id,
                                      .user_id = e->out.user_id,
                                      .channel_id = ref.channel_id,
                                      .message_id = ref.message_id,
                                      .attachment_url =
                                          ref.attachment_url[0] ? ref.attachment_url : NULL};
            an_record_result_msg(d->cfg.analytics, &me);
        }
        if (ok) {
            dlv_done(d, e);
            return;
        }
        LOG_WARN("comfy", "job %" PRIu64 ": posting the %s failed (HTTP %d%s%s)", job_id,
                 e->out.success ? "result" : "failure message", res->status,
                 res->error[0] ? ": " : "", res->error);
        if (e->out.success)
            snprintf(e->notice, sizeof e->notice,
                     "\xe2\x9d\x8c Your result could not be posted to Discord%s. Please run the "
                     "command again.",
                     res->status == 413 ? " (the file is too large)" : "");
        else
            snprintf(e->notice, sizeof e->notice, "%s", e->out.text);
    } else if (ok) {
        dlv_done(d, e);
        return;
    }
    if (!next_route(d, e, res->status)) {
        LOG_ERROR("comfy",
                  "job %" PRIu64 ": user %" PRIu64 " could not be told (every route failed, last "
                  "HTTP %d)",
                  job_id, e->out.user_id, res->status);
        dlv_done(d, e);
    }
}

void comfy_deliver_abandon(comfy_deliver *d)
{
    FB_ASSERT_OWNER(&d->owner);
    d->abandoning = true;
    for (unsigned i = 0; i < d->cap; i++) {
        dlv *e = &d->v[i];
        if (!e->used) continue;
        LOG_WARN("comfy", "job %" PRIu64 ": stopping before its final message was confirmed",
                 e->out.job_id);
        if (e->stage == DLV_FINAL) comfy_outcome_record(d->cfg.analytics, &e->out, false);
        dlv_done(d, e);
    }
}
