/*
 * Job takeover benchmark: how long after a process dies (kill -9) its jobs are followed again
 * by another process (job_keeper.h, pg_lease.h).
 *
 * Two real `fluxbot run --shard i/2` processes share a fresh database on the given PostgreSQL
 * server, the fake Discord (2 shards) and one fake ComfyUI held paused, so the prompts wait in
 * its queue. Each round: `--jobs` /comfy land on shard 1; once ComfyUI has every prompt and
 * every row says "submitted", shard 1's process is killed, and the clock starts. Measured:
 *   expired  kill → every job's lease has run out in the database (the baseline: what the
 *            lease length imposes, read from the rows with the server's clock)
 *   taken    kill → every row belongs to the survivor (gen + 1)
 *   followed kill → the survivor has asked ComfyUI about every prompt (/history), i.e. the
 *            jobs are being followed again
 * then ComfyUI runs, every result must reach its user once (checked), shard 1 is started again
 * and the next round begins. Reported: the median of each, and followed / expired (the cost of
 * the takeover beyond the lease, as a ratio against the baseline measured in the same run).
 *
 *   bench_takeover --db-url postgresql:///...  [--bin PATH] [--lease-ms 2000] [--jobs 4]
 *                  [--rounds 3] [--json]
 * The URL is the server's (a database is created there and dropped at the end); scripts/pg.sh
 * start prints one. FLUXBOT_TEST_PG_URL is used when --db-url is not given.
 * Exit status: 0 when every check passed, 1 when one failed, 2 on a usage/setup error.
 */
#include <inttypes.h>
#include <libgen.h>
#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <libpq-fe.h>
#include <libwebsockets.h>

#include "bench_util.h"
#include "e2e_proc.h"
#include "fakes/fake_comfy.h"
#include "fakes/fake_discord.h"
#include "fakes/fake_rest.h"
#include "fluxbot/log.h"

#define TOKEN "bench-token.takeover.fluxbot"
#define MAX_JOBS 32
#define MAX_ROUNDS 20

typedef struct bench {
    char bin[PATH_MAX];
    const char *server_url;
    char dbname[64];
    char url[1024];
    char dir[64];
    unsigned lease_ms, jobs, rounds;
    PGconn *db;
    fake_discord *fd;
    fake_comfy *comfy;
    e2e_child kids[2];
    unsigned user_seq;
} bench;

static double ms_since(uint64_t t0)
{
    return (double)(bench_now_ns() - t0) / 1e6;
}

static PGconn *connect_to(const char *url)
{
    const char *keys[] = {"dbname", "connect_timeout", NULL};
    const char *vals[] = {url, "10", NULL};
    PGconn *c = PQconnectdbParams(keys, vals, 1);
    if (!c || PQstatus(c) != CONNECTION_OK) {
        fprintf(stderr, "bench_takeover: cannot connect to PostgreSQL: %s",
                c ? PQerrorMessage(c) : "out of memory\n");
        PQfinish(c);
        return NULL;
    }
    return c;
}

/* A one-value query (bench-owned SQL, no parameters); -1 on error. */
static long long scalar(PGconn *c, const char *sql)
{
    PGresult *r = PQexec(c, sql);
    long long v = -1;
    if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1 && !PQgetisnull(r, 0, 0))
        v = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
    PQclear(r);
    return v;
}

static bool run_sql(PGconn *c, const char *sql)
{
    PGresult *r = PQexec(c, sql);
    bool ok = PQresultStatus(r) == PGRES_COMMAND_OK;
    if (!ok) fprintf(stderr, "bench_takeover: %s: %s", sql, PQresultErrorMessage(r));
    PQclear(r);
    return ok;
}

/* A fresh database on the server, so that no earlier row is taken over. */
static bool db_create(bench *b)
{
    PGconn *admin = connect_to(b->server_url);
    if (!admin) return false;
    snprintf(b->dbname, sizeof b->dbname, "fluxbot_takeover_%ld", (long)getpid());
    char sql[160];
    snprintf(sql, sizeof sql, "CREATE DATABASE %s", b->dbname); /* digits and letters only */
    bool ok = run_sql(admin, sql);
    PQfinish(admin);
    if (!ok) return false;
    const char *q = strchr(b->server_url, '?');
    snprintf(b->url, sizeof b->url, "postgresql:///%s%s", b->dbname, q ? q : "");
    b->db = connect_to(b->url);
    return b->db != NULL;
}

