/* Pending /reset_stats confirmations keyed by button nonces (see an_confirm.h). */
#include "analytics/an_confirm.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

typedef struct entry {
    bool used;
    uint64_t nonce;
    an_confirm_ticket t;
} entry;

struct an_confirm {
    pthread_mutex_t mu;
    size_t capacity;
    int64_t ttl_ms;
    uint64_t counter;
    uint64_t key; /* random, so nonces are not guessable from the counter */
    entry *entries;
};

an_confirm *an_confirm_new(size_t capacity, int64_t ttl_ms)
{
    an_confirm *c = calloc(1, sizeof *c);
    if (!c) abort();
    c->capacity = capacity ? capacity : 1;
    c->ttl_ms = ttl_ms > 0 ? ttl_ms : AN_CONFIRM_TTL_MS;
    c->entries = calloc(c->capacity, sizeof *c->entries);
    if (!c->entries) abort();
    if (getrandom(&c->key, sizeof c->key, 0) != (ssize_t)sizeof c->key) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        c->key = (uint64_t)ts.tv_nsec * 0x9E3779B97F4A7C15ULL ^ (uint64_t)ts.tv_sec;
    }
    pthread_mutex_init(&c->mu, NULL);
    return c;
}

void an_confirm_free(an_confirm *c)
{
    if (!c) return;
    pthread_mutex_destroy(&c->mu);
    free(c->entries);
    free(c);
}

/* A bijective mix (splitmix64 finaliser) of counter ^ key: distinct, unpredictable nonces. */
static uint64_t mix(uint64_t x)
{
    x ^= x >> 30;
    x *= 0xBF58476D1CE4E5B9ULL;
    x ^= x >> 27;
    x *= 0x94D049BB133111EBULL;
    x ^= x >> 31;
    return x;
}

static bool expired(const an_confirm *c, const entry *e, int64_t now_ms)
{
    return now_ms - e->t.created_ms >= c->ttl_ms;
}

void an_confirm_create(an_confirm *c, uint64_t user_id, uint64_t guild_id, uint64_t interaction_id,
                       int64_t now_ms, char confirm_id[AN_CONFIRM_ID_MAX],
                       char cancel_id[AN_CONFIRM_ID_MAX])
{
    pthread_mutex_lock(&c->mu);
    entry *slot = NULL, *oldest = NULL;
    for (size_t i = 0; i < c->capacity; i++) {
        entry *e = &c->entries[i];
        if (e->used && expired(c, e, now_ms)) e->used = false;
        if (!e->used && !slot) slot = e;
        if (e->used && (!oldest || e->t.created_ms < oldest->t.created_ms)) oldest = e;
    }
    if (!slot) slot = oldest;
    slot->used = true;
    slot->nonce = mix(++c->counter ^ c->key);
    slot->t = (an_confirm_ticket){.user_id = user_id,
                                  .guild_id = guild_id,
                                  .interaction_id = interaction_id,
                                  .created_ms = now_ms};
    uint64_t nonce = slot->nonce;
    pthread_mutex_unlock(&c->mu);
    snprintf(confirm_id, AN_CONFIRM_ID_MAX, AN_CONFIRM_PREFIX "confirm:%016" PRIx64, nonce);
    snprintf(cancel_id, AN_CONFIRM_ID_MAX, AN_CONFIRM_PREFIX "cancel:%016" PRIx64, nonce);
}

bool an_confirm_owns(const char *custom_id)
{
    return custom_id && strncmp(custom_id, AN_CONFIRM_PREFIX, strlen(AN_CONFIRM_PREFIX)) == 0;
}

/* Parses "rs:confirm:<16 hex>" / "rs:cancel:<16 hex>". */
static bool parse_id(const char *id, bool *is_confirm, uint64_t *nonce)
{
    if (!an_confirm_owns(id)) return false;
    id += strlen(AN_CONFIRM_PREFIX);
    if (strncmp(id, "confirm:", 8) == 0) {
        *is_confirm = true;
        id += 8;
    } else if (strncmp(id, "cancel:", 7) == 0) {
        *is_confirm = false;
        id += 7;
    } else {
        return false;
    }
    if (strlen(id) != 16) return false;
    uint64_t v = 0;
    for (int i = 0; i < 16; i++) {
        char ch = id[i];
        unsigned d;
        if (ch >= '0' && ch <= '9')
            d = (unsigned)(ch - '0');
        else if (ch >= 'a' && ch <= 'f')
            d = (unsigned)(ch - 'a' + 10);
        else
            return false;
        v = v << 4 | d;
    }
    *nonce = v;
    return true;
}

an_confirm_result an_confirm_resolve(an_confirm *c, const char *custom_id, uint64_t user_id,
                                     int64_t now_ms, an_confirm_ticket *out)
{
    bool is_confirm;
    uint64_t nonce;
    if (!parse_id(custom_id, &is_confirm, &nonce)) return AN_CONFIRM_UNKNOWN;
    an_confirm_result res = AN_CONFIRM_UNKNOWN;
    pthread_mutex_lock(&c->mu);
    for (size_t i = 0; i < c->capacity; i++) {
        entry *e = &c->entries[i];
        if (!e->used || e->nonce != nonce) continue;
        if (out) *out = e->t;
        if (e->t.user_id != user_id) {
            res = AN_CONFIRM_WRONG_USER;
        } else {
            res = expired(c, e, now_ms) ? AN_CONFIRM_EXPIRED
                  : is_confirm          ? AN_CONFIRM_OK
                                        : AN_CONFIRM_CANCELLED;
            e->used = false;
        }
        break;
    }
    pthread_mutex_unlock(&c->mu);
    return res;
}

size_t an_confirm_pending(an_confirm *c)
{
    pthread_mutex_lock(&c->mu);
    size_t n = 0;
    for (size_t i = 0; i < c->capacity; i++)
        n += c->entries[i].used;
    pthread_mutex_unlock(&c->mu);
    return n;
}
