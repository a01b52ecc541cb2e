/*
 * Mailbox implementation: per-thread SPSC lanes over ck_ring, overflow lists, parking and
 * wake hooks. See mailbox.h for the invariants this file maintains.
 */
#include "runtime/mailbox.h"

#include <limits.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/park.h"
#include "runtime/tsan.h"

#include <linux/membarrier.h>
#include <sys/syscall.h>
#include <unistd.h>

#define BURST_MAX 32 /* messages taken from one lane before looking at the next */
#define LATENCY_SAMPLE_MASK 63

/* ---- thread slots ------------------------------------------------------------------------ */

static pthread_mutex_t g_slot_lock = PTHREAD_MUTEX_INITIALIZER;
static unsigned char g_slot_used[MAILBOX_MAX_LANES];
static pthread_key_t g_slot_key;
static pthread_once_t g_slot_once = PTHREAD_ONCE_INIT;
static _Thread_local int tl_slot = -1;

static void slot_release(void *p)
{
    int slot = (int)(intptr_t)p - 1;
    pthread_mutex_lock(&g_slot_lock);
    g_slot_used[slot] = 0;
    pthread_mutex_unlock(&g_slot_lock);
}

static void slot_key_make(void)
{
    pthread_key_create(&g_slot_key, slot_release);
}

int mailbox_thread_slot(void)
{
    if (tl_slot >= 0) return tl_slot;
    pthread_once(&g_slot_once, slot_key_make);
    pthread_mutex_lock(&g_slot_lock);
    int slot = -1;
    for (int i = 0; i < MAILBOX_MAX_LANES; i++) {
        if (!g_slot_used[i]) {
            g_slot_used[i] = 1;
            slot = i;
            break;
        }
    }
    pthread_mutex_unlock(&g_slot_lock);
    if (slot < 0) {
        fprintf(stderr, "fluxbot: more than %d threads send messages at once\n", MAILBOX_MAX_LANES);
        abort();
    }
    pthread_setspecific(g_slot_key, (void *)(intptr_t)(slot + 1));
    tl_slot = slot;
    return slot;
}

/* ---- the parking barrier -----------------------------------------------------------------
 * Every send must order "publish the message" before "read sleepers/armed", and a parking
 * consumer must order "announce I sleep" before "look at the lanes" (a Dekker pattern: without
 * both barriers a send can miss a sleeper that has not yet seen the message, and that message
 * waits until the next send; a lost wake-up).
 *
 * Two ways to pay for it, chosen per mailbox (both sides of one mailbox must agree; `asym`):
 *  - fences: a full fence on every send and on every park;
 *  - asymmetric: the sender only stops the compiler, and the parking side issues
 *    membarrier(PRIVATE_EXPEDITED), an inter-processor interrupt to every core running a
 *    thread of the process (microseconds on each, more in a VM, against ~8 ns for a fence).
 * The asymmetric form pays only where sends vastly outnumber parks. So:
 *  - loop actors (REST, gateway) arm their wake-up on every turn of their event loop: fences
 *    (with membarrier there, bench_peers measured about 15% more CPU per interaction before the
 *    scheduler existed);
 *  - scheduled actors go IDLE after every run, once per message at ordinary rates: fences
 *    (and none at all for a send from the receiver's own worker, see sched.h);
 *  - actors on threads of their own (the ComfyUI runner's, the job keeper) park when idle and
 *    receive a handful of messages per job, or floods: membarrier where the kernel offers it
 *    (bench_runtime: the sender's fence was most of a send's cost).
 * FLUXBOT_PARK_BARRIER=fence selects fences everywhere; =membarrier also for loop actors (for
 * comparison). */

static int g_mode = -1; /* 0 fences; 1 membarrier for own-thread actors; 2 also loop actors */
static pthread_once_t g_asym_once = PTHREAD_ONCE_INIT;

