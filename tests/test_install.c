/*
 * The install layout and the commands fluxbot prints, run as a user would:
 *   - from the build tree: the demo's closing commands name the binary by its real path and
 *     work when pasted into a shell (fluxbot stats, sqlite3, ls);
 *   - from an installed tree (FLUXBOT_INSTALLED_ROOT: the Debian package installed with dpkg,
 *     root "/", or unpacked with dpkg -x; scripts/test.sh sets it, and the test is skipped
 *     without it): the systemd unit's paths exist, `fluxbot --version` names its libraries,
 *     `fluxbot check` with the shipped configuration passes against the loopback fakes and
 *     finds the shipped workflows under the install prefix, a 3-second demo runs and the
 *     commands it prints (as `fluxbot`, the binary on PATH) work; the manual page and the bash
 *     completion are installed. Installed with dpkg, also the fluxbot user and the state and
 *     token files' owners and modes;
 *   - from `cmake --install` of a source build (FLUXBOT_SOURCE_INSTALL_ROOT, also set by
 *     scripts/test.sh): the unit's /usr/local paths, and the data found under the prefix.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <limits.h>
#include <pwd.h>
#include <sys/stat.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../bench/support/e2e_proc.c"
#include "fakes/fake_comfy.h"
#include "fakes/fake_discord.h"
#include "fluxbot/log.h"
#include "util/util_file.h"

#define TOKEN "install-test-token.fluxbot"

typedef struct world {
    char dir[64], supp[128], out[128];
    char **env;
} world;

static void world_init(world *w)
{
    memset(w, 0, sizeof *w);
    snprintf(w->dir, sizeof w->dir, "/tmp/fluxbot-install-XXXXXX");
    assert_non_null(mkdtemp(w->dir));
    snprintf(w->supp, sizeof w->supp, "%s/lsan.supp", w->dir);
    snprintf(w->out, sizeof w->out, "%s/out.txt", w->dir);
    /* An ASan child (the build tree's binary) runs with leak detection and no suppression: the
     * demo and the commands it prints exit without a leak report. Neither the font cache of
     * the /stats chart (released at exit, an_chart_release) nor the CA store libwebsockets
     * leaks when two TLS client contexts are alive (the ComfyUI websocket of a plain http
     * server has no TLS context) may come back. The file stays empty, for the child's
     * LSAN_OPTIONS. */
    FILE *s = fopen(w->supp, "w");
    assert_non_null(s);
    fclose(s);
    char lsan[200];
    snprintf(lsan, sizeof lsan, "suppressions=%s", w->supp);
    e2e_env_set(&w->env, "LSAN_OPTIONS", lsan);
    e2e_env_set(&w->env, "ASAN_OPTIONS", "detect_leaks=1:abort_on_error=1");
    e2e_env_set(&w->env, "TMPDIR", w->dir);
    e2e_env_set(&w->env, "HOME", w->dir);
    e2e_env_set(&w->env, "PATH", "/usr/local/bin:/usr/bin:/bin");
}

static void world_free(world *w)
{
    e2e_env_free(w->env);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", w->dir);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", w->dir);
}

/* Runs argv with w's environment, output (stdout + stderr) into w->out; returns the exit code
 * and the output (malloc'd) in *text. */
static int run(world *w, char *const argv[], char **text)
{
    unlink(w->out);
    e2e_child c;
    assert_int_equal(e2e_spawn(&c, argv[0], argv, w->env, w->out), 0);
    if (e2e_wait(&c, 120000) != 0) {
        e2e_kill(&c);
        fail_msg("%s did not finish in 120 s", argv[0]);
    }
    char err[200];
    *text = util_file_read(w->out, 1 << 22, NULL, err, sizeof err);
    if (!*text) *text = strdup("");
    return e2e_exit_code(&c);
}

/* Runs one printed command line through the shell, as pasting it would. */
static int run_shell(world *w, const char *line, char **text)
{
    char *argv[] = {"/bin/sh", "-c", (char *)line, NULL};
    return run(w, argv, text);
}

/* The demo's "Look at them:" block: every command it prints works as printed. `expect` is how
 * the binary must be named in them. */
