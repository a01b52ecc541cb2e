/*
 * Fake ComfyUI server (see fake_comfy.h). Everything runs on one libwebsockets service thread;
 * the control API (other threads) sets knobs under the mutex and wakes the loop with
 * lws_cancel_service(). State is only touched with the mutex held.
 */
#include "fakes/fake_comfy.h"

#include <cjson/cJSON.h>
#include <libwebsockets.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "comfy/img.h"
#include "fakes/image_fixture.h"
#include "fakes/multipart.h"
#include "fluxbot/runtime.h"
#include "util/util_json.h"
#include "util/util_str.h"
#include "util/util_time.h"

#define FF_MAX_CLIENTS 64
#define FF_MAX_NODES 256
#define FF_BODY_MAX (64u << 20)
#define FF_MAX_FRAMES 200000
#define FF_HISTORY_MAX 10000

typedef struct ff_frame {
    struct ff_frame *next;
    size_t len;
    bool binary;
    unsigned char buf[]; /* LWS_PRE + payload */
} ff_frame;

typedef struct ff_pss {
    struct lws *wsi;
    bool is_ws;
    /* http request */
    int method; /* LWSHUMETH_* */
    char path[512];
    char ctype[256];
    uint8_t *body;
    size_t body_len, body_cap;
    bool too_big;
    /* http response */
    int status;
    const char *resp_ctype;
    char disp[320];
    uint8_t *resp;
    size_t resp_len, resp_off;
    bool responding;
    /* websocket */
    char client_id[64];
    ff_frame *head, *tail;
    unsigned nframes;
    bool drop;
    int slot;
} ff_pss;

typedef struct ff_file {
    struct ff_file *next;
    char type[8];
    char sub[128];
    char name[256];
    uint8_t *data;
    size_t len;
} ff_file;

typedef struct ff_prompt {
    struct ff_prompt *next;
    double number;
    bool number_float;
    char id[64];
    char client_id[64];
    cJSON *graph;
    cJSON *extra;
    cJSON *to_execute; /* output node ids */
    cJSON *outputs;    /* history outputs */
    cJSON *messages;   /* history status messages */
    char status_str[16];
    bool completed;
} ff_prompt;

typedef struct ff_exec {
    char order[FF_MAX_NODES][64];
    unsigned n, idx;
    unsigned step, steps;
    int stage;
    bool interrupt;
    cJSON *executed;
} ff_exec;

struct fake_comfy {
    pthread_t thr;
    struct lws_context *ctx;
    struct lws_vhost *vh;
    int port;
    char url[64];
    char name[32];
    pthread_mutex_t mu;
    atomic_bool stop;
    bool started;
    /* knobs */
    unsigned steps, step_delay_ms;
    uint32_t png_w, png_h;
    bool png_noise, previews;
    char **loras;
    unsigned nloras;
    bool any_lora;
    char fail_node[64], fail_msg[256];
    bool silent, hang, reject, paused, refuse_ws, hang_prompt;
    bool down;            /* unreachable: HTTP connections closed unanswered, websockets refused */
    char reject_node[64]; /* forced validation error at this node id or class ("" = none) */
    /* commands for the service thread */
    bool cmd_drop, cmd_restart, cmd_interrupt, cmd_kick;
    /* state */
    ff_pss *clients[FF_MAX_CLIENTS];
    ff_prompt *pending;
    ff_prompt *running;
    ff_prompt *hist_head, *hist_tail;
    unsigned nhist;
    int64_t counter;
    unsigned out_counter;
    ff_file *files;
    lws_sorted_usec_list_t sul;
    ff_exec ex;
    /* records */
    fake_comfy_stats st;
    char last_interrupted[64]; /* the prompt the last effective POST /interrupt stopped */
    char **accepted;
    char **accepted_ids; /* the prompt id of each accepted graph */
    unsigned naccepted, cap_accepted;
};

/* ---- helpers ---------------------------------------------------------------------------- */

static void prompt_free(ff_prompt *p)
{
    if (!p) return;
    cJSON_Delete(p->graph);
    cJSON_Delete(p->extra);
    cJSON_Delete(p->to_execute);
    cJSON_Delete(p->outputs);
    cJSON_Delete(p->messages);
    free(p);
}

/* Frees a whole prompt list and empties it. */
static void prompts_free(ff_prompt **head)
{
    while (*head) {
        ff_prompt *p = *head;
        *head = p->next;
        prompt_free(p);
    }
}

static void history_clear(fake_comfy *f)
{
    prompts_free(&f->hist_head);
    f->hist_tail = NULL;
    f->nhist = 0;
}

static void loras_free(fake_comfy *f)
{
    for (unsigned i = 0; i < f->nloras; i++)
        free(f->loras[i]);
    free(f->loras);
}

static unsigned queue_remaining(const fake_comfy *f)
{
    unsigned n = f->running ? 1 : 0;
    for (const ff_prompt *p = f->pending; p; p = p->next)
        n++;
    return n;
}

static const char *class_of(const cJSON *node)
{
    return util_json_str(node, "class_type", NULL);
}

static bool is_output_class(const char *ct)
{
    static const char *const outs[] = {"SaveImage",          "PreviewImage",    "SaveVideo",
                                       "SaveAnimatedWEBP",   "SaveAnimatedPNG", "SaveWEBM",
                                       "SaveImageWebsocket", "VHS_VideoCombine"};
    for (size_t i = 0; ct && i < sizeof outs / sizeof outs[0]; i++)
        if (strcmp(ct, outs[i]) == 0) return true;
    return false;
}

static bool is_sampler_class(const char *ct)
{
    return ct && (strcmp(ct, "KSampler") == 0 || strcmp(ct, "SamplerCustomAdvanced") == 0 ||
                  strcmp(ct, "ImageUpscaleWithModel") == 0);
}

/* ---- websocket output --------------------------------------------------------------------- */

static void ws_queue(ff_pss *c, const void *data, size_t len, bool binary)
{
    if (!c || !c->wsi || c->drop || c->nframes >= FF_MAX_FRAMES) return;
    ff_frame *fr = malloc(sizeof *fr + LWS_PRE + len);
    if (!fr) abort();
    fr->next = NULL;
    fr->len = len;
    fr->binary = binary;
    memcpy(fr->buf + LWS_PRE, data, len);
    if (c->tail)
        c->tail->next = fr;
    else
        c->head = fr;
    c->tail = fr;
    c->nframes++;
    lws_callback_on_writable(c->wsi);
}

static ff_pss *client_by_id(fake_comfy *f, const char *id)
{
    if (!id || !*id) return NULL;
    /* newest registration wins: scan from the highest slot stamp (latest connect) */
    ff_pss *found = NULL;
    for (int i = 0; i < FF_MAX_CLIENTS; i++) {
        ff_pss *c = f->clients[i];
        if (c && !c->drop && strcmp(c->client_id, id) == 0) found = c;
    }
    return found;
}

static void send_json_to(fake_comfy *f, ff_pss *c, cJSON *msg)
{
    char *s = cJSON_PrintUnformatted(msg);
    if (s) ws_queue(c, s, strlen(s), false);
    free(s);
    (void)f;
}

static cJSON *event(const char *type, cJSON **data)
{
    cJSON *m = cJSON_CreateObject();
    cJSON_AddStringToObject(m, "type", type);
    *data = cJSON_AddObjectToObject(m, "data");
    return m;
}

static void broadcast_status(fake_comfy *f)
{
    cJSON *d;
    cJSON *m = event("status", &d);
    cJSON *st = cJSON_AddObjectToObject(d, "status");
    cJSON *ei = cJSON_AddObjectToObject(st, "exec_info");
    cJSON_AddNumberToObject(ei, "queue_remaining", queue_remaining(f));
    for (int i = 0; i < FF_MAX_CLIENTS; i++)
        if (f->clients[i]) send_json_to(f, f->clients[i], m);
    cJSON_Delete(m);
}

/* A job event: to the prompt's client only (or broadcast when it has none and bcast_if_none). */
static void job_event(fake_comfy *f, const ff_prompt *p, cJSON *m, bool bcast_if_none)
{
    if (f->silent) return;
    if (p->client_id[0]) {
        ff_pss *c = client_by_id(f, p->client_id);
        if (c) send_json_to(f, c, m);
    } else if (bcast_if_none) {
        for (int i = 0; i < FF_MAX_CLIENTS; i++)
            if (f->clients[i]) send_json_to(f, f->clients[i], m);
    }
}

static void history_msg(ff_prompt *p, const char *type, const cJSON *data)
{
    cJSON *pair = cJSON_CreateArray();
    cJSON_AddItemToArray(pair, cJSON_CreateString(type));
    cJSON_AddItemToArray(pair, cJSON_Duplicate(data, 1));
    cJSON_AddItemToArray(p->messages, pair);
}

/* ---- files ------------------------------------------------------------------------------- */

static ff_file *file_find(fake_comfy *f, const char *type, const char *sub, const char *name)
{
    for (ff_file *x = f->files; x; x = x->next)
        if (strcmp(x->type, type) == 0 && strcmp(x->sub, sub) == 0 && strcmp(x->name, name) == 0)
            return x;
    return NULL;
}

static ff_file *file_add(fake_comfy *f, const char *type, const char *sub, const char *name,
                         uint8_t *data, size_t len)
{
    ff_file *x = calloc(1, sizeof *x);
    if (!x) abort();
    snprintf(x->type, sizeof x->type, "%s", type);
    snprintf(x->sub, sizeof x->sub, "%s", sub);
    snprintf(x->name, sizeof x->name, "%s", name);
    x->data = data;
    x->len = len;
    x->next = f->files;
    f->files = x;
    return x;
}

/* ---- execution ---------------------------------------------------------------------------- */

static void exec_schedule(fake_comfy *f, unsigned delay_ms);

static bool node_is_fail_target(const fake_comfy *f, const char *id, const cJSON *node)
{
    if (!f->fail_node[0]) return false;
    return strcmp(f->fail_node, id) == 0 ||
           (class_of(node) && strcmp(f->fail_node, class_of(node)) == 0);
}

/* Post-order DFS from the output nodes: a valid execution order of what the outputs need. */
static void order_visit(ff_exec *ex, const cJSON *graph, const char *id, int depth)
{
    if (depth > FF_MAX_NODES || ex->n >= FF_MAX_NODES) return;
    for (unsigned i = 0; i < ex->n; i++)
        if (strcmp(ex->order[i], id) == 0) return;
    const cJSON *node = cJSON_GetObjectItemCaseSensitive(graph, id);
    const cJSON *in;
    cJSON_ArrayForEach(in, cJSON_GetObjectItemCaseSensitive(node, "inputs"))
    {
        if (cJSON_IsArray(in) && cJSON_GetArraySize(in) == 2 &&
            cJSON_IsString(cJSON_GetArrayItem(in, 0)))
            order_visit(ex, graph, cJSON_GetArrayItem(in, 0)->valuestring, depth + 1);
    }
    for (unsigned i = 0; i < ex->n; i++)
        if (strcmp(ex->order[i], id) == 0) return;
    if (ex->n < FF_MAX_NODES) snprintf(ex->order[ex->n++], 64, "%s", id);
}

static unsigned graph_steps(const fake_comfy *f, const cJSON *graph, const cJSON *node)
{
    if (f->steps) return f->steps;
    const cJSON *st =
        cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(node, "inputs"), "steps");
    if (!cJSON_IsNumber(st)) {
        const cJSON *n;
        cJSON_ArrayForEach(n, graph)
        {
            if (class_of(n) && strcmp(class_of(n), "BasicScheduler") == 0)
                st = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(n, "inputs"),
                                                      "steps");
        }
    }
    unsigned s = cJSON_IsNumber(st) && st->valuedouble >= 1 ? (unsigned)st->valuedouble : 20;
    return s > 100 ? 100 : s;
}

