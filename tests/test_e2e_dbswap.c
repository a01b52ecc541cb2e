/*
 * The analytics database renamed over while the real `fluxbot` binary runs under load (child
 * process, loopback fakes):
 *   - a database renamed over db_path: the bot logs it with the path, every interaction answered
 *     after the swap has its command_usage row in the file at db_path, every one before it in
 *     the replaced file, the file at db_path passes integrity_check, and the exit code is 0;
 *   - a file that is not a database renamed over it: the bot leaves it alone, logs the swap and,
 *     at SIGTERM, the events it could not write, and exits with code 1 (not 0).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "e2e_util.h"

static void send_some(e2e_world *w, unsigned n)
{
    for (unsigned i = 0; i < n; i++) {
        assert_true(e2e_send_one(w));
        e2e_sleep(60);
    }
}

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f) return calloc(1, 1);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *b = calloc(1, (size_t)n + 1);
    if (n > 0 && fread(b, 1, (size_t)n, f) != (size_t)n) b[0] = 0;
    fclose(f);
    return b;
}

/* command_usage rows per interaction index in the file at path (read-write only so SQLite may
 * rebuild a WAL index; nothing is written). */
static void usage_rows(const e2e_world *w, const char *path, unsigned *rows)
{
    sqlite3 *h;
    assert_int_equal(sqlite3_open_v2(path, &h, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
    sqlite3_stmt *st;
    assert_int_equal(sqlite3_prepare_v2(h, "SELECT user_id FROM command_usage", -1, &st, NULL),
                     SQLITE_OK);
    while (sqlite3_step(st) == SQLITE_ROW) {
        uint64_t u = (uint64_t)sqlite3_column_int64(st, 0);
        if (u >= E2E_USER_BASE && u - E2E_USER_BASE < w->n) rows[u - E2E_USER_BASE]++;
    }
    sqlite3_finalize(st);
    assert_int_equal(sqlite3_prepare_v2(h, "PRAGMA integrity_check", -1, &st, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    assert_string_equal((const char *)sqlite3_column_text(st, 0), "ok");
    sqlite3_finalize(st);
    sqlite3_close(h);
}

static void test_database_renamed_over(void **state)
{
    (void)state;
    static e2e_world w;
    assert_true(e2e_start(&w, 20, NULL));
    send_some(&w, 12);
    assert_true(e2e_settle(&w, 30000));
    unsigned before = w.n;
    /* keep a name on the original, then rename an empty file (a new database) over it */
    char old[160], fresh[160];
    snprintf(old, sizeof old, "%s/old.db", w.dir);
    snprintf(fresh, sizeof fresh, "%s/fresh.db", w.dir);
    assert_int_equal(link(w.db, old), 0);
    FILE *f = fopen(fresh, "w");
    fclose(f);
    assert_int_equal(rename(fresh, w.db), 0);
    send_some(&w, 12);
    assert_true(e2e_settle(&w, 30000));
    assert_int_equal(e2e_signal(&w.child, SIGTERM), 0);
    assert_int_equal(e2e_wait(&w.child, 60000), 0);
    if (e2e_exit_code(&w.child) != 0) e2e_print_log(&w);
    assert_int_equal(e2e_exit_code(&w.child), 0);
    e2e_observe(&w);

    static unsigned in_new[E2E_MAX], in_old[E2E_MAX];
    usage_rows(&w, w.db, in_new);
    usage_rows(&w, old, in_old);
    for (unsigned i = 0; i < w.n; i++) {
        if (!w.ix[i].acked) continue;
        if (in_new[i] + in_old[i] != 1)
            fail_msg("interaction %u: %u rows at db_path, %u in the replaced file", i, in_new[i],
                     in_old[i]);
        if (i >= before && in_new[i] != 1)
            fail_msg("interaction %u came after the swap but is not in the file at db_path", i);
    }
    char *log = slurp(w.log);
    assert_non_null(strstr(log, "was replaced or removed"));
    assert_non_null(strstr(log, w.db));
    free(log);
    unlink(old);
    e2e_stop_world(&w, false);
}

static void test_not_a_database_renamed_over(void **state)
{
    (void)state;
    static e2e_world w;
    assert_true(e2e_start(&w, 20, NULL));
    send_some(&w, 6);
    assert_true(e2e_settle(&w, 30000));
    char junk[160];
    snprintf(junk, sizeof junk, "%s/junk.txt", w.dir);
    const char *text = "not a database\n";
    FILE *f = fopen(junk, "w");
    fputs(text, f);
    fclose(f);
    assert_int_equal(rename(junk, w.db), 0);
    send_some(&w, 6);
    assert_true(e2e_settle(&w, 30000));
    assert_int_equal(e2e_signal(&w.child, SIGTERM), 0);
    assert_int_equal(e2e_wait(&w.child, 60000), 0);
    /* events could not be written: a failed run */
    assert_int_equal(e2e_exit_code(&w.child), 1);
    char *log = slurp(w.log);
    assert_non_null(strstr(log, "was replaced or removed"));
    assert_non_null(strstr(log, "analytics events were lost"));
    free(log);
    char *now = slurp(w.db);
    assert_string_equal(now, text);
    free(now);
    e2e_stop_world(&w, false);
}

int main(void)
{
    log_configure(LOG_LEVEL_WARN, false, 2);
    lws_set_log_level(LLL_ERR, NULL);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_database_renamed_over),
        cmocka_unit_test(test_not_a_database_renamed_over),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
