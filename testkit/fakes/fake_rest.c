/*
 * The fake Discord REST server (see fake_rest.h). Owns one libwebsockets context serving HTTP on
 * its own thread, and under one mutex: the recorder, the known interactions and their messages,
 * the stored command arrays, the per-route rate-limit buckets and the fault script.
 *
 * Request life on the service thread: LWS_CALLBACK_HTTP captures method, path and headers
 * (answering Expect: 100-continue), LWS_CALLBACK_HTTP_BODY accumulates the body, and at the end
 * fr_process decides the whole response under the lock and records the request; the response
 * is written on LWS_CALLBACK_HTTP_WRITEABLE (after a timer when a delay is scripted).
 */
#include "fakes/fake_rest.h"

#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <cjson/cJSON.h>
#include <libwebsockets.h>

#include "discord/cmd.h"
#include "discord/ix.h"
#include "discord/rl.h"
#include "fluxbot/runtime.h"
#include "util/util_dec.h"
#include "util/util_hash.h"
#include "util/util_json.h"
#include "util/util_str.h"
#include "util/util_time.h"
#include "util/util_utf8.h"

#define FR_SLOTS 4096
#define FR_MAX_SCRIPTS 64
#define FR_MAX_RESP_HEADERS 12
#define FR_TOKEN_TTL_MS (15 * 60 * 1000)
#define FR_DISCORD_EPOCH_MS 1420070400000ull

/* ---- state ------------------------------------------------------------------------------------
 */

typedef struct fr_ix {
    struct fr_ix *next_id, *next_tok;
    uint64_t id;
    char token[IX_TOKEN_MAX + 1];
    uint64_t channel_id;
    bool is_component;
    bool is_modal; /* a modal submit (no type-9 answer) */
    int64_t reg_ms;
    unsigned callbacks;
    int ack_type;
    int64_t ack_ms;
    bool late;
    unsigned edits, followups;
    unsigned file_edits; /* of edits: multipart, with files */
    bool deleted;
    cJSON *original;     /* the @original message object */
    uint64_t source_msg; /* component: the message the component is on (0 = unknown) */
} fr_ix;

typedef struct fr_msg {
    struct fr_msg *next;
    uint64_t id, channel_id;
    bool deleted;
} fr_msg;

typedef struct fr_bucket {
    struct fr_bucket *next;
    char *key;
    char hash[20];
    int64_t window_start;
    uint32_t count;
} fr_bucket;

typedef struct fr_script {
    char method[8];
    char prefix[256];
    fake_rest_fault fault;
    uint32_t ms;
    unsigned count;
    int64_t until_ms; /* an outage: every match until this mono_ms() time (count unused) */
} fr_script;

/* A file served at /attachments/{id}/{filename}, like Discord's CDN. */
typedef struct fr_file {
    struct fr_file *next;
    uint64_t id;
    char *filename;
    char *content_type;
    const uint8_t *data; /* owned when `owned`, else borrowed from a recorded request */
    size_t len;
    bool owned;
} fr_file;

typedef struct fr_guild_cmds {
    struct fr_guild_cmds *next;
    uint64_t guild_id;
    char *json;
} fr_guild_cmds;

struct fake_rest {
    fake_rest_config cfg;
    char token[256];
    char gateway_url[512];
    char base_url[64];
    uint16_t port;
    uint64_t app_id;
    int64_t t0_ms;

    struct lws_context *ctx;
    pthread_t thread;
    atomic_bool stop;

    pthread_mutex_t mu;
    pthread_cond_t cv;
    fake_rest_request *reqs;
    size_t nreqs, capreqs;
    fr_ix *ix_by_id[FR_SLOTS];
    fr_ix *ix_by_tok[FR_SLOTS];
    fr_msg *msgs;
    fr_bucket *buckets[FR_SLOTS];
    int64_t global_win[50];
    unsigned global_head, global_count;
    fr_script scripts[FR_MAX_SCRIPTS];
    unsigned nscripts;
    char *commands_global;
    fr_guild_cmds *commands_guild;
    fr_file *files;
    uint64_t id_seq;
    fake_rest_stats st;
};

/* Per-connection state; lws keeps it across keep-alive transactions. */
typedef struct fr_pss {
    fake_rest_request req; /* being received */
    size_t body_cap;
    size_t content_length;
    bool chunked;
    bool in_use;
    /* response */
    int status;
    char resp_hdr_name[FR_MAX_RESP_HEADERS][40];
    char resp_hdr_value[FR_MAX_RESP_HEADERS][96];
    unsigned nresp_hdrs;
    char *resp_body;
    size_t resp_len;
    const char *resp_ctype;
    bool close_after;
    bool truncate; /* FAKE_REST_FAULT_TRUNCATE: cut the answer mid-body and close */
} fr_pss;

/* The runtime clocks, signed: the fake subtracts them from each other. */
static int64_t mono_ms(void)
{
    return (int64_t)rt_now_ms();
}

static int64_t wall_ms(void)
{
    return (int64_t)rt_wall_ms();
}

static void *xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p) abort();
    return p;
}

/* A fresh snowflake (caller holds the lock). */
static uint64_t fr_new_id(fake_rest *f)
{
    uint64_t ms = (uint64_t)wall_ms() - FR_DISCORD_EPOCH_MS;
    return (ms << 22) | (++f->id_seq & 0x3FFFFF);
}

static void request_free_fields(fake_rest_request *r)
{
    free(r->path);
    free(r->query);
    free(r->authorization);
    free(r->user_agent);
    free(r->content_type);
    free(r->audit_reason);
    free(r->body);
    for (unsigned i = 0; i < r->nparts; i++) {
        free(r->parts[i].name);
        free(r->parts[i].filename);
        free(r->parts[i].content_type);
        free(r->parts[i].data);
    }
    free(r->parts);
    memset(r, 0, sizeof *r);
}

/* ---- interactions, messages, buckets (lock held) -------------------------------------------- */

static fr_ix *ix_find_id(fake_rest *f, uint64_t id)
{
    for (fr_ix *x = f->ix_by_id[id % FR_SLOTS]; x; x = x->next_id)
        if (x->id == id) return x;
    return NULL;
}

static fr_ix *ix_find_token(fake_rest *f, const char *tok)
{
    uint64_t h = util_fnv1a_str(tok);
    for (fr_ix *x = f->ix_by_tok[h % FR_SLOTS]; x; x = x->next_tok)
        if (strcmp(x->token, tok) == 0) return x;
    return NULL;
}

static void msg_add(fake_rest *f, uint64_t id, uint64_t channel_id)
{
    fr_msg *m = calloc(1, sizeof *m);
    if (!m) abort();
    m->id = id;
    m->channel_id = channel_id;
    m->next = f->msgs;
    f->msgs = m;
}

static fr_bucket *bucket_get(fake_rest *f, const char *key, const char *route_key)
{
    uint64_t h = util_fnv1a_str(key);
    fr_bucket **slot = &f->buckets[h % FR_SLOTS];
    for (fr_bucket *b = *slot; b; b = b->next)
        if (strcmp(b->key, key) == 0) return b;
    fr_bucket *b = calloc(1, sizeof *b);
    if (!b) abort();
    b->key = util_strdup(key);
    /* The hash depends on the route (method included), not on the major parameter. */
    snprintf(b->hash, sizeof b->hash, "%016" PRIx64, util_fnv1a_str(route_key));
    b->next = *slot;
    *slot = b;
    return b;
}

/* ---- responses ----------------------------------------------------------------------------------
 */

static void resp_header(fr_pss *p, const char *name, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void resp_header(fr_pss *p, const char *name, const char *fmt, ...)
{
    if (p->nresp_hdrs >= FR_MAX_RESP_HEADERS) return;
    snprintf(p->resp_hdr_name[p->nresp_hdrs], sizeof p->resp_hdr_name[0], "%s:", name);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(p->resp_hdr_value[p->nresp_hdrs], sizeof p->resp_hdr_value[0], fmt, ap);
    va_end(ap);
    p->nresp_hdrs++;
}

static void resp_json(fr_pss *p, int status, char *owned_body)
{
    p->status = status;
    free(p->resp_body);
    p->resp_body = owned_body;
    p->resp_len = owned_body ? strlen(owned_body) : 0;
    p->resp_ctype = owned_body ? "application/json" : NULL;
}

static void resp_bytes(fr_pss *p, int status, const uint8_t *data, size_t len, const char *ctype)
{
    p->status = status;
    free(p->resp_body);
    p->resp_body = xmalloc(len + 1);
    memcpy(p->resp_body, data, len);
    p->resp_len = len;
    p->resp_ctype = ctype;
}

static void resp_error(fr_pss *p, int status, int code, const char *message)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "message", message);
    cJSON_AddNumberToObject(o, "code", code);
    char *s = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    resp_json(p, status, s);
}

static void resp_form_error(fr_pss *p, const char *why)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "message", "Invalid Form Body");
    cJSON_AddNumberToObject(o, "code", 50035);
    cJSON *e = cJSON_AddObjectToObject(o, "errors");
    cJSON *arr = cJSON_AddArrayToObject(e, "_errors");
    cJSON *x = cJSON_CreateObject();
    cJSON_AddStringToObject(x, "code", "BASE_TYPE_INVALID");
    cJSON_AddStringToObject(x, "message", why);
    cJSON_AddItemToArray(arr, x);
    char *s = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    resp_json(p, 400, s);
}

static void resp_cjson(fr_pss *p, int status, const cJSON *o)
{
    char *s = cJSON_PrintUnformatted(o);
    if (!s) abort();
    resp_json(p, status, s);
}

static void resp_429(fr_pss *p, rl_scope scope, uint32_t retry_ms)
{
    double ra = retry_ms / 1000.0;
    resp_header(p, "retry-after", "%u", (retry_ms + 999) / 1000);
    resp_header(p, "x-ratelimit-scope", "%s",
                scope == RL_SCOPE_GLOBAL   ? "global"
                : scope == RL_SCOPE_SHARED ? "shared"
                                           : "user");
    if (scope == RL_SCOPE_GLOBAL) resp_header(p, "x-ratelimit-global", "true");
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "message", "You are being rate limited.");
    cJSON_AddNumberToObject(o, "retry_after", ra);
    cJSON_AddBoolToObject(o, "global", scope == RL_SCOPE_GLOBAL);
    char *s = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    resp_json(p, 429, s);
}

