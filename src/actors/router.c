/*
 * The router actor (see router.h): a thin loop over the pure command logic (src/router/rcmd.c)
 * and the pending table (src/router/rpend.c). It owns the order "callback accepted, then
 * work forwarded" and the command_usage rows; everything it decides about options, permissions
 * and payloads comes from the pure modules.
 */
#include "actors/router.h"

#include <inttypes.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "analytics/an_record.h"
#include "analytics/an_commands.h"
#include "analytics/an_confirm.h"
#include "comfy/cres.h"
#include "discord/cmd.h"
#include "discord/ix.h"
#include "discord/lorainfo.h"
#include "discord/opts_dialog.h"
#include "discord/reply.h"
#include "discord/reply_req.h"
#include "fluxbot/log.h"
#include "msgs/an.h"
#include "msgs/comfy.h"
#include "msgs/gw.h"
#include "msgs/rest.h"
#include "msgs/stats.h"
#include "router/opts_state.h"
#include "router/rcmd.h"
#include "router/rpend.h"
#include "router/rmod.h"
#include "util/util_rand.h"
#include "util/util_str.h"

#define LOGN ROUTER_ACTOR_NAME
#define SWEEP_TAG 0x726f75746572ULL /* "router" */
#define EXPIRE_BATCH 32
/* A reset may wait behind the writer's retries of a failing database; give it longer than a
 * callback before telling the user there is no answer yet. */
#define RESET_WAIT_FACTOR 4

struct router {
    router_config cfg;
    char manager_role[FB_CONFIG_STR];
    rt_actor *self;
    rpend *pend;
    an_confirm *confirm;
    opts_state *opts; /* open Options dialogs of results */
    gw_roles *roles;
    bool own_roles;
    mod_state *mod;
    bool own_mod;
    _Atomic uint64_t timer_id;
    _Atomic unsigned threads_alive;

    _Atomic uint64_t by[ROUTER_CMD_COUNT][ROUTER_OUT_COUNT];
    _Atomic uint64_t dispatches, interactions, role_events, callbacks_sent, stale, resets;
    _Atomic uint64_t callback_ns_sum, callbacks_timed; /* arrival → Discord's callback answer */
};

/* ---- names and counters ------------------------------------------------------------------- */

const char *router_cmd_name(router_cmd c)
{
    static const char *const names[ROUTER_CMD_COUNT] = {
        "generate",      "queue",        "stats",   "reset_stats", "reset_button",
        "result_button", "autocomplete", "unknown", "malformed",   "moderation",
        "lorainfo",      "options",      "cancel"};
    return (unsigned)c < ROUTER_CMD_COUNT ? names[c] : "?";
}

const char *router_outcome_name(router_outcome o)
{
    static const char *const names[ROUTER_OUT_COUNT] = {"ok",         "invalid", "denied",
                                                        "ack_failed", "timeout", "dropped"};
    return (unsigned)o < ROUTER_OUT_COUNT ? names[o] : "?";
}

static void count(router *r, int cmd, int outcome)
{
    if ((unsigned)cmd < ROUTER_CMD_COUNT && (unsigned)outcome < ROUTER_OUT_COUNT)
        atomic_fetch_add_explicit(&r->by[cmd][outcome], 1, memory_order_relaxed);
}

void router_counters_get(router *r, router_counters *out)
{
    memset(out, 0, sizeof *out);
    for (int c = 0; c < ROUTER_CMD_COUNT; c++)
        for (int o = 0; o < ROUTER_OUT_COUNT; o++)
            out->by[c][o] = atomic_load_explicit(&r->by[c][o], memory_order_relaxed);
    out->dispatches = atomic_load(&r->dispatches);
    out->interactions = atomic_load(&r->interactions);
    out->role_events = atomic_load(&r->role_events);
    out->callbacks_sent = atomic_load(&r->callbacks_sent);
    out->stale_answers = atomic_load(&r->stale);
    out->resets = atomic_load(&r->resets);
    out->callback_ns_sum = atomic_load(&r->callback_ns_sum);
    out->callbacks_timed = atomic_load(&r->callbacks_timed);
    out->pending = rpend_count(r->pend);
    out->pending_hwm = rpend_high_water(r->pend);
}

/* ---- bookkeeping -------------------------------------------------------------------------- */

static uint64_t wall_at(uint64_t received_ns)
{
    uint64_t now = rt_now_ns();
    uint64_t ago_ms = now > received_ns ? (now - received_ns) / 1000000u : 0;
    return rt_wall_ms() - ago_ms;
}

/* The interaction is done: count its outcome and write its command_usage row. */
static void finish(router *r, const rpend_entry *e, int outcome, bool success)
{
    count(r, e->stat_cmd, outcome);
    if (!e->record || !r->cfg.analytics) return;
    uint64_t now = rt_now_ns();
    uint64_t ms = now > e->received_ns ? (now - e->received_ns) / 1000000u : 0;
    an_command_event ev = {.command = e->command,
                           .kind = (an_cmd_kind)e->cmd_kind,
                           .interaction_id = e->interaction_id,
                           .user_id = e->user_id,
                           .guild_id = e->guild_id,
                           .channel_id = e->channel_id,
                           .ts_ms = wall_at(e->received_ns), /* the row's day is its arrival's */
                           .exec_ms = ms > UINT32_MAX ? UINT32_MAX : (uint32_t)ms,
                           .success = success};
    an_record_command(r->cfg.analytics, &ev);
}

/* The command_usage kind of an interaction (a slash command until found unknown). */
static an_cmd_kind usage_kind(ix_type t)
{
    switch (t) {
    case IX_COMMAND:
        return AN_CMD_SLASH;
    case IX_COMPONENT:
        return AN_CMD_BUTTON;
    case IX_AUTOCOMPLETE:
        return AN_CMD_AUTOCOMPLETE;
    case IX_MODAL_SUBMIT:
        return AN_CMD_MODAL;
    default:
        return AN_CMD_UNKNOWN;
    }
}

/* An entry describing an interaction, before its kind and work are set. */
static rpend_entry entry_for(const ix_interaction *ix, uint64_t received_ns, router_cmd cmd)
{
    rpend_entry e = {.kind = RPEND_REPLY,
                     .received_ns = received_ns,
                     .record = true,
                     .user_id = ix->user_id,
                     .guild_id = ix->guild_id,
                     .channel_id = ix->channel_id,
                     .stat_cmd = cmd,
                     .stat_outcome = ROUTER_OUT_OK,
                     .success = true,
                     .cmd_kind = usage_kind(ix->type),
                     .interaction_id = ix->id,
                     .application_id = ix->application_id};
    rcmd_usage_name(ix, e.command, sizeof e.command);
    return e;
}