static uint64_t graph_seed(const cJSON *graph)
{
    const cJSON *n;
    cJSON_ArrayForEach(n, graph)
    {
        const cJSON *in = cJSON_GetObjectItemCaseSensitive(n, "inputs");
        const cJSON *s = cJSON_GetObjectItemCaseSensitive(in, "noise_seed");
        if (!s) s = cJSON_GetObjectItemCaseSensitive(in, "seed");
        if (cJSON_IsNumber(s)) return (uint64_t)s->valuedouble;
    }
    return 0;
}

static void progress_state(fake_comfy *f, ff_prompt *p, const char *node, unsigned v, unsigned max,
                           const char *state)
{
    cJSON *d;
    cJSON *m = event("progress_state", &d);
    cJSON_AddStringToObject(d, "prompt_id", p->id);
    cJSON *nodes = cJSON_AddObjectToObject(d, "nodes");
    cJSON *nd = cJSON_AddObjectToObject(nodes, node);
    cJSON_AddNumberToObject(nd, "value", v);
    cJSON_AddNumberToObject(nd, "max", max);
    cJSON_AddStringToObject(nd, "state", state);
    cJSON_AddStringToObject(nd, "node_id", node);
    cJSON_AddStringToObject(nd, "prompt_id", p->id);
    cJSON_AddStringToObject(nd, "display_node_id", node);
    cJSON_AddNullToObject(nd, "parent_node_id");
    cJSON_AddStringToObject(nd, "real_node_id", node);
    job_event(f, p, m, false);
    cJSON_Delete(m);
}

static uint8_t *make_mp4(uint64_t seed, size_t *len)
{
    size_t n = 24 + 8 + 2048;
    uint8_t *b = malloc(n);
    if (!b) abort();
    static const uint8_t ftyp[24] = {0, 0, 0, 24, 'f', 't', 'y', 'p', 'i', 's', 'o', 'm',
                                     0, 0, 2, 0,  'i', 's', 'o', 'm', 'm', 'p', '4', '2'};
    memcpy(b, ftyp, 24);
    uint32_t ml = 8 + 2048;
    b[24] = (uint8_t)(ml >> 24);
    b[25] = (uint8_t)(ml >> 16);
    b[26] = (uint8_t)(ml >> 8);
    b[27] = (uint8_t)ml;
    memcpy(b + 28, "mdat", 4);
    for (size_t i = 0; i < 2048; i++)
        b[32 + i] = (uint8_t)(seed + i * 31);
    *len = n;
    return b;
}

/* The batch size of a graph: the largest literal batch_size of its latent nodes (1..16). */
static unsigned graph_batch(const cJSON *graph)
{
    unsigned n = 1;
    const cJSON *node;
    cJSON_ArrayForEach(node, graph)
    {
        const cJSON *b = cJSON_GetObjectItemCaseSensitive(
            cJSON_GetObjectItemCaseSensitive(node, "inputs"), "batch_size");
        if (cJSON_IsNumber(b) && b->valuedouble >= 1 && b->valuedouble <= 16 &&
            (unsigned)b->valuedouble > n)
            n = (unsigned)b->valuedouble;
    }
    return n;
}

/* Produces the files of an output node and returns its UI dict. */
static cJSON *run_output_node(fake_comfy *f, ff_prompt *p, const char *id, const cJSON *node)
{
    const char *ct = class_of(node);
    const cJSON *in = cJSON_GetObjectItemCaseSensitive(node, "inputs");
    char prefix[200];
    snprintf(prefix, sizeof prefix, "%s", util_json_str(in, "filename_prefix", "ComfyUI"));
    char sub[128] = "";
    char *slash = strrchr(prefix, '/');
    const char *base = prefix;
    if (slash) {
        *slash = '\0';
        snprintf(sub, sizeof sub, "%.127s", prefix);
        base = slash + 1;
    }
    bool preview = strcmp(ct, "PreviewImage") == 0;
    bool video = strcmp(ct, "SaveVideo") == 0 || strcmp(ct, "VHS_VideoCombine") == 0;
    /* core savers of animations: the file type is theirs, the UI dict says "animated" */
    bool webm = strcmp(ct, "SaveWEBM") == 0;
    bool apng = strcmp(ct, "SaveAnimatedPNG") == 0;
    bool awebp = strcmp(ct, "SaveAnimatedWEBP") == 0;
    char name[256];
    f->out_counter++;
    uint64_t seed = graph_seed(p->graph) ^ f->out_counter;
    uint8_t *data;
    size_t len;
    if (video) {
        snprintf(name, sizeof name, "%s_%05u_.mp4", base, f->out_counter);
        data = make_mp4(seed, &len);
    } else if (webm) {
        snprintf(name, sizeof name, "%s_%05u_.webm", base, f->out_counter);
        data = image_fixture_webm(seed, &len);
    } else if (apng) {
        snprintf(name, sizeof name, "%s_%05u_.png", base, f->out_counter);
        data = image_fixture_apng(f->png_w, f->png_h, seed, &len);
    } else if (awebp) {
        snprintf(name, sizeof name, "%s_%05u_.webp", base, f->out_counter);
        data = image_fixture_webp_anim(f->png_w, f->png_h, seed, &len);
    } else {
        if (preview)
            snprintf(name, sizeof name, "ComfyUI_temp_fake_%05u_.png", f->out_counter);
        else
            snprintf(name, sizeof name, "%s_%05u_.png", base, f->out_counter);
        data = image_fixture_png(f->png_w, f->png_h, f->png_noise ? 1 : 0, seed, &len);
    }
    if (!data) abort();
    file_add(f, preview ? "temp" : "output", preview ? "" : sub, name, data, len);
    cJSON *ui = cJSON_CreateObject();
    cJSON *arr =
        cJSON_AddArrayToObject(ui, strcmp(ct, "VHS_VideoCombine") == 0 ? "gifs" : "images");
    cJSON *e = cJSON_CreateObject();
    cJSON_AddStringToObject(e, "filename", name);
    cJSON_AddStringToObject(e, "subfolder", preview ? "" : sub);
    cJSON_AddStringToObject(e, "type", preview ? "temp" : "output");
    if (strcmp(ct, "VHS_VideoCombine") == 0) cJSON_AddStringToObject(e, "format", "video/h264-mp4");
    cJSON_AddItemToArray(arr, e);
    /* A still-image saver writes one file per image of the batch, as ComfyUI does (the
     * latent's batch_size), each its own entry of the UI dict. */
    unsigned batch = (video || webm || apng || awebp) ? 1 : graph_batch(p->graph);
    for (unsigned b = 1; b < batch; b++) {
        f->out_counter++;
        if (preview)
            snprintf(name, sizeof name, "ComfyUI_temp_fake_%05u_.png", f->out_counter);
        else
            snprintf(name, sizeof name, "%s_%05u_.png", base, f->out_counter);
        data = image_fixture_png(f->png_w, f->png_h, f->png_noise ? 1 : 0, seed + b, &len);
        if (!data) abort();
        file_add(f, preview ? "temp" : "output", preview ? "" : sub, name, data, len);
        e = cJSON_CreateObject();
        cJSON_AddStringToObject(e, "filename", name);
        cJSON_AddStringToObject(e, "subfolder", preview ? "" : sub);
        cJSON_AddStringToObject(e, "type", preview ? "temp" : "output");
        cJSON_AddItemToArray(arr, e);
    }
    if ((video && strcmp(ct, "SaveVideo") == 0) || webm || apng || awebp) {
        cJSON *an = cJSON_AddArrayToObject(ui, "animated");
        cJSON_AddItemToArray(an, cJSON_CreateTrue());
    }
    (void)id;
    return ui;
}

typedef enum { FIN_SUCCESS, FIN_ERROR, FIN_INTERRUPTED } fin_kind;

static void finish(fake_comfy *f, fin_kind kind, const char *node_id)
{
    ff_prompt *p = f->running;
    ff_exec *ex = &f->ex;
    cJSON *d;
    cJSON *m;
    const cJSON *node = node_id ? cJSON_GetObjectItemCaseSensitive(p->graph, node_id) : NULL;
    if (kind == FIN_SUCCESS) {
        m = event("execution_success", &d);
        cJSON_AddStringToObject(d, "prompt_id", p->id);
        cJSON_AddNumberToObject(d, "timestamp", (double)rt_wall_ms());
        snprintf(p->status_str, sizeof p->status_str, "success");
        p->completed = true;
        f->st.prompts_succeeded++;
    } else {
        m = event(kind == FIN_ERROR ? "execution_error" : "execution_interrupted", &d);
        cJSON_AddStringToObject(d, "prompt_id", p->id);
        cJSON_AddStringToObject(d, "node_id", node_id ? node_id : "");
        cJSON_AddStringToObject(d, "node_type", node && class_of(node) ? class_of(node) : "");
        cJSON_AddItemToObject(d, "executed", cJSON_Duplicate(ex->executed, 1));
        if (kind == FIN_ERROR) {
            cJSON_AddStringToObject(d, "exception_message",
                                    f->fail_msg[0] ? f->fail_msg : "fake failure");
            cJSON_AddStringToObject(d, "exception_type", "RuntimeError");
            cJSON *tb = cJSON_AddArrayToObject(d, "traceback");
            cJSON_AddItemToArray(tb, cJSON_CreateString("  File \"execution.py\", line 1\n"));
            cJSON_AddObjectToObject(d, "current_inputs");
            cJSON_AddArrayToObject(d, "current_outputs");
        }
        cJSON_AddNumberToObject(d, "timestamp", (double)rt_wall_ms());
        snprintf(p->status_str, sizeof p->status_str, "error");
        p->completed = false;
    }
    history_msg(p, cJSON_GetObjectItemCaseSensitive(m, "type")->valuestring, d);
    /* execution_error is never broadcast; interrupted is when the job has no client */
    job_event(f, p, m, kind == FIN_INTERRUPTED);
    cJSON_Delete(m);
    cJSON_Delete(ex->executed);
    ex->executed = NULL;
    /* task_done: history written, then status, then executing null */
    f->running = NULL;
    if (f->hist_tail)
        f->hist_tail->next = p;
    else
        f->hist_head = p;
    f->hist_tail = p;
    p->next = NULL;
    f->nhist++;
    while (f->nhist > FF_HISTORY_MAX && f->hist_head) {
        ff_prompt *old = f->hist_head;
        f->hist_head = old->next;
        if (!f->hist_head) f->hist_tail = NULL;
        prompt_free(old);
        f->nhist--;
    }
    f->st.prompts_finished++;
    broadcast_status(f);
    if (p->client_id[0]) {
        m = event("executing", &d);
        cJSON_AddNullToObject(d, "node");
        cJSON_AddStringToObject(d, "prompt_id", p->id);
        job_event(f, p, m, false);
        cJSON_Delete(m);
    }
}

