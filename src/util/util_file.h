/*
 * util_file: reading a whole file into memory with a size cap, for the JSON files operators
 * install (workflows, maps, LoRA and ratio lists). Owns the cap and the wording of its errors.
 */
#ifndef FLUXBOT_UTIL_FILE_H
#define FLUXBOT_UTIL_FILE_H

#include <stddef.h>

/* Reads path (at most max bytes) into a malloc'd NUL-terminated buffer the caller frees; *len
 * (may be NULL) gets its length. NULL with err naming the file and the reason (cannot open,
 * larger than max bytes, read error, out of memory) on failure. */
char *util_file_read(const char *path, size_t max, size_t *len, char *err, size_t errlen);

#endif
