/*
 * The router actor on the real runtime, with in-process actors standing in for the REST actor,
 * the runner, the stats reporter and the analytics writer. They record every message the
 * router sends them and answer the way the real ones do (MSG_REST_RES with a chosen status,
 * or held until the test releases it; MSG_AN_RESET_DONE), so ordering, timeouts, rows and
 * counters are checked without sockets.
 * fluxbot-test: tsan
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>
#include <pthread.h>
#include <time.h>

#include "actors/analytics_writer.h"
#include "actors/router.h"
#include "analytics/an_confirm.h"
#include "comfy/cjob.h"
#include "fluxbot/log.h"
#include "fluxbot/runtime.h"
#include "util/util_time.h"
#include "msgs/an.h"
#include "msgs/comfy.h"
#include "msgs/gw.h"
#include "msgs/rest.h"
#include "msgs/stats.h"
#include "trx.h"
#include "util/util_cjarena.h"

#define MAXREC 1024

typedef enum { ST_REST, ST_OTHER, ST_WRITER } st_kind;

typedef struct stand {
    st_kind kind;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    rt_msg *msgs[MAXREC];
    size_t n;
    int status; /* REST: status of the answers; 0 = hold until stand_answer */
    bool answered[MAXREC];
    rt_actor *self;
} stand;

static void reply_rest(stand *s, size_t i, int status)
{
    rest_req_msg *q = (rest_req_msg *)s->msgs[i];
    s->answered[i] = true;
    if (!q->reply_to) return;
    rest_res_msg *res = rest_res_msg_new(q->cookie, status, NULL, 0);
    if (rt_send_wait(q->reply_to, &res->hdr, 2000) != 0) rt_msg_free(&res->hdr);
}

static void stand_on_message(rt_actor *self, void *state, rt_msg *m)
{
    (void)self;
    stand *s = state;
    pthread_mutex_lock(&s->mu);
    if (s->n == MAXREC) {
        pthread_mutex_unlock(&s->mu);
        rt_msg_free(m);
        return;
    }
    size_t i = s->n++;
    s->msgs[i] = m;
    if (s->kind == ST_REST && m->type == MSG_REST_REQ && s->status) reply_rest(s, i, s->status);
    if (s->kind == ST_WRITER && m->type == MSG_AN_RESET) {
        an_control_msg *c = (an_control_msg *)m;
        uint64_t rows = 0;
        for (size_t k = 0; k < i; k++)
            if (s->msgs[k]->type == MSG_AN_EVENT) rows++;
        an_done_msg *d = an_done_msg_new(MSG_AN_RESET_DONE, c->cookie, rows, "");
        if (rt_send_wait(c->reply_to, &d->hdr, 2000) != 0) rt_msg_free(&d->hdr);
    }
    pthread_cond_broadcast(&s->cv);
    pthread_mutex_unlock(&s->mu);
}

static void stand_init(stand *s, rt_system *sys, const char *name, st_kind kind)
{
    memset(s, 0, sizeof *s);
    s->kind = kind;
    s->status = 204;
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->cv, NULL);
    rt_actor_spec spec = {.name = name,
                          .threads = 1,
                          .lane_capacity = 256,
                          .state = s,
                          /* no periodic tick like the real writer's: wake for every lazily
                             sent analytics event */
                          .lazy_wake_depth = 1,
                          .ops = {.on_message = stand_on_message}};
    s->self = rt_actor_new(sys, &spec);
}

static void stand_free(stand *s)
{
    for (size_t i = 0; i < s->n; i++)
        rt_msg_free(s->msgs[i]);
    pthread_mutex_destroy(&s->mu);
    pthread_cond_destroy(&s->cv);
}

static size_t count_locked(stand *s, uint16_t type)
{
    size_t c = 0;
    for (size_t i = 0; i < s->n; i++)
        if (s->msgs[i]->type == type) c++;
    return c;
}

static size_t stand_count(stand *s, uint16_t type)
{
    pthread_mutex_lock(&s->mu);
    size_t c = count_locked(s, type);
    pthread_mutex_unlock(&s->mu);
    return c;
}

/* Waits until at least n messages of type arrived; returns how many did. */
static size_t stand_wait(stand *s, uint16_t type, size_t n, int timeout_ms)
{
    struct timespec dl;
    clock_gettime(CLOCK_REALTIME, &dl);
    dl.tv_sec += timeout_ms / 1000;
    dl.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
    if (dl.tv_nsec >= 1000000000L) {
        dl.tv_sec++;
        dl.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&s->mu);
    size_t c;
    while ((c = count_locked(s, type)) < n)
        if (pthread_cond_timedwait(&s->cv, &s->mu, &dl) != 0) break;
    c = count_locked(s, type);
    pthread_mutex_unlock(&s->mu);
    return c;
}

/* The idx-th message of type (stays owned by the stand). */
static rt_msg *stand_get(stand *s, uint16_t type, size_t idx)
{
    pthread_mutex_lock(&s->mu);
    rt_msg *found = NULL;
    for (size_t i = 0; i < s->n && !found; i++)
        if (s->msgs[i]->type == type && idx-- == 0) found = s->msgs[i];
    pthread_mutex_unlock(&s->mu);
    return found;
}

/* Answers every held REST request (in arrival order) with status. */
static void stand_answer_all(stand *s, int status)
{
    pthread_mutex_lock(&s->mu);
    for (size_t i = 0; i < s->n; i++)
        if (s->msgs[i]->type == MSG_REST_REQ && !s->answered[i]) reply_rest(s, i, status);
    pthread_mutex_unlock(&s->mu);
}

