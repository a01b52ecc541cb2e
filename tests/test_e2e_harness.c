/* fluxbot-test: tsan */
/*
 * The pure and process-control parts of the end-to-end benchmark harness (bench/support):
 * the open-loop schedule, the seeded command mix, /proc parsing, child processes (exit codes,
 * signals, environment, timeouts), and the report outputs (JSON parses back, CSV columns
 * line up, the SVG chart has one line per series and a point per result).
 * The harness sources are compiled into this test directly (bench/support is not a library
 * the tests link).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "../bench/support/e2e_proc.c"
#include "../bench/support/e2e_report.c"
#include "../bench/support/e2e_sched.c"

static void test_schedule_is_fixed_in_advance(void **state)
{
    (void)state;
    e2e_sched s;
    e2e_sched_init(&s, 1000, 200.0, 2.5);
    assert_int_equal(s.count, 500);
    assert_int_equal(s.period_ns, 5000000);
    assert_int_equal(e2e_sched_due(&s, 0), 1000);
    assert_int_equal(e2e_sched_due(&s, 3), 1000 + 15000000);
    assert_int_equal(e2e_sched_due_by(&s, 999), 0);
    assert_int_equal(e2e_sched_due_by(&s, 1000), 1);
    assert_int_equal(e2e_sched_due_by(&s, 1000 + 5000000 - 1), 1);
    assert_int_equal(e2e_sched_due_by(&s, 1000 + 5000000), 2);
    /* A stall: everything due since is owed at once (catch up, never skip or pause). */
    assert_int_equal(e2e_sched_due_by(&s, 1000 + 1000000000ull), 201);
    assert_int_equal(e2e_sched_due_by(&s, UINT64_MAX / 2), 500);
    e2e_sched_init(&s, 0, 0.1, 1);
    assert_int_equal(s.count, 1);
}

static void test_mix_pick_and_parse(void **state)
{
    (void)state;
    unsigned w[3] = {6, 3, 1};
    unsigned hits[3] = {0};
    uint64_t rng = 42;
    for (int i = 0; i < 100000; i++) {
        int k = e2e_pick(w, 3, &rng);
        assert_true(k >= 0 && k < 3);
        hits[k]++;
    }
    assert_true(hits[0] > 58000 && hits[0] < 62000);
    assert_true(hits[1] > 28000 && hits[1] < 32000);
    assert_true(hits[2] > 8500 && hits[2] < 11500);
    uint64_t a = 7, b = 7;
    for (int i = 0; i < 100; i++)
        assert_int_equal(e2e_pick(w, 3, &a), e2e_pick(w, 3, &b));
    unsigned z[2] = {0, 0};
    assert_int_equal(e2e_pick(z, 2, &a), -1);
    uint64_t zero = 0;
    assert_int_not_equal(e2e_rand(&zero), 0);

    const char *names[] = {"comfy", "stats", "bad"};
    unsigned out[3];
    char err[200];
    assert_int_equal(e2e_mix_parse("comfy=8,bad=2", names, 3, out, err, sizeof err), 0);
    assert_int_equal(out[0], 8);
    assert_int_equal(out[1], 0);
    assert_int_equal(out[2], 2);
    assert_int_equal(e2e_mix_parse("comfy=8,nope=1", names, 3, out, err, sizeof err), -1);
    assert_non_null(strstr(err, "nope=1"));
    assert_non_null(strstr(err, "stats"));
    assert_int_equal(e2e_mix_parse("comfy=x", names, 3, out, err, sizeof err), -1);
    assert_int_equal(e2e_mix_parse("comfy", names, 3, out, err, sizeof err), -1);
    assert_int_equal(e2e_mix_parse("comfy=-1", names, 3, out, err, sizeof err), -1);
    assert_int_equal(e2e_mix_parse("comfy=0,stats=0", names, 3, out, err, sizeof err), -1);
}

static void test_proc_parsing(void **state)
{
    (void)state;
    e2e_procstat st = {0};
    /* comm with spaces and a ')' inside, as a hostile process name could be. */
    const char *stat = "1234 (flux bot) x) S 1 1234 1234 0 -1 4194560 100 0 0 0 "
                       "250 75 0 0 20 0 9 0 12345 123456789 500 18446744073709551615 1 1 0 0";
    assert_int_equal(e2e_parse_stat(stat, &st), 0);
    assert_int_equal(st.utime_ticks, 250);
    assert_int_equal(st.stime_ticks, 75);
    assert_int_equal(st.threads, 9);
    assert_int_equal(st.rss_kb, 500 * (uint64_t)(sysconf(_SC_PAGESIZE) / 1024));
    assert_int_equal(e2e_parse_stat("1234 (short) S 1 2", &st), -1);
    assert_int_equal(e2e_parse_stat("garbage", &st), -1);

    const char *status = "Name:\tfluxbot\nVmPeak:\t 9000 kB\nVmHWM:\t  4321 kB\n"
                         "VmRSS:\t  1234 kB\nThreads:\t7\n";
    memset(&st, 0, sizeof st);
    assert_int_equal(e2e_parse_status(status, &st), 0);
    assert_int_equal(st.rss_kb, 1234);
    assert_int_equal(st.hwm_kb, 4321);
    assert_int_equal(st.threads, 7);
    assert_int_equal(e2e_parse_status("Name:\tzombie\nState:\tZ\n", &st), -1);

    assert_int_equal(e2e_proc_sample(getpid(), &st), 0);
    assert_true(st.rss_kb > 0);
    assert_true(st.hwm_kb >= st.rss_kb);
    assert_true(st.threads >= 1);
}

