/*
 * util_utf8: UTF-8 checks and cuts for untrusted text. Owns the one definition of "valid" the bot
 * uses everywhere (RFC 3629: no overlongs, no surrogates, nothing above U+10FFFF, no truncated
 * sequence) and the one way text is cut to a character limit: Discord counts limits in code
 * points, and a cut inside a sequence would make the JSON it goes into invalid.
 */
#ifndef FLUXBOT_UTIL_UTF8_H
#define FLUXBOT_UTIL_UTF8_H

#include <stdbool.h>
#include <stddef.h>

/* Length (1..4) of the well-formed sequence starting at p, of which avail (≥ 1) bytes may be
 * read; 0 when p does not start one. A NUL byte is a sequence of length 1. */
size_t util_utf8_seq(const char *p, size_t avail);

/* True when the len bytes at s are well-formed UTF-8 (U+0000 included); then *chars, when not
 * NULL, is the number of code points. */
bool util_utf8_valid(const char *s, size_t len, size_t *chars);

/* Code points of a NUL-terminated valid string (counts lead bytes); 0 for NULL. */
size_t util_utf8_chars(const char *s);

/* malloc'd copy of s (NULL is "") of at most max_chars code points, each invalid byte replaced
 * by U+FFFD; when it had to be cut, its last character is "…" so the limit still holds. The
 * caller frees it; aborts on OOM. */
char *util_utf8_clip(const char *s, size_t max_chars);

#endif
