/* Three shard processes (`run --shard i/3`) sharing the test script's PostgreSQL, driven through
 * the fake Discord serving guilds on all three shards and the fake ComfyUI:
 *  - /stats from every shard is the same and counts every shard's events, each exactly once;
 *  - /reset_stats confirmed in one shard while the others keep generating clears every
 *    process's statistics, and what is left is whole batches written after it (the rollups
 *    still match the rows);
 *  - a ban made in one shard refuses the user in another (moderation refreshed from the
 *    database).
 * The processes are real: the bot binary, real sockets, real libpq. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "analytics/an_engine.h"
#include "analytics/an_view.h"
#include "e2e_proc.h"
#include "fakes/fake_comfy.h"
#include "fakes/fake_discord.h"
#include "fakes/fake_rest.h"
#include "test_an_stats_eq.h"
#include "tpg.h"

#define TOKEN "pgs-token.fluxbot"
#define USER_BASE 332000000000000100ull
#define ADMIN USER_BASE
#define LOAD_BASE 332000000000000200ull
#define BANNED 332000000000000300ull

static void sleep_ms(unsigned ms)
{
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

typedef struct world {
    tpg t;
    fake_discord *fd;
    fake_comfy *comfy;
    e2e_child kids[3];
    char dir[64];
    uint64_t guild[3]; /* guild[k] is on shard k: (g >> 22) % 3 */
    bool skip;         /* no server and not under CI (tpg.h) */
} world;

static world W;

static bool all_ready(const fake_gateway_stats *s, void *ctx)
{
    (void)ctx;
    return s->ready_connections >= 3;
}

static void show_logs(void)
{
    for (int i = 0; i < 3; i++) {
        char cmd[300];
        snprintf(cmd, sizeof cmd, "tail -n 40 %s/shard%d.log", W.dir, i);
        if (system(cmd) != 0) fprintf(stderr, "(no log %d)\n", i);
    }
}

static int setup(void **state)
{
    (void)state;
    memset(&W, 0, sizeof W);
    if (!getenv("FLUXBOT_TEST_PG_URL") && !getenv("CI")) {
        W.skip = true; /* each test then skips, as tpg_open does */
        return 0;
    }
    tpg_open(&W.t);
    const char *bin = getenv("FLUXBOT_BIN");
    assert_non_null(bin);
    snprintf(W.dir, sizeof W.dir, "/tmp/fluxbot-pgs-XXXXXX");
    assert_non_null(mkdtemp(W.dir));
    char supp[128];
    snprintf(supp, sizeof supp, "%s/lsan.supp", W.dir);
    FILE *f = fopen(supp, "w");
    assert_non_null(f);
    /* Empty: a child that is an ASan build must exit without any leak report (no TLS client
     * context but the gateway's, the chart's font caches released at exit). */
    fclose(f);
    fake_discord_options fo = {.token = TOKEN, .shards = 3, .max_concurrency = 3};
    W.fd = fake_discord_start(&fo);
    assert_non_null(W.fd);
    fake_comfy_opts co = {.steps = 1, .step_delay_ms = 50, .png_width = 16, .png_height = 16};
    W.comfy = fake_comfy_start(&co);
    assert_non_null(W.comfy);
    for (int i = 0; i < 3; i++)
        tpg_spawn_shard(&W.kids[i], bin, W.dir, i, 3, TOKEN, fake_discord_api_base(W.fd),
                        fake_comfy_url(W.comfy), W.t.url, supp, "info",
                        (const char *const[]){"--user-max-concurrent-jobs", "50", NULL});
    for (int k = 0; k < 3; k++)
        W.guild[k] = (uint64_t)(910000 + k) << 22;
    if (!fake_gateway_wait(fake_discord_gateway(W.fd), all_ready, NULL, 90000)) {
        show_logs();
        fail_msg("the three shard processes did not all become ready");
    }
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    if (W.skip) return 0;
    for (int i = 0; i < 3; i++) {
        e2e_signal(&W.kids[i], SIGTERM);
        if (e2e_wait(&W.kids[i], 40000) != 0) e2e_kill(&W.kids[i]);
    }
    fake_comfy_stop(W.comfy);
    fake_discord_stop(W.fd);
    char rm[128];
    snprintf(rm, sizeof rm, "rm -rf %s", W.dir);
    if (system(rm) != 0) fprintf(stderr, "could not remove %s\n", W.dir);
    tpg_close(&W.t);
    return 0;
}