static void demo_commands_work(world *w, const char *bin, const char *expect)
{
    char *argv[] = {(char *)bin, "demo", "--demo-seconds", "3", NULL};
    char *out;
    int rc = run(w, argv, &out);
    if (rc != 0) fprintf(stderr, "demo output:\n%s\n", out);
    assert_int_equal(rc, 0);
    const char *block = strstr(out, "\nLook at them:\n");
    assert_non_null(block);
    block += strlen("\nLook at them:\n");
    char want[PATH_MAX + 32];
    snprintf(want, sizeof want, "  %s stats --db ", expect);
    if (strncmp(block, want, strlen(want)) != 0) fail_msg("expected \"%s\" in:\n%s", want, block);
    unsigned ran = 0;
    for (const char *p = block; strncmp(p, "  ", 2) == 0;) {
        const char *e = strchr(p, '\n');
        assert_non_null(e);
        char *line = strndup(p + 2, (size_t)(e - p - 2));
        char *res;
        int crc = run_shell(w, line, &res);
        if (crc != 0 || !res[0]) fail_msg("printed command failed (%d): %s\n%s", crc, line, res);
        /* fluxbot stats answers with the statistics; sqlite3 with rows; ls with the files. */
        free(res);
        free(line);
        ran++;
        p = e + 1;
    }
    assert_int_equal(ran, 4);
    /* The closing hint names the same binary. */
    snprintf(want, sizeof want, "COMFYUI_URLS=http://127.0.0.1:8188 %s\n", expect);
    assert_non_null(strstr(block, want));
    free(out);
}

static void build_tree_commands_work_as_printed(void **state)
{
    (void)state;
    const char *bin = getenv("FLUXBOT_BIN");
    assert_non_null(bin);
    char real[PATH_MAX];
    assert_non_null(realpath(bin, real));
    world w;
    world_init(&w);
    /* Not on PATH: the demo names the binary by its full path. */
    demo_commands_work(&w, real, real);

    /* The manual page and the completion come from the same tables as --help. */
    char *argv[] = {real, "--man", NULL}, *text;
    assert_int_equal(run(&w, argv, &text), 0);
    assert_non_null(strstr(text, ".TH FLUXBOT 1"));
    assert_non_null(strstr(text, "\\-\\-workflows\\-dir"));
    assert_non_null(strstr(text, "FLUXBOT_METRICS_PORT"));
    free(text);
    char *argv2[] = {real, "--bash-completion", NULL};
    assert_int_equal(run(&w, argv2, &text), 0);
    assert_non_null(strstr(text, "complete -F _fluxbot fluxbot"));
    assert_non_null(strstr(text, "--log-level) _fluxbot_words 'error warn info debug trace'"));
    free(text);
    world_free(&w);
}

/* The value of `Key=` in the unit (first occurrence), into out. */
static bool unit_value(const char *unit, const char *key, char *out, size_t cap)
{
    char pat[64];
    snprintf(pat, sizeof pat, "\n%s=", key);
    const char *p = strstr(unit, pat);
    if (!p) return false;
    p += strlen(pat);
    size_t n = strcspn(p, "\n");
    snprintf(out, cap, "%.*s", (int)n, p);
    return true;
}

static void assert_exists(const char *root, const char *path, bool dir)
{
    char full[PATH_MAX * 2];
    snprintf(full, sizeof full, "%s%s", strcmp(root, "/") ? root : "", path);
    struct stat st;
    if (stat(full, &st) != 0) fail_msg("%s does not exist after install", full);
    if (dir ? !S_ISDIR(st.st_mode) : !S_ISREG(st.st_mode))
        fail_msg("%s is not a %s", full, dir ? "folder" : "file");
}

