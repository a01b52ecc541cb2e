/* Access rules per command: build from the configuration, check, explain (see mod_access.h). */
#include "moderation/mod_access.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "util/util_dec.h"
#include "util/util_utf8.h"

static int add_channel(mod_access_rule *r, const char *s, const char *where, char *err,
                       size_t errlen)
{
    uint64_t id;
    if (!s || !util_dec_snowflake(s, &id)) {
        snprintf(err, errlen, "%s: \"%.40s\" is not a channel id", where, s ? s : "");
        return -1;
    }
    if (r->nchannels >= MOD_ACCESS_LIST_MAX) {
        snprintf(err, errlen, "%s: more than %d channels", where, MOD_ACCESS_LIST_MAX);
        return -1;
    }
    r->channels[r->nchannels++] = id;
    return 0;
}

static int add_role(mod_access_rule *r, const char *s, const char *where, char *err, size_t errlen)
{
    size_t chars;
    if (!s || !*s || !util_utf8_valid(s, strlen(s), &chars) || chars > 100) {
        snprintf(err, errlen, "%s: a role must be an id or a name of 1..100 characters", where);
        return -1;
    }
    if (r->nroles >= MOD_ACCESS_LIST_MAX) {
        snprintf(err, errlen, "%s: more than %d roles", where, MOD_ACCESS_LIST_MAX);
        return -1;
    }
    uint64_t id = 0;
    if (!util_dec_snowflake(s, &id)) id = 0;
    r->role_ids[r->nroles] = id;
    snprintf(r->role_names[r->nroles], sizeof r->role_names[0], "%s", s);
    r->nroles++;
    return 0;
}

static int json_list(const cJSON *v, mod_access_rule *r, bool channels, const char *where,
                     char *err, size_t errlen)
{
    if (!cJSON_IsArray(v)) {
        snprintf(err, errlen, "%s must be an array of strings", where);
        return -1;
    }
    const cJSON *it;
    cJSON_ArrayForEach(it, v)
    {
        if (!cJSON_IsString(it)) {
            snprintf(err, errlen, "%s: every entry must be a string (ids are strings)", where);
            return -1;
        }
        int rc = channels ? add_channel(r, it->valuestring, where, err, errlen)
                          : add_role(r, it->valuestring, where, err, errlen);
        if (rc) return -1;
    }
    return 0;
}

int mod_access_build(mod_access *out, const fb_config *cfg, const char *const *known, char *err,
                     size_t errlen)
{
    memset(out, 0, sizeof *out);
    mod_access_rule *d = &out->dflt;
    d->has_channels = d->has_roles = d->has_dms = d->has_nsfw = true;
    for (unsigned i = 0; i < cfg->access_channels.count; i++)
        if (add_channel(d, cfg->access_channels.items[i], "access_channels", err, errlen))
            return -1;
    for (unsigned i = 0; i < cfg->access_roles.count; i++)
        if (add_role(d, cfg->access_roles.items[i], "access_roles", err, errlen)) return -1;
    d->dms = cfg->access_dms;
    d->nsfw_only = cfg->access_nsfw_only;

    const char *text = cfg->access_commands[0] ? cfg->access_commands : "{}";
    cJSON *root = cJSON_Parse(text);
    if (!cJSON_IsObject(root)) {
        cJSON_Delete(root);
        snprintf(err, errlen, "access_commands must be a JSON object");
        return -1;
    }
    int rc = 0;
    const cJSON *cmd;
    cJSON_ArrayForEach(cmd, root)
    {
        bool found = false;
        for (unsigned i = 0; known && known[i]; i++)
            found |= strcmp(known[i], cmd->string) == 0;
        char where[96];
        snprintf(where, sizeof where, "access_commands.%.40s", cmd->string);
        if (!found) {
            snprintf(err, errlen, "%s: no such command", where);
            rc = -1;
            break;
        }
        if (!cJSON_IsObject(cmd)) {
            snprintf(err, errlen, "%s must be an object", where);
            rc = -1;
            break;
        }
        if (out->ncmds >= MOD_ACCESS_COMMANDS_MAX) {
            snprintf(err, errlen, "access_commands: too many commands");
            rc = -1;
            break;
        }
        mod_access_rule *r = &out->cmds[out->ncmds];
        memset(r, 0, sizeof *r);
        snprintf(out->names[out->ncmds], sizeof out->names[0], "%s", cmd->string);
        const cJSON *f;
        cJSON_ArrayForEach(f, cmd)
        {
            char fw[160];
            snprintf(fw, sizeof fw, "%s.%.40s", where, f->string);
            if (strcmp(f->string, "channels") == 0) {
                r->has_channels = true;
                rc = json_list(f, r, true, fw, err, errlen);
            } else if (strcmp(f->string, "roles") == 0) {
                r->has_roles = true;
                rc = json_list(f, r, false, fw, err, errlen);
            } else if (strcmp(f->string, "dms") == 0 || strcmp(f->string, "nsfw_only") == 0) {
                if (!cJSON_IsBool(f)) {
                    snprintf(err, errlen, "%s must be true or false", fw);
                    rc = -1;
                } else if (f->string[0] == 'd') {
                    r->has_dms = true;
                    r->dms = cJSON_IsTrue(f);
                } else {
                    r->has_nsfw = true;
                    r->nsfw_only = cJSON_IsTrue(f);
                }
            } else {
                snprintf(err, errlen, "%s: unknown field (channels, roles, dms, nsfw_only)", fw);
                rc = -1;
            }
            if (rc) break;
        }
        if (rc) break;
        out->ncmds++;
    }
    cJSON_Delete(root);
    return rc;
}