static long long db_count(const char *sql)
{
    return tpg_scalar(W.t.conn, sql, 0, NULL);
}

/* Waits until sql counts want (the writers commit on their own schedule); false on timeout. */
static bool wait_count(const char *sql, long long want, unsigned timeout_ms)
{
    for (uint64_t until = now_ms() + timeout_ms; now_ms() < until; sleep_ms(50))
        if (db_count(sql) == want) return true;
    fprintf(stderr, "%s: %lld, expected %lld\n", sql, db_count(sql), want);
    return false;
}

static fake_discord_member member(uint64_t user, int shard)
{
    return (fake_discord_member){
        .user_id = user, .username = "someone", .guild_id = W.guild[shard]};
}

static fake_discord_member admin(int shard)
{
    fake_discord_member m = member(ADMIN, shard); /* one of the generating users too */
    m.permissions = 8;                            /* ADMINISTRATOR */
    m.has_permissions = true;
    return m;
}

static uint64_t comfy(uint64_t user, int shard, const char *prompt)
{
    char opts[256];
    snprintf(opts, sizeof opts, "[{\"name\":\"prompt\",\"type\":3,\"value\":\"%s\"}]", prompt);
    fake_discord_member m = member(user, shard);
    fake_discord_ix ix = {0};
    assert_int_equal(fake_discord_inject_command(W.fd, "comfy", opts, NULL, 0, &m, &ix), 0);
    return ix.id;
}

/* The interaction's first callback (type, content); 0 when none came in time. */
static int callback(uint64_t id, char *content, size_t cap, char *custom_id, size_t idcap)
{
    char prefix[64];
    snprintf(prefix, sizeof prefix, "/interactions/%" PRIu64 "/", id);
    fake_rest_filter f = {.method = "POST", .path_prefix = prefix};
    if (fake_rest_wait(fake_discord_rest(W.fd), &f, 1, 15000) < 1) return 0;
    fake_rest_request *rq;
    size_t n = fake_rest_collect(fake_discord_rest(W.fd), &f, &rq);
    cJSON *o = n ? cJSON_Parse((const char *)rq[0].body) : NULL;
    fake_rest_requests_free(rq, n);
    if (!o) return 0;
    int type = cJSON_GetObjectItem(o, "type")->valueint;
    const cJSON *d = cJSON_GetObjectItem(o, "data");
    const cJSON *c = cJSON_GetObjectItem(d, "content");
    if (content) snprintf(content, cap, "%s", cJSON_IsString(c) ? c->valuestring : "");
    if (custom_id) {
        cJSON *rows = cJSON_GetObjectItem(d, "components");
        cJSON *btn =
            cJSON_GetArrayItem(cJSON_GetObjectItem(cJSON_GetArrayItem(rows, 0), "components"), 0);
        cJSON *cid = cJSON_GetObjectItem(btn, "custom_id");
        snprintf(custom_id, idcap, "%s", cJSON_IsString(cid) ? cid->valuestring : "");
    }
    cJSON_Delete(o);
    return type;
}

/* The interaction's @original once edited n times (malloc'd), NULL on timeout. */
static char *edited(uint64_t id, unsigned n, unsigned timeout_ms)
{
    for (uint64_t until = now_ms() + timeout_ms; now_ms() < until; sleep_ms(50)) {
        fake_rest_ix_state st;
        memset(&st, 0, sizeof st);
        if (fake_rest_interaction_state(fake_discord_rest(W.fd), id, &st) && st.edits >= n &&
            st.original_json)
            return st.original_json;
        free(st.original_json);
    }
    return NULL;
}

