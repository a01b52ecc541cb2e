/* /stats numbers against a fixture computed by hand: window edges (just inside, just outside,
 * the future), empty windows, midnight-aligned windows, and the read-only reader's refusals. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "analytics/an_schema.h"
#include "analytics/an_stats.h"
#include "analytics/an_store.h"
#include "analytics/an_tally.h"
#include "analytics/an_time.h"
#include "test_an_stats_eq.h"
#include "test_an_util.h"

#define DAY AN_DAY_MS
#define MIN AN_TIME_MINUTE_MS
/* 2024-03-10 15:00:00 UTC */
#define NOW 1710082800000LL
#define START7 (NOW - 7 * DAY) /* 2024-03-03 15:00:00 UTC */
/* The first millisecond of the 7-day window at NOW: the window is the last 7 x 1440 minutes,
 * now's minute (15:00) included, so it starts at 15:01. */
#define FIRST7 (START7 + MIN)

enum { A = 101, B, C, D, E, F, G, H };

typedef struct fx {
    tdir dir;
    char path[512];
    an_store *store;
    an_reader *reader;
} fx;

static int setup(void **state)
{
    fx *f = calloc(1, sizeof *f);
    tdir_make(&f->dir);
    tdir_file(&f->dir, "stats.db", f->path, sizeof f->path);
    char err[512];
    f->store = an_store_open(f->path, err, sizeof err);
    assert_non_null(f->store);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fx *f = *state;
    an_reader_close(f->reader);
    an_store_close(f->store);
    tdir_remove(&f->dir);
    free(f);
    return 0;
}

static void put(fx *f, an_event *evs, size_t n)
{
    const an_event **p = calloc(n, sizeof *p);
    for (size_t i = 0; i < n; i++)
        p[i] = &evs[i];
    char err[512] = "";
    int rc = an_store_write(f->store, p, n, err, sizeof err);
    if (rc) fprintf(stderr, "%s\n", err);
    assert_int_equal(rc, SQLITE_OK);
    for (size_t i = 0; i < n; i++)
        an_event_clear(&evs[i]);
    free(p);
}

/* The fixture; the comment on each line says whether it falls in the 7-day window ending at
 * NOW (minutes 03-03 15:01 .. 03-10 15:00), and in the 1-day one (03-09 15:01 ..). */
static void load_fixture(fx *f)
{
    uint64_t s = 0;
    an_event batch1[] = {
        ev_command(++s, NOW - DAY + MIN, A, "comfy", true),   /* 7d yes, 1d yes (first minute) */
        ev_command(++s, NOW - 3 * DAY, B, "comfy", true),     /* 7d yes */
        ev_command(++s, NOW - 3 * DAY + 5, A, "comfy", true), /* 7d yes */
        ev_command(++s, NOW - 60000, A, "video", true),       /* 7d yes, 1d yes */
        ev_command(++s, FIRST7, C, "stats", true),            /* 7d yes: the first minute */
        ev_command(++s, FIRST7 - 1, D, "redux", true),        /* no: the minute before */
        ev_command(++s, NOW + MIN, E, "comfy", true),         /* no: the next minute */
        ev_command(++s, START7 + 3600000, B, "pulid", false), /* 7d yes (failed counts) */
        ev_command(++s, NOW, B, "redux", true),               /* 7d yes, 1d yes: exactly now */
        ev_command(++s, NOW - 10 * DAY, G, "stats", true),    /* no */
        ev_command(++s, NOW - 2 * DAY, C, "lorainfo", true),  /* 7d yes */
        ev_command(++s, NOW - 4 * DAY, C, "redux", true),     /* 7d yes */
    };
    put(f, batch1, sizeof batch1 / sizeof batch1[0]);
    an_event batch2[] = {
        ev_image(++s, NOW - 2 * DAY, A, "1024x1024", 3000, false, true),   /* 7d */
        ev_image(++s, FIRST7 + MIN, B, "1024x1024", 5000, false, true),    /* 7d (2nd minute) */
        ev_image(++s, NOW - 1000, C, "832x1216", 4000, false, true),       /* 7d, 1d */
        ev_image(++s, FIRST7 - 1, D, "1024x1024", 9000, false, true),      /* no */
        ev_image(++s, NOW - DAY + MIN, A, "832x1216", 1000, false, false), /* failed: never */
        ev_image(++s, NOW - 5 * DAY, B, "", 60000, true, true),            /* 7d video */
        ev_image(++s, NOW - 2000, C, "", 30000, true, true),               /* 7d, 1d video */
        ev_image(++s, NOW + MIN + 5, F, "", 45000, true, true),            /* no: next minute */
        ev_image(++s, NOW - 6 * DAY, F, "16:9 [1920x1080 landscape]", 2000, false, true), /* 7d */
        ev_activity(++s, NOW - 100 * DAY, G, "job_queued"),
        ev_activity(++s, NOW, H, "job_queued"),
    };
    put(f, batch2, sizeof batch2 / sizeof batch2[0]);
}

