/*
 * Helpers shared by the router tests: INTERACTION_CREATE `d` objects as Discord sends them
 * (snowflakes and permissions as strings), and the catalogue loaded from the shipped files.
 */
#ifndef FLUXBOT_TEST_ROUTER_UTIL_H
#define FLUXBOT_TEST_ROUTER_UTIL_H

#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "comfy/job.h"

#define TRX_APP 424242424242ULL
#define TRX_GUILD 700000000000000001ULL
#define TRX_CHANNEL 700000000000000002ULL

typedef struct trx_who {
    uint64_t user_id;     /* 0 = 800000000000000001 */
    uint64_t permissions; /* member.permissions */
    const uint64_t *roles;
    unsigned nroles;
    bool dm; /* user object, no member, no guild */
} trx_who;

static __attribute__((unused)) void trx_add_id(cJSON *o, const char *key, uint64_t v)
{
    char b[24];
    snprintf(b, sizeof b, "%" PRIu64, v);
    cJSON_AddStringToObject(o, key, b);
}

/* The envelope every interaction shares; data is added by the callers. */
static __attribute__((unused)) cJSON *trx_base(uint64_t id, const char *token, int type,
                                               const trx_who *who)
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

static __attribute__((unused)) char *trx_print(cJSON *o)
{
    char *s = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    return s;
}

/* A slash command (type 2) or its autocomplete (type 4). options_json / resolved_json are the
 * data.options array and the data.resolved object as JSON text (NULL: none), inserted verbatim
 * (cJSON would print 2^53-1 as a rounded double). */
static __attribute__((unused)) char *trx_command(int type, uint64_t id, const char *token,
                                                 const char *name, const char *options_json,
                                                 const char *resolved_json, const trx_who *who)
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

/* A button click (type 3) on message message_id, whose attachments are message_atts_json. */
static __attribute__((unused)) char *trx_component(uint64_t id, const char *token,
                                                   const char *custom_id, uint64_t message_id,
                                                   const char *message_atts_json,
                                                   const trx_who *who)
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

/* The shipped ratios, LoRAs and workflows. */
typedef struct trx_catalog {
    ratios_set ratios;
    loras_set loras;
    wf_set workflows;
    cjob_catalog cat;
} trx_catalog;

static __attribute__((unused)) trx_catalog *trx_catalog_load(void)
{
    trx_catalog *c = calloc(1, sizeof *c);
    char err[512];
    if (ratios_load_file(&c->ratios, FLUXBOT_SOURCE_DIR "/config/ratios.json", err, sizeof err) ||
        loras_load_file(&c->loras, FLUXBOT_SOURCE_DIR "/config/loras.json", err, sizeof err) ||
        wf_set_load(&c->workflows, FLUXBOT_SOURCE_DIR "/workflows", err, sizeof err)) {
        fprintf(stderr, "catalog: %s\n", err);
        abort();
    }
    c->cat.ratios = &c->ratios;
    c->cat.loras = &c->loras;
    c->cat.workflows = &c->workflows;
    return c;
}

static __attribute__((unused)) void trx_catalog_free(trx_catalog *c)
{
    loras_free(&c->loras);
    wf_set_free(&c->workflows);
    free(c);
}

#endif