/* The number after label in a /stats answer ("Total Images: 18"), -1 when absent. */
static long long number_after(const char *msg, const char *label)
{
    const char *p = msg ? strstr(msg, label) : NULL;
    return p ? strtoll(p + strlen(label), NULL, 10) : -1;
}

/* /stats from a shard (the admin in that shard's guild): the edited answer (malloc'd). */
static char *stats_from(int shard)
{
    fake_discord_member m = admin(shard);
    fake_discord_ix ix = {0};
    assert_int_equal(fake_discord_inject_command(W.fd, "stats",
                                                 "[{\"name\":\"days\",\"type\":4,\"value\":1}]",
                                                 NULL, 0, &m, &ix),
                     0);
    char *msg = edited(ix.id, 1, 15000);
    assert_non_null(msg);
    return msg;
}

#define IMAGES_OK "SELECT COUNT(*) FROM image_stats WHERE success = 1"
#define COMMANDS "SELECT COUNT(*) FROM command_usage WHERE kind = 'command'"

static void test_stats_identical_from_every_shard(void **state)
{
    (void)state;
    if (W.skip) skip();
    /* Steady load: 18 generations spread over the three shards and six users. */
    for (int k = 0; k < 18; k++)
        comfy(USER_BASE + (uint64_t)(k % 6), k % 3, "a red fox");
    if (!wait_count(IMAGES_OK, 18, 60000)) show_logs();
    assert_int_equal(db_count(IMAGES_OK), 18);
    assert_true(wait_count(COMMANDS, 18, 10000)); /* each interaction recorded exactly once */
    long long users = -1;
    for (int s = 0; s < 3; s++) {
        char *msg = stats_from(s);
        /* Every shard's generations, from any shard. */
        assert_int_equal(number_after(msg, "Total Images: "), 18);
        /* Commands: the 18 /comfy, the earlier /stats, and this one if its row was already
         * committed when the query ran. */
        long long cmds = number_after(msg, "Total Commands: ");
        assert_true(cmds == 18 + s || cmds == 18 + s + 1);
        long long u = number_after(msg, "Total Users: ");
        if (users < 0) users = u;
        assert_int_equal(u, users);
        free(msg);
        assert_true(wait_count(COMMANDS, 18 + s + 1, 10000));
    }
    assert_int_equal(users, 6); /* six users (the admin among them) */
}

typedef struct loader {
    atomic_bool stop;
    uint64_t ids[64];
    int n;
} loader;

/* Shards 1 and 2 keep generating while shard 0 resets. */
static void *load(void *arg)
{
    loader *l = arg;
    while (!atomic_load(&l->stop) && l->n < 64) {
        l->ids[l->n] = comfy(LOAD_BASE + (uint64_t)(l->n % 4), 1 + l->n % 2, "a blue bird");
        l->n++;
        sleep_ms(60);
    }
    return NULL;
}

