/*
 * pg_lease: accepted generation jobs as rows in PostgreSQL, each under a lease its owning
 * process renews, so that the jobs of a process that dies (kill -9, a lost host) are taken over
 * by another process instead of being lost with it.
 *
 * A row (table fluxbot_jobs) holds what another process needs to finish the job: its state
 * (accepted → submitted → delivering; the row is deleted when the job ends), the owner, the
 * ComfyUI server and prompt_id once submitted, the job's parameters (cjob_to_json), the
 * interaction's application id, id and token and when it was received (the token works for
 * 15 minutes from then), the requester, and the lease: expires_ms and a generation number.
 *
 * Fencing: the generation grows by one at every takeover, and every state change names the
 * generation its caller holds (WHERE owner = me AND gen = g). An owner that was only slow
 * (paused, swapped out, cut off from the database) and comes back after its job was taken over
 * gets PG_LEASE_FENCED for its next change, and must then drop the job without telling the user
 * anything: the new owner does. The claim of delivery is such a change, made right before the
 * final message is sent, so of two owners at most one is ever cleared to deliver.
 *
 * All times are the database server's clock (the machines' clocks do not matter); a lease has
 * expired when expires_ms < the server's now. Not thread-safe: a pg_lease owns one connection
 * and belongs to one thread (the job keeper's, never a generation or router thread). Every call
 * is bounded by timeout_ms; on an error the connection is dropped and reopened by the next call.
 */
#ifndef FLUXBOT_PG_LEASE_H
#define FLUXBOT_PG_LEASE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct pg_lease pg_lease;

typedef struct pg_lease_cfg {
    const char *url;     /* postgresql:// URL (required) */
    const char *owner;   /* this process, unique among the bot's processes and restarts */
    unsigned lease_ms;   /* a row not renewed for this long may be taken over; 0 = 10000 */
    unsigned timeout_ms; /* connect and per-statement bound; 0 = 3000 */
} pg_lease_cfg;

/* NULL when the URL is not a postgresql:// URL or the owner is empty or too long. Connects on
 * first use. */
pg_lease *pg_lease_new(const pg_lease_cfg *cfg);
void pg_lease_free(pg_lease *l);

typedef enum pg_lease_state {
    PG_LEASE_ACCEPTED = 0, /* admitted, not yet on a ComfyUI server */
    PG_LEASE_SUBMITTED,    /* POST /prompt accepted: server and prompt_id are set */
    PG_LEASE_DELIVERING,   /* the owner was cleared to send the final message */
} pg_lease_state;

const char *pg_lease_state_name(pg_lease_state s);

#define PG_LEASE_KEY_MAX 64
#define PG_LEASE_OWNER_MAX 128
#define PG_LEASE_SERVER_MAX 512
#define PG_LEASE_PID_MAX 64
#define PG_LEASE_TOKEN_MAX 512
#define PG_LEASE_PARAMS_MAX (256u * 1024)

/* One job row. Strings are bounded copies; params is malloc'd (pg_lease_job_clear). */
typedef struct pg_lease_job {
    char key[PG_LEASE_KEY_MAX];
    pg_lease_state state;
    int64_t gen;
    char owner[PG_LEASE_OWNER_MAX];
    char prev_owner[PG_LEASE_OWNER_MAX]; /* takeovers: whom it was taken from */
    char server[PG_LEASE_SERVER_MAX];    /* ComfyUI base URL, "" before submission */
    char prompt_id[PG_LEASE_PID_MAX];
    char *params; /* cjob_to_json text */
    uint64_t app_id, interaction_id;
    char token[PG_LEASE_TOKEN_MAX];
    uint64_t received_ms; /* wall clock, when the interaction arrived */
    uint64_t user_id, guild_id, channel_id;
    unsigned takeovers;
    int64_t expires_ms; /* database clock */
} pg_lease_job;

void pg_lease_job_clear(pg_lease_job *j);

typedef enum pg_lease_result {
    PG_LEASE_OK = 0,
    PG_LEASE_FENCED, /* the row is gone or another owner or generation holds it */
    PG_LEASE_ERROR,  /* the database could not be asked: err */
} pg_lease_result;

/* Stores a new job (key, params, reply, requester, received_ms; state, owner and generation are
 * set here: accepted, this process, 1) under a fresh lease. A key already present is not
 * overwritten (FENCED): keys are unique per interaction, so that is a duplicate. */
pg_lease_result pg_lease_insert(pg_lease *l, const pg_lease_job *j, char *err, size_t errlen);

/* The job was submitted to server as prompt_id (a resubmission updates both). */
pg_lease_result pg_lease_set_submitted(pg_lease *l, const char *key, int64_t gen,
                                       const char *server, const char *prompt_id, char *err,
                                       size_t errlen);

/* Clears this owner to send the final message: from here only gen may deliver. */
pg_lease_result pg_lease_claim_delivery(pg_lease *l, const char *key, int64_t gen, char *err,
                                        size_t errlen);

/* The job ended (delivered, failed, given up): its row goes. */
pg_lease_result pg_lease_finish(pg_lease *l, const char *key, int64_t gen, char *err,
                                size_t errlen);

/* Gives the job up without ending it (this process is stopping and did not finish it): its
 * lease expires now, so another process takes it over at its next look. */
pg_lease_result pg_lease_release(pg_lease *l, const char *key, int64_t gen, char *err,
                                 size_t errlen);

/* Extends the lease of every row this process owns. keys/gens (cap entries) receive the rows
 * that were renewed, *n their count: a job of this process missing from them was taken over.
 * 0, or -1 with err. */
int pg_lease_renew(pg_lease *l, char (*keys)[PG_LEASE_KEY_MAX], int64_t *gens, size_t cap,
                   size_t *n, char *err, size_t errlen);

/* Takes over up to max rows of other processes whose lease has expired, oldest interaction
 * first: each gets this owner, a fresh lease and gen + 1, in one transaction that skips rows
 * another process is taking at the same moment (so a row goes to one taker). *out (malloc'd
 * array of *n rows, pg_lease_jobs_free) gets them with prev_owner set. 0, or -1 with err. */
int pg_lease_take_expired(pg_lease *l, unsigned max, pg_lease_job **out, size_t *n, char *err,
                          size_t errlen);
void pg_lease_jobs_free(pg_lease_job *v, size_t n);

/* Rows taken over that could not be read (a value over this build's bounds): deleted, since
 * no process could run them, and counted here for the keeper to report. */
unsigned long pg_lease_unreadable(const pg_lease *l);

/* Rows held (owner NULL: by anyone), expired or not; -1 on error. For operators and tests. */
long pg_lease_count(pg_lease *l, const char *owner, char *err, size_t errlen);

#endif
