/*
 * /lorainfo end to end: the whole bot in-process (app_start) against the loopback fake Discord
 * and a fake ComfyUI, with a LoRA list of seven (two pages). What users see is read from the
 * callbacks the fake Discord received: the first page with its buttons, the second page after
 * a click (the message updated in place), one LoRA by name, the name's autocomplete, and the
 * command in the registration the bot sent.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "app/app.h"
#include "fakes/fake_comfy.h"
#include "fakes/fake_discord.h"
#include "fluxbot/log.h"
#include "test_app_lsan.h"

#define TOKEN "lorainfo-e2e-token.abc"
#define APP_ID 777000000000000014ULL

static struct {
    fake_discord *fd;
    fake_rest *rest;
    fake_comfy *comfy;
    app *a;
    fb_config cfg;
    char dir[64], db[128], loras[128];
} W;

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static int setup(void **state)
{
    (void)state;
    log_configure(LOG_LEVEL_WARN, false, 2);
    fake_discord_options o = {.token = TOKEN, .application_id = APP_ID};
    W.fd = fake_discord_start(&o);
    assert_non_null(W.fd);
    W.rest = fake_discord_rest(W.fd);
    W.comfy = fake_comfy_start(NULL);
    assert_non_null(W.comfy);
    snprintf(W.dir, sizeof W.dir, "/tmp/fb_lorainfo_e2e_XXXXXX");
    assert_non_null(mkdtemp(W.dir));
    snprintf(W.db, sizeof W.db, "%s/bot.db", W.dir);
    snprintf(W.loras, sizeof W.loras, "%s/loras.json", W.dir);
    FILE *f = fopen(W.loras, "w");
    assert_non_null(f);
    fputs("{\"loras\": [", f);
    static const char *const names[] = {"Realism", "Anime Style", "Watercolor", "Pixel Art",
                                        "Ink",     "Claymation",  "Neon"};
    for (int i = 0; i < 7; i++)
        fprintf(f,
                "%s{\"file\": \"l%d.safetensors\", \"name\": \"%s\", \"weight\": 0.8, "
                "\"trigger_words\": \"%s style\", \"description\": \"The %s look.\", "
                "\"url\": \"https://example.org/lora/%d\"}",
                i ? ", " : "", i, names[i], names[i], names[i], i);
    fputs("]}", f);
    fclose(f);
    fb_config *c = &W.cfg;
    fb_config_defaults(c);
    snprintf(c->discord_token, sizeof c->discord_token, "%s", TOKEN);
    snprintf(c->discord_api_base, sizeof c->discord_api_base, "%s", fake_discord_api_base(W.fd));
    c->comfyui_urls.count = 1;
    snprintf(c->comfyui_urls.items[0], FB_CONFIG_STR, "%s", fake_comfy_url(W.comfy));
    snprintf(c->db_path, sizeof c->db_path, "%s", W.db);
    snprintf(c->output_dir, sizeof c->output_dir, "%s/out", W.dir);
    snprintf(c->loras_file, sizeof c->loras_file, "%s", W.loras);
    char err[768];
    int code;
    W.a = app_start(c, err, sizeof err, &code);
    if (!W.a) fprintf(stderr, "app_start: %s (%d)\n", err, code);
    assert_non_null(W.a);
    uint64_t until = now_ms() + 90000; /* generous: the machine may be loaded */
    while (now_ms() < until && !app_commands_registered(W.a))
        app_poll(W.a, 20);
    assert_true(app_commands_registered(W.a));
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    assert_int_equal(app_stop(W.a), 0);
    fake_comfy_stop(W.comfy);
    fake_discord_stop(W.fd);
    char cmd[200];
    snprintf(cmd, sizeof cmd, "rm -rf %s", W.dir);
    if (system(cmd) != 0) fprintf(stderr, "cleanup of %s failed\n", W.dir);
    return 0;
}

/* The one callback of an interaction, parsed. */
static cJSON *answer_of(uint64_t id)
{
    char prefix[64];
    snprintf(prefix, sizeof prefix, "/interactions/%" PRIu64 "/", id);
    fake_rest_filter f = {.method = "POST", .path_prefix = prefix};
    assert_true(fake_rest_wait(W.rest, &f, 1, 8000) >= 1);
    fake_rest_request *rq;
    size_t n = fake_rest_collect(W.rest, &f, &rq);
    assert_int_equal(n, 1); /* answered exactly once */
    cJSON *o = cJSON_Parse((const char *)rq[0].body);
    fake_rest_requests_free(rq, n);
    assert_non_null(o);
    return o;
}

