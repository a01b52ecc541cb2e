/*
 * Messages to and from the REST actor (type numbers 110..119; the gateway's dispatch, 100, is in
 * msgs/gw.h).
 *
 *  anyone  → discord_rest: MSG_REST_REQ      (one HTTP request to the Discord API)
 *  discord_rest → sender: MSG_REST_RES      (its outcome, when reply_to was set)
 *
 * Every pointer field is owned by the message and freed by its destructor; build them with the
 * constructors in src/msgs/rest.c so the destructor is always right.
 */
#ifndef FLUXBOT_MSGS_REST_H
#define FLUXBOT_MSGS_REST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fluxbot/msgs.h"

typedef struct rt_actor rt_actor;

enum {
    MSG_REST_REQ = 110,
    MSG_REST_RES = 111,
};

typedef enum rest_method {
    REST_GET = 0,
    REST_POST,
    REST_PUT,
    REST_PATCH,
    REST_DELETE,
} rest_method;

#define REST_MAX_FILES 10 /* Discord: 10 attachments per message */

typedef struct rest_file {
    char *filename;     /* owned */
    char *content_type; /* owned, e.g. "image/png" */
    uint8_t *data;      /* owned */
    size_t len;
} rest_file;

/* One request. `path` is relative to DISCORD_API_BASE and starts with '/', e.g.
 * "/interactions/123/tok/callback" or "/webhooks/app/tok/messages/@original". The rate limiter
 * derives the route and its major parameters from it. With files, the body is sent as
 * multipart/form-data: part "payload_json" = json, parts "files[n]" = files[n]. */
typedef struct rest_req_msg {
    rt_msg hdr;
    rest_method method;
    char *path; /* owned */
    char *json; /* owned, may be NULL */
    rest_file files[REST_MAX_FILES];
    unsigned nfiles;
    rt_actor *reply_to;     /* NULL: fire and forget (failures are logged by the REST actor) */
    uint64_t cookie;        /* echoed in the reply */
    char audit_reason[128]; /* X-Audit-Log-Reason, optional */
    /* 0: the REST actor's bounded retries. Else the request must get through: 5xx, network
     * errors and 429s are retried with backoff until this rt_now_ms() time (e.g. shortly before
     * its interaction token expires), then it fails. */
    uint64_t deliver_until_ms;
    /* The last write to its message (a job's result or failure, a deletion): writes to the same
     * message that reach the REST actor after it are dropped (answered with status 0,
     * "superseded"), and ones queued before it and not yet sent are dropped in its favour.
     * Writes to one message (PATCH/DELETE of a webhook or channel message) are always sent one
     * at a time in arrival order; this flag adds that nothing lands after the final one. */
    bool final_write;
    /* Owned, may be NULL: sent once this request has its answer (whatever the status), for two
     * requests on different routes that must reach Discord in order (delete the deferred
     * message, then post the ephemeral follow-up that replaces it). */
    struct rest_req_msg *then;
} rest_req_msg;

/* The outcome. status is the final HTTP status (after the REST actor's own retries), or 0 when
 * no response was had (error then holds a short reason). */
typedef struct rest_res_msg {
    rt_msg hdr;
    uint64_t cookie;
    int status;
    char error[128];
    char *body; /* owned, NUL-terminated, may be NULL */
    size_t body_len;
} rest_res_msg;

/* Constructors; they copy every string and buffer they are given. */
rest_req_msg *rest_req_msg_new(rest_method method, const char *path, const char *json);
/* Adds a file (copied); returns 0, or -1 when REST_MAX_FILES are already attached. */
int rest_req_add_file(rest_req_msg *m, const char *filename, const char *content_type,
                      const uint8_t *data, size_t len);
/* Same, taking ownership of data (malloc'd) instead of copying. */
int rest_req_add_file_owned(rest_req_msg *m, const char *filename, const char *content_type,
                            uint8_t *data, size_t len);
rest_res_msg *rest_res_msg_new(uint64_t cookie, int status, const char *body, size_t body_len);

const char *rest_method_name(rest_method m);

#endif
