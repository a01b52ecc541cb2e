/*
 * Application wiring: builds the real actors in dependency order, runs them until a signal or
 * a fatal Discord refusal, registers the slash commands once the gateway's READY gave the
 * application id, and shuts down in reverse order so nothing accepted is lost.
 */
#include "app/app.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "actors/analytics_writer.h"
#include "actors/comfy_runner.h"
#include "actors/comfy_worker.h" /* the pool's actor name: its threads are runner_threads */
#include "actors/discord_rest.h"
#include "actors/gateway.h"
#include "actors/llm_enhance.h"
#include "actors/mod_refresher.h"
#include "actors/router.h"
#include "actors/stats_reporter.h"
#include "analytics/an_cli.h"
#include "app/appreg.h"
#include "app/metrics.h"
#include "app/reload.h"
#include "app/llm_metrics.h"
#include "app/router_metrics.h"
#include "actors/models_fetch.h"
#include "comfy/decl.h"
#include "comfy/models.h"
#include "discord/cmd.h"
#include "discord/gw_roles.h"
#include "discord/ix.h"
#include "fluxbot/log.h"
#include "moderation/mod_access.h"
#include "moderation/mod_state.h"
#include "moderation/mod_pgstore.h"
#include "moderation/mod_store.h"

#define LOGN "app"
#define CMD_TABLE_NAMES_MAX 64

struct app {
    fb_config cfg;
    rt_system *sys;
    gw_roles *roles;
    appreg *reg;
    analytics_writer *writer;
    discord_rest *rest;
    stats_reporter *stats;
    comfy_runner *runner;
    llm_enhance *llm; /* prompt enhancement; NULL when llm_url is empty */
    router *router;
    gateway *gw;
    metrics_server *metrics;
    mod_state *mod;
    mod_refresher *modsync; /* with a shared database only */
    models_cache *models;   /* the servers' model lists, for declared options */
    models_fetch *fetch;
    uint64_t dms_mask; /* digest of the commands registered as usable in DMs */
    uint64_t guilds[FB_CONFIG_MAX_LIST];
    unsigned nguilds;
};

/* Frees whatever was built; the system must be stopped (or never started). */
static void app_free(app *a)
{
    if (!a) return;
    metrics_stop(a->metrics);
    models_fetch_stop(a->fetch);
    if (a->sys) rt_system_stop(a->sys);
    comfy_runner_free(a->runner);
    rt_system_free(a->sys);
    llm_enhance_free(a->llm);
    gateway_free(a->gw);
    router_free(a->router);
    mod_refresher_free(a->modsync);
    mod_state_free(a->mod);
    stats_reporter_free(a->stats);
    discord_rest_free(a->rest);
    analytics_writer_free(a->writer);
    appreg_free(a->reg);
    gw_roles_free(a->roles);
    models_free(a->models); /* last: the router and the runner read it */
    free(a);
}

