/* Admission limits shared by several processes through PostgreSQL (pg/pg_quota.h), on the
 * throw-away server of the test script. Each pg_quota below has its own connection and owner,
 * as separate processes do:
 * - a user's concurrent jobs count across processes, and a finished job frees its slot;
 * - the hourly limit counts starts from every process and tells when the oldest leaves the hour;
 * - the global cap counts every user's jobs in every process;
 * - a process that stops renewing (killed) stops holding its jobs once the lease runs out,
 *   while one that renews keeps them; a process cannot release another's job;
 * - three threads admitting one user at once never hold more than the limit together;
 * - user ids above 2^63 (snowflakes are unsigned) are kept apart. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "pg/pg_quota.h"
#include "test_pg.h"

static char err[256];

static void sleep_ms(unsigned ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static pg_quota *mk(const tpg *t, const char *owner, unsigned act, unsigned hour, unsigned total,
                    unsigned lease)
{
    pg_quota_cfg c = {.url = t->url,
                      .owner = owner,
                      .user_max_active = act,
                      .user_max_per_hour = hour,
                      .max_total = total,
                      .lease_ms = lease};
    pg_quota *q = pg_quota_new(&c);
    assert_non_null(q);
    return q;
}

static void test_user_limited_across_processes(void **state)
{
    (void)state;
    tpg t;
    tpg_open(&t);
    pg_quota *a = mk(&t, "proc-a", 2, 0, 0, 0), *b = mk(&t, "proc-b", 2, 0, 0, 0);
    uint64_t u = 330000000000000001ull, retry;
    assert_int_equal(pg_quota_admit(a, u, "a:1", &retry, err, sizeof err), PG_QUOTA_OK);
    assert_int_equal(pg_quota_admit(b, u, "b:1", &retry, err, sizeof err), PG_QUOTA_OK);
    assert_int_equal(pg_quota_admit(a, u, "a:2", &retry, err, sizeof err), PG_QUOTA_USER_ACTIVE);
    assert_int_equal(pg_quota_admit(b, u, "b:2", &retry, err, sizeof err), PG_QUOTA_USER_ACTIVE);
    /* another user is not affected */
    assert_int_equal(pg_quota_admit(b, u + 1, "b:3", &retry, err, sizeof err), PG_QUOTA_OK);
    assert_int_equal(pg_quota_active(a, u, err, sizeof err), 2);
    /* a process cannot release another's job */
    assert_int_equal(pg_quota_finish(a, "b:1", err, sizeof err), 0);
    assert_int_equal(pg_quota_active(a, u, err, sizeof err), 2);
    assert_int_equal(pg_quota_finish(b, "b:1", err, sizeof err), 0);
    assert_int_equal(pg_quota_admit(a, u, "a:2", &retry, err, sizeof err), PG_QUOTA_OK);
    pg_quota_free(a);
    pg_quota_free(b);
    tpg_close(&t);
}

static void test_hourly_and_global(void **state)
{
    (void)state;
    tpg t;
    tpg_open(&t);
    pg_quota *a = mk(&t, "proc-a", 0, 3, 4, 0), *b = mk(&t, "proc-b", 0, 3, 4, 0);
    uint64_t u = 42, retry = 0;
    assert_int_equal(pg_quota_admit(a, u, "a:1", &retry, err, sizeof err), PG_QUOTA_OK);
    assert_int_equal(pg_quota_admit(b, u, "b:1", &retry, err, sizeof err), PG_QUOTA_OK);
    assert_int_equal(pg_quota_finish(a, "a:1", err, sizeof err), 0);
    assert_int_equal(pg_quota_finish(b, "b:1", err, sizeof err), 0);
    assert_int_equal(pg_quota_admit(a, u, "a:2", &retry, err, sizeof err), PG_QUOTA_OK);
    assert_int_equal(pg_quota_finish(a, "a:2", err, sizeof err), 0);
    /* three starts in the hour, from two processes: the fourth waits for the oldest to leave */
    assert_int_equal(pg_quota_admit(b, u, "b:2", &retry, err, sizeof err), PG_QUOTA_USER_HOURLY);
    assert_true(retry > 3500000 && retry <= 3600000);
    /* the global cap: four jobs of other users held by the two processes */
    assert_int_equal(pg_quota_admit(a, 1, "a:10", &retry, err, sizeof err), PG_QUOTA_OK);
    assert_int_equal(pg_quota_admit(a, 2, "a:11", &retry, err, sizeof err), PG_QUOTA_OK);
    assert_int_equal(pg_quota_admit(b, 3, "b:10", &retry, err, sizeof err), PG_QUOTA_OK);
    assert_int_equal(pg_quota_admit(b, 4, "b:11", &retry, err, sizeof err), PG_QUOTA_OK);
    assert_int_equal(pg_quota_admit(a, 5, "a:12", &retry, err, sizeof err), PG_QUOTA_GLOBAL);
    assert_int_equal(pg_quota_active(a, 0, err, sizeof err), 4);
    pg_quota_free(a);
    pg_quota_free(b);
    tpg_close(&t);
}

