/* Delivery of finished jobs through Discord trouble (fake Discord REST, fake ComfyUI, loopback):
 * a few seconds of 503 on PATCH no longer lose finished results; a result that cannot be posted
 * before the interaction token expires is announced through a follow-up or, when webhooks fail
 * too, a channel message; image_stats records what the user got. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "cfx.h"

static rl_config fast_backoff;

static void use_fast_backoff(void)
{
    rl_config_defaults(&fast_backoff);
    fast_backoff.backoff_base_ms = 50;
    fast_backoff.backoff_max_ms = 400;
    cfx_rest_limits = &fast_backoff;
}

static void short_token(fb_config *cfg, comfy_runner_config *rc, fake_comfy_opts *o)
{
    (void)cfg;
    (void)o;
    rc->token_valid_ms = 4000;
}

static char *webhook_prefix(const char *token)
{
    char *p = malloc(128);
    snprintf(p, 128, "/webhooks/%" PRIu64 "/%s", (uint64_t)CFX_APP, token);
    return p;
}

/* Waits until the message of interaction ix holds the result (an embed and an attachment). */
static bool wait_result_shown(cfx *x, uint64_t ix, unsigned timeout_ms)
{
    uint64_t end = rt_now_ms() + timeout_ms;
    for (;;) {
        fake_rest_ix_state st;
        bool shown = false;
        if (fake_rest_interaction_state(x->rest, ix, &st)) {
            shown = st.original_json && strstr(st.original_json, "\"embeds\":[{") &&
                    strstr(st.original_json, "\"attachments\":[{");
            free(st.original_json);
        }
        if (shown) return true;
        if (rt_now_ms() > end) return false;
        util_sleep_ms(20);
    }
}

static void test_503_blip_on_patch_loses_no_result(void **state)
{
    (void)state;
    use_fast_backoff();
    cfx *x = cfx_start(1, NULL);
    assert_non_null(x);
    enum { JOBS = 3 };
    uint64_t ix[JOBS];
    char tok[JOBS][64];
    /* every PATCH of a webhook message fails for 2.5 s: progress edits and results alike */
    fake_rest_outage(x->rest, "PATCH", "/webhooks/", FAKE_REST_FAULT_503, 2500);
    for (int i = 0; i < JOBS; i++) {
        char prompt[32];
        snprintf(prompt, sizeof prompt, "a lighthouse %d", i);
        cfx_send(x, cfx_job(x, COMFY_KIND_IMAGE, prompt, 10 + (uint64_t)i, &ix[i], tok[i]));
    }
    assert_true(cfx_wait_jobs_done(x, JOBS, 20000));
    for (int i = 0; i < JOBS; i++)
        assert_true(wait_result_shown(x, ix[i], 20000));
    /* the outage did happen to these results */
    fake_rest_filter f503 = {.method = "PATCH", .path_prefix = "/webhooks/", .status = 503};
    assert_true(fake_rest_count(x->rest, &f503) >= JOBS);
    rt_system_stop(x->sys);
    x->stopped = true;
    assert_int_equal(cfx_sql_count(x, "SELECT COUNT(*) FROM image_stats WHERE success=1"), JOBS);
    assert_int_equal(cfx_sql_count(x, "SELECT COUNT(*) FROM image_stats WHERE success=0"), 0);
    cfx_stop(x);
    cfx_rest_limits = NULL;
}

static void test_undeliverable_result_is_announced_by_followup(void **state)
{
    (void)state;
    use_fast_backoff();
    cfx *x = cfx_start(1, short_token);
    assert_non_null(x);
    uint64_t ix;
    char tok[64];
    comfy_job_msg *m = cfx_job(x, COMFY_KIND_IMAGE, "a castle", 21, &ix, tok);
    char *prefix = webhook_prefix(tok);
    fake_rest_outage(x->rest, "PATCH", prefix, FAKE_REST_FAULT_503, 60000);
    cfx_send(x, m);
    fake_rest_filter fu = {.method = "POST", .path_prefix = prefix, .status = 200};
    assert_true(fake_rest_wait(x->rest, &fu, 1, 20000) >= 1);
    fake_rest_request *reqs = NULL;
    size_t n = fake_rest_collect(x->rest, &fu, &reqs);
    assert_int_equal(n, 1);
    assert_non_null(strstr(cfx_body(&reqs[0]), "could not be posted"));
    assert_non_null(strstr(cfx_body(&reqs[0]), "\"allowed_mentions\":{\"parse\":[]}"));
    fake_rest_requests_free(reqs, n);
    /* the final edit was retried until shortly before the token expired, not 4 times */
    fake_rest_filter fp = {.method = "PATCH", .path_prefix = prefix, .status = 503};
    assert_true(fake_rest_count(x->rest, &fp) > 5);
    rt_system_stop(x->sys);
    x->stopped = true;
    assert_int_equal(cfx_sql_count(x, "SELECT COUNT(*) FROM image_stats WHERE success=1"), 0);
    assert_int_equal(cfx_sql_count(x, "SELECT COUNT(*) FROM image_stats WHERE success=0"), 1);
    assert_int_equal(cfx_sql_count(x, "SELECT COUNT(*) FROM user_activity WHERE action_type="
                                      "'job_failed' AND details LIKE '%not_delivered%'"),
                     1);
    free(prefix);
    cfx_stop(x);
    cfx_rest_limits = NULL;
}

