/*
 * Simulated Discord users, shared by the embedded demo (demo.c) and the end-to-end benchmark
 * (bench/bench_e2e.c): each call injects one realistic interaction into the loopback fake
 * Discord — /comfy with varied options (resolution, upscale, seed, LoRA), /redux and /pulid
 * with image attachments served by the fake CDN, /video, /stats, presses of the result
 * buttons (Regenerate, Upscale, Delete, Options: the dialog's resolution and LoRA menus, then
 * Regenerate with these options) and a few bad inputs (an unknown resolution or LoRA) —
 * and remembers what it sent so the caller can check every answer.
 *
 * Every generation prompt ends with "#<seq>" so each job can be found again (image_stats rows,
 * result messages). Thread-safety: a demo_users may be used by one thread at a time; the fake
 * itself is thread-safe.
 */
#ifndef FLUXBOT_DEMO_USERS_H
#define FLUXBOT_DEMO_USERS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "comfy/loras.h"
#include "comfy/ratios.h"
#include "fakes/fake_discord.h"

typedef enum demo_users_kind {
    DEMO_USERS_COMFY = 0,
    DEMO_USERS_REDUX,
    DEMO_USERS_PULID,
    DEMO_USERS_VIDEO,
    DEMO_USERS_STATS,
    DEMO_USERS_BAD,            /* a command the bot must refuse at once (ephemeral error) */
    DEMO_USERS_BTN_REGENERATE, /* result buttons: need a finished job (demo_users_button_target) */
    DEMO_USERS_BTN_UPSCALE,
    DEMO_USERS_BTN_DELETE,
    DEMO_USERS_BTN_OPTIONS, /* Options, a resolution and a LoRA in the dialog, then its Regenerate
                             */
    DEMO_USERS_KIND_COUNT
} demo_users_kind;

/* "comfy", "redux", "pulid", "video", "stats", "bad", "regenerate", "upscale", "delete",
 * "options". */
const char *demo_users_kind_name(demo_users_kind k);
/* Does this interaction start a generation job when all goes well? */
bool demo_users_kind_is_job(demo_users_kind k);
/* Is this a button press (a component interaction) rather than a slash command? */
bool demo_users_kind_is_button(demo_users_kind k);

/* A finished result message whose buttons can be pressed. */
typedef struct demo_users_button_target {
    uint64_t message_id;
    uint64_t owner_id; /* the user who ran the job: only they press its buttons */
    char regenerate[101];
    char upscale[101]; /* empty when the result offers no upscale */
    char del[101];
    char options[101]; /* empty when the result offers no Options */
} demo_users_button_target;

/* Reads the buttons of a result message (the fake's @original JSON). False when it has none. */
bool demo_users_parse_buttons(const char *message_json, uint64_t owner_id,
                              demo_users_button_target *out);

typedef struct demo_users_sent {
    demo_users_kind kind;
    uint64_t seq;
    uint64_t id; /* interaction id */
    char token[160];
    uint64_t user_id;
    uint64_t channel_id;
} demo_users_sent;

typedef struct demo_users {
    fake_discord *fd;
    ratios_set ratios;
    loras_set loras;
    uint8_t *png; /* attachment picture (owned) */
    size_t png_len;
    uint64_t rng;
    bool enhance; /* some /comfy commands ask for prompt enhancement (the bot has an llm_url) */
} demo_users;

/* Loads the resolution and LoRA lists the bot uses (so the options are valid) and makes the
 * attachment picture. 0, or -1 with err. */
int demo_users_init(demo_users *u, fake_discord *fd, const char *ratios_file,
                    const char *loras_file, uint64_t seed, char *err, size_t errlen);
void demo_users_free(demo_users *u);

/* Injects one interaction. btn is required for DEMO_USERS_BTN_* kinds (else ignored). user_id 0 =
 * the default tester. 0, or -1 (bad input or the fake refused). */
int demo_users_inject(demo_users *u, demo_users_kind kind, uint64_t seq, uint64_t user_id,
                      const demo_users_button_target *btn, demo_users_sent *out);

/* The Options dialog (the @original JSON of the Options press) answered like a user: a
 * resolution and a LoRA of its menus picked (each an interaction, in out[]; up to 2). Writes
 * the dialog's Regenerate custom_id into go_id. Returns how many picks were sent, or -1 when
 * the JSON is not a dialog. */
int demo_users_options_pick(demo_users *u, const char *dialog_json, uint64_t user_id,
                            uint64_t message_id, demo_users_sent out[2], char go_id[101]);

#endif
