/* The read side of the analytics store on SQLite and PostgreSQL (see an_view.h). */
#include "analytics/an_view.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analytics/an_engine.h"
#include "pg/pg_anread.h"

struct an_view {
    const an_view_ops *ops;
    void *impl;
    an_results *results; /* SQLite: the results reader, opened on first use */
    char path[1024];
};

/* ---- SQLite --------------------------------------------------------------------------------- */

static int sq_stats(void *impl, int days, int64_t now, an_stats *out, char *err, size_t errlen)
{
    return an_reader_stats(impl, days, now, out, err, errlen);
}
static int sq_raw(void *impl, int days, int64_t now, an_stats *out, char *err, size_t errlen)
{
    return an_reader_stats_raw(impl, days, now, out, err, errlen);
}
static void sq_active(void *impl, unsigned min)
{
    an_reader_set_active_min(impl, min);
}
static void sq_close(void *impl)
{
    an_reader_close(impl);
}
static const an_view_ops k_sqlite = {sq_stats, sq_raw, sq_active, NULL, sq_close};

/* ---- PostgreSQL ----------------------------------------------------------------------------- */

static int pg_stats(void *impl, int days, int64_t now, an_stats *out, char *err, size_t errlen)
{
    return pg_anread_stats(impl, days, now, out, err, errlen);
}
static int pg_raw(void *impl, int days, int64_t now, an_stats *out, char *err, size_t errlen)
{
    return pg_anread_stats_raw(impl, days, now, out, err, errlen);
}
static void pg_active(void *impl, unsigned min)
{
    pg_anread_set_active_min(impl, min);
}
static int pg_result(void *impl, uint64_t job, an_result_row *out, char *err, size_t errlen)
{
    return pg_anread_result(impl, job, out, err, errlen);
}
static void pg_close(void *impl)
{
    pg_anread_close(impl);
}
static const an_view_ops k_pg = {pg_stats, pg_raw, pg_active, pg_result, pg_close};

/* ---- the interface -------------------------------------------------------------------------- */

an_view *an_view_open(const char *db, char *err, size_t errlen)
{
    bool pg = an_engine_is_pg(db);
    void *impl =
        pg ? (void *)pg_anread_open(db, err, errlen) : (void *)an_reader_open(db, err, errlen);
    if (!impl) return NULL;
    an_view *v = calloc(1, sizeof *v);
    if (!v) abort();
    v->ops = pg ? &k_pg : &k_sqlite;
    v->impl = impl;
    snprintf(v->path, sizeof v->path, "%s", pg ? "" : db);
    return v;
}

void an_view_close(an_view *v)
{
    if (!v) return;
    v->ops->close(v->impl);
    an_results_close(v->results);
    free(v);
}

void an_view_set_active_min(an_view *v, unsigned min_events)
{
    v->ops->set_active_min(v->impl, min_events);
}

int an_view_stats(an_view *v, int days, int64_t now_ms, an_stats *out, char *err, size_t errlen)
{
    return v->ops->stats(v->impl, days, now_ms, out, err, errlen);
}

int an_view_stats_raw(an_view *v, int days, int64_t now_ms, an_stats *out, char *err, size_t errlen)
{
    return v->ops->stats_raw(v->impl, days, now_ms, out, err, errlen);
}

int an_view_result(an_view *v, uint64_t job_id, an_result_row *out, char *err, size_t errlen)
{
    if (v->ops->result) return v->ops->result(v->impl, job_id, out, err, errlen);
    /* SQLite: the results reader of an_results.h (its own read-only connection). */
    if (!v->results) v->results = an_results_open(v->path, err, errlen);
    if (!v->results) {
        memset(out, 0, sizeof *out);
        return -1;
    }
    return an_results_get(v->results, job_id, out, err, errlen);
}
