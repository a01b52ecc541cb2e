/* Moderation tables in PostgreSQL: applying recorded changes, reading the state (see
 * mod_pgstore.h). Owned by the moderation module; called by the PostgreSQL analytics store (the
 * writer's thread) and at start / refresh by the app. */
#include "moderation/mod_pgstore.h"

#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <sqlite3.h>

#include "fluxbot/log.h"
#include "pg/pg_anstore.h"
#include "pg/pg_conn.h"
#include "util/util_json.h"

#define LOGN "moderation"

static const char k_schema[] =
    "CREATE TABLE IF NOT EXISTS mod_words("
    " key text PRIMARY KEY, text text NOT NULL, active smallint NOT NULL,"
    " by_user bigint, ts_ms bigint NOT NULL, wid bigint NOT NULL, seq bigint NOT NULL);"
    "CREATE TABLE IF NOT EXISTS mod_regexes("
    " key text PRIMARY KEY, name text NOT NULL, pattern text NOT NULL, description text,"
    " severity text NOT NULL, active smallint NOT NULL,"
    " by_user bigint, ts_ms bigint NOT NULL, wid bigint NOT NULL, seq bigint NOT NULL);"
    "CREATE TABLE IF NOT EXISTS mod_context_rules("
    " key text PRIMARY KEY, allowed text NOT NULL, disallowed text NOT NULL, description text,"
    " active smallint NOT NULL, by_user bigint, ts_ms bigint NOT NULL, wid bigint NOT NULL,"
    " seq bigint NOT NULL);"
    "CREATE TABLE IF NOT EXISTS mod_violations("
    " id bigserial PRIMARY KEY, wid bigint NOT NULL, seq bigint NOT NULL, user_id bigint NOT NULL,"
    " guild_id bigint, ts_ms bigint NOT NULL, rule_kind text NOT NULL, rule_name text NOT NULL,"
    " severity text, outcome text NOT NULL, prompt text);"
    "CREATE INDEX IF NOT EXISTS mod_violations_by_user ON mod_violations(user_id, ts_ms);"
    "CREATE TABLE IF NOT EXISTS mod_warning_clears("
    " user_id bigint PRIMARY KEY, by_user bigint, ts_ms bigint NOT NULL, wid bigint NOT NULL,"
    " seq bigint NOT NULL);"
    /* Bumped by every change, so a refresh that finds it unchanged reads nothing else. */
    "CREATE TABLE IF NOT EXISTS mod_version(id int PRIMARY KEY CHECK (id = 1), v bigint NOT NULL);"
    "INSERT INTO mod_version VALUES (1, 0) ON CONFLICT (id) DO NOTHING;"
    "CREATE TABLE IF NOT EXISTS mod_bans("
    " user_id bigint PRIMARY KEY, active smallint NOT NULL, reason text, banned_ms bigint,"
    " until_ms bigint, by_user bigint, ts_ms bigint NOT NULL, wid bigint NOT NULL,"
    " seq bigint NOT NULL);"
    /* /priority: a user absent is "normal" */
    "CREATE TABLE IF NOT EXISTS mod_priorities("
    " user_id bigint PRIMARY KEY, level text NOT NULL, by_user bigint, ts_ms bigint NOT NULL,"
    " wid bigint NOT NULL, seq bigint NOT NULL);";

int mod_pgstore_schema(PGconn *c, char *err, size_t errlen)
{
    PGresult *r = PQexec(c, k_schema);
    int rc = PQresultStatus(r) == PGRES_COMMAND_OK ? SQLITE_OK : pg_anstore_code(c, r);
    if (rc != SQLITE_OK)
        snprintf(err, errlen, "creating the moderation tables: %s", PQresultErrorMessage(r));
    PQclear(r);
    return rc;
}

/* "Later" between two changes: by event time, then by the writer's number. */
#define LATER(t) " WHERE (excluded.ts_ms, excluded.seq) > (" t ".ts_ms, " t ".seq)"

/* Every statement binds $1 seq, $2 ts_ms, $3 by_user, $4 wid, then its own from $5. */
static const char k_word[] =
    "INSERT INTO mod_words AS t (seq, ts_ms, by_user, wid, key, text, active)"
    " VALUES($1,$2,$3,$4,$5,$6,$7)"
    " ON CONFLICT(key) DO UPDATE SET text = excluded.text, active = excluded.active,"
    " by_user = excluded.by_user, ts_ms = excluded.ts_ms, wid = excluded.wid,"
    " seq = excluded.seq" LATER("t");
