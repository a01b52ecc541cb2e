/*
 * Pending /reset_stats confirmations: who asked, where, and when, keyed by the nonce carried in
 * the Confirm / Cancel buttons' custom_ids ("rs:confirm:<hex>", "rs:cancel:<hex>").
 *
 * Pure (no threads of its own, time is passed in), but safe to share between router threads:
 * every call takes the store's mutex. Bounded: at most `capacity` pending entries; expired ones
 * are swept on create, and when still full the oldest is dropped (its buttons then answer
 * "unknown"). Entries do not survive a restart, which also answers "unknown".
 */
#ifndef FLUXBOT_AN_CONFIRM_H
#define FLUXBOT_AN_CONFIRM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define AN_CONFIRM_PREFIX "rs:"
#define AN_CONFIRM_TTL_MS 60000
#define AN_CONFIRM_ID_MAX 48 /* custom_id buffer size (Discord allows up to 100 characters) */

typedef struct an_confirm an_confirm;

typedef struct an_confirm_ticket {
    uint64_t user_id;
    uint64_t guild_id;
    uint64_t interaction_id; /* the /reset_stats interaction that asked */
    int64_t created_ms;
} an_confirm_ticket;

typedef enum an_confirm_result {
    AN_CONFIRM_OK = 0,     /* Confirm pressed by the asker in time: reset now */
    AN_CONFIRM_CANCELLED,  /* Cancel pressed by the asker */
    AN_CONFIRM_WRONG_USER, /* someone else pressed: refused, the prompt stays valid */
    AN_CONFIRM_EXPIRED,    /* pressed 60 s or more after the prompt: nothing happens */
    AN_CONFIRM_UNKNOWN,    /* not ours, already answered, evicted, or from before a restart */
} an_confirm_result;

/* capacity >= 1 pending entries; ttl_ms <= 0 means AN_CONFIRM_TTL_MS. */
an_confirm *an_confirm_new(size_t capacity, int64_t ttl_ms);
void an_confirm_free(an_confirm *c);

/* Registers a pending confirmation and writes the two custom_ids (NUL-terminated, each
 * AN_CONFIRM_ID_MAX bytes). */
void an_confirm_create(an_confirm *c, uint64_t user_id, uint64_t guild_id, uint64_t interaction_id,
                       int64_t now_ms, char confirm_id[AN_CONFIRM_ID_MAX],
                       char cancel_id[AN_CONFIRM_ID_MAX]);

/* Resolves a button press. OK, CANCELLED and EXPIRED consume the entry (a second press is
 * UNKNOWN); WRONG_USER leaves it. *out (may be NULL) receives the entry when one was found. */
an_confirm_result an_confirm_resolve(an_confirm *c, const char *custom_id, uint64_t user_id,
                                     int64_t now_ms, an_confirm_ticket *out);

/* True when custom_id belongs to this module (starts with AN_CONFIRM_PREFIX). */
bool an_confirm_owns(const char *custom_id);
/* Pending entries (for tests and metrics). */
size_t an_confirm_pending(an_confirm *c);

#endif
