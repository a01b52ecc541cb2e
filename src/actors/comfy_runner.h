/*
 * comfy_runner: owns the ComfyUI servers and runs generation jobs. This header is the runner's
 * whole outside interface; its parts are files of their own, each with its own struct, and each
 * header says its threads and rules (docs/comfy.md, "The runner's parts", has the map):
 *   - comfy_worker.h: the "comfy_worker" pool (COMFY_WORKER_ACTOR_NAME), runner_threads parked
 * threads. Each takes one job at a time and runs it to the end with blocking HTTP (download inputs,
 * upload, patch, POST /prompt, follow events, /history, /view, final edit). runner_threads = jobs
 *     generating at once.
 *   - comfy_coord.h: "comfy" (COMFY_COORD_ACTOR_NAME), the coordinator, one thread, never
 *     blocks. It takes the router's messages (MSG_COMFY_START / _BUTTON / _QUEUE, see
 *     src/msgs/comfy.h), all already acknowledged by the router (which owns every first
 *     answer and resolves the job's options), applies the per-user and global limits, keeps the
 *     waiting line, edits @original for /queue and the buttons' outcomes, hands jobs to idle
 *     workers and delivers their final messages (comfy_deliver.h).
 *   - comfy_ws.h, comfy_events.h, comfy_chan.h: one websocket per ComfyUI server for the whole
 *     bot (one clientId), on its own lws thread; events are routed by prompt_id to the worker
 *     following that prompt. Events that arrive before the POST /prompt reply are kept (the
 *     prompt id is chosen by the bot and registered first; events for ids nobody registered yet
 *     are buffered briefly).
 *   - comfy_servers.h: the server table every part consults.
 * The parts depend one way (comfy_runner.c shows the graph): none calls back into the
 * coordinator; workers and the event registry tell it things by messages.
 *
 * Discord output goes as MSG_REST_REQ to the REST actor: progress edits of the deferred message
 * (at most one per progress_interval_ms per job), the final PATCH @original with embed, file
 * (multipart) and buttons, ephemeral errors. Analytics: one image_stats row per finished job
 * (success or not) and user_activity rows job_queued / job_started / job_finished / job_failed.
 *
 * Failures: a node error reaches the user as node + message; a 400 with node_errors is logged
 * for the operator with every node error; a job missing from both queue and history (server
 * restart) or silent past job_stall_timeout_ms is resubmitted once on another server, then
 * failed clearly; a dropped websocket reconnects with backoff and in-flight jobs reconcile
 * through /history and /queue.
 *
 * Stop: the coordinator holds itself (rt_actor_hold) for every job a worker runs; on a stop
 * request, waiting jobs are answered ("not started") and running ones get stop_grace_ms to
 * finish before they are interrupted and answered. Lifetime: create (on the thread that builds
 * the bot) before rt_system_start, comfy_runner_free after rt_system_stop; every other function
 * from any thread.
 */
#ifndef FLUXBOT_COMFY_RUNNER_H
#define FLUXBOT_COMFY_RUNNER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "actors/comfy_servers.h"
#include "comfy/cjob.h"
#include "config/fb_config.h"
#include "fluxbot/runtime.h"

