/*
 * The embedded demo runs to the end inside the suite (short, few users) and its final
 * statistics match what the simulated users did: the database read back with an_reader_stats
 * (images, videos, commands in total and per command, active users), the /stats embed the
 * bot sent at the end, the pictures kept on disk. Once with the live terminal view, once with
 * plain lines.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "analytics/an_chart.h"
#include "analytics/an_stats.h"
#include "app/app.h"
#include "demo/demo.h"
#include "config/fb_config.h"
#include "fluxbot/log.h"
#include "fluxbot/runtime.h"

static char *slurp(FILE *f)
{
    long n = ftell(f);
    rewind(f);
    char *buf = malloc((size_t)n + 1);
    size_t got = fread(buf, 1, (size_t)n, f);
    buf[got] = 0;
    return buf;
}

static uint64_t expected_for(const demo_report *r, const char *name)
{
    if (strcmp(name, "comfy") == 0) return r->sent[DEMO_USERS_COMFY] + r->sent[DEMO_USERS_BAD];
    if (strcmp(name, "redux") == 0) return r->sent[DEMO_USERS_REDUX];
    if (strcmp(name, "pulid") == 0) return r->sent[DEMO_USERS_PULID];
    if (strcmp(name, "video") == 0) return r->sent[DEMO_USERS_VIDEO];
    if (strcmp(name, "stats") == 0) return r->sent[DEMO_USERS_STATS];
    if (strcmp(name, "button:regenerate") == 0) return r->sent[DEMO_USERS_BTN_REGENERATE];
    if (strcmp(name, "button:upscale") == 0) return r->sent[DEMO_USERS_BTN_UPSCALE];
    if (strcmp(name, "button:delete") == 0) return r->sent[DEMO_USERS_BTN_DELETE];
    return UINT64_MAX;
}

static void run_and_check(int live, unsigned seconds, unsigned users, uint64_t seed)
{
    fb_config cfg;
    fb_config_defaults(&cfg);
    char dir[] = "/tmp/fluxbot-demotest-XXXXXX";
    assert_non_null(mkdtemp(dir));
    FILE *out = tmpfile();
    demo_options o = {.seconds = seconds,
                      .users = users,
                      .out = out,
                      .live = live,
                      .dir = dir,
                      .step_delay_ms = 15,
                      .seed = seed};
    demo_report r;
    int code = demo_run(&cfg, &o, &r);
    char *text = slurp(out);
    fclose(out);
    if (code != 0) fprintf(stderr, "%s\n", text);
    assert_int_equal(code, 0);
    assert_int_equal(r.exit_code, 0);
    assert_false(r.interrupted);

    /* Everything was answered; every generation produced its file. */
    uint64_t sent = 0, answered = 0, jobs_sent = 0, jobs_done = 0;
    for (unsigned k = 0; k < DEMO_USERS_KIND_COUNT; k++) {
        sent += r.sent[k];
        answered += r.answered[k];
        if (demo_users_kind_is_job((demo_users_kind)k)) {
            jobs_sent += r.sent[k];
            jobs_done += r.jobs_done[k];
        }
    }
    assert_true(sent >= 5);
    assert_int_equal(r.unanswered, 0);
    assert_int_equal(answered, sent);
    assert_int_equal(r.jobs_failed, 0);
    assert_int_equal(jobs_done + r.refused, jobs_sent);
    assert_int_equal(r.images_ok + r.videos_ok, jobs_done);
    assert_int_equal(r.image_files, jobs_done);
    assert_true(r.stats_answered);
    assert_non_null(r.stats_message);
    /* The Options dialog was shown once at least, and its Regenerate made a picture. */
    assert_true(r.sent[DEMO_USERS_BTN_OPTIONS] >= 1);
    assert_true(r.jobs_done[DEMO_USERS_BTN_OPTIONS] >= 1);

    /* The database agrees with what the users did. */
    char err[300];
    an_reader *rd = an_reader_open(r.db, err, sizeof err);
    assert_non_null(rd);
    an_stats st;
    assert_int_equal(an_reader_stats(rd, 1, (int64_t)rt_wall_ms(), &st, err, sizeof err), 0);
    assert_int_equal(st.total_images, r.images_ok);
    assert_int_equal(st.total_videos, r.videos_ok);
    /* The demo's interactions are slash commands and result buttons, counted apart. */
    assert_int_equal(st.total_commands + st.total_buttons, r.commands_total);
    /* Every user who did anything has events in the window; Active Users need 5 of them. */
    assert_int_equal(st.total_users, r.users_active);
    assert_true(st.active_users <= st.total_users);
    for (unsigned i = 0; i < st.n_top_commands; i++) {
        uint64_t want = expected_for(&r, st.top_commands[i].name);
        if (want != st.top_commands[i].count)
            fail_msg("command %s: %" PRIu64 " rows, users sent %" PRIu64, st.top_commands[i].name,
                     st.top_commands[i].count, want);
    }
    an_reader_close(rd);

    /* The embed the bot sent at the end shows the same images and videos (the /stats that
     * asked is the only command it may not count yet), and the view printed it. */
    char want[64];
    snprintf(want, sizeof want, "Total Images: %" PRIu64, r.images_ok);
    assert_non_null(strstr(r.stats_message, want));
    assert_non_null(strstr(text, want));
    /* Its own row may or may not be committed by the time the reporter reads. */
    char want2[64];
    snprintf(want, sizeof want, "Total Commands: %" PRIu64, st.total_commands - 1);
    snprintf(want2, sizeof want2, "Total Commands: %" PRIu64, st.total_commands);
    assert_true(strstr(r.stats_message, want) || strstr(r.stats_message, want2));
    assert_non_null(strstr(text, "Usage Statistics (Last Day)"));
    assert_non_null(strstr(text, r.db));
    assert_non_null(strstr(text, "fluxbot stats --db"));
    if (live) {
        assert_non_null(strstr(text, "\033[?25l")); /* cursor hidden while redrawing */
        assert_non_null(strstr(text, "\033[?25h"));
        assert_non_null(strstr(text, "A\r\033[2K")); /* redrawn in place */
    } else {
        assert_null(strchr(text, '\033'));
        assert_non_null(strstr(text, "interactions sent"));
    }
    assert_true(r.analytics_rows >= r.commands_total + jobs_done);
    free(text);
    demo_report_free(&r);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
}

static void test_demo_live_view(void **state)
{
    (void)state;
    run_and_check(1, 4, 4, 1234);
}

static void test_demo_plain_lines(void **state)
{
    (void)state;
    run_and_check(0, 2, 3, 99);
}

int main(void)
{
    log_configure(LOG_LEVEL_WARN, false, 2);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_demo_live_view),
        cmocka_unit_test(test_demo_plain_lines),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    /* The font caches cairo and fontconfig keep for the whole process, freed as the fluxbot
     * executable frees them at exit: without this LeakSanitizer reports fontconfig's cache. */
    an_chart_release();
    return rc;
}
