/*
 * util_rand: 64 random bits from the kernel (getrandom), for identifiers that must not repeat
 * across processes and restarts (websocket client ids, prompt ids, lease owners, seeds). Not for
 * secrets that need a failure to be fatal: when the kernel cannot answer, a clock-based mix is
 * returned instead. Any thread.
 */
#ifndef FLUXBOT_UTIL_RAND_H
#define FLUXBOT_UTIL_RAND_H

#include <stdint.h>

uint64_t util_rand_u64(void);

#endif
