/* Incremental per-day rollups and their full rebuild from the raw tables (see an_rollup.h). */
#include "analytics/an_rollup.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "analytics/an_sqlerr.h"
#include "analytics/an_time.h"

/* ---- statements -------------------------------------------------------------------------- */

static const char k_day_upsert[] =
    "INSERT INTO daily_stats(day, date, total_commands, failed_commands, total_images,"
    " image_ms_sum, total_videos, video_ms_sum, failed_generations, total_activity, unique_users,"
    " total_buttons)"
    " VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)"
    " ON CONFLICT(day) DO UPDATE SET"
    " total_buttons = total_buttons + excluded.total_buttons,"
    " total_commands = total_commands + excluded.total_commands,"
    " failed_commands = failed_commands + excluded.failed_commands,"
    " total_images = total_images + excluded.total_images,"
    " image_ms_sum = image_ms_sum + excluded.image_ms_sum,"
    " total_videos = total_videos + excluded.total_videos,"
    " video_ms_sum = video_ms_sum + excluded.video_ms_sum,"
    " failed_generations = failed_generations + excluded.failed_generations,"
    " total_activity = total_activity + excluded.total_activity,"
    " unique_users = unique_users + excluded.unique_users";
static const char k_cmd_upsert[] =
    "INSERT INTO daily_commands(day, command_name, count) VALUES(?1, ?2, ?3)"
    " ON CONFLICT(day, command_name) DO UPDATE SET count = count + excluded.count";
static const char k_res_upsert[] =
    "INSERT INTO daily_resolutions(day, resolution, count) VALUES(?1, ?2, ?3)"
    " ON CONFLICT(day, resolution) DO UPDATE SET count = count + excluded.count";
static const char k_user_insert[] =
    "INSERT OR IGNORE INTO daily_users(day, user_id, commands, events) VALUES(?1, ?2, ?3, ?4)";
static const char k_user_add[] = "UPDATE daily_users SET commands = commands + ?3,"
                                 " events = events + ?4 WHERE day = ?1 AND user_id = ?2";
static const char k_hour_upsert[] =
    "INSERT INTO hourly_stats(hour, total_commands, total_images, image_ms_sum, total_videos,"
    " video_ms_sum, total_buttons) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7)"
    " ON CONFLICT(hour) DO UPDATE SET"
    " total_buttons = total_buttons + excluded.total_buttons,"
    " total_commands = total_commands + excluded.total_commands,"
    " total_images = total_images + excluded.total_images,"
    " image_ms_sum = image_ms_sum + excluded.image_ms_sum,"
    " total_videos = total_videos + excluded.total_videos,"
    " video_ms_sum = video_ms_sum + excluded.video_ms_sum";
static const char k_hour_cmd_upsert[] =
    "INSERT INTO hourly_commands(hour, command_name, count) VALUES(?1, ?2, ?3)"
    " ON CONFLICT(hour, command_name) DO UPDATE SET count = count + excluded.count";
static const char k_hour_res_upsert[] =
    "INSERT INTO hourly_resolutions(hour, resolution, count) VALUES(?1, ?2, ?3)"
    " ON CONFLICT(hour, resolution) DO UPDATE SET count = count + excluded.count";
static const char k_min_upsert[] =
    "INSERT INTO minute_stats(minute, total_commands, total_images, image_ms_sum, total_videos,"
    " video_ms_sum, total_buttons) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7)"
    " ON CONFLICT(minute) DO UPDATE SET"
    " total_buttons = total_buttons + excluded.total_buttons,"
    " total_commands = total_commands + excluded.total_commands,"
    " total_images = total_images + excluded.total_images,"
    " image_ms_sum = image_ms_sum + excluded.image_ms_sum,"
    " total_videos = total_videos + excluded.total_videos,"
    " video_ms_sum = video_ms_sum + excluded.video_ms_sum";
static const char k_min_cmd_upsert[] =
    "INSERT INTO minute_commands(minute, command_name, count) VALUES(?1, ?2, ?3)"
    " ON CONFLICT(minute, command_name) DO UPDATE SET count = count + excluded.count";
static const char k_min_res_upsert[] =
    "INSERT INTO minute_resolutions(minute, resolution, count) VALUES(?1, ?2, ?3)"
    " ON CONFLICT(minute, resolution) DO UPDATE SET count = count + excluded.count";
