/* A message object's id, channel and first attachment URL (see message_ref.h). */
#include "discord/message_ref.h"

#include <stdio.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "discord/ix.h"

static uint64_t snowflake(const cJSON *o, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    uint64_t id = 0;
    if (cJSON_IsString(v) && v->valuestring && ix_parse_snowflake(v->valuestring, &id)) return id;
    return 0;
}

bool message_ref_parse(const char *body, size_t len, message_ref *out)
{
    memset(out, 0, sizeof *out);
    if (!body || len == 0 || len > MESSAGE_REF_BODY_MAX) return false;
    cJSON *o = cJSON_ParseWithLength(body, len);
    if (!cJSON_IsObject(o)) {
        cJSON_Delete(o);
        return false;
    }
    out->message_id = snowflake(o, "id");
    out->channel_id = snowflake(o, "channel_id");
    const cJSON *att = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(o, "attachments"), 0);
    const cJSON *url = cJSON_GetObjectItemCaseSensitive(att, "url");
    if (cJSON_IsString(url) && strncmp(url->valuestring, "https://", 8) == 0 &&
        strlen(url->valuestring) <= MESSAGE_REF_URL_MAX)
        snprintf(out->attachment_url, sizeof out->attachment_url, "%s", url->valuestring);
    cJSON_Delete(o);
    return out->message_id != 0;
}
