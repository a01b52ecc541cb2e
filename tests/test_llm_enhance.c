/*
 * The prompt-enhancement actor on its own (src/actors/llm_enhance.h), between a sink standing
 * in for the runner's coordinator and the fake chat endpoint in its slow mode (answers after
 * 20 s):
 *   - a request without a level is answered at once and never sent to the endpoint;
 *   - beyond llm_max_inflight requests one is answered at once (CJOB_ENH_BUSY) while the others
 *     wait for the model: nothing queues behind a slow endpoint;
 *   - a drop (the job was cancelled) cuts its request, frees its slot for the next one, and is
 *     never answered; a drop for a request no longer running is harmless;
 *   - a stop abandons the requests in flight and answers them CJOB_ENH_BUSY, long before the
 *     model would have answered: every request received is answered exactly once, except the
 *     dropped one, never.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "actors/llm_enhance.h"
#include "comfy/cjob.h"
#include "fakes/fake_llm.h"
#include "fluxbot/log.h"
#include "util/util_str.h"

#define MAXJ 16

typedef struct sink {
    pthread_mutex_t mu;
    unsigned n;
    uint64_t id[MAXJ];
    int verdict[MAXJ];
    bool has_text[MAXJ];
} sink;

static void sink_on_message(rt_actor *self, void *state, rt_msg *m)
{
    (void)self;
    sink *s = state;
    if (m->type == MSG_LLM_ENHANCE_RES) {
        const llm_enhance_res_msg *r = (const llm_enhance_res_msg *)m;
        pthread_mutex_lock(&s->mu);
        if (s->n < MAXJ) {
            s->id[s->n] = r->job_id;
            s->verdict[s->n] = r->verdict;
            s->has_text[s->n] = r->text != NULL;
            s->n++;
        }
        pthread_mutex_unlock(&s->mu);
    }
    rt_msg_free(m);
}

static unsigned sink_count(sink *s)
{
    pthread_mutex_lock(&s->mu);
    unsigned n = s->n;
    pthread_mutex_unlock(&s->mu);
    return n;
}

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void sleep_ms(unsigned ms)
{
    struct timespec d = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&d, NULL);
}

static rt_msg *req(uint64_t job, unsigned creativity, const char *prompt, rt_actor *reply_to)
{
    llm_enhance_req_msg *m = llm_enhance_req_msg_new(job, job + 1000, creativity, prompt, reply_to);
    assert_non_null(m);
    return &m->hdr;
}

/* The entry of job in the sink, or -1. */
static int find(sink *s, uint64_t job)
{
    pthread_mutex_lock(&s->mu);
    int at = -1;
    for (unsigned i = 0; i < s->n; i++)
        if (s->id[i] == job) at = (int)i;
    pthread_mutex_unlock(&s->mu);
    return at;
}

static void wait_counters(llm_enhance *l, llm_enhance_counters *c, uint64_t in_flight,
                          uint64_t requests)
{
    uint64_t until = now_ms() + 15000;
    do {
        llm_enhance_counters_get(l, c);
        if (c->in_flight == in_flight && c->requests == requests) return;
        sleep_ms(10);
    } while (now_ms() < until);
}

