/*
 * The prompt-enhancement actor (see llm_enhance.h): a thin curl-multi loop over llm_chat's
 * request and answer, the content filter, and the answer to the coordinator.
 */
#include "actors/llm_enhance.h"

#include <curl/curl.h>
#include <inttypes.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "comfy/cjob.h"
#include "fluxbot/log.h"
#include "llm/llm_chat.h"
#include "moderation/mod_filter.h"
#include "moderation/mod_state.h"
#include "util/util_curl.h"
#include "util/util_str.h"
#include "util/util_url.h"

#define LOGN LLM_ENHANCE_ACTOR_NAME

/* One request in flight: the coordinator's request (answered when the transfer ends), its
 * transfer, and the answer read so far (at most LLM_REPLY_MAX bytes: a larger one is cut off
 * and refused, so a hostile endpoint cannot make the bot buffer without bound). */
typedef struct pending {
    llm_enhance_req_msg *msg;
    CURL *easy;
    struct curl_slist *headers;
    char *body; /* the request body (curl reads it during the transfer) */
    char *buf;
    size_t len;
    bool too_large;
    char errbuf[CURL_ERROR_SIZE];
    uint64_t started_ms;
    struct pending *next;
} pending;

struct llm_enhance {
    llm_enhance_config cfg;
    char endpoint[FB_CONFIG_STR + 32];
    rt_actor *self;
    CURLM *multi; /* created before the actor: the wake hook may run as soon as it exists */
    pending *active;
    unsigned nactive;
    bool stopping;
    _Atomic uint64_t jobs, requests, enhanced, timeouts, errors, filtered, busy, dropped, in_flight;
};

void llm_enhance_config_from(llm_enhance_config *out, const fb_config *cfg)
{
    memset(out, 0, sizeof *out);
    snprintf(out->url, sizeof out->url, "%s", cfg->llm_url);
    snprintf(out->model, sizeof out->model, "%s", cfg->llm_model);
    snprintf(out->key, sizeof out->key, "%s", cfg->llm_key);
    out->timeout_ms = (uint64_t)cfg->llm_timeout_ms;
    out->max_inflight = (unsigned)cfg->llm_max_inflight;
    out->lane_capacity = (unsigned)cfg->mailbox_capacity;
}

/* ---- messages ------------------------------------------------------------------------------- */

static void req_dtor(rt_msg *m)
{
    free(((llm_enhance_req_msg *)m)->prompt);
}

llm_enhance_req_msg *llm_enhance_req_msg_new(uint64_t job_id, uint64_t interaction_id,
                                             unsigned creativity, const char *prompt,
                                             rt_actor *reply_to)
{
    char *copy = util_strdup(prompt ? prompt : "");
    if (!copy) return NULL;
    llm_enhance_req_msg *m = RT_MSG_NEW(llm_enhance_req_msg, MSG_LLM_ENHANCE_REQ, req_dtor);
    if (!m) {
        free(copy);
        return NULL;
    }
    m->job_id = job_id;
    m->interaction_id = interaction_id;
    m->creativity = creativity;
    m->prompt = copy;
    m->reply_to = reply_to;
    return m;
}

llm_enhance_drop_msg *llm_enhance_drop_msg_new(uint64_t job_id)
{
    llm_enhance_drop_msg *m = RT_MSG_NEW(llm_enhance_drop_msg, MSG_LLM_ENHANCE_DROP, NULL);
    if (m) m->job_id = job_id;
    return m;
}

static void res_dtor(rt_msg *m)
{
    free(((llm_enhance_res_msg *)m)->text);
}

/* ---- answering ------------------------------------------------------------------------------ */

static void count_outcome(llm_enhance *l, cjob_enhance e)
{
    switch (e) {
    case CJOB_ENH_OK:
        atomic_fetch_add(&l->enhanced, 1);
        break;
    case CJOB_ENH_TIMEOUT:
        atomic_fetch_add(&l->timeouts, 1);
        break;
    case CJOB_ENH_FILTERED:
        atomic_fetch_add(&l->filtered, 1);
        break;
    case CJOB_ENH_BUSY:
        atomic_fetch_add(&l->busy, 1);
        break;
    default:
        atomic_fetch_add(&l->errors, 1);
        break;
    }
}

/* Answers the request q (freed here): the model's text when verdict is CJOB_ENH_OK, else why
 * the prompt stays as typed. A coordinator that has stopped cannot take it: it already told
 * that job's user the job was not started, so the answer is dropped (logged). */
