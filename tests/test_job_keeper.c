/* The job keeper actor (actors/job_keeper.h) against the test script's PostgreSQL: each
 * keeper below runs in its own rt_system with its own owner, as separate processes do.
 * - an accepted job becomes a row; its submission is recorded; the delivery claim is granted;
 *   its finish removes the row;
 * - the job of a process that stopped renewing (a row whose lease expired) is taken over and
 *   sent to the target with its row, gen + 1; the taker may speak and deliver;
 * - fencing: when another process took a job (the row's owner and gen changed under the
 *   keeper, as after a pause), the next renewal marks it lost: no more speaking, the delivery
 *   claim is refused;
 * - a keeper that stops hands its unfinished jobs over at once (lease expired), so another
 *   keeper takes them on its next look instead of after the lease;
 * - job_keeper_config_from takes its fields from the bot's configuration (no database). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "actors/job_keeper.h"
#include "tpg.h"

static void sleep_ms(unsigned ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* The target: keeps the taken-over rows. */
typedef struct sink {
    pthread_mutex_t mu;
    pg_lease_job rows[8];
    unsigned n;
} sink;

static void sink_msg(rt_actor *self, void *state, rt_msg *m)
{
    (void)self;
    sink *s = state;
    if (m->type == MSG_JOB_KEEPER_TAKEOVER) {
        job_keeper_takeover_msg *t = (job_keeper_takeover_msg *)m;
        pthread_mutex_lock(&s->mu);
        if (s->n < 8) {
            s->rows[s->n++] = t->row;
            memset(&t->row, 0, sizeof t->row);
        }
        pthread_mutex_unlock(&s->mu);
    }
    rt_msg_free(m);
}

static unsigned sink_count(sink *s)
{
    pthread_mutex_lock(&s->mu);
    unsigned n = s->n;
    pthread_mutex_unlock(&s->mu);
    return n;
}

typedef struct proc {
    rt_system *sys;
    job_keeper *k;
    sink s;
} proc;

static void proc_start(proc *p, const char *url, const char *owner, unsigned lease_ms)
{
    memset(p, 0, sizeof *p);
    pthread_mutex_init(&p->s.mu, NULL);
    p->sys = rt_system_new();
    job_keeper_config c = {.url = url, .owner = owner, .lease_ms = lease_ms};
    p->k = job_keeper_new(p->sys, &c);
    assert_non_null(p->k);
    assert_non_null(job_keeper_actor(p->k));
    rt_actor_spec spec = {.name = "sink",
                          .threads = 1,
                          .lane_capacity = 64,
                          .state = &p->s,
                          .ops = {.on_message = sink_msg}};
    rt_actor *a = rt_actor_new(p->sys, &spec);
    assert_non_null(a);
    job_keeper_set_target(p->k, a);
    assert_int_equal(rt_system_start(p->sys), 0);
}

static void proc_stop(proc *p)
{
    rt_system_stop(p->sys);
    rt_system_free(p->sys);
    job_keeper_free(p->k);
    for (unsigned i = 0; i < p->s.n; i++)
        pg_lease_job_clear(&p->s.rows[i]);
    pthread_mutex_destroy(&p->s.mu);
}

static void row(pg_lease_job *j, const char *key)
{
    memset(j, 0, sizeof *j);
    snprintf(j->key, sizeof j->key, "%s", key);
    j->params = strdup("{\"v\":1}");
    j->app_id = 1;
    j->interaction_id = 2;
    snprintf(j->token, sizeof j->token, "tok");
    j->received_ms = 1700000000000ull;
}

/* Polls a one-row count query until it equals want (10 s at most). */
static bool wait_count(PGconn *c, const char *sql, long long want)
{
    /* the keeper creates its table on its first statement */
    for (int i = 0; i < 200; i++) {
        if (tpg_scalar(c, "SELECT count(*) FROM pg_tables WHERE tablename = 'fluxbot_jobs'", 0,
                       NULL) == 1)
            break;
        sleep_ms(50);
    }
    for (int i = 0; i < 200; i++) {
        if (tpg_scalar(c, sql, 0, NULL) == want) return true;
        sleep_ms(50);
    }
    return false;
}