void mod_access_effective(const mod_access *a, const char *command, mod_access_rule *out)
{
    *out = a->dflt;
    for (unsigned i = 0; command && i < a->ncmds; i++) {
        if (strcmp(a->names[i], command) != 0) continue;
        const mod_access_rule *c = &a->cmds[i];
        if (c->has_channels) {
            memcpy(out->channels, c->channels, sizeof c->channels);
            out->nchannels = c->nchannels;
        }
        if (c->has_roles) {
            memcpy(out->role_ids, c->role_ids, sizeof c->role_ids);
            memcpy(out->role_names, c->role_names, sizeof c->role_names);
            out->nroles = c->nroles;
        }
        if (c->has_dms) out->dms = c->dms;
        if (c->has_nsfw) out->nsfw_only = c->nsfw_only;
    }
}

static bool has_role(const mod_access_rule *r, const mod_access_who *who, gw_roles *roles)
{
    for (unsigned k = 0; k < r->nroles; k++) {
        uint64_t ids[16];
        size_t n = 0;
        if (r->role_ids[k]) {
            ids[0] = r->role_ids[k];
            n = 1;
        } else if (roles && who->guild_id) {
            n = gw_roles_find_by_name(roles, who->guild_id, r->role_names[k], ids, 16);
            if (n > 16) n = 16;
        }
        for (size_t j = 0; j < n; j++)
            for (unsigned m = 0; m < who->nroles; m++)
                if (who->roles[m] == ids[j]) return true;
    }
    return false;
}

mod_access_result mod_access_check(const mod_access *a, const char *command, bool generation,
                                   const mod_access_who *who, gw_roles *roles)
{
    mod_access_rule r;
    mod_access_effective(a, command, &r);
    if (!who->in_guild) return r.dms ? MOD_ACCESS_OK : MOD_ACCESS_NO_DM;
    if (r.nchannels) {
        bool ok = false;
        for (unsigned i = 0; i < r.nchannels; i++)
            ok |= r.channels[i] == who->channel_id;
        if (!ok) return MOD_ACCESS_CHANNEL;
    }
    if (generation && r.nsfw_only && !who->channel_nsfw) return MOD_ACCESS_NSFW;
    if (r.nroles && !who->admin && !has_role(&r, who, roles)) return MOD_ACCESS_ROLE;
    return MOD_ACCESS_OK;
}

void mod_access_explain(const mod_access *a, const char *command, mod_access_result res, char *out,
                        size_t cap)
{
    mod_access_rule r;
    mod_access_effective(a, command, &r);
    size_t o = 0;
#define ADD(...)                                                                                   \
    do {                                                                                           \
        if (o < cap) {                                                                             \
            int n_ = snprintf(out + o, cap - o, __VA_ARGS__);                                      \
            if (n_ > 0) o += (size_t)n_;                                                           \
        }                                                                                          \
    } while (0)
    if (cap) out[0] = '\0';
    switch (res) {
    case MOD_ACCESS_NO_DM:
        ADD("\xf0\x9f\x9a\xab /%s does not work in direct messages; use it in a server channel",
            command);
        if (r.nchannels) {
            ADD(":");
            for (unsigned i = 0; i < r.nchannels; i++)
                ADD(" <#%" PRIu64 ">", r.channels[i]);
        }
        ADD(".");
        break;
    case MOD_ACCESS_CHANNEL:
        ADD("\xf0\x9f\x9a\xab /%s can be used only in", command);
        for (unsigned i = 0; i < r.nchannels; i++)
            ADD("%s <#%" PRIu64 ">", i ? "," : "", r.channels[i]);
        ADD(".");
        break;
    case MOD_ACCESS_NSFW:
        ADD("\xf0\x9f\x9a\xab /%s can be used only in age-restricted (NSFW) channels", command);
        if (r.nchannels) {
            ADD(":");
            for (unsigned i = 0; i < r.nchannels; i++)
                ADD("%s <#%" PRIu64 ">", i ? "," : "", r.channels[i]);
        }
        ADD(".");
        break;
    case MOD_ACCESS_ROLE:
        ADD("\xf0\x9f\x9a\xab /%s is for members with the role", command);
        ADD("%s", r.nroles > 1 ? "s" : "");
        for (unsigned i = 0; i < r.nroles; i++) {
            if (r.role_ids[i])
                ADD("%s <@&%" PRIu64 ">", i ? "," : "", r.role_ids[i]);
            else
                ADD("%s \"%s\"", i ? "," : "", r.role_names[i]);
        }
        ADD(".");
        break;
    default:
        break;
    }
#undef ADD
    if (cap && o >= cap) out[cap - 1] = '\0';
}
