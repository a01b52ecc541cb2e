/*
 * A hostile attachment host on loopback: a minimal HTTP/1.1 server (its own thread, plain
 * sockets, one request per connection) whose answer to every GET is chosen by the test:
 *   FHOST_BODY      200 with the configured body and content type
 *   FHOST_REDIRECT  the configured 3xx status with "Location: <location>" (any URL, e.g. another
 *                   loopback host:port, itself for a loop, or file:///etc/passwd)
 *   FHOST_STALL     200 with a Content-Length larger than what it sends, then silence until
 *                   the client gives up (a download that times out after its status line)
 *   FHOST_STATUS    the configured status with a short text body
 * It records how many requests arrived and the last request's head, so a test can prove a host
 * was never contacted and that no credential reached it.
 *
 * Used by tests and available to the demo; everything is thread-safe.
 */
#ifndef FLUXBOT_FAKES_FAKE_HOST_H
#define FLUXBOT_FAKES_FAKE_HOST_H

#include <stddef.h>
#include <stdint.h>

typedef struct fhost fhost;

typedef enum fhost_mode { FHOST_BODY, FHOST_REDIRECT, FHOST_STALL, FHOST_STATUS } fhost_mode;

/* Starts on 127.0.0.1 with an ephemeral port; NULL on failure. Mode FHOST_STATUS 404 at first. */
fhost *fhost_start(void);
void fhost_stop(fhost *h);
int fhost_port(const fhost *h);
/* "http://127.0.0.1:PORT" */
const char *fhost_url(const fhost *h);
/* "127.0.0.1:PORT" (an attachment_hosts entry) */
const char *fhost_hostport(const fhost *h);

void fhost_serve_body(fhost *h, const uint8_t *body, size_t len, const char *content_type);
void fhost_redirect(fhost *h, int status, const char *location);
void fhost_stall(fhost *h);
void fhost_status(fhost *h, int status);

/* Requests received so far. */
unsigned fhost_requests(fhost *h);
/* The head of the latest request (malloc'd copy, "" when none). */
char *fhost_last_head(fhost *h);

#endif
