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

#include "comfy/cjob.h"

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

void trx_add_id(cJSON *o, const char *key, uint64_t v);

/* The envelope every interaction shares; data is added by the callers. */
cJSON *trx_base(uint64_t id, const char *token, int type, const trx_who *who);

char *trx_print(cJSON *o);

/* A slash command (type 2) or its autocomplete (type 4). options_json / resolved_json are the
 * data.options array and the data.resolved object as JSON text (NULL: none), inserted verbatim
 * (cJSON would print 2^53-1 as a rounded double). */
char *trx_command(int type, uint64_t id, const char *token, const char *name,
                  const char *options_json, const char *resolved_json, const trx_who *who);

/* A button click (type 3) on message message_id, whose attachments are message_atts_json. */
char *trx_component(uint64_t id, const char *token, const char *custom_id, uint64_t message_id,
                    const char *message_atts_json, const trx_who *who);

/* The shipped ratios, LoRAs and command declarations (with their workflows). */
typedef struct trx_catalog {
    ratios_set ratios;
    loras_set loras;
    decl_set decls;
    cjob_catalog cat;
} trx_catalog;

trx_catalog *trx_catalog_load(void);

void trx_catalog_free(trx_catalog *c);

#endif
