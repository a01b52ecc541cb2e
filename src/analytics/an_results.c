/* Reading stored results back (see an_results.h). */
#include "analytics/an_results.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "analytics/an_schema.h"
#include "analytics/an_sqlerr.h"

struct an_results {
    sqlite3 *db;
    sqlite3_stmt *get;
};

an_results *an_results_open(const char *path, char *err, size_t errlen)
{
    sqlite3 *db = NULL;
    char msg[256] = "";
    int rc = sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, NULL);
    if (rc != SQLITE_OK) {
        an_sql_err(db, rc, "open", msg, sizeof msg);
    } else {
        sqlite3_busy_timeout(db, 200);
        int v = an_schema_version(db, msg, sizeof msg);
        if (v >= 0 && v < AN_SCHEMA_VERSION) {
            snprintf(msg, sizeof msg, "schema version %d has no results table yet", v);
            rc = SQLITE_ERROR;
        } else if (v < 0) {
            rc = SQLITE_ERROR;
        }
    }
    sqlite3_stmt *st = NULL;
    if (rc == SQLITE_OK) {
        rc = sqlite3_prepare_v3(db,
                                "SELECT created_ms, user_id, channel_id, message_id, success,"
                                " is_image, params, view_url, attachment_url FROM results"
                                " WHERE job_id = ?1",
                                -1, SQLITE_PREPARE_PERSISTENT, &st, NULL);
        if (rc != SQLITE_OK) an_sql_err(db, rc, "preparing the results query", msg, sizeof msg);
    }
    if (rc != SQLITE_OK) {
        snprintf(err, errlen, "stored results of '%s' cannot be read: %s", path, msg);
        sqlite3_finalize(st);
        sqlite3_close_v2(db);
        return NULL;
    }
    an_results *r = calloc(1, sizeof *r);
    if (!r) abort();
    r->db = db;
    r->get = st;
    return r;
}

void an_results_close(an_results *r)
{
    if (!r) return;
    sqlite3_finalize(r->get);
    sqlite3_close_v2(r->db);
    free(r);
}

static char *dup_col(sqlite3_stmt *st, int i)
{
    const char *s = (const char *)sqlite3_column_text(st, i);
    if (!s) return NULL;
    char *d = strdup(s);
    if (!d) abort();
    return d;
}

int an_results_get(an_results *r, uint64_t job_id, an_result_row *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    sqlite3_bind_int64(r->get, 1, (int64_t)job_id);
    int rc = sqlite3_step(r->get);
    int found = 0;
    if (rc == SQLITE_ROW) {
        out->created_ms = sqlite3_column_int64(r->get, 0);
        out->user_id = (uint64_t)sqlite3_column_int64(r->get, 1);
        out->channel_id = (uint64_t)sqlite3_column_int64(r->get, 2);
        out->message_id = (uint64_t)sqlite3_column_int64(r->get, 3);
        out->success = sqlite3_column_int(r->get, 4) != 0;
        out->is_image = sqlite3_column_int(r->get, 5) != 0;
        out->params = dup_col(r->get, 6);
        out->view_url = dup_col(r->get, 7);
        out->attachment_url = dup_col(r->get, 8);
        found = out->params ? 1 : 0;
    } else if (rc != SQLITE_DONE) {
        an_sql_err(r->db, rc, "reading a stored result", err, errlen);
        found = -1;
    }
    sqlite3_reset(r->get);
    return found;
}

void an_result_row_free(an_result_row *row)
{
    free(row->params);
    free(row->view_url);
    free(row->attachment_url);
    memset(row, 0, sizeof *row);
}
