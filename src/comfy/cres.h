/*
 * What the user sees of a job's result: the final message (embed, file, buttons) built with
 * src/discord's reply and embed builders, error texts, and the buttons' custom_ids. Envelopes,
 * flags, allowed_mentions and paths are src/discord's, never built here.
 *
 * custom_id format (≤ 100 chars, parsed strictly):
 *   "fb:regen:<job>"          Regenerate with a new seed
 *   "fb:up2:<job>"            Upscale ×2 of this result
 *   "fb:del:<job>:<owner>"    Delete; the requester's id is in the id itself so the permission
 *                             check still works after a restart (the original lost it)
 *   "fb:opt:<job>:<owner>"    Options: the dialog to change resolution, LoRAs, prompt and seed
 *                             and regenerate (discord/opts_dialog.h); the owner, as for Delete,
 *                             lets the router refuse others at once, even after a restart
 *   "fb:cancel:<job>:<owner>" Cancel a waiting or running job (on its progress message and in
 *                             /cancel's choice); the owner lets the router refuse others at once
 */
#ifndef FLUXBOT_COMFY_RESULT_H
#define FLUXBOT_COMFY_RESULT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "comfy/cjob.h"

#define CRES_PERM_ADMINISTRATOR (1ULL << 3)
#define CRES_PERM_MANAGE_MESSAGES (1ULL << 13)

typedef enum cres_action {
    CRES_NONE = 0,
    CRES_REGENERATE,
    CRES_UPSCALE2,
    CRES_DELETE,
    CRES_OPTIONS,
    CRES_CANCEL,
} cres_action;

/* Writes a custom_id; returns 0 or -1 if it does not fit. */
int cres_custom_id(cres_action a, uint64_t job_id, uint64_t owner_id, char *out, size_t outlen);
/* Parses one; 0 with fields set, or -1 for anything not ours or malformed. */
int cres_parse_custom_id(const char *s, cres_action *a, uint64_t *job_id, uint64_t *owner_id);

/* True when user may delete a result requested by owner. */
bool cres_may_delete(uint64_t user_id, uint64_t owner_id, uint64_t permissions);

#define CRES_MAX_FILES 10 /* Discord: attachments per message */

typedef struct cres_result {
    const cjob *job;
    const char *filename; /* attachment name, e.g. "fluxbot_42.png" */
    /* The other files of a batch (attachments 1..nmore, below the embed's image); NULL: none */
    const char *const *more_files;
    unsigned nmore; /* at most CRES_MAX_FILES - 1 */
    bool is_video;
    bool is_image;        /* embed can show it with attachment://filename */
    bool upscale_offered; /* an upscale workflow is installed: offer Upscale ×2 on images (a
                             button that can only answer "not set up" is never shown) */
    uint64_t generation_ms;
    const char *server_label; /* "server 1" — shown only when several servers exist (NULL) */
    const char *note; /* the message's content above the embed (e.g. why the file is missing);
                         NULL: none */
} cres_result;

/* PATCH @original body for the finished job: embed + components + attachments[{id:0}], built
 * with src/discord's reply and embed builders (limits, no pings). malloc'd. Text-only edits,
 * callbacks and follow-ups are reply.h's (reply_edit_text_json, ...). */
char *cres_final_payload(const cres_result *r);

/* User-facing failure text for a job: "❌ Generation failed at node 8 (VAEDecode): …". */
void cres_error_text(const char *what, char *out, size_t outlen);

#endif
