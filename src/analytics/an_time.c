/* UTC day numbers and their calendar dates, without the C library's time-zone state. */
#include "analytics/an_time.h"

#include <stdio.h>

int64_t an_day_of(int64_t ts_ms)
{
    int64_t d = ts_ms / AN_DAY_MS;
    if (ts_ms % AN_DAY_MS < 0) d--;
    return d;
}

int64_t an_hour_of(int64_t ts_ms)
{
    int64_t h = ts_ms / AN_HOUR_MS;
    if (ts_ms % AN_HOUR_MS < 0) h--;
    return h;
}

int64_t an_time_minute_of(int64_t ts_ms)
{
    int64_t m = ts_ms / AN_TIME_MINUTE_MS;
    if (ts_ms % AN_TIME_MINUTE_MS < 0) m--;
    return m;
}

/* Proleptic Gregorian date of a day number, by 400-year eras (146097 days each), with the year
 * starting on March 1 so that the leap day is the last day of the year. */
static void civil(int64_t day, int64_t *y, unsigned *m, unsigned *d)
{
    int64_t z = day + 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    unsigned doe = (unsigned)(z - era * 146097);
    unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    unsigned mp = (5 * doy + 2) / 153;
    *d = doy - (153 * mp + 2) / 5 + 1;
    *m = mp < 10 ? mp + 3 : mp - 9;
    *y = (int64_t)yoe + era * 400 + (*m <= 2);
}

void an_day_date(int64_t day, char *out, size_t outlen)
{
    int64_t y;
    unsigned m, d;
    civil(day, &y, &m, &d);
    snprintf(out, outlen, "%04lld-%02u-%02u", (long long)y, m, d);
}

static void split(int64_t ts_ms, int64_t *day, unsigned *h, unsigned *mi, unsigned *s, unsigned *ms)
{
    *day = an_day_of(ts_ms);
    int64_t rem = ts_ms - *day * AN_DAY_MS;
    *ms = (unsigned)(rem % 1000);
    rem /= 1000;
    *s = (unsigned)(rem % 60);
    *mi = (unsigned)(rem / 60 % 60);
    *h = (unsigned)(rem / 3600);
}

void an_format_utc(int64_t ts_ms, char *out, size_t outlen)
{
    int64_t day;
    unsigned h, mi, s, ms;
    split(ts_ms, &day, &h, &mi, &s, &ms);
    char date[16];
    an_day_date(day, date, sizeof date);
    snprintf(out, outlen, "%s %02u:%02u:%02u UTC", date, h, mi, s);
}

void an_format_iso(int64_t ts_ms, char *out, size_t outlen)
{
    int64_t day;
    unsigned h, mi, s, ms;
    split(ts_ms, &day, &h, &mi, &s, &ms);
    char date[16];
    an_day_date(day, date, sizeof date);
    snprintf(out, outlen, "%sT%02u:%02u:%02u.%03uZ", date, h, mi, s, ms);
}
