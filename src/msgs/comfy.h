/*
 * Messages to and from the ComfyUI runner (type numbers 300..399).
 *
 *  router → comfy:  MSG_COMFY_START   a resolved generation job (cjob, built by
 *                                     cjob_from_msg from a comfy_job_msg), sent once Discord
 *                                     accepted the router's defer (type 5)
 *  router → comfy:  MSG_COMFY_BUTTON  a click on a result button, parsed by the router and sent
 *                                     once its ack was accepted (type 5 for Regenerate and
 *                                     Upscale ×2, type 6 for Delete, which the router allowed)
 *  router → comfy:  MSG_COMFY_QUEUE   /queue show, or /queue clear (an administrator's or bot
 *                                     manager's, checked by the router), sent once the
 *                                     ephemeral defer was accepted
 *  router → comfy:  MSG_COMFY_LOOKUP  a result's parameters for the Options dialog (from memory,
 *                                     or the results table after a restart); answered with
 *  comfy → router:  MSG_COMFY_LOOKUP_RES  a copy of the result's job, or why there is none
 *  router → comfy:  MSG_COMFY_CANCEL  a Cancel button or /cancel, sent once the ephemeral defer
 *                                     was accepted (the router checked that a button's presser
 *                                     owns the job or is a manager; the runner checks again
 *                                     against the job it holds)
 *  300..309 are the public messages; 310..399 are the runner's internal ones (comfy_runner.c).
 *
 * The router owns the first answer to every interaction: the runner only edits @original or
 * sends follow-ups. The router validates and resolves the options (cjob_from_msg) before
 * deferring, so users get an immediate ephemeral error; the runner applies its limits and runs
 * the job, and answers a late refusal (a limit, a stop) by deleting the deferred message and
 * posting an ephemeral follow-up. comfy_job_msg is the options as the interaction gave them:
 * the router's input to the resolution, never sent to the runner.
 *
 * Every pointer field is owned by the message and freed by its destructor; build messages with
 * the constructors below so the destructor is always right. Snowflakes are uint64_t.
 */
#ifndef FLUXBOT_MSGS_COMFY_H
#define FLUXBOT_MSGS_COMFY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fluxbot/msgs.h"

enum {
    MSG_COMFY_JOB = 300, /* type of comfy_job_msg (the router's options; not sent) */
    MSG_COMFY_BUTTON = 301,
    MSG_COMFY_QUEUE = 302,
    MSG_COMFY_START = 303,
    MSG_COMFY_LOOKUP = 304,
    MSG_COMFY_LOOKUP_RES = 305,
    MSG_COMFY_CANCEL = 306,
};

struct cjob; /* comfy/cjob.h */
typedef struct rt_actor rt_actor;

typedef enum comfy_kind {
    COMFY_KIND_IMAGE = 0, /* /comfy */
    COMFY_KIND_REDUX,     /* /redux */
    COMFY_KIND_PULID,     /* /pulid */
    COMFY_KIND_VIDEO,     /* /video */
    COMFY_KIND_UPSCALE,   /* the Upscale ×2 button (never sent by the router) */
    COMFY_KIND_COUNT
} comfy_kind;

#define COMFY_MAX_LORAS 5 /* the Options picker keeps up to 5; commands have 3 options */
#define COMFY_MAX_IMAGES 2
#define COMFY_LABEL_MAX 128
#define COMFY_NAME_MAX 100
#define COMFY_CMD_MAX 32     /* a command or option name (Discord: 1..32 ASCII characters) */
#define COMFY_MAX_PATCHES 25 /* Discord: 25 options per command */

/* The value of one declared option that patches node inputs directly ("patch" in the command's
 * declaration, comfy/decl.h), by the option's name: the declaration says where it goes. */
typedef struct comfy_patch {
    char option[COMFY_CMD_MAX + 1];
    bool is_str;
    double num; /* integer, number, boolean (0/1), integer choice */
    char *str;  /* owned: string, string choice */
} comfy_patch;

