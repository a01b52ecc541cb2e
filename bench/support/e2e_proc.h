/*
 * Process control and /proc sampling for the end-to-end benchmark and the tests that run the
 * real fluxbot binary as a child: spawn with a chosen environment and output file, signal,
 * wait with a deadline (collecting the child's CPU time and peak RSS from wait4), and read
 * CPU time, RSS, peak RSS and thread count of a live process from /proc/<pid>/{stat,status}.
 * The /proc text parsers are pure and unit-tested.
 */
#ifndef FLUXBOT_BENCH_E2E_PROC_H
#define FLUXBOT_BENCH_E2E_PROC_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

typedef struct e2e_child {
    pid_t pid;
    bool exited;
    int status;         /* raw wait status once exited */
    uint64_t cpu_ns;    /* user + system CPU of the whole run (from wait4) */
    uint64_t maxrss_kb; /* peak RSS (from wait4) */
} e2e_child;

/* Starts path with argv (argv[0] included, NULL-terminated) and envp (NULL-terminated
 * "NAME=value" list; the child sees exactly these). stdout and stderr go to out_path (appended;
 * NULL = inherited). 0 or -errno. */
int e2e_spawn(e2e_child *c, const char *path, char *const argv[], char *const envp[],
              const char *out_path);
int e2e_signal(e2e_child *c, int sig);
/* Waits up to timeout_ms (< 0: forever). 0 once exited, -1 on timeout. */
int e2e_wait(e2e_child *c, int64_t timeout_ms);
/* The exit code when it exited normally, 128 + signal when killed, -1 while running. */
int e2e_exit_code(const e2e_child *c);
/* SIGKILL and reap, if still running (cleanup path). */
void e2e_kill(e2e_child *c);

typedef struct e2e_procstat {
    uint64_t utime_ticks, stime_ticks;
    uint64_t threads;
    uint64_t rss_kb;
    uint64_t hwm_kb; /* peak RSS so far */
} e2e_procstat;

/* Parses /proc/<pid>/stat text (the command name may hold spaces and parentheses). 0/-1. */
int e2e_parse_stat(const char *text, e2e_procstat *out);
/* Parses /proc/<pid>/status text for VmRSS and VmHWM. 0/-1 (-1 when VmRSS is missing, e.g. a
 * zombie). */
int e2e_parse_status(const char *text, e2e_procstat *out);
/* Reads both files of pid. 0/-1. */
int e2e_proc_sample(pid_t pid, e2e_procstat *out);
/* CPU seconds of a sample. */
double e2e_proc_cpu_seconds(const e2e_procstat *s);

/* Appends "NAME=value" to a NULL-terminated, malloc'd environment list (replacing an existing
 * NAME). *env may start as NULL. Returns 0/-1. */
int e2e_env_set(char ***env, const char *name, const char *value);
void e2e_env_free(char **env);

#endif
