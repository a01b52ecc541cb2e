/* The metrics exporter's pure HTTP request parser (see metrics_http.h). */
#include "app/metrics_http.h"

#include <stdbool.h>
#include <string.h>

/* RFC 9110 tchar */
static bool tchar(unsigned char c)
{
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return true;
    return c != 0 && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

static metrics_http_outcome done(metrics_http_request *out, metrics_http_outcome r)
{
    if (out) out->route = r;
    return r;
}

/* The request line [p, p+n): METHOD SP target SP HTTP/1.x */
static metrics_http_outcome request_line(const char *p, size_t n)
{
    const char *sp1 = memchr(p, ' ', n);
    if (!sp1 || sp1 == p) return METRICS_HTTP_BAD_REQUEST;
    size_t mlen = (size_t)(sp1 - p);
    for (size_t i = 0; i < mlen; i++)
        if (p[i] < 'A' || p[i] > 'Z') return METRICS_HTTP_BAD_REQUEST;
    const char *target = sp1 + 1;
    const char *sp2 = memchr(target, ' ', n - (size_t)(target - p));
    if (!sp2 || sp2 == target) return METRICS_HTTP_BAD_REQUEST;
    size_t tlen = (size_t)(sp2 - target);
    for (size_t i = 0; i < tlen; i++)
        if ((unsigned char)target[i] <= ' ' || (unsigned char)target[i] >= 0x7f)
            return METRICS_HTTP_BAD_REQUEST;
    const char *version = sp2 + 1;
    size_t vlen = n - (size_t)(version - p);
    if (vlen != 8 || memcmp(version, "HTTP/1.", 7) != 0 || (version[7] != '0' && version[7] != '1'))
        return METRICS_HTTP_BAD_REQUEST;

    /* The query string is ignored (Prometheus may add parameters). */
    size_t plen = tlen;
    const char *q = memchr(target, '?', tlen);
    if (q) plen = (size_t)(q - target);
    bool is_metrics = plen == 8 && memcmp(target, "/metrics", 8) == 0;
    if (!is_metrics) return METRICS_HTTP_NOT_FOUND;
    if (mlen == 3 && memcmp(p, "GET", 3) == 0) return METRICS_HTTP_METRICS;
    if (mlen == 4 && memcmp(p, "HEAD", 4) == 0) return METRICS_HTTP_HEAD_METRICS;
    return METRICS_HTTP_BAD_METHOD;
}

/* One header line [p, p+n): name ":" value, no CR, LF or NUL inside. */
static bool header_line(const char *p, size_t n)
{
    size_t i = 0;
    while (i < n && tchar((unsigned char)p[i]))
        i++;
    if (i == 0 || i == n || p[i] != ':') return false; /* also refuses obs-fold (leading blank) */
    for (i++; i < n; i++) {
        unsigned char c = (unsigned char)p[i];
        if (c == '\r' || c == '\n' || c == 0) return false;
    }
    return true;
}

metrics_http_outcome metrics_http_parse_request(const char *buf, size_t len,
                                                metrics_http_request *out)
{
    if (out) memset(out, 0, sizeof *out);
    if (!buf) len = 0;
    /* Only the first METRICS_HTTP_MAX_REQUEST bytes can hold a head we accept. */
    size_t scan = len < METRICS_HTTP_MAX_REQUEST ? len : METRICS_HTTP_MAX_REQUEST;
    size_t end = 0;
    bool found = false;
    for (size_t i = 0; i + 3 < scan; i++) {
        if (buf[i] == '\r' && buf[i + 1] == '\n' && buf[i + 2] == '\r' && buf[i + 3] == '\n') {
            end = i;
            found = true;
            break;
        }
    }
    if (!found)
        return done(out, len >= METRICS_HTTP_MAX_REQUEST ? METRICS_HTTP_TOO_LARGE
                                                         : METRICS_HTTP_INCOMPLETE);
    if (out) out->head_len = end + 4;

    /* Lines of [0, end + 2): each ends with CRLF; the first is the request line. */
    size_t pos = 0;
    metrics_http_outcome route = METRICS_HTTP_BAD_REQUEST;
    unsigned headers = 0;
    bool first = true;
    while (pos < end + 2) {
        const char *lf = memchr(buf + pos, '\n', end + 2 - pos);
        /* a line must end with CRLF: a bare LF (or CR) inside is refused */
        if (!lf || lf == buf + pos || lf[-1] != '\r') return done(out, METRICS_HTTP_BAD_REQUEST);
        size_t n = (size_t)(lf - 1 - (buf + pos));
        if (memchr(buf + pos, '\r', n)) return done(out, METRICS_HTTP_BAD_REQUEST);
        if (first) {
            route = request_line(buf + pos, n);
            if (route == METRICS_HTTP_BAD_REQUEST) return done(out, route);
            first = false;
        } else {
            if (++headers > METRICS_HTTP_MAX_HEADERS) return done(out, METRICS_HTTP_TOO_LARGE);
            if (!header_line(buf + pos, n)) return done(out, METRICS_HTTP_BAD_REQUEST);
        }
        pos = (size_t)(lf - buf) + 1;
    }
    if (out) out->headers = headers;
    return done(out, route);
}

metrics_http_outcome metrics_http_route(const char *req, size_t len)
{
    return metrics_http_parse_request(req, len, NULL);
}
