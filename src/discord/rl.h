/*
 * Discord REST rate limiting, as pure bookkeeping: no threads, no sockets, no clock of its own.
 * Every function takes "now" (monotonic milliseconds) from the caller, so tests drive it with
 * synthetic headers and an injected clock, and the discord_rest actor drives it with rt_now_ms().
 *
 * The model (docs: topics/rate-limits.mdx; see docs/rest.md for the reasoning):
 *  - A request's route is METHOD + path template; its major parameter is the top-level resource
 *    (channels/{id}, guilds/{id}, webhooks/{id}[/{token}], interactions/{id}/{token}). Two
 *    interactions therefore never share a bucket, so their callbacks never queue behind each other.
 *  - A bucket is (learned X-RateLimit-Bucket hash of the route, or the route itself until a hash
 *    is known) + major parameter. It tracks limit, remaining, reset time and requests in flight;
 *    a bucket never seen allows one request in flight until the first response teaches its limits.
 *  - A global sliding window of `global_per_sec` sends per second, which interaction and webhook
 *    token routes are exempt from (they are not bound by the bot's global limit).
 *  - 429 by X-RateLimit-Scope: global pauses every non-exempt route (never interaction callbacks
 *    or interaction webhooks, whichever route got it); shared blocks that bucket for Retry-After
 *    without counting as an invalid request; user empties the bucket until reset. No 429 pauses
 *    anything longer than max_retry_after_ms, and a Retry-After beyond it fails the request.
 *  - 5xx and network errors are retried with exponential backoff, a bounded number of times, or
 *    until the ticket's retry_until_ms for requests that must get through.
 *    401 is fatal: the token is wrong and every later request would fail too.
 *
 * Usage, per request: rl_ticket_init, then rl_acquire until it says RL_SEND (else sleep until
 * *wake_at, or until any in-flight request completes), send, then rl_complete with the status and
 * headers; on RL_RETRY go back to rl_acquire. A ticket that is abandoned while in flight must be
 * given back with rl_release.
 *
 * Not thread-safe: one owner (the REST actor's loop thread).
 */
#ifndef FLUXBOT_DISCORD_RATELIMIT_H
#define FLUXBOT_DISCORD_RATELIMIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define RL_ROUTE_MAX 192 /* "PATCH /webhooks/{id}/{token}/messages/@original" and friends */
#define RL_MAJOR_MAX 320 /* "interactions/<id>/<token>"; tokens are a few hundred bytes at most */
#define RL_HASH_MAX 72   /* X-RateLimit-Bucket values are short opaque hashes */
#define RL_PATH_MAX 2048

/* Means "no timed wake-up needed: wait until an in-flight request of that bucket completes". */
#define RL_WAKE_ON_COMPLETION UINT64_MAX

typedef enum rl_scope {
    RL_SCOPE_NONE = 0,
    RL_SCOPE_USER,
    RL_SCOPE_GLOBAL,
    RL_SCOPE_SHARED,
} rl_scope;

/* The rate-limit facts of one response, gathered from its headers (and 429 body). */
typedef struct rl_headers {
    bool has_limit, has_remaining, has_reset_after, has_retry_after;
    uint32_t limit;
    uint32_t remaining;
    uint64_t reset_after_ms;  /* X-RateLimit-Reset-After, rounded up to whole ms */
    uint64_t retry_after_ms;  /* max of Retry-After header and the body's retry_after */
    char bucket[RL_HASH_MAX]; /* X-RateLimit-Bucket, "" when absent or unusable */
    rl_scope scope;           /* X-RateLimit-Scope */
    bool global;              /* X-RateLimit-Global: true, or "global": true in the body */
} rl_headers;

void rl_headers_init(rl_headers *h);
/* Feeds one raw header line ("Name: value", CRLF optional), as curl's header callback delivers
 * it. Unknown headers and malformed values are ignored. */
void rl_headers_feed(rl_headers *h, const char *line, size_t len);
/* Feeds a 429 JSON body ({"retry_after": 1.5, "global": false, ...}); ignored if malformed. */
void rl_headers_feed_body(rl_headers *h, const char *body, size_t len);

typedef struct rl_config {
    uint32_t global_per_sec;  /* proactive global limit; Discord's is 50 */
    uint32_t max_retries;     /* retries after 5xx or network errors */
    uint32_t max_429_retries; /* retries after 429 */
    uint64_t backoff_base_ms; /* first retry delay after a 5xx/network error; doubles each time */
    uint64_t backoff_max_ms;
    uint64_t max_retry_after_ms; /* a 429 asking to wait longer than this fails the request */
    uint64_t idle_gc_ms;         /* an idle, expired bucket is forgotten after this */
} rl_config;

void rl_config_defaults(rl_config *c);