static void db_drop(bench *b)
{
    if (b->db) PQfinish(b->db);
    b->db = NULL;
    if (!b->dbname[0]) return;
    PGconn *admin = connect_to(b->server_url);
    if (!admin) return;
    char sql[160];
    snprintf(sql, sizeof sql, "DROP DATABASE IF EXISTS %s WITH (FORCE)", b->dbname);
    run_sql(admin, sql);
    PQfinish(admin);
}

static bool spawn(bench *b, int i)
{
    char db[160], out[160], log[160], shard[16], lease[16];
    snprintf(db, sizeof db, "%s/shard%d.db", b->dir, i);
    snprintf(out, sizeof out, "%s/out%d", b->dir, i);
    snprintf(log, sizeof log, "%s/shard%d.log", b->dir, i);
    snprintf(shard, sizeof shard, "%d/2", i);
    snprintf(lease, sizeof lease, "%u", b->lease_ms);
    char **env = NULL;
    e2e_env_set(&env, "DISCORD_TOKEN", TOKEN);
    e2e_env_set(&env, "DISCORD_API_BASE", fake_discord_api_base(b->fd));
    e2e_env_set(&env, "COMFYUI_URLS", fake_comfy_url(b->comfy));
    e2e_env_set(&env, "FLUXBOT_DB", db);
    e2e_env_set(&env, "FLUXBOT_DB_URL", b->url);
    e2e_env_set(&env, "FLUXBOT_OUTPUT_DIR", out);
    e2e_env_set(&env, "FLUXBOT_LOG_LEVEL", "warn");
    e2e_env_set(&env, "FLUXBOT_GATEWAY_COMPRESS", "false");
    char *argv[] = {b->bin, "run", "--shard", shard, "--job-lease-ms", lease, "--runner-threads",
                    "8",    NULL};
    int rc = e2e_spawn(&b->kids[i], b->bin, argv, env, log);
    e2e_env_free(env);
    return rc == 0;
}

static bool ready_n(const fake_gateway_stats *s, void *ctx)
{
    return s->ready_connections >= *(unsigned *)ctx;
}

/* The restarted shard 1 is READY and the killed process's connection is gone. */
typedef struct back_ctx {
    uint64_t ready_before;
} back_ctx;

static bool back(const fake_gateway_stats *s, void *ctx)
{
    const back_ctx *b = ctx;
    return s->ready_sent > b->ready_before && s->open_connections == 2 && s->ready_connections == 2;
}

static bool accepted_n(const fake_comfy_stats *s, void *arg)
{
    return s->prompts_accepted >= *(unsigned *)arg;
}

static unsigned file_edits(bench *b, uint64_t id)
{
    fake_rest_ix_state st;
    memset(&st, 0, sizeof st);
    bool known = fake_rest_interaction_state(fake_discord_rest(b->fd), id, &st);
    free(st.original_json);
    return known ? st.file_edits : 0;
}

typedef struct round_result {
    double expired_ms, taken_ms, followed_ms;
    bool ok;
} round_result;

/* Polls until cond holds (checked every 2 ms) or timeout_ms; the ms from t0 when it held, or
 * -1. */
#define POLL_UNTIL(cond, t0, timeout_ms, out)                                                      \
    do {                                                                                           \
        (out) = -1;                                                                                \
        while (ms_since(t0) < (timeout_ms)) {                                                      \
            if (cond) {                                                                            \
                (out) = ms_since(t0);                                                              \
                break;                                                                             \
            }                                                                                      \
            usleep(2000);                                                                          \
        }                                                                                          \
    } while (0)

