/* /stats and /reset_stats for Discord: option validation, the embed, the permission rule and
 * the interaction replies, all pure (see an_commands.h). */
#include "analytics/an_commands.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analytics/an_event.h"
#include "analytics/an_time.h"
#include "discord/embed.h"
#include "discord/reply.h"
#include "util/util_dec.h"
#include "util/util_str.h"

/* ---- the days option --------------------------------------------------------------------- */

static an_days_result days_error(an_commands_days_why why, const char *detail)
{
    an_days_result r = {.ok = false, .why = why};
    snprintf(r.error, sizeof r.error,
             "The `days` option must be a whole number of days from %d to %d%s%s.", AN_DAYS_MIN,
             AN_DAYS_MAX, detail ? " " : "", detail ? detail : "");
    return r;
}

static an_days_result days_value(double v)
{
    if (!isfinite(v) || v != floor(v))
        return days_error(AN_COMMANDS_DAYS_NOT_NUMBER, "(fractions are not allowed)");
    if (v < AN_DAYS_MIN || v > AN_DAYS_MAX) {
        char detail[48];
        if (fabs(v) < 1e9)
            snprintf(detail, sizeof detail, "(got %.0f)", v);
        else
            snprintf(detail, sizeof detail, "(it is far out of range)");
        return days_error(v < 0 ? AN_COMMANDS_DAYS_NEGATIVE : AN_COMMANDS_DAYS_OUT_OF_RANGE,
                          detail);
    }
    return (an_days_result){.ok = true, .days = (int)v};
}

an_days_result an_days_from_text(const char *text)
{
    if (!text || !*text) return days_error(AN_COMMANDS_DAYS_EMPTY, "(it is empty)");
    uint64_t v;
    int rc = util_dec_u64(text, strlen(text), &v);
    if (rc == UTIL_DEC_ERANGE)
        return days_error(AN_COMMANDS_DAYS_OUT_OF_RANGE, "(it is too large)");
    if (rc != UTIL_DEC_OK) {
        if (text[0] == '-' && an_parse_u64(text + 1, &v))
            return days_error(AN_COMMANDS_DAYS_NEGATIVE, "(it is negative)");
        return days_error(AN_COMMANDS_DAYS_NOT_NUMBER, "(it is not a number)");
    }
    if (v > (uint64_t)AN_DAYS_MAX)
        return days_error(AN_COMMANDS_DAYS_OUT_OF_RANGE, "(it is too large)");
    return days_value((double)v);
}

an_days_result an_days_from_options(const cJSON *options)
{
    const cJSON *opt = NULL;
    if (cJSON_IsArray(options)) {
        const cJSON *it;
        cJSON_ArrayForEach(it, options)
        {
            const cJSON *name = cJSON_GetObjectItemCaseSensitive(it, "name");
            if (cJSON_IsString(name) && strcmp(name->valuestring, "days") == 0) {
                opt = it;
                break;
            }
        }
    }
    if (!opt) return (an_days_result){.ok = true, .days = AN_DAYS_DEFAULT};
    const cJSON *value = cJSON_GetObjectItemCaseSensitive(opt, "value");
    if (cJSON_IsNumber(value)) return days_value(value->valuedouble);
    if (cJSON_IsString(value)) return an_days_from_text(value->valuestring);
    if (!value || cJSON_IsNull(value)) return (an_days_result){.ok = true, .days = AN_DAYS_DEFAULT};
    return days_error(AN_COMMANDS_DAYS_NOT_NUMBER, "(it is not a number)");
}

/* ---- text helpers ------------------------------------------------------------------------ */

typedef struct sbuf {
    char *p;
    size_t len, cap;
} sbuf;

static void sb_putn(sbuf *b, const char *s, size_t n)
{
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 256;
        while (cap < b->len + n + 1)
            cap *= 2;
        b->p = realloc(b->p, cap);
        if (!b->p) abort();
        b->cap = cap;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

static void sb_puts(sbuf *b, const char *s)
{
    sb_putn(b, s, strlen(s));
}

__attribute__((format(printf, 2, 3))) static void sb_printf(sbuf *b, const char *fmt, ...)
{
    char tmp[256];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n > 0) sb_putn(b, tmp, (size_t)n < sizeof tmp ? (size_t)n : sizeof tmp - 1);
}

/* Appends a stored name (command, resolution) with Discord markdown neutralised, in at most
 * 100 bytes of output (escapes included, whole UTF-8 characters only), so five of them always
 * fit a field value. */