static void installed_package_works(void **state)
{
    (void)state;
    const char *root_in = getenv("FLUXBOT_INSTALLED_ROOT");
    if (!root_in || !*root_in) skip();
    char root[PATH_MAX];
    assert_non_null(realpath(root_in, root));
    bool system_wide = strcmp(root, "/") == 0;
    const char *r = system_wide ? "" : root;
    char bin[PATH_MAX + 32], unitpath[PATH_MAX + 64], conf[PATH_MAX + 64];
    snprintf(bin, sizeof bin, "%s/usr/bin/fluxbot", r);
    snprintf(conf, sizeof conf, "%s/etc/fluxbot/fluxbot.json", r);

    /* The unit: every path it names exists after install. */
    snprintf(unitpath, sizeof unitpath, "%s/lib/systemd/system/fluxbot.service", r);
    char err[200];
    char *unit = util_file_read(unitpath, 1 << 16, NULL, err, sizeof err);
    if (!unit) fail_msg("%s", err);
    char v[512], exec[512];
    assert_true(unit_value(unit, "ExecStart", exec, sizeof exec));
    assert_int_equal(strncmp(exec, "/usr/bin/fluxbot run -c /etc/fluxbot/fluxbot.json", 49), 0);
    assert_exists(root, "/usr/bin/fluxbot", false);
    assert_exists(root, "/etc/fluxbot/fluxbot.json", false);
    assert_true(unit_value(unit, "EnvironmentFile", v, sizeof v));
    assert_exists(root, v, false);
    assert_true(unit_value(unit, "WorkingDirectory", v, sizeof v));
    assert_exists(root, v, true);
    assert_true(unit_value(unit, "User", v, sizeof v));
    assert_string_equal(v, "fluxbot");
    free(unit);
    assert_exists(root, "/usr/share/fluxbot/workflows/flux_txt2img.map.json", false);
    /* the command declarations: every generation command is one */
    assert_exists(root, "/usr/share/fluxbot/workflows/comfy.cmd.json", false);
    assert_exists(root, "/usr/share/fluxbot/workflows/reduxprompt.cmd.json", false);
    assert_exists(root, "/usr/share/fluxbot/workflows/upscale.cmd.json", false);
    assert_exists(root, "/usr/share/fluxbot/config/ratios.json", false);
    assert_exists(root, "/usr/share/man/man1/fluxbot.1.gz", false);
    assert_exists(root, "/usr/share/bash-completion/completions/fluxbot", false);
    assert_exists(root, "/usr/share/doc/fluxbot/docs/comfy.md", false);
    /* Debian policy: the copyright file and the changelog; lintian's overrides with reasons */
    assert_exists(root, "/usr/share/doc/fluxbot/copyright", false);
    assert_exists(root, "/usr/share/doc/fluxbot/changelog.gz", false);
    assert_exists(root, "/usr/share/lintian/overrides/fluxbot", false);

    if (system_wide) {
        /* postinst ran: the system user, its state folder, the token file readable by root. */
        struct passwd *pw = getpwnam("fluxbot");
        assert_non_null(pw);
        struct stat st;
        assert_int_equal(stat("/var/lib/fluxbot", &st), 0);
        assert_int_equal(st.st_uid, pw->pw_uid);
        assert_int_equal(st.st_mode & 0777, 0750);
        assert_int_equal(stat("/etc/fluxbot/fluxbot.env", &st), 0);
        assert_int_equal(st.st_uid, 0);
        assert_int_equal(st.st_mode & 0777, 0600);
    }

    world w;
    world_init(&w);
    char *text;
    char *version[] = {bin, "--version", NULL};
    assert_int_equal(run(&w, version, &text), 0);
    static const char *const libs[] = {
        "fluxbot " FLUXBOT_VERSION, "libwebsockets", "libcurl", "SQLite", "cJSON",
        "Concurrency Kit"};
    for (size_t i = 0; i < sizeof libs / sizeof libs[0]; i++)
        if (!strstr(text, libs[i])) fail_msg("--version lacks %s:\n%s", libs[i], text);
    free(text);

    /* The completion loads in bash and completes a subcommand. */
    char line[PATH_MAX + 256];
    snprintf(line, sizeof line,
             ". '%s/usr/share/bash-completion/completions/fluxbot' && COMP_WORDS=(fluxbot ch) "
             "COMP_CWORD=1 && _fluxbot && echo \"${COMPREPLY[*]}\"",
             r);
    char *bash[] = {"/bin/bash", "-c", line, NULL};
    assert_int_equal(run(&w, bash, &text), 0);
    assert_string_equal(text, "check\n");
    free(text);

    /* fluxbot check with the shipped configuration, the token and servers from the
     * environment as the unit's EnvironmentFile gives them, against the loopback fakes. */
    fake_discord_options fo = {.token = TOKEN};
    fake_discord *fd = fake_discord_start(&fo);
    fake_comfy *comfy = fake_comfy_start(NULL);
    assert_non_null(fd);
    assert_non_null(comfy);
    char db[128];
    snprintf(db, sizeof db, "%s/check.db", w.dir);
    /* As the README tells an operator to: the EnvironmentFile sourced by the shell, then check
     * with the unit's configuration file. The shipped environment file (all comments until the
     * operator fills it in) must source cleanly; a filled-in one in the same format follows,
     * with the fakes' addresses and a database in the test's folder. */
    char envfile[128];
    snprintf(envfile, sizeof envfile, "%s/fluxbot.env", w.dir);
    FILE *ef = fopen(envfile, "w");
    assert_non_null(ef);
    fprintf(ef,
            "# as in /etc/fluxbot/fluxbot.env\nDISCORD_TOKEN=%s\nCOMFYUI_URLS=%s\n"
            "DISCORD_API_BASE=%s\nFLUXBOT_DB=%s\n",
            TOKEN, fake_comfy_url(comfy), fake_discord_api_base(fd), db);
    fclose(ef);
    char path[PATH_MAX + 64];
    snprintf(path, sizeof path, "%s/usr/bin:/usr/local/bin:/usr/bin:/bin", r);
    e2e_env_set(&w.env, "PATH", path);
    char cmdline[PATH_MAX * 4];
    snprintf(cmdline, sizeof cmdline,
             "set -a; . '%s/etc/fluxbot/fluxbot.env'; . '%s'; exec fluxbot check -c '%s'", r,
             envfile, conf);
    int rc = run_shell(&w, cmdline, &text);
    if (rc != 0) fprintf(stderr, "%s", text);
    assert_int_equal(rc, 0);
    assert_non_null(strstr(text, "all checks passed"));
    char want[PATH_MAX + 64];
    snprintf(want, sizeof want, "[ok]   workflows      %s/usr/share/fluxbot/workflows", r);
    if (!strstr(text, want)) fail_msg("check did not use the installed workflows:\n%s", text);
    assert_null(strstr(text, TOKEN));
    free(text);
    fake_comfy_stop(comfy);
    fake_discord_stop(fd);
    world_free(&w);

    /* The demo from the installed files; on PATH, so it prints `fluxbot`. */
    world_init(&w);
    e2e_env_set(&w.env, "PATH", path);
    demo_commands_work(&w, bin, "fluxbot");
    world_free(&w);
}

