/*
 * Timer service (see timer.h): one thread per system keeps a min-heap of deadlines and, when
 * one is due, delivers an RT_MSG_TIMER message to its target (an actor's mailbox). Actors
 * therefore see timers as ordinary messages and no actor needs a thread per timer or a poll
 * timeout of its own.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "runtime/timer.h"

#include "fluxbot/log.h"
#include "fluxbot/runtime.h" /* rt_now_ms */

static void heap_swap(rt_timer_entry *h, size_t i, size_t j)
{
    rt_timer_entry t = h[i];
    h[i] = h[j];
    h[j] = t;
}

static void sift_up(rt_timer_entry *h, size_t i)
{
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (h[p].due_ms <= h[i].due_ms) break;
        heap_swap(h, i, p);
        i = p;
    }
}

static void sift_down(rt_timer_entry *h, size_t len, size_t i)
{
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        if (l < len && h[l].due_ms < h[m].due_ms) m = l;
        if (r < len && h[r].due_ms < h[m].due_ms) m = r;
        if (m == i) return;
        heap_swap(h, i, m);
        i = m;
    }
}

static void heap_remove_at(rt_timers *t, size_t i)
{
    t->heap[i] = t->heap[--t->len];
    if (i < t->len) {
        sift_down(t->heap, t->len, i);
        sift_up(t->heap, i);
    }
}

int rt_timers_init(rt_timers *t, rt_timer_deliver deliver)
{
    memset(t, 0, sizeof *t);
    t->deliver = deliver;
    pthread_mutex_init(&t->lock, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&t->cond, &ca);
    pthread_condattr_destroy(&ca);
    t->next_id = 1;
    return 0;
}

static void *timer_thread(void *p)
{
    rt_timers *t = p;
    pthread_mutex_lock(&t->lock);
    while (!t->stopping) {
        uint64_t now = rt_now_ms();
        if (t->len == 0) {
            pthread_cond_wait(&t->cond, &t->lock);
            continue;
        }
        if (t->heap[0].due_ms > now) {
            uint64_t due = t->heap[0].due_ms;
            struct timespec ts = {(time_t)(due / 1000), (long)(due % 1000) * 1000000L};
            pthread_cond_timedwait(&t->cond, &t->lock, &ts);
            continue;
        }
        rt_timer_entry e = t->heap[0];
        if (e.period_ms) {
            /* Skip missed periods instead of firing a burst after a stall. */
            uint64_t next = e.due_ms + e.period_ms;
            if (next <= now) next = now + e.period_ms;
            t->heap[0].due_ms = next;
            sift_down(t->heap, t->len, 0);
        } else {
            heap_remove_at(t, 0);
        }
        pthread_mutex_unlock(&t->lock);
        rt_timer_msg *m = RT_MSG_NEW(rt_timer_msg, RT_MSG_TIMER, NULL);
        m->timer_id = e.id;
        m->tag = e.tag;
        m->due_ms = e.due_ms;
        if (t->deliver(e.target, &m->hdr) != 0) rt_msg_free(&m->hdr); /* target stopped */
        pthread_mutex_lock(&t->lock);
    }
    pthread_mutex_unlock(&t->lock);
    return NULL;
}

int rt_timers_start(rt_timers *t)
{
    t->stopping = false;
    int rc = pthread_create(&t->thread, NULL, timer_thread, t);
    if (rc != 0) {
        LOG_ERROR("runtime", "cannot start the timer thread: %s", strerror(rc));
        return -1;
    }
    pthread_setname_np(t->thread, "timers");
    t->running = true;
    return 0;
}

void rt_timers_stop(rt_timers *t)
{
    if (!t->running) return;
    pthread_mutex_lock(&t->lock);
    t->stopping = true;
    pthread_cond_signal(&t->cond);
    pthread_mutex_unlock(&t->lock);
    pthread_join(t->thread, NULL);
    t->running = false;
}

void rt_timers_free(rt_timers *t)
{
    free(t->heap);
    pthread_mutex_destroy(&t->lock);
    pthread_cond_destroy(&t->cond);
}

uint64_t rt_timers_add(rt_timers *t, void *target, uint64_t delay_ms, uint64_t period_ms,
                       uint64_t tag)
{
    pthread_mutex_lock(&t->lock);
    if (t->len == t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 16;
        rt_timer_entry *h = realloc(t->heap, cap * sizeof *h);
        if (!h) abort();
        t->heap = h;
        t->cap = cap;
    }
    uint64_t id = t->next_id++;
    t->heap[t->len] = (rt_timer_entry){rt_now_ms() + delay_ms, period_ms, id, tag, target};
    sift_up(t->heap, t->len);
    t->len++;
    pthread_cond_signal(&t->cond);
    pthread_mutex_unlock(&t->lock);
    return id;
}

void rt_timers_drop_target(rt_timers *t, const void *target)
{
    pthread_mutex_lock(&t->lock);
    for (size_t i = 0; i < t->len;) {
        if (t->heap[i].target == target)
            heap_remove_at(t, i); /* the moved-in entry is examined at the same index */
        else
            i++;
    }
    pthread_mutex_unlock(&t->lock);
}

void rt_timers_cancel(rt_timers *t, uint64_t timer_id)
{
    pthread_mutex_lock(&t->lock);
    for (size_t i = 0; i < t->len; i++) {
        if (t->heap[i].id == timer_id) {
            heap_remove_at(t, i);
            break;
        }
    }
    pthread_mutex_unlock(&t->lock);
}
