/* /lorainfo reply builders (src/discord/lorainfo.c) and the loras.json fields they show:
 * pages of five with their buttons, a page past the end, one LoRA by name, file or best
 * match, an unknown name, an empty list, hostile page ids, and the description/url checks. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "comfy/loras.h"
#include "discord/lorainfo.h"

static char err[512];

/* 12 LoRAs: three pages (5, 5, 2). */
static void load12(loras_set *s)
{
    char json[8192];
    int n = snprintf(json, sizeof json, "{\"loras\":[");
    for (int i = 0; i < 12; i++)
        n += snprintf(json + n, sizeof json - (size_t)n,
                      "%s{\"file\":\"l%02d.safetensors\",\"name\":\"Style %02d\",\"weight\":0.%d,"
                      "\"trigger_words\":\"word%d\",\"description\":\"Looks like %d\","
                      "\"url\":\"https://example.org/loras/%d\"}",
                      i ? "," : "", i, i, i % 9 + 1, i, i, i);
    snprintf(json + n, sizeof json - (size_t)n, "]}");
    assert_int_equal(loras_parse(s, json, "loras.json", err, sizeof err), 0);
    assert_int_equal(s->count, 12);
}

static cJSON *parse(char *body)
{
    assert_non_null(body);
    cJSON *o = cJSON_Parse(body);
    free(body);
    assert_non_null(o);
    /* Every reply refuses pings. */
    const cJSON *am = cJSON_GetObjectItem(cJSON_GetObjectItem(o, "data"), "allowed_mentions");
    assert_non_null(am);
    return o;
}

static const cJSON *button(const cJSON *o, int i)
{
    const cJSON *rows = cJSON_GetObjectItem(cJSON_GetObjectItem(o, "data"), "components");
    const cJSON *row = cJSON_GetArrayItem(rows, 0);
    return cJSON_GetArrayItem(cJSON_GetObjectItem(row, "components"), i);
}

static const char *button_id(const cJSON *o, int i)
{
    return cJSON_GetObjectItem(button(o, i), "custom_id")->valuestring;
}

static bool button_disabled(const cJSON *o, int i)
{
    return cJSON_IsTrue(cJSON_GetObjectItem(button(o, i), "disabled"));
}

static const cJSON *embed0(const cJSON *o)
{
    return cJSON_GetArrayItem(cJSON_GetObjectItem(cJSON_GetObjectItem(o, "data"), "embeds"), 0);
}

static void test_pages(void **state)
{
    (void)state;
    loras_set s;
    load12(&s);
    assert_int_equal(lorainfo_pages(12), 3);
    assert_int_equal(lorainfo_pages(10), 2);
    assert_int_equal(lorainfo_pages(0), 1);

    cJSON *o = parse(lorainfo_page_json(&s, 0, false));
    assert_int_equal(cJSON_GetObjectItem(o, "type")->valueint, 4);
    assert_int_equal(cJSON_GetObjectItem(cJSON_GetObjectItem(o, "data"), "flags")->valueint, 64);
    const cJSON *e = embed0(o);
    const cJSON *fields = cJSON_GetObjectItem(e, "fields");
    assert_int_equal(cJSON_GetArraySize(fields), 5);
    const cJSON *f0 = cJSON_GetArrayItem(fields, 0);
    assert_string_equal(cJSON_GetObjectItem(f0, "name")->valuestring, "Style 00");
    const char *v = cJSON_GetObjectItem(f0, "value")->valuestring;
    assert_non_null(strstr(v, "Looks like 0"));
    assert_non_null(strstr(v, "Trigger words: word0"));
    assert_non_null(strstr(v, "Default strength: 0.10"));
    assert_non_null(strstr(v, "[More about it](https://example.org/loras/0)"));
    assert_string_equal(cJSON_GetObjectItem(cJSON_GetObjectItem(e, "footer"), "text")->valuestring,
                        "Page 1 of 3");
    assert_true(button_disabled(o, 0) && button_disabled(o, 1) && button_disabled(o, 2));
    assert_false(button_disabled(o, 3) || button_disabled(o, 4));
    assert_string_equal(button_id(o, 3), "li:next:1");
    assert_string_equal(button_id(o, 4), "li:last:2");
    cJSON_Delete(o);

    /* A page button updates the message in place; a page past the end shows the last one. */
    o = parse(lorainfo_page_json(&s, 99, true));
    assert_int_equal(cJSON_GetObjectItem(o, "type")->valueint, 7);
    assert_null(cJSON_GetObjectItem(cJSON_GetObjectItem(o, "data"), "flags"));
    e = embed0(o);
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(e, "fields")), 2);
    assert_string_equal(
        cJSON_GetObjectItem(cJSON_GetArrayItem(cJSON_GetObjectItem(e, "fields"), 1), "name")
            ->valuestring,
        "Style 11");
    assert_string_equal(button_id(o, 1), "li:prev:1");
    assert_true(button_disabled(o, 3) && button_disabled(o, 4));
    cJSON_Delete(o);
    loras_free(&s);
}

