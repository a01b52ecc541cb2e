/*
 * comfy_servers: the runner's server table, one entry per ComfyUI server with its health and
 * load. Shared by the coordinator (is any server usable? how many are up?), the workers (which
 * server takes this job?) and the websocket thread (status events, link changes), through the
 * functions below only.
 *
 * Threads: any. Every access takes the table's mutex, and nothing here calls out while holding
 * it, so the table is a leaf of every lock order: it never takes part in a lock cycle. A caller
 * that held another runner lock (the event registry's, a channel's) while calling in would still
 * be safe, but a change here that called out under the mutex (a log sink, a message send) could
 * deadlock against such a caller: keep this file free of calls out.
 * Immutable after comfy_servers_init: n, and each server's url and label (read without the lock).
 */
#ifndef FLUXBOT_COMFY_SERVERS_H
#define FLUXBOT_COMFY_SERVERS_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "comfy/spick.h"
#include "config/fb_config.h"

/* One ComfyUI server as the runner sees it, for metrics and operators. */
typedef struct comfy_servers_info {
    char url[512];
    bool up;                 /* websocket connected */
    uint32_t jobs;           /* the bot's own jobs on it (uploading, queued or running) */
    int64_t queue_remaining; /* from its last status event; -1 unknown */
    uint32_t failures;       /* consecutive connect failures */
} comfy_servers_info;

typedef struct comfy_servers_entry {
    char url[FB_CONFIG_STR];
    char label[32]; /* "server 1" */
    spick_server pick;
    uint64_t unanswered_until_ms; /* an HTTP call got no answer: no new jobs until then */
} comfy_servers_entry;

typedef struct comfy_servers {
    pthread_mutex_t mu;
    unsigned n;             /* immutable after init */
    comfy_servers_entry *v; /* url and label immutable after init; the rest under mu */
    unsigned rotate;        /* tie-break start of the next choice */
    uint64_t unanswered_ms; /* how long a server that left a call unanswered gets no new job */
} comfy_servers;

/* 0, or -1 with err when a URL is not http(s). */
int comfy_servers_init(comfy_servers *t, const fb_config_list *urls, uint64_t unanswered_ms,
                       char *err, size_t errlen);
void comfy_servers_destroy(comfy_servers *t);
/* The server's base URL and label ("server 1"): immutable, any thread without the lock. */
const char *comfy_servers_url(const comfy_servers *t, unsigned s);
const char *comfy_servers_label(const comfy_servers *t, unsigned s);
/* The server for a job (its assigned count raised), or -1 when none is usable. */
int comfy_servers_acquire(comfy_servers *t, int exclude, bool allow_excluded);
/* The index of the server whose base URL is url, or -1 (a taken-over job's server may not be
 * one of this process's). */
int comfy_servers_find(const comfy_servers *t, const char *url);
/* Assigns a job to server s, whatever its load (a taken-over job whose prompt is there). */
void comfy_servers_take(comfy_servers *t, unsigned s);
void comfy_servers_submitted(comfy_servers *t, unsigned s, int delta);
void comfy_servers_release(comfy_servers *t, unsigned s);
bool comfy_servers_up(comfy_servers *t, unsigned s);
unsigned comfy_servers_up_count(comfy_servers *t);
/* True when some server is up and answering: jobs are handed to workers only then. */
bool comfy_servers_any_usable(comfy_servers *t);
/* Server s did not answer an HTTP call within its timeout: it gets no new job for a while (its
 * websocket may well still be up), so a hanging server costs one timeout, not one per job. */
void comfy_servers_unanswered(comfy_servers *t, unsigned s);
/* From the websocket thread: a status event's queue length; a link change (returns the old
 * state). */
void comfy_servers_queue_remaining(comfy_servers *t, unsigned s, int64_t remaining);
bool comfy_servers_link(comfy_servers *t, unsigned s, bool up);
bool comfy_servers_get(comfy_servers *t, unsigned i, comfy_servers_info *out);

#endif
