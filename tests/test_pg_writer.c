/* The analytics_writer actor on PostgreSQL (db_path = a postgresql:// URL, the test script's
 * server): the same contract as on SQLite (test_analytics_writer.c) - a reset deletes exactly
 * the events recorded before it, committed or still waiting, across producer threads; the
 * moderation changes ride in the same batches and survive resets; the rollups equal the rows -
 * and the database URL never appears in the log (it may hold a password). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "actors/analytics_writer.h"
#include "analytics/an_engine.h"
#include "analytics/an_view.h"
#include "analytics/an_record.h"
#include "fluxbot/log.h"
#include "fluxbot/runtime.h"
#include "msgs/an.h"
#include "test_an_stats_eq.h"
#include "moderation/mod_pgstore.h"
#include "tpg.h"

typedef struct collector {
    sem_t sem;
    _Atomic uint64_t rows_deleted;
    char error[200];
} collector;

static void col_on_message(rt_actor *self, void *state, rt_msg *m)
{
    (void)self;
    collector *c = state;
    if (m->type == MSG_AN_RESET_DONE || m->type == MSG_AN_FLUSH_DONE) {
        an_done_msg *d = (an_done_msg *)m;
        atomic_store(&c->rows_deleted, d->rows_deleted);
        memcpy(c->error, d->error, sizeof c->error);
        sem_post(&c->sem);
    }
    rt_msg_free(m);
}

typedef struct fx {
    tpg t;
    rt_system *sys;
    analytics_writer *w;
    rt_actor *writer, *col_actor;
    collector col;
    char logpath[64];
    int logfd;
} fx;

static int setup(void **state)
{
    fx *f = calloc(1, sizeof *f);
    snprintf(f->logpath, sizeof f->logpath, "/tmp/fluxbot-pgw-%ld.log", (long)getpid());
    f->logfd = open(f->logpath, O_CREAT | O_RDWR | O_TRUNC, 0644);
    log_configure(LOG_LEVEL_INFO, false, f->logfd);
    sem_init(&f->col.sem, 0, 0);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fx *f = *state;
    rt_system_free(f->sys);
    analytics_writer_free(f->w);
    log_configure(LOG_LEVEL_INFO, false, 2);
    close(f->logfd);
    unlink(f->logpath);
    sem_destroy(&f->col.sem);
    if (f->t.conn) tpg_close(&f->t);
    free(f);
    return 0;
}

/* Creates the writer and the collector; the caller starts the system. */
static void create(fx *f, analytics_writer_config cfg)
{
    tpg_open(&f->t);
    cfg.db_path = f->t.url;
    f->sys = rt_system_new();
    f->w = analytics_writer_new(f->sys, &cfg);
    assert_non_null(f->w);
    f->writer = analytics_writer_actor(f->w);
    rt_actor_spec spec = {.name = "collector",
                          .threads = 1,
                          .lane_capacity = 64,
                          .state = &f->col,
                          .ops = {.on_message = col_on_message}};
    f->col_actor = rt_actor_new(f->sys, &spec);
    assert_non_null(f->col_actor);
}

static void start(fx *f, analytics_writer_config cfg)
{
    create(f, cfg);
    assert_int_equal(rt_system_start(f->sys), 0);
}

static void wait_reply(fx *f)
{
    struct timespec dl;
    clock_gettime(CLOCK_REALTIME, &dl);
    dl.tv_sec += 30;
    assert_int_equal(sem_timedwait(&f->col.sem, &dl), 0);
    assert_string_equal(f->col.error, "");
}

static void flush(fx *f)
{
    assert_int_equal(an_request_flush(f->writer, f->col_actor, 77), 0);
    wait_reply(f);
}

static long long q(fx *f, const char *sql)
{
    return tpg_scalar(f->t.conn, sql, 0, NULL);
}

/* The rollups equal the rows: /stats from the rollups and from the raw rows agree. */
static void assert_consistent(fx *f)
{
    char err[512];
    an_view *v = an_view_open(f->t.url, err, sizeof err);
    assert_non_null(v);
    int64_t now = (int64_t)time(NULL) * 1000 + 60000;
    for (int days = 1; days <= 30; days += 29) {
        an_stats a, b;
        assert_int_equal(an_view_stats(v, days, now, &a, err, sizeof err), 0);
        assert_int_equal(an_view_stats_raw(v, days, now, &b, err, sizeof err), 0);
        assert_stats_equal(&a, &b);
    }
    an_view_close(v);
}

