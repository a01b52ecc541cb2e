/*
 * Analytics benchmark, every figure against a baseline measured in the same run:
 *
 *  ingest    events/s through the analytics_writer actor (an_record_* from one producer thread,
 *            batched transactions with rollups), against a plain batched-insert loop on the
 *            same schema (an_store_write, 512 per transaction, same event construction, one
 *            thread), and against one commit per event (what the Python original did). The
 *            writer can beat the plain loop: building events and writing them overlap on two
 *            threads there;
 *  producer  p50/p99/max of the an_record_* call while the writer commits (it never waits on
 *            SQLite: a full lane spills);
 *  /stats    latency of /stats 7 (and 30) answered from the rollups only (an_reader_stats:
 *            per-day, per-hour and per-minute rollups, per-user running counts) against a
 *            plain scan of the window's raw rows (an_reader_stats_raw), on the same database,
 *            with the answers checked equal:
 *              - a busy hour: --hot events (default 10^6) in the current hour, before now;
 *              - events spread over the last 30 days (500 users), for each --rows size;
 *            now is 15:30:00.123, so the window starts at 15:31, inside an hour.
 *
 *   bench_analytics [--json] [--events N] [--rows N,N,...] [--hot N] [--queries Q] [--dir DIR]
 *
 * Defaults: --events 200000 --rows 100000,1000000 --hot 1000000 --queries 50 --dir /tmp.
 * The targets: --hot 1000000 and --rows 10000000 (/stats 7 p99 < 5 ms each).
 * Databases are created in a fresh directory under DIR and removed afterwards.
 */
#include <ftw.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "actors/analytics_writer.h"
#include "analytics/an_record.h"
#include "analytics/an_event.h"
#include "analytics/an_stats.h"
#include "analytics/an_store.h"
#include "analytics/an_time.h"
#include "fluxbot/log.h"
#include "fluxbot/runtime.h"
#include "bench_events.h"
#include "bench_util.h"
#include "hist.h"
#include "msgs/an.h"

#define DAY AN_DAY_MS
#define ROWS_MAX 8

static uint64_t g_events = 200000;
static uint64_t g_hot = 1000000;
static uint64_t g_rows[ROWS_MAX] = {100000, 1000000};
static unsigned g_nrows = 2;
static unsigned g_queries = 50;
static char g_dir[512];

static void db_path(const char *name, char *out, size_t n)
{
    snprintf(out, n, "%s/%s", g_dir, name);
}

static int rm_one(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(p);
}

static void remove_db(const char *path)
{
    char p[700];
    remove(path);
    snprintf(p, sizeof p, "%s-wal", path);
    remove(p);
    snprintf(p, sizeof p, "%s-shm", path);
    remove(p);
}

/* A fresh store at path (any old one removed); exits on failure. */
static an_store *store_fresh(const char *path)
{
    char err[512];
    remove_db(path);
    an_store *s = an_store_open(path, err, sizeof err);
    if (!s) {
        fprintf(stderr, "%s\n", err);
        exit(1);
    }
    return s;
}

/* Builds n events from seed and writes them batch at a time; returns the seconds that took.
 * spread_end 0: each stamped with the clock, as an_record_* stamps them (so the time indexes see
 * the same append-mostly pattern as the writer's); otherwise spread evenly over the 30 days
 * before spread_end. Exits on a write error. */