static void asym_init(void)
{
#ifdef FLUXBOT_TSAN
    g_mode = 0; /* TSan models C11 fences, not membarrier: keep it able to check us */
#else
    const char *want = getenv("FLUXBOT_PARK_BARRIER");
    g_mode = 0;
    if (want && !strcmp(want, "fence")) return;
    if (syscall(SYS_membarrier, MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED, 0) != 0) return;
    g_mode = want && !strcmp(want, "membarrier") ? 2 : 1;
#endif
}

static inline void sender_barrier(const mailbox *mb)
{
    if (mb->asym)
        atomic_signal_fence(memory_order_seq_cst);
    else
        atomic_thread_fence(memory_order_seq_cst);
}

static void sleeper_barrier(const mailbox *mb)
{
    if (mb->asym) {
        /* Registered at start, so it cannot fail for want of registration; if it ever failed
         * the senders' compiler barriers would not pair with a fence: stop rather than lose
         * wake-ups silently. */
        if (syscall(SYS_membarrier, MEMBARRIER_CMD_PRIVATE_EXPEDITED, 0) != 0) abort();
        return;
    }
    atomic_thread_fence(memory_order_seq_cst);
}

bool mailbox_uses_membarrier(const mailbox *mb)
{
    return mb->asym;
}

void mailbox_set_fences(mailbox *mb)
{
    mb->asym = false;
}

/* ---- scheduled actors (sched.h) --------------------------------------------------------- */

static _Thread_local void *tl_home;

void mailbox_set_home(void *home)
{
    tl_home = home;
}

bool mailbox_is_home(const mailbox *mb)
{
    return mb->home && mb->home == tl_home;
}

void mailbox_kick(mailbox *mb)
{
    uint32_t idle = 0;
    if (atomic_load_explicit(&mb->sstate, memory_order_relaxed) == 0 &&
        atomic_compare_exchange_strong(&mb->sstate, &idle, 1))
        mb->enqueue(mb->enqueue_ctx);
}

/* ---- lanes ------------------------------------------------------------------------------- */

static unsigned round_pow2(unsigned v)
{
    unsigned p = 4;
    while (p < v && p < (1u << 30))
        p <<= 1;
    return p;
}

int mailbox_init(mailbox *mb, unsigned lane_capacity, bool multi_consumer, rt_wake_fn wake,
                 void *wake_ctx)
{
    memset(mb, 0, sizeof *mb);
    pthread_once(&g_asym_once, asym_init); /* before any thread can send to this mailbox */
    mb->asym = wake ? g_mode == 2 : g_mode >= 1;
    /* ck rings hold size-1 entries; ask for one more so "capacity" means what it says. */
    mb->lane_capacity = round_pow2((lane_capacity ? lane_capacity : 1024) + 1);
    mb->lazy_wake_depth = mb->lane_capacity / 2;
    mb->multi_consumer = multi_consumer;
    mb->wake = wake;
    mb->wake_ctx = wake_ctx;
    return 0;
}

static mailbox_lane *lane_new(unsigned capacity)
{
    mailbox_lane *l = aligned_alloc(64, (sizeof(mailbox_lane) + 63) & ~(size_t)63);
    if (!l) abort();
    memset(l, 0, sizeof *l);
    l->buf = calloc(capacity, sizeof(ck_ring_buffer_t));
    if (!l->buf) abort();
    ck_ring_init(&l->ring, capacity);
    pthread_mutex_init(&l->spill_lock, NULL);
    return l;
}

static mailbox_lane *my_lane(mailbox *mb)
{
    int slot = tl_slot >= 0 ? tl_slot : mailbox_thread_slot(); /* no call on every send */
    mailbox_lane *l = atomic_load_explicit(&mb->lanes[slot], memory_order_acquire);
    if (l) return l;
    /* Only the slot's owner creates its lane, so a release store is enough to publish it. */
    l = lane_new(mb->lane_capacity);
    atomic_store_explicit(&mb->lanes[slot], l, memory_order_release);
    unsigned want = (unsigned)slot + 1, cur = atomic_load(&mb->nlanes);
    while (cur < want && !atomic_compare_exchange_weak(&mb->nlanes, &cur, want)) {
    }
    return l;
}