static an_stats query(fx *f, int days, int64_t now)
{
    char err[512] = "";
    if (!f->reader) f->reader = an_reader_open(f->path, err, sizeof err);
    if (!f->reader) fprintf(stderr, "%s\n", err);
    assert_non_null(f->reader);
    an_stats s;
    int rc = an_reader_stats(f->reader, days, now, &s, err, sizeof err);
    if (rc) fprintf(stderr, "%s\n", err);
    assert_int_equal(rc, SQLITE_OK);
    /* The raw-only baseline must give the same numbers. */
    an_stats raw;
    assert_int_equal(an_reader_stats_raw(f->reader, days, now, &raw, err, sizeof err), SQLITE_OK);
    assert_stats_equal(&s, &raw);
    return s;
}

static void assert_top(const an_top_item *it, const char *name, uint64_t count)
{
    assert_string_equal(it->name, name);
    assert_int_equal(it->count, count);
}

static void test_window_split(void **state)
{
    (void)state;
    const int64_t HR = AN_HOUR_MS;
    const int64_t today = an_day_of(NOW);
    an_window w;
    /* NOW is 15:00:00.000; the 7-day window is the 10080 minutes up to 15:00 today: from
     * 03-03 15:01 on. The start's hour is read whole minus its minute 15:00; its day (03-03)
     * as its 9 hours from 15:00 (fewer than the 15 before); today whole. */
    an_window_make(7, NOW, &w);
    assert_true(w.start_ms == START7 + MIN && w.end_ms == NOW + MIN - 1);
    assert_true(w.first_minute == START7 / MIN + 1 && w.last_minute == NOW / MIN);
    assert_true(w.last_minute - w.first_minute + 1 == 7 * 1440);
    assert_true(w.head_min_sign == -1);
    assert_true(w.head_min_lo == START7 / MIN && w.head_min_hi == START7 / MIN);
    assert_true(w.head_hour_sign == 1);
    assert_true(w.head_hour_lo == START7 / HR);                      /* 03-03 15:00 */
    assert_true(w.head_hour_hi == (an_day_of(START7) + 1) * 24 - 1); /* 03-03 23:00 */
    assert_true(w.day_lo == an_day_of(START7) + 1);
    assert_true(w.day_hi == today);
    assert_int_equal(w.day_hi - w.day_lo + 1, 7); /* 03-04 .. 03-10 */
    /* ... minus today's hours after 15:00 and the minutes after now's in 15:00. */
    assert_true(w.tail_hour_sign == -1);
    assert_true(w.tail_hour_lo == NOW / HR + 1 && w.tail_hour_hi == (today + 1) * 24 - 1);
    assert_true(w.tail_min_lo == NOW / MIN + 1 && w.tail_min_hi == NOW / MIN + 59);

    /* 15:59:00.005: the window starts at 16:00, on the hour: no minutes at the start. */
    int64_t now = NOW + 59 * MIN + 5;
    an_window_make(7, now, &w);
    assert_true(w.start_ms == START7 + HR);
    assert_true(w.head_min_lo > w.head_min_hi);
    assert_true(w.head_hour_lo == START7 / HR + 1 && w.head_hour_sign == 1);
    assert_true(w.tail_min_lo == NOW / MIN + 60 && w.tail_min_hi == NOW / MIN + 59);
    /* 15:29: starts at 15:30, so the hour minus its 30 minutes before (not plus 30 after). */
    now = NOW + 29 * MIN + 7;
    an_window_make(7, now, &w);
    assert_true(w.head_min_sign == -1);
    assert_true(w.head_min_lo == START7 / MIN && w.head_min_hi == START7 / MIN + 29);
    assert_true(w.head_hour_lo == START7 / HR);
    /* 15:30: starts at 15:31; its 29 minutes to 16:00 are added to the hours from 16:00. */
    now = NOW + 30 * MIN;
    an_window_make(7, now, &w);
    assert_true(w.head_min_sign == 1);
    assert_true(w.head_min_lo == START7 / MIN + 31 && w.head_min_hi == START7 / MIN + 59);
    assert_true(w.head_hour_lo == START7 / HR + 1 && w.head_hour_sign == 1);
    /* At 03:10 the first day is cheaper whole, minus its 3 hours before 03:00. */
    now = today * DAY + 3 * HR + 10 * MIN;
    an_window_make(7, now, &w);
    assert_true(w.day_lo == today - 7 && w.day_hi == today);
    assert_true(w.head_hour_sign == -1);
    assert_true(w.head_hour_lo == (today - 7) * 24 && w.head_hour_hi == (today - 7) * 24 + 2);
    assert_true(w.head_min_sign == -1 && w.head_min_lo == ((today - 7) * DAY + 3 * HR) / MIN);
    assert_true(w.head_min_hi == w.head_min_lo + 10);

    /* Midnight: a one-day window reads its 25 hours from yesterday 00:00, minus its minute
     * 00:00 (the window starts at 00:01) and the minutes after 00:00 today. */
    int64_t midnight = today * DAY;
    an_window_make(1, midnight, &w);
    assert_true(w.start_ms == midnight - DAY + MIN && w.end_ms == midnight + MIN - 1);
    assert_true(w.head_min_sign == -1 && w.head_min_lo == (midnight - DAY) / MIN);
    assert_true(w.head_min_hi == w.head_min_lo);
    assert_true(w.head_hour_lo == (midnight - DAY) / HR && w.head_hour_hi == midnight / HR);
    assert_true(w.day_lo > w.day_hi && w.tail_hour_lo > w.tail_hour_hi);
    assert_true(w.tail_min_lo == midnight / MIN + 1 && w.tail_min_hi == midnight / MIN + 59);
    an_window_make(2, midnight, &w);
    assert_true(w.day_lo == today - 2 && w.day_hi == today);
    assert_true(w.head_hour_lo > w.head_hour_hi);

    /* One day ending at 00:30: hours only, and the minutes at the edges. */
    an_window_make(1, midnight + HR / 2, &w);
    assert_true(w.day_lo > w.day_hi);
    assert_true(w.head_min_sign == 1); /* 00:31 .. 00:59 of yesterday */
    assert_true(w.head_min_lo == (midnight - DAY) / MIN + 31);
    assert_true(w.head_min_hi == (midnight - DAY) / MIN + 59);
    assert_true(w.head_hour_lo == (midnight - DAY) / HR + 1 && w.head_hour_hi == midnight / HR);
    char date[16];
    an_day_date(an_day_of(NOW), date, sizeof date);
    assert_string_equal(date, "2024-03-10");
    an_day_date(an_day_of(951782400000LL), date, sizeof date); /* leap day 2000 */
    assert_string_equal(date, "2000-02-29");
    char iso[32];
    an_format_iso(NOW + 42, iso, sizeof iso);
    assert_string_equal(iso, "2024-03-10T15:00:00.042Z");
}

