/* Job rows under fenced leases in PostgreSQL (pg/pg_lease.h), on the throw-away server of the
 * test script. Each pg_lease below has its own connection and owner, as separate processes do:
 * - a new job is stored whole (parameters, reply, requester, received time) at generation 1,
 *   and a second insert of its key is refused (one row per interaction);
 * - a renewing owner keeps its jobs: nobody can take them;
 * - an owner that stops renewing (killed) loses them once the lease runs out, and another
 *   process takes them over with every field, gen + 1 and whom they came from;
 * - fencing: after a takeover, every change the old owner makes (submitted, delivery claim,
 *   finish) is refused, its renewal no longer lists the job, while the new owner's succeed;
 * - a delivery claim needs a current lease even before anyone took the job;
 * - three processes taking over at once: each job goes to exactly one of them;
 * - a released job (its owner stopping) is taken over at once, by the next look;
 * - unsigned snowflakes above 2^63 come back as they went in. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "pg/pg_lease.h"
#include "tpg.h"

static char err[256];

static void sleep_ms(unsigned ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static pg_lease *mk(const tpg *t, const char *owner, unsigned lease_ms)
{
    pg_lease_cfg c = {.url = t->url, .owner = owner, .lease_ms = lease_ms};
    pg_lease *l = pg_lease_new(&c);
    assert_non_null(l);
    return l;
}

static void job(pg_lease_job *j, const char *key)
{
    memset(j, 0, sizeof *j);
    snprintf(j->key, sizeof j->key, "%s", key);
    j->params = "{\"v\":1,\"prompt\":\"a red fox\"}";
    j->app_id = 111;
    j->interaction_id = 222;
    snprintf(j->token, sizeof j->token, "tok-%s", key);
    j->received_ms = 1700000000000ull;
    j->user_id = 333;
    j->guild_id = 444;
    j->channel_id = 555;
}

static void insert(pg_lease *l, const char *key)
{
    pg_lease_job j;
    job(&j, key);
    assert_int_equal(pg_lease_insert(l, &j, err, sizeof err), PG_LEASE_OK);
}

static bool renewed_has(pg_lease *l, const char *key, int64_t *gen)
{
    char keys[16][PG_LEASE_KEY_MAX];
    int64_t gens[16];
    size_t n = 0;
    assert_int_equal(pg_lease_renew(l, keys, gens, 16, &n, err, sizeof err), 0);
    for (size_t i = 0; i < n; i++)
        if (strcmp(keys[i], key) == 0) {
            if (gen) *gen = gens[i];
            return true;
        }
    return false;
}

static void test_insert_and_duplicate(void **state)
{
    (void)state;
    tpg t;
    tpg_open(&t);
    pg_lease *a = mk(&t, "proc-a", 0);
    pg_lease_job j;
    job(&j, "ix:1");
    assert_int_equal(pg_lease_insert(a, &j, err, sizeof err), PG_LEASE_OK);
    assert_int_equal(pg_lease_insert(a, &j, err, sizeof err), PG_LEASE_FENCED);
    int64_t gen = 0;
    assert_true(renewed_has(a, "ix:1", &gen));
    assert_int_equal(gen, 1);
    assert_int_equal(pg_lease_count(a, NULL, err, sizeof err), 1);
    assert_int_equal(pg_lease_count(a, "proc-b", err, sizeof err), 0);
    /* the whole lifecycle with the right generation */
    assert_int_equal(
        pg_lease_set_submitted(a, "ix:1", 1, "http://127.0.0.1:8188", "p-1", err, sizeof err),
        PG_LEASE_OK);
    assert_int_equal(pg_lease_claim_delivery(a, "ix:1", 1, err, sizeof err), PG_LEASE_OK);
    /* once cleared to deliver, a late submission report changes nothing */
    assert_int_equal(pg_lease_set_submitted(a, "ix:1", 1, "http://x", "p-2", err, sizeof err),
                     PG_LEASE_FENCED);
    assert_int_equal(pg_lease_finish(a, "ix:1", 1, err, sizeof err), PG_LEASE_OK);
    assert_int_equal(pg_lease_count(a, NULL, err, sizeof err), 0);
    assert_int_equal(pg_lease_finish(a, "ix:1", 1, err, sizeof err), PG_LEASE_FENCED);
    pg_lease_free(a);
    tpg_close(&t);
}

static void test_renewed_lease_is_kept(void **state)
{
    (void)state;
    tpg t;
    tpg_open(&t);
    pg_lease *a = mk(&t, "proc-a", 1500), *b = mk(&t, "proc-b", 1500);
    insert(a, "ix:1");
    for (int i = 0; i < 6; i++) {
        sleep_ms(300);
        assert_true(renewed_has(a, "ix:1", NULL));
        pg_lease_job *v = NULL;
        size_t n = 9;
        assert_int_equal(pg_lease_take_expired(b, 10, &v, &n, err, sizeof err), 0);
        assert_int_equal(n, 0);
        assert_null(v);
    }
    pg_lease_free(a);
    pg_lease_free(b);
    tpg_close(&t);
}

