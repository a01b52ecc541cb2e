/*
 * Analytics ingest into PostgreSQL, every figure against a baseline measured in the same run on
 * the same server:
 *
 *  copy      the baseline: the same events as rows of the three raw tables (command_usage,
 *            image_stats, user_activity), streamed with one COPY per table per batch of 512,
 *            one transaction per batch, no rollups: the least a batched writer can do;
 *  engine    the PostgreSQL store (pg_anstore_write) from one thread, batches of 512: staging
 *            COPY, outcomes, raw rows and every day/hour rollup in the same transaction;
 *  writer    the analytics_writer actor (db_path = the URL) fed by an_record_* from one
 *            producer thread, timed from the first record to the flush reply.
 *
 * Ratios are events/s over the copy baseline's (the goal: writer >= 0.8x).
 *
 *   bench_pg_ingest --db postgresql://... [--events N] [--rounds N] [--batch N] [--json]
 *                   [--only copy|engine|writer]   (one measure alone, e.g. under perf)
 *
 * The URL (or FLUXBOT_TEST_PG_URL) names a server the bench may create databases on: it makes a
 * fresh database per measurement (fluxbot_bench_<pid>_<n>) and drops it afterwards; nothing
 * else is touched. scripts/pg.sh start gives a throw-away server.
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <libpq-fe.h>

#include "actors/analytics_writer.h"
#include "analytics/an_event.h"
#include "analytics/an_record.h"
#include "fluxbot/log.h"
#include "fluxbot/runtime.h"
#include "bench_events.h"
#include "msgs/an.h"
#include "pg/pg_anstore.h"

static size_t BATCH = 512;

static uint64_t g_events = 200000;
static int g_rounds = 2;
static const char *g_base;
static unsigned g_dbn;

static PGconn *connect_to(const char *url, const char *dbname)
{
    const char *keys[] = {"dbname", dbname ? "dbname" : NULL, NULL};
    const char *vals[] = {url, dbname, NULL};
    PGconn *c = PQconnectdbParams(keys, vals, 1);
    if (!c || PQstatus(c) != CONNECTION_OK) {
        fprintf(stderr, "cannot connect: %s\n", c ? PQerrorMessage(c) : "out of memory");
        exit(1);
    }
    return c;
}

static void exec_or_die(PGconn *c, const char *sql)
{
    PGresult *r = PQexec(c, sql);
    if (PQresultStatus(r) != PGRES_COMMAND_OK && PQresultStatus(r) != PGRES_TUPLES_OK) {
        fprintf(stderr, "%s: %s\n", sql, PQresultErrorMessage(r));
        exit(1);
    }
    PQclear(r);
}

/* A fresh database on the server: its name in name, its URL in url. */
static void db_fresh(char *name, size_t nn, char *url, size_t un)
{
    snprintf(name, nn, "fluxbot_bench_%ld_%u", (long)getpid(), g_dbn++);
    PGconn *admin = connect_to(g_base, NULL);
    char sql[160];
    snprintf(sql, sizeof sql, "CREATE DATABASE %s", name); /* digits and letters only */
    exec_or_die(admin, sql);
    PQfinish(admin);
    const char *q = strchr(g_base, '?');
    snprintf(url, un, "postgresql:///%s%s", name, q ? q : "");
}

static void db_drop(const char *name)
{
    PGconn *admin = connect_to(g_base, NULL);
    char sql[160];
    snprintf(sql, sizeof sql, "DROP DATABASE IF EXISTS %s WITH (FORCE)", name);
    exec_or_die(admin, sql);
    PQfinish(admin);
}

/* ---- the baseline: plain batched COPY into the raw tables ------------------------------- */

typedef struct sbuf {
    char *p;
    size_t len, cap;
} sbuf;

static void sb_put(sbuf *b, const char *fmt, ...)
{
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
        va_end(ap);
        if (n >= 0 && b->len + (size_t)n < b->cap) {
            b->len += (size_t)n;
            return;
        }
        b->cap = b->cap ? b->cap * 2 : 1 << 16;
        b->p = realloc(b->p, b->cap);
        if (!b->p) abort();
    }
}

