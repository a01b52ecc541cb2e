/*
 * Configuration loading. One table describes every key (JSON name, environment variable,
 * flag, type, bounds, default, meaning); the JSON reader, the environment layer, the flag
 * parser, --help, --print-config and the README reference are all driven by it, so a key can
 * never be accepted in one layer and unknown in another.
 *
 * Layers, later wins: built-in defaults < JSON file (-c FILE / --config FILE) < environment <
 * command-line flags. Every error names the key and the layer it came from.
 */
#include "config/fb_config.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "fluxbot/log.h"
#include "util/util_file.h"
#include "util/util_self.h"
#include "util/util_url.h"

#define FB_CONFIG_FILE_MAX (1 << 20) /* a config file larger than 1 MiB is a mistake */

extern char **environ;

typedef enum key_type { K_STR, K_SECRET, K_INT, K_BOOL, K_LIST, K_JSON } key_type;

typedef struct key_def {
    const char *json; /* JSON key, also the flag name with '_' → '-' */
    const char *env;  /* environment variable or NULL */
    key_type type;
    size_t offset;
    size_t size; /* for strings: buffer size */
    int64_t min, max;
    const char *def; /* default, as text */
    const char *help;
    /* def is a path inside the data folder (util_self_datadir): the build tree's source folder,
     * or share/fluxbot of an installation. A plain relative default would follow the working
     * directory, and an installed bot would not find its shipped files. */
    bool in_datadir;
    /* What the value names (the completion offers file names only for FILE and DIR), and for
     * CHOICE the only accepted words: every layer refuses another word, naming the layer. */
    fb_config_value value;
    const char *choices;
} key_def;

#define STRING_KEY(field, env, def, help, datadir, value, choices)                                 \
    {                                                                                              \
#field, env, K_STR, offsetof(fb_config, field), sizeof(((fb_config *)0)->field), 0, 0,     \
            def, help, datadir, value, choices                                                     \
    }
/* Text (URLs, names, ids). */
#define S(field, env, def, help)                                                                   \
    STRING_KEY(field, env, def, help, false, FB_CONFIG_VALUE_TEXT, NULL)
/* A file or folder path; PF/PD: the default is inside the data folder. */
#define F(field, env, def, help)                                                                   \
    STRING_KEY(field, env, def, help, false, FB_CONFIG_VALUE_FILE, NULL)
#define D(field, env, def, help) STRING_KEY(field, env, def, help, false, FB_CONFIG_VALUE_DIR, NULL)
#define PF(field, env, def, help)                                                                  \
    STRING_KEY(field, env, def, help, true, FB_CONFIG_VALUE_FILE, NULL)
#define PD(field, env, def, help) STRING_KEY(field, env, def, help, true, FB_CONFIG_VALUE_DIR, NULL)
/* One of a fixed set of words (space-separated in choices). */
#define E(field, env, def, choices, help)                                                          \
    STRING_KEY(field, env, def, help, false, FB_CONFIG_VALUE_CHOICE, choices)
#define SECRET(field, env, help)                                                                   \
    {                                                                                              \
#field, env, K_SECRET, offsetof(fb_config, field), sizeof(((fb_config *)0)->field), 0, 0,  \
            "", help, false, FB_CONFIG_VALUE_TEXT, NULL                                            \
    }
#define I(field, env, min, max, def, help)                                                         \
    {                                                                                              \
#field, env, K_INT, offsetof(fb_config, field), 0, min, max, def, help, false,             \
            FB_CONFIG_VALUE_TEXT, NULL                                                             \
    }
#define B(field, env, def, help)                                                                   \
    {                                                                                              \
#field, env, K_BOOL, offsetof(fb_config, field), 0, 0, 1, def, help, false,                \
            FB_CONFIG_VALUE_CHOICE, "true false"                                                   \
    }
#define L(field, env, def, help)                                                                   \
    {                                                                                              \
#field, env, K_LIST, offsetof(fb_config, field), 0, 0, 0, def, help, false,                \
            FB_CONFIG_VALUE_TEXT, NULL                                                             \
    }

/* A JSON object: an object in the file, its text in the environment or a flag. */
#define J(field, env, def, help)                                                                   \
    {                                                                                              \
#field, env, K_JSON, offsetof(fb_config, field), sizeof(((fb_config *)0)->field), 0, 0,    \
            def, help, false, FB_CONFIG_VALUE_TEXT, NULL                                           \
    }

