/*
 * The analytics_writer actor: the only analytics writer of its process. A thin loop around
 * an_engine (SQLite or PostgreSQL; batching,
 * timing, retries, reset ordering); the SQL lives in src/analytics. See analytics_writer.h for
 * the contract.
 *
 * State is touched by the writer thread only, except the counters (atomics, read by
 * analytics_writer_counters_get from any thread).
 */
#include "actors/analytics_writer.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "analytics/an_engine.h"
#include "analytics/an_sqlerr.h"
#include "fluxbot/log.h"
#include "moderation/mod_store.h"
#include "msgs/an.h"
#include "util/util_time.h"

#define WHO "analytics"
/* PostgreSQL only: a transaction takes up to this many batches of events already waiting in
 * the mailbox (see accept_event). 8 measured best in bench_pg_ingest; more only holds more
 * events in memory per attempt. */
#define AN_PG_BACKLOG_BATCHES 8
#define RESET_RETRY_MS 3000 /* a reset or flush request waits this long on a busy database */

struct analytics_writer {
    rt_actor *actor;
    char db_path[1024]; /* a SQLite path or a postgresql:// URL (secret: never logged) */
    char db_name[1100]; /* what the logs call it */
    bool pg;
    size_t batch_max;
    size_t txn_max; /* events per transaction at most: batch_max, or under a backlog (PG) more */
    uint64_t flush_ms;
    uint64_t shutdown_retry_ms;
    uint64_t result_retention_ms;

    /* writer thread only */
    an_engine *store;
    uint64_t base;  /* the store's sequence mark at open: stored seq = base + recorded seq */
    uint64_t floor; /* events recorded before the latest reset (seq < floor) are dropped */
    an_event_msg **pending;
    size_t npending, cap;
    const an_event **chunk; /* txn_max slots: the events handed to an_engine_write */
    uint64_t batch_open_ms; /* monotonic ms the oldest pending event arrived */
    uint64_t timer_id, timer_due;
    uint64_t tick_id;  /* the periodic tick that picks up events sent lazily (rt_send_lazy) */
    uint64_t retry_at; /* monotonic ms of the next attempt after a failure (0 = none) */
    unsigned failures;
    int last_rc;
    uint64_t stop_deadline;
    /* The file the store has open, as db_path named it when it was opened: when db_path names
     * another file (renamed over, or removed), writing on would go to a file nobody will see. */
    bool db_known;
    dev_t db_dev;
    ino_t db_ino;
    /* The "-wal" and "-shm" files SQLite keeps next to it, while they are ours: after a swap
     * they must not stay under db_path's name (see reopen). */
    struct sidecar {
        bool known;
        dev_t dev;
        ino_t ino;
    } wal, shm;

    /* The moderation state to re-read after a swap (see mod_reload_step). */
    mod_state *mod;
    bool mod_reload;    /* a replacing file was opened: its moderation state is still to read */
    bool mod_marked;    /* mod_mark was read, and the mailbox was not yet found empty since */
    uint64_t mod_mark;  /* mod_state_changes when marked */
    unsigned mod_fails; /* failed reads of the new file's moderation state (logged once) */

    _Atomic uint64_t accepted, rows_written, batches, retries, dropped_by_reset, dropped_invalid,
        lost, resets, pending_now, db_replaced, mod_reloads;
    _Atomic uint64_t data_version; /* see analytics_writer_data_version */
    /* rt_now_ms of the oldest event not yet committed, 0 when none: the metrics' lag. */
    _Atomic uint64_t oldest_pending_ms;
};

/* ---- failures and retries ------------------------------------------------------------------ */

/* Errors of the environment (lock, disk, file): the same batch can succeed later. Anything
 * else means SQLite rejected the content, and retrying the same events cannot help. */
