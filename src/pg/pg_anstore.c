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

#include "analytics/an_rollup.h"
#include "analytics/an_time.h"
#include "moderation/mod_pgstore.h"
#include "pg/pg_anbatch.h"
#include "pg/pg_conn.h"
#include "util/util_assert.h"

/* Advisory lock space: the identify gate uses "FLXB", quotas "FLXQ"; analytics "FLXA". */
#define AN_LOCK_CLASS "1179407425"
#define AN_LOCK_SCHEMA "-1"
#define AN_LOCK_EPOCH "1" /* batches shared, resets exclusive */
#define TIMEOUT_MS 10000
#define EARLY_OUTCOMES_MAX "4096"
/* Pending rollup rows are folded every this many batches of a store: the views sum at most
 * this many rows per running process on top of the base tables. */
#define FOLD_EVERY 32

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
    /* The rollups' folded rows (see k_rollup_views for what readers see). */
    "CREATE TABLE IF NOT EXISTS daily_stats_base(day bigint PRIMARY KEY,"
    " total_commands bigint NOT NULL DEFAULT 0, failed_commands bigint NOT NULL DEFAULT 0,"
    " total_images bigint NOT NULL DEFAULT 0, image_ms_sum bigint NOT NULL DEFAULT 0,"
    " total_videos bigint NOT NULL DEFAULT 0, video_ms_sum bigint NOT NULL DEFAULT 0,"
    " failed_generations bigint NOT NULL DEFAULT 0, total_activity bigint NOT NULL DEFAULT 0,"
    " total_buttons bigint NOT NULL DEFAULT 0);"
    "CREATE TABLE IF NOT EXISTS daily_commands_base(day bigint NOT NULL,"
    " command_name text COLLATE \"C\" NOT NULL, count bigint NOT NULL,"
    " PRIMARY KEY(day, command_name));"
    "CREATE TABLE IF NOT EXISTS daily_resolutions_base(day bigint NOT NULL,"
    " resolution text COLLATE \"C\" NOT NULL, count bigint NOT NULL,"
    " PRIMARY KEY(day, resolution));"
    "CREATE TABLE IF NOT EXISTS daily_users_base(day bigint NOT NULL, user_id bigint NOT NULL,"
    " commands bigint NOT NULL, events bigint NOT NULL DEFAULT 0, PRIMARY KEY(day, user_id))"
    " WITH (fillfactor = 70);"
    "CREATE TABLE IF NOT EXISTS known_users(user_id bigint PRIMARY KEY,"
    " first_seen_ms bigint NOT NULL);"
    "CREATE TABLE IF NOT EXISTS hourly_stats_base(hour bigint PRIMARY KEY,"
    " total_commands bigint NOT NULL DEFAULT 0, total_images bigint NOT NULL DEFAULT 0,"
    " image_ms_sum bigint NOT NULL DEFAULT 0, total_videos bigint NOT NULL DEFAULT 0,"
    " video_ms_sum bigint NOT NULL DEFAULT 0, total_buttons bigint NOT NULL DEFAULT 0);"
    "CREATE TABLE IF NOT EXISTS hourly_commands_base(hour bigint NOT NULL,"
    " command_name text COLLATE \"C\" NOT NULL, count bigint NOT NULL,"
    " PRIMARY KEY(hour, command_name));"
    "CREATE TABLE IF NOT EXISTS hourly_resolutions_base(hour bigint NOT NULL,"
    " resolution text COLLATE \"C\" NOT NULL, count bigint NOT NULL,"
    " PRIMARY KEY(hour, resolution));"
    "CREATE TABLE IF NOT EXISTS hourly_users_base(hour bigint NOT NULL, user_id bigint NOT NULL,"
    " events bigint NOT NULL DEFAULT 0, PRIMARY KEY(hour, user_id)) WITH (fillfactor = 70);"
    /* One row per batch not yet folded: every rollup's change, one array element per key (the
     * parameters pg_anbatch.h builds, in its order). */
    "CREATE TABLE IF NOT EXISTS an_rollup_pending(id bigserial PRIMARY KEY,"
    " ds_day bigint[] NOT NULL DEFAULT '{}', ds_c bigint[] NOT NULL DEFAULT '{}',"
    " ds_f bigint[] NOT NULL DEFAULT '{}', ds_i bigint[] NOT NULL DEFAULT '{}',"
    " ds_im bigint[] NOT NULL DEFAULT '{}', ds_v bigint[] NOT NULL DEFAULT '{}',"
    " ds_vm bigint[] NOT NULL DEFAULT '{}', ds_fg bigint[] NOT NULL DEFAULT '{}',"
    " ds_a bigint[] NOT NULL DEFAULT '{}', ds_b bigint[] NOT NULL DEFAULT '{}',"
    " hu_hour bigint[] NOT NULL DEFAULT '{}', hu_user bigint[] NOT NULL DEFAULT '{}',"
    " hu_cmd bigint[] NOT NULL DEFAULT '{}', hu_ev bigint[] NOT NULL DEFAULT '{}',"
    " hs_hour bigint[] NOT NULL DEFAULT '{}', hs_c bigint[] NOT NULL DEFAULT '{}',"
    " hs_i bigint[] NOT NULL DEFAULT '{}', hs_im bigint[] NOT NULL DEFAULT '{}',"
    " hs_v bigint[] NOT NULL DEFAULT '{}', hs_vm bigint[] NOT NULL DEFAULT '{}',"
    " hs_b bigint[] NOT NULL DEFAULT '{}',"
    " dc_day bigint[] NOT NULL DEFAULT '{}', dc_name text[] NOT NULL DEFAULT '{}',"
    " dc_n bigint[] NOT NULL DEFAULT '{}', dr_day bigint[] NOT NULL DEFAULT '{}',"
    " dr_res text[] NOT NULL DEFAULT '{}', dr_n bigint[] NOT NULL DEFAULT '{}',"
    " hc_hour bigint[] NOT NULL DEFAULT '{}', hc_name text[] NOT NULL DEFAULT '{}',"
    " hc_n bigint[] NOT NULL DEFAULT '{}', hr_hour bigint[] NOT NULL DEFAULT '{}',"
    " hr_res text[] NOT NULL DEFAULT '{}', hr_n bigint[] NOT NULL DEFAULT '{}');"
    /* The minute rollups (the edges of a /stats window, see pg_anread.c) and their columns in
     * the pending rows; a database made before them gets them filled from its raw rows (the
     * pending rows it has carry no minutes). an_minute_horizon: the first minute still kept. */
    "DO $$ BEGIN IF to_regclass('minute_stats_base') IS NULL THEN CREATE TABLE"
    " minute_stats_base(minute bigint PRIMARY KEY, total_commands bigint NOT NULL DEFAULT 0,"
    " total_images bigint NOT NULL DEFAULT 0, image_ms_sum bigint NOT NULL DEFAULT 0,"
    " total_videos bigint NOT NULL DEFAULT 0, video_ms_sum bigint NOT NULL DEFAULT 0,"
    " total_buttons bigint NOT NULL DEFAULT 0); CREATE TABLE minute_commands_base(minute"
    " bigint NOT NULL, command_name text COLLATE \"C\" NOT NULL, count bigint NOT NULL,"
    " PRIMARY KEY(minute, command_name)); CREATE TABLE minute_resolutions_base(minute bigint"
    " NOT NULL, resolution text COLLATE \"C\" NOT NULL, count bigint NOT NULL, PRIMARY"
    " KEY(minute, resolution)); CREATE TABLE minute_users_base(minute bigint NOT NULL, user_id"
    " bigint NOT NULL, events bigint NOT NULL, PRIMARY KEY(minute, user_id)); CREATE TABLE"
    " an_minute_horizon(id int PRIMARY KEY CHECK (id = 1), minute bigint NOT NULL); INSERT"
    " INTO an_minute_horizon VALUES (1, 0); INSERT INTO minute_stats_base SELECT floor(ts_ms /"
    " 60000.0)::bigint, SUM(CASE WHEN kind = 1 AND cmd_kind = 'command' THEN 1 ELSE 0 END),"
    " SUM(CASE WHEN kind = 2 AND success <> 0 AND is_video = 0 THEN 1 ELSE 0 END), SUM(CASE"
    " WHEN kind = 2 AND success <> 0 AND is_video = 0 THEN COALESCE(duration, 0) ELSE 0 END),"
    " SUM(CASE WHEN kind = 2 AND success <> 0 AND is_video <> 0 THEN 1 ELSE 0 END), SUM(CASE"
    " WHEN kind = 2 AND success <> 0 AND is_video <> 0 THEN COALESCE(duration, 0) ELSE 0 END),"
    " SUM(CASE WHEN kind = 1 AND cmd_kind = 'button' THEN 1 ELSE 0 END) FROM (SELECT 1 AS"
    " kind, ts_ms, user_id, success, execution_ms AS duration, kind AS cmd_kind, command_name"
    " AS command, 0 AS is_video, NULL::text AS resolution FROM command_usage UNION ALL SELECT"
    " 2, ts_ms, user_id, success, generation_ms, NULL, NULL, is_video, resolution FROM"
    " image_stats UNION ALL SELECT 3, ts_ms, user_id, 1, 0, NULL, NULL, 0, NULL FROM"
    " user_activity) r GROUP BY 1; INSERT INTO minute_commands_base SELECT floor(ts_ms /"
    " 60000.0)::bigint, command_name, COUNT(*) FROM command_usage WHERE kind = 'command' GROUP"
    " BY 1, 2; INSERT INTO minute_resolutions_base SELECT floor(ts_ms / 60000.0)::bigint,"
    " resolution, COUNT(*) FROM image_stats WHERE success <> 0 AND resolution <> '' GROUP BY"
    " 1, 2; INSERT INTO minute_users_base SELECT floor(ts_ms / 60000.0)::bigint, user_id,"
    " COUNT(*) FROM (SELECT 1 AS kind, ts_ms, user_id, success, execution_ms AS duration, kind"
    " AS cmd_kind, command_name AS command, 0 AS is_video, NULL::text AS resolution FROM"
    " command_usage UNION ALL SELECT 2, ts_ms, user_id, success, generation_ms, NULL, NULL,"
    " is_video, resolution FROM image_stats UNION ALL SELECT 3, ts_ms, user_id, 1, 0, NULL,"
    " NULL, 0, NULL FROM user_activity) r GROUP BY 1, 2; END IF; IF NOT EXISTS (SELECT 1 FROM"
    " pg_attribute WHERE attrelid = 'an_rollup_pending'::regclass AND attname = 'ms_min' AND"
    " NOT attisdropped) THEN ALTER TABLE an_rollup_pending ADD COLUMN ms_min bigint[] NOT NULL"
    " DEFAULT '{}', ADD COLUMN ms_c bigint[] NOT NULL DEFAULT '{}', ADD COLUMN ms_i bigint[]"
    " NOT NULL DEFAULT '{}', ADD COLUMN ms_im bigint[] NOT NULL DEFAULT '{}', ADD COLUMN ms_v"
    " bigint[] NOT NULL DEFAULT '{}', ADD COLUMN ms_vm bigint[] NOT NULL DEFAULT '{}', ADD"
    " COLUMN ms_b bigint[] NOT NULL DEFAULT '{}', ADD COLUMN mc_min bigint[] NOT NULL DEFAULT"
    " '{}', ADD COLUMN mc_name text[] NOT NULL DEFAULT '{}', ADD COLUMN mc_n bigint[] NOT NULL"
    " DEFAULT '{}', ADD COLUMN mr_min bigint[] NOT NULL DEFAULT '{}', ADD COLUMN mr_res text[]"
    " NOT NULL DEFAULT '{}', ADD COLUMN mr_n bigint[] NOT NULL DEFAULT '{}', ADD COLUMN mu_min"
    " bigint[] NOT NULL DEFAULT '{}', ADD COLUMN mu_user bigint[] NOT NULL DEFAULT '{}', ADD"
    " COLUMN mu_ev bigint[] NOT NULL DEFAULT '{}'; END IF; END $$;"
    /* Out of line but not compressed: a row is written once and read a few times, and
     * compressing it cost more than the rest of its insert. */
    "DO $$ DECLARE c text; BEGIN FOR c IN SELECT attname FROM pg_attribute"
    " WHERE attrelid = 'an_rollup_pending'::regclass AND attnum > 0 AND NOT attisdropped"
    " AND attstorage = 'x' LOOP EXECUTE format('ALTER TABLE an_rollup_pending ALTER COLUMN %I"
    " SET STORAGE EXTERNAL', c); END LOOP; END $$;"
    "CREATE TABLE IF NOT EXISTS results(job_id bigint PRIMARY KEY, created_ms bigint NOT NULL,"
    " user_id bigint NOT NULL, channel_id bigint, message_id bigint, params text NOT NULL,"
    " success smallint NOT NULL, is_image smallint NOT NULL, view_url text,"
    " attachment_url text);"
    "CREATE INDEX IF NOT EXISTS results_by_time ON results(created_ms);"
    /* `fluxbot import-analytics`: the source rows brought over (an_import.h). */
    "CREATE TABLE IF NOT EXISTS imported_rows(tbl text NOT NULL, src_id bigint NOT NULL,"
    " ts_ms bigint NOT NULL, user_id bigint NOT NULL, PRIMARY KEY(tbl, src_id, ts_ms, user_id));"
    "CREATE TABLE IF NOT EXISTS an_early_outcomes(id bigserial PRIMARY KEY,"
    " interaction_id bigint NOT NULL UNIQUE, success smallint NOT NULL);";

