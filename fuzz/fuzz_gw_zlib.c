/*
 * fuzz_gw_zlib: the gateway's zlib-stream transport decompression (gw_inflater), with a small
 * output bound so the decompressed-size limit is exercised on every run.
 *
 * Two modes, chosen by the first byte:
 *  - raw: the rest is arbitrary compressed bytes cut into websocket messages and fragments as
 *    the input says (corrupt streams, missing suffixes, empty fragments);
 *  - stream: the rest is split into messages (FZ_SEP), compressed the way Discord does (one
 *    deflate stream, Z_SYNC_FLUSH after each message) and fed in input-chosen fragment sizes.
 *
 * Invariants asserted, beyond "no crash, no sanitizer report":
 *  - a delivered message is never longer than max_out and is NUL-terminated at its length;
 *  - stream mode: every message comes out byte for byte as it went in, or is reported
 *    OVERSIZED (with its true length) exactly when it is longer than max_out; a valid stream
 *    never reports an error;
 *  - after an error the inflater keeps refusing until reset, and works again after a reset.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "discord/gw_zlib.h"
#include "fuzz_support.h"

#define PIECES_MAX 32

static void check_msg(const gw_inflater *z, int rc, const char *msg, size_t len)
{
    if (rc != GW_INFLATE_MESSAGE) return;
    FZ_ASSERT(len <= z->max_out, "message longer than max_out delivered", NULL);
    FZ_ASSERT(msg[len] == '\0', "message not NUL-terminated", NULL);
}

static void raw_mode(gw_inflater *z, fz_in *in)
{
    bool broken = false;
    while (in->len) {
        size_t n = fz_u8(in);
        uint8_t flags = fz_u8(in);
        if (n > in->len) n = in->len;
        const char *msg = NULL;
        size_t len = 0;
        int rc = gw_inflater_feed(z, in->p, n, flags & 1, &msg, &len);
        in->p += n;
        in->len -= n;
        if (broken) FZ_ASSERT(rc == GW_INFLATE_ERROR, "a broken inflater accepted input", NULL);
        if (rc == GW_INFLATE_ERROR) broken = true;
        check_msg(z, rc, msg, len);
        if (flags & 0x80) { /* a new connection */
            gw_inflater_reset(z);
            broken = false;
        }
    }
}

static void stream_mode(gw_inflater *z, fz_in *in)
{
    size_t cuts = fz_u8(in) % 8 + 1; /* fragments per message */
    z_stream d;
    memset(&d, 0, sizeof d);
    if (deflateInit(&d, Z_DEFAULT_COMPRESSION) != Z_OK) abort();
    for (unsigned k = 0; k < PIECES_MAX && in->len; k++) {
        size_t plen = 0;
        char *piece = fz_text(in, 1u << 16, &plen);
        if (plen == 0) { /* Discord never sends an empty message (deflate has nothing to flush) */
            free(piece);
            continue;
        }
        size_t cap = deflateBound(&d, plen) + 64;
        unsigned char *comp = malloc(cap);
        if (!comp) abort();
        d.next_in = (Bytef *)piece;
        d.avail_in = (uInt)plen;
        d.next_out = comp;
        d.avail_out = (uInt)cap;
        if (deflate(&d, Z_SYNC_FLUSH) != Z_OK || d.avail_in != 0) abort();
        size_t clen = cap - d.avail_out;
        int rc = GW_INFLATE_MORE;
        const char *msg = NULL;
        size_t len = 0;
        size_t off = 0;
        for (size_t c = 0; c < cuts; c++) {
            size_t n = c + 1 == cuts ? clen - off : (clen - off) / (cuts - c);
            rc = gw_inflater_feed(z, comp + off, n, c + 1 == cuts, &msg, &len);
            off += n;
            if (c + 1 < cuts) FZ_ASSERT(rc == GW_INFLATE_MORE, "message ended early", NULL);
        }
        if (plen > z->max_out) {
            FZ_ASSERT(rc == GW_INFLATE_OVERSIZED, "oversized message not reported", NULL);
            FZ_ASSERT(len == plen, "oversized length wrong", NULL);
        } else {
            FZ_ASSERT(rc == GW_INFLATE_MESSAGE, "valid message not delivered", NULL);
            check_msg(z, rc, msg, len);
            FZ_ASSERT(len == plen && memcmp(msg, piece, plen) == 0, "message changed", piece);
        }
        free(comp);
        free(piece);
    }
    deflateEnd(&d);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 1u << 20) return 0;
    fz_in in = {data, size};
    uint8_t mode = fz_u8(&in);
    size_t max_out = 16 + (size_t)fz_u8(&in) * 64; /* 16 .. 16336 bytes */
    gw_inflater z;
    if (gw_inflater_init(&z, max_out) != 0) abort();
    if (mode & 1)
        stream_mode(&z, &in);
    else
        raw_mode(&z, &in);
    /* A reset always brings the inflater back to a usable state. */
    gw_inflater_reset(&z);
    static const unsigned char empty_msg[] = {0x78, 0x9c, 0x00, 0x00, 0x00, 0xff, 0xff};
    const char *msg = NULL;
    size_t len = 9;
    int rc = gw_inflater_feed(&z, empty_msg, sizeof empty_msg, true, &msg, &len);
    FZ_ASSERT(rc == GW_INFLATE_MESSAGE && len == 0, "inflater unusable after reset", NULL);
    gw_inflater_free(&z);
    return 0;
}
