/* Import of the Python original's analytics.db (see an_import.h). */
#include "analytics/an_import.h"

#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <sqlite3.h>

#include "analytics/an_commands.h"
#include "analytics/an_engine.h"
#include "analytics/an_event.h"
#include "analytics/an_rollup.h"
#include "analytics/an_sqlerr.h"
#include "analytics/an_store.h"
#include "pg/pg_anstore.h"

/* ---- the source ------------------------------------------------------------------------- */

typedef struct src_table {
    bool present;
    bool has[16]; /* per wanted column, see k_cols */
} src_table;

enum { T_COMMANDS, T_IMAGES, T_ACTIVITY, T_DAILY, T_COUNT };
static const char *const k_tables[T_COUNT] = {"command_usage", "image_stats", "user_activity",
                                              "daily_stats"};
/* The columns the import reads; the first two of each table are required. */
static const char *const k_cols[T_COUNT][10] = {
    {"user_id", "timestamp", "id", "command_name", "guild_id", "channel_id", "execution_time",
     "success", NULL},
    {"user_id", "timestamp", "id", "prompt", "resolution", "loras", "upscale_factor",
     "generation_time", "is_video", "generation_type"},
    {"user_id", "timestamp", "id", "guild_id", "action_type", "details", NULL},
    {"date", "total_commands", "popular_commands", "popular_resolutions", NULL},
};

static int col_index(int t, const char *name)
{
    for (int i = 0; i < 10 && k_cols[t][i]; i++)
        if (strcmp(k_cols[t][i], name) == 0) return i;
    return -1;
}

static bool probe(sqlite3 *src, src_table tabs[T_COUNT], char *err, size_t errlen)
{
    sqlite3_stmt *st;
    int rc = sqlite3_prepare_v2(
        src, "SELECT name FROM sqlite_master WHERE type = 'table' AND name = 'schema_version'", -1,
        &st, NULL);
    if (rc != SQLITE_OK) {
        an_sql_err(src, rc, "reading the source", err, errlen);
        return false;
    }
    bool fluxbot = sqlite3_step(st) == SQLITE_ROW;
    sqlite3_finalize(st);
    if (fluxbot) {
        snprintf(err, errlen,
                 "it is a fluxbot database already (it has schema_version), not the "
                 "Python bot's analytics.db");
        return false;
    }
    bool any = false;
    for (int t = 0; t < T_COUNT; t++) {
        char sql[96];
        snprintf(sql, sizeof sql, "PRAGMA table_info(%s)", k_tables[t]); /* fixed names */
        rc = sqlite3_prepare_v2(src, sql, -1, &st, NULL);
        if (rc != SQLITE_OK) {
            an_sql_err(src, rc, "reading the source", err, errlen);
            return false;
        }
        while (sqlite3_step(st) == SQLITE_ROW) {
            const char *name = (const char *)sqlite3_column_text(st, 1);
            int i = name ? col_index(t, name) : -1;
            tabs[t].present = true;
            if (i >= 0) tabs[t].has[i] = true;
        }
        sqlite3_finalize(st);
        if (!tabs[t].present) continue;
        if (!tabs[t].has[0] || !tabs[t].has[1]) {
            snprintf(err, errlen, "its table %s lacks the original's columns %s and %s",
                     k_tables[t], k_cols[t][0], k_cols[t][1]);
            return false;
        }
        if (t != T_DAILY) any = true;
    }
    if (!any) {
        snprintf(err, errlen,
                 "it has none of the tables command_usage, image_stats, user_activity of the "
                 "Python bot's analytics.db");
        return false;
    }
    return true;
}

/* The SELECT of table t: every wanted column, NULL for those the source lacks. */
static void select_sql(int t, const src_table *tab, char *out, size_t outlen)
{
    size_t used = (size_t)snprintf(out, outlen, "SELECT ");
    for (int i = 0; i < 10 && k_cols[t][i]; i++)
        used += (size_t)snprintf(out + used, outlen - used, "%s%s", i ? ", " : "",
                                 tab->has[i] ? k_cols[t][i] : "NULL");
    snprintf(out + used, outlen - used, " FROM %s", k_tables[t]);
}

