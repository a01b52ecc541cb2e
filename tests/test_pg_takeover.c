/* Jobs that survive a process dying (actors/job_keeper.h, pg/pg_lease.h): three real
 * `fluxbot run --shard i/3` processes sharing the test script's PostgreSQL, the fake Discord
 * (3 shards) and one slow fake ComfyUI that runs one prompt at a time, job_lease_ms 3000.
 * - two /comfy per shard (six users, so no limit refuses any); once ComfyUI has all six prompts
 *   waiting in its queue (held there) and every row says so, shard 1's process is killed
 *   (SIGKILL) and shard 2's is paused (SIGSTOP), and ComfyUI starts: shard 0 takes their four
 *   jobs over when the leases expire, fetches or follows the prompts on ComfyUI and edits each
 *   user's message with the result;
 * - once every result is there, shard 2 is resumed (SIGCONT): it finds its jobs taken (the
 *   fence) and delivers nothing;
 * - every interaction got exactly one result edit (a message with its file), none lost, none
 *   doubled, also after the resumed process had time to act;
 * - the logs and the metrics say what happened: exactly the four jobs of shards 1 and 2 taken
 *   over by shard 0 (fluxbot_jobs_taken_over_total 4), shard 2 dropping its two
 *   (fluxbot_jobs_fenced_total 2).
 * A second case restarts the fake ComfyUI (queue and history lost) right after the kill: the
 * jobs taken over are gone from the server and are resubmitted, again delivered once each. In
 * the same run a dead process's row whose interaction is almost 15 minutes old is taken over:
 * too late for the interaction token, so the user is told in the channel, and the row goes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <signal.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "e2e_proc.h"
#include "metrics_check.h"
#include "fakes/fake_comfy.h"
#include "fakes/fake_discord.h"
#include "fakes/fake_rest.h"
#include "tpg.h"

#define NJOBS 6

static void sleep_ms(unsigned ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static bool all_ready(const fake_gateway_stats *s, void *ctx)
{
    (void)ctx;
    return s->ready_connections >= 3;
}

static bool all_accepted(const fake_comfy_stats *s, void *arg)
{
    return s->prompts_accepted >= *(unsigned *)arg;
}

/* Result edits (with a file) of the interaction; edits counts every accepted edit. */
static unsigned file_edits(fake_discord *fd, uint64_t id)
{
    fake_rest_ix_state st;
    memset(&st, 0, sizeof st);
    bool known = fake_rest_interaction_state(fake_discord_rest(fd), id, &st);
    free(st.original_json);
    return known ? st.file_edits : 0;
}

/* Waits until every interaction has at least one result edit (timeout_ms); true when so. */
static bool wait_delivered(fake_discord *fd, const fake_discord_ix *ix, unsigned n,
                           unsigned timeout_ms)
{
    for (unsigned waited = 0; waited < timeout_ms; waited += 100) {
        unsigned done = 0;
        for (unsigned i = 0; i < n; i++)
            done += file_edits(fd, ix[i].id) >= 1;
        if (done == n) return true;
        sleep_ms(100);
    }
    return false;
}

/* Occurrences of needle in the file at path. */
static unsigned count_in_file(const char *path, const char *needle)
{
    FILE *f = fopen(path, "r");
    if (!f) return 0;
    char line[4096];
    unsigned n = 0;
    while (fgets(line, sizeof line, f))
        if (strstr(line, needle)) n++;
    fclose(f);
    return n;
}

static void show_logs(const char *dir)
{
    for (int i = 0; i < 3; i++) {
        char cmd[300];
        snprintf(cmd, sizeof cmd, "grep -E 'job|jobs' %s/shard%d.log | tail -n 40", dir, i);
        if (system(cmd) != 0) fprintf(stderr, "(no log %d)\n", i);
    }
}

typedef struct world {
    tpg t;
    char dir[64];
    char supp[128];
    fake_discord *fd;
    fake_comfy *comfy;
    e2e_child kids[3];
    unsigned mport[3]; /* each process's metrics endpoint */
    fake_discord_ix ix[NJOBS];
} world;

