/* multipart/form-data parsing (see multipart.h). */
#include "fakes/multipart.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

int multipart_boundary(const char *ct, char *out, size_t outlen)
{
    if (!ct) return -1;
    if (strncasecmp(ct, "multipart/form-data", 19) != 0) return -1;
    const char *b = strcasestr(ct, "boundary=");
    if (!b) return -1;
    b += 9;
    size_t n;
    if (*b == '"') {
        b++;
        const char *e = strchr(b, '"');
        if (!e) return -1;
        n = (size_t)(e - b);
    } else {
        n = strcspn(b, "; \t");
    }
    if (n == 0 || n > 70 || n >= outlen) return -1;
    memcpy(out, b, n);
    out[n] = '\0';
    return 0;
}

/* Reads a header parameter like name="x" from a Content-Disposition line (bounded). */
static void header_param(const char *line, size_t len, const char *key, char *out, size_t outlen)
{
    out[0] = '\0';
    size_t kl = strlen(key);
    for (size_t i = 0; i + kl + 2 <= len; i++) {
        if ((i == 0 || line[i - 1] == ' ' || line[i - 1] == ';') &&
            strncasecmp(line + i, key, kl) == 0 && line[i + kl] == '=') {
            const char *v = line + i + kl + 1;
            const char *end = line + len;
            size_t n = 0;
            if (v < end && *v == '"') {
                v++;
                while (v + n < end && v[n] != '"')
                    n++;
            } else {
                while (v + n < end && v[n] != ';' && v[n] != ' ')
                    n++;
            }
            if (n >= outlen) n = outlen - 1;
            memcpy(out, v, n);
            out[n] = '\0';
            return;
        }
    }
}

int multipart_parse(const uint8_t *body, size_t len, const char *boundary, multipart_part *parts,
                    unsigned max)
{
    char delim[80];
    int dl = snprintf(delim, sizeof delim, "--%s", boundary);
    if (dl <= 2 || (size_t)dl >= sizeof delim) return -1;
    const uint8_t *end = body + len;
    const uint8_t *p = memmem(body, len, delim, (size_t)dl);
    if (!p) return -1;
    p += dl;
    int n = 0;
    for (;;) {
        if (end - p >= 2 && p[0] == '-' && p[1] == '-') return n; /* closing delimiter */
        if (end - p < 2 || p[0] != '\r' || p[1] != '\n') return -1;
        p += 2;
        const uint8_t *hend = memmem(p, (size_t)(end - p), "\r\n\r\n", 4);
        if (!hend) return -1;
        multipart_part part;
        memset(&part, 0, sizeof part);
        const uint8_t *line = p;
        while (line < hend) {
            const uint8_t *le = memmem(line, (size_t)(hend - line), "\r\n", 2);
            if (!le) le = hend;
            size_t ll = (size_t)(le - line);
            if (ll > 20 && strncasecmp((const char *)line, "Content-Disposition:", 20) == 0) {
                header_param((const char *)line, ll, "name", part.name, sizeof part.name);
                header_param((const char *)line, ll, "filename", part.filename,
                             sizeof part.filename);
            } else if (ll > 13 && strncasecmp((const char *)line, "Content-Type:", 13) == 0) {
                const char *v = (const char *)line + 13;
                size_t vl = ll - 13;
                while (vl && *v == ' ') {
                    v++;
                    vl--;
                }
                if (vl >= sizeof part.content_type) vl = sizeof part.content_type - 1;
                memcpy(part.content_type, v, vl);
                part.content_type[vl] = '\0';
            }
            line = le + 2;
        }
        const uint8_t *data = hend + 4;
        char ndelim[84];
        int nl = snprintf(ndelim, sizeof ndelim, "\r\n%s", delim);
        const uint8_t *next = memmem(data, (size_t)(end - data), ndelim, (size_t)nl);
        if (!next) return -1;
        part.data = data;
        part.len = (size_t)(next - data);
        if ((unsigned)n >= max) return -1; /* more parts than the caller accepts */
        parts[n++] = part;
        p = next + nl;
    }
}

const multipart_part *multipart_find(const multipart_part *parts, int n, const char *name)
{
    for (int i = 0; i < n; i++)
        if (strcmp(parts[i].name, name) == 0) return &parts[i];
    return NULL;
}
