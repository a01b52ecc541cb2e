/* Unit tests of the gateway's pure parsing and building modules: the JSON scanner, the
 * envelope parser (including malformed and oversized frames), the payload builders, the
 * /gateway/bot reader and the URL helpers. */
/* fluxbot-test: tsan */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "discord/gw_envelope.h"
#include "discord/gw_json.h"
#include "discord/gw_payload.h"
#include "discord/gw_url.h"

static int parse(const char *s, gw_envelope *env)
{
    return gw_envelope_parse(s, strlen(s), 0, env);
}

static void test_envelope_dispatch(void **state)
{
    (void)state;
    const char *f = "{\"t\":\"INTERACTION_CREATE\",\"s\":42,\"op\":0,\"d\":{\"id\":\"1\",\"x\":[1,"
                    "2,{\"y\":null}]}}";
    gw_envelope env;
    assert_int_equal(parse(f, &env), GW_ENV_OK);
    assert_int_equal(env.op, 0);
    assert_true(env.has_seq);
    assert_int_equal(env.seq, 42);
    assert_string_equal(env.t, "INTERACTION_CREATE");
    assert_true(env.has_d);
    const char *want = "{\"id\":\"1\",\"x\":[1,2,{\"y\":null}]}";
    assert_int_equal(env.d.len, strlen(want));
    assert_memory_equal(env.d.p, want, env.d.len);
}

static void test_envelope_any_order_and_nulls(void **state)
{
    (void)state;
    gw_envelope env;
    /* d first, whitespace everywhere, nulls for s and t */
    const char *f = " \n{ \"d\" : { \"heartbeat_interval\" : 41250 } , \"op\" : 10 ,\"s\":null,"
                    "\"t\":null, \"extra\": [true,false,-1.5e3] } \r\n";
    assert_int_equal(parse(f, &env), GW_ENV_OK);
    assert_int_equal(env.op, 10);
    assert_false(env.has_seq);
    assert_string_equal(env.t, "");
    gw_span v;
    int64_t hb;
    assert_int_equal(gw_json_get(env.d, "heartbeat_interval", &v), 1);
    assert_int_equal(gw_json_int64(v, &hb), GW_JSON_OK);
    assert_int_equal(hb, 41250);

    assert_int_equal(parse("{\"op\":11}", &env), GW_ENV_OK);
    assert_int_equal(env.op, 11);
    assert_false(env.has_d);
    assert_int_equal(parse("{\"op\":9,\"d\":false}", &env), GW_ENV_OK);
    assert_int_equal(gw_json_kind_of(env.d), GW_JSON_FALSE);
}

static void test_envelope_malformed(void **state)
{
    (void)state;
    static const char *bad[] = {
        "",
        "{",
        "}",
        "{\"op\":1",
        "{\"op\":1,}",
        "{\"op\":1 \"d\":2}",
        "{op:1}",
        "{\"op\":1}x",
        "{\"op\":1}{\"op\":2}",
        "{\"op\":\"1\"}",
        "{\"op\":1.5}",
        "{\"op\":-1}",
        "{\"op\":99999}",
        "{\"op\":0,\"s\":\"5\"}",
        "{\"op\":0,\"s\":-3}",
        "{\"op\":0,\"t\":5}",
        "{\"d\":{}}",
        "[1,2,3]",
        "\"just a string\"",
        "{\"op\":0,\"d\":\"unterminated}",
        "{\"op\":0,\"d\":\"bad \\x escape\"}",
        "{\"op\":0,\"d\":\"ctl \x01 char\"}",
        "{\"op\":0,\"d\":tru}",
        "{\"op\":0,\"d\":01}",
        "{\"op\":0,\"d\":1.}",
        "{\"op\":0,\"d\":-}",
        "{\"op\":0,\"d\":[1,,2]}",
        "{\"op\":0,\"d\":{\"a\" 1}}",
        "{\"op\":0,\"d\":\"\\u12G4\"}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        gw_envelope env;
        int rc = gw_envelope_parse(bad[i], strlen(bad[i]), 0, &env);
        if (rc == GW_ENV_OK) fail_msg("accepted malformed frame #%zu: %s", i, bad[i]);
        assert_non_null(gw_envelope_strerror(rc));
    }
    gw_envelope env;
    assert_int_equal(gw_envelope_parse(NULL, 0, 0, &env), GW_ENV_EMPTY);
    /* Embedded NUL inside the frame is not valid JSON text. */
    const char nul[] = "{\"op\":1,\"d\":\"a\0b\"}";
    assert_true(gw_envelope_parse(nul, sizeof nul - 1, 0, &env) < 0);
}