/* Adds the bucket headers of this request's route and counts it; returns the ms until the
 * window resets when the bucket was already exhausted (0 otherwise). */
static uint32_t bucket_account(fake_rest *f, fr_pss *p, const rl_route *rt, bool count)
{
    char key[RL_ROUTE_MAX + RL_MAJOR_MAX + 2];
    snprintf(key, sizeof key, "%s|%s", rt->key, rt->major);
    fr_bucket *b = bucket_get(f, key, rt->key);
    int64_t now = mono_ms();
    uint32_t win = f->cfg.bucket_window_ms;
    if (now - b->window_start >= (int64_t)win) {
        b->window_start = now;
        b->count = 0;
    }
    uint32_t over = 0;
    if (b->count >= f->cfg.bucket_limit) {
        over = (uint32_t)(b->window_start + win - now);
        if (over == 0) over = 1;
    } else if (count) {
        b->count++;
    }
    int64_t reset_after = b->window_start + win - now;
    int64_t reset_epoch = wall_ms() + reset_after;
    resp_header(p, "x-ratelimit-limit", "%u", f->cfg.bucket_limit);
    resp_header(p, "x-ratelimit-remaining", "%u",
                f->cfg.bucket_limit -
                    (b->count > f->cfg.bucket_limit ? f->cfg.bucket_limit : b->count));
    resp_header(p, "x-ratelimit-reset", "%" PRId64 ".%03d", reset_epoch / 1000,
                (int)(reset_epoch % 1000));
    resp_header(p, "x-ratelimit-reset-after", "%" PRId64 ".%03d", reset_after / 1000,
                (int)(reset_after % 1000));
    resp_header(p, "x-ratelimit-bucket", "%s", b->hash);
    return over;
}

/* Global 50/s for non-exempt routes: ms to wait when over, else 0 (and counts the request). */
static uint32_t global_account(fake_rest *f)
{
    int64_t now = mono_ms();
    if (f->global_count == 50) {
        int64_t oldest = f->global_win[f->global_head];
        if (now - oldest < 1000) return (uint32_t)(oldest + 1000 - now);
        f->global_win[f->global_head] = now;
        f->global_head = (f->global_head + 1) % 50;
    } else {
        f->global_win[(f->global_head + f->global_count) % 50] = now;
        f->global_count++;
    }
    return 0;
}

/* ---- multipart ----------------------------------------------------------------------------------
 */

static const uint8_t *find_bytes(const uint8_t *hay, size_t n, const char *needle, size_t m)
{
    if (m == 0 || n < m) return NULL;
    for (size_t i = 0; i + m <= n; i++) {
        const uint8_t *c = memchr(hay + i, needle[0], n - m - i + 1);
        if (!c) return NULL;
        i = (size_t)(c - hay);
        if (memcmp(c, needle, m) == 0) return c;
    }
    return NULL;
}

/* Extracts param="value" (or param=value) from a header value; false if absent. */
static bool header_param(const char *v, size_t vlen, const char *param, char *out, size_t cap)
{
    size_t plen = strlen(param);
    for (size_t i = 0; i + plen + 1 <= vlen; i++) {
        if ((i == 0 || v[i - 1] == ' ' || v[i - 1] == ';') &&
            strncasecmp(v + i, param, plen) == 0 && v[i + plen] == '=') {
            size_t j = i + plen + 1, o = 0;
            bool quoted = j < vlen && v[j] == '"';
            if (quoted) j++;
            while (j < vlen && o + 1 < cap) {
                if (quoted ? v[j] == '"' : (v[j] == ';' || v[j] == ' ' || v[j] == '\r')) break;
                out[o++] = v[j++];
            }
            out[o] = '\0';
            return true;
        }
    }
    return false;
}

/* Parses a multipart/form-data body into r->parts; false if malformed. */
static bool multipart_parse(fake_rest_request *r)
{
    char boundary[256];
    if (!r->content_type ||
        !header_param(r->content_type, strlen(r->content_type), "boundary", boundary,
                      sizeof boundary) ||
        !boundary[0])
        return false;
    char delim[300];
    int dl = snprintf(delim, sizeof delim, "--%s", boundary);
    const uint8_t *b = r->body, *end = r->body + r->body_len;
    if (r->body_len < (size_t)dl || memcmp(b, delim, (size_t)dl) != 0) return false;
    const uint8_t *p = b + dl;
    char next[304];
    int nl = snprintf(next, sizeof next, "\r\n--%s", boundary);
    for (;;) {
        if (end - p >= 2 && p[0] == '-' && p[1] == '-') return true; /* closing delimiter */
        if (end - p < 2 || p[0] != '\r' || p[1] != '\n') return false;
        p += 2;
        const uint8_t *hend = find_bytes(p, (size_t)(end - p), "\r\n\r\n", 4);
        if (!hend) return false;
        fake_rest_part part = {0};
        /* Part headers, line by line. */
        const uint8_t *line = p;
        while (line < hend) {
            const uint8_t *le = find_bytes(line, (size_t)(hend + 2 - line), "\r\n", 2);
            if (!le) le = hend;
            size_t ll = (size_t)(le - line);
            const char *s = (const char *)line;
            char val[512];
            if (ll > 20 && strncasecmp(s, "content-disposition:", 20) == 0) {
                if (header_param(s + 20, ll - 20, "name", val, sizeof val))
                    part.name = util_strdup(val);
                if (header_param(s + 20, ll - 20, "filename", val, sizeof val))
                    part.filename = util_strdup(val);
            } else if (ll > 13 && strncasecmp(s, "content-type:", 13) == 0) {
                size_t k = 13;
                while (k < ll && s[k] == ' ')
                    k++;
                size_t n = ll - k < sizeof val - 1 ? ll - k : sizeof val - 1;
                memcpy(val, s + k, n);
                val[n] = '\0';
                part.content_type = util_strdup(val);
            }
            line = le + 2;
        }
        const uint8_t *data = hend + 4;
        const uint8_t *dend = find_bytes(data, (size_t)(end - data), next, (size_t)nl);
        if (!dend || !part.name) {
            free(part.name);
            free(part.filename);
            free(part.content_type);
            return false;
        }
        part.len = (size_t)(dend - data);
        part.data = xmalloc(part.len + 1);
        memcpy(part.data, data, part.len);
        part.data[part.len] = 0;
        fake_rest_part *np = realloc(r->parts, (r->nparts + 1) * sizeof *np);
        if (!np) abort();
        r->parts = np;
        r->parts[r->nparts++] = part;
        p = dend + nl;
    }
}

/* ---- message bodies -----------------------------------------------------------------------------
 */

static size_t chars_of(const cJSON *s)
{
    return cJSON_IsString(s) ? util_utf8_chars(s->valuestring) : 0;
}

/* Discord's checks of action rows: 1..5 buttons or one select a row; selects with 1..25
 * options, min_values <= max_values <= options, no more defaults than max_values; custom_ids
 * of 1..100 characters. */
static const char *components_invalid(const cJSON *rows)
{
    const cJSON *row;
    cJSON_ArrayForEach(row, rows)
    {
        const cJSON *items = cJSON_GetObjectItemCaseSensitive(row, "components");
        int n = cJSON_GetArraySize(items);
        if (!cJSON_IsArray(items) || n < 1 || n > 5) return "components: 1..5 items a row";
        const cJSON *it;
        cJSON_ArrayForEach(it, items)
        {
            int type = cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(it, "type"));
            const cJSON *cid = cJSON_GetObjectItemCaseSensitive(it, "custom_id");
            if (cid && (chars_of(cid) < 1 || chars_of(cid) > 100))
                return "components.custom_id: 1..100 characters";
            if (type == 3) {
                if (n != 1) return "components: a select fills its row";
                const cJSON *opts = cJSON_GetObjectItemCaseSensitive(it, "options");
                int no = cJSON_GetArraySize(opts);
                const cJSON *mn = cJSON_GetObjectItemCaseSensitive(it, "min_values");
                const cJSON *mx = cJSON_GetObjectItemCaseSensitive(it, "max_values");
                int minv = mn ? (int)cJSON_GetNumberValue(mn) : 1;
                int maxv = mx ? (int)cJSON_GetNumberValue(mx) : 1;
                if (no < 1 || no > 25) return "components.options: 1..25 options";
                if (maxv < 1 || maxv > no || minv < 0 || minv > maxv)
                    return "components.max_values: must be 1..options and >= min_values";
                int defaults = 0;
                const cJSON *o;
                cJSON_ArrayForEach(o, opts) defaults +=
                    cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(o, "default"));
                if (defaults > maxv) return "components.options: more defaults than max_values";
            } else if (type != 2) {
                return "components: only buttons and string selects are expected";
            }
        }
    }
    return NULL;
}

/* Discord's checks of a modal (type 9): custom_id, a title of 1..45, 1..5 rows of one text
 * input each (label 1..45, style 1 or 2, max_length <= 4000, value within it). */
