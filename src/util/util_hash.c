/* FNV-1a and the slot hash (see util_hash.h). */
#include "util/util_hash.h"

#include <string.h>

#define FNV_OFFSET 1469598103934665603ull
#define FNV_PRIME 1099511628211ull

uint64_t util_fnv1a(const void *p, size_t n)
{
    const unsigned char *b = p;
    uint64_t h = FNV_OFFSET;
    for (size_t i = 0; i < n; i++) {
        h ^= b[i];
        h *= FNV_PRIME;
    }
    return h;
}

uint64_t util_fnv1a_str(const char *s)
{
    uint64_t h = FNV_OFFSET;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        h ^= *p;
        h *= FNV_PRIME;
    }
    return h;
}

/* One step of the slot hash: the word in, multiplied (the high bits mix the low ones), and the
 * high half folded down, so that the low bits a mask keeps depend on the whole word. */
static uint64_t mix_word(uint64_t h, uint64_t w)
{
    h ^= w;
    h *= 0xff51afd7ed558ccdull;
    return h ^ (h >> 32);
}

uint64_t util_hash_mem(const void *p, size_t n)
{
    const unsigned char *b = p;
    uint64_t h = FNV_OFFSET ^ (n * FNV_PRIME);
    for (; n >= 8; b += 8, n -= 8) {
        uint64_t w;
        memcpy(&w, b, 8); /* unaligned and alias-safe; one load */
        h = mix_word(h, w);
    }
    if (n) {
        uint64_t w = 0;
        memcpy(&w, b, n);
        h = mix_word(h, w);
    }
    /* the finaliser of MurmurHash3: every output bit depends on every input bit */
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdull;
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53ull;
    h ^= h >> 33;
    return h;
}
