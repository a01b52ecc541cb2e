/* The open Options dialogs (see opts_state.h). */
#include "router/opts_state.h"

#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "comfy/decl.h"
#include "util/util_dec.h"
#include "util/util_str.h"

typedef struct sess {
    uint64_t sid, user_id, job_id, app_id;
    uint64_t last_ms;
    char token[OPTS_STATE_TOKEN_MAX + 1];
    cjob *base; /* NULL while the runner looks the result up */
    /* The negative prompt is the declaration's "negative_prompt" option (a patch, kept in the
     * job's patches) rather than the mapping's parameter (the job's negative_prompt). */
    bool neg_patch;
    opts_dialog_view v;
} sess;

struct opts_state {
    pthread_mutex_t mu;
    unsigned cap;
    uint64_t ttl_ms;
    sess **slots; /* allocated on first use: an idle bot keeps no dialog memory */
};

opts_state *opts_state_new(unsigned capacity, uint64_t ttl_ms)
{
    opts_state *st = calloc(1, sizeof *st);
    if (!st) return NULL;
    st->cap = capacity ? capacity : 256;
    st->ttl_ms = ttl_ms ? ttl_ms : OPTS_STATE_TTL_MS;
    st->slots = calloc(st->cap, sizeof *st->slots);
    if (!st->slots) {
        free(st);
        return NULL;
    }
    pthread_mutex_init(&st->mu, NULL);
    return st;
}

static void sess_free(sess *s)
{
    if (!s) return;
    cjob_free(s->base);
    free(s);
}

void opts_state_free(opts_state *st)
{
    if (!st) return;
    for (unsigned i = 0; i < st->cap; i++)
        sess_free(st->slots[i]);
    free(st->slots);
    pthread_mutex_destroy(&st->mu);
    free(st);
}

unsigned opts_state_count(opts_state *st)
{
    unsigned n = 0;
    pthread_mutex_lock(&st->mu);
    for (unsigned i = 0; i < st->cap; i++)
        n += st->slots[i] != NULL;
    pthread_mutex_unlock(&st->mu);
    return n;
}

static bool expired(const opts_state *st, const sess *s, uint64_t now_ms)
{
    return now_ms > s->last_ms && now_ms - s->last_ms > st->ttl_ms;
}

/* The live dialog sid (expired ones are freed on the way); NULL when gone. */
static sess *find(opts_state *st, uint64_t sid, uint64_t now_ms)
{
    for (unsigned i = 0; i < st->cap; i++) {
        sess *s = st->slots[i];
        if (!s || s->sid != sid) continue;
        if (expired(st, s, now_ms)) {
            sess_free(s);
            st->slots[i] = NULL;
            return NULL;
        }
        return s;
    }
    return NULL;
}

static uint64_t new_sid(opts_state *st)
{
    for (;;) {
        uint64_t v = 0;
        if (getrandom(&v, sizeof v, 0) != (ssize_t)sizeof v) {
            struct timespec ts;
            clock_gettime(CLOCK_MONOTONIC, &ts);
            v = ((uint64_t)ts.tv_nsec << 20) ^ (uint64_t)ts.tv_sec ^ (uint64_t)(uintptr_t)&v;
            v *= 0x9E3779B97F4A7C15ULL;
        }
        bool used = v == 0;
        for (unsigned i = 0; !used && i < st->cap; i++)
            used = st->slots[i] && st->slots[i]->sid == v;
        if (!used) return v;
    }
}

uint64_t opts_state_open(opts_state *st, uint64_t user_id, uint64_t job_id, uint64_t app_id,
                         const char *token, uint64_t now_ms)
{
    sess *s = calloc(1, sizeof *s);
    if (!s) abort();
    s->user_id = user_id;
    s->job_id = job_id;
    s->app_id = app_id;
    s->last_ms = now_ms;
    snprintf(s->token, sizeof s->token, "%s", token ? token : "");
    pthread_mutex_lock(&st->mu);
    s->sid = new_sid(st);
    /* a free slot, else an expired dialog's, else the least recently used one's */
    unsigned pick = st->cap, lru = 0;
    for (unsigned i = 0; i < st->cap && pick == st->cap; i++) {
        sess *o = st->slots[i];
        if (!o || expired(st, o, now_ms))
            pick = i;
        else if (o->last_ms < st->slots[lru]->last_ms)
            lru = i;
    }
    if (pick == st->cap) pick = lru;
    sess_free(st->slots[pick]);
    st->slots[pick] = s;
    uint64_t sid = s->sid;
    pthread_mutex_unlock(&st->mu);
    return sid;
}