static const char *modal_invalid(const cJSON *d)
{
    if (!cJSON_IsObject(d)) return "data: This field is required";
    const cJSON *cid = cJSON_GetObjectItemCaseSensitive(d, "custom_id");
    const cJSON *title = cJSON_GetObjectItemCaseSensitive(d, "title");
    const cJSON *rows = cJSON_GetObjectItemCaseSensitive(d, "components");
    if (!cJSON_IsString(cid) || chars_of(cid) < 1 || chars_of(cid) > 100)
        return "data.custom_id: 1..100 characters";
    if (!cJSON_IsString(title) || chars_of(title) < 1 || chars_of(title) > 45)
        return "data.title: 1..45 characters";
    int nrows = cJSON_GetArraySize(rows);
    if (!cJSON_IsArray(rows) || nrows < 1 || nrows > 5) return "data.components: 1..5 rows";
    const cJSON *row;
    cJSON_ArrayForEach(row, rows)
    {
        const cJSON *items = cJSON_GetObjectItemCaseSensitive(row, "components");
        if (cJSON_GetArraySize(items) != 1) return "data.components: one text input a row";
        const cJSON *in = cJSON_GetArrayItem(items, 0);
        const cJSON *label = cJSON_GetObjectItemCaseSensitive(in, "label");
        const cJSON *icid = cJSON_GetObjectItemCaseSensitive(in, "custom_id");
        const cJSON *style = cJSON_GetObjectItemCaseSensitive(in, "style");
        const cJSON *maxl = cJSON_GetObjectItemCaseSensitive(in, "max_length");
        const cJSON *val = cJSON_GetObjectItemCaseSensitive(in, "value");
        if (cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(in, "type")) != 4)
            return "data.components: text inputs only";
        if (!cJSON_IsString(label) || chars_of(label) < 1 || chars_of(label) > 45)
            return "data.components.label: 1..45 characters";
        if (!cJSON_IsString(icid) || chars_of(icid) < 1 || chars_of(icid) > 100)
            return "data.components.custom_id: 1..100 characters";
        double st = cJSON_GetNumberValue(style);
        if (st != 1 && st != 2) return "data.components.style: 1 or 2";
        double ml = maxl ? cJSON_GetNumberValue(maxl) : 4000;
        if (!(ml >= 1 && ml <= 4000)) return "data.components.max_length: 1..4000";
        if (val && (!cJSON_IsString(val) || (double)chars_of(val) > ml))
            return "data.components.value: longer than max_length";
    }
    return NULL;
}

/* Validates a message body as Discord would (the subset the bot can get wrong). */
static const char *message_invalid(const cJSON *m)
{
    if (!cJSON_IsObject(m)) return "message body must be an object";
    const cJSON *c = cJSON_GetObjectItemCaseSensitive(m, "content");
    if (c && !cJSON_IsNull(c) && (!cJSON_IsString(c) || chars_of(c) > 2000))
        return "content: must be 2000 or fewer in length";
    const cJSON *emb = cJSON_GetObjectItemCaseSensitive(m, "embeds");
    if (emb && !cJSON_IsNull(emb)) {
        if (!cJSON_IsArray(emb) || cJSON_GetArraySize(emb) > 10) return "embeds: at most 10";
        size_t total = 0;
        const cJSON *e;
        cJSON_ArrayForEach(e, emb)
        {
            const cJSON *t = cJSON_GetObjectItemCaseSensitive(e, "title");
            const cJSON *d = cJSON_GetObjectItemCaseSensitive(e, "description");
            if (chars_of(t) > 256) return "embeds.title: must be 256 or fewer in length";
            if (chars_of(d) > 4096) return "embeds.description: must be 4096 or fewer in length";
            total += chars_of(t) + chars_of(d);
            const cJSON *ft = cJSON_GetObjectItemCaseSensitive(
                cJSON_GetObjectItemCaseSensitive(e, "footer"), "text");
            if (chars_of(ft) > 2048) return "embeds.footer.text: too long";
            total += chars_of(ft);
            const cJSON *an = cJSON_GetObjectItemCaseSensitive(
                cJSON_GetObjectItemCaseSensitive(e, "author"), "name");
            if (chars_of(an) > 256) return "embeds.author.name: too long";
            total += chars_of(an);
            const cJSON *fields = cJSON_GetObjectItemCaseSensitive(e, "fields");
            if (cJSON_GetArraySize(fields) > 25) return "embeds.fields: at most 25";
            const cJSON *fl;
            cJSON_ArrayForEach(fl, fields)
            {
                const cJSON *n = cJSON_GetObjectItemCaseSensitive(fl, "name");
                const cJSON *v = cJSON_GetObjectItemCaseSensitive(fl, "value");
                if (!cJSON_IsString(n) || chars_of(n) < 1 || chars_of(n) > 256)
                    return "embeds.fields.name: 1..256";
                if (!cJSON_IsString(v) || chars_of(v) < 1 || chars_of(v) > 1024)
                    return "embeds.fields.value: 1..1024";
                total += chars_of(n) + chars_of(v);
            }
        }
        if (total > 6000) return "embeds: more than 6000 characters in total";
    }
    const cJSON *comp = cJSON_GetObjectItemCaseSensitive(m, "components");
    if (comp && !cJSON_IsNull(comp) && (!cJSON_IsArray(comp) || cJSON_GetArraySize(comp) > 5))
        return "components: at most 5 action rows";
    const char *why = comp && cJSON_IsArray(comp) ? components_invalid(comp) : NULL;
    if (why) return why;
    const cJSON *fl = cJSON_GetObjectItemCaseSensitive(m, "flags");
    if (fl && !cJSON_IsNull(fl) && !cJSON_IsNumber(fl)) return "flags: must be an integer";
    return NULL;
}

/* The JSON of a message-bearing request: the body, or the payload_json part of a multipart. */
static cJSON *request_json(const fake_rest_request *r, bool *multipart)
{
    *multipart = r->nparts > 0;
    if (r->nparts) {
        for (unsigned i = 0; i < r->nparts; i++)
            if (strcmp(r->parts[i].name, "payload_json") == 0)
                return cJSON_ParseWithLength((const char *)r->parts[i].data, r->parts[i].len);
        return cJSON_CreateObject(); /* files only */
    }
    if (!r->body_len) return NULL;
    return cJSON_ParseWithLength((const char *)r->body, r->body_len);
}

/* Applies an edit (or the initial content) to a stored message object. */
static void message_apply(fake_rest *f, cJSON *msg, const cJSON *edit, const fake_rest_request *r)
{
    static const char *const keys[] = {"content", "embeds",           "components",
                                       "flags",   "allowed_mentions", "tts"};
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(edit, keys[i]);
        if (!v) continue;
        cJSON_DeleteItemFromObjectCaseSensitive(msg, keys[i]);
        cJSON_AddItemToObject(msg, keys[i], cJSON_Duplicate(v, true));
    }
    cJSON *atts = cJSON_GetObjectItemCaseSensitive(msg, "attachments");
    if (!atts) atts = cJSON_AddArrayToObject(msg, "attachments");
    const cJSON *keep = cJSON_GetObjectItemCaseSensitive(edit, "attachments");
    if (keep && cJSON_IsArray(keep)) {
        /* Only existing attachments listed by id survive an edit (new files are added below). */
        cJSON *kept = cJSON_CreateArray();
        const cJSON *a;
        cJSON_ArrayForEach(a, atts)
        {
            const char *aid = cJSON_GetStringValue(cJSON_GetObjectItem(a, "id"));
            const cJSON *k;
            cJSON_ArrayForEach(k, keep)
            {
                const cJSON *kid = cJSON_GetObjectItem(k, "id");
                if (aid && cJSON_IsString(kid) && strcmp(kid->valuestring, aid) == 0) {
                    cJSON_AddItemToArray(kept, cJSON_Duplicate(a, true));
                    break;
                }
            }
        }
        cJSON_DeleteItemFromObjectCaseSensitive(msg, "attachments");
        cJSON_AddItemToObject(msg, "attachments", kept);
        atts = kept;
    }
    for (unsigned i = 0; r && i < r->nparts; i++) {
        const fake_rest_part *pt = &r->parts[i];
        if (strncmp(pt->name, "files[", 6) != 0) continue;
        uint64_t id = fr_new_id(f);
        char ids[24], url[256];
        snprintf(ids, sizeof ids, "%" PRIu64, id);
        const char *fname = pt->filename ? pt->filename : "file";
        snprintf(url, sizeof url, "http://127.0.0.1:%u/attachments/%s/%s", f->port, ids, fname);
        cJSON *a = cJSON_CreateObject();
        cJSON_AddStringToObject(a, "id", ids);
        cJSON_AddStringToObject(a, "filename", fname);
        cJSON_AddNumberToObject(a, "size", (double)pt->len);
        cJSON_AddStringToObject(a, "url", url);
        cJSON_AddStringToObject(a, "proxy_url", url);
        if (pt->content_type) cJSON_AddStringToObject(a, "content_type", pt->content_type);
        cJSON_AddItemToArray(atts, a);
        /* Served like the CDN; the bytes stay with the recorded request (freed at stop). */
        fr_file *ff = calloc(1, sizeof *ff);
        if (!ff) abort();
        ff->id = id;
        ff->filename = util_strdup(fname);
        ff->content_type =
            util_strdup(pt->content_type ? pt->content_type : "application/octet-stream");
        ff->data = pt->data;
        ff->len = pt->len;
        ff->next = f->files;
        f->files = ff;
    }
}

static cJSON *message_new(fake_rest *f, uint64_t channel_id)
{
    uint64_t id = fr_new_id(f);
    cJSON *m = cJSON_CreateObject();
    util_json_add_u64(m, "id", id);
    cJSON_AddNumberToObject(m, "type", 20);
    util_json_add_u64(m, "channel_id", channel_id);
    cJSON_AddStringToObject(m, "content", "");
    cJSON_AddArrayToObject(m, "embeds");
    cJSON_AddArrayToObject(m, "components");
    cJSON_AddArrayToObject(m, "attachments");
    cJSON_AddNumberToObject(m, "flags", 0);
    cJSON *au = cJSON_AddObjectToObject(m, "author");
    util_json_add_u64(au, "id", f->app_id);
    cJSON_AddStringToObject(au, "username", "fluxbot-fake");
    cJSON_AddStringToObject(au, "discriminator", "0");
    cJSON_AddNullToObject(au, "global_name");
    cJSON_AddNullToObject(au, "avatar");
    cJSON_AddTrueToObject(au, "bot");
    util_json_add_u64(m, "webhook_id", f->app_id);
    util_json_add_u64(m, "application_id", f->app_id);
    msg_add(f, id, channel_id);
    return m;
}

/* ---- routes (lock held) -------------------------------------------------------------------------
 */

typedef struct fr_path {
    const char *seg[10];
    size_t len[10];
    unsigned n;
} fr_path;

static void split_path(const char *p, fr_path *out)
{
    out->n = 0;
    while (*p == '/')
        p++;
    while (*p && out->n < 10) {
        const char *s = strchr(p, '/');
        size_t n = s ? (size_t)(s - p) : strlen(p);
        out->seg[out->n] = p;
        out->len[out->n] = n;
        out->n++;
        if (!s) break;
        p = s + 1;
    }
}

