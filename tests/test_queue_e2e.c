/*
 * Queue control end to end: the whole bot in-process (app_start) against the loopback fake
 * Discord and a fake ComfyUI. What users see is read from the callbacks and edits the fake
 * Discord received; what reached ComfyUI from the fake's records (accepted prompts, queue
 * deletes, interrupts and the prompt each one stopped).
 *
 *  - a job waiting in the bot's own line is cancelled with the Cancel button of its progress
 *    message (another user's press is refused, ephemerally); it never reaches ComfyUI;
 *  - /cancel with one job: the job's prompt, pending in ComfyUI's queue, is deleted there
 *    (POST /queue delete), never interrupted;
 *  - a manager's /cancel user:@x stops x's running prompt (POST /interrupt of that prompt only:
 *    the prompt queued behind it runs to its result), and x's message names who cancelled;
 *  - /cancel with several jobs offers a choice; a user naming someone else is refused;
 *  - analytics: the cancelled jobs' user_activity rows (job_cancelled, stage and who);
 *  - /queue clear: refused to a plain user; a manager's cancels every job waiting in the bot's
 *    line (their messages name who) and says how many; running jobs go on;
 *  - priorities with three users: a burst of one user's jobs waits behind one job of each
 *    other user (each waiting message shows its place in that order, and moves back when a
 *    newcomer goes ahead of it); with /priority set, high goes before normal before low,
 *    whatever the arrival order.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <sqlite3.h>

#include "e2e_util.h"

#define TOKEN "queue-e2e-token.abc"
#define APP_ID 777000000000000016ULL
#define USER_A 310000000000000001ULL
#define USER_B 310000000000000002ULL
#define USER_C 310000000000000003ULL
#define USER_D 310000000000000004ULL
#define USER_E 310000000000000005ULL
#define USER_F 310000000000000006ULL
#define USER_G 310000000000000007ULL
#define ADMIN 310000000000000009ULL
#define PERM_ADMINISTRATOR (1ULL << 3)
#define WAIT_MS 20000

static e2e_app_world W;

static int setup(void **state)
{
    e2e_app_opts o = {.name = "queue_e2e", .token = TOKEN, .application_id = APP_ID};
    e2e_app_begin(&W, &o);
    /* a job takes about two seconds of "GPU" time: long enough to be caught running */
    fake_comfy_set_steps(W.comfy, 40);
    fake_comfy_set_step_delay(W.comfy, 50);
    fb_config *c = &W.cfg;
    c->runner_threads = 2; /* two prompts in ComfyUI at once; a third job waits in the bot */
    c->user_max_concurrent_jobs = 10;
    c->analytics_flush_ms = 50;
    c->progress_interval_ms = 500; /* the smallest allowed */
    e2e_app_start(&W);
    *state = &W;
    return 0;
}

static fake_discord_member member(uint64_t user, uint64_t perms)
{
    fake_discord_member m = {.user_id = user, .username = "user"};
    if (perms) {
        m.permissions = perms | (1ULL << 10) | (1ULL << 11) | (1ULL << 31);
        m.has_permissions = true;
    }
    return m;
}

/* The one callback of an interaction, parsed. */
static cJSON *answer_of(uint64_t id)
{
    size_t n;
    cJSON *o = e2e_app_callback(&W, id, WAIT_MS, &n, NULL);
    assert_int_equal(n, 1); /* answered exactly once */
    return o;
}

/* True when the JSON text of o contains needle. */
static bool json_has(const cJSON *o, const char *needle)
{
    char *t = cJSON_PrintUnformatted(o);
    bool r = t && strstr(t, needle);
    free(t);
    return r;
}

static const char *content_of(const cJSON *msg)
{
    const char *c = cJSON_GetStringValue(cJSON_GetObjectItem(msg, "content"));
    return c ? c : "";
}

/* @original of an interaction once it contains `needle` (edits arrive after the ack). */
static cJSON *original_with(uint64_t id, const char *needle)
{
    return e2e_app_original_with(&W, id, needle, WAIT_MS);
}

