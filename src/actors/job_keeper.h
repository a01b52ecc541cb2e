/*
 * job_keeper: the actor ("jobs") that keeps this process's accepted generation jobs durable in
 * PostgreSQL (pg/pg_lease.h) when db_url is a postgresql:// URL, and takes over the jobs of
 * processes that died. It owns its database connection and its one thread: every database
 * round trip happens here, never on the router or on the runner's coordinator, and the runner's
 * workers wait on it only for the delivery claim (bounded).
 *
 *   runner coordinator ── accept (the job's row) ────────────────► keeper ── INSERT
 *   runner worker ─────── submitted (server, prompt_id) ─────────► keeper ── UPDATE (fenced)
 *   runner worker ─────── claim before the final message (waits) ─► keeper ── UPDATE (fenced)
 *   runner ────────────── finish ────────────────────────────────► keeper ── DELETE (fenced)
 *   timer, every lease_ms / 3: renew this process's rows; a row missing from the renewal was
 *   taken over (this process was paused or cut off): the job is marked lost here, and its
 *   worker drops it without a word to the user. Then rows of other processes whose lease
 *   expired are taken (up to takeover_batch per tick) and each is sent to the target actor as
 *   MSG_JOB_KEEPER_TAKEOVER.
 *
 * Speaking to the user: a job's Discord messages may be sent only while job_keeper_may_speak
 * says so: not lost, and the last renewal the database confirmed is younger than the lease
 * less a margin (measured on this process's monotonic clock from when the renewal was sent,
 * so it errs early). A process resumed after SIGSTOP thus says nothing before its first
 * renewal tells it which jobs are still its own. The final message additionally needs
 * job_keeper_claim: a fenced UPDATE in the database, so of an old and a new owner only one is
 * ever cleared to deliver.
 *
 * Database outages: a job whose row could not be written is run as in a single process (no
 * lease, nobody else can take it). While renewals fail, jobs keep running; progress edits stop
 * once the lease may have run out, and a delivery claim that cannot be asked is granted while
 * the lease is still valid locally, else retried until the database answers or the token
 * deadline is near (then granted: an identical second edit of the same message is preferred to
 * losing the result).
 *
 * On stop, rows still held (jobs the runner could not finish) are released at once
 * (expires now), so another process takes them over without waiting for the lease.
 * Thread-safety: every job_keeper_* function may be called from any thread.
 */
#ifndef FLUXBOT_JOB_KEEPER_H
#define FLUXBOT_JOB_KEEPER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config/fb_config.h"
#include "fluxbot/runtime.h"
#include "pg/pg_lease.h"

#define JOB_KEEPER_ACTOR_NAME "jobs"

enum {
    MSG_JOB_KEEPER_OP = 320,       /* internal: an operation for the keeper's thread */
    MSG_JOB_KEEPER_TAKEOVER = 321, /* keeper → target: job_keeper_takeover_msg */
};

/* A job taken over from a process whose lease expired; the receiver owns row (its params). The
 * job is this process's from now on: it must end in job_keeper_finish, or in a release. */
typedef struct job_keeper_takeover_msg {
    rt_msg hdr;
    pg_lease_job row;
    uint64_t taken_ms; /* rt_now_ms() when the database gave it to this process */
} job_keeper_takeover_msg;

typedef struct job_keeper_config {
    const char *url;         /* postgresql:// URL (required) */
    const char *owner;       /* this process, unique among processes and restarts (required) */
    unsigned lease_ms;       /* 0 = 10000 */
    unsigned timeout_ms;     /* per statement; 0 = 3000 */
    unsigned takeover_batch; /* rows taken per tick at most; 0 = 4 */
    unsigned lane_capacity;  /* 0 = 256 */
} job_keeper_config;

typedef struct job_keeper job_keeper;

/* Fills out (zeroed first) from the configuration: url (db_url when it is a postgresql:// URL,
 * else NULL: no keeper), lease_ms (job_lease_ms), takeover_batch (runner_threads: no more
 * jobs are taken per tick than the workers can start), lane_capacity (mailbox_capacity). The
 * caller sets owner (this process's identity, not configuration). */
void job_keeper_config_from(job_keeper_config *out, const fb_config *cfg);

/* Adds the actor to sys (create it before the actors that use it, so it stops after them).
 * NULL when the configuration is unusable. */
job_keeper *job_keeper_new(rt_system *sys, const job_keeper_config *cfg);
/* Where taken-over jobs go (the runner's coordinator); set before rt_system_start. Without a
 * target, nothing is taken over. */
void job_keeper_set_target(job_keeper *k, rt_actor *target);
rt_actor *job_keeper_actor(job_keeper *k);
void job_keeper_free(job_keeper *k);
unsigned job_keeper_lease_ms(const job_keeper *k);

/* A job's key: its interaction ("ix:<id>"), since one interaction makes at most one job, so a
 * key is unique across the bot's processes. False (out "") for interaction id 0. */
bool job_keeper_key(uint64_t interaction_id, char out[PG_LEASE_KEY_MAX]);

/* A new job (row->key unique per interaction; row->params moves into the keeper, left NULL).
 * Returns at once; the row is written on the keeper's thread. */
void job_keeper_accept(job_keeper *k, pg_lease_job *row);
/* The job was submitted as prompt_id on server (a base URL). Returns at once. */
void job_keeper_submitted(job_keeper *k, const char *key, const char *server,
                          const char *prompt_id);
/* Blocks until the keeper has asked the database whether this process may deliver the job's
 * final message (at most about timeout_ms; token_deadline_ms is the rt_now_ms() time the
 * interaction token stops working). True: deliver. False: the job is another process's now;
 * say nothing. A key the keeper does not hold (its row was never written) is true. */
bool job_keeper_claim(job_keeper *k, const char *key, uint64_t token_deadline_ms);
/* The job ended here (delivered, failed, or dropped as lost): its row goes. */
void job_keeper_finish(job_keeper *k, const char *key);
/* May the job's messages (progress, final) be sent now? See the header comment. */
bool job_keeper_may_speak(job_keeper *k, const char *key);
/* True once the accepted job's row was written, or could not be (then it runs as in one process):
 * a job is sent to ComfyUI only then, so that a job on a server always has its row. */
bool job_keeper_settled(job_keeper *k, const char *key);
/* True once the job was found taken over by another process: drop it silently. */
bool job_keeper_lost(job_keeper *k, const char *key);

typedef struct job_keeper_counters {
    uint64_t accepted, written, write_failed;
    uint64_t renewals, renew_failed;
    uint64_t taken_over; /* jobs this process took from others */
    uint64_t lost;       /* jobs of this process found taken over by another */
    uint64_t claims_granted, claims_refused;
    uint64_t finished, released;
    unsigned held; /* jobs currently held */
} job_keeper_counters;

void job_keeper_counters_get(job_keeper *k, job_keeper_counters *out);

#endif
