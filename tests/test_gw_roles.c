/* Unit tests of the role cache: GUILD_CREATE, GUILD_ROLE_CREATE/UPDATE/DELETE, GUILD_DELETE,
 * lookups by name, malformed events leaving the cache untouched, and concurrent readers while
 * the writer applies events (run under ThreadSanitizer too). */
/* fluxbot-test: tsan */
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

#include "discord/gw_roles.h"

static int apply(gw_roles *r, const char *ev, const char *d)
{
    return gw_roles_apply(r, ev, d, strlen(d));
}

static const char *GUILD =
    "{\"id\":\"100\",\"name\":\"g\",\"roles\":[{\"id\":\"100\",\"name\":\"@everyone\","
    "\"permissions\":\"0\"},{\"id\":\"201\",\"name\":\"Bot Manager\",\"color\":0},"
    "{\"id\":\"202\",\"name\":\"bot manager\"},{\"id\":\"203\",\"name\":\"Caf\\u00e9\"}],"
    "\"channels\":[{\"id\":\"5\"}],\"members\":[]}";

static void test_guild_create_and_lookup(void **state)
{
    (void)state;
    gw_roles *r = gw_roles_new();
    assert_int_equal(apply(r, "GUILD_CREATE", GUILD), 1);
    assert_int_equal(gw_roles_guild_count(r), 1);
    assert_int_equal(gw_roles_role_count(r, 100), 4);
    uint64_t ids[4];
    assert_int_equal(gw_roles_find_by_name(r, 100, "Bot Manager", ids, 4), 1);
    assert_true(ids[0] == 201);
    assert_int_equal(gw_roles_find_by_name(r, 100, "Café", ids, 4), 1);
    assert_true(ids[0] == 203);
    assert_int_equal(gw_roles_find_by_name(r, 100, "Nobody", ids, 4), 0);
    assert_int_equal(gw_roles_find_by_name(r, 999, "Bot Manager", ids, 4), 0);
    char name[64];
    assert_true(gw_roles_name(r, 100, 202, name, sizeof name));
    assert_string_equal(name, "bot manager");
    assert_false(gw_roles_name(r, 100, 999, name, sizeof name));
    uint64_t member[] = {7, 201};
    assert_true(gw_roles_member_has(r, 100, member, 2, "Bot Manager"));
    assert_false(gw_roles_member_has(r, 100, member, 1, "Bot Manager"));
    assert_false(gw_roles_member_has(r, 100, member, 2, "bot Manager"));
    /* Irrelevant events are ignored. */
    assert_int_equal(apply(r, "MESSAGE_CREATE", "{}"), 0);
    gw_roles_free(r);
}

static void test_role_events(void **state)
{
    (void)state;
    gw_roles *r = gw_roles_new();
    assert_int_equal(apply(r, "GUILD_CREATE", GUILD), 1);
    assert_int_equal(apply(r, "GUILD_ROLE_CREATE",
                           "{\"guild_id\":\"100\",\"role\":{\"id\":\"300\",\"name\":\"Artists\"}}"),
                     1);
    assert_int_equal(gw_roles_role_count(r, 100), 5);
    /* rename */
    assert_int_equal(apply(r, "GUILD_ROLE_UPDATE",
                           "{\"guild_id\":\"100\",\"role\":{\"id\":\"201\",\"name\":\"Admins\"}}"),
                     1);
    uint64_t id;
    assert_int_equal(gw_roles_find_by_name(r, 100, "Bot Manager", &id, 1), 0);
    assert_int_equal(gw_roles_find_by_name(r, 100, "Admins", &id, 1), 1);
    assert_true(id == 201);
    assert_int_equal(gw_roles_role_count(r, 100), 5);
    assert_int_equal(apply(r, "GUILD_ROLE_DELETE", "{\"guild_id\":\"100\",\"role_id\":\"300\"}"),
                     1);
    assert_int_equal(gw_roles_role_count(r, 100), 4);
    assert_int_equal(apply(r, "GUILD_ROLE_DELETE", "{\"guild_id\":\"100\",\"role_id\":\"300\"}"),
                     0);
    /* A role event for a guild not seen yet creates it (GUILD_CREATE may come later). */
    assert_int_equal(apply(r, "GUILD_ROLE_CREATE",
                           "{\"guild_id\":\"50\",\"role\":{\"id\":\"51\",\"name\":\"x\"}}"),
                     1);
    assert_int_equal(gw_roles_guild_count(r), 2);
    /* A second GUILD_CREATE (after a fresh identify) replaces the role list. */
    assert_int_equal(
        apply(r, "GUILD_CREATE", "{\"id\":\"100\",\"roles\":[{\"id\":\"1\",\"name\":\"only\"}]}"),
        1);
    assert_int_equal(gw_roles_role_count(r, 100), 1);
    /* An outage keeps the roles; a removal forgets them. */
    assert_int_equal(apply(r, "GUILD_DELETE", "{\"id\":\"100\",\"unavailable\":true}"), 0);
    assert_int_equal(gw_roles_role_count(r, 100), 1);
    assert_int_equal(apply(r, "GUILD_CREATE", "{\"id\":\"100\",\"unavailable\":true}"), 0);
    assert_int_equal(gw_roles_role_count(r, 100), 1);
    assert_int_equal(apply(r, "GUILD_DELETE", "{\"id\":\"100\"}"), 1);
    assert_int_equal(gw_roles_role_count(r, 100), 0);
    assert_int_equal(gw_roles_guild_count(r), 1);
    gw_roles_free(r);
}

