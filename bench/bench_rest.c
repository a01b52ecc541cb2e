/*
 * REST benchmark, all in one run:
 *  - rate-limiter decisions (acquire + complete with synthetic headers) per second, next to the
 *    cost of deriving the route alone;
 *  - the discord_rest actor against the loopback fake Discord REST server, beside a plain
 *    sequential curl-easy client (one handle, keep-alive) sending the same requests:
 *    interaction callbacks (small JSON), webhook edits with a 100 KB multipart upload, and
 *    callbacks with 20 ms of added server latency (a real Discord round trip is 20-150 ms; on
 *    loopback nothing waits, so concurrency cannot show there).
 *
 *   bench_rest [--json] [--requests N] [--uploads M] [--slow K] [--repeat R]
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>

#include "actors/discord_rest.h"
#include "discord/rl.h"
#include "fakes/fake_rest.h"
#include "fluxbot/log.h"
#include "fluxbot/runtime.h"
#include "bench_util.h"
#include "hist.h"
#include "msgs/rest.h"

#define TOKEN "bench-token"
#define APP 4242
#define NROWS 3

static unsigned g_requests = 2000;
static unsigned g_uploads = 200;
static unsigned g_slow = 200;
static unsigned g_repeat = 3;
static unsigned g_ix_seq = 1;

/* ---- limiter ----------------------------------------------------------------------------------
 */

static double bench_route_only(unsigned n)
{
    char path[96];
    rl_route r;
    uint64_t t0 = rt_now_ns();
    for (unsigned i = 0; i < n; i++) {
        snprintf(path, sizeof path, "/interactions/%u/tok%u/callback", 1000 + i % 5000, i % 5000);
        rl_route_of("POST", path, &r);
    }
    return n / ((rt_now_ns() - t0) / 1e9);
}

static double bench_limiter(unsigned n)
{
    rl_limiter *l = rl_new(NULL);
    rl_headers h;
    rl_headers_init(&h);
    const char *lines[] = {"X-RateLimit-Limit: 5", "X-RateLimit-Remaining: 4",
                           "X-RateLimit-Reset-After: 1.000", "X-RateLimit-Bucket: abcdef"};
    for (int i = 0; i < 4; i++)
        rl_headers_feed(&h, lines[i], strlen(lines[i]));
    char path[96];
    rl_ticket t;
    uint64_t fake_now = 1000, t0 = rt_now_ns();
    for (unsigned i = 0; i < n; i++) {
        /* 5000 interactions and 50 channels in rotation: realistic bucket churn. */
        if (i % 10 == 0)
            snprintf(path, sizeof path, "/channels/%u/messages", 1 + i % 50);
        else
            snprintf(path, sizeof path, "/interactions/%u/tok%u/callback", 1000 + i % 5000,
                     i % 5000);
        rl_ticket_init(&t, "POST", path);
        uint64_t wake;
        if (rl_acquire(l, &t, fake_now, &wake) == RL_SEND) rl_complete(l, &t, 204, &h, fake_now);
        fake_now += (i % 64 == 0); /* time moves: windows expire, GC runs */
    }
    double rate = n / ((rt_now_ns() - t0) / 1e9);
    rl_free(l);
    return rate;
}

/* ---- actor vs sequential curl ------------------------------------------------------------------
 */

typedef struct sink {
    _Atomic uint64_t got;
    _Atomic uint64_t ok;
    uint64_t *sent_ns; /* indexed by cookie */
    hist lat;
    pthread_mutex_t mu;
} sink;

static void sink_on_message(rt_actor *self, void *state, rt_msg *m)
{
    (void)self;
    sink *s = state;
    if (m->type == MSG_REST_RES) {
        rest_res_msg *r = (rest_res_msg *)m;
        uint64_t t = rt_now_ns();
        pthread_mutex_lock(&s->mu);
        hist_add(&s->lat, t - s->sent_ns[r->cookie]);
        pthread_mutex_unlock(&s->mu);
        if (r->status >= 200 && r->status < 300) atomic_fetch_add(&s->ok, 1);
        atomic_fetch_add(&s->got, 1);
    }
    rt_msg_free(m);
}

