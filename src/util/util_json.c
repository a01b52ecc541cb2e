/* cJSON idioms (see util_json.h). */
#include "util/util_json.h"
#include "util/util_dec.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#include "util/util_utf8.h"

const char *util_json_str(const cJSON *o, const char *key, const char *fallback)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsString(v) && v->valuestring ? v->valuestring : fallback;
}

int64_t util_json_i64(const cJSON *o, const char *key, int64_t fallback)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsNumber(v) ? (int64_t)v->valuedouble : fallback;
}

uint64_t util_json_snowflake(const cJSON *o, const char *key)
{
    const char *s = util_json_str(o, key, NULL);
    uint64_t id = 0;
    if (s && !util_dec_snowflake(s, &id)) id = 0;
    return id;
}

cJSON *util_json_parse_named(const char *text, const char *source, char *err, size_t errlen)
{
    cJSON *root = cJSON_Parse(text);
    if (!root) snprintf(err, errlen, "%s: not valid JSON", source);
    return root;
}

cJSON *util_json_u64(uint64_t v)
{
    char buf[24];
    snprintf(buf, sizeof buf, "%" PRIu64, v);
    return cJSON_CreateString(buf);
}

void util_json_add_u64(cJSON *o, const char *key, uint64_t v)
{
    cJSON_AddItemToObject(o, key, util_json_u64(v));
}

void util_json_add_clipped(cJSON *o, const char *key, const char *s, size_t max_chars)
{
    char *c = util_utf8_clip(s, max_chars);
    cJSON_AddStringToObject(o, key, c);
    free(c);
}

char *util_json_print_free(cJSON *o)
{
    char *s = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    if (!s) abort();
    return s;
}