static void test_expired_lease_taken_over_and_fenced(void **state)
{
    (void)state;
    tpg t;
    tpg_open(&t);
    pg_lease *a = mk(&t, "proc-a", 300), *b = mk(&t, "proc-b", 5000);
    insert(a, "ix:1");
    assert_int_equal(
        pg_lease_set_submitted(a, "ix:1", 1, "http://127.0.0.1:8188", "p-1", err, sizeof err),
        PG_LEASE_OK);
    /* not expired yet: nothing to take */
    pg_lease_job *v = NULL;
    size_t n = 0;
    assert_int_equal(pg_lease_take_expired(b, 10, &v, &n, err, sizeof err), 0);
    assert_int_equal(n, 0);
    /* a stops renewing (killed, or paused) */
    sleep_ms(500);
    assert_int_equal(pg_lease_take_expired(b, 10, &v, &n, err, sizeof err), 0);
    assert_int_equal(n, 1);
    assert_string_equal(v[0].key, "ix:1");
    assert_int_equal(v[0].state, PG_LEASE_SUBMITTED);
    assert_int_equal(v[0].gen, 2);
    assert_string_equal(v[0].owner, "proc-b");
    assert_string_equal(v[0].prev_owner, "proc-a");
    assert_string_equal(v[0].server, "http://127.0.0.1:8188");
    assert_string_equal(v[0].prompt_id, "p-1");
    assert_string_equal(v[0].params, "{\"v\":1,\"prompt\":\"a red fox\"}");
    assert_int_equal(v[0].app_id, 111);
    assert_int_equal(v[0].interaction_id, 222);
    assert_string_equal(v[0].token, "tok-ix:1");
    assert_int_equal(v[0].received_ms, 1700000000000ull);
    assert_int_equal(v[0].user_id, 333);
    assert_int_equal(v[0].guild_id, 444);
    assert_int_equal(v[0].channel_id, 555);
    assert_int_equal(v[0].takeovers, 1);
    pg_lease_jobs_free(v, n);
    /* taken once: a second scan finds nothing */
    assert_int_equal(pg_lease_take_expired(b, 10, &v, &n, err, sizeof err), 0);
    assert_int_equal(n, 0);
    /* the old owner comes back: every change it makes is refused */
    assert_false(renewed_has(a, "ix:1", NULL));
    assert_int_equal(pg_lease_set_submitted(a, "ix:1", 1, "http://y", "p-9", err, sizeof err),
                     PG_LEASE_FENCED);
    assert_int_equal(pg_lease_claim_delivery(a, "ix:1", 1, err, sizeof err), PG_LEASE_FENCED);
    assert_int_equal(pg_lease_finish(a, "ix:1", 1, err, sizeof err), PG_LEASE_FENCED);
    /* nor can it take the job back while b renews */
    assert_int_equal(pg_lease_take_expired(a, 10, &v, &n, err, sizeof err), 0);
    assert_int_equal(n, 0);
    /* the new owner's go through */
    int64_t gen = 0;
    assert_true(renewed_has(b, "ix:1", &gen));
    assert_int_equal(gen, 2);
    assert_int_equal(
        pg_lease_set_submitted(b, "ix:1", 2, "http://127.0.0.1:8189", "p-2", err, sizeof err),
        PG_LEASE_OK);
    assert_int_equal(pg_lease_claim_delivery(b, "ix:1", 2, err, sizeof err), PG_LEASE_OK);
    assert_int_equal(pg_lease_finish(b, "ix:1", 2, err, sizeof err), PG_LEASE_OK);
    assert_int_equal(pg_lease_count(b, NULL, err, sizeof err), 0);
    pg_lease_free(a);
    pg_lease_free(b);
    tpg_close(&t);
}

static void test_claim_needs_current_lease(void **state)
{
    (void)state;
    tpg t;
    tpg_open(&t);
    pg_lease *a = mk(&t, "proc-a", 200);
    insert(a, "ix:1");
    sleep_ms(400);
    /* expired, though nobody took it: not cleared to deliver (a taker may be about to) */
    assert_int_equal(pg_lease_claim_delivery(a, "ix:1", 1, err, sizeof err), PG_LEASE_FENCED);
    /* a renewal of a row nobody took brings it back */
    assert_true(renewed_has(a, "ix:1", NULL));
    assert_int_equal(pg_lease_claim_delivery(a, "ix:1", 1, err, sizeof err), PG_LEASE_OK);
    pg_lease_free(a);
    tpg_close(&t);
}

typedef struct taker {
    const char *url;
    char owner[16];
    unsigned got;
    char keys[40][PG_LEASE_KEY_MAX];
    int errors;
} taker;