static void test_malformed_events(void **state)
{
    (void)state;
    gw_roles *r = gw_roles_new();
    assert_int_equal(apply(r, "GUILD_CREATE", GUILD), 1);
    static const struct {
        const char *ev, *d;
    } bad[] = {
        {"GUILD_CREATE", "{\"id\":\"100\",\"roles\":[{\"id\":\"1\",\"name\":\"a\"},{\"id\":2}]}"},
        {"GUILD_CREATE", "{\"id\":\"100\",\"roles\":{}}"},
        {"GUILD_CREATE", "{\"id\":100.5,\"roles\":[]}"},
        {"GUILD_CREATE", "{\"roles\":[]}"},
        {"GUILD_CREATE", "{\"id\":\"100\",\"roles\":[{\"id\":\"1\",\"name\":\"a\"}"},
        {"GUILD_CREATE", "[]"},
        {"GUILD_CREATE", ""},
        {"GUILD_ROLE_CREATE", "{\"guild_id\":\"100\"}"},
        {"GUILD_ROLE_UPDATE", "{\"guild_id\":\"x\",\"role\":{\"id\":\"1\",\"name\":\"a\"}}"},
        {"GUILD_ROLE_UPDATE", "{\"guild_id\":\"100\",\"role\":{\"id\":\"1\",\"name\":7}}"},
        {"GUILD_ROLE_DELETE", "{\"guild_id\":\"100\"}"},
        {"GUILD_DELETE", "{\"id\":null}"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        if (apply(r, bad[i].ev, bad[i].d) != -1) fail_msg("accepted bad event #%zu", i);
        assert_int_equal(gw_roles_role_count(r, 100), 4); /* untouched */
    }
    /* Names longer than the bound are refused, not truncated into a wrong match. */
    char big[1200];
    int n = snprintf(big, sizeof big, "{\"guild_id\":\"100\",\"role\":{\"id\":\"9\",\"name\":\"");
    memset(big + n, 'A', 600);
    snprintf(big + n + 600, sizeof big - (size_t)n - 600, "\"}}");
    assert_int_equal(apply(r, "GUILD_ROLE_CREATE", big), -1);
    gw_roles_free(r);
}

typedef struct shared {
    gw_roles *r;
    atomic_bool stop;
    atomic_ulong lookups;
} shared;

static void *reader(void *arg)
{
    shared *sh = arg;
    uint64_t member[] = {201, 5000};
    while (!atomic_load(&sh->stop)) {
        uint64_t ids[8];
        gw_roles_find_by_name(sh->r, 100, "Bot Manager", ids, 8);
        gw_roles_member_has(sh->r, 100, member, 2, "Bot Manager");
        char name[64];
        gw_roles_name(sh->r, 100, 201, name, sizeof name);
        atomic_fetch_add(&sh->lookups, 1);
    }
    return NULL;
}

static void test_concurrent_readers(void **state)
{
    (void)state;
    shared sh = {.r = gw_roles_new()};
    atomic_init(&sh.stop, false);
    atomic_init(&sh.lookups, 0);
    pthread_t th[2];
    for (int i = 0; i < 2; i++)
        assert_int_equal(pthread_create(&th[i], NULL, reader, &sh), 0);
    char ev[256];
    for (int i = 0; i < 3000; i++) {
        apply(sh.r, "GUILD_CREATE", GUILD);
        snprintf(ev, sizeof ev,
                 "{\"guild_id\":\"100\",\"role\":{\"id\":\"%d\",\"name\":\"Bot Manager\"}}",
                 5000 + i % 50);
        apply(sh.r, "GUILD_ROLE_CREATE", ev);
        snprintf(ev, sizeof ev, "{\"guild_id\":\"100\",\"role_id\":\"%d\"}", 5000 + i % 50);
        apply(sh.r, "GUILD_ROLE_DELETE", ev);
        if (i % 100 == 0) apply(sh.r, "GUILD_DELETE", "{\"id\":\"100\"}");
    }
    atomic_store(&sh.stop, true);
    for (int i = 0; i < 2; i++)
        pthread_join(th[i], NULL);
    assert_true(atomic_load(&sh.lookups) > 0);
    assert_int_equal(gw_roles_role_count(sh.r, 100), 4);
    gw_roles_free(sh.r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_guild_create_and_lookup),
        cmocka_unit_test(test_role_events),
        cmocka_unit_test(test_malformed_events),
        cmocka_unit_test(test_concurrent_readers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
