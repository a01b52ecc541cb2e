/*
 * The simulated users of the demo and the end-to-end benchmark: every kind of interaction is
 * accepted by the fake Discord (so its options are well-formed and its attachments resolve),
 * kinds are classified right, and the buttons of a result message are found.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "demo/demo_users.h"
#include "comfy/cres.h"
#include "fakes/fake_discord.h"
#include "config/fb_config.h"
#include "fluxbot/log.h"

static void test_every_kind_is_injected(void **state)
{
    (void)state;
    fake_discord_options fo = {.token = "demo-users-token"};
    fake_discord *fd = fake_discord_start(&fo);
    assert_non_null(fd);
    fb_config cfg;
    fb_config_defaults(&cfg);
    demo_users u;
    char err[300];
    assert_int_equal(demo_users_init(&u, fd, cfg.ratios_file, cfg.loras_file, 7, err, sizeof err),
                     0);
    assert_true(u.ratios.count > 0);
    assert_true(u.png_len > 50);

    demo_users_button_target btn = {.message_id = 123456789, .owner_id = 42};
    cres_custom_id(CRES_REGENERATE, 5, 42, btn.regenerate, sizeof btn.regenerate);
    cres_custom_id(CRES_UPSCALE2, 5, 42, btn.upscale, sizeof btn.upscale);
    cres_custom_id(CRES_DELETE, 5, 42, btn.del, sizeof btn.del);
    cres_custom_id(CRES_OPTIONS, 5, 42, btn.options, sizeof btn.options);
    uint64_t last_id = 0;
    for (int round = 0; round < 3; round++) {
        for (int k = 0; k < DEMO_USERS_KIND_COUNT; k++) {
            demo_users_sent s;
            assert_int_equal(demo_users_inject(&u, (demo_users_kind)k, (uint64_t)(round * 100 + k),
                                               1000 + k, &btn, &s),
                             0);
            assert_true(s.id > last_id);
            last_id = s.id;
            assert_true(strlen(s.token) > 10);
            assert_int_equal(s.kind, k);
            assert_int_equal(s.user_id,
                             demo_users_kind_is_button((demo_users_kind)k) ? 42u : 1000u + k);
            fake_rest_ix_state st;
            assert_true(fake_rest_interaction_state(fake_discord_rest(fd), s.id, &st));
            assert_true(st.known);
            assert_int_equal(st.callbacks, 0);
            free(st.original_json);
        }
    }
    /* Buttons need a target. */
    demo_users_sent s;
    assert_int_equal(demo_users_inject(&u, DEMO_USERS_BTN_DELETE, 1, 1, NULL, &s), -1);
    demo_users_button_target none = {.message_id = 1, .owner_id = 1};
    assert_int_equal(demo_users_inject(&u, DEMO_USERS_BTN_UPSCALE, 1, 1, &none, &s), -1);
    demo_users_free(&u);
    fake_discord_stop(fd);
}

static void test_kinds(void **state)
{
    (void)state;
    assert_true(demo_users_kind_is_job(DEMO_USERS_COMFY));
    assert_true(demo_users_kind_is_job(DEMO_USERS_VIDEO));
    assert_true(demo_users_kind_is_job(DEMO_USERS_BTN_UPSCALE));
    assert_false(demo_users_kind_is_job(DEMO_USERS_STATS));
    assert_false(demo_users_kind_is_job(DEMO_USERS_BAD));
    assert_false(demo_users_kind_is_job(DEMO_USERS_BTN_DELETE));
    assert_true(demo_users_kind_is_button(DEMO_USERS_BTN_DELETE));
    assert_false(demo_users_kind_is_button(DEMO_USERS_COMFY));
    assert_string_equal(demo_users_kind_name(DEMO_USERS_PULID), "pulid");
    assert_string_equal(demo_users_kind_name(DEMO_USERS_KIND_COUNT), "?");
}

static void test_parse_buttons(void **state)
{
    (void)state;
    char regen[101], up[101], del[101];
    cres_custom_id(CRES_REGENERATE, 77, 9, regen, sizeof regen);
    cres_custom_id(CRES_UPSCALE2, 77, 9, up, sizeof up);
    cres_custom_id(CRES_DELETE, 77, 9, del, sizeof del);
    char msg[1024];
    snprintf(msg, sizeof msg,
             "{\"id\":\"555\",\"components\":[{\"type\":1,\"components\":["
             "{\"type\":2,\"style\":1,\"label\":\"Regenerate\",\"custom_id\":\"%s\"},"
             "{\"type\":2,\"style\":2,\"label\":\"Upscale\",\"custom_id\":\"%s\"},"
             "{\"type\":2,\"style\":5,\"label\":\"Link\",\"url\":\"https://x\"},"
             "{\"type\":2,\"style\":4,\"label\":\"Delete\",\"custom_id\":\"%s\"}]}]}",
             regen, up, del);
    demo_users_button_target t;
    assert_true(demo_users_parse_buttons(msg, 9, &t));
    assert_int_equal(t.message_id, 555);
    assert_int_equal(t.owner_id, 9);
    assert_string_equal(t.regenerate, regen);
    assert_string_equal(t.upscale, up);
    assert_string_equal(t.del, del);
    assert_false(demo_users_parse_buttons("{\"id\":\"1\",\"components\":[]}", 9, &t));
    assert_false(demo_users_parse_buttons("not json", 9, &t));
    assert_false(demo_users_parse_buttons(NULL, 9, &t));
}

int main(void)
{
    log_configure(LOG_LEVEL_WARN, false, 2);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_kind_is_injected),
        cmocka_unit_test(test_kinds),
        cmocka_unit_test(test_parse_buttons),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