/* A database whose rollups were plain tables (before an_rollup_pending): they become the base
 * tables (daily_stats loses the columns its view computes). Runs before k_schema's CREATEs. */
static const char k_schema_fold[] =
    "DO $$ DECLARE t text; BEGIN"
    " IF EXISTS (SELECT 1 FROM pg_class c WHERE c.relname = 'daily_stats' AND c.relkind = 'r'"
    "  AND c.relnamespace = current_schema()::regnamespace) THEN"
    "  ALTER TABLE daily_stats DROP COLUMN date, DROP COLUMN unique_users;"
    "  FOREACH t IN ARRAY ARRAY['daily_stats', 'daily_commands', 'daily_resolutions',"
    "   'daily_users', 'hourly_stats', 'hourly_commands', 'hourly_resolutions', 'hourly_users']"
    "  LOOP EXECUTE format('ALTER TABLE %I RENAME TO %I', t, t || '_base'); END LOOP;"
    " END IF; END $$;";

/*
 * What readers see under the rollups' names: the base table plus every pending row's elements,
 * summed per key, so a batch's rollups are visible with its commit, exactly. daily_stats also
 * computes date and unique_users (the day's rows in daily_users: a (day, user) pair exists
 * exactly when the user had an event that day). Filters on the key (day BETWEEN ...) reach the
 * base tables' primary keys through the views.
 */
static const char k_rollup_views[] =
    "CREATE VIEW daily_users AS SELECT day, user_id, SUM(commands)::bigint AS commands,"
    " SUM(events)::bigint AS events FROM (SELECT day, user_id, commands, events"
    " FROM daily_users_base UNION ALL SELECT floor(u.hour / 24.0)::bigint, u.user_id,"
    " u.commands, u.events FROM an_rollup_pending p,"
    " unnest(p.hu_hour, p.hu_user, p.hu_cmd, p.hu_ev) AS u(hour, user_id, commands, events)) x"
    " GROUP BY day, user_id;"
    "CREATE VIEW daily_stats AS SELECT x.day,"
    " to_char(to_timestamp(x.day * 86400) AT TIME ZONE 'UTC', 'YYYY-MM-DD') AS date,"
    " SUM(total_commands)::bigint AS total_commands,"
    " SUM(failed_commands)::bigint AS failed_commands, SUM(total_images)::bigint AS total_images,"
    " SUM(image_ms_sum)::bigint AS image_ms_sum, SUM(total_videos)::bigint AS total_videos,"
    " SUM(video_ms_sum)::bigint AS video_ms_sum,"
    " SUM(failed_generations)::bigint AS failed_generations,"
    " SUM(total_activity)::bigint AS total_activity,"
    " (SELECT COUNT(*) FROM daily_users u WHERE u.day = x.day) AS unique_users,"
    " SUM(total_buttons)::bigint AS total_buttons"
    " FROM (SELECT day, total_commands, failed_commands, total_images, image_ms_sum,"
    " total_videos, video_ms_sum, failed_generations, total_activity, total_buttons"
    " FROM daily_stats_base UNION ALL SELECT u.* FROM an_rollup_pending p,"
    " unnest(p.ds_day, p.ds_c, p.ds_f, p.ds_i, p.ds_im, p.ds_v, p.ds_vm, p.ds_fg, p.ds_a,"
    " p.ds_b) AS u) x GROUP BY x.day;"
    "CREATE VIEW daily_commands AS SELECT day, command_name, SUM(count)::bigint AS count"
    " FROM (SELECT day, command_name, count FROM daily_commands_base UNION ALL"
    " SELECT u.day, u.name COLLATE \"C\", u.n FROM an_rollup_pending p,"
    " unnest(p.dc_day, p.dc_name, p.dc_n) AS u(day, name, n)) x GROUP BY day, command_name;"
    "CREATE VIEW daily_resolutions AS SELECT day, resolution, SUM(count)::bigint AS count"
    " FROM (SELECT day, resolution, count FROM daily_resolutions_base UNION ALL"
    " SELECT u.day, u.res COLLATE \"C\", u.n FROM an_rollup_pending p,"
    " unnest(p.dr_day, p.dr_res, p.dr_n) AS u(day, res, n)) x GROUP BY day, resolution;"
    "CREATE VIEW hourly_users AS SELECT hour, user_id, SUM(events)::bigint AS events"
    " FROM (SELECT hour, user_id, events FROM hourly_users_base UNION ALL"
    " SELECT u.hour, u.user_id, u.e FROM an_rollup_pending p,"
    " unnest(p.hu_hour, p.hu_user, p.hu_cmd, p.hu_ev) AS u(hour, user_id, c, e))"
    " x GROUP BY hour, user_id;"
    "CREATE VIEW hourly_stats AS SELECT hour, SUM(total_commands)::bigint AS total_commands,"
    " SUM(total_images)::bigint AS total_images, SUM(image_ms_sum)::bigint AS image_ms_sum,"
    " SUM(total_videos)::bigint AS total_videos, SUM(video_ms_sum)::bigint AS video_ms_sum,"
    " SUM(total_buttons)::bigint AS total_buttons FROM (SELECT hour, total_commands,"
    " total_images, image_ms_sum, total_videos, video_ms_sum, total_buttons"
    " FROM hourly_stats_base UNION ALL SELECT u.* FROM an_rollup_pending p,"
    " unnest(p.hs_hour, p.hs_c, p.hs_i, p.hs_im, p.hs_v, p.hs_vm, p.hs_b) AS u) x GROUP BY hour;"
    "CREATE VIEW hourly_commands AS SELECT hour, command_name, SUM(count)::bigint AS count"
    " FROM (SELECT hour, command_name, count FROM hourly_commands_base UNION ALL"
    " SELECT u.hour, u.name COLLATE \"C\", u.n FROM an_rollup_pending p,"
    " unnest(p.hc_hour, p.hc_name, p.hc_n) AS u(hour, name, n)) x GROUP BY hour, command_name;"
    "CREATE VIEW hourly_resolutions AS SELECT hour, resolution, SUM(count)::bigint AS count"
    " FROM (SELECT hour, resolution, count FROM hourly_resolutions_base UNION ALL"
    " SELECT u.hour, u.res COLLATE \"C\", u.n FROM an_rollup_pending p,"
    " unnest(p.hr_hour, p.hr_res, p.hr_n) AS u(hour, res, n)) x GROUP BY hour, resolution;";