/* ---- conversions ------------------------------------------------------------------------ */

/* A snowflake stored as TEXT (or, by accident, an integer). 0 when unusable. */
static uint64_t snowflake(sqlite3_stmt *st, int i)
{
    if (sqlite3_column_type(st, i) == SQLITE_INTEGER) {
        int64_t v = sqlite3_column_int64(st, i);
        return v > 0 ? (uint64_t)v : 0;
    }
    const char *s = (const char *)sqlite3_column_text(st, i);
    uint64_t v;
    return s && an_parse_u64(s, &v) ? v : 0;
}

/* Epoch seconds (REAL) to ms; false when missing or absurd. */
static bool epoch_ms(sqlite3_stmt *st, int i, int64_t *out)
{
    if (sqlite3_column_type(st, i) == SQLITE_NULL) return false;
    double s = sqlite3_column_double(st, i);
    if (!(s > 0 && s < 1e11)) return false;
    *out = (int64_t)llround(s * 1000.0);
    return true;
}

static uint32_t seconds_ms(sqlite3_stmt *st, int i)
{
    double s = sqlite3_column_double(st, i);
    if (!(s > 0)) return 0;
    double ms = s * 1000.0;
    return ms > 4e9 ? UINT32_MAX : (uint32_t)llround(ms);
}

/* The original's loras column: a JSON list (kept, if it is one of strings), or anything else
 * turned into one. malloc'd. */
static char *loras_json(const char *text)
{
    cJSON *in = text ? cJSON_Parse(text) : NULL;
    cJSON *out = cJSON_CreateArray();
    if (cJSON_IsArray(in)) {
        const cJSON *it;
        cJSON_ArrayForEach(it, in)
        {
            if (cJSON_IsString(it)) cJSON_AddItemToArray(out, cJSON_CreateString(it->valuestring));
            /* {"name": ..., "strength": ...} entries keep their name */
            const cJSON *n = cJSON_GetObjectItemCaseSensitive(it, "name");
            if (cJSON_IsString(n)) cJSON_AddItemToArray(out, cJSON_CreateString(n->valuestring));
        }
    } else if (text && *text && !in) {
        cJSON_AddItemToArray(out, cJSON_CreateString(text));
    }
    cJSON_Delete(in);
    char *s = cJSON_PrintUnformatted(out);
    cJSON_Delete(out);
    if (!s) abort();
    return s;
}

/* "1:1 [1024x1024 square]" or "1024x1024" -> 1024, 1024. */
static void label_size(const char *label, uint32_t *w, uint32_t *h)
{
    *w = *h = 0;
    if (!label) return;
    const char *p = strchr(label, '[');
    p = p ? p + 1 : label;
    unsigned a, b;
    if (sscanf(p, "%ux%u", &a, &b) == 2 && a >= 16 && a <= 16384 && b >= 16 && b <= 16384) {
        *w = a;
        *h = b;
    }
}

/* ---- the import ------------------------------------------------------------------------- */

typedef struct ctx {
    sqlite3 *src, *db;
    an_store *store; /* the SQLite destination, or */
    pg_anstore *pg;  /* the PostgreSQL one */
    sqlite3_stmt *seen;
    an_import_summary *sum;
    char *err;
    size_t errlen;
} ctx;

/* True (and remembered) when this source row was not imported before. */
static int first_time(ctx *c, int t, int64_t id, int64_t ts, uint64_t user, bool *fresh)
{
    sqlite3_bind_text(c->seen, 1, k_tables[t], -1, SQLITE_STATIC);
    sqlite3_bind_int64(c->seen, 2, id);
    sqlite3_bind_int64(c->seen, 3, ts);
    sqlite3_bind_int64(c->seen, 4, (int64_t)user);
    int rc = sqlite3_step(c->seen);
    sqlite3_reset(c->seen);
    if (rc != SQLITE_DONE) {
        an_sql_err(c->db, rc, "remembering imported rows", c->err, c->errlen);
        return rc;
    }
    *fresh = sqlite3_changes(c->db) == 1;
    return SQLITE_OK;
}

