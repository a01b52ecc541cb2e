/* Job validation and construction (see cjob.h). */
#include "comfy/cjob.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/util_str.h"
#include "util/util_url.h"
#include "util/util_utf8.h"

/* True when s has something other than blanks. */
static bool has_content(const char *s)
{
    if (!s) return false;
    for (; *s; s++)
        if (*s != ' ' && *s != '\t' && *s != '\n' && *s != '\r') return true;
    return false;
}

comfy_kind cjob_kind_of(const decl_command *d)
{
    if (d && d->button) return COMFY_KIND_UPSCALE;
    return d && d->output != DECL_OUT_IMAGE ? COMFY_KIND_VIDEO : COMFY_KIND_IMAGE;
}

static void fmt_mb(char *out, size_t n, uint64_t bytes)
{
    snprintf(out, n, "%.1f MB", (double)bytes / (1024.0 * 1024.0));
}

static bool url_ok(const char *u)
{
    return u && util_url_is_http(u) && strlen(u) < 4096 && !strpbrk(u, " \r\n\t");
}

int cjob_check_options(const comfy_job_msg *m, const cjob_catalog *cat, char *err, size_t errlen)
{
    (void)cat;
    const decl_command *d = m->decl;
    if (!d || d->button || !d->wf) {
        snprintf(err, errlen, "This command is not a generation command of this bot.");
        return -1;
    }
    const wf_workflow *wf = d->wf;
    const decl_option *po = decl_option_for(d, WF_P_PROMPT);
    bool needs_prompt = po && po->required;
    if (m->prompt) {
        size_t pl = strlen(m->prompt);
        if (pl > CJOB_PROMPT_MAX_BYTES) {
            snprintf(err, errlen, "The prompt is too long (%zu bytes; the limit is %d).", pl,
                     CJOB_PROMPT_MAX_BYTES);
            return -1;
        }
        if (!util_utf8_valid(m->prompt, pl, NULL)) {
            snprintf(err, errlen, "The prompt is not valid UTF-8 text.");
            return -1;
        }
    }
    if (needs_prompt && !has_content(m->prompt)) {
        snprintf(err, errlen, "Please give a prompt describing what to generate.");
        return -1;
    }
    if (wf_has_param(wf, WF_P_WIDTH)) {
        if (m->resolution[0] && !(m->width && m->height) &&
            !ratios_find(cat->ratios, m->resolution)) {
            snprintf(err, errlen, "Unknown resolution \"%.100s\". Pick one of the listed choices.",
                     m->resolution);
            return -1;
        }
        if ((m->width || m->height) &&
            (m->width < 64 || m->width > 8192 || m->height < 64 || m->height > 8192)) {
            snprintf(err, errlen, "The size %ux%u is out of range (64..8192 per side).", m->width,
                     m->height);
            return -1;
        }
    }
    uint32_t up = m->upscale_factor ? m->upscale_factor : 1;
    if (up > 4) {
        snprintf(err, errlen, "upscale_factor must be 1, 2, 3 or 4 (got %u).", up);
        return -1;
    }
    if (up > 1 && !wf_has_param(wf, WF_P_UPSCALE)) {
        snprintf(err, errlen, "/%s has no upscaler on this bot; use upscale_factor 1.", d->name);
        return -1;
    }
    if (m->has_seed && m->seed > CJOB_MAX_SEED) {
        snprintf(err, errlen, "seed must be between 0 and %" PRIu64 ".", (uint64_t)CJOB_MAX_SEED);
        return -1;
    }
    if (m->nloras > COMFY_MAX_LORAS) {
        snprintf(err, errlen, "At most %d LoRAs.", COMFY_MAX_LORAS);
        return -1;
    }
    for (unsigned i = 0; i < m->nloras; i++) {
        if (!m->loras[i][0]) continue;
        if (!loras_find(cat->loras, m->loras[i])) {
            snprintf(err, errlen,
                     "Unknown LoRA \"%.100s\". Start typing in the lora option and "
                     "pick one from the list.",
                     m->loras[i]);
            return -1;
        }
        if (wf->lora_mode == WF_LORA_NONE) {
            snprintf(err, errlen, "/%s does not take LoRAs on this bot.", d->name);
            return -1;
        }
        double s = m->lora_strength[i];
        if (m->has_lora_strength[i] &&
            !(s >= CJOB_LORA_STRENGTH_MIN && s <= CJOB_LORA_STRENGTH_MAX)) {
            snprintf(err, errlen, "The strength of LoRA \"%.100s\" must be between %.1f and %.1f.",
                     m->loras[i], CJOB_LORA_STRENGTH_MIN, CJOB_LORA_STRENGTH_MAX);
            return -1;
        }
    }
    for (int i = 0; i < 2; i++) {
        if (!m->has_strength[i]) continue;
        const decl_option *so = decl_option_for(d, i ? WF_P_STRENGTH2 : WF_P_STRENGTH1);
        if (!so) {
            snprintf(err, errlen, "/%s takes no strength%d.", d->name, i + 1);
            return -1;
        }
        if (decl_check_number(so, m->strength[i], err, errlen)) return -1;
    }
    for (unsigned i = 0; i < m->npatches; i++)
        if (decl_check_patch(d, &m->patches[i], err, errlen)) return -1;
    unsigned need = decl_images(d);
    if (m->nimages < need) {
        snprintf(err, errlen, "/%s needs %u image%s.", d->name, need, need == 1 ? "" : "s");
        return -1;
    }
    uint64_t limit = cat->max_attachment_bytes ? cat->max_attachment_bytes : 25u * 1024 * 1024;
    for (unsigned i = 0; i < m->nimages && i < need; i++) {
        const comfy_attachment *a = &m->images[i];
        char what[160];
        snprintf(what, sizeof what, "image%s (%.80s)", need == 1 ? "" : (i == 0 ? "1" : "2"),
                 a->filename ? a->filename : "?");
        if (a->size > limit) {
            char got[32], lim[32];
            fmt_mb(got, sizeof got, a->size);
            fmt_mb(lim, sizeof lim, limit);
            snprintf(err, errlen, "%s is %s; the limit is %s.", what, got, lim);
            return -1;
        }
        /* The declared content type is not checked: it is the sender's claim, and a real PNG
         * declared text/plain is still a PNG. The downloaded bytes decide (imgchk.h). */
        if (!url_ok(a->url)) {
            snprintf(err, errlen, "%s has no usable download URL.", what);
            return -1;
        }
    }
    return 0;
}