static bool seg_is(const fr_path *pp, unsigned i, const char *lit)
{
    return i < pp->n && pp->len[i] == strlen(lit) && memcmp(pp->seg[i], lit, pp->len[i]) == 0;
}

static bool seg_u64(const fr_path *pp, unsigned i, uint64_t *out)
{
    char buf[24];
    if (i >= pp->n || pp->len[i] >= sizeof buf) return false;
    memcpy(buf, pp->seg[i], pp->len[i]);
    buf[pp->len[i]] = '\0';
    return util_dec_snowflake(buf, out);
}

static void seg_copy(const fr_path *pp, unsigned i, char *out, size_t cap)
{
    size_t n = i < pp->n ? pp->len[i] : 0;
    if (n >= cap) n = cap - 1;
    memcpy(out, i < pp->n ? pp->seg[i] : "", n);
    out[n] = '\0';
}

/* GET /oauth2/applications/@me: the bot's application, owned by a fixed user. */
static void route_application_me(fake_rest *f, fr_pss *p)
{
    cJSON *o = cJSON_CreateObject();
    util_json_add_u64(o, "id", f->app_id);
    cJSON_AddStringToObject(o, "name", "fluxbot-fake");
    cJSON_AddStringToObject(o, "description", "");
    cJSON_AddNullToObject(o, "icon");
    cJSON_AddArrayToObject(o, "rpc_origins");
    cJSON_AddTrueToObject(o, "bot_public");
    cJSON_AddFalseToObject(o, "bot_require_code_grant");
    cJSON *owner = cJSON_AddObjectToObject(o, "owner");
    cJSON_AddStringToObject(owner, "id", "300000000000000999");
    cJSON_AddStringToObject(owner, "username", "fake-owner");
    cJSON_AddStringToObject(owner, "discriminator", "0");
    cJSON_AddNullToObject(owner, "global_name");
    cJSON_AddNullToObject(owner, "avatar");
    cJSON_AddNumberToObject(owner, "public_flags", 0);
    cJSON_AddNullToObject(o, "team");
    cJSON_AddStringToObject(o, "verify_key", "00");
    cJSON_AddNumberToObject(o, "flags", 0);
    resp_cjson(p, 200, o);
    cJSON_Delete(o);
}

/* GET /gateway: only the URL (what discord.py's unsharded client asks for). */
static void route_gateway(fake_rest *f, fr_pss *p)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "url", f->gateway_url);
    resp_cjson(p, 200, o);
    cJSON_Delete(o);
}

static void route_gateway_bot(fake_rest *f, fr_pss *p)
{
    if (f->cfg.gateway_bot_json) {
        /* Another component (the fake gateway) owns the session budget: serve its view. */
        char buf[2048];
        int n = f->cfg.gateway_bot_json(f->cfg.gateway_bot_ctx, buf, sizeof buf);
        if (n > 0 && (size_t)n < sizeof buf) {
            resp_bytes(p, 200, (const uint8_t *)buf, (size_t)n, "application/json");
            return;
        }
    }
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "url", f->gateway_url);
    cJSON_AddNumberToObject(o, "shards", f->cfg.shards);
    cJSON *l = cJSON_AddObjectToObject(o, "session_start_limit");
    cJSON_AddNumberToObject(l, "total", 1000);
    cJSON_AddNumberToObject(l, "remaining", f->cfg.session_start_remaining);
    cJSON_AddNumberToObject(l, "reset_after", 14400000);
    cJSON_AddNumberToObject(l, "max_concurrency", f->cfg.max_concurrency);
    resp_cjson(p, 200, o);
    cJSON_Delete(o);
}

static void route_users_me(fake_rest *f, fr_pss *p)
{
    char id[24];
    snprintf(id, sizeof id, "%" PRIu64, f->app_id);
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "id", id);
    cJSON_AddStringToObject(o, "username", "fluxbot-fake");
    cJSON_AddStringToObject(o, "discriminator", "0");
    /* Discord always sends these keys, null or not; discord.py reads them unconditionally */
    cJSON_AddNullToObject(o, "global_name");
    cJSON_AddNullToObject(o, "avatar");
    cJSON_AddTrueToObject(o, "bot");
    cJSON_AddNumberToObject(o, "flags", 0);
    cJSON_AddNumberToObject(o, "public_flags", 0);
    cJSON_AddTrueToObject(o, "verified");
    cJSON_AddFalseToObject(o, "mfa_enabled");
    cJSON_AddNullToObject(o, "locale");
    resp_cjson(p, 200, o);
    cJSON_Delete(o);
}

static void route_commands(fake_rest *f, fr_pss *p, const fake_rest_request *r, uint64_t guild_id)
{
    char err[256] = "";
    if (cmd_validate_json((const char *)r->body, r->body_len, err, sizeof err) != 0) {
        resp_form_error(p, err);
        return;
    }
    cJSON *arr = cJSON_ParseWithLength((const char *)r->body, r->body_len);
    char app[24], gid[24];
    snprintf(app, sizeof app, "%" PRIu64, f->app_id);
    snprintf(gid, sizeof gid, "%" PRIu64, guild_id);
    cJSON *c;
    cJSON_ArrayForEach(c, arr)
    {
        char id[24];
        snprintf(id, sizeof id, "%" PRIu64, fr_new_id(f));
        cJSON_AddStringToObject(c, "id", id);
        cJSON_AddStringToObject(c, "application_id", app);
        cJSON_AddStringToObject(c, "version", id);
        if (guild_id) cJSON_AddStringToObject(c, "guild_id", gid);
    }
    char *stored = xmalloc(r->body_len + 1);
    memcpy(stored, r->body, r->body_len);
    stored[r->body_len] = '\0';
    if (guild_id) {
        fr_guild_cmds *g = f->commands_guild;
        while (g && g->guild_id != guild_id)
            g = g->next;
        if (!g) {
            g = calloc(1, sizeof *g);
            if (!g) abort();
            g->guild_id = guild_id;
            g->next = f->commands_guild;
            f->commands_guild = g;
        }
        free(g->json);
        g->json = stored;
    } else {
        free(f->commands_global);
        f->commands_global = stored;
    }
    resp_cjson(p, 200, arr);
    cJSON_Delete(arr);
}

static void route_callback(fake_rest *f, fr_pss *p, fake_rest_request *r, uint64_t id,
                           const char *token)
{
    fr_ix *x = ix_find_id(f, id);
    r->interaction_id = id;
    if (!x || strcmp(x->token, token) != 0) {
        resp_error(p, 404, 10062, "Unknown interaction");
        return;
    }
    x->callbacks++;
    int64_t age = mono_ms() - x->reg_ms;
    if (age > (int64_t)f->cfg.callback_deadline_ms) {
        /* Discord invalidates the token after 3 s without an answer. */
        x->late = true;
        resp_error(p, 404, 10062, "Unknown interaction");
        return;
    }
    if (x->ack_type) {
        resp_error(p, 400, 40060, "Interaction has already been acknowledged.");
        return;
    }
    bool multipart;
    cJSON *body = request_json(r, &multipart);
    const cJSON *type = cJSON_GetObjectItemCaseSensitive(body, "type");
    int t = cJSON_IsNumber(type) ? (int)type->valuedouble : -1;
    const cJSON *data = cJSON_GetObjectItemCaseSensitive(body, "data");
    const char *why = NULL;
    if (!body)
        why = "The request body contains invalid JSON.";
    else if (t != 4 && t != 5 && t != 6 && t != 7 && t != 8 && t != 9)
        why = "type: Value must be one of {4, 5, 6, 7, 8, 9}.";
    else if (t == 9 && x->is_modal)
        why = "type: a modal submit cannot be answered with a modal";
    else if (t == 9)
        why = modal_invalid(data);
    else if ((t == 6 || t == 7) && !x->is_component)
        why = "type: only component interactions can be updated";
    else if ((t == 4 || t == 7) && !cJSON_IsObject(data))
        why = "data: This field is required";
    else if (t == 8 && (!cJSON_IsArray(cJSON_GetObjectItem(data, "choices")) ||
                        cJSON_GetArraySize(cJSON_GetObjectItem(data, "choices")) > 25))
        why = "data.choices: Must be 25 or fewer in length.";
    else if (data && t != 8 && t != 9)
        why = message_invalid(data);
    if (why) {
        cJSON_Delete(body);
        resp_form_error(p, why);
        return;
    }
    x->ack_type = t;
    x->ack_ms = age;
    if (t == 4 || t == 5) {
        x->original = message_new(f, x->channel_id);
        if (data) message_apply(f, x->original, data, multipart ? r : NULL);
    } else if (t == 7 && data) {
        if (!x->original) x->original = message_new(f, x->channel_id);
        message_apply(f, x->original, data, multipart ? r : NULL);
    }
    cJSON_Delete(body);
    if (r->query && strstr(r->query, "with_response=true")) {
        cJSON *o = cJSON_CreateObject();
        cJSON *ixo = cJSON_AddObjectToObject(o, "interaction");
        util_json_add_u64(ixo, "id", x->id);
        cJSON_AddNumberToObject(ixo, "type", x->is_component ? 3 : 2);
        cJSON *res = cJSON_AddObjectToObject(o, "resource");
        cJSON_AddNumberToObject(res, "type", t);
        if (x->original) cJSON_AddItemToObject(res, "message", cJSON_Duplicate(x->original, true));
        resp_cjson(p, 200, o);
        cJSON_Delete(o);
        return;
    }
    resp_json(p, 204, NULL);
}