typedef struct workload {
    bool upload; /* webhook edit with a multipart file, else a callback */
    uint8_t *file;
    size_t file_len;
    uint32_t server_ms; /* added server latency per request, like a real round trip */
} workload;

/* Registers n fresh interactions (acknowledged already when the workload edits @original) and
 * fills their paths. */
static char **prepare(fake_rest *f, unsigned n, const workload *w)
{
    char **paths = calloc(n, sizeof *paths);
    CURL *c = w->upload ? curl_easy_init() : NULL;
    for (unsigned i = 0; i < n; i++) {
        unsigned id = g_ix_seq++;
        char tok[32], p[128];
        snprintf(tok, sizeof tok, "btok%u", id);
        fake_rest_register_interaction(f, id, tok, 7, false);
        if (w->upload) {
            /* Defer first, so there is an @original to edit. */
            char url[256];
            snprintf(url, sizeof url, "%s/interactions/%u/%s/callback", fake_rest_base_url(f), id,
                     tok);
            struct curl_slist *h = curl_slist_append(NULL, "Content-Type: application/json");
            curl_easy_setopt(c, CURLOPT_URL, url);
            curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
            curl_easy_setopt(c, CURLOPT_POSTFIELDS, "{\"type\":5}");
            curl_easy_perform(c);
            curl_slist_free_all(h);
            snprintf(p, sizeof p, "/webhooks/%u/%s/messages/@original", APP, tok);
        } else {
            snprintf(p, sizeof p, "/interactions/%u/%s/callback", id, tok);
        }
        paths[i] = strdup(p);
    }
    if (c) curl_easy_cleanup(c);
    return paths;
}

static void free_paths(char **p, unsigned n)
{
    for (unsigned i = 0; i < n; i++)
        free(p[i]);
    free(p);
}

static const char *CALLBACK_JSON = "{\"type\":5,\"data\":{\"flags\":64}}";
static const char *EDIT_JSON = "{\"content\":\"done\",\"attachments\":[{\"id\":0,\"filename\":"
                               "\"out.png\"}]}";

static size_t discard(char *p, size_t s, size_t n, void *u)
{
    (void)p;
    (void)u;
    return s * n;
}

/* Sequential curl-easy baseline: one handle, one connection, one request at a time. */
static double run_baseline(fake_rest *f, unsigned n, const workload *w, hist *lat)
{
    char **paths = prepare(f, n, w);
    if (w->server_ms)
        fake_rest_script(f, NULL, "/interactions/", FAKE_REST_FAULT_DELAY, w->server_ms, n);
    CURL *c = curl_easy_init();
    struct curl_slist *h = curl_slist_append(NULL, "Expect:");
    if (!w->upload) h = curl_slist_append(h, "Content-Type: application/json");
    uint64_t t0 = rt_now_ns();
    for (unsigned i = 0; i < n; i++) {
        char url[256];
        snprintf(url, sizeof url, "%s%s", fake_rest_base_url(f), paths[i]);
        uint64_t s = rt_now_ns();
        curl_easy_setopt(c, CURLOPT_URL, url);
        curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
        curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, discard);
        curl_mime *mime = NULL;
        if (w->upload) {
            mime = curl_mime_init(c);
            curl_mimepart *p = curl_mime_addpart(mime);
            curl_mime_name(p, "payload_json");
            curl_mime_data(p, EDIT_JSON, CURL_ZERO_TERMINATED);
            curl_mime_type(p, "application/json");
            p = curl_mime_addpart(mime);
            curl_mime_name(p, "files[0]");
            curl_mime_filename(p, "out.png");
            curl_mime_type(p, "image/png");
            curl_mime_data(p, (const char *)w->file, w->file_len);
            curl_easy_setopt(c, CURLOPT_MIMEPOST, mime);
            curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, "PATCH");
        } else {
            curl_easy_setopt(c, CURLOPT_POSTFIELDS, CALLBACK_JSON);
        }
        curl_easy_perform(c);
        curl_mime_free(mime);
        hist_add(lat, rt_now_ns() - s);
    }
    double rate = n / ((rt_now_ns() - t0) / 1e9);
    curl_slist_free_all(h);
    curl_easy_cleanup(c);
    free_paths(paths, n);
    return rate;
}

