/* Child processes and /proc sampling (see e2e_proc.h). */
#include "e2e_proc.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

int e2e_spawn(e2e_child *c, const char *path, char *const argv[], char *const envp[],
              const char *out_path)
{
    memset(c, 0, sizeof *c);
    int out = -1;
    if (out_path) {
        out = open(out_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
        if (out < 0) return -errno;
    }
    pid_t pid = fork();
    if (pid < 0) {
        int e = errno;
        if (out >= 0) close(out);
        return -e;
    }
    if (pid == 0) {
        if (out >= 0) {
            dup2(out, 1);
            dup2(out, 2);
        }
        /* A fresh signal state: the parent may block or ignore signals the bot relies on. */
        sigset_t none;
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        signal(SIGPIPE, SIG_DFL);
        execve(path, argv, envp);
        _exit(127);
    }
    if (out >= 0) close(out);
    c->pid = pid;
    return 0;
}

int e2e_signal(e2e_child *c, int sig)
{
    if (c->exited || c->pid <= 0) return -1;
    return kill(c->pid, sig);
}

static int try_reap(e2e_child *c, int flags)
{
    int status;
    struct rusage ru;
    pid_t r;
    do {
        r = wait4(c->pid, &status, flags, &ru);
    } while (r < 0 && errno == EINTR);
    if (r != c->pid) return -1;
    c->exited = true;
    c->status = status;
    c->cpu_ns = (uint64_t)ru.ru_utime.tv_sec * 1000000000ull +
                (uint64_t)ru.ru_utime.tv_usec * 1000 +
                (uint64_t)ru.ru_stime.tv_sec * 1000000000ull + (uint64_t)ru.ru_stime.tv_usec * 1000;
    c->maxrss_kb = (uint64_t)ru.ru_maxrss;
    return 0;
}

int e2e_wait(e2e_child *c, int64_t timeout_ms)
{
    if (c->exited) return 0;
    if (c->pid <= 0) return -1;
    if (timeout_ms < 0) return try_reap(c, 0);
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (;;) {
        if (try_reap(c, WNOHANG) == 0) return 0;
        struct timespec now;
        clock_gettime(CLOCK_MONOTONIC, &now);
        int64_t el =
            (int64_t)(now.tv_sec - t0.tv_sec) * 1000 + (now.tv_nsec - t0.tv_nsec) / 1000000;
        if (el >= timeout_ms) return -1;
        struct timespec nap = {0, 5 * 1000000L};
        nanosleep(&nap, NULL);
    }
}

int e2e_exit_code(const e2e_child *c)
{
    if (!c->exited) return -1;
    if (WIFEXITED(c->status)) return WEXITSTATUS(c->status);
    if (WIFSIGNALED(c->status)) return 128 + WTERMSIG(c->status);
    return -1;
}

void e2e_kill(e2e_child *c)
{
    if (c->exited || c->pid <= 0) return;
    kill(c->pid, SIGKILL);
    e2e_wait(c, -1);
}

int e2e_parse_stat(const char *text, e2e_procstat *out)
{
    /* "pid (comm) state ppid ...": comm can contain anything, so fields start after the last
     * ')'. Field numbers below are those of proc(5): state is 3, utime 14, stime 15,
     * num_threads 20, rss 24 (pages). */
    const char *p = strrchr(text, ')');
    if (!p) return -1;
    p++;
    unsigned long long v[24] = {0};
    int field = 3;
    while (*p && field <= 24) {
        while (*p == ' ')
            p++;
        if (!*p) break;
        char *end;
        if (field == 3) {
            end = (char *)p;
            while (*end && *end != ' ')
                end++;
        } else {
            v[field - 1] = strtoull(p, &end, 10);
            if (end == p) return -1;
        }
        p = end;
        field++;
    }
    if (field <= 24) return -1;
    out->utime_ticks = v[13];
    out->stime_ticks = v[14];
    out->threads = v[19];
    long page_kb = sysconf(_SC_PAGESIZE) / 1024;
    out->rss_kb = v[23] * (uint64_t)(page_kb > 0 ? page_kb : 4);
    return 0;
}

int e2e_parse_status(const char *text, e2e_procstat *out)
{
    bool rss = false;
    for (const char *line = text; line && *line;) {
        unsigned long long v;
        if (sscanf(line, "VmRSS: %llu kB", &v) == 1) {
            out->rss_kb = v;
            rss = true;
        } else if (sscanf(line, "VmHWM: %llu kB", &v) == 1) {
            out->hwm_kb = v;
        } else if (sscanf(line, "Threads: %llu", &v) == 1) {
            out->threads = v;
        }
        line = strchr(line, '\n');
        if (line) line++;
    }
    return rss ? 0 : -1;
}

static int read_text(const char *path, char *buf, size_t cap)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return -1;
    size_t len = 0;
    for (;;) {
        ssize_t n = read(fd, buf + len, cap - 1 - len);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        len += (size_t)n;
        if (len == cap - 1) break;
    }
    close(fd);
    buf[len] = 0;
    return len ? 0 : -1;
}

int e2e_proc_sample(pid_t pid, e2e_procstat *out)
{
    memset(out, 0, sizeof *out);
    char path[64], buf[8192];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    if (read_text(path, buf, sizeof buf) != 0 || e2e_parse_stat(buf, out) != 0) return -1;
    snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
    if (read_text(path, buf, sizeof buf) != 0 || e2e_parse_status(buf, out) != 0) return -1;
    return 0;
}

double e2e_proc_cpu_seconds(const e2e_procstat *s)
{
    long hz = sysconf(_SC_CLK_TCK);
    return (double)(s->utime_ticks + s->stime_ticks) / (double)(hz > 0 ? hz : 100);
}

int e2e_env_set(char ***env, const char *name, const char *value)
{
    size_t nl = strlen(name), n = 0;
    char *entry = malloc(nl + strlen(value) + 2);
    if (!entry) return -1;
    sprintf(entry, "%s=%s", name, value);
    char **e = *env;
    for (; e && e[n]; n++) {
        if (strncmp(e[n], name, nl) == 0 && e[n][nl] == '=') {
            free(e[n]);
            e[n] = entry;
            return 0;
        }
    }
    char **ne = realloc(e, (n + 2) * sizeof *ne);
    if (!ne) {
        free(entry);
        return -1;
    }
    ne[n] = entry;
    ne[n + 1] = NULL;
    *env = ne;
    return 0;
}

void e2e_env_free(char **env)
{
    for (size_t i = 0; env && env[i]; i++)
        free(env[i]);
    free(env);
}