static void stand_set_status(stand *s, int status)
{
    pthread_mutex_lock(&s->mu);
    s->status = status;
    pthread_mutex_unlock(&s->mu);
}

/* ---- fixture ------------------------------------------------------------------------------ */

typedef struct fx {
    rt_system *sys;
    stand rest, runner, stats, writer;
    router *r;
    rt_actor *ra;
    trx_catalog *cat;
    uint64_t next_id;
    uint64_t seq;
} fx;

typedef void (*fx_tune)(router_config *rc);

static fx *fx_start(fx_tune tune)
{
    log_configure(LOG_LEVEL_ERROR, false, 2);
    fx *x = calloc(1, sizeof *x);
    x->cat = trx_catalog_load();
    x->sys = rt_system_new();
    stand_init(&x->writer, x->sys, "analytics", ST_WRITER);
    stand_init(&x->rest, x->sys, "discord_rest", ST_REST);
    stand_init(&x->stats, x->sys, "stats", ST_OTHER);
    stand_init(&x->runner, x->sys, "comfy", ST_OTHER);
    router_config rc = {.threads = 2,
                        .rest = x->rest.self,
                        .runner = x->runner.self,
                        .stats = x->stats.self,
                        .analytics = x->writer.self,
                        .catalog = &x->cat->cat,
                        .manager_role = "Bot Manager",
                        .sweep_ms = 50};
    if (tune) tune(&rc);
    x->r = router_new(x->sys, &rc);
    assert_non_null(x->r);
    x->ra = router_actor(x->r);
    assert_int_equal(rt_system_start(x->sys), 0);
    x->next_id = 5000;
    return x;
}

static void fx_stop(fx *x)
{
    rt_system_stop(x->sys);
    rt_system_free(x->sys);
    router_free(x->r);
    stand_free(&x->rest);
    stand_free(&x->runner);
    stand_free(&x->stats);
    stand_free(&x->writer);
    trx_catalog_free(x->cat);
    free(x);
}

static void fx_dispatch(fx *x, const char *event, char *json)
{
    gw_dispatch_msg *d = gw_dispatch_msg_new(event, 0, ++x->seq, json, strlen(json));
    free(json);
    assert_int_equal(rt_send_wait(x->ra, &d->hdr, 2000), 0);
}

/* Injects a command; returns its interaction id (token "tok-<id>"). */
static uint64_t fx_command(fx *x, const char *name, const char *opts, const char *resolved,
                           const trx_who *who)
{
    uint64_t id = ++x->next_id;
    char tok[32];
    snprintf(tok, sizeof tok, "tok-%" PRIu64, id);
    fx_dispatch(x, "INTERACTION_CREATE", trx_command(2, id, tok, name, opts, resolved, who));
    return id;
}

static uint64_t fx_click(fx *x, const char *custom_id, const char *atts, const trx_who *who)
{
    uint64_t id = ++x->next_id;
    char tok[32];
    snprintf(tok, sizeof tok, "tok-%" PRIu64, id);
    fx_dispatch(x, "INTERACTION_CREATE", trx_component(id, tok, custom_id, 4242, atts, who));
    return id;
}

/* The idx-th REST request, its JSON parsed (caller deletes). */
static cJSON *rest_json(fx *x, size_t idx, rest_req_msg **req)
{
    assert_true(stand_wait(&x->rest, MSG_REST_REQ, idx + 1, 3000) >= idx + 1);
    rest_req_msg *q = (rest_req_msg *)stand_get(&x->rest, MSG_REST_REQ, idx);
    if (req) *req = q;
    cJSON *o = cJSON_Parse(q->json);
    assert_non_null(o);
    return o;
}

static void assert_callback_path(const rest_req_msg *q, uint64_t id)
{
    char want[96];
    snprintf(want, sizeof want, "/interactions/%" PRIu64 "/tok-%" PRIu64 "/callback", id, id);
    assert_int_equal(q->method, REST_POST);
    assert_string_equal(q->path, want);
}

static int cb_type(const cJSON *o)
{
    return cJSON_GetObjectItem(o, "type")->valueint;
}

static int cb_flags(const cJSON *o)
{
    const cJSON *f = cJSON_GetObjectItem(cJSON_GetObjectItem(o, "data"), "flags");
    return f ? f->valueint : 0;
}

static const char *cb_content(const cJSON *o)
{
    const cJSON *c = cJSON_GetObjectItem(cJSON_GetObjectItem(o, "data"), "content");
    return c ? c->valuestring : "";
}

/* The idx-th command_usage event the router recorded. */
static const an_event *row(fx *x, size_t idx)
{
    assert_true(stand_wait(&x->writer, MSG_AN_EVENT, idx + 1, 3000) >= idx + 1);
    an_event_msg *e = (an_event_msg *)stand_get(&x->writer, MSG_AN_EVENT, idx);
    assert_int_equal(e->ev.kind, AN_EV_COMMAND);
    return &e->ev;
}

static uint64_t outcome(fx *x, router_cmd c, router_outcome o)
{
    router_counters st;
    router_counters_get(x->r, &st);
    return st.by[c][o];
}

static void wait_outcome(fx *x, router_cmd c, router_outcome o, uint64_t n)
{
    for (int i = 0; i < 300 && outcome(x, c, o) < n; i++) {
        struct timespec d = {0, 10000000L};
        nanosleep(&d, NULL);
    }
    assert_int_equal(outcome(x, c, o), n);
}