/* The command as declared now; a job read back from the results table has only its name. */
static const decl_command *decl_of(const cjob_catalog *cat, const cjob *j)
{
    const decl_command *d = cat ? decl_set_find(cat->decls, j->command) : NULL;
    return d ? d : j->decl;
}

/* The declaration's own negative prompt: a text option named negative_prompt that patches the
 * workflow (the shipped /video's), or NULL. */
static const decl_option *negative_option(const decl_command *d)
{
    const decl_option *o = d ? decl_find_option(d, OPTS_STATE_NEGATIVE_OPTION) : NULL;
    return o && o->param == DECL_P_NONE && o->type == DECL_STRING ? o : NULL;
}

/* Index of the job's patch of option name, or -1. */
static int patch_index(const cjob *j, const char *name)
{
    for (unsigned i = 0; i < j->npatches; i++)
        if (strcmp(j->patches[i].option, name) == 0) return (int)i;
    return -1;
}

opts_state_status opts_state_attach(opts_state *st, uint64_t sid, cjob *job,
                                    const cjob_catalog *cat, uint64_t now_ms,
                                    opts_dialog_view *view, uint64_t *app_id,
                                    char token[OPTS_STATE_TOKEN_MAX + 1])
{
    pthread_mutex_lock(&st->mu);
    sess *s = find(st, sid, now_ms);
    if (!s || s->base) {
        pthread_mutex_unlock(&st->mu);
        cjob_free(job);
        return OPTS_STATE_GONE;
    }
    s->base = job;
    s->last_ms = now_ms;
    opts_dialog_view *v = &s->v;
    memset(v, 0, sizeof *v);
    v->sid = s->sid;
    v->job_id = s->job_id;
    v->kind = job->kind;
    const decl_command *d = decl_of(cat, job);
    const wf_workflow *wf = d ? d->wf : NULL;
    v->resolution_offered = wf && job->kind != COMFY_KIND_UPSCALE && wf_has_param(wf, WF_P_WIDTH);
    snprintf(v->resolution, sizeof v->resolution, "%s", job->resolution);
    if (wf && wf->lora_mode != WF_LORA_NONE && job->kind != COMFY_KIND_UPSCALE)
        v->lora_cap = wf->lora_max < OPTS_DIALOG_LORAS_MAX ? wf->lora_max : OPTS_DIALOG_LORAS_MAX;
    for (unsigned i = 0; i < job->nloras && v->nloras < v->lora_cap; i++) {
        snprintf(v->lora_name[v->nloras], sizeof v->lora_name[0], "%s", job->lora_name[i]);
        v->lora_strength[v->nloras++] = job->lora_strength[i];
    }
    v->prompt_offered = wf && job->kind != COMFY_KIND_REDUX && wf_has_param(wf, WF_P_PROMPT);
    snprintf(v->prompt, sizeof v->prompt, "%s", job->user_prompt ? job->user_prompt : "");
    /* the declared option first: its patch is applied after the mapping's parameters */
    s->neg_patch = wf && negative_option(d);
    v->negative_offered = wf && (wf_has_param(wf, WF_P_NEGATIVE) || s->neg_patch);
    const char *neg = job->negative_prompt;
    if (s->neg_patch) {
        int at = patch_index(job, OPTS_STATE_NEGATIVE_OPTION);
        neg = at >= 0 && job->patches[at].is_str ? job->patches[at].str : NULL;
    }
    snprintf(v->negative, sizeof v->negative, "%s", neg ? neg : "");
    /* the result's own seed: a changed LoRA or size is then compared on the same noise */
    v->has_seed = true;
    v->seed = job->seed;
    *view = *v;
    *app_id = s->app_id;
    snprintf(token, OPTS_STATE_TOKEN_MAX + 1, "%s", s->token);
    pthread_mutex_unlock(&st->mu);
    return OPTS_STATE_OK;
}

bool opts_state_drop(opts_state *st, uint64_t sid, uint64_t *app_id,
                     char token[OPTS_STATE_TOKEN_MAX + 1])
{
    bool found = false;
    pthread_mutex_lock(&st->mu);
    for (unsigned i = 0; i < st->cap; i++) {
        sess *s = st->slots[i];
        if (!s || s->sid != sid) continue;
        *app_id = s->app_id;
        snprintf(token, OPTS_STATE_TOKEN_MAX + 1, "%s", s->token);
        sess_free(s);
        st->slots[i] = NULL;
        found = true;
        break;
    }
    pthread_mutex_unlock(&st->mu);
    return found;
}

