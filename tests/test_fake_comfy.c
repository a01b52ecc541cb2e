/* The fake ComfyUI, driven over real loopback sockets by the runner's own HTTP and websocket
 * clients: routes, validation errors, the exact event order of one prompt, and every fault
 * switch (error at a node, interrupt, websocket drop, restart, silent stall, hang, reject). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "actors/comfy_http.h"
#include "actors/comfy_ws.h"
#include "comfy/cproto.h"
#include "comfy/img.h"
#include "fakes/image_fixture.h"
#include "comfy/wf.h"
#include "fakes/fake_comfy.h"
#include "fluxbot/runtime.h"
#include "util/util_time.h"

#define MAX_EV 4096

typedef struct rec {
    pthread_mutex_t mu;
    cproto_event ev[MAX_EV];
    unsigned n;
    int up;
    unsigned ups, downs;
} rec;

typedef struct fx {
    fake_comfy *f;
    comfy_ws *ws;
    comfy_http *http;
    rec r;
    char err[256];
} fx;

static void on_event(void *ctx, unsigned server, const cproto_event *ev)
{
    (void)server;
    rec *r = ctx;
    pthread_mutex_lock(&r->mu);
    if (r->n < MAX_EV) r->ev[r->n++] = *ev;
    pthread_mutex_unlock(&r->mu);
}

static void on_link(void *ctx, unsigned server, bool up)
{
    (void)server;
    rec *r = ctx;
    pthread_mutex_lock(&r->mu);
    if (up)
        r->ups++;
    else if (r->up)
        r->downs++;
    r->up = up;
    pthread_mutex_unlock(&r->mu);
}

/* Waits until an event of type t (for pid, when given) has arrived; returns its index or -1. */
static int wait_event(fx *x, cproto_ev t, const char *pid, bool node_null, unsigned timeout_ms)
{
    uint64_t end = rt_now_ms() + timeout_ms;
    for (;;) {
        pthread_mutex_lock(&x->r.mu);
        for (unsigned i = 0; i < x->r.n; i++) {
            const cproto_event *e = &x->r.ev[i];
            if (e->type == t && (!pid || strcmp(e->prompt_id, pid) == 0) &&
                (!node_null || e->node_null)) {
                pthread_mutex_unlock(&x->r.mu);
                return (int)i;
            }
        }
        pthread_mutex_unlock(&x->r.mu);
        if (rt_now_ms() > end) return -1;
        util_sleep_ms(2);
    }
}

static bool wait_ups(fx *x, unsigned ups, unsigned timeout_ms)
{
    uint64_t end = rt_now_ms() + timeout_ms;
    for (;;) {
        pthread_mutex_lock(&x->r.mu);
        bool ok = x->r.ups >= ups && x->r.up;
        pthread_mutex_unlock(&x->r.mu);
        if (ok) return true;
        if (rt_now_ms() > end) return false;
        util_sleep_ms(5);
    }
}

static int setup(void **state)
{
    fx *x = calloc(1, sizeof *x);
    pthread_mutex_init(&x->r.mu, NULL);
    static const char *const loras[] = {"known.safetensors"};
    fake_comfy_opts o = {
        .steps = 3, .loras = loras, .nloras = 1, .png_width = 32, .png_height = 24};
    x->f = fake_comfy_start(&o);
    if (!x->f) return -1;
    const char *urls[] = {fake_comfy_url(x->f)};
    comfy_ws_opts wo = {.urls = urls,
                        .n = 1,
                        .client_id = "bot-1",
                        .on_event = on_event,
                        .on_link = on_link,
                        .ctx = &x->r};
    x->ws = comfy_ws_start(&wo, x->err, sizeof x->err);
    if (!x->ws) return -1;
    x->http = comfy_http_new();
    if (!wait_ups(x, 1, 5000)) return -1;
    if (wait_event(x, CPROTO_EV_STATUS, NULL, false, 5000) < 0) return -1;
    *state = x;
    return 0;
}

static int teardown(void **state)
{
    fx *x = *state;
    comfy_ws_stop(x->ws);
    comfy_http_free(x->http);
    fake_comfy_stop(x->f);
    pthread_mutex_destroy(&x->r.mu);
    free(x);
    return 0;
}