/* Per-user cumulative counts (see an_schema.c, version 9). */
static const char k_known_get[] = "SELECT events, last_minute FROM known_users WHERE user_id = ?1";
static const char k_known_put[] =
    "INSERT INTO known_users(user_id, first_seen_ms, last_minute, events) VALUES(?1, ?2, ?3, ?4)"
    " ON CONFLICT(user_id) DO UPDATE SET"
    " first_seen_ms = MIN(first_seen_ms, excluded.first_seen_ms),"
    " last_minute = MAX(last_minute, excluded.last_minute),"
    " events = events + excluded.events";
static const char k_um_before[] = "SELECT cum FROM user_minutes WHERE user_id = ?1 AND minute < ?2"
                                  " ORDER BY minute DESC LIMIT 1";
static const char k_um_upsert[] =
    "INSERT INTO user_minutes(user_id, minute, cum) VALUES(?1, ?2, ?3)"
    " ON CONFLICT(user_id, minute) DO UPDATE SET cum = cum + ?4";
static const char k_um_shift[] =
    "UPDATE user_minutes SET cum = cum + ?3 WHERE user_id = ?1 AND minute > ?2";
/* Retention of the minute rollups (an_rollup_prune). */
static const char k_prune_stats[] = "DELETE FROM minute_stats WHERE minute < ?1";
static const char k_prune_cmds[] = "DELETE FROM minute_commands WHERE minute < ?1";
static const char k_prune_res[] = "DELETE FROM minute_resolutions WHERE minute < ?1";
static const char k_prune_users[] = "SELECT user_id FROM known_users WHERE first_seen_ms < ?1";
static const char k_prune_um[] =
    "DELETE FROM user_minutes WHERE user_id = ?1 AND minute < (SELECT MAX(minute)"
    " FROM user_minutes WHERE user_id = ?1 AND minute < ?2)";
static const char k_set_horizon[] =
    "INSERT OR REPLACE INTO meta(key, value) VALUES('minute_horizon', ?1)";

int an_rollup_init(an_rollup *r, sqlite3 *db, char *err, size_t errlen)
{
    memset(r, 0, sizeof *r);
    r->db = db;
    struct {
        sqlite3_stmt **st;
        const char *sql;
    } all[] = {
        {&r->day_upsert, k_day_upsert},
        {&r->cmd_upsert, k_cmd_upsert},
        {&r->res_upsert, k_res_upsert},
        {&r->user_insert, k_user_insert},
        {&r->user_add, k_user_add},
        {&r->hour_upsert, k_hour_upsert},
        {&r->hour_cmd_upsert, k_hour_cmd_upsert},
        {&r->hour_res_upsert, k_hour_res_upsert},
        {&r->min_upsert, k_min_upsert},
        {&r->min_cmd_upsert, k_min_cmd_upsert},
        {&r->min_res_upsert, k_min_res_upsert},
        {&r->known_get, k_known_get},
        {&r->known_put, k_known_put},
        {&r->um_before, k_um_before},
        {&r->um_upsert, k_um_upsert},
        {&r->um_shift, k_um_shift},
        {&r->prune_stats, k_prune_stats},
        {&r->prune_cmds, k_prune_cmds},
        {&r->prune_res, k_prune_res},
        {&r->prune_users, k_prune_users},
        {&r->prune_um, k_prune_um},
        {&r->set_horizon, k_set_horizon},
    };
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) {
        int rc = sqlite3_prepare_v3(db, all[i].sql, -1, SQLITE_PREPARE_PERSISTENT, all[i].st, NULL);
        if (rc != SQLITE_OK) {
            an_sql_err(db, rc, "preparing rollup statements", err, errlen);
            an_rollup_fini(r);
            return rc;
        }
    }
    return SQLITE_OK;
}

void an_rollup_fini(an_rollup *r)
{
    sqlite3_stmt *all[] = {
        r->day_upsert,  r->cmd_upsert,     r->res_upsert,      r->user_insert,
        r->user_add,    r->hour_upsert,    r->hour_cmd_upsert, r->hour_res_upsert,
        r->min_upsert,  r->min_cmd_upsert, r->min_res_upsert,  r->known_get,
        r->known_put,   r->um_before,      r->um_upsert,       r->um_shift,
        r->prune_stats, r->prune_cmds,     r->prune_res,       r->prune_users,
        r->prune_um,    r->set_horizon,
    };
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        sqlite3_finalize(all[i]);
    memset(r, 0, sizeof *r);
}