static bool environmental(int rc)
{
    switch (rc & 0xff) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
    case SQLITE_FULL:
    case SQLITE_READONLY:
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
    case SQLITE_IOERR:
    case SQLITE_CANTOPEN:
    case SQLITE_NOMEM:
    case SQLITE_PERM:
    case SQLITE_PROTOCOL:
        return true;
    default:
        return false;
    }
}

static uint64_t backoff_ms(int rc, unsigned failures)
{
    unsigned shift = failures > 1 ? failures - 1 : 0;
    if (shift > 12) shift = 12;
    if (an_sql_is_busy(rc)) {
        uint64_t ms = UINT64_C(5) << shift;
        return ms < 1000 ? ms : 1000;
    }
    uint64_t ms = UINT64_C(1000) << shift;
    return ms < 30000 ? ms : 30000;
}

static void note_failure(analytics_writer *w, int rc, const char *err)
{
    w->failures++;
    atomic_fetch_add(&w->retries, 1);
    uint64_t wait = backoff_ms(rc, w->failures);
    w->retry_at = rt_now_ms() + wait;
    /* Log the first failure, every change of cause, then every 20th retry. */
    if (w->failures == 1 || (rc & 0xff) != (w->last_rc & 0xff) || w->failures % 20 == 0)
        LOG_ERROR(WHO,
                  "cannot write to '%s': %s; %zu accepted events kept in memory, retry %u in "
                  "%llu ms",
                  w->db_name, err, w->npending, w->failures, (unsigned long long)wait);
    w->last_rc = rc;
}

static void note_success(analytics_writer *w)
{
    if (w->failures)
        LOG_WARN(WHO, "writes to '%s' recovered after %u failed attempts", w->db_name, w->failures);
    w->failures = 0;
    w->retry_at = 0;
    w->last_rc = SQLITE_OK;
}

/* ---- the file behind db_path ---------------------------------------------------------------- */

static void sidecar_name(const analytics_writer *w, const char *suffix, char *out, size_t n)
{
    snprintf(out, n, "%s%s", w->db_path, suffix);
}

static void note_sidecar(analytics_writer *w, struct sidecar *sc, const char *suffix)
{
    char name[sizeof w->db_path + 8];
    sidecar_name(w, suffix, name, sizeof name);
    struct stat st;
    sc->known = stat(name, &st) == 0;
    if (sc->known) {
        sc->dev = st.st_dev;
        sc->ino = st.st_ino;
    }
}

/* Called while db_path is known to name our file: the sidecars named after it are ours too. */
static void note_sidecars(analytics_writer *w)
{
    if (!w->wal.known) note_sidecar(w, &w->wal, "-wal");
    if (!w->shm.known) note_sidecar(w, &w->shm, "-shm");
}

/* Removes a sidecar named after db_path if it is still the one our old connection used. */
static void drop_sidecar(analytics_writer *w, struct sidecar *sc, const char *suffix)
{
    char name[sizeof w->db_path + 8];
    sidecar_name(w, suffix, name, sizeof name);
    struct stat st;
    if (sc->known && stat(name, &st) == 0 && st.st_dev == sc->dev && st.st_ino == sc->ino &&
        unlink(name) != 0)
        LOG_ERROR(WHO, "cannot remove the replaced database's '%s': %s", name, strerror(errno));
    sc->known = false;
}

static void note_identity(analytics_writer *w)
{
    if (w->pg) return; /* a server, not a file: nothing to rename over it */
    struct stat st;
    w->db_known = stat(w->db_path, &st) == 0;
    if (w->db_known) {
        w->db_dev = st.st_dev;
        w->db_ino = st.st_ino;
    }
    w->wal.known = w->shm.known = false;
    if (w->db_known) note_sidecars(w);
}

/* True when db_path no longer names the file the store has open: another file was renamed
 * over it, or it was removed or renamed away. One stat(2) per check, made around every
 * commit, so it costs nothing next to the transaction. */