static void test_channel_message_when_webhooks_fail(void **state)
{
    (void)state;
    use_fast_backoff();
    cfx *x = cfx_start(1, short_token);
    assert_non_null(x);
    uint64_t ix;
    char tok[64];
    comfy_job_msg *m = cfx_job(x, COMFY_KIND_IMAGE, "a harbour", 22, &ix, tok);
    char *prefix = webhook_prefix(tok);
    fake_rest_outage(x->rest, NULL, prefix, FAKE_REST_FAULT_502, 60000);
    cfx_send(x, m);
    char chan[64];
    snprintf(chan, sizeof chan, "/channels/%" PRIu64 "/messages", (uint64_t)CFX_CHANNEL);
    fake_rest_filter fc = {.method = "POST", .path_prefix = chan, .status = 200};
    assert_true(fake_rest_wait(x->rest, &fc, 1, 20000) >= 1);
    fake_rest_request *reqs = NULL;
    size_t n = fake_rest_collect(x->rest, &fc, &reqs);
    assert_int_equal(n, 1);
    const char *b = cfx_body(&reqs[0]);
    assert_non_null(strstr(b, "<@22>"));
    assert_non_null(strstr(b, "could not be posted"));
    assert_non_null(strstr(b, "\"allowed_mentions\":{\"parse\":[]}"));
    assert_non_null(reqs[0].authorization); /* a bot route: the bot's token, not the webhook's */
    fake_rest_requests_free(reqs, n);
    rt_system_stop(x->sys);
    x->stopped = true;
    assert_int_equal(cfx_sql_count(x, "SELECT COUNT(*) FROM image_stats WHERE success=0"), 1);
    free(prefix);
    cfx_stop(x);
    cfx_rest_limits = NULL;
}

/* A job that fails at once: its "Preparing" edit gets a 503 and is retried after a backoff;
 * the failure sent meanwhile must still be what the message ends on. */
static void test_failure_is_not_overwritten_by_a_retried_progress_edit(void **state)
{
    (void)state;
    use_fast_backoff();
    cfx *x = cfx_start(1, NULL);
    assert_non_null(x);
    const char *txt = "this is not an image at all, just text pretending";
    char *url = cfx_host_file(x, "fake.png", (const uint8_t *)txt, strlen(txt));
    uint64_t ix;
    char tok[64];
    comfy_job_msg *m = cfx_job(x, COMFY_KIND_PULID, "me", 61, &ix, tok);
    comfy_job_add_image(m, 1, url, "fake.png", "image/png", strlen(txt));
    free(url);
    char *prefix = webhook_prefix(tok);
    fake_rest_script(x->rest, "PATCH", prefix, FAKE_REST_FAULT_503, 0, 1);
    cfx_send(x, m);
    assert_true(cfx_wait_jobs_done(x, 1, 10000));
    /* the failure reached Discord, and the REST actor has nothing left to send */
    fake_rest_filter ok = {.method = "PATCH", .path_prefix = prefix, .status = 200};
    assert_true(fake_rest_wait(x->rest, &ok, 1, 10000) >= 1);
    for (int i = 0; i < 1000; i++) {
        discord_rest_counters ds;
        discord_rest_counters_get(x->dr, &ds);
        if (ds.pending == 0 && ds.in_flight == 0) break;
        util_sleep_ms(10);
    }
    rt_system_stop(x->sys);
    x->stopped = true;
    fake_rest_ix_state st;
    assert_true(fake_rest_interaction_state(x->rest, ix, &st));
    assert_non_null(st.original_json);
    assert_non_null(strstr(st.original_json, "not a PNG, JPEG or WebP"));
    free(st.original_json);
    free(prefix);
    cfx_stop(x);
    cfx_rest_limits = NULL;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_503_blip_on_patch_loses_no_result),
        cmocka_unit_test(test_undeliverable_result_is_announced_by_followup),
        cmocka_unit_test(test_channel_message_when_webhooks_fail),
        cmocka_unit_test(test_failure_is_not_overwritten_by_a_retried_progress_edit),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
