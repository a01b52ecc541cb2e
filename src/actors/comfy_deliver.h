/*
 * comfy_deliver: delivery of jobs' final messages (the result or the failure, as PATCH
 * @original), retried for as long as the interaction token works, with fallbacks when it cannot
 * be delivered (comfy_deliver.c has the routes). Owned by the coordinator (comfy_coord.h).
 *
 * Threads: the coordinator's thread only (asserted in debug builds): the table has no lock, so a
 * second thread would corrupt it, and the answers it waits for come back to the coordinator's
 * mailbox (reply_to = self, cookie COMFY_DELIVER_COOKIE_BIT | job id).
 * While deliveries are pending the table holds its actor (rt_actor_hold), so a stop waits for
 * them, bounded by comfy_deliver_stop's deadline and then comfy_deliver_abandon.
 */
#ifndef FLUXBOT_COMFY_DELIVER_H
#define FLUXBOT_COMFY_DELIVER_H

#include <stdbool.h>
#include <stdint.h>

#include "actors/comfy_outcome.h"
#include "actors/job_keeper.h"
#include "fluxbot/runtime.h"
#include "msgs/rest.h"

/* Cookie of a delivery step's REST answer: this bit | job id. */
#define COMFY_DELIVER_COOKIE_BIT (1ULL << 63)

typedef struct comfy_deliver_config {
    rt_actor *self;      /* the owning actor: answers come back to it, it is held while busy */
    rt_actor *rest;      /* the discord_rest actor */
    rt_actor *analytics; /* NULL: no analytics */
    /* How long an interaction token works; 0 = 15 min. */
    uint64_t token_valid_ms;
    /* With a postgresql:// db_url: a delivery's end (either way) finishes the job's lease row;
     * NULL: no leases. */
    job_keeper *keeper;
} comfy_deliver_config;

typedef struct comfy_deliver comfy_deliver;

comfy_deliver *comfy_deliver_new(const comfy_deliver_config *c);
/* Frees what is left (outcomes not recorded: call comfy_deliver_abandon first when it matters). */
void comfy_deliver_free(comfy_deliver *d);
/* Sends final (a PATCH @original, owned) for o (moved into the table, left cleared). */
void comfy_deliver_start(comfy_deliver *d, comfy_outcome *o, rest_req_msg *final);
/* A MSG_REST_RES with COMFY_DELIVER_COOKIE_BIT: the next step. */
void comfy_deliver_on_result(comfy_deliver *d, const rest_res_msg *res);
/* Deliveries still waiting for Discord. */
unsigned comfy_deliver_pending(const comfy_deliver *d);
/* The bot is stopping: no step is retried past deadline_ms (rt_now_ms() time). */
void comfy_deliver_stop(comfy_deliver *d, uint64_t deadline_ms);
/* At the stop deadline: records what is still pending as not delivered and forgets it. */
void comfy_deliver_abandon(comfy_deliver *d);
/* The rt_now_ms() time an interaction token received at received_wall_ms stops working. */
uint64_t comfy_deliver_token_expiry_ms(const comfy_deliver *d, uint64_t received_wall_ms);

#endif
