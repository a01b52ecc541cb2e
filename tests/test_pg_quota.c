/* Admission limits shared by several processes through PostgreSQL (pg/pg_quota.h), on the
 * throw-away server of the test script. Each pg_quota below has its own connection and owner,
 * as separate processes do:
 * - a user's concurrent jobs count across processes, and a finished job frees its slot;
 * - the hourly limit counts starts from every process and tells when the oldest leaves the hour;
 * - the global cap counts every user's jobs in every process;
 * - a process that stops renewing (killed) stops holding its jobs once the lease runs out,
 *   while one that renews keeps them; a process cannot release another's job;
 * - three threads admitting one user at once never hold more than the limit together;
 * - user ids above 2^63 (snowflakes are unsigned) are kept apart;
 * - three real `fluxbot run --shard i/3` processes sharing the database, the fake Discord and a
 *   slow fake ComfyUI, user_max_concurrent_jobs 1: a user's /comfy in a guild on shard 0 runs,
 *   the same user's /comfy in a guild on shard 1 (another process) is refused, another user's
 *   on shard 2 runs. */
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

#include <signal.h>
#include <stdlib.h>
#include <unistd.h>

#include "e2e_proc.h"
#include "fakes/fake_comfy.h"
#include "fakes/fake_discord.h"
#include "pg/pg_quota.h"
#include "tpg.h"

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
    /* a lease many renewal periods long, so a slow machine never lets the live one lapse */
    pg_quota *dead = mk(&t, "proc-dead", 1, 0, 0, 2000);
    pg_quota *live = mk(&t, "proc-live", 1, 0, 0, 2000);
    uint64_t retry;
    assert_int_equal(pg_quota_admit(dead, 7, "d:1", &retry, err, sizeof err), PG_QUOTA_OK);
    assert_int_equal(pg_quota_admit(live, 8, "l:1", &retry, err, sizeof err), PG_QUOTA_OK);
    /* "dead" stops renewing (as after kill -9); "live" renews every 250 ms */
    pg_quota_free(dead);
    assert_int_equal(pg_quota_admit(live, 7, "l:2", &retry, err, sizeof err), PG_QUOTA_USER_ACTIVE);
    for (int i = 0; i < 10; i++) {
        sleep_ms(250);
        assert_int_equal(pg_quota_renew(live, err, sizeof err), 0);
    }
    assert_int_equal(pg_quota_admit(live, 7, "l:2", &retry, err, sizeof err), PG_QUOTA_OK);
    /* live's own job, renewed, still counts */
    pg_quota *other = mk(&t, "proc-other", 1, 0, 0, 2000);
    assert_int_equal(pg_quota_admit(other, 8, "o:1", &retry, err, sizeof err),
                     PG_QUOTA_USER_ACTIVE);
    pg_quota_free(other);
    pg_quota_free(live);
    tpg_close(&t);
}

