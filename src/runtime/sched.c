/*
 * The M:N scheduler's workers: run queues, the inject stack, parking and waking. See sched.h
 * for the protocol; actor.c decides what one run of an actor does.
 */
#include "runtime/sched.h"

#include <errno.h>
#include <limits.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "fluxbot/log.h"
#include "runtime/mailbox.h"
#include "runtime/park.h"
#include "runtime/spin.h"

#define DEFAULT_SPIN_NS 20000u /* as parked actors: below a futex round trip, above a hop */
#define IO_BATCH 32            /* events taken per epoll_wait */

/* rt_io_ctl's event bits are epoll's (runtime.h promises it: callers may pass either). */
_Static_assert((int)RT_IO_IN == (int)EPOLLIN && (int)RT_IO_OUT == (int)EPOLLOUT &&
                   (int)RT_IO_ERR == (int)EPOLLERR && (int)RT_IO_HUP == (int)EPOLLHUP,
               "RT_IO_* must equal EPOLL*");
_Static_assert(RT_IO_ADD == EPOLL_CTL_ADD && RT_IO_MOD == EPOLL_CTL_MOD &&
                   RT_IO_DEL == EPOLL_CTL_DEL,
               "RT_IO_ADD/MOD/DEL must equal EPOLL_CTL_*");

static _Thread_local sched_worker *tl_worker;

sched_worker *sched_current(void)
{
    return tl_worker;
}

static void worker_close(sched_worker *w)
{
    if (w->wake_fd >= 0) close(w->wake_fd);
    if (w->epfd >= 0) close(w->epfd);
    w->wake_fd = w->epfd = -1;
}

/* The worker's epoll set with its wake eventfd in it. The eventfd is edge-triggered and never
 * read: every write is a new edge (epoll reports an eventfd write even when its counter was
 * already nonzero), and the counter cannot overflow in practice (2^64 - 2 writes), so reading
 * it would only cost a system call per wake-up. data.u64 0 names it; a descriptor of an actor
 * carries (slot + 1) << 32 | fd. */
static int worker_open(sched_worker *w)
{
    w->epfd = epoll_create1(EPOLL_CLOEXEC);
    w->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    struct epoll_event ev = {.events = EPOLLIN | EPOLLET, .data.u64 = 0};
    if (w->epfd < 0 || w->wake_fd < 0 || epoll_ctl(w->epfd, EPOLL_CTL_ADD, w->wake_fd, &ev) != 0) {
        int err = errno ? errno : EIO;
        worker_close(w);
        return -err;
    }
    for (unsigned i = 0; i < SCHED_IO_MAX; i++)
        w->io_deadline_ms[i] = UINT64_MAX;
    return 0;
}

int sched_init(sched *s, unsigned nworkers, unsigned nalone)
{
    memset(s, 0, sizeof *s);
    unsigned total = nworkers + nalone;
    if (total == 0) nworkers = total = SCHED_DEFAULT_WORKERS;
    if (nworkers > SCHED_MAX_WORKERS || nalone > SCHED_MAX_WORKERS) return -EINVAL;
    s->workers = aligned_alloc(64, ((sizeof(sched_worker) * total) + 63) & ~(size_t)63);
    if (!s->workers) return -ENOMEM;
    memset(s->workers, 0, sizeof(sched_worker) * total);
    for (unsigned i = 0; i < total; i++) {
        sched_worker *w = &s->workers[i];
        w->s = s;
        w->index = i;
        w->epfd = w->wake_fd = -1;
        w->alone = i >= nworkers;
        snprintf(w->name, sizeof w->name, "sched/%u", i % 100);
    }
    s->nworkers = nworkers;
    s->nalone = nalone;
    s->spin_ns = DEFAULT_SPIN_NS;
    for (unsigned i = 0; i < total; i++) {
        int rc = worker_open(&s->workers[i]);
        if (rc != 0) {
            for (unsigned j = 0; j < total; j++)
                worker_close(&s->workers[j]);
            free(s->workers);
            memset(s, 0, sizeof *s);
            return rc;
        }
    }
    return 0;
}

sched_worker *sched_place(sched *s)
{
    if (s->nworkers == 0) return NULL;
    return &s->workers[s->next++ % s->nworkers];
}

