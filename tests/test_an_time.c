/* UTC dates and timestamps as text (an_time.h): an_day_date, an_format_utc and an_format_iso
 * write exactly what the snprintf formats "%04lld-%02u-%02u", "%s %02u:%02u:%02u UTC" and
 * "%sT%02u:%02u:%02u.%03uZ" write (the dates in a 16-byte buffer), for timestamps across the
 * whole int64 range and for every output size, truncation included. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "analytics/an_time.h"

/* The reference: the calendar by another route (days from the epoch walked year by year would
 * be too slow for the extremes, so the same era arithmetic, spelled out), then snprintf. */
static void ref_civil(int64_t day, long long *y, unsigned *m, unsigned *d)
{
    int64_t z = day + 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    unsigned doe = (unsigned)(z - era * 146097);
    unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    unsigned mp = (5 * doy + 2) / 153;
    *d = doy - (153 * mp + 2) / 5 + 1;
    *m = mp < 10 ? mp + 3 : mp - 9;
    *y = (long long)yoe + era * 400 + (*m <= 2);
}

static void ref_date(int64_t day, char *out, size_t outlen)
{
    long long y;
    unsigned m, d;
    ref_civil(day, &y, &m, &d);
    snprintf(out, outlen, "%04lld-%02u-%02u", y, m, d);
}

static void ref_format(int64_t ts, bool iso, char *out, size_t outlen)
{
    int64_t day = an_day_of(ts), rem = ts - day * AN_DAY_MS;
    unsigned ms = (unsigned)(rem % 1000);
    rem /= 1000;
    unsigned s = (unsigned)(rem % 60), mi = (unsigned)(rem / 60 % 60), h = (unsigned)(rem / 3600);
    char date[16];
    ref_date(day, date, sizeof date);
    if (iso)
        snprintf(out, outlen, "%sT%02u:%02u:%02u.%03uZ", date, h, mi, s, ms);
    else
        snprintf(out, outlen, "%s %02u:%02u:%02u UTC", date, h, mi, s);
}

static void check_ts(int64_t ts)
{
    for (size_t len = 0; len <= 40; len++) {
        char got[48], want[48];
        memset(got, 'x', sizeof got);
        memset(want, 'x', sizeof want);
        an_format_utc(ts, got, len);
        ref_format(ts, false, want, len);
        assert_memory_equal(got, want, sizeof got);
        memset(got, 'x', sizeof got);
        memset(want, 'x', sizeof want);
        an_format_iso(ts, got, len);
        ref_format(ts, true, want, len);
        assert_memory_equal(got, want, sizeof got);
        memset(got, 'x', sizeof got);
        memset(want, 'x', sizeof want);
        an_day_date(an_day_of(ts), got, len);
        ref_date(an_day_of(ts), want, len);
        assert_memory_equal(got, want, sizeof got);
    }
}

static void test_known_moments(void **state)
{
    (void)state;
    char buf[32];
    an_format_utc(0, buf, sizeof buf);
    assert_string_equal(buf, "1970-01-01 00:00:00 UTC");
    an_format_iso(951782400000LL + 23 * 3600000LL + 59 * 60000 + 59999, buf, sizeof buf);
    assert_string_equal(buf, "2000-02-29T23:59:59.999Z");
    an_format_iso(-1, buf, sizeof buf);
    assert_string_equal(buf, "1969-12-31T23:59:59.999Z");
    an_day_date(an_day_of(253402300799999LL), buf, sizeof buf);
    assert_string_equal(buf, "9999-12-31");
    an_day_date(an_day_of(253402300800000LL), buf, sizeof buf);
    assert_string_equal(buf, "10000-01-01");
}

static void test_same_as_snprintf_everywhere(void **state)
{
    (void)state;
    /* every hour boundary (and a millisecond either side) over a few years around the epoch
     * and now, then a walk through the whole range, years of 5+ digits and negative included */
    for (int64_t ts = -2LL * 366 * AN_DAY_MS; ts < 2LL * 366 * AN_DAY_MS; ts += AN_HOUR_MS * 29)
        check_ts(ts), check_ts(ts - 1), check_ts(ts + 1);
    for (int64_t ts = 1700000000000LL; ts < 1900000000000LL; ts += 86399999LL * 5)
        check_ts(ts);
    uint64_t x = 88172645463325252ull;
    for (int i = 0; i < 3000; i++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        check_ts((int64_t)x);
        check_ts((int64_t)(x % 600000000000000ull) - 300000000000000LL); /* years 0..9999 ± */
    }
    check_ts(INT64_MAX);
    check_ts(INT64_MIN + 2 * AN_DAY_MS); /* day * AN_DAY_MS of INT64_MIN overflows */
    check_ts(-62167219200000LL);         /* 0000-01-01 */
    check_ts(-62167219200001LL);         /* the day before: year -1 */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_known_moments),
        cmocka_unit_test(test_same_as_snprintf_everywhere),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
