/* The running executable's own path, name and data folders (see util_self.h). */
#include "util/util_self.h"

#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Set by cmake/install.cmake on this file only: where the build tree is, and the GNU install
 * layout (relative from the bin folder, and absolute under the configured prefix). Without
 * them the build tree could not be told from an installation, so refuse to build. */
#if !defined(FLUXBOT_BUILD_DIR) || !defined(FLUXBOT_BIN_TO_DATADIR) ||                             \
    !defined(FLUXBOT_INSTALL_DATADIR) || !defined(FLUXBOT_BIN_TO_DOCDIR) ||                        \
    !defined(FLUXBOT_INSTALL_DOCDIR)
#error "util_self.c needs the install layout definitions of cmake/install.cmake"
#endif

static pthread_once_t once = PTHREAD_ONCE_INIT;
static char exe[PATH_MAX];
static bool in_build;
static char datadir[PATH_MAX], docdir[PATH_MAX], command[PATH_MAX + 8];

static bool is_dir(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

/* The folder `rel` (relative to the executable's folder) if it exists, resolved; else `abs`. */
static void pick(char *out, size_t cap, const char *exe_dir, const char *rel, const char *abs)
{
    char joined[PATH_MAX * 2], real[PATH_MAX];
    snprintf(joined, sizeof joined, "%s/%s", exe_dir, rel);
    if (exe_dir[0] && is_dir(joined) && realpath(joined, real)) {
        snprintf(out, cap, "%s", real);
        return;
    }
    snprintf(out, cap, "%s", abs);
}

/* "fluxbot" when the first `fluxbot` on PATH is this file, else the quoted full path. */
static void find_command(void)
{
    const char *path = getenv("PATH");
    if (exe[0] && path) {
        for (const char *p = path; *p;) {
            const char *colon = strchr(p, ':');
            size_t n = colon ? (size_t)(colon - p) : strlen(p);
            char cand[PATH_MAX + 16], real[PATH_MAX];
            /* An empty PATH entry means the current folder: not something to print. */
            if (n > 0 && n < PATH_MAX) {
                snprintf(cand, sizeof cand, "%.*s/fluxbot", (int)n, p);
                if (access(cand, X_OK) == 0) {
                    if (realpath(cand, real) && strcmp(real, exe) == 0) {
                        snprintf(command, sizeof command, "fluxbot");
                        return;
                    }
                    break; /* the shell would run that other fluxbot, not this one */
                }
            }
            if (!colon) break;
            p = colon + 1;
        }
    }
    if (!exe[0] || !util_shell_quote(exe, command, sizeof command))
        snprintf(command, sizeof command, "fluxbot");
}

static void init(void)
{
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    exe[n > 0 ? n : 0] = '\0';
    char build[PATH_MAX];
    if (exe[0] && realpath(FLUXBOT_BUILD_DIR, build)) {
        size_t bl = strlen(build);
        in_build = strncmp(exe, build, bl) == 0 && exe[bl] == '/';
    }
    char exe_dir[PATH_MAX];
    snprintf(exe_dir, sizeof exe_dir, "%s", exe);
    char *slash = strrchr(exe_dir, '/');
    if (slash)
        *slash = '\0';
    else
        exe_dir[0] = '\0';
    if (in_build) {
        snprintf(datadir, sizeof datadir, "%s", FLUXBOT_SOURCE_DIR);
        snprintf(docdir, sizeof docdir, "%s", FLUXBOT_SOURCE_DIR);
    } else {
        pick(datadir, sizeof datadir, exe_dir, FLUXBOT_BIN_TO_DATADIR, FLUXBOT_INSTALL_DATADIR);
        pick(docdir, sizeof docdir, exe_dir, FLUXBOT_BIN_TO_DOCDIR, FLUXBOT_INSTALL_DOCDIR);
    }
    find_command();
}

const char *util_self_exe(void)
{
    pthread_once(&once, init);
    return exe;
}

bool util_self_in_build_tree(void)
{
    pthread_once(&once, init);
    return in_build;
}

const char *util_self_datadir(void)
{
    pthread_once(&once, init);
    return datadir;
}

const char *util_self_docdir(void)
{
    pthread_once(&once, init);
    return docdir;
}

const char *util_self_command(void)
{
    pthread_once(&once, init);
    return command;
}

bool util_shell_quote(const char *s, char *out, size_t cap)
{
    bool plain = *s != '\0';
    for (const char *p = s; *p && plain; p++)
        plain = strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789/._-+=:,@%",
                       *p) != NULL;
    size_t o = 0;
    if (plain) {
        if (strlen(s) >= cap) return false;
        memcpy(out, s, strlen(s) + 1);
        return true;
    }
    /* Inside single quotes nothing is special but the quote itself, written as '\''. */
    if (o + 1 >= cap) return false;
    out[o++] = '\'';
    for (const char *p = s; *p; p++) {
        if (*p == '\'') {
            if (o + 4 >= cap) return false;
            memcpy(out + o, "'\\''", 4);
            o += 4;
        } else {
            if (o + 1 >= cap) return false;
            out[o++] = *p;
        }
    }
    if (o + 2 > cap) return false;
    out[o++] = '\'';
    out[o] = '\0';
    return true;
}
