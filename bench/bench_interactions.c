/*
 * Interaction latency benchmark: the time from the moment Discord would deliver an
 * INTERACTION_CREATE to the moment its callback reaches Discord, at rising fixed rates, through
 * the real actors on real loopback sockets against the fake Discord:
 *
 *   fake gateway ──ws──► gateway ──► router ──► discord_rest ──http──► fake REST
 *
 * beside the same path with the router hop replaced by a minimal in-bench actor ("direct":
 * ix_parse, build the same ephemeral reply, send the same callback request to the REST actor,
 * take its answer), in the same run, one rate at a time, router first then direct.
 *
 * Open loop, no coordinated omission: send times are fixed in advance at the rate (bench
 * support e2e_sched); the injector catches up after a stall instead of pausing, and latency is
 * measured from the scheduled time to the CLOCK_MONOTONIC time the fake REST server read the
 * callback's headers (fake_rest_request.mono_ns), so the injection itself is inside the figure.
 *
 * The command is one the router answers at once without ComfyUI: /stats with days:0 (option
 * validation fails → immediate ephemeral error, type 4) or, with --command unknown, an unknown
 * command (→ ephemeral "Unknown command"). Analytics are off (no writer) in both variants.
 *
 * Every (rate, variant) gets a fresh fake Discord and a fresh actor system: connect, identify,
 * READY, a warm-up stretch at the rate (not measured), the measured stretch, then a bounded wait
 * for the stragglers.
 *
 *   bench_interactions [--json] [--rates 50,200,800,3200,12800] [--seconds S] [--warmup S]
 *                      [--command stats|unknown] [--threads N] [--budget S]
 */
#include <inttypes.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cjson/cJSON.h>
#include <curl/curl.h>
#include <libwebsockets.h>

#include "actors/discord_rest.h"
#include "actors/gateway.h"
#include "actors/router.h"
#include "analytics/an_commands.h"
#include "discord/ix.h"
#include "discord/reply.h"
#include "e2e_report.h"
#include "bench_util.h"
#include "e2e_sched.h"
#include "fakes/fake_discord.h"
#include "fluxbot/log.h"
#include "fluxbot/runtime.h"
#include "hist.h"
#include "msgs/gw.h"
#include "msgs/rest.h"
#include "router/rcmd.h"

#define TOKEN "bench-interactions-token"
#define MAX_RATES 16
#define DISCORD_WINDOW_NS 3000000000ull /* a callback later than this fails on Discord */

typedef enum variant { V_ROUTER = 0, V_DIRECT = 1, V_COUNT } variant;
static const char *const variant_names[V_COUNT] = {"router", "direct"};

typedef enum command { CMD_BAD_STATS = 0, CMD_UNKNOWN } command;

static struct {
    bool json;
    double rates[MAX_RATES];
    unsigned nrates;
    double seconds, warmup, budget;
    command cmd;
    unsigned threads;
} g_opt = {.rates = {50, 200, 800, 3200, 12800},
           .nrates = 5,
           .seconds = 2.5,
           .warmup = 0.5,
           .budget = 55,
           .cmd = CMD_BAD_STATS,
           .threads = 2};

static const char *command_label(void)
{
    return g_opt.cmd == CMD_BAD_STATS ? "/stats days:0 (invalid days -> immediate ephemeral error)"
                                      : "/benchping (unknown command -> immediate ephemeral error)";
}

/* ---- the direct actor: the router hop removed ---------------------------------------------- */

/*
 * Does only what any handler must: parse and validate the interaction (ix_parse), build the
 * same ephemeral reply the router builds for this command, and send the same callback request
 * (with reply_to, as the router does) to the REST actor. No pending table, no holds, no
 * analytics, no routing.
 */
typedef struct direct {
    rt_actor *rest;
    rt_actor *self;
    _Atomic uint64_t handled, malformed, ok, failed;
} direct;

static char *direct_body(const ix_interaction *ix)
{
    if (g_opt.cmd == CMD_BAD_STATS) {
        cJSON *opts = rcmd_days_options(ix);
        an_days_result days = an_days_from_options(opts);
        cJSON_Delete(opts);
        if (!days.ok) return an_ephemeral_json(days.error);
        return reply_text_json("unexpected: valid days", true);
    }
    char text[128];
    snprintf(text, sizeof text, "Unknown command /%.32s.",
             ix->command_name ? ix->command_name : "");
    return reply_text_json(text, true);
}

