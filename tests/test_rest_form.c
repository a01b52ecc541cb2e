/* The multipart/form-data body of requests with files (rest_form.h): it parses back into the
 * same parts with a strict reader, filenames cannot end their header, unsafe content types
 * fall back to application/octet-stream, boundaries are 32 alphanumerics and differ, and a
 * boundary inside any part is detected. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "discord/rest_form.h"
#include "fakes/multipart.h"

static void test_parses_back(void **state)
{
    (void)state;
    char bnd[REST_FORM_BOUNDARY_LEN + 1];
    rest_form_boundary(bnd);
    uint8_t bin[300];
    for (int i = 0; i < 300; i++)
        bin[i] = (uint8_t)(i % 3 == 0 ? '\r' : i % 3 == 1 ? '\n' : i);
    rest_form_file files[3] = {
        {.filename = "stats.png", .content_type = "image/png", .data = bin, .len = 300},
        {.filename = "evil\"\r\nX-Injected: 1.txt",
         .content_type = "text/plain\r\nX: y",
         .data = (const uint8_t *)"hi",
         .len = 2},
        {.filename = NULL, .content_type = NULL, .data = NULL, .len = 0},
    };
    const char *json = "{\"content\":\"r\\u00e9sultat\"}";
    assert_false(rest_form_collides(bnd, json, files, 3));
    size_t len;
    char *body = rest_form_body(bnd, json, files, 3, &len);
    /* Neither the filename nor the content type gets a header line of its own. */
    assert_null(memmem(body, len, "\r\nX-Injected", 12));
    assert_null(memmem(body, len, "\r\nX: y", 6));
    multipart_part parts[8];
    int n = multipart_parse((const uint8_t *)body, len, bnd, parts, 8);
    assert_int_equal(n, 4);
    assert_string_equal(parts[0].name, "payload_json");
    assert_string_equal(parts[0].content_type, "application/json");
    assert_int_equal(parts[0].len, strlen(json));
    assert_memory_equal(parts[0].data, json, strlen(json));
    assert_string_equal(parts[1].name, "files[0]");
    assert_string_equal(parts[1].filename, "stats.png");
    assert_string_equal(parts[1].content_type, "image/png");
    assert_int_equal(parts[1].len, 300);
    assert_memory_equal(parts[1].data, bin, 300);
    assert_string_equal(parts[2].name, "files[1]");
    assert_string_equal(parts[2].filename, "evil%22%0D%0AX-Injected: 1.txt");
    assert_string_equal(parts[2].content_type, "application/octet-stream");
    assert_int_equal(parts[2].len, 2);
    assert_string_equal(parts[3].name, "files[2]");
    assert_string_equal(parts[3].filename, "file.bin");
    assert_int_equal(parts[3].len, 0);
    free(body);
    /* No JSON: an empty object. */
    body = rest_form_body(bnd, NULL, files, 1, &len);
    n = multipart_parse((const uint8_t *)body, len, bnd, parts, 8);
    assert_int_equal(n, 2);
    assert_int_equal(parts[0].len, 2);
    assert_memory_equal(parts[0].data, "{}", 2);
    free(body);
}

static void test_boundaries_and_collisions(void **state)
{
    (void)state;
    char a[REST_FORM_BOUNDARY_LEN + 1], b[REST_FORM_BOUNDARY_LEN + 1];
    rest_form_boundary(a);
    rest_form_boundary(b);
    assert_int_equal(strlen(a), REST_FORM_BOUNDARY_LEN);
    assert_string_not_equal(a, b);
    for (int i = 0; i < REST_FORM_BOUNDARY_LEN; i++)
        assert_true((a[i] >= '0' && a[i] <= '9') || (a[i] >= 'A' && a[i] <= 'Z') ||
                    (a[i] >= 'a' && a[i] <= 'z'));
    uint8_t data[100];
    memset(data, 'z', sizeof data);
    rest_form_file f = {.filename = "f", .content_type = "image/png", .data = data, .len = 100};
    assert_false(rest_form_collides(a, "{}", &f, 1));
    memcpy(data + 60, a, REST_FORM_BOUNDARY_LEN);
    assert_true(rest_form_collides(a, "{}", &f, 1));
    assert_false(rest_form_collides(b, "{}", &f, 1));
    char json[80];
    snprintf(json, sizeof json, "{\"content\":\"%s\"}", b);
    assert_true(rest_form_collides(b, json, NULL, 0));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parses_back),
        cmocka_unit_test(test_boundaries_and_collisions),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
