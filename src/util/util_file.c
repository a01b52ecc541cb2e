/* Whole-file reading with a size cap (see util_file.h). */
#include "util/util_file.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char *fail(FILE *f, char *buf, char *err, size_t errlen, const char *path, const char *why)
{
    snprintf(err, errlen, "%s: %s", path, why);
    free(buf);
    fclose(f);
    return NULL;
}

char *util_file_read(const char *path, size_t max, size_t *len, char *err, size_t errlen)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(err, errlen, "%s: cannot open: %s", path, strerror(errno));
        return NULL;
    }
    size_t cap = max < 4096 ? max : 4096, n = 0;
    char *buf = malloc(cap + 1);
    if (!buf) return fail(f, NULL, err, errlen, path, "out of memory");
    for (;;) {
        if (n == cap) {
            if (cap >= max) {
                /* full at the cap: too large only when another byte follows */
                if (fgetc(f) == EOF) break;
                char why[64];
                snprintf(why, sizeof why, "larger than %zu bytes", max);
                return fail(f, buf, err, errlen, path, why);
            }
            cap = cap * 2 > max ? max : cap * 2;
            char *nb = realloc(buf, cap + 1);
            if (!nb) return fail(f, buf, err, errlen, path, "out of memory");
            buf = nb;
        }
        size_t r = fread(buf + n, 1, cap - n, f);
        n += r;
        if (r == 0) break;
    }
    if (ferror(f)) return fail(f, buf, err, errlen, path, "read error");
    fclose(f);
    buf[n] = '\0';
    if (len) *len = n;
    return buf;
}