static void direct_on_message(rt_actor *self, void *state, rt_msg *m)
{
    direct *d = state;
    if (m->type == MSG_GW_DISPATCH) {
        gw_dispatch_msg *g = (gw_dispatch_msg *)m;
        if (strcmp(g->event, "INTERACTION_CREATE") == 0) {
            ix_error ie;
            ix_interaction *ix = ix_parse(g->data_json ? g->data_json : "", g->data_len, &ie);
            if (!ix) {
                atomic_fetch_add(&d->malformed, 1);
            } else {
                char *body = direct_body(ix);
                char path[64 + IX_TOKEN_MAX];
                snprintf(path, sizeof path, "/interactions/%" PRIu64 "/%s/callback", ix->id,
                         ix->token);
                rest_req_msg *req = rest_req_msg_new(REST_POST, path, body);
                free(body);
                req->reply_to = self;
                req->cookie = ix->id;
                if (rt_send_spill(d->rest, &req->hdr) != 0) rt_msg_free(&req->hdr);
                atomic_fetch_add(&d->handled, 1);
                ix_free(ix);
            }
        }
    } else if (m->type == MSG_REST_RES) {
        rest_res_msg *r = (rest_res_msg *)m;
        atomic_fetch_add(r->status >= 200 && r->status < 300 ? &d->ok : &d->failed, 1);
    }
    rt_msg_free(m);
}

/* The stats reporter stand-in for the router: with days:0 nothing may reach it (a query here
 * would mean the router deferred instead of answering at once, which the report flags). */
static void sink_on_message(rt_actor *self, void *state, rt_msg *m)
{
    (void)self;
    atomic_fetch_add((_Atomic uint64_t *)state, 1);
    rt_msg_free(m);
}

/* ---- one run: one rate through one variant ----------------------------------------------------
 */

typedef struct result {
    bool ran;
    double rate;
    uint64_t sent;       /* measured interactions injected */
    uint64_t answered;   /* with an accepted (2xx) callback */
    uint64_t duplicates; /* callbacks beyond the first */
    uint64_t refused;    /* callbacks the fake did not accept */
    uint64_t missing;    /* no callback within the drain wait */
    uint64_t over_3s;    /* answered later than Discord's window */
    uint64_t p50_ns, p99_ns, p999_ns, max_ns;
    double mean_ns;
    double throughput;      /* answered per second over the measured stretch */
    uint64_t inject_lag_ns; /* worst delay of an injection behind its scheduled time */
    uint64_t unexpected;    /* router: messages that reached the stats stand-in */
    char error[160];
} result;

typedef struct ix_slot {
    uint64_t id;
    uint64_t due_ns;
    bool measured;
    unsigned callbacks;
} ix_slot;

static int slot_cmp(const void *a, const void *b)
{
    uint64_t x = ((const ix_slot *)a)->id, y = ((const ix_slot *)b)->id;
    return x < y ? -1 : x > y;
}

static ix_slot *slot_find(ix_slot *s, size_t n, uint64_t id)
{
    ix_slot key = {.id = id};
    return bsearch(&key, s, n, sizeof *s, slot_cmp);
}

typedef struct stand {
    fake_discord *fd;
    rt_system *sys;
    discord_rest *rest;
    router *rt;
    gateway *gw;
    direct dir;
    _Atomic uint64_t sink_count;
} stand;

