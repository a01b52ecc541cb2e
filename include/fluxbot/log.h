/*
 * fluxbot logging: leveled lines with UTC time, level and actor name, as text or JSON.
 *
 * Every line passes through a redaction step that replaces each registered secret (the bot
 * token, interaction tokens are not secrets of the bot and are not registered) with "[redacted]",
 * so a token can never reach a log even when a caller formats one by mistake.
 * Thread-safe: one write(2) per line.
 */
#ifndef FLUXBOT_LOG_H
#define FLUXBOT_LOG_H

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum log_level {
    LOG_LEVEL_ERROR = 0,
    LOG_LEVEL_WARN = 1,
    LOG_LEVEL_INFO = 2,
    LOG_LEVEL_DEBUG = 3,
    LOG_LEVEL_TRACE = 4,
} log_level;

/* Defaults: level info, text format, fd 2. */
void log_configure(log_level level, bool json, int fd);
log_level log_current_level(void);
/* Parses "error", "warn", "info", "debug", "trace"; -1 if unknown. */
int log_level_parse(const char *s);
const char *log_level_name(log_level level);
/* Registers a secret to redact (copied; up to 8 secrets; empty strings are ignored). */
void log_add_secret(const char *secret);
void log_clear_secrets(void);

void log_write(log_level level, const char *actor, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void log_vwrite(log_level level, const char *actor, const char *fmt, va_list ap);

/* Copies s into out (outlen bytes) with every registered secret replaced; for tests and for
 * text that leaves the process another way (metrics, --print-config). */
void log_redact(const char *s, char *out, size_t outlen);

#define LOG_ERROR(actor, ...) log_write(LOG_LEVEL_ERROR, (actor), __VA_ARGS__)
#define LOG_WARN(actor, ...) log_write(LOG_LEVEL_WARN, (actor), __VA_ARGS__)
#define LOG_INFO(actor, ...)                                                                       \
    do {                                                                                           \
        if (log_current_level() >= LOG_LEVEL_INFO)                                                 \
            log_write(LOG_LEVEL_INFO, (actor), __VA_ARGS__);                                       \
    } while (0)
#define LOG_DEBUG(actor, ...)                                                                      \
    do {                                                                                           \
        if (log_current_level() >= LOG_LEVEL_DEBUG)                                                \
            log_write(LOG_LEVEL_DEBUG, (actor), __VA_ARGS__);                                      \
    } while (0)
#define LOG_TRACE(actor, ...)                                                                      \
    do {                                                                                           \
        if (log_current_level() >= LOG_LEVEL_TRACE)                                                \
            log_write(LOG_LEVEL_TRACE, (actor), __VA_ARGS__);                                      \
    } while (0)

#ifdef __cplusplus
}
#endif
#endif
