/*
 * gw_roles: the guild role cache (guild id → role id → role name).
 *
 * Fed by gateway dispatches — GUILD_CREATE (its `roles` array), GUILD_ROLE_CREATE/UPDATE/
 * DELETE and GUILD_DELETE — and read by the router to resolve a role configured by name
 * ("Bot Manager") against a member's role ids. The gateway actor applies the events on its
 * own thread before forwarding the next interaction, so a lookup made for an interaction
 * always sees the role changes Discord sent before it. Readers and the writer may be on
 * different threads: a rwlock guards the table. Inputs are untrusted and bounded
 * (GW_ROLES_MAX_PER_GUILD roles per guild, GW_ROLES_NAME_MAX bytes per name).
 */
#ifndef FLUXBOT_GW_ROLES_H
#define FLUXBOT_GW_ROLES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define GW_ROLES_MAX_PER_GUILD 1000
#define GW_ROLES_NAME_MAX 400 /* Discord allows 100 characters; 4 bytes each in UTF-8 */
#define GW_ROLES_MAX_GUILDS 200000

typedef struct gw_roles gw_roles;

gw_roles *gw_roles_new(void);
void gw_roles_free(gw_roles *r);

/* Applies one dispatch (event name and its `d` JSON). Returns 1 when the cache changed, 0 when
 * the event is not one of the role events or changed nothing, -1 when `d` is malformed (the
 * cache is then left as it was). */
int gw_roles_apply(gw_roles *r, const char *event, const char *d, size_t d_len);

/* Role ids in guild whose name equals name exactly (Discord names are case-sensitive). Writes
 * up to max ids into ids and returns how many roles matched in total. */
size_t gw_roles_find_by_name(gw_roles *r, uint64_t guild_id, const char *name, uint64_t *ids,
                             size_t max);

/* Copies the name of a role into buf; false when the role is unknown. */
bool gw_roles_name(gw_roles *r, uint64_t guild_id, uint64_t role_id, char *buf, size_t cap);

/* True when any of the member's role ids is named name in that guild. */
bool gw_roles_member_has(gw_roles *r, uint64_t guild_id, const uint64_t *member_roles, size_t n,
                         const char *name);

size_t gw_roles_guild_count(gw_roles *r);
size_t gw_roles_role_count(gw_roles *r, uint64_t guild_id); /* 0 for unknown guilds */

#endif
