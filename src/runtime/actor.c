/*
 * Actors and the system that owns them: creation, threads, the parked-actor loop, sending,
 * holds, ordered start and stop, and metrics. Mailbox mechanics live in mailbox.c, timers in
 * timer.c, signal handling in signals.c.
 */
#include "runtime/actor_internal.h"

#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fluxbot/log.h"
#include "runtime/park.h"
#include "runtime/spin.h"

#define DEFAULT_SPIN_NS 20000u /* 20 us: below a futex wake (~30 us here), above a ring hop */
#define DRAIN_BATCH 64

static _Thread_local uint32_t tl_actor_id;

typedef struct thread_arg {
    rt_actor *actor;
    unsigned index;
} thread_arg;

/* The timer service's delivery: a tick never blocks the timer thread, so it spills. */
static int deliver_timer(void *target, rt_msg *m)
{
    return rt_send_spill(target, m);
}

rt_system *rt_system_new(void)
{
    rt_system *sys = calloc(1, sizeof *sys);
    if (!sys) return NULL;
    pthread_mutex_init(&sys->lock, NULL);
    if (rt_timers_init(&sys->timers, deliver_timer) != 0) {
        free(sys);
        return NULL;
    }
    return sys;
}

rt_actor *rt_actor_new(rt_system *sys, const rt_actor_spec *spec)
{
    if (!sys || !spec || !spec->name || sys->nactors >= RT_MAX_ACTORS) return NULL;
    if (!spec->loop && !spec->ops.on_message) return NULL;
    if (spec->loop && spec->threads > 1) return NULL; /* an event loop is one thread */
    rt_actor *a = calloc(1, sizeof *a);
    if (!a) return NULL;
    a->sys = sys;
    a->spec = *spec;
    snprintf(a->name, sizeof a->name, "%s", spec->name);
    a->spec.name = a->name;
    a->nthreads = spec->threads ? spec->threads : 1;
    a->io = spec->ops.on_io || spec->ops.on_deadline;
    a->io_slot = -1;
    if (a->io && (spec->loop || a->nthreads > 1)) { /* a worker runs one actor turn at a time */
        free(a);
        return NULL;
    }
    a->spin_ns = spec->spin_ns ? spec->spin_ns : DEFAULT_SPIN_NS;
    mailbox_init(&a->mb, spec->lane_capacity, a->nthreads > 1, spec->loop ? spec->wake : NULL,
                 spec->wake_ctx);
    if (spec->lazy_wake_depth && spec->lazy_wake_depth < a->mb.lazy_wake_depth)
        a->mb.lazy_wake_depth = spec->lazy_wake_depth;
    a->threads = calloc(a->nthreads, sizeof(pthread_t));
    if (!a->threads) {
        free(a);
        return NULL;
    }
    pthread_mutex_lock(&sys->lock);
    a->id = sys->nactors + 1;
    sys->actors[sys->nactors++] = a;
    pthread_mutex_unlock(&sys->lock);
    return a;
}

const char *rt_actor_name(const rt_actor *a)
{
    return a->name;
}
rt_system *rt_actor_system(rt_actor *a)
{
    return a->sys;
}
void *rt_actor_state(rt_actor *a)
{
    return a->spec.state;
}
size_t rt_actor_depth(rt_actor *a)
{
    return mailbox_depth(&a->mb);
}
bool rt_actor_stop_requested(const rt_actor *self)
{
    return atomic_load(&self->stop_requested);
}

rt_actor *rt_system_find(rt_system *sys, const char *name)
{
    for (unsigned i = 0; i < sys->nactors; i++)
        if (strcmp(sys->actors[i]->name, name) == 0) return sys->actors[i];
    return NULL;
}

/* ---- sending ----------------------------------------------------------------------------- */

static int send_common(rt_actor *to, rt_msg *m, bool spill)
{
    m->sender = tl_actor_id;
    return mailbox_push(&to->mb, m, spill, false);
}

