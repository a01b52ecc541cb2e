/*
 * The analytics store on PostgreSQL: schema, batched writes through COPY, resets ordered by the
 * reset epoch (see pg_anstore.h). Owned by the pg module; used by the analytics writer (through
 * an_engine.h), tests and the benchmark, one thread per store.
 */
#include "pg/pg_anstore.h"

#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "analytics/an_time.h"
#include "moderation/mod_pgstore.h"
#include "pg/pg_conn.h"
#include "util/util_assert.h"

/* Advisory lock space: the identify gate uses "FLXB", quotas "FLXQ"; analytics "FLXA". */
#define AN_LOCK_CLASS "1179407425"
#define AN_LOCK_SCHEMA "-1"
#define TIMEOUT_MS 10000
#define EARLY_OUTCOMES_MAX "4096"

/*
 * The tables of the SQLite store (an_schema.c, current version) with PostgreSQL types. Text
 * keys use the "C" collation so that names sort and group byte-wise, as SQLite does: the
 * top-5 lists break ties by name and must not depend on the server's locale. wid (writer id)
 * tells the processes' rows apart: seq numbers are per writer.
 */
static const char k_schema[] =
    "CREATE SEQUENCE IF NOT EXISTS analytics_writer_ids;"
    "CREATE TABLE IF NOT EXISTS an_epoch("
    " id int PRIMARY KEY CHECK (id = 1), epoch bigint NOT NULL, reset_ms bigint NOT NULL);"
    "INSERT INTO an_epoch VALUES (1, 0, 0) ON CONFLICT (id) DO NOTHING;"
    "CREATE TABLE IF NOT EXISTS command_usage("
    " id bigserial PRIMARY KEY, wid bigint NOT NULL, seq bigint NOT NULL,"
    " command_name text COLLATE \"C\" NOT NULL, user_id bigint NOT NULL, guild_id bigint,"
    " channel_id bigint, ts_ms bigint NOT NULL, execution_ms bigint, success smallint NOT NULL,"
    " kind text NOT NULL DEFAULT 'command', interaction_id bigint);"
    "CREATE INDEX IF NOT EXISTS command_usage_by_time ON command_usage(ts_ms);"
    "CREATE INDEX IF NOT EXISTS command_usage_by_interaction ON command_usage(interaction_id)"
    " WHERE interaction_id IS NOT NULL;"
    "CREATE TABLE IF NOT EXISTS image_stats("
    " id bigserial PRIMARY KEY, wid bigint NOT NULL, seq bigint NOT NULL, user_id bigint NOT NULL,"
    " guild_id bigint, prompt text, resolution text COLLATE \"C\", loras text,"
    " upscale_factor double precision NOT NULL DEFAULT 1, generation_ms bigint,"
    " is_video smallint NOT NULL DEFAULT 0, generation_type text NOT NULL DEFAULT 'standard',"
    " success smallint NOT NULL DEFAULT 1, ts_ms bigint NOT NULL, width int, height int);"
    "CREATE INDEX IF NOT EXISTS image_stats_by_time ON image_stats(ts_ms);"
    "CREATE TABLE IF NOT EXISTS user_activity("
    " id bigserial PRIMARY KEY, wid bigint NOT NULL, seq bigint NOT NULL, user_id bigint NOT NULL,"
    " guild_id bigint, action_type text NOT NULL, ts_ms bigint NOT NULL, details text);"
    "CREATE INDEX IF NOT EXISTS user_activity_by_time ON user_activity(ts_ms);"
    "CREATE TABLE IF NOT EXISTS daily_stats("
    " day bigint PRIMARY KEY, date text NOT NULL,"
    " total_commands bigint NOT NULL DEFAULT 0, failed_commands bigint NOT NULL DEFAULT 0,"
    " total_images bigint NOT NULL DEFAULT 0, image_ms_sum bigint NOT NULL DEFAULT 0,"
    " total_videos bigint NOT NULL DEFAULT 0, video_ms_sum bigint NOT NULL DEFAULT 0,"
    " failed_generations bigint NOT NULL DEFAULT 0, total_activity bigint NOT NULL DEFAULT 0,"
    " unique_users bigint NOT NULL DEFAULT 0, total_buttons bigint NOT NULL DEFAULT 0);"
    "CREATE TABLE IF NOT EXISTS daily_commands(day bigint NOT NULL,"
    " command_name text COLLATE \"C\" NOT NULL, count bigint NOT NULL,"
    " PRIMARY KEY(day, command_name));"
    "CREATE TABLE IF NOT EXISTS daily_resolutions(day bigint NOT NULL,"
    " resolution text COLLATE \"C\" NOT NULL, count bigint NOT NULL,"
    " PRIMARY KEY(day, resolution));"
    "CREATE TABLE IF NOT EXISTS daily_users(day bigint NOT NULL, user_id bigint NOT NULL,"
    " commands bigint NOT NULL, events bigint NOT NULL DEFAULT 0, PRIMARY KEY(day, user_id))"
    " WITH (fillfactor = 70);"
    "CREATE TABLE IF NOT EXISTS known_users(user_id bigint PRIMARY KEY,"
    " first_seen_ms bigint NOT NULL);"
    "CREATE TABLE IF NOT EXISTS hourly_stats(hour bigint PRIMARY KEY,"
    " total_commands bigint NOT NULL DEFAULT 0, total_images bigint NOT NULL DEFAULT 0,"
    " image_ms_sum bigint NOT NULL DEFAULT 0, total_videos bigint NOT NULL DEFAULT 0,"
    " video_ms_sum bigint NOT NULL DEFAULT 0, total_buttons bigint NOT NULL DEFAULT 0);"
    "CREATE TABLE IF NOT EXISTS hourly_commands(hour bigint NOT NULL,"
    " command_name text COLLATE \"C\" NOT NULL, count bigint NOT NULL,"
    " PRIMARY KEY(hour, command_name));"
    "CREATE TABLE IF NOT EXISTS hourly_resolutions(hour bigint NOT NULL,"
    " resolution text COLLATE \"C\" NOT NULL, count bigint NOT NULL,"
    " PRIMARY KEY(hour, resolution));"
    "CREATE TABLE IF NOT EXISTS hourly_users(hour bigint NOT NULL, user_id bigint NOT NULL,"
    " events bigint NOT NULL DEFAULT 0, PRIMARY KEY(hour, user_id)) WITH (fillfactor = 70);"
    "CREATE TABLE IF NOT EXISTS results(job_id bigint PRIMARY KEY, created_ms bigint NOT NULL,"
    " user_id bigint NOT NULL, channel_id bigint, message_id bigint, params text NOT NULL,"
    " success smallint NOT NULL, is_image smallint NOT NULL, view_url text,"
    " attachment_url text);"
    "CREATE INDEX IF NOT EXISTS results_by_time ON results(created_ms);"
    "CREATE TABLE IF NOT EXISTS an_early_outcomes(id bigserial PRIMARY KEY,"
    " interaction_id bigint NOT NULL UNIQUE, success smallint NOT NULL);";

