/* The model-list fetcher (actors/models_fetch.h) over real sockets: a ComfyUI that accepts
 * GET /object_info/..., sends its status line and headers, then stalls the body does not hold
 * the stop for the request timeout (the cancel hook cuts the request in flight and every one
 * left in the round), and what it half-sent never reaches the cache. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "actors/models_fetch.h"
#include "fakes/fake_host.h"
#include "fluxbot/runtime.h"
#include "util/util_time.h"

static void test_stop_cuts_a_stalled_request(void **state)
{
    (void)state;
    fake_host *h = fake_host_start();
    assert_non_null(h);
    fake_host_stall(h);
    models_cache *cache = models_new();
    const char *urls[] = {fake_host_url(h)};
    /* a request timeout far longer than the bound below: only the cancel hook ends it in time
     * (a round asks for six classes, so without it the stop would wait six timeouts) */
    models_fetch_config c = {
        .cache = cache, .urls = urls, .nurls = 1, .refresh_ms = 600000, .timeout_ms = 120000};
    char err[128];
    models_fetch *f = models_fetch_start(&c, err, sizeof err);
    assert_non_null(f);
    for (int i = 0; i < 1500 && fake_host_requests(h) == 0; i++)
        util_sleep_ms(10);
    assert_int_equal(fake_host_requests(h), 1);
    util_sleep_ms(300); /* the headers are in, the body is not coming */
    uint64_t t0 = rt_now_ms();
    models_fetch_stop(f);
    uint64_t took = rt_now_ms() - t0;
    assert_true(took < 30000); /* the hook's poll and a loaded machine: far below 120 s */
    assert_true(fake_host_requests(h) <= 6); /* the round ended, no retry loop */
    assert_int_equal(models_count(cache, "unet", NULL), 0);
    models_free(cache);
    fake_host_stop(h);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_stop_cuts_a_stalled_request),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
