/* Analytics schema: connection pragmas, the migration list and its runner (see an_schema.h). */
#include "analytics/an_schema.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cjson/cJSON.h>

#include "analytics/an_rollup.h"
#include "analytics/an_sqlerr.h"
#include "moderation/mod_store.h"
#include "fluxbot/runtime.h"
#include "util/util_str.h"

/*
 * Version 1: the four tables of the spec. Indexes serve the time-window queries: each raw
 * table is indexed by ts_ms, and the command and image indexes also carry the columns /stats
 * reads, so the partial days of a window are answered from the index alone.
 */
static const char k_v1[] =
    "CREATE TABLE schema_version("
    " version INTEGER PRIMARY KEY,"
    " applied_ms INTEGER NOT NULL);"

    "CREATE TABLE command_usage("
    " id INTEGER PRIMARY KEY,"
    " seq INTEGER NOT NULL,"
    " command_name TEXT NOT NULL,"
    " user_id INTEGER NOT NULL,"
    " guild_id INTEGER,"
    " channel_id INTEGER,"
    " ts_ms INTEGER NOT NULL,"
    " execution_ms INTEGER,"
    " success INTEGER NOT NULL);"
    "CREATE INDEX command_usage_by_time ON command_usage(ts_ms, command_name, user_id);"

    "CREATE TABLE image_stats("
    " id INTEGER PRIMARY KEY,"
    " seq INTEGER NOT NULL,"
    " user_id INTEGER NOT NULL,"
    " guild_id INTEGER,"
    " prompt TEXT,"
    " resolution TEXT,"
    " loras TEXT,"
    " upscale_factor REAL NOT NULL DEFAULT 1,"
    " generation_ms INTEGER,"
    " is_video INTEGER NOT NULL DEFAULT 0,"
    " generation_type TEXT NOT NULL DEFAULT 'standard',"
    " success INTEGER NOT NULL DEFAULT 1,"
    " ts_ms INTEGER NOT NULL);"
    "CREATE INDEX image_stats_by_time"
    " ON image_stats(ts_ms, success, is_video, generation_ms, resolution);"

    "CREATE TABLE user_activity("
    " id INTEGER PRIMARY KEY,"
    " seq INTEGER NOT NULL,"
    " user_id INTEGER NOT NULL,"
    " guild_id INTEGER,"
    " action_type TEXT NOT NULL,"
    " ts_ms INTEGER NOT NULL,"
    " details TEXT);"
    "CREATE INDEX user_activity_by_time ON user_activity(ts_ms);"

    /* Sums rather than averages are stored so that days add up; the averages are derived. */
    "CREATE TABLE daily_stats("
    " day INTEGER PRIMARY KEY,"
    " date TEXT NOT NULL,"
    " total_commands INTEGER NOT NULL DEFAULT 0,"
    " failed_commands INTEGER NOT NULL DEFAULT 0,"
    " total_images INTEGER NOT NULL DEFAULT 0,"
    " image_ms_sum INTEGER NOT NULL DEFAULT 0,"
    " total_videos INTEGER NOT NULL DEFAULT 0,"
    " video_ms_sum INTEGER NOT NULL DEFAULT 0,"
    " failed_generations INTEGER NOT NULL DEFAULT 0,"
    " total_activity INTEGER NOT NULL DEFAULT 0,"
    " unique_users INTEGER NOT NULL DEFAULT 0,"
    " avg_generation_ms REAL GENERATED ALWAYS AS"
    "  (CASE WHEN total_images > 0 THEN image_ms_sum * 1.0 / total_images END) VIRTUAL,"
    " avg_video_ms REAL GENERATED ALWAYS AS"
    "  (CASE WHEN total_videos > 0 THEN video_ms_sum * 1.0 / total_videos END) VIRTUAL);";

/*
 * Version 2: the per-day side tables that make top-5 lists and distinct users summable over a
 * window (see an_rollup.h), and meta (the writer's sequence high-water mark). Existing raw
 * rows are rolled up afterwards (see k_migrations).
 */
