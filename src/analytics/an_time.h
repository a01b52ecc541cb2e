/*
 * UTC day arithmetic for analytics: every rollup is keyed by the UTC day number (days since
 * 1970-01-01), never by local time, so the numbers do not move with the host's time zone.
 */
#ifndef FLUXBOT_AN_TIME_H
#define FLUXBOT_AN_TIME_H

#include <stddef.h>
#include <stdint.h>

#define AN_DAY_MS 86400000LL
#define AN_HOUR_MS 3600000LL
#define AN_TIME_MINUTE_MS 60000LL

/* UTC day number of a millisecond timestamp (floor division, also right for negatives). */
int64_t an_day_of(int64_t ts_ms);
/* UTC hour number (hours since the epoch) of a millisecond timestamp. */
int64_t an_hour_of(int64_t ts_ms);
/* UTC minute number (minutes since the epoch) of a millisecond timestamp. */
int64_t an_time_minute_of(int64_t ts_ms);
/* "YYYY-MM-DD" of a UTC day number into out (>= 11 bytes). */
void an_day_date(int64_t day, char *out, size_t outlen);
/* "YYYY-MM-DD HH:MM:SS UTC" of a millisecond timestamp into out (>= 24 bytes). */
void an_format_utc(int64_t ts_ms, char *out, size_t outlen);
/* ISO 8601 "YYYY-MM-DDTHH:MM:SS.mmmZ" (Discord embed timestamps) into out (>= 25 bytes). */
void an_format_iso(int64_t ts_ms, char *out, size_t outlen);

#endif