static void start_next(fake_comfy *f)
{
    ff_prompt *best = NULL, *bprev = NULL, *prev = NULL;
    for (ff_prompt *p = f->pending; p; prev = p, p = p->next) {
        if (!best || p->number < best->number) {
            best = p;
            bprev = prev;
        }
    }
    if (!best) return;
    if (bprev)
        bprev->next = best->next;
    else
        f->pending = best->next;
    best->next = NULL;
    f->running = best;
    ff_exec *ex = &f->ex;
    memset(ex, 0, sizeof *ex);
    ex->executed = cJSON_CreateArray();
    const cJSON *o;
    cJSON_ArrayForEach(o, best->to_execute) order_visit(ex, best->graph, o->valuestring, 0);
    broadcast_status(f);
    cJSON *d;
    cJSON *m = event("execution_start", &d);
    cJSON_AddStringToObject(d, "prompt_id", best->id);
    cJSON_AddNumberToObject(d, "timestamp", (double)rt_wall_ms());
    history_msg(best, "execution_start", d);
    job_event(f, best, m, false);
    cJSON_Delete(m);
    m = event("execution_cached", &d);
    cJSON_AddArrayToObject(d, "nodes");
    cJSON_AddStringToObject(d, "prompt_id", best->id);
    cJSON_AddNumberToObject(d, "timestamp", (double)rt_wall_ms());
    history_msg(best, "execution_cached", d);
    job_event(f, best, m, false);
    cJSON_Delete(m);
}

/* Advances the running job; returns the delay before the next call (0 = continue now), or -1
 * when there is nothing to do until something changes. */
static int exec_step(fake_comfy *f)
{
    if (!f->running) {
        if (f->paused || !f->pending) return -1;
        start_next(f);
        return 0;
    }
    if (f->hang) return -1;
    ff_prompt *p = f->running;
    ff_exec *ex = &f->ex;
    if (ex->interrupt) {
        finish(f, FIN_INTERRUPTED, ex->idx < ex->n ? ex->order[ex->idx] : NULL);
        return 0;
    }
    if (ex->idx >= ex->n) {
        finish(f, FIN_SUCCESS, NULL);
        return 0;
    }
    const char *id = ex->order[ex->idx];
    const cJSON *node = cJSON_GetObjectItemCaseSensitive(p->graph, id);
    cJSON *d, *m;
    switch (ex->stage) {
    case 0:
        progress_state(f, p, id, 0, 1, "running");
        m = event("executing", &d);
        cJSON_AddStringToObject(d, "node", id);
        cJSON_AddStringToObject(d, "display_node", id);
        cJSON_AddStringToObject(d, "prompt_id", p->id);
        job_event(f, p, m, false);
        cJSON_Delete(m);
        if (node_is_fail_target(f, id, node)) {
            finish(f, FIN_ERROR, id);
            return 0;
        }
        ex->step = 0;
        ex->steps = is_sampler_class(class_of(node)) ? graph_steps(f, p->graph, node) : 0;
        ex->stage = ex->steps ? 1 : 2;
        return 0;
    case 1: {
        ex->step++;
        m = event("progress", &d);
        cJSON_AddNumberToObject(d, "value", ex->step);
        cJSON_AddNumberToObject(d, "max", ex->steps);
        cJSON_AddStringToObject(d, "prompt_id", p->id);
        cJSON_AddStringToObject(d, "node", id);
        job_event(f, p, m, true);
        cJSON_Delete(m);
        progress_state(f, p, id, ex->step, ex->steps, "running");
        if (f->previews && !f->silent) {
            size_t len;
            uint8_t *png = image_fixture_png(16, 16, 0, ex->step, &len);
            if (png) {
                uint8_t *fr = malloc(len + 8);
                if (!fr) abort();
                static const uint8_t hdr[8] = {0, 0, 0, 1, 0, 0, 0, 2};
                memcpy(fr, hdr, 8);
                memcpy(fr + 8, png, len);
                ff_pss *c = client_by_id(f, p->client_id);
                if (c) ws_queue(c, fr, len + 8, true);
                free(fr);
                free(png);
            }
        }
        if (ex->step >= ex->steps) ex->stage = 2;
        return (int)f->step_delay_ms;
    }
    default:
        if (class_of(node) && strcmp(class_of(node), "SaveImageWebsocket") == 0) {
            /* custom_nodes/websocket_image_save.py: each image as a binary frame (type 1,
             * format 2 = PNG) to the prompt's client while the node executes; no UI output, so
             * no "executed" and nothing in history */
            size_t len;
            uint8_t *png = image_fixture_png(f->png_w, f->png_h, f->png_noise ? 1 : 0,
                                             graph_seed(p->graph) ^ ++f->out_counter, &len);
            if (!png) abort();
            uint8_t *fr = malloc(len + 8);
            if (!fr) abort();
            static const uint8_t hdr[8] = {0, 0, 0, 1, 0, 0, 0, 2};
            memcpy(fr, hdr, 8);
            memcpy(fr + 8, png, len);
            ff_pss *c = client_by_id(f, p->client_id);
            if (c && !f->silent) ws_queue(c, fr, len + 8, true);
            free(fr);
            free(png);
        } else if (is_output_class(class_of(node))) {
            cJSON *ui = run_output_node(f, p, id, node);
            m = event("executed", &d);
            cJSON_AddStringToObject(d, "node", id);
            cJSON_AddStringToObject(d, "display_node", id);
            cJSON_AddItemToObject(d, "output", cJSON_Duplicate(ui, 1));
            cJSON_AddStringToObject(d, "prompt_id", p->id);
            job_event(f, p, m, false);
            cJSON_Delete(m);
            cJSON_AddItemToObject(p->outputs, id, ui);
        }
        progress_state(f, p, id, 1, 1, "finished");
        cJSON_AddItemToArray(ex->executed, cJSON_CreateString(id));
        ex->idx++;
        ex->stage = 0;
        return 0;
    }
}

static void exec_cb(lws_sorted_usec_list_t *sul)
{
    fake_comfy *f = lws_container_of(sul, fake_comfy, sul);
    pthread_mutex_lock(&f->mu);
    int budget = 100000; /* bounded work per callback keeps the loop responsive */
    int d = 0;
    while (budget-- > 0) {
        d = exec_step(f);
        if (d != 0) break;
    }
    pthread_mutex_unlock(&f->mu);
    if (d > 0)
        exec_schedule(f, (unsigned)d);
    else if (d == 0)
        exec_schedule(f, 0);
}

static void exec_schedule(fake_comfy *f, unsigned delay_ms)
{
    lws_sul_schedule(f->ctx, 0, &f->sul, exec_cb, (lws_usec_t)delay_ms * 1000 + 1);
}

/* ---- validation ---------------------------------------------------------------------------- */

typedef struct ff_class {
    const char *name;
    const char *required; /* comma-separated */
} ff_class;

static const ff_class classes[] = {
    {"CheckpointLoaderSimple", "ckpt_name"},
    {"UNETLoader", "unet_name"},
    {"DualCLIPLoader", "clip_name1,clip_name2,type"},
    {"CLIPLoader", "clip_name,type"},
    {"VAELoader", "vae_name"},
    {"CLIPTextEncode", "text,clip"},
    {"FluxGuidance", "guidance,conditioning"},
    {"ModelSamplingFlux", "max_shift,base_shift,width,height,model"},
    {"BasicGuider", "model,conditioning"},
    {"RandomNoise", "noise_seed"},
    {"KSamplerSelect", "sampler_name"},
    {"BasicScheduler", "scheduler,steps,denoise,model"},
    {"EmptySD3LatentImage", "width,height,batch_size"},
    {"EmptyLatentImage", "width,height,batch_size"},
    {"SamplerCustomAdvanced", "noise,guider,sampler,sigmas,latent_image"},
    {"KSampler",
     "seed,steps,cfg,sampler_name,scheduler,denoise,model,positive,negative,latent_image"},
    {"VAEDecode", "samples,vae"},
    {"VAEEncode", "pixels,vae"},
    {"SaveImage", "images,filename_prefix"},
    {"PreviewImage", "images"},
    {"ImageScaleBy", "upscale_method,scale_by,image"},
    {"LoadImage", "image"},
    {"LoraLoaderModelOnly", "model,lora_name,strength_model"},
    {"LoraLoader", "model,clip,lora_name,strength_model,strength_clip"},
    {"Power Lora Loader (rgthree)", ""},
    {"CLIPVisionLoader", "clip_name"},
    {"CLIPVisionEncode", "clip_vision,image"},
    {"StyleModelLoader", "style_model_name"},
    {"StyleModelApply", "conditioning,style_model,clip_vision_output,strength"},
    {"PulidFluxModelLoader", "pulid_file"},
    {"PulidFluxEvaClipLoader", ""},
    {"PulidFluxInsightFaceLoader", "provider"},
    {"ApplyPulidFlux", "model,pulid_flux,eva_clip,face_analysis,image,weight,start_at,end_at"},
    {"UpscaleModelLoader", "model_name"},
    {"ImageUpscaleWithModel", "upscale_model,image"},
    {"ModelSamplingSD3", "shift,model"},
    {"EmptyHunyuanLatentVideo", "width,height,length,batch_size"},
    {"CreateVideo", "images,fps"},
    {"SaveVideo", "video,filename_prefix"},
    {"SaveAnimatedWEBP", "images,filename_prefix"},
    {"SaveAnimatedPNG", "images,filename_prefix,fps,compress_level"},
    {"SaveWEBM", "images,filename_prefix,codec,fps,crf"},
    {"SaveImageWebsocket", "images"},
    {"VHS_VideoCombine", "images,frame_rate,filename_prefix,format"},
};

static const ff_class *find_class(const char *name)
{
    for (size_t i = 0; name && i < sizeof classes / sizeof classes[0]; i++)
        if (strcmp(classes[i].name, name) == 0) return &classes[i];
    return NULL;
}

static void node_error(cJSON *node_errors, const char *id, const char *ct, const char *type,
                       const char *message, const char *details, const char *input,
                       const cJSON *outputs)
{
    cJSON *ne = cJSON_GetObjectItemCaseSensitive(node_errors, id);
    if (!ne) {
        ne = cJSON_AddObjectToObject(node_errors, id);
        cJSON_AddArrayToObject(ne, "errors");
        cJSON_AddItemToObject(ne, "dependent_outputs", cJSON_Duplicate(outputs, 1));
        cJSON_AddStringToObject(ne, "class_type", ct);
    }
    cJSON *e = cJSON_CreateObject();
    cJSON_AddStringToObject(e, "type", type);
    cJSON_AddStringToObject(e, "message", message);
    cJSON_AddStringToObject(e, "details", details);
    cJSON *xi = cJSON_AddObjectToObject(e, "extra_info");
    if (input) cJSON_AddStringToObject(xi, "input_name", input);
    cJSON_AddItemToArray(cJSON_GetObjectItemCaseSensitive(ne, "errors"), e);
}

static cJSON *graph_error(const char *type, const char *message, const char *details)
{
    cJSON *r = cJSON_CreateObject();
    cJSON *e = cJSON_AddObjectToObject(r, "error");
    cJSON_AddStringToObject(e, "type", type);
    cJSON_AddStringToObject(e, "message", message);
    cJSON_AddStringToObject(e, "details", details);
    cJSON_AddObjectToObject(e, "extra_info");
    cJSON_AddObjectToObject(r, "node_errors");
    return r;
}

static bool lora_known(const fake_comfy *f, const char *name)
{
    if (f->any_lora) return true;
    for (unsigned i = 0; i < f->nloras; i++)
        if (strcmp(f->loras[i], name) == 0) return true;
    return false;
}

/* True when output node out needs node id (it is id, or id is among its ancestors). */
static bool needs_node(const cJSON *graph, const char *out, const char *id, int depth)
{
    if (strcmp(out, id) == 0) return true;
    if (depth > FF_MAX_NODES) return false;
    const cJSON *in;
    cJSON_ArrayForEach(in, cJSON_GetObjectItemCaseSensitive(
                               cJSON_GetObjectItemCaseSensitive(graph, out), "inputs"))
    {
        if (cJSON_IsArray(in) && cJSON_GetArraySize(in) == 2 &&
            cJSON_IsString(cJSON_GetArrayItem(in, 0)) &&
            needs_node(graph, cJSON_GetArrayItem(in, 0)->valuestring, id, depth + 1))
            return true;
    }
    return false;
}