/* The staging table: one row per event of the batch, emptied at every commit. Temporary, so
 * it is the connection's own and never logged. day and hour are computed by the client
 * (an_time.h, floor division). */
static const char k_stage[] =
    "CREATE TEMP TABLE IF NOT EXISTS an_stage("
    " ord int, kind smallint, wid bigint, seq bigint, ts_ms bigint, day bigint, hour bigint,"
    " user_id bigint, guild_id bigint, channel_id bigint, success smallint, duration bigint,"
    " command text COLLATE \"C\", cmd_kind text, interaction_id bigint, prompt text,"
    " resolution text COLLATE \"C\", loras text, generation_type text,"
    " upscale double precision, width int, height int, is_video smallint, action text,"
    " details text, job_id bigint, message_id bigint, is_image smallint, params text, url text)"
    " ON COMMIT DELETE ROWS";

static const char k_copy[] =
    "COPY an_stage(ord, kind, wid, seq, ts_ms, day, hour, user_id, guild_id, channel_id, success,"
    " duration, command, cmd_kind, interaction_id, prompt, resolution, loras, generation_type,"
    " upscale, width, height, is_video, action, details, job_id, message_id, is_image, params,"
    " url) FROM STDIN";

/*
 * Outcomes, before the rows go in: a command row of the batch takes the outcome another batch
 * left for it (consumed), then the latest outcome of this batch; the rows written earlier take
 * this batch's outcome, and the failed-command totals of their days follow (slash commands
 * only, as in the rollups).
 */
static const char k_outcomes[] =
    "UPDATE an_stage s SET success = e.success FROM an_early_outcomes e"
    " WHERE s.kind = 1 AND s.interaction_id = e.interaction_id;"
    "DELETE FROM an_early_outcomes e USING an_stage s"
    " WHERE s.kind = 1 AND s.interaction_id = e.interaction_id;";
static const char k_outcomes_batch[] =
    "UPDATE an_stage s SET success = o.success FROM (SELECT DISTINCT ON (interaction_id)"
    " interaction_id, success FROM an_stage WHERE kind = 5 ORDER BY interaction_id, ord DESC) o"
    " WHERE s.kind = 1 AND s.interaction_id = o.interaction_id;"
    "WITH o AS (SELECT DISTINCT ON (interaction_id) interaction_id, success FROM an_stage"
    "  WHERE kind = 5 AND interaction_id NOT IN (SELECT interaction_id FROM an_stage"
    "   WHERE kind = 1 AND interaction_id IS NOT NULL)"
    "  ORDER BY interaction_id, ord DESC),"
    " c AS (UPDATE command_usage c SET success = o.success FROM o"
    "  WHERE c.interaction_id = o.interaction_id AND c.success <> o.success"
    "  RETURNING c.ts_ms, c.kind, c.success),"
    " f AS (SELECT floor(ts_ms / 86400000.0)::bigint AS day,"
    "  SUM(CASE WHEN success = 0 THEN 1 ELSE -1 END) AS delta FROM c WHERE kind = 'command'"
    "  GROUP BY 1)"
    " UPDATE daily_stats d SET failed_commands = d.failed_commands + f.delta FROM f"
    " WHERE d.day = f.day;";

static const char k_rows[] =
    "INSERT INTO command_usage(wid, seq, command_name, user_id, guild_id, channel_id, ts_ms,"
    " execution_ms, success, kind, interaction_id) SELECT wid, seq, command, user_id, guild_id,"
    " channel_id, ts_ms, duration, success, cmd_kind, interaction_id FROM an_stage"
    " WHERE kind = 1;"
    "INSERT INTO image_stats(wid, seq, user_id, guild_id, prompt, resolution, loras,"
    " upscale_factor, generation_ms, is_video, generation_type, success, ts_ms, width, height)"
    " SELECT wid, seq, user_id, guild_id, prompt, resolution, loras, upscale, duration, is_video,"
    " generation_type, success, ts_ms, width, height FROM an_stage WHERE kind = 2;"
    "INSERT INTO user_activity(wid, seq, user_id, guild_id, action_type, ts_ms, details)"
    " SELECT wid, seq, user_id, guild_id, action, ts_ms, details FROM an_stage"
    " WHERE kind = 3;";
