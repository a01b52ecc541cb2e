/*
 * models_fetch: keeps the model-list cache (comfy/models.h) filled from the ComfyUI servers.
 * One thread: at start and then every refresh_ms it asks each server in turn for
 * GET /object_info/{class} of the loader classes the declared options autocomplete from
 * (checkpoint, UNet, LoRA, VAE, CLIP, upscale model) and stores the first answer for each;
 * a server that is down is skipped, a class no server answers keeps its last list. Answers are
 * capped (MODELS_ANSWER_MAX) and parsed by models_update, never trusted beyond that.
 *
 * Only this thread writes the cache; the router reads it for autocomplete and to check a typed
 * model name. Blocking curl is fine here: nothing else runs on this thread, and a stop wakes it
 * (the wait is a condition variable; a request in flight is cut by the handle's cancel hook
 * within about a second, and the round ends there: no other class or server is asked).
 *
 * No HTTP handle (out of memory, curl refusing a new easy handle) costs the round, not the
 * thread: it logs one error, and the next round (refresh_ms later, or a poke) tries again.
 */
#ifndef FLUXBOT_ACTORS_MODELS_FETCH_H
#define FLUXBOT_ACTORS_MODELS_FETCH_H

#include <stddef.h>
#include <stdint.h>

#include "comfy/models.h"

typedef struct models_fetch models_fetch;
struct comfy_http;

typedef struct models_fetch_config {
    models_cache *cache;     /* required; outlives the fetcher */
    const char *const *urls; /* ComfyUI base URLs (copied) */
    unsigned nurls;
    uint64_t refresh_ms; /* 0 = 300000 (5 minutes) */
    uint64_t timeout_ms; /* per request; 0 = 10000 */
    /* Makes the thread's HTTP handle; NULL = comfy_http_new. Tests pass one that fails, to
     * prove a failed allocation costs a round and nothing else. */
    struct comfy_http *(*http_new)(void);
} models_fetch_config;

/* Starts the thread (its first round runs at once). NULL with err when it cannot start. */
models_fetch *models_fetch_start(const models_fetch_config *cfg, char *err, size_t errlen);
/* Asks for a round now (SIGHUP, tests); returns at once. */
void models_fetch_poke(models_fetch *f);
/* Rounds completed so far. */
unsigned models_fetch_rounds(models_fetch *f);
/* Asks the thread to end and returns at once: the request in flight is cut (within about a
 * second) and no other is started. The bot calls it first thing when it stops, so the fetcher
 * is not still talking to ComfyUI while the actors drain. NULL is ignored. */
void models_fetch_cancel(models_fetch *f);
/* Cancels (if not yet), joins the thread, frees. NULL is ignored. */
void models_fetch_stop(models_fetch *f);

#endif