static void *take(void *arg)
{
    taker *tk = arg;
    pg_lease_cfg c = {.url = tk->url, .owner = tk->owner, .lease_ms = 60000};
    pg_lease *l = pg_lease_new(&c);
    char e[256];
    for (int round = 0; round < 20 && l; round++) {
        pg_lease_job *v = NULL;
        size_t n = 0;
        /* small batches, so the three interleave */
        if (pg_lease_take_expired(l, 3, &v, &n, e, sizeof e) != 0) tk->errors++;
        for (size_t i = 0; i < n && tk->got < 40; i++)
            snprintf(tk->keys[tk->got++], PG_LEASE_KEY_MAX, "%s", v[i].key);
        pg_lease_jobs_free(v, n);
    }
    pg_lease_free(l);
    return NULL;
}

static void test_three_takers_each_job_once(void **state)
{
    (void)state;
    tpg t;
    tpg_open(&t);
    pg_lease *dead = mk(&t, "proc-dead", 100);
    for (int i = 0; i < 30; i++) {
        char key[32];
        snprintf(key, sizeof key, "ix:%d", i);
        insert(dead, key);
    }
    sleep_ms(300);
    taker tk[3];
    pthread_t th[3];
    for (int i = 0; i < 3; i++) {
        memset(&tk[i], 0, sizeof tk[i]);
        tk[i].url = t.url;
        snprintf(tk[i].owner, sizeof tk[i].owner, "p%d", i);
        assert_int_equal(pthread_create(&th[i], NULL, take, &tk[i]), 0);
    }
    int seen[30] = {0};
    unsigned total = 0;
    for (int i = 0; i < 3; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(tk[i].errors, 0);
        for (unsigned k = 0; k < tk[i].got; k++) {
            int idx = atoi(tk[i].keys[k] + 3);
            assert_true(idx >= 0 && idx < 30);
            seen[idx]++;
        }
        total += tk[i].got;
    }
    assert_int_equal(total, 30);
    for (int i = 0; i < 30; i++)
        assert_int_equal(seen[i], 1);
    /* every row now has gen 2 and one of the takers as owner */
    assert_int_equal(tpg_scalar(t.conn,
                                "SELECT count(*) FROM fluxbot_jobs WHERE gen = 2 AND"
                                " owner IN ('p0','p1','p2')",
                                0, NULL),
                     30);
    pg_lease_free(dead);
    tpg_close(&t);
}

static void test_unsigned_snowflakes(void **state)
{
    (void)state;
    tpg t;
    tpg_open(&t);
    pg_lease *a = mk(&t, "proc-a", 100), *b = mk(&t, "proc-b", 0);
    pg_lease_job j;
    job(&j, "ix:big");
    j.user_id = 0xfffffffffffffff0ull;
    j.interaction_id = 0x8000000000000001ull;
    j.received_ms = 1800000000000ull;
    assert_int_equal(pg_lease_insert(a, &j, err, sizeof err), PG_LEASE_OK);
    sleep_ms(300);
    pg_lease_job *v = NULL;
    size_t n = 0;
    assert_int_equal(pg_lease_take_expired(b, 1, &v, &n, err, sizeof err), 0);
    assert_int_equal(n, 1);
    assert_true(v[0].user_id == 0xfffffffffffffff0ull);
    assert_true(v[0].interaction_id == 0x8000000000000001ull);
    pg_lease_jobs_free(v, n);
    pg_lease_free(a);
    pg_lease_free(b);
    tpg_close(&t);
}

static void test_release_hands_over_at_once(void **state)
{
    (void)state;
    tpg t;
    tpg_open(&t);
    pg_lease *a = mk(&t, "proc-a", 60000), *b = mk(&t, "proc-b", 60000);
    insert(a, "ix:1");
    insert(a, "ix:2");
    /* only the holder of the generation may release */
    assert_int_equal(pg_lease_release(b, "ix:1", 1, err, sizeof err), PG_LEASE_FENCED);
    assert_int_equal(pg_lease_release(a, "ix:1", 1, err, sizeof err), PG_LEASE_OK);
    pg_lease_job *v = NULL;
    size_t n = 0;
    /* a minute-long lease, yet the released job is taken at once; the other one is not */
    assert_int_equal(pg_lease_take_expired(b, 10, &v, &n, err, sizeof err), 0);
    assert_int_equal(n, 1);
    assert_string_equal(v[0].key, "ix:1");
    assert_int_equal(v[0].gen, 2);
    pg_lease_jobs_free(v, n);
    pg_lease_free(a);
    pg_lease_free(b);
    tpg_close(&t);
}

static void test_bad_config(void **state)
{
    (void)state;
    pg_lease_cfg c = {.url = "/var/lib/fluxbot.db", .owner = "x"};
    assert_null(pg_lease_new(&c));
    c.url = "postgresql:///x";
    c.owner = "";
    assert_null(pg_lease_new(&c));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bad_config),
        cmocka_unit_test(test_insert_and_duplicate),
        cmocka_unit_test(test_renewed_lease_is_kept),
        cmocka_unit_test(test_expired_lease_taken_over_and_fenced),
        cmocka_unit_test(test_claim_needs_current_lease),
        cmocka_unit_test(test_three_takers_each_job_once),
        cmocka_unit_test(test_unsigned_snowflakes),
        cmocka_unit_test(test_release_hands_over_at_once),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