static void copy_rows(PGconn *c, const char *sql, const sbuf *b)
{
    if (!b->len) return;
    PGresult *r = PQexec(c, sql);
    if (PQresultStatus(r) != PGRES_COPY_IN) {
        fprintf(stderr, "%s: %s\n", sql, PQresultErrorMessage(r));
        exit(1);
    }
    PQclear(r);
    if (PQputCopyData(c, b->p, (int)b->len) != 1 || PQputCopyEnd(c, NULL) != 1) exit(1);
    while ((r = PQgetResult(c)) != NULL) {
        if (PQresultStatus(r) != PGRES_COMMAND_OK) {
            fprintf(stderr, "COPY: %s\n", PQresultErrorMessage(r));
            exit(1);
        }
        PQclear(r);
    }
}

/* The events as rows (the text of the engine's columns; none of its work on top). */
static double copy_baseline(uint64_t n)
{
    char name[64], url[1024], err[512];
    db_fresh(name, sizeof name, url, sizeof url);
    pg_anstore *schema = pg_anstore_open(url, err, sizeof err); /* the same tables */
    if (!schema) {
        fprintf(stderr, "%s\n", err);
        exit(1);
    }
    pg_anstore_close(schema);
    PGconn *c = connect_to(url, NULL);
    an_event *evs = calloc(BATCH, sizeof *evs);
    sbuf cmd = {0}, img = {0}, act = {0};
    uint64_t rng = 42;
    uint64_t t0 = rt_now_ns();
    for (uint64_t done = 0; done < n;) {
        size_t k = n - done < BATCH ? (size_t)(n - done) : BATCH;
        cmd.len = img.len = act.len = 0;
        for (size_t i = 0; i < k; i++) {
            an_event *e = &evs[i];
            bench_events_make(e, &rng, done + i + 1, (int64_t)rt_wall_ms());
            if (e->kind == AN_EV_COMMAND)
                sb_put(&cmd,
                       "1\t%" PRIu64 "\t%s\t%" PRId64 "\t7\t8\t%" PRId64 "\t%u\t%d\tcommand\n",
                       e->seq, e->command, (int64_t)e->user_id, e->ts_ms, e->duration_ms,
                       e->success ? 1 : 0);
            else if (e->kind == AN_EV_IMAGE)
                sb_put(&img,
                       "1\t%" PRIu64 "\t%" PRId64
                       "\t7\t%s\t%s\t%s\t1\t%u\t%d\tstandard\t%d\t%" PRId64 "\n",
                       e->seq, (int64_t)e->user_id, e->prompt, e->resolution, e->loras,
                       e->duration_ms, e->is_video ? 1 : 0, e->success ? 1 : 0, e->ts_ms);
            else
                sb_put(&act, "1\t%" PRIu64 "\t%" PRId64 "\t7\t%s\t%" PRId64 "\t%s\n", e->seq,
                       (int64_t)e->user_id, e->action, e->ts_ms, e->details);
        }
        exec_or_die(c, "BEGIN");
        copy_rows(c,
                  "COPY command_usage(wid, seq, command_name, user_id, guild_id, channel_id,"
                  " ts_ms, execution_ms, success, kind) FROM STDIN",
                  &cmd);
        copy_rows(c,
                  "COPY image_stats(wid, seq, user_id, guild_id, prompt, resolution, loras,"
                  " upscale_factor, generation_ms, is_video, generation_type, success, ts_ms)"
                  " FROM STDIN",
                  &img);
        copy_rows(c,
                  "COPY user_activity(wid, seq, user_id, guild_id, action_type, ts_ms, details)"
                  " FROM STDIN",
                  &act);
        exec_or_die(c, "COMMIT");
        for (size_t i = 0; i < k; i++)
            an_event_clear(&evs[i]);
        done += k;
    }
    double secs = (double)(rt_now_ns() - t0) / 1e9;
    free(evs);
    free(cmd.p);
    free(img.p);
    free(act.p);
    PQfinish(c);
    db_drop(name);
    return (double)n / secs;
}

