/*
 * The Discord interaction payloads the benchmarks parse (bench_stats_path, bench_cjarena): one
 * copy, so both measure the same bytes. Read only.
 */
#ifndef FLUXBOT_BENCH_IX_H
#define FLUXBOT_BENCH_IX_H

#include <stddef.h>

/* A /stats interaction as Discord delivers it to a guild member (the `d` object), and its
 * length without the terminating NUL. */
extern const char bench_ix_stats[];
extern const size_t bench_ix_stats_len;

#endif