static void fail(char *err, size_t errlen, int *code, int value, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
static void fail(char *err, size_t errlen, int *code, int value, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    *code = value;
}

/* Places the actors of sched_actors on the scheduler (runtime.h: rt_actor_schedule). */
static int app_schedule(rt_system *sys, const fb_config *cfg, char *err, size_t errlen)
{
    /* The interaction path's actors park after nearly every message at ordinary rates: where
     * they run on threads of their own, fences cost less than a membarrier per park
     * (runtime.h: rt_actor_use_fences; about 3 system calls per /stats interaction). */
    static const char *const hot[] = {ROUTER_ACTOR_NAME, "stats", "analytics"};
    for (size_t i = 0; i < sizeof hot / sizeof hot[0]; i++) {
        rt_actor *act = rt_system_find(sys, hot[i]);
        if (act) rt_actor_use_fences(act);
    }
    if (cfg->sched_workers <= 0) return 0;
    rt_system_set_workers(sys, (unsigned)cfg->sched_workers);
    for (unsigned i = 0; i < cfg->sched_actors.count; i++) {
        const char *name = cfg->sched_actors.items[i];
        rt_actor *act = rt_system_find(sys, name);
        if (!act) {
            /* modsync and jobs exist only with a shared database: not an error without one */
            if (!cfg->db_url[0] && (!strcmp(name, "modsync") || !strcmp(name, "jobs"))) continue;
            snprintf(err, errlen, "sched_actors: this bot has no actor named \"%.64s\"", name);
            return -1;
        }
        if (rt_actor_schedule(act) != 0) {
            snprintf(err, errlen,
                     "sched_actors: %.64s runs its own event loop and cannot be scheduled", name);
            return -1;
        }
    }
    return 0;
}

/* One startup line per actor, with its thread count. */
static void log_actor(rt_actor *act, void *ctx)
{
    const app *a = ctx;
    const char *n = rt_actor_name(act);
    if (rt_actor_is_scheduled(act)) {
        LOG_INFO(LOGN, "actor %s: on the scheduler (%" PRId64 " worker%s)", n, a->cfg.sched_workers,
                 a->cfg.sched_workers == 1 ? "" : "s");
        return;
    }
    int64_t threads = 1;
    if (strcmp(n, "stats") == 0) threads = a->cfg.stats_threads;
    if (strcmp(n, COMFY_WORKER_ACTOR_NAME) == 0) threads = a->cfg.runner_threads;
    if (strcmp(n, ROUTER_ACTOR_NAME) == 0) threads = a->cfg.router_threads;
    LOG_INFO(LOGN, "actor %s: %" PRId64 " thread%s", n, threads, threads == 1 ? "" : "s");
}

/* ---- moderation ---------------------------------------------------------------------------- */

static int g_argc;
static char **g_argv;

void app_set_config_args(int argc, char **argv)
{
    g_argc = argc;
    g_argv = argv;
}

int app_access_from(mod_access *out, const fb_config *cfg, char *err, size_t errlen)
{
    /* The names access_commands may use: every command of the table and every declared one
     * (read from the folder as it is now, so a rule may name a command a reload adds). A
     * folder that does not load leaves only the table's: the start or reload reports it. */
    const char *names[CMD_TABLE_NAMES_MAX + DECL_MAX_COMMANDS + 1];
    unsigned n, k = 0;
    const cmd_def *t = cmd_table(&n);
    for (unsigned i = 0; i < n && i < CMD_TABLE_NAMES_MAX; i++)
        names[k++] = t[i].name;
    decl_set *ds = calloc(1, sizeof *ds);
    if (!ds) abort();
    char derr[600];
    if (decl_set_load(ds, cfg->workflows_dir, derr, sizeof derr) != 0) memset(ds, 0, sizeof *ds);
    for (unsigned i = 0; i < ds->count; i++)
        if (!ds->cmds[i]->button) names[k++] = ds->cmds[i]->name;
    names[k] = NULL;
    int rc = mod_access_build(out, cfg, names, err, errlen);
    decl_set_free(ds);
    free(ds);
    return rc;
}

static bool command_dms(void *ctx, const char *command)
{
    return mod_state_dms_allowed(ctx, command);
}

/* A digest of which commands (the table's and the declared ones) are registered as usable in
 * DMs: when it changes, the commands are registered again. */
static uint64_t dms_mask(app *a)
{
    uint64_t h = 1469598103934665603ULL; /* FNV-1a */
    unsigned n;
    const cmd_def *t = cmd_table(&n);
    const decl_set *ds = a->runner ? comfy_runner_catalog(a->runner)->decls : NULL;
    for (unsigned i = 0; i < n + (ds ? ds->count : 0); i++) {
        const char *name = i < n ? t[i].name : ds->cmds[i - n]->name;
        if (!mod_state_dms_allowed(a->mod, name)) continue;
        for (const char *p = name; *p; p++)
            h = (h ^ (unsigned char)*p) * 1099511628211ULL;
        h = (h ^ '\n') * 1099511628211ULL;
    }
    return h;
}

int app_apply_config(void *ctx, char *summary, size_t cap)
{
    app *a = ctx;
    fb_config *c = malloc(sizeof *c);
    if (!c) abort();
    fb_config_action action;
    char err[600];
    int rc = -1;
    if (g_argv && fb_config_load(c, g_argc, g_argv, NULL, &action, stderr, err, sizeof err) != 0) {
        snprintf(summary, cap, "%s", err);
    } else {
        if (!g_argv) *c = a->cfg; /* started without a command line: the start's values */
        mod_access acc;
        if (app_access_from(&acc, c, err, sizeof err) != 0) {
            snprintf(summary, cap, "%s", err);
        } else {
            mod_state_set_access(a->mod, &acc);
            mod_state_set_max_warnings(a->mod, (unsigned)c->filter_max_warnings);
            uint64_t mask = dms_mask(a);
            bool again = mask != a->dms_mask;
            a->dms_mask = mask;
            if (again) appreg_request_again(a->reg);
            snprintf(summary, cap, "access rules and filter_max_warnings (%u) applied%s",
                     (unsigned)c->filter_max_warnings,
                     again ? "; DM availability changed: commands registered again" : "");
            rc = 0;
        }
    }
    free(c);
    return rc;
}

app *app_start(const fb_config *cfg, char *err, size_t errlen, int *code)
{
    *code = APP_EXIT_OK;
    if (!cfg->discord_token[0]) {
        fail(err, errlen, code, APP_EXIT_CONFIG,
             "no Discord token: set DISCORD_TOKEN (or discord_token in the -c file)");
        return NULL;
    }
    if (cfg->comfyui_urls.count == 0) {
        fail(err, errlen, code, APP_EXIT_CONFIG,
             "no ComfyUI server: set COMFYUI_URLS (e.g. http://127.0.0.1:8188) or comfyui_urls "
             "in the -c file");
        return NULL;
    }
    app *a = calloc(1, sizeof *a);
    if (!a) {
        fail(err, errlen, code, APP_EXIT_RUNTIME, "out of memory");
        return NULL;
    }
    a->cfg = *cfg;
    cfg = &a->cfg;
    for (unsigned i = 0; i < cfg->guild_ids.count && i < FB_CONFIG_MAX_LIST; i++) {
        if (!ix_parse_snowflake(cfg->guild_ids.items[i], &a->guilds[a->nguilds])) {
            fail(err, errlen, code, APP_EXIT_CONFIG,
                 "guild_ids: \"%.40s\" is not a guild id (a number like 123456789012345678)",
                 cfg->guild_ids.items[i]);
            app_free(a);
            return NULL;
        }
        a->nguilds++;
    }
    a->sys = rt_system_new();
    a->roles = gw_roles_new();
    if (!a->sys || !a->roles) {
        fail(err, errlen, code, APP_EXIT_RUNTIME, "out of memory");
        app_free(a);
        return NULL;
    }

    char why[512];
    /* Moderation state: read once here, then kept in memory by the router (mod_state.h); the
     * writer re-reads it from a SQLite file renamed over db_path (analytics_writer.h). */
    mod_access acc;
    if (app_access_from(&acc, cfg, why, sizeof why) != 0) {
        fail(err, errlen, code, APP_EXIT_CONFIG, "%s", why);
        app_free(a);
        return NULL;
    }
    a->mod = mod_state_new(&(mod_config){.max_warnings = (unsigned)cfg->filter_max_warnings});
    mod_state_set_access(a->mod, &acc);
    mod_loaded loaded;
    int mod_rc =
        cfg->db_url[0]
            ? mod_pgstore_load(cfg->db_url, (int64_t)rt_wall_ms(), &loaded, why, sizeof why)
            : mod_store_load(cfg->db_path, (int64_t)rt_wall_ms(), &loaded, why, sizeof why);
    if (mod_rc != 0) {
        mod_loaded_free(&loaded);
        fail(err, errlen, code, APP_EXIT_START, "moderation state: %s", why);
        app_free(a);
        return NULL;
    }
    LOG_INFO(LOGN,
             "moderation: %u banned words, %u patterns, %u context rules, %zu users with "
             "warnings or bans",
             loaded.rules->nwords, loaded.rules->nregexes, loaded.rules->ncontexts, loaded.count);
    mod_state_adopt(a->mod, &loaded);

    a->reg = appreg_new(a->sys, a->guilds, a->nguilds);
    analytics_writer_config wc;
    analytics_writer_config_from(&wc, cfg);
    wc.mod = a->mod;
    a->writer = analytics_writer_new(a->sys, &wc);
    rl_config limits;
    rl_config_defaults(&limits);
    limits.global_per_sec = fb_config_rest_global_share(cfg);
    if (limits.global_per_sec < 50)
        LOG_INFO(LOGN,
                 "REST: %u requests/s of the bot's global 50/s (shard %" PRId64 "/%" PRId64 ")",
                 limits.global_per_sec, cfg->shard_id, cfg->shard_count);
    discord_rest_config dc;
    discord_rest_config_from(&dc, cfg);
    dc.fatal_exit_code = APP_EXIT_DISCORD_REFUSED;
    dc.limits = &limits;
    a->rest = a->reg && a->writer ? discord_rest_new(a->sys, &dc) : NULL;
    stats_reporter_config sc;
    stats_reporter_config_from(&sc, cfg);
    sc.data_version = analytics_writer_data_version(a->writer);
    a->stats = a->rest ? stats_reporter_new(a->sys, &sc) : NULL;
    if (!a->stats) {
        fail(err, errlen, code, APP_EXIT_START, "cannot create the actors (see the log above)");
        app_free(a);
        return NULL;
    }

    if (cfg->db_url[0]) {
        /* Other processes change filters, warnings and bans too: re-read them periodically
         * (mod_refresher.h). The guard covers this writer's commit delay, several times. */
        mod_refresher_config mc;
        mod_refresher_config_from(&mc, cfg);
        mc.mod = a->mod;
        a->modsync = mod_refresher_new(a->sys, &mc);
        if (!a->modsync) {
            fail(err, errlen, code, APP_EXIT_START, "cannot create the actors (see the log above)");
            app_free(a);
            return NULL;
        }
    }
    discord_rest_set_command_dms(a->rest, command_dms, a->mod);

    if (cfg->llm_url[0]) {
        /* before the runner, whose coordinator sends it prompts: it stops after the
         * coordinator, which answers the jobs it holds (those waiting for an enhancement too) */
        llm_enhance_config lc;
        llm_enhance_config_from(&lc, cfg);
        lc.mod = a->mod;
        a->llm = llm_enhance_new(a->sys, &lc, why, sizeof why);
        if (!a->llm) {
            fail(err, errlen, code, APP_EXIT_START, "cannot start: %s", why);
            app_free(a);
            return NULL;
        }
        LOG_INFO(LOGN, "prompt enhancement: on (model %s, timeout %" PRId64 " ms)", cfg->llm_model,
                 cfg->llm_timeout_ms);
    }

    a->models = models_new();
    if (!a->models) abort();
    comfy_runner_config rc;
    comfy_runner_config_from(&rc, cfg);
    rc.rest = discord_rest_actor(a->rest);
    rc.analytics = analytics_writer_actor(a->writer);
    rc.enhancer = llm_enhance_actor(a->llm);
    rc.mod = a->mod;
    rc.models = a->models;
    /* The runner loads the command declarations: a broken one stops the start with its file,
     * key and node named. */
    a->runner = comfy_runner_new(a->sys, &rc, why, sizeof why);
    if (!a->runner) {
        fail(err, errlen, code, APP_EXIT_START, "cannot start: %s", why);
        app_free(a);
        return NULL;
    }
    LOG_INFO(LOGN, "commands: %u declared in %s", comfy_runner_catalog(a->runner)->decls->count,
             cfg->workflows_dir);
    a->dms_mask = dms_mask(a);

    router_config ro;
    router_config_from(&ro, cfg);
    ro.rest = discord_rest_actor(a->rest);
    ro.runner = comfy_runner_actor(a->runner);
    ro.enhancer = llm_enhance_actor(a->llm);
    ro.stats = stats_reporter_actor(a->stats);
    ro.analytics = analytics_writer_actor(a->writer);
    ro.catalog = comfy_runner_catalog(a->runner);
    ro.roles = a->roles;
    ro.mod = a->mod;
    a->router = router_new(a->sys, &ro);

    gateway_config gc;
    gateway_config_from(&gc, cfg);
    gc.target = a->router ? router_actor(a->router) : NULL;
    gc.roles = a->roles;
    gc.fatal_exit_code = APP_EXIT_DISCORD_REFUSED;
    a->gw = a->router ? gateway_new(a->sys, &gc) : NULL;
    if (!a->gw) {
        fail(err, errlen, code, APP_EXIT_START, "cannot create the actors (see the log above)");
        app_free(a);
        return NULL;
    }

    if (app_schedule(a->sys, cfg, why, sizeof why) != 0) {
        fail(err, errlen, code, APP_EXIT_CONFIG, "%s", why);
        app_free(a);
        return NULL;
    }

    int rcode = rt_system_start(a->sys);
    if (rcode != 0) {
        fail(err, errlen, code, APP_EXIT_START,
             "an actor failed to start (see the log above; for the database, check %s "
             "\"%.200s\")",
             cfg->db_url[0] ? "db_url" : "db_path",
             cfg->db_url[0] ? "postgresql://..." : cfg->db_path);
        app_free(a);
        return NULL;
    }
    rt_system_foreach(a->sys, log_actor, a);
    /* The servers' model lists for declared options that autocomplete from them. */
    const char *urls[FB_CONFIG_MAX_LIST];
    for (unsigned i = 0; i < cfg->comfyui_urls.count && i < FB_CONFIG_MAX_LIST; i++)
        urls[i] = cfg->comfyui_urls.items[i];
    models_fetch_config mf = {.cache = a->models, .urls = urls, .nurls = cfg->comfyui_urls.count};
    a->fetch = models_fetch_start(&mf, why, sizeof why);
    if (!a->fetch) LOG_WARN(LOGN, "model lists will not be fetched: %s", why);

    if (cfg->metrics_port > 0) {
        a->metrics = metrics_start((uint16_t)cfg->metrics_port, why, sizeof why);
        if (!a->metrics) {
            fail(err, errlen, code, APP_EXIT_START, "metrics: %s", why);
            app_free(a);
            return NULL;
        }
        metrics_sources src = {.sys = a->sys,
                               .analytics = a->writer,
                               .runner = a->runner,
                               .rest = a->rest,
                               .stats = a->stats,
                               .gateway = a->gw,
                               .modsync = a->modsync};
        metrics_add_sources(a->metrics, &src);
        metrics_add(a->metrics, router_metrics_collect, a->router);
        if (a->llm) metrics_add(a->metrics, llm_metrics_collect, a->llm);
        LOG_INFO(LOGN, "metrics on http://127.0.0.1:%u/metrics", metrics_port(a->metrics));
    }
    LOG_INFO(LOGN, "fluxbot %s started: %u ComfyUI server%s, commands %s", FLUXBOT_VERSION,
             cfg->comfyui_urls.count, cfg->comfyui_urls.count == 1 ? "" : "s",
             a->nguilds ? "per guild" : "global");
    return a;
}

bool app_poll(app *a, int64_t timeout_ms)
{
    bool stop = rt_system_wait_signal(a->sys, timeout_ms);
    if (!stop) {
        gateway_counters gs;
        gateway_counters_get(a->gw, &gs);
        if (gs.application_id)
            appreg_register(a->reg, a->rest, gs.application_id,
                            comfy_runner_catalog(a->runner)->ratios,
                            comfy_runner_catalog(a->runner)->decls);
    }
    return stop;
}

int app_stop(app *a)
{
    if (!a) return APP_EXIT_OK;
    LOG_INFO(LOGN, "stopping: intake first, then every actor drains");
    /* the model lists are not needed any more: a fetch in flight is cut now, not after the
     * drain (app_free joins the thread) */
    models_fetch_cancel(a->fetch);
    metrics_stop(a->metrics);
    a->metrics = NULL;
    rt_system_stop(a->sys);
    int code = rt_system_exit_code(a->sys);
    if (a->writer) {
        /* Accepted analytics events that could not be written are a failed run, whatever
         * else went well: a supervisor or an operator must see it (the writer logged why). */
        analytics_writer_counters m;
        analytics_writer_counters_get(a->writer, &m);
        if (m.lost && code == APP_EXIT_OK) {
            LOG_ERROR(LOGN, "%llu analytics events were lost (see the analytics errors above)",
                      (unsigned long long)m.lost);
            code = APP_EXIT_RUNTIME;
        }
    }
    app_free(a);
    LOG_INFO(LOGN, "stopped (exit %d)", code);
    return code;
}

rt_system *app_system(app *a)
{
    return a->sys;
}
struct router *app_router(app *a)
{
    return a->router;
}
struct comfy_runner *app_runner(app *a)
{
    return a->runner;
}
struct gateway *app_gateway(app *a)
{
    return a->gw;
}
struct analytics_writer *app_writer(app *a)
{
    return a->writer;
}
struct discord_rest *app_rest(app *a)
{
    return a->rest;
}

bool app_commands_registered(app *a)
{
    appreg_counters s;
    appreg_counters_get(a->reg, &s);
    return s.queued > 0 && s.succeeded == s.queued;
}

uint16_t app_metrics_port(app *a)
{
    return a->metrics ? metrics_port(a->metrics) : 0;
}

static bool same_loras(const loras_set *x, const loras_set *y)
{
    if (x->count != y->count) return false;
    for (unsigned i = 0; i < x->count; i++) {
        const loras_entry *p = &x->items[i], *q = &y->items[i];
        if (strcmp(p->name, q->name) || strcmp(p->file, q->file) ||
            strcmp(p->trigger_words, q->trigger_words) || p->weight != q->weight)
            return false;
    }
    return true;
}

int app_apply_lists(void *ctx, const ratios_set *ratios, loras_set *loras, char *err, size_t errlen)
{
    app *a = ctx;
    const cjob_catalog *cat = comfy_runner_catalog(a->runner);
    const ratios_set *old = cat->ratios;
    bool labels_changed = old->count != ratios->count, sizes_changed = false;
    for (unsigned i = 0; !labels_changed && i < ratios->count; i++) {
        labels_changed = strcmp(old->items[i].label, ratios->items[i].label) != 0;
        sizes_changed |= old->items[i].width != ratios->items[i].width ||
                         old->items[i].height != ratios->items[i].height;
    }
    /* Swapped-out lists are kept until shutdown: an unchanged reload must not add one. */
    if (!labels_changed && !sizes_changed && same_loras(cat->loras, loras)) {
        loras_free(loras);
        LOG_INFO(LOGN, "LoRA and resolution lists unchanged");
        return 0;
    }
    if (comfy_runner_swap_lists(a->runner, ratios, loras, err, errlen) != 0) return -1;
    /* Resolutions are the commands' choices: register again so Discord offers the new ones. */
    if (labels_changed) appreg_request_again(a->reg);
    LOG_INFO(LOGN, "new LoRA and resolution lists in use%s",
             labels_changed ? "; slash commands will be registered again" : "");
    return 0;
}

/* The registration objects of a set's slash commands, concatenated: equal texts register the
 * same commands. malloc'd. */
static char *registration_text(const decl_set *ds)
{
    size_t len = 0, cap = 1;
    char *all = calloc(1, cap);
    for (unsigned i = 0; all && ds && i < ds->count; i++) {
        if (ds->cmds[i]->button) continue;
        char *one = cmd_def_json(ds->without_enhance ? &ds->cmds[i]->cmd_plain : &ds->cmds[i]->cmd,
                                 NULL, 0);
        size_t n = one ? strlen(one) : 0;
        char *grown = one ? realloc(all, cap + n + 1) : NULL;
        if (!grown) {
            free(one);
            free(all);
            return NULL;
        }
        all = grown;
        memcpy(all + len, one, n);
        all[len + n] = '\n';
        len += n + 1;
        all[len] = '\0';
        cap += n + 1;
        free(one);
    }
    if (!all) abort();
    return all;
}

int app_apply_commands(void *ctx, char *summary, size_t cap)
{
    app *a = ctx;
    decl_set *fresh = calloc(1, sizeof *fresh);
    if (!fresh) abort();
    char err[600];
    if (decl_set_load(fresh, a->cfg.workflows_dir, err, sizeof err) != 0) {
        snprintf(summary, cap, "%s", err);
        free(fresh);
        return -1;
    }
    fresh->without_enhance = a->cfg.llm_url[0] == '\0';
    const decl_set *old = comfy_runner_catalog(a->runner)->decls;
    char *was = registration_text(old), *now = registration_text(fresh);
    bool changed = strcmp(was, now) != 0;
    /* Names added and removed, for the operator. */
    char diff[600] = "";
    size_t used = 0;
    for (unsigned i = 0; i < fresh->count; i++)
        if (!decl_set_find(old, fresh->cmds[i]->name) && used + 40 < sizeof diff)
            used +=
                (size_t)snprintf(diff + used, sizeof diff - used, " +/%.32s", fresh->cmds[i]->name);
    for (unsigned i = 0; old && i < old->count; i++)
        if (!decl_set_find(fresh, old->cmds[i]->name) && used + 40 < sizeof diff)
            used +=
                (size_t)snprintf(diff + used, sizeof diff - used, " -/%.32s", old->cmds[i]->name);
    unsigned count = fresh->count;
    free(was);
    free(now);
    /* Always swapped in, so an edited workflow or mapping takes effect for new jobs even when
     * what Discord shows is the same. */
    if (comfy_runner_swap_decls(a->runner, fresh, err, sizeof err) != 0) {
        decl_set_free(fresh);
        free(fresh);
        snprintf(summary, cap, "%s", err);
        return -1;
    }
    free(fresh); /* its contents moved */
    if (changed) appreg_request_again(a->reg);
    models_fetch_poke(a->fetch); /* a new declaration may use a model list */
    snprintf(summary, cap, "%u declared in %s%s%s", count, a->cfg.workflows_dir, diff,
             changed ? "; slash commands will be registered again" : "; registration unchanged");
    return 0;
}

int app_run(const fb_config *cfg)
{
    rt_signals_install();
    char err[768];
    int code;
    app *a = app_start(cfg, err, sizeof err, &code);
    if (!a) {
        fprintf(stderr, "fluxbot: %s\n", err);
        return code;
    }
    /* SIGHUP re-reads the LoRA and resolution lists and makes them current (reload.h). */
    reload_config rc = {.ratios_file = cfg->ratios_file,
                        .loras_file = cfg->loras_file,
                        .apply = app_apply_lists,
                        .apply_ctx = a,
                        .apply_config = app_apply_config,
                        .config_ctx = a,
                        .apply_commands = app_apply_commands,
                        .commands_ctx = a};
    reload_watcher *rw = reload_start(&rc, err, sizeof err);
    if (!rw) LOG_WARN(LOGN, "SIGHUP reload is off: %s", err);
    while (!app_poll(a, 250)) {
    }
    reload_stop(rw);
    code = app_stop(a);
    if (code == APP_EXIT_DISCORD_REFUSED)
        fprintf(stderr,
                "fluxbot: Discord refused the bot (see the log above). A 401 or close code 4004 "
                "means the token is wrong: copy it again from the Developer Portal (Bot → Reset "
                "Token) into DISCORD_TOKEN. 4014 means a privileged intent is not enabled for the "
                "bot in the portal.\n");
    return code;
}

int app_stats_command(int argc, char **argv)
{
    return an_cli_stats(argc, argv);
}

int app_import_command(int argc, char **argv)
{
    return an_cli_import(argc, argv, stdout, stderr);
}
