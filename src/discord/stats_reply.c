/* The /stats edit: path and body (see stats_reply.h). */
#include "discord/stats_reply.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

static bool token_ok(const char *t)
{
    size_t n = t ? strlen(t) : 0;
    if (n == 0 || n > STATS_REPLY_TOKEN_MAX) return false;
    for (size_t i = 0; i < n; i++) {
        char c = t[i];
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '_' || c == '-' || c == '.';
        if (!ok) return false;
    }
    return true;
}

bool stats_reply_original_path(uint64_t app, const char *token, char *out, size_t outlen)
{
    if (!app || !token_ok(token)) return false;
    int n = snprintf(out, outlen, "/webhooks/%" PRIu64 "/%s/messages/@original", app, token);
    return n > 0 && (size_t)n < outlen;
}

char *stats_reply_edit_json(const cJSON *embed, const char *attachment)
{
    cJSON *root = cJSON_CreateObject();
    if (!root) return NULL;
    cJSON_AddStringToObject(root, "content", "");
    cJSON *embeds = cJSON_AddArrayToObject(root, "embeds");
    cJSON *e = embed ? cJSON_Duplicate(embed, 1) : NULL;
    if (e) {
        cJSON_DeleteItemFromObjectCaseSensitive(e, "image");
        if (attachment) {
            char url[160];
            snprintf(url, sizeof url, "attachment://%s", attachment);
            cJSON *img = cJSON_AddObjectToObject(e, "image");
            cJSON_AddStringToObject(img, "url", url);
        }
        cJSON_AddItemToArray(embeds, e);
    }
    /* Listing the attachments replaces the message's files: the new chart, or none. */
    cJSON *atts = cJSON_AddArrayToObject(root, "attachments");
    if (attachment) {
        cJSON *a = cJSON_CreateObject();
        cJSON_AddNumberToObject(a, "id", 0);
        cJSON_AddStringToObject(a, "filename", attachment);
        cJSON_AddStringToObject(a, "description", "Images, videos and commands over the window");
        cJSON_AddItemToArray(atts, a);
    }
    /* Nothing in a stats answer may ping anyone (command names are user-visible text). */
    cJSON *am = cJSON_AddObjectToObject(root, "allowed_mentions");
    cJSON_AddArrayToObject(am, "parse");
    char *out = cJSON_PrintUnformatted(root);
    cJSON_Delete(root);
    return out;
}
