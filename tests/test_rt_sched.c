/* fluxbot-test: tsan */
/*
 * The M:N scheduler (runtime/sched.h): scheduled actors get every message exactly once and in
 * per-sender order from other threads; a hop between actors of one worker wakes nobody; an
 * actor run is bounded, so a flood (local or from outside) cannot starve a neighbour; every
 * callback of an actor runs on its one worker; rt_send_wait to an actor of the caller's own
 * worker spills instead of waiting on itself; a start failure unwinds; a stop drains every
 * accepted message and never hangs, holds included.
 *
 * I/O on a worker (rt_io_ctl, rt_io_deadline): a descriptor turning ready wakes a parked worker
 * and its callback runs on the actor's worker, never beside its messages (plain counters shared
 * by on_io and on_message: TSan sees a race if they ever ran on two threads); deadlines fire,
 * not before they are due; a wake-up is never lost between messages from another thread and
 * descriptor readiness, one at a time with the worker parking in between; a worker kept busy
 * by endless local work still serves its descriptors; an actor that holds its exit until a
 * descriptor answers stops cleanly; an I/O actor not scheduled runs alone on a thread named
 * after it; the registration calls refuse any other thread.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "fluxbot/log.h"
#include "fluxbot/runtime.h"

enum { MSG_T = 930, MSG_GO = 931, MSG_FLOOD = 932, MSG_PING = 933, MSG_STOP_FLOOD = 934 };

typedef struct seq_msg {
    rt_msg hdr;
    uint32_t producer;
    uint64_t seq;
} seq_msg;

static seq_msg *seq_new(uint32_t type, uint32_t producer, uint64_t seq)
{
    seq_msg *m = RT_MSG_NEW(seq_msg, type, NULL);
    m->producer = producer;
    m->seq = seq;
    return m;
}

static void sleep_ms(unsigned ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* Waits (yielding) until *v >= want or 30 s passed; true when reached. A generous bound: it only
 * turns a hang into a failure, it times nothing. */
static bool wait_for(_Atomic uint64_t *v, uint64_t want)
{
    uint64_t deadline = rt_now_ms() + 30000;
    while (atomic_load(v) < want) {
        if (rt_now_ms() > deadline) return false;
        sched_yield();
    }
    return true;
}

/* ---- a generic state: counts, checks order and the thread it runs on ------------------------ */

#define MAX_PRODUCERS 8

typedef struct st {
    _Atomic uint64_t count;
    uint64_t next_seq[MAX_PRODUCERS];
    _Atomic uint64_t order_errors;
    _Atomic uint64_t wrong_thread; /* callbacks seen on another thread than on_thread_start's */
    pthread_t home;
    _Atomic int starts, exits;
    rt_actor *next;        /* forward every message here when set */
    _Atomic uint64_t *sum; /* shared tally (chains) */
    int fail_start;
} st;

static int st_start(rt_actor *self, void *state, unsigned index)
{
    (void)self;
    st *s = state;
    assert_int_equal(index, 0);
    s->home = pthread_self();
    atomic_fetch_add(&s->starts, 1);
    return s->fail_start;
}

static void st_exit(rt_actor *self, void *state, unsigned index)
{
    (void)self;
    (void)index;
    st *s = state;
    if (!pthread_equal(s->home, pthread_self())) atomic_fetch_add(&s->wrong_thread, 1);
    atomic_fetch_add(&s->exits, 1);
}

static void st_message(rt_actor *self, void *state, rt_msg *m)
{
    (void)self;
    st *s = state;
    if (!pthread_equal(s->home, pthread_self())) atomic_fetch_add(&s->wrong_thread, 1);
    seq_msg *t = (seq_msg *)m;
    if (t->producer < MAX_PRODUCERS) {
        if (t->seq != s->next_seq[t->producer]) atomic_fetch_add(&s->order_errors, 1);
        s->next_seq[t->producer] = t->seq + 1;
    }
    if (s->sum) atomic_fetch_add(s->sum, 1);
    if (s->next) {
        /* forwarded from this actor: producer slot 0 of the next actor's order check is unused */
        t->producer = MAX_PRODUCERS;
        assert_int_equal(rt_send_spill(s->next, m), 0);
    } else {
        rt_msg_free(m);
    }
    atomic_fetch_add(&s->count, 1);
}

static rt_actor *st_actor(rt_system *sys, const char *name, st *s, unsigned lane)
{
    rt_actor_spec spec = {
        .name = name,
        .threads = 1,
        .lane_capacity = lane,
        .state = s,
        .ops = {.on_thread_start = st_start, .on_message = st_message, .on_thread_exit = st_exit}};
    rt_actor *a = rt_actor_new(sys, &spec);
    assert_non_null(a);
    assert_int_equal(rt_actor_schedule(a), 0);
    assert_true(rt_actor_is_scheduled(a));
    return a;
}

/* ---- exactly once, in order, from other threads -------------------------------------------- */

typedef struct producer_arg {
    rt_actor *to[2];
    unsigned nto;
    uint32_t id;
    uint64_t n;
} producer_arg;

