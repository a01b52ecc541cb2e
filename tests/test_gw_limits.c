/* Unit tests of the gateway's two limiters with an injected clock: IDENTIFY pacing (one per
 * 5 s per max_concurrency bucket, daily session budget) and the outbound 120/60 s limit with
 * heartbeats reserved (twilight's formula). */
/* fluxbot-test: tsan */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "discord/gw_idq.h"
#include "discord/gw_ratelimit.h"

static void test_permits_formula(void **state)
{
    (void)state;
    /* 41.25 s: ceil(60/41.25) = 2 beats + 1 spare reserved → 117 commands. */
    assert_int_equal(gw_rl_permits_for_interval(41250), 117);
    assert_int_equal(gw_rl_permits_for_interval(45000), 117);
    assert_int_equal(gw_rl_permits_for_interval(60000), 118);
    assert_int_equal(gw_rl_permits_for_interval(20000), 116);
    /* A gateway announcing a tiny interval cannot starve commands below 110. */
    assert_int_equal(gw_rl_permits_for_interval(200), 110);
    assert_int_equal(gw_rl_permits_for_interval(1), 110);
    assert_int_equal(gw_rl_permits_for_interval(0), 110);
}

static void test_sliding_window(void **state)
{
    (void)state;
    gw_ratelimit rl;
    gw_rl_init(&rl, 41250);
    uint64_t t0 = 5000000, ready;
    /* 117 commands spread over the first 58.5 s are fine. */
    for (unsigned i = 0; i < 117; i++)
        assert_true(gw_rl_acquire(&rl, t0 + i * 500, &ready));
    assert_int_equal(gw_rl_available(&rl, t0 + 58500), 0);
    /* The 118th must wait until the first leaves the 60 s window. */
    assert_false(gw_rl_acquire(&rl, t0 + 59000, &ready));
    assert_true(ready == t0 + 60000);
    assert_false(gw_rl_acquire(&rl, t0 + 59999, &ready));
    assert_true(gw_rl_acquire(&rl, t0 + 60000, &ready));
    /* And the next one when the second leaves. */
    assert_false(gw_rl_acquire(&rl, t0 + 60000, &ready));
    assert_true(ready == t0 + 60500);

    /* Invariant over a long random-ish run: never more than permits in any 60 s window, and
     * with heartbeats added (one per interval) never more than 120. */
    gw_rl_init(&rl, 41250);
    uint64_t sent[4000];
    unsigned n = 0;
    uint64_t t = 0;
    for (unsigned step = 0; step < 40000 && n < 4000; step++) {
        t += (step * 7919u) % 97u; /* uneven gaps */
        if (gw_rl_acquire(&rl, t, NULL)) sent[n++] = t;
    }
    assert_true(n > 1000);
    for (unsigned i = 0; i < n; i++) {
        unsigned in_window = 0;
        for (unsigned k = i; k < n && sent[k] < sent[i] + GW_RL_PERIOD_MS; k++)
            in_window++;
        assert_true(in_window <= 117);
        /* heartbeats at 41.25 s: at most 2 per 60 s window */
        assert_true(in_window + 2 <= GW_RL_EVENTS);
    }
}

