/*
 * apphttp: one blocking HTTP GET for the operator commands (`fluxbot check`), with libcurl easy:
 * an optional Authorization header, a timeout and a bounded body. Not for the bot's own
 * traffic, which goes through the REST actor and the runner.
 */
#ifndef FLUXBOT_APP_HTTP_H
#define FLUXBOT_APP_HTTP_H

#include <stddef.h>
#include <stdint.h>

typedef struct apphttp_res {
    long status; /* 0 when no response */
    char *body;  /* malloc'd, NUL-terminated, may be NULL */
    size_t len;
    char error[256]; /* transport error, "" otherwise */
} apphttp_res;

/* GET url. authorization is the full header value (e.g. "Bot <token>") or NULL. Returns 0 when
 * a response arrived (any status), -1 otherwise (error filled). Bodies over max_bytes fail. */
int apphttp_get(const char *url, const char *authorization, long timeout_ms, size_t max_bytes,
                apphttp_res *out);
void apphttp_res_free(apphttp_res *r);

#endif
