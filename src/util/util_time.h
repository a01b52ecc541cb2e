/*
 * util_time: waiting for time to pass. Absolute deadlines for pthread_cond_timedwait, which wants
 * "now + timeout" on the clock the condition variable was set up with (CLOCK_REALTIME unless
 * pthread_condattr_setclock chose another) as a normalised timespec, and plain sleeps for polling
 * loops. (Reading the clocks is rt_now_ms / rt_wall_ms.)
 */
#ifndef FLUXBOT_UTIL_TIME_H
#define FLUXBOT_UTIL_TIME_H

#include <stdint.h>
#include <time.h>

/* The time timeout_ms from now on clock, with tv_nsec in [0, 1e9). */
struct timespec util_deadline(clockid_t clock, uint64_t timeout_ms);

/* Sleeps at least ms milliseconds (a signal may end it early; the polling loops that use it look
 * at the clock anyway). */
void util_sleep_ms(unsigned ms);

#endif
