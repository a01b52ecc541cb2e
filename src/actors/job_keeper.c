/*
 * The job keeper actor (see job_keeper.h): one parked thread that owns the pg_lease connection,
 * and a small table of the jobs this process holds, shared (under its mutex) with the threads
 * that ask job_keeper_may_speak / job_keeper_lost.
 */
#include "actors/job_keeper.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fluxbot/log.h"
#include "pg/pg_conn.h"
#include "util/util_time.h"

#define KEEPER_TIMER_TAG 0x4a4f42ULL /* "JOB" */
/* Pending delivery claims (the database did not answer) are asked again this often. */
#define CLAIM_RETRY_MS 1000
/* A claim the database cannot answer is granted this long before the token dies, so the
 * result still reaches the user. */
#define CLAIM_GRANT_BEFORE_DEADLINE_MS 30000

typedef struct kp_entry {
    char key[PG_LEASE_KEY_MAX];
    int64_t gen;
    bool in_db;           /* the row exists (written, or taken over) */
    bool writing;         /* accepted, its INSERT not tried yet */
    bool lost;            /* another process took it */
    uint64_t valid_until; /* rt_now_ms(): the lease is surely ours until then */
} kp_entry;

/* A worker waiting for its delivery claim: shared by the worker and the keeper's thread, freed
 * by the last of the two to let go (the worker may give up waiting first). */
typedef struct kp_wait {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool done, granted;
    atomic_int refs;
} kp_wait;

typedef enum kp_opkind { OP_ACCEPT, OP_SUBMITTED, OP_CLAIM, OP_FINISH } kp_opkind;

typedef struct kp_op {
    rt_msg hdr;
    kp_opkind op;
    char key[PG_LEASE_KEY_MAX];
    char server[PG_LEASE_SERVER_MAX];
    char pid[PG_LEASE_PID_MAX];
    pg_lease_job row; /* OP_ACCEPT; params owned */
    kp_wait *wait;    /* OP_CLAIM; one reference */
    uint64_t deadline_ms;
} kp_op;

typedef struct kp_pending {
    char key[PG_LEASE_KEY_MAX];
    kp_wait *wait;
    uint64_t deadline_ms;
} kp_pending;

struct job_keeper {
    rt_actor *actor;
    rt_actor *target;
    pg_lease *lease;
    unsigned lease_ms, batch;
    uint64_t timer_id;
    bool stopping;
    bool trouble_logged; /* keeper thread only */
    uint64_t next_claim_retry;
    kp_pending *pending; /* keeper thread only */
    unsigned npending, cap_pending;
    pthread_mutex_t mu; /* guards v, n, cap */
    kp_entry *v;
    unsigned n, cap;
    _Atomic uint64_t accepted, written, write_failed, renewals, renew_failed, taken_over, lost;
    _Atomic uint64_t claims_granted, claims_refused, finished, released;
};

/* ---- the table (any thread, under mu) ------------------------------------------------------ */

static kp_entry *find_locked(job_keeper *k, const char *key)
{
    for (unsigned i = 0; i < k->n; i++)
        if (strcmp(k->v[i].key, key) == 0) return &k->v[i];
    return NULL;
}

static kp_entry *add_locked(job_keeper *k, const char *key)
{
    kp_entry *e = find_locked(k, key);
    if (e) return e;
    if (k->n == k->cap) {
        unsigned cap = k->cap ? k->cap * 2 : 32;
        kp_entry *v = realloc(k->v, cap * sizeof *v);
        if (!v) abort();
        k->v = v;
        k->cap = cap;
    }
    e = &k->v[k->n++];
    memset(e, 0, sizeof *e);
    snprintf(e->key, sizeof e->key, "%s", key);
    return e;
}

static void remove_locked(job_keeper *k, const char *key)
{
    kp_entry *e = find_locked(k, key);
    if (!e) return;
    *e = k->v[--k->n];
}

/* How long after a confirmed renewal the lease is trusted here: a fifth is kept back for the
 * time between the renewal and the database's clock, and for the message in flight. */
static uint64_t trusted_ms(const job_keeper *k)
{
    return (uint64_t)k->lease_ms * 4 / 5;
}

/* ---- claims ------------------------------------------------------------------------------ */

static void wait_release(kp_wait *w)
{
    if (atomic_fetch_sub(&w->refs, 1) != 1) return;
    pthread_mutex_destroy(&w->mu);
    pthread_cond_destroy(&w->cv);
    free(w);
}

