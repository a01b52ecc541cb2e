/* fluxbot-test: tsan */
/*
 * Terminal rendering of the demo: the real /stats embed (an_stats_embed) comes out with its
 * title, every section, names unescaped, lines wrapped to the width; the progress bar.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "analytics/an_commands.h"
#include "demo/demo_render.h"

static size_t cols(const char *s, size_t n)
{
    size_t c = 0;
    for (size_t i = 0; i < n; i++)
        if (((unsigned char)s[i] & 0xC0) != 0x80) c++;
    return c;
}

static void test_stats_embed(void **state)
{
    (void)state;
    an_stats s;
    memset(&s, 0, sizeof s);
    an_window_make(1, 1700000000000, &s.window);
    s.total_images = 12;
    s.image_ms_sum = 12 * 1500;
    s.total_videos = 1;
    s.video_ms_sum = 4000;
    s.total_commands = 30;
    s.n_top_commands = 2;
    snprintf(s.top_commands[0].name, 128, "comfy");
    s.top_commands[0].count = 20;
    snprintf(s.top_commands[1].name, 128, "button:regen_*x*");
    s.top_commands[1].count = 3;
    s.total_users = 6;
    s.active_users = 5;
    s.n_top_resolutions = 1;
    snprintf(s.top_resolutions[0].name, 128, "1:1 [1024x1024 square]");
    s.top_resolutions[0].count = 7;
    char *body = an_stats_reply_json(&s);
    assert_non_null(body);

    char *t = demo_render_message(body, 40, false);
    assert_non_null(t);
    assert_non_null(strstr(t, "Usage Statistics (Last Day)"));
    assert_non_null(strstr(t, "Image Generation"));
    assert_non_null(strstr(t, "Total Images: 12"));
    assert_non_null(strstr(t, "Total Commands: 30"));
    assert_non_null(strstr(t, "/button:regen_*x*")); /* escapes removed, text intact */
    assert_non_null(strstr(t, "1:1 [1024x1024 square]"));
    assert_non_null(strstr(t, "Active Users: 5"));
    assert_null(strchr(t, '\\'));
    assert_null(strchr(t, '\033'));
    for (const char *line = t; *line;) {
        const char *nl = strchr(line, '\n');
        assert_non_null(nl);
        assert_true(cols(line, (size_t)(nl - line)) <= 40);
        line = nl + 1;
    }
    free(t);

    char *a = demo_render_message(body, 80, true);
    assert_non_null(strstr(a, "\033[1mUsage Statistics"));
    assert_non_null(strstr(a, "\033[38;2;52;152;219m")); /* 0x3498DB */
    free(a);
    free(body);
}

static void test_wrapping_and_markdown(void **state)
{
    (void)state;
    const char *msg = "{\"content\":\"**Done** in 1.2 s\",\"embeds\":[{\"title\":\"t\","
                      "\"description\":\"one two three four five six seven eight nine ten "
                      "eleven twelve thirteen\\n\\nsupercalifragilisticexpialidocious_word_here\""
                      "}]}";
    char *t = demo_render_message(msg, 24, false);
    assert_non_null(t);
    assert_non_null(strstr(t, "  Done in 1.2 s\n"));
    /* A word longer than the line is cut hard; no line is wider than asked. */
    char joined[512] = "";
    for (const char *line = t; *line;) {
        const char *nl = strchr(line, '\n');
        assert_true(cols(line, (size_t)(nl - line)) <= 24);
        if ((size_t)(nl - line) > 4) strncat(joined, line + 4, (size_t)(nl - line) - 4);
        line = nl + 1;
    }
    assert_non_null(strstr(joined, "supercalifragilisticexpialidocious_word_here"));
    /* every word survives the wrap */
    const char *words[] = {"one", "five", "ten", "thirteen"};
    for (int i = 0; i < 4; i++)
        assert_non_null(strstr(t, words[i]));
    free(t);
    char s[] = "a\\_b **c** __d__ \\\\ e";
    demo_render_strip_markdown(s);
    assert_string_equal(s, "a_b c d \\ e");
    assert_null(demo_render_message("nope", 40, false));
    char *empty = demo_render_message("{}", 40, false);
    assert_null(empty);
}

static void test_bar(void **state)
{
    (void)state;
    char b[128];
    assert_string_equal(demo_render_bar(0.5, 10, false, b, sizeof b), "[#####-----]");
    assert_string_equal(demo_render_bar(2, 4, false, b, sizeof b), "[####]");
    assert_string_equal(demo_render_bar(-1, 3, false, b, sizeof b), "[---]");
    demo_render_bar(0.25, 4, true, b, sizeof b);
    assert_int_equal(strlen(b), 12);
    assert_int_equal(memcmp(b, "\xe2\x96\x88", 3), 0);
    assert_int_equal(memcmp(b + 3, "\xe2\x96\x91", 3), 0);
    demo_render_bar(1, 100, true, b, 10); /* truncated, still terminated */
    assert_true(strlen(b) < 10);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_stats_embed),
        cmocka_unit_test(test_wrapping_and_markdown),
        cmocka_unit_test(test_bar),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
