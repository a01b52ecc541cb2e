/* Small pure modules of the runner: PNG encode/validate and sniffing, progress text
 * and throttle, server choice and backoff, admission limits, result payloads and
 * custom_ids, multipart parsing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "comfy/img.h"
#include "fakes/image_fixture.h"
#include "comfy/lim.h"
#include "fakes/multipart.h"
#include "comfy/prog.h"
#include "comfy/cres.h"
#include "discord/reply.h"
#include "comfy/spick.h"
#include "util/util_utf8.h"

static char err[256];

static void test_png_roundtrip_and_corruption(void **state)
{
    (void)state;
    size_t len;
    uint8_t *png = image_fixture_png(37, 23, 0, 5, &len);
    assert_non_null(png);
    uint32_t w, h;
    assert_int_equal(img_png_validate(png, len, &w, &h, err, sizeof err), 0);
    assert_int_equal(w, 37);
    assert_int_equal(h, 23);
    assert_int_equal(img_sniff(png, len), IMG_PNG);
    /* flip one byte inside IDAT: the CRC check must catch it */
    png[50] ^= 0x40;
    assert_int_equal(img_png_validate(png, len, NULL, NULL, err, sizeof err), -1);
    assert_non_null(strstr(err, "CRC"));
    png[50] ^= 0x40;
    /* truncation */
    assert_int_equal(img_png_validate(png, len - 12, NULL, NULL, err, sizeof err), -1);
    free(png);
    /* noise pattern: barely compressible, so big files can be made on purpose */
    png = image_fixture_png(256, 256, 1, 9, &len);
    assert_true(len > 256 * 256 * 3);
    assert_int_equal(img_png_validate(png, len, NULL, NULL, err, sizeof err), 0);
    free(png);
    assert_null(image_fixture_png(0, 5, 0, 0, &len));
}

static void test_sniff(void **state)
{
    (void)state;
    assert_int_equal(img_sniff((const uint8_t *)"\xff\xd8\xff\xe0", 4), IMG_JPEG);
    assert_int_equal(img_sniff((const uint8_t *)"RIFF\x10\0\0\0WEBPVP8 ", 16), IMG_WEBP);
    assert_int_equal(img_sniff((const uint8_t *)"GIF89a..", 8), IMG_GIF);
    assert_int_equal(img_sniff((const uint8_t *)"\0\0\0\x18"
                                                "ftypmp42",
                               12),
                     IMG_MP4);
    assert_int_equal(img_sniff((const uint8_t *)"<html>", 6), IMG_UNKNOWN);
    assert_true(img_is_input_type(IMG_WEBP));
    assert_false(img_is_input_type(IMG_GIF));
    assert_string_equal(img_mime(IMG_MP4), "video/mp4");
}

/* What ComfyUI's core savers write, typed by the bytes: the right extension and content type. */
static void test_sniff_animations_and_video(void **state)
{
    (void)state;
    size_t len;
    uint8_t *b = image_fixture_webm(7, &len); /* SaveWEBM */
    assert_int_equal(img_sniff(b, len), IMG_WEBM);
    assert_string_equal(img_ext(IMG_WEBM), "webm");
    assert_string_equal(img_mime(IMG_WEBM), "video/webm");
    assert_true(img_is_video(IMG_WEBM));
    b[25] = 'x'; /* DocType "wxbm": some other Matroska file */
    assert_int_equal(img_sniff(b, len), IMG_MKV);
    assert_int_equal(img_sniff(b, 4), IMG_MKV); /* header cut short: still EBML, not webm */
    free(b);
    b = image_fixture_apng(8, 8, 3, &len); /* SaveAnimatedPNG */
    assert_int_equal(img_sniff(b, len), IMG_APNG);
    assert_string_equal(img_ext(IMG_APNG), "png");
    assert_string_equal(img_mime(IMG_APNG), "image/apng");
    assert_false(img_is_video(IMG_APNG));
    free(b);
    b = image_fixture_png(8, 8, 0, 3, &len); /* a still PNG stays a PNG */
    assert_int_equal(img_sniff(b, len), IMG_PNG);
    b[8] = 0xff; /* a chunk length past the end: no walk outside the buffer */
    assert_int_equal(img_sniff(b, len), IMG_PNG);
    free(b);
    b = image_fixture_webp_anim(8, 8, 3, &len); /* SaveAnimatedWEBP */
    assert_int_equal(img_sniff(b, len), IMG_WEBP);
    assert_string_equal(img_ext(IMG_WEBP), "webp");
    free(b);
    assert_int_equal(img_sniff((const uint8_t *)"\0\0\0\x14"
                                                "ftypqt  ",
                               12),
                     IMG_MOV);
    assert_string_equal(img_ext(IMG_MOV), "mov");
    assert_true(img_is_video(IMG_MP4));
    assert_false(img_is_video(IMG_GIF));
}

