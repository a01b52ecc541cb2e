/* PNG fixture encoder (see image_fixture.h). */
#include "fakes/image_fixture.h"

#include <stdlib.h>
#include <string.h>
#include <zlib.h>

static const uint8_t png_sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};

static void put_u32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

/* Writes one chunk at out (which must have 12 + len bytes of room); returns bytes written. */
static size_t put_chunk(uint8_t *out, const char type[4], const uint8_t *data, uint32_t len)
{
    put_u32(out, len);
    memcpy(out + 4, type, 4);
    if (len) memcpy(out + 8, data, len);
    uLong crc = crc32(0L, out + 4, 4 + len);
    put_u32(out + 8 + len, (uint32_t)crc);
    return 12 + (size_t)len;
}

static uint64_t xorshift(uint64_t *s)
{
    uint64_t x = *s ? *s : 0x9e3779b97f4a7c15ULL;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    *s = x;
    return x;
}

uint8_t *image_fixture_png(uint32_t w, uint32_t h, int pattern, uint64_t seed, size_t *out_len)
{
    if (w == 0 || h == 0 || w > 8192 || h > 8192 || !out_len) return NULL;
    size_t row = 1 + (size_t)w * 3;
    size_t raw_len = row * h;
    uint8_t *raw = malloc(raw_len);
    if (!raw) return NULL;
    uint64_t rng = seed * 2654435761ULL + 1;
    uint8_t base = (uint8_t)(seed * 37);
    for (uint32_t y = 0; y < h; y++) {
        uint8_t *r = raw + row * y;
        r[0] = 0; /* filter: none */
        for (uint32_t x = 0; x < w; x++) {
            uint8_t *px = r + 1 + (size_t)x * 3;
            if (pattern == 1) {
                uint64_t v = xorshift(&rng);
                px[0] = (uint8_t)v;
                px[1] = (uint8_t)(v >> 8);
                px[2] = (uint8_t)(v >> 16);
            } else {
                px[0] = (uint8_t)(base + (x * 255) / (w > 1 ? w - 1 : 1));
                px[1] = (uint8_t)(base + (y * 255) / (h > 1 ? h - 1 : 1));
                px[2] = (uint8_t)(base + 128 + ((x + y) & 0x3f));
            }
        }
    }
    uLongf zcap = compressBound((uLong)raw_len);
    uint8_t *z = malloc(zcap);
    if (!z) {
        free(raw);
        return NULL;
    }
    if (compress2(z, &zcap, raw, (uLong)raw_len, pattern == 1 ? 1 : 6) != Z_OK ||
        zcap > 0x7fffffffUL) {
        free(raw);
        free(z);
        return NULL;
    }
    free(raw);
    size_t total = 8 + (12 + 13) + (12 + (size_t)zcap) + 12;
    uint8_t *out = malloc(total);
    if (!out) {
        free(z);
        return NULL;
    }
    uint8_t ihdr[13];
    put_u32(ihdr, w);
    put_u32(ihdr + 4, h);
    ihdr[8] = 8;  /* bit depth */
    ihdr[9] = 2;  /* colour type: truecolour */
    ihdr[10] = 0; /* deflate */
    ihdr[11] = 0; /* adaptive filtering */
    ihdr[12] = 0; /* no interlace */
    size_t pos = 0;
    memcpy(out, png_sig, 8);
    pos += 8;
    pos += put_chunk(out + pos, "IHDR", ihdr, 13);
    pos += put_chunk(out + pos, "IDAT", z, (uint32_t)zcap);
    pos += put_chunk(out + pos, "IEND", NULL, 0);
    free(z);
    *out_len = pos;
    return out;
}

