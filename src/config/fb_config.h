/*
 * fluxbot configuration: one struct, filled in layers — built-in defaults < JSON file (-c FILE)
 * < environment < command-line flags. Every key is described once, in the table in
 * src/config/fb_config.c, which drives the JSON reader, the environment, the flags, --help,
 * --print-config and the README's reference. Adding a key = a field here + a row there.
 */
#ifndef FLUXBOT_CONFIG_H
#define FLUXBOT_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

#define FB_CONFIG_MAX_LIST 16
#define FB_CONFIG_STR 512
#define FB_CONFIG_JSON_MAX 8192 /* JSON-valued keys, as compact text */

typedef struct fb_config_list {
    unsigned count;
    char items[FB_CONFIG_MAX_LIST][FB_CONFIG_STR];
} fb_config_list;

typedef struct fb_config {
    /* Discord */
    char discord_token[FB_CONFIG_STR]; /* secret: never printed */
    char discord_api_base[FB_CONFIG_STR];
    fb_config_list guild_ids; /* register commands per guild when non-empty */
    int64_t shard_id;         /* -1 = all shards of shard_count in this process */
    int64_t shard_count;      /* 0 = as /gateway/bot recommends */
    bool gateway_compress;    /* zlib-stream transport compression */
    int64_t rest_timeout_ms;
    int64_t rest_global_per_second;       /* 0 = share by shards, see fb_config_rest_global_share */
    char bot_manager_role[FB_CONFIG_STR]; /* role name, or a numeric role id */
    bool stats_managers_only;
    bool stats_chart;               /* /stats answers attach their chart (an_chart.h) */
    int64_t stats_chart_max_lag_ms; /* the chart may lag the numbers this long (an_chartcache.h) */

    /* Moderation and access control (src/moderation) */
    int64_t filter_max_warnings;    /* warnings before the next violation bans */
    fb_config_list access_channels; /* channel ids where commands work; empty = everywhere */
    fb_config_list access_roles;    /* role ids or names allowed; empty = everyone */
    bool access_dms;                /* commands work in DMs with the bot */
    bool access_nsfw_only;          /* generation commands only in NSFW channels */
    char access_commands[FB_CONFIG_JSON_MAX]; /* per-command overrides, a JSON object */

    /* ComfyUI */
    fb_config_list comfyui_urls;
    char workflows_dir[FB_CONFIG_STR];
    char ratios_file[FB_CONFIG_STR];
    char loras_file[FB_CONFIG_STR];
    char output_dir[FB_CONFIG_STR];
    int64_t progress_interval_ms;
    int64_t job_stall_timeout_ms;
    int64_t comfyui_connect_timeout_ms;
    int64_t comfyui_down_after_failures;
    int64_t comfyui_wait_ms;
    int64_t max_attachment_bytes;
    int64_t max_image_side;          /* input images: declared width/height, at most */
    int64_t max_image_pixels;        /* input images: declared width x height, at most */
    fb_config_list attachment_hosts; /* where input images may be downloaded from */
    int64_t user_max_concurrent_jobs;
    int64_t user_max_jobs_per_hour;
    int64_t max_queued_jobs;

    /* Threads and mailboxes */
    int64_t router_threads;
    int64_t runner_threads;
    int64_t stats_threads;
    int64_t sched_workers;       /* scheduler workers; 0 = no scheduler */
    fb_config_list sched_actors; /* actors placed on the scheduler (names) */
    int64_t active_user_min_events;
    int64_t result_retention_days;
    int64_t mailbox_capacity; /* per-sender lane slots of every actor's mailbox */

    /* Analytics */
    char db_path[FB_CONFIG_STR];
    char db_url[FB_CONFIG_STR]; /* secret (may hold a password): "" or postgresql://...; a plain
                             path given here was moved into db_path by fb_config_load */
    int64_t job_lease_ms;       /* with a postgresql:// db_url: a dead process's jobs are taken over
                                   this long after its last lease renewal */
    int64_t identify_margin_ms; /* with a postgresql:// db_url: added to the IDENTIFY interval
                                   of the pacing shared by the processes (pg/pg_idgate.h) */
    int64_t analytics_batch_max;
    int64_t analytics_flush_ms;

    /* Prompt enhancement (src/llm, src/actors/llm_enhance) */
    char llm_url[FB_CONFIG_STR]; /* OpenAI-compatible base URL ("…/v1"); "" = off */
    char llm_model[FB_CONFIG_STR];
    char llm_key[FB_CONFIG_STR]; /* secret: never printed */
    int64_t llm_timeout_ms;
    int64_t llm_max_inflight;

    /* Operations */
    char log_level[32];
    char log_format[16];  /* "text" or "json" */
    int64_t metrics_port; /* 0 = off; loopback only */
    int64_t demo_seconds;
} fb_config;

