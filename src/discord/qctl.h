/*
 * qctl: the message bodies of queue control (cancelling jobs), built with reply.h: a job's
 * progress text with its Cancel button, and /cancel's choice among a user's jobs (one Cancel
 * button per job). The texts and the custom_ids come from the caller (comfy/qcancel.h decides
 * what is said, comfy/cres.h spells the ids); envelopes and component JSON are built here only.
 * Pure: no threads, no sockets.
 */
#ifndef FLUXBOT_DISCORD_QCTL_H
#define FLUXBOT_DISCORD_QCTL_H

#define QCTL_CHOICES_MAX 20 /* buttons in /cancel's choice: 4 rows of 5 */

/* One job offered in /cancel's choice. */
typedef struct qctl_choice {
    const char *custom_id; /* its Cancel button's id (cres_custom_id CRES_CANCEL) */
    const char *label;     /* the button's text, e.g. "1" (clipped to 80) */
} qctl_choice;

/* An edit of a job's message (PATCH body): the progress text and one row with a red Cancel
 * button (cancel_id). cancel_id NULL or "": the text alone, the message's buttons untouched.
 * malloc'd. */
char *qctl_progress_json(const char *text, const char *cancel_id);

/* An edit of the answer to /cancel: the text (the numbered list of the user's jobs) and one
 * Cancel button per job, at most QCTL_CHOICES_MAX (the rest are left out). malloc'd. */
char *qctl_choice_json(const char *text, const qctl_choice *items, unsigned n);

#endif
