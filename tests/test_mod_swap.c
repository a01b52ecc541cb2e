/* The analytics database (which also holds the moderation state) replaced on disk while the bot
 * runs (real runtime, real analytics writer, real SQLite files): once the writer has noticed the
 * swap, the in-memory filters, warnings and bans are those of the new file, plus every change
 * made here around the swap (none is lost or undone), and the re-read is logged. Before, the
 * bot went on enforcing the replaced file's bans and filters until it was restarted.
 *
 * fluxbot-test: tsan
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <stdatomic.h>
#include <time.h>

#include "actors/analytics_writer.h"
#include "analytics/an_record.h"
#include "analytics/an_store.h"
#include "fluxbot/log.h"
#include "fluxbot/runtime.h"
#include "moderation/mod_state.h"
#include "moderation/mod_store.h"
#include "test_an_util.h"

#define ADMIN 900000000000000001ULL
#define OLD_BANNED 300000000000000001ULL  /* banned in the file that gets replaced */
#define NEW_BANNED 300000000000000002ULL  /* banned in the replacement */
#define SWAP_BANNED 300000000000000003ULL /* banned here just after the swap */
#define NEW_WARNED 300000000000000004ULL  /* one warning in the replacement */
#define KEPT_BANNED 300000000000000005ULL /* banned in both */

typedef struct fx {
    tdir dir;
    char db[512], repl[512], logpath[512];
    rt_system *sys;
    analytics_writer *w;
    mod_state *mod;
    int logfd;
} fx;

/* Writes a change straight into a store (the replacement file is built by another "bot"). */
typedef struct direct {
    an_store *store;
    uint64_t seq;
} direct;

static int record_to_store(void *ctx, const mod_record *m)
{
    direct *d = ctx;
    an_event ev = {.kind = m->activity ? AN_EV_ACTIVITY : AN_EV_MODERATION,
                   .seq = ++d->seq,
                   .ts_ms = m->ts_ms,
                   .user_id = m->user_id,
                   .guild_id = m->guild_id,
                   .success = true};
    an_event_set_text(&ev, &(an_event_text){.action = m->op, .details = m->details_json});
    const an_event *one = &ev;
    char err[300];
    int rc = an_store_write(d->store, &one, 1, err, sizeof err);
    an_event_clear(&ev);
    return rc == SQLITE_OK ? 0 : -1;
}