static void test_lifecycle(void **state)
{
    (void)state;
    tpg t;
    tpg_open(&t);
    proc a;
    proc_start(&a, t.url, "proc-a", 3000);
    pg_lease_job j;
    row(&j, "ix:1");
    job_keeper_accept(a.k, &j);
    assert_null(j.params);
    assert_true(job_keeper_may_speak(a.k, "ix:1"));
    assert_true(wait_count(t.conn,
                           "SELECT count(*) FROM fluxbot_jobs WHERE job_key = 'ix:1'"
                           " AND owner = 'proc-a' AND gen = 1",
                           1));
    job_keeper_submitted(a.k, "ix:1", "http://127.0.0.1:8188", "p-1");
    assert_true(wait_count(t.conn,
                           "SELECT count(*) FROM fluxbot_jobs WHERE state = 'submitted'"
                           " AND prompt_id = 'p-1'",
                           1));
    assert_true(job_keeper_claim(a.k, "ix:1", UINT64_MAX / 2));
    assert_int_equal(tpg_scalar(t.conn,
                                "SELECT count(*) FROM fluxbot_jobs WHERE state = "
                                "'delivering'",
                                0, NULL),
                     1);
    job_keeper_finish(a.k, "ix:1");
    assert_true(wait_count(t.conn, "SELECT count(*) FROM fluxbot_jobs", 0));
    /* a job never made durable (unknown key) is this process's alone */
    assert_true(job_keeper_may_speak(a.k, "ix:none"));
    assert_true(job_keeper_claim(a.k, "ix:none", UINT64_MAX / 2));
    job_keeper_counters st;
    job_keeper_counters_get(a.k, &st);
    assert_int_equal(st.accepted, 1);
    assert_int_equal(st.written, 1);
    assert_int_equal(st.lost, 0);
    assert_int_equal(st.held, 0);
    proc_stop(&a);
    tpg_close(&t);
}

static void test_dead_owner_taken_over(void **state)
{
    (void)state;
    tpg t;
    tpg_open(&t);
    /* the dead process: a row written with a short lease, never renewed */
    pg_lease_cfg lc = {.url = t.url, .owner = "proc-dead", .lease_ms = 200};
    pg_lease *dead = pg_lease_new(&lc);
    pg_lease_job j;
    row(&j, "ix:7");
    char err[256];
    assert_int_equal(pg_lease_insert(dead, &j, err, sizeof err), PG_LEASE_OK);
    assert_int_equal(pg_lease_set_submitted(dead, "ix:7", 1, "http://c", "p-7", err, sizeof err),
                     PG_LEASE_OK);
    pg_lease_job_clear(&j);
    pg_lease_free(dead);
    proc b;
    proc_start(&b, t.url, "proc-b", 900);
    for (int i = 0; i < 200 && sink_count(&b.s) == 0; i++)
        sleep_ms(50);
    assert_int_equal(sink_count(&b.s), 1);
    assert_string_equal(b.s.rows[0].key, "ix:7");
    assert_int_equal(b.s.rows[0].gen, 2);
    assert_int_equal(b.s.rows[0].state, PG_LEASE_SUBMITTED);
    assert_string_equal(b.s.rows[0].prompt_id, "p-7");
    assert_string_equal(b.s.rows[0].prev_owner, "proc-dead");
    assert_true(job_keeper_may_speak(b.k, "ix:7"));
    /* held across renewals */
    sleep_ms(1200);
    assert_true(job_keeper_may_speak(b.k, "ix:7"));
    assert_true(job_keeper_claim(b.k, "ix:7", UINT64_MAX / 2));
    job_keeper_finish(b.k, "ix:7");
    assert_true(wait_count(t.conn, "SELECT count(*) FROM fluxbot_jobs", 0));
    job_keeper_counters st;
    job_keeper_counters_get(b.k, &st);
    assert_int_equal(st.taken_over, 1);
    proc_stop(&b);
    tpg_close(&t);
}

