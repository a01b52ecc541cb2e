/*
 * util_str: heap copies of C strings for owned message and record fields. Owns the one policy
 * every caller wanted: a NULL source gives NULL, and running out of memory aborts (a half-built
 * message is worse than a crash with a clear cause).
 */
#ifndef FLUXBOT_UTIL_STR_H
#define FLUXBOT_UTIL_STR_H

#include <stddef.h>

/* malloc'd copy of s (the caller frees it); NULL when s is NULL. Aborts on OOM. */
char *util_strdup(const char *s);
/* malloc'd copy of the n bytes at s with a NUL after them (s need not be terminated); NULL when
 * s is NULL. Aborts on OOM. */
char *util_strndup(const char *s, size_t n);

#endif
