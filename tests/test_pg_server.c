/* The throw-away PostgreSQL server the test script starts (scripts/pg.sh), as the PostgreSQL
 * tests rely on it: version 15 or later, reachable on its Unix socket only (no TCP port), text
 * bound as parameters stays data, and each test's fresh database is its own. Fails under CI
 * when FLUXBOT_TEST_PG_URL is missing (tpg.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "tpg.h"

static void test_server_version_and_socket_only(void **state)
{
    (void)state;
    tpg t;
    tpg_open(&t);
    assert_true(PQserverVersion(t.conn) >= 150000);
    PGresult *r = PQexec(t.conn, "SHOW listen_addresses");
    assert_int_equal(PQresultStatus(r), PGRES_TUPLES_OK);
    assert_string_equal(PQgetvalue(r, 0, 0), "");
    PQclear(r);
    /* a Unix socket: libpq reports the socket directory as the host */
    assert_true(PQhost(t.conn)[0] == '/');
    tpg_close(&t);
}

static void test_bound_text_stays_data(void **state)
{
    (void)state;
    tpg t;
    tpg_open(&t);
    tpg_exec(t.conn, "CREATE TABLE names (v text NOT NULL)");
    const char *hostile[] = {"x'); DROP TABLE names; --", "\xe2\x80\xae\x00", "$1", "\\'\"", ""};
    for (size_t i = 0; i < sizeof hostile / sizeof hostile[0]; i++) {
        const char *p[1] = {hostile[i]};
        PGresult *r =
            PQexecParams(t.conn, "INSERT INTO names (v) VALUES ($1)", 1, NULL, p, NULL, NULL, 0);
        assert_int_equal(PQresultStatus(r), PGRES_COMMAND_OK);
        PQclear(r);
    }
    assert_int_equal(tpg_scalar(t.conn, "SELECT count(*) FROM names", 0, NULL), 5);
    const char *p[1] = {hostile[0]};
    assert_int_equal(tpg_scalar(t.conn, "SELECT count(*) FROM names WHERE v = $1", 1, p), 1);
    tpg_close(&t);
}

static void test_fresh_databases_are_separate(void **state)
{
    (void)state;
    tpg a, b;
    tpg_open(&a);
    tpg_open(&b);
    assert_string_not_equal(a.name, b.name);
    tpg_exec(a.conn, "CREATE TABLE only_in_a (v int)");
    assert_int_equal(
        tpg_scalar(b.conn, "SELECT count(*) FROM pg_tables WHERE tablename = 'only_in_a'", 0, NULL),
        0);
    assert_int_equal(
        tpg_scalar(a.conn, "SELECT count(*) FROM pg_tables WHERE tablename = 'only_in_a'", 0, NULL),
        1);
    char name[64];
    strcpy(name, a.name);
    tpg_close(&a);
    const char *p[1] = {name};
    assert_int_equal(
        tpg_scalar(b.conn, "SELECT count(*) FROM pg_database WHERE datname = $1", 1, p), 0);
    tpg_close(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_server_version_and_socket_only),
        cmocka_unit_test(test_bound_text_stays_data),
        cmocka_unit_test(test_fresh_databases_are_separate),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