struct decl_command; /* comfy/decl.h */

/* Where to answer: the interaction that started the work. */
typedef struct comfy_reply_ref {
    uint64_t application_id;
    uint64_t interaction_id;
    char *token; /* owned; the interaction token (valid 15 min for follow-ups) */
} comfy_reply_ref;

/* Who asked, and from where. */
typedef struct comfy_origin {
    uint64_t user_id;
    uint64_t guild_id; /* 0 in DMs */
    uint64_t channel_id;
    uint64_t permissions; /* member.permissions of the clicking/commanding user in the channel */
    char user_name[COMFY_NAME_MAX + 1]; /* display name for the embed ("" = none) */
    uint64_t attachment_size_limit;     /* bytes; 0 = unknown (Discord's default 10 MiB used) */
} comfy_origin;

/* An attachment option as Discord resolved it. Nothing here is trusted. */
typedef struct comfy_attachment {
    uint64_t id;
    char *url;          /* owned */
    char *filename;     /* owned */
    char *content_type; /* owned, may be NULL */
    uint64_t size;      /* declared */
} comfy_attachment;

typedef struct comfy_job_msg {
    rt_msg hdr;
    comfy_kind kind;
    /* The declared command (never freed while the runner lives: reloads retire, not free). */
    const struct decl_command *decl;
    comfy_reply_ref reply;
    comfy_origin origin;
    char *prompt;                         /* owned, may be NULL (redux) */
    char resolution[COMFY_LABEL_MAX + 1]; /* the label the user chose ("" = default) */
    uint32_t width, height;               /* 0 = look the label up */
    bool has_seed;
    uint64_t seed;           /* 0..2^53-1 */
    uint32_t upscale_factor; /* 1..4; 0 = 1 */
    unsigned nloras;
    char loras[COMFY_MAX_LORAS][COMFY_NAME_MAX + 1]; /* display names (or file names) */
    bool has_lora_strength[COMFY_MAX_LORAS];         /* the user gave loras[i] a strength */
    double lora_strength[COMFY_MAX_LORAS];           /* else its loras.json weight is used */
    bool has_strength[2];
    double strength[2]; /* redux: strength1/2; pulid: strength1 */
    unsigned nimages;
    comfy_attachment images[COMFY_MAX_IMAGES];
    unsigned npatches;
    comfy_patch patches[COMFY_MAX_PATCHES];
    uint64_t received_ms; /* rt_wall_ms when the interaction arrived (0 = now) */
    unsigned creativity;  /* prompt enhancement's level 1..10 ("param": "enhance"); 0 = none */
} comfy_job_msg;

/* What a result button asks for (parsed from its custom_id by the router). */
typedef enum comfy_button_action {
    COMFY_BUTTON_REGENERATE = 1,
    COMFY_BUTTON_UPSCALE2,
    COMFY_BUTTON_DELETE, /* the router checked that the clicker may delete */
} comfy_button_action;

typedef struct comfy_start_msg {
    rt_msg hdr;
    struct cjob *job; /* owned (cjob_free); its id is set by the runner */
} comfy_start_msg;

typedef struct comfy_button_msg {
    rt_msg hdr;
    comfy_button_action action;
    uint64_t job_id;       /* the result's job */
    comfy_reply_ref reply; /* the click's own interaction (already acknowledged) */
    comfy_origin origin;   /* the clicking user */
    uint64_t message_id;   /* the message the button is on */
    char *image_url;       /* owned, may be NULL: the message's first attachment URL */
} comfy_button_msg;

typedef struct comfy_queue_msg {
    rt_msg hdr;
    comfy_reply_ref reply;
    comfy_origin origin;
    bool clear; /* /queue clear: cancel every job waiting in the bot's line (a manager's) */
} comfy_queue_msg;

/* Cancel a job: job_id from a Cancel button, or 0 for /cancel (the target user's only job, or
 * a choice among theirs). The answer replaces the router's ephemeral "thinking". */