int rt_send_lazy(rt_actor *to, rt_msg *m)
{
    m->sender = tl_actor_id;
    return mailbox_push(&to->mb, m, true, true);
}

int rt_send(rt_actor *to, rt_msg *m)
{
    return send_common(to, m, false);
}

int rt_send_spill(rt_actor *to, rt_msg *m)
{
    return send_common(to, m, true);
}

int rt_send_wait(rt_actor *to, rt_msg *m, int64_t timeout_ms)
{
    /* The receiver runs on this very thread (same worker): it cannot drain while we wait, so
     * waiting would only time out. Spill instead: nothing is lost and order is kept. */
    if (mailbox_is_home(&to->mb)) return send_common(to, m, true);
    uint64_t deadline = rt_now_ns() + (uint64_t)(timeout_ms > 0 ? timeout_ms : 0) * 1000000u;
    unsigned attempt = 0;
    for (;;) {
        int r = send_common(to, m, false);
        if (r != -RT_EFULL) return r;
        uint64_t now = rt_now_ns();
        if (now >= deadline) return -RT_ETIMEDOUT;
        /* Yield first (the consumer may be on this core), then back off in growing sleeps up to
         * 1 ms so a stalled consumer does not make us burn a core. */
        if (attempt < 8) {
            sched_yield();
        } else {
            uint64_t step = 50000u << (attempt - 8 < 5 ? attempt - 8 : 5);
            if (step > deadline - now) step = deadline - now;
            struct timespec ts = {0, (long)step};
            nanosleep(&ts, NULL);
        }
        attempt++;
    }
}

/* ---- holds and stop ---------------------------------------------------------------------- */

void rt_actor_hold(rt_actor *self)
{
    atomic_fetch_add(&self->holds, 1);
}

void rt_actor_release(rt_actor *self)
{
    if (atomic_fetch_sub(&self->holds, 1) == 1 && atomic_load(&self->stop_requested))
        mailbox_wake_all(&self->mb);
}

static bool exit_ready(rt_actor *a)
{
    return atomic_load(&a->stop_requested) && atomic_load(&a->stop_notified) &&
           atomic_load(&a->holds) == 0 && !mailbox_has_work(&a->mb);
}

bool rt_actor_should_exit(rt_actor *self)
{
    if (atomic_load(&self->stop_requested)) atomic_store(&self->stop_notified, true);
    return exit_ready(self);
}

/* ---- loop actors ------------------------------------------------------------------------- */

static void account(rt_actor *a, rt_msg *m, uint64_t now)
{
    if (m->enq_ns && now > m->enq_ns) {
        atomic_fetch_add_explicit(&a->latency_ns, now - m->enq_ns, memory_order_relaxed);
        atomic_fetch_add_explicit(&a->latency_samples, 1, memory_order_relaxed);
    }
}

size_t rt_actor_drain(rt_actor *self, rt_handler_fn handler, size_t max)
{
    size_t n = 0;
    uint64_t t0 = rt_now_ns();
    for (;;) {
        rt_msg *m = mailbox_pop(&self->mb);
        if (!m) {
            /* Arm, then look once more: a message that raced with arming is handled now. */
            if (!mailbox_arm(&self->mb)) break;
            continue;
        }
        account(self, m, t0);
        handler(self, self->spec.state, m);
        n++;
        if (max && n >= max) break;
    }
    if (n) {
        atomic_fetch_add_explicit(&self->processed, n, memory_order_relaxed);
        atomic_fetch_add_explicit(&self->busy_ns, rt_now_ns() - t0, memory_order_relaxed);
    }
    return n;
}

/* ---- parked actors ----------------------------------------------------------------------- */

static bool keep_awake(void *ctx)
{
    rt_actor *a = ctx;
    return exit_ready(a) || (atomic_load(&a->stop_requested) && !atomic_load(&a->stop_notified));
}

