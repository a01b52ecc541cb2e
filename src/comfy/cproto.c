/* ComfyUI protocol parsing and building (see cproto.h). */
#include "comfy/cproto.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/util_json.h"
#include "util/util_url.h"

static const struct {
    const char *name;
    cproto_ev type;
} ev_names[] = {
    {"status", CPROTO_EV_STATUS},
    {"execution_start", CPROTO_EV_EXECUTION_START},
    {"execution_cached", CPROTO_EV_EXECUTION_CACHED},
    {"executing", CPROTO_EV_EXECUTING},
    {"progress", CPROTO_EV_PROGRESS},
    {"progress_state", CPROTO_EV_PROGRESS_STATE},
    {"executed", CPROTO_EV_EXECUTED},
    {"execution_success", CPROTO_EV_SUCCESS},
    {"execution_error", CPROTO_EV_ERROR},
    {"execution_interrupted", CPROTO_EV_INTERRUPTED},
    {"feature_flags", CPROTO_EV_FEATURE_FLAGS},
};

const char *cproto_ev_name(cproto_ev t)
{
    for (size_t i = 0; i < sizeof ev_names / sizeof ev_names[0]; i++)
        if (ev_names[i].type == t) return ev_names[i].name;
    if (t == CPROTO_EV_PREVIEW) return "preview";
    if (t == CPROTO_EV_TEXT) return "text";
    return "unknown";
}

/* Copies a string member into out; missing/null is fine (""), wrong type or too long fails. */
static int get_str(const cJSON *o, const char *key, char *out, size_t outlen, bool truncate)
{
    out[0] = '\0';
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!v || cJSON_IsNull(v)) return 0;
    if (cJSON_IsNumber(v)) { /* some custom nodes send numeric node ids */
        if (v->valuedouble != floor(v->valuedouble) || fabs(v->valuedouble) > 1e15) return -1;
        snprintf(out, outlen, "%.0f", v->valuedouble);
        return 0;
    }
    if (!cJSON_IsString(v)) return -1;
    size_t n = strlen(v->valuestring);
    if (n >= outlen && !truncate) return -1;
    snprintf(out, outlen, "%s", v->valuestring);
    return 0;
}

/* ComfyUI's exception texts end with "\n" (Python's traceback formatting); a user sees the text
 * inside a sentence, so trailing blanks and newlines go. */
static void rtrim(char *s)
{
    size_t n = strlen(s);
    while (n > 0 && (s[n - 1] == '\n' || s[n - 1] == '\r' || s[n - 1] == ' ' || s[n - 1] == '\t'))
        s[--n] = '\0';
}

static int get_u32(const cJSON *o, const char *key, uint32_t *out)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!cJSON_IsNumber(v) || v->valuedouble < 0 || v->valuedouble > 4294967295.0) return -1;
    *out = (uint32_t)v->valuedouble;
    return 0;
}

static void init_event(cproto_event *ev)
{
    memset(ev, 0, sizeof *ev);
    ev->queue_remaining = -1;
}

static const char *skip_blanks(const char *p, const char *end)
{
    while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r'))
        p++;
    return p;
}

bool cproto_event_skippable(const char *text, size_t len)
{
    static const char *const skipped[] = {"progress_state", "feature_flags"};
    if (!text) return false;
    const char *p = text, *end = text + len;
    p = skip_blanks(p, end);
    if (p == end || *p++ != '{') return false;
    p = skip_blanks(p, end);
    if ((size_t)(end - p) < 6 || memcmp(p, "\"type\"", 6) != 0) return false;
    p = skip_blanks(p + 6, end);
    if (p == end || *p++ != ':') return false;
    p = skip_blanks(p, end);
    if (p == end || *p++ != '"') return false;
    const char *name = p;
    while (p < end && *p != '"' && *p != '\\')
        p++;
    if (p == end || *p != '"') return false; /* an escape or no end: the parser decides */
    size_t n = (size_t)(p - name);
    for (size_t i = 0; i < sizeof skipped / sizeof skipped[0]; i++)
        if (strlen(skipped[i]) == n && memcmp(name, skipped[i], n) == 0) return true;
    return false;
}

