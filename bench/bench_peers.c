/*
 * bench_peers: what one interaction costs fluxbot beside a discord.py bot doing the same work,
 * both driven by the project's own fakes (Discord, ComfyUI) at the same fixed rate.
 *
 * Each bot runs as a child process against a fresh fake Discord (gateway + REST on loopback)
 * and a fresh fake ComfyUI (1 step, 64×64 PNG), with an output folder of its own:
 *   - fluxbot (the real binary, `run`) with `--stats-chart false`: its /stats is then a
 *     deferral and an embed edit, the same Discord work as the peer's;
 *   - fluxbot-chart: the same binary with its default chart on (every /stats edit also carries
 *     the chart, drawn with cairo and uploaded as a multipart PNG): an extra row for mixes with
 *     /stats, so the cost of the chart is shown beside the equal-work figure, not hidden;
 *   - bench/peers/discordpy_bot.py under Debian's python3-discord, which answers /stats with a
 *     deferral and an embed edit and runs /comfy as fluxbot does: a deferral, the progress line
 *     (edited at most every 1.5 s), the workflow queued on ComfyUI and followed on its
 *     websocket (its outputs from the `executed` frames, the history asked only when they do
 *     not tell all, as fluxbot), its image fetched, a copy kept (on tmpfs when there is one,
 *     see pass_start), and a multipart PNG edit;
 *   - floor (bench/peers/floor_bot.c, stats mix only): a measuring stick, not a bot: one thread,
 *     libc, epoll, plain TCP, a constant embed of the size of fluxbot's. The least CPU and the
 *     fewest system calls any bot can spend on the same /stats Discord work here, so what the
 *     others spend above it is their libraries and their code, below it the kernel and the wire.
 * Once a bot has registered its commands, the driver injects interactions at --rate per second
 * for --seconds (send times fixed in advance, latency measured from the scheduled time), waits
 * until each one has its deferral and its final edit (for /comfy: the multipart result), and
 * reads the child's CPU time from /proc/<pid>/stat before and after the window, so start-up is
 * not counted. With --strace a second pass of each bot runs under `strace -f -c` attached for
 * the window only and gives the system calls per interaction.
 *
 * Equal work is checked, not claimed: the fakes count what each bot asked of them in the window
 * (Discord REST calls by kind: deferral, JSON edit, multipart edit, follow-up...; ComfyUI HTTP
 * requests by route; websocket connections, messages sent and frames received), printed per
 * interaction for every bot, and a warning line (`"equal_work": false` in --json) says where
 * fluxbot's counts differ from discord.py's by more than WORK_TOLERANCE. A bot that falls behind
 * (its jobs wait, so its progress line is edited more often) shows there too.
 *
 *   bench_peers [--rate N] [--seconds S] [--mix stats|png|half] [--bin PATH] [--python PATH]
 *               [--script PATH] [--workflow PATH] [--floor PATH] [--strace] [--json]
 *               [--only BOT[,BOT...]]
 *   (BOT: fluxbot, fluxbot-chart, discordpy, floor; default: all, fluxbot-chart only for mixes
 *   with /stats, floor only for the stats mix; --workflow: the API-format graph the peer
 *   patches and queues, fluxbot's own workflows/flux_txt2img.json by default; --floor: the
 *   floor bot, floor_bot beside this program by default)
 *
 * The figure that matters is the ratio of CPU per interaction (fluxbot ÷ discord.py), measured
 * in the same run on the same machine; fluxbot-chart ÷ discord.py is printed beside it, and with
 * the floor, floor ÷ discord.py and fluxbot ÷ floor (how far fluxbot is above the kernel and the
 * wire). Exit status: 0 when every interaction of every pass was answered exactly once, 1
 * otherwise, 2 on a usage or set-up error.
 */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bench_util.h"
#include "e2e_proc.h"
#include "fakes/fake_comfy.h"
#include "fakes/fake_discord.h"

#define TOKEN "bench-token.peers.fluxbot"

#define TOP_SYSCALLS 8
#define MAX_THREAD_KINDS 24

/* The bots, one row each. To add one: a peer_kind, its row in k_peers, and (if it is started
 * in a new way) a peer_runner case in pass_start. */
typedef enum peer_kind {
    PEER_FLUXBOT,
    PEER_FLUXBOT_CHART,
    PEER_DISCORDPY,
    PEER_FLOOR,
    PEER_COUNT
} peer_kind;

typedef enum peer_runner {
    RUN_FLUXBOT, /* the --bin binary, `run`, with the fake ComfyUI and a database of its own */
    RUN_PYTHON,  /* --script under --python */
    RUN_FLOOR,   /* --floor, alone (it needs only the fake Discord) */
} peer_runner;

typedef struct peer_desc {
    const char *name;   /* in the table and the JSON */
    const char *option; /* its name for --only */
    peer_runner runner;
    bool stats_chart;       /* fluxbot: /stats with its chart (the default) instead of without */
    bool stats_only;        /* run by default only when the mix has /stats */
    bool equal_work;        /* its calls per interaction must match discord.py's (the check) */
    const char *ratio_note; /* beside its CPU ratio to discord.py */
    bool stats_mix_only;    /* it answers /stats only: runs in the stats mix only */
} peer_desc;

static const peer_desc k_peers[PEER_COUNT] = {
    [PEER_FLUXBOT] = {"fluxbot", "fluxbot", RUN_FLUXBOT, false, false, true,
                      " (equal work: /stats without the chart)"},
    [PEER_FLUXBOT_CHART] = {"fluxbot-chart", "fluxbot-chart", RUN_FLUXBOT, true, true, false,
                            " (its /stats also draws and uploads the chart)"},
    /* "discordpy" for --only: a shell-friendly name */
    [PEER_DISCORDPY] = {"discord.py", "discordpy", RUN_PYTHON, false, false, false, ""},
    /* the same Discord calls as discord.py's /stats, checked like fluxbot's */
    [PEER_FLOOR] = {"floor", "floor", RUN_FLOOR, false, true, true,
                    " (the floor: kernel and wire only)", true},
};

