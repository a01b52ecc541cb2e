/* Moderation tables: applying recorded changes, reading the state at start (see mod_store.h). */
#include "moderation/mod_store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "fluxbot/log.h"
#include "util/util_json.h"

#define LOGN "moderation"

static void bind_opt_text(sqlite3_stmt *st, int i, const char *s)
{
    if (s)
        sqlite3_bind_text(st, i, s, -1, SQLITE_TRANSIENT);
    else
        sqlite3_bind_null(st, i);
}

static void bind_id(sqlite3_stmt *st, int i, uint64_t id)
{
    if (id)
        sqlite3_bind_int64(st, i, (int64_t)id);
    else
        sqlite3_bind_null(st, i);
}

/* Every statement binds ?1 seq, ?2 ts_ms, ?3 by_user, then its own from ?4. */
static const char k_word[] =
    "INSERT INTO mod_words(seq, ts_ms, by_user, key, text, active) VALUES(?1,?2,?3,?4,?5,?6)"
    " ON CONFLICT(key) DO UPDATE SET text = excluded.text, active = excluded.active,"
    " by_user = excluded.by_user, ts_ms = excluded.ts_ms, seq = excluded.seq"
    " WHERE excluded.seq > mod_words.seq";
static const char k_regex[] =
    "INSERT INTO mod_regexes(seq, ts_ms, by_user, key, name, pattern, description, severity,"
    " active) VALUES(?1,?2,?3,?4,?5,?6,?7,?8,?9)"
    " ON CONFLICT(key) DO UPDATE SET name = excluded.name, pattern = excluded.pattern,"
    " description = excluded.description, severity = excluded.severity,"
    " active = excluded.active, by_user = excluded.by_user, ts_ms = excluded.ts_ms,"
    " seq = excluded.seq WHERE excluded.seq > mod_regexes.seq";
static const char k_context[] =
    "INSERT INTO mod_context_rules(seq, ts_ms, by_user, key, allowed, disallowed, description,"
    " active) VALUES(?1,?2,?3,?4,?5,?6,?7,?8)"
    " ON CONFLICT(key) DO UPDATE SET allowed = excluded.allowed,"
    " disallowed = excluded.disallowed, description = excluded.description,"
    " active = excluded.active, by_user = excluded.by_user, ts_ms = excluded.ts_ms,"
    " seq = excluded.seq WHERE excluded.seq > mod_context_rules.seq";
static const char k_violation[] =
    "INSERT INTO mod_violations(seq, ts_ms, guild_id, user_id, rule_kind, rule_name, severity,"
    " outcome, prompt) VALUES(?1,?2,?3,?4,?5,?6,?7,?8,?9)";
static const char k_clear[] =
    "INSERT INTO mod_warning_clears(seq, ts_ms, by_user, user_id) VALUES(?1,?2,?3,?4)"
    " ON CONFLICT(user_id) DO UPDATE SET by_user = excluded.by_user, ts_ms = excluded.ts_ms,"
    " seq = excluded.seq WHERE excluded.seq > mod_warning_clears.seq";
static const char k_ban[] =
    "INSERT INTO mod_bans(seq, ts_ms, by_user, user_id, active, reason, banned_ms, until_ms)"
    " VALUES(?1,?2,?3,?4,?5,?6,?7,?8)"
    " ON CONFLICT(user_id) DO UPDATE SET active = excluded.active, reason = excluded.reason,"
    " banned_ms = excluded.banned_ms, until_ms = excluded.until_ms,"
    " by_user = excluded.by_user, ts_ms = excluded.ts_ms, seq = excluded.seq"
    " WHERE excluded.seq > mod_bans.seq";

static const char k_priority[] =
    "INSERT INTO mod_priorities(seq, ts_ms, by_user, user_id, level) VALUES(?1,?2,?3,?4,?5)"
    " ON CONFLICT(user_id) DO UPDATE SET level = excluded.level, by_user = excluded.by_user,"
    " ts_ms = excluded.ts_ms, seq = excluded.seq WHERE excluded.seq > mod_priorities.seq";

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

