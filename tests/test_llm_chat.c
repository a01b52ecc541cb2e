/*
 * Prompt enhancement groundwork: the chat-completions request (temperature = creativity / 10,
 * bounded inputs) and the reading of answers (bounded, trimmed, every failure a reason), then
 * the same module against the loopback fake endpoint over real HTTP (libcurl): well-behaved,
 * slow past the client's timeout, failing with a status, malformed, filtered, and the key sent
 * as a bearer token.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <curl/curl.h>

#include "fakes/fake_llm.h"
#include "llm/llm_chat.h"
#include "util/util_utf8.h"

static char err[512], why[512], out[4 * LLM_PROMPT_MAX + 1];

static void test_request(void **state)
{
    (void)state;
    char *b = llm_chat_request_json("llama3", "a cat \"on\" a mat\n{}", 7, err, sizeof err);
    assert_non_null(b);
    cJSON *o = cJSON_Parse(b);
    free(b);
    assert_string_equal(cJSON_GetObjectItem(o, "model")->valuestring, "llama3");
    assert_true(cJSON_GetObjectItem(o, "temperature")->valuedouble > 0.69 &&
                cJSON_GetObjectItem(o, "temperature")->valuedouble < 0.71);
    assert_true(cJSON_IsFalse(cJSON_GetObjectItem(o, "stream")));
    const cJSON *msgs = cJSON_GetObjectItem(o, "messages");
    assert_int_equal(cJSON_GetArraySize(msgs), 2);
    assert_string_equal(cJSON_GetObjectItem(cJSON_GetArrayItem(msgs, 0), "role")->valuestring,
                        "system");
    assert_string_equal(cJSON_GetObjectItem(cJSON_GetArrayItem(msgs, 1), "content")->valuestring,
                        "a cat \"on\" a mat\n{}"); /* intact, escaped by the JSON writer */
    cJSON_Delete(o);
    for (unsigned c = 1; c <= 10; c++) {
        b = llm_chat_request_json("m", "p", c, err, sizeof err);
        o = cJSON_Parse(b);
        free(b);
        double t = cJSON_GetObjectItem(o, "temperature")->valuedouble;
        assert_true(t > c / 10.0 - 1e-9 && t < c / 10.0 + 1e-9);
        cJSON_Delete(o);
    }

    assert_null(llm_chat_request_json("m", "p", 0, err, sizeof err));
    assert_non_null(strstr(err, "creativity must be 1..10"));
    assert_null(llm_chat_request_json("m", "p", 11, err, sizeof err));
    assert_null(llm_chat_request_json("", "p", 5, err, sizeof err));
    assert_non_null(strstr(err, "model"));
    assert_null(llm_chat_request_json("m", "", 5, err, sizeof err));
    assert_non_null(strstr(err, "prompt"));
    assert_null(llm_chat_request_json("m", "\xff\xfe", 5, err, sizeof err));
    char big[1100];
    memset(big, 'a', 1001);
    big[1001] = '\0';
    assert_null(llm_chat_request_json("m", big, 5, err, sizeof err));
    big[1000] = '\0';
    b = llm_chat_request_json("m", big, 5, err, sizeof err);
    assert_non_null(b);
    free(b);
}

static llm_result parse(long status, const char *body)
{
    return llm_chat_parse_reply(status, body, body ? strlen(body) : 0, out, sizeof out, why,
                                sizeof why);
}

#define CHOICE(content, finish)                                                                    \
    "{\"choices\":[{\"index\":0,\"message\":{\"role\":\"assistant\",\"content\":" content          \
    "},\"finish_reason\":\"" finish "\"}]}"