static void test_envelope_oversized_and_deep(void **state)
{
    (void)state;
    gw_envelope env;
    const char *f = "{\"op\":11}";
    assert_int_equal(gw_envelope_parse(f, strlen(f), 5, &env), GW_ENV_TOOBIG);

    /* Nesting beyond the bound is refused, not recursed into. */
    size_t depth = 10000;
    char *deep = malloc(depth * 2 + 64);
    size_t n = (size_t)sprintf(deep, "{\"op\":0,\"d\":");
    for (size_t i = 0; i < depth; i++)
        deep[n++] = '[';
    for (size_t i = 0; i < depth; i++)
        deep[n++] = ']';
    deep[n++] = '}';
    assert_int_equal(gw_envelope_parse(deep, n, 0, &env), GW_JSON_EDEPTH);
    free(deep);

    /* At the bound it is fine. */
    char ok[512];
    n = (size_t)sprintf(ok, "{\"op\":0,\"d\":");
    for (int i = 0; i < GW_JSON_MAX_DEPTH; i++)
        ok[n++] = '[';
    for (int i = 0; i < GW_JSON_MAX_DEPTH; i++)
        ok[n++] = ']';
    ok[n++] = '}';
    assert_int_equal(gw_envelope_parse(ok, n, 0, &env), GW_ENV_OK);
}

static void test_envelope_long_event_name(void **state)
{
    (void)state;
    char f[256];
    snprintf(f, sizeof f, "{\"op\":0,\"s\":7,\"t\":\"%s\",\"d\":{}}",
             "AN_EVENT_NAME_THAT_IS_FAR_TOO_LONG_TO_BE_A_REAL_DISCORD_EVENT_NAME");
    gw_envelope env;
    assert_int_equal(parse(f, &env), GW_ENV_OK);
    assert_true(env.t_truncated);
    assert_string_equal(env.t, "");
    assert_int_equal(env.seq, 7); /* the sequence still counts */
}

static void test_envelope_random_garbage(void **state)
{
    (void)state;
    /* Every prefix and single-byte corruption of a valid frame must be handled cleanly. */
    const char *f =
        "{\"t\":\"GUILD_CREATE\",\"s\":3,\"op\":0,\"d\":{\"id\":\"10\",\"roles\":[{\"id\":"
        "\"11\",\"name\":\"a\\u00e9\\\"b\"}],\"n\":-0.5e-3,\"b\":[true,false,null]}}";
    size_t len = strlen(f);
    char buf[512];
    gw_envelope env;
    for (size_t cut = 0; cut < len; cut++)
        assert_true(gw_envelope_parse(f, cut, 0, &env) < 0);
    srand(7);
    for (int round = 0; round < 5000; round++) {
        memcpy(buf, f, len);
        size_t at = (size_t)rand() % len;
        buf[at] = (char)(rand() & 0xff);
        int rc = gw_envelope_parse(buf, len, 0, &env);
        if (rc == GW_ENV_OK) {
            assert_true(env.op >= 0);
            assert_true(env.d.p == NULL || (env.d.p >= buf && env.d.p + env.d.len <= buf + len));
        }
    }
}

