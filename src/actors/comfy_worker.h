/*
 * comfy_worker: the runner's worker pool ("comfy_worker" actor, runner_threads threads). Each
 * thread takes one job at a time (MSG_COMFY_WORKER_RUN) and runs it to the end with blocking HTTP
 * on its own curl handle: download and validate inputs, pick a server, upload, submit, follow the
 * prompt's events, fetch the output, prepare the final edit. It answers the actor that sent the
 * job (MSG_COMFY_WORKER_DONE at the end) and never calls it; while the job runs, its progress is
 * published in the job's shared cell (comfy_worker_cancel), which that actor reads when it needs
 * it (a message per phase change woke its thread several times a job for nothing).
 *
 * Dependencies one way: the pool is given narrow interfaces at creation (the server table, the
 * event registry, the REST and analytics actors) and knows nothing of the coordinator beyond the
 * reply_to of each job.
 *
 * Threads: comfy_worker_new / _free on the thread that builds the runner (before the actors run /
 * after they stopped); every worker thread reads cfg (immutable after comfy_worker_new) and
 * updates the counters (atomics); comfy_worker_stop from any thread (the coordinator's, on a
 * stop request); comfy_worker_counters_get from any thread. A job (cjob, its channel, its
 * jctx) belongs to the one worker thread running it until the done message hands the job back.
 */
#ifndef FLUXBOT_COMFY_WORKER_H
#define FLUXBOT_COMFY_WORKER_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "actors/comfy_events.h"
#include "actors/comfy_outcome.h"
#include "actors/comfy_servers.h"
#include "actors/job_keeper.h"
#include "comfy/dlpol.h"
#include "comfy/imgchk.h"
#include "comfy/cjob.h"
#include "comfy/prog.h"
#include "comfy/takeover.h"
#include "comfy/wf.h"
#include "fluxbot/runtime.h"
#include "msgs/rest.h"

#define COMFY_WORKER_ACTOR_NAME "comfy_worker"

enum {
    MSG_COMFY_WORKER_RUN = 310,  /* → worker: comfy_worker_run_msg */
    MSG_COMFY_WORKER_DONE = 311, /* worker → the job's reply_to: comfy_worker_done_msg */
};

/* A job taken over from a process whose lease expired (job_keeper.h): where its prompt was. */
typedef struct comfy_worker_takeover {
    bool on;
    takeover_stage stage;
    char server[PG_LEASE_SERVER_MAX]; /* ComfyUI base URL; "" when never submitted */
    char prompt_id[CPROTO_ID_MAX];
} comfy_worker_takeover;

/* A running job's shared cell: its cancel request, set by the coordinator and read by the
 * job's worker between steps and every event wait, and the job's progress, published by the
 * worker and read by the coordinator (/queue). Reference-counted, so whichever lets go last
 * frees it, and neither depends on the other's lifetime. `by` is written before `on` is set
 * (release) and read after `on` is seen (acquire); the progress is one atomic word, so a reader
 * never sees a phase with another moment's position or percent. */
typedef struct comfy_worker_cancel {
    _Atomic unsigned refs;
    atomic_bool on;
    _Atomic uint64_t by;       /* who cancelled */
    _Atomic uint64_t progress; /* comfy_worker_progress, packed (comfy_worker.c) */
} comfy_worker_cancel;

/* A running job's progress as its worker last published it. */
typedef struct comfy_worker_progress {
    prog_phase phase;
    unsigned queue_position; /* in its server's queue, 0 = unknown or not queued */
    unsigned percent;        /* 0..100 */
    int server;              /* the server's index, -1 = none yet */
} comfy_worker_progress;

/* A new request with one reference (not set). */
comfy_worker_cancel *comfy_worker_cancel_new(void);
comfy_worker_cancel *comfy_worker_cancel_ref(comfy_worker_cancel *c);
/* Drops a reference; the last frees it. NULL is ignored. */
void comfy_worker_cancel_unref(comfy_worker_cancel *c);
/* Asks the worker to cancel the job (any thread). */
void comfy_worker_cancel_set(comfy_worker_cancel *c, uint64_t by);
/* The job's progress (any thread); a cell nothing was published in yet, or NULL, gives
 * PROG_PREPARING with no server. */
