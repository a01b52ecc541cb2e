/* Interaction response, message, component and embed builders: shapes Discord accepts, limits
 * enforced, user text never able to ping. */
/* fluxbot-test: tsan */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <cjson/cJSON.h>

#include "discord/embed.h"
#include "discord/ix.h"
#include "discord/reply.h"
#include "util/util_utf8.h"

static cJSON *parse_free(char *s)
{
    assert_non_null(s);
    cJSON *j = cJSON_Parse(s);
    assert_non_null(j);
    free(s);
    return j;
}

static int num(const cJSON *o, const char *k)
{
    const cJSON *x = cJSON_GetObjectItemCaseSensitive(o, k);
    assert_true(cJSON_IsNumber(x));
    return (int)x->valuedouble;
}

static void assert_no_pings(const cJSON *msg)
{
    const cJSON *am = cJSON_GetObjectItemCaseSensitive(msg, "allowed_mentions");
    assert_non_null(am);
    const cJSON *parse = cJSON_GetObjectItemCaseSensitive(am, "parse");
    assert_true(cJSON_IsArray(parse));
    assert_int_equal(cJSON_GetArraySize(parse), 0);
}

static void test_callback_types(void **state)
{
    (void)state;
    cJSON *j = parse_free(reply_text_json("@everyone hello", true));
    assert_int_equal(num(j, "type"), 4);
    cJSON *d = cJSON_GetObjectItem(j, "data");
    assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(d, "content")), "@everyone hello");
    assert_int_equal(num(d, "flags"), 64);
    assert_no_pings(d);
    cJSON_Delete(j);

    j = parse_free(reply_deferred_json(false));
    assert_int_equal(num(j, "type"), 5);
    assert_null(cJSON_GetObjectItem(j, "data"));
    cJSON_Delete(j);
    j = parse_free(reply_deferred_json(true));
    assert_int_equal(num(cJSON_GetObjectItem(j, "data"), "flags"), 64);
    cJSON_Delete(j);
    /* the shorthand's bodies are exactly what the general builder prints */
    for (int eph = 0; eph < 2; eph++) {
        reply_msg m = {.flags = eph ? REPLY_FLAG_EPHEMERAL : 0};
        char *general = reply_callback_json(REPLY_CB_DEFERRED, &m, NULL, 0);
        char *shorthand = reply_deferred_json(eph);
        assert_string_equal(shorthand, general);
        free(general);
        free(shorthand);
    }

    j = parse_free(reply_deferred_update_json());
    assert_int_equal(num(j, "type"), 6);
    assert_int_equal(cJSON_GetArraySize(j), 1);
    cJSON_Delete(j);

    reply_button b = {.style = REPLY_BTN_DANGER, .label = "Delete", .custom_id = "img:del:1"};
    reply_row row = {.buttons = &b, .nbuttons = 1};
    reply_msg m = {.content = "updated", .rows = &row, .nrows = 1};
    char err[128] = "";
    j = parse_free(reply_callback_json(REPLY_CB_UPDATE, &m, err, sizeof err));
    assert_int_equal(num(j, "type"), 7);
    cJSON *comp = cJSON_GetObjectItem(cJSON_GetObjectItem(j, "data"), "components");
    assert_int_equal(cJSON_GetArraySize(comp), 1);
    cJSON *r0 = cJSON_GetArrayItem(comp, 0);
    assert_int_equal(num(r0, "type"), 1);
    cJSON *b0 = cJSON_GetArrayItem(cJSON_GetObjectItem(r0, "components"), 0);
    assert_int_equal(num(b0, "type"), 2);
    assert_int_equal(num(b0, "style"), 4);
    assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(b0, "custom_id")), "img:del:1");
    cJSON_Delete(j);

    /* Misuse is refused, not sent. */
    assert_null(reply_callback_json(REPLY_CB_MESSAGE, NULL, err, sizeof err));
    reply_msg bad = {.flags = REPLY_FLAG_SUPPRESS_EMBEDS};
    assert_null(reply_callback_json(REPLY_CB_DEFERRED, &bad, err, sizeof err));
    assert_non_null(strstr(err, "EPHEMERAL"));
    assert_null(reply_callback_json((reply_cb_type)42, &m, err, sizeof err));
}

