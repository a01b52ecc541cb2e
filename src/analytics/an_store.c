/* The analytics writer's connection: open + migrate, batched writes, resets (see an_store.h). */
#include "analytics/an_store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analytics/an_rollup.h"
#include "analytics/an_schema.h"
#include "analytics/an_sqlerr.h"
#include "moderation/mod_store.h"
#include "util/util_assert.h"

struct an_store {
    sqlite3 *db;
    sqlite3_stmt *ins_command;
    sqlite3_stmt *ins_image;
    sqlite3_stmt *ins_activity;
    sqlite3_stmt *set_hwm;
    an_rollup rollup;
    uint64_t seq_hwm;
#ifdef FB_DEBUG
    util_owner owner; /* the opening thread: the connection is NOMUTEX (see the header) */
#endif
};

static const char k_ins_command[] =
    "INSERT INTO command_usage(seq, command_name, user_id, guild_id, channel_id, ts_ms,"
    " execution_ms, success) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)";
static const char k_ins_image[] =
    "INSERT INTO image_stats(seq, user_id, guild_id, prompt, resolution, loras, upscale_factor,"
    " generation_ms, is_video, generation_type, success, ts_ms)"
    " VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)";
static const char k_ins_activity[] =
    "INSERT INTO user_activity(seq, user_id, guild_id, action_type, ts_ms, details)"
    " VALUES(?1, ?2, ?3, ?4, ?5, ?6)";
static const char k_set_hwm[] = "UPDATE meta SET value = MAX(value, ?1) WHERE key = 'seq_hwm'";

static int prepare_all(an_store *s, char *err, size_t errlen)
{
    struct {
        sqlite3_stmt **st;
        const char *sql;
    } all[] = {
        {&s->ins_command, k_ins_command},
        {&s->ins_image, k_ins_image},
        {&s->ins_activity, k_ins_activity},
        {&s->set_hwm, k_set_hwm},
    };
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) {
        int rc =
            sqlite3_prepare_v3(s->db, all[i].sql, -1, SQLITE_PREPARE_PERSISTENT, all[i].st, NULL);
        if (rc != SQLITE_OK) {
            an_sql_err(s->db, rc, "preparing insert statements", err, errlen);
            return rc;
        }
    }
    return an_rollup_init(&s->rollup, s->db, err, errlen);
}

static int read_hwm(an_store *s, char *err, size_t errlen)
{
    sqlite3_stmt *st;
    int rc =
        sqlite3_prepare_v2(s->db, "SELECT value FROM meta WHERE key = 'seq_hwm'", -1, &st, NULL);
    if (rc == SQLITE_OK) {
        rc = sqlite3_step(st);
        if (rc == SQLITE_ROW) {
            s->seq_hwm = (uint64_t)sqlite3_column_int64(st, 0);
            rc = SQLITE_OK;
        } else if (rc == SQLITE_DONE) {
            rc = SQLITE_CORRUPT; /* the v2 migration always inserts the row */
        }
        sqlite3_finalize(st);
    }
    if (rc != SQLITE_OK) an_sql_err(s->db, rc, "reading the sequence high-water mark", err, errlen);
    return rc;
}

