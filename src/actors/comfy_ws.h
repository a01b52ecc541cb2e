/*
 * The runner's websockets: one connection per ComfyUI server for the whole bot, all with the
 * same clientId, serviced by one libwebsockets thread. Frames are reassembled (bounded), parsed
 * with cproto and handed to the runner's callback on this thread; the runner routes them
 * by prompt_id. Dropped or refused connections are retried with exponential backoff (1 s → 15 s,
 * jittered); lws pings idle sockets and hangs up on silence, so a zombie socket is noticed.
 * Callbacks never run after comfy_ws_stop has begun.
 *
 * Threads: comfy_ws_start and comfy_ws_stop on the owner's thread (the coordinator starts it
 * with its own thread and its free stops it); every callback runs on the lws thread, one at a
 * time, so the callbacks' context (comfy_events) may keep per-socket state without a lock for
 * it. A callback must not block: one thread services every server, so a blocked callback stops
 * every job's events (and the pings, so the sockets are dropped). The websocket knows only its
 * callbacks, never the coordinator or the workers.
 */
#ifndef FLUXBOT_COMFY_WS_H
#define FLUXBOT_COMFY_WS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "comfy/cproto.h"

typedef struct comfy_ws comfy_ws;

typedef void (*comfy_ws_event_fn)(void *ctx, unsigned server, const cproto_event *ev);
typedef void (*comfy_ws_link_fn)(void *ctx, unsigned server, bool up);
/* A binary frame that parsed as an image (frame = the whole frame, ev its offsets). */
typedef void (*comfy_ws_binary_fn)(void *ctx, unsigned server, const cproto_event *ev,
                                   const uint8_t *frame, size_t len);

/* An `executed` text frame as it came (ev parsed from it), before on_event gets the event. */
typedef void (*comfy_ws_text_fn)(void *ctx, unsigned server, const cproto_event *ev,
                                 const char *text, size_t len);

typedef struct comfy_ws_opts {
    const char *const *urls; /* base URLs, "http://host:port[/prefix]" */
    unsigned n;
    const char *client_id;
    comfy_ws_event_fn on_event;
    comfy_ws_link_fn on_link;
    comfy_ws_binary_fn on_binary; /* NULL: binary frames are skipped unread */
    comfy_ws_text_fn on_executed; /* NULL: executed frames reach on_event only */
    void *ctx;
    unsigned ping_secs;     /* 0 = 20 */
    size_t max_frame_bytes; /* 0 = 32 MiB; bigger frames are dropped */
} comfy_ws_opts;

comfy_ws *comfy_ws_start(const comfy_ws_opts *o, char *err, size_t errlen);
void comfy_ws_stop(comfy_ws *w);
/* Frames received (all servers) and frames that failed to parse, for metrics and tests. */
void comfy_ws_counts(comfy_ws *w, unsigned long *frames, unsigned long *bad);

#endif
