/*
 * A fake OpenAI-compatible chat-completions endpoint on loopback, for the prompt-enhancement
 * tests and the demo: a minimal HTTP/1.1 server (its own thread, plain sockets, one request per
 * connection) answering POST /v1/chat/completions (and /chat/completions) in the mode the test
 * chooses:
 *   FAKE_LLM_OK         200 with a chat.completion whose first choice's content is the configured
 *                   reply, or the user's message followed by FAKE_LLM_SUFFIX when none
 *                   is set (a deterministic "enhancement" the demo can show)
 *   FAKE_LLM_SLOW       the same after delay_ms (or earlier silence until the client gives up)
 *   FAKE_LLM_FAIL       the configured status with an OpenAI-style {"error": {"message", "type"}}
 *   FAKE_LLM_MALFORMED  200 with a body that is not JSON
 *   FAKE_LLM_FILTERED   200 with finish_reason "content_filter" and no content
 * GET /v1/models (and /models) lists "fake-model" and "demo-model", or answers 401 when a key is
 * expected and another (or none) came. Any other path answers 404; a body larger than 1 MiB
 * answers 413. It records the number of
 * requests, the last request body and whether an "Authorization: Bearer <key>" header came with
 * the expected key, so a test can check what the bot sent. Thread-safe.
 */
#ifndef FLUXBOT_FAKES_FAKE_LLM_H
#define FLUXBOT_FAKES_FAKE_LLM_H

#include <stdbool.h>

typedef struct fake_llm fake_llm;

#define FAKE_LLM_SUFFIX ", highly detailed, dramatic light, rich colours"

typedef enum fake_llm_mode {
    FAKE_LLM_OK,
    FAKE_LLM_SLOW,
    FAKE_LLM_FAIL,
    FAKE_LLM_MALFORMED,
    FAKE_LLM_FILTERED
} fake_llm_mode;

/* Starts on 127.0.0.1 with an ephemeral port in FAKE_LLM_OK; NULL on failure. */
fake_llm *fake_llm_start(void);
void fake_llm_stop(fake_llm *l);
/* "http://127.0.0.1:PORT/v1" (an llm_url) */
const char *fake_llm_url(const fake_llm *l);

void fake_llm_set_mode(fake_llm *l, fake_llm_mode mode);
void fake_llm_set_delay_ms(fake_llm *l, unsigned delay_ms); /* FAKE_LLM_SLOW */
void fake_llm_set_status(fake_llm *l, int status);          /* FAKE_LLM_FAIL (default 500) */
void fake_llm_set_reply(fake_llm *l, const char *content);  /* NULL: <prompt> FAKE_LLM_SUFFIX */
void fake_llm_expect_key(fake_llm *l, const char *key);     /* NULL: none expected */

unsigned fake_llm_requests(fake_llm *l);
/* The body of the latest request (malloc'd, "" when none). */
char *fake_llm_last_body(fake_llm *l);
/* Whether the latest request carried "Authorization: Bearer <expected key>". */
bool fake_llm_last_key_ok(fake_llm *l);

#endif
