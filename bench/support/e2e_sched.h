/*
 * Open-loop load schedule for the end-to-end benchmark: the i-th interaction is due at
 * t0 + i * period, all times fixed before the run starts. The injector sends every request
 * that is due (catching up after a stall instead of pausing), and latency is measured from
 * the due time, so a slow bot cannot hide its slowness by slowing the load down (no
 * coordinated omission). Also: a seeded PRNG and a weighted pick for the command mix.
 * Pure: no threads, no I/O.
 */
#ifndef FLUXBOT_BENCH_E2E_SCHED_H
#define FLUXBOT_BENCH_E2E_SCHED_H

#include <stdbool.h>
#include <stdint.h>

typedef struct e2e_sched {
    uint64_t t0_ns;     /* due time of request 0 (monotonic ns) */
    uint64_t period_ns; /* >= 1 */
    uint64_t count;     /* requests in the run */
} e2e_sched;

/* rate in requests per second (> 0), seconds > 0. count = floor(rate * seconds), at least 1. */
void e2e_sched_init(e2e_sched *s, uint64_t t0_ns, double rate, double seconds);
/* Due time of request i. */
uint64_t e2e_sched_due(const e2e_sched *s, uint64_t i);
/* How many requests are due at now_ns (0..count): requests [0, n) should have been sent. */
uint64_t e2e_sched_due_by(const e2e_sched *s, uint64_t now_ns);

/* xorshift64*: small, fast, good enough for picking a mix; never seeded with 0. */
uint64_t e2e_rand(uint64_t *state);
/* Picks an index in [0, n) with probability weights[i] / sum; -1 when all weights are 0. */
int e2e_pick(const unsigned *weights, unsigned n, uint64_t *state);

/* Parses a mix like "comfy=8,stats=1,bad=1" against the known names, filling weights (same
 * order as names; absent names get 0). Returns 0, or -1 with the offending item in err. */
int e2e_mix_parse(const char *spec, const char *const *names, unsigned n, unsigned *weights,
                  char *err, unsigned errlen);

#endif
