/*
 * The takeover decision (see takeover.h). Owned by the comfy module; called by the runner's
 * worker that runs a taken-over job.
 */
#include "comfy/takeover.h"

takeover_action takeover_decide(const takeover_facts *f)
{
    /* The deadline first: a prompt still on its server is no use once the message cannot be
     * edited any more. */
    uint64_t deadline = f->received_ms + f->token_valid_ms;
    if (f->now_ms >= deadline || deadline - f->now_ms <= f->reserve_ms) return TAKEOVER_TOO_LATE;
    if (f->stage == TAKEOVER_STAGE_ACCEPTED || !f->has_prompt || !f->server_known)
        return TAKEOVER_RESUBMIT;
    switch (f->server) {
    case TAKEOVER_NOT_ASKED:
        return TAKEOVER_ASK;
    case TAKEOVER_IN_HISTORY:
        return TAKEOVER_FETCH;
    case TAKEOVER_IN_QUEUE:
    case TAKEOVER_NO_ANSWER:
        return TAKEOVER_FOLLOW;
    case TAKEOVER_ABSENT:
        return TAKEOVER_RESUBMIT;
    }
    return TAKEOVER_RESUBMIT;
}

const char *takeover_action_name(takeover_action a)
{
    switch (a) {
    case TAKEOVER_ASK:
        return "ask";
    case TAKEOVER_FETCH:
        return "fetch";
    case TAKEOVER_FOLLOW:
        return "follow";
    case TAKEOVER_RESUBMIT:
        return "resubmit";
    case TAKEOVER_TOO_LATE:
        return "too_late";
    }
    return "?";
}
