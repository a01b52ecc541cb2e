/* The analytics database file replaced while the writer runs (real runtime, real SQLite files):
 * a database renamed over db_path, before or during a stream of writes, gets every later row and
 * nothing is lost (rows before the swap stay in the replaced file); the swap is logged with the
 * path; a file that is not a database renamed over it is left alone while events wait in memory,
 * and writing resumes when a database is back; a removed file is recreated with the schema.
 *
 * fluxbot-test: tsan
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <semaphore.h>
#include <stdatomic.h>
#include <time.h>

#include "actors/analytics_writer.h"
#include "analytics/an_record.h"
#include "analytics/an_store.h"
#include "fluxbot/log.h"
#include "fluxbot/runtime.h"
#include "msgs/an.h"
#include "test_an_util.h"

typedef struct fx {
    tdir dir;
    char db[512], old[512], repl[512], logpath[512];
    rt_system *sys;
    analytics_writer *w;
    rt_actor *writer, *col_actor;
    sem_t sem;
    char error[200];
    int logfd;
} fx;

static void col_on_message(rt_actor *self, void *state, rt_msg *m)
{
    (void)self;
    fx *f = state;
    if (m->type == MSG_AN_FLUSH_DONE) {
        memcpy(f->error, ((an_done_msg *)m)->error, sizeof f->error);
        sem_post(&f->sem);
    }
    rt_msg_free(m);
}

static int setup(void **state)
{
    fx *f = calloc(1, sizeof *f);
    tdir_make(&f->dir);
    tdir_file(&f->dir, "bot.db", f->db, sizeof f->db);
    tdir_file(&f->dir, "old.db", f->old, sizeof f->old);
    tdir_file(&f->dir, "replacement.db", f->repl, sizeof f->repl);
    tdir_file(&f->dir, "log.txt", f->logpath, sizeof f->logpath);
    f->logfd = open(f->logpath, O_CREAT | O_RDWR | O_TRUNC, 0644);
    log_configure(LOG_LEVEL_INFO, false, f->logfd);
    sem_init(&f->sem, 0, 0);
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
    sem_destroy(&f->sem);
    tdir_remove(&f->dir);
    free(f);
    return 0;
}

static void start(fx *f, unsigned shutdown_retry_ms)
{
    f->sys = rt_system_new();
    analytics_writer_config cfg = {
        .db_path = f->db, .batch_max = 64, .flush_ms = 20, .shutdown_retry_ms = shutdown_retry_ms};
    f->w = analytics_writer_new(f->sys, &cfg);
    assert_non_null(f->w);
    f->writer = analytics_writer_actor(f->w);
    rt_actor_spec spec = {.name = "collector",
                          .threads = 1,
                          .lane_capacity = 64,
                          .state = f,
                          .ops = {.on_message = col_on_message}};
    f->col_actor = rt_actor_new(f->sys, &spec);
    assert_int_equal(rt_system_start(f->sys), 0);
}

/* Asks for a flush and returns its error text ("" when everything is committed). */
static const char *flush(fx *f)
{
    assert_int_equal(an_request_flush(f->writer, f->col_actor, 1), 0);
    struct timespec dl;
    clock_gettime(CLOCK_REALTIME, &dl);
    dl.tv_sec += 30;
    assert_int_equal(sem_timedwait(&f->sem, &dl), 0);
    return f->error;
}

/* One command row whose channel_id is its number + 1 (0 is stored as "no channel"), so every
 * row can be accounted for. */
static void record(fx *f, uint64_t id)
{
    an_command_event e = {.command = "comfy",
                          .user_id = 7,
                          .guild_id = 5,
                          .channel_id = id + 1,
                          .exec_ms = 3,
                          .success = true};
    assert_int_equal(an_record_command(f->writer, &e), 0);
}

