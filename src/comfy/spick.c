/* Least-busy server choice and health backoff (see spick.h). */
#include "comfy/spick.h"

#include <string.h>

void spick_init(spick_server *s)
{
    memset(s, 0, sizeof *s);
    s->queue_remaining = -1;
}

uint64_t spick_load(const spick_server *s)
{
    uint64_t others = 0;
    if (s->queue_remaining > 0 && (uint64_t)s->queue_remaining > s->submitted)
        others = (uint64_t)s->queue_remaining - s->submitted;
    return (uint64_t)s->assigned + others;
}

int spick_choose(const spick_server *s, unsigned n, int exclude, bool allow_excluded,
                 unsigned rotate)
{
    int best = -1;
    for (unsigned k = 0; k < n; k++) {
        unsigned i = (k + rotate) % n;
        if (!s[i].up || (int)i == exclude) continue;
        if (best < 0) {
            best = (int)i;
            continue;
        }
        uint64_t li = spick_load(&s[i]), lb = spick_load(&s[best]);
        if (li < lb || (li == lb && s[i].assigned < s[best].assigned)) best = (int)i;
    }
    if (best < 0 && allow_excluded && exclude >= 0 && (unsigned)exclude < n && s[exclude].up)
        best = exclude;
    return best;
}

uint64_t spick_backoff_ms(uint32_t failures, double jitter01)
{
    uint64_t base = 1000;
    for (uint32_t i = 1; i < failures && base < 15000; i++)
        base *= 2;
    if (base > 15000) base = 15000;
    if (jitter01 < 0) jitter01 = 0;
    if (jitter01 >= 1) jitter01 = 0.999;
    double f = 0.8 + 0.4 * jitter01;
    return (uint64_t)((double)base * f);
}

uint64_t spick_mark_down(spick_server *s, uint64_t now_ms, double jitter01)
{
    if (s->up || s->down_since_ms == 0) s->down_since_ms = now_ms ? now_ms : 1;
    s->up = false;
    s->failures++;
    uint64_t d = spick_backoff_ms(s->failures, jitter01);
    s->next_retry_ms = now_ms + d;
    s->queue_remaining = -1;
    return d;
}

void spick_mark_up(spick_server *s)
{
    s->up = true;
    s->failures = 0;
    s->next_retry_ms = 0;
    s->down_since_ms = 0;
}
