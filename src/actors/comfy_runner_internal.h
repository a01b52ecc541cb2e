/*
 * Internals shared by the runner's files (not for other modules): the runner state, the
 * per-job event channels and the prompt-id registry filled by the websocket thread, the
 * messages between coordinator and workers, and small REST helpers.
 *
 * Threads and what they touch:
 *   coordinator thread   coord state (comfy_runner.c) only
 *   worker threads       their own job; servers and registry under their mutexes
 *   websocket thread     servers and registry under their mutexes, channels under theirs
 * Lock order: reg_mu before a channel's mu; srv_mu is never held with another lock.
 */
#ifndef FLUXBOT_COMFY_RUNNER_INTERNAL_H
#define FLUXBOT_COMFY_RUNNER_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "actors/comfy_runner.h"
#include "actors/comfy_runner_ws.h"
#include "comfy/comfy_proto.h"
#include "comfy/dl_policy.h"
#include "comfy/image_check.h"
#include "comfy/job.h"
#include "comfy/progress.h"
#include "comfy/server_pick.h"
#include "msgs/discord_msgs.h"

enum {
    MSG_COMFY_RUN = 310,    /* coordinator → worker: comfy_run_msg */
    MSG_COMFY_DONE = 311,   /* worker → coordinator: comfy_done_msg */
    MSG_COMFY_STATUS = 312, /* worker → coordinator: comfy_status_msg */
};

typedef struct comfy_run_msg {
    rt_msg hdr;
    comfy_job *job; /* owned by the message until taken (set to NULL) */
} comfy_run_msg;

typedef struct comfy_done_msg {
    rt_msg hdr;
    comfy_job *job; /* owned; images' bytes already freed */
    bool success;
    bool is_image;
    char view_url[1800]; /* where the result can be fetched again (Upscale ×2), "" if none */
    uint64_t duration_ms;
} comfy_done_msg;

typedef struct comfy_status_msg {
    rt_msg hdr;
    uint64_t job_id;
    prog_phase phase;
    unsigned queue_position;
    unsigned percent;
    int server;
} comfy_status_msg;

comfy_run_msg *comfy_run_msg_new(comfy_job *job);
comfy_done_msg *comfy_done_msg_new(comfy_job *job);

/* ---- event channels ---- */

typedef struct comfy_chan {
    pthread_mutex_t mu;
    pthread_cond_t cv; /* CLOCK_MONOTONIC */
    cproto_event *q;
    unsigned head, n, cap;
    unsigned dropped;
    bool reconcile; /* the server's socket went down or came back: check /history, /queue */
} comfy_chan;

comfy_chan *comfy_chan_new(unsigned cap);
void comfy_chan_free(comfy_chan *c);
/* Waits up to timeout_ms for an event; copies up to max into out. Returns the count; sets
 * *reconcile (and clears it in the channel) when a link change was signalled. */
unsigned comfy_chan_wait(comfy_chan *c, cproto_event *out, unsigned max, uint64_t timeout_ms,
                         bool *reconcile);

/* ---- servers ---- */

typedef struct comfy_server {
    char url[CFG_STR];
    char label[32]; /* "server 1" */
    spick_server pick;
    char last_pid[CPROTO_ID_MAX]; /* websocket thread only: for events without a prompt_id */
} comfy_server;

/* ---- the runner ---- */

typedef struct comfy_reg {
    bool used;
    unsigned server;
    char pid[CPROTO_ID_MAX];
    comfy_chan *chan;
} comfy_reg;

typedef struct comfy_orphan {
    bool used;
    unsigned server;
    uint64_t at_ms;
    cproto_event ev;
} comfy_orphan;

typedef struct comfy_coord comfy_coord;