/* A valid, empty fluxbot database at path (as a restored backup or a fresh file would be). */
static void make_database(const char *path)
{
    char err[300];
    an_store *s = an_store_open(path, err, sizeof err);
    assert_non_null(s);
    an_store_close(s);
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* Read-write only so SQLite may create the WAL index of a file left without one; nothing is
 * written. */
static sqlite3 *open_ro(const char *path)
{
    sqlite3 *db;
    assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
    sqlite3_busy_timeout(db, 5000);
    return db;
}

/* Distinct channel ids in [lo, hi) found in either file. */
static int64_t union_count(const char *a, const char *b, int64_t lo, int64_t hi)
{
    sqlite3 *db = open_ro(a);
    char sql[600];
    snprintf(sql, sizeof sql, "ATTACH DATABASE '%s' AS other", b); /* test paths only */
    assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
    snprintf(sql, sizeof sql,
             "SELECT COUNT(*) FROM (SELECT channel_id FROM main.command_usage UNION SELECT "
             "channel_id FROM other.command_usage) WHERE channel_id > %lld AND channel_id <= %lld",
             (long long)lo, (long long)hi);
    int64_t n = sql_int(db, sql);
    sqlite3_close(db);
    return n;
}

static int64_t count_range(const char *path, int64_t lo, int64_t hi)
{
    sqlite3 *db = open_ro(path);
    char sql[300];
    snprintf(sql, sizeof sql,
             "SELECT COUNT(DISTINCT channel_id) FROM command_usage WHERE channel_id > %lld AND "
             "channel_id <= %lld",
             (long long)lo, (long long)hi);
    int64_t n = sql_int(db, sql);
    sqlite3_close(db);
    return n;
}

static void assert_intact(const char *path)
{
    sqlite3 *db = open_ro(path);
    sqlite3_stmt *st;
    assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA integrity_check", -1, &st, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    assert_string_equal((const char *)sqlite3_column_text(st, 0), "ok");
    sqlite3_finalize(st);
    sqlite3_close(db);
}

static char *read_log(fx *f)
{
    off_t n = lseek(f->logfd, 0, SEEK_END);
    char *buf = calloc(1, (size_t)n + 1);
    if (n > 0 && pread(f->logfd, buf, (size_t)n, 0) != n) abort();
    return buf;
}

static void test_renamed_over_between_batches(void **state)
{
    fx *f = *state;
    start(f, 0);
    for (uint64_t i = 0; i < 1000; i++)
        record(f, i);
    assert_string_equal(flush(f), "");
    /* keep a name on the original file, then rename a database over db_path */
    assert_int_equal(link(f->db, f->old), 0);
    make_database(f->repl);
    assert_int_equal(rename(f->repl, f->db), 0);
    for (uint64_t i = 1000; i < 2500; i++)
        record(f, i);
    assert_string_equal(flush(f), "");
    rt_system_stop(f->sys);
    analytics_writer_counters m;
    analytics_writer_counters_get(f->w, &m);
    assert_int_equal(m.db_replaced, 1);
    assert_int_equal(m.lost, 0);
    /* the 1500 rows written after the swap are in the file at db_path, which is intact */
    assert_int_equal(count_range(f->db, 1000, 2500), 1500);
    assert_intact(f->db);
    /* the 1000 before it stayed in the replaced file */
    assert_int_equal(count_range(f->old, 0, 1000), 1000);
    assert_int_equal(union_count(f->db, f->old, 0, 2500), 2500);
    char *log = read_log(f);
    assert_non_null(strstr(log, "was replaced or removed"));
    assert_non_null(strstr(log, f->db));
    free(log);
}

typedef struct feeder {
    fx *f;
    uint64_t n;
    uint64_t hold_at; /* stop after this many events until swapped is set (0: never) */
    atomic_bool swapped;
    atomic_uint_fast64_t done;
} feeder;

static void *feed(void *arg)
{
    feeder *fd = arg;
    for (uint64_t i = 0; i < fd->n; i++) {
        /* Without the hold, a loaded machine can let the feeder (and the writer) finish before
         * the swap, and the test would then check nothing about a swap during writes. */
        while (fd->hold_at && i == fd->hold_at && !atomic_load(&fd->swapped))
            sleep_ms(1);
        record(fd->f, i);
        atomic_store(&fd->done, i + 1);
        if (i % 50 == 0) sleep_ms(2);
    }
    return NULL;
}

/* The swap lands while events stream in: every event is in one of the two files, and every
 * event recorded after the swap was seen is in the file at db_path. */
static void test_renamed_over_during_writes(void **state)
{
    fx *f = *state;
    start(f, 0);
    feeder fd = {.f = f, .n = 3000, .hold_at = 1200};
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, feed, &fd), 0);
    while (atomic_load(&fd.done) < 1200)
        sleep_ms(1);
    assert_int_equal(link(f->db, f->old), 0);
    make_database(f->repl);
    assert_int_equal(rename(f->repl, f->db), 0);
    uint64_t after = atomic_load(&fd.done);
    atomic_store(&fd.swapped, true); /* the other 1800 events are recorded after the swap */
    pthread_join(t, NULL);
    assert_string_equal(flush(f), "");
    rt_system_stop(f->sys);
    analytics_writer_counters m;
    analytics_writer_counters_get(f->w, &m);
    assert_int_equal(m.db_replaced, 1);
    assert_int_equal(m.lost, 0);
    assert_intact(f->db);
    assert_int_equal(union_count(f->db, f->old, 0, 3000), 3000);
    assert_int_equal(count_range(f->db, (int64_t)after, 3000), (int64_t)(3000 - after));
}