static const key_def keys[] = {
    SECRET(discord_token, "DISCORD_TOKEN", "Bot token. Without one, `fluxbot` runs the demo."),
    S(discord_api_base, "DISCORD_API_BASE", "https://discord.com/api/v10",
      "Discord API base URL; the gateway URL comes from GET {base}/gateway/bot."),
    L(guild_ids, "FLUXBOT_GUILD_IDS", "",
      "Guild ids to register commands in (instant); empty = global commands."),
    I(shard_id, "FLUXBOT_SHARD_ID", -1, 65535, "-1",
      "Shard to run; -1 = every shard of shard_count."),
    I(shard_count, "FLUXBOT_SHARD_COUNT", 0, 65536, "0",
      "Total shards; 0 = what Discord recommends."),
    B(gateway_compress, "FLUXBOT_GATEWAY_COMPRESS", "true", "zlib-stream transport compression."),
    I(rest_timeout_ms, NULL, 1000, 300000, "15000", "Timeout of one Discord HTTP request."),
    I(rest_global_per_second, NULL, 0, 50, "0",
      "Discord REST requests per second this process sends under the bot's global limit (50/s "
      "for the whole bot; interaction callbacks and webhooks are exempt). 0 = this process's "
      "share: 50 when it runs every shard, else 50 x its shards / shard_count, at least 1."),
    S(bot_manager_role, "FLUXBOT_BOT_MANAGER_ROLE", "Bot Manager",
      "Role allowed to /reset_stats besides administrators: a role name or a numeric role id."),
    B(stats_managers_only, NULL, "false", "Restrict /stats to administrators and bot managers."),
    B(stats_chart, "FLUXBOT_STATS_CHART", "true",
      "/stats answers carry a chart (a PNG of images, videos and commands per day, or per hour "
      "for one day) under the embed; false = the embed alone (no drawing, no upload)."),
    I(stats_chart_max_lag_ms, NULL, 0, 3600000, "10000",
      "Longest the /stats chart may lag the embed's numbers: a chart drawn this recently for "
      "the same window and buckets is attached again instead of redrawn while the bars only "
      "grew (the embed's numbers are always exact; a reset redraws at once). 0 = redrawn "
      "whenever a bar changed."),
    I(filter_max_warnings, NULL, 0, 100, "2",
      "Content-filter warnings a user gets; the next violation bans them."),
    L(access_channels, NULL, "",
      "Channel ids where commands work (default for every command); empty = every channel."),
    L(access_roles, NULL, "",
      "Role ids or names allowed to use commands (default for every command); empty = everyone."),
    B(access_dms, NULL, "false",
      "Commands work in DMs with the bot (default for every command; sent as their contexts)."),
    B(access_nsfw_only, NULL, "false",
      "Generation commands (/comfy /redux /pulid /video) only in NSFW channels."),
    J(access_commands, NULL, "{}",
      "Per-command overrides: {\"comfy\": {\"channels\": [..], \"roles\": [..], \"dms\": "
      "false, \"nsfw_only\": true}, ...}."),
    L(comfyui_urls, "COMFYUI_URLS", "http://127.0.0.1:8188",
      "ComfyUI servers (comma-separated in the environment)."),
    PD(workflows_dir, "FLUXBOT_WORKFLOWS_DIR", "workflows",
       "Folder of the command declarations (*.cmd.json), their workflows and mappings."),
    PF(ratios_file, NULL, "config/ratios.json", "Resolution list (label → size)."),
    PF(loras_file, NULL, "config/loras.json", "LoRA list."),
    D(output_dir, "FLUXBOT_OUTPUT_DIR", "fluxbot-output", "Where finished images are kept."),
    I(progress_interval_ms, NULL, 500, 60000, "1500",
      "Minimum time between progress edits of a job."),
    I(job_stall_timeout_ms, NULL, 1000, 3600000, "120000",
      "A job with no ComfyUI event for this long is treated as lost."),
    I(comfyui_connect_timeout_ms, NULL, 100, 60000, "3000",
      "Connect timeout of every ComfyUI HTTP call; a server slower to accept counts as down."),
    I(comfyui_down_after_failures, NULL, 1, 1000, "3",
      "A server whose websocket dropped is declared down after this many failed reconciles "
      "(one a second); its jobs are resubmitted elsewhere at once."),
    I(comfyui_wait_ms, NULL, 0, 3600000, "30000",
      "How long jobs wait, without a runner thread, for a ComfyUI server to be up before they "
      "fail."),
    I(max_attachment_bytes, NULL, 1024, 104857600, "20971520", "Largest input image accepted."),
    I(max_image_side, NULL, 64, 65535, "16384",
      "Largest width or height an input image may declare (checked before upload)."),
    I(max_image_pixels, NULL, 4096, 4294836225, "50000000",
      "Largest width x height an input image may declare (checked before upload)."),
    L(attachment_hosts, "FLUXBOT_ATTACHMENT_HOSTS", "cdn.discordapp.com,media.discordapp.net",
      "Hosts input images are downloaded from (https; plain http only for a loopback host:port); "
      "redirects elsewhere are refused."),
    I(user_max_concurrent_jobs, NULL, 1, 1000, "3", "Jobs one user may have queued or running."),
    I(user_max_jobs_per_hour, NULL, 1, 100000, "50", "Jobs one user may start per hour."),
    I(max_queued_jobs, NULL, 1, 1000000, "100", "Jobs the bot accepts at once, all users."),
    I(router_threads, "FLUXBOT_ROUTER_THREADS", 1, 64, "2", "Router (command handling) threads."),
    I(runner_threads, "FLUXBOT_RUNNER_THREADS", 1, 64, "2", "ComfyUI job runner threads."),
    I(stats_threads, "FLUXBOT_STATS_THREADS", 1, 16, "1", "Stats reporter threads (read-only)."),
    I(sched_workers, "FLUXBOT_SCHED_WORKERS", 0, 64, "1",
      "Worker threads of the scheduler that runs the actors of sched_actors (a message between "
      "two actors of one worker wakes nobody); 0 = every actor on threads of its own."),
    L(sched_actors, "FLUXBOT_SCHED_ACTORS", "router,stats,analytics,discord_rest",
      "Actors run on the scheduler's workers (round-robin, in this order) instead of threads of "
      "their own; their *_threads setting is then unused. Only actors without an event loop of "
      "their own that never block for long: while one runs, the others of its worker wait. "
      "discord_rest (the Discord HTTP actor) left out gets a thread of its own, which watches "
      "its sockets alone."),
    I(active_user_min_events, NULL, 1, 1000000, "5",
      "Tracked events in the /stats window that make a user an Active User."),
    I(result_retention_days, NULL, 1, 3650, "30",
      "Days each result's parameters are kept in the database (table results), so Regenerate, "
      "Upscale and Options keep working on it, also after a restart. Older ones are deleted as "
      "new results are written (at most once a minute); a press on a result the bot no longer "
      "has is answered that it is older than this. Delete needs nothing kept; /reset_stats "
      "keeps them."),
    I(mailbox_capacity, NULL, 16, 1048576, "1024",
      "Ring slots per sending thread of each mailbox."),
    F(db_path, "FLUXBOT_DB", "fluxbot.db", "SQLite analytics database."),
    SECRET(db_url, "FLUXBOT_DB_URL",
           "Database shared by several processes: postgresql://... (libpq URL; never printed). "
           "Processes given the same URL pace their gateway IDENTIFYs together and share the job "
           "limits, the analytics, the stored results and the moderation state (kept there "
           "instead of db_path). A plain path here is the SQLite database (as db_path)."),
    I(job_lease_ms, "FLUXBOT_JOB_LEASE_MS", 1000, 600000, "10000",
      "With a postgresql:// db_url: accepted jobs are rows under a lease each process renews; "
      "another process takes over the jobs of one that stopped renewing this long ago."),
    /* The floor is GW_IDQ_MARGIN_MS (discord/gw_idq.h, a layer this one may not include) and
     * the default PG_IDGATE_MARGIN_MS (pg/pg_idgate.h): test_fb_config holds them equal. A
     * floor below the in-process margin would make the pacing across processes looser than
     * the one inside a process, and INVALID_SESSION would follow a restart of every process. */
    I(identify_margin_ms, "FLUXBOT_IDENTIFY_MARGIN_MS", 300, 5000, "1000",
      "With a postgresql:// db_url: the processes' IDENTIFYs of one bucket are at least 5 s plus "
      "this apart, for the delay between a process being granted its turn and Discord receiving "
      "the frame (a loaded host, a longer route). Raise it if processes on distant machines "
      "still get INVALID_SESSION when they all start."),
    I(analytics_batch_max, NULL, 1, 100000, "512",
      "Events per analytics batch: SQLite commits each full batch; PostgreSQL, while more events "
      "wait, commits up to 8 batches in one transaction."),
    I(analytics_flush_ms, NULL, 1, 60000, "200", "Longest an accepted event waits for its commit."),
    S(llm_url, "FLUXBOT_LLM_URL", "",
      "Prompt enhancement: base URL of an OpenAI-compatible API (POST {url}/chat/completions, "
      "e.g. https://api.openai.com/v1 or http://127.0.0.1:1234/v1 for LM Studio); empty = off, "
      "and the commands' enhance option is not registered."),
    S(llm_model, "FLUXBOT_LLM_MODEL", "gpt-4o-mini",
      "Prompt enhancement: the model asked (1..200 bytes)."),
    SECRET(llm_key, "FLUXBOT_LLM_KEY",
           "Prompt enhancement: API key sent as a Bearer token (never printed or logged; set it "
           "in the environment). Empty = no Authorization header (local servers)."),
    I(llm_timeout_ms, NULL, 500, 120000, "15000",
      "Prompt enhancement: longest wait for the model's answer; after it the prompt is used "
      "as typed and the user is told."),
    I(llm_max_inflight, NULL, 1, 256, "8",
      "Prompt enhancement: requests at once; a job beyond them runs with its prompt as typed "
      "(the user is told the enhancer was busy)."),
    E(log_level, "FLUXBOT_LOG_LEVEL", "info", "error warn info debug trace",
      "How much is logged: error, warn, info, debug or trace."),
    E(log_format, "FLUXBOT_LOG_FORMAT", "text", "text json",
      "text (one line per record) or json (one object per line)."),
    I(metrics_port, "FLUXBOT_METRICS_PORT", 0, 65535, "0",
      "Prometheus metrics on 127.0.0.1:PORT; 0 = off."),
    I(demo_seconds, "FLUXBOT_DEMO_SECONDS", 1, 3600, "20",
      "How long the demo's simulated users run."),
};

