/* Bodies of the helpers declared in test_an_util.h (see there). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "test_an_util.h"

void tdir_make(tdir *d)
{
    snprintf(d->path, sizeof d->path, "/tmp/fluxbot-an-XXXXXX");
    if (!mkdtemp(d->path)) {
        perror("mkdtemp");
        abort();
    }
}

void tdir_file(const tdir *d, const char *name, char *out, size_t outlen)
{
    snprintf(out, outlen, "%s/%s", d->path, name);
}

int tdir_rm_one(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(p);
}

void tdir_remove(tdir *d)
{
    nftw(d->path, tdir_rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

int make_unwritable(const char *path, int on)
{
    if (geteuid() != 0) return chmod(path, on ? 0444 : 0644);
    int fd = open(path, O_RDONLY);
    if (fd < 0) return -1;
    int flags = 0;
    int rc = ioctl(fd, FS_IOC_GETFLAGS, &flags);
    if (rc == 0) {
        flags = on ? (flags | FS_IMMUTABLE_FL) : (flags & ~FS_IMMUTABLE_FL);
        rc = ioctl(fd, FS_IOC_SETFLAGS, &flags);
    }
    close(fd);
    return rc;
}

an_event ev_command(uint64_t seq, int64_t ts, uint64_t user, const char *name, bool ok)
{
    an_event e = {.kind = AN_EV_COMMAND,
                  .seq = seq,
                  .ts_ms = ts,
                  .user_id = user,
                  .guild_id = 1000,
                  .channel_id = 2000,
                  .success = ok,
                  .duration_ms = 120};
    an_event_text t = {.command = name};
    an_event_set_text(&e, &t);
    return e;
}

an_event ev_interaction(uint64_t seq, int64_t ts, uint64_t user, const char *name, an_cmd_kind kind,
                        bool ok)
{
    an_event e = ev_command(seq, ts, user, name, ok);
    e.cmd_kind = kind;
    return e;
}

an_event ev_image(uint64_t seq, int64_t ts, uint64_t user, const char *res, uint32_t ms, bool video,
                  bool ok)
{
    an_event e = {.kind = AN_EV_IMAGE,
                  .seq = seq,
                  .ts_ms = ts,
                  .user_id = user,
                  .guild_id = 1000,
                  .success = ok,
                  .duration_ms = ms,
                  .is_video = video,
                  .upscale_factor = 1};
    an_event_text t = {.prompt = "a cat",
                       .resolution = res,
                       .loras = "",
                       .generation_type = video ? "video" : "standard"};
    an_event_set_text(&e, &t);
    return e;
}

an_event ev_activity(uint64_t seq, int64_t ts, uint64_t user, const char *action)
{
    an_event e = {
        .kind = AN_EV_ACTIVITY, .seq = seq, .ts_ms = ts, .user_id = user, .guild_id = 1000};
    an_event_text t = {.action = action, .details = "{}"};
    an_event_set_text(&e, &t);
    return e;
}

int64_t sql_int(sqlite3 *db, const char *sql)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) {
        fprintf(stderr, "sql_int: %s: %s\n", sql, sqlite3_errmsg(db));
        return -1;
    }
    int64_t v = -1;
    if (sqlite3_step(st) == SQLITE_ROW) v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return v;
}

int64_t sql_diff(sqlite3 *db, const char *q1, const char *q2)
{
    char sql[8192];
    snprintf(sql, sizeof sql,
             "SELECT (SELECT COUNT(*) FROM (SELECT * FROM (%s) EXCEPT SELECT * FROM (%s)))"
             " + (SELECT COUNT(*) FROM (SELECT * FROM (%s) EXCEPT SELECT * FROM (%s)))",
             q1, q2, q2, q1);
    return sql_int(db, sql);
}

uint64_t rnd_next(uint64_t *s)
{
    *s ^= *s >> 12;
    *s ^= *s << 25;
    *s ^= *s >> 27;
    return *s * 2685821657736338717ULL;
}

void assert_rollups_match_raw(sqlite3 *db)
{
    assert_int_equal(
        sql_diff(db,
                 "SELECT day, total_commands, failed_commands, total_images, image_ms_sum,"
                 " total_videos, video_ms_sum, failed_generations, total_activity, unique_users,"
                 " total_buttons FROM daily_stats",
                 "WITH ev(day, u) AS (SELECT ts_ms / 86400000, user_id FROM command_usage"
                 "  UNION ALL SELECT ts_ms / 86400000, user_id FROM image_stats"
                 "  UNION ALL SELECT ts_ms / 86400000, user_id FROM user_activity),"
                 " days AS (SELECT day, COUNT(DISTINCT u) AS uu FROM ev GROUP BY day)"
                 " SELECT d.day,"
                 "  (SELECT COUNT(*) FROM command_usage WHERE ts_ms / 86400000 = d.day"
                 "    AND kind = 'command'),"
                 "  (SELECT COUNT(*) FROM command_usage WHERE ts_ms / 86400000 = d.day"
                 "    AND success = 0 AND kind = 'command'),"
                 "  (SELECT COUNT(*) FROM image_stats WHERE ts_ms / 86400000 = d.day"
                 "    AND success = 1 AND is_video = 0),"
                 "  (SELECT IFNULL(SUM(generation_ms), 0) FROM image_stats"
                 "    WHERE ts_ms / 86400000 = d.day AND success = 1 AND is_video = 0),"
                 "  (SELECT COUNT(*) FROM image_stats WHERE ts_ms / 86400000 = d.day"
                 "    AND success = 1 AND is_video = 1),"
                 "  (SELECT IFNULL(SUM(generation_ms), 0) FROM image_stats"
                 "    WHERE ts_ms / 86400000 = d.day AND success = 1 AND is_video = 1),"
                 "  (SELECT COUNT(*) FROM image_stats WHERE ts_ms / 86400000 = d.day"
                 "    AND success = 0),"
                 "  (SELECT COUNT(*) FROM user_activity WHERE ts_ms / 86400000 = d.day),"
                 "  d.uu, (SELECT COUNT(*) FROM command_usage WHERE ts_ms / 86400000 = d.day"
                 "    AND kind = 'button') FROM days d"),
        0);
    assert_int_equal(sql_diff(db, "SELECT day, command_name, count FROM daily_commands",
                              "SELECT ts_ms / 86400000, command_name, COUNT(*) FROM command_usage"
                              " WHERE kind = 'command' GROUP BY 1, 2"),
                     0);
    assert_int_equal(sql_diff(db, "SELECT day, resolution, count FROM daily_resolutions",
                              "SELECT ts_ms / 86400000, resolution, COUNT(*) FROM image_stats"
                              " WHERE success = 1 AND resolution <> '' GROUP BY 1, 2"),
                     0);
    assert_int_equal(
        sql_diff(db, "SELECT day, user_id, commands, events FROM daily_users",
                 "WITH ev(day, u, c) AS (SELECT ts_ms / 86400000, user_id, kind = 'command'"
                 "  FROM command_usage"
                 "  UNION ALL SELECT ts_ms / 86400000, user_id, 0 FROM image_stats"
                 "  UNION ALL SELECT ts_ms / 86400000, user_id, 0 FROM user_activity)"
                 " SELECT day, u, SUM(c), COUNT(*) FROM ev GROUP BY 1, 2"),
        0);
    assert_int_equal(
        sql_diff(db,
                 "SELECT hour, total_commands, total_images, image_ms_sum, total_videos,"
                 " video_ms_sum, total_buttons FROM hourly_stats",
                 "WITH c AS (SELECT ts_ms / 3600000 AS h, SUM(kind = 'command') AS n,"
                 "  SUM(kind = 'button') AS b FROM command_usage GROUP BY 1),"
                 " i AS (SELECT ts_ms / 3600000 AS h, SUM(success = 1 AND is_video = 0) AS ni,"
                 "  SUM(CASE WHEN success = 1 AND is_video = 0 THEN IFNULL(generation_ms, 0)"
                 "   ELSE 0 END) AS mi, SUM(success = 1 AND is_video = 1) AS nv,"
                 "  SUM(CASE WHEN success = 1 AND is_video = 1 THEN IFNULL(generation_ms, 0)"
                 "   ELSE 0 END) AS mv FROM image_stats GROUP BY 1),"
                 " hs AS (SELECT h FROM c UNION SELECT h FROM i"
                 "  UNION SELECT ts_ms / 3600000 FROM user_activity)"
                 " SELECT hs.h, IFNULL(c.n, 0), IFNULL(i.ni, 0), IFNULL(i.mi, 0), IFNULL(i.nv, 0),"
                 "  IFNULL(i.mv, 0), IFNULL(c.b, 0)"
                 " FROM hs LEFT JOIN c ON c.h = hs.h LEFT JOIN i ON i.h = hs.h"),
        0);
    assert_int_equal(sql_diff(db, "SELECT hour, command_name, count FROM hourly_commands",
                              "SELECT ts_ms / 3600000, command_name, COUNT(*) FROM command_usage"
                              " WHERE kind = 'command' GROUP BY 1, 2"),
                     0);
    assert_int_equal(sql_diff(db, "SELECT hour, resolution, count FROM hourly_resolutions",
                              "SELECT ts_ms / 3600000, resolution, COUNT(*) FROM image_stats"
                              " WHERE success = 1 AND resolution <> '' GROUP BY 1, 2"),
                     0);
    assert_int_equal(
        sql_diff(db,
                 "SELECT minute, total_commands, total_images, image_ms_sum, total_videos,"
                 " video_ms_sum, total_buttons FROM minute_stats",
                 "WITH c AS (SELECT ts_ms / 60000 AS h, SUM(kind = 'command') AS n,"
                 "  SUM(kind = 'button') AS b FROM command_usage GROUP BY 1),"
                 " i AS (SELECT ts_ms / 60000 AS h, SUM(success = 1 AND is_video = 0) AS ni,"
                 "  SUM(CASE WHEN success = 1 AND is_video = 0 THEN IFNULL(generation_ms, 0)"
                 "   ELSE 0 END) AS mi, SUM(success = 1 AND is_video = 1) AS nv,"
                 "  SUM(CASE WHEN success = 1 AND is_video = 1 THEN IFNULL(generation_ms, 0)"
                 "   ELSE 0 END) AS mv FROM image_stats GROUP BY 1),"
                 " hs AS (SELECT h FROM c UNION SELECT h FROM i"
                 "  UNION SELECT ts_ms / 60000 FROM user_activity)"
                 " SELECT hs.h, IFNULL(c.n, 0), IFNULL(i.ni, 0), IFNULL(i.mi, 0), IFNULL(i.nv, 0),"
                 "  IFNULL(i.mv, 0), IFNULL(c.b, 0)"
                 " FROM hs LEFT JOIN c ON c.h = hs.h LEFT JOIN i ON i.h = hs.h"),
        0);
    assert_int_equal(sql_diff(db, "SELECT minute, command_name, count FROM minute_commands",
                              "SELECT ts_ms / 60000, command_name, COUNT(*) FROM command_usage"
                              " WHERE kind = 'command' GROUP BY 1, 2"),
                     0);
    assert_int_equal(sql_diff(db, "SELECT minute, resolution, count FROM minute_resolutions",
                              "SELECT ts_ms / 60000, resolution, COUNT(*) FROM image_stats"
                              " WHERE success = 1 AND resolution <> '' GROUP BY 1, 2"),
                     0);
    /* Every user's cumulative count per minute with an event, and its totals. */
    assert_int_equal(sql_diff(db, "SELECT user_id, minute, cum FROM user_minutes",
                              "WITH ev(u, m) AS (SELECT user_id, ts_ms / 60000 FROM command_usage"
                              "  UNION ALL SELECT user_id, ts_ms / 60000 FROM image_stats"
                              "  UNION ALL SELECT user_id, ts_ms / 60000 FROM user_activity)"
                              " SELECT u, m, SUM(n) OVER (PARTITION BY u ORDER BY m)"
                              " FROM (SELECT u, m, COUNT(*) AS n FROM ev GROUP BY u, m)"),
                     0);
    assert_int_equal(sql_diff(db,
                              "SELECT user_id, first_seen_ms, last_minute, events FROM known_users",
                              "WITH ev(u, t) AS (SELECT user_id, ts_ms FROM command_usage"
                              "  UNION ALL SELECT user_id, ts_ms FROM image_stats"
                              "  UNION ALL SELECT user_id, ts_ms FROM user_activity)"
                              " SELECT u, MIN(t), MAX(t) / 60000, COUNT(*) FROM ev GROUP BY u"),
                     0);
}