cjob *cjob_from_msg(const comfy_job_msg *m, const cjob_catalog *cat, uint64_t job_id,
                    uint64_t random_seed, char *err, size_t errlen)
{
    if (cjob_check_options(m, cat, err, errlen)) return NULL;
    return cjob_resolve(m, cat, job_id, random_seed);
}

cjob *cjob_resolve(const comfy_job_msg *m, const cjob_catalog *cat, uint64_t job_id,
                   uint64_t random_seed)
{
    cjob *j = calloc(1, sizeof *j);
    if (!j) abort();
    j->id = job_id;
    const decl_command *d = m->decl;
    j->kind = cjob_kind_of(d);
    j->decl = d;
    snprintf(j->command, sizeof j->command, "%.32s", d->name);
    snprintf(j->generation_type, sizeof j->generation_type, "%s", d->generation_type);
    const wf_workflow *wf = d->wf;
    j->reply.application_id = m->reply.application_id;
    j->reply.interaction_id = m->reply.interaction_id;
    j->reply.token = util_strdup(m->reply.token ? m->reply.token : "");
    j->origin = m->origin;
    j->user_prompt = util_strdup(m->prompt ? m->prompt : "");
    const ratios_entry *r = NULL;
    if (m->width && m->height) {
        j->width = m->width;
        j->height = m->height;
        snprintf(j->resolution, sizeof j->resolution, "%s", m->resolution);
        if (!j->resolution[0])
            snprintf(j->resolution, sizeof j->resolution, "%ux%u", m->width, m->height);
    } else if (!wf_has_param(wf, WF_P_WIDTH)) {
        /* The workflow renders its own size (a video's latent): the result still carries it. */
        if (wf_template_size(wf, &j->width, &j->height))
            snprintf(j->resolution, sizeof j->resolution, "%ux%u", j->width, j->height);
    } else {
        const ratios_set *ratios = cat->ratios; /* one load: SIGHUP may swap the lists */
        r = m->resolution[0] ? ratios_find(ratios, m->resolution) : ratios_default(ratios);
        if (r) {
            j->width = r->width;
            j->height = r->height;
            snprintf(j->resolution, sizeof j->resolution, "%s", r->label);
        }
    }
    j->seed = m->has_seed ? m->seed : (random_seed & CJOB_MAX_SEED);
    j->upscale = m->upscale_factor ? m->upscale_factor : 1;
    const loras_entry *les[COMFY_MAX_LORAS];
    unsigned from[COMFY_MAX_LORAS]; /* the message's slot of each LoRA kept */
    unsigned n = 0;
    for (unsigned i = 0; i < m->nloras && i < COMFY_MAX_LORAS; i++) {
        const loras_entry *e = m->loras[i][0] ? loras_find(cat->loras, m->loras[i]) : NULL;
        bool dup = false;
        for (unsigned k = 0; k < n; k++)
            if (les[k] == e) dup = true;
        if (e && !dup) {
            from[n] = i;
            les[n++] = e;
        }
    }
    j->nloras = n;
    for (unsigned i = 0; i < n; i++) {
        snprintf(j->lora_name[i], sizeof j->lora_name[i], "%s", les[i]->name);
        snprintf(j->lora_file[i], sizeof j->lora_file[i], "%s", les[i]->file);
        /* the user's strength, else the loras.json weight (capped when several are stacked) */
        j->lora_strength[i] =
            m->has_lora_strength[from[i]] ? m->lora_strength[from[i]] : loras_strength(les[i], n);
    }
    j->prompt = loras_apply_triggers(j->user_prompt, les, n);
    for (int i = 0; i < 2; i++) {
        j->has_strength[i] = m->has_strength[i];
        j->strength[i] = m->strength[i];
    }
    unsigned need = decl_images(d);
    for (unsigned i = 0; i < need; i++) {
        j->images[i].url = util_strdup(m->images[i].url);
        j->images[i].filename =
            util_strdup(m->images[i].filename ? m->images[i].filename : "image");
        j->images[i].content_type = util_strdup(m->images[i].content_type);
        j->images[i].declared_size = m->images[i].size;
    }
    j->nimages = need;
    j->npatches = m->npatches;
    comfy_patches_copy(j->patches, m->patches, m->npatches);
    j->received_wall_ms = m->received_ms;
    j->creativity = m->creativity;
    return j;
}