void comfy_worker_progress_get(comfy_worker_cancel *c, comfy_worker_progress *out);

typedef struct comfy_worker_run_msg {
    rt_msg hdr;
    cjob *job;          /* owned by the message until taken (set to NULL) */
    rt_actor *reply_to; /* gets the job's status and done messages */
    comfy_worker_takeover tko;
    comfy_worker_cancel *cancel; /* a reference, owned by the message until taken; NULL: none */
} comfy_worker_run_msg;

typedef struct comfy_worker_done_msg {
    rt_msg hdr;
    cjob *job; /* owned; images' bytes already freed */
    bool success;
    bool is_image;
    char view_url[1800]; /* where the result can be fetched again (Upscale ×2), "" if none */
    uint64_t duration_ms;
    comfy_outcome out;   /* owned */
    rest_req_msg *final; /* owned: the final edit (result or failure), sent by the coordinator
                            once it has the job's record, so the buttons work at once */
    /* Nothing is said or recorded for the job here: it is another process's now (fenced), or
     * it was handed back because this process is stopping (its row stays for a taker). */
    bool silent;
    bool handed_back;
    /* The job was cancelled (comfy_worker_cancel): its prompt left its server, out says so,
     * final is the "cancelled" edit. False when it ended (either way) before it saw the
     * request: exactly one outcome either way. */
    bool cancelled;
} comfy_worker_done_msg;

comfy_worker_run_msg *comfy_worker_run_msg_new(cjob *job, rt_actor *reply_to);
comfy_worker_done_msg *comfy_worker_done_msg_new(cjob *job);

typedef struct comfy_worker_config {
    unsigned threads;       /* the pool's size (≥ 1) */
    unsigned lane_capacity; /* mailbox lanes */
    uint64_t progress_ms, stall_ms, http_timeout_ms, no_server_wait_ms, connect_timeout_ms;
    uint64_t reconcile_poll_ms, queue_poll_ms;
    unsigned down_after; /* failed reconciles, socket down, before a server is given up */
    uint64_t max_attachment;
    const dlpol *dl_policy;   /* where input images may come from (outlives the pool) */
    imgchk_limits img_limits; /* declared dimensions of input images */
    const cjob_catalog *cat;  /* declarations (each job carries its own; outlive the pool) */
    const char *client_id;    /* the websockets' clientId, sent with every prompt */
    const char *output_dir;   /* "" = no copies kept */
    comfy_servers *srv;       /* the server table (comfy_servers.h) */
    comfy_events *events;     /* the event registry (comfy_events.h) */
    rt_actor *rest;           /* the discord_rest actor */
    rt_actor *analytics;      /* NULL: no analytics */
    /* With a postgresql:// db_url: the jobs' leases (job_keeper.h); NULL: one process only. */
    job_keeper *keeper;
    uint64_t token_valid_ms; /* how long an interaction token works; 0 = 15 min */
} comfy_worker_config;

typedef struct comfy_worker_counters {
    uint64_t succeeded, failed, resubmitted;
    uint64_t progress_edits, progress_suppressed;
    /* finished jobs: count, worker time and received-to-finished time */
    uint64_t timed, run_ms_sum, total_ms_sum;
} comfy_worker_counters;

typedef struct comfy_worker comfy_worker;

/* Creates the pool's actor in sys (its threads start with the system). NULL with err. */
comfy_worker *comfy_worker_new(rt_system *sys, const comfy_worker_config *c, char *err,
                               size_t errlen);
rt_actor *comfy_worker_actor(comfy_worker *w);
/* The bot is stopping: running jobs may go on until deadline_ms (rt_now_ms() time), then are
 * interrupted and answered. Any thread. */
void comfy_worker_stop(comfy_worker *w, uint64_t deadline_ms);
void comfy_worker_counters_get(comfy_worker *w, comfy_worker_counters *out);
/* After the actor stopped. NULL is ignored. */
void comfy_worker_free(comfy_worker *w);

#endif
