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

uint8_t *img_png_encode(uint32_t w, uint32_t h, int pattern, uint64_t seed, size_t *out_len)
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