static void test_progress_text_and_eta(void **state)
{
    (void)state;
    prog_state p;
    prog_init(&p, 1000);
    char txt[256];
    p.avg_job_ms = 30000;
    prog_set_phase(&p, PROG_QUEUED, 1000);
    p.queue_position = 3;
    prog_text(&p, "image", 1000, txt, sizeof txt);
    assert_non_null(strstr(txt, "position 3"));
    assert_non_null(strstr(txt, "ETA 2 min")); /* 3 × 30 s = 90 s → rounds to 2 min */
    prog_set_phase(&p, PROG_LOADING, 2000);
    prog_step(&p, 1, 20, 3000);
    prog_step(&p, 11, 20, 8000); /* 10 steps in 5 s → 9 left ≈ 4.5 s */
    prog_text(&p, "image", 8000, txt, sizeof txt);
    assert_non_null(strstr(txt, "step 11/20"));
    assert_non_null(strstr(txt, "ETA 5 s"));
    assert_non_null(strstr(txt, "54%"));
    assert_int_equal(prog_eta_ms(&p, 8000), 4500);
    prog_step(&p, 20, 20, 9000);
    assert_int_equal(p.phase, PROG_FINISHING);
    /* a new sampler series (e.g. an upscaler pass) restarts the rate */
    prog_step(&p, 1, 10, 9500);
    assert_int_equal(p.phase, PROG_SAMPLING);
    assert_int_equal(p.series_start_value, 1);
    char d[32];
    prog_fmt_duration(3725000, d, sizeof d);
    assert_string_equal(d, "1 h 2 min");
}

static void test_progress_throttle(void **state)
{
    (void)state;
    prog_throttle t = {0};
    assert_true(prog_throttle_allow(&t, "a", 1000, 1500));
    assert_false(prog_throttle_allow(&t, "b", 2000, 1500)); /* too soon */
    assert_false(prog_throttle_allow(&t, "a", 9000, 1500)); /* unchanged */
    assert_true(prog_throttle_allow(&t, "b", 2500, 1500));
    /* at most one edit per interval whatever the event rate */
    prog_throttle u = {0};
    unsigned sent = 0;
    for (uint64_t now = 0; now < 15000; now += 10) {
        char s[32];
        snprintf(s, sizeof s, "%llu", (unsigned long long)now);
        sent += prog_throttle_allow(&u, s, now + 1, 1500);
    }
    assert_true(sent <= 10);
    assert_true(sent >= 9);
}

static void test_server_pick(void **state)
{
    (void)state;
    spick_server s[3];
    for (int i = 0; i < 3; i++) {
        spick_init(&s[i]);
        spick_mark_up(&s[i]);
    }
    s[0].assigned = 2;
    s[0].submitted = 2;
    s[0].queue_remaining = 2; /* only ours: load 2 */
    s[1].queue_remaining = 5; /* five jobs of other clients: load 5 */
    s[2].assigned = 1;        /* one of ours being uploaded: load 1 */
    assert_int_equal(spick_choose(s, 3, -1, false, 0), 2);
    assert_int_equal(spick_choose(s, 3, 2, false, 0), 0);
    s[0].up = s[1].up = false;
    assert_int_equal(spick_choose(s, 3, 2, false, 0), -1);
    assert_int_equal(spick_choose(s, 3, 2, true, 0), 2); /* only one left */
    /* ties rotate */
    spick_server e[2];
    spick_init(&e[0]);
    spick_init(&e[1]);
    spick_mark_up(&e[0]);
    spick_mark_up(&e[1]);
    assert_int_equal(spick_choose(e, 2, -1, false, 0), 0);
    assert_int_equal(spick_choose(e, 2, -1, false, 1), 1);
    /* backoff doubles to a cap */
    assert_int_equal(spick_backoff_ms(1, 0.5), 1000);
    assert_int_equal(spick_backoff_ms(2, 0.5), 2000);
    assert_int_equal(spick_backoff_ms(9, 0.5), 15000);
    uint64_t d = spick_mark_down(&e[0], 100, 0.0);
    assert_int_equal(d, 800);
    assert_false(e[0].up);
    assert_int_equal(e[0].next_retry_ms, 900);
}

