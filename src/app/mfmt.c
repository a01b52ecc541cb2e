/*
 * Prometheus text format writer (see mfmt.h). Escaping follows the exposition format:
 * in HELP text backslash and newline are escaped; in label values backslash, double quote and
 * newline. Values are written as integers where exact, otherwise with 17 significant digits,
 * and the special values as NaN / +Inf / -Inf.
 */
#include "app/mfmt.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void mfmt_init(mfmt *m)
{
    memset(m, 0, sizeof *m);
}

void mfmt_free(mfmt *m)
{
    free(m->buf);
    memset(m, 0, sizeof *m);
}

char *mfmt_take(mfmt *m, size_t *len)
{
    char *out = m->oom ? NULL : m->buf;
    if (len) *len = out ? m->len : 0;
    if (!out) free(m->buf);
    memset(m, 0, sizeof *m);
    return out;
}

static bool reserve(mfmt *m, size_t extra)
{
    if (m->oom) return false;
    if (m->len + extra + 1 <= m->cap) return true;
    size_t cap = m->cap ? m->cap : 4096;
    while (cap < m->len + extra + 1)
        cap *= 2;
    char *nb = realloc(m->buf, cap);
    if (!nb) {
        m->oom = true;
        return false;
    }
    m->buf = nb;
    m->cap = cap;
    return true;
}

static void put(mfmt *m, const char *s, size_t n)
{
    if (!reserve(m, n)) return;
    memcpy(m->buf + m->len, s, n);
    m->len += n;
    m->buf[m->len] = 0;
}

static void puts_(mfmt *m, const char *s)
{
    put(m, s, strlen(s));
}

static void putf(mfmt *m, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void putf(mfmt *m, const char *fmt, ...)
{
    char tmp[64];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n > 0) put(m, tmp, (size_t)n < sizeof tmp ? (size_t)n : sizeof tmp - 1);
}

/* quote_too: label values escape '"' as well; HELP text does not. */
static void put_escaped(mfmt *m, const char *s, bool quote_too)
{
    for (; *s; s++) {
        if (*s == '\\')
            puts_(m, "\\\\");
        else if (*s == '\n')
            puts_(m, "\\n");
        else if (quote_too && *s == '"')
            puts_(m, "\\\"");
        else
            put(m, s, 1);
    }
}

static bool name_char(char c, bool first, bool colon_ok)
{
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_') return true;
    if (colon_ok && c == ':') return true;
    return !first && c >= '0' && c <= '9';
}

static bool valid_name(const char *s, bool colon_ok)
{
    if (!s || !*s) return false;
    for (size_t i = 0; s[i]; i++)
        if (!name_char(s[i], i == 0, colon_ok)) return false;
    return true;
}

bool mfmt_valid_metric_name(const char *s)
{
    return valid_name(s, true);
}

bool mfmt_valid_label_name(const char *s)
{
    /* Names starting with "__" are reserved for Prometheus itself. */
    return valid_name(s, false) && strncmp(s, "__", 2) != 0;
}

void mfmt_family(mfmt *m, const char *name, const char *type, const char *help)
{
    static const char *const types[] = {"counter", "gauge", "summary", "histogram", "untyped"};
    bool type_ok = false;
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++)
        if (type && strcmp(type, types[i]) == 0) type_ok = true;
    if (!mfmt_valid_metric_name(name) || !type_ok) {
        m->bad++;
        return;
    }
    if (help) {
        puts_(m, "# HELP ");
        puts_(m, name);
        puts_(m, " ");
        put_escaped(m, help, false);
        puts_(m, "\n");
    }
    puts_(m, "# TYPE ");
    puts_(m, name);
    puts_(m, " ");
    puts_(m, type);
    puts_(m, "\n");
}

static bool sample_head(mfmt *m, const char *name, const char *suffix, const mfmt_label *labels,
                        unsigned nlabels)
{
    if (!mfmt_valid_metric_name(name) || nlabels > MFMT_MAX_LABELS ||
        (suffix && *suffix && !valid_name(suffix, true))) {
        m->bad++;
        return false;
    }
    for (unsigned i = 0; i < nlabels; i++) {
        if (!mfmt_valid_label_name(labels[i].name) || !labels[i].value) {
            m->bad++;
            return false;
        }
    }
    puts_(m, name);
    if (suffix) puts_(m, suffix);
    if (nlabels) {
        puts_(m, "{");
        for (unsigned i = 0; i < nlabels; i++) {
            if (i) puts_(m, ",");
            puts_(m, labels[i].name);
            puts_(m, "=\"");
            put_escaped(m, labels[i].value, true);
            puts_(m, "\"");
        }
        puts_(m, "}");
    }
    puts_(m, " ");
    return true;
}

void mfmt_sample(mfmt *m, const char *name, const char *suffix, const mfmt_label *labels,
                 unsigned nlabels, double value)
{
    if (!sample_head(m, name, suffix, labels, nlabels)) return;
    if (isnan(value))
        puts_(m, "NaN");
    else if (isinf(value))
        puts_(m, value > 0 ? "+Inf" : "-Inf");
    else if (value == floor(value) && fabs(value) < 9007199254740992.0)
        putf(m, "%.0f", value);
    else
        putf(m, "%.17g", value);
    puts_(m, "\n");
}

void mfmt_sample_u64(mfmt *m, const char *name, const char *suffix, const mfmt_label *labels,
                     unsigned nlabels, uint64_t value)
{
    if (!sample_head(m, name, suffix, labels, nlabels)) return;
    putf(m, "%llu\n", (unsigned long long)value);
}

void mfmt_single(mfmt *m, const char *name, const char *type, const char *help, uint64_t value)
{
    mfmt_family(m, name, type, help);
    mfmt_sample_u64(m, name, NULL, NULL, 0, value);
}