/* The shard whose guild the k-th job came from: guild 910000 + k % 3 is on shard
 * (910000 + k % 3) % 3. */
static int shard_of(int k)
{
    return (910000 + k % 3) % 3;
}

/* True when the log at path says the job of interaction id was taken over by this process. */
static bool took(const char *path, uint64_t id)
{
    char needle[64];
    snprintf(needle, sizeof needle, "job ix:%" PRIu64 " (", id);
    FILE *f = fopen(path, "r");
    if (!f) return false;
    char line[4096];
    bool found = false;
    while (!found && fgets(line, sizeof line, f))
        found = strstr(line, needle) && strstr(line, "taken over from");
    fclose(f);
    return found;
}

/* A counter from process i's metrics endpoint; -1 when it cannot be read. */
static double metric(const world *w, int i, const char *series)
{
    char *m = metrics_check_scrape(w->mport[i]);
    double v = m ? metrics_check_value(m, series) : -1;
    free(m);
    return v;
}

/* Starts process i (again) with a metrics port free at this moment. */
static void spawn_shard(world *w, const char *bin, int i)
{
    w->mport[i] = metrics_check_free_port();
    char port[16];
    snprintf(port, sizeof port, "%u", w->mport[i]);
    memset(&w->kids[i], 0, sizeof w->kids[i]);
    tpg_spawn_shard(&w->kids[i], bin, w->dir, i, 3, "pgt-token.fluxbot",
                    fake_discord_api_base(w->fd), fake_comfy_url(w->comfy), w->t.url, w->supp,
                    "info",
                    (const char *const[]){"--job-lease-ms", "3000", "--runner-threads", "4",
                                          "--metrics-port", port, NULL});
}

/* The world lives in the group's state: the teardown stops it also when an assertion failed
 * half-way (no process left running, nothing leaked). */
static world the_world;

static int world_setup(void **state)
{
    memset(&the_world, 0, sizeof the_world);
    *state = &the_world;
    return 0;
}

static void world_start(world *w)
{
    tpg_open(&w->t);
    const char *bin = getenv("FLUXBOT_BIN");
    assert_non_null(bin);
    snprintf(w->dir, sizeof w->dir, "/tmp/fluxbot-pgt-XXXXXX");
    assert_non_null(mkdtemp(w->dir));
    snprintf(w->supp, sizeof w->supp, "%s/lsan.supp", w->dir);
    FILE *f = fopen(w->supp, "w");
    assert_non_null(f);
    /* Empty: a child that is an ASan build must exit without any leak report (no TLS client
     * context but the gateway's, the chart's font caches released at exit). */
    fclose(f);
    fake_discord_options fo = {.token = "pgt-token.fluxbot", .shards = 3, .max_concurrency = 3};
    w->fd = fake_discord_start(&fo);
    assert_non_null(w->fd);
    /* 4 steps of 700 ms: ComfyUI holds the six prompts for about 17 s, long enough to kill and
     * take over while they wait, even on a slow machine */
    fake_comfy_opts co = {.steps = 4, .step_delay_ms = 700, .png_width = 16, .png_height = 16};
    w->comfy = fake_comfy_start(&co);
    assert_non_null(w->comfy);
    /* nothing runs until the test has killed its processes: all six prompts wait in the queue */
    fake_comfy_set_paused(w->comfy, true);
    for (int i = 0; i < 3; i++)
        spawn_shard(w, bin, i);
    /* A port found free can be taken by another test's connection before the process binds
     * it: that process exits at once ("Address already in use"); it is started again on
     * another port until each one serves its metrics. */
    unsigned respawns = 0;
    for (unsigned waited = 0, bound = 0; bound < 3; waited += 100) {
        assert_true(waited < 120000);
        bound = 0;
        for (int i = 0; i < 3; i++) {
            char log[160];
            snprintf(log, sizeof log, "%s/shard%d.log", w->dir, i);
            if (count_in_file(log, "metrics on http://127.0.0.1:") >= 1) {
                bound++;
            } else if (e2e_wait(&w->kids[i], 0) == 0) {
                assert_true(++respawns <= 6);
                spawn_shard(w, bin, i);
            }
        }
        if (bound < 3) sleep_ms(100);
    }
    assert_true(fake_gateway_wait(fake_discord_gateway(w->fd), all_ready, NULL, 90000));
    /* two jobs per shard: guild g is on shard (g >> 22) % 3 */
    const char *opts = "[{\"name\":\"prompt\",\"type\":3,\"value\":\"a red fox\"}]";
    for (int k = 0; k < NJOBS; k++) {
        fake_discord_member who = {.user_id = 332000000000000001ull + (uint64_t)k,
                                   .guild_id = (uint64_t)(910000 + k % 3) << 22};
        assert_int_equal(
            fake_discord_inject_command(w->fd, "comfy", opts, NULL, 0, &who, &w->ix[k]), 0);
        assert_int_equal(w->ix[k].sessions, 1);
    }
    unsigned want = NJOBS;
    assert_true(fake_comfy_wait(w->comfy, all_accepted, &want, 60000));
    /* in flight: every row says where its prompt is (the processes write that just after
     * ComfyUI took the prompt) */
    bool submitted = false;
    for (int i = 0; i < 200 && !submitted; i++) {
        submitted =
            tpg_scalar(w->t.conn, "SELECT count(*) FROM fluxbot_jobs WHERE state = 'submitted'", 0,
                       NULL) == NJOBS;
        if (!submitted) sleep_ms(25);
    }
    assert_true(submitted);
}

