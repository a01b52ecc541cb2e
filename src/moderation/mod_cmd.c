/* The moderation commands and refusal texts (see mod_cmd.h). */
#include "moderation/mod_cmd.h"

#include <ctype.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "discord/cmd.h"

#define E_STOP "\xf0\x9f\x9a\xab"         /* 🚫 */
#define E_OK "\xe2\x9c\x85"               /* ✅ */
#define E_WARN "\xe2\x9a\xa0\xef\xb8\x8f" /* ⚠️ */

bool mod_cmd_owns(const char *n)
{
    return n && (strcmp(n, CMD_FILTER) == 0 || strcmp(n, CMD_BAN) == 0 ||
                 strcmp(n, CMD_UNBAN) == 0 || strcmp(n, CMD_BANNED) == 0 ||
                 strcmp(n, CMD_WARNINGS) == 0 || strcmp(n, CMD_PRIORITY) == 0);
}

static void say(mod_answer *a, bool success, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void say(mod_answer *a, bool success, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(a->text, sizeof a->text, fmt, ap);
    va_end(ap);
    a->success = success;
}

static void add(mod_answer *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void add(mod_answer *a, const char *fmt, ...)
{
    size_t len = strlen(a->text);
    if (len + 1 >= sizeof a->text) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(a->text + len, sizeof a->text - len, fmt, ap);
    va_end(ap);
}

int64_t mod_parse_duration(const char *s)
{
    if (!s) return 0;
    while (isspace((unsigned char)*s))
        s++;
    if (!*s || strcasecmp(s, "permanent") == 0 || strcasecmp(s, "perm") == 0 ||
        strcasecmp(s, "forever") == 0)
        return 0;
    if (!isdigit((unsigned char)*s)) return -1;
    char *end;
    unsigned long long n = strtoull(s, &end, 10);
    while (isspace((unsigned char)*end))
        end++;
    static const struct {
        const char *unit;
        int64_t ms;
    } units[] = {
        {"m", 60000},        {"min", 60000},       {"mins", 60000},    {"minute", 60000},
        {"minutes", 60000},  {"h", 3600000},       {"hour", 3600000},  {"hours", 3600000},
        {"d", 86400000},     {"day", 86400000},    {"days", 86400000}, {"w", 604800000},
        {"week", 604800000}, {"weeks", 604800000},
    };
    for (size_t i = 0; i < sizeof units / sizeof units[0]; i++) {
        if (strcasecmp(end, units[i].unit) != 0) continue;
        const int64_t max = 10LL * 366 * 86400000LL;
        if (n == 0 || n > (unsigned long long)(max / units[i].ms)) return -1;
        return (int64_t)n * units[i].ms;
    }
    return -1;
}

void mod_text_banned(const mod_user *u, char *out, size_t cap)
{
    int n = snprintf(out, cap, E_STOP " You are banned from using this bot");
    if (n < 0 || (size_t)n >= cap) return;
    size_t o = (size_t)n;
    if (u->until_ms)
        o += (size_t)snprintf(out + o, cap - o, " until <t:%" PRId64 ":f>", u->until_ms / 1000);
    if (o < cap && u->reason[0]) o += (size_t)snprintf(out + o, cap - o, ". Reason: %s", u->reason);
    if (o < cap) snprintf(out + o, cap - o, ".");
}

void mod_text_violation(const mod_hit *hit, mod_violation_outcome o, unsigned warnings,
                        unsigned max_warnings, char *out, size_t cap)
{
    if (o == MOD_VIOL_BANNED) {
        snprintf(out, cap,
                 E_STOP " Your prompt was refused: it matches %s of this server's content "
                        "filter. You had been warned, so you are now banned from using this bot.",
                 mod_kind_label(hit->kind));
        return;
    }
    snprintf(out, cap,
             E_STOP " Your prompt was refused: it matches %s of this server's content filter. "
                    "Warning %u of %u: one more violation after %u warning%s bans you from the "
                    "bot.",
             mod_kind_label(hit->kind), warnings, max_warnings, max_warnings,
             max_warnings == 1 ? "" : "s");
}

void mod_text_uncheckable(char *out, size_t cap)
{
    snprintf(out, cap,
             E_STOP " The content filter could not check this prompt (it is too complex for one "
                    "of its patterns). Please simplify it and try again.");
}

/* ---- /filter ------------------------------------------------------------------------------- */

static void filter_cmd(mod_state *s, const ix_interaction *ix, mod_answer *a)
{
    const char *sub = ix->subcommand ? ix->subcommand : "";
    char err[512];
    uint64_t by = ix->user_id;
    int rc;
    if (strcmp(sub, "word add") == 0) {
        const char *w = ix_opt_str(ix, "word");
        rc = mod_state_add_word(s, by, w, err, sizeof err);
        if (rc == 0)
            say(a, true, E_OK " Banned word added: `%s`.", w);
        else
            say(a, false, E_WARN " %s", err);
    } else if (strcmp(sub, "word remove") == 0) {
        const char *w = ix_opt_str(ix, "word");
        rc = mod_state_remove_word(s, by, w, err, sizeof err);
        if (rc == 0)
            say(a, true, E_OK " Banned word removed: `%s`.", w);
        else
            say(a, false, E_WARN " %s", err);
    } else if (strcmp(sub, "regex add") == 0) {
        const char *name = ix_opt_str(ix, "name");
        rc = mod_state_add_regex(s, by, name, ix_opt_str(ix, "pattern"),
                                 ix_opt_str(ix, "description"), ix_opt_str(ix, "severity"), err,
                                 sizeof err);
        if (rc == 0)
            say(a, true, E_OK " Pattern \"%s\" added.", name);
        else
            say(a, false, E_WARN " %s", err);
    } else if (strcmp(sub, "regex remove") == 0) {
        const char *name = ix_opt_str(ix, "name");
        rc = mod_state_remove_regex(s, by, name, err, sizeof err);
        if (rc == 0)
            say(a, true, E_OK " Pattern \"%s\" removed.", name);
        else
            say(a, false, E_WARN " %s", err);
    } else if (strcmp(sub, "context add") == 0) {
        const char *t = ix_opt_str(ix, "trigger");
        rc =
            mod_state_add_context(s, by, t, ix_opt_str(ix, "allowed"), ix_opt_str(ix, "disallowed"),
                                  ix_opt_str(ix, "description"), err, sizeof err);
        if (rc == 0)
            say(a, true, E_OK " Context rule for `%s` added.", t);
        else
            say(a, false, E_WARN " %s", err);
    } else if (strcmp(sub, "context remove") == 0) {
        const char *t = ix_opt_str(ix, "trigger");
        rc = mod_state_remove_context(s, by, t, err, sizeof err);
        if (rc == 0)
            say(a, true, E_OK " Context rule for `%s` removed.", t);
        else
            say(a, false, E_WARN " %s", err);
    } else if (strcmp(sub, "list") == 0) {
        const char *k = ix_opt_str(ix, "kind");
        mod_kind kind = !k                          ? MOD_KIND_NONE
                        : strcmp(k, "word") == 0    ? MOD_KIND_WORD
                        : strcmp(k, "regex") == 0   ? MOD_KIND_REGEX
                        : strcmp(k, "context") == 0 ? MOD_KIND_CONTEXT
                                                    : MOD_KIND_NONE;
        mod_state_describe_rules(s, kind, a->text, sizeof a->text);
        a->success = true;
    } else {
        say(a, false, "Unknown /filter subcommand.");
    }
}

/* ---- /ban /unban /banned /warnings --------------------------------------------------------- */

static uint64_t user_opt(const ix_interaction *ix)
{
    const ix_option *o = ix_opt(ix, "user");
    return o && o->type == IX_OPT_USER ? o->id : 0;
}

static void ban_cmd(mod_state *s, const ix_interaction *ix, mod_answer *a)
{
    uint64_t user = user_opt(ix);
    if (!user) {
        say(a, false, "Pick the user to ban in the user option.");
        return;
    }
    const char *dur = ix_opt_str(ix, "duration");
    int64_t ms = mod_parse_duration(dur);
    if (ms < 0) {
        say(a, false,
            E_WARN " I cannot read the duration \"%.20s\": use a number and a unit, like 30m, "
                   "12h, 7d or 2w (or leave it empty for a permanent ban).",
            dur ? dur : "");
        return;
    }
    if (user == ix->user_id) {
        say(a, false, E_WARN " You cannot ban yourself.");
        return;
    }
    const char *reason = ix_opt_str(ix, "reason");
    int64_t until = ms ? mod_state_now(s) + ms : 0;
    mod_state_ban(s, ix->user_id, user, reason, until);
    if (until)
        say(a, true, E_OK " <@%" PRIu64 "> is banned from the bot until <t:%" PRId64 ":f>.", user,
            until / 1000);
    else
        say(a, true, E_OK " <@%" PRIu64 "> is banned from the bot.", user);
}

static void unban_cmd(mod_state *s, const ix_interaction *ix, mod_answer *a)
{
    uint64_t user = user_opt(ix);
    if (!user) {
        say(a, false, "Pick the user to unban in the user option.");
        return;
    }
    if (mod_state_unban(s, ix->user_id, user) != 0)
        say(a, false, E_WARN " <@%" PRIu64 "> is not banned.", user);
    else
        say(a, true, E_OK " <@%" PRIu64 "> may use the bot again.", user);
}

static void banned_cmd(mod_state *s, const ix_interaction *ix, mod_answer *a)
{
    int64_t page = 1;
    if (ix_opt_int(ix, "page", &page) && (page < 1 || page > 1000)) page = 1;
    mod_user list[MOD_BANNED_PAGE];
    size_t total = 0;
    size_t n =
        mod_state_bans(s, (size_t)(page - 1) * MOD_BANNED_PAGE, list, MOD_BANNED_PAGE, &total);
    size_t pages = total ? (total + MOD_BANNED_PAGE - 1) / MOD_BANNED_PAGE : 1;
    if (!total) {
        say(a, true, "Nobody is banned from the bot.");
        return;
    }
    say(a, true, "**Banned users** (%zu) - page %" PRId64 " of %zu\n", total, page, pages);
    for (size_t i = 0; i < n; i++) {
        const mod_user *u = &list[i];
        add(a, "- <@%" PRIu64 "> since <t:%" PRId64 ":d>", u->id, u->banned_ms / 1000);
        if (u->until_ms)
            add(a, ", until <t:%" PRId64 ":R>", u->until_ms / 1000);
        else
            add(a, ", permanent");
        if (u->by)
            add(a, ", by <@%" PRIu64 ">", u->by);
        else
            add(a, ", by the content filter");
        if (u->reason[0]) add(a, ": %.200s", u->reason);
        add(a, "\n");
    }
    if (n == 0) add(a, "(no entries on this page)\n");
    if ((size_t)page < pages) add(a, "Next: `/banned page:%" PRId64 "`", page + 1);
}

static void warnings_cmd(mod_state *s, const ix_interaction *ix, bool manager, mod_answer *a)
{
    const char *sub = ix->subcommand ? ix->subcommand : "show";
    uint64_t user = user_opt(ix);
    unsigned max = mod_state_max_warnings(s);
    if (strcmp(sub, "clear") == 0) {
        if (!manager) {
            a->denied = true;
            say(a, false,
                E_STOP " Only administrators and members with the bot-manager role can clear "
                       "warnings.");
            return;
        }
        if (!user) {
            say(a, false, "Pick the user in the user option.");
            return;
        }
        unsigned had = mod_state_clear_warnings(s, ix->user_id, user);
        say(a, true, E_OK " Cleared %u warning%s of <@%" PRIu64 ">.", had, had == 1 ? "" : "s",
            user);
        return;
    }
    if (!user) user = ix->user_id;
    if (user != ix->user_id && !manager) {
        a->denied = true;
        say(a, false,
            E_STOP " You can see your own warnings; other members' are for administrators and "
                   "members with the bot-manager role.");
        return;
    }
    unsigned n = mod_state_warnings(s, user);
    mod_user u;
    bool banned = mod_state_banned(s, user, &u);
    if (user == ix->user_id)
        say(a, true, "You have %u of %u content-filter warning%s.", n, max, max == 1 ? "" : "s");
    else
        say(a, true, "<@%" PRIu64 "> has %u of %u content-filter warning%s.", user, n, max,
            max == 1 ? "" : "s");
    if (banned) add(a, " Banned from the bot%s.", u.until_ms ? " for now" : "");
}

/* /priority user [level]: sets the user's dispatch priority, or shows it without a level. */
static void priority_cmd(mod_state *s, const ix_interaction *ix, mod_answer *a)
{
    uint64_t user = user_opt(ix);
    if (!user) {
        say(a, false, "Pick the user in the user option.");
        return;
    }
    const char *lv = ix_opt_str(ix, "level");
    if (!lv || !*lv) {
        say(a, true, "<@%" PRIu64 ">'s priority is **%s**.", user,
            mod_priority_name(mod_state_priority(s, user)));
        return;
    }
    int p = mod_priority_parse(lv);
    if (p < 0) {
        say(a, false, E_WARN " The level is high, normal or low.");
        return;
    }
    mod_priority had = mod_state_set_priority(s, ix->user_id, user, (mod_priority)p);
    if (had == (mod_priority)p)
        say(a, true, "<@%" PRIu64 ">'s priority stays **%s**.", user, mod_priority_name(had));
    else
        say(a, true,
            E_OK " <@%" PRIu64 ">'s priority is now **%s** (was %s): their waiting jobs are "
                 "taken in that order from now on.",
            user, mod_priority_name((mod_priority)p), mod_priority_name(had));
}

void mod_cmd_run(mod_state *s, const ix_interaction *ix, bool manager, mod_answer *out)
{
    memset(out, 0, sizeof *out);
    const char *name = ix->command_name ? ix->command_name : "";
    if (strcmp(name, CMD_WARNINGS) == 0) {
        warnings_cmd(s, ix, manager, out);
        return;
    }
    if (!manager) {
        out->denied = true;
        say(out, false, E_STOP " /%s is for administrators and members with the bot-manager role.",
            name);
        return;
    }
    if (strcmp(name, CMD_FILTER) == 0)
        filter_cmd(s, ix, out);
    else if (strcmp(name, CMD_BAN) == 0)
        ban_cmd(s, ix, out);
    else if (strcmp(name, CMD_UNBAN) == 0)
        unban_cmd(s, ix, out);
    else if (strcmp(name, CMD_BANNED) == 0)
        banned_cmd(s, ix, out);
    else if (strcmp(name, CMD_PRIORITY) == 0)
        priority_cmd(s, ix, out);
    else
        say(out, false, "Unknown moderation command.");
}
