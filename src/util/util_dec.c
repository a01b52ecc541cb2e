/* Strict decimal u64 parsing (see util_dec.h). */
#include "util/util_dec.h"

#include <string.h>

int util_dec_u64(const char *p, size_t n, uint64_t *out)
{
    if (n == 0) return UTIL_DEC_ESYNTAX;
    if (n > 20) return UTIL_DEC_ERANGE;
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++) {
        if (p[i] < '0' || p[i] > '9') return UTIL_DEC_ESYNTAX;
        unsigned d = (unsigned)(p[i] - '0');
        if (v > (UINT64_MAX - d) / 10) return UTIL_DEC_ERANGE;
        v = v * 10 + d;
    }
    *out = v;
    return UTIL_DEC_OK;
}

bool util_dec_u64_canon(const char *s, uint64_t *out)
{
    if (!s) return false;
    size_t n = strlen(s);
    if (n > 1 && s[0] == '0') return false;
    return util_dec_u64(s, n, out) == UTIL_DEC_OK;
}

bool util_dec_snowflake(const char *s, uint64_t *out)
{
    uint64_t v;
    if (!util_dec_u64_canon(s, &v) || v == 0) return false;
    *out = v;
    return true;
}
