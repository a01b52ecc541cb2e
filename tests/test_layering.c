/* The build's layering (CMakeLists.txt): the product libraries -- everything `fluxbot run`,
 * `check` and `stats` use -- hold no fake and no demo. Reads the symbol tables with nm: no
 * product library defines a global the test kit defines, nor any symbol (global or static) or
 * object named fake_* / demo*. CMake passes the archives' paths in FLUXBOT_PRODUCT_LIBS
 * (':'-separated) and FLUXBOT_TESTKIT_LIB. (That an #include against the layering fails to
 * compile is checked by the ctest entries layering_*, defined in CMakeLists.txt.) */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct symset {
    char **names;
    size_t n, cap;
} symset;

static void symset_add(symset *s, const char *name)
{
    if (s->n == s->cap) {
        s->cap = s->cap ? s->cap * 2 : 256;
        s->names = realloc(s->names, s->cap * sizeof *s->names);
        assert_non_null(s->names);
    }
    s->names[s->n] = strdup(name);
    assert_non_null(s->names[s->n]);
    s->n++;
}

static bool symset_has(const symset *s, const char *name)
{
    for (size_t i = 0; i < s->n; i++)
        if (strcmp(s->names[i], name) == 0) return true;
    return false;
}

static void symset_free(symset *s)
{
    for (size_t i = 0; i < s->n; i++)
        free(s->names[i]);
    free(s->names);
}

/* Calls fn for each defined symbol of the archive at path (POSIX nm format: "name type ...",
 * members as "lib.a[member.o]:"). Returns the number of lines read. */
static size_t nm_each(const char *path, bool globals_only,
                      void (*fn)(void *ctx, const char *name, char type), void *ctx)
{
    char cmd[1200];
    snprintf(cmd, sizeof cmd, "nm -P --defined-only %s '%s' 2>&1", globals_only ? "-g" : "", path);
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    char line[1024];
    size_t lines = 0;
    while (fgets(line, sizeof line, p)) {
        lines++;
        char name[512], type = 0;
        int fields = sscanf(line, "%511s %c", name, &type);
        if (fields < 1) continue;
        size_t len = strlen(name);
        if (len > 2 && name[len - 1] == ':' && name[len - 2] == ']') {
            /* an archive member header, "lib.a[member.o]:": report the object file's name */
            name[len - 2] = '\0';
            const char *member = strrchr(name, '[');
            fn(ctx, member ? member + 1 : name, 'o');
            continue;
        }
        if (fields == 2) fn(ctx, name, type);
    }
    assert_int_equal(pclose(p), 0);
    return lines;
}

static void collect(void *ctx, const char *name, char type)
{
    if (type != 'o') symset_add(ctx, name);
}

typedef struct scan {
    const char *lib;
    const symset *testkit;
    size_t symbols;
    unsigned bad;
} scan;

static bool forbidden_name(const char *name)
{
    return strncmp(name, "fake_", 5) == 0 || strncmp(name, "demo", 4) == 0;
}

static void check_symbol(void *ctx, const char *name, char type)
{
    scan *s = ctx;
    if (type == 'o') {
        if (forbidden_name(name)) {
            fprintf(stderr, "%s holds the object %s\n", s->lib, name);
            s->bad++;
        }
        return;
    }
    s->symbols++;
    bool global = type >= 'A' && type <= 'Z';
    if (forbidden_name(name) || (global && symset_has(s->testkit, name))) {
        fprintf(stderr, "%s defines %s (%c), a test-kit symbol\n", s->lib, name, type);
        s->bad++;
    }
}

static void test_core_has_no_fake_or_demo_symbol(void **state)
{
    (void)state;
    const char *libs = getenv("FLUXBOT_PRODUCT_LIBS");
    const char *kit = getenv("FLUXBOT_TESTKIT_LIB");
    assert_non_null(libs);
    assert_non_null(kit);

    symset testkit = {0};
    nm_each(kit, true, collect, &testkit);
    /* the probe works: the test kit does define the fakes and the demo */
    assert_true(symset_has(&testkit, "fake_comfy_start"));
    assert_true(symset_has(&testkit, "demo_run"));
    assert_true(symset_has(&testkit, "image_fixture_png"));
    assert_true(symset_has(&testkit, "multipart_parse"));

    char *list = strdup(libs);
    assert_non_null(list);
    unsigned nlibs = 0, bad = 0;
    for (char *save = NULL, *lib = strtok_r(list, ":", &save); lib;
         lib = strtok_r(NULL, ":", &save)) {
        scan s = {.lib = lib, .testkit = &testkit};
        nm_each(lib, false, check_symbol, &s);
        assert_true(s.symbols > 0); /* an unreadable archive must not pass as clean */
        bad += s.bad;
        nlibs++;
    }
    assert_int_equal(nlibs, 6);
    assert_int_equal(bad, 0);
    free(list);
    symset_free(&testkit);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_core_has_no_fake_or_demo_symbol),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