static void test_taken_job_is_fenced(void **state)
{
    (void)state;
    tpg t;
    tpg_open(&t);
    proc a;
    proc_start(&a, t.url, "proc-a", 900);
    pg_lease_job j;
    row(&j, "ix:3");
    job_keeper_accept(a.k, &j);
    assert_true(wait_count(t.conn, "SELECT count(*) FROM fluxbot_jobs WHERE gen = 1", 1));
    /* another process took it (what a takeover does while this one is paused) */
    tpg_exec(t.conn, "UPDATE fluxbot_jobs SET owner = 'proc-b', gen = gen + 1");
    for (int i = 0; i < 100 && !job_keeper_lost(a.k, "ix:3"); i++)
        sleep_ms(50);
    assert_true(job_keeper_lost(a.k, "ix:3"));
    assert_false(job_keeper_may_speak(a.k, "ix:3"));
    assert_false(job_keeper_claim(a.k, "ix:3", UINT64_MAX / 2));
    /* its finish must not remove the new owner's row */
    job_keeper_finish(a.k, "ix:3");
    sleep_ms(300);
    assert_int_equal(tpg_scalar(t.conn,
                                "SELECT count(*) FROM fluxbot_jobs WHERE owner = "
                                "'proc-b'",
                                0, NULL),
                     1);
    job_keeper_counters st;
    job_keeper_counters_get(a.k, &st);
    assert_int_equal(st.lost, 1);
    assert_int_equal(st.claims_refused, 1);
    proc_stop(&a);
    tpg_close(&t);
}

static void test_stop_hands_jobs_over(void **state)
{
    (void)state;
    tpg t;
    tpg_open(&t);
    proc a, b;
    /* a minute-long lease: only the hand-over can make b take the job within the test */
    proc_start(&a, t.url, "proc-a", 60000);
    pg_lease_job j;
    row(&j, "ix:9");
    job_keeper_accept(a.k, &j);
    assert_true(wait_count(t.conn, "SELECT count(*) FROM fluxbot_jobs", 1));
    proc_start(&b, t.url, "proc-b", 900);
    sleep_ms(700);
    assert_int_equal(sink_count(&b.s), 0);
    proc_stop(&a);
    for (int i = 0; i < 100 && sink_count(&b.s) == 0; i++)
        sleep_ms(50);
    assert_int_equal(sink_count(&b.s), 1);
    assert_string_equal(b.s.rows[0].key, "ix:9");
    assert_string_equal(b.s.rows[0].prev_owner, "proc-a");
    proc_stop(&b);
    tpg_close(&t);
}

static void test_config_from(void **state)
{
    (void)state;
    fb_config cfg;
    fb_config_defaults(&cfg);
    snprintf(cfg.db_url, sizeof cfg.db_url, "postgresql://bot@/fluxbot?host=/run/pg");
    cfg.job_lease_ms = 2500;
    cfg.runner_threads = 3;
    cfg.mailbox_capacity = 77;
    job_keeper_config c;
    memset(&c, 0xab, sizeof c); /* every field is set, none left from before */
    job_keeper_config_from(&c, &cfg);
    assert_string_equal(c.url, cfg.db_url);
    assert_null(c.owner); /* the caller's: the process's identity */
    assert_int_equal(c.lease_ms, 2500);
    assert_int_equal(c.timeout_ms, 0);
    assert_int_equal(c.takeover_batch, 3);
    assert_int_equal(c.lane_capacity, 77);
    /* a SQLite database: no keeper */
    cfg.db_url[0] = '\0';
    job_keeper_config_from(&c, &cfg);
    assert_null(c.url);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_config_from),           cmocka_unit_test(test_lifecycle),
        cmocka_unit_test(test_dead_owner_taken_over), cmocka_unit_test(test_taken_job_is_fenced),
        cmocka_unit_test(test_stop_hands_jobs_over),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
