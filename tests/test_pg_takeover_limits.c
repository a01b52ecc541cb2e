/* A job taken over from a process that died counts against its user's limits and against the
 * global queue cap in the process that takes it over (actors/comfy_coord.c: limits_adopt),
 * locally and in the limits every process shares (pg/pg_quota.h: pg_quota_adopt). The runner
 * runs on the test script's PostgreSQL (db_url; 1 job per user, 3 in the queue) with a paused
 * fake ComfyUI:
 * - user 100's job waits on ComfyUI; a dead process's job of user 7 (its lease row and its
 *   row in the shared limits, both left to expire) is taken over and waits too;
 * - once the dead owner's row in the shared limits would have expired, user 7 still holds one
 *   row there, this process's; user 7's next job is refused (1 job at most), and of two other
 *   users' jobs the second is refused (the queue holds 3);
 * - once ComfyUI runs, both are delivered and user 7 may start a job again. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "cfx.h"
#include "pg/pg_lease.h"
#include "pg/pg_quota.h"
#include "tpg.h"

static tpg g_pg;

static void tune(fb_config *cfg, comfy_runner_config *rc, fake_comfy_opts *o)
{
    (void)rc;
    (void)o;
    size_t n = strlen(g_pg.url);
    assert_true(n < sizeof cfg->db_url);
    memcpy(cfg->db_url, g_pg.url, n + 1);
    cfg->job_lease_ms = 1500;
    cfg->user_max_concurrent_jobs = 1;
    cfg->max_queued_jobs = 3;
}

static bool ephemeral_followup(cfx *x, const char *tok, const char *needle, unsigned timeout_ms)
{
    uint64_t end = rt_now_ms() + timeout_ms;
    for (;;) {
        fake_rest_request *reqs = NULL;
        size_t n = cfx_reqs(x, "POST", tok, &reqs);
        bool ok = false;
        for (size_t i = 0; i < n; i++) {
            const char *b = cfx_body(&reqs[i]);
            if (b && strstr(b, "\"flags\":64") && strstr(b, needle)) ok = true;
        }
        fake_rest_requests_free(reqs, n);
        if (ok) return true;
        if (rt_now_ms() > end) return false;
        util_sleep_ms(20);
    }
}

static long long scalar1(const char *sql, const char *p)
{
    const char *v[1] = {p};
    return tpg_scalar(g_pg.conn, sql, p ? 1 : 0, p ? v : NULL);
}

/* Rows of user_id in the shared limits whose lease has not expired, by owner other than owner
 * (NULL: any). */
static long long held(const char *user, const char *not_owner)
{
    const char *v[2] = {user, not_owner ? not_owner : ""};
    return tpg_scalar(g_pg.conn,
                      "SELECT count(*) FROM fluxbot_jobs_held WHERE user_id = $1::bigint"
                      " AND expires_ms > (extract(epoch FROM clock_timestamp()) * 1000)::bigint"
                      " AND owner <> $2",
                      2, v);
}

