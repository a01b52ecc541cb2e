/*
 * The /stats answer as Discord receives it: the edit of the deferred reply
 * (PATCH /webhooks/{application}/{token}/messages/@original) carrying the stats embed and, when
 * there is one, the chart as a multipart file the embed shows (attachment://NAME).
 *
 * Envelopes and interaction/webhook paths live in src/discord only (the project's rule), so the
 * reporter and tests build the request with these and nothing else. Pure: no threads, no I/O.
 */
#ifndef FLUXBOT_DISCORD_STATS_REPLY_H
#define FLUXBOT_DISCORD_STATS_REPLY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#define STATS_REPLY_TOKEN_MAX 512

/* "/webhooks/{app}/{token}/messages/@original" into out. False (out untouched) when app is 0 or
 * the token is empty, too long or holds characters Discord tokens never have: it goes into a
 * URL path. */
bool stats_reply_original_path(uint64_t app, const char *token, char *out, size_t outlen);

/* The body of the edit (the payload_json part when a file goes along): {"content":"",
 * "embeds":[embed], "attachments":[...], "allowed_mentions":{"parse":[]}}. With attachment
 * (a file name) the embed's image points at attachment://attachment and the file is listed as
 * id 0; without, the embed has no image and any earlier file is dropped. embed is copied.
 * malloc'd; NULL only when out of memory. */
char *stats_reply_edit_json(const cJSON *embed, const char *attachment);

/* The same body for an embed built in C (embed.h), written straight out as text: no cJSON tree
 * is built, copied and printed (per /stats answer that was about a hundred small allocations
 * and frees, and a printf of a double for each number). The JSON is equal to
 * stats_reply_edit_json(embed_to_json(e), attachment) (tests compare the two); e's own image
 * is ignored, as there. Strings are escaped as JSON requires (embed text is valid UTF-8:
 * embed.h cleans it). malloc'd; never NULL (aborts when out of memory). */
struct embed;
char *stats_reply_edit_body(const struct embed *e, const char *attachment);

#endif
