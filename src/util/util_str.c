/* Owned string copies (see util_str.h). */
#include "util/util_str.h"

#include <stdlib.h>
#include <string.h>

char *util_strndup(const char *s, size_t n)
{
    if (!s) return NULL;
    char *p = malloc(n + 1);
    if (!p) abort();
    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

char *util_strdup(const char *s)
{
    return s ? util_strndup(s, strlen(s)) : NULL;
}