static void answer(llm_enhance *l, llm_enhance_req_msg *q, cjob_enhance verdict, const char *text)
{
    count_outcome(l, verdict);
    llm_enhance_res_msg *r = RT_MSG_NEW(llm_enhance_res_msg, MSG_LLM_ENHANCE_RES, res_dtor);
    if (!r) abort();
    r->job_id = q->job_id;
    r->verdict = (int)verdict;
    if (verdict == CJOB_ENH_OK) {
        r->text = util_strdup(text ? text : "");
        if (!r->text) abort();
    }
    if (!q->reply_to || rt_send_spill(q->reply_to, &r->hdr) != 0) {
        LOG_DEBUG(LOGN, "interaction %" PRIu64 ": the runner stopped; answer dropped",
                  q->interaction_id);
        rt_msg_free(&r->hdr);
    }
    rt_msg_free(&q->hdr);
}

/* ---- transfers ------------------------------------------------------------------------------- */

static size_t on_data(char *p, size_t size, size_t n, void *ctx)
{
    pending *q = ctx;
    size_t bytes = size * n;
    if (q->len + bytes > LLM_REPLY_MAX) {
        q->too_large = true;
        return 0; /* curl aborts the transfer (CURLE_WRITE_ERROR) */
    }
    char *grown = realloc(q->buf, q->len + bytes + 1);
    if (!grown) return 0;
    q->buf = grown;
    memcpy(q->buf + q->len, p, bytes);
    q->len += bytes;
    q->buf[q->len] = '\0';
    return bytes;
}

static void pending_free(pending *q)
{
    if (q->easy) curl_easy_cleanup(q->easy);
    curl_slist_free_all(q->headers);
    free(q->body);
    free(q->buf);
    free(q);
}

/* Starts the request; false when it could not be started (answered CJOB_ENH_ERROR). */
static bool start_request(llm_enhance *l, llm_enhance_req_msg *m)
{
    char err[160];
    char *body = llm_chat_request_json(l->cfg.model, m->prompt, m->creativity, err, sizeof err);
    if (!body) {
        LOG_WARN(LOGN, "job of interaction %" PRIu64 ": no request: %s", m->interaction_id, err);
        return false;
    }
    pending *q = calloc(1, sizeof *q);
    if (!q) abort();
    q->msg = m;
    q->body = body;
    q->easy = curl_easy_init();
    if (!q->easy) {
        q->msg = NULL;
        pending_free(q);
        return false;
    }
    q->headers = curl_slist_append(q->headers, "Content-Type: application/json");
    q->headers = curl_slist_append(q->headers, "Accept: application/json");
    if (l->cfg.key[0]) {
        /* the key exists only in this header: curl's verbose mode, which would print it, is
         * never turned on */
        char auth[FB_CONFIG_STR + 32];
        snprintf(auth, sizeof auth, "Authorization: Bearer %s", l->cfg.key);
        q->headers = curl_slist_append(q->headers, auth);
        memset(auth, 0, sizeof auth);
    }
    CURL *e = q->easy;
    curl_easy_setopt(e, CURLOPT_URL, l->endpoint);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, q->headers);
    curl_easy_setopt(e, CURLOPT_POSTFIELDS, q->body);
    curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE, (long)strlen(q->body));
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)l->cfg.timeout_ms);
    curl_easy_setopt(e, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)LLM_REPLY_MAX);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, q);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, q->errbuf);
    curl_easy_setopt(e, CURLOPT_PRIVATE, q);
    curl_easy_setopt(e, CURLOPT_USERAGENT, "fluxbot");
    if (curl_multi_add_handle(l->multi, e) != CURLM_OK) {
        q->msg = NULL;
        pending_free(q);
        return false;
    }
    q->started_ms = rt_now_ms();
    q->next = l->active;
    l->active = q;
    l->nactive++;
    atomic_fetch_add(&l->requests, 1);
    atomic_store(&l->in_flight, l->nactive);
    return true;
}

static void unlink_pending(llm_enhance *l, pending *q)
{
    for (pending **pp = &l->active; *pp; pp = &(*pp)->next) {
        if (*pp == q) {
            *pp = q->next;
            l->nactive--;
            break;
        }
    }
    curl_multi_remove_handle(l->multi, q->easy);
    atomic_store(&l->in_flight, l->nactive);
}