static void *producer(void *p)
{
    producer_arg *a = p;
    for (uint64_t i = 0; i < a->n; i++)
        for (unsigned k = 0; k < a->nto; k++)
            assert_int_equal(rt_send_spill(a->to[k], &seq_new(MSG_T, a->id, i)->hdr), 0);
    return NULL;
}

static void remote_senders(unsigned workers)
{
    rt_system *sys = rt_system_new();
    assert_int_equal(rt_system_set_workers(sys, workers), 0);
    st sa, sb;
    memset(&sa, 0, sizeof sa);
    memset(&sb, 0, sizeof sb);
    rt_actor *a = st_actor(sys, "a", &sa, 64), *b = st_actor(sys, "b", &sb, 64);
    assert_int_equal(rt_system_start(sys), 0);
    enum { P = 4, N = 20000 };
    pthread_t th[P];
    producer_arg args[P];
    for (unsigned i = 0; i < P; i++) {
        args[i] = (producer_arg){.to = {a, b}, .nto = 2, .id = i, .n = N};
        pthread_create(&th[i], NULL, producer, &args[i]);
    }
    for (unsigned i = 0; i < P; i++)
        pthread_join(th[i], NULL);
    assert_true(wait_for(&sa.count, P * N));
    assert_true(wait_for(&sb.count, P * N));
    rt_system_stop(sys);
    assert_int_equal(atomic_load(&sa.count), P * N);
    assert_int_equal(atomic_load(&sb.count), P * N);
    assert_int_equal(atomic_load(&sa.order_errors), 0);
    assert_int_equal(atomic_load(&sb.order_errors), 0);
    assert_int_equal(atomic_load(&sa.wrong_thread) + atomic_load(&sb.wrong_thread), 0);
    assert_int_equal(atomic_load(&sa.starts), 1);
    assert_int_equal(atomic_load(&sa.exits), 1);
    rt_sched_metrics sm;
    rt_system_sched_metrics(sys, &sm);
    assert_int_equal(sm.workers, workers);
    rt_system_free(sys);
}

static void test_remote_senders_exactly_once_in_order_one_worker(void **s)
{
    (void)s;
    remote_senders(1);
}

static void test_remote_senders_exactly_once_in_order_two_workers(void **s)
{
    (void)s;
    remote_senders(2);
}

/* ---- local hops wake nobody; remote sends find the worker ----------------------------------- */

typedef struct ring_st {
    rt_actor *next;
    _Atomic uint64_t *hops;
    uint64_t want;
    _Atomic uint64_t *done;
    pthread_t *home;
} ring_st;

static void ring_message(rt_actor *self, void *state, rt_msg *m)
{
    (void)self;
    ring_st *s = state;
    if (!pthread_equal(*s->home, pthread_self())) {
        /* every actor of the ring must run on the one worker */
        atomic_store(s->done, UINT64_MAX);
    }
    if (atomic_fetch_add(s->hops, 1) + 1 >= s->want) {
        rt_msg_free(m);
        atomic_fetch_add(s->done, 1);
        return;
    }
    assert_int_equal(rt_send(s->next, m), 0);
}

static int ring_start(rt_actor *self, void *state, unsigned index)
{
    (void)self;
    (void)index;
    ring_st *s = state;
    *s->home = pthread_self(); /* the same worker for all three: the last writer wins */
    return 0;
}

static void test_local_hops_wake_nobody(void **s)
{
    (void)s;
    rt_system *sys = rt_system_new();
    assert_int_equal(rt_system_set_workers(sys, 1), 0);
    _Atomic uint64_t hops = 0, done = 0;
    pthread_t home;
    ring_st rs[3];
    rt_actor *ra[3];
    for (int i = 0; i < 3; i++) {
        rs[i] = (ring_st){.hops = &hops, .want = 0, .done = &done, .home = &home};
        char name[8];
        snprintf(name, sizeof name, "r%d", i);
        rt_actor_spec spec = {.name = name,
                              .threads = 1,
                              .state = &rs[i],
                              .ops = {.on_thread_start = ring_start, .on_message = ring_message}};
        ra[i] = rt_actor_new(sys, &spec);
        assert_int_equal(rt_actor_schedule(ra[i]), 0);
    }
    for (int i = 0; i < 3; i++)
        rs[i].next = ra[(i + 1) % 3];
    assert_int_equal(rt_system_start(sys), 0);

    for (unsigned round = 1; round <= 20; round++) {
        /* one message from this (outside) thread starts a ring of 3000 local hops */
        for (int i = 0; i < 3; i++)
            rs[i].want = round * 3000;
        rt_sched_metrics before, after;
        rt_system_sched_metrics(sys, &before);
        assert_int_equal(rt_send(ra[0], rt_msg_new(MSG_T, sizeof(rt_msg), NULL)), 0);
        assert_true(wait_for(&done, round));
        rt_system_sched_metrics(sys, &after);
        assert_int_not_equal(atomic_load(&done), UINT64_MAX);
        /* the outside send wakes the worker at most once; the 3000 hops wake nobody */
        assert_true(after.wakeups - before.wakeups <= 1);
        assert_true(after.remote_enqueues - before.remote_enqueues <= 1);
        assert_true(after.local_enqueues - before.local_enqueues >= 2999);
    }
    rt_system_free(sys);
}