static const char k_v2[] =
    "CREATE TABLE daily_commands("
    " day INTEGER NOT NULL, command_name TEXT NOT NULL, count INTEGER NOT NULL,"
    " PRIMARY KEY(day, command_name)) WITHOUT ROWID;"
    "CREATE TABLE daily_resolutions("
    " day INTEGER NOT NULL, resolution TEXT NOT NULL, count INTEGER NOT NULL,"
    " PRIMARY KEY(day, resolution)) WITHOUT ROWID;"
    "CREATE TABLE daily_users("
    " day INTEGER NOT NULL, user_id INTEGER NOT NULL, commands INTEGER NOT NULL,"
    " PRIMARY KEY(day, user_id)) WITHOUT ROWID;"
    "CREATE TABLE known_users("
    " user_id INTEGER PRIMARY KEY, first_seen_ms INTEGER NOT NULL);"
    "CREATE TABLE meta(key TEXT PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID;"
    "INSERT INTO meta(key, value) SELECT 'seq_hwm', COALESCE(MAX(m), 0) FROM ("
    " SELECT MAX(seq) AS m FROM command_usage UNION ALL"
    " SELECT MAX(seq) FROM image_stats UNION ALL"
    " SELECT MAX(seq) FROM user_activity);";

/*
 * Version 3: hourly rollups, so that the partial days at a window's edges are read per hour
 * and only the partial hours come from the raw tables.
 */
static const char k_v3[] =
    "CREATE TABLE hourly_stats("
    " hour INTEGER PRIMARY KEY,"
    " total_commands INTEGER NOT NULL DEFAULT 0,"
    " total_images INTEGER NOT NULL DEFAULT 0,"
    " image_ms_sum INTEGER NOT NULL DEFAULT 0,"
    " total_videos INTEGER NOT NULL DEFAULT 0,"
    " video_ms_sum INTEGER NOT NULL DEFAULT 0);"
    "CREATE TABLE hourly_commands("
    " hour INTEGER NOT NULL, command_name TEXT NOT NULL, count INTEGER NOT NULL,"
    " PRIMARY KEY(hour, command_name)) WITHOUT ROWID;"
    "CREATE TABLE hourly_resolutions("
    " hour INTEGER NOT NULL, resolution TEXT NOT NULL, count INTEGER NOT NULL,"
    " PRIMARY KEY(hour, resolution)) WITHOUT ROWID;"
    "CREATE TABLE hourly_users("
    " hour INTEGER NOT NULL, user_id INTEGER NOT NULL,"
    " PRIMARY KEY(hour, user_id)) WITHOUT ROWID;";

/*
 * Version 4: daily_report, daily_stats as a person reads it: every column of the table plus the
 * day's five most used commands and most generated resolutions as JSON objects
 * ({"comfy":12,...}), as the spec's daily summary lists them. A view, so nothing to maintain.
 */
static const char k_v4[] =
    "CREATE VIEW daily_report AS SELECT d.*,"
    " (SELECT json_group_object(command_name, count) FROM (SELECT command_name, count"
    "   FROM daily_commands c WHERE c.day = d.day ORDER BY count DESC, command_name LIMIT 5))"
    "  AS popular_commands,"
    " (SELECT json_group_object(resolution, count) FROM (SELECT resolution, count"
    "   FROM daily_resolutions r WHERE r.day = d.day ORDER BY count DESC, resolution LIMIT 5))"
    "  AS popular_resolutions"
    " FROM daily_stats d;";

/* Version 5: the moderation state (filters, violations, warning clears, bans); see
 * src/moderation/mod_store.h, which owns these tables. */
static const char k_v5[] = MOD_STORE_SCHEMA_SQL;

/*
 * Version 6: the numbers the spec asks for (see an_stats.h).
 *  - command_usage.kind says what interaction a row is ("command" = slash command, "button",
 *    "autocomplete", "modal", "unknown"); older rows are classified by their names. Only
 *    "command" rows are counted as commands; buttons get their own totals.
 *  - command_usage.interaction_id, so an outcome learnt later (a job that failed) can correct
 *    the row's success (partial index: only rows that have one).
 *  - image_stats.width/height: the delivered size, apart from the resolution label; older
 *    "WxH" resolutions are split into them.
 *  - daily_users.events and hourly_users.events: every tracked event of a user per bucket, so
 *    Total Users and Active Users (>= N events) are exact for any window; hourly_users now
 *    holds every user with an event that hour.
 *  - the raw time indexes cover what the window edges read (kind, user ids).
 * The LoRA lists of older rows become JSON lists in v6_loras (C, since SQL cannot split).
 */
