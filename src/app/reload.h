/*
 * SIGHUP: re-read the LoRA and resolution lists (loras_file, ratios_file), the configuration
 * and the command declarations.
 *
 * A watcher thread waits for SIGHUP (the handler only writes a byte to a pipe). On each
 * signal it loads both files with the same validators the start uses; a file that does not
 * load is reported (file and reason) and nothing changes, so a typo never takes the bot down.
 * When both load, it logs what changed against the lists in use (resolutions and LoRAs added
 * and removed) and hands the new lists to the apply hook, if one was given.
 *
 * The bot's hook (app_apply_lists) swaps the lists into the ComfyUI runner's catalogue, which
 * the router reads too, and has the slash commands registered again when the resolution labels
 * changed (they are Discord choices). Without a hook SIGHUP only validates. Either way SIGHUP no
 * longer terminates the process (its default action).
 *
 * With a config hook, each SIGHUP also re-reads the configuration (file, environment and flags
 * as at the start) and hands it to the hook, which applies the keys that may change while
 * running (the access_* keys and filter_max_warnings); a configuration that does not load is
 * reported and changes nothing. With a commands hook, each SIGHUP then re-reads the command
 * declarations (comfy/decl.h): a broken one is reported with its file and key and the set in
 * use stays; a valid set becomes current and is registered again (one bulk PUT) when it
 * changed. The lists, the configuration and the declarations are applied independently.
 *
 * One watcher per process (it owns the SIGHUP disposition).
 */
#ifndef FLUXBOT_APP_RELOAD_H
#define FLUXBOT_APP_RELOAD_H

#include <stdbool.h>
#include <stddef.h>

#include "comfy/loras.h"
#include "comfy/ratios.h"

/* Takes ownership of *loras (free with loras_free) on success; ratios is copied by value.
 * Returns 0 when applied, -1 with err otherwise. Runs on the watcher thread. */
typedef int (*reload_apply_fn)(void *ctx, const ratios_set *ratios, loras_set *loras, char *err,
                               size_t errlen);

/* Re-reads and applies the configuration; 0, or -1 with err. Runs on the watcher thread. */
typedef int (*reload_config_fn)(void *ctx, char *summary, size_t cap);
/* Re-reads the command declarations and, when they load, makes them current (registering the
 * commands again when what Discord shows changed); 0, or -1 with the reason (file and key),
 * the declarations in use then stay. Runs on the watcher thread. */
typedef int (*reload_commands_fn)(void *ctx, char *summary, size_t cap);

typedef struct reload_watcher reload_watcher;

typedef struct reload_config {
    const char *ratios_file;
    const char *loras_file;
    reload_apply_fn apply; /* NULL: validate and report only */
    void *apply_ctx;
    reload_config_fn apply_config; /* NULL: the configuration is read only at start */
    void *config_ctx;
    reload_commands_fn apply_commands; /* NULL: the declarations are read only at start */
    void *commands_ctx;
} reload_config;

/* Loads the current lists (the baseline of the diff), installs the SIGHUP handler and starts
 * the thread. NULL with err when the files do not load or the thread cannot start. */
reload_watcher *reload_start(const reload_config *cfg, char *err, size_t errlen);
/* Restores SIGHUP's previous disposition, stops the thread, frees. NULL is ignored. */
void reload_stop(reload_watcher *w);
/* What SIGHUP does, synchronously on the calling thread (tests, operator tooling). Returns 0
 * when the files loaded (and, with a hook, were applied), -1 otherwise; summary gets the
 * one-line outcome that is also logged. */
int reload_now(reload_watcher *w, char *summary, size_t cap);
/* How many SIGHUPs the watcher has handled. */
unsigned reload_count(const reload_watcher *w);

/* Pure: describes the change from (r0, l0) to (r1, l1), e.g.
 * "resolutions: 25 (+1 \"21:9 [2560x1080]\", -0); LoRAs: 7 (+0, -1 \"Anime Style\")".
 * *labels_changed tells whether the resolution labels (Discord choices) differ. */
void reload_describe(const ratios_set *r0, const loras_set *l0, const ratios_set *r1,
                     const loras_set *l1, char *out, size_t cap, bool *labels_changed);

#endif
