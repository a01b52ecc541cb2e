/*
 * The reference a Discord message object gives back (the body of a webhook edit's 200): its id,
 * its channel and the URL of its first attachment, so a result can be found again after a
 * restart. Pure; untrusted input: bounded sizes, snowflakes as strings, URLs https only.
 */
#ifndef FLUXBOT_DISCORD_MESSAGE_REF_H
#define FLUXBOT_DISCORD_MESSAGE_REF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define MESSAGE_REF_BODY_MAX (1u << 20) /* larger bodies are not parsed */
#define MESSAGE_REF_URL_MAX 2048

typedef struct message_ref {
    uint64_t message_id, channel_id;
    char attachment_url[MESSAGE_REF_URL_MAX + 1]; /* "" when the message has none */
} message_ref;

/* Parses body (len bytes, need not be NUL-terminated). False when it is not a message object
 * with a valid id. */
bool message_ref_parse(const char *body, size_t len, message_ref *out);

#endif
