/*
 * The prompt-enhancement actor on its own (src/actors/llm_enhance.h), between a sink standing
 * in for the runner and the fake chat endpoint in its slow mode (answers after 20 s):
 *   - a job without a creativity level is forwarded at once, untouched, and never asked about;
 *   - beyond llm_max_inflight requests a job is forwarded at once as typed (CJOB_ENH_BUSY)
 *     while the others wait for the model: nothing queues behind a slow endpoint;
 *   - a stop abandons the requests in flight and forwards their jobs as typed, long before the
 *     model would have answered: every job received is forwarded exactly once.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "actors/llm_enhance.h"
#include "comfy/cjob.h"
#include "fakes/fake_llm.h"
#include "fluxbot/log.h"
#include "msgs/comfy.h"
#include "util/util_str.h"

#define MAXJ 16

typedef struct sink {
    pthread_mutex_t mu;
    unsigned n;
    uint64_t id[MAXJ];
    cjob_enhance enh[MAXJ];
    char prompt[MAXJ][64];
} sink;

static void sink_on_message(rt_actor *self, void *state, rt_msg *m)
{
    (void)self;
    sink *s = state;
    if (m->type == MSG_COMFY_START) {
        const cjob *j = ((comfy_start_msg *)m)->job;
        pthread_mutex_lock(&s->mu);
        if (s->n < MAXJ) {
            s->id[s->n] = j->reply.interaction_id;
            s->enh[s->n] = j->enhance;
            snprintf(s->prompt[s->n], sizeof s->prompt[s->n], "%s", j->prompt);
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

static comfy_start_msg *job(uint64_t ix, unsigned creativity, const char *prompt)
{
    cjob *j = calloc(1, sizeof *j);
    assert_non_null(j);
    j->reply.interaction_id = ix;
    j->reply.token = util_strdup("");
    j->user_prompt = util_strdup(prompt);
    j->prompt = util_strdup(prompt);
    j->creativity = creativity;
    return comfy_start_msg_new(j);
}

/* The entry of interaction ix in the sink, or -1. */
static int find(sink *s, uint64_t ix)
{
    pthread_mutex_lock(&s->mu);
    int at = -1;
    for (unsigned i = 0; i < s->n; i++)
        if (s->id[i] == ix) at = (int)i;
    pthread_mutex_unlock(&s->mu);
    return at;
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
    lc.runner = runner;
    char err[256];
    llm_enhance *l = llm_enhance_new(sys, &lc, err, sizeof err);
    assert_non_null(l);
    assert_int_equal(rt_system_start(sys), 0);

    rt_actor *a = llm_enhance_actor(l);
    assert_int_equal(rt_send(a, &job(1, 0, "plain")->hdr), 0);
    assert_int_equal(rt_send(a, &job(2, 5, "first")->hdr), 0);
    assert_int_equal(rt_send(a, &job(3, 5, "second")->hdr), 0);
    assert_int_equal(rt_send(a, &job(4, 5, "third")->hdr), 0);
    /* the plain job and the third (beyond max_inflight) come through while two wait */
    uint64_t until = now_ms() + 15000;
    while (sink_count(&s) < 2 && now_ms() < until)
        sleep_ms(10);
    assert_int_equal(sink_count(&s), 2);
    int p = find(&s, 1), t = find(&s, 4);
    assert_true(p >= 0 && t >= 0);
    assert_int_equal(s.enh[p], CJOB_ENH_NONE);
    assert_string_equal(s.prompt[p], "plain");
    assert_int_equal(s.enh[t], CJOB_ENH_BUSY);
    assert_string_equal(s.prompt[t], "third");
    llm_enhance_counters c;
    until = now_ms() + 15000;
    do {
        llm_enhance_counters_get(l, &c);
        if (c.in_flight == 2 && c.requests == 2 && fake_llm_requests(llm) >= 1) break;
        sleep_ms(10);
    } while (now_ms() < until);
    assert_int_equal(c.in_flight, 2);
    assert_int_equal(c.jobs, 4);
    assert_int_equal(c.busy, 1);
    assert_int_equal(c.requests, 2); /* the plain job was never sent */
    /* the fake serves one connection at a time: the second request waits in its backlog */
    assert_true(fake_llm_requests(llm) >= 1 && fake_llm_requests(llm) <= 2);

    /* a stop does not wait for the model (20 s): the two jobs go on as typed */
    uint64_t t0 = now_ms();
    rt_system_stop(sys);
    assert_true(now_ms() - t0 < 10000);
    assert_int_equal(sink_count(&s), 4);
    for (uint64_t ix = 2; ix <= 3; ix++) {
        int k = find(&s, ix);
        assert_true(k >= 0);
        assert_int_equal(s.enh[k], CJOB_ENH_BUSY);
        assert_string_equal(s.prompt[k], ix == 2 ? "first" : "second");
    }
    llm_enhance_counters_get(l, &c);
    assert_int_equal(c.in_flight, 0);
    assert_int_equal(c.busy, 3);
    assert_int_equal(c.enhanced, 0);
    rt_system_free(sys);
    llm_enhance_free(l);
    pthread_mutex_destroy(&s.mu);
    fake_llm_stop(llm);
}

/* A URL that is not http(s), or no runner: refused with a reason. */
static void test_refused_config(void **state)
{
    (void)state;
    rt_system *sys = rt_system_new();
    llm_enhance_config lc = {.runner = NULL};
    char err[256];
    snprintf(lc.url, sizeof lc.url, "ftp://127.0.0.1/v1");
    assert_null(llm_enhance_new(sys, &lc, err, sizeof err));
    assert_non_null(strstr(err, "llm_url"));
    snprintf(lc.url, sizeof lc.url, "http://127.0.0.1:9/v1");
    assert_null(llm_enhance_new(sys, &lc, err, sizeof err));
    assert_non_null(strstr(err, "runner"));
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