static void test_autocomplete(void **state)
{
    (void)state;
    reply_choice c[30];
    char names[30][16];
    for (int i = 0; i < 30; i++) {
        snprintf(names[i], sizeof names[i], "lora-%d", i);
        c[i] = (reply_choice){.name = names[i], .str_value = names[i]};
    }
    c[0].name = ""; /* skipped */
    cJSON *j = parse_free(reply_autocomplete_json(c, 30));
    assert_int_equal(num(j, "type"), 8);
    cJSON *ch = cJSON_GetObjectItem(cJSON_GetObjectItem(j, "data"), "choices");
    assert_int_equal(cJSON_GetArraySize(ch), 25);
    assert_string_equal(
        cJSON_GetStringValue(cJSON_GetObjectItem(cJSON_GetArrayItem(ch, 0), "value")), "lora-1");
    cJSON_Delete(j);
    reply_choice n = {.name = "two", .num_value = 2};
    j = parse_free(reply_autocomplete_json(&n, 1));
    ch = cJSON_GetObjectItem(cJSON_GetObjectItem(j, "data"), "choices");
    assert_int_equal(num(cJSON_GetArrayItem(ch, 0), "value"), 2);
    cJSON_Delete(j);
    j = parse_free(reply_autocomplete_json(NULL, 0));
    assert_int_equal(
        cJSON_GetArraySize(cJSON_GetObjectItem(cJSON_GetObjectItem(j, "data"), "choices")), 0);
    cJSON_Delete(j);
}

static void test_webhook_edit_body(void **state)
{
    (void)state;
    embed e;
    embed_init(&e);
    embed_set_title(&e, "Done");
    embed_set_color(&e, 0x12345678); /* masked to 24 bits */
    assert_int_equal(embed_set_image(&e, "attachment://out.png"), 0);
    assert_int_equal(embed_set_image(&e, "javascript:alert(1)"), -1);
    embed_set_timestamp_ms(&e, 1700000000123ull);
    const embed *list[] = {&e};
    reply_attachment att = {.id = 0, .filename = "out.png", .description = "result"};
    uint64_t who = 42;
    reply_msg m = {.content = "",
                   .embeds = list,
                   .nembeds = 1,
                   .attachments = &att,
                   .nattachments = 1,
                   .set_components = true,
                   .mention_users = &who,
                   .nmention_users = 1};
    char err[128];
    cJSON *j = parse_free(reply_message_json(&m, err, sizeof err));
    assert_null(cJSON_GetObjectItem(j, "type")); /* a message, not a callback */
    assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(j, "content")), "");
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(j, "components")), 0);
    cJSON *e0 = cJSON_GetArrayItem(cJSON_GetObjectItem(j, "embeds"), 0);
    assert_int_equal(num(e0, "color"), 0x345678);
    assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(e0, "timestamp")),
                        "2023-11-14T22:13:20.123Z");
    assert_string_equal(
        cJSON_GetStringValue(cJSON_GetObjectItem(cJSON_GetObjectItem(e0, "image"), "url")),
        "attachment://out.png");
    cJSON *a0 = cJSON_GetArrayItem(cJSON_GetObjectItem(j, "attachments"), 0);
    assert_int_equal(num(a0, "id"), 0);
    assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(a0, "filename")), "out.png");
    cJSON *am = cJSON_GetObjectItem(j, "allowed_mentions");
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(am, "parse")), 0);
    assert_string_equal(
        cJSON_GetStringValue(cJSON_GetArrayItem(cJSON_GetObjectItem(am, "users"), 0)), "42");
    assert_null(cJSON_GetObjectItem(j, "flags"));
    cJSON_Delete(j);
    embed_free(&e);

    /* An edit that touches only the content leaves everything else out. */
    reply_msg only = {.content = "50%"};
    j = parse_free(reply_message_json(&only, err, sizeof err));
    assert_null(cJSON_GetObjectItem(j, "embeds"));
    assert_null(cJSON_GetObjectItem(j, "components"));
    assert_null(cJSON_GetObjectItem(j, "attachments"));
    assert_no_pings(j);
    cJSON_Delete(j);

    reply_attachment badatt = {.id = 1, .filename = "../etc/passwd"};
    reply_msg bm = {.attachments = &badatt, .nattachments = 1};
    assert_null(reply_message_json(&bm, err, sizeof err));
}

