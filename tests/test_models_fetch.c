/* The model-list fetcher (actors/models_fetch.h) over real sockets:
 * - a ComfyUI that accepts GET /object_info/..., sends its status line and headers, then stalls
 *   the body does not hold the stop for the request timeout: the cancel hook cuts the request
 *   in flight, the round ends there (no other class is asked), and what it half-sent never
 *   reaches the cache; models_fetch_cancel does the same without waiting, before the stop;
 * - no HTTP handle (comfy_http_new failing: out of memory) costs the round, not the thread:
 *   no crash, no round counted, and the next round (a poke) fills the cache from the fake
 *   ComfyUI once a handle can be made. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdatomic.h>
#include <stdbool.h>

#include "actors/comfy_http.h"
#include "actors/models_fetch.h"
#include "fakes/fake_comfy.h"
#include "fakes/fake_host.h"
#include "fluxbot/runtime.h"
#include "util/util_time.h"

/* A fetcher of nurls servers, every one the same host that sends its headers and then stalls
 * the body, with a request timeout far longer than the bounds the tests check (120 s; a round
 * asks for six classes, so without a cut a stop would wait six timeouts): only a cut ends the
 * request in time. Returns once the first request has reached the host. */
typedef struct stalled {
    fake_host *h;
    models_cache *cache;
    models_fetch *f;
} stalled;

static void stalled_start(stalled *st, size_t nurls)
{
    st->h = fake_host_start();
    assert_non_null(st->h);
    fake_host_stall(st->h);
    st->cache = models_new();
    const char *urls[] = {fake_host_url(st->h), fake_host_url(st->h)};
    assert_true(nurls <= sizeof urls / sizeof urls[0]);
    models_fetch_config c = {.cache = st->cache,
                             .urls = urls,
                             .nurls = nurls,
                             .refresh_ms = 600000,
                             .timeout_ms = 120000};
    char err[128];
    st->f = models_fetch_start(&c, err, sizeof err);
    assert_non_null(st->f);
    for (int i = 0; i < 1500 && fake_host_requests(st->h) == 0; i++)
        util_sleep_ms(10);
    assert_int_equal(fake_host_requests(st->h), 1);
}

/* Stops the fetcher, far below the 120 s timeout (the hook's poll and a loaded machine), and
 * checks that the round ended with the request that was cut: no other class or server was
 * asked, nothing was cached. */
static void stalled_stop(stalled *st)
{
    uint64_t t0 = rt_now_ms();
    models_fetch_stop(st->f);
    assert_true(rt_now_ms() - t0 < 30000);
    assert_int_equal(fake_host_requests(st->h), 1);
    assert_int_equal(models_count(st->cache, "unet", NULL), 0);
    models_free(st->cache);
    fake_host_stop(st->h);
}

static void test_stop_cuts_a_stalled_request(void **state)
{
    (void)state;
    stalled st;
    stalled_start(&st, 1);
    util_sleep_ms(300); /* the headers are in, the body is not coming */
    stalled_stop(&st);
}

/* models_fetch_cancel returns at once and ends the thread's work by itself: the stalled
 * request is cut without anyone joining, and no other is started afterwards. */
static void test_cancel_cuts_without_waiting(void **state)
{
    (void)state;
    stalled st;
    stalled_start(&st, 2);
    models_fetch_cancel(st.f);
    models_fetch_cancel(st.f); /* twice is harmless */
    /* the hook polls about once a second: 3 s later the thread is past the round; without the
     * cut, the request would still stall (120 s) or the next server be asked */
    util_sleep_ms(3000);
    assert_int_equal(fake_host_requests(st.h), 1);
    assert_int_equal(models_fetch_rounds(st.f), 0);
    stalled_stop(&st);
}

static atomic_int http_failures_left, http_made;

/* comfy_http_new as it behaves out of memory, for the first http_failures_left calls. */
static comfy_http *failing_http_new(void)
{
    if (atomic_fetch_sub(&http_failures_left, 1) > 0) return NULL;
    atomic_fetch_add(&http_made, 1);
    return comfy_http_new();
}

static void test_no_http_handle_costs_a_round(void **state)
{
    (void)state;
    fake_comfy_opts co = {.steps = 1};
    fake_comfy *comfy = fake_comfy_start(&co);
    assert_non_null(comfy);
    models_cache *cache = models_new();
    const char *urls[] = {fake_comfy_url(comfy)};
    atomic_store(&http_failures_left, 2);
    atomic_store(&http_made, 0);
    models_fetch_config c = {.cache = cache,
                             .urls = urls,
                             .nurls = 1,
                             .refresh_ms = 600000,
                             .timeout_ms = 10000,
                             .http_new = failing_http_new};
    char err[128];
    models_fetch *f = models_fetch_start(&c, err, sizeof err);
    assert_non_null(f);
    /* the first round found no handle: nothing fetched, nothing counted, the thread waits */
    for (int i = 0; i < 500 && atomic_load(&http_failures_left) > 1; i++)
        util_sleep_ms(10);
    assert_int_equal(atomic_load(&http_failures_left), 1);
    util_sleep_ms(200);
    assert_int_equal(models_fetch_rounds(f), 0);
    assert_int_equal(models_count(cache, "unet", NULL), 0);
    /* a poke: the second attempt fails too */
    models_fetch_poke(f);
    for (int i = 0; i < 500 && atomic_load(&http_failures_left) > 0; i++)
        util_sleep_ms(10);
    util_sleep_ms(200);
    assert_int_equal(models_fetch_rounds(f), 0);
    /* the third gets a handle: the round runs and fills the cache from the fake's lists */
    models_fetch_poke(f);
    for (int i = 0; i < 3000 && models_fetch_rounds(f) == 0; i++)
        util_sleep_ms(10);
    assert_int_equal(models_fetch_rounds(f), 1);
    assert_int_equal(atomic_load(&http_made), 1);
    assert_true(models_count(cache, "unet", NULL) > 0);
    models_fetch_stop(f);
    models_free(cache);
    fake_comfy_stop(comfy);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_stop_cuts_a_stalled_request),
        cmocka_unit_test(test_cancel_cuts_without_waiting),
        cmocka_unit_test(test_no_http_handle_costs_a_round),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
