/* util_cjarena: cJSON trees in a thread's arena for the length of a scope. Without the hooks a
 * scope is inert; with them a scope's cJSON allocations come from its region (reused scope after
 * scope), frees inside are no-ops, allocations that do not fit fall back to malloc (and the
 * region grows for the next scope), scopes nest last-in first-out, other threads keep malloc,
 * and the rules are enforced: arena memory freed outside its scope, a scope begun twice or ended
 * out of order abort in debug builds, and under ASan a read after the scope is reported. Death
 * tests run the violation in a forked child.
 *
 * fluxbot-test: tsan
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "death.h"
#include "util/util_cjarena.h"

#if defined(__SANITIZE_THREAD__)
#define UNDER_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define UNDER_TSAN 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__)
#define UNDER_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define UNDER_ASAN 1
#endif
#endif

static const char k_doc[] = "{\"id\":\"1234567890123456789\",\"name\":\"stats\",\"options\":[{"
                            "\"name\":\"days\",\"type\":4,\"value\":7}],\"member\":{\"roles\":["
                            "\"1\",\"2\"],\"user\":{\"username\":\"ann\"}}}";

/* A JSON array of n small numbers: n cJSON values, about 64 bytes of tree each. */
static char *big_array(unsigned n)
{
    char *s = malloc((size_t)n * 2 + 3);
    assert_non_null(s);
    char *p = s;
    *p++ = '[';
    for (unsigned i = 0; i < n; i++) {
        if (i) *p++ = ',';
        *p++ = '7';
    }
    *p++ = ']';
    *p = '\0';
    return s;
}

/* Every value and every string of the tree lies in a's region (or none does, with in = false). */
static void tree_in(const cJSON *j, const util_cjarena *a, bool in)
{
    for (; j; j = j->next) {
        assert_int_equal(util_cjarena_owns(a, j), in);
        if (j->string) assert_int_equal(util_cjarena_owns(a, j->string), in);
        if (j->valuestring) assert_int_equal(util_cjarena_owns(a, j->valuestring), in);
        tree_in(j->child, a, in);
    }
}

/* First (before install): a scope without the hooks changes nothing and says the tree needs
 * its cJSON_Delete. */
static void test_without_hooks_a_scope_is_inert(void **state)
{
    (void)state;
    assert_false(util_cjarena_installed());
    util_cjarena a = {0};
    util_cjarena_begin(&a);
    cJSON *j = cJSON_Parse(k_doc);
    assert_non_null(j);
    assert_null(a.base);
    assert_false(util_cjarena_clean(&a));
    assert_int_equal(a.served, 0);
    cJSON_Delete(j); /* malloc'ed: a leak check would see it otherwise */
    util_cjarena_end(&a);
    util_cjarena_free(&a);
}

static int install(void **state)
{
    (void)state;
    util_cjarena_install();
    util_cjarena_install(); /* twice is harmless */
    assert_true(util_cjarena_installed());
    return 0;
}

static void test_scope_allocates_from_the_region_and_reuses_it(void **state)
{
    (void)state;
    util_cjarena a = {0};
    util_cjarena_begin(&a);
    assert_non_null(a.base);
    assert_int_equal(a.cap, UTIL_CJARENA_FIRST);
    cJSON *j = cJSON_Parse(k_doc);
    assert_non_null(j);
    tree_in(j, &a, true);
    assert_true(a.served > 10);
    assert_int_equal(a.fallbacks, 0);
    assert_true(util_cjarena_clean(&a));
    assert_string_equal(
        cJSON_GetObjectItem(cJSON_GetObjectItem(cJSON_GetObjectItem(j, "member"), "user"),
                            "username")
            ->valuestring,
        "ann");
    /* a delete inside the scope is a no-op: the values stay readable until the end */
    cJSON *opts = cJSON_DetachItemFromObject(j, "options");
    cJSON_Delete(opts);
    assert_string_equal(cJSON_GetObjectItem(j, "name")->valuestring, "stats");
    /* printing inside the scope works too (its text is arena memory, dropped with it) */
    char *text = cJSON_PrintUnformatted(j);
    assert_non_null(text);
    assert_true(util_cjarena_owns(&a, text));
    assert_non_null(strstr(text, "\"username\":\"ann\""));
    cJSON_free(text);
    const void *first = j;
    util_cjarena_end(&a);
    assert_false(a.active);

    /* the next scope starts over at the same place: no allocation per scope */
    unsigned char *base = a.base;
    util_cjarena_begin(&a);
    cJSON *k = cJSON_Parse(k_doc);
    assert_ptr_equal(k, first);
    assert_ptr_equal(a.base, base);
    util_cjarena_end(&a);

    /* outside any scope the hooks are malloc and free */
    cJSON *m = cJSON_Parse(k_doc);
    assert_non_null(m);
    tree_in(m, &a, false);
    char *p = cJSON_Print(m);
    assert_false(util_cjarena_owns(&a, p));
    free(p); /* plain malloc memory: free() is right outside a scope */
    cJSON_Delete(m);
    util_cjarena_free(&a);
    assert_null(a.base);
}