/* The minute rollups' views (k_rollup_views' kind): made when missing. */
// clang-format off
static const char k_minute_views[] =
    "CREATE VIEW minute_stats AS SELECT minute, SUM(total_commands)::bigint AS"
    " total_commands, SUM(total_images)::bigint AS total_images, SUM(image_ms_sum)::bigint AS"
    " image_ms_sum, SUM(total_videos)::bigint AS total_videos, SUM(video_ms_sum)::bigint AS"
    " video_ms_sum, SUM(total_buttons)::bigint AS total_buttons FROM (SELECT minute,"
    " total_commands, total_images, image_ms_sum, total_videos, video_ms_sum, total_buttons"
    " FROM minute_stats_base UNION ALL SELECT u.* FROM an_rollup_pending p, unnest(p.ms_min,"
    " p.ms_c, p.ms_i, p.ms_im, p.ms_v, p.ms_vm, p.ms_b) AS u) x GROUP BY minute;CREATE VIEW"
    " minute_commands AS SELECT minute, command_name, SUM(count)::bigint AS count FROM (SELECT"
    " minute, command_name, count FROM minute_commands_base UNION ALL SELECT u.minute, u.name"
    " COLLATE \"C\", u.n FROM an_rollup_pending p, unnest(p.mc_min, p.mc_name, p.mc_n) AS"
    " u(minute, name, n)) x GROUP BY minute, command_name;CREATE VIEW minute_resolutions AS"
    " SELECT minute, resolution, SUM(count)::bigint AS count FROM (SELECT minute, resolution,"
    " count FROM minute_resolutions_base UNION ALL SELECT u.minute, u.res COLLATE \"C\", u.n"
    " FROM an_rollup_pending p, unnest(p.mr_min, p.mr_res, p.mr_n) AS u(minute, res, n)) x"
    " GROUP BY minute, resolution;CREATE VIEW minute_users AS SELECT minute, user_id,"
    " SUM(events)::bigint AS events FROM (SELECT minute, user_id, events FROM"
    " minute_users_base UNION ALL SELECT u.* FROM an_rollup_pending p, unnest(p.mu_min,"
    " p.mu_user, p.mu_ev) AS u) x GROUP BY minute, user_id;";
// clang-format on

/* The staging table of a reset's rebuild (k_restage): the raw rows left, as events, emptied at
 * its commit. Temporary, so it is the connection's own and never logged. Batches do not touch
 * it (a commit that touched a temporary table would pay for emptying it). */
static const char k_stage[] =
    "CREATE TEMP TABLE IF NOT EXISTS an_stage("
    " ord int, kind smallint, wid bigint, seq bigint, ts_ms bigint, day bigint, hour bigint,"
    " minute bigint,"
    " user_id bigint, guild_id bigint, channel_id bigint, success smallint, duration bigint,"
    " command text COLLATE \"C\", cmd_kind text, interaction_id bigint, prompt text,"
    " resolution text COLLATE \"C\", loras text, generation_type text,"
    " upscale double precision, width int, height int, is_video smallint, action text,"
    " details text, job_id bigint, message_id bigint, is_image smallint, params text, url text)"
    " ON COMMIT DELETE ROWS";

/*
 * A batch's statements, prepared once per connection (pg_anbatch.h builds their array
 * parameters: one row per key, aggregated in the client). Each takes its rows from
 * unnest($n::...[]) and sorts them by key, so that concurrent writers of several processes take
 * row locks in one order. In pipeline mode (libpq 14+) they go to the server together with the
 * transaction's COMMIT in one round trip.
 */

/* Outcomes stored earlier for the batch's command rows: taken (consumed) before the rows are
 * built, so each row goes in with its final success. */
static const char k_early_take[] = "DELETE FROM an_early_outcomes WHERE interaction_id ="
                                   " ANY($1::bigint[]) RETURNING interaction_id, success";

/* Outcomes of rows written by earlier batches (or another process): the row takes it, and the
 * failed-command total of its day follows (slash commands only, as in the rollups). */
static const char k_outcomes_prev[] =
    "WITH o AS (SELECT * FROM unnest($1::bigint[], $2::smallint[]) AS o(interaction_id,"
    "  success)),"
    " c AS (UPDATE command_usage c SET success = o.success FROM o"
    "  WHERE c.interaction_id = o.interaction_id AND c.success <> o.success"
    "  RETURNING c.ts_ms, c.kind, c.success),"
    " f AS (SELECT floor(ts_ms / 86400000.0)::bigint AS day,"
    "  SUM(CASE WHEN success = 0 THEN 1 ELSE -1 END) AS delta FROM c WHERE kind = 'command'"
    "  GROUP BY 1)"
    " INSERT INTO an_rollup_pending (ds_day, ds_c, ds_f, ds_i, ds_im, ds_v, ds_vm, ds_fg, ds_a,"
    " ds_b) SELECT array_agg(day ORDER BY day), z, array_agg(delta ORDER BY day), z, z, z, z, z,"
    " z, z FROM f, LATERAL (SELECT array_fill(0::bigint, ARRAY[(SELECT COUNT(*) FROM f)::int])"
    " AS z) zz GROUP BY z";

/* Outcomes whose row no process has written yet wait for it (newest few thousand). */
static const char k_early_keep[] =
    "INSERT INTO an_early_outcomes AS e (interaction_id, success)"
    " SELECT o.i, o.s FROM unnest($1::bigint[], $2::smallint[]) AS o(i, s)"
    " WHERE NOT EXISTS (SELECT 1 FROM command_usage c WHERE c.interaction_id = o.i)"
    " ORDER BY 1 ON CONFLICT (interaction_id) DO UPDATE SET success = excluded.success";
static const char k_early_trim[] =
    "DELETE FROM an_early_outcomes WHERE id < (SELECT MAX(id) - " EARLY_OUTCOMES_MAX
    " FROM an_early_outcomes)";
/* Results: their parameters, and their message in whichever order the two come. */
static const char k_results[] =
    "INSERT INTO results AS r (job_id, created_ms, user_id, channel_id, params, success,"
    " is_image, view_url) SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::bigint[],"
    " $4::bigint[], $5::text[], $6::smallint[], $7::smallint[], $8::text[]) ORDER BY 1"
    " ON CONFLICT (job_id) DO UPDATE SET created_ms = excluded.created_ms,"
    " user_id = excluded.user_id, channel_id = excluded.channel_id, params = excluded.params,"
    " success = excluded.success, is_image = excluded.is_image, view_url = excluded.view_url";
static const char k_result_msgs[] =
    "INSERT INTO results AS r (job_id, created_ms, user_id, channel_id, message_id, params,"
    " success, is_image, attachment_url) SELECT j, t, u, c, m, '{}', 0, 0, a"
    " FROM unnest($1::bigint[], $2::bigint[], $3::bigint[], $4::bigint[], $5::bigint[],"
    " $6::text[]) AS x(j, t, u, c, m, a) ORDER BY 1"
    " ON CONFLICT (job_id) DO UPDATE SET message_id = excluded.message_id,"
    " attachment_url = excluded.attachment_url";

/* A batch's rollup changes: one pending row (see k_rollup_views), $1-$49 in pg_anbatch.h's
 * order (days, hours, names, minutes), bound as binary arrays. */
// clang-format off
static const char k_pending[] =
    "INSERT INTO an_rollup_pending(ds_day, ds_c, ds_f, ds_i, ds_im, ds_v, ds_vm, ds_fg, ds_a,"
    " ds_b, hu_hour, hu_user, hu_cmd, hu_ev, hs_hour, hs_c, hs_i, hs_im, hs_v, hs_vm, hs_b,"
    " dc_day, dc_name, dc_n, dr_day, dr_res, dr_n, hc_hour, hc_name, hc_n, hr_hour, hr_res,"
    " hr_n, ms_min, ms_c, ms_i, ms_im, ms_v, ms_vm, ms_b, mc_min, mc_name, mc_n, mr_min,"
    " mr_res, mr_n, mu_min, mu_user, mu_ev) VALUES ($1::bigint[], $2::bigint[], $3::bigint[],"
    " $4::bigint[], $5::bigint[], $6::bigint[], $7::bigint[], $8::bigint[], $9::bigint[],"
    " $10::bigint[], $11::bigint[], $12::bigint[], $13::bigint[], $14::bigint[],"
    " $15::bigint[], $16::bigint[], $17::bigint[], $18::bigint[], $19::bigint[],"
    " $20::bigint[], $21::bigint[], $22::bigint[], $23::text[], $24::bigint[], $25::bigint[],"
    " $26::text[], $27::bigint[], $28::bigint[], $29::text[], $30::bigint[], $31::bigint[],"
    " $32::text[], $33::bigint[], $34::bigint[], $35::bigint[], $36::bigint[], $37::bigint[],"
    " $38::bigint[], $39::bigint[], $40::bigint[], $41::bigint[], $42::text[], $43::bigint[],"
    " $44::bigint[], $45::text[], $46::bigint[], $47::bigint[], $48::bigint[], $49::bigint[])";

/*
 * Folding: every pending row (of every process) summed per key into the base tables, in the
 * same transaction that deletes them, so the views' sums never change. A row another process
 * is folding at the same time is locked by its DELETE: this one waits, then skips it. Rows are
 * sorted by key so that folds lock base rows in one order. (Written out in full, without
 * macros, so that the SQL reads as it runs.)
 */