int mod_priority_parse(const char *s)
{
    if (!s) return -1;
    if (strcmp(s, "normal") == 0) return MOD_PRIORITY_NORMAL;
    if (strcmp(s, "high") == 0) return MOD_PRIORITY_HIGH;
    if (strcmp(s, "low") == 0) return MOD_PRIORITY_LOW;
    return -1;
}

const char *mod_priority_name(mod_priority p)
{
    return p == MOD_PRIORITY_HIGH ? "high" : p == MOD_PRIORITY_LOW ? "low" : "normal";
}

mod_store_op mod_store_op_of(const char *action, const cJSON *d, uint64_t user_id)
{
    static const struct {
        const char *name;
        mod_store_op op;
    } k_ops[] = {{"word", MOD_STORE_OP_WORD},
                 {"regex", MOD_STORE_OP_REGEX},
                 {"context", MOD_STORE_OP_CONTEXT},
                 {"violation", MOD_STORE_OP_VIOLATION},
                 {"warnings_clear", MOD_STORE_OP_WARNINGS_CLEAR},
                 {"ban", MOD_STORE_OP_BAN},
                 {"priority", MOD_STORE_OP_PRIORITY}};
    if (!action || !cJSON_IsObject(d)) return MOD_STORE_OP_NONE;
    mod_store_op op = MOD_STORE_OP_NONE;
    for (size_t i = 0; i < sizeof k_ops / sizeof k_ops[0]; i++)
        if (strcmp(action, k_ops[i].name) == 0) op = k_ops[i].op;
    if (op == MOD_STORE_OP_PRIORITY && mod_priority_parse(util_json_str(d, "level", NULL)) < 0)
        return MOD_STORE_OP_NONE;
    if (mod_store_op_keyed(op) ? !util_json_str(d, "key", NULL) : !user_id)
        return MOD_STORE_OP_NONE;
    return op;
}

bool mod_store_op_keyed(mod_store_op op)
{
    return op == MOD_STORE_OP_WORD || op == MOD_STORE_OP_REGEX || op == MOD_STORE_OP_CONTEXT;
}

