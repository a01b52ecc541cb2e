/*
 * Small file helper shared by the comfy modules: read a whole (bounded) file into memory.
 */
#ifndef FLUXBOT_COMFY_FILEUTIL_H
#define FLUXBOT_COMFY_FILEUTIL_H

#include <stddef.h>

/* Reads path (at most max bytes) into a malloc'd NUL-terminated buffer. NULL with err filled
 * (naming the file and the reason) on failure. *len may be NULL. */
char *cfile_read(const char *path, size_t max, size_t *len, char *err, size_t errlen);

#endif