static void test_reset_single_thread_order(void **state)
{
    fx *f = *state;
    start(f, (analytics_writer_config){.batch_max = 4, .flush_ms = 1000});
    for (int i = 0; i < 10; i++) {
        an_command_event e = {.command = "before", .user_id = 1, .success = true};
        assert_int_equal(an_record_command(f->writer, &e), 0);
    }
    assert_int_equal(an_request_reset(f->writer, f->col_actor, 99), 0);
    for (int i = 0; i < 5; i++) {
        an_command_event e = {.command = "after", .user_id = 2, .success = true};
        assert_int_equal(an_record_command(f->writer, &e), 0);
    }
    wait_reply(f);
    /* 8 were committed (batches of 4), 2 still in the batch: all ten are gone. */
    assert_int_equal(atomic_load(&f->col.rows_deleted), 10);
    flush(f);
    assert_int_equal(q(f, "SELECT COUNT(*) FROM command_usage"), 5);
    assert_int_equal(q(f, "SELECT COUNT(*) FROM command_usage WHERE command_name = 'after'"
                          " AND user_id = 2"),
                     5);
    assert_int_equal(q(f, "SELECT total_commands FROM daily_stats"), 5);
    assert_int_equal(q(f, "SELECT COUNT(*) FROM known_users"), 1);
    assert_consistent(f);
    /* The log names the database without its URL. */
    off_t n = lseek(f->logfd, 0, SEEK_END);
    char *log = calloc(1, (size_t)n + 1);
    assert_int_equal(pread(f->logfd, log, (size_t)n, 0), n);
    assert_non_null(strstr(log, "the PostgreSQL database (db_url)"));
    assert_null(strstr(log, f->t.url));
    assert_null(strstr(log, "postgresql://"));
    free(log);
}

/* On PostgreSQL, events already waiting in the mailbox share one transaction (up to 8 batches):
 * 40 events queued before the writer runs commit in 2 transactions (32 + 8), not 10 of 4, and
 * the rollups still equal the rows. */
static void test_backlog_shares_transactions(void **state)
{
    fx *f = *state;
    create(f, (analytics_writer_config){.batch_max = 4, .flush_ms = 60000, .lane_capacity = 64});
    for (int i = 0; i < 40; i++) {
        an_command_event e = {.command = "queued", .user_id = 1 + (uint64_t)i % 3, .success = true};
        assert_int_equal(an_record_command(f->writer, &e), 0);
    }
    assert_int_equal(rt_system_start(f->sys), 0);
    flush(f);
    analytics_writer_counters m;
    analytics_writer_counters_get(f->w, &m);
    assert_int_equal(m.rows_written, 40);
    assert_int_equal(m.batches, 2);
    assert_int_equal(q(f, "SELECT COUNT(*) FROM command_usage"), 40);
    assert_int_equal(q(f, "SELECT total_commands FROM daily_stats"), 40);
    assert_int_equal(q(f, "SELECT COUNT(*) FROM known_users"), 3);
    assert_consistent(f);
}

/* Moderation changes are written to PostgreSQL in the same batches; a reset keeps them. */
static void test_reset_keeps_moderation_state(void **state)
{
    fx *f = *state;
    start(f, (analytics_writer_config){.batch_max = 4, .flush_ms = 1000});
    for (int i = 0; i < 9; i++) {
        if (i % 3 == 0) {
            an_command_event e = {.command = "comfy", .user_id = 5, .success = true};
            assert_int_equal(an_record_command(f->writer, &e), 0);
        } else {
            char details[96];
            snprintf(details, sizeof details, "{\"key\":\"w%d\",\"text\":\"w%d\",\"active\":true}",
                     i, i);
            an_moderation_event m = {.op = "word", .details_json = details};
            assert_int_equal(an_record_moderation(f->writer, &m), 0);
        }
    }
    assert_int_equal(an_request_reset(f->writer, f->col_actor, 5), 0);
    wait_reply(f);
    assert_int_equal(atomic_load(&f->col.rows_deleted), 3); /* the commands only */
    an_moderation_event ban = {.user_id = 42,
                               .op = "ban",
                               .details_json = "{\"active\":true,\"reason\":\"x\",\"until_ms\":0}"};
    assert_int_equal(an_record_moderation(f->writer, &ban), 0);
    /* /priority: 43 high; 44 low, then back to normal (a later change wins) */
    an_moderation_event pr[] = {
        {.user_id = 43, .op = "priority", .details_json = "{\"level\":\"high\",\"by\":\"7\"}"},
        {.user_id = 44, .op = "priority", .details_json = "{\"level\":\"low\"}"},
        {.user_id = 44, .op = "priority", .details_json = "{\"level\":\"normal\"}"},
    };
    for (int i = 0; i < 3; i++)
        assert_int_equal(an_record_moderation(f->writer, &pr[i]), 0);
    an_moderation_event bad = {.op = "word", .details_json = "not json"};
    assert_int_equal(an_record_moderation(f->writer, &bad), 0); /* refused alone, logged */
    an_moderation_event badlevel = {
        .user_id = 45, .op = "priority", .details_json = "{\"level\":\"urgent\"}"};
    assert_int_equal(an_record_moderation(f->writer, &badlevel), 0); /* refused too */
    flush(f);
    assert_int_equal(q(f, "SELECT COUNT(*) FROM mod_words WHERE active = 1"), 6);
    assert_int_equal(q(f, "SELECT COUNT(*) FROM mod_bans WHERE user_id = 42"), 1);
    assert_int_equal(q(f, "SELECT COUNT(*) FROM mod_priorities WHERE user_id = 43 AND level = "
                          "'high' AND by_user = 7"),
                     1);
    assert_int_equal(q(f, "SELECT COUNT(*) FROM mod_priorities WHERE user_id = 44 AND level = "
                          "'normal'"),
                     1);
    /* Every applied change bumps the version the refreshers compare (the refused ones not). */
    assert_int_equal(q(f, "SELECT v FROM mod_version"), 10);
    assert_int_equal(q(f, "SELECT COUNT(*) FROM command_usage"), 0);
    assert_int_equal(q(f, "SELECT COALESCE(SUM(total_activity), 0) FROM daily_stats"), 0);
    analytics_writer_counters m;
    analytics_writer_counters_get(f->w, &m);
    assert_int_equal(m.dropped_invalid, 2);
    /* What every process reads at start and on refresh. */
    mod_loaded l;
    char err[512];
    assert_int_equal(mod_pgstore_load(f->t.url, (int64_t)time(NULL) * 1000, &l, err, sizeof err),
                     0);
    assert_int_equal(l.rules->nwords, 6);
    assert_int_equal(l.count, 2); /* 42 banned, 43 high (44 is back to normal: no entry) */
    for (size_t i = 0; i < l.count; i++) {
        if (l.users[i].id == 42)
            assert_true(l.users[i].banned);
        else if (l.users[i].id == 43)
            assert_true(l.users[i].priority == MOD_PRIORITY_HIGH && !l.users[i].banned);
        else
            fail_msg("unexpected user %" PRIu64, l.users[i].id);
    }
    mod_loaded_free(&l);
}

