/*
 * opts_dialog: what Discord shows of a result's Options dialog — the ephemeral message (the
 * settings in an embed, a resolution select, a LoRA multi-select in pages of 25 with Previous
 * and Next, the buttons), the two modals (prompt, negative prompt and seed; LoRA strengths),
 * the dialog's custom_ids and the texts of its refusals. Pure: a view in, JSON out. The dialog's
 * state lives in the router (router/opts_state.h), which fills the view.
 *
 * custom_id format (<= 100 characters, parsed strictly):
 *   "fo:<sid>:<verb>"         sid: the dialog's 16 lowercase hex digits; verb: res (the
 *                             resolution select), edit (opens the prompt modal), str (opens the
 *                             strengths modal), go (regenerate), modal and smodal (the modals)
 *   "fo:<sid>:<verb>:<page>"  lora (the LoRA select of that page), prev and next (the page they
 *                             go to)
 * The sid names server-side state that expires (OPTS_STATE_TTL_MS after the last use, or a
 * restart): a click on an expired dialog gets OPTS_DIALOG_TEXT_EXPIRED, never a silent failure.
 */
#ifndef FLUXBOT_DISCORD_OPTS_DIALOG_H
#define FLUXBOT_DISCORD_OPTS_DIALOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "comfy/cjob.h"
#include "comfy/loras.h"
#include "comfy/ratios.h"

#define OPTS_DIALOG_LORAS_MAX 5    /* LoRAs one dialog keeps across pages */
#define OPTS_DIALOG_PAGE_SIZE 25   /* Discord's options per select */
#define OPTS_DIALOG_PAGES_MAX 1000 /* page numbers in custom_ids stay below this */
#define OPTS_DIALOG_STRENGTH_MIN CJOB_LORA_STRENGTH_MIN
#define OPTS_DIALOG_STRENGTH_MAX CJOB_LORA_STRENGTH_MAX
#define OPTS_DIALOG_PREFIX "fo:"

typedef enum opts_dialog_verb {
    OPTS_DIALOG_V_NONE = 0,
    OPTS_DIALOG_V_RESOLUTION, /* res */
    OPTS_DIALOG_V_LORAS,      /* lora:<page> */
    OPTS_DIALOG_V_PREV,       /* prev:<page> */
    OPTS_DIALOG_V_NEXT,       /* next:<page> */
    OPTS_DIALOG_V_EDIT,       /* edit: open the prompt modal */
    OPTS_DIALOG_V_STRENGTHS,  /* str: open the strengths modal */
    OPTS_DIALOG_V_GO,         /* go: regenerate with these options */
    OPTS_DIALOG_V_MODAL,      /* modal: the prompt modal was submitted */
    OPTS_DIALOG_V_SMODAL,     /* smodal: the strengths modal was submitted */
} opts_dialog_verb;

/* Field custom_ids of the modals. */
#define OPTS_DIALOG_FIELD_PROMPT "prompt"
#define OPTS_DIALOG_FIELD_NEGATIVE "negative"
#define OPTS_DIALOG_FIELD_SEED "seed"
/* the strengths modal: "s0" .. "s4", in the order of the chosen LoRAs */

/* One dialog's settings as shown (a copy: the renderer never sees the router's table). */
typedef struct opts_dialog_view {
    uint64_t sid;
    uint64_t job_id; /* the result the dialog started from */
    comfy_kind kind;
    bool resolution_offered; /* the workflow takes a size */
    char resolution[COMFY_LABEL_MAX + 1];
    unsigned page;     /* the LoRA page shown */
    unsigned lora_cap; /* 0: the workflow takes no LoRAs */
    unsigned nloras;
    char lora_name[OPTS_DIALOG_LORAS_MAX][LORAS_NAME_MAX + 1];
    double lora_strength[OPTS_DIALOG_LORAS_MAX];
    bool prompt_offered;   /* the kind has a prompt (not /redux) */
    bool negative_offered; /* the workflow maps negative_prompt, or the command declares it */
    char prompt[CJOB_PROMPT_MAX_BYTES + 1];
    char negative[CJOB_PROMPT_MAX_BYTES + 1];
    bool has_seed; /* false: a new random seed */
    uint64_t seed;
    char note[400]; /* shown above the settings: why the last change was refused ("" none) */
} opts_dialog_view;

/* Writes a custom_id; 0, or -1 when it does not fit or the verb takes no page. */
int opts_dialog_custom_id(uint64_t sid, opts_dialog_verb verb, unsigned page, char *out,
                          size_t outlen);
/* Parses one; 0 with the fields set, -1 for anything not a well-formed dialog id. */
int opts_dialog_parse_id(const char *s, uint64_t *sid, opts_dialog_verb *verb, unsigned *page);
/* True for ids starting with "fo:" (the router's dispatch; malformed ones get a clear answer). */
bool opts_dialog_owns(const char *custom_id);
/* "res", "lora", "prev", ... for logs and the command_usage name. */
const char *opts_dialog_verb_name(opts_dialog_verb v);

/* Pages of the LoRA list (at least 1). */
unsigned opts_dialog_pages(const loras_set *loras);

/* The dialog as a message object (the webhook edit of the deferred ephemeral answer) and as a
 * type-7 update of the dialog's message. NULL only when out of memory. */
char *opts_dialog_message_json(const opts_dialog_view *v, const ratios_set *ratios,
                               const loras_set *loras);
char *opts_dialog_update_json(const opts_dialog_view *v, const ratios_set *ratios,
                              const loras_set *loras);
/* Type 9: the prompt modal (prompt, negative prompt when offered, seed), pre-filled. */
char *opts_dialog_modal_json(const opts_dialog_view *v);
/* Type 9: one strength field per chosen LoRA, pre-filled; NULL when none is chosen. */
char *opts_dialog_strength_modal_json(const opts_dialog_view *v);

/* Texts of the dialog's refusals (ephemeral). */
#define OPTS_DIALOG_TEXT_NOT_YOURS                                                                 \
    "\xf0\x9f\x9a\xab Only the person who asked for this result, or a bot manager, can change "    \
    "its options."
#define OPTS_DIALOG_TEXT_EXPIRED                                                                   \
    "\xe2\x8f\xb3 This Options dialog has expired (it lasts 15 minutes after its last use, and "   \
    "not across a restart of the bot). Press Options on the result again."

#endif
