/* Bodies of the helpers declared in metrics_check.h (see there). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "metrics_check.h"

#include <time.h>

bool metrics_check_name_ok(const char *s, size_t n, bool colon)
{
    if (n == 0) return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        bool ok = isalpha((unsigned char)c) || c == '_' || (colon && c == ':') ||
                  (i > 0 && isdigit((unsigned char)c));
        if (!ok) return false;
    }
    return true;
}

bool metrics_check_belongs(const char *n, size_t nl, const char *fam, const char *type)
{
    size_t fl = strlen(fam);
    if (nl == fl && memcmp(n, fam, fl) == 0) return true;
    if (strcmp(type, "summary") == 0 || strcmp(type, "histogram") == 0) {
        static const char *const sfx[] = {"_sum", "_count", "_bucket"};
        for (int i = 0; i < 3; i++) {
            size_t sl = strlen(sfx[i]);
            if (nl == fl + sl && memcmp(n, fam, fl) == 0 && memcmp(n + fl, sfx[i], sl) == 0)
                return true;
        }
    }
    return false;
}

const char *metrics_check_validate(const char *text, char *where, size_t wcap)
{
    char fams[256][96];
    unsigned nfams = 0;
    char cur[96] = "", curtype[32] = "";
    const char *p = text;
    if (!*text) return "empty";
    if (text[strlen(text) - 1] != '\n') return "does not end with a newline";
    while (*p) {
        const char *e = strchr(p, '\n');
        size_t len = (size_t)(e - p);
        snprintf(where, wcap, "%.*s", (int)len, p);
        if (len == 0) return "empty line";
        if (p[0] == '#') {
            char kind[8], name[96], rest[32];
            if (sscanf(where, "# %7s %95s %31s", kind, name, rest) < 2) return "bad comment";
            if (strcmp(kind, "TYPE") == 0) {
                if (!metrics_check_name_ok(name, strlen(name), true)) return "bad family name";
                for (unsigned i = 0; i < nfams; i++)
                    if (strcmp(fams[i], name) == 0) return "family declared twice";
                if (nfams == 256) return "too many families";
                snprintf(fams[nfams++], sizeof fams[0], "%s", name);
                snprintf(cur, sizeof cur, "%s", name);
                if (strcmp(rest, "counter") && strcmp(rest, "gauge") && strcmp(rest, "summary") &&
                    strcmp(rest, "histogram") && strcmp(rest, "untyped"))
                    return "bad type";
                snprintf(curtype, sizeof curtype, "%s", rest);
            } else if (strcmp(kind, "HELP") == 0) {
                if (!metrics_check_name_ok(name, strlen(name), true)) return "bad HELP name";
            }
        } else {
            const char *q = p;
            while (q < e && *q != '{' && *q != ' ')
                q++;
            if (!metrics_check_name_ok(p, (size_t)(q - p), true)) return "bad sample name";
            if (!cur[0] || !metrics_check_belongs(p, (size_t)(q - p), cur, curtype))
                return "sample outside its family";
            if (strcmp(curtype, "counter") == 0 &&
                !((size_t)(q - p) > 6 && memcmp(q - 6, "_total", 6) == 0))
                return "counter without _total";
            if (q < e && *q == '{') {
                q++;
                while (q < e && *q != '}') {
                    const char *ln = q;
                    while (q < e && *q != '=')
                        q++;
                    if (!metrics_check_name_ok(ln, (size_t)(q - ln), false))
                        return "bad label name";
                    if (q + 1 >= e || q[1] != '"') return "label value not quoted";
                    q += 2;
                    while (q < e && *q != '"') {
                        if (*q == '\\') {
                            if (q + 1 >= e || (q[1] != '\\' && q[1] != '"' && q[1] != 'n'))
                                return "bad escape in label value";
                            q++;
                        }
                        q++;
                    }
                    if (q >= e) return "unterminated label value";
                    q++;
                    if (q < e && *q == ',') q++;
                }
                if (q >= e) return "unterminated label set";
                q++;
            }
            if (q >= e || *q != ' ') return "no space before value";
            q++;
            char val[64];
            snprintf(val, sizeof val, "%.*s", (int)(e - q), q);
            char *end;
            if (strcmp(val, "NaN") && strcmp(val, "+Inf") && strcmp(val, "-Inf")) {
                strtod(val, &end);
                if (end == val || *end) return "value is not a number";
            }
        }
        p = e + 1;
    }
    return NULL;
}

double metrics_check_value(const char *text, const char *series)
{
    size_t sl = strlen(series);
    const char *p = text;
    while (p && *p) {
        if (strncmp(p, series, sl) == 0 && p[sl] == ' ') return strtod(p + sl + 1, NULL);
        p = strchr(p, '\n');
        if (p) p++;
    }
    return NAN;
}

char *metrics_check_scrape(unsigned port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) return NULL;
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons((unsigned short)port);
    struct timeval tv = {5, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    const char req[] = "GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
    if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0 ||
        send(fd, req, sizeof req - 1, MSG_NOSIGNAL) != (ssize_t)(sizeof req - 1)) {
        close(fd);
        return NULL;
    }
    size_t cap = 1 << 16, len = 0;
    char *buf = malloc(cap);
    for (;;) {
        if (len + 1 == cap) buf = realloc(buf, cap *= 2);
        ssize_t n = recv(fd, buf + len, cap - len - 1, 0);
        if (n <= 0) break;
        len += (size_t)n;
    }
    buf[len] = 0;
    close(fd);
    char *body = strstr(buf, "\r\n\r\n");
    if (strncmp(buf, "HTTP/1.1 200", 12) != 0 || !body) {
        free(buf);
        return NULL;
    }
    memmove(buf, body + 4, strlen(body + 4) + 1);
    return buf;
}

/* The kernel's ephemeral range (connect()'s source ports and bind(0)'s); 32768-60999 when
 * it cannot be read. */
static void ephemeral_range(unsigned *lo, unsigned *hi)
{
    *lo = 32768;
    *hi = 60999;
    FILE *f = fopen("/proc/sys/net/ipv4/ip_local_port_range", "r");
    if (!f) return;
    unsigned a = 0, b = 0;
    if (fscanf(f, "%u %u", &a, &b) == 2 && a > 1024 && a <= b && b < 65536) {
        *lo = a;
        *hi = b;
    }
    fclose(f);
}

/* A port is taken from below the ephemeral range. A port that bind(0) hands out is
 * ephemeral: between its release here and the child's bind, any connect() on the machine
 * (another test, a fake's client) may take it as its source port, and the child then exits
 * "Address already in use" (seen under parallel ctest). Below the range only another
 * explicit bind can take it; the start is spread by pid so parallel tests try different
 * ports first. */
unsigned metrics_check_free_port(void)
{
    unsigned lo, hi;
    ephemeral_range(&lo, &hi);
    (void)hi;
    unsigned base = 10000, span = lo > base + 1000 ? lo - base : 0;
    if (span == 0) return 0;
    unsigned start = ((unsigned)getpid() * 7919u + (unsigned)time(NULL) * 104729u) % span;
    for (unsigned i = 0; i < 2000; i++) {
        unsigned port = base + (start + i * 37u) % span;
        int fd = socket(AF_INET, SOCK_STREAM, 0);
        if (fd < 0) return 0;
        struct sockaddr_in a;
        memset(&a, 0, sizeof a);
        a.sin_family = AF_INET;
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        a.sin_port = htons((uint16_t)port);
        int ok = bind(fd, (struct sockaddr *)&a, sizeof a) == 0;
        close(fd);
        if (ok) return port;
    }
    return 0;
}