/* Outcomes whose row no process has written yet wait for it (newest few thousand). */
static const char k_early[] =
    "INSERT INTO an_early_outcomes AS e (interaction_id, success)"
    " SELECT DISTINCT ON (interaction_id) interaction_id, success FROM an_stage s"
    " WHERE kind = 5 AND NOT EXISTS (SELECT 1 FROM command_usage c"
    "  WHERE c.interaction_id = s.interaction_id)"
    " ORDER BY interaction_id, ord DESC"
    " ON CONFLICT (interaction_id) DO UPDATE SET success = excluded.success;"
    "DELETE FROM an_early_outcomes WHERE id < (SELECT MAX(id) - " EARLY_OUTCOMES_MAX
    " FROM an_early_outcomes);";
/* Results: their parameters, and their message in whichever order the two come. */
static const char k_results[] =
    "INSERT INTO results AS r (job_id, created_ms, user_id, channel_id, params, success,"
    " is_image, view_url) SELECT DISTINCT ON (job_id) job_id, ts_ms, user_id, channel_id,"
    " params, success, is_image, url FROM an_stage WHERE kind = 6 ORDER BY job_id, ord DESC"
    " ON CONFLICT (job_id) DO UPDATE SET created_ms = excluded.created_ms,"
    " user_id = excluded.user_id, channel_id = excluded.channel_id, params = excluded.params,"
    " success = excluded.success, is_image = excluded.is_image, view_url = excluded.view_url;"
    "INSERT INTO results AS r (job_id, created_ms, user_id, channel_id, message_id, params,"
    " success, is_image, attachment_url) SELECT DISTINCT ON (job_id) job_id, ts_ms, user_id,"
    " channel_id, message_id, '{}', 0, 0, url FROM an_stage WHERE kind = 7"
    " ORDER BY job_id, ord DESC"
    " ON CONFLICT (job_id) DO UPDATE SET message_id = excluded.message_id,"
    " attachment_url = excluded.attachment_url;";

/*
 * The rollups of the statistic rows in an_stage (kinds 1 command, 2 image, 3 activity), with
 * the meanings of an_rollup.c: only slash commands ("command") count as commands and only
 * they make failed commands; buttons apart; successful generations by medium with their time
 * sums; every event is one of its user's events; a (day, user) pair new to the day is one more
 * unique user. Sources are sorted by key so that concurrent writers take row locks in one
 * order. Used for batches and, after refilling an_stage from the raw tables, for rebuilds.
 */