static bool db_replaced(analytics_writer *w)
{
    if (!w->db_known) return false;
    struct stat st;
    if (stat(w->db_path, &st) != 0) return errno == ENOENT || errno == ENOTDIR;
    return st.st_dev != w->db_dev || st.st_ino != w->db_ino;
}

/* Leaves the replaced file and opens the database db_path names now (creating it with the
 * schema when nothing is there; refusing, and touching nothing, when what is there is not a
 * fluxbot database). Pending events move to the new file's sequence. SQLITE_OK, or the error
 * with err; the store is then NULL and every later attempt tries again. */
static int reopen(analytics_writer *w, char *err, size_t errlen)
{
    if (w->store) {
        /* The old file's WAL is still named after db_path, and SQLite leaves it there when it
         * closes a database that has moved. Opened next to the new file it would be read as
         * the new file's log: its pages would replace the new file's (a garbage file would
         * even pass for a database) and corrupt it. So: move the WAL's content into the old
         * file (best effort: readers may hold part of it), close, and remove our -wal and
         * -shm, checked by inode so a file that came with the new database is never
         * touched. */
        if (an_engine_sqlite(w->store))
            sqlite3_exec(an_store_db(an_engine_sqlite(w->store)), "PRAGMA wal_checkpoint(TRUNCATE)",
                         NULL, NULL, NULL);
        an_engine_close(w->store);
        w->store = NULL;
        drop_sidecar(w, &w->wal, "-wal");
        drop_sidecar(w, &w->shm, "-shm");
    }
    w->store = an_engine_open(w->db_path, err, errlen);
    if (!w->store) return SQLITE_CANTOPEN;
    an_engine_set_result_retention(w->store, (int64_t)w->result_retention_ms);
    uint64_t base = an_engine_seq_hwm(w->store);
    for (size_t i = 0; i < w->npending; i++)
        w->pending[i]->ev.seq = w->pending[i]->ev.seq - w->base + base;
    w->base = base;
    note_identity(w);
    if (w->mod) {
        w->mod_reload = true;
        w->mod_marked = false;
    }
    LOG_WARN(WHO, "now writing to the database at '%s' (%zu accepted events to write there)",
             w->db_name, w->npending);
    return SQLITE_OK;
}

/* Makes sure the store is open on the file db_path names. False with rc/err when it cannot be
 * (the events stay pending and the caller schedules a retry). */
static bool ensure_store(analytics_writer *w, int *rc, char *err, size_t errlen)
{
    if (w->store && !db_replaced(w)) return true;
    if (w->store) {
        atomic_fetch_add(&w->db_replaced, 1);
        LOG_ERROR(WHO,
                  "the database file '%s' was replaced or removed while the bot had it open; "
                  "rows committed before this stay in the replaced file, and the %zu events "
                  "not yet written (and every later one) go to the file now at that path",
                  w->db_name, w->npending);
    }
    *rc = reopen(w, err, errlen);
    return *rc == SQLITE_OK;
}

/* ---- batches ------------------------------------------------------------------------------- */

static void drop_front(analytics_writer *w, size_t n)
{
    for (size_t i = 0; i < n; i++)
        rt_msg_free(&w->pending[i]->hdr);
    memmove(w->pending, w->pending + n, (w->npending - n) * sizeof *w->pending);
    w->npending -= n;
    atomic_store(&w->pending_now, w->npending);
}

/* SQLite refused a chunk for its content: write the events one by one so one bad event cannot
 * hold back the others; the ones refused on their own are logged and dropped. Returns the
 * environmental error that stopped it, or SQLITE_OK. */
