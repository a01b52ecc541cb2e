/*
 * ComfyUI server selection and health bookkeeping (pure; the runner keeps one spick_server per
 * configured URL under its own lock and asks here which to use).
 *
 * Load of a server = the bot's own jobs assigned to it + the other clients' jobs in its queue
 * (queue_remaining from its last status, minus our jobs already submitted there, since
 * queue_remaining counts those too). The least loaded up server wins; ties go to the one with
 * fewer own jobs, then round-robin from a rotating start so equal servers share work.
 * Down servers are retried on an exponential backoff (1 s doubling to 15 s, ±20 % jitter).
 */
#ifndef FLUXBOT_COMFY_SERVER_PICK_H
#define FLUXBOT_COMFY_SERVER_PICK_H

#include <stdbool.h>
#include <stdint.h>

typedef struct spick_server {
    bool up;
    uint32_t assigned;       /* own jobs on this server (uploading, queued or running) */
    uint32_t submitted;      /* of those, POSTed and not yet finished */
    int64_t queue_remaining; /* from the last status event; -1 unknown */
    uint32_t failures;       /* consecutive connect failures */
    uint64_t next_retry_ms;  /* monotonic: when to try connecting again */
    uint64_t down_since_ms;
} spick_server;

void spick_init(spick_server *s);
/* The load figure used for choosing. */
uint64_t spick_load(const spick_server *s);
/* Index of the server to use, or -1 when none is up. exclude (-1 = none) is skipped unless it is
 * the only one up and allow_excluded is true. rotate varies the tie-break start. */
int spick_choose(const spick_server *s, unsigned n, int exclude, bool allow_excluded,
                 unsigned rotate);
/* Health transitions; they return the delay until the next retry (down) or 0. jitter01 in
 * [0,1) comes from the caller so tests are deterministic. */
uint64_t spick_mark_down(spick_server *s, uint64_t now_ms, double jitter01);
void spick_mark_up(spick_server *s);
/* Backoff before retry number `failures` (1-based). */
uint64_t spick_backoff_ms(uint32_t failures, double jitter01);

#endif