static int stand_up(stand *s, variant v, char *err, size_t errlen)
{
    memset(s, 0, sizeof *s);
    /* A long deadline: an overloaded run is still measured; lateness is counted here instead. */
    fake_discord_options fo = {.token = TOKEN, .callback_deadline_ms = 600000};
    s->fd = fake_discord_start(&fo);
    if (!s->fd) {
        snprintf(err, errlen, "fake Discord did not start");
        return -1;
    }
    s->sys = rt_system_new();
    discord_rest_config dc = {.api_base = fake_discord_api_base(s->fd), .token = TOKEN};
    s->rest = discord_rest_new(s->sys, &dc);
    if (!s->rest) {
        snprintf(err, errlen, "REST actor not created");
        return -1;
    }
    rt_actor *target;
    if (v == V_ROUTER) {
        rt_actor_spec ss = {.name = "bench_stats_sink",
                            .threads = 1,
                            .lane_capacity = 64,
                            .state = &s->sink_count,
                            .ops = {.on_message = sink_on_message}};
        rt_actor *sink = rt_actor_new(s->sys, &ss);
        router_config rc = {.threads = g_opt.threads,
                            .rest = discord_rest_actor(s->rest),
                            .stats = g_opt.cmd == CMD_BAD_STATS ? sink : NULL};
        s->rt = sink ? router_new(s->sys, &rc) : NULL;
        if (!s->rt) {
            snprintf(err, errlen, "router not created");
            return -1;
        }
        target = router_actor(s->rt);
    } else {
        s->dir.rest = discord_rest_actor(s->rest);
        rt_actor_spec ds = {.name = "bench_direct",
                            .threads = g_opt.threads,
                            .lane_capacity = 1024,
                            .state = &s->dir,
                            .ops = {.on_message = direct_on_message}};
        target = s->dir.self = rt_actor_new(s->sys, &ds);
        if (!target) {
            snprintf(err, errlen, "direct actor not created");
            return -1;
        }
    }
    gateway_config gc = {.token = TOKEN,
                         .api_base = fake_discord_api_base(s->fd),
                         .shard_id = -1,
                         .compress = true, /* the bot's default */
                         .target = target,
                         .stop_grace_ms = 500};
    s->gw = gateway_new(s->sys, &gc);
    if (!s->gw) {
        snprintf(err, errlen, "gateway not created");
        return -1;
    }
    if (rt_system_start(s->sys) != 0) {
        snprintf(err, errlen, "actors did not start");
        return -1;
    }
    uint64_t until = bench_now_ns() + 10000000000ull;
    for (;;) {
        gateway_counters gs;
        gateway_counters_get(s->gw, &gs);
        if (gs.shards_active >= 1) return 0;
        if (gs.fatal_code || bench_now_ns() > until) {
            snprintf(err, errlen, "gateway not ready (fatal code %d)", gs.fatal_code);
            return -1;
        }
        bench_sleep_until_ns(bench_now_ns() + 5000000ull);
    }
}

static void stand_down(stand *s)
{
    if (s->sys) {
        rt_system_stop(s->sys);
        rt_system_free(s->sys);
    }
    gateway_free(s->gw);
    router_free(s->rt);
    discord_rest_free(s->rest);
    fake_discord_stop(s->fd);
}

static int inject(stand *s, fake_discord_ix *out)
{
    if (g_opt.cmd == CMD_BAD_STATS)
        return fake_discord_inject_command(
            s->fd, "stats", "[{\"name\":\"days\",\"type\":4,\"value\":0}]", NULL, 0, NULL, out);
    return fake_discord_inject_command(s->fd, "benchping", NULL, NULL, 0, NULL, out);
}

