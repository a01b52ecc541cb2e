/* Bodies of the helpers declared in trx.h (see there). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "trx.h"

void trx_add_id(cJSON *o, const char *key, uint64_t v)
{
    char b[24];
    snprintf(b, sizeof b, "%" PRIu64, v);
    cJSON_AddStringToObject(o, key, b);
}

cJSON *trx_base(uint64_t id, const char *token, int type, const trx_who *who)
{
    trx_who dflt = {0};
    if (!who) who = &dflt;
    uint64_t uid = who->user_id ? who->user_id : 800000000000000001ULL;
    cJSON *o = cJSON_CreateObject();
    trx_add_id(o, "id", id);
    trx_add_id(o, "application_id", TRX_APP);
    cJSON_AddNumberToObject(o, "type", type);
    cJSON_AddStringToObject(o, "token", token);
    cJSON_AddNumberToObject(o, "version", 1);
    trx_add_id(o, "channel_id", TRX_CHANNEL);
    cJSON *user = cJSON_CreateObject();
    trx_add_id(user, "id", uid);
    cJSON_AddStringToObject(user, "username", "tester");
    if (who->dm) {
        cJSON_AddItemToObject(o, "user", user);
    } else {
        trx_add_id(o, "guild_id", TRX_GUILD);
        cJSON *m = cJSON_AddObjectToObject(o, "member");
        cJSON_AddItemToObject(m, "user", user);
        trx_add_id(m, "permissions", who->permissions);
        cJSON *roles = cJSON_AddArrayToObject(m, "roles");
        for (unsigned i = 0; i < who->nroles; i++) {
            char b[24];
            snprintf(b, sizeof b, "%" PRIu64, who->roles[i]);
            cJSON_AddItemToArray(roles, cJSON_CreateString(b));
        }
    }
    cJSON_AddStringToObject(o, "app_permissions", "2147483648");
    cJSON_AddStringToObject(o, "locale", "en-US");
    cJSON_AddNumberToObject(o, "attachment_size_limit", 10485760);
    return o;
}

char *trx_print(cJSON *o)
{
    char *s = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    return s;
}

char *trx_command(int type, uint64_t id, const char *token, const char *name,
                  const char *options_json, const char *resolved_json, const trx_who *who)
{
    cJSON *o = trx_base(id, token, type, who);
    cJSON *d = cJSON_AddObjectToObject(o, "data");
    trx_add_id(d, "id", 900000000000000001ULL);
    cJSON_AddStringToObject(d, "name", name);
    cJSON_AddNumberToObject(d, "type", 1);
    if (options_json) cJSON_AddRawToObject(d, "options", options_json);
    if (resolved_json) cJSON_AddRawToObject(d, "resolved", resolved_json);
    return trx_print(o);
}

char *trx_component(uint64_t id, const char *token, const char *custom_id, uint64_t message_id,
                    const char *message_atts_json, const trx_who *who)
{
    cJSON *o = trx_base(id, token, 3, who);
    cJSON *d = cJSON_AddObjectToObject(o, "data");
    cJSON_AddStringToObject(d, "custom_id", custom_id);
    cJSON_AddNumberToObject(d, "component_type", 2);
    cJSON *m = cJSON_AddObjectToObject(o, "message");
    trx_add_id(m, "id", message_id);
    if (message_atts_json) cJSON_AddItemToObject(m, "attachments", cJSON_Parse(message_atts_json));
    return trx_print(o);
}

trx_catalog *trx_catalog_load(void)
{
    trx_catalog *c = calloc(1, sizeof *c);
    char err[512];
    if (ratios_load_file(&c->ratios, FLUXBOT_SOURCE_DIR "/config/ratios.json", err, sizeof err) ||
        loras_load_file(&c->loras, FLUXBOT_SOURCE_DIR "/config/loras.json", err, sizeof err) ||
        decl_set_load(&c->decls, FLUXBOT_SOURCE_DIR "/workflows", err, sizeof err)) {
        fprintf(stderr, "catalog: %s\n", err);
        abort();
    }
    c->cat.ratios = &c->ratios;
    c->cat.loras = &c->loras;
    c->cat.decls = &c->decls;
    return c;
}

void trx_catalog_free(trx_catalog *c)
{
    loras_free(&c->loras);
    decl_set_free(&c->decls);
    free(c);
}
