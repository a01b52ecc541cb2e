/*
 * gw_roles: role cache (see gw_roles.h). Guilds are kept in an array sorted by id (binary
 * search; a bot sees guilds join rarely), each with a small unsorted role array (at most a few
 * hundred roles, scanned linearly). Events are decoded into a local list first and applied
 * under the write lock afterwards, so a malformed event changes nothing and the lock is never
 * held while parsing a large GUILD_CREATE.
 */
#include "discord/gw_roles.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "discord/gw_json.h"

typedef struct role {
    uint64_t id;
    char *name; /* owned */
} role;

typedef struct guild {
    uint64_t id;
    role *roles; /* owned */
    size_t n, cap;
} guild;

struct gw_roles {
    pthread_rwlock_t lock;
    guild *guilds; /* owned, sorted by id */
    size_t n, cap;
};

gw_roles *gw_roles_new(void)
{
    gw_roles *r = calloc(1, sizeof *r);
    if (!r) return NULL;
    if (pthread_rwlock_init(&r->lock, NULL) != 0) {
        free(r);
        return NULL;
    }
    return r;
}

static void guild_clear(guild *g)
{
    for (size_t i = 0; i < g->n; i++)
        free(g->roles[i].name);
    free(g->roles);
    g->roles = NULL;
    g->n = g->cap = 0;
}

void gw_roles_free(gw_roles *r)
{
    if (!r) return;
    for (size_t i = 0; i < r->n; i++)
        guild_clear(&r->guilds[i]);
    free(r->guilds);
    pthread_rwlock_destroy(&r->lock);
    free(r);
}

/* Index of the guild, or of where it would be inserted (*found false). */
static size_t find_guild(const gw_roles *r, uint64_t id, bool *found)
{
    size_t lo = 0, hi = r->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (r->guilds[mid].id < id)
            lo = mid + 1;
        else
            hi = mid;
    }
    *found = lo < r->n && r->guilds[lo].id == id;
    return lo;
}

static guild *get_guild(gw_roles *r, uint64_t id)
{
    bool found;
    size_t i = find_guild(r, id, &found);
    return found ? &r->guilds[i] : NULL;
}

/* Write lock held. NULL on allocation failure or when the guild limit is reached. */
static guild *upsert_guild(gw_roles *r, uint64_t id)
{
    bool found;
    size_t i = find_guild(r, id, &found);
    if (found) return &r->guilds[i];
    if (r->n >= GW_ROLES_MAX_GUILDS) return NULL;
    if (r->n == r->cap) {
        size_t cap = r->cap ? r->cap * 2 : 16;
        guild *g = realloc(r->guilds, cap * sizeof *g);
        if (!g) return NULL;
        r->guilds = g;
        r->cap = cap;
    }
    memmove(&r->guilds[i + 1], &r->guilds[i], (r->n - i) * sizeof *r->guilds);
    memset(&r->guilds[i], 0, sizeof *r->guilds);
    r->guilds[i].id = id;
    r->n++;
    return &r->guilds[i];
}

static void remove_guild(gw_roles *r, uint64_t id)
{
    bool found;
    size_t i = find_guild(r, id, &found);
    if (!found) return;
    guild_clear(&r->guilds[i]);
    memmove(&r->guilds[i], &r->guilds[i + 1], (r->n - i - 1) * sizeof *r->guilds);
    r->n--;
}

/* Sets (insert or rename) a role; takes ownership of name. Write lock held. */
static int guild_put_role(guild *g, uint64_t id, char *name)
{
    for (size_t i = 0; i < g->n; i++) {
        if (g->roles[i].id == id) {
            free(g->roles[i].name);
            g->roles[i].name = name;
            return 0;
        }
    }
    if (g->n >= GW_ROLES_MAX_PER_GUILD) {
        free(name);
        return -1;
    }
    if (g->n == g->cap) {
        size_t cap = g->cap ? g->cap * 2 : 8;
        role *p = realloc(g->roles, cap * sizeof *p);
        if (!p) {
            free(name);
            return -1;
        }
        g->roles = p;
        g->cap = cap;
    }
    g->roles[g->n].id = id;
    g->roles[g->n].name = name;
    g->n++;
    return 0;
}

/* Decodes {"id": "...", "name": "..."} into a fresh role. */
static int decode_role(gw_span obj, role *out)
{
    gw_span v;
    char name[GW_ROLES_NAME_MAX + 1];
    size_t n;
    if (gw_json_kind_of(obj) != GW_JSON_OBJECT) return -1;
    if (gw_json_get(obj, "id", &v) != 1 || gw_json_snowflake(v, &out->id) != GW_JSON_OK) return -1;
    if (gw_json_get(obj, "name", &v) != 1 || gw_json_string(v, name, sizeof name, &n) != GW_JSON_OK)
        return -1;
    out->name = malloc(n + 1);
    if (!out->name) return -1;
    memcpy(out->name, name, n + 1);
    return 0;
}

