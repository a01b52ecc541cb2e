/* Constructors and destructors of the runner messages (see comfy.h). */
#include "msgs/comfy.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "comfy/cjob.h"
#include "util/util_str.h"

static void job_dtor(rt_msg *m)
{
    comfy_job_msg *j = (comfy_job_msg *)m;
    free(j->reply.token);
    free(j->prompt);
    for (unsigned i = 0; i < j->nimages; i++) {
        free(j->images[i].url);
        free(j->images[i].filename);
        free(j->images[i].content_type);
    }
    comfy_patches_free(j->patches, j->npatches);
}

comfy_job_msg *comfy_job_msg_new(comfy_kind kind, uint64_t application_id, uint64_t interaction_id,
                                 const char *token)
{
    comfy_job_msg *m = RT_MSG_NEW(comfy_job_msg, MSG_COMFY_JOB, job_dtor);
    m->kind = kind;
    m->reply.application_id = application_id;
    m->reply.interaction_id = interaction_id;
    m->reply.token = util_strdup(token ? token : "");
    m->upscale_factor = 1;
    return m;
}

void comfy_job_set_prompt(comfy_job_msg *m, const char *prompt)
{
    free(m->prompt);
    m->prompt = util_strdup(prompt);
}

int comfy_job_add_image(comfy_job_msg *m, uint64_t id, const char *url, const char *filename,
                        const char *content_type, uint64_t size)
{
    if (m->nimages >= COMFY_MAX_IMAGES) return -1;
    comfy_attachment *a = &m->images[m->nimages++];
    a->id = id;
    a->url = util_strdup(url ? url : "");
    a->filename = util_strdup(filename ? filename : "image");
    a->content_type = util_strdup(content_type);
    a->size = size;
    return 0;
}

int comfy_job_add_lora(comfy_job_msg *m, const char *name)
{
    if (m->nloras >= COMFY_MAX_LORAS || !name) return -1;
    snprintf(m->loras[m->nloras++], sizeof m->loras[0], "%s", name);
    return 0;
}

int comfy_job_add_patch(comfy_job_msg *m, const char *option, const char *str, double num)
{
    if (m->npatches >= COMFY_MAX_PATCHES || !option) return -1;
    comfy_patch *p = &m->patches[m->npatches++];
    snprintf(p->option, sizeof p->option, "%s", option);
    p->is_str = str != NULL;
    p->str = str ? util_strdup(str) : NULL;
    p->num = num;
    return 0;
}

void comfy_patches_copy(comfy_patch *dst, const comfy_patch *src, unsigned n)
{
    for (unsigned i = 0; i < n; i++) {
        dst[i] = src[i];
        dst[i].str = src[i].str ? util_strdup(src[i].str) : NULL;
    }
}

void comfy_patches_free(comfy_patch *p, unsigned n)
{
    for (unsigned i = 0; i < n; i++) {
        free(p[i].str);
        p[i].str = NULL;
    }
}

static void button_dtor(rt_msg *m)
{
    comfy_button_msg *b = (comfy_button_msg *)m;
    free(b->reply.token);
    free(b->image_url);
}

comfy_button_msg *comfy_button_msg_new(comfy_button_action action, uint64_t job_id,
                                       uint64_t application_id, uint64_t interaction_id,
                                       const char *token)
{
    comfy_button_msg *m = RT_MSG_NEW(comfy_button_msg, MSG_COMFY_BUTTON, button_dtor);
    m->action = action;
    m->job_id = job_id;
    m->reply.application_id = application_id;
    m->reply.interaction_id = interaction_id;
    m->reply.token = util_strdup(token ? token : "");
    return m;
}

void comfy_button_set_image_url(comfy_button_msg *m, const char *url)
{
    free(m->image_url);
    m->image_url = util_strdup(url);
}

static void start_dtor(rt_msg *m)
{
    cjob_free(((comfy_start_msg *)m)->job);
}

comfy_start_msg *comfy_start_msg_new(struct cjob *job)
{
    comfy_start_msg *m = RT_MSG_NEW(comfy_start_msg, MSG_COMFY_START, start_dtor);
    m->job = job;
    return m;
}

static void queue_dtor(rt_msg *m)
{
    free(((comfy_queue_msg *)m)->reply.token);
}

comfy_queue_msg *comfy_queue_msg_new(uint64_t application_id, uint64_t interaction_id,
                                     const char *token)
{
    comfy_queue_msg *m = RT_MSG_NEW(comfy_queue_msg, MSG_COMFY_QUEUE, queue_dtor);
    m->reply.application_id = application_id;
    m->reply.interaction_id = interaction_id;
    m->reply.token = util_strdup(token ? token : "");
    return m;
}

static void cancel_dtor(rt_msg *m)
{
    free(((comfy_cancel_msg *)m)->reply.token);
}

comfy_cancel_msg *comfy_cancel_msg_new(uint64_t job_id, uint64_t application_id,
                                       uint64_t interaction_id, const char *token)
{
    comfy_cancel_msg *m = RT_MSG_NEW(comfy_cancel_msg, MSG_COMFY_CANCEL, cancel_dtor);
    m->job_id = job_id;
    m->reply.application_id = application_id;
    m->reply.interaction_id = interaction_id;
    m->reply.token = util_strdup(token ? token : "");
    return m;
}

comfy_lookup_msg *comfy_lookup_msg_new(uint64_t job_id, uint64_t cookie, rt_actor *reply_to)
{
    comfy_lookup_msg *m = RT_MSG_NEW(comfy_lookup_msg, MSG_COMFY_LOOKUP, NULL);
    m->job_id = job_id;
    m->cookie = cookie;
    m->reply_to = reply_to;
    return m;
}

static void lookup_res_dtor(rt_msg *m)
{
    cjob_free(((comfy_lookup_res_msg *)m)->job);
}

comfy_lookup_res_msg *comfy_lookup_res_msg_new(uint64_t job_id, uint64_t cookie,
                                               comfy_lookup_status status, struct cjob *job)
{
    comfy_lookup_res_msg *m =
        RT_MSG_NEW(comfy_lookup_res_msg, MSG_COMFY_LOOKUP_RES, lookup_res_dtor);
    m->job_id = job_id;
    m->cookie = cookie;
    m->status = status;
    m->job = job;
    return m;
}
