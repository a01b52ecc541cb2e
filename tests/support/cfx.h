/*
 * Shared fixture of the runner tests: a real runtime with the analytics writer (temp SQLite),
 * the discord_rest actor talking to the fake Discord REST server, the comfy runner talking to
 * one or two fake ComfyUI servers, plus a third fake ComfyUI used as a file host ("CDN") for
 * attachment URLs. The test plays the router: it registers an interaction with the fake
 * Discord, defers it over HTTP like the router would, then sends the runner its message.
 */
#ifndef FLUXBOT_TEST_COMFY_FIXTURE_H
#define FLUXBOT_TEST_COMFY_FIXTURE_H

#include <inttypes.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "actors/analytics_writer.h"
#include "actors/comfy_runner.h"
#include "actors/comfy_http.h"
#include "actors/discord_rest.h"
#include "comfy/img.h"
#include "comfy/cjob.h"
#include "comfy/cres.h"
#include "fakes/image_fixture.h"
#include "fakes/multipart.h"
#include "fakes/fake_comfy.h"
#include "fakes/fake_rest.h"
#include "config/fb_config.h"
#include "fluxbot/log.h"
#include "msgs/comfy.h"
#include "util/util_time.h"

#define CFX_TOKEN "test-bot-token"
#define CFX_APP 424242ULL
#define CFX_CHANNEL 5555ULL

typedef struct cfx {
    fake_rest *rest;
    fake_comfy *srv[2];
    unsigned nsrv;
    fake_comfy *cdn;
    rt_system *sys;
    discord_rest *dr;
    analytics_writer *aw;
    comfy_runner *cr;
    rt_actor *comfy;
    fb_config cfg;
    comfy_runner_config rc;
    char db[96];
    uint64_t next_ix;
    comfy_http *http;
    bool stopped;
    bool keep_db;
} cfx;

typedef void (*cfx_tune_fn)(fb_config *cfg, comfy_runner_config *rc, fake_comfy_opts *o);

/* The REST actor's limiter settings for the next cfx_start (NULL: defaults), e.g. shorter
 * backoffs for delivery tests. */
extern const rl_config *cfx_rest_limits;

cfx *cfx_start(unsigned nsrv, cfx_tune_fn tune);
/* The same on the analytics database db, kept at cfx_stop (a "restart" starts another cfx on
 * it). */
cfx *cfx_start_db(unsigned nsrv, cfx_tune_fn tune, const char *db);

void cfx_stop(cfx *x);

/* A new interaction known to the fake Discord; deferred (type 5) unless component. */
uint64_t cfx_interaction(cfx *x, bool component, bool defer, char token[64]);

comfy_job_msg *cfx_job(cfx *x, comfy_kind kind, const char *prompt, uint64_t user, uint64_t *ix,
                       char token[64]);

/* Sends msg to the runner as the router would: a comfy_job_msg is checked and resolved first
 * (a refusal fails the test: use cfx_refusal for those), anything else goes as it is. */
void cfx_send(cfx *x, void *msg);

/* The router's answer to bad options: the error text of m (freed), or NULL if m is fine. */
const char *cfx_refusal(cfx *x, comfy_job_msg *m, char *err, size_t cap);

/* Answers interaction id with the callback body (the test plays the router's first answer). */
void cfx_ack(cfx *x, uint64_t id, const char *token, const char *body);

/* A result-button message for custom_id, as the router forwards it once acknowledged. */
comfy_button_msg *cfx_button(const char *custom_id, uint64_t ix, const char *token);

/* Hosts bytes on the CDN fake; returns the URL (malloc'd). */
char *cfx_host_file(cfx *x, const char *name, const uint8_t *data, size_t len);

/* Requests the fake Discord recorded for one interaction token, by method (NULL = any). */
size_t cfx_reqs(cfx *x, const char *method, const char *token, fake_rest_request **out);

const char *cfx_body(const fake_rest_request *r);

/* Waits for the final PATCH of a job: one with a file, embeds, or an error mark. Returns a
 * malloc'd copy of its payload JSON (and the PNG/file bytes when file != NULL). */
char *cfx_wait_final(cfx *x, const char *token, uint8_t **file, size_t *file_len,
                     unsigned timeout_ms);

/* cfx_start (asserted to start), then one image job of prompt by user 1 sent; the job's
 * interaction token in tok. */
cfx *cfx_start_job(unsigned nsrv, cfx_tune_fn tune, const char *prompt, char tok[64]);

/* Waits up to timeout_ms for the job's final message (cfx_wait_final) and asserts it came and,
 * when needle is not NULL, that it says needle. */
void cfx_expect_final(cfx *x, const char *token, unsigned timeout_ms, const char *needle);

unsigned cfx_count(cfx *x, const char *method, const char *token);

bool cfx_wait_jobs_done(cfx *x, uint64_t n, unsigned timeout_ms);

/* Counts rows after the system stopped (the writer flushed everything). */
int cfx_sql_count(cfx *x, const char *sql);

#endif