/* A tree larger than the region: the rest goes to malloc, cJSON_Delete frees exactly those
 * (the leak check of the ASan run sees any left), and the region grows so the next scope
 * holds the whole tree. */
static void test_overflow_falls_back_to_malloc_then_the_region_grows(void **state)
{
    (void)state;
    char *doc = big_array(2000); /* ~128 KB of tree */
    util_cjarena a = {0};
    util_cjarena_begin(&a);
    cJSON *j = cJSON_Parse(doc);
    assert_non_null(j);
    assert_int_equal(cJSON_GetArraySize(j), 2000);
    assert_true(a.served > 0);
    assert_true(a.fallbacks > 0);
    assert_false(util_cjarena_clean(&a));
    cJSON_Delete(j);
    util_cjarena_end(&a);
    assert_true(a.cap > UTIL_CJARENA_FIRST);
    assert_true(a.cap <= UTIL_CJARENA_MAX);

    util_cjarena_begin(&a);
    j = cJSON_Parse(doc);
    assert_non_null(j);
    assert_int_equal(a.fallbacks, 0);
    assert_true(util_cjarena_clean(&a));
    tree_in(j, &a, true);
    util_cjarena_end(&a);

    /* past the cap: never more than UTIL_CJARENA_MAX, and still correct */
    char *huge = big_array(40000); /* ~2.5 MB of tree */
    for (int round = 0; round < 2; round++) {
        util_cjarena_begin(&a);
        j = cJSON_Parse(huge);
        assert_non_null(j);
        assert_int_equal(cJSON_GetArraySize(j), 40000);
        assert_true(a.fallbacks > 0);
        cJSON_Delete(j);
        util_cjarena_end(&a);
        assert_int_equal(a.cap, UTIL_CJARENA_MAX);
    }
    util_cjarena_free(&a);
    free(huge);
    free(doc);
}

/* An inner scope allocates from its own region; the outer's values stay valid (and deleting
 * them inside the inner scope is still a no-op) until the outer ends. */
static void test_scopes_nest_last_in_first_out(void **state)
{
    (void)state;
    util_cjarena outer = {0}, inner = {0};
    util_cjarena_begin(&outer);
    cJSON *a = cJSON_Parse(k_doc);
    util_cjarena_begin(&inner);
    assert_true(inner.active && outer.active);
    cJSON *b = cJSON_Parse("{\"x\":[1,2,3],\"y\":\"why\"}");
    tree_in(b, &inner, true);
    tree_in(b, &outer, false);
    cJSON_Delete(cJSON_DetachItemFromObject(a, "options")); /* the outer's: a no-op */
    assert_true(util_cjarena_clean(&inner));
    util_cjarena_end(&inner);
    assert_false(inner.active);
    assert_string_equal(cJSON_GetObjectItem(a, "name")->valuestring, "stats");
    tree_in(a, &outer, true);
    assert_true(util_cjarena_clean(&outer));
    /* the outer's scope is the active one again */
    cJSON *c = cJSON_CreateString("again");
    assert_true(util_cjarena_owns(&outer, c));
    util_cjarena_end(&outer);
    util_cjarena_free(&inner);
    util_cjarena_free(&outer);
}

typedef struct other_thread {
    const util_cjarena *arena;
    bool in_arena;
    int size;
} other_thread;

static void *parse_elsewhere(void *arg)
{
    other_thread *t = arg;
    cJSON *j = cJSON_Parse(k_doc);
    t->size = cJSON_GetArraySize(j);
    t->in_arena = util_cjarena_owns(t->arena, j);
    char *text = cJSON_PrintUnformatted(j);
    cJSON_free(text);
    cJSON_Delete(j);
    return NULL;
}

/* A scope is the thread's own: another thread parsing meanwhile gets malloc'ed values. */
static void test_other_threads_keep_malloc(void **state)
{
    (void)state;
    util_cjarena a = {0};
    util_cjarena_begin(&a);
    cJSON *mine = cJSON_Parse(k_doc);
    other_thread t = {.arena = &a};
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, parse_elsewhere, &t), 0);
    assert_int_equal(pthread_join(th, NULL), 0);
    assert_false(t.in_arena);
    assert_int_equal(t.size, 4);
    assert_true(util_cjarena_owns(&a, mine));
    util_cjarena_end(&a);
    util_cjarena_free(&a);
}

typedef struct per_thread {
    unsigned rounds;
    unsigned ok;
} per_thread;

/* Each thread its own arena, many scopes, at once: each tree in its own thread's region. */
static void *scopes_in_a_loop(void *arg)
{
    per_thread *p = arg;
    util_cjarena a = {0};
    for (unsigned i = 0; i < p->rounds; i++) {
        util_cjarena_begin(&a);
        cJSON *j = cJSON_Parse(k_doc);
        bool in = j && util_cjarena_owns(&a, j) && util_cjarena_clean(&a) &&
                  strcmp(cJSON_GetObjectItem(j, "name")->valuestring, "stats") == 0;
        util_cjarena_end(&a);
        /* and a malloc'ed one between scopes, freed through the hook */
        cJSON *m = cJSON_Parse(k_doc);
        in = in && m && !util_cjarena_owns(&a, m);
        cJSON_Delete(m);
        p->ok += in;
    }
    util_cjarena_free(&a);
    return NULL;
}

