/* Blocking, bounded libcurl calls for the runner's workers (see comfy_http.h); every transfer is
 * set up by util_http_prepare (capped body, User-Agent, protocols), as util_http_get's are. */
#include "actors/comfy_http.h"
#include "util/util_curl.h"
#include "util/util_assert.h"
#include "util/util_http.h"
#include "fluxbot/runtime.h"

#include <curl/curl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct comfy_http {
    CURL *curl;
    long connect_ms;  /* 0: 5000 */
    CURLcode last_rc; /* of the latest transfer, to say why a download failed */
    util_http_cancel cancel;
#ifdef FB_DEBUG
    util_owner user; /* the thread inside a transfer (one at a time, see comfy_http.h) */
#endif
};

void comfy_http_global_init(void)
{
    util_curl_init();
}

comfy_http *comfy_http_new(void)
{
    comfy_http_global_init();
    comfy_http *h = calloc(1, sizeof *h);
    if (!h) return NULL;
    h->curl = curl_easy_init();
    if (!h->curl) {
        free(h);
        return NULL;
    }
    return h;
}

void comfy_http_set_connect_timeout(comfy_http *h, long ms)
{
    if (h) h->connect_ms = ms;
}

void comfy_http_set_cancel(comfy_http *h, bool (*cancel)(void *ctx), void *ctx)
{
    if (!h) return;
    h->cancel.fn = cancel;
    h->cancel.ctx = ctx;
}

void comfy_http_free(comfy_http *h)
{
    if (!h) return;
    curl_easy_cleanup(h->curl);
    free(h);
}

void comfy_http_res_free(comfy_http_res *r)
{
    if (!r) return;
    free(r->body);
    memset(r, 0, sizeof *r);
}

static int perform_opt(comfy_http *h, const char *url, size_t max, long timeout_ms,
                       struct curl_slist *headers, bool follow, comfy_http_res *out)
{
    FB_OWNER_ENTER(&h->user);
    memset(out, 0, sizeof *out);
    util_http_body body = {.max = max};
    CURL *c = h->curl;
    util_http_prepare(c, url, &body, timeout_ms);
    long connect_ms = h->connect_ms > 0 ? h->connect_ms : 5000;
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS,
                     timeout_ms < connect_ms ? timeout_ms : connect_ms);
    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, follow ? 1L : 0L);
    curl_easy_setopt(c, CURLOPT_MAXREDIRS, 3L);
    curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers);
    char errbuf[CURL_ERROR_SIZE] = "";
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
    util_http_set_cancel(c, &h->cancel);
    CURLcode rc = curl_easy_perform(c);
    h->last_rc = rc;
    out->cancelled = h->cancel.fired;
    out->body = (uint8_t *)body.data;
    out->len = body.len;
    out->too_large = body.too_large;
    long status = 0;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    char *ct = NULL;
    curl_easy_getinfo(c, CURLINFO_CONTENT_TYPE, &ct);
    if (ct) snprintf(out->content_type, sizeof out->content_type, "%s", ct);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, NULL);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, NULL);
    FB_OWNER_LEAVE(&h->user);
    if (rc == CURLE_FILESIZE_EXCEEDED) out->too_large = true;
    if (!out->body) {
        out->body = calloc(1, 1);
        if (!out->body) abort();
    }
    if (rc != CURLE_OK) {
        snprintf(out->error, sizeof out->error, "%.190s",
                 out->too_large   ? "response larger than allowed"
                 : out->cancelled ? "cancelled"
                                  : (errbuf[0] ? errbuf : curl_easy_strerror(rc)));
        out->status = (int)status;
        return -1;
    }
    out->status = (int)status;
    return 0;
}

static int perform(comfy_http *h, const char *url, size_t max, long timeout_ms,
                   struct curl_slist *headers, comfy_http_res *out)
{
    return perform_opt(h, url, max, timeout_ms, headers, true, out);
}

static dlpol_fail policy_fail(dlpol_verdict v)
{
    return v == DLPOL_SCHEME    ? DLPOL_FAIL_SCHEME
           : v == DLPOL_BAD_URL ? DLPOL_FAIL_BAD_URL
                                : DLPOL_FAIL_HOST_NOT_ALLOWED;
}

static dlpol_fail curl_fail(CURLcode rc, bool too_large)
{
    if (too_large || rc == CURLE_FILESIZE_EXCEEDED) return DLPOL_FAIL_TOO_LARGE;
    switch (rc) {
    case CURLE_OPERATION_TIMEDOUT:
        return DLPOL_FAIL_TIMEOUT;
    case CURLE_UNSUPPORTED_PROTOCOL:
        return DLPOL_FAIL_SCHEME;
    case CURLE_URL_MALFORMAT:
        return DLPOL_FAIL_BAD_URL;
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
    case CURLE_COULDNT_CONNECT:
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_PEER_FAILED_VERIFICATION:
        return DLPOL_FAIL_CONNECT;
    default:
        return DLPOL_FAIL_NETWORK;
    }
}

