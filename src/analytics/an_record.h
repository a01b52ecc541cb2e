/*
 * an_record: the analytics producer API. Any thread records events without blocking and
 * without losing them: each call builds an event message (msgs/analytics_msgs.h), numbers it
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

#include "fluxbot/runtime.h"

typedef struct an_command_event {
    const char *command; /* "comfy", "stats", "reset_stats", "button:regenerate", ... */
    uint64_t user_id;
    uint64_t guild_id; /* 0 in DMs */
    uint64_t channel_id;
    uint64_t ts_ms;
    uint32_t exec_ms; /* interaction received → answered */
    bool success;
} an_command_event;

typedef struct an_image_event {
    uint64_t user_id;
    uint64_t guild_id;
    const char *prompt;
    const char *resolution; /* "1024x1024" */
    const char *loras;      /* comma-separated display names, "" when none */
    double upscale_factor;  /* 1 = none */
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
int an_record_moderation(rt_actor *writer, const an_moderation_event *e);

/* Asks for a reset: every event recorded before this call is deleted, every later one kept.
 * The writer answers reply_to (may be NULL) with MSG_AN_RESET_DONE (src/msgs/analytics_msgs.h)
 * carrying cookie. 0 or -RT_ESTOPPED. */
int an_request_reset(rt_actor *writer, rt_actor *reply_to, uint64_t cookie);
/* Asks the writer to commit everything it accepted from this thread so far (and anything else
 * it holds); it answers MSG_AN_FLUSH_DONE. 0 or -RT_ESTOPPED. */
int an_request_flush(rt_actor *writer, rt_actor *reply_to, uint64_t cookie);

#endif
