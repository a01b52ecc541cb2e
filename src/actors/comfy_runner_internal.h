/*
 * Internals shared by the runner's files (not for other modules): the runner state, the
 * per-job event channels and the prompt-id registry filled by the websocket thread, the
 * messages between coordinator and workers, and small REST helpers.
 *
 * Threads and what they touch:
 *   coordinator thread   coord state (comfy_runner.c) only
 *   worker threads       their own job; servers and registry under their mutexes
 *   websocket thread     servers and registry under their mutexes, channels under theirs
 * Lock order: the event registry's mu before a channel's mu; the server table's mutex is never held
 * with another lock.
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
#include "comfy/loras.h"
#include "comfy/progress.h"
#include "comfy/server_pick.h"
#include "msgs/discord_msgs.h"

enum {
    MSG_COMFY_RUN = 310,    /* coordinator → worker: comfy_run_msg */
    MSG_COMFY_DONE = 311,   /* worker → coordinator: comfy_done_msg */
    MSG_COMFY_STATUS = 312, /* worker → coordinator: comfy_status_msg */
    MSG_COMFY_LINK = 313, /* websocket thread → coordinator: a server went up or down (rt_msg) */
};

typedef struct comfy_run_msg {
    rt_msg hdr;
    comfy_job *job; /* owned by the message until taken (set to NULL) */
} comfy_run_msg;

/* What a finished job amounts to, kept until the user has it: the analytics row is recorded
 * only once the final message's fate is known, so that image_stats says what the user got. */
typedef struct comfy_outcome {
    uint64_t job_id, user_id, guild_id, channel_id;
    comfy_reply_ref reply; /* token owned */
    bool success;          /* the generation produced a result */
    bool is_video;
    uint32_t upscale; /* relative to the label's size (an Upscale of a x2 result: 4) */
    uint64_t ms;      /* worker time */
    uint64_t finished_wall_ms;
    uint64_t received_wall_ms; /* when the interaction arrived: its token lives 15 min from it */
    char generation_type[24];  /* the declaration's (copied: the job may go first) */
    char *prompt;              /* owned */
    char resolution[COMFY_LABEL_MAX + 1]; /* the label the user picked */
    uint32_t width, height;               /* the delivered size */
    char *loras;                          /* owned: JSON list of names */
    char reason[64]; /* failures: a short machine word ("node_error", "no_server", ...) */
    char text[700];  /* failures: what the user is told */
} comfy_outcome;

/* Fills o from job (copies what it needs). */
void comfy_outcome_fill(comfy_outcome *o, const comfy_job *job, bool success, uint64_t ms,
                        const char *reason, const char *text);
void comfy_outcome_clear(comfy_outcome *o);
/* Records the image_stats row and the job_finished / job_failed activity: delivered says whether
 * the user got the result (a finished job whose result could not be posted counts as failed,
 * reason "not_delivered"). */
void comfy_outcome_record(comfy_runner *r, const comfy_outcome *o, bool delivered);

typedef struct comfy_done_msg {
    rt_msg hdr;
    comfy_job *job; /* owned; images' bytes already freed */
    bool success;
    bool is_image;
    char view_url[1800]; /* where the result can be fetched again (Upscale ×2), "" if none */
    uint64_t duration_ms;
    comfy_outcome out;   /* owned */
    rest_req_msg *final; /* owned: the final edit (result or failure), sent by the coordinator
                            once it has the job's record, so the buttons work at once */
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
    /* The first PNG the newest node sent as a binary websocket frame while it executed
     * (SaveImageWebsocket writes nothing to history): malloc'd, owned by the channel until
     * taken. */
    uint8_t *img;
    size_t img_len;
    char img_node[CPROTO_ID_MAX];
} comfy_chan;

comfy_chan *comfy_chan_new(unsigned cap);
void comfy_chan_free(comfy_chan *c);
/* Waits up to timeout_ms for an event; copies up to max into out. Returns the count; sets
 * *reconcile (and clears it in the channel) when a link change was signalled. */
unsigned comfy_chan_wait(comfy_chan *c, cproto_event *out, unsigned max, uint64_t timeout_ms,
                         bool *reconcile);
/* Takes the websocket image (see img above): true with *data (caller frees), its length and the
 * node that sent it; false when none arrived. */
bool comfy_chan_take_image(comfy_chan *c, char node[CPROTO_ID_MAX], uint8_t **data, size_t *len);

/* ---- servers ---- */