/* ---- in-memory aggregation of one batch -------------------------------------------------- */

/* One event's contribution to the totals of its bucket (a day or an hour). */
typedef struct tot {
    int64_t bucket;
    int64_t commands, failed_commands, buttons;
    int64_t images, image_ms, videos, video_ms, failed_generations;
    int64_t activity;
    int64_t new_users;
} tot;

/* One sortable key: (bucket, text) for commands and resolutions, (bucket, id) for users. */
typedef struct key {
    int64_t bucket;
    int64_t day, hour, minute; /* the event's buckets; `bucket` is set to one of them */
    uint64_t id;
    const char *s;
    int64_t weight; /* slash commands of this user in this event (users) */
    int64_t ts_ms;
} key;

static int key_cmp(const void *pa, const void *pb)
{
    const key *a = pa, *b = pb;
    if (a->bucket != b->bucket) return a->bucket < b->bucket ? -1 : 1;
    if (a->id != b->id) return a->id < b->id ? -1 : 1;
    if (a->s && b->s) return strcmp(a->s, b->s);
    return 0;
}

static int tot_cmp(const void *pa, const void *pb)
{
    const tot *a = pa, *b = pb;
    return a->bucket < b->bucket ? -1 : a->bucket > b->bucket;
}

static bool key_same(const key *a, const key *b)
{
    return key_cmp(a, b) == 0;
}

typedef enum level { BY_DAY, BY_HOUR, BY_MINUTE } level;

static void set_bucket(key *keys, size_t n, level lv)
{
    for (size_t i = 0; i < n; i++)
        keys[i].bucket = lv == BY_DAY ? keys[i].day : lv == BY_HOUR ? keys[i].hour : keys[i].minute;
    qsort(keys, n, sizeof *keys, key_cmp);
}

/* Users by (id, minute): the order in which a user's cumulative counts are written. */
static int user_minute_cmp(const void *pa, const void *pb)
{
    const key *a = pa, *b = pb;
    if (a->id != b->id) return a->id < b->id ? -1 : 1;
    return a->minute < b->minute ? -1 : a->minute > b->minute;
}

/* Sums runs of equal buckets in place; returns the number of distinct buckets. */
static size_t merge_tots(tot *t, size_t n)
{
    qsort(t, n, sizeof *t, tot_cmp);
    size_t out = 0;
    for (size_t i = 0; i < n; i++) {
        if (out && t[out - 1].bucket == t[i].bucket) {
            tot *d = &t[out - 1];
            d->commands += t[i].commands;
            d->failed_commands += t[i].failed_commands;
            d->buttons += t[i].buttons;
            d->images += t[i].images;
            d->image_ms += t[i].image_ms;
            d->videos += t[i].videos;
            d->video_ms += t[i].video_ms;
            d->failed_generations += t[i].failed_generations;
            d->activity += t[i].activity;
        } else {
            t[out++] = t[i];
        }
    }
    return out;
}

static int step_reset(an_rollup *r, sqlite3_stmt *st, const char *what, char *err, size_t errlen)
{
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    if (rc != SQLITE_DONE) {
        an_sql_err(r->db, rc, what, err, errlen);
        return rc;
    }
    return SQLITE_OK;
}

/* Runs stmt(?1 bucket, ?2 text, ?3 count) once per distinct (bucket, text) of sorted keys. */
static int flush_counts(an_rollup *r, sqlite3_stmt *st, const key *keys, size_t n, const char *what,
                        char *err, size_t errlen)
{
    for (size_t i = 0; i < n;) {
        size_t j = i + 1;
        while (j < n && key_same(&keys[i], &keys[j]))
            j++;
        sqlite3_bind_int64(st, 1, keys[i].bucket);
        sqlite3_bind_text(st, 2, keys[i].s, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 3, (int64_t)(j - i));
        int rc = step_reset(r, st, what, err, errlen);
        if (rc != SQLITE_OK) return rc;
        i = j;
    }
    return SQLITE_OK;
}

