/*
 * INTERACTION_CREATE parsing: the `d` object of the dispatch → one typed, validated struct.
 *
 * Everything in the payload is untrusted. Snowflakes and permission sets arrive as decimal
 * strings and become uint64_t via a strict parser (never through a JSON double); every string is
 * length-bounded and must be valid UTF-8; the interaction token is checked to be URL-safe,
 * because it is spliced into REST paths. Malformed input yields NULL and an ix_error naming the
 * offending field.
 *
 * Sub-commands are flattened: `subcommand` holds the path ("group sub" or "sub") and `options`
 * the leaf options. Autocomplete interactions keep partial input as text (`str`) whatever the
 * option type, because Discord sends what the user has typed so far.
 *
 * Ownership: ix_parse returns one heap block (free with ix_free), ix_parse_scratch fills the
 * caller's reusable one; every string pointer inside points into that block, so never copy an
 * ix_interaction by value.
 */
#ifndef FLUXBOT_DISCORD_INTERACTION_H
#define FLUXBOT_DISCORD_INTERACTION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define IX_INPUT_MAX (256u * 1024u) /* larger `d` objects are refused */
#define IX_TOKEN_MAX 512
#define IX_NAME_MAX 32     /* command and option names */
#define IX_STRING_MAX 6000 /* string option values, in characters */
#define IX_CUSTOM_ID_MAX 100
#define IX_MAX_OPTIONS 25
#define IX_MAX_ROLES 256
#define IX_MAX_ATTACHMENTS 25
#define IX_MAX_VALUES 25
#define IX_URL_MAX 2048
#define IX_FILENAME_MAX 1024
#define IX_MAX_FIELDS 5   /* a modal holds at most 5 text inputs */
#define IX_FIELD_MAX 4000 /* a text input's value, in characters */

typedef enum ix_type {
    IX_PING = 1,
    IX_COMMAND = 2,
    IX_COMPONENT = 3,
    IX_AUTOCOMPLETE = 4,
    IX_MODAL_SUBMIT = 5,
} ix_type;

typedef enum ix_opt_type {
    IX_OPT_SUB_COMMAND = 1,
    IX_OPT_SUB_COMMAND_GROUP = 2,
    IX_OPT_STRING = 3,
    IX_OPT_INTEGER = 4,
    IX_OPT_BOOLEAN = 5,
    IX_OPT_USER = 6,
    IX_OPT_CHANNEL = 7,
    IX_OPT_ROLE = 8,
    IX_OPT_MENTIONABLE = 9,
    IX_OPT_NUMBER = 10,
    IX_OPT_ATTACHMENT = 11,
} ix_opt_type;

typedef enum ix_err {
    IX_OK = 0,
    IX_E_TOO_LARGE,   /* input over IX_INPUT_MAX */
    IX_E_JSON,        /* not JSON, or not an object */
    IX_E_MISSING,     /* a required field is absent */
    IX_E_TYPE,        /* a field has the wrong JSON type */
    IX_E_SNOWFLAKE,   /* not a decimal id string in 1..2^64-1 */
    IX_E_RANGE,       /* number out of range, or not integral where it must be */
    IX_E_LENGTH,      /* string empty or too long */
    IX_E_TOO_MANY,    /* array over its bound */
    IX_E_UTF8,        /* invalid UTF-8 */
    IX_E_TOKEN,       /* token with characters that are not URL-safe */
    IX_E_DUPLICATE,   /* an option name given twice */
    IX_E_UNSUPPORTED, /* interaction or option type this bot does not handle */
} ix_err;

typedef struct ix_error {
    ix_err code;
    char field[128]; /* JSON path of the culprit, e.g. "data.options[2].value" */
    char msg[128];   /* human-readable, for logs */
} ix_error;

typedef struct ix_option {
    const char *name;
    ix_opt_type type;
    bool focused;    /* autocomplete: the option being typed */
    const char *str; /* STRING value; in autocomplete, raw text for any type; else NULL */
    int64_t integer; /* INTEGER (also set for NUMBER values that are integral) */
    double number;   /* NUMBER and INTEGER */
    bool boolean;    /* BOOLEAN */
    uint64_t id;     /* USER, CHANNEL, ROLE, MENTIONABLE, ATTACHMENT */
    bool has_value;  /* false only for autocomplete options sent without a value */
} ix_option;

typedef struct ix_attachment {
    uint64_t id;
    const char *filename;
    const char *url;
    const char *content_type; /* "" when Discord did not say */
    uint64_t size;
    uint32_t width, height; /* 0 when not an image */
} ix_attachment;

/* A text input of a submitted modal. */
typedef struct ix_field {
    const char *custom_id;
    const char *value; /* "" when left empty */
} ix_field;