static void world_stop(world *w)
{
    for (int i = 0; i < 3; i++) {
        if (w->kids[i].exited) continue;
        e2e_signal(&w->kids[i], SIGCONT);
        e2e_signal(&w->kids[i], SIGTERM);
        if (e2e_wait(&w->kids[i], 40000) != 0) e2e_kill(&w->kids[i]);
    }
    fake_comfy_stop(w->comfy);
    w->comfy = NULL;
    fake_discord_stop(w->fd);
    w->fd = NULL;
    if (w->dir[0]) {
        char rm[128];
        snprintf(rm, sizeof rm, "rm -rf %s", w->dir);
        if (system(rm) != 0) fprintf(stderr, "could not remove %s\n", w->dir);
        w->dir[0] = '\0';
    }
    tpg_close(&w->t);
}

static int world_teardown(void **state)
{
    world_stop(*state);
    return 0;
}

static void test_killed_and_paused_owners(void **state)
{
    world *w = *state;
    world_start(w);
    /* shard 1 dies, shard 2 is only slow */
    e2e_kill(&w->kids[1]);
    assert_int_equal(e2e_signal(&w->kids[2], SIGSTOP), 0);
    fake_comfy_set_paused(w->comfy, false);
    bool delivered = wait_delivered(w->fd, w->ix, NJOBS, 90000);
    assert_int_equal(e2e_signal(&w->kids[2], SIGCONT), 0);
    /* the resumed process has its renewal period and more to act on its stale jobs */
    sleep_ms(5000);
    char log0[160], log2[160];
    snprintf(log0, sizeof log0, "%s/shard0.log", w->dir);
    snprintf(log2, sizeof log2, "%s/shard2.log", w->dir);
    unsigned dropped = count_in_file(log2, "another process");
    unsigned edits[NJOBS];
    bool taken_by_0[NJOBS];
    for (int k = 0; k < NJOBS; k++) {
        edits[k] = file_edits(w->fd, w->ix[k].id);
        taken_by_0[k] = took(log0, w->ix[k].id);
    }
    double taken_over = metric(w, 0, "fluxbot_jobs_taken_over_total");
    double fenced = metric(w, 2, "fluxbot_jobs_fenced_total");
    if (!delivered || taken_over != 4 || fenced != 2 || dropped < 2 ||
        getenv("FLUXBOT_TEST_SHOW_LOGS"))
        show_logs(w->dir);
    world_stop(w);
    assert_true(delivered);
    for (int k = 0; k < NJOBS; k++) {
        assert_int_equal(edits[k], 1);
        /* the jobs of the killed and the paused process, and only those, went to shard 0 */
        assert_int_equal(taken_by_0[k], shard_of(k) != 0);
    }
    assert_float_equal(taken_over, 4, 0);
    assert_float_equal(fenced, 2, 0); /* the resumed process dropped both of its jobs */
    assert_true(dropped >= 2);
}

