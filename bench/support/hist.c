/* Log-linear histogram: bucket = (highest set bit, next 4 bits). */
#include "hist.h"

#include <string.h>

void hist_init(hist *h)
{
    memset(h, 0, sizeof *h);
    h->min = UINT64_MAX;
}

static void index_of(uint64_t v, unsigned *p, unsigned *s)
{
    if (v < HIST_SUB) {
        *p = 0;
        *s = (unsigned)v;
        return;
    }
    unsigned msb = 63u - (unsigned)__builtin_clzll(v);
    unsigned pow = msb - 3; /* 16..31 → pow 1 */
    if (pow >= HIST_POW) pow = HIST_POW - 1;
    *p = pow;
    *s = (unsigned)(v >> (msb - 4)) & (HIST_SUB - 1);
}

static uint64_t upper_of(unsigned p, unsigned s)
{
    if (p == 0) return s;
    unsigned msb = p + 3;
    return ((uint64_t)(HIST_SUB + s + 1) << (msb - 4)) - 1;
}

void hist_add(hist *h, uint64_t v)
{
    unsigned p, s;
    index_of(v, &p, &s);
    h->counts[p][s]++;
    h->total++;
    h->sum += (double)v;
    if (v > h->max) h->max = v;
    if (v < h->min) h->min = v;
}

uint64_t hist_quantile(const hist *h, double q)
{
    if (!h->total) return 0;
    uint64_t want = (uint64_t)(q * (double)h->total);
    if (want >= h->total) want = h->total - 1;
    uint64_t seen = 0;
    for (unsigned p = 0; p < HIST_POW; p++)
        for (unsigned s = 0; s < HIST_SUB; s++) {
            seen += h->counts[p][s];
            if (seen > want) {
                uint64_t u = upper_of(p, s);
                return u > h->max ? h->max : u;
            }
        }
    return h->max;
}

double hist_mean(const hist *h)
{
    return h->total ? h->sum / (double)h->total : 0;
}
