/* Unit tests of the zlib-stream inflater: one deflate stream per connection with a sync flush
 * after each message, fed whole, byte by byte, or split across websocket messages; oversized
 * messages dropped without losing the stream; corruption reported; reset for a new
 * connection. */
/* fluxbot-test: tsan */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "discord/gw_zlib.h"

typedef struct deflater {
    z_stream zs;
} deflater;

static void def_init(deflater *d)
{
    memset(d, 0, sizeof *d);
    assert_int_equal(deflateInit(&d->zs, Z_DEFAULT_COMPRESSION), Z_OK);
}

/* Compresses msg with a sync flush, like Discord does per gateway message. Caller frees. */
static unsigned char *def_msg(deflater *d, const char *msg, size_t len, size_t *out_len)
{
    size_t cap = deflateBound(&d->zs, len) + 64;
    unsigned char *out = malloc(cap);
    d->zs.next_in = (Bytef *)msg;
    d->zs.avail_in = (uInt)len;
    d->zs.next_out = out;
    d->zs.avail_out = (uInt)cap;
    assert_int_equal(deflate(&d->zs, Z_SYNC_FLUSH), Z_OK);
    assert_int_equal(d->zs.avail_in, 0);
    *out_len = cap - d->zs.avail_out;
    assert_memory_equal(out + *out_len - 4, "\x00\x00\xff\xff", 4);
    return out;
}

static char *make_payload(size_t len, unsigned seed)
{
    char *p = malloc(len + 1);
    int n = snprintf(p, len + 1, "{\"op\":0,\"s\":%u,\"t\":\"X\",\"d\":\"", seed);
    for (size_t i = (size_t)n; i + 2 < len; i++)
        p[i] = (char)('a' + (i * seed + i / 7) % 26);
    p[len - 2] = '"';
    p[len - 1] = '}';
    p[len] = '\0';
    return p;
}

static void test_whole_messages(void **state)
{
    (void)state;
    deflater d;
    def_init(&d);
    gw_inflater z;
    assert_int_equal(gw_inflater_init(&z, 1 << 20), 0);
    for (unsigned i = 1; i <= 20; i++) {
        char *msg = make_payload(100 + i * 997, i);
        size_t clen, olen;
        unsigned char *c = def_msg(&d, msg, strlen(msg), &clen);
        const char *out = NULL;
        assert_int_equal(gw_inflater_feed(&z, c, clen, true, &out, &olen), GW_INFLATE_MESSAGE);
        assert_int_equal(olen, strlen(msg));
        assert_memory_equal(out, msg, olen);
        assert_int_equal(out[olen], '\0');
        free(c);
        free(msg);
    }
    gw_inflater_free(&z);
    deflateEnd(&d.zs);
}

static void test_split_feeds(void **state)
{
    (void)state;
    deflater d;
    def_init(&d);
    gw_inflater z;
    assert_int_equal(gw_inflater_init(&z, 1 << 20), 0);
    for (unsigned round = 0; round < 3; round++) {
        char *msg = make_payload(50000, 3 + round);
        size_t clen, olen;
        unsigned char *c = def_msg(&d, msg, strlen(msg), &clen);
        const char *out = NULL;
        if (round == 0) {
            /* one byte per websocket message: only the last completes it */
            for (size_t i = 0; i < clen; i++) {
                int rc = gw_inflater_feed(&z, c + i, 1, true, &out, &olen);
                if (i + 1 < clen)
                    assert_int_equal(rc, GW_INFLATE_MORE);
                else
                    assert_int_equal(rc, GW_INFLATE_MESSAGE);
            }
        } else if (round == 1) {
            /* three websocket messages, the suffix split between the last two */
            size_t a = clen / 3, b = clen - 2;
            assert_int_equal(gw_inflater_feed(&z, c, a, true, &out, &olen), GW_INFLATE_MORE);
            assert_int_equal(gw_inflater_feed(&z, c + a, b - a, true, &out, &olen),
                             GW_INFLATE_MORE);
            assert_int_equal(gw_inflater_feed(&z, c + b, clen - b, true, &out, &olen),
                             GW_INFLATE_MESSAGE);
        } else {
            /* fragments of one websocket message: the end is only known at the last one */
            size_t a = clen / 2;
            assert_int_equal(gw_inflater_feed(&z, c, a, false, &out, &olen), GW_INFLATE_MORE);
            assert_int_equal(gw_inflater_feed(&z, c + a, clen - a, true, &out, &olen),
                             GW_INFLATE_MESSAGE);
        }
        assert_int_equal(olen, strlen(msg));
        assert_memory_equal(out, msg, olen);
        free(c);
        free(msg);
    }
    gw_inflater_free(&z);
    deflateEnd(&d.zs);
}