static void note_depth(mailbox *mb)
{
    uint64_t d = mailbox_depth(mb),
             hwm = atomic_load_explicit(&mb->depth_hwm, memory_order_relaxed);
    while (d > hwm && !atomic_compare_exchange_weak_explicit(
                          &mb->depth_hwm, &hwm, d, memory_order_relaxed, memory_order_relaxed)) {
    }
}

/* After a publish and sender_barrier(): the producer half of the Dekker pattern. */
static void notify(mailbox *mb)
{
    if (atomic_load_explicit(&mb->sleepers, memory_order_relaxed) > 0) {
        if (mb->multi_consumer || !atomic_exchange(&mb->wake_pending, 1)) {
            atomic_fetch_add(&mb->epoch, 1);
            rt_futex_wake(&mb->epoch, 1);
            atomic_fetch_add_explicit(&mb->wakeups, 1, memory_order_relaxed);
        }
    }
    if (mb->wake && atomic_load_explicit(&mb->armed, memory_order_relaxed) &&
        atomic_exchange(&mb->armed, 0)) {
        atomic_fetch_add_explicit(&mb->wakeups, 1, memory_order_relaxed);
        mb->wake(mb->wake_ctx);
    }
}

int mailbox_push(mailbox *mb, rt_msg *m, bool spill, bool lazy)
{
    if (atomic_load_explicit(&mb->closed, memory_order_acquire)) return -RT_ESTOPPED;
    mailbox_lane *l = my_lane(mb);
    FB_OWNER_ENTER(&l->producer);
    uint64_t n = atomic_load_explicit(&l->sent, memory_order_relaxed);
    /* Latency is sampled: a clock read on every send would cost more than the hop itself. */
    m->enq_ns = (n & LATENCY_SAMPLE_MASK) == 0 ? rt_now_ns() : 0;
    RT_TSAN_RELEASE(m);
    bool queued = false;
    if (atomic_load_explicit(&l->spill_count, memory_order_acquire) == 0) {
        RT_TSAN_IGNORE_BEGIN();
        queued = ck_ring_enqueue_spsc(&l->ring, l->buf, m);
        RT_TSAN_IGNORE_END();
    }
    if (!queued) {
        if (!spill) {
            FB_OWNER_LEAVE(&l->producer);
            atomic_fetch_add_explicit(&mb->full, 1, memory_order_relaxed);
            return -RT_EFULL;
        }
        pthread_mutex_lock(&l->spill_lock);
        m->rt_link = NULL;
        if (l->spill_tail)
            l->spill_tail->rt_link = m;
        else
            l->spill_head = m;
        l->spill_tail = m;
        atomic_fetch_add_explicit(&l->spill_count, 1, memory_order_release);
        pthread_mutex_unlock(&l->spill_lock);
        atomic_fetch_add_explicit(&mb->spills, 1, memory_order_relaxed);
    }
    /* Only this thread writes `sent`: a plain store, then the (asymmetric) barrier. */
    atomic_store_explicit(&l->sent, n + 1, memory_order_relaxed);
    FB_OWNER_LEAVE(&l->producer);
    /* A lazy message wakes nobody while its lane has room: the receiver takes it on its next
     * wake-up (it promises one at a bounded interval). At lazy_wake_depth, or once spilling,
     * it wakes the receiver like any send, so a burst never waits for that interval. */
    if (lazy && !queued) lazy = false;
    if (lazy && n + 1 - atomic_load_explicit(&l->taken, memory_order_relaxed) < mb->lazy_wake_depth)
        return 0;
    if (mb->home) {
        /* A scheduled receiver. From its own worker: only that worker moves the receiver to
         * IDLE, and it is busy running us, so the state read here cannot be stale in the way
         * that loses a wake-up: no barrier, and the enqueue is a local append. From anywhere
         * else: the Dekker pattern against the worker's IDLE store (sched.h). */
        if (mb->home != tl_home)
            atomic_thread_fence(memory_order_seq_cst); /* pairs with the
worker's plain fence after IDLE: the asymmetric form would need a membarrier there,
once per run */
        if (((n + 1) & LATENCY_SAMPLE_MASK) == 0) note_depth(mb);
        mailbox_kick(mb);
        return 0;
    }
    sender_barrier(mb);
    if (((n + 1) & LATENCY_SAMPLE_MASK) == 0) note_depth(mb);
    notify(mb);
    return 0;
}