sched_worker *sched_place_alone(sched *s, const char *name)
{
    if (s->next_alone >= s->nalone) return NULL;
    sched_worker *w = &s->workers[s->nworkers + s->next_alone++];
    /* named as an actor on a thread of its own is (actor.c), so per-thread figures read alike */
    snprintf(w->name, sizeof w->name, "%.10s/0", name);
    return w;
}

/* ---- I/O: descriptors and deadlines of a worker's actors ---------------------------------- */

int sched_io_slot(sched_worker *w, rt_actor *a)
{
    for (unsigned i = 0; i < w->nio; i++)
        if (w->io[i] == a) return (int)i;
    if (w->nio >= SCHED_IO_MAX) return -ENOSPC;
    w->io[w->nio] = a;
    w->io_deadline_ms[w->nio] = UINT64_MAX;
    return (int)w->nio++;
}

int sched_io_ctl(sched_worker *w, int slot, int op, int fd, uint32_t events)
{
    struct epoll_event ev = {.events = events,
                             .data.u64 = ((uint64_t)(slot + 1) << 32) | (uint32_t)fd};
    return epoll_ctl(w->epfd, op, fd, op == EPOLL_CTL_DEL ? NULL : &ev) == 0 ? 0 : -errno;
}

void sched_io_deadline(sched_worker *w, int slot, uint64_t at_ms)
{
    w->io_deadline_ms[slot] = at_ms;
}

/* An actor that exited: its slot stays taken (nobody reuses it) but empty; events still
 * arriving for its descriptors take them out of the set (dispatch). */
static void io_forget(sched_worker *w, rt_actor *a)
{
    for (unsigned i = 0; i < w->nio; i++)
        if (w->io[i] == a) {
            w->io[i] = NULL;
            w->io_deadline_ms[i] = UINT64_MAX;
        }
}

/* Milliseconds until the earliest deadline (-1: none), from now_ms. */
static int io_timeout(const sched_worker *w, uint64_t now_ms)
{
    uint64_t at = UINT64_MAX;
    for (unsigned i = 0; i < w->nio; i++)
        if (w->io_deadline_ms[i] < at) at = w->io_deadline_ms[i];
    if (at == UINT64_MAX) return -1;
    if (at <= now_ms) return 0;
    return at - now_ms > INT_MAX ? INT_MAX : (int)(at - now_ms);
}

/* Runs the callbacks of what epoll reported, then of every due deadline. */
static void io_dispatch(sched_worker *w, const struct epoll_event *evs, int n)
{
    for (int i = 0; i < n; i++) {
        uint64_t key = evs[i].data.u64;
        if (key == 0) continue; /* the wake eventfd: nothing to do, the loop looks at inject */
        unsigned slot = (unsigned)(key >> 32) - 1;
        int fd = (int)(uint32_t)key;
        rt_actor *a = slot < w->nio ? w->io[slot] : NULL;
        if (!a) {
            /* its actor exited and left it registered: it must not wake the worker again */
            epoll_ctl(w->epfd, EPOLL_CTL_DEL, fd, NULL);
            continue;
        }
        atomic_fetch_add_explicit(&w->io_events, 1, memory_order_relaxed);
        rt_actor_sched_io(a, fd, evs[i].events);
    }
    if (!w->nio) return;
    uint64_t now = rt_now_ms();
    for (unsigned i = 0; i < w->nio; i++) {
        if (w->io_deadline_ms[i] > now || !w->io[i]) continue;
        w->io_deadline_ms[i] = UINT64_MAX; /* the callback sets the next one */
        atomic_fetch_add_explicit(&w->deadlines, 1, memory_order_relaxed);
        rt_actor_sched_deadline(w->io[i]);
    }
}

/* A busy worker's look at its descriptors and deadlines: no sleep. */
static void io_poll(sched_worker *w)
{
    w->io_runs = 0;
    struct epoll_event evs[IO_BATCH];
    int n = epoll_wait(w->epfd, evs, IO_BATCH, 0);
    io_dispatch(w, evs, n > 0 ? n : 0);
}

/* ---- queues ------------------------------------------------------------------------------ */

/* A counter only the worker's own thread writes: a plain increment, no locked instruction
 * (readers on other threads see a recent value, which is all a counter needs). */
static inline void bump(_Atomic uint64_t *c)
{
    atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + 1,
                          memory_order_relaxed);
}

