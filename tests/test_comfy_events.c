/* Event routing inside the runner, under real threads: events go to the job following their
 * prompt_id and to no other, events that beat the registration are kept and handed over in
 * order, a full channel never loses the outcome, link changes wake the waiting worker.
 * fluxbot-test: tsan */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "actors/comfy_events.h"
#include "fluxbot/log.h"
#include "fluxbot/runtime.h"
#include "util/util_time.h"

/* The two parts the registry works with: the server table and the registry itself. */
typedef struct mini {
    comfy_servers srv;
    comfy_events events;
} mini;

static mini *mini_runner(unsigned nservers)
{
    mini *r = calloc(1, sizeof *r);
    fb_config_list urls = {.count = nservers};
    for (unsigned i = 0; i < nservers; i++)
        snprintf(urls.items[i], sizeof urls.items[i], "http://127.0.0.1:%u", 9000 + i);
    char err[128];
    assert_int_equal(comfy_servers_init(&r->srv, &urls, 1000, err, sizeof err), 0);
    comfy_events_init(&r->events, &r->srv);
    return r;
}

static void mini_free(mini *r)
{
    comfy_servers_destroy(&r->srv);
    comfy_events_destroy(&r->events);
    free(r);
}

static cproto_event ev(cproto_ev t, const char *pid, uint32_t v)
{
    cproto_event e;
    memset(&e, 0, sizeof e);
    e.type = t;
    e.queue_remaining = -1;
    snprintf(e.prompt_id, sizeof e.prompt_id, "%s", pid);
    e.value = v;
    e.max = 50;
    e.node_null = t == CPROTO_EV_EXECUTING;
    return e;
}

static void test_orphans_claimed_in_order(void **state)
{
    (void)state;
    mini *r = mini_runner(2);
    cproto_event e = ev(CPROTO_EV_EXECUTION_START, "p1", 0);
    comfy_events_on_event(&r->events, 0, &e);
    for (uint32_t v = 1; v <= 3; v++) {
        e = ev(CPROTO_EV_PROGRESS, "p1", v);
        comfy_events_on_event(&r->events, 0, &e);
    }
    e = ev(CPROTO_EV_PROGRESS, "p1", 99); /* same id on another server: not ours */
    comfy_events_on_event(&r->events, 1, &e);
    comfy_chan *c = comfy_chan_new(64);
    comfy_events_register(&r->events, 0, "p1", c);
    cproto_event out[16];
    bool rec;
    unsigned n = comfy_chan_wait(c, out, 16, 0, &rec);
    assert_int_equal(n, 4);
    assert_int_equal(out[0].type, CPROTO_EV_EXECUTION_START);
    for (unsigned i = 1; i < 4; i++)
        assert_int_equal(out[i].value, i);
    /* later events go straight in; status only updates the server's queue figure */
    e = ev(CPROTO_EV_STATUS, "", 0);
    e.queue_remaining = 5;
    comfy_events_on_event(&r->events, 0, &e);
    assert_int_equal(r->srv.v[0].pick.queue_remaining, 5);
    e = ev(CPROTO_EV_SUCCESS, "p1", 0);
    comfy_events_on_event(&r->events, 0, &e);
    assert_int_equal(comfy_chan_wait(c, out, 16, 100, &rec), 1);
    assert_int_equal(out[0].type, CPROTO_EV_SUCCESS);
    comfy_events_unregister(&r->events, 0, "p1");
    e = ev(CPROTO_EV_PROGRESS, "p1", 7);
    comfy_events_on_event(&r->events, 0, &e); /* after unregistering: buffered, not delivered */
    assert_int_equal(comfy_chan_wait(c, out, 16, 0, &rec), 0);
    comfy_chan_free(c);
    mini_free(r);
}

static void test_full_channel_keeps_outcome_and_link_wakes(void **state)
{
    (void)state;
    mini *r = mini_runner(1);
    comfy_chan *c = comfy_chan_new(8);
    comfy_events_register(&r->events, 0, "p", c);
    for (uint32_t v = 0; v < 100; v++) {
        cproto_event e = ev(CPROTO_EV_PROGRESS, "p", v);
        comfy_events_on_event(&r->events, 0, &e);
    }
    cproto_event e = ev(CPROTO_EV_ERROR, "p", 0);
    comfy_events_on_event(&r->events, 0, &e);
    e = ev(CPROTO_EV_EXECUTING, "p", 0);
    comfy_events_on_event(&r->events, 0, &e);
    cproto_event out[16];
    bool rec = false;
    unsigned n = comfy_chan_wait(c, out, 16, 0, &rec);
    assert_int_equal(n, 8);
    assert_int_equal(out[6].type, CPROTO_EV_ERROR);
    assert_int_equal(out[7].type, CPROTO_EV_EXECUTING);
    assert_true(out[7].node_null);
    assert_false(rec);
    comfy_events_on_link(&r->events, 0, true);
    assert_true(r->srv.v[0].pick.up);
    n = comfy_chan_wait(c, out, 16, 1000, &rec);
    assert_int_equal(n, 0);
    assert_true(rec);
    comfy_events_on_link(&r->events, 0, false);
    assert_false(r->srv.v[0].pick.up);
    comfy_events_unregister(&r->events, 0, "p");
    comfy_chan_free(c);
    mini_free(r);
}