static void wait_answer(job_keeper *k, kp_wait *w, bool granted)
{
    atomic_fetch_add(granted ? &k->claims_granted : &k->claims_refused, 1);
    pthread_mutex_lock(&w->mu);
    w->done = true;
    w->granted = granted;
    pthread_cond_broadcast(&w->cv);
    pthread_mutex_unlock(&w->mu);
    wait_release(w);
}

static void trouble(job_keeper *k, const char *what, const char *err)
{
    if (!k->trouble_logged)
        LOG_ERROR("jobs",
                  "job leases: %s failed (%s); jobs keep running here, but another process "
                  "cannot take them over until the database answers",
                  what, err);
    k->trouble_logged = true;
}

static void healthy(job_keeper *k)
{
    if (k->trouble_logged) LOG_INFO("jobs", "job leases: the database answers again");
    k->trouble_logged = false;
}

/* Asks the database; true when answered (w answered), false when it must be asked again. */
static bool try_claim(job_keeper *k, const char *key, kp_wait *w, uint64_t deadline_ms)
{
    pthread_mutex_lock(&k->mu);
    kp_entry *e = find_locked(k, key);
    bool held = e && e->in_db, lost = e && e->lost;
    int64_t gen = e ? e->gen : 0;
    uint64_t valid_until = e ? e->valid_until : 0;
    pthread_mutex_unlock(&k->mu);
    if (!held || lost) {
        /* never written (single-process semantics), or known lost */
        wait_answer(k, w, !lost);
        return true;
    }
    char err[256];
    pg_lease_result r = pg_lease_claim_delivery(k->lease, key, gen, err, sizeof err);
    if (r == PG_LEASE_OK) {
        healthy(k);
        wait_answer(k, w, true);
        return true;
    }
    if (r == PG_LEASE_FENCED) {
        pthread_mutex_lock(&k->mu);
        kp_entry *f = find_locked(k, key);
        if (f && !f->lost) {
            f->lost = true;
            atomic_fetch_add(&k->lost, 1);
        }
        pthread_mutex_unlock(&k->mu);
        LOG_WARN("jobs",
                 "job %s: another process holds it now (this process was paused or cut off); "
                 "its result is left to that process",
                 key);
        wait_answer(k, w, false);
        return true;
    }
    trouble(k, "a delivery claim", err);
    uint64_t now = rt_now_ms();
    /* The lease is surely still ours, or the token is about to die: deliver (see header). */
    if (now < valid_until || now + CLAIM_GRANT_BEFORE_DEADLINE_MS >= deadline_ms) {
        wait_answer(k, w, true);
        return true;
    }
    return false;
}

static void pending_add(job_keeper *k, const char *key, kp_wait *w, uint64_t deadline_ms)
{
    if (k->npending == k->cap_pending) {
        unsigned cap = k->cap_pending ? k->cap_pending * 2 : 8;
        kp_pending *v = realloc(k->pending, cap * sizeof *v);
        if (!v) abort();
        k->pending = v;
        k->cap_pending = cap;
    }
    kp_pending *p = &k->pending[k->npending++];
    snprintf(p->key, sizeof p->key, "%s", key);
    p->wait = w;
    p->deadline_ms = deadline_ms;
}

static void retry_pending(job_keeper *k)
{
    uint64_t now = rt_now_ms();
    if (!k->npending || now < k->next_claim_retry) return;
    k->next_claim_retry = now + CLAIM_RETRY_MS;
    for (unsigned i = 0; i < k->npending;) {
        kp_pending *p = &k->pending[i];
        if (try_claim(k, p->key, p->wait, p->deadline_ms))
            k->pending[i] = k->pending[--k->npending];
        else
            i++;
    }
}

/* ---- operations (keeper thread) ------------------------------------------------------------ */

