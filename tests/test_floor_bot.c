/* The peers benchmark's floor bot (bench/peers/floor_bot.c, the binary in FLUXBOT_FLOOR_BOT)
 * against the fake Discord: it registers /stats, answers every injected /stats exactly once
 * with an ephemeral deferral and one embed edit of @original (the shape of fluxbot's), keeps
 * heartbeating at the interval HELLO asks; and where it cannot go on (an answer cut short, a
 * zombie gateway) it exits with status 1 and says why, rather than hang or count a miss as an
 * answer, which would make the benchmark's floor a lie. */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include <cjson/cJSON.h>

#include "e2e_proc.h"
#include "fakes/fake_discord.h"

#define TOKEN "floor-token.fake"
#define N_IX 60

typedef struct world {
    char dir[64], log[128];
    fake_discord *fd;
    e2e_child child;
} world;

static char *read_log(const world *w)
{
    FILE *f = fopen(w->log, "r");
    if (!f) return strdup("");
    char *buf = calloc(1, 65536);
    size_t n = fread(buf, 1, 65535, f);
    buf[n] = '\0';
    fclose(f);
    return buf;
}

static bool registered(fake_discord *fd)
{
    char *cmds = fake_rest_commands_json(fake_discord_rest(fd), 0);
    bool ok = cmds && strstr(cmds, "\"stats\"") != NULL;
    free(cmds);
    return ok;
}

/* The fake (heartbeats every hb_ms) and the floor bot, once it has registered /stats. */
static void start(world *w, uint32_t hb_ms)
{
    memset(w, 0, sizeof *w);
    snprintf(w->dir, sizeof w->dir, "/tmp/fluxbot-floor-XXXXXX");
    assert_non_null(mkdtemp(w->dir));
    snprintf(w->log, sizeof w->log, "%s/bot.log", w->dir);
    fake_discord_options fo = {.token = TOKEN, .heartbeat_interval_ms = hb_ms};
    w->fd = fake_discord_start(&fo);
    assert_non_null(w->fd);
    const char *bin = getenv("FLUXBOT_FLOOR_BOT");
    assert_non_null(bin);
    char **env = NULL;
    e2e_env_set(&env, "DISCORD_TOKEN", TOKEN);
    e2e_env_set(&env, "DISCORD_API_BASE", fake_discord_api_base(w->fd));
    char *argv[] = {(char *)bin, NULL};
    assert_int_equal(e2e_spawn(&w->child, bin, argv, env, w->log), 0);
    e2e_env_free(env);
    bool ok = false;
    for (int i = 0; i < 600 && !ok; i++) { /* 30 s: a loaded machine under ASan */
        ok = registered(w->fd);
        if (!ok && e2e_wait(&w->child, 0) == 0) break;
        if (!ok) usleep(50000);
    }
    if (!ok) {
        char *log = read_log(w);
        fprintf(stderr, "---- floor_bot log ----\n%s----\n", log);
        free(log);
    }
    assert_true(ok);
}

static void stop(world *w)
{
    e2e_signal(&w->child, SIGTERM);
    if (e2e_wait(&w->child, 10000) != 0) e2e_kill(&w->child);
    fake_discord_stop(w->fd);
    char cmd[160];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", w->dir);
    assert_int_equal(system(cmd), 0);
}

/* Waits (up to 20 s) for the bot to exit; its log then must say `why`. */
static void expect_exit_saying(world *w, const char *why)
{
    assert_int_equal(e2e_wait(&w->child, 20000), 0);
    assert_int_equal(e2e_exit_code(&w->child), 1);
    char *log = read_log(w);
    if (!strstr(log, why)) fprintf(stderr, "---- floor_bot log ----\n%s----\n", log);
    assert_non_null(strstr(log, why));
    assert_non_null(strstr(log, "floor_bot: "));
    free(log);
}

static bool heartbeats_at_least(const fake_gateway_stats *s, void *ctx)
{
    return s->heartbeats >= *(const uint64_t *)ctx;
}