struct comfy_runner {
    comfy_runner_config rc;
    rt_system *sys;
    rt_actor *coord, *workers, *rest, *analytics;
    ratios_set ratios;
    loras_set loras;
    wf_set wf;
    /* Lists swapped in by comfy_runner_swap_lists (heap) and the ones they replaced: all kept
     * until comfy_runner_free, because readers may still hold a pointer they loaded. */
    pthread_mutex_t swap_mu;
    ratios_set **swapped_ratios;
    loras_set **swapped_loras;
    unsigned nswapped;
    cjob_catalog cat;
    char client_id[40];
    /* settings */
    uint64_t progress_ms, stall_ms, http_timeout_ms, stop_grace_ms, no_server_wait_ms;
    uint64_t reconcile_poll_ms, queue_poll_ms;
    uint64_t max_attachment;
    dlpol dl_policy;          /* where input images may come from (read-only after create) */
    imgchk_limits img_limits; /* declared dimensions of input images */
    unsigned threads;
    /* stored results (an_results.h): the database, how long results are kept */
    char results_db[512];
    uint64_t result_retention_ms;
    /* servers */
    pthread_mutex_t srv_mu;
    unsigned nservers;
    comfy_server *servers;
    unsigned rotate;
    comfy_ws *ws;
    /* registry */
    pthread_mutex_t reg_mu;
    comfy_reg *reg;
    unsigned reg_cap;
    comfy_orphan *orph;
    unsigned orph_cap, orph_next;
    /* stop */
    atomic_bool stopping;
    _Atomic uint64_t stop_deadline_ms;
    /* job ids */
    pthread_mutex_t id_mu;
    uint64_t last_id;
    /* coordinator-only state */
    comfy_coord *co;
    /* counters */
    _Atomic uint64_t n_admitted, n_refused, n_succeeded, n_failed, n_resubmitted;
    /* finished jobs: count, worker time and received-to-finished time, for the metrics */
    _Atomic uint64_t n_timed, run_ms_sum, total_ms_sum;
    _Atomic uint64_t n_edits, n_suppressed, n_routed, n_orphaned, n_claimed;
    _Atomic uint64_t n_waiting, n_running;
    _Atomic uint64_t avg_job_ms; /* running average of successful jobs, for ETAs */
};

/* comfy_runner_events.c: websocket callbacks and the registry */
void comfy_ev_on_event(void *ctx, unsigned server, const cproto_event *ev);
void comfy_ev_on_link(void *ctx, unsigned server, bool up);
/* Registers (server, pid) → chan and moves any buffered events for it into chan. */
void comfy_ev_register(comfy_runner *r, unsigned server, const char *pid, comfy_chan *chan);
void comfy_ev_unregister(comfy_runner *r, unsigned server, const char *pid);

/* servers (comfy_runner.c) */
int comfy_srv_acquire(comfy_runner *r, int exclude, bool allow_excluded);
void comfy_srv_submitted(comfy_runner *r, unsigned s, int delta);
void comfy_srv_release(comfy_runner *r, unsigned s);
bool comfy_srv_up(comfy_runner *r, unsigned s);

uint64_t comfy_new_job_id(comfy_runner *r);

/* REST helpers (comfy_runner.c). Paths carry the interaction token; they are never logged. */
void comfy_rest_edit_original(comfy_runner *r, const comfy_reply_ref *ref, char *json_owned,
                              bool must_deliver);
rest_req_msg *comfy_rest_new(rest_method m, const char *path, const char *json);
int comfy_rest_send(comfy_runner *r, rest_req_msg *m, bool must_deliver);
void comfy_path_original(const comfy_reply_ref *ref, char *out, size_t outlen);

/* Cookie of the final result edit (reply_to = coordinator): this bit | job id. */
#define COMFY_FINAL_COOKIE_BIT (1ULL << 63)

/* the worker actor's behaviour (comfy_runner_job.c) */
int comfy_worker_thread_start(rt_actor *self, void *state, unsigned index);
void comfy_worker_on_message(rt_actor *self, void *state, rt_msg *m);
void comfy_worker_thread_exit(rt_actor *self, void *state, unsigned index);

#endif
