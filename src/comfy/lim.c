/* Per-user and global job admission limits (see limits.h). */
#include "comfy/lim.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "comfy/prog.h"

#define HOUR_MS 3600000ULL

typedef struct lim_user {
    uint64_t user_id; /* 0 = empty slot */
    unsigned active;
    unsigned nstamps;
    unsigned head;    /* ring of admission times, oldest at head */
    uint64_t *stamps; /* capacity = per-hour limit */
} lim_user;

struct lim_table {
    unsigned max_conc, max_hour, max_total;
    unsigned total;
    size_t cap, used; /* open addressing, power of two */
    lim_user *slots;
};

lim_table *lim_new(unsigned c, unsigned h, unsigned total)
{
    lim_table *t = calloc(1, sizeof *t);
    if (!t) abort();
    t->max_conc = c;
    t->max_hour = h;
    t->max_total = total;
    t->cap = 64;
    t->slots = calloc(t->cap, sizeof *t->slots);
    if (!t->slots) abort();
    return t;
}

void lim_free(lim_table *t)
{
    if (!t) return;
    for (size_t i = 0; i < t->cap; i++)
        free(t->slots[i].stamps);
    free(t->slots);
    free(t);
}

static size_t hash(uint64_t k)
{
    return (size_t)((k * 0x9E3779B97F4A7C15ULL) >> 17);
}

static lim_user *find(const lim_table *t, uint64_t uid)
{
    size_t m = t->cap - 1;
    for (size_t i = hash(uid) & m;; i = (i + 1) & m) {
        if (t->slots[i].user_id == uid) return &t->slots[i];
        if (t->slots[i].user_id == 0) return NULL;
    }
}

static void grow(lim_table *t);

static lim_user *get(lim_table *t, uint64_t uid)
{
    lim_user *u = find(t, uid);
    if (u) return u;
    if ((t->used + 1) * 4 > t->cap * 3) grow(t);
    size_t m = t->cap - 1;
    size_t i = hash(uid) & m;
    while (t->slots[i].user_id != 0)
        i = (i + 1) & m;
    t->slots[i].user_id = uid;
    t->used++;
    return &t->slots[i];
}

static void grow(lim_table *t)
{
    size_t ocap = t->cap;
    lim_user *old = t->slots;
    t->cap *= 2;
    t->slots = calloc(t->cap, sizeof *t->slots);
    if (!t->slots) abort();
    size_t m = t->cap - 1;
    for (size_t k = 0; k < ocap; k++) {
        if (old[k].user_id == 0) continue;
        size_t i = hash(old[k].user_id) & m;
        while (t->slots[i].user_id != 0)
            i = (i + 1) & m;
        t->slots[i] = old[k];
    }
    free(old);
}

static void expire(const lim_table *t, lim_user *u, uint64_t now)
{
    while (u->nstamps > 0 && u->stamps[u->head] + HOUR_MS <= now) {
        u->head = (u->head + 1) % t->max_hour;
        u->nstamps--;
    }
}

lim_verdict lim_admit(lim_table *t, uint64_t uid, uint64_t now, uint64_t *retry_after_ms)
{
    if (retry_after_ms) *retry_after_ms = 0;
    if (t->max_total && t->total >= t->max_total) return LIM_GLOBAL;
    lim_user *u = get(t, uid);
    if (t->max_conc && u->active >= t->max_conc) return LIM_USER_CONCURRENT;
    if (t->max_hour) {
        if (!u->stamps) {
            u->stamps = calloc(t->max_hour, sizeof *u->stamps);
            if (!u->stamps) abort();
        }
        expire(t, u, now);
        if (u->nstamps >= t->max_hour) {
            if (retry_after_ms) *retry_after_ms = u->stamps[u->head] + HOUR_MS - now;
            return LIM_USER_HOURLY;
        }
        u->stamps[(u->head + u->nstamps) % t->max_hour] = now;
        u->nstamps++;
    }
    u->active++;
    t->total++;
    return LIM_OK;
}

void lim_adopt(lim_table *t, uint64_t uid, uint64_t started, uint64_t now)
{
    lim_user *u = get(t, uid);
    u->active++;
    t->total++;
    if (started > now) started = now; /* another machine's clock ahead of this one's */
    if (!t->max_hour || started + HOUR_MS <= now) return;
    if (!u->stamps) {
        u->stamps = calloc(t->max_hour, sizeof *u->stamps);
        if (!u->stamps) abort();
    }
    expire(t, u, now);
    /* A full ring already refuses the user for the hour: nothing to add. Otherwise the stamp
     * goes in time order (the ring's oldest is at head), since expiry reads from the head. */
    if (u->nstamps >= t->max_hour) return;
    unsigned pos = u->nstamps;
    while (pos > 0 && u->stamps[(u->head + pos - 1) % t->max_hour] > started) {
        u->stamps[(u->head + pos) % t->max_hour] = u->stamps[(u->head + pos - 1) % t->max_hour];
        pos--;
    }
    u->stamps[(u->head + pos) % t->max_hour] = started;
    u->nstamps++;
}

void lim_finish(lim_table *t, uint64_t uid)
{
    lim_user *u = find(t, uid);
    if (!u || u->active == 0) return;
    u->active--;
    if (t->total) t->total--;
}

unsigned lim_user_active(const lim_table *t, uint64_t uid)
{
    lim_user *u = find(t, uid);
    return u ? u->active : 0;
}

unsigned lim_total_active(const lim_table *t)
{
    return t->total;
}

void lim_explain(lim_verdict v, const lim_table *t, uint64_t retry_after_ms, char *out,
                 size_t outlen)
{
    char d[32];
    switch (v) {
    case LIM_USER_CONCURRENT:
        snprintf(out, outlen,
                 "\xe2\x8f\xb3 You already have %u job%s running or waiting (the limit is %u). "
                 "Please wait for one to finish.",
                 t->max_conc, t->max_conc == 1 ? "" : "s", t->max_conc);
        break;
    case LIM_USER_HOURLY:
        prog_fmt_duration((int64_t)retry_after_ms, d, sizeof d);
        snprintf(out, outlen,
                 "\xe2\x8f\xb3 You have reached %u jobs in the last hour. You can start another "
                 "in %s.",
                 t->max_hour, d);
        break;
    case LIM_GLOBAL:
        snprintf(out, outlen,
                 "\xf0\x9f\x9a\xa7 The queue is full (%u jobs). Please try again in a few "
                 "minutes.",
                 t->max_total);
        break;
    default:
        snprintf(out, outlen, "OK");
        break;
    }
}