static int write_singly(analytics_writer *w, size_t n, char *err, size_t errlen)
{
    while (n--) {
        const an_event *ev = &w->pending[0]->ev;
        int rc = an_engine_write(w->store, &ev, 1, err, errlen);
        if (rc != SQLITE_OK && environmental(rc)) return rc;
        atomic_fetch_add(&w->data_version, 1); /* whatever the outcome: see flush_pending */
        if (rc == SQLITE_OK) {
            atomic_fetch_add(&w->rows_written, 1);
            atomic_fetch_add(&w->batches, 1);
        } else {
            atomic_fetch_add(&w->dropped_invalid, 1);
            LOG_ERROR(WHO, "event %llu rejected and dropped: %s", (unsigned long long)ev->seq, err);
        }
        drop_front(w, 1);
    }
    return SQLITE_OK;
}

/* Commits every pending event in chunks of txn_max. True when nothing is left pending; on an
 * environmental failure the events stay, the retry is scheduled and it returns false. */
static bool flush_pending(analytics_writer *w)
{
    char err[512];
    while (w->npending) {
        int rc;
        if (!ensure_store(w, &rc, err, sizeof err)) {
            note_failure(w, rc, err);
            return false;
        }
        size_t n = w->npending < w->txn_max ? w->npending : w->txn_max;
        for (size_t i = 0; i < n; i++)
            w->chunk[i] = &w->pending[i]->ev;
        rc = an_engine_write(w->store, w->chunk, n, err, sizeof err);
        /* Counted after every attempt, also a failed one or one that raced a swap of the file:
         * a reader that sees an unchanged version may reuse an answer, so an uncounted change
         * must never be possible, while a counted non-change only costs a recomputation. */
        atomic_fetch_add(&w->data_version, 1);
        if (rc == SQLITE_OK && db_replaced(w)) {
            /* Replaced while this batch was being written: it may have gone to the old file.
             * Keep it; the next pass writes it to the new one. */
            continue;
        }
        if (rc == SQLITE_OK) {
            atomic_fetch_add(&w->rows_written, n);
            atomic_fetch_add(&w->batches, 1);
            drop_front(w, n);
            note_success(w);
            note_sidecars(w); /* they exist once something was written */
            continue;
        }
        if (!environmental(rc)) rc = write_singly(w, n, err, sizeof err);
        if (rc != SQLITE_OK) {
            note_failure(w, rc, err);
            return false;
        }
        note_success(w);
    }
    w->batch_open_ms = 0;
    atomic_store(&w->oldest_pending_ms, 0);
    return true;
}

/* Keeps retrying until everything is committed or deadline (monotonic ms) passes. */
static bool flush_until(analytics_writer *w, uint64_t deadline)
{
    for (;;) {
        if (flush_pending(w)) return true;
        uint64_t now = rt_now_ms();
        if (now >= deadline) return false;
        uint64_t wait = w->retry_at > now ? w->retry_at - now : 1;
        util_sleep_ms((unsigned)(wait < deadline - now ? wait : deadline - now));
    }
}

/* The batch is due: full, or its oldest event waited flush_ms; not while backing off. */
static void maybe_flush(analytics_writer *w, uint64_t now)
{
    if (!w->npending) return;
    if (w->retry_at && now < w->retry_at) return;
    if (w->npending >= w->batch_max || now >= w->batch_open_ms + w->flush_ms || w->retry_at)
        flush_pending(w);
}

/* Makes sure a timer tick arrives when the pending batch next needs attention. */
static void arm_timer(analytics_writer *w, uint64_t now)
{
    if (!w->npending) return;
    /* The periodic tick comes within flush_ms and commits the batch; only a retry after a
     * failure needs a timer of its own. */
    if (w->tick_id && !w->retry_at) return;
    uint64_t due = w->retry_at ? w->retry_at : w->batch_open_ms + w->flush_ms;
    if (w->timer_due && w->timer_due <= due) return;
    if (w->timer_id) rt_timer_cancel(rt_actor_system(w->actor), w->timer_id);
    w->timer_id = rt_timer_start(w->actor, due > now ? due - now : 0, 0, 0);
    w->timer_due = due;
}