/* Returns NULL when the graph may run (to_execute filled with the outputs that validated), else
 * the 400 body. Like ComfyUI's validate_prompt, each output is validated on its own: a node
 * error drops the outputs that need it (its "dependent_outputs"); when at least one output is
 * left the prompt is queued anyway and *partial gets the node_errors for the 200 reply. */
static cJSON *validate(fake_comfy *f, const cJSON *graph, cJSON *to_execute, cJSON **partial)
{
    *partial = NULL;
    char det[512];
    const cJSON *node;
    cJSON_ArrayForEach(node, graph)
    {
        if (!cJSON_IsObject(node) || !class_of(node)) {
            snprintf(det, sizeof det, "Node ID '#%s'", node->string);
            return graph_error("invalid_prompt",
                               "Cannot execute because a node is missing the class_type property.",
                               det);
        }
        if (!find_class(class_of(node))) {
            char msg[300];
            snprintf(msg, sizeof msg, "Cannot execute because node %s does not exist.",
                     class_of(node));
            snprintf(det, sizeof det, "Node ID '#%s'", node->string);
            return graph_error("invalid_prompt", msg, det);
        }
        if (is_output_class(class_of(node)))
            cJSON_AddItemToArray(to_execute, cJSON_CreateString(node->string));
    }
    if (cJSON_GetArraySize(to_execute) == 0)
        return graph_error("prompt_no_outputs", "Prompt has no outputs", "");
    cJSON *node_errors = cJSON_CreateObject();
    cJSON_ArrayForEach(node, graph)
    {
        const char *id = node->string;
        const char *ct = class_of(node);
        const ff_class *cl = find_class(ct);
        const cJSON *inputs = cJSON_GetObjectItemCaseSensitive(node, "inputs");
        char req[256];
        snprintf(req, sizeof req, "%s", cl->required);
        for (char *save = NULL, *tok = strtok_r(req, ",", &save); tok;
             tok = strtok_r(NULL, ",", &save)) {
            if (!cJSON_GetObjectItemCaseSensitive(inputs, tok))
                node_error(node_errors, id, ct, "required_input_missing",
                           "Required input is missing", tok, tok, to_execute);
        }
        const cJSON *in;
        cJSON_ArrayForEach(in, inputs)
        {
            if (cJSON_IsArray(in) && cJSON_GetArraySize(in) == 2 &&
                cJSON_IsString(cJSON_GetArrayItem(in, 0))) {
                if (!cJSON_GetObjectItemCaseSensitive(graph,
                                                      cJSON_GetArrayItem(in, 0)->valuestring)) {
                    snprintf(det, sizeof det, "%s: linked node %s does not exist", in->string,
                             cJSON_GetArrayItem(in, 0)->valuestring);
                    node_error(node_errors, id, ct, "bad_linked_input", "Bad linked input", det,
                               in->string, to_execute);
                }
            }
        }
        const cJSON *ln = cJSON_GetObjectItemCaseSensitive(inputs, "lora_name");
        if (ln && (!cJSON_IsString(ln) || !lora_known(f, ln->valuestring))) {
            snprintf(det, sizeof det, "lora_name: '%.200s' not in (list of length %u)",
                     cJSON_IsString(ln) ? ln->valuestring : "?", f->nloras);
            node_error(node_errors, id, ct, "value_not_in_list", "Value not in list", det,
                       "lora_name", to_execute);
        }
        if (strcmp(ct, "LoadImage") == 0) {
            const char *v = util_json_str(inputs, "image", "");
            char sub[128] = "", name[256];
            const char *sl = strrchr(v, '/');
            if (sl) {
                snprintf(sub, sizeof sub, "%.*s", (int)(sl - v), v);
                snprintf(name, sizeof name, "%s", sl + 1);
            } else {
                snprintf(name, sizeof name, "%s", v);
            }
            if (!file_find(f, "input", sub, name)) {
                snprintf(det, sizeof det, "Invalid image file: %.200s", v);
                node_error(node_errors, id, ct, "custom_validation_failed", det, "", "image",
                           to_execute);
            }
        }
        static const char *const ints[] = {"noise_seed", "seed", "width", "height", "steps"};
        for (size_t k = 0; k < sizeof ints / sizeof ints[0]; k++) {
            const cJSON *v = cJSON_GetObjectItemCaseSensitive(inputs, ints[k]);
            if (!v || cJSON_IsArray(v)) continue;
            if (!cJSON_IsNumber(v) || v->valuedouble != floor(v->valuedouble)) {
                snprintf(det, sizeof det, "%s, received %s", ints[k],
                         cJSON_IsString(v) ? v->valuestring : "a non-integer");
                node_error(node_errors, id, ct, "invalid_input_type",
                           "Failed to convert an input value to a INT value", det, ints[k],
                           to_execute);
            } else if (v->valuedouble < 0) {
                snprintf(det, sizeof det, "%s: %g", ints[k], v->valuedouble);
                node_error(node_errors, id, ct, "value_smaller_than_min", "Value smaller than min",
                           det, ints[k], to_execute);
            } else if ((strcmp(ints[k], "width") == 0 || strcmp(ints[k], "height") == 0) &&
                       v->valuedouble > 16384) {
                snprintf(det, sizeof det, "%s: %g", ints[k], v->valuedouble);
                node_error(node_errors, id, ct, "value_bigger_than_max", "Value bigger than max",
                           det, ints[k], to_execute);
            }
        }
    }
    if (f->reject) {
        const char *first = cJSON_GetArrayItem(to_execute, 0)->valuestring;
        node_error(node_errors, first, class_of(cJSON_GetObjectItemCaseSensitive(graph, first)),
                   "custom_validation_failed", "Forced validation failure",
                   "fake_comfy reject switch is on", NULL, to_execute);
    }
    if (f->reject_node[0]) {
        cJSON_ArrayForEach(node, graph)
        {
            if (strcmp(node->string, f->reject_node) != 0 &&
                strcmp(class_of(node), f->reject_node) != 0)
                continue;
            node_error(node_errors, node->string, class_of(node), "custom_validation_failed",
                       "Forced validation failure", "fake_comfy reject_at switch is on\n", NULL,
                       to_execute);
        }
    }
    if (!node_errors->child) {
        cJSON_Delete(node_errors);
        return NULL;
    }
    /* attribute each node error to the outputs that need the node; the rest still run */
    cJSON *good = cJSON_CreateArray();
    const cJSON *o;
    cJSON_ArrayForEach(o, to_execute)
    {
        bool dropped = false;
        cJSON *ne;
        cJSON_ArrayForEach(ne, node_errors) if (needs_node(graph, o->valuestring, ne->string, 0))
            dropped = true;
        if (!dropped) cJSON_AddItemToArray(good, cJSON_CreateString(o->valuestring));
    }
    {
        cJSON *ne;
        cJSON_ArrayForEach(ne, node_errors)
        {
            cJSON *deps = cJSON_CreateArray();
            cJSON_ArrayForEach(o, to_execute) if (needs_node(graph, o->valuestring, ne->string, 0))
                cJSON_AddItemToArray(deps, cJSON_CreateString(o->valuestring));
            cJSON_ReplaceItemInObjectCaseSensitive(ne, "dependent_outputs", deps);
        }
    }
    if (cJSON_GetArraySize(good) > 0) {
        while (cJSON_GetArraySize(to_execute) > 0)
            cJSON_DeleteItemFromArray(to_execute, 0);
        cJSON_ArrayForEach(o, good)
            cJSON_AddItemToArray(to_execute, cJSON_CreateString(o->valuestring));
        cJSON_Delete(good);
        *partial = node_errors;
        return NULL;
    }
    cJSON_Delete(good);
    char details[2048] = "";
    const cJSON *ne;
    cJSON_ArrayForEach(ne, node_errors)
    {
        const cJSON *e;
        cJSON_ArrayForEach(e, cJSON_GetObjectItemCaseSensitive(ne, "errors"))
        {
            size_t l = strlen(details);
            snprintf(details + l, sizeof details - l, "%s%s: %s", l ? "\n" : "",
                     cJSON_GetObjectItemCaseSensitive(e, "message")->valuestring,
                     cJSON_GetObjectItemCaseSensitive(e, "details")->valuestring);
        }
    }
    cJSON *r = graph_error("prompt_outputs_failed_validation", "Prompt outputs failed validation",
                           details);
    cJSON_ReplaceItemInObjectCaseSensitive(r, "node_errors", node_errors);
    return r;
}

/* ---- HTTP routes ---------------------------------------------------------------------------- */

static void respond_json(ff_pss *s, int status, cJSON *body)
{
    char *t = cJSON_PrintUnformatted(body);
    if (!t) abort();
    s->status = status;
    s->resp_ctype = "application/json";
    s->resp = (uint8_t *)t;
    s->resp_len = strlen(t);
}

static void respond_text(ff_pss *s, int status, const char *text)
{
    s->status = status;
    s->resp_ctype = "text/plain";
    s->resp = (uint8_t *)util_strdup(text);
    s->resp_len = strlen(text);
}

static cJSON *queue_item(const ff_prompt *p)
{
    cJSON *it = cJSON_CreateArray();
    cJSON_AddItemToArray(it, cJSON_CreateNumber(p->number));
    cJSON_AddItemToArray(it, cJSON_CreateString(p->id));
    cJSON_AddItemToArray(it, cJSON_Duplicate(p->graph, 1));
    cJSON_AddItemToArray(it, cJSON_Duplicate(p->extra, 1));
    cJSON_AddItemToArray(it, cJSON_Duplicate(p->to_execute, 1));
    return it;
}

static cJSON *history_entry(const ff_prompt *p)
{
    cJSON *e = cJSON_CreateObject();
    cJSON_AddItemToObject(e, "prompt", queue_item(p));
    cJSON_AddItemToObject(e, "outputs", cJSON_Duplicate(p->outputs, 1));
    cJSON *st = cJSON_AddObjectToObject(e, "status");
    cJSON_AddStringToObject(st, "status_str", p->status_str);
    cJSON_AddBoolToObject(st, "completed", p->completed);
    cJSON_AddItemToObject(st, "messages", cJSON_Duplicate(p->messages, 1));
    cJSON *meta = cJSON_AddObjectToObject(e, "meta");
    const cJSON *o;
    cJSON_ArrayForEach(o, p->outputs)
    {
        cJSON *mm = cJSON_AddObjectToObject(meta, o->string);
        cJSON_AddStringToObject(mm, "node_id", o->string);
        cJSON_AddStringToObject(mm, "display_node", o->string);
        cJSON_AddNullToObject(mm, "parent_node");
        cJSON_AddStringToObject(mm, "real_node_id", o->string);
    }
    return e;
}

static bool id_taken(const fake_comfy *f, const char *id)
{
    if (f->running && strcmp(f->running->id, id) == 0) return true;
    for (const ff_prompt *p = f->pending; p; p = p->next)
        if (strcmp(p->id, id) == 0) return true;
    for (const ff_prompt *p = f->hist_head; p; p = p->next)
        if (strcmp(p->id, id) == 0) return true;
    return false;
}

static void random_hex_id(char out[33])
{
    static atomic_uint ctr;
    unsigned c = atomic_fetch_add(&ctr, 1);
    uint64_t a = rt_wall_ms() * 2654435761ULL ^ ((uint64_t)c << 32) ^ (uint64_t)(uintptr_t)out;
    uint64_t b = a * 6364136223846793005ULL + 1442695040888963407ULL + c;
    snprintf(out, 33, "%016llx%016llx", (unsigned long long)a, (unsigned long long)b);
}