static rest_req_msg *callback_req(uint64_t id, const char *token, const char *body)
{
    return reply_req_callback(id, token, util_strdup(body));
}

/* Edits the message of an interaction token (fire and forget: the REST actor logs failures). */
static void edit_original(router *r, uint64_t app_id, const char *token, const char *body)
{
    if (!body || !token) return;
    rest_req_msg *m = reply_req_edit_original(app_id, token, util_strdup(body));
    if (rt_send_spill(r->cfg.rest, &m->hdr) != 0) rt_msg_free(&m->hdr);
}

/*
 * Sends the callback `body` (owned, may be NULL when out of memory) for interaction id/token and
 * parks *e (whose work and token it takes) until the REST actor answers.
 */
static void respond(router *r, uint64_t id, const char *token, char *body, rpend_entry *e)
{
    if (!body) {
        LOG_ERROR(LOGN, "could not build the answer to %s", e->command);
        finish(r, e, ROUTER_OUT_DROPPED, false);
        rpend_entry_release(e);
        return;
    }
    uint64_t wait = r->cfg.pending_timeout_ms;
    if (e->kind == RPEND_RESET_DONE) wait *= RESET_WAIT_FACTOR;
    e->deadline_ms = rt_now_ms() + wait;
    uint64_t cookie = rpend_add(r->pend, e);
    if (!cookie) {
        /* Too much in flight: still answer, so the user is not left on "thinking". */
        LOG_WARN(LOGN, "pending table full (%zu): %s answered as busy", rpend_capacity(r->pend),
                 e->command);
        char *busy = reply_text_json("\xe2\x8f\xb3 The bot is very busy right now; please try "
                                     "again in a moment.",
                                     true);
        rest_req_msg *m = callback_req(id, token, busy ? busy : body);
        free(busy);
        if (rt_send_spill(r->cfg.rest, &m->hdr) != 0) rt_msg_free(&m->hdr);
        free(body);
        finish(r, e, ROUTER_OUT_DROPPED, false);
        rpend_entry_release(e);
        return;
    }
    rt_actor_hold(r->self);
    rest_req_msg *m = reply_req_callback(id, token, body); /* takes body */
    m->reply_to = r->self;
    m->cookie = cookie;
    atomic_fetch_add(&r->callbacks_sent, 1);
    if (rt_send_spill(r->cfg.rest, &m->hdr) != 0) {
        rt_msg_free(&m->hdr);
        rpend_entry back;
        if (rpend_take(r->pend, cookie, &back)) {
            LOG_WARN(LOGN, "REST actor stopped: %s not answered", back.command);
            finish(r, &back, ROUTER_OUT_DROPPED, false);
            rpend_entry_release(&back);
            rt_actor_release(r->self);
        }
    }
}

/* An ephemeral type-4 answer that ends the interaction as `outcome` (a failed row). */
static void reply_error(router *r, const ix_interaction *ix, rpend_entry *e, const char *text,
                        router_outcome outcome)
{
    e->kind = RPEND_REPLY;
    e->success = false;
    e->stat_outcome = outcome;
    respond(r, ix->id, ix->token, reply_text_json(text, true), e);
}

static void reply_json(router *r, const ix_interaction *ix, rpend_entry *e, char *body,
                       bool success, router_outcome outcome)
{
    e->kind = RPEND_REPLY;
    e->success = success;
    e->stat_outcome = outcome;
    respond(r, ix->id, ix->token, body, e);
}

/* Answers with `body` (an acknowledgement: a defer, or type 6) and parks `work` for `target`
 * until Discord accepted it: the router owns every first answer, the other actors only edit
 * @original or send follow-ups, and never before the acknowledgement exists. */
static void answer_then(router *r, const ix_interaction *ix, rpend_entry *e, char *body,
                        rt_msg *work, rt_actor *target)
{
    e->kind = RPEND_FORWARD;
    e->work = work;
    e->target = target;
    e->success = true;
    e->stat_outcome = ROUTER_OUT_OK;
    respond(r, ix->id, ix->token, body, e);
}

/* Defers (type 5, "thinking") and parks `work` for `target` until Discord accepted the defer. */
static void defer_then(router *r, const ix_interaction *ix, rpend_entry *e, bool ephemeral,
                       rt_msg *work, rt_actor *target)
{
    answer_then(r, ix, e, reply_deferred_json(ephemeral), work, target);
}

/* ---- commands ------------------------------------------------------------------------------ */

/* Where a new job goes once deferred: the runner, which admits it and has its prompt enhanced
 * first when the user asked for that (comfy_coord.h). An enhancement asked of a bot without an
 * enhancer, from a stale registration, runs as typed and the user is told. */
static rt_actor *generation_target(router *r, cjob *job)
{
    if (job->creativity && !r->cfg.enhancer) cjob_enhance_fail(job, CJOB_ENH_OFF);
    return r->cfg.runner;
}

static void cmd_generate(router *r, const ix_interaction *ix, uint64_t t0, const decl_command *d)
{
    rpend_entry e = entry_for(ix, t0, ROUTER_CMD_GENERATE);
    char err[512];
    const cjob_catalog *cat = r->cfg.runner ? r->cfg.catalog : NULL;
    comfy_job_msg *m = rcmd_job(ix, d, cat, wall_at(t0), err, sizeof err);
    if (!m) {
        LOG_DEBUG(LOGN, "/%s refused: %s", ix->command_name, err);
        reply_error(r, ix, &e, err, ROUTER_OUT_INVALID);
        return;
    }
    /* checked once (rcmd_job), resolved here: the runner applies its limits and runs it */
    cjob *job = cjob_resolve(m, cat, 0, util_rand_u64() /* the seed of a job without one */);
    rt_msg_free(&m->hdr);
    rt_actor *next = generation_target(r, job);
    defer_then(r, ix, &e, false, &comfy_start_msg_new(job)->hdr, next);
}

static void cmd_queue(router *r, const ix_interaction *ix, uint64_t t0)
{
    rpend_entry e = entry_for(ix, t0, ROUTER_CMD_QUEUE);
    if (!r->cfg.runner) {
        reply_error(r, ix, &e, "Image generation is not set up on this bot.", ROUTER_OUT_INVALID);
        return;
    }
    /* "show", or "clear" for managers */
    bool clear = ix->subcommand && strcmp(ix->subcommand, "clear") == 0;
    if (clear && rcmd_manager_perm(ix, r->roles, r->manager_role) == AN_PERM_DENIED) {
        reply_error(r, ix, &e,
                    "\xf0\x9f\x9a\xab /queue clear is for administrators and members with the "
                    "bot-manager role.",
                    ROUTER_OUT_DENIED);
        return;
    }
    comfy_queue_msg *q = comfy_queue_msg_new(ix->application_id, ix->id, ix->token);
    rcmd_origin(ix, &q->origin);
    q->clear = clear;
    /* only the caller sees the answer: an ephemeral defer, which the runner edits */
    defer_then(r, ix, &e, true, &q->hdr, r->cfg.runner);
}