/* ---- the engine, one thread --------------------------------------------------------------- */

static double engine_run(uint64_t n)
{
    char name[64], url[1024], err[512];
    db_fresh(name, sizeof name, url, sizeof url);
    pg_anstore *s = pg_anstore_open(url, err, sizeof err);
    if (!s) {
        fprintf(stderr, "%s\n", err);
        exit(1);
    }
    an_event *evs = calloc(BATCH, sizeof *evs);
    const an_event **ptrs = calloc(BATCH, sizeof *ptrs);
    uint64_t rng = 42;
    uint64_t t0 = rt_now_ns();
    for (uint64_t done = 0; done < n;) {
        size_t k = n - done < BATCH ? (size_t)(n - done) : BATCH;
        for (size_t i = 0; i < k; i++) {
            bench_events_make(&evs[i], &rng, done + i + 1, (int64_t)rt_wall_ms());
            ptrs[i] = &evs[i];
        }
        if (pg_anstore_write(s, ptrs, k, err, sizeof err) != 0) {
            fprintf(stderr, "%s\n", err);
            exit(1);
        }
        for (size_t i = 0; i < k; i++)
            an_event_clear(&evs[i]);
        done += k;
    }
    double secs = (double)(rt_now_ns() - t0) / 1e9;
    free(evs);
    free(ptrs);
    pg_anstore_close(s);
    db_drop(name);
    return (double)n / secs;
}

/* ---- the writer actor ------------------------------------------------------------------------ */

typedef struct done_state {
    _Atomic int done;
} done_state;

static void done_on_message(rt_actor *self, void *st, rt_msg *m)
{
    (void)self;
    if (m->type == MSG_AN_FLUSH_DONE) atomic_store(&((done_state *)st)->done, 1);
    rt_msg_free(m);
}

static double writer_run(uint64_t n)
{
    char name[64], url[1024];
    db_fresh(name, sizeof name, url, sizeof url);
    rt_system *sys = rt_system_new();
    analytics_writer *w = analytics_writer_new(
        sys, &(analytics_writer_config){.db_path = url, .batch_max = (unsigned)BATCH});
    done_state ds = {0};
    rt_actor_spec spec = {.name = "done",
                          .threads = 1,
                          .lane_capacity = 16,
                          .state = &ds,
                          .ops = {.on_message = done_on_message}};
    rt_actor *done = rt_actor_new(sys, &spec);
    if (rt_system_start(sys) != 0) exit(1);
    rt_actor *wa = analytics_writer_actor(w);
    uint64_t rng = 42;
    uint64_t t0 = rt_now_ns();
    for (uint64_t i = 0; i < n; i++) {
        uint64_t r = bench_events_rnd(&rng);
        unsigned k = (unsigned)(r >> 20) % 10;
        if (k < 4) {
            an_command_event e = {.command = bench_events_cmds[(r >> 24) % BENCH_EVENTS_NCMDS],
                                  .user_id = 100000000000000000ULL + r % 500,
                                  .guild_id = 7,
                                  .channel_id = 8,
                                  .exec_ms = (uint32_t)((r >> 8) % 3000),
                                  .success = (r >> 30) % 20 != 0};
            an_record_command(wa, &e);
        } else if (k < 8) {
            an_image_event e = {.user_id = 100000000000000000ULL + r % 500,
                                .guild_id = 7,
                                .prompt = "a lighthouse on a cliff at dusk",
                                .resolution = bench_events_res[(r >> 24) % BENCH_EVENTS_NRES],
                                .loras = "",
                                .upscale_factor = 1,
                                .generation_ms = (uint32_t)((r >> 8) % 90000),
                                .is_video = (r >> 33) % 8 == 0,
                                .generation_type = "standard",
                                .success = (r >> 30) % 10 != 0};
            an_record_image(wa, &e);
        } else {
            an_activity_event e = {.user_id = 100000000000000000ULL + r % 500,
                                   .guild_id = 7,
                                   .action = "job_queued",
                                   .details = "{}"};
            an_record_activity(wa, &e);
        }
    }
    an_request_flush(wa, done, 1);
    while (!atomic_load(&ds.done)) {
        struct timespec ts = {0, 200000};
        nanosleep(&ts, NULL);
    }
    double secs = (double)(rt_now_ns() - t0) / 1e9;
    analytics_writer_counters m;
    analytics_writer_counters_get(w, &m);
    rt_system_free(sys);
    analytics_writer_free(w);
    if (m.rows_written != n) {
        fprintf(stderr, "writer wrote %llu of %llu events\n", (unsigned long long)m.rows_written,
                (unsigned long long)n);
        exit(1);
    }
    db_drop(name);
    return (double)n / secs;
}