int mod_store_apply(sqlite3 *db, const an_event *e)
{
    const char *op = e->action ? e->action : "";
    cJSON *d = e->details ? cJSON_Parse(e->details) : NULL;
    if (!cJSON_IsObject(d)) {
        cJSON_Delete(d);
        return SQLITE_MISMATCH;
    }
    mod_store_op kind = mod_store_op_of(op, d, e->user_id);
    if (kind == MOD_STORE_OP_NONE) {
        cJSON_Delete(d);
        return SQLITE_MISMATCH;
    }
    bool keyed = mod_store_op_keyed(kind);
    const char *sql = k_sql[kind];
    sqlite3_stmt *st;
    int rc = sqlite3_prepare_v2(db, sql, -1, &st, NULL);
    if (rc != SQLITE_OK) {
        cJSON_Delete(d);
        return rc;
    }
    sqlite3_bind_int64(st, 1, (int64_t)e->seq);
    sqlite3_bind_int64(st, 2, e->ts_ms);
    int active = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(d, "active"));
    if (kind == MOD_STORE_OP_VIOLATION) {
        bind_id(st, 3, e->guild_id);
        sqlite3_bind_int64(st, 4, (int64_t)e->user_id);
        bind_opt_text(st, 5, util_json_str(d, "kind", NULL) ? util_json_str(d, "kind", NULL) : "");
        bind_opt_text(st, 6, util_json_str(d, "name", NULL) ? util_json_str(d, "name", NULL) : "");
        bind_opt_text(st, 7, util_json_str(d, "severity", NULL));
        bind_opt_text(st, 8,
                      util_json_str(d, "outcome", NULL) ? util_json_str(d, "outcome", NULL)
                                                        : "warning");
        bind_opt_text(st, 9, util_json_str(d, "prompt", NULL));
    } else {
        bind_id(st, 3, util_json_snowflake(d, "by"));
        if (keyed)
            bind_opt_text(st, 4, util_json_str(d, "key", NULL));
        else
            sqlite3_bind_int64(st, 4, (int64_t)e->user_id);
        if (kind == MOD_STORE_OP_WORD) {
            bind_opt_text(st, 5,
                          util_json_str(d, "text", NULL) ? util_json_str(d, "text", NULL) : "");
            sqlite3_bind_int(st, 6, active);
        } else if (kind == MOD_STORE_OP_REGEX) {
            bind_opt_text(st, 5,
                          util_json_str(d, "name", NULL) ? util_json_str(d, "name", NULL) : "");
            bind_opt_text(
                st, 6, util_json_str(d, "pattern", NULL) ? util_json_str(d, "pattern", NULL) : "");
            bind_opt_text(st, 7, util_json_str(d, "description", NULL));
            bind_opt_text(st, 8,
                          util_json_str(d, "severity", NULL) ? util_json_str(d, "severity", NULL)
                                                             : "medium");
            sqlite3_bind_int(st, 9, active);
        } else if (kind == MOD_STORE_OP_CONTEXT) {
            bind_opt_text(
                st, 5, util_json_str(d, "allowed", NULL) ? util_json_str(d, "allowed", NULL) : "");
            bind_opt_text(
                st, 6,
                util_json_str(d, "disallowed", NULL) ? util_json_str(d, "disallowed", NULL) : "");
            bind_opt_text(st, 7, util_json_str(d, "description", NULL));
            sqlite3_bind_int(st, 8, active);
        } else if (kind == MOD_STORE_OP_BAN) {
            sqlite3_bind_int(st, 5, active);
            bind_opt_text(st, 6, util_json_str(d, "reason", NULL));
            sqlite3_bind_int64(st, 7, util_json_i64(d, "banned_ms", 0));
            sqlite3_bind_int64(st, 8, util_json_i64(d, "until_ms", 0));
        } else if (kind == MOD_STORE_OP_PRIORITY) {
            bind_opt_text(st, 5, util_json_str(d, "level", NULL));
        }
    }
    rc = sqlite3_step(st);
    sqlite3_finalize(st);
    cJSON_Delete(d);
    return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

/* ---- start -------------------------------------------------------------------------------- */

static const char *col(sqlite3_stmt *st, int i)
{
    const unsigned char *t = sqlite3_column_text(st, i);
    return t ? (const char *)t : "";
}

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