typedef enum mix_kind { MIX_STATS, MIX_PNG, MIX_HALF } mix_kind;

typedef struct opts {
    unsigned rate, seconds;
    const char *bin, *python, *script, *workflow, *only, *mix_name, *floor;
    mix_kind mix;
    bool strace, json;
} opts;

typedef struct sent {
    uint64_t id;
    uint64_t due_ns;
    bool png;
} sent;

typedef struct result {
    const char *name;
    unsigned sent, answered, doubled, edited;
    double cpu_s, wall_s;
    double us_per_ix;              /* CPU µs per interaction */
    double core_pct;               /* share of one core over the window */
    double p50_ms, p99_ms, max_ms; /* scheduled send -> accepted deferral */
    double syscalls_per_ix;        /* -1: not measured */
    struct {                       /* the most frequent ones, per interaction, most first */
        char name[24];
        double per_ix;
    } top[TOP_SYSCALLS];
    unsigned ntop;
    struct { /* CPU and context switches by thread name (router/0 and router/1: "router") */
        char name[16];
        double us_per_ix, switches_per_ix;
    } thr[MAX_THREAD_KINDS];
    unsigned nthr;
    bool ok;
    peer_kind kind;
    /* What the fakes saw of the bot in the window (from just before the first injection to a
     * moment after the last answer), per interaction: Discord REST calls by kind, ComfyUI HTTP
     * requests by route, websocket connections, messages the bot sent on them and frames it
     * received. */
    struct {
        double discord[FAKE_REST_KIND_COUNT];
        double comfy[FAKE_COMFY_ROUTE_COUNT];
        double ws_connects, ws_sent, ws_received;
    } work;
    bool work_known;
    /* CPU per interaction in user mode and in the kernel (utime, stime of /proc/<pid>/stat):
     * the kernel splits its exact total by where its clock ticks fell, so the split is a sample
     * of CPU / tick (a 50 µs/ix bot at 300/s for 10 s: 15 ticks); read it over long runs */
    double user_us_per_ix, sys_us_per_ix;
} result;

/* Two bots did the same work when every count per interaction is within this of the other's:
 * one call in a hundred interactions (a retried request, a poll on a timer, or fluxbot's REST
 * actor dropping a progress edit still queued when the job's result comes: docs/rest.md,
 * "superseded"), not a call every job makes. */
#define WORK_TOLERANCE 0.01

static double proc_cpu_s(pid_t pid)
{
    e2e_procstat st;
    return e2e_proc_sample(pid, &st) == 0 ? e2e_proc_cpu_seconds(&st) : -1;
}

/* The child: the bot itself, or strace attached to it for the syscall pass. */
typedef struct pass {
    fake_discord *fd;
    fake_comfy *comfy;
    e2e_child child;
    bool started;
    char dir[64], log[128];
    char outdir[64]; /* the result copies' folder, on tmpfs when there is one ("" otherwise) */
} pass;

static bool commands_registered(pass *p)
{
    char *cmds = fake_rest_commands_json(fake_discord_rest(p->fd), 0);
    bool ok = cmds && strstr(cmds, "\"stats\"") != NULL;
    free(cmds);
    return ok;
}

static void log_tail(const pass *p)
{
    char cmd[200];
    snprintf(cmd, sizeof cmd, "tail -n 80 '%s' >&2", p->log);
    if (system(cmd) != 0) fprintf(stderr, "bench_peers: no log at %s\n", p->log);
}

static int pass_start(pass *p, const opts *o, peer_kind k)
{
    memset(p, 0, sizeof *p);
    snprintf(p->dir, sizeof p->dir, "/tmp/fluxbot-peers-XXXXXX");
    if (!mkdtemp(p->dir)) return -1;
    snprintf(p->log, sizeof p->log, "%s/bot.log", p->dir);
    fake_discord_options fo = {.token = TOKEN};
    p->fd = fake_discord_start(&fo);
    if (!p->fd) return -1;

    char **env = NULL;
    e2e_env_set(&env, "DISCORD_TOKEN", TOKEN);
    e2e_env_set(&env, "DISCORD_API_BASE", fake_discord_api_base(p->fd));
    e2e_env_set(&env, "PATH", "/usr/bin:/bin");
    /* FLUXBOT_* settings of the caller reach the bot (to compare configurations) */
    extern char **environ;
    for (char **e = environ; *e; e++) {
        const char *eq = strchr(*e, '=');
        if (strncmp(*e, "FLUXBOT_", 8) != 0 || !eq) continue;
        char name[128];
        snprintf(name, sizeof name, "%.*s", (int)(eq - *e), *e);
        e2e_env_set(&env, name, eq + 1);
    }
    /* every bot gets the same fake ComfyUI (its /comfy runs a job there) and an output
     * folder where it keeps a copy of each result */
    fake_comfy_opts co = {.steps = 1, .png_width = 64, .png_height = 64, .name = "peers-comfy"};
    p->comfy = fake_comfy_start(&co);
    if (!p->comfy) {
        e2e_env_free(env);
        return -1;
    }
    /* The result copies go to tmpfs when the machine has one: creating a file on an ext4
     * without a journal (as the benchmark machine's) makes the kernel walk the inodes freed in the
     * last 30 s (earlier passes' files, builds beside the bench), a cost as large as a bot's whole
     * job here, equal for both bots and swinging from run to run; it would measure the disk, not
     * the bots. */
    char db[128], out[128];
    snprintf(p->outdir, sizeof p->outdir, "/dev/shm/fluxbot-peers-out-XXXXXX");
    if (!mkdtemp(p->outdir)) p->outdir[0] = '\0';
    snprintf(out, sizeof out, "%s/output", p->outdir[0] ? p->outdir : p->dir);
    e2e_env_set(&env, "COMFYUI_URLS", fake_comfy_url(p->comfy));
    int rc;
    switch (k_peers[k].runner) {
    case RUN_FLUXBOT: {
        snprintf(db, sizeof db, "%s/bench.db", p->dir);
        e2e_env_set(&env, "FLUXBOT_DB", db);
        e2e_env_set(&env, "FLUXBOT_OUTPUT_DIR", out);
        e2e_env_set(&env, "FLUXBOT_LOG_LEVEL", "warn");
        /* fluxbot: the chart off, so /stats does the peer's work (a deferral and an embed
         * edit); fluxbot-chart: the default (so a build from before the key runs it too) */
        char *argv[] = {(char *)o->bin,
                        "run",
                        "--user-max-concurrent-jobs",
                        "1000",
                        "--user-max-jobs-per-hour",
                        "100000",
                        "--max-queued-jobs",
                        "100000",
                        k_peers[k].stats_chart ? NULL : "--stats-chart",
                        "false",
                        NULL};
        rc = e2e_spawn(&p->child, o->bin, argv, env, p->log);
        break;
    }
    case RUN_FLOOR: {
        char *argv[] = {(char *)o->floor, NULL};
        rc = e2e_spawn(&p->child, o->floor, argv, env, p->log);
        break;
    }
    case RUN_PYTHON:
    default: {
        e2e_env_set(&env, "PEER_OUTPUT_DIR", out);
        e2e_env_set(&env, "PEER_WORKFLOW", o->workflow);
        char *argv[] = {(char *)o->python, (char *)o->script, NULL};
        rc = e2e_spawn(&p->child, o->python, argv, env, p->log);
        break;
    }
    }
    e2e_env_free(env);
    if (rc != 0) {
        fprintf(stderr, "bench_peers: cannot start the bot: %s\n", strerror(-rc));
        return -1;
    }
    p->started = true;
    uint64_t deadline = bench_now_ns() + 30000000000ull;
    while (!commands_registered(p)) {
        if (e2e_wait(&p->child, 0) == 0) {
            fprintf(stderr, "bench_peers: the bot exited during start (code %d)\n",
                    e2e_exit_code(&p->child));
            log_tail(p);
            return -1;
        }
        if (bench_now_ns() > deadline) {
            fprintf(stderr, "bench_peers: the bot registered no commands within 30 s\n");
            log_tail(p);
            return -1;
        }
        bench_sleep_until_ns(bench_now_ns() + 20000000ull);
    }
    bench_sleep_until_ns(bench_now_ns() + 500000000ull); /* let start-up work settle */
    return 0;
}

