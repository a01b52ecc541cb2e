/* The analytics writer's connection: open + migrate, batched writes, resets (see an_store.h). */
#include "analytics/an_store.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analytics/an_rollup.h"
#include "analytics/an_schema.h"
#include "analytics/an_sqlerr.h"
#include "analytics/an_time.h"
#include "fluxbot/runtime.h"
#include "moderation/mod_store.h"
#include "util/util_assert.h"

/* An outcome whose command row the writer has not seen yet (the router records the row when
 * Discord took its answer, the runner the outcome when the job ends: two producers, and a fast
 * failure can come first). Kept until the row arrives, at most OUTCOMES_MAX, oldest dropped. */
#define OUTCOMES_MAX 4096
typedef struct early_outcome {
    uint64_t interaction_id;
    bool success;
    bool used; /* matched by a row of the batch being written (removed once it commits) */
} early_outcome;

struct an_store {
    sqlite3 *db;
    sqlite3_stmt *find_cmd;
    sqlite3_stmt *ins_result, *ins_result_msg, *prune_results;
    int64_t result_retention_ms; /* 0 = keep every result */
    int64_t results_pruned_at;   /* event time of the last pruning */
    sqlite3_stmt *set_success;
    sqlite3_stmt *fix_failed;
    early_outcome *early;
    size_t nearly, nearly_committed;
    an_event *scratch; /* copies of command events whose success an early outcome changed */
    const an_event **rolled;
    size_t scratch_cap;
    sqlite3_stmt *ins_command;
    sqlite3_stmt *ins_image;
    sqlite3_stmt *ins_activity;
    sqlite3_stmt *set_hwm;
    an_rollup rollup;
    int64_t minute_horizon; /* meta 'minute_horizon' as committed */
    uint64_t seq_hwm;
#ifdef FB_DEBUG
    util_owner owner; /* the opening thread: the connection is NOMUTEX (see the header) */
#endif
};

static const char k_ins_command[] =
    "INSERT INTO command_usage(seq, command_name, user_id, guild_id, channel_id, ts_ms,"
    " execution_ms, success, kind, interaction_id) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)";
static const char k_ins_image[] =
    "INSERT INTO image_stats(seq, user_id, guild_id, prompt, resolution, loras, upscale_factor,"
    " generation_ms, is_video, generation_type, success, ts_ms, width, height)"
    " VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)";
/* A result row: its parameters (never its Discord message columns, which the RESULT_MSG
 * event fills, in whichever order the two arrive). */
static const char k_ins_result[] =
    "INSERT INTO results(job_id, created_ms, user_id, channel_id, params, success, is_image,"
    " view_url) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)"
    " ON CONFLICT(job_id) DO UPDATE SET created_ms = excluded.created_ms,"
    " user_id = excluded.user_id, channel_id = excluded.channel_id, params = excluded.params,"
    " success = excluded.success, is_image = excluded.is_image, view_url = excluded.view_url";
static const char k_ins_result_msg[] =
    "INSERT INTO results(job_id, created_ms, user_id, channel_id, message_id, params, success,"
    " is_image, attachment_url) VALUES(?1, ?2, ?3, ?4, ?5, '{}', 0, 0, ?6)"
    " ON CONFLICT(job_id) DO UPDATE SET message_id = excluded.message_id,"
    " attachment_url = excluded.attachment_url";
static const char k_prune_results[] = "DELETE FROM results WHERE created_ms < ?1";
static const char k_find_cmd[] = "SELECT id, ts_ms, success, kind FROM command_usage"
                                 " WHERE interaction_id = ?1 AND interaction_id IS NOT NULL";
static const char k_set_success[] = "UPDATE command_usage SET success = ?2 WHERE id = ?1";
static const char k_fix_failed[] =
    "UPDATE daily_stats SET failed_commands = failed_commands + ?2 WHERE day = ?1";
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
        {&s->find_cmd, k_find_cmd},
        {&s->ins_result, k_ins_result},
        {&s->ins_result_msg, k_ins_result_msg},
        {&s->prune_results, k_prune_results},
        {&s->set_success, k_set_success},
        {&s->fix_failed, k_fix_failed},
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
    if (rc == SQLITE_OK) s->minute_horizon = an_rollup_horizon(s->db);
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
    sqlite3_finalize(s->find_cmd);
    sqlite3_finalize(s->ins_result);
    sqlite3_finalize(s->ins_result_msg);
    sqlite3_finalize(s->prune_results);
    sqlite3_finalize(s->set_success);
    sqlite3_finalize(s->fix_failed);
    free(s->early);
    free(s->scratch);
    free(s->rolled);
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

