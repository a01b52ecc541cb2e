/* The multipart/form-data body of a Discord request with files (see rest_form.h). */
#include "discord/rest_form.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/util_rand.h"

void rest_form_boundary(char out[REST_FORM_BOUNDARY_LEN + 1])
{
    static const char k_alnum[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    uint64_t bits = 0;
    for (int i = 0; i < REST_FORM_BOUNDARY_LEN; i++) {
        if (i % 10 == 0) bits = util_rand_u64(); /* 10 characters of 6 bits each per draw */
        out[i] = k_alnum[(bits & 63) % 62];
        bits >>= 6;
    }
    out[REST_FORM_BOUNDARY_LEN] = '\0';
}

static bool contains(const void *hay, size_t n, const char *needle, size_t m)
{
    return hay && n >= m && memmem(hay, n, needle, m) != NULL;
}

bool rest_form_collides(const char *boundary, const char *json, const rest_form_file *files,
                        unsigned nfiles)
{
    /* A delimiter is CRLF "--" boundary; the boundary alone is enough to look for (stricter). */
    size_t m = strlen(boundary);
    if (json && contains(json, strlen(json), boundary, m)) return true;
    for (unsigned i = 0; i < nfiles; i++)
        if (contains(files[i].data, files[i].len, boundary, m)) return true;
    return false;
}

/* A filename as a quoted-string's content, escaped (see rest_form.h); out holds 3x + 1. */
static size_t escape_filename(const char *in, char *out)
{
    size_t o = 0;
    for (const char *p = in; *p; p++) {
        if (*p == '"' || *p == '\r' || *p == '\n') {
            o += (size_t)sprintf(out + o, "%%%02X", (unsigned char)*p);
        } else {
            out[o++] = *p;
        }
    }
    out[o] = '\0';
    return o;
}

static const char *file_name(const rest_form_file *f)
{
    return f->filename && *f->filename ? f->filename : "file.bin";
}

/* A content type is one header value: anything that could end the header line is refused. */
static const char *file_type(const rest_form_file *f)
{
    const char *t = f->content_type;
    return t && *t && !strpbrk(t, "\r\n") ? t : "application/octet-stream";
}

typedef struct buf {
    char *p;
    size_t len;
} buf;

static void put(buf *b, const void *data, size_t n)
{
    memcpy(b->p + b->len, data, n);
    b->len += n;
}

static void put_str(buf *b, const char *s)
{
    put(b, s, strlen(s));
}

char *rest_form_body(const char *boundary, const char *json, const rest_form_file *files,
                     unsigned nfiles, size_t *len)
{
    static const char k_json_head[] = "Content-Disposition: form-data; name=\"payload_json\"\r\n"
                                      "Content-Type: application/json\r\n\r\n";
    if (!json) json = "{}";
    size_t blen = strlen(boundary), cap = 2 + blen + 2 + sizeof k_json_head + strlen(json) + 2;
    for (unsigned i = 0; i < nfiles; i++)
        cap += 2 + blen + 160 + 3 * strlen(file_name(&files[i])) + strlen(file_type(&files[i])) +
               files[i].len + 2;
    cap += 2 + blen + 4 + 1;
    buf b = {malloc(cap), 0};
    if (!b.p) abort();
    put_str(&b, "--");
    put_str(&b, boundary);
    put_str(&b, "\r\n");
    put_str(&b, k_json_head);
    put_str(&b, json);
    put_str(&b, "\r\n");
    for (unsigned i = 0; i < nfiles; i++) {
        const char *fname = file_name(&files[i]), *ctype = file_type(&files[i]);
        char head[96];
        put_str(&b, "--");
        put_str(&b, boundary);
        snprintf(head, sizeof head, "\r\nContent-Disposition: form-data; name=\"files[%u]\"", i);
        put_str(&b, head);
        put_str(&b, "; filename=\"");
        b.len += escape_filename(fname, b.p + b.len);
        put_str(&b, "\"\r\nContent-Type: ");
        put_str(&b, ctype);
        put_str(&b, "\r\n\r\n");
        if (files[i].len) put(&b, files[i].data, files[i].len);
        put_str(&b, "\r\n");
    }
    put_str(&b, "--");
    put_str(&b, boundary);
    put_str(&b, "--\r\n");
    *len = b.len;
    return b.p;
}