/* /cancel [user] and the Cancel buttons: the runner decides which job and answers (it holds
 * the jobs); here only who asks: a manager may name anyone, others only themselves. The answer
 * is ephemeral (only the asker sees it); the job's own message says it was cancelled. */
static void send_cancel(router *r, const ix_interaction *ix, rpend_entry *e, uint64_t job,
                        uint64_t target, bool manager)
{
    e->stat_cmd = ROUTER_CMD_CANCEL;
    if (!r->cfg.runner) {
        reply_error(r, ix, e, "Image generation is not set up on this bot.", ROUTER_OUT_INVALID);
        return;
    }
    comfy_cancel_msg *m = comfy_cancel_msg_new(job, ix->application_id, ix->id, ix->token);
    rcmd_origin(ix, &m->origin);
    m->target_user = target;
    m->manager = manager;
    defer_then(r, ix, e, true, &m->hdr, r->cfg.runner);
}

static void cmd_cancel(router *r, const ix_interaction *ix, uint64_t t0)
{
    rpend_entry e = entry_for(ix, t0, ROUTER_CMD_CANCEL);
    bool manager = rcmd_manager_perm(ix, r->roles, r->manager_role) != AN_PERM_DENIED;
    const ix_option *who = ix_opt(ix, "user");
    uint64_t target = who && who->type == IX_OPT_USER && who->id ? who->id : ix->user_id;
    if (target != ix->user_id && !manager) {
        reply_error(r, ix, &e,
                    "\xf0\x9f\x9a\xab You can only cancel your own jobs (administrators and bot "
                    "managers can cancel anyone's).",
                    ROUTER_OUT_DENIED);
        return;
    }
    send_cancel(r, ix, &e, 0, target, manager);
}

static void cmd_stats(router *r, const ix_interaction *ix, uint64_t t0)
{
    rpend_entry e = entry_for(ix, t0, ROUTER_CMD_STATS);
    if (!r->cfg.stats) {
        reply_error(r, ix, &e, "Statistics are not available on this bot.", ROUTER_OUT_INVALID);
        return;
    }
    if (r->cfg.stats_managers_only &&
        rcmd_manager_perm(ix, r->roles, r->manager_role) == AN_PERM_DENIED) {
        reply_error(r, ix, &e,
                    "\xf0\x9f\x9a\xab On this bot, statistics are for administrators and members "
                    "with the bot-manager role.",
                    ROUTER_OUT_DENIED);
        return;
    }
    cJSON *opts = rcmd_days_options(ix);
    an_days_result days = an_days_from_options(opts);
    cJSON_Delete(opts);
    if (!days.ok) {
        reply_json(r, ix, &e, an_ephemeral_json(days.error), false, ROUTER_OUT_INVALID);
        return;
    }
    char app[24];
    snprintf(app, sizeof app, "%" PRIu64, ix->application_id);
    stats_query_msg *q = stats_query_msg_new(days.days, app, ix->token, r->cfg.rest);
    defer_then(r, ix, &e, true, &q->hdr, r->cfg.stats);
}

static void cmd_reset(router *r, const ix_interaction *ix, uint64_t t0)
{
    rpend_entry e = entry_for(ix, t0, ROUTER_CMD_RESET_STATS);
    an_perm perm = rcmd_manager_perm(ix, r->roles, r->manager_role);
    if (perm == AN_PERM_DENIED) {
        LOG_INFO(LOGN, "/reset_stats refused for user %" PRIu64 " in guild %" PRIu64, ix->user_id,
                 ix->guild_id);
        reply_json(r, ix, &e, an_reset_refusal_json(), false, ROUTER_OUT_DENIED);
        return;
    }
    if (!r->cfg.analytics) {
        reply_error(r, ix, &e, "Statistics are not kept on this bot.", ROUTER_OUT_INVALID);
        return;
    }
    char confirm_id[AN_CONFIRM_ID_MAX], cancel_id[AN_CONFIRM_ID_MAX];
    an_confirm_create(r->confirm, ix->user_id, ix->guild_id, ix->id, (int64_t)rt_now_ms(),
                      confirm_id, cancel_id);
    reply_json(r, ix, &e, an_reset_prompt_json(confirm_id, cancel_id), true, ROUTER_OUT_OK);
}

/* /lorainfo: the LoRA list, paged, from the catalogue the runner loaded (SIGHUP may swap it:
 * it is read once). Answered here at once, since nothing needs ComfyUI. */
static void cmd_lorainfo(router *r, const ix_interaction *ix, uint64_t t0)
{
    rpend_entry e = entry_for(ix, t0, ROUTER_CMD_LORAINFO);
    const loras_set *loras = r->cfg.catalog ? r->cfg.catalog->loras : NULL;
    const char *name = ix_opt_str(ix, "name");
    char *body =
        name && *name ? lorainfo_one_json(loras, name) : lorainfo_page_json(loras, 0, false);
    reply_json(r, ix, &e, body, true, ROUTER_OUT_OK);
}

static router_cmd stat_of_command(router *r, const char *name)
{
    if (rcmd_decl_of(r->cfg.catalog, name)) return ROUTER_CMD_GENERATE;
    if (strcmp(name, CMD_QUEUE) == 0) return ROUTER_CMD_QUEUE;
    if (strcmp(name, CMD_STATS) == 0) return ROUTER_CMD_STATS;
    if (strcmp(name, CMD_RESET_STATS) == 0) return ROUTER_CMD_RESET_STATS;
    if (strcmp(name, CMD_LORAINFO) == 0) return ROUTER_CMD_LORAINFO;
    if (strcmp(name, CMD_CANCEL) == 0) return ROUTER_CMD_CANCEL;
    return ROUTER_CMD_UNKNOWN;
}