static void test_seven_days_by_hand(void **state)
{
    fx *f = *state;
    load_fixture(f);
    an_stats s = query(f, 7, NOW);
    assert_int_equal(s.total_images, 4);
    assert_int_equal(s.image_ms_sum, 14000);
    assert_true(an_stats_avg_image_ms(&s) == 3500.0);
    assert_int_equal(s.total_videos, 2);
    assert_true(an_stats_avg_video_ms(&s) == 45000.0);
    assert_int_equal(s.total_commands, 9);
    assert_int_equal(s.n_top_commands, 5);
    assert_top(&s.top_commands[0], "comfy", 3);
    assert_top(&s.top_commands[1], "redux", 2);
    assert_top(&s.top_commands[2], "lorainfo", 1);
    assert_top(&s.top_commands[3], "pulid", 1);
    assert_top(&s.top_commands[4], "stats", 1); /* "video" (1) is sixth */
    /* Users with an event in the window: A, B, C (5 events each: 3 commands, 2 generations,
     * the failed one included), F (1 image), H (1 activity); D, E, G are outside. */
    assert_int_equal(s.total_users, 5);
    assert_int_equal(s.active_users, 3); /* A, B, C: at least 5 events */
    assert_int_equal(s.n_top_resolutions, 3);
    assert_top(&s.top_resolutions[0], "1024x1024", 2);
    assert_top(&s.top_resolutions[1], "16:9 [1920x1080 landscape]", 1);
    assert_top(&s.top_resolutions[2], "832x1216", 1);
}

