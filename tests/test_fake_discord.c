/* The loopback Discord facade end to end: a minimal websocket client (libwebsockets) connects
 * where GET /gateway/bot points, identifies, receives injected INTERACTION_CREATE events that
 * parse as real ones, downloads an attachment from the fake CDN, and answers through the
 * discord_rest actor inside the 3-second window. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>

#include <cjson/cJSON.h>
#include <curl/curl.h>
#include <libwebsockets.h>

#include "actors/discord_rest.h"
#include "discord/ix.h"
#include "discord/reply.h"
#include "fakes/fake_discord.h"
#include "fluxbot/runtime.h"
#include "msgs/rest.h"

#define TOKEN "facade-token.123"

/* ---- a minimal gateway client ------------------------------------------------------------- */

typedef struct gw_client {
    struct lws_context *ctx;
    struct lws *wsi;
    pthread_t thread;
    atomic_bool stop;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    char *rx;
    size_t rx_len;
    bool identify_pending;
    bool closed;
    char *events[64]; /* "<t>\n<d json>" of each dispatch */
    unsigned nevents;
} gw_client;

static void client_handle(gw_client *c, const char *msg, size_t len)
{
    cJSON *j = cJSON_ParseWithLength(msg, len);
    const cJSON *op = cJSON_GetObjectItem(j, "op");
    if (cJSON_IsNumber(op) && op->valueint == 10) {
        c->identify_pending = true;
        lws_callback_on_writable(c->wsi);
    } else if (cJSON_IsNumber(op) && op->valueint == 0) {
        const char *t = cJSON_GetStringValue(cJSON_GetObjectItem(j, "t"));
        char *d = cJSON_PrintUnformatted(cJSON_GetObjectItem(j, "d"));
        size_t n = strlen(t ? t : "") + strlen(d) + 2;
        char *ev = malloc(n);
        snprintf(ev, n, "%s\n%s", t ? t : "", d);
        free(d);
        pthread_mutex_lock(&c->mu);
        if (c->nevents < 64)
            c->events[c->nevents++] = ev;
        else
            free(ev);
        pthread_cond_broadcast(&c->cv);
        pthread_mutex_unlock(&c->mu);
    }
    cJSON_Delete(j);
}

static int client_cb(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                     size_t len)
{
    (void)user;
    struct lws_context *ctx = lws_get_context(wsi);
    gw_client *c = ctx ? lws_context_user(ctx) : NULL;
    switch (reason) {
    case LWS_CALLBACK_CLIENT_RECEIVE: {
        char *nb = realloc(c->rx, c->rx_len + len + 1);
        if (!nb) return -1;
        c->rx = nb;
        memcpy(c->rx + c->rx_len, in, len);
        c->rx_len += len;
        if (lws_is_final_fragment(wsi) && !lws_remaining_packet_payload(wsi)) {
            client_handle(c, c->rx, c->rx_len);
            c->rx_len = 0;
        }
        return 0;
    }
    case LWS_CALLBACK_CLIENT_WRITEABLE:
        if (c->identify_pending) {
            c->identify_pending = false;
            char buf[LWS_PRE + 512];
            int n = snprintf(buf + LWS_PRE, sizeof buf - LWS_PRE,
                             "{\"op\":2,\"d\":{\"token\":\"%s\",\"intents\":1,\"properties\":"
                             "{\"os\":\"linux\",\"browser\":\"test\",\"device\":\"test\"}}}",
                             TOKEN);
            if (lws_write(wsi, (unsigned char *)buf + LWS_PRE, (size_t)n, LWS_WRITE_TEXT) < n)
                return -1;
        }
        return 0;
    case LWS_CALLBACK_CLIENT_CONNECTION_ERROR:
    case LWS_CALLBACK_CLIENT_CLOSED:
        pthread_mutex_lock(&c->mu);
        c->closed = true;
        pthread_cond_broadcast(&c->cv);
        pthread_mutex_unlock(&c->mu);
        return 0;
    default:
        return 0;
    }
}

static const struct lws_protocols client_protocols[] = {
    {"gw-client", client_cb, 0, 65536, 0, NULL, 0},
    {NULL, NULL, 0, 0, 0, NULL, 0},
};

static void *client_thread(void *p)
{
    gw_client *c = p;
    while (!atomic_load(&c->stop))
        lws_service(c->ctx, 0);
    return NULL;
}

