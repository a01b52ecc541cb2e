/* The fake Discord REST server, driven by plain libcurl over loopback: routes, Discord's error
 * codes, the interaction callback deadline and double-ack rule, rate-limit headers and 429s,
 * scripted faults, multipart bodies stored byte for byte, Expect: 100-continue, and the
 * recorder's wait API. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <cmocka.h>

#include <cjson/cJSON.h>
#include <curl/curl.h>

#include "discord/cmd.h"
#include "fakes/fake_rest.h"
#include "util/util_time.h"

#define TOKEN "test-token.abc"

typedef struct resp {
    long status;
    CURLcode rc;
    char *body;
    size_t len;
    char headers[4096];
    size_t hlen;
    double seconds;
} resp;

static size_t on_body(char *p, size_t sz, size_t n, void *ud)
{
    resp *r = ud;
    char *nb = realloc(r->body, r->len + sz * n + 1);
    if (!nb) return 0;
    r->body = nb;
    memcpy(r->body + r->len, p, sz * n);
    r->len += sz * n;
    r->body[r->len] = 0;
    return sz * n;
}

static size_t on_header(char *p, size_t sz, size_t n, void *ud)
{
    resp *r = ud;
    size_t k = sz * n;
    if (r->hlen + k < sizeof r->headers) {
        memcpy(r->headers + r->hlen, p, k);
        r->hlen += k;
        r->headers[r->hlen] = 0;
    }
    return k;
}

static const char *header(resp *r, const char *name, char *out, size_t cap)
{
    size_t nl = strlen(name);
    for (const char *l = r->headers; l && *l;) {
        if (strncasecmp(l, name, nl) == 0 && l[nl] == ':') {
            const char *v = l + nl + 1;
            while (*v == ' ')
                v++;
            size_t k = strcspn(v, "\r\n");
            snprintf(out, cap, "%.*s", (int)k, v);
            return out;
        }
        const char *nx = strchr(l, '\n');
        l = nx ? nx + 1 : NULL;
    }
    return NULL;
}

static void resp_free(resp *r)
{
    free(r->body);
}

/* One request. body may be NULL; mime overrides body. */
static resp req(fake_rest *f, const char *method, const char *path, const char *auth,
                const char *json, curl_mime *mime)
{
    resp r = {0};
    CURL *c = curl_easy_init();
    char url[512], authh[300];
    snprintf(url, sizeof url, "%s%s", fake_rest_base_url(f), path);
    struct curl_slist *h = NULL;
    if (auth) {
        snprintf(authh, sizeof authh, "Authorization: %s", auth);
        h = curl_slist_append(h, authh);
    }
    if (json) h = curl_slist_append(h, "Content-Type: application/json");
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &r);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, &r);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 10000L);
    if (mime)
        curl_easy_setopt(c, CURLOPT_MIMEPOST, mime);
    else if (json)
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, json);
    r.rc = curl_easy_perform(c);
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r.status);
    curl_easy_getinfo(c, CURLINFO_TOTAL_TIME, &r.seconds);
    curl_easy_cleanup(c);
    curl_slist_free_all(h);
    return r;
}

static int json_code(const resp *r)
{
    cJSON *j = cJSON_Parse(r->body ? r->body : "");
    const cJSON *c = cJSON_GetObjectItem(j, "code");
    int v = cJSON_IsNumber(c) ? (int)c->valuedouble : -1;
    cJSON_Delete(j);
    return v;
}

static fake_rest *start(uint32_t deadline_ms, bool enforce)
{
    fake_rest_config cfg = {.token = TOKEN,
                            .application_id = 4242,
                            .gateway_url = "ws://127.0.0.1:9",
                            .callback_deadline_ms = deadline_ms,
                            .enforce_limits = enforce};
    fake_rest *f = fake_rest_start(&cfg);
    assert_non_null(f);
    return f;
}