/* The ring starts small and grows while its consumer falls behind: events stay in order across
 * a wrapped ring's growth, and cap still bounds what is kept (progress dropped past it, the
 * outcome always in). */
static void test_channel_grows_in_order_up_to_cap(void **state)
{
    (void)state;
    comfy_chan *c = comfy_chan_new(100);
    cproto_event out[128];
    bool rec;
    uint32_t v = 1;
    for (; v <= 20; v++) {
        cproto_event e = ev(CPROTO_EV_PROGRESS, "p", v);
        comfy_chan_push(c, &e);
    }
    assert_int_equal(comfy_chan_wait(c, out, 10, 0, &rec), 10); /* the ring's head moves on */
    assert_int_equal(out[9].value, 10);
    for (; v <= 110; v++) { /* fills it to cap, growing across the wrap */
        cproto_event e = ev(CPROTO_EV_PROGRESS, "p", v);
        comfy_chan_push(c, &e);
    }
    cproto_event e = ev(CPROTO_EV_PROGRESS, "p", 111); /* past cap: dropped */
    comfy_chan_push(c, &e);
    e = ev(CPROTO_EV_EXECUTING, "p", 0); /* the outcome: in, the oldest out */
    comfy_chan_push(c, &e);
    assert_int_equal(c->dropped, 2);
    unsigned n = comfy_chan_wait(c, out, 128, 0, &rec);
    assert_int_equal(n, 100);
    for (unsigned i = 0; i < 99; i++)
        assert_int_equal(out[i].value, 12 + i);
    assert_int_equal(out[99].type, CPROTO_EV_EXECUTING);
    assert_true(out[99].node_null);
    assert_int_equal(comfy_chan_wait(c, out, 128, 0, &rec), 0);
    comfy_chan_free(c);
}

typedef struct quiet_waiter {
    comfy_chan *c;
    uint64_t quiet_until, timeout;
    cproto_event out[16];
    unsigned n;
    atomic_bool done;
    uint64_t returned_at;
} quiet_waiter;

static void *quiet_main(void *arg)
{
    quiet_waiter *q = arg;
    bool rec;
    q->n = comfy_chan_wait_quiet(q->c, q->out, 16, q->timeout, q->quiet_until, &rec);
    q->returned_at = rt_now_ms();
    atomic_store(&q->done, true);
    return NULL;
}

/* A quiet wait: progress queues without waking the consumer, an outcome wakes it at once with
 * everything queued (each event with its arrival time); without an outcome it wakes at the end
 * of the quiet time at the latest, not before. */
static void test_quiet_wait(void **state)
{
    (void)state;
    comfy_chan *c = comfy_chan_new(64);
    quiet_waiter q = {.c = c, .timeout = 60000};
    q.quiet_until = rt_now_ms() + 60000;
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, quiet_main, &q), 0);
    util_sleep_ms(50); /* let it wait */
    for (uint32_t v = 1; v <= 3; v++) {
        cproto_event e = ev(CPROTO_EV_PROGRESS, "p", v);
        comfy_chan_push(c, &e);
        util_sleep_ms(20);
    }
    util_sleep_ms(200);
    assert_false(atomic_load(&q.done)); /* progress alone did not wake it */
    cproto_event e = ev(CPROTO_EV_EXECUTING, "p", 0);
    uint64_t pushed = rt_now_ms();
    comfy_chan_push(c, &e);
    pthread_join(t, NULL);
    assert_int_equal(q.n, 4);
    for (unsigned i = 0; i < 3; i++) {
        assert_int_equal(q.out[i].value, i + 1);
        assert_true(q.out[i].at_ms > 0 && q.out[i].at_ms <= pushed);
        if (i) assert_true(q.out[i].at_ms >= q.out[i - 1].at_ms);
    }
    assert_true(q.out[3].node_null);
    assert_true(q.out[3].at_ms >= pushed);

    /* no outcome: the quiet time's end takes what waited, never earlier */
    memset(&q, 0, sizeof q);
    q.c = c;
    q.timeout = 60000;
    q.quiet_until = rt_now_ms() + 300;
    assert_int_equal(pthread_create(&t, NULL, quiet_main, &q), 0);
    util_sleep_ms(50);
    e = ev(CPROTO_EV_PROGRESS, "p", 9);
    comfy_chan_push(c, &e);
    pthread_join(t, NULL);
    assert_int_equal(q.n, 1);
    assert_int_equal(q.out[0].value, 9);
    assert_true(q.returned_at >= q.quiet_until);

    /* past the quiet time every event wakes it */
    memset(&q, 0, sizeof q);
    q.c = c;
    q.timeout = 60000;
    q.quiet_until = rt_now_ms(); /* already over */
    assert_int_equal(pthread_create(&t, NULL, quiet_main, &q), 0);
    util_sleep_ms(50);
    e = ev(CPROTO_EV_PROGRESS, "p", 10);
    comfy_chan_push(c, &e);
    pthread_join(t, NULL);
    assert_int_equal(q.n, 1);
    comfy_chan_free(c);
}

