/* Clocks: monotonic time for deadlines and latency, wall time (UTC ms) for stored timestamps. */
#include "fluxbot/runtime.h"

#include <time.h>

uint64_t rt_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

uint64_t rt_now_ms(void)
{
    return rt_now_ns() / 1000000u;
}

uint64_t rt_wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}