static void settle(void)
{
    struct timespec d = {0, 150000000L};
    nanosleep(&d, NULL);
}

static const char *comfy_opts = "[{\"name\":\"prompt\",\"type\":3,\"value\":\"a red fox\"},"
                                "{\"name\":\"resolution\",\"type\":3,"
                                "\"value\":\"1:1 [1024x1024 square]\"},"
                                "{\"name\":\"lora\",\"type\":3,\"value\":\"Watercolor\"}]";

/* ---- tests ----------------------------------------------------------------------------------- */

static void job_is_forwarded_only_after_the_defer_is_accepted(void **state)
{
    (void)state;
    fx *x = fx_start(NULL);
    stand_set_status(&x->rest, 0); /* hold callbacks */
    uint64_t id = fx_command(x, "comfy", comfy_opts, NULL, NULL);
    rest_req_msg *q;
    cJSON *cb = rest_json(x, 0, &q);
    assert_callback_path(q, id);
    assert_int_equal(cb_type(cb), 5);
    assert_int_equal(cb_flags(cb), 0); /* the generation message is public */
    assert_ptr_equal(q->reply_to, x->ra);
    cJSON_Delete(cb);

    settle();
    assert_int_equal(stand_count(&x->runner, MSG_COMFY_START), 0); /* not before the ack */
    assert_int_equal(stand_count(&x->writer, MSG_AN_EVENT), 0);

    stand_answer_all(&x->rest, 204);
    /* the router forwards the resolved job: the runner applies its limits and runs it */
    assert_int_equal(stand_wait(&x->runner, MSG_COMFY_START, 1, 3000), 1);
    cjob *j = ((comfy_start_msg *)stand_get(&x->runner, MSG_COMFY_START, 0))->job;
    assert_int_equal(j->kind, COMFY_KIND_IMAGE);
    assert_int_equal(j->reply.interaction_id, id);
    assert_int_equal(j->reply.application_id, TRX_APP);
    assert_string_equal(j->user_prompt, "a red fox");
    assert_string_equal(j->lora_name[0], "Watercolor");
    assert_true(j->received_wall_ms > 1600000000000ULL);

    const an_event *ev = row(x, 0);
    assert_string_equal(ev->command, "comfy");
    assert_true(ev->success);
    assert_int_equal(ev->user_id, 800000000000000001ULL);
    assert_int_equal(ev->guild_id, TRX_GUILD);
    assert_int_equal(ev->channel_id, TRX_CHANNEL);
    assert_true(ev->duration_ms >= 100); /* received → answered, and we held the answer */
    wait_outcome(x, ROUTER_CMD_GENERATE, ROUTER_OUT_OK, 1);
    fx_stop(x);
}

static void failed_defer_drops_the_work(void **state)
{
    (void)state;
    fx *x = fx_start(NULL);
    stand_set_status(&x->rest, 404); /* Unknown interaction (expired) */
    fx_command(x, "comfy", comfy_opts, NULL, NULL);
    const an_event *ev = row(x, 0);
    assert_string_equal(ev->command, "comfy");
    assert_false(ev->success);
    wait_outcome(x, ROUTER_CMD_GENERATE, ROUTER_OUT_ACK_FAILED, 1);
    settle();
    assert_int_equal(stand_count(&x->runner, MSG_COMFY_START), 0);
    fx_stop(x);
}

static void bad_options_get_an_immediate_ephemeral_error(void **state)
{
    (void)state;
    fx *x = fx_start(NULL);
    uint64_t id = fx_command(x, "comfy",
                             "[{\"name\":\"prompt\",\"type\":3,\"value\":\"x\"},"
                             "{\"name\":\"upscale_factor\",\"type\":4,\"value\":9}]",
                             NULL, NULL);
    rest_req_msg *q;
    cJSON *cb = rest_json(x, 0, &q);
    assert_callback_path(q, id);
    assert_int_equal(cb_type(cb), 4);
    assert_int_equal(cb_flags(cb), 64);
    assert_non_null(strstr(cb_content(cb), "upscale_factor"));
    cJSON_Delete(cb);

    fx_command(x, "comfy",
               "[{\"name\":\"prompt\",\"type\":3,\"value\":\"x\"},"
               "{\"name\":\"resolution\",\"type\":3,\"value\":\"nope\"}]",
               NULL, NULL);
    cb = rest_json(x, 1, NULL);
    assert_int_equal(cb_type(cb), 4);
    assert_non_null(strstr(cb_content(cb), "Unknown resolution"));
    cJSON_Delete(cb);

    assert_false(row(x, 0)->success);
    assert_false(row(x, 1)->success);
    wait_outcome(x, ROUTER_CMD_GENERATE, ROUTER_OUT_INVALID, 2);
    assert_int_equal(stand_count(&x->runner, MSG_COMFY_START), 0);
    fx_stop(x);
}

