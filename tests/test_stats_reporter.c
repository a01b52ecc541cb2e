/* The stats_reporter actor on a real runtime: events recorded through the writer come back as
 * the /stats embed in a PATCH of the original response, from a pool of read-only threads
 * running while the writer commits; an answer is handed on to a later identical query until the
 * writer commits, and then the new rows show; malformed queries are refused; a missing database
 * fails the start.
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
#include <time.h>

#include <cjson/cJSON.h>

#include "actors/analytics_writer.h"
#include "analytics/an_record.h"
#include "actors/stats_reporter.h"
#include "analytics/an_chart.h"
#include "analytics/an_cli.h"
#include "analytics/an_commands.h"
#include "discord/stats_reply.h"
#include "analytics/an_stats.h"
#include "analytics/an_time.h"
#include "fluxbot/log.h"
#include "msgs/an.h"
#include "msgs/rest.h"
#include "msgs/stats.h"
#include "test_an_util.h"

#define DAY AN_DAY_MS
#define NOW 1710082800000LL /* 2024-03-10 15:00:00 UTC */
#define MAXREQ 64

/* Stands in for discord_rest at the message level: keeps every MSG_REST_REQ it gets. */
typedef struct fake_rest {
    pthread_mutex_t mu;
    sem_t sem;
    rest_req_msg *reqs[MAXREQ];
    int n;
} fake_rest;

static void rest_on_message(rt_actor *self, void *state, rt_msg *m)
{
    (void)self;
    fake_rest *fr = state;
    if (m->type == MSG_REST_REQ) {
        pthread_mutex_lock(&fr->mu);
        if (fr->n < MAXREQ) {
            fr->reqs[fr->n++] = (rest_req_msg *)m;
            m = NULL;
        }
        pthread_mutex_unlock(&fr->mu);
        sem_post(&fr->sem);
    }
    rt_msg_free(m);
}

static void done_on_message(rt_actor *self, void *state, rt_msg *m)
{
    (void)self;
    if (m->type == MSG_AN_FLUSH_DONE) sem_post(state);
    rt_msg_free(m);
}

typedef struct fx {
    tdir dir;
    char db[512];
    int logfd;
    rt_system *sys;
    analytics_writer *w;
    stats_reporter *rep;
    rt_actor *rest;
    rt_actor *done;
    fake_rest fr;
    sem_t flushed;
    unsigned chart_lag_ms; /* stats_reporter_config.chart_max_lag_ms (0 in most tests) */
} fx;

static int setup(void **state)
{
    fx *f = calloc(1, sizeof *f);
    tdir_make(&f->dir);
    tdir_file(&f->dir, "r.db", f->db, sizeof f->db);
    char logpath[512];
    tdir_file(&f->dir, "log.txt", logpath, sizeof logpath);
    f->logfd = open(logpath, O_CREAT | O_RDWR | O_TRUNC, 0644);
    log_configure(LOG_LEVEL_INFO, false, f->logfd);
    pthread_mutex_init(&f->fr.mu, NULL);
    sem_init(&f->fr.sem, 0, 0);
    sem_init(&f->flushed, 0, 0);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fx *f = *state;
    rt_system_free(f->sys);
    analytics_writer_free(f->w);
    stats_reporter_free(f->rep);
    for (int i = 0; i < f->fr.n; i++)
        rt_msg_free(&f->fr.reqs[i]->hdr);
    log_configure(LOG_LEVEL_INFO, false, 2);
    close(f->logfd);
    sem_destroy(&f->fr.sem);
    sem_destroy(&f->flushed);
    pthread_mutex_destroy(&f->fr.mu);
    tdir_remove(&f->dir);
    free(f);
    return 0;
}

static int start(fx *f, bool with_writer, const char *reporter_db)
{
    f->sys = rt_system_new();
    if (with_writer) {
        f->w = analytics_writer_new(f->sys,
                                    &(analytics_writer_config){.db_path = f->db, .flush_ms = 5});
        assert_non_null(f->w);
    }
    /* With the writer, answers are handed on while it commits nothing (as in the app). */
    f->rep = stats_reporter_new(
        f->sys, &(stats_reporter_config){.db_path = reporter_db ? reporter_db : f->db,
                                         .threads = 2,
                                         .data_version = analytics_writer_data_version(f->w),
                                         .reuse_max_ms = 600000,
                                         .chart_max_lag_ms = f->chart_lag_ms});
    assert_non_null(f->rep);
    rt_actor_spec rest = {.name = "rest",
                          .threads = 1,
                          .lane_capacity = 64,
                          .state = &f->fr,
                          .ops = {.on_message = rest_on_message}};
    f->rest = rt_actor_new(f->sys, &rest);
    rt_actor_spec done = {.name = "done",
                          .threads = 1,
                          .lane_capacity = 16,
                          .state = &f->flushed,
                          .ops = {.on_message = done_on_message}};
    f->done = rt_actor_new(f->sys, &done);
    return rt_system_start(f->sys);
}