static const cJSON *data_of(const cJSON *o)
{
    return cJSON_GetObjectItem(o, "data");
}

static const cJSON *field(const cJSON *o, int i)
{
    const cJSON *e = cJSON_GetArrayItem(cJSON_GetObjectItem(data_of(o), "embeds"), 0);
    return cJSON_GetArrayItem(cJSON_GetObjectItem(e, "fields"), i);
}

static const char *next_button_id(const cJSON *o)
{
    const cJSON *row = cJSON_GetArrayItem(cJSON_GetObjectItem(data_of(o), "components"), 0);
    const cJSON *b = cJSON_GetArrayItem(cJSON_GetObjectItem(row, "components"), 3);
    return cJSON_GetObjectItem(b, "custom_id")->valuestring;
}

static void registered(void **state)
{
    (void)state;
    char *cmds = fake_rest_commands_json(W.rest, 0);
    assert_non_null(cmds);
    assert_non_null(strstr(cmds, "\"name\":\"lorainfo\""));
    free(cmds);
}

static void pages_and_buttons(void **state)
{
    (void)state;
    fake_discord_ix ix;
    assert_int_equal(fake_discord_inject_command(W.fd, "lorainfo", NULL, NULL, 0, NULL, &ix), 0);
    cJSON *o = answer_of(ix.id);
    assert_int_equal(cJSON_GetObjectItem(o, "type")->valueint, 4);
    assert_int_equal(cJSON_GetObjectItem(data_of(o), "flags")->valueint, 64);
    assert_string_equal(cJSON_GetObjectItem(field(o, 0), "name")->valuestring, "Realism");
    assert_non_null(strstr(cJSON_GetObjectItem(field(o, 0), "value")->valuestring,
                           "[More about it](https://example.org/lora/0)"));
    assert_null(field(o, 5)); /* five a page */
    char next[64];
    snprintf(next, sizeof next, "%s", next_button_id(o));
    cJSON_Delete(o);

    /* The click updates the same message to page 2. */
    assert_int_equal(
        fake_discord_inject_component(W.fd, next, 2, NULL, 900000000000000001ULL, NULL, &ix), 0);
    o = answer_of(ix.id);
    assert_int_equal(cJSON_GetObjectItem(o, "type")->valueint, 7);
    assert_string_equal(cJSON_GetObjectItem(field(o, 0), "name")->valuestring, "Claymation");
    assert_string_equal(cJSON_GetObjectItem(field(o, 1), "name")->valuestring, "Neon");
    assert_null(field(o, 2));
    cJSON_Delete(o);
}

static void one_by_name_and_autocomplete(void **state)
{
    (void)state;
    fake_discord_ix ix;
    assert_int_equal(fake_discord_inject_command(W.fd, "lorainfo",
                                                 "[{\"name\":\"name\",\"type\":3,"
                                                 "\"value\":\"watercolor\"}]",
                                                 NULL, 0, NULL, &ix),
                     0);
    cJSON *o = answer_of(ix.id);
    const cJSON *e = cJSON_GetArrayItem(cJSON_GetObjectItem(data_of(o), "embeds"), 0);
    assert_string_equal(cJSON_GetObjectItem(e, "title")->valuestring, "Watercolor");
    assert_string_equal(cJSON_GetObjectItem(e, "description")->valuestring, "The Watercolor look.");
    cJSON_Delete(o);

    assert_int_equal(fake_discord_inject_autocomplete(W.fd, "lorainfo",
                                                      "[{\"name\":\"name\",\"type\":3,"
                                                      "\"value\":\"ne\",\"focused\":true}]",
                                                      NULL, &ix),
                     0);
    o = answer_of(ix.id);
    assert_int_equal(cJSON_GetObjectItem(o, "type")->valueint, 8);
    const cJSON *ch = cJSON_GetObjectItem(data_of(o), "choices");
    assert_true(cJSON_GetArraySize(ch) >= 1);
    assert_string_equal(cJSON_GetObjectItem(cJSON_GetArrayItem(ch, 0), "name")->valuestring,
                        "Neon");
    cJSON_Delete(o);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(registered),
        cmocka_unit_test(pages_and_buttons),
        cmocka_unit_test(one_by_name_and_autocomplete),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
