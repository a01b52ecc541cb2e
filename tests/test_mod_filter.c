/*
 * Unit tests of the moderation modules without the bot around them: text folding, the three
 * kinds of filter rule, the PCRE2 limits, the access rules, the warning/ban policy with an
 * injected clock, and concurrent readers against a writer swapping snapshots (mod_rcu).
 * fluxbot-test: tsan
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "config/fb_config.h"
#include "moderation/mod_access.h"
#include "moderation/mod_cmd.h"
#include "moderation/mod_filter.h"
#include "moderation/mod_fold.h"
#include "moderation/mod_state.h"

static mod_check_result check(const mod_rules *r, const char *text, mod_hit *hit)
{
    return mod_rules_check(r, text, strlen(text), hit);
}

static void test_fold(void **state)
{
    (void)state;
    static const struct {
        const char *in, *out;
    } cases[] = {
        {"HeLLo", "hello"},
        {"\xef\xbc\xa8\xef\xbd\x85\xef\xbd\x8c\xef\xbd\x8c\xef\xbd\x8f", "hello"}, /* Ｈｅｌｌｏ */
        {"h\xc3\xa9llo", "hello"},                                                 /* héllo */
        {"he\xcc\x81llo", "hello"}, /* e + combining acute */
        {"h\xd0\xb5llo", "hello"},  /* Cyrillic е */
        {"\xc3\x9f", "ss"},         /* ß */
        {"h\xe2\x80\x8b"
         "ello",
         "hello"},                                  /* zero-width space */
        {"\xf0\x9d\x90\xa1\xf0\x9d\x90\x9e", "he"}, /* mathematical bold h e */
        {"\xe2\x93\x97\xe2\x93\x94", "he"},         /* circled h e */
        {"a\xff"
         "b",
         "a b"}, /* invalid byte separates */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *f = mod_fold(cases[i].in, strlen(cases[i].in));
        assert_string_equal(f, cases[i].out);
        free(f);
    }
    mod_words w;
    const char *text = "a cat, on-the\xe3\x80\x80mat!";
    char *f = mod_fold(text, strlen(text));
    mod_words_split(f, 100, &w);
    assert_int_equal(w.count, 5);
    assert_int_equal(w.len[3], 3);
    mod_words_free(&w);
    free(f);
}

static void test_words(void **state)
{
    (void)state;
    mod_rules *r = mod_rules_new();
    char err[256];
    assert_int_equal(mod_rules_add_word(r, "Badword", err, sizeof err), 0);
    assert_int_equal(mod_rules_add_word(r, "two words", err, sizeof err), 0);
    assert_int_equal(mod_rules_add_word(r, "BADWORD", err, sizeof err), -1); /* duplicate */
    assert_int_equal(mod_rules_add_word(r, "!!!", err, sizeof err), -1);     /* no letters */
    mod_hit hit;
    assert_int_equal(check(r, "a cat with a badword hat", &hit), MOD_CHECK_HIT);
    assert_int_equal(hit.kind, MOD_KIND_WORD);
    assert_string_equal(hit.name, "Badword");
    assert_int_equal(check(r, "BADWORD!", &hit), MOD_CHECK_HIT);
    assert_int_equal(check(r, "\xef\xbd\x82\xef\xbd\x81\xef\xbd\x84word", &hit),
                     MOD_CHECK_HIT); /* ｂａｄword */
    assert_int_equal(check(r,
                           "b\xc3\xa0"
                           "dw\xc3\xb6rd",
                           &hit),
                     MOD_CHECK_HIT);                                           /* bàdwörd */
    assert_int_equal(check(r, "badwords and notbadword", &hit), MOD_CHECK_OK); /* whole words */
    assert_int_equal(check(r, "TWO   words", &hit), MOD_CHECK_HIT);
    assert_int_equal(check(r, "two, swords", &hit), MOD_CHECK_OK);
    assert_int_equal(mod_rules_remove_word(r, "badWORD"), 0);
    assert_int_equal(check(r, "badword", &hit), MOD_CHECK_OK);
    assert_int_equal(mod_rules_remove_word(r, "badword"), -1);
    mod_rules_free(r);
}