static void sb_put_name(sbuf *b, const char *s)
{
    size_t used = 0, n = strlen(s);
    if (n == 0) sb_puts(b, "(none)");
    for (size_t i = 0; i < n;) {
        size_t len = an_utf8_cut(s + i, 4); /* up to one whole character */
        unsigned char lead = (unsigned char)s[i];
        size_t want = lead < 0x80 ? 1 : lead >= 0xF0 ? 4 : lead >= 0xE0 ? 3 : 2;
        if (len > want) len = want;
        if (len == 0) len = 1; /* a stray continuation byte: copy it, SQLite kept it */
        bool escape = len == 1 && strchr("\\*_~`|>[]()#", s[i]) != NULL;
        if (used + len + escape > 100) break;
        if (escape) sb_putn(b, "\\", 1);
        if (s[i] == '\n' || s[i] == '\r')
            sb_putn(b, " ", 1);
        else
            sb_putn(b, s + i, len);
        used += len + escape;
        i += len;
    }
}

static void sb_duration(sbuf *b, double ms)
{
    if (ms < 0) {
        sb_puts(b, "No data");
    } else if (ms < 60000.0) {
        sb_printf(b, "%.2f s", ms / 1000.0);
    } else {
        unsigned long long total = (unsigned long long)llround(ms / 1000.0);
        sb_printf(b, "%llu min %02llu s", total / 60, total % 60);
    }
}

static void add_field(embed *e, const char *name, const char *value)
{
    embed_add_field(e, name, value, false);
}

static void top_lines(sbuf *b, const an_top_item *items, unsigned n, const char *prefix)
{
    for (unsigned i = 0; i < n; i++) {
        sb_printf(b, "%u. %s", i + 1, prefix);
        sbuf name = {0};
        sb_put_name(&name, items[i].name);
        sb_puts(b, name.p);
        free(name.p);
        sb_printf(b, " \xe2\x80\x94 %llu%s", (unsigned long long)items[i].count,
                  i + 1 < n ? "\n" : "");
    }
}

/* ---- the /stats embed -------------------------------------------------------------------- */

/* Fills e (initialised by the caller) with the /stats sections. */
static void stats_embed(const an_stats *s, embed *ep)
{
    embed e;
    embed_init(&e);
    char title[64];
    if (s->window.days == 1)
        snprintf(title, sizeof title, "Usage Statistics (Last Day)");
    else
        snprintf(title, sizeof title, "Usage Statistics (Last %d Days)", s->window.days);
    embed_set_title(&e, title);
    embed_set_color(&e, 0x3498DB);

    sbuf b = {0};
    if (s->total_images == 0 && s->total_videos == 0) {
        sb_puts(&b, "No data");
    } else {
        sb_printf(&b, "Total Images: %llu\nAverage Generation Time: ",
                  (unsigned long long)s->total_images);
        sb_duration(&b, an_stats_avg_image_ms(s));
        sb_printf(
            &b, "\nTotal Videos: %llu\nAverage Video Time: ", (unsigned long long)s->total_videos);
        sb_duration(&b, an_stats_avg_video_ms(s));
    }
    add_field(&e, "Image Generation", b.p);
    b.len = 0;

    if (s->total_commands == 0 && s->total_buttons == 0) {
        sb_puts(&b, "No data");
    } else {
        sb_printf(&b, "Total Commands: %llu\nPopular Commands:\n",
                  (unsigned long long)s->total_commands);
        if (s->n_top_commands) {
            top_lines(&b, s->top_commands, s->n_top_commands, "/");
            sb_puts(&b, "\n");
        } else {
            sb_puts(&b, "No data\n");
        }
        /* Button presses are interactions, not commands: counted apart, never "popular". */
        sb_printf(&b, "Buttons pressed: %llu", (unsigned long long)s->total_buttons);
    }
    add_field(&e, "Command Usage", b.p);
    b.len = 0;

    if (s->total_users == 0)
        sb_puts(&b, "No data");
    else
        sb_printf(&b, "Total Users: %llu\nActive Users: %llu (%u+ events)",
                  (unsigned long long)s->total_users, (unsigned long long)s->active_users,
                  s->active_min);
    add_field(&e, "User Activity", b.p);
    b.len = 0;

    if (s->n_top_resolutions == 0)
        sb_puts(&b, "No data");
    else
        top_lines(&b, s->top_resolutions, s->n_top_resolutions, "");
    add_field(&e, "Popular Resolutions", b.p);
    free(b.p);

    char from[40], to[40], footer[100], iso[40];
    an_format_utc(s->window.start_ms, from, sizeof from);
    an_format_utc(s->window.now_ms, to, sizeof to);
    snprintf(footer, sizeof footer, "%s \xe2\x86\x92 %s", from, to);
    embed_set_footer(&e, footer, NULL);
    an_format_iso(s->window.now_ms, iso, sizeof iso);
    free(e.timestamp);
    e.timestamp = util_strdup(iso);
    *ep = e;
}