static void test_components_limits(void **state)
{
    (void)state;
    char err[128];
    reply_button six[6];
    for (int i = 0; i < 6; i++)
        six[i] = (reply_button){.style = REPLY_BTN_PRIMARY, .label = "x", .custom_id = "id"};
    reply_row r = {.buttons = six, .nbuttons = 6};
    reply_msg m = {.rows = &r, .nrows = 1};
    assert_null(reply_message_json(&m, err, sizeof err));

    /* duplicate custom_id in one message */
    r.nbuttons = 2;
    assert_null(reply_message_json(&m, err, sizeof err));
    assert_non_null(strstr(err, "twice"));

    reply_button nolabel = {.style = REPLY_BTN_PRIMARY, .custom_id = "a"};
    r = (reply_row){.buttons = &nolabel, .nbuttons = 1};
    assert_null(reply_message_json(&m, err, sizeof err));

    reply_button link = {.style = REPLY_BTN_LINK, .label = "Open", .url = "https://example.com/x"};
    reply_button emoji = {
        .style = REPLY_BTN_SECONDARY, .emoji = "\xe2\x99\xbb\xef\xb8\x8f", .custom_id = "regen"};
    reply_button pair[2] = {link, emoji};
    r = (reply_row){.buttons = pair, .nbuttons = 2};
    cJSON *j = parse_free(reply_message_json(&m, err, sizeof err));
    cJSON *items = cJSON_GetObjectItem(cJSON_GetArrayItem(cJSON_GetObjectItem(j, "components"), 0),
                                       "components");
    assert_string_equal(
        cJSON_GetStringValue(cJSON_GetObjectItem(cJSON_GetArrayItem(items, 0), "url")),
        "https://example.com/x");
    assert_null(cJSON_GetObjectItem(cJSON_GetArrayItem(items, 0), "custom_id"));
    cJSON_Delete(j);

    reply_button badlink = {.style = REPLY_BTN_LINK, .label = "x", .url = "ftp://x"};
    r = (reply_row){.buttons = &badlink, .nbuttons = 1};
    assert_null(reply_message_json(&m, err, sizeof err));

    reply_row rows[6];
    reply_button one = {.style = REPLY_BTN_PRIMARY, .label = "x", .custom_id = "a"};
    for (int i = 0; i < 6; i++)
        rows[i] = (reply_row){.buttons = &one, .nbuttons = 1};
    m = (reply_msg){.rows = rows, .nrows = 6};
    assert_null(reply_message_json(&m, err, sizeof err));

    reply_select_option opts[2] = {{.label = "A", .value = "a"}, {.label = "B", .value = "b"}};
    reply_select sel = {.custom_id = "pick",
                        .placeholder = "Choose",
                        .min_values = 0,
                        .max_values = 5,
                        .options = opts,
                        .noptions = 2};
    reply_row srow = {.select = &sel};
    m = (reply_msg){.rows = &srow, .nrows = 1};
    j = parse_free(reply_message_json(&m, err, sizeof err));
    cJSON *s0 = cJSON_GetArrayItem(
        cJSON_GetObjectItem(cJSON_GetArrayItem(cJSON_GetObjectItem(j, "components"), 0),
                            "components"),
        0);
    assert_int_equal(num(s0, "type"), 3);
    assert_int_equal(num(s0, "max_values"), 2); /* never more than the options */
    cJSON_Delete(j);
}

