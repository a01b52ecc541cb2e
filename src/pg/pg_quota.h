/*
 * pg_quota: the admission limits of generation jobs held across every process of the bot in
 * PostgreSQL: per-user concurrent jobs, per-user jobs in a sliding hour and the global cap on
 * jobs held. Each process's lim_table (comfy/lim.h) only sees its own jobs, so a user in
 * guilds on two shards would otherwise get twice the limit.
 *
 * A held job is a row (job key, user, owning process, lease expiry) that its owner renews;
 * the counts are the rows whose lease has not expired, so the jobs of a process that died
 * (kill -9, lost host) stop counting once their lease runs out (lease_ms) instead of holding
 * the user's slots for ever. Starts are rows too, counted over the last hour.
 *
 * Every admission is one transaction under one advisory lock (admissions are rare next to
 * the seconds a generation takes, and one lock makes the global cap exact). All times are the
 * database server's clock. One pg_quota per actor (it owns a connection); blocking calls are
 * bounded by timeout_ms each.
 */
#ifndef FLUXBOT_PG_QUOTA_H
#define FLUXBOT_PG_QUOTA_H

#include <stddef.h>
#include <stdint.h>

typedef struct pg_quota pg_quota;

typedef struct pg_quota_cfg {
    const char *url;          /* postgresql:// URL (required) */
    const char *owner;        /* this process, unique among the bot's processes (required) */
    unsigned user_max_active; /* 0 = unlimited */
    unsigned user_max_per_hour;
    unsigned max_total;
    unsigned lease_ms;   /* a held job stops counting this long after its last renewal;
                            0 = 30000 */
    unsigned timeout_ms; /* connect and per-statement bound; 0 = 3000 */
} pg_quota_cfg;

pg_quota *pg_quota_new(const pg_quota_cfg *cfg);
void pg_quota_free(pg_quota *q);

typedef enum pg_quota_verdict {
    PG_QUOTA_OK = 0,      /* counted: the job is held under job_key until pg_quota_finish */
    PG_QUOTA_USER_ACTIVE, /* the user has user_max_active jobs held by any process */
    PG_QUOTA_USER_HOURLY, /* user_max_per_hour starts in the last hour: *retry_after_ms */
    PG_QUOTA_GLOBAL,      /* max_total jobs held by the whole bot */
    PG_QUOTA_ERROR,       /* the database could not be asked: err */
} pg_quota_verdict;

/* Checks the limits and, when they allow it, holds job_key (unique across the bot, e.g.
 * "<owner>:<job id>") for user_id. */
pg_quota_verdict pg_quota_admit(pg_quota *q, uint64_t user_id, const char *job_key,
                                uint64_t *retry_after_ms, char *err, size_t errlen);

/* Holds job_key for user_id under this process without checking the limits: a job admitted by
 * another process that died and taken over here (job_keeper.h). Its row, when the dead owner's
 * is still there under the same key, becomes this process's (so the job is never counted twice);
 * otherwise (the row expired with the dead owner's lease) it is written again. Its start is not
 * counted again: the admission counted it in the user's hour, for every process. Without this
 * the job stops counting once the dead owner's lease runs out, while it still runs here. 0 or
 * -1 with err. */
int pg_quota_adopt(pg_quota *q, uint64_t user_id, const char *job_key, char *err, size_t errlen);

/* The job ended (any outcome): it stops counting. 0 or -1 with err. */
int pg_quota_finish(pg_quota *q, const char *job_key, char *err, size_t errlen);

/* One job of user_id held by this process ended (any outcome), for callers that count jobs
 * per user rather than by key: releases one of this process's rows for the user. 0 (also
 * when none is held) or -1 with err. */
int pg_quota_release_user(pg_quota *q, uint64_t user_id, char *err, size_t errlen);

/* Replaces every row this process holds with one per job it holds now (users[i] is the user of
 * its i-th held job): after an outage, releases that could not be written and admissions made
 * on local limits alone leave the rows wrong, and only the process knows its jobs. 0 or -1. */
int pg_quota_resync(pg_quota *q, const uint64_t *users, size_t n, char *err, size_t errlen);

/* Extends the lease of every job this process holds. Call well within lease_ms (a third of
 * it). 0 or -1 with err. */
int pg_quota_renew(pg_quota *q, char *err, size_t errlen);

/* Jobs held now by user_id (user_id 0: by everyone), leases expired excluded; -1 on error. */
long pg_quota_active(pg_quota *q, uint64_t user_id, char *err, size_t errlen);

#endif
