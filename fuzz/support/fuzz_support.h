/*
 * Shared by the libFuzzer harnesses in fuzz/: a reader that splits one fuzz input into typed
 * pieces (so one byte string drives several arguments), and the invariant checks the harnesses
 * assert on what the bot produces — valid JSON, valid UTF-8, Discord's length limits.
 *
 * A failed check calls fz_fail, which prints what broke and aborts: libFuzzer then saves the
 * input as a crash, exactly as for a sanitizer report. Only the fuzz harnesses use this file.
 */
#ifndef FLUXBOT_FUZZ_SUPPORT_H
#define FLUXBOT_FUZZ_SUPPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

/* The separator between text pieces of an input (ASCII unit separator): seeds stay readable,
 * and a piece never needs a length prefix that mutations would break. */
#define FZ_SEP '\x1f'

typedef struct fz_in {
    const uint8_t *p;
    size_t len;
} fz_in;

uint8_t fz_u8(fz_in *in);
uint16_t fz_u16(fz_in *in);
uint32_t fz_u32(fz_in *in);
uint64_t fz_u64(fz_in *in);
bool fz_bool(fz_in *in);
/* The bytes up to the next FZ_SEP (consumed) or the end, at most max of them, as a malloc'd
 * NUL-terminated copy (embedded NULs kept; *len gets the length when not NULL). Never NULL. */
char *fz_text(fz_in *in, size_t max, size_t *len);
/* Everything left, as a malloc'd NUL-terminated copy. */
char *fz_rest(fz_in *in, size_t *len);

/* Prints "fuzz invariant broken: <what>" (and the offending text, clipped) and aborts. */
void fz_fail(const char *what, const char *text) __attribute__((noreturn));
#define FZ_ASSERT(cond, what, text)                                                                \
    do {                                                                                           \
        if (!(cond)) fz_fail((what), (text));                                                      \
    } while (0)

/* Code points of valid UTF-8 text; fails when the text is not valid UTF-8. */
size_t fz_chars(const char *s, const char *what);

/* s must be one JSON document (cJSON parses it) made of valid UTF-8. Returns the parsed tree
 * (caller deletes). */
cJSON *fz_json(const char *s, const char *what);

/* A message object (content, embeds, components, allowed_mentions) within Discord's limits:
 * content 2000, embeds 10 each within the embed limits and 6000 characters over all of them,
 * at most 5 action rows, custom_id 1..100, button label 80. mentions_required: the builder
 * promises an allowed_mentions object that pings nobody but listed users. */
void fz_check_message(const cJSON *msg, bool mentions_required, const char *what);
/* One embed object within the per-field limits; returns its character count towards the
 * per-message total of 6000 (which the caller checks, or fz_check_message does). */
size_t fz_check_embed(const cJSON *e, const char *what);
/* An interaction callback {"type": n, "data": message?} with a valid message in data. */
void fz_check_callback(const cJSON *cb, bool mentions_required, const char *what);

#endif