static void test_bot_routes_and_auth(void **state)
{
    (void)state;
    fake_rest *f = start(0, false);
    resp r = req(f, "GET", "/gateway/bot", "Bot " TOKEN, NULL, NULL);
    assert_int_equal(r.status, 200);
    cJSON *j = cJSON_Parse(r.body);
    assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(j, "url")), "ws://127.0.0.1:9");
    assert_int_equal(
        (int)cJSON_GetObjectItem(cJSON_GetObjectItem(j, "session_start_limit"), "max_concurrency")
            ->valuedouble,
        1);
    cJSON_Delete(j);
    char v[128];
    assert_non_null(header(&r, "x-ratelimit-bucket", v, sizeof v));
    assert_non_null(header(&r, "x-ratelimit-reset-after", v, sizeof v));
    resp_free(&r);
    fake_rest_set_gateway_url(f, "ws://127.0.0.1:10");
    r = req(f, "GET", "/gateway/bot", "Bot " TOKEN, NULL, NULL);
    assert_non_null(strstr(r.body, "127.0.0.1:10"));
    resp_free(&r);

    r = req(f, "GET", "/gateway/bot", NULL, NULL, NULL);
    assert_int_equal(r.status, 401);
    resp_free(&r);
    r = req(f, "GET", "/users/@me", "Bot wrong", NULL, NULL);
    assert_int_equal(r.status, 401);
    resp_free(&r);
    r = req(f, "GET", "/users/@me", "Bot " TOKEN, NULL, NULL);
    assert_int_equal(r.status, 200);
    assert_non_null(strstr(r.body, "\"id\":\"4242\""));
    resp_free(&r);
    r = req(f, "GET", "/nowhere", "Bot " TOKEN, NULL, NULL);
    assert_int_equal(r.status, 404);
    resp_free(&r);

    /* Commands: the real table is accepted and stored; invalid ones are refused like Discord. */
    const char *labels[] = {"1:1", "16:9"};
    char err[200];
    char *cmds = cmd_table_json(labels, 2, err, sizeof err);
    r = req(f, "PUT", "/applications/4242/commands", "Bot " TOKEN, cmds, NULL);
    assert_int_equal(r.status, 200);
    j = cJSON_Parse(r.body);
    /* the whole table comes back (declared commands aside), one object with an id each */
    cJSON *sent = cJSON_Parse(cmds);
    assert_true(cJSON_GetArraySize(sent) >= 9);
    assert_int_equal(cJSON_GetArraySize(j), cJSON_GetArraySize(sent));
    cJSON_Delete(sent);
    assert_non_null(cJSON_GetObjectItem(cJSON_GetArrayItem(j, 0), "id"));
    cJSON_Delete(j);
    resp_free(&r);
    char *stored = fake_rest_commands_json(f, 0);
    assert_string_equal(stored, cmds);
    free(stored);
    assert_null(fake_rest_commands_json(f, 77));
    r = req(f, "PUT", "/applications/4242/guilds/77/commands", "Bot " TOKEN, cmds, NULL);
    assert_int_equal(r.status, 200);
    resp_free(&r);
    stored = fake_rest_commands_json(f, 77);
    assert_non_null(stored);
    free(stored);
    free(cmds);
    r = req(f, "PUT", "/applications/4242/commands", "Bot " TOKEN,
            "[{\"name\":\"Bad Name\",\"description\":\"x\"}]", NULL);
    assert_int_equal(r.status, 400);
    assert_int_equal(json_code(&r), 50035);
    resp_free(&r);
    r = req(f, "PUT", "/applications/1/commands", "Bot " TOKEN, "[]", NULL);
    assert_int_equal(r.status, 403);
    resp_free(&r);
    fake_rest_stop(f);
}

