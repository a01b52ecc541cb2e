/*
 * rest_order: which Discord message a REST request writes to, so that the REST actor can keep
 * the writes to one message in the order they were sent (pure; no threads, no I/O).
 *
 * Why: the REST actor runs many transfers at once and retries 5xx with backoff, so without an
 * order two edits of one message may land in either order: a progress edit retried after a
 * 503 then overwrites the job's final result or failure, and the user is left looking at
 * "Preparing 0%" forever.
 */
#ifndef FLUXBOT_DISCORD_REST_ORDER_H
#define FLUXBOT_DISCORD_REST_ORDER_H

#include <stdbool.h>
#include <stddef.h>

/* For PATCH or DELETE of one message, "/webhooks/{app}/{token}/messages/{id}" (including
 * @original) or "/channels/{c}/messages/{m}", writes the path without its query into out and
 * returns true. Anything else (callbacks, follow-up POSTs, other routes, a path that does not
 * fit) returns false: such requests are not ordered. */
bool rest_order_target(const char *method, const char *path, char *out, size_t cap);

#endif
