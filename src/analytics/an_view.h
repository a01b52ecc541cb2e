/*
 * an_view: the read side of the analytics store, on either engine (an_engine.h says which
 * db selects which): /stats numbers (the rollup path and the raw-only baseline) and stored
 * results. The stats reporter, the CLI and the runner's stored results read only through it.
 * One view belongs to one thread (its connection and statements are not shared).
 */
#ifndef FLUXBOT_AN_VIEW_H
#define FLUXBOT_AN_VIEW_H

#include <stddef.h>
#include <stdint.h>

#include "analytics/an_results.h"
#include "analytics/an_stats.h"

/* What a view does; one table per engine (k_sqlite, k_pg in an_view.c). */
typedef struct an_view_ops {
    int (*stats)(void *impl, int days, int64_t now_ms, an_stats *out, char *err, size_t errlen);
    int (*stats_raw)(void *impl, int days, int64_t now_ms, an_stats *out, char *err, size_t errlen);
    void (*set_active_min)(void *impl, unsigned min_events);
    /* NULL: stored results are read through an_results.h (SQLite) */
    int (*result)(void *impl, uint64_t job_id, an_result_row *out, char *err, size_t errlen);
    void (*close)(void *impl);
} an_view_ops;

typedef struct an_view an_view;

/* Opens the read side of db: a SQLite file must exist and hold the current schema;
 * PostgreSQL tables are created when missing. NULL with err (never the URL). */
an_view *an_view_open(const char *db, char *err, size_t errlen);
void an_view_close(an_view *v);
void an_view_set_active_min(an_view *v, unsigned min_events);
/* As an_reader_stats / an_reader_stats_raw (an_stats.h), on either engine. */
int an_view_stats(an_view *v, int days, int64_t now_ms, an_stats *out, char *err, size_t errlen);
int an_view_stats_raw(an_view *v, int days, int64_t now_ms, an_stats *out, char *err,
                      size_t errlen);
/* A stored result, as an_results_get: 1 found, 0 not stored, -1 error. */
int an_view_result(an_view *v, uint64_t job_id, an_result_row *out, char *err, size_t errlen);

#endif