/* A job taken over from a process that died (comfy_coord.c: limits_adopt) holds its user's and
 * the queue's slots like one admitted here, is never refused itself, and its start counts in the
 * user's hour in time order. */
static void test_limits_adopt(void **state)
{
    (void)state;
    lim_table *t = lim_new(1, 2, 2);
    uint64_t ra;
    lim_adopt(t, 7, 1000, 5000);
    assert_int_equal(lim_user_active(t, 7), 1);
    assert_int_equal(lim_total_active(t), 1);
    assert_int_equal(lim_admit(t, 7, 6000, &ra), LIM_USER_CONCURRENT);
    lim_adopt(t, 7, 2000, 6000); /* over the limit too: admitted elsewhere, not refused here */
    assert_int_equal(lim_user_active(t, 7), 2);
    assert_int_equal(lim_admit(t, 8, 6000, &ra), LIM_GLOBAL);
    lim_finish(t, 7);
    lim_finish(t, 7);
    assert_int_equal(lim_total_active(t), 0);
    /* both starts are in user 7's hour */
    assert_int_equal(lim_admit(t, 7, 7000, &ra), LIM_USER_HOURLY);
    assert_int_equal(ra, 1000 + 3600000 - 7000);
    /* an earlier start adopted after a later admission goes before it */
    assert_int_equal(lim_admit(t, 9, 8000, &ra), LIM_OK);
    lim_finish(t, 9);
    lim_adopt(t, 9, 3000, 9000);
    lim_finish(t, 9);
    assert_int_equal(lim_admit(t, 9, 3000 + 3600000, &ra), LIM_OK); /* 3000 expired, 8000 not */
    lim_finish(t, 9);
    assert_int_equal(lim_admit(t, 9, 3000 + 3600001, &ra), LIM_USER_HOURLY);
    /* a start older than the hour counts for nothing but the slots */
    lim_adopt(t, 10, 1000, 1000 + 3600000);
    lim_finish(t, 10);
    assert_int_equal(lim_admit(t, 10, 1000 + 3600000, &ra), LIM_OK);
    assert_int_equal(lim_admit(t, 10, 1000 + 3600000, &ra), LIM_USER_CONCURRENT);
    lim_free(t);
}

static void test_limits(void **state)
{
    (void)state;
    lim_table *t = lim_new(2, 3, 4);
    uint64_t ra;
    assert_int_equal(lim_admit(t, 1, 0, &ra), LIM_OK);
    assert_int_equal(lim_admit(t, 1, 10, &ra), LIM_OK);
    assert_int_equal(lim_admit(t, 1, 20, &ra), LIM_USER_CONCURRENT);
    lim_finish(t, 1);
    assert_int_equal(lim_admit(t, 1, 30, &ra), LIM_OK);
    lim_finish(t, 1);
    assert_int_equal(lim_admit(t, 1, 40, &ra), LIM_USER_HOURLY);
    assert_int_equal(ra, 3600000 - 40);
    char msg[256];
    lim_explain(LIM_USER_HOURLY, t, ra, msg, sizeof msg);
    assert_non_null(strstr(msg, "3 jobs in the last hour"));
    assert_int_equal(lim_admit(t, 1, 3600001, &ra), LIM_OK); /* the first stamp expired */
    assert_int_equal(lim_admit(t, 2, 0, &ra), LIM_OK);
    assert_int_equal(lim_admit(t, 3, 0, &ra), LIM_OK);
    assert_int_equal(lim_total_active(t), 4);
    assert_int_equal(lim_admit(t, 4, 0, &ra), LIM_GLOBAL);
    lim_explain(LIM_GLOBAL, t, 0, msg, sizeof msg);
    assert_non_null(strstr(msg, "queue is full"));
    for (uint64_t u = 100; u < 2000; u++)
        lim_admit(t, u, 0, &ra); /* growth with refusals */
    lim_free(t);
    t = lim_new(0, 0, 0); /* unlimited */
    for (int i = 0; i < 1000; i++)
        assert_int_equal(lim_admit(t, 5, 0, &ra), LIM_OK);
    lim_free(t);
}