static void test_dead_process_lease_expires(void **state)
{
    (void)state;
    tpg t;
    tpg_open(&t);
    pg_quota *dead = mk(&t, "proc-dead", 1, 0, 0, 400);
    pg_quota *live = mk(&t, "proc-live", 1, 0, 0, 400);
    uint64_t retry;
    assert_int_equal(pg_quota_admit(dead, 7, "d:1", &retry, err, sizeof err), PG_QUOTA_OK);
    assert_int_equal(pg_quota_admit(live, 8, "l:1", &retry, err, sizeof err), PG_QUOTA_OK);
    /* "dead" stops renewing (as after kill -9); "live" renews every 100 ms */
    pg_quota_free(dead);
    assert_int_equal(pg_quota_admit(live, 7, "l:2", &retry, err, sizeof err), PG_QUOTA_USER_ACTIVE);
    for (int i = 0; i < 6; i++) {
        sleep_ms(100);
        assert_int_equal(pg_quota_renew(live, err, sizeof err), 0);
    }
    assert_int_equal(pg_quota_admit(live, 7, "l:2", &retry, err, sizeof err), PG_QUOTA_OK);
    /* live's own job, renewed, still counts */
    pg_quota *other = mk(&t, "proc-other", 1, 0, 0, 400);
    assert_int_equal(pg_quota_admit(other, 8, "o:1", &retry, err, sizeof err),
                     PG_QUOTA_USER_ACTIVE);
    pg_quota_free(other);
    pg_quota_free(live);
    tpg_close(&t);
}

typedef struct racer {
    const char *url;
    char owner[16];
    atomic_int *held;
    int max_seen;
    int admitted;
    int errors;
} racer;

static void *race(void *arg)
{
    racer *r = arg;
    pg_quota_cfg c = {.url = r->url, .owner = r->owner, .user_max_active = 2};
    pg_quota *q = pg_quota_new(&c);
    char e[256];
    for (int i = 0; i < 40 && q; i++) {
        char key[48];
        snprintf(key, sizeof key, "%s:%d", r->owner, i);
        uint64_t retry;
        pg_quota_verdict v = pg_quota_admit(q, 99, key, &retry, e, sizeof e);
        if (v == PG_QUOTA_ERROR) r->errors++;
        if (v != PG_QUOTA_OK) continue;
        r->admitted++;
        int now = atomic_fetch_add(r->held, 1) + 1;
        if (now > r->max_seen) r->max_seen = now;
        sleep_ms(2);
        atomic_fetch_sub(r->held, 1);
        if (pg_quota_finish(q, key, e, sizeof e) != 0) r->errors++;
    }
    pg_quota_free(q);
    return NULL;
}

static void test_three_processes_at_once_never_exceed(void **state)
{
    (void)state;
    tpg t;
    tpg_open(&t);
    atomic_int held = 0;
    racer r[3];
    pthread_t th[3];
    for (int i = 0; i < 3; i++) {
        r[i] = (racer){.url = t.url, .held = &held};
        snprintf(r[i].owner, sizeof r[i].owner, "p%d", i);
        assert_int_equal(pthread_create(&th[i], NULL, race, &r[i]), 0);
    }
    int admitted = 0;
    for (int i = 0; i < 3; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(r[i].errors, 0);
        assert_true(r[i].max_seen <= 2);
        admitted += r[i].admitted;
    }
    assert_true(admitted >= 2);
    tpg_close(&t);
}

static void test_unsigned_snowflakes(void **state)
{
    (void)state;
    tpg t;
    tpg_open(&t);
    pg_quota *a = mk(&t, "proc-a", 1, 0, 0, 0);
    uint64_t hi = 0xfffffffffffffff0ull, retry;
    assert_int_equal(pg_quota_admit(a, hi, "a:1", &retry, err, sizeof err), PG_QUOTA_OK);
    assert_int_equal(pg_quota_admit(a, hi + 1, "a:2", &retry, err, sizeof err), PG_QUOTA_OK);
    assert_int_equal(pg_quota_admit(a, hi, "a:3", &retry, err, sizeof err), PG_QUOTA_USER_ACTIVE);
    assert_int_equal(pg_quota_active(a, hi + 1, err, sizeof err), 1);
    pg_quota_free(a);
    tpg_close(&t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_user_limited_across_processes),
        cmocka_unit_test(test_hourly_and_global),
        cmocka_unit_test(test_dead_process_lease_expires),
        cmocka_unit_test(test_three_processes_at_once_never_exceed),
        cmocka_unit_test(test_unsigned_snowflakes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