static const char *simple_graph =
    "{\"25\":{\"class_type\":\"RandomNoise\",\"inputs\":{\"noise_seed\":%d}},"
    " \"16\":{\"class_type\":\"KSamplerSelect\",\"inputs\":{\"sampler_name\":\"euler\"}},"
    " \"27\":{\"class_type\":\"EmptySD3LatentImage\",\"inputs\":{\"width\":64,\"height\":64,"
    "\"batch_size\":1}},"
    " \"13\":{\"class_type\":\"SamplerCustomAdvanced\",\"inputs\":{\"noise\":[\"25\",0],"
    "\"guider\":[\"25\",0],\"sampler\":[\"16\",0],\"sigmas\":[\"25\",0],\"latent_image\":[\"27\",0]"
    "}},"
    " \"8\":{\"class_type\":\"VAEDecode\",\"inputs\":{\"samples\":[\"13\",0],\"vae\":[\"25\",0]}},"
    " \"9\":{\"class_type\":\"SaveImage\",\"inputs\":{\"filename_prefix\":\"fb/test\","
    "\"images\":[\"8\",0]}}}";

/* POSTs {"prompt": graph, "client_id": "bot-1", ...extra}; returns the HTTP status. */
static int post_prompt(fx *x, const char *graph, const char *extra, cproto_submit *sub)
{
    char *body = malloc(strlen(graph) + 256);
    sprintf(body, "{\"prompt\":%s,\"client_id\":\"bot-1\"%s%s}", graph, extra ? "," : "",
            extra ? extra : "");
    char url[128];
    snprintf(url, sizeof url, "%s/prompt", fake_comfy_url(x->f));
    comfy_http_res r;
    assert_int_equal(comfy_http_post_json(x->http, url, body, 5000, &r), 0);
    free(body);
    int st = r.status;
    cproto_parse_submit(r.status, (const char *)r.body, sub);
    comfy_http_res_free(&r);
    return st;
}

static char *get_text(fx *x, const char *path, int *status)
{
    char url[1024];
    snprintf(url, sizeof url, "%s%s", fake_comfy_url(x->f), path);
    comfy_http_res r;
    assert_int_equal(comfy_http_get(x->http, url, 64u << 20, 5000, &r), 0);
    if (status) *status = r.status;
    char *b = (char *)r.body;
    r.body = NULL;
    comfy_http_res_free(&r);
    return b;
}

/* GET /history/<prompt_id>, parsed for that prompt; returns cproto_parse_history's result. */
static int get_history(fx *x, const char *prompt_id, const char *const *preferred, size_t npref,
                       cproto_history *out)
{
    char path[160];
    snprintf(path, sizeof path, "/history/%s", prompt_id);
    char *h = get_text(x, path, NULL);
    int rc = cproto_parse_history(h, prompt_id, preferred, npref, out);
    free(h);
    return rc;
}

