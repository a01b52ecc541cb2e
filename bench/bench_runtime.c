/*
 * Runtime benchmark: raw ck_ring hops (the baseline) against actor mailboxes with parking, in
 * the same run. Both carry the same pooled messages (allocated by the producer, freed by the
 * consumer), so the ratio is the mailbox's own overhead: lanes, counters, parking checks. A bare
 * integer ring is shown too, for scale; ping-pong latency between two actors inside the spin window
 * and fully parked, driven at a fixed rate with latency taken from the intended send time; idle
 * CPU.
 *
 *   bench_runtime [--json] [--messages N] [--idle-seconds S]
 */
#include <ck_ring.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "fluxbot/log.h"
#include "fluxbot/runtime.h"
#include "bench_util.h"
#include "hist.h"

enum { MSG_BENCH = 990, MSG_PING = 991, MSG_PONG = 992 };

static uint64_t g_messages = 2000000;
static unsigned g_repeat = 5;

static unsigned g_idle_seconds = 5;

/* ---- raw ring baseline ------------------------------------------------------------------- */

typedef struct raw_ctx {
    ck_ring_t ring;
    ck_ring_buffer_t *buf;
    bool mpmc;
    bool messages; /* carry real pooled messages, as the mailbox does, or bare integers */
    uint64_t per_producer;
    _Atomic unsigned ready;
} raw_ctx;

static void *raw_producer(void *p)
{
    raw_ctx *c = p;
    for (uint64_t i = 1; i <= c->per_producer; i++) {
        void *v = c->messages ? (void *)rt_msg_new(MSG_BENCH, sizeof(rt_msg), NULL)
                              : (void *)(uintptr_t)i;
        if (c->mpmc) {
            while (!ck_ring_enqueue_mpmc(&c->ring, c->buf, v))
                sched_yield();
        } else {
            while (!ck_ring_enqueue_spsc(&c->ring, c->buf, v))
                sched_yield();
        }
    }
    return NULL;
}

/* Messages per second through one ring with `producers` producer threads and this thread as
 * the consumer. Yields on empty/full so two threads on two cores behave as actors would. */
static double raw_ring(unsigned producers, bool messages)
{
    raw_ctx c;
    memset(&c, 0, sizeof c);
    c.messages = messages;
    c.buf = calloc(1024, sizeof(ck_ring_buffer_t));
    ck_ring_init(&c.ring, 1024);
    c.mpmc = producers > 1;
    c.per_producer = g_messages / producers;
    pthread_t th[4];
    uint64_t t0 = rt_now_ns();
    for (unsigned i = 0; i < producers; i++)
        pthread_create(&th[i], NULL, raw_producer, &c);
    uint64_t want = c.per_producer * producers, got = 0;
    void *v;
    while (got < want) {
        bool ok = c.mpmc ? ck_ring_dequeue_mpmc(&c.ring, c.buf, &v)
                         : ck_ring_dequeue_spsc(&c.ring, c.buf, &v);
        if (ok) {
            got++;
            if (messages) rt_msg_free(v);
        } else
            sched_yield();
    }
    uint64_t dt = rt_now_ns() - t0;
    for (unsigned i = 0; i < producers; i++)
        pthread_join(th[i], NULL);
    free(c.buf);
    return (double)want / ((double)dt / 1e9);
}

/* ---- actor mailbox throughput ------------------------------------------------------------ */

typedef struct sink_state {
    _Atomic uint64_t count;
    _Atomic uint32_t done_word;
    uint64_t want;
} sink_state;

static void sink_on_message(rt_actor *self, void *st, rt_msg *m)
{
    (void)self;
    sink_state *s = st;
    rt_msg_free(m);
    /* One consumer thread: a plain increment, as the raw ring's consumer counts (a locked
     * add here would be the benchmark's cost, not the mailbox's). */
    uint64_t n = atomic_load_explicit(&s->count, memory_order_relaxed) + 1;
    atomic_store_explicit(&s->count, n, memory_order_relaxed);
    if (n == s->want) atomic_store(&s->done_word, 1);
}

