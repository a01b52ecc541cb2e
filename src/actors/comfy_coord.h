/*
 * comfy_coord: the runner's coordinator ("comfy" actor, one thread, never blocks). It takes the
 * router's messages (MSG_COMFY_START / _BUTTON / _QUEUE / _LOOKUP, src/msgs/comfy.h; a
 * lookup, for the Options dialog, is answered to the router with MSG_COMFY_LOOKUP_RES; _CANCEL
 * cancels a job, comfy/qcancel.h deciding which and who may), all already
 * acknowledged by the router, applies the per-user and global limits (and the bot-wide ones in
 * PostgreSQL when db_url says so), sends the prompt of a new job that asks for an enhancement to
 * the enhancer (llm_enhance.h) and keeps the job meanwhile, listed and cancellable as a waiting
 * one (it alone decides a job's fate, so a cancel racing the enhancer's answer ends the job
 * once), keeps the waiting line, hands jobs to idle workers
 * (MSG_COMFY_WORKER_RUN, reply_to = itself), takes their status and done messages, delivers the
 * final messages (comfy_deliver.h), answers /queue and the result buttons as edits of the router's
 * acknowledgement, keeps the recent results for the buttons, and runs the stop sequence. It
 * starts the websocket thread (comfy_ws.h) when its own thread starts and stops it when freed.
 *
 * Dependencies one way: the coordinator is given the worker pool, the server table, the REST and
 * analytics actors; nobody calls into it. Workers, the REST actor and the event registry talk to
 * it by messages only.
 *
 * Threads: all its state is the coordinator thread's (claimed when that thread starts, asserted
 * in debug builds: a second thread would race on the waiting line and the limits with no lock to
 * stop it). comfy_coord_new / _free on the thread that builds the runner, before the actors run /
 * after they stopped. comfy_coord_counters_get from any thread (atomics).
 * The stop: on a stop request, waiting jobs are answered ("not started"); the coordinator holds
 * itself (rt_actor_hold) for every job a worker runs and every delivery in flight, so the
 * system's stop waits for them, bounded by stop_grace_ms.
 */
#ifndef FLUXBOT_COMFY_COORD_H
#define FLUXBOT_COMFY_COORD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "actors/comfy_servers.h"
#include "actors/comfy_worker.h"
#include "actors/comfy_ws.h"
#include "actors/job_keeper.h"
#include "comfy/wf.h"
#include "fluxbot/runtime.h"

struct mod_state;

/* The runner's address: the router sends its messages to this actor. */
#define COMFY_COORD_ACTOR_NAME "comfy"

typedef struct comfy_coord_config {
    unsigned threads;           /* the worker pool's size: how many jobs run at once */
    unsigned lane_capacity;     /* mailbox lanes */
    uint64_t progress_ms;       /* edits of a waiting job's message, at most this often */
    uint64_t no_server_wait_ms; /* a waiting job is failed after this long with no server up */
    uint64_t stop_grace_ms;     /* running jobs and deliveries may finish this long after a stop */
    uint64_t token_valid_ms;    /* how long an interaction token works; 0 = 15 min */
    /* user_max_concurrent_jobs, user_max_jobs_per_hour, max_queued_jobs */
    unsigned user_max_active, user_max_per_hour, max_total;
    const char *db_url;     /* postgresql://: limits shared by every process; else local */
    const char *results_db; /* stored results (an_engine.h: SQLite path or URL); "" = none */
    uint64_t result_retention_ms;
    /* The declared commands (cat->decls, swapped by SIGHUP): Regenerate runs the command as
     * declared now; Upscale ×2 runs the button declaration, when there is one. */
    const cjob_catalog *cat;
    struct mod_state *mod; /* content filter for Regenerate; NULL: not checked */
    comfy_worker *workers; /* the pool jobs are handed to */
    comfy_servers *srv;    /* the server table: is any server up, labels for /queue */
    comfy_ws_opts ws;      /* the websockets, started with the coordinator's thread */
    rt_actor *rest;        /* the discord_rest actor */
    rt_actor *analytics;   /* NULL: no analytics */
    rt_actor *enhancer;    /* llm_enhance.h: prompts to enhance (MSG_LLM_ENHANCE_REQ); NULL: none */
    /* With a postgresql:// db_url: accepted jobs are made durable under leases, and jobs taken
     * over from dead processes arrive as MSG_JOB_KEEPER_TAKEOVER (job_keeper.h). NULL: none. */
    job_keeper *keeper;
} comfy_coord_config;

typedef struct comfy_coord_counters {
    uint64_t admitted, refused, failed; /* failed: jobs no worker ran (no server, ...) */
    uint64_t waiting, running;
    uint64_t cancelled; /* jobs cancelled by their users or managers (waiting or running) */
} comfy_coord_counters;

typedef struct comfy_coord comfy_coord;

/* Creates the coordinator's actor in sys. NULL with err (a db_url that is not usable). */
comfy_coord *comfy_coord_new(rt_system *sys, const comfy_coord_config *c, char *err, size_t errlen);
rt_actor *comfy_coord_actor(comfy_coord *co);
void comfy_coord_counters_get(comfy_coord *co, comfy_coord_counters *out);
/* Stops the websockets and frees everything; the actor must have stopped. NULL is ignored. */
void comfy_coord_free(comfy_coord *co);

#endif
