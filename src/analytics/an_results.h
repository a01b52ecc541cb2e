/*
 * Delivered results, kept so their buttons outlive a restart: the analytics writer stores each
 * result's parameters in the results table (AN_EV_RESULT, AN_EV_RESULT_MSG, batched with every
 * other event; the generation path never waits on SQLite), and the ComfyUI runner reads one
 * back here when a Regenerate or Upscale press names a result it no longer holds in memory.
 *
 * The table is bounded by result_retention_days (older rows are deleted by the writer); a
 * press on an older result gets a clear answer instead (comfy_runner.c). One reader belongs to
 * one thread.
 */
#ifndef FLUXBOT_AN_RESULTS_H
#define FLUXBOT_AN_RESULTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct an_results an_results;

typedef struct an_result_row {
    int64_t created_ms;
    uint64_t user_id, channel_id, message_id;
    bool success, is_image;
    char *params;         /* malloc'd JSON (cjob_to_json) */
    char *view_url;       /* malloc'd or NULL */
    char *attachment_url; /* malloc'd or NULL */
} an_result_row;

/* Opens path read-only (a missing file or an older schema is an error: the caller then has no
 * stored results). NULL with err. */
an_results *an_results_open(const char *path, char *err, size_t errlen);
void an_results_close(an_results *r);

/* 1 found (out filled; free with an_result_row_free), 0 not stored, -1 error (err set). */
int an_results_get(an_results *r, uint64_t job_id, an_result_row *out, char *err, size_t errlen);
void an_result_row_free(an_result_row *row);

#endif