static rt_msg *lane_pop(mailbox *mb, mailbox_lane *l)
{
    void *p = NULL;
    RT_TSAN_IGNORE_BEGIN();
    bool got = mb->multi_consumer ? ck_ring_dequeue_spmc(&l->ring, l->buf, &p)
                                  : ck_ring_dequeue_spsc(&l->ring, l->buf, &p);
    RT_TSAN_IGNORE_END();
    if (!got && atomic_load_explicit(&l->spill_count, memory_order_acquire) > 0) {
        pthread_mutex_lock(&l->spill_lock);
        rt_msg *m = l->spill_head;
        if (m) {
            l->spill_head = m->rt_link;
            if (!l->spill_head) l->spill_tail = NULL;
            m->rt_link = NULL;
            atomic_fetch_sub_explicit(&l->spill_count, 1, memory_order_release);
            p = m;
            got = true;
        }
        pthread_mutex_unlock(&l->spill_lock);
    }
    if (!got) return NULL;
    RT_TSAN_ACQUIRE(p);
    /* A single consumer owns `taken`: a plain store avoids a locked instruction per message. */
    if (mb->multi_consumer)
        atomic_fetch_add_explicit(&l->taken, 1, memory_order_relaxed);
    else
        atomic_store_explicit(&l->taken, atomic_load_explicit(&l->taken, memory_order_relaxed) + 1,
                              memory_order_relaxed);
    return p;
}

/* Inlined into mailbox_pop so a release build pays no extra call for the debug-only wrapper. */
static inline __attribute__((always_inline)) rt_msg *pop_any(mailbox *mb)
{
    unsigned n = atomic_load_explicit(&mb->nlanes, memory_order_acquire);
    if (n == 0) return NULL;
    unsigned start = atomic_load_explicit(&mb->cursor, memory_order_relaxed) % n;
    for (unsigned k = 0, i = start; k < n; k++, i = i + 1 == n ? 0 : i + 1) {
        mailbox_lane *l = atomic_load_explicit(&mb->lanes[i], memory_order_acquire);
        if (!l) continue;
        rt_msg *m = lane_pop(mb, l);
        if (!m) continue;
        /* Round-robin with bursts: stay on a busy lane for a while, then move on so one chatty
         * producer cannot starve the others. */
        if (i != start) {
            atomic_store_explicit(&mb->cursor, i, memory_order_relaxed);
            atomic_store_explicit(&mb->burst, 1, memory_order_relaxed);
        } else {
            /* Racy among a pool's threads, harmlessly: it only steers fairness. */
            unsigned b = atomic_load_explicit(&mb->burst, memory_order_relaxed) + 1;
            if (b >= BURST_MAX) {
                atomic_store_explicit(&mb->cursor, (i + 1) % n, memory_order_relaxed);
                b = 0;
            }
            atomic_store_explicit(&mb->burst, b, memory_order_relaxed);
        }
        return m;
    }
    return NULL;
}