static void test_threads_each_with_their_arena(void **state)
{
    (void)state;
    enum { N = 4 };
    pthread_t th[N];
    per_thread p[N];
    for (int i = 0; i < N; i++) {
        p[i] = (per_thread){.rounds = 2000};
        assert_int_equal(pthread_create(&th[i], NULL, scopes_in_a_loop, &p[i]), 0);
    }
    for (int i = 0; i < N; i++) {
        assert_int_equal(pthread_join(th[i], NULL), 0);
        assert_int_equal(p[i].ok, p[i].rounds);
    }
}

/* ---- the rules, enforced (death tests) ---------------------------------------------------- */
/* (unused where the checks compile away: release builds, TSan) */

static __attribute__((unused)) void expect_abort(const death *d, const char *expect)
{
    if (!WIFSIGNALED(d->status) || !strstr(d->err, expect))
        fprintf(stderr, "child status %d; stderr: %s\n", d->status, d->err);
    assert_true(WIFSIGNALED(d->status));
    assert_int_equal(WTERMSIG(d->status), SIGABRT);
    assert_non_null(strstr(d->err, expect));
}

static cJSON *g_kept;
static util_cjarena g_arena; /* alive for the whole child, as a thread's scratch is */

static void keep_past_the_scope(void)
{
    util_cjarena_begin(&g_arena);
    g_kept = cJSON_Parse(k_doc);
    util_cjarena_end(&g_arena);
}

static __attribute__((unused)) void free_after_the_scope(void *arg)
{
    (void)arg;
    keep_past_the_scope();
    cJSON_Delete(g_kept); /* the broken rule */
}

static void *delete_kept(void *arg)
{
    (void)arg;
    cJSON_Delete(g_kept);
    return NULL;
}

static __attribute__((unused)) void free_after_the_scope_elsewhere(void *arg)
{
    (void)arg;
    keep_past_the_scope();
    pthread_t th; /* an escape to another actor's thread */
    pthread_create(&th, NULL, delete_kept, NULL);
    pthread_join(th, NULL);
}

static __attribute__((unused)) void begin_twice(void *arg)
{
    (void)arg;
    util_cjarena a = {0};
    util_cjarena_begin(&a);
    util_cjarena_begin(&a);
}

static __attribute__((unused)) void end_out_of_order(void *arg)
{
    (void)arg;
    util_cjarena a = {0}, b = {0};
    util_cjarena_begin(&a);
    util_cjarena_begin(&b);
    util_cjarena_end(&a);
}

static __attribute__((unused)) void read_after_the_scope(void *arg)
{
    (void)arg;
    keep_past_the_scope();
    fprintf(stderr, "read %d\n", g_kept->child ? 1 : 0); /* the broken rule */
}

static void test_rules_abort_in_debug_builds(void **state)
{
    (void)state;
#if defined(FB_DEBUG) && !defined(UNDER_TSAN)
    death d;
    death_run(free_after_the_scope, NULL, &d);
    expect_abort(&d, "cJSON memory of an arena freed outside its scope");
    death_run(free_after_the_scope_elsewhere, NULL, &d);
    expect_abort(&d, "cJSON memory of an arena freed outside its scope");
    death_run(begin_twice, NULL, &d);
    expect_abort(&d, "!a->active");
    death_run(end_out_of_order, NULL, &d);
    expect_abort(&d, "tl_top == a");
#else
    skip(); /* release: the checks compile away; TSan: no forked death tests, no registry */
#endif
}

static void test_asan_reports_a_read_after_the_scope(void **state)
{
    (void)state;
#ifdef UNDER_ASAN
    death d;
    death_run(read_after_the_scope, NULL, &d);
    /* an abort with ctest's ASAN_OPTIONS (abort_on_error=1), else ASan's exit status */
    if (!strstr(d.err, "use-after-poison")) fprintf(stderr, "stderr: %s\n", d.err);
    assert_non_null(strstr(d.err, "use-after-poison"));
    assert_true(WIFSIGNALED(d.status) || (WIFEXITED(d.status) && WEXITSTATUS(d.status) != 0));
#else
    skip();
#endif
}

int main(void)
{
    const struct CMUnitTest first[] = {
        cmocka_unit_test(test_without_hooks_a_scope_is_inert),
    };
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_scope_allocates_from_the_region_and_reuses_it),
        cmocka_unit_test(test_overflow_falls_back_to_malloc_then_the_region_grows),
        cmocka_unit_test(test_scopes_nest_last_in_first_out),
        cmocka_unit_test(test_other_threads_keep_malloc),
        cmocka_unit_test(test_threads_each_with_their_arena),
        cmocka_unit_test(test_rules_abort_in_debug_builds),
        cmocka_unit_test(test_asan_reports_a_read_after_the_scope),
    };
    int failed = cmocka_run_group_tests_name("before install", first, NULL, NULL);
    return failed + cmocka_run_group_tests_name("installed", tests, install, NULL);
}
