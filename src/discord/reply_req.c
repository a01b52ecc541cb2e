/*
 * reply_req: interaction answer requests (see reply_req.h). Pure: formats paths, wraps bodies.
 */
#include "discord/reply_req.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

/* Room for the longest path: ids are at most 20 digits, tokens are checked to be URL-safe and
 * bounded by the interaction parser (a few hundred bytes); a longer token is cut, so the
 * request fails at Discord instead of writing past the buffer. */
#define PATH_MAX_LEN 1024

static rest_req_msg *req(rest_method method, const char *path, char *json_owned)
{
    rest_req_msg *m = rest_req_msg_new(method, path, NULL);
    m->json = json_owned;
    return m;
}

rest_req_msg *reply_req_callback(uint64_t interaction_id, const char *token, char *json_owned)
{
    char path[PATH_MAX_LEN];
    snprintf(path, sizeof path, "/interactions/%" PRIu64 "/%s/callback", interaction_id,
             token ? token : "");
    return req(REST_POST, path, json_owned);
}

rest_req_msg *reply_req_edit_original(uint64_t application_id, const char *token, char *json_owned)
{
    char path[PATH_MAX_LEN];
    snprintf(path, sizeof path, "/webhooks/%" PRIu64 "/%s/messages/@original", application_id,
             token ? token : "");
    return req(REST_PATCH, path, json_owned);
}

rest_req_msg *reply_req_delete_original(uint64_t application_id, const char *token)
{
    char path[PATH_MAX_LEN];
    snprintf(path, sizeof path, "/webhooks/%" PRIu64 "/%s/messages/@original", application_id,
             token ? token : "");
    return req(REST_DELETE, path, NULL);
}

rest_req_msg *reply_req_followup(uint64_t application_id, const char *token, char *json_owned)
{
    char path[PATH_MAX_LEN];
    snprintf(path, sizeof path, "/webhooks/%" PRIu64 "/%s", application_id, token ? token : "");
    return req(REST_POST, path, json_owned);
}

rest_req_msg *reply_req_channel_message(uint64_t channel_id, char *json_owned)
{
    char path[64];
    snprintf(path, sizeof path, "/channels/%" PRIu64 "/messages", channel_id);
    return req(REST_POST, path, json_owned);
}

rest_req_msg *reply_req_delete_message(uint64_t channel_id, uint64_t message_id)
{
    char path[96];
    snprintf(path, sizeof path, "/channels/%" PRIu64 "/messages/%" PRIu64, channel_id, message_id);
    return req(REST_DELETE, path, NULL);
}