static void test_text_clipping(void **state)
{
    (void)state;
    /* 2001 'é' (2 bytes each): clipped to 2000 characters ending in an ellipsis, valid UTF-8. */
    size_t n = 2001;
    char *s = malloc(n * 2 + 1);
    for (size_t i = 0; i < n; i++)
        memcpy(s + 2 * i, "\xc3\xa9", 2);
    s[n * 2] = '\0';
    reply_msg m = {.content = s};
    char err[64];
    cJSON *j = parse_free(reply_message_json(&m, err, sizeof err));
    const char *c = cJSON_GetStringValue(cJSON_GetObjectItem(j, "content"));
    size_t chars;
    assert_true(util_utf8_valid(c, strlen(c), &chars));
    assert_int_equal(chars, 2000);
    assert_memory_equal(c + strlen(c) - 3, "\xe2\x80\xa6", 3);
    cJSON_Delete(j);
    free(s);
}

static void test_embed_limits(void **state)
{
    (void)state;
    char *big = malloc(5001);
    memset(big, 'd', 5000);
    big[5000] = '\0';
    embed e;
    embed_init(&e);
    embed_set_title(&e, big);
    embed_set_description(&e, big);
    embed_set_footer(&e, big, "not a url");
    assert_int_equal(util_utf8_chars(e.title), EMBED_TITLE_MAX);
    assert_int_equal(util_utf8_chars(e.description), EMBED_DESCRIPTION_MAX);
    assert_int_equal(util_utf8_chars(e.footer_text), EMBED_FOOTER_MAX);
    assert_null(e.footer_icon_url);
    for (int i = 0; i < 25; i++)
        assert_int_equal(embed_add_field(&e, big, big, i % 2), 0);
    assert_int_equal(embed_add_field(&e, "x", "y", false), -1);
    assert_int_equal(util_utf8_chars(e.fields[0].name), EMBED_FIELD_NAME_MAX);
    assert_int_equal(util_utf8_chars(e.fields[0].value), EMBED_FIELD_VALUE_MAX);
    assert_true(embed_total_chars(&e) > EMBED_TOTAL_MAX);

    /* The message total is enforced on output. */
    const embed *list[] = {&e, &e};
    cJSON *arr = embed_list_to_json(list, 2);
    size_t total = 0;
    const cJSON *x;
    cJSON_ArrayForEach(x, arr)
    {
        total += util_utf8_chars(cJSON_GetStringValue(cJSON_GetObjectItem(x, "title")));
        total += util_utf8_chars(cJSON_GetStringValue(cJSON_GetObjectItem(x, "description")));
        total += util_utf8_chars(
            cJSON_GetStringValue(cJSON_GetObjectItem(cJSON_GetObjectItem(x, "footer"), "text")));
        const cJSON *f;
        cJSON_ArrayForEach(f, cJSON_GetObjectItem(x, "fields"))
        {
            total += util_utf8_chars(cJSON_GetStringValue(cJSON_GetObjectItem(f, "name")));
            total += util_utf8_chars(cJSON_GetStringValue(cJSON_GetObjectItem(f, "value")));
        }
    }
    assert_true(total <= EMBED_TOTAL_MAX);
    assert_true(total > 2000);
    cJSON_Delete(arr);

    /* Empty field text becomes a zero-width space (Discord refuses empty names). */
    embed f;
    embed_init(&f);
    embed_add_field(&f, "", NULL, false);
    assert_string_equal(f.fields[0].name, "\xe2\x80\x8b");
    embed_free(&f);
    embed_free(&e);
    free(big);

    /* More than 10 embeds is refused. */
    embed many[11];
    const embed *ml[11];
    for (int i = 0; i < 11; i++) {
        embed_init(&many[i]);
        ml[i] = &many[i];
    }
    reply_msg m = {.embeds = ml, .nembeds = 11};
    char err[64];
    assert_null(reply_message_json(&m, err, sizeof err));
}