/* The custom_ids of the message's components that contain `part`, in order; how many. */
static unsigned ids_with(const cJSON *msg, const char *part, char out[][101], unsigned max)
{
    unsigned n = 0;
    const cJSON *row, *it;
    cJSON_ArrayForEach(row, cJSON_GetObjectItem(msg, "components"))
    {
        cJSON_ArrayForEach(it, cJSON_GetObjectItem(row, "components"))
        {
            const char *id = cJSON_GetStringValue(cJSON_GetObjectItem(it, "custom_id"));
            if (id && strstr(id, part) && n < max) snprintf(out[n++], 101, "%s", id);
        }
    }
    return n;
}

static unsigned ncomponents(const cJSON *msg)
{
    return (unsigned)cJSON_GetArraySize(cJSON_GetObjectItem(msg, "components"));
}

/* The /comfy interactions of this run: their tokens name their @original's edit route, so a
 * failed wait can show every edit the message received (edit_history). */
#define TRACKED_MAX 64
static struct {
    uint64_t id;
    char prompt[32];
    char token[160];
} tracked[TRACKED_MAX];
static unsigned ntracked;

/* Prints, for every tracked interaction, when its ack arrived and each edit of its @original
 * in arrival order (sequence number, ms since the fake started, the text shown). */
static void edit_history(void)
{
    for (unsigned i = 0; i < ntracked; i++) {
        char path[256];
        snprintf(path, sizeof path, "/interactions/%" PRIu64 "/", tracked[i].id);
        fake_rest_filter f = {.method = "POST", .path_prefix = path};
        fake_rest_request *rq;
        size_t n = fake_rest_collect(W.rest, &f, &rq);
        fprintf(stderr, "  %s (interaction %" PRIu64 "): ack #%" PRIu64 " at %" PRId64 " ms\n",
                tracked[i].prompt, tracked[i].id, n ? rq[0].seq : 0, n ? rq[0].t_ms : -1);
        fake_rest_requests_free(rq, n);
        snprintf(path, sizeof path, "/webhooks/%" PRIu64 "/%s/messages/@original",
                 fake_rest_application_id(W.rest), tracked[i].token);
        f = (fake_rest_filter){.method = "PATCH", .path_prefix = path};
        n = fake_rest_collect(W.rest, &f, &rq);
        for (size_t k = 0; k < n; k++) {
            cJSON *o = cJSON_Parse((const char *)rq[k].body);
            const char *c = o ? cJSON_GetStringValue(cJSON_GetObjectItem(o, "content")) : NULL;
            char line[120];
            snprintf(line, sizeof line, "%s", c ? c : "(no content)");
            for (char *q = line; *q; q++)
                if (*q == '\n') *q = '|';
            fprintf(stderr, "    edit #%" PRIu64 " at %" PRId64 " ms: %s\n", rq[k].seq, rq[k].t_ms,
                    line);
            cJSON_Delete(o);
        }
        fake_rest_requests_free(rq, n);
    }
}

/* @original of a /comfy interaction once it contains `needle`; on a timeout, the edit history
 * of every tracked message is printed before failing (which edit went missing, or came last). */
static cJSON *shown_with(uint64_t id, const char *needle)
{
    cJSON *o = e2e_app_original_find(&W, id, needle, WAIT_MS);
    if (o) return o;
    fprintf(stderr, "interaction %" PRIu64 ": no @original with \"%s\"; the edits received:\n", id,
            needle);
    edit_history();
    fail_msg("interaction %" PRIu64 ": no @original with \"%s\"", id, needle);
    return NULL;
}

static uint64_t generate_as(uint64_t user, const char *prompt)
{
    char opts[300];
    snprintf(opts, sizeof opts,
             "[{\"name\":\"prompt\",\"type\":3,\"value\":\"%s\"},"
             "{\"name\":\"resolution\",\"type\":3,\"value\":\"1:1 [1024x1024 square]\"}]",
             prompt);
    fake_discord_member m = member(user, 0);
    fake_discord_ix ix;
    assert_int_equal(fake_discord_inject_command(W.fd, "comfy", opts, NULL, 0, &m, &ix), 0);
    if (ntracked < TRACKED_MAX) {
        tracked[ntracked].id = ix.id;
        snprintf(tracked[ntracked].prompt, sizeof tracked[ntracked].prompt, "%s", prompt);
        snprintf(tracked[ntracked].token, sizeof tracked[ntracked].token, "%s", ix.token);
        ntracked++;
    }
    return ix.id;
}