/* A transfer ended: read the answer, check it, and answer the coordinator either way. */
static void finish(llm_enhance *l, pending *q, CURLcode rc)
{
    llm_enhance_req_msg *m = q->msg;
    uint64_t ix = m->interaction_id;
    uint64_t took = rt_now_ms() - q->started_ms;
    if (rc == CURLE_OPERATION_TIMEDOUT) {
        LOG_WARN(LOGN,
                 "interaction %" PRIu64 ": no answer within %" PRIu64 " ms; prompt used as typed",
                 ix, l->cfg.timeout_ms);
        answer(l, m, CJOB_ENH_TIMEOUT, NULL);
        return;
    }
    if (rc != CURLE_OK) {
        LOG_WARN(LOGN, "interaction %" PRIu64 ": request failed after %" PRIu64 " ms: %s", ix, took,
                 q->too_large   ? "the answer is larger than 256 KiB"
                 : q->errbuf[0] ? q->errbuf
                                : curl_easy_strerror(rc));
        answer(l, m, CJOB_ENH_ERROR, NULL);
        return;
    }
    long status = 0;
    curl_easy_getinfo(q->easy, CURLINFO_RESPONSE_CODE, &status);
    char text[4 * LLM_PROMPT_MAX + 1], why[200];
    llm_result r = llm_chat_parse_reply(status, q->buf, q->len, text, sizeof text, why, sizeof why);
    if (r != LLM_OK) {
        LOG_WARN(LOGN, "interaction %" PRIu64 ": unusable answer after %" PRIu64 " ms: %s", ix,
                 took, why);
        answer(l, m, CJOB_ENH_ERROR, NULL);
        return;
    }
    if (l->cfg.mod) {
        mod_hit hit;
        memset(&hit, 0, sizeof hit);
        mod_check_result c = mod_state_check(l->cfg.mod, text, strlen(text), &hit);
        if (c != MOD_CHECK_OK) {
            /* no violation: the model wrote it; the text itself is not logged either */
            LOG_INFO(LOGN,
                     "interaction %" PRIu64 ": the enhanced prompt hit the content filter (%s); "
                     "prompt used as typed",
                     ix, mod_kind_id(hit.kind));
            answer(l, m, CJOB_ENH_FILTERED, NULL);
            return;
        }
    }
    LOG_DEBUG(LOGN, "interaction %" PRIu64 ": prompt enhanced in %" PRIu64 " ms", ix, took);
    answer(l, m, CJOB_ENH_OK, text);
}

static void reap(llm_enhance *l)
{
    CURLMsg *cm;
    int left;
    while ((cm = curl_multi_info_read(l->multi, &left))) {
        if (cm->msg != CURLMSG_DONE) continue;
        pending *q = NULL;
        curl_easy_getinfo(cm->easy_handle, CURLINFO_PRIVATE, (char **)&q);
        CURLcode rc = cm->data.result;
        if (!q) continue;
        unlink_pending(l, q);
        finish(l, q, rc);
        q->msg = NULL;
        pending_free(q);
    }
}

/* A stop: every request still running is abandoned and answered CJOB_ENH_BUSY. */
static void abandon_all(llm_enhance *l)
{
    while (l->active) {
        pending *q = l->active;
        unlink_pending(l, q);
        answer(l, q->msg, CJOB_ENH_BUSY, NULL);
        q->msg = NULL;
        pending_free(q);
    }
}

/* The coordinator cancelled the job: its transfer is cut (freeing its llm_max_inflight slot)
 * and nothing is answered. A drop for a request already answered finds nothing: fine. */
static void drop(llm_enhance *l, uint64_t job_id)
{
    for (pending *q = l->active; q; q = q->next) {
        if (q->msg->job_id != job_id) continue;
        LOG_DEBUG(LOGN, "interaction %" PRIu64 ": cancelled while the model worked",
                  q->msg->interaction_id);
        unlink_pending(l, q);
        rt_msg_free(&q->msg->hdr);
        q->msg = NULL;
        pending_free(q);
        atomic_fetch_add(&l->dropped, 1);
        return;
    }
}

/* ---- the loop -------------------------------------------------------------------------------- */

