/*
 * Prompt enhancement, the pure half: the body of an OpenAI-compatible chat-completions request
 * (POST {llm_url}/chat/completions) and the reading of its answer. No sockets or threads: the
 * enhancement actor sends what this builds and hands back what it reads.
 *
 * Request: {"model", "messages": [system instruction, the user's prompt], "temperature":
 * creativity / 10 (the original bot's 1..10 level), "max_tokens", "n": 1, "stream": false}.
 *
 * Answer: the body is untrusted and bounded (LLM_REPLY_MAX bytes); only choices[0].message.
 * content is used, trimmed of blanks and of quotes wrapped around it, with control characters
 * other than newline and tab turned into spaces; it must be valid UTF-8 of 1..LLM_PROMPT_MAX
 * characters (the length a prompt option takes). Anything else is an error with a short,
 * address-free reason for the log and the user; the caller then keeps the original prompt.
 */
#ifndef FLUXBOT_LLM_CHAT_H
#define FLUXBOT_LLM_CHAT_H

#include <stddef.h>

#define LLM_PROMPT_MAX 1000        /* characters, in and out (a prompt option's max_length) */
#define LLM_REPLY_MAX (256u << 10) /* bytes of response body read at most */
#define LLM_MODEL_MAX 200          /* bytes of a model name */
#define LLM_MAX_TOKENS 400         /* enough for 1000 characters of English */
#define LLM_CREATIVITY_DEFAULT 5

typedef enum llm_result {
    LLM_OK = 0,
    LLM_HTTP_ERROR, /* a status other than 200 (the service's error message in why) */
    LLM_MALFORMED,  /* not the documented JSON, or no text in the first choice */
    LLM_TRUNCATED,  /* finish_reason "length": the text stopped mid-way */
    LLM_FILTERED,   /* finish_reason "content_filter": the service refused */
    LLM_BAD_TEXT,   /* empty, too long, or not UTF-8 */
} llm_result;

/* The request body (malloc'd), or NULL with err: creativity outside 1..10, a model name empty
 * or longer than LLM_MODEL_MAX, a prompt empty, not UTF-8 or longer than LLM_PROMPT_MAX. */
char *llm_chat_request_json(const char *model, const char *prompt, unsigned creativity, char *err,
                            size_t errlen);

/* The temperature sent for a creativity level (level / 10). */
double llm_temperature(unsigned creativity);

/* Reads an answer: LLM_OK with the enhanced prompt in out (cap >= 4 * LLM_PROMPT_MAX + 1 holds
 * any), or another result with a reason in why. body may hold len bytes without a NUL. */
llm_result llm_chat_parse_reply(long http_status, const char *body, size_t len, char *out,
                                size_t cap, char *why, size_t whylen);

#endif
