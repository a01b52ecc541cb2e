/*
 * llm_enhance: the prompt-enhancement actor. A service of the ComfyUI runner's coordinator for
 * jobs whose command has an "enhance" option the user set (comfy/decl.h): it asks an
 * OpenAI-compatible chat-completions endpoint to rewrite a prompt (llm/llm_chat.h builds the
 * request and reads the answer), runs the answer through the content filter, and says what
 * became of it.
 *
 * The job itself never comes here. The coordinator admits it first (limits, job id, the
 * job_queued row), keeps it in its line marked as waiting for the enhancement (so /queue lists
 * it and Cancel, /cancel and /queue clear reach it like any waiting job), and sends only the
 * prompt:
 *   MSG_LLM_ENHANCE_REQ   coordinator -> here: job id, the prompt as typed, the level, reply_to
 *   MSG_LLM_ENHANCE_RES   here -> reply_to, exactly once per request received: CJOB_ENH_OK with
 *                         the model's text, or why the prompt stays as typed (timeout after
 *                         timeout_ms, an HTTP error, a malformed or oversized answer, the
 *                         filter, more than max_inflight requests, a stop)
 *   MSG_LLM_ENHANCE_DROP  coordinator -> here: the job was cancelled; its request is cut and no
 *                         answer is sent. A drop that crosses the answer is harmless: the
 *                         coordinator, the only one deciding the job's fate, ignores an answer
 *                         for a job it no longer holds, so a cancel racing the model's answer
 *                         ends the job exactly once.
 * The coordinator also says "Enhancing your prompt…" (with the Cancel button) on the user's
 * message, so that edit and a cancellation's edit come from one sender, in order.
 *
 * A loop actor with one thread and one curl multi handle: every request is a non-blocking
 * transfer, the wake hook is curl_multi_wakeup, so no other actor ever waits on the model.
 *
 * The enhanced text passes the same content filter as typed prompts (mod_state_check). A hit
 * does not refuse the job and records no violation: the user did not write that text, and
 * their own prompt already passed. The answer is CJOB_ENH_FILTERED without the text: the
 * blocked text never leaves this actor.
 *
 * What never leaves this actor: the API key (an Authorization header only; never logged), the
 * URL and curl's error text (logged for the operator, never put in a user message).
 *
 * Lifetime: llm_enhance_new before the runner (whose coordinator sends to it), so it stops
 * after the coordinator; at a stop the requests in flight are abandoned and answered
 * CJOB_ENH_BUSY (to a coordinator that has stopped, the answer is dropped: it already told
 * those users the job was not started). llm_enhance_free after rt_system_free.
 */
#ifndef FLUXBOT_ACTORS_LLM_ENHANCE_H
#define FLUXBOT_ACTORS_LLM_ENHANCE_H

#include <stddef.h>
#include <stdint.h>

#include "config/fb_config.h"
#include "fluxbot/runtime.h"

#define LLM_ENHANCE_ACTOR_NAME "llm"

struct mod_state;

/* Message types (one shared namespace, see src/msgs; 500..509 are this actor's). */
enum {
    MSG_LLM_ENHANCE_REQ = 500,
    MSG_LLM_ENHANCE_RES = 501,
    MSG_LLM_ENHANCE_DROP = 502,
};

typedef struct llm_enhance_req_msg {
    rt_msg hdr;
    uint64_t job_id;         /* echoed in the answer; DROP names it */
    uint64_t interaction_id; /* for the logs */
    unsigned creativity;     /* 1..10: temperature level / 10 */
    char *prompt;            /* owned: the prompt as typed */
    rt_actor *reply_to;      /* where the answer goes */
} llm_enhance_req_msg;

typedef struct llm_enhance_res_msg {
    rt_msg hdr;
    uint64_t job_id;
    int verdict; /* a cjob_enhance (comfy/cjob.h): CJOB_ENH_OK or why not */
    char *text;  /* owned: the model's text when verdict is CJOB_ENH_OK, else NULL */
} llm_enhance_res_msg;

typedef struct llm_enhance_drop_msg {
    rt_msg hdr;
    uint64_t job_id;
} llm_enhance_drop_msg;

/* Constructors (the prompt is copied; NULL only when out of memory). */
llm_enhance_req_msg *llm_enhance_req_msg_new(uint64_t job_id, uint64_t interaction_id,
                                             unsigned creativity, const char *prompt,
                                             rt_actor *reply_to);
llm_enhance_drop_msg *llm_enhance_drop_msg_new(uint64_t job_id);

typedef struct llm_enhance_config {
    char url[FB_CONFIG_STR]; /* base URL ("…/v1"); "/chat/completions" is appended */
    char model[FB_CONFIG_STR];
    char key[FB_CONFIG_STR]; /* "" = no Authorization header */
    uint64_t timeout_ms;     /* whole request; 0 = 15000 */
    unsigned max_inflight;   /* requests at once; 0 = 8 */
    unsigned lane_capacity;  /* mailbox slots per sender; 0 = 1024 */
    /* Wiring, set by the caller after llm_enhance_config_from. */
    struct mod_state *mod; /* the content filter; NULL: the enhanced text is not checked */
} llm_enhance_config;

typedef struct llm_enhance llm_enhance;

/* Zeroes out, then fills url, model, key, timeout, max_inflight and lane_capacity. */
void llm_enhance_config_from(llm_enhance_config *out, const fb_config *cfg);
/* NULL with err when the URL is empty or not http(s), or the actor cannot be created. */
llm_enhance *llm_enhance_new(rt_system *sys, const llm_enhance_config *cfg, char *err,
                             size_t errlen);
rt_actor *llm_enhance_actor(llm_enhance *l);

typedef struct llm_enhance_counters {
    uint64_t jobs;      /* requests received */
    uint64_t requests;  /* requests sent to the endpoint */
    uint64_t enhanced;  /* CJOB_ENH_OK */
    uint64_t timeouts;  /* CJOB_ENH_TIMEOUT */
    uint64_t errors;    /* CJOB_ENH_ERROR */
    uint64_t filtered;  /* CJOB_ENH_FILTERED */
    uint64_t busy;      /* CJOB_ENH_BUSY */
    uint64_t dropped;   /* requests cut because their job was cancelled (no answer sent) */
    uint64_t in_flight; /* requests running now */
} llm_enhance_counters;
void llm_enhance_counters_get(llm_enhance *l, llm_enhance_counters *out); /* any thread */

void llm_enhance_free(llm_enhance *l);

#endif
