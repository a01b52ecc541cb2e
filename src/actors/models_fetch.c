/* The model-list fetcher (see models_fetch.h). */
#include "actors/models_fetch.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "actors/comfy_http.h"
#include "comfy/decl.h"
#include "fluxbot/log.h"
#include "fluxbot/runtime.h"

#define LOGN "models"
#define MAX_URLS 16

static const char *const kinds[MODELS_KINDS] = {"checkpoint", "unet", "lora",
                                                "vae",        "clip", "upscale_model"};

struct models_fetch {
    models_cache *cache;
    char urls[MAX_URLS][512];
    unsigned nurls;
    uint64_t refresh_ms, timeout_ms;
    comfy_http *(*http_new)(void);
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool stop, poke;
    unsigned rounds;
};

static bool stop_asked(void *arg);

static void round_once(models_fetch *f, comfy_http *http)
{
    for (int k = 0; k < MODELS_KINDS; k++) {
        const char *cls;
        decl_object_info_field(kinds[k], &cls, NULL);
        for (unsigned s = 0; s < f->nurls; s++) {
            char url[640];
            snprintf(url, sizeof url, "%s/object_info/%s", f->urls[s], cls);
            comfy_http_res res;
            int rc = comfy_http_get(http, url, MODELS_ANSWER_MAX, (long)f->timeout_ms, &res);
            bool done = false, cut = res.cancelled;
            if (rc == 0 && res.status == 200) {
                char err[160];
                int n = models_update(f->cache, (const char *)res.body, res.len, rt_wall_ms(), err,
                                      sizeof err);
                if (n < 0) LOG_WARN(LOGN, "server %u: /object_info/%s: %s", s + 1, cls, err);
                done = n > 0;
            }
            comfy_http_res_free(&res);
            /* stopping: the other classes and servers are not asked (each would open a
             * connection only for the hook to cut it) */
            if (cut || stop_asked(f)) return;
            if (done) break; /* a server that knows the class answered */
        }
    }
}

/* The cancel hook of the thread's requests: a stop cuts the request in flight within about a
 * second (and each one left in the round at once), instead of waiting timeout_ms for every
 * class and server a stalled ComfyUI leaves unanswered. */
static bool stop_asked(void *arg)
{
    models_fetch *f = arg;
    pthread_mutex_lock(&f->mu);
    bool stop = f->stop;
    pthread_mutex_unlock(&f->mu);
    return stop;
}

/* The thread's handle, made on first need and again after a failure. NULL when it cannot be
 * made now (logged once until one is made again). */
static comfy_http *ensure_http(models_fetch *f, comfy_http **http, bool *logged)
{
    if (*http) return *http;
    *http = f->http_new();
    if (!*http) {
        if (!*logged)
            LOG_ERROR(LOGN, "no HTTP handle (out of memory?): model lists are not refreshed "
                            "this round; the next one tries again");
        *logged = true;
        return NULL;
    }
    *logged = false;
    comfy_http_set_connect_timeout(*http, 3000);
    comfy_http_set_cancel(*http, stop_asked, f);
    return *http;
}

static void *run(void *arg)
{
    models_fetch *f = arg;
    comfy_http *http = NULL;
    bool logged = false;
    pthread_mutex_lock(&f->mu);
    while (!f->stop) {
        pthread_mutex_unlock(&f->mu);
        bool ran = ensure_http(f, &http, &logged) != NULL;
        if (ran) round_once(f, http);
        pthread_mutex_lock(&f->mu);
        if (ran && !f->stop) f->rounds++;
        unsigned n = 0;
        for (int k = 0; k < MODELS_KINDS; k++)
            n += models_count(f->cache, kinds[k], NULL);
        LOG_DEBUG(LOGN, "model lists refreshed: %u names", n);
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_sec += (time_t)(f->refresh_ms / 1000);
        until.tv_nsec += (long)(f->refresh_ms % 1000) * 1000000L;
        if (until.tv_nsec >= 1000000000L) {
            until.tv_sec++;
            until.tv_nsec -= 1000000000L;
        }
        while (!f->stop && !f->poke)
            if (pthread_cond_timedwait(&f->cv, &f->mu, &until) != 0) break;
        f->poke = false;
    }
    pthread_mutex_unlock(&f->mu);
    comfy_http_free(http);
    return NULL;
}

models_fetch *models_fetch_start(const models_fetch_config *cfg, char *err, size_t errlen)
{
    if (!cfg || !cfg->cache) {
        snprintf(err, errlen, "models: no cache");
        return NULL;
    }
    models_fetch *f = calloc(1, sizeof *f);
    if (!f) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    f->cache = cfg->cache;
    for (unsigned i = 0; i < cfg->nurls && f->nurls < MAX_URLS; i++) {
        snprintf(f->urls[f->nurls], sizeof f->urls[0], "%s", cfg->urls[i]);
        size_t len = strlen(f->urls[f->nurls]);
        while (len && f->urls[f->nurls][len - 1] == '/')
            f->urls[f->nurls][--len] = '\0';
        f->nurls++;
    }
    f->refresh_ms = cfg->refresh_ms ? cfg->refresh_ms : 300000;
    f->timeout_ms = cfg->timeout_ms ? cfg->timeout_ms : 10000;
    f->http_new = cfg->http_new ? cfg->http_new : comfy_http_new;
    pthread_mutex_init(&f->mu, NULL);
    pthread_cond_init(&f->cv, NULL);
    comfy_http_global_init();
    int rc = pthread_create(&f->thread, NULL, run, f);
    if (rc != 0) {
        snprintf(err, errlen, "models: thread: %s", strerror(rc));
        pthread_cond_destroy(&f->cv);
        pthread_mutex_destroy(&f->mu);
        free(f);
        return NULL;
    }
    return f;
}

void models_fetch_poke(models_fetch *f)
{
    if (!f) return;
    pthread_mutex_lock(&f->mu);
    f->poke = true;
    pthread_cond_signal(&f->cv);
    pthread_mutex_unlock(&f->mu);
}

unsigned models_fetch_rounds(models_fetch *f)
{
    pthread_mutex_lock(&f->mu);
    unsigned n = f->rounds;
    pthread_mutex_unlock(&f->mu);
    return n;
}

void models_fetch_cancel(models_fetch *f)
{
    if (!f) return;
    pthread_mutex_lock(&f->mu);
    f->stop = true;
    pthread_cond_signal(&f->cv);
    pthread_mutex_unlock(&f->mu);
}

void models_fetch_stop(models_fetch *f)
{
    if (!f) return;
    models_fetch_cancel(f);
    pthread_join(f->thread, NULL);
    pthread_cond_destroy(&f->cv);
    pthread_mutex_destroy(&f->mu);
    free(f);
}