/* ---- changes ---------------------------------------------------------------------------- */

static opts_state_status refuse(opts_dialog_view *out, const opts_dialog_view *cur, const char *fmt,
                                ...) __attribute__((format(printf, 3, 4)));

static opts_state_status refuse(opts_dialog_view *out, const opts_dialog_view *cur, const char *fmt,
                                ...)
{
    *out = *cur;
    va_list ap;
    va_start(ap, fmt);
    char text[sizeof out->note - 8];
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    snprintf(out->note, sizeof out->note, "\xe2\x9a\xa0\xef\xb8\x8f %s", text); /* ⚠️ */
    return OPTS_STATE_REFUSED;
}

static bool blank(const char *s)
{
    for (; s && *s; s++)
        if (*s != ' ' && *s != '\t' && *s != '\n' && *s != '\r') return false;
    return true;
}

static int lora_index(const opts_dialog_view *v, const char *name)
{
    for (unsigned i = 0; i < v->nloras; i++)
        if (strcmp(v->lora_name[i], name) == 0) return (int)i;
    return -1;
}

/* Position of name in the catalogue, or -1. */
static int catalogue_index(const loras_set *loras, const char *name)
{
    const loras_entry *e = loras_find(loras, name);
    return e ? (int)(e - loras->items) : -1;
}

static opts_state_status pick_loras(const opts_state_input *in, const loras_set *loras,
                                    opts_dialog_view *v, opts_dialog_view *out)
{
    unsigned pages = opts_dialog_pages(loras);
    if (!v->lora_cap) return refuse(out, v, "This result's workflow takes no LoRAs.");
    if (!loras || in->page >= pages) {
        v->page = 0;
        return refuse(out, v, "The LoRA list has changed; here is its first page again.");
    }
    unsigned first = in->page * OPTS_DIALOG_PAGE_SIZE, last = first + OPTS_DIALOG_PAGE_SIZE;
    opts_dialog_view next = *v;
    next.note[0] = '\0';
    next.nloras = 0;
    /* kept: the LoRAs chosen on other pages (and any no longer in the list) */
    for (unsigned i = 0; i < v->nloras; i++) {
        int at = catalogue_index(loras, v->lora_name[i]);
        if (at >= (int)first && at < (int)last) continue;
        snprintf(next.lora_name[next.nloras], sizeof next.lora_name[0], "%s", v->lora_name[i]);
        next.lora_strength[next.nloras++] = v->lora_strength[i];
    }
    unsigned elsewhere = next.nloras;
    for (unsigned k = 0; k < in->nvalues; k++) {
        int at = in->values[k] ? catalogue_index(loras, in->values[k]) : -1;
        if (at < (int)first || at >= (int)last) {
            v->page = in->page;
            return refuse(out, v, "The LoRA list has changed; pick again from this page.");
        }
        const loras_entry *e = &loras->items[at];
        if (lora_index(&next, e->name) >= 0) continue; /* named twice */
        if (next.nloras == v->lora_cap) {
            v->page = in->page;
            return refuse(out, v,
                          "At most %u LoRAs: %u %s chosen on other pages. Remove one there "
                          "first (Previous/Next).",
                          v->lora_cap, elsewhere, elsewhere == 1 ? "is" : "are");
        }
        int was = lora_index(v, e->name);
        snprintf(next.lora_name[next.nloras], sizeof next.lora_name[0], "%s", e->name);
        /* a LoRA kept keeps its strength; a new one starts at its loras.json weight */
        next.lora_strength[next.nloras++] = was >= 0 ? v->lora_strength[was] : e->weight;
    }
    next.page = in->page;
    *v = next;
    *out = next;
    return OPTS_STATE_OK;
}