static const char k_regex[] =
    "INSERT INTO mod_regexes AS t (seq, ts_ms, by_user, wid, key, name, pattern, description,"
    " severity, active) VALUES($1,$2,$3,$4,$5,$6,$7,$8,$9,$10)"
    " ON CONFLICT(key) DO UPDATE SET name = excluded.name, pattern = excluded.pattern,"
    " description = excluded.description, severity = excluded.severity,"
    " active = excluded.active, by_user = excluded.by_user, ts_ms = excluded.ts_ms,"
    " wid = excluded.wid, seq = excluded.seq" LATER("t");
static const char k_context[] =
    "INSERT INTO mod_context_rules AS t (seq, ts_ms, by_user, wid, key, allowed, disallowed,"
    " description, active) VALUES($1,$2,$3,$4,$5,$6,$7,$8,$9)"
    " ON CONFLICT(key) DO UPDATE SET allowed = excluded.allowed,"
    " disallowed = excluded.disallowed, description = excluded.description,"
    " active = excluded.active, by_user = excluded.by_user, ts_ms = excluded.ts_ms,"
    " wid = excluded.wid, seq = excluded.seq" LATER("t");
static const char k_violation[] =
    "INSERT INTO mod_violations(seq, ts_ms, guild_id, wid, user_id, rule_kind, rule_name,"
    " severity, outcome, prompt) VALUES($1,$2,$3,$4,$5,$6,$7,$8,$9,$10)";
static const char k_clear[] =
    "INSERT INTO mod_warning_clears AS t (seq, ts_ms, by_user, wid, user_id)"
    " VALUES($1,$2,$3,$4,$5)"
    " ON CONFLICT(user_id) DO UPDATE SET by_user = excluded.by_user, ts_ms = excluded.ts_ms,"
    " wid = excluded.wid, seq = excluded.seq" LATER("t");
static const char k_ban[] =
    "INSERT INTO mod_bans AS t (seq, ts_ms, by_user, wid, user_id, active, reason, banned_ms,"
    " until_ms) VALUES($1,$2,$3,$4,$5,$6,$7,$8,$9)"
    " ON CONFLICT(user_id) DO UPDATE SET active = excluded.active, reason = excluded.reason,"
    " banned_ms = excluded.banned_ms, until_ms = excluded.until_ms,"
    " by_user = excluded.by_user, ts_ms = excluded.ts_ms, wid = excluded.wid,"
    " seq = excluded.seq" LATER("t");

static const char k_priority[] =
    "INSERT INTO mod_priorities AS t (seq, ts_ms, by_user, wid, user_id, level)"
    " VALUES($1,$2,$3,$4,$5,$6)"
    " ON CONFLICT(user_id) DO UPDATE SET level = excluded.level, by_user = excluded.by_user,"
    " ts_ms = excluded.ts_ms, wid = excluded.wid, seq = excluded.seq" LATER("t");

/* The statement of each change (mod_store_op), in this engine's SQL. */
static const char *const k_sql[] = {
    [MOD_STORE_OP_WORD] = k_word,
    [MOD_STORE_OP_REGEX] = k_regex,
    [MOD_STORE_OP_CONTEXT] = k_context,
    [MOD_STORE_OP_VIOLATION] = k_violation,
    [MOD_STORE_OP_WARNINGS_CLEAR] = k_clear,
    [MOD_STORE_OP_BAN] = k_ban,
    [MOD_STORE_OP_PRIORITY] = k_priority,
};

#define NPARAMS_MAX 10
typedef struct params {
    char num[NPARAMS_MAX][24];
    const char *v[NPARAMS_MAX];
    int n;
} params;

static void p_i64(params *p, int64_t v)
{
    snprintf(p->num[p->n], sizeof p->num[p->n], "%" PRId64, v);
    p->v[p->n] = p->num[p->n];
    p->n++;
}

/* 0 = none: NULL, as the SQLite store binds ids. */
static void p_id(params *p, uint64_t id)
{
    if (id)
        p_i64(p, (int64_t)id);
    else
        p->v[p->n++] = NULL;
}

static void p_text(params *p, const char *s, const char *dflt)
{
    p->v[p->n++] = s ? s : dflt;
}