static void do_accept(job_keeper *k, kp_op *op)
{
    char err[256];
    uint64_t t0 = rt_now_ms();
    pg_lease_result r = pg_lease_insert(k->lease, &op->row, err, sizeof err);
    pthread_mutex_lock(&k->mu);
    kp_entry *e = find_locked(k, op->row.key);
    if (e) e->writing = false;
    if (e && r == PG_LEASE_OK) {
        e->in_db = true;
        e->gen = 1;
        e->valid_until = t0 + trusted_ms(k);
    } else if (e) {
        /* Not durable: run as in one process, and never judged by a lease. */
        e->valid_until = UINT64_MAX;
    }
    pthread_mutex_unlock(&k->mu);
    if (r == PG_LEASE_OK && !e) {
        /* the job ended before its row was written (its finish came first): none kept */
        pg_lease_finish(k->lease, op->row.key, 1, err, sizeof err);
    }
    if (r == PG_LEASE_OK) {
        atomic_fetch_add(&k->written, 1);
        healthy(k);
        return;
    }
    atomic_fetch_add(&k->write_failed, 1);
    if (r == PG_LEASE_FENCED)
        LOG_WARN("jobs", "job %s: a row with this key exists already; not made durable again",
                 op->row.key);
    else
        trouble(k, "storing a new job", err);
}

static void do_submitted(job_keeper *k, kp_op *op)
{
    pthread_mutex_lock(&k->mu);
    kp_entry *e = find_locked(k, op->key);
    bool held = e && e->in_db && !e->lost;
    int64_t gen = e ? e->gen : 0;
    pthread_mutex_unlock(&k->mu);
    if (!held) return;
    char err[256];
    pg_lease_result r =
        pg_lease_set_submitted(k->lease, op->key, gen, op->server, op->pid, err, sizeof err);
    if (r == PG_LEASE_ERROR) {
        trouble(k, "recording a submission", err);
        return;
    }
    healthy(k);
    if (r == PG_LEASE_FENCED) {
        pthread_mutex_lock(&k->mu);
        kp_entry *f = find_locked(k, op->key);
        if (f && !f->lost) {
            f->lost = true;
            atomic_fetch_add(&k->lost, 1);
        }
        pthread_mutex_unlock(&k->mu);
        LOG_WARN("jobs", "job %s: taken over by another process; this process drops it", op->key);
    }
}

static void do_finish(job_keeper *k, const char *key)
{
    pthread_mutex_lock(&k->mu);
    kp_entry *e = find_locked(k, key);
    bool held = e && e->in_db && !e->lost;
    int64_t gen = e ? e->gen : 0;
    remove_locked(k, key);
    pthread_mutex_unlock(&k->mu);
    atomic_fetch_add(&k->finished, 1);
    if (!held) return;
    char err[256];
    /* A failure leaves the row: the next renewal finds it unknown here and deletes it. */
    if (pg_lease_finish(k->lease, key, gen, err, sizeof err) == PG_LEASE_ERROR)
        trouble(k, "finishing a job", err);
}

/* Renews this process's rows and reconciles the table with what the database says. */
static void renew(job_keeper *k)
{
    pthread_mutex_lock(&k->mu);
    size_t cap = (size_t)k->n + 64;
    pthread_mutex_unlock(&k->mu);
    char(*keys)[PG_LEASE_KEY_MAX] = malloc(cap * sizeof *keys);
    int64_t *gens = malloc(cap * sizeof *gens);
    if (!keys || !gens) abort();
    size_t n = 0;
    char err[256];
    uint64_t t0 = rt_now_ms();
    atomic_fetch_add(&k->renewals, 1);
    if (pg_lease_renew(k->lease, keys, gens, cap, &n, err, sizeof err) != 0) {
        atomic_fetch_add(&k->renew_failed, 1);
        trouble(k, "renewing the leases", err);
        free(keys);
        free(gens);
        return;
    }
    healthy(k);
    bool *known = calloc(n ? n : 1, sizeof *known);
    if (!known) abort();
    pthread_mutex_lock(&k->mu);
    for (unsigned i = 0; i < k->n; i++) {
        kp_entry *e = &k->v[i];
        if (!e->in_db || e->lost) continue;
        bool kept = false;
        for (size_t j = 0; j < n; j++)
            if (gens[j] == e->gen && strcmp(keys[j], e->key) == 0) {
                kept = known[j] = true;
                break;
            }
        if (kept) {
            e->valid_until = t0 + trusted_ms(k);
        } else {
            e->lost = true;
            atomic_fetch_add(&k->lost, 1);
            LOG_WARN("jobs",
                     "job %s: its lease was taken over by another process (this process was "
                     "paused or cut off); this process drops it",
                     e->key);
        }
    }
    for (size_t j = 0; j < n; j++)
        if (!known[j] && find_locked(k, keys[j])) known[j] = true; /* written, or lost */
    pthread_mutex_unlock(&k->mu);
    /* Rows of this owner nobody here knows: jobs whose finish could not be written. */
    for (size_t j = 0; j < n; j++)
        if (!known[j]) pg_lease_finish(k->lease, keys[j], gens[j], err, sizeof err);
    free(known);
    free(keys);
    free(gens);
}

