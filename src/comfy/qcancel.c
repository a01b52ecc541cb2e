/* Which job a cancel means, who may, and the texts (see qcancel.h). */
#include "comfy/qcancel.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

void qcancel_decide(const qcancel_job *jobs, unsigned n, const qcancel_req *r,
                    qcancel_decision *out)
{
    memset(out, 0, sizeof *out);
    if (r->job_id) {
        for (unsigned i = 0; i < n; i++) {
            if (jobs[i].id != r->job_id) continue;
            /* the job's real owner decides, whatever a button's id says */
            if (jobs[i].user_id != r->by_user && !r->manager)
                out->kind = QCANCEL_DENIED;
            else
                out->kind = jobs[i].cancelling ? QCANCEL_ALREADY : QCANCEL_ONE;
            out->index = i;
            return;
        }
        out->kind = QCANCEL_GONE;
        return;
    }
    uint64_t target = r->target_user ? r->target_user : r->by_user;
    if (target != r->by_user && !r->manager) {
        out->kind = QCANCEL_DENIED;
        return;
    }
    unsigned found = 0;
    for (unsigned k = n; k-- > 0;) { /* newest first */
        if (jobs[k].user_id != target || jobs[k].cancelling) continue;
        if (out->nchoice < QCANCEL_CHOICES_MAX)
            out->choice[out->nchoice++] = k;
        else
            out->more++;
        found++;
    }
    if (found == 0) {
        out->kind = QCANCEL_NONE;
    } else if (found == 1) {
        out->kind = QCANCEL_ONE;
        out->index = out->choice[0];
        out->nchoice = 0;
    } else {
        out->kind = QCANCEL_CHOOSE;
    }
}

void qcancel_refusal_text(const qcancel_decision *d, const qcancel_req *r, char *out, size_t cap)
{
    uint64_t target = r->target_user ? r->target_user : r->by_user;
    switch (d->kind) {
    case QCANCEL_NONE:
        if (target == r->by_user)
            snprintf(out, cap, "You have no jobs waiting or running.");
        else
            snprintf(out, cap, "<@%" PRIu64 "> has no jobs waiting or running.", target);
        break;
    case QCANCEL_GONE:
        snprintf(out, cap, "This job is no longer waiting or running: it has already ended.");
        break;
    case QCANCEL_DENIED:
        snprintf(out, cap,
                 "\xf0\x9f\x9a\xab You can only cancel your own jobs (administrators and bot "
                 "managers can cancel anyone's).");
        break;
    case QCANCEL_ALREADY:
        snprintf(out, cap, "\xe2\x8f\xb3 This job is already being cancelled.");
        break;
    default:
        snprintf(out, cap, "Nothing was cancelled.");
        break;
    }
}

static void describe(const qcancel_job *j, char *out, size_t cap)
{
    snprintf(out, cap, "`/%s`%s%s%s \xe2\x80\x94 %s", j->command, j->snippet[0] ? " \"" : "",
             j->snippet, j->snippet[0] ? "\"" : "", j->running ? "running" : "waiting");
}

void qcancel_choice_text(const qcancel_job *jobs, const qcancel_decision *d, const qcancel_req *r,
                         char *out, size_t cap)
{
    uint64_t target = r->target_user ? r->target_user : r->by_user;
    size_t used = 0;
    int w;
    if (target == r->by_user)
        w = snprintf(out, cap, "You have %u jobs. Which one should be cancelled?\n",
                     d->nchoice + d->more);
    else
        w = snprintf(out, cap, "<@%" PRIu64 "> has %u jobs. Which one should be cancelled?\n",
                     target, d->nchoice + d->more);
    if (w > 0) used = (size_t)w < cap ? (size_t)w : cap;
    for (unsigned i = 0; i < d->nchoice && used < cap; i++) {
        char line[200];
        describe(&jobs[d->choice[i]], line, sizeof line);
        w = snprintf(out + used, cap - used, "%u. %s\n", i + 1, line);
        if (w > 0) used += (size_t)w < cap - used ? (size_t)w : cap - used;
    }
    if (d->more && used < cap)
        snprintf(out + used, cap - used, "(%u older jobs not listed)\n", d->more);
}

void qcancel_job_text(uint64_t owner, uint64_t by_user, char *out, size_t cap)
{
    if (owner == by_user)
        snprintf(out, cap, "\xf0\x9f\x9a\xab Cancelled.");
    else
        snprintf(out, cap, "\xf0\x9f\x9a\xab Cancelled by <@%" PRIu64 ">.", by_user);
}

void qcancel_done_text(const qcancel_job *job, uint64_t by_user, bool done, char *out, size_t cap)
{
    char what[200];
    describe(job, what, sizeof what);
    /* the state word describes the job before the cancel; the answer says only what happened */
    char *dash = strstr(what, " \xe2\x80\x94 ");
    if (dash) *dash = '\0';
    const char *whose = job->user_id == by_user ? "Your job" : "The job";
    if (done)
        snprintf(out, cap, "\xe2\x9c\x85 %s %s was cancelled.", whose, what);
    else
        snprintf(out, cap, "%s %s ended before it could be cancelled.", whose, what);
}
