/*
 * The gateway's message to the router (type number 100): one dispatch (op 0) of the Discord
 * gateway, INTERACTION_CREATE and the guild/role events.
 *
 *  gateway → router:      MSG_GW_DISPATCH
 *
 * The data pointer is owned by the message and freed by its destructor; build it with
 * gw_dispatch_msg_new (src/msgs/gw.c) so the destructor is always right.
 */
#ifndef FLUXBOT_MSGS_GW_H
#define FLUXBOT_MSGS_GW_H

#include <stddef.h>
#include <stdint.h>

#include "fluxbot/msgs.h"

enum {
    MSG_GW_DISPATCH = 100,
};

/* A gateway dispatch (op 0) forwarded by the gateway: the event name and the raw `d` JSON. */
typedef struct gw_dispatch_msg {
    rt_msg hdr;
    char event[48]; /* "INTERACTION_CREATE", "GUILD_CREATE", "GUILD_ROLE_UPDATE", ... */
    uint32_t shard_id;
    uint64_t seq;     /* the gateway sequence number `s` */
    uint64_t recv_ns; /* monotonic time the frame was read, for latency accounting */
    char *data_json;  /* owned: the `d` object as text, NUL-terminated */
    size_t data_len;
} gw_dispatch_msg;

/* Copies event and data_json. */
gw_dispatch_msg *gw_dispatch_msg_new(const char *event, uint32_t shard_id, uint64_t seq,
                                     const char *data_json, size_t data_len);

#endif