static void test_one_prompt_exact_order(void **state)
{
    fx *x = *state;
    char graph[2048];
    snprintf(graph, sizeof graph, simple_graph, 11);
    cproto_submit sub;
    unsigned base;
    pthread_mutex_lock(&x->r.mu);
    base = x->r.n;
    pthread_mutex_unlock(&x->r.mu);
    assert_int_equal(post_prompt(x, graph, NULL, &sub), 200);
    assert_true(sub.ok);
    assert_int_equal(sub.number, 0); /* the counter starts at 0 */
    int done = wait_event(x, CPROTO_EV_EXECUTING, sub.prompt_id, true, 5000);
    assert_true(done >= 0);
    /* the sequence the reference prescribes */
    static const cproto_ev want[] = {CPROTO_EV_STATUS, CPROTO_EV_STATUS, CPROTO_EV_EXECUTION_START,
                                     CPROTO_EV_EXECUTION_CACHED};
    pthread_mutex_lock(&x->r.mu);
    const cproto_event *e = &x->r.ev[base];
    unsigned n = x->r.n - base;
    pthread_mutex_unlock(&x->r.mu);
    assert_true(n > 8);
    for (unsigned i = 0; i < 4; i++)
        assert_int_equal(e[i].type, want[i]);
    assert_int_equal(e[0].queue_remaining, 1);
    assert_int_equal(e[1].queue_remaining, 1); /* running still counts */
    unsigned i = 4, progress = 0, last_value = 0;
    int executing_13 = -1, executed_9 = -1, success = -1, final_status = -1, null_exec = -1;
    for (; i < n; i++) {
        const cproto_event *v = &e[i];
        if (v->type == CPROTO_EV_EXECUTING && !v->node_null && strcmp(v->node, "13") == 0)
            executing_13 = (int)i;
        if (v->type == CPROTO_EV_PROGRESS) {
            assert_true(executing_13 >= 0); /* progress only after its executing */
            assert_string_equal(v->node, "13");
            assert_string_equal(v->prompt_id, sub.prompt_id);
            assert_int_equal(v->value, last_value + 1);
            assert_int_equal(v->max, 3);
            last_value = v->value;
            progress++;
        }
        if (v->type == CPROTO_EV_EXECUTED && strcmp(v->node, "9") == 0) executed_9 = (int)i;
        if (v->type == CPROTO_EV_SUCCESS) success = (int)i;
        if (v->type == CPROTO_EV_STATUS && success >= 0 && final_status < 0) {
            final_status = (int)i;
            assert_int_equal(v->queue_remaining, 0);
        }
        if (v->type == CPROTO_EV_EXECUTING && v->node_null) null_exec = (int)i;
    }
    assert_int_equal(progress, 3);
    assert_true(executed_9 > executing_13);
    assert_true(success > executed_9);
    assert_true(final_status > success); /* status before the final executing null */
    assert_true(null_exec > final_status);

    /* history, outputs and the real PNG behind /view */
    const char *pref[] = {"9"};
    cproto_history hist;
    assert_int_equal(get_history(x, sub.prompt_id, pref, 1, &hist), 0);
    assert_true(hist.found && hist.success && hist.completed);
    assert_int_equal(hist.noutputs, 1);
    assert_string_equal(hist.outputs[0].subfolder, "fb");
    assert_non_null(strstr(hist.outputs[0].filename, "test_"));
    char view[512];
    assert_int_equal(cproto_view_path(&hist.outputs[0], view, sizeof view), 0);
    char url[1024];
    snprintf(url, sizeof url, "%s%s", fake_comfy_url(x->f), view);
    comfy_http_res r;
    assert_int_equal(comfy_http_get(x->http, url, 1u << 20, 5000, &r), 0);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.content_type, "image/png");
    uint32_t w, hh;
    char err[128];
    assert_int_equal(img_png_validate(r.body, r.len, &w, &hh, err, sizeof err), 0);
    assert_int_equal(w, 32);
    assert_int_equal(hh, 24);
    comfy_http_res_free(&r);
    /* the /api prefix serves the same routes */
    int st;
    char *q = get_text(x, "/api/prompt", &st);
    assert_int_equal(st, 200);
    assert_int_equal(cproto_parse_queue_remaining(q), 0);
    free(q);
    q = get_text(x, "/api/queue", &st);
    cproto_queue_pos qp;
    assert_int_equal(cproto_parse_queue(q, sub.prompt_id, &qp), 0);
    assert_int_equal(qp.total, 0);
    free(q);
    /* the fake recorded the graph the client sent */
    char *g = fake_comfy_prompt_json(x->f, 0);
    assert_non_null(strstr(g, "\"noise_seed\":11"));
    free(g);
}

/* The counters by route see one job as a bot runs it (POST /prompt, GET /history/{id},
 * GET /view, on the websocket it already had), /api/ routes as theirs, unknown routes as
 * "other"; they add up to every request. */
