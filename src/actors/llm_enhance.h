/*
 * llm_enhance: the prompt-enhancement actor. A stage between the router and the ComfyUI runner
 * for jobs whose command has an "enhance" option the user set (comfy/decl.h): it asks an
 * OpenAI-compatible chat-completions endpoint to rewrite the prompt (llm/llm_chat.h builds the
 * request and reads the answer), runs the answer through the content filter, and forwards the
 * job to the runner, enhanced or not.
 *
 * A loop actor with one thread and one curl multi handle: every request is a non-blocking
 * transfer, the wake hook is curl_multi_wakeup, so neither the router (it only sends a message)
 * nor a runner thread ever waits on the model. Inputs:
 *   MSG_COMFY_START  a resolved job (the router sends it here instead of to the runner when
 *                    job->creativity > 0, once Discord accepted the defer)
 * Output: the same MSG_COMFY_START to cfg.runner, always, exactly once per job received:
 *   - enhanced: job->enhance = CJOB_ENH_OK, prompt rebuilt from the model's text;
 *   - otherwise the prompt as typed and job->enhance says why (timeout after timeout_ms, an
 *     HTTP error, a malformed or oversized answer, the filter, more than max_inflight requests,
 *     a stop). The user sees which in the progress and result messages (discord/enh_note.h).
 * While the model works, @original says "Enhancing your prompt…" (one edit through cfg.rest).
 *
 * The enhanced text passes the same content filter as typed prompts (mod_state_check). A hit
 * does not refuse the job and records no violation: the user did not write that text, and
 * their own prompt already passed. The prompt as typed is used instead, the blocked text is
 * never shown, and the user is told the enhancement was withheld (CJOB_ENH_FILTERED).
 *
 * What never leaves this actor: the API key (an Authorization header only; never logged), the
 * URL and curl's error text (logged for the operator, never put in a user message).
 *
 * Lifetime: llm_enhance_new after the runner and REST actors exist and before the router
 * (which sends to it), so it stops after the router and before the runner; at a stop the
 * requests in flight are abandoned and their jobs forwarded as typed (CJOB_ENH_BUSY).
 * llm_enhance_free after rt_system_free.
 */
#ifndef FLUXBOT_ACTORS_LLM_ENHANCE_H
#define FLUXBOT_ACTORS_LLM_ENHANCE_H

#include <stddef.h>
#include <stdint.h>

#include "config/fb_config.h"
#include "fluxbot/runtime.h"

#define LLM_ENHANCE_ACTOR_NAME "llm"

struct mod_state;

typedef struct llm_enhance_config {
    char url[FB_CONFIG_STR]; /* base URL ("…/v1"); "/chat/completions" is appended */
    char model[FB_CONFIG_STR];
    char key[FB_CONFIG_STR]; /* "" = no Authorization header */
    uint64_t timeout_ms;     /* whole request; 0 = 15000 */
    unsigned max_inflight;   /* requests at once; 0 = 8 */
    unsigned lane_capacity;  /* mailbox slots per sender; 0 = 1024 */
    /* Wiring, set by the caller after llm_enhance_config_from. */
    rt_actor *runner;      /* where every job goes next (required) */
    rt_actor *rest;        /* the discord_rest actor, for the "Enhancing…" edit; NULL: none */
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
    uint64_t jobs;      /* jobs received */
    uint64_t requests;  /* requests sent to the endpoint */
    uint64_t enhanced;  /* CJOB_ENH_OK */
    uint64_t timeouts;  /* CJOB_ENH_TIMEOUT */
    uint64_t errors;    /* CJOB_ENH_ERROR */
    uint64_t filtered;  /* CJOB_ENH_FILTERED */
    uint64_t busy;      /* CJOB_ENH_BUSY */
    uint64_t in_flight; /* requests running now */
} llm_enhance_counters;
void llm_enhance_counters_get(llm_enhance *l, llm_enhance_counters *out); /* any thread */

void llm_enhance_free(llm_enhance *l);

#endif