int mod_pgstore_apply(PGconn *c, int64_t wid, const an_event *e, char *err, size_t errlen)
{
    const char *op = e->action ? e->action : "";
    cJSON *d = e->details ? cJSON_Parse(e->details) : NULL;
    mod_store_op kind = mod_store_op_of(op, d, e->user_id);
    if (kind == MOD_STORE_OP_NONE) {
        cJSON_Delete(d);
        snprintf(err, errlen, "malformed moderation change '%s'", op);
        return SQLITE_MISMATCH;
    }
    bool keyed = mod_store_op_keyed(kind);
    const char *sql = k_sql[kind];
    params p = {.n = 0};
    p_i64(&p, (int64_t)e->seq);
    p_i64(&p, e->ts_ms);
    int active = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(d, "active"));
    if (kind == MOD_STORE_OP_VIOLATION) {
        p_id(&p, e->guild_id);
        p_i64(&p, wid);
        p_i64(&p, (int64_t)e->user_id);
        p_text(&p, util_json_str(d, "kind", NULL), "");
        p_text(&p, util_json_str(d, "name", NULL), "");
        p_text(&p, util_json_str(d, "severity", NULL), NULL);
        p_text(&p, util_json_str(d, "outcome", NULL), "warning");
        p_text(&p, util_json_str(d, "prompt", NULL), NULL);
    } else {
        p_id(&p, util_json_snowflake(d, "by"));
        p_i64(&p, wid);
        if (keyed)
            p_text(&p, util_json_str(d, "key", NULL), "");
        else
            p_i64(&p, (int64_t)e->user_id);
        if (kind == MOD_STORE_OP_WORD) {
            p_text(&p, util_json_str(d, "text", NULL), "");
            p_i64(&p, active);
        } else if (kind == MOD_STORE_OP_REGEX) {
            p_text(&p, util_json_str(d, "name", NULL), "");
            p_text(&p, util_json_str(d, "pattern", NULL), "");
            p_text(&p, util_json_str(d, "description", NULL), NULL);
            p_text(&p, util_json_str(d, "severity", NULL), "medium");
            p_i64(&p, active);
        } else if (kind == MOD_STORE_OP_CONTEXT) {
            p_text(&p, util_json_str(d, "allowed", NULL), "");
            p_text(&p, util_json_str(d, "disallowed", NULL), "");
            p_text(&p, util_json_str(d, "description", NULL), NULL);
            p_i64(&p, active);
        } else if (kind == MOD_STORE_OP_BAN) {
            p_i64(&p, active);
            p_text(&p, util_json_str(d, "reason", NULL), NULL);
            p_i64(&p, util_json_i64(d, "banned_ms", 0));
            p_i64(&p, util_json_i64(d, "until_ms", 0));
        } else if (kind == MOD_STORE_OP_PRIORITY) {
            p_text(&p, util_json_str(d, "level", NULL), "normal");
        }
    }
    PGresult *r = PQexecParams(c, sql, p.n, NULL, p.v, NULL, NULL, 0);
    cJSON_Delete(d);
    int rc = PQresultStatus(r) == PGRES_COMMAND_OK ? SQLITE_OK : pg_anstore_code(c, r);
    if (rc == SQLITE_OK) {
        PQclear(r);
        r = PQexec(c, "UPDATE mod_version SET v = v + 1 WHERE id = 1");
        rc = PQresultStatus(r) == PGRES_COMMAND_OK ? SQLITE_OK : pg_anstore_code(c, r);
    }
    if (rc != SQLITE_OK) {
        snprintf(err, errlen, "applying a moderation change: %s", PQresultErrorMessage(r));
        size_t n = strlen(err);
        while (n > 0 && err[n - 1] == '\n')
            err[--n] = 0;
    }
    PQclear(r);
    return rc;
}

/* ---- reading ------------------------------------------------------------------------------ */

static mod_user *user_slot(mod_loaded *l, uint64_t id)
{
    for (size_t i = 0; i < l->count; i++)
        if (l->users[i].id == id) return &l->users[i];
    mod_user *u = realloc(l->users, (l->count + 1) * sizeof *u);
    if (!u) abort();
    l->users = u;
    memset(&u[l->count], 0, sizeof *u);
    u[l->count].id = id;
    return &u[l->count++];
}

static int64_t i64(const PGresult *r, int row, int col)
{
    return PQgetisnull(r, row, col) ? 0 : strtoll(PQgetvalue(r, row, col), NULL, 10);
}

