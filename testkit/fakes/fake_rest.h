/*
 * A fake Discord REST API on loopback: a libwebsockets HTTP/1.1 server on 127.0.0.1 (ephemeral
 * port, own service thread) answering the routes the bot uses the way Discord does, so that curl
 * (or any Discord client library) cannot tell it from the real thing at the protocol level.
 *
 * Routes (all under /api/v10):
 *   GET    /gateway/bot                               the fake gateway URL it was given
 *   GET    /users/@me                                 the bot user
 *   PUT    /applications/{app}/commands               bulk overwrite (validated, stored)
 *   PUT    /applications/{app}/guilds/{g}/commands    same, per guild
 *   POST   /interactions/{id}/{token}/callback        known interactions only; 3-second deadline
 *                                                     from injection; a second ack is 400/40060;
 *                                                     unknown or late is 404/10062
 *   GET|PATCH|DELETE /webhooks/{app}/{token}/messages/@original
 *   POST   /webhooks/{app}/{token}                    follow-up (JSON or multipart)
 *   DELETE /channels/{c}/messages/{m}
 * Bodies are JSON or multipart/form-data (payload_json + files[n]); parts are stored byte for
 * byte. Every response carries X-RateLimit-* headers from per-route buckets (and a 429 when a
 * bucket or the global 50/s is exceeded, if enforcement is on). Bot routes need
 * "Authorization: Bot <token>" (401 otherwise); interaction and webhook routes authenticate by
 * their token, as on Discord. Expect: 100-continue is honoured; chunked request bodies get 411.
 *
 * Faults can be scripted (the next N matching requests get a 429 of a scope, a 5xx, a dropped
 * connection, a delay or a 401), and everything received is recorded with a thread-safe
 * query/wait API for tests.
 *
 * Thread-safety: every fake_rest_* function may be called from any thread.
 */
#ifndef FLUXBOT_FAKES_FAKE_REST_H
#define FLUXBOT_FAKES_FAKE_REST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct fake_rest fake_rest;

typedef struct fake_rest_config {
    const char *token;                /* the valid bot token (required) */
    uint64_t application_id;          /* 0: one is generated */
    const char *gateway_url;          /* what GET /gateway/bot returns ("ws://127.0.0.1:N") */
    uint32_t shards;                  /* /gateway/bot "shards" (default 1) */
    uint32_t max_concurrency;         /* default 1 */
    uint32_t session_start_remaining; /* default 1000 */
    uint32_t callback_deadline_ms;    /* default 3000 */
    uint32_t bucket_limit;            /* requests per bucket window advertised (default 5) */
    uint32_t bucket_window_ms;        /* default 1000 */
    bool enforce_limits;              /* answer 429 (user) beyond a bucket's limit, and 429 (global)
                                         beyond 50/s on non-exempt routes */
    size_t max_body;                  /* default 32 MiB; larger bodies get 413 */
    unsigned keepalive_s;             /* idle keep-alive connections are closed after this many
                                         seconds (0: libwebsockets' default, 5) */
    /* When set, GET /gateway/bot serves what this writes (a JSON object; returns its length),
     * so a fake gateway owning the session budget stays the one source of truth. */
    int (*gateway_bot_json)(void *ctx, char *buf, size_t cap);
    void *gateway_bot_ctx;
} fake_rest_config;

/* Starts the server thread. NULL on failure (message on stderr). */
fake_rest *fake_rest_start(const fake_rest_config *cfg);
/* Stops the thread and frees everything (recorded requests included). NULL is ignored. */
void fake_rest_stop(fake_rest *f);

uint16_t fake_rest_port(const fake_rest *f);
/* "http://127.0.0.1:<port>/api/v10" — what DISCORD_API_BASE should be. */
const char *fake_rest_base_url(const fake_rest *f);
uint64_t fake_rest_application_id(const fake_rest *f);
void fake_rest_set_gateway_url(fake_rest *f, const char *url);