static void test_regex(void **state)
{
    (void)state;
    mod_rules *r = mod_rules_new();
    char err[256];
    assert_int_equal(
        mod_rules_add_regex(r, "digits", "\\bcode\\s*\\d{4}\\b", "codes", "High", err, sizeof err),
        0);
    mod_hit hit;
    assert_int_equal(check(r, "my CODE 1234 here", &hit), MOD_CHECK_HIT);
    assert_int_equal(hit.kind, MOD_KIND_REGEX);
    assert_string_equal(hit.name, "digits");
    assert_string_equal(hit.severity, "high");
    assert_int_equal(check(r, "\xef\xbc\xa3\xef\xbc\xaf\xef\xbc\xa4\xef\xbc\xa5 9999", &hit),
                     MOD_CHECK_HIT); /* ＣＯＤＥ */
    assert_int_equal(check(r, "code 12", &hit), MOD_CHECK_OK);
    /* Compile errors are reported with where they are. */
    assert_int_equal(mod_rules_add_regex(r, "broken", "(abc", NULL, NULL, err, sizeof err), -1);
    assert_non_null(strstr(err, "does not compile"));
    assert_int_equal(mod_rules_add_regex(r, "sev", "x", NULL, "extreme", err, sizeof err), -1);
    assert_int_equal(mod_rules_add_regex(r, "DIGITS", "y", NULL, NULL, err, sizeof err), -1);
    /* A catastrophic pattern is refused when added. */
    assert_int_equal(mod_rules_add_regex(r, "evil", "^(a+)+$", NULL, NULL, err, sizeof err), -1);
    assert_non_null(strstr(err, "backtracks"));
    assert_int_equal(mod_rules_remove_regex(r, "Digits"), 0);
    assert_int_equal(mod_rules_remove_regex(r, "digits"), -1);
    mod_rules_free(r);
}

/* A hostile pattern that passes the probes still cannot stall a check: the match limits stop
 * it and the prompt is refused without being counted as a violation. */
static void test_regex_limits(void **state)
{
    (void)state;
    mod_rules *r = mod_rules_new();
    char err[256];
    /* Explodes on a run of "b" that does not end the text, which no probe starts with. */
    assert_int_equal(mod_rules_add_regex(r, "slow", "^(b|bb)+$", NULL, NULL, err, sizeof err), 0);
    char prompt[128];
    memset(prompt, 'b', 80);
    prompt[80] = '!';
    prompt[81] = '\0';
    mod_hit hit;
    assert_int_equal(check(r, prompt, &hit), MOD_CHECK_LIMIT);
    assert_string_equal(hit.name, "slow");
    assert_int_equal(check(r, "bbb", &hit), MOD_CHECK_HIT);
    mod_rules_free(r);
}

static void test_context(void **state)
{
    (void)state;
    mod_rules *r = mod_rules_new();
    char err[256];
    assert_int_equal(
        mod_rules_add_context(r, "Shoot", "photo, camera", "gun,Kill", "shots", err, sizeof err),
        0);
    assert_int_equal(mod_rules_add_context(r, "two words", "a", NULL, NULL, err, sizeof err), -1);
    assert_int_equal(mod_rules_add_context(r, "x", NULL, NULL, NULL, err, sizeof err), -1);
    mod_hit hit;
    assert_int_equal(check(r, "a photo shoot at the beach", &hit), MOD_CHECK_OK);
    assert_int_equal(check(r, "SHOOT with a camera", &hit), MOD_CHECK_OK);
    assert_int_equal(check(r, "shoot the gun", &hit), MOD_CHECK_HIT); /* disallowed nearby */
    assert_int_equal(hit.kind, MOD_KIND_CONTEXT);
    assert_string_equal(hit.name, "shoot");
    assert_int_equal(check(r, "shoot at dawn", &hit), MOD_CHECK_HIT); /* no allowed word */
    assert_int_equal(check(r, "\xef\xbd\x93hoot ph\xc3\xb6to", &hit), MOD_CHECK_OK);
    assert_int_equal(check(r, "camera far far far far away shoot", &hit), MOD_CHECK_HIT);
    assert_int_equal(check(r, "nothing to see", &hit), MOD_CHECK_OK);
    assert_int_equal(mod_rules_remove_context(r, "SHOOT"), 0);
    assert_int_equal(check(r, "shoot the gun", &hit), MOD_CHECK_OK);
    mod_rules_free(r);
}