static void test_route_counters(void **state)
{
    fx *x = *state;
    fake_comfy_stats st0, st;
    fake_comfy_get_stats(x->f, &st0);
    assert_int_equal(st0.ws_connects, 1); /* the fixture's websocket */
    assert_true(st0.ws_frames_out >= 1);  /* its status on connect */
    char graph[2048];
    snprintf(graph, sizeof graph, simple_graph, 12);
    cproto_submit sub;
    assert_int_equal(post_prompt(x, graph, NULL, &sub), 200);
    assert_true(wait_event(x, CPROTO_EV_EXECUTING, sub.prompt_id, true, 5000) >= 0);
    const char *pref[] = {"9"};
    cproto_history hist;
    assert_int_equal(get_history(x, sub.prompt_id, pref, 1, &hist), 0);
    char view[512];
    assert_int_equal(cproto_view_path(&hist.outputs[0], view, sizeof view), 0);
    int status;
    free(get_text(x, view, &status));
    assert_int_equal(status, 200);
    free(get_text(x, "/api/system_stats", &status));
    free(get_text(x, "/no/such/route", &status));
    assert_int_equal(status, 404);

    fake_comfy_get_stats(x->f, &st);
    unsigned want[FAKE_COMFY_ROUTE_COUNT] = {0};
    want[FAKE_COMFY_ROUTE_PROMPT_POST] = 1;
    want[FAKE_COMFY_ROUTE_HISTORY_GET] = 1;
    want[FAKE_COMFY_ROUTE_VIEW] = 1;
    want[FAKE_COMFY_ROUTE_SYSTEM_STATS] = 1;
    want[FAKE_COMFY_ROUTE_OTHER] = 1;
    unsigned sum = 0;
    for (int k = 0; k < FAKE_COMFY_ROUTE_COUNT; k++) {
        assert_int_equal(st.routes[k] - st0.routes[k], want[k]);
        sum += st.routes[k];
    }
    assert_int_equal(sum, st.http_requests);
    assert_int_equal(st.ws_connects, 1); /* the job's events came on the same socket */
    assert_true(st.ws_frames_out > st0.ws_frames_out + 8);
    assert_int_equal(st.ws_frames_in, 0); /* our client only listens */
    assert_string_equal(fake_comfy_route_name(FAKE_COMFY_ROUTE_HISTORY_GET), "history_get");
    assert_string_equal(fake_comfy_route_name(FAKE_COMFY_ROUTE_OTHER), "other");
}

static void test_validation_errors(void **state)
{
    fx *x = *state;
    cproto_submit s;
    assert_int_equal(
        post_prompt(x, "{\"1\":{\"class_type\":\"NoSuchNode\",\"inputs\":{}}}", NULL, &s), 400);
    assert_string_equal(s.error_type, "invalid_prompt");
    assert_int_equal(post_prompt(x,
                                 "{\"1\":{\"class_type\":\"VAELoader\",\"inputs\":"
                                 "{\"vae_name\":\"ae\"}}}",
                                 NULL, &s),
                     400);
    assert_string_equal(s.error_type, "prompt_no_outputs");
    /* unknown LoRA, missing input, image never uploaded: node_errors for each */
    const char *g =
        "{\"1\":{\"class_type\":\"LoraLoaderModelOnly\",\"inputs\":{\"model\":[\"2\",0],"
        "\"lora_name\":\"unknown.safetensors\",\"strength_model\":1}},"
        " \"2\":{\"class_type\":\"LoadImage\",\"inputs\":{\"image\":\"never.png\"}},"
        " \"3\":{\"class_type\":\"SaveImage\",\"inputs\":{\"filename_prefix\":\"x\"}}}";
    assert_int_equal(post_prompt(x, g, NULL, &s), 400);
    assert_string_equal(s.error_type, "prompt_outputs_failed_validation");
    assert_non_null(strstr(s.operator_text, "node 1 (LoraLoaderModelOnly): value_not_in_list"));
    assert_non_null(strstr(s.operator_text, "node 2 (LoadImage): custom_validation_failed"));
    assert_non_null(strstr(s.operator_text, "node 3 (SaveImage): required_input_missing"));
    /* missing "prompt" */
    char url[128];
    snprintf(url, sizeof url, "%s/prompt", fake_comfy_url(x->f));
    comfy_http_res r;
    assert_int_equal(comfy_http_post_json(x->http, url, "{\"client_id\":\"x\"}", 5000, &r), 0);
    assert_int_equal(r.status, 400);
    assert_non_null(strstr((char *)r.body, "no_prompt"));
    comfy_http_res_free(&r);
    /* the reject switch */
    char graph[2048];
    snprintf(graph, sizeof graph, simple_graph, 1);
    fake_comfy_set_reject(x->f, true);
    assert_int_equal(post_prompt(x, graph, NULL, &s), 400);
    assert_non_null(strstr(s.operator_text, "Forced validation failure"));
    fake_comfy_set_reject(x->f, false);
    /* duplicate client-chosen prompt_id */
    assert_int_equal(
        post_prompt(x, graph, "\"prompt_id\":\"11111111-2222-4333-8444-555555555555\"", &s), 200);
    assert_string_equal(s.prompt_id, "11111111-2222-4333-8444-555555555555");
    assert_int_equal(
        post_prompt(x, graph, "\"prompt_id\":\"11111111-2222-4333-8444-555555555555\"", &s), 409);
    fake_comfy_stats st;
    fake_comfy_get_stats(x->f, &st);
    assert_int_equal(st.prompts_rejected, 6);
}