static void parked_loop(rt_actor *a, unsigned index)
{
    const rt_actor_ops *ops = &a->spec.ops;
    void *st = a->spec.state;
    bool had_work = false;
    uint64_t spin = a->spin_ns; /* this thread's current spin budget (runtime/spin.h) */
    for (;;) {
        size_t n = 0;
        uint64_t t0 = rt_now_ns();
        rt_msg *m;
        while (n < DRAIN_BATCH && (m = mailbox_pop(&a->mb))) {
            account(a, m, t0);
            ops->on_message(a, st, m);
            n++;
        }
        if (n) {
            atomic_fetch_add_explicit(&a->processed, n, memory_order_relaxed);
            atomic_fetch_add_explicit(&a->busy_ns, rt_now_ns() - t0, memory_order_relaxed);
            had_work = true;
            continue;
        }
        if (had_work) {
            had_work = false;
            if (ops->on_idle) {
                ops->on_idle(a, st);
                continue; /* on_idle may have produced work for itself */
            }
        }
        if (atomic_load(&a->stop_requested) && !atomic_exchange(&a->stop_notified, true)) {
            if (ops->on_stop_requested) ops->on_stop_requested(a, st);
            mailbox_wake_all(&a->mb); /* let the pool's other threads re-check the exit condition */
            continue;
        }
        if (exit_ready(a)) break;

        /* Spin briefly, then sleep: a reply that is already on its way costs less to wait for
         * than a futex round trip; anything longer must not burn the core. The spin yields as
         * it goes, because on two cores the thread that will send us the next message may be
         * waiting for exactly this core. How long to spin adapts to what the last waits
         * showed (runtime/spin.h). */
        uint64_t now = rt_now_ns(), until = now + spin;
        bool found = false;
        for (unsigned round = 1; now < until; round++) {
            if (mailbox_has_work(&a->mb)) {
                found = true;
                break;
            }
            if (round % 4 == 0)
                sched_yield();
            else
                for (int i = 0; i < 32; i++)
                    rt_cpu_relax();
            now = rt_now_ns();
        }
        if (found || mailbox_has_work(&a->mb)) {
            spin = rt_spin_next(spin, a->spin_ns, true, 0);
            continue;
        }
        uint64_t parked_at = rt_now_ns();
        mailbox_park(&a->mb, keep_awake, a);
        spin = rt_spin_next(spin, a->spin_ns, false, rt_now_ns() - parked_at);
    }
    (void)index;
}

/* ---- scheduled actors (sched.h) ---------------------------------------------------------- */

#define SCHED_RUN_BATCH                                                                            \
    64 /* messages per run: an actor with a flood cannot starve its neighbours */

sched_worker *rt_actor_sched_worker(rt_actor *a)
{
    return a->worker;
}
rt_actor **rt_actor_sched_link(rt_actor *a)
{
    return &a->sched_link;
}
mailbox *rt_actor_mailbox(rt_actor *a)
{
    return &a->mb;
}

bool rt_actor_sched_wants_run(rt_actor *a)
{
    if (!atomic_load(&a->start_requested)) return false;
    return !a->sched_started || mailbox_has_work(&a->mb) || keep_awake(a);
}

static void sched_report(rt_actor *a, bool ready, bool failed, bool exited)
{
    pthread_mutex_lock(&a->start_lock);
    if (ready) a->threads_ready++;
    if (failed) a->start_failed = true;
    if (exited) a->exited = true;
    pthread_cond_broadcast(&a->start_cond);
    pthread_mutex_unlock(&a->start_lock);
}

/* *now: the worker's clock, read at the end of its previous run (or after it woke): one clock
 * read per run instead of two (a read costs ~40 ns on a VM, a local hop not much more). */
