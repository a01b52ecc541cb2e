/*
 * fake_gateway (fake_gateway_): a loopback Discord gateway for tests, the demo and benchmarks.
 *
 * A real libwebsockets server on 127.0.0.1 (ephemeral port, its own service thread) that
 * speaks gateway v10 the way Discord does:
 *   - HTTP GET .../gateway/bot (Authorization: Bot <token>, 401 otherwise) answering
 *     {url, shards, session_start_limit{total, remaining, reset_after, max_concurrency}},
 *     so a test can use http_base as the API base;
 *   - websocket at /?v=10&encoding=json[&compress=zlib-stream] (4012 for another version);
 *     HELLO, heartbeat → ACK, IDENTIFY (token → 4004, privileged intents → 4014, shard →
 *     4010, identify spacing per max_concurrency bucket → op 9 false, daily budget), READY
 *     with session_id / resume_gateway_url (itself) / application / user, then GUILD_CREATE
 *     for the fixture guilds of the shard; RESUME → replay of missed dispatches + RESUMED,
 *     or op 9 false for unknown sessions; per-session sequence numbers; client payloads over
 *     4096 bytes → 4002; more than 120 client frames in 60 s → 4008; unknown op → 4001;
 *     anything but heartbeat/identify/resume before IDENTIFY → 4003; second IDENTIFY → 4005.
 *   - optionally (stall_front) a TCP front before the websocket that can accept and then
 *     never answer new connections (testkit/fakes/fake_front.h);
 *   - zlib-stream transport compression (deflate, sync flush per message), optionally split
 *     across several websocket messages.
 * Dispatches injected with fake_gateway_dispatch are numbered per session and kept for replay, like
 * Discord buffers events for a resumable session. Faults are scriptable from any thread.
 * Everything clients send is recorded (connection, shard, op, time, payload) for assertions.
 *
 * Threading: every fake_gateway_* function may be called from any thread; state is guarded by one
 * mutex and socket work is handed to the service thread through lws_cancel_service().
 */
#ifndef FLUXBOT_FAKE_GATEWAY_H
#define FLUXBOT_FAKE_GATEWAY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct fake_gateway fake_gateway;

typedef struct fake_gateway_options {
    const char *token;              /* the valid bot token (raw); required */
    uint32_t heartbeat_interval_ms; /* announced in HELLO; 0 = 41250 */
    uint32_t shards;                /* recommended by /gateway/bot; 0 = 1 */
    uint32_t max_concurrency;       /* 0 = 1 */
    uint32_t session_total;         /* 0 = 1000 */
    uint32_t session_remaining;     /* 0 = session_total (use fake_gateway_set_budget for 0) */
    uint64_t reset_after_ms;        /* 0 = 24 h */
    uint32_t allowed_intents;       /* privileged intents enabled "in the portal"; default none */
    uint32_t identify_interval_ms;  /* enforced spacing per bucket, between arrivals, to the
                                       nanosecond (as Discord); 0 = 5000 */
    uint64_t application_id;        /* 0 = 100000000000000001 */
    uint64_t user_id;               /* 0 = 100000000000000002 */
    const char *guilds_json;        /* JSON array of guild objects (id, name, roles, ...) */
    unsigned replay_keep;           /* dispatches kept per session; 0 = 10000 */
    bool stall_front; /* websocket URL goes through a TCP front that fake_gateway_set_stall can
                         stall */
} fake_gateway_options;

/* Starts the server. NULL on failure (logged). */
fake_gateway *fake_gateway_start(const fake_gateway_options *opts);
/* Stops the service thread, closes every connection (without close frames) and frees. */
void fake_gateway_stop(fake_gateway *f);

int fake_gateway_port(const fake_gateway *f);
/* "http://127.0.0.1:PORT/api/v10": pass as DISCORD_API_BASE. */
const char *fake_gateway_http_base(const fake_gateway *f);
/* "ws://127.0.0.1:PORT": the url /gateway/bot returns (and resume_gateway_url). */
const char *fake_gateway_ws_url(const fake_gateway *f);
/* The current /gateway/bot body (for another fake REST server to serve). Length or -1. */
int fake_gateway_gateway_bot_json(fake_gateway *f, char *buf, size_t cap);

/* ---- events --------------------------------------------------------------------------- */

/* Dispatches event t with data d_json (a JSON value) to every live session (shard < 0) or to
 * the sessions of one shard: numbered, kept for replay, sent now to sessions with a ready
 * connection. Returns the number of sessions it was given to, or -1 on bad input. */
int fake_gateway_dispatch(fake_gateway *f, int shard, const char *t, const char *d_json);

/* ---- faults (shard < 0 = every identified connection) ------------------------------------- */

