/*
 * gw_payload: builds the frames the bot sends on the gateway (heartbeat, IDENTIFY, RESUME)
 * into caller buffers, without allocation, and reads the GET /gateway/bot answer.
 * Strings from configuration or the network (token, session id) are JSON-escaped.
 */
#ifndef FLUXBOT_GW_PAYLOAD_H
#define FLUXBOT_GW_PAYLOAD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Gateway intents used by fluxbot (docs: topics/gateway.mdx §List of Intents). */
#define GW_INTENT_GUILDS (1u << 0)
#define GW_INTENT_GUILD_MEMBERS (1u << 1)    /* privileged */
#define GW_INTENT_GUILD_PRESENCES (1u << 8)  /* privileged */
#define GW_INTENT_MESSAGE_CONTENT (1u << 15) /* privileged */
#define GW_INTENTS_PRIVILEGED                                                                      \
    (GW_INTENT_GUILD_MEMBERS | GW_INTENT_GUILD_PRESENCES | GW_INTENT_MESSAGE_CONTENT)

/* Largest frame this module ever produces given bounded inputs; buffers of this size suffice
 * for every builder when the token and session id are below 256 bytes. */
#define GW_PAYLOAD_MAX 2048

/* {"op":1,"d":<seq|null>}. Returns the length, or -1 when cap is too small. */
int gw_build_heartbeat(char *buf, size_t cap, bool has_seq, int64_t seq);

typedef struct gw_identify_params {
    const char *token; /* raw bot token, without the "Bot " prefix */
    uint32_t intents;
    uint32_t shard_id;
    uint32_t shard_count;     /* >= 1 */
    uint32_t large_threshold; /* clamped into Discord's 50..250 */
    const char *os;           /* properties; NULL = defaults ("linux", "fluxbot", "fluxbot") */
    const char *browser;
    const char *device;
} gw_identify_params;

/* {"op":2,"d":{token, properties, intents, shard, large_threshold, compress:false}}.
 * Transport compression is negotiated in the URL, so payload compression stays off (Discord
 * forbids combining them). Returns the length or -1 (too small, empty token, bad shard). */
int gw_build_identify(char *buf, size_t cap, const gw_identify_params *p);

/* {"op":6,"d":{token, session_id, seq}}. seq is the last dispatch sequence seen (null if none). */
int gw_build_resume(char *buf, size_t cap, const char *token, const char *session_id, bool has_seq,
                    int64_t seq);

/* The answer to GET /gateway/bot. */
typedef struct gw_bot_info {
    char url[512];            /* e.g. "wss://gateway.discord.gg" */
    uint32_t shards;          /* recommended shard count */
    uint32_t total;           /* session_start_limit.total */
    uint32_t remaining;       /* session_start_limit.remaining */
    uint64_t reset_after_ms;  /* session_start_limit.reset_after */
    uint32_t max_concurrency; /* session_start_limit.max_concurrency */
} gw_bot_info;

/* Parses and validates the body. Returns 0 or -1 with a reason in err. */
int gw_parse_bot_info(const char *body, size_t len, gw_bot_info *out, char *err, size_t errlen);

#endif