static double write_events(an_store *s, uint64_t n, size_t batch, uint64_t seed, int64_t spread_lo,
                           int64_t spread_end)
{
    char err[512];
    an_event *evs = calloc(batch, sizeof *evs);
    const an_event **ptrs = calloc(batch, sizeof *ptrs);
    uint64_t rng = seed;
    uint64_t t0 = rt_now_ns();
    for (uint64_t done = 0; done < n;) {
        size_t k = n - done < batch ? (size_t)(n - done) : batch;
        for (size_t i = 0; i < k; i++) {
            uint64_t j = done + i;
            int64_t ts = spread_end ? spread_lo + (int64_t)((double)j / (double)n *
                                                            (double)(spread_end - spread_lo))
                                    : (int64_t)rt_wall_ms();
            bench_events_make(&evs[i], &rng, j + 1, ts);
            ptrs[i] = &evs[i];
        }
        if (an_store_write(s, ptrs, k, err, sizeof err) != 0) {
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
    return secs;
}

/* ---- ingest ------------------------------------------------------------------------------ */

/* The plain loop: build events and commit them batch_size at a time. Returns events/s. */
static double plain_loop(uint64_t n, size_t batch_size, const char *name)
{
    char path[640];
    db_path(name, path, sizeof path);
    an_store *s = store_fresh(path);
    double secs = write_events(s, n, batch_size, 42, 0, 0);
    an_store_close(s);
    remove_db(path);
    return (double)n / secs;
}

typedef struct done_state {
    _Atomic int done;
} done_state;

static void done_on_message(rt_actor *self, void *st, rt_msg *m)
{
    (void)self;
    if (m->type == MSG_AN_FLUSH_DONE) atomic_store(&((done_state *)st)->done, 1);
    rt_msg_free(m);
}

/* The writer actor fed by this thread; the record calls are timed into h. Returns events/s
 * from the first record to the flush reply (everything committed). */
static double writer_run(uint64_t n, hist *h)
{
    char path[640];
    db_path("writer.db", path, sizeof path);
    remove_db(path);
    rt_system *sys = rt_system_new();
    analytics_writer *w = analytics_writer_new(sys, &(analytics_writer_config){.db_path = path});
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
        /* Same mix as the plain loop, built from the producer API's structs. */
        uint64_t r = bench_events_rnd(&rng);
        unsigned k = (unsigned)(r >> 20) % 10;
        uint64_t c0 = rt_now_ns();
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
        if (h) hist_add(h, rt_now_ns() - c0);
    }
    an_request_flush(wa, done, 1);
    while (!atomic_load(&ds.done)) {
        struct timespec ts = {0, 200000};
        nanosleep(&ts, NULL);
    }
    double secs = (double)(rt_now_ns() - t0) / 1e9;
    analytics_writer_counters m;
    analytics_writer_counters_get(w, &m);
    if (m.rows_written != n) {
        fprintf(stderr, "writer wrote %llu of %llu events\n", (unsigned long long)m.rows_written,
                (unsigned long long)n);
        exit(1);
    }
    rt_system_free(sys);
    analytics_writer_free(w);
    remove_db(path);
    return (double)n / secs;
}

/* ---- /stats latency ---------------------------------------------------------------------- */

typedef struct lat_pair {
    double roll_p50, roll_p99, raw_p50, raw_p99;
} lat_pair;

typedef struct stats_row {
    uint64_t rows;
    lat_pair d7, d30;
    double build_s;
} stats_row;

static void same_or_die(const an_stats *a, const an_stats *b, uint64_t rows)
{
    if (a->total_commands != b->total_commands || a->total_images != b->total_images ||
        a->image_ms_sum != b->image_ms_sum || a->total_videos != b->total_videos ||
        a->total_buttons != b->total_buttons || a->active_users != b->active_users ||
        a->total_users != b->total_users || a->n_top_commands != b->n_top_commands ||
        a->n_top_resolutions != b->n_top_resolutions) {
        fprintf(stderr, "rollup and raw answers differ at %llu rows\n", (unsigned long long)rows);
        exit(1);
    }
}

/* p50/p99 of /stats `days` at now: the rollup path (g_queries times) and the raw scan. */
static void measure(an_reader *r, int days, int64_t now, uint64_t rows, lat_pair *out)
{
    char err[512];
    an_stats *st = malloc(sizeof *st), *raw = malloc(sizeof *raw);
    unsigned nraw = g_queries / 10 > 3 ? g_queries / 10 : 3;
    double *lat = calloc(g_queries > nraw ? g_queries : nraw, sizeof *lat);
    an_reader_stats(r, days, now, st, err, sizeof err); /* warm the page cache */
    for (unsigned i = 0; i < g_queries; i++) {
        uint64_t q0 = rt_now_ns();
        if (an_reader_stats(r, days, now, st, err, sizeof err) != 0) {
            fprintf(stderr, "%s\n", err);
            exit(1);
        }
        lat[i] = (double)(rt_now_ns() - q0) / 1e6;
    }
    out->roll_p50 = bench_quantile(lat, g_queries, 0.5);
    out->roll_p99 = bench_quantile(lat, g_queries, 0.99);
    for (unsigned i = 0; i < nraw; i++) {
        uint64_t q0 = rt_now_ns();
        an_reader_stats_raw(r, days, now, raw, err, sizeof err);
        lat[i] = (double)(rt_now_ns() - q0) / 1e6;
    }
    out->raw_p50 = bench_quantile(lat, nraw, 0.5);
    out->raw_p99 = bench_quantile(lat, nraw, 0.99);
    same_or_die(st, raw, rows);
    free(lat);
    free(st);
    free(raw);
}

/* rows events between lo and hi (hi = now), then /stats 7 (and 30 unless hot) at now. */
static void stats_at(uint64_t rows, int64_t lo, int64_t now, bool hot, stats_row *out)
{
    char path[640], err[512];
    db_path("stats.db", path, sizeof path);
    an_store *s = store_fresh(path);
    out->build_s = write_events(s, rows, 20000, 7, lo, now);
    sqlite3_exec(an_store_db(s), "PRAGMA wal_checkpoint(TRUNCATE); ANALYZE;", NULL, NULL, NULL);
    an_store_close(s);

    an_reader *r = an_reader_open(path, err, sizeof err);
    if (!r) {
        fprintf(stderr, "%s\n", err);
        exit(1);
    }
    measure(r, 7, now, rows, &out->d7);
    if (!hot) measure(r, 30, now, rows, &out->d30);
    out->rows = rows;
    an_reader_close(r);
    remove_db(path);
}

/* ---- main -------------------------------------------------------------------------------- */

static void parse_rows(const char *s)
{
    g_nrows = 0;
    while (*s && g_nrows < ROWS_MAX) {
        char *end;
        unsigned long long v = strtoull(s, &end, 10);
        if (end == s || v == 0) {
            fprintf(stderr, "bad --rows list\n");
            exit(2);
        }
        g_rows[g_nrows++] = v;
        s = *end == ',' ? end + 1 : end;
    }
}

int main(int argc, char **argv)
{
    bool json = false;
    const char *base = "/tmp", *rows_arg = NULL;
    const bench_arg args[] = {
        {"--json", BENCH_FLAG, &json},     {"--events", BENCH_U64, &g_events},
        {"--rows", BENCH_TEXT, &rows_arg}, {"--queries", BENCH_UNSIGNED, &g_queries},
        {"--hot", BENCH_U64, &g_hot},      {"--dir", BENCH_TEXT, &base}};
    if (!bench_args(argc, argv, args, 6,
                    "[--json] [--events N] [--rows N,N,...] [--hot N] [--queries Q] [--dir DIR]"))
        return 2;
    if (rows_arg) parse_rows(rows_arg);
    if (g_events < 1000) g_events = 1000;
    if (g_queries < 5) g_queries = 5;
    snprintf(g_dir, sizeof g_dir, "%s/fluxbot-bench-XXXXXX", base);
    if (!mkdtemp(g_dir)) {
        perror("mkdtemp");
        return 1;
    }
    log_configure(LOG_LEVEL_WARN, false, 2);

    /* Ingest: median of three runs each; the per-commit baseline on a tenth of the events. */
    double plain[5], writer[5], single[5];
    hist h;
    hist_init(&h);
    uint64_t n_single = g_events / 10;
    for (int i = 0; i < 3; i++) {
        plain[i] = plain_loop(g_events, 512, "plain.db");
        writer[i] = writer_run(g_events, i == 1 ? &h : NULL);
        single[i] = plain_loop(n_single, 1, "single.db");
    }
    double p = bench_quantile(plain, 3, 0.5), w = bench_quantile(writer, 3, 0.5),
           s1 = bench_quantile(single, 3, 0.5);

    /* /stats at 15:30:00.123: the window starts at 15:31, inside an hour (near the worst case
     * for the edges: 29 minutes of the start's hour are read per minute). */
    int64_t now = an_day_of((int64_t)rt_wall_ms()) * DAY + 15 * AN_HOUR_MS + 1800123;
    stats_row rows[ROWS_MAX], hot;
    for (unsigned i = 0; i < g_nrows; i++)
        stats_at(g_rows[i], now - 30 * DAY, now, false, &rows[i]);
    /* A busy hour: g_hot events in the current hour, all before now. */
    stats_at(g_hot, now - 1800123, now, true, &hot);
    nftw(g_dir, rm_one, 8, FTW_DEPTH | FTW_PHYS);

    if (json) {
        printf("{\"ingest\":{\"events\":%llu,\"plain_batched_eps\":%.0f,\"writer_eps\":%.0f,"
               "\"writer_vs_plain\":%.3f,\"per_commit_events\":%llu,\"per_commit_eps\":%.0f,"
               "\"writer_vs_per_commit\":%.2f},"
               "\"producer_ns\":{\"p50\":%llu,\"p99\":%llu,\"max\":%llu,\"mean\":%.1f},",
               (unsigned long long)g_events, p, w, w / p, (unsigned long long)n_single, s1, w / s1,
               (unsigned long long)hist_quantile(&h, 0.5),
               (unsigned long long)hist_quantile(&h, 0.99), (unsigned long long)h.max,
               hist_mean(&h));
        printf("\"stats_7d_hot_hour\":{\"rows\":%llu,\"rollup_p50_ms\":%.3f,"
               "\"rollup_p99_ms\":%.3f,\"raw_p50_ms\":%.3f,\"raw_p99_ms\":%.3f,"
               "\"speedup_p99\":%.1f},\"stats_spread_30d\":[",
               (unsigned long long)hot.rows, hot.d7.roll_p50, hot.d7.roll_p99, hot.d7.raw_p50,
               hot.d7.raw_p99, hot.d7.raw_p99 / hot.d7.roll_p99);
        for (unsigned i = 0; i < g_nrows; i++)
            printf("%s{\"rows\":%llu,\"d7\":{\"rollup_p50_ms\":%.3f,\"rollup_p99_ms\":%.3f,"
                   "\"raw_p50_ms\":%.3f,\"raw_p99_ms\":%.3f},\"d30\":{\"rollup_p50_ms\":%.3f,"
                   "\"rollup_p99_ms\":%.3f,\"raw_p50_ms\":%.3f,\"raw_p99_ms\":%.3f}}",
                   i ? "," : "", (unsigned long long)rows[i].rows, rows[i].d7.roll_p50,
                   rows[i].d7.roll_p99, rows[i].d7.raw_p50, rows[i].d7.raw_p99,
                   rows[i].d30.roll_p50, rows[i].d30.roll_p99, rows[i].d30.raw_p50,
                   rows[i].d30.raw_p99);
        printf("]}\n");
        return 0;
    }
    printf("analytics ingest, %llu events (median of 3 runs; WAL, synchronous=NORMAL)\n",
           (unsigned long long)g_events);
    printf("  %-38s %12.0f events/s\n", "plain batched-insert loop (512/txn)", p);
    printf("  %-38s %12.0f events/s  %5.1f%% of the plain loop\n", "writer actor (an_record_*)", w,
           100.0 * w / p);
    printf("  %-38s %12.0f events/s  writer is %.1fx faster (%llu events)\n",
           "one commit per event", s1, w / s1, (unsigned long long)n_single);
    printf("producer: an_record_* while the writer commits (%llu calls)\n",
           (unsigned long long)h.total);
    printf("  p50 %llu ns   p99 %llu ns   max %llu ns   mean %.0f ns\n",
           (unsigned long long)hist_quantile(&h, 0.5), (unsigned long long)hist_quantile(&h, 0.99),
           (unsigned long long)h.max, hist_mean(&h));
    printf("/stats latency: rollups (%u queries) vs raw scan of the window (%u), same database\n",
           g_queries, g_queries / 10 > 3 ? g_queries / 10 : 3);
    printf("  %-28s  %10s %10s  %10s %10s  %8s\n", "", "roll p50", "roll p99", "raw p50", "raw p99",
           "p99 ratio");
    char label[64];
    snprintf(label, sizeof label, "7d, %llu in current hour", (unsigned long long)hot.rows);
    printf("  %-28s  %8.3fms %8.3fms  %8.1fms %8.1fms  %7.0fx\n", label, hot.d7.roll_p50,
           hot.d7.roll_p99, hot.d7.raw_p50, hot.d7.raw_p99, hot.d7.raw_p99 / hot.d7.roll_p99);
    for (unsigned i = 0; i < g_nrows; i++) {
        const lat_pair *d[2] = {&rows[i].d7, &rows[i].d30};
        for (int k = 0; k < 2; k++) {
            snprintf(label, sizeof label, "%dd, %llu over 30 days", k ? 30 : 7,
                     (unsigned long long)rows[i].rows);
            printf("  %-28s  %8.3fms %8.3fms  %8.1fms %8.1fms  %7.0fx\n", label, d[k]->roll_p50,
                   d[k]->roll_p99, d[k]->raw_p50, d[k]->raw_p99, d[k]->raw_p99 / d[k]->roll_p99);
        }
    }
    return 0;
}
