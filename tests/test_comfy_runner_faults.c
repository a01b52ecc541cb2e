/* The runner under ComfyUI faults, over real sockets: a server restarted mid-job (the job
 * finishes on the other server), a hung server (stall timeout, resubmitted), a silent socket
 * (finished through /history), a dropped websocket (reconnect and reconcile, no resubmit), an
 * interrupt, a 400 validation error, a job lost twice, and a graceful stop. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "cfx.h"

static void slow(fb_config *cfg, comfy_runner_config *rc, fake_comfy_opts *o)
{
    (void)cfg;
    (void)rc;
    o->steps = 25;
    o->step_delay_ms = 40;
}

static bool has_progress(const fake_comfy_stats *s, void *arg)
{
    (void)arg;
    return s->prompts_accepted >= 1 && s->queue_remaining == 1;
}

static void wait_running(fake_comfy *f)
{
    assert_true(fake_comfy_wait(f, has_progress, NULL, 5000));
    util_sleep_ms(200); /* a few steps in */
}

/* The server (index) that accepted the one prompt so far, and holds it in its queue when
 * queued is set; asserted to be found within 5 s. */
static int server_with_prompt(cfx *x, bool queued)
{
    int on = -1;
    for (int i = 0; i < 500 && on < 0; i++) {
        for (int k = 0; k < 2; k++) {
            fake_comfy_stats s;
            fake_comfy_get_stats(x->srv[k], &s);
            if (s.prompts_accepted == 1 && (!queued || s.queue_remaining == 1)) on = k;
        }
        if (on < 0) util_sleep_ms(10);
    }
    assert_true(on >= 0);
    return on;
}

static void test_restart_mid_job_finishes_on_other_server(void **state)
{
    (void)state;
    char tok[64];
    cfx *x = cfx_start_job(2, slow, "restart me", tok);
    wait_running(x->srv[0]);
    fake_comfy_restart(x->srv[0]);
    uint8_t *png = NULL;
    size_t len = 0;
    char *final = cfx_wait_final(x, tok, &png, &len, 15000);
    assert_non_null(final);
    assert_non_null(png);
    char err[128];
    assert_int_equal(img_png_validate(png, len, NULL, NULL, err, sizeof err), 0);
    assert_non_null(strstr(final, "server 2")); /* the embed names where it ran */
    free(final);
    free(png);
    fake_comfy_stats a, b;
    fake_comfy_get_stats(x->srv[0], &a);
    fake_comfy_get_stats(x->srv[1], &b);
    assert_int_equal(a.restarts, 1);
    assert_int_equal(a.prompts_succeeded, 0);
    assert_int_equal(b.prompts_succeeded, 1);
    comfy_runner_counters st;
    comfy_runner_counters_get(x->cr, &st);
    assert_int_equal(st.jobs_resubmitted, 1);
    assert_int_equal(st.jobs_succeeded, 1);
    cfx_stop(x);
}

static void test_hung_server_stall_resubmits(void **state)
{
    (void)state;
    cfx *x = cfx_start(2, NULL);
    assert_non_null(x);
    fake_comfy_set_hang(x->srv[0], true);
    uint64_t ix;
    char tok[64];
    uint64_t t0 = rt_now_ms();
    cfx_send(x, cfx_job(x, COMFY_KIND_IMAGE, "hang", 1, &ix, tok));
    cfx_expect_final(x, tok, 15000, "\"embeds\":[{");
    assert_true(rt_now_ms() - t0 >= 1500); /* not before the stall timeout */
    fake_comfy_stats a, b;
    fake_comfy_get_stats(x->srv[0], &a);
    fake_comfy_get_stats(x->srv[1], &b);
    assert_int_equal(b.prompts_succeeded, 1);
    assert_true(a.interrupts >= 1); /* the stalled prompt was interrupted on its server */
    fake_comfy_set_hang(x->srv[0], false);
    cfx_stop(x);
}

static void test_silent_socket_finishes_through_history(void **state)
{
    (void)state;
    cfx *x = cfx_start(1, NULL);
    assert_non_null(x);
    fake_comfy_set_silent(x->srv[0], true);
    uint64_t ix;
    char tok[64];
    cfx_send(x, cfx_job(x, COMFY_KIND_IMAGE, "quiet", 1, &ix, tok));
    uint8_t *png = NULL;
    size_t len;
    char *final = cfx_wait_final(x, tok, &png, &len, 10000);
    assert_non_null(final);
    assert_non_null(png);
    free(png);
    free(final);
    comfy_runner_counters st;
    comfy_runner_counters_get(x->cr, &st);
    assert_int_equal(st.jobs_resubmitted, 0);
    assert_int_equal(st.jobs_succeeded, 1);
    cfx_stop(x);
}