static void test_child_processes(void **state)
{
    (void)state;
    char dir[] = "/tmp/fluxbot-e2eh-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char out[300];
    snprintf(out, sizeof out, "%s/out.txt", dir);

    char **env = NULL;
    assert_int_equal(e2e_env_set(&env, "FOO", "one"), 0);
    assert_int_equal(e2e_env_set(&env, "BAR", "two"), 0);
    assert_int_equal(e2e_env_set(&env, "FOO", "three"), 0);
    assert_string_equal(env[0], "FOO=three");
    assert_null(env[2]);

    e2e_child c;
    char *argv1[] = {"sh", "-c", "echo \"$FOO/$BAR/${HOME:-unset}\"; exit 3", NULL};
    assert_int_equal(e2e_spawn(&c, "/bin/sh", argv1, env, out), 0);
    assert_int_equal(e2e_wait(&c, 10000), 0);
    assert_int_equal(e2e_exit_code(&c), 3);
    FILE *f = fopen(out, "r");
    char line[64] = "";
    assert_non_null(fgets(line, sizeof line, f));
    fclose(f);
    assert_string_equal(line, "three/two/unset\n");

    /* A child that runs until told: the timeout path, then SIGTERM. */
    char *argv2[] = {"sleep", "30", NULL};
    assert_int_equal(e2e_spawn(&c, "/bin/sleep", argv2, env, NULL), 0);
    assert_int_equal(e2e_exit_code(&c), -1);
    assert_int_equal(e2e_wait(&c, 50), -1);
    e2e_procstat st;
    assert_int_equal(e2e_proc_sample(c.pid, &st), 0);
    assert_int_equal(e2e_signal(&c, SIGTERM), 0);
    assert_int_equal(e2e_wait(&c, 10000), 0);
    assert_int_equal(e2e_exit_code(&c), 128 + SIGTERM);
    assert_true(c.maxrss_kb > 0);
    assert_int_equal(e2e_signal(&c, SIGTERM), -1);

    /* A path that does not exist: the child reports 127. */
    char *argv3[] = {"nope", NULL};
    assert_int_equal(e2e_spawn(&c, "/nonexistent/fluxbot", argv3, env, NULL), 0);
    assert_int_equal(e2e_wait(&c, 10000), 0);
    assert_int_equal(e2e_exit_code(&c), 127);
    e2e_env_free(env);
    unlink(out);
    rmdir(dir);
}

static e2e_result sample_result(unsigned router, unsigned runner, double tput, double p99)
{
    e2e_result r = {.router_threads = router,
                    .runner_threads = runner,
                    .rate_target = 100,
                    .seconds = 2,
                    .sent = 200,
                    .answered = 199,
                    .answered_twice = 0,
                    .unanswered = 1,
                    .throughput = tput,
                    .reply_p50_ms = 1.5,
                    .reply_p99_ms = p99,
                    .reply_p999_ms = p99 * 2,
                    .reply_max_ms = 40,
                    .jobs = 150,
                    .jobs_done = 150,
                    .job_p50_ms = 30,
                    .job_p99_ms = 90,
                    .jobs_per_s = 75,
                    .analytics_rows = 600,
                    .analytics_rows_per_s = 300,
                    .cpu_ms_per_1000 = 120.5,
                    .peak_rss_kb = 20480,
                    .exit_code = 0};
    return r;
}

/* Runs fn on a temporary file and returns what it wrote (malloc'd). */
static char *capture(void (*fn)(FILE *, void *), void *arg)
{
    FILE *f = tmpfile();
    assert_non_null(f);
    fn(f, arg);
    long n = ftell(f);
    assert_true(n >= 0);
    rewind(f);
    char *buf = malloc((size_t)n + 1);
    assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
    buf[n] = 0;
    fclose(f);
    return buf;
}

static void write_json(FILE *f, void *arg)
{
    e2e_report_json(f, arg, "cpu \"x\"\\y");
}
static void write_table(FILE *f, void *arg)
{
    e2e_report_table(f, arg, "m");
}