static void test_upload_and_view_rules(void **state)
{
    fx *x = *state;
    size_t len;
    uint8_t *png = image_fixture_png(8, 8, 0, 1, &len);
    comfy_http_res r;
    char name[256];
    assert_int_equal(
        comfy_http_upload(x->http, fake_comfy_url(x->f), "in.png", "image/png", png, len, 5000, &r),
        0);
    assert_int_equal(r.status, 200);
    assert_int_equal(cproto_parse_upload((char *)r.body, name, sizeof name), 0);
    assert_string_equal(name, "in.png");
    comfy_http_res_free(&r);
    /* identical bytes: same name */
    assert_int_equal(
        comfy_http_upload(x->http, fake_comfy_url(x->f), "in.png", "image/png", png, len, 5000, &r),
        0);
    cproto_parse_upload((char *)r.body, name, sizeof name);
    assert_string_equal(name, "in.png");
    comfy_http_res_free(&r);
    /* different bytes, same name: renamed */
    png[len - 20] ^= 1;
    assert_int_equal(
        comfy_http_upload(x->http, fake_comfy_url(x->f), "in.png", "image/png", png, len, 5000, &r),
        0);
    cproto_parse_upload((char *)r.body, name, sizeof name);
    assert_string_equal(name, "in (1).png");
    comfy_http_res_free(&r);
    size_t got;
    uint8_t *back = fake_comfy_upload_data(x->f, "in (1).png", &got);
    assert_int_equal(got, len);
    assert_memory_equal(back, png, len);
    free(back);
    free(png);
    int st;
    free(get_text(x, "/view?filename=..%2Fsecret.png", &st));
    assert_int_equal(st, 400);
    free(get_text(x, "/view?filename=nope.png", &st));
    assert_int_equal(st, 404);
    free(get_text(x, "/view", &st));
    assert_int_equal(st, 404);
    free(get_text(x, "/view?filename=in.png&type=input", &st));
    assert_int_equal(st, 200);
    free(get_text(x, "/view?filename=in.png&type=bogus", &st));
    assert_int_equal(st, 400);
    char *ss = get_text(x, "/system_stats", &st);
    assert_int_equal(st, 200);
    assert_non_null(strstr(ss, "\"devices\""));
    free(ss);
    ss = get_text(x, "/object_info/LoadImage", &st);
    assert_non_null(strstr(ss, "\"LoadImage\""));
    free(ss);
}

static void test_error_at_node(void **state)
{
    fx *x = *state;
    fake_comfy_fail_at(x->f, "VAEDecode", "CUDA out of memory");
    char graph[2048];
    snprintf(graph, sizeof graph, simple_graph, 2);
    cproto_submit s;
    assert_int_equal(post_prompt(x, graph, NULL, &s), 200);
    int i = wait_event(x, CPROTO_EV_ERROR, s.prompt_id, false, 5000);
    assert_true(i >= 0);
    pthread_mutex_lock(&x->r.mu);
    cproto_event e = x->r.ev[i];
    pthread_mutex_unlock(&x->r.mu);
    assert_string_equal(e.node, "8");
    assert_string_equal(e.node_type, "VAEDecode");
    assert_string_equal(e.message, "CUDA out of memory");
    assert_true(wait_event(x, CPROTO_EV_EXECUTING, s.prompt_id, true, 5000) > i);
    assert_true(wait_event(x, CPROTO_EV_SUCCESS, s.prompt_id, false, 0) < 0);
    cproto_history hist;
    get_history(x, s.prompt_id, NULL, 0, &hist);
    assert_true(hist.found);
    assert_false(hist.success);
    assert_string_equal(hist.error_node, "8");
    assert_string_equal(hist.error_message, "CUDA out of memory");
    fake_comfy_fail_at(x->f, NULL, NULL);
}

