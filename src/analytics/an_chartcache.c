/* The last /stats chart, handed out again while exact or lagging by at most max_lag_ms (see
 * an_chartcache.h). */
#include "analytics/an_chartcache.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "analytics/an_chart.h"

struct an_chartcache {
    pthread_mutex_t mu;
    int64_t max_lag_ms;
    /* the kept chart: the numbers it was drawn from, when, and its PNG */
    bool kept;
    an_stats drawn_from; /* only days, bucket_ms, n_series and the series are compared */
    int64_t drawn_ms;
    unsigned char *png;
    size_t len;
    uint64_t drawn, same, lagging;
};

an_chartcache *an_chartcache_new(unsigned max_lag_ms)
{
    an_chartcache *c = calloc(1, sizeof *c);
    if (!c) abort();
    pthread_mutex_init(&c->mu, NULL);
    c->max_lag_ms = max_lag_ms;
    return c;
}

void an_chartcache_free(an_chartcache *c)
{
    if (!c) return;
    free(c->png);
    pthread_mutex_destroy(&c->mu);
    free(c);
}

/* The same buckets: the picture's title, labels and bar positions. */
static bool same_buckets(const an_stats *a, const an_stats *b)
{
    if (a->window.days != b->window.days || a->bucket_ms != b->bucket_ms ||
        a->n_series != b->n_series)
        return false;
    for (unsigned i = 0; i < a->n_series; i++)
        if (a->series[i].start_ms != b->series[i].start_ms) return false;
    return true;
}

static bool same_bars(const an_stats *a, const an_stats *b)
{
    for (unsigned i = 0; i < a->n_series; i++)
        if (a->series[i].images != b->series[i].images ||
            a->series[i].videos != b->series[i].videos ||
            a->series[i].commands != b->series[i].commands)
            return false;
    return true;
}

/* No series' total is smaller in now than in then (nothing left the buckets). */
static bool only_grew(const an_stats *then, const an_stats *now)
{
    uint64_t t[3] = {0}, n[3] = {0};
    for (unsigned i = 0; i < now->n_series; i++) {
        t[0] += then->series[i].images;
        t[1] += then->series[i].videos;
        t[2] += then->series[i].commands;
        n[0] += now->series[i].images;
        n[1] += now->series[i].videos;
        n[2] += now->series[i].commands;
    }
    return n[0] >= t[0] && n[1] >= t[1] && n[2] >= t[2];
}

static void copy_out(const unsigned char *src, size_t len, unsigned char **png, size_t *out_len)
{
    *png = malloc(len ? len : 1);
    if (!*png) abort();
    memcpy(*png, src, len);
    *out_len = len;
}

int an_chartcache_png(an_chartcache *c, const an_stats *s, int64_t now_ms, unsigned char **png,
                      size_t *len, an_chartcache_how *how, char *err, size_t errlen)
{
    *png = NULL;
    *len = 0;
    pthread_mutex_lock(&c->mu);
    if (c->kept && same_buckets(&c->drawn_from, s) && now_ms >= c->drawn_ms) {
        an_chartcache_how h = AN_CHARTCACHE_DRAWN;
        if (same_bars(&c->drawn_from, s))
            h = AN_CHARTCACHE_SAME;
        else if (c->max_lag_ms > 0 && now_ms - c->drawn_ms <= c->max_lag_ms &&
                 only_grew(&c->drawn_from, s))
            h = AN_CHARTCACHE_LAGGING;
        if (h != AN_CHARTCACHE_DRAWN) {
            if (h == AN_CHARTCACHE_SAME)
                c->same++;
            else
                c->lagging++;
            copy_out(c->png, c->len, png, len);
            pthread_mutex_unlock(&c->mu);
            if (how) *how = h;
            return 0;
        }
    }
    pthread_mutex_unlock(&c->mu);

    /* Drawn without the lock: another thread may hand out the kept chart meanwhile. */
    unsigned char *fresh;
    size_t flen;
    if (an_chart_png(s, &fresh, &flen, err, errlen) != 0) return -1;
    pthread_mutex_lock(&c->mu);
    c->drawn++;
    /* Kept unless a chart of a later moment was kept meanwhile. */
    if (!c->kept || now_ms >= c->drawn_ms) {
        unsigned char *keep = malloc(flen ? flen : 1);
        if (!keep) abort();
        memcpy(keep, fresh, flen);
        free(c->png);
        c->png = keep;
        c->len = flen;
        c->drawn_from = *s;
        c->drawn_ms = now_ms;
        c->kept = true;
    }
    pthread_mutex_unlock(&c->mu);
    *png = fresh;
    *len = flen;
    if (how) *how = AN_CHARTCACHE_DRAWN;
    return 0;
}

void an_chartcache_counts(an_chartcache *c, uint64_t *drawn, uint64_t *same, uint64_t *lagging)
{
    pthread_mutex_lock(&c->mu);
    *drawn = c->drawn;
    *same = c->same;
    *lagging = c->lagging;
    pthread_mutex_unlock(&c->mu);
}
