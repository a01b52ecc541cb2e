/*
 * util_http: the one bounded, blocking HTTP GET of the process (libcurl easy) for the callers
 * that need a single answer on their own thread: the gateway's GET /gateway/bot and the operator
 * command `fluxbot check` call util_http_get; the ComfyUI workers, which keep one handle per
 * thread for keep-alive, set their handle up with util_http_prepare (the same capped body, the
 * same User-Agent, the same protocol and signal rules). The body is capped (a larger one fails
 * the call instead of filling memory), the User-Agent is written here once (the REST actor
 * formats it with UTIL_HTTP_USER_AGENT_FOR), and a cancel hook lets an actor abort the transfer
 * when it is asked to stop (util_http_opts.cancel here; util_http_set_cancel on the workers'
 * own handles). Any thread; nothing here is shared between calls.
 */
#ifndef FLUXBOT_UTIL_HTTP_H
#define FLUXBOT_UTIL_HTTP_H

#include <stdbool.h>
#include <stddef.h>

#include <curl/curl.h>

/* Discord asks every client for "DiscordBot (url, version)"; everything else accepts it too.
 * version: a string literal ("%s" for a format). */
#define UTIL_HTTP_USER_AGENT_FOR(version)                                                          \
    "DiscordBot (https://github.com/fluxbot/fluxbot, " version ")"
#define UTIL_HTTP_USER_AGENT UTIL_HTTP_USER_AGENT_FOR(FLUXBOT_VERSION)

typedef struct util_http_opts {
    const char *authorization; /* the whole header value ("Bot <token>"), or NULL */
    long timeout_ms;           /* the whole call; 0 = 10000 */
    size_t max_bytes;          /* body cap; 0 = 1 MiB */
    /* Polled during the transfer; returning true aborts it (error "cancelled"). NULL: never. */
    bool (*cancel)(void *ctx);
    void *cancel_ctx;
} util_http_opts;

typedef struct util_http_res {
    long status; /* 0 when no response */
    char *body;  /* malloc'd, NUL-terminated, may be NULL */
    size_t len;
    bool too_large;  /* the body went over max_bytes */
    bool cancelled;  /* the cancel hook stopped it */
    char error[256]; /* transport error, "" otherwise */
} util_http_res;

/* A response body capped at max: a transfer that would go over it is failed (too_large). */
typedef struct util_http_body {
    char *data; /* malloc'd, NUL-terminated (len excludes the NUL); NULL until data arrives */
    size_t len, cap;
    size_t max;
    bool too_large;
} util_http_body;

/* Sets on the easy handle c what every bounded call of the process has: url, the User-Agent,
 * the body into *body (capped at body->max, also announced as CURLOPT_MAXFILESIZE), http and
 * https only, no signals, timeout_ms for the whole call. The caller adds its own options
 * (headers, redirects, connect timeout) and performs. */
void util_http_prepare(CURL *c, const char *url, util_http_body *body, long timeout_ms);

/* The cancel hook of a transfer: fn(ctx) is polled while the transfer runs (libcurl's progress
 * callback: at least about once a second even while the peer sends nothing, so a stalled body
 * is cut within a second of fn turning true); true aborts the transfer and sets fired. The hook
 * must outlive the transfer. A handle reset with curl_easy_reset loses it: set it again. */
typedef struct util_http_cancel {
    bool (*fn)(void *ctx);
    void *ctx;
    bool fired; /* fn stopped the latest transfer */
} util_http_cancel;

/* Arms k on the easy handle c for its next transfers (k->fired cleared); k->fn NULL: no hook. */
void util_http_set_cancel(CURL *c, util_http_cancel *k);

/* GET url (http or https only; redirects are not followed). 0 when a response arrived (any
 * status), -1 otherwise with error set. Free with util_http_res_free either way. */
int util_http_get(const char *url, const util_http_opts *o, util_http_res *out);
void util_http_res_free(util_http_res *r);

#endif