static void wait_sem(sem_t *s)
{
    struct timespec dl;
    clock_gettime(CLOCK_REALTIME, &dl);
    dl.tv_sec += 20;
    assert_int_equal(sem_timedwait(s, &dl), 0);
}

static void record_fixture(fx *f)
{
    rt_actor *w = analytics_writer_actor(f->w);
    const char *cmds[] = {"comfy", "comfy", "redux", "stats", "comfy", "video"};
    for (int i = 0; i < 6; i++) {
        an_command_event e = {.command = cmds[i],
                              .user_id = 100 + (uint64_t)(i % 3),
                              .guild_id = 9,
                              .channel_id = 8,
                              .ts_ms = (uint64_t)(NOW - i * DAY / 2),
                              .success = true};
        assert_int_equal(an_record_command(w, &e), 0);
    }
    for (int i = 0; i < 4; i++) {
        an_image_event e = {.user_id = 200,
                            .prompt = "p",
                            .resolution = i % 2 ? "1024x1024" : "832x1216",
                            .upscale_factor = 1,
                            .generation_ms = 2000 * (uint32_t)(i + 1),
                            .is_video = i == 3,
                            .generation_type = i == 3 ? "video" : "standard",
                            .success = true,
                            .ts_ms = (uint64_t)(NOW - i * DAY * 3)};
        assert_int_equal(an_record_image(w, &e), 0);
    }
    assert_int_equal(an_request_flush(w, f->done, 1), 0);
    wait_sem(&f->flushed);
}

static void send_query_at(fx *f, int days, const char *app, const char *token, uint64_t cookie,
                          int64_t now_ms)
{
    stats_query_msg *q = stats_query_msg_new(days, app, token, f->rest);
    q->now_ms = now_ms;
    q->cookie = cookie;
    assert_int_equal(rt_send_spill(stats_reporter_actor(f->rep), &q->hdr), 0);
}

static void send_query(fx *f, int days, const char *app, const char *token, uint64_t cookie)
{
    send_query_at(f, days, app, token, cookie, NOW);
}

static rest_req_msg *find_req(fx *f, uint64_t cookie)
{
    for (int i = 0; i < f->fr.n; i++)
        if (f->fr.reqs[i]->cookie == cookie) return f->fr.reqs[i];
    fail_msg("no request with cookie %llu", (unsigned long long)cookie);
    return NULL;
}

/* `fluxbot stats` and /stats agree: the CLI's numbers are the embed's, its --chart file the
 * attachment's bytes. */
static void test_cli_agrees_with_the_answer(void **state)
{
    fx *f = *state;
    assert_int_equal(start(f, true, NULL), 0);
    record_fixture(f);
    send_query(f, 7, "123456789012345678", "tok-cli", 77);
    wait_sem(&f->fr.sem);
    rest_req_msg *req = find_req(f, 77);
    assert_int_equal(req->nfiles, 1);

    char chart[600];
    tdir_file(&f->dir, "cli.png", chart, sizeof chart);
    char *argv[] = {"stats", "--db", f->db, "--days", "7", "--json", "--chart", chart, NULL};
    FILE *out = tmpfile(), *err = tmpfile();
    assert_int_equal(an_cli_stats_at(8, argv, NOW, out, err), 0);
    long n = ftell(out);
    char *text = calloc(1, (size_t)n + 1);
    rewind(out);
    assert_int_equal(fread(text, 1, (size_t)n, out), (size_t)n);
    fclose(out);
    fclose(err);
    cJSON *cli = cJSON_Parse(text);
    free(text);
    assert_non_null(cli);
    cJSON *answer = cJSON_Parse(req->json);
    const char *cmd_field =
        cJSON_GetObjectItem(
            cJSON_GetArrayItem(
                cJSON_GetObjectItem(cJSON_GetArrayItem(cJSON_GetObjectItem(answer, "embeds"), 0),
                                    "fields"),
                1),
            "value")
            ->valuestring;
    char want[64];
    snprintf(want, sizeof want, "Total Commands: %d\n",
             cJSON_GetObjectItem(cJSON_GetObjectItem(cli, "commands"), "total")->valueint);
    assert_non_null(strstr(cmd_field, want));
    const char *users_field =
        cJSON_GetObjectItem(
            cJSON_GetArrayItem(
                cJSON_GetObjectItem(cJSON_GetArrayItem(cJSON_GetObjectItem(answer, "embeds"), 0),
                                    "fields"),
                2),
            "value")
            ->valuestring;
    snprintf(want, sizeof want, "Total Users: %d\nActive Users: %d",
             cJSON_GetObjectItem(cJSON_GetObjectItem(cli, "users"), "total")->valueint,
             cJSON_GetObjectItem(cJSON_GetObjectItem(cli, "users"), "active")->valueint);
    assert_non_null(strstr(users_field, want));
    cJSON_Delete(answer);
    cJSON_Delete(cli);
    FILE *png = fopen(chart, "rb");
    assert_non_null(png);
    unsigned char *bytes = malloc(req->files[0].len + 1);
    assert_int_equal(fread(bytes, 1, req->files[0].len + 1, png), req->files[0].len);
    fclose(png);
    assert_memory_equal(bytes, req->files[0].data, req->files[0].len);
    free(bytes);
}