static round_result one_round(bench *b, unsigned round)
{
    round_result res = {0};
    fake_comfy_set_paused(b->comfy, true);
    fake_comfy_stats st;
    fake_comfy_get_stats(b->comfy, &st);
    unsigned want = st.prompts_accepted + b->jobs;
    fake_discord_ix ix[MAX_JOBS];
    const char *opts = "[{\"name\":\"prompt\",\"type\":3,\"value\":\"a lighthouse at dusk\"}]";
    for (unsigned k = 0; k < b->jobs; k++) {
        /* guild g is on shard (g >> 22) % 2: odd guilds are shard 1's */
        fake_discord_member who = {.user_id = 340000000000000000ull + ++b->user_seq,
                                   .guild_id = (uint64_t)(920001 + 2 * k) << 22};
        /* (the killed process's session stays resumable on the fake, so later rounds count 2) */
        if (fake_discord_inject_command(b->fd, "comfy", opts, NULL, 0, &who, &ix[k]) != 0 ||
            ix[k].sessions < 1) {
            fprintf(stderr, "bench_takeover: round %u: interaction not delivered\n", round);
            return res;
        }
    }
    double t;
    uint64_t t0 = bench_now_ns();
    if (!fake_comfy_wait(b->comfy, accepted_n, &want, 60000)) {
        fprintf(stderr, "bench_takeover: round %u: the prompts did not reach ComfyUI\n", round);
        return res;
    }
    char sql[200];
    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM fluxbot_jobs WHERE state = 'submitted' AND takeovers = 0");
    POLL_UNTIL(scalar(b->db, sql) == (long long)b->jobs, t0, 30000, t);
    if (t < 0) {
        fprintf(stderr, "bench_takeover: round %u: the rows were not written\n", round);
        return res;
    }
    fake_comfy_get_stats(b->comfy, &st);
    unsigned history_before = st.history_gets;
    /* the process dies with its jobs in flight */
    e2e_kill(&b->kids[1]);
    t0 = bench_now_ns();
    POLL_UNTIL(scalar(b->db, "SELECT count(*) FROM fluxbot_jobs WHERE expires_ms < "
                             "(extract(epoch FROM clock_timestamp()) * 1000)::bigint OR "
                             "takeovers > 0") == (long long)b->jobs,
               t0, 60000, res.expired_ms);
    POLL_UNTIL(scalar(b->db, "SELECT count(*) FROM fluxbot_jobs WHERE takeovers > 0") ==
                   (long long)b->jobs,
               t0, 60000, res.taken_ms);
    POLL_UNTIL((fake_comfy_get_stats(b->comfy, &st), st.history_gets >= history_before + b->jobs),
               t0, 60000, res.followed_ms);
    fake_comfy_set_paused(b->comfy, false);
    /* every result reaches its user, once */
    bool all = false;
    uint64_t td = bench_now_ns();
    while (!all && ms_since(td) < 120000) {
        all = true;
        for (unsigned k = 0; k < b->jobs; k++)
            if (file_edits(b, ix[k].id) < 1) all = false;
        if (!all) usleep(20000);
    }
    usleep(500000);
    bool once = all;
    for (unsigned k = 0; k < b->jobs; k++)
        if (file_edits(b, ix[k].id) != 1) once = false;
    res.ok = once && res.expired_ms >= 0 && res.taken_ms >= 0 && res.followed_ms >= 0;
    if (!res.ok)
        fprintf(stderr, "bench_takeover: round %u: %s\n", round,
                !all ? "a result never reached its user" : "a result was delivered twice");
    /* shard 1 back for the next round */
    fake_gateway_stats gs;
    fake_gateway_get_stats(fake_discord_gateway(b->fd), &gs);
    back_ctx bc = {.ready_before = gs.ready_sent};
    if (!spawn(b, 1) || !fake_gateway_wait(fake_discord_gateway(b->fd), back, &bc, 90000)) {
        fprintf(stderr, "bench_takeover: shard 1 did not come back\n");
        res.ok = false;
    }
    return res;
}