uint8_t *image_fixture_apng(uint32_t w, uint32_t h, uint64_t seed, size_t *out_len)
{
    size_t plen;
    uint8_t *png = image_fixture_png(w, h, 0, seed, &plen);
    if (!png) return NULL;
    /* signature (8) + IHDR chunk (25) | acTL (20) | fcTL (38) | the rest (IDAT.., IEND) */
    uint8_t *out = malloc(plen + 20 + 38);
    if (!out) {
        free(png);
        return NULL;
    }
    size_t o = 0, head = 8 + 25;
    memcpy(out, png, head);
    o = head;
    uint8_t actl[8];
    put_u32(actl, 2);     /* frames */
    put_u32(actl + 4, 0); /* loop forever */
    o += put_chunk(out + o, "acTL", actl, sizeof actl);
    uint8_t fctl[26] = {0};
    put_u32(fctl, 0); /* sequence */
    put_u32(fctl + 4, w);
    put_u32(fctl + 8, h);
    fctl[20] = 0;
    fctl[21] = 1; /* delay 1/10 s (num/den as u16) */
    fctl[22] = 0;
    fctl[23] = 10;
    o += put_chunk(out + o, "fcTL", fctl, sizeof fctl);
    memcpy(out + o, png + head, plen - head);
    o += plen - head;
    free(png);
    *out_len = o;
    return out;
}

static void put_le(uint8_t *p, uint32_t v, int n)
{
    for (int i = 0; i < n; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

uint8_t *image_fixture_webp_anim(uint32_t w, uint32_t h, uint64_t seed, size_t *out_len)
{
    if (w == 0 || h == 0 || w > 16384 || h > 16384) return NULL;
    /* VP8X (8+10) + ANIM (8+6) + ANMF (8+16+VP8L 8+8) */
    size_t n = 12 + 18 + 14 + 8 + 16 + 16;
    uint8_t *b = calloc(1, n);
    if (!b) return NULL;
    memcpy(b, "RIFF", 4);
    put_le(b + 4, (uint32_t)(n - 8), 4);
    memcpy(b + 8, "WEBP", 4);
    size_t o = 12;
    memcpy(b + o, "VP8X", 4);
    put_le(b + o + 4, 10, 4);
    b[o + 8] = 0x02; /* animation */
    put_le(b + o + 12, w - 1, 3);
    put_le(b + o + 15, h - 1, 3);
    o += 18;
    memcpy(b + o, "ANIM", 4);
    put_le(b + o + 4, 6, 4);
    o += 14; /* background colour 0, loop count 0 */
    memcpy(b + o, "ANMF", 4);
    put_le(b + o + 4, 16 + 16, 4);
    put_le(b + o + 8 + 6, w - 1, 3);
    put_le(b + o + 8 + 9, h - 1, 3);
    put_le(b + o + 8 + 12, 100, 3); /* duration ms */
    o += 24;
    memcpy(b + o, "VP8L", 4);
    put_le(b + o + 4, 8, 4);
    b[o + 8] = 0x2f; /* VP8L signature, then packed size bits */
    put_le(b + o + 9, (uint32_t)((w - 1) | ((h - 1) << 14)), 4);
    b[o + 15] = (uint8_t)seed;
    *out_len = n;
    return b;
}

uint8_t *image_fixture_webm(uint64_t seed, size_t *out_len)
{
    static const uint8_t ebml[] = {
        0x1a, 0x45, 0xdf, 0xa3, 0x9f,             /* EBML, size 31 */
        0x42, 0x86, 0x81, 0x01,                   /* EBMLVersion 1 */
        0x42, 0xf7, 0x81, 0x01,                   /* EBMLReadVersion 1 */
        0x42, 0xf2, 0x81, 0x04,                   /* EBMLMaxIDLength 4 */
        0x42, 0xf3, 0x81, 0x08,                   /* EBMLMaxSizeLength 8 */
        0x42, 0x82, 0x84, 'w',  'e',  'b',  'm',  /* DocType "webm" */
        0x42, 0x87, 0x81, 0x04,                   /* DocTypeVersion 4 */
        0x42, 0x85, 0x81, 0x02,                   /* DocTypeReadVersion 2 */
        0x18, 0x53, 0x80, 0x67, 0x01, 0xff, 0xff, /* Segment, unknown size */
        0xff, 0xff, 0xff, 0xff, 0xff,
    };
    size_t n = sizeof ebml + 1024;
    uint8_t *b = malloc(n);
    if (!b) return NULL;
    memcpy(b, ebml, sizeof ebml);
    uint64_t s = seed;
    for (size_t i = sizeof ebml; i < n; i++)
        b[i] = (uint8_t)xorshift(&s);
    *out_len = n;
    return b;
}