static const char k_fold[] =
    "WITH p AS (DELETE FROM an_rollup_pending RETURNING *), h AS (SELECT u.hour, u.user_id,"
    " SUM(u.c) AS c, SUM(u.e) AS e FROM p, unnest(p.hu_hour, p.hu_user, p.hu_cmd, p.hu_ev) AS"
    " u(hour, user_id, c, e) GROUP BY 1, 2), f0 AS (INSERT INTO daily_users_base AS t (day,"
    " user_id, commands, events) SELECT floor(hour / 24.0)::bigint, user_id, SUM(c), SUM(e)"
    " FROM h GROUP BY 1, 2 ORDER BY 1, 2 ON CONFLICT (day, user_id) DO UPDATE SET commands ="
    " t.commands + excluded.commands, events = t.events + excluded.events), f1 AS (INSERT INTO"
    " hourly_users_base AS t (hour, user_id, events) SELECT hour, user_id, e FROM h ORDER BY"
    " 1, 2 ON CONFLICT (hour, user_id) DO UPDATE SET events = t.events + excluded.events), f2"
    " AS (INSERT INTO daily_stats_base AS t (day, total_commands, failed_commands,"
    " total_images, image_ms_sum, total_videos, video_ms_sum, failed_generations,"
    " total_activity, total_buttons) SELECT u.day, SUM(u.c), SUM(u.f), SUM(u.i), SUM(u.im),"
    " SUM(u.v), SUM(u.vm), SUM(u.fg), SUM(u.a), SUM(u.b) FROM p, unnest(p.ds_day, p.ds_c,"
    " p.ds_f, p.ds_i, p.ds_im, p.ds_v, p.ds_vm, p.ds_fg, p.ds_a, p.ds_b) AS u(day, c, f, i,"
    " im, v, vm, fg, a, b) GROUP BY 1 ORDER BY 1 ON CONFLICT (day) DO UPDATE SET"
    " total_commands = t.total_commands + excluded.total_commands, failed_commands ="
    " t.failed_commands + excluded.failed_commands, total_images = t.total_images +"
    " excluded.total_images, image_ms_sum = t.image_ms_sum + excluded.image_ms_sum,"
    " total_videos = t.total_videos + excluded.total_videos, video_ms_sum = t.video_ms_sum +"
    " excluded.video_ms_sum, failed_generations = t.failed_generations +"
    " excluded.failed_generations, total_activity = t.total_activity +"
    " excluded.total_activity, total_buttons = t.total_buttons + excluded.total_buttons), f3"
    " AS (INSERT INTO hourly_stats_base AS t (hour, total_commands, total_images,"
    " image_ms_sum, total_videos, video_ms_sum, total_buttons) SELECT u.hour, SUM(u.c),"
    " SUM(u.i), SUM(u.im), SUM(u.v), SUM(u.vm), SUM(u.b) FROM p, unnest(p.hs_hour, p.hs_c,"
    " p.hs_i, p.hs_im, p.hs_v, p.hs_vm, p.hs_b) AS u(hour, c, i, im, v, vm, b) GROUP BY 1"
    " ORDER BY 1 ON CONFLICT (hour) DO UPDATE SET total_commands = t.total_commands +"
    " excluded.total_commands, total_images = t.total_images + excluded.total_images,"
    " image_ms_sum = t.image_ms_sum + excluded.image_ms_sum, total_videos = t.total_videos +"
    " excluded.total_videos, video_ms_sum = t.video_ms_sum + excluded.video_ms_sum,"
    " total_buttons = t.total_buttons + excluded.total_buttons), f4 AS (INSERT INTO"
    " daily_commands_base AS t (day, command_name, count) SELECT u.k, u.name, SUM(u.n) FROM p,"
    " unnest(p.dc_day, p.dc_name, p.dc_n) AS u(k, name, n) GROUP BY 1, 2 ORDER BY 1, 2 ON"
    " CONFLICT (day, command_name) DO UPDATE SET count = t.count + excluded.count), f5 AS"
    " (INSERT INTO daily_resolutions_base AS t (day, resolution, count) SELECT u.k, u.name,"
    " SUM(u.n) FROM p, unnest(p.dr_day, p.dr_res, p.dr_n) AS u(k, name, n) GROUP BY 1, 2 ORDER"
    " BY 1, 2 ON CONFLICT (day, resolution) DO UPDATE SET count = t.count + excluded.count),"
    " f6 AS (INSERT INTO hourly_commands_base AS t (hour, command_name, count) SELECT u.k,"
    " u.name, SUM(u.n) FROM p, unnest(p.hc_hour, p.hc_name, p.hc_n) AS u(k, name, n) GROUP BY"
    " 1, 2 ORDER BY 1, 2 ON CONFLICT (hour, command_name) DO UPDATE SET count = t.count +"
    " excluded.count), m0 AS (INSERT INTO minute_stats_base AS t (minute, total_commands,"
    " total_images, image_ms_sum, total_videos, video_ms_sum, total_buttons) SELECT u.minute,"
    " SUM(u.c), SUM(u.i), SUM(u.im), SUM(u.v), SUM(u.vm), SUM(u.b) FROM p, unnest(p.ms_min,"
    " p.ms_c, p.ms_i, p.ms_im, p.ms_v, p.ms_vm, p.ms_b) AS u(minute, c, i, im, v, vm, b) GROUP"
    " BY 1 ORDER BY 1 ON CONFLICT (minute) DO UPDATE SET total_commands = t.total_commands +"
    " excluded.total_commands, total_images = t.total_images + excluded.total_images,"
    " image_ms_sum = t.image_ms_sum + excluded.image_ms_sum, total_videos = t.total_videos +"
    " excluded.total_videos, video_ms_sum = t.video_ms_sum + excluded.video_ms_sum,"
    " total_buttons = t.total_buttons + excluded.total_buttons), m1 AS (INSERT INTO"
    " minute_users_base AS t (minute, user_id, events) SELECT u.minute, u.user_id, SUM(u.e)"
    " FROM p, unnest(p.mu_min, p.mu_user, p.mu_ev) AS u(minute, user_id, e) GROUP BY 1, 2"
    " ORDER BY 1, 2 ON CONFLICT (minute, user_id) DO UPDATE SET events = t.events +"
    " excluded.events), m2 AS (INSERT INTO minute_commands_base AS t (minute, command_name,"
    " count) SELECT u.k, u.name, SUM(u.n) FROM p, unnest(p.mc_min, p.mc_name, p.mc_n) AS u(k,"
    " name, n) GROUP BY 1, 2 ORDER BY 1, 2 ON CONFLICT (minute, command_name) DO UPDATE SET"
    " count = t.count + excluded.count), m3 AS (INSERT INTO minute_resolutions_base AS t"
    " (minute, resolution, count) SELECT u.k, u.name, SUM(u.n) FROM p, unnest(p.mr_min,"
    " p.mr_res, p.mr_n) AS u(k, name, n) GROUP BY 1, 2 ORDER BY 1, 2 ON CONFLICT (minute,"
    " resolution) DO UPDATE SET count = t.count + excluded.count) INSERT INTO"
    " hourly_resolutions_base AS t (hour, resolution, count) SELECT u.k, u.name, SUM(u.n) FROM"
    " p, unnest(p.hr_hour, p.hr_res, p.hr_n) AS u(k, name, n) GROUP BY 1, 2 ORDER BY 1, 2 ON"
    " CONFLICT (hour, resolution) DO UPDATE SET count = t.count + excluded.count";
// clang-format on

/* A user's first event: only users this store has not seen at or before the batch's time
 * (see known_cache) are sent. One statement, so a row another process inserts meanwhile still
 * gets the earlier time. */
static const char k_known[] =
    "INSERT INTO known_users AS k (user_id, first_seen_ms)"
    " SELECT * FROM unnest($1::bigint[], $2::bigint[]) ORDER BY 1"
    " ON CONFLICT (user_id) DO UPDATE SET first_seen_ms = excluded.first_seen_ms"
    " WHERE excluded.first_seen_ms < k.first_seen_ms";
static const char k_prune[] = "DELETE FROM results WHERE created_ms < $1::bigint";
/* Minute rollups older than AN_ROLLUP_MINUTE_KEEP_DAYS before a fold's newest minute go; the
 * horizon tells readers where they start (older window edges are read from the raw rows). */
static const char k_minute_prune[] =
    "WITH a AS (DELETE FROM minute_stats_base WHERE minute < $1::bigint),"
    " b AS (DELETE FROM minute_commands_base WHERE minute < $1::bigint),"
    " c AS (DELETE FROM minute_resolutions_base WHERE minute < $1::bigint),"
    " d AS (DELETE FROM minute_users_base WHERE minute < $1::bigint)"
    " UPDATE an_minute_horizon SET minute = $1::bigint WHERE minute < $1::bigint";
/* An import's source rows: those not imported before come back. */
static const char k_import_seen[] =
    "INSERT INTO imported_rows(tbl, src_id, ts_ms, user_id) SELECT $1, * FROM"
    " unnest($2::bigint[], $3::bigint[], $4::bigint[]) ON CONFLICT DO NOTHING"
    " RETURNING src_id, ts_ms, user_id";
/* Batches hold the analytics lock shared, a reset exclusive (see pg_anstore.h). */
static const char k_lock_shared[] =
    "SELECT pg_advisory_xact_lock_shared(" AN_LOCK_CLASS ", " AN_LOCK_EPOCH ")";
static const char k_epoch[] = "SELECT epoch FROM an_epoch WHERE id = 1";

typedef struct prepared {
    const char *name, *sql;
} prepared;
enum {
    P_EARLY_TAKE,
    P_OUTCOMES_PREV,
    P_EARLY_KEEP,
    P_EARLY_TRIM,
    P_RESULTS,
    P_RESULT_MSGS,
    P_PENDING,
    P_FOLD,
    P_KNOWN,
    P_PRUNE,
    P_IMPORT_SEEN,
    P_MINUTE_PRUNE,
    P_LOCK,
    P_EPOCH,
    P_COUNT
};
static const prepared k_prepared[P_COUNT] = {
    {"fluxbot_an_early_take", k_early_take},
    {"fluxbot_an_outcomes", k_outcomes_prev},
    {"fluxbot_an_early_keep", k_early_keep},
    {"fluxbot_an_early_trim", k_early_trim},
    {"fluxbot_an_results", k_results},
    {"fluxbot_an_result_msgs", k_result_msgs},
    {"fluxbot_an_pending", k_pending},
    {"fluxbot_an_fold", k_fold},
    {"fluxbot_an_known", k_known},
    {"fluxbot_an_prune", k_prune},
    {"fluxbot_an_import_seen", k_import_seen},
    {"fluxbot_an_minute_prune", k_minute_prune},
    {"fluxbot_an_lock", k_lock_shared},
    {"fluxbot_an_epoch", k_epoch},
};