static int setup(void **state)
{
    fx *f = calloc(1, sizeof *f);
    tdir_make(&f->dir);
    tdir_file(&f->dir, "bot.db", f->db, sizeof f->db);
    tdir_file(&f->dir, "replacement.db", f->repl, sizeof f->repl);
    tdir_file(&f->dir, "log.txt", f->logpath, sizeof f->logpath);
    f->logfd = open(f->logpath, O_CREAT | O_RDWR | O_TRUNC, 0644);
    log_configure(LOG_LEVEL_INFO, false, f->logfd);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fx *f = *state;
    rt_system_free(f->sys);
    analytics_writer_free(f->w);
    mod_state_free(f->mod);
    log_configure(LOG_LEVEL_INFO, false, 2);
    close(f->logfd);
    tdir_remove(&f->dir);
    free(f);
    return 0;
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static char *read_log(fx *f)
{
    off_t n = lseek(f->logfd, 0, SEEK_END);
    char *buf = calloc(1, (size_t)n + 1);
    if (n > 0 && pread(f->logfd, buf, (size_t)n, 0) != n) abort();
    return buf;
}

static bool word_hits(mod_state *s, const char *text)
{
    mod_hit hit;
    return mod_state_check(s, text, strlen(text), &hit) == MOD_CHECK_HIT;
}

/* The file another instance of the bot left: a banned word, two bans, one warning. */
static void make_replacement(const char *path)
{
    char err[300];
    direct d = {.store = an_store_open(path, err, sizeof err)};
    assert_non_null(d.store);
    /* its sequence runs far ahead of this process's, as a long-lived bot's would */
    d.seq = 1000000;
    mod_state *other = mod_state_new(&(mod_config){.max_warnings = 2});
    mod_state_set_recorder(other, record_to_store, &d);
    assert_int_equal(mod_state_add_word(other, ADMIN, "zebra", err, sizeof err), 0);
    mod_state_ban(other, ADMIN, NEW_BANNED, "from the backup", 0);
    mod_state_ban(other, ADMIN, KEPT_BANNED, "in both", 0);
    mod_hit hit = {.kind = MOD_KIND_WORD};
    snprintf(hit.name, sizeof hit.name, "zebra");
    unsigned warnings = 0;
    assert_int_equal(mod_state_violation(other, NEW_WARNED, 5, &hit, "a zebra", &warnings),
                     MOD_VIOL_WARNED);
    mod_state_free(other);
    an_store_close(d.store);
}

static void test_state_is_reread_from_a_file_renamed_over(void **state)
{
    fx *f = *state;
    f->mod = mod_state_new(&(mod_config){.max_warnings = 2});
    f->sys = rt_system_new();
    analytics_writer_config cfg = {
        .db_path = f->db, .batch_max = 64, .flush_ms = 20, .mod = f->mod};
    f->w = analytics_writer_new(f->sys, &cfg);
    assert_non_null(f->w);
    /* as the router records moderation changes: events for the analytics writer */
    mod_state_set_recorder(f->mod, an_record_mod_change, analytics_writer_actor(f->w));
    assert_int_equal(rt_system_start(f->sys), 0);

    char err[300];
    assert_int_equal(mod_state_add_word(f->mod, ADMIN, "walrus", err, sizeof err), 0);
    mod_state_ban(f->mod, ADMIN, OLD_BANNED, "before the swap", 0);
    mod_state_ban(f->mod, ADMIN, KEPT_BANNED, "here too", 0);
    /* let the writer commit them to the first file */
    for (int i = 0; i < 500; i++) {
        analytics_writer_counters c;
        analytics_writer_counters_get(f->w, &c);
        if (c.rows_written >= 3 && c.pending == 0) break;
        sleep_ms(10);
    }

    make_replacement(f->repl);
    assert_int_equal(rename(f->repl, f->db), 0);
    /* a ban made after the swap (its event reaches the writer after it, and triggers the
     * reopen): it must survive the re-read */
    mod_state_ban(f->mod, ADMIN, SWAP_BANNED, "right after the swap", 0);

    analytics_writer_counters c = {0};
    for (int i = 0; i < 1000; i++) {
        analytics_writer_counters_get(f->w, &c);
        if (c.mod_reloads > 0) break;
        sleep_ms(10);
    }
    assert_int_equal(c.db_replaced, 1);
    assert_int_equal(c.mod_reloads, 1);

    /* the new file's state ... */
    assert_true(mod_state_banned(f->mod, NEW_BANNED, NULL));
    assert_true(mod_state_banned(f->mod, KEPT_BANNED, NULL));
    assert_int_equal(mod_state_warnings(f->mod, NEW_WARNED), 1);
    assert_true(word_hits(f->mod, "a zebra on the beach"));
    /* ... not the replaced one's ... */
    assert_false(mod_state_banned(f->mod, OLD_BANNED, NULL));
    assert_false(word_hits(f->mod, "a walrus on the beach"));
    /* ... and the change made here around the swap */
    assert_true(mod_state_banned(f->mod, SWAP_BANNED, NULL));

    /* a change after the re-read is kept in memory and written to the new file */
    mod_state_ban(f->mod, ADMIN, OLD_BANNED, "again", 0);
    assert_true(mod_state_banned(f->mod, OLD_BANNED, NULL));
    rt_system_stop(f->sys);
    analytics_writer_counters_get(f->w, &c);
    assert_int_equal(c.lost, 0);
    mod_loaded l;
    assert_int_equal(mod_store_load(f->db, 0, &l, err, sizeof err), 0);
    size_t banned = 0;
    for (size_t i = 0; i < l.count; i++)
        if (l.users[i].banned) banned++;
    assert_int_equal(banned, 4); /* NEW, KEPT, SWAP, OLD (again) */
    mod_loaded_free(&l);

    char *log = read_log(f);
    assert_non_null(strstr(log, "moderation state re-read from the new database"));
    assert_non_null(strstr(log, f->db));
    free(log);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_state_is_reread_from_a_file_renamed_over, setup,
                                        teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
