/* cJSON idioms (see util_json.h). */
#include "util/util_json.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

const char *util_json_str(const cJSON *o, const char *key, const char *fallback)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsString(v) && v->valuestring ? v->valuestring : fallback;
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

char *util_json_print_free(cJSON *o)
{
    char *s = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    if (!s) abort();
    return s;
}