static void copy_params(cjob *d, const cjob *s)
{
    d->kind = s->kind;
    d->decl = s->decl;
    memcpy(d->command, s->command, sizeof d->command);
    memcpy(d->generation_type, s->generation_type, sizeof d->generation_type);
    d->npatches = s->npatches;
    comfy_patches_copy(d->patches, s->patches, s->npatches);
    d->user_prompt = util_strdup(s->user_prompt ? s->user_prompt : "");
    d->prompt = util_strdup(s->prompt ? s->prompt : "");
    d->negative_prompt = s->negative_prompt ? util_strdup(s->negative_prompt) : NULL;
    memcpy(d->resolution, s->resolution, sizeof d->resolution);
    d->width = s->width;
    d->height = s->height;
    d->seed = s->seed;
    d->upscale = s->upscale;
    d->prior_upscale = s->prior_upscale;
    d->nloras = s->nloras;
    memcpy(d->lora_name, s->lora_name, sizeof d->lora_name);
    memcpy(d->lora_file, s->lora_file, sizeof d->lora_file);
    memcpy(d->lora_strength, s->lora_strength, sizeof d->lora_strength);
    memcpy(d->has_strength, s->has_strength, sizeof d->has_strength);
    memcpy(d->strength, s->strength, sizeof d->strength);
    d->creativity = s->creativity;
    d->enhance = s->enhance;
    d->enhanced_prompt = s->enhanced_prompt ? util_strdup(s->enhanced_prompt) : NULL;
}

static void set_ref(cjob *j, const comfy_reply_ref *reply, const comfy_origin *origin)
{
    if (reply) {
        j->reply.application_id = reply->application_id;
        j->reply.interaction_id = reply->interaction_id;
        j->reply.token = util_strdup(reply->token ? reply->token : "");
    } else {
        j->reply.token = util_strdup("");
    }
    if (origin) j->origin = *origin;
}

cjob *cjob_clone(const cjob *src, uint64_t new_id, const comfy_reply_ref *reply,
                 const comfy_origin *origin)
{
    cjob *j = calloc(1, sizeof *j);
    if (!j) abort();
    j->id = new_id;
    copy_params(j, src);
    set_ref(j, reply ? reply : &src->reply, origin ? origin : &src->origin);
    j->nimages = src->nimages;
    for (unsigned i = 0; i < src->nimages; i++) {
        j->images[i].url = util_strdup(src->images[i].url);
        j->images[i].filename = util_strdup(src->images[i].filename);
        j->images[i].content_type = util_strdup(src->images[i].content_type);
        j->images[i].declared_size = src->images[i].declared_size;
    }
    j->source_job_id = src->id;
    return j;
}

