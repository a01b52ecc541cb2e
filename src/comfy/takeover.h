/*
 * takeover: what a process does with a job it took over from a process whose lease expired
 * (pg/pg_lease.h), decided from the job's row, the time and what the job's ComfyUI server says
 * about its prompt. Pure: no thread, no socket, no clock of its own; the runner's worker asks
 * the server and acts on the answer.
 *
 *   deadline = received + token_valid (Discord accepts edits with the interaction token for
 *              15 minutes from the interaction)
 *   now + reserve >= deadline                    → TOO_LATE: nothing can reach the message in
 *                                                  time; the user is told in the channel
 *   never submitted, or its server is not one
 *   of this process's                            → RESUBMIT from the stored parameters
 *   submitted (or cleared to deliver), server
 *   not asked yet                                → ASK: /history, then /queue, for its prompt
 *   the server lists it in history               → FETCH: the result (or the failure) is there
 *   queued or running there                      → FOLLOW it (websocket and /history)
 *   in neither                                   → RESUBMIT (the server restarted)
 *   the server does not answer                   → FOLLOW: the follower's own outage rules
 *                                                  (reconcile, then resubmit elsewhere) apply
 *
 * A job whose old owner was cleared to deliver (delivering) is delivered again: the final
 * message is an edit of the same @original, so a second identical edit shows the user one
 * result, where skipping it would lose the job when the owner died before its edit went out.
 */
#ifndef FLUXBOT_COMFY_TAKEOVER_H
#define FLUXBOT_COMFY_TAKEOVER_H

#include <stdbool.h>
#include <stdint.h>

typedef enum takeover_stage {
    TAKEOVER_STAGE_ACCEPTED = 0, /* admitted, never on a ComfyUI server */
    TAKEOVER_STAGE_SUBMITTED,    /* a prompt_id on a server */
    TAKEOVER_STAGE_DELIVERING,   /* the old owner was cleared to send the result */
} takeover_stage;

typedef enum takeover_server {
    TAKEOVER_NOT_ASKED = 0,
    TAKEOVER_IN_HISTORY, /* finished (success or failure) */
    TAKEOVER_IN_QUEUE,   /* pending or running */
    TAKEOVER_ABSENT,     /* in neither */
    TAKEOVER_NO_ANSWER,  /* the server did not answer */
} takeover_server;

typedef enum takeover_action {
    TAKEOVER_ASK = 0,
    TAKEOVER_FETCH,
    TAKEOVER_FOLLOW,
    TAKEOVER_RESUBMIT,
    TAKEOVER_TOO_LATE,
} takeover_action;

typedef struct takeover_facts {
    takeover_stage stage;
    bool has_prompt;        /* server and prompt_id are set */
    bool server_known;      /* the row's server is one of this process's ComfyUI servers */
    takeover_server server; /* what it said about the prompt */
    uint64_t now_ms;        /* wall clock */
    uint64_t received_ms;   /* wall clock, when the interaction arrived */
    uint64_t token_valid_ms;
    uint64_t reserve_ms; /* what is left must cover at least this (fetch and send) */
} takeover_facts;

takeover_action takeover_decide(const takeover_facts *f);

/* "ask", "fetch", "follow", "resubmit", "too_late": for the log line of each takeover. */
const char *takeover_action_name(takeover_action a);

#endif
