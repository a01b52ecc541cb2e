/*
 * Shared by the end-to-end tests that run the real `fluxbot` binary as a child process
 * (tests/test_e2e_*.c): the loopback fakes, the child's environment, readiness, a steady load
 * of simulated users (demo_users.h) with one user id per interaction so every analytics row
 * can be traced back to the interaction that caused it, and the checks of what Discord saw and
 * what the database holds. Bodies in e2e_util.c (test-support library, which links the
 * harness of bench/support).
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

#include "e2e_proc.h"
#include "e2e_sched.h"
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

#endif
