/*
 * gw_url: gateway URL parsing and query building (see gw_url.h).
 */
#include "discord/gw_url.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/util_url.h"

static bool host_char_ok(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
           c == '-' || c == '_';
}

int gw_url_parse(const char *url, gw_url *out)
{
    memset(out, 0, sizeof *out);
    if (!url) return -1;
    size_t total = strlen(url);
    if (total == 0 || total >= GW_URL_MAX) return -1;
    if (!util_url_clean(url)) return -1;
    const char *p = util_url_after_scheme(url, "ws", "wss", &out->tls);
    if (!p) return -1;
    const char *host_end;
    if (*p == '[') { /* IPv6 literal */
        const char *rb = strchr(p, ']');
        if (!rb || rb == p + 1 || (size_t)(rb - p - 1) >= sizeof out->host) return -1;
        for (const char *q = p + 1; q < rb; q++)
            if (!((*q >= '0' && *q <= '9') || (*q >= 'a' && *q <= 'f') ||
                  (*q >= 'A' && *q <= 'F') || *q == ':' || *q == '.'))
                return -1;
        memcpy(out->host, p + 1, (size_t)(rb - p - 1));
        host_end = rb + 1;
    } else {
        host_end = p;
        while (*host_end && host_char_ok(*host_end))
            host_end++;
        if (host_end == p || (size_t)(host_end - p) >= sizeof out->host) return -1;
        memcpy(out->host, p, (size_t)(host_end - p));
    }
    const char *rest = host_end;
    out->port = out->tls ? 443 : 80;
    if (*rest == ':') {
        int port = util_url_port(rest + 1, &rest);
        if (port < 0) return -1;
        out->port = port;
    }
    if (*rest == '\0') {
        strcpy(out->path, "/");
    } else if (*rest == '/' || *rest == '?') {
        int w = snprintf(out->path, sizeof out->path, "%s%s", *rest == '?' ? "/" : "", rest);
        if (w < 0 || (size_t)w >= sizeof out->path) return -1;
    } else {
        return -1;
    }
    return 0;
}

int gw_url_with_query(const char *base, bool compress, char *out, size_t cap)
{
    gw_url u;
    if (gw_url_parse(base, &u) < 0) return -1;
    const bool v6 = strchr(u.host, ':') != NULL;
    const bool default_port = u.port == (u.tls ? 443 : 80);
    char port[16] = "";
    if (!default_port) snprintf(port, sizeof port, ":%d", u.port);
    int w = snprintf(out, cap, "%s://%s%s%s%s/?v=10&encoding=json%s", u.tls ? "wss" : "ws",
                     v6 ? "[" : "", u.host, v6 ? "]" : "", port,
                     compress ? "&compress=zlib-stream" : "");
    if (w < 0 || (size_t)w >= cap) return -1;
    return 0;
}

bool gw_url_host_is_loopback(const char *host)
{
    if (!host) return false;
    if (strcmp(host, "localhost") == 0 || strcmp(host, "::1") == 0) return true;
    if (strncmp(host, "127.", 4) != 0) return false;
    /* 127.a.b.c with numeric octets only */
    int dots = 0;
    for (const char *p = host + 4; *p; p++) {
        if (*p == '.')
            dots++;
        else if (*p < '0' || *p > '9')
            return false;
    }
    return dots == 2;
}