static void test_oversized_keeps_stream(void **state)
{
    (void)state;
    deflater d;
    def_init(&d);
    gw_inflater z;
    assert_int_equal(gw_inflater_init(&z, 4096), 0);
    char *small = make_payload(1000, 5);
    char *big = make_payload(200000, 6);
    size_t clen, olen;
    const char *out = NULL;
    unsigned char *c = def_msg(&d, small, strlen(small), &clen);
    assert_int_equal(gw_inflater_feed(&z, c, clen, true, &out, &olen), GW_INFLATE_MESSAGE);
    free(c);
    c = def_msg(&d, big, strlen(big), &clen);
    assert_int_equal(gw_inflater_feed(&z, c, clen, true, &out, &olen), GW_INFLATE_OVERSIZED);
    assert_int_equal(olen, strlen(big)); /* reports the size it would have had */
    free(c);
    /* The dictionary stayed in step: the next message (which may reference the big one's
     * bytes) still inflates correctly. */
    c = def_msg(&d, big, 3000, &clen);
    assert_int_equal(gw_inflater_feed(&z, c, clen, true, &out, &olen), GW_INFLATE_MESSAGE);
    assert_int_equal(olen, 3000);
    assert_memory_equal(out, big, 3000);
    free(c);
    free(small);
    free(big);
    gw_inflater_free(&z);
    deflateEnd(&d.zs);
}

/* Found by fuzz_gw_zlib: a message of exactly max_out bytes filled the buffer, and the next
 * (empty) inflate step marked it oversized, so it was dropped although it was within the
 * bound. One byte more is still oversized. Checked at several sizes, the first one fitting the
 * initial buffer exactly. */
static void test_exactly_max_out(void **state)
{
    (void)state;
    const size_t sizes[] = {16, 4096, 16384, 40000};
    for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
        const size_t max = sizes[k];
        deflater d;
        def_init(&d);
        gw_inflater z;
        assert_int_equal(gw_inflater_init(&z, max), 0);
        char *exact = make_payload(max, 3);
        char *over = make_payload(max + 1, 4);
        size_t clen, olen = 0;
        const char *out = NULL;
        unsigned char *c = def_msg(&d, exact, max, &clen);
        assert_int_equal(gw_inflater_feed(&z, c, clen, true, &out, &olen), GW_INFLATE_MESSAGE);
        assert_int_equal(olen, max);
        assert_memory_equal(out, exact, max);
        free(c);
        c = def_msg(&d, over, max + 1, &clen);
        assert_int_equal(gw_inflater_feed(&z, c, clen, true, &out, &olen), GW_INFLATE_OVERSIZED);
        assert_int_equal(olen, max + 1);
        free(c);
        /* ... and the stream is still in step. */
        c = def_msg(&d, exact, max, &clen);
        assert_int_equal(gw_inflater_feed(&z, c, clen, true, &out, &olen), GW_INFLATE_MESSAGE);
        assert_memory_equal(out, exact, max);
        free(c);
        free(exact);
        free(over);
        gw_inflater_free(&z);
        deflateEnd(&d.zs);
    }
}

static void test_corrupt_and_reset(void **state)
{
    (void)state;
    gw_inflater z;
    assert_int_equal(gw_inflater_init(&z, 1 << 20), 0);
    const unsigned char junk[] = {0x12, 0x34, 0x56, 0x78, 0x00, 0x00, 0xff, 0xff};
    const char *out;
    size_t olen;
    assert_int_equal(gw_inflater_feed(&z, junk, sizeof junk, true, &out, &olen), GW_INFLATE_ERROR);
    /* Stays broken until reset. */
    assert_int_equal(gw_inflater_feed(&z, junk, 1, true, &out, &olen), GW_INFLATE_ERROR);
    gw_inflater_reset(&z);

    /* A new connection = a new stream from its zlib header. */
    for (int conn = 0; conn < 2; conn++) {
        deflater d;
        def_init(&d);
        size_t clen;
        unsigned char *c = def_msg(&d, "{\"op\":10}", 9, &clen);
        assert_int_equal(gw_inflater_feed(&z, c, clen, true, &out, &olen), GW_INFLATE_MESSAGE);
        assert_int_equal(olen, 9);
        assert_memory_equal(out, "{\"op\":10}", 9);
        free(c);
        deflateEnd(&d.zs);
        gw_inflater_reset(&z);
    }
    /* Uncompressed text on a compressed connection is corruption, not a crash. */
    const char *plain = "{\"op\":11}";
    assert_int_equal(gw_inflater_feed(&z, plain, strlen(plain), true, &out, &olen),
                     GW_INFLATE_ERROR);
    gw_inflater_free(&z);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_whole_messages),         cmocka_unit_test(test_split_feeds),
        cmocka_unit_test(test_oversized_keeps_stream), cmocka_unit_test(test_exactly_max_out),
        cmocka_unit_test(test_corrupt_and_reset),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
