/*
 * opts_state: the open Options dialogs of results (discord/opts_dialog.h renders them), kept in
 * the router between interactions. Pure: a bounded table behind one mutex (the router's
 * threads share it), no sockets, no actor; every call takes the time, so tests drive expiry.
 *
 * A dialog is opened by a press of Options (opts_state_open), filled once the runner has sent
 * the result's parameters (opts_state_attach), changed by the dialog's components and modals
 * (opts_state_apply) and turned into a new job (opts_state_job). What a dialog holds:
 * the result's job (the base), the resolution label, up to OPTS_DIALOG_LORAS_MAX LoRAs with their
 * strengths (kept across LoRA pages), the prompt, negative prompt and seed, the page shown.
 *
 * Expiry: OPTS_STATE_TTL_MS after its last use (and never across a restart: the table is memory).
 * Capacity: when full, expired dialogs go first, then the least recently used one; a dialog
 * gone for either reason answers OPTS_STATE_GONE, which the router turns into
 * OPTS_DIALOG_TEXT_EXPIRED. Only the user who opened a dialog may use it (OPTS_STATE_WRONG_USER
 * otherwise).
 */
#ifndef FLUXBOT_ROUTER_OPTS_STATE_H
#define FLUXBOT_ROUTER_OPTS_STATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "comfy/cjob.h"
#include "discord/opts_dialog.h"

#define OPTS_STATE_TTL_MS (15u * 60u * 1000u)
/* A declaration's text option of this name (a "patch", like the shipped /video's) is the
 * dialog's negative prompt, as the mapping's negative_prompt parameter is for a workflow that
 * maps one: the dialog shows either, and the new job carries the value where the result had it. */
#define OPTS_STATE_NEGATIVE_OPTION "negative_prompt"
#define OPTS_STATE_TOKEN_MAX 512

typedef struct opts_state opts_state;

typedef enum opts_state_status {
    OPTS_STATE_OK = 0,
    OPTS_STATE_GONE,       /* unknown sid: expired, evicted, or from before a restart */
    OPTS_STATE_WRONG_USER, /* another user than the dialog's */
    OPTS_STATE_LOADING,    /* the result's parameters have not arrived yet */
    OPTS_STATE_REFUSED,    /* the change was refused; view->note says why, the state is unchanged */
} opts_state_status;

/* capacity 0 = 256; ttl_ms 0 = OPTS_STATE_TTL_MS. NULL when out of memory. */
opts_state *opts_state_new(unsigned capacity, uint64_t ttl_ms);
void opts_state_free(opts_state *st);
unsigned opts_state_count(opts_state *st);

/* A new dialog of user for result job_id, answered through the interaction (app_id, token)
 * whose deferred message will show it. Returns its sid (never 0). */
uint64_t opts_state_open(opts_state *st, uint64_t user_id, uint64_t job_id, uint64_t app_id,
                         const char *token, uint64_t now_ms);

/* The result's parameters arrived: job (taken, freed here on failure) becomes the base and
 * the dialog's settings start from it. OPTS_STATE_OK with *view, the opening interaction's app id
 * and token (to edit its message); OPTS_STATE_GONE when the dialog went meanwhile. */
opts_state_status opts_state_attach(opts_state *st, uint64_t sid, cjob *job,
                                    const cjob_catalog *cat, uint64_t now_ms,
                                    opts_dialog_view *view, uint64_t *app_id,
                                    char token[OPTS_STATE_TOKEN_MAX + 1]);
/* The parameters will not come (unknown result, store error): the dialog is removed; its
 * opening interaction is given back for the answer. False when it was already gone. */
bool opts_state_drop(opts_state *st, uint64_t sid, uint64_t *app_id,
                     char token[OPTS_STATE_TOKEN_MAX + 1]);

/* One use of a dialog: a component or a modal submit, as parsed by opts_dialog_parse_id. */
typedef struct opts_state_input {
    uint64_t sid, user_id;
    opts_dialog_verb verb;
    unsigned page;             /* lora, prev, next */
    const char *const *values; /* the select's values (res: one label; lora: names) */
    unsigned nvalues;
    const char *prompt, *negative;               /* modal: NULL when the modal had no such field */
    const char *seed;                            /* modal: "" or NULL = a new random seed */
    const char *strength[OPTS_DIALOG_LORAS_MAX]; /* smodal: "s0".."s4" */
} opts_state_input;

/* Applies a change (res, lora, prev, next, modal, smodal) or only reads the dialog (edit,
 * str, go) into *view. Each use extends the dialog's life. OPTS_STATE_REFUSED leaves the settings
 * as they were with view->note saying why (more than OPTS_DIALOG_LORAS_MAX LoRAs, a LoRA or
 * resolution no longer offered, a seed or strength out of range, a prompt too long or empty). */
opts_state_status opts_state_apply(opts_state *st, const opts_state_input *in,
                                   const cjob_catalog *cat, uint64_t now_ms,
                                   opts_dialog_view *view);

/* The new job of the dialog: the base with the dialog's settings (LoRA files and trigger words
 * looked up again in the current catalogue), answering through reply, for origin (the user who
 * pressed Regenerate), with random_seed when the dialog has none. OPTS_STATE_OK with *out (the
 * caller owns it) and *view; else as opts_state_apply (OPTS_STATE_REFUSED: view->note). */
opts_state_status opts_state_job(opts_state *st, uint64_t sid, uint64_t user_id,
                                 const cjob_catalog *cat, const comfy_reply_ref *reply,
                                 const comfy_origin *origin, uint64_t random_seed, uint64_t now_ms,
                                 cjob **out, opts_dialog_view *view);

#endif