int cproto_parse_event(const char *text, size_t len, cproto_event *ev)
{
    init_event(ev);
    if (!text || len == 0 || len > (64u << 20)) return -1;
    cJSON *root = cJSON_ParseWithLength(text, len);
    if (!cJSON_IsObject(root)) {
        cJSON_Delete(root);
        return -1;
    }
    int rc = -1;
    const cJSON *jt = cJSON_GetObjectItemCaseSensitive(root, "type");
    const cJSON *d = cJSON_GetObjectItemCaseSensitive(root, "data");
    if (!cJSON_IsString(jt)) goto out;
    ev->type = CPROTO_EV_UNKNOWN;
    for (size_t i = 0; i < sizeof ev_names / sizeof ev_names[0]; i++)
        if (strcmp(jt->valuestring, ev_names[i].name) == 0) ev->type = ev_names[i].type;
    if (ev->type == CPROTO_EV_UNKNOWN) {
        rc = 0;
        goto out;
    }
    if (!cJSON_IsObject(d)) goto out;
    if (get_str(d, "prompt_id", ev->prompt_id, sizeof ev->prompt_id, false)) goto out;
    switch (ev->type) {
    case CPROTO_EV_STATUS: {
        const cJSON *st = cJSON_GetObjectItemCaseSensitive(d, "status");
        const cJSON *ei = cJSON_GetObjectItemCaseSensitive(st, "exec_info");
        const cJSON *qr = cJSON_GetObjectItemCaseSensitive(ei, "queue_remaining");
        if (cJSON_IsNumber(qr)) {
            if (qr->valuedouble < 0 || qr->valuedouble > 1e9) goto out;
            ev->queue_remaining = (int64_t)qr->valuedouble;
        }
        if (get_str(d, "sid", ev->sid, sizeof ev->sid, false)) goto out;
        break;
    }
    case CPROTO_EV_EXECUTING: {
        const cJSON *n = cJSON_GetObjectItemCaseSensitive(d, "node");
        if (!n || cJSON_IsNull(n)) {
            ev->node_null = true;
        } else if (get_str(d, "node", ev->node, sizeof ev->node, false)) {
            goto out;
        }
        break;
    }
    case CPROTO_EV_PROGRESS:
        if (get_u32(d, "value", &ev->value) || get_u32(d, "max", &ev->max)) goto out;
        if (ev->value > ev->max) ev->value = ev->max;
        if (get_str(d, "node", ev->node, sizeof ev->node, false)) goto out;
        break;
    case CPROTO_EV_EXECUTION_CACHED: {
        const cJSON *nodes = cJSON_GetObjectItemCaseSensitive(d, "nodes");
        if (cJSON_IsArray(nodes)) ev->ncached = (uint32_t)cJSON_GetArraySize(nodes);
        break;
    }
    case CPROTO_EV_EXECUTED:
        if (get_str(d, "node", ev->node, sizeof ev->node, false)) goto out;
        break;
    case CPROTO_EV_ERROR:
    case CPROTO_EV_INTERRUPTED:
        if (get_str(d, "node_id", ev->node, sizeof ev->node, false) ||
            get_str(d, "node_type", ev->node_type, sizeof ev->node_type, true) ||
            get_str(d, "exception_type", ev->exception_type, sizeof ev->exception_type, true) ||
            get_str(d, "exception_message", ev->message, sizeof ev->message, true))
            goto out;
        rtrim(ev->message);
        break;
    default:
        break;
    }
    rc = 0;
out:
    cJSON_Delete(root);
    return rc;
}