static void accept_event(analytics_writer *w, an_event_msg *m)
{
    if (m->ev.seq < w->floor && an_event_is_statistic(m->ev.kind)) {
        /* Recorded before a reset that was already carried out: it is part of what the
         * reset deleted. */
        atomic_fetch_add(&w->dropped_by_reset, 1);
        rt_msg_free(&m->hdr);
        return;
    }
    m->ev.seq += w->base;
    if (w->npending == w->cap) {
        w->cap = w->cap ? w->cap * 2 : 1024;
        w->pending = realloc(w->pending, w->cap * sizeof *w->pending);
        if (!w->pending) abort();
    }
    if (w->npending == 0) {
        w->batch_open_ms = rt_now_ms();
        atomic_store(&w->oldest_pending_ms, w->batch_open_ms);
    }
    w->pending[w->npending++] = m;
    atomic_fetch_add(&w->accepted, 1);
    atomic_store(&w->pending_now, w->npending);
    /* SQLite commits each full batch at once. PostgreSQL pays a round trip and a fixed set of
     * statements per transaction whatever its size, so while more events wait in the mailbox
     * it keeps taking them, up to txn_max; on_idle commits as soon as the mailbox runs dry
     * (maybe_flush), so a backlog only makes transactions larger, never later than a full
     * batch would be committed, and a backlog that never runs dry still commits every
     * flush_ms at the latest. */
    if (w->retry_at) return;
    if (w->npending >= w->txn_max ||
        (w->npending >= w->batch_max && rt_now_ms() >= w->batch_open_ms + w->flush_ms))
        flush_pending(w);
}

/* ---- control messages ---------------------------------------------------------------------- */

static void reply(an_control_msg *req, uint16_t type, uint64_t rows, const char *error)
{
    if (!req->reply_to) return;
    an_done_msg *d = an_done_msg_new(type, req->cookie, rows, error);
    if (rt_send_spill(req->reply_to, &d->hdr) != 0) rt_msg_free(&d->hdr);
}

static void do_reset(analytics_writer *w, an_control_msg *req)
{
    uint64_t cut = w->base + req->seq; /* stored seq of the first event to keep */
    uint64_t deadline = rt_now_ms() + RESET_RETRY_MS, deleted = 0;
    char err[512] = "";
    int rc;
    for (unsigned attempt = 1;; attempt++) {
        if (!ensure_store(w, &rc, err, sizeof err)) break;
        rc = an_engine_reset(w->store, cut, &deleted, err, sizeof err);
        /* Counted whatever the outcome: a failed reset may still have reopened the file. */
        atomic_fetch_add(&w->data_version, 1);
        if (rc == SQLITE_OK || !an_sql_is_busy(rc) || rt_now_ms() >= deadline) break;
        atomic_fetch_add(&w->retries, 1);
        util_sleep_ms((unsigned)backoff_ms(rc, attempt)); /* at most 30 s */
    }
    if (rc != SQLITE_OK) {
        LOG_ERROR(WHO, "reset failed, nothing deleted: %s", err);
        reply(req, MSG_AN_RESET_DONE, 0, err);
        return;
    }
    /* Pending events recorded before the reset are deleted too: they never reach the table. */
    size_t kept = 0;
    for (size_t i = 0; i < w->npending; i++) {
        /* Results and moderation state are not statistics: a reset never deletes them. */
        if (w->pending[i]->ev.seq < cut && an_event_is_statistic(w->pending[i]->ev.kind)) {
            rt_msg_free(&w->pending[i]->hdr);
            deleted++;
        } else {
            w->pending[kept++] = w->pending[i];
        }
    }
    w->npending = kept;
    atomic_store(&w->pending_now, kept);
    if (req->seq > w->floor) w->floor = req->seq;
    atomic_fetch_add(&w->resets, 1);
    LOG_INFO(WHO, "statistics reset: %llu rows deleted", (unsigned long long)deleted);
    reply(req, MSG_AN_RESET_DONE, deleted, NULL);
}

