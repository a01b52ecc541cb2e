/*
 * A small log-linear latency histogram (HdrHistogram-like, no package exists here): values in
 * nanoseconds, 3 significant bits per power of two … precise to ~6%, constant memory.
 */
#ifndef FLUXBOT_BENCH_HIST_H
#define FLUXBOT_BENCH_HIST_H

#include <stdint.h>

#define HIST_SUB 16 /* linear sub-buckets per power of two */
#define HIST_POW 48

typedef struct hist {
    uint64_t counts[HIST_POW][HIST_SUB];
    uint64_t total;
    uint64_t max;
    uint64_t min;
    double sum;
} hist;

void hist_init(hist *h);
void hist_add(hist *h, uint64_t v);
/* q in [0,1]; returns an upper bound of the bucket holding that quantile. */
uint64_t hist_quantile(const hist *h, double q);
double hist_mean(const hist *h);

#endif