/* Per distinct (day, user) of day-sorted keys: daily_users. New (day, user) pairs are counted
 * into the matching day of the merged, day-sorted totals. */
static int flush_daily_users(an_rollup *r, const key *keys, size_t n, tot *days, size_t ndays,
                             char *err, size_t errlen)
{
    size_t d = 0;
    for (size_t i = 0; i < n;) {
        int64_t commands = 0;
        size_t j = i;
        for (; j < n && key_same(&keys[i], &keys[j]); j++)
            commands += keys[j].weight;
        int64_t events = (int64_t)(j - i);
        sqlite3_bind_int64(r->user_insert, 1, keys[i].bucket);
        sqlite3_bind_int64(r->user_insert, 2, (int64_t)keys[i].id);
        sqlite3_bind_int64(r->user_insert, 3, commands);
        sqlite3_bind_int64(r->user_insert, 4, events);
        int rc = step_reset(r, r->user_insert, "daily_users insert", err, errlen);
        if (rc != SQLITE_OK) return rc;
        if (sqlite3_changes(r->db) == 1) {
            while (d < ndays && days[d].bucket < keys[i].bucket)
                d++;
            if (d < ndays && days[d].bucket == keys[i].bucket) days[d].new_users++;
        } else {
            sqlite3_bind_int64(r->user_add, 1, keys[i].bucket);
            sqlite3_bind_int64(r->user_add, 2, (int64_t)keys[i].id);
            sqlite3_bind_int64(r->user_add, 3, commands);
            sqlite3_bind_int64(r->user_add, 4, events);
            rc = step_reset(r, r->user_add, "daily_users update", err, errlen);
            if (rc != SQLITE_OK) return rc;
        }
        i = j;
    }
    return SQLITE_OK;
}

/* The cumulative count of (user, minute): base + n when new, + n when the row exists. */
static int um_put(an_rollup *r, uint64_t user, int64_t minute, int64_t base, int64_t n, char *err,
                  size_t errlen)
{
    sqlite3_bind_int64(r->um_upsert, 1, (int64_t)user);
    sqlite3_bind_int64(r->um_upsert, 2, minute);
    sqlite3_bind_int64(r->um_upsert, 3, base + n);
    sqlite3_bind_int64(r->um_upsert, 4, n);
    return step_reset(r, r->um_upsert, "user_minutes upsert", err, errlen);
}

/*
 * Per user of the (id, minute)-sorted keys: user_minutes and known_users. A user's minutes
 * are written oldest first. A minute at or after the user's newest stored one (the normal
 * case: events arrive in time order) gets the user's running total; an older minute (an event
 * stamped earlier than one already written) gets the cumulative count before it plus its
 * events, and every later row of the user is raised by them.
 */
static int flush_user_minutes(an_rollup *r, const key *keys, size_t n, char *err, size_t errlen)
{
    for (size_t i = 0; i < n;) {
        uint64_t user = keys[i].id;
        int64_t total = 0, last = INT64_MIN, first_ms = keys[i].ts_ms, batch_last = INT64_MIN;
        sqlite3_bind_int64(r->known_get, 1, (int64_t)user);
        int rc = sqlite3_step(r->known_get);
        if (rc == SQLITE_ROW) {
            total = sqlite3_column_int64(r->known_get, 0);
            last = sqlite3_column_int64(r->known_get, 1);
            rc = SQLITE_DONE;
        }
        sqlite3_reset(r->known_get);
        if (rc != SQLITE_DONE) {
            an_sql_err(r->db, rc, "known_users lookup", err, errlen);
            return rc;
        }
        size_t j = i;
        while (j < n && keys[j].id == user) {
            int64_t minute = keys[j].minute, cnt = 0;
            for (; j < n && keys[j].id == user && keys[j].minute == minute; j++) {
                cnt++;
                if (keys[j].ts_ms < first_ms) first_ms = keys[j].ts_ms;
            }
            if (minute >= last) {
                rc = um_put(r, user, minute, total, cnt, err, errlen);
                last = minute;
            } else {
                int64_t base = 0;
                sqlite3_bind_int64(r->um_before, 1, (int64_t)user);
                sqlite3_bind_int64(r->um_before, 2, minute);
                rc = sqlite3_step(r->um_before);
                if (rc == SQLITE_ROW) {
                    base = sqlite3_column_int64(r->um_before, 0);
                    rc = SQLITE_DONE;
                }
                sqlite3_reset(r->um_before);
                rc = rc == SQLITE_DONE ? SQLITE_OK : rc;
                if (rc != SQLITE_OK) an_sql_err(r->db, rc, "user_minutes lookup", err, errlen);
                if (rc == SQLITE_OK) rc = um_put(r, user, minute, base, cnt, err, errlen);
                if (rc == SQLITE_OK) {
                    sqlite3_bind_int64(r->um_shift, 1, (int64_t)user);
                    sqlite3_bind_int64(r->um_shift, 2, minute);
                    sqlite3_bind_int64(r->um_shift, 3, cnt);
                    rc = step_reset(r, r->um_shift, "user_minutes update", err, errlen);
                }
            }
            if (rc != SQLITE_OK) return rc;
            total += cnt;
            if (minute > batch_last) batch_last = minute;
        }
        sqlite3_bind_int64(r->known_put, 1, (int64_t)user);
        sqlite3_bind_int64(r->known_put, 2, first_ms);
        sqlite3_bind_int64(r->known_put, 3, batch_last);
        sqlite3_bind_int64(r->known_put, 4, (int64_t)(j - i));
        rc = step_reset(r, r->known_put, "known_users upsert", err, errlen);
        if (rc != SQLITE_OK) return rc;
        i = j;
    }
    return SQLITE_OK;
}