static void test_json_strings_and_numbers(void **state)
{
    (void)state;
    gw_span v;
    char out[64];
    size_t n;
    const char *s = "\"a\\n\\u00e9\\ud83d\\ude00\\/\\\\\"";
    assert_int_equal(gw_json_parse_span(s, strlen(s), &v), GW_JSON_OK);
    assert_int_equal(gw_json_string(v, out, sizeof out, &n), GW_JSON_OK);
    assert_string_equal(out, "a\n\xc3\xa9\xf0\x9f\x98\x80/\\");
    assert_int_equal(gw_json_string(v, out, 4, &n), GW_JSON_ETOOLONG);
    const char *zero = "\"x\\u0000y\"";
    assert_int_equal(gw_json_parse_span(zero, strlen(zero), &v), GW_JSON_OK);
    assert_int_equal(gw_json_string(v, out, sizeof out, &n), GW_JSON_ERANGE);

    int64_t i;
    const char *big = "9223372036854775807";
    assert_int_equal(gw_json_parse_span(big, strlen(big), &v), GW_JSON_OK);
    assert_int_equal(gw_json_int64(v, &i), GW_JSON_OK);
    assert_true(i == INT64_MAX);
    const char *over = "9223372036854775808";
    assert_int_equal(gw_json_parse_span(over, strlen(over), &v), GW_JSON_OK);
    assert_int_equal(gw_json_int64(v, &i), GW_JSON_ERANGE);
    const char *neg = "-9223372036854775808";
    assert_int_equal(gw_json_parse_span(neg, strlen(neg), &v), GW_JSON_OK);
    assert_int_equal(gw_json_int64(v, &i), GW_JSON_OK);
    assert_true(i == INT64_MIN);

    uint64_t id;
    const char *sf = "\"1234567890123456789\"";
    assert_int_equal(gw_json_parse_span(sf, strlen(sf), &v), GW_JSON_OK);
    assert_int_equal(gw_json_snowflake(v, &id), GW_JSON_OK);
    assert_true(id == 1234567890123456789ULL);
    const char *sfmax = "\"18446744073709551615\"";
    assert_int_equal(gw_json_parse_span(sfmax, strlen(sfmax), &v), GW_JSON_OK);
    assert_int_equal(gw_json_snowflake(v, &id), GW_JSON_OK);
    assert_true(id == UINT64_MAX);
    static const char *badsf[] = {
        "\"18446744073709551616\"", "\"\"", "\"12a\"", "\"-1\"", "\"0\"", "1.5", "null", "\" 12\""};
    for (size_t k = 0; k < sizeof badsf / sizeof badsf[0]; k++) {
        assert_int_equal(gw_json_parse_span(badsf[k], strlen(badsf[k]), &v), GW_JSON_OK);
        assert_true(gw_json_snowflake(v, &id) < 0);
    }
}

static void test_json_get_and_iterate(void **state)
{
    (void)state;
    const char *o = "{\"a\":1,\"b\":{\"c\":[1,2,3]},\"a\":2,\"k\\u0065y\":\"v\"}";
    gw_span root, v, e;
    assert_int_equal(gw_json_parse_span(o, strlen(o), &root), GW_JSON_OK);
    int64_t x;
    assert_int_equal(gw_json_get(root, "a", &v), 1);
    assert_int_equal(gw_json_int64(v, &x), GW_JSON_OK);
    assert_int_equal(x, 2); /* last duplicate wins */
    assert_int_equal(gw_json_get(root, "key", &v), 1);
    assert_true(gw_json_string_eq(v, "v"));
    assert_int_equal(gw_json_get(root, "zzz", &v), 0);
    assert_int_equal(gw_json_get(root, "b", &v), 1);
    gw_span arr;
    assert_int_equal(gw_json_get(v, "c", &arr), 1);
    size_t it = 0;
    int64_t sum = 0;
    while (gw_json_array_next(arr, &it, &e) == 1) {
        assert_int_equal(gw_json_int64(e, &x), GW_JSON_OK);
        sum += x;
    }
    assert_int_equal(sum, 6);
    assert_int_equal(gw_json_get(arr, "c", &v), GW_JSON_ETYPE);
    const char *empty = "[]";
    assert_int_equal(gw_json_parse_span(empty, 2, &arr), GW_JSON_OK);
    it = 0;
    assert_int_equal(gw_json_array_next(arr, &it, &e), 0);
}

