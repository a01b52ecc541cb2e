/*
 * Shared by the end-to-end tests. Two worlds:
 *  - e2e_world: the real `fluxbot` binary as a child process (tests/test_e2e_*.c): the loopback
 *    fakes, the child's environment, readiness, a steady load of simulated users
 *    (demo_users.h) with one user id per interaction so every analytics row can be traced back
 *    to the interaction that caused it, and the checks of what Discord saw and what the
 *    database holds;
 *  - e2e_app_world: the whole bot in-process (app_start) against the fake Discord and one fake
 *    ComfyUI, in a temporary folder of its own (tests/test_app_e2e.c and its siblings): the
 *    one place that starts the fakes, fills the configuration, waits for the commands'
 *    registration and tears it all down, plus the reads of what Discord and the database saw
 *    that those tests share.
 * Bodies in e2e_util.c (test-support library, which links the harness of bench/support).
 */
#ifndef FLUXBOT_E2E_UTIL_H
#define FLUXBOT_E2E_UTIL_H

#include <inttypes.h>
#include <signal.h>
#include <libwebsockets.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "e2e_proc.h"
#include "e2e_sched.h"
#include "app/app.h"
#include "demo/demo_users.h"
#include "fakes/fake_comfy.h"
#include "fakes/fake_discord.h"
#include "config/fb_config.h"
#include "fluxbot/log.h"

#define E2E_TOKEN "e2e-child-token.fluxbot"
#define E2E_USER_BASE 330000000000000000ull
#define E2E_MAX 4096

typedef struct e2e_ix {
    demo_users_sent s;
    bool sent;
    unsigned callbacks; /* callback POSTs the fake received */
    bool acked;         /* one was accepted */
    bool done;          /* generation: the final edit with the file arrived */
    unsigned usage_rows, image_rows, image_ok_rows;
} e2e_ix;

typedef struct e2e_world {
    char dir[64], db[128], out[128], log[128], supp[128];
    fake_discord *fd;
    fake_comfy *comfy[2];
    e2e_child child;
    demo_users users;
    e2e_ix ix[E2E_MAX];
    unsigned n;
    uint64_t rng;
} e2e_world;

uint64_t e2e_ms(void);

void e2e_sleep(unsigned ms);

void e2e_print_log(e2e_world *w);

bool e2e_ready(e2e_world *w);

/* Starts the fakes (two ComfyUI servers) and fluxbot; returns false when it did not come up. */
bool e2e_start(e2e_world *w, unsigned step_delay_ms, const char *const *extra_args);

/* One interaction of the steady load: mostly /comfy, some /stats and bad input, each from its
 * own user so its command_usage row is unambiguous. */
bool e2e_send_one(e2e_world *w);

/* Reads what the fake Discord saw of each interaction. */
void e2e_observe(e2e_world *w);

/* Waits until every sent interaction is answered and every generation done (or timeout). */
bool e2e_settle(e2e_world *w, unsigned timeout_ms);

/* Counts, per interaction, its command_usage rows (by user id) and image_stats rows (by the
 * "#seq" prompt marker). 0 or -1. */
int e2e_read_db(e2e_world *w);

void e2e_stop_world(e2e_world *w, bool keep);

/* ---- the bot in-process ---------------------------------------------------------------------- */

/* What differs between the in-process end-to-end tests; zero fields take the defaults. */
typedef struct e2e_app_opts {
    const char *name;             /* names the folder: /tmp/fb_<name>_XXXXXX */
    const char *token;            /* the bot token both sides use */
    uint64_t application_id;      /* the fake's application (0: its default) */
    const char *guilds_json;      /* the fake's guilds (NULL: its default) */
    const fake_comfy_opts *comfy; /* the fake ComfyUI's shape (NULL: its defaults) */
} e2e_app_opts;

typedef struct e2e_app_world {
    fake_discord *fd;
    fake_rest *rest; /* fd's REST side */
    fake_comfy *comfy;
    app *a;                          /* NULL until e2e_app_start, and after a stop */
    fb_config cfg;                   /* what e2e_app_start starts the bot with */
    char dir[64], db[128], out[128]; /* the folder, the database and the output folder in it */
} e2e_app_world;

/* Starts the fakes, makes the folder, and fills w->cfg: defaults, token, the fakes' addresses,
 * the database and output folder in the folder, the repository's workflows, ratios and LoRAs.
 * The test adjusts w->cfg, then calls e2e_app_start. Asserts every step. */
void e2e_app_begin(e2e_app_world *w, const e2e_app_opts *o);

/* Starts the bot on w->cfg and waits until the commands are registered (generous: the machine
 * may be loaded). Asserts both. Also the restart after an app_stop. */
void e2e_app_start(e2e_app_world *w);

/* Stops the bot (asserting a clean stop), the fakes, and removes the folder. */
void e2e_app_end(e2e_app_world *w);

/* A cmocka group teardown that only ends the world: the group setup sets *state to it. */
int e2e_app_teardown(void **state);

/* The first callback (POST /interactions/<id>/...) Discord received for an interaction, parsed;
 * asserts one came within timeout_ms and parses. *count: how many came (NULL: not wanted);
 * *status: the fake's HTTP answer to the first (NULL: not wanted). */
cJSON *e2e_app_callback(e2e_app_world *w, uint64_t id, unsigned timeout_ms, size_t *count,
                        int *status);

/* A callback's type, data.flags (0 when absent) and data.content ("" when absent). */
int e2e_app_cb_type(const cJSON *cb);
int e2e_app_cb_flags(const cJSON *cb);
const char *e2e_app_cb_content(const cJSON *cb);

/* The interaction's @original once its JSON contains needle (edits arrive after the ack),
 * parsed; NULL after timeout_ms (for a caller that reports more before failing). */
cJSON *e2e_app_original_find(e2e_app_world *w, uint64_t id, const char *needle,
                             unsigned timeout_ms);

/* The same, failing the test after timeout_ms. */
cJSON *e2e_app_original_with(e2e_app_world *w, uint64_t id, const char *needle,
                             unsigned timeout_ms);

/* The first row's first column of a query on the bot's database (read-only), -1 when the
 * database or the query fails or gives no row; its second column as text in text (when not
 * NULL; "" when none). */
int64_t e2e_app_db_int(const e2e_app_world *w, const char *sql, char *text, size_t cap);

/* Waits (the analytics writer batches) until the query gives want, up to timeout_ms; asserts
 * it does, saying the query and both values when not. */
void e2e_app_expect_db_int(const e2e_app_world *w, const char *sql, int64_t want,
                           unsigned timeout_ms);

#endif