/* A remote sender that waits for each answer: every message must find the worker, parked or
 * not (a lost wake-up hangs this test). */
static void test_no_lost_wakeup_remote_ping(void **s)
{
    (void)s;
    rt_system *sys = rt_system_new();
    st sa, sb;
    memset(&sa, 0, sizeof sa);
    memset(&sb, 0, sizeof sb);
    rt_actor *a = st_actor(sys, "a", &sa, 16), *b = st_actor(sys, "b", &sb, 16);
    sa.next = b; /* a forwards to b on the same worker */
    assert_int_equal(rt_system_start(sys), 0);
    for (uint64_t i = 0; i < 5000; i++) {
        assert_int_equal(rt_send(a, &seq_new(MSG_T, 0, i)->hdr), 0);
        assert_true(wait_for(&sb.count, i + 1));
        if (i % 500 == 0) sleep_ms(3); /* let the worker park now and then */
    }
    rt_system_stop(sys);
    rt_sched_metrics sm;
    rt_system_sched_metrics(sys, &sm);
    /* one wake per park at most: a burst of sends to a parked worker pays one futex call */
    assert_true(sm.wakeups <= sm.parks + 1);
    assert_int_equal(atomic_load(&sa.order_errors), 0);
    rt_system_free(sys);
}

/* ---- fairness: bounded batch per run ------------------------------------------------------- */

typedef struct flood_st {
    rt_actor *self, *other;
    _Atomic uint64_t count;    /* FLOOD messages handled */
    _Atomic uint64_t at_other; /* the flooder's count when the other actor ran (other only) */
    _Atomic uint64_t other_ran;
    _Atomic bool forever;       /* each FLOOD sends the next one: endless local work */
    struct flood_st *flooder;   /* other only */
    _Atomic uint64_t *released; /* set by the test to end a forever flood */
} flood_st;

static void flood_message(rt_actor *self, void *state, rt_msg *m)
{
    flood_st *s = state;
    if (m->type == MSG_GO) {
        /* A burst of 10000 messages to itself, then one to its neighbour on the same worker. */
        for (int i = 0; i < 10000; i++)
            assert_int_equal(rt_send_spill(self, rt_msg_new(MSG_FLOOD, sizeof(rt_msg), NULL)), 0);
        assert_int_equal(rt_send(s->other, rt_msg_new(MSG_PING, sizeof(rt_msg), NULL)), 0);
    } else if (m->type == MSG_FLOOD) {
        atomic_fetch_add(&s->count, 1);
        if (atomic_load(&s->forever) && !atomic_load(s->released))
            assert_int_equal(rt_send_spill(self, rt_msg_new(MSG_FLOOD, sizeof(rt_msg), NULL)), 0);
    } else if (m->type == MSG_PING) {
        atomic_store(&s->at_other, atomic_load(&s->flooder->count));
        atomic_fetch_add(&s->other_ran, 1);
    }
    rt_msg_free(m);
}

static void flood_pair(rt_system *sys, flood_st *f, flood_st *g)
{
    rt_actor_spec sf = {
        .name = "flooder", .threads = 1, .state = f, .ops = {.on_message = flood_message}};
    rt_actor_spec sg = {
        .name = "neighbour", .threads = 1, .state = g, .ops = {.on_message = flood_message}};
    f->self = rt_actor_new(sys, &sf);
    g->self = rt_actor_new(sys, &sg);
    f->other = g->self;
    g->flooder = f;
    assert_int_equal(rt_actor_schedule(f->self), 0);
    assert_int_equal(rt_actor_schedule(g->self), 0);
}

static void test_flood_to_self_cannot_starve_neighbour(void **s)
{
    (void)s;
    rt_system *sys = rt_system_new();
    _Atomic uint64_t released = 0;
    flood_st f = {.released = &released}, g = {.released = &released};
    flood_pair(sys, &f, &g);
    assert_int_equal(rt_system_start(sys), 0);
    assert_int_equal(rt_send(f.self, rt_msg_new(MSG_GO, sizeof(rt_msg), NULL)), 0);
    assert_true(wait_for(&f.count, 10000));
    assert_int_equal(atomic_load(&g.other_ran), 1);
    /* The neighbour ran after at most one batch of the flood (64 per run; slack for the rest
     * of the GO run), long before the 10000 were done. */
    assert_true(atomic_load(&g.at_other) <= 128);
    rt_system_free(sys);
}

