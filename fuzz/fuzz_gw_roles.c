/*
 * fuzz_gw_roles: the guild role cache (gw_roles) fed hostile role events — GUILD_CREATE,
 * GUILD_DELETE, GUILD_ROLE_CREATE/UPDATE/DELETE and any other name — as the gateway actor
 * applies them, followed by the lookups the router makes for /reset_stats.
 *
 * Input: a script of events, each one byte choosing the event name and the `d` text up to the
 * separator. Invariants asserted, beyond "no crash, no sanitizer report":
 *  - an event refused as malformed (-1) changes nothing (guild and role counts unchanged);
 *  - no guild ever holds more than GW_ROLES_MAX_PER_GUILD roles, no name is longer than
 *    GW_ROLES_NAME_MAX bytes;
 *  - gw_roles_name and gw_roles_find_by_name agree: a role's name finds that role.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "discord/gw_json.h"
#include "discord/gw_roles.h"
#include "fuzz_support.h"

static const char *const events[] = {
    "GUILD_CREATE",
    "GUILD_DELETE",
    "GUILD_ROLE_CREATE",
    "GUILD_ROLE_UPDATE",
    "GUILD_ROLE_DELETE",
    "INTERACTION_CREATE",
    "",
};
#define NEVENTS (sizeof events / sizeof events[0])

/* The guild and role ids an event names, so the checks look where it wrote. */
static void ids_of(const char *d, size_t len, uint64_t *guild, uint64_t *role)
{
    gw_span root, v, r;
    *guild = *role = 0;
    if (gw_json_parse_span(d, len, &root) != GW_JSON_OK) return;
    if (gw_json_get(root, "guild_id", &v) == 1 || gw_json_get(root, "id", &v) == 1)
        (void)gw_json_snowflake(v, guild);
    if (gw_json_get(root, "role_id", &v) == 1) (void)gw_json_snowflake(v, role);
    if (gw_json_get(root, "role", &r) == 1 && gw_json_get(r, "id", &v) == 1)
        (void)gw_json_snowflake(v, role);
}

static void check_role(gw_roles *roles, uint64_t guild, uint64_t role)
{
    char name[GW_ROLES_NAME_MAX + 64];
    if (!gw_roles_name(roles, guild, role, name, sizeof name)) return;
    FZ_ASSERT(strlen(name) <= GW_ROLES_NAME_MAX, "role name over its bound", name);
    uint64_t ids[8];
    size_t n = gw_roles_find_by_name(roles, guild, name, ids, 8);
    FZ_ASSERT(n >= 1, "a role's own name does not find it", name);
    bool seen = false;
    for (size_t i = 0; i < n && i < 8; i++)
        seen |= ids[i] == role;
    FZ_ASSERT(seen || n > 8, "find_by_name misses the role", name);
    FZ_ASSERT(gw_roles_member_has(roles, guild, &role, 1, name), "member_has disagrees", name);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 1u << 20) return 0;
    fz_in in = {data, size};
    gw_roles *roles = gw_roles_new();
    if (!roles) abort();
    for (unsigned step = 0; step < 64 && in.len; step++) {
        const char *ev = events[fz_u8(&in) % NEVENTS];
        size_t len = 0;
        char *d = fz_text(&in, 1u << 19, &len);
        uint64_t guild, role;
        ids_of(d, len, &guild, &role);
        size_t guilds_before = gw_roles_guild_count(roles);
        size_t roles_before = gw_roles_role_count(roles, guild);
        int rc = gw_roles_apply(roles, ev, d, len);
        FZ_ASSERT(rc >= -1 && rc <= 1, "gw_roles_apply returned an unknown code", ev);
        if (rc < 0) {
            FZ_ASSERT(gw_roles_guild_count(roles) == guilds_before &&
                          gw_roles_role_count(roles, guild) == roles_before,
                      "a refused event changed the cache", d);
        }
        FZ_ASSERT(gw_roles_role_count(roles, guild) <= GW_ROLES_MAX_PER_GUILD,
                  "guild over GW_ROLES_MAX_PER_GUILD roles", NULL);
        if (role) check_role(roles, guild, role);
        /* GUILD_CREATE: every role of the array is checked. */
        gw_span root, arr, el, v;
        if (gw_json_parse_span(d, len, &root) == GW_JSON_OK &&
            gw_json_get(root, "roles", &arr) == 1 && gw_json_kind_of(arr) == GW_JSON_ARRAY) {
            size_t it = 0;
            unsigned k = 0;
            while (k++ < 64 && gw_json_array_next(arr, &it, &el) == 1) {
                uint64_t rid;
                if (gw_json_get(el, "id", &v) == 1 && gw_json_snowflake(v, &rid) == GW_JSON_OK)
                    check_role(roles, guild, rid);
            }
        }
        /* The router's lookup with a configured name that is not in the cache. */
        uint64_t none[1];
        (void)gw_roles_find_by_name(roles, guild, "Bot Manager", none, 1);
        free(d);
    }
    gw_roles_free(roles);
    return 0;
}