static uint32_t be32(const uint8_t *p)
{
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

int cproto_parse_binary(const uint8_t *data, size_t len, cproto_event *ev)
{
    init_event(ev);
    if (!data || len < 8) return -1;
    uint32_t t = be32(data);
    if (t == 1) {
        ev->type = CPROTO_EV_PREVIEW;
        ev->preview_format = be32(data + 4);
        ev->preview_offset = 8;
        ev->preview_len = len - 8;
        return 0;
    }
    if (t == 4) {
        uint32_t jl = be32(data + 4);
        if (jl > len - 8) return -1;
        cJSON *meta = cJSON_ParseWithLength((const char *)data + 8, jl);
        if (!cJSON_IsObject(meta)) {
            cJSON_Delete(meta);
            return -1;
        }
        int bad = get_str(meta, "prompt_id", ev->prompt_id, sizeof ev->prompt_id, false) ||
                  get_str(meta, "node_id", ev->node, sizeof ev->node, false);
        cJSON_Delete(meta);
        if (bad) return -1;
        ev->type = CPROTO_EV_PREVIEW;
        ev->preview_offset = 8 + (size_t)jl;
        ev->preview_len = len - ev->preview_offset;
        return 0;
    }
    if (t == 3) {
        uint32_t nl = be32(data + 4);
        if (nl > len - 8 || nl >= CPROTO_ID_MAX) return -1;
        memcpy(ev->node, data + 8, nl);
        ev->node[nl] = '\0';
        ev->type = CPROTO_EV_TEXT;
        return 0;
    }
    ev->type = CPROTO_EV_UNKNOWN;
    return 0;
}

void cproto_uuid(const uint8_t rnd[16], char out[37])
{
    uint8_t b[16];
    memcpy(b, rnd, 16);
    b[6] = (uint8_t)((b[6] & 0x0f) | 0x40);
    b[8] = (uint8_t)((b[8] & 0x3f) | 0x80);
    static const char hex[] = "0123456789abcdef";
    size_t o = 0;
    for (int i = 0; i < 16; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10) out[o++] = '-';
        out[o++] = hex[b[i] >> 4];
        out[o++] = hex[b[i] & 15];
    }
    out[o] = '\0';
}

char *cproto_prompt_body(const cJSON *graph, const char *client_id, const char *prompt_id)
{
    /* the graph goes in by reference, not copied: a copy of a workflow's every node per job
     * was allocated and freed only to be printed */
    cJSON *root = cJSON_CreateObject();
    if (!root || !cJSON_AddItemReferenceToObject(root, "prompt", (cJSON *)graph)) {
        cJSON_Delete(root);
        return NULL;
    }
    if (client_id) cJSON_AddStringToObject(root, "client_id", client_id);
    if (prompt_id) cJSON_AddStringToObject(root, "prompt_id", prompt_id);
    char *s = cJSON_PrintUnformatted(root);
    cJSON_Delete(root); /* the reference only: the graph stays the caller's */
    return s;
}

static bool valid_prompt_id(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n >= CPROTO_ID_MAX) return false;
    for (const char *p = s; *p; p++) {
        char c = *p;
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
              c == '-' || c == '_'))
            return false;
    }
    return true;
}

/* Appends to a bounded buffer, keeping it NUL-terminated; silently truncates. */
static void appendf(char *buf, size_t cap, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void appendf(char *buf, size_t cap, const char *fmt, ...)
{
    size_t n = strlen(buf);
    if (n + 1 >= cap) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf + n, cap - n, fmt, ap);
    va_end(ap);
}

/* ComfyUI leaves optional strings out: absent reads as "". */
static const char *jstr(const cJSON *o, const char *k)
{
    return util_json_str(o, k, "");
}

/* A trimmed copy of a string member (see rtrim). */
static const char *tstr(const cJSON *o, const char *k, char *buf, size_t n)
{
    snprintf(buf, n, "%s", jstr(o, k));
    rtrim(buf);
    return buf;
}

/* True when node error ne (keyed by its node id) drops output id o: the node is o itself, or o
 * is among its dependent_outputs. */
static bool drops_output(const cJSON *ne, const char *o)
{
    if (ne->string && strcmp(ne->string, o) == 0) return true;
    const cJSON *deps = cJSON_GetObjectItemCaseSensitive(ne, "dependent_outputs");
    const cJSON *d;
    cJSON_ArrayForEach(d, (cJSON_IsArray(deps) ? deps : NULL))
    {
        char id[CPROTO_ID_MAX];
        if (cJSON_IsString(d))
            snprintf(id, sizeof id, "%s", d->valuestring);
        else if (cJSON_IsNumber(d))
            snprintf(id, sizeof id, "%.0f", d->valuedouble);
        else
            continue;
        if (strcmp(id, o) == 0) return true;
    }
    return false;
}

/* Appends every node error to operator_text; the user text names the first error of the first
 * node that matters (any node when outputs is NULL, else one dropping a listed output). */
