/*
 * appreg: registers the slash commands once the application id is known, and reports how it
 * went. A small parked actor ("app") that receives the MSG_REST_RES of the bulk PUTs the REST
 * actor sends (discord_rest_register_commands), logs each outcome for the operator (a 400 means the
 * command table or the ratios labels were refused; the body says why), and counts them.
 */
#ifndef FLUXBOT_APP_REGISTER_H
#define FLUXBOT_APP_REGISTER_H

#include <stdbool.h>
#include <stdint.h>

#include "actors/discord_rest.h"
#include "comfy/decl.h"
#include "comfy/ratios.h"
#include "config/fb_config.h"
#include "fluxbot/runtime.h"

#define APPREG_ACTOR_NAME "app"

typedef struct appreg appreg;

/* Adds the actor to sys. guilds (copied) empty = global registration. */
appreg *appreg_new(rt_system *sys, const uint64_t *guilds, unsigned nguilds);
rt_actor *appreg_actor(appreg *r);
/* Queues the bulk PUT(s) through the REST actor (once; later calls do nothing). Returns the
 * number of requests queued, 0 when already done, -1 on error (logged). */
int appreg_register(appreg *r, discord_rest *rest, uint64_t application_id,
                    const ratios_set *ratios, const decl_set *decls);
/* The resolution labels (command choices) or the declared commands changed: the next
 * appreg_register registers the commands again. Any thread. */
void appreg_request_again(appreg *r);

typedef struct appreg_counters {
    unsigned queued;    /* PUTs sent */
    unsigned succeeded; /* 2xx */
    unsigned failed;    /* anything else */
} appreg_counters;
void appreg_counters_get(appreg *r, appreg_counters *out);
void appreg_free(appreg *r);

#endif