typedef struct ix_interaction {
    uint64_t id;
    uint64_t application_id;
    ix_type type;
    char token[IX_TOKEN_MAX + 1];
    uint64_t guild_id;   /* 0 outside guilds */
    uint64_t channel_id; /* 0 when absent */
    bool channel_nsfw;   /* channel.nsfw is true (age-restricted channel) */
    uint64_t user_id;    /* member.user.id in guilds, user.id in DMs */
    const char *username;
    bool in_guild; /* member object present */
    bool has_permissions;
    uint64_t permissions;     /* member.permissions: effective in this channel */
    uint64_t app_permissions; /* the bot's own, when given */
    uint64_t roles[IX_MAX_ROLES];
    unsigned nroles;
    char locale[16];
    uint64_t attachment_size_limit; /* bytes; 0 when not given */

    /* type 2 and 4 */
    uint64_t command_id;
    const char *command_name;
    const char *subcommand; /* NULL when none */
    ix_option options[IX_MAX_OPTIONS];
    unsigned noptions;
    ix_attachment attachments[IX_MAX_ATTACHMENTS]; /* data.resolved.attachments */
    unsigned nattachments;

    /* type 3 and 5 (custom_id: the component's, or the modal's) */
    const char *custom_id;
    int component_type;
    const char *values[IX_MAX_VALUES];
    unsigned nvalues;
    uint64_t message_id; /* the message carrying the component (or the modal's button) */

    /* type 5: the modal's text inputs, in order */
    ix_field fields[IX_MAX_FIELDS];
    unsigned nfields;
} ix_interaction;

/* Parses and validates. Returns NULL and fills err (if non-NULL) on any problem. */
ix_interaction *ix_parse(const char *json, size_t len, ix_error *err);
void ix_free(ix_interaction *ix);
/* The same into a thread's reusable block instead of a fresh one: the interaction lives in
 * s->block, grown to the largest payload seen and kept, until the next parse into it (never
 * ix_free it). For a thread that parses one interaction after another: a ~7 KB block
 * allocated and freed per interaction made glibc's allocator consolidate its small free chunks
 * (cJSON's tree of the payload) each time (measured with perf at 300 /stats per second).
 * Same results and errors as ix_parse.
 * cJSON's tree of the payload lives in the scratch's arena (util/util_cjarena.h) for the parse
 * only: with util_cjarena_install() done at startup, the tree costs no malloc/free per value and
 * no cJSON_Delete walk. Nothing in the returned interaction points into the tree (its strings
 * are copied into the block), which is what makes ending the arena's scope at the return safe.
 * Call it on one thread at a time per scratch (a thread-local scratch, as the router's). */
typedef struct ix_scratch {
    void *block; /* the interaction and its strings */
    size_t cap;
    struct util_cjarena *tree; /* cJSON's tree of the payload, for the parse only (see below) */
} ix_scratch;                  /* zero-initialise; free with ix_scratch_free */
size_t ix_parse_need(size_t len);
ix_interaction *ix_parse_scratch(ix_scratch *s, const char *json, size_t len, ix_error *err);
void ix_scratch_free(ix_scratch *s);
const char *ix_strerror(ix_err code);

/* A wire snowflake: the same check as util_dec_snowflake (util/util_dec.h), which new code
 * calls directly. Permission sets are util_dec_u64_canon, text is checked by util_utf8_valid. */
bool ix_parse_snowflake(const char *s, uint64_t *out);

/* Option accessors (by leaf option name); NULL/false when absent. */
const ix_option *ix_opt(const ix_interaction *ix, const char *name);
const char *ix_opt_str(const ix_interaction *ix, const char *name);
bool ix_opt_int(const ix_interaction *ix, const char *name, int64_t *out);
bool ix_opt_number(const ix_interaction *ix, const char *name, double *out); /* INTEGER too */
bool ix_opt_bool(const ix_interaction *ix, const char *name, bool *out);
const ix_attachment *ix_opt_attachment(const ix_interaction *ix, const char *name);
const ix_option *ix_focused(const ix_interaction *ix);
const ix_attachment *ix_attachment_by_id(const ix_interaction *ix, uint64_t id);
/* A submitted modal's text input by custom_id; NULL when the modal had none. */
const char *ix_field_value(const ix_interaction *ix, const char *custom_id);

#define IX_PERM_ADMINISTRATOR (1ull << 3)
#define IX_PERM_MANAGE_GUILD (1ull << 5)
/* True when the member has all of `bits` in this channel, or is an administrator. */
bool ix_has_permissions(const ix_interaction *ix, uint64_t bits);
bool ix_has_role(const ix_interaction *ix, uint64_t role_id);

#endif