typedef struct comfy_server {
    char url[CFG_STR];
    char label[32]; /* "server 1" */
    spick_server pick;
    char last_pid[CPROTO_ID_MAX];  /* websocket thread only: for events without a prompt_id */
    char last_node[CPROTO_ID_MAX]; /* websocket thread only: the node executing (binary frames) */
    uint64_t unanswered_until_ms;  /* an HTTP call got no answer: no new jobs until then */
} comfy_server;

/* ---- the server table (comfy_runner_servers.c): any thread, under its own mutex ---- */

typedef struct comfy_servers {
    pthread_mutex_t mu;
    unsigned n;             /* immutable after init */
    comfy_server *v;        /* url and label immutable after init; the rest under mu */
    unsigned rotate;        /* tie-break start of the next choice */
    uint64_t unanswered_ms; /* how long a server that left a call unanswered gets no new job */
} comfy_servers;

/* 0, or -1 with err when a URL is not http(s). */
int comfy_servers_init(comfy_servers *t, const cfg_list *urls, uint64_t unanswered_ms, char *err,
                       size_t errlen);
void comfy_servers_destroy(comfy_servers *t);
/* The server for a job (its assigned count raised), or -1 when none is usable. */
int comfy_servers_acquire(comfy_servers *t, int exclude, bool allow_excluded);
void comfy_servers_submitted(comfy_servers *t, unsigned s, int delta);
void comfy_servers_release(comfy_servers *t, unsigned s);
bool comfy_servers_up(comfy_servers *t, unsigned s);
unsigned comfy_servers_up_count(comfy_servers *t);
/* True when some server is up and answering: jobs are handed to workers only then. */
bool comfy_servers_any_usable(comfy_servers *t);
/* Server s did not answer an HTTP call within its timeout: it gets no new job for a while (its
 * websocket may well still be up), so a hanging server costs one timeout, not one per job. */
void comfy_servers_unanswered(comfy_servers *t, unsigned s);
/* From the websocket thread: a status event's queue length; a link change (returns the old
 * state). */
void comfy_servers_queue_remaining(comfy_servers *t, unsigned s, int64_t remaining);
bool comfy_servers_link(comfy_servers *t, unsigned s, bool up);
bool comfy_servers_info(comfy_servers *t, unsigned i, comfy_server_info *out);

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

/* ---- event routing (comfy_runner_events.c): the websocket thread and the workers ---- */

/* The registry of (server, prompt_id) → channel and the short buffer of events nobody follows
 * yet. Its own mutex (taken before a channel's); it knows the server table (status events, link
 * changes) and whom to tell of a link change, never the coordinator itself. */
typedef struct comfy_events {
    pthread_mutex_t mu;
    comfy_reg *reg;
    unsigned reg_cap;
    comfy_orphan *orph;
    unsigned orph_cap, orph_next;
    comfy_servers *srv;
    rt_actor *notify; /* gets MSG_COMFY_LINK when a server goes up or down (may be NULL) */
    _Atomic uint64_t n_routed, n_orphaned, n_claimed;
} comfy_events;

void comfy_events_init(comfy_events *e, comfy_servers *srv);
void comfy_events_destroy(comfy_events *e);
/* The websocket callbacks (ctx is the comfy_events). */
void comfy_events_on_event(void *ctx, unsigned server, const cproto_event *ev);
void comfy_events_on_link(void *ctx, unsigned server, bool up);
/* Registers (server, pid) → chan and moves any buffered events for it into chan. */
/* A binary preview frame (websocket thread): a PNG (format 2) is kept in the channel of the
 * prompt whose node is executing, for a SaveImageWebsocket output; JPEG latent previews are
 * ignored. */
void comfy_events_on_binary(void *ctx, unsigned server, const cproto_event *ev,
                            const uint8_t *frame, size_t len);
void comfy_events_register(comfy_events *e, unsigned server, const char *pid, comfy_chan *chan);
void comfy_events_unregister(comfy_events *e, unsigned server, const char *pid);

typedef struct comfy_coord comfy_coord;
typedef struct comfy_deliveries comfy_deliveries;

