/*
 * A fake OpenAI-compatible chat-completions endpoint on loopback, for the prompt-enhancement
 * tests and the demo: a minimal HTTP/1.1 server (its own thread, plain sockets, one request per
 * connection) answering POST /v1/chat/completions (and /chat/completions) in the mode the test
 * chooses:
 *   FLLM_OK         200 with a chat.completion whose first choice's content is the configured
 *                   reply, or "Enhanced: <the user's message>" when none is set
 *   FLLM_SLOW       the same after delay_ms (or earlier silence until the client gives up)
 *   FLLM_FAIL       the configured status with an OpenAI-style {"error": {"message", "type"}}
 *   FLLM_MALFORMED  200 with a body that is not JSON
 *   FLLM_FILTERED   200 with finish_reason "content_filter" and no content
 * Any other path answers 404; a body larger than 1 MiB answers 413. It records the number of
 * requests, the last request body and whether an "Authorization: Bearer <key>" header came with
 * the expected key, so a test can check what the bot sent. Thread-safe.
 */
#ifndef FLUXBOT_FAKES_FAKE_LLM_H
#define FLUXBOT_FAKES_FAKE_LLM_H

#include <stdbool.h>

typedef struct fllm fllm;

typedef enum fllm_mode { FLLM_OK, FLLM_SLOW, FLLM_FAIL, FLLM_MALFORMED, FLLM_FILTERED } fllm_mode;

/* Starts on 127.0.0.1 with an ephemeral port in FLLM_OK; NULL on failure. */
fllm *fllm_start(void);
void fllm_stop(fllm *l);
/* "http://127.0.0.1:PORT/v1" (an llm_url) */
const char *fllm_url(const fllm *l);

void fllm_set_mode(fllm *l, fllm_mode mode);
void fllm_set_delay_ms(fllm *l, unsigned delay_ms); /* FLLM_SLOW */
void fllm_set_status(fllm *l, int status);          /* FLLM_FAIL (default 500) */
void fllm_set_reply(fllm *l, const char *content);  /* NULL: "Enhanced: <prompt>" */
void fllm_expect_key(fllm *l, const char *key);     /* NULL: none expected */

unsigned fllm_requests(fllm *l);
/* The body of the latest request (malloc'd, "" when none). */
char *fllm_last_body(fllm *l);
/* Whether the latest request carried "Authorization: Bearer <expected key>". */
bool fllm_last_key_ok(fllm *l);

#endif