/*
 * A reset's rebuild: the rollups of the statistic rows refilled into an_stage (kinds 1 command,
 * 2 image, 3 activity), into the base tables (the reset emptied them and an_rollup_pending),
 * with the meanings of pg_anbatch.h (an_rollup.c's): only slash commands ("command") count as
 * commands and only they make failed commands; buttons apart; successful generations by medium
 * with their time sums; every event is one of its user's events; a user's first event in
 * known_users.
 */
#define STAGE_SUMS                                                                                 \
    " SUM(CASE WHEN kind = 1 AND cmd_kind = 'command' THEN 1 ELSE 0 END) AS c,"                    \
    " SUM(CASE WHEN kind = 2 AND success <> 0 AND is_video = 0 THEN 1 ELSE 0 END) AS i,"           \
    " SUM(CASE WHEN kind = 2 AND success <> 0 AND is_video = 0 THEN COALESCE(duration, 0)"         \
    "  ELSE 0 END) AS im,"                                                                         \
    " SUM(CASE WHEN kind = 2 AND success <> 0 AND is_video <> 0 THEN 1 ELSE 0 END) AS v,"          \
    " SUM(CASE WHEN kind = 2 AND success <> 0 AND is_video <> 0 THEN COALESCE(duration, 0)"        \
    "  ELSE 0 END) AS vm,"                                                                         \
    " SUM(CASE WHEN kind = 1 AND cmd_kind = 'button' THEN 1 ELSE 0 END) AS b"
static const char k_rollups[] =
    "INSERT INTO daily_users_base (day, user_id, commands, events) SELECT day, user_id,"
    " SUM(CASE WHEN kind = 1 AND cmd_kind = 'command' THEN 1 ELSE 0 END), COUNT(*)"
    " FROM an_stage WHERE kind IN (1, 2, 3) GROUP BY day, user_id;"
    "INSERT INTO known_users (user_id, first_seen_ms) SELECT user_id, MIN(ts_ms) FROM an_stage"
    " WHERE kind IN (1, 2, 3) GROUP BY user_id;"
    "INSERT INTO daily_stats_base (day, total_commands, failed_commands, total_images,"
    " image_ms_sum, total_videos, video_ms_sum, failed_generations, total_activity,"
    " total_buttons) SELECT day, c, f, i, im, v, vm, fg, a, b FROM (SELECT day," STAGE_SUMS ","
    " SUM(CASE WHEN kind = 1 AND cmd_kind = 'command' AND success = 0 THEN 1 ELSE 0 END) AS f,"
    " SUM(CASE WHEN kind = 2 AND success = 0 THEN 1 ELSE 0 END) AS fg,"
    " SUM(CASE WHEN kind = 3 THEN 1 ELSE 0 END) AS a"
    " FROM an_stage WHERE kind IN (1, 2, 3) GROUP BY day) t;"
    "INSERT INTO daily_commands_base (day, command_name, count) SELECT day, command, COUNT(*)"
    " FROM an_stage WHERE kind = 1 AND cmd_kind = 'command' GROUP BY day, command;"
    "INSERT INTO daily_resolutions_base (day, resolution, count) SELECT day, resolution,"
    " COUNT(*) FROM an_stage WHERE kind = 2 AND success <> 0 AND resolution <> ''"
    " GROUP BY day, resolution;"
    "INSERT INTO hourly_stats_base (hour, total_commands, total_images, image_ms_sum,"
    " total_videos, video_ms_sum, total_buttons) SELECT hour, c, i, im, v, vm, b FROM"
    " (SELECT hour," STAGE_SUMS " FROM an_stage WHERE kind IN (1, 2, 3) GROUP BY hour) t;"
    "INSERT INTO hourly_users_base (hour, user_id, events) SELECT hour, user_id, COUNT(*)"
    " FROM an_stage WHERE kind IN (1, 2, 3) GROUP BY hour, user_id;"
    "INSERT INTO hourly_commands_base (hour, command_name, count) SELECT hour, command,"
    " COUNT(*) FROM an_stage WHERE kind = 1 AND cmd_kind = 'command' GROUP BY hour, command;"
    "INSERT INTO hourly_resolutions_base (hour, resolution, count) SELECT hour, resolution,"
    " COUNT(*) FROM an_stage WHERE kind = 2 AND success <> 0 AND resolution <> ''"
    " GROUP BY hour, resolution;"
    "INSERT INTO minute_stats_base (minute, total_commands, total_images, image_ms_sum,"
    " total_videos, video_ms_sum, total_buttons) SELECT minute, c, i, im, v, vm, b FROM"
    " (SELECT minute," STAGE_SUMS " FROM an_stage WHERE kind IN (1, 2, 3) GROUP BY minute) t;"
    "INSERT INTO minute_users_base (minute, user_id, events) SELECT minute, user_id, COUNT(*)"
    " FROM an_stage WHERE kind IN (1, 2, 3) GROUP BY minute, user_id;"
    "INSERT INTO minute_commands_base (minute, command_name, count) SELECT minute, command,"
    " COUNT(*) FROM an_stage WHERE kind = 1 AND cmd_kind = 'command' GROUP BY minute, command;"
    "INSERT INTO minute_resolutions_base (minute, resolution, count) SELECT minute, resolution,"
    " COUNT(*) FROM an_stage WHERE kind = 2 AND success <> 0 AND resolution <> ''"
    " GROUP BY minute, resolution;"
    "UPDATE an_minute_horizon SET minute = 0;";

// clang-format off
/* The raw rows that remain, staged as events for a rebuild of every rollup. */
static const char k_restage[] =
    "INSERT INTO an_stage(kind, ts_ms, day, hour, minute, user_id, success, duration,"
    " cmd_kind, command, is_video, resolution) SELECT kind, ts_ms, floor(ts_ms /"
    " 86400000.0)::bigint, floor(ts_ms / 3600000.0)::bigint, floor(ts_ms / 60000.0)::bigint,"
    " user_id, success, duration, cmd_kind, command, is_video, resolution FROM (SELECT 1 AS"
    " kind, ts_ms, user_id, success, execution_ms AS duration, kind AS cmd_kind, command_name"
    " AS command, 0 AS is_video, NULL::text AS resolution FROM command_usage UNION ALL SELECT"
    " 2, ts_ms, user_id, success, generation_ms, NULL, NULL, is_video, resolution FROM"
    " image_stats UNION ALL SELECT 3, ts_ms, user_id, 1, 0, NULL, NULL, 0, NULL FROM"
    " user_activity) r;";
// clang-format on

