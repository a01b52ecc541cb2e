/*
 * pg_idgate: IDENTIFY pacing shared by every process of the bot through PostgreSQL. Discord
 * allows max_concurrency IDENTIFYs per 5 s for the whole bot, one per bucket
 * (shard_id % max_concurrency); each process's gw_idq only sees its own shards, so N processes
 * started at once would each identify their bucket at the same moment and Discord would answer
 * INVALID_SESSION. The gate keeps, per bucket, the time of the last identify any process was
 * granted (table fluxbot_identify, the database server's clock, so the machines' clocks do not
 * matter) and grants a claim under an advisory lock on the bucket, so two processes can never
 * both see the bucket free.
 *
 * The spacing granted is interval_ms + margin_ms: the margin covers the time between the grant
 * and Discord receiving the frame, which differs between processes (a slow sender granted first
 * and a fast one granted interval_ms later could otherwise arrive closer than interval_ms). It
 * is never below GW_IDQ_MARGIN_MS, the margin of the in-process pacing (discord/gw_idq.h): the
 * gate across processes is at least as careful as the one inside a process.
 *
 * Fails closed: when the database cannot be reached the claim returns an error and the caller
 * waits, since identifying unpaced is what the gate exists to prevent (resumes need no permit).
 * One gate per actor (it owns a connection); blocking calls bounded by timeout_ms each.
 */
#ifndef FLUXBOT_PG_IDGATE_H
#define FLUXBOT_PG_IDGATE_H

#include <stddef.h>
#include <stdint.h>

typedef struct pg_idgate pg_idgate;

/* The default margin: processes on other machines, each with its own delay between a grant
 * and the frame reaching Discord (a loaded host, a longer route). Operators set it with the
 * config key identify_margin_ms (fluxbot check refuses values below GW_IDQ_MARGIN_MS). */
#define PG_IDGATE_MARGIN_MS 1000u

typedef struct pg_idgate_cfg {
    const char *url;     /* postgresql:// URL (required) */
    unsigned timeout_ms; /* connect and per-statement bound; 0 = 3000 */
    unsigned margin_ms;  /* added to the interval; 0 = PG_IDGATE_MARGIN_MS; at least
                            GW_IDQ_MARGIN_MS */
} pg_idgate_cfg;

/* Copies the configuration; connects on first use. NULL on bad arguments or no memory. */
pg_idgate *pg_idgate_new(const pg_idgate_cfg *cfg);
void pg_idgate_free(pg_idgate *g);

typedef enum pg_idgate_verdict {
    PG_IDGATE_GRANTED = 0, /* identify now; the bucket is recorded as used at this moment */
    PG_IDGATE_WAIT,        /* another process identified this bucket recently: *wait_ms */
    PG_IDGATE_ERROR,       /* database unreachable or failing: err; retry later */
} pg_idgate_verdict;

/* Claims the permit for one IDENTIFY in bucket (0-based, below max_concurrency) with the
 * protocol's interval_ms (5000). On WAIT, *wait_ms is how long until the bucket frees. */
pg_idgate_verdict pg_idgate_claim(pg_idgate *g, uint32_t bucket, uint32_t interval_ms,
                                  uint64_t *wait_ms, char *err, size_t errlen);

#endif