static void on_command(router *r, const ix_interaction *ix, uint64_t t0)
{
    const char *name = ix->command_name ? ix->command_name : "";
    char err[256];
    /* One load of the declarations for the whole interaction: SIGHUP may swap them. */
    const decl_command *d = rcmd_decl_of(r->cfg.catalog, name);
    if (rcmd_check_options(ix, d ? &d->cmd : NULL, err, sizeof err) != 0) {
        rpend_entry e = entry_for(ix, t0, stat_of_command(r, name));
        LOG_DEBUG(LOGN, "/%s refused: %s", name, err);
        reply_error(r, ix, &e, err, ROUTER_OUT_INVALID);
        return;
    }
    if (d)
        cmd_generate(r, ix, t0, d);
    else if (strcmp(name, CMD_QUEUE) == 0)
        cmd_queue(r, ix, t0);
    else if (strcmp(name, CMD_STATS) == 0)
        cmd_stats(r, ix, t0);
    else if (strcmp(name, CMD_RESET_STATS) == 0)
        cmd_reset(r, ix, t0);
    else if (strcmp(name, CMD_LORAINFO) == 0)
        cmd_lorainfo(r, ix, t0);
    else if (strcmp(name, CMD_CANCEL) == 0)
        cmd_cancel(r, ix, t0);
    else {
        rpend_entry e = entry_for(ix, t0, ROUTER_CMD_UNKNOWN);
        e.cmd_kind = AN_CMD_UNKNOWN; /* never a popular command */
        char text[128];
        snprintf(text, sizeof text, "Unknown command /%.32s.", name);
        reply_error(r, ix, &e, text, ROUTER_OUT_INVALID);
    }
}

/* ---- components ------------------------------------------------------------------------------ */

static void on_reset_button(router *r, const ix_interaction *ix, uint64_t t0)
{
    rpend_entry e = entry_for(ix, t0, ROUTER_CMD_RESET_BUTTON);
    an_confirm_ticket t;
    an_confirm_result res =
        an_confirm_resolve(r->confirm, ix->custom_id, ix->user_id, (int64_t)rt_now_ms(), &t);
    switch (res) {
    case AN_CONFIRM_OK:
        if (!r->cfg.analytics) {
            reply_error(r, ix, &e, "Statistics are not kept on this bot.", ROUTER_OUT_INVALID);
            return;
        }
        /* Ack by updating the prompt (type 7: "resetting", buttons removed so nobody presses
         * twice); the reset is asked for once Discord took the ack, so the edit that reports
         * the result can never precede it. */
        e.kind = RPEND_RESET_ACK;
        e.success = true;
        e.stat_outcome = ROUTER_OUT_OK;
        e.token = util_strdup(ix->token);
        reply_msg upd = {.content = "\xe2\x8f\xb3 Resetting the statistics\xe2\x80\xa6",
                         .set_components = true};
        respond(r, ix->id, ix->token, reply_callback_json(REPLY_CB_UPDATE, &upd, NULL, 0), &e);
        return;
    case AN_CONFIRM_CANCELLED:
        reply_json(r, ix, &e, an_reset_cancelled_json(), true, ROUTER_OUT_OK);
        return;
    case AN_CONFIRM_WRONG_USER:
        reply_json(r, ix, &e, an_reset_wrong_user_json(), false, ROUTER_OUT_DENIED);
        return;
    case AN_CONFIRM_EXPIRED:
        reply_json(r, ix, &e, an_reset_expired_json(), false, ROUTER_OUT_INVALID);
        return;
    default:
        reply_json(r, ix, &e, an_reset_unknown_json(), false, ROUTER_OUT_INVALID);
        return;
    }
}

/* ---- the Options dialog of a result ------------------------------------------------------ */

/* Options on a result: for its requester and the bot managers. The dialog is opened here (its
 * state in r->opts), answered with an ephemeral "thinking", and filled once the runner sent
 * the result's parameters (on_lookup_res edits the answer): the router holds no results. */
static void open_options(router *r, const ix_interaction *ix, rpend_entry *e, uint64_t job,
                         uint64_t owner)
{
    if (ix->user_id != owner &&
        rcmd_manager_perm(ix, r->roles, r->manager_role) == AN_PERM_DENIED) {
        LOG_DEBUG(LOGN, "Options of job %" PRIu64 " refused for user %" PRIu64, job, ix->user_id);
        reply_error(r, ix, e, OPTS_DIALOG_TEXT_NOT_YOURS, ROUTER_OUT_DENIED);
        return;
    }
    e->stat_cmd = ROUTER_CMD_OPTIONS;
    uint64_t sid =
        opts_state_open(r->opts, ix->user_id, job, ix->application_id, ix->token, rt_now_ms());
    comfy_lookup_msg *q = comfy_lookup_msg_new(job, sid, r->self);
    defer_then(r, ix, e, true, &q->hdr, r->cfg.runner);
}

static void on_lookup_res(router *r, comfy_lookup_res_msg *m)
{
    uint64_t app = 0;
    char token[OPTS_STATE_TOKEN_MAX + 1];
    if (m->status == COMFY_LOOKUP_FOUND && m->job) {
        opts_dialog_view *v = malloc(sizeof *v);
        if (!v) abort();
        cjob *job = m->job;
        m->job = NULL;
        if (opts_state_attach(r->opts, m->cookie, job, r->cfg.catalog, rt_now_ms(), v, &app,
                              token) == OPTS_STATE_OK) {
            const cjob_catalog *cat = r->cfg.catalog;
            char *body =
                opts_dialog_message_json(v, cat ? cat->ratios : NULL, cat ? cat->loras : NULL);
            edit_original(r, app, token, body);
            free(body);
        }
        free(v);
        return;
    }
    if (!opts_state_drop(r->opts, m->cookie, &app, token)) return;
    char text[300];
    if (m->status == COMFY_LOOKUP_EXPIRED)
        snprintf(text, sizeof text,
                 "\xe2\x8f\xb3 This result is older than %u days, the time this bot keeps what "
                 "it needs to redo a result. Please run the command again.",
                 m->retention_days);
    else if (m->status == COMFY_LOOKUP_ERROR)
        snprintf(text, sizeof text,
                 "\xe2\x9d\x8c The bot cannot read its stored results right now; please try "
                 "again later.");
    else
        snprintf(text, sizeof text,
                 "This result is no longer known to the bot. Please run the command again.");
    char *body = reply_edit_text_json(text, true);
    edit_original(r, app, token, body);
    free(body);
}

/* A usage of the dialog (component or modal), answered at once: the dialog updated in place
 * (type 7), a modal (type 9), or, for Regenerate, a public "thinking" the new job's result
 * replaces, the job sent to the runner like a command's (its limits apply there). */