void an_commands_stats_embed(const an_stats *s, embed *out)
{
    stats_embed(s, out);
}

cJSON *an_stats_embed(const an_stats *s)
{
    embed e;
    stats_embed(s, &e);
    cJSON *o = embed_to_json(&e);
    embed_free(&e);
    return o;
}

char *an_stats_reply_json(const an_stats *s)
{
    embed e;
    stats_embed(s, &e);
    const embed *list[1] = {&e};
    reply_msg m = {.embeds = list, .nembeds = 1};
    char *json = reply_message_json(&m, NULL, 0);
    embed_free(&e);
    return json;
}

char *an_stats_failed_json(const char *why)
{
    char text[400];
    snprintf(text, sizeof text, "Statistics are unavailable right now: %s",
             why && *why ? why : "unknown error");
    reply_msg m = {.content = text, .set_embeds = true};
    return reply_message_json(&m, NULL, 0);
}

/* ---- /reset_stats permission ------------------------------------------------------------- */

bool an_parse_u64(const char *s, uint64_t *out)
{
    return s && util_dec_u64(s, strlen(s), out) == UTIL_DEC_OK;
}

an_perm an_reset_permission(uint64_t permissions, const uint64_t *member_roles,
                            size_t n_member_roles, const an_role *guild_roles, size_t n_guild_roles,
                            const char *configured_role)
{
    if (permissions & AN_PERM_ADMINISTRATOR) return AN_PERM_ADMIN;
    const char *want =
        configured_role && *configured_role ? configured_role : AN_DEFAULT_MANAGER_ROLE;
    uint64_t want_id = 0;
    /* A role id is a snowflake; a name made of digits that is not one is matched as a name. */
    bool by_id = util_dec_snowflake(want, &want_id);
    for (size_t i = 0; i < n_member_roles; i++) {
        uint64_t held = member_roles[i];
        if (by_id) {
            if (held == want_id) return AN_PERM_ROLE;
            continue;
        }
        /* By name: the member's role ids are resolved through the guild's role list. */
        for (size_t j = 0; j < n_guild_roles; j++) {
            if (guild_roles[j].id == held && guild_roles[j].name &&
                strcmp(guild_roles[j].name, want) == 0)
                return AN_PERM_ROLE;
        }
    }
    return AN_PERM_DENIED;
}

/* ---- interaction replies ----------------------------------------------------------------- */

char *an_ephemeral_json(const char *text)
{
    return reply_text_json(text, true);
}

char *an_reset_prompt_json(const char *confirm_id, const char *cancel_id)
{
    reply_button buttons[2] = {
        {.style = REPLY_BTN_DANGER, .label = "Confirm", .custom_id = confirm_id},
        {.style = REPLY_BTN_SECONDARY, .label = "Cancel", .custom_id = cancel_id},
    };
    reply_row row = {.buttons = buttons, .nbuttons = 2};
    reply_msg m = {
        .content = "\xe2\x9a\xa0\xef\xb8\x8f This permanently deletes **all** usage statistics: "
                   "commands, generations, activity and the daily summaries. Press **Confirm** "
                   "within 60 seconds to go ahead.",
        .flags = REPLY_FLAG_EPHEMERAL,
        .rows = &row,
        .nrows = 1};
    return reply_callback_json(REPLY_CB_MESSAGE, &m, NULL, 0);
}

char *an_reset_refusal_json(void)
{
    return an_ephemeral_json("You need the Administrator permission or the Bot Manager role to "
                             "reset statistics.");
}

char *an_reset_wrong_user_json(void)
{
    return an_ephemeral_json("Only the member who ran /reset_stats can answer this prompt.");
}

char *an_reset_unknown_json(void)
{
    return an_ephemeral_json("This confirmation is no longer valid. Run /reset_stats again.");
}

char *an_reset_cancelled_json(void)
{
    return reply_update_text_json("Reset cancelled. No statistics were deleted.");
}

char *an_reset_expired_json(void)
{
    return reply_update_text_json(
        "This confirmation expired after 60 seconds. Nothing was deleted; "
        "run /reset_stats again.");
}

char *an_reset_done_json(uint64_t rows_deleted, const char *error)
{
    char text[400];
    if (error && *error)
        snprintf(text, sizeof text, "Statistics reset failed: %s. Nothing was deleted.", error);
    else
        snprintf(text, sizeof text, "Statistics reset: %llu row%s deleted.",
                 (unsigned long long)rows_deleted, rows_deleted == 1 ? "" : "s");
    reply_msg m = {.content = text, .set_components = true};
    return reply_message_json(&m, NULL, 0);
}