static void test_endless_local_work_cannot_starve_outside_messages(void **s)
{
    (void)s;
    rt_system *sys = rt_system_new();
    _Atomic uint64_t released = 0;
    flood_st f = {.released = &released}, g = {.released = &released};
    atomic_store(&f.forever, true);
    flood_pair(sys, &f, &g);
    assert_int_equal(rt_system_start(sys), 0);
    /* the flooder keeps itself runnable forever (each message sends the next) */
    assert_int_equal(rt_send(f.self, rt_msg_new(MSG_FLOOD, sizeof(rt_msg), NULL)), 0);
    assert_true(wait_for(&f.count, 1000));
    /* messages from outside to its neighbour still get through, each of them */
    for (uint64_t i = 1; i <= 50; i++) {
        assert_int_equal(rt_send(g.self, rt_msg_new(MSG_PING, sizeof(rt_msg), NULL)), 0);
        assert_true(wait_for(&g.other_ran, i));
    }
    atomic_store(&released, 1);
    rt_system_free(sys);
}

/* ---- rt_send_wait to an actor of one's own worker ------------------------------------------ */

typedef struct wait_st {
    rt_actor *to;
    _Atomic uint64_t rc_errors;
} wait_st;

static void waiter_message(rt_actor *self, void *state, rt_msg *m)
{
    (void)self;
    wait_st *w = state;
    rt_msg_free(m);
    /* 200 messages into a 4-slot lane of an actor that cannot run until we return */
    for (uint64_t i = 0; i < 200; i++)
        if (rt_send_wait(w->to, &seq_new(MSG_T, 0, i)->hdr, 20000) != 0)
            atomic_fetch_add(&w->rc_errors, 1);
}

static void test_send_wait_to_own_worker_spills(void **s)
{
    (void)s;
    rt_system *sys = rt_system_new();
    st sb;
    memset(&sb, 0, sizeof sb);
    wait_st w = {0};
    rt_actor_spec sw = {
        .name = "waiter", .threads = 1, .state = &w, .ops = {.on_message = waiter_message}};
    rt_actor *wa = rt_actor_new(sys, &sw);
    assert_int_equal(rt_actor_schedule(wa), 0);
    w.to = st_actor(sys, "b", &sb, 4);
    assert_int_equal(rt_system_start(sys), 0);
    uint64_t t0 = rt_now_ms();
    assert_int_equal(rt_send(wa, rt_msg_new(MSG_GO, sizeof(rt_msg), NULL)), 0);
    assert_true(wait_for(&sb.count, 200));
    /* it did not sit out the 20 s deadline (a behaviour bound, not a timing: 20 s per send) */
    assert_true(rt_now_ms() - t0 < 20000);
    assert_int_equal(atomic_load(&w.rc_errors), 0);
    assert_int_equal(atomic_load(&sb.order_errors), 0);
    rt_metrics mb;
    rt_actor_metrics(w.to, &mb);
    assert_true(mb.spills > 0);
    rt_system_free(sys);
}

/* ---- start failure, stop, holds ------------------------------------------------------------ */

static void test_failed_start_unwinds(void **s)
{
    (void)s;
    rt_system *sys = rt_system_new();
    st sa, sb, sc;
    memset(&sa, 0, sizeof sa);
    memset(&sb, 0, sizeof sb);
    memset(&sc, 0, sizeof sc);
    sb.fail_start = -1;
    st_actor(sys, "a", &sa, 16);
    st_actor(sys, "b", &sb, 16);
    st_actor(sys, "c", &sc, 16);
    assert_int_not_equal(rt_system_start(sys), 0);
    assert_int_equal(atomic_load(&sa.starts), 1);
    assert_int_equal(atomic_load(&sa.exits), 1);
    assert_int_equal(atomic_load(&sb.starts), 1);
    assert_int_equal(atomic_load(&sb.exits), 1);
    assert_int_equal(atomic_load(&sc.starts), 0); /* never reached */
    rt_system_free(sys);
}

typedef struct holder_st {
    _Atomic uint64_t count;
    _Atomic(rt_actor *) held; /* set once it holds, for the test to release */
} holder_st;

static void holder_message(rt_actor *self, void *state, rt_msg *m)
{
    holder_st *h = state;
    if (atomic_fetch_add(&h->count, 1) == 0) {
        rt_actor_hold(self);
        atomic_store(&h->held, self);
    }
    rt_msg_free(m);
}

typedef struct releaser_arg {
    holder_st *h;
    _Atomic bool *stopping;
} releaser_arg;

/* Releases the sink's hold once the stop has begun. */
static void *releaser(void *p)
{
    releaser_arg *r = p;
    while (!atomic_load(r->stopping) || !atomic_load(&r->h->held))
        sched_yield();
    sleep_ms(20);
    rt_actor_release(atomic_load(&r->h->held));
    return NULL;
}

/* Chains from the last-created actor to the first (stop order is the reverse of creation, so
 * every forward finds its target still running), two workers, an own-thread actor at the end
 * that holds its exit until another thread releases it, and the stop requested while the
 * chain is still full: every accepted message is handled, nothing hangs. */
