/* SIGHUP watcher for the LoRA and resolution lists (see reload.h). */
#include "app/reload.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fluxbot/log.h"

#define LOGN "reload"

struct reload_watcher {
    reload_config cfg;
    char ratios_file[512], loras_file[512];
    ratios_set ratios; /* the lists in use (last applied, or the start's) */
    loras_set loras;
    pthread_t thread;
    pthread_mutex_t lock; /* one reload at a time (signal thread vs reload_now) */
    struct sigaction old;
    atomic_uint count;
};

/* The write end of the self-pipe, for the async-signal-safe handler. */
static int g_pipe[2] = {-1, -1};

static void on_sighup(int sig)
{
    (void)sig;
    int saved = errno;
    char c = 'H';
    if (g_pipe[1] >= 0) {
        ssize_t w = write(g_pipe[1], &c, 1);
        (void)w; /* a full pipe already holds a pending reload */
    }
    errno = saved;
}

static bool has_ratio(const ratios_set *s, const char *label)
{
    for (unsigned i = 0; i < s->count; i++)
        if (strcmp(s->items[i].label, label) == 0) return true;
    return false;
}

static bool same_ratio(const ratios_set *s, const ratios_entry *e)
{
    for (unsigned i = 0; i < s->count; i++)
        if (strcmp(s->items[i].label, e->label) == 0)
            return s->items[i].width == e->width && s->items[i].height == e->height;
    return false;
}

static bool has_lora(const loras_set *s, const char *name)
{
    for (unsigned i = 0; i < s->count; i++)
        if (strcmp(s->items[i].name, name) == 0) return true;
    return false;
}

typedef struct sbuf {
    char *p;
    size_t cap, len;
} sbuf;

static void sb_add(sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sb_add(sbuf *b, const char *fmt, ...)
{
    if (b->len + 1 >= b->cap) return;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
    va_end(ap);
    if (n > 0) b->len = b->len + (size_t)n < b->cap ? b->len + (size_t)n : b->cap - 1;
}

/* Lists up to three names of one side of a difference, then "…". */
#define NAMES_SHOWN 3

void reload_describe(const ratios_set *r0, const loras_set *l0, const ratios_set *r1,
                     const loras_set *l1, char *out, size_t cap, bool *labels_changed)
{
    sbuf b = {out, cap, 0};
    if (cap) out[0] = 0;
    unsigned added = 0, removed = 0, resized = 0;
    for (unsigned i = 0; i < r1->count; i++) {
        if (!has_ratio(r0, r1->items[i].label))
            added++;
        else if (!same_ratio(r0, &r1->items[i]))
            resized++;
    }
    for (unsigned i = 0; i < r0->count; i++)
        if (!has_ratio(r1, r0->items[i].label)) removed++;
    bool order = r0->count == r1->count;
    for (unsigned i = 0; order && i < r0->count; i++)
        if (strcmp(r0->items[i].label, r1->items[i].label) != 0) order = false;
    if (labels_changed) *labels_changed = !order;

    sb_add(&b, "resolutions: %u (+%u", r1->count, added);
    unsigned shown = 0;
    for (unsigned i = 0; i < r1->count && shown < NAMES_SHOWN; i++)
        if (!has_ratio(r0, r1->items[i].label))
            sb_add(&b, "%s\"%s\"", shown++ ? ", " : " ", r1->items[i].label);
    if (added > NAMES_SHOWN) sb_add(&b, ", ...");
    sb_add(&b, "; -%u", removed);
    shown = 0;
    for (unsigned i = 0; i < r0->count && shown < NAMES_SHOWN; i++)
        if (!has_ratio(r1, r0->items[i].label))
            sb_add(&b, "%s\"%s\"", shown++ ? ", " : " ", r0->items[i].label);
    if (removed > NAMES_SHOWN) sb_add(&b, ", ...");
    if (resized) sb_add(&b, "; %u resized", resized);
    if (!order && !added && !removed) sb_add(&b, "; reordered");
    sb_add(&b, ")");

    added = removed = 0;
    for (unsigned i = 0; i < l1->count; i++)
        if (!has_lora(l0, l1->items[i].name)) added++;
    for (unsigned i = 0; i < l0->count; i++)
        if (!has_lora(l1, l0->items[i].name)) removed++;
    sb_add(&b, "; LoRAs: %u (+%u", l1->count, added);
    shown = 0;
    for (unsigned i = 0; i < l1->count && shown < NAMES_SHOWN; i++)
        if (!has_lora(l0, l1->items[i].name))
            sb_add(&b, "%s\"%s\"", shown++ ? ", " : " ", l1->items[i].name);
    if (added > NAMES_SHOWN) sb_add(&b, ", ...");
    sb_add(&b, "; -%u", removed);
    shown = 0;
    for (unsigned i = 0; i < l0->count && shown < NAMES_SHOWN; i++)
        if (!has_lora(l1, l0->items[i].name))
            sb_add(&b, "%s\"%s\"", shown++ ? ", " : " ", l0->items[i].name);
    if (removed > NAMES_SHOWN) sb_add(&b, ", ...");
    sb_add(&b, ")");
}

int reload_now(reload_watcher *w, char *summary, size_t cap)
{
    char err[600], diff[900];
    int rc = -1;
    pthread_mutex_lock(&w->lock);
    if (w->cfg.apply_config) {
        char csum[700];
        if (w->cfg.apply_config(w->cfg.config_ctx, csum, sizeof csum) != 0)
            LOG_ERROR(LOGN, "configuration not reloaded, nothing changed: %s", csum);
        else
            LOG_INFO(LOGN, "configuration reloaded: %s", csum);
    }
    if (w->cfg.apply_commands) {
        char csum[900];
        if (w->cfg.apply_commands(w->cfg.commands_ctx, csum, sizeof csum) != 0)
            LOG_ERROR(LOGN, "commands not reloaded, the declared commands in use stay: %s", csum);
        else
            LOG_INFO(LOGN, "commands reloaded: %s", csum);
    }
    ratios_set r1;
    loras_set l1 = {0};
    if (ratios_load_file(&r1, w->ratios_file, err, sizeof err) != 0) {
        snprintf(summary, cap, "reload refused, nothing changed: %s", err);
        LOG_ERROR(LOGN, "%s", summary);
        goto out;
    }
    if (loras_load_file(&l1, w->loras_file, err, sizeof err) != 0) {
        snprintf(summary, cap, "reload refused, nothing changed: %s", err);
        LOG_ERROR(LOGN, "%s", summary);
        goto out;
    }
    bool labels_changed = false;
    reload_describe(&w->ratios, &w->loras, &r1, &l1, diff, sizeof diff, &labels_changed);
    if (!w->cfg.apply) {
        snprintf(summary, cap, "lists are valid (%s); this build applies them at the next restart",
                 diff);
        LOG_WARN(LOGN, "%s", summary);
        loras_free(&l1);
        rc = 0;
        goto out;
    }
    loras_set keep = {0};
    /* The hook takes the LoRA list; keep a copy as the new baseline by reloading it (the
     * file was just validated; a race with an editor is reported like any bad file). */
    if (w->cfg.apply(w->cfg.apply_ctx, &r1, &l1, err, sizeof err) != 0) {
        snprintf(summary, cap, "reload not applied: %s", err);
        LOG_ERROR(LOGN, "%s", summary);
        loras_free(&l1);
        goto out;
    }
    if (loras_load_file(&keep, w->loras_file, err, sizeof err) == 0) {
        loras_free(&w->loras);
        w->loras = keep;
    }
    w->ratios = r1;
    snprintf(summary, cap, "reloaded: %s%s", diff,
             labels_changed ? " (resolution choices changed: commands registered again)" : "");
    LOG_INFO(LOGN, "%s", summary);
    rc = 0;
out:
    pthread_mutex_unlock(&w->lock);
    return rc;
}

static void *watch(void *arg)
{
    reload_watcher *w = arg;
    for (;;) {
        char c;
        ssize_t n = read(g_pipe[0], &c, 1);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0 || c == 'Q') break;
        atomic_fetch_add(&w->count, 1);
        LOG_INFO(LOGN, "SIGHUP: reading %s and %s", w->ratios_file, w->loras_file);
        char summary[1200];
        reload_now(w, summary, sizeof summary);
    }
    return NULL;
}