static void autocomplete_answers_choices_and_is_recorded_as_such(void **state)
{
    (void)state;
    fx *x = fx_start(NULL);
    uint64_t id = ++x->next_id;
    fx_dispatch(x, "INTERACTION_CREATE",
                trx_command(4, id, "tok-ac", "comfy",
                            "[{\"name\":\"lora\",\"type\":3,\"value\":\"anim\",\"focused\":true}]",
                            NULL, NULL));
    cJSON *cb = rest_json(x, 0, NULL);
    assert_int_equal(cb_type(cb), 8);
    cJSON *choices = cJSON_GetObjectItem(cJSON_GetObjectItem(cb, "data"), "choices");
    assert_true(cJSON_GetArraySize(choices) >= 1);
    assert_string_equal(cJSON_GetObjectItem(cJSON_GetArrayItem(choices, 0), "name")->valuestring,
                        "Anime Style");
    cJSON_Delete(cb);
    wait_outcome(x, ROUTER_CMD_AUTOCOMPLETE, ROUTER_OUT_OK, 1);
    /* Recorded with its kind, so it is never counted as a command. */
    const an_event *e = row(x, 0);
    assert_int_equal(e->cmd_kind, AN_CMD_AUTOCOMPLETE);
    assert_string_equal(e->command, "comfy");
    assert_int_equal(e->interaction_id, id);
    settle();
    assert_int_equal(stand_count(&x->writer, MSG_AN_EVENT), 1);
    fx_stop(x);
}

static void stats_defers_ephemerally_then_queries(void **state)
{
    (void)state;
    fx *x = fx_start(NULL);
    stand_set_status(&x->rest, 0);
    fx_command(x, "stats", "[{\"name\":\"days\",\"type\":4,\"value\":3}]", NULL, NULL);
    cJSON *cb = rest_json(x, 0, NULL);
    assert_int_equal(cb_type(cb), 5);
    assert_int_equal(cb_flags(cb), 64);
    cJSON_Delete(cb);
    settle();
    assert_int_equal(stand_count(&x->stats, MSG_STATS_QUERY), 0);
    stand_answer_all(&x->rest, 204);
    assert_int_equal(stand_wait(&x->stats, MSG_STATS_QUERY, 1, 3000), 1);
    stats_query_msg *s = (stats_query_msg *)stand_get(&x->stats, MSG_STATS_QUERY, 0);
    assert_int_equal(s->days, 3);
    assert_string_equal(s->application_id, "424242424242");
    assert_ptr_equal(s->rest, x->rest.self);
    assert_string_equal(row(x, 0)->command, "stats");

    /* Out of range: answered at once, nothing queried. */
    stand_set_status(&x->rest, 204);
    fx_command(x, "stats", "[{\"name\":\"days\",\"type\":4,\"value\":0}]", NULL, NULL);
    cb = rest_json(x, 1, NULL);
    assert_int_equal(cb_type(cb), 4);
    assert_int_equal(cb_flags(cb), 64);
    cJSON_Delete(cb);
    assert_false(row(x, 1)->success);
    settle();
    assert_int_equal(stand_count(&x->stats, MSG_STATS_QUERY), 1);
    fx_stop(x);
}

static void managers_only(router_config *rc)
{
    rc->stats_managers_only = true;
}

static void stats_for_managers_only_when_configured(void **state)
{
    (void)state;
    fx *x = fx_start(managers_only);
    fx_command(x, "stats", NULL, NULL, NULL);
    cJSON *cb = rest_json(x, 0, NULL);
    assert_int_equal(cb_type(cb), 4);
    assert_int_equal(cb_flags(cb), 64);
    cJSON_Delete(cb);
    wait_outcome(x, ROUTER_CMD_STATS, ROUTER_OUT_DENIED, 1);

    trx_who admin = {.permissions = 8};
    fx_command(x, "stats", NULL, NULL, &admin);
    cb = rest_json(x, 1, NULL);
    assert_int_equal(cb_type(cb), 5);
    cJSON_Delete(cb);
    assert_int_equal(stand_wait(&x->stats, MSG_STATS_QUERY, 1, 3000), 1);
    fx_stop(x);
}

static char *prompt_custom_id(cJSON *cb, int button)
{
    cJSON *rows = cJSON_GetObjectItem(cJSON_GetObjectItem(cb, "data"), "components");
    cJSON *btn =
        cJSON_GetArrayItem(cJSON_GetObjectItem(cJSON_GetArrayItem(rows, 0), "components"), button);
    return strdup(cJSON_GetObjectItem(btn, "custom_id")->valuestring);
}