int main(int argc, char **argv)
{
    bench b;
    memset(&b, 0, sizeof b);
    b.lease_ms = 2000;
    b.jobs = 4;
    b.rounds = 3;
    bool json = false;
    const char *bin = NULL, *url = NULL;
    bench_arg args[] = {{"--bin", BENCH_TEXT, &bin},
                        {"--db-url", BENCH_TEXT, &url},
                        {"--lease-ms", BENCH_UNSIGNED, &b.lease_ms},
                        {"--jobs", BENCH_UNSIGNED, &b.jobs},
                        {"--rounds", BENCH_UNSIGNED, &b.rounds},
                        {"--json", BENCH_FLAG, &json}};
    const char *usage = "--db-url URL [--bin PATH] [--lease-ms N] [--jobs N] [--rounds N] [--json]";
    if (!bench_args(argc, argv, args, sizeof args / sizeof args[0], usage)) return 2;
    if (!url) url = getenv("FLUXBOT_TEST_PG_URL");
    if (!url || !*url || b.jobs < 1 || b.jobs > MAX_JOBS || b.rounds < 1 || b.rounds > MAX_ROUNDS ||
        b.lease_ms < 1000) {
        fprintf(stderr, "usage: %s %s\n", argv[0], usage);
        return 2;
    }
    b.server_url = url;
    if (bin) {
        snprintf(b.bin, sizeof b.bin, "%s", bin);
    } else {
        char self[PATH_MAX];
        ssize_t sl = readlink("/proc/self/exe", self, sizeof self - 1);
        self[sl > 0 ? sl : 0] = '\0';
        snprintf(b.bin, sizeof b.bin, "%s/fluxbot", dirname(self));
    }
    if (access(b.bin, X_OK) != 0) {
        fprintf(stderr, "bench_takeover: no fluxbot binary at %s (give --bin PATH)\n", b.bin);
        return 2;
    }
    log_configure(LOG_LEVEL_ERROR, false, 2);
    lws_set_log_level(LLL_ERR, NULL);
    signal(SIGPIPE, SIG_IGN);
    snprintf(b.dir, sizeof b.dir, "/tmp/fluxbot-takeover-XXXXXX");
    if (!mkdtemp(b.dir) || !db_create(&b)) return 2;
    fake_discord_options fo = {.token = TOKEN, .shards = 2, .max_concurrency = 2};
    b.fd = fake_discord_start(&fo);
    fake_comfy_opts co = {.steps = 2, .step_delay_ms = 100, .png_width = 16, .png_height = 16};
    b.comfy = fake_comfy_start(&co);
    unsigned ready = 2;
    int status = 2;
    if (!b.fd || !b.comfy || !spawn(&b, 0) || !spawn(&b, 1) ||
        !fake_gateway_wait(fake_discord_gateway(b.fd), ready_n, &ready, 90000)) {
        fprintf(stderr, "bench_takeover: setup failed\n");
        goto out;
    }
    double expired[MAX_ROUNDS], taken[MAX_ROUNDS], followed[MAX_ROUNDS], ratio[MAX_ROUNDS];
    status = 0;
    for (unsigned r = 0; r < b.rounds; r++) {
        round_result rr = one_round(&b, r + 1);
        if (!rr.ok) {
            status = 1;
            break;
        }
        expired[r] = rr.expired_ms;
        taken[r] = rr.taken_ms;
        followed[r] = rr.followed_ms;
        ratio[r] = rr.expired_ms > 0 ? rr.followed_ms / rr.expired_ms : 0;
        if (!json)
            printf("round %u: lease expired %.0f ms, taken over %.0f ms, followed again %.0f ms "
                   "after the kill\n",
                   r + 1, rr.expired_ms, rr.taken_ms, rr.followed_ms);
    }
    if (status == 0) {
        double me = bench_median(expired, b.rounds), mt = bench_median(taken, b.rounds),
               mf = bench_median(followed, b.rounds), mr = bench_median(ratio, b.rounds);
        if (json)
            printf("{\"lease_ms\":%u,\"jobs\":%u,\"rounds\":%u,\"expired_ms\":%.1f,"
                   "\"taken_ms\":%.1f,\"followed_ms\":%.1f,\"followed_over_expired\":%.3f}\n",
                   b.lease_ms, b.jobs, b.rounds, me, mt, mf, mr);
        else
            printf("job_lease_ms %u, %u jobs in flight, median of %u rounds: kill -> lease "
                   "expired %.0f ms (baseline), -> taken over %.0f ms, -> followed again %.0f ms "
                   "(%.2fx the baseline); every result delivered once\n",
                   b.lease_ms, b.jobs, b.rounds, me, mt, mf, mr);
    }
out:
    for (int i = 0; i < 2; i++) {
        if (!b.kids[i].pid || b.kids[i].exited) continue;
        e2e_signal(&b.kids[i], SIGTERM);
        if (e2e_wait(&b.kids[i], 30000) != 0) e2e_kill(&b.kids[i]);
    }
    fake_comfy_stop(b.comfy);
    fake_discord_stop(b.fd);
    db_drop(&b);
    char rm[128];
    snprintf(rm, sizeof rm, "rm -rf %s", b.dir);
    if (system(rm) != 0) fprintf(stderr, "could not remove %s\n", b.dir);
    return status;
}
