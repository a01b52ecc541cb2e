/*
 * util_self: shell quoting of printed paths (what a user pastes must read back as the same
 * word), and the build tree's view of itself: a test binary runs inside the build directory,
 * so its data and documentation are the source tree's and its command is its own full path;
 * several threads asking at once get the same answers.
 * fluxbot-test: tsan
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/util_self.h"

/* What `sh` reads back from the quoted text (printf '%s' QUOTED). */
static char *shell_reads(const char *quoted)
{
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "printf '%%s' %s", quoted);
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    static char buf[512];
    size_t n = fread(buf, 1, sizeof buf - 1, p);
    buf[n] = '\0';
    assert_int_equal(pclose(p), 0);
    return buf;
}

static void quoting_reads_back_as_one_word(void **state)
{
    (void)state;
    char out[256];
    assert_true(util_shell_quote("/tmp/fluxbot-demo-Ab12/demo.db", out, sizeof out));
    assert_string_equal(out, "/tmp/fluxbot-demo-Ab12/demo.db"); /* safe: unchanged */
    static const char *const hard[] = {
        "/home/my user/demo.db", "it's", "a;rm -rf x", "$HOME", "`id`", "tab\there", "'", "*"};
    for (size_t i = 0; i < sizeof hard / sizeof hard[0]; i++) {
        assert_true(util_shell_quote(hard[i], out, sizeof out));
        assert_string_equal(shell_reads(out), hard[i]);
    }
    assert_true(util_shell_quote("", out, sizeof out));
    assert_string_equal(out, "''");
    /* Too small: refused, never truncated into a different word. */
    assert_false(util_shell_quote("/a/b/c", out, 6));
    assert_false(util_shell_quote("it's", out, 9));
    assert_true(util_shell_quote("it's", out, 10));
    assert_string_equal(out, "'it'\\''s'");
}

static void build_tree_uses_the_source_tree(void **state)
{
    (void)state;
    char real[PATH_MAX];
    assert_non_null(realpath("/proc/self/exe", real));
    assert_string_equal(util_self_exe(), real);
    assert_true(util_self_in_build_tree());
    assert_string_equal(util_self_datadir(), FLUXBOT_SOURCE_DIR);
    assert_string_equal(util_self_docdir(), FLUXBOT_SOURCE_DIR);
    /* A test binary is not the `fluxbot` on PATH: its full path is what a shell needs. */
    assert_string_equal(util_self_command(), real);
}

static void *ask(void *arg)
{
    const char **got = arg;
    got[0] = util_self_datadir();
    got[1] = util_self_command();
    return NULL;
}

static void first_use_from_many_threads(void **state)
{
    (void)state;
    pthread_t t[4];
    const char *got[4][2];
    for (int i = 0; i < 4; i++)
        assert_int_equal(pthread_create(&t[i], NULL, ask, got[i]), 0);
    for (int i = 0; i < 4; i++) {
        pthread_join(t[i], NULL);
        assert_string_equal(got[i][0], FLUXBOT_SOURCE_DIR);
        assert_ptr_equal(got[i][1], got[0][1]);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(first_use_from_many_threads),
        cmocka_unit_test(quoting_reads_back_as_one_word),
        cmocka_unit_test(build_tree_uses_the_source_tree),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
