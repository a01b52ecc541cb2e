/* IDENTIFY pacing shared across processes through PostgreSQL (pg/pg_idgate.h), on the
 * throw-away server of the test script:
 * - the gate itself: a bucket is granted, then refused for interval + margin with the time left,
 *   other buckets stay free, a refused bucket is granted once the time has passed; a URL that is
 *   not postgresql:// is refused and an unreachable server is an error (the gate fails closed);
 * - three gates (three connections, as three processes) hammering one bucket: every grant the
 *   database recorded (a trigger keeps the history, server clock) is at least interval + margin
 *   after the previous one;
 * - three real `fluxbot run --shard i/3` processes started at once against the fake Discord
 *   (3 shards, max_concurrency 2: shards 0 and 2 share bucket 0): all three shards get READY,
 *   and the fake, which enforces Discord's 5 s per bucket, saw no identify too early. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "e2e_proc.h"
#include "fakes/fake_comfy.h"
#include "fakes/fake_discord.h"
#include "discord/gw_idq.h"
#include "pg/pg_conn.h"
#include "pg/pg_idgate.h"
#include "tpg.h"

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void sleep_ms(unsigned ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static void test_grant_wait_and_buckets(void **state)
{
    (void)state;
    tpg t;
    tpg_open(&t);
    pg_idgate_cfg c = {.url = t.url, .margin_ms = 400};
    pg_idgate *g = pg_idgate_new(&c);
    assert_non_null(g);
    char err[256];
    uint64_t wait = 0;
    assert_int_equal(pg_idgate_claim(g, 0, 400, &wait, err, sizeof err), PG_IDGATE_GRANTED);
    assert_int_equal(pg_idgate_claim(g, 0, 400, &wait, err, sizeof err), PG_IDGATE_WAIT);
    assert_true(wait > 0 && wait <= 800);
    uint64_t left = wait;
    assert_int_equal(pg_idgate_claim(g, 1, 400, &wait, err, sizeof err), PG_IDGATE_GRANTED);
    sleep_ms((unsigned)left + 20);
    assert_int_equal(pg_idgate_claim(g, 0, 400, &wait, err, sizeof err), PG_IDGATE_GRANTED);
    /* bucket numbers go to the database as bound parameters, the table holds both */
    assert_int_equal(tpg_scalar(t.conn, "SELECT count(*) FROM fluxbot_identify", 0, NULL), 2);
    pg_idgate_free(g);
    tpg_close(&t);
}

/* The gate's margin is never below the in-process pacing's (GW_IDQ_MARGIN_MS): a smaller one
 * configured is raised to it. Read on the server's clock: the two grants the table recorded. */
static void test_margin_at_least_the_in_process_one(void **state)
{
    (void)state;
    tpg t;
    tpg_open(&t);
    pg_idgate_cfg c = {.url = t.url, .margin_ms = 10};
    pg_idgate *g = pg_idgate_new(&c);
    assert_non_null(g);
    char err[256];
    uint64_t wait = 0;
    assert_int_equal(pg_idgate_claim(g, 3, 100, &wait, err, sizeof err), PG_IDGATE_GRANTED);
    int64_t first =
        tpg_scalar(t.conn, "SELECT last_ms FROM fluxbot_identify WHERE bucket = 3", 0, NULL);
    /* asked again and again, sooner than told: the grant comes no earlier than the gap */
    uint64_t until = now_ms() + 10000;
    pg_idgate_verdict v;
    while ((v = pg_idgate_claim(g, 3, 100, &wait, err, sizeof err)) == PG_IDGATE_WAIT &&
           now_ms() < until) {
        assert_true(wait <= 100 + GW_IDQ_MARGIN_MS);
        sleep_ms(5);
    }
    assert_int_equal(v, PG_IDGATE_GRANTED);
    int64_t second =
        tpg_scalar(t.conn, "SELECT last_ms FROM fluxbot_identify WHERE bucket = 3", 0, NULL);
    assert_true(second - first >= 100 + (int64_t)GW_IDQ_MARGIN_MS);
    pg_idgate_free(g);
    tpg_close(&t);
}

static void test_bad_url_and_unreachable_server(void **state)
{
    (void)state;
    pg_idgate_cfg c = {.url = "/var/lib/fluxbot/fluxbot.db"};
    assert_null(pg_idgate_new(&c));
    assert_false(pg_is_url("sqlite:///x"));
    assert_true(pg_is_url("postgres://h/db"));
    /* a socket directory where no server listens: an error, quickly, never a grant */
    char dir[] = "/tmp/fluxbot-nopg-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char url[128];
    snprintf(url, sizeof url, "postgresql:///x?host=%s", dir);
    pg_idgate_cfg c2 = {.url = url, .timeout_ms = 1000};
    pg_idgate *g = pg_idgate_new(&c2);
    assert_non_null(g);
    char err[256] = "";
    uint64_t wait = 7;
    assert_int_equal(pg_idgate_claim(g, 0, 5000, &wait, err, sizeof err), PG_IDGATE_ERROR);
    assert_true(strstr(err, "PostgreSQL") != NULL);
    assert_int_equal(wait, 0);
    pg_idgate_free(g);
    rmdir(dir);
}

typedef struct claimer {
    const char *url;
    int grants;
    int errors;
    uint64_t until;
} claimer;

