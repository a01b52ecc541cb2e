/*
 * Admission limits for generation jobs: per-user concurrent jobs, per-user jobs in a sliding
 * hour, and a global cap on jobs the bot holds (waiting or running). Pure: the caller passes the
 * clock; one thread (the runner's coordinator) owns a table.
 */
#ifndef FLUXBOT_COMFY_LIMITS_H
#define FLUXBOT_COMFY_LIMITS_H

#include <stddef.h>
#include <stdint.h>

typedef enum lim_verdict {
    LIM_OK = 0,
    LIM_USER_CONCURRENT,
    LIM_USER_HOURLY,
    LIM_GLOBAL,
} lim_verdict;

typedef struct lim_table lim_table;

/* 0 for any limit = unlimited. */
lim_table *lim_new(unsigned user_max_concurrent, unsigned user_max_per_hour, unsigned max_total);
void lim_free(lim_table *t);

/* Checks and, when LIM_OK, counts the job (active +1, hour stamp added). retry_after_ms gets how
 * long until the hourly limit frees a slot (LIM_USER_HOURLY), else 0. */
lim_verdict lim_admit(lim_table *t, uint64_t user_id, uint64_t now_ms, uint64_t *retry_after_ms);
/* Counts a job admitted by another process of the bot (one that died; its job was taken over
 * here) without checking any limit: it holds a slot of user_id and of the total from now on,
 * and its start (started_ms) counts in the user's hour when it is within the hour before now.
 * Without this, a user whose job was taken over could start more jobs here than the limits
 * allow. End it with lim_finish like any job. */
void lim_adopt(lim_table *t, uint64_t user_id, uint64_t started_ms, uint64_t now_ms);
/* A counted job ended (any outcome). */
void lim_finish(lim_table *t, uint64_t user_id);
unsigned lim_user_active(const lim_table *t, uint64_t user_id);
unsigned lim_total_active(const lim_table *t);

/* A clear sentence for the user about a refusal. */
void lim_explain(lim_verdict v, const lim_table *t, uint64_t retry_after_ms, char *out,
                 size_t outlen);

#endif