static void pass_stop(pass *p)
{
    if (p->started) {
        e2e_signal(&p->child, SIGTERM);
        if (e2e_wait(&p->child, 10000) != 0) e2e_kill(&p->child);
    }
    if (p->comfy) fake_comfy_stop(p->comfy);
    if (p->fd) fake_discord_stop(p->fd);
    char cmd[160];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'%s%s%s", p->dir, p->outdir[0] ? " '" : "", p->outdir,
             p->outdir[0] ? "'" : "");
    if (system(cmd) != 0) fprintf(stderr, "bench_peers: could not remove %s\n", p->dir);
}

/* strace -f -c attached to pid; returns its pid (its summary goes to out). */
static pid_t strace_attach(pid_t pid, const char *out)
{
    pid_t s = fork();
    if (s == 0) {
        char pids[32];
        snprintf(pids, sizeof pids, "%d", (int)pid);
        execlp("strace", "strace", "-f", "-c", "-q", "-o", out, "-p", pids, (char *)NULL);
        _exit(127);
    }
    /* strace needs a moment to attach to every thread before the window starts */
    bench_sleep_until_ns(bench_now_ns() + 1000000000ull);
    return s;
}

/* strace -c's summary: the calls of its "total" line (4th column), and the most frequent system
 * calls into r->top (per interaction, n interactions). Rows: % time, seconds, usecs/call,
 * calls, [errors,] name. */
static long strace_summary(const char *out, result *r, unsigned n)
{
    FILE *f = fopen(out, "r");
    if (!f) return -1;
    char line[512];
    long total = -1;
    r->ntop = 0;
    while (fgets(line, sizeof line, f)) {
        /* tokens: numbers, then the name (or "total") last */
        char *tok[8];
        unsigned nt = 0;
        for (char *save = NULL, *t = strtok_r(line, " \t\n", &save); t && nt < 8;
             t = strtok_r(NULL, " \t\n", &save))
            tok[nt++] = t;
        if (nt < 5 || !strchr("0123456789.", tok[0][0])) continue;
        long calls = strtol(tok[3], NULL, 10);
        const char *name = tok[nt - 1];
        if (!strcmp(name, "total")) {
            total = calls;
            continue;
        }
        /* insertion into the top list, most calls first */
        double per = n ? (double)calls / n : 0;
        unsigned at = r->ntop;
        while (at > 0 && r->top[at - 1].per_ix < per)
            at--;
        if (at >= TOP_SYSCALLS) continue;
        unsigned last = r->ntop < TOP_SYSCALLS ? r->ntop : TOP_SYSCALLS - 1;
        memmove(&r->top[at + 1], &r->top[at], (last - at) * sizeof r->top[0]);
        snprintf(r->top[at].name, sizeof r->top[at].name, "%.23s", name);
        r->top[at].per_ix = per;
        if (r->ntop < TOP_SYSCALLS) r->ntop++;
    }
    fclose(f);
    return total;
}

/* CPU time (ns, /proc/<pid>/task/<tid>/schedstat) and context switches of every thread,
 * summed by thread name without its "/<index>". */
typedef struct thr_sample {
    unsigned n;
    struct {
        char name[16];
        uint64_t cpu_ns, switches;
    } k[MAX_THREAD_KINDS];
} thr_sample;

static uint64_t status_field(const char *text, const char *key)
{
    const char *p = strstr(text, key);
    return p ? strtoull(p + strlen(key), NULL, 10) : 0;
}