static void run_one(variant v, double rate, result *res)
{
    memset(res, 0, sizeof *res);
    res->rate = rate;
    stand s;
    if (stand_up(&s, v, res->error, sizeof res->error) != 0) {
        stand_down(&s);
        return;
    }
    uint64_t nwarm = (uint64_t)(rate * g_opt.warmup);
    e2e_sched sch;
    e2e_sched_init(&sch, bench_now_ns() + 20000000ull, rate, g_opt.seconds + g_opt.warmup);
    if (sch.count <= nwarm) sch.count = nwarm + 1;
    size_t n = (size_t)sch.count;
    ix_slot *slots = calloc(n, sizeof *slots);
    if (!slots) abort();

    /* The injector: everything due is sent at once (catching up after a stall), then sleep to
     * the next due time. */
    uint64_t sent = 0;
    while (sent < n) {
        uint64_t due_by = e2e_sched_due_by(&sch, bench_now_ns());
        if (due_by <= sent) {
            bench_sleep_until_ns(e2e_sched_due(&sch, sent));
            continue;
        }
        for (; sent < due_by; sent++) {
            uint64_t due = e2e_sched_due(&sch, sent);
            fake_discord_ix ix;
            if (inject(&s, &ix) != 0 || ix.sessions < 1) {
                snprintf(res->error, sizeof res->error, "injection %" PRIu64 " failed", sent);
                goto out;
            }
            uint64_t lag = bench_now_ns() - due;
            slots[sent] = (ix_slot){.id = ix.id, .due_ns = due, .measured = sent >= nwarm};
            if (sent >= nwarm && lag > res->inject_lag_ns) res->inject_lag_ns = lag;
        }
    }

    /* Stragglers: at most 5 s after the last injection. */
    fake_rest *fr = fake_discord_rest(s.fd);
    fake_rest_filter flt = {.method = "POST", .path_prefix = "/interactions/"};
    fake_rest_wait(fr, &flt, n, 5000);

    fake_rest_request *reqs = NULL;
    size_t nreq = fake_rest_collect(fr, &flt, &reqs);
    qsort(slots, n, sizeof *slots, slot_cmp);
    hist h;
    hist_init(&h);
    uint64_t first_due = e2e_sched_due(&sch, nwarm), last_seen = first_due;
    for (size_t i = 0; i < nreq; i++) {
        ix_slot *sl = slot_find(slots, n, reqs[i].interaction_id);
        if (!sl) continue;
        if (++sl->callbacks > 1) {
            if (sl->measured) res->duplicates++;
            continue;
        }
        if (!sl->measured) continue;
        if (reqs[i].status < 200 || reqs[i].status >= 300) {
            res->refused++;
            continue;
        }
        uint64_t t = reqs[i].mono_ns;
        uint64_t lat = t > sl->due_ns ? t - sl->due_ns : 0;
        hist_add(&h, lat);
        res->answered++;
        if (lat > DISCORD_WINDOW_NS) res->over_3s++;
        if (t > last_seen) last_seen = t;
    }
    fake_rest_requests_free(reqs, nreq);
    res->sent = n - nwarm;
    for (size_t i = 0; i < n; i++)
        if (slots[i].measured && slots[i].callbacks == 0) res->missing++;
    uint64_t last_due = e2e_sched_due(&sch, n - 1);
    if (last_seen < last_due) last_seen = last_due;
    double window_s = (double)(last_seen - first_due) / 1e9;
    res->throughput = window_s > 0 ? (double)res->answered / window_s : 0;
    res->p50_ns = hist_quantile(&h, 0.5);
    res->p99_ns = hist_quantile(&h, 0.99);
    res->p999_ns = hist_quantile(&h, 0.999);
    res->max_ns = h.total ? h.max : 0;
    res->mean_ns = hist_mean(&h);
    res->unexpected = atomic_load(&s.sink_count);
    res->ran = true;
out:
    free(slots);
    stand_down(&s);
}

/* Kept up: every measured interaction answered once, in Discord's window, at >= 95% of the
 * scheduled rate. */
static bool sustained(const result *r)
{
    return r->ran && r->answered == r->sent && r->duplicates == 0 && r->over_3s == 0 &&
           r->throughput >= 0.95 * r->rate;
}

static double ratio(uint64_t a, uint64_t b)
{
    return b ? (double)a / (double)b : 0;
}

/* ---- output ---------------------------------------------------------------------------------- */

static void print_table(const result (*res)[V_COUNT], unsigned nrun, const char *machine,
                        double elapsed)
{
    printf("fluxbot interaction latency: scheduled send -> callback received by the fake REST "
           "server\n");
    printf("path: fake gateway -ws-> gateway -> {router | direct} -> discord_rest -http-> fake "
           "REST (loopback)\n");
    printf("command: %s\n", command_label());
    printf("machine: %s\n", machine);
    printf("per rate: %.1f s warm-up + %.1f s measured, open loop; %u thread(s) in router and "
           "direct; analytics off\n\n",
           g_opt.warmup, g_opt.seconds, g_opt.threads);
    printf("%7s %-7s %6s %6s %9s %9s %9s %9s %9s %7s %5s   %6s %6s\n", "rate/s", "path", "sent",
           "ok", "p50 us", "p99 us", "p99.9 us", "max us", "done/s", "lag ms", "kept", "p50 x",
           "p99 x");
    for (unsigned i = 0; i < nrun; i++) {
        for (int v = 0; v < V_COUNT; v++) {
            const result *r = &res[i][v];
            if (!r->ran) {
                printf("%7.0f %-7s  failed: %s\n", r->rate, variant_names[v], r->error);
                continue;
            }
            printf("%7.0f %-7s %6" PRIu64 " %6" PRIu64 " %9.0f %9.0f %9.0f %9.0f %9.1f %7.1f %5s",
                   r->rate, variant_names[v], r->sent, r->answered, r->p50_ns / 1e3,
                   r->p99_ns / 1e3, r->p999_ns / 1e3, r->max_ns / 1e3, r->throughput,
                   r->inject_lag_ns / 1e6, sustained(r) ? "yes" : "NO");
            if (v == V_ROUTER && res[i][V_DIRECT].ran)
                printf("   %6.2f %6.2f", ratio(r->p50_ns, res[i][V_DIRECT].p50_ns),
                       ratio(r->p99_ns, res[i][V_DIRECT].p99_ns));
            printf("\n");
            if (r->duplicates || r->refused || r->missing || r->over_3s || r->unexpected)
                printf("%15s duplicates %" PRIu64 ", refused %" PRIu64 ", missing %" PRIu64
                       ", over 3 s %" PRIu64 ", unexpected deferrals %" PRIu64 "\n",
                       "", r->duplicates, r->refused, r->missing, r->over_3s, r->unexpected);
        }
    }
    for (int v = 0; v < V_COUNT; v++) {
        double best = 0;
        for (unsigned i = 0; i < nrun; i++)
            if (sustained(&res[i][v]) && res[i][v].rate > best) best = res[i][v].rate;
        printf("%s highest rate sustained: %.0f/s\n", variant_names[v], best);
    }
    printf("\n(x = router / direct at the same rate; kept = all answered once, none over 3 s, "
           ">= 95%% of the rate;\n lag = worst delay of an injection behind its schedule (the "
           "load generator's own limit);\n latency includes the fake's injection and the "
           "loopback hops; %.1f s total)\n",
           elapsed);
    if (nrun < g_opt.nrates)
        printf("(stopped after %u of %u rates: the --budget of %.0f s was reached)\n", nrun,
               g_opt.nrates, g_opt.budget);
}

