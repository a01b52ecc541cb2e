/*
 * A fake ComfyUI: a real HTTP + websocket server (libwebsockets) on 127.0.0.1 and an ephemeral
 * port, on its own thread, speaking the routes and the exact websocket message order of the
 * real ComfyUI API (docs/comfy.md), for tests, benchmarks and the demo.
 *
 * Routes (each also under /api): POST /prompt (validation subset per output → 400 with
 * node_errors, or 200 with node_errors when some output is still valid; 409 on a duplicate
 * prompt_id), GET /prompt, GET/POST /queue, POST /interrupt, GET/POST /history,
 * GET /history/{id}, GET /view (real PNG bytes), POST /upload/image (multipart, "(1)" renames),
 * GET /system_stats, GET /object_info (the loaders' file inputs list model files, as a real
 * install's do), websocket /ws?clientId=.
 * Execution is sequential like the real server: one prompt at a time, lowest number first.
 *
 * Fault switches (any thread): per-step delay, execution_error at a node, interrupt, websocket
 * drop without a close frame, restart (queue, history and counter wiped, sockets dropped, files
 * kept), silent stall (no job events, history still completes), hang (the running job never
 * ends), forced 400 validation errors, a paused worker (to build a queue).
 * The fake records what clients sent (accepted graphs, uploads, counters) for assertions.
 */
#ifndef FLUXBOT_FAKE_COMFY_H
#define FLUXBOT_FAKE_COMFY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct fcomfy fcomfy;

typedef struct fcomfy_opts {
    unsigned steps; /* sampler steps per job; 0 = the graph's own (capped at 100) */
    unsigned step_delay_ms;
    uint32_t png_width; /* output PNG size; 0 = 64 */
    uint32_t png_height;
    bool png_noise;           /* incompressible pixels (to make big files) */
    bool previews;            /* binary type-1 PNG preview frames per step */
    const char *const *loras; /* known LoRA files for validation; NULL = accept any */
    unsigned nloras;
    const char *name; /* for logs ("comfy-a") */
} fcomfy_opts;

typedef struct fcomfy_stats {
    unsigned prompts_accepted;
    unsigned prompts_rejected; /* 400/409 */
    unsigned prompts_finished; /* success, error or interrupted */
    unsigned prompts_succeeded;
    unsigned uploads;
    unsigned views;
    unsigned history_gets;
    unsigned queue_gets;
    unsigned interrupts;
    unsigned ws_connects;
    unsigned ws_open; /* currently connected */
    unsigned restarts;
    unsigned queue_remaining;
    unsigned http_requests;
    unsigned prompts_partial; /* accepted with a non-empty node_errors (some outputs dropped) */
    unsigned queue_deletes;   /* pending prompts removed by POST /queue {"delete": [...]} */
    unsigned input_files;     /* files in the input folder (all subfolders) */
    unsigned prompt_posts;    /* POST /prompt received, answered or not */
} fcomfy_stats;

/* Starts the server; NULL on failure. opts may be NULL. */
fcomfy *fcomfy_start(const fcomfy_opts *opts);
/* Stops the thread, closes every socket and frees everything. */
void fcomfy_stop(fcomfy *f);
int fcomfy_port(const fcomfy *f);
/* "http://127.0.0.1:PORT" */
const char *fcomfy_url(const fcomfy *f);

/* ---- fault switches and knobs (thread-safe) ---- */
void fcomfy_set_steps(fcomfy *f, unsigned steps);
void fcomfy_set_step_delay(fcomfy *f, unsigned ms);
/* execution_error at the first node whose id or class_type equals node (NULL clears). */
void fcomfy_fail_at(fcomfy *f, const char *node, const char *message);
/* Interrupts the running prompt (as POST /interrupt). */
void fcomfy_interrupt(fcomfy *f);
/* Drops every websocket without a close frame (TCP shutdown). */
void fcomfy_drop_ws(fcomfy *f);
/* Process "restart": queue, running job, history and number counter are lost, sockets drop.
 * Uploaded and output files stay, like files on disk. */
void fcomfy_restart(fcomfy *f);
/* Silent: no websocket events for jobs (history still completes). */
void fcomfy_set_silent(fcomfy *f, bool on);
/* Hang: the running job stops advancing (no events, no history) until cleared. */
void fcomfy_set_hang(fcomfy *f, bool on);
/* POST /prompt is read but never answered while on (the connection stays open). */
void fcomfy_set_hang_prompt(fcomfy *f, bool on);
/* Every POST /prompt gets a 400 with node_errors while on. */
void fcomfy_set_reject(fcomfy *f, bool on);
/* A validation error at every node whose id or class_type equals node (NULL or "" clears),
 * attributed like ComfyUI does: the outputs needing that node are dropped; when some output is
 * left the prompt is queued with a 200 whose node_errors list the failures (only the valid
 * outputs run), else the answer is a 400. */
void fcomfy_reject_at(fcomfy *f, const char *node);
/* The worker takes no new prompt while paused. */
void fcomfy_set_paused(fcomfy *f, bool on);
void fcomfy_set_png(fcomfy *f, uint32_t w, uint32_t h, bool noise);
/* Down: every websocket drops at once, then every HTTP request and websocket upgrade is closed
 * unanswered while on, like a dead host (the queue and the running job stay frozen). */
void fcomfy_set_down(fcomfy *f, bool on);
/* Refuses websocket upgrades (HTTP still works) while on, so reconnects keep failing. */
void fcomfy_set_refuse_ws(fcomfy *f, bool on);

/* ---- records ---- */
void fcomfy_get_stats(fcomfy *f, fcomfy_stats *out);
/* The idx-th accepted POST /prompt body "prompt" graph as JSON text (malloc'd), or NULL. */
char *fcomfy_prompt_json(fcomfy *f, unsigned idx);
/* Bytes of an uploaded input file ("name" or "subfolder/name"; malloc'd copy), or NULL. */
uint8_t *fcomfy_upload_data(fcomfy *f, const char *name, size_t *len);
/* Polls until pred(stats, arg) holds or timeout_ms passes; true when it held. */
bool fcomfy_wait(fcomfy *f, bool (*pred)(const fcomfy_stats *s, void *arg), void *arg,
                 unsigned timeout_ms);

#endif
