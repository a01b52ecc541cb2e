/*
 * Resolutions offered to users: config/ratios.json, label → width × height.
 *
 * File format (the original bot's, so its file loads unchanged):
 *   {"ratios": {"1:1 [1024x1024 square]": {"width": 1024, "height": 1024}, ...}}
 * Order is kept (it is the order of the Discord choices). Validation at load: 1..25 entries
 * (Discord's choice cap), labels 1..100 bytes and unique, sides integers in 64..8192.
 * A loaded set is immutable, so any thread may read it without locks.
 */
#ifndef FLUXBOT_COMFY_RATIOS_H
#define FLUXBOT_COMFY_RATIOS_H

#include <stddef.h>
#include <stdint.h>

#define RATIOS_MAX 25
#define RATIOS_LABEL_MAX 100

typedef struct ratios_entry {
    char label[RATIOS_LABEL_MAX + 1];
    uint32_t width;
    uint32_t height;
} ratios_entry;

typedef struct ratios_set {
    unsigned count;
    ratios_entry items[RATIOS_MAX];
} ratios_set;

/* Parses JSON text; source names it in errors. 0 or -1 with err filled. */
int ratios_parse(ratios_set *out, const char *json, const char *source, char *err, size_t errlen);
/* Reads and parses a file. 0 or -1 with err filled (naming the file). */
int ratios_load_file(ratios_set *out, const char *path, char *err, size_t errlen);
/* Exact label lookup; NULL if unknown. Also accepts "WxH" (e.g. "1024x768") when that size is
 * one of the entries, so buttons and logs can refer to a size. */
const ratios_entry *ratios_find(const ratios_set *set, const char *label);
/* The entry labelled like the original's default "1:1 [1024x1024 square]", else the first. */
const ratios_entry *ratios_default(const ratios_set *set);

#endif
