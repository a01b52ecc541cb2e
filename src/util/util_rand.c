/* Random 64-bit values (see util_rand.h). */
#include "util/util_rand.h"

#include <sys/random.h>
#include <time.h>

uint64_t util_rand_u64(void)
{
    uint64_t v = 0;
    if (getrandom(&v, sizeof v, 0) != (ssize_t)sizeof v) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        v = ((uint64_t)ts.tv_nsec << 20) ^ (uint64_t)ts.tv_sec ^ (uint64_t)(uintptr_t)&v;
        v *= 0x9E3779B97F4A7C15ULL;
    }
    return v;
}