static opts_state_status set_texts(const opts_state_input *in, opts_dialog_view *v,
                                   opts_dialog_view *out)
{
    opts_dialog_view next = *v;
    next.note[0] = '\0';
    if (v->prompt_offered && in->prompt) {
        if (blank(in->prompt)) return refuse(out, v, "The prompt cannot be empty.");
        if (strlen(in->prompt) >= sizeof next.prompt)
            return refuse(out, v, "The prompt is too long (the limit is %d bytes).",
                          CJOB_PROMPT_MAX_BYTES);
        snprintf(next.prompt, sizeof next.prompt, "%s", in->prompt);
    }
    if (v->negative_offered && in->negative) {
        if (strlen(in->negative) >= sizeof next.negative)
            return refuse(out, v, "The negative prompt is too long (the limit is %d bytes).",
                          CJOB_PROMPT_MAX_BYTES);
        snprintf(next.negative, sizeof next.negative, "%s",
                 blank(in->negative) ? "" : in->negative);
    }
    const char *seed = in->seed ? in->seed : "";
    while (*seed == ' ')
        seed++;
    size_t n = strlen(seed);
    while (n && seed[n - 1] == ' ')
        n--;
    if (n == 0) {
        next.has_seed = false;
    } else {
        uint64_t s;
        if (strspn(seed, "0123456789") < n || util_dec_u64(seed, n, &s) != UTIL_DEC_OK ||
            s > CJOB_MAX_SEED)
            return refuse(out, v,
                          "The seed must be a whole number from 0 to %" PRIu64
                          ", or empty for a new random one.",
                          (uint64_t)CJOB_MAX_SEED);
        next.has_seed = true;
        next.seed = s;
    }
    *v = next;
    *out = next;
    return OPTS_STATE_OK;
}

static opts_state_status set_strengths(const opts_state_input *in, opts_dialog_view *v,
                                       opts_dialog_view *out)
{
    opts_dialog_view next = *v;
    next.note[0] = '\0';
    for (unsigned i = 0; i < v->nloras; i++) {
        const char *t = in->strength[i];
        if (!t) continue; /* a field the modal did not have: unchanged */
        char *end = NULL;
        double d = strtod(t, &end);
        while (end && *end == ' ')
            end++;
        if (!end || end == t || *end || !isfinite(d) || d < OPTS_DIALOG_STRENGTH_MIN ||
            d > OPTS_DIALOG_STRENGTH_MAX)
            return refuse(out, v, "The strength of %s must be a number from %.1f to %.1f.",
                          v->lora_name[i], OPTS_DIALOG_STRENGTH_MIN, OPTS_DIALOG_STRENGTH_MAX);
        next.lora_strength[i] = d;
    }
    *v = next;
    *out = next;
    return OPTS_STATE_OK;
}

/* The live, loaded dialog of user (status otherwise), its use extending its life. */
static opts_state_status use(opts_state *st, uint64_t sid, uint64_t user_id, uint64_t now_ms,
                             sess **out)
{
    sess *s = find(st, sid, now_ms);
    if (!s) return OPTS_STATE_GONE;
    if (s->user_id != user_id) return OPTS_STATE_WRONG_USER;
    if (!s->base) return OPTS_STATE_LOADING;
    s->last_ms = now_ms;
    *out = s;
    return OPTS_STATE_OK;
}

opts_state_status opts_state_apply(opts_state *st, const opts_state_input *in,
                                   const cjob_catalog *cat, uint64_t now_ms, opts_dialog_view *view)
{
    pthread_mutex_lock(&st->mu);
    sess *s = NULL;
    opts_state_status rc = use(st, in->sid, in->user_id, now_ms, &s);
    if (rc != OPTS_STATE_OK) {
        pthread_mutex_unlock(&st->mu);
        return rc;
    }
    opts_dialog_view *v = &s->v;
    const loras_set *loras = cat ? cat->loras : NULL; /* one load: SIGHUP may swap it */
    const ratios_set *ratios = cat ? cat->ratios : NULL;
    switch (in->verb) {
    case OPTS_DIALOG_V_RESOLUTION: {
        const char *label = in->nvalues == 1 ? in->values[0] : NULL;
        const ratios_entry *r = label ? ratios_find(ratios, label) : NULL;
        if (!v->resolution_offered)
            rc = refuse(view, v, "This result's workflow sets its own size.");
        else if (!r)
            rc = refuse(view, v, "That resolution is no longer offered; pick another.");
        else {
            snprintf(v->resolution, sizeof v->resolution, "%s", r->label);
            v->note[0] = '\0';
            *view = *v;
        }
        break;
    }
    case OPTS_DIALOG_V_LORAS:
        rc = pick_loras(in, loras, v, view);
        break;
    case OPTS_DIALOG_V_PREV:
    case OPTS_DIALOG_V_NEXT: {
        unsigned pages = opts_dialog_pages(loras);
        v->page = in->page < pages ? in->page : pages - 1;
        v->note[0] = '\0';
        *view = *v;
        break;
    }
    case OPTS_DIALOG_V_MODAL: {
        /* A declared negative prompt is held to its option's limits, as in the command. */
        char err[200];
        comfy_patch p = {.is_str = true, .str = (char *)in->negative};
        snprintf(p.option, sizeof p.option, "%s", OPTS_STATE_NEGATIVE_OPTION);
        const decl_command *d = s->neg_patch ? decl_of(cat, s->base) : NULL;
        if (d && v->negative_offered && in->negative && !blank(in->negative) &&
            decl_check_patch(d, &p, err, sizeof err) != 0)
            rc = refuse(view, v, "%s", err);
        else
            rc = set_texts(in, v, view);
        break;
    }
    case OPTS_DIALOG_V_SMODAL:
        rc = set_strengths(in, v, view);
        break;
    default:
        *view = *v;
        break;
    }
    pthread_mutex_unlock(&st->mu);
    return rc;
}