/* ---- interactions ------------------------------------------------------------------------- */

/* Makes an interaction known (as injecting it through the gateway does on Discord); its
 * 3-second callback deadline starts now. channel_id is where its messages go. */
void fake_rest_register_interaction(fake_rest *f, uint64_t id, const char *token,
                                    uint64_t channel_id, bool is_component);
/* Marks a registered interaction as a modal submit: it may update the message of the modal's
 * button (types 6, 7) but never answer with another modal (type 9), as on Discord. */
void fake_rest_set_modal_submit(fake_rest *f, uint64_t id);

typedef struct fake_rest_ix_state {
    bool known;
    unsigned callbacks;  /* callback POSTs received (accepted or not) */
    int ack_type;        /* callback type of the accepted ack, 0 if none */
    int64_t ack_ms;      /* ms from registration to the accepted ack, -1 if none */
    bool late;           /* a callback arrived after the deadline */
    unsigned edits;      /* PATCH @original accepted */
    unsigned file_edits; /* of those, multipart (a result with its file): a job delivered twice
                            to one interaction shows here as 2 */
    unsigned followups;  /* POST follow-ups accepted */
    bool original_deleted;
    char *original_json; /* malloc'd copy of the current @original message, or NULL */
} fake_rest_ix_state;

/* A component interaction's message (an id the fake knows from a message it created): after a
 * type-6 ack, DELETE of its @original deletes that message, as on Discord. */
void fake_rest_set_component_message(fake_rest *f, uint64_t id, uint64_t message_id);
/* True once message_id was deleted (through either route). */
bool fake_rest_message_deleted(fake_rest *f, uint64_t message_id);

/* Fills out (caller frees out->original_json); false if the id was never registered. */
bool fake_rest_interaction_state(fake_rest *f, uint64_t id, fake_rest_ix_state *out);

/* Stores a file served (without auth, like the CDN) at the returned id's URL,
 * "http://127.0.0.1:<port>/attachments/<id>/<filename>", written to url. Files uploaded in
 * message edits and follow-ups are served the same way (their message's attachment url). */
uint64_t fake_rest_add_attachment(fake_rest *f, const char *filename, const char *content_type,
                                  const uint8_t *data, size_t len, char *url, size_t url_cap);

/* ---- faults ---------------------------------------------------------------------------------- */

typedef enum fake_rest_fault {
    FAKE_REST_FAULT_429_USER = 1,
    FAKE_REST_FAULT_429_GLOBAL,
    FAKE_REST_FAULT_429_SHARED,
    FAKE_REST_FAULT_500,
    FAKE_REST_FAULT_502,
    FAKE_REST_FAULT_503,
    FAKE_REST_FAULT_DROP,  /* close the connection without an answer */
    FAKE_REST_FAULT_DELAY, /* answer normally after `ms` */
    FAKE_REST_FAULT_401,
    FAKE_REST_FAULT_403, /* 403 Missing Access (50001): the bot cannot see the channel */
    /* The request is carried out (its state changes), then its answer is cut: the status line,
     * the headers (with the full Content-Length) and half of the body are written and the
     * connection is closed, as when a peer dies mid-response. */
    FAKE_REST_FAULT_TRUNCATE,
} fake_rest_fault;

/* The next `count` requests whose method matches (NULL: any) and whose path (after /api/v10)
 * starts with path_prefix (NULL: any) get the fault; `ms` is Retry-After for 429s or the delay.
 * Faulted requests are recorded too (with the status they got), but change no state (except
 * FAKE_REST_FAULT_TRUNCATE, which is carried out). */
void fake_rest_script(fake_rest *f, const char *method, const char *path_prefix,
                      fake_rest_fault fault, uint32_t ms, unsigned count);
/* An outage: every matching request gets the fault (a 5xx or a drop) for duration_ms from now,
 * however many arrive. */