static void test_one(void **state)
{
    (void)state;
    loras_set s;
    load12(&s);
    const char *queries[] = {"style 03", "l03.safetensors", "word3"};
    for (int i = 0; i < 3; i++) {
        cJSON *o = parse(lorainfo_one_json(&s, queries[i]));
        const cJSON *e = embed0(o);
        assert_string_equal(cJSON_GetObjectItem(e, "title")->valuestring, "Style 03");
        assert_string_equal(cJSON_GetObjectItem(e, "url")->valuestring,
                            "https://example.org/loras/3");
        assert_string_equal(cJSON_GetObjectItem(e, "description")->valuestring, "Looks like 3");
        assert_int_equal(cJSON_GetObjectItem(cJSON_GetObjectItem(o, "data"), "flags")->valueint,
                         64);
        cJSON_Delete(o);
    }
    cJSON *o = parse(lorainfo_one_json(&s, "nothing like it"));
    const char *c = cJSON_GetObjectItem(cJSON_GetObjectItem(o, "data"), "content")->valuestring;
    assert_non_null(strstr(c, "No LoRA is called \"nothing like it\""));
    cJSON_Delete(o);
    loras_free(&s);

    /* No list at all. */
    loras_set none = {0};
    o = parse(lorainfo_page_json(&none, 0, false));
    assert_non_null(
        strstr(cJSON_GetObjectItem(cJSON_GetObjectItem(o, "data"), "content")->valuestring,
               "No LoRAs are set up"));
    cJSON_Delete(o);
    o = parse(lorainfo_page_json(NULL, 3, true));
    assert_int_equal(cJSON_GetObjectItem(o, "type")->valueint, 7);
    cJSON_Delete(o);
}

static void test_custom_ids(void **state)
{
    (void)state;
    unsigned p = 7;
    assert_int_equal(lorainfo_parse_custom_id("li:next:12", &p), 0);
    assert_int_equal(p, 12);
    assert_int_equal(lorainfo_parse_custom_id("li:first:0", &p), 0);
    assert_int_equal(p, 0);
    assert_true(lorainfo_owns("li:anything"));
    assert_false(lorainfo_owns("fb:r:1:2"));
    assert_false(lorainfo_owns(NULL));
    const char *bad[] = {"li:next:",   "li:next:1a", "li:jump:1", "li:next:1234567",
                         "li:next:-1", "li:",        "fb:next:1", "li:next: 1"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(lorainfo_parse_custom_id(bad[i], &p), -1);
}

static void test_loras_fields(void **state)
{
    (void)state;
    loras_set s;
    assert_int_equal(loras_parse(&s,
                                 "{\"loras\":[{\"file\":\"a.safetensors\",\"name\":\"A\","
                                 "\"url\":\"http://example.org/a\"},{\"file\":\"b.safetensors\"}]}",
                                 "l.json", err, sizeof err),
                     0);
    assert_string_equal(s.items[0].url, "http://example.org/a");
    assert_string_equal(s.items[1].description, "");
    assert_string_equal(s.items[1].url, "");
    loras_free(&s);
    const char *bad[] = {
        "{\"loras\":[{\"file\":\"a.safetensors\",\"url\":\"ftp://example.org/a\"}]}",
        "{\"loras\":[{\"file\":\"a.safetensors\",\"url\":\"https://example.org/a b\"}]}",
        "{\"loras\":[{\"file\":\"a.safetensors\",\"url\":\"https://x.org/a)[y](https://z\"}]}",
        "{\"loras\":[{\"file\":\"a.safetensors\",\"url\":\"javascript:alert(1)\"}]}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(loras_parse(&s, bad[i], "l.json", err, sizeof err), -1);
        assert_non_null(strstr(err, "url must be an http(s) link"));
    }
    char longdesc[600];
    memset(longdesc, 'x', 400);
    longdesc[400] = '\0';
    char json[900];
    snprintf(json, sizeof json, "{\"loras\":[{\"file\":\"a.safetensors\",\"description\":\"%s\"}]}",
             longdesc);
    assert_int_equal(loras_parse(&s, json, "l.json", err, sizeof err), -1);
    assert_non_null(strstr(err, "description longer than 300 bytes"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pages),
        cmocka_unit_test(test_one),
        cmocka_unit_test(test_custom_ids),
        cmocka_unit_test(test_loras_fields),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