static void reset_stats_flow(void **state)
{
    (void)state;
    fx *x = fx_start(NULL);
    /* A member without the admin bit or the role: refused, failed row. */
    fx_command(x, "reset_stats", NULL, NULL, NULL);
    cJSON *cb = rest_json(x, 0, NULL);
    assert_int_equal(cb_type(cb), 4);
    assert_int_equal(cb_flags(cb), 64);
    cJSON_Delete(cb);
    assert_false(row(x, 0)->success);
    assert_string_equal(row(x, 0)->command, "reset_stats");
    wait_outcome(x, ROUTER_CMD_RESET_STATS, ROUTER_OUT_DENIED, 1);

    /* A bot manager by role name, known from the role cache. */
    fx_dispatch(x, "GUILD_CREATE",
                strdup("{\"id\":\"700000000000000001\",\"roles\":["
                       "{\"id\":\"61\",\"name\":\"Bot Manager\",\"permissions\":\"0\"}]}"));
    /* Router threads run in parallel: let the role event land before the command that needs
     * it (in the bot the gateway applies role events before reading the next frame). */
    router_counters rs;
    uint64_t until = rt_now_ms() + 3000;
    do {
        router_counters_get(x->r, &rs);
    } while (rs.role_events < 1 && rt_now_ms() < until && (util_sleep_ms(1), true));
    assert_int_equal(rs.role_events, 1);
    uint64_t mgr_roles[] = {61};
    trx_who mgr = {.user_id = 800000000000000009ULL, .roles = mgr_roles, .nroles = 1};
    fx_command(x, "reset_stats", NULL, NULL, &mgr);
    cb = rest_json(x, 1, NULL);
    assert_int_equal(cb_type(cb), 4);
    assert_int_equal(cb_flags(cb), 64);
    char *confirm = prompt_custom_id(cb, 0);
    assert_true(strncmp(confirm, AN_CONFIRM_PREFIX, strlen(AN_CONFIRM_PREFIX)) == 0);
    cJSON_Delete(cb);
    assert_true(row(x, 1)->success);

    /* Someone else presses Confirm: refused, nothing reset. */
    fx_click(x, confirm, NULL, NULL);
    cb = rest_json(x, 2, NULL);
    assert_int_equal(cb_type(cb), 4);
    assert_int_equal(cb_flags(cb), 64);
    cJSON_Delete(cb);
    assert_string_equal(row(x, 2)->command, "button:reset_confirm");
    assert_false(row(x, 2)->success);
    wait_outcome(x, ROUTER_CMD_RESET_BUTTON, ROUTER_OUT_DENIED, 1);
    assert_int_equal(stand_count(&x->writer, MSG_AN_RESET), 0);

    /* The asker confirms: type 7 (buttons removed), then the reset, then the prompt is
     * edited with the result. */
    uint64_t click = fx_click(x, confirm, NULL, &mgr);
    rest_req_msg *q;
    cb = rest_json(x, 3, &q);
    assert_callback_path(q, click);
    assert_int_equal(cb_type(cb), 7);
    assert_int_equal(
        cJSON_GetArraySize(cJSON_GetObjectItem(cJSON_GetObjectItem(cb, "data"), "components")), 0);
    cJSON_Delete(cb);
    assert_int_equal(stand_wait(&x->writer, MSG_AN_RESET, 1, 3000), 1);
    cb = rest_json(x, 4, &q);
    char want[96];
    snprintf(want, sizeof want, "/webhooks/%" PRIu64 "/tok-%" PRIu64 "/messages/@original",
             (uint64_t)TRX_APP, click);
    assert_int_equal(q->method, REST_PATCH);
    assert_string_equal(q->path, want);
    /* The stand-in writer deleted the 3 rows recorded before the reset. */
    assert_non_null(strstr(cJSON_GetObjectItem(cb, "content")->valuestring, "3"));
    cJSON_Delete(cb);
    /* The confirming click is recorded after the reset was asked for. */
    const an_event *ev = row(x, 3);
    assert_string_equal(ev->command, "button:reset_confirm");
    assert_true(ev->success);
    router_counters st;
    router_counters_get(x->r, &st);
    assert_int_equal(st.resets, 1);
    assert_int_equal(st.role_events, 1);

    /* A second press: the prompt is used up. */
    fx_click(x, confirm, NULL, &mgr);
    cb = rest_json(x, 5, NULL);
    assert_int_equal(cb_type(cb), 4);
    cJSON_Delete(cb);
    settle();
    assert_int_equal(stand_count(&x->writer, MSG_AN_RESET), 1);
    free(confirm);
    fx_stop(x);
}

static void result_buttons_and_queue_go_to_the_runner(void **state)
{
    (void)state;
    fx *x = fx_start(NULL);
    /* The router owns the first answer: Regenerate is deferred publicly (the new job's result
     * replaces the "thinking"), then forwarded parsed, after Discord accepted the defer. */
    uint64_t id =
        fx_click(x, "fb:regen:17", "[{\"id\":\"9\",\"url\":\"https://cdn.example/r.png\"}]", NULL);
    rest_req_msg *q;
    cJSON *cb = rest_json(x, 0, &q);
    assert_callback_path(q, id);
    assert_int_equal(cb_type(cb), 5);
    assert_int_equal(cb_flags(cb), 0);
    cJSON_Delete(cb);
    assert_int_equal(stand_wait(&x->runner, MSG_COMFY_BUTTON, 1, 3000), 1);
    comfy_button_msg *b = (comfy_button_msg *)stand_get(&x->runner, MSG_COMFY_BUTTON, 0);
    assert_int_equal(b->action, COMFY_BUTTON_REGENERATE);
    assert_int_equal(b->job_id, 17);
    assert_int_equal(b->reply.interaction_id, id);
    assert_int_equal(b->message_id, 4242);
    assert_string_equal(b->image_url, "https://cdn.example/r.png");
    assert_int_equal(b->origin.user_id, 800000000000000001ULL);
    assert_string_equal(row(x, 0)->command, "button:regenerate");
    assert_int_equal(row(x, 0)->cmd_kind, AN_CMD_BUTTON);
    assert_true(row(x, 0)->interaction_id != 0); /* the runner's outcome finds the row by it */

    /* /queue: an ephemeral defer, which the runner edits */
    id = fx_command(x, "queue", "[{\"name\":\"show\",\"type\":1}]", NULL, NULL);
    cb = rest_json(x, 1, &q);
    assert_callback_path(q, id);
    assert_int_equal(cb_type(cb), 5);
    assert_int_equal(cb_flags(cb), 64);
    cJSON_Delete(cb);
    assert_int_equal(stand_wait(&x->runner, MSG_COMFY_QUEUE, 1, 3000), 1);
    assert_string_equal(row(x, 1)->command, "queue");

    /* Delete by someone who neither asked for the result nor may manage messages: refused
     * ephemerally by the router, nothing reaches the runner */
    fx_click(x, "fb:del:17:5", NULL, NULL);
    cb = rest_json(x, 2, NULL);
    assert_int_equal(cb_type(cb), 4);
    assert_int_equal(cb_flags(cb), 64);
    assert_non_null(strstr(cb_content(cb), "Manage Messages"));
    cJSON_Delete(cb);
    /* Delete by the requester: type 6, then the runner deletes */
    id = fx_click(x, "fb:del:17:800000000000000001", NULL, NULL);
    cb = rest_json(x, 3, &q);
    assert_callback_path(q, id);
    assert_int_equal(cb_type(cb), 6);
    cJSON_Delete(cb);
    assert_int_equal(stand_wait(&x->runner, MSG_COMFY_BUTTON, 2, 3000), 2);
    b = (comfy_button_msg *)stand_get(&x->runner, MSG_COMFY_BUTTON, 1);
    assert_int_equal(b->action, COMFY_BUTTON_DELETE);
    settle();
    assert_int_equal(stand_count(&x->runner, MSG_COMFY_BUTTON), 2);
    assert_int_equal(stand_count(&x->rest, MSG_REST_REQ), 4);
    fx_stop(x);
}