static void test_resync_replaces_own_rows(void **state)
{
    (void)state;
    tpg t;
    tpg_open(&t);
    pg_quota *a = mk(&t, "proc-a", 0, 0, 0, 0), *b = mk(&t, "proc-b", 0, 0, 0, 0);
    uint64_t retry;
    assert_int_equal(pg_quota_admit(a, 1, "a:1", &retry, err, sizeof err), PG_QUOTA_OK);
    assert_int_equal(pg_quota_admit(a, 1, "a:2", &retry, err, sizeof err), PG_QUOTA_OK);
    assert_int_equal(pg_quota_admit(b, 1, "b:1", &retry, err, sizeof err), PG_QUOTA_OK);
    /* a's jobs are now: one of user 1, two of user 2^64-1 (an outage changed them) */
    uint64_t now_held[3] = {1, UINT64_MAX, UINT64_MAX};
    assert_int_equal(pg_quota_resync(a, now_held, 3, err, sizeof err), 0);
    assert_int_equal(pg_quota_active(a, 1, err, sizeof err), 2); /* a's one + b's one */
    assert_int_equal(pg_quota_active(a, UINT64_MAX, err, sizeof err), 2);
    assert_int_equal(pg_quota_active(a, 0, err, sizeof err), 4);
    /* per-user release takes one of a's rows, never b's */
    assert_int_equal(pg_quota_release_user(a, 1, err, sizeof err), 0);
    assert_int_equal(pg_quota_release_user(a, 1, err, sizeof err), 0);
    assert_int_equal(pg_quota_active(a, 1, err, sizeof err), 1);
    assert_int_equal(pg_quota_resync(a, NULL, 0, err, sizeof err), 0);
    assert_int_equal(pg_quota_active(a, 0, err, sizeof err), 1);
    pg_quota_free(a);
    pg_quota_free(b);
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

static bool all_ready(const fake_gateway_stats *s, void *ctx)
{
    (void)ctx;
    return s->ready_connections >= 3;
}

/* Waits until the interaction was refused (original deleted, ephemeral follow-up) or shows
 * progress (an edit of @original that stays). 1 refused, 0 running, -1 neither in time. */
static int outcome_of(fake_discord *fd, uint64_t id)
{
    for (int i = 0; i < 600; i++) {
        fake_rest_ix_state st;
        memset(&st, 0, sizeof st);
        bool known = fake_rest_interaction_state(fake_discord_rest(fd), id, &st);
        free(st.original_json);
        if (known && st.original_deleted && st.followups >= 1) return 1;
        if (known && st.edits >= 1 && !st.original_deleted) return 0;
        sleep_ms(50);
    }
    return -1;
}

static void test_user_limited_across_shard_processes(void **state)
{
    (void)state;
    tpg t;
    tpg_open(&t);
    const char *bin = getenv("FLUXBOT_BIN");
    assert_non_null(bin);
    char dir[] = "/tmp/fluxbot-pgq-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char supp[128];
    snprintf(supp, sizeof supp, "%s/lsan.supp", dir);
    FILE *f = fopen(supp, "w");
    assert_non_null(f);
    /* Empty: a child that is an ASan build must exit without any leak report (no TLS client
     * context but the gateway's, the chart's font caches released at exit). */
    fclose(f);
    /* max_concurrency 3: every shard its own identify bucket, no pacing wait */
    fake_discord_options fo = {.token = "pgq-token.fluxbot", .shards = 3, .max_concurrency = 3};
    fake_discord *fd = fake_discord_start(&fo);
    assert_non_null(fd);
    /* jobs that run long enough (4 steps of 2.5 s) to still hold their slot when the second
     * command comes, even on a slow machine */
    fake_comfy_opts co = {.steps = 4, .step_delay_ms = 2500, .png_width = 16, .png_height = 16};
    fake_comfy *comfy = fake_comfy_start(&co);
    assert_non_null(comfy);
    e2e_child kids[3];
    memset(kids, 0, sizeof kids);
    for (int i = 0; i < 3; i++)
        tpg_spawn_shard(&kids[i], bin, dir, i, 3, "pgq-token.fluxbot", fake_discord_api_base(fd),
                        fake_comfy_url(comfy), t.url, supp, "info",
                        (const char *const[]){"--user-max-concurrent-jobs", "1", NULL});
    bool ready = fake_gateway_wait(fake_discord_gateway(fd), all_ready, NULL, 90000);
    /* guild g is on shard (g >> 22) % 3 */
    uint64_t guild[3];
    for (int k = 0; k < 3; k++)
        guild[k] = (uint64_t)(900000 + k) << 22;
    const char *opts = "[{\"name\":\"prompt\",\"type\":3,\"value\":\"a red fox\"}]";
    int first = -1, second = -1, other = -1;
    fake_discord_ix ix1 = {0}, ix2 = {0}, ix3 = {0};
    if (ready) {
        fake_discord_member u0 = {.user_id = 331000000000000001ull, .guild_id = guild[0]};
        fake_discord_member u1 = {.user_id = 331000000000000001ull, .guild_id = guild[1]};
        fake_discord_member v2 = {.user_id = 331000000000000002ull, .guild_id = guild[2]};
        assert_int_equal(fake_discord_inject_command(fd, "comfy", opts, NULL, 0, &u0, &ix1), 0);
        first = outcome_of(fd, ix1.id);
        assert_int_equal(fake_discord_inject_command(fd, "comfy", opts, NULL, 0, &u1, &ix2), 0);
        second = outcome_of(fd, ix2.id);
        assert_int_equal(fake_discord_inject_command(fd, "comfy", opts, NULL, 0, &v2, &ix3), 0);
        other = outcome_of(fd, ix3.id);
    }
    for (int i = 0; i < 3; i++) {
        e2e_signal(&kids[i], SIGTERM);
        if (e2e_wait(&kids[i], 40000) != 0) e2e_kill(&kids[i]);
    }
    if (!ready || first != 0 || second != 1 || other != 0) {
        for (int i = 0; i < 3; i++) {
            char cmd[300];
            snprintf(cmd, sizeof cmd, "tail -n 30 %s/shard%d.log", dir, i);
            if (system(cmd) != 0) fprintf(stderr, "(no log %d)\n", i);
        }
    }
    assert_true(ready);
    assert_int_equal(ix1.sessions, 1);
    assert_int_equal(ix2.sessions, 1);
    assert_int_equal(first, 0);  /* runs */
    assert_int_equal(second, 1); /* same user, another process: refused */
    assert_int_equal(other, 0);  /* another user: runs */
    fake_comfy_stop(comfy);
    fake_discord_stop(fd);
    char rm[128];
    snprintf(rm, sizeof rm, "rm -rf %s", dir);
    if (system(rm) != 0) fprintf(stderr, "could not remove %s\n", dir);
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
        cmocka_unit_test(test_resync_replaces_own_rows),
        cmocka_unit_test(test_user_limited_across_shard_processes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
