/*
 * bench_stats_path: the CPU a /stats interaction costs in the pure code the scheduler worker
 * runs for it (the router's parse of the interaction, the stats reporter's edit body, and the
 * chart when it is drawn), one thread, no sockets, each way measured in the same run:
 *
 *   parse   ix_parse (cJSON's tree and a fresh ~7 KB interaction block, freed at once)  vs
 *           ix_parse_scratch (cJSON's tree into a reused interaction block: what the router
 *           runs)
 *   body    the embed as a cJSON tree, duplicated and printed (stats_reply_edit_json)  vs  the
 *           embed struct written as text (stats_reply_edit_body: what the reporter runs)
 *   both    one after the other, as one interaction runs them (the allocator state one leaves
 *           is what the other meets)
 *   chart   an_chart_png of the same numbers (with --chart): what each redraw of the chart costs
 *
 * Thread CPU time (CLOCK_THREAD_CPUTIME_ID) per operation; each figure is the median of
 * --repeat rounds of --ops operations, the two ways alternating round by round. The figure to
 * read is the ratio (new ÷ old) within a run; this shared machine moves absolute times.
 *
 *   bench_stats_path [--ops N] [--repeat R] [--chart] [--json]
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cjson/cJSON.h>

#include "analytics/an_chart.h"
#include "analytics/an_commands.h"
#include "analytics/an_stats.h"
#include "bench_util.h"
#include "discord/embed.h"
#include "discord/ix.h"
#include "bench_ix.h"
#include "discord/stats_reply.h"

#define NOW 1710082800000LL /* 2024-03-10 15:00:00 UTC */
#define MAX_REPEAT 101

typedef struct opts {
    unsigned ops, repeat;
    bool chart, json;
} opts;

static uint64_t cpu_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static ix_scratch g_scratch;
static an_stats g_stats;
static volatile size_t g_sink; /* keeps the work from being optimised away */

static void parse_old(void)
{
    ix_error e;
    ix_interaction *ix = ix_parse(bench_ix_stats, bench_ix_stats_len, &e);
    if (!ix) abort();
    g_sink += ix->noptions;
    ix_free(ix);
}

static void parse_new(void)
{
    ix_error e;
    ix_interaction *ix = ix_parse_scratch(&g_scratch, bench_ix_stats, bench_ix_stats_len, &e);
    if (!ix) abort();
    g_sink += ix->noptions;
}

static void body_old(void)
{
    cJSON *em = an_stats_embed(&g_stats);
    char *json = stats_reply_edit_json(em, NULL);
    cJSON_Delete(em);
    g_sink += strlen(json);
    free(json);
}

static void body_new(void)
{
    embed e;
    an_commands_stats_embed(&g_stats, &e);
    char *json = stats_reply_edit_body(&e, NULL);
    embed_free(&e);
    g_sink += strlen(json);
    free(json);
}

static void both_old(void)
{
    parse_old();
    body_old();
}

static void both_new(void)
{
    parse_new();
    body_new();
}

static void chart(void)
{
    unsigned char *png;
    size_t len;
    char err[256];
    if (an_chart_png(&g_stats, &png, &len, err, sizeof err) != 0) abort();
    g_sink += len;
    free(png);
}

/* ns per operation: the median of the rounds, the two ways alternating. */
static void measure(const opts *o, void (*a)(void), void (*b)(void), unsigned ops, double *na,
                    double *nb)
{
    double va[MAX_REPEAT], vb[MAX_REPEAT];
    for (unsigned i = 0; i < ops / 10 + 1; i++) { /* warm-up */
        a();
        if (b) b();
    }
    for (unsigned r = 0; r < o->repeat; r++) {
        uint64_t t0 = cpu_ns();
        for (unsigned i = 0; i < ops; i++)
            a();
        va[r] = (double)(cpu_ns() - t0) / ops;
        if (!b) continue;
        t0 = cpu_ns();
        for (unsigned i = 0; i < ops; i++)
            b();
        vb[r] = (double)(cpu_ns() - t0) / ops;
    }
    *na = bench_median(va, o->repeat);
    *nb = b ? bench_median(vb, o->repeat) : 0;
}

