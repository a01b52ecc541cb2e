/*
 * Messages to the stats_reporter actor (type numbers 400..499).
 *
 *  router → stats_reporter:  MSG_STATS_QUERY  answer /stats for an interaction that was
 *                                             deferred; the reporter PATCHes the original
 *                                             response through the discord_rest actor.
 */
#ifndef FLUXBOT_MSGS_STATS_H
#define FLUXBOT_MSGS_STATS_H

#include <stdint.h>

#include "fluxbot/msgs.h"

typedef struct rt_actor rt_actor;

enum {
    MSG_STATS_QUERY = 400,
};

typedef struct stats_query_msg {
    rt_msg hdr;
    int days;                /* 1..365, validated by the router (an_days_from_options) */
    int64_t now_ms;          /* window end, Unix ms UTC; 0 = the reporter's clock */
    char application_id[24]; /* snowflake as text */
    char *token;             /* owned: the interaction token (not a bot secret, never logged) */
    rt_actor *rest;          /* the discord_rest actor that gets the MSG_REST_REQ */
    rt_actor *rest_reply_to; /* copied into the REST request's reply_to (may be NULL) */
    uint64_t cookie;         /* copied into the REST request's cookie */
} stats_query_msg;

/* Copies application_id (cut to 23 bytes) and token. */
stats_query_msg *stats_query_msg_new(int days, const char *application_id, const char *token,
                                     rt_actor *rest);

#endif