static void test_one_day_by_hand(void **state)
{
    fx *f = *state;
    load_fixture(f);
    an_stats s = query(f, 1, NOW);
    assert_int_equal(s.total_images, 1);
    assert_true(an_stats_avg_image_ms(&s) == 4000.0);
    assert_int_equal(s.total_videos, 1);
    assert_true(an_stats_avg_video_ms(&s) == 30000.0);
    assert_int_equal(s.total_commands, 3);
    assert_int_equal(s.n_top_commands, 3);
    assert_top(&s.top_commands[0], "comfy", 1);
    assert_top(&s.top_commands[1], "redux", 1);
    assert_top(&s.top_commands[2], "video", 1);
    /* A (2 commands + the failed image at the edge), B (1), C (2 generations), H (1). */
    assert_int_equal(s.total_users, 4);
    assert_int_equal(s.active_users, 0); /* nobody has 5 events in this day */
    assert_int_equal(s.n_top_resolutions, 1);
    assert_top(&s.top_resolutions[0], "832x1216", 1);
}

static void test_edges_move_with_now(void **state)
{
    fx *f = *state;
    load_fixture(f);
    /* One minute later the "stats" command of the first minute drops out of the 7-day
     * window... */
    an_stats s = query(f, 7, NOW + MIN);
    assert_int_equal(s.total_commands, 9); /* ...and the comfy of the next minute comes in. */
    bool has_stats = false;
    for (unsigned i = 0; i < s.n_top_commands; i++)
        has_stats |= strcmp(s.top_commands[i].name, "stats") == 0;
    assert_false(has_stats);
    assert_top(&s.top_commands[0], "comfy", 4);
    assert_int_equal(s.active_users, 2); /* A, B; C lost its 5th event */
    assert_int_equal(s.total_users, 6);  /* A, B, C, F, H and now E */
    /* Anywhere inside now's minute the window is the same. */
    an_stats t = query(f, 7, NOW + MIN + 59999);
    assert_stats_equal(&s, &t);
    /* One minute earlier the events of the minute before come in and the "now" ones go out. */
    s = query(f, 7, NOW - 1);
    assert_int_equal(s.total_commands, 9); /* +redux D at FIRST7-1, -redux B at NOW */
    assert_int_equal(s.total_images, 5);   /* +image D 9000 */
    assert_int_equal(s.image_ms_sum, 23000);
}

