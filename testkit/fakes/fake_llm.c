/* The fake chat-completions endpoint (see fake_llm.h). */
#include "fakes/fake_llm.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "fakes/fake_tcp.h"

#define HEAD_MAX 8192
#define BODY_MAX (1u << 20)

struct fake_llm {
    fake_tcp *tcp;
    int port;
    char url[64];
    pthread_mutex_t mu;
    fake_llm_mode mode;
    unsigned delay_ms;
    int status;
    char *reply;
    char key[256];
    bool expect_key;
    unsigned requests;
    char *last_body;
    bool last_key_ok;
};

static void respond(int fd, int status, const char *ctype, const char *body)
{
    char head[256];
    size_t len = strlen(body);
    int n = snprintf(head, sizeof head,
                     "HTTP/1.1 %d Fake\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
                     "Connection: close\r\n\r\n",
                     status, ctype, len);
    fake_tcp_send_all(fd, head, (size_t)n);
    fake_tcp_send_all(fd, body, len);
}

/* Waits ms, or less when the client hangs up or the server stops: false then. */
static bool wait_ms(fake_llm *l, int fd, unsigned ms)
{
    struct pollfd p[2] = {{fd, POLLIN, 0}, {fake_tcp_wake_fd(l->tcp), POLLIN, 0}};
    for (;;) {
        int n = poll(p, 2, (int)ms);
        if (n < 0 && errno == EINTR) continue;
        if (n == 0) return true;
        if (n < 0 || p[1].revents) return false;
        char b[64];
        ssize_t r = recv(fd, b, sizeof b, MSG_DONTWAIT);
        if (r <= 0) return false; /* the client gave up */
    }
}

/* Reads the head and the Content-Length body; NULL on a bad or too large request. */
static char *read_request(int fd, char *head, size_t headcap, size_t *body_len, int *too_large)
{
    size_t len = 0;
    char *end = NULL;
    while (len < headcap - 1) {
        struct pollfd p = {fd, POLLIN, 0};
        if (poll(&p, 1, 3000) <= 0) return NULL;
        ssize_t r = recv(fd, head + len, headcap - 1 - len, 0);
        if (r <= 0) return NULL;
        len += (size_t)r;
        head[len] = '\0';
        if ((end = strstr(head, "\r\n\r\n")) != NULL) break;
    }
    if (!end) return NULL;
    size_t hlen = (size_t)(end - head) + 4;
    const char *cl = strcasestr(head, "\r\ncontent-length:");
    size_t want = cl ? strtoul(cl + 17, NULL, 10) : 0;
    if (want > BODY_MAX) {
        *too_large = 1;
        return NULL;
    }
    char *body = malloc(want + 1);
    if (!body) abort();
    size_t have = len - hlen < want ? len - hlen : want;
    memcpy(body, head + hlen, have);
    while (have < want) {
        struct pollfd p = {fd, POLLIN, 0};
        if (poll(&p, 1, 3000) <= 0) break;
        ssize_t r = recv(fd, body + have, want - have, 0);
        if (r <= 0) break;
        have += (size_t)r;
    }
    body[have] = '\0';
    head[hlen] = '\0';
    *body_len = have;
    return body;
}

/* The last user message of a request, or "". */
static char *user_text(const char *body)
{
    cJSON *o = cJSON_Parse(body);
    const cJSON *msgs = cJSON_GetObjectItemCaseSensitive(o, "messages");
    const char *t = "";
    const cJSON *m;
    cJSON_ArrayForEach(m, msgs)
    {
        const cJSON *role = cJSON_GetObjectItemCaseSensitive(m, "role");
        const cJSON *c = cJSON_GetObjectItemCaseSensitive(m, "content");
        if (cJSON_IsString(role) && strcmp(role->valuestring, "user") == 0 && cJSON_IsString(c))
            t = c->valuestring;
    }
    char *s = strdup(t);
    cJSON_Delete(o);
    if (!s) abort();
    return s;
}

static char *completion(const char *content, const char *finish)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "id", "chatcmpl-fake");
    cJSON_AddStringToObject(o, "object", "chat.completion");
    cJSON_AddNumberToObject(o, "created", 1700000000);
    cJSON_AddStringToObject(o, "model", "fake-model");
    cJSON *choices = cJSON_AddArrayToObject(o, "choices");
    cJSON *c = cJSON_CreateObject();
    cJSON_AddNumberToObject(c, "index", 0);
    cJSON *m = cJSON_AddObjectToObject(c, "message");
    cJSON_AddStringToObject(m, "role", "assistant");
    if (content)
        cJSON_AddStringToObject(m, "content", content);
    else
        cJSON_AddNullToObject(m, "content");
    cJSON_AddStringToObject(c, "finish_reason", finish);
    cJSON_AddItemToArray(choices, c);
    cJSON *u = cJSON_AddObjectToObject(o, "usage");
    cJSON_AddNumberToObject(u, "prompt_tokens", 10);
    cJSON_AddNumberToObject(u, "completion_tokens", 20);
    cJSON_AddNumberToObject(u, "total_tokens", 30);
    char *s = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    if (!s) abort();
    return s;
}