static void json_string(const char *s)
{
    putchar('"');
    for (; *s; s++) {
        if (*s == '"' || *s == '\\')
            printf("\\%c", *s);
        else if ((unsigned char)*s < 0x20)
            printf("\\u%04x", *s);
        else
            putchar(*s);
    }
    putchar('"');
}

static void json_result(const result *r)
{
    printf("{\"ok\": %s", r->ran ? "true" : "false");
    if (!r->ran) {
        printf(", \"error\": ");
        json_string(r->error);
        printf("}");
        return;
    }
    printf(", \"sent\": %" PRIu64 ", \"answered\": %" PRIu64 ", \"duplicates\": %" PRIu64
           ", \"refused\": %" PRIu64 ", \"missing\": %" PRIu64 ", \"over_3s\": %" PRIu64
           ", \"p50_us\": %.1f, \"p99_us\": %.1f, \"p999_us\": %.1f, \"max_us\": %.1f"
           ", \"mean_us\": %.1f, \"throughput_per_s\": %.1f, \"sustained\": %s"
           ", \"inject_lag_max_us\": %.1f, \"unexpected_deferrals\": %" PRIu64 "}",
           r->sent, r->answered, r->duplicates, r->refused, r->missing, r->over_3s, r->p50_ns / 1e3,
           r->p99_ns / 1e3, r->p999_ns / 1e3, r->max_ns / 1e3, r->mean_ns / 1e3, r->throughput,
           sustained(r) ? "true" : "false", r->inject_lag_ns / 1e3, r->unexpected);
}

static void print_json(const result (*res)[V_COUNT], unsigned nrun, const char *machine,
                       double elapsed)
{
    printf("{\"bench\": \"interactions\", \"command\": ");
    json_string(command_label());
    printf(", \"machine\": ");
    json_string(machine);
    printf(", \"warmup_s\": %.2f, \"seconds\": %.2f, \"threads\": %u, \"elapsed_s\": %.1f, "
           "\"rates\": [",
           g_opt.warmup, g_opt.seconds, g_opt.threads, elapsed);
    for (unsigned i = 0; i < nrun; i++) {
        const result *r = &res[i][V_ROUTER], *d = &res[i][V_DIRECT];
        printf("%s{\"rate\": %.0f, \"router\": ", i ? ", " : "", r->rate);
        json_result(r);
        printf(", \"direct\": ");
        json_result(d);
        printf(", \"ratio_p50\": %.3f, \"ratio_p99\": %.3f, \"ratio_throughput\": %.3f}",
               ratio(r->p50_ns, d->p50_ns), ratio(r->p99_ns, d->p99_ns),
               d->throughput > 0 ? r->throughput / d->throughput : 0);
    }
    printf("]");
    for (int v = 0; v < V_COUNT; v++) {
        double best = 0;
        for (unsigned i = 0; i < nrun; i++)
            if (sustained(&res[i][v]) && res[i][v].rate > best) best = res[i][v].rate;
        printf(", \"%s_max_sustained_per_s\": %.0f", variant_names[v], best);
    }
    printf(", \"complete\": %s}\n", nrun == g_opt.nrates ? "true" : "false");
}