static const char k_v6[] =
    "ALTER TABLE command_usage ADD COLUMN kind TEXT NOT NULL DEFAULT 'command';"
    "ALTER TABLE command_usage ADD COLUMN interaction_id INTEGER;"
    "UPDATE command_usage SET kind = 'button' WHERE command_name LIKE 'button:%';"
    "UPDATE command_usage SET kind = 'unknown' WHERE command_name IN ('invalid', 'unknown');"
    "DROP INDEX command_usage_by_time;"
    "CREATE INDEX command_usage_by_time ON command_usage(ts_ms, kind, command_name, user_id);"
    "CREATE INDEX command_usage_by_interaction ON command_usage(interaction_id)"
    " WHERE interaction_id IS NOT NULL;"
    "ALTER TABLE image_stats ADD COLUMN width INTEGER;"
    "ALTER TABLE image_stats ADD COLUMN height INTEGER;"
    "UPDATE image_stats SET"
    " width = CAST(substr(resolution, 1, instr(resolution, 'x') - 1) AS INTEGER),"
    " height = CAST(substr(resolution, instr(resolution, 'x') + 1) AS INTEGER)"
    " WHERE resolution GLOB '[0-9]*x[0-9]*' AND resolution NOT GLOB '*[^0-9x]*';"
    "DROP INDEX image_stats_by_time;"
    "CREATE INDEX image_stats_by_time"
    " ON image_stats(ts_ms, success, is_video, generation_ms, resolution, user_id);"
    "DROP INDEX user_activity_by_time;"
    "CREATE INDEX user_activity_by_time ON user_activity(ts_ms, user_id);"
    "ALTER TABLE daily_stats ADD COLUMN total_buttons INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE hourly_stats ADD COLUMN total_buttons INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE daily_users ADD COLUMN events INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE hourly_users ADD COLUMN events INTEGER NOT NULL DEFAULT 0;";

/*
 * Version 7: imported_rows, the rows `fluxbot import-analytics` brought over from the Python
 * original's analytics.db, by (table, source row id, time, user), so a second import of the
 * same file (or of a later copy of it) adds only what is new.
 */
static const char k_v7[] = "CREATE TABLE imported_rows("
                           " tbl TEXT NOT NULL, src_id INTEGER NOT NULL, ts_ms INTEGER NOT NULL,"
                           " user_id INTEGER NOT NULL,"
                           " PRIMARY KEY(tbl, src_id, ts_ms, user_id)) WITHOUT ROWID;";

/*
 * Version 8: results, the parameters of every delivered result (see an_results.h), so that
 * Regenerate and Upscale work after a restart; bounded by result_retention_days.
 */
static const char k_v8[] = "CREATE TABLE results("
                           " job_id INTEGER PRIMARY KEY,"
                           " created_ms INTEGER NOT NULL,"
                           " user_id INTEGER NOT NULL,"
                           " channel_id INTEGER,"
                           " message_id INTEGER,"
                           " params TEXT NOT NULL,"
                           " success INTEGER NOT NULL,"
                           " is_image INTEGER NOT NULL,"
                           " view_url TEXT,"
                           " attachment_url TEXT);"
                           "CREATE INDEX results_by_time ON results(created_ms);";