static void free_list(role *list, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(list[i].name);
    free(list);
}

static int apply_guild_create(gw_roles *r, gw_span d)
{
    /* One pass over a possibly huge object: pick id, unavailable and roles as they come. */
    gw_span k, v, roles = {0}, elem;
    uint64_t gid = 0;
    bool unavailable = false;
    size_t mit = 0;
    int mrc;
    while ((mrc = gw_json_object_next(d, &mit, &k, &v)) == 1) {
        if (k.len == 4 && memcmp(k.p, "\"id\"", 4) == 0) {
            if (gw_json_snowflake(v, &gid) != GW_JSON_OK) return -1;
        } else if (k.len == 13 && memcmp(k.p, "\"unavailable\"", 13) == 0) {
            unavailable = gw_json_kind_of(v) == GW_JSON_TRUE;
        } else if (k.len == 7 && memcmp(k.p, "\"roles\"", 7) == 0) {
            roles = v;
        }
    }
    if (mrc < 0 || gid == 0) return -1;
    if (unavailable) return 0; /* an outage: nothing to learn, keep what we had */
    if (gw_json_kind_of(roles) != GW_JSON_ARRAY) return -1;

    role *list = NULL;
    size_t n = 0, cap = 0, it = 0;
    int rc;
    while ((rc = gw_json_array_next(roles, &it, &elem)) == 1) {
        if (n >= GW_ROLES_MAX_PER_GUILD) break; /* keep the first ones; the limit is generous */
        if (n == cap) {
            cap = cap ? cap * 2 : 16;
            role *p = realloc(list, cap * sizeof *p);
            if (!p) {
                free_list(list, n);
                return -1;
            }
            list = p;
        }
        if (decode_role(elem, &list[n]) < 0) {
            free_list(list, n);
            return -1;
        }
        n++;
    }
    if (rc < 0) {
        free_list(list, n);
        return -1;
    }

    pthread_rwlock_wrlock(&r->lock);
    guild *g = upsert_guild(r, gid);
    int result = -1;
    if (g) {
        guild_clear(g); /* GUILD_CREATE carries the full role list */
        result = 1;
        for (size_t i = 0; i < n; i++) {
            if (guild_put_role(g, list[i].id, list[i].name) < 0) result = -1;
            list[i].name = NULL;
        }
    }
    pthread_rwlock_unlock(&r->lock);
    free_list(list, n);
    return result;
}

static int apply_role_upsert(gw_roles *r, gw_span d)
{
    gw_span v, obj;
    uint64_t gid;
    role one;
    if (gw_json_get(d, "guild_id", &v) != 1 || gw_json_snowflake(v, &gid) != GW_JSON_OK) return -1;
    if (gw_json_get(d, "role", &obj) != 1 || decode_role(obj, &one) < 0) return -1;
    pthread_rwlock_wrlock(&r->lock);
    guild *g = upsert_guild(r, gid);
    int rc = g ? guild_put_role(g, one.id, one.name) : (free(one.name), -1);
    pthread_rwlock_unlock(&r->lock);
    return rc < 0 ? -1 : 1;
}

static int apply_role_delete(gw_roles *r, gw_span d)
{
    gw_span v;
    uint64_t gid, rid;
    if (gw_json_get(d, "guild_id", &v) != 1 || gw_json_snowflake(v, &gid) != GW_JSON_OK) return -1;
    if (gw_json_get(d, "role_id", &v) != 1 || gw_json_snowflake(v, &rid) != GW_JSON_OK) return -1;
    int changed = 0;
    pthread_rwlock_wrlock(&r->lock);
    guild *g = get_guild(r, gid);
    if (g) {
        for (size_t i = 0; i < g->n; i++) {
            if (g->roles[i].id == rid) {
                free(g->roles[i].name);
                g->roles[i] = g->roles[g->n - 1];
                g->n--;
                changed = 1;
                break;
            }
        }
    }
    pthread_rwlock_unlock(&r->lock);
    return changed;
}