static void thr_snapshot(pid_t pid, thr_sample *out)
{
    memset(out, 0, sizeof *out);
    char dir[64];
    snprintf(dir, sizeof dir, "/proc/%d/task", (int)pid);
    DIR *d = opendir(dir);
    if (!d) return;
    for (struct dirent *e; (e = readdir(d));) {
        if (e->d_name[0] == '.') continue;
        char path[128], comm[32] = "", buf[4096];
        uint64_t cpu = 0, sw = 0;
        snprintf(path, sizeof path, "%s/%.16s/comm", dir, e->d_name);
        FILE *f = fopen(path, "r");
        if (!f) continue;
        if (!fgets(comm, sizeof comm, f)) comm[0] = '\0';
        fclose(f);
        comm[strcspn(comm, "/\n")] = '\0';
        snprintf(path, sizeof path, "%s/%.16s/schedstat", dir, e->d_name);
        if ((f = fopen(path, "r"))) {
            if (fscanf(f, "%" SCNu64, &cpu) != 1) cpu = 0;
            fclose(f);
        }
        snprintf(path, sizeof path, "%s/%.16s/status", dir, e->d_name);
        if ((f = fopen(path, "r"))) {
            size_t n = fread(buf, 1, sizeof buf - 1, f);
            buf[n] = '\0';
            fclose(f);
            sw = status_field(buf, "voluntary_ctxt_switches:") +
                 status_field(buf, "nonvoluntary_ctxt_switches:");
        }
        unsigned i = 0;
        while (i < out->n && strcmp(out->k[i].name, comm) != 0)
            i++;
        if (i == out->n) {
            if (out->n == MAX_THREAD_KINDS) continue;
            snprintf(out->k[out->n++].name, sizeof out->k[0].name, "%.15s", comm);
        }
        out->k[i].cpu_ns += cpu;
        out->k[i].switches += sw;
    }
    closedir(d);
}