static void bind_size(sqlite3_stmt *st, int i, uint32_t v)
{
    if (v)
        sqlite3_bind_int64(st, i, v);
    else
        sqlite3_bind_null(st, i);
}

static int insert_one(an_store *s, const an_event *e)
{
    sqlite3_stmt *st;
    switch (e->kind) {
    case AN_EV_COMMAND:
        st = s->ins_command;
        sqlite3_bind_text(st, 9, an_cmd_kind_name(e->cmd_kind), -1, SQLITE_STATIC);
        bind_id(st, 10, e->interaction_id);
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
        bind_size(st, 13, e->width);
        bind_size(st, 14, e->height);
        break;
    case AN_EV_RESULT:
        st = s->ins_result;
        sqlite3_bind_int64(st, 1, (int64_t)e->job_id);
        sqlite3_bind_int64(st, 2, e->ts_ms);
        sqlite3_bind_int64(st, 3, (int64_t)e->user_id);
        bind_id(st, 4, e->channel_id);
        bind_text(st, 5, e->params, "{}");
        sqlite3_bind_int(st, 6, e->success);
        sqlite3_bind_int(st, 7, e->is_image);
        bind_text(st, 8, e->url, NULL);
        break;
    case AN_EV_RESULT_MSG:
        st = s->ins_result_msg;
        sqlite3_bind_int64(st, 1, (int64_t)e->job_id);
        sqlite3_bind_int64(st, 2, e->ts_ms);
        sqlite3_bind_int64(st, 3, (int64_t)e->user_id);
        bind_id(st, 4, e->channel_id);
        bind_id(st, 5, e->message_id);
        bind_text(st, 6, e->url, NULL);
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

/* ---- results ------------------------------------------------------------------------------ */

void an_store_set_result_retention(an_store *s, int64_t ms)
{
    s->result_retention_ms = ms > 0 ? ms : 0;
}

/* The retention bounds the results table: at most once a minute of event time, the results
 * older than the retention before the newest one written are deleted. */
static int prune_results(an_store *s, const an_event *const *evs, size_t n, char *err,
                         size_t errlen)
{
    if (!s->result_retention_ms) return SQLITE_OK;
    int64_t newest = 0;
    for (size_t i = 0; i < n; i++)
        if (evs[i]->kind == AN_EV_RESULT && evs[i]->ts_ms > newest) newest = evs[i]->ts_ms;
    if (!newest || newest - s->results_pruned_at < 60000) return SQLITE_OK;
    sqlite3_bind_int64(s->prune_results, 1, newest - s->result_retention_ms);
    int rc = sqlite3_step(s->prune_results);
    sqlite3_reset(s->prune_results);
    if (rc != SQLITE_DONE) {
        an_sql_err(s->db, rc, "deleting expired results", err, errlen);
        return rc;
    }
    s->results_pruned_at = newest;
    return SQLITE_OK;
}

/* ---- minute rollups' retention ---------------------------------------------------------- */

/*
 * The minute rollups are kept AN_ROLLUP_MINUTE_KEEP_DAYS back from the newest statistic of the
 * batch (never from a stamp ahead of the clock: one event stamped years ahead would otherwise
 * delete them all), cut on an hour boundary, at most once a day of event time. Returns the new
 * horizon in *horizon (unchanged when nothing was pruned), applied by the caller once the
 * batch committed.
 */
static int prune_minutes(an_store *s, const an_event *const *evs, size_t n, int64_t *horizon,
                         char *err, size_t errlen)
{
    int64_t newest = INT64_MIN;
    for (size_t i = 0; i < n; i++)
        if (an_event_is_statistic(evs[i]->kind) && evs[i]->ts_ms > newest) newest = evs[i]->ts_ms;
    if (newest == INT64_MIN) return SQLITE_OK;
    int64_t clock = (int64_t)rt_wall_ms();
    if (newest > clock) newest = clock;
    int64_t h = an_hour_of(newest - AN_ROLLUP_MINUTE_KEEP_DAYS * AN_DAY_MS) * 60;
    if (h < s->minute_horizon + 24 * 60) return SQLITE_OK;
    int rc = an_rollup_prune(&s->rollup, h, err, errlen);
    if (rc == SQLITE_OK) *horizon = h;
    return rc;
}

/* ---- outcomes ------------------------------------------------------------------------------ */

static early_outcome *early_find(an_store *s, uint64_t interaction_id)
{
    for (size_t i = s->nearly; i-- > 0;)
        if (s->early[i].interaction_id == interaction_id && !s->early[i].used) return &s->early[i];
    return NULL;
}

static void early_add(an_store *s, uint64_t interaction_id, bool success)
{
    if (!s->early) {
        s->early = calloc(OUTCOMES_MAX, sizeof *s->early);
        if (!s->early) abort();
    }
    if (s->nearly == OUTCOMES_MAX) {
        /* Full: the oldest one's row is not coming (e.g. deleted by a reset). */
        memmove(s->early, s->early + 1, (OUTCOMES_MAX - 1) * sizeof *s->early);
        s->nearly--;
        if (s->nearly_committed) s->nearly_committed--;
    }
    s->early[s->nearly++] = (early_outcome){.interaction_id = interaction_id, .success = success};
}

/* After the batch committed (ok) or rolled back: keep the table as the database now is. */
static void early_settle(an_store *s, bool ok)
{
    size_t out = 0;
    for (size_t i = 0; i < s->nearly; i++) {
        early_outcome e = s->early[i];
        if (!ok) {
            if (i >= s->nearly_committed) continue; /* added by the failed batch: it is retried */
            e.used = false;
        } else if (e.used) {
            continue;
        }
        s->early[out++] = e;
    }
    s->nearly = s->nearly_committed = out;
}

/* Applies one outcome to its committed row, or keeps it for the row to come. */
static int apply_outcome(an_store *s, const an_event *e)
{
    sqlite3_stmt *st = s->find_cmd;
    sqlite3_bind_int64(st, 1, (int64_t)e->interaction_id);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_DONE) {
        sqlite3_reset(st);
        early_add(s, e->interaction_id, e->success);
        return SQLITE_OK;
    }
    if (rc != SQLITE_ROW) {
        sqlite3_reset(st);
        return rc;
    }
    int64_t id = sqlite3_column_int64(st, 0), ts = sqlite3_column_int64(st, 1);
    bool was = sqlite3_column_int(st, 2) != 0;
    bool slash = an_cmd_kind_parse((const char *)sqlite3_column_text(st, 3)) == AN_CMD_SLASH;
    sqlite3_reset(st);
    if (was == e->success) return SQLITE_OK;
    sqlite3_bind_int64(s->set_success, 1, id);
    sqlite3_bind_int(s->set_success, 2, e->success);
    rc = sqlite3_step(s->set_success);
    sqlite3_reset(s->set_success);
    if (rc != SQLITE_DONE) return rc;
    if (!slash) return SQLITE_OK; /* only slash commands are in the failed-command totals */
    sqlite3_bind_int64(s->fix_failed, 1, an_day_of(ts));
    sqlite3_bind_int64(s->fix_failed, 2, e->success ? -1 : 1);
    rc = sqlite3_step(s->fix_failed);
    sqlite3_reset(s->fix_failed);
    return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

/* The events of the batch as the rollups should see them: outcomes left out, and command rows
 * with the success an early outcome gave them. Fills s->rolled; returns its length. */
static size_t rollup_view(an_store *s, const an_event *const *evs, size_t n)
{
    if (s->scratch_cap < n) {
        free(s->scratch);
        free(s->rolled);
        s->scratch = calloc(n, sizeof *s->scratch);
        s->rolled = calloc(n, sizeof *s->rolled);
        if (!s->scratch || !s->rolled) abort();
        s->scratch_cap = n;
    }
    size_t m = 0;
    for (size_t i = 0; i < n; i++) {
        const an_event *e = evs[i];
        if (e->kind == AN_EV_OUTCOME) continue;
        early_outcome *o = NULL;
        if (!an_event_is_statistic(e->kind)) {
            /* Results and moderation changes: written, never in a rollup. */
            s->scratch[m] = *e;
            s->rolled[m] = &s->scratch[m];
            m++;
            continue;
        }
        if (e->kind == AN_EV_COMMAND && e->interaction_id && s->nearly)
            o = early_find(s, e->interaction_id);
        if (o) {
            s->scratch[m] = *e; /* shallow: the text stays the original event's */
            s->scratch[m].success = o->success;
            o->used = true;
            s->rolled[m] = &s->scratch[m];
        } else {
            s->rolled[m] = e;
        }
        m++;
    }
    return m;
}

int an_store_write(an_store *s, const an_event *const *evs, size_t n, char *err, size_t errlen)
{
    FB_ASSERT_OWNER(&s->owner);
    if (n == 0) return SQLITE_OK;
    int rc = begin(s, "starting a batch", err, errlen);
    if (rc != SQLITE_OK) return rc;
    uint64_t hwm = 0;
    size_t m = rollup_view(s, evs, n);
    for (size_t i = 0; i < m && rc == SQLITE_OK; i++) {
        rc = insert_one(s, s->rolled[i]);
        if (rc != SQLITE_OK) an_sql_err(s->db, rc, "inserting an event", err, errlen);
    }
    for (size_t i = 0; i < n; i++)
        if (evs[i]->seq > hwm) hwm = evs[i]->seq;
    if (rc == SQLITE_OK) {
        /* The rollups see the statistics only (results and moderation changes are written,
         * never summed). */
        size_t k = 0;
        for (size_t i = 0; i < m; i++)
            if (an_event_is_statistic(s->rolled[i]->kind)) s->rolled[k++] = s->rolled[i];
        rc = an_rollup_apply(&s->rollup, s->rolled, k, err, errlen);
    }
    if (rc == SQLITE_OK) rc = prune_results(s, evs, n, err, errlen);
    int64_t horizon = s->minute_horizon;
    if (rc == SQLITE_OK) rc = prune_minutes(s, evs, n, &horizon, err, errlen);
    /* Outcomes last, so an outcome finds its row even when both are in this batch. */
    for (size_t i = 0; i < n && rc == SQLITE_OK; i++) {
        if (evs[i]->kind != AN_EV_OUTCOME) continue;
        rc = apply_outcome(s, evs[i]);
        if (rc != SQLITE_OK) an_sql_err(s->db, rc, "applying an outcome", err, errlen);
    }
    if (rc == SQLITE_OK) {
        sqlite3_bind_int64(s->set_hwm, 1, (int64_t)hwm);
        rc = sqlite3_step(s->set_hwm);
        sqlite3_reset(s->set_hwm);
        rc = rc == SQLITE_DONE ? SQLITE_OK : rc;
        if (rc != SQLITE_OK) an_sql_err(s->db, rc, "updating the sequence mark", err, errlen);
    }
    rc = finish(s, rc, "committing a batch", err, errlen);
    early_settle(s, rc == SQLITE_OK);
    if (rc == SQLITE_OK && hwm > s->seq_hwm) s->seq_hwm = hwm;
    if (rc == SQLITE_OK) s->minute_horizon = horizon;
    return rc;
}

int an_store_insert_raw(an_store *s, const an_event *const *evs, size_t n, char *err, size_t errlen)
{
    for (size_t i = 0; i < n; i++) {
        if (evs[i]->kind != AN_EV_COMMAND && evs[i]->kind != AN_EV_IMAGE &&
            evs[i]->kind != AN_EV_ACTIVITY)
            continue;
        int rc = insert_one(s, evs[i]);
        if (rc != SQLITE_OK) {
            an_sql_err(s->db, rc, "inserting an event", err, errlen);
            return rc;
        }
    }
    return SQLITE_OK;
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
    if (rc == SQLITE_OK) s->minute_horizon = 0; /* the rebuild wrote every minute again */
    if (rows_deleted) *rows_deleted = rc == SQLITE_OK ? deleted : 0;
    return rc;
}