static void route_webhook(fake_rest *f, fr_pss *p, fake_rest_request *r, const fr_path *pp)
{
    uint64_t app;
    char token[IX_TOKEN_MAX + 1];
    seg_copy(pp, 2, token, sizeof token);
    fr_ix *x = seg_u64(pp, 1, &app) && app == f->app_id ? ix_find_token(f, token) : NULL;
    if (!x || x->ack_type == 0) {
        resp_error(p, 404, 10015, "Unknown Webhook");
        return;
    }
    if (mono_ms() - x->reg_ms > FR_TOKEN_TTL_MS) {
        resp_error(p, 401, 50027, "Invalid Webhook Token");
        return;
    }
    r->interaction_id = x->id;
    bool original = pp->n == 5 && seg_is(pp, 3, "messages") && seg_is(pp, 4, "@original");
    if (original && strcmp(r->method, "GET") == 0) {
        if (!x->original || x->deleted) {
            resp_error(p, 404, 10008, "Unknown Message");
            return;
        }
        resp_cjson(p, 200, x->original);
        return;
    }
    if (original && strcmp(r->method, "DELETE") == 0 && x->is_component && x->source_msg &&
        x->ack_type == 6) {
        /* after a type-6 ack, a component's @original is the message the component is on */
        for (fr_msg *m = f->msgs; m; m = m->next) {
            if (m->id == x->source_msg && !m->deleted) {
                m->deleted = true;
                resp_json(p, 204, NULL);
                return;
            }
        }
        resp_error(p, 404, 10008, "Unknown Message");
        return;
    }
    if (original && strcmp(r->method, "DELETE") == 0) {
        if (!x->original || x->deleted) {
            resp_error(p, 404, 10008, "Unknown Message");
            return;
        }
        x->deleted = true;
        resp_json(p, 204, NULL);
        return;
    }
    bool patch = original && strcmp(r->method, "PATCH") == 0;
    bool followup = pp->n == 3 && strcmp(r->method, "POST") == 0;
    if (!patch && !followup) {
        resp_error(p, 405, 0, "405: Method Not Allowed");
        return;
    }
    bool multipart;
    cJSON *body = request_json(r, &multipart);
    const char *why = body ? message_invalid(body) : "The request body contains invalid JSON.";
    if (!why && followup && !multipart) {
        const cJSON *c = cJSON_GetObjectItem(body, "content");
        const cJSON *e = cJSON_GetObjectItem(body, "embeds");
        if (!(cJSON_IsString(c) && c->valuestring[0]) && cJSON_GetArraySize(e) == 0)
            why = "Cannot send an empty message";
    }
    if (why) {
        cJSON_Delete(body);
        resp_form_error(p, why);
        return;
    }
    if (patch) {
        if (!x->original || x->deleted) {
            cJSON_Delete(body);
            resp_error(p, 404, 10008, "Unknown Message");
            return;
        }
        message_apply(f, x->original, body, multipart ? r : NULL);
        x->edits++;
        if (multipart) x->file_edits++;
        resp_cjson(p, 200, x->original);
    } else {
        cJSON *m = message_new(f, x->channel_id);
        message_apply(f, m, body, multipart ? r : NULL);
        x->followups++;
        resp_cjson(p, 200, m);
        cJSON_Delete(m);
    }
    cJSON_Delete(body);
}

/* POST /channels/{c}/messages: a bot message (JSON only here). */
static void route_channel_post(fake_rest *f, fr_pss *p, uint64_t channel)
{
    fake_rest_request *r = &p->req;
    bool multipart;
    cJSON *body = request_json(r, &multipart);
    const char *why = body ? message_invalid(body) : "The request body contains invalid JSON.";
    if (!why) {
        const cJSON *c = cJSON_GetObjectItem(body, "content");
        const cJSON *e = cJSON_GetObjectItem(body, "embeds");
        if (!(cJSON_IsString(c) && c->valuestring[0]) && cJSON_GetArraySize(e) == 0)
            why = "Cannot send an empty message";
    }
    if (why) {
        cJSON_Delete(body);
        resp_form_error(p, why);
        return;
    }
    cJSON *m = message_new(f, channel);
    message_apply(f, m, body, multipart ? r : NULL);
    resp_cjson(p, 200, m);
    cJSON_Delete(m);
    cJSON_Delete(body);
}

static void route_delete_message(fake_rest *f, fr_pss *p, uint64_t channel, uint64_t msg)
{
    for (fr_msg *m = f->msgs; m; m = m->next) {
        if (m->id == msg && m->channel_id == channel && !m->deleted) {
            m->deleted = true;
            resp_json(p, 204, NULL);
            return;
        }
    }
    resp_error(p, 404, 10008, "Unknown Message");
}

/* Returns the scripted fault for this request (consuming one), or 0. */
static fake_rest_fault script_take(fake_rest *f, const fake_rest_request *r, uint32_t *ms)
{
    for (unsigned i = 0; i < f->nscripts; i++) {
        fr_script *s = &f->scripts[i];
        bool outage = s->until_ms && mono_ms() < s->until_ms;
        if (s->count == 0 && !outage) continue;
        if (s->method[0] && strcmp(s->method, r->method) != 0) continue;
        if (s->prefix[0] && strncmp(r->path, s->prefix, strlen(s->prefix)) != 0) continue;
        if (!outage) s->count--;
        *ms = s->ms;
        return s->fault;
    }
    return 0;
}

/* Decides the response to the request in p->req and records it. Returns the delay in ms
 * (0 = answer now), or -1 to drop the connection. */
const char *fake_rest_kind_name(fake_rest_kind k)
{
    static const char *const names[FAKE_REST_KIND_COUNT] = {
        "defer", "callback", "edit", "edit_file", "followup", "webhook_other", "bot"};
    return k < FAKE_REST_KIND_COUNT ? names[k] : "?";
}

/* The kind of a request (before it is answered: a faulted or refused request counts as what it
 * asked for). A callback's type is read from its body (JSON, or a multipart's payload_json). */
static fake_rest_kind request_kind(const fake_rest_request *r)
{
    fr_path pp;
    split_path(r->path, &pp);
    if (pp.n == 4 && seg_is(&pp, 0, "interactions") && seg_is(&pp, 3, "callback")) {
        bool multipart;
        cJSON *body = request_json(r, &multipart);
        const cJSON *t = cJSON_GetObjectItemCaseSensitive(body, "type");
        int type = cJSON_IsNumber(t) ? (int)t->valuedouble : -1;
        cJSON_Delete(body);
        return type == 5 || type == 6 ? FAKE_REST_KIND_DEFER : FAKE_REST_KIND_CALLBACK;
    }
    if (!seg_is(&pp, 0, "webhooks") || pp.n < 3) return FAKE_REST_KIND_BOT;
    bool original = pp.n == 5 && seg_is(&pp, 3, "messages") && seg_is(&pp, 4, "@original");
    if (original && strcmp(r->method, "PATCH") == 0)
        return r->content_type && strncasecmp(r->content_type, "multipart/form-data", 19) == 0
                   ? FAKE_REST_KIND_EDIT_FILE
                   : FAKE_REST_KIND_EDIT;
    if (pp.n == 3 && strcmp(r->method, "POST") == 0) return FAKE_REST_KIND_FOLLOWUP;
    return FAKE_REST_KIND_WEBHOOK_OTHER;
}

