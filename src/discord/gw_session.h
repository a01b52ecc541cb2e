/*
 * gw_session: the Discord gateway protocol of one shard as a pure state machine (sans I/O).
 *
 * It owns what the protocol remembers — session id, resume URL, last sequence number,
 * heartbeat schedule, reconnect attempts — and decides what to do; the gateway actor owns the
 * sockets and carries the decisions out. Inputs are events (socket opened, frame received,
 * socket closed, time passed) with the current time passed in; outputs are actions pulled with
 * gw_session_next_action (connect to a URL, send a frame, close with a code, stop fatally).
 * Randomness (heartbeat jitter, reconnect jitter) comes from an injectable function, so tests
 * drive everything with a fake clock and a fake RNG.
 *
 *   DISCONNECTED{attempts} --connect due--> CONNECTING --opened--> WAIT_HELLO
 *   WAIT_HELLO --HELLO--> IDENTIFYING (no session; waits for an identify permit) or RESUMING
 *   IDENTIFYING --READY--> ACTIVE        RESUMING --RESUMED--> ACTIVE
 *   any connected state --close/error/zombie/op 7/op 9--> DISCONNECTED (resume or identify)
 *   fatal close codes (4004, 4010-4014) --> FATAL;  gw_session_stop --> STOPPED
 *
 * When the session closes a socket itself (zombie, op 7, op 9, timeouts) it emits a CLOSE
 * action and is DISCONNECTED at once: the old socket is abandoned, never waited for, so a
 * dead peer cannot stall the reconnect.
 *
 * Rules it implements (Discord's gateway documentation + the bugs other libraries had; see
 * docs/gateway.md):
 *  - first heartbeat after interval × rand[0,1), then every interval; no ACK since the previous
 *    beat when the next is due ⇒ zombie ⇒ close 4000, resume;
 *  - server op 1 answered at once, but coalesced: while an answer is still unacknowledged,
 *    further requests fold into one answer sent at the next ACK (or dropped when a regular
 *    beat goes first), and answers take permits from the outbound limiter like commands, so
 *    a burst of op 1 can never push the connection over 120 sends per 60 s (close 4008);
 *  - nothing is sent before HELLO; RESUME goes to resume_gateway_url with the same query;
 *  - op 7 ⇒ close 4000 + resume; op 9 true ⇒ close 4000 + resume; op 9 false ⇒ drop the
 *    session, close 1000, wait rand[1,5] s, identify at the /gateway/bot URL;
 *  - close 4007/4009 ⇒ new session; 4004/4010-4014 ⇒ fatal; other codes, 1000/1001/1006 and
 *    a vanished TCP connection ⇒ resume;
 *  - after max_failed_resumes consecutive resumes that did not reach RESUMED, or when the
 *    resume URL could not even be connected to, the resume URL (and after the limit the
 *    session) is dropped;
 *  - reconnect delay: 0 after a working connection, then base·2^(n-1) capped, jittered into
 *    [d/2, d];
 *  - dispatches with a sequence number not above the last one of the same session are
 *    reported as duplicates so nothing is delivered twice.
 */
#ifndef FLUXBOT_GW_SESSION_H
#define FLUXBOT_GW_SESSION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "discord/gw_envelope.h"
#include "discord/gw_payload.h"
#include "discord/gw_ratelimit.h"
#include "discord/gw_url.h"

typedef enum gw_state {
    GW_ST_DISCONNECTED = 0,
    GW_ST_CONNECTING,
    GW_ST_WAIT_HELLO,
    GW_ST_IDENTIFYING,
    GW_ST_RESUMING,
    GW_ST_ACTIVE,
    GW_ST_FATAL,
    GW_ST_STOPPED,
} gw_state;

typedef enum gw_action_kind {
    GW_ACT_CONNECT = 1, /* open a websocket to `url` */
    GW_ACT_SEND,        /* send `payload` as a text frame (`priority`: ahead of queued ones) */
    GW_ACT_CLOSE,       /* close the current websocket with `code` and forget it */
    GW_ACT_FATAL,       /* stop the bot: `code` and `text` explain why, for the operator */
} gw_action_kind;

typedef struct gw_action {
    gw_action_kind kind;
    int code;                     /* CLOSE: close code; FATAL: the close code that caused it */
    int op;                       /* SEND: the opcode of the payload */
    bool priority;                /* SEND: heartbeats jump the outbound queue */
    size_t len;                   /* SEND: payload length */
    char url[GW_URL_MAX];         /* CONNECT */
    char text[256];               /* CLOSE/FATAL: human-readable reason */
    char payload[GW_PAYLOAD_MAX]; /* SEND */
} gw_action;

typedef struct gw_session_cfg {
    const char *token;       /* raw token; copied */
    const char *gateway_url; /* base URL from /gateway/bot; copied */
    bool compress;           /* add &compress=zlib-stream to every URL */
    uint32_t shard_id;
    uint32_t shard_count;
    uint32_t intents;
    uint32_t large_threshold;     /* 0 = 50 */
    uint32_t backoff_base_ms;     /* 0 = 1000 */
    uint32_t backoff_cap_ms;      /* 0 = 60000 */
    uint32_t connect_timeout_ms;  /* 0 = 10000: socket must open within it */
    uint32_t hello_timeout_ms;    /* 0 = 15000: HELLO must follow the open within it */
    uint32_t invalid_wait_min_ms; /* 0 = 1000: wait after op 9 false ... */
    uint32_t invalid_wait_max_ms; /* 0 = 5000: ... uniformly in [min, max] */
    uint32_t max_failed_resumes;  /* 0 = 3 */
    double (*rand01)(void *ctx);  /* uniform in [0,1); NULL = an internal xorshift */
    void *rand_ctx;
} gw_session_cfg;

