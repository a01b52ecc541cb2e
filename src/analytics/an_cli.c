/* The operator's `fluxbot stats` subcommand (see an_cli.h). */
#include "analytics/an_cli.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <cjson/cJSON.h>

#include "analytics/an_chart.h"
#include "analytics/an_commands.h"
#include "analytics/an_import.h"
#include "analytics/an_stats.h"
#include "analytics/an_engine.h"
#include "analytics/an_view.h"
#include "analytics/an_time.h"
#include "config/fb_config.h"
#include "fluxbot/runtime.h"

static const char k_usage[] =
    "usage: fluxbot stats [-c CONFIG] [--db FILE] [--days N] [--json] [--chart FILE.png]\n"
    "  -c CONFIG   the bot's configuration file: its db_url or db_path and\n"
    "              active_user_min_events (with the environment on top, as the bot reads them)\n"
    "  --db FILE   analytics database: a SQLite file or a postgresql:// URL (default: db_url,\n"
    "              i.e. $FLUXBOT_DB_URL, when it is a postgresql:// URL, else db_path, i.e.\n"
    "              $FLUXBOT_DB, else fluxbot.db)\n"
    "  --days N    window in days, 1..365 (default 7): the last N x 1440 minutes, now's\n"
    "              minute included\n"
    "  --json      one JSON object instead of the table\n"
    "  --chart F   also write the /stats chart (PNG) to F\n";

static void print_avg(FILE *out, const char *label, double ms)
{
    if (ms < 0)
        fprintf(out, "  %-26s %s\n", label, "No data");
    else
        fprintf(out, "  %-26s %.2f s\n", label, ms / 1000.0);
}

static void print_top(FILE *out, const char *title, const an_top_item *items, unsigned n,
                      const char *prefix)
{
    fprintf(out, "%s\n", title);
    if (n == 0) fprintf(out, "  No data\n");
    for (unsigned i = 0; i < n; i++) {
        char name[160];
        snprintf(name, sizeof name, "%s%s", prefix, items[i].name);
        fprintf(out, "  %u. %-40s %llu\n", i + 1, name, (unsigned long long)items[i].count);
    }
}

static void print_table(FILE *out, const an_stats *s)
{
    char from[40], to[40];
    an_format_utc(s->window.start_ms, from, sizeof from);
    an_format_utc(s->window.now_ms, to, sizeof to);
    fprintf(out, "Usage statistics, last %d day%s (%s .. %s)\n\n", s->window.days,
            s->window.days == 1 ? "" : "s", from, to);
    fprintf(out, "Image Generation\n");
    fprintf(out, "  %-26s %llu\n", "Total Images", (unsigned long long)s->total_images);
    print_avg(out, "Average Generation Time", an_stats_avg_image_ms(s));
    fprintf(out, "  %-26s %llu\n", "Total Videos", (unsigned long long)s->total_videos);
    print_avg(out, "Average Video Time", an_stats_avg_video_ms(s));
    fprintf(out, "\nCommand Usage\n");
    fprintf(out, "  %-26s %llu\n", "Total Commands", (unsigned long long)s->total_commands);
    fprintf(out, "  %-26s %llu\n", "Buttons Pressed", (unsigned long long)s->total_buttons);
    print_top(out, "\nPopular Commands", s->top_commands, s->n_top_commands, "/");
    fprintf(out, "\nUser Activity\n");
    fprintf(out, "  %-26s %llu\n", "Total Users", (unsigned long long)s->total_users);
    char active[48];
    snprintf(active, sizeof active, "Active Users (%u+ events)", s->active_min);
    fprintf(out, "  %-26s %llu\n", active, (unsigned long long)s->active_users);
    print_top(out, "\nPopular Resolutions", s->top_resolutions, s->n_top_resolutions, "");
}

static cJSON *top_json(const an_top_item *items, unsigned n)
{
    cJSON *arr = cJSON_CreateArray();
    for (unsigned i = 0; i < n; i++) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "name", items[i].name);
        cJSON_AddNumberToObject(o, "count", (double)items[i].count);
        cJSON_AddItemToArray(arr, o);
    }
    return arr;
}

static void add_avg(cJSON *o, const char *key, double ms)
{
    if (ms < 0)
        cJSON_AddNullToObject(o, key);
    else
        cJSON_AddNumberToObject(o, key, ms);
}