static void unknown_and_malformed_interactions(void **state)
{
    (void)state;
    fx *x = fx_start(NULL);
    fx_command(x, "dance", NULL, NULL, NULL);
    cJSON *cb = rest_json(x, 0, NULL);
    assert_int_equal(cb_type(cb), 4);
    assert_int_equal(cb_flags(cb), 64);
    assert_non_null(strstr(cb_content(cb), "Unknown command"));
    cJSON_Delete(cb);
    assert_string_equal(row(x, 0)->command, "dance");

    fx_click(x, "who:knows", NULL, NULL);
    cb = rest_json(x, 1, NULL);
    assert_int_equal(cb_type(cb), 4);
    assert_int_equal(cb_flags(cb), 64);
    cJSON_Delete(cb);
    assert_string_equal(row(x, 1)->command, "button:unknown");
    assert_int_equal(row(x, 1)->cmd_kind, AN_CMD_BUTTON);
    wait_outcome(x, ROUTER_CMD_UNKNOWN, ROUTER_OUT_INVALID, 2);

    /* Malformed (snowflake as a number in data.id) but id and token are recoverable. */
    fx_dispatch(x, "INTERACTION_CREATE",
                strdup("{\"id\":\"77\",\"application_id\":\"424242424242\",\"type\":2,"
                       "\"token\":\"tok-77\",\"member\":{\"user\":{\"id\":\"5\"}},"
                       "\"data\":{\"id\":1,\"name\":\"comfy\"}}"));
    rest_req_msg *q;
    cb = rest_json(x, 2, &q);
    assert_string_equal(q->path, "/interactions/77/tok-77/callback");
    assert_int_equal(cb_type(cb), 4);
    assert_int_equal(cb_flags(cb), 64);
    cJSON_Delete(cb);
    assert_string_equal(row(x, 2)->command, "invalid");
    assert_int_equal(row(x, 2)->cmd_kind, AN_CMD_UNKNOWN); /* never a popular command */
    wait_outcome(x, ROUTER_CMD_MALFORMED, ROUTER_OUT_INVALID, 1);

    /* A modal submit (the bot opens no modal): refused, recorded as a failed "modal" row of
     * its own kind, never a command. */
    fx_dispatch(x, "INTERACTION_CREATE",
                strdup("{\"id\":\"78\",\"application_id\":\"424242424242\",\"type\":5,"
                       "\"token\":\"tok-78\",\"member\":{\"user\":{\"id\":\"5\"}},"
                       "\"data\":{\"custom_id\":\"form\",\"components\":[]}}"));
    cb = rest_json(x, 3, &q);
    assert_string_equal(q->path, "/interactions/78/tok-78/callback");
    assert_int_equal(cb_type(cb), 4);
    assert_int_equal(cb_flags(cb), 64);
    cJSON_Delete(cb);
    assert_string_equal(row(x, 3)->command, "modal");
    assert_int_equal(row(x, 3)->cmd_kind, AN_CMD_MODAL);
    assert_false(row(x, 3)->success);

    /* Nothing to answer with: counted and logged only. */
    fx_dispatch(x, "INTERACTION_CREATE", strdup("{\"id\":\"1\",\"token\":\"a/b\"}"));
    fx_dispatch(x, "INTERACTION_CREATE", strdup("not json at all"));
    wait_outcome(x, ROUTER_CMD_MALFORMED, ROUTER_OUT_DROPPED, 2);
    assert_int_equal(stand_count(&x->rest, MSG_REST_REQ), 4);
    fx_stop(x);
}

/* Issue 9: payloads the gateway accepted but cJSON refuses (a lone surrogate escape) or that
 * exceed IX_INPUT_MAX were never answered and left no command_usage row. */
