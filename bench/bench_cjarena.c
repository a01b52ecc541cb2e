/*
 * bench_cjarena: what cJSON's allocation hooks of util_cjarena change, one thread, no sockets,
 * each way measured in the same run (old: cJSON's default hooks, malloc/free and realloc, as
 * before; new: util_cjarena_install(), as the bot runs):
 *
 *   parse     the router's parse of a /stats interaction (ix_parse_scratch): cJSON's tree on
 *             malloc, freed by cJSON_Delete  vs  in the scratch's arena, taken back at once
 *   reply     an ephemeral answer's callback body with a 300-character text (reply_text_json,
 *             as an option error is answered): a cJSON tree built and printed outside any
 *             scope, where the new hooks are malloc/free but cJSON no longer uses realloc
 *   workflow  a ComfyUI prompt body (cproto_prompt_body of workflows/pulid.json): a print of a
 *             few KB, whose buffer grows by malloc + copy instead of realloc under the new hooks
 *   message   a Discord message object parsed outside any scope (message_ref_parse): the cost
 *             of the hooks' indirection for every other parse
 *
 * Thread CPU time (CLOCK_THREAD_CPUTIME_ID) per operation; each figure is the median of
 * --repeat rounds of --ops operations, the two ways alternating round by round (the hooks are
 * switched between rounds, which is safe here: one thread, and no cJSON value outlives an
 * operation). The figure to read is the ratio (new ÷ old) within a run.
 *
 *   bench_cjarena [--ops N] [--repeat R] [--json]
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cjson/cJSON.h>

#include "bench_util.h"
#include "comfy/cproto.h"
#include "discord/ix.h"
#include "discord/message_ref.h"
#include "bench_ix.h"
#include "discord/reply.h"
#include "util/util_cjarena.h"
#include "util/util_file.h"

#define MAX_REPEAT 101

/* The message an edit of @original returns (what the deliverer reads its id and image from). */
static const char k_message[] =
    "{\"type\":20,\"content\":\"\",\"mentions\":[],\"mention_roles\":[],\"attachments\":[{"
    "\"id\":\"1300000000000000011\",\"filename\":\"image.png\",\"size\":1843200,\"url\":"
    "\"https://cdn.discordapp.com/attachments/222222222222222222/1300000000000000011/image.png"
    "?ex=65f1&is=65de&hm=0123456789abcdef\",\"proxy_url\":\"https://media.discordapp.net/"
    "attachments/222222222222222222/1300000000000000011/image.png\",\"width\":1024,\"height\":"
    "1024,\"content_type\":\"image/png\",\"placeholder\":\"abcdefgh\",\"placeholder_version\":1}"
    "],\"embeds\":[{\"type\":\"rich\",\"title\":\"Image\",\"color\":5814783,\"fields\":[{\"name\":"
    "\"Prompt\",\"value\":\"a cat in a hat\",\"inline\":false},{\"name\":\"Seed\",\"value\":"
    "\"123456789\",\"inline\":true}]}],\"timestamp\":\"2024-03-10T15:00:00.000000+00:00\","
    "\"edited_timestamp\":null,\"flags\":0,\"components\":[],\"id\":\"1300000000000000010\","
    "\"channel_id\":\"222222222222222222\",\"author\":{\"id\":\"987654321098765432\","
    "\"username\":\"fluxbot\",\"avatar\":null,\"discriminator\":\"0000\",\"public_flags\":0,"
    "\"flags\":0,\"bot\":true,\"global_name\":null},\"pinned\":false,\"mention_everyone\":false,"
    "\"tts\":false,\"application_id\":\"987654321098765432\",\"interaction\":{\"id\":"
    "\"1234567890123456789\",\"type\":2,\"name\":\"comfy\",\"user\":{\"id\":"
    "\"333333333333333333\",\"username\":\"ann\"}},\"webhook_id\":\"987654321098765432\"}";

static uint64_t cpu_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static ix_scratch g_scratch;
static cJSON *g_graph;
static volatile size_t g_sink; /* keeps the work from being optimised away */

static void parse(void)
{
    ix_error e;
    ix_interaction *ix = ix_parse_scratch(&g_scratch, bench_ix_stats, bench_ix_stats_len, &e);
    if (!ix) abort();
    g_sink += ix->noptions;
}

static char g_text[301];