cjob *cjob_new_upscale(const cjob *src, const decl_command *up, uint64_t new_id, uint32_t factor,
                       const char *image_url, const comfy_reply_ref *reply,
                       const comfy_origin *origin)
{
    cjob *j = calloc(1, sizeof *j);
    if (!j) abort();
    j->id = new_id;
    copy_params(j, src);
    j->kind = COMFY_KIND_UPSCALE;
    j->decl = up;
    snprintf(j->command, sizeof j->command, "%.32s", up ? up->name : "upscale");
    snprintf(j->generation_type, sizeof j->generation_type, "%s",
             up ? up->generation_type : "upscale");
    /* The source's own options patched the source's workflow, not the upscaler's. */
    comfy_patches_free(j->patches, j->npatches);
    j->npatches = 0;
    /* The label and its size stay the source's, so the result is counted under the label the
     * user picked; the factor applied so far carries over (a x2 of a x2 result is x4). */
    j->prior_upscale = cjob_total_upscale(src);
    j->upscale = factor;
    j->nloras = 0;
    j->has_strength[0] = j->has_strength[1] = false;
    /* an upscale runs on the image, not on a prompt */
    cjob_enhance_reset(j);
    j->creativity = 0;
    set_ref(j, reply, origin);
    j->nimages = 1;
    j->images[0].url = util_strdup(image_url ? image_url : "");
    j->images[0].filename = util_strdup("result.png");
    j->source_job_id = src->id;
    return j;
}

static const char *const enhance_names[CJOB_ENH_COUNT] = {"none",  "ok",       "off", "timeout",
                                                          "error", "filtered", "busy"};

const char *cjob_enhance_name(cjob_enhance e)
{
    return (unsigned)e < CJOB_ENH_COUNT ? enhance_names[e] : "?";
}

void cjob_enhance_apply(cjob *j, const char *text)
{
    /* resolution built prompt as user_prompt + ", trigger words": keep that tail */
    const char *up = j->user_prompt ? j->user_prompt : "";
    const char *p = j->prompt ? j->prompt : "";
    size_t ul = strlen(up);
    const char *tail = *up && strncmp(p, up, ul) == 0 ? p + ul : "";
    size_t n = strlen(text) + strlen(tail) + 1;
    char *np = malloc(n);
    if (!np) abort();
    snprintf(np, n, "%s%s", text, tail);
    free(j->prompt);
    j->prompt = np;
    free(j->enhanced_prompt);
    j->enhanced_prompt = util_strdup(text);
    j->enhance = CJOB_ENH_OK;
}

/* Undoes cjob_enhance_apply: the prompt as typed, with the same trigger-word tail. */
static void restore_typed(cjob *j)
{
    const char *e = j->enhanced_prompt, *p = j->prompt ? j->prompt : "";
    if (!e || strncmp(p, e, strlen(e)) != 0) return;
    const char *tail = p + strlen(e);
    const char *up = j->user_prompt ? j->user_prompt : "";
    size_t n = strlen(up) + strlen(tail) + 1;
    char *np = malloc(n);
    if (!np) abort();
    snprintf(np, n, "%s%s", up, tail);
    free(j->prompt);
    j->prompt = np;
}

void cjob_enhance_fail(cjob *j, cjob_enhance why)
{
    if (j->enhance == CJOB_ENH_OK) restore_typed(j);
    free(j->enhanced_prompt);
    j->enhanced_prompt = NULL;
    j->enhance = why == CJOB_ENH_OK ? CJOB_ENH_ERROR : why;
}

void cjob_enhance_reset(cjob *j)
{
    if (j->enhance == CJOB_ENH_OK) restore_typed(j);
    free(j->enhanced_prompt);
    j->enhanced_prompt = NULL;
    j->enhance = CJOB_ENH_NONE;
}

void cjob_free(cjob *j)
{
    if (!j) return;
    free(j->reply.token);
    free(j->user_prompt);
    free(j->prompt);
    free(j->negative_prompt);
    free(j->enhanced_prompt);
    for (unsigned i = 0; i < COMFY_MAX_IMAGES; i++) {
        free(j->images[i].url);
        free(j->images[i].filename);
        free(j->images[i].content_type);
        free(j->images[i].data);
    }
    comfy_patches_free(j->patches, j->npatches);
    free(j);
}

const char *cjob_generation_type(const cjob *j)
{
    return j->generation_type[0] ? j->generation_type : "standard";
}

