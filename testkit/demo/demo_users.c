/*
 * Simulated users (see demo_users.h): option builders for each kind of interaction, a seeded
 * choice among valid resolutions, LoRAs and options, and injection through the fake Discord.
 */
#include "demo/demo_users.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "comfy/img.h"
#include "fakes/image_fixture.h"
#include "comfy/cres.h"
#include "discord/cmd.h"

static const char *const kind_names[DEMO_USERS_KIND_COUNT] = {
    "comfy", "redux",      "pulid",   "video",  "stats",
    "bad",   "regenerate", "upscale", "delete", "options",
};

const char *demo_users_kind_name(demo_users_kind k)
{
    return k < DEMO_USERS_KIND_COUNT ? kind_names[k] : "?";
}

bool demo_users_kind_is_job(demo_users_kind k)
{
    return k == DEMO_USERS_COMFY || k == DEMO_USERS_REDUX || k == DEMO_USERS_PULID ||
           k == DEMO_USERS_VIDEO || k == DEMO_USERS_BTN_REGENERATE || k == DEMO_USERS_BTN_UPSCALE ||
           k == DEMO_USERS_BTN_OPTIONS;
}

bool demo_users_kind_is_button(demo_users_kind k)
{
    return k == DEMO_USERS_BTN_REGENERATE || k == DEMO_USERS_BTN_UPSCALE ||
           k == DEMO_USERS_BTN_DELETE || k == DEMO_USERS_BTN_OPTIONS;
}

static uint64_t next_rand(uint64_t *s)
{
    uint64_t x = *s ? *s : 0x9E3779B97F4A7C15ull;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *s = x;
    return x * 0x2545F4914F6CDD1Dull;
}

static unsigned pick(uint64_t *rng, unsigned n)
{
    return n ? (unsigned)(next_rand(rng) % n) : 0;
}

int demo_users_init(demo_users *u, fake_discord *fd, const char *ratios_file,
                    const char *loras_file, uint64_t seed, char *err, size_t errlen)
{
    memset(u, 0, sizeof *u);
    u->fd = fd;
    u->rng = seed ? seed : 1;
    if (ratios_load_file(&u->ratios, ratios_file, err, errlen) != 0) return -1;
    /* LoRAs are optional: without a list the users simply never pick one. */
    char lerr[256];
    if (loras_file && loras_file[0] &&
        loras_load_file(&u->loras, loras_file, lerr, sizeof lerr) != 0)
        memset(&u->loras, 0, sizeof u->loras);
    u->png = image_fixture_png(96, 64, 1, seed, &u->png_len);
    if (!u->png) {
        snprintf(err, errlen, "could not make the attachment picture");
        loras_free(&u->loras);
        return -1;
    }
    return 0;
}

void demo_users_free(demo_users *u)
{
    loras_free(&u->loras);
    free(u->png);
    memset(u, 0, sizeof *u);
}

static void opt_str(cJSON *a, const char *name, const char *v)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "name", name);
    cJSON_AddNumberToObject(o, "type", CMD_OPT_STRING);
    cJSON_AddStringToObject(o, "value", v);
    cJSON_AddItemToArray(a, o);
}

static void opt_num(cJSON *a, const char *name, int type, double v)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "name", name);
    cJSON_AddNumberToObject(o, "type", type);
    cJSON_AddNumberToObject(o, "value", v);
    cJSON_AddItemToArray(a, o);
}

static const char *const subjects[] = {
    "a lighthouse at dusk",          "a red fox in fresh snow",   "a city of glass on the moon",
    "an old tram in Lisbon",         "a bowl of ramen, top view", "a robot tending a garden",
    "a storm over a wheat field",    "a cat astronaut, portrait", "a quiet library at night",
    "mountains reflected in a lake",
};
static const char *const styles[] = {
    "oil painting", "35mm photo", "watercolor", "isometric render", "ink sketch", "cinematic",
};

static void prompt_for(demo_users *u, uint64_t seq, char *out, size_t cap)
{
    snprintf(out, cap, "%s, %s #%" PRIu64, subjects[pick(&u->rng, 10)], styles[pick(&u->rng, 6)],
             seq);
}

static const char *resolution(demo_users *u)
{
    return u->ratios.count ? u->ratios.items[pick(&u->rng, u->ratios.count)].label
                           : "1:1 [1024x1024 square]";
}