static int fr_process(fake_rest *f, fr_pss *p)
{
    fake_rest_request *r = &p->req;
    int delay = 0;
    pthread_mutex_lock(&f->mu);
    f->st.requests++;
    if (r->content_type && strncasecmp(r->content_type, "multipart/form-data", 19) == 0 &&
        !multipart_parse(r)) {
        resp_form_error(p, "malformed multipart body");
        goto record;
    }
    uint32_t ms = 0;
    fake_rest_fault fault = script_take(f, r, &ms);
    switch (fault) {
    case FAKE_REST_FAULT_429_USER:
    case FAKE_REST_FAULT_429_SHARED: {
        rl_route rt;
        if (rl_route_of(r->method, r->path, &rt) == 0) bucket_account(f, p, &rt, false);
        resp_429(p, fault == FAKE_REST_FAULT_429_USER ? RL_SCOPE_USER : RL_SCOPE_SHARED, ms);
        goto record;
    }
    case FAKE_REST_FAULT_429_GLOBAL:
        resp_429(p, RL_SCOPE_GLOBAL, ms);
        goto record;
    case FAKE_REST_FAULT_500:
        resp_error(p, 500, 0, "500: Internal Server Error");
        goto record;
    case FAKE_REST_FAULT_502:
        resp_error(p, 502, 0, "502: Bad Gateway");
        goto record;
    case FAKE_REST_FAULT_503:
        resp_error(p, 503, 0, "503: Service Unavailable");
        goto record;
    case FAKE_REST_FAULT_401:
        resp_error(p, 401, 0, "401: Unauthorized");
        goto record;
    case FAKE_REST_FAULT_403:
        resp_error(p, 403, 50001, "Missing Access");
        goto record;
    case FAKE_REST_FAULT_DROP:
        p->status = 0;
        delay = -1;
        goto record;
    case FAKE_REST_FAULT_DELAY:
        delay = (int)ms;
        break;
    case FAKE_REST_FAULT_TRUNCATE:
        p->truncate = true;
        break;
    default:
        break;
    }

    static const char att_prefix[] = "/__outside__/attachments/";
    if (strncmp(r->path, att_prefix, sizeof att_prefix - 1) == 0) {
        uint64_t id = strtoull(r->path + sizeof att_prefix - 1, NULL, 10);
        const fr_file *ff = f->files;
        while (ff && ff->id != id)
            ff = ff->next;
        if (ff && strcmp(r->method, "GET") == 0)
            resp_bytes(p, 200, ff->data, ff->len, ff->content_type);
        else
            resp_error(p, 404, 0, "404: Not Found");
        goto record;
    }
    fr_path pp;
    split_path(r->path, &pp);
    bool token_route = seg_is(&pp, 0, "interactions") || (seg_is(&pp, 0, "webhooks") && pp.n >= 3);
    if (!token_route) {
        char want[300];
        snprintf(want, sizeof want, "Bot %s", f->token);
        if (!r->authorization || strcmp(r->authorization, want) != 0) {
            resp_error(p, 401, 0, "401: Unauthorized");
            goto record;
        }
    }
    rl_route rt;
    if (rl_route_of(r->method, r->path, &rt) != 0) {
        resp_error(p, 404, 0, "404: Not Found");
        goto record;
    }
    if (f->cfg.enforce_limits && !rt.global_exempt) {
        uint32_t g = global_account(f);
        if (g) {
            resp_429(p, RL_SCOPE_GLOBAL, g);
            goto record;
        }
    }
    uint32_t over = bucket_account(f, p, &rt, true);
    if (over && f->cfg.enforce_limits) {
        resp_429(p, RL_SCOPE_USER, over);
        goto record;
    }

    const char *m = r->method;
    uint64_t a = 0, b = 0;
    if (pp.n == 2 && seg_is(&pp, 0, "gateway") && seg_is(&pp, 1, "bot") && !strcmp(m, "GET")) {
        route_gateway_bot(f, p);
    } else if (pp.n == 1 && seg_is(&pp, 0, "gateway") && !strcmp(m, "GET")) {
        route_gateway(f, p);
    } else if (pp.n == 3 && seg_is(&pp, 0, "oauth2") && seg_is(&pp, 1, "applications") &&
               seg_is(&pp, 2, "@me") && !strcmp(m, "GET")) {
        route_application_me(f, p);
    } else if (pp.n == 2 && seg_is(&pp, 0, "users") && seg_is(&pp, 1, "@me") && !strcmp(m, "GET")) {
        route_users_me(f, p);
    } else if (seg_is(&pp, 0, "applications") && seg_u64(&pp, 1, &a) &&
               ((pp.n == 3 && seg_is(&pp, 2, "commands")) ||
                (pp.n == 5 && seg_is(&pp, 2, "guilds") && seg_u64(&pp, 3, &b) &&
                 seg_is(&pp, 4, "commands")))) {
        if (a != f->app_id)
            resp_error(p, 403, 50001, "Missing Access");
        else if (strcmp(m, "PUT") != 0)
            resp_error(p, 405, 0, "405: Method Not Allowed");
        else
            route_commands(f, p, r, b);
    } else if (pp.n == 4 && seg_is(&pp, 0, "interactions") && seg_u64(&pp, 1, &a) &&
               seg_is(&pp, 3, "callback")) {
        char token[IX_TOKEN_MAX + 1];
        seg_copy(&pp, 2, token, sizeof token);
        if (strcmp(m, "POST") != 0)
            resp_error(p, 405, 0, "405: Method Not Allowed");
        else
            route_callback(f, p, r, a, token);
    } else if (seg_is(&pp, 0, "webhooks") && pp.n >= 3) {
        route_webhook(f, p, r, &pp);
    } else if (pp.n == 4 && seg_is(&pp, 0, "channels") && seg_u64(&pp, 1, &a) &&
               seg_is(&pp, 2, "messages") && seg_u64(&pp, 3, &b) && !strcmp(m, "DELETE")) {
        route_delete_message(f, p, a, b);
    } else if (pp.n == 3 && seg_is(&pp, 0, "channels") && seg_u64(&pp, 1, &a) &&
               seg_is(&pp, 2, "messages") && !strcmp(m, "POST")) {
        route_channel_post(f, p, a);
    } else {
        resp_error(p, 404, 0, "404: Not Found");
    }

record:
    r->status = p->status;
    f->st.kinds[request_kind(r)]++;
    if (p->status >= 200 && p->status < 300)
        f->st.r2xx++;
    else if (p->status == 429)
        f->st.r429++, f->st.r4xx++;
    else if (p->status >= 400 && p->status < 500)
        f->st.r4xx++;
    else if (p->status >= 500)
        f->st.r5xx++;
    else
        f->st.dropped++;
    if (f->nreqs == f->capreqs) {
        size_t nc = f->capreqs ? f->capreqs * 2 : 64;
        fake_rest_request *nr = realloc(f->reqs, nc * sizeof *nr);
        if (!nr) abort();
        f->reqs = nr;
        f->capreqs = nc;
    }
    r->seq = f->nreqs + 1;
    f->reqs[f->nreqs++] = *r; /* the recorder takes over the request's heap fields */
    memset(r, 0, sizeof *r);
    pthread_cond_broadcast(&f->cv);
    pthread_mutex_unlock(&f->mu);
    return delay;
}

/* Decodes a complete chunked body in place. 1 when complete (out_len set), 0 when more is
 * needed, -1 when malformed. lws hands chunked request bodies over still encoded. */
static int chunked_decode(uint8_t *buf, size_t len, size_t *out_len)
{
    size_t i = 0, o = 0;
    for (;;) {
        size_t size = 0, digits = 0;
        while (i < len && ((buf[i] >= '0' && buf[i] <= '9') || (buf[i] >= 'a' && buf[i] <= 'f') ||
                           (buf[i] >= 'A' && buf[i] <= 'F'))) {
            unsigned d = buf[i] <= '9' ? buf[i] - '0' : (buf[i] | 0x20) - 'a' + 10;
            if (size > (SIZE_MAX >> 4)) return -1;
            size = size * 16 + d;
            i++;
            digits++;
        }
        if (i >= len) return 0;
        if (!digits) return -1;
        while (i < len && buf[i] != '\r')
            i++; /* chunk extensions */
        if (i + 1 >= len) return 0;
        if (buf[i + 1] != '\n') return -1;
        i += 2;
        if (size == 0) {
            /* Trailers until an empty line. */
            for (;;) {
                if (i + 1 >= len) return 0;
                if (buf[i] == '\r' && buf[i + 1] == '\n') {
                    *out_len = o;
                    return 1;
                }
                while (i + 1 < len && !(buf[i] == '\r' && buf[i + 1] == '\n'))
                    i++;
                if (i + 1 >= len) return 0;
                i += 2;
            }
        }
        if (len - i < size + 2) return 0;
        memmove(buf + o, buf + i, size);
        o += size;
        i += size;
        if (buf[i] != '\r' || buf[i + 1] != '\n') return -1;
        i += 2;
    }
}

/* ---- lws glue
 * ------------------------------------------------------------------------------------- */

static void pss_reset(fr_pss *p)
{
    request_free_fields(&p->req);
    free(p->resp_body);
    memset(p, 0, sizeof *p);
}

static char *hdr_dup(struct lws *wsi, enum lws_token_indexes t)
{
    int n = lws_hdr_total_length(wsi, t);
    if (n <= 0) return NULL;
    char *s = xmalloc((size_t)n + 1);
    if (lws_hdr_copy(wsi, s, n + 1, t) < 0) {
        free(s);
        return NULL;
    }
    return s;
}

static const struct {
    enum lws_token_indexes tok;
    const char *name;
} methods[] = {
    {WSI_TOKEN_GET_URI, "GET"},     {WSI_TOKEN_POST_URI, "POST"},     {WSI_TOKEN_PUT_URI, "PUT"},
    {WSI_TOKEN_PATCH_URI, "PATCH"}, {WSI_TOKEN_DELETE_URI, "DELETE"},
};

static int fr_respond_now(struct lws *wsi, fr_pss *p, int status, int code, const char *msg)
{
    resp_error(p, status, code, msg);
    p->close_after = true;
    lws_callback_on_writable(wsi);
    return 0;
}

static int fr_after_process(struct lws *wsi, fake_rest *f, fr_pss *p)
{
    int delay = fr_process(f, p);
    if (delay < 0) return -1; /* scripted drop: close without answering */
    if (delay > 0) {
        lws_set_timer_usecs(wsi, (lws_usec_t)delay * 1000);
        return 0;
    }
    lws_callback_on_writable(wsi);
    return 0;
}

/* Writes the status line and headers into [*ptr, end). The Content-Length goes in by name,
 * not through lws_add_http_common_headers: that one makes libwebsockets count the body's bytes
 * through its own writes, and the whole answer leaves in one write (fr_write_response). */
static int fr_add_headers(struct lws *wsi, fr_pss *p, unsigned char **ptr, unsigned char *end)
{
    if (lws_add_http_header_status(wsi, (unsigned)p->status, ptr, end)) return -1;
    if (p->status != 204) {
        const char *ctype = p->resp_ctype ? p->resp_ctype : "application/json";
        char len[24];
        int n = snprintf(len, sizeof len, "%zu", p->resp_len);
        if (lws_add_http_header_by_token(wsi, WSI_TOKEN_HTTP_CONTENT_TYPE,
                                         (const unsigned char *)ctype, (int)strlen(ctype), ptr,
                                         end) ||
            lws_add_http_header_by_token(wsi, WSI_TOKEN_HTTP_CONTENT_LENGTH,
                                         (const unsigned char *)len, n, ptr, end))
            return -1;
    }
    for (unsigned i = 0; i < p->nresp_hdrs; i++) {
        const char *v = p->resp_hdr_value[i];
        if (lws_add_http_header_by_name(wsi, (const unsigned char *)p->resp_hdr_name[i],
                                        (const unsigned char *)v, (int)strlen(v), ptr, end))
            return -1;
    }
    if (p->close_after && lws_add_http_header_by_token(wsi, WSI_TOKEN_CONNECTION,
                                                       (const unsigned char *)"close", 5, ptr, end))
        return -1;
    return lws_finalize_http_header(wsi, ptr, end) ? -1 : 0;
}

/* One answer, one write: Discord's edge sends an answer's headers and a small body together
 * (one TLS record, one TCP segment), so a client reading it wakes once. Writing the headers and
 * the body separately, as this fake once did, made a fast client wake twice for half an answer
 * and count system calls Discord would not cause. */
static int fr_write_response(struct lws *wsi, fr_pss *p)
{
    enum { HDR_MAX = 2048 };
    size_t body = p->truncate ? p->resp_len / 2 : p->resp_len;
    unsigned char *buf = xmalloc(LWS_PRE + HDR_MAX + body);
    unsigned char *start = buf + LWS_PRE, *ptr = start;
    if (fr_add_headers(wsi, p, &ptr, start + HDR_MAX)) {
        free(buf);
        return -1;
    }
    if (body) memcpy(ptr, p->resp_body, body);
    size_t total = (size_t)(ptr - start) + body;
    int w = lws_write(wsi, start, total, LWS_WRITE_HTTP_HEADERS);
    free(buf);
    if (p->truncate) {
        /* half the body (none of a 204's), then the close: the client sees a short answer */
        pss_reset(p);
        return -1;
    }
    if (w < (int)total) return -1;
    bool close_after = p->close_after;
    pss_reset(p);
    if (close_after) return -1;
    return lws_http_transaction_completed(wsi) ? -1 : 0;
}

