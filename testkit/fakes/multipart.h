/*
 * A strict multipart/form-data reader (RFC 7578), zero-copy: parts point into the body.
 * Used by the fake ComfyUI for /upload/image and by tests that check the bot's Discord uploads.
 */
#ifndef FLUXBOT_FAKES_MULTIPART_H
#define FLUXBOT_FAKES_MULTIPART_H

#include <stddef.h>
#include <stdint.h>

typedef struct multipart_part {
    char name[128];
    char filename[256];
    char content_type[128];
    const uint8_t *data; /* into the body */
    size_t len;
} multipart_part;

/* Extracts the boundary parameter of a Content-Type header value. 0 or -1. */
int multipart_boundary(const char *content_type, char *out, size_t outlen);
/* Parses body into at most max parts. Returns the number of parts, or -1 when malformed or
 * when there are more than max parts. */
int multipart_parse(const uint8_t *body, size_t len, const char *boundary, multipart_part *parts,
                    unsigned max);
/* The first part with this name, or NULL. */
const multipart_part *multipart_find(const multipart_part *parts, int n, const char *name);

#endif
