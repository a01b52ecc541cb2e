/*
 * comfy_outcome: what a finished job amounts to, kept until the user has it. A worker fills it
 * when the job ends; it travels to the coordinator in the done message and into the delivery
 * table; the analytics rows are recorded from it only once the final message's fate is known, so
 * that image_stats says what the user got. Plain data, one owner at a time (moved, never shared).
 */
#ifndef FLUXBOT_COMFY_OUTCOME_H
#define FLUXBOT_COMFY_OUTCOME_H

#include <stdbool.h>
#include <stdint.h>

#include "comfy/cjob.h"
#include "fluxbot/runtime.h"

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
    char reason[64];  /* failures: a short machine word ("node_error", "no_server", ...) */
    char text[700];   /* failures: what the user is told */
    char enhance[12]; /* prompt enhancement: cjob_enhance_name, "" when none was asked for */
    /* Cancelled by its user or a manager (reason "cancelled"): recorded as job_cancelled with
     * who and when (waiting in the bot's line, or running on a worker). */
    bool cancelled;
    bool cancelled_waiting;
    uint64_t cancelled_by;
} comfy_outcome;

/* Fills o from job (copies what it needs). */
void comfy_outcome_fill(comfy_outcome *o, const cjob *job, bool success, uint64_t ms,
                        const char *reason, const char *text);
void comfy_outcome_clear(comfy_outcome *o);
/* Records the image_stats row and the job_finished / job_failed / job_cancelled activity through
 * the analytics writer (NULL: nothing): delivered says whether the user got the result (a
 * finished job whose result could not be posted counts as failed, reason "not_delivered"). A
 * cancelled job's image_stats row is unsuccessful, like a failure; its activity row is
 * job_cancelled {"job","ms","reason":"cancelled","by","stage":"waiting"|"running"}. */
void comfy_outcome_record(rt_actor *analytics, const comfy_outcome *o, bool delivered);

#endif