static void test_json_and_table(void **state)
{
    (void)state;
    e2e_result r = sample_result(2, 3, 99.5, 12.25);
    r.job_max_ms = NAN;
    char *j = capture(write_json, &r);
    assert_non_null(strchr(j, '\n'));
    assert_ptr_equal(strchr(j, '\n'), j + strlen(j) - 1); /* one line */
    cJSON *o = cJSON_Parse(j);
    assert_non_null(o);
    assert_int_equal(cJSON_GetObjectItem(o, "router_threads")->valueint, 2);
    assert_int_equal(cJSON_GetObjectItem(o, "unanswered")->valueint, 1);
    assert_float_equal(cJSON_GetObjectItem(o, "interactions_per_s")->valuedouble, 99.5, 1e-9);
    assert_float_equal(cJSON_GetObjectItem(o, "reply_p99_ms")->valuedouble, 12.25, 1e-9);
    assert_float_equal(cJSON_GetObjectItem(o, "jobs_per_s")->valuedouble, 75, 1e-9);
    assert_true(cJSON_IsNull(cJSON_GetObjectItem(o, "job_max_ms")));
    assert_string_equal(cJSON_GetObjectItem(o, "machine")->valuestring, "cpu \"x\"\\y");
    cJSON_Delete(o);
    free(j);
    char *t = capture(write_table, &r);
    assert_non_null(strstr(t, "interactions/s sustained"));
    assert_non_null(strstr(t, "99.5"));
    free(t);
}

static void write_csv(FILE *f, void *arg)
{
    e2e_csv_header(f);
    e2e_csv_row(f, arg);
}

static size_t count_char(const char *s, size_t n, char c)
{
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (s[i] == c) k++;
    return k;
}

static void test_csv_columns_line_up(void **state)
{
    (void)state;
    e2e_result r = sample_result(1, 1, 10, 2);
    char *c = capture(write_csv, &r);
    char *nl = strchr(c, '\n');
    assert_non_null(nl);
    size_t hcols = count_char(c, (size_t)(nl - c), ',');
    char *row = nl + 1;
    char *nl2 = strchr(row, '\n');
    assert_non_null(nl2);
    assert_int_equal(count_char(row, (size_t)(nl2 - row), ','), hcols);
    assert_string_equal(nl2 + 1, "");
    free(c);
}

typedef struct svg_arg {
    e2e_result *pts;
    size_t n;
} svg_arg;

static void write_svg(FILE *f, void *arg)
{
    svg_arg *a = arg;
    assert_int_equal(e2e_svg_sweep(f, a->pts, a->n, "sweep <2 cores> & more"), 0);
}

static size_t count_str(const char *s, const char *needle)
{
    size_t k = 0;
    for (const char *p = strstr(s, needle); p; p = strstr(p + 1, needle))
        k++;
    return k;
}

static void test_svg_chart(void **state)
{
    (void)state;
    e2e_result pts[6];
    size_t n = 0;
    for (unsigned router = 1; router <= 3; router++)
        for (unsigned runner = 1; runner <= 2; runner++)
            pts[n++] = sample_result(router, runner, 100.0 * router, 5.0 * runner);
    svg_arg a = {pts, n};
    char *s = capture(write_svg, &a);
    assert_int_equal(strncmp(s, "<svg ", 5), 0);
    assert_non_null(strstr(s, "</svg>\n"));
    assert_int_equal(count_str(s, "<polyline"), 6); /* 3 panels x 2 runner counts */
    assert_int_equal(count_str(s, "<circle"), 18);  /* every point on every panel */
    assert_non_null(strstr(s, "sweep &lt;2 cores&gt; &amp; more"));
    assert_non_null(strstr(s, "runner threads 2"));
    assert_null(strstr(s, "nan"));
    /* The highest throughput point (300/s) sits at the top of a nice 500 scale. */
    assert_non_null(strstr(s, ">500<"));
    free(s);

    FILE *devnull = fopen("/dev/null", "w");
    assert_int_equal(e2e_svg_sweep(devnull, pts, 0, "x"), -1);
    fclose(devnull);

    assert_float_equal(e2e_nice_ceil(300), 500, 0);
    assert_float_equal(e2e_nice_ceil(100), 100, 0);
    assert_float_equal(e2e_nice_ceil(0.013), 0.02, 1e-12);
    assert_float_equal(e2e_nice_ceil(0), 1, 0);
    assert_float_equal(e2e_nice_ceil(NAN), 1, 0);
    char m[300];
    e2e_machine(m, sizeof m);
    assert_non_null(strstr(m, "cores, Linux "));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_schedule_is_fixed_in_advance),
        cmocka_unit_test(test_mix_pick_and_parse),
        cmocka_unit_test(test_proc_parsing),
        cmocka_unit_test(test_child_processes),
        cmocka_unit_test(test_json_and_table),
        cmocka_unit_test(test_csv_columns_line_up),
        cmocka_unit_test(test_svg_chart),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