void fake_rest_outage(fake_rest *f, const char *method, const char *path_prefix,
                      fake_rest_fault fault, uint32_t duration_ms);

/* ---- recorder ---------------------------------------------------------------------------------
 */

typedef struct fake_rest_part {
    char *name;         /* form field name: "payload_json", "files[0]", ... */
    char *filename;     /* NULL when the part has none */
    char *content_type; /* NULL when the part has none */
    uint8_t *data;
    size_t len;
} fake_rest_part;

typedef struct fake_rest_request {
    uint64_t seq;     /* 1, 2, ... in arrival order */
    int64_t t_ms;     /* ms since the server started, when the headers arrived */
    uint64_t mono_ns; /* the same instant, CLOCK_MONOTONIC ns (for latency measurements) */
    char method[8];
    char *path;          /* after /api/v10, without the query */
    char *query;         /* NULL when none */
    char *authorization; /* NULL when absent */
    char *user_agent;
    char *content_type;
    char *audit_reason;
    uint8_t *body; /* exactly as received (NUL-terminated for convenience) */
    size_t body_len;
    fake_rest_part *parts; /* parsed multipart parts */
    unsigned nparts;
    int status;              /* what the fake answered (0: dropped) */
    uint64_t interaction_id; /* callbacks: the interaction */
} fake_rest_request;

typedef struct fake_rest_filter {
    const char *method;      /* NULL: any */
    const char *path_prefix; /* NULL: any */
    int status;              /* 0: any */
} fake_rest_filter;

size_t fake_rest_count(fake_rest *f, const fake_rest_filter *flt);
/* Blocks until at least n recorded requests match (or timeout_ms passes); returns the count. */
size_t fake_rest_wait(fake_rest *f, const fake_rest_filter *flt, size_t n, int64_t timeout_ms);
/* Deep copies of the matching requests in arrival order (*out malloc'd; free with
 * fake_rest_requests_free). Returns how many. */
size_t fake_rest_collect(fake_rest *f, const fake_rest_filter *flt, fake_rest_request **out);
void fake_rest_requests_free(fake_rest_request *reqs, size_t n);
/* The stored command array (JSON) of the last accepted bulk PUT, global when guild_id is 0;
 * malloc'd, or NULL if none. */
char *fake_rest_commands_json(fake_rest *f, uint64_t guild_id);

/* What a request was, by what it asks of Discord (its method, route and body), whatever the
 * answer: benchmarks compare the calls two bots make per interaction by these. */
typedef enum fake_rest_kind {
    FAKE_REST_KIND_DEFER,         /* interaction callback of type 5 or 6 (a deferral) */
    FAKE_REST_KIND_CALLBACK,      /* interaction callback of another type (or unreadable) */
    FAKE_REST_KIND_EDIT,          /* PATCH .../messages/@original, JSON body */
    FAKE_REST_KIND_EDIT_FILE,     /* PATCH .../messages/@original, multipart (files) */
    FAKE_REST_KIND_FOLLOWUP,      /* POST /webhooks/{app}/{token} (a follow-up message) */
    FAKE_REST_KIND_WEBHOOK_OTHER, /* any other webhook call (GET or DELETE @original, ...) */
    FAKE_REST_KIND_BOT,           /* every other route (bot token: gateway, users, commands...) */
    FAKE_REST_KIND_COUNT
} fake_rest_kind;
/* "defer", "callback", "edit", "edit_file", "followup", "webhook_other", "bot". */
const char *fake_rest_kind_name(fake_rest_kind k);

/* Counters of what was answered. */
typedef struct fake_rest_stats {
    uint64_t requests, r2xx, r4xx, r5xx, r429, dropped;
    uint64_t connections; /* TCP connections accepted (keep-alive reuse keeps this low) */
    uint64_t kinds[FAKE_REST_KIND_COUNT]; /* every request received, by kind (sums to requests) */
} fake_rest_stats;
void fake_rest_stats_get(fake_rest *f, fake_rest_stats *out);

#endif