static void do_flush(analytics_writer *w, an_control_msg *req)
{
    bool ok = flush_until(w, rt_now_ms() + RESET_RETRY_MS);
    char err[160] = "";
    if (!ok)
        snprintf(err, sizeof err, "%zu events not yet written (%s)", w->npending,
                 an_sql_cause(w->last_rc));
    reply(req, MSG_AN_FLUSH_DONE, 0, err);
}

/* ---- the moderation state of a replacing file ---------------------------------------------- */

/*
 * Called from on_idle, i.e. each time the mailbox was found empty. The in-memory state may be
 * replaced by what the file holds only when the file holds every change made in memory:
 *   1. read the change count (mark). mod_state counts a change after it was sent here, so every
 *      change counted is in the mailbox, the batch or the file by now;
 *   2. at the next on_idle the mailbox was found empty after the mark was read, so every one of
 *      those changes is in the batch or the file: commit the batch;
 *   3. read the file and hand it over with mod_state_refresh(mark), which refuses it if a change
 *      was made since the mark (it would be missing from what was read): then start over.
 * Replacing without these steps would undo, in memory, a ban or a warning made just before or
 * after the swap until the next restart.
 */
static void mod_reload_step(analytics_writer *w)
{
    if (!w->mod_reload) return;
    if (!w->mod_marked) {
        w->mod_mark = mod_state_changes(w->mod, NULL);
        w->mod_marked = true;
        return;
    }
    if (w->npending && (w->retry_at && rt_now_ms() < w->retry_at)) return; /* backing off */
    if (w->npending && !flush_pending(w)) return;
    if (!w->store || db_replaced(w)) return; /* replaced again: the next commit reopens */
    mod_loaded l;
    char err[600];
    if (mod_store_load(w->db_path, mod_state_now(w->mod), &l, err, sizeof err) != 0) {
        if (w->mod_fails++ == 0)
            LOG_ERROR(WHO,
                      "cannot read the moderation state of the new database at '%s': %s; the "
                      "state read before the swap stays in force, retrying",
                      w->db_name, err);
        mod_loaded_free(&l);
        w->mod_marked = false;
        return;
    }
    unsigned words = l.rules->nwords, regexes = l.rules->nregexes, contexts = l.rules->ncontexts;
    size_t users = l.count;
    if (mod_state_refresh(w->mod, &l, w->mod_mark) != 0) {
        mod_loaded_free(&l); /* a change came in meanwhile: read again */
        w->mod_marked = false;
        return;
    }
    w->mod_reload = false;
    w->mod_marked = false;
    w->mod_fails = 0;
    atomic_fetch_add(&w->mod_reloads, 1);
    LOG_WARN(WHO,
             "moderation state re-read from the new database at '%s': %u banned words, %u "
             "patterns, %u context rules, %zu users with warnings or bans",
             w->db_name, words, regexes, contexts, users);
}

/* ---- actor callbacks ----------------------------------------------------------------------- */

static int on_thread_start(rt_actor *self, void *state, unsigned index)
{
    (void)self;
    (void)index;
    analytics_writer *w = state;
    char err[768];
    w->store = an_engine_open(w->db_path, err, sizeof err);
    if (!w->store) {
        LOG_ERROR(WHO, "%s", err);
        return -1;
    }
    w->base = an_engine_seq_hwm(w->store);
    an_engine_set_result_retention(w->store, (int64_t)w->result_retention_ms);
    note_identity(w);
    LOG_INFO(WHO, "writing to '%s' (%s, batches of %zu events or %llu ms)", w->db_name,
             an_engine_name(w->store), w->batch_max, (unsigned long long)w->flush_ms);
    w->tick_id = rt_timer_start(self, w->flush_ms, w->flush_ms, 0);
    return 0;
}

