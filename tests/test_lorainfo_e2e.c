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

#include "e2e_util.h"

#define TOKEN "lorainfo-e2e-token.abc"
#define APP_ID 777000000000000014ULL

static e2e_app_world W;

static int setup(void **state)
{
    e2e_app_opts o = {.name = "lorainfo_e2e", .token = TOKEN, .application_id = APP_ID};
    e2e_app_begin(&W, &o);
    snprintf(W.cfg.loras_file, sizeof W.cfg.loras_file, "%s/loras.json", W.dir);
    FILE *f = fopen(W.cfg.loras_file, "w");
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
    e2e_app_start(&W);
    *state = &W;
    return 0;
}

/* The one callback of an interaction, parsed. */
static cJSON *answer_of(uint64_t id)
{
    size_t n;
    cJSON *o = e2e_app_callback(&W, id, 8000, &n, NULL);
    assert_int_equal(n, 1); /* answered exactly once */
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
    return cmocka_run_group_tests(tests, setup, e2e_app_teardown);
}
