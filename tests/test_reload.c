/* fluxbot-test: tsan */
/*
 * SIGHUP reload of the LoRA and resolution lists: the change description, a real SIGHUP that
 * no longer terminates the process, a broken file refused with nothing changed, the apply
 * hook receiving the new lists and the baseline moving with it, and the previous SIGHUP
 * disposition restored at stop.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "app/reload.h"
#include "fluxbot/log.h"

static const char *ratios_a = "{\"ratios\": {\"1:1 [1024x1024 square]\": {\"width\": 1024, "
                              "\"height\": 1024}, \"16:9 [1344x768 landscape]\": {\"width\": "
                              "1344, \"height\": 768}}}";
static const char *ratios_b = "{\"ratios\": {\"1:1 [1024x1024 square]\": {\"width\": 1024, "
                              "\"height\": 1024}, \"21:9 [1536x640 landscape]\": {\"width\": "
                              "1536, \"height\": 640}}}";
static const char *loras_a = "{\"loras\": [{\"file\": \"a.safetensors\", \"name\": \"Alpha\", "
                             "\"weight\": 0.8}, {\"file\": \"b.safetensors\", \"name\": \"Beta\", "
                             "\"weight\": 1.0}]}";
static const char *loras_b = "{\"loras\": [{\"file\": \"a.safetensors\", \"name\": \"Alpha\", "
                             "\"weight\": 0.8}, {\"file\": \"g.safetensors\", \"name\": \"Gamma\", "
                             "\"weight\": 0.5}, {\"file\": \"d.safetensors\", \"name\": \"Delta\", "
                             "\"weight\": 0.5}]}";

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static void sleep_ms(unsigned ms)
{
    struct timespec d = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&d, NULL);
}

static void test_describe(void **state)
{
    (void)state;
    ratios_set r0, r1;
    loras_set l0 = {0}, l1 = {0};
    char err[300], out[900];
    assert_int_equal(ratios_parse(&r0, ratios_a, "a", err, sizeof err), 0);
    assert_int_equal(ratios_parse(&r1, ratios_b, "b", err, sizeof err), 0);
    assert_int_equal(loras_parse(&l0, loras_a, "a", err, sizeof err), 0);
    assert_int_equal(loras_parse(&l1, loras_b, "b", err, sizeof err), 0);
    bool changed = false;
    reload_describe(&r0, &l0, &r1, &l1, out, sizeof out, &changed);
    assert_true(changed);
    assert_string_equal(out, "resolutions: 2 (+1 \"21:9 [1536x640 landscape]\"; -1 \"16:9 "
                             "[1344x768 landscape]\"); LoRAs: 3 (+2 \"Gamma\", \"Delta\"; -1 "
                             "\"Beta\")");
    reload_describe(&r0, &l0, &r0, &l0, out, sizeof out, &changed);
    assert_false(changed);
    assert_string_equal(out, "resolutions: 2 (+0; -0); LoRAs: 2 (+0; -0)");
    char small[20];
    reload_describe(&r0, &l0, &r1, &l1, small, sizeof small, &changed);
    assert_int_equal(strlen(small), sizeof small - 1);
    loras_free(&l0);
    loras_free(&l1);
}

/* Written by the watcher thread, read by the test: atomics. */
typedef struct applied {
    atomic_uint calls;
    atomic_uint nloras, nratios;
    atomic_bool refuse;
} applied;

static int apply_hook(void *ctx, const ratios_set *r, loras_set *l, char *err, size_t errlen)
{
    applied *a = ctx;
    a->calls++;
    if (a->refuse) {
        snprintf(err, errlen, "runner busy");
        return -1;
    }
    a->nratios = r->count;
    a->nloras = l->count;
    loras_free(l);
    return 0;
}

static void test_sighup_validates_and_applies(void **state)
{
    (void)state;
    char dir[] = "/tmp/fluxbot-reload-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char rp[200], lp[200];
    snprintf(rp, sizeof rp, "%s/ratios.json", dir);
    snprintf(lp, sizeof lp, "%s/loras.json", dir);
    write_file(rp, ratios_a);
    write_file(lp, loras_a);

    struct sigaction before;
    sigaction(SIGHUP, NULL, &before);
    static applied a;
    reload_config rc = {.ratios_file = rp, .loras_file = lp, .apply = apply_hook, .apply_ctx = &a};
    char err[300];
    reload_watcher *w = reload_start(&rc, err, sizeof err);
    assert_non_null(w);
    assert_null(reload_start(&rc, err, sizeof err)); /* one per process */

    /* A real signal: the process survives and the watcher reloads (nothing changed yet). */
    write_file(lp, loras_b);
    assert_int_equal(kill(getpid(), SIGHUP), 0);
    for (int i = 0; i < 500 && (reload_count(w) < 1 || a.calls < 1); i++)
        sleep_ms(5);
    assert_int_equal(reload_count(w), 1);
    assert_int_equal(a.calls, 1);
    assert_int_equal(a.nloras, 3);
    assert_int_equal(a.nratios, 2);

    /* The baseline moved: the next reload of the same files reports no change. */
    char summary[1200];
    assert_int_equal(reload_now(w, summary, sizeof summary), 0);
    assert_non_null(strstr(summary, "LoRAs: 3 (+0; -0)"));

    /* A broken file is refused and nothing is applied. */
    write_file(rp, "{\"ratios\": {\"bad\": {\"width\": 5}}}");
    assert_int_equal(reload_now(w, summary, sizeof summary), -1);
    assert_non_null(strstr(summary, "nothing changed"));
    assert_non_null(strstr(summary, "ratios.json"));
    assert_int_equal(a.calls, 2);

    /* The hook refusing leaves the baseline alone. */
    write_file(rp, ratios_b);
    a.refuse = true;
    assert_int_equal(reload_now(w, summary, sizeof summary), -1);
    assert_non_null(strstr(summary, "runner busy"));
    a.refuse = false;
    assert_int_equal(reload_now(w, summary, sizeof summary), 0);
    assert_non_null(strstr(summary, "+1 \"21:9 [1536x640 landscape]\""));
    assert_non_null(strstr(summary, "commands registered again"));

    reload_stop(w);
    struct sigaction after;
    sigaction(SIGHUP, NULL, &after);
    assert_ptr_equal(after.sa_handler, before.sa_handler);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
}

static void test_without_hook_reports_restart(void **state)
{
    (void)state;
    char dir[] = "/tmp/fluxbot-reload-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char rp[200], lp[200];
    snprintf(rp, sizeof rp, "%s/ratios.json", dir);
    snprintf(lp, sizeof lp, "%s/loras.json", dir);
    write_file(rp, ratios_a);
    write_file(lp, "{\"loras\": [}");
    reload_config rc = {.ratios_file = rp, .loras_file = lp};
    char err[300];
    assert_null(reload_start(&rc, err, sizeof err)); /* a broken start file is an error */
    assert_non_null(strstr(err, "loras.json"));
    write_file(lp, loras_a);
    reload_watcher *w = reload_start(&rc, err, sizeof err);
    assert_non_null(w);
    write_file(lp, loras_b);
    char summary[1200];
    assert_int_equal(reload_now(w, summary, sizeof summary), 0);
    assert_non_null(strstr(summary, "next restart"));
    assert_non_null(strstr(summary, "+2"));
    reload_stop(w);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
}

int main(void)
{
    log_configure(LOG_LEVEL_ERROR, false, 2);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_describe),
        cmocka_unit_test(test_sighup_validates_and_applies),
        cmocka_unit_test(test_without_hook_reports_restart),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