static void print_json(FILE *out, const an_stats *s)
{
    cJSON *root = cJSON_CreateObject();
    cJSON_AddNumberToObject(root, "days", s->window.days);
    cJSON *w = cJSON_AddObjectToObject(root, "window");
    cJSON_AddNumberToObject(w, "start_ms", (double)s->window.start_ms);
    cJSON_AddNumberToObject(w, "end_ms", (double)s->window.end_ms);
    cJSON_AddNumberToObject(w, "now_ms", (double)s->window.now_ms);
    cJSON *img = cJSON_AddObjectToObject(root, "images");
    cJSON_AddNumberToObject(img, "total", (double)s->total_images);
    add_avg(img, "avg_generation_ms", an_stats_avg_image_ms(s));
    cJSON *vid = cJSON_AddObjectToObject(root, "videos");
    cJSON_AddNumberToObject(vid, "total", (double)s->total_videos);
    add_avg(vid, "avg_generation_ms", an_stats_avg_video_ms(s));
    cJSON *cmd = cJSON_AddObjectToObject(root, "commands");
    cJSON_AddNumberToObject(cmd, "total", (double)s->total_commands);
    cJSON_AddNumberToObject(cmd, "buttons", (double)s->total_buttons);
    cJSON_AddItemToObject(cmd, "popular", top_json(s->top_commands, s->n_top_commands));
    cJSON *users = cJSON_AddObjectToObject(root, "users");
    cJSON_AddNumberToObject(users, "total", (double)s->total_users);
    cJSON_AddNumberToObject(users, "active", (double)s->active_users);
    cJSON_AddNumberToObject(users, "active_min_events", s->active_min);
    cJSON_AddItemToObject(root, "resolutions", top_json(s->top_resolutions, s->n_top_resolutions));
    cJSON *series = cJSON_AddArrayToObject(root, "series");
    for (unsigned i = 0; i < s->n_series; i++) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddNumberToObject(o, "start_ms", (double)s->series[i].start_ms);
        cJSON_AddNumberToObject(o, "images", (double)s->series[i].images);
        cJSON_AddNumberToObject(o, "videos", (double)s->series[i].videos);
        cJSON_AddNumberToObject(o, "commands", (double)s->series[i].commands);
        cJSON_AddItemToArray(series, o);
    }
    char *text = cJSON_PrintUnformatted(root);
    fprintf(out, "%s\n", text);
    free(text);
    cJSON_Delete(root);
}

static const char k_help_hint[] = "Try 'fluxbot stats --help'.\n";

/* A refused --days value, worded for a terminal: the flag, the value as typed (cut at 40
 * bytes), what is accepted. The Discord wording of an_days_result.error names the `days`
 * option and is for /stats only. */
static void days_refused(FILE *err, const char *text, const an_days_result *r)
{
    char range[80];
    snprintf(range, sizeof range, "a whole number of days from %d to %d (default %d)", AN_DAYS_MIN,
             AN_DAYS_MAX, AN_DAYS_DEFAULT);
    switch (r->why) {
    case AN_COMMANDS_DAYS_EMPTY:
        fprintf(err, "fluxbot stats: --days needs a value: %s\n", range);
        break;
    case AN_COMMANDS_DAYS_NEGATIVE:
    case AN_COMMANDS_DAYS_OUT_OF_RANGE:
        fprintf(err, "fluxbot stats: --days %.40s is out of range: give %s\n", text, range);
        break;
    default:
        fprintf(err, "fluxbot stats: --days '%.40s' is not a whole number: give %s\n", text, range);
        break;
    }
    fputs(k_help_hint, err);
}

/* True when s is a non-empty run of digits (a window typed without --days). */
static bool all_digits(const char *s)
{
    if (!*s) return false;
    for (; *s; s++)
        if (*s < '0' || *s > '9') return false;
    return true;
}

/* True when path names something; else false with the reason (strerror) in why. */
static bool file_exists(const char *path, char *why, size_t cap)
{
    struct stat st;
    if (stat(path, &st) == 0) return true;
    snprintf(why, cap, "%s", strerror(errno));
    return false;
}