static void test_json_escape(void **state)
{
    (void)state;
    char out[64];
    int n = gw_json_escape("a\"b\\c\n\x01", out, sizeof out);
    assert_true(n > 0);
    assert_string_equal(out, "\"a\\\"b\\\\c\\u000a\\u0001\"");
    gw_span v;
    char back[64];
    assert_int_equal(gw_json_parse_span(out, (size_t)n, &v), GW_JSON_OK);
    assert_int_equal(gw_json_string(v, back, sizeof back, NULL), GW_JSON_OK);
    assert_string_equal(back, "a\"b\\c\n\x01");
    assert_int_equal(gw_json_escape("abcdef", out, 5), -1);
}

static void test_build_heartbeat(void **state)
{
    (void)state;
    char buf[64];
    int n = gw_build_heartbeat(buf, sizeof buf, false, 0);
    assert_int_equal(n, (int)strlen("{\"op\":1,\"d\":null}"));
    assert_string_equal(buf, "{\"op\":1,\"d\":null}");
    n = gw_build_heartbeat(buf, sizeof buf, true, 251);
    assert_string_equal(buf, "{\"op\":1,\"d\":251}");
    assert_int_equal(gw_build_heartbeat(buf, 8, true, 251), -1);
}

static void test_build_identify(void **state)
{
    (void)state;
    char buf[GW_PAYLOAD_MAX];
    gw_identify_params p = {.token = "tok\"en",
                            .intents = GW_INTENT_GUILDS,
                            .shard_id = 1,
                            .shard_count = 4,
                            .large_threshold = 10};
    int n = gw_build_identify(buf, sizeof buf, &p);
    assert_true(n > 0);
    cJSON *j = cJSON_ParseWithLength(buf, (size_t)n);
    assert_non_null(j);
    assert_int_equal(cJSON_GetObjectItem(j, "op")->valueint, 2);
    cJSON *d = cJSON_GetObjectItem(j, "d");
    assert_string_equal(cJSON_GetObjectItem(d, "token")->valuestring, "tok\"en");
    assert_int_equal(cJSON_GetObjectItem(d, "intents")->valueint, 1);
    cJSON *shard = cJSON_GetObjectItem(d, "shard");
    assert_int_equal(cJSON_GetArraySize(shard), 2);
    assert_int_equal(cJSON_GetArrayItem(shard, 0)->valueint, 1);
    assert_int_equal(cJSON_GetArrayItem(shard, 1)->valueint, 4);
    assert_int_equal(cJSON_GetObjectItem(d, "large_threshold")->valueint, 50); /* clamped */
    cJSON *props = cJSON_GetObjectItem(d, "properties");
    assert_string_equal(cJSON_GetObjectItem(props, "os")->valuestring, "linux");
    assert_string_equal(cJSON_GetObjectItem(props, "browser")->valuestring, "fluxbot");
    assert_string_equal(cJSON_GetObjectItem(props, "device")->valuestring, "fluxbot");
    assert_true(cJSON_IsFalse(cJSON_GetObjectItem(d, "compress")));
    cJSON_Delete(j);

    /* no "Bot " prefix is ever added */
    assert_null(strstr(buf, "Bot "));
    gw_identify_params bad = p;
    bad.shard_id = 4;
    assert_int_equal(gw_build_identify(buf, sizeof buf, &bad), -1);
    bad = p;
    bad.token = "";
    assert_int_equal(gw_build_identify(buf, sizeof buf, &bad), -1);
    assert_int_equal(gw_build_identify(buf, 40, &p), -1);
}

