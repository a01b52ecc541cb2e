/* util_file: whole files up to the cap, errors that name the file and the reason.
 * fluxbot-test: tsan */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/util_file.h"

static char dir[] = "/tmp/fb_util_file_XXXXXX";
static char path[64];

static int setup(void **state)
{
    (void)state;
    if (!mkdtemp(dir)) return -1;
    snprintf(path, sizeof path, "%s/f", dir);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    unlink(path);
    rmdir(dir);
    return 0;
}

/* Writes n bytes of a repeating pattern (with a NUL in it) to path. */
static void write_file(size_t n)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    for (size_t i = 0; i < n; i++)
        fputc(i % 251 == 7 ? 0 : 'a' + (int)(i % 26), f);
    assert_int_equal(fclose(f), 0);
}

static void check_content(const char *buf, size_t n)
{
    for (size_t i = 0; i < n; i++)
        assert_int_equal((unsigned char)buf[i], i % 251 == 7 ? 0 : 'a' + (int)(i % 26));
    assert_int_equal(buf[n], '\0');
}

static void test_reads_whole_file(void **state)
{
    (void)state;
    char err[256] = "";
    const size_t sizes[] = {0, 1, 4095, 4096, 4097, 100000};
    for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
        write_file(sizes[k]);
        size_t len = 12345;
        char *b = util_file_read(path, 1 << 20, &len, err, sizeof err);
        assert_non_null(b);
        assert_int_equal(len, sizes[k]);
        check_content(b, len);
        free(b);
    }
    write_file(10);
    char *b = util_file_read(path, 1 << 20, NULL, err, sizeof err); /* len may be NULL */
    assert_non_null(b);
    free(b);
}

static void test_cap(void **state)
{
    (void)state;
    char err[256];
    const size_t caps[] = {0, 1, 100, 4096, 5000, 70000};
    for (size_t k = 0; k < sizeof caps / sizeof caps[0]; k++) {
        size_t cap = caps[k], len = 0;
        /* exactly the cap fits */
        write_file(cap);
        char *b = util_file_read(path, cap, &len, err, sizeof err);
        assert_non_null(b);
        assert_int_equal(len, cap);
        check_content(b, len);
        free(b);
        /* one byte more does not, and nothing beyond the cap is ever returned */
        write_file(cap + 1);
        err[0] = '\0';
        assert_null(util_file_read(path, cap, &len, err, sizeof err));
        char want[128];
        snprintf(want, sizeof want, "%s: larger than %zu bytes", path, cap);
        assert_string_equal(err, want);
    }
}

static void test_errors_name_the_file(void **state)
{
    (void)state;
    char err[256] = "";
    char missing[96];
    snprintf(missing, sizeof missing, "%s/missing.json", dir);
    assert_null(util_file_read(missing, 100, NULL, err, sizeof err));
    assert_non_null(strstr(err, missing));
    assert_non_null(strstr(err, "No such file"));
    /* a directory opens but cannot be read */
    err[0] = '\0';
    assert_null(util_file_read(dir, 100, NULL, err, sizeof err));
    assert_non_null(strstr(err, dir));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reads_whole_file),
        cmocka_unit_test(test_cap),
        cmocka_unit_test(test_errors_name_the_file),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
