/*
 * Progress text for the deferred message, and the throttle that decides when to edit it.
 *
 * The text: a phase line with an emoji, a 20-cell bar, the percent, the step, the queue position
 * and an ETA. Step ETA comes from the observed step rate of the current sampler run; queue ETA
 * from the caller's running average of job durations. The throttle allows an edit only when the
 * text changed and at least interval_ms passed since the last one (final results always go).
 */
#ifndef FLUXBOT_COMFY_PROGRESS_H
#define FLUXBOT_COMFY_PROGRESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum prog_phase {
    PROG_PREPARING = 0, /* downloading/uploading inputs, choosing a server */
    PROG_QUEUED,        /* waiting for a runner or in ComfyUI's queue */
    PROG_LOADING,       /* execution started, no sampler steps yet */
    PROG_SAMPLING,      /* progress events */
    PROG_FINISHING,     /* sampler done: decode, upscale, save */
    PROG_DOWNLOADING,   /* fetching the result */
} prog_phase;

typedef struct prog_state {
    prog_phase phase;
    unsigned queue_position;  /* 1-based position in the queue; 0 = unknown/not queued */
    uint32_t value, max;      /* current sampler step */
    uint64_t series_start_ms; /* when the current step series began */
    uint32_t series_start_value;
    uint64_t phase_start_ms;
    uint64_t avg_job_ms; /* caller's estimate of one job's duration (0 = unknown) */
    bool resubmitted;
    char node_class[64]; /* what is executing, when known */
} prog_state;

void prog_init(prog_state *p, uint64_t now_ms);
void prog_set_phase(prog_state *p, prog_phase ph, uint64_t now_ms);
/* A progress event: value/max of the sampler. A value lower than the last (a new sampler run,
 * e.g. the upscaler's) starts a new series. */
void prog_step(prog_state *p, uint32_t value, uint32_t max, uint64_t now_ms);
/* Overall percent 0..100 for the bar. */
unsigned prog_percent(const prog_state *p);
/* ETA in ms, or -1 when unknown. */
int64_t prog_eta_ms(const prog_state *p, uint64_t now_ms);
/* Writes the message text (UTF-8, < 200 bytes) for kind_label ("image", "video", ...). */
void prog_text(const prog_state *p, const char *kind_label, uint64_t now_ms, char *out,
               size_t outlen);
/* "12 s", "3 min", "1 h 5 min" */
void prog_fmt_duration(int64_t ms, char *out, size_t outlen);

typedef struct prog_throttle {
    uint64_t last_sent_ms; /* 0 = never */
    uint32_t last_hash;
    uint64_t sent, suppressed;
} prog_throttle;

/* True when an edit with this text should go now (and records it as sent). */
bool prog_throttle_allow(prog_throttle *t, const char *text, uint64_t now_ms, uint64_t interval_ms);

#endif