static uint64_t cancel_cmd(uint64_t user, uint64_t perms, uint64_t target)
{
    char opts[160];
    if (target)
        snprintf(opts, sizeof opts, "[{\"name\":\"user\",\"type\":6,\"value\":\"%" PRIu64 "\"}]",
                 target);
    fake_discord_member m = member(user, perms);
    fake_discord_ix ix;
    assert_int_equal(
        fake_discord_inject_command(W.fd, "cancel", target ? opts : NULL, NULL, 0, &m, &ix), 0);
    return ix.id;
}

static uint64_t press(const char *custom_id, uint64_t user, uint64_t perms)
{
    fake_discord_member m = member(user, perms);
    fake_discord_ix ix;
    assert_int_equal(
        fake_discord_inject_component(W.fd, custom_id, 2, NULL, 900000000000000077ULL, &m, &ix), 0);
    return ix.id;
}

static bool stats_at_least(const fake_comfy_stats *s, void *arg)
{
    const unsigned *want = arg; /* accepted, queue_deletes, interrupts_hit */
    return s->prompts_accepted >= want[0] && s->queue_deletes >= want[1] &&
           s->interrupts_hit >= want[2];
}

static void wait_comfy(unsigned accepted, unsigned deletes, unsigned hits)
{
    unsigned want[3] = {accepted, deletes, hits};
    assert_true(fake_comfy_wait(W.comfy, stats_at_least, want, WAIT_MS));
}

/* The cancel answer to the asker: an ephemeral "thinking", then the text. */
static void expect_asker(uint64_t ix, const char *needle)
{
    cJSON *a = answer_of(ix);
    assert_int_equal(e2e_app_cb_type(a), 5);
    assert_int_equal(e2e_app_cb_flags(a), 64);
    cJSON_Delete(a);
    cJSON_Delete(original_with(ix, needle));
}

static uint64_t job_a1, job_c1, job_a2;

static void cancel_waiting_with_button(void **state)
{
    (void)state;
    fake_comfy_set_paused(W.comfy, true);
    job_a1 = generate_as(USER_A, "first of a");
    job_c1 = generate_as(USER_C, "first of c");
    wait_comfy(2, 0, 0); /* both runners busy: the two prompts wait in ComfyUI's queue */
    job_a2 = generate_as(USER_A, "second of a");
    /* it waits in the bot's own line; its message carries the Cancel button */
    cJSON *msg = original_with(job_a2, "fb:cancel:");
    char ids[4][101];
    assert_int_equal(ids_with(msg, "fb:cancel:", ids, 4), 1);
    cJSON_Delete(msg);

    /* someone else's press is refused at once, and changes nothing */
    uint64_t b = press(ids[0], USER_B, 0);
    cJSON *ans = answer_of(b);
    assert_int_equal(e2e_app_cb_type(ans), 4);
    assert_int_equal(e2e_app_cb_flags(ans), 64);
    assert_true(json_has(ans, "Only the person who asked"));
    cJSON_Delete(ans);

    uint64_t p = press(ids[0], USER_A, 0);
    expect_asker(p, "was cancelled");
    msg = original_with(job_a2, "Cancelled.");
    assert_string_equal(content_of(msg), "\xf0\x9f\x9a\xab Cancelled.");
    assert_int_equal(ncomponents(msg), 0); /* the button is gone */
    cJSON_Delete(msg);
    fake_comfy_stats st;
    fake_comfy_get_stats(W.comfy, &st);
    assert_int_equal(st.prompts_accepted, 2); /* it never reached ComfyUI */

    /* pressed again: the job has ended */
    p = press(ids[0], USER_A, 0);
    expect_asker(p, "no longer waiting or running");
}

