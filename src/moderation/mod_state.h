/*
 * mod_state: the moderation state the router consults on every interaction — filter rules,
 * users' warnings and bans, and the access rules — held in memory as three immutable
 * snapshots. Owns their publication and reclamation (mod_rcu.h) and the rule "every change is
 * recorded as an event for the analytics writer" (mod_store.h).
 *
 * Readers (any router thread, any number at once) never lock and never touch the database.
 * Changes (moderation commands, violations, SIGHUP) are serialised by one mutex: copy the
 * snapshot, change the copy, publish it, record the event while still holding the mutex (so
 * event numbers follow the order of the changes), wait out the readers of the old snapshot and
 * free it. A change is therefore visible to the next interaction any thread handles.
 *
 * The violation policy: a violation by a user with fewer than max_warnings warnings adds a
 * warning; the next one bans them permanently. /warnings clear resets the count; an unban does
 * not (the next violation after an unban bans again unless the warnings were cleared).
 */
#ifndef FLUXBOT_MOD_STATE_H
#define FLUXBOT_MOD_STATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "moderation/mod_access.h"
#include "moderation/mod_filter.h"
#include "moderation/mod_store.h"

typedef int64_t (*mod_clock_fn)(void *ctx); /* Unix ms */

typedef struct mod_config {
    unsigned max_warnings; /* 0 allowed: the first violation bans */
    mod_clock_fn clock;    /* NULL: rt_wall_ms */
    void *clock_ctx;
} mod_config;

typedef struct mod_state mod_state;

mod_state *mod_state_new(const mod_config *cfg);
void mod_state_free(mod_state *s);
/* One change to record: a moderation event (mod_store.h operations) or, with activity set,
 * a user_activity row (op is then its action_type). */
typedef struct mod_record {
    bool activity;
    const char *op;
    uint64_t user_id, guild_id;
    const char *details_json;
    int64_t ts_ms;
} mod_record;
/* Records one change (the router hands it to the analytics writer); 0, or -1 when it could
 * not be accepted (logged by mod_state). Called with the change mutex held, so calls arrive in
 * the order of the changes. */
typedef int (*mod_record_fn)(void *ctx, const mod_record *r);
/* Where changes are recorded; NULL: memory only. Set before use. */
void mod_state_set_recorder(mod_state *s, mod_record_fn fn, void *ctx);
/* Takes what mod_store_load read (before any reader runs); l is emptied. */
void mod_state_adopt(mod_state *s, mod_loaded *l);
/*
 * Refresh from a database several processes share (mod_pgstore.h): the state read there
 * replaces the filters, warnings and bans held here, so changes made by other processes show
 * up. A change made here is in this process's memory at once but in the database only when
 * the analytics writer commits it (normally within analytics_flush_ms): a refresh that read
 * the database before that would undo it for one period. So the refresher reads
 * mod_state_changes before reading the database, skips the read while the latest local change
 * is younger than its guard, and mod_state_refresh adopts l only if no change was recorded
 * since (-1 otherwise; l is then left to the caller to free).
 */
uint64_t mod_state_changes(mod_state *s, uint64_t *last_change_ms);
int mod_state_refresh(mod_state *s, mod_loaded *l, uint64_t changes_before);
/* Publishes new access rules (start, SIGHUP) and the warning limit. */
void mod_state_set_access(mod_state *s, const mod_access *a);
void mod_state_set_max_warnings(mod_state *s, unsigned max_warnings);
unsigned mod_state_max_warnings(mod_state *s);
int64_t mod_state_now(mod_state *s);
/* Replaces the clock (tests: ban expiry without waiting). */
void mod_state_set_clock(mod_state *s, mod_clock_fn clock, void *ctx);

/* ---- reads (lock-free) --------------------------------------------------------------------- */

/* MOD_ACCESS_OK, or the refusal with its explanation in explain. */
mod_access_result mod_state_access(mod_state *s, const char *command, bool generation,
                                   const mod_access_who *who, gw_roles *roles, char *explain,
                                   size_t cap);
/* Does the command work in DMs (for its registration contexts)? */
bool mod_state_dms_allowed(mod_state *s, const char *command);
/* True when the user is banned now (an expired ban is not); *out gets the entry. */
bool mod_state_banned(mod_state *s, uint64_t user, mod_user *out);
unsigned mod_state_warnings(mod_state *s, uint64_t user);
/* The user's dispatch priority (/priority); MOD_PRIORITY_NORMAL when never set. */
mod_priority mod_state_priority(mod_state *s, uint64_t user);
mod_check_result mod_state_check(mod_state *s, const char *text, size_t len, mod_hit *hit);
/* Bans in force, sorted by user id, from offset: copies up to max into out; *total = all. */
size_t mod_state_bans(mod_state *s, size_t offset, mod_user *out, size_t max, size_t *total);
/* The rules of one kind (MOD_KIND_NONE: all), for administrators, as Markdown-ish lines. */
void mod_state_describe_rules(mod_state *s, mod_kind kind, char *out, size_t cap);

/* ---- changes ------------------------------------------------------------------------------- */

typedef enum mod_violation_outcome { MOD_VIOL_WARNED = 0, MOD_VIOL_BANNED } mod_violation_outcome;

/* Records a violation (mod_violations row, user_activity content_filter_violation row) and
 * applies the policy. *warnings gets the count after it. */
mod_violation_outcome mod_state_violation(mod_state *s, uint64_t user, uint64_t guild,
                                          const mod_hit *hit, const char *prompt,
                                          unsigned *warnings);

/* Rule changes by administrator `by`: 0, or -1 with a message in err. */
int mod_state_add_word(mod_state *s, uint64_t by, const char *word, char *err, size_t errlen);
int mod_state_remove_word(mod_state *s, uint64_t by, const char *word, char *err, size_t errlen);
int mod_state_add_regex(mod_state *s, uint64_t by, const char *name, const char *pattern,
                        const char *description, const char *severity, char *err, size_t errlen);
int mod_state_remove_regex(mod_state *s, uint64_t by, const char *name, char *err, size_t errlen);
int mod_state_add_context(mod_state *s, uint64_t by, const char *trigger, const char *allowed,
                          const char *disallowed, const char *description, char *err,
                          size_t errlen);
int mod_state_remove_context(mod_state *s, uint64_t by, const char *trigger, char *err,
                             size_t errlen);

/* Bans (until_ms 0 = permanent; replaces an existing ban). */
void mod_state_ban(mod_state *s, uint64_t by, uint64_t user, const char *reason, int64_t until_ms);
/* -1 when the user is not banned. */
int mod_state_unban(mod_state *s, uint64_t by, uint64_t user);
/* Returns how many warnings were cleared. */
unsigned mod_state_clear_warnings(mod_state *s, uint64_t by, uint64_t user);
/* Sets the user's dispatch priority (recorded as a "priority" change); returns the old one. */
mod_priority mod_state_set_priority(mod_state *s, uint64_t by, uint64_t user, mod_priority p);

#endif
