/*
 * rest_order: the message a REST request writes to (see rest_order.h). Owned by the REST layer;
 * used by the discord_rest actor to serialise writes per message.
 */
#include "discord/rest_order.h"

#include <string.h>

/* Number of '/'-separated segments of p (without a leading '/'), up to the query. */
static unsigned segments(const char *p, size_t len, const char **seg, size_t *seglen, unsigned max)
{
    unsigned n = 0;
    size_t i = 0;
    while (i < len && n < max) {
        if (p[i] == '/') i++;
        size_t s = i;
        while (i < len && p[i] != '/')
            i++;
        seg[n] = p + s;
        seglen[n] = i - s;
        n++;
    }
    return i < len ? max + 1 : n;
}

static bool seg_is(const char *s, size_t n, const char *word)
{
    return strlen(word) == n && memcmp(s, word, n) == 0;
}

bool rest_order_target(const char *method, const char *path, char *out, size_t cap)
{
    if (!method || !path || path[0] != '/') return false;
    if (strcmp(method, "PATCH") != 0 && strcmp(method, "DELETE") != 0) return false;
    size_t len = strcspn(path, "?");
    const char *seg[6];
    size_t sl[6];
    unsigned n = segments(path + 1, len - 1, seg, sl, 5);
    bool webhook = n == 5 && seg_is(seg[0], sl[0], "webhooks") && sl[1] && sl[2] &&
                   seg_is(seg[3], sl[3], "messages") && sl[4];
    bool channel = n == 4 && seg_is(seg[0], sl[0], "channels") && sl[1] &&
                   seg_is(seg[2], sl[2], "messages") && sl[3];
    if (!webhook && !channel) return false;
    if (len + 1 > cap) return false;
    memcpy(out, path, len);
    out[len] = '\0';
    return true;
}