int demo_users_inject(demo_users *u, demo_users_kind kind, uint64_t seq, uint64_t user_id,
                      const demo_users_button_target *btn, demo_users_sent *out)
{
    memset(out, 0, sizeof *out);
    out->kind = kind;
    out->seq = seq;
    char uname[32];
    snprintf(uname, sizeof uname, "user%" PRIu64, user_id % 100000);
    fake_discord_member who = {.user_id = user_id, .username = uname};
    fake_discord_ix ix;
    int rc = -1;

    if (demo_users_kind_is_button(kind)) {
        if (!btn) return -1;
        const char *cid = kind == DEMO_USERS_BTN_REGENERATE ? btn->regenerate
                          : kind == DEMO_USERS_BTN_UPSCALE  ? btn->upscale
                          : kind == DEMO_USERS_BTN_OPTIONS  ? btn->options
                                                            : btn->del;
        if (!cid[0]) return -1;
        who.user_id = btn->owner_id;
        rc = fake_discord_inject_component(u->fd, cid, 2, NULL, btn->message_id, &who, &ix);
    } else {
        cJSON *opts = cJSON_CreateArray();
        char prompt[200];
        const char *name = kind_names[kind];
        fake_discord_file files[2];
        unsigned nfiles = 0;
        switch (kind) {
        case DEMO_USERS_COMFY:
            prompt_for(u, seq, prompt, sizeof prompt);
            opt_str(opts, "prompt", prompt);
            opt_str(opts, "resolution", resolution(u));
            if (pick(&u->rng, 4) == 0) opt_num(opts, "upscale_factor", CMD_OPT_INTEGER, 2);
            if (pick(&u->rng, 3) == 0)
                opt_num(opts, "seed", CMD_OPT_INTEGER, (double)(next_rand(&u->rng) % 1000000));
            if (u->loras.count && pick(&u->rng, 3) == 0)
                opt_str(opts, "lora", u->loras.items[pick(&u->rng, u->loras.count)].name);
            if (u->enhance && pick(&u->rng, 3) == 0)
                opt_num(opts, "enhance", CMD_OPT_INTEGER, 1 + (double)pick(&u->rng, 10));
            break;
        case DEMO_USERS_REDUX:
            files[0] = (fake_discord_file){"image1", "first.png", "image/png", u->png, u->png_len};
            files[1] = (fake_discord_file){"image2", "second.png", "image/png", u->png, u->png_len};
            nfiles = 2;
            opt_str(opts, "resolution", resolution(u));
            opt_num(opts, "strength1", CMD_OPT_NUMBER, 0.9);
            opt_num(opts, "strength2", CMD_OPT_NUMBER, 0.4);
            break;
        case DEMO_USERS_PULID:
            prompt_for(u, seq, prompt, sizeof prompt);
            opt_str(opts, "prompt", prompt);
            files[0] = (fake_discord_file){"image", "face.png", "image/png", u->png, u->png_len};
            nfiles = 1;
            opt_str(opts, "resolution", resolution(u));
            opt_num(opts, "strength", CMD_OPT_NUMBER, 0.6);
            break;
        case DEMO_USERS_VIDEO:
            prompt_for(u, seq, prompt, sizeof prompt);
            opt_str(opts, "prompt", prompt);
            break;
        case DEMO_USERS_STATS: {
            static const int days[] = {1, 7, 30};
            opt_num(opts, "days", CMD_OPT_INTEGER, days[pick(&u->rng, 3)]);
            break;
        }
        case DEMO_USERS_BAD:
            /* Inputs a hand-crafted client (or a stale command list) can send: the bot must
             * refuse them at once with an ephemeral explanation. */
            name = "comfy";
            prompt_for(u, seq, prompt, sizeof prompt);
            opt_str(opts, "prompt", prompt);
            if (pick(&u->rng, 2) == 0 || !u->loras.count) {
                opt_str(opts, "resolution", "7:3 [999x999 imaginary]");
            } else {
                opt_str(opts, "resolution", resolution(u));
                opt_str(opts, "lora", "No Such LoRA v0");
            }
            break;
        default:
            cJSON_Delete(opts);
            return -1;
        }
        char *json = cJSON_PrintUnformatted(opts);
        cJSON_Delete(opts);
        if (!json) return -1;
        rc = fake_discord_inject_command(u->fd, name, json, nfiles ? files : NULL, nfiles, &who,
                                         &ix);
        free(json);
    }
    if (rc != 0) return -1;
    out->id = ix.id;
    snprintf(out->token, sizeof out->token, "%s", ix.token);
    out->user_id = who.user_id;
    out->channel_id = ix.channel_id;
    return 0;
}