static int fr_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                       size_t len)
{
    fr_pss *p = user;
    struct lws_context *ctx = lws_get_context(wsi);
    fake_rest *f = ctx ? lws_context_user(ctx) : NULL;
    switch (reason) {
    case LWS_CALLBACK_HTTP: {
        if (!f || !p) return -1;
        pss_reset(p);
        p->in_use = true;
        fake_rest_request *r = &p->req;
        r->t_ms = mono_ms() - f->t0_ms;
        r->mono_ns = rt_now_ns();
        const char *m = NULL;
        for (size_t i = 0; i < sizeof methods / sizeof methods[0]; i++)
            if (lws_hdr_total_length(wsi, methods[i].tok) > 0) m = methods[i].name;
        snprintf(r->method, sizeof r->method, "%s", m ? m : "OTHER");
        const char *uri = in ? (const char *)in : "/";
        static const char prefix[] = "/api/v10";
        if (len >= sizeof prefix - 1 && strncmp(uri, prefix, sizeof prefix - 1) == 0) {
            r->path = xmalloc(len - (sizeof prefix - 1) + 2);
            snprintf(r->path, len - (sizeof prefix - 1) + 2, "%.*s",
                     (int)(len - (sizeof prefix - 1)), uri + sizeof prefix - 1);
        } else {
            r->path = xmalloc(len + 16);
            snprintf(r->path, len + 16, "/__outside__%.*s", (int)len, uri);
        }
        if (!r->path[0]) {
            free(r->path);
            r->path = util_strdup("/");
        }
        r->query = hdr_dup(wsi, WSI_TOKEN_HTTP_URI_ARGS);
        r->authorization = hdr_dup(wsi, WSI_TOKEN_HTTP_AUTHORIZATION);
        r->user_agent = hdr_dup(wsi, WSI_TOKEN_HTTP_USER_AGENT);
        r->content_type = hdr_dup(wsi, WSI_TOKEN_HTTP_CONTENT_TYPE);
        int al = lws_hdr_custom_length(wsi, "x-audit-log-reason:", 19);
        if (al > 0) {
            r->audit_reason = xmalloc((size_t)al + 1);
            if (lws_hdr_custom_copy(wsi, r->audit_reason, al + 1, "x-audit-log-reason:", 19) < 0)
                r->audit_reason[0] = '\0';
        }
        if (!m) return fr_respond_now(wsi, p, 405, 0, "405: Method Not Allowed");
        p->chunked = lws_hdr_total_length(wsi, WSI_TOKEN_HTTP_TRANSFER_ENCODING) > 0;
        char clen[32] = "";
        if (lws_hdr_copy(wsi, clen, sizeof clen, WSI_TOKEN_HTTP_CONTENT_LENGTH) > 0) {
            char *endp = NULL;
            unsigned long long v = strtoull(clen, &endp, 10);
            if (!endp || *endp || v > f->cfg.max_body)
                return fr_respond_now(wsi, p, 413, 40005, "Request entity too large");
            p->content_length = (size_t)v;
        }
        if (p->content_length > 0 || p->chunked) {
            if (lws_hdr_total_length(wsi, WSI_TOKEN_HTTP_EXPECT) > 0) {
                /* lws does not answer Expect itself; without this curl waits a second. */
                static const char c100[] = "HTTP/1.1 100 Continue\r\n\r\n";
                unsigned char b[LWS_PRE + sizeof c100];
                memcpy(b + LWS_PRE, c100, sizeof c100 - 1);
                if (lws_write(wsi, b + LWS_PRE, sizeof c100 - 1, LWS_WRITE_RAW) < 0) return -1;
            }
            p->body_cap = (p->chunked ? 4096 : p->content_length) + 1;
            r->body = xmalloc(p->body_cap);
            return 0; /* the body follows */
        }
        r->body = xmalloc(1);
        r->body[0] = 0;
        return fr_after_process(wsi, f, p);
    }
    case LWS_CALLBACK_HTTP_BODY:
        if (!p || !p->req.body) return -1;
        if (p->chunked) {
            /* lws decodes chunked bodies; grow the buffer, bounded like any body. */
            if (p->req.body_len + len > f->cfg.max_body) return -1;
            if (p->req.body_len + len + 1 > p->body_cap) {
                size_t nc = (p->req.body_len + len + 1) * 2;
                uint8_t *nb = realloc(p->req.body, nc);
                if (!nb) return -1;
                p->req.body = nb;
                p->body_cap = nc;
            }
        } else if (p->req.body_len + len > p->content_length) {
            return -1; /* more than announced */
        }
        memcpy(p->req.body + p->req.body_len, in, len);
        p->req.body_len += len;
        if (p->chunked && p->req.body_len >= 5 &&
            memcmp(p->req.body + p->req.body_len - 2, "\r\n", 2) == 0) {
            /* Decode a copy: until the last chunk arrived the raw bytes must stay intact. */
            uint8_t *tmp = xmalloc(p->req.body_len + 1);
            memcpy(tmp, p->req.body, p->req.body_len);
            size_t out = 0;
            int rc = chunked_decode(tmp, p->req.body_len, &out);
            if (rc < 0) {
                free(tmp);
                return -1;
            }
            if (rc == 1) {
                free(p->req.body);
                p->req.body = tmp;
                p->req.body_len = out;
                p->req.body[out] = 0;
                p->chunked = false;
                return fr_after_process(wsi, f, p);
            }
            free(tmp);
        }
        return 0;
    case LWS_CALLBACK_HTTP_BODY_COMPLETION:
        if (!p || !p->req.body) return -1;
        p->req.body[p->req.body_len] = 0;
        return fr_after_process(wsi, f, p);
    case LWS_CALLBACK_TIMER:
        lws_callback_on_writable(wsi);
        return 0;
    case LWS_CALLBACK_HTTP_WRITEABLE:
        if (!p || !p->status) return 0;
        return fr_write_response(wsi, p);
    case LWS_CALLBACK_HTTP_DROP_PROTOCOL:
    case LWS_CALLBACK_CLOSED_HTTP:
        if (p) pss_reset(p);
        break;
    case LWS_CALLBACK_SERVER_NEW_CLIENT_INSTANTIATED:
        if (f) {
            pthread_mutex_lock(&f->mu);
            f->st.connections++;
            pthread_mutex_unlock(&f->mu);
        }
        break;
    default:
        break;
    }
    return lws_callback_http_dummy(wsi, reason, user, in, len);
}

static const struct lws_protocols fr_protocols[] = {
    {"http", fr_callback, sizeof(fr_pss), 0, 0, NULL, 0},
    {NULL, NULL, 0, 0, 0, NULL, 0},
};

static void *fr_thread(void *arg)
{
    fake_rest *f = arg;
    while (!atomic_load(&f->stop))
        if (lws_service(f->ctx, 0) < 0) break;
    return NULL;
}

fake_rest *fake_rest_start(const fake_rest_config *cfg)
{
    if (!cfg || !cfg->token || !*cfg->token || strlen(cfg->token) >= 256) {
        fprintf(stderr, "fake_rest: a token is required\n");
        return NULL;
    }
    fake_rest *f = calloc(1, sizeof *f);
    if (!f) return NULL;
    f->cfg = *cfg;
    snprintf(f->token, sizeof f->token, "%s", cfg->token);
    snprintf(f->gateway_url, sizeof f->gateway_url, "%s",
             cfg->gateway_url ? cfg->gateway_url : "ws://127.0.0.1:1");
    if (!f->cfg.shards) f->cfg.shards = 1;
    if (!f->cfg.max_concurrency) f->cfg.max_concurrency = 1;
    if (!f->cfg.session_start_remaining) f->cfg.session_start_remaining = 1000;
    if (!f->cfg.callback_deadline_ms) f->cfg.callback_deadline_ms = 3000;
    if (!f->cfg.bucket_limit) f->cfg.bucket_limit = 5;
    if (!f->cfg.bucket_window_ms) f->cfg.bucket_window_ms = 1000;
    if (!f->cfg.max_body) f->cfg.max_body = 32u * 1024 * 1024;
    f->t0_ms = mono_ms();
    f->app_id = cfg->application_id ? cfg->application_id : fr_new_id(f);
    f->cfg.token = f->token;
    f->cfg.gateway_url = f->gateway_url;
    pthread_mutex_init(&f->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&f->cv, &ca);
    pthread_condattr_destroy(&ca);

    lws_set_log_level(LLL_ERR, NULL);
    struct lws_context_creation_info info;
    memset(&info, 0, sizeof info);
    info.port = 0;
    info.iface = "127.0.0.1";
    info.protocols = fr_protocols;
    info.user = f;
    info.max_http_header_data = 8192;
    info.timeout_secs = 10;
    info.keepalive_timeout = (int)cfg->keepalive_s;
    info.options = LWS_SERVER_OPTION_DISABLE_IPV6;
    f->ctx = lws_create_context(&info);
    if (!f->ctx) {
        fprintf(stderr, "fake_rest: lws_create_context failed\n");
        pthread_mutex_destroy(&f->mu);
        pthread_cond_destroy(&f->cv);
        free(f);
        return NULL;
    }
    struct lws_vhost *vh = lws_get_vhost_by_name(f->ctx, "default");
    int port = vh ? lws_get_vhost_listen_port(vh) : -1;
    if (port <= 0) {
        fprintf(stderr, "fake_rest: no listening port\n");
        lws_context_destroy(f->ctx);
        free(f);
        return NULL;
    }
    f->port = (uint16_t)port;
    snprintf(f->base_url, sizeof f->base_url, "http://127.0.0.1:%d/api/v10", port);
    if (pthread_create(&f->thread, NULL, fr_thread, f) != 0) {
        lws_context_destroy(f->ctx);
        free(f);
        return NULL;
    }
    return f;
}