static void on_opts(router *r, const ix_interaction *ix, uint64_t t0)
{
    rpend_entry e = entry_for(ix, t0, ROUTER_CMD_OPTIONS);
    opts_state_input in = {.user_id = ix->user_id};
    if (opts_dialog_parse_id(ix->custom_id, &in.sid, &in.verb, &in.page) != 0 ||
        (ix->type == IX_MODAL_SUBMIT) !=
            (in.verb == OPTS_DIALOG_V_MODAL || in.verb == OPTS_DIALOG_V_SMODAL)) {
        reply_error(r, ix, &e,
                    "This button is not one this bot knows (it may be from an older version).",
                    ROUTER_OUT_INVALID);
        return;
    }
    const cjob_catalog *cat = r->cfg.catalog;
    const ratios_set *ratios = cat ? cat->ratios : NULL;
    const loras_set *loras = cat ? cat->loras : NULL;
    in.values = ix->values;
    in.nvalues = ix->nvalues;
    if (in.verb == OPTS_DIALOG_V_MODAL) {
        in.prompt = ix_field_value(ix, OPTS_DIALOG_FIELD_PROMPT);
        in.negative = ix_field_value(ix, OPTS_DIALOG_FIELD_NEGATIVE);
        in.seed = ix_field_value(ix, OPTS_DIALOG_FIELD_SEED);
    } else if (in.verb == OPTS_DIALOG_V_SMODAL) {
        for (unsigned i = 0; i < OPTS_DIALOG_LORAS_MAX; i++) {
            char fid[8];
            snprintf(fid, sizeof fid, "s%u", i);
            in.strength[i] = ix_field_value(ix, fid);
        }
    }
    opts_dialog_view *v = malloc(sizeof *v);
    if (!v) abort();
    opts_state_status st;
    cjob *job = NULL;
    if (in.verb == OPTS_DIALOG_V_MODAL) {
        /* typed text meets the content filter as a command's prompt does, before it is kept */
        rmod_verdict mv;
        const char *texts[2] = {in.prompt, in.negative};
        for (int i = 0; i < 2; i++) {
            if (texts[i] && rmod_check_text(r->mod, ix, "options", texts[i], &mv)) {
                reply_json(r, ix, &e, mv.body, false,
                           mv.outcome == RMOD_DENIED ? ROUTER_OUT_DENIED : ROUTER_OUT_INVALID);
                free(v);
                return;
            }
        }
    }
    if (in.verb == OPTS_DIALOG_V_GO) {
        if (!r->cfg.runner) {
            reply_error(r, ix, &e, "Image generation is not set up on this bot.",
                        ROUTER_OUT_INVALID);
            free(v);
            return;
        }
        cjob *probe = NULL;
        comfy_reply_ref ref = {.application_id = ix->application_id,
                               .interaction_id = ix->id,
                               .token = (char *)ix->token};
        comfy_origin origin;
        rcmd_origin(ix, &origin);
        st = opts_state_job(r->opts, in.sid, ix->user_id, cat, &ref, &origin, util_rand_u64(),
                            rt_now_ms(), &probe, v);
        job = probe;
    } else {
        st = opts_state_apply(r->opts, &in, cat, rt_now_ms(), v);
    }
    switch (st) {
    case OPTS_STATE_GONE:
        reply_error(r, ix, &e, OPTS_DIALOG_TEXT_EXPIRED, ROUTER_OUT_INVALID);
        break;
    case OPTS_STATE_WRONG_USER:
        reply_error(r, ix, &e, OPTS_DIALOG_TEXT_NOT_YOURS, ROUTER_OUT_DENIED);
        break;
    case OPTS_STATE_LOADING:
        reply_error(r, ix, &e,
                    "\xe2\x8f\xb3 The dialog is still loading this result; try again in a "
                    "moment.",
                    ROUTER_OUT_INVALID);
        break;
    case OPTS_STATE_REFUSED:
        /* the dialog again, with why the change was not taken */
        reply_json(r, ix, &e, opts_dialog_update_json(v, ratios, loras), false, ROUTER_OUT_INVALID);
        break;
    case OPTS_STATE_OK:
        if (in.verb == OPTS_DIALOG_V_EDIT) {
            reply_json(r, ix, &e, opts_dialog_modal_json(v), true, ROUTER_OUT_OK);
        } else if (in.verb == OPTS_DIALOG_V_STRENGTHS) {
            char *body = opts_dialog_strength_modal_json(v);
            if (!body) {
                snprintf(v->note, sizeof v->note, "\xe2\x9a\xa0\xef\xb8\x8f Pick a LoRA first.");
                body = opts_dialog_update_json(v, ratios, loras);
            }
            reply_json(r, ix, &e, body, true, ROUTER_OUT_OK);
        } else if (in.verb == OPTS_DIALOG_V_GO) {
            rmod_verdict mv;
            const char *texts[CJOB_TEXTS_MAX];
            unsigned ntexts = cjob_user_texts(job, texts);
            bool refused = rmod_check_rerun(r->mod, ix, r->roles, job->command, texts, ntexts, &mv);
            if (refused) {
                cjob_free(job);
                reply_json(r, ix, &e, mv.body, false, ROUTER_OUT_DENIED);
                break;
            }
            job->received_wall_ms = wall_at(t0);
            LOG_INFO(LOGN,
                     "Options of job %" PRIu64 ": user %" PRIu64 " regenerates (%s, %u LoRAs)",
                     job->source_job_id, ix->user_id, job->resolution, job->nloras);
            rt_actor *next = generation_target(r, job);
            defer_then(r, ix, &e, false, &comfy_start_msg_new(job)->hdr, next);
        } else {
            reply_json(r, ix, &e, opts_dialog_update_json(v, ratios, loras), true, ROUTER_OUT_OK);
        }
        break;
    }
    free(v);
}

