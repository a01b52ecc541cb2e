/*
 * `fluxbot import-analytics`: brings the Python original's analytics.db (the FluxAI and the
 * FluxComfyDiscordbot beta schemas, see docs/analytics.md) into a fluxbot database.
 *
 * The source is opened read-only and must look like the original's: a `command_usage`,
 * `image_stats` or `user_activity` table with the original's columns (REAL epoch seconds, TEXT
 * snowflakes), and no `schema_version` (that is a fluxbot database). Rows are converted to
 * fluxbot's conventions (integer milliseconds, integer snowflakes, LoRAs as a JSON list, the
 * resolution label's size into width/height) and written with seq 0, i.e. before any event of
 * this bot, so a later /reset_stats deletes them too. `daily_stats` (the beta's per-day
 * summaries with JSON columns) is read and checked, but not copied: its numbers are aggregates
 * of the raw rows, which are imported, and the rollups are rebuilt from them.
 *
 * The destination is a SQLite file or, given a postgresql:// URL (an_engine.h), the
 * PostgreSQL database: there the rows go in by chunks of 512 with bound parameters, their
 * rollups with them (pg_anstore_import_*), in one transaction ordered with resets.
 *
 * Idempotent: every imported row is remembered by (table, source id, time, user) in
 * `imported_rows`, and a row seen before is skipped. Transactional: one write transaction;
 * any failure rolls everything back (and a SQLite destination the import created is removed).
 * No threads.
 */
#ifndef FLUXBOT_AN_IMPORT_H
#define FLUXBOT_AN_IMPORT_H

#include <stddef.h>
#include <stdint.h>

typedef struct an_import_summary {
    uint64_t commands, images, activities; /* rows added */
    uint64_t already;                      /* rows skipped: imported before */
    uint64_t invalid;                      /* rows skipped: unusable (bad user id, no time) */
    uint64_t daily_rows;                   /* daily_stats rows read (not copied) */
    uint64_t daily_bad_json;               /* of those, with unreadable JSON columns */
    int64_t first_ms, last_ms;             /* time span of the added rows (0 when none) */
} an_import_summary;

/* Imports source into dest (created and migrated when missing). 0 on success; otherwise -1
 * with err (the destination unchanged): 1 = the source is not an analytics.db of the original
 * (or unreadable), 2 = the destination cannot be opened or written. */
int an_import_run(const char *source, const char *dest, an_import_summary *out, char *err,
                  size_t errlen);

#endif
