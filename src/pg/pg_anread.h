/*
 * pg_anread: the read side of the PostgreSQL analytics store (pg_anstore.h): /stats numbers
 * (the rollup path and the raw-only baseline, with exactly the window and definitions of
 * an_stats.h, so both engines give the same answers) and stored results (an_results.h).
 * One reader belongs to one thread; every read is one REPEATABLE READ snapshot, so the numbers
 * of one /stats never mix two commits, whichever process made them. A lost connection is
 * reopened by the next read. Errors are SQLite-style codes (see pg_anstore.h).
 */
#ifndef FLUXBOT_PG_ANREAD_H
#define FLUXBOT_PG_ANREAD_H

#include <stddef.h>
#include <stdint.h>

#include "analytics/an_results.h"
#include "analytics/an_stats.h"

typedef struct pg_anread pg_anread;

/* Connects to url (creating the tables when missing, so a reader may start first). NULL with
 * err. */
pg_anread *pg_anread_open(const char *url, char *err, size_t errlen);
void pg_anread_close(pg_anread *r);
void pg_anread_set_active_min(pg_anread *r, unsigned min_events);

/* As an_reader_stats / an_reader_stats_raw. */
int pg_anread_stats(pg_anread *r, int days, int64_t now_ms, an_stats *out, char *err,
                    size_t errlen);
int pg_anread_stats_raw(pg_anread *r, int days, int64_t now_ms, an_stats *out, char *err,
                        size_t errlen);

/* As an_results_get: 1 found, 0 not stored, -1 error. */
int pg_anread_result(pg_anread *r, uint64_t job_id, an_result_row *out, char *err, size_t errlen);

#endif