static void test_stop_drains_every_accepted_message(void **s)
{
    (void)s;
    for (int rep = 0; rep < 5; rep++) {
        rt_system *sys = rt_system_new();
        assert_int_equal(rt_system_set_workers(sys, 2), 0);
        holder_st hs = {0};
        rt_actor_spec sh = {
            .name = "sink", .threads = 1, .state = &hs, .ops = {.on_message = holder_message}};
        rt_actor *sink = rt_actor_new(sys, &sh); /* own thread, created first: stops last */
        assert_non_null(sink);
        st c[4];
        rt_actor *ca[4];
        _Atomic uint64_t tally = 0;
        for (int i = 0; i < 4; i++) {
            memset(&c[i], 0, sizeof c[i]);
            c[i].sum = &tally;
            char name[8];
            snprintf(name, sizeof name, "c%d", i);
            ca[i] = st_actor(sys, name, &c[i], 32);
            c[i].next = i == 0 ? sink : ca[i - 1];
        }
        assert_int_equal(rt_system_start(sys), 0);
        enum { P = 2, N = 5000 };
        pthread_t th[P];
        producer_arg args[P];
        for (unsigned i = 0; i < P; i++) {
            args[i] = (producer_arg){.to = {ca[3]}, .nto = 1, .id = i, .n = N};
            pthread_create(&th[i], NULL, producer, &args[i]);
        }
        for (unsigned i = 0; i < P; i++)
            pthread_join(th[i], NULL);
        _Atomic bool stopping = false;
        releaser_arg ra = {&hs, &stopping};
        pthread_t rel;
        pthread_create(&rel, NULL, releaser, &ra);
        atomic_store(&stopping, true);
        rt_system_stop(sys); /* the chain may still hold most of the messages */
        pthread_join(rel, NULL);
        assert_int_equal(atomic_load(&hs.count), P * N);
        assert_int_equal(atomic_load(&tally), 4 * P * N);
        assert_int_equal(atomic_load(&c[3].order_errors), 0);
        for (int i = 0; i < 4; i++) {
            assert_int_equal(atomic_load(&c[i].exits), 1);
            assert_int_equal(atomic_load(&c[i].wrong_thread), 0);
        }
        /* stopped: sends are refused, not lost */
        rt_msg *late = rt_msg_new(MSG_T, sizeof(rt_msg), NULL);
        assert_int_equal(rt_send(ca[0], late), -RT_ESTOPPED);
        rt_msg_free(late);
        rt_system_free(sys);
    }
}

/* An idle system with scheduled actors stops at once, and a stop with nothing scheduled yet
 * queued (messages sent before the start) still delivers them. */
static void test_messages_before_start_and_idle_stop(void **s)
{
    (void)s;
    rt_system *sys = rt_system_new();
    st sa;
    memset(&sa, 0, sizeof sa);
    rt_actor *a = st_actor(sys, "a", &sa, 16);
    for (uint64_t i = 0; i < 10; i++)
        assert_int_equal(rt_send(a, &seq_new(MSG_T, 0, i)->hdr), 0);
    assert_int_equal(rt_system_start(sys), 0);
    assert_true(wait_for(&sa.count, 10));
    sleep_ms(30); /* the worker parks */
    rt_system_stop(sys);
    assert_int_equal(atomic_load(&sa.order_errors), 0);
    assert_int_equal(atomic_load(&sa.exits), 1);
    rt_system_free(sys);
}

/* An actor on a thread of its own parks with membarrier by default; one asked to use fences
 * (the interaction path's, when not scheduled) still misses no wake-up; the choice is made
 * before the start only. */
static void test_own_thread_actor_with_fences_misses_no_wakeup(void **s)
{
    (void)s;
    rt_system *sys = rt_system_new();
    st sa;
    memset(&sa, 0, sizeof sa);
    rt_actor_spec spec = {
        .name = "own",
        .threads = 1,
        .lane_capacity = 16,
        .state = &sa,
        .ops = {.on_thread_start = st_start, .on_message = st_message, .on_thread_exit = st_exit}};
    rt_actor *a = rt_actor_new(sys, &spec);
    assert_int_equal(rt_actor_use_fences(a), 0);
    assert_int_equal(rt_system_start(sys), 0);
    assert_int_equal(rt_actor_use_fences(a), -EINVAL);
    for (uint64_t i = 0; i < 3000; i++) {
        assert_int_equal(rt_send(a, &seq_new(MSG_T, 0, i)->hdr), 0);
        assert_true(wait_for(&sa.count, i + 1));
        if (i % 500 == 0) sleep_ms(3);
    }
    assert_int_equal(atomic_load(&sa.order_errors), 0);
    rt_system_free(sys);
}

static void noop_loop(rt_actor *self, void *state, unsigned index)
{
    (void)self;
    (void)state;
    (void)index;
}

static void test_loop_actor_cannot_be_scheduled(void **s)
{
    (void)s;
    rt_system *sys = rt_system_new();
    rt_actor_spec spec = {.name = "loop", .threads = 1, .loop = noop_loop};
    rt_actor *a = rt_actor_new(sys, &spec);
    assert_non_null(a);
    assert_int_equal(rt_actor_schedule(a), -EINVAL);
    assert_false(rt_actor_is_scheduled(a));
    assert_int_equal(rt_system_set_workers(sys, 65), -EINVAL);
    rt_system_free(sys);
}