reload_watcher *reload_start(const reload_config *cfg, char *err, size_t errlen)
{
    if (g_pipe[0] >= 0) {
        snprintf(err, errlen, "a reload watcher is already running");
        return NULL;
    }
    reload_watcher *w = calloc(1, sizeof *w);
    if (!w) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    w->cfg = *cfg;
    snprintf(w->ratios_file, sizeof w->ratios_file, "%s", cfg->ratios_file ? cfg->ratios_file : "");
    snprintf(w->loras_file, sizeof w->loras_file, "%s", cfg->loras_file ? cfg->loras_file : "");
    if (ratios_load_file(&w->ratios, w->ratios_file, err, errlen) != 0 ||
        loras_load_file(&w->loras, w->loras_file, err, errlen) != 0) {
        loras_free(&w->loras);
        free(w);
        return NULL;
    }
    pthread_mutex_init(&w->lock, NULL);
    if (pipe2(g_pipe, O_CLOEXEC) != 0) {
        snprintf(err, errlen, "reload pipe: %s", strerror(errno));
        goto fail;
    }
    /* The write end never blocks the handler. */
    fcntl(g_pipe[1], F_SETFL, fcntl(g_pipe[1], F_GETFL) | O_NONBLOCK);
    int rc = pthread_create(&w->thread, NULL, watch, w);
    if (rc != 0) {
        snprintf(err, errlen, "reload thread: %s", strerror(rc));
        goto fail;
    }
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_sighup;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART;
    sigaction(SIGHUP, &sa, &w->old);
    return w;
fail:
    for (int i = 0; i < 2; i++) {
        if (g_pipe[i] >= 0) close(g_pipe[i]);
        g_pipe[i] = -1;
    }
    pthread_mutex_destroy(&w->lock);
    loras_free(&w->loras);
    free(w);
    return NULL;
}

void reload_stop(reload_watcher *w)
{
    if (!w) return;
    sigaction(SIGHUP, &w->old, NULL);
    char q = 'Q';
    ssize_t n;
    do {
        n = write(g_pipe[1], &q, 1);
        if (n < 0 && errno == EAGAIN) usleep(1000); /* a pipe full of SIGHUPs: let it drain */
    } while (n < 0 && (errno == EINTR || errno == EAGAIN));
    pthread_join(w->thread, NULL);
    for (int i = 0; i < 2; i++) {
        close(g_pipe[i]);
        g_pipe[i] = -1;
    }
    pthread_mutex_destroy(&w->lock);
    loras_free(&w->loras);
    free(w);
}

unsigned reload_count(const reload_watcher *w)
{
    return atomic_load(&((reload_watcher *)w)->count);
}