static void node_errors_text(const cJSON *ne, const char *const *outputs, unsigned noutputs,
                             cproto_submit *out, bool *user_set)
{
    const cJSON *node;
    cJSON_ArrayForEach(node, (cJSON_IsObject(ne) ? ne : NULL))
    {
        const char *ct = jstr(node, "class_type");
        const char *nid = node->string ? node->string : "?";
        bool matters = !outputs;
        for (unsigned i = 0; outputs && i < noutputs; i++)
            if (drops_output(node, outputs[i])) matters = true;
        const cJSON *errs = cJSON_GetObjectItemCaseSensitive(node, "errors");
        const cJSON *er;
        cJSON_ArrayForEach(er, (cJSON_IsArray(errs) ? errs : NULL))
        {
            char msg[512], det[1024];
            tstr(er, "message", msg, sizeof msg);
            tstr(er, "details", det, sizeof det);
            appendf(out->operator_text, sizeof out->operator_text, "%snode %s (%s): %s: %s%s%s",
                    out->operator_text[0] ? "; " : "", nid, ct, jstr(er, "type"), msg,
                    *det ? " — " : "", det);
            if (matters && !*user_set) {
                out->user_text[0] = '\0'; /* texts from the server are cut at the buffer */
                appendf(out->user_text, sizeof out->user_text,
                        "ComfyUI rejected the workflow at node %s (%s): %s%s%s", nid, ct, msg,
                        *det ? " — " : "", det);
                *user_set = true;
            }
        }
    }
}

int cproto_parse_submit(int http_status, const char *body, cproto_submit *out)
{
    return cproto_parse_submit_for(http_status, body, NULL, 0, out);
}

int cproto_parse_submit_for(int http_status, const char *body, const char *const *outputs,
                            unsigned noutputs, cproto_submit *out)
{
    memset(out, 0, sizeof *out);
    cJSON *root = body ? cJSON_Parse(body) : NULL;
    const cJSON *ne = cJSON_GetObjectItemCaseSensitive(root, "node_errors");
    bool user_set = false;
    if (http_status == 200) {
        const cJSON *pid = cJSON_GetObjectItemCaseSensitive(root, "prompt_id");
        const cJSON *num = cJSON_GetObjectItemCaseSensitive(root, "number");
        if (!cJSON_IsString(pid) || !valid_prompt_id(pid->valuestring)) {
            snprintf(out->error_type, sizeof out->error_type, "bad_response");
            snprintf(out->user_text, sizeof out->user_text,
                     "ComfyUI accepted the job but sent no usable prompt id");
            snprintf(out->operator_text, sizeof out->operator_text,
                     "POST /prompt: 200 without a valid prompt_id");
            cJSON_Delete(root);
            return -1;
        }
        snprintf(out->prompt_id, sizeof out->prompt_id, "%s", pid->valuestring);
        /* Range-checked before the conversion: a double outside int64_t is undefined
         * behaviour to convert, and a server may send anything here. */
        out->number =
            cJSON_IsNumber(num) && num->valuedouble >= 0 && num->valuedouble <= 9007199254740992.0
                ? (int64_t)num->valuedouble
                : -1;
        out->ok = true;
        if (cJSON_IsObject(ne) && ne->child) {
            /* ComfyUI queued the prompt but dropped the outputs these nodes feed */
            out->partial = true;
            node_errors_text(ne, noutputs ? outputs : NULL, noutputs, out, &user_set);
            unsigned dropped = 0;
            for (unsigned i = 0; i < noutputs; i++) {
                const cJSON *n;
                bool d = false;
                cJSON_ArrayForEach(n, ne) d = d || drops_output(n, outputs[i]);
                dropped += d;
            }
            if (noutputs > 0 && dropped == noutputs) {
                out->ok = false;
                snprintf(out->error_type, sizeof out->error_type,
                         "prompt_outputs_failed_validation");
                if (!user_set)
                    snprintf(out->user_text, sizeof out->user_text,
                             "ComfyUI rejected the workflow's output node");
            }
        }
        cJSON_Delete(root);
        return out->ok ? 0 : -1;
    }
    const cJSON *e = cJSON_GetObjectItemCaseSensitive(root, "error");
    char head[4096] = "";
    if (cJSON_IsObject(e)) {
        char msg[512], det[2048];
        tstr(e, "message", msg, sizeof msg);
        tstr(e, "details", det, sizeof det);
        snprintf(out->error_type, sizeof out->error_type, "%s", jstr(e, "type"));
        snprintf(head, sizeof head, "POST /prompt: HTTP %d: %s: %s", http_status, jstr(e, "type"),
                 msg);
        if (*det) appendf(head, sizeof head, " (%s)", det);
        appendf(out->user_text, sizeof out->user_text, "ComfyUI rejected the workflow: %s", msg);
    } else if (cJSON_IsString(e)) {
        char msg[512];
        snprintf(msg, sizeof msg, "%s", e->valuestring);
        rtrim(msg);
        snprintf(out->error_type, sizeof out->error_type, "error");
        snprintf(head, sizeof head, "POST /prompt: HTTP %d: %s", http_status, msg);
        appendf(out->user_text, sizeof out->user_text, "ComfyUI rejected the job: %s", msg);
    } else {
        snprintf(out->error_type, sizeof out->error_type, "http_%d", http_status);
        snprintf(head, sizeof head, "POST /prompt: HTTP %d with no error description", http_status);
        snprintf(out->user_text, sizeof out->user_text, "ComfyUI refused the job (HTTP %d)",
                 http_status);
    }
    node_errors_text(ne, NULL, 0, out, &user_set);
    char nodes[sizeof out->operator_text];
    snprintf(nodes, sizeof nodes, "%s", out->operator_text);
    snprintf(out->operator_text, sizeof out->operator_text, "%s", head);
    if (*nodes) appendf(out->operator_text, sizeof out->operator_text, "; %s", nodes);
    cJSON_Delete(root);
    return -1;
}