/*
 * Version 9: every /stats answer from rollups only (see an_stats.h: the window is made of whole
 * UTC minutes, so its edges fall on minute boundaries).
 *  - minute_stats, minute_commands, minute_resolutions: the hourly rollups per UTC minute
 *    (minutes since the epoch), for the partial hour at a window's start and the minutes after
 *    now's in the current hour. Kept AN_ROLLUP_MINUTE_KEEP_DAYS days back from the newest event
 *    (meta 'minute_horizon' is the first minute still kept; older ones are deleted).
 *  - user_minutes: one row per user and minute with an event of that user; cum is the user's
 *    events up to the end of that minute. A user's events in a window of whole minutes are two
 *    lookups (cum at the window's last minute minus cum before its first). Rows before the
 *    horizon are compacted to the last one per user (the base of every later lookup).
 *  - known_users gains last_minute (minute of the user's newest event) and events (all the
 *    user's events, = cum of its newest row), indexed by last_minute: the users of a window are
 *    among those whose last_minute is at or after the window's first minute.
 *  - hourly_users is dropped: nothing reads it any more (daily_users stays for daily_stats).
 * The rollups are rebuilt from the raw rows afterwards.
 */
static const char k_v9[] =
    "CREATE TABLE minute_stats("
    " minute INTEGER PRIMARY KEY,"
    " total_commands INTEGER NOT NULL DEFAULT 0,"
    " total_images INTEGER NOT NULL DEFAULT 0,"
    " image_ms_sum INTEGER NOT NULL DEFAULT 0,"
    " total_videos INTEGER NOT NULL DEFAULT 0,"
    " video_ms_sum INTEGER NOT NULL DEFAULT 0,"
    " total_buttons INTEGER NOT NULL DEFAULT 0);"
    "CREATE TABLE minute_commands("
    " minute INTEGER NOT NULL, command_name TEXT NOT NULL, count INTEGER NOT NULL,"
    " PRIMARY KEY(minute, command_name)) WITHOUT ROWID;"
    "CREATE TABLE minute_resolutions("
    " minute INTEGER NOT NULL, resolution TEXT NOT NULL, count INTEGER NOT NULL,"
    " PRIMARY KEY(minute, resolution)) WITHOUT ROWID;"
    "CREATE TABLE user_minutes("
    " user_id INTEGER NOT NULL, minute INTEGER NOT NULL, cum INTEGER NOT NULL,"
    " PRIMARY KEY(user_id, minute)) WITHOUT ROWID;"
    "ALTER TABLE known_users ADD COLUMN last_minute INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE known_users ADD COLUMN events INTEGER NOT NULL DEFAULT 0;"
    "CREATE INDEX known_users_by_last ON known_users(last_minute, first_seen_ms, events);"
    "DROP TABLE hourly_users;"
    "INSERT OR REPLACE INTO meta(key, value) VALUES('minute_horizon', 0);";

/* Version 10: the users' dispatch priorities (/priority, moderation/mod_store.h). */
static const char k_v10[] = MOD_STORE_PRIORITY_SQL;