static sched_next run_slice(rt_actor *a, uint64_t *now)
{
    const rt_actor_ops *ops = &a->spec.ops;
    void *st = a->spec.state;
    if (!a->sched_started) {
        if (!atomic_load(&a->start_requested)) return SCHED_RUN_IDLE; /* woken before its start */
        a->sched_started = true;
        int rc = ops->on_thread_start ? ops->on_thread_start(a, st, 0) : 0;
        if (rc != 0) {
            if (ops->on_thread_exit) ops->on_thread_exit(a, st, 0);
            sched_report(a, true, true, true);
            return SCHED_RUN_DONE;
        }
        sched_report(a, true, false, false);
    }
    size_t n = 0;
    uint64_t t0 = *now;
    rt_msg *m = NULL;
    while (n < SCHED_RUN_BATCH && (m = mailbox_pop(&a->mb))) {
        account(a, m, t0);
        ops->on_message(a, st, m);
        n++;
    }
    if (n) {
        *now = rt_now_ns();
        /* Only its worker writes these counters now: plain adds, no locked instruction. */
        atomic_store_explicit(&a->processed,
                              atomic_load_explicit(&a->processed, memory_order_relaxed) + n,
                              memory_order_relaxed);
        atomic_store_explicit(&a->busy_ns,
                              atomic_load_explicit(&a->busy_ns, memory_order_relaxed) + *now - t0,
                              memory_order_relaxed);
        a->had_work = true;
        if (m)
            return SCHED_RUN_AGAIN; /* the batch is used up: the worker's other actors go first */
    }
    if (a->had_work) {
        a->had_work = false;
        if (ops->on_idle)
            ops->on_idle(a, st); /* may produce work for itself: the re-check sees it */
    }
    if (atomic_load(&a->stop_requested) && !atomic_exchange(&a->stop_notified, true)) {
        if (ops->on_stop_requested) ops->on_stop_requested(a, st);
        return SCHED_RUN_AGAIN; /* drain what is left, then exit */
    }
    if (exit_ready(a)) {
        if (ops->on_thread_exit) ops->on_thread_exit(a, st, 0);
        sched_report(a, false, false, true);
        return SCHED_RUN_DONE;
    }
    return SCHED_RUN_IDLE;
}

sched_next rt_actor_sched_run(rt_actor *a, uint64_t *now)
{
    FB_OWNER_ENTER(&a->run_owner);
    uint32_t prev = tl_actor_id;
    tl_actor_id = a->id; /* messages it sends name it as their sender */
    sched_next next = run_slice(a, now);
    tl_actor_id = prev;
    FB_OWNER_LEAVE(&a->run_owner);
    return next;
}

/* The I/O callbacks, in the actor's turn: the worker runs them between runs, so the owner
 * assertion holds them to the same one-thread-at-a-time rule as on_message. Their time counts
 * as the actor's busy time (only its worker writes it: plain adds). */
static void io_enter(rt_actor *a, uint32_t *prev, uint64_t *t0)
{
    FB_OWNER_ENTER(&a->run_owner);
    *prev = tl_actor_id;
    tl_actor_id = a->id;
    *t0 = rt_now_ns();
}

static void io_leave(rt_actor *a, uint32_t prev, uint64_t t0)
{
    atomic_store_explicit(
        &a->busy_ns, atomic_load_explicit(&a->busy_ns, memory_order_relaxed) + rt_now_ns() - t0,
        memory_order_relaxed);
    tl_actor_id = prev;
    FB_OWNER_LEAVE(&a->run_owner);
}

void rt_actor_sched_io(rt_actor *a, int fd, uint32_t events)
{
    if (!a->spec.ops.on_io) return;
    uint32_t prev;
    uint64_t t0;
    io_enter(a, &prev, &t0);
    a->spec.ops.on_io(a, a->spec.state, fd, events);
    io_leave(a, prev, t0);
}

void rt_actor_sched_deadline(rt_actor *a)
{
    if (!a->spec.ops.on_deadline) return;
    uint32_t prev;
    uint64_t t0;
    io_enter(a, &prev, &t0);
    a->spec.ops.on_deadline(a, a->spec.state);
    io_leave(a, prev, t0);
}

