/*
 * The metrics exporter's HTTP request parser: pure (buffer in, verdict out; no sockets, no
 * threads, no allocation) so it can be unit-tested and fuzzed on its own. The exporter's event
 * loop (metrics.c) feeds it the bytes a connection has sent so far, after every read, and acts
 * on the verdict.
 *
 * What is accepted: "METHOD SP target SP HTTP/1.0|1.1 CRLF", then header lines "name: value"
 * (name = RFC 9110 token characters), then an empty line, all within METRICS_HTTP_MAX_REQUEST bytes
 * and METRICS_HTTP_MAX_HEADERS header lines. Everything else is 400, and anything bigger is 431
 * (decided as soon as the limit is crossed, so a client cannot make the exporter buffer more).
 * Only GET and HEAD of /metrics are served (the query string is ignored: Prometheus may add
 * parameters); other paths are 404, other methods 405.
 */
#ifndef FLUXBOT_APP_METRICS_HTTP_H
#define FLUXBOT_APP_METRICS_HTTP_H

#include <stddef.h>

typedef enum metrics_http_outcome {
    METRICS_HTTP_INCOMPLETE = 0, /* no blank line yet: read more */
    METRICS_HTTP_METRICS,        /* GET /metrics (200) */
    METRICS_HTTP_HEAD_METRICS,   /* HEAD /metrics (200, no body) */
    METRICS_HTTP_NOT_FOUND,      /* 404 */
    METRICS_HTTP_BAD_METHOD,     /* 405 */
    METRICS_HTTP_BAD_REQUEST,    /* 400 */
    METRICS_HTTP_TOO_LARGE,      /* 431: the head is over METRICS_HTTP_MAX_REQUEST bytes or
                                     METRICS_HTTP_MAX_HEADERS lines */
} metrics_http_outcome;

#define METRICS_HTTP_MAX_REQUEST 8192 /* bytes of request line + headers + blank line */
#define METRICS_HTTP_MAX_HEADERS 64

typedef struct metrics_http_request {
    metrics_http_outcome route;
    size_t head_len;  /* bytes up to and including the blank line; 0 while incomplete */
    unsigned headers; /* header lines seen */
} metrics_http_request;

/* Parses the bytes received so far (not NUL-terminated; any byte values). out may be NULL.
 * Returns the route (also in out->route). */
metrics_http_outcome metrics_http_parse_request(const char *buf, size_t len,
                                                metrics_http_request *out);

/* Same verdict, without the details. */
metrics_http_outcome metrics_http_route(const char *req, size_t len);

#endif