an_store *an_store_open(const char *path, char *err, size_t errlen)
{
    if (!path || !*path) {
        snprintf(err, errlen, "no analytics database path configured");
        return NULL;
    }
    an_store *s = calloc(1, sizeof *s);
    if (!s) abort();
    FB_OWNER_CLAIM(&s->owner);
    char msg[256] = "";
    /* NOMUTEX: the connection is used by one thread only (see the header). */
    int rc = sqlite3_open_v2(
        path, &s->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
    if (rc != SQLITE_OK) {
        an_sql_err(s->db, rc, "open", msg, sizeof msg);
    } else if (sqlite3_db_readonly(s->db, "main") == 1) {
        /* SQLite silently falls back to read-only when the file is write-protected. */
        rc = SQLITE_READONLY;
        snprintf(msg, sizeof msg, "the file is not writable (read-only)");
    }
    if (rc == SQLITE_OK) {
        sqlite3_busy_timeout(s->db, 100);
        sqlite3_extended_result_codes(s->db, 1);
        rc = an_schema_pragmas(s->db, msg, sizeof msg);
    }
    if (rc == SQLITE_OK) rc = an_schema_migrate(s->db, AN_SCHEMA_VERSION, msg, sizeof msg);
    if (rc == SQLITE_OK) rc = prepare_all(s, msg, sizeof msg);
    if (rc == SQLITE_OK) rc = read_hwm(s, msg, sizeof msg);
    if (rc != SQLITE_OK) {
        snprintf(err, errlen, "cannot open analytics database '%s': %s", path, msg);
        an_store_close(s);
        return NULL;
    }
    return s;
}

void an_store_close(an_store *s)
{
    if (!s) return;
    FB_ASSERT_OWNER(&s->owner);
    sqlite3_finalize(s->ins_command);
    sqlite3_finalize(s->ins_image);
    sqlite3_finalize(s->ins_activity);
    sqlite3_finalize(s->set_hwm);
    an_rollup_fini(&s->rollup);
    sqlite3_close_v2(s->db);
    free(s);
}

sqlite3 *an_store_db(an_store *s)
{
    return s->db;
}
uint64_t an_store_seq_hwm(const an_store *s)
{
    return s->seq_hwm;
}
void an_store_set_busy_timeout(an_store *s, int ms)
{
    FB_ASSERT_OWNER(&s->owner);
    sqlite3_busy_timeout(s->db, ms);
}

/* ---- binding helpers --------------------------------------------------------------------- */

static void bind_id(sqlite3_stmt *st, int i, uint64_t id)
{
    if (id)
        sqlite3_bind_int64(st, i, (int64_t)id);
    else
        sqlite3_bind_null(st, i);
}

static void bind_text(sqlite3_stmt *st, int i, const char *s, const char *dflt)
{
    if (!s) s = dflt;
    if (s)
        sqlite3_bind_text(st, i, s, -1, SQLITE_STATIC);
    else
        sqlite3_bind_null(st, i);
}

static int insert_one(an_store *s, const an_event *e)
{
    sqlite3_stmt *st;
    switch (e->kind) {
    case AN_EV_COMMAND:
        st = s->ins_command;
        sqlite3_bind_int64(st, 1, (int64_t)e->seq);
        bind_text(st, 2, e->command, "");
        sqlite3_bind_int64(st, 3, (int64_t)e->user_id);
        bind_id(st, 4, e->guild_id);
        bind_id(st, 5, e->channel_id);
        sqlite3_bind_int64(st, 6, e->ts_ms);
        sqlite3_bind_int64(st, 7, e->duration_ms);
        sqlite3_bind_int(st, 8, e->success);
        break;
    case AN_EV_IMAGE:
        st = s->ins_image;
        sqlite3_bind_int64(st, 1, (int64_t)e->seq);
        sqlite3_bind_int64(st, 2, (int64_t)e->user_id);
        bind_id(st, 3, e->guild_id);
        bind_text(st, 4, e->prompt, NULL);
        bind_text(st, 5, e->resolution, NULL);
        bind_text(st, 6, e->loras, NULL);
        sqlite3_bind_double(st, 7, e->upscale_factor > 0 ? e->upscale_factor : 1.0);
        sqlite3_bind_int64(st, 8, e->duration_ms);
        sqlite3_bind_int(st, 9, e->is_video);
        bind_text(st, 10, e->generation_type, e->is_video ? "video" : "standard");
        sqlite3_bind_int(st, 11, e->success);
        sqlite3_bind_int64(st, 12, e->ts_ms);
        break;
    case AN_EV_MODERATION:
        return mod_store_apply(s->db, e);
    case AN_EV_ACTIVITY:
        st = s->ins_activity;
        sqlite3_bind_int64(st, 1, (int64_t)e->seq);
        sqlite3_bind_int64(st, 2, (int64_t)e->user_id);
        bind_id(st, 3, e->guild_id);
        bind_text(st, 4, e->action, "");
        sqlite3_bind_int64(st, 5, e->ts_ms);
        bind_text(st, 6, e->details, NULL);
        break;
    default:
        return SQLITE_MISUSE;
    }
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

static int begin(an_store *s, const char *what, char *err, size_t errlen)
{
    int rc = sqlite3_exec(s->db, "BEGIN IMMEDIATE", NULL, NULL, NULL);
    if (rc != SQLITE_OK) an_sql_err(s->db, rc, what, err, errlen);
    return rc;
}

/* Commits, or rolls back and reports when rc (the work's outcome) or the commit failed. */
static int finish(an_store *s, int rc, const char *what, char *err, size_t errlen)
{
    if (rc == SQLITE_OK) {
        rc = sqlite3_exec(s->db, "COMMIT", NULL, NULL, NULL);
        if (rc != SQLITE_OK) an_sql_err(s->db, rc, what, err, errlen);
    }
    if (rc != SQLITE_OK && !sqlite3_get_autocommit(s->db))
        sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
    return rc;
}

int an_store_write(an_store *s, const an_event *const *evs, size_t n, char *err, size_t errlen)
{
    FB_ASSERT_OWNER(&s->owner);
    if (n == 0) return SQLITE_OK;
    int rc = begin(s, "starting a batch", err, errlen);
    if (rc != SQLITE_OK) return rc;
    uint64_t hwm = 0;
    for (size_t i = 0; i < n && rc == SQLITE_OK; i++) {
        rc = insert_one(s, evs[i]);
        if (rc != SQLITE_OK) an_sql_err(s->db, rc, "inserting an event", err, errlen);
        if (evs[i]->seq > hwm) hwm = evs[i]->seq;
    }
    if (rc == SQLITE_OK) {
        /* Moderation changes are not statistics: the rollups see only the other events. */
        size_t nstat = 0;
        for (size_t i = 0; i < n; i++)
            nstat += evs[i]->kind != AN_EV_MODERATION;
        if (nstat == n) {
            rc = an_rollup_apply(&s->rollup, evs, n, err, errlen);
        } else if (nstat) {
            const an_event **stat = malloc(nstat * sizeof *stat);
            if (!stat) abort();
            for (size_t i = 0, k = 0; i < n; i++)
                if (evs[i]->kind != AN_EV_MODERATION) stat[k++] = evs[i];
            rc = an_rollup_apply(&s->rollup, stat, nstat, err, errlen);
            free(stat);
        }
    }
    if (rc == SQLITE_OK) {
        sqlite3_bind_int64(s->set_hwm, 1, (int64_t)hwm);
        rc = sqlite3_step(s->set_hwm);
        sqlite3_reset(s->set_hwm);
        rc = rc == SQLITE_DONE ? SQLITE_OK : rc;
        if (rc != SQLITE_OK) an_sql_err(s->db, rc, "updating the sequence mark", err, errlen);
    }
    rc = finish(s, rc, "committing a batch", err, errlen);
    if (rc == SQLITE_OK && hwm > s->seq_hwm) s->seq_hwm = hwm;
    return rc;
}

int an_store_reset(an_store *s, uint64_t before_seq, uint64_t *rows_deleted, char *err,
                   size_t errlen)
{
    static const char *const k_deletes[] = {
        "DELETE FROM command_usage WHERE seq < ?1",
        "DELETE FROM image_stats WHERE seq < ?1",
        "DELETE FROM user_activity WHERE seq < ?1",
    };
    FB_ASSERT_OWNER(&s->owner);
    uint64_t deleted = 0;
    int rc = begin(s, "starting a reset", err, errlen);
    if (rc != SQLITE_OK) return rc;
    for (size_t i = 0; i < 3 && rc == SQLITE_OK; i++) {
        sqlite3_stmt *st;
        rc = sqlite3_prepare_v2(s->db, k_deletes[i], -1, &st, NULL);
        if (rc == SQLITE_OK) {
            sqlite3_bind_int64(st, 1, (int64_t)before_seq);
            rc = sqlite3_step(st);
            rc = rc == SQLITE_DONE ? SQLITE_OK : rc;
            deleted += (uint64_t)sqlite3_changes(s->db);
            sqlite3_finalize(st);
        }
        if (rc != SQLITE_OK) an_sql_err(s->db, rc, "deleting rows", err, errlen);
    }
    if (rc == SQLITE_OK) rc = an_rollup_rebuild(s->db, err, errlen);
    rc = finish(s, rc, "committing a reset", err, errlen);
    if (rows_deleted) *rows_deleted = rc == SQLITE_OK ? deleted : 0;
    return rc;
}
