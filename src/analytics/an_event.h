/*
 * One analytics event (a command use, an image/video generation, a user activity) as the
 * writer and the store see it: fixed fields plus bounded text copied into a single heap block.
 *
 * Ownership: an_event_* constructors copy every string into ev->buf; an_event_clear frees it.
 * Text longer than the per-field limit is cut at a UTF-8 character boundary, so a hostile or
 * buggy producer can neither blow up the database nor store broken UTF-8.
 */
#ifndef FLUXBOT_AN_EVENT_H
#define FLUXBOT_AN_EVENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum an_event_kind {
    AN_EV_COMMAND = 1,  /* row in command_usage */
    AN_EV_IMAGE = 2,    /* row in image_stats */
    AN_EV_ACTIVITY = 3, /* row in user_activity */
    /* A change of moderation state (src/moderation/mod_store.h): action = the operation,
     * details = its arguments as JSON. Not statistics: no rollup, and a reset keeps it. */
    AN_EV_MODERATION = 4,
    AN_EV_OUTCOME = 5,    /* the final success of an earlier command row (by interaction id) */
    AN_EV_RESULT = 6,     /* a delivered result's parameters: row in results (see an_results.h) */
    AN_EV_RESULT_MSG = 7, /* the Discord message that shows a result: results' message columns */
} an_event_kind;

/* True for the events /reset_stats deletes (usage statistics); false for results and
 * moderation changes. */
static inline bool an_event_is_statistic(an_event_kind k)
{
    return k == AN_EV_COMMAND || k == AN_EV_IMAGE || k == AN_EV_ACTIVITY || k == AN_EV_OUTCOME;
}

/* What kind of interaction a command_usage row is (column `kind`). Only AN_CMD_SLASH rows are
 * "commands" in /stats (Total Commands, Popular Commands); the others are recorded but never
 * listed (buttons get their own count). */
typedef enum an_cmd_kind {
    AN_CMD_SLASH = 0,    /* "command": a slash command the bot knows */
    AN_CMD_BUTTON,       /* "button": a component press */
    AN_CMD_AUTOCOMPLETE, /* "autocomplete" */
    AN_CMD_MODAL,        /* "modal": a modal submit */
    AN_CMD_UNKNOWN,      /* "unknown": unknown command name, unsupported or unreadable */
    AN_CMD_KIND_COUNT
} an_cmd_kind;

/* The column text of a kind ("command", "button", ...); "unknown" for out-of-range values. */
const char *an_cmd_kind_name(an_cmd_kind k);
/* The kind of a column text; NULL or anything unknown -> AN_CMD_UNKNOWN. */
an_cmd_kind an_cmd_kind_parse(const char *s);

/* Per-field byte limits (text beyond is cut). */
#define AN_MAX_NAME 64       /* command, action, generation type */
#define AN_MAX_RESOLUTION 96 /* "16:9 [1920x1080 landscape]" and friends */
#define AN_MAX_PROMPT 6000   /* Discord caps a string option at 6000 characters */
#define AN_MAX_LORAS 2048    /* a JSON list of names, e.g. ["Anime Style"] */
#define AN_MAX_DETAILS 4096
#define AN_MAX_PARAMS 65536 /* a result's parameters as JSON (prompt included) */
#define AN_MAX_URL 2048

typedef struct an_event {
    an_event_kind kind;
    uint64_t seq;  /* writer-assigned order, see analytics_writer.h (0 when not assigned) */
    int64_t ts_ms; /* Unix epoch milliseconds, UTC */
    uint64_t user_id;
    uint64_t guild_id;    /* 0 = none (DM) */
    uint64_t channel_id;  /* commands only; 0 = none */
    bool success;         /* commands and images */
    uint32_t duration_ms; /* command: execution time; image: generation time */
    /* AN_EV_COMMAND (and AN_EV_OUTCOME: interaction_id + success) */
    const char *command;
    an_cmd_kind cmd_kind;
    uint64_t interaction_id; /* 0 = none; the key an AN_EV_OUTCOME updates by */
    /* AN_EV_IMAGE */
    const char *prompt;
    const char *resolution;
    const char *loras;
    const char *generation_type;
    double upscale_factor;
    uint32_t width, height; /* delivered pixel size; 0 = unknown */
    bool is_video;
    /* AN_EV_ACTIVITY */
    const char *action;
    const char *details; /* may be NULL */
    /* AN_EV_RESULT, AN_EV_RESULT_MSG (user_id, channel_id, success, ts_ms as the others) */
    uint64_t job_id;
    uint64_t message_id; /* 0 = unknown */
    bool is_image;
    const char *params; /* JSON, see cjob_to_json */
    const char *url;    /* RESULT: ComfyUI's copy; RESULT_MSG: the Discord attachment */
    /* Owns the text every const char * above points into (NULL when all are NULL). */
    char *buf;
} an_event;

/* Text inputs of an event; NULL fields are stored as NULL (or "" where the column needs it). */
typedef struct an_event_text {
    const char *command;
    const char *prompt;
    const char *resolution;
    const char *loras;
    const char *generation_type;
    const char *action;
    const char *details;
    const char *params;
    const char *url;
} an_event_text;

/* Copies the text of t into ev (one allocation), cutting each field to its limit.
 * Any previous ev->buf is NOT freed (call on a fresh or cleared event). Aborts on OOM. */
void an_event_set_text(an_event *ev, const an_event_text *t);
/* Frees ev->buf and zeroes the event. */
void an_event_clear(an_event *ev);

/* Length of s cut to at most max bytes without splitting a UTF-8 sequence. */
size_t an_utf8_cut(const char *s, size_t max);

#endif