/* The actor: all n requests are handed over at once, as a burst of interactions would. */
static double run_actor(fake_rest *f, unsigned n, const workload *w, hist *lat, uint64_t *ok_out)
{
    char **paths = prepare(f, n, w);
    if (w->server_ms)
        fake_rest_script(f, NULL, "/interactions/", FAKE_REST_FAULT_DELAY, w->server_ms, n);
    rt_system *sys = rt_system_new();
    sink s = {0};
    s.sent_ns = calloc(n, sizeof *s.sent_ns);
    hist_init(&s.lat);
    pthread_mutex_init(&s.mu, NULL);
    rt_actor_spec ss = {.name = "sink",
                        .threads = 1,
                        .lane_capacity = 8192,
                        .state = &s,
                        .ops = {.on_message = sink_on_message}};
    rt_actor *sa = rt_actor_new(sys, &ss);
    discord_rest_config dc = {
        .api_base = fake_rest_base_url(f), .token = TOKEN, .lane_capacity = 8192};
    discord_rest *d = discord_rest_new(sys, &dc);
    rt_system_start(sys);
    uint64_t t0 = rt_now_ns();
    for (unsigned i = 0; i < n; i++) {
        rest_req_msg *m = rest_req_msg_new(w->upload ? REST_PATCH : REST_POST, paths[i],
                                           w->upload ? EDIT_JSON : CALLBACK_JSON);
        if (w->upload) rest_req_add_file(m, "out.png", "image/png", w->file, w->file_len);
        m->reply_to = sa;
        m->cookie = i;
        s.sent_ns[i] = rt_now_ns();
        while (rt_send_wait(discord_rest_actor(d), &m->hdr, 1000) != 0) {
        }
    }
    while (atomic_load(&s.got) < n) {
        struct timespec ts = {0, 200000};
        nanosleep(&ts, NULL);
    }
    double rate = n / ((rt_now_ns() - t0) / 1e9);
    rt_system_stop(sys);
    rt_system_free(sys);
    discord_rest_free(d);
    *lat = s.lat;
    *ok_out = atomic_load(&s.ok);
    free(s.sent_ns);
    pthread_mutex_destroy(&s.mu);
    free_paths(paths, n);
    return rate;
}

typedef struct row {
    const char *name;
    unsigned n;
    double base_rate, actor_rate;
    hist base_lat, actor_lat;
    uint64_t actor_ok;
} row;

static void run_row(fake_rest *f, row *r, const workload *w)
{
    double b[16], a[16];
    for (unsigned k = 0; k < g_repeat; k++) {
        hist_init(&r->base_lat);
        b[k] = run_baseline(f, r->n, w, &r->base_lat);
        a[k] = run_actor(f, r->n, w, &r->actor_lat, &r->actor_ok);
    }
    r->base_rate = bench_median(b, g_repeat);
    r->actor_rate = bench_median(a, g_repeat);
}