static void test_callbacks(void **state)
{
    (void)state;
    /* 1.5 s: six sanitized curl requests must fit before it on a loaded 2-core machine. */
    fake_rest *f = start(1500, false);
    fake_rest_register_interaction(f, 1001, "tokA", 55, false);
    fake_rest_register_interaction(f, 1002, "tokB", 55, false);

    resp r = req(f, "POST", "/interactions/1001/tokA/callback", NULL, "{\"type\":5}", NULL);
    assert_int_equal(r.status, 204);
    assert_int_equal(r.len, 0);
    resp_free(&r);
    r = req(f, "POST", "/interactions/1001/tokA/callback", NULL, "{\"type\":5}", NULL);
    assert_int_equal(r.status, 400);
    assert_int_equal(json_code(&r), 40060);
    resp_free(&r);
    r = req(f, "POST", "/interactions/999/tokA/callback", NULL, "{\"type\":5}", NULL);
    assert_int_equal(r.status, 404);
    assert_int_equal(json_code(&r), 10062);
    resp_free(&r);
    r = req(f, "POST", "/interactions/1002/wrongtoken/callback", NULL, "{\"type\":5}", NULL);
    assert_int_equal(r.status, 404);
    resp_free(&r);
    /* Bad bodies are 400 and do not consume the ack. */
    r = req(f, "POST", "/interactions/1002/tokB/callback", NULL, "{\"type\":6}", NULL);
    assert_int_equal(r.status, 400); /* type 6 is for components only */
    resp_free(&r);
    r = req(f, "POST", "/interactions/1002/tokB/callback", NULL, "{not json", NULL);
    assert_int_equal(r.status, 400);
    resp_free(&r);

    fake_rest_ix_state st;
    assert_true(fake_rest_interaction_state(f, 1001, &st));
    assert_int_equal(st.ack_type, 5);
    assert_int_equal(st.callbacks, 2);
    assert_true(st.ack_ms >= 0 && st.ack_ms < 1500);
    assert_false(st.late);
    free(st.original_json);
    assert_false(fake_rest_interaction_state(f, 5, &st));

    /* Deadline: after it, the interaction is unknown. */
    util_sleep_ms(1600);
    r = req(f, "POST", "/interactions/1002/tokB/callback", NULL,
            "{\"type\":4,\"data\":{\"content\":\"hi\"}}", NULL);
    assert_int_equal(r.status, 404);
    assert_int_equal(json_code(&r), 10062);
    resp_free(&r);
    assert_true(fake_rest_interaction_state(f, 1002, &st));
    assert_true(st.late);
    assert_int_equal(st.ack_type, 0);
    free(st.original_json);

    /* Follow-ups and edits of the deferred reply. */
    r = req(f, "PATCH", "/webhooks/4242/tokA/messages/@original", NULL,
            "{\"content\":\"50%\",\"embeds\":[{\"title\":\"t\"}]}", NULL);
    assert_int_equal(r.status, 200);
    assert_non_null(strstr(r.body, "\"content\":\"50%\""));
    resp_free(&r);
    r = req(f, "GET", "/webhooks/4242/tokA/messages/@original", NULL, NULL, NULL);
    assert_int_equal(r.status, 200);
    assert_non_null(strstr(r.body, "\"title\":\"t\""));
    resp_free(&r);
    r = req(f, "PATCH", "/webhooks/4242/tokA/messages/@original", NULL,
            "{\"content\":\""
            "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
            "\",\"embeds\":[{\"title\":\"t\",\"fields\":[{\"name\":\"\",\"value\":\"v\"}]}]}",
            NULL);
    assert_int_equal(r.status, 400); /* empty field name */
    resp_free(&r);
    r = req(f, "POST", "/webhooks/4242/tokA", NULL, "{\"content\":\"done\"}", NULL);
    assert_int_equal(r.status, 200);
    cJSON *m = cJSON_Parse(r.body);
    char del[128];
    snprintf(del, sizeof del, "/channels/55/messages/%s",
             cJSON_GetStringValue(cJSON_GetObjectItem(m, "id")));
    cJSON_Delete(m);
    resp_free(&r);
    r = req(f, "DELETE", del, "Bot " TOKEN, NULL, NULL);
    assert_int_equal(r.status, 204);
    resp_free(&r);
    r = req(f, "DELETE", del, "Bot " TOKEN, NULL, NULL);
    assert_int_equal(r.status, 404);
    assert_int_equal(json_code(&r), 10008);
    resp_free(&r);
    r = req(f, "PATCH", "/webhooks/4242/nosuch/messages/@original", NULL, "{\"content\":\"x\"}",
            NULL);
    assert_int_equal(r.status, 404);
    assert_int_equal(json_code(&r), 10015);
    resp_free(&r);
    r = req(f, "DELETE", "/webhooks/4242/tokA/messages/@original", NULL, NULL, NULL);
    assert_int_equal(r.status, 204);
    resp_free(&r);
    r = req(f, "GET", "/webhooks/4242/tokA/messages/@original", NULL, NULL, NULL);
    assert_int_equal(r.status, 404);
    resp_free(&r);
    assert_true(fake_rest_interaction_state(f, 1001, &st));
    assert_int_equal(st.edits, 1);
    assert_int_equal(st.followups, 1);
    assert_true(st.original_deleted);
    free(st.original_json);

    /* The recorder saw all of it, in order. */
    fake_rest_filter flt = {.path_prefix = "/interactions/"};
    assert_int_equal(fake_rest_count(f, &flt), 7);
    fake_rest_request *reqs;
    size_t n = fake_rest_collect(f, &flt, &reqs);
    assert_int_equal(n, 7);
    assert_int_equal(reqs[0].status, 204);
    assert_int_equal(reqs[0].interaction_id, 1001);
    assert_string_equal((char *)reqs[0].body, "{\"type\":5}");
    assert_string_equal(reqs[0].content_type, "application/json");
    assert_true(reqs[1].seq > reqs[0].seq);
    fake_rest_requests_free(reqs, n);
    fake_rest_stop(f);
}

