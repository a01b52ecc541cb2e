/*
 * fuzz_metrics_http: the request side of the Prometheus exporter — what any local process can
 * send to the metrics port — through metrics_http_route, called the way the exporter calls it:
 * on everything received so far, after each read (the read sizes come from the input).
 *
 * Invariants asserted, beyond "no crash, no sanitizer report":
 *  - before the blank line ending the headers, the answer is INCOMPLETE, or TOO_LARGE once
 *    METRICS_MAX_REQUEST bytes have arrived — never a route guessed from a partial request;
 *  - once the headers are complete the answer never changes as more bytes arrive (a body or
 *    pipelined bytes cannot change the route);
 *  - only a well-formed "GET /metrics[?query] HTTP/1.x" (HEAD for HEAD) is served.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "app/metrics.h"
#include "fuzz_support.h"

static size_t header_end(const char *p, size_t len)
{
    for (size_t i = 0; i + 3 < len; i++)
        if (memcmp(p + i, "\r\n\r\n", 4) == 0) return i + 4;
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1 || size > 4 * METRICS_MAX_REQUEST) return 0;
    unsigned step = 1 + data[0] % 64u * 37u; /* bytes per read: 1 .. 2332 */
    const size_t len = size - 1;
    char *req = malloc(len ? len : 1); /* exact size: no read past what arrived */
    if (!req) abort();
    memcpy(req, data + 1, len);
    const size_t hend = header_end(req, len);
    metrics_route settled = METRICS_ROUTE_INCOMPLETE;
    for (size_t got = step < len ? step : len;; got = got + step < len ? got + step : len) {
        metrics_route r = metrics_http_route(req, got);
        if (hend == 0 || got < hend) {
            if (got >= METRICS_MAX_REQUEST)
                FZ_ASSERT(r == METRICS_ROUTE_TOO_LARGE, "oversized headers not refused", NULL);
            else
                FZ_ASSERT(r == METRICS_ROUTE_INCOMPLETE, "routed before the headers ended", NULL);
            if (r == METRICS_ROUTE_TOO_LARGE) break; /* the exporter answers 431 and closes */
        } else {
            FZ_ASSERT(r != METRICS_ROUTE_INCOMPLETE, "complete headers still incomplete", NULL);
            if (settled == METRICS_ROUTE_INCOMPLETE) settled = r;
            FZ_ASSERT(r == settled, "route changed after the headers ended", NULL);
            if (r == METRICS_ROUTE_METRICS)
                FZ_ASSERT(len >= 14 && memcmp(req, "GET /metrics", 12) == 0 &&
                              (req[12] == ' ' || req[12] == '?'),
                          "served something other than GET /metrics", NULL);
            if (r == METRICS_ROUTE_HEAD_METRICS)
                FZ_ASSERT(memcmp(req, "HEAD /metrics", 13) == 0, "HEAD route for another request",
                          NULL);
        }
        if (got == len) break;
    }
    free(req);
    return 0;
}