static void floor_answers_each_stats_once(void **state)
{
    (void)state;
    world w;
    start(&w, 300);
    uint64_t ids[N_IX];
    for (unsigned i = 0; i < N_IX; i++) {
        fake_discord_member who = {.user_id = 300000000000000001ull + i % 7};
        fake_discord_ix ix;
        assert_int_equal(fake_discord_inject_command(w.fd, "stats",
                                                     "[{\"name\":\"days\",\"type\":4,\"value\":7}]",
                                                     NULL, 0, &who, &ix),
                         0);
        ids[i] = ix.id;
        if (i % 10 == 9) usleep(20000); /* bursts and pauses: queued and idle connections */
    }
    for (unsigned i = 0; i < N_IX; i++) {
        fake_rest_ix_state st = {0};
        for (int t = 0; t < 800; t++) {
            free(st.original_json);
            assert_true(fake_rest_interaction_state(fake_discord_rest(w.fd), ids[i], &st));
            if (st.ack_type && st.edits >= 1) break;
            usleep(25000);
        }
        assert_int_equal(st.ack_type, 5);
        assert_int_equal(st.callbacks, 1);
        assert_int_equal(st.edits, 1);
        assert_false(st.late);
        cJSON *m = cJSON_Parse(st.original_json);
        assert_non_null(m);
        cJSON *e = cJSON_GetArrayItem(cJSON_GetObjectItem(m, "embeds"), 0);
        assert_non_null(e);
        assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(e, "fields")), 4);
        /* the deferral was ephemeral, like fluxbot's: the fake keeps its flags */
        assert_int_equal(cJSON_GetObjectItem(m, "flags")->valueint & 64, 64);
        cJSON_Delete(m);
        free(st.original_json);
    }
    /* nothing but GET /gateway/bot, the PUT, N deferrals and N edits reached Discord, every one
     * accepted */
    fake_rest_filter all = {0};
    fake_rest_request *reqs = NULL;
    size_t n = fake_rest_collect(fake_discord_rest(w.fd), &all, &reqs);
    unsigned gets = 0, puts = 0, posts = 0, patches = 0;
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(reqs[i].status / 100, 2);
        gets += !strcmp(reqs[i].method, "GET") && !strcmp(reqs[i].path, "/gateway/bot");
        puts += !strcmp(reqs[i].method, "PUT");
        posts += !strcmp(reqs[i].method, "POST");
        patches += !strcmp(reqs[i].method, "PATCH");
    }
    fake_rest_requests_free(reqs, n);
    assert_int_equal(gets, 1);
    assert_int_equal(puts, 1);
    assert_int_equal(posts, N_IX);
    assert_int_equal(patches, N_IX);
    assert_int_equal(gets + puts + posts + patches, n);
    /* heartbeats at HELLO's 300 ms, acknowledged: the bot is still there after several */
    uint64_t want = 4;
    assert_true(fake_gateway_wait(fake_discord_gateway(w.fd), heartbeats_at_least, &want, 10000));
    assert_int_equal(e2e_wait(&w.child, 0), -1);
    stop(&w);
}

static void floor_fails_loudly_on_a_cut_answer(void **state)
{
    (void)state;
    world w;
    start(&w, 41250);
    fake_rest_script(fake_discord_rest(w.fd), "PATCH", "/webhooks/", FAKE_REST_FAULT_TRUNCATE, 0,
                     1);
    fake_discord_ix ix;
    assert_int_equal(fake_discord_inject_command(w.fd, "stats", NULL, NULL, 0, NULL, &ix), 0);
    expect_exit_saying(&w, "closed inside the body");
    stop(&w);
}

static void floor_fails_loudly_on_an_error_answer(void **state)
{
    (void)state;
    world w;
    start(&w, 41250);
    fake_rest_script(fake_discord_rest(w.fd), "POST", "/interactions/", FAKE_REST_FAULT_500, 0, 1);
    fake_discord_ix ix;
    assert_int_equal(fake_discord_inject_command(w.fd, "stats", NULL, NULL, 0, NULL, &ix), 0);
    expect_exit_saying(&w, "the deferral");
    stop(&w);
}

static void floor_leaves_a_zombie_gateway(void **state)
{
    (void)state;
    world w;
    start(&w, 200);
    fake_gateway_set_ack(fake_discord_gateway(w.fd), false);
    expect_exit_saying(&w, "no heartbeat ACK");
    stop(&w);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(floor_answers_each_stats_once),
        cmocka_unit_test(floor_fails_loudly_on_a_cut_answer),
        cmocka_unit_test(floor_fails_loudly_on_an_error_answer),
        cmocka_unit_test(floor_leaves_a_zombie_gateway),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