#define CHUNK 512

/* A chunk of converted source rows, with the keys that tell whether each was imported before. */
typedef struct chunk {
    an_event evs[CHUNK];
    int64_t src_id[CHUNK], ts[CHUNK];
    uint64_t user[CHUNK];
    size_t n;
} chunk;

/* Writes the rows of the chunk not imported before (remembering them) and counts them. */
static int flush(ctx *c, int t, chunk *k)
{
    if (!k->n) return SQLITE_OK;
    bool fresh[CHUNK];
    int rc = SQLITE_OK;
    if (c->pg) /* one statement for the chunk */
        rc = pg_anstore_import_seen(c->pg, k_tables[t], k->src_id, k->ts, k->user, k->n, fresh,
                                    c->err, c->errlen);
    for (size_t i = 0; !c->pg && i < k->n && rc == SQLITE_OK; i++)
        rc = first_time(c, t, k->src_id[i], k->ts[i], k->user[i], &fresh[i]);
    const an_event *p[CHUNK];
    size_t np = 0;
    for (size_t i = 0; i < k->n && rc == SQLITE_OK; i++) {
        if (!fresh[i]) {
            c->sum->already++;
            continue;
        }
        p[np++] = &k->evs[i];
        if (t == T_COMMANDS)
            c->sum->commands++;
        else if (t == T_IMAGES)
            c->sum->images++;
        else
            c->sum->activities++;
        if (!c->sum->first_ms || k->ts[i] < c->sum->first_ms) c->sum->first_ms = k->ts[i];
        if (k->ts[i] > c->sum->last_ms) c->sum->last_ms = k->ts[i];
    }
    if (rc == SQLITE_OK && np)
        rc = c->pg ? pg_anstore_import_rows(c->pg, p, np, c->err, c->errlen)
                   : an_store_insert_raw(c->store, p, np, c->err, c->errlen);
    for (size_t i = 0; i < k->n; i++)
        an_event_clear(&k->evs[i]);
    k->n = 0;
    return rc;
}

static int import_table(ctx *c, int t, const src_table *tab)
{
    char sql[512];
    select_sql(t, tab, sql, sizeof sql);
    sqlite3_stmt *st;
    int rc = sqlite3_prepare_v2(c->src, sql, -1, &st, NULL);
    if (rc != SQLITE_OK) {
        an_sql_err(c->src, rc, "reading the source", c->err, c->errlen);
        return rc;
    }
    chunk *k = calloc(1, sizeof *k);
    if (!k) abort();
    while (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        rc = SQLITE_OK;
        uint64_t user = snowflake(st, 0);
        int64_t ts;
        if (!user || !epoch_ms(st, 1, &ts)) {
            c->sum->invalid++;
            continue;
        }
        k->src_id[k->n] = sqlite3_column_int64(st, 2);
        k->ts[k->n] = ts;
        k->user[k->n] = user;
        an_event *e = &k->evs[k->n++];
        memset(e, 0, sizeof *e);
        e->seq = 0; /* before every event of this bot: a reset deletes imported history too */
        e->ts_ms = ts;
        e->user_id = user;
        an_event_text tx = {0};
        char *loras = NULL;
        if (t == T_COMMANDS) {
            e->kind = AN_EV_COMMAND;
            e->cmd_kind = AN_CMD_SLASH; /* the original recorded slash commands only */
            e->guild_id = snowflake(st, 4);
            e->channel_id = snowflake(st, 5);
            e->duration_ms = seconds_ms(st, 6);
            e->success = sqlite3_column_type(st, 7) == SQLITE_NULL || sqlite3_column_int(st, 7);
            const char *name = (const char *)sqlite3_column_text(st, 3);
            tx.command = name && *name ? name : "unknown";
        } else if (t == T_IMAGES) {
            e->kind = AN_EV_IMAGE;
            e->success = true; /* the original recorded delivered results only */
            tx.prompt = (const char *)sqlite3_column_text(st, 3);
            tx.resolution = (const char *)sqlite3_column_text(st, 4);
            loras = loras_json((const char *)sqlite3_column_text(st, 5));
            tx.loras = loras;
            double up = sqlite3_column_double(st, 6);
            e->upscale_factor = up >= 1 && up <= 16 ? up : 1;
            e->duration_ms = seconds_ms(st, 7);
            e->is_video = sqlite3_column_int(st, 8) != 0;
            const char *gt = (const char *)sqlite3_column_text(st, 9);
            tx.generation_type = gt && *gt ? gt : e->is_video ? "video" : "standard";
            uint32_t w, h;
            label_size(tx.resolution, &w, &h);
            e->width = (uint32_t)(w * e->upscale_factor);
            e->height = (uint32_t)(h * e->upscale_factor);
        } else {
            e->kind = AN_EV_ACTIVITY;
            e->success = true;
            e->guild_id = snowflake(st, 3);
            const char *a = (const char *)sqlite3_column_text(st, 4);
            tx.action = a ? a : "";
            tx.details = (const char *)sqlite3_column_text(st, 5);
        }
        an_event_set_text(e, &tx);
        free(loras);
        if (k->n == CHUNK) rc = flush(c, t, k);
    }
    if (rc == SQLITE_DONE)
        rc = SQLITE_OK;
    else if (rc != SQLITE_OK && !c->err[0])
        an_sql_err(c->src, rc, "reading the source", c->err, c->errlen);
    if (rc == SQLITE_OK) rc = flush(c, t, k);
    for (size_t i = 0; i < k->n; i++)
        an_event_clear(&k->evs[i]);
    free(k);
    sqlite3_finalize(st);
    return rc;
}