struct pg_anstore {
    char url[1024];
    PGconn *c;
    int64_t wid;   /* this store's writer id (analytics_writer_ids), tags its rows */
    int64_t epoch; /* the reset epoch seen by the last batch */
    int64_t result_retention_ms;
    int64_t results_pruned_at;
    pg_anbatch batch;        /* a batch's rows and rollup arrays, rebuilt every batch */
    pg_anbatch_early *early; /* outcomes taken from an_early_outcomes for the batch's rows */
    size_t nearly, early_cap;
    struct known_user {
        uint64_t user;
        int64_t first_ms;
        bool used;
    } * known; /* see known_cache */
    size_t nknown;
    int64_t known_epoch; /* the epoch the cache belongs to */
    unsigned unfolded;   /* batches written since this store last folded the pending rows */
    bool importing;      /* inside pg_anstore_import_begin/_end: one open transaction */
    bool copy_sent;      /* the COPY in flight had all its rows and its end handed to libpq */
    pg_anbatch_buf known_ids, known_first;
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
        rc = run(c, k_schema_fold, 0, NULL, "creating the analytics tables", err, errlen);
    if (rc == SQLITE_OK)
        rc = run(c, k_schema, 0, NULL, "creating the analytics tables", err, errlen);
    if (rc == SQLITE_OK) { /* views are replaced only when missing: replacing locks readers */
        PGresult *r = PQexec(c, "SELECT to_regclass('daily_stats') IS NULL");
        bool missing = PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1 &&
                       PQgetvalue(r, 0, 0)[0] == 't';
        if (PQresultStatus(r) != PGRES_TUPLES_OK) {
            rc = pg_anstore_code(c, r);
            set_err(err, errlen, "creating the analytics tables", c, r);
        }
        PQclear(r);
        if (rc == SQLITE_OK && missing)
            rc = run(c, k_rollup_views, 0, NULL, "creating the analytics views", err, errlen);
        r = rc == SQLITE_OK ? PQexec(c, "SELECT to_regclass('minute_users') IS NULL") : NULL;
        missing = r && PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1 &&
                  PQgetvalue(r, 0, 0)[0] == 't';
        if (r && PQresultStatus(r) != PGRES_TUPLES_OK) {
            rc = pg_anstore_code(c, r);
            set_err(err, errlen, "creating the analytics tables", c, r);
        }
        PQclear(r);
        if (rc == SQLITE_OK && missing)
            rc = run(c, k_minute_views, 0, NULL, "creating the analytics views", err, errlen);
    }
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
    for (int i = 0; i < P_COUNT && rc == SQLITE_OK; i++) {
        PGresult *r = PQprepare(s->c, k_prepared[i].name, k_prepared[i].sql, 0, NULL);
        if (PQresultStatus(r) != PGRES_COMMAND_OK) {
            rc = pg_anstore_code(s->c, r);
            set_err(err, errlen, "preparing the batch statements", s->c, r);
        }
        PQclear(r);
    }
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
    pg_anbatch_init(&s->batch);
    s->known_epoch = -1;
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
    pg_anbatch_free(&s->batch);
    pg_anbatch_buf_free(&s->known_ids);
    pg_anbatch_buf_free(&s->known_first);
    free(s->early);
    free(s->known);
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

/* ---- the known-users cache ------------------------------------------------------------------ */

/*
 * user -> a time at or after the user's known_users.first_seen_ms as committed. The column only
 * ever decreases and only a reset deletes rows (and every reset advances the epoch, which
 * clears the cache), so a batch whose earliest event of a user is not before the cached time
 * has nothing to tell known_users about that user: it is not sent. Without this every batch
 * would re-send (and the server re-check) every user it names.
 */
#define KNOWN_CAP 65536 /* power of two; when 3/4 full the cache starts over */

static size_t known_slot(const pg_anstore *s, uint64_t user)
{
    size_t m = KNOWN_CAP - 1;
    size_t i = (size_t)((user * 0x9E3779B97F4A7C15ULL) >> 20) & m;
    while (s->known[i].used && s->known[i].user != user)
        i = (i + 1) & m;
    return i;
}

static bool known_covers(const pg_anstore *s, uint64_t user, int64_t first_ms)
{
    if (!s->known) return false;
    size_t i = known_slot(s, user);
    return s->known[i].used && s->known[i].first_ms <= first_ms;
}

static void known_clear(pg_anstore *s)
{
    if (s->known) memset(s->known, 0, KNOWN_CAP * sizeof *s->known);
    s->nknown = 0;
}

static void known_put(pg_anstore *s, uint64_t user, int64_t first_ms)
{
    if (!s->known) {
        s->known = calloc(KNOWN_CAP, sizeof *s->known);
        if (!s->known) abort();
    }
    if (s->nknown >= KNOWN_CAP / 4 * 3) known_clear(s);
    size_t i = known_slot(s, user);
    if (!s->known[i].used) s->nknown++;
    s->known[i].used = true;
    s->known[i].user = user;
    s->known[i].first_ms = first_ms;
}

/* ---- statements in one round trip ---------------------------------------------------------- */

/*
 * A pipeline: statements sent one after another without waiting, their results read after one
 * sync (libpq's pipeline mode, libpq 14 and later). Built against an older libpq, each
 * statement runs as it is added: the same results, one round trip each.
 */
enum { T_PLAIN, T_EPOCH, T_EARLY };
#define PIPE_MAX 24

typedef struct pipe {
    pg_anstore *s;
    int n;
    int tag[PIPE_MAX];
    const char *what[PIPE_MAX];
    int rc;
    bool on;          /* in pipeline mode */
    bool synced;      /* pipe_sync sent the sync */
    bool sync_failed; /* ... and libpq could not */
    char *err;
    size_t errlen;
} pipe;

static void pipe_start(pipe *p, pg_anstore *s, char *err, size_t errlen)
{
    memset(p, 0, sizeof *p);
    p->s = s;
    p->err = err;
    p->errlen = errlen;
    p->rc = SQLITE_OK;
#ifdef LIBPQ_HAS_PIPELINING
    p->on = PQenterPipelineMode(s->c) == 1;
    if (!p->on) {
        p->rc = SQLITE_IOERR;
        set_err(err, errlen, "entering pipeline mode", s->c, NULL);
    }
#endif
}

static void handle(pipe *p, int tag, const char *what, PGresult *r)
{
    pg_anstore *s = p->s;
    ExecStatusType st = PQresultStatus(r);
    if (p->rc != SQLITE_OK) return; /* the first error is the one reported */
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
        p->rc = pg_anstore_code(s->c, r);
        set_err(p->err, p->errlen, what, s->c, r);
        return;
    }
    if (tag == T_EPOCH) {
        if (PQntuples(r) != 1) {
            p->rc = SQLITE_CORRUPT; /* the row is always there */
            snprintf(p->err, p->errlen, "%s: the epoch row is missing", what);
            return;
        }
        s->epoch = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
    } else if (tag == T_EARLY) {
        int rows = PQntuples(r);
        if ((size_t)rows > s->early_cap) {
            s->early_cap = (size_t)rows;
            s->early = realloc(s->early, s->early_cap * sizeof *s->early);
            if (!s->early) abort();
        }
        for (int i = 0; i < rows; i++) {
            s->early[i].interaction_id = (uint64_t)strtoll(PQgetvalue(r, i, 0), NULL, 10);
            s->early[i].success = strtol(PQgetvalue(r, i, 1), NULL, 10) != 0;
        }
        s->nearly = (size_t)rows;
    }
}

/* Adds a statement: a prepared one (prep >= 0) or constant SQL (BEGIN, COMMIT). Parameters
 * are text, or binary where lens (their lengths) is given. */
static void pipe_add_bin(pipe *p, int tag, const char *what, int prep, const char *sql, int np,
                         const char *const *vals, const int *lens)
{
    if (p->rc != SQLITE_OK) return;
    if (p->n == PIPE_MAX) abort(); /* a fixed set of statements: a coding error */
    PGconn *c = p->s->c;
    int fmts[64];
    if (lens) {
        if (np > 64) abort(); /* a fixed set of statements: a coding error */
        for (int i = 0; i < np; i++)
            fmts[i] = 1;
    }
    const int *f = lens ? fmts : NULL;
    if (p->on) {
        int ok = prep >= 0 ? PQsendQueryPrepared(c, k_prepared[prep].name, np, vals, lens, f, 0)
                           : PQsendQueryParams(c, sql, 0, NULL, NULL, NULL, NULL, 0);
        if (!ok) {
            p->rc = SQLITE_IOERR;
            set_err(p->err, p->errlen, what, c, NULL);
            return;
        }
        p->tag[p->n] = tag;
        p->what[p->n++] = what;
        return;
    }
    PGresult *r =
        prep >= 0 ? PQexecPrepared(c, k_prepared[prep].name, np, vals, lens, f, 0) : PQexec(c, sql);
    handle(p, tag, what, r);
    PQclear(r);
}

static void pipe_add(pipe *p, int tag, const char *what, int prep, const char *sql, int np,
                     const char *const *vals)
{
    pipe_add_bin(p, tag, what, prep, sql, np, vals, NULL);
}

static void pipe_prep(pipe *p, int tag, const char *what, int prep, int np, const char *const *vals)
{
    pipe_add(p, tag, what, prep, NULL, np, vals);
}

/* Sends the statements and the sync (without reading anything): the server runs them while
 * the caller goes on; pipe_end reads the results. */
static void pipe_sync(pipe *p)
{
#ifdef LIBPQ_HAS_PIPELINING
    if (!p->on || p->synced || p->rc != SQLITE_OK) return;
    p->synced = true;
    p->sync_failed = PQpipelineSync(p->s->c) != 1;
#else
    (void)p;
#endif
}

/* Sends the sync (unless pipe_sync did) and reads every result in order. SQLITE_OK or the
 * first error's code. */
static int pipe_end(pipe *p)
{
#ifdef LIBPQ_HAS_PIPELINING
    if (!p->on) return p->rc;
    PGconn *c = p->s->c;
    bool broken = p->synced ? p->sync_failed : PQpipelineSync(c) != 1;
    for (int i = 0; i < p->n && !broken; i++) {
        PGresult *r = PQgetResult(c);
        if (!r) {
            broken = true;
            break;
        }
        if (PQresultStatus(r) != PGRES_PIPELINE_ABORTED) handle(p, p->tag[i], p->what[i], r);
        PQclear(r);
        while ((r = PQgetResult(c)) != NULL) /* the end of this statement's results */
            PQclear(r);
    }
    /* The sync's own result; anything else here means the stream is not what was sent. */
    PGresult *r = broken ? NULL : PQgetResult(c);
    if (!r || PQresultStatus(r) != PGRES_PIPELINE_SYNC) broken = true;
    PQclear(r);
    if (broken || PQexitPipelineMode(c) != 1) {
        if (p->rc == SQLITE_OK) {
            p->rc = SQLITE_IOERR;
            set_err(p->err, p->errlen, p->n ? p->what[p->n - 1] : "pipeline", c, NULL);
        }
        drop_conn(p->s); /* a connection in an unknown state is not used again */
    }
#endif
    return p->rc;
}

/* Starts streaming buf (COPY text) with sql: the COPY, its rows and its end are sent, and the
 * server works through them while the caller builds the next part of the batch; copy_finish
 * reads the outcome. SQLITE_OK (copy_finish must follow), or the code with err when the COPY
 * did not start (nothing is in flight). */
static int copy_send(pg_anstore *s, const char *sql, const pg_anbatch_buf *buf, const char *what,
                     char *err, size_t errlen)
{
    PGresult *r = PQexec(s->c, sql);
    if (PQresultStatus(r) != PGRES_COPY_IN) {
        int rc = pg_anstore_code(s->c, r);
        set_err(err, errlen, what, s->c, r);
        PQclear(r);
        return rc;
    }
    PQclear(r);
    bool sent = PQputCopyData(s->c, buf->p, (int)buf->len) == 1;
    if (PQputCopyEnd(s->c, sent ? NULL : "client failed to send") != 1) sent = false;
    s->copy_sent = sent;
    return SQLITE_OK;
}

/* The outcome of the COPY copy_send started. SQLITE_OK or the code with err. */
static int copy_finish(pg_anstore *s, const char *what, char *err, size_t errlen)
{
    int rc = SQLITE_OK;
    PGresult *r;
    while ((r = PQgetResult(s->c)) != NULL) {
        if (PQresultStatus(r) != PGRES_COMMAND_OK && rc == SQLITE_OK) {
            rc = pg_anstore_code(s->c, r);
            set_err(err, errlen, what, s->c, r);
        }
        PQclear(r);
    }
    if (rc == SQLITE_OK && !s->copy_sent) {
        rc = SQLITE_IOERR;
        set_err(err, errlen, what, s->c, NULL);
    }
    return rc;
}

/* The raw tables and their COPYs (t of raw_send: commands, images, activity). */
static const struct raw_table {
    an_event_kind kind;
    const char *sql, *what;
} k_raw[3] = {
    {AN_EV_COMMAND,
     "COPY command_usage(wid, seq, command_name, user_id, guild_id, channel_id, ts_ms,"
     " execution_ms, success, kind, interaction_id) FROM STDIN",
     "inserting command rows"},
    {AN_EV_IMAGE,
     "COPY image_stats(wid, seq, user_id, guild_id, prompt, resolution, loras, upscale_factor,"
     " generation_ms, is_video, generation_type, success, ts_ms, width, height) FROM STDIN",
     "inserting image rows"},
    {AN_EV_ACTIVITY,
     "COPY user_activity(wid, seq, user_id, guild_id, action_type, ts_ms, details) FROM STDIN",
     "inserting activity rows"},
};