static void on_message(rt_actor *self, void *state, rt_msg *msg)
{
    (void)self;
    llm_enhance *l = state;
    if (msg->type == MSG_LLM_ENHANCE_DROP) {
        drop(l, ((llm_enhance_drop_msg *)msg)->job_id);
        rt_msg_free(msg);
        return;
    }
    if (msg->type != MSG_LLM_ENHANCE_REQ) {
        rt_msg_free(msg);
        return;
    }
    llm_enhance_req_msg *m = (llm_enhance_req_msg *)msg;
    atomic_fetch_add(&l->jobs, 1);
    if (!m->prompt[0] || m->creativity == 0) {
        answer(l, m, CJOB_ENH_ERROR, NULL); /* nothing to enhance: the coordinator checks first */
        return;
    }
    if (l->stopping || l->nactive >= l->cfg.max_inflight) {
        LOG_INFO(LOGN, "interaction %" PRIu64 ": %s; prompt used as typed", m->interaction_id,
                 l->stopping ? "stopping" : "too many enhancements at once (llm_max_inflight)");
        answer(l, m, CJOB_ENH_BUSY, NULL);
        return;
    }
    if (!start_request(l, m)) answer(l, m, CJOB_ENH_ERROR, NULL);
}

static void loop(rt_actor *self, void *state, unsigned index)
{
    (void)index;
    llm_enhance *l = state;
    while (!rt_actor_should_exit(self)) {
        rt_actor_drain(self, on_message, 0);
        if (rt_actor_stop_requested(self) && !l->stopping) {
            l->stopping = true;
            abandon_all(l);
            continue;
        }
        int running = 0;
        curl_multi_perform(l->multi, &running);
        reap(l);
        /* at most a second asleep: a stop request is noticed by the next turn */
        curl_multi_poll(l->multi, NULL, 0, 1000, NULL);
    }
    abandon_all(l);
}

static void wake(void *ctx)
{
    llm_enhance *l = ctx;
    curl_multi_wakeup(l->multi);
}

/* ---- lifetime -------------------------------------------------------------------------------- */

llm_enhance *llm_enhance_new(rt_system *sys, const llm_enhance_config *cfg, char *err,
                             size_t errlen)
{
    if (!cfg->url[0] || !util_url_is_http(cfg->url) || !util_url_clean(cfg->url)) {
        snprintf(err, errlen, "llm: llm_url must be an http:// or https:// URL");
        return NULL;
    }
    util_curl_init();
    llm_enhance *l = calloc(1, sizeof *l);
    if (!l) abort();
    l->cfg = *cfg;
    if (!l->cfg.timeout_ms) l->cfg.timeout_ms = 15000;
    if (!l->cfg.max_inflight) l->cfg.max_inflight = 8;
    size_t ul = strlen(l->cfg.url);
    while (ul && l->cfg.url[ul - 1] == '/')
        l->cfg.url[--ul] = '\0';
    snprintf(l->endpoint, sizeof l->endpoint, "%s/chat/completions", l->cfg.url);
    l->multi = curl_multi_init();
    if (!l->multi) {
        snprintf(err, errlen, "llm: curl_multi_init failed");
        free(l);
        return NULL;
    }
    curl_multi_setopt(l->multi, CURLMOPT_MAX_TOTAL_CONNECTIONS, (long)l->cfg.max_inflight);
    rt_actor_spec spec = {.name = LLM_ENHANCE_ACTOR_NAME,
                          .threads = 1,
                          .lane_capacity = cfg->lane_capacity ? cfg->lane_capacity : 1024,
                          .state = l,
                          .loop = loop,
                          .wake = wake,
                          .wake_ctx = l};
    l->self = rt_actor_new(sys, &spec);
    if (!l->self) {
        snprintf(err, errlen, "llm: cannot create the actor");
        curl_multi_cleanup(l->multi);
        free(l);
        return NULL;
    }
    return l;
}

rt_actor *llm_enhance_actor(llm_enhance *l)
{
    return l ? l->self : NULL;
}

void llm_enhance_counters_get(llm_enhance *l, llm_enhance_counters *out)
{
    memset(out, 0, sizeof *out);
    if (!l) return;
    out->jobs = atomic_load(&l->jobs);
    out->requests = atomic_load(&l->requests);
    out->enhanced = atomic_load(&l->enhanced);
    out->timeouts = atomic_load(&l->timeouts);
    out->errors = atomic_load(&l->errors);
    out->filtered = atomic_load(&l->filtered);
    out->busy = atomic_load(&l->busy);
    out->dropped = atomic_load(&l->dropped);
    out->in_flight = atomic_load(&l->in_flight);
}

void llm_enhance_free(llm_enhance *l)
{
    if (!l) return;
    /* the loop abandoned its requests before it returned; nothing is left but the handle */
    curl_multi_cleanup(l->multi);
    memset(l->cfg.key, 0, sizeof l->cfg.key);
    free(l);
}
