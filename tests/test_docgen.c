/*
 * docgen: the manual page and the bash completion list every command, option and key that
 * --help lists (they are generated from the same tables), with the key's environment variable
 * and its accepted values; the roff is escaped so option names render as typed.
 * fluxbot-test: tsan
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app/docgen.h"
#include "config/fb_config.h"

typedef void (*gen_fn)(FILE *);

static char *generate(gen_fn f)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&buf, &len);
    assert_non_null(out);
    f(out);
    fclose(out);
    return buf;
}

static char *help_text(void)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&buf, &len);
    fb_config c;
    fb_config_action a;
    char err[200];
    char *argv[] = {"--help"};
    assert_int_equal(fb_config_load(&c, 1, argv, (char *[]){NULL}, &a, out, err, sizeof err), 0);
    assert_int_equal(a, FB_CONFIG_HELP);
    fclose(out);
    return buf;
}

/* s with every '-' written as roff's "\-". */
static void roffed(const char *s, char *out, size_t cap)
{
    size_t o = 0;
    for (; *s && o + 3 < cap; s++) {
        if (*s == '-') out[o++] = '\\';
        out[o++] = *s;
    }
    out[o] = '\0';
}

static void everything_in_help_is_in_the_man_page_and_the_completion(void **state)
{
    (void)state;
    char *man = generate(docgen_man), *comp = generate(docgen_bash_completion), *help = help_text();
    char want[256];
    size_t n = fb_config_key_count();
    assert_true(n > 20);
    for (size_t i = 0; i < n; i++) {
        fb_config_key_info k;
        fb_config_key_get(i, &k);
        assert_non_null(strstr(help, k.flag));
        roffed(k.flag, want, sizeof want);
        if (!strstr(man, want)) fail_msg("man page lacks %s", k.flag);
        if (k.env && !strstr(man, k.env)) fail_msg("man page lacks %s", k.env);
        snprintf(want, sizeof want, " %s", k.flag);
        if (!strstr(comp, want)) fail_msg("completion lacks %s", k.flag);
    }
    size_t nc, no;
    const fb_config_usage_item *cmds = fb_config_usage_commands(&nc),
                               *opts = fb_config_usage_options(&no);
    for (size_t i = 0; i < nc; i++) {
        snprintf(want, sizeof want, "  %s ", cmds[i].name);
        assert_non_null(strstr(help, want));
        char esc[128]; /* roff escapes the '-' of "import-analytics" */
        roffed(cmds[i].name, esc, sizeof esc);
        snprintf(want, sizeof want, ".TP\n\\fB%s\\fR", esc);
        if (!strstr(man, want)) fail_msg("man page lacks command %s", cmds[i].name);
        assert_non_null(strstr(comp, cmds[i].name));
    }
    for (size_t i = 0; i < no; i++) {
        assert_non_null(strstr(help, opts[i].name));
        roffed(opts[i].name, want, sizeof want);
        if (!strstr(man, want)) fail_msg("man page lacks option %s", opts[i].name);
    }
    /* The stats subcommand's own flags, and a key's listed values. */
    assert_non_null(strstr(comp, "--db --days --json --chart --help"));
    assert_non_null(strstr(comp, "--log-format) COMPREPLY=($(compgen -W 'text json'"));
    assert_non_null(strstr(comp, "--gateway-compress) COMPREPLY=($(compgen -W 'true false'"));
    /* Data paths are shown relative to DATADIR, never the build machine's source tree. */
    assert_null(strstr(man, FLUXBOT_SOURCE_DIR));
    assert_non_null(strstr(man, "\\fIDATADIR\\fB/workflows"));
    free(man);
    free(comp);
    free(help);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(everything_in_help_is_in_the_man_page_and_the_completion),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
