/* The input-image download policy (src/comfy/dlpol.c): only the allow-listed hosts over
 * https, plain http only for listed loopback hosts, ComfyUI origins exactly, no credentials in
 * URLs, no parser-confusing hosts; and failure texts that say what happened without an address. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "comfy/dlpol.h"

static void list(fb_config_list *l, const char *const *items, unsigned n)
{
    memset(l, 0, sizeof *l);
    for (unsigned i = 0; i < n; i++)
        strcpy(l->items[i], items[i]);
    l->count = n;
}

static void test_default_hosts(void **state)
{
    (void)state;
    const char *hosts[] = {"cdn.discordapp.com", "media.discordapp.net"};
    const char *comfy[] = {"http://10.0.0.5:8188"};
    fb_config_list h, c;
    list(&h, hosts, 2);
    list(&c, comfy, 1);
    dlpol p;
    char err[300];
    assert_int_equal(dlpol_init(&p, &h, &c, err, sizeof err), 0);
    assert_int_equal(dlpol_check(&p, "https://cdn.discordapp.com/attachments/1/2/a.png?ex=1&hm=2"),
                     DLPOL_OK);
    assert_int_equal(dlpol_check(&p, "HTTPS://CDN.DiscordApp.com/a.png"), DLPOL_OK);
    assert_int_equal(dlpol_check(&p, "https://media.discordapp.net:443/a.png"), DLPOL_OK);
    /* the ComfyUI server's own /view, exactly its origin */
    assert_int_equal(dlpol_check(&p, "http://10.0.0.5:8188/view?filename=a.png"), DLPOL_OK);
    assert_int_equal(dlpol_check(&p, "http://10.0.0.5:8189/view"), DLPOL_HOST_NOT_ALLOWED);
    assert_int_equal(dlpol_check(&p, "https://10.0.0.5:8188/view"), DLPOL_HOST_NOT_ALLOWED);
    /* plain http to Discord's CDN: refused (https only for non-loopback hosts) */
    assert_int_equal(dlpol_check(&p, "http://cdn.discordapp.com/a.png"), DLPOL_HOST_NOT_ALLOWED);
    /* other hosts, look-alikes and internal addresses */
    const char *refused[] = {
        "https://evil.example/a.png",
        "https://cdn.discordapp.com.evil.example/a.png",
        "https://evilcdn.discordapp.com/a.png",
        "https://127.0.0.1/a.png",
        "http://169.254.169.254/latest/meta-data",
        "https://[::1]/a.png",
        "http://localhost:8080/a.png",
    };
    for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++)
        assert_int_equal(dlpol_check(&p, refused[i]), DLPOL_HOST_NOT_ALLOWED);
    /* other schemes */
    assert_int_equal(dlpol_check(&p, "file:///etc/passwd"), DLPOL_SCHEME);
    assert_int_equal(dlpol_check(&p, "ftp://cdn.discordapp.com/a.png"), DLPOL_SCHEME);
    assert_int_equal(dlpol_check(&p, "gopher://cdn.discordapp.com/"), DLPOL_SCHEME);
    /* credentials, parser confusion, blanks */
    const char *bad[] = {
        "https://user:pw@cdn.discordapp.com/a.png",
        "https://cdn.discordapp.com@evil.example/a.png",
        "https://evil.example\\@cdn.discordapp.com/a.png",
        "https://cdn.discordapp.com\\.evil.example/",
        "https://cdn.discordapp.com%2eevil.example/",
        "https://cdn.discordapp.com /a.png",
        "https://cdn.discordapp.com\r\nHost: x/",
        "https://cdn.discordapp.com:0/a.png",
        "https://cdn.discordapp.com:99999/a.png",
        "https://cdn.discordapp.com:/a.png",
        "https:///a.png",
        "https://",
        "cdn.discordapp.com/a.png",
        "",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_not_equal(dlpol_check(&p, bad[i]), DLPOL_OK);
    assert_int_equal(dlpol_check(&p, NULL), DLPOL_BAD_URL);
}

static void test_loopback_entries(void **state)
{
    (void)state;
    const char *hosts[] = {"127.0.0.1:4000", "[::1]:4001", "files.example.org"};
    fb_config_list h;
    list(&h, hosts, 3);
    dlpol p;
    char err[300];
    assert_int_equal(dlpol_init(&p, &h, NULL, err, sizeof err), 0);
    /* plain http allowed for a listed loopback host:port only */
    assert_int_equal(dlpol_check(&p, "http://127.0.0.1:4000/a.png"), DLPOL_OK);
    assert_int_equal(dlpol_check(&p, "http://127.0.0.1:4002/a.png"), DLPOL_HOST_NOT_ALLOWED);
    assert_int_equal(dlpol_check(&p, "http://127.0.0.2:4000/a.png"), DLPOL_HOST_NOT_ALLOWED);
    assert_int_equal(dlpol_check(&p, "http://[::1]:4001/a.png"), DLPOL_OK);
    /* a non-loopback entry still needs https */
    assert_int_equal(dlpol_check(&p, "https://files.example.org/x"), DLPOL_OK);
    assert_int_equal(dlpol_check(&p, "http://files.example.org/x"), DLPOL_HOST_NOT_ALLOWED);
    /* bad entries name themselves */
    dlpol q;
    memset(&q, 0, sizeof q);
    assert_int_equal(dlpol_add_host(&q, "https://cdn.discordapp.com", err, sizeof err), -1);
    assert_non_null(strstr(err, "attachment_hosts"));
    assert_int_equal(dlpol_add_host(&q, "a b", err, sizeof err), -1);
    assert_int_equal(dlpol_add_host(&q, "", err, sizeof err), -1);
    assert_int_equal(dlpol_add_host(&q, "x:70000", err, sizeof err), -1);
}

static void test_fail_texts(void **state)
{
    (void)state;
    char t[200];
    dlpol_fail_text(DLPOL_FAIL_TIMEOUT, 200, 0, t, sizeof t);
    assert_string_equal(t, "the download timed out");
    dlpol_fail_text(DLPOL_FAIL_TOO_MANY_REDIRECTS, 302, 0, t, sizeof t);
    assert_non_null(strstr(t, "redirects too many times"));
    assert_null(strstr(t, "302"));
    dlpol_fail_text(DLPOL_FAIL_HOST_NOT_ALLOWED, 302, 0, t, sizeof t);
    assert_non_null(strstr(t, "not hosted where the bot downloads images from"));
    dlpol_fail_text(DLPOL_FAIL_SCHEME, 302, 0, t, sizeof t);
    assert_non_null(strstr(t, "not an https address"));
    dlpol_fail_text(DLPOL_FAIL_TOO_LARGE, 200, 20u << 20, t, sizeof t);
    assert_non_null(strstr(t, "20.0 MB"));
    dlpol_fail_text(DLPOL_FAIL_HTTP_STATUS, 404, 0, t, sizeof t);
    assert_string_equal(t, "the server answered HTTP 404");
    for (int f = DLPOL_FAIL_NONE; f <= DLPOL_FAIL_NETWORK; f++) {
        dlpol_fail_text((dlpol_fail)f, 500, 1024, t, sizeof t);
        assert_null(strstr(t, "://"));
        assert_true(strlen(dlpol_fail_name((dlpol_fail)f)) > 0);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_default_hosts),
        cmocka_unit_test(test_loopback_entries),
        cmocka_unit_test(test_fail_texts),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