static void on_message(rt_actor *self, void *state, rt_msg *m)
{
    (void)self;
    analytics_writer *w = state;
    switch (m->type) {
    case MSG_AN_EVENT:
        accept_event(w, (an_event_msg *)m);
        return; /* kept or freed by accept_event */
    case MSG_AN_RESET:
        do_reset(w, (an_control_msg *)m);
        break;
    case MSG_AN_FLUSH:
        do_flush(w, (an_control_msg *)m);
        break;
    case RT_MSG_TIMER: {
        rt_timer_msg *t = (rt_timer_msg *)m;
        if (w->tick_id && t->timer_id == w->tick_id) {
            /* Events arrive without waking the writer (an_record.h sends them lazily): each
             * tick takes what came during the last period (the mailbox was drained before
             * this message) and commits it, so none waits much longer than flush_ms. */
            if (w->npending && !(w->retry_at && rt_now_ms() < w->retry_at)) flush_pending(w);
            break;
        }
        if (t->timer_id == w->timer_id) {
            w->timer_id = 0;
            w->timer_due = 0;
        }
        maybe_flush(w, rt_now_ms());
        break;
    }
    default:
        LOG_WARN(WHO, "ignoring message type %u", m->type);
        break;
    }
    rt_msg_free(m);
}

static void shutdown_flush(analytics_writer *w)
{
    if (!w->stop_deadline) w->stop_deadline = rt_now_ms() + w->shutdown_retry_ms;
    flush_until(w, w->stop_deadline);
}

/* No more ticks once the stop is asked: the mailbox must drain for the stop to finish, and
 * ticks that come faster than a commit against a locked database takes would keep it from ever
 * draining (the actor would go from one tick's on_idle to the next). */
static void stop_ticks(rt_actor *self, analytics_writer *w)
{
    if (w->tick_id) rt_timer_cancel(rt_actor_system(self), w->tick_id);
    w->tick_id = 0;
}

static void on_idle(rt_actor *self, void *state)
{
    analytics_writer *w = state;
    if (rt_actor_stop_requested(self)) {
        stop_ticks(self, w);
        shutdown_flush(w);
        return;
    }
    uint64_t now = rt_now_ms();
    maybe_flush(w, now);
    mod_reload_step(w);
    arm_timer(w, now);
}

static void on_stop_requested(rt_actor *self, void *state)
{
    analytics_writer *w = state;
    stop_ticks(self, w);
    shutdown_flush(w);
}

static void on_thread_exit(rt_actor *self, void *state, unsigned index)
{
    (void)self;
    (void)index;
    analytics_writer *w = state;
    if (!w->store && !w->db_known) return; /* the start failed: nothing was accepted */
    shutdown_flush(w);
    if (w->npending) {
        atomic_fetch_add(&w->lost, w->npending);
        LOG_ERROR(WHO,
                  "%zu accepted events could not be written to '%s' before exit (%s); they "
                  "are lost",
                  w->npending, w->db_name, an_sql_cause(w->last_rc));
        drop_front(w, w->npending);
    }
    an_engine_close(w->store);
    w->store = NULL;
    analytics_writer_counters m;
    analytics_writer_counters_get(w, &m);
    LOG_INFO(WHO, "closed: %llu events written in %llu batches, %llu retries",
             (unsigned long long)m.rows_written, (unsigned long long)m.batches,
             (unsigned long long)m.retries);
}

void analytics_writer_config_from(analytics_writer_config *out, const fb_config *cfg)
{
    memset(out, 0, sizeof *out);
    /* A postgresql:// db_url holds the analytics (an_engine.h); else the SQLite db_path. */
    out->db_path = cfg->db_url[0] ? cfg->db_url : cfg->db_path;
    out->batch_max = cfg->analytics_batch_max > 0 ? (unsigned)cfg->analytics_batch_max : 0;
    out->flush_ms = cfg->analytics_flush_ms > 0 ? (unsigned)cfg->analytics_flush_ms : 0;
    out->lane_capacity = cfg->mailbox_capacity > 0 ? (unsigned)cfg->mailbox_capacity : 0;
    out->result_retention_ms =
        cfg->result_retention_days > 0 ? (uint64_t)cfg->result_retention_days * 86400000ULL : 0;
}