static void client_start(gw_client *c, int port)
{
    memset(c, 0, sizeof *c);
    pthread_mutex_init(&c->mu, NULL);
    pthread_cond_init(&c->cv, NULL);
    struct lws_context_creation_info info;
    memset(&info, 0, sizeof info);
    info.port = CONTEXT_PORT_NO_LISTEN;
    info.protocols = client_protocols;
    info.user = c;
    c->ctx = lws_create_context(&info);
    assert_non_null(c->ctx);
    struct lws_client_connect_info ci;
    memset(&ci, 0, sizeof ci);
    ci.context = c->ctx;
    ci.address = "127.0.0.1";
    ci.port = port;
    ci.path = "/?v=10&encoding=json";
    ci.host = "127.0.0.1";
    ci.origin = "127.0.0.1";
    ci.local_protocol_name = "gw-client";
    ci.pwsi = &c->wsi;
    assert_non_null(lws_client_connect_via_info(&ci));
    pthread_create(&c->thread, NULL, client_thread, c);
}

static void client_stop(gw_client *c)
{
    atomic_store(&c->stop, true);
    lws_cancel_service(c->ctx);
    pthread_join(c->thread, NULL);
    lws_context_destroy(c->ctx);
    for (unsigned i = 0; i < c->nevents; i++)
        free(c->events[i]);
    free(c->rx);
    pthread_mutex_destroy(&c->mu);
    pthread_cond_destroy(&c->cv);
}

/* Waits for the next event named t at or after index *from; returns its d (owned copy). */
static char *client_wait_event(gw_client *c, const char *t, unsigned *from, int timeout_ms)
{
    struct timespec dl;
    clock_gettime(CLOCK_REALTIME, &dl);
    dl.tv_sec += timeout_ms / 1000 + 1;
    char *found = NULL;
    size_t tl = strlen(t);
    pthread_mutex_lock(&c->mu);
    for (;;) {
        for (; *from < c->nevents; (*from)++) {
            const char *ev = c->events[*from];
            if (strncmp(ev, t, tl) == 0 && ev[tl] == '\n') {
                found = strdup(ev + tl + 1);
                (*from)++;
                break;
            }
        }
        if (found || c->closed) break;
        if (pthread_cond_timedwait(&c->cv, &c->mu, &dl) != 0) break;
    }
    pthread_mutex_unlock(&c->mu);
    return found;
}

/* ---- REST side: the actor and a collector ------------------------------------------------- */

typedef struct collector {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    rest_res_msg *res[64];
    unsigned n;
} collector;

static void col_on_message(rt_actor *self, void *state, rt_msg *m)
{
    (void)self;
    collector *c = state;
    pthread_mutex_lock(&c->mu);
    if (m->type == MSG_REST_RES && c->n < 64)
        c->res[c->n++] = (rest_res_msg *)m;
    else
        rt_msg_free(m);
    pthread_cond_broadcast(&c->cv);
    pthread_mutex_unlock(&c->mu);
}

static int rest_call(discord_rest *d, rt_actor *col_actor, collector *col, rest_method m,
                     const char *path, char *json)
{
    unsigned before = col->n;
    rest_req_msg *r = rest_req_msg_new(m, path, json);
    free(json);
    r->reply_to = col_actor;
    assert_int_equal(rt_send_wait(discord_rest_actor(d), &r->hdr, 1000), 0);
    struct timespec dl;
    clock_gettime(CLOCK_REALTIME, &dl);
    dl.tv_sec += 10;
    pthread_mutex_lock(&col->mu);
    while (col->n == before && pthread_cond_timedwait(&col->cv, &col->mu, &dl) == 0) {
    }
    int status = col->n > before ? col->res[col->n - 1]->status : -1;
    pthread_mutex_unlock(&col->mu);
    return status;
}

typedef struct bytes {
    uint8_t *p;
    size_t n;
} bytes;

static size_t on_bytes(char *p, size_t s, size_t n, void *ud)
{
    bytes *b = ud;
    b->p = realloc(b->p, b->n + s * n);
    memcpy(b->p + b->n, p, s * n);
    b->n += s * n;
    return s * n;
}

