/* Discord payloads for jobs: results, buttons, errors (see result.h). */
#include "comfy/result.h"

#include <cjson/cJSON.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "comfy/progress.h"
#include "util/util_dec.h"
#include "util/util_json.h"
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
    default:
        return -1;
    }
    return n > 0 && (size_t)n < outlen && n <= 100 ? 0 : -1;
}

/* The strict decimal number at the start of s; returns the byte after it, or NULL. */
static const char *parse_u64(const char *s, uint64_t *out)
{
    size_t n = strspn(s, "0123456789");
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
    if (strncmp(s, "fb:del:", 7) == 0) {
        p = parse_u64(s + 7, job_id);
        if (!p || *p != ':') return -1;
        p = parse_u64(p + 1, owner_id);
        if (!p || *p) return -1;
        *a = CRES_DELETE;
        return 0;
    }
    return -1;
}

bool cres_may_delete(uint64_t user_id, uint64_t owner_id, uint64_t permissions)
{
    if (user_id != 0 && user_id == owner_id) return true;
    return (permissions & (CRES_PERM_MANAGE_MESSAGES | CRES_PERM_ADMINISTRATOR)) != 0;
}

/* User text in these payloads never pings anyone. */
static void add_no_mentions(cJSON *o)
{
    cJSON_AddArrayToObject(cJSON_AddObjectToObject(o, "allowed_mentions"), "parse");
}

static void add_field(cJSON *fields, const char *name, const char *value, bool inl)
{
    if (!value || !*value) return;
    cJSON *f = cJSON_CreateObject();
    cJSON_AddStringToObject(f, "name", name);
    util_json_add_clipped(f, "value", value, 1024);
    cJSON_AddBoolToObject(f, "inline", inl);
    cJSON_AddItemToArray(fields, f);
}

static cJSON *button(int style, const char *label, const char *emoji, const char *custom_id)
{
    cJSON *b = cJSON_CreateObject();
    cJSON_AddNumberToObject(b, "type", 2);
    cJSON_AddNumberToObject(b, "style", style);
    cJSON_AddStringToObject(b, "label", label);
    cJSON *e = cJSON_CreateObject();
    cJSON_AddStringToObject(e, "name", emoji);
    cJSON_AddItemToObject(b, "emoji", e);
    cJSON_AddStringToObject(b, "custom_id", custom_id);
    return b;
}