opts_state_status opts_state_job(opts_state *st, uint64_t sid, uint64_t user_id,
                                 const cjob_catalog *cat, const comfy_reply_ref *reply,
                                 const comfy_origin *origin, uint64_t random_seed, uint64_t now_ms,
                                 cjob **out, opts_dialog_view *view)
{
    *out = NULL;
    pthread_mutex_lock(&st->mu);
    sess *s = NULL;
    opts_state_status rc = use(st, sid, user_id, now_ms, &s);
    if (rc != OPTS_STATE_OK) {
        pthread_mutex_unlock(&st->mu);
        return rc;
    }
    const opts_dialog_view *v = &s->v;
    const cjob *base = s->base;
    const loras_set *loras = cat ? cat->loras : NULL;
    const ratios_set *ratios = cat ? cat->ratios : NULL;
    const ratios_entry *r = NULL;
    if (v->resolution_offered && strcmp(v->resolution, base->resolution) != 0) {
        r = ratios_find(ratios, v->resolution);
        if (!r) {
            rc = refuse(view, v, "The resolution %s is no longer offered; pick another.",
                        v->resolution);
            pthread_mutex_unlock(&st->mu);
            return rc;
        }
    }
    const loras_entry *les[OPTS_DIALOG_LORAS_MAX];
    for (unsigned i = 0; i < v->nloras; i++) {
        les[i] = loras_find(loras, v->lora_name[i]);
        if (!les[i]) {
            rc = refuse(view, v, "The LoRA %s is no longer offered; remove it first.",
                        v->lora_name[i]);
            pthread_mutex_unlock(&st->mu);
            return rc;
        }
    }
    cjob *j = cjob_clone(base, 0, reply, origin); /* source_job_id: the result's */
    if (r) {
        j->width = r->width;
        j->height = r->height;
        snprintf(j->resolution, sizeof j->resolution, "%s", r->label);
    }
    j->nloras = v->nloras;
    for (unsigned i = 0; i < v->nloras; i++) {
        snprintf(j->lora_name[i], sizeof j->lora_name[i], "%s", les[i]->name);
        snprintf(j->lora_file[i], sizeof j->lora_file[i], "%s", les[i]->file);
        j->lora_strength[i] = v->lora_strength[i];
    }
    if (v->prompt_offered) {
        free(j->user_prompt);
        j->user_prompt = util_strdup(v->prompt);
    }
    free(j->prompt);
    j->prompt = loras_apply_triggers(j->user_prompt ? j->user_prompt : "", les, v->nloras);
    /* built from the prompt as typed: an enhancement of the result is not this job's (the
     * router has it enhanced again when the result's command asked for it) */
    cjob_enhance_reset(j);
    if (v->negative_offered && s->neg_patch) {
        /* the declared option's value replaces the result's (none: the workflow's own text) */
        int at = patch_index(j, OPTS_STATE_NEGATIVE_OPTION);
        if (at >= 0) {
            comfy_patches_free(&j->patches[at], 1);
            memmove(&j->patches[at], &j->patches[at + 1],
                    (j->npatches - (unsigned)at - 1) * sizeof j->patches[0]);
            j->npatches--;
        }
        if (v->negative[0] && j->npatches < COMFY_MAX_PATCHES) {
            comfy_patch *p = &j->patches[j->npatches++];
            memset(p, 0, sizeof *p);
            snprintf(p->option, sizeof p->option, "%s", OPTS_STATE_NEGATIVE_OPTION);
            p->is_str = true;
            p->str = util_strdup(v->negative);
        }
    } else if (v->negative_offered) {
        free(j->negative_prompt);
        j->negative_prompt = v->negative[0] ? util_strdup(v->negative) : NULL;
    }
    j->seed = v->has_seed ? v->seed : (random_seed & CJOB_MAX_SEED);
    *view = *v;
    *out = j;
    pthread_mutex_unlock(&st->mu);
    return OPTS_STATE_OK;
}
