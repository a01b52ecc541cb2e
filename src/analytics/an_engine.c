/* The analytics engines behind one interface: SQLite and PostgreSQL (see an_engine.h). */
#include "analytics/an_engine.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "pg/pg_anstore.h"
#include "pg/pg_conn.h"

struct an_engine {
    const an_engine_ops *ops;
    void *impl;
    bool sqlite;
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
