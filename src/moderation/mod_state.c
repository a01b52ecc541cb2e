/* In-memory moderation state: snapshots, their swaps and the recorded changes (mod_state.h). */
#include "moderation/mod_state.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <cjson/cJSON.h>

#include "analytics/an_event.h"
#include "fluxbot/log.h"
#include "fluxbot/runtime.h"
#include "moderation/mod_fold.h"
#include "moderation/mod_rcu.h"
#include "util/util_json.h"

#define LOGN "moderation"

/* Users with a warning or a ban, sorted by id. Entries are immutable and shared between
 * consecutive snapshots; a change replaces the pointer of the one entry it changes. */
typedef struct mod_users {
    mod_user **items;
    size_t count;
} mod_users;

struct mod_state {
    mod_rcu rcu;
    _Atomic(mod_rules *) rules;
    _Atomic(mod_users *) users;
    _Atomic(mod_access *) access;
    atomic_uint max_warnings;
    _Atomic(mod_record_fn) record;
    _Atomic(void *) record_ctx;
    _Atomic(mod_clock_fn) clock;
    _Atomic(void *) clock_ctx;
    pthread_mutex_t lock; /* serialises changes (never taken by readers) */
    /* rt_now_ms of the latest change recorded here, and how many: a refresh from the shared
     * database must not replace state the writer may not have committed yet (mod_state.h). */
    _Atomic uint64_t last_change_ms, changes;
};

int64_t mod_state_now(mod_state *s)
{
    mod_clock_fn fn = atomic_load(&s->clock);
    return fn ? fn(atomic_load(&s->clock_ctx)) : (int64_t)rt_wall_ms();
}

void mod_state_set_clock(mod_state *s, mod_clock_fn clock, void *ctx)
{
    atomic_store(&s->clock_ctx, ctx);
    atomic_store(&s->clock, clock);
}

mod_state *mod_state_new(const mod_config *cfg)
{
    mod_state *s = calloc(1, sizeof *s);
    if (!s) abort();
    mod_rcu_init(&s->rcu);
    atomic_init(&s->rules, mod_rules_new());
    mod_users *u = calloc(1, sizeof *u);
    mod_access *a = calloc(1, sizeof *a);
    if (!u || !a) abort();
    a->dflt.has_channels = a->dflt.has_roles = a->dflt.has_dms = a->dflt.has_nsfw = true;
    atomic_init(&s->users, u);
    atomic_init(&s->access, a);
    atomic_init(&s->max_warnings, cfg ? cfg->max_warnings : 2);
    atomic_init(&s->record, NULL);
    atomic_init(&s->record_ctx, NULL);
    atomic_init(&s->clock, cfg ? cfg->clock : NULL);
    atomic_init(&s->clock_ctx, cfg ? cfg->clock_ctx : NULL);
    pthread_mutex_init(&s->lock, NULL);
    return s;
}

static void users_free(mod_users *u, bool entries)
{
    if (!u) return;
    if (entries)
        for (size_t i = 0; i < u->count; i++)
            free(u->items[i]);
    free(u->items);
    free(u);
}

void mod_state_free(mod_state *s)
{
    if (!s) return;
    mod_rules_free(atomic_load(&s->rules));
    users_free(atomic_load(&s->users), true);
    free(atomic_load(&s->access));
    pthread_mutex_destroy(&s->lock);
    free(s);
}

void mod_state_set_recorder(mod_state *s, mod_record_fn fn, void *ctx)
{
    atomic_store(&s->record_ctx, ctx);
    atomic_store(&s->record, fn);
}

void mod_state_set_max_warnings(mod_state *s, unsigned n)
{
    atomic_store(&s->max_warnings, n);
}

unsigned mod_state_max_warnings(mod_state *s)
{
    return atomic_load(&s->max_warnings);
}

static int cmp_user(const void *a, const void *b)
{
    const mod_user *x = *(mod_user *const *)a, *y = *(mod_user *const *)b;
    return x->id < y->id ? -1 : x->id > y->id;
}

/* Adopts l; with check, only when no change was recorded since changes_before (-1 if one was:
 * the check and the swap are one step under the change mutex). */