static void route_post_prompt(fake_comfy *f, ff_pss *s)
{
    cJSON *req = cJSON_ParseWithLength((const char *)s->body, s->body_len);
    if (!req) {
        respond_text(s, 500, "500 Internal Server Error\n\nServer got itself in trouble");
        return;
    }
    const cJSON *graph = cJSON_GetObjectItemCaseSensitive(req, "prompt");
    if (!cJSON_IsObject(graph)) {
        cJSON *r = graph_error("no_prompt", "No prompt provided", "");
        respond_json(s, 400, r);
        cJSON_Delete(r);
        cJSON_Delete(req);
        f->st.prompts_rejected++;
        return;
    }
    cJSON *to_exec = cJSON_CreateArray();
    cJSON *partial = NULL;
    cJSON *err = validate(f, graph, to_exec, &partial);
    if (err) {
        respond_json(s, 400, err);
        cJSON_Delete(err);
        cJSON_Delete(to_exec);
        cJSON_Delete(req);
        f->st.prompts_rejected++;
        return;
    }
    ff_prompt *p = calloc(1, sizeof *p);
    if (!p) abort();
    const cJSON *pid = cJSON_GetObjectItemCaseSensitive(req, "prompt_id");
    if (cJSON_IsString(pid) && *pid->valuestring && strlen(pid->valuestring) < sizeof p->id) {
        if (id_taken(f, pid->valuestring)) {
            cJSON *r = cJSON_CreateObject();
            cJSON_AddStringToObject(r, "error", "prompt_id already exists");
            respond_json(s, 409, r);
            cJSON_Delete(r);
            cJSON_Delete(to_exec);
            cJSON_Delete(partial);
            cJSON_Delete(req);
            free(p);
            f->st.prompts_rejected++;
            return;
        }
        snprintf(p->id, sizeof p->id, "%s", pid->valuestring);
    } else {
        char hex[33];
        random_hex_id(hex);
        snprintf(p->id, sizeof p->id, "%.8s-%.4s-4%.3s-a%.3s-%.12s", hex, hex + 8, hex + 12,
                 hex + 15, hex + 18);
    }
    const cJSON *num = cJSON_GetObjectItemCaseSensitive(req, "number");
    const cJSON *front = cJSON_GetObjectItemCaseSensitive(req, "front");
    if (cJSON_IsNumber(num)) {
        p->number = num->valuedouble;
        p->number_float = true;
    } else {
        p->number = cJSON_IsTrue(front) ? (double)-f->counter : (double)f->counter;
    }
    f->counter++;
    const cJSON *cid = cJSON_GetObjectItemCaseSensitive(req, "client_id");
    if (cJSON_IsString(cid)) snprintf(p->client_id, sizeof p->client_id, "%s", cid->valuestring);
    const cJSON *extra = cJSON_GetObjectItemCaseSensitive(req, "extra_data");
    p->extra = cJSON_IsObject(extra) ? cJSON_Duplicate(extra, 1) : cJSON_CreateObject();
    if (p->client_id[0]) cJSON_AddStringToObject(p->extra, "client_id", p->client_id);
    p->graph = cJSON_Duplicate(graph, 1);
    p->to_execute = to_exec;
    p->outputs = cJSON_CreateObject();
    p->messages = cJSON_CreateArray();
    /* append (heap order is not sorted; the worker picks the lowest number) */
    ff_prompt **tail = &f->pending;
    while (*tail)
        tail = &(*tail)->next;
    *tail = p;
    f->st.prompts_accepted++;
    char *gtext = cJSON_PrintUnformatted(graph);
    if (f->naccepted == f->cap_accepted) {
        f->cap_accepted = f->cap_accepted ? f->cap_accepted * 2 : 16;
        f->accepted = realloc(f->accepted, f->cap_accepted * sizeof *f->accepted);
        f->accepted_ids = realloc(f->accepted_ids, f->cap_accepted * sizeof *f->accepted_ids);
        if (!f->accepted || !f->accepted_ids) abort();
    }
    f->accepted_ids[f->naccepted] = util_strdup(p->id);
    f->accepted[f->naccepted++] = gtext;
    cJSON *r = cJSON_CreateObject();
    cJSON_AddStringToObject(r, "prompt_id", p->id);
    cJSON_AddNumberToObject(r, "number", p->number);
    if (partial) {
        cJSON_AddItemToObject(r, "node_errors", partial);
        f->st.prompts_partial++;
    } else {
        cJSON_AddObjectToObject(r, "node_errors");
    }
    respond_json(s, 200, r);
    cJSON_Delete(r);
    cJSON_Delete(req);
    broadcast_status(f);
    f->cmd_kick = true;
}

/* Python's truthiness of a JSON value, as ComfyUI's handlers test their fields ("if x:"). */
static bool py_truthy(const cJSON *v)
{
    if (!v || cJSON_IsNull(v) || cJSON_IsFalse(v)) return false;
    if (cJSON_IsTrue(v)) return true;
    if (cJSON_IsNumber(v)) return v->valuedouble != 0;
    if (cJSON_IsString(v)) return v->valuestring[0] != '\0';
    return v->child != NULL; /* array, object: non-empty */
}

/* POST /queue as server.py does it: {"clear": <truthy>} wipes the pending prompts, then each
 * item of "delete" removes the pending prompt with that id (a running prompt is not in the
 * pending queue, so it is never touched). Anything that makes the handler raise in Python is a
 * 500: a body that is not JSON, or not an object, or a "delete" that cannot be iterated. A
 * string or object "delete" iterates characters or keys, which never equal a prompt id.
 * Every change broadcasts the new status (queue_updated). */
static void route_queue_post(fake_comfy *f, ff_pss *s)
{
    cJSON *req = cJSON_ParseWithLength((const char *)s->body, s->body_len);
    if (!cJSON_IsObject(req)) {
        cJSON_Delete(req);
        respond_text(s, 500, "500 Internal Server Error");
        return;
    }
    bool changed = false;
    const cJSON *clear = cJSON_GetObjectItemCaseSensitive(req, "clear");
    if (py_truthy(clear)) {
        prompts_free(&f->pending);
        changed = true;
    }
    const cJSON *del = cJSON_GetObjectItemCaseSensitive(req, "delete");
    if (del && !cJSON_IsArray(del) && !cJSON_IsString(del) && !cJSON_IsObject(del)) {
        cJSON_Delete(req);
        respond_text(s, 500, "500 Internal Server Error");
        if (changed) broadcast_status(f);
        return;
    }
    const cJSON *d;
    cJSON_ArrayForEach(d, (cJSON_IsArray(del) ? del : NULL))
    {
        if (!cJSON_IsString(d)) continue;
        for (ff_prompt **pp = &f->pending; *pp; pp = &(*pp)->next) {
            if (strcmp((*pp)->id, d->valuestring) == 0) {
                ff_prompt *p = *pp;
                *pp = p->next;
                prompt_free(p);
                f->st.queue_deletes++;
                changed = true;
                break;
            }
        }
    }
    cJSON_Delete(req);
    respond_text(s, 200, "");
    if (changed) broadcast_status(f);
}

/* POST /interrupt as server.py does it (since the targeted interrupt, 2025-09): a body that is
 * not JSON counts as {}; a truthy "prompt_id" interrupts only when it is the id of the running
 * prompt (anything else, a non-string too, is a no-op); no (or a falsy) prompt_id interrupts
 * whatever runs. Always 200, except a JSON body that is not an object (Python's .get raises:
 * 500). Nothing running: nothing happens (ComfyUI clears a stray flag when the next prompt
 * starts). */
static void route_interrupt(fake_comfy *f, ff_pss *s)
{
    cJSON *req = s->body_len ? cJSON_ParseWithLength((const char *)s->body, s->body_len) : NULL;
    if (req && !cJSON_IsObject(req)) {
        cJSON_Delete(req);
        respond_text(s, 500, "500 Internal Server Error");
        return;
    }
    const cJSON *pid = cJSON_GetObjectItemCaseSensitive(req, "prompt_id");
    f->st.interrupts++;
    bool targeted = py_truthy(pid);
    if (f->running &&
        (!targeted || (cJSON_IsString(pid) && strcmp(pid->valuestring, f->running->id) == 0))) {
        f->ex.interrupt = true;
        f->cmd_kick = true;
        f->st.interrupts_hit++;
        snprintf(f->last_interrupted, sizeof f->last_interrupted, "%s", f->running->id);
    }
    cJSON_Delete(req);
    respond_text(s, 200, "");
}

static void route_history_get(fake_comfy *f, ff_pss *s, const char *id)
{
    f->st.history_gets++;
    cJSON *r = cJSON_CreateObject();
    if (id) {
        for (const ff_prompt *p = f->hist_head; p; p = p->next)
            if (strcmp(p->id, id) == 0) cJSON_AddItemToObject(r, p->id, history_entry(p));
    } else {
        char buf[32];
        const char *mi = lws_get_urlarg_by_name(s->wsi, "max_items=", buf, sizeof buf);
        unsigned max = mi ? (unsigned)strtoul(mi, NULL, 10) : 0;
        unsigned skip = max && f->nhist > max ? f->nhist - max : 0, i = 0;
        for (const ff_prompt *p = f->hist_head; p; p = p->next, i++)
            if (i >= skip) cJSON_AddItemToObject(r, p->id, history_entry(p));
    }
    respond_json(s, 200, r);
    cJSON_Delete(r);
}

static void route_history_post(fake_comfy *f, ff_pss *s)
{
    cJSON *req = cJSON_ParseWithLength((const char *)s->body, s->body_len);
    if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(req, "clear"))) history_clear(f);
    cJSON_Delete(req);
    respond_text(s, 200, "");
}

static const char *mime_of(const char *name)
{
    const char *dot = strrchr(name, '.');
    if (!dot) return "application/octet-stream";
    if (strcmp(dot, ".png") == 0) return "image/png";
    if (strcmp(dot, ".jpg") == 0 || strcmp(dot, ".jpeg") == 0) return "image/jpeg";
    if (strcmp(dot, ".webp") == 0) return "image/webp";
    if (strcmp(dot, ".mp4") == 0) return "video/mp4";
    if (strcmp(dot, ".webm") == 0) return "video/webm";
    if (strcmp(dot, ".gif") == 0) return "image/gif";
    return "application/octet-stream";
}

static void route_view(fake_comfy *f, ff_pss *s)
{
    char b1[600], b2[300], b3[64];
    const char *fn = lws_get_urlarg_by_name(s->wsi, "filename=", b1, sizeof b1);
    const char *sub = lws_get_urlarg_by_name(s->wsi, "subfolder=", b2, sizeof b2);
    const char *type = lws_get_urlarg_by_name(s->wsi, "type=", b3, sizeof b3);
    if (!fn || !*fn) {
        respond_text(s, 404, "404: Not Found");
        return;
    }
    char name[300];
    snprintf(name, sizeof name, "%s", fn);
    char *ann = strstr(name, " [");
    char ann_type[16] = "";
    if (ann && name[strlen(name) - 1] == ']') {
        snprintf(ann_type, sizeof ann_type, "%.*s", (int)(strlen(ann) - 3), ann + 2);
        *ann = '\0';
    }
    if (name[0] == '/' || strstr(name, "..")) {
        respond_text(s, 400, "400: Bad Request");
        return;
    }
    const char *t = ann_type[0] ? ann_type : (type && *type ? type : "output");
    if (strcmp(t, "output") != 0 && strcmp(t, "input") != 0 && strcmp(t, "temp") != 0) {
        respond_text(s, 400, "400: Bad Request");
        return;
    }
    if (sub && (sub[0] == '/' || strstr(sub, ".."))) {
        respond_text(s, 403, "403: Forbidden");
        return;
    }
    ff_file *x = file_find(f, t, sub ? sub : "", name);
    if (!x) {
        respond_text(s, 404, "404: Not Found");
        return;
    }
    f->st.views++;
    s->status = 200;
    s->resp_ctype = mime_of(x->name);
    snprintf(s->disp, sizeof s->disp, "filename=\"%.280s\"", x->name);
    s->resp = malloc(x->len ? x->len : 1);
    if (!s->resp) abort();
    memcpy(s->resp, x->data, x->len);
    s->resp_len = x->len;
}