static void on_component(router *r, const ix_interaction *ix, uint64_t t0, const gw_dispatch_msg *d)
{
    const char *id = ix->custom_id ? ix->custom_id : "";
    if (an_confirm_owns(id)) {
        on_reset_button(r, ix, t0);
        return;
    }
    if (opts_dialog_owns(id)) {
        on_opts(r, ix, t0);
        return;
    }
    unsigned page;
    if (lorainfo_parse_custom_id(id, &page) == 0) {
        rpend_entry e = entry_for(ix, t0, ROUTER_CMD_LORAINFO);
        const loras_set *loras = r->cfg.catalog ? r->cfg.catalog->loras : NULL;
        reply_json(r, ix, &e, lorainfo_page_json(loras, page, true), true, ROUTER_OUT_OK);
        return;
    }
    cres_action act;
    uint64_t job, owner;
    if (cres_parse_custom_id(id, &act, &job, &owner) == 0) {
        rpend_entry e = entry_for(ix, t0, ROUTER_CMD_RESULT_BUTTON);
        if (!r->cfg.runner) {
            reply_error(r, ix, &e, "Image generation is not set up on this bot.",
                        ROUTER_OUT_INVALID);
            return;
        }
        if (act == CRES_OPTIONS) {
            open_options(r, ix, &e, job, owner);
            return;
        }
        if (act == CRES_CANCEL) {
            bool manager = rcmd_manager_perm(ix, r->roles, r->manager_role) != AN_PERM_DENIED;
            e.stat_cmd = ROUTER_CMD_CANCEL;
            if (ix->user_id != owner && !manager) {
                reply_error(r, ix, &e,
                            "\xf0\x9f\x9a\xab Only the person who asked for this job, or an "
                            "administrator or bot manager, can cancel it.",
                            ROUTER_OUT_DENIED);
                return;
            }
            send_cancel(r, ix, &e, job, owner, manager);
            return;
        }
        if (act == CRES_DELETE && !cres_may_delete(ix->user_id, owner, ix->permissions)) {
            reply_error(r, ix, &e,
                        "\xf0\x9f\x9a\xab Only the person who asked for this result, or a member "
                        "with Manage Messages, can delete it.",
                        ROUTER_OUT_DENIED);
            return;
        }
        comfy_button_action ba = act == CRES_REGENERATE ? COMFY_BUTTON_REGENERATE
                                 : act == CRES_UPSCALE2 ? COMFY_BUTTON_UPSCALE2
                                                        : COMFY_BUTTON_DELETE;
        comfy_button_msg *b = comfy_button_msg_new(ba, job, ix->application_id, ix->id, ix->token);
        rcmd_origin(ix, &b->origin);
        b->message_id = ix->message_id;
        char *url = rcmd_message_image_url(d->data_json, d->data_len);
        if (url) comfy_button_set_image_url(b, url);
        free(url);
        /* Delete: type 6 (nothing new to show; the runner removes the message); Regenerate and
         * Upscale ×2: a public "thinking" the new job's result will replace */
        if (ba == COMFY_BUTTON_DELETE)
            answer_then(r, ix, &e, reply_deferred_update_json(), &b->hdr, r->cfg.runner);
        else
            defer_then(r, ix, &e, false, &b->hdr, r->cfg.runner);
        return;
    }
    rpend_entry e = entry_for(ix, t0, ROUTER_CMD_UNKNOWN);
    reply_error(r, ix, &e,
                "This button is not one this bot knows (it may be from an older version).",
                ROUTER_OUT_INVALID);
}

static void on_autocomplete(router *r, const ix_interaction *ix, uint64_t t0)
{
    rpend_entry e = entry_for(ix, t0, ROUTER_CMD_AUTOCOMPLETE);
    reply_json(r, ix, &e, rcmd_autocomplete_json(ix, r->cfg.catalog), true, ROUTER_OUT_OK);
}

/* ---- dispatches ------------------------------------------------------------------------------ */

static void on_malformed(router *r, const gw_dispatch_msg *d, const ix_error *ie, uint64_t t0)
{
    rcmd_recovered rec;
    rcmd_recover(d->data_json, d->data_len, &rec);
    LOG_WARN(LOGN, "malformed interaction %" PRIu64 " (/%s, seq %" PRIu64 "): %s at %s: %s", rec.id,
             rec.command[0] ? rec.command : "?", d->seq, ix_strerror(ie->code),
             ie->field[0] ? ie->field : "(root)", ie->msg);
    if (!rec.has_reply) {
        count(r, ROUTER_CMD_MALFORMED, ROUTER_OUT_DROPPED);
        return;
    }
    /* Every interaction whose id and token could be read is answered and, like any
     * interaction, gets its failed command_usage row, with its kind when that is known: a
     * modal submit the parser refused (a malformed form) is a "modal" row, an
     * unreadable autocomplete an "autocomplete" one; neither is ever counted as a command. */
    const bool modal = rec.type == IX_MODAL_SUBMIT;
    rpend_entry e = {.kind = RPEND_REPLY,
                     .received_ns = t0,
                     .record = true,
                     .user_id = rec.user_id,
                     .guild_id = rec.guild_id,
                     .channel_id = rec.channel_id,
                     .stat_cmd = ROUTER_CMD_MALFORMED,
                     .stat_outcome = ROUTER_OUT_INVALID,
                     .success = false,
                     .cmd_kind = modal                         ? AN_CMD_MODAL
                                 : rec.type == IX_AUTOCOMPLETE ? AN_CMD_AUTOCOMPLETE
                                                               : AN_CMD_UNKNOWN,
                     .interaction_id = rec.id,
                     .application_id = rec.application_id};
    snprintf(e.command, sizeof e.command, "%s", modal ? "modal" : "invalid");
    /* An autocomplete can only be answered with choices. */
    char *body =
        rec.type == IX_AUTOCOMPLETE ? reply_autocomplete_json(NULL, 0)
        : modal ? reply_text_json("This kind of interaction is not supported by this bot.", true)
                : reply_text_json("Sorry, the bot could not read this request.", true);
    respond(r, rec.id, rec.token, body, &e);
}

/* The counter slot of an interaction the moderation gate answered. */
static router_cmd stat_cmd_of(router *r, const ix_interaction *ix)
{
    const char *name = ix->command_name ? ix->command_name : "";
    if (ix->type == IX_COMPONENT)
        return an_confirm_owns(ix->custom_id ? ix->custom_id : "") ? ROUTER_CMD_RESET_BUTTON
                                                                   : ROUTER_CMD_RESULT_BUTTON;
    if (rcmd_decl_of(r->cfg.catalog, name)) return ROUTER_CMD_GENERATE;
    if (strcmp(name, CMD_QUEUE) == 0) return ROUTER_CMD_QUEUE;
    if (strcmp(name, CMD_STATS) == 0) return ROUTER_CMD_STATS;
    if (strcmp(name, CMD_RESET_STATS) == 0) return ROUTER_CMD_RESET_STATS;
    if (strcmp(name, CMD_CANCEL) == 0) return ROUTER_CMD_CANCEL;
    return ROUTER_CMD_UNKNOWN;
}

/* Each thread's reusable space for parsing interactions (ix_parse_scratch): one interaction is
 * parsed and done with before the next (nothing keeps a pointer into it past on_interaction),
 * and cJSON's per-value allocations plus a ~7 KB block per interaction, all freed at once, made
 * glibc consolidate its small free chunks each time (perf at 300 /stats per second). Freed when
 * the thread leaves (on_thread_exit). */
static _Thread_local ix_scratch tl_ix;

static ix_interaction *parse_interaction(const gw_dispatch_msg *d, ix_error *ie)
{
    return ix_parse_scratch(&tl_ix, d->data_json ? d->data_json : "",
                            d->data_json ? d->data_len : 0, ie);
}

