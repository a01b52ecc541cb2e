/*
 * Futex parking primitives. A parked thread sleeps on a 32-bit word until another thread
 * changes it and wakes it; used by the mailbox (idle actors) and the timer service.
 */
#ifndef FLUXBOT_RT_PARK_H
#define FLUXBOT_RT_PARK_H

#include <stdatomic.h>
#include <stdint.h>

/* Sleeps while *word == expected, at most timeout_ns (0 = no timeout). Spurious returns are
 * possible; callers re-check their condition. */
void rt_futex_wait(_Atomic uint32_t *word, uint32_t expected, uint64_t timeout_ns);
/* Wakes up to n sleepers on word (INT32_MAX for all). */
void rt_futex_wake(_Atomic uint32_t *word, int n);
/* A pause instruction for spin loops. */
void rt_cpu_relax(void);

#endif
