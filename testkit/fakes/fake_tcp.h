/*
 * fake_tcp: the loopback listener that the small one-connection-at-a-time fakes (the hostile
 * attachment host, the chat-completions endpoint) share: a socket on 127.0.0.1 with an
 * ephemeral port, one thread that accepts and hands each connection to the fake's serve
 * function, and a wake-up pipe that ends it. A fake owns what it says on a connection; this
 * owns the socket, the thread and the stop.
 *
 * Rule: serve() must return once ftcp_wake_fd() becomes readable (poll it beside the client's
 * socket wherever it waits); otherwise ftcp_stop() blocks until the client goes away.
 */
#ifndef FLUXBOT_FAKES_FAKE_TCP_H
#define FLUXBOT_FAKES_FAKE_TCP_H

#include <stddef.h>

typedef struct ftcp ftcp;

/* Called on the accept thread for each connection; ftcp closes fd after it returns. */
typedef void (*ftcp_serve_fn)(void *ctx, int fd);

/* Listens and starts the accept thread; NULL on failure. */
ftcp *ftcp_start(ftcp_serve_fn serve, void *ctx);
/* Wakes the thread, joins it and closes everything. NULL is ignored. */
void ftcp_stop(ftcp *t);
int ftcp_port(const ftcp *t);
/* Readable once ftcp_stop() has begun. */
int ftcp_wake_fd(const ftcp *t);
/* Sends all of p (gives up quietly when the peer is gone: a fake has no one to tell). */
void ftcp_send_all(int fd, const void *p, size_t n);

#endif