static bytes http_get(const char *url, const char *auth)
{
    bytes b = {0};
    CURL *c = curl_easy_init();
    struct curl_slist *h = auth ? curl_slist_append(NULL, auth) : NULL;
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_bytes);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
    curl_easy_perform(c);
    curl_easy_cleanup(c);
    curl_slist_free_all(h);
    return b;
}

/* The next INTERACTION_CREATE the client sees, parsed; the test fails when none comes in 5 s or
 * it does not parse. */
static ix_interaction *next_interaction(gw_client *c, unsigned *cursor)
{
    char *dj = client_wait_event(c, "INTERACTION_CREATE", cursor, 5000);
    assert_non_null(dj);
    ix_error e;
    ix_interaction *ix = ix_parse(dj, strlen(dj), &e);
    free(dj);
    if (!ix) fail_msg("parse: %s %s", e.field, e.msg);
    return ix;
}

static void callback_path(char *out, size_t cap, const ix_interaction *ix)
{
    snprintf(out, cap, "/interactions/%llu/%s/callback", (unsigned long long)ix->id, ix->token);
}

static void test_end_to_end(void **state)
{
    (void)state;
    fake_discord_options o = {.token = TOKEN, .application_id = 777000000000000001ull};
    fake_discord *fd = fake_discord_start(&o);
    assert_non_null(fd);
    assert_true(fake_discord_application_id(fd) == 777000000000000001ull);

    /* The bot's first step: GET /gateway/bot on the REST side points at the gateway. */
    char url[512];
    snprintf(url, sizeof url, "%s/gateway/bot", fake_discord_api_base(fd));
    bytes gb = http_get(url, "Authorization: Bot " TOKEN);
    cJSON *g = cJSON_ParseWithLength((const char *)gb.p, gb.n);
    free(gb.p);
    const char *wsurl = cJSON_GetStringValue(cJSON_GetObjectItem(g, "url"));
    assert_non_null(wsurl);
    assert_string_equal(wsurl, fake_gateway_ws_url(fake_discord_gateway(fd)));
    assert_non_null(cJSON_GetObjectItem(g, "session_start_limit"));
    int port = atoi(strrchr(wsurl, ':') + 1);
    cJSON_Delete(g);

    lws_set_log_level(LLL_ERR, NULL);
    gw_client c;
    client_start(&c, port);
    unsigned cursor = 0;
    char *ready = client_wait_event(&c, "READY", &cursor, 5000);
    assert_non_null(ready);
    assert_non_null(strstr(ready, "777000000000000001"));
    free(ready);

    rt_system *sys = rt_system_new();
    collector col = {0};
    pthread_mutex_init(&col.mu, NULL);
    pthread_cond_init(&col.cv, NULL);
    rt_actor_spec cs = {.name = "collector",
                        .threads = 1,
                        .lane_capacity = 64,
                        .state = &col,
                        .ops = {.on_message = col_on_message}};
    rt_actor *col_actor = rt_actor_new(sys, &cs);
    discord_rest_config dc = {.api_base = fake_discord_api_base(fd), .token = TOKEN};
    discord_rest *d = discord_rest_new(sys, &dc);
    assert_int_equal(rt_system_start(sys), 0);

    /* A slash command with an uploaded image. */
    uint8_t img[3000];
    for (size_t i = 0; i < sizeof img; i++)
        img[i] = (uint8_t)(i * 13 + 7);
    fake_discord_file file = {.option = "image",
                              .filename = "face.png",
                              .content_type = "image/png",
                              .data = img,
                              .len = sizeof img};
    uint64_t roles[] = {900000000000000009ull};
    fake_discord_member who = {.user_id = 55,
                               .guild_id = 66,
                               .channel_id = 77,
                               .permissions = 8,
                               .roles = roles,
                               .nroles = 1};
    fake_discord_ix inj;
    assert_int_equal(
        fake_discord_inject_command(fd, "pulid",
                                    "[{\"name\":\"prompt\",\"type\":3,\"value\":\"a portrait\"},"
                                    "{\"name\":\"resolution\",\"type\":3,\"value\":\"1:1\"}]",
                                    &file, 1, &who, &inj),
        0);
    assert_int_equal(inj.sessions, 1);
    ix_interaction *ix = next_interaction(&c, &cursor);
    assert_true(ix->id == inj.id);
    assert_string_equal(ix->token, inj.token);
    assert_true(strlen(ix->token) > 100);
    assert_true(ix->application_id == 777000000000000001ull);
    assert_int_equal(ix->type, IX_COMMAND);
    assert_string_equal(ix->command_name, "pulid");
    assert_string_equal(ix_opt_str(ix, "prompt"), "a portrait");
    assert_int_equal(ix->user_id, 55);
    assert_int_equal(ix->guild_id, 66);
    assert_int_equal(ix->channel_id, 77);
    assert_true(ix_has_permissions(ix, 1ull << 5));
    assert_true(ix_has_role(ix, 900000000000000009ull));
    const ix_attachment *a = ix_opt_attachment(ix, "image");
    assert_non_null(a);
    assert_string_equal(a->filename, "face.png");
    assert_int_equal(a->size, sizeof img);
    bytes dl = http_get(a->url, NULL);
    assert_int_equal(dl.n, sizeof img);
    assert_memory_equal(dl.p, img, sizeof img);
    free(dl.p);

    /* Answer it as the bot would: defer, then edit the original. */
    char path[640];
    callback_path(path, sizeof path, ix);
    assert_int_equal(rest_call(d, col_actor, &col, REST_POST, path, reply_deferred_json(false)),
                     204);
    reply_msg m = {.content = "done"};
    char err[64];
    snprintf(path, sizeof path, "/webhooks/%llu/%s/messages/@original",
             (unsigned long long)ix->application_id, ix->token);
    assert_int_equal(
        rest_call(d, col_actor, &col, REST_PATCH, path, reply_message_json(&m, err, sizeof err)),
        200);
    fake_rest_ix_state st;
    assert_true(fake_rest_interaction_state(fake_discord_rest(fd), ix->id, &st));
    assert_int_equal(st.ack_type, 5);
    assert_true(st.ack_ms >= 0 && st.ack_ms < 3000);
    assert_int_equal(st.edits, 1);
    assert_non_null(strstr(st.original_json, "\"content\":\"done\""));
    free(st.original_json);
    ix_free(ix);

    /* A button click on a message. */
    assert_int_equal(
        fake_discord_inject_component(fd, "image:regenerate", 2, NULL, 4444, &who, &inj), 0);
    ix = next_interaction(&c, &cursor);
    assert_int_equal(ix->type, IX_COMPONENT);
    assert_string_equal(ix->custom_id, "image:regenerate");
    assert_int_equal(ix->message_id, 4444);
    callback_path(path, sizeof path, ix);
    assert_int_equal(rest_call(d, col_actor, &col, REST_POST, path, reply_deferred_update_json()),
                     204);
    ix_free(ix);

    /* Autocomplete, in a DM. */
    fake_discord_member dmwho = {.dm = true, .user_id = 99};
    assert_int_equal(fake_discord_inject_autocomplete(
                         fd, "comfy",
                         "[{\"name\":\"prompt\",\"type\":3,\"value\":\"x\"},"
                         "{\"name\":\"lora\",\"type\":3,\"value\":\"ani\",\"focused\":true}]",
                         &dmwho, &inj),
                     0);
    ix = next_interaction(&c, &cursor);
    assert_int_equal(ix->type, IX_AUTOCOMPLETE);
    assert_false(ix->in_guild);
    assert_int_equal(ix->user_id, 99);
    assert_string_equal(ix_focused(ix)->name, "lora");
    reply_choice ch = {.name = "anime", .str_value = "anime"};
    callback_path(path, sizeof path, ix);
    assert_int_equal(
        rest_call(d, col_actor, &col, REST_POST, path, reply_autocomplete_json(&ch, 1)), 204);
    ix_free(ix);

    /* Bad input is refused. */
    assert_int_equal(fake_discord_inject(fd, 9, "{}", NULL, &inj), -1);
    assert_int_equal(fake_discord_inject_command(fd, "x", "not json", NULL, 0, NULL, &inj), -1);

    rt_system_stop(sys);
    rt_system_free(sys);
    discord_rest_free(d);
    for (unsigned i = 0; i < col.n; i++)
        rt_msg_free(&col.res[i]->hdr);
    client_stop(&c);
    fake_discord_stop(fd);
}

int main(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_end_to_end)};
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    curl_global_cleanup();
    return rc;
}