static void longer(fb_config *cfg, comfy_runner_config *rc, fake_comfy_opts *o)
{
    (void)cfg;
    (void)rc;
    o->steps = 60;
    o->step_delay_ms = 40;
}

static bool reconnected(const fake_comfy_stats *s, void *arg)
{
    (void)arg;
    return s->ws_connects >= 2 && s->ws_open == 1;
}

static void test_ws_drop_reconnects_and_reconciles(void **state)
{
    (void)state;
    char tok[64];
    cfx *x = cfx_start_job(1, longer, "drop", tok);
    wait_running(x->srv[0]);
    fake_comfy_drop_ws(x->srv[0]);
    /* the socket comes back while the job still runs, and events flow again */
    assert_true(fake_comfy_wait(x->srv[0], reconnected, NULL, 5000));
    comfy_runner_counters before;
    comfy_runner_counters_get(x->cr, &before);
    cfx_expect_final(x, tok, 15000, "\"embeds\":[{");
    fake_comfy_stats a;
    fake_comfy_get_stats(x->srv[0], &a);
    assert_int_equal(a.prompts_accepted, 1);
    comfy_runner_counters st;
    comfy_runner_counters_get(x->cr, &st);
    assert_int_equal(st.jobs_resubmitted, 0);
    assert_true(st.events_routed > before.events_routed); /* routed after the reconnect */
    cfx_stop(x);
}

static void test_interrupt_and_validation_error(void **state)
{
    (void)state;
    char tok[64];
    cfx *x = cfx_start_job(1, slow, "stop it", tok);
    wait_running(x->srv[0]);
    fake_comfy_interrupt(x->srv[0]);
    cfx_expect_final(x, tok, 10000, "interrupted on the ComfyUI server");
    fake_comfy_set_reject(x->srv[0], true);
    uint64_t ix;
    cfx_send(x, cfx_job(x, COMFY_KIND_IMAGE, "rejected", 1, &ix, tok));
    cfx_expect_final(x, tok, 10000, "rejected the workflow at node 9 (SaveImage)");
    cfx_stop(x);
}

static void test_lost_twice_fails_clearly(void **state)
{
    (void)state;
    char tok[64];
    cfx *x = cfx_start_job(1, slow, "unlucky", tok);
    wait_running(x->srv[0]);
    fake_comfy_restart(x->srv[0]);
    /* resubmitted on the only server once it is back; lose it again */
    for (int i = 0; i < 500; i++) {
        fake_comfy_stats s;
        fake_comfy_get_stats(x->srv[0], &s);
        if (s.prompts_accepted >= 2 && s.queue_remaining == 1) break;
        util_sleep_ms(10);
    }
    util_sleep_ms(150);
    fake_comfy_restart(x->srv[0]);
    cfx_expect_final(x, tok, 15000, "lost twice");
    cfx_stop(x);
}

static void one_thread(fb_config *cfg, comfy_runner_config *rc, fake_comfy_opts *o)
{
    cfg->runner_threads = 1;
    rc->stop_grace_ms = 800;
    o->steps = 400; /* a 20 s job: only a bounded stop can end this test in time */
    o->step_delay_ms = 50;
}

static void test_graceful_stop_is_bounded_and_answers(void **state)
{
    (void)state;
    cfx *x = cfx_start(1, one_thread);
    assert_non_null(x);
    uint64_t ix1, ix2;
    char tok1[64], tok2[64];
    cfx_send(x, cfx_job(x, COMFY_KIND_IMAGE, "long one", 1, &ix1, tok1));
    cfx_send(x, cfx_job(x, COMFY_KIND_IMAGE, "waiting one", 2, &ix2, tok2));
    wait_running(x->srv[0]);
    uint64_t t0 = rt_now_ms();
    rt_system_stop(x->sys);
    x->stopped = true;
    uint64_t took = rt_now_ms() - t0;
    assert_true(took < 8000); /* grace 800 ms + wrap-up, not the 20 s job */
    char *f1 = cfx_wait_final(x, tok1, NULL, NULL, 100);
    char *f2 = cfx_wait_final(x, tok2, NULL, NULL, 100);
    assert_non_null(f1);
    assert_non_null(f2);
    assert_non_null(strstr(f1, "was interrupted"));
    assert_non_null(strstr(f2, "was not started"));
    free(f1);
    free(f2);
    fake_comfy_stats s;
    fake_comfy_get_stats(x->srv[0], &s);
    assert_true(s.interrupts >= 1); /* the GPU was freed */
    cfx_stop(x);
}

