/*
 * rpend: the router's table of interactions waiting for an answer from another actor — an
 * interaction callback in flight at the REST actor, or a statistics reset at the analytics
 * writer — together with the work to do once the answer is in.
 *
 * Why it exists: the router may forward a generation job (or a stats query) only after Discord
 * accepted the deferred-reply callback, otherwise the runner's PATCH of @original can overtake
 * the defer and get 404. So the job waits here, keyed by the cookie of the callback request,
 * until the MSG_REST_RES for that cookie arrives (or a deadline passes).
 *
 * Bounded (capacity fixed at creation; a full table refuses new entries) and safe to share
 * between the router's threads: every call takes the table's mutex. Time is passed in, so
 * tests drive it without a clock. Cookies are never 0 and never repeat for the table's life
 * (slot index + generation), so a late answer for a recycled slot is recognised as stale.
 *
 * Ownership: an added entry's `work` message and `token` string move into the table; rpend_take
 * and rpend_expire move them back out to the caller, who must forward or free them.
 * rpend_free releases whatever is still inside (rt_msg_free, free).
 */
#ifndef FLUXBOT_ROUTER_PENDING_H
#define FLUXBOT_ROUTER_PENDING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fluxbot/msgs.h"

#define RPEND_COMMAND_MAX 48

typedef enum rpend_kind {
    RPEND_REPLY = 0,  /* a final callback (error, prompt, autocomplete): only bookkeeping */
    RPEND_FORWARD,    /* a defer: on 2xx send `work` to `target` */
    RPEND_RESET_ACK,  /* the Confirm click's ack (type 7): on 2xx ask the writer to reset */
    RPEND_RESET_DONE, /* a reset asked of the writer: on MSG_AN_RESET_DONE edit the prompt */
} rpend_kind;

typedef struct rpend_entry {
    uint64_t cookie; /* set by rpend_add */
    rpend_kind kind;
    uint64_t received_ns; /* monotonic time the interaction arrived (exec_ms starts here) */
    uint64_t deadline_ms; /* monotonic ms after which rpend_expire hands it back */

    /* The command_usage row written when the answer is in. */
    bool record;                         /* false: no row */
    char command[RPEND_COMMAND_MAX + 1]; /* "comfy", "button:regenerate", ... */
    uint64_t user_id, guild_id, channel_id;
    bool success;            /* the row's success if the callback is accepted */
    int cmd_kind;            /* an_cmd_kind: slash command, button, autocomplete, ... */
    uint64_t interaction_id; /* the row's key for a later outcome (an_record_outcome) */

    /* Router bookkeeping (counter slots), opaque here. */
    int stat_cmd;
    int stat_outcome;

    /* Work waiting on the answer (owned while in the table). */
    rt_msg *work; /* RPEND_FORWARD: the message to forward */
    void *target; /* RPEND_FORWARD: the rt_actor to forward it to */
    uint64_t application_id;
    char *token; /* malloc'd interaction token (RESET_*: the click whose message to edit) */
} rpend_entry;

typedef struct rpend rpend;

/* capacity >= 1 entries. */
rpend *rpend_new(size_t capacity);
/* Frees the table and everything still in it. NULL is ignored. */
void rpend_free(rpend *p);

/* Copies *e in (taking ownership of e->work and e->token) and returns its cookie, or 0 when the
 * table is full (ownership then stays with the caller). */
uint64_t rpend_add(rpend *p, const rpend_entry *e);
/* Removes the entry with this cookie into *out (ownership moves to the caller). false when no
 * such entry (never added, already taken, or expired). */
bool rpend_take(rpend *p, uint64_t cookie, rpend_entry *out);
/* Removes up to max entries whose deadline_ms <= now_ms into out[] and returns how many.
 * Call again while it returns max. */
size_t rpend_expire(rpend *p, uint64_t now_ms, rpend_entry *out, size_t max);
/* Entries in the table now, and the most ever held at once. */
size_t rpend_count(rpend *p);
size_t rpend_high_water(rpend *p);
size_t rpend_capacity(const rpend *p);
/* Releases what an entry owns (work message, token). */
void rpend_entry_release(rpend_entry *e);

#endif
