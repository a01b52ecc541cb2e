/*
 * The analytics_writer actor, the only analytics writer of its process. Producers record events
 * and ask for resets through analytics/an_record.h, which only sends messages to this actor.
 * db_path names the store (an_engine.h): a SQLite file, or a postgresql:// URL shared by every
 * process of the bot (then each process has its writer, and resets are ordered across them by
 * the reset epoch, pg_anstore.h; the file checks below apply to SQLite only).
 *
 * The writer (exactly one per database and process) drains events into batched transactions:
 * a batch is committed when it holds batch_max events or when its oldest event has waited
 * flush_ms, whichever comes first, and the daily rollups are updated in the same transaction.
 * Every event and reset takes a number from one process-wide sequence when it is recorded; a
 * reset deletes exactly the events numbered before it, wherever they are (committed, waiting in
 * the batch, or still in a mailbox lane), and keeps every later one.
 *
 * SQLite failures never drop accepted events: the batch stays in memory and is retried (busy
 * or locked: 5 ms doubling to 1 s; disk full, read-only, corrupt, I/O: 1 s doubling to 30 s),
 * with the cause logged. At shutdown the writer keeps retrying for shutdown_retry_ms, then
 * logs how many events could not be written and why (analytics_writer_counters.lost; the app
 * then exits non-zero).
 *
 * The database file replaced at run time: before and after every commit the writer checks
 * that db_path still names the file it has open (device and inode). When it does not (a file
 * renamed over it, or the file removed), it logs an error naming the path, closes the old file
 * and opens what db_path names now — creating a new database with the schema when nothing is
 * there — and writes every event not yet committed there, including a batch whose commit
 * raced the swap. Rows committed before the swap stay in the replaced file. When what is at
 * db_path is not a usable database, nothing there is touched: events stay in memory and the
 * open is retried like any other failure.
 *
 * The moderation state (filters, warnings, bans) lives in the same file and is held in memory
 * by mod_state: after such a swap the writer re-reads it from the new file and hands it over
 * (mod_state_refresh), once every moderation change recorded before the read has been written
 * there, so a change made around the swap is neither lost nor undone. Until then (normally one
 * flush_ms tick) the state read before the swap stays in force. The swap is noticed at the
 * writer's next commit, i.e. once something is recorded after it.
 */
#ifndef FLUXBOT_ANALYTICS_WRITER_H
#define FLUXBOT_ANALYTICS_WRITER_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "config/fb_config.h"
#include "fluxbot/runtime.h"
#include "moderation/mod_state.h"

typedef struct analytics_writer_config {
    const char *db_path;          /* created when missing */
    unsigned batch_max;           /* events per transaction, at most (0 = 512) */
    unsigned flush_ms;            /* longest an accepted event waits for its commit (0 = 200) */
    unsigned lane_capacity;       /* mailbox slots per sending thread (0 = 1024) */
    unsigned shutdown_retry_ms;   /* how long a stop keeps retrying a failing database
                                     (0 = 10000) */
    uint64_t result_retention_ms; /* results older than this are deleted (0 = kept) */
    mod_state *mod; /* re-read from a SQLite file renamed over db_path (NULL: none); outlives
                       the writer */
} analytics_writer_config;

/* Fills out from the bot configuration (db_path, analytics_batch_max, analytics_flush_ms,
 * mailbox_capacity, result_retention_days); the other fields are zero (their defaults). */
void analytics_writer_config_from(analytics_writer_config *out, const fb_config *cfg);

typedef struct analytics_writer_counters {
    uint64_t accepted;         /* events taken into a batch */
    uint64_t rows_written;     /* events committed */
    uint64_t batches;          /* transactions committed */
    uint64_t retries;          /* failed attempts that were retried */
    uint64_t dropped_by_reset; /* events recorded before a reset that arrived after it */
    uint64_t dropped_invalid;  /* events SQLite rejected on their own (logged) */
    uint64_t lost;             /* accepted events still unwritten when the writer exited */
    uint64_t resets;
    uint64_t pending;     /* accepted, not yet committed */
    uint64_t lag_ms;      /* how long the oldest uncommitted event has waited (0 when none) */
    uint64_t db_replaced; /* times db_path was found naming another file (or none) */
    uint64_t mod_reloads; /* moderation state re-read from a replacing file */
} analytics_writer_counters;

typedef struct analytics_writer analytics_writer;

/* Adds the writer actor (named "analytics") to sys. It opens the database when the system
 * starts; if that fails the start fails, with the path and the SQLite cause logged. The
 * handle owns the actor's state: free it with analytics_writer_free after rt_system_free. */
analytics_writer *analytics_writer_new(rt_system *sys, const analytics_writer_config *cfg);
rt_actor *analytics_writer_actor(analytics_writer *w);
/* Any thread, any time (also after the system stopped). */
void analytics_writer_counters_get(analytics_writer *w, analytics_writer_counters *out);
/* The data version: a counter the writer increases after every commit that can change what a
 * reader sees (batches, single events, resets). Readers that keep answers (the stats
 * reporter) compare it, read before their read transaction, to know that nothing changed. */
const _Atomic uint64_t *analytics_writer_data_version(analytics_writer *w);
void analytics_writer_free(analytics_writer *w);

#endif