// clang-format off
/* (Written out in full, without macros, so that the SQL reads as it runs.) */
static const char k_rollups[] =
    "WITH u AS (SELECT day, user_id, SUM(CASE WHEN kind = 1 AND cmd_kind = 'command' THEN "
    "1 ELSE 0 END) AS c, COUNT(*) AS e, MIN(ts_ms) AS first_ms FROM an_stage WHERE kind "
    "IN (1, 2, 3) GROUP BY day, user_id), ins AS (INSERT INTO daily_users AS d (day, "
    "user_id, commands, events) SELECT day, user_id, c, e FROM u ORDER BY day, user_id ON "
    "CONFLICT (day, user_id) DO UPDATE SET commands = d.commands + excluded.commands, "
    "events = d.events + excluded.events RETURNING d.day, (d.xmax = 0) AS fresh), "
    "m AS (SELECT user_id, MIN(first_ms) AS f FROM u GROUP BY user_id), "
    "ku AS (UPDATE known_users k SET first_seen_ms = m.f FROM m "
    "WHERE k.user_id = m.user_id AND m.f < k.first_seen_ms), "
    "kn AS (INSERT INTO known_users (user_id, first_seen_ms) SELECT user_id, f FROM m "
    "ORDER BY user_id ON CONFLICT (user_id) DO NOTHING), nu AS (SELECT day, COUNT(*) FILTER (WHERE fresh) AS n FROM ins "
    "GROUP BY day), t AS (SELECT day, SUM(CASE WHEN kind = 1 AND cmd_kind = 'command' "
    "THEN 1 ELSE 0 END) AS commands, SUM(CASE WHEN kind = 1 AND cmd_kind = 'command' AND "
    "success = 0 THEN 1 ELSE 0 END) AS failed_commands, SUM(CASE WHEN kind = 1 AND "
    "cmd_kind = 'button' THEN 1 ELSE 0 END) AS buttons, SUM(CASE WHEN kind = 2 AND "
    "success <> 0 AND is_video = 0 THEN 1 ELSE 0 END) AS images, SUM(CASE WHEN kind = 2 "
    "AND success <> 0 AND is_video = 0 THEN COALESCE(duration, 0) ELSE 0 END) AS "
    "image_ms, SUM(CASE WHEN kind = 2 AND success <> 0 AND is_video <> 0 THEN 1 ELSE 0 "
    "END) AS videos, SUM(CASE WHEN kind = 2 AND success <> 0 AND is_video <> 0 THEN "
    "COALESCE(duration, 0) ELSE 0 END) AS video_ms, SUM(CASE WHEN kind = 2 AND success = "
    "0 THEN 1 ELSE 0 END) AS failed_generations, SUM(CASE WHEN kind = 3 THEN 1 ELSE 0 "
    "END) AS activity FROM an_stage WHERE kind IN (1, 2, 3) GROUP BY day) INSERT INTO "
    "daily_stats AS s (day, date, total_commands, failed_commands, total_images, "
    "image_ms_sum, total_videos, video_ms_sum, failed_generations, total_activity, "
    "unique_users, total_buttons) SELECT t.day, to_char(to_timestamp(t.day * 86400) AT "
    "TIME ZONE 'UTC', 'YYYY-MM-DD'), t.commands, t.failed_commands, t.images, t.image_ms, "
    "t.videos, t.video_ms, t.failed_generations, t.activity, COALESCE(nu.n, 0), t.buttons "
    "FROM t LEFT JOIN nu ON nu.day = t.day ORDER BY t.day ON CONFLICT (day) DO UPDATE SET "
    "total_commands = s.total_commands + excluded.total_commands, failed_commands = "
    "s.failed_commands + excluded.failed_commands, total_images = s.total_images + "
    "excluded.total_images, image_ms_sum = s.image_ms_sum + excluded.image_ms_sum, "
    "total_videos = s.total_videos + excluded.total_videos, video_ms_sum = s.video_ms_sum "
    "+ excluded.video_ms_sum, failed_generations = s.failed_generations + "
    "excluded.failed_generations, total_activity = s.total_activity + "
    "excluded.total_activity, unique_users = s.unique_users + excluded.unique_users, "
    "total_buttons = s.total_buttons + excluded.total_buttons;INSERT INTO daily_commands "
    "AS x (day, command_name, count) SELECT day, command, COUNT(*) FROM an_stage WHERE "
    "kind = 1 AND cmd_kind = 'command' GROUP BY day, command ORDER BY day, command ON "
    "CONFLICT (day, command_name) DO UPDATE SET count = x.count + excluded.count;INSERT "
    "INTO daily_resolutions AS x (day, resolution, count) SELECT day, resolution, "
    "COUNT(*) FROM an_stage WHERE kind = 2 AND success <> 0 AND resolution <> '' GROUP BY "
    "day, resolution ORDER BY day, resolution ON CONFLICT (day, resolution) DO UPDATE SET "
    "count = x.count + excluded.count;WITH t AS (SELECT hour, SUM(CASE WHEN kind = 1 AND "
    "cmd_kind = 'command' THEN 1 ELSE 0 END) AS commands, SUM(CASE WHEN kind = 1 AND "
    "cmd_kind = 'command' AND success = 0 THEN 1 ELSE 0 END) AS failed_commands, SUM(CASE "
    "WHEN kind = 1 AND cmd_kind = 'button' THEN 1 ELSE 0 END) AS buttons, SUM(CASE WHEN "
    "kind = 2 AND success <> 0 AND is_video = 0 THEN 1 ELSE 0 END) AS images, SUM(CASE "
    "WHEN kind = 2 AND success <> 0 AND is_video = 0 THEN COALESCE(duration, 0) ELSE 0 "
    "END) AS image_ms, SUM(CASE WHEN kind = 2 AND success <> 0 AND is_video <> 0 THEN 1 "
    "ELSE 0 END) AS videos, SUM(CASE WHEN kind = 2 AND success <> 0 AND is_video <> 0 "
    "THEN COALESCE(duration, 0) ELSE 0 END) AS video_ms, SUM(CASE WHEN kind = 2 AND "
    "success = 0 THEN 1 ELSE 0 END) AS failed_generations, SUM(CASE WHEN kind = 3 THEN 1 "
    "ELSE 0 END) AS activity FROM an_stage WHERE kind IN (1, 2, 3) GROUP BY hour) INSERT "
    "INTO hourly_stats AS s (hour, total_commands, total_images, image_ms_sum, "
    "total_videos, video_ms_sum, total_buttons) SELECT hour, commands, images, image_ms, "
    "videos, video_ms, buttons FROM t ORDER BY hour ON CONFLICT (hour) DO UPDATE SET "
    "total_commands = s.total_commands + excluded.total_commands, total_images = "
    "s.total_images + excluded.total_images, image_ms_sum = s.image_ms_sum + "
    "excluded.image_ms_sum, total_videos = s.total_videos + excluded.total_videos, "
    "video_ms_sum = s.video_ms_sum + excluded.video_ms_sum, total_buttons = "
    "s.total_buttons + excluded.total_buttons;INSERT INTO hourly_users AS x (hour, "
    "user_id, events) SELECT hour, user_id, COUNT(*) FROM an_stage WHERE kind IN (1, 2, "
    "3) GROUP BY hour, user_id ORDER BY hour, user_id ON CONFLICT (hour, user_id) DO "
    "UPDATE SET events = x.events + excluded.events;INSERT INTO hourly_commands AS x "
    "(hour, command_name, count) SELECT hour, command, COUNT(*) FROM an_stage WHERE kind "
    "= 1 AND cmd_kind = 'command' GROUP BY hour, command ORDER BY hour, command ON "
    "CONFLICT (hour, command_name) DO UPDATE SET count = x.count + excluded.count;INSERT "
    "INTO hourly_resolutions AS x (hour, resolution, count) SELECT hour, resolution, "
    "COUNT(*) FROM an_stage WHERE kind = 2 AND success <> 0 AND resolution <> '' GROUP BY "
    "hour, resolution ORDER BY hour, resolution ON CONFLICT (hour, resolution) DO UPDATE "
    "SET count = x.count + excluded.count;";