/* Found by fuzz_reply: embed URLs were checked for blanks and control bytes only, so a URL
 * with invalid UTF-8 (a stray 0xff) went into the embed and made the whole body invalid UTF-8,
 * which Discord refuses with a 400. Valid non-ASCII stays accepted. */
static void test_embed_url_utf8(void **state)
{
    (void)state;
    assert_false(embed_url_ok("https://example.com/\xff.png"));
    assert_false(embed_url_ok("attachment://a\xc3.png"));
    assert_false(embed_url_ok("https://example.com/\xed\xa0\x80")); /* a surrogate */
    assert_true(embed_url_ok("https://example.com/caf\xc3\xa9.png"));
    assert_true(embed_url_ok("attachment://fluxbot_42.png"));
    embed e;
    embed_init(&e);
    assert_int_equal(embed_set_image(&e, "https://example.com/\xff.png"), -1);
    assert_int_equal(embed_set_url(&e, "https://example.com/\xc3"), -1);
    assert_int_equal(embed_set_thumbnail(&e, "https://example.com/caf\xc3\xa9.png"), 0);
    embed_set_author(&e, "me", "https://example.com/\xfe", NULL);
    cJSON *j = embed_to_json(&e);
    char *s = cJSON_PrintUnformatted(j);
    assert_true(util_utf8_valid(s, strlen(s), NULL));
    assert_null(strstr(s, "\xfe"));
    free(s);
    cJSON_Delete(j);
    embed_free(&e);
}

/* Found by fuzz_reply: custom_ids, select values and choice values were length-checked only,
 * so one with invalid UTF-8 went out verbatim and made the body invalid text (a 400 for the
 * whole message). They are refused (a choice is skipped), never repaired into another id. */
static void test_ids_must_be_utf8(void **state)
{
    (void)state;
    char err[200] = "";
    reply_button b = {.style = REPLY_BTN_PRIMARY, .label = "Go", .custom_id = "fb:regen:\xff"};
    reply_row row = {.buttons = &b, .nbuttons = 1};
    reply_msg m = {.content = "x", .rows = &row, .nrows = 1};
    assert_null(reply_message_json(&m, err, sizeof err));
    assert_non_null(strstr(err, "custom_id"));
    reply_select_option opt = {.label = "a", .value = "v\xc3"};
    reply_select sel = {.custom_id = "sel", .options = &opt, .noptions = 1, .max_values = 1};
    reply_row srow = {.select = &sel};
    m.rows = &srow;
    err[0] = '\0';
    assert_null(reply_message_json(&m, err, sizeof err));
    assert_non_null(strstr(err, "value"));
    /* Valid non-ASCII ids still pass. */
    b.custom_id = "fb:caf\xc3\xa9";
    m.rows = &row;
    char *ok = reply_message_json(&m, err, sizeof err);
    assert_non_null(ok);
    assert_true(util_utf8_valid(ok, strlen(ok), NULL));
    free(ok);
    reply_choice ch[2] = {{.name = "bad", .str_value = "\xed\xa0\x80"},
                          {.name = "good", .str_value = "g"}};
    char *ac = reply_autocomplete_json(ch, 2);
    assert_true(util_utf8_valid(ac, strlen(ac), NULL));
    assert_null(strstr(ac, "bad"));
    assert_non_null(strstr(ac, "good"));
    free(ac);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_callback_types),    cmocka_unit_test(test_autocomplete),
        cmocka_unit_test(test_webhook_edit_body), cmocka_unit_test(test_components_limits),
        cmocka_unit_test(test_text_clipping),     cmocka_unit_test(test_embed_limits),
        cmocka_unit_test(test_embed_url_utf8),    cmocka_unit_test(test_ids_must_be_utf8),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