static void test_build_resume(void **state)
{
    (void)state;
    char buf[GW_PAYLOAD_MAX];
    int n = gw_build_resume(buf, sizeof buf, "tok", "sess1", true, 99);
    assert_true(n > 0);
    cJSON *j = cJSON_ParseWithLength(buf, (size_t)n);
    assert_non_null(j);
    assert_int_equal(cJSON_GetObjectItem(j, "op")->valueint, 6);
    cJSON *d = cJSON_GetObjectItem(j, "d");
    assert_string_equal(cJSON_GetObjectItem(d, "token")->valuestring, "tok");
    assert_string_equal(cJSON_GetObjectItem(d, "session_id")->valuestring, "sess1");
    assert_int_equal(cJSON_GetObjectItem(d, "seq")->valueint, 99);
    cJSON_Delete(j);
    n = gw_build_resume(buf, sizeof buf, "tok", "s", false, 0);
    assert_non_null(strstr(buf, "\"seq\":null"));
    assert_int_equal(gw_build_resume(buf, sizeof buf, "tok", "", true, 1), -1);
}

static void test_parse_bot_info(void **state)
{
    (void)state;
    const char *ok = "{\"url\":\"wss://gateway.discord.gg\",\"shards\":2,\"session_start_limit\":"
                     "{\"total\":1000,\"remaining\":998,\"reset_after\":14400000,"
                     "\"max_concurrency\":1}}";
    gw_bot_info bi;
    char err[128];
    assert_int_equal(gw_parse_bot_info(ok, strlen(ok), &bi, err, sizeof err), 0);
    assert_string_equal(bi.url, "wss://gateway.discord.gg");
    assert_int_equal(bi.shards, 2);
    assert_int_equal(bi.total, 1000);
    assert_int_equal(bi.remaining, 998);
    assert_true(bi.reset_after_ms == 14400000);
    assert_int_equal(bi.max_concurrency, 1);
    static const char *bad[] = {
        "{}",
        "{\"url\":\"http://x\",\"shards\":1,\"session_start_limit\":{\"total\":1,\"remaining\":1,"
        "\"reset_after\":1,\"max_concurrency\":1}}",
        "{\"url\":\"wss://x\",\"shards\":0,\"session_start_limit\":{\"total\":1,\"remaining\":1,"
        "\"reset_after\":1,\"max_concurrency\":1}}",
        "{\"url\":\"wss://x\",\"shards\":1,\"session_start_limit\":{\"total\":1,\"remaining\":1,"
        "\"reset_after\":1,\"max_concurrency\":0}}",
        "{\"url\":\"wss://x\",\"shards\":1,\"session_start_limit\":{\"total\":1,\"remaining\":-1,"
        "\"reset_after\":1,\"max_concurrency\":1}}",
        "{\"url\":\"wss://x\",\"shards\":1}",
        "not json",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        err[0] = '\0';
        assert_int_equal(gw_parse_bot_info(bad[i], strlen(bad[i]), &bi, err, sizeof err), -1);
        assert_true(err[0] != '\0');
    }
}

static void test_url(void **state)
{
    (void)state;
    gw_url u;
    assert_int_equal(gw_url_parse("wss://gateway.discord.gg/?v=10&encoding=json", &u), 0);
    assert_true(u.tls);
    assert_string_equal(u.host, "gateway.discord.gg");
    assert_int_equal(u.port, 443);
    assert_string_equal(u.path, "/?v=10&encoding=json");
    assert_int_equal(gw_url_parse("ws://127.0.0.1:40001", &u), 0);
    assert_false(u.tls);
    assert_int_equal(u.port, 40001);
    assert_string_equal(u.path, "/");
    assert_int_equal(gw_url_parse("ws://[::1]:9/x", &u), 0);
    assert_string_equal(u.host, "::1");
    assert_true(gw_url_host_is_loopback(u.host));
    static const char *bad[] = {
        "http://x",     "wss://",    "wss://a b", "wss://x:0", "wss://x:70000",
        "wss://x:12ab", "wss://x@y", "ws://[zz]", "wss://x\n", ""};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(gw_url_parse(bad[i], &u), -1);

    char out[GW_URL_MAX];
    assert_int_equal(
        gw_url_with_query("wss://gateway-us-east1-b.discord.gg", true, out, sizeof out), 0);
    assert_string_equal(
        out, "wss://gateway-us-east1-b.discord.gg/?v=10&encoding=json&compress=zlib-stream");
    /* A base with its own query or path is normalised, never concatenated. */
    assert_int_equal(
        gw_url_with_query("ws://127.0.0.1:5000/?v=9&encoding=etf", false, out, sizeof out), 0);
    assert_string_equal(out, "ws://127.0.0.1:5000/?v=10&encoding=json");
    assert_int_equal(gw_url_with_query("ws://127.0.0.1:5000/", false, out, 10), -1);
    assert_true(gw_url_host_is_loopback("127.0.0.1"));
    assert_true(gw_url_host_is_loopback("localhost"));
    assert_false(gw_url_host_is_loopback("127.example.com"));
    assert_false(gw_url_host_is_loopback("10.0.0.1"));
}