static void release_msg(rt_msg *m)
{
    job_keeper_takeover_msg *t = (job_keeper_takeover_msg *)m;
    pg_lease_job_clear(&t->row);
}

static void take_over(job_keeper *k)
{
    if (!k->target || k->stopping) return;
    pg_lease_job *v = NULL;
    size_t n = 0;
    char err[256];
    unsigned long unreadable = pg_lease_unreadable(k->lease);
    if (pg_lease_take_expired(k->lease, k->batch, &v, &n, err, sizeof err) != 0) {
        trouble(k, "looking for jobs to take over", err);
        return;
    }
    if (pg_lease_unreadable(k->lease) != unreadable)
        LOG_ERROR("jobs", "%lu job rows of other processes could not be read and were dropped",
                  pg_lease_unreadable(k->lease) - unreadable);
    uint64_t now = rt_now_ms();
    for (size_t i = 0; i < n; i++) {
        pg_lease_job *row = &v[i];
        pthread_mutex_lock(&k->mu);
        kp_entry *e = add_locked(k, row->key);
        e->gen = row->gen;
        e->in_db = true;
        e->lost = false;
        e->valid_until = now + trusted_ms(k);
        pthread_mutex_unlock(&k->mu);
        LOG_INFO("jobs",
                 "job %s (interaction %" PRIu64
                 ", %s) taken over from %s (its lease expired or was "
                 "handed back; takeover %u)",
                 row->key, row->interaction_id, pg_lease_state_name(row->state), row->prev_owner,
                 row->takeovers);
        job_keeper_takeover_msg *m =
            RT_MSG_NEW(job_keeper_takeover_msg, MSG_JOB_KEEPER_TAKEOVER, release_msg);
        m->row = *row;
        memset(row, 0, sizeof *row); /* params moved */
        m->taken_ms = now;
        char key[PG_LEASE_KEY_MAX];
        snprintf(key, sizeof key, "%s", m->row.key);
        int64_t gen = m->row.gen;
        if (rt_send_spill(k->target, &m->hdr) != 0) {
            rt_msg_free(&m->hdr);
            pthread_mutex_lock(&k->mu);
            remove_locked(k, key);
            pthread_mutex_unlock(&k->mu);
            pg_lease_release(k->lease, key, gen, err, sizeof err);
            continue;
        }
        atomic_fetch_add(&k->taken_over, 1);
    }
    pg_lease_jobs_free(v, n);
}

static void op_dtor(rt_msg *m)
{
    kp_op *op = (kp_op *)m;
    pg_lease_job_clear(&op->row);
    if (op->wait) wait_release(op->wait);
    op->wait = NULL;
}

static void on_message(rt_actor *self, void *state, rt_msg *m)
{
    (void)self;
    job_keeper *k = state;
    if (m->type == RT_MSG_TIMER) {
        renew(k);
        take_over(k);
        retry_pending(k);
    } else if (m->type == MSG_JOB_KEEPER_OP) {
        kp_op *op = (kp_op *)m;
        switch (op->op) {
        case OP_ACCEPT:
            do_accept(k, op);
            break;
        case OP_SUBMITTED:
            do_submitted(k, op);
            break;
        case OP_CLAIM:
            if (!try_claim(k, op->key, op->wait, op->deadline_ms))
                pending_add(k, op->key, op->wait, op->deadline_ms);
            op->wait = NULL; /* answered or pending: the reference moved */
            break;
        case OP_FINISH:
            do_finish(k, op->key);
            break;
        }
        retry_pending(k);
    }
    rt_msg_free(m);
}

static void on_stop_requested(rt_actor *self, void *state)
{
    (void)self;
    job_keeper *k = state;
    k->stopping = true;
}

/* The actors that ran the jobs have stopped (they stop before this one): rows still held are
 * handed to the other processes at once. */
static void on_thread_exit(rt_actor *self, void *state, unsigned index)
{
    (void)self;
    (void)index;
    job_keeper *k = state;
    for (unsigned i = 0; i < k->npending; i++)
        wait_answer(k, k->pending[i].wait, false);
    k->npending = 0;
    char err[256];
    pthread_mutex_lock(&k->mu);
    for (unsigned i = 0; i < k->n; i++) {
        kp_entry *e = &k->v[i];
        if (!e->in_db || e->lost) continue;
        if (pg_lease_release(k->lease, e->key, e->gen, err, sizeof err) == PG_LEASE_OK) {
            atomic_fetch_add(&k->released, 1);
            LOG_INFO("jobs", "job %s handed to the other processes (this one is stopping)", e->key);
        }
    }
    k->n = 0;
    pthread_mutex_unlock(&k->mu);
}