static void test_multipart_byte_identical(void **state)
{
    (void)state;
    fake_rest *f = start(0, false);
    fake_rest_register_interaction(f, 77, "tokM", 9, false);
    resp r = req(f, "POST", "/interactions/77/tokM/callback", NULL, "{\"type\":5}", NULL);
    assert_int_equal(r.status, 204);
    resp_free(&r);

    /* Random bytes with NULs, CRLFs and things that look like boundaries. */
    size_t n = 300000;
    unsigned char *data = malloc(n);
    unsigned s = 7;
    for (size_t i = 0; i < n; i++) {
        s = s * 1103515245u + 12345u;
        data[i] = (unsigned char)(s >> 16);
    }
    memcpy(data + 100, "\r\n--\r\n\r\n\0\0--", 12);
    data[0] = 0;
    data[n - 1] = '\n';
    data[n - 2] = '\r';

    CURL *dummy = curl_easy_init();
    curl_mime *mime = curl_mime_init(dummy);
    curl_mimepart *p = curl_mime_addpart(mime);
    const char *payload =
        "{\"content\":\"here\",\"attachments\":[{\"id\":0,\"filename\":\"o.png\"}]}";
    curl_mime_name(p, "payload_json");
    curl_mime_data(p, payload, CURL_ZERO_TERMINATED);
    curl_mime_type(p, "application/json");
    p = curl_mime_addpart(mime);
    curl_mime_name(p, "files[0]");
    curl_mime_filename(p, "o.png");
    curl_mime_type(p, "image/png");
    curl_mime_data(p, (const char *)data, n);
    r = req(f, "PATCH", "/webhooks/4242/tokM/messages/@original", NULL, NULL, mime);
    assert_int_equal(r.status, 200);
    cJSON *m = cJSON_Parse(r.body);
    cJSON *a0 = cJSON_GetArrayItem(cJSON_GetObjectItem(m, "attachments"), 0);
    assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(a0, "filename")), "o.png");
    assert_int_equal((size_t)cJSON_GetObjectItem(a0, "size")->valuedouble, n);
    cJSON_Delete(m);
    resp_free(&r);
    curl_mime_free(mime);
    curl_easy_cleanup(dummy);

    fake_rest_filter flt = {.method = "PATCH"};
    fake_rest_request *reqs;
    assert_int_equal(fake_rest_collect(f, &flt, &reqs), 1);
    assert_int_equal(reqs[0].nparts, 2);
    assert_string_equal(reqs[0].parts[0].name, "payload_json");
    assert_string_equal(reqs[0].parts[0].content_type, "application/json");
    assert_memory_equal(reqs[0].parts[0].data, payload, strlen(payload));
    assert_string_equal(reqs[0].parts[1].name, "files[0]");
    assert_string_equal(reqs[0].parts[1].filename, "o.png");
    assert_string_equal(reqs[0].parts[1].content_type, "image/png");
    assert_int_equal(reqs[0].parts[1].len, n);
    assert_memory_equal(reqs[0].parts[1].data, data, n);
    fake_rest_requests_free(reqs, 1);
    free(data);
    fake_rest_stop(f);
}