struct comfy_runner {
    comfy_runner_config rc;
    rt_system *sys;
    rt_actor *coord, *workers, *rest, *analytics;
    ratios_set ratios;
    loras_set loras;
    decl_set *decls; /* the declared commands at start (heap) */
    /* Lists swapped in by comfy_runner_swap_lists (heap) and the ones they replaced: all kept
     * until comfy_runner_free, because readers may still hold a pointer they loaded. */
    pthread_mutex_t swap_mu;
    ratios_set **swapped_ratios;
    loras_set **swapped_loras;
    unsigned nswapped;
    decl_set **swapped_decls; /* declarations SIGHUP made current (jobs point into them) */
    unsigned nswapped_decls;
    cjob_catalog cat;
    char client_id[40];
    /* settings */
    uint64_t progress_ms, stall_ms, http_timeout_ms, stop_grace_ms, no_server_wait_ms;
    uint64_t token_valid_ms, connect_timeout_ms;
    uint64_t reconcile_poll_ms, queue_poll_ms;
    unsigned down_after; /* failed reconciles, socket down, before a server is given up */
    uint64_t max_attachment;
    dlpol dl_policy;          /* where input images may come from (read-only after create) */
    imgchk_limits img_limits; /* declared dimensions of input images */
    unsigned threads;
    /* stored results (an_results.h): the database, how long results are kept */
    char results_db[512];
    uint64_t result_retention_ms;
    comfy_servers srv; /* the server table (comfy_runner_servers.c) */
    comfy_ws *ws;
    /* registry */
    comfy_events events; /* websocket events → jobs (comfy_runner_events.c) */
    /* stop */
    atomic_bool stopping;
    _Atomic uint64_t stop_deadline_ms;
    /* job ids */
    pthread_mutex_t id_mu;
    uint64_t last_id;
    /* coordinator-only state */
    comfy_coord *co;
    comfy_deliveries *dlv;
    /* counters */
    _Atomic uint64_t n_admitted, n_refused, n_succeeded, n_failed, n_resubmitted;
    /* finished jobs: count, worker time and received-to-finished time, for the metrics */
    _Atomic uint64_t n_timed, run_ms_sum, total_ms_sum;
    _Atomic uint64_t n_edits, n_suppressed;
    _Atomic uint64_t n_waiting, n_running;
    _Atomic uint64_t avg_job_ms; /* running average of successful jobs, for ETAs */
};

uint64_t comfy_new_job_id(comfy_runner *r);

/* REST helpers (comfy_runner.c). Requests carry the interaction token; they are never logged.
 * Paths and bodies come from src/discord (reply_req.h, reply.h). */
void comfy_rest_edit_original(comfy_runner *r, const comfy_reply_ref *ref, char *json_owned,
                              bool must_deliver);
rest_req_msg *comfy_req_edit_original(const comfy_reply_ref *ref, char *json_owned);
int comfy_rest_send(comfy_runner *r, rest_req_msg *m, bool must_deliver);

/* Cookie of the final result edit (reply_to = coordinator): this bit | job id. */
#define COMFY_FINAL_COOKIE_BIT (1ULL << 63)
/* Cookie of a Delete step (reply_to = coordinator): this bit | slot in the delete table. */
#define COMFY_DELETE_COOKIE_BIT (1ULL << 62)

/* ---- delivery of final messages (comfy_runner_deliver.c, coordinator thread only) ---- */

comfy_deliveries *comfy_dlv_new(void);
void comfy_dlv_free(comfy_deliveries *d);
/* Sends final (a PATCH @original, owned) for o (moved into the table, left cleared): retried
 * until shortly before the interaction token expires; when it cannot be delivered, the user is
 * told through another route (an edit without the file, a follow-up, a channel message). */
void comfy_dlv_start(comfy_runner *r, comfy_outcome *o, rest_req_msg *final);
/* A MSG_REST_RES with COMFY_FINAL_COOKIE_BIT: the next step. */
void comfy_dlv_on_result(comfy_runner *r, const rest_res_msg *res);
/* Deliveries still waiting for Discord. */
unsigned comfy_dlv_pending(const comfy_runner *r);
/* At the stop deadline: records what is still pending as not delivered and forgets it. */
void comfy_dlv_abandon(comfy_runner *r);
/* The rt_now_ms() time an interaction token received at received_wall_ms stops working. */
uint64_t comfy_token_expiry_ms(const comfy_runner *r, uint64_t received_wall_ms);

/* the worker actor's behaviour (comfy_runner_job.c) */
int comfy_worker_thread_start(rt_actor *self, void *state, unsigned index);
void comfy_worker_on_message(rt_actor *self, void *state, rt_msg *m);
void comfy_worker_thread_exit(rt_actor *self, void *state, unsigned index);

#endif