/* Found by fuzz_gw_envelope: gw_json_string_eq decoded into a 256-byte buffer, so a string of
 * 256 bytes or more never equalled anything, itself included (and a long escaped key was never
 * found by gw_json_get). */
static void test_json_string_eq_long(void **state)
{
    (void)state;
    enum { N = 1000 };
    char *plain = malloc(N + 1), *json = malloc(N + 16);
    memset(plain, 'w', N);
    plain[N] = '\0';
    snprintf(json, N + 16, "\"%s\"", plain);
    gw_span v;
    assert_int_equal(gw_json_parse_span(json, strlen(json), &v), GW_JSON_OK);
    assert_true(gw_json_string_eq(v, plain));
    plain[N - 1] = 'x';
    assert_false(gw_json_string_eq(v, plain));
    plain[N - 1] = '\0';
    assert_false(gw_json_string_eq(v, plain)); /* a prefix is not equal */

    /* An escaped key longer than 256 bytes is found by its decoded text. */
    char *obj = malloc(N + 64), key[400];
    memset(key, 'k', 300);
    key[300] = '\0';
    snprintf(obj, N + 64, "{\"\\u006b%s\":7}", key + 1);
    gw_span o, val;
    assert_int_equal(gw_json_parse_span(obj, strlen(obj), &o), GW_JSON_OK);
    assert_int_equal(gw_json_get(o, key, &val), 1);
    int64_t i = 0;
    assert_int_equal(gw_json_int64(val, &i), GW_JSON_OK);
    assert_int_equal(i, 7);
    /* Escapes still compare by their decoded bytes, and \u0000 never matches. */
    const char *esc = "\"a\\u00e9\\n\\ud83d\\ude00\"";
    assert_int_equal(gw_json_parse_span(esc, strlen(esc), &v), GW_JSON_OK);
    assert_true(gw_json_string_eq(v, "a\xc3\xa9\n\xf0\x9f\x98\x80"));
    assert_false(gw_json_string_eq(v, "a\xc3\xa9\n"));
    const char *nul = "\"a\\u0000\"";
    assert_int_equal(gw_json_parse_span(nul, strlen(nul), &v), GW_JSON_OK);
    assert_false(gw_json_string_eq(v, "a"));
    free(plain);
    free(json);
    free(obj);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_envelope_dispatch),
        cmocka_unit_test(test_envelope_any_order_and_nulls),
        cmocka_unit_test(test_envelope_malformed),
        cmocka_unit_test(test_envelope_oversized_and_deep),
        cmocka_unit_test(test_envelope_long_event_name),
        cmocka_unit_test(test_envelope_random_garbage),
        cmocka_unit_test(test_json_strings_and_numbers),
        cmocka_unit_test(test_json_get_and_iterate),
        cmocka_unit_test(test_json_escape),
        cmocka_unit_test(test_json_string_eq_long),
        cmocka_unit_test(test_build_heartbeat),
        cmocka_unit_test(test_build_identify),
        cmocka_unit_test(test_build_resume),
        cmocka_unit_test(test_parse_bot_info),
        cmocka_unit_test(test_url),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