static void test_rate_limit_headers_and_429(void **state)
{
    (void)state;
    fake_rest *f = start(0, true); /* 5 per 1 s per bucket, enforced */
    resp r;
    char v[128], hash1[64] = "", hash2[64] = "";
    for (int i = 0; i < 5; i++) {
        r = req(f, "GET", "/users/@me", "Bot " TOKEN, NULL, NULL);
        assert_int_equal(r.status, 200);
        assert_non_null(header(&r, "x-ratelimit-remaining", v, sizeof v));
        assert_int_equal(atoi(v), 4 - i);
        header(&r, "x-ratelimit-bucket", hash1, sizeof hash1);
        resp_free(&r);
    }
    r = req(f, "GET", "/users/@me", "Bot " TOKEN, NULL, NULL);
    assert_int_equal(r.status, 429);
    assert_string_equal(header(&r, "x-ratelimit-scope", v, sizeof v), "user");
    assert_non_null(header(&r, "retry-after", v, sizeof v));
    cJSON *j = cJSON_Parse(r.body);
    assert_true(cJSON_GetObjectItem(j, "retry_after")->valuedouble > 0);
    assert_true(cJSON_IsFalse(cJSON_GetObjectItem(j, "global")));
    cJSON_Delete(j);
    resp_free(&r);
    /* Another route has another bucket (and another hash). */
    r = req(f, "GET", "/gateway/bot", "Bot " TOKEN, NULL, NULL);
    assert_int_equal(r.status, 200);
    header(&r, "x-ratelimit-bucket", hash2, sizeof hash2);
    assert_string_not_equal(hash1, hash2);
    resp_free(&r);

    /* Scripted 429s of each scope, a 5xx and a dropped connection. */
    fake_rest_script(f, "GET", "/gateway/bot", FAKE_REST_FAULT_429_GLOBAL, 1500, 1);
    r = req(f, "GET", "/gateway/bot", "Bot " TOKEN, NULL, NULL);
    assert_int_equal(r.status, 429);
    assert_string_equal(header(&r, "x-ratelimit-scope", v, sizeof v), "global");
    assert_string_equal(header(&r, "x-ratelimit-global", v, sizeof v), "true");
    assert_string_equal(header(&r, "retry-after", v, sizeof v), "2");
    assert_null(header(&r, "x-ratelimit-bucket", v, sizeof v));
    j = cJSON_Parse(r.body);
    assert_true(cJSON_GetObjectItem(j, "retry_after")->valuedouble == 1.5);
    assert_true(cJSON_IsTrue(cJSON_GetObjectItem(j, "global")));
    cJSON_Delete(j);
    resp_free(&r);
    fake_rest_script(f, NULL, "/gateway", FAKE_REST_FAULT_429_SHARED, 250, 1);
    r = req(f, "GET", "/gateway/bot", "Bot " TOKEN, NULL, NULL);
    assert_int_equal(r.status, 429);
    assert_string_equal(header(&r, "x-ratelimit-scope", v, sizeof v), "shared");
    assert_non_null(header(&r, "x-ratelimit-bucket", v, sizeof v));
    resp_free(&r);
    fake_rest_script(f, NULL, "/gateway", FAKE_REST_FAULT_503, 0, 1);
    r = req(f, "GET", "/gateway/bot", "Bot " TOKEN, NULL, NULL);
    assert_int_equal(r.status, 503);
    resp_free(&r);
    fake_rest_script(f, NULL, "/gateway", FAKE_REST_FAULT_DROP, 0, 1);
    r = req(f, "GET", "/gateway/bot", "Bot " TOKEN, NULL, NULL);
    assert_int_not_equal(r.rc, CURLE_OK);
    resp_free(&r);
    fake_rest_script(f, NULL, "/gateway", FAKE_REST_FAULT_DELAY, 300, 1);
    r = req(f, "GET", "/gateway/bot", "Bot " TOKEN, NULL, NULL);
    assert_int_equal(r.status, 200);
    assert_true(r.seconds >= 0.29);
    resp_free(&r);
    fake_rest_script(f, NULL, "/gateway", FAKE_REST_FAULT_401, 0, 1);
    r = req(f, "GET", "/gateway/bot", "Bot " TOKEN, NULL, NULL);
    assert_int_equal(r.status, 401);
    resp_free(&r);
    fake_rest_stats st;
    fake_rest_stats_get(f, &st);
    assert_int_equal(st.dropped, 1);
    assert_int_equal(st.r429, 3);
    assert_int_equal(st.r5xx, 1);
    fake_rest_stop(f);
}

