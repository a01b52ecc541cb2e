/*
 * UTF-8 helpers for user text (prompts, names) that goes into ComfyUI graphs and Discord
 * payloads: validation, and truncation on a code-point boundary with an ellipsis, since Discord
 * limits are counted in characters and a cut inside a sequence would make the JSON invalid.
 */
#ifndef FLUXBOT_COMFY_TEXT_H
#define FLUXBOT_COMFY_TEXT_H

#include <stdbool.h>
#include <stddef.h>

/* Strict UTF-8 (no overlongs, no surrogates, ≤ U+10FFFF, no NUL inside len). */
bool ctext_utf8_valid(const char *s, size_t len);
/* Number of code points in a valid UTF-8 string. */
size_t ctext_utf8_len(const char *s);
/* Copies at most max_chars code points of s into a malloc'd string; when cut, the last kept
 * character is replaced by "…" so the result still has at most max_chars code points. */
char *ctext_truncate(const char *s, size_t max_chars);
/* True when s has something other than blanks. */
bool ctext_has_content(const char *s);

#endif