static void test_reply(void **state)
{
    (void)state;
    assert_int_equal(parse(200, CHOICE("\"  \\\"A red fox at dawn\\\"\\n \"", "stop")), LLM_OK);
    assert_string_equal(out, "A red fox at dawn");
    assert_string_equal(why, "");
    assert_int_equal(parse(200, CHOICE("\"two\\nlines\\u0007bell\"", "stop")), LLM_OK);
    assert_string_equal(out, "two\nlines bell");

    assert_int_equal(parse(500, "{\"error\":{\"message\":\"model overloaded\",\"type\":\"x\"}}"),
                     LLM_HTTP_ERROR);
    assert_non_null(strstr(why, "HTTP 500: model overloaded"));
    /* Regression (fuzz_llm): an error message of invalid bytes becomes U+FFFD replacements,
     * 3 bytes each; clipped to the reason's buffer it was cut inside a character, and the
     * log line got invalid UTF-8. */
    char bad[300];
    int bl = snprintf(bad, sizeof bad, "{\"error\":\"i");
    memset(bad + bl, 0xac, 150);
    snprintf(bad + bl + 150, sizeof bad - (size_t)bl - 150, "nvalid key\"}");
    assert_int_equal(parse(401, bad), LLM_HTTP_ERROR);
    assert_true(util_utf8_valid(why, strlen(why), NULL));
    assert_non_null(strstr(why, "HTTP 401: i\xef\xbf\xbd"));
    char small[30];
    assert_int_equal(
        llm_chat_parse_reply(401, bad, strlen(bad), out, sizeof out, small, sizeof small),
        LLM_HTTP_ERROR);
    assert_true(util_utf8_valid(small, strlen(small), NULL));
    /* Regression (fuzz_llm): DEL passed into the reason as a control character. */
    assert_int_equal(parse(500, "{\"error\":\"x\x7fy\"}"), LLM_HTTP_ERROR);
    assert_null(strchr(why, 0x7f));
    assert_int_equal(parse(401, "<html>no</html>"), LLM_HTTP_ERROR);
    assert_string_equal(why, "the service answered HTTP 401");
    assert_int_equal(parse(200, "not json"), LLM_MALFORMED);
    assert_int_equal(parse(200, NULL), LLM_MALFORMED);
    assert_int_equal(parse(200, "{\"choices\":[]}"), LLM_MALFORMED);
    assert_int_equal(parse(200, CHOICE("42", "stop")), LLM_MALFORMED);
    assert_int_equal(parse(200, CHOICE("\"half a sen\"", "length")), LLM_TRUNCATED);
    assert_int_equal(parse(200, CHOICE("null", "content_filter")), LLM_FILTERED);
    assert_int_equal(parse(200, CHOICE("\"   \"", "stop")), LLM_BAD_TEXT);
    assert_int_equal(parse(200, CHOICE("\"\\\"\\\"\"", "stop")), LLM_BAD_TEXT);

    /* Too long for a prompt option. */
    size_t n = 1100;
    char *body = malloc(n + 200);
    int k = snprintf(body, n + 200, "{\"choices\":[{\"message\":{\"content\":\"");
    memset(body + k, 'x', n);
    snprintf(body + k + n, 200, "\"},\"finish_reason\":\"stop\"}]}");
    assert_int_equal(parse(200, body), LLM_BAD_TEXT);
    free(body);
    /* Larger than the cap: refused before parsing. */
    size_t huge = LLM_REPLY_MAX + 1;
    body = malloc(huge);
    memset(body, ' ', huge);
    assert_int_equal(llm_chat_parse_reply(200, body, huge, out, sizeof out, why, sizeof why),
                     LLM_MALFORMED);
    assert_non_null(strstr(why, "256 KiB"));
    free(body);
    /* A NUL inside the body is not JSON. */
    assert_int_equal(
        llm_chat_parse_reply(200, "{\"a\":1}\0junk", 12, out, sizeof out, why, sizeof why),
        LLM_MALFORMED);
}

/* ---- against the fake, over real HTTP -------------------------------------------------------- */

typedef struct buf {
    char *p;
    size_t n;
} buf;

static size_t collect(char *d, size_t sz, size_t nm, void *u)
{
    buf *b = u;
    size_t add = sz * nm;
    if (b->n + add > LLM_REPLY_MAX + 1) return 0; /* bounded, like the actor */
    char *np = realloc(b->p, b->n + add + 1);
    if (!np) return 0;
    memcpy(np + b->n, d, add);
    b->p = np;
    b->n += add;
    b->p[b->n] = '\0';
    return add;
}

