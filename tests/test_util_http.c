/* util_http_get against the fake Discord REST server on loopback: the one User-Agent, the
 * Authorization header, the body cap and the cancel hook. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "fakes/fake_rest.h"
#include "fluxbot/log.h"
#include "util/util_http.h"

static bool always(void *ctx)
{
    (void)ctx;
    return true;
}

static void test_get_is_bounded_and_identified(void **state)
{
    (void)state;
    fake_rest_config fc = {.token = "http-test-token", .application_id = 77};
    fake_rest *f = fake_rest_start(&fc);
    assert_non_null(f);
    char url[256];
    snprintf(url, sizeof url, "%s/users/@me", fake_rest_base_url(f));

    util_http_res res;
    util_http_opts o = {.authorization = "Bot http-test-token", .timeout_ms = 5000};
    assert_int_equal(util_http_get(url, &o, &res), 0);
    assert_int_equal(res.status, 200);
    assert_non_null(res.body);
    assert_int_equal(strlen(res.body), res.len);
    util_http_res_free(&res);
    fake_rest_request *reqs = NULL;
    size_t n = fake_rest_collect(f, &(fake_rest_filter){.path_prefix = "/users/@me"}, &reqs);
    assert_int_equal(n, 1);
    assert_string_equal(reqs[0].user_agent, UTIL_HTTP_USER_AGENT);
    assert_string_equal(reqs[0].authorization, "Bot http-test-token");
    fake_rest_requests_free(reqs, n);

    /* a body over the cap fails the call instead of filling memory */
    o.max_bytes = 8;
    assert_int_equal(util_http_get(url, &o, &res), -1);
    assert_true(res.too_large);
    assert_null(res.body);
    util_http_res_free(&res);

    /* the cancel hook stops a transfer (an actor asked to stop) */
    fake_rest_script(f, "GET", "/users", FAKE_REST_FAULT_DELAY, 2000, 1);
    o.max_bytes = 0;
    o.cancel = always;
    assert_int_equal(util_http_get(url, &o, &res), -1);
    assert_true(res.cancelled);
    assert_string_equal(res.error, "cancelled");
    util_http_res_free(&res);

    /* nothing listening: a clear transport error */
    assert_int_equal(
        util_http_get("http://127.0.0.1:9/x", &(util_http_opts){.timeout_ms = 2000}, &res), -1);
    assert_int_equal(res.status, 0);
    assert_true(res.error[0] != '\0');
    util_http_res_free(&res);
    fake_rest_stop(f);
}

int main(void)
{
    log_configure(LOG_LEVEL_WARN, false, 2);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_get_is_bounded_and_identified),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