static void cancel_pending_with_command(void **state)
{
    (void)state;
    /* A's only job now is the first, pending in ComfyUI's queue: deleted there */
    uint64_t c = cancel_cmd(USER_A, 0, 0);
    expect_asker(c, "was cancelled");
    wait_comfy(2, 1, 0);
    cJSON *msg = original_with(job_a1, "Cancelled.");
    assert_int_equal(ncomponents(msg), 0);
    cJSON_Delete(msg);
    fake_comfy_stats st;
    fake_comfy_get_stats(W.comfy, &st);
    assert_int_equal(st.interrupts, 0); /* never interrupted: it was not running */
}

static void cancel_running_by_manager(void **state)
{
    (void)state;
    /* C's job runs; A's new job waits in ComfyUI's queue behind it */
    uint64_t a3 = generate_as(USER_A, "third of a");
    wait_comfy(3, 1, 0);
    fake_comfy_set_paused(W.comfy, false);
    cJSON_Delete(original_with(job_c1, "step"));
    /* a plain user cannot name C */
    uint64_t d = cancel_cmd(USER_B, 0, USER_C);
    cJSON *ans = answer_of(d);
    assert_int_equal(e2e_app_cb_type(ans), 4);
    assert_true(json_has(ans, "only cancel your own"));
    cJSON_Delete(ans);
    /* an administrator can */
    uint64_t c = cancel_cmd(ADMIN, PERM_ADMINISTRATOR, USER_C);
    expect_asker(c, "was cancelled");
    wait_comfy(3, 1, 1);
    char pid_c[64] = "", last[64];
    for (unsigned i = 0; i < 3; i++) { /* the runners may have submitted A's and C's either way */
        char *g = fake_comfy_prompt_json(W.comfy, i);
        assert_non_null(g);
        if (strstr(g, "first of c")) assert_true(fake_comfy_prompt_id(W.comfy, i, pid_c, 64));
        free(g);
    }
    assert_true(pid_c[0]);
    assert_true(fake_comfy_last_interrupted(W.comfy, last, sizeof last));
    assert_string_equal(last, pid_c); /* C's prompt, nothing else */
    cJSON *msg = original_with(job_c1, "Cancelled by");
    char want[80];
    snprintf(want, sizeof want, "\xf0\x9f\x9a\xab Cancelled by <@%" PRIu64 ">.", (uint64_t)ADMIN);
    assert_string_equal(content_of(msg), want);
    cJSON_Delete(msg);
    /* the prompt behind it runs to its result */
    cJSON_Delete(original_with(a3, "fb:regen:"));
    fake_comfy_stats st;
    fake_comfy_get_stats(W.comfy, &st);
    assert_int_equal(st.interrupts_hit, 1);
}

static void cancel_choice(void **state)
{
    (void)state;
    fake_comfy_set_paused(W.comfy, true);
    uint64_t j1 = generate_as(USER_B, "b one");
    uint64_t j2 = generate_as(USER_B, "b two");
    cJSON_Delete(original_with(j1, "fb:cancel:"));
    cJSON_Delete(original_with(j2, "fb:cancel:"));
    uint64_t c = cancel_cmd(USER_B, 0, 0);
    cJSON *a = answer_of(c);
    assert_int_equal(e2e_app_cb_type(a), 5);
    cJSON_Delete(a);
    cJSON *choice = original_with(c, "Which one");
    assert_non_null(strstr(content_of(choice), "You have 2 jobs"));
    /* numbered as the buttons are (newest first: the router's threads may have handed the two
     * over in either order, so the list says which is which) */
    const char *text = content_of(choice);
    const char *one = strstr(text, "`/comfy` \"b one\"");
    const char *two = strstr(text, "`/comfy` \"b two\"");
    assert_true(one && two);
    unsigned one_at = one < two ? 0 : 1;
    assert_non_null(strstr(text, one_at == 0 ? "1. `/comfy` \"b one\"" : "2. `/comfy` \"b one\""));
    char ids[4][101];
    assert_int_equal(ids_with(choice, "fb:cancel:", ids, 4), 2);
    uint64_t p = press(ids[one_at], USER_B, 0); /* "b one", pending in ComfyUI: deleted there */
    cJSON_Delete(choice);
    expect_asker(p, "was cancelled");
    wait_comfy(5, 2, 1);
    cJSON_Delete(original_with(j1, "Cancelled."));
    fake_comfy_set_paused(W.comfy, false);
    cJSON_Delete(original_with(j2, "fb:regen:")); /* the other one is untouched */
}

