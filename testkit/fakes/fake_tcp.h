/*
 * fake_tcp: the loopback listener that the small one-connection-at-a-time fakes (the hostile
 * attachment host, the chat-completions endpoint) share: a socket on 127.0.0.1 with an
 * ephemeral port, one thread that accepts and hands each connection to the fake's serve
 * function, and a wake-up pipe that ends it. A fake owns what it says on a connection; this
 * owns the socket, the thread and the stop.
 *
 * Rule: serve() must return once fake_tcp_wake_fd() becomes readable (poll it beside the client's
 * socket wherever it waits); otherwise fake_tcp_stop() blocks until the client goes away.
 */
#ifndef FLUXBOT_FAKES_FAKE_TCP_H
#define FLUXBOT_FAKES_FAKE_TCP_H

#include <stddef.h>

typedef struct fake_tcp fake_tcp;

/* Called on the accept thread for each connection; fake_tcp closes fd after it returns. */
typedef void (*fake_tcp_serve_fn)(void *ctx, int fd);

/* Listens and starts the accept thread; NULL on failure. */
fake_tcp *fake_tcp_start(fake_tcp_serve_fn serve, void *ctx);
/* Wakes the thread, joins it and closes everything. NULL is ignored. */
void fake_tcp_stop(fake_tcp *t);
int fake_tcp_port(const fake_tcp *t);
/* Readable once fake_tcp_stop() has begun. */
int fake_tcp_wake_fd(const fake_tcp *t);
/* Sends all of p (gives up quietly when the peer is gone: a fake has no one to tell). */
void fake_tcp_send_all(int fd, const void *p, size_t n);

#endif