static void test_custom_ids_and_delete(void **state)
{
    (void)state;
    char id[101];
    cres_action a;
    uint64_t job, owner;
    assert_int_equal(cres_custom_id(CRES_DELETE, 18446744073709551615ULL, 1234, id, sizeof id), 0);
    assert_int_equal(cres_parse_custom_id(id, &a, &job, &owner), 0);
    assert_int_equal(a, CRES_DELETE);
    assert_true(job == 18446744073709551615ULL);
    assert_int_equal(owner, 1234);
    assert_int_equal(cres_custom_id(CRES_REGENERATE, 5, 0, id, sizeof id), 0);
    assert_int_equal(cres_parse_custom_id(id, &a, &job, &owner), 0);
    assert_int_equal(a, CRES_REGENERATE);
    assert_int_equal(cres_parse_custom_id("fb:regen:18446744073709551616", &a, &job, &owner), -1);
    assert_int_equal(cres_parse_custom_id("fb:regen:", &a, &job, &owner), -1);
    assert_int_equal(cres_parse_custom_id("fb:del:5", &a, &job, &owner), -1);
    assert_int_equal(cres_parse_custom_id("fb:up2:5x", &a, &job, &owner), -1);
    assert_int_equal(cres_parse_custom_id("image:delete", &a, &job, &owner), -1);
    /* Found by fuzz_ix: leading zeros were accepted, so one job had many custom_ids
     * ("strictly" parsed means the one spelling cres_custom_id writes). */
    assert_int_equal(cres_parse_custom_id("fb:del:06:800000000000000001", &a, &job, &owner), -1);
    assert_int_equal(cres_parse_custom_id("fb:del:6:0800000000000000001", &a, &job, &owner), -1);
    assert_int_equal(cres_parse_custom_id("fb:regen:00", &a, &job, &owner), -1);
    assert_int_equal(cres_parse_custom_id("fb:up2:0", &a, &job, &owner), 0);
    assert_int_equal(cres_custom_id(CRES_OPTIONS, 77, 800000000000000001ULL, id, sizeof id), 0);
    assert_string_equal(id, "fb:opt:77:800000000000000001");
    assert_int_equal(cres_parse_custom_id(id, &a, &job, &owner), 0);
    assert_int_equal(a, CRES_OPTIONS);
    assert_int_equal(job, 77);
    assert_true(owner == 800000000000000001ULL);
    assert_int_equal(cres_parse_custom_id("fb:opt:77", &a, &job, &owner), -1);
    assert_int_equal(cres_parse_custom_id("fb:opt:77:01", &a, &job, &owner), -1);
    assert_true(cres_may_delete(7, 7, 0));
    assert_false(cres_may_delete(8, 7, 0));
    assert_true(cres_may_delete(8, 7, CRES_PERM_MANAGE_MESSAGES));
    assert_true(cres_may_delete(8, 7, CRES_PERM_ADMINISTRATOR));
    assert_false(cres_may_delete(0, 0, 0));
}