/* ---- main ---------------------------------------------------------------------------------- */

static int parse_rates(const char *s)
{
    g_opt.nrates = 0;
    while (*s) {
        char *end;
        double r = strtod(s, &end);
        if (end == s || r <= 0 || r > 100000 || g_opt.nrates == MAX_RATES) return -1;
        g_opt.rates[g_opt.nrates++] = r;
        if (*end == ',')
            end++;
        else if (*end)
            return -1;
        s = end;
    }
    return g_opt.nrates ? 0 : -1;
}

static int usage(const char *argv0)
{
    fprintf(stderr,
            "usage: %s [--json] [--rates R1,R2,...] [--seconds S] [--warmup S]\n"
            "          [--command stats|unknown] [--threads N] [--budget S]\n"
            "defaults: --rates 50,200,800,3200,12800 --seconds 2.5 --warmup 0.5 --command stats\n"
            "          --threads 2 --budget 55 (no new rate is started after the budget)\n",
            argv0);
    return 2;
}

int main(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        bool has = i + 1 < argc;
        if (!strcmp(a, "--json")) {
            g_opt.json = true;
        } else if (!strcmp(a, "--rates") && has) {
            if (parse_rates(argv[++i]) != 0) return usage(argv[0]);
        } else if (!strcmp(a, "--seconds") && has) {
            g_opt.seconds = atof(argv[++i]);
        } else if (!strcmp(a, "--warmup") && has) {
            g_opt.warmup = atof(argv[++i]);
        } else if (!strcmp(a, "--budget") && has) {
            g_opt.budget = atof(argv[++i]);
        } else if (!strcmp(a, "--threads") && has) {
            g_opt.threads = (unsigned)atoi(argv[++i]);
        } else if (!strcmp(a, "--command") && has) {
            const char *c = argv[++i];
            if (!strcmp(c, "stats"))
                g_opt.cmd = CMD_BAD_STATS;
            else if (!strcmp(c, "unknown"))
                g_opt.cmd = CMD_UNKNOWN;
            else
                return usage(argv[0]);
        } else {
            return usage(argv[0]);
        }
    }
    if (g_opt.seconds <= 0 || g_opt.seconds > 600 || g_opt.warmup < 0 || g_opt.warmup > 60 ||
        g_opt.threads < 1 || g_opt.threads > 64 || g_opt.budget <= 0)
        return usage(argv[0]);

    log_configure(LOG_LEVEL_ERROR, false, 2);
    lws_set_log_level(LLL_ERR, NULL);
    curl_global_init(CURL_GLOBAL_DEFAULT);
    char machine[256];
    e2e_machine(machine, sizeof machine);

    static result res[MAX_RATES][V_COUNT];
    uint64_t t0 = bench_now_ns();
    unsigned nrun = 0;
    for (unsigned i = 0; i < g_opt.nrates; i++) {
        if ((double)(bench_now_ns() - t0) / 1e9 > g_opt.budget) break;
        /* Alternate which variant goes first, so neither always inherits the other's
         * leftovers (page cache, CPU frequency, a neighbour's burst). */
        for (int k = 0; k < V_COUNT; k++) {
            int v = (i % 2) ? V_COUNT - 1 - k : k;
            run_one((variant)v, g_opt.rates[i], &res[i][v]);
            if (!g_opt.json)
                fprintf(stderr, "  %.0f/s %s: %s\n", g_opt.rates[i], variant_names[v],
                        res[i][v].ran ? "done" : res[i][v].error);
        }
        nrun++;
    }
    double elapsed = (double)(bench_now_ns() - t0) / 1e9;
    if (g_opt.json)
        print_json(res, nrun, machine, elapsed);
    else
        print_table(res, nrun, machine, elapsed);
    curl_global_cleanup();
    int failed = 0;
    for (unsigned i = 0; i < nrun; i++)
        for (int v = 0; v < V_COUNT; v++)
            if (!res[i][v].ran) failed = 1;
    return failed;
}