static void test_identify_spacing(void **state)
{
    (void)state;
    gw_idq q;
    uint64_t t0 = 1000, retry;
    gw_idq_init(&q, 1, 0, t0);
    gw_idq_set_budget(&q, 1000, 1000, 3600000, t0);
    const uint64_t gap = 5000 + GW_IDQ_MARGIN_MS;
    assert_true(GW_IDQ_MARGIN_MS >= 100 && GW_IDQ_MARGIN_MS <= 1000); /* a margin, not a halt */
    assert_int_equal(gw_idq_acquire(&q, 0, t0, &retry), GW_IDQ_GRANTED);
    /* Same bucket (max_concurrency 1: every shard) within 5 s: wait. */
    assert_int_equal(gw_idq_acquire(&q, 1, t0 + 4999, &retry), GW_IDQ_WAIT_BUCKET);
    assert_true(retry == t0 + gap);
    assert_true(gw_idq_ready_at(&q, 3, t0 + 100) == t0 + gap);
    /* Exactly the protocol's 5 s is not enough: the frames may arrive closer than they were
     * granted (Discord would measure 4998 ms and answer INVALID_SESSION). */
    assert_int_equal(gw_idq_acquire(&q, 1, t0 + 5000, &retry), GW_IDQ_WAIT_BUCKET);
    assert_true(retry == t0 + gap);
    assert_int_equal(gw_idq_acquire(&q, 1, t0 + gap - 1, &retry), GW_IDQ_WAIT_BUCKET);
    assert_int_equal(gw_idq_acquire(&q, 1, t0 + gap, &retry), GW_IDQ_GRANTED);

    /* max_concurrency 4: shards 0..3 are separate buckets, 4 shares with 0. */
    gw_idq_init(&q, 4, 5000, t0);
    for (uint32_t s = 0; s < 4; s++)
        assert_int_equal(gw_idq_acquire(&q, s, t0, NULL), GW_IDQ_GRANTED);
    assert_int_equal(gw_idq_acquire(&q, 4, t0, &retry), GW_IDQ_WAIT_BUCKET);
    assert_int_equal(gw_idq_acquire(&q, 5, t0 + 4000, &retry), GW_IDQ_WAIT_BUCKET);
    assert_int_equal(gw_idq_acquire(&q, 4, t0 + 5000, &retry), GW_IDQ_WAIT_BUCKET);
    assert_int_equal(gw_idq_acquire(&q, 4, t0 + gap, &retry), GW_IDQ_GRANTED);

    /* Over a simulated hour of greedy identifies, no two in one bucket are closer than 5 s and
     * the margin. */
    gw_idq_init(&q, 2, 5000, 0);
    uint64_t last[2] = {0, 0};
    bool seen[2] = {false, false};
    unsigned granted = 0;
    for (uint64_t t = 0; t < 3600000; t += 250) {
        for (uint32_t s = 0; s < 6; s++) {
            if (gw_idq_acquire(&q, s, t, NULL) == GW_IDQ_GRANTED) {
                uint32_t b = s % 2;
                if (seen[b]) assert_true(t - last[b] >= 5000 + GW_IDQ_MARGIN_MS);
                seen[b] = true;
                last[b] = t;
                granted++;
            }
        }
    }
    assert_int_equal(granted, 1000); /* capped by the default daily budget */
}

static void test_identify_budget(void **state)
{
    (void)state;
    gw_idq q;
    uint64_t t0 = 0, retry;
    gw_idq_init(&q, 1, 5000, t0);
    gw_idq_set_budget(&q, 1000, 2, 60000, t0);
    assert_int_equal(gw_idq_acquire(&q, 0, t0, NULL), GW_IDQ_GRANTED);
    assert_int_equal(gw_idq_acquire(&q, 0, t0 + 5000 + GW_IDQ_MARGIN_MS, NULL), GW_IDQ_GRANTED);
    /* Budget spent: refused until reset_after, whatever the bucket says. */
    assert_int_equal(gw_idq_acquire(&q, 0, t0 + 10000, &retry), GW_IDQ_WAIT_BUDGET);
    assert_true(retry == t0 + 60000);
    assert_true(gw_idq_ready_at(&q, 0, t0 + 10000) == t0 + 60000);
    assert_int_equal(q.refused_budget, 1);
    assert_int_equal(gw_idq_acquire(&q, 0, t0 + 59999, &retry), GW_IDQ_WAIT_BUDGET);
    /* After the reset the full budget is back. */
    assert_int_equal(gw_idq_acquire(&q, 0, t0 + 60000, NULL), GW_IDQ_GRANTED);
    assert_int_equal(q.remaining, 999);
    /* remaining 0 from the start (Concord refuses to start here; we wait). */
    gw_idq_set_budget(&q, 1000, 0, 1000, t0 + 70000);
    assert_int_equal(gw_idq_acquire(&q, 0, t0 + 70000, &retry), GW_IDQ_WAIT_BUDGET);
    assert_true(retry == t0 + 71000);
    /* max_concurrency 0 is clamped to 1 rather than dividing by zero. */
    gw_idq_init(&q, 0, 0, 0);
    assert_int_equal(q.max_concurrency, 1);
    assert_true(q.interval_ms == 5000);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_permits_formula),
        cmocka_unit_test(test_sliding_window),
        cmocka_unit_test(test_identify_spacing),
        cmocka_unit_test(test_identify_budget),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
