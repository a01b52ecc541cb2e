/*
 * Download policy for input images: which URLs the runner may fetch an input image from, and
 * what a failed download tells the user.
 *
 * An input image comes either from a Discord attachment (the URL is in the interaction, so it
 * is only as trustworthy as the payload) or from an earlier result on a configured ComfyUI
 * server (/view). A URL, and every redirect hop after it, is fetched only when:
 *   - it parses as http(s)://host[:port]/... with no user:password part (credentials in a URL
 *     would be sent to whoever the host is) and no blanks or control bytes;
 *   - its host is on the attachment allow-list (configuration key attachment_hosts, default the
 *     hosts Discord serves attachments from) and the scheme is https — plain http only for an
 *     entry that names a loopback host (127.0.0.0/8, ::1, localhost), which exists for tests and
 *     local fakes; an entry "host:port" also pins the port;
 *   - or its scheme, host and port are exactly those of a configured ComfyUI server.
 * Anything else (another host, file://, ftp://, a redirect to an internal address) is refused
 * before a connection is made. The caller follows redirects itself, one hop at a time, with a
 * bounded hop count, calling dlpol_check on each (see comfy_http_download).
 *
 * Pure: no sockets or threads, so it is unit-tested and fuzzed directly. Not thread-affine: an
 * initialised policy is read-only and may be shared by every worker.
 */
#ifndef FLUXBOT_COMFY_DL_POLICY_H
#define FLUXBOT_COMFY_DL_POLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config/fb_config.h"

#define DLPOL_MAX_ENTRIES 32
#define DLPOL_HOST_MAX 256
#define DLPOL_MAX_HOPS 5 /* redirects followed at most, per download */

/* Default of the configuration key attachment_hosts. */
#define DLPOL_DEFAULT_HOSTS "cdn.discordapp.com,media.discordapp.net"

typedef struct dlpol_entry {
    char host[DLPOL_HOST_MAX]; /* lower case; IPv6 without brackets */
    int port;                  /* 0 = any */
    bool allow_http;           /* loopback entries only */
    bool exact_origin;         /* a ComfyUI server: scheme, host and port must all match */
    bool tls;                  /* for exact_origin */
} dlpol_entry;

typedef struct dlpol {
    dlpol_entry e[DLPOL_MAX_ENTRIES];
    unsigned n;
} dlpol;

/* The pieces of an http(s) URL as dlpol understands them. */
typedef struct dlpol_url {
    bool tls;
    char host[DLPOL_HOST_MAX]; /* lower case; IPv6 without brackets */
    int port;                  /* explicit or the scheme's default */
} dlpol_url;

typedef enum dlpol_verdict {
    DLPOL_OK = 0,
    DLPOL_BAD_URL,          /* not a URL we can parse, or has credentials/blanks */
    DLPOL_SCHEME,           /* not http(s) (file://, ftp://, ...) */
    DLPOL_HOST_NOT_ALLOWED, /* not on the list, or http to a host that needs https */
} dlpol_verdict;

/*
 * Builds a policy from the attachment_hosts list ("host" or "host:port", IPv6 as "[::1]:port")
 * and the ComfyUI server base URLs (either may be NULL). 0, or -1 with a message naming the
 * bad entry in err.
 */
int dlpol_init(dlpol *p, const fb_config_list *attachment_hosts, const fb_config_list *comfy_urls,
               char *err, size_t errlen);
/* Adds one allow-list entry (as in attachment_hosts). 0 / -1 with err. */
int dlpol_add_host(dlpol *p, const char *entry, char *err, size_t errlen);
/* Adds the origin of one ComfyUI base URL. 0 / -1 with err. */
int dlpol_add_origin(dlpol *p, const char *base_url, char *err, size_t errlen);

/* Parses url (http or https only). DLPOL_OK, DLPOL_SCHEME or DLPOL_BAD_URL. */
dlpol_verdict dlpol_parse_url(const char *url, dlpol_url *out);
/* May url be fetched (as a first request or as a redirect target)? */
dlpol_verdict dlpol_check(const dlpol *p, const char *url);

/* How a download ended (filled by the fetcher, read by dlpol_fail_text). */
typedef enum dlpol_fail {
    DLPOL_FAIL_NONE = 0,
    DLPOL_FAIL_BAD_URL,          /* the URL (or a redirect's Location) is unusable */
    DLPOL_FAIL_SCHEME,           /* not http(s) */
    DLPOL_FAIL_HOST_NOT_ALLOWED, /* the host (first or after a redirect) is not allowed */
    DLPOL_FAIL_TOO_MANY_REDIRECTS,
    DLPOL_FAIL_TIMEOUT,
    DLPOL_FAIL_TOO_LARGE,
    DLPOL_FAIL_HTTP_STATUS, /* an HTTP status other than 200 */
    DLPOL_FAIL_CONNECT,     /* no connection (refused, DNS, TLS) */
    DLPOL_FAIL_NETWORK,     /* the connection broke during the transfer */
} dlpol_fail;

/*
 * The user-facing reason for a failed download, as a clause that completes "<what> could not be
 * downloaded: ", e.g. "the download timed out", "it redirects to a host the bot does not
 * download from", "the server answered HTTP 404". Never contains a URL, host or address.
 * max_bytes is used for DLPOL_FAIL_TOO_LARGE.
 */
void dlpol_fail_text(dlpol_fail f, int http_status, uint64_t max_bytes, char *out, size_t n);
/* Short name for logs and analytics ("timeout", "host_not_allowed", ...). */
const char *dlpol_fail_name(dlpol_fail f);

#endif
