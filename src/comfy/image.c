/* Image sniffing and PNG validation (see image.h). */
#include "comfy/image.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

static const uint8_t png_sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};

img_type img_sniff(const uint8_t *d, size_t len)
{
    if (!d) return IMG_UNKNOWN;
    if (len >= 8 && memcmp(d, png_sig, 8) == 0) return IMG_PNG;
    if (len >= 3 && d[0] == 0xff && d[1] == 0xd8 && d[2] == 0xff) return IMG_JPEG;
    if (len >= 12 && memcmp(d, "RIFF", 4) == 0 && memcmp(d + 8, "WEBP", 4) == 0) return IMG_WEBP;
    if (len >= 6 && (memcmp(d, "GIF87a", 6) == 0 || memcmp(d, "GIF89a", 6) == 0)) return IMG_GIF;
    if (len >= 12 && memcmp(d + 4, "ftyp", 4) == 0) return IMG_MP4;
    return IMG_UNKNOWN;
}

const char *img_mime(img_type t)
{
    switch (t) {
    case IMG_PNG:
        return "image/png";
    case IMG_JPEG:
        return "image/jpeg";
    case IMG_WEBP:
        return "image/webp";
    case IMG_GIF:
        return "image/gif";
    case IMG_MP4:
        return "video/mp4";
    default:
        return "application/octet-stream";
    }
}

const char *img_ext(img_type t)
{
    switch (t) {
    case IMG_PNG:
        return "png";
    case IMG_JPEG:
        return "jpg";
    case IMG_WEBP:
        return "webp";
    case IMG_GIF:
        return "gif";
    case IMG_MP4:
        return "mp4";
    default:
        return "bin";
    }
}

bool img_is_input_type(img_type t)
{
    return t == IMG_PNG || t == IMG_JPEG || t == IMG_WEBP;
}

