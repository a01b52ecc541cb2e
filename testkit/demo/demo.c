/*
 * The embedded demo (see demo.h): fakes up, the real bot in-process, simulated users, the live
 * view, the final /stats embed and the pointers to what was written.
 */
#include "demo/demo.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <libwebsockets.h>
#include <sqlite3.h>

#include "actors/analytics_writer.h"
#include "actors/comfy_runner.h"
#include "app/app.h"
#include "comfy/dlpol.h"
#include "demo/demo_render.h"
#include "fakes/fake_comfy.h"
#include "fakes/fake_discord.h"
#include "fakes/fake_llm.h"
#include "fluxbot/log.h"
#include "fluxbot/runtime.h"
#include "util/util_self.h"

#define DEMO_TOKEN "demo.fluxbot.loopback-only-token"
#define MAX_USERS 16
#define EVENTS 3
#define JOB_TIMEOUT_MS 90000
#define ANSWER_TIMEOUT_MS 10000
#define FINISH_MS 60000 /* longest wait for the last jobs after the users stop */

static const char *const user_names[MAX_USERS] = {
    "ada", "bo", "cy",  "dee", "eli", "fay", "gus", "hal",
    "ivy", "jo", "kai", "lu",  "max", "nia", "oz",  "pia",
};

typedef struct item {
    demo_users_sent s;
    unsigned user;
    uint64_t t_sent_ms;
    bool answered, done, failed;
    /* Options: 0 the dialog is loading, 1 its menus were picked (picks[] waiting for their
     * answers), 2 its Regenerate was pressed (s is that interaction from then on) */
    unsigned opt_step;
    demo_users_sent picks[2];
    int npicks;
    char go[101];
    uint64_t message_id;
} item;

typedef struct sim_user {
    uint64_t id;
    int waiting; /* index into items, -1 when idle */
    uint64_t next_ms;
    bool has_result;
    demo_users_button_target result;
    bool acted;
} sim_user;

typedef struct demo {
    const demo_options *o;
    FILE *out;
    bool live;
    fake_discord *fd;
    fake_comfy *comfy[2];
    fake_llm *llm; /* the chat endpoint behind the enhance option */
    demo_users du;
    bool demo_users_ok;
    app *bot;
    item *items;
    size_t nitems, cap;
    sim_user users[MAX_USERS];
    unsigned nusers;
    char events[EVENTS][200];
    unsigned nevents;
    uint64_t t0_ms, end_ms, seconds;
    unsigned lines_drawn;
    uint64_t next_plain_ms;
    unsigned width; /* terminal columns */
    demo_report *rep;
    int log_fd;
} demo;

/* ---- small helpers ------------------------------------------------------------------------- */

static uint64_t ms_now(void)
{
    return rt_now_ms();
}

static uint64_t rnd(demo *d)
{
    uint64_t x = d->du.rng ? d->du.rng : 88172645463325252ull;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    d->du.rng = x;
    return x;
}