static void test_taken_over_job_counts_here(void **state)
{
    (void)state;
    tpg_open(&g_pg);
    cfx *x = cfx_start(1, tune);
    assert_non_null(x);
    fake_comfy_set_paused(x->srv[0], true);

    /* user 100's job, waiting on ComfyUI; its row gives a job's stored parameters */
    uint64_t ix_a;
    char tok_a[64];
    cfx_send(x, cfx_job(x, COMFY_KIND_IMAGE, "first", 100, &ix_a, tok_a));
    char key_a[PG_LEASE_KEY_MAX];
    snprintf(key_a, sizeof key_a, "ix:%" PRIu64, ix_a);
    /* The job keeper creates its tables on its own thread once the bot has started: on a
     * loaded machine the first look can come before them, and a query naming a missing table
     * fails the test (it did under CI), so wait for the table first, then for the row. */
    for (int i = 0;
         i < 400 && scalar1("SELECT (to_regclass('fluxbot_jobs') IS NOT NULL)::int", NULL) == 0;
         i++)
        util_sleep_ms(50);
    for (int i = 0;
         i < 400 && scalar1("SELECT count(*) FROM fluxbot_jobs WHERE job_key = $1", key_a) == 0;
         i++)
        util_sleep_ms(50);
    const char *pk[1] = {key_a};
    PGresult *r = PQexecParams(g_pg.conn, "SELECT params FROM fluxbot_jobs WHERE job_key = $1", 1,
                               NULL, pk, NULL, NULL, 0);
    assert_int_equal(PQresultStatus(r), PGRES_TUPLES_OK);
    assert_int_equal(PQntuples(r), 1);
    char *params = strdup(PQgetvalue(r, 0, 0));
    PQclear(r);

    /* the dead process: user 7's job admitted there (its row in the shared limits and its
     * start) and accepted (its lease row), neither ever renewed */
    char tok_d[64];
    uint64_t ix_d = cfx_interaction(x, false, true, tok_d);
    char key_d[PG_LEASE_KEY_MAX];
    snprintf(key_d, sizeof key_d, "ix:%" PRIu64, ix_d);
    char err[256];
    pg_quota_cfg qc = {.url = g_pg.url, .owner = "dead-process", .lease_ms = 600};
    pg_quota *dq = pg_quota_new(&qc);
    uint64_t retry = 0;
    assert_int_equal(pg_quota_admit(dq, 7, key_d, &retry, err, sizeof err), PG_QUOTA_OK);
    pg_quota_free(dq);
    pg_lease_cfg lc = {.url = g_pg.url, .owner = "dead-process", .lease_ms = 200};
    pg_lease *dl = pg_lease_new(&lc);
    pg_lease_job j;
    memset(&j, 0, sizeof j);
    snprintf(j.key, sizeof j.key, "%s", key_d);
    j.params = params;
    j.app_id = CFX_APP;
    j.interaction_id = ix_d;
    snprintf(j.token, sizeof j.token, "%s", tok_d);
    j.received_ms = (uint64_t)rt_wall_ms();
    j.user_id = 7;
    j.channel_id = CFX_CHANNEL;
    assert_int_equal(pg_lease_insert(dl, &j, err, sizeof err), PG_LEASE_OK);
    pg_lease_free(dl);
    free(params);

    comfy_runner_counters c;
    for (int i = 0; i < 300; i++) {
        comfy_runner_counters_get(x->cr, &c);
        if (c.jobs_taken_over == 1) break;
        util_sleep_ms(50);
    }
    assert_int_equal(c.jobs_taken_over, 1);
    /* past the dead owner's lease in the shared limits: user 7's job is held, by this process */
    util_sleep_ms(800);
    assert_int_equal(held("7", NULL), 1);
    assert_int_equal(held("7", "dead-process"), 1);

    /* user 7 is at the limit here; the queue (3) takes one more job, then is full */
    uint64_t ix;
    char tok7[64], tok9[64], tok10[64];
    cfx_send(x, cfx_job(x, COMFY_KIND_IMAGE, "again", 7, &ix, tok7));
    assert_true(ephemeral_followup(x, tok7, "You already have 1 job", 10000));
    cfx_send(x, cfx_job(x, COMFY_KIND_IMAGE, "someone else", 9, &ix, tok9));
    util_sleep_ms(300);
    cfx_send(x, cfx_job(x, COMFY_KIND_IMAGE, "one too many", 10, &ix, tok10));
    assert_true(ephemeral_followup(x, tok10, "queue is full (3 jobs)", 10000));
    assert_false(ephemeral_followup(x, tok9, "queue is full", 100));

    /* ComfyUI runs: both delivered, and user 7's slot is free again */
    fake_comfy_set_paused(x->srv[0], false);
    char *fa = cfx_wait_final(x, tok_a, NULL, NULL, 20000);
    char *fd = cfx_wait_final(x, tok_d, NULL, NULL, 20000);
    char *f9 = cfx_wait_final(x, tok9, NULL, NULL, 20000);
    assert_non_null(fa);
    assert_non_null(fd);
    assert_non_null(f9);
    free(fa);
    free(fd);
    free(f9);
    for (int i = 0; i < 200 && held("7", NULL) != 0; i++)
        util_sleep_ms(50);
    assert_int_equal(held("7", NULL), 0);
    char tok_b[64];
    cfx_send(x, cfx_job(x, COMFY_KIND_IMAGE, "later", 7, &ix, tok_b));
    char *fb = cfx_wait_final(x, tok_b, NULL, NULL, 20000);
    assert_non_null(fb);
    assert_null(strstr(fb, "already have"));
    free(fb);
    cfx_stop(x);
    tpg_close(&g_pg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_taken_over_job_counts_here),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