/* The caller's slot on its worker, or -EINVAL when the caller is not the actor's worker (the
 * registrations are that thread's state), -ENOSPC when the worker has no slot left. */
static int io_slot(rt_actor *self)
{
    if (!self || !self->scheduled || !self->worker || sched_current() != self->worker)
        return -EINVAL;
    if (self->io_slot < 0) self->io_slot = sched_io_slot(self->worker, self);
    return self->io_slot;
}

int rt_io_ctl(rt_actor *self, int op, int fd, uint32_t events)
{
    if (fd < 0 || (op != RT_IO_ADD && op != RT_IO_MOD && op != RT_IO_DEL)) return -EINVAL;
    int slot = io_slot(self);
    if (slot < 0) return slot;
    return sched_io_ctl(self->worker, slot, op, fd, events);
}

int rt_io_deadline(rt_actor *self, uint64_t at_ms)
{
    int slot = io_slot(self);
    if (slot < 0) return slot;
    sched_io_deadline(self->worker, slot, at_ms);
    return 0;
}

bool rt_actor_is_io(const rt_actor *a)
{
    return a->io;
}

int rt_system_set_workers(rt_system *sys, unsigned n)
{
    if (!sys || sys->started || n > SCHED_MAX_WORKERS) return -EINVAL;
    sys->nworkers = n;
    return 0;
}

int rt_actor_schedule(rt_actor *a)
{
    if (!a || a->spec.loop || a->sys->started) return -EINVAL;
    if (a->scheduled) return 0;
    a->scheduled = true;
    a->nthreads = 1;              /* one run at a time: a pool's threads mean nothing here */
    a->mb.multi_consumer = false; /* one consumer: its worker */
    mailbox_set_fences(&a->mb);   /* its worker goes IDLE once per run: fences (mailbox.c) */
    a->sys->nscheduled++;
    return 0;
}

int rt_actor_use_fences(rt_actor *a)
{
    if (!a || a->sys->started) return -EINVAL;
    mailbox_set_fences(&a->mb);
    return 0;
}

bool rt_actor_is_scheduled(const rt_actor *a)
{
    return a->scheduled && !a->alone;
}

void rt_system_sched_metrics(rt_system *sys, rt_sched_metrics *out)
{
    memset(out, 0, sizeof *out);
    sched *s = &sys->sched;
    out->workers = s->nworkers;
    for (unsigned i = 0; i < s->nworkers + s->nalone; i++) {
        sched_worker *w = &s->workers[i];
        out->runs += atomic_load(&w->runs);
        out->parks += atomic_load(&w->parks);
        out->wakeups += atomic_load(&w->wakeups);
        out->local_enqueues += atomic_load(&w->local_enqueues);
        out->remote_enqueues += atomic_load(&w->remote_enqueues);
        out->io_events += atomic_load(&w->io_events);
        out->deadlines += atomic_load(&w->deadlines);
    }
}

static void *actor_thread(void *p)
{
    thread_arg arg = *(thread_arg *)p;
    free(p);
    rt_actor *a = arg.actor;
    tl_actor_id = a->id;
    mailbox_thread_slot();

    int rc = 0;
    if (a->spec.ops.on_thread_start) rc = a->spec.ops.on_thread_start(a, a->spec.state, arg.index);
    pthread_mutex_lock(&a->start_lock);
    if (rc != 0) a->start_failed = true;
    a->threads_ready++;
    pthread_cond_broadcast(&a->start_cond);
    pthread_mutex_unlock(&a->start_lock);
    if (rc == 0) {
        if (a->spec.loop)
            a->spec.loop(a, a->spec.state, arg.index);
        else
            parked_loop(a, arg.index);
    }
    if (a->spec.ops.on_thread_exit) a->spec.ops.on_thread_exit(a, a->spec.state, arg.index);
    return NULL;
}

