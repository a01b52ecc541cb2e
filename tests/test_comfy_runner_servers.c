/* No reachable ComfyUI (fake ComfyUI and fake Discord REST on loopback): jobs wait in the
 * coordinator's line without a runner thread each, are answered together once the outage has
 * lasted no_server_wait_ms, run as soon as a server returns, and a server that leaves
 * POST /prompt unanswered costs one timeout, not one per attempt. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "cfx.h"

static void one_thread_short_wait(fb_config *cfg, comfy_runner_config *rc, fake_comfy_opts *o)
{
    (void)o;
    cfg->runner_threads = 1;
    cfg->user_max_concurrent_jobs = 10;
    rc->no_server_wait_ms = 1500;
}

static bool wait_servers_up(cfx *x, unsigned want, unsigned timeout_ms)
{
    uint64_t end = rt_now_ms() + timeout_ms;
    for (;;) {
        comfy_runner_counters st;
        comfy_runner_counters_get(x->cr, &st);
        if (st.servers_up == want) return true;
        if (rt_now_ms() > end) return false;
        util_sleep_ms(10);
    }
}

/* The time (ms since the fake started) of the failure edit of token, or -1. */
static int64_t failure_at(cfx *x, const char *token, const char *needle)
{
    fake_rest_request *reqs = NULL;
    size_t n = cfx_reqs(x, "PATCH", token, &reqs);
    int64_t at = -1;
    for (size_t i = 0; i < n && at < 0; i++) {
        const char *b = cfx_body(&reqs[i]);
        if (b && strstr(b, needle) && reqs[i].status == 200) at = reqs[i].t_ms;
    }
    fake_rest_requests_free(reqs, n);
    return at;
}

static void test_jobs_fail_together_when_no_server_is_up(void **state)
{
    (void)state;
    cfx *x = cfx_start(1, one_thread_short_wait);
    assert_non_null(x);
    fake_comfy_stop(x->srv[0]); /* nothing listens there any more */
    x->nsrv = 0;
    assert_true(wait_servers_up(x, 0, 10000));
    enum { JOBS = 4 };
    uint64_t ix[JOBS];
    char tok[JOBS][64];
    for (int i = 0; i < JOBS; i++)
        cfx_send(x, cfx_job(x, COMFY_KIND_IMAGE, "a lake", 30 + (uint64_t)i, &ix[i], tok[i]));
    /* they wait in the line: no runner thread is held by a job without a server */
    util_sleep_ms(300);
    comfy_runner_counters st;
    comfy_runner_counters_get(x->cr, &st);
    assert_int_equal(st.running, 0);
    assert_int_equal(st.waiting, JOBS);
    assert_true(cfx_wait_jobs_done(x, JOBS, 20000));
    int64_t first = INT64_MAX, last = 0;
    for (int i = 0; i < JOBS; i++) {
        int64_t at = -1;
        for (int k = 0; k < 500 && at < 0; k++, util_sleep_ms(10))
            at = failure_at(x, tok[i], "No ComfyUI server is reachable");
        assert_true(at >= 0);
        if (at < first) first = at;
        if (at > last) last = at;
    }
    /* answered together, not one no_server_wait_ms after another (that would be 4.5 s apart) */
    assert_true(last - first < 1000);
    rt_system_stop(x->sys);
    x->stopped = true;
    assert_int_equal(cfx_sql_count(x, "SELECT COUNT(*) FROM image_stats WHERE success=0"), JOBS);
    assert_int_equal(cfx_sql_count(x, "SELECT COUNT(*) FROM user_activity WHERE action_type="
                                      "'job_failed' AND details LIKE '%no_server%'"),
                     JOBS);
    cfx_stop(x);
}

static void one_thread_long_wait(fb_config *cfg, comfy_runner_config *rc, fake_comfy_opts *o)
{
    (void)o;
    cfg->runner_threads = 1;
    cfg->user_max_concurrent_jobs = 10;
    rc->no_server_wait_ms = 60000;
}

static void test_waiting_jobs_run_when_a_server_returns(void **state)
{
    (void)state;
    cfx *x = cfx_start(1, one_thread_long_wait);
    assert_non_null(x);
    fake_comfy_set_refuse_ws(x->srv[0], true);
    fake_comfy_drop_ws(x->srv[0]);
    assert_true(wait_servers_up(x, 0, 10000));
    uint64_t ix[2];
    char tok[2][64];
    for (int i = 0; i < 2; i++)
        cfx_send(x, cfx_job(x, COMFY_KIND_IMAGE, "a bridge", 40 + (uint64_t)i, &ix[i], tok[i]));
    util_sleep_ms(300);
    comfy_runner_counters st;
    comfy_runner_counters_get(x->cr, &st);
    assert_int_equal(st.running, 0);
    assert_int_equal(st.waiting, 2);
    fake_comfy_set_refuse_ws(x->srv[0], false);
    for (int i = 0; i < 2; i++) {
        char *final = cfx_wait_final(x, tok[i], NULL, NULL, 40000);
        assert_non_null(final);
        assert_non_null(strstr(final, "\"embeds\":[{"));
        free(final);
    }
    cfx_stop(x);
}

static void hang_tune(fb_config *cfg, comfy_runner_config *rc, fake_comfy_opts *o)
{
    (void)o;
    cfg->runner_threads = 1;
    rc->http_timeout_ms = 1500;
    rc->no_server_wait_ms = 60000;
}

static void test_unanswered_prompt_costs_one_timeout(void **state)
{
    (void)state;
    cfx *x = cfx_start(1, hang_tune);
    assert_non_null(x);
    fake_comfy_set_hang_prompt(x->srv[0], true);
    uint64_t ix;
    char tok[64];
    cfx_send(x, cfx_job(x, COMFY_KIND_IMAGE, "a tower", 50, &ix, tok));
    char *final = cfx_wait_final(x, tok, NULL, NULL, 30000);
    assert_non_null(final);
    fake_comfy_stats fs;
    fake_comfy_get_stats(x->srv[0], &fs);
    assert_int_equal(fs.prompt_posts, 1); /* not resubmitted into the same silence */
    assert_non_null(strstr(final, "did not answer in time"));
    free(final);
    cfx_stop(x);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_jobs_fail_together_when_no_server_is_up),
        cmocka_unit_test(test_waiting_jobs_run_when_a_server_returns),
        cmocka_unit_test(test_unanswered_prompt_costs_one_timeout),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