static void unreadable_interactions_are_still_answered(void **state)
{
    (void)state;
    fx *x = fx_start(NULL);
    fx_dispatch(x, "INTERACTION_CREATE",
                strdup("{\"id\":\"91\",\"application_id\":\"424242424242\",\"type\":2,"
                       "\"token\":\"tok-91\",\"guild_id\":\"3\",\"channel_id\":\"4\","
                       "\"member\":{\"user\":{\"id\":\"55\"}},\"data\":{\"id\":\"1\","
                       "\"name\":\"comfy\",\"options\":[{\"name\":\"prompt\",\"type\":3,"
                       "\"value\":\"\\ud800\"}]}}"));
    rest_req_msg *q;
    cJSON *cb = rest_json(x, 0, &q);
    assert_string_equal(q->path, "/interactions/91/tok-91/callback");
    assert_int_equal(cb_type(cb), 4);
    assert_int_equal(cb_flags(cb), 64);
    cJSON_Delete(cb);
    const an_event *ev = row(x, 0);
    assert_string_equal(ev->command, "invalid");
    assert_false(ev->success);
    assert_int_equal(ev->user_id, 55);
    assert_int_equal(ev->guild_id, 3);

    /* autocomplete with the same fault: answered with (no) choices */
    fx_dispatch(x, "INTERACTION_CREATE",
                strdup("{\"id\":\"92\",\"application_id\":\"424242424242\",\"type\":4,"
                       "\"token\":\"tok-92\",\"member\":{\"user\":{\"id\":\"55\"}},"
                       "\"data\":{\"id\":\"1\",\"name\":\"comfy\",\"options\":[{\"name\":"
                       "\"lora\",\"type\":3,\"focused\":true,\"value\":\"\\ud800\"}]}}"));
    cb = rest_json(x, 1, &q);
    assert_string_equal(q->path, "/interactions/92/tok-92/callback");
    assert_int_equal(cb_type(cb), 8);
    cJSON_Delete(cb);

    /* a `d` of 300 KB */
    size_t big = 300u * 1024u;
    char *p = malloc(big + 400);
    assert_non_null(p);
    int n = snprintf(p, 400,
                     "{\"id\":\"93\",\"application_id\":\"424242424242\",\"type\":2,"
                     "\"token\":\"tok-93\",\"member\":{\"user\":{\"id\":\"56\"}},"
                     "\"data\":{\"id\":\"1\",\"name\":\"comfy\",\"options\":[{\"name\":"
                     "\"prompt\",\"type\":3,\"value\":\"");
    memset(p + n, 'y', big);
    memcpy(p + n + big, "\"}]}}", 6);
    fx_dispatch(x, "INTERACTION_CREATE", p);
    cb = rest_json(x, 2, &q);
    assert_string_equal(q->path, "/interactions/93/tok-93/callback");
    assert_int_equal(cb_type(cb), 4);
    assert_int_equal(cb_flags(cb), 64);
    cJSON_Delete(cb);
    ev = row(x, 1); /* the autocomplete: recorded with its kind, never a command */
    assert_string_equal(ev->command, "invalid");
    assert_int_equal(ev->cmd_kind, AN_CMD_AUTOCOMPLETE);
    assert_false(ev->success);
    ev = row(x, 2);
    assert_string_equal(ev->command, "invalid");
    assert_int_equal(ev->cmd_kind, AN_CMD_UNKNOWN);
    assert_int_equal(ev->user_id, 56);
    wait_outcome(x, ROUTER_CMD_MALFORMED, ROUTER_OUT_INVALID, 3);
    fx_stop(x);
}

/* Issue 9, defect 7: resolution sent as a number used to run at the default size. */
static void wrongly_typed_option_is_refused(void **state)
{
    (void)state;
    fx *x = fx_start(NULL);
    fx_command(x, "comfy",
               "[{\"name\":\"prompt\",\"type\":3,\"value\":\"a cat\"},"
               "{\"name\":\"resolution\",\"type\":4,\"value\":1024}]",
               NULL, NULL);
    cJSON *cb = rest_json(x, 0, NULL);
    assert_int_equal(cb_type(cb), 4);
    assert_int_equal(cb_flags(cb), 64);
    assert_non_null(strstr(cb_content(cb), "resolution"));
    assert_non_null(strstr(cb_content(cb), "must be text"));
    cJSON_Delete(cb);
    assert_false(row(x, 0)->success);
    assert_string_equal(row(x, 0)->command, "comfy");
    wait_outcome(x, ROUTER_CMD_GENERATE, ROUTER_OUT_INVALID, 1);
    settle();
    assert_int_equal(stand_count(&x->runner, MSG_COMFY_START), 0);
    fx_stop(x);
}

static void quick_timeout(router_config *rc)
{
    rc->pending_timeout_ms = 200;
    rc->sweep_ms = 50;
}

static void unanswered_callbacks_time_out_and_late_answers_are_ignored(void **state)
{
    (void)state;
    fx *x = fx_start(quick_timeout);
    stand_set_status(&x->rest, 0);
    fx_command(x, "comfy", comfy_opts, NULL, NULL);
    wait_outcome(x, ROUTER_CMD_GENERATE, ROUTER_OUT_TIMEOUT, 1);
    assert_false(row(x, 0)->success);
    stand_answer_all(&x->rest, 204); /* too late */
    settle();
    assert_int_equal(stand_count(&x->runner, MSG_COMFY_START), 0);
    router_counters st;
    router_counters_get(x->r, &st);
    assert_int_equal(st.stale_answers, 1);
    assert_int_equal(st.pending, 0);
    fx_stop(x);
}

static void tiny_table(router_config *rc)
{
    rc->pending_max = 2;
}