static void test_interrupt(void **state)
{
    fx *x = *state;
    fake_comfy_set_steps(x->f, 50);
    fake_comfy_set_step_delay(x->f, 20);
    char graph[2048];
    snprintf(graph, sizeof graph, simple_graph, 3);
    cproto_submit s;
    assert_int_equal(post_prompt(x, graph, NULL, &s), 200);
    assert_true(wait_event(x, CPROTO_EV_PROGRESS, s.prompt_id, false, 5000) >= 0);
    char url[128];
    snprintf(url, sizeof url, "%s/interrupt", fake_comfy_url(x->f));
    comfy_http_res r;
    char body[128];
    snprintf(body, sizeof body, "{\"prompt_id\":\"%s\"}", s.prompt_id);
    assert_int_equal(comfy_http_post_json(x->http, url, body, 5000, &r), 0);
    assert_int_equal(r.status, 200);
    comfy_http_res_free(&r);
    int i = wait_event(x, CPROTO_EV_INTERRUPTED, s.prompt_id, false, 5000);
    assert_true(i >= 0);
    assert_true(wait_event(x, CPROTO_EV_EXECUTING, s.prompt_id, true, 5000) > i);
    cproto_history hist;
    get_history(x, s.prompt_id, NULL, 0, &hist);
    assert_true(hist.found && hist.interrupted && !hist.success);
    /* the control-API interrupt does the same */
    snprintf(graph, sizeof graph, simple_graph, 4);
    assert_int_equal(post_prompt(x, graph, NULL, &s), 200);
    assert_true(wait_event(x, CPROTO_EV_PROGRESS, s.prompt_id, false, 5000) >= 0);
    fake_comfy_interrupt(x->f);
    assert_true(wait_event(x, CPROTO_EV_INTERRUPTED, s.prompt_id, false, 5000) >= 0);
}

/* POST to the fake with a raw body; the HTTP status. */
static int post_raw(fx *x, const char *path, const char *body)
{
    char url[256];
    snprintf(url, sizeof url, "%s%s", fake_comfy_url(x->f), path);
    comfy_http_res r;
    comfy_http_post_json(x->http, url, body, 5000, &r);
    int st = r.status;
    comfy_http_res_free(&r);
    return st;
}

/* server.py's POST /interrupt and POST /queue, including what makes them raise (500): a
 * targeted interrupt stops only the running prompt of that id, a falsy id is a global
 * interrupt, a delete removes only pending prompts. */
static void test_interrupt_and_delete_semantics(void **state)
{
    fx *x = *state;
    fake_comfy_set_steps(x->f, 50);
    fake_comfy_set_step_delay(x->f, 20);
    fake_comfy_set_paused(x->f, true);
    char graph[2048], body[160];
    cproto_submit a, b;
    snprintf(graph, sizeof graph, simple_graph, 21);
    assert_int_equal(post_prompt(x, graph, NULL, &a), 200);
    snprintf(graph, sizeof graph, simple_graph, 22);
    assert_int_equal(post_prompt(x, graph, NULL, &b), 200);
    fake_comfy_stats st;
    /* nothing runs: a targeted interrupt is a no-op, still 200 */
    snprintf(body, sizeof body, "{\"prompt_id\":\"%s\"}", a.prompt_id);
    assert_int_equal(post_raw(x, "/interrupt", body), 200);
    /* what Python would raise on: 500 */
    assert_int_equal(post_raw(x, "/queue", "not json"), 500);
    assert_int_equal(post_raw(x, "/queue", "[1]"), 500);
    assert_int_equal(post_raw(x, "/queue", "{\"delete\": 5}"), 500);
    assert_int_equal(post_raw(x, "/interrupt", "[1]"), 500);
    /* a string delete iterates characters: nothing matches */
    assert_int_equal(post_raw(x, "/queue", "{\"delete\": \"abc\"}"), 200);
    snprintf(body, sizeof body, "{\"delete\":[\"%s\", 7]}", b.prompt_id);
    assert_int_equal(post_raw(x, "/api/queue", body), 200);
    fake_comfy_get_stats(x->f, &st);
    assert_int_equal(st.queue_deletes, 1);
    assert_int_equal(st.interrupts_hit, 0);
    char *q = get_text(x, "/queue", NULL);
    cproto_queue_pos pa, pb;
    cproto_parse_queue(q, a.prompt_id, &pa);
    cproto_parse_queue(q, b.prompt_id, &pb);
    free(q);
    assert_true(pa.pending);
    assert_false(pb.pending || pb.running);
    fake_comfy_set_paused(x->f, false);
    assert_true(wait_event(x, CPROTO_EV_PROGRESS, a.prompt_id, false, 5000) >= 0);
    /* a running prompt is not in the pending queue: a delete leaves it alone */
    snprintf(body, sizeof body, "{\"delete\":[\"%s\"]}", a.prompt_id);
    assert_int_equal(post_raw(x, "/queue", body), 200);
    /* another id, or one that is not a string: no-ops */
    assert_int_equal(post_raw(x, "/interrupt", "{\"prompt_id\":\"some-other-prompt\"}"), 200);
    assert_int_equal(post_raw(x, "/interrupt", "{\"prompt_id\": 5}"), 200);
    fake_comfy_get_stats(x->f, &st);
    assert_int_equal(st.interrupts_hit, 0);
    assert_int_equal(st.queue_deletes, 1);
    char last[64];
    assert_false(fake_comfy_last_interrupted(x->f, last, sizeof last));
    /* an empty id is falsy: the global interrupt stops what runs */
    assert_int_equal(post_raw(x, "/interrupt", "{\"prompt_id\": \"\"}"), 200);
    assert_true(wait_event(x, CPROTO_EV_INTERRUPTED, a.prompt_id, false, 5000) >= 0);
    fake_comfy_get_stats(x->f, &st);
    assert_int_equal(st.interrupts_hit, 1);
    assert_true(fake_comfy_last_interrupted(x->f, last, sizeof last));
    assert_string_equal(last, a.prompt_id);
}