static void test_empty_windows(void **state)
{
    fx *f = *state;
    /* A fresh database: nothing anywhere. */
    an_stats s = query(f, 7, NOW);
    assert_int_equal(s.total_images + s.total_videos + s.total_commands, 0);
    assert_int_equal(s.total_users + s.active_users, 0);
    assert_int_equal(s.n_top_commands + s.n_top_resolutions, 0);
    assert_true(an_stats_avg_image_ms(&s) < 0 && an_stats_avg_video_ms(&s) < 0);
    /* Old data only: the window is empty but users were seen. */
    an_event old[] = {
        ev_command(1, NOW - 30 * DAY, A, "comfy", true),
        ev_image(2, NOW - 31 * DAY + MIN, B, "1024x1024", 1000, false,
                 true), /* 31d: first minute */
    };
    put(f, old, 2);
    s = query(f, 7, NOW);
    assert_int_equal(s.total_images + s.total_videos + s.total_commands + s.active_users, 0);
    assert_int_equal(s.n_top_commands + s.n_top_resolutions, 0);
    /* Users seen 30 days ago are not users of the last 7 days (the example). */
    assert_int_equal(s.total_users, 0);
    s = query(f, 31, NOW);
    assert_int_equal(s.total_users, 2);
    assert_int_equal(s.total_commands, 1);
    assert_int_equal(s.total_images, 1);
}

static void test_midnight_aligned_window(void **state)
{
    fx *f = *state;
    int64_t midnight = an_day_of(NOW) * DAY;
    an_event evs[] = {
        ev_command(1, midnight - 7 * DAY + MIN, A, "comfy", true),     /* the first minute */
        ev_command(2, midnight - 7 * DAY + MIN - 1, B, "comfy", true), /* the minute before */
        ev_command(3, midnight, C, "redux", true),                     /* exactly now */
        ev_command(4, midnight + MIN, D, "redux", true),               /* the next minute */
    };
    put(f, evs, 4);
    an_stats s = query(f, 7, midnight);
    assert_int_equal(s.total_commands, 2);
    assert_int_equal(s.total_users, 2);
    assert_int_equal(s.active_users, 0);
    assert_top(&s.top_commands[0], "comfy", 1);
    assert_top(&s.top_commands[1], "redux", 1);
}

static void test_days_out_of_range(void **state)
{
    fx *f = *state;
    char err[256];
    an_stats s;
    an_reader *r = an_reader_wrap(an_store_db(f->store), err, sizeof err);
    assert_non_null(r);
    assert_int_equal(an_reader_stats(r, 0, NOW, &s, err, sizeof err), SQLITE_RANGE);
    assert_non_null(strstr(err, "1 to 365"));
    assert_int_equal(an_reader_stats(r, 366, NOW, &s, err, sizeof err), SQLITE_RANGE);
    assert_int_equal(an_reader_stats(r, 365, NOW, &s, err, sizeof err), SQLITE_OK);
    an_reader_close(r);
}

static void test_reader_refusals(void **state)
{
    fx *f = *state;
    char path[512], err[512];
    tdir_file(&f->dir, "missing.db", path, sizeof path);
    assert_null(an_reader_open(path, err, sizeof err));
    assert_non_null(strstr(err, path));
    assert_non_null(strstr(err, "cannot open"));
    /* Opening read-only never creates the file. */
    assert_int_equal(access(path, F_OK), -1);

    tdir_file(&f->dir, "empty.db", path, sizeof path);
    fclose(fopen(path, "w"));
    assert_null(an_reader_open(path, err, sizeof err));
    assert_non_null(strstr(err, "empty"));

    tdir_file(&f->dir, "v1.db", path, sizeof path);
    sqlite3 *db;
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    assert_int_equal(an_schema_migrate(db, 1, err, sizeof err), SQLITE_OK);
    sqlite3_close(db);
    assert_null(an_reader_open(path, err, sizeof err));
    assert_non_null(strstr(err, "migrate"));

    tdir_file(&f->dir, "junk.db", path, sizeof path);
    FILE *fp = fopen(path, "w");
    fputs("this is not a database, just text long enough to be read as a header.......", fp);
    fclose(fp);
    assert_null(an_reader_open(path, err, sizeof err));
    assert_non_null(strstr(err, "not a database"));
}