/* `cmake --install` of a source build (FLUXBOT_SOURCE_INSTALL_ROOT: scripts/test.sh installs
 * build/release there with DESTDIR, default prefix /usr/local): the unit names the prefix's
 * binary and configuration, and the binary, copied out of the build tree, finds the installed
 * data and not the source tree. */
static void source_install_finds_its_files(void **state)
{
    (void)state;
    const char *root_in = getenv("FLUXBOT_SOURCE_INSTALL_ROOT");
    if (!root_in || !*root_in) skip();
    char root[PATH_MAX];
    assert_non_null(realpath(root_in, root));
    char unitpath[PATH_MAX + 64], err[200], v[512];
    snprintf(unitpath, sizeof unitpath, "%s/usr/local/lib/systemd/system/fluxbot.service", root);
    char *unit = util_file_read(unitpath, 1 << 16, NULL, err, sizeof err);
    if (!unit) fail_msg("%s", err);
    assert_true(unit_value(unit, "ExecStart", v, sizeof v));
    assert_string_equal(v, "/usr/local/bin/fluxbot run -c /usr/local/etc/fluxbot/fluxbot.json");
    assert_true(unit_value(unit, "EnvironmentFile", v, sizeof v));
    assert_string_equal(v, "/usr/local/etc/fluxbot/fluxbot.env");
    free(unit);
    assert_exists(root, "/usr/local/etc/fluxbot/fluxbot.json", false);
    assert_exists(root, "/usr/local/etc/fluxbot/fluxbot.env", false);
    assert_exists(root, "/usr/local/share/man/man1/fluxbot.1.gz", false);

    world w;
    world_init(&w);
    char bin[PATH_MAX + 32];
    snprintf(bin, sizeof bin, "%s/usr/local/bin/fluxbot", root);
    char *argv[] = {bin, "--print-config", NULL}, *text;
    assert_int_equal(run(&w, argv, &text), 0);
    char want[PATH_MAX + 64];
    snprintf(want, sizeof want, "\"%s/usr/local/share/fluxbot/workflows\"", root);
    if (!strstr(text, want)) fail_msg("expected %s in:\n%s", want, text);
    assert_null(strstr(text, FLUXBOT_SOURCE_DIR));
    free(text);
    world_free(&w);
}

int main(void)
{
    log_configure(LOG_LEVEL_ERROR, false, 2);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(build_tree_commands_work_as_printed),
        cmocka_unit_test(installed_package_works),
        cmocka_unit_test(source_install_finds_its_files),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