static void *claim_loop(void *arg)
{
    claimer *c = arg;
    pg_idgate_cfg gc = {.url = c->url, .margin_ms = GW_IDQ_MARGIN_MS};
    pg_idgate *g = pg_idgate_new(&gc);
    char err[256];
    while (g && now_ms() < c->until) {
        uint64_t wait = 0;
        pg_idgate_verdict v = pg_idgate_claim(g, 0, 100, &wait, err, sizeof err);
        if (v == PG_IDGATE_GRANTED) c->grants++;
        if (v == PG_IDGATE_ERROR) c->errors++;
        /* retry sooner than told, to press on the lock */
        sleep_ms(v == PG_IDGATE_WAIT ? (unsigned)(wait / 3 + 1) : 1);
    }
    pg_idgate_free(g);
    return NULL;
}

static void test_three_claimers_never_closer_than_the_gap(void **state)
{
    (void)state;
    tpg t;
    tpg_open(&t);
    /* The table as the gate makes it, plus a history the test reads: every write, server time. */
    tpg_exec(t.conn, "CREATE TABLE fluxbot_identify (bucket integer PRIMARY KEY,"
                     " last_ms bigint NOT NULL)");
    tpg_exec(t.conn, "CREATE TABLE history (n bigserial, last_ms bigint)");
    tpg_exec(t.conn, "CREATE FUNCTION keep() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN"
                     " INSERT INTO history (last_ms) VALUES (NEW.last_ms); RETURN NEW; END $$");
    tpg_exec(t.conn, "CREATE TRIGGER keep AFTER INSERT OR UPDATE ON fluxbot_identify"
                     " FOR EACH ROW EXECUTE FUNCTION keep()");
    claimer c[3];
    pthread_t th[3];
    uint64_t until = now_ms() + 2000;
    for (int i = 0; i < 3; i++) {
        c[i] = (claimer){.url = t.url, .until = until};
        assert_int_equal(pthread_create(&th[i], NULL, claim_loop, &c[i]), 0);
    }
    int grants = 0;
    for (int i = 0; i < 3; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(c[i].errors, 0);
        grants += c[i].grants;
    }
    assert_true(grants >= 3); /* 2 s / 400 ms gap: about 5, at least a few even when slow */
    assert_int_equal(tpg_scalar(t.conn, "SELECT count(*) FROM history", 0, NULL), grants);
    char gap[16];
    snprintf(gap, sizeof gap, "%u", 100u + GW_IDQ_MARGIN_MS);
    const char *p[1] = {gap};
    assert_int_equal(tpg_scalar(t.conn,
                                "SELECT count(*) FROM (SELECT last_ms - lag(last_ms) OVER"
                                " (ORDER BY n) AS gap FROM history) h WHERE gap < $1::bigint",
                                1, p),
                     0);
    tpg_close(&t);
}

static bool all_ready(const fake_gateway_stats *s, void *ctx)
{
    (void)ctx;
    return s->ready_connections >= 3;
}

static void test_three_processes_start_at_once(void **state)
{
    (void)state;
    tpg t;
    tpg_open(&t);
    const char *bin = getenv("FLUXBOT_BIN");
    assert_non_null(bin);
    char dir[] = "/tmp/fluxbot-pgid-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char supp[128];
    snprintf(supp, sizeof supp, "%s/lsan.supp", dir);
    FILE *f = fopen(supp, "w");
    assert_non_null(f);
    /* Empty: a child that is an ASan build must exit without any leak report (no TLS client
     * context but the gateway's, the chart's font caches released at exit). */
    fclose(f);

    fake_discord_options fo = {.token = "pgid-token.fluxbot", .shards = 3, .max_concurrency = 2};
    fake_discord *fd = fake_discord_start(&fo);
    assert_non_null(fd);
    fake_comfy_opts co = {.steps = 2, .png_width = 16, .png_height = 16};
    fake_comfy *comfy = fake_comfy_start(&co);
    assert_non_null(comfy);

    e2e_child kids[3];
    memset(kids, 0, sizeof kids);
    for (int i = 0; i < 3; i++)
        tpg_spawn_shard(&kids[i], bin, dir, i, 3, "pgid-token.fluxbot", fake_discord_api_base(fd),
                        fake_comfy_url(comfy), t.url, supp, "debug", NULL);
    /* bucket 0 (shards 0 and 2) needs one 5 s (+ margin) wait; the ASan build starts slowly */
    bool ready = fake_gateway_wait(fake_discord_gateway(fd), all_ready, NULL, 90000);
    fake_gateway_stats gs;
    fake_gateway_get_stats(fake_discord_gateway(fd), &gs);
    for (int i = 0; i < 3; i++) {
        e2e_signal(&kids[i], SIGTERM);
        if (e2e_wait(&kids[i], 20000) != 0) e2e_kill(&kids[i]);
    }
    if (!ready || gs.identify_spacing_violations != 0) {
        for (int i = 0; i < 3; i++) {
            char cmd[300];
            snprintf(cmd, sizeof cmd, "tail -n 30 %s/shard%d.log", dir, i);
            if (system(cmd) != 0) fprintf(stderr, "(no log %d)\n", i);
        }
    }
    assert_true(ready);
    assert_int_equal(gs.identifies, 3);
    assert_int_equal(gs.identify_spacing_violations, 0);
    assert_true(gs.min_identify_gap_ms >= 5000);
    /* both buckets went through the shared table */
    assert_int_equal(tpg_scalar(t.conn, "SELECT count(*) FROM fluxbot_identify", 0, NULL), 2);
    for (int i = 0; i < 3; i++)
        assert_int_equal(e2e_exit_code(&kids[i]), 0);

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
        cmocka_unit_test(test_grant_wait_and_buckets),
        cmocka_unit_test(test_margin_at_least_the_in_process_one),
        cmocka_unit_test(test_bad_url_and_unreachable_server),
        cmocka_unit_test(test_three_claimers_never_closer_than_the_gap),
        cmocka_unit_test(test_three_processes_start_at_once),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