static int flush_days(an_rollup *r, const tot *days, size_t ndays, char *err, size_t errlen)
{
    sqlite3_stmt *st = r->day_upsert;
    for (size_t i = 0; i < ndays; i++) {
        const tot *d = &days[i];
        char date[16];
        an_day_date(d->bucket, date, sizeof date);
        sqlite3_bind_int64(st, 1, d->bucket);
        sqlite3_bind_text(st, 2, date, -1, SQLITE_TRANSIENT);
        sqlite3_bind_int64(st, 3, d->commands);
        sqlite3_bind_int64(st, 4, d->failed_commands);
        sqlite3_bind_int64(st, 5, d->images);
        sqlite3_bind_int64(st, 6, d->image_ms);
        sqlite3_bind_int64(st, 7, d->videos);
        sqlite3_bind_int64(st, 8, d->video_ms);
        sqlite3_bind_int64(st, 9, d->failed_generations);
        sqlite3_bind_int64(st, 10, d->activity);
        sqlite3_bind_int64(st, 11, d->new_users);
        sqlite3_bind_int64(st, 12, d->buttons);
        int rc = step_reset(r, st, "daily_stats upsert", err, errlen);
        if (rc != SQLITE_OK) return rc;
    }
    return SQLITE_OK;
}

/* hourly_stats or minute_stats (st) from the merged totals of those buckets. */
static int flush_small(an_rollup *r, sqlite3_stmt *st, const tot *hours, size_t nhours,
                       const char *what, char *err, size_t errlen)
{
    for (size_t i = 0; i < nhours; i++) {
        const tot *h = &hours[i];
        sqlite3_bind_int64(st, 1, h->bucket);
        sqlite3_bind_int64(st, 2, h->commands);
        sqlite3_bind_int64(st, 3, h->images);
        sqlite3_bind_int64(st, 4, h->image_ms);
        sqlite3_bind_int64(st, 5, h->videos);
        sqlite3_bind_int64(st, 6, h->video_ms);
        sqlite3_bind_int64(st, 7, h->buttons);
        int rc = step_reset(r, st, what, err, errlen);
        if (rc != SQLITE_OK) return rc;
    }
    return SQLITE_OK;
}