static void test_answers_with_the_embed(void **state)
{
    fx *f = *state;
    assert_int_equal(start(f, true, NULL), 0);
    record_fixture(f);
    const int days[] = {1, 2, 7, 30, 365, 3, 10, 100};
    for (int i = 0; i < 8; i++) {
        char token[32];
        snprintf(token, sizeof token, "tok-%d.A_b", i);
        send_query(f, days[i], "123456789012345678", token, 1000 + (uint64_t)i);
    }
    for (int i = 0; i < 8; i++)
        wait_sem(&f->fr.sem);

    /* Each answer is exactly what the pure modules produce for that window. */
    char err[256];
    an_reader *r = an_reader_open(f->db, err, sizeof err);
    assert_non_null(r);
    for (int i = 0; i < 8; i++) {
        rest_req_msg *req = find_req(f, 1000 + (uint64_t)i);
        assert_int_equal(req->method, REST_PATCH);
        char path[128];
        snprintf(path, sizeof path, "/webhooks/123456789012345678/tok-%d.A_b/messages/@original",
                 i);
        assert_string_equal(req->path, path);
        an_stats *s = malloc(sizeof *s);
        assert_int_equal(an_reader_stats(r, days[i], NOW, s, err, sizeof err), 0);
        cJSON *embed = an_stats_embed(s);
        char *want = stats_reply_edit_json(embed, AN_CHART_FILENAME);
        cJSON_Delete(embed);
        assert_string_equal(req->json, want);
        free(want);
        /* The chart goes along as a multipart file: the same PNG the pure module draws. */
        assert_int_equal(req->nfiles, 1);
        assert_string_equal(req->files[0].filename, AN_CHART_FILENAME);
        unsigned char *png;
        size_t len;
        assert_int_equal(an_chart_png(s, &png, &len, err, sizeof err), 0);
        assert_int_equal(req->files[0].len, len);
        assert_memory_equal(req->files[0].data, png, len);
        free(png);
        free(s);
    }
    /* Spot-check one by hand: 7 days hold all six commands and three of the four media. */
    cJSON *j = cJSON_Parse(find_req(f, 1002)->json);
    cJSON *fields =
        cJSON_GetObjectItem(cJSON_GetArrayItem(cJSON_GetObjectItem(j, "embeds"), 0), "fields");
    assert_string_equal(cJSON_GetObjectItem(cJSON_GetArrayItem(fields, 0), "value")->valuestring,
                        "Total Images: 3\nAverage Generation Time: 4.00 s\nTotal Videos: 0\n"
                        "Average Video Time: No data");
    assert_non_null(strstr(cJSON_GetObjectItem(cJSON_GetArrayItem(fields, 1), "value")->valuestring,
                           "Total Commands: 6\nPopular Commands:\n1. /comfy \xe2\x80\x94 3\n"));
    assert_string_equal(cJSON_GetObjectItem(cJSON_GetArrayItem(fields, 2), "value")->valuestring,
                        "Total Users: 4\nActive Users: 0 (5+ events)");
    cJSON_Delete(j);
    an_reader_close(r);

    stats_reporter_counters m;
    stats_reporter_counters_get(f->rep, &m);
    assert_int_equal(m.answered, 8);
    assert_int_equal(m.failed + m.rejected, 0);
}

