/* Which URLs an input image may be downloaded from, and the words for a failed download (see
 * dlpol.h). */
#include "comfy/dlpol.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

static void set_err(char *err, size_t errlen, const char *msg, const char *what)
{
    if (err && errlen) snprintf(err, errlen, "%s \"%.200s\"", msg, what);
}

static bool host_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '-';
}

static bool ipv6_char(char c)
{
    return (c >= 'a' && c <= 'f') || (c >= '0' && c <= '9') || c == ':' || c == '.';
}

/* Reads "host[:port]" (IPv6 in brackets) from s up to end (exclusive), lower-casing the host.
 * Every byte must belong: a host is [a-z0-9.-]+ (or an IPv6 literal), so percent-escapes,
 * backslashes, '@' and blanks, which parsers disagree about, can never name another host. */
static int parse_authority(const char *s, const char *end, char *host, int *port)
{
    size_t hl;
    const char *p;
    char tmp[DLPOL_HOST_MAX];
    if (s < end && *s == '[') {
        const char *rb = memchr(s, ']', (size_t)(end - s));
        if (!rb) return -1;
        hl = (size_t)(rb - s - 1);
        if (hl == 0 || hl >= sizeof tmp) return -1;
        for (size_t i = 0; i < hl; i++) {
            char c = s[1 + i];
            if (c >= 'A' && c <= 'F') c = (char)(c - 'A' + 'a');
            if (!ipv6_char(c)) return -1;
            tmp[i] = c;
        }
        if (!memchr(s + 1, ':', hl)) return -1;
        p = rb + 1;
    } else {
        p = s;
        while (p < end && *p != ':')
            p++;
        hl = (size_t)(p - s);
        if (hl == 0 || hl >= sizeof tmp) return -1;
        for (size_t i = 0; i < hl; i++) {
            char c = s[i];
            if (c >= 'A' && c <= 'Z') c = (char)(c - 'A' + 'a');
            if (!host_char(c)) return -1;
            tmp[i] = c;
        }
        if (tmp[0] == '.' || tmp[0] == '-') return -1;
    }
    tmp[hl] = '\0';
    if (p < end) {
        if (*p != ':' || p + 1 >= end || end - p > 6) return -1;
        long v = 0;
        for (const char *q = p + 1; q < end; q++) {
            if (*q < '0' || *q > '9') return -1;
            v = v * 10 + (*q - '0');
        }
        if (v < 1 || v > 65535) return -1;
        *port = (int)v;
    }
    memcpy(host, tmp, hl + 1);
    return 0;
}

dlpol_verdict dlpol_parse_url(const char *url, dlpol_url *out)
{
    memset(out, 0, sizeof *out);
    if (!url || !*url || strlen(url) > 4096) return DLPOL_BAD_URL;
    for (const unsigned char *c = (const unsigned char *)url; *c; c++)
        if (*c <= 0x20 || *c >= 0x7f) return DLPOL_BAD_URL;
    const char *colon = strstr(url, "://");
    if (!colon) return DLPOL_BAD_URL;
    size_t sl = (size_t)(colon - url);
    if (sl == 5 && strncasecmp(url, "https", 5) == 0) {
        out->tls = true;
        out->port = 443;
    } else if (sl == 4 && strncasecmp(url, "http", 4) == 0) {
        out->tls = false;
        out->port = 80;
    } else {
        return DLPOL_SCHEME;
    }
    const char *a = colon + 3;
    const char *e = a + strcspn(a, "/?#");
    /* "\" is a path separator to some parsers and part of the host to others; never guess. */
    if (memchr(a, '@', (size_t)(e - a)) || memchr(a, '\\', (size_t)(e - a)) || strchr(e, '\\'))
        return DLPOL_BAD_URL;
    if (parse_authority(a, e, out->host, &out->port) != 0) return DLPOL_BAD_URL;
    return DLPOL_OK;
}

static bool is_loopback(const char *host)
{
    if (strcmp(host, "localhost") == 0 || strcmp(host, "::1") == 0) return true;
    /* 127.0.0.0/8 as a dotted quad */
    if (strncmp(host, "127.", 4) != 0) return false;
    unsigned dots = 0;
    for (const char *c = host; *c; c++) {
        if (*c == '.')
            dots++;
        else if (*c < '0' || *c > '9')
            return false;
    }
    return dots == 3;
}

