/*
 * reply_req: the REST requests that answer an interaction, built purely beside rest_req_msg.
 * The paths of interaction callbacks, of @original edits and deletes, of follow-ups and of
 * channel messages are formatted here and nowhere else; the bodies come from reply.h. Build the
 * request here (pure, no I/O), send it from the actor that owns the conversation.
 *
 * Paths carry the interaction token, which is a credential for 15 minutes: they must never be
 * logged (the REST actor logs routes, not paths). Each constructor takes ownership of the body
 * it is given (malloc'd JSON, may be NULL) and returns a new message (never NULL).
 */
#ifndef FLUXBOT_DISCORD_REPLY_REQ_H
#define FLUXBOT_DISCORD_REPLY_REQ_H

#include <stddef.h>
#include <stdint.h>

#include "msgs/rest.h"

/* POST /interactions/{id}/{token}/callback: the first answer (reply.h's callback bodies). */
rest_req_msg *reply_req_callback(uint64_t interaction_id, const char *token, char *json_owned);
/* PATCH /webhooks/{app}/{token}/messages/@original: edits the first answer. */
rest_req_msg *reply_req_edit_original(uint64_t application_id, const char *token, char *json_owned);
/* DELETE /webhooks/{app}/{token}/messages/@original. */
rest_req_msg *reply_req_delete_original(uint64_t application_id, const char *token);
/* POST /webhooks/{app}/{token}: a follow-up message (ephemeral when its flags say so). */
rest_req_msg *reply_req_followup(uint64_t application_id, const char *token, char *json_owned);
/* POST /channels/{c}/messages: a bot message (bot token; no interaction deadline). */
rest_req_msg *reply_req_channel_message(uint64_t channel_id, char *json_owned);
/* DELETE /channels/{c}/messages/{m}: a message the bot wrote. */
rest_req_msg *reply_req_delete_message(uint64_t channel_id, uint64_t message_id);

#endif