char *cres_final_payload(const cres_result *r)
{
    const comfy_job *j = r->job;
    cJSON *root = cJSON_CreateObject();
    util_json_add_clipped(root, "content", r->note ? r->note : "", 2000);
    cJSON *embeds = cJSON_AddArrayToObject(root, "embeds");
    cJSON *em = cJSON_CreateObject();
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
    cJSON_AddStringToObject(em, "title", title);
    const char *prompt = j->user_prompt && *j->user_prompt ? j->user_prompt : NULL;
    if (prompt) {
        char *d = util_utf8_clip(prompt, 4000);
        size_t dl = strlen(d) + 8;
        char *desc = malloc(dl);
        if (!desc) abort();
        snprintf(desc, dl, "\xf0\x9f\x8e\xa8 %s", d); /* 🎨 */
        cJSON_AddStringToObject(em, "description", desc);
        free(desc);
        free(d);
    }
    cJSON_AddNumberToObject(em, "color", 0x5865F2);
    cJSON *fields = cJSON_AddArrayToObject(em, "fields");
    char buf[256];
    if (j->resolution[0]) add_field(fields, "Resolution", j->resolution, true);
    if (j->kind != COMFY_KIND_UPSCALE) {
        snprintf(buf, sizeof buf, "%" PRIu64, j->seed);
        add_field(fields, "Seed", buf, true);
    }
    if (j->upscale > 1) {
        snprintf(buf, sizeof buf, "%ux", j->upscale);
        add_field(fields, "Upscale", buf, true);
    }
    if (j->has_strength[0]) {
        if (j->has_strength[1])
            snprintf(buf, sizeof buf, "%.2f / %.2f", j->strength[0], j->strength[1]);
        else
            snprintf(buf, sizeof buf, "%.2f", j->strength[0]);
        add_field(fields, "Strength", buf, true);
    }
    char loras[COMFY_MAX_LORAS * (LORAS_NAME_MAX + 2) + 1];
    cjob_lora_list(j, loras, sizeof loras);
    add_field(fields, "LoRAs", loras, false);
    char dur[32];
    prog_fmt_duration((int64_t)r->generation_ms, dur, sizeof dur);
    add_field(fields, "Time", dur, true);
    if (r->server_label) add_field(fields, "Server", r->server_label, true);
    if (r->is_image && r->filename) {
        char url[300];
        snprintf(url, sizeof url, "attachment://%s", r->filename);
        cJSON *img = cJSON_CreateObject();
        cJSON_AddStringToObject(img, "url", url);
        cJSON_AddItemToObject(em, "image", img);
    }
    cJSON_AddItemToArray(embeds, em);

    cJSON *comps = cJSON_AddArrayToObject(root, "components");
    cJSON *row = cJSON_CreateObject();
    cJSON_AddNumberToObject(row, "type", 1);
    cJSON *btns = cJSON_AddArrayToObject(row, "components");
    char cid[101];
    if (j->kind != COMFY_KIND_UPSCALE) {
        cres_custom_id(CRES_REGENERATE, j->id, j->origin.user_id, cid, sizeof cid);
        cJSON_AddItemToArray(btns, button(1, "Regenerate", "\xe2\x99\xbb\xef\xb8\x8f", cid));
    }
    if (r->is_image && j->kind != COMFY_KIND_UPSCALE) {
        cres_custom_id(CRES_UPSCALE2, j->id, j->origin.user_id, cid, sizeof cid);
        cJSON_AddItemToArray(btns, button(2,
                                          "Upscale \xc3\x97"
                                          "2",
                                          "\xf0\x9f\x94\x8d", cid));
    }
    cres_custom_id(CRES_DELETE, j->id, j->origin.user_id, cid, sizeof cid);
    cJSON_AddItemToArray(btns, button(4, "Delete", "\xf0\x9f\x97\x91\xef\xb8\x8f", cid));
    cJSON_AddItemToArray(comps, row);

    cJSON *atts = cJSON_AddArrayToObject(root, "attachments");
    if (r->filename) {
        cJSON *a = cJSON_CreateObject();
        cJSON_AddNumberToObject(a, "id", 0);
        cJSON_AddStringToObject(a, "filename", r->filename);
        cJSON_AddItemToArray(atts, a);
    }
    add_no_mentions(root);
    return util_json_print_free(root);
}

char *cres_content_payload(const char *content, bool clear)
{
    cJSON *root = cJSON_CreateObject();
    util_json_add_clipped(root, "content", content, 2000);
    if (clear) {
        cJSON_AddArrayToObject(root, "embeds");
        cJSON_AddArrayToObject(root, "components");
        cJSON_AddArrayToObject(root, "attachments");
    }
    add_no_mentions(root);
    return util_json_print_free(root);
}

char *cres_callback_payload(int type, const char *content, bool ephemeral)
{
    cJSON *root = cJSON_CreateObject();
    cJSON_AddNumberToObject(root, "type", type);
    if (content || ephemeral) {
        cJSON *d = cJSON_AddObjectToObject(root, "data");
        if (content) {
            util_json_add_clipped(d, "content", content, 2000);
            add_no_mentions(d);
        }
        if (ephemeral) cJSON_AddNumberToObject(d, "flags", CRES_FLAG_EPHEMERAL);
    }
    return util_json_print_free(root);
}

char *cres_followup_payload(const char *content, bool ephemeral)
{
    cJSON *root = cJSON_CreateObject();
    util_json_add_clipped(root, "content", content, 2000);
    if (ephemeral) cJSON_AddNumberToObject(root, "flags", CRES_FLAG_EPHEMERAL);
    add_no_mentions(root);
    return util_json_print_free(root);
}

void cres_error_text(const char *what, char *out, size_t outlen)
{
    snprintf(out, outlen, "\xe2\x9d\x8c %s", what ? what : "Generation failed.");
}