void fake_rest_stop(fake_rest *f)
{
    if (!f) return;
    atomic_store(&f->stop, true);
    lws_cancel_service(f->ctx);
    pthread_join(f->thread, NULL);
    lws_context_destroy(f->ctx);
    for (size_t i = 0; i < f->nreqs; i++)
        request_free_fields(&f->reqs[i]);
    free(f->reqs);
    for (size_t i = 0; i < FR_SLOTS; i++) {
        for (fr_ix *x = f->ix_by_id[i], *n; x; x = n) {
            n = x->next_id;
            cJSON_Delete(x->original);
            free(x);
        }
        for (fr_bucket *b = f->buckets[i], *n; b; b = n) {
            n = b->next;
            free(b->key);
            free(b);
        }
    }
    for (fr_msg *m = f->msgs, *n; m; m = n) {
        n = m->next;
        free(m);
    }
    for (fr_guild_cmds *g = f->commands_guild, *n; g; g = n) {
        n = g->next;
        free(g->json);
        free(g);
    }
    free(f->commands_global);
    for (fr_file *ff = f->files, *n; ff; ff = n) {
        n = ff->next;
        if (ff->owned) free((void *)ff->data);
        free(ff->filename);
        free(ff->content_type);
        free(ff);
    }
    pthread_mutex_destroy(&f->mu);
    pthread_cond_destroy(&f->cv);
    free(f);
}

uint16_t fake_rest_port(const fake_rest *f)
{
    return f->port;
}
const char *fake_rest_base_url(const fake_rest *f)
{
    return f->base_url;
}
uint64_t fake_rest_application_id(const fake_rest *f)
{
    return f->app_id;
}

void fake_rest_set_gateway_url(fake_rest *f, const char *url)
{
    pthread_mutex_lock(&f->mu);
    snprintf(f->gateway_url, sizeof f->gateway_url, "%s", url ? url : "");
    pthread_mutex_unlock(&f->mu);
}

void fake_rest_register_interaction(fake_rest *f, uint64_t id, const char *token,
                                    uint64_t channel_id, bool is_component)
{
    pthread_mutex_lock(&f->mu);
    fr_ix *x = ix_find_id(f, id);
    if (!x) {
        x = calloc(1, sizeof *x);
        if (!x) abort();
        x->id = id;
        snprintf(x->token, sizeof x->token, "%s", token);
        x->next_id = f->ix_by_id[id % FR_SLOTS];
        f->ix_by_id[id % FR_SLOTS] = x;
        uint64_t h = util_fnv1a_str(x->token);
        x->next_tok = f->ix_by_tok[h % FR_SLOTS];
        f->ix_by_tok[h % FR_SLOTS] = x;
    }
    x->channel_id = channel_id;
    x->is_component = is_component;
    x->reg_ms = mono_ms();
    x->ack_ms = -1;
    pthread_mutex_unlock(&f->mu);
}

void fake_rest_set_modal_submit(fake_rest *f, uint64_t id)
{
    pthread_mutex_lock(&f->mu);
    fr_ix *x = ix_find_id(f, id);
    if (x) x->is_modal = true;
    pthread_mutex_unlock(&f->mu);
}

void fake_rest_set_component_message(fake_rest *f, uint64_t id, uint64_t message_id)
{
    pthread_mutex_lock(&f->mu);
    fr_ix *x = ix_find_id(f, id);
    if (x) x->source_msg = message_id;
    pthread_mutex_unlock(&f->mu);
}

bool fake_rest_message_deleted(fake_rest *f, uint64_t message_id)
{
    pthread_mutex_lock(&f->mu);
    bool del = false;
    for (fr_msg *m = f->msgs; m; m = m->next)
        if (m->id == message_id && m->deleted) del = true;
    pthread_mutex_unlock(&f->mu);
    return del;
}

bool fake_rest_interaction_state(fake_rest *f, uint64_t id, fake_rest_ix_state *out)
{
    memset(out, 0, sizeof *out);
    out->ack_ms = -1;
    pthread_mutex_lock(&f->mu);
    fr_ix *x = ix_find_id(f, id);
    if (x) {
        out->known = true;
        out->callbacks = x->callbacks;
        out->ack_type = x->ack_type;
        out->ack_ms = x->ack_type ? x->ack_ms : -1;
        out->late = x->late;
        out->edits = x->edits;
        out->file_edits = x->file_edits;
        out->followups = x->followups;
        out->original_deleted = x->deleted;
        out->original_json = x->original ? cJSON_PrintUnformatted(x->original) : NULL;
    }
    pthread_mutex_unlock(&f->mu);
    return x != NULL;
}

uint64_t fake_rest_add_attachment(fake_rest *f, const char *filename, const char *content_type,
                                  const uint8_t *data, size_t len, char *url, size_t url_cap)
{
    fr_file *ff = calloc(1, sizeof *ff);
    if (!ff) abort();
    uint8_t *copy = xmalloc(len + 1);
    if (len) memcpy(copy, data, len);
    ff->filename = util_strdup(filename && *filename ? filename : "file.bin");
    ff->content_type = util_strdup(content_type ? content_type : "application/octet-stream");
    ff->data = copy;
    ff->len = len;
    ff->owned = true;
    pthread_mutex_lock(&f->mu);
    ff->id = fr_new_id(f);
    ff->next = f->files;
    f->files = ff;
    pthread_mutex_unlock(&f->mu);
    if (url && url_cap)
        snprintf(url, url_cap, "http://127.0.0.1:%u/attachments/%" PRIu64 "/%s", f->port, ff->id,
                 ff->filename);
    return ff->id;
}

void fake_rest_script(fake_rest *f, const char *method, const char *path_prefix,
                      fake_rest_fault fault, uint32_t ms, unsigned count)
{
    pthread_mutex_lock(&f->mu);
    if (f->nscripts < FR_MAX_SCRIPTS) {
        fr_script *s = &f->scripts[f->nscripts++];
        snprintf(s->method, sizeof s->method, "%s", method ? method : "");
        snprintf(s->prefix, sizeof s->prefix, "%s", path_prefix ? path_prefix : "");
        s->fault = fault;
        s->ms = ms;
        s->count = count;
    }
    pthread_mutex_unlock(&f->mu);
}

void fake_rest_outage(fake_rest *f, const char *method, const char *path_prefix,
                      fake_rest_fault fault, uint32_t duration_ms)
{
    pthread_mutex_lock(&f->mu);
    if (f->nscripts < FR_MAX_SCRIPTS) {
        fr_script *s = &f->scripts[f->nscripts++];
        snprintf(s->method, sizeof s->method, "%s", method ? method : "");
        snprintf(s->prefix, sizeof s->prefix, "%s", path_prefix ? path_prefix : "");
        s->fault = fault;
        s->count = 0;
        s->until_ms = mono_ms() + duration_ms;
    }
    pthread_mutex_unlock(&f->mu);
}

static bool matches(const fake_rest_request *r, const fake_rest_filter *flt)
{
    if (!flt) return true;
    if (flt->method && strcmp(flt->method, r->method) != 0) return false;
    if (flt->path_prefix && strncmp(r->path, flt->path_prefix, strlen(flt->path_prefix)) != 0)
        return false;
    if (flt->status && flt->status != r->status) return false;
    return true;
}

static size_t count_locked(fake_rest *f, const fake_rest_filter *flt)
{
    size_t n = 0;
    for (size_t i = 0; i < f->nreqs; i++)
        if (matches(&f->reqs[i], flt)) n++;
    return n;
}

size_t fake_rest_count(fake_rest *f, const fake_rest_filter *flt)
{
    pthread_mutex_lock(&f->mu);
    size_t n = count_locked(f, flt);
    pthread_mutex_unlock(&f->mu);
    return n;
}

size_t fake_rest_wait(fake_rest *f, const fake_rest_filter *flt, size_t n, int64_t timeout_ms)
{
    struct timespec dl = util_deadline(CLOCK_MONOTONIC, (uint64_t)timeout_ms);
    pthread_mutex_lock(&f->mu);
    size_t c;
    while ((c = count_locked(f, flt)) < n)
        if (pthread_cond_timedwait(&f->cv, &f->mu, &dl) != 0) {
            c = count_locked(f, flt);
            break;
        }
    pthread_mutex_unlock(&f->mu);
    return c;
}

static void request_copy(fake_rest_request *dst, const fake_rest_request *src)
{
    *dst = *src;
    dst->path = util_strdup(src->path);
    dst->query = util_strdup(src->query);
    dst->authorization = util_strdup(src->authorization);
    dst->user_agent = util_strdup(src->user_agent);
    dst->content_type = util_strdup(src->content_type);
    dst->audit_reason = util_strdup(src->audit_reason);
    dst->body = xmalloc(src->body_len + 1);
    if (src->body_len) memcpy(dst->body, src->body, src->body_len);
    dst->body[src->body_len] = 0;
    dst->parts = src->nparts ? xmalloc(src->nparts * sizeof *dst->parts) : NULL;
    for (unsigned i = 0; i < src->nparts; i++) {
        const fake_rest_part *s = &src->parts[i];
        fake_rest_part *d = &dst->parts[i];
        d->name = util_strdup(s->name);
        d->filename = util_strdup(s->filename);
        d->content_type = util_strdup(s->content_type);
        d->len = s->len;
        d->data = xmalloc(s->len + 1);
        memcpy(d->data, s->data, s->len);
        d->data[s->len] = 0;
    }
}

size_t fake_rest_collect(fake_rest *f, const fake_rest_filter *flt, fake_rest_request **out)
{
    pthread_mutex_lock(&f->mu);
    size_t n = count_locked(f, flt), k = 0;
    fake_rest_request *v = n ? xmalloc(n * sizeof *v) : NULL;
    for (size_t i = 0; i < f->nreqs && k < n; i++)
        if (matches(&f->reqs[i], flt)) request_copy(&v[k++], &f->reqs[i]);
    pthread_mutex_unlock(&f->mu);
    *out = v;
    return k;
}

void fake_rest_requests_free(fake_rest_request *reqs, size_t n)
{
    for (size_t i = 0; i < n; i++)
        request_free_fields(&reqs[i]);
    free(reqs);
}

char *fake_rest_commands_json(fake_rest *f, uint64_t guild_id)
{
    char *s = NULL;
    pthread_mutex_lock(&f->mu);
    if (!guild_id) {
        s = util_strdup(f->commands_global);
    } else {
        for (fr_guild_cmds *g = f->commands_guild; g; g = g->next)
            if (g->guild_id == guild_id) s = util_strdup(g->json);
    }
    pthread_mutex_unlock(&f->mu);
    return s;
}

void fake_rest_stats_get(fake_rest *f, fake_rest_stats *out)
{
    pthread_mutex_lock(&f->mu);
    *out = f->st;
    pthread_mutex_unlock(&f->mu);
}