typedef struct racer {
    pthread_t th;
    rt_actor *writer;
    int id;
    _Atomic int done;
    _Atomic bool stop;
    int total;
} racer;

static void *race(void *p)
{
    racer *r = p;
    int i = 0;
    while (!atomic_load(&r->stop) || i < 1000) {
        an_activity_event e = {.user_id = (uint64_t)r->id * 1000000 + (uint64_t)i,
                               .action = "tick"};
        if (an_record_activity(r->writer, &e) != 0) abort();
        atomic_store(&r->done, ++i);
    }
    r->total = i;
    return NULL;
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* Two producer threads while the reset runs: what is left of each stream is exactly a suffix
 * of it, starting where the reset cut it, and every event is deleted or kept. */
static void test_reset_exact_across_threads(void **state)
{
    fx *f = *state;
    start(f, (analytics_writer_config){.batch_max = 50, .flush_ms = 2, .lane_capacity = 64});
    racer r[2];
    for (int i = 0; i < 2; i++) {
        r[i] = (racer){.writer = f->writer, .id = i + 1};
        pthread_create(&r[i].th, NULL, race, &r[i]);
    }
    while (atomic_load(&r[0].done) < 500 || atomic_load(&r[1].done) < 500)
        sleep_ms(1);
    int before[2], after[2];
    for (int i = 0; i < 2; i++)
        before[i] = atomic_load(&r[i].done);
    assert_int_equal(an_request_reset(f->writer, f->col_actor, 5), 0);
    for (int i = 0; i < 2; i++)
        after[i] = atomic_load(&r[i].done);
    while (atomic_load(&r[0].done) < after[0] + 300 || atomic_load(&r[1].done) < after[1] + 300)
        sleep_ms(1);
    for (int i = 0; i < 2; i++)
        atomic_store(&r[i].stop, true);
    for (int i = 0; i < 2; i++)
        pthread_join(r[i].th, NULL);
    wait_reply(f);
    rt_system_stop(f->sys);
    long long remaining = 0;
    for (int i = 0; i < 2; i++) {
        char sql[256];
        long long lo = (long long)(i + 1) * 1000000, v[3];
        const char *what[3] = {"COUNT(*)", "MIN(user_id) - %lld", "MAX(user_id) - %lld"};
        for (int k = 0; k < 3; k++) {
            char col[64];
            snprintf(col, sizeof col, what[k], lo);
            snprintf(sql, sizeof sql,
                     "SELECT %s FROM user_activity WHERE user_id BETWEEN %lld AND %lld", col, lo,
                     lo + 999999);
            v[k] = q(f, sql);
        }
        long long count = v[0], cut = v[1], last = v[2];
        print_message("thread %d: records %d, kept %lld from %lld (window %d..%d)\n", i + 1,
                      r[i].total, count, cut, before[i], after[i] + 1);
        assert_int_equal(last, r[i].total - 1);
        assert_int_equal(count, last - cut + 1);
        assert_true(cut >= before[i]);
        assert_true(cut <= after[i] + 1);
        remaining += count;
    }
    analytics_writer_counters m;
    analytics_writer_counters_get(f->w, &m);
    assert_int_equal(atomic_load(&f->col.rows_deleted) + m.dropped_by_reset + remaining,
                     r[0].total + r[1].total);
    assert_int_equal(q(f, "SELECT COUNT(*) FROM known_users"), remaining);
    assert_consistent(f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_reset_single_thread_order, setup, teardown),
        cmocka_unit_test_setup_teardown(test_backlog_shares_transactions, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reset_keeps_moderation_state, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reset_exact_across_threads, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