int dlpol_add_host(dlpol *p, const char *entry, char *err, size_t errlen)
{
    if (p->n >= DLPOL_MAX_ENTRIES) {
        set_err(err, errlen, "attachment_hosts: too many entries at", entry);
        return -1;
    }
    dlpol_entry *d = &p->e[p->n];
    memset(d, 0, sizeof *d);
    size_t n = entry ? strlen(entry) : 0;
    if (n == 0 || parse_authority(entry, entry + n, d->host, &d->port) != 0) {
        set_err(err, errlen, "attachment_hosts: not a host or host:port:", entry ? entry : "");
        return -1;
    }
    d->allow_http = is_loopback(d->host);
    p->n++;
    return 0;
}

int dlpol_add_origin(dlpol *p, const char *base_url, char *err, size_t errlen)
{
    if (p->n >= DLPOL_MAX_ENTRIES) {
        set_err(err, errlen, "too many download origins at", base_url);
        return -1;
    }
    dlpol_url u;
    if (dlpol_parse_url(base_url, &u) != DLPOL_OK) {
        set_err(err, errlen, "not an http(s) URL:", base_url ? base_url : "");
        return -1;
    }
    dlpol_entry *d = &p->e[p->n++];
    memset(d, 0, sizeof *d);
    memcpy(d->host, u.host, sizeof d->host);
    d->port = u.port;
    d->tls = u.tls;
    d->exact_origin = true;
    return 0;
}

int dlpol_init(dlpol *p, const fb_config_list *hosts, const fb_config_list *comfy_urls, char *err,
               size_t errlen)
{
    memset(p, 0, sizeof *p);
    for (unsigned i = 0; hosts && i < hosts->count; i++)
        if (dlpol_add_host(p, hosts->items[i], err, errlen) != 0) return -1;
    for (unsigned i = 0; comfy_urls && i < comfy_urls->count; i++)
        if (dlpol_add_origin(p, comfy_urls->items[i], err, errlen) != 0) return -1;
    return 0;
}

dlpol_verdict dlpol_check(const dlpol *p, const char *url)
{
    dlpol_url u;
    dlpol_verdict v = dlpol_parse_url(url, &u);
    if (v != DLPOL_OK) return v;
    for (unsigned i = 0; i < p->n; i++) {
        const dlpol_entry *d = &p->e[i];
        if (strcmp(d->host, u.host) != 0) continue;
        if (d->exact_origin) {
            if (d->tls == u.tls && d->port == u.port) return DLPOL_OK;
            continue;
        }
        if (d->port && d->port != u.port) continue;
        if (u.tls || d->allow_http) return DLPOL_OK;
    }
    return DLPOL_HOST_NOT_ALLOWED;
}

void dlpol_fail_text(dlpol_fail f, int status, uint64_t max_bytes, char *out, size_t n)
{
    switch (f) {
    case DLPOL_FAIL_BAD_URL:
        snprintf(out, n, "its link is not a usable web address");
        break;
    case DLPOL_FAIL_SCHEME:
        snprintf(out, n, "its link is not an https address");
        break;
    case DLPOL_FAIL_HOST_NOT_ALLOWED:
        snprintf(out, n, "it is not hosted where the bot downloads images from (Discord)");
        break;
    case DLPOL_FAIL_TOO_MANY_REDIRECTS:
        snprintf(out, n, "the link redirects too many times");
        break;
    case DLPOL_FAIL_TIMEOUT:
        snprintf(out, n, "the download timed out");
        break;
    case DLPOL_FAIL_TOO_LARGE:
        snprintf(out, n, "it is larger than the %.1f MB limit",
                 (double)max_bytes / (1024.0 * 1024.0));
        break;
    case DLPOL_FAIL_HTTP_STATUS:
        snprintf(out, n, "the server answered HTTP %d", status);
        break;
    case DLPOL_FAIL_CONNECT:
        snprintf(out, n, "the server could not be reached");
        break;
    case DLPOL_FAIL_NETWORK:
        snprintf(out, n, "the connection broke during the download");
        break;
    default:
        snprintf(out, n, "the download failed");
        break;
    }
}

const char *dlpol_fail_name(dlpol_fail f)
{
    switch (f) {
    case DLPOL_FAIL_NONE:
        return "none";
    case DLPOL_FAIL_BAD_URL:
        return "bad_url";
    case DLPOL_FAIL_SCHEME:
        return "scheme";
    case DLPOL_FAIL_HOST_NOT_ALLOWED:
        return "host_not_allowed";
    case DLPOL_FAIL_TOO_MANY_REDIRECTS:
        return "too_many_redirects";
    case DLPOL_FAIL_TIMEOUT:
        return "timeout";
    case DLPOL_FAIL_TOO_LARGE:
        return "too_large";
    case DLPOL_FAIL_HTTP_STATUS:
        return "http_status";
    case DLPOL_FAIL_CONNECT:
        return "connect";
    case DLPOL_FAIL_NETWORK:
        return "network";
    }
    return "?";
}
