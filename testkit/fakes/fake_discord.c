/*
 * The loopback Discord facade (see fake_discord.h). Owns one fake gateway and one fake REST
 * server and the id/token minting for injected interactions; the payloads it dispatches have
 * the shape of real INTERACTION_CREATE events (docs: interactions/receiving-and-responding.mdx).
 */
#include "fakes/fake_discord.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cjson/cJSON.h>

#include "util/util_hash.h"
#include "util/util_json.h"

#define FD_DEFAULT_APP 100000000000000001ull
#define FD_DEFAULT_GUILD 200000000000000001ull
#define FD_DEFAULT_CHANNEL 200000000000000002ull
#define FD_DEFAULT_USER 300000000000000001ull
#define FD_DISCORD_EPOCH_MS 1420070400000ull
/* VIEW_CHANNEL | SEND_MESSAGES | USE_APPLICATION_COMMANDS */
#define FD_DEFAULT_PERMS ((1ull << 10) | (1ull << 11) | (1ull << 31))

struct fake_discord {
    fake_gateway *gw;
    fake_rest *rest;
    uint64_t app_id;
    uint32_t shards;
    pthread_mutex_t mu;
    uint64_t seq;
    uint64_t rng;
};

static int gateway_bot_provider(void *ctx, char *buf, size_t cap)
{
    return fake_gateway_gateway_bot_json((fake_gateway *)ctx, buf, cap);
}

fake_discord *fake_discord_start(const fake_discord_options *o)
{
    if (!o || !o->token || !*o->token) return NULL;
    fake_discord *fd = calloc(1, sizeof *fd);
    if (!fd) return NULL;
    fd->app_id = o->application_id ? o->application_id : FD_DEFAULT_APP;
    fd->shards = o->shards ? o->shards : 1;
    pthread_mutex_init(&fd->mu, NULL);
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    fd->rng = ((uint64_t)ts.tv_sec << 32) ^ (uint64_t)ts.tv_nsec ^ (uint64_t)(uintptr_t)fd;

    fake_gateway_options go = {.token = o->token,
                               .heartbeat_interval_ms = o->heartbeat_interval_ms,
                               .shards = fd->shards,
                               .max_concurrency = o->max_concurrency,
                               .allowed_intents = o->allowed_intents,
                               .identify_interval_ms = o->identify_interval_ms,
                               .application_id = fd->app_id,
                               .guilds_json = o->guilds_json};
    fd->gw = fake_gateway_start(&go);
    if (!fd->gw) goto fail;
    fake_rest_config rc = {.token = o->token,
                           .application_id = fd->app_id,
                           .gateway_url = fake_gateway_ws_url(fd->gw),
                           .shards = fd->shards,
                           .max_concurrency = o->max_concurrency,
                           .callback_deadline_ms = o->callback_deadline_ms,
                           .enforce_limits = o->enforce_limits,
                           .gateway_bot_json = gateway_bot_provider,
                           .gateway_bot_ctx = fd->gw};
    fd->rest = fake_rest_start(&rc);
    if (!fd->rest) goto fail;
    return fd;
fail:
    fake_discord_stop(fd);
    return NULL;
}

void fake_discord_stop(fake_discord *fd)
{
    if (!fd) return;
    /* REST first: its /gateway/bot provider points into the gateway. */
    fake_rest_stop(fd->rest);
    fake_gateway_stop(fd->gw);
    pthread_mutex_destroy(&fd->mu);
    free(fd);
}

const char *fake_discord_api_base(const fake_discord *fd)
{
    return fake_rest_base_url(fd->rest);
}
uint64_t fake_discord_application_id(const fake_discord *fd)
{
    return fd->app_id;
}
fake_gateway *fake_discord_gateway(fake_discord *fd)
{
    return fd->gw;
}
fake_rest *fake_discord_rest(fake_discord *fd)
{
    return fd->rest;
}

/* ---- minting ------------------------------------------------------------------------------- */

