/* The runner's server table (see comfy_servers.h for who touches it and the lock rule). */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "actors/comfy_servers.h"
#include "comfy/cproto.h"
#include "fluxbot/log.h"
#include "fluxbot/runtime.h"

int comfy_servers_init(comfy_servers *t, const fb_config_list *urls, uint64_t unanswered_ms,
                       char *err, size_t errlen)
{
    memset(t, 0, sizeof *t);
    pthread_mutex_init(&t->mu, NULL);
    t->unanswered_ms = unanswered_ms;
    t->n = urls->count;
    t->v = calloc(t->n ? t->n : 1, sizeof *t->v);
    if (!t->v) abort();
    for (unsigned i = 0; i < t->n; i++) {
        comfy_servers_entry *s = &t->v[i];
        snprintf(s->url, sizeof s->url, "%s", urls->items[i]);
        size_t l = strlen(s->url);
        while (l > 0 && s->url[l - 1] == '/')
            s->url[--l] = '\0';
        char host[256], prefix[256];
        int port;
        bool tls;
        if (cproto_parse_base_url(s->url, host, sizeof host, &port, &tls, prefix, sizeof prefix)) {
            snprintf(err, errlen, "comfy: COMFYUI_URLS entry %u \"%s\" is not an http(s) URL",
                     i + 1, s->url);
            return -1;
        }
        snprintf(s->label, sizeof s->label, "server %u", i + 1);
        spick_init(&s->pick);
    }
    return 0;
}

void comfy_servers_destroy(comfy_servers *t)
{
    free(t->v);
    t->v = NULL;
    pthread_mutex_destroy(&t->mu);
}

/* Copies the pick state; a server that recently left a call unanswered counts as down. */
static void pick_view(const comfy_servers *t, spick_server *tmp, uint64_t now)
{
    for (unsigned i = 0; i < t->n; i++) {
        tmp[i] = t->v[i].pick;
        if (t->v[i].unanswered_until_ms > now) tmp[i].up = false;
    }
}

const char *comfy_servers_url(const comfy_servers *t, unsigned s)
{
    return s < t->n ? t->v[s].url : "";
}

const char *comfy_servers_label(const comfy_servers *t, unsigned s)
{
    return s < t->n ? t->v[s].label : "ComfyUI";
}

bool comfy_servers_any_usable(comfy_servers *t)
{
    pthread_mutex_lock(&t->mu);
    spick_server tmp[FB_CONFIG_MAX_LIST];
    pick_view(t, tmp, rt_now_ms());
    bool any = false;
    for (unsigned i = 0; i < t->n && !any; i++)
        any = tmp[i].up;
    pthread_mutex_unlock(&t->mu);
    return any;
}

void comfy_servers_unanswered(comfy_servers *t, unsigned s)
{
    pthread_mutex_lock(&t->mu);
    t->v[s].unanswered_until_ms = rt_now_ms() + t->unanswered_ms;
    pthread_mutex_unlock(&t->mu);
    LOG_WARN("comfy", "%s did not answer within %" PRIu64 " ms; no new jobs for it for as long",
             t->v[s].label, t->unanswered_ms);
}

int comfy_servers_acquire(comfy_servers *t, int exclude, bool allow_excluded)
{
    pthread_mutex_lock(&t->mu);
    spick_server tmp[FB_CONFIG_MAX_LIST];
    pick_view(t, tmp, rt_now_ms());
    int s = spick_choose(tmp, t->n, exclude, allow_excluded, t->rotate++);
    if (s >= 0) t->v[s].pick.assigned++;
    pthread_mutex_unlock(&t->mu);
    return s;
}

int comfy_servers_find(const comfy_servers *t, const char *url)
{
    for (unsigned i = 0; url && i < t->n; i++)
        if (strcmp(t->v[i].url, url) == 0) return (int)i;
    return -1;
}

void comfy_servers_take(comfy_servers *t, unsigned s)
{
    pthread_mutex_lock(&t->mu);
    t->v[s].pick.assigned++;
    pthread_mutex_unlock(&t->mu);
}

void comfy_servers_submitted(comfy_servers *t, unsigned s, int delta)
{
    pthread_mutex_lock(&t->mu);
    spick_server *p = &t->v[s].pick;
    if (delta > 0)
        p->submitted++;
    else if (p->submitted > 0)
        p->submitted--;
    pthread_mutex_unlock(&t->mu);
}

void comfy_servers_release(comfy_servers *t, unsigned s)
{
    pthread_mutex_lock(&t->mu);
    if (t->v[s].pick.assigned > 0) t->v[s].pick.assigned--;
    pthread_mutex_unlock(&t->mu);
}

bool comfy_servers_up(comfy_servers *t, unsigned s)
{
    pthread_mutex_lock(&t->mu);
    bool up = t->v[s].pick.up;
    pthread_mutex_unlock(&t->mu);
    return up;
}

unsigned comfy_servers_up_count(comfy_servers *t)
{
    unsigned up = 0;
    pthread_mutex_lock(&t->mu);
    for (unsigned i = 0; i < t->n; i++)
        up += t->v[i].pick.up;
    pthread_mutex_unlock(&t->mu);
    return up;
}

void comfy_servers_queue_remaining(comfy_servers *t, unsigned s, int64_t remaining)
{
    if (s >= t->n || remaining < 0) return;
    pthread_mutex_lock(&t->mu);
    t->v[s].pick.queue_remaining = remaining;
    pthread_mutex_unlock(&t->mu);
}

bool comfy_servers_link(comfy_servers *t, unsigned s, bool up)
{
    pthread_mutex_lock(&t->mu);
    spick_server *p = &t->v[s].pick;
    bool was = p->up;
    if (up)
        spick_mark_up(p);
    else if (was || p->down_since_ms == 0)
        spick_mark_down(p, rt_now_ms(), 0.5);
    pthread_mutex_unlock(&t->mu);
    return was;
}

bool comfy_servers_get(comfy_servers *t, unsigned i, comfy_servers_info *out)
{
    if (i >= t->n) return false;
    memset(out, 0, sizeof *out);
    snprintf(out->url, sizeof out->url, "%.*s", (int)sizeof out->url - 1, t->v[i].url);
    pthread_mutex_lock(&t->mu);
    const spick_server *p = &t->v[i].pick;
    out->up = p->up;
    out->jobs = p->assigned;
    out->queue_remaining = p->queue_remaining;
    out->failures = p->failures;
    pthread_mutex_unlock(&t->mu);
    return true;
}