/* An operator removes the waiting prompt from ComfyUI's queue (POST /queue) while the server
 * and its websocket stay up: the job fails as cancelled and is not resubmitted elsewhere. */
static void test_operator_cancel_is_not_resubmitted(void **state)
{
    (void)state;
    cfx *x = cfx_start(2, NULL);
    assert_non_null(x);
    fake_comfy_set_paused(x->srv[0], true);
    fake_comfy_set_paused(x->srv[1], true);
    uint64_t ix;
    char tok[64];
    cfx_send(x, cfx_job(x, COMFY_KIND_IMAGE, "cancel me", 1, &ix, tok));
    int on = server_with_prompt(x, false);
    util_sleep_ms(300); /* the runner has seen it waiting */
    char url[128];
    snprintf(url, sizeof url, "%s/queue", fake_comfy_url(x->srv[on]));
    comfy_http_res r;
    assert_int_equal(comfy_http_post_json(x->http, url, "{\"clear\":true}", 5000, &r), 0);
    assert_int_equal(r.status, 200);
    comfy_http_res_free(&r);
    cfx_expect_final(x, tok, 15000, "cancelled on the ComfyUI server");
    fake_comfy_stats a, b;
    fake_comfy_get_stats(x->srv[0], &a);
    fake_comfy_get_stats(x->srv[1], &b);
    assert_int_equal(a.prompts_accepted + b.prompts_accepted, 1); /* never resubmitted */
    comfy_runner_counters st;
    comfy_runner_counters_get(x->cr, &st);
    assert_int_equal(st.jobs_resubmitted, 0);
    fake_comfy_set_paused(x->srv[0], false);
    fake_comfy_set_paused(x->srv[1], false);
    cfx_stop(x);
}

static void long_stall(fb_config *cfg, comfy_runner_config *rc, fake_comfy_opts *o)
{
    cfg->job_stall_timeout_ms = 120000; /* the dead server must not wait for this */
    cfg->comfyui_down_after_failures = 3;
    rc->reconcile_poll_ms = 200;
    o->steps = 25;
    o->step_delay_ms = 40;
}

/* A server that dies mid-job (socket dropped, HTTP unanswered): after a few failed reconciles
 * the job is resubmitted on the other server at once, not after job_stall_timeout_ms. */
static void test_dead_server_resubmits_at_once(void **state)
{
    (void)state;
    char tok[64];
    cfx *x = cfx_start_job(2, long_stall, "server dies", tok);
    int on = server_with_prompt(x, true);
    util_sleep_ms(200);
    uint64_t t0 = rt_now_ms();
    fake_comfy_set_down(x->srv[on], true);
    char *final = cfx_wait_final(x, tok, NULL, NULL, 30000);
    uint64_t took = rt_now_ms() - t0;
    assert_non_null(final);
    assert_non_null(strstr(final, "\"embeds\":[{"));
    free(final);
    assert_true(took < 60000); /* well under job_stall_timeout_ms */
    fake_comfy_stats other;
    fake_comfy_get_stats(x->srv[1 - on], &other);
    assert_int_equal(other.prompts_accepted, 1);
    comfy_runner_counters st;
    comfy_runner_counters_get(x->cr, &st);
    assert_int_equal(st.jobs_resubmitted, 1);
    /* the user was told while it moved */
    bool said = false;
    fake_rest_request *reqs = NULL;
    size_t n = cfx_reqs(x, "PATCH", tok, &reqs);
    for (size_t i = 0; i < n; i++) {
        const char *b = cfx_body(&reqs[i]);
        if (b && strstr(b, "retrying on another server")) said = true;
    }
    fake_rest_requests_free(reqs, n);
    assert_true(said);
    fake_comfy_set_down(x->srv[on], false);
    cfx_stop(x);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_restart_mid_job_finishes_on_other_server),
        cmocka_unit_test(test_hung_server_stall_resubmits),
        cmocka_unit_test(test_silent_socket_finishes_through_history),
        cmocka_unit_test(test_ws_drop_reconnects_and_reconciles),
        cmocka_unit_test(test_interrupt_and_validation_error),
        cmocka_unit_test(test_lost_twice_fails_clearly),
        cmocka_unit_test(test_graceful_stop_is_bounded_and_answers),
        cmocka_unit_test(test_operator_cancel_is_not_resubmitted),
        cmocka_unit_test(test_dead_server_resubmits_at_once),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