static void test_tally_and_idset(void **state)
{
    (void)state;
    an_tally t = {0};
    unsigned n;
    an_top_item top[AN_TOP_N];
    an_tally_top(&t, top, AN_TOP_N, &n);
    assert_int_equal(n, 0);
    /* 300 names force several rehashes; counts chosen so the top five are known. */
    for (int i = 0; i < 300; i++) {
        char name[16];
        snprintf(name, sizeof name, "n%03d", i);
        an_tally_add(&t, name, (uint64_t)(i % 7));
    }
    an_tally_add(&t, "n100", 50); /* 100 % 7 = 2 -> 52 */
    an_tally_add(&t, "zz", 52);   /* tie with n100: name order decides */
    an_tally_add(&t, "a", 0);     /* never counted: not listed */
    an_tally_top(&t, top, AN_TOP_N, &n);
    assert_int_equal(n, 5);
    assert_top(&top[0], "n100", 52);
    assert_top(&top[1], "zz", 52);
    assert_top(&top[2], "n006", 6); /* the lowest-named of the many 6s */
    assert_top(&top[3], "n013", 6);
    assert_top(&top[4], "n020", 6);
    an_tally_free(&t);
    an_tally_add(&t, "only", 3);
    an_tally_top(&t, top, AN_TOP_N, &n);
    assert_int_equal(n, 1);
    assert_top(&top[0], "only", 3);
    an_tally_free(&t);

    an_idcount u = {0};
    for (uint64_t i = 0; i < 5000; i++)
        an_idcount_add(&u, (i % 2500) * 1000003ULL, 1); /* includes id 0, each id twice */
    uint64_t any, active;
    an_idcount_summary(&u, 2, &any, &active);
    assert_int_equal(any, 2500);
    assert_int_equal(active, 2500);
    an_idcount_add(&u, UINT64_MAX, 1);
    an_idcount_add(&u, 7 * 1000003ULL, -2); /* subtracted to 0: no longer a user */
    an_idcount_add(&u, 0, -1);              /* id 0 down to 1: a user, not active */
    an_idcount_summary(&u, 2, &any, &active);
    assert_int_equal(any, 2500);
    assert_int_equal(active, 2498);
    an_idcount_free(&u);
}

/* Kinds: only slash commands are commands; buttons are counted apart; autocomplete, modal and
 * unknown rows count as the user's events only. */
static void test_interaction_kinds(void **state)
{
    fx *f = *state;
    an_event evs[] = {
        ev_command(1, NOW - 10, A, "comfy", true),
        ev_interaction(2, NOW - 9, A, "button:upscale", AN_CMD_BUTTON, true),
        ev_interaction(3, NOW - 8, A, "button:regenerate", AN_CMD_BUTTON, false),
        ev_interaction(4, NOW - 7, B, "comfy", AN_CMD_AUTOCOMPLETE, true),
        ev_interaction(5, NOW - 6, B, "modal", AN_CMD_MODAL, true),
        ev_interaction(6, NOW - 5, C, "nosuch", AN_CMD_UNKNOWN, false),
        ev_interaction(7, NOW - 4, C, "invalid", AN_CMD_UNKNOWN, false),
    };
    put(f, evs, sizeof evs / sizeof evs[0]);
    an_stats s = query(f, 7, NOW);
    assert_int_equal(s.total_commands, 1);
    assert_int_equal(s.n_top_commands, 1);
    assert_top(&s.top_commands[0], "comfy", 1);
    assert_int_equal(s.total_buttons, 2);
    assert_int_equal(s.total_users, 3);
    /* The same from rows an older fluxbot wrote: v5 classifies them by name. */
    sqlite3 *db = an_store_db(f->store);
    assert_int_equal(sql_int(db, "SELECT COUNT(*) FROM command_usage WHERE kind = 'button'"), 2);
    assert_int_equal(sql_int(db, "SELECT COUNT(*) FROM daily_commands"), 1);
}

/* Active Users follows active_user_min_events, and both paths agree for every threshold. */
static void test_active_min_configurable(void **state)
{
    fx *f = *state;
    load_fixture(f);
    an_stats s = query(f, 1, NOW);
    assert_int_equal(s.active_users, 0);
    assert_int_equal(s.active_min, AN_ACTIVE_MIN_DEFAULT);
    an_reader_set_active_min(f->reader, 2);
    s = query(f, 1, NOW);
    assert_int_equal(s.active_users, 2); /* A (3 events), C (2) */
    an_reader_set_active_min(f->reader, 1);
    s = query(f, 1, NOW);
    assert_int_equal(s.active_users, s.total_users);
}

