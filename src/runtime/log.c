/*
 * Leveled logging with secret redaction. Owns the process-wide log settings and the list of
 * registered secrets. A line is formatted into a stack buffer, redacted, and written with a
 * single write(2), so lines from different threads never interleave.
 */
#include "fluxbot/log.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define LOG_LINE_MAX 4096
#define LOG_MAX_SECRETS 8
#define LOG_SECRET_MAX 256

static _Atomic int g_level = LOG_LEVEL_INFO;
static _Atomic bool g_json = false;
static _Atomic int g_fd = 2;

/* Secrets change only at start-up and in tests; a mutex keeps readers consistent. */
static pthread_mutex_t g_secret_lock = PTHREAD_MUTEX_INITIALIZER;
static char g_secrets[LOG_MAX_SECRETS][LOG_SECRET_MAX];
static unsigned g_nsecrets;

static const char *const level_names[] = {"error", "warn", "info", "debug", "trace"};

void log_configure(log_level level, bool json, int fd)
{
    atomic_store(&g_level, (int)level);
    atomic_store(&g_json, json);
    atomic_store(&g_fd, fd);
}

log_level log_current_level(void)
{
    return (log_level)atomic_load_explicit(&g_level, memory_order_relaxed);
}

int log_level_parse(const char *s)
{
    for (int i = 0; i < (int)(sizeof level_names / sizeof level_names[0]); i++)
        if (s && strcmp(s, level_names[i]) == 0) return i;
    return -1;
}

const char *log_level_name(log_level level)
{
    if ((int)level < 0 || level > LOG_LEVEL_TRACE) return "?";
    return level_names[level];
}

void log_add_secret(const char *secret)
{
    if (!secret || !*secret) return;
    pthread_mutex_lock(&g_secret_lock);
    if (g_nsecrets < LOG_MAX_SECRETS) {
        snprintf(g_secrets[g_nsecrets], LOG_SECRET_MAX, "%s", secret);
        g_nsecrets++;
    }
    pthread_mutex_unlock(&g_secret_lock);
}

void log_clear_secrets(void)
{
    pthread_mutex_lock(&g_secret_lock);
    g_nsecrets = 0;
    pthread_mutex_unlock(&g_secret_lock);
}

void log_redact(const char *s, char *out, size_t outlen)
{
    static const char mark[] = "[redacted]";
    size_t o = 0;
    if (outlen == 0) return;
    pthread_mutex_lock(&g_secret_lock);
    while (*s && o + 1 < outlen) {
        size_t hit = 0;
        for (unsigned i = 0; i < g_nsecrets; i++) {
            size_t n = strlen(g_secrets[i]);
            if (n && strncmp(s, g_secrets[i], n) == 0) {
                hit = n;
                break;
            }
        }
        if (hit) {
            for (size_t k = 0; k < sizeof mark - 1 && o + 1 < outlen; k++)
                out[o++] = mark[k];
            s += hit;
        } else {
            out[o++] = *s++;
        }
    }
    pthread_mutex_unlock(&g_secret_lock);
    out[o] = '\0';
}

/* Appends s to buf as JSON string content (without quotes). */
static size_t json_escape(char *buf, size_t len, size_t cap, const char *s)
{
    for (; *s && len + 7 < cap; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') {
            buf[len++] = '\\';
            buf[len++] = (char)c;
        } else if (c == '\n' || c == '\r' || c == '\t') {
            buf[len++] = '\\';
            buf[len++] = c == '\n' ? 'n' : c == '\r' ? 'r' : 't';
        } else if (c < 0x20) {
            len += (size_t)snprintf(buf + len, cap - len, "\\u%04x", c);
        } else {
            buf[len++] = (char)c;
        }
    }
    buf[len] = '\0';
    return len;
}

void log_vwrite(log_level level, const char *actor, const char *fmt, va_list ap)
{
    if ((int)level > atomic_load_explicit(&g_level, memory_order_relaxed)) return;
    int saved_errno = errno;

    char msg[LOG_LINE_MAX];
    vsnprintf(msg, sizeof msg, fmt, ap);
    char clean[LOG_LINE_MAX];
    log_redact(msg, clean, sizeof clean);

    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    char when[40];
    size_t w = strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(when + w, sizeof when - w, ".%03ldZ", ts.tv_nsec / 1000000);

    char line[LOG_LINE_MAX + 256];
    size_t len;
    if (atomic_load(&g_json)) {
        len = (size_t)snprintf(line, sizeof line, "{\"ts\":\"%s\",\"level\":\"%s\",\"actor\":\"",
                               when, log_level_name(level));
        len = json_escape(line, len, sizeof line, actor ? actor : "-");
        len += (size_t)snprintf(line + len, sizeof line - len, "\",\"msg\":\"");
        /* Leave room for the closing "}\n so a long message is cut, never the JSON. */
        len = json_escape(line, len, sizeof line - 4, clean);
        len += (size_t)snprintf(line + len, sizeof line - len, "\"}\n");
    } else {
        /* One event, one line: control characters (a prompt's newlines) must not forge lines. */
        for (char *p = clean; *p; p++)
            if ((unsigned char)*p < 0x20) *p = ' ';
        len = (size_t)snprintf(line, sizeof line, "%s %-5s [%s] %s\n", when, log_level_name(level),
                               actor ? actor : "-", clean);
    }
    if (len >= sizeof line) {
        len = sizeof line - 1;
        line[len - 1] = '\n';
    }
    ssize_t r = write(atomic_load(&g_fd), line, len);
    (void)r; /* nowhere to report a failing log write */
    errno = saved_errno;
}

void log_write(log_level level, const char *actor, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    log_vwrite(level, actor, fmt, ap);
    va_end(ap);
}