static void test_not_a_database_renamed_over(void **state)
{
    fx *f = *state;
    start(f, 0);
    for (uint64_t i = 0; i < 100; i++)
        record(f, i);
    assert_string_equal(flush(f), "");
    /* a text file renamed over the database: left as it is, events wait in memory */
    const char *text = "this is not a database, and it must not be turned into one\n";
    FILE *fp = fopen(f->repl, "w");
    fputs(text, fp);
    fclose(fp);
    assert_int_equal(rename(f->repl, f->db), 0);
    for (uint64_t i = 100; i < 300; i++)
        record(f, i);
    assert_string_not_equal(flush(f), "");
    analytics_writer_counters m;
    analytics_writer_counters_get(f->w, &m);
    assert_int_equal(m.pending, 200);
    assert_int_equal(m.lost, 0);
    char buf[200] = "";
    fp = fopen(f->db, "r");
    size_t n = fread(buf, 1, sizeof buf - 1, fp);
    fclose(fp);
    buf[n] = 0;
    assert_string_equal(buf, text);
    char *log = read_log(f);
    assert_non_null(strstr(log, "was replaced or removed"));
    assert_non_null(strstr(log, "events kept in memory"));
    free(log);
    /* a database is put back: the waiting events are written there */
    make_database(f->repl);
    assert_int_equal(rename(f->repl, f->db), 0);
    int64_t got = -1;
    for (int i = 0; i < 600 && got != 200; i++) {
        sleep_ms(50);
        got = count_range(f->db, 100, 300);
    }
    assert_int_equal(got, 200);
    rt_system_stop(f->sys);
    analytics_writer_counters_get(f->w, &m);
    assert_int_equal(m.lost, 0);
    assert_int_equal(m.pending, 0);
}

/* Still not a database at shutdown: the loss is counted and logged (the app exits non-zero). */
static void test_not_a_database_at_exit_counts_the_loss(void **state)
{
    fx *f = *state;
    start(f, 300);
    record(f, 1);
    assert_string_equal(flush(f), "");
    FILE *fp = fopen(f->repl, "w");
    fputs("garbage", fp);
    fclose(fp);
    assert_int_equal(rename(f->repl, f->db), 0);
    for (uint64_t i = 2; i < 12; i++)
        record(f, i);
    rt_system_stop(f->sys);
    analytics_writer_counters m;
    analytics_writer_counters_get(f->w, &m);
    assert_int_equal(m.lost, 10);
    char *log = read_log(f);
    assert_non_null(strstr(log, "10 accepted events could not be written"));
    free(log);
}

static void test_removed_file_is_recreated(void **state)
{
    fx *f = *state;
    start(f, 0);
    for (uint64_t i = 0; i < 50; i++)
        record(f, i);
    assert_string_equal(flush(f), "");
    assert_int_equal(unlink(f->db), 0);
    for (uint64_t i = 50; i < 120; i++)
        record(f, i);
    assert_string_equal(flush(f), "");
    rt_system_stop(f->sys);
    assert_int_equal(count_range(f->db, 50, 120), 70);
    assert_intact(f->db);
    analytics_writer_counters m;
    analytics_writer_counters_get(f->w, &m);
    assert_int_equal(m.db_replaced, 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_renamed_over_between_batches, setup, teardown),
        cmocka_unit_test_setup_teardown(test_renamed_over_during_writes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_not_a_database_renamed_over, setup, teardown),
        cmocka_unit_test_setup_teardown(test_not_a_database_at_exit_counts_the_loss, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_removed_file_is_recreated, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