static void test_reset_from_one_shard_while_others_write(void **state)
{
    (void)state;
    if (W.skip) skip();
    long long before = db_count(IMAGES_OK);
    for (int k = 0; k < 9; k++)
        comfy(USER_BASE + (uint64_t)k, k % 3, "a green frog");
    assert_true(wait_count(IMAGES_OK, before + 9, 60000));
    loader l = {.n = 0};
    atomic_init(&l.stop, false);
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, load, &l), 0);
    sleep_ms(400);
    /* The admin asks on shard 0 and confirms there. */
    fake_discord_member m = admin(0);
    fake_discord_ix ix = {0};
    assert_int_equal(fake_discord_inject_command(W.fd, "reset_stats", NULL, NULL, 0, &m, &ix), 0);
    char confirm[256] = "";
    assert_int_equal(callback(ix.id, NULL, 0, confirm, sizeof confirm), 4);
    assert_true(confirm[0]);
    assert_int_equal(fake_discord_inject_component(W.fd, confirm, 2, NULL, 0, &m, &ix), 0);
    char *done = edited(ix.id, 1, 20000);
    assert_non_null(done);
    assert_non_null(strstr(done, "rows deleted"));
    free(done);
    sleep_ms(400);
    atomic_store(&l.stop, true);
    pthread_join(th, NULL);
    assert_true(l.n >= 4);
    /* Every generation of the load finishes (delivered) and is committed. */
    for (int i = 0; i < l.n; i++) {
        char *msg = edited(l.ids[i], 2, 60000);
        assert_non_null(msg);
        free(msg);
    }
    sleep_ms(1500); /* past every writer's flush interval */
    /* Nothing committed before the reset survives: the 9 generations are gone, whatever
     * process wrote them; the load's rows are each wholly before (deleted) or after (kept). */
    assert_int_equal(
        db_count("SELECT COUNT(*) FROM image_stats WHERE user_id < 332000000000000200"), 0);
    long long kept = db_count(IMAGES_OK);
    print_message("reset during load: %d generations injected, %lld counted after the reset\n", l.n,
                  kept);
    assert_true(kept >= 0 && kept <= l.n);
    /* The rollups equal the rows: the rollup path and the raw rows give one answer, and the
     * totals match the raw count. */
    assert_int_equal(db_count("SELECT COALESCE(SUM(total_images), 0) FROM daily_stats"), kept);
    assert_int_equal(db_count("SELECT COALESCE(SUM(total_images), 0) FROM hourly_stats"), kept);
    char err[512];
    an_view *v = an_view_open(W.t.url, err, sizeof err);
    assert_non_null(v);
    int64_t wall = (int64_t)time(NULL) * 1000;
    for (int days = 1; days <= 7; days += 6) {
        an_stats a, b;
        assert_int_equal(an_view_stats(v, days, wall + 60000, &a, err, sizeof err), 0);
        assert_int_equal(an_view_stats_raw(v, days, wall + 60000, &b, err, sizeof err), 0);
        assert_stats_equal(&a, &b);
        assert_int_equal(a.total_images, kept);
    }
    an_view_close(v);
    /* And every shard says so. */
    for (int s = 0; s < 3; s++) {
        char *msg = stats_from(s);
        assert_int_equal(number_after(msg, "Total Images: "), kept);
        free(msg);
    }
}

static void test_ban_in_one_shard_holds_in_another(void **state)
{
    (void)state;
    if (W.skip) skip();
    fake_discord_member m = admin(0);
    fake_discord_ix ix = {0};
    char opts[256];
    snprintf(opts, sizeof opts,
             "[{\"type\":6,\"name\":\"user\",\"value\":\"%llu\"},"
             "{\"type\":3,\"name\":\"reason\",\"value\":\"spam\"}]",
             (unsigned long long)BANNED);
    assert_int_equal(fake_discord_inject_command(W.fd, "ban", opts, NULL, 0, &m, &ix), 0);
    char out[2048];
    assert_int_equal(callback(ix.id, out, sizeof out, NULL, 0), 4);
    assert_non_null(strstr(out, "banned"));
    /* On shard 2 the user is refused once that process refreshed (documented bound: the
     * writer's flush + the 5 s refresh period); waited for generously. */
    bool refused = false;
    for (uint64_t until = now_ms() + 40000; !refused && now_ms() < until;) {
        uint64_t id = comfy(BANNED, 2, "a cat");
        int type = callback(id, out, sizeof out, NULL, 0);
        refused = type == 4 && strstr(out, "banned from using this bot");
        if (!refused) sleep_ms(500);
    }
    assert_true(refused);
    assert_int_equal(db_count("SELECT COUNT(*) FROM mod_bans WHERE active = 1"), 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_stats_identical_from_every_shard),
        cmocka_unit_test(test_reset_from_one_shard_while_others_write),
        cmocka_unit_test(test_ban_in_one_shard_holds_in_another),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
