/* util_url: schemes, ports, clean URLs and percent-encoding.
 * fluxbot-test: tsan */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "util/util_url.h"

static void test_scheme(void **state)
{
    (void)state;
    bool tls = true;
    const char *u = "ws://127.0.0.1:9/x";
    assert_ptr_equal(util_url_after_scheme(u, "ws", "wss", &tls), u + 5);
    assert_false(tls);
    u = "wss://gateway.discord.gg";
    assert_ptr_equal(util_url_after_scheme(u, "ws", "wss", &tls), u + 6);
    assert_true(tls);
    u = "https://h/p";
    assert_ptr_equal(util_url_after_scheme(u, "http", "https", NULL), u + 8);
    assert_null(util_url_after_scheme("wss:/x", "ws", "wss", &tls));
    assert_null(util_url_after_scheme("HTTP://x", "http", "https", &tls)); /* exact case */
    assert_null(util_url_after_scheme("wsx://x", "ws", "wss", &tls));
    assert_null(util_url_after_scheme("", "ws", "wss", &tls));
    tls = true;
    assert_null(util_url_after_scheme("ftp://x", "http", "https", &tls));
    assert_true(tls); /* untouched without a match */

    assert_true(util_url_is_http("http://x"));
    assert_true(util_url_is_http("https://cdn.discordapp.com/a.png"));
    assert_false(util_url_is_http("attachment://a.png"));
    assert_false(util_url_is_http("httpx://a"));
    assert_false(util_url_is_http("https:/a"));
}

static void test_port(void **state)
{
    (void)state;
    const char *end = NULL;
    const char *s = "8188/prefix";
    assert_int_equal(util_url_port(s, &end), 8188);
    assert_ptr_equal(end, s + 4);
    s = "65535";
    assert_int_equal(util_url_port(s, &end), 65535);
    assert_ptr_equal(end, s + 5);
    assert_int_equal(util_url_port("1", &end), 1);
    end = NULL;
    assert_int_equal(util_url_port("0", &end), -1);
    assert_int_equal(util_url_port("65536", &end), -1);
    assert_int_equal(util_url_port("", &end), -1);
    assert_int_equal(util_url_port("/x", &end), -1);
    assert_int_equal(util_url_port("-80", &end), -1);
    assert_null(end); /* untouched on failure */
}

static void test_clean(void **state)
{
    (void)state;
    assert_true(util_url_clean("https://a.b/c?d=e&f=%20"));
    assert_true(util_url_clean(""));
    assert_false(util_url_clean("https://a b"));
    assert_false(util_url_clean("https://a\tb"));
    assert_false(util_url_clean("https://a\n"));
    assert_false(util_url_clean("https://a\x7f"));
    assert_false(util_url_clean("\x01"));
    assert_true(util_url_clean("https://caf\xc3\xa9")); /* bytes above DEL are not control */
}

static void test_escape(void **state)
{
    (void)state;
    char out[64];
    assert_int_equal(util_url_escape("a b/c?d=é&~._-", out, sizeof out), 0);
    assert_string_equal(out, "a%20b%2Fc%3Fd%3D%C3%A9%26~._-");
    assert_int_equal(util_url_escape("", out, sizeof out), 0);
    assert_string_equal(out, "");
    /* exact fit: "ab" needs 3 bytes, "%2F" needs 4 */
    assert_int_equal(util_url_escape("ab", out, 3), 0);
    assert_string_equal(out, "ab");
    assert_int_equal(util_url_escape("abc", out, 3), -1);
    assert_int_equal(util_url_escape("/", out, 4), 0);
    assert_string_equal(out, "%2F");
    assert_int_equal(util_url_escape("/", out, 3), -1);
    assert_int_equal(util_url_escape("", out, 0), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_scheme),
        cmocka_unit_test(test_port),
        cmocka_unit_test(test_clean),
        cmocka_unit_test(test_escape),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
