/*
 * The application layer: wires the actors into a running bot (app_run) and the operator
 * commands. main.c only parses the command line and calls these (or the test kit's demo_main,
 * which the executable links apart: this layer holds no fake and no demo).
 *
 * app_start/app_poll/app_stop run the real bot in-process, so tests, the demo and benchmarks
 * drive exactly what `fluxbot run` runs (point discord_api_base and comfyui_urls at the
 * loopback fakes). Start order (dependency order; stop runs in reverse, so intake stops first
 * and the analytics writer flushes last): app (registration results), analytics writer,
 * discord_rest, stats reporter, comfy runner (coordinator + workers), router, gateway.
 */
#ifndef FLUXBOT_APP_H
#define FLUXBOT_APP_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "comfy/loras.h"
#include "comfy/ratios.h"
#include "config/fb_config.h"
#include "fluxbot/runtime.h"

enum {
    APP_EXIT_OK = 0,
    APP_EXIT_RUNTIME = 1,
    APP_EXIT_CONFIG = 2,
    APP_EXIT_START = 3,
    APP_EXIT_DISCORD_REFUSED = 4,
};

int app_run(const fb_config *cfg);
/* The command line the configuration came from (main's), so SIGHUP can read it again. */
void app_set_config_args(int argc, char **argv);
int app_check(const fb_config *cfg);
/* argv[0] is "stats". */
int app_stats_command(int argc, char **argv);
/* argv[0] is "import-analytics" (an_cli.h). */
int app_import_command(int argc, char **argv);

/* app_check writing its report to out (tests); same exit codes. */
int app_check_report(const fb_config *cfg, FILE *out);

/* ---- the bot in-process -------------------------------------------------------------------- */

typedef struct app app;

/* Builds every actor from cfg (copied), loads ratios, LoRAs and workflows, starts the system.
 * NULL on failure with a message in err and the exit code in *exit_code (APP_EXIT_CONFIG for a
 * bad setting, APP_EXIT_START for a broken file or an actor that could not start). Call
 * rt_signals_install() first if signals should stop the bot. */
app *app_start(const fb_config *cfg, char *err, size_t errlen, int *exit_code);
/* Waits up to timeout_ms for a stop (signal, or an actor's fatal exit request) and does the
 * periodic work (command registration once READY gave the application id). Returns true when
 * the bot should stop. */
bool app_poll(app *a, int64_t timeout_ms);
/* SIGHUP's apply hook (reload.h): makes new resolution and LoRA lists current in the running
 * bot and, when the resolution labels changed, has the next app_poll register the commands
 * again. Copies *ratios, takes ownership of *loras. 0, or -1 with err. */
int app_apply_lists(void *ctx, const ratios_set *ratios, loras_set *loras, char *err,
                    size_t errlen);
/* Stops (intake first, then drains every actor), frees everything and returns the exit code:
 * 0, or what an actor asked for (APP_EXIT_DISCORD_REFUSED on 401 / 4004 / 4010-4014). */
int app_stop(app *a);
/* SIGHUP's config hook (reload.h): re-reads the configuration and applies the access rules and
 * filter_max_warnings to the running bot. */
int app_apply_config(void *ctx, char *summary, size_t cap);
/* The reload hook for the command declarations (reload_commands_fn): reads workflows_dir again;
 * a broken declaration is refused (summary names the file and the key) and the set in use
 * stays; a valid set becomes the runner's and the router's, and the commands are registered
 * again (a new bulk PUT) when their registration changed. */
int app_apply_commands(void *ctx, char *summary, size_t cap);
/* The access rules of a configuration (the command names come from the command table). */
struct mod_access;
int app_access_from(struct mod_access *out, const fb_config *cfg, char *err, size_t errlen);

/* Handles for tests, the demo and metrics (valid until app_stop). */
struct router;
struct comfy_runner;
struct gateway;
struct analytics_writer;
struct discord_rest;
rt_system *app_system(app *a);
struct router *app_router(app *a);
struct comfy_runner *app_runner(app *a);
struct gateway *app_gateway(app *a);
struct analytics_writer *app_writer(app *a);
struct discord_rest *app_rest(app *a);
/* True once every command registration PUT was answered 2xx. */
bool app_commands_registered(app *a);
/* The metrics exporter's port (0 when metrics_port is off). */
uint16_t app_metrics_port(app *a);

#endif