static void add_output(cproto_history *h, const char *node, const cJSON *f, bool preferred)
{
    if (h->noutputs >= CPROTO_MAX_OUTPUTS || !cJSON_IsObject(f)) return;
    const char *fn = jstr(f, "filename");
    const char *type = jstr(f, "type");
    if (!*fn || strlen(fn) >= sizeof h->outputs[0].filename ||
        strlen(jstr(f, "subfolder")) >= sizeof h->outputs[0].subfolder)
        return;
    /* a PreviewImage's file lives in ComfyUI's temp folder: wanted only when mapped */
    if (strcmp(type, "temp") == 0 && !preferred) return;
    if (*type && strcmp(type, "output") != 0 && strcmp(type, "input") != 0 &&
        strcmp(type, "temp") != 0)
        return;
    cproto_output *o = &h->outputs[h->noutputs++];
    snprintf(o->node, sizeof o->node, "%s", node);
    snprintf(o->filename, sizeof o->filename, "%s", fn);
    snprintf(o->subfolder, sizeof o->subfolder, "%s", jstr(f, "subfolder"));
    snprintf(o->type, sizeof o->type, "%s", *type ? type : "output");
    o->preferred = preferred;
}

static void collect_node(cproto_history *h, const cJSON *ui, const char *node, bool preferred)
{
    static const char *const keys[] = {"images", "gifs", "videos", "animated_images"};
    for (size_t k = 0; k < sizeof keys / sizeof keys[0]; k++) {
        const cJSON *arr = cJSON_GetObjectItemCaseSensitive(ui, keys[k]);
        const cJSON *f;
        cJSON_ArrayForEach(f, (cJSON_IsArray(arr) ? arr : NULL)) add_output(h, node, f, preferred);
    }
}

/* A history entry's outputs: the preferred nodes' files first (in the preferred order), then
 * every other node's in the object's order. */
static void collect_outputs(cproto_history *out, const cJSON *outputs, const char *const *preferred,
                            unsigned npreferred)
{
    if (!cJSON_IsObject(outputs)) return;
    for (unsigned i = 0; i < npreferred; i++) {
        const cJSON *ui = cJSON_GetObjectItemCaseSensitive(outputs, preferred[i]);
        if (cJSON_IsObject(ui)) collect_node(out, ui, preferred[i], true);
    }
    const cJSON *ui;
    cJSON_ArrayForEach(ui, outputs)
    {
        bool pref = false;
        for (unsigned i = 0; i < npreferred; i++)
            if (strcmp(ui->string, preferred[i]) == 0) pref = true;
        if (!pref && cJSON_IsObject(ui) && strlen(ui->string) < CPROTO_ID_MAX)
            collect_node(out, ui, ui->string, false);
    }
}