/* daily_stats: read and checked (counted), never copied (see the header). */
static void read_daily(ctx *c, const src_table *tab)
{
    char sql[512];
    select_sql(T_DAILY, tab, sql, sizeof sql);
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(c->src, sql, -1, &st, NULL) != SQLITE_OK) return;
    while (sqlite3_step(st) == SQLITE_ROW) {
        c->sum->daily_rows++;
        for (int i = 2; i <= 3; i++) {
            const char *j = (const char *)sqlite3_column_text(st, i);
            cJSON *v = j ? cJSON_Parse(j) : NULL;
            if (j && !(cJSON_IsObject(v) || cJSON_IsArray(v))) {
                c->sum->daily_bad_json++;
                cJSON_Delete(v);
                break;
            }
            cJSON_Delete(v);
        }
    }
    sqlite3_finalize(st);
}

/* Into PostgreSQL: one transaction (pg_anstore_import_*), rows and rollups written together by
 * chunks of CHUNK rows with bound parameters. 0, or -1 with msg (nothing changed). */
static int import_pg(sqlite3 *src, const src_table tabs[T_COUNT], const char *url,
                     an_import_summary *out, char *msg, size_t msglen)
{
    pg_anstore *pg = pg_anstore_open(url, msg, msglen);
    if (!pg) return -1;
    ctx c = {.src = src, .pg = pg, .sum = out, .err = msg, .errlen = msglen};
    int rc = pg_anstore_import_begin(pg, msg, msglen);
    for (int t = T_COMMANDS; rc == SQLITE_OK && t <= T_ACTIVITY; t++)
        if (tabs[t].present) rc = import_table(&c, t, &tabs[t]);
    if (rc == SQLITE_OK && tabs[T_DAILY].present) read_daily(&c, &tabs[T_DAILY]);
    char endmsg[256] = "";
    int end = pg_anstore_import_end(pg, rc == SQLITE_OK, endmsg, sizeof endmsg);
    if (rc == SQLITE_OK && end != SQLITE_OK) {
        snprintf(msg, msglen, "%s", endmsg);
        rc = end;
    }
    pg_anstore_close(pg);
    if (rc == SQLITE_OK) return 0;
    uint64_t keep_daily = out->daily_rows;
    memset(out, 0, sizeof *out);
    out->daily_rows = keep_daily;
    return -1;
}