/* ---- I/O on a worker: descriptors and deadlines -------------------------------------------- */

typedef struct io_st {
    rt_actor *self;
    int rfd;        /* read end of a pipe, watched from on_thread_start */
    pthread_t home; /* on_thread_start's thread */
    char thread_name[16];
    uint64_t touched; /* plain: on_io and on_message both write it (one thread at a time) */
    _Atomic uint64_t bytes, msgs, deadlines, early, wrong_thread;
    uint64_t due_ms;    /* the deadline set last (worker only) */
    uint64_t period_ms; /* re-arm every period_ms, up to max_deadlines times */
    uint64_t max_deadlines;
    bool hold_until_byte; /* on_stop_requested: hold the exit until a byte arrives */
    bool holding;
    _Atomic int foreign_rc; /* rt_io_ctl from the test thread */
    _Atomic int exits;
} io_st;

static int io_start(rt_actor *self, void *state, unsigned index)
{
    io_st *s = state;
    (void)index;
    s->self = self;
    s->home = pthread_self();
    pthread_getname_np(pthread_self(), s->thread_name, sizeof s->thread_name);
    if (s->rfd >= 0 && rt_io_ctl(self, RT_IO_ADD, s->rfd, RT_IO_IN) != 0) return -1;
    if (s->max_deadlines) {
        s->due_ms = rt_now_ms() + s->period_ms;
        if (rt_io_deadline(self, s->due_ms) != 0) return -1;
    }
    return 0;
}

static void io_check_thread(io_st *s)
{
    if (!pthread_equal(s->home, pthread_self())) atomic_fetch_add(&s->wrong_thread, 1);
}

static void io_ready(rt_actor *self, void *state, int fd, uint32_t events)
{
    io_st *s = state;
    io_check_thread(s);
    assert_int_equal(fd, s->rfd);
    assert_true(events & RT_IO_IN);
    char buf[256];
    ssize_t n = read(fd, buf, sizeof buf);
    if (n > 0) {
        s->touched++;
        atomic_fetch_add(&s->bytes, (uint64_t)n);
        if (s->holding) {
            s->holding = false;
            rt_actor_release(self);
        }
    }
}

static void io_due(rt_actor *self, void *state)
{
    io_st *s = state;
    io_check_thread(s);
    if (rt_now_ms() < s->due_ms) atomic_fetch_add(&s->early, 1);
    uint64_t n = atomic_fetch_add(&s->deadlines, 1) + 1;
    if (n < s->max_deadlines) {
        s->due_ms = rt_now_ms() + s->period_ms;
        assert_int_equal(rt_io_deadline(self, s->due_ms), 0);
    }
}

static void io_message(rt_actor *self, void *state, rt_msg *m)
{
    (void)self;
    io_st *s = state;
    io_check_thread(s);
    s->touched++;
    atomic_fetch_add(&s->msgs, 1);
    rt_msg_free(m);
}

static void io_stop(rt_actor *self, void *state)
{
    io_st *s = state;
    if (s->hold_until_byte) {
        s->holding = true;
        rt_actor_hold(self);
    }
}

static void io_exit(rt_actor *self, void *state, unsigned index)
{
    io_st *s = state;
    (void)index;
    io_check_thread(s);
    if (s->rfd >= 0) assert_int_equal(rt_io_ctl(self, RT_IO_DEL, s->rfd, 0), 0);
    atomic_fetch_add(&s->exits, 1);
}

static rt_actor *io_actor(rt_system *sys, const char *name, io_st *s, int pipefd[2], bool sched)
{
    if (pipefd) {
        assert_int_equal(pipe(pipefd), 0);
        s->rfd = pipefd[0];
    } else {
        s->rfd = -1;
    }
    rt_actor_spec spec = {.name = name,
                          .threads = 1,
                          .state = s,
                          .ops = {.on_thread_start = io_start,
                                  .on_message = io_message,
                                  .on_stop_requested = io_stop,
                                  .on_thread_exit = io_exit,
                                  .on_io = io_ready,
                                  .on_deadline = io_due}};
    rt_actor *a = rt_actor_new(sys, &spec);
    assert_non_null(a);
    assert_true(rt_actor_is_io(a));
    if (sched) assert_int_equal(rt_actor_schedule(a), 0);
    return a;
}

static void put_byte(int fd)
{
    char c = 'x';
    assert_int_equal(write(fd, &c, 1), 1);
}