static void test_http_details(void **state)
{
    (void)state;
    fake_rest *f = start(0, false);
    fake_rest_register_interaction(f, 5, "tokE", 9, false);
    resp r = req(f, "POST", "/interactions/5/tokE/callback", NULL, "{\"type\":5}", NULL);
    resp_free(&r);
    /* A 2 MB upload: curl sends Expect: 100-continue and must not stall waiting for it. */
    size_t n = 2 * 1024 * 1024;
    char *data = calloc(1, n);
    CURL *dummy = curl_easy_init();
    curl_mime *mime = curl_mime_init(dummy);
    curl_mimepart *p = curl_mime_addpart(mime);
    curl_mime_name(p, "files[0]");
    curl_mime_filename(p, "big.bin");
    curl_mime_data(p, data, n);
    r = req(f, "POST", "/webhooks/4242/tokE", NULL, NULL, mime);
    assert_int_equal(r.status, 200);
    assert_true(r.seconds < 0.9);
    resp_free(&r);
    curl_mime_free(mime);
    curl_easy_cleanup(dummy);
    free(data);

    /* Chunked request bodies are decoded like any other. */
    CURL *c = curl_easy_init();
    char url[256];
    snprintf(url, sizeof url, "%s/webhooks/4242/tokE", fake_rest_base_url(f));
    struct curl_slist *h = curl_slist_append(NULL, "Transfer-Encoding: chunked");
    h = curl_slist_append(h, "Content-Type: application/json");
    resp rr = {0};
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, "{\"content\":\"x\"}");
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &rr);
    curl_easy_perform(c);
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &rr.status);
    assert_int_equal(rr.status, 200);
    curl_easy_cleanup(c);
    curl_slist_free_all(h);
    resp_free(&rr);

    /* Keep-alive: many requests on one handle use one connection. */
    fake_rest_stats before, after;
    fake_rest_stats_get(f, &before);
    c = curl_easy_init();
    snprintf(url, sizeof url, "%s/users/@me", fake_rest_base_url(f));
    h = curl_slist_append(NULL, "Authorization: Bot " TOKEN);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    resp sink = {0};
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &sink);
    for (int i = 0; i < 20; i++)
        assert_int_equal(curl_easy_perform(c), CURLE_OK);
    curl_easy_cleanup(c);
    curl_slist_free_all(h);
    resp_free(&sink);
    fake_rest_stats_get(f, &after);
    assert_int_equal(after.connections - before.connections, 1);
    fake_rest_stop(f);
}

static int gw_body(void *ctx, char *buf, size_t cap)
{
    return snprintf(buf, cap, "{\"url\":\"%s\",\"shards\":2}", (const char *)ctx);
}

static resp get_url(const char *url)
{
    resp r = {0};
    CURL *c = curl_easy_init();
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &r);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, &r);
    r.rc = curl_easy_perform(c);
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r.status);
    curl_easy_cleanup(c);
    return r;
}

