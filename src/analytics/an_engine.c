/* The analytics engines behind one interface: SQLite and PostgreSQL (see an_engine.h). */
#include "analytics/an_engine.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "pg/pg_anread.h"
#include "pg/pg_anstore.h"
#include "pg/pg_conn.h"

struct an_engine {
    const an_engine_ops *ops;
    void *impl;
    bool sqlite;
};

struct an_view {
    const an_view_ops *ops;
    void *impl;
    an_results *results; /* SQLite: the results reader, opened on first use */
    char path[1024];
};

/* ---- SQLite --------------------------------------------------------------------------------- */

static int sq_write(void *impl, const an_event *const *evs, size_t n, char *err, size_t errlen)
{
    return an_store_write(impl, evs, n, err, errlen);
}
static int sq_reset(void *impl, uint64_t before, uint64_t *deleted, char *err, size_t errlen)
{
    return an_store_reset(impl, before, deleted, err, errlen);
}
static uint64_t sq_hwm(void *impl)
{
    return an_store_seq_hwm(impl);
}
static void sq_retention(void *impl, int64_t ms)
{
    an_store_set_result_retention(impl, ms);
}
static void sq_close(void *impl)
{
    an_store_close(impl);
}
static const an_engine_ops k_sqlite = {"sqlite", sq_write,     sq_reset,
                                       sq_hwm,   sq_retention, sq_close};

static int sqv_stats(void *impl, int days, int64_t now, an_stats *out, char *err, size_t errlen)
{
    return an_reader_stats(impl, days, now, out, err, errlen);
}
static int sqv_raw(void *impl, int days, int64_t now, an_stats *out, char *err, size_t errlen)
{
    return an_reader_stats_raw(impl, days, now, out, err, errlen);
}
static void sqv_active(void *impl, unsigned min)
{
    an_reader_set_active_min(impl, min);
}
static void sqv_close(void *impl)
{
    an_reader_close(impl);
}
static const an_view_ops k_sqlite_view = {sqv_stats, sqv_raw, sqv_active, NULL, sqv_close};

/* ---- PostgreSQL ----------------------------------------------------------------------------- */

static int pg_write(void *impl, const an_event *const *evs, size_t n, char *err, size_t errlen)
{
    return pg_anstore_write(impl, evs, n, err, errlen);
}
static int pg_reset(void *impl, uint64_t before, uint64_t *deleted, char *err, size_t errlen)
{
    return pg_anstore_reset(impl, before, deleted, err, errlen);
}
static uint64_t pg_hwm(void *impl)
{
    (void)impl;
    return 0;
}
static void pg_retention(void *impl, int64_t ms)
{
    pg_anstore_set_result_retention(impl, ms);
}
static void pg_close(void *impl)
{
    pg_anstore_close(impl);
}
static const an_engine_ops k_pg = {"postgresql", pg_write,     pg_reset,
                                   pg_hwm,       pg_retention, pg_close};

static int pgv_stats(void *impl, int days, int64_t now, an_stats *out, char *err, size_t errlen)
{
    return pg_anread_stats(impl, days, now, out, err, errlen);
}
static int pgv_raw(void *impl, int days, int64_t now, an_stats *out, char *err, size_t errlen)
{
    return pg_anread_stats_raw(impl, days, now, out, err, errlen);
}
static void pgv_active(void *impl, unsigned min)
{
    pg_anread_set_active_min(impl, min);
}
static int pgv_result(void *impl, uint64_t job, an_result_row *out, char *err, size_t errlen)
{
    return pg_anread_result(impl, job, out, err, errlen);
}
static void pgv_close(void *impl)
{
    pg_anread_close(impl);
}
static const an_view_ops k_pg_view = {pgv_stats, pgv_raw, pgv_active, pgv_result, pgv_close};

/* ---- the interface -------------------------------------------------------------------------- */

bool an_engine_is_pg(const char *db)
{
    return pg_is_url(db);
}

an_engine *an_engine_open(const char *db, char *err, size_t errlen)
{
    bool pg = an_engine_is_pg(db);
    void *impl =
        pg ? (void *)pg_anstore_open(db, err, errlen) : (void *)an_store_open(db, err, errlen);
    if (!impl) return NULL;
    an_engine *e = calloc(1, sizeof *e);
    if (!e) abort();
    e->ops = pg ? &k_pg : &k_sqlite;
    e->impl = impl;
    e->sqlite = !pg;
    return e;
}

void an_engine_close(an_engine *e)
{
    if (!e) return;
    e->ops->close(e->impl);
    free(e);
}

const char *an_engine_name(const an_engine *e)
{
    return e->ops->name;
}

an_store *an_engine_sqlite(an_engine *e)
{
    return e && e->sqlite ? e->impl : NULL;
}

int an_engine_write(an_engine *e, const an_event *const *evs, size_t n, char *err, size_t errlen)
{
    return e->ops->write(e->impl, evs, n, err, errlen);
}

int an_engine_reset(an_engine *e, uint64_t before_seq, uint64_t *rows_deleted, char *err,
                    size_t errlen)
{
    return e->ops->reset(e->impl, before_seq, rows_deleted, err, errlen);
}

uint64_t an_engine_seq_hwm(an_engine *e)
{
    return e->ops->seq_hwm(e->impl);
}

void an_engine_set_result_retention(an_engine *e, int64_t ms)
{
    e->ops->set_result_retention(e->impl, ms);
}

an_view *an_view_open(const char *db, char *err, size_t errlen)
{
    bool pg = an_engine_is_pg(db);
    void *impl =
        pg ? (void *)pg_anread_open(db, err, errlen) : (void *)an_reader_open(db, err, errlen);
    if (!impl) return NULL;
    an_view *v = calloc(1, sizeof *v);
    if (!v) abort();
    v->ops = pg ? &k_pg_view : &k_sqlite_view;
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