static void serve(fake_llm *l, int fd)
{
    char head[HEAD_MAX];
    size_t blen = 0;
    int too_large = 0;
    char *body = read_request(fd, head, sizeof head, &blen, &too_large);
    if (!body) {
        if (too_large)
            respond(fd, 413, "application/json", "{\"error\":{\"message\":\"too large\"}}");
        return;
    }
    bool post = strncmp(head, "POST ", 5) == 0;
    const char *path = head + 5;
    bool known = post && (strncmp(path, "/v1/chat/completions ", 21) == 0 ||
                          strncmp(path, "/chat/completions ", 18) == 0);
    pthread_mutex_lock(&l->mu);
    l->requests++;
    free(l->last_body);
    l->last_body = strdup(body);
    char want[300];
    snprintf(want, sizeof want, "\r\nAuthorization: Bearer %s\r\n", l->key);
    l->last_key_ok = l->expect_key && strcasestr(head, want) != NULL;
    bool expect_key = l->expect_key, key_ok = l->last_key_ok;
    fake_llm_mode mode = l->mode;
    unsigned delay = l->delay_ms;
    int status = l->status;
    char *reply = l->reply ? strdup(l->reply) : NULL;
    pthread_mutex_unlock(&l->mu);

    bool list = strncmp(head, "GET /v1/models ", 15) == 0 || strncmp(head, "GET /models ", 12) == 0;
    if (list && expect_key && !key_ok) {
        respond(fd, 401, "application/json",
                "{\"error\":{\"message\":\"Incorrect API key provided\",\"type\":"
                "\"invalid_request_error\"}}");
    } else if (list) {
        respond(fd, 200, "application/json",
                "{\"object\":\"list\",\"data\":[{\"id\":\"fake-model\",\"object\":\"model\"},"
                "{\"id\":\"demo-model\",\"object\":\"model\"}]}");
    } else if (!known) {
        respond(fd, 404, "application/json", "{\"error\":{\"message\":\"not found\"}}");
    } else if (mode == FAKE_LLM_FAIL) {
        char b[160];
        snprintf(b, sizeof b,
                 "{\"error\":{\"message\":\"The fake service failed (%d)\",\"type\":"
                 "\"server_error\"}}",
                 status);
        respond(fd, status, "application/json", b);
    } else if (mode == FAKE_LLM_MALFORMED) {
        respond(fd, 200, "application/json", "{\"choices\": [ this is not json");
    } else if (mode == FAKE_LLM_FILTERED) {
        char *c = completion(NULL, "content_filter");
        respond(fd, 200, "application/json", c);
        free(c);
    } else if (mode == FAKE_LLM_OK || wait_ms(l, fd, delay)) {
        char *u = user_text(body);
        char *text = reply;
        if (!text) {
            size_t n = strlen(u) + sizeof FAKE_LLM_SUFFIX;
            text = malloc(n);
            if (!text) abort();
            snprintf(text, n, "%s" FAKE_LLM_SUFFIX, u);
        }
        char *c = completion(text, "stop");
        respond(fd, 200, "application/json", c);
        free(c);
        if (text != reply) free(text);
        free(u);
    }
    free(reply);
    free(body);
}

static void serve_cb(void *ctx, int fd)
{
    serve(ctx, fd);
}

fake_llm *fake_llm_start(void)
{
    fake_llm *l = calloc(1, sizeof *l);
    if (!l) return NULL;
    pthread_mutex_init(&l->mu, NULL);
    l->mode = FAKE_LLM_OK;
    l->status = 500;
    l->tcp = fake_tcp_start(serve_cb, l);
    if (!l->tcp) {
        pthread_mutex_destroy(&l->mu);
        free(l);
        return NULL;
    }
    l->port = fake_tcp_port(l->tcp);
    snprintf(l->url, sizeof l->url, "http://127.0.0.1:%d/v1", l->port);
    return l;
}

void fake_llm_stop(fake_llm *l)
{
    if (!l) return;
    fake_tcp_stop(l->tcp);
    pthread_mutex_destroy(&l->mu);
    free(l->reply);
    free(l->last_body);
    free(l);
}

const char *fake_llm_url(const fake_llm *l)
{
    return l->url;
}

void fake_llm_set_mode(fake_llm *l, fake_llm_mode mode)
{
    pthread_mutex_lock(&l->mu);
    l->mode = mode;
    pthread_mutex_unlock(&l->mu);
}

void fake_llm_set_delay_ms(fake_llm *l, unsigned delay_ms)
{
    pthread_mutex_lock(&l->mu);
    l->delay_ms = delay_ms;
    pthread_mutex_unlock(&l->mu);
}

void fake_llm_set_status(fake_llm *l, int status)
{
    pthread_mutex_lock(&l->mu);
    l->status = status;
    pthread_mutex_unlock(&l->mu);
}

void fake_llm_set_reply(fake_llm *l, const char *content)
{
    char *copy = content ? strdup(content) : NULL;
    if (content && !copy) abort();
    pthread_mutex_lock(&l->mu);
    free(l->reply);
    l->reply = copy;
    pthread_mutex_unlock(&l->mu);
}

void fake_llm_expect_key(fake_llm *l, const char *key)
{
    pthread_mutex_lock(&l->mu);
    l->expect_key = key != NULL;
    snprintf(l->key, sizeof l->key, "%s", key ? key : "");
    pthread_mutex_unlock(&l->mu);
}

unsigned fake_llm_requests(fake_llm *l)
{
    pthread_mutex_lock(&l->mu);
    unsigned n = l->requests;
    pthread_mutex_unlock(&l->mu);
    return n;
}

char *fake_llm_last_body(fake_llm *l)
{
    pthread_mutex_lock(&l->mu);
    char *s = strdup(l->last_body ? l->last_body : "");
    pthread_mutex_unlock(&l->mu);
    if (!s) abort();
    return s;
}

bool fake_llm_last_key_ok(fake_llm *l)
{
    pthread_mutex_lock(&l->mu);
    bool ok = l->last_key_ok;
    pthread_mutex_unlock(&l->mu);
    return ok;
}