static void route_upload(fake_comfy *f, ff_pss *s)
{
    char boundary[80];
    multipart_part parts[8];
    int n = -1;
    if (multipart_boundary(s->ctype, boundary, sizeof boundary) == 0)
        n = multipart_parse(s->body, s->body_len, boundary, parts, 8);
    const multipart_part *img = n > 0 ? multipart_find(parts, n, "image") : NULL;
    if (!img || !img->filename[0]) {
        respond_text(s, 400, "");
        return;
    }
    const multipart_part *pt = multipart_find(parts, n, "type");
    const multipart_part *ps = multipart_find(parts, n, "subfolder");
    const multipart_part *po = multipart_find(parts, n, "overwrite");
    char type[16] = "input", sub[128] = "";
    if (pt && pt->len && pt->len < sizeof type)
        snprintf(type, sizeof type, "%.*s", (int)pt->len, pt->data);
    if (strcmp(type, "input") != 0 && strcmp(type, "temp") != 0 && strcmp(type, "output") != 0) {
        respond_text(s, 500, "500 Internal Server Error");
        return;
    }
    if (ps && ps->len < sizeof sub) snprintf(sub, sizeof sub, "%.*s", (int)ps->len, ps->data);
    bool overwrite = po && ((po->len == 4 && memcmp(po->data, "true", 4) == 0) ||
                            (po->len == 1 && po->data[0] == '1'));
    const char *base = strrchr(img->filename, '/');
    base = base ? base + 1 : img->filename;
    if (strstr(base, "..") || strstr(sub, "..") || sub[0] == '/') {
        respond_text(s, 400, "");
        return;
    }
    char name[256];
    snprintf(name, sizeof name, "%s", base);
    ff_file *x = file_find(f, type, sub, name);
    if (x && !overwrite) {
        bool same = x->len == img->len && memcmp(x->data, img->data, img->len) == 0;
        if (!same) {
            /* "name (1).ext", "name (2).ext", ... until free or identical */
            char stem[200], ext[40] = "";
            const char *dot = strrchr(base, '.');
            snprintf(stem, sizeof stem, "%.*s", dot ? (int)(dot - base) : (int)strlen(base), base);
            if (dot) snprintf(ext, sizeof ext, "%s", dot);
            for (unsigned i = 1;; i++) {
                snprintf(name, sizeof name, "%s (%u)%s", stem, i, ext);
                ff_file *y = file_find(f, type, sub, name);
                if (!y) {
                    x = NULL;
                    break;
                }
                if (y->len == img->len && memcmp(y->data, img->data, img->len) == 0) {
                    x = y;
                    break;
                }
            }
        }
    }
    if (!x || overwrite) {
        uint8_t *d = malloc(img->len ? img->len : 1);
        if (!d) abort();
        memcpy(d, img->data, img->len);
        if (x) {
            free(x->data);
            x->data = d;
            x->len = img->len;
        } else {
            file_add(f, type, sub, name, d, img->len);
        }
    }
    f->st.uploads++;
    cJSON *r = cJSON_CreateObject();
    cJSON_AddStringToObject(r, "name", name);
    cJSON_AddStringToObject(r, "subfolder", sub);
    cJSON_AddStringToObject(r, "type", type);
    respond_json(s, 200, r);
    cJSON_Delete(r);
}

/* The model files a ComfyUI install would list for its loader nodes (what /object_info answers
 * for their file inputs, and what a bot may offer to choose from). */
static const struct {
    const char *cls, *input;
    const char *names[6];
} model_lists[] = {
    {"CheckpointLoaderSimple",
     "ckpt_name",
     {"sd_xl_base_1.0.safetensors", "flux1-dev-fp8.safetensors",
      "realvisxl/realvisxlV50_v50Bakedvae.safetensors"}},
    {"UNETLoader",
     "unet_name",
     {"flux1-dev.safetensors", "flux1-schnell.safetensors", "flux1-dev-fp8.safetensors",
      "wan2.1_t2v_1.3B_fp16.safetensors"}},
    {"LoraLoader",
     "lora_name",
     {"flux_anime_style.safetensors", "watercolor_flux_v2.safetensors",
      "pixel_art_flux.safetensors"}},
    {"LoraLoaderModelOnly",
     "lora_name",
     {"flux_anime_style.safetensors", "watercolor_flux_v2.safetensors",
      "pixel_art_flux.safetensors"}},
    {"VAELoader", "vae_name", {"ae.safetensors", "wan_2.1_vae.safetensors"}},
    {"CLIPLoader",
     "clip_name",
     {"clip_l.safetensors", "t5xxl_fp8_e4m3fn.safetensors",
      "umt5_xxl_fp8_e4m3fn_scaled.safetensors"}},
    {"UpscaleModelLoader", "model_name", {"4x-UltraSharp.pth", "RealESRGAN_x4plus.pth"}},
};

/* An input's spec as ComfyUI gives it: [[file names], {...}] for a loader's file input,
 * ["*"] (any) for the others the fake does not type. */
static cJSON *input_spec(const char *cls, const char *input)
{
    cJSON *spec = cJSON_CreateArray();
    for (size_t i = 0; i < sizeof model_lists / sizeof model_lists[0]; i++) {
        if (strcmp(model_lists[i].cls, cls) != 0 || strcmp(model_lists[i].input, input) != 0)
            continue;
        cJSON *names = cJSON_CreateArray();
        for (size_t k = 0; k < 6 && model_lists[i].names[k]; k++)
            cJSON_AddItemToArray(names, cJSON_CreateString(model_lists[i].names[k]));
        cJSON_AddItemToArray(spec, names);
        cJSON *opts = cJSON_CreateObject();
        cJSON_AddStringToObject(opts, "tooltip", "The model file to load.");
        cJSON_AddItemToArray(spec, opts);
        return spec;
    }
    cJSON_AddItemToArray(spec, cJSON_CreateString("*"));
    return spec;
}

static void route_object_info(ff_pss *s, const char *one)
{
    cJSON *r = cJSON_CreateObject();
    for (size_t i = 0; i < sizeof classes / sizeof classes[0]; i++) {
        if (one && strcmp(one, classes[i].name) != 0) continue;
        cJSON *c = cJSON_AddObjectToObject(r, classes[i].name);
        cJSON *in = cJSON_AddObjectToObject(c, "input");
        cJSON *req = cJSON_AddObjectToObject(in, "required");
        char buf[256];
        snprintf(buf, sizeof buf, "%s", classes[i].required);
        for (char *sv = NULL, *t = strtok_r(buf, ",", &sv); t; t = strtok_r(NULL, ",", &sv))
            cJSON_AddItemToObject(req, t, input_spec(classes[i].name, t));
        cJSON_AddArrayToObject(c, "output");
        cJSON_AddStringToObject(c, "name", classes[i].name);
        cJSON_AddStringToObject(c, "display_name", classes[i].name);
        cJSON_AddStringToObject(c, "category", "fake");
        cJSON_AddBoolToObject(c, "output_node", is_output_class(classes[i].name));
    }
    respond_json(s, 200, r);
    cJSON_Delete(r);
}

const char *fake_comfy_route_name(fake_comfy_route r)
{
    static const char *const names[FAKE_COMFY_ROUTE_COUNT] = {
        "prompt_post",  "prompt_get",   "queue_get",    "queue_post", "interrupt",
        "history_get",  "history_list", "history_post", "view",       "upload",
        "system_stats", "object_info",  "other"};
    return r < FAKE_COMFY_ROUTE_COUNT ? names[r] : "?";
}

/* The route a request asks for, by what route() below answers it with. */
static fake_comfy_route route_of(const ff_pss *s, const char *path)
{
    bool get = s->method == LWSHUMETH_GET, post = s->method == LWSHUMETH_POST;
    if (s->too_big) return FAKE_COMFY_ROUTE_OTHER;
    if (strcmp(path, "/prompt") == 0 && (get || post))
        return post ? FAKE_COMFY_ROUTE_PROMPT_POST : FAKE_COMFY_ROUTE_PROMPT_GET;
    if (strcmp(path, "/queue") == 0 && (get || post))
        return post ? FAKE_COMFY_ROUTE_QUEUE_POST : FAKE_COMFY_ROUTE_QUEUE_GET;
    if (post && strcmp(path, "/interrupt") == 0) return FAKE_COMFY_ROUTE_INTERRUPT;
    if (strcmp(path, "/history") == 0 && (get || post))
        return post ? FAKE_COMFY_ROUTE_HISTORY_POST : FAKE_COMFY_ROUTE_HISTORY_LIST;
    if (get && strncmp(path, "/history/", 9) == 0) return FAKE_COMFY_ROUTE_HISTORY_GET;
    if (get && strcmp(path, "/view") == 0) return FAKE_COMFY_ROUTE_VIEW;
    if (post && strcmp(path, "/upload/image") == 0) return FAKE_COMFY_ROUTE_UPLOAD;
    if (get && strcmp(path, "/system_stats") == 0) return FAKE_COMFY_ROUTE_SYSTEM_STATS;
    if (get && (strcmp(path, "/object_info") == 0 || strncmp(path, "/object_info/", 13) == 0))
        return FAKE_COMFY_ROUTE_OBJECT_INFO;
    return FAKE_COMFY_ROUTE_OTHER;
}