static void local_push(sched_worker *w, rt_actor *a)
{
    *rt_actor_sched_link(a) = NULL;
    if (w->ltail)
        *rt_actor_sched_link(w->ltail) = a;
    else
        w->lhead = a;
    w->ltail = a;
}

static rt_actor *local_pop(sched_worker *w)
{
    rt_actor *a = w->lhead;
    if (!a) return NULL;
    w->lhead = *rt_actor_sched_link(a);
    if (!w->lhead) w->ltail = NULL;
    return a;
}

/* Takes the whole inject stack (newest first) and appends it to the local queue oldest first,
 * so actors woken from outside run in the order they were woken. */
static bool take_inject(sched_worker *w)
{
    if (!atomic_load_explicit(&w->inject, memory_order_relaxed)) return false;
    rt_actor *a = atomic_exchange_explicit(&w->inject, NULL, memory_order_acquire), *rev = NULL;
    while (a) {
        rt_actor *next = *rt_actor_sched_link(a);
        *rt_actor_sched_link(a) = rev;
        rev = a;
        a = next;
    }
    while (rev) {
        rt_actor *next = *rt_actor_sched_link(rev);
        local_push(w, rev);
        rev = next;
    }
    return true;
}

static void write_wake(sched_worker *w)
{
    uint64_t one = 1;
    /* Fails only with EAGAIN at a counter of 2^64 - 2: the worker is being woken anyway. */
    ssize_t r = write(w->wake_fd, &one, sizeof one);
    (void)r;
}

static bool wake_worker(sched_worker *w)
{
    /* After the inject push (a seq_cst CAS) and this fence: the waker's half of the pattern
     * whose other half is park()'s `sleeping` store, fence, inject load. The exchange lets
     * only the first waker of a park pay the eventfd write; a worker that is not parked is
     * never written to (it looks at its inject stack before it parks again). */
    atomic_thread_fence(memory_order_seq_cst);
    if (atomic_load_explicit(&w->sleeping, memory_order_relaxed) &&
        atomic_exchange(&w->sleeping, 0)) {
        write_wake(w);
        atomic_fetch_add_explicit(&w->wakeups, 1, memory_order_relaxed);
        return true;
    }
    return false;
}

void sched_enqueue(void *actor)
{
    rt_actor *a = actor;
    sched_worker *w = rt_actor_sched_worker(a);
    if (tl_worker == w) {
        /* The sender runs on this worker: the queue is ours and the worker is awake. */
        local_push(w, a);
        bump(&w->local_enqueues);
        return;
    }
    rt_actor *head = atomic_load_explicit(&w->inject, memory_order_relaxed);
    do {
        *rt_actor_sched_link(a) = head;
    } while (!atomic_compare_exchange_weak_explicit(&w->inject, &head, a, memory_order_seq_cst,
                                                    memory_order_relaxed));
    atomic_fetch_add_explicit(&w->remote_enqueues, 1, memory_order_relaxed);
    if (wake_worker(w)) /* the actor's own count: its senders' wake-ups, as for other actors */
        atomic_fetch_add_explicit(&rt_actor_mailbox(a)->wakeups, 1, memory_order_relaxed);
}

/* ---- the worker -------------------------------------------------------------------------- */

static void run_one(sched_worker *w, rt_actor *a, uint64_t *now)
{
    bump(&w->runs);
    w->io_runs++;
    sched_next next = rt_actor_sched_run(a, now);
    if (next == SCHED_RUN_AGAIN) {
        local_push(w, a);
        return;
    }
    if (next == SCHED_RUN_DONE) { /* stays QUEUED: nobody enqueues it again */
        if (w->nio) io_forget(w, a);
        return;
    }
    mailbox *mb = rt_actor_mailbox(a);
    /* release: the next enqueuer (another thread's CAS) writes the link we wrote last */
    atomic_store_explicit(&mb->sstate, 0, memory_order_release);
    /* The consumer half of the Dekker pattern (mailbox.h): IDLE is visible before we look at
     * the lanes, so a sender that published before our look is seen by it, and one that
     * publishes after sees IDLE and enqueues the actor itself. */
    atomic_thread_fence(memory_order_seq_cst);
    if (!rt_actor_sched_wants_run(a)) return;
    uint32_t idle = 0;
    if (atomic_compare_exchange_strong(&mb->sstate, &idle, 1)) local_push(w, a);
    /* else a sender won the CAS: the actor is in our inject stack already */
}