static void test_attachments_and_gateway_hook(void **state)
{
    (void)state;
    fake_rest_config cfg = {.token = TOKEN,
                            .application_id = 4242,
                            .gateway_bot_json = gw_body,
                            .gateway_bot_ctx = (void *)"ws://elsewhere:1"};
    fake_rest *f = fake_rest_start(&cfg);
    assert_non_null(f);
    resp r = req(f, "GET", "/gateway/bot", "Bot " TOKEN, NULL, NULL);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.body, "{\"url\":\"ws://elsewhere:1\",\"shards\":2}");
    resp_free(&r);

    uint8_t img[5000];
    for (size_t i = 0; i < sizeof img; i++)
        img[i] = (uint8_t)(i * 31);
    img[0] = 0;
    char url[256];
    fake_rest_add_attachment(f, "in.png", "image/png", img, sizeof img, url, sizeof url);
    r = get_url(url);
    assert_int_equal(r.status, 200);
    assert_int_equal(r.len, sizeof img);
    assert_memory_equal(r.body, img, sizeof img);
    char v[64];
    assert_string_equal(header(&r, "content-type", v, sizeof v), "image/png");
    resp_free(&r);
    char bad[300];
    snprintf(bad, sizeof bad, "http://127.0.0.1:%u/attachments/1/nope.png", fake_rest_port(f));
    r = get_url(bad);
    assert_int_equal(r.status, 404);
    resp_free(&r);

    /* A file uploaded with an edit is served at the url of the message's attachment. */
    fake_rest_register_interaction(f, 3, "tokU", 9, false);
    r = req(f, "POST", "/interactions/3/tokU/callback", NULL, "{\"type\":5}", NULL);
    resp_free(&r);
    CURL *dummy = curl_easy_init();
    curl_mime *mime = curl_mime_init(dummy);
    curl_mimepart *p = curl_mime_addpart(mime);
    curl_mime_name(p, "files[0]");
    curl_mime_filename(p, "out.png");
    curl_mime_type(p, "image/png");
    curl_mime_data(p, (const char *)img, 1234);
    r = req(f, "PATCH", "/webhooks/4242/tokU/messages/@original", NULL, NULL, mime);
    assert_int_equal(r.status, 200);
    cJSON *m = cJSON_Parse(r.body);
    const char *aurl = cJSON_GetStringValue(
        cJSON_GetObjectItem(cJSON_GetArrayItem(cJSON_GetObjectItem(m, "attachments"), 0), "url"));
    assert_non_null(aurl);
    resp d = get_url(aurl);
    assert_int_equal(d.status, 200);
    assert_int_equal(d.len, 1234);
    assert_memory_equal(d.body, img, 1234);
    resp_free(&d);
    cJSON_Delete(m);
    resp_free(&r);
    curl_mime_free(mime);
    curl_easy_cleanup(dummy);
    fake_rest_stop(f);
}

static void test_wait_api(void **state)
{
    (void)state;
    fake_rest *f = start(0, false);
    fake_rest_filter flt = {.path_prefix = "/users"};
    /* Nothing arrives: the wait times out with the current count. */
    assert_int_equal(fake_rest_wait(f, &flt, 1, 50), 0);
    resp r = req(f, "GET", "/users/@me", "Bot " TOKEN, NULL, NULL);
    resp_free(&r);
    assert_int_equal(fake_rest_wait(f, &flt, 1, 1000), 1);
    fake_rest_filter ok = {.status = 200};
    assert_int_equal(fake_rest_count(f, &ok), 1);
    fake_rest_stop(f);
}

/* The counters by kind see a bot's calls as discord.py makes them for a generation (deferral,
 * progress edit, multipart result), and every other kind once; refused and faulted requests
 * count as what they asked for, and the kinds add up to every request. */