static void test_busy_and_stop(void **state)
{
    (void)state;
    log_configure(LOG_LEVEL_ERROR, false, 2);
    fake_llm *llm = fake_llm_start();
    assert_non_null(llm);
    fake_llm_set_mode(llm, FAKE_LLM_SLOW);
    fake_llm_set_delay_ms(llm, 20000);

    sink s = {.n = 0};
    pthread_mutex_init(&s.mu, NULL);
    rt_system *sys = rt_system_new();
    rt_actor_spec spec = {.name = "runner-sink",
                          .threads = 1,
                          .lane_capacity = 64,
                          .state = &s,
                          .ops = {.on_message = sink_on_message}};
    rt_actor *runner = rt_actor_new(sys, &spec);
    assert_non_null(runner);
    llm_enhance_config lc;
    fb_config cfg;
    fb_config_defaults(&cfg);
    snprintf(cfg.llm_url, sizeof cfg.llm_url, "%s", fake_llm_url(llm));
    snprintf(cfg.llm_model, sizeof cfg.llm_model, "fake-model");
    cfg.llm_timeout_ms = 60000;
    cfg.llm_max_inflight = 2;
    llm_enhance_config_from(&lc, &cfg);
    assert_int_equal(lc.max_inflight, 2);
    char err[256];
    llm_enhance *l = llm_enhance_new(sys, &lc, err, sizeof err);
    assert_non_null(l);
    assert_int_equal(rt_system_start(sys), 0);

    rt_actor *a = llm_enhance_actor(l);
    assert_int_equal(rt_send(a, req(1, 0, "plain", runner)), 0);
    assert_int_equal(rt_send(a, req(2, 5, "first", runner)), 0);
    assert_int_equal(rt_send(a, req(3, 5, "second", runner)), 0);
    assert_int_equal(rt_send(a, req(4, 5, "third", runner)), 0);
    /* the one without a level and the third (beyond max_inflight) are answered while two wait */
    uint64_t until = now_ms() + 15000;
    while (sink_count(&s) < 2 && now_ms() < until)
        sleep_ms(10);
    assert_int_equal(sink_count(&s), 2);
    int p = find(&s, 1), t = find(&s, 4);
    assert_true(p >= 0 && t >= 0);
    assert_int_equal(s.verdict[p], CJOB_ENH_ERROR);
    assert_int_equal(s.verdict[t], CJOB_ENH_BUSY);
    assert_false(s.has_text[t]);
    llm_enhance_counters c;
    wait_counters(l, &c, 2, 2);
    assert_int_equal(c.in_flight, 2);
    assert_int_equal(c.jobs, 4);
    assert_int_equal(c.busy, 1);
    assert_int_equal(c.requests, 2); /* the one without a level was never sent */

    /* job 3 is cancelled: its request is cut, its slot taken by the next one, no answer */
    llm_enhance_drop_msg *d = llm_enhance_drop_msg_new(3);
    assert_non_null(d);
    assert_int_equal(rt_send(a, &d->hdr), 0);
    d = llm_enhance_drop_msg_new(4); /* already answered: nothing to drop */
    assert_non_null(d);
    assert_int_equal(rt_send(a, &d->hdr), 0);
    until = now_ms() + 15000;
    do {
        llm_enhance_counters_get(l, &c);
        if (c.dropped == 1 && c.in_flight == 1) break;
        sleep_ms(10);
    } while (now_ms() < until);
    assert_int_equal(c.dropped, 1);
    assert_int_equal(c.in_flight, 1);
    assert_int_equal(rt_send(a, req(5, 7, "fourth", runner)), 0);
    wait_counters(l, &c, 2, 3);
    assert_int_equal(c.in_flight, 2); /* the freed slot, not a busy answer */
    assert_int_equal(c.requests, 3);
    assert_int_equal(c.busy, 1);
    assert_int_equal(sink_count(&s), 2);

    /* a stop does not wait for the model (20 s): the two requests left are answered busy */
    uint64_t t0 = now_ms();
    rt_system_stop(sys);
    assert_true(now_ms() - t0 < 10000);
    assert_int_equal(sink_count(&s), 4);
    for (uint64_t job = 2; job <= 5; job += 3) {
        int k = find(&s, job);
        assert_true(k >= 0);
        assert_int_equal(s.verdict[k], CJOB_ENH_BUSY);
        assert_false(s.has_text[k]);
    }
    assert_int_equal(find(&s, 3), -1); /* the dropped one: never */
    llm_enhance_counters_get(l, &c);
    assert_int_equal(c.in_flight, 0);
    assert_int_equal(c.busy, 3);
    assert_int_equal(c.enhanced, 0);
    assert_int_equal(c.dropped, 1);
    rt_system_free(sys);
    llm_enhance_free(l);
    pthread_mutex_destroy(&s.mu);
    fake_llm_stop(llm);
}

/* A URL that is not http(s), or none: refused with a reason. */
static void test_refused_config(void **state)
{
    (void)state;
    rt_system *sys = rt_system_new();
    llm_enhance_config lc;
    memset(&lc, 0, sizeof lc);
    char err[256];
    snprintf(lc.url, sizeof lc.url, "ftp://127.0.0.1/v1");
    assert_null(llm_enhance_new(sys, &lc, err, sizeof err));
    assert_non_null(strstr(err, "llm_url"));
    lc.url[0] = '\0';
    assert_null(llm_enhance_new(sys, &lc, err, sizeof err));
    assert_non_null(strstr(err, "llm_url"));
    rt_system_free(sys);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_busy_and_stop),
        cmocka_unit_test(test_refused_config),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