static int on_thread_start(rt_actor *self, void *state, unsigned index)
{
    (void)index;
    job_keeper *k = state;
    k->timer_id = rt_timer_start(self, 0, k->lease_ms / 3 ? k->lease_ms / 3 : 1, KEEPER_TIMER_TAG);
    return 0;
}

/* ---- the API ------------------------------------------------------------------------------- */

void job_keeper_config_from(job_keeper_config *out, const fb_config *cfg)
{
    memset(out, 0, sizeof *out);
    out->url = pg_is_url(cfg->db_url) ? cfg->db_url : NULL;
    out->lease_ms = cfg->job_lease_ms > 0 ? (unsigned)cfg->job_lease_ms : 0;
    out->takeover_batch = cfg->runner_threads > 0 ? (unsigned)cfg->runner_threads : 1;
    out->lane_capacity = cfg->mailbox_capacity > 0 ? (unsigned)cfg->mailbox_capacity : 1024;
}

job_keeper *job_keeper_new(rt_system *sys, const job_keeper_config *cfg)
{
    if (!sys || !cfg) return NULL;
    pg_lease_cfg lc = {.url = cfg->url,
                       .owner = cfg->owner,
                       .lease_ms = cfg->lease_ms,
                       .timeout_ms = cfg->timeout_ms};
    pg_lease *lease = pg_lease_new(&lc);
    if (!lease) return NULL;
    job_keeper *k = calloc(1, sizeof *k);
    if (!k) {
        pg_lease_free(lease);
        return NULL;
    }
    k->lease = lease;
    k->lease_ms = cfg->lease_ms ? cfg->lease_ms : 10000;
    k->batch = cfg->takeover_batch ? cfg->takeover_batch : 4;
    pthread_mutex_init(&k->mu, NULL);
    rt_actor_spec spec = {.name = JOB_KEEPER_ACTOR_NAME,
                          .threads = 1,
                          .lane_capacity = cfg->lane_capacity ? cfg->lane_capacity : 256,
                          .state = k,
                          .ops = {.on_thread_start = on_thread_start,
                                  .on_message = on_message,
                                  .on_stop_requested = on_stop_requested,
                                  .on_thread_exit = on_thread_exit}};
    k->actor = rt_actor_new(sys, &spec);
    if (!k->actor) {
        job_keeper_free(k);
        return NULL;
    }
    return k;
}

void job_keeper_set_target(job_keeper *k, rt_actor *target)
{
    if (k) k->target = target;
}

rt_actor *job_keeper_actor(job_keeper *k)
{
    return k ? k->actor : NULL;
}

void job_keeper_free(job_keeper *k)
{
    if (!k) return;
    pg_lease_free(k->lease);
    free(k->pending);
    free(k->v);
    pthread_mutex_destroy(&k->mu);
    free(k);
}

bool job_keeper_key(uint64_t interaction_id, char out[PG_LEASE_KEY_MAX])
{
    out[0] = '\0';
    if (!interaction_id) return false;
    snprintf(out, PG_LEASE_KEY_MAX, "ix:%" PRIu64, interaction_id);
    return true;
}

unsigned job_keeper_lease_ms(const job_keeper *k)
{
    return k ? k->lease_ms : 0;
}

static kp_op *op_new(kp_opkind kind, const char *key)
{
    kp_op *op = RT_MSG_NEW(kp_op, MSG_JOB_KEEPER_OP, op_dtor);
    op->op = kind;
    snprintf(op->key, sizeof op->key, "%s", key ? key : "");
    return op;
}

/* Ops are sent with rt_send_spill: an accepted job's row, a finish or a claim is never dropped
 * because a lane was full. Refused only once the keeper stopped. */
static bool op_send(job_keeper *k, kp_op *op)
{
    if (rt_send_spill(k->actor, &op->hdr) == 0) return true;
    rt_msg_free(&op->hdr);
    return false;
}

