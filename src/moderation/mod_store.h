/*
 * mod_store: the moderation state in SQLite. Owns the tables of schema version 5 (the SQL
 * below, run by the analytics migrations), the operations the analytics writer applies for
 * AN_EV_MODERATION events, and the one read at start.
 *
 * Writes go through the single analytics writer (batched, in the same transactions as the
 * statistics), never from the router: the router changes its in-memory state (mod_state.h)
 * and records the change as an event. Each row keeps the event sequence number (seq) of its
 * last change and an update only applies when its seq is higher, so the outcome does not
 * depend on the order in which events from different threads reach the writer. A statistics
 * reset never touches these tables.
 *
 * Operations (event action, details JSON; "by" = the acting user id as a string):
 *   word           {"key","text","active"}                key = the folded phrase
 *   regex          {"key","name","pattern","description","severity","active"}  key = lower name
 *   context        {"key","allowed","disallowed","description","active"}      key = trigger
 *   violation      {"kind","name","severity","outcome","prompt"}   outcome "warning" | "ban"
 *   warnings_clear {}                                      warnings before this seq stop counting
 *   ban            {"active","reason","until_ms"}          until_ms 0 = permanent
 *   priority       {"level"}                               "high" | "normal" | "low" (schema
 *                                                          version 10: MOD_STORE_PRIORITY_SQL)
 */
#ifndef FLUXBOT_MOD_STORE_H
#define FLUXBOT_MOD_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <sqlite3.h>

#include "analytics/an_event.h"
#include "moderation/mod_filter.h"

#define MOD_STORE_SCHEMA_SQL                                                                       \
    "CREATE TABLE mod_words("                                                                      \
    " key TEXT PRIMARY KEY, text TEXT NOT NULL, active INTEGER NOT NULL,"                          \
    " by_user INTEGER, ts_ms INTEGER NOT NULL, seq INTEGER NOT NULL);"                             \
    "CREATE TABLE mod_regexes("                                                                    \
    " key TEXT PRIMARY KEY, name TEXT NOT NULL, pattern TEXT NOT NULL, description TEXT,"          \
    " severity TEXT NOT NULL, active INTEGER NOT NULL,"                                            \
    " by_user INTEGER, ts_ms INTEGER NOT NULL, seq INTEGER NOT NULL);"                             \
    "CREATE TABLE mod_context_rules("                                                              \
    " key TEXT PRIMARY KEY, allowed TEXT NOT NULL, disallowed TEXT NOT NULL, description TEXT,"    \
    " active INTEGER NOT NULL, by_user INTEGER, ts_ms INTEGER NOT NULL, seq INTEGER NOT NULL);"    \
    "CREATE TABLE mod_violations("                                                                 \
    " id INTEGER PRIMARY KEY, seq INTEGER NOT NULL, user_id INTEGER NOT NULL, guild_id INTEGER,"   \
    " ts_ms INTEGER NOT NULL, rule_kind TEXT NOT NULL, rule_name TEXT NOT NULL, severity TEXT,"    \
    " outcome TEXT NOT NULL, prompt TEXT);"                                                        \
    "CREATE INDEX mod_violations_by_user ON mod_violations(user_id, seq);"                         \
    "CREATE TABLE mod_warning_clears("                                                             \
    " user_id INTEGER PRIMARY KEY, by_user INTEGER, ts_ms INTEGER NOT NULL,"                       \
    " seq INTEGER NOT NULL);"                                                                      \
    "CREATE TABLE mod_bans("                                                                       \
    " user_id INTEGER PRIMARY KEY, active INTEGER NOT NULL, reason TEXT, banned_ms INTEGER,"       \
    " until_ms INTEGER, by_user INTEGER, ts_ms INTEGER NOT NULL, seq INTEGER NOT NULL);"

/* The users' dispatch priorities (/priority), schema version 10. A user absent is "normal". */
#define MOD_STORE_PRIORITY_SQL                                                                     \
    "CREATE TABLE mod_priorities("                                                                 \
    " user_id INTEGER PRIMARY KEY, level TEXT NOT NULL, by_user INTEGER,"                          \
    " ts_ms INTEGER NOT NULL, seq INTEGER NOT NULL);"

/* A user's priority when the runner hands waiting jobs to workers (comfy/qsched.h). Zero is
 * the default, so a user nobody set has it. */
typedef enum mod_priority {
    MOD_PRIORITY_NORMAL = 0,
    MOD_PRIORITY_HIGH,
    MOD_PRIORITY_LOW,
} mod_priority;

/* "high", "normal", "low" (-1 for anything else), and back. */
int mod_priority_parse(const char *s);
const char *mod_priority_name(mod_priority p);

/* What a moderation change (an analytics event whose action names the change and whose
 * details JSON holds its fields) does. Both stores (SQLite here, PostgreSQL in mod_pgstore)
 * dispatch on it, so a change one accepts the other accepts too. */
typedef enum mod_store_op {
    MOD_STORE_OP_NONE = 0, /* malformed: an unknown action, or a field the change needs missing */
    MOD_STORE_OP_WORD,
    MOD_STORE_OP_REGEX,
    MOD_STORE_OP_CONTEXT,
    MOD_STORE_OP_VIOLATION,
    MOD_STORE_OP_WARNINGS_CLEAR,
    MOD_STORE_OP_BAN,
    MOD_STORE_OP_PRIORITY,
} mod_store_op;

struct cJSON;
/* The change `action` with parsed details d describes, checked: keyed changes (word, regex,
 * context) need d's "key", the others a user; a priority needs a known level. */
mod_store_op mod_store_op_of(const char *action, const struct cJSON *d, uint64_t user_id);
/* Word, regex and context filters are keyed by name, not by user. */
bool mod_store_op_keyed(mod_store_op op);

#define MOD_REASON_CHARS_MAX 200
#define MOD_PROMPT_KEEP_BYTES 1000 /* of a refused prompt, kept with the violation */

/* One user the moderation state knows: warnings count, ban. */
typedef struct mod_user {
    uint64_t id;
    unsigned warnings; /* violations recorded as warnings since the last clear */
    bool banned;
    int64_t banned_ms;
    int64_t until_ms; /* 0 = permanent */
    uint64_t by;      /* who banned (0 = the content filter) */
    char reason[MOD_REASON_CHARS_MAX * 4 + 1];
    mod_priority priority;
} mod_user;

/* Applies one AN_EV_MODERATION event inside the caller's transaction. SQLITE_OK, or an error
 * code (SQLITE_MISMATCH for a malformed event, which is then dropped by the writer). */
int mod_store_apply(sqlite3 *db, const an_event *e);

/* What the start reads. */
typedef struct mod_loaded {
    mod_rules *rules; /* owned by the caller */
    mod_user *users;  /* malloc'd, count entries */
    size_t count;
    unsigned skipped; /* stored rules that no longer load (logged) */
} mod_loaded;

/* Reads the state from the database at path (read-only). A missing file or a database from
 * before schema version 5 gives an empty state. 0, or -1 with err. */
int mod_store_load(const char *path, int64_t now_ms, mod_loaded *out, char *err, size_t errlen);
void mod_loaded_free(mod_loaded *l);

#endif