static void on_interaction(router *r, const gw_dispatch_msg *d)
{
    atomic_fetch_add(&r->interactions, 1);
    uint64_t t0 = d->recv_ns ? d->recv_ns : rt_now_ns();
    ix_error ie;
    ix_interaction *ix = parse_interaction(d, &ie);
    if (!ix) {
        on_malformed(r, d, &ie, t0);
        return;
    }
    rmod_verdict v;
    const decl_set *decls = r->cfg.catalog ? r->cfg.catalog->decls : NULL;
    if (rmod_check(r->mod, ix, r->roles, r->manager_role, decls, &v)) {
        rpend_entry e =
            entry_for(ix, t0, v.moderation ? ROUTER_CMD_MODERATION : stat_cmd_of(r, ix));
        router_outcome o = v.outcome == RMOD_DENIED    ? ROUTER_OUT_DENIED
                           : v.outcome == RMOD_INVALID ? ROUTER_OUT_INVALID
                                                       : ROUTER_OUT_OK;
        reply_json(r, ix, &e, v.body, v.success, o);
        return;
    }
    switch (ix->type) {
    case IX_COMMAND:
        on_command(r, ix, t0);
        break;
    case IX_COMPONENT:
        on_component(r, ix, t0, d);
        break;
    case IX_AUTOCOMPLETE:
        on_autocomplete(r, ix, t0);
        break;
    case IX_MODAL_SUBMIT:
        if (opts_dialog_owns(ix->custom_id)) {
            on_opts(r, ix, t0);
            break;
        }
        __attribute__((fallthrough)); /* a modal this bot did not open */
    default: {
        rpend_entry e = entry_for(ix, t0, ROUTER_CMD_UNKNOWN);
        /* A modal submit is recorded as one, never as a command. */
        snprintf(e.command, sizeof e.command, "%s",
                 ix->type == IX_MODAL_SUBMIT ? "modal" : "unknown");
        reply_error(r, ix, &e, "This kind of interaction is not supported by this bot.",
                    ROUTER_OUT_INVALID);
        break;
    }
    }
}

static void on_dispatch(router *r, const gw_dispatch_msg *d)
{
    atomic_fetch_add(&r->dispatches, 1);
    if (strcmp(d->event, "INTERACTION_CREATE") == 0) {
        on_interaction(r, d);
        return;
    }
    if (strncmp(d->event, "GUILD_", 6) == 0) {
        int rc = gw_roles_apply(r->roles, d->event, d->data_json ? d->data_json : "", d->data_len);
        if (rc < 0)
            LOG_WARN(LOGN, "malformed %s (seq %" PRIu64 ") left the role cache unchanged", d->event,
                     d->seq);
        else
            atomic_fetch_add(&r->role_events, 1);
        return;
    }
    LOG_DEBUG(LOGN, "ignored dispatch %s", d->event);
}

/* ---- answers ------------------------------------------------------------------------------- */

static void forward_work(router *r, rpend_entry *e)
{
    rt_msg *w = e->work;
    e->work = NULL;
    if (rt_send_spill((rt_actor *)e->target, w) != 0) {
        LOG_WARN(LOGN, "%s: %s stopped, work dropped", e->command,
                 rt_actor_name((rt_actor *)e->target));
        rt_msg_free(w);
        finish(r, e, ROUTER_OUT_DROPPED, false);
        return;
    }
    finish(r, e, e->stat_outcome, e->success);
}

static void start_reset(router *r, rpend_entry *ack)
{
    rpend_entry run = {.kind = RPEND_RESET_DONE,
                       .received_ns = ack->received_ns,
                       .record = false,
                       .user_id = ack->user_id,
                       .guild_id = ack->guild_id,
                       .stat_cmd = ack->stat_cmd,
                       .application_id = ack->application_id,
                       .token = ack->token};
    snprintf(run.command, sizeof run.command, "%s", ack->command);
    ack->token = NULL;
    run.deadline_ms = rt_now_ms() + r->cfg.pending_timeout_ms * RESET_WAIT_FACTOR;
    uint64_t cookie = rpend_add(r->pend, &run);
    if (!cookie) {
        char *body = an_reset_done_json(0, "the bot is too busy; please try again");
        edit_original(r, run.application_id, run.token, body);
        free(body);
        rpend_entry_release(&run);
        finish(r, ack, ROUTER_OUT_DROPPED, false);
        return;
    }
    rt_actor_hold(r->self);
    if (an_request_reset(r->cfg.analytics, r->self, cookie) != 0) {
        rpend_entry back;
        if (rpend_take(r->pend, cookie, &back)) {
            char *body = an_reset_done_json(0, "the analytics writer is not running");
            edit_original(r, back.application_id, back.token, body);
            free(body);
            rpend_entry_release(&back);
            rt_actor_release(r->self);
        }
        finish(r, ack, ROUTER_OUT_DROPPED, false);
        return;
    }
    atomic_fetch_add(&r->resets, 1);
    LOG_INFO(LOGN, "statistics reset requested by user %" PRIu64 " in guild %" PRIu64, ack->user_id,
             ack->guild_id);
    /* Recorded after the request, so the click that reset the statistics is their first row. */
    finish(r, ack, ROUTER_OUT_OK, true);
}

static void on_rest_res(router *r, const rest_res_msg *res)
{
    rpend_entry e;
    if (!rpend_take(r->pend, res->cookie, &e)) {
        atomic_fetch_add(&r->stale, 1);
        LOG_DEBUG(LOGN, "answer (status %d) for no pending interaction", res->status);
        return;
    }
    bool ok = res->status >= 200 && res->status < 300;
    if (e.kind != RPEND_RESET_DONE) {
        /* The user-visible latency of the first answer: the frame's arrival to Discord's
         * answer to the callback (what an operator compares with the 3 s window). */
        uint64_t now = rt_now_ns();
        atomic_fetch_add(&r->callback_ns_sum, now > e.received_ns ? now - e.received_ns : 0);
        atomic_fetch_add(&r->callbacks_timed, 1);
    }
    if (!ok) {
        LOG_WARN(LOGN, "callback for %s (user %" PRIu64 ") failed: status %d%s%s%s", e.command,
                 e.user_id, res->status, res->error[0] ? " (" : "", res->error,
                 res->error[0] ? ")" : "");
        if (e.kind == RPEND_FORWARD) LOG_WARN(LOGN, "%s: work dropped", e.command);
        finish(r, &e, ROUTER_OUT_ACK_FAILED, false);
    } else if (e.kind == RPEND_FORWARD) {
        forward_work(r, &e);
    } else if (e.kind == RPEND_RESET_ACK) {
        start_reset(r, &e);
    } else if (e.kind == RPEND_REPLY) {
        finish(r, &e, e.stat_outcome, e.success);
    } else {
        atomic_fetch_add(&r->stale, 1); /* a REST answer for a reset entry: not ours */
    }
    rpend_entry_release(&e);
    rt_actor_release(r->self);
}