analytics_writer *analytics_writer_new(rt_system *sys, const analytics_writer_config *cfg)
{
    analytics_writer *w = calloc(1, sizeof *w);
    if (!w) abort();
    snprintf(w->db_path, sizeof w->db_path, "%s", cfg && cfg->db_path ? cfg->db_path : "");
    w->pg = an_engine_is_pg(w->db_path);
    /* A URL may hold a password: the logs name the database without it. */
    snprintf(w->db_name, sizeof w->db_name, "%s",
             w->pg ? "the PostgreSQL database (db_url)" : w->db_path);
    w->batch_max = cfg && cfg->batch_max ? cfg->batch_max : 512;
    w->txn_max = w->pg ? w->batch_max * AN_PG_BACKLOG_BATCHES : w->batch_max;
    w->flush_ms = cfg && cfg->flush_ms ? cfg->flush_ms : 200;
    w->shutdown_retry_ms = cfg && cfg->shutdown_retry_ms ? cfg->shutdown_retry_ms : 10000;
    w->result_retention_ms = cfg ? cfg->result_retention_ms : 0;
    w->mod = cfg && !w->pg ? cfg->mod : NULL; /* PostgreSQL: mod_refresher.h keeps it fresh */
    w->chunk = calloc(w->txn_max, sizeof *w->chunk);
    if (!w->chunk) abort();
    rt_actor_spec spec = {
        .name = "analytics",
        .threads = 1, /* exactly one writer: SQLite allows one at a time anyway */
        .lane_capacity = cfg && cfg->lane_capacity ? cfg->lane_capacity : 1024,
        .state = w,
        /* events come lazily (an_record.h): a sender's full batch still wakes the writer */
        .lazy_wake_depth = (unsigned)w->batch_max,
        .ops = {.on_thread_start = on_thread_start,
                .on_message = on_message,
                .on_idle = on_idle,
                .on_stop_requested = on_stop_requested,
                .on_thread_exit = on_thread_exit},
    };
    w->actor = rt_actor_new(sys, &spec);
    if (!w->actor) {
        free(w->chunk);
        free(w);
        return NULL;
    }
    return w;
}

rt_actor *analytics_writer_actor(analytics_writer *w)
{
    return w ? w->actor : NULL;
}

const _Atomic uint64_t *analytics_writer_data_version(analytics_writer *w)
{
    return w ? &w->data_version : NULL;
}

void analytics_writer_counters_get(analytics_writer *w, analytics_writer_counters *out)
{
    out->accepted = atomic_load(&w->accepted);
    out->rows_written = atomic_load(&w->rows_written);
    out->batches = atomic_load(&w->batches);
    out->retries = atomic_load(&w->retries);
    out->dropped_by_reset = atomic_load(&w->dropped_by_reset);
    out->dropped_invalid = atomic_load(&w->dropped_invalid);
    out->lost = atomic_load(&w->lost);
    out->resets = atomic_load(&w->resets);
    out->pending = atomic_load(&w->pending_now);
    out->db_replaced = atomic_load(&w->db_replaced);
    out->mod_reloads = atomic_load(&w->mod_reloads);
    uint64_t oldest = atomic_load(&w->oldest_pending_ms), now = rt_now_ms();
    out->lag_ms = out->pending && oldest && now > oldest ? now - oldest : 0;
}

void analytics_writer_free(analytics_writer *w)
{
    if (!w) return;
    for (size_t i = 0; i < w->npending; i++)
        rt_msg_free(&w->pending[i]->hdr);
    free(w->pending);
    free(w->chunk);
    an_engine_close(w->store);
    free(w);
}
