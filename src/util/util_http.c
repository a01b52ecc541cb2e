/* The bounded blocking GET (see util_http.h). */
#include "util/util_http.h"

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/util_curl.h"

static size_t on_data(char *data, size_t size, size_t n, void *ctx)
{
    util_http_body *b = ctx;
    size_t add = size * n;
    if (b->len + add > b->max) {
        b->too_large = true;
        return 0; /* aborts the transfer */
    }
    if (b->len + add + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap < b->len + add + 1)
            cap *= 2;
        char *np = realloc(b->data, cap);
        if (!np) return 0;
        b->data = np;
        b->cap = cap;
    }
    memcpy(b->data + b->len, data, add);
    b->len += add;
    b->data[b->len] = '\0';
    return add;
}

void util_http_prepare(CURL *c, const char *url, util_http_body *body, long timeout_ms)
{
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_USERAGENT, UTIL_HTTP_USER_AGENT);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, body);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, timeout_ms);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)body->max);
}

static int on_progress(void *ud, curl_off_t a, curl_off_t b, curl_off_t c, curl_off_t d)
{
    (void)a, (void)b, (void)c, (void)d;
    util_http_cancel *k = ud;
    if (k->fn(k->ctx)) {
        k->fired = true;
        return 1; /* aborts the transfer (CURLE_ABORTED_BY_CALLBACK) */
    }
    return 0;
}

void util_http_set_cancel(CURL *c, util_http_cancel *k)
{
    if (!k || !k->fn) {
        curl_easy_setopt(c, CURLOPT_NOPROGRESS, 1L);
        return;
    }
    k->fired = false;
    curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, on_progress);
    curl_easy_setopt(c, CURLOPT_XFERINFODATA, k);
}

int util_http_get(const char *url, const util_http_opts *o, util_http_res *out)
{
    static const util_http_opts none = {0};
    if (!o) o = &none;
    memset(out, 0, sizeof *out);
    util_curl_init();
    CURL *c = curl_easy_init();
    if (!c) {
        snprintf(out->error, sizeof out->error, "cannot create a curl handle");
        return -1;
    }
    util_http_body body = {.max = o->max_bytes ? o->max_bytes : 1u << 20};
    util_http_cancel hook = {.fn = o->cancel, .ctx = o->cancel_ctx};
    struct curl_slist *h = NULL;
    char *auth = NULL;
    if (o->authorization) {
        size_t n = strlen(o->authorization) + 32;
        auth = malloc(n);
        if (!auth) abort();
        snprintf(auth, n, "Authorization: %s", o->authorization);
        h = curl_slist_append(h, auth);
    }
    util_http_prepare(c, url, &body, o->timeout_ms > 0 ? o->timeout_ms : 10000L);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    util_http_set_cancel(c, &hook);
    CURLcode rc = curl_easy_perform(c);
    out->cancelled = hook.fired;
    out->body = body.data;
    out->len = body.len;
    out->too_large = body.too_large;
    if (rc == CURLE_OK) {
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &out->status);
    } else {
        if (rc == CURLE_FILESIZE_EXCEEDED) out->too_large = true;
        snprintf(out->error, sizeof out->error, "%s",
                 out->too_large   ? "response too large"
                 : out->cancelled ? "cancelled"
                                  : curl_easy_strerror(rc));
        free(out->body);
        out->body = NULL;
        out->len = 0;
    }
    curl_slist_free_all(h);
    free(auth);
    curl_easy_cleanup(c);
    return rc == CURLE_OK ? 0 : -1;
}

void util_http_res_free(util_http_res *r)
{
    if (!r) return;
    free(r->body);
    r->body = NULL;
    r->len = 0;
}