/* One exchange: the request from llm_chat_request_json, the answer through llm_chat_parse_reply.
 * Returns the curl code; *res the parse result when the transfer completed. */
static CURLcode exchange(fake_llm *l, const char *key, long timeout_ms, llm_result *res)
{
    char *req = llm_chat_request_json("fake-model", "a lighthouse", 8, err, sizeof err);
    assert_non_null(req);
    char url[128], auth[300];
    snprintf(url, sizeof url, "%s/chat/completions", fake_llm_url(l));
    CURL *c = curl_easy_init();
    struct curl_slist *h = curl_slist_append(NULL, "Content-Type: application/json");
    if (key) {
        snprintf(auth, sizeof auth, "Authorization: Bearer %s", key);
        h = curl_slist_append(h, auth);
    }
    buf b = {0};
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, req);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, timeout_ms);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    CURLcode rc = curl_easy_perform(c);
    long status = 0;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    if (rc == CURLE_OK)
        *res = llm_chat_parse_reply(status, b.p, b.n, out, sizeof out, why, sizeof why);
    free(b.p);
    curl_slist_free_all(h);
    curl_easy_cleanup(c);
    free(req);
    return rc;
}

static void test_against_fake(void **state)
{
    (void)state;
    fake_llm *l = fake_llm_start();
    assert_non_null(l);
    llm_result r;

    /* Well-behaved, with the key as a bearer token. */
    fake_llm_expect_key(l, "sk-test-123");
    assert_int_equal(exchange(l, "sk-test-123", 5000, &r), CURLE_OK);
    assert_int_equal(r, LLM_OK);
    assert_string_equal(out, "a lighthouse" FAKE_LLM_SUFFIX);
    assert_true(fake_llm_last_key_ok(l));
    char *body = fake_llm_last_body(l);
    assert_non_null(strstr(body, "\"temperature\":0.8"));
    free(body);
    assert_int_equal(exchange(l, "wrong", 5000, &r), CURLE_OK);
    assert_false(fake_llm_last_key_ok(l));
    fake_llm_set_reply(l, "\"A lighthouse in a storm, oil painting\"");
    assert_int_equal(exchange(l, NULL, 5000, &r), CURLE_OK);
    assert_string_equal(out, "A lighthouse in a storm, oil painting");

    /* Slow: the client's timeout ends it; then in time. */
    fake_llm_set_mode(l, FAKE_LLM_SLOW);
    fake_llm_set_delay_ms(l, 3000);
    assert_int_equal(exchange(l, NULL, 300, &r), CURLE_OPERATION_TIMEDOUT);
    fake_llm_set_delay_ms(l, 50);
    assert_int_equal(exchange(l, NULL, 10000, &r), CURLE_OK);
    assert_int_equal(r, LLM_OK);

    /* Failing. */
    fake_llm_set_mode(l, FAKE_LLM_FAIL);
    fake_llm_set_status(l, 503);
    assert_int_equal(exchange(l, NULL, 5000, &r), CURLE_OK);
    assert_int_equal(r, LLM_HTTP_ERROR);
    assert_non_null(strstr(why, "HTTP 503: The fake service failed (503)"));
    fake_llm_set_mode(l, FAKE_LLM_MALFORMED);
    assert_int_equal(exchange(l, NULL, 5000, &r), CURLE_OK);
    assert_int_equal(r, LLM_MALFORMED);
    fake_llm_set_mode(l, FAKE_LLM_FILTERED);
    assert_int_equal(exchange(l, NULL, 5000, &r), CURLE_OK);
    assert_int_equal(r, LLM_FILTERED);
    assert_true(fake_llm_requests(l) >= 8);
    fake_llm_stop(l);
}

int main(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_request),
        cmocka_unit_test(test_reply),
        cmocka_unit_test(test_against_fake),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    curl_global_cleanup();
    return rc;
}
