/*
 * Results of an end-to-end benchmark run and their outputs: a human table, one JSON object
 * (--json), CSV rows and an SVG chart for the thread-count sweep (interaction throughput, first
 * reply p99 and job completion p99 against router threads, one line per runner thread count),
 * written by hand. Pure apart from the
 * FILE* it writes to; unit-tested.
 */
#ifndef FLUXBOT_BENCH_E2E_REPORT_H
#define FLUXBOT_BENCH_E2E_REPORT_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

typedef struct e2e_result {
    unsigned router_threads, runner_threads;
    double rate_target; /* interactions per second scheduled */
    double seconds;     /* scheduled duration */
    uint64_t sent;      /* interactions injected */
    uint64_t answered;  /* with exactly one accepted callback */
    uint64_t answered_twice;
    uint64_t unanswered;
    double throughput; /* answered per second over the measured window */
    double reply_p50_ms, reply_p99_ms, reply_p999_ms, reply_max_ms;
    uint64_t jobs;      /* generation commands sent */
    uint64_t jobs_done; /* with a final result */
    double job_p50_ms, job_p99_ms, job_max_ms;
    double jobs_per_s; /* jobs finished per second over the measured window */
    uint64_t analytics_rows;
    double analytics_rows_per_s;
    double cpu_ms_per_1000; /* fluxbot CPU (user + system) per 1000 interactions answered */
    uint64_t peak_rss_kb;
    int exit_code; /* of fluxbot after SIGTERM */
} e2e_result;

void e2e_report_table(FILE *out, const e2e_result *r, const char *machine);
/* One JSON object on one line. machine may be NULL. */
void e2e_report_json(FILE *out, const e2e_result *r, const char *machine);
void e2e_csv_header(FILE *out);
void e2e_csv_row(FILE *out, const e2e_result *r);
/* The sweep chart. 0, or -1 when there is nothing to draw. */
int e2e_svg_sweep(FILE *out, const e2e_result *pts, size_t n, const char *title);

/* Smallest "nice" number (1, 2 or 5 times a power of ten) >= v; 1 for v <= 0. */
double e2e_nice_ceil(double v);
/* A one-line description of this machine: CPU model, cores, kernel. */
void e2e_machine(char *out, size_t cap);

#endif