static void route(fake_comfy *f, ff_pss *s)
{
    const char *path = s->path;
    if (strncmp(path, "/api/", 5) == 0) path += 4;
    bool get = s->method == LWSHUMETH_GET, post = s->method == LWSHUMETH_POST;
    f->st.http_requests++;
    f->st.routes[route_of(s, path)]++;
    if (s->too_big) {
        respond_text(s, 413, "413: Request Entity Too Large");
    } else if (post && strcmp(path, "/prompt") == 0) {
        f->st.prompt_posts++;
        if (!f->hang_prompt) route_post_prompt(f, s); /* else: never answered (status stays 0) */
    } else if (get && strcmp(path, "/prompt") == 0) {
        cJSON *r = cJSON_CreateObject();
        cJSON_AddNumberToObject(cJSON_AddObjectToObject(r, "exec_info"), "queue_remaining",
                                queue_remaining(f));
        respond_json(s, 200, r);
        cJSON_Delete(r);
    } else if (get && strcmp(path, "/queue") == 0) {
        f->st.queue_gets++;
        cJSON *r = cJSON_CreateObject();
        cJSON *run = cJSON_AddArrayToObject(r, "queue_running");
        if (f->running) cJSON_AddItemToArray(run, queue_item(f->running));
        cJSON *pend = cJSON_AddArrayToObject(r, "queue_pending");
        for (const ff_prompt *p = f->pending; p; p = p->next)
            cJSON_AddItemToArray(pend, queue_item(p));
        respond_json(s, 200, r);
        cJSON_Delete(r);
    } else if (post && strcmp(path, "/queue") == 0) {
        route_queue_post(f, s);
    } else if (post && strcmp(path, "/interrupt") == 0) {
        route_interrupt(f, s);
    } else if (get && strcmp(path, "/history") == 0) {
        route_history_get(f, s, NULL);
    } else if (get && strncmp(path, "/history/", 9) == 0) {
        route_history_get(f, s, path + 9);
    } else if (post && strcmp(path, "/history") == 0) {
        route_history_post(f, s);
    } else if (get && strcmp(path, "/view") == 0) {
        route_view(f, s);
    } else if (post && strcmp(path, "/upload/image") == 0) {
        route_upload(f, s);
    } else if (get && strcmp(path, "/system_stats") == 0) {
        cJSON *r = cJSON_Parse(
            "{\"system\":{\"os\":\"posix\",\"ram_total\":68719476736,\"ram_free\":34359738368,"
            "\"comfyui_version\":\"0.3.64-fake\",\"python_version\":\"3.12.3\","
            "\"pytorch_version\":\"2.8.0\",\"embedded_python\":false,\"argv\":[\"main.py\"]},"
            "\"devices\":[{\"name\":\"cuda:0 Fake GPU\",\"type\":\"cuda\",\"index\":0,"
            "\"vram_total\":25769803776,\"vram_free\":20000000000,\"torch_vram_total\":0,"
            "\"torch_vram_free\":0}]}");
        respond_json(s, 200, r);
        cJSON_Delete(r);
    } else if (get && strcmp(path, "/object_info") == 0) {
        route_object_info(s, NULL);
    } else if (get && strncmp(path, "/object_info/", 13) == 0) {
        route_object_info(s, path + 13);
    } else {
        respond_text(s, 404, "404: Not Found");
    }
}

/* ---- lws plumbing ------------------------------------------------------------------------- */

static void pss_http_reset(ff_pss *s)
{
    free(s->body);
    free(s->resp);
    s->body = s->resp = NULL;
    s->body_len = s->body_cap = s->resp_len = s->resp_off = 0;
    s->too_big = s->responding = false;
    s->disp[0] = '\0';
}

static void client_remove(fake_comfy *f, ff_pss *s)
{
    if (s->slot >= 0 && s->slot < FF_MAX_CLIENTS && f->clients[s->slot] == s) {
        f->clients[s->slot] = NULL;
        if (f->st.ws_open) f->st.ws_open--;
    }
    s->slot = -1;
    while (s->head) {
        ff_frame *fr = s->head;
        s->head = fr->next;
        free(fr);
    }
    s->tail = NULL;
    s->nframes = 0;
}

static void drop_all_ws(fake_comfy *f)
{
    for (int i = 0; i < FF_MAX_CLIENTS; i++) {
        ff_pss *c = f->clients[i];
        if (!c) continue;
        c->drop = true;
        /* an abrupt end, no close frame: like a killed process or a cut network */
        int fd = lws_get_socket_fd(c->wsi);
        if (fd >= 0) shutdown(fd, SHUT_RDWR);
        lws_callback_on_writable(c->wsi);
    }
}

static void do_restart(fake_comfy *f)
{
    prompts_free(&f->pending);
    if (f->running) {
        prompt_free(f->running);
        f->running = NULL;
        cJSON_Delete(f->ex.executed);
        f->ex.executed = NULL;
    }
    history_clear(f);
    f->counter = 0;
    f->st.restarts++;
    drop_all_ws(f);
}

static int write_http(fake_comfy *f, ff_pss *s)
{
    (void)f;
    if (!s->responding) {
        unsigned char hdr[LWS_PRE + 1024];
        unsigned char *start = hdr + LWS_PRE, *p = start, *end = hdr + sizeof hdr - 1;
        if (lws_add_http_common_headers(s->wsi, (unsigned)s->status, s->resp_ctype,
                                        (lws_filepos_t)s->resp_len, &p, end))
            return -1;
        if (s->disp[0] && lws_add_http_header_by_name(
                              s->wsi, (const unsigned char *)"content-disposition:",
                              (const unsigned char *)s->disp, (int)strlen(s->disp), &p, end))
            return -1;
        if (lws_finalize_write_http_header(s->wsi, start, &p, end)) return -1;
        s->responding = true;
        if (s->resp_len == 0) goto done;
        lws_callback_on_writable(s->wsi);
        return 0;
    }
    size_t chunk = s->resp_len - s->resp_off;
    if (chunk > 65536) chunk = 65536;
    unsigned char *buf = malloc(LWS_PRE + chunk);
    if (!buf) abort();
    memcpy(buf + LWS_PRE, s->resp + s->resp_off, chunk);
    bool last = s->resp_off + chunk == s->resp_len;
    int w = lws_write(s->wsi, buf + LWS_PRE, chunk, last ? LWS_WRITE_HTTP_FINAL : LWS_WRITE_HTTP);
    free(buf);
    if (w < 0) return -1;
    s->resp_off += chunk;
    if (!last) {
        lws_callback_on_writable(s->wsi);
        return 0;
    }
done:
    pss_http_reset(s);
    s->status = 0;
    /* lws may free the per-session data here (keep-alive starts a new transaction): s is not
     * touched after this call */
    return lws_http_transaction_completed(s->wsi) ? -1 : 1;
}

/* Answers the request in s (mutex held, released here), then starts execution when a route
 * queued work: exec_schedule must run without the mutex. */
static void route_and_unlock(fake_comfy *f, ff_pss *s, struct lws *wsi)
{
    route(f, s);
    lws_callback_on_writable(wsi);
    bool kick = f->cmd_kick;
    f->cmd_kick = false;
    pthread_mutex_unlock(&f->mu);
    if (kick) exec_schedule(f, 0);
}

static int callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                    size_t len)
{
    struct lws_context *ctx = lws_get_context(wsi);
    fake_comfy *f = ctx ? lws_context_user(ctx) : NULL;
    ff_pss *s = user;
    int rc = 0;
    switch (reason) {
    case LWS_CALLBACK_HTTP: {
        pthread_mutex_lock(&f->mu);
        if (f->down) { /* like a dead host: no answer at all */
            pthread_mutex_unlock(&f->mu);
            return -1;
        }
        pss_http_reset(s);
        s->wsi = wsi;
        char *uri;
        int ulen;
        s->method = lws_http_get_uri_and_method(wsi, &uri, &ulen);
        snprintf(s->path, sizeof s->path, "%s", (const char *)in);
        s->ctype[0] = '\0';
        lws_hdr_copy(wsi, s->ctype, sizeof s->ctype, WSI_TOKEN_HTTP_CONTENT_TYPE);
        /* ComfyUI's origin check: a loopback Host with a different Origin is refused */
        char origin[256] = "", host[256] = "";
        lws_hdr_copy(wsi, origin, sizeof origin, WSI_TOKEN_ORIGIN);
        lws_hdr_copy(wsi, host, sizeof host, WSI_TOKEN_HOST);
        if (origin[0]) {
            const char *oh = strstr(origin, "://");
            oh = oh ? oh + 3 : origin;
            if (strcmp(oh, host) != 0) {
                respond_text(s, 403, "403: Forbidden");
                lws_callback_on_writable(wsi);
                pthread_mutex_unlock(&f->mu);
                return 0;
            }
        }
        if (s->method == LWSHUMETH_POST) {
            pthread_mutex_unlock(&f->mu);
            return 0; /* the body follows */
        }
        route_and_unlock(f, s, wsi);
        return 0;
    }
    case LWS_CALLBACK_HTTP_BODY:
        pthread_mutex_lock(&f->mu);
        if (!s->too_big) {
            if (s->body_len + len > FF_BODY_MAX) {
                s->too_big = true;
            } else {
                if (s->body_len + len + 1 > s->body_cap) {
                    size_t nc = s->body_cap ? s->body_cap : 4096;
                    while (nc < s->body_len + len + 1)
                        nc *= 2;
                    uint8_t *nb = realloc(s->body, nc);
                    if (!nb) abort();
                    s->body = nb;
                    s->body_cap = nc;
                }
                memcpy(s->body + s->body_len, in, len);
                s->body_len += len;
                s->body[s->body_len] = 0;
            }
        }
        pthread_mutex_unlock(&f->mu);
        return 0;
    case LWS_CALLBACK_HTTP_BODY_COMPLETION: {
        pthread_mutex_lock(&f->mu);
        if (!s->body) {
            s->body = calloc(1, 1);
            if (!s->body) abort();
        }
        route_and_unlock(f, s, wsi);
        return 0;
    }
    case LWS_CALLBACK_HTTP_WRITEABLE:
        pthread_mutex_lock(&f->mu);
        rc = s->status ? write_http(f, s) : 0;
        pthread_mutex_unlock(&f->mu);
        return rc < 0 ? -1 : 0;
    case LWS_CALLBACK_CLOSED_HTTP:
        /* libwebsockets also reports the close of a connection that never got its per-session
         * state (closed before its HTTP request was read, as a restart of this fake does to
         * connections in flight): nothing to reset then (seen: a NULL dereference here). */
        if (!s) return 0;
        pthread_mutex_lock(&f->mu);
        pss_http_reset(s);
        pthread_mutex_unlock(&f->mu);
        return 0;
    case LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION: {
        pthread_mutex_lock(&f->mu);
        bool refuse = f->refuse_ws || f->down;
        pthread_mutex_unlock(&f->mu);
        char path[256] = "";
        lws_hdr_copy(wsi, path, sizeof path, WSI_TOKEN_GET_URI);
        if (refuse || (strcmp(path, "/ws") != 0 && strcmp(path, "/api/ws") != 0)) return -1;
        return 0;
    }
    case LWS_CALLBACK_ESTABLISHED: {
        pthread_mutex_lock(&f->mu);
        memset(s, 0, sizeof *s);
        s->wsi = wsi;
        s->is_ws = true;
        s->slot = -1;
        char buf[128];
        const char *cid = lws_get_urlarg_by_name(wsi, "clientId=", buf, sizeof buf);
        if (cid && *cid && strlen(cid) < sizeof s->client_id) {
            snprintf(s->client_id, sizeof s->client_id, "%s", cid);
        } else {
            char hex[33];
            random_hex_id(hex);
            snprintf(s->client_id, sizeof s->client_id, "%s", hex);
        }
        for (int i = 0; i < FF_MAX_CLIENTS; i++) {
            if (!f->clients[i]) {
                f->clients[i] = s;
                s->slot = i;
                break;
            }
        }
        if (s->slot < 0) {
            pthread_mutex_unlock(&f->mu);
            return -1;
        }
        /* registering an id replaces an older socket with the same id */
        for (int i = 0; i < FF_MAX_CLIENTS; i++) {
            ff_pss *o = f->clients[i];
            if (o && o != s && strcmp(o->client_id, s->client_id) == 0) o->client_id[0] = '\0';
        }
        f->st.ws_connects++;
        f->st.ws_open++;
        cJSON *d;
        cJSON *m = event("status", &d);
        cJSON *st = cJSON_AddObjectToObject(d, "status");
        cJSON_AddNumberToObject(cJSON_AddObjectToObject(st, "exec_info"), "queue_remaining",
                                queue_remaining(f));
        cJSON_AddStringToObject(d, "sid", s->client_id);
        send_json_to(f, s, m);
        cJSON_Delete(m);
        /* reconnect mid-job: the last executing node without prompt_id */
        if (f->running && strcmp(f->running->client_id, s->client_id) == 0 && !f->silent &&
            f->ex.idx < f->ex.n) {
            m = event("executing", &d);
            cJSON_AddStringToObject(d, "node", f->ex.order[f->ex.idx]);
            send_json_to(f, s, m);
            cJSON_Delete(m);
        }
        pthread_mutex_unlock(&f->mu);
        return 0;
    }
    case LWS_CALLBACK_RECEIVE: {
        pthread_mutex_lock(&f->mu);
        if (lws_is_final_fragment(wsi)) f->st.ws_frames_in++;
        cJSON *m = cJSON_ParseWithLength(in, len);
        const cJSON *t = cJSON_GetObjectItemCaseSensitive(m, "type");
        if (cJSON_IsString(t) && strcmp(t->valuestring, "feature_flags") == 0) {
            cJSON *d;
            cJSON *r = event("feature_flags", &d);
            cJSON_AddBoolToObject(d, "supports_preview_metadata", 1);
            cJSON_AddNumberToObject(d, "max_upload_size", 104857600);
            send_json_to(f, s, r);
            cJSON_Delete(r);
        }
        cJSON_Delete(m);
        pthread_mutex_unlock(&f->mu);
        return 0;
    }
    case LWS_CALLBACK_SERVER_WRITEABLE: {
        pthread_mutex_lock(&f->mu);
        if (s->drop) {
            pthread_mutex_unlock(&f->mu);
            return -1;
        }
        ff_frame *fr = s->head;
        if (fr) {
            s->head = fr->next;
            if (!s->head) s->tail = NULL;
            s->nframes--;
            f->st.ws_frames_out++;
        }
        bool more = s->head != NULL;
        pthread_mutex_unlock(&f->mu);
        if (fr) {
            int w = lws_write(wsi, fr->buf + LWS_PRE, fr->len,
                              fr->binary ? LWS_WRITE_BINARY : LWS_WRITE_TEXT);
            free(fr);
            if (w < 0) return -1;
        }
        if (more) lws_callback_on_writable(wsi);
        return 0;
    }
    case LWS_CALLBACK_CLOSED:
        pthread_mutex_lock(&f->mu);
        client_remove(f, s);
        pthread_mutex_unlock(&f->mu);
        return 0;
    case LWS_CALLBACK_EVENT_WAIT_CANCELLED: {
        if (!f) return 0;
        pthread_mutex_lock(&f->mu);
        bool kick = f->cmd_kick;
        if (f->cmd_restart) do_restart(f);
        if (f->cmd_drop) drop_all_ws(f);
        if (f->cmd_interrupt && f->running) {
            f->ex.interrupt = true;
            kick = true;
        }
        f->cmd_restart = f->cmd_drop = f->cmd_interrupt = f->cmd_kick = false;
        pthread_mutex_unlock(&f->mu);
        if (kick) exec_schedule(f, 0);
        return 0;
    }
    default:
        break;
    }
    return lws_callback_http_dummy(wsi, reason, user, in, len);
}

