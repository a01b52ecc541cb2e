/*
 * Interaction response and message payload builders: the JSON bodies of
 * POST /interactions/{id}/{token}/callback, PATCH /webhooks/{app}/{token}/messages/@original,
 * POST /webhooks/{app}/{token} (follow-ups) and the payload_json part of multipart uploads.
 *
 * Rules applied to every message body:
 *  - allowed_mentions is always sent, {"parse": []} unless users are listed explicitly, so text
 *    a user typed (a prompt echoed back) can never ping @everyone, roles or other users;
 *  - content is cleaned and clipped to 2000 characters, embeds to their limits (embed.h);
 *  - structure errors (more than 5 rows, a button without custom_id, ...) are refused with a
 *    message rather than sent, since Discord would answer 400 anyway.
 *
 * Every builder returns a malloc'd NUL-terminated JSON string (caller frees), or NULL with err.
 */
#ifndef FLUXBOT_DISCORD_REPLY_H
#define FLUXBOT_DISCORD_REPLY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "discord/embed.h"

#define REPLY_CONTENT_MAX 2000
#define REPLY_ROWS_MAX 5
#define REPLY_BUTTONS_PER_ROW 5
#define REPLY_CHOICES_MAX 25
#define REPLY_SELECT_OPTIONS_MAX 25
#define REPLY_MENTION_USERS_MAX 100
#define REPLY_ATTACHMENTS_MAX 10

/* Message flags. */
#define REPLY_FLAG_SUPPRESS_EMBEDS (1u << 2)
#define REPLY_FLAG_EPHEMERAL (1u << 6)

/* Interaction callback types. */
typedef enum reply_cb_type {
    REPLY_CB_PONG = 1,
    REPLY_CB_MESSAGE = 4,         /* CHANNEL_MESSAGE_WITH_SOURCE */
    REPLY_CB_DEFERRED = 5,        /* DEFERRED_CHANNEL_MESSAGE_WITH_SOURCE ("thinking") */
    REPLY_CB_DEFERRED_UPDATE = 6, /* component: ack now, edit later */
    REPLY_CB_UPDATE = 7,          /* component: edit the message the component is on */
    REPLY_CB_AUTOCOMPLETE = 8,
    REPLY_CB_MODAL = 9, /* command or component: open a form (reply_modal_json) */
} reply_cb_type;

typedef enum reply_button_style {
    REPLY_BTN_PRIMARY = 1,
    REPLY_BTN_SECONDARY = 2,
    REPLY_BTN_SUCCESS = 3,
    REPLY_BTN_DANGER = 4,
    REPLY_BTN_LINK = 5,
} reply_button_style;

typedef struct reply_button {
    reply_button_style style;
    const char *label;     /* <= 80 characters (clipped); may be NULL with an emoji */
    const char *custom_id; /* 1..100, required unless LINK */
    const char *url;       /* LINK only, http(s), <= 512 */
    const char *emoji;     /* a Unicode emoji, optional */
    bool disabled;
} reply_button;

typedef struct reply_select_option {
    const char *label;       /* 1..100 (clipped) */
    const char *value;       /* 1..100, required */
    const char *description; /* optional, <= 100 (clipped) */
    bool is_default;
} reply_select_option;

typedef struct reply_select {
    const char *custom_id;           /* 1..100 */
    const char *placeholder;         /* optional, <= 150 (clipped) */
    unsigned min_values, max_values; /* 0..25, max >= 1 */
    const reply_select_option *options;
    unsigned noptions; /* 1..25 */
    bool disabled;
} reply_select;

/* An action row holds up to 5 buttons, or exactly one select menu. */
typedef struct reply_row {
    const reply_button *buttons;
    unsigned nbuttons;
    const reply_select *select;
} reply_row;

/* A file of a multipart upload, as referenced from payload_json ("files[id]"). */
typedef struct reply_attachment {
    unsigned id;
    const char *filename;
    const char *description; /* alt text, optional, <= 1024 (clipped) */
} reply_attachment;

typedef struct reply_msg {
    const char *content; /* NULL: not sent (an edit keeps it); "" clears it on an edit */
    unsigned flags;      /* REPLY_FLAG_* */
    const embed *const *embeds;
    unsigned nembeds;
    bool set_embeds; /* send "embeds" even when nembeds == 0 (clears them on an edit) */
    const reply_row *rows;
    unsigned nrows;
    bool set_components; /* send "components" even when nrows == 0 (removes buttons) */
    const reply_attachment *attachments;
    unsigned nattachments;
    bool set_attachments; /* send "attachments" even when empty (drops old files on an edit) */
    const uint64_t *mention_users; /* the only users this message may ping */
    unsigned nmention_users;
} reply_msg;

typedef struct reply_choice {
    const char *name;      /* 1..100 (clipped) */
    const char *str_value; /* string option: 1..100; NULL for numeric */
    double num_value;      /* INTEGER / NUMBER option */
} reply_choice;

/* A text input of a modal (Discord: label 1..45 characters, values up to 4000). */
#define REPLY_MODAL_INPUTS_MAX 5
#define REPLY_INPUT_LABEL_MAX 45
#define REPLY_INPUT_VALUE_MAX 4000
typedef struct reply_text_input {
    const char *custom_id;           /* 1..100, unique in the modal */
    const char *label;               /* 1..45 (clipped) */
    bool paragraph;                  /* style 2 (several lines), else style 1 */
    unsigned min_length, max_length; /* 0..4000; max_length 0 = 4000 */
    bool required;
    const char *value;       /* pre-filled text, optional (clipped to max_length) */
    const char *placeholder; /* optional, <= 100 (clipped) */
} reply_text_input;

typedef struct reply_modal {
    const char *custom_id; /* 1..100 */
    const char *title;     /* 1..45 (clipped) */
    const reply_text_input *inputs;
    unsigned ninputs; /* 1..5, one a row */
} reply_modal;

/* The message object: body of webhook edits and follow-ups, and of payload_json. */
char *reply_message_json(const reply_msg *m, char *err, size_t errlen);
/* {"type": type, "data": message}; data may be NULL for types 5/6 (5 may carry flags). */
char *reply_callback_json(reply_cb_type type, const reply_msg *data, char *err, size_t errlen);
/* Shorthands. */
char *reply_text_json(const char *content, bool ephemeral); /* type 4 */
char *reply_deferred_json(bool ephemeral);                  /* type 5 */
char *reply_deferred_update_json(void);                     /* type 6 */
/* Message bodies with text only (webhook edits, follow-ups, channel messages). clear also
 * removes embeds, buttons and files from the edited message (a final error replacing a
 * result); flags may be REPLY_FLAG_EPHEMERAL for follow-ups. */
char *reply_edit_text_json(const char *content, bool clear);
char *reply_followup_text_json(const char *content, bool ephemeral);
/* Type 7 with text and no buttons: the component's message becomes this text. */
char *reply_update_text_json(const char *content);
/* Type 9: {"type": 9, "data": {custom_id, title, components: one text input a row}}. Only
 * commands and component clicks may answer with it (never a modal submit). */
char *reply_modal_json(const reply_modal *m, char *err, size_t errlen);
/* Type 8. More than 25 choices are cut to 25; a choice without a name is skipped. */
char *reply_autocomplete_json(const reply_choice *choices, unsigned n);

#endif
