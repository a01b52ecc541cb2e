/*
 * fake_front (fake_front_): a loopback TCP front for a fake server that can stall new connections.
 *
 * It listens on 127.0.0.1 (ephemeral port) and forwards every accepted connection, byte for
 * byte in both directions, to a backend port on 127.0.0.1. While stalled, a new connection is
 * accepted (the TCP handshake completes) but nothing is ever forwarded or answered on it: it
 * models a server whose socket accepts and then hangs — a gateway that never answers the
 * websocket upgrade, a load balancer whose backend is gone. Connections accepted while stalled
 * stay silent until the client gives up (their bytes are read and discarded); ending the stall
 * only changes how later connections are treated.
 *
 * Threading: one service thread of its own; every fake_front_* function may be called from any
 * thread.
 */
#ifndef FLUXBOT_FAKE_FRONT_H
#define FLUXBOT_FAKE_FRONT_H

#include <stdbool.h>
#include <stdint.h>

typedef struct fake_front fake_front;

/* Starts a front for 127.0.0.1:backend_port. NULL on failure (logged). */
fake_front *fake_front_start(int backend_port);
/* Stops the thread and closes every socket. NULL is ignored. */
void fake_front_stop(fake_front *f);
int fake_front_port(const fake_front *f);
/* true: connections accepted from now on are held silent; false: they are forwarded. */
void fake_front_set_stall(fake_front *f, bool stall);

typedef struct fake_front_stats {
    uint64_t accepted;  /* TCP connections accepted */
    uint64_t stalled;   /* of which held silent */
    uint64_t forwarded; /* of which forwarded to the backend */
    uint64_t open;      /* open right now (stalled or forwarded) */
} fake_front_stats;
void fake_front_get_stats(fake_front *f, fake_front_stats *out);

#endif
