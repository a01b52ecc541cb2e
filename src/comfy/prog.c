/* Progress text, ETA and edit throttling (see prog.h). */
#include "comfy/prog.h"

#include <stdio.h>
#include <string.h>

#include "util/util_hash.h"

void prog_init(prog_state *p, uint64_t now_ms)
{
    memset(p, 0, sizeof *p);
    p->phase_start_ms = now_ms;
}

void prog_set_phase(prog_state *p, prog_phase ph, uint64_t now_ms)
{
    if (p->phase == ph) return;
    p->phase = ph;
    p->phase_start_ms = now_ms;
    if (ph != PROG_SAMPLING && ph != PROG_FINISHING) {
        p->value = p->max = 0;
        p->series_start_ms = 0;
    }
    if (ph != PROG_QUEUED) p->queue_position = 0;
}

void prog_step(prog_state *p, uint32_t value, uint32_t max, uint64_t now_ms)
{
    if (max == 0) return;
    if (value > max) value = max;
    if (p->phase != PROG_SAMPLING || value < p->value || max != p->max) {
        p->series_start_ms = now_ms;
        p->series_start_value = value;
        if (p->phase != PROG_SAMPLING) {
            p->phase = PROG_SAMPLING;
            p->phase_start_ms = now_ms;
            p->queue_position = 0;
        }
    }
    p->value = value;
    p->max = max;
    if (value == max) {
        p->phase = PROG_FINISHING;
        p->phase_start_ms = now_ms;
    }
}

unsigned prog_percent(const prog_state *p)
{
    switch (p->phase) {
    case PROG_SAMPLING:
        return p->max ? (unsigned)(5 + (uint64_t)p->value * 90 / p->max) : 5;
    case PROG_LOADING:
        return 3;
    case PROG_FINISHING:
        return 95;
    case PROG_DOWNLOADING:
        return 98;
    default:
        return 0;
    }
}

int64_t prog_eta_ms(const prog_state *p, uint64_t now_ms)
{
    if (p->phase == PROG_SAMPLING && p->value > p->series_start_value &&
        now_ms > p->series_start_ms) {
        uint64_t done = p->value - p->series_start_value;
        uint64_t el = now_ms - p->series_start_ms;
        return (int64_t)(el * (p->max - p->value) / done);
    }
    if (p->phase == PROG_QUEUED && p->avg_job_ms && p->queue_position)
        return (int64_t)(p->avg_job_ms * p->queue_position);
    if ((p->phase == PROG_LOADING || p->phase == PROG_PREPARING) && p->avg_job_ms) {
        uint64_t el = now_ms > p->phase_start_ms ? now_ms - p->phase_start_ms : 0;
        return el < p->avg_job_ms ? (int64_t)(p->avg_job_ms - el) : -1;
    }
    return -1;
}

void prog_fmt_duration(int64_t ms, char *out, size_t outlen)
{
    if (ms < 0) {
        snprintf(out, outlen, "?");
        return;
    }
    uint64_t s = (uint64_t)(ms + 999) / 1000;
    if (s < 60)
        snprintf(out, outlen, "%llu s", (unsigned long long)s);
    else if (s < 3600)
        snprintf(out, outlen, "%llu min", (unsigned long long)((s + 30) / 60));
    else
        snprintf(out, outlen, "%llu h %llu min", (unsigned long long)(s / 3600),
                 (unsigned long long)((s % 3600) / 60));
}

void prog_text(const prog_state *p, const char *kind_label, uint64_t now_ms, char *out,
               size_t outlen)
{
    unsigned pct = prog_percent(p);
    char bar[20 * 3 + 1];
    size_t b = 0;
    unsigned filled = pct / 5;
    for (unsigned i = 0; i < 20; i++) {
        const char *cell = i < filled ? "\xe2\x96\x88" : "\xe2\x96\x91"; /* █ ░ */
        memcpy(bar + b, cell, 3);
        b += 3;
    }
    bar[b] = '\0';
    const char *what = kind_label && *kind_label ? kind_label : "image";
    char head[96];
    switch (p->phase) {
    case PROG_PREPARING:
        snprintf(head, sizeof head, "\xf0\x9f\x93\xa5 Preparing your %s", what);
        break;
    case PROG_QUEUED:
        if (p->queue_position)
            snprintf(head, sizeof head, "\xe2\x8f\xb3 In queue \xc2\xb7 position %u",
                     p->queue_position);
        else
            snprintf(head, sizeof head, "\xe2\x8f\xb3 In queue");
        break;
    case PROG_LOADING:
        snprintf(head, sizeof head, "\xe2\x9a\x99\xef\xb8\x8f Loading models");
        break;
    case PROG_SAMPLING:
        snprintf(head, sizeof head, "\xf0\x9f\x8e\xa8 Generating \xc2\xb7 step %u/%u", p->value,
                 p->max);
        break;
    case PROG_FINISHING:
        snprintf(head, sizeof head, "\xf0\x9f\x94\x8d Finishing");
        break;
    case PROG_DOWNLOADING:
        snprintf(head, sizeof head, "\xf0\x9f\x93\xa4 Sending your %s", what);
        break;
    }
    char eta[32] = "";
    int64_t e = prog_eta_ms(p, now_ms);
    if (e >= 0) {
        char d[24];
        prog_fmt_duration(e, d, sizeof d);
        snprintf(eta, sizeof eta, " \xc2\xb7 ETA %s", d);
    }
    snprintf(out, outlen, "%s%s\n`%s` %u%%%s", head,
             p->resubmitted ? " (retrying on another server)" : "", bar, pct, eta);
}

bool prog_throttle_allow(prog_throttle *t, const char *text, uint64_t now_ms, uint64_t interval_ms)
{
    uint32_t h = (uint32_t)util_fnv1a_str(text ? text : ""); /* only compared for equality */
    if (t->last_sent_ms && h == t->last_hash) {
        t->suppressed++;
        return false;
    }
    if (t->last_sent_ms && now_ms < t->last_sent_ms + interval_ms) {
        t->suppressed++;
        return false;
    }
    t->last_sent_ms = now_ms ? now_ms : 1;
    t->last_hash = h;
    t->sent++;
    return true;
}