void cjob_values(const cjob *j, const char *const uploaded[COMFY_MAX_IMAGES],
                 const char *filename_prefix, wf_values *v)
{
    memset(v, 0, sizeof *v);
    /* An upscale runs on a finished image: the source's prompt and size are not its own. */
    v->prompt = j->kind == COMFY_KIND_UPSCALE || !j->prompt || !*j->prompt ? NULL : j->prompt;
    v->negative_prompt = j->kind == COMFY_KIND_UPSCALE ? NULL : j->negative_prompt;
    v->has_seed = j->kind != COMFY_KIND_UPSCALE;
    v->seed = j->seed;
    if (j->kind != COMFY_KIND_UPSCALE) {
        v->width = j->width;
        v->height = j->height;
    }
    v->upscale_factor = j->upscale;
    for (int i = 0; i < 2; i++) {
        v->has_strength[i] = j->has_strength[i];
        v->strength[i] = j->strength[i];
        v->image[i] = uploaded ? uploaded[i] : NULL;
    }
    v->filename_prefix = filename_prefix;
    v->nloras = j->nloras;
    for (unsigned i = 0; i < j->nloras; i++) {
        v->lora_file[i] = j->lora_file[i];
        v->lora_strength[i] = j->lora_strength[i];
    }
}

void cjob_lora_list(const cjob *j, char *out, size_t outlen)
{
    if (!outlen) return;
    out[0] = '\0';
    size_t used = 0;
    for (unsigned i = 0; i < j->nloras; i++) {
        int w = snprintf(out + used, outlen - used, "%s%s (%.2f)", i ? ", " : "", j->lora_name[i],
                         j->lora_strength[i]);
        if (w < 0 || (size_t)w >= outlen - used) break;
        used += (size_t)w;
    }
}

char *cjob_lora_json(const cjob *j)
{
    cJSON *arr = cJSON_CreateArray();
    for (unsigned i = 0; arr && i < j->nloras; i++)
        cJSON_AddItemToArray(arr, cJSON_CreateString(j->lora_name[i]));
    char *out = arr ? cJSON_PrintUnformatted(arr) : NULL;
    cJSON_Delete(arr);
    if (!out) abort();
    return out;
}

unsigned cjob_user_texts(const cjob *j, const char *out[CJOB_TEXTS_MAX])
{
    unsigned n = 0;
    const char *fixed[3] = {j->user_prompt, j->negative_prompt,
                            j->enhance == CJOB_ENH_OK ? j->enhanced_prompt : NULL};
    for (unsigned i = 0; i < 3; i++)
        if (fixed[i] && *fixed[i]) out[n++] = fixed[i];
    for (unsigned i = 0; i < j->npatches && i < COMFY_MAX_PATCHES; i++)
        if (j->patches[i].is_str && j->patches[i].str && *j->patches[i].str)
            out[n++] = j->patches[i].str;
    return n;
}

uint32_t cjob_total_upscale(const cjob *j)
{
    uint32_t prior = j->prior_upscale ? j->prior_upscale : 1;
    uint32_t own = j->upscale ? j->upscale : 1;
    return prior * own;
}

void cjob_output_size(const cjob *j, uint32_t *width, uint32_t *height)
{
    uint32_t f = cjob_total_upscale(j);
    *width = j->width && j->height ? j->width * f : 0;
    *height = j->width && j->height ? j->height * f : 0;
}

/* ---- persistence (the results table) ------------------------------------------------------ */

static void add_u64(cJSON *o, const char *k, uint64_t v)
{
    char buf[24];
    snprintf(buf, sizeof buf, "%" PRIu64, v);
    cJSON_AddStringToObject(o, k, buf); /* as text: doubles cannot hold every uint64 */
}