static void test_reads_while_the_writer_commits(void **state)
{
    fx *f = *state;
    assert_int_equal(start(f, true, NULL), 0);
    rt_actor *w = analytics_writer_actor(f->w);
    for (int round = 0; round < 20; round++) {
        for (int i = 0; i < 200; i++) {
            an_command_event e = {
                .command = "comfy", .user_id = 7, .success = true, .ts_ms = (uint64_t)(NOW - 1000)};
            assert_int_equal(an_record_command(w, &e), 0);
        }
        send_query(f, 7, "42", "t", (uint64_t)round);
    }
    for (int i = 0; i < 20; i++)
        wait_sem(&f->fr.sem);
    stats_reporter_counters m;
    stats_reporter_counters_get(f->rep, &m);
    assert_int_equal(m.answered, 20);
    assert_int_equal(m.failed, 0);
}

/* The request for cookie is exactly what the pure modules make of the database at now_ms. */
static void assert_fresh(fx *f, uint64_t cookie, int days, int64_t now_ms)
{
    char err[256];
    an_reader *r = an_reader_open(f->db, err, sizeof err);
    assert_non_null(r);
    an_stats *s = malloc(sizeof *s);
    assert_int_equal(an_reader_stats(r, days, now_ms, s, err, sizeof err), 0);
    cJSON *embed = an_stats_embed(s);
    char *want = stats_reply_edit_json(embed, AN_CHART_FILENAME);
    cJSON_Delete(embed);
    pthread_mutex_lock(&f->fr.mu);
    rest_req_msg *req = find_req(f, cookie);
    pthread_mutex_unlock(&f->fr.mu);
    assert_string_equal(req->json, want);
    free(want);
    unsigned char *png;
    size_t len;
    assert_int_equal(an_chart_png(s, &png, &len, err, sizeof err), 0);
    assert_int_equal(req->files[0].len, len);
    assert_memory_equal(req->files[0].data, png, len);
    free(png);
    free(s);
    an_reader_close(r);
}

static void test_answers_handed_on_until_a_commit(void **state)
{
    fx *f = *state;
    assert_int_equal(start(f, true, NULL), 0);
    record_fixture(f);
    /* One after the other (never concurrent): the first is read, the next two handed on,
     * each stating its own window (the embed shows its end). */
    for (uint64_t i = 0; i < 3; i++) {
        send_query_at(f, 7, "42", "t", 10 + i, NOW + 60000 * (int64_t)i);
        wait_sem(&f->fr.sem);
        assert_fresh(f, 10 + i, 7, NOW + 60000 * (int64_t)i);
    }
    stats_reporter_counters m;
    stats_reporter_counters_get(f->rep, &m);
    assert_int_equal(m.computed, 1);
    assert_int_equal(m.reused, 2);
    /* A commit: the next answer is read again and holds the new row. */
    an_command_event e = {
        .command = "upscale", .user_id = 999, .success = true, .ts_ms = (uint64_t)(NOW + 1000)};
    assert_int_equal(an_record_command(analytics_writer_actor(f->w), &e), 0);
    assert_int_equal(an_request_flush(analytics_writer_actor(f->w), f->done, 2), 0);
    wait_sem(&f->flushed);
    send_query_at(f, 7, "42", "t", 13, NOW + 180000);
    wait_sem(&f->fr.sem);
    assert_fresh(f, 13, 7, NOW + 180000);
    pthread_mutex_lock(&f->fr.mu);
    assert_non_null(strstr(find_req(f, 13)->json, "/upscale"));
    pthread_mutex_unlock(&f->fr.mu);
    stats_reporter_counters_get(f->rep, &m);
    assert_int_equal(m.computed, 2);
    assert_int_equal(m.reused, 2);
    assert_int_equal(m.answered, 4);
}

/* With a chart lag allowed: after a commit that only adds to a bar, the next answer's embed
 * states the new numbers exactly, while its chart is the one drawn before (no redraw within the
 * lag); a query for other buckets draws its own. The counters say so. */
