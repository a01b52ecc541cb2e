/*
 * discord/qctl.c: a job's progress edit with its Cancel button, and /cancel's choice (one
 * button per job, 5 a row, bounded), checked as Discord would read them.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "discord/qctl.h"

static cJSON *parse(char *json)
{
    assert_non_null(json);
    cJSON *o = cJSON_Parse(json);
    free(json);
    assert_non_null(o);
    /* nobody is ever pinged by these texts */
    const cJSON *am = cJSON_GetObjectItem(o, "allowed_mentions");
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(am, "parse")), 0);
    return o;
}

static void progress_with_button(void **state)
{
    (void)state;
    cJSON *o = parse(qctl_progress_json("In queue", "fb:cancel:5:6"));
    assert_string_equal(cJSON_GetObjectItem(o, "content")->valuestring, "In queue");
    const cJSON *rows = cJSON_GetObjectItem(o, "components");
    assert_int_equal(cJSON_GetArraySize(rows), 1);
    const cJSON *row = cJSON_GetArrayItem(rows, 0);
    assert_int_equal(cJSON_GetObjectItem(row, "type")->valueint, 1);
    const cJSON *b = cJSON_GetArrayItem(cJSON_GetObjectItem(row, "components"), 0);
    assert_int_equal(cJSON_GetObjectItem(b, "type")->valueint, 2);
    assert_int_equal(cJSON_GetObjectItem(b, "style")->valueint, 4); /* danger */
    assert_string_equal(cJSON_GetObjectItem(b, "label")->valuestring, "Cancel");
    assert_string_equal(cJSON_GetObjectItem(b, "custom_id")->valuestring, "fb:cancel:5:6");
    cJSON_Delete(o);
    /* no id: the text alone, the message's components untouched */
    o = parse(qctl_progress_json("Loading", NULL));
    assert_null(cJSON_GetObjectItem(o, "components"));
    cJSON_Delete(o);
}

static void choice_rows(void **state)
{
    (void)state;
    qctl_choice items[QCTL_CHOICES_MAX + 3];
    char ids[QCTL_CHOICES_MAX + 3][32], labels[QCTL_CHOICES_MAX + 3][8];
    for (unsigned i = 0; i < QCTL_CHOICES_MAX + 3; i++) {
        snprintf(ids[i], sizeof ids[i], "fb:cancel:%u:1", i + 1);
        snprintf(labels[i], sizeof labels[i], "%u", i + 1);
        items[i] = (qctl_choice){.custom_id = ids[i], .label = labels[i]};
    }
    cJSON *o = parse(qctl_choice_json("Which one?", items, 7));
    const cJSON *rows = cJSON_GetObjectItem(o, "components");
    assert_int_equal(cJSON_GetArraySize(rows), 2);
    assert_int_equal(
        cJSON_GetArraySize(cJSON_GetObjectItem(cJSON_GetArrayItem(rows, 0), "components")), 5);
    const cJSON *second = cJSON_GetObjectItem(cJSON_GetArrayItem(rows, 1), "components");
    assert_int_equal(cJSON_GetArraySize(second), 2);
    assert_string_equal(
        cJSON_GetObjectItem(cJSON_GetArrayItem(second, 1), "custom_id")->valuestring,
        "fb:cancel:7:1");
    cJSON_Delete(o);
    /* more than the cap: the first QCTL_CHOICES_MAX only */
    o = parse(qctl_choice_json("Which one?", items, QCTL_CHOICES_MAX + 3));
    rows = cJSON_GetObjectItem(o, "components");
    assert_int_equal(cJSON_GetArraySize(rows), QCTL_CHOICES_MAX / 5);
    cJSON_Delete(o);
    /* none: the components are cleared */
    o = parse(qctl_choice_json("Nothing.", items, 0));
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(o, "components")), 0);
    assert_non_null(cJSON_GetObjectItem(o, "components"));
    cJSON_Delete(o);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(progress_with_button),
        cmocka_unit_test(choice_rows),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