char *cjob_to_json(const cjob *j)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "v", 1);
    cJSON_AddNumberToObject(o, "kind", j->kind);
    cJSON_AddStringToObject(o, "command", j->command);
    cJSON_AddStringToObject(o, "generation_type", j->generation_type);
    cJSON *pa = cJSON_AddArrayToObject(o, "patches");
    for (unsigned i = 0; i < j->npatches && i < COMFY_MAX_PATCHES; i++) {
        cJSON *x = cJSON_CreateObject();
        cJSON_AddStringToObject(x, "option", j->patches[i].option);
        if (j->patches[i].is_str)
            cJSON_AddStringToObject(x, "value", j->patches[i].str ? j->patches[i].str : "");
        else
            cJSON_AddNumberToObject(x, "value", j->patches[i].num);
        cJSON_AddItemToArray(pa, x);
    }
    cJSON_AddStringToObject(o, "user_prompt", j->user_prompt ? j->user_prompt : "");
    cJSON_AddStringToObject(o, "prompt", j->prompt ? j->prompt : "");
    if (j->negative_prompt) cJSON_AddStringToObject(o, "negative_prompt", j->negative_prompt);
    if (j->creativity) cJSON_AddNumberToObject(o, "creativity", j->creativity);
    if (j->enhance != CJOB_ENH_NONE)
        cJSON_AddStringToObject(o, "enhance", cjob_enhance_name(j->enhance));
    if (j->enhanced_prompt) cJSON_AddStringToObject(o, "enhanced_prompt", j->enhanced_prompt);
    cJSON_AddStringToObject(o, "resolution", j->resolution);
    cJSON_AddNumberToObject(o, "width", j->width);
    cJSON_AddNumberToObject(o, "height", j->height);
    add_u64(o, "seed", j->seed);
    cJSON_AddNumberToObject(o, "upscale", j->upscale);
    cJSON_AddNumberToObject(o, "prior_upscale", j->prior_upscale);
    cJSON *loras = cJSON_AddArrayToObject(o, "loras");
    for (unsigned i = 0; i < j->nloras && i < COMFY_MAX_LORAS; i++) {
        cJSON *l = cJSON_CreateObject();
        cJSON_AddStringToObject(l, "name", j->lora_name[i]);
        cJSON_AddStringToObject(l, "file", j->lora_file[i]);
        cJSON_AddNumberToObject(l, "strength", j->lora_strength[i]);
        cJSON_AddItemToArray(loras, l);
    }
    cJSON *st = cJSON_AddArrayToObject(o, "strengths");
    for (int i = 0; i < 2; i++)
        cJSON_AddItemToArray(st, j->has_strength[i] ? cJSON_CreateNumber(j->strength[i])
                                                    : cJSON_CreateNull());
    cJSON *imgs = cJSON_AddArrayToObject(o, "images");
    for (unsigned i = 0; i < j->nimages && i < COMFY_MAX_IMAGES; i++) {
        cJSON *im = cJSON_CreateObject();
        cJSON_AddStringToObject(im, "url", j->images[i].url ? j->images[i].url : "");
        cJSON_AddStringToObject(im, "filename",
                                j->images[i].filename ? j->images[i].filename : "image");
        if (j->images[i].content_type)
            cJSON_AddStringToObject(im, "content_type", j->images[i].content_type);
        add_u64(im, "size", j->images[i].declared_size);
        cJSON_AddItemToArray(imgs, im);
    }
    cJSON *org = cJSON_AddObjectToObject(o, "origin");
    add_u64(org, "user_id", j->origin.user_id);
    add_u64(org, "guild_id", j->origin.guild_id);
    add_u64(org, "channel_id", j->origin.channel_id);
    cJSON_AddStringToObject(org, "user_name", j->origin.user_name);
    add_u64(o, "source_job_id", j->source_job_id);
    char *out = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    if (!out) abort();
    return out;
}

/* The optional enhancement fields of a stored job: each checked (a level 1..10, a known
 * status, a text of at most CJOB_PROMPT_MAX_BYTES only with the status "ok"). */
static bool read_enhance(const cJSON *o, cjob *j, char *err, size_t errlen)
{
    const cJSON *c = cJSON_GetObjectItemCaseSensitive(o, "creativity");
    const cJSON *e = cJSON_GetObjectItemCaseSensitive(o, "enhance");
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(o, "enhanced_prompt");
    if (c) {
        if (!cJSON_IsNumber(c) || c->valuedouble < 1 || c->valuedouble > 10 ||
            c->valuedouble != (double)(int)c->valuedouble) {
            snprintf(err, errlen, "field creativity is not a level 1..10");
            return false;
        }
        j->creativity = (unsigned)c->valuedouble;
    }
    if (e) {
        int k = -1;
        for (int i = 0; cJSON_IsString(e) && i < CJOB_ENH_COUNT; i++)
            if (strcmp(e->valuestring, enhance_names[i]) == 0) k = i;
        if (k < 0) {
            snprintf(err, errlen, "field enhance is not a known status");
            return false;
        }
        j->enhance = (cjob_enhance)k;
    }
    if (t || j->enhance == CJOB_ENH_OK) {
        if (j->enhance != CJOB_ENH_OK || !cJSON_IsString(t) ||
            strlen(t->valuestring) > CJOB_PROMPT_MAX_BYTES ||
            !util_utf8_valid(t->valuestring, strlen(t->valuestring), NULL)) {
            snprintf(err, errlen, "field enhanced_prompt does not go with enhance");
            return false;
        }
        j->enhanced_prompt = util_strdup(t->valuestring);
    }
    return true;
}

/* Field readers: false (with err) when the field is missing or of the wrong type/range. */
static bool get_num(const cJSON *o, const char *k, double lo, double hi, double *out, char *err,
                    size_t errlen)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    if (!cJSON_IsNumber(v) || !(v->valuedouble >= lo && v->valuedouble <= hi)) {
        snprintf(err, errlen, "field %s missing or out of range", k);
        return false;
    }
    *out = v->valuedouble;
    return true;
}

