/* `fluxbot check` with a shared PostgreSQL database (db_url): the throw-away server of the test
 * script answers and is named without the URL; a server that is not there is a failed check
 * with its fix, and the password in the URL never appears in the report. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "analytics/an_chart.h"
#include "app/app.h"
#include "config/fb_config.h"
#include "tpg.h"

static int check(const fb_config *c, char **text)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&buf, &len);
    int rc = app_check_report(c, out);
    fclose(out);
    *text = buf;
    return rc;
}

/* Everything else points at closed loopback ports, so the other checks fail fast. */
static void base_config(fb_config *c)
{
    fb_config_defaults(c);
    snprintf(c->discord_token, sizeof c->discord_token, "check-token.fluxbot");
    snprintf(c->discord_api_base, sizeof c->discord_api_base, "http://127.0.0.1:1/api/v10");
    c->comfyui_urls.count = 1;
    snprintf(c->comfyui_urls.items[0], FB_CONFIG_STR, "http://127.0.0.1:1");
    snprintf(c->db_path, sizeof c->db_path, "/tmp/fluxbot-pgcheck-%ld.db", (long)getpid());
    c->rest_timeout_ms = 2000;
}

static void test_shared_database_answers(void **state)
{
    (void)state;
    tpg t;
    tpg_open(&t);
    fb_config c;
    base_config(&c);
    assert_true(strlen(t.url) < sizeof c.db_url);
    memcpy(c.db_url, t.url, strlen(t.url) + 1);
    char *text;
    check(&c, &text);
    assert_non_null(strstr(text, "[ok]   shared database"));
    assert_non_null(strstr(text, "PostgreSQL 1"));
    assert_non_null(strstr(text, t.name));
    assert_null(strstr(text, "postgresql://"));
    /* the shared IDENTIFY pacing's margin is the configured one, said with its key */
    assert_non_null(strstr(text, "5 s + 1000 ms apart per bucket (identify_margin_ms)"));
    free(text);
    tpg_close(&t);
}

static void test_missing_server_is_a_failed_check(void **state)
{
    (void)state;
    fb_config c;
    base_config(&c);
    char dir[] = "/tmp/fluxbot-nopg-XXXXXX";
    assert_non_null(mkdtemp(dir));
    snprintf(c.db_url, sizeof c.db_url, "postgresql://fluxbot:pw-never-shown@/x?host=%s", dir);
    char *text;
    assert_int_not_equal(check(&c, &text), 0);
    assert_null(strstr(text, "[ok]   shared database"));
    assert_non_null(strstr(text, "shared database"));
    assert_non_null(strstr(text, "FLUXBOT_DB_URL"));
    assert_null(strstr(text, "pw-never-shown"));
    free(text);
    rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_shared_database_answers),
        cmocka_unit_test(test_missing_server_is_a_failed_check),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    /* The font caches cairo and fontconfig keep for the whole process, freed as the fluxbot
     * executable frees them at exit: without this LeakSanitizer reports fontconfig's cache. */
    an_chart_release();
    return rc;
}