bool demo_users_parse_buttons(const char *message_json, uint64_t owner_id,
                              demo_users_button_target *out)
{
    memset(out, 0, sizeof *out);
    cJSON *m = message_json ? cJSON_Parse(message_json) : NULL;
    if (!m) return false;
    const char *id = cJSON_GetStringValue(cJSON_GetObjectItem(m, "id"));
    if (id) out->message_id = strtoull(id, NULL, 10);
    out->owner_id = owner_id;
    const cJSON *row;
    cJSON_ArrayForEach(row, cJSON_GetObjectItem(m, "components"))
    {
        const cJSON *c;
        cJSON_ArrayForEach(c, cJSON_GetObjectItem(row, "components"))
        {
            const char *cid = cJSON_GetStringValue(cJSON_GetObjectItem(c, "custom_id"));
            cres_action a;
            uint64_t job, owner;
            if (!cid || cres_parse_custom_id(cid, &a, &job, &owner) != 0) continue;
            char *dst = a == CRES_REGENERATE ? out->regenerate
                        : a == CRES_UPSCALE2 ? out->upscale
                        : a == CRES_DELETE   ? out->del
                        : a == CRES_OPTIONS  ? out->options
                                             : NULL;
            if (dst) snprintf(dst, sizeof out->del, "%s", cid);
        }
    }
    cJSON_Delete(m);
    return out->message_id != 0 && (out->regenerate[0] || out->del[0]);
}

/* The select of the dialog whose custom_id contains part, or NULL. */
static const cJSON *dialog_select(const cJSON *m, const char *part)
{
    const cJSON *row, *c;
    cJSON_ArrayForEach(row, cJSON_GetObjectItem(m, "components"))
    {
        cJSON_ArrayForEach(c, cJSON_GetObjectItem(row, "components"))
        {
            const char *cid = cJSON_GetStringValue(cJSON_GetObjectItem(c, "custom_id"));
            if (cid && strstr(cid, part) && !cJSON_IsTrue(cJSON_GetObjectItem(c, "disabled")))
                return c;
        }
    }
    return NULL;
}

int demo_users_options_pick(demo_users *u, const char *dialog_json, uint64_t user_id,
                            uint64_t message_id, demo_users_sent out[2], char go_id[101])
{
    cJSON *m = dialog_json ? cJSON_Parse(dialog_json) : NULL;
    const cJSON *go = m ? dialog_select(m, ":go") : NULL;
    if (!go) {
        cJSON_Delete(m);
        return -1;
    }
    snprintf(go_id, 101, "%s", cJSON_GetStringValue(cJSON_GetObjectItem(go, "custom_id")));
    char uname[32];
    snprintf(uname, sizeof uname, "user%" PRIu64, user_id % 100000);
    fake_discord_member who = {.user_id = user_id, .username = uname};
    static const char *const menus[2] = {":res", ":lora:"};
    int n = 0;
    for (int i = 0; i < 2; i++) {
        const cJSON *sel = dialog_select(m, menus[i]);
        const cJSON *opts = sel ? cJSON_GetObjectItem(sel, "options") : NULL;
        int count = cJSON_GetArraySize(opts);
        if (!count) continue;
        const cJSON *o = cJSON_GetArrayItem(opts, (int)pick(&u->rng, (unsigned)count));
        cJSON *vals = cJSON_CreateArray();
        cJSON_AddItemToArray(
            vals, cJSON_CreateString(cJSON_GetStringValue(cJSON_GetObjectItem(o, "value"))));
        char *vj = cJSON_PrintUnformatted(vals);
        cJSON_Delete(vals);
        fake_discord_ix ix;
        const char *cid = cJSON_GetStringValue(cJSON_GetObjectItem(sel, "custom_id"));
        if (vj && fake_discord_inject_component(u->fd, cid, 3, vj, message_id, &who, &ix) == 0) {
            demo_users_sent *s = &out[n++];
            memset(s, 0, sizeof *s);
            s->kind = DEMO_USERS_BTN_OPTIONS;
            s->id = ix.id;
            snprintf(s->token, sizeof s->token, "%s", ix.token);
            s->user_id = user_id;
            s->channel_id = ix.channel_id;
        }
        free(vj);
    }
    cJSON_Delete(m);
    return n;
}