#define NPROMPTS 8
#define NSTEPS 50

typedef struct shared {
    mini *r;
    pthread_barrier_t go;
} shared;

typedef struct worker {
    shared *s;
    unsigned idx;
    bool ok;
    unsigned got;
} worker;

static void *worker_main(void *arg)
{
    worker *w = arg;
    char pid[16];
    snprintf(pid, sizeof pid, "prompt-%u", w->idx);
    comfy_chan *c = comfy_chan_new(256);
    if (w->idx % 2 == 0) comfy_events_register(&w->s->r->events, 0, pid, c); /* before the events */
    pthread_barrier_wait(&w->s->go);
    if (w->idx % 2 == 1) comfy_events_register(&w->s->r->events, 0, pid, c); /* racing with them */
    cproto_event out[32];
    uint32_t last = 0;
    w->ok = true;
    for (int spins = 0; spins < 2000; spins++) {
        bool rec;
        unsigned n = comfy_chan_wait(c, out, 32, 10, &rec);
        for (unsigned i = 0; i < n; i++) {
            if (strcmp(out[i].prompt_id, pid) != 0) w->ok = false;
            if (out[i].type == CPROTO_EV_PROGRESS) {
                if (out[i].value != last + 1) w->ok = false;
                last = out[i].value;
            }
            w->got++;
            if (out[i].type == CPROTO_EV_EXECUTING && out[i].node_null) {
                if (last != NSTEPS) w->ok = false;
                comfy_events_unregister(&w->s->r->events, 0, pid);
                comfy_chan_free(c);
                return NULL;
            }
        }
    }
    w->ok = false;
    comfy_events_unregister(&w->s->r->events, 0, pid);
    comfy_chan_free(c);
    return NULL;
}

static void test_concurrent_routing(void **state)
{
    (void)state;
    shared s;
    s.r = mini_runner(1);
    pthread_barrier_init(&s.go, NULL, NPROMPTS + 1);
    pthread_t th[NPROMPTS];
    worker ws[NPROMPTS];
    for (unsigned i = 0; i < NPROMPTS; i++) {
        ws[i] = (worker){.s = &s, .idx = i};
        pthread_create(&th[i], NULL, worker_main, &ws[i]);
    }
    pthread_barrier_wait(&s.go);
    /* the websocket thread: interleaved events of every prompt */
    uint32_t step[NPROMPTS] = {0};
    unsigned seed = 7, remaining = NPROMPTS;
    bool done[NPROMPTS] = {false};
    while (remaining) {
        seed = seed * 1103515245u + 12345u;
        unsigned p = (seed >> 16) % NPROMPTS;
        if (done[p]) continue;
        char pid[16];
        snprintf(pid, sizeof pid, "prompt-%u", p);
        cproto_event e;
        if (step[p] == 0)
            e = ev(CPROTO_EV_EXECUTION_START, pid, 0);
        else if (step[p] <= NSTEPS)
            e = ev(CPROTO_EV_PROGRESS, pid, step[p]);
        else if (step[p] == NSTEPS + 1)
            e = ev(CPROTO_EV_SUCCESS, pid, 0);
        else
            e = ev(CPROTO_EV_EXECUTING, pid, 0);
        comfy_events_on_event(&s.r->events, 0, &e);
        if (++step[p] == NSTEPS + 3) {
            done[p] = true;
            remaining--;
        }
    }
    for (unsigned i = 0; i < NPROMPTS; i++) {
        pthread_join(th[i], NULL);
        assert_true(ws[i].ok);
        assert_int_equal(ws[i].got, NSTEPS + 3);
    }
    pthread_barrier_destroy(&s.go);
    mini_free(s.r);
}

int main(void)
{
    log_configure(LOG_LEVEL_ERROR, false, 2);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_orphans_claimed_in_order),
        cmocka_unit_test(test_full_channel_keeps_outcome_and_link_wakes),
        cmocka_unit_test(test_channel_grows_in_order_up_to_cap),
        cmocka_unit_test(test_quiet_wait),
        cmocka_unit_test(test_concurrent_routing),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
