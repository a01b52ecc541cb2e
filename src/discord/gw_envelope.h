/*
 * gw_envelope: reads the envelope of one gateway frame — `op`, `s`, `t` and where `d` lies —
 * without building a DOM, so a multi-megabyte GUILD_CREATE costs one validating pass and no
 * allocation. The `d` span points into the caller's buffer and is only valid while it is.
 */
#ifndef FLUXBOT_GW_ENVELOPE_H
#define FLUXBOT_GW_ENVELOPE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "discord/gw_json.h"

/* Gateway opcodes (Discord API v10). */
enum {
    GW_OP_DISPATCH = 0,
    GW_OP_HEARTBEAT = 1,
    GW_OP_IDENTIFY = 2,
    GW_OP_PRESENCE_UPDATE = 3,
    GW_OP_VOICE_STATE_UPDATE = 4,
    GW_OP_RESUME = 6,
    GW_OP_RECONNECT = 7,
    GW_OP_REQUEST_GUILD_MEMBERS = 8,
    GW_OP_INVALID_SESSION = 9,
    GW_OP_HELLO = 10,
    GW_OP_HEARTBEAT_ACK = 11,
};

/* Longest event name kept; longer names are flagged (t_truncated) and match nothing. */
#define GW_EVENT_NAME_MAX 47

typedef struct gw_envelope {
    int op;
    bool has_seq; /* `s` present and not null */
    int64_t seq;
    char t[GW_EVENT_NAME_MAX + 1]; /* "" when `t` is absent or null */
    bool t_truncated;
    bool has_d; /* `d` present (it may be the literal null) */
    gw_span d;  /* the `d` value inside the frame */
} gw_envelope;

enum {
    GW_ENV_OK = 0,
    GW_ENV_EMPTY = -10,     /* zero-length frame */
    GW_ENV_TOOBIG = -11,    /* longer than the caller's limit */
    GW_ENV_NOTOBJECT = -12, /* the frame is valid JSON but not an object */
    GW_ENV_NOOP = -13,      /* `op` missing */
    GW_ENV_BADFIELD = -14,  /* `op`, `s` or `t` of the wrong type or out of range */
    /* GW_JSON_* codes (negative, > -10) are passed through for malformed JSON. */
};

/* Parses frame[0..len). max_len (0 = no limit) bounds what is accepted at all. */
int gw_envelope_parse(const char *frame, size_t len, size_t max_len, gw_envelope *env);

const char *gw_envelope_strerror(int err);

#endif