void fake_gateway_set_heartbeat_interval(fake_gateway *f, uint32_t ms); /* for the next HELLOs */
void fake_gateway_set_ack(fake_gateway *f, bool ack);              /* false: stop ACKing (zombie) */
void fake_gateway_set_zlib_split(fake_gateway *f, unsigned parts); /* split compressed messages */
void fake_gateway_set_resume_fails(fake_gateway *f, bool fail); /* every RESUME gets op 9 false */
/* Holds every outgoing frame in its queue until unpaused (to order a race deterministically,
 * e.g. op 7 followed by dispatches the client must get by replay). */
void fake_gateway_set_paused(fake_gateway *f, bool paused);
void fake_gateway_set_budget(fake_gateway *f, uint32_t remaining, uint64_t reset_after_ms);
/* Needs stall_front. true: new websocket connections are accepted at the TCP level and never
 * answered (no upgrade response, ever); false: they are served again. Connections already
 * open are not affected; ones accepted while stalled stay silent. */
void fake_gateway_set_stall(fake_gateway *f, bool stall);
void fake_gateway_request_heartbeat(fake_gateway *f, int shard);                    /* op 1 */
void fake_gateway_send_reconnect(fake_gateway *f, int shard);                       /* op 7 */
void fake_gateway_send_invalid_session(fake_gateway *f, int shard, bool resumable); /* op 9 */
void fake_gateway_close(fake_gateway *f, int shard, int code); /* close frame with this code */
void fake_gateway_drop(fake_gateway *f, int shard);            /* kill TCP, no close frame */
/* Sends raw bytes as one websocket message (text or binary), bypassing compression. */
void fake_gateway_send_raw(fake_gateway *f, int shard, const void *data, size_t len, bool binary);
/* Sends a text frame (compressed on compressed connections) without numbering it. */
void fake_gateway_send_frame(fake_gateway *f, int shard, const char *json);

/* ---- observation ---------------------------------------------------------------------- */

/* Pseudo-opcodes of records that are not client frames. */
#define FAKE_GATEWAY_REC_INVALID (-1) /* a client frame that was not a JSON object with an op */
#define FAKE_GATEWAY_REC_HELLO (-2)   /* the server sent HELLO (payload: its d) */
#define FAKE_GATEWAY_REC_CLOSED (-3)  /* the connection ended */

typedef struct fake_gateway_record {
    uint64_t conn_id;
    int shard;      /* -1 until the connection identified or resumed */
    int op;         /* the client frame's op, or one of FAKE_GATEWAY_REC_* */
    uint64_t at_ms; /* monotonic */
    char *payload;  /* owned copy of the frame text */
    size_t len;
} fake_gateway_record;

/* Copies every record so far; free with fake_gateway_records_free. */
size_t fake_gateway_records(fake_gateway *f, fake_gateway_record **out);
void fake_gateway_records_free(fake_gateway_record *r, size_t n);

typedef struct fake_gateway_stats {
    uint64_t connections; /* websocket connections accepted */
    uint64_t open_connections;
    uint64_t ready_connections; /* identified or resumed and still open */
    uint64_t http_requests;
    uint64_t http_unauthorized;
    uint64_t identifies; /* IDENTIFY frames received */
    uint64_t ready_sent;
    uint64_t resumes;         /* RESUME frames received */
    uint64_t resumed_sent;    /* resumes that succeeded */
    uint64_t resume_rejected; /* answered with op 9 false */
    uint64_t replayed;        /* dispatches re-sent on resume */
    uint64_t heartbeats;      /* op 1 frames received */
    uint64_t acks_sent;
    uint64_t dispatches_sent; /* op 0 frames written (READY etc. included) */
    uint64_t frames_received;
    uint64_t client_closes; /* close frames received from clients */
    int last_client_close_code;
    uint64_t identify_spacing_violations; /* identify within the interval: op 9 false sent */
    uint64_t rate_violations;             /* > 120 frames / 60 s: closed 4008 */
    uint64_t budget_violations;           /* identify with remaining == 0: closed 4004 */
    uint64_t max_frames_in_window;        /* most client frames seen in any 60 s window */
    int64_t min_identify_gap_ms; /* smallest gap between identifies of one bucket (whole ms,
                                    rounded down); -1 none */
    uint32_t session_remaining;
    uint64_t stalled_connections; /* TCP connections held silent by the stall front */
} fake_gateway_stats;

void fake_gateway_get_stats(fake_gateway *f, fake_gateway_stats *out);

/* Waits until pred(stats, ctx) is true (re-evaluated whenever something happens) or
 * timeout_ms passes. Returns the final verdict. */
bool fake_gateway_wait(fake_gateway *f, bool (*pred)(const fake_gateway_stats *s, void *ctx),
                       void *ctx, int timeout_ms);
/* Waits until at least n frames with opcode op were received. */
bool fake_gateway_wait_op(fake_gateway *f, int op, unsigned n, int timeout_ms);
unsigned fake_gateway_count_op(fake_gateway *f, int op);
/* Number of close frames received from clients with this code. */
unsigned fake_gateway_client_close_count(fake_gateway *f, int code);

#endif