typedef struct comfy_cancel_msg {
    rt_msg hdr;
    uint64_t job_id;       /* 0: /cancel, pick among target_user's jobs */
    uint64_t target_user;  /* whose jobs /cancel looks at (the caller's own unless a manager) */
    bool manager;          /* the caller may cancel anyone's job (administrator, bot manager) */
    comfy_reply_ref reply; /* the click's or the command's interaction (deferred, ephemeral) */
    comfy_origin origin;   /* who cancels */
} comfy_cancel_msg;

typedef struct comfy_lookup_msg {
    rt_msg hdr;
    uint64_t job_id;
    uint64_t cookie;    /* echoed in the answer */
    rt_actor *reply_to; /* who gets the MSG_COMFY_LOOKUP_RES */
} comfy_lookup_msg;

typedef enum comfy_lookup_status {
    COMFY_LOOKUP_FOUND = 0,
    COMFY_LOOKUP_UNKNOWN, /* never stored, or deleted */
    COMFY_LOOKUP_EXPIRED, /* older than the retention (retention_days says how long) */
    COMFY_LOOKUP_ERROR,   /* the store cannot be read (logged by the runner) */
} comfy_lookup_status;

typedef struct comfy_lookup_res_msg {
    rt_msg hdr;
    uint64_t job_id, cookie;
    comfy_lookup_status status;
    uint32_t retention_days;
    struct cjob *job; /* owned (cjob_free); FOUND only: a copy without reply token */
} comfy_lookup_res_msg;

/* "comfy", "redux", "pulid", "video", "upscale" (inline: pure modules use it without the pool) */
static inline const char *comfy_kind_name(comfy_kind k)
{
    static const char *const names[COMFY_KIND_COUNT] = {"comfy", "redux", "pulid", "video",
                                                        "upscale"};
    return (unsigned)k < COMFY_KIND_COUNT ? names[k] : "?";
}

/* Constructors: they copy every string given; token is required. */
comfy_job_msg *comfy_job_msg_new(comfy_kind kind, uint64_t application_id, uint64_t interaction_id,
                                 const char *token);
void comfy_job_set_prompt(comfy_job_msg *m, const char *prompt);
/* Adds an attachment option (copied); 0, or -1 when COMFY_MAX_IMAGES are present. */
int comfy_job_add_image(comfy_job_msg *m, uint64_t id, const char *url, const char *filename,
                        const char *content_type, uint64_t size);
/* Adds a LoRA name; 0 or -1 when full. */
int comfy_job_add_lora(comfy_job_msg *m, const char *name);
/* Adds a patch value (str copied when not NULL); 0, or -1 when full. */
int comfy_job_add_patch(comfy_job_msg *m, const char *option, const char *str, double num);
/* Copies n patches (strings duplicated) into dst, which must be empty. */
void comfy_patches_copy(comfy_patch *dst, const comfy_patch *src, unsigned n);
void comfy_patches_free(comfy_patch *p, unsigned n);

comfy_button_msg *comfy_button_msg_new(comfy_button_action action, uint64_t job_id,
                                       uint64_t application_id, uint64_t interaction_id,
                                       const char *token);
/* Takes ownership of job. */
comfy_start_msg *comfy_start_msg_new(struct cjob *job);
void comfy_button_set_image_url(comfy_button_msg *m, const char *url);
comfy_queue_msg *comfy_queue_msg_new(uint64_t application_id, uint64_t interaction_id,
                                     const char *token);
comfy_cancel_msg *comfy_cancel_msg_new(uint64_t job_id, uint64_t application_id,
                                       uint64_t interaction_id, const char *token);
comfy_lookup_msg *comfy_lookup_msg_new(uint64_t job_id, uint64_t cookie, rt_actor *reply_to);
/* Takes ownership of job (may be NULL). */
comfy_lookup_res_msg *comfy_lookup_res_msg_new(uint64_t job_id, uint64_t cookie,
                                               comfy_lookup_status status, struct cjob *job);

#endif
