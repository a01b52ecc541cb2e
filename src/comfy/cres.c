/* Discord payloads for jobs: results, buttons, errors (see cres.h). */
#include "comfy/cres.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "comfy/prog.h"
#include "discord/embed.h"
#include "discord/enh_note.h"
#include "discord/reply.h"
#include "util/util_dec.h"
#include "util/util_utf8.h"

int cres_custom_id(cres_action a, uint64_t job_id, uint64_t owner_id, char *out, size_t outlen)
{
    int n;
    switch (a) {
    case CRES_REGENERATE:
        n = snprintf(out, outlen, "fb:regen:%" PRIu64, job_id);
        break;
    case CRES_UPSCALE2:
        n = snprintf(out, outlen, "fb:up2:%" PRIu64, job_id);
        break;
    case CRES_DELETE:
        n = snprintf(out, outlen, "fb:del:%" PRIu64 ":%" PRIu64, job_id, owner_id);
        break;
    case CRES_OPTIONS:
        n = snprintf(out, outlen, "fb:opt:%" PRIu64 ":%" PRIu64, job_id, owner_id);
        break;
    case CRES_CANCEL:
        n = snprintf(out, outlen, "fb:cancel:%" PRIu64 ":%" PRIu64, job_id, owner_id);
        break;
    default:
        return -1;
    }
    return n > 0 && (size_t)n < outlen && n <= 100 ? 0 : -1;
}

/* The strict decimal number at the start of s; returns the byte after it, or NULL. Canonical
 * form only (no leading zero): each id has one spelling, so "fb:del:06:…" is not ours. */
static const char *parse_u64(const char *s, uint64_t *out)
{
    size_t n = strspn(s, "0123456789");
    if (n > 1 && s[0] == '0') return NULL;
    return util_dec_u64(s, n, out) == UTIL_DEC_OK ? s + n : NULL;
}

int cres_parse_custom_id(const char *s, cres_action *a, uint64_t *job_id, uint64_t *owner_id)
{
    if (!s || strlen(s) > 100) return -1;
    *a = CRES_NONE;
    *job_id = *owner_id = 0;
    const char *p;
    if (strncmp(s, "fb:regen:", 9) == 0) {
        p = parse_u64(s + 9, job_id);
        if (!p || *p) return -1;
        *a = CRES_REGENERATE;
        return 0;
    }
    if (strncmp(s, "fb:up2:", 7) == 0) {
        p = parse_u64(s + 7, job_id);
        if (!p || *p) return -1;
        *a = CRES_UPSCALE2;
        return 0;
    }
    bool del = strncmp(s, "fb:del:", 7) == 0;
    bool cancel = strncmp(s, "fb:cancel:", 10) == 0;
    if (del || cancel || strncmp(s, "fb:opt:", 7) == 0) {
        p = parse_u64(s + (cancel ? 10 : 7), job_id);
        if (!p || *p != ':') return -1;
        p = parse_u64(p + 1, owner_id);
        if (!p || *p) return -1;
        *a = del ? CRES_DELETE : cancel ? CRES_CANCEL : CRES_OPTIONS;
        return 0;
    }
    return -1;
}

bool cres_may_delete(uint64_t user_id, uint64_t owner_id, uint64_t permissions)
{
    if (user_id != 0 && user_id == owner_id) return true;
    return (permissions & (CRES_PERM_MANAGE_MESSAGES | CRES_PERM_ADMINISTRATOR)) != 0;
}

/* A field only when there is something to say (Discord refuses empty field text). */
static void add_field(embed *e, const char *name, const char *value, bool inl)
{
    if (value && *value) embed_add_field(e, name, value, inl);
}