typedef struct mbox_prod {
    rt_actor *to;
    uint64_t n;
} mbox_prod;

static void *mbox_producer(void *p)
{
    mbox_prod *a = p;
    for (uint64_t i = 0; i < a->n; i++) {
        rt_msg *m = rt_msg_new(MSG_BENCH, sizeof(rt_msg), NULL);
        while (rt_send(a->to, m) == -RT_EFULL)
            sched_yield();
    }
    return NULL;
}

static double actor_mailbox(unsigned producers, bool scheduled, rt_metrics *out)
{
    sink_state s;
    memset(&s, 0, sizeof s);
    uint64_t per = g_messages / producers;
    s.want = per * producers;
    rt_system *sys = rt_system_new();
    rt_actor_spec spec = {.name = "sink",
                          .threads = 1,
                          .lane_capacity = 1024,
                          .state = &s,
                          .ops = {.on_message = sink_on_message}};
    rt_actor *a = rt_actor_new(sys, &spec);
    if (scheduled) rt_actor_schedule(a);
    rt_system_start(sys);
    pthread_t th[4];
    mbox_prod args[4];
    uint64_t t0 = rt_now_ns();
    for (unsigned i = 0; i < producers; i++) {
        args[i] = (mbox_prod){a, per};
        pthread_create(&th[i], NULL, mbox_producer, &args[i]);
    }
    while (!atomic_load(&s.done_word)) {
        struct timespec ts = {0, 100000};
        nanosleep(&ts, NULL);
    }
    uint64_t dt = rt_now_ns() - t0;
    for (unsigned i = 0; i < producers; i++)
        pthread_join(th[i], NULL);
    rt_system_stop(sys);
    rt_actor_metrics(a, out);
    rt_system_free(sys);
    return (double)s.want / ((double)dt / 1e9);
}

/* ---- ping-pong latency ------------------------------------------------------------------- */

typedef struct ping_msg {
    rt_msg hdr;
    uint64_t scheduled_ns;
} ping_msg;

typedef struct pp_state {
    rt_actor *peer; /* for A: B; for B: A */
    hist *h;        /* A only */
    _Atomic uint64_t done;
} pp_state;

static void pp_on_message(rt_actor *self, void *st, rt_msg *m)
{
    (void)self;
    pp_state *s = st;
    ping_msg *p = (ping_msg *)m;
    if (m->type == MSG_PING) { /* driver → A: start a round trip */
        m->type = MSG_PONG;
        rt_send_spill(s->peer, m);
    } else if (s->h) { /* B → A: round trip complete */
        hist_add(s->h, rt_now_ns() - p->scheduled_ns);
        atomic_fetch_add(&s->done, 1);
        rt_msg_free(m);
    } else { /* A → B: bounce back */
        rt_send_spill(s->peer, m);
    }
}

static void precise_sleep_until(uint64_t t)
{
    uint64_t now = rt_now_ns();
    if (t > now + 200000) {
        struct timespec ts = {(time_t)((t - now - 100000) / 1000000000u),
                              (long)((t - now - 100000) % 1000000000u)};
        nanosleep(&ts, NULL);
    }
    /* Yield while waiting: a pure spin would hold its core for a whole scheduler slice
     * whenever an actor's cooperative spin yields to it, and measure the driver, not us. */
    while (rt_now_ns() < t)
        sched_yield();
}

/* Round trips A → B → A started at a fixed rate by this thread; latency from the scheduled
 * start, so a stall shows up in every request it delays (no coordinated omission). */