static const struct lws_protocols protocols[] = {
    {"comfy", callback, sizeof(ff_pss), 65536, 0, NULL, 0},
    {NULL, NULL, 0, 0, 0, NULL, 0},
};

static void *service_thread(void *arg)
{
    fake_comfy *f = arg;
    while (!atomic_load(&f->stop)) {
        if (lws_service(f->ctx, 0) < 0) break;
    }
    return NULL;
}

fake_comfy *fake_comfy_start(const fake_comfy_opts *o)
{
    fake_comfy *f = calloc(1, sizeof *f);
    if (!f) return NULL;
    pthread_mutex_init(&f->mu, NULL);
    fake_comfy_opts def = {0};
    if (!o) o = &def;
    f->steps = o->steps;
    f->step_delay_ms = o->step_delay_ms;
    f->png_w = o->png_width ? o->png_width : 64;
    f->png_h = o->png_height ? o->png_height : 64;
    f->png_noise = o->png_noise;
    f->previews = o->previews;
    f->any_lora = o->loras == NULL;
    if (o->loras) {
        f->loras = calloc(o->nloras ? o->nloras : 1, sizeof *f->loras);
        if (!f->loras) abort();
        for (unsigned i = 0; i < o->nloras; i++)
            f->loras[i] = util_strdup(o->loras[i]);
        f->nloras = o->nloras;
    }
    snprintf(f->name, sizeof f->name, "%s", o->name ? o->name : "fake_comfy");
    lws_set_log_level(LLL_ERR, NULL);
    struct lws_context_creation_info info;
    memset(&info, 0, sizeof info);
    info.options = LWS_SERVER_OPTION_EXPLICIT_VHOSTS | LWS_SERVER_OPTION_DISABLE_IPV6;
    info.user = f;
    info.max_http_header_data = 8192;
    info.timeout_secs = 30;
    f->ctx = lws_create_context(&info);
    if (!f->ctx) goto fail;
    memset(&info, 0, sizeof info);
    info.port = 0;
    info.iface = "127.0.0.1";
    info.protocols = protocols;
    info.vhost_name = "fake_comfy";
    info.options = LWS_SERVER_OPTION_DISABLE_IPV6;
    info.keepalive_timeout = 75;
    f->vh = lws_create_vhost(f->ctx, &info);
    if (!f->vh) goto fail;
    f->port = lws_get_vhost_listen_port(f->vh);
    if (f->port <= 0) goto fail;
    snprintf(f->url, sizeof f->url, "http://127.0.0.1:%d", f->port);
    if (pthread_create(&f->thr, NULL, service_thread, f) != 0) goto fail;
    f->started = true;
    return f;
fail:
    if (f->ctx) lws_context_destroy(f->ctx);
    loras_free(f);
    pthread_mutex_destroy(&f->mu);
    free(f);
    return NULL;
}

void fake_comfy_stop(fake_comfy *f)
{
    if (!f) return;
    if (f->started) {
        atomic_store(&f->stop, true);
        lws_cancel_service(f->ctx);
        pthread_join(f->thr, NULL);
    }
    lws_sul_cancel(&f->sul);
    lws_context_destroy(f->ctx);
    prompts_free(&f->pending);
    prompt_free(f->running);
    cJSON_Delete(f->ex.executed);
    prompts_free(&f->hist_head);
    while (f->files) {
        ff_file *x = f->files;
        f->files = x->next;
        free(x->data);
        free(x);
    }
    for (unsigned i = 0; i < f->naccepted; i++) {
        free(f->accepted[i]);
        free(f->accepted_ids[i]);
    }
    free(f->accepted);
    free(f->accepted_ids);
    loras_free(f);
    pthread_mutex_destroy(&f->mu);
    free(f);
}

int fake_comfy_port(const fake_comfy *f)
{
    return f->port;
}
const char *fake_comfy_url(const fake_comfy *f)
{
    return f->url;
}

#define KNOB(stmt)                                                                                 \
    do {                                                                                           \
        pthread_mutex_lock(&f->mu);                                                                \
        stmt;                                                                                      \
        f->cmd_kick = true;                                                                        \
        pthread_mutex_unlock(&f->mu);                                                              \
        lws_cancel_service(f->ctx);                                                                \
    } while (0)

void fake_comfy_set_steps(fake_comfy *f, unsigned steps)
{
    KNOB(f->steps = steps);
}
void fake_comfy_set_step_delay(fake_comfy *f, unsigned ms)
{
    KNOB(f->step_delay_ms = ms);
}
void fake_comfy_fail_at(fake_comfy *f, const char *node, const char *message)
{
    KNOB({
        snprintf(f->fail_node, sizeof f->fail_node, "%s", node ? node : "");
        snprintf(f->fail_msg, sizeof f->fail_msg, "%s", message ? message : "");
    });
}
void fake_comfy_interrupt(fake_comfy *f)
{
    KNOB(f->cmd_interrupt = true; f->st.interrupts++);
}
void fake_comfy_drop_ws(fake_comfy *f)
{
    KNOB(f->cmd_drop = true);
}
void fake_comfy_restart(fake_comfy *f)
{
    KNOB(f->cmd_restart = true);
}
void fake_comfy_set_silent(fake_comfy *f, bool on)
{
    KNOB(f->silent = on);
}
void fake_comfy_set_hang(fake_comfy *f, bool on)
{
    KNOB(f->hang = on);
}
void fake_comfy_set_hang_prompt(fake_comfy *f, bool on)
{
    KNOB(f->hang_prompt = on);
}
void fake_comfy_set_reject(fake_comfy *f, bool on)
{
    KNOB(f->reject = on);
}
void fake_comfy_reject_at(fake_comfy *f, const char *node)
{
    KNOB(snprintf(f->reject_node, sizeof f->reject_node, "%s", node ? node : ""));
}
void fake_comfy_set_paused(fake_comfy *f, bool on)
{
    KNOB(f->paused = on);
}
void fake_comfy_set_down(fake_comfy *f, bool on)
{
    KNOB({
        f->down = on;
        if (on) f->cmd_drop = true;
    });
}
void fake_comfy_set_refuse_ws(fake_comfy *f, bool on)
{
    KNOB(f->refuse_ws = on);
}
void fake_comfy_set_png(fake_comfy *f, uint32_t w, uint32_t h, bool noise)
{
    KNOB({
        f->png_w = w ? w : 64;
        f->png_h = h ? h : 64;
        f->png_noise = noise;
    });
}

bool fake_comfy_last_interrupted(fake_comfy *f, char *out, size_t cap)
{
    pthread_mutex_lock(&f->mu);
    bool any = f->last_interrupted[0] != '\0';
    snprintf(out, cap, "%s", f->last_interrupted);
    pthread_mutex_unlock(&f->mu);
    return any;
}

void fake_comfy_get_stats(fake_comfy *f, fake_comfy_stats *out)
{
    pthread_mutex_lock(&f->mu);
    *out = f->st;
    out->queue_remaining = queue_remaining(f);
    out->input_files = 0;
    for (const ff_file *x = f->files; x; x = x->next)
        if (strcmp(x->type, "input") == 0) out->input_files++;
    pthread_mutex_unlock(&f->mu);
}

char *fake_comfy_prompt_json(fake_comfy *f, unsigned idx)
{
    char *r = NULL;
    pthread_mutex_lock(&f->mu);
    if (idx < f->naccepted) r = util_strdup(f->accepted[idx]);
    pthread_mutex_unlock(&f->mu);
    return r;
}

bool fake_comfy_prompt_id(fake_comfy *f, unsigned idx, char *out, size_t cap)
{
    pthread_mutex_lock(&f->mu);
    bool ok = idx < f->naccepted;
    snprintf(out, cap, "%s", ok ? f->accepted_ids[idx] : "");
    pthread_mutex_unlock(&f->mu);
    return ok;
}

uint8_t *fake_comfy_upload_data(fake_comfy *f, const char *name, size_t *len)
{
    uint8_t *r = NULL;
    pthread_mutex_lock(&f->mu);
    char sub[256] = "";
    const char *sl = strrchr(name, '/');
    if (sl) snprintf(sub, sizeof sub, "%.*s", (int)(sl - name), name);
    ff_file *x = file_find(f, "input", sub, sl ? sl + 1 : name);
    if (x) {
        r = malloc(x->len ? x->len : 1);
        if (!r) abort();
        memcpy(r, x->data, x->len);
        if (len) *len = x->len;
    }
    pthread_mutex_unlock(&f->mu);
    return r;
}

bool fake_comfy_wait(fake_comfy *f, bool (*pred)(const fake_comfy_stats *s, void *arg), void *arg,
                     unsigned timeout_ms)
{
    uint64_t end = rt_now_ms() + timeout_ms;
    for (;;) {
        fake_comfy_stats s;
        fake_comfy_get_stats(f, &s);
        if (pred(&s, arg)) return true;
        if (rt_now_ms() >= end) return false;
        util_sleep_ms(2);
    }
}
