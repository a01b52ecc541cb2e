/* Condition-variable deadlines (see util_time.h). */
#include "util/util_time.h"

void util_sleep_ms(unsigned ms)
{
    struct timespec d = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000L};
    nanosleep(&d, NULL);
}

struct timespec util_deadline(clockid_t clock, uint64_t timeout_ms)
{
    struct timespec ts;
    clock_gettime(clock, &ts);
    uint64_t ns = (uint64_t)ts.tv_nsec + (timeout_ms % 1000) * 1000000ULL;
    ts.tv_sec += (time_t)(timeout_ms / 1000 + ns / 1000000000ULL);
    ts.tv_nsec = (long)(ns % 1000000000ULL);
    return ts;
}