static void ping_pong(uint64_t interval_ns, unsigned rounds, hist *h, bool scheduled)
{
    rt_system *sys = rt_system_new();
    pp_state sa = {0}, sb = {0};
    sa.h = h;
    rt_actor_spec spa = {
        .name = "A", .threads = 1, .state = &sa, .ops = {.on_message = pp_on_message}};
    rt_actor_spec spb = {
        .name = "B", .threads = 1, .state = &sb, .ops = {.on_message = pp_on_message}};
    rt_actor *a = rt_actor_new(sys, &spa), *b = rt_actor_new(sys, &spb);
    sa.peer = b;
    sb.peer = a;
    if (scheduled) { /* both on the one worker: A <-> B are local hops */
        rt_actor_schedule(a);
        rt_actor_schedule(b);
    }
    rt_system_start(sys);
    uint64_t start = rt_now_ns() + 1000000;
    for (unsigned i = 0; i < rounds; i++) {
        uint64_t t = start + i * interval_ns;
        precise_sleep_until(t);
        ping_msg *p = RT_MSG_NEW(ping_msg, MSG_PING, NULL);
        p->scheduled_ns = t;
        rt_send_spill(a, &p->hdr);
    }
    while (atomic_load(&sa.done) < rounds)
        sched_yield();
    rt_system_free(sys);
}

/* ---- hops between two actors on one worker ----------------------------------------------- */

typedef struct hop_state {
    rt_actor *peer;
    _Atomic uint64_t *hops;
    uint64_t want;
    _Atomic uint32_t *done;
} hop_state;

static void hop_on_message(rt_actor *self, void *st, rt_msg *m)
{
    (void)self;
    hop_state *s = st;
    if (atomic_fetch_add_explicit(s->hops, 1, memory_order_relaxed) + 1 >= s->want) {
        rt_msg_free(m);
        atomic_store(s->done, 1);
        return;
    }
    /* A fresh message per hop, as the raw ring's producer allocates one per slot. */
    rt_msg_free(m);
    rt_send_spill(s->peer, rt_msg_new(MSG_BENCH, sizeof(rt_msg), NULL));
}

/* Messages per second bounced between two scheduled actors of one worker: each hop is a send
 * to an actor on the sender's own thread (a lane store, a local enqueue, a run). */
static double worker_hops(void)
{
    _Atomic uint64_t hops = 0;
    _Atomic uint32_t done = 0;
    hop_state sa = {.hops = &hops, .want = g_messages, .done = &done}, sb = sa;
    rt_system *sys = rt_system_new();
    rt_actor_spec spa = {
        .name = "A", .threads = 1, .state = &sa, .ops = {.on_message = hop_on_message}};
    rt_actor_spec spb = {
        .name = "B", .threads = 1, .state = &sb, .ops = {.on_message = hop_on_message}};
    rt_actor *a = rt_actor_new(sys, &spa), *b = rt_actor_new(sys, &spb);
    sa.peer = b;
    sb.peer = a;
    rt_actor_schedule(a);
    rt_actor_schedule(b);
    rt_system_start(sys);
    uint64_t t0 = rt_now_ns();
    rt_send_spill(a, rt_msg_new(MSG_BENCH, sizeof(rt_msg), NULL));
    while (!atomic_load(&done)) {
        struct timespec ts = {0, 100000};
        nanosleep(&ts, NULL);
    }
    uint64_t dt = rt_now_ns() - t0;
    rt_system_free(sys);
    return (double)g_messages / ((double)dt / 1e9);
}

/* ---- idle CPU ---------------------------------------------------------------------------- */

static uint64_t cpu_ns(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (uint64_t)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000000u +
           (uint64_t)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) * 1000u;
}

static double idle_cpu_percent(void)
{
    sink_state s;
    memset(&s, 0, sizeof s);
    s.want = UINT64_MAX;
    rt_system *sys = rt_system_new();
    /* The bot's shape: writer, stats, two runners, two routers (8 threads), plus timers. */
    const char *names[] = {"writer", "stats", "runner", "router"};
    unsigned threads[] = {1, 1, 2, 2};
    rt_actor *actors[4];
    for (int i = 0; i < 4; i++) {
        rt_actor_spec spec = {.name = names[i],
                              .threads = threads[i],
                              .state = &s,
                              .ops = {.on_message = sink_on_message}};
        actors[i] = rt_actor_new(sys, &spec);
    }
    rt_system_start(sys);
    rt_timer_start(actors[0], 1000, 1000, 1); /* a periodic flush tick, as the writer has */
    sleep(1);
    uint64_t c0 = cpu_ns(), t0 = rt_now_ns();
    sleep(g_idle_seconds);
    double pct = 100.0 * (double)(cpu_ns() - c0) / (double)(rt_now_ns() - t0);
    rt_system_free(sys);
    return pct;
}

