/* Benchmark statistics and command lines (see bench_util.h). */
#include "bench_util.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

double bench_median(double *v, unsigned n)
{
    qsort(v, n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

double bench_quantile(double *v, unsigned n, double q)
{
    qsort(v, n, sizeof *v, cmp_double);
    unsigned i = (unsigned)(q * (n - 1) + 0.5);
    return v[i < n ? i : n - 1];
}

static const bench_arg *find(const bench_arg *args, size_t nargs, const char *name)
{
    for (size_t k = 0; k < nargs; k++)
        if (strcmp(args[k].name, name) == 0) return &args[k];
    return NULL;
}

bool bench_args(int argc, char **argv, const bench_arg *args, size_t nargs, const char *usage)
{
    for (int i = 1; i < argc; i++) {
        const bench_arg *a = find(args, nargs, argv[i]);
        if (!a || (a->kind != BENCH_FLAG && i + 1 >= argc)) {
            fprintf(stderr, "usage: %s %s\n", argv[0], usage);
            return false;
        }
        const char *v = a->kind == BENCH_FLAG ? NULL : argv[++i];
        switch (a->kind) {
        case BENCH_FLAG:
            *(bool *)a->out = true;
            break;
        case BENCH_UNSIGNED:
            *(unsigned *)a->out = (unsigned)strtoull(v, NULL, 10);
            break;
        case BENCH_U64:
            *(uint64_t *)a->out = strtoull(v, NULL, 10);
            break;
        case BENCH_SIZE:
            *(size_t *)a->out = (size_t)strtoull(v, NULL, 10);
            break;
        case BENCH_TEXT:
            *(const char **)a->out = v;
            break;
        }
    }
    return true;
}

uint64_t bench_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

void bench_sleep_until_ns(uint64_t t_ns)
{
    struct timespec ts = {.tv_sec = (time_t)(t_ns / 1000000000ull),
                          .tv_nsec = (long)(t_ns % 1000000000ull)};
    /* EINTR: sleep again for the rest (the deadline is absolute) */
    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) != 0) {
    }
}