/* The window's edges fall inside hours: the hour of the start is read either as rows added
 * or as the hour's rollup minus rows, whichever is shorter; the current hour always as its
 * rollup minus the rows after now. Events on both sides of each edge, at every minute of the
 * edge hours, for start points early and late in their hour. */
static void test_edges_inside_hours(void **state)
{
    fx *f = *state;
    const int64_t hour0 = an_hour_of(NOW) * AN_HOUR_MS;
    uint64_t seq = 0;
    for (int64_t m = -70; m <= 70; m++) {
        an_event evs[4];
        int64_t t = hour0 + m * 60000 + 17;
        evs[0] = ev_command(++seq, t, A + (uint64_t)(m & 3), "comfy", true);
        evs[1] = ev_image(++seq, t - 7 * DAY, B + (uint64_t)(m & 1), "1024x1024", 100, false, true);
        evs[2] = ev_interaction(++seq, t - 7 * DAY + 1, C, "button:delete", AN_CMD_BUTTON, true);
        evs[3] = ev_activity(++seq, t + 2, D + (uint64_t)(m & 1), "job_queued");
        put(f, evs, 4);
    }
    const int64_t offsets[] = {
        0, 1, 17, 18, 60000 * 10 + 3, 60000 * 29, 60000 * 31, 60000 * 59 + 999, AN_HOUR_MS - 1};
    for (size_t i = 0; i < sizeof offsets / sizeof offsets[0]; i++) {
        for (int d = 0; d < 3; d++) {
            int64_t now = hour0 + offsets[i] - d * AN_HOUR_MS / 2;
            (void)query(f, 7, now); /* query() compares with the raw baseline */
            an_reader_set_active_min(f->reader, (unsigned)(i % 4) * 20 + 1);
            (void)query(f, 1, now);
            (void)query(f, 8, now);
        }
    }
}

/* The fast path reads rollups only: with the raw rows deleted behind the rollups' back, every
 * answer stays what it was (the raw baseline would now say 0). */
static void test_fast_path_reads_no_raw_row(void **state)
{
    fx *f = *state;
    load_fixture(f);
    const int days[] = {1, 7, 30};
    const int64_t nows[] = {NOW, NOW + 17 * MIN + 5, NOW - 31 * MIN - 7};
    an_stats before[3][3];
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 3; j++)
            before[i][j] = query(f, days[i], nows[j]);
    assert_int_equal(sqlite3_exec(an_store_db(f->store),
                                  "DELETE FROM command_usage; DELETE FROM image_stats;"
                                  " DELETE FROM user_activity;",
                                  NULL, NULL, NULL),
                     SQLITE_OK);
    char err[256];
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 3; j++) {
            an_stats s;
            assert_int_equal(an_reader_stats(f->reader, days[i], nows[j], &s, err, sizeof err),
                             SQLITE_OK);
            assert_stats_equal(&s, &before[i][j]);
        }
    an_stats raw;
    assert_int_equal(an_reader_stats_raw(f->reader, 7, NOW, &raw, err, sizeof err), SQLITE_OK);
    assert_int_equal(raw.total_commands + raw.total_users, 0);
    assert_true(before[1][0].total_commands > 0 && before[1][0].total_users > 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_window_split),
        cmocka_unit_test(test_tally_and_idset),
        cmocka_unit_test_setup_teardown(test_seven_days_by_hand, setup, teardown),
        cmocka_unit_test_setup_teardown(test_one_day_by_hand, setup, teardown),
        cmocka_unit_test_setup_teardown(test_interaction_kinds, setup, teardown),
        cmocka_unit_test_setup_teardown(test_active_min_configurable, setup, teardown),
        cmocka_unit_test_setup_teardown(test_edges_inside_hours, setup, teardown),
        cmocka_unit_test_setup_teardown(test_edges_move_with_now, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fast_path_reads_no_raw_row, setup, teardown),
        cmocka_unit_test_setup_teardown(test_empty_windows, setup, teardown),
        cmocka_unit_test_setup_teardown(test_midnight_aligned_window, setup, teardown),
        cmocka_unit_test_setup_teardown(test_days_out_of_range, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reader_refusals, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