static int adopt(mod_state *s, mod_loaded *l, bool check, uint64_t changes_before)
{
    pthread_mutex_lock(&s->lock);
    if (check && atomic_load(&s->changes) != changes_before) {
        pthread_mutex_unlock(&s->lock);
        return -1;
    }
    mod_rules *old_rules = atomic_exchange(&s->rules, l->rules);
    mod_users *nu = calloc(1, sizeof *nu);
    if (!nu) abort();
    nu->items = calloc(l->count ? l->count : 1, sizeof *nu->items);
    if (!nu->items) abort();
    for (size_t i = 0; i < l->count; i++) {
        mod_user *e = malloc(sizeof *e);
        if (!e) abort();
        *e = l->users[i];
        nu->items[nu->count++] = e;
    }
    qsort(nu->items, nu->count, sizeof *nu->items, cmp_user);
    mod_users *old_users = atomic_exchange(&s->users, nu);
    mod_rcu_synchronize(&s->rcu);
    pthread_mutex_unlock(&s->lock);
    mod_rules_free(old_rules);
    users_free(old_users, true);
    free(l->users);
    l->users = NULL;
    l->count = 0;
    l->rules = NULL;
    return 0;
}

void mod_state_adopt(mod_state *s, mod_loaded *l)
{
    adopt(s, l, false, 0);
}

uint64_t mod_state_changes(mod_state *s, uint64_t *last_change_ms)
{
    if (last_change_ms) *last_change_ms = atomic_load(&s->last_change_ms);
    return atomic_load(&s->changes);
}

int mod_state_refresh(mod_state *s, mod_loaded *l, uint64_t changes_before)
{
    return adopt(s, l, true, changes_before);
}

void mod_state_set_access(mod_state *s, const mod_access *a)
{
    mod_access *n = malloc(sizeof *n);
    if (!n) abort();
    *n = *a;
    pthread_mutex_lock(&s->lock);
    mod_access *old = atomic_exchange(&s->access, n);
    mod_rcu_synchronize(&s->rcu);
    pthread_mutex_unlock(&s->lock);
    free(old);
}

/* ---- reads --------------------------------------------------------------------------------- */

static const mod_user *find_user(const mod_users *u, uint64_t id, size_t *pos)
{
    size_t lo = 0, hi = u->count;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (u->items[mid]->id < id)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (pos) *pos = lo;
    return lo < u->count && u->items[lo]->id == id ? u->items[lo] : NULL;
}

static bool ban_in_force(const mod_user *u, int64_t now)
{
    return u && u->banned && (u->until_ms == 0 || u->until_ms > now);
}

mod_access_result mod_state_access(mod_state *s, const char *command, bool generation,
                                   const mod_access_who *who, gw_roles *roles, char *explain,
                                   size_t cap)
{
    unsigned t = mod_rcu_read_begin(&s->rcu);
    const mod_access *a = atomic_load(&s->access);
    mod_access_result r = mod_access_check(a, command, generation, who, roles);
    if (r != MOD_ACCESS_OK && explain) mod_access_explain(a, command, r, explain, cap);
    mod_rcu_read_end(&s->rcu, t);
    return r;
}

bool mod_state_dms_allowed(mod_state *s, const char *command)
{
    unsigned t = mod_rcu_read_begin(&s->rcu);
    mod_access_rule r;
    mod_access_effective(atomic_load(&s->access), command, &r);
    mod_rcu_read_end(&s->rcu, t);
    return r.dms;
}

bool mod_state_banned(mod_state *s, uint64_t user, mod_user *out)
{
    int64_t now = mod_state_now(s);
    unsigned t = mod_rcu_read_begin(&s->rcu);
    const mod_user *u = find_user(atomic_load(&s->users), user, NULL);
    bool banned = ban_in_force(u, now);
    if (banned && out) *out = *u;
    mod_rcu_read_end(&s->rcu, t);
    return banned;
}

mod_priority mod_state_priority(mod_state *s, uint64_t user)
{
    unsigned t = mod_rcu_read_begin(&s->rcu);
    const mod_user *u = find_user(atomic_load(&s->users), user, NULL);
    mod_priority p = u ? u->priority : MOD_PRIORITY_NORMAL;
    mod_rcu_read_end(&s->rcu, t);
    return p;
}

unsigned mod_state_warnings(mod_state *s, uint64_t user)
{
    unsigned t = mod_rcu_read_begin(&s->rcu);
    const mod_user *u = find_user(atomic_load(&s->users), user, NULL);
    unsigned n = u ? u->warnings : 0;
    mod_rcu_read_end(&s->rcu, t);
    return n;
}