static void test_io_readiness_wakes_a_parked_worker(void **state)
{
    (void)state;
    rt_system *sys = rt_system_new();
    io_st s;
    memset(&s, 0, sizeof s);
    int p[2];
    rt_actor *a = io_actor(sys, "io", &s, p, true);
    assert_int_equal(rt_system_start(sys), 0);
    /* One byte at a time, each after the previous was handled: the worker has nothing else to
     * do in between, so each byte finds it parked (or about to) in epoll_wait. */
    for (uint64_t i = 1; i <= 200; i++) {
        put_byte(p[1]);
        assert_true(wait_for(&s.bytes, i));
        if (i % 50 == 0) sleep_ms(2);
    }
    /* a foreign thread cannot touch the worker's registrations */
    assert_int_equal(rt_io_ctl(a, RT_IO_ADD, p[1], RT_IO_OUT), -EINVAL);
    assert_int_equal(rt_io_deadline(a, 0), -EINVAL);
    rt_system_stop(sys);
    assert_int_equal(atomic_load(&s.exits), 1);
    assert_int_equal(atomic_load(&s.wrong_thread), 0);
    rt_sched_metrics sm;
    rt_system_sched_metrics(sys, &sm);
    assert_true(sm.io_events >= 1);
    rt_system_free(sys);
    close(p[0]);
    close(p[1]);
}

static void test_io_deadlines_fire_when_due(void **state)
{
    (void)state;
    rt_system *sys = rt_system_new();
    io_st s;
    memset(&s, 0, sizeof s);
    s.period_ms = 3;
    s.max_deadlines = 20;
    /* a neighbour on the same worker, without I/O: the deadline is the worker's, not a thread's */
    st sb;
    memset(&sb, 0, sizeof sb);
    io_actor(sys, "timed", &s, NULL, true);
    rt_actor *b = st_actor(sys, "b", &sb, 64);
    assert_int_equal(rt_system_start(sys), 0);
    assert_true(wait_for(&s.deadlines, 20));
    for (uint64_t i = 0; i < 100; i++)
        assert_int_equal(rt_send_spill(b, &seq_new(MSG_T, 0, i)->hdr), 0);
    assert_true(wait_for(&sb.count, 100));
    sleep_ms(20); /* no further deadline was set: none fires */
    assert_int_equal(atomic_load(&s.deadlines), 20);
    assert_int_equal(atomic_load(&s.early), 0);
    assert_int_equal(atomic_load(&s.wrong_thread), 0);
    rt_system_free(sys);
}

typedef struct mixer_arg {
    rt_actor *to;
    io_st *s;
    int wfd;
    uint64_t n;
} mixer_arg;

/* Alternates a message and a byte, each only once the previous was handled: every one of them
 * must wake the worker that parked in between, through the eventfd or the pipe. */
static void *mixer(void *p)
{
    mixer_arg *m = p;
    for (uint64_t i = 1; i <= m->n; i++) {
        assert_int_equal(rt_send(m->to, rt_msg_new(MSG_PING, sizeof(rt_msg), NULL)), 0);
        if (!wait_for(&m->s->msgs, i)) return (void *)1;
        put_byte(m->wfd);
        if (!wait_for(&m->s->bytes, i)) return (void *)1;
    }
    return NULL;
}

static void test_io_and_messages_lose_no_wakeup(void **state)
{
    (void)state;
    rt_system *sys = rt_system_new();
    assert_int_equal(rt_system_set_workers(sys, 2), 0);
    io_st s1, s2;
    memset(&s1, 0, sizeof s1);
    memset(&s2, 0, sizeof s2);
    int p1[2], p2[2];
    rt_actor *a1 = io_actor(sys, "io1", &s1, p1, true);
    rt_actor *a2 = io_actor(sys, "io2", &s2, p2, true); /* the second worker */
    assert_int_equal(rt_system_start(sys), 0);
    mixer_arg m1 = {.to = a1, .s = &s1, .wfd = p1[1], .n = 2000};
    mixer_arg m2 = {.to = a2, .s = &s2, .wfd = p2[1], .n = 2000};
    pthread_t t1, t2;
    pthread_create(&t1, NULL, mixer, &m1);
    pthread_create(&t2, NULL, mixer, &m2);
    void *r1, *r2;
    pthread_join(t1, &r1);
    pthread_join(t2, &r2);
    assert_null(r1);
    assert_null(r2);
    rt_system_free(sys);
    assert_int_equal(s1.touched, 4000);
    assert_int_equal(s2.touched, 4000);
    assert_int_equal(atomic_load(&s1.wrong_thread) + atomic_load(&s2.wrong_thread), 0);
    for (int i = 0; i < 2; i++) {
        close(p1[i]);
        close(p2[i]);
    }
}

static void test_io_served_while_the_worker_is_busy(void **state)
{
    (void)state;
    rt_system *sys = rt_system_new();
    _Atomic uint64_t released = 0;
    flood_st f = {.released = &released}, g = {.released = &released};
    atomic_store(&f.forever, true);
    flood_pair(sys, &f, &g);
    io_st s;
    memset(&s, 0, sizeof s);
    int p[2];
    io_actor(sys, "io", &s, p, true);
    assert_int_equal(rt_system_start(sys), 0);
    /* the flooder keeps the one worker busy forever: it never parks */
    assert_int_equal(rt_send(f.self, rt_msg_new(MSG_FLOOD, sizeof(rt_msg), NULL)), 0);
    assert_true(wait_for(&f.count, 1000));
    for (uint64_t i = 1; i <= 50; i++) {
        put_byte(p[1]);
        assert_true(wait_for(&s.bytes, i));
    }
    atomic_store(&released, 1);
    rt_system_free(sys);
    close(p[0]);
    close(p[1]);
}