/* ---- report ------------------------------------------------------------------------------ */

static void lat_row(const char *name, const hist *h, bool json, bool last)
{
    if (json) {
        printf("    \"%s\": {\"p50_us\": %.2f, \"p99_us\": %.2f, \"p999_us\": %.2f, \"max_us\": "
               "%.2f, \"samples\": %llu}%s\n",
               name, hist_quantile(h, 0.50) / 1e3, hist_quantile(h, 0.99) / 1e3,
               hist_quantile(h, 0.999) / 1e3, h->max / 1e3, (unsigned long long)h->total,
               last ? "" : ",");
    } else {
        printf("%-34s p50 %8.2f us  p99 %8.2f us  p99.9 %8.2f us  max %8.2f us  (%llu)\n", name,
               hist_quantile(h, 0.50) / 1e3, hist_quantile(h, 0.99) / 1e3,
               hist_quantile(h, 0.999) / 1e3, h->max / 1e3, (unsigned long long)h->total);
    }
}

int main(int argc, char **argv)
{
    bool json = false;
    const bench_arg args[] = {{"--json", BENCH_FLAG, &json},
                              {"--messages", BENCH_U64, &g_messages},
                              {"--repeat", BENCH_UNSIGNED, &g_repeat},
                              {"--idle-seconds", BENCH_UNSIGNED, &g_idle_seconds}};
    if (!bench_args(argc, argv, args, 4, "[--json] [--messages N] [--repeat R] [--idle-seconds S]"))
        return 2;
    if ((int)g_repeat <= 0) g_repeat = 1; /* zero or negative */
    log_configure(LOG_LEVEL_WARN, false, 2);

    /* Baselines: one producer on a raw SPSC ring; two producers on one shared MPMC ring (what a
     * mailbox without per-sender lanes would be). Each round runs baseline and mailbox back to
     * back; medians over the rounds (and the median of per-round ratios) resist the noise of a
     * shared 2-core machine. */
    double r1[64], r2[64], a1[64], a2[64], q1[64], q2[64], bares[64];
    double s1[64], qs1[64], hp[64], qhp[64];
    if (g_repeat > 64) g_repeat = 64;
    rt_metrics m1, m2, ms1;
    for (unsigned r = 0; r < g_repeat; r++) {
        r1[r] = raw_ring(1, true);
        a1[r] = actor_mailbox(1, false, &m1);
        s1[r] = actor_mailbox(1, true, &ms1);
        hp[r] = worker_hops();
        r2[r] = raw_ring(2, true);
        a2[r] = actor_mailbox(2, false, &m2);
        bares[r] = raw_ring(1, false);
        q1[r] = a1[r] / r1[r];
        q2[r] = a2[r] / r2[r];
        qs1[r] = s1[r] / r1[r];
        qhp[r] = hp[r] / r1[r];
    }
    double sch1 = bench_median(s1, g_repeat), hops = bench_median(hp, g_repeat);
    double ratio_s1 = bench_median(qs1, g_repeat), ratio_hp = bench_median(qhp, g_repeat);
    double rawm1 = bench_median(r1, g_repeat), rawm2 = bench_median(r2, g_repeat);
    double act1 = bench_median(a1, g_repeat), act2 = bench_median(a2, g_repeat);
    double ratio1 = bench_median(q1, g_repeat), ratio2 = bench_median(q2, g_repeat);
    double bare = bench_median(bares, g_repeat);

    static hist spin_h, park_h, wspin_h, wpark_h;
    hist_init(&spin_h);
    hist_init(&park_h);
    hist_init(&wspin_h);
    hist_init(&wpark_h);
    ping_pong(20000, 20000, &spin_h, false);  /* every 20 us: inside the spin window */
    ping_pong(2000000, 1500, &park_h, false); /* every 2 ms: both actors asleep between rounds */
    ping_pong(20000, 20000, &wspin_h, true);  /* the same, A and B on one scheduler worker */
    ping_pong(2000000, 1500, &wpark_h, true);
    double idle = idle_cpu_percent();
    rt_msg_pool_stats ps;
    rt_msg_pool_stats_get(&ps);
    double pool_hit = 100.0 * (double)ps.pool_hits / (double)(ps.pool_hits + ps.pool_misses + 1);

    if (json) {
        printf("{\n  \"messages\": %llu,\n  \"rounds\": %u,\n", (unsigned long long)g_messages,
               g_repeat);
        printf("  \"raw_ring_spsc_msgs_per_s\": %.0f,\n  \"raw_ring_mpmc_2p_msgs_per_s\": %.0f,\n",
               rawm1, rawm2);
        printf("  \"raw_ring_spsc_bare_integers_per_s\": %.0f,\n", bare);
        printf("  \"mailbox_1p_msgs_per_s\": %.0f,\n  \"mailbox_2p_msgs_per_s\": %.0f,\n", act1,
               act2);
        printf("  \"ratio_mailbox_vs_raw_1p\": %.3f,\n  \"ratio_mailbox_vs_raw_2p\": %.3f,\n",
               ratio1, ratio2);
        printf("  \"mailbox_parks_1p\": %llu,\n  \"mailbox_parks_2p\": %llu,\n",
               (unsigned long long)m1.parks, (unsigned long long)m2.parks);
        printf("  \"scheduled_1p_msgs_per_s\": %.0f,\n  \"ratio_scheduled_vs_raw_1p\": %.3f,\n",
               sch1, ratio_s1);
        printf("  \"worker_hops_per_s\": %.0f,\n  \"ratio_worker_hops_vs_raw_1p\": %.3f,\n", hops,
               ratio_hp);
        printf("  \"pool_hit_percent\": %.1f,\n  \"latency\": {\n", pool_hit);
        lat_row("ping_pong_spinning", &spin_h, true, false);
        lat_row("ping_pong_parked", &park_h, true, false);
        lat_row("ping_pong_one_worker_spinning", &wspin_h, true, false);
        lat_row("ping_pong_one_worker_parked", &wpark_h, true, true);
        printf("  },\n  \"idle_cpu_percent_of_one_core\": %.3f\n}\n", idle);
    } else {
        printf("fluxbot runtime benchmark (%llu messages, median of %u rounds, %ld cores)\n\n",
               (unsigned long long)g_messages, g_repeat, sysconf(_SC_NPROCESSORS_ONLN));
        printf("%-34s %14s %14s %8s\n", "throughput (msgs/s)", "raw ck_ring", "actor mailbox",
               "ratio");
        printf("%-34s %14.0f %14.0f %7.0f%%\n", "1 producer (raw: SPSC)", rawm1, act1,
               100 * ratio1);
        printf("%-34s %14.0f %14.0f %7.0f%%\n", "2 producers (raw: shared MPMC)", rawm2, act2,
               100 * ratio2);
        printf("%-34s %14.0f %14.0f %7.0f%%\n", "1 producer, scheduled actor", rawm1, sch1,
               100 * ratio_s1);
        printf("%-34s %14.0f %14.0f %7.0f%%\n", "hops A<->B on one worker", rawm1, hops,
               100 * ratio_hp);
        printf("%-34s %14.0f  (bare integers: no message memory crosses cores)\n",
               "1 producer, raw SPSC, integers", bare);
        printf("(mailbox parks: %llu with 1 producer, %llu with 2; pool hits %.1f%%)\n\n",
               (unsigned long long)m1.parks, (unsigned long long)m2.parks, pool_hit);
        lat_row("ping-pong A->B->A, 20 us apart", &spin_h, false, false);
        lat_row("ping-pong A->B->A, 2 ms apart", &park_h, false, false);
        lat_row("same, A and B on one worker, 20 us", &wspin_h, false, false);
        lat_row("same, A and B on one worker, 2 ms", &wpark_h, false, false);
        printf("\nidle runtime (8 actor threads + timer): %.3f%% of one core over %u s\n", idle,
               g_idle_seconds);
    }
    return 0;
}
