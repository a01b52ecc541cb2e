/*
 * comfy_rest: how the runner's threads hand a Discord request to the REST actor. Requests and
 * their paths and bodies are built in src/discord (reply_req.h, reply.h); this only sends them.
 * Requests carry the interaction token: they are never logged. Any thread (rt_send is
 * multi-producer); the REST actor is given at creation and outlives the runner's actors.
 */
#ifndef FLUXBOT_COMFY_REST_H
#define FLUXBOT_COMFY_REST_H

#include <stdbool.h>

#include "comfy/cjob.h"
#include "fluxbot/runtime.h"
#include "msgs/rest.h"

/* Sends m (owned) to rest: with must_deliver it may spill past a full mailbox (final answers),
 * without it a full mailbox drops it (progress edits, superseded by the next one). 0, or -1 when
 * it was not queued (m freed). rest NULL: freed, -1. */
int comfy_rest_send(rt_actor *rest, rest_req_msg *m, bool must_deliver);
/* PATCH @original of the interaction in ref with json (owned). */
rest_req_msg *comfy_rest_edit_original_req(const comfy_reply_ref *ref, char *json_owned);
void comfy_rest_edit_original(rt_actor *rest, const comfy_reply_ref *ref, char *json_owned,
                              bool must_deliver);

#endif