void job_keeper_accept(job_keeper *k, pg_lease_job *row)
{
    if (!k || !row || !row->key[0] || !row->params) return;
    atomic_fetch_add(&k->accepted, 1);
    pthread_mutex_lock(&k->mu);
    kp_entry *e = add_locked(k, row->key);
    e->in_db = false;
    e->writing = true;
    e->lost = false;
    e->gen = 0;
    e->valid_until = UINT64_MAX; /* until written, the job is this process's alone */
    pthread_mutex_unlock(&k->mu);
    kp_op *op = op_new(OP_ACCEPT, row->key);
    op->row = *row;
    row->params = NULL;
    op_send(k, op);
}

void job_keeper_submitted(job_keeper *k, const char *key, const char *server, const char *prompt_id)
{
    if (!k || !key || !server || !prompt_id) return;
    kp_op *op = op_new(OP_SUBMITTED, key);
    snprintf(op->server, sizeof op->server, "%s", server);
    snprintf(op->pid, sizeof op->pid, "%s", prompt_id);
    op_send(k, op);
}

bool job_keeper_claim(job_keeper *k, const char *key, uint64_t token_deadline_ms)
{
    if (!k || !key) return true;
    kp_wait *w = calloc(1, sizeof *w);
    if (!w) abort();
    pthread_mutex_init(&w->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&w->cv, &ca);
    pthread_condattr_destroy(&ca);
    atomic_init(&w->refs, 2);
    kp_op *op = op_new(OP_CLAIM, key);
    op->wait = w;
    op->deadline_ms = token_deadline_ms;
    if (!op_send(k, op)) {
        /* the keeper stopped (op_send freed the op and its reference): the local view decides */
        bool ok = job_keeper_may_speak(k, key);
        wait_release(w);
        return ok;
    }
    /* The keeper answers by the deadline at the latest (a pending claim is granted then); the
     * bound here only guards against a keeper that stopped with the claim queued. */
    uint64_t until = token_deadline_ms > rt_now_ms() ? token_deadline_ms : rt_now_ms() + 5000;
    pthread_mutex_lock(&w->mu);
    while (!w->done && rt_now_ms() < until) {
        struct timespec ts = util_deadline(CLOCK_MONOTONIC, 200);
        pthread_cond_timedwait(&w->cv, &w->mu, &ts);
    }
    bool done = w->done, granted = w->granted;
    pthread_mutex_unlock(&w->mu);
    wait_release(w);
    return done ? granted : job_keeper_may_speak(k, key);
}

void job_keeper_finish(job_keeper *k, const char *key)
{
    if (!k || !key) return;
    if (!op_send(k, op_new(OP_FINISH, key))) {
        pthread_mutex_lock(&k->mu);
        remove_locked(k, key);
        pthread_mutex_unlock(&k->mu);
    }
}

bool job_keeper_may_speak(job_keeper *k, const char *key)
{
    if (!k || !key) return true;
    pthread_mutex_lock(&k->mu);
    kp_entry *e = find_locked(k, key);
    bool ok = !e || (!e->lost && rt_now_ms() < e->valid_until);
    pthread_mutex_unlock(&k->mu);
    return ok;
}

bool job_keeper_settled(job_keeper *k, const char *key)
{
    if (!k || !key) return true;
    pthread_mutex_lock(&k->mu);
    kp_entry *e = find_locked(k, key);
    bool settled = !e || !e->writing;
    pthread_mutex_unlock(&k->mu);
    return settled;
}

bool job_keeper_lost(job_keeper *k, const char *key)
{
    if (!k || !key) return false;
    pthread_mutex_lock(&k->mu);
    kp_entry *e = find_locked(k, key);
    bool lost = e && e->lost;
    pthread_mutex_unlock(&k->mu);
    return lost;
}

void job_keeper_counters_get(job_keeper *k, job_keeper_counters *out)
{
    memset(out, 0, sizeof *out);
    if (!k) return;
    out->accepted = atomic_load(&k->accepted);
    out->written = atomic_load(&k->written);
    out->write_failed = atomic_load(&k->write_failed);
    out->renewals = atomic_load(&k->renewals);
    out->renew_failed = atomic_load(&k->renew_failed);
    out->taken_over = atomic_load(&k->taken_over);
    out->lost = atomic_load(&k->lost);
    out->claims_granted = atomic_load(&k->claims_granted);
    out->claims_refused = atomic_load(&k->claims_refused);
    out->finished = atomic_load(&k->finished);
    out->released = atomic_load(&k->released);
    pthread_mutex_lock(&k->mu);
    out->held = k->n;
    pthread_mutex_unlock(&k->mu);
}