/* r->thr from two snapshots (threads that ended in between are not counted), most CPU first. */
static void thr_diff(const thr_sample *a, const thr_sample *b, unsigned n, result *r)
{
    r->nthr = 0;
    for (unsigned i = 0; i < b->n && n; i++) {
        uint64_t cpu0 = 0, sw0 = 0;
        for (unsigned j = 0; j < a->n; j++)
            if (!strcmp(a->k[j].name, b->k[i].name)) cpu0 = a->k[j].cpu_ns, sw0 = a->k[j].switches;
        double us = (double)(b->k[i].cpu_ns - cpu0) / 1e3 / n;
        double sw = (double)(b->k[i].switches - sw0) / n;
        if (us < 0.5 && sw < 0.05) continue;
        unsigned at = r->nthr;
        while (at > 0 && r->thr[at - 1].us_per_ix < us)
            at--;
        memmove(&r->thr[at + 1], &r->thr[at], (r->nthr - at) * sizeof r->thr[0]);
        snprintf(r->thr[at].name, sizeof r->thr[at].name, "%s", b->k[i].name);
        r->thr[at].us_per_ix = us;
        r->thr[at].switches_per_ix = sw;
        r->nthr++;
    }
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static bool wants_png(const opts *o, unsigned i)
{
    return o->mix == MIX_PNG || (o->mix == MIX_HALF && (i % 2) == 1);
}

/* What the fakes have counted so far (the window's work is the difference of two). */
typedef struct work_sample {
    fake_rest_stats rest;
    fake_comfy_stats comfy;
} work_sample;

static void work_snapshot(pass *p, work_sample *w)
{
    fake_rest_stats_get(fake_discord_rest(p->fd), &w->rest);
    fake_comfy_get_stats(p->comfy, &w->comfy);
}

static void work_diff(const work_sample *a, const work_sample *b, unsigned n, result *r)
{
    double d = n ? n : 1;
    for (int k = 0; k < FAKE_REST_KIND_COUNT; k++)
        r->work.discord[k] = (double)(b->rest.kinds[k] - a->rest.kinds[k]) / d;
    for (int k = 0; k < FAKE_COMFY_ROUTE_COUNT; k++)
        r->work.comfy[k] = (double)(b->comfy.routes[k] - a->comfy.routes[k]) / d;
    r->work.ws_connects = (double)(b->comfy.ws_connects - a->comfy.ws_connects) / d;
    r->work.ws_sent = (double)(b->comfy.ws_frames_in - a->comfy.ws_frames_in) / d;
    r->work.ws_received = (double)(b->comfy.ws_frames_out - a->comfy.ws_frames_out) / d;
    r->work_known = true;
}

/* One window of injections; fills r. */
static int drive(pass *p, const opts *o, result *r, bool count_syscalls)
{
    unsigned n = o->rate * o->seconds;
    sent *s = calloc(n, sizeof *s);
    if (!s) return -1;
    char out[160];
    snprintf(out, sizeof out, "%s/strace.txt", p->dir);
    pid_t st = count_syscalls ? strace_attach(p->child.pid, out) : 0;

    thr_sample th0, th1;
    work_sample w0, w1;
    work_snapshot(p, &w0);
    thr_snapshot(p->child.pid, &th0);
    e2e_procstat ps0 = {0}, ps1 = {0};
    e2e_proc_sample(p->child.pid, &ps0);
    double cpu0 = proc_cpu_s(p->child.pid);
    uint64_t t0 = bench_now_ns() + 50000000ull, step = 1000000000ull / o->rate;
    fake_discord_member who = {.user_id = 300000000000000001ull};
    for (unsigned i = 0; i < n; i++) {
        s[i].due_ns = t0 + i * step;
        s[i].png = wants_png(o, i);
        bench_sleep_until_ns(s[i].due_ns);
        fake_discord_ix ix;
        who.user_id = 300000000000000001ull + (i % 50);
        int rc = s[i].png
                     ? fake_discord_inject_command(
                           p->fd, "comfy",
                           "[{\"name\":\"prompt\",\"type\":3,\"value\":\"a lighthouse at dusk\"},"
                           "{\"name\":\"resolution\",\"type\":3,\"value\":\"1024x1024\"}]",
                           NULL, 0, &who, &ix)
                     : fake_discord_inject_command(p->fd, "stats",
                                                   "[{\"name\":\"days\",\"type\":4,\"value\":7}]",
                                                   NULL, 0, &who, &ix);
        s[i].id = rc == 0 ? ix.id : 0;
    }
    /* wait for every deferral and final edit (bounded) */
    uint64_t deadline = bench_now_ns() + 20000000000ull;
    unsigned done = 0;
    while (bench_now_ns() < deadline) {
        done = 0;
        for (unsigned i = 0; i < n; i++) {
            fake_rest_ix_state ixs;
            if (s[i].id && fake_rest_interaction_state(fake_discord_rest(p->fd), s[i].id, &ixs)) {
                /* a generation is answered by its result (a multipart edit), not by a
                 * progress line before it */
                if (ixs.ack_type && (s[i].png ? ixs.file_edits >= 1 : ixs.edits >= 1)) done++;
                free(ixs.original_json);
            }
        }
        if (done == n) break;
        bench_sleep_until_ns(bench_now_ns() + 50000000ull);
    }
    double cpu1 = proc_cpu_s(p->child.pid);
    e2e_proc_sample(p->child.pid, &ps1);
    thr_snapshot(p->child.pid, &th1);
    if (!count_syscalls) thr_diff(&th0, &th1, n, r);
    double wall = (double)(bench_now_ns() - t0) / 1e9;
    if (!count_syscalls) {
        /* calls a bot makes after its last answer (a job's clean-up) are its work too */
        bench_sleep_until_ns(bench_now_ns() + 500000000ull);
        work_snapshot(p, &w1);
        work_diff(&w0, &w1, n, r);
    }
    if (st > 0) {
        kill(st, SIGINT);
        waitpid(st, NULL, 0);
        long calls = strace_summary(out, r, n);
        r->syscalls_per_ix = calls >= 0 ? (double)calls / n : -1;
    }

    /* latency: first accepted callback per interaction, from the fake's recorder */
    fake_rest_filter flt = {.method = "POST", .path_prefix = "/interactions/", .status = 0};
    fake_rest_request *reqs = NULL;
    size_t nreq = fake_rest_collect(fake_discord_rest(p->fd), &flt, &reqs);
    double *lat = calloc(n ? n : 1, sizeof *lat);
    unsigned nl = 0, doubled = 0;
    for (unsigned i = 0; i < n; i++) {
        char idtxt[64];
        snprintf(idtxt, sizeof idtxt, "/interactions/%" PRIu64 "/", s[i].id);
        unsigned seen = 0;
        for (size_t j = 0; j < nreq; j++) {
            if (strncmp(reqs[j].path, idtxt, strlen(idtxt)) != 0) continue;
            if (reqs[j].status / 100 != 2) continue;
            if (seen++ == 0 && reqs[j].mono_ns > s[i].due_ns)
                lat[nl++] = (double)(reqs[j].mono_ns - s[i].due_ns) / 1e6;
        }
        if (seen > 1) doubled++;
        if (seen == 0 && !count_syscalls) {
            /* say what the fake saw of it, so a miss can be told from a slow answer */
            unsigned tries = 0;
            int last = 0;
            for (size_t j = 0; j < nreq; j++)
                if (strncmp(reqs[j].path, idtxt, strlen(idtxt)) == 0)
                    tries++, last = reqs[j].status;
            fake_rest_ix_state ixs;
            bool known =
                s[i].id && fake_rest_interaction_state(fake_discord_rest(p->fd), s[i].id, &ixs);
            fprintf(stderr,
                    "bench_peers: interaction %u (%s) unanswered: %u callback(s), last status %d, "
                    "late %d\n",
                    i, s[i].png ? "png" : "stats", tries, last, known ? (int)ixs.late : -1);
            if (known) free(ixs.original_json);
        }
    }
    fake_rest_requests_free(reqs, nreq);
    qsort(lat, nl, sizeof *lat, cmp_double);
    if (!count_syscalls) {
        r->sent = n;
        r->answered = nl;
        r->doubled = doubled;
        r->edited = done;
        r->cpu_s = cpu1 - cpu0;
        r->wall_s = wall;
        r->us_per_ix = n ? (cpu1 - cpu0) * 1e6 / n : 0;
        double tick_us = 1e6 / (double)sysconf(_SC_CLK_TCK);
        r->user_us_per_ix = n ? (double)(ps1.utime_ticks - ps0.utime_ticks) * tick_us / n : 0;
        r->sys_us_per_ix = n ? (double)(ps1.stime_ticks - ps0.stime_ticks) * tick_us / n : 0;
        r->core_pct = wall > 0 ? 100.0 * (cpu1 - cpu0) / wall : 0;
        r->p50_ms = nl ? lat[nl / 2] : -1;
        r->p99_ms = nl ? lat[(size_t)((nl - 1) * 0.99)] : -1;
        r->max_ms = nl ? lat[nl - 1] : -1;
        r->ok = nl == n && doubled == 0 && done == n;
    }
    free(lat);
    free(s);
    return 0;
}

static int run_peer(const opts *o, peer_kind k, result *r)
{
    r->name = k_peers[k].name;
    r->kind = k;
    r->syscalls_per_ix = -1;
    pass p;
    if (pass_start(&p, o, k) != 0) {
        pass_stop(&p);
        return -1;
    }
    int rc = drive(&p, o, r, false);
    pass_stop(&p);
    if (rc != 0 || !o->strace) return rc;
    if (pass_start(&p, o, k) != 0) {
        pass_stop(&p);
        return -1;
    }
    rc = drive(&p, o, r, true);
    pass_stop(&p);
    return rc;
}

static const result *find_result(const result *r, unsigned nr, peer_kind k)
{
    for (unsigned i = 0; i < nr; i++)
        if (r[i].kind == k) return &r[i];
    return NULL;
}

/* The window's counts of a bot as one flat list: "discord" calls by kind, "comfy" requests by
 * route, then the websocket's connections, the messages the bot sent on it and the frames it
 * received (the jobs' events and status). Returns how many (WORK_ITEMS). */
#define WORK_ITEMS (FAKE_REST_KIND_COUNT + FAKE_COMFY_ROUTE_COUNT + 3)

typedef struct work_item {
    const char *side; /* "discord" or "comfy" */
    const char *name;
    double per_ix;
} work_item;

static unsigned work_items(const result *r, work_item out[WORK_ITEMS])
{
    unsigned n = 0;
    for (int k = 0; k < FAKE_REST_KIND_COUNT; k++)
        out[n++] =
            (work_item){"discord", fake_rest_kind_name((fake_rest_kind)k), r->work.discord[k]};
    for (int k = 0; k < FAKE_COMFY_ROUTE_COUNT; k++)
        out[n++] =
            (work_item){"comfy", fake_comfy_route_name((fake_comfy_route)k), r->work.comfy[k]};
    out[n++] = (work_item){"comfy", "ws_connects", r->work.ws_connects};
    out[n++] = (work_item){"comfy", "ws_sent", r->work.ws_sent};
    out[n++] = (work_item){"comfy", "ws_received", r->work.ws_received};
    return n;
}

/* Whether an item is worth a column: some bot made such calls (the websocket's columns
 * whenever a bot spoke to ComfyUI at all, to show that its jobs share one socket). */
static bool work_column(const result *r, unsigned nr, unsigned item)
{
    for (unsigned i = 0; i < nr; i++) {
        work_item w[WORK_ITEMS];
        work_items(&r[i], w);
        if (!r[i].work_known) continue;
        if (w[item].per_ix >= 0.0005) return true;
        if (strncmp(w[item].name, "ws_", 3) != 0) continue;
        for (int k = 0; k < FAKE_COMFY_ROUTE_COUNT; k++)
            if (r[i].work.comfy[k] >= 0.0005) return true;
    }
    return false;
}

/* The equal-work check of a bot against discord.py: the items whose counts per interaction
 * differ by more than WORK_TOLERANCE, into diff (indexes); returns how many. */
static unsigned work_differences(const result *a, const result *py, unsigned diff[WORK_ITEMS])
{
    work_item wa[WORK_ITEMS], wp[WORK_ITEMS];
    unsigned n = work_items(a, wa), nd = 0;
    work_items(py, wp);
    for (unsigned i = 0; i < n; i++) {
        double d = wa[i].per_ix - wp[i].per_ix;
        /* counts ÷ interactions are not exact in binary: 990/1000 against 1 is "within" */
        if (d > WORK_TOLERANCE + 1e-9 || d < -WORK_TOLERANCE - 1e-9) diff[nd++] = i;
    }
    return nd;
}

/* Whether the bots that must do discord.py's work did it: -1 when it cannot be told (no
 * discord.py row, or no such bot ran), 0 when some count differs, 1 when all match. */
static int equal_work(const result *r, unsigned nr)
{
    const result *py = find_result(r, nr, PEER_DISCORDPY);
    int verdict = -1;
    for (unsigned i = 0; py && py->work_known && i < nr; i++) {
        if (!k_peers[r[i].kind].equal_work || !r[i].work_known) continue;
        unsigned diff[WORK_ITEMS];
        if (work_differences(&r[i], py, diff) > 0) return 0;
        verdict = 1;
    }
    return verdict;
}

static void print_work(const result *r, unsigned nr)
{
    work_item names[WORK_ITEMS];
    unsigned n = work_items(&r[0], names);
    printf(
        "\nwork per interaction (counted by the fakes; Discord REST calls | ComfyUI requests)\n");
    printf("%-13s", "bot");
    const char *side = "discord";
    for (unsigned j = 0; j < n; j++) {
        if (!work_column(r, nr, j)) continue;
        if (strcmp(side, names[j].side) != 0) printf(" |"), side = names[j].side;
        printf(" %*s", (int)(strlen(names[j].name) > 5 ? strlen(names[j].name) : 5), names[j].name);
    }
    printf("\n");
    for (unsigned i = 0; i < nr; i++) {
        if (!r[i].work_known) continue;
        work_item w[WORK_ITEMS];
        work_items(&r[i], w);
        printf("%-13s", r[i].name);
        side = "discord";
        for (unsigned j = 0; j < n; j++) {
            if (!work_column(r, nr, j)) continue;
            if (strcmp(side, w[j].side) != 0) printf(" |"), side = w[j].side;
            printf(" %*.2f", (int)(strlen(w[j].name) > 5 ? strlen(w[j].name) : 5), w[j].per_ix);
        }
        printf("\n");
    }
    const result *py = find_result(r, nr, PEER_DISCORDPY);
    for (unsigned i = 0; py && py->work_known && i < nr; i++) {
        if (!k_peers[r[i].kind].equal_work || !r[i].work_known) continue;
        unsigned diff[WORK_ITEMS];
        unsigned nd = work_differences(&r[i], py, diff);
        if (nd == 0) {
            printf("equal work: %s and discord.py made the same calls per interaction (within "
                   "%.2f)\n",
                   r[i].name, WORK_TOLERANCE);
            continue;
        }
        work_item wa[WORK_ITEMS], wp[WORK_ITEMS];
        work_items(&r[i], wa);
        work_items(py, wp);
        printf("WARNING: NOT EQUAL WORK: %s and discord.py differ per interaction in", r[i].name);
        for (unsigned j = 0; j < nd; j++)
            printf("%s %s %s (%.2f / %.2f)", j ? "," : "", wa[diff[j]].side, wa[diff[j]].name,
                   wa[diff[j]].per_ix, wp[diff[j]].per_ix);
        printf(": the CPU ratio compares unequal work\n");
    }
}

static void print_table(const opts *o, const result *r, unsigned nr)
{
    printf("peers benchmark: %u interactions/s for %u s, mix %s, %ld cores\n\n", o->rate,
           o->seconds, o->mix_name, sysconf(_SC_NPROCESSORS_ONLN));
    printf("%-13s %7s %9s %9s %11s %9s %9s %9s %12s\n", "bot", "sent", "answered", "CPU %",
           "CPU us/ix", "p50 ms", "p99 ms", "max ms", "syscalls/ix");
    for (unsigned i = 0; i < nr; i++) {
        char sc[32] = "-";
        if (r[i].syscalls_per_ix >= 0) snprintf(sc, sizeof sc, "%.1f", r[i].syscalls_per_ix);
        printf("%-13s %7u %9u %8.1f%% %11.0f %9.2f %9.2f %9.2f %12s\n", r[i].name, r[i].sent,
               r[i].answered, r[i].core_pct, r[i].us_per_ix, r[i].p50_ms, r[i].p99_ms, r[i].max_ms,
               sc);
    }
    const result *py = find_result(r, nr, PEER_DISCORDPY);
    for (unsigned i = 0; py && py->us_per_ix > 0 && i < nr; i++)
        if (r[i].kind != PEER_DISCORDPY)
            printf("%sCPU per interaction, %s / discord.py: %.3f%s\n", i ? "" : "\n", r[i].name,
                   r[i].us_per_ix / py->us_per_ix, k_peers[r[i].kind].ratio_note);
    const result *fl = find_result(r, nr, PEER_FLOOR), *fb = find_result(r, nr, PEER_FLUXBOT);
    if (fl && fb && fl->us_per_ix > 0)
        printf("CPU per interaction, fluxbot / floor: %.2f\n", fb->us_per_ix / fl->us_per_ix);
    for (unsigned i = 0; i < nr; i++)
        printf("%s CPU us per interaction, user / kernel: %.0f / %.0f\n", r[i].name,
               r[i].user_us_per_ix, r[i].sys_us_per_ix);
    for (unsigned i = 0; i < nr; i++) {
        if (!r[i].nthr) continue;
        printf("%s CPU us (context switches) per interaction by thread:", r[i].name);
        for (unsigned j = 0; j < r[i].nthr; j++)
            printf("%s %s %.0f (%.1f)", j ? "," : "", r[i].thr[j].name, r[i].thr[j].us_per_ix,
                   r[i].thr[j].switches_per_ix);
        printf("\n");
    }
    for (unsigned i = 0; i < nr; i++) {
        if (!r[i].ntop) continue;
        printf("%s system calls per interaction:", r[i].name);
        for (unsigned j = 0; j < r[i].ntop; j++)
            printf("%s %s %.2f", j ? "," : "", r[i].top[j].name, r[i].top[j].per_ix);
        printf("\n");
    }
    if (nr) print_work(r, nr);
}

static void print_json(const opts *o, const result *r, unsigned nr)
{
    printf("{\"rate\":%u,\"seconds\":%u,\"mix\":\"%s\",\"bots\":[", o->rate, o->seconds,
           o->mix_name);
    for (unsigned i = 0; i < nr; i++) {
        printf("%s{\"bot\":\"%s\",\"stats_chart\":%s,\"sent\":%u,\"answered\":%u,\"doubled\":%u,"
               "\"edited\":%u,"
               "\"cpu_s\":%.4f,\"core_pct\":%.2f,\"cpu_us_per_ix\":%.1f,\"p50_ms\":%.3f,"
               "\"p99_ms\":%.3f,\"max_ms\":%.3f,\"syscalls_per_ix\":%.2f,"
               "\"user_us_per_ix\":%.1f,\"sys_us_per_ix\":%.1f,\"syscalls\":{",
               i ? "," : "", r[i].name, k_peers[r[i].kind].stats_chart ? "true" : "false",
               r[i].sent, r[i].answered, r[i].doubled, r[i].edited, r[i].cpu_s, r[i].core_pct,
               r[i].us_per_ix, r[i].p50_ms, r[i].p99_ms, r[i].max_ms, r[i].syscalls_per_ix,
               r[i].user_us_per_ix, r[i].sys_us_per_ix);
        for (unsigned j = 0; j < r[i].ntop; j++)
            printf("%s\"%s\":%.3f", j ? "," : "", r[i].top[j].name, r[i].top[j].per_ix);
        printf("},\"threads\":[");
        for (unsigned j = 0; j < r[i].nthr; j++)
            printf("%s{\"thread\":\"%s\",\"cpu_us_per_ix\":%.1f,\"switches_per_ix\":%.2f}",
                   j ? "," : "", r[i].thr[j].name, r[i].thr[j].us_per_ix,
                   r[i].thr[j].switches_per_ix);
        printf("]");
        if (r[i].work_known) {
            /* "work": {"discord": {kind: per ix}, "comfy": {route: per ix, ws_connects, ws_msgs}}
             */
            work_item w[WORK_ITEMS];
            unsigned n = work_items(&r[i], w);
            printf(",\"work\":{");
            const char *side = NULL;
            for (unsigned j = 0; j < n; j++) {
                if (!side || strcmp(side, w[j].side) != 0) {
                    printf("%s\"%s\":{", side ? "}," : "", w[j].side);
                    side = w[j].side;
                } else {
                    printf(",");
                }
                printf("\"%s\":%.4f", w[j].name, w[j].per_ix);
            }
            printf("}}");
        }
        printf("}");
    }
    printf("]");
    /* cpu_ratio: fluxbot (equal work) / discord.py; cpu_ratio_chart: with the chart */
    const result *py = find_result(r, nr, PEER_DISCORDPY);
    const result *fb = find_result(r, nr, PEER_FLUXBOT);
    const result *fc = find_result(r, nr, PEER_FLUXBOT_CHART);
    if (py && py->us_per_ix > 0 && fb) printf(",\"cpu_ratio\":%.4f", fb->us_per_ix / py->us_per_ix);
    if (py && py->us_per_ix > 0 && fc)
        printf(",\"cpu_ratio_chart\":%.4f", fc->us_per_ix / py->us_per_ix);
    /* cpu_ratio_floor: floor / discord.py; cpu_ratio_fluxbot_floor: fluxbot / floor */
    const result *fl = find_result(r, nr, PEER_FLOOR);
    if (py && py->us_per_ix > 0 && fl)
        printf(",\"cpu_ratio_floor\":%.4f", fl->us_per_ix / py->us_per_ix);
    if (fl && fl->us_per_ix > 0 && fb)
        printf(",\"cpu_ratio_fluxbot_floor\":%.4f", fb->us_per_ix / fl->us_per_ix);
    /* equal_work: every bot that must do discord.py's work made the same calls per
     * interaction; work_differences lists where not */
    int eq = equal_work(r, nr);
    if (eq >= 0) {
        printf(",\"equal_work\":%s,\"work_differences\":[", eq ? "true" : "false");
        unsigned printed = 0;
        for (unsigned i = 0; py && i < nr; i++) {
            if (!k_peers[r[i].kind].equal_work || !r[i].work_known) continue;
            unsigned diff[WORK_ITEMS];
            unsigned nd = work_differences(&r[i], py, diff);
            work_item wa[WORK_ITEMS], wp[WORK_ITEMS];
            work_items(&r[i], wa);
            work_items(py, wp);
            for (unsigned j = 0; j < nd; j++)
                printf("%s{\"bot\":\"%s\",\"call\":\"%s %s\",\"per_ix\":%.4f,"
                       "\"discordpy_per_ix\":%.4f}",
                       printed++ ? "," : "", r[i].name, wa[diff[j]].side, wa[diff[j]].name,
                       wa[diff[j]].per_ix, wp[diff[j]].per_ix);
        }
        printf("]");
    }
    printf("}\n");
}

/* Which bots run: --only's comma-separated names, or every bot (the stats_only ones only when
 * the mix has /stats, the stats_mix_only ones only in the stats mix). False on an unknown name
 * or a stats_mix_only bot asked for another mix. */
static bool only_list(const opts *o, bool want[PEER_COUNT])
{
    for (int k = 0; k < PEER_COUNT; k++)
        want[k] = !o->only && (!k_peers[k].stats_only || o->mix != MIX_PNG) &&
                  (!k_peers[k].stats_mix_only || o->mix == MIX_STATS);
    for (const char *p = o->only; p && *p;) {
        size_t n = strcspn(p, ",");
        bool known = false;
        for (int k = 0; k < PEER_COUNT; k++) {
            const char *name = k_peers[k].option;
            if (strlen(name) == n && strncmp(p, name, n) == 0) want[k] = known = true;
        }
        if (!known) {
            fprintf(stderr, "bench_peers: --only takes");
            for (int k = 0; k < PEER_COUNT; k++)
                fprintf(stderr, "%s %s", k ? "," : "", k_peers[k].option);
            fprintf(stderr, "\n");
            return false;
        }
        p += n + (p[n] == ',');
    }
    for (int k = 0; k < PEER_COUNT; k++)
        if (want[k] && k_peers[k].stats_mix_only && o->mix != MIX_STATS) {
            fprintf(stderr, "bench_peers: %s answers /stats only (--mix stats)\n",
                    k_peers[k].option);
            return false;
        }
    return true;
}

int main(int argc, char **argv)
{
    opts o = {.rate = 300,
              .seconds = 20,
              .bin = "build/release/fluxbot",
              .python = "/usr/bin/python3",
              .script = "bench/peers/discordpy_bot.py",
              .workflow = "workflows/flux_txt2img.json",
              .mix_name = "stats"};
    const bench_arg args[] = {
        {"--rate", BENCH_UNSIGNED, &o.rate}, {"--seconds", BENCH_UNSIGNED, &o.seconds},
        {"--bin", BENCH_TEXT, &o.bin},       {"--python", BENCH_TEXT, &o.python},
        {"--script", BENCH_TEXT, &o.script}, {"--workflow", BENCH_TEXT, &o.workflow},
        {"--mix", BENCH_TEXT, &o.mix_name},  {"--only", BENCH_TEXT, &o.only},
        {"--strace", BENCH_FLAG, &o.strace}, {"--json", BENCH_FLAG, &o.json},
        {"--floor", BENCH_TEXT, &o.floor},
    };
    if (!bench_args(argc, argv, args, sizeof args / sizeof args[0],
                    "[--rate N] [--seconds S] [--mix stats|png|half] [--bin PATH] "
                    "[--python PATH] [--script PATH] [--workflow PATH] [--floor PATH] "
                    "[--only fluxbot,fluxbot-chart,discordpy,floor] "
                    "[--strace] "
                    "[--json]"))
        return 2;
    if (!strcmp(o.mix_name, "stats"))
        o.mix = MIX_STATS;
    else if (!strcmp(o.mix_name, "png"))
        o.mix = MIX_PNG;
    else if (!strcmp(o.mix_name, "half"))
        o.mix = MIX_HALF;
    else {
        fprintf(stderr, "bench_peers: --mix is stats, png or half\n");
        return 2;
    }
    if (o.rate == 0 || o.seconds == 0 || o.rate * o.seconds > 100000) {
        fprintf(stderr, "bench_peers: rate × seconds must be 1..100000\n");
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    /* the floor bot is built beside this program */
    char floor_path[PATH_MAX];
    if (!o.floor) {
        ssize_t n = readlink("/proc/self/exe", floor_path, sizeof floor_path - 16);
        char *slash = n > 0 ? memrchr(floor_path, '/', (size_t)n) : NULL;
        if (!slash) {
            fprintf(stderr, "bench_peers: cannot find floor_bot (use --floor PATH)\n");
            return 2;
        }
        strcpy(slash + 1, "floor_bot");
        o.floor = floor_path;
    }
    bool want[PEER_COUNT];
    if (!only_list(&o, want)) return 2;
    result r[PEER_COUNT] = {{0}};
    unsigned nr = 0;
    bool ok = true;
    for (int k = 0; k < PEER_COUNT; k++) {
        if (!want[k]) continue;
        if (run_peer(&o, (peer_kind)k, &r[nr]) != 0) return 2;
        ok = ok && r[nr].ok;
        nr++;
    }
    if (o.json)
        print_json(&o, r, nr);
    else
        print_table(&o, r, nr);
    return ok ? 0 : 1;
}