int an_rollup_apply(an_rollup *r, const an_event *const *evs, size_t n, char *err, size_t errlen)
{
    if (n == 0) return SQLITE_OK;
    /* One allocation for every scratch array; sized for the worst case (all distinct). */
    size_t bytes = 3 * n * sizeof(tot) + 3 * n * sizeof(key);
    char *mem = malloc(bytes);
    if (!mem) abort();
    tot *days = (tot *)mem;
    tot *hours = days + n;
    tot *minutes = hours + n;
    key *cmds = (key *)(minutes + n);
    key *res = cmds + n;
    key *users = res + n;
    size_t ncmds = 0, nres = 0;

    for (size_t i = 0; i < n; i++) {
        const an_event *e = evs[i];
        int64_t day = an_day_of(e->ts_ms), hour = an_hour_of(e->ts_ms);
        int64_t minute = an_time_minute_of(e->ts_ms);
        tot t = {0};
        int64_t weight = 0;
        switch (e->kind) {
        case AN_EV_COMMAND:
            /* Only slash commands are "commands"; buttons have their own count; the other
             * kinds count as the user's events only. */
            if (e->cmd_kind == AN_CMD_SLASH) {
                t.commands = 1;
                t.failed_commands = !e->success;
                cmds[ncmds++] = (key){
                    .day = day, .hour = hour, .minute = minute, .s = e->command ? e->command : ""};
                weight = 1;
            } else if (e->cmd_kind == AN_CMD_BUTTON) {
                t.buttons = 1;
            }
            break;
        case AN_EV_IMAGE:
            if (!e->success) {
                t.failed_generations = 1;
                break;
            }
            if (e->is_video) {
                t.videos = 1;
                t.video_ms = e->duration_ms;
            } else {
                t.images = 1;
                t.image_ms = e->duration_ms;
            }
            if (e->resolution && e->resolution[0])
                res[nres++] = (key){.day = day, .hour = hour, .minute = minute, .s = e->resolution};
            break;
        case AN_EV_ACTIVITY:
            t.activity = 1;
            break;
        case AN_EV_OUTCOME: /* never passed here (an_store applies outcomes itself) */
        case AN_EV_RESULT:  /* nor results and moderation changes: they are no statistics */
        case AN_EV_RESULT_MSG:
        case AN_EV_MODERATION:
            break;
        }
        days[i] = t;
        days[i].bucket = day;
        hours[i] = t;
        hours[i].bucket = hour;
        minutes[i] = t;
        minutes[i].bucket = minute;
        users[i] = (key){.day = day,
                         .hour = hour,
                         .minute = minute,
                         .id = e->user_id,
                         .weight = weight,
                         .ts_ms = e->ts_ms};
    }
    size_t ndays = merge_tots(days, n), nhours = merge_tots(hours, n);
    size_t nminutes = merge_tots(minutes, n);

    /* Days: users first, since they count the new (day, user) pairs into the day totals. */
    set_bucket(users, n, BY_DAY);
    int rc = flush_daily_users(r, users, n, days, ndays, err, errlen);
    if (rc == SQLITE_OK) rc = flush_days(r, days, ndays, err, errlen);
    set_bucket(cmds, ncmds, BY_DAY);
    if (rc == SQLITE_OK)
        rc = flush_counts(r, r->cmd_upsert, cmds, ncmds, "daily_commands upsert", err, errlen);
    set_bucket(res, nres, BY_DAY);
    if (rc == SQLITE_OK)
        rc = flush_counts(r, r->res_upsert, res, nres, "daily_resolutions upsert", err, errlen);
    /* Hours and minutes. */
    if (rc == SQLITE_OK)
        rc = flush_small(r, r->hour_upsert, hours, nhours, "hourly_stats upsert", err, errlen);
    if (rc == SQLITE_OK)
        rc = flush_small(r, r->min_upsert, minutes, nminutes, "minute_stats upsert", err, errlen);
    set_bucket(cmds, ncmds, BY_HOUR);
    if (rc == SQLITE_OK)
        rc =
            flush_counts(r, r->hour_cmd_upsert, cmds, ncmds, "hourly_commands upsert", err, errlen);
    set_bucket(cmds, ncmds, BY_MINUTE);
    if (rc == SQLITE_OK)
        rc = flush_counts(r, r->min_cmd_upsert, cmds, ncmds, "minute_commands upsert", err, errlen);
    set_bucket(res, nres, BY_HOUR);
    if (rc == SQLITE_OK)
        rc = flush_counts(r, r->hour_res_upsert, res, nres, "hourly_resolutions upsert", err,
                          errlen);
    set_bucket(res, nres, BY_MINUTE);
    if (rc == SQLITE_OK)
        rc =
            flush_counts(r, r->min_res_upsert, res, nres, "minute_resolutions upsert", err, errlen);
    /* Users' cumulative counts (a rebuild computes them at its end, in one statement). */
    if (rc == SQLITE_OK && !r->rebuilding) {
        qsort(users, n, sizeof *users, user_minute_cmp);
        rc = flush_user_minutes(r, users, n, err, errlen);
    }
    free(mem);
    return rc;
}