static void test_queue_order_and_positions(void **state)
{
    fx *x = *state;
    fake_comfy_set_paused(x->f, true);
    char graph[2048];
    cproto_submit a, b, c;
    snprintf(graph, sizeof graph, simple_graph, 5);
    assert_int_equal(post_prompt(x, graph, NULL, &a), 200);
    snprintf(graph, sizeof graph, simple_graph, 6);
    assert_int_equal(post_prompt(x, graph, NULL, &b), 200);
    snprintf(graph, sizeof graph, simple_graph, 7);
    assert_int_equal(post_prompt(x, graph, "\"front\":true", &c), 200);
    assert_true(c.number < 0);
    char *q = get_text(x, "/queue", NULL);
    cproto_queue_pos pa, pc;
    cproto_parse_queue(q, a.prompt_id, &pa);
    cproto_parse_queue(q, c.prompt_id, &pc);
    free(q);
    assert_true(pa.pending && pc.pending);
    assert_int_equal(pc.position, 1); /* front jumps the queue */
    assert_int_equal(pa.position, 2);
    assert_int_equal(pa.total, 3);
    fake_comfy_set_paused(x->f, false);
    int ia = wait_event(x, CPROTO_EV_EXECUTION_START, a.prompt_id, false, 5000);
    int ib = wait_event(x, CPROTO_EV_EXECUTION_START, b.prompt_id, false, 5000);
    int ic = wait_event(x, CPROTO_EV_EXECUTION_START, c.prompt_id, false, 5000);
    assert_true(ic >= 0 && ic < ia && ia < ib);
}

static bool second_socket_counted(const fake_comfy_stats *s, void *arg)
{
    (void)arg;
    return s->ws_connects >= 2;
}

static void test_drop_and_reconnect(void **state)
{
    fx *x = *state;
    pthread_mutex_lock(&x->r.mu);
    unsigned ups = x->r.ups;
    pthread_mutex_unlock(&x->r.mu);
    fake_comfy_drop_ws(x->f);
    assert_true(wait_ups(x, ups + 1, 8000));
    pthread_mutex_lock(&x->r.mu);
    assert_true(x->r.downs >= 1);
    pthread_mutex_unlock(&x->r.mu);
    /* The client can see the upgrade answered before the server has counted the socket. */
    assert_true(fake_comfy_wait(x->f, second_socket_counted, NULL, 2000));
    fake_comfy_stats st;
    fake_comfy_get_stats(x->f, &st);
    assert_int_equal(st.ws_connects, 2);
    assert_int_equal(st.ws_open, 1);
    /* refused upgrades: the client keeps retrying, HTTP still answers */
    fake_comfy_set_refuse_ws(x->f, true);
    fake_comfy_drop_ws(x->f);
    util_sleep_ms(1500);
    pthread_mutex_lock(&x->r.mu);
    assert_false(x->r.up);
    pthread_mutex_unlock(&x->r.mu);
    fake_comfy_set_refuse_ws(x->f, false);
    assert_true(wait_ups(x, ups + 2, 10000));
}