/* Starts one actor's threads and waits until each ran on_thread_start. */
static int actor_start(rt_actor *a)
{
    pthread_mutex_init(&a->start_lock, NULL);
    pthread_cond_init(&a->start_cond, NULL);
    if (a->scheduled) {
        /* Its worker runs on_thread_start on its first run; we wait for the outcome. */
        a->started_threads = 1;
        atomic_store(&a->start_requested, true);
        mailbox_kick(&a->mb);
        pthread_mutex_lock(&a->start_lock);
        while (a->threads_ready < 1)
            pthread_cond_wait(&a->start_cond, &a->start_lock);
        bool failed = a->start_failed;
        pthread_mutex_unlock(&a->start_lock);
        a->running = true; /* actor_stop waits for its exit either way */
        return failed ? -EIO : 0;
    }
    int rc = 0;
    for (unsigned i = 0; i < a->nthreads && rc == 0; i++) {
        thread_arg *arg = malloc(sizeof *arg);
        if (!arg) {
            rc = -ENOMEM;
            break;
        }
        arg->actor = a;
        arg->index = i;
        int err = pthread_create(&a->threads[i], NULL, actor_thread, arg);
        if (err != 0) {
            free(arg);
            LOG_ERROR("runtime", "cannot start thread %u of actor %s: %s", i, a->name,
                      strerror(err));
            rc = -err;
            break;
        }
        a->started_threads++;
        char tname[16];
        snprintf(tname, sizeof tname, "%.10s/%u", a->name, i % 100);
        pthread_setname_np(a->threads[i], tname);
    }
    /* Wait for every thread that did start, even after a failure: actor_stop must join them,
     * or they would outlive the actor they run on. */
    pthread_mutex_lock(&a->start_lock);
    while (a->threads_ready < a->started_threads)
        pthread_cond_wait(&a->start_cond, &a->start_lock);
    bool failed = a->start_failed;
    pthread_mutex_unlock(&a->start_lock);
    a->running = a->started_threads > 0;
    if (rc != 0) return rc;
    return failed ? -EIO : 0;
}

static void actor_stop(rt_actor *a)
{
    if (!a->running) return;
    atomic_store(&a->stop_requested, true);
    mailbox_wake_all(&a->mb);
    if (a->scheduled) {
        pthread_mutex_lock(&a->start_lock);
        while (!a->exited)
            pthread_cond_wait(&a->start_cond, &a->start_lock);
        pthread_mutex_unlock(&a->start_lock);
    }
    for (unsigned i = 0; !a->scheduled && i < a->started_threads; i++)
        pthread_join(a->threads[i], NULL);
    rt_timers_drop_target(&a->sys->timers, a);
    /* From now on senders get -RT_ESTOPPED instead of queueing into a dead mailbox. */
    atomic_store_explicit(&a->mb.closed, true, memory_order_release);
    a->running = false;
}

/* Pins every scheduled actor to a shared worker (round-robin in creation order) and every I/O
 * actor that was not scheduled to a worker of its own, then starts the workers; before any
 * actor starts, so no send can see a half-placed mailbox. */
static int sched_bring_up(rt_system *sys)
{
    unsigned nalone = 0;
    for (unsigned i = 0; i < sys->nactors; i++) {
        rt_actor *a = sys->actors[i];
        if (!a->io || a->scheduled) continue;
        rt_actor_schedule(a); /* the same single-consumer, fenced mailbox */
        a->alone = true;
        nalone++;
    }
    if (!sys->nscheduled) return 0;
    unsigned shared = sys->nscheduled - nalone;
    int rc = sched_init(
        &sys->sched, shared ? (sys->nworkers ? sys->nworkers : SCHED_DEFAULT_WORKERS) : 0, nalone);
    if (rc != 0) return rc;
    for (unsigned i = 0; i < sys->nactors; i++) {
        rt_actor *a = sys->actors[i];
        if (!a->scheduled) continue;
        a->worker = a->alone ? sched_place_alone(&sys->sched, a->name) : sched_place(&sys->sched);
        a->mb.enqueue = sched_enqueue;
        a->mb.enqueue_ctx = a;
        /* Messages queued before the start wait in the lanes: the start's kick runs them. */
        atomic_store(&a->mb.sstate, 0);
        a->mb.home = a->worker;
    }
    rc = sched_start(&sys->sched);
    if (rc != 0) sched_free(&sys->sched);
    return rc;
}