static void on_reset_done(router *r, const an_done_msg *dm)
{
    rpend_entry e;
    if (!rpend_take(r->pend, dm->cookie, &e)) {
        atomic_fetch_add(&r->stale, 1);
        return;
    }
    if (dm->error[0])
        LOG_WARN(LOGN, "statistics reset failed: %s", dm->error);
    else
        LOG_INFO(LOGN, "statistics reset: %" PRIu64 " rows deleted", dm->rows_deleted);
    char *body = an_reset_done_json(dm->rows_deleted, dm->error[0] ? dm->error : NULL);
    edit_original(r, e.application_id, e.token, body);
    free(body);
    rpend_entry_release(&e);
    rt_actor_release(r->self);
}

static void sweep(router *r)
{
    rpend_entry out[EXPIRE_BATCH];
    size_t n;
    do {
        n = rpend_expire(r->pend, rt_now_ms(), out, EXPIRE_BATCH);
        for (size_t i = 0; i < n; i++) {
            rpend_entry *e = &out[i];
            if (e->kind == RPEND_RESET_DONE) {
                LOG_WARN(LOGN, "no answer to a statistics reset yet; telling the user");
                char *body = an_reset_done_json(
                    0, "no answer from the database yet; the reset may still complete");
                edit_original(r, e->application_id, e->token, body);
                free(body);
            } else {
                LOG_WARN(LOGN, "no answer to the callback for %s (user %" PRIu64 ") in time%s",
                         e->command, e->user_id, e->kind == RPEND_FORWARD ? "; work dropped" : "");
                finish(r, e, ROUTER_OUT_TIMEOUT, false);
            }
            rpend_entry_release(e);
            rt_actor_release(r->self);
        }
    } while (n == EXPIRE_BATCH);
}

/* ---- actor glue ------------------------------------------------------------------------------ */

static void on_message(rt_actor *self, void *state, rt_msg *m)
{
    (void)self;
    router *r = state;
    switch (m->type) {
    case MSG_GW_DISPATCH:
        on_dispatch(r, (const gw_dispatch_msg *)m);
        break;
    case MSG_REST_RES:
        on_rest_res(r, (const rest_res_msg *)m);
        break;
    case MSG_AN_RESET_DONE:
        on_reset_done(r, (const an_done_msg *)m);
        break;
    case MSG_COMFY_LOOKUP_RES:
        on_lookup_res(r, (comfy_lookup_res_msg *)m);
        break;
    case RT_MSG_TIMER:
        sweep(r);
        break;
    default:
        LOG_DEBUG(LOGN, "ignored message type %u", m->type);
        break;
    }
    rt_msg_free(m);
}

static int on_thread_start(rt_actor *self, void *state, unsigned index)
{
    router *r = state;
    atomic_fetch_add(&r->threads_alive, 1);
    if (index == 0)
        atomic_store(&r->timer_id,
                     rt_timer_start(self, r->cfg.sweep_ms, r->cfg.sweep_ms, SWEEP_TAG));
    return 0;
}

static void on_thread_exit(rt_actor *self, void *state, unsigned index)
{
    (void)index;
    router *r = state;
    ix_scratch_free(&tl_ix);
    /* The last thread out: nothing is pending any more (holds), so the sweep can go. */
    if (atomic_fetch_sub(&r->threads_alive, 1) == 1) {
        uint64_t id = atomic_exchange(&r->timer_id, 0);
        if (id) rt_timer_cancel(rt_actor_system(self), id);
    }
}

void router_config_from(router_config *rc, const fb_config *cfg)
{
    memset(rc, 0, sizeof *rc);
    rc->threads = cfg->router_threads > 0 ? (unsigned)cfg->router_threads : 0;
    rc->lane_capacity = cfg->mailbox_capacity > 0 ? (unsigned)cfg->mailbox_capacity : 0;
    rc->manager_role = cfg->bot_manager_role;
    rc->stats_managers_only = cfg->stats_managers_only;
}

router *router_new(rt_system *sys, const router_config *rc)
{
    if (!rc->rest) {
        LOG_ERROR(LOGN, "the router needs the discord_rest actor");
        return NULL;
    }
    router *r = calloc(1, sizeof *r);
    if (!r) return NULL;
    r->cfg = *rc;
    if (!r->cfg.threads) r->cfg.threads = 2;
    if (!r->cfg.lane_capacity) r->cfg.lane_capacity = 1024;
    if (!r->cfg.pending_max) r->cfg.pending_max = 4096;
    if (!r->cfg.pending_timeout_ms) r->cfg.pending_timeout_ms = 15000;
    if (!r->cfg.sweep_ms) r->cfg.sweep_ms = 1000;
    if (!r->cfg.confirm_max) r->cfg.confirm_max = 256;
    snprintf(r->manager_role, sizeof r->manager_role, "%s",
             rc->manager_role && *rc->manager_role ? rc->manager_role : AN_DEFAULT_MANAGER_ROLE);
    r->cfg.manager_role = r->manager_role;
    r->pend = rpend_new(r->cfg.pending_max);
    r->confirm = an_confirm_new(r->cfg.confirm_max, r->cfg.confirm_ttl_ms);
    r->opts = opts_state_new(r->cfg.options_max, r->cfg.options_ttl_ms);
    r->mod = rc->mod;
    if (!r->mod) {
        r->mod = mod_state_new(&(mod_config){.max_warnings = 2});
        r->own_mod = true;
    }
    /* Moderation changes go to the analytics writer like every other row (mod_state.h). */
    if (rc->analytics) mod_state_set_recorder(r->mod, an_record_mod_change, rc->analytics);
    r->roles = rc->roles;
    if (!r->roles) {
        r->roles = gw_roles_new();
        r->own_roles = true;
    }
    rt_actor_spec spec = {.name = ROUTER_ACTOR_NAME,
                          .threads = r->cfg.threads,
                          .lane_capacity = r->cfg.lane_capacity,
                          .state = r,
                          .ops = {.on_thread_start = on_thread_start,
                                  .on_message = on_message,
                                  .on_thread_exit = on_thread_exit}};
    r->self = rt_actor_new(sys, &spec);
    if (!r->self || !r->pend || !r->confirm || !r->opts || !r->roles) {
        LOG_ERROR(LOGN, "cannot create the router actor");
        router_free(r);
        return NULL;
    }
    return r;
}

rt_actor *router_actor(router *r)
{
    return r->self;
}

gw_roles *router_roles(router *r)
{
    return r->roles;
}

mod_state *router_moderation(router *r)
{
    return r->mod;
}

void router_free(router *r)
{
    if (!r) return;
    rpend_free(r->pend);
    an_confirm_free(r->confirm);
    opts_state_free(r->opts);
    if (r->own_roles) gw_roles_free(r->roles);
    if (r->own_mod) mod_state_free(r->mod);
    free(r);
}