/* ---- rebuild ----------------------------------------------------------------------------- */

#define REBUILD_CHUNK 512

/* Reads rows of one raw table (query's columns: see row_to_event) in chunks and applies them. */
static int rebuild_from(an_rollup *r, const char *sql, an_event_kind kind, char *err, size_t errlen)
{
    sqlite3_stmt *st;
    int rc = sqlite3_prepare_v2(r->db, sql, -1, &st, NULL);
    if (rc != SQLITE_OK) {
        an_sql_err(r->db, rc, "rebuild: reading raw rows", err, errlen);
        return rc;
    }
    an_event *evs = calloc(REBUILD_CHUNK, sizeof *evs);
    const an_event **ptrs = calloc(REBUILD_CHUNK, sizeof *ptrs);
    if (!evs || !ptrs) abort();
    size_t n = 0;
    for (;;) {
        rc = sqlite3_step(st);
        if (rc == SQLITE_ROW) {
            an_event *e = &evs[n];
            e->kind = kind;
            e->ts_ms = sqlite3_column_int64(st, 0);
            e->user_id = (uint64_t)sqlite3_column_int64(st, 1);
            e->success = sqlite3_column_int(st, 2) != 0;
            e->duration_ms = (uint32_t)sqlite3_column_int64(st, 3);
            e->is_video = sqlite3_column_int(st, 4) != 0;
            const char *text = (const char *)sqlite3_column_text(st, 5);
            an_event_text t = {0};
            if (kind == AN_EV_COMMAND) {
                t.command = text ? text : "";
                e->cmd_kind = an_cmd_kind_parse((const char *)sqlite3_column_text(st, 6));
            }
            if (kind == AN_EV_IMAGE) t.resolution = text;
            an_event_set_text(e, &t);
            ptrs[n] = e;
            if (++n < REBUILD_CHUNK) continue;
        } else if (rc != SQLITE_DONE) {
            an_sql_err(r->db, rc, "rebuild: reading raw rows", err, errlen);
            break;
        }
        int arc = an_rollup_apply(r, ptrs, n, err, errlen);
        for (size_t i = 0; i < n; i++)
            an_event_clear(&evs[i]);
        n = 0;
        if (arc != SQLITE_OK) {
            rc = arc;
            break;
        }
        if (rc == SQLITE_DONE) {
            rc = SQLITE_OK;
            break;
        }
    }
    for (size_t i = 0; i < n; i++)
        an_event_clear(&evs[i]);
    free(evs);
    free(ptrs);
    sqlite3_finalize(st);
    return rc;
}

/* The minute of a ts_ms column in SQL (floor division, as an_time_minute_of). */
#define SQL_MINUTE(col) "((" col " - ((" col " % 60000) + 60000) % 60000) / 60000)"
#define SQL_ALL_EVENTS                                                                             \
    "SELECT user_id, ts_ms FROM command_usage UNION ALL SELECT user_id, ts_ms FROM image_stats"    \
    " UNION ALL SELECT user_id, ts_ms FROM user_activity"

/* user_minutes and known_users from every raw row: per (user, minute) the running total. */
static const char k_rebuild_users[] =
    "INSERT INTO user_minutes(user_id, minute, cum)"
    " SELECT user_id, minute, SUM(n) OVER (PARTITION BY user_id ORDER BY minute"
    "  ROWS UNBOUNDED PRECEDING) FROM (SELECT user_id, " SQL_MINUTE(
        "ts_ms") " AS minute,"
                 "  COUNT(*) AS n FROM (" SQL_ALL_EVENTS ") GROUP BY 1, 2);"
                 "INSERT INTO known_users(user_id, first_seen_ms, last_minute, events)"
                 " SELECT user_id, MIN(ts_ms), " SQL_MINUTE(
                     "MAX(ts_ms)") ", COUNT(*) FROM (" SQL_ALL_EVENTS ") GROUP BY user_id;"
                                   "INSERT OR REPLACE INTO meta(key, value) "
                                   "VALUES('minute_horizon', 0);";

