/* The analytics_writer actor on a real runtime and real SQLite files: batches close by size and
 * by time, shutdown under load commits every accepted event, a writer stalled by another
 * connection's lock spills and then catches up, resets are exact across threads, and a
 * database that cannot be used fails the start (or, at exit, the loss is logged).
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
#include "util/util_time.h"

/* ---- fixture: a runtime with the writer and a collector for its replies ------------------- */

typedef struct collector {
    sem_t sem;
    _Atomic uint64_t rows_deleted;
    _Atomic uint64_t cookie;
    char error[200];
    _Atomic int replies;
} collector;

static void col_on_message(rt_actor *self, void *state, rt_msg *m)
{
    (void)self;
    collector *c = state;
    if (m->type == MSG_AN_RESET_DONE || m->type == MSG_AN_FLUSH_DONE) {
        an_done_msg *d = (an_done_msg *)m;
        atomic_store(&c->rows_deleted, d->rows_deleted);
        atomic_store(&c->cookie, d->cookie);
        memcpy(c->error, d->error, sizeof c->error);
        atomic_fetch_add(&c->replies, 1);
        sem_post(&c->sem);
    }
    rt_msg_free(m);
}

typedef struct fx {
    tdir dir;
    char db[512];
    rt_system *sys;
    analytics_writer *w;
    rt_actor *writer;
    rt_actor *col_actor;
    collector col;
    char logpath[512];
    int logfd;
} fx;

static int setup(void **state)
{
    fx *f = calloc(1, sizeof *f);
    tdir_make(&f->dir);
    tdir_file(&f->dir, "w.db", f->db, sizeof f->db);
    tdir_file(&f->dir, "log.txt", f->logpath, sizeof f->logpath);
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
    sem_destroy(&f->col.sem);
    tdir_remove(&f->dir);
    free(f);
    return 0;
}