/* Numbers as a busy week shows them: every bar and both top lists filled. */
static void fill_stats(an_stats *s)
{
    an_window w;
    an_window_make(7, NOW, &w);
    an_stats_begin(s, &w, AN_ACTIVE_MIN_DEFAULT);
    static const char *const cmds[] = {"comfy", "stats", "redux", "video", "pulid"};
    static const char *const res[] = {"1:1 [1024x1024 square]", "16:9 [1344x768 landscape]",
                                      "9:16 [768x1344 portrait]", "4:3 [1152x896 landscape]",
                                      "3:2 [1216x832 landscape]"};
    for (unsigned i = 0; i < AN_TOP_N; i++) {
        snprintf(s->top_commands[i].name, sizeof s->top_commands[i].name, "%s", cmds[i]);
        s->top_commands[i].count = 9000 - 1000 * i;
        snprintf(s->top_resolutions[i].name, sizeof s->top_resolutions[i].name, "%s", res[i]);
        s->top_resolutions[i].count = 4000 - 500 * i;
    }
    s->n_top_commands = s->n_top_resolutions = AN_TOP_N;
    s->total_images = 12000;
    s->image_ms_sum = 12000ull * 13050;
    s->total_videos = 1640;
    s->video_ms_sum = 1640ull * 89000;
    s->total_commands = 30000;
    s->total_buttons = 1200;
    s->total_users = 390;
    s->active_users = 380;
    for (unsigned i = 0; i < s->n_series; i++) {
        s->series[i].images = 1500 + 37 * i;
        s->series[i].videos = 200 + 11 * i;
        s->series[i].commands = 4000 + 53 * i;
    }
}

int main(int argc, char **argv)
{
    opts o = {.ops = 20000, .repeat = 9};
    const bench_arg args[] = {
        {"--ops", BENCH_UNSIGNED, &o.ops},
        {"--repeat", BENCH_UNSIGNED, &o.repeat},
        {"--chart", BENCH_FLAG, &o.chart},
        {"--json", BENCH_FLAG, &o.json},
    };
    if (!bench_args(argc, argv, args, sizeof args / sizeof args[0],
                    "[--ops N] [--repeat R] [--chart] [--json]"))
        return 2;
    if (o.ops == 0 || o.repeat == 0 || o.repeat > MAX_REPEAT) {
        fprintf(stderr, "bench_stats_path: --ops > 0, --repeat 1..%d\n", MAX_REPEAT);
        return 2;
    }
    fill_stats(&g_stats);

    static const struct {
        const char *name;
        void (*old_way)(void), (*new_way)(void);
    } pairs[] = {
        {"parse", parse_old, parse_new},
        {"body", body_old, body_new},
        {"both", both_old, both_new},
    };
    double r_old[3], r_new[3], chart_ns = 0, unused;
    for (int i = 0; i < 3; i++)
        measure(&o, pairs[i].old_way, pairs[i].new_way, o.ops, &r_old[i], &r_new[i]);
    if (o.chart) measure(&o, chart, NULL, o.ops / 1000 + 5, &chart_ns, &unused);
    ix_scratch_free(&g_scratch);

    if (o.json) {
        printf("{\"ops\":%u,\"repeat\":%u,\"results\":[", o.ops, o.repeat);
        for (int i = 0; i < 3; i++)
            printf("%s{\"step\":\"%s\",\"old_ns\":%.0f,\"new_ns\":%.0f,\"ratio\":%.3f}",
                   i ? "," : "", pairs[i].name, r_old[i], r_new[i], r_new[i] / r_old[i]);
        printf("]");
        if (o.chart) printf(",\"chart_ns\":%.0f", chart_ns);
        printf("}\n");
    } else {
        printf("/stats path, thread CPU per operation (median of %u rounds of %u):\n\n", o.repeat,
               o.ops);
        printf("%-6s %12s %12s %8s\n", "step", "old ns", "new ns", "new/old");
        for (int i = 0; i < 3; i++)
            printf("%-6s %12.0f %12.0f %8.3f\n", pairs[i].name, r_old[i], r_new[i],
                   r_new[i] / r_old[i]);
        if (o.chart)
            printf("\nchart (an_chart_png, 7 days): %.0f us per drawing\n", chart_ns / 1e3);
    }
    return g_sink ? 0 : 1;
}