/* Why the frame handler returned what it did. */
typedef enum gw_frame_result {
    GW_FRAME_CONTROL = 0, /* handled internally (hello, ack, reconnect, ...) */
    GW_FRAME_DISPATCH,    /* an op 0 event the caller should look at (env->t) */
    GW_FRAME_DUPLICATE,   /* a dispatch already seen in this session: drop it */
    GW_FRAME_IGNORED,     /* unknown opcode or a frame that does not fit the state */
} gw_frame_result;

#define GW_SESSION_ACTIONS 8

typedef struct gw_session {
    gw_session_cfg cfg;
    char token[256];
    char gateway_url[GW_URL_MAX]; /* with query */
    gw_state state;
    uint32_t attempts;         /* consecutive connections that did not become ACTIVE */
    uint64_t reconnect_at;     /* DISCONNECTED: when to connect */
    uint64_t deadline;         /* CONNECTING / WAIT_HELLO: give up at */
    bool connecting_to_resume; /* this connection was opened to resume */

    /* session (kept across connections while resumable) */
    char session_id[128];
    char resume_url[GW_URL_MAX]; /* with query; "" = use gateway_url */
    bool has_seq;
    int64_t seq;
    uint64_t application_id;
    uint64_t user_id;
    uint32_t failed_resumes;

    /* heartbeats of the current connection */
    uint64_t hb_interval;
    uint64_t hb_next;
    bool hb_awaiting_ack;
    uint64_t hb_sent_at;
    int64_t latency_ms;    /* last beat → ACK, -1 unknown */
    bool identify_wanted;  /* IDENTIFYING: waiting for gw_session_identify */
    bool hb_reply_unacked; /* an answer to op 1 went out and no ACK came since */
    bool hb_reply_pending; /* op 1 requests folded into one answer still owed */
    uint64_t hb_reply_at;  /* pending: the limiter has a permit at this time */

    gw_ratelimit rl;
    uint64_t rng; /* internal xorshift state */

    gw_action actions[GW_SESSION_ACTIONS];
    unsigned act_head, act_count;

    /* counters */
    uint64_t n_connects, n_identifies, n_resumes, n_resumed, n_ready, n_zombies, n_invalid_sessions,
        n_reconnect_requests, n_heartbeats, n_acks, n_duplicates, n_heartbeat_requests,
        n_heartbeat_coalesced;
    char fatal_reason[256];
} gw_session;

/* Sets the session up in DISCONNECTED with an immediate first connect. 0, or -1 when the
 * configuration is unusable (no token, bad URL, shard id >= count). */
int gw_session_init(gw_session *s, const gw_session_cfg *cfg, uint64_t now);

/* Time passed: reconnects, heartbeats, zombie detection and timeouts. Call at least at
 * gw_session_next_deadline() and after every other event. */
void gw_session_poll(gw_session *s, uint64_t now);

/* Earliest time gw_session_poll has something to do (UINT64_MAX: nothing scheduled). */
uint64_t gw_session_next_deadline(const gw_session *s);

/* Keeps the next connect from happening before `at` (identify pacing, daily budget). */
void gw_session_hold_until(gw_session *s, uint64_t at);

/* The websocket asked for by the last CONNECT action is open. */
void gw_session_on_open(gw_session *s, uint64_t now);

/* The connect attempt failed before the websocket opened. */
void gw_session_on_connect_error(gw_session *s, uint64_t now);

/* One received frame, already split by gw_envelope_parse. */
gw_frame_result gw_session_on_frame(gw_session *s, uint64_t now, const gw_envelope *env);

/* The peer closed the websocket (code from its close frame) or the connection vanished
 * (code 1006, no close frame). Ignored unless a connection is current. */
void gw_session_on_close(gw_session *s, uint64_t now, int code);

/* A frame was unusable in a way that desynchronises the connection (corrupt zlib stream):
 * close 4000 and resume. */
void gw_session_on_protocol_error(gw_session *s, uint64_t now, const char *why);

/* True while the session waits for an identify permit (IDENTIFYING after HELLO). */
bool gw_session_wants_identify(const gw_session *s);
/* The permit was granted: sends IDENTIFY. */
void gw_session_identify(gw_session *s, uint64_t now);
/* True when the next connection will need an IDENTIFY (no resumable session). */
bool gw_session_needs_identify(const gw_session *s);

/* Bot shutdown: close with 1000 (Discord then ends the session) and stop for good. */
void gw_session_stop(gw_session *s, uint64_t now);

/* Pulls the next action; false when there is none. */
bool gw_session_next_action(gw_session *s, gw_action *out);

/* Connected states (a websocket is current). */
bool gw_session_connected(const gw_session *s);

const char *gw_state_name(gw_state st);

/* What a close code means for the session (docs table, "Reconnect" column). */
typedef enum gw_close_class {
    GW_CLOSE_RESUME = 0,  /* reconnect and resume */
    GW_CLOSE_NEW_SESSION, /* reconnect with a fresh IDENTIFY */
    GW_CLOSE_FATAL,       /* do not reconnect */
} gw_close_class;
gw_close_class gw_close_classify(int code);
/* One line for the operator about a close code (what happened and what to do). */
const char *gw_close_describe(int code);

/* Reconnect delay for the n-th consecutive failed attempt, before jitter (exposed for tests). */
uint64_t gw_backoff_ms(uint32_t attempts, uint32_t base_ms, uint32_t cap_ms);

#endif
