/*
 * bench_util: what every benchmark program needs besides its workload: the median (or another
 * quantile) of repeated rounds, and the command line: "--json" and named numeric or text
 * options, with a usage line on anything else.
 */
#ifndef FLUXBOT_BENCH_UTIL_H
#define FLUXBOT_BENCH_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Median of v[0..n) (n ≥ 1; the mean of the middle two when n is even). Sorts v. */
double bench_median(double *v, unsigned n);
/* Nearest-rank quantile q in [0,1] of v[0..n) (n ≥ 1). Sorts v. */
double bench_quantile(double *v, unsigned n, double q);

typedef enum bench_arg_kind {
    BENCH_FLAG,     /* bool: present or not */
    BENCH_UNSIGNED, /* unsigned, decimal */
    BENCH_U64,      /* uint64_t, decimal */
    BENCH_SIZE,     /* size_t, decimal */
    BENCH_TEXT,     /* const char *: the argument itself */
} bench_arg_kind;

typedef struct bench_arg {
    const char *name; /* "--repeat" */
    bench_arg_kind kind;
    void *out; /* where the value goes, of the kind's type */
} bench_arg;

/* Reads argv[1..argc) against args (each option may repeat; the last one wins). On an unknown
 * option or one missing its value, prints "usage: <argv[0]> <usage>" to stderr and returns
 * false (exit status 2 by convention). */
bool bench_args(int argc, char **argv, const bench_arg *args, size_t nargs, const char *usage);

/* CLOCK_MONOTONIC in nanoseconds: the clock every load schedule and latency here is read on. */
uint64_t bench_now_ns(void);
/* Sleeps until the monotonic time t_ns (absolute, so a late wake-up does not shift the
 * schedule); returns at once when t_ns has passed. */
void bench_sleep_until_ns(uint64_t t_ns);

#endif