static void a_full_pending_table_answers_busy(void **state)
{
    (void)state;
    fx *x = fx_start(tiny_table);
    stand_set_status(&x->rest, 0);
    for (int i = 0; i < 3; i++)
        fx_command(x, "comfy", comfy_opts, NULL, NULL);
    assert_int_equal(stand_wait(&x->rest, MSG_REST_REQ, 3, 3000), 3);
    wait_outcome(x, ROUTER_CMD_GENERATE, ROUTER_OUT_DROPPED, 1);
    /* The busy answer is a final ephemeral message, not a defer, sent without a reply. */
    int busy = 0;
    for (size_t i = 0; i < 3; i++) {
        rest_req_msg *q;
        cJSON *cb = rest_json(x, i, &q);
        if (cb_type(cb) == 4) {
            busy++;
            assert_int_equal(cb_flags(cb), 64);
            assert_null(q->reply_to);
        }
        cJSON_Delete(cb);
    }
    assert_int_equal(busy, 1);
    router_counters st;
    router_counters_get(x->r, &st);
    assert_int_equal(st.pending, 2);
    assert_int_equal(st.pending_hwm, 2);
    stand_answer_all(&x->rest, 204);
    assert_int_equal(stand_wait(&x->runner, MSG_COMFY_START, 2, 3000), 2);
    fx_stop(x);
}

static void *answer_later(void *p)
{
    stand *rest = p;
    struct timespec d = {0, 300000000L};
    nanosleep(&d, NULL);
    stand_answer_all(rest, 204);
    return NULL;
}

static void stop_waits_for_pending_callbacks(void **state)
{
    (void)state;
    fx *x = fx_start(NULL);
    stand_set_status(&x->rest, 0);
    fx_command(x, "comfy", comfy_opts, NULL, NULL);
    assert_int_equal(stand_wait(&x->rest, MSG_REST_REQ, 1, 3000), 1);
    /* The defer is answered only after the stop began: the router must still forward the job
     * (it holds itself while anything is pending), and the runner stops after it. */
    pthread_t th;
    pthread_create(&th, NULL, answer_later, &x->rest);
    rt_system_stop(x->sys);
    pthread_join(th, NULL);
    assert_int_equal(stand_count(&x->runner, MSG_COMFY_START), 1);
    assert_int_equal(outcome(x, ROUTER_CMD_GENERATE, ROUTER_OUT_OK), 1);
    fx_stop(x);
}

typedef struct burst_arg {
    fx *x;
    int n;
    uint64_t base;
} burst_arg;

static void *burst_thread(void *p)
{
    burst_arg *a = p;
    for (int i = 0; i < a->n; i++) {
        uint64_t id = a->base + (uint64_t)i;
        char tok[32];
        snprintf(tok, sizeof tok, "tok-%" PRIu64, id);
        char *json = trx_command(2, id, tok, "comfy", comfy_opts, NULL, NULL);
        gw_dispatch_msg *d = gw_dispatch_msg_new("INTERACTION_CREATE", 0, id, json, strlen(json));
        free(json);
        if (rt_send_wait(a->x->ra, &d->hdr, 2000) != 0) rt_msg_free(&d->hdr);
    }
    return NULL;
}

static void many_threads_each_interaction_answered_once(router_config *rc)
{
    rc->threads = 4;
}

static void burst_from_two_senders_is_answered_exactly_once(void **state)
{
    (void)state;
    fx *x = fx_start(many_threads_each_interaction_answered_once);
    burst_arg a = {x, 150, 100000}, b = {x, 150, 200000};
    pthread_t ta, tb;
    pthread_create(&ta, NULL, burst_thread, &a);
    pthread_create(&tb, NULL, burst_thread, &b);
    pthread_join(ta, NULL);
    pthread_join(tb, NULL);
    assert_int_equal(stand_wait(&x->runner, MSG_COMFY_START, 300, 10000), 300);
    assert_int_equal(stand_wait(&x->writer, MSG_AN_EVENT, 300, 5000), 300);
    settle();
    assert_int_equal(stand_count(&x->rest, MSG_REST_REQ), 300);
    /* Each interaction once: the ids seen by the runner are distinct. */
    static bool seen[2][150];
    memset(seen, 0, sizeof seen);
    for (size_t i = 0; i < 300; i++) {
        cjob *j = ((comfy_start_msg *)stand_get(&x->runner, MSG_COMFY_START, i))->job;
        uint64_t id = j->reply.interaction_id;
        int set = id >= 200000;
        size_t k = (size_t)(id - (set ? 200000 : 100000));
        assert_true(k < 150);
        assert_false(seen[set][k]);
        seen[set][k] = true;
    }
    assert_int_equal(outcome(x, ROUTER_CMD_GENERATE, ROUTER_OUT_OK), 300);
    fx_stop(x);
}

int main(void)
{
    util_cjarena_install(); /* cJSON's hooks, as the bot's main sets them */
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(job_is_forwarded_only_after_the_defer_is_accepted),
        cmocka_unit_test(failed_defer_drops_the_work),
        cmocka_unit_test(bad_options_get_an_immediate_ephemeral_error),
        cmocka_unit_test(autocomplete_answers_choices_and_is_recorded_as_such),
        cmocka_unit_test(stats_defers_ephemerally_then_queries),
        cmocka_unit_test(stats_for_managers_only_when_configured),
        cmocka_unit_test(reset_stats_flow),
        cmocka_unit_test(result_buttons_and_queue_go_to_the_runner),
        cmocka_unit_test(unknown_and_malformed_interactions),
        cmocka_unit_test(unreadable_interactions_are_still_answered),
        cmocka_unit_test(wrongly_typed_option_is_refused),
        cmocka_unit_test(unanswered_callbacks_time_out_and_late_answers_are_ignored),
        cmocka_unit_test(a_full_pending_table_answers_busy),
        cmocka_unit_test(stop_waits_for_pending_callbacks),
        cmocka_unit_test(burst_from_two_senders_is_answered_exactly_once),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
