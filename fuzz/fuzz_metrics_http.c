/*
 * fuzz_metrics_http: the request side of the Prometheus exporter — what any local process can
 * send to the metrics port — through the exporter's pure request parser
 * (metrics_http_parse_request, app/metrics_http.h), called the way the exporter's event loop
 * calls it: on everything received so far, after each read (read sizes come from the input).
 *
 * Invariants asserted, beyond "no crash, no sanitizer report":
 *  - before a blank line within the first METRICS_HTTP_MAX_REQUEST bytes, the answer is INCOMPLETE,
 *    or TOO_LARGE as soon as METRICS_HTTP_MAX_REQUEST bytes have arrived — never a route guessed
 *    from a partial request, and never more buffering than the limit;
 *  - once the head is complete the answer never changes as more bytes arrive (a body or
 *    pipelined bytes cannot change the route), head_len is where the blank line ends, within
 *    the limit, and at most METRICS_HTTP_MAX_HEADERS header lines were accepted;
 *  - only a well-formed "GET /metrics[?query] HTTP/1.x" (HEAD for HEAD) is served;
 *  - metrics_http_route gives the same verdict as metrics_http_parse_request.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "app/metrics_http.h"
#include "fuzz_support.h"

/* Where the head ends (just past the blank line) if it lies within the limit, else 0. */
static size_t head_end(const char *p, size_t len)
{
    size_t scan = len < METRICS_HTTP_MAX_REQUEST ? len : METRICS_HTTP_MAX_REQUEST;
    for (size_t i = 0; i + 3 < scan; i++)
        if (memcmp(p + i, "\r\n\r\n", 4) == 0) return i + 4;
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1 || size > 4 * METRICS_HTTP_MAX_REQUEST) return 0;
    unsigned step = 1 + data[0] % 64u * 37u; /* bytes per read: 1 .. 2332 */
    const size_t len = size - 1;
    char *req = malloc(len ? len : 1); /* exact size: no read past what arrived */
    if (!req) abort();
    memcpy(req, data + 1, len);
    const size_t hend = head_end(req, len);
    metrics_http_outcome settled = METRICS_HTTP_INCOMPLETE;
    for (size_t got = step < len ? step : len;; got = got + step < len ? got + step : len) {
        metrics_http_request hr;
        metrics_http_outcome r = metrics_http_parse_request(req, got, &hr);
        FZ_ASSERT(r == hr.route && r == metrics_http_route(req, got), "verdicts disagree", NULL);
        if (hend == 0 || got < hend) {
            if (got >= METRICS_HTTP_MAX_REQUEST)
                FZ_ASSERT(r == METRICS_HTTP_TOO_LARGE, "oversized head not refused", NULL);
            else
                FZ_ASSERT(r == METRICS_HTTP_INCOMPLETE, "routed before the head ended", NULL);
            if (r == METRICS_HTTP_TOO_LARGE) break; /* the exporter answers 431 and closes */
        } else {
            FZ_ASSERT(r != METRICS_HTTP_INCOMPLETE, "complete head still incomplete", NULL);
            if (settled == METRICS_HTTP_INCOMPLETE) settled = r;
            FZ_ASSERT(r == settled, "route changed after the head ended", NULL);
            FZ_ASSERT(hr.head_len == hend, "head_len is not where the blank line ends", NULL);
            FZ_ASSERT(hr.headers <= METRICS_HTTP_MAX_HEADERS, "more header lines than allowed",
                      NULL);
            if (r == METRICS_HTTP_METRICS)
                FZ_ASSERT(memcmp(req, "GET /metrics", 12) == 0 &&
                              (req[12] == ' ' || req[12] == '?'),
                          "served something other than GET /metrics", NULL);
            if (r == METRICS_HTTP_HEAD_METRICS)
                FZ_ASSERT(memcmp(req, "HEAD /metrics", 13) == 0 &&
                              (req[13] == ' ' || req[13] == '?'),
                          "HEAD route for another request", NULL);
        }
        if (got == len) break;
    }
    free(req);
    return 0;
}