int an_import_run(const char *source, const char *dest, an_import_summary *out, char *err,
                  size_t errlen)
{
    memset(out, 0, sizeof *out);
    err[0] = '\0';
    char msg[512] = "";
    sqlite3 *src = NULL;
    src_table tabs[T_COUNT];
    memset(tabs, 0, sizeof tabs);
    int rc = sqlite3_open_v2(source, &src, SQLITE_OPEN_READONLY, NULL);
    if (rc != SQLITE_OK) {
        an_sql_err(src, rc, "open", msg, sizeof msg);
    } else {
        sqlite3_busy_timeout(src, 2000);
        if (!probe(src, tabs, msg, sizeof msg)) rc = SQLITE_ERROR;
    }
    if (rc != SQLITE_OK) {
        snprintf(err, errlen, "'%s' is not the Python bot's analytics.db: %s", source, msg);
        sqlite3_close_v2(src);
        return 1;
    }
    if (an_engine_is_pg(dest)) {
        rc = import_pg(src, tabs, dest, out, msg, sizeof msg);
        sqlite3_close_v2(src);
        if (rc == 0) return 0;
        /* (the URL may hold a password: it is never part of a message) */
        snprintf(err, errlen, "import into the PostgreSQL database failed, nothing was changed: %s",
                 msg);
        return 2;
    }
    bool existed = access(dest, F_OK) == 0;
    an_store *store = an_store_open(dest, msg, sizeof msg);
    if (!store) {
        snprintf(err, errlen, "%s", msg);
        sqlite3_close_v2(src);
        return 2;
    }
    ctx c = {.src = src,
             .db = an_store_db(store),
             .store = store,
             .sum = out,
             .err = msg,
             .errlen = sizeof msg};
    an_store_set_busy_timeout(store, 5000);
    rc = sqlite3_exec(c.db, "BEGIN IMMEDIATE", NULL, NULL, NULL);
    if (rc != SQLITE_OK) an_sql_err(c.db, rc, "starting the import", msg, sizeof msg);
    if (rc == SQLITE_OK) {
        rc = sqlite3_prepare_v2(c.db,
                                "INSERT OR IGNORE INTO imported_rows(tbl, src_id, ts_ms, user_id)"
                                " VALUES(?1, ?2, ?3, ?4)",
                                -1, &c.seen, NULL);
        if (rc != SQLITE_OK) an_sql_err(c.db, rc, "preparing the import", msg, sizeof msg);
    }
    for (int t = T_COMMANDS; rc == SQLITE_OK && t <= T_ACTIVITY; t++)
        if (tabs[t].present) rc = import_table(&c, t, &tabs[t]);
    if (rc == SQLITE_OK && tabs[T_DAILY].present) read_daily(&c, &tabs[T_DAILY]);
    /* The rollups from every raw row, imported and earlier, in the same transaction. */
    if (rc == SQLITE_OK && out->commands + out->images + out->activities)
        rc = an_rollup_rebuild(c.db, msg, sizeof msg);
    sqlite3_finalize(c.seen);
    if (rc == SQLITE_OK) {
        rc = sqlite3_exec(c.db, "COMMIT", NULL, NULL, NULL);
        if (rc != SQLITE_OK) an_sql_err(c.db, rc, "committing the import", msg, sizeof msg);
    }
    if (rc != SQLITE_OK && !sqlite3_get_autocommit(c.db))
        sqlite3_exec(c.db, "ROLLBACK", NULL, NULL, NULL);
    an_store_close(store);
    sqlite3_close_v2(src);
    if (rc != SQLITE_OK) {
        snprintf(err, errlen, "import into '%s' failed, nothing was changed: %s", dest, msg);
        if (!existed) {
            /* The destination did not exist before: leave none behind. */
            char p[1100];
            remove(dest);
            snprintf(p, sizeof p, "%s-wal", dest);
            remove(p);
            snprintf(p, sizeof p, "%s-shm", dest);
            remove(p);
        }
        uint64_t keep_daily = out->daily_rows;
        memset(out, 0, sizeof *out);
        out->daily_rows = keep_daily;
        return 2;
    }
    return 0;
}