int main(int argc, char **argv)
{
    bool json = false;
    const char *only = NULL; /* copy, engine or writer: that measure alone (for profiling) */
    g_base = getenv("FLUXBOT_TEST_PG_URL");
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--json") == 0)
            json = true;
        else if (strcmp(argv[i], "--events") == 0 && i + 1 < argc)
            g_events = strtoull(argv[++i], NULL, 10);
        else if (strcmp(argv[i], "--rounds") == 0 && i + 1 < argc)
            g_rounds = atoi(argv[++i]);
        else if (strcmp(argv[i], "--batch") == 0 && i + 1 < argc)
            BATCH = (size_t)strtoull(argv[++i], NULL, 10);
        else if (strcmp(argv[i], "--db") == 0 && i + 1 < argc)
            g_base = argv[++i];
        else if (strcmp(argv[i], "--only") == 0 && i + 1 < argc)
            only = argv[++i];
        else {
            fprintf(stderr, "usage: bench_pg_ingest --db postgresql://... [--events N] [--rounds N]"
                            " [--batch N] [--only copy|engine|writer] [--json]\n");
            return 2;
        }
    }
    if (!g_base || strncmp(g_base, "postgres", 8) != 0 || g_events == 0) {
        fprintf(stderr, "bench_pg_ingest: give a server with --db postgresql://... (or "
                        "FLUXBOT_TEST_PG_URL; scripts/pg.sh start prints one)\n");
        return 2;
    }
    log_configure(LOG_LEVEL_WARN, false, 2);
    /* Interleaved, --rounds times each (2 by default), best of them: a noisy machine hurts
     * every figure alike. */
    double copy = 0, engine = 0, writer = 0;
    for (int round = 0; round < (g_rounds > 0 ? g_rounds : 1); round++) {
        bool all = !only;
        double c = all || !strcmp(only, "copy") ? copy_baseline(g_events) : 0;
        double e = all || !strcmp(only, "engine") ? engine_run(g_events) : 0;
        double w = all || !strcmp(only, "writer") ? writer_run(g_events) : 0;
        if (c > copy) copy = c;
        if (e > engine) engine = e;
        if (w > writer) writer = w;
    }
    /* (a measure left out by --only counts 0, and so does its ratio) */
    double er = copy > 0 ? engine / copy : 0, wr = copy > 0 ? writer / copy : 0;
    if (json) {
        printf("{\"events\":%" PRIu64 ",\"batch\":%d,\"copy_eps\":%.0f,\"engine_eps\":%.0f,"
               "\"writer_eps\":%.0f,\"engine_vs_copy\":%.3f,\"writer_vs_copy\":%.3f}\n",
               g_events, (int)BATCH, copy, engine, writer, er, wr);
    } else {
        printf("analytics ingest into PostgreSQL, %" PRIu64 " events, batches of %zu\n", g_events,
               BATCH);
        printf("  %-44s %10.0f events/s  (baseline)\n", "plain batched COPY, raw rows only", copy);
        printf("  %-44s %10.0f events/s  %.2fx\n", "engine: COPY + rows + rollups, 1 thread",
               engine, er);
        printf("  %-44s %10.0f events/s  %.2fx\n", "writer actor (an_record_* producer)", writer,
               wr);
    }
    return 0;
}
