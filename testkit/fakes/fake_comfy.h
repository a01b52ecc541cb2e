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

typedef struct fake_comfy fake_comfy;

typedef struct fake_comfy_opts {
    unsigned steps; /* sampler steps per job; 0 = the graph's own (capped at 100) */
    unsigned step_delay_ms;
    uint32_t png_width; /* output PNG size; 0 = 64 */
    uint32_t png_height;
    bool png_noise;           /* incompressible pixels (to make big files) */
    bool previews;            /* binary type-1 PNG preview frames per step */
    const char *const *loras; /* known LoRA files for validation; NULL = accept any */
    unsigned nloras;
    const char *name; /* for logs ("comfy-a") */
} fake_comfy_opts;

/* HTTP routes, for counting the requests a client made (each also under /api). */
typedef enum fake_comfy_route {
    FAKE_COMFY_ROUTE_PROMPT_POST,  /* POST /prompt */
    FAKE_COMFY_ROUTE_PROMPT_GET,   /* GET /prompt */
    FAKE_COMFY_ROUTE_QUEUE_GET,    /* GET /queue */
    FAKE_COMFY_ROUTE_QUEUE_POST,   /* POST /queue */
    FAKE_COMFY_ROUTE_INTERRUPT,    /* POST /interrupt */
    FAKE_COMFY_ROUTE_HISTORY_GET,  /* GET /history/{prompt_id} */
    FAKE_COMFY_ROUTE_HISTORY_LIST, /* GET /history */
    FAKE_COMFY_ROUTE_HISTORY_POST, /* POST /history */
    FAKE_COMFY_ROUTE_VIEW,         /* GET /view (found or not) */
    FAKE_COMFY_ROUTE_UPLOAD,       /* POST /upload/image */
    FAKE_COMFY_ROUTE_SYSTEM_STATS, /* GET /system_stats */
    FAKE_COMFY_ROUTE_OBJECT_INFO,  /* GET /object_info[/{class}] */
    FAKE_COMFY_ROUTE_OTHER,        /* anything else (404), or a body too big (413) */
    FAKE_COMFY_ROUTE_COUNT
} fake_comfy_route;
/* "prompt_post", "prompt_get", "queue_get", ... "other": the names above in snake case. */
const char *fake_comfy_route_name(fake_comfy_route r);

typedef struct fake_comfy_stats {
    unsigned prompts_accepted;
    unsigned prompts_rejected; /* 400/409 */
    unsigned prompts_finished; /* success, error or interrupted */
    unsigned prompts_succeeded;
    unsigned uploads;
    unsigned views;
    unsigned history_gets;
    unsigned queue_gets;
    unsigned interrupts;     /* POST /interrupt received */
    unsigned interrupts_hit; /* of them, those that stopped a running prompt */
    unsigned ws_connects;
    unsigned ws_open; /* currently connected */
    unsigned restarts;
    unsigned queue_remaining;
    unsigned http_requests;
    unsigned prompts_partial; /* accepted with a non-empty node_errors (some outputs dropped) */
    unsigned queue_deletes;   /* pending prompts removed by POST /queue {"delete": [...]} */
    unsigned input_files;     /* files in the input folder (all subfolders) */
    unsigned prompt_posts;    /* POST /prompt received, answered or not */
    unsigned routes[FAKE_COMFY_ROUTE_COUNT]; /* HTTP requests by route (sums to http_requests) */
    unsigned ws_frames_in;                   /* websocket messages received from clients */
    unsigned ws_frames_out; /* websocket frames written to clients (events, status, previews) */
} fake_comfy_stats;

/* Starts the server; NULL on failure. opts may be NULL. */
fake_comfy *fake_comfy_start(const fake_comfy_opts *opts);
/* Stops the thread, closes every socket and frees everything. */
void fake_comfy_stop(fake_comfy *f);
int fake_comfy_port(const fake_comfy *f);
/* "http://127.0.0.1:PORT" */
const char *fake_comfy_url(const fake_comfy *f);

/* ---- fault switches and knobs (thread-safe) ---- */
void fake_comfy_set_steps(fake_comfy *f, unsigned steps);
void fake_comfy_set_step_delay(fake_comfy *f, unsigned ms);
/* execution_error at the first node whose id or class_type equals node (NULL clears). */
void fake_comfy_fail_at(fake_comfy *f, const char *node, const char *message);
/* Interrupts the running prompt (as POST /interrupt). */
void fake_comfy_interrupt(fake_comfy *f);
/* Drops every websocket without a close frame (TCP shutdown). */
void fake_comfy_drop_ws(fake_comfy *f);
/* Process "restart": queue, running job, history and number counter are lost, sockets drop.
 * Uploaded and output files stay, like files on disk. */
void fake_comfy_restart(fake_comfy *f);
/* Silent: no websocket events for jobs (history still completes). */
void fake_comfy_set_silent(fake_comfy *f, bool on);
/* Hang: the running job stops advancing (no events, no history) until cleared. */
void fake_comfy_set_hang(fake_comfy *f, bool on);
/* POST /prompt is read but never answered while on (the connection stays open). */
void fake_comfy_set_hang_prompt(fake_comfy *f, bool on);
/* Every POST /prompt gets a 400 with node_errors while on. */
void fake_comfy_set_reject(fake_comfy *f, bool on);
/* A validation error at every node whose id or class_type equals node (NULL or "" clears),
 * attributed like ComfyUI does: the outputs needing that node are dropped; when some output is
 * left the prompt is queued with a 200 whose node_errors list the failures (only the valid
 * outputs run), else the answer is a 400. */
void fake_comfy_reject_at(fake_comfy *f, const char *node);
/* The worker takes no new prompt while paused. */
void fake_comfy_set_paused(fake_comfy *f, bool on);
void fake_comfy_set_png(fake_comfy *f, uint32_t w, uint32_t h, bool noise);
/* Down: every websocket drops at once, then every HTTP request and websocket upgrade is closed
 * unanswered while on, like a dead host (the queue and the running job stay frozen). */
void fake_comfy_set_down(fake_comfy *f, bool on);
/* Refuses websocket upgrades (HTTP still works) while on, so reconnects keep failing. */
void fake_comfy_set_refuse_ws(fake_comfy *f, bool on);

/* ---- records ---- */
void fake_comfy_get_stats(fake_comfy *f, fake_comfy_stats *out);
/* The idx-th accepted POST /prompt body "prompt" graph as JSON text (malloc'd), or NULL. */
char *fake_comfy_prompt_json(fake_comfy *f, unsigned idx);
/* The prompt id of the idx-th accepted POST /prompt (false: none so far). */
bool fake_comfy_prompt_id(fake_comfy *f, unsigned idx, char *out, size_t cap);
/* Bytes of an uploaded input file ("name" or "subfolder/name"; malloc'd copy), or NULL. */
uint8_t *fake_comfy_upload_data(fake_comfy *f, const char *name, size_t *len);
/* The id of the prompt the last effective POST /interrupt stopped (false: none yet). */
bool fake_comfy_last_interrupted(fake_comfy *f, char *out, size_t cap);
/* Polls until pred(stats, arg) holds or timeout_ms passes; true when it held. */
bool fake_comfy_wait(fake_comfy *f, bool (*pred)(const fake_comfy_stats *s, void *arg), void *arg,
                     unsigned timeout_ms);

#endif