int an_cli_stats_at(int argc, char **argv, int64_t now_ms, FILE *out, FILE *err)
{
    const char *db = NULL, *days_text = NULL, *config = NULL, *chart = NULL;
    int json = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--json") == 0) {
            json = 1;
            continue;
        }
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            fputs(k_usage, out);
            return 0;
        }
        if (strncmp(a, "--db=", 5) == 0) {
            db = a + 5;
            continue;
        }
        if (strncmp(a, "--days=", 7) == 0) {
            days_text = a + 7;
            continue;
        }
        if (strncmp(a, "--chart=", 8) == 0) {
            chart = a + 8;
            continue;
        }
        const char **slot = strcmp(a, "--db") == 0                               ? &db
                            : strcmp(a, "--days") == 0                           ? &days_text
                            : strcmp(a, "--chart") == 0                          ? &chart
                            : strcmp(a, "-c") == 0 || strcmp(a, "--config") == 0 ? &config
                                                                                 : NULL;
        if (slot) {
            if (i + 1 >= argc) {
                fprintf(err, "fluxbot stats: %s needs a value\n%s", a, k_usage);
                return 2;
            }
            *slot = argv[++i];
            continue;
        }
        if (all_digits(a)) {
            /* `fluxbot stats 30`, as one types /stats 30 in Discord */
            fprintf(err,
                    "fluxbot stats: unexpected argument '%.40s' (for a window of %.40s days, "
                    "give --days %.40s)\n%s",
                    a, a, a, k_help_hint);
            return 2;
        }
        fprintf(err, "fluxbot stats: unknown argument '%s'\n%s", a, k_usage);
        return 2;
    }
    /* An empty value (--db= or --chart "") would otherwise be read as a file named "". */
    const char *given[] = {db, chart, config};
    const char *names[] = {"--db", "--chart", "-c"};
    for (int k = 0; k < 3; k++) {
        if (given[k] && !*given[k]) {
            fprintf(err, "fluxbot stats: %s needs a value (it is empty)\n%s", names[k],
                    k_help_hint);
            return 2;
        }
    }
    int days = AN_DAYS_DEFAULT;
    if (days_text) {
        an_days_result r = an_days_from_text(days_text);
        if (!r.ok) {
            days_refused(err, days_text, &r);
            return 2;
        }
        days = r.days;
    }
    /* The bot's own configuration layers (file < environment), so both count the same. */
    static fb_config cfg;
    char msg[600];
    char *cargv[] = {"-c", (char *)config, NULL};
    fb_config_action action;
    if (fb_config_load(&cfg, config ? 2 : 0, cargv, NULL, &action, out, msg, sizeof msg) != 0) {
        fprintf(err, "fluxbot stats: %s\n", msg);
        return 2;
    }
    bool db_from_flag = db != NULL;
    if (!db) db = cfg.db_url[0] ? cfg.db_url : cfg.db_path;
    /* A URL may hold a password: messages name it without. */
    const char *shown = an_engine_is_pg(db) ? "the PostgreSQL database" : db;
    if (!an_engine_is_pg(db) && !file_exists(db, msg, sizeof msg)) {
        /* SQLite's own word for it is "unable to open database file": say what is missing
         * and where the path came from. */
        fprintf(err,
                "fluxbot stats: no analytics database at '%s' (%s); it is created when the bot "
                "first runs with it. %s\n",
                db, msg,
                db_from_flag ? "Check --db."
                             : "It is the configuration's db_path (FLUXBOT_DB, default "
                               "fluxbot.db in the current folder): give --db FILE, or -c with "
                               "the bot's configuration.");
        return 1;
    }
    an_view *r = an_view_open(db, msg, sizeof msg);
    if (!r) {
        fprintf(err, "fluxbot stats: %s\n", msg);
        return 1;
    }
    an_view_set_active_min(r, (unsigned)cfg.active_user_min_events);
    an_stats s;
    int rc = an_view_stats(r, days, now_ms, &s, msg, sizeof msg);
    an_view_close(r);
    if (rc != 0) {
        fprintf(err, "fluxbot stats: reading '%s': %s\n", shown, msg);
        return 1;
    }
    if (chart && an_chart_write_file(&s, chart, msg, sizeof msg) != 0) {
        fprintf(err, "fluxbot stats: --chart: %s\n", msg);
        return 1;
    }
    if (json)
        print_json(out, &s);
    else
        print_table(out, &s);
    return fflush(out) == 0 ? 0 : 1;
}