static void test_final_payload(void **state)
{
    (void)state;
    cjob j;
    memset(&j, 0, sizeof j);
    j.id = 77;
    j.kind = COMFY_KIND_IMAGE;
    j.origin.user_id = 99;
    strcpy(j.origin.user_name, "Ann");
    j.user_prompt = "a \"cat\"\nwith {braces}";
    strcpy(j.resolution, "1:1 [1024x1024 square]");
    j.seed = 9007199254740991ULL;
    j.upscale = 2;
    j.nloras = 1;
    strcpy(j.lora_name[0], "Realism");
    cres_result r = {.job = &j,
                     .filename = "fluxbot_77.png",
                     .is_image = true,
                     .upscale_offered = true,
                     .generation_ms = 12345};
    char *s = cres_final_payload(&r);
    cJSON *root = cJSON_Parse(s);
    assert_non_null(root);
    const cJSON *em = cJSON_GetArrayItem(cJSON_GetObjectItem(root, "embeds"), 0);
    assert_string_equal(cJSON_GetObjectItem(em, "title")->valuestring, "Image generated for Ann");
    assert_non_null(strstr(cJSON_GetObjectItem(em, "description")->valuestring, j.user_prompt));
    assert_string_equal(cJSON_GetObjectItem(cJSON_GetObjectItem(em, "image"), "url")->valuestring,
                        "attachment://fluxbot_77.png");
    assert_non_null(strstr(s, "\"value\":\"9007199254740991\""));
    const cJSON *btns = cJSON_GetObjectItem(
        cJSON_GetArrayItem(cJSON_GetObjectItem(root, "components"), 0), "components");
    assert_int_equal(cJSON_GetArraySize(btns), 4);
    assert_string_equal(cJSON_GetObjectItem(cJSON_GetArrayItem(btns, 0), "custom_id")->valuestring,
                        "fb:regen:77");
    assert_string_equal(cJSON_GetObjectItem(cJSON_GetArrayItem(btns, 1), "custom_id")->valuestring,
                        "fb:up2:77");
    /* Options beside them: the owner in the id, so others are refused even after a restart */
    assert_string_equal(cJSON_GetObjectItem(cJSON_GetArrayItem(btns, 2), "custom_id")->valuestring,
                        "fb:opt:77:99");
    assert_string_equal(cJSON_GetObjectItem(cJSON_GetArrayItem(btns, 3), "custom_id")->valuestring,
                        "fb:del:77:99");
    assert_int_equal(
        cJSON_GetObjectItem(cJSON_GetArrayItem(cJSON_GetObjectItem(root, "attachments"), 0), "id")
            ->valueint,
        0);
    cJSON_Delete(root);
    free(s);
    /* without an upscale workflow there is no Upscale button: only buttons that work */
    r.upscale_offered = false;
    s = cres_final_payload(&r);
    assert_null(strstr(s, "fb:up2:"));
    assert_non_null(strstr(s, "fb:regen:77"));
    assert_non_null(strstr(s, "fb:del:77:99"));
    free(s);
    r.upscale_offered = true;
    /* a 6000-byte prompt of 4-byte characters is cut to Discord's limit on a boundary */
    char *big = malloc(6001);
    for (int i = 0; i < 1500; i++)
        memcpy(big + i * 4, "\xf0\x9f\x90\x88", 4);
    big[6000] = 0;
    j.user_prompt = big;
    r.is_image = false;
    r.is_video = true;
    s = cres_final_payload(&r);
    root = cJSON_Parse(s);
    em = cJSON_GetArrayItem(cJSON_GetObjectItem(root, "embeds"), 0);
    const char *desc = cJSON_GetObjectItem(em, "description")->valuestring;
    assert_true(util_utf8_valid(desc, strlen(desc), NULL));
    assert_true(util_utf8_chars(desc) <= 4096);
    assert_null(cJSON_GetObjectItem(em, "image"));
    cJSON_Delete(root);
    free(s);
    free(big);
    /* callbacks come from src/discord's builders only (the router sends them all) */
    s = reply_text_json("no", true);
    assert_string_equal(s, "{\"type\":4,\"data\":{\"content\":\"no\",\"flags\":64,"
                           "\"allowed_mentions\":{\"parse\":[]}}}");
    free(s);
    s = reply_deferred_update_json();
    assert_string_equal(s, "{\"type\":6}");
    free(s);
}

static void test_multipart(void **state)
{
    (void)state;
    char b[64];
    assert_int_equal(multipart_boundary("multipart/form-data; boundary=\"abc123\"", b, sizeof b),
                     0);
    assert_string_equal(b, "abc123");
    assert_int_equal(multipart_boundary("application/json", b, sizeof b), -1);
    const char body[] =
        "--XyZ\r\nContent-Disposition: form-data; name=\"image\"; "
        "filename=\"a b.png\"\r\nContent-Type: image/png\r\n\r\n"
        "\x89PNG\r\n--Xy not the end\r\n--XyZ\r\n"
        "Content-Disposition: form-data; name=\"overwrite\"\r\n\r\ntrue\r\n--XyZ--\r\n";
    multipart_part parts[4];
    int n = multipart_parse((const uint8_t *)body, sizeof body - 1, "XyZ", parts, 4);
    assert_int_equal(n, 2);
    const multipart_part *img = multipart_find(parts, n, "image");
    assert_non_null(img);
    assert_string_equal(img->filename, "a b.png");
    assert_string_equal(img->content_type, "image/png");
    assert_int_equal(img->len, 6 + 16);
    assert_memory_equal(multipart_find(parts, n, "overwrite")->data, "true", 4);
    assert_int_equal(multipart_parse((const uint8_t *)body, sizeof body - 1, "XyZ", parts, 1), -1);
    assert_int_equal(multipart_parse((const uint8_t *)body, 40, "XyZ", parts, 4), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_png_roundtrip_and_corruption),
        cmocka_unit_test(test_sniff),
        cmocka_unit_test(test_sniff_animations_and_video),
        cmocka_unit_test(test_progress_text_and_eta),
        cmocka_unit_test(test_progress_throttle),
        cmocka_unit_test(test_server_pick),
        cmocka_unit_test(test_limits),
        cmocka_unit_test(test_limits_adopt),
        cmocka_unit_test(test_custom_ids_and_delete),
        cmocka_unit_test(test_final_payload),
        cmocka_unit_test(test_multipart),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