/* The raw rows that remain, staged as events for a rebuild of every rollup. */
static const char k_restage[] =
    "INSERT INTO an_stage(kind, ts_ms, day, hour, user_id, success, duration, cmd_kind, "
    "command, is_video, resolution) SELECT 1, ts_ms, floor(ts_ms / 86400000.0)::bigint, "
    "floor(ts_ms / 3600000.0)::bigint, user_id, success, execution_ms, kind, "
    "command_name, 0, NULL FROM command_usage UNION ALL SELECT 2, ts_ms, floor(ts_ms / "
    "86400000.0)::bigint, floor(ts_ms / 3600000.0)::bigint, user_id, success, "
    "generation_ms, NULL, NULL, is_video, resolution FROM image_stats UNION ALL SELECT 3, "
    "ts_ms, floor(ts_ms / 86400000.0)::bigint, floor(ts_ms / 3600000.0)::bigint, user_id, "
    "1, 0, NULL, NULL, 0, NULL FROM user_activity;";
// clang-format on

struct pg_anstore {
    char url[1024];
    PGconn *c;
    int64_t wid;   /* this store's writer id (analytics_writer_ids), tags its rows */
    int64_t epoch; /* the reset epoch seen by the last batch */
    int64_t result_retention_ms;
    int64_t results_pruned_at;
    char *buf; /* the COPY data of a batch */
    size_t len, cap;
#ifdef FB_DEBUG
    util_owner owner;
#endif
};

/* ---- errors ---------------------------------------------------------------------------------- */

int pg_anstore_code(PGconn *c, const PGresult *r)
{
    if (!c || PQstatus(c) != CONNECTION_OK) return SQLITE_IOERR;
    const char *state = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
    if (!state) return SQLITE_IOERR; /* no answer from the server at all */
    if (!strncmp(state, "40", 2) || !strcmp(state, "55P03") || !strcmp(state, "57014"))
        return SQLITE_BUSY; /* deadlock, serialization, lock or statement timeout */
    if (!strncmp(state, "53", 2)) return SQLITE_FULL; /* disk full, out of memory, connections */
    if (!strncmp(state, "08", 2) || !strncmp(state, "57", 2) || !strncmp(state, "58", 2))
        return SQLITE_IOERR;                             /* connection, shutdown, system errors */
    if (!strcmp(state, "25006")) return SQLITE_READONLY; /* a read-only standby */
    if (!strncmp(state, "42", 2) || !strncmp(state, "XX", 2))
        return SQLITE_CORRUPT; /* tables not as expected: retried, and loud */
    return SQLITE_CONSTRAINT;  /* the data: retrying the same values cannot help */
}

static void set_err(char *err, size_t errlen, const char *what, PGconn *c, const PGresult *r)
{
    const char *msg = r ? PQresultErrorMessage(r) : NULL;
    if (!msg || !*msg) msg = c ? PQerrorMessage(c) : "no connection";
    snprintf(err, errlen, "%s: %s", what, msg && *msg ? msg : "unknown error");
    size_t n = strlen(err);
    while (n > 0 && (err[n - 1] == '\n' || err[n - 1] == ' '))
        err[--n] = 0;
}

/* Runs a parameterless script (several statements: constant text only) or one statement with
 * text parameters. SQLITE_OK or the code with err. */
static int run(PGconn *c, const char *sql, int np, const char *const *p, const char *what,
               char *err, size_t errlen)
{
    PGresult *r = np ? PQexecParams(c, sql, np, NULL, p, NULL, NULL, 0) : PQexec(c, sql);
    ExecStatusType st = PQresultStatus(r);
    if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK) {
        PQclear(r);
        return SQLITE_OK;
    }
    int rc = pg_anstore_code(c, r);
    set_err(err, errlen, what, c, r);
    PQclear(r);
    return rc;
}

/* ---- schema ------------------------------------------------------------------------------------
 */

int pg_anstore_schema(PGconn *c, char *err, size_t errlen)
{
    const char *lk[2] = {AN_LOCK_CLASS, AN_LOCK_SCHEMA};
    int rc = run(c, "BEGIN", 0, NULL, "creating the analytics tables", err, errlen);
    if (rc == SQLITE_OK)
        rc = run(c, "SELECT pg_advisory_xact_lock($1::int, $2::int)", 2, lk,
                 "creating the analytics tables", err, errlen);
    if (rc == SQLITE_OK)
        rc = run(c, k_schema, 0, NULL, "creating the analytics tables", err, errlen);
    if (rc == SQLITE_OK) rc = mod_pgstore_schema(c, err, errlen);
    if (rc == SQLITE_OK)
        rc = run(c, "COMMIT", 0, NULL, "creating the analytics tables", err, errlen);
    if (rc != SQLITE_OK) PQclear(PQexec(c, "ROLLBACK"));
    return rc == SQLITE_OK ? 0 : -1;
}

static void drop_conn(pg_anstore *s)
{
    if (s->c) PQfinish(s->c);
    s->c = NULL;
}