static void event(demo *d, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void event(demo *d, const char *fmt, ...)
{
    char line[200];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    if (d->live) {
        memmove(d->events[1], d->events[0], sizeof d->events[0] * (EVENTS - 1));
        snprintf(d->events[0], sizeof d->events[0], "%s", line);
        if (d->nevents < EVENTS) d->nevents++;
    } else {
        fprintf(d->out, "[%5.1f s] %s\n", (double)(ms_now() - d->t0_ms) / 1000.0, line);
        fflush(d->out);
    }
}

static const char *kind_label(demo_users_kind k)
{
    switch (k) {
    case DEMO_USERS_COMFY:
        return "/comfy";
    case DEMO_USERS_REDUX:
        return "/redux";
    case DEMO_USERS_PULID:
        return "/pulid";
    case DEMO_USERS_VIDEO:
        return "/video";
    case DEMO_USERS_STATS:
        return "/stats";
    case DEMO_USERS_BAD:
        return "/comfy (bad input)";
    case DEMO_USERS_BTN_REGENERATE:
        return "Regenerate";
    case DEMO_USERS_BTN_UPSCALE:
        return "Upscale";
    case DEMO_USERS_BTN_DELETE:
        return "Delete";
    case DEMO_USERS_BTN_OPTIONS:
        return "Options";
    default:
        return "?";
    }
}

/* The text a user saw in an answer (its content, else the first embed's title), short. */
static void content_hint(const char *json, char *out, size_t cap)
{
    out[0] = 0;
    cJSON *m = json ? cJSON_Parse(json) : NULL;
    const char *c = cJSON_GetStringValue(cJSON_GetObjectItem(m, "content"));
    if (!c || !*c)
        c = cJSON_GetStringValue(
            cJSON_GetObjectItem(cJSON_GetArrayItem(cJSON_GetObjectItem(m, "embeds"), 0), "title"));
    if (c) {
        snprintf(out, cap, "%s", c);
        demo_render_strip_markdown(out);
        char *nl = strchr(out, '\n');
        if (nl) *nl = 0;
        if (strlen(out) > 60) snprintf(out + 57, cap - 57, "...");
    }
    cJSON_Delete(m);
}

/* libwebsockets talks on stderr by default; in the demo the terminal belongs to the view. */
static void lws_to_log(int level, const char *line)
{
    size_t n = strlen(line);
    while (n && (line[n - 1] == '\n' || line[n - 1] == '\r'))
        n--;
    if (level & LLL_ERR) LOG_WARN("lws", "%.*s", (int)n, line);
}

/* ---- the live view ------------------------------------------------------------------------- */

/* Writes text cut to width visible columns (escape sequences take none), so no line of the
 * view wraps: a wrapped line would break the cursor movement that redraws it. */
static void put_clipped(FILE *out, const char *text, unsigned width)
{
    unsigned cols = 0;
    const char *p = text;
    while (*p) {
        if (*p == '\033') {
            const char *q = p + 1;
            if (*q == '[') q++;
            while (*q && !((*q >= 'A' && *q <= 'Z') || (*q >= 'a' && *q <= 'z')))
                q++;
            if (*q) q++;
            fwrite(p, 1, (size_t)(q - p), out);
            p = q;
            continue;
        }
        size_t len = 1;
        unsigned char c = (unsigned char)*p;
        if (c >= 0xF0)
            len = 4;
        else if (c >= 0xE0)
            len = 3;
        else if (c >= 0xC0)
            len = 2;
        if (cols + 1 >= width) break;
        for (size_t i = 1; i < len; i++)
            if (!p[i]) return;
        fwrite(p, 1, len, out);
        cols++;
        p += len;
    }
    fputs("\033[0m", out);
}

static void draw(demo *d, bool final)
{
    uint64_t now = ms_now();
    double el = (double)(now - d->t0_ms) / 1000.0;
    double frac = d->seconds ? el / (double)d->seconds : 1;
    uint64_t sent = 0, answered = 0, done = 0, failed = 0, buttons = 0;
    for (unsigned k = 0; k < DEMO_USERS_KIND_COUNT; k++) {
        sent += d->rep->sent[k];
        answered += d->rep->answered[k];
        done += d->rep->jobs_done[k];
        if (demo_users_kind_is_button((demo_users_kind)k)) buttons += d->rep->sent[k];
    }
    failed = d->rep->jobs_failed;
    comfy_runner_counters cs = {0};
    analytics_writer_counters am = {0};
    if (d->bot) {
        comfy_runner_counters_get(app_runner(d->bot), &cs);
        analytics_writer_counters_get(app_writer(d->bot), &am);
    }
    if (!d->live) {
        if (!final && now < d->next_plain_ms) return;
        d->next_plain_ms = now + 5000;
        fprintf(d->out,
                "[%5.1f s] demo: %" PRIu64 " interactions sent, %" PRIu64 " answered; jobs %" PRIu64
                " running, %" PRIu64 " done, %" PRIu64 " failed; %" PRIu64
                " analytics rows written\n",
                el, sent, answered, cs.running + cs.waiting, done, failed, am.rows_written);
        fflush(d->out);
        return;
    }
    char bar[128];
    demo_render_bar(frac, 24, true, bar, sizeof bar);
    if (d->lines_drawn) fprintf(d->out, "\033[%uA", d->lines_drawn);
    unsigned n = 0;
    char text[512];
#define LINE(...)                                                                                  \
    do {                                                                                           \
        snprintf(text, sizeof text, __VA_ARGS__);                                                  \
        fputs("\r\033[2K", d->out);                                                                \
        put_clipped(d->out, text, d->width);                                                       \
        fputc('\n', d->out);                                                                       \
        n++;                                                                                       \
    } while (0)
    if (final)
        LINE(" \033[1mfluxbot demo\033[0m  %s  done after %.1f s", bar, el);
    else if (el <= (double)d->seconds)
        LINE(" \033[1mfluxbot demo\033[0m  %s  %4.1f s / %" PRIu64 " s   (Ctrl-C ends it early)",
             bar, el, d->seconds);
    else
        LINE(" \033[1mfluxbot demo\033[0m  %s  finishing the last jobs...", bar);
    LINE(" interactions  %" PRIu64 " sent, %" PRIu64 " answered", sent, answered);
    LINE("               /comfy %" PRIu64 " /redux %" PRIu64 " /pulid %" PRIu64 " /video %" PRIu64
         " /stats %" PRIu64 " buttons %" PRIu64 " bad %" PRIu64,
         d->rep->sent[DEMO_USERS_COMFY], d->rep->sent[DEMO_USERS_REDUX],
         d->rep->sent[DEMO_USERS_PULID], d->rep->sent[DEMO_USERS_VIDEO],
         d->rep->sent[DEMO_USERS_STATS], buttons, d->rep->sent[DEMO_USERS_BAD]);
    LINE(" jobs          %" PRIu64 " running, %" PRIu64 " waiting, %" PRIu64 " done, %" PRIu64
         " failed",
         cs.running, cs.waiting, done, failed);
    LINE(" ComfyUI       %u of %u servers up", cs.servers_up, cs.servers);
    LINE(" analytics     %" PRIu64 " rows written (%" PRIu64 " pending)", am.rows_written,
         am.pending);
    for (unsigned i = 0; i < EVENTS; i++)
        LINE(" %s %s", i == 0 ? "latest  " : "        ", i < d->nevents ? d->events[i] : "");
#undef LINE
    d->lines_drawn = n;
    fflush(d->out);
}

/* ---- the simulated users ------------------------------------------------------------------- */

static item *add_item(demo *d)
{
    if (d->nitems == d->cap) {
        size_t cap = d->cap ? d->cap * 2 : 128;
        item *ni = realloc(d->items, cap * sizeof *ni);
        if (!ni) return NULL;
        d->items = ni;
        d->cap = cap;
    }
    item *it = &d->items[d->nitems++];
    memset(it, 0, sizeof *it);
    return it;
}

static demo_users_kind choose(demo *d, sim_user *u)
{
    /* What people do: mostly /comfy, some image-guided runs, a video now and then, a look at
     * the statistics, the odd mistake, and buttons on what they just got. */
    unsigned w[DEMO_USERS_KIND_COUNT] = {0};
    w[DEMO_USERS_COMFY] = 34;
    w[DEMO_USERS_REDUX] = 8;
    w[DEMO_USERS_PULID] = 8;
    w[DEMO_USERS_VIDEO] = 5;
    w[DEMO_USERS_STATS] = 7;
    w[DEMO_USERS_BAD] = 5;
    if (u->has_result) {
        w[DEMO_USERS_BTN_REGENERATE] = 12;
        if (u->result.upscale[0]) w[DEMO_USERS_BTN_UPSCALE] = 8;
        if (u->result.del[0]) w[DEMO_USERS_BTN_DELETE] = 5;
        if (u->result.options[0]) w[DEMO_USERS_BTN_OPTIONS] = 10;
        /* the first result of the run shows the Options dialog, whatever the dice say */
        if (u->result.options[0] && !d->rep->sent[DEMO_USERS_BTN_OPTIONS])
            return DEMO_USERS_BTN_OPTIONS;
    }
    unsigned total = 0;
    for (unsigned k = 0; k < DEMO_USERS_KIND_COUNT; k++)
        total += w[k];
    unsigned r = (unsigned)(rnd(d) % total);
    for (unsigned k = 0; k < DEMO_USERS_KIND_COUNT; k++) {
        if (r < w[k]) return (demo_users_kind)k;
        r -= w[k];
    }
    return DEMO_USERS_COMFY;
}

static void act(demo *d, unsigned ui, uint64_t now)
{
    sim_user *u = &d->users[ui];
    demo_users_kind k = choose(d, u);
    item *it = add_item(d);
    if (!it) return;
    uint64_t seq = d->nitems - 1;
    if (demo_users_inject(&d->du, k, seq, u->id, u->has_result ? &u->result : NULL, &it->s) != 0) {
        d->nitems--;
        u->next_ms = now + 500;
        return;
    }
    it->user = ui;
    it->t_sent_ms = now;
    if (k == DEMO_USERS_BTN_OPTIONS) it->message_id = u->result.message_id;
    u->waiting = (int)seq;
    u->acted = true;
    d->rep->sent[k]++;
    if (k == DEMO_USERS_BTN_DELETE) u->has_result = false; /* it will be gone */
}

static bool has_attachment(const char *json)
{
    return json && strstr(json, "\"attachments\":[{") != NULL;
}

/* Whether the result is a video, from its file: a Regenerate or an Options rerun of a /video
 * result is a video too, whatever button asked for it (the database counts it as one). */
static bool video_attachment(const char *json)
{
    cJSON *m = json ? cJSON_Parse(json) : NULL;
    const cJSON *a = cJSON_GetArrayItem(cJSON_GetObjectItem(m, "attachments"), 0);
    const cJSON *fn = cJSON_GetObjectItem(a, "filename");
    bool video = false;
    if (cJSON_IsString(fn)) {
        size_t n = strlen(fn->valuestring);
        video = (n > 4 && strcmp(fn->valuestring + n - 4, ".mp4") == 0) ||
                (n > 5 && strcmp(fn->valuestring + n - 5, ".webm") == 0);
    }
    cJSON_Delete(m);
    return video;
}

/* The Options dialog before its Regenerate, as a user goes through it: once it shows, a
 * resolution and a LoRA are picked from its menus; once both were answered, Regenerate with
 * these options is pressed and the item follows that job like any other. False while the
 * dialog is in progress (true: it went wrong, counted and told). */
static bool options_step(demo *d, item *it, const fake_rest_ix_state *st, uint64_t now)
{
    const char *who = user_names[it->user % MAX_USERS];
    sim_user *u = &d->users[it->user];
    if (it->opt_step == 0) {
        if (!st->original_json || !strstr(st->original_json, "fo:")) return false;
        it->npicks = demo_users_options_pick(&d->du, st->original_json, u->id, it->message_id,
                                             it->picks, it->go);
        if (it->npicks < 0) return false;
        d->rep->option_steps += (uint64_t)it->npicks;
        it->opt_step = 1;
        event(d, "%s: Options -> the dialog: a new resolution and LoRA picked", who);
        return false;
    }
    for (int i = 0; i < it->npicks; i++) {
        fake_rest_ix_state ps;
        if (!fake_rest_interaction_state(fake_discord_rest(d->fd), it->picks[i].id, &ps)) continue;
        bool acked = ps.ack_type != 0;
        free(ps.original_json);
        if (!acked) return false;
    }
    demo_users_sent go;
    fake_discord_member whom = {.user_id = u->id};
    char uname[32];
    snprintf(uname, sizeof uname, "user%" PRIu64, u->id % 100000);
    whom.username = uname;
    fake_discord_ix ix;
    if (fake_discord_inject_component(d->fd, it->go, 2, NULL, it->message_id, &whom, &ix) != 0)
        return false;
    memset(&go, 0, sizeof go);
    go.kind = DEMO_USERS_BTN_OPTIONS;
    go.seq = it->s.seq;
    go.id = ix.id;
    snprintf(go.token, sizeof go.token, "%s", ix.token);
    go.user_id = u->id;
    go.channel_id = ix.channel_id;
    it->s = go;
    it->opt_step = 2;
    d->rep->option_steps++;
    (void)now;
    return false;
}

/* Advances one item from what the fake Discord saw. Returns true when it is finished. */
static bool poll_item(demo *d, item *it, uint64_t now)
{
    fake_rest_ix_state st;
    if (!fake_rest_interaction_state(fake_discord_rest(d->fd), it->s.id, &st)) return true;
    sim_user *u = &d->users[it->user];
    const char *who = user_names[it->user % MAX_USERS];
    demo_users_kind k = it->s.kind;
    bool finished = false;
    if (!it->answered && st.ack_type != 0) {
        it->answered = true;
        d->rep->answered[k]++;
        if (!demo_users_kind_is_job(k)) {
            finished = true;
            if (k == DEMO_USERS_BAD) {
                char hint[80];
                content_hint(st.original_json, hint, sizeof hint);
                event(d, "%s: %s -> refused at once: %s", who, kind_label(k), hint);
            } else if (k == DEMO_USERS_STATS) {
                event(d, "%s: /stats -> answered in %" PRId64 " ms", who, st.ack_ms);
            } else {
                event(d, "%s: %s -> done", who, kind_label(k));
            }
        }
    }
    if (k == DEMO_USERS_BTN_OPTIONS && it->answered && it->opt_step < 2 && st.ack_type != 4) {
        /* the dialog, before its Regenerate */
        finished = options_step(d, it, &st, now);
    } else if (it->answered && demo_users_kind_is_job(k) && !finished && st.ack_type == 4) {
        /* Turned down at once (a limit, a result that cannot be upscaled): an answer, no job. */
        finished = true;
        d->rep->refused++;
        char hint[80];
        content_hint(st.original_json, hint, sizeof hint);
        event(d, "%s: %s -> turned down: %s", who, kind_label(k), hint);
    } else if (it->answered && demo_users_kind_is_job(k) && !finished) {
        if (has_attachment(st.original_json)) {
            it->done = true;
            finished = true;
            d->rep->jobs_done[k]++;
            bool video = k == DEMO_USERS_VIDEO || video_attachment(st.original_json);
            if (video)
                d->rep->videos_ok++;
            else
                d->rep->images_ok++;
            demo_users_button_target t;
            if (demo_users_parse_buttons(st.original_json, u->id, &t)) {
                u->result = t;
                u->has_result = true;
            }
            /* the result's line when the prompt was rewritten by the (fake) model */
            bool enhanced = st.original_json && strstr(st.original_json, "Prompt enhanced");
            event(d, "%s: %s -> %s in %.1f s%s", who, kind_label(k), video ? "video" : "picture",
                  (double)(now - it->t_sent_ms) / 1000.0, enhanced ? " (prompt enhanced)" : "");
        } else if (st.original_deleted ||
                   (st.original_json && strstr(st.original_json, "\xe2\x9d\x8c"))) {
            it->failed = true;
            finished = true;
            d->rep->jobs_failed++;
            char hint[80];
            content_hint(st.original_json, hint, sizeof hint);
            event(d, "%s: %s -> failed: %s", who, kind_label(k), hint[0] ? hint : "(deleted)");
        }
    }
    if (!finished && now - it->t_sent_ms > (it->answered ? JOB_TIMEOUT_MS : ANSWER_TIMEOUT_MS)) {
        finished = true;
        if (demo_users_kind_is_job(k) && it->answered) {
            it->failed = true;
            d->rep->jobs_failed++;
        }
        event(d, "%s: %s -> no %s in time", who, kind_label(k), it->answered ? "result" : "answer");
    }
    free(st.original_json);
    return finished;
}

static unsigned tick_users(demo *d, bool may_start)
{
    uint64_t now = ms_now();
    unsigned busy = 0;
    for (unsigned i = 0; i < d->nusers; i++) {
        sim_user *u = &d->users[i];
        if (u->waiting >= 0) {
            if (poll_item(d, &d->items[u->waiting], now)) {
                u->waiting = -1;
                u->next_ms = now + 300 + rnd(d) % 1200; /* a moment to look and think */
            } else {
                busy++;
            }
        }
        /* the run shows the Options dialog once, even when its time is up first */
        bool show_options =
            !d->rep->sent[DEMO_USERS_BTN_OPTIONS] && u->has_result && u->result.options[0];
        if (u->waiting < 0 && (may_start || show_options) && now >= u->next_ms) {
            act(d, i, now);
            if (u->waiting >= 0) busy++;
        }
    }
    return busy;
}

/* ---- setup and the end --------------------------------------------------------------------- */

static int make_dir(demo *d, char *err, size_t errlen)
{
    demo_report *r = d->rep;
    if (d->o->dir) {
        snprintf(r->dir, sizeof r->dir, "%s", d->o->dir);
        if (mkdir(r->dir, 0755) != 0 && errno != EEXIST) {
            snprintf(err, errlen, "cannot create %s: %s", r->dir, strerror(errno));
            return -1;
        }
    } else {
        const char *tmp = getenv("TMPDIR");
        snprintf(r->dir, sizeof r->dir, "%s/fluxbot-demo-XXXXXX", tmp && *tmp ? tmp : "/tmp");
        if (!mkdtemp(r->dir)) {
            snprintf(err, errlen, "cannot create a directory under %s: %s",
                     tmp && *tmp ? tmp : "/tmp", strerror(errno));
            return -1;
        }
    }
    snprintf(r->db, sizeof r->db, "%s/demo.db", r->dir);
    snprintf(r->images, sizeof r->images, "%s/images", r->dir);
    snprintf(r->log, sizeof r->log, "%s/fluxbot.log", r->dir);
    return 0;
}

static unsigned count_files(const char *dir)
{
    DIR *dp = opendir(dir);
    if (!dp) return 0;
    unsigned n = 0;
    struct dirent *e;
    while ((e = readdir(dp)) != NULL)
        if (e->d_name[0] != '.') n++;
    closedir(dp);
    return n;
}

static uint64_t count_rows(const char *db)
{
    sqlite3 *h;
    uint64_t rows = 0;
    if (sqlite3_open_v2(db, &h, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK) {
        sqlite3_stmt *st;
        if (sqlite3_prepare_v2(h,
                               "SELECT (SELECT count(*) FROM command_usage) + (SELECT count(*) "
                               "FROM image_stats) + (SELECT count(*) FROM user_activity)",
                               -1, &st, NULL) == SQLITE_OK &&
            sqlite3_step(st) == SQLITE_ROW)
            rows = (uint64_t)sqlite3_column_int64(st, 0);
        sqlite3_finalize(st);
    }
    sqlite3_close(h);
    return rows;
}

/* Asks /stats for the last day once everything is committed, and waits for the embed. */
static void final_stats(demo *d)
{
    /* Everything the users caused is committed when the writer has nothing pending and
     * accepted nothing new for a few flush intervals (the runner records a job's row just
     * after sending its result). */
    analytics_writer_counters am;
    uint64_t last = UINT64_MAX, quiet_since = ms_now();
    for (uint64_t until = ms_now() + 5000; ms_now() < until;) {
        analytics_writer_counters_get(app_writer(d->bot), &am);
        if (am.accepted != last || am.pending) {
            last = am.accepted;
            quiet_since = ms_now();
        } else if (ms_now() - quiet_since >= 400) {
            break;
        }
        if (app_poll(d->bot, 30)) return;
    }
    fake_discord_member who = {.user_id = d->users[0].id, .username = user_names[0]};
    fake_discord_ix ix;
    if (fake_discord_inject_command(d->fd, "stats", "[{\"name\":\"days\",\"type\":4,\"value\":1}]",
                                    NULL, 0, &who, &ix) != 0)
        return;
    d->rep->sent[DEMO_USERS_STATS]++;
    uint64_t deadline = ms_now() + 10000;
    while (ms_now() < deadline) {
        fake_rest_ix_state st;
        if (fake_rest_interaction_state(fake_discord_rest(d->fd), ix.id, &st)) {
            if (st.ack_type && !d->rep->stats_answered) {
                d->rep->answered[DEMO_USERS_STATS]++;
                d->rep->stats_answered = true;
            }
            if (st.original_json && strstr(st.original_json, "\"embeds\":[{")) {
                d->rep->stats_message = st.original_json;
                return;
            }
            free(st.original_json);
        }
        if (app_poll(d->bot, 30)) return;
    }
}

static void print_end(demo *d)
{
    demo_report *r = d->rep;
    FILE *out = d->out;
    bool ansi = d->live;
    if (r->stats_message) {
        fprintf(out, "\nThe bot's answer to /stats days:1, as Discord would show it:\n\n");
        char *t = demo_render_message(r->stats_message, 76, ansi);
        if (t) fputs(t, out);
        free(t);
    } else if (r->interrupted) {
        fprintf(out, "\nStopped early (Ctrl-C); the bot shut down cleanly.\n");
    } else {
        fprintf(out, "\n(The final /stats did not arrive in time; see the log.)\n");
    }
    uint64_t sent = 0, answered = 0;
    for (unsigned k = 0; k < DEMO_USERS_KIND_COUNT; k++) {
        sent += r->sent[k];
        answered += r->answered[k];
    }
    fprintf(out,
            "\nWhat the %u simulated users did: %" PRIu64 " interactions (%" PRIu64
            " answered), %" PRIu64 " image%s and %" PRIu64 " video%s generated, %" PRIu64
            " bad input%s refused, %" PRIu64 " job%s failed.%s\n",
            r->users_active, sent, answered, r->images_ok, r->images_ok == 1 ? "" : "s",
            r->videos_ok, r->videos_ok == 1 ? "" : "s", r->answered[DEMO_USERS_BAD],
            r->answered[DEMO_USERS_BAD] == 1 ? "" : "s", r->jobs_failed,
            r->jobs_failed == 1 ? "" : "s",
            r->stats_message ? "\n(/stats counts every command before the one that asked.)" : "");
    /* Commands printed to be pasted: the binary as the user types it (`fluxbot` when it is the
     * one on PATH, else its full path: see app_demo), and every path quoted for the shell. */
    char db[sizeof r->db * 4 + 3], images[sizeof r->images * 4 + 3];
    if (!util_shell_quote(r->db, db, sizeof db)) snprintf(db, sizeof db, "%s", r->db);
    if (!util_shell_quote(r->images, images, sizeof images))
        snprintf(images, sizeof images, "%s", r->images);
    const char *self = d->o->command ? d->o->command : "fluxbot";
    fprintf(out,
            "\nEverything the bot wrote is in %s:\n"
            "  database  %s  (%" PRIu64 " rows in command_usage, image_stats and user_activity)\n"
            "  pictures  %s  (%u files)\n"
            "  bot log   %s\n"
            "\nLook at them:\n"
            "  %s stats --db %s --days 1\n"
            "  sqlite3 %s 'SELECT command_name, count(*), sum(success) FROM command_usage GROUP "
            "BY 1 ORDER BY 2 DESC'\n"
            "  sqlite3 %s 'SELECT generation_type, resolution, generation_ms FROM image_stats "
            "LIMIT 10'\n"
            "  ls %s\n"
            "\nRun the real bot: DISCORD_TOKEN=<your bot token> COMFYUI_URLS=http://127.0.0.1:8188 "
            "%s\n",
            r->dir, r->db, r->analytics_rows, r->images, r->image_files, r->log, self, db, db, db,
            images, self);
    fflush(out);
}

int demo_run(const fb_config *cfg_in, const demo_options *o_in, demo_report *rep_out)
{
    demo_options o = *o_in;
    demo_report local;
    demo_report *rep = rep_out ? rep_out : &local;
    memset(rep, 0, sizeof *rep);
    demo d;
    memset(&d, 0, sizeof d);
    d.o = &o;
    d.rep = rep;
    d.out = o.out ? o.out : stdout;
    d.live = o.live < 0 ? isatty(fileno(d.out)) != 0 : o.live != 0;
    d.width = 80;
    struct winsize ws;
    if (ioctl(fileno(d.out), TIOCGWINSZ, &ws) == 0 && ws.ws_col >= 40) d.width = ws.ws_col;
    d.seconds = o.seconds ? o.seconds : (uint64_t)cfg_in->demo_seconds;
    d.nusers = o.users ? (o.users > MAX_USERS ? MAX_USERS : o.users) : 6;
    d.log_fd = -1;
    int code = APP_EXIT_OK;
    char err[600];

    if (make_dir(&d, err, sizeof err) != 0) {
        fprintf(stderr, "fluxbot demo: %s\n", err);
        return APP_EXIT_START;
    }
    /* The bot's log goes to a file: the terminal is the demo's. */
    d.log_fd = open(rep->log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    log_level level = (log_level)log_level_parse(cfg_in->log_level);
    if ((int)level < 0) level = LOG_LEVEL_INFO;
    bool json = strcmp(cfg_in->log_format, "json") == 0;
    if (d.log_fd >= 0) log_configure(level, json, d.log_fd);

    fprintf(d.out,
            "fluxbot demo: the real bot against a fake Discord, two fake ComfyUI servers and a "
            "fake language model\non 127.0.0.1, %u simulated users for %" PRIu64
            " s. Nothing leaves this machine.\n\n",
            d.nusers, d.seconds);
    fflush(d.out);

    lws_set_log_level(LLL_ERR, lws_to_log);
    fake_discord_options fo = {.token = DEMO_TOKEN};
    d.fd = fake_discord_start(&fo);
    fake_comfy_opts co = {.steps = 8,
                          .step_delay_ms = o.step_delay_ms ? o.step_delay_ms : 60,
                          .png_width = 256,
                          .png_height = 256,
                          .previews = true};
    co.name = "comfy-a";
    d.comfy[0] = fake_comfy_start(&co);
    co.name = "comfy-b";
    d.comfy[1] = fake_comfy_start(&co);
    d.llm = fake_llm_start();
    if (!d.fd || !d.comfy[0] || !d.comfy[1] || !d.llm) {
        fprintf(stderr, "fluxbot demo: could not start the loopback fakes (see %s)\n", rep->log);
        code = APP_EXIT_START;
        goto out;
    }

    fb_config cfg = *cfg_in;
    snprintf(cfg.discord_token, sizeof cfg.discord_token, "%s", DEMO_TOKEN);
    snprintf(cfg.discord_api_base, sizeof cfg.discord_api_base, "%s", fake_discord_api_base(d.fd));
    cfg.guild_ids.count = 0;
    cfg.shard_id = -1;
    cfg.shard_count = 0;
    cfg.comfyui_urls.count = 2;
    snprintf(cfg.comfyui_urls.items[0], FB_CONFIG_STR, "%s", fake_comfy_url(d.comfy[0]));
    snprintf(cfg.comfyui_urls.items[1], FB_CONFIG_STR, "%s", fake_comfy_url(d.comfy[1]));
    snprintf(cfg.db_path, sizeof cfg.db_path, "%s", rep->db);
    snprintf(cfg.output_dir, sizeof cfg.output_dir, "%s", rep->images);
    cfg.progress_interval_ms = 500;
    /* Prompt enhancement against the fake endpoint (whatever llm_url says: the demo never
     * talks to anything beyond loopback); some /comfy commands ask for it. */
    snprintf(cfg.llm_url, sizeof cfg.llm_url, "%s", fake_llm_url(d.llm));
    snprintf(cfg.llm_model, sizeof cfg.llm_model, "demo-model");
    cfg.llm_key[0] = '\0';
    /* The demo users' pictures are attachments served by the fake Discord on loopback (plain
     * http, which the download policy allows only for a loopback host named here). */
    dlpol_url fdu;
    if (dlpol_parse_url(cfg.discord_api_base, &fdu) == DLPOL_OK) {
        cfg.attachment_hosts.count = 1;
        snprintf(cfg.attachment_hosts.items[0], FB_CONFIG_STR, "%s:%d", fdu.host, fdu.port);
    }

    if (demo_users_init(&d.du, d.fd, cfg.ratios_file, cfg.loras_file,
                        o.seed ? o.seed : (uint64_t)time(NULL), err, sizeof err) != 0) {
        fprintf(stderr, "fluxbot demo: %s\n", err);
        code = APP_EXIT_CONFIG;
        goto out;
    }
    d.demo_users_ok = true;
    d.du.enhance = true;
    if (o.install_signals) rt_signals_install();
    int start_code = APP_EXIT_START;
    d.bot = app_start(&cfg, err, sizeof err, &start_code);
    if (!d.bot) {
        fprintf(stderr, "fluxbot demo: the bot did not start: %s\n", err);
        code = start_code;
        goto out;
    }
    if (app_metrics_port(d.bot))
        fprintf(d.out, "Metrics while it runs: http://127.0.0.1:%u/metrics\n\n",
                app_metrics_port(d.bot));

    /* Wait for the bot to be online: gateway session ready and the commands registered. */
    uint64_t ready_by = ms_now() + 15000;
    while (!app_commands_registered(d.bot)) {
        if (app_poll(d.bot, 20)) {
            rep->interrupted = true;
            goto stop;
        }
        if (ms_now() > ready_by) {
            fprintf(stderr, "fluxbot demo: the bot did not come online within 15 s (see %s)\n",
                    rep->log);
            code = APP_EXIT_START;
            goto stop;
        }
    }

    for (unsigned i = 0; i < d.nusers; i++) {
        d.users[i].id = 320000000000000001ull + i;
        d.users[i].waiting = -1;
        d.users[i].next_ms = 0;
    }
    if (d.live) fputs("\033[?25l", d.out); /* hide the cursor while redrawing */
    d.t0_ms = ms_now();
    d.end_ms = d.t0_ms + d.seconds * 1000;
    for (unsigned i = 0; i < d.nusers; i++)
        d.users[i].next_ms = d.t0_ms + (uint64_t)i * 150; /* people arrive one by one */
    uint64_t finish_by = d.end_ms + FINISH_MS;
    for (;;) {
        uint64_t now = ms_now();
        unsigned busy = tick_users(&d, now < d.end_ms);
        draw(&d, false);
        if (now >= d.end_ms && busy == 0) break;
        if (now >= finish_by) break;
        if (app_poll(d.bot, d.live ? 50 : 50)) {
            rep->interrupted = true;
            break;
        }
    }
    if (!rep->interrupted) final_stats(&d);
    draw(&d, true);
    if (d.live) fputs("\033[?25h", d.out);

stop:
    rep->exit_code = app_stop(d.bot);
    d.bot = NULL;
    if (code == APP_EXIT_OK && rep->exit_code != 0) code = rep->exit_code;
    for (size_t i = 0; i < d.nitems; i++) {
        if (!d.items[i].answered) rep->unanswered++;
    }
    for (unsigned i = 0; i < d.nusers; i++)
        if (d.users[i].acted || (i == 0 && rep->stats_answered)) rep->users_active++;
    for (unsigned k = 0; k < DEMO_USERS_KIND_COUNT; k++)
        rep->commands_total += rep->sent[k];
    rep->commands_total += rep->option_steps; /* the Options dialog's own presses */
    rep->analytics_rows = count_rows(rep->db);
    rep->image_files = count_files(rep->images);
    if (code == APP_EXIT_OK && d.nitems) print_end(&d);
    /* Interactions in flight when Ctrl-C came were answered by the drain, unobserved. */
    if (code == APP_EXIT_OK && rep->unanswered && !rep->interrupted) code = APP_EXIT_RUNTIME;

out:
    if (d.demo_users_ok) demo_users_free(&d.du);
    for (int i = 0; i < 2; i++)
        fake_comfy_stop(d.comfy[i]);
    fake_llm_stop(d.llm);
    fake_discord_stop(d.fd);
    free(d.items);
    if (d.log_fd >= 0) {
        log_configure(level, json, 2);
        close(d.log_fd);
    }
    if (!rep_out) demo_report_free(rep);
    return code;
}

void demo_report_free(demo_report *r)
{
    if (!r) return;
    free(r->stats_message);
    r->stats_message = NULL;
}

int demo_main(const fb_config *cfg)
{
    /* The closing commands name this very binary as the user would type it. */
    demo_options o = {.live = -1, .install_signals = true, .command = util_self_command()};
    demo_report rep;
    int code = demo_run(cfg, &o, &rep);
    demo_report_free(&rep);
    return code;
}