static void test_chart_lags_but_numbers_are_exact(void **state)
{
    fx *f = *state;
    f->chart_lag_ms = 600000;
    assert_int_equal(start(f, true, NULL), 0);
    record_fixture(f);
    send_query_at(f, 7, "42", "t", 20, NOW);
    wait_sem(&f->fr.sem);
    assert_fresh(f, 20, 7, NOW); /* drawn: the chart of these numbers */

    an_command_event e = {
        .command = "upscale", .user_id = 999, .success = true, .ts_ms = (uint64_t)(NOW - 1000)};
    assert_int_equal(an_record_command(analytics_writer_actor(f->w), &e), 0);
    assert_int_equal(an_request_flush(analytics_writer_actor(f->w), f->done, 2), 0);
    wait_sem(&f->flushed);
    send_query_at(f, 7, "42", "t", 21, NOW + 60000);
    wait_sem(&f->fr.sem);

    char err[256];
    an_reader *r = an_reader_open(f->db, err, sizeof err);
    assert_non_null(r);
    an_stats *now = malloc(sizeof *now);
    assert_int_equal(an_reader_stats(r, 7, NOW + 60000, now, err, sizeof err), 0);
    an_reader_close(r);
    pthread_mutex_lock(&f->fr.mu);
    rest_req_msg *first = find_req(f, 20), *second = find_req(f, 21);
    pthread_mutex_unlock(&f->fr.mu);
    /* the numbers: exact, with the new row */
    cJSON *embed = an_stats_embed(now);
    char *want = stats_reply_edit_json(embed, AN_CHART_FILENAME);
    cJSON_Delete(embed);
    assert_string_equal(second->json, want);
    assert_non_null(strstr(second->json, "/upscale"));
    free(want);
    /* the chart: the first one, byte for byte, though a fresh one would differ */
    assert_int_equal(second->nfiles, 1);
    assert_int_equal(second->files[0].len, first->files[0].len);
    assert_memory_equal(second->files[0].data, first->files[0].data, first->files[0].len);
    unsigned char *fresh;
    size_t len;
    assert_int_equal(an_chart_png(now, &fresh, &len, err, sizeof err), 0);
    assert_false(len == first->files[0].len && memcmp(fresh, first->files[0].data, len) == 0);
    free(fresh);

    /* other buckets (30 days): drawn for them */
    send_query_at(f, 30, "42", "t", 22, NOW + 61000);
    wait_sem(&f->fr.sem);
    assert_fresh(f, 22, 30, NOW + 61000);

    stats_reporter_counters m;
    stats_reporter_counters_get(f->rep, &m);
    assert_int_equal(m.charts_drawn, 2);
    assert_int_equal(m.charts_reused, 1);
    assert_int_equal(m.answered, 3);
    free(now);
}

static void test_malformed_queries(void **state)
{
    fx *f = *state;
    assert_int_equal(start(f, true, NULL), 0);
    send_query(f, 7, "123", "../../channels/1/messages", 1); /* path injection */
    send_query(f, 7, "abc", "token", 2);                     /* not a snowflake */
    send_query(f, 7, "123", "", 3);
    send_query(f, 0, "123", "token", 4); /* bad days: an error text, not silence */
    wait_sem(&f->fr.sem);
    /* The three rejected queries send nothing; the reporter handles its mailbox in order per
     * sender, so once the answer to 4 is here the others were seen. */
    stats_reporter_counters m;
    for (int i = 0; i < 1000; i++) {
        stats_reporter_counters_get(f->rep, &m);
        if (m.rejected == 3) break;
        struct timespec ts = {0, 1000000};
        nanosleep(&ts, NULL);
    }
    assert_int_equal(m.rejected, 3);
    assert_int_equal(m.failed, 1);
    assert_int_equal(f->fr.n, 1);
    rest_req_msg *req = find_req(f, 4);
    assert_non_null(strstr(req->json, "1 to 365"));
    assert_non_null(strstr(req->json, "\"embeds\":[]"));
}

static void test_start_fails_without_database(void **state)
{
    fx *f = *state;
    char missing[512];
    tdir_file(&f->dir, "missing.db", missing, sizeof missing);
    assert_int_not_equal(start(f, false, missing), 0);
    off_t n = lseek(f->logfd, 0, SEEK_END);
    char *log = calloc(1, (size_t)n + 1);
    assert_int_equal(pread(f->logfd, log, (size_t)n, 0), n);
    assert_non_null(strstr(log, missing));
    assert_non_null(strstr(log, "cannot open"));
    free(log);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_cli_agrees_with_the_answer, setup, teardown),
        cmocka_unit_test_setup_teardown(test_answers_with_the_embed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reads_while_the_writer_commits, setup, teardown),
        cmocka_unit_test_setup_teardown(test_answers_handed_on_until_a_commit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_chart_lags_but_numbers_are_exact, setup, teardown),
        cmocka_unit_test_setup_teardown(test_malformed_queries, setup, teardown),
        cmocka_unit_test_setup_teardown(test_start_fails_without_database, setup, teardown),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    /* The font caches cairo and fontconfig keep for the whole process, freed as the fluxbot
     * executable frees them at exit: without this LeakSanitizer reports fontconfig's cache. */
    an_chart_release();
    return rc;
}