/* Connects (again) when there is no usable connection: tables, staging table, writer id. */
static int ensure(pg_anstore *s, char *err, size_t errlen)
{
    if (s->c && PQstatus(s->c) == CONNECTION_OK) return SQLITE_OK;
    drop_conn(s);
    s->c = pg_open(s->url, TIMEOUT_MS, err, errlen);
    if (!s->c) return SQLITE_CANTOPEN;
    if (PQsetClientEncoding(s->c, "UTF8") != 0 || pg_anstore_schema(s->c, err, errlen) != 0) {
        if (!*err) set_err(err, errlen, "setting the client encoding", s->c, NULL);
        int rc = pg_anstore_code(s->c, NULL);
        drop_conn(s);
        return rc == SQLITE_IOERR ? SQLITE_CANTOPEN : rc;
    }
    int rc = run(s->c, k_stage, 0, NULL, "creating the staging table", err, errlen);
    if (rc == SQLITE_OK && !s->wid) {
        PGresult *r = PQexec(s->c, "SELECT nextval('analytics_writer_ids')");
        if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1) {
            s->wid = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
        } else {
            rc = pg_anstore_code(s->c, r);
            set_err(err, errlen, "taking a writer id", s->c, r);
        }
        PQclear(r);
    }
    if (rc != SQLITE_OK) drop_conn(s);
    return rc;
}

pg_anstore *pg_anstore_open(const char *url, char *err, size_t errlen)
{
    if (!pg_is_url(url) || strlen(url) >= sizeof((pg_anstore *)0)->url) {
        snprintf(err, errlen, "db_url is not a usable postgresql:// URL");
        return NULL;
    }
    pg_anstore *s = calloc(1, sizeof *s);
    if (!s) abort();
    FB_OWNER_CLAIM(&s->owner);
    snprintf(s->url, sizeof s->url, "%s", url);
    char msg[512] = "";
    if (ensure(s, msg, sizeof msg) != SQLITE_OK) {
        snprintf(err, errlen, "cannot open the analytics database (PostgreSQL): %s", msg);
        pg_anstore_close(s);
        return NULL;
    }
    return s;
}

void pg_anstore_close(pg_anstore *s)
{
    if (!s) return;
    drop_conn(s);
    free(s->buf);
    free(s);
}

void pg_anstore_set_result_retention(pg_anstore *s, int64_t ms)
{
    s->result_retention_ms = ms > 0 ? ms : 0;
}

int64_t pg_anstore_epoch(const pg_anstore *s)
{
    return s->epoch;
}

/* ---- COPY data
 * ----------------------------------------------------------------------------------- */

static void put(pg_anstore *s, const char *p, size_t n)
{
    if (s->len + n + 1 > s->cap) {
        size_t cap = s->cap ? s->cap : 65536;
        while (cap < s->len + n + 1)
            cap *= 2;
        s->buf = realloc(s->buf, cap);
        if (!s->buf) abort();
        s->cap = cap;
    }
    memcpy(s->buf + s->len, p, n);
    s->len += n;
}

/* One column, tab-separated from the previous one (the first of a row has sep 0). */
static void put_sep(pg_anstore *s, bool first)
{
    if (!first) put(s, "\t", 1);
}

static void put_i64(pg_anstore *s, int64_t v)
{
    char t[24];
    int n = snprintf(t, sizeof t, "%" PRId64, v);
    put_sep(s, false);
    put(s, t, (size_t)n);
}

static void put_null(pg_anstore *s)
{
    put_sep(s, false);
    put(s, "\\N", 2);
}

/* 0 = none (NULL), as the SQLite store binds ids. Snowflakes keep their 64 bits in bigint. */
static void put_id(pg_anstore *s, uint64_t id)
{
    if (id)
        put_i64(s, (int64_t)id);
    else
        put_null(s);
}

/* Text in COPY's text format: backslash, tab, newline and carriage return escaped; the values
 * are data, never SQL. NULL pointers are NULL. */
static void put_text(pg_anstore *s, const char *t)
{
    if (!t) {
        put_null(s);
        return;
    }
    put_sep(s, false);
    const char *run_start = t;
    for (const char *p = t; *p; p++) {
        const char *esc = NULL;
        switch (*p) {
        case '\\':
            esc = "\\\\";
            break;
        case '\t':
            esc = "\\t";
            break;
        case '\n':
            esc = "\\n";
            break;
        case '\r':
            esc = "\\r";
            break;
        default:
            continue;
        }
        put(s, run_start, (size_t)(p - run_start));
        put(s, esc, 2);
        run_start = p + 1;
    }
    put(s, run_start, strlen(run_start));
}

static void put_double(pg_anstore *s, double v)
{
    char t[40];
    int n = snprintf(t, sizeof t, "%.17g", v);
    put_sep(s, false);
    put(s, t, (size_t)n);
}

/* One staged row, in k_copy's column order, with the SQLite store's defaults applied. */
static void put_event(pg_anstore *s, const an_event *e, int ord)
{
    char t[24];
    int n = snprintf(t, sizeof t, "%d", ord);
    put(s, t, (size_t)n);
    put_i64(s, e->kind);
    put_i64(s, s->wid);
    put_i64(s, (int64_t)e->seq);
    put_i64(s, e->ts_ms);
    put_i64(s, an_day_of(e->ts_ms));
    put_i64(s, an_hour_of(e->ts_ms));
    put_i64(s, (int64_t)e->user_id);
    put_id(s, e->guild_id);
    put_id(s, e->channel_id);
    put_i64(s, e->success ? 1 : 0);
    put_i64(s, e->duration_ms);
    bool cmd = e->kind == AN_EV_COMMAND;
    put_text(s, cmd ? (e->command ? e->command : "") : NULL);
    put_text(s, cmd ? an_cmd_kind_name(e->cmd_kind) : NULL);
    if (e->kind == AN_EV_OUTCOME)
        put_i64(s, (int64_t)e->interaction_id);
    else
        put_id(s, cmd ? e->interaction_id : 0);
    bool img = e->kind == AN_EV_IMAGE;
    put_text(s, img ? e->prompt : NULL);
    put_text(s, img ? e->resolution : NULL);
    put_text(s, img ? e->loras : NULL);
    put_text(s, img ? (e->generation_type ? e->generation_type
                       : e->is_video      ? "video"
                                          : "standard")
                    : NULL);
    put_double(s, e->upscale_factor > 0 ? e->upscale_factor : 1.0);
    put_id(s, e->width);
    put_id(s, e->height);
    put_i64(s, e->is_video ? 1 : 0);
    bool act = e->kind == AN_EV_ACTIVITY;
    put_text(s, act ? (e->action ? e->action : "") : NULL);
    put_text(s, act ? e->details : NULL);
    put_i64(s, (int64_t)e->job_id);
    put_id(s, e->message_id);
    put_i64(s, e->is_image ? 1 : 0);
    put_text(s, e->kind == AN_EV_RESULT ? (e->params ? e->params : "{}") : NULL);
    put_text(s, e->url);
    put(s, "\n", 1);
}