typedef struct comfy_runner_config {
    const fb_config *cfg; /* comfyui_urls, workflows_dir, ratios_file, loras_file, output_dir,
                             progress_interval_ms, job_stall_timeout_ms, max_attachment_bytes,
                             user_max_concurrent_jobs, user_max_jobs_per_hour, max_queued_jobs,
                             runner_threads, mailbox_capacity */
    rt_actor *rest;       /* the discord_rest actor */
    rt_actor *analytics;  /* the analytics writer (NULL: no analytics) */
    /* The llm_enhance actor (llm_enhance.h): a new job that asks for prompt enhancement waits
     * in the coordinator while its prompt is there. NULL: no enhancement (such a job runs as
     * typed, and its user is told). */
    rt_actor *enhancer;
    /* The content filter (src/moderation/mod_state.h): a Regenerate whose prompt the rules
     * refuse now is refused before a job exists. NULL: not checked. */
    struct mod_state *mod;
    /* The servers' model lists for declared options (comfy/models.h; filled by the fetcher,
     * read by the router through the catalogue). NULL: model names are not checked. */
    struct models_cache *models;
    /* Tuning; 0 = default. */
    uint64_t http_timeout_ms;   /* ComfyUI and download calls; 30000 */
    uint64_t stop_grace_ms;     /* running jobs may finish for this long after a stop; 30000 */
    uint64_t no_server_wait_ms; /* a job waits this long for any server to be up; 30000 */
    uint64_t reconcile_poll_ms; /* /history + /queue polling while a socket is down; 1000 */
    uint64_t queue_poll_ms;     /* /queue polling for the position while waiting; 3000 */
    unsigned ws_ping_secs;      /* 20 */
    /* How long an interaction token works (Discord: 15 min from the interaction); finished
     * results are retried this long. 0 = 900000 (tests shorten it). */
    uint64_t token_valid_ms;
    const char *client_id; /* NULL: a random UUID */
} comfy_runner_config;

typedef struct comfy_runner comfy_runner;

/* Zeroes out and points it at the configuration (the keys listed at cfg above); the caller then
 * sets the wiring (rest, analytics, mod). Tuning fields stay 0: their defaults. */
void comfy_runner_config_from(comfy_runner_config *out, const fb_config *cfg);

/* Loads and validates ratios, LoRAs and workflows (a broken file fails with file and node
 * named in err) and creates the two actors in sys. NULL on error. */
comfy_runner *comfy_runner_new(rt_system *sys, const comfy_runner_config *rc, char *err,
                               size_t errlen);
rt_actor *comfy_runner_actor(comfy_runner *r);
/* The loaded catalogue, for the router's lookups (ratios_find, loras_match, cjob_check_options).
 * Immutable for the runner's lifetime. */
const cjob_catalog *comfy_runner_catalog(const comfy_runner *r);
/* SIGHUP: makes new resolution and LoRA lists current for every later lookup (router
 * validation and autocomplete, new jobs). Copies *ratios, takes ownership of *loras (left
 * empty). Jobs already admitted keep what they resolved. 0, or -1 with err. Any thread. */
int comfy_runner_swap_lists(comfy_runner *r, const ratios_set *ratios, loras_set *loras, char *err,
                            size_t errlen);
/* SIGHUP: makes a new set of declared commands current for every later interaction and job;
 * takes ownership of *decls (its contents move; *decls is left empty). The set it replaces
 * stays allocated until comfy_runner_free (admitted jobs point into it). 0, or -1 with err.
 * Any thread. */
int comfy_runner_swap_decls(comfy_runner *r, decl_set *decls, char *err, size_t errlen);
/* Stops the websockets and frees everything; the actors must have stopped. NULL is ignored. */
void comfy_runner_free(comfy_runner *r);

typedef struct comfy_runner_counters {
    uint64_t jobs_admitted, jobs_refused, jobs_succeeded, jobs_failed, jobs_resubmitted;
    uint64_t progress_edits, progress_suppressed;
    uint64_t events_routed, events_orphaned, events_claimed;
    uint64_t waiting, running;
    /* Finished jobs (either outcome): how many, the sum of their generation time (a worker
     * took the job → result sent) and of their total time (interaction received → result). */
    uint64_t jobs_timed, job_run_ms_sum, job_total_ms_sum;
    unsigned servers, servers_up;
    /* With a postgresql:// db_url (job_keeper.h), else 0: jobs taken over from processes whose
     * lease expired, jobs dropped here because another process took them over, and lease
     * renewals the database did not answer. */
    uint64_t jobs_taken_over, jobs_fenced, lease_renew_failures;
} comfy_runner_counters;

void comfy_runner_counters_get(comfy_runner *r, comfy_runner_counters *out);

/* Fills out for server i (0-based); false when i is out of range. Any thread. */
bool comfy_runner_server_get(comfy_runner *r, unsigned i, comfy_servers_info *out);

#endif