int an_cli_stats(int argc, char **argv)
{
    return an_cli_stats_at(argc, argv, (int64_t)rt_wall_ms(), stdout, stderr);
}

static const char k_import_usage[] =
    "usage: fluxbot import-analytics [-c CONFIG] [--db DEST] SOURCE\n"
    "  SOURCE      the Python bot's analytics.db (FluxAI or FluxComfyDiscordbot beta)\n"
    "  --db DEST   fluxbot database to import into: a SQLite file (created when missing) or\n"
    "              a postgresql:// URL (default: db_url of the configuration, i.e.\n"
    "              $FLUXBOT_DB_URL, when set, else db_path, i.e. $FLUXBOT_DB, else fluxbot.db)\n"
    "  -c CONFIG   the bot's configuration file\n"
    "Idempotent (rows imported before are skipped) and all-or-nothing.\n";

int an_cli_import(int argc, char **argv, FILE *out, FILE *err)
{
    const char *db = NULL, *config = NULL, *source = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            fputs(k_import_usage, out);
            return 0;
        }
        if (strncmp(a, "--db=", 5) == 0) {
            db = a + 5;
            continue;
        }
        const char **slot = strcmp(a, "--db") == 0                               ? &db
                            : strcmp(a, "-c") == 0 || strcmp(a, "--config") == 0 ? &config
                                                                                 : NULL;
        if (slot) {
            if (i + 1 >= argc) {
                fprintf(err, "fluxbot import-analytics: %s needs a value\n%s", a, k_import_usage);
                return 2;
            }
            *slot = argv[++i];
            continue;
        }
        if (a[0] == '-' || source) {
            fprintf(err, "fluxbot import-analytics: unexpected argument '%s'\n%s", a,
                    k_import_usage);
            return 2;
        }
        source = a;
    }
    if (!source) {
        fprintf(err, "fluxbot import-analytics: which analytics.db? (SOURCE is missing)\n%s",
                k_import_usage);
        return 2;
    }
    char why[200];
    if (!file_exists(source, why, sizeof why)) {
        fprintf(err, "fluxbot import-analytics: cannot open '%s': %s\n", source, why);
        return 1;
    }
    static fb_config cfg;
    char msg[1200];
    char *cargv[] = {"-c", (char *)config, NULL};
    fb_config_action action;
    if (fb_config_load(&cfg, config ? 2 : 0, cargv, NULL, &action, out, msg, sizeof msg) != 0) {
        fprintf(err, "fluxbot import-analytics: %s\n", msg);
        return 2;
    }
    /* Where the bot reads: db_url (PostgreSQL) when set, else the SQLite file. */
    if (!db) db = cfg.db_url[0] ? cfg.db_url : cfg.db_path;
    an_import_summary s;
    int rc = an_import_run(source, db, &s, msg, sizeof msg);
    if (rc != 0) {
        fprintf(err, "fluxbot import-analytics: %s\n", msg);
        return rc == 1 ? 1 : 3;
    }
    if (an_engine_is_pg(db)) /* the URL may hold a password: never printed */
        fprintf(out, "Imported from '%s' into the PostgreSQL database:\n", source);
    else
        fprintf(out, "Imported from '%s' into '%s':\n", source, db);
    fprintf(out, "  %llu commands, %llu generations, %llu activity rows\n",
            (unsigned long long)s.commands, (unsigned long long)s.images,
            (unsigned long long)s.activities);
    if (s.already)
        fprintf(out, "  %llu rows were imported before and were skipped\n",
                (unsigned long long)s.already);
    if (s.invalid)
        fprintf(out, "  %llu rows without a usable user id or time were skipped\n",
                (unsigned long long)s.invalid);
    if (s.daily_rows)
        fprintf(out,
                "  %llu daily_stats rows read (%llu with unreadable JSON); not copied: the "
                "rollups are rebuilt from the rows\n",
                (unsigned long long)s.daily_rows, (unsigned long long)s.daily_bad_json);
    if (s.first_ms) {
        char from[40], to[40];
        an_format_utc(s.first_ms, from, sizeof from);
        an_format_utc(s.last_ms, to, sizeof to);
        fprintf(out, "  from %s to %s\n", from, to);
    } else {
        fprintf(out, "  nothing new to import\n");
    }
    return fflush(out) == 0 ? 0 : 3;
}