int an_rollup_rebuild(sqlite3 *db, char *err, size_t errlen)
{
    int rc = sqlite3_exec(db,
                          "DELETE FROM daily_stats; DELETE FROM daily_commands;"
                          " DELETE FROM daily_resolutions; DELETE FROM daily_users;"
                          " DELETE FROM known_users; DELETE FROM hourly_stats;"
                          " DELETE FROM hourly_commands; DELETE FROM hourly_resolutions;"
                          " DELETE FROM minute_stats; DELETE FROM minute_commands;"
                          " DELETE FROM minute_resolutions; DELETE FROM user_minutes;",
                          NULL, NULL, NULL);
    if (rc != SQLITE_OK) {
        an_sql_err(db, rc, "rebuild: clearing rollups", err, errlen);
        return rc;
    }
    an_rollup r;
    rc = an_rollup_init(&r, db, err, errlen);
    if (rc != SQLITE_OK) return rc;
    r.rebuilding = true;
    /* Columns: ts_ms, user_id, success, duration, is_video, text (, kind for commands). */
    rc = rebuild_from(&r,
                      "SELECT ts_ms, user_id, success, execution_ms, 0, command_name, kind"
                      " FROM command_usage",
                      AN_EV_COMMAND, err, errlen);
    if (rc == SQLITE_OK)
        rc = rebuild_from(&r,
                          "SELECT ts_ms, user_id, success, generation_ms, is_video, resolution"
                          " FROM image_stats",
                          AN_EV_IMAGE, err, errlen);
    if (rc == SQLITE_OK)
        rc = rebuild_from(&r, "SELECT ts_ms, user_id, 1, 0, 0, NULL FROM user_activity",
                          AN_EV_ACTIVITY, err, errlen);
    an_rollup_fini(&r);
    if (rc == SQLITE_OK) {
        rc = sqlite3_exec(db, k_rebuild_users, NULL, NULL, NULL);
        if (rc != SQLITE_OK) an_sql_err(db, rc, "rebuild: user counts", err, errlen);
    }
    return rc;
}

int64_t an_rollup_horizon(sqlite3 *db)
{
    sqlite3_stmt *st;
    int64_t v = 0;
    if (sqlite3_prepare_v2(db, "SELECT value FROM meta WHERE key = 'minute_horizon'", -1, &st,
                           NULL) != SQLITE_OK)
        return 0;
    if (sqlite3_step(st) == SQLITE_ROW) v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return v;
}

static int prune_range(an_rollup *r, sqlite3_stmt *st, int64_t horizon, char *err, size_t errlen)
{
    sqlite3_bind_int64(st, 1, horizon);
    return step_reset(r, st, "deleting old minute rollups", err, errlen);
}

int an_rollup_prune(an_rollup *r, int64_t horizon, char *err, size_t errlen)
{
    int rc = prune_range(r, r->prune_stats, horizon, err, errlen);
    if (rc == SQLITE_OK) rc = prune_range(r, r->prune_cmds, horizon, err, errlen);
    if (rc == SQLITE_OK) rc = prune_range(r, r->prune_res, horizon, err, errlen);
    /* user_minutes: per user seen before the horizon, every row before it but the last (the
     * base of the user's counts in any window that starts at or after the horizon). */
    sqlite3_stmt *users = r->prune_users;
    sqlite3_bind_int64(users, 1, horizon * AN_TIME_MINUTE_MS);
    while (rc == SQLITE_OK) {
        int src = sqlite3_step(users);
        if (src == SQLITE_DONE) break;
        if (src != SQLITE_ROW) {
            rc = src;
            an_sql_err(r->db, rc, "listing users to compact", err, errlen);
            break;
        }
        sqlite3_bind_int64(r->prune_um, 1, sqlite3_column_int64(users, 0));
        sqlite3_bind_int64(r->prune_um, 2, horizon);
        rc = step_reset(r, r->prune_um, "compacting user_minutes", err, errlen);
    }
    sqlite3_reset(users);
    if (rc == SQLITE_OK) {
        sqlite3_bind_int64(r->set_horizon, 1, horizon);
        rc = step_reset(r, r->set_horizon, "recording the minute horizon", err, errlen);
    }
    return rc;
}
