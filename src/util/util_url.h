/*
 * util_url: the URL pieces several parsers and validators shared: which scheme a URL has, the
 * ":port" after a host, whether a URL is free of blanks and control bytes, and percent-encoding
 * of query values. Parsing a whole URL stays with its owner (gateway URLs, ComfyUI base URLs):
 * what each accepts as a host differs on purpose.
 */
#ifndef FLUXBOT_UTIL_URL_H
#define FLUXBOT_UTIL_URL_H

#include <stdbool.h>
#include <stddef.h>

/* When url starts with "<plain>://" or "<secure>://" (exact, lower case), returns the text after
 * "://" and sets *tls (may be NULL) to whether it was the secure one; otherwise NULL. */
const char *util_url_after_scheme(const char *url, const char *plain, const char *secure,
                                  bool *tls);
/* True for an http:// or https:// URL. */
bool util_url_is_http(const char *url);

/* The port at s (just after the ':'), 1..65535, with *end after its digits; -1 when there is
 * none or it is out of range. Read as strtol reads it (leading blanks and a '+' pass), so a
 * caller that must refuse blanks checks with util_url_clean first. */
int util_url_port(const char *s, const char **end);

/* True when no byte of url is a blank, a control character or DEL. */
bool util_url_clean(const char *url);

/* Percent-encodes s into out, keeping only RFC 3986 unreserved characters. 0, or -1 when it
 * does not fit in outlen (out is then unspecified). */
int util_url_escape(const char *s, char *out, size_t outlen);

#endif
