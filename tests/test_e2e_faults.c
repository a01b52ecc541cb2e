/*
 * The real `fluxbot` binary as a child process, under a steady load from simulated users,
 * against the loopback fakes:
 *   - faults at once: the gateway is told to reconnect (op 7), then its TCP connection is
 *     killed (and the operator sends SIGHUP), then a ComfyUI server restarts with a job on it;
 *     afterwards every interaction was answered exactly once, every generation finished, the
 *     database holds exactly one command_usage row per interaction and one successful
 *     image_stats row per job, and the child's metrics endpoint tells the same story
 *     (reconnects, the resubmitted job, outcomes by command);
 *   - SIGTERM in the middle of the load: exit status 0, and every interaction Discord saw
 *     answered (and every job that delivered its picture) has its row committed.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "e2e_util.h"
#include "metrics_check.h"

static bool comfy_busy(const fake_comfy_stats *s, void *arg)
{
    (void)arg;
    return s->prompts_accepted > s->prompts_finished;
}

static void test_faults_during_steady_load(void **state)
{
    (void)state;
    static e2e_world w;
    char port[16];
    unsigned mport = metrics_check_free_port();
    assert_true(mport > 0);
    snprintf(port, sizeof port, "%u", mport);
    const char *args[] = {"--job-stall-timeout-ms", "4000", "--metrics-port", port, NULL};
    assert_true(e2e_start(&w, 40, args));
    fake_gateway *gw = fake_discord_gateway(w.fd);
    fake_gateway_stats g0;
    fake_gateway_get_stats(gw, &g0);

    e2e_sched s;
    e2e_sched_init(&s, e2e_ms() * 1000000ull, 15.0, 5.0);
    bool reconnected = false, dropped = false, restarted = false;
    for (uint64_t i = 0; i < s.count; i++) {
        uint64_t due_ms = e2e_sched_due(&s, i) / 1000000ull;
        while (e2e_ms() < due_ms)
            e2e_sleep(1);
        assert_true(e2e_send_one(&w));
        uint64_t el = due_ms - s.t0_ns / 1000000ull;
        if (!reconnected && el >= 1000) {
            fake_gateway_send_reconnect(gw, -1);
            reconnected = true;
        }
        if (!dropped && el >= 2000) {
            fake_gateway_drop(gw, -1);
            /* An operator's SIGHUP in the middle: the lists are re-read, the bot stays up. */
            assert_int_equal(e2e_signal(&w.child, SIGHUP), 0);
            dropped = true;
        }
        if (!restarted && el >= 3000) {
            /* Make sure a prompt is stuck on the server when it restarts, so a job is really
             * lost there: hang its worker, let a prompt arrive, then restart. */
            fake_comfy_set_hang(w.comfy[0], true);
            fake_comfy_wait(w.comfy[0], comfy_busy, NULL, 2000);
            fake_comfy_restart(w.comfy[0]);
            fake_comfy_set_hang(w.comfy[0], false);
            restarted = true;
        }
    }
    bool settled = e2e_settle(&w, 40000);
    if (!settled) e2e_print_log(&w);
    assert_true(settled);

    /* The faults happened as intended. */
    fake_gateway_stats g1;
    fake_gateway_get_stats(gw, &g1);
    assert_true(g1.connections >= g0.connections + 2);
    assert_true(g1.resumes >= 1);
    fake_comfy_stats c0;
    fake_comfy_get_stats(w.comfy[0], &c0);
    assert_int_equal(c0.restarts, 1);

    /* The operator's view of the same run, scraped from the child's metrics endpoint. */
    unsigned generations = 0, refusals = 0;
    for (unsigned i = 0; i < w.n; i++) {
        if (demo_users_kind_is_job(w.ix[i].s.kind)) generations++;
        if (w.ix[i].s.kind == DEMO_USERS_BAD) refusals++;
    }
    char *m = metrics_check_scrape(mport);
    assert_non_null(m);
    char where[512];
    const char *bad = metrics_check_validate(m, where, sizeof where);
    if (bad) fail_msg("metrics: %s: %s", bad, where);
    assert_float_equal(metrics_check_value(m, "fluxbot_comfy_servers"), 2, 0);
    /* Per-server health: one series per configured server, labelled by its URL. */
    double up_sum = 0;
    for (unsigned k = 0; k < 2; k++) {
        char series[400];
        snprintf(series, sizeof series, "fluxbot_comfy_server_up{server=\"%s\"}",
                 fake_comfy_url(w.comfy[k]));
        double up = metrics_check_value(m, series);
        assert_true(up == 0 || up == 1);
        up_sum += up;
        snprintf(series, sizeof series, "fluxbot_comfy_server_jobs{server=\"%s\"}",
                 fake_comfy_url(w.comfy[k]));
        assert_true(metrics_check_value(m, series) >= 0);
    }
    /* (read apart from servers_up, so a reconnect between the two may differ by one) */
    assert_true(up_sum <= 2);
    assert_true(metrics_check_value(m, "fluxbot_gateway_reconnects_total") >= 2);
    assert_true(metrics_check_value(m, "fluxbot_gateway_resumed_total") >= 1);
    assert_float_equal(metrics_check_value(m, "fluxbot_jobs_total{outcome=\"succeeded\"}"),
                       generations, 0);
    assert_float_equal(metrics_check_value(m, "fluxbot_jobs_total{outcome=\"failed\"}"), 0, 0);
    assert_true(metrics_check_value(m, "fluxbot_jobs_resubmitted_total") >= 1);
    assert_float_equal(metrics_check_value(m, "fluxbot_job_run_seconds_count"), generations, 0);
    assert_true(metrics_check_value(m, "fluxbot_job_run_seconds_sum") > 0);
    assert_true(metrics_check_value(m, "fluxbot_job_total_seconds_sum") >=
                metrics_check_value(m, "fluxbot_job_run_seconds_sum") * 0.99);
    assert_float_equal(
        metrics_check_value(
            m, "fluxbot_router_interactions_total{command=\"generate\",outcome=\"invalid\"}"),
        refusals, 0);
    assert_true(
        metrics_check_value(m, "fluxbot_actor_messages_processed_total{actor=\"router\"}") >= w.n);
    assert_true(metrics_check_value(m, "fluxbot_rest_responses_total{outcome=\"ok\"}") >= w.n);
    assert_true(metrics_check_value(m, "fluxbot_analytics_rows_written_total") >= w.n);
    assert_true(metrics_check_value(m, "process_resident_memory_bytes") > 0);
    free(m);

    e2e_signal(&w.child, SIGTERM);
    assert_int_equal(e2e_wait(&w.child, 40000), 0);
    assert_int_equal(e2e_exit_code(&w.child), 0);

    e2e_observe(&w);
    assert_int_equal(e2e_read_db(&w), 0);
    char grep[300];
    snprintf(grep, sizeof grep, "grep -q 'SIGHUP: reading' '%s'", w.log);
    assert_int_equal(system(grep), 0);
    unsigned jobs = 0;
    for (unsigned i = 0; i < w.n; i++) {
        const e2e_ix *x = &w.ix[i];
        assert_true(x->sent);
        if (x->callbacks != 1 || !x->acked)
            fail_msg("interaction %u (%s): %u callbacks, acked %d", i,
                     demo_users_kind_name(x->s.kind), x->callbacks, x->acked);
        if (x->usage_rows != 1)
            fail_msg("interaction %u (%s): %u command_usage rows", i,
                     demo_users_kind_name(x->s.kind), x->usage_rows);
        if (demo_users_kind_is_job(x->s.kind)) {
            jobs++;
            if (!x->done || x->image_rows != 1 || x->image_ok_rows != 1)
                fail_msg("job %u: done %d, %u image_stats rows (%u successful)", i, x->done,
                         x->image_rows, x->image_ok_rows);
        } else {
            assert_int_equal(x->image_rows, 0);
        }
    }
    assert_true(jobs > 20);
    e2e_stop_world(&w, false);
}