int cproto_parse_history(const char *body, const char *prompt_id, const char *const *preferred,
                         unsigned npreferred, cproto_history *out)
{
    memset(out, 0, sizeof *out);
    cJSON *root = body ? cJSON_Parse(body) : NULL;
    if (!cJSON_IsObject(root)) {
        cJSON_Delete(root);
        return -1;
    }
    const cJSON *entry = cJSON_GetObjectItemCaseSensitive(root, prompt_id);
    if (!cJSON_IsObject(entry)) {
        cJSON_Delete(root);
        return 0;
    }
    out->found = true;
    const cJSON *st = cJSON_GetObjectItemCaseSensitive(entry, "status");
    out->completed = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(st, "completed"));
    out->success = strcmp(jstr(st, "status_str"), "success") == 0;
    const cJSON *msgs = cJSON_GetObjectItemCaseSensitive(st, "messages");
    const cJSON *m;
    cJSON_ArrayForEach(m, (cJSON_IsArray(msgs) ? msgs : NULL))
    {
        const cJSON *name = cJSON_GetArrayItem(m, 0);
        const cJSON *data = cJSON_GetArrayItem(m, 1);
        if (!cJSON_IsString(name) || !cJSON_IsObject(data)) continue;
        bool is_err = strcmp(name->valuestring, "execution_error") == 0;
        bool is_int = strcmp(name->valuestring, "execution_interrupted") == 0;
        if (!is_err && !is_int) continue;
        out->interrupted = is_int;
        get_str(data, "node_id", out->error_node, sizeof out->error_node, true);
        get_str(data, "node_type", out->error_node_type, sizeof out->error_node_type, true);
        get_str(data, "exception_message", out->error_message, sizeof out->error_message, true);
        rtrim(out->error_message);
    }
    collect_outputs(out, cJSON_GetObjectItemCaseSensitive(entry, "outputs"), preferred, npreferred);
    cJSON_Delete(root);
    return 0;
}

int cproto_history_from_executed(const char *const *frames, const size_t *lens, unsigned n,
                                 const char *prompt_id, const char *const *preferred,
                                 unsigned npreferred, cproto_history *out)
{
    memset(out, 0, sizeof *out);
    cJSON *outputs = cJSON_CreateObject();
    if (!outputs || !prompt_id || !*prompt_id) {
        cJSON_Delete(outputs);
        return -1;
    }
    int rc = 0;
    for (unsigned i = 0; i < n && rc == 0; i++) {
        rc = -1;
        cJSON *root = frames[i] ? cJSON_ParseWithLength(frames[i], lens[i]) : NULL;
        cJSON *d = cJSON_GetObjectItemCaseSensitive(root, "data");
        const cJSON *node = cJSON_GetObjectItemCaseSensitive(d, "node");
        cJSON *ui = cJSON_GetObjectItemCaseSensitive(d, "output");
        if (strcmp(jstr(root, "type"), "executed") == 0 &&
            strcmp(jstr(d, "prompt_id"), prompt_id) == 0 && cJSON_IsString(node) &&
            *node->valuestring && strlen(node->valuestring) < CPROTO_ID_MAX && cJSON_IsObject(ui)) {
            /* as ComfyUI's history dict: a node seen again keeps its place, its newest output */
            cJSON_DetachItemViaPointer(d, ui);
            if (cJSON_GetObjectItemCaseSensitive(outputs, node->valuestring))
                cJSON_ReplaceItemInObjectCaseSensitive(outputs, node->valuestring, ui);
            else
                cJSON_AddItemToObject(outputs, node->valuestring, ui);
            rc = 0;
        }
        cJSON_Delete(root);
    }
    if (rc == 0) {
        out->found = out->completed = out->success = true;
        collect_outputs(out, outputs, preferred, npreferred);
    } else {
        memset(out, 0, sizeof *out);
    }
    cJSON_Delete(outputs);
    return rc;
}