static int apply_guild_delete(gw_roles *r, gw_span d)
{
    gw_span v;
    uint64_t gid;
    if (gw_json_get(d, "id", &v) != 1 || gw_json_snowflake(v, &gid) != GW_JSON_OK) return -1;
    /* unavailable:true is an outage, not a removal: the roles are still valid. */
    if (gw_json_get(d, "unavailable", &v) == 1 && gw_json_kind_of(v) == GW_JSON_TRUE) return 0;
    pthread_rwlock_wrlock(&r->lock);
    bool found;
    find_guild(r, gid, &found);
    if (found) remove_guild(r, gid);
    pthread_rwlock_unlock(&r->lock);
    return found ? 1 : 0;
}

int gw_roles_apply(gw_roles *r, const char *event, const char *d, size_t d_len)
{
    if (!r || !event) return 0;
    enum { NONE, GCREATE, RUPSERT, RDELETE, GDELETE } kind = NONE;
    if (strcmp(event, "GUILD_CREATE") == 0)
        kind = GCREATE;
    else if (strcmp(event, "GUILD_ROLE_CREATE") == 0 || strcmp(event, "GUILD_ROLE_UPDATE") == 0)
        kind = RUPSERT;
    else if (strcmp(event, "GUILD_ROLE_DELETE") == 0)
        kind = RDELETE;
    else if (strcmp(event, "GUILD_DELETE") == 0)
        kind = GDELETE;
    if (kind == NONE) return 0;
    /* The span is validated member by member by the handlers (no separate full pass). */
    if (!d) return -1;
    while (d_len > 0 && (d[d_len - 1] == ' ' || d[d_len - 1] == '\n' || d[d_len - 1] == '\r' ||
                         d[d_len - 1] == '\t'))
        d_len--;
    while (d_len > 0 && (*d == ' ' || *d == '\n' || *d == '\r' || *d == '\t')) {
        d++;
        d_len--;
    }
    gw_span root = {d, d_len};
    if (d_len < 2 || d[0] != '{' || d[d_len - 1] != '}') return -1;
    switch (kind) {
    case GCREATE:
        return apply_guild_create(r, root);
    case RUPSERT:
        return apply_role_upsert(r, root);
    case RDELETE:
        return apply_role_delete(r, root);
    case GDELETE:
        return apply_guild_delete(r, root);
    default:
        return 0;
    }
}

size_t gw_roles_find_by_name(gw_roles *r, uint64_t guild_id, const char *name, uint64_t *ids,
                             size_t max)
{
    if (!r || !name) return 0;
    size_t found = 0;
    pthread_rwlock_rdlock(&r->lock);
    const guild *g = get_guild(r, guild_id);
    for (size_t i = 0; g && i < g->n; i++) {
        if (strcmp(g->roles[i].name, name) == 0) {
            if (found < max && ids) ids[found] = g->roles[i].id;
            found++;
        }
    }
    pthread_rwlock_unlock(&r->lock);
    return found;
}

bool gw_roles_name(gw_roles *r, uint64_t guild_id, uint64_t role_id, char *buf, size_t cap)
{
    if (!r || !buf || cap == 0) return false;
    bool ok = false;
    pthread_rwlock_rdlock(&r->lock);
    const guild *g = get_guild(r, guild_id);
    for (size_t i = 0; g && i < g->n; i++) {
        if (g->roles[i].id == role_id) {
            size_t n = strlen(g->roles[i].name);
            if (n >= cap) n = cap - 1;
            memcpy(buf, g->roles[i].name, n);
            buf[n] = '\0';
            ok = true;
            break;
        }
    }
    pthread_rwlock_unlock(&r->lock);
    return ok;
}

bool gw_roles_member_has(gw_roles *r, uint64_t guild_id, const uint64_t *member_roles, size_t n,
                         const char *name)
{
    if (!r || !name || (!member_roles && n)) return false;
    bool has = false;
    pthread_rwlock_rdlock(&r->lock);
    const guild *g = get_guild(r, guild_id);
    for (size_t i = 0; g && i < g->n && !has; i++) {
        if (strcmp(g->roles[i].name, name) != 0) continue;
        for (size_t k = 0; k < n; k++) {
            if (member_roles[k] == g->roles[i].id) {
                has = true;
                break;
            }
        }
    }
    pthread_rwlock_unlock(&r->lock);
    return has;
}

size_t gw_roles_guild_count(gw_roles *r)
{
    if (!r) return 0;
    pthread_rwlock_rdlock(&r->lock);
    size_t n = r->n;
    pthread_rwlock_unlock(&r->lock);
    return n;
}

size_t gw_roles_role_count(gw_roles *r, uint64_t guild_id)
{
    if (!r) return 0;
    pthread_rwlock_rdlock(&r->lock);
    const guild *g = get_guild(r, guild_id);
    size_t n = g ? g->n : 0;
    pthread_rwlock_unlock(&r->lock);
    return n;
}