typedef struct byte_later {
    int fd;
    unsigned ms;
} byte_later;

static void *write_later(void *p)
{
    byte_later *b = p;
    sleep_ms(b->ms);
    put_byte(b->fd);
    return NULL;
}

static void test_io_stop_waits_for_held_io_and_never_hangs(void **state)
{
    (void)state;
    /* A stop with descriptors registered and a deadline far away returns at once. */
    rt_system *sys = rt_system_new();
    io_st s;
    memset(&s, 0, sizeof s);
    s.period_ms = 3600 * 1000;
    s.max_deadlines = 1;
    int p[2];
    io_actor(sys, "idle_io", &s, p, true);
    assert_int_equal(rt_system_start(sys), 0);
    rt_system_stop(sys);
    assert_int_equal(atomic_load(&s.exits), 1);
    assert_int_equal(atomic_load(&s.deadlines), 0);
    rt_system_free(sys);
    close(p[0]);
    close(p[1]);

    /* An actor that holds its exit until its descriptor answers: the worker keeps serving the
     * descriptor during the stop, and the stop completes once it did. */
    sys = rt_system_new();
    memset(&s, 0, sizeof s);
    s.hold_until_byte = true;
    io_actor(sys, "held_io", &s, p, true);
    assert_int_equal(rt_system_start(sys), 0);
    byte_later bl = {.fd = p[1], .ms = 50};
    pthread_t t;
    pthread_create(&t, NULL, write_later, &bl);
    rt_system_stop(sys);
    pthread_join(t, NULL);
    assert_int_equal(atomic_load(&s.bytes), 1);
    assert_int_equal(atomic_load(&s.exits), 1);
    rt_system_free(sys);
    close(p[0]);
    close(p[1]);
}

static void test_io_actor_not_scheduled_runs_alone(void **state)
{
    (void)state;
    rt_system *sys = rt_system_new();
    io_st s;
    memset(&s, 0, sizeof s);
    int p[2];
    rt_actor *a = io_actor(sys, "lonely", &s, p, false);
    st sb;
    memset(&sb, 0, sizeof sb);
    st_actor(sys, "b", &sb, 64);
    assert_int_equal(rt_system_start(sys), 0);
    assert_false(rt_actor_is_scheduled(a));
    for (uint64_t i = 1; i <= 20; i++) {
        assert_int_equal(rt_send(a, rt_msg_new(MSG_PING, sizeof(rt_msg), NULL)), 0);
        put_byte(p[1]);
        assert_true(wait_for(&s.bytes, i));
        assert_true(wait_for(&s.msgs, i));
    }
    rt_system_stop(sys);
    /* a thread of its own, named as an actor's own thread is */
    assert_string_equal(s.thread_name, "lonely/0");
    assert_false(pthread_equal(s.home, sb.home));
    rt_sched_metrics sm;
    rt_system_sched_metrics(sys, &sm);
    assert_int_equal(sm.workers, 1); /* the shared one; the dedicated one is not counted */
    rt_system_free(sys);
    close(p[0]);
    close(p[1]);

    /* an I/O actor cannot be a loop actor or a pool */
    sys = rt_system_new();
    rt_actor_spec pool = {
        .name = "pool", .threads = 2, .ops = {.on_message = io_message, .on_io = io_ready}};
    assert_null(rt_actor_new(sys, &pool));
    rt_system_free(sys);
}

int main(void)
{
    log_configure(LOG_LEVEL_ERROR, false, 2);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_remote_senders_exactly_once_in_order_one_worker),
        cmocka_unit_test(test_remote_senders_exactly_once_in_order_two_workers),
        cmocka_unit_test(test_local_hops_wake_nobody),
        cmocka_unit_test(test_no_lost_wakeup_remote_ping),
        cmocka_unit_test(test_flood_to_self_cannot_starve_neighbour),
        cmocka_unit_test(test_endless_local_work_cannot_starve_outside_messages),
        cmocka_unit_test(test_send_wait_to_own_worker_spills),
        cmocka_unit_test(test_failed_start_unwinds),
        cmocka_unit_test(test_stop_drains_every_accepted_message),
        cmocka_unit_test(test_messages_before_start_and_idle_stop),
        cmocka_unit_test(test_loop_actor_cannot_be_scheduled),
        cmocka_unit_test(test_own_thread_actor_with_fences_misses_no_wakeup),
        cmocka_unit_test(test_io_readiness_wakes_a_parked_worker),
        cmocka_unit_test(test_io_deadlines_fire_when_due),
        cmocka_unit_test(test_io_and_messages_lose_no_wakeup),
        cmocka_unit_test(test_io_served_while_the_worker_is_busy),
        cmocka_unit_test(test_io_stop_waits_for_held_io_and_never_hangs),
        cmocka_unit_test(test_io_actor_not_scheduled_runs_alone),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