int rt_system_start(rt_system *sys)
{
    if (rt_timers_start(&sys->timers) != 0) return -EIO;
    if (sched_bring_up(sys) != 0) {
        rt_timers_stop(&sys->timers);
        return -EIO;
    }
    for (unsigned i = 0; i < sys->nactors; i++) {
        int rc = actor_start(sys->actors[i]);
        if (rc != 0) {
            LOG_ERROR("runtime", "actor %s failed to start", sys->actors[i]->name);
            /* Undo what was started, newest first, so a half-started bot exits cleanly. */
            for (unsigned j = i + 1; j-- > 0;)
                actor_stop(sys->actors[j]);
            if (sys->nscheduled) sched_stop(&sys->sched);
            rt_timers_stop(&sys->timers);
            return rc;
        }
    }
    sys->started = true;
    return 0;
}

void rt_system_stop(rt_system *sys)
{
    if (!sys->started) return;
    for (unsigned i = sys->nactors; i-- > 0;)
        actor_stop(sys->actors[i]);
    if (sys->nscheduled) sched_stop(&sys->sched);
    rt_timers_stop(&sys->timers);
    sys->started = false;
}

void rt_system_free(rt_system *sys)
{
    if (!sys) return;
    rt_system_stop(sys);
    for (unsigned i = 0; i < sys->nactors; i++) {
        rt_actor *a = sys->actors[i];
        size_t lost = mailbox_destroy(&a->mb);
        if (lost)
            LOG_WARN("runtime", "actor %s: %zu messages arrived after it stopped", a->name, lost);
        if (a->started_threads) {
            pthread_mutex_destroy(&a->start_lock);
            pthread_cond_destroy(&a->start_cond);
        }
        free(a->threads);
        free(a);
    }
    if (sys->sched.workers) sched_free(&sys->sched);
    rt_timers_free(&sys->timers);
    pthread_mutex_destroy(&sys->lock);
    free(sys);
}

/* ---- metrics ----------------------------------------------------------------------------- */

void rt_actor_metrics(const rt_actor *ca, rt_metrics *out)
{
    rt_actor *a = (rt_actor *)ca; /* counters are atomics; reading them mutates nothing */
    memset(out, 0, sizeof *out);
    out->received = mailbox_received(&a->mb);
    out->processed = atomic_load(&a->processed);
    out->depth = mailbox_depth(&a->mb);
    out->depth_hwm = atomic_load(&a->mb.depth_hwm);
    if (out->depth > out->depth_hwm) out->depth_hwm = out->depth;
    out->spills = atomic_load(&a->mb.spills);
    out->full = atomic_load(&a->mb.full);
    out->parks = atomic_load(&a->mb.parks);
    out->wakeups = atomic_load(&a->mb.wakeups);
    out->busy_ns = atomic_load(&a->busy_ns);
    out->latency_ns = atomic_load(&a->latency_ns);
    out->latency_samples = atomic_load(&a->latency_samples);
}

/* ---- timers (the service in timer.c, one per system) ------------------------------------- */

uint64_t rt_timer_start(rt_actor *target, uint64_t delay_ms, uint64_t period_ms, uint64_t tag)
{
    return rt_timers_add(&target->sys->timers, target, delay_ms, period_ms, tag);
}

void rt_timer_cancel(rt_system *sys, uint64_t timer_id)
{
    rt_timers_cancel(&sys->timers, timer_id);
}

void rt_system_foreach(rt_system *sys, void (*fn)(rt_actor *a, void *ctx), void *ctx)
{
    for (unsigned i = 0; i < sys->nactors; i++)
        fn(sys->actors[i], ctx);
}
