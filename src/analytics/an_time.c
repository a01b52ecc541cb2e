/* UTC day numbers and their calendar dates, without the C library's time-zone state. */
#include "analytics/an_time.h"

#include <stdio.h>
#include <string.h>

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

/* Two decimal digits of v (< 100). */
static void put2(char *p, unsigned v)
{
    p[0] = (char)('0' + v / 10);
    p[1] = (char)('0' + v % 10);
}

/* out (outlen bytes) gets the first n bytes of text, cut as snprintf would cut it. */
static void put_out(char *out, size_t outlen, const char *text, size_t n)
{
    if (outlen == 0) return;
    if (n >= outlen) n = outlen - 1;
    memcpy(out, text, n);
    out[n] = '\0';
}

/* "YYYY-MM-DD" into buf (>= 24 bytes), its length returned. Written digit by digit: /stats
 * formats several dates per answer, and snprintf costs ten times more. Years outside 0..9999
 * go through snprintf, which writes them as "%04lld" always did. */
static size_t day_date(int64_t day, char *buf)
{
    int64_t y;
    unsigned m, d;
    civil(day, &y, &m, &d);
    if (y < 0 || y > 9999) {
        int n = snprintf(buf, 24, "%04lld-%02u-%02u", (long long)y, m, d);
        return n < 0 ? 0 : (size_t)n < 24 ? (size_t)n : 23;
    }
    unsigned yy = (unsigned)y;
    put2(buf, yy / 100);
    put2(buf + 2, yy % 100);
    buf[4] = '-';
    put2(buf + 5, m);
    buf[7] = '-';
    put2(buf + 8, d);
    buf[10] = '\0';
    return 10;
}

void an_day_date(int64_t day, char *out, size_t outlen)
{
    char buf[24];
    put_out(out, outlen, buf, day_date(day, buf));
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

/* The date, sep, then "HH:MM:SS" (every part below 100: h < 24 as rem is within the day)
 * into buf (>= 48 bytes); the length returned. */
static size_t date_time(int64_t ts_ms, char sep, unsigned *ms, char *buf)
{
    int64_t day;
    unsigned h, mi, s;
    split(ts_ms, &day, &h, &mi, &s, ms);
    size_t n = day_date(day, buf);
    if (n > 15) n = 15; /* as the 16-byte date buffer of before cut years of 10+ digits */
    buf[n++] = sep;
    put2(buf + n, h);
    buf[n + 2] = ':';
    put2(buf + n + 3, mi);
    buf[n + 5] = ':';
    put2(buf + n + 6, s);
    return n + 8;
}

void an_format_utc(int64_t ts_ms, char *out, size_t outlen)
{
    char buf[48];
    unsigned ms;
    size_t n = date_time(ts_ms, ' ', &ms, buf);
    memcpy(buf + n, " UTC", 4);
    put_out(out, outlen, buf, n + 4);
}

void an_format_iso(int64_t ts_ms, char *out, size_t outlen)
{
    char buf[48];
    unsigned ms;
    size_t n = date_time(ts_ms, 'T', &ms, buf);
    buf[n] = '.';
    buf[n + 1] = (char)('0' + ms / 100);
    put2(buf + n + 2, ms % 100);
    buf[n + 4] = 'Z';
    put_out(out, outlen, buf, n + 5);
}