rt_msg *mailbox_pop(mailbox *mb)
{
#ifdef FB_DEBUG
    if (!mb->multi_consumer) {
        FB_OWNER_ENTER(&mb->consumer);
        rt_msg *m = pop_any(mb);
        FB_OWNER_LEAVE(&mb->consumer);
        return m;
    }
#endif
    return pop_any(mb);
}

bool mailbox_has_work(mailbox *mb)
{
    unsigned n = atomic_load_explicit(&mb->nlanes, memory_order_acquire);
    for (unsigned i = 0; i < n; i++) {
        mailbox_lane *l = atomic_load_explicit(&mb->lanes[i], memory_order_acquire);
        if (!l) continue;
        if (ck_ring_size(&l->ring) > 0 || atomic_load(&l->spill_count) > 0) return true;
    }
    return false;
}

size_t mailbox_depth(mailbox *mb)
{
    uint64_t sent = 0, taken = 0;
    unsigned n = atomic_load_explicit(&mb->nlanes, memory_order_acquire);
    for (unsigned i = 0; i < n; i++) {
        mailbox_lane *l = atomic_load_explicit(&mb->lanes[i], memory_order_acquire);
        if (!l) continue;
        /* taken first: a concurrent send can only make the difference larger, never negative */
        taken += atomic_load_explicit(&l->taken, memory_order_relaxed);
        sent += atomic_load_explicit(&l->sent, memory_order_relaxed);
    }
    return sent > taken ? (size_t)(sent - taken) : 0;
}

uint64_t mailbox_received(mailbox *mb)
{
    uint64_t sent = 0;
    unsigned n = atomic_load_explicit(&mb->nlanes, memory_order_acquire);
    for (unsigned i = 0; i < n; i++) {
        mailbox_lane *l = atomic_load_explicit(&mb->lanes[i], memory_order_acquire);
        if (l) sent += atomic_load_explicit(&l->sent, memory_order_relaxed);
    }
    return sent;
}

void mailbox_park(mailbox *mb, bool (*keep_awake)(void *ctx), void *ctx)
{
    uint32_t e = atomic_load(&mb->epoch);
    atomic_fetch_add(&mb->sleepers, 1);
    atomic_store(&mb->wake_pending, 0);
    sleeper_barrier(mb);
    if (!mailbox_has_work(mb) && !(keep_awake && keep_awake(ctx))) {
        atomic_fetch_add_explicit(&mb->parks, 1, memory_order_relaxed);
        rt_futex_wait(&mb->epoch, e, 0);
    }
    atomic_fetch_sub(&mb->sleepers, 1);
}

bool mailbox_arm(mailbox *mb)
{
    if (atomic_load_explicit(&mb->armed, memory_order_relaxed)) return mailbox_has_work(mb);
    atomic_store(&mb->armed, 1);
    sleeper_barrier(mb);
    return mailbox_has_work(mb);
}

void mailbox_wake_all(mailbox *mb)
{
    if (mb->home) {
        mailbox_kick(mb);
        return;
    }
    atomic_fetch_add(&mb->epoch, 1);
    rt_futex_wake(&mb->epoch, INT_MAX);
    if (mb->wake) {
        atomic_store(&mb->armed, 0);
        mb->wake(mb->wake_ctx);
    }
}

size_t mailbox_destroy(mailbox *mb)
{
    size_t discarded = 0;
    atomic_store(&mb->closed, true);
    rt_msg *m;
    while ((m = mailbox_pop(mb))) {
        /* A timer tick that raced the actor's exit is expected, not a lost message. */
        if (m->type != RT_MSG_TIMER) discarded++;
        rt_msg_free(m);
    }
    for (unsigned i = 0; i < MAILBOX_MAX_LANES; i++) {
        mailbox_lane *l = atomic_load(&mb->lanes[i]);
        if (!l) continue;
        pthread_mutex_destroy(&l->spill_lock);
        free(l->buf);
        free(l);
        atomic_store(&mb->lanes[i], NULL);
    }
    return discarded;
}