/* "A, B" (the comma-separated names older versions stored) -> ["A","B"]; NULL/"" -> []. */
static int v6_loras(sqlite3 *db, char *err, size_t errlen)
{
    sqlite3_stmt *sel = NULL, *upd = NULL;
    int rc = sqlite3_prepare_v2(db,
                                "SELECT id, loras FROM image_stats"
                                " WHERE loras IS NULL OR loras NOT LIKE '[%'",
                                -1, &sel, NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_prepare_v2(db, "UPDATE image_stats SET loras = ?2 WHERE id = ?1", -1, &upd,
                                NULL);
    while (rc == SQLITE_OK && (rc = sqlite3_step(sel)) == SQLITE_ROW) {
        const char *old = (const char *)sqlite3_column_text(sel, 1);
        cJSON *arr = cJSON_CreateArray();
        const char *p = old ? old : "";
        while (*p) {
            const char *comma = strchr(p, ',');
            size_t n = comma ? (size_t)(comma - p) : strlen(p);
            while (n && p[n - 1] == ' ')
                n--;
            if (n) {
                char *name = util_strndup(p, n);
                cJSON_AddItemToArray(arr, cJSON_CreateString(name));
                free(name);
            }
            if (!comma) break;
            p = comma + 1;
            while (*p == ' ')
                p++;
        }
        char *json = cJSON_PrintUnformatted(arr);
        cJSON_Delete(arr);
        if (!json) abort();
        sqlite3_bind_int64(upd, 1, sqlite3_column_int64(sel, 0));
        sqlite3_bind_text(upd, 2, json, -1, SQLITE_TRANSIENT);
        free(json);
        rc = sqlite3_step(upd);
        sqlite3_reset(upd);
        rc = rc == SQLITE_DONE ? SQLITE_OK : rc;
    }
    if (rc == SQLITE_DONE) rc = SQLITE_OK;
    if (rc != SQLITE_OK) an_sql_err(db, rc, "converting LoRA lists to JSON", err, errlen);
    sqlite3_finalize(sel);
    sqlite3_finalize(upd);
    return rc;
}

/*
 * A migration that adds or changes rollups sets `rebuild`. The rollups are then recomputed
 * from the raw rows once, in the transaction of the last step, because the rebuild code writes
 * the current schema's rollup tables (an older step's tables alone would not do).
 */
typedef struct migration {
    const char *sql;
    bool rebuild;
    int (*after)(sqlite3 *db, char *err, size_t errlen); /* data conversion after sql, or NULL */
} migration;

static const migration k_migrations[AN_SCHEMA_VERSION] = {
    {k_v1, false, NULL}, {k_v2, true, NULL},     {k_v3, true, NULL},  {k_v4, false, NULL},
    {k_v5, false, NULL}, {k_v6, true, v6_loras}, {k_v7, false, NULL}, {k_v8, false, NULL},
    {k_v9, true, NULL},  {k_v10, false, NULL},
};

int an_schema_pragmas(sqlite3 *db, char *err, size_t errlen)
{
    /*
     * WAL lets the stats readers run while the writer commits. synchronous=NORMAL in WAL mode
     * syncs the WAL only at checkpoints, not at every commit: a crash of the process loses
     * nothing that was committed, a power cut or kernel crash can lose the last commits since
     * the last checkpoint, and neither can corrupt the database. For usage statistics that
     * trade is right: FULL would add an fsync (200-270 us measured here) to every batch.
     */
    sqlite3_stmt *st;
    int rc = sqlite3_prepare_v2(db, "PRAGMA journal_mode=WAL", -1, &st, NULL);
    if (rc == SQLITE_OK) {
        rc = sqlite3_step(st);
        if (rc == SQLITE_ROW) {
            const char *mode = (const char *)sqlite3_column_text(st, 0);
            rc = (mode && sqlite3_stricmp(mode, "wal") == 0) ? SQLITE_OK : SQLITE_ERROR;
            if (rc != SQLITE_OK)
                snprintf(err, errlen, "cannot enable WAL (journal mode %s)", mode ? mode : "?");
        } else {
            an_sql_err(db, rc, "enabling WAL", err, errlen);
        }
        sqlite3_finalize(st);
    } else {
        an_sql_err(db, rc, "enabling WAL", err, errlen);
    }
    if (rc != SQLITE_OK) return rc;
    rc = sqlite3_exec(db, "PRAGMA synchronous=NORMAL; PRAGMA temp_store=MEMORY;", NULL, NULL, NULL);
    if (rc != SQLITE_OK) an_sql_err(db, rc, "setting pragmas", err, errlen);
    return rc;
}

static int query_int(sqlite3 *db, const char *sql, int64_t *out)
{
    sqlite3_stmt *st;
    int rc = sqlite3_prepare_v2(db, sql, -1, &st, NULL);
    if (rc != SQLITE_OK) return rc;
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        *out = sqlite3_column_int64(st, 0);
        rc = SQLITE_OK;
    }
    sqlite3_finalize(st);
    return rc;
}

int an_schema_version(sqlite3 *db, char *err, size_t errlen)
{
    int64_t has_table = 0, other_tables = 0, version = 0;
    int rc = query_int(db,
                       "SELECT COUNT(*) FROM sqlite_master"
                       " WHERE type = 'table' AND name = 'schema_version'",
                       &has_table);
    if (rc == SQLITE_OK && has_table)
        rc = query_int(db, "SELECT COALESCE(MAX(version), 0) FROM schema_version", &version);
    if (rc == SQLITE_OK && !has_table)
        rc = query_int(db,
                       "SELECT COUNT(*) FROM sqlite_master"
                       " WHERE type = 'table' AND name NOT LIKE 'sqlite_%'",
                       &other_tables);
    if (rc != SQLITE_OK) {
        an_sql_err(db, rc, "reading the schema version", err, errlen);
        return -1;
    }
    if (other_tables) {
        snprintf(err, errlen,
                 "not a fluxbot analytics database: it holds %lld tables but no schema_version",
                 (long long)other_tables);
        return -1;
    }
    return (int)version;
}