/* Fills defaults only. */
void fb_config_defaults(fb_config *c);

/* The outcome of fb_config_load beyond success. */
typedef enum fb_config_action {
    FB_CONFIG_RUN = 0,
    FB_CONFIG_HELP,         /* --help printed */
    FB_CONFIG_VERSION,      /* --version printed */
    FB_CONFIG_PRINT_CONFIG, /* --print-config printed */
} fb_config_action;

/*
 * Loads the layers. argv holds only flags (no subcommand). envp may be NULL for the process
 * environment; tests pass their own NULL-terminated "NAME=value" array.
 * Returns 0 (and *action) or -1 with a message naming the key and its source in err.
 * out receives --help / --print-config text (stdout in main).
 */
int fb_config_load(fb_config *c, int argc, char **argv, char *const *envp, fb_config_action *action,
                   FILE *out, char *err, size_t errlen);

/* Applies one JSON document (the file layer) — exposed for tests. source names it in errors. */
int fb_config_apply_json(fb_config *c, const char *json_text, const char *source, char *err,
                         size_t errlen);

/* The requests per second this process may send under Discord's global REST limit, which is
 * per bot (50/s) however many processes share the token: rest_global_per_second when set,
 * else 50 / shard_count for a process started with --shard ID/COUNT (one shard each), else
 * 50. Splitting by configuration needs no coordination on the request path; the cost is that
 * an idle process's share is not lent to a busy one. */
uint32_t fb_config_rest_global_share(const fb_config *c);

/* Writes the effective configuration as JSON with the token redacted. */
void fb_config_print(const fb_config *c, FILE *out);
/* Writes the key reference (key, env, flag, type, default, meaning) as a Markdown table. */
void fb_config_print_reference(FILE *out);

/* One command or option line of --help. The manual page and the bash completion
 * (src/app/docgen.c) are generated from these and from the keys, so they cannot drift. */
typedef struct fb_config_usage_item {
    const char *name; /* "run", "-c, --config" */
    const char *arg;  /* "FILE", "[--db FILE] [--days N] [--json]", or "" */
    const char *help;
} fb_config_usage_item;
const fb_config_usage_item *fb_config_usage_commands(size_t *n);
const fb_config_usage_item *fb_config_usage_options(size_t *n);

/* What a key's value names, for the manual page and the bash completion (which offers file
 * names only where a file is wanted, and a key's accepted words where it has a fixed set). */
typedef enum fb_config_value {
    FB_CONFIG_VALUE_TEXT = 0, /* anything else: numbers, URLs, ids, names, JSON */
    FB_CONFIG_VALUE_FILE,     /* a file path */
    FB_CONFIG_VALUE_DIR,      /* a folder path */
    FB_CONFIG_VALUE_CHOICE,   /* one of choices (booleans: "true false") */
} fb_config_value;

/* One row of the key table, read-only. */
typedef struct fb_config_key_info {
    const char *key;  /* file key */
    const char *env;  /* environment variable, or NULL */
    char flag[64];    /* "--key-name" */
    const char *type; /* "string", "secret", "integer", "boolean" or "list" */
    int64_t min, max; /* integers: the accepted range */
    const char *def;  /* default as text ("" for the secret) */
    bool in_datadir;  /* def is relative to the data folder (workflows/, config/) */
    const char *help;
    fb_config_value value;
    const char *choices; /* CHOICE: the accepted words, space-separated; else NULL */
} fb_config_key_info;
size_t fb_config_key_count(void);
void fb_config_key_get(size_t i, fb_config_key_info *out); /* i < fb_config_key_count() */

#ifdef __cplusplus
}
#endif
#endif