static void reply(void)
{
    char *s = reply_text_json(g_text, true);
    g_sink += strlen(s);
    free(s);
}

static void workflow(void)
{
    char *s = cproto_prompt_body(g_graph, "client-1", "prompt-1");
    if (!s) abort();
    g_sink += strlen(s);
    free(s);
}

static void message(void)
{
    message_ref ref;
    if (!message_ref_parse(k_message, sizeof k_message - 1, &ref)) abort();
    g_sink += ref.message_id != 0;
}

typedef struct opts {
    unsigned ops, repeat;
    bool json;
} opts;

/* ns per operation under the old hooks and the new: medians of rounds, alternating. */
static void measure(const opts *o, void (*fn)(void), double *old_ns, double *new_ns)
{
    double va[MAX_REPEAT], vb[MAX_REPEAT];
    for (unsigned r = 0; r < o->repeat; r++) {
        for (int way = 0; way < 2; way++) {
            if (way)
                util_cjarena_install();
            else
                cJSON_InitHooks(NULL);
            for (unsigned i = 0; i < o->ops / 10 + 1; i++) /* warm-up in this way */
                fn();
            uint64_t t0 = cpu_ns();
            for (unsigned i = 0; i < o->ops; i++)
                fn();
            (way ? vb : va)[r] = (double)(cpu_ns() - t0) / o->ops;
        }
    }
    *old_ns = bench_median(va, o->repeat);
    *new_ns = bench_median(vb, o->repeat);
}

int main(int argc, char **argv)
{
    opts o = {.ops = 20000, .repeat = 9};
    const bench_arg args[] = {
        {"--ops", BENCH_UNSIGNED, &o.ops},
        {"--repeat", BENCH_UNSIGNED, &o.repeat},
        {"--json", BENCH_FLAG, &o.json},
    };
    if (!bench_args(argc, argv, args, sizeof args / sizeof args[0],
                    "[--ops N] [--repeat R] [--json]"))
        return 2;
    if (o.ops == 0 || o.repeat == 0 || o.repeat > MAX_REPEAT) {
        fprintf(stderr, "bench_cjarena: --ops > 0, --repeat 1..%d\n", MAX_REPEAT);
        return 2;
    }
    for (size_t i = 0; i < sizeof g_text - 1; i++)
        g_text[i] = "Unknown option \"days\" for /stats "[i % 32];
    char err[256];
    char *text =
        util_file_read(FLUXBOT_SOURCE_DIR "/workflows/pulid.json", 1 << 20, NULL, err, sizeof err);
    g_graph = text ? cJSON_Parse(text) : NULL;
    free(text);
    if (!g_graph) {
        fprintf(stderr, "bench_cjarena: cannot read workflows/pulid.json\n");
        return 2;
    }

    static const struct {
        const char *name;
        void (*fn)(void);
    } steps[] = {
        {"parse", parse},
        {"reply", reply},
        {"workflow", workflow},
        {"message", message},
    };
    enum { NSTEPS = sizeof steps / sizeof steps[0] };
    double r_old[NSTEPS], r_new[NSTEPS];
    for (int i = 0; i < NSTEPS; i++)
        measure(&o, steps[i].fn, &r_old[i], &r_new[i]);
    cJSON_InitHooks(NULL);
    ix_scratch_free(&g_scratch);
    cJSON_Delete(g_graph);

    if (o.json) {
        printf("{\"ops\":%u,\"repeat\":%u,\"results\":[", o.ops, o.repeat);
        for (int i = 0; i < NSTEPS; i++)
            printf("%s{\"step\":\"%s\",\"old_ns\":%.0f,\"new_ns\":%.0f,\"ratio\":%.3f}",
                   i ? "," : "", steps[i].name, r_old[i], r_new[i], r_new[i] / r_old[i]);
        printf("]}\n");
    } else {
        printf("cJSON hooks, thread CPU per operation (median of %u rounds of %u):\n\n", o.repeat,
               o.ops);
        printf("%-9s %12s %12s %8s\n", "step", "old ns", "new ns", "new/old");
        for (int i = 0; i < NSTEPS; i++)
            printf("%-9s %12.0f %12.0f %8.3f\n", steps[i].name, r_old[i], r_new[i],
                   r_new[i] / r_old[i]);
    }
    return g_sink ? 0 : 1;
}
