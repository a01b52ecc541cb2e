/*
 * docgen: the manual page and the bash completion list every command, option and key that
 * --help lists (they are generated from the same tables), with the key's environment variable
 * and its accepted values; the roff is escaped so option names render as typed. The
 * completion, loaded into a real bash, offers per value type: a key's words for a fixed set
 * (also as --key=VALUE), file names for files, folder names for folders, nothing for numbers,
 * URLs, ids; the commands' own arguments (stats -c FILE, import-analytics SOURCE) likewise.
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
#include <sys/stat.h>

#include "app/docgen.h"
#include "config/fb_config.h"
#include "test_an_util.h"

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
    assert_non_null(strstr(comp, "-c --config --db --days --json --chart --help"));
    assert_non_null(strstr(comp, "--log-format) _fluxbot_words 'text json'"));
    assert_non_null(
        strstr(comp, "--gateway-compress) [[ $cur == -* ]] || { _fluxbot_words 'true false'"));
    /* The manual names what a flag takes. */
    assert_non_null(strstr(man, "\\fB\\-\\-log\\-level\\fR \\fIerror|warn|info|debug|trace\\fR"));
    assert_non_null(strstr(man, "\\fB\\-\\-workflows\\-dir\\fR \\fIDIR\\fR"));
    assert_non_null(strstr(man, "\\fB\\-\\-router\\-threads\\fR \\fIN\\fR"));
    /* Data paths are shown relative to DATADIR, never the build machine's source tree. */
    assert_null(strstr(man, FLUXBOT_SOURCE_DIR));
    assert_non_null(strstr(man, "\\fIDATADIR\\fB/workflows"));
    free(man);
    free(comp);
    free(help);
}

/* ---- the completion in a real bash ---------------------------------------------------------- */

typedef struct comp_fx {
    tdir dir;
    char script[512];
} comp_fx;

static int comp_setup(void **state)
{
    comp_fx *f = calloc(1, sizeof *f);
    tdir_make(&f->dir);
    tdir_file(&f->dir, "fluxbot.bash", f->script, sizeof f->script);
    FILE *out = fopen(f->script, "w");
    assert_non_null(out);
    docgen_bash_completion(out);
    assert_int_equal(fclose(out), 0);
    /* what a file or folder completion finds: one file, one folder */
    char p[600];
    tdir_file(&f->dir, "conf.json", p, sizeof p);
    out = fopen(p, "w");
    assert_non_null(out);
    fclose(out);
    tdir_file(&f->dir, "cdir", p, sizeof p);
    assert_int_equal(mkdir(p, 0755), 0);
    *state = f;
    return 0;
}

static int comp_teardown(void **state)
{
    comp_fx *f = *state;
    tdir_remove(&f->dir);
    free(f);
    return 0;
}

/* The candidates _fluxbot offers for the command line `words` (space-separated; the last word
 * is the one completed, "" when the line ends with a space), run in a bash in the fixture's
 * folder, sorted and joined with spaces; "(error)" when bash failed. */
static const char *complete_line(comp_fx *f, const char *words, char *out, size_t cap)
{
    char cmd[2048];
    snprintf(cmd, sizeof cmd,
             "cd '%s' && bash --norc --noprofile -c '. ./fluxbot.bash || exit 9; "
             "COMP_WORDS=(%s); COMP_CWORD=$((${#COMP_WORDS[@]} - 1)); _fluxbot; "
             "printf \"%%s\\n\" \"${COMPREPLY[@]}\" | sort | tr \"\\n\" \" \"' 2>&1",
             f->dir.path, words);
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    size_t n = fread(out, 1, cap - 1, p);
    out[n] = '\0';
    int rc = pclose(p);
    if (rc != 0) snprintf(out, cap, "(error %d: %s)", rc, cmd);
    /* trim the trailing blank of the last candidate */
    while (n && (out[n - 1] == ' ' || out[n - 1] == '\n'))
        out[--n] = '\0';
    return out;
}

#define EXPECT(line, want)                                                                         \
    do {                                                                                           \
        char got_[4096];                                                                           \
        complete_line(f, line, got_, sizeof got_);                                                 \
        if (strcmp(got_, want) != 0)                                                               \
            fail_msg("completing [%s]: got [%s], want [%s]", line, got_, want);                    \
    } while (0)

static void completion_offers_values_by_their_type(void **state)
{
    comp_fx *f = *state;
    /* bash itself finds the script well-formed */
    char cmd[700], got[4096];
    snprintf(cmd, sizeof cmd, "bash -n '%s' 2>&1", f->script);
    FILE *p = popen(cmd, "r");
    size_t n = fread(got, 1, sizeof got - 1, p);
    got[n] = '\0';
    assert_int_equal(pclose(p), 0);
    assert_string_equal(got, "");

    /* a fixed set: its words, also after --key= */
    EXPECT("fluxbot --log-level \"\"", "debug error info trace warn");
    EXPECT("fluxbot run --log-level d", "debug");
    EXPECT("fluxbot --log-format = \"\"", "json text");
    EXPECT("fluxbot --log-level = tr", "trace");
    EXPECT("fluxbot --log-level =", "debug error info trace warn");
    EXPECT("fluxbot --gateway-compress \"\"", "false true");
    /* a boolean flag may stand alone: flags after it */
    EXPECT("fluxbot --access-dms --log-f", "--log-format");
    /* files and folders */
    EXPECT("fluxbot --ratios-file \"\"", "cdir conf.json fluxbot.bash");
    EXPECT("fluxbot -c co", "conf.json");
    EXPECT("fluxbot --config = co", "conf.json"); /* bash splits --config=co at = */
    EXPECT("fluxbot check --db-path = co", "conf.json");
    EXPECT("fluxbot --workflows-dir \"\"", "cdir");
    EXPECT("fluxbot --output-dir c", "cdir");
    /* numbers, URLs, ids, lists, JSON, secrets: nothing (never file names) */
    EXPECT("fluxbot --router-threads \"\"", "");
    EXPECT("fluxbot --metrics-port = \"\"", "");
    EXPECT("fluxbot --max-image-side c", "");
    EXPECT("fluxbot --discord-api-base \"\"", "");
    EXPECT("fluxbot --comfyui-urls c", "");
    EXPECT("fluxbot --guild-ids \"\"", "");
    EXPECT("fluxbot --access-commands \"\"", "");
    EXPECT("fluxbot --db-url \"\"", "");
    EXPECT("fluxbot --shard \"\"", "");
    EXPECT("fluxbot --bot-manager-role c", "");
    /* commands first, then flags */
    EXPECT("fluxbot \"\"", "check demo import-analytics run stats");
    EXPECT("fluxbot --log-", "--log-format --log-level");
    EXPECT("fluxbot check --demo-s", "--demo-seconds");
    /* the commands' own arguments */
    EXPECT("fluxbot stats -c \"\"", "cdir conf.json fluxbot.bash");
    EXPECT("fluxbot stats --chart c", "cdir conf.json");
    EXPECT("fluxbot stats --days \"\"", "");
    EXPECT("fluxbot stats --days = \"\"", "");
    EXPECT("fluxbot stats --j", "--json");
    EXPECT("fluxbot stats --log", ""); /* stats takes no key flags */
    EXPECT("fluxbot import-analytics \"\"", "cdir conf.json fluxbot.bash");
    EXPECT("fluxbot import-analytics --db c", "cdir conf.json");
    EXPECT("fluxbot import-analytics -", "--config --db --help -c");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(everything_in_help_is_in_the_man_page_and_the_completion),
        cmocka_unit_test_setup_teardown(completion_offers_values_by_their_type, comp_setup,
                                        comp_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
