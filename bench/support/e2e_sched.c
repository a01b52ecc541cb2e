/* Open-loop schedule, PRNG and mix parsing (see e2e_sched.h). */
#include "e2e_sched.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void e2e_sched_init(e2e_sched *s, uint64_t t0_ns, double rate, double seconds)
{
    s->t0_ns = t0_ns;
    double p = rate > 0 ? 1e9 / rate : 1e9;
    s->period_ns = p < 1 ? 1 : (uint64_t)p;
    double c = rate * seconds;
    s->count = c < 1 ? 1 : (uint64_t)c;
}

uint64_t e2e_sched_due(const e2e_sched *s, uint64_t i)
{
    return s->t0_ns + i * s->period_ns;
}

uint64_t e2e_sched_due_by(const e2e_sched *s, uint64_t now_ns)
{
    if (now_ns < s->t0_ns) return 0;
    uint64_t n = (now_ns - s->t0_ns) / s->period_ns + 1;
    return n > s->count ? s->count : n;
}

uint64_t e2e_rand(uint64_t *state)
{
    uint64_t x = *state ? *state : 0x9E3779B97F4A7C15ull;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *state = x;
    return x * 0x2545F4914F6CDD1Dull;
}

int e2e_pick(const unsigned *weights, unsigned n, uint64_t *state)
{
    uint64_t total = 0;
    for (unsigned i = 0; i < n; i++)
        total += weights[i];
    if (total == 0) return -1;
    uint64_t r = e2e_rand(state) % total;
    for (unsigned i = 0; i < n; i++) {
        if (r < weights[i]) return (int)i;
        r -= weights[i];
    }
    return (int)n - 1; /* unreachable */
}

int e2e_mix_parse(const char *spec, const char *const *names, unsigned n, unsigned *weights,
                  char *err, unsigned errlen)
{
    memset(weights, 0, n * sizeof *weights);
    const char *p = spec;
    bool any = false;
    while (p && *p) {
        const char *end = strchr(p, ',');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        const char *eq = memchr(p, '=', len);
        int found = -1;
        size_t nl = eq ? (size_t)(eq - p) : len;
        for (unsigned i = 0; i < n; i++)
            if (strlen(names[i]) == nl && strncmp(names[i], p, nl) == 0) found = (int)i;
        char *num_end = NULL;
        long w = eq ? strtol(eq + 1, &num_end, 10) : -1;
        if (found < 0 || !eq || num_end != p + len || w < 0 || w > 1000000) {
            snprintf(err, errlen, "bad mix item \"%.*s\" (want name=weight, names:", (int)len, p);
            for (unsigned i = 0; i < n; i++) {
                size_t used = strlen(err);
                snprintf(err + used, errlen - used, " %s", names[i]);
            }
            size_t used = strlen(err);
            snprintf(err + used, errlen - used, ")");
            return -1;
        }
        weights[found] = (unsigned)w;
        if (w > 0) any = true;
        p = end ? end + 1 : NULL;
    }
    if (!any) {
        snprintf(err, errlen, "the mix has no positive weight");
        return -1;
    }
    return 0;
}
