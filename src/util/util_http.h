/*
 * util_http: the one bounded, blocking HTTP GET of the process (libcurl easy) for the callers
 * that need a single answer on their own thread: the gateway's GET /gateway/bot, the operator
 * command `fluxbot check`, and the ComfyUI workers' User-Agent. The body is capped (a larger one
 * fails the call instead of filling memory), the User-Agent is written here once, and a cancel
 * hook lets an actor abort the transfer when it is asked to stop. The bot's own Discord traffic
 * goes through the REST actor, which shares only the User-Agent.
 */
#ifndef FLUXBOT_UTIL_HTTP_H
#define FLUXBOT_UTIL_HTTP_H

#include <stdbool.h>
#include <stddef.h>

/* Discord asks every client for "DiscordBot (url, version)"; everything else accepts it too. */
#define UTIL_HTTP_USER_AGENT "DiscordBot (https://github.com/fluxbot/fluxbot, " FLUXBOT_VERSION ")"

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

/* GET url (http or https only; redirects are not followed). 0 when a response arrived (any
 * status), -1 otherwise with error set. Free with util_http_res_free either way. */
int util_http_get(const char *url, const util_http_opts *o, util_http_res *out);
void util_http_res_free(util_http_res *r);

#endif