static void test_duration(void **state)
{
    (void)state;
    assert_true(mod_parse_duration("30m") == 30 * 60000LL);
    assert_true(mod_parse_duration("12 h") == 12 * 3600000LL);
    assert_true(mod_parse_duration("7d") == 7 * 86400000LL);
    assert_true(mod_parse_duration("2weeks") == 2 * 604800000LL);
    assert_true(mod_parse_duration("") == 0);
    assert_true(mod_parse_duration("permanent") == 0);
    assert_true(mod_parse_duration("0m") == -1);
    assert_true(mod_parse_duration("5y") == -1);
    assert_true(mod_parse_duration("-3d") == -1);
    assert_true(mod_parse_duration("999999w") == -1);
}

static void test_access(void **state)
{
    (void)state;
    fb_config *c = calloc(1, sizeof *c);
    fb_config_defaults(c);
    snprintf(c->access_channels.items[0], FB_CONFIG_STR, "111");
    c->access_channels.count = 1;
    snprintf(c->access_commands, sizeof c->access_commands,
             "{\"comfy\":{\"nsfw_only\":true,\"roles\":[\"555\"]},\"queue\":{\"dms\":true,"
             "\"channels\":[]}}");
    static const char *const known[] = {"comfy", "queue", "stats", NULL};
    mod_access a;
    char err[256];
    assert_int_equal(mod_access_build(&a, c, known, err, sizeof err), 0);
    uint64_t roles[] = {555};
    mod_access_who who = {.in_guild = true, .guild_id = 1, .channel_id = 111};
    assert_int_equal(mod_access_check(&a, "stats", false, &who, NULL), MOD_ACCESS_OK);
    who.channel_id = 222;
    assert_int_equal(mod_access_check(&a, "stats", false, &who, NULL), MOD_ACCESS_CHANNEL);
    char text[512];
    mod_access_explain(&a, "stats", MOD_ACCESS_CHANNEL, text, sizeof text);
    assert_non_null(strstr(text, "<#111>"));
    assert_int_equal(mod_access_check(&a, "queue", false, &who, NULL), MOD_ACCESS_OK);
    who.channel_id = 111;
    assert_int_equal(mod_access_check(&a, "comfy", true, &who, NULL), MOD_ACCESS_NSFW);
    who.channel_nsfw = true;
    assert_int_equal(mod_access_check(&a, "comfy", true, &who, NULL), MOD_ACCESS_ROLE);
    who.roles = roles;
    who.nroles = 1;
    assert_int_equal(mod_access_check(&a, "comfy", true, &who, NULL), MOD_ACCESS_OK);
    mod_access_who dm = {.in_guild = false};
    assert_int_equal(mod_access_check(&a, "stats", false, &dm, NULL), MOD_ACCESS_NO_DM);
    assert_int_equal(mod_access_check(&a, "queue", false, &dm, NULL), MOD_ACCESS_OK);
    /* Bad configurations name the culprit. */
    snprintf(c->access_commands, sizeof c->access_commands, "{\"nope\":{}}");
    assert_int_equal(mod_access_build(&a, c, known, err, sizeof err), -1);
    assert_non_null(strstr(err, "access_commands.nope"));
    snprintf(c->access_commands, sizeof c->access_commands, "{\"comfy\":{\"dms\":1}}");
    assert_int_equal(mod_access_build(&a, c, known, err, sizeof err), -1);
    snprintf(c->access_commands, sizeof c->access_commands, "{}");
    snprintf(c->access_channels.items[0], FB_CONFIG_STR, "general");
    assert_int_equal(mod_access_build(&a, c, known, err, sizeof err), -1);
    assert_non_null(strstr(err, "access_channels"));
    free(c);
}

