/* Blocking GET for the operator commands (see app_http.h). */
#include "app/app_http.h"
#include "util/util_curl.h"

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct sink {
    char *p;
    size_t len, cap, max;
    int too_large;
} sink;

static size_t on_data(char *data, size_t size, size_t n, void *ctx)
{
    sink *s = ctx;
    size_t add = size * n;
    if (s->len + add > s->max) {
        s->too_large = 1;
        return 0; /* aborts the transfer */
    }
    if (s->len + add + 1 > s->cap) {
        size_t cap = s->cap ? s->cap : 4096;
        while (cap < s->len + add + 1)
            cap *= 2;
        char *np = realloc(s->p, cap);
        if (!np) return 0;
        s->p = np;
        s->cap = cap;
    }
    memcpy(s->p + s->len, data, add);
    s->len += add;
    s->p[s->len] = 0;
    return add;
}

int apphttp_get(const char *url, const char *authorization, long timeout_ms, size_t max_bytes,
                apphttp_res *out)
{
    memset(out, 0, sizeof *out);
    util_curl_init();
    CURL *c = curl_easy_init();
    if (!c) {
        snprintf(out->error, sizeof out->error, "cannot create a curl handle");
        return -1;
    }
    sink s = {.max = max_bytes ? max_bytes : 1u << 20};
    struct curl_slist *h = NULL;
    char auth[600];
    if (authorization) {
        snprintf(auth, sizeof auth, "Authorization: %s", authorization);
        h = curl_slist_append(h, auth);
    }
    h = curl_slist_append(h, "User-Agent: DiscordBot (https://github.com/fluxbot, " FLUXBOT_VERSION
                             ") fluxbot-check");
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &s);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, timeout_ms > 0 ? timeout_ms : 10000L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    CURLcode rc = curl_easy_perform(c);
    if (rc == CURLE_OK) {
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &out->status);
        out->body = s.p;
        out->len = s.len;
    } else {
        snprintf(out->error, sizeof out->error, "%s",
                 s.too_large ? "response too large" : curl_easy_strerror(rc));
        free(s.p);
    }
    curl_slist_free_all(h);
    curl_easy_cleanup(c);
    return rc == CURLE_OK ? 0 : -1;
}

void apphttp_res_free(apphttp_res *r)
{
    if (!r) return;
    free(r->body);
    r->body = NULL;
}
