/* The reference a Discord message object gives back: id, channel, first attachment URL; junk,
 * non-https URLs and bad snowflakes are refused or left out. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "discord/message_ref.h"

static void test_message_ref(void **state)
{
    (void)state;
    message_ref r;
    const char *ok = "{\"id\":\"1180000000000000001\",\"channel_id\":\"1180000000000000002\","
                     "\"attachments\":[{\"id\":\"3\",\"url\":\"https://cdn.discordapp.com/a/"
                     "b/result.png\"}]}";
    assert_true(message_ref_parse(ok, strlen(ok), &r));
    assert_true(r.message_id == 1180000000000000001ULL);
    assert_true(r.channel_id == 1180000000000000002ULL);
    assert_string_equal(r.attachment_url, "https://cdn.discordapp.com/a/b/result.png");
    const char *http = "{\"id\":\"5\",\"attachments\":[{\"url\":\"http://x/y.png\"}]}";
    assert_true(message_ref_parse(http, strlen(http), &r));
    assert_string_equal(r.attachment_url, ""); /* not https: left out */
    const char *bad[] = {"", "[]", "{\"id\":5}", "{\"id\":\"-5\"}", "{\"id\":\"abc\"}", "{"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_false(message_ref_parse(bad[i], strlen(bad[i]), &r));
    assert_false(message_ref_parse(NULL, 0, &r));
    assert_false(message_ref_parse(ok, 5, &r)); /* cut: not JSON */
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_message_ref)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
