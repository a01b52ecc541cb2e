/*
 * Blocking HTTP for the runner's worker threads (libcurl easy, one handle per thread so
 * connections to a ComfyUI server are kept alive): JSON GET/POST, multipart image upload, and
 * bounded downloads (Discord attachments, ComfyUI /view). Every response body is capped; a body
 * over the cap fails the call instead of filling memory. No Origin header is ever sent (ComfyUI
 * refuses loopback requests whose Origin differs from Host). Each transfer is set up by
 * util_http_prepare (util_http.h): the same capped body and User-Agent as every bounded GET,
 * and the same cancel hook (util_http_set_cancel).
 *
 * Threads: a comfy_http is used by one thread at a time (the worker that created it, in the
 * bot): a libcurl easy handle shared by two transfers at once corrupts both, so this is asserted
 * in debug builds. comfy_http_global_init may be called from any thread.
 */
#ifndef FLUXBOT_COMFY_HTTP_H
#define FLUXBOT_COMFY_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "comfy/dlpol.h"

typedef struct comfy_http comfy_http;

typedef struct comfy_http_res {
    int status;    /* HTTP status, 0 when no response */
    uint8_t *body; /* malloc'd, NUL-terminated (len excludes the NUL) */
    size_t len;
    char content_type[128];
    char error[192]; /* transport error, "" otherwise */
    bool too_large;  /* body exceeded the cap */
    bool cancelled;  /* the handle's cancel hook stopped the transfer */
} comfy_http_res;

/* Once per process before threads use curl (idempotent, thread-safe). */
void comfy_http_global_init(void);

comfy_http *comfy_http_new(void);
/* A server that does not accept the connection within ms fails the call (default 5000), so an
 * unreachable server costs seconds, not the whole request timeout. */
void comfy_http_set_connect_timeout(comfy_http *h, long ms);
/* Every later transfer on h polls cancel(ctx) (util_http_cancel: about once a second even while
 * the peer is silent) and is aborted when it returns true: the call fails with res.cancelled.
 * The workers pass "the stop deadline has passed", so a download or upload in flight when the
 * bot must be gone is cut within a second instead of waiting out its whole timeout (without
 * it, a stalled server holds the process's exit for http_timeout_ms). NULL: no hook. */
void comfy_http_set_cancel(comfy_http *h, bool (*cancel)(void *ctx), void *ctx);
void comfy_http_free(comfy_http *h);

/* Each returns 0 when a response arrived (any status), -1 on transport failure or cap. */
int comfy_http_get(comfy_http *h, const char *url, size_t max_bytes, long timeout_ms,
                   comfy_http_res *out);
int comfy_http_post_json(comfy_http *h, const char *url, const char *json, long timeout_ms,
                         comfy_http_res *out);
/* POST {base}/upload/image: parts image (file) and overwrite=false. */
int comfy_http_upload(comfy_http *h, const char *base_url, const char *filename, const char *mime,
                      const uint8_t *data, size_t len, long timeout_ms, comfy_http_res *out);
/* The same into a subfolder of ComfyUI's input folder (NULL or "" = the folder itself);
 * overwrite=true replaces a file of that name instead of renaming to "name (1).ext". */
int comfy_http_upload_into(comfy_http *h, const char *base_url, const char *subfolder,
                           bool overwrite, const char *filename, const char *mime,
                           const uint8_t *data, size_t len, long timeout_ms, comfy_http_res *out);
/*
 * Downloads an input image: GET url under the download policy. Redirects are followed here, at
 * most DLPOL_MAX_HOPS, and every hop (the first URL included) must pass dlpol_check before it is
 * contacted. timeout_ms bounds the whole download, every hop included. 0 with a 200 response
 * in out; -1 with *fail saying what happened (the response, if any, is still in out).
 */
int comfy_http_download(comfy_http *h, const char *url, const dlpol *policy, size_t max_bytes,
                        long timeout_ms, comfy_http_res *out, dlpol_fail *fail);
void comfy_http_res_free(comfy_http_res *r);

#endif