static int read_all(PGconn *c, int64_t now_ms, mod_loaded *out, char *err, size_t errlen)
{
    static const char *const q[] = {
        "SELECT text FROM mod_words WHERE active = 1 ORDER BY ts_ms, seq",
        "SELECT name, pattern, COALESCE(description, ''), severity FROM mod_regexes"
        " WHERE active = 1 ORDER BY ts_ms, seq",
        "SELECT key, allowed, disallowed, COALESCE(description, '') FROM mod_context_rules"
        " WHERE active = 1 ORDER BY ts_ms, seq",
        "SELECT user_id, COALESCE(reason, ''), banned_ms, until_ms, by_user FROM mod_bans"
        " WHERE active = 1 AND (until_ms IS NULL OR until_ms = 0 OR until_ms > $1::bigint)",
        "SELECT v.user_id, COUNT(*) FROM mod_violations v LEFT JOIN mod_warning_clears c"
        " ON c.user_id = v.user_id WHERE v.outcome = 'warning' AND (c.user_id IS NULL"
        " OR (v.ts_ms, v.seq) > (c.ts_ms, c.seq)) GROUP BY v.user_id",
        "SELECT user_id, level FROM mod_priorities WHERE level <> 'normal'",
    };
    char now[24], why[400];
    snprintf(now, sizeof now, "%" PRId64, now_ms);
    const char *p[1] = {now};
    /* One snapshot: a change committed while reading is either wholly in or wholly out. */
    PQclear(PQexec(c, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY"));
    int res = 0;
    for (size_t k = 0; k < sizeof q / sizeof q[0] && res == 0; k++) {
        PGresult *r = PQexecParams(c, q[k], k == 3 ? 1 : 0, NULL, k == 3 ? p : NULL, NULL, NULL, 0);
        if (PQresultStatus(r) != PGRES_TUPLES_OK) {
            snprintf(err, errlen, "reading the moderation state: %s", PQresultErrorMessage(r));
            PQclear(r);
            res = -1;
            break;
        }
        for (int i = 0; i < PQntuples(r); i++) {
            int bad = 0;
            switch (k) {
            case 0:
                bad = mod_rules_add_word(out->rules, PQgetvalue(r, i, 0), why, sizeof why);
                break;
            case 1:
                bad =
                    mod_rules_add_regex(out->rules, PQgetvalue(r, i, 0), PQgetvalue(r, i, 1),
                                        PQgetvalue(r, i, 2), PQgetvalue(r, i, 3), why, sizeof why);
                break;
            case 2:
                bad = mod_rules_add_context(out->rules, PQgetvalue(r, i, 0), PQgetvalue(r, i, 1),
                                            PQgetvalue(r, i, 2), PQgetvalue(r, i, 3), why,
                                            sizeof why);
                break;
            case 3: {
                mod_user *u = user_slot(out, (uint64_t)i64(r, i, 0));
                u->banned = true;
                snprintf(u->reason, sizeof u->reason, "%s", PQgetvalue(r, i, 1));
                u->banned_ms = i64(r, i, 2);
                u->until_ms = i64(r, i, 3);
                u->by = (uint64_t)i64(r, i, 4);
                break;
            }
            case 4: {
                mod_user *u = user_slot(out, (uint64_t)i64(r, i, 0));
                int64_t n = i64(r, i, 1);
                u->warnings = n > 1000 ? 1000u : (unsigned)n;
                break;
            }
            default: {
                int pr = mod_priority_parse(PQgetvalue(r, i, 1));
                if (pr > 0) user_slot(out, (uint64_t)i64(r, i, 0))->priority = (mod_priority)pr;
                break;
            }
            }
            if (bad) {
                out->skipped++;
                LOG_WARN(LOGN, "a stored filter rule no longer loads and is skipped: %s", why);
            }
        }
        PQclear(r);
    }
    PQclear(PQexec(c, "COMMIT"));
    return res;
}

int mod_pgstore_version(PGconn *c, int64_t *version, char *err, size_t errlen)
{
    PGresult *r = PQexec(c, "SELECT v FROM mod_version WHERE id = 1");
    int ok = PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1;
    if (ok)
        *version = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
    else
        snprintf(err, errlen, "reading the moderation version: %s",
                 r ? PQresultErrorMessage(r) : PQerrorMessage(c));
    PQclear(r);
    return ok ? 0 : -1;
}

int mod_pgstore_read(PGconn *c, int64_t now_ms, mod_loaded *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    out->rules = mod_rules_new();
    return read_all(c, now_ms, out, err, errlen);
}

int mod_pgstore_load(const char *url, int64_t now_ms, mod_loaded *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    out->rules = mod_rules_new();
    PGconn *c = pg_open(url, 5000, err, errlen);
    if (!c) return -1;
    int res = pg_anstore_schema(c, err, errlen);
    if (res == 0) res = read_all(c, now_ms, out, err, errlen);
    PQfinish(c);
    return res;
}
