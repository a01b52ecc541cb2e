/*
 * fuzz_llm: the answer of an OpenAI-compatible chat-completions endpoint (llm_chat_parse_reply),
 * then, for an accepted one, the job that runs it and the result message that shows it
 * (cjob_enhance_apply, cres_final_payload with discord/enh_note's field and line).
 *
 * Input: the first byte picks the HTTP status (200, 500, 401, 429, 404, or 200 again), the
 * rest is the body, handed over without a terminating NUL. Invariants asserted, beyond "no
 * crash, no sanitizer report":
 *  - only a 200 is ever accepted;
 *  - an accepted text is valid UTF-8 of 1..LLM_PROMPT_MAX characters, with no control
 *    character but newline and tab, no blank at either end, and fits its buffer;
 *  - a refusal always says why, in valid UTF-8 without control characters (it goes to a log
 *    line), and leaves the output empty;
 *  - the result message of a job enhanced with the accepted text is within Discord's limits
 *    (content, embed fields, 6000 characters), pings nobody, and shows both prompts.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "comfy/cjob.h"
#include "comfy/cres.h"
#include "fuzz_support.h"
#include "llm/llm_chat.h"
#include "util/util_str.h"

static void check_result(const char *text)
{
    cjob *j = calloc(1, sizeof *j);
    if (!j) abort();
    j->id = 1;
    memcpy(j->command, "comfy", 6);
    j->reply.token = util_strdup("t");
    j->user_prompt = util_strdup("a lighthouse");
    j->prompt = util_strdup("a lighthouse, trigger words");
    j->creativity = 10;
    j->upscale = 1;
    cjob_enhance_apply(j, text);
    FZ_ASSERT(j->enhance == CJOB_ENH_OK && strcmp(j->enhanced_prompt, text) == 0,
              "enhancement not applied", text);
    FZ_ASSERT(strncmp(j->prompt, text, strlen(text)) == 0 &&
                  strcmp(j->prompt + strlen(text), ", trigger words") == 0,
              "trigger words lost", j->prompt);
    cres_result r = {.job = j, .filename = "fluxbot_1.png", .is_image = true};
    char *body = cres_final_payload(&r);
    cJSON *m = fz_json(body, "result payload");
    fz_check_message(m, true, "result payload");
    const cJSON *em = cJSON_GetArrayItem(cJSON_GetObjectItem(m, "embeds"), 0);
    const cJSON *d = cJSON_GetObjectItem(em, "description");
    FZ_ASSERT(cJSON_IsString(d) && strstr(d->valuestring, "a lighthouse"), "typed prompt lost",
              body);
    cJSON_Delete(m);
    free(body);
    cjob_free(j);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0 || size > LLM_REPLY_MAX + 2) return 0;
    static const long statuses[] = {200, 500, 401, 429, 404, 200};
    long status = statuses[data[0] % 6];
    size_t len = size - 1;
    char *body = malloc(len ? len : 1);
    if (!body) abort();
    memcpy(body, data + 1, len);
    char out[4 * LLM_PROMPT_MAX + 1], why[200];
    llm_result r = llm_chat_parse_reply(status, body, len, out, sizeof out, why, sizeof why);
    free(body);
    if (r != LLM_OK) {
        FZ_ASSERT(why[0] != '\0', "a refusal without a reason", out);
        fz_chars(why, "reason");
        for (const char *p = why; *p; p++)
            FZ_ASSERT((unsigned char)*p >= 0x20 && *p != 0x7f, "control character in reason", why);
        FZ_ASSERT(out[0] == '\0', "a refusal left text behind", out);
        return 0;
    }
    FZ_ASSERT(status == 200, "accepted a non-200 answer", out);
    size_t n = strlen(out);
    FZ_ASSERT(n > 0 && n < sizeof out, "accepted text empty or too long", out);
    size_t chars = fz_chars(out, "accepted text");
    FZ_ASSERT(chars >= 1 && chars <= LLM_PROMPT_MAX, "accepted text out of 1..1000 characters",
              out);
    for (const char *p = out; *p; p++)
        FZ_ASSERT(((unsigned char)*p >= 0x20 || *p == '\n' || *p == '\t') && *p != 0x7f,
                  "control character in accepted text", out);
    check_result(out);
    return 0;
}
