/*
 * The multipart/form-data body (RFC 7578) of a Discord request with files, built in one buffer:
 * part "payload_json" (the JSON), then "files[n]" for each file, each with its filename and
 * content type. Sent with POSTFIELDS, the headers and a body of a few tens of KB leave in one
 * send, with no per-request boundary drawn from the TLS library's random generator (which
 * asks the kernel for the process id on every draw to detect forks) and no read callbacks.
 *
 * The boundary is the caller's (the REST actor draws one per process); the builder refuses it
 * when any part's bytes contain it, and the caller then draws a fresh one for that request:
 * a boundary inside a part would cut it short on the server. Filenames are escaped the way
 * browsers and libcurl do ('"' as %22, CR as %0D, LF as %0A), so no filename can end its
 * header early. Pure: no threads, no sockets. Used by the discord_rest actor.
 */
#ifndef FLUXBOT_REST_FORM_H
#define FLUXBOT_REST_FORM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define REST_FORM_BOUNDARY_LEN 32 /* characters, [0-9A-Za-z] */

typedef struct rest_form_file {
    const char *filename;
    const char *content_type;
    const uint8_t *data;
    size_t len;
} rest_form_file;

/* A random boundary of REST_FORM_BOUNDARY_LEN characters into out (at least that + 1). */
void rest_form_boundary(char out[REST_FORM_BOUNDARY_LEN + 1]);

/* True when the boundary (with the "\r\n--" that precedes it in a body) occurs in the json or
 * in a file's bytes. */
bool rest_form_collides(const char *boundary, const char *json, const rest_form_file *files,
                        unsigned nfiles);

/* The body, malloc'd, and its length; json NULL sends "{}". The caller has checked that the
 * boundary does not collide. */
char *rest_form_body(const char *boundary, const char *json, const rest_form_file *files,
                     unsigned nfiles, size_t *len);

#endif