static void analytics_rows(void **state)
{
    (void)state;
    sqlite3 *db;
    assert_int_equal(sqlite3_open_v2(W.db, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    sqlite3_busy_timeout(db, 2000);
    int waiting = 0, running = 0, by_admin = 0;
    uint64_t until = e2e_ms() + WAIT_MS;
    while (e2e_ms() < until && waiting + running < 4) {
        sqlite3_stmt *st;
        waiting = running = by_admin = 0;
        if (sqlite3_prepare_v2(db,
                               "SELECT details FROM user_activity WHERE action_type = "
                               "'job_cancelled'",
                               -1, &st, NULL) == SQLITE_OK) {
            while (sqlite3_step(st) == SQLITE_ROW) {
                const char *d = (const char *)sqlite3_column_text(st, 0);
                if (strstr(d, "\"stage\":\"waiting\"")) waiting++;
                if (strstr(d, "\"stage\":\"running\"")) running++;
                char by[64];
                snprintf(by, sizeof by, "\"by\":\"%" PRIu64 "\"", (uint64_t)ADMIN);
                if (strstr(d, by)) by_admin++;
            }
        }
        sqlite3_finalize(st);
        if (waiting + running < 4) usleep(50000);
    }
    /* waiting (in the bot's line): A's second; running (a worker had it): A's first and B's
     * first (pending in ComfyUI, deleted there) and C's (interrupted) */
    assert_int_equal(waiting, 1);
    assert_int_equal(running, 3);
    assert_int_equal(by_admin, 1);
    sqlite3_close(db);
}

/* A manager's (or anyone's) command with options; the parsed callback. */
static cJSON *command_as(const char *name, const char *opts, uint64_t user, uint64_t perms,
                         uint64_t *id)
{
    fake_discord_member m = member(user, perms);
    fake_discord_ix ix;
    assert_int_equal(fake_discord_inject_command(W.fd, name, opts, NULL, 0, &m, &ix), 0);
    if (id) *id = ix.id;
    return answer_of(ix.id);
}

static const char *const clear_opts = "[{\"name\":\"clear\",\"type\":1}]";

static void queue_clear(void **state)
{
    (void)state;
    fake_comfy_set_paused(W.comfy, true);
    unsigned before;
    {
        fake_comfy_stats st;
        fake_comfy_get_stats(W.comfy, &st);
        before = st.prompts_accepted;
    }
    /* two fillers take the runners; three jobs wait in the bot's line */
    uint64_t f1 = generate_as(USER_F, "filler one");
    uint64_t f2 = generate_as(USER_F, "filler two");
    wait_comfy(before + 2, 0, 0);
    uint64_t w[3] = {generate_as(USER_A, "wait a"), generate_as(USER_B, "wait b"),
                     generate_as(USER_A, "wait a2")};
    for (int i = 0; i < 3; i++)
        cJSON_Delete(original_with(w[i], "fb:cancel:"));
    /* not for plain users */
    cJSON *a = command_as("queue", clear_opts, USER_B, 0, NULL);
    assert_int_equal(e2e_app_cb_type(a), 4);
    assert_true(json_has(a, "administrators"));
    cJSON_Delete(a);
    uint64_t id;
    a = command_as("queue", clear_opts, ADMIN, PERM_ADMINISTRATOR, &id);
    assert_int_equal(e2e_app_cb_type(a), 5);
    assert_int_equal(e2e_app_cb_flags(a), 64);
    cJSON_Delete(a);
    cJSON *ans = original_with(id, "Cancelled 3 waiting jobs");
    cJSON_Delete(ans);
    char want[80];
    snprintf(want, sizeof want, "\xf0\x9f\x9a\xab Cancelled by <@%" PRIu64 ">.", (uint64_t)ADMIN);
    for (int i = 0; i < 3; i++) {
        cJSON *msg = original_with(w[i], "Cancelled by");
        assert_string_equal(content_of(msg), want);
        cJSON_Delete(msg);
    }
    /* the running ones go on to their results; nothing else reached ComfyUI */
    fake_comfy_set_paused(W.comfy, false);
    cJSON_Delete(original_with(f1, "fb:regen:"));
    cJSON_Delete(original_with(f2, "fb:regen:"));
    fake_comfy_stats st;
    fake_comfy_get_stats(W.comfy, &st);
    assert_int_equal(st.prompts_accepted, before + 2);
    /* an empty line: says so */
    a = command_as("queue", clear_opts, ADMIN, PERM_ADMINISTRATOR, &id);
    cJSON_Delete(a);
    cJSON_Delete(original_with(id, "nothing was cancelled"));
}

/* The users of the accepted prompts from index `from` on, identified by their prompt text
 * ("<tag>..."), once `n` more were accepted. */
static void accepted_tags(unsigned from, unsigned n, char tags[][8])
{
    wait_comfy(from + n, 0, 0);
    for (unsigned i = 0; i < n; i++) {
        char *g = fake_comfy_prompt_json(W.comfy, from + i);
        assert_non_null(g);
        const char *p = strstr(g, "job-");
        assert_non_null(p);
        unsigned k = 0;
        for (p += 4; k < 7 && ((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9')); p++)
            tags[i][k++] = *p;
        tags[i][k] = '\0';
        free(g);
    }
}

static unsigned accepted_now(void)
{
    fake_comfy_stats st;
    fake_comfy_get_stats(W.comfy, &st);
    return st.prompts_accepted;
}

static void priorities_three_users(void **state)
{
    (void)state;
    fake_comfy_set_steps(W.comfy, 5); /* short jobs: only the order matters here */
    /* one user's burst: D sends four, then E and G one each */
    fake_comfy_set_paused(W.comfy, true);
    unsigned base = accepted_now();
    uint64_t d1 = generate_as(USER_D, "job-d1");
    uint64_t d2 = generate_as(USER_D, "job-d2");
    wait_comfy(base + 2, 0, 0); /* both runners have one of D's */
    /* each job is in the line (its message shows its place) before the next one is sent: two
     * interactions sent back to back may reach the runner in either order (two router threads,
     * each one's defer answered in its own time), and a user's jobs go in arrival order */
    uint64_t d3 = generate_as(USER_D, "job-d3");
    cJSON_Delete(shown_with(d3, "position 1"));
    uint64_t d4 = generate_as(USER_D, "job-d4");
    cJSON_Delete(shown_with(d4, "position 2"));
    uint64_t e1 = generate_as(USER_E, "job-e1");
    /* E's one job goes before D's two waiting ones: its message says so, and theirs move back */
    cJSON_Delete(shown_with(e1, "position 1"));
    cJSON_Delete(shown_with(d3, "position 2"));
    cJSON_Delete(shown_with(d4, "position 3"));
    uint64_t g1 = generate_as(USER_G, "job-g1");
    cJSON_Delete(shown_with(g1, "position 2"));
    cJSON_Delete(shown_with(e1, "position 1")); /* still first */
    cJSON_Delete(shown_with(d3, "position 3"));
    cJSON_Delete(shown_with(d4, "position 4"));
    fake_comfy_set_paused(W.comfy, false);
    char tags[6][8];
    accepted_tags(base, 6, tags);
    const char *want1[6] = {"d1", "d2", "e1", "g1", "d3", "d4"};
    for (int i = 0; i < 2; i++) /* the two runners took D's first two, in either order */
        assert_true(strcmp(tags[i], "d1") == 0 || strcmp(tags[i], "d2") == 0);
    for (int i = 2; i < 6; i++)
        assert_string_equal(tags[i], want1[i]);
    uint64_t all1[6] = {d1, d2, d3, d4, e1, g1};
    for (int i = 0; i < 6; i++)
        cJSON_Delete(original_with(all1[i], "fb:regen:"));

    /* levels: G high, E normal, D low (set by a manager; a plain user cannot) */
    char opts[200];
    snprintf(opts, sizeof opts,
             "[{\"name\":\"user\",\"type\":6,\"value\":\"%" PRIu64 "\"},"
             "{\"name\":\"level\",\"type\":3,\"value\":\"high\"}]",
             (uint64_t)USER_G);
    cJSON *a = command_as("priority", opts, USER_E, 0, NULL);
    assert_true(json_has(a, "administrators"));
    cJSON_Delete(a);
    a = command_as("priority", opts, ADMIN, PERM_ADMINISTRATOR, NULL);
    assert_true(json_has(a, "is now **high**"));
    cJSON_Delete(a);
    snprintf(opts, sizeof opts,
             "[{\"name\":\"user\",\"type\":6,\"value\":\"%" PRIu64 "\"},"
             "{\"name\":\"level\",\"type\":3,\"value\":\"low\"}]",
             (uint64_t)USER_D);
    a = command_as("priority", opts, ADMIN, PERM_ADMINISTRATOR, NULL);
    assert_true(json_has(a, "is now **low**"));
    cJSON_Delete(a);
    snprintf(opts, sizeof opts, "[{\"name\":\"user\",\"type\":6,\"value\":\"%" PRIu64 "\"}]",
             (uint64_t)USER_D);
    a = command_as("priority", opts, ADMIN, PERM_ADMINISTRATOR, NULL);
    assert_true(json_has(a, "priority is **low**"));
    cJSON_Delete(a);

    /* fillers take the runners; then low, low, normal, high arrive in that order */
    fake_comfy_set_paused(W.comfy, true);
    base = accepted_now();
    uint64_t f1 = generate_as(USER_F, "job-f1");
    uint64_t f2 = generate_as(USER_F, "job-f2");
    wait_comfy(base + 2, 0, 0);
    uint64_t d5 = generate_as(USER_D, "job-d5");
    cJSON_Delete(shown_with(d5, "position 1"));
    uint64_t d6 = generate_as(USER_D, "job-d6");
    cJSON_Delete(shown_with(d6, "position 2"));
    uint64_t e2 = generate_as(USER_E, "job-e2");
    cJSON_Delete(shown_with(e2, "position 1"));
    cJSON_Delete(shown_with(d5, "position 2"));
    cJSON_Delete(shown_with(d6, "position 3"));
    uint64_t g2 = generate_as(USER_G, "job-g2");
    cJSON_Delete(shown_with(g2, "position 1"));
    cJSON_Delete(shown_with(e2, "position 2"));
    cJSON_Delete(shown_with(d5, "position 3"));
    cJSON_Delete(shown_with(d6, "position 4"));
    fake_comfy_set_paused(W.comfy, false);
    accepted_tags(base, 6, tags);
    const char *want2[6] = {"f", "f", "g2", "e2", "d5", "d6"};
    for (int i = 0; i < 2; i++)
        assert_true(tags[i][0] == 'f');
    for (int i = 2; i < 6; i++)
        assert_string_equal(tags[i], want2[i]);
    uint64_t all2[6] = {f1, f2, d5, d6, e2, g2};
    for (int i = 0; i < 6; i++)
        cJSON_Delete(original_with(all2[i], "fb:regen:"));
    fake_comfy_set_steps(W.comfy, 40);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(cancel_waiting_with_button),
        cmocka_unit_test(cancel_pending_with_command),
        cmocka_unit_test(cancel_running_by_manager),
        cmocka_unit_test(cancel_choice),
        cmocka_unit_test(analytics_rows),
        cmocka_unit_test(queue_clear),
        cmocka_unit_test(priorities_three_users),
    };
    return cmocka_run_group_tests(tests, setup, e2e_app_teardown);
}