/* Streams the staged rows. SQLITE_OK or the code with err. */
static int copy_in(pg_anstore *s, char *err, size_t errlen)
{
    PGresult *r = PQexec(s->c, k_copy);
    if (PQresultStatus(r) != PGRES_COPY_IN) {
        int rc = pg_anstore_code(s->c, r);
        set_err(err, errlen, "staging a batch", s->c, r);
        PQclear(r);
        return rc;
    }
    PQclear(r);
    bool sent = PQputCopyData(s->c, s->buf, (int)s->len) == 1;
    if (PQputCopyEnd(s->c, sent ? NULL : "client failed to send") != 1) sent = false;
    int rc = SQLITE_OK;
    while ((r = PQgetResult(s->c)) != NULL) {
        if (PQresultStatus(r) != PGRES_COMMAND_OK && rc == SQLITE_OK) {
            rc = pg_anstore_code(s->c, r);
            set_err(err, errlen, "staging a batch", s->c, r);
        }
        PQclear(r);
    }
    if (rc == SQLITE_OK && !sent) {
        rc = SQLITE_IOERR;
        set_err(err, errlen, "staging a batch", s->c, NULL);
    }
    return rc;
}

/* ---- transactions ---------------------------------------------------------------------------- */

/* BEGIN and the epoch row FOR SHARE (exclusive when resetting): from here on no reset of any
 * process runs until this transaction ends, and none that started is still running. */
static int begin(pg_anstore *s, bool exclusive, const char *what, char *err, size_t errlen)
{
    int rc = run(s->c, "BEGIN", 0, NULL, what, err, errlen);
    if (rc != SQLITE_OK) return rc;
    PGresult *r = PQexec(s->c, exclusive ? "SELECT epoch FROM an_epoch WHERE id = 1 FOR UPDATE"
                                         : "SELECT epoch FROM an_epoch WHERE id = 1 FOR SHARE");
    if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1) {
        s->epoch = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
    } else {
        rc = pg_anstore_code(s->c, r);
        if (rc == SQLITE_OK) rc = SQLITE_CORRUPT; /* the row is always there */
        set_err(err, errlen, what, s->c, r);
    }
    PQclear(r);
    return rc;
}

/* Commits when rc is SQLITE_OK, otherwise rolls back; returns the final code. A connection
 * that failed is dropped, which also rolls back whatever it held. */
static int finish(pg_anstore *s, int rc, const char *what, char *err, size_t errlen)
{
    if (rc == SQLITE_OK) rc = run(s->c, "COMMIT", 0, NULL, what, err, errlen);
    if (rc != SQLITE_OK) {
        if (PQstatus(s->c) == CONNECTION_OK && PQtransactionStatus(s->c) != PQTRANS_IDLE)
            PQclear(PQexec(s->c, "ROLLBACK"));
        if (PQstatus(s->c) != CONNECTION_OK) drop_conn(s);
    }
    return rc;
}

/* At most once a minute of event time, results older than the retention are deleted. */
static int prune_results(pg_anstore *s, const an_event *const *evs, size_t n, char *err,
                         size_t errlen)
{
    if (!s->result_retention_ms) return SQLITE_OK;
    int64_t newest = 0;
    for (size_t i = 0; i < n; i++)
        if (evs[i]->kind == AN_EV_RESULT && evs[i]->ts_ms > newest) newest = evs[i]->ts_ms;
    if (!newest || newest - s->results_pruned_at < 60000) return SQLITE_OK;
    char cut[24];
    snprintf(cut, sizeof cut, "%" PRId64, newest - s->result_retention_ms);
    const char *p[1] = {cut};
    int rc = run(s->c, "DELETE FROM results WHERE created_ms < $1::bigint", 1, p,
                 "deleting expired results", err, errlen);
    if (rc == SQLITE_OK) s->results_pruned_at = newest;
    return rc;
}

