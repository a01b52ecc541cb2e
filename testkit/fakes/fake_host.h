/*
 * A hostile attachment host on loopback: a minimal HTTP/1.1 server (its own thread, plain
 * sockets, one request per connection) whose answer to every GET is chosen by the test:
 *   FAKE_HOST_BODY      200 with the configured body and content type
 *   FAKE_HOST_REDIRECT  the configured 3xx status with "Location: <location>" (any URL, e.g.
 * another loopback host:port, itself for a loop, or file:///etc/passwd) FAKE_HOST_STALL     200
 * with a Content-Length larger than what it sends, then silence until the client gives up (a
 * download that times out after its status line) FAKE_HOST_STATUS    the configured status with a
 * short text body It records how many requests arrived and the last request's head, so a test can
 * prove a host was never contacted and that no credential reached it.
 *
 * Used by tests and available to the demo; everything is thread-safe.
 */
#ifndef FLUXBOT_FAKES_FAKE_HOST_H
#define FLUXBOT_FAKES_FAKE_HOST_H

#include <stddef.h>
#include <stdint.h>

typedef struct fake_host fake_host;

typedef enum fake_host_mode {
    FAKE_HOST_BODY,
    FAKE_HOST_REDIRECT,
    FAKE_HOST_STALL,
    FAKE_HOST_STATUS
} fake_host_mode;

/* Starts on 127.0.0.1 with an ephemeral port; NULL on failure. Mode FAKE_HOST_STATUS 404 at first.
 */
fake_host *fake_host_start(void);
void fake_host_stop(fake_host *h);
int fake_host_port(const fake_host *h);
/* "http://127.0.0.1:PORT" */
const char *fake_host_url(const fake_host *h);
/* "127.0.0.1:PORT" (an attachment_hosts entry) */
const char *fake_host_hostport(const fake_host *h);

void fake_host_serve_body(fake_host *h, const uint8_t *body, size_t len, const char *content_type);
void fake_host_redirect(fake_host *h, int status, const char *location);
void fake_host_stall(fake_host *h);
void fake_host_status(fake_host *h, int status);

/* Requests received so far. */
unsigned fake_host_requests(fake_host *h);
/* The head of the latest request (malloc'd copy, "" when none). */
char *fake_host_last_head(fake_host *h);

#endif
