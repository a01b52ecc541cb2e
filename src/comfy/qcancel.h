/*
 * qcancel: who may cancel which job, which job /cancel means, and what everyone is told. The
 * runner's coordinator hands it the jobs it holds (waiting in its line or running on a worker)
 * and a request (a Cancel button's job, or /cancel with an optional user); it answers with a
 * decision and the texts. Pure: no threads, no sockets, no Discord JSON (discord/qctl.h builds
 * the bodies).
 *
 * Rules:
 *   - a user cancels their own jobs; managers (administrators, the bot-manager role: decided by
 *     the router and passed as `manager`) cancel anyone's. Checked here against the job's real
 *     owner, not only the owner written in a button's id;
 *   - /cancel without a user means the caller's jobs; with a user, that user's (the caller's
 *     own, or anyone's for a manager);
 *   - /cancel with one job cancels it; with several it offers a choice (newest first), so a
 *     user never cancels a job they did not mean;
 *   - a job already ended (finished, failed, cancelled) cannot be cancelled: the answer says so.
 */
#ifndef FLUXBOT_COMFY_QCANCEL_H
#define FLUXBOT_COMFY_QCANCEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define QCANCEL_CHOICES_MAX 20 /* discord/qctl.h's QCTL_CHOICES_MAX */

/* A job the coordinator holds, in the order it holds them (older first). */
typedef struct qcancel_job {
    uint64_t id, user_id;
    bool running;        /* a worker has it (else it waits in the coordinator's line) */
    bool cancelling;     /* a cancel was already asked of its worker */
    const char *command; /* its command's name, without "/" */
    const char *snippet; /* the start of its prompt ("" = none) */
} qcancel_job;

typedef struct qcancel_req {
    uint64_t job_id;      /* a Cancel button's job; 0 = /cancel */
    uint64_t by_user;     /* who asks */
    uint64_t target_user; /* /cancel: whose jobs; 0 = by_user's */
    bool manager;         /* by_user may cancel anyone's job */
} qcancel_req;

typedef enum qcancel_kind {
    QCANCEL_ONE = 0, /* cancel jobs[index] */
    QCANCEL_CHOOSE,  /* several: offer choice[0..nchoice) (indexes into jobs, newest first) */
    QCANCEL_NONE,    /* /cancel: the target has no job waiting or running */
    QCANCEL_GONE,    /* the button's job is no longer waiting or running */
    QCANCEL_DENIED,  /* someone else's job, and the caller is no manager */
    QCANCEL_ALREADY, /* the job is being cancelled already */
} qcancel_kind;

typedef struct qcancel_decision {
    qcancel_kind kind;
    unsigned index;
    unsigned choice[QCANCEL_CHOICES_MAX];
    unsigned nchoice;
    unsigned more; /* CHOOSE: jobs left out of the choice (over QCANCEL_CHOICES_MAX) */
} qcancel_decision;

void qcancel_decide(const qcancel_job *jobs, unsigned n, const qcancel_req *r,
                    qcancel_decision *out);

/* The answer to the caller for a decision that cancels nothing (NONE, GONE, DENIED, ALREADY),
 * into out. */
void qcancel_refusal_text(const qcancel_decision *d, const qcancel_req *r, char *out, size_t cap);
/* CHOOSE: the numbered list the buttons refer to ("1. /comfy \"a cat\" — running"), and the
 * buttons' labels ("1", "2", ...: label i of cap 8 each). */
void qcancel_choice_text(const qcancel_job *jobs, const qcancel_decision *d, const qcancel_req *r,
                         char *out, size_t cap);
/* The job's own message once cancelled: "Cancelled." for its owner, "Cancelled by <@id>." when
 * someone else did it (a mention that pings nobody: reply.h sends no allowed mentions). */
void qcancel_job_text(uint64_t owner, uint64_t by_user, char *out, size_t cap);
/* The caller's answer once the job is cancelled (done = true) or when it ended first. */
void qcancel_done_text(const qcancel_job *job, uint64_t by_user, bool done, char *out, size_t cap);

#endif
