/* Chat-completions request and answer (see llm_chat.h). */
#include "llm/llm_chat.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "util/util_json.h"
#include "util/util_utf8.h"

/* Asks for one prompt and nothing else, so the answer can be used as is. */
static const char *const system_text =
    "You rewrite prompts for an image generator. Make the user's prompt more vivid and "
    "detailed: subject, style, lighting, composition. Keep its meaning and language. Answer with "
    "the rewritten prompt only, in at most 900 characters, without quotes or explanations.";

double llm_temperature(unsigned creativity)
{
    return (double)creativity / 10.0;
}

static int seterr(char *err, size_t errlen, const char *msg)
{
    if (err && errlen) snprintf(err, errlen, "%s", msg);
    return -1;
}

char *llm_chat_request_json(const char *model, const char *prompt, unsigned creativity, char *err,
                            size_t errlen)
{
    size_t chars;
    if (creativity < 1 || creativity > 10) {
        seterr(err, errlen, "creativity must be 1..10");
        return NULL;
    }
    if (!model || !*model || strlen(model) > LLM_MODEL_MAX ||
        !util_utf8_valid(model, strlen(model), &chars)) {
        seterr(err, errlen, "the model name must be 1..200 bytes of UTF-8");
        return NULL;
    }
    if (!prompt || !util_utf8_valid(prompt, strlen(prompt), &chars) || chars < 1 ||
        chars > LLM_PROMPT_MAX) {
        seterr(err, errlen, "the prompt must be 1..1000 characters of UTF-8");
        return NULL;
    }
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "model", model);
    cJSON *msgs = cJSON_AddArrayToObject(o, "messages");
    cJSON *sys = cJSON_CreateObject();
    cJSON_AddStringToObject(sys, "role", "system");
    cJSON_AddStringToObject(sys, "content", system_text);
    cJSON_AddItemToArray(msgs, sys);
    cJSON *user = cJSON_CreateObject();
    cJSON_AddStringToObject(user, "role", "user");
    cJSON_AddStringToObject(user, "content", prompt);
    cJSON_AddItemToArray(msgs, user);
    cJSON_AddNumberToObject(o, "temperature", llm_temperature(creativity));
    cJSON_AddNumberToObject(o, "max_tokens", LLM_MAX_TOKENS);
    cJSON_AddNumberToObject(o, "n", 1);
    cJSON_AddFalseToObject(o, "stream");
    char *s = util_json_print_free(o);
    if (!s) seterr(err, errlen, "out of memory");
    return s;
}

/* Copies s into out (cap bytes), cut on a character boundary when it does not fit: a byte cut
 * in the middle of a character would make the reason invalid UTF-8 in a log line. */
static void copy_whole_chars(char *out, size_t cap, const char *s)
{
    if (!cap) return;
    size_t n = strlen(s);
    if (n >= cap) {
        n = cap - 1;
        while (n && ((unsigned char)s[n] & 0xC0) == 0x80)
            n--;
    }
    memcpy(out, s, n);
    out[n] = '\0';
}

static llm_result why_is(char *why, size_t whylen, llm_result r, const char *fmt, const char *a)
{
    char text[512];
    snprintf(text, sizeof text, fmt, a ? a : "");
    if (why) copy_whole_chars(why, whylen, text);
    return r;
}

/* The service's own message, clipped to what a log line and a user line can hold. */
static void error_message(const cJSON *root, char *out, size_t cap)
{
    const cJSON *e = cJSON_GetObjectItemCaseSensitive(root, "error");
    const char *m = cJSON_IsString(e) ? e->valuestring : util_json_str(e, "message", NULL);
    out[0] = '\0';
    if (!m) return;
    /* 120 characters, and no more bytes than out holds (U+FFFD replacements take 3 each) */
    char *clipped = util_utf8_clip(m, 120);
    copy_whole_chars(out, cap, clipped);
    free(clipped);
    for (char *p = out; *p; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7f) *p = ' ';
}

llm_result llm_chat_parse_reply(long http_status, const char *body, size_t len, char *out,
                                size_t cap, char *why, size_t whylen)
{
    if (cap) out[0] = '\0';
    if (!body) len = 0;
    if (len > LLM_REPLY_MAX)
        return why_is(why, whylen, LLM_MALFORMED, "the answer is larger than 256 KiB%s", NULL);
    char *text = malloc(len + 1);
    if (!text) return why_is(why, whylen, LLM_MALFORMED, "out of memory%s", NULL);
    if (len) memcpy(text, body, len);
    text[len] = '\0';
    cJSON *root = memchr(text, '\0', len) ? NULL : cJSON_ParseWithLength(text, len);
    free(text);
    llm_result r;
    if (http_status != 200) {
        char msg[160], status[200];
        error_message(root, msg, sizeof msg);
        snprintf(status, sizeof status, "HTTP %ld%s%s", http_status, msg[0] ? ": " : "", msg);
        r = why_is(why, whylen, LLM_HTTP_ERROR, "the service answered %s", status);
        goto out;
    }
    const cJSON *choice = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(root, "choices"), 0);
    const cJSON *msg = cJSON_GetObjectItemCaseSensitive(choice, "message");
    const cJSON *content = cJSON_GetObjectItemCaseSensitive(msg, "content");
    const char *finish = util_json_str(choice, "finish_reason", "");
    if (strcmp(finish, "length") == 0) {
        r = why_is(why, whylen, LLM_TRUNCATED, "the enhanced prompt was cut off%s", NULL);
        goto out;
    }
    if (strcmp(finish, "content_filter") == 0) {
        r = why_is(why, whylen, LLM_FILTERED, "the service refused the prompt%s", NULL);
        goto out;
    }
    if (!cJSON_IsString(content)) {
        r = why_is(why, whylen, LLM_MALFORMED, "the answer holds no text%s", NULL);
        goto out;
    }
    /* Trim blanks, then one pair of quotes the model may have wrapped around its answer. */
    const char *s = content->valuestring;
    size_t n = strlen(s);
    while (n && (*s == ' ' || *s == '\n' || *s == '\r' || *s == '\t')) {
        s++;
        n--;
    }
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\n' || s[n - 1] == '\r' || s[n - 1] == '\t'))
        n--;
    if (n >= 2 && ((s[0] == '"' && s[n - 1] == '"') || (s[0] == '\'' && s[n - 1] == '\''))) {
        s++;
        n -= 2;
    }
    size_t chars;
    if (n == 0) {
        r = why_is(why, whylen, LLM_BAD_TEXT, "the enhanced prompt is empty%s", NULL);
        goto out;
    }
    if (!util_utf8_valid(s, n, &chars) || chars > LLM_PROMPT_MAX || n >= cap) {
        r = why_is(why, whylen, LLM_BAD_TEXT,
                   "the enhanced prompt is not text of at most 1000 characters%s", NULL);
        goto out;
    }
    memcpy(out, s, n);
    out[n] = '\0';
    for (char *p = out; *p; p++)
        if (((unsigned char)*p < 0x20 && *p != '\n' && *p != '\t') || *p == 0x7f) *p = ' ';
    r = LLM_OK;
    if (why && whylen) why[0] = '\0';
out:
    cJSON_Delete(root);
    return r;
}