int cproto_parse_queue(const char *body, const char *prompt_id, cproto_queue_pos *out)
{
    memset(out, 0, sizeof *out);
    cJSON *root = body ? cJSON_Parse(body) : NULL;
    if (!cJSON_IsObject(root)) {
        cJSON_Delete(root);
        return -1;
    }
    const cJSON *running = cJSON_GetObjectItemCaseSensitive(root, "queue_running");
    const cJSON *pending = cJSON_GetObjectItemCaseSensitive(root, "queue_pending");
    if (!cJSON_IsArray(running) || !cJSON_IsArray(pending)) {
        cJSON_Delete(root);
        return -1;
    }
    unsigned nrun = 0;
    const cJSON *it;
    cJSON_ArrayForEach(it, running)
    {
        nrun++;
        const cJSON *pid = cJSON_GetArrayItem(it, 1);
        if (prompt_id && cJSON_IsString(pid) && strcmp(pid->valuestring, prompt_id) == 0)
            out->running = true;
    }
    double mine = 0;
    bool found = false;
    unsigned npend = 0;
    cJSON_ArrayForEach(it, pending)
    {
        npend++;
        const cJSON *pid = cJSON_GetArrayItem(it, 1);
        if (prompt_id && cJSON_IsString(pid) && strcmp(pid->valuestring, prompt_id) == 0) {
            const cJSON *num = cJSON_GetArrayItem(it, 0);
            mine = cJSON_IsNumber(num) ? num->valuedouble : 0;
            found = true;
        }
    }
    out->total = nrun + npend;
    if (found) {
        /* pending is heap order, not sorted: count the ones that run before ours */
        unsigned ahead = 0;
        cJSON_ArrayForEach(it, pending)
        {
            const cJSON *num = cJSON_GetArrayItem(it, 0);
            const cJSON *pid = cJSON_GetArrayItem(it, 1);
            if (cJSON_IsString(pid) && strcmp(pid->valuestring, prompt_id) == 0) continue;
            if (cJSON_IsNumber(num) && num->valuedouble < mine) ahead++;
        }
        out->pending = true;
        out->position = 1 + ahead + nrun;
    }
    cJSON_Delete(root);
    return 0;
}

int64_t cproto_parse_queue_remaining(const char *body)
{
    cJSON *root = body ? cJSON_Parse(body) : NULL;
    const cJSON *qr = cJSON_GetObjectItemCaseSensitive(
        cJSON_GetObjectItemCaseSensitive(root, "exec_info"), "queue_remaining");
    int64_t v = -1;
    if (cJSON_IsNumber(qr) && qr->valuedouble >= 0 && qr->valuedouble < 1e9)
        v = (int64_t)qr->valuedouble;
    cJSON_Delete(root);
    return v;
}

int cproto_parse_upload(const char *body, char *name, size_t namelen)
{
    cJSON *root = body ? cJSON_Parse(body) : NULL;
    int rc = -1;
    const char *n = jstr(root, "name");
    const char *sub = jstr(root, "subfolder");
    if (*n && !strstr(n, "..") && !strstr(sub, "..")) {
        int w = *sub ? snprintf(name, namelen, "%s/%s", sub, n) : snprintf(name, namelen, "%s", n);
        if (w > 0 && (size_t)w < namelen) rc = 0;
    }
    cJSON_Delete(root);
    return rc;
}

int cproto_view_path(const cproto_output *o, char *out, size_t outlen)
{
    char fn[800], sub[800], type[64];
    if (util_url_escape(o->filename, fn, sizeof fn) ||
        util_url_escape(o->subfolder, sub, sizeof sub) ||
        util_url_escape(*o->type ? o->type : "output", type, sizeof type))
        return -1;
    int n = snprintf(out, outlen, "/view?filename=%s&subfolder=%s&type=%s", fn, sub, type);
    return n > 0 && (size_t)n < outlen ? 0 : -1;
}

int cproto_parse_base_url(const char *url, char *host, size_t hostlen, int *port, bool *tls,
                          char *prefix, size_t prefixlen)
{
    if (!url) return -1;
    const char *p = util_url_after_scheme(url, "http", "https", tls);
    if (!p) return -1;
    *port = *tls ? 443 : 80;
    const char *hs = p, *he;
    if (*p == '[') {
        hs = p + 1;
        he = strchr(hs, ']');
        if (!he) return -1;
        p = he + 1;
    } else {
        he = p + strcspn(p, ":/?#");
        p = he;
    }
    size_t hl = (size_t)(he - hs);
    if (hl == 0 || hl >= hostlen) return -1;
    for (const char *c = hs; c < he; c++) {
        if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') ||
              *c == '.' || *c == '-' || *c == ':' || *c == '_'))
            return -1;
    }
    memcpy(host, hs, hl);
    host[hl] = '\0';
    if (*p == ':') {
        int v = util_url_port(p + 1, &p);
        if (v < 0) return -1;
        *port = v;
    }
    if (*p && *p != '/') return -1;
    size_t pl = strlen(p);
    while (pl > 0 && p[pl - 1] == '/')
        pl--;
    if (pl >= prefixlen || memchr(p, '?', pl) || memchr(p, '#', pl) || memchr(p, ' ', pl))
        return -1;
    memcpy(prefix, p, pl);
    prefix[pl] = '\0';
    return 0;
}