static void result_embed(const cres_result *r, embed *em)
{
    const cjob *j = r->job;
    char title[200];
    const char *what = r->is_video                     ? "Video"
                       : j->kind == COMFY_KIND_UPSCALE ? "Upscaled image"
                                                       : "Image";
    if (j->origin.user_name[0]) {
        char *nm = util_utf8_clip(j->origin.user_name, 64);
        snprintf(title, sizeof title, "%s generated for %s", what, nm);
        free(nm);
    } else {
        snprintf(title, sizeof title, "%s generated", what);
    }
    embed_set_title(em, title);
    const char *prompt = j->user_prompt && *j->user_prompt ? j->user_prompt : NULL;
    if (prompt) {
        char *d = util_utf8_clip(prompt, 4000);
        size_t dl = strlen(d) + 8;
        char *desc = malloc(dl);
        if (!desc) abort();
        snprintf(desc, dl, "\xf0\x9f\x8e\xa8 %s", d); /* 🎨 */
        embed_set_description(em, desc);
        free(desc);
        free(d);
    }
    embed_set_color(em, 0x5865F2);
    enh_note_embed(j, em); /* the enhanced prompt, beside the one typed above */
    char buf[256];
    if (j->resolution[0]) add_field(em, "Resolution", j->resolution, true);
    if (j->kind != COMFY_KIND_UPSCALE) {
        snprintf(buf, sizeof buf, "%" PRIu64, j->seed);
        add_field(em, "Seed", buf, true);
    }
    if (j->upscale > 1) {
        snprintf(buf, sizeof buf, "%ux", j->upscale);
        add_field(em, "Upscale", buf, true);
    }
    if (j->has_strength[0]) {
        if (j->has_strength[1])
            snprintf(buf, sizeof buf, "%.2f / %.2f", j->strength[0], j->strength[1]);
        else
            snprintf(buf, sizeof buf, "%.2f", j->strength[0]);
        add_field(em, "Strength", buf, true);
    }
    char loras[COMFY_MAX_LORAS * (LORAS_NAME_MAX + 16) + 1];
    cjob_lora_list(j, loras, sizeof loras);
    add_field(em, "LoRAs", loras, false);
    char dur[32];
    prog_fmt_duration((int64_t)r->generation_ms, dur, sizeof dur);
    add_field(em, "Time", dur, true);
    if (r->server_label) add_field(em, "Server", r->server_label, true);
    if (r->is_image && r->filename) {
        char url[300];
        snprintf(url, sizeof url, "attachment://%s", r->filename);
        embed_set_image(em, url);
    }
}

char *cres_final_payload(const cres_result *r)
{
    const cjob *j = r->job;
    embed em;
    embed_init(&em);
    result_embed(r, &em);
    char cid[4][101];
    reply_button btns[4];
    unsigned nb = 0;
    if (j->kind != COMFY_KIND_UPSCALE) {
        cres_custom_id(CRES_REGENERATE, j->id, j->origin.user_id, cid[nb], sizeof cid[nb]);
        btns[nb] = (reply_button){.style = REPLY_BTN_PRIMARY,
                                  .label = "Regenerate",
                                  .emoji = "\xe2\x99\xbb\xef\xb8\x8f",
                                  .custom_id = cid[nb]};
        nb++;
    }
    if (r->is_image && r->upscale_offered && j->kind != COMFY_KIND_UPSCALE) {
        cres_custom_id(CRES_UPSCALE2, j->id, j->origin.user_id, cid[nb], sizeof cid[nb]);
        btns[nb] = (reply_button){.style = REPLY_BTN_SECONDARY,
                                  .label = "Upscale \xc3\x97"
                                           "2",
                                  .emoji = "\xf0\x9f\x94\x8d",
                                  .custom_id = cid[nb]};
        nb++;
    }
    if (j->kind != COMFY_KIND_UPSCALE) {
        /* beside Regenerate: the same job with other settings (discord/opts_dialog.h) */
        cres_custom_id(CRES_OPTIONS, j->id, j->origin.user_id, cid[nb], sizeof cid[nb]);
        btns[nb] = (reply_button){.style = REPLY_BTN_SECONDARY,
                                  .label = "Options",
                                  .emoji = "\xe2\x9a\x99\xef\xb8\x8f",
                                  .custom_id = cid[nb]};
        nb++;
    }
    cres_custom_id(CRES_DELETE, j->id, j->origin.user_id, cid[nb], sizeof cid[nb]);
    btns[nb] = (reply_button){.style = REPLY_BTN_DANGER,
                              .label = "Delete",
                              .emoji = "\xf0\x9f\x97\x91\xef\xb8\x8f",
                              .custom_id = cid[nb]};
    nb++;
    reply_row row = {.buttons = btns, .nbuttons = nb};
    reply_attachment att[CRES_MAX_FILES];
    unsigned natt = 0;
    if (r->filename) {
        att[natt] = (reply_attachment){.id = 0, .filename = r->filename};
        natt++;
        for (unsigned i = 0; r->more_files && i < r->nmore && natt < CRES_MAX_FILES; i++) {
            att[natt] = (reply_attachment){.id = natt, .filename = r->more_files[i]};
            natt++;
        }
    }
    const embed *list[1] = {&em};
    char *content = enh_note_append(r->note, j);
    reply_msg m = {.content = content,
                   .embeds = list,
                   .nembeds = 1,
                   .rows = &row,
                   .nrows = 1,
                   .attachments = att,
                   .nattachments = natt,
                   .set_attachments = true};
    char err[200];
    char *json = reply_message_json(&m, err, sizeof err);
    free(content);
    embed_free(&em);
    /* the parts are ours and within limits; should it still fail, the user gets a clear line */
    return json ? json : reply_edit_text_json("\xe2\x9d\x8c The result could not be shown.", true);
}

void cres_error_text(const char *what, char *out, size_t outlen)
{
    snprintf(out, outlen, "\xe2\x9d\x8c %s", what ? what : "Generation failed.");
}
