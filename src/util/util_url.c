/* Shared URL pieces (see util_url.h). */
#include "util/util_url.h"

#include <stdlib.h>
#include <string.h>

const char *util_url_after_scheme(const char *url, const char *plain, const char *secure, bool *tls)
{
    const char *names[2] = {plain, secure};
    for (int i = 0; i < 2; i++) {
        size_t n = strlen(names[i]);
        if (strncmp(url, names[i], n) == 0 && strncmp(url + n, "://", 3) == 0) {
            if (tls) *tls = i == 1;
            return url + n + 3;
        }
    }
    return NULL;
}

bool util_url_is_http(const char *url)
{
    return util_url_after_scheme(url, "http", "https", NULL) != NULL;
}

int util_url_port(const char *s, const char **end)
{
    char *e;
    long port = strtol(s, &e, 10);
    if (e == s || port < 1 || port > 65535) return -1;
    *end = e;
    return (int)port;
}

bool util_url_clean(const char *url)
{
    for (const unsigned char *p = (const unsigned char *)url; *p; p++)
        if (*p <= 0x20 || *p == 0x7f) return false;
    return true;
}

int util_url_escape(const char *s, char *out, size_t outlen)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t o = 0;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        unsigned char c = *p;
        bool keep = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                    c == '-' || c == '_' || c == '.' || c == '~';
        if (keep) {
            if (o + 1 >= outlen) return -1;
            out[o++] = (char)c;
        } else {
            if (o + 3 >= outlen) return -1;
            out[o++] = '%';
            out[o++] = hex[c >> 4];
            out[o++] = hex[c & 15];
        }
    }
    if (o >= outlen) return -1;
    out[o] = '\0';
    return 0;
}