static uint64_t next_rand(fake_discord *fd)
{
    /* splitmix64: tokens only need to be unique and URL-safe, not secret. */
    uint64_t z = (fd->rng += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static void mint(fake_discord *fd, uint64_t *id, char *token, size_t cap)
{
    static const char alphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    uint64_t ms = (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
    pthread_mutex_lock(&fd->mu);
    *id = ((ms - FD_DISCORD_EPOCH_MS) << 22) | (++fd->seq & 0x3FFFFF);
    /* Real tokens look like "aW50ZXJhY3Rpb246<id>:<random>" in base64url; this keeps the shape
     * and length (well over 100 characters) without claiming to be decodable. */
    int n = snprintf(token, cap, "aW50ZXJhY3Rpb246%" PRIu64 ".", *id);
    for (size_t i = (size_t)n; i + 1 < cap && i < 140; i++)
        token[i] = alphabet[next_rand(fd) & 63];
    token[cap - 1 < 140 ? cap - 1 : 140] = '\0';
    pthread_mutex_unlock(&fd->mu);
}

/* ---- injection ------------------------------------------------------------------------------ */

/* Builds and dispatches the event; takes ownership of data. */
static int inject_obj(fake_discord *fd, int type, cJSON *data, uint64_t message_id,
                      const fake_discord_member *who, fake_discord_ix *out)
{
    fake_discord_member def = {0};
    if (!who) who = &def;
    bool dm = who->dm;
    uint64_t user = who->user_id ? who->user_id : FD_DEFAULT_USER;
    uint64_t guild = dm ? 0 : who->guild_id ? who->guild_id : FD_DEFAULT_GUILD;
    uint64_t channel = who->channel_id ? who->channel_id : FD_DEFAULT_CHANNEL;
    uint64_t perms = who->has_permissions || who->permissions ? who->permissions : FD_DEFAULT_PERMS;
    const char *uname = who->username ? who->username : "tester";
    const char *locale = who->locale ? who->locale : "en-US";

    fake_discord_ix ix = {.channel_id = channel};
    mint(fd, &ix.id, ix.token, sizeof ix.token);

    cJSON *d = cJSON_CreateObject();
    util_json_add_u64(d, "id", ix.id);
    util_json_add_u64(d, "application_id", fd->app_id);
    cJSON_AddNumberToObject(d, "type", type);
    cJSON_AddStringToObject(d, "token", ix.token);
    cJSON_AddNumberToObject(d, "version", 1);
    if (guild) util_json_add_u64(d, "guild_id", guild);
    util_json_add_u64(d, "channel_id", channel);
    cJSON *ch = cJSON_AddObjectToObject(d, "channel");
    util_json_add_u64(ch, "id", channel);
    cJSON_AddNumberToObject(ch, "type", dm ? 1 : 0);
    if (!dm) cJSON_AddBoolToObject(ch, "nsfw", who->channel_nsfw);
    cJSON *u = cJSON_CreateObject();
    util_json_add_u64(u, "id", user);
    cJSON_AddStringToObject(u, "username", uname);
    cJSON_AddStringToObject(u, "global_name", uname);
    cJSON_AddStringToObject(u, "discriminator", "0");
    cJSON_AddNullToObject(u, "avatar");
    char pbuf[24];
    snprintf(pbuf, sizeof pbuf, "%" PRIu64, perms);
    if (dm) {
        cJSON_AddItemToObject(d, "user", u);
    } else {
        cJSON *m = cJSON_AddObjectToObject(d, "member");
        cJSON_AddItemToObject(m, "user", u);
        cJSON *roles = cJSON_AddArrayToObject(m, "roles");
        for (unsigned i = 0; i < who->nroles; i++)
            cJSON_AddItemToArray(roles, util_json_u64(who->roles[i]));
        cJSON_AddStringToObject(m, "permissions", pbuf);
        cJSON_AddStringToObject(m, "joined_at", "2024-01-01T00:00:00.000000+00:00");
        cJSON_AddNullToObject(m, "nick");
        cJSON_AddFalseToObject(m, "deaf");
        cJSON_AddFalseToObject(m, "mute");
        cJSON_AddNumberToObject(m, "flags", 0);
        cJSON_AddStringToObject(d, "guild_locale", "en-US");
    }
    /* The bot's own permissions in the channel: send, embed, attach. */
    cJSON_AddStringToObject(d, "app_permissions", "2147601408");
    cJSON_AddStringToObject(d, "locale", locale);
    cJSON_AddArrayToObject(d, "entitlements");
    cJSON *owners = cJSON_AddObjectToObject(d, "authorizing_integration_owners");
    if (guild)
        util_json_add_u64(owners, "0", guild);
    else
        util_json_add_u64(owners, "1", user);
    cJSON_AddNumberToObject(d, "context", dm ? 1 : 0);
    cJSON_AddNumberToObject(d, "attachment_size_limit",
                            who->attachment_size_limit ? (double)who->attachment_size_limit
                                                       : 26214400);
    if (type == 3 || (type == 5 && message_id)) {
        /* A component lives on a message of the bot (so does a modal its button opened). */
        cJSON *msg = cJSON_AddObjectToObject(d, "message");
        util_json_add_u64(msg, "id", message_id ? message_id : 1);
        util_json_add_u64(msg, "channel_id", channel);
        cJSON_AddStringToObject(msg, "content", "");
        cJSON_AddNumberToObject(msg, "type", 20);
        cJSON *au = cJSON_AddObjectToObject(msg, "author");
        util_json_add_u64(au, "id", fd->app_id);
        cJSON_AddTrueToObject(au, "bot");
        cJSON_AddArrayToObject(msg, "components");
    }
    cJSON_AddItemToObject(d, "data", data);

    char *text = cJSON_PrintUnformatted(d);
    cJSON_Delete(d);
    if (!text) return -1;
    /* Known to the REST side first: the 3-second window starts as the event leaves. */
    fake_rest_register_interaction(fd->rest, ix.id, ix.token, channel,
                                   type == 3 || (type == 5 && message_id));
    if (type == 5) fake_rest_set_modal_submit(fd->rest, ix.id);
    int shard = guild ? (int)((guild >> 22) % fd->shards) : 0;
    ix.sessions = fake_gateway_dispatch(fd->gw, shard, "INTERACTION_CREATE", text);
    free(text);
    if (ix.sessions < 0) return -1;
    if (out) *out = ix;
    return 0;
}

int fake_discord_inject(fake_discord *fd, int type, const char *data_json,
                        const fake_discord_member *who, fake_discord_ix *out)
{
    if (!fd || (type != 2 && type != 3 && type != 4) || !data_json) return -1;
    cJSON *data = cJSON_Parse(data_json);
    if (!cJSON_IsObject(data)) {
        cJSON_Delete(data);
        return -1;
    }
    return inject_obj(fd, type, data, 0, who, out);
}

static uint64_t command_id(const char *name)
{
    return (util_fnv1a_str(name) >> 2) | 1; /* a stable non-zero id per name */
}

static cJSON *command_data(const char *name, const char *options_json)
{
    cJSON *data = cJSON_CreateObject();
    util_json_add_u64(data, "id", command_id(name));
    cJSON_AddStringToObject(data, "name", name);
    cJSON_AddNumberToObject(data, "type", 1);
    if (options_json) {
        cJSON *opts = cJSON_Parse(options_json);
        if (!cJSON_IsArray(opts)) {
            cJSON_Delete(opts);
            cJSON_Delete(data);
            return NULL;
        }
        cJSON_AddItemToObject(data, "options", opts);
    }
    return data;
}

int fake_discord_inject_command(fake_discord *fd, const char *name, const char *options_json,
                                const fake_discord_file *files, unsigned nfiles,
                                const fake_discord_member *who, fake_discord_ix *out)
{
    if (!fd || !name) return -1;
    cJSON *data = command_data(name, options_json);
    if (!data) return -1;
    if (nfiles) {
        cJSON *opts = cJSON_GetObjectItem(data, "options");
        if (!opts) opts = cJSON_AddArrayToObject(data, "options");
        cJSON *atts =
            cJSON_AddObjectToObject(cJSON_AddObjectToObject(data, "resolved"), "attachments");
        for (unsigned i = 0; i < nfiles; i++) {
            const fake_discord_file *f = &files[i];
            if (!f->option) {
                cJSON_Delete(data);
                return -1;
            }
            char url[512], idb[24];
            uint64_t id = fake_rest_add_attachment(fd->rest, f->filename, f->content_type, f->data,
                                                   f->len, url, sizeof url);
            snprintf(idb, sizeof idb, "%" PRIu64, id);
            cJSON *o = cJSON_CreateObject();
            cJSON_AddStringToObject(o, "name", f->option);
            cJSON_AddNumberToObject(o, "type", 11);
            cJSON_AddStringToObject(o, "value", idb);
            cJSON_AddItemToArray(opts, o);
            cJSON *a = cJSON_AddObjectToObject(atts, idb);
            cJSON_AddStringToObject(a, "id", idb);
            cJSON_AddStringToObject(a, "filename", f->filename ? f->filename : "file.bin");
            cJSON_AddNumberToObject(a, "size", (double)f->len);
            cJSON_AddStringToObject(a, "url", url);
            cJSON_AddStringToObject(a, "proxy_url", url);
            if (f->content_type) cJSON_AddStringToObject(a, "content_type", f->content_type);
        }
    }
    return inject_obj(fd, 2, data, 0, who, out);
}

int fake_discord_inject_autocomplete(fake_discord *fd, const char *name, const char *options_json,
                                     const fake_discord_member *who, fake_discord_ix *out)
{
    if (!fd || !name || !options_json) return -1;
    cJSON *data = command_data(name, options_json);
    if (!data) return -1;
    return inject_obj(fd, 4, data, 0, who, out);
}

int fake_discord_inject_component(fake_discord *fd, const char *custom_id, int component_type,
                                  const char *values_json, uint64_t message_id,
                                  const fake_discord_member *who, fake_discord_ix *out)
{
    if (!fd || !custom_id || !*custom_id) return -1;
    cJSON *data = cJSON_CreateObject();
    cJSON_AddStringToObject(data, "custom_id", custom_id);
    cJSON_AddNumberToObject(data, "component_type", component_type ? component_type : 2);
    if (values_json) {
        cJSON *v = cJSON_Parse(values_json);
        if (!cJSON_IsArray(v)) {
            cJSON_Delete(v);
            cJSON_Delete(data);
            return -1;
        }
        cJSON_AddItemToObject(data, "values", v);
    }
    return inject_obj(fd, 3, data, message_id, who, out);
}

int fake_discord_inject_modal(fake_discord *fd, const char *custom_id, const char *fields_json,
                              uint64_t message_id, const fake_discord_member *who,
                              fake_discord_ix *out)
{
    if (!fd || !custom_id || !*custom_id || !fields_json) return -1;
    cJSON *fields = cJSON_Parse(fields_json);
    if (!cJSON_IsObject(fields)) {
        cJSON_Delete(fields);
        return -1;
    }
    cJSON *data = cJSON_CreateObject();
    cJSON_AddStringToObject(data, "custom_id", custom_id);
    cJSON *rows = cJSON_AddArrayToObject(data, "components");
    const cJSON *f;
    cJSON_ArrayForEach(f, fields)
    {
        cJSON *row = cJSON_CreateObject();
        cJSON_AddNumberToObject(row, "type", 1);
        cJSON *in = cJSON_CreateObject();
        cJSON_AddNumberToObject(in, "type", 4);
        cJSON_AddStringToObject(in, "custom_id", f->string);
        cJSON_AddStringToObject(in, "value", cJSON_IsString(f) ? f->valuestring : "");
        cJSON_AddItemToArray(cJSON_AddArrayToObject(row, "components"), in);
        cJSON_AddItemToArray(rows, row);
    }
    cJSON_Delete(fields);
    return inject_obj(fd, 5, data, message_id, who, out);
}