static _Atomic int64_t fake_now = 1700000000000;
static int64_t clock_fn(void *ctx)
{
    (void)ctx;
    return atomic_load(&fake_now);
}

static void test_policy_and_expiry(void **state)
{
    (void)state;
    mod_state *s = mod_state_new(&(mod_config){.max_warnings = 2, .clock = clock_fn});
    mod_hit hit = {.kind = MOD_KIND_WORD};
    snprintf(hit.name, sizeof hit.name, "bad");
    unsigned w = 0;
    assert_int_equal(mod_state_violation(s, 7, 1, &hit, "bad", &w), MOD_VIOL_WARNED);
    assert_int_equal(w, 1);
    assert_int_equal(mod_state_violation(s, 7, 1, &hit, "bad", &w), MOD_VIOL_WARNED);
    assert_int_equal(w, 2);
    assert_false(mod_state_banned(s, 7, NULL));
    assert_int_equal(mod_state_violation(s, 7, 1, &hit, "bad", &w), MOD_VIOL_BANNED);
    mod_user u;
    assert_true(mod_state_banned(s, 7, &u));
    assert_int_equal(u.until_ms, 0);
    assert_int_equal(mod_state_unban(s, 1, 7), 0);
    assert_int_equal(mod_state_unban(s, 1, 7), -1);
    assert_int_equal(mod_state_warnings(s, 7), 2);
    assert_int_equal(mod_state_clear_warnings(s, 1, 7), 2);
    assert_int_equal(mod_state_warnings(s, 7), 0);

    /* A timed ban ends by itself. */
    mod_state_ban(s, 1, 8, "spam", atomic_load(&fake_now) + 3600000);
    assert_true(mod_state_banned(s, 8, &u));
    assert_string_equal(u.reason, "spam");
    size_t total;
    assert_int_equal(mod_state_bans(s, 0, &u, 1, &total), 1);
    atomic_fetch_add(&fake_now, 3600001);
    assert_false(mod_state_banned(s, 8, NULL));
    assert_int_equal(mod_state_bans(s, 0, &u, 1, &total), 0);
    mod_state_free(s);
}

/* Readers check prompts while a writer keeps swapping the rules: under TSan this proves the
 * snapshots are published and reclaimed without races. */
static mod_state *g_state;
static atomic_bool g_stop;

static void *reader(void *arg)
{
    (void)arg;
    unsigned checks = 0;
    while (!atomic_load(&g_stop) || checks < 100) {
        mod_hit hit;
        mod_state_check(g_state, "a word0 and more", 16, &hit);
        mod_state_banned(g_state, 42, NULL);
        checks++;
    }
    return NULL;
}

static void test_concurrent_swaps(void **state)
{
    (void)state;
    g_state = mod_state_new(&(mod_config){.max_warnings = 1});
    atomic_store(&g_stop, false);
    pthread_t th[3];
    for (int i = 0; i < 3; i++)
        assert_int_equal(pthread_create(&th[i], NULL, reader, NULL), 0);
    char err[256], word[16];
    for (int i = 0; i < 200; i++) {
        snprintf(word, sizeof word, "word%d", i % 5);
        if (mod_state_add_word(g_state, 1, word, err, sizeof err) != 0)
            assert_int_equal(mod_state_remove_word(g_state, 1, word, err, sizeof err), 0);
        if (i % 10 == 0) mod_state_ban(g_state, 1, 42, "x", 0);
        if (i % 10 == 5) mod_state_unban(g_state, 1, 42);
    }
    atomic_store(&g_stop, true);
    for (int i = 0; i < 3; i++)
        pthread_join(th[i], NULL);
    mod_state_free(g_state);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fold),
        cmocka_unit_test(test_words),
        cmocka_unit_test(test_regex),
        cmocka_unit_test(test_regex_limits),
        cmocka_unit_test(test_context),
        cmocka_unit_test(test_duration),
        cmocka_unit_test(test_access),
        cmocka_unit_test(test_policy_and_expiry),
        cmocka_unit_test(test_concurrent_swaps),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
