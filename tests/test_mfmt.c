/* fluxbot-test: tsan */
/*
 * The Prometheus text writer: family headers, label escaping, exact integers, special
 * values, refusal of invalid names, and that its output passes the strict format check.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "app/mfmt.h"
#include "metrics_check.h"

static void test_family_and_samples(void **state)
{
    (void)state;
    mfmt m;
    mfmt_init(&m);
    mfmt_family(&m, "fluxbot_x_total", "counter", "Things.\nMore \\ things.");
    mfmt_label l[2] = {{"actor", "router"}, {"kind", "a\"b\\c\nd"}};
    mfmt_sample_u64(&m, "fluxbot_x_total", NULL, l, 2, 18446744073709551615ull);
    mfmt_family(&m, "fluxbot_lat_seconds", "summary", NULL);
    mfmt_sample(&m, "fluxbot_lat_seconds", "_sum", l, 1, 0.25);
    mfmt_sample_u64(&m, "fluxbot_lat_seconds", "_count", l, 1, 4);
    mfmt_family(&m, "fluxbot_g", "gauge", "g");
    mfmt_sample(&m, "fluxbot_g", NULL, NULL, 0, NAN);
    mfmt_sample(&m, "fluxbot_g", NULL, NULL, 0, INFINITY);
    mfmt_sample(&m, "fluxbot_g", NULL, NULL, 0, -INFINITY);
    mfmt_sample(&m, "fluxbot_g", NULL, NULL, 0, 3.0);
    size_t len;
    char *t = mfmt_take(&m, &len);
    assert_non_null(t);
    assert_int_equal(len, strlen(t));
    const char *want = "# HELP fluxbot_x_total Things.\\nMore \\\\ things.\n"
                       "# TYPE fluxbot_x_total counter\n"
                       "fluxbot_x_total{actor=\"router\",kind=\"a\\\"b\\\\c\\nd\"} "
                       "18446744073709551615\n"
                       "# TYPE fluxbot_lat_seconds summary\n"
                       "fluxbot_lat_seconds_sum{actor=\"router\"} 0.25\n"
                       "fluxbot_lat_seconds_count{actor=\"router\"} 4\n"
                       "# HELP fluxbot_g g\n"
                       "# TYPE fluxbot_g gauge\n"
                       "fluxbot_g NaN\nfluxbot_g +Inf\nfluxbot_g -Inf\nfluxbot_g 3\n";
    assert_string_equal(t, want);
    char where[256];
    const char *err = metrics_check_validate(t, where, sizeof where);
    if (err) fail_msg("%s: %s", err, where);
    assert_float_equal(metrics_check_value(t, "fluxbot_lat_seconds_count{actor=\"router\"}"), 4, 0);
    free(t);
}

static void test_invalid_names_are_skipped(void **state)
{
    (void)state;
    assert_true(mfmt_valid_metric_name("a:b_c9"));
    assert_false(mfmt_valid_metric_name("9abc"));
    assert_false(mfmt_valid_metric_name("a-b"));
    assert_false(mfmt_valid_metric_name(""));
    assert_true(mfmt_valid_label_name("actor"));
    assert_false(mfmt_valid_label_name("__name"));
    assert_false(mfmt_valid_label_name("a:b"));

    mfmt m;
    mfmt_init(&m);
    mfmt_family(&m, "bad-name", "counter", "x");
    mfmt_family(&m, "ok", "nonsense", "x");
    mfmt_family(&m, "ok_total", "counter", "x");
    mfmt_label bad = {"bad label", "v"};
    mfmt_sample_u64(&m, "ok_total", NULL, &bad, 1, 1);
    mfmt_label nullv = {"l", NULL};
    mfmt_sample_u64(&m, "ok_total", NULL, &nullv, 1, 1);
    mfmt_sample_u64(&m, "ok_total", "-x", NULL, 0, 1);
    mfmt_sample_u64(&m, "ok_total", NULL, NULL, 0, 7);
    assert_int_equal(m.bad, 5);
    char *t = mfmt_take(&m, NULL);
    assert_string_equal(t, "# HELP ok_total x\n# TYPE ok_total counter\nok_total 7\n");
    free(t);
}

static void test_fractions_round_trip(void **state)
{
    (void)state;
    mfmt m;
    mfmt_init(&m);
    mfmt_family(&m, "v", "gauge", NULL);
    mfmt_sample(&m, "v", NULL, NULL, 0, 0.1);
    mfmt_sample(&m, "v", NULL, NULL, 0, 1e-9);
    mfmt_sample(&m, "v", NULL, NULL, 0, -2.5);
    char *t = mfmt_take(&m, NULL);
    char *p = strchr(t, '\n') + 1;
    assert_true(strtod(p + 2, NULL) == 0.1);
    p = strchr(p, '\n') + 1;
    assert_true(strtod(p + 2, NULL) == 1e-9);
    p = strchr(p, '\n') + 1;
    assert_true(strtod(p + 2, NULL) == -2.5);
    free(t);
}

static void test_large_output_grows(void **state)
{
    (void)state;
    mfmt m;
    mfmt_init(&m);
    mfmt_family(&m, "big", "gauge", NULL);
    char v[32];
    for (int i = 0; i < 5000; i++) {
        snprintf(v, sizeof v, "%d", i);
        mfmt_label l = {"i", v};
        mfmt_sample_u64(&m, "big", NULL, &l, 1, (uint64_t)i);
    }
    size_t len;
    char *t = mfmt_take(&m, &len);
    assert_non_null(t);
    assert_true(len > 5000 * 10);
    assert_float_equal(metrics_check_value(t, "big{i=\"4999\"}"), 4999, 0);
    char where[256];
    assert_null(metrics_check_validate(t, where, sizeof where));
    free(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_family_and_samples),
        cmocka_unit_test(test_invalid_names_are_skipped),
        cmocka_unit_test(test_fractions_round_trip),
        cmocka_unit_test(test_large_output_grows),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