int comfy_http_download(comfy_http *h, const char *url, const dlpol *policy, size_t max_bytes,
                        long timeout_ms, comfy_http_res *out, dlpol_fail *fail)
{
    memset(out, 0, sizeof *out);
    *fail = DLPOL_FAIL_NONE;
    char cur[4096];
    snprintf(cur, sizeof cur, "%s", url ? url : "");
    uint64_t deadline = rt_now_ms() + (uint64_t)(timeout_ms > 0 ? timeout_ms : 1);
    for (unsigned hop = 0;; hop++) {
        /* Every hop is checked before a connection is made: a redirect to a host that is not
         * allowed is never contacted, so no request (and no credential) ever reaches it. */
        dlpol_verdict v = dlpol_check(policy, cur);
        if (v != DLPOL_OK) {
            comfy_http_res_free(out);
            out->body = calloc(1, 1);
            if (!out->body) abort();
            *fail = policy_fail(v);
            snprintf(out->error, sizeof out->error, "%s", dlpol_fail_name(*fail));
            return -1;
        }
        uint64_t now = rt_now_ms();
        if (now >= deadline) {
            *fail = DLPOL_FAIL_TIMEOUT;
            snprintf(out->error, sizeof out->error, "%s", dlpol_fail_name(*fail));
            return -1;
        }
        comfy_http_res_free(out);
        curl_easy_reset(h->curl);
        curl_easy_setopt(h->curl, CURLOPT_HTTPGET, 1L);
        /* redirects are followed here, hop by hop, never by curl */
        int rc = perform_opt(h, cur, max_bytes, (long)(deadline - now), NULL, false, out);
        if (rc != 0) {
            *fail = curl_fail(h->last_rc, out->too_large);
            return -1;
        }
        int st = out->status;
        if (st == 301 || st == 302 || st == 303 || st == 307 || st == 308) {
            char *next = NULL;
            curl_easy_getinfo(h->curl, CURLINFO_REDIRECT_URL, &next);
            if (!next || !*next || strlen(next) >= sizeof cur) {
                *fail = DLPOL_FAIL_BAD_URL;
                return -1;
            }
            if (hop >= DLPOL_MAX_HOPS) {
                *fail = DLPOL_FAIL_TOO_MANY_REDIRECTS;
                snprintf(out->error, sizeof out->error, "%s", dlpol_fail_name(*fail));
                return -1;
            }
            snprintf(cur, sizeof cur, "%s", next);
            continue;
        }
        if (st != 200) {
            *fail = DLPOL_FAIL_HTTP_STATUS;
            return -1;
        }
        return 0;
    }
}

int comfy_http_get(comfy_http *h, const char *url, size_t max_bytes, long timeout_ms,
                   comfy_http_res *out)
{
    curl_easy_reset(h->curl);
    curl_easy_setopt(h->curl, CURLOPT_HTTPGET, 1L);
    return perform(h, url, max_bytes, timeout_ms, NULL, out);
}

int comfy_http_post_json(comfy_http *h, const char *url, const char *json, long timeout_ms,
                         comfy_http_res *out)
{
    curl_easy_reset(h->curl);
    struct curl_slist *hd = curl_slist_append(NULL, "Content-Type: application/json");
    hd = curl_slist_append(hd, "Expect:");
    curl_easy_setopt(h->curl, CURLOPT_POST, 1L);
    curl_easy_setopt(h->curl, CURLOPT_POSTFIELDS, json ? json : "");
    curl_easy_setopt(h->curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)(json ? strlen(json) : 0));
    int rc = perform(h, url, 64u << 20, timeout_ms, hd, out);
    curl_slist_free_all(hd);
    return rc;
}

int comfy_http_upload(comfy_http *h, const char *base_url, const char *filename, const char *mime,
                      const uint8_t *data, size_t len, long timeout_ms, comfy_http_res *out)
{
    return comfy_http_upload_into(h, base_url, NULL, false, filename, mime, data, len, timeout_ms,
                                  out);
}

int comfy_http_upload_into(comfy_http *h, const char *base_url, const char *subfolder,
                           bool overwrite, const char *filename, const char *mime,
                           const uint8_t *data, size_t len, long timeout_ms, comfy_http_res *out)
{
    curl_easy_reset(h->curl);
    char url[1024];
    snprintf(url, sizeof url, "%s/upload/image", base_url);
    curl_mime *form = curl_mime_init(h->curl);
    curl_mimepart *p = curl_mime_addpart(form);
    curl_mime_name(p, "image");
    curl_mime_filename(p, filename);
    curl_mime_type(p, mime);
    curl_mime_data(p, (const char *)data, len);
    p = curl_mime_addpart(form);
    curl_mime_name(p, "overwrite");
    curl_mime_data(p, overwrite ? "true" : "false", CURL_ZERO_TERMINATED);
    if (subfolder && *subfolder) {
        p = curl_mime_addpart(form);
        curl_mime_name(p, "subfolder");
        curl_mime_data(p, subfolder, CURL_ZERO_TERMINATED);
    }
    struct curl_slist *hd = curl_slist_append(NULL, "Expect:");
    curl_easy_setopt(h->curl, CURLOPT_MIMEPOST, form);
    int rc = perform(h, url, 1u << 20, timeout_ms, hd, out);
    curl_easy_setopt(h->curl, CURLOPT_MIMEPOST, NULL);
    curl_slist_free_all(hd);
    curl_mime_free(form);
    return rc;
}
