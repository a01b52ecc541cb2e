/*
 * an_record: the analytics producer API. Any thread records events without blocking and
 * without losing them: each call builds an event message (msgs/an.h), numbers it
 * from the process-wide sequence and sends it to the analytics writer actor
 * (actors/analytics_writer.h) with rt_send_spill, so a full mailbox spills to the overflow list,
 * which the writer drains. No writer state is touched here.
 *
 * String arguments are copied; callers keep ownership of what they pass.
 * ts_ms is Unix epoch milliseconds UTC (0 = now).
 */
#ifndef FLUXBOT_AN_RECORD_H
#define FLUXBOT_AN_RECORD_H

#include <stdbool.h>
#include <stdint.h>

#include "analytics/an_event.h"
#include "fluxbot/runtime.h"

typedef struct an_command_event {
    const char *command;     /* "comfy", "stats", "reset_stats", "button:regenerate", ... */
    an_cmd_kind kind;        /* slash command (the default, 0), button, autocomplete, ... */
    uint64_t interaction_id; /* lets an_record_outcome correct success later (0 = none) */
    uint64_t user_id;
    uint64_t guild_id; /* 0 in DMs */
    uint64_t channel_id;
    uint64_t ts_ms;
    uint32_t exec_ms; /* interaction received → first answer */
    bool success;     /* as far as known when answered; see an_record_outcome */
} an_command_event;

typedef struct an_image_event {
    uint64_t user_id;
    uint64_t guild_id;
    const char *prompt;
    const char *resolution; /* the ratios.json label the user picked ("1:1 [1024x1024 square]") */
    uint32_t width, height; /* the delivered pixel size (0 = unknown) */
    const char *loras;      /* JSON list of LoRA display names, "[]" when none */
    double upscale_factor;  /* relative to the label's size; 1 = none */
    uint32_t generation_ms;
    bool is_video;
    const char *generation_type; /* "standard", "redux", "pulid", "video", "upscale" */
    bool success;
    uint64_t ts_ms;
} an_image_event;

typedef struct an_activity_event {
    uint64_t user_id;
    uint64_t guild_id;
    const char *action;  /* "job_queued", "job_started", "job_finished", "job_failed", ... */
    const char *details; /* free text or JSON, may be NULL */
    uint64_t ts_ms;
} an_activity_event;

/* A delivered (or failed) result's parameters, for Regenerate/Upscale after a restart
 * (an_results.h). params is the job as cjob_to_json writes it. Not statistics: a reset keeps
 * it, and result_retention_ms bounds the table. */
typedef struct an_result_event {
    uint64_t job_id;
    uint64_t user_id;
    uint64_t channel_id;
    const char *params;
    const char *view_url; /* where the runner downloads it from (never shown to users) */
    bool success;
    bool is_image;
    uint64_t ts_ms;
} an_result_event;

/* The Discord message that shows a result, once Discord confirmed the edit. */
typedef struct an_result_msg_event {
    uint64_t job_id;
    uint64_t user_id;
    uint64_t channel_id;
    uint64_t message_id;
    const char *attachment_url; /* the CDN URL of the attached file, may be NULL */
    uint64_t ts_ms;
} an_result_msg_event;

/* A moderation state change (filters, warnings, bans): op and details_json as
 * mod_store.h defines them. Ordered with every other event; never deleted by a reset. */
typedef struct an_moderation_event {
    uint64_t user_id; /* the user the change is about (0 for filter rules) */
    uint64_t guild_id;
    const char *op;
    const char *details_json;
    uint64_t ts_ms;
} an_moderation_event;

/* 0, or -RT_ESTOPPED when the writer no longer accepts events (after shutdown, or writer is
 * NULL because analytics are off). */
int an_record_command(rt_actor *writer, const an_command_event *e);
int an_record_image(rt_actor *writer, const an_image_event *e);
int an_record_activity(rt_actor *writer, const an_activity_event *e);
/* The outcome of the interaction interaction_id, known later than its command_usage row (a
 * /comfy whose job failed, a button the runner refused): the row's success becomes `success`.
 * It goes through the same ordered stream as the row; whichever of the two reaches the writer
 * first, the row ends up with the outcome. 0 or -RT_ESTOPPED. */
int an_record_outcome(rt_actor *writer, uint64_t interaction_id, bool success);
int an_record_result(rt_actor *writer, const an_result_event *e);
int an_record_result_msg(rt_actor *writer, const an_result_msg_event *e);
int an_record_moderation(rt_actor *writer, const an_moderation_event *e);

/* One change of the moderation state (moderation/mod_state.h: a mod_record_fn, ctx the writer's
 * rt_actor): a user_activity row when the change says activity (op is its action_type), else
 * a moderation event. The one place that converts a mod_record, so the router and the tests that
 * stand in for it record exactly the same rows. 0 or -RT_ESTOPPED. */
struct mod_record;
int an_record_mod_change(void *writer, const struct mod_record *m);

/* Asks for a reset: every event recorded before this call is deleted, every later one kept.
 * The writer answers reply_to (may be NULL) with MSG_AN_RESET_DONE (src/msgs/an.h)
 * carrying cookie. 0 or -RT_ESTOPPED. */
int an_request_reset(rt_actor *writer, rt_actor *reply_to, uint64_t cookie);
/* Asks the writer to commit everything it accepted from this thread so far (and anything else
 * it holds); it answers MSG_AN_FLUSH_DONE. 0 or -RT_ESTOPPED. */
int an_request_flush(rt_actor *writer, rt_actor *reply_to, uint64_t cookie);

#endif