/* Starts the COPY of raw table t when the batch has rows for it: *sent tells whether one is
 * in flight. SQLITE_OK or the code with err. */
static int raw_send(pg_anstore *s, int t, bool *sent, char *err, size_t errlen)
{
    const pg_anbatch *b = &s->batch;
    const pg_anbatch_buf *buf = t == 0 ? &b->copy_cmd : t == 1 ? &b->copy_img : &b->copy_act;
    size_t rows = t == 0 ? b->n_cmd : t == 1 ? b->n_img : b->n_act;
    *sent = false;
    if (!rows) return SQLITE_OK;
    int rc = copy_send(s, k_raw[t].sql, buf, k_raw[t].what, err, errlen);
    *sent = rc == SQLITE_OK;
    return rc;
}

/* The outcome of raw_send's COPY (none in flight: rc unchanged). The first error is kept. */
static int raw_finish(pg_anstore *s, int t, bool sent, int rc, char *err, size_t errlen)
{
    if (!sent) return rc;
    char e2[512];
    int rc2 = copy_finish(s, k_raw[t].what, rc == SQLITE_OK ? err : e2,
                          rc == SQLITE_OK ? errlen : sizeof e2);
    return rc == SQLITE_OK ? rc2 : rc;
}

/* ---- transactions ---------------------------------------------------------------------------- */

/* A failed batch or reset: rolled back; a connection that failed is dropped, which also rolls
 * back whatever it held. Returns rc. */
static int abandon(pg_anstore *s, int rc)
{
    s->importing = false; /* an import's transaction goes with it */
    if (s->c && PQstatus(s->c) == CONNECTION_OK && PQtransactionStatus(s->c) != PQTRANS_IDLE)
        PQclear(PQexec(s->c, "ROLLBACK"));
    if (s->c && PQstatus(s->c) != CONNECTION_OK) drop_conn(s);
    return rc;
}

/* A batch: its own transaction, or (importing) part of the import's. */
static int write_batch(pg_anstore *s, const an_event *const *evs, size_t n, char *err,
                       size_t errlen)
{
    size_t moderation = 0;
    bool has_stat = false;
    int64_t newest_result = 0;
    for (size_t i = 0; i < n; i++) {
        an_event_kind k = evs[i]->kind;
        if (k == AN_EV_MODERATION) {
            moderation++;
            continue;
        }
        if (k < AN_EV_COMMAND || k > AN_EV_RESULT_MSG) {
            snprintf(err, errlen, "event %" PRIu64 " has an unknown kind %d", evs[i]->seq, (int)k);
            return SQLITE_MISUSE;
        }
        has_stat |= k == AN_EV_COMMAND || k == AN_EV_IMAGE || k == AN_EV_ACTIVITY;
        if (k == AN_EV_RESULT && evs[i]->ts_ms > newest_result) newest_result = evs[i]->ts_ms;
    }
    int rc = SQLITE_OK;
    pg_anbatch *b = &s->batch;
    pg_anbatch_interactions(b, evs, n);

    /* 1. The transaction, ordered with resets, and the outcomes stored for its rows. While
     * the server starts it, the activity rows are built (no outcome changes them). */
    pipe p;
    s->nearly = 0;
    if (!s->importing || b->n_ix) {
        pipe_start(&p, s, err, errlen);
        if (!s->importing) {
            pipe_add(&p, T_PLAIN, "starting a batch", -1, "BEGIN", 0, NULL);
            pipe_prep(&p, T_PLAIN, "starting a batch", P_LOCK, 0, NULL);
            pipe_prep(&p, T_EPOCH, "reading the reset epoch", P_EPOCH, 0, NULL);
        }
        const char *ix[1] = {b->ix.p};
        if (b->n_ix) pipe_prep(&p, T_EARLY, "taking early outcomes", P_EARLY_TAKE, 1, ix);
        pipe_sync(&p);
        pg_anbatch_copy(b, s->wid, evs, n, AN_EV_ACTIVITY);
        rc = pipe_end(&p);
        if (rc != SQLITE_OK) return abandon(s, rc);
    } else {
        pg_anbatch_copy(b, s->wid, evs, n, AN_EV_ACTIVITY);
    }
    if (s->epoch != s->known_epoch) { /* a reset (of any process) emptied known_users */
        known_clear(s);
        s->known_epoch = s->epoch;
    }

    /* 2. The rows, with their final success, straight into their tables. Each table's COPY
     * is streamed and the next part of the batch built while the server inserts the rows
     * (the client's work overlaps the server's instead of adding to it): the command rows'
     * final success, the command and image rows during the activity rows' COPY, the rollups
     * during the command rows'. (The order of the tables within the transaction means
     * nothing to readers: they see all of it from its commit on.) */
    for (size_t i = 0; i < n && rc == SQLITE_OK && moderation; i++)
        if (evs[i]->kind == AN_EV_MODERATION)
            rc = mod_pgstore_apply(s->c, s->wid, evs[i], err, errlen);
    bool sent[3] = {false, false, false};
    if (rc == SQLITE_OK) rc = raw_send(s, 2, &sent[2], err, errlen);
    pg_anbatch_begin(b, evs, n, s->early, s->nearly);
    pg_anbatch_copy(b, s->wid, evs, n, AN_EV_COMMAND);
    pg_anbatch_copy(b, s->wid, evs, n, AN_EV_IMAGE);
    rc = raw_finish(s, 2, sent[2], rc, err, errlen);
    if (rc == SQLITE_OK) rc = raw_send(s, 0, &sent[0], err, errlen);
    pg_anbatch_rollups(b, evs, n);
    rc = raw_finish(s, 0, sent[0], rc, err, errlen);
    if (rc == SQLITE_OK) rc = raw_send(s, 1, &sent[1], err, errlen);
    rc = raw_finish(s, 1, sent[1], rc, err, errlen);
    if (rc != SQLITE_OK) return abandon(s, rc);

    /* 3. Outcomes, results, every rollup and the commit: one round trip. */
    pipe_start(&p, s, err, errlen);
    const char *oc[PG_ANBATCH_OUTCOMES_NP] = {b->outcomes[0].p, b->outcomes[1].p};
    if (b->n_outcomes) {
        pipe_prep(&p, T_PLAIN, "applying outcomes", P_OUTCOMES_PREV, 2, oc);
        pipe_prep(&p, T_PLAIN, "keeping early outcomes", P_EARLY_KEEP, 2, oc);
        pipe_prep(&p, T_PLAIN, "keeping early outcomes", P_EARLY_TRIM, 0, NULL);
    }
    const char *rv[PG_ANBATCH_RESULTS_NP], *mv[PG_ANBATCH_RESULT_MSGS_NP];
    for (int i = 0; i < PG_ANBATCH_RESULTS_NP; i++)
        rv[i] = b->results[i].p;
    for (int i = 0; i < PG_ANBATCH_RESULT_MSGS_NP; i++)
        mv[i] = b->result_msgs[i].p;
    if (b->n_results)
        pipe_prep(&p, T_PLAIN, "storing results", P_RESULTS, PG_ANBATCH_RESULTS_NP, rv);
    if (b->n_result_msgs)
        pipe_prep(&p, T_PLAIN, "storing results", P_RESULT_MSGS, PG_ANBATCH_RESULT_MSGS_NP, mv);
    enum {
        NROLL =
            PG_ANBATCH_DAYS_NP + PG_ANBATCH_HOURS_NP + PG_ANBATCH_NAMES_NP + PG_ANBATCH_MINUTES_NP
    };
    const char *rollv[NROLL];
    int rolll[NROLL]; /* binary arrays (pg_anbatch.h) */
    int k = 0;
    const pg_anbatch_buf *groups[4] = {b->days, b->hours, b->names, b->minutes};
    const int sizes[4] = {PG_ANBATCH_DAYS_NP, PG_ANBATCH_HOURS_NP, PG_ANBATCH_NAMES_NP,
                          PG_ANBATCH_MINUTES_NP};
    for (int g = 0; g < 4; g++)
        for (int i = 0; i < sizes[g]; i++, k++) {
            rollv[k] = groups[g][i].p;
            rolll[k] = (int)groups[g][i].len;
        }
    char mcut[24];
    const char *cutv[1] = {mcut};
    size_t nknown = 0;
    bool fold = false;
    if (has_stat) {
        pipe_add_bin(&p, T_PLAIN, "updating the rollups", P_PENDING, NULL, k, rollv, rolll);
        /* Every FOLD_EVERY batches of this store, the pending rows of every process go into
         * the base tables: the per-key work of many batches is done once. */
        fold = s->unfolded + 1 >= FOLD_EVERY;
        if (fold) pipe_prep(&p, T_PLAIN, "folding the rollups", P_FOLD, 0, NULL);
        if (fold && b->newest_minute != INT64_MIN) {
            snprintf(mcut, sizeof mcut, "%" PRId64,
                     b->newest_minute - (int64_t)AN_ROLLUP_MINUTE_KEEP_DAYS * 1440);
            pipe_prep(&p, T_PLAIN, "pruning the minute rollups", P_MINUTE_PRUNE, 1, cutv);
        }
        /* Only users whose first event the table may not have yet (the cache's users are
         * compacted to the front of the batch's arrays, which are rebuilt every batch). */
        for (size_t i = 0; i < b->n_users; i++) {
            if (!s->importing && known_covers(s, (uint64_t)b->user_ids[i], b->user_first_ms[i]))
                continue;
            b->user_ids[nknown] = b->user_ids[i];
            b->user_first_ms[nknown++] = b->user_first_ms[i];
        }
        if (nknown) {
            pg_anbatch_buf_array_i64(&s->known_ids, b->user_ids, nknown);
            pg_anbatch_buf_array_i64(&s->known_first, b->user_first_ms, nknown);
            const char *kv[2] = {s->known_ids.p, s->known_first.p};
            pipe_prep(&p, T_PLAIN, "updating known users", P_KNOWN, 2, kv);
        }
    }
    /* At most once a minute of event time, results older than the retention are deleted. */
    char cut[24];
    bool prune =
        s->result_retention_ms && newest_result && newest_result - s->results_pruned_at >= 60000;
    const char *pv[1] = {cut};
    if (prune) {
        snprintf(cut, sizeof cut, "%" PRId64, newest_result - s->result_retention_ms);
        pipe_prep(&p, T_PLAIN, "deleting expired results", P_PRUNE, 1, pv);
    }
    if (!s->importing) pipe_add(&p, T_PLAIN, "committing a batch", -1, "COMMIT", 0, NULL);
    rc = pipe_end(&p);
    if (rc != SQLITE_OK) return abandon(s, rc);
    /* (an import's users are remembered only if it commits: the cache is cleared at its end) */
    for (size_t i = 0; i < nknown && !s->importing; i++)
        known_put(s, (uint64_t)b->user_ids[i], b->user_first_ms[i]);
    if (has_stat) s->unfolded = fold ? 0 : s->unfolded + 1;
    if (prune) s->results_pruned_at = newest_result;
    return SQLITE_OK;
}

