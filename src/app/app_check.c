/*
 * `fluxbot check`: verifies, without starting the bot, everything a start needs — the
 * configuration, the ratios / LoRA / workflow files, the analytics database, the Discord token
 * (GET /users/@me) and every ComfyUI server (GET /system_stats) — and prints, for each problem,
 * what is wrong and how to fix it. Exit 0 only when all is well; 4 when Discord refused the
 * token; 2 for anything else.
 */
#include "app/app.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <inttypes.h>
#include <libgen.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "analytics/an_chart.h"
#include "analytics/an_stats.h"
#include "comfy/loras.h"
#include "comfy/ratios.h"
#include "comfy/decl.h"
#include "comfy/wf.h"
#include "discord/ix.h"
#include "moderation/mod_access.h"
#include "moderation/mod_pgstore.h"
#include "moderation/mod_store.h"
#include "pg/pg_conn.h"
#include "util/util_http.h"
#include "util/util_self.h"

typedef struct report {
    FILE *out;
    unsigned problems;
    bool refused;
} report;

static void ok(report *r, const char *what, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void ok(report *r, const char *what, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(r->out, "[ok]   %-14s ", what);
    vfprintf(r->out, fmt, ap);
    fputc('\n', r->out);
    va_end(ap);
}

/* A problem: what is wrong, then how to fix it. */
static void bad(report *r, const char *what, const char *fix, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void bad(report *r, const char *what, const char *fix, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(r->out, "[FAIL] %-14s ", what);
    vfprintf(r->out, fmt, ap);
    fprintf(r->out, "\n       fix: %s\n", fix);
    va_end(ap);
    r->problems++;
}

static void check_config(report *r, const fb_config *cfg)
{
    bool good = true;
    if (!cfg->discord_token[0]) {
        bad(r, "configuration", "set DISCORD_TOKEN, or discord_token in the file given with -c",
            "no Discord bot token");
        good = false;
    }
    for (unsigned i = 0; i < cfg->guild_ids.count; i++) {
        uint64_t id;
        if (!ix_parse_snowflake(cfg->guild_ids.items[i], &id)) {
            bad(r, "configuration",
                "guild_ids takes server ids (right-click the server with Developer Mode on, "
                "Copy Server ID)",
                "guild_ids entry \"%.40s\" is not a guild id", cfg->guild_ids.items[i]);
            good = false;
        }
    }
    if (cfg->comfyui_urls.count == 0) {
        bad(r, "configuration", "set COMFYUI_URLS, e.g. COMFYUI_URLS=http://127.0.0.1:8188",
            "no ComfyUI server configured");
        good = false;
    }
    for (unsigned i = 0; i < cfg->comfyui_urls.count; i++) {
        const char *u = cfg->comfyui_urls.items[i];
        if (strncmp(u, "http://", 7) != 0 && strncmp(u, "https://", 8) != 0) {
            bad(r, "configuration", "write each ComfyUI server as http://HOST:PORT",
                "COMFYUI_URLS entry \"%.100s\" is not an http(s) URL", u);
            good = false;
        }
    }
    /* sched_actors: the start refuses the same names (app.c), later and with less advice. */
    static const char *const schedulable[] = {"router",       "stats",   "analytics",
                                              "discord_rest", "comfy",   "comfy_worker",
                                              "jobs",         "modsync", "app"};
    static const char *const loops[] = {"gateway", "llm"};
    for (unsigned i = 0; i < cfg->sched_actors.count; i++) {
        const char *n = cfg->sched_actors.items[i];
        bool known = false, loop = false;
        for (size_t k = 0; k < sizeof schedulable / sizeof schedulable[0]; k++)
            known = known || !strcmp(n, schedulable[k]);
        for (size_t k = 0; k < sizeof loops / sizeof loops[0]; k++)
            loop = loop || !strcmp(n, loops[k]);
        if (loop) {
            bad(r, "configuration",
                "take it out of sched_actors: it always has a thread of its own",
                "sched_actors: %.64s runs its own event loop and cannot be scheduled", n);
            good = false;
        } else if (!known) {
            bad(r, "configuration",
                "sched_actors takes router, stats, analytics, discord_rest (the default is "
                "router,stats,analytics,discord_rest)",
                "sched_actors: this bot has no actor named \"%.64s\"", n);
            good = false;
        }
    }
    if (good)
        ok(r, "configuration", "token set, %u ComfyUI server%s, commands %s",
           cfg->comfyui_urls.count, cfg->comfyui_urls.count == 1 ? "" : "s",
           cfg->guild_ids.count ? "per guild" : "global");
}

/* Appends ", item" (or item first) to a list being shown; a list too long for buf ends in
 * "..." rather than in a cut name. (snprintf, not strncat: the package's _FORTIFY_SOURCE build
 * refuses strncat calls that may truncate.) */
static void list_add(char *buf, size_t cap, const char *item)
{
    size_t o = strlen(buf);
    if (o >= 3 && strcmp(buf + o - 3, "...") == 0) return; /* already full */
    int n = snprintf(buf + o, cap - o, "%s%s", o ? ", " : "", item);
    if (n < 0 || (size_t)n >= cap - o) snprintf(buf + (o < cap - 4 ? o : cap - 4), 4, "...");
}

static void check_files(report *r, const fb_config *cfg)
{
    char err[600];
    /* The format notes where this binary's documentation really is (source tree or install). */
    char fix[PATH_MAX + 160];
    ratios_set rs;
    snprintf(fix, sizeof fix,
             "repair the file (format: %s/docs/comfy.md) or point ratios_file at one",
             util_self_docdir());
    if (ratios_load_file(&rs, cfg->ratios_file, err, sizeof err) == 0)
        ok(r, "ratios", "%u resolutions from %s", rs.count, cfg->ratios_file);
    else
        bad(r, "ratios", fix, "%s", err);

    loras_set ls = {0};
    if (loras_load_file(&ls, cfg->loras_file, err, sizeof err) == 0)
        ok(r, "loras", "%u LoRAs from %s", ls.count, cfg->loras_file);
    else {
        snprintf(fix, sizeof fix,
                 "repair the file (format: %s/docs/comfy.md) or point loras_file at one",
                 util_self_docdir());
        bad(r, "loras", fix, "%s", err);
    }
    loras_free(&ls);

    /* The declarations name the workflows and mappings the bot runs: loading them validates
     * all three (file, key and node named on failure). */
    decl_set ds;
    if (decl_set_load(&ds, cfg->workflows_dir, err, sizeof err) == 0) {
        char names[1024] = "", wfs[1024] = "";
        for (unsigned i = 0; i < ds.count; i++) {
            list_add(names, sizeof names, ds.cmds[i]->name);
            bool seen = false;
            for (unsigned k = 0; k < i; k++)
                seen = seen || strcmp(ds.cmds[k]->workflow, ds.cmds[i]->workflow) == 0;
            if (!seen) list_add(wfs, sizeof wfs, ds.cmds[i]->workflow);
        }
        ok(r, "workflows", "%s (%s)", cfg->workflows_dir, ds.count ? wfs : "none declared");
        ok(r, "commands", "%u declarations (%s)", ds.count, ds.count ? names : "none");
        decl_set_free(&ds);
    } else {
        struct stat st;
        if (stat(cfg->workflows_dir, &st) != 0 || !S_ISDIR(st.st_mode))
            /* No folder at all: the advice is where to point, not what to repair. */
            snprintf(fix, sizeof fix,
                     "point workflows_dir (FLUXBOT_WORKFLOWS_DIR) at the folder of the *.cmd.json "
                     "declarations (the shipped one is %s/workflows)",
                     util_self_datadir());
        else
            snprintf(fix, sizeof fix,
                     "repair the named key of the *.cmd.json file, or the workflow or mapping it "
                     "names (format: %s/docs/comfy.md)",
                     util_self_docdir());
        bad(r, "commands", fix, "%s", err);
    }
}

static void check_database(report *r, const fb_config *cfg)
{
    char err[600];
    if (cfg->db_url[0]) {
        /* The analytics live in the shared database (an_engine.h): checked below. */
        ok(r, "database", "analytics, results and moderation in the shared database (db_url)");
        return;
    }
    if (access(cfg->db_path, F_OK) == 0) {
        an_reader *rd = an_reader_open(cfg->db_path, err, sizeof err);
        if (rd) {
            ok(r, "database", "%s is a fluxbot database", cfg->db_path);
            an_reader_close(rd);
        } else {
            bad(r, "database",
                "point db_path (FLUXBOT_DB) at a fluxbot database, or at a new file name", "%s",
                err);
        }
        return;
    }
    char copy[FB_CONFIG_STR];
    snprintf(copy, sizeof copy, "%s", cfg->db_path);
    const char *dir = dirname(copy);
    char cwd[PATH_MAX];
    if (access(dir, W_OK) == 0 && cfg->db_path[0] != '/' && getcwd(cwd, sizeof cwd))
        /* relative: where the bot is started from decides where it goes */
        ok(r, "database", "%s will be created in the current folder (%s)", cfg->db_path, cwd);
    else if (access(dir, W_OK) == 0)
        ok(r, "database", "%s will be created", cfg->db_path);
    else
        bad(r, "database", "create the folder or make it writable, or change db_path (FLUXBOT_DB)",
            "cannot create %s: folder %s is not writable", cfg->db_path, dir);
}

/* The PostgreSQL database the processes share (db_url): it must answer, or the processes do
 * not IDENTIFY and fall back to their own job limits. Neither the URL (it may hold a password)
 * nor anything but libpq's message is printed. */
static void check_shared_database(report *r, const fb_config *cfg)
{
    if (!cfg->db_url[0]) return;
    char err[600];
    PGconn *c = pg_open(cfg->db_url, 5000, err, sizeof err);
    if (!c) {
        bad(r, "shared database",
            "start PostgreSQL or correct db_url (FLUXBOT_DB_URL): without it the processes do "
            "not start, do not IDENTIFY and apply only their own job limits",
            "%s", err);
        return;
    }
    int v = PQserverVersion(c);
    ok(r, "shared database",
       "PostgreSQL %d.%d answers (db_url, user %s, database %s); IDENTIFYs paced across the "
       "processes, 5 s + %" PRId64 " ms apart per bucket (identify_margin_ms)",
       v / 10000, v % 10000, PQuser(c), PQdb(c), cfg->identify_margin_ms);
    PQfinish(c);
}

/* The access_* keys (a bad one stops the start) and the stored moderation state. */
static void check_moderation(report *r, const fb_config *cfg)
{
    char err[600];
    mod_access *acc = malloc(sizeof *acc);
    if (!acc) abort();
    if (app_access_from(acc, cfg, err, sizeof err) != 0) {
        bad(r, "access", "fix the key named (channel ids are numbers in quotes)", "%s", err);
        free(acc);
        return;
    }
    ok(r, "access", "%u default channel%s, %u default role%s, DMs %s, %u per-command rule%s",
       acc->dflt.nchannels, acc->dflt.nchannels == 1 ? "" : "s", acc->dflt.nroles,
       acc->dflt.nroles == 1 ? "" : "s", acc->dflt.dms ? "on" : "off", acc->ncmds,
       acc->ncmds == 1 ? "" : "s");
    free(acc);
    mod_loaded l;
    int rc = cfg->db_url[0] ? mod_pgstore_load(cfg->db_url, 0, &l, err, sizeof err)
                            : mod_store_load(cfg->db_path, 0, &l, err, sizeof err);
    if (rc == 0)
        ok(r, "moderation",
           "%u banned words, %u patterns, %u context rules, %zu users with "
           "warnings or bans",
           l.rules->nwords, l.rules->nregexes, l.rules->ncontexts, l.count);
    else
        bad(r, "moderation", "see the database line", "%s", err);
    mod_loaded_free(&l);
}

static void check_discord(report *r, const fb_config *cfg)
{
    if (!cfg->discord_token[0]) return; /* already reported */
    char url[FB_CONFIG_STR + 32], auth[FB_CONFIG_STR + 8];
    snprintf(url, sizeof url, "%s/users/@me", cfg->discord_api_base);
    snprintf(auth, sizeof auth, "Bot %s", cfg->discord_token);
    util_http_res res;
    util_http_opts o = {.authorization = auth, .timeout_ms = (long)cfg->rest_timeout_ms};
    if (util_http_get(url, &o, &res) != 0) {
        bad(r, "discord", "check the network, a proxy, or discord_api_base (DISCORD_API_BASE)",
            "cannot reach %s: %s", cfg->discord_api_base, res.error);
        return;
    }
    if (res.status == 200) {
        cJSON *me = cJSON_Parse(res.body ? res.body : "");
        const cJSON *name = cJSON_GetObjectItemCaseSensitive(me, "username");
        const cJSON *id = cJSON_GetObjectItemCaseSensitive(me, "id");
        ok(r, "discord", "token accepted: bot %.64s (id %.24s)",
           cJSON_IsString(name) ? name->valuestring : "?",
           cJSON_IsString(id) ? id->valuestring : "?");
        cJSON_Delete(me);
    } else if (res.status == 401) {
        bad(r, "discord",
            "copy the token again from the Developer Portal (Applications → your bot → Bot → "
            "Reset Token) into DISCORD_TOKEN",
            "Discord refused the token (401)");
        r->refused = true;
    } else {
        bad(r, "discord", "try again later; if it persists check discord_api_base",
            "GET /users/@me answered %ld", res.status);
    }
    util_http_res_free(&res);
}

static void check_comfy(report *r, const fb_config *cfg)
{
    for (unsigned i = 0; i < cfg->comfyui_urls.count; i++) {
        const char *base = cfg->comfyui_urls.items[i];
        if (strncmp(base, "http://", 7) != 0 && strncmp(base, "https://", 8) != 0) continue;
        char url[FB_CONFIG_STR + 32];
        size_t bl = strlen(base);
        snprintf(url, sizeof url, "%s%ssystem_stats", base, bl && base[bl - 1] == '/' ? "" : "/");
        util_http_res res;
        if (util_http_get(url, &(util_http_opts){.timeout_ms = 10000}, &res) != 0) {
            bad(r, "comfyui",
                "start ComfyUI there (python main.py --listen 127.0.0.1 --port PORT) or fix "
                "COMFYUI_URLS",
                "%s: %s", base, res.error);
            continue;
        }
        cJSON *st = res.status == 200 ? cJSON_Parse(res.body ? res.body : "") : NULL;
        const cJSON *sys = cJSON_GetObjectItemCaseSensitive(st, "system");
        if (cJSON_IsObject(sys)) {
            const cJSON *v = cJSON_GetObjectItemCaseSensitive(sys, "comfyui_version");
            ok(r, "comfyui", "%s up (ComfyUI %.32s)", base,
               cJSON_IsString(v) ? v->valuestring : "version unknown");
        } else {
            bad(r, "comfyui", "make sure the URL points at ComfyUI itself, not a proxy page",
                "%s: /system_stats answered %ld without ComfyUI's system object", base, res.status);
        }
        cJSON_Delete(st);
        util_http_res_free(&res);
    }
}

/* Prompt enhancement: off, or the endpoint answers GET {llm_url}/models with the key and lists
 * llm_model. A server without the list (404) passes with a note: not every OpenAI-compatible
 * server has one, and the first enhancement will tell. The key is never printed. */
static void check_llm(report *r, const fb_config *cfg)
{
    if (!cfg->llm_url[0]) {
        ok(r, "enhancement", "off (llm_url is empty; the enhance options are not registered)");
        return;
    }
    char url[FB_CONFIG_STR + 16], auth[FB_CONFIG_STR + 16];
    size_t ul = strlen(cfg->llm_url);
    snprintf(url, sizeof url, "%.*s/models", (int)(ul && cfg->llm_url[ul - 1] == '/' ? ul - 1 : ul),
             cfg->llm_url);
    snprintf(auth, sizeof auth, "Bearer %s", cfg->llm_key);
    util_http_res res;
    util_http_opts o = {.authorization = cfg->llm_key[0] ? auth : NULL,
                        .timeout_ms = (long)cfg->llm_timeout_ms};
    int rc = util_http_get(url, &o, &res);
    memset(auth, 0, sizeof auth);
    if (rc != 0) {
        bad(r, "enhancement", "start the model server, or fix llm_url (FLUXBOT_LLM_URL)",
            "cannot reach %s: %s", cfg->llm_url, res.error);
        return;
    }
    if (res.status == 401 || res.status == 403) {
        bad(r, "enhancement", "set the service's API key in FLUXBOT_LLM_KEY",
            "%s refused the key (%ld)", cfg->llm_url, res.status);
    } else if (res.status == 404) {
        ok(r, "enhancement", "%s answers (it lists no models: GET /models answered 404); model %s",
           cfg->llm_url, cfg->llm_model);
    } else if (res.status != 200) {
        bad(r, "enhancement", "check llm_url: it should end with the API's version, e.g. /v1",
            "GET %s/models answered %ld", cfg->llm_url, res.status);
    } else {
        cJSON *l = cJSON_Parse(res.body ? res.body : "");
        const cJSON *data = cJSON_GetObjectItemCaseSensitive(l, "data"), *m;
        bool listed = false;
        int n = 0;
        char some[200] = "";
        size_t used = 0;
        cJSON_ArrayForEach(m, data)
        {
            const cJSON *id = cJSON_GetObjectItemCaseSensitive(m, "id");
            if (!cJSON_IsString(id)) continue;
            n++;
            listed = listed || strcmp(id->valuestring, cfg->llm_model) == 0;
            if (used + strlen(id->valuestring) + 3 < sizeof some)
                used += (size_t)snprintf(some + used, sizeof some - used, "%s%s", used ? ", " : "",
                                         id->valuestring);
        }
        if (listed)
            ok(r, "enhancement", "%s answers; model %s is listed", cfg->llm_url, cfg->llm_model);
        else
            bad(r, "enhancement", "set llm_model (FLUXBOT_LLM_MODEL) to a model the server has",
                "model %s is not among the %d the server lists (%s)", cfg->llm_model, n,
                n ? some : "none");
        cJSON_Delete(l);
    }
    util_http_res_free(&res);
}

/* stats_chart: off is a choice, not a problem; on, a chart of an empty window is drawn the
 * way /stats draws it, so a machine without the chart's fonts or a working cairo is named
 * here rather than in the log of the first /stats (whose answer would go out without it). */
static void check_stats_chart(report *r, const fb_config *cfg)
{
    if (!cfg->stats_chart) {
        ok(r, "stats chart", "off (stats_chart = false): /stats answers with the embed alone");
        return;
    }
    an_stats *s = calloc(1, sizeof *s);
    if (!s) abort();
    an_window w;
    an_window_make(AN_DAYS_DEFAULT, 1700000000000LL, &w);
    an_stats_begin(s, &w, AN_ACTIVE_MIN_DEFAULT);
    unsigned char *png = NULL;
    size_t len = 0;
    char err[256];
    if (an_chart_png(s, &png, &len, err, sizeof err) == 0)
        ok(r, "stats chart", "drawn (%dx%d PNG, %zu bytes for an empty week)", AN_CHART_W,
           AN_CHART_H, len);
    else
        bad(r, "stats chart",
            "install cairo's fonts (fonts-dejavu-core), or set stats_chart = false to answer "
            "/stats with the embed alone",
            "%s", err);
    free(png);
    free(s);
}

int app_check_report(const fb_config *cfg, FILE *out)
{
    report r = {.out = out};
    check_config(&r, cfg);
    check_files(&r, cfg);
    check_database(&r, cfg);
    check_shared_database(&r, cfg);
    check_moderation(&r, cfg);
    check_stats_chart(&r, cfg);
    check_discord(&r, cfg);
    check_comfy(&r, cfg);
    check_llm(&r, cfg);
    if (r.problems == 0)
        fprintf(out, "all checks passed\n");
    else
        fprintf(out, "%u problem%s found\n", r.problems, r.problems == 1 ? "" : "s");
    fflush(out);
    if (r.problems == 0) return APP_EXIT_OK;
    return r.refused ? APP_EXIT_DISCORD_REFUSED : APP_EXIT_CONFIG;
}

int app_check(const fb_config *cfg)
{
    return app_check_report(cfg, stdout);
}