/* The identity of a request for rate limiting. */
typedef struct rl_route {
    char key[RL_ROUTE_MAX];   /* "POST /interactions/{id}/{token}/callback" */
    char major[RL_MAJOR_MAX]; /* "interactions/123/tok", "channels/42", "" when none */
    bool global_exempt;       /* interaction and webhook-token routes */
} rl_route;

/* Derives route and major parameter from a method name ("GET", ...) and an API path such as
 * "/channels/42/messages/7" (a query string is ignored). Multipart uploads are plain POST/PATCH
 * here: the body encoding never changes the key. Returns 0, or -1 when the path is not a clean
 * API path (must start with '/', printable ASCII without spaces, bounded length). */
int rl_route_of(const char *method, const char *path, rl_route *out);

typedef struct rl_bucket rl_bucket;

/* What the last 429 of a ticket did, for the caller's log line. */
typedef struct rl_429_info {
    rl_scope scope;     /* RL_SCOPE_NONE: no 429 yet */
    uint64_t asked_ms;  /* the Retry-After Discord asked for */
    uint64_t pause_ms;  /* what was imposed: asked_ms capped at max_retry_after_ms */
    bool paused_global; /* every non-exempt route was paused for pause_ms */
} rl_429_info;

/* Per-request limiter state, owned by whoever owns the request. */
typedef struct rl_ticket {
    rl_route route;
    rl_bucket *held;        /* bucket whose in-flight slot this ticket holds, or NULL */
    uint32_t sends;         /* how many times rl_acquire said RL_SEND */
    uint32_t retries_error; /* 5xx / network retries used */
    uint32_t retries_429;   /* 429 retries used */
    uint64_t not_before_ms; /* backoff after an error */
    /* 0: 5xx/network errors and 429s are retried max_retries / max_429_retries times. Else the
     * request must get through: it is retried (backoff doubling up to backoff_max_ms) as long
     * as the next attempt can start before this time (same clock as now_ms), e.g. until an
     * interaction token expires, so a few seconds of 5xx cannot lose a finished result. Set it
     * after rl_ticket_init. */
    uint64_t retry_until_ms;
    uint64_t first_wait_ms; /* when this ticket first had to wait (0: not waiting) */
    uint64_t waited_ms;     /* total time spent waiting for the limiter */
    rl_429_info last_429;   /* filled by rl_complete on a 429 */
} rl_ticket;

/* 0, or -1 when the path is invalid (see rl_route_of). */
int rl_ticket_init(rl_ticket *t, const char *method, const char *path);

typedef enum rl_verdict {
    RL_SEND = 0, /* send it now; the ticket holds an in-flight slot */
    RL_WAIT,  /* not yet: try again at *wake_at (or on RL_WAKE_ON_COMPLETION, after any completion)
               */
    RL_FATAL, /* the limiter saw a 401: no request may be sent any more */
} rl_verdict;

typedef enum rl_outcome {
    RL_DONE = 0,   /* final result: hand the response to the requester */
    RL_RETRY,      /* send again: call rl_acquire (which enforces the backoff/Retry-After) */
    RL_GIVE_UP,    /* retries exhausted or Retry-After too long: report the last response */
    RL_FATAL_AUTH, /* 401: stop the bot */
} rl_outcome;

typedef struct rl_limiter rl_limiter;

/* NULL config means defaults. Returns NULL only on out-of-memory. */
rl_limiter *rl_new(const rl_config *cfg);
void rl_free(rl_limiter *l);

rl_verdict rl_acquire(rl_limiter *l, rl_ticket *t, uint64_t now_ms, uint64_t *wake_at);
/* status: HTTP status, or 0 when no response arrived (connect error, timeout, reset).
 * h may be NULL when there were no headers. Gives back the in-flight slot. */
rl_outcome rl_complete(rl_limiter *l, rl_ticket *t, int status, const rl_headers *h,
                       uint64_t now_ms);
/* Gives back an in-flight slot without a response (request abandoned). Idempotent. */
void rl_release(rl_limiter *l, rl_ticket *t);

/* Forgets idle expired buckets; also done automatically every few hundred acquisitions. */
void rl_gc(rl_limiter *l, uint64_t now_ms);

typedef struct rl_stats {
    uint64_t sends;   /* RL_SEND verdicts */
    uint64_t waits;   /* RL_WAIT verdicts */
    uint64_t retries; /* RL_RETRY outcomes */
    uint64_t give_ups;
    uint64_t r429_user, r429_global, r429_shared;
    uint64_t errors_5xx, errors_network;
    uint64_t
        invalid_10min; /* 401/403/non-shared 429 in the last 10 minutes (Cloudflare ban at 10k) */
    uint64_t buckets;  /* buckets currently known */
    uint64_t routes_hashed; /* routes whose bucket hash was learned */
    uint64_t in_flight;
    uint64_t global_paused_until_ms;
    bool fatal;
} rl_stats;

void rl_stats_get(const rl_limiter *l, uint64_t now_ms, rl_stats *out);

#endif
