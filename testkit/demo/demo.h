/*
 * The embedded demo (`fluxbot demo`, and `fluxbot` without DISCORD_TOKEN): the real bot,
 * in-process (app_start), against the loopback fakes — a fake Discord (gateway + REST + CDN)
 * and two fake ComfyUI servers — with simulated users (demo_users.h) sending a realistic mix
 * for demo_seconds: /comfy with various options, /redux and /pulid with attachments, /video,
 * /stats, presses of Regenerate / Upscale / Delete on their own results, and a few bad inputs.
 *
 * Each simulated user acts like a person: one thing at a time, waiting for the answer (and for
 * the picture, for a generation) and thinking a moment before the next. On a terminal a live
 * view is redrawn in place (progress, interactions answered, jobs running and done, analytics
 * rows written, the latest events); otherwise plain log lines. At the end: the /stats embed as
 * the bot answered it, rendered for the terminal, where the database, the pictures and the
 * bot's log are, and the commands to look at them.
 *
 * Nothing leaves the machine: the fakes listen on 127.0.0.1, ephemeral ports; the token is a
 * fixed fake one. The bot's log goes to fluxbot.log in the demo directory.
 */
#ifndef FLUXBOT_DEMO_H
#define FLUXBOT_DEMO_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "demo/demo_users.h"
#include "config/fb_config.h"

typedef struct demo_options {
    unsigned seconds;       /* how long users start new actions (0 = cfg->demo_seconds) */
    unsigned users;         /* simulated users (0 = 6) */
    FILE *out;              /* where the view goes (NULL = stdout) */
    int live;               /* 1 = live view, 0 = plain lines, -1 = live when out is a tty */
    const char *dir;        /* working directory to use (created if missing); NULL = a new
                               fluxbot-demo-XXXXXX under $TMPDIR or /tmp */
    bool install_signals;   /* Ctrl-C ends the demo early (cleanly) */
    unsigned step_delay_ms; /* fake ComfyUI time per sampler step (0 = 60) */
    uint64_t seed;          /* simulated users' choices (0 = time based) */
    const char *command;    /* how the closing commands name the binary (NULL = "fluxbot");
                               `fluxbot demo` passes util_self_command() */
} demo_options;

/* What happened, for the caller (and the test) to compare with the database. */
typedef struct demo_report {
    char dir[256], db[300], images[300], log[300];
    uint64_t sent[DEMO_USERS_KIND_COUNT];      /* interactions sent, by kind */
    uint64_t answered[DEMO_USERS_KIND_COUNT];  /* with the interaction's callback seen by Discord */
    uint64_t unanswered;                       /* sent but never answered (should be 0) */
    uint64_t jobs_done[DEMO_USERS_KIND_COUNT]; /* result with a file */
    uint64_t jobs_failed;                      /* job kinds that ended without a file */
    uint64_t refused;                          /* jobs the bot turned down at once (limits, ...) */
    uint64_t images_ok, videos_ok;             /* successful generations */
    uint64_t commands_total;                   /* interactions the bot records in command_usage */
    uint64_t option_steps;   /* presses inside Options dialogs (menus, Regenerate) */
    unsigned users_active;   /* distinct users that sent anything */
    uint64_t analytics_rows; /* committed by the writer when it stopped */
    unsigned image_files;    /* files in the images folder */
    bool stats_answered;     /* the final /stats embed arrived */
    char *stats_message;     /* its message JSON (malloc'd; demo_report_free) */
    int exit_code;           /* the bot's (app_stop) */
    bool interrupted;        /* ended early by a signal */
} demo_report;

/* Runs the demo. Returns 0 when it ran to the end with every interaction answered (or a signal
 * ended it early and the bot stopped cleanly), else an APP_EXIT_* code; report (may be NULL) is
 * filled either way. */
int demo_run(const fb_config *cfg, const demo_options *o, demo_report *report);
void demo_report_free(demo_report *r);

/* `fluxbot demo` (and `fluxbot` without a token): demo_run with the live view when stdout is a
 * terminal and Ctrl-C handling. The executable's only entry into the test kit (main.c). */
int demo_main(const fb_config *cfg);

#endif
