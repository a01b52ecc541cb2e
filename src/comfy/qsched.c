/* Dispatch order of waiting jobs: priority levels, users taking turns (see qsched.h). */
#include "comfy/qsched.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

typedef struct served {
    uint64_t user, stamp; /* stamp: the tick of the user's last turn (1.. ; 0 = never) */
} served;

struct qsched {
    served *u;
    unsigned n, cap;
    uint64_t tick;
};

qsched *qsched_new(void)
{
    qsched *s = calloc(1, sizeof *s);
    if (!s) abort();
    return s;
}

void qsched_free(qsched *s)
{
    if (!s) return;
    free(s->u);
    free(s);
}

static uint64_t stamp_of(const qsched *s, uint64_t user)
{
    for (unsigned i = 0; i < s->n; i++)
        if (s->u[i].user == user) return s->u[i].stamp;
    return 0;
}

static int cmp_stamp_desc(const void *a, const void *b)
{
    const served *x = a, *y = b;
    return x->stamp < y->stamp ? 1 : x->stamp > y->stamp ? -1 : 0;
}

void qsched_served(qsched *s, uint64_t user)
{
    s->tick++;
    for (unsigned i = 0; i < s->n; i++) {
        if (s->u[i].user == user) {
            s->u[i].stamp = s->tick;
            return;
        }
    }
    if (s->n == QSCHED_USERS_MAX) {
        /* forget the least recently served half (they count as never served: only earlier) */
        qsort(s->u, s->n, sizeof *s->u, cmp_stamp_desc);
        s->n /= 2;
    }
    if (s->n == s->cap) {
        s->cap = s->cap ? s->cap * 2 : 16;
        s->u = realloc(s->u, s->cap * sizeof *s->u);
        if (!s->u) abort();
    }
    s->u[s->n++] = (served){.user = user, .stamp = s->tick};
}

/* The pick among the jobs not yet taken, with each waiting user's stamp in stamps[] (one per
 * job: the stamp of that job's user). */
static int pick(const qsched_job *w, unsigned n, const bool *taken, const uint64_t *stamps)
{
    int best = -1;
    for (unsigned i = 0; i < n; i++) {
        if (taken[i]) continue;
        if (best < 0) {
            best = (int)i;
            continue;
        }
        const qsched_job *b = &w[best];
        if (w[i].level != b->level) {
            if (w[i].level < b->level) best = (int)i;
            continue;
        }
        /* same level: the user served longest ago; on a tie the earlier job (best already
         * is, since jobs are scanned in arrival order), so only a strictly older turn wins */
        if (stamps[i] < stamps[best]) best = (int)i;
    }
    return best;
}

static void stamps_fill(const qsched *s, const qsched_job *w, unsigned n, uint64_t *stamps)
{
    for (unsigned i = 0; i < n; i++) {
        stamps[i] = 0;
        bool seen = false;
        for (unsigned k = 0; k < i && !seen; k++) {
            if (w[k].user_id == w[i].user_id) {
                stamps[i] = stamps[k];
                seen = true;
            }
        }
        if (!seen) stamps[i] = stamp_of(s, w[i].user_id);
    }
}

int qsched_next(const qsched *s, const qsched_job *w, unsigned n)
{
    if (n == 0) return -1;
    uint64_t *stamps = malloc(n * sizeof *stamps);
    bool *taken = calloc(n, sizeof *taken);
    if (!stamps || !taken) abort();
    stamps_fill(s, w, n, stamps);
    int r = pick(w, n, taken, stamps);
    free(stamps);
    free(taken);
    return r;
}

void qsched_order(const qsched *s, const qsched_job *w, unsigned n, unsigned *order)
{
    if (n == 0) return;
    uint64_t *stamps = malloc(n * sizeof *stamps);
    bool *taken = calloc(n, sizeof *taken);
    if (!stamps || !taken) abort();
    stamps_fill(s, w, n, stamps);
    uint64_t tick = s->tick;
    for (unsigned k = 0; k < n; k++) {
        int i = pick(w, n, taken, stamps);
        order[k] = (unsigned)i;
        taken[i] = true;
        /* the user's turn is used: every job of theirs goes to the back of the turns */
        tick++;
        for (unsigned j = 0; j < n; j++)
            if (w[j].user_id == w[i].user_id) stamps[j] = tick;
    }
    free(stamps);
    free(taken);
}

int qsched_level_parse(const char *s)
{
    if (!s) return -1;
    if (strcmp(s, "high") == 0) return QSCHED_HIGH;
    if (strcmp(s, "normal") == 0) return QSCHED_NORMAL;
    if (strcmp(s, "low") == 0) return QSCHED_LOW;
    return -1;
}

const char *qsched_level_name(qsched_level l)
{
    return l == QSCHED_HIGH ? "high" : l == QSCHED_LOW ? "low" : "normal";
}