static uint32_t get_u32(const uint8_t *p)
{
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

static int fail(char *err, size_t errlen, const char *msg)
{
    if (err && errlen) snprintf(err, errlen, "%s", msg);
    return -1;
}

/* Bytes of filtered image data for one pass of width pw, height ph. */
static uint64_t pass_bytes(uint64_t pw, uint64_t ph, unsigned bits_per_px)
{
    if (pw == 0 || ph == 0) return 0;
    uint64_t rowbits = pw * bits_per_px;
    return ph * (1 + (rowbits + 7) / 8);
}

int img_png_validate(const uint8_t *d, size_t len, uint32_t *width, uint32_t *height, char *err,
                     size_t errlen)
{
    if (!d || len < 8 || memcmp(d, png_sig, 8) != 0)
        return fail(err, errlen, "not a PNG signature");
    size_t pos = 8;
    bool have_ihdr = false, have_iend = false, in_idat = false, idat_done = false;
    uint32_t w = 0, h = 0;
    uint64_t expect = 0, got = 0;
    z_stream zs;
    memset(&zs, 0, sizeof zs);
    bool z_init = false, z_end = false;
    uint8_t sink[16384];
    int rc = -1;
    while (pos < len) {
        if (len - pos < 12) {
            fail(err, errlen, "truncated chunk header");
            goto out;
        }
        uint32_t clen = get_u32(d + pos);
        const uint8_t *ctype = d + pos + 4;
        if (clen > 0x7fffffffU || (uint64_t)clen + 12 > len - pos) {
            fail(err, errlen, "chunk length runs past the end");
            goto out;
        }
        uint32_t crc = get_u32(d + pos + 8 + clen);
        if ((uint32_t)crc32(0L, ctype, 4 + clen) != crc) {
            char m[64];
            snprintf(m, sizeof m, "bad CRC in chunk %.4s", (const char *)ctype);
            fail(err, errlen, m);
            goto out;
        }
        const uint8_t *cd = d + pos + 8;
        if (!have_ihdr) {
            if (memcmp(ctype, "IHDR", 4) != 0 || clen != 13) {
                fail(err, errlen, "first chunk is not IHDR");
                goto out;
            }
            w = get_u32(cd);
            h = get_u32(cd + 4);
            unsigned depth = cd[8], ct = cd[9];
            if (w == 0 || h == 0 || w > 0x7fffffffU || h > 0x7fffffffU) {
                fail(err, errlen, "bad IHDR size");
                goto out;
            }
            unsigned channels;
            switch (ct) {
            case 0:
                channels = 1;
                break;
            case 2:
                channels = 3;
                break;
            case 3:
                channels = 1;
                break;
            case 4:
                channels = 2;
                break;
            case 6:
                channels = 4;
                break;
            default:
                fail(err, errlen, "bad IHDR colour type");
                goto out;
            }
            bool depth_ok = (depth == 8 || depth == 16) ||
                            ((ct == 0 || ct == 3) && (depth == 1 || depth == 2 || depth == 4));
            if (!depth_ok || (ct == 3 && depth == 16) || cd[10] != 0 || cd[11] != 0 || cd[12] > 1) {
                fail(err, errlen, "bad IHDR fields");
                goto out;
            }
            unsigned bpp = channels * depth;
            if (cd[12] == 0) {
                expect = pass_bytes(w, h, bpp);
            } else {
                static const unsigned xs[7] = {0, 4, 0, 2, 0, 1, 0}, ys[7] = {0, 0, 4, 0, 2, 0, 1};
                static const unsigned dx[7] = {8, 8, 4, 4, 2, 2, 1}, dy[7] = {8, 8, 8, 4, 4, 2, 2};
                for (int p = 0; p < 7; p++) {
                    uint64_t pw = w > xs[p] ? (w - xs[p] + dx[p] - 1) / dx[p] : 0;
                    uint64_t ph = h > ys[p] ? (h - ys[p] + dy[p] - 1) / dy[p] : 0;
                    expect += pass_bytes(pw, ph, bpp);
                }
            }
            have_ihdr = true;
        } else if (memcmp(ctype, "IDAT", 4) == 0) {
            if (idat_done) {
                fail(err, errlen, "IDAT chunks are not consecutive");
                goto out;
            }
            in_idat = true;
            if (!z_init) {
                if (inflateInit(&zs) != Z_OK) {
                    fail(err, errlen, "zlib init failed");
                    goto out;
                }
                z_init = true;
            }
            zs.next_in = (Bytef *)cd;
            zs.avail_in = clen;
            while (zs.avail_in > 0 && !z_end) {
                zs.next_out = sink;
                zs.avail_out = sizeof sink;
                int zr = inflate(&zs, Z_NO_FLUSH);
                got += sizeof sink - zs.avail_out;
                if (zr == Z_STREAM_END) {
                    z_end = true;
                } else if (zr != Z_OK) {
                    fail(err, errlen, "corrupt zlib data in IDAT");
                    goto out;
                }
                if (got > expect) {
                    fail(err, errlen, "IDAT holds more data than the image size");
                    goto out;
                }
            }
        } else if (memcmp(ctype, "IEND", 4) == 0) {
            have_iend = true;
            pos += 12 + (size_t)clen;
            break;
        } else {
            if (in_idat) idat_done = true;
            if (memcmp(ctype, "IHDR", 4) == 0) {
                fail(err, errlen, "second IHDR");
                goto out;
            }
        }
        pos += 12 + (size_t)clen;
    }
    if (!have_ihdr) {
        fail(err, errlen, "no IHDR");
    } else if (!in_idat) {
        fail(err, errlen, "no IDAT");
    } else if (!z_end) {
        fail(err, errlen, "IDAT zlib stream is incomplete");
    } else if (got != expect) {
        fail(err, errlen, "IDAT size does not match the image geometry");
    } else if (!have_iend) {
        fail(err, errlen, "no IEND");
    } else {
        if (width) *width = w;
        if (height) *height = h;
        rc = 0;
    }
out:
    if (z_init) inflateEnd(&zs);
    return rc;
}
