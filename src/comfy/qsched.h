/*
 * qsched: the order in which the runner's coordinator hands waiting jobs to free workers.
 * Pure: no threads, no sockets; the coordinator owns one and calls it from its thread only.
 *
 * The rule, for each free worker:
 *   1. the highest priority level that has a waiting job goes first (high, then normal, then
 *      low: an administrator's /priority, read from the moderation state when jobs are
 *      dispatched, so a change applies to jobs already waiting);
 *   2. within that level, users take turns: the user whose last job was handed out longest
 *      ago goes first (a user never served, or forgotten, before anyone served; ties by whose
 *      oldest waiting job came first), so a burst of one user's jobs waits behind one job of
 *      each other user instead of starving them;
 *   3. that user's oldest waiting job is the one taken.
 * Which user was served when is remembered for at most QSCHED_USERS_MAX users (the least
 * recently served are forgotten first; a forgotten user counts as never served, which can only
 * move them forward).
 */
#ifndef FLUXBOT_COMFY_QSCHED_H
#define FLUXBOT_COMFY_QSCHED_H

#include <stdint.h>

#define QSCHED_USERS_MAX 4096

typedef enum qsched_level {
    QSCHED_HIGH = 0,
    QSCHED_NORMAL = 1,
    QSCHED_LOW = 2,
} qsched_level;

/* A waiting job, as the coordinator lists them (in arrival order). */
typedef struct qsched_job {
    uint64_t user_id;
    qsched_level level;
} qsched_job;

typedef struct qsched qsched;

qsched *qsched_new(void);
void qsched_free(qsched *s);

/* The index of the job to hand out next among w[0..n) (arrival order), or -1 when n is 0. */
int qsched_next(const qsched *s, const qsched_job *w, unsigned n);
/* user's job was handed to a worker (their turn is used). */
void qsched_served(qsched *s, uint64_t user);
/* The order the jobs would be handed out in if nothing changed: order[k] = the index of the
 * k-th (order has room for n). The position a waiting job shows is its k + 1. */
void qsched_order(const qsched *s, const qsched_job *w, unsigned n, unsigned *order);

/* "high", "normal", "low"; -1 for anything else. */
int qsched_level_parse(const char *s);
const char *qsched_level_name(qsched_level l);

#endif