#define NKEYS (sizeof keys / sizeof keys[0])

static void set_err(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void set_err(char *err, size_t errlen, const char *fmt, ...)
{
    if (!err || !errlen) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

static const key_def *find_json(const char *name)
{
    for (size_t i = 0; i < NKEYS; i++)
        if (strcmp(keys[i].json, name) == 0) return &keys[i];
    return NULL;
}

static void flag_name(const key_def *k, char *out, size_t n)
{
    snprintf(out, n, "--%s", k->json);
    for (char *p = out + 2; *p; p++)
        if (*p == '_') *p = '-';
}

static const key_def *find_flag(const char *flag)
{
    char buf[96];
    for (size_t i = 0; i < NKEYS; i++) {
        flag_name(&keys[i], buf, sizeof buf);
        if (strcmp(buf, flag) == 0) return &keys[i];
    }
    return NULL;
}

/* Is v one of the space-separated words of choices? */
static bool is_choice(const char *choices, const char *v)
{
    size_t n = strlen(v);
    for (const char *p = choices; *p;) {
        const char *e = strchr(p, ' ');
        size_t w = e ? (size_t)(e - p) : strlen(p);
        if (n && w == n && strncmp(p, v, n) == 0) return true;
        if (!e) break;
        p = e + 1;
    }
    return false;
}

/* "a, b or c" from "a b c", for error messages. */
static void choices_text(const char *choices, char *out, size_t cap)
{
    size_t o = 0;
    out[0] = '\0';
    for (const char *p = choices; *p && o + 1 < cap;) {
        const char *e = strchr(p, ' ');
        size_t w = e ? (size_t)(e - p) : strlen(p);
        const char *sep = o == 0 ? "" : (e ? ", " : " or ");
        int k = snprintf(out + o, cap - o, "%s%.*s", sep, (int)w, p);
        if (k < 0 || (size_t)k >= cap - o) break;
        o += (size_t)k;
        if (!e) break;
        p = e + 1;
    }
}

/* Sets a key from text (defaults, environment, flags). */
static int set_text(fb_config *c, const key_def *k, const char *v, const char *source, char *err,
                    size_t errlen)
{
    char *field = (char *)c + k->offset;
    switch (k->type) {
    case K_JSON: {
        cJSON *j = cJSON_Parse(v);
        bool obj = cJSON_IsObject(j);
        char *compact = obj ? cJSON_PrintUnformatted(j) : NULL;
        cJSON_Delete(j);
        if (!obj) {
            set_err(err, errlen, "%s: %s must be a JSON object", source, k->json);
            return -1;
        }
        if (!compact || strlen(compact) >= k->size) {
            set_err(err, errlen, "%s: %s is too long (at most %zu bytes)", source, k->json,
                    k->size - 1);
            cJSON_free(compact);
            return -1;
        }
        memcpy(field, compact, strlen(compact) + 1);
        cJSON_free(compact);
        return 0;
    }
    case K_STR:
    case K_SECRET:
        if (strlen(v) >= k->size) {
            set_err(err, errlen, "%s: %s is too long (at most %zu bytes)", source, k->json,
                    k->size - 1);
            return -1;
        }
        if (k->choices && !is_choice(k->choices, v)) {
            char list[160];
            choices_text(k->choices, list, sizeof list);
            set_err(err, errlen, "%s: %s must be %s, got \"%s\"", source, k->json, list, v);
            return -1;
        }
        memcpy(field, v, strlen(v) + 1);
        return 0;
    case K_INT: {
        errno = 0;
        char *end = NULL;
        long long n = strtoll(v, &end, 10);
        if (errno || end == v || *end != '\0') {
            set_err(err, errlen, "%s: %s must be an integer, got \"%s\"", source, k->json, v);
            return -1;
        }
        if (n < k->min || n > k->max) {
            set_err(err, errlen, "%s: %s must be between %" PRId64 " and %" PRId64 ", got %lld",
                    source, k->json, k->min, k->max, n);
            return -1;
        }
        *(int64_t *)field = n;
        return 0;
    }
    case K_BOOL:
        if (!strcmp(v, "true") || !strcmp(v, "1") || !strcmp(v, "yes") || !strcmp(v, "on")) {
            *(bool *)field = true;
        } else if (!strcmp(v, "false") || !strcmp(v, "0") || !strcmp(v, "no") ||
                   !strcmp(v, "off")) {
            *(bool *)field = false;
        } else {
            set_err(err, errlen, "%s: %s must be true or false, got \"%s\"", source, k->json, v);
            return -1;
        }
        return 0;
    case K_LIST: {
        fb_config_list *l = (fb_config_list *)field;
        memset(l, 0, sizeof *l);
        const char *p = v;
        while (*p) {
            const char *comma = strchr(p, ',');
            size_t n = comma ? (size_t)(comma - p) : strlen(p);
            while (n && (*p == ' ' || *p == '\t'))
                p++, n--;
            while (n && (p[n - 1] == ' ' || p[n - 1] == '\t'))
                n--;
            if (n) {
                if (l->count >= FB_CONFIG_MAX_LIST) {
                    set_err(err, errlen, "%s: %s has more than %d entries", source, k->json,
                            FB_CONFIG_MAX_LIST);
                    return -1;
                }
                if (n >= FB_CONFIG_STR) {
                    set_err(err, errlen, "%s: an entry of %s is too long", source, k->json);
                    return -1;
                }
                memcpy(l->items[l->count], p, n);
                l->items[l->count][n] = '\0';
                l->count++;
            }
            if (!comma) break;
            p = comma + 1;
        }
        return 0;
    }
    }
    return -1;
}

void fb_config_defaults(fb_config *c)
{
    memset(c, 0, sizeof *c);
    for (size_t i = 0; i < NKEYS; i++) {
        char path[FB_CONFIG_STR * 2];
        const char *def = keys[i].def;
        if (keys[i].in_datadir) {
            snprintf(path, sizeof path, "%s/%s", util_self_datadir(), def);
            def = path;
        }
        int rc = set_text(c, &keys[i], def, "default", NULL, 0);
        (void)rc; /* the table's defaults are checked by the tests */
    }
}

/* Sets a key from a JSON value of the file layer, checking its JSON type. */
static int set_json(fb_config *c, const key_def *k, const cJSON *v, const char *source, char *err,
                    size_t errlen)
{
    char buf[FB_CONFIG_STR * 2];
    switch (k->type) {
    case K_STR:
    case K_SECRET:
        if (!cJSON_IsString(v)) break;
        return set_text(c, k, v->valuestring, source, err, errlen);
    case K_INT:
        if (cJSON_IsNumber(v)) {
            double d = v->valuedouble;
            if (d != (double)(long long)d) break;
            snprintf(buf, sizeof buf, "%lld", (long long)d);
            return set_text(c, k, buf, source, err, errlen);
        }
        break;
    case K_BOOL:
        if (!cJSON_IsBool(v)) break;
        *(bool *)((char *)c + k->offset) = cJSON_IsTrue(v);
        return 0;
    case K_JSON: {
        if (!cJSON_IsObject(v)) break;
        char *text = cJSON_PrintUnformatted(v);
        int rc = set_text(c, k, text ? text : "", source, err, errlen);
        cJSON_free(text);
        return rc;
    }
    case K_LIST: {
        if (!cJSON_IsArray(v)) break;
        fb_config_list *l = (fb_config_list *)((char *)c + k->offset);
        memset(l, 0, sizeof *l);
        const cJSON *it;
        cJSON_ArrayForEach(it, v)
        {
            /* Snowflakes are strings; a number would have lost precision already. */
            if (!cJSON_IsString(it)) {
                set_err(err, errlen, "%s: every entry of %s must be a string", source, k->json);
                return -1;
            }
            if (l->count >= FB_CONFIG_MAX_LIST || strlen(it->valuestring) >= FB_CONFIG_STR) {
                set_err(err, errlen, "%s: %s has too many or too long entries", source, k->json);
                return -1;
            }
            snprintf(l->items[l->count++], FB_CONFIG_STR, "%s", it->valuestring);
        }
        return 0;
    }
    }
    static const char *const type_names[] = {
        "a string",     "a string", "an integer", "true or false", "an array of strings",
        "a JSON object"};
    set_err(err, errlen, "%s: %s must be %s", source, k->json, type_names[k->type]);
    return -1;
}

int fb_config_apply_json(fb_config *c, const char *json_text, const char *source, char *err,
                         size_t errlen)
{
    const char *end = NULL;
    cJSON *root = cJSON_ParseWithOpts(json_text, &end, 1);
    if (!root) {
        size_t off = end ? (size_t)(end - json_text) : 0;
        set_err(err, errlen, "%s: not valid JSON (near byte %zu)", source, off);
        return -1;
    }
    int rc = 0;
    if (!cJSON_IsObject(root)) {
        set_err(err, errlen, "%s: the top level must be a JSON object", source);
        rc = -1;
    }
    const cJSON *it;
    if (rc == 0) {
        cJSON_ArrayForEach(it, root)
        {
            const key_def *k = find_json(it->string);
            if (!k) {
                set_err(err, errlen, "%s: unknown key \"%s\"", source, it->string);
                rc = -1;
                break;
            }
            if (set_json(c, k, it, source, err, errlen) != 0) {
                rc = -1;
                break;
            }
        }
    }
    cJSON_Delete(root);
    return rc;
}

static int load_file(fb_config *c, const char *path, char *err, size_t errlen)
{
    char why[FB_CONFIG_STR + 64];
    char *buf = util_file_read(path, FB_CONFIG_FILE_MAX, NULL, why, sizeof why);
    if (!buf) {
        set_err(err, errlen, "config file: %s", why);
        return -1;
    }
    char source[FB_CONFIG_STR + 16];
    snprintf(source, sizeof source, "config file %s", path);
    int rc = fb_config_apply_json(c, buf, source, err, errlen);
    free(buf);
    return rc;
}

static const char *env_get(char *const *envp, const char *name)
{
    if (!envp) envp = environ;
    size_t n = strlen(name);
    for (char *const *e = envp; e && *e; e++)
        if (strncmp(*e, name, n) == 0 && (*e)[n] == '=') return *e + n + 1;
    return NULL;
}

/* The commands and options of --help; the manual page and the bash completion are generated
 * from these and from the key table, so none of the three can list what the others do not. */
static const fb_config_usage_item commands[] = {
    {"run", "", "run the bot (default when DISCORD_TOKEN is set)"},
    {"demo", "", "run the embedded demo on loopback fakes (default without a token)"},
    {"stats", "[-c FILE] [--db FILE] [--days N] [--json] [--chart FILE.png]",
     "print usage statistics"},
    {"import-analytics", "[-c FILE] [--db FILE] SOURCE", "import the Python bot's analytics.db"},
    {"check", "", "validate configuration, workflows and connectivity"},
};
static const fb_config_usage_item options[] = {
    {"-c, --config", "FILE", "JSON configuration file"},
    {"--shard", "ID/COUNT", "run one shard (sets shard_id and shard_count)"},
    {"--print-config", "", "print the effective configuration (token redacted) and exit"},
    {"--config-reference", "", "print the key reference as a Markdown table and exit"},
    {"--man", "", "print the fluxbot(1) manual page (roff) and exit"},
    {"--bash-completion", "", "print the bash completion script and exit"},
    {"--version", "", "print the version and the libraries' versions and exit"},
    {"-h, --help", "", "print this help and exit"},
};

const fb_config_usage_item *fb_config_usage_commands(size_t *n)
{
    *n = sizeof commands / sizeof commands[0];
    return commands;
}

const fb_config_usage_item *fb_config_usage_options(size_t *n)
{
    *n = sizeof options / sizeof options[0];
    return options;
}

size_t fb_config_key_count(void)
{
    return NKEYS;
}

void fb_config_key_get(size_t i, fb_config_key_info *out)
{
    static const char *const type_names[] = {"string",  "secret", "integer",
                                             "boolean", "list",   "object"};
    const key_def *k = &keys[i < NKEYS ? i : 0];
    memset(out, 0, sizeof *out);
    out->key = k->json;
    out->env = k->env;
    flag_name(k, out->flag, sizeof out->flag);
    out->type = type_names[k->type];
    out->min = k->min;
    out->max = k->max;
    out->def = k->type == K_SECRET ? "" : k->def;
    out->in_datadir = k->in_datadir;
    out->help = k->help;
    out->value = k->value;
    out->choices = k->choices;
}

static void print_help(FILE *out)
{
    fprintf(out, "usage: fluxbot [COMMAND] [-c FILE] [--KEY VALUE ...]\n\ncommands:\n");
    char left[96];
    int width = 0; /* the longest command name: the helps start in one column */
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if ((int)strlen(commands[i].name) > width) width = (int)strlen(commands[i].name);
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++) {
        fprintf(out, "  %-*s %s", width, commands[i].name, commands[i].help);
        if (commands[i].arg[0]) fprintf(out, ": fluxbot %s %s", commands[i].name, commands[i].arg);
        fputc('\n', out);
    }
    fprintf(out, "\noptions:\n");
    for (size_t i = 0; i < sizeof options / sizeof options[0]; i++) {
        snprintf(left, sizeof left, "%s%s%s", options[i].name, options[i].arg[0] ? " " : "",
                 options[i].arg);
        fprintf(out, "  %-19s %s\n", left, options[i].help);
    }
    fprintf(out, "\nconfiguration keys (flag / environment / file key), later layers win:\n");
    char flag[96];
    for (size_t i = 0; i < NKEYS; i++) {
        flag_name(&keys[i], flag, sizeof flag);
        const char *def =
            keys[i].type == K_SECRET ? "none" : (*keys[i].def ? keys[i].def : "empty");
        fprintf(out, "  %-26s %-26s %s\n      %s (default: %s%s%s)\n", flag,
                keys[i].env ? keys[i].env : "", keys[i].json, keys[i].help,
                keys[i].in_datadir ? util_self_datadir() : "", keys[i].in_datadir ? "/" : "", def);
    }
}

int fb_config_load(fb_config *c, int argc, char **argv, char *const *envp, fb_config_action *action,
                   FILE *out, char *err, size_t errlen)
{
    *action = FB_CONFIG_RUN;
    fb_config_defaults(c);

    /* Pass 1: the file and the terminal flags, so that the file layer comes first. */
    const char *file = NULL;
    bool print_config = false;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "-c") || !strcmp(a, "--config")) {
            if (i + 1 >= argc) {
                set_err(err, errlen, "flags: %s needs a file name", a);
                return -1;
            }
            file = argv[++i];
        } else if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            print_help(out);
            *action = FB_CONFIG_HELP;
            return 0;
        } else if (!strcmp(a, "--version")) {
            /* main adds the libraries' versions: the runtime layer does not link them all. */
            fprintf(out, "fluxbot %s\n", FLUXBOT_VERSION);
            *action = FB_CONFIG_VERSION;
            return 0;
        } else if (!strcmp(a, "--print-config")) {
            print_config = true;
        } else if (!strcmp(a, "--config-reference")) {
            fb_config_print_reference(out);
            *action = FB_CONFIG_HELP;
            return 0;
        }
    }
    if (!file) file = env_get(envp, "FLUXBOT_CONFIG");
    if (file && load_file(c, file, err, errlen) != 0) return -1;

    for (size_t i = 0; i < NKEYS; i++) {
        if (!keys[i].env) continue;
        const char *v = env_get(envp, keys[i].env);
        if (!v) continue;
        char source[80];
        snprintf(source, sizeof source, "environment %s", keys[i].env);
        if (set_text(c, &keys[i], v, source, err, errlen) != 0) return -1;
    }

    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "-c") || !strcmp(a, "--config")) {
            i++;
            continue;
        }
        if (!strcmp(a, "--print-config")) continue;
        if (!strcmp(a, "--shard") || !strncmp(a, "--shard=", 8)) {
            /* --shard ID/COUNT: both shard keys in one flag, as Discord writes shards. */
            const char *v = a[7] == '=' ? a + 8 : (i + 1 < argc ? argv[++i] : NULL);
            char idtxt[24], counttxt[24];
            const char *slash = v ? strchr(v, '/') : NULL;
            if (!slash || (size_t)(slash - v) >= sizeof idtxt ||
                strlen(slash + 1) >= sizeof counttxt) {
                set_err(err, errlen, "flag --shard: expected ID/COUNT (e.g. 0/2), got \"%s\"",
                        v ? v : "");
                return -1;
            }
            memcpy(idtxt, v, (size_t)(slash - v));
            idtxt[slash - v] = '\0';
            snprintf(counttxt, sizeof counttxt, "%s", slash + 1);
            if (set_text(c, find_json("shard_id"), idtxt, "flag --shard", err, errlen) != 0 ||
                set_text(c, find_json("shard_count"), counttxt, "flag --shard", err, errlen) != 0)
                return -1;
            if (c->shard_count < 1 || c->shard_id < 0) {
                set_err(err, errlen, "flag --shard: ID must be 0 or more and COUNT at least 1");
                return -1;
            }
            continue;
        }
        char name[96];
        snprintf(name, sizeof name, "%s", a);
        const char *val = NULL;
        char *eq = strchr(name, '=');
        if (eq) {
            *eq = '\0';
            val = a + (eq - name) + 1;
        }
        const key_def *k = strncmp(name, "--", 2) == 0 ? find_flag(name) : NULL;
        if (!k) {
            set_err(err, errlen, "flags: unknown option \"%s\" (see --help)", name);
            return -1;
        }
        if (!val) {
            if (k->type == K_BOOL && (i + 1 >= argc || strncmp(argv[i + 1], "--", 2) == 0)) {
                val = "true";
            } else if (i + 1 < argc) {
                val = argv[++i];
            } else {
                set_err(err, errlen, "flags: %s needs a value", name);
                return -1;
            }
        }
        char source[120];
        snprintf(source, sizeof source, "flag %s", name);
        if (set_text(c, k, val, source, err, errlen) != 0) return -1;
    }

    if (c->shard_id >= 0 && c->shard_count > 0 && c->shard_id >= c->shard_count) {
        set_err(err, errlen, "shard_id %" PRId64 " must be below shard_count %" PRId64, c->shard_id,
                c->shard_count);
        return -1;
    }
    /* The chat endpoint's URL and model are checked here, so a typo stops the start with the
     * key named instead of failing every enhancement later. */
    if (c->llm_url[0] && (!util_url_is_http(c->llm_url) || !util_url_clean(c->llm_url) ||
                          strlen(c->llm_url) > 400)) {
        set_err(err, errlen,
                "llm_url must be an http:// or https:// URL without blanks, at most 400 bytes");
        return -1;
    }
    if (c->llm_url[0] && (c->llm_model[0] == '\0' || strlen(c->llm_model) > 200)) {
        set_err(err, errlen, "llm_model must be 1..200 bytes when llm_url is set");
        return -1;
    }
    if (c->db_url[0] && !(strncmp(c->db_url, "postgresql://", 13) == 0 ||
                          strncmp(c->db_url, "postgres://", 11) == 0)) {
        /* a plain path keeps SQLite: it names the analytics file, as db_path does */
        snprintf(c->db_path, sizeof c->db_path, "%s", c->db_url);
        c->db_url[0] = 0;
    }
    if (print_config) {
        fb_config_print(c, out);
        *action = FB_CONFIG_PRINT_CONFIG;
    }
    return 0;
}