static bool stopping(sched_worker *w)
{
    return atomic_load_explicit(&w->s->stopping, memory_order_acquire);
}

/* Sleeps in epoll_wait until a waker writes wake_fd, a registered descriptor is ready or a
 * deadline is due, then runs the callbacks of what woke it. */
static void park(sched_worker *w)
{
    atomic_store(&w->sleeping, 1);
    atomic_thread_fence(memory_order_seq_cst);
    if (atomic_load(&w->inject) || stopping(w)) {
        atomic_store(&w->sleeping, 0);
        return;
    }
    int timeout = w->nio ? io_timeout(w, rt_now_ms()) : -1;
    struct epoll_event evs[IO_BATCH];
    int n = 0;
    if (timeout != 0) {
        bump(&w->parks);
        n = epoll_wait(w->epfd, evs, IO_BATCH, timeout);
    } else {
        n = epoll_wait(w->epfd, evs, IO_BATCH, 0); /* a deadline is due: look, do not sleep */
    }
    /* A waker that cleared `sleeping` meanwhile wrote (or will write) wake_fd: its edge makes
     * the next epoll_wait return at once, one spurious turn at most, never a lost one. */
    atomic_store(&w->sleeping, 0);
    w->io_runs = 0;
    if (n > 0 || w->nio) io_dispatch(w, evs, n > 0 ? n : 0);
}

static void *worker_main(void *p)
{
    sched_worker *w = p;
    tl_worker = w;
    mailbox_thread_slot();
    mailbox_set_home(w);
    uint64_t spin = w->s->spin_ns, clock = rt_now_ns();
    for (;;) {
        /* The inject stack first, every time: actors woken from outside join the tail of the
         * local queue, so a local actor that keeps itself busy cannot starve them. */
        take_inject(w);
        if (w->io_runs >= SCHED_IO_EVERY && w->nio) io_poll(w);
        rt_actor *a = local_pop(w);
        if (a) {
            run_one(w, a, &clock);
            continue;
        }
        if (stopping(w)) break;
        /* Every actor of this worker is idle. Spin briefly (adaptive, runtime/spin.h), yielding
         * as it goes, then park: one futex wake brings the worker back for whatever arrives. */
        uint64_t now = rt_now_ns(), until = now + spin;
        bool found = false;
        for (unsigned round = 1; now < until; round++) {
            if (atomic_load_explicit(&w->inject, memory_order_relaxed)) {
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
        if (found) {
            spin = rt_spin_next(spin, w->s->spin_ns, true, 0);
            clock = now;
            continue;
        }
        uint64_t parked_at = rt_now_ns();
        park(w);
        clock = rt_now_ns();
        spin = rt_spin_next(spin, w->s->spin_ns, false, clock - parked_at);
    }
    mailbox_set_home(NULL);
    tl_worker = NULL;
    return NULL;
}

int sched_start(sched *s)
{
    atomic_store(&s->stopping, false);
    for (unsigned i = 0; i < s->nworkers + s->nalone; i++) {
        sched_worker *w = &s->workers[i];
        int err = pthread_create(&w->thread, NULL, worker_main, w);
        if (err != 0) {
            LOG_ERROR("runtime", "cannot start scheduler worker %u: %s", i, strerror(err));
            sched_stop(s);
            return -err;
        }
        w->started = true;
        pthread_setname_np(w->thread, w->name);
    }
    s->running = true;
    return 0;
}

void sched_stop(sched *s)
{
    atomic_store_explicit(&s->stopping, true, memory_order_release);
    for (unsigned i = 0; i < s->nworkers + s->nalone; i++) {
        sched_worker *w = &s->workers[i];
        if (!w->started) continue;
        write_wake(w); /* after `stopping`: the worker sees it before it would park again */
        pthread_join(w->thread, NULL);
        w->started = false;
    }
    s->running = false;
}

void sched_free(sched *s)
{
    if (s->running) sched_stop(s);
    for (unsigned i = 0; i < s->nworkers + s->nalone; i++)
        worker_close(&s->workers[i]);
    free(s->workers);
    memset(s, 0, sizeof *s);
}