static void test_sigterm_during_load(void **state)
{
    (void)state;
    static e2e_world w;
    assert_true(e2e_start(&w, 100, NULL));
    e2e_sched s;
    e2e_sched_init(&s, e2e_ms() * 1000000ull, 20.0, 2.0);
    bool termed = false;
    for (uint64_t i = 0; i < s.count; i++) {
        uint64_t due_ms = e2e_sched_due(&s, i) / 1000000ull;
        while (e2e_ms() < due_ms)
            e2e_sleep(1);
        e2e_send_one(&w);
        if (!termed && due_ms - s.t0_ns / 1000000ull >= 1500) {
            assert_int_equal(e2e_signal(&w.child, SIGTERM), 0);
            termed = true;
        }
    }
    assert_int_equal(e2e_wait(&w.child, 60000), 0);
    if (e2e_exit_code(&w.child) != 0) e2e_print_log(&w);
    assert_int_equal(e2e_exit_code(&w.child), 0);

    e2e_observe(&w);
    assert_int_equal(e2e_read_db(&w), 0);
    unsigned acked = 0, done = 0;
    for (unsigned i = 0; i < w.n; i++) {
        const e2e_ix *x = &w.ix[i];
        if (x->callbacks > 1) fail_msg("interaction %u answered %u times", i, x->callbacks);
        if (x->usage_rows > 1) fail_msg("interaction %u: %u rows", i, x->usage_rows);
        if (x->acked) {
            acked++;
            if (x->usage_rows != 1)
                fail_msg("interaction %u (%s) was answered but has no command_usage row", i,
                         demo_users_kind_name(x->s.kind));
        }
        if (x->done) {
            done++;
            if (x->image_ok_rows != 1)
                fail_msg("job %u delivered its picture but has %u successful image_stats rows", i,
                         x->image_ok_rows);
        }
        assert_true(x->image_rows <= 1);
    }
    assert_true(acked >= 10); /* the load before the signal was answered */
    assert_true(done >= 2);
    e2e_stop_world(&w, false);
}

int main(void)
{
    log_configure(LOG_LEVEL_WARN, false, 2);
    lws_set_log_level(LLL_ERR, NULL);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_faults_during_steady_load),
        cmocka_unit_test(test_sigterm_during_load),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