static int apply_one(sqlite3 *db, int version, bool rebuild, char *err, size_t errlen)
{
    const migration *m = &k_migrations[version - 1];
    int rc = sqlite3_exec(db, m->sql, NULL, NULL, NULL);
    if (rc != SQLITE_OK) {
        char what[64];
        snprintf(what, sizeof what, "migration to schema version %d", version);
        an_sql_err(db, rc, what, err, errlen);
        return rc;
    }
    if (m->after) {
        rc = m->after(db, err, errlen);
        if (rc != SQLITE_OK) return rc;
    }
    if (rebuild) {
        rc = an_rollup_rebuild(db, err, errlen);
        if (rc != SQLITE_OK) return rc;
        /* Rows written by an older program may carry numbers above the recorded mark. */
        rc = sqlite3_exec(db,
                          "UPDATE meta SET value = MAX(value, (SELECT COALESCE(MAX(m), 0) FROM ("
                          " SELECT MAX(seq) AS m FROM command_usage UNION ALL"
                          " SELECT MAX(seq) FROM image_stats UNION ALL"
                          " SELECT MAX(seq) FROM user_activity))) WHERE key = 'seq_hwm'",
                          NULL, NULL, NULL);
        if (rc != SQLITE_OK) {
            an_sql_err(db, rc, "raising the sequence mark", err, errlen);
            return rc;
        }
    }
    sqlite3_stmt *st;
    rc = sqlite3_prepare_v2(db, "INSERT INTO schema_version(version, applied_ms) VALUES(?1, ?2)",
                            -1, &st, NULL);
    if (rc == SQLITE_OK) {
        sqlite3_bind_int(st, 1, version);
        sqlite3_bind_int64(st, 2, (int64_t)rt_wall_ms());
        rc = sqlite3_step(st);
        if (rc == SQLITE_DONE) rc = SQLITE_OK;
        sqlite3_finalize(st);
    }
    if (rc != SQLITE_OK) an_sql_err(db, rc, "recording the schema version", err, errlen);
    return rc;
}

int an_schema_migrate(sqlite3 *db, int target, char *err, size_t errlen)
{
    if (target < 1 || target > AN_SCHEMA_VERSION) {
        snprintf(err, errlen, "no schema version %d (this build knows 1..%d)", target,
                 AN_SCHEMA_VERSION);
        return SQLITE_MISUSE;
    }
    bool rebuild = false;
    for (;;) {
        /* The version is read inside the write transaction, so two processes opening the
         * same new file cannot both apply a step. */
        int rc = sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL);
        if (rc != SQLITE_OK) {
            an_sql_err(db, rc, "starting the schema migration", err, errlen);
            return rc;
        }
        int current = an_schema_version(db, err, errlen);
        if (current < 0) {
            sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
            return SQLITE_ERROR;
        }
        if (current > AN_SCHEMA_VERSION) {
            sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
            snprintf(err, errlen,
                     "database schema version %d is newer than this fluxbot understands (%d)",
                     current, AN_SCHEMA_VERSION);
            return SQLITE_ERROR;
        }
        if (current >= target) {
            sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
            return SQLITE_OK;
        }
        int next = current + 1;
        rebuild |= k_migrations[next - 1].rebuild;
        rc = apply_one(db, next, rebuild && next == AN_SCHEMA_VERSION, err, errlen);
        if (rc == SQLITE_OK) {
            rc = sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
            if (rc != SQLITE_OK) an_sql_err(db, rc, "committing the schema migration", err, errlen);
        }
        if (rc != SQLITE_OK) {
            sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
            return rc;
        }
    }
}