static bool get_str(const cJSON *o, const char *k, size_t max, const char **out, char *err,
                    size_t errlen)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    if (!cJSON_IsString(v) || strlen(v->valuestring) > max) {
        snprintf(err, errlen, "field %s missing or too long", k);
        return false;
    }
    *out = v->valuestring;
    return true;
}

static bool get_u64(const cJSON *o, const char *k, uint64_t *out, char *err, size_t errlen)
{
    const char *s;
    if (!get_str(o, k, 20, &s, err, errlen)) return false;
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (!*s || *end || errno || s[0] == '-') {
        snprintf(err, errlen, "field %s is not a number", k);
        return false;
    }
    *out = v;
    return true;
}

cjob *cjob_from_json(const char *json, uint64_t id, char *err, size_t errlen)
{
    cJSON *o = json ? cJSON_Parse(json) : NULL;
    if (!cJSON_IsObject(o)) {
        snprintf(err, errlen, "not a JSON object");
        cJSON_Delete(o);
        return NULL;
    }
    cjob *j = calloc(1, sizeof *j);
    if (!j) abort();
    j->id = id;
    j->reply.token = util_strdup("");
    double kind, w, h, up, prior;
    const char *up_s, *p_s, *res;
    const cJSON *org = cJSON_GetObjectItemCaseSensitive(o, "origin");
    const cJSON *loras = cJSON_GetObjectItemCaseSensitive(o, "loras");
    const cJSON *imgs = cJSON_GetObjectItemCaseSensitive(o, "images");
    const cJSON *sts = cJSON_GetObjectItemCaseSensitive(o, "strengths");
    bool ok = get_num(o, "kind", 0, COMFY_KIND_COUNT - 1, &kind, err, errlen) &&
              get_str(o, "user_prompt", CJOB_PROMPT_MAX_BYTES, &up_s, err, errlen) &&
              get_str(o, "prompt", 4 * CJOB_PROMPT_MAX_BYTES, &p_s, err, errlen) &&
              get_str(o, "resolution", COMFY_LABEL_MAX, &res, err, errlen) &&
              get_num(o, "width", 0, 65536, &w, err, errlen) &&
              get_num(o, "height", 0, 65536, &h, err, errlen) &&
              get_u64(o, "seed", &j->seed, err, errlen) &&
              get_num(o, "upscale", 0, 64, &up, err, errlen) &&
              get_num(o, "prior_upscale", 0, 4096, &prior, err, errlen) &&
              get_u64(o, "source_job_id", &j->source_job_id, err, errlen) && cJSON_IsObject(org) &&
              get_u64(org, "user_id", &j->origin.user_id, err, errlen) &&
              get_u64(org, "guild_id", &j->origin.guild_id, err, errlen) &&
              get_u64(org, "channel_id", &j->origin.channel_id, err, errlen) &&
              cJSON_IsArray(loras) && cJSON_GetArraySize(loras) <= COMFY_MAX_LORAS &&
              cJSON_IsArray(imgs) && cJSON_GetArraySize(imgs) <= COMFY_MAX_IMAGES &&
              cJSON_IsArray(sts) && cJSON_GetArraySize(sts) == 2;
    if (ok) {
        j->kind = (comfy_kind)kind;
        /* Rows written before declarations named the command by kind; their generation type
         * was the kind's. */
        const char *cmd, *gt;
        static const char *const old_types[COMFY_KIND_COUNT] = {"standard", "redux", "pulid",
                                                                "video", "upscale"};
        if (!cJSON_GetObjectItemCaseSensitive(o, "command"))
            cmd = comfy_kind_name(j->kind);
        else if (!get_str(o, "command", COMFY_CMD_MAX, &cmd, err, errlen))
            ok = false;
        if (!cJSON_GetObjectItemCaseSensitive(o, "generation_type"))
            gt = old_types[j->kind];
        else if (!get_str(o, "generation_type", sizeof j->generation_type - 1, &gt, err, errlen))
            ok = false;
        if (ok) {
            snprintf(j->command, sizeof j->command, "%s", cmd);
            snprintf(j->generation_type, sizeof j->generation_type, "%s", gt);
        }
        const cJSON *pa = cJSON_GetObjectItemCaseSensitive(o, "patches");
        if (pa && (!cJSON_IsArray(pa) || cJSON_GetArraySize(pa) > COMFY_MAX_PATCHES)) {
            snprintf(err, errlen, "field patches is not a list of at most %d", COMFY_MAX_PATCHES);
            ok = false;
        }
        const cJSON *x;
        if (!ok) pa = NULL;
        cJSON_ArrayForEach(x, pa)
        {
            const char *opt;
            const cJSON *v = cJSON_GetObjectItemCaseSensitive(x, "value");
            if (!get_str(x, "option", COMFY_CMD_MAX, &opt, err, errlen) ||
                !(cJSON_IsNumber(v) ||
                  (cJSON_IsString(v) && strlen(v->valuestring) <= CJOB_PROMPT_MAX_BYTES))) {
                if (ok && cJSON_IsString(cJSON_GetObjectItemCaseSensitive(x, "option")))
                    snprintf(err, errlen, "field patches has a bad value");
                ok = false;
                break;
            }
            comfy_patch *p = &j->patches[j->npatches++];
            snprintf(p->option, sizeof p->option, "%s", opt);
            p->is_str = cJSON_IsString(v);
            p->str = p->is_str ? util_strdup(v->valuestring) : NULL;
            p->num = p->is_str ? 0 : v->valuedouble;
        }
        j->user_prompt = util_strdup(up_s);
        j->prompt = util_strdup(p_s);
        /* optional: rows written before the Options dialog have none */
        const cJSON *neg = cJSON_GetObjectItemCaseSensitive(o, "negative_prompt");
        if (cJSON_IsString(neg) && strlen(neg->valuestring) <= CJOB_PROMPT_MAX_BYTES)
            j->negative_prompt = util_strdup(neg->valuestring);
        else if (neg && !cJSON_IsNull(neg)) {
            snprintf(err, errlen, "field negative_prompt is not a string of at most %d bytes",
                     CJOB_PROMPT_MAX_BYTES);
            ok = false;
        }
        /* optional: prompt enhancement (rows without it had none) */
        if (ok && !read_enhance(o, j, err, errlen)) ok = false;
        snprintf(j->resolution, sizeof j->resolution, "%s", res);
        j->width = (uint32_t)w;
        j->height = (uint32_t)h;
        j->upscale = (uint32_t)up;
        j->prior_upscale = (uint32_t)prior;
        j->seed &= CJOB_MAX_SEED;
        const cJSON *un = cJSON_GetObjectItemCaseSensitive(org, "user_name");
        if (cJSON_IsString(un))
            snprintf(j->origin.user_name, sizeof j->origin.user_name, "%s", un->valuestring);
        const cJSON *l;
        cJSON_ArrayForEach(l, loras)
        {
            const char *name, *file;
            double strength;
            ok = ok && get_str(l, "name", LORAS_NAME_MAX, &name, err, errlen) &&
                 get_str(l, "file", LORAS_FILE_MAX, &file, err, errlen) &&
                 get_num(l, "strength", -10, 10, &strength, err, errlen);
            if (!ok) break;
            snprintf(j->lora_name[j->nloras], sizeof j->lora_name[0], "%s", name);
            snprintf(j->lora_file[j->nloras], sizeof j->lora_file[0], "%s", file);
            j->lora_strength[j->nloras++] = strength;
        }
        for (int i = 0; ok && i < 2; i++) {
            const cJSON *v = cJSON_GetArrayItem(sts, i);
            if (cJSON_IsNumber(v) && v->valuedouble >= 0 && v->valuedouble <= 10) {
                j->has_strength[i] = true;
                j->strength[i] = v->valuedouble;
            } else if (!cJSON_IsNull(v)) {
                snprintf(err, errlen, "field strengths is not two numbers or nulls");
                ok = false;
            }
        }
        const cJSON *im;
        cJSON_ArrayForEach(im, imgs)
        {
            const char *url, *fname;
            uint64_t size = 0;
            ok = ok && get_str(im, "url", 4096, &url, err, errlen) &&
                 get_str(im, "filename", 1024, &fname, err, errlen) &&
                 get_u64(im, "size", &size, err, errlen);
            if (!ok) break;
            cjob_image *ci = &j->images[j->nimages++];
            ci->url = util_strdup(url);
            ci->filename = util_strdup(fname);
            const cJSON *ct = cJSON_GetObjectItemCaseSensitive(im, "content_type");
            ci->content_type = cJSON_IsString(ct) && strlen(ct->valuestring) < 256
                                   ? util_strdup(ct->valuestring)
                                   : NULL;
            ci->declared_size = size;
        }
    }
    cJSON_Delete(o);
    if (!ok) {
        cjob_free(j);
        return NULL;
    }
    return j;
}