/* Checks evs' kinds: SQLITE_OK, or SQLITE_MISUSE with err. */
static int check_kinds(const an_event *const *evs, size_t n, char *err, size_t errlen)
{
    for (size_t i = 0; i < n; i++) {
        an_event_kind k = evs[i]->kind;
        if (k < AN_EV_COMMAND || k > AN_EV_RESULT_MSG) {
            snprintf(err, errlen, "event %" PRIu64 " has an unknown kind %d", evs[i]->seq, (int)k);
            return SQLITE_MISUSE;
        }
    }
    return SQLITE_OK;
}

int pg_anstore_write(pg_anstore *s, const an_event *const *evs, size_t n, char *err, size_t errlen)
{
    FB_ASSERT_OWNER(&s->owner);
    if (n == 0) return SQLITE_OK;
    int rc = check_kinds(evs, n, err, errlen);
    if (rc == SQLITE_OK && s->importing) {
        snprintf(err, errlen, "a batch while an import is open");
        rc = SQLITE_MISUSE;
    }
    if (rc == SQLITE_OK) rc = ensure(s, err, errlen);
    return rc == SQLITE_OK ? write_batch(s, evs, n, err, errlen) : rc;
}

int pg_anstore_import_begin(pg_anstore *s, char *err, size_t errlen)
{
    FB_ASSERT_OWNER(&s->owner);
    if (s->importing) {
        snprintf(err, errlen, "an import is open already");
        return SQLITE_MISUSE;
    }
    int rc = ensure(s, err, errlen);
    if (rc != SQLITE_OK) return rc;
    pipe p;
    pipe_start(&p, s, err, errlen);
    pipe_add(&p, T_PLAIN, "starting the import", -1, "BEGIN", 0, NULL);
    pipe_prep(&p, T_PLAIN, "starting the import", P_LOCK, 0, NULL);
    pipe_prep(&p, T_EPOCH, "reading the reset epoch", P_EPOCH, 0, NULL);
    rc = pipe_end(&p);
    if (rc != SQLITE_OK) return abandon(s, rc);
    s->importing = true;
    return SQLITE_OK;
}

int pg_anstore_import_seen(pg_anstore *s, const char *tbl, const int64_t *src_ids,
                           const int64_t *ts_ms, const uint64_t *users, size_t n, bool *fresh,
                           char *err, size_t errlen)
{
    FB_ASSERT_OWNER(&s->owner);
    if (!s->importing) {
        snprintf(err, errlen, "no import is open");
        return SQLITE_MISUSE;
    }
    for (size_t i = 0; i < n; i++)
        fresh[i] = false;
    if (n == 0) return SQLITE_OK;
    pg_anbatch_buf ids = {0}, ts = {0}, us = {0};
    int64_t *u = malloc(n * sizeof *u);
    if (!u) abort();
    for (size_t i = 0; i < n; i++)
        u[i] = (int64_t)users[i];
    pg_anbatch_buf_array_i64(&ids, src_ids, n);
    pg_anbatch_buf_array_i64(&ts, ts_ms, n);
    pg_anbatch_buf_array_i64(&us, u, n);
    free(u);
    const char *v[4] = {tbl, ids.p, ts.p, us.p};
    PGresult *r = PQexecPrepared(s->c, k_prepared[P_IMPORT_SEEN].name, 4, v, NULL, NULL, 0);
    int rc = SQLITE_OK;
    if (PQresultStatus(r) == PGRES_TUPLES_OK) {
        /* The rows inserted now are the new ones; source ids are unique within a table, so a
         * key matches one input row. */
        for (int row = 0; row < PQntuples(r); row++) {
            int64_t id = strtoll(PQgetvalue(r, row, 0), NULL, 10);
            int64_t t = strtoll(PQgetvalue(r, row, 1), NULL, 10);
            uint64_t user = (uint64_t)strtoll(PQgetvalue(r, row, 2), NULL, 10);
            for (size_t i = 0; i < n; i++) {
                if (!fresh[i] && src_ids[i] == id && ts_ms[i] == t && users[i] == user) {
                    fresh[i] = true;
                    break;
                }
            }
        }
    } else {
        rc = pg_anstore_code(s->c, r);
        set_err(err, errlen, "remembering imported rows", s->c, r);
    }
    PQclear(r);
    pg_anbatch_buf_free(&ids);
    pg_anbatch_buf_free(&ts);
    pg_anbatch_buf_free(&us);
    return rc == SQLITE_OK ? rc : abandon(s, rc);
}

int pg_anstore_import_rows(pg_anstore *s, const an_event *const *evs, size_t n, char *err,
                           size_t errlen)
{
    FB_ASSERT_OWNER(&s->owner);
    if (!s->importing) {
        snprintf(err, errlen, "no import is open");
        return SQLITE_MISUSE;
    }
    int rc = check_kinds(evs, n, err, errlen);
    if (rc != SQLITE_OK) return abandon(s, rc);
    return n ? write_batch(s, evs, n, err, errlen) : SQLITE_OK;
}

int pg_anstore_import_end(pg_anstore *s, bool commit, char *err, size_t errlen)
{
    FB_ASSERT_OWNER(&s->owner);
    if (!s->importing) {
        snprintf(err, errlen, "no import is open");
        return SQLITE_MISUSE;
    }
    known_clear(s);
    s->known_epoch = -1;
    if (!commit) return abandon(s, SQLITE_OK);
    int rc = run(s->c, "COMMIT", 0, NULL, "committing the import", err, errlen);
    if (rc != SQLITE_OK) return abandon(s, rc);
    s->importing = false;
    return SQLITE_OK;
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
    if (s->importing) {
        snprintf(err, errlen, "a reset while an import is open");
        return SQLITE_MISUSE;
    }
    int rc = ensure(s, err, errlen);
    if (rc != SQLITE_OK) return rc;
    char wid[24], cut[24];
    snprintf(wid, sizeof wid, "%" PRId64, s->wid);
    snprintf(cut, sizeof cut, "%" PRId64,
             (int64_t)(before_seq > INT64_MAX ? INT64_MAX : before_seq));
    const char *p[2] = {wid, cut};
    uint64_t deleted = 0;
    /* The lock every batch holds shared, then the epoch row: from here on no batch of any
     * process runs until this transaction ends, and none that started is still running. */
    const char *lk[2] = {AN_LOCK_CLASS, AN_LOCK_EPOCH};
    rc = run(s->c, "BEGIN", 0, NULL, "starting a reset", err, errlen);
    if (rc == SQLITE_OK)
        rc = run(s->c, "SELECT pg_advisory_xact_lock($1::int, $2::int)", 2, lk, "starting a reset",
                 err, errlen);
    if (rc == SQLITE_OK) {
        PGresult *r = PQexec(s->c, "SELECT epoch FROM an_epoch WHERE id = 1 FOR UPDATE");
        if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1) {
            s->epoch = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
        } else {
            rc = pg_anstore_code(s->c, r);
            if (rc == SQLITE_OK) rc = SQLITE_CORRUPT; /* the row is always there */
            set_err(err, errlen, "starting a reset", s->c, r);
        }
        PQclear(r);
    }
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
        rc = run(s->c,
                 "DELETE FROM daily_stats_base; DELETE FROM daily_commands_base;"
                 " DELETE FROM daily_resolutions_base; DELETE FROM daily_users_base;"
                 " DELETE FROM known_users; DELETE FROM hourly_stats_base;"
                 " DELETE FROM hourly_commands_base; DELETE FROM hourly_resolutions_base;"
                 " DELETE FROM hourly_users_base; DELETE FROM an_rollup_pending;"
                 " DELETE FROM minute_stats_base; DELETE FROM minute_commands_base;"
                 " DELETE FROM minute_resolutions_base; DELETE FROM minute_users_base;",
                 0, NULL, "clearing the rollups", err, errlen);
    if (rc == SQLITE_OK) rc = run(s->c, k_restage, 0, NULL, "rebuilding the rollups", err, errlen);
    if (rc == SQLITE_OK) rc = run(s->c, k_rollups, 0, NULL, "rebuilding the rollups", err, errlen);
    if (rc == SQLITE_OK) s->epoch++;
    if (rc == SQLITE_OK) rc = run(s->c, "COMMIT", 0, NULL, "committing a reset", err, errlen);
    if (rc != SQLITE_OK) return abandon(s, rc);
    /* known_users was emptied and rebuilt: this store's cache starts over at the new epoch. */
    known_clear(s);
    s->known_epoch = -1;
    if (rows_deleted && rc == SQLITE_OK) *rows_deleted = deleted;
    return rc;
}