/* Builds the system (writer + collector) without starting it. */
static void build(fx *f, analytics_writer_config cfg)
{
    if (!cfg.db_path) cfg.db_path = f->db;
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

/* Builds and starts the system; returns rt_system_start's result. */
static int start(fx *f, analytics_writer_config cfg)
{
    build(f, cfg);
    return rt_system_start(f->sys);
}

/* How long a test waits for something the writer does on its own: far beyond what it takes on
 * an idle machine, because on a loaded CI machine (ctest -j, sanitizers) a thread can wait
 * hundreds of milliseconds for a core. */
#define WAIT_MS 20000

static void wait_reply(fx *f)
{
    struct timespec dl;
    clock_gettime(CLOCK_REALTIME, &dl);
    dl.tv_sec += 20;
    assert_int_equal(sem_timedwait(&f->col.sem, &dl), 0);
}

static void flush(fx *f)
{
    assert_int_equal(an_request_flush(f->writer, f->col_actor, 77), 0);
    wait_reply(f);
    assert_string_equal(f->col.error, "");
}

static int64_t total_rows(const char *db_path)
{
    sqlite3 *db;
    if (sqlite3_open_v2(db_path, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) return -1;
    sqlite3_busy_timeout(db, 2000);
    int64_t n = sql_int(db, "SELECT (SELECT COUNT(*) FROM command_usage) + (SELECT COUNT(*) FROM"
                            " image_stats) + (SELECT COUNT(*) FROM user_activity)");
    sqlite3_close(db);
    return n;
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* Polls the writer's counters until accepted reaches accepted and pending equals pending, or
 * WAIT_MS passed; returns the last snapshot. Both, because the writer moves them one after the
 * other: accepted can already count an event that pending does not count yet. */
static analytics_writer_counters wait_accepted(fx *f, uint64_t accepted, uint64_t pending)
{
    analytics_writer_counters m;
    uint64_t until = rt_now_ms() + WAIT_MS;
    for (;;) {
        analytics_writer_counters_get(f->w, &m);
        if ((m.accepted >= accepted && m.pending == pending) || rt_now_ms() >= until) return m;
        sleep_ms(2);
    }
}

/* Polls until the database holds want rows or ms passed; returns the last count. */
static int64_t wait_rows(const char *db, int64_t want, long ms)
{
    int64_t n = -1;
    for (long t = 0; t < ms; t += 10) {
        n = total_rows(db);
        if (n == want) break;
        sleep_ms(10);
    }
    return n;
}

static char *read_log(fx *f)
{
    off_t n = lseek(f->logfd, 0, SEEK_END);
    char *buf = calloc(1, (size_t)n + 1);
    if (n > 0 && pread(f->logfd, buf, (size_t)n, 0) != n) abort();
    return buf;
}

static int record_mixed(rt_actor *w, uint64_t user, int i)
{
    switch (i % 3) {
    case 0: {
        an_command_event e = {.command = i % 2 ? "comfy" : "stats",
                              .user_id = user,
                              .guild_id = 5,
                              .channel_id = 6,
                              .exec_ms = 10,
                              .success = true};
        return an_record_command(w, &e);
    }
    case 1: {
        an_image_event e = {.user_id = user,
                            .prompt = "a lighthouse at dusk",
                            .resolution = i % 2 ? "1024x1024" : "832x1216",
                            .loras = "",
                            .upscale_factor = 1,
                            .generation_ms = 1000 + (uint32_t)i,
                            .is_video = i % 7 == 0,
                            .generation_type = "standard",
                            .success = true};
        return an_record_image(w, &e);
    }
    default: {
        an_activity_event e = {.user_id = user, .action = "job_queued", .details = "{}"};
        return an_record_activity(w, &e);
    }
    }
}

/* ---- batching ------------------------------------------------------------------------------ */

static void test_batch_closes_by_time(void **state)
{
    fx *f = *state;
    build(f, (analytics_writer_config){.batch_max = 1000, .flush_ms = 300});
    /* Recorded before the start, so all ten are in the writer's mailbox before its first tick.
     * Recorded after it, a test thread that lost its core for a moment between two of them
     * (ctest -j on a loaded machine) let a tick commit the first few alone: two transactions,
     * which is right for the writer and wrong for this test. */
    for (int i = 0; i < 10; i++)
        assert_int_equal(record_mixed(f->writer, 42, i), 0);
    assert_int_equal(rt_system_start(f->sys), 0);
    /* No flush request: the 300 ms bound alone commits them, in one transaction. */
    assert_int_equal(wait_rows(f->db, 10, WAIT_MS), 10);
    /* The counters move just after COMMIT returns, one at a time (rows_written and batches,
     * then pending): the rows can be visible, and rows_written counted, a moment before pending
     * drops. Waiting for rows_written alone read pending == 10 under TSan on a loaded machine. */
    analytics_writer_counters m;
    uint64_t until = rt_now_ms() + WAIT_MS;
    do {
        analytics_writer_counters_get(f->w, &m);
    } while ((m.rows_written < 10 || m.pending > 0) && rt_now_ms() < until &&
             (util_sleep_ms(2), true));
    assert_int_equal(m.rows_written, 10);
    assert_int_equal(m.batches, 1);
    assert_int_equal(m.pending, 0);
}

static void test_batch_closes_by_size(void **state)
{
    fx *f = *state;
    assert_int_equal(start(f, (analytics_writer_config){.batch_max = 100, .flush_ms = 60000}), 0);
    for (int i = 0; i < 250; i++)
        assert_int_equal(record_mixed(f->writer, 42, i), 0);
    /* Events are sent lazily: they wake the writer only while 100 of them wait in this thread's
     * lane; the writer takes the rest at its next wake-up, normally its flush_ms tick (60 s
     * here). Which ones that leaves behind depends on where this thread lost its core: when the
     * writer drained the lane up to event 199 and went to sleep, events 200-250 (51 < 100) wait
     * for the tick, with only 100 rows committed. So wake the writer once more, with a timer of
     * no meaning to it: it takes everything queued and commits only what is due (full batches),
     * as its tick would. */
    rt_timer_start(f->writer, 0, 0, 0);
    analytics_writer_counters m = wait_accepted(f, 250, 50);
    assert_int_equal(m.accepted, 250);
    assert_int_equal(m.pending, 50);
    /* Two full batches went at once; the last 50 wait for the (long) time bound. */
    assert_int_equal(wait_rows(f->db, 200, WAIT_MS), 200);
    sleep_ms(100);
    assert_int_equal(total_rows(f->db), 200);
    analytics_writer_counters_get(f->w, &m);
    assert_int_equal(m.pending, 50);
    assert_int_equal(m.batches, 2);
    /* The stop commits the rest. */
    rt_system_stop(f->sys);
    assert_int_equal(total_rows(f->db), 250);
    analytics_writer_counters_get(f->w, &m);
    assert_int_equal(m.rows_written, 250);
    assert_int_equal(m.lost, 0);
}

/* ---- shutdown under load ------------------------------------------------------------------- */

typedef struct producer {
    pthread_t th;
    rt_actor *writer;
    int id, count;
    uint64_t accepted;
} producer;

static void *produce(void *p)
{
    producer *pr = p;
    for (int i = 0; i < pr->count; i++)
        if (record_mixed(pr->writer, (uint64_t)pr->id * 1000 + (uint64_t)(i % 50), i) == 0)
            pr->accepted++;
    return NULL;
}

static void test_shutdown_under_load_commits_all(void **state)
{
    fx *f = *state;
    assert_int_equal(
        start(f, (analytics_writer_config){.batch_max = 256, .flush_ms = 20, .lane_capacity = 256}),
        0);
    producer pr[4];
    for (int i = 0; i < 4; i++) {
        pr[i] = (producer){.writer = f->writer, .id = i + 1, .count = 15000};
        pthread_create(&pr[i].th, NULL, produce, &pr[i]);
    }
    uint64_t accepted = 0;
    for (int i = 0; i < 4; i++) {
        pthread_join(pr[i].th, NULL);
        accepted += pr[i].accepted;
    }
    /* Stop at once, with the backlog still queued in lanes, spill lists and the batch. */
    rt_metrics rm;
    rt_actor_metrics(f->writer, &rm);
    analytics_writer_counters m;
    analytics_writer_counters_get(f->w, &m);
    print_message("backlog at stop: %llu queued, %llu pending, %llu spilled so far\n",
                  (unsigned long long)rm.depth, (unsigned long long)m.pending,
                  (unsigned long long)rm.spills);
    rt_system_stop(f->sys);
    assert_int_equal(accepted, 60000);
    assert_int_equal(total_rows(f->db), (int64_t)accepted);
    analytics_writer_counters_get(f->w, &m);
    assert_int_equal(m.rows_written, accepted);
    assert_int_equal(m.accepted, accepted);
    assert_int_equal(m.lost + m.pending + m.dropped_invalid, 0);
    /* Sending after the stop is refused, not lost silently. */
    assert_int_equal(record_mixed(f->writer, 1, 0), -RT_ESTOPPED);
    /* And the rollups match the raw rows after all those batches. */
    sqlite3 *db;
    assert_int_equal(sqlite3_open(f->db, &db), SQLITE_OK);
    assert_rollups_match_raw(db);
    sqlite3_close(db);
}

/* ---- a stalled writer spills, then catches up ------------------------------------------------ */

static void test_stalled_writer_spills_and_recovers(void **state)
{
    fx *f = *state;
    assert_int_equal(
        start(f, (analytics_writer_config){.batch_max = 64, .flush_ms = 5, .lane_capacity = 16}),
        0);
    /* Another connection takes the write lock: every commit of the writer gets SQLITE_BUSY. */
    sqlite3 *locker;
    assert_int_equal(sqlite3_open(f->db, &locker), SQLITE_OK);
    assert_int_equal(sqlite3_exec(locker, "BEGIN EXCLUSIVE", NULL, NULL, NULL), SQLITE_OK);
    const int n = 20000;
    for (int i = 0; i < n; i++)
        assert_int_equal(record_mixed(f->writer, 7, i), 0);
    /* Wait for the first failed commit: it comes only after the store's busy timeout, and a
     * fixed sleep was too short when the writer waited for a core on a loaded machine. */
    analytics_writer_counters m;
    rt_metrics rm;
    char *log = NULL;
    for (uint64_t until = rt_now_ms() + WAIT_MS;; sleep_ms(10)) {
        free(log);
        analytics_writer_counters_get(f->w, &m);
        rt_actor_metrics(f->writer, &rm);
        log = read_log(f);
        if ((m.retries > 0 && rm.spills > 0 && strstr(log, "(busy)") &&
             strstr(log, "kept in memory")) ||
            rt_now_ms() >= until)
            break;
    }
    assert_true(m.retries > 0);
    assert_true(rm.spills > 0);
    assert_int_equal(m.rows_written, 0);
    assert_int_equal(sql_int(locker, "SELECT COUNT(*) FROM command_usage"), 0);
    assert_non_null(strstr(log, "(busy)"));
    assert_non_null(strstr(log, "kept in memory"));
    free(log);
    /* Release: everything arrives, nothing twice. */
    assert_int_equal(sqlite3_exec(locker, "COMMIT", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(locker);
    flush(f);
    assert_int_equal(total_rows(f->db), n);
    analytics_writer_counters_get(f->w, &m);
    assert_int_equal(m.rows_written, n);
    assert_int_equal(m.pending, 0);
    log = read_log(f);
    assert_non_null(strstr(log, "recovered"));
    free(log);
}

/* ---- reset ordering ------------------------------------------------------------------------ */

static void test_reset_single_thread_order(void **state)
{
    fx *f = *state;
    assert_int_equal(start(f, (analytics_writer_config){.batch_max = 4, .flush_ms = 1000}), 0);
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
    assert_int_equal(atomic_load(&f->col.cookie), 99);
    assert_string_equal(f->col.error, "");
    /* 8 were committed (batches of 4), 2 still in the batch: all ten are gone. */
    assert_int_equal(atomic_load(&f->col.rows_deleted), 10);
    flush(f);
    sqlite3 *db;
    assert_int_equal(sqlite3_open(f->db, &db), SQLITE_OK);
    assert_int_equal(sql_int(db, "SELECT COUNT(*) FROM command_usage"), 5);
    assert_int_equal(sql_int(db, "SELECT COUNT(*) FROM command_usage WHERE command_name ="
                                 " 'after' AND user_id = 2"),
                     5);
    assert_int_equal(sql_int(db, "SELECT total_commands FROM daily_stats"), 5);
    assert_int_equal(sql_int(db, "SELECT COUNT(*) FROM known_users"), 1);
    assert_rollups_match_raw(db);
    sqlite3_close(db);
}

/* Moderation state rides with the statistics (same batches, same order) but is not
 * statistics: a reset deletes neither its committed rows nor its events still in the batch,
 * and the rollups never count it. */
static void test_reset_keeps_moderation_state(void **state)
{
    fx *f = *state;
    assert_int_equal(start(f, (analytics_writer_config){.batch_max = 4, .flush_ms = 1000}), 0);
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
    /* 8 committed in two batches, the ninth (a moderation event) still in the batch. */
    assert_int_equal(an_request_reset(f->writer, f->col_actor, 5), 0);
    wait_reply(f);
    assert_string_equal(f->col.error, "");
    assert_int_equal(atomic_load(&f->col.rows_deleted), 3); /* the commands only */
    an_moderation_event ban = {.user_id = 42,
                               .op = "ban",
                               .details_json = "{\"active\":true,\"reason\":\"x\",\"until_ms\":0}"};
    assert_int_equal(an_record_moderation(f->writer, &ban), 0);
    an_moderation_event bad = {.op = "word", .details_json = "not json"};
    assert_int_equal(an_record_moderation(f->writer, &bad), 0); /* refused alone, logged */
    flush(f);
    sqlite3 *db;
    assert_int_equal(sqlite3_open(f->db, &db), SQLITE_OK);
    assert_int_equal(sql_int(db, "SELECT COUNT(*) FROM mod_words WHERE active = 1"), 6);
    assert_int_equal(sql_int(db, "SELECT COUNT(*) FROM mod_bans WHERE user_id = 42"), 1);
    assert_int_equal(sql_int(db, "SELECT COUNT(*) FROM command_usage"), 0);
    assert_int_equal(sql_int(db, "SELECT COALESCE(SUM(total_activity), 0) FROM daily_stats"), 0);
    assert_rollups_match_raw(db);
    sqlite3_close(db);
    analytics_writer_counters m;
    analytics_writer_counters_get(f->w, &m);
    assert_int_equal(m.dropped_invalid, 1);
}

typedef struct racer {
    pthread_t th;
    rt_actor *writer;
    int id;
    _Atomic int done; /* records completed */
    _Atomic bool stop;
    int total;
} racer;

static void *race(void *p)
{
    racer *r = p;
    int i = 0;
    while (!atomic_load(&r->stop) || i < 2000) {
        an_activity_event e = {.user_id = (uint64_t)r->id * 1000000 + (uint64_t)i,
                               .action = "tick"};
        assert_int_equal(an_record_activity(r->writer, &e), 0);
        atomic_store(&r->done, ++i);
    }
    r->total = i;
    return NULL;
}

static void test_reset_exact_across_threads(void **state)
{
    fx *f = *state;
    assert_int_equal(
        start(f, (analytics_writer_config){.batch_max = 50, .flush_ms = 2, .lane_capacity = 64}),
        0);
    racer r[2];
    for (int i = 0; i < 2; i++) {
        r[i] = (racer){.writer = f->writer, .id = i + 1};
        pthread_create(&r[i].th, NULL, race, &r[i]);
    }
    while (atomic_load(&r[0].done) < 1000 || atomic_load(&r[1].done) < 1000)
        sleep_ms(1);
    int before[2], after[2];
    for (int i = 0; i < 2; i++)
        before[i] = atomic_load(&r[i].done);
    assert_int_equal(an_request_reset(f->writer, f->col_actor, 5), 0);
    for (int i = 0; i < 2; i++)
        after[i] = atomic_load(&r[i].done);
    /* Let both streams run on well past the reset, so each keeps a suffix. */
    while (atomic_load(&r[0].done) < after[0] + 500 || atomic_load(&r[1].done) < after[1] + 500)
        sleep_ms(1);
    for (int i = 0; i < 2; i++)
        atomic_store(&r[i].stop, true);
    for (int i = 0; i < 2; i++)
        pthread_join(r[i].th, NULL);
    wait_reply(f);
    assert_string_equal(f->col.error, "");
    /* A flush orders only against its own thread's lane; the stop drains every lane. */
    rt_system_stop(f->sys);

    sqlite3 *db;
    assert_int_equal(sqlite3_open(f->db, &db), SQLITE_OK);
    int64_t remaining = 0;
    for (int i = 0; i < 2; i++) {
        char q[256];
        int64_t lo = (int64_t)(i + 1) * 1000000;
        /* What is left of each thread's stream is exactly a suffix of it: the events recorded
         * after the reset, starting where the reset cut it. */
        snprintf(q, sizeof q,
                 "SELECT COUNT(*), MIN(user_id) - %lld, MAX(user_id) - %lld FROM user_activity"
                 " WHERE user_id BETWEEN %lld AND %lld",
                 (long long)lo, (long long)lo, (long long)lo, (long long)lo + 999999);
        sqlite3_stmt *st;
        assert_int_equal(sqlite3_prepare_v2(db, q, -1, &st, NULL), SQLITE_OK);
        assert_int_equal(sqlite3_step(st), SQLITE_ROW);
        int64_t count = sqlite3_column_int64(st, 0), cut = sqlite3_column_int64(st, 1),
                last = sqlite3_column_int64(st, 2);
        sqlite3_finalize(st);
        print_message("thread %d: records %d, kept %lld from %lld (window %d..%d)\n", i + 1,
                      r[i].total, (long long)count, (long long)cut, before[i], after[i] + 1);
        assert_int_equal(last, r[i].total - 1);
        assert_int_equal(count, last - cut + 1);
        assert_true(cut >= before[i]);
        assert_true(cut <= after[i] + 1);
        remaining += count;
    }
    analytics_writer_counters m;
    analytics_writer_counters_get(f->w, &m);
    /* Every event is either deleted by the reset (committed, pending, or arriving late) or
     * kept. */
    assert_int_equal(atomic_load(&f->col.rows_deleted) + m.dropped_by_reset + remaining,
                     r[0].total + r[1].total);
    assert_int_equal(sql_int(db, "SELECT COUNT(*) FROM known_users"), remaining);
    assert_rollups_match_raw(db);
    sqlite3_close(db);
}

/* ---- unusable databases -------------------------------------------------------------------- */

static void assert_start_fails(fx *f, const char *path, const char *cause)
{
    assert_int_not_equal(start(f, (analytics_writer_config){.db_path = path}), 0);
    char *log = read_log(f);
    assert_non_null(strstr(log, path));
    assert_non_null(strstr(log, cause));
    free(log);
    /* Nothing is accepted, and the producer is told so. */
    an_command_event e = {.command = "comfy", .user_id = 1};
    assert_int_equal(an_record_command(f->writer, &e), -RT_ESTOPPED);
}

static void test_start_fails_without_directory(void **state)
{
    fx *f = *state;
    char path[512];
    tdir_file(&f->dir, "missing/dir/a.db", path, sizeof path);
    assert_start_fails(f, path, "cannot open");
}

static void test_start_fails_on_corrupt_file(void **state)
{
    fx *f = *state;
    FILE *fp = fopen(f->db, "wb");
    for (int i = 0; i < 16384; i++)
        fputc((i * 131) & 0xff, fp);
    fclose(fp);
    assert_start_fails(f, f->db, "not a database");
}

static void test_start_fails_on_read_only_file(void **state)
{
    fx *f = *state;
    char err[256];
    an_store *s = an_store_open(f->db, err, sizeof err);
    assert_non_null(s);
    an_store_close(s);
    assert_int_equal(make_unwritable(f->db, 1), 0);
    assert_start_fails(f, f->db, "read-only");
    assert_int_equal(make_unwritable(f->db, 0), 0);
}

static void test_exit_with_locked_database_logs_the_loss(void **state)
{
    fx *f = *state;
    assert_int_equal(start(f, (analytics_writer_config){.batch_max = 1000,
                                                        .flush_ms = 5,
                                                        .shutdown_retry_ms = 300}),
                     0);
    sqlite3 *locker;
    assert_int_equal(sqlite3_open(f->db, &locker), SQLITE_OK);
    assert_int_equal(sqlite3_exec(locker, "BEGIN EXCLUSIVE", NULL, NULL, NULL), SQLITE_OK);
    for (int i = 0; i < 100; i++)
        assert_int_equal(record_mixed(f->writer, 3, i), 0);
    rt_system_stop(f->sys); /* keeps retrying for 300 ms, then gives up loudly */
    analytics_writer_counters m;
    analytics_writer_counters_get(f->w, &m);
    assert_int_equal(m.lost, 100);
    assert_int_equal(m.rows_written, 0);
    char *log = read_log(f);
    assert_non_null(strstr(log, "100 accepted events could not be written"));
    assert_non_null(strstr(log, "(busy)"));
    free(log);
    sqlite3_exec(locker, "COMMIT", NULL, NULL, NULL);
    sqlite3_close(locker);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_batch_closes_by_time, setup, teardown),
        cmocka_unit_test_setup_teardown(test_batch_closes_by_size, setup, teardown),
        cmocka_unit_test_setup_teardown(test_shutdown_under_load_commits_all, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stalled_writer_spills_and_recovers, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reset_single_thread_order, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reset_keeps_moderation_state, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reset_exact_across_threads, setup, teardown),
        cmocka_unit_test_setup_teardown(test_start_fails_without_directory, setup, teardown),
        cmocka_unit_test_setup_teardown(test_start_fails_on_corrupt_file, setup, teardown),
        cmocka_unit_test_setup_teardown(test_start_fails_on_read_only_file, setup, teardown),
        cmocka_unit_test_setup_teardown(test_exit_with_locked_database_logs_the_loss, setup,
                                        teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
