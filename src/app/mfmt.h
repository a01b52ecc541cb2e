/*
 * Prometheus text exposition format (version 0.0.4) writer: a growable buffer with helpers
 * for a family header (# HELP / # TYPE) and samples with escaped label values. Pure: no
 * threads, no sockets, so the format rules are unit-tested directly (tests/test_mfmt.c).
 *
 * The caller keeps every sample of a family together, right after its header, as the format
 * requires. Names that are not valid metric/label names are refused (the sample is skipped and
 * mfmt.bad counts it), so a typo can never produce a scrape Prometheus rejects as a whole.
 */
#ifndef FLUXBOT_APP_METRICS_FMT_H
#define FLUXBOT_APP_METRICS_FMT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct mfmt {
    char *buf; /* owned; NUL-terminated while !oom */
    size_t len;
    size_t cap;
    bool oom;     /* an allocation failed: the text is incomplete */
    unsigned bad; /* samples or families skipped for invalid names */
} mfmt;

/* A label set: pairs of name/value strings, at most MFMT_MAX_LABELS. */
#define MFMT_MAX_LABELS 4
typedef struct mfmt_label {
    const char *name;
    const char *value;
} mfmt_label;

void mfmt_init(mfmt *m);
void mfmt_free(mfmt *m);
/* Hands the text to the caller (who frees it) and resets m. NULL if oom. */
char *mfmt_take(mfmt *m, size_t *len);

/* type: "counter", "gauge", "summary", "untyped". help may contain anything (escaped). */
void mfmt_family(mfmt *m, const char *name, const char *type, const char *help);
/* One sample line; suffix (NULL or e.g. "_sum") is appended to name. */
void mfmt_sample(mfmt *m, const char *name, const char *suffix, const mfmt_label *labels,
                 unsigned nlabels, double value);
/* Exact integer variant (doubles lose precision above 2^53). */
void mfmt_sample_u64(mfmt *m, const char *name, const char *suffix, const mfmt_label *labels,
                     unsigned nlabels, uint64_t value);
/* A family with one unlabelled sample (most counters and gauges). */
void mfmt_single(mfmt *m, const char *name, const char *type, const char *help, uint64_t value);

/* Rules of the format, exposed for the tests. */
bool mfmt_valid_metric_name(const char *s);
bool mfmt_valid_label_name(const char *s);

#endif