mod_check_result mod_state_check(mod_state *s, const char *text, size_t len, mod_hit *hit)
{
    unsigned t = mod_rcu_read_begin(&s->rcu);
    mod_check_result r = mod_rules_check(atomic_load(&s->rules), text, len, hit);
    mod_rcu_read_end(&s->rcu, t);
    return r;
}

size_t mod_state_bans(mod_state *s, size_t offset, mod_user *out, size_t max, size_t *total)
{
    int64_t now = mod_state_now(s);
    size_t n = 0, seen = 0;
    unsigned t = mod_rcu_read_begin(&s->rcu);
    const mod_users *u = atomic_load(&s->users);
    for (size_t i = 0; i < u->count; i++) {
        if (!ban_in_force(u->items[i], now)) continue;
        if (seen >= offset && n < max) out[n++] = *u->items[i];
        seen++;
    }
    mod_rcu_read_end(&s->rcu, t);
    if (total) *total = seen;
    return n;
}

typedef struct sbuf {
    char *p;
    size_t cap, len;
} sbuf;

static void sb_add(sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sb_add(sbuf *b, const char *fmt, ...)
{
    if (!b->cap || b->len + 1 >= b->cap) return;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
    va_end(ap);
    if (n > 0) b->len = b->len + (size_t)n < b->cap ? b->len + (size_t)n : b->cap - 1;
}

static void add_list(sbuf *b, char *const *l, unsigned n)
{
    for (unsigned i = 0; i < n; i++)
        sb_add(b, "%s%s", i ? ", " : "", l[i]);
    if (!n) sb_add(b, "-");
}

void mod_state_describe_rules(mod_state *s, mod_kind kind, char *out, size_t cap)
{
    sbuf b = {out, cap, 0};
    if (cap) out[0] = '\0';
    unsigned t = mod_rcu_read_begin(&s->rcu);
    const mod_rules *r = atomic_load(&s->rules);
    if (kind == MOD_KIND_NONE || kind == MOD_KIND_WORD) {
        sb_add(&b, "**Banned words** (%u)\n", r->nwords);
        for (unsigned i = 0; i < r->nwords; i++)
            sb_add(&b, "%s`%s`", i ? ", " : "", r->words[i].text);
        sb_add(&b, "%s", r->nwords ? "\n" : "");
    }
    if (kind == MOD_KIND_NONE || kind == MOD_KIND_REGEX) {
        sb_add(&b, "**Patterns** (%u)\n", r->nregexes);
        for (unsigned i = 0; i < r->nregexes; i++) {
            const mod_regex *x = &r->regexes[i];
            sb_add(&b, "- %s [%s] `%s`%s%s\n", x->name, x->severity, x->pattern,
                   x->description[0] ? " - " : "", x->description);
        }
    }
    if (kind == MOD_KIND_NONE || kind == MOD_KIND_CONTEXT) {
        sb_add(&b, "**Context rules** (%u)\n", r->ncontexts);
        for (unsigned i = 0; i < r->ncontexts; i++) {
            const mod_context *c = &r->contexts[i];
            sb_add(&b, "- `%s`: allowed next to ", c->trigger);
            add_list(&b, c->allowed, c->nallowed);
            sb_add(&b, "; never next to ");
            add_list(&b, c->disallowed, c->ndisallowed);
            sb_add(&b, "%s%s\n", c->description[0] ? " - " : "", c->description);
        }
    }
    mod_rcu_read_end(&s->rcu, t);
}

/* ---- recording ----------------------------------------------------------------------------- */

static void emit(mod_state *s, const mod_record *r)
{
    mod_record_fn fn = atomic_load(&s->record);
    if (fn && fn(atomic_load(&s->record_ctx), r) != 0)
        LOG_ERROR(LOGN, "the analytics writer stopped: moderation change \"%s\" not saved", r->op);
}

static void record(mod_state *s, const char *op, uint64_t user, uint64_t guild, uint64_t by,
                   cJSON *details)
{
    if (by) util_json_add_u64(details, "by", by);
    char *json = cJSON_PrintUnformatted(details);
    cJSON_Delete(details);
    if (!json) abort();
    if (strlen(json) > AN_MAX_DETAILS) {
        /* Inputs are bounded so that this cannot happen; if it did, the event would be cut
         * into invalid JSON, so say so instead. */
        LOG_ERROR(LOGN, "moderation change \"%s\" too large to record (%zu bytes)", op,
                  strlen(json));
        free(json);
        return;
    }
    mod_record r = {.op = op,
                    .user_id = user,
                    .guild_id = guild,
                    .details_json = json,
                    .ts_ms = mod_state_now(s)};
    atomic_store(&s->last_change_ms, rt_now_ms());
    /* Sent first, counted after: whoever reads the count knows every change it counts is
     * already in the writer's mailbox (the writer's re-read after a database swap relies on
     * it, analytics_writer.c). Both happen under the change mutex, which mod_state_refresh
     * takes to compare the count. */
    emit(s, &r);
    atomic_fetch_add(&s->changes, 1);
    free(json);
}

/* ---- rule changes -------------------------------------------------------------------------- */

typedef int (*rules_edit_fn)(mod_rules *r, const void *arg, char *err, size_t errlen);

/* Copy, edit, publish, then record (mk builds the event from the new rules). */
static int edit_rules(mod_state *s, rules_edit_fn fn, const void *arg, char *err, size_t errlen,
                      const char *op, uint64_t by, cJSON *(*mk)(const mod_rules *, const void *))
{
    pthread_mutex_lock(&s->lock);
    mod_rules *cur = atomic_load(&s->rules);
    mod_rules *next = mod_rules_copy(cur);
    if (fn(next, arg, err, errlen) != 0) {
        pthread_mutex_unlock(&s->lock);
        mod_rules_free(next);
        return -1;
    }
    atomic_store(&s->rules, next);
    record(s, op, 0, 0, by, mk(next, arg));
    mod_rcu_synchronize(&s->rcu);
    pthread_mutex_unlock(&s->lock);
    mod_rules_free(cur);
    return 0;
}

typedef struct word_arg {
    const char *word;
    bool add;
    char key[MOD_WORD_CHARS_MAX * 4 + 1];
} word_arg;

/* The folded phrase the rules and the store key a word by. */
static void word_key(const char *word, char *out, size_t cap)
{
    char *f = mod_fold(word, strlen(word));
    mod_words w;
    mod_words_split(f, 17, &w);
    size_t o = 0;
    out[0] = '\0';
    for (size_t i = 0; i < w.count && o + w.len[i] + 2 < cap; i++) {
        if (i) out[o++] = ' ';
        memcpy(out + o, w.start[i], w.len[i]);
        o += w.len[i];
        out[o] = '\0';
    }
    mod_words_free(&w);
    free(f);
}

static int word_edit(mod_rules *r, const void *arg, char *err, size_t errlen)
{
    const word_arg *a = arg;
    if (a->add) return mod_rules_add_word(r, a->word, err, errlen);
    if (mod_rules_remove_word(r, a->word) == 0) return 0;
    snprintf(err, errlen, "\"%.100s\" is not on the banned word list.", a->word);
    return -1;
}

static cJSON *word_event(const mod_rules *r, const void *arg)
{
    (void)r;
    const word_arg *a = arg;
    cJSON *d = cJSON_CreateObject();
    cJSON_AddStringToObject(d, "key", a->key);
    cJSON_AddStringToObject(d, "text", a->word);
    cJSON_AddBoolToObject(d, "active", a->add);
    return d;
}

static int word_change(mod_state *s, uint64_t by, const char *word, bool add, char *err,
                       size_t errlen)
{
    word_arg a = {.word = word ? word : "", .add = add};
    word_key(a.word, a.key, sizeof a.key);
    return edit_rules(s, word_edit, &a, err, errlen, "word", by, word_event);
}

int mod_state_add_word(mod_state *s, uint64_t by, const char *word, char *err, size_t errlen)
{
    return word_change(s, by, word, true, err, errlen);
}

int mod_state_remove_word(mod_state *s, uint64_t by, const char *word, char *err, size_t errlen)
{
    return word_change(s, by, word, false, err, errlen);
}

typedef struct regex_arg {
    const char *name, *pattern, *description, *severity;
    bool add;
    char key[MOD_WORD_CHARS_MAX * 4 + 1];
} regex_arg;

static int regex_edit(mod_rules *r, const void *arg, char *err, size_t errlen)
{
    const regex_arg *a = arg;
    if (a->add)
        return mod_rules_add_regex(r, a->name, a->pattern, a->description, a->severity, err,
                                   errlen);
    if (mod_rules_remove_regex(r, a->name) == 0) return 0;
    snprintf(err, errlen, "There is no pattern named \"%.100s\".", a->name);
    return -1;
}

static cJSON *regex_event(const mod_rules *r, const void *arg)
{
    const regex_arg *a = arg;
    cJSON *d = cJSON_CreateObject();
    cJSON_AddStringToObject(d, "key", a->key);
    cJSON_AddStringToObject(d, "name", a->name);
    cJSON_AddBoolToObject(d, "active", a->add);
    if (a->add) {
        const mod_regex *x = &r->regexes[r->nregexes - 1];
        cJSON_AddStringToObject(d, "pattern", x->pattern);
        cJSON_AddStringToObject(d, "description", x->description);
        cJSON_AddStringToObject(d, "severity", x->severity);
    } else {
        cJSON_AddStringToObject(d, "pattern", "");
    }
    return d;
}

static int regex_change(mod_state *s, uint64_t by, regex_arg *a, char *err, size_t errlen)
{
    if (!a->name) a->name = "";
    size_t i = 0;
    for (; a->name[i] && i + 1 < sizeof a->key; i++)
        a->key[i] = (char)((a->name[i] >= 'A' && a->name[i] <= 'Z') ? a->name[i] + 32 : a->name[i]);
    a->key[i] = '\0';
    return edit_rules(s, regex_edit, a, err, errlen, "regex", by, regex_event);
}

int mod_state_add_regex(mod_state *s, uint64_t by, const char *name, const char *pattern,
                        const char *description, const char *severity, char *err, size_t errlen)
{
    regex_arg a = {.name = name,
                   .pattern = pattern,
                   .description = description,
                   .severity = severity,
                   .add = true};
    return regex_change(s, by, &a, err, errlen);
}

int mod_state_remove_regex(mod_state *s, uint64_t by, const char *name, char *err, size_t errlen)
{
    regex_arg a = {.name = name};
    return regex_change(s, by, &a, err, errlen);
}

typedef struct context_arg {
    const char *trigger, *allowed, *disallowed, *description;
    bool add;
    char key[MOD_WORD_CHARS_MAX * 4 + 1];
} context_arg;

static int context_edit(mod_rules *r, const void *arg, char *err, size_t errlen)
{
    const context_arg *a = arg;
    if (a->add)
        return mod_rules_add_context(r, a->trigger, a->allowed, a->disallowed, a->description, err,
                                     errlen);
    if (mod_rules_remove_context(r, a->trigger) == 0) return 0;
    snprintf(err, errlen, "There is no context rule for \"%.100s\".", a->trigger);
    return -1;
}

static void join_list(char *const *l, unsigned n, char *out, size_t cap)
{
    sbuf b = {out, cap, 0};
    out[0] = '\0';
    for (unsigned i = 0; i < n; i++)
        sb_add(&b, "%s%s", i ? "," : "", l[i]);
}

static cJSON *context_event(const mod_rules *r, const void *arg)
{
    const context_arg *a = arg;
    cJSON *d = cJSON_CreateObject();
    cJSON_AddStringToObject(d, "key", a->key);
    cJSON_AddBoolToObject(d, "active", a->add);
    if (a->add) {
        const mod_context *c = &r->contexts[r->ncontexts - 1];
        char list[MOD_CONTEXT_WORDS_MAX * (MOD_WORD_CHARS_MAX * 4 + 1) + 1];
        join_list(c->allowed, c->nallowed, list, sizeof list);
        cJSON_AddStringToObject(d, "allowed", list);
        join_list(c->disallowed, c->ndisallowed, list, sizeof list);
        cJSON_AddStringToObject(d, "disallowed", list);
        cJSON_AddStringToObject(d, "description", c->description);
    }
    return d;
}

static int context_change(mod_state *s, uint64_t by, context_arg *a, char *err, size_t errlen)
{
    if (!a->trigger) a->trigger = "";
    word_key(a->trigger, a->key, sizeof a->key);
    return edit_rules(s, context_edit, a, err, errlen, "context", by, context_event);
}

int mod_state_add_context(mod_state *s, uint64_t by, const char *trigger, const char *allowed,
                          const char *disallowed, const char *description, char *err, size_t errlen)
{
    context_arg a = {.trigger = trigger,
                     .allowed = allowed,
                     .disallowed = disallowed,
                     .description = description,
                     .add = true};
    return context_change(s, by, &a, err, errlen);
}

int mod_state_remove_context(mod_state *s, uint64_t by, const char *trigger, char *err,
                             size_t errlen)
{
    context_arg a = {.trigger = trigger};
    return context_change(s, by, &a, err, errlen);
}

/* ---- user changes -------------------------------------------------------------------------- */

/* Replaces (or inserts, or with e NULL removes) the entry of e's / id's user; the caller holds
 * the lock. Returns the old snapshot and, in *old_entry, the entry it no longer holds; both
 * are freed after the readers are gone. */
static mod_users *users_replace(mod_state *s, uint64_t id, mod_user *e, mod_user **old_entry)
{
    const mod_users *cur = atomic_load(&s->users);
    mod_users *n = calloc(1, sizeof *n);
    if (!n) abort();
    n->items = calloc(cur->count + 1, sizeof *n->items);
    if (!n->items) abort();
    size_t pos;
    const mod_user *found = find_user(cur, id, &pos);
    *old_entry = (mod_user *)found;
    if (pos) memcpy(n->items, cur->items, pos * sizeof *n->items);
    size_t k = pos;
    if (e) n->items[k++] = e;
    size_t rest = found ? pos + 1 : pos;
    if (cur->count > rest)
        memcpy(n->items + k, cur->items + rest, (cur->count - rest) * sizeof *n->items);
    n->count = k + (cur->count - rest);
    return atomic_exchange(&s->users, n);
}

static void users_publish_done(mod_state *s, mod_users *old, mod_user *old_entry)
{
    mod_rcu_synchronize(&s->rcu);
    pthread_mutex_unlock(&s->lock);
    users_free(old, false);
    free(old_entry);
}

/* A fresh copy of the user's entry (or a new one), for changing. */
static mod_user *user_copy(mod_state *s, uint64_t id)
{
    mod_user *e = calloc(1, sizeof *e);
    if (!e) abort();
    const mod_user *u = find_user(atomic_load(&s->users), id, NULL);
    if (u) *e = *u;
    e->id = id;
    return e;
}

static void ban_event(mod_state *s, const mod_user *e, uint64_t by)
{
    cJSON *d = cJSON_CreateObject();
    cJSON_AddBoolToObject(d, "active", e->banned);
    cJSON_AddStringToObject(d, "reason", e->reason);
    cJSON_AddNumberToObject(d, "banned_ms", (double)e->banned_ms);
    cJSON_AddNumberToObject(d, "until_ms", (double)e->until_ms);
    record(s, "ban", e->id, 0, by, d);
}

mod_violation_outcome mod_state_violation(mod_state *s, uint64_t user, uint64_t guild,
                                          const mod_hit *hit, const char *prompt,
                                          unsigned *warnings)
{
    int64_t now = mod_state_now(s);
    pthread_mutex_lock(&s->lock);
    mod_user *e = user_copy(s, user);
    unsigned max = atomic_load(&s->max_warnings);
    mod_violation_outcome out;
    if (e->warnings >= max) {
        out = MOD_VIOL_BANNED;
        e->banned = true;
        e->banned_ms = now;
        e->until_ms = 0;
        e->by = 0;
        snprintf(e->reason, sizeof e->reason, "%s",
                 max ? "repeated content filter violations" : "content filter violation");
    } else {
        out = MOD_VIOL_WARNED;
        e->warnings++;
    }
    if (warnings) *warnings = e->warnings;
    mod_user *old_entry;
    mod_users *old = users_replace(s, user, e, &old_entry);

    char kept[MOD_PROMPT_KEEP_BYTES + 1];
    size_t k = an_utf8_cut(prompt ? prompt : "", MOD_PROMPT_KEEP_BYTES);
    memcpy(kept, prompt ? prompt : "", k);
    kept[k] = '\0';
    cJSON *d = cJSON_CreateObject();
    cJSON_AddStringToObject(d, "kind", mod_kind_id(hit->kind));
    cJSON_AddStringToObject(d, "name", hit->name);
    if (hit->severity[0]) cJSON_AddStringToObject(d, "severity", hit->severity);
    cJSON_AddStringToObject(d, "outcome", out == MOD_VIOL_BANNED ? "ban" : "warning");
    cJSON_AddStringToObject(d, "prompt", kept);
    record(s, "violation", user, guild, 0, d);
    if (out == MOD_VIOL_BANNED) ban_event(s, e, 0);

    cJSON *a = cJSON_CreateObject();
    cJSON_AddStringToObject(a, "kind", mod_kind_id(hit->kind));
    cJSON_AddStringToObject(a, "name", hit->name);
    if (hit->severity[0]) cJSON_AddStringToObject(a, "severity", hit->severity);
    cJSON_AddStringToObject(a, "outcome", out == MOD_VIOL_BANNED ? "ban" : "warning");
    char *json = cJSON_PrintUnformatted(a);
    cJSON_Delete(a);
    if (!json) abort();
    mod_record ar = {.activity = true,
                     .op = "content_filter_violation",
                     .user_id = user,
                     .guild_id = guild,
                     .details_json = json,
                     .ts_ms = now};
    emit(s, &ar);
    free(json);
    users_publish_done(s, old, old_entry);
    return out;
}

void mod_state_ban(mod_state *s, uint64_t by, uint64_t user, const char *reason, int64_t until_ms)
{
    int64_t now = mod_state_now(s);
    pthread_mutex_lock(&s->lock);
    mod_user *e = user_copy(s, user);
    e->banned = true;
    e->banned_ms = now;
    e->until_ms = until_ms > 0 ? until_ms : 0;
    e->by = by;
    char clip[sizeof e->reason];
    snprintf(clip, sizeof clip, "%s", reason ? reason : "");
    clip[an_utf8_cut(clip, sizeof clip - 1)] = '\0';
    snprintf(e->reason, sizeof e->reason, "%s", clip);
    mod_user *old_entry;
    mod_users *old = users_replace(s, user, e, &old_entry);
    ban_event(s, e, by);
    users_publish_done(s, old, old_entry);
}

int mod_state_unban(mod_state *s, uint64_t by, uint64_t user)
{
    int64_t now = mod_state_now(s);
    pthread_mutex_lock(&s->lock);
    const mod_user *u = find_user(atomic_load(&s->users), user, NULL);
    if (!ban_in_force(u, now)) {
        pthread_mutex_unlock(&s->lock);
        return -1;
    }
    mod_user *e = user_copy(s, user);
    e->banned = false;
    e->until_ms = 0;
    e->reason[0] = '\0';
    ban_event(s, e, by);
    mod_user *old_entry;
    /* An entry with neither warnings, a ban nor a priority is dropped. */
    bool keep = e->warnings || e->priority != MOD_PRIORITY_NORMAL;
    mod_users *old = users_replace(s, user, keep ? e : NULL, &old_entry);
    if (!keep) free(e);
    users_publish_done(s, old, old_entry);
    return 0;
}

unsigned mod_state_clear_warnings(mod_state *s, uint64_t by, uint64_t user)
{
    pthread_mutex_lock(&s->lock);
    const mod_user *u = find_user(atomic_load(&s->users), user, NULL);
    unsigned had = u ? u->warnings : 0;
    mod_user *e = user_copy(s, user);
    e->warnings = 0;
    record(s, "warnings_clear", user, 0, by, cJSON_CreateObject());
    mod_user *old_entry;
    bool keep = e->banned || e->priority != MOD_PRIORITY_NORMAL;
    mod_users *old = users_replace(s, user, keep ? e : NULL, &old_entry);
    if (!keep) free(e);
    users_publish_done(s, old, old_entry);
    return had;
}

mod_priority mod_state_set_priority(mod_state *s, uint64_t by, uint64_t user, mod_priority p)
{
    pthread_mutex_lock(&s->lock);
    mod_user *e = user_copy(s, user);
    mod_priority had = e->priority;
    e->priority = p;
    cJSON *d = cJSON_CreateObject();
    cJSON_AddStringToObject(d, "level", mod_priority_name(p));
    record(s, "priority", user, 0, by, d);
    bool keep = e->banned || e->warnings || p != MOD_PRIORITY_NORMAL;
    mod_user *old_entry;
    mod_users *old = users_replace(s, user, keep ? e : NULL, &old_entry);
    if (!keep) free(e);
    users_publish_done(s, old, old_entry);
    return had;
}