static int read_all(sqlite3 *db, int64_t now_ms, bool has_priorities, mod_loaded *out, char *err,
                    size_t errlen)
{
    static const char *const q[] = {
        "SELECT text FROM mod_words WHERE active = 1 ORDER BY seq",
        "SELECT name, pattern, description, severity FROM mod_regexes WHERE active = 1"
        " ORDER BY seq",
        "SELECT key, allowed, disallowed, description FROM mod_context_rules WHERE active = 1"
        " ORDER BY seq",
        "SELECT user_id, reason, banned_ms, until_ms, by_user FROM mod_bans WHERE active = 1"
        " AND (until_ms IS NULL OR until_ms = 0 OR until_ms > ?1)",
        "SELECT v.user_id, COUNT(*) FROM mod_violations v LEFT JOIN mod_warning_clears c"
        " ON c.user_id = v.user_id WHERE v.outcome = 'warning' AND v.seq > COALESCE(c.seq, 0)"
        " GROUP BY v.user_id",
        /* a database from before schema version 10 has none (has_priorities) */
        "SELECT user_id, level FROM mod_priorities WHERE level <> 'normal'",
    };
    char why[400];
    for (size_t k = 0; k < sizeof q / sizeof q[0]; k++) {
        if (k == 5 && !has_priorities) break;
        sqlite3_stmt *st;
        int rc = sqlite3_prepare_v2(db, q[k], -1, &st, NULL);
        if (rc != SQLITE_OK) {
            snprintf(err, errlen, "reading the moderation state: %s", sqlite3_errmsg(db));
            return -1;
        }
        if (k == 3) sqlite3_bind_int64(st, 1, now_ms);
        while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
            int bad = 0;
            switch (k) {
            case 0:
                bad = mod_rules_add_word(out->rules, col(st, 0), why, sizeof why);
                break;
            case 1:
                bad = mod_rules_add_regex(out->rules, col(st, 0), col(st, 1), col(st, 2),
                                          col(st, 3), why, sizeof why);
                break;
            case 2:
                bad = mod_rules_add_context(out->rules, col(st, 0), col(st, 1), col(st, 2),
                                            col(st, 3), why, sizeof why);
                break;
            case 3: {
                mod_user *u = user_slot(out, (uint64_t)sqlite3_column_int64(st, 0));
                u->banned = true;
                snprintf(u->reason, sizeof u->reason, "%s", col(st, 1));
                u->banned_ms = sqlite3_column_int64(st, 2);
                u->until_ms = sqlite3_column_int64(st, 3);
                u->by = (uint64_t)sqlite3_column_int64(st, 4);
                break;
            }
            case 4: {
                mod_user *u = user_slot(out, (uint64_t)sqlite3_column_int64(st, 0));
                int64_t n = sqlite3_column_int64(st, 1);
                u->warnings = n > 1000 ? 1000u : (unsigned)n;
                break;
            }
            default: {
                int p = mod_priority_parse(col(st, 1));
                if (p > 0)
                    user_slot(out, (uint64_t)sqlite3_column_int64(st, 0))->priority =
                        (mod_priority)p;
                break;
            }
            }
            if (bad) {
                out->skipped++;
                LOG_WARN(LOGN, "a stored filter rule no longer loads and is skipped: %s", why);
            }
        }
        sqlite3_finalize(st);
        if (rc != SQLITE_DONE) {
            snprintf(err, errlen, "reading the moderation state: %s", sqlite3_errmsg(db));
            return -1;
        }
    }
    return 0;
}

int mod_store_load(const char *path, int64_t now_ms, mod_loaded *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    out->rules = mod_rules_new();
    if (!path || !*path) return 0;
    sqlite3 *db = NULL;
    int rc = sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, NULL);
    if (rc == SQLITE_CANTOPEN) { /* a new bot: nothing stored yet */
        sqlite3_close(db);
        return 0;
    }
    if (rc != SQLITE_OK) {
        snprintf(err, errlen, "cannot open '%s': %s", path, db ? sqlite3_errmsg(db) : "?");
        sqlite3_close(db);
        return -1;
    }
    sqlite3_busy_timeout(db, 2000);
    sqlite3_stmt *st;
    int has = 0, has_priorities = 0;
    rc = sqlite3_prepare_v2(db,
                            "SELECT COALESCE(SUM(name = 'mod_bans'), 0),"
                            " COALESCE(SUM(name = 'mod_priorities'), 0)"
                            " FROM sqlite_master WHERE type = 'table'",
                            -1, &st, NULL);
    if (rc == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW) {
        has = sqlite3_column_int(st, 0);
        has_priorities = sqlite3_column_int(st, 1);
    }
    sqlite3_finalize(st);
    int res = 0;
    if (rc != SQLITE_OK) {
        snprintf(err, errlen, "cannot read '%s': %s", path, sqlite3_errmsg(db));
        res = -1;
    } else if (has) {
        res = read_all(db, now_ms, has_priorities != 0, out, err, errlen);
    }
    sqlite3_close(db);
    return res;
}

void mod_loaded_free(mod_loaded *l)
{
    mod_rules_free(l->rules);
    free(l->users);
    memset(l, 0, sizeof *l);
}