static void test_restart_wipes_state(void **state)
{
    fx *x = *state;
    fake_comfy_set_hang(x->f, true);
    char graph[2048];
    snprintf(graph, sizeof graph, simple_graph, 8);
    cproto_submit s, done;
    snprintf(graph, sizeof graph, simple_graph, 9);
    fake_comfy_set_hang(x->f, false);
    assert_int_equal(post_prompt(x, graph, NULL, &done), 200);
    assert_true(wait_event(x, CPROTO_EV_EXECUTING, done.prompt_id, true, 5000) >= 0);
    fake_comfy_set_hang(x->f, true);
    snprintf(graph, sizeof graph, simple_graph, 10);
    assert_int_equal(post_prompt(x, graph, NULL, &s), 200);
    assert_true(wait_event(x, CPROTO_EV_EXECUTION_START, s.prompt_id, false, 5000) >= 0);
    char *q = get_text(x, "/queue", NULL);
    cproto_queue_pos qp;
    cproto_parse_queue(q, s.prompt_id, &qp);
    free(q);
    assert_true(qp.running); /* hung, still "running" */
    pthread_mutex_lock(&x->r.mu);
    unsigned ups = x->r.ups;
    pthread_mutex_unlock(&x->r.mu);
    fake_comfy_restart(x->f);
    fake_comfy_set_hang(x->f, false);
    assert_true(wait_ups(x, ups + 1, 8000));
    char path[128];
    snprintf(path, sizeof path, "/history/%s", s.prompt_id);
    char *h = get_text(x, path, NULL);
    assert_string_equal(h, "{}");
    free(h);
    snprintf(path, sizeof path, "/history/%s", done.prompt_id);
    h = get_text(x, path, NULL);
    assert_string_equal(h, "{}"); /* history lost too */
    free(h);
    q = get_text(x, "/queue", NULL);
    cproto_parse_queue(q, s.prompt_id, &qp);
    free(q);
    assert_false(qp.running || qp.pending); /* absent from both: lost */
    snprintf(graph, sizeof graph, simple_graph, 12);
    assert_int_equal(post_prompt(x, graph, NULL, &s), 200);
    assert_int_equal(s.number, 0); /* counter restarted */
}

static void test_silent_stall_history_completes(void **state)
{
    fx *x = *state;
    fake_comfy_set_silent(x->f, true);
    char graph[2048];
    snprintf(graph, sizeof graph, simple_graph, 13);
    cproto_submit s;
    assert_int_equal(post_prompt(x, graph, NULL, &s), 200);
    cproto_history hist = {0};
    for (int i = 0; i < 500 && !hist.found; i++) {
        get_history(x, s.prompt_id, NULL, 0, &hist);
        if (!hist.found) util_sleep_ms(5);
    }
    assert_true(hist.found && hist.success);
    /* not a single job event reached the socket */
    assert_true(wait_event(x, CPROTO_EV_EXECUTION_START, s.prompt_id, false, 100) < 0);
    assert_true(wait_event(x, CPROTO_EV_EXECUTING, s.prompt_id, true, 0) < 0);
    fake_comfy_set_silent(x->f, false);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_one_prompt_exact_order, setup, teardown),
        cmocka_unit_test_setup_teardown(test_route_counters, setup, teardown),
        cmocka_unit_test_setup_teardown(test_validation_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_upload_and_view_rules, setup, teardown),
        cmocka_unit_test_setup_teardown(test_error_at_node, setup, teardown),
        cmocka_unit_test_setup_teardown(test_interrupt, setup, teardown),
        cmocka_unit_test_setup_teardown(test_interrupt_and_delete_semantics, setup, teardown),
        cmocka_unit_test_setup_teardown(test_queue_order_and_positions, setup, teardown),
        cmocka_unit_test_setup_teardown(test_drop_and_reconnect, setup, teardown),
        cmocka_unit_test_setup_teardown(test_restart_wipes_state, setup, teardown),
        cmocka_unit_test_setup_teardown(test_silent_stall_history_completes, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