/* A job of a process that died long ago: its interaction arrived 14 min 50 s ago, its token
 * has 10 s left (under the 30 s a takeover needs), its lease has expired. */
static void insert_too_late(world *w)
{
    tpg_exec(w->t.conn,
             "INSERT INTO fluxbot_jobs (job_key, state, gen, owner, expires_ms, server, prompt_id,"
             " params, app_id, interaction_id, token, received_ms, user_id, guild_id,"
             " channel_id) SELECT 'ix:424242', 'submitted', 1, 'proc-dead', 0,"
             " 'http://127.0.0.1:9', 'p-gone', params, app_id, 424242, 'dead-token',"
             " (extract(epoch FROM clock_timestamp()) * 1000)::bigint - 890000, 332000000000000099,"
             " guild_id, 777000000000000777 FROM fluxbot_jobs LIMIT 1");
}

static void test_taken_jobs_gone_from_comfy_are_resubmitted(void **state)
{
    world *w = *state;
    world_start(w);
    e2e_kill(&w->kids[1]);
    /* the server restarts too: every prompt in its queue is gone */
    fake_comfy_restart(w->comfy);
    insert_too_late(w);
    fake_comfy_set_paused(w->comfy, false);
    bool delivered = wait_delivered(w->fd, w->ix, NJOBS, 120000);
    /* the too-late job: its user is told in the channel (the token route is dead) */
    fake_rest_filter ch = {
        .method = "POST", .path_prefix = "/channels/777000000000000777/messages", .status = 200};
    size_t told = fake_rest_wait(fake_discord_rest(w->fd), &ch, 1, 60000);
    bool says_why = false;
    fake_rest_request *reqs = NULL;
    size_t nreq = fake_rest_collect(fake_discord_rest(w->fd), &ch, &reqs);
    for (size_t i = 0; i < nreq; i++)
        if (reqs[i].body && strstr((const char *)reqs[i].body, "15 minutes")) says_why = true;
    fake_rest_requests_free(reqs, nreq);
    bool row_gone = false;
    for (int i = 0; i < 100 && !row_gone; i++) {
        row_gone =
            tpg_scalar(w->t.conn, "SELECT count(*) FROM fluxbot_jobs WHERE job_key = 'ix:424242'",
                       0, NULL) == 0;
        if (!row_gone) sleep_ms(100);
    }
    sleep_ms(2000);
    char log0[160], log2[160];
    snprintf(log0, sizeof log0, "%s/shard0.log", w->dir);
    snprintf(log2, sizeof log2, "%s/shard2.log", w->dir);
    unsigned edits[NJOBS];
    bool taken[NJOBS];
    for (int k = 0; k < NJOBS; k++) {
        edits[k] = file_edits(w->fd, w->ix[k].id);
        taken[k] = took(log0, w->ix[k].id) || took(log2, w->ix[k].id);
    }
    bool late_taken = took(log0, 424242) || took(log2, 424242);
    double taken_over = metric(w, 0, "fluxbot_jobs_taken_over_total") +
                        metric(w, 2, "fluxbot_jobs_taken_over_total");
    if (!delivered || !late_taken || taken_over < 3 || !told || !says_why || !row_gone ||
        getenv("FLUXBOT_TEST_SHOW_LOGS"))
        show_logs(w->dir);
    world_stop(w);
    assert_true(delivered);
    for (int k = 0; k < NJOBS; k++) {
        assert_int_equal(edits[k], 1);
        if (shard_of(k) == 1) assert_true(taken[k]); /* the killed process's jobs */
    }
    assert_true(late_taken);
    assert_true(taken_over >= 3);
    assert_true(told >= 1);
    assert_true(says_why);
    assert_true(row_gone);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_killed_and_paused_owners, world_setup, world_teardown),
        cmocka_unit_test_setup_teardown(test_taken_jobs_gone_from_comfy_are_resubmitted,
                                        world_setup, world_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