int main(int argc, char **argv)
{
    bool json = false;
    const bench_arg args[] = {{"--json", BENCH_FLAG, &json},
                              {"--requests", BENCH_UNSIGNED, &g_requests},
                              {"--slow", BENCH_UNSIGNED, &g_slow},
                              {"--uploads", BENCH_UNSIGNED, &g_uploads},
                              {"--repeat", BENCH_UNSIGNED, &g_repeat}};
    if (!bench_args(argc, argv, args, 5,
                    "[--json] [--requests N] [--uploads M] [--slow K] [--repeat R]"))
        return 2;
    if (g_repeat < 1) g_repeat = 1;
    if (g_repeat > 16) g_repeat = 16;
    log_configure(LOG_LEVEL_ERROR, false, 2);
    curl_global_init(CURL_GLOBAL_DEFAULT);

    unsigned nd = 2000000;
    double route_rate[16], lim_rate[16];
    for (unsigned k = 0; k < g_repeat; k++) {
        route_rate[k] = bench_route_only(nd);
        lim_rate[k] = bench_limiter(nd);
    }
    double rr = bench_median(route_rate, g_repeat), lr = bench_median(lim_rate, g_repeat);

    fake_rest_config fc = {.token = TOKEN, .application_id = APP, .callback_deadline_ms = 600000};
    fake_rest *f = fake_rest_start(&fc);
    if (!f) return 1;
    workload cb = {.upload = false};
    workload up = {.upload = true, .file_len = 100 * 1024};
    up.file = malloc(up.file_len);
    for (size_t i = 0; i < up.file_len; i++)
        up.file[i] = (uint8_t)(i * 7919u >> 3);
    workload slow = {.upload = false, .server_ms = 20};
    row rows[NROWS] = {{.name = "interaction callbacks", .n = g_requests},
                       {.name = "webhook edits + 100 KB upload", .n = g_uploads},
                       {.name = "callbacks, 20 ms server latency", .n = g_slow}};
    run_row(f, &rows[0], &cb);
    run_row(f, &rows[1], &up);
    run_row(f, &rows[2], &slow);
    fake_rest_stop(f);
    free(up.file);

    if (json) {
        printf("{\n  \"limiter_decisions_per_s\": %.0f,\n  \"route_only_per_s\": %.0f,\n", lr, rr);
        printf("  \"rounds\": %u,\n  \"workloads\": [\n", g_repeat);
        for (int i = 0; i < NROWS; i++) {
            row *r = &rows[i];
            printf("    {\"name\": \"%s\", \"requests\": %u, \"baseline_curl_easy_req_per_s\": "
                   "%.0f, \"actor_req_per_s\": %.0f, \"ratio_actor_vs_baseline\": %.2f, "
                   "\"actor_ok\": %llu, \"baseline_p50_us\": %.0f, \"baseline_p99_us\": %.0f, "
                   "\"actor_p50_us\": %.0f, \"actor_p99_us\": %.0f}%s\n",
                   r->name, r->n, r->base_rate, r->actor_rate, r->actor_rate / r->base_rate,
                   (unsigned long long)r->actor_ok, hist_quantile(&r->base_lat, 0.5) / 1e3,
                   hist_quantile(&r->base_lat, 0.99) / 1e3, hist_quantile(&r->actor_lat, 0.5) / 1e3,
                   hist_quantile(&r->actor_lat, 0.99) / 1e3, i + 1 < NROWS ? "," : "");
        }
        printf("  ]\n}\n");
    } else {
        printf("fluxbot REST benchmark (median of %u rounds)\n\n", g_repeat);
        printf("rate limiter: %.2f M decisions/s (acquire + complete), route derivation alone "
               "%.2f M/s\n\n",
               lr / 1e6, rr / 1e6);
        printf("%-32s %8s %16s %16s %7s %22s %22s\n", "against the fake REST server", "requests",
               "curl-easy seq/s", "REST actor/s", "ratio", "seq p50/p99 (us)",
               "actor p50/p99 (us)");
        for (int i = 0; i < NROWS; i++) {
            row *r = &rows[i];
            printf("%-32s %8u %16.0f %16.0f %6.2fx %10.0f / %-9.0f %10.0f / %-9.0f\n", r->name,
                   r->n, r->base_rate, r->actor_rate, r->actor_rate / r->base_rate,
                   hist_quantile(&r->base_lat, 0.5) / 1e3, hist_quantile(&r->base_lat, 0.99) / 1e3,
                   hist_quantile(&r->actor_lat, 0.5) / 1e3,
                   hist_quantile(&r->actor_lat, 0.99) / 1e3);
        }
        printf("\n(actor latency: hand-over of the whole burst to the answer; actor successes: "
               "%llu/%u, %llu/%u, %llu/%u)\n",
               (unsigned long long)rows[0].actor_ok, rows[0].n,
               (unsigned long long)rows[1].actor_ok, rows[1].n,
               (unsigned long long)rows[2].actor_ok, rows[2].n);
    }
    curl_global_cleanup();
    return 0;
}