int pg_anstore_write(pg_anstore *s, const an_event *const *evs, size_t n, char *err, size_t errlen)
{
    FB_ASSERT_OWNER(&s->owner);
    if (n == 0) return SQLITE_OK;
    int rc = ensure(s, err, errlen);
    if (rc != SQLITE_OK) return rc;
    s->len = 0;
    size_t staged = 0, moderation = 0;
    bool has_stat = false, has_ix = false, has_outcome = false, has_result = false;
    for (size_t i = 0; i < n; i++) {
        if (evs[i]->kind == AN_EV_MODERATION) {
            moderation++;
            continue;
        }
        if (evs[i]->kind < AN_EV_COMMAND || evs[i]->kind > AN_EV_RESULT_MSG) {
            snprintf(err, errlen, "event %" PRIu64 " has an unknown kind %d", evs[i]->seq,
                     (int)evs[i]->kind);
            return SQLITE_MISUSE;
        }
        put_event(s, evs[i], (int)i);
        staged++;
        an_event_kind k = evs[i]->kind;
        has_stat |= k == AN_EV_COMMAND || k == AN_EV_IMAGE || k == AN_EV_ACTIVITY;
        has_ix |= k == AN_EV_COMMAND && evs[i]->interaction_id;
        has_outcome |= k == AN_EV_OUTCOME;
        has_result |= k == AN_EV_RESULT || k == AN_EV_RESULT_MSG;
    }
    rc = begin(s, false, "starting a batch", err, errlen);
    if (rc == SQLITE_OK && staged) rc = copy_in(s, err, errlen);
    /* Only the statements this batch needs: each one costs a parse and a plan. */
    if (rc == SQLITE_OK && has_ix)
        rc = run(s->c, k_outcomes, 0, NULL, "applying outcomes", err, errlen);
    if (rc == SQLITE_OK && has_outcome)
        rc = run(s->c, k_outcomes_batch, 0, NULL, "applying outcomes", err, errlen);
    if (rc == SQLITE_OK && has_stat)
        rc = run(s->c, k_rows, 0, NULL, "inserting the rows", err, errlen);
    if (rc == SQLITE_OK && has_outcome)
        rc = run(s->c, k_early, 0, NULL, "keeping early outcomes", err, errlen);
    if (rc == SQLITE_OK && has_result)
        rc = run(s->c, k_results, 0, NULL, "storing results", err, errlen);
    if (rc == SQLITE_OK && has_stat)
        rc = run(s->c, k_rollups, 0, NULL, "updating the rollups", err, errlen);
    if (rc == SQLITE_OK) rc = prune_results(s, evs, n, err, errlen);
    for (size_t i = 0; i < n && rc == SQLITE_OK && moderation; i++) {
        if (evs[i]->kind != AN_EV_MODERATION) continue;
        rc = mod_pgstore_apply(s->c, s->wid, evs[i], err, errlen);
    }
    return finish(s, rc, "committing a batch", err, errlen);
}

int pg_anstore_reset(pg_anstore *s, uint64_t before_seq, uint64_t *rows_deleted, char *err,
                     size_t errlen)
{
    static const char *const k_deletes[] = {
        "DELETE FROM command_usage WHERE NOT (wid = $1::bigint AND seq >= $2::bigint)",
        "DELETE FROM image_stats WHERE NOT (wid = $1::bigint AND seq >= $2::bigint)",
        "DELETE FROM user_activity WHERE NOT (wid = $1::bigint AND seq >= $2::bigint)",
    };
    FB_ASSERT_OWNER(&s->owner);
    if (rows_deleted) *rows_deleted = 0;
    int rc = ensure(s, err, errlen);
    if (rc != SQLITE_OK) return rc;
    char wid[24], cut[24];
    snprintf(wid, sizeof wid, "%" PRId64, s->wid);
    snprintf(cut, sizeof cut, "%" PRId64,
             (int64_t)(before_seq > INT64_MAX ? INT64_MAX : before_seq));
    const char *p[2] = {wid, cut};
    uint64_t deleted = 0;
    rc = begin(s, true, "starting a reset", err, errlen);
    /* Deleting and re-summing a large database takes longer than the 10 s every other
     * statement is allowed: the reset gets five minutes (batches of every process wait). */
    if (rc == SQLITE_OK)
        rc = run(s->c, "SET LOCAL statement_timeout = '300s'", 0, NULL, "starting a reset", err,
                 errlen);
    if (rc == SQLITE_OK)
        rc = run(s->c,
                 "UPDATE an_epoch SET epoch = epoch + 1,"
                 " reset_ms = (extract(epoch from clock_timestamp()) * 1000)::bigint"
                 " WHERE id = 1",
                 0, NULL, "advancing the reset epoch", err, errlen);
    for (size_t i = 0; i < 3 && rc == SQLITE_OK; i++) {
        PGresult *r = PQexecParams(s->c, k_deletes[i], 2, NULL, p, NULL, NULL, 0);
        if (PQresultStatus(r) == PGRES_COMMAND_OK) {
            deleted += strtoull(PQcmdTuples(r), NULL, 10);
        } else {
            rc = pg_anstore_code(s->c, r);
            set_err(err, errlen, "deleting rows", s->c, r);
        }
        PQclear(r);
    }
    if (rc == SQLITE_OK)
        rc = run(
            s->c,
            "DELETE FROM daily_stats; DELETE FROM daily_commands; DELETE FROM daily_resolutions;"
            " DELETE FROM daily_users; DELETE FROM known_users; DELETE FROM hourly_stats;"
            " DELETE FROM hourly_commands; DELETE FROM hourly_resolutions;"
            " DELETE FROM hourly_users;",
            0, NULL, "clearing the rollups", err, errlen);
    if (rc == SQLITE_OK) rc = run(s->c, k_restage, 0, NULL, "rebuilding the rollups", err, errlen);
    if (rc == SQLITE_OK) rc = run(s->c, k_rollups, 0, NULL, "rebuilding the rollups", err, errlen);
    if (rc == SQLITE_OK) s->epoch++;
    rc = finish(s, rc, "committing a reset", err, errlen);
    if (rows_deleted && rc == SQLITE_OK) *rows_deleted = deleted;
    return rc;
}