static void test_kind_counters(void **state)
{
    (void)state;
    fake_rest *f = start(0, false);
    fake_rest_register_interaction(f, 91, "tokK", 9, false);
    fake_rest_register_interaction(f, 92, "tokL", 9, true);
    resp r = req(f, "GET", "/users/@me", "Bot " TOKEN, NULL, NULL);
    resp_free(&r);
    r = req(f, "POST", "/interactions/91/tokK/callback", NULL, "{\"type\":5}", NULL);
    assert_int_equal(r.status, 204);
    resp_free(&r);
    r = req(f, "PATCH", "/webhooks/4242/tokK/messages/@original", NULL,
            "{\"content\":\"Preparing\"}", NULL);
    assert_int_equal(r.status, 200);
    resp_free(&r);
    CURL *dummy = curl_easy_init();
    curl_mime *mime = curl_mime_init(dummy);
    curl_mimepart *p = curl_mime_addpart(mime);
    curl_mime_name(p, "payload_json");
    curl_mime_data(p, "{\"content\":\"\",\"attachments\":[{\"id\":0,\"filename\":\"o.png\"}]}",
                   CURL_ZERO_TERMINATED);
    curl_mime_type(p, "application/json");
    p = curl_mime_addpart(mime);
    curl_mime_name(p, "files[0]");
    curl_mime_filename(p, "o.png");
    curl_mime_type(p, "image/png");
    curl_mime_data(p, "\x89PNG", 4);
    r = req(f, "PATCH", "/webhooks/4242/tokK/messages/@original", NULL, NULL, mime);
    assert_int_equal(r.status, 200);
    resp_free(&r);
    curl_mime_free(mime);
    curl_easy_cleanup(dummy);
    r = req(f, "POST", "/webhooks/4242/tokK", NULL, "{\"content\":\"more\"}", NULL);
    assert_int_equal(r.status, 200);
    resp_free(&r);
    r = req(f, "GET", "/webhooks/4242/tokK/messages/@original", NULL, NULL, NULL);
    assert_int_equal(r.status, 200);
    resp_free(&r);
    /* a second ack is refused (400) but was still a callback asking for a type 4 */
    r = req(f, "POST", "/interactions/91/tokK/callback", NULL,
            "{\"type\":4,\"data\":{\"content\":\"x\"}}", NULL);
    assert_int_equal(r.status, 400);
    resp_free(&r);
    /* a component's deferred update (type 6) is a deferral too; a faulted one still counts */
    fake_rest_script(f, "POST", "/interactions/92/", FAKE_REST_FAULT_500, 0, 1);
    r = req(f, "POST", "/interactions/92/tokL/callback", NULL, "{\"type\":6}", NULL);
    assert_int_equal(r.status, 500);
    resp_free(&r);

    fake_rest_stats st;
    fake_rest_stats_get(f, &st);
    assert_int_equal(st.kinds[FAKE_REST_KIND_BOT], 1);
    assert_int_equal(st.kinds[FAKE_REST_KIND_DEFER], 2);
    assert_int_equal(st.kinds[FAKE_REST_KIND_CALLBACK], 1);
    assert_int_equal(st.kinds[FAKE_REST_KIND_EDIT], 1);
    assert_int_equal(st.kinds[FAKE_REST_KIND_EDIT_FILE], 1);
    assert_int_equal(st.kinds[FAKE_REST_KIND_FOLLOWUP], 1);
    assert_int_equal(st.kinds[FAKE_REST_KIND_WEBHOOK_OTHER], 1);
    uint64_t sum = 0;
    for (int k = 0; k < FAKE_REST_KIND_COUNT; k++)
        sum += st.kinds[k];
    assert_int_equal(sum, st.requests);
    assert_string_equal(fake_rest_kind_name(FAKE_REST_KIND_EDIT_FILE), "edit_file");
    assert_string_equal(fake_rest_kind_name(FAKE_REST_KIND_DEFER), "defer");
    fake_rest_stop(f);
}

int main(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bot_routes_and_auth),
        cmocka_unit_test(test_callbacks),
        cmocka_unit_test(test_multipart_byte_identical),
        cmocka_unit_test(test_rate_limit_headers_and_429),
        cmocka_unit_test(test_http_details),
        cmocka_unit_test(test_attachments_and_gateway_hook),
        cmocka_unit_test(test_wait_api),
        cmocka_unit_test(test_kind_counters),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    curl_global_cleanup();
    return rc;
}