void fb_config_print(const fb_config *c, FILE *out)
{
    cJSON *root = cJSON_CreateObject();
    for (size_t i = 0; i < NKEYS; i++) {
        const key_def *k = &keys[i];
        const char *field = (const char *)c + k->offset;
        switch (k->type) {
        case K_SECRET:
            cJSON_AddStringToObject(root, k->json, *field ? "[redacted]" : "");
            break;
        case K_STR:
            cJSON_AddStringToObject(root, k->json, field);
            break;
        case K_JSON: {
            cJSON *j = cJSON_Parse(field);
            cJSON_AddItemToObject(root, k->json, j ? j : cJSON_CreateObject());
            break;
        }
        case K_INT:
            cJSON_AddNumberToObject(root, k->json, (double)*(const int64_t *)field);
            break;
        case K_BOOL:
            cJSON_AddBoolToObject(root, k->json, *(const bool *)field);
            break;
        case K_LIST: {
            const fb_config_list *l = (const fb_config_list *)field;
            cJSON *arr = cJSON_AddArrayToObject(root, k->json);
            for (unsigned j = 0; j < l->count; j++)
                cJSON_AddItemToArray(arr, cJSON_CreateString(l->items[j]));
            break;
        }
        }
    }
    char *text = cJSON_Print(root);
    fprintf(out, "%s\n", text ? text : "{}");
    cJSON_free(text);
    cJSON_Delete(root);
}

void fb_config_print_reference(FILE *out)
{
    fprintf(out, "| key | environment | flag | default | meaning |\n|---|---|---|---|---|\n");
    char flag[96];
    for (size_t i = 0; i < NKEYS; i++) {
        flag_name(&keys[i], flag, sizeof flag);
        const char *def = keys[i].type == K_SECRET ? "" : keys[i].def;
        fprintf(out, "| `%s` | %s%s%s | `%s` | %s%s%s | %s |\n", keys[i].json,
                keys[i].env ? "`" : "", keys[i].env ? keys[i].env : "", keys[i].env ? "`" : "",
                flag, *def ? "`" : "", def, *def ? "`" : "", keys[i].help);
    }
}

uint32_t fb_config_rest_global_share(const fb_config *c)
{
    if (c->rest_global_per_second > 0) return (uint32_t)c->rest_global_per_second;
    /* One process with every shard, or a shard count the process learns from Discord: it is
     * the only sender, so it has the whole limit. */
    if (c->shard_id < 0 || c->shard_count <= 1) return 50;
    /* `--shard ID/COUNT` runs one shard: COUNT processes share the bot's 50/s. */
    uint32_t share = (uint32_t)(50 / c->shard_count);
    return share ? share : 1;
}
