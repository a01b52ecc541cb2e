/* Input image validation: PNG, JPEG and WebP structure and declared dimensions (see
 * imgchk.h). */
#include "comfy/imgchk.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <zlib.h>

static const uint8_t png_sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};

static imgchk_verdict verdict(imgchk_verdict v, char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static imgchk_verdict verdict(imgchk_verdict v, char *err, size_t errlen, const char *fmt, ...)
{
    if (err && errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return v;
}

static uint32_t be32(const uint8_t *p)
{
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

static uint32_t be16(const uint8_t *p)
{
    return ((uint32_t)p[0] << 8) | p[1];
}

static uint32_t le16(const uint8_t *p)
{
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8);
}

static uint32_t le24(const uint8_t *p)
{
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16);
}

static uint32_t le32(const uint8_t *p)
{
    return le24(p) | ((uint32_t)p[3] << 24);
}

/* The dimension check shared by every type: done on the declared size, before any decoding. */
static imgchk_verdict check_dims(const char *what, uint32_t w, uint32_t h, const imgchk_limits *lim,
                                 char *err, size_t errlen)
{
    if (!lim) return IMGCHK_OK;
    uint64_t px = (uint64_t)w * h;
    bool side = lim->max_side && (w > lim->max_side || h > lim->max_side);
    bool area = lim->max_pixels && px > lim->max_pixels;
    if (!side && !area) return IMGCHK_OK;
    if (side)
        return verdict(IMGCHK_TOO_LARGE, err, errlen,
                       "the %s declares %" PRIu32 "x%" PRIu32 " pixels; the limit is %" PRIu32
                       " pixels per side",
                       what, w, h, lim->max_side);
    return verdict(IMGCHK_TOO_LARGE, err, errlen,
                   "the %s declares %" PRIu32 "x%" PRIu32 " pixels (%.1f megapixels); the limit "
                   "is %.1f megapixels",
                   what, w, h, (double)px / 1e6, (double)lim->max_pixels / 1e6);
}

static void set_info(imgchk_info *info, img_type t, uint32_t w, uint32_t h)
{
    if (!info) return;
    info->type = t;
    info->width = w;
    info->height = h;
}

/* ---- PNG ------------------------------------------------------------------------------------ */

/* Bytes of filtered image data for one pass of width pw, height ph. */
static uint64_t pass_bytes(uint64_t pw, uint64_t ph, unsigned bits_per_px)
{
    if (pw == 0 || ph == 0) return 0;
    uint64_t rowbits = pw * bits_per_px;
    return ph * (1 + (rowbits + 7) / 8);
}

/* Parses IHDR's 13 bytes: geometry, and the inflated size the geometry implies. */
static imgchk_verdict png_ihdr(const uint8_t *cd, uint32_t *w, uint32_t *h, uint64_t *expect,
                               char *err, size_t errlen)
{
    *w = be32(cd);
    *h = be32(cd + 4);
    unsigned depth = cd[8], ct = cd[9];
    if (*w == 0 || *h == 0 || *w > 0x7fffffffU || *h > 0x7fffffffU)
        return verdict(IMGCHK_MALFORMED, err, errlen, "the PNG header has an invalid size");
    unsigned channels;
    switch (ct) {
    case 0:
    case 3:
        channels = 1;
        break;
    case 2:
        channels = 3;
        break;
    case 4:
        channels = 2;
        break;
    case 6:
        channels = 4;
        break;
    default:
        return verdict(IMGCHK_MALFORMED, err, errlen, "the PNG header has an invalid colour type");
    }
    bool depth_ok = (depth == 8 || depth == 16) ||
                    ((ct == 0 || ct == 3) && (depth == 1 || depth == 2 || depth == 4));
    if (!depth_ok || (ct == 3 && depth == 16) || cd[10] != 0 || cd[11] != 0 || cd[12] > 1)
        return verdict(IMGCHK_MALFORMED, err, errlen, "the PNG header has invalid fields");
    unsigned bpp = channels * depth;
    *expect = 0;
    if (cd[12] == 0) {
        *expect = pass_bytes(*w, *h, bpp);
    } else {
        static const unsigned xs[7] = {0, 4, 0, 2, 0, 1, 0}, ys[7] = {0, 0, 4, 0, 2, 0, 1};
        static const unsigned dx[7] = {8, 8, 4, 4, 2, 2, 1}, dy[7] = {8, 8, 8, 4, 4, 2, 2};
        for (int p = 0; p < 7; p++) {
            uint64_t pw = *w > xs[p] ? (*w - xs[p] + dx[p] - 1) / dx[p] : 0;
            uint64_t ph = *h > ys[p] ? (*h - ys[p] + dy[p] - 1) / dy[p] : 0;
            *expect += pass_bytes(pw, ph, bpp);
        }
    }
    return IMGCHK_OK;
}

imgchk_verdict imgchk_png(const uint8_t *d, size_t len, const imgchk_limits *lim, imgchk_info *info,
                          char *err, size_t errlen)
{
    set_info(info, IMG_PNG, 0, 0);
    if (!d || len < 8 || memcmp(d, png_sig, 8) != 0)
        return verdict(IMGCHK_NOT_IMAGE, err, errlen, "the file is not a PNG");
    size_t pos = 8;
    bool have_ihdr = false, have_iend = false, in_idat = false, idat_done = false;
    uint32_t w = 0, h = 0;
    uint64_t expect = 0, got = 0;
    z_stream zs;
    memset(&zs, 0, sizeof zs);
    bool z_init = false, z_end = false;
    uint8_t sink[16384];
    imgchk_verdict v = IMGCHK_OK;
    while (pos < len) {
        if (len - pos < 12) {
            v = verdict(IMGCHK_TRUNCATED, err, errlen,
                        "the PNG is truncated (its data ends inside a chunk header)");
            goto out;
        }
        uint32_t clen = be32(d + pos);
        const uint8_t *ctype = d + pos + 4;
        if (clen > 0x7fffffffU) {
            v = verdict(IMGCHK_MALFORMED, err, errlen, "the PNG has an invalid chunk length");
            goto out;
        }
        if ((uint64_t)clen + 12 > len - pos) {
            v = verdict(IMGCHK_TRUNCATED, err, errlen,
                        "the PNG is truncated (its data ends inside a chunk)");
            goto out;
        }
        for (int i = 0; i < 4; i++) {
            uint8_t c = ctype[i];
            if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z'))) {
                v = verdict(IMGCHK_MALFORMED, err, errlen, "the PNG has an invalid chunk type");
                goto out;
            }
        }
        uint32_t crc = be32(d + pos + 8 + clen);
        if ((uint32_t)crc32(0L, ctype, 4 + clen) != crc) {
            v = verdict(IMGCHK_MALFORMED, err, errlen,
                        "the PNG is damaged (chunk %.4s fails its CRC check)", (const char *)ctype);
            goto out;
        }
        const uint8_t *cd = d + pos + 8;
        if (!have_ihdr) {
            if (memcmp(ctype, "IHDR", 4) != 0 || clen != 13) {
                v = verdict(IMGCHK_MALFORMED, err, errlen, "the PNG does not start with a header");
                goto out;
            }
            v = png_ihdr(cd, &w, &h, &expect, err, errlen);
            if (v == IMGCHK_OK) v = check_dims("PNG", w, h, lim, err, errlen);
            if (v != IMGCHK_OK) goto out; /* before any IDAT is inflated */
            set_info(info, IMG_PNG, w, h);
            have_ihdr = true;
        } else if (memcmp(ctype, "IDAT", 4) == 0) {
            if (idat_done) {
                v = verdict(IMGCHK_MALFORMED, err, errlen,
                            "the PNG's image data chunks are not consecutive");
                goto out;
            }
            in_idat = true;
            if (!z_init) {
                if (inflateInit(&zs) != Z_OK) {
                    v = verdict(IMGCHK_MALFORMED, err, errlen, "the PNG could not be checked");
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
                    v = verdict(IMGCHK_MALFORMED, err, errlen,
                                "the PNG's compressed image data is corrupt");
                    goto out;
                }
                if (got > expect) {
                    v = verdict(IMGCHK_MALFORMED, err, errlen,
                                "the PNG holds more image data than its size allows");
                    goto out;
                }
            }
        } else if (memcmp(ctype, "IEND", 4) == 0) {
            have_iend = true;
            break;
        } else {
            if (in_idat) idat_done = true;
            if (memcmp(ctype, "IHDR", 4) == 0) {
                v = verdict(IMGCHK_MALFORMED, err, errlen, "the PNG has two headers");
                goto out;
            }
        }
        pos += 12 + (size_t)clen;
    }
    if (!have_ihdr)
        v = verdict(IMGCHK_TRUNCATED, err, errlen, "the PNG is truncated (no header)");
    else if (!in_idat)
        v = verdict(have_iend ? IMGCHK_MALFORMED : IMGCHK_TRUNCATED, err, errlen,
                    have_iend ? "the PNG has no image data"
                              : "the PNG is truncated (no image data)");
    else if (!z_end)
        v = verdict(have_iend ? IMGCHK_MALFORMED : IMGCHK_TRUNCATED, err, errlen,
                    "the PNG is truncated (its image data stops early)");
    else if (got != expect)
        v = verdict(IMGCHK_MALFORMED, err, errlen,
                    "the PNG's image data does not match its declared size");
    else if (!have_iend)
        v = verdict(IMGCHK_TRUNCATED, err, errlen, "the PNG is truncated (no end chunk)");
out:
    if (z_init) inflateEnd(&zs);
    return v;
}

/* ---- JPEG ----------------------------------------------------------------------------------- */

static bool is_sof(uint8_t m)
{
    /* C0..CF are frame headers except C4 (DHT), C8 (reserved JPG) and CC (DAC). */
    return m >= 0xC0 && m <= 0xCF && m != 0xC4 && m != 0xC8 && m != 0xCC;
}

imgchk_verdict imgchk_jpeg(const uint8_t *d, size_t len, const imgchk_limits *lim,
                           imgchk_info *info, char *err, size_t errlen)
{
    set_info(info, IMG_JPEG, 0, 0);
    if (!d || len < 3 || d[0] != 0xFF || d[1] != 0xD8 || d[2] != 0xFF)
        return verdict(IMGCHK_NOT_IMAGE, err, errlen, "the file is not a JPEG");
    size_t pos = 2;
    bool have_sof = false, have_sos = false;
    uint32_t w = 0, h = 0;
    for (;;) {
        if (pos >= len)
            return verdict(IMGCHK_TRUNCATED, err, errlen,
                           "the JPEG is truncated (it ends before its end marker)");
        if (d[pos] != 0xFF)
            return verdict(IMGCHK_MALFORMED, err, errlen,
                           "the JPEG is damaged (data where a marker should be)");
        while (pos < len && d[pos] == 0xFF) /* fill bytes */
            pos++;
        if (pos >= len)
            return verdict(IMGCHK_TRUNCATED, err, errlen,
                           "the JPEG is truncated (it ends before its end marker)");
        uint8_t m = d[pos++];
        if (m == 0xD9) {
            if (!have_sos)
                return verdict(IMGCHK_MALFORMED, err, errlen, "the JPEG has no image data");
            break;
        }
        if (m == 0x00 || m == 0xD8)
            return verdict(IMGCHK_MALFORMED, err, errlen, "the JPEG has an invalid marker");
        if ((m >= 0xD0 && m <= 0xD7) || m == 0x01) continue; /* no length */
        if (len - pos < 2)
            return verdict(IMGCHK_TRUNCATED, err, errlen,
                           "the JPEG is truncated (it ends inside a marker)");
        uint32_t seglen = be16(d + pos);
        if (seglen < 2)
            return verdict(IMGCHK_MALFORMED, err, errlen, "the JPEG has an invalid segment length");
        if (seglen > len - pos)
            return verdict(IMGCHK_TRUNCATED, err, errlen,
                           "the JPEG is truncated (it ends inside a segment)");
        const uint8_t *seg = d + pos + 2;
        size_t sl = seglen - 2;
        if (is_sof(m)) {
            if (have_sof)
                return verdict(IMGCHK_MALFORMED, err, errlen, "the JPEG has two frame headers");
            if (sl < 6)
                return verdict(IMGCHK_MALFORMED, err, errlen, "the JPEG frame header is too short");
            unsigned precision = seg[0], nf = seg[5];
            h = be16(seg + 1);
            w = be16(seg + 3);
            if (nf == 0 || sl != 6 + 3 * (size_t)nf ||
                (precision != 8 && precision != 12 && precision != 16))
                return verdict(IMGCHK_MALFORMED, err, errlen, "the JPEG frame header is invalid");
            if (w == 0 || h == 0)
                return verdict(IMGCHK_MALFORMED, err, errlen,
                               "the JPEG frame header declares no width or height");
            imgchk_verdict v = check_dims("JPEG", w, h, lim, err, errlen);
            if (v != IMGCHK_OK) return v;
            set_info(info, IMG_JPEG, w, h);
            have_sof = true;
        }
        pos += seglen;
        if (m == 0xDA) {
            if (!have_sof)
                return verdict(IMGCHK_MALFORMED, err, errlen,
                               "the JPEG has image data before its frame header");
            unsigned ns = sl >= 1 ? seg[0] : 0;
            if (ns < 1 || ns > 4 || sl != 1 + 2 * (size_t)ns + 3)
                return verdict(IMGCHK_MALFORMED, err, errlen, "the JPEG scan header is invalid");
            have_sos = true;
            /* Entropy-coded data: runs to the next marker that is neither a stuffed 0xFF00
             * nor a restart marker. */
            for (;;) {
                const uint8_t *ff = memchr(d + pos, 0xFF, len - pos);
                if (!ff || (size_t)(ff - d) + 1 >= len)
                    return verdict(IMGCHK_TRUNCATED, err, errlen,
                                   "the JPEG is truncated (it ends inside its image data)");
                pos = (size_t)(ff - d);
                uint8_t n = d[pos + 1];
                if (n == 0x00 || (n >= 0xD0 && n <= 0xD7)) {
                    pos += 2;
                    continue;
                }
                if (n == 0xFF) { /* fill before a marker */
                    pos++;
                    continue;
                }
                break; /* a marker: the outer loop reads it */
            }
        }
    }
    if (!have_sof) return verdict(IMGCHK_MALFORMED, err, errlen, "the JPEG has no frame header");
    return IMGCHK_OK;
}

/* ---- WebP ----------------------------------------------------------------------------------- */

/* A 'VP8 ' (lossy) chunk's frame header. */
static imgchk_verdict webp_vp8(const uint8_t *c, size_t n, uint32_t *w, uint32_t *h, char *err,
                               size_t errlen)
{
    if (n < 10) return verdict(IMGCHK_MALFORMED, err, errlen, "the WebP's VP8 header is too short");
    uint32_t tag = le24(c);
    if (tag & 1)
        return verdict(IMGCHK_MALFORMED, err, errlen, "the WebP's VP8 data is not a key frame");
    if (((tag >> 1) & 7) > 3)
        return verdict(IMGCHK_MALFORMED, err, errlen, "the WebP's VP8 version is invalid");
    if ((tag >> 5) > n - 10)
        return verdict(IMGCHK_MALFORMED, err, errlen,
                       "the WebP's VP8 data is shorter than its header says");
    if (c[3] != 0x9d || c[4] != 0x01 || c[5] != 0x2a)
        return verdict(IMGCHK_MALFORMED, err, errlen, "the WebP's VP8 start code is missing");
    *w = le16(c + 6) & 0x3fff;
    *h = le16(c + 8) & 0x3fff;
    if (*w == 0 || *h == 0)
        return verdict(IMGCHK_MALFORMED, err, errlen, "the WebP declares no width or height");
    return IMGCHK_OK;
}

/* A 'VP8L' (lossless) chunk's header. */
static imgchk_verdict webp_vp8l(const uint8_t *c, size_t n, uint32_t *w, uint32_t *h, char *err,
                                size_t errlen)
{
    if (n < 5 || c[0] != 0x2f)
        return verdict(IMGCHK_MALFORMED, err, errlen, "the WebP's VP8L header is invalid");
    uint32_t bits = le32(c + 1);
    if (bits >> 29)
        return verdict(IMGCHK_MALFORMED, err, errlen, "the WebP's VP8L version is invalid");
    *w = (bits & 0x3fff) + 1;
    *h = ((bits >> 14) & 0x3fff) + 1;
    return IMGCHK_OK;
}

typedef struct riff_walk {
    const uint8_t *d;
    size_t pos, end;
} riff_walk;

/* Next chunk of a RIFF body: 1 with fourcc/data/size, 0 at the end, -1 when a chunk runs past
 * the end. Chunks are padded to an even size. */
static int riff_next(riff_walk *rw, const uint8_t **fourcc, const uint8_t **data, size_t *size)
{
    if (rw->pos >= rw->end || rw->end - rw->pos < 8) return rw->pos >= rw->end ? 0 : -1;
    *fourcc = rw->d + rw->pos;
    uint32_t n = le32(rw->d + rw->pos + 4);
    if (n > rw->end - rw->pos - 8) return -1;
    *data = rw->d + rw->pos + 8;
    *size = n;
    rw->pos += 8 + (size_t)n + (n & 1);
    if (rw->pos > rw->end) rw->pos = rw->end; /* a missing last pad byte is tolerated */
    return 1;
}

/* Finds and checks the image chunk (VP8/VP8L) among chunks [data, data+n). */
static imgchk_verdict webp_find_image(const uint8_t *data, size_t n, uint32_t *w, uint32_t *h,
                                      bool *found, char *err, size_t errlen)
{
    riff_walk rw = {data, 0, n};
    const uint8_t *cc, *cd;
    size_t cn;
    int r;
    *found = false;
    while ((r = riff_next(&rw, &cc, &cd, &cn)) == 1) {
        if (memcmp(cc, "VP8 ", 4) == 0) {
            *found = true;
            return webp_vp8(cd, cn, w, h, err, errlen);
        }
        if (memcmp(cc, "VP8L", 4) == 0) {
            *found = true;
            return webp_vp8l(cd, cn, w, h, err, errlen);
        }
    }
    if (r < 0)
        return verdict(IMGCHK_TRUNCATED, err, errlen,
                       "the WebP is truncated (it ends inside a chunk)");
    return IMGCHK_OK;
}

imgchk_verdict imgchk_webp(const uint8_t *d, size_t len, const imgchk_limits *lim,
                           imgchk_info *info, char *err, size_t errlen)
{
    set_info(info, IMG_WEBP, 0, 0);
    if (!d || len < 12 || memcmp(d, "RIFF", 4) != 0 || memcmp(d + 8, "WEBP", 4) != 0)
        return verdict(IMGCHK_NOT_IMAGE, err, errlen, "the file is not a WebP");
    uint32_t riff = le32(d + 4);
    if (riff < 4 + 8)
        return verdict(IMGCHK_MALFORMED, err, errlen, "the WebP's RIFF size is invalid");
    if ((uint64_t)riff + 8 > len)
        return verdict(IMGCHK_TRUNCATED, err, errlen,
                       "the WebP is truncated (shorter than its RIFF size)");
    riff_walk rw = {d, 12, (size_t)riff + 8};
    const uint8_t *cc, *cd;
    size_t cn;
    int r = riff_next(&rw, &cc, &cd, &cn);
    if (r < 0)
        return verdict(IMGCHK_TRUNCATED, err, errlen,
                       "the WebP is truncated (it ends inside a chunk)");
    if (r == 0) return verdict(IMGCHK_MALFORMED, err, errlen, "the WebP has no image");
    uint32_t w = 0, h = 0;
    imgchk_verdict v;
    if (memcmp(cc, "VP8 ", 4) == 0) {
        v = webp_vp8(cd, cn, &w, &h, err, errlen);
    } else if (memcmp(cc, "VP8L", 4) == 0) {
        v = webp_vp8l(cd, cn, &w, &h, err, errlen);
    } else if (memcmp(cc, "VP8X", 4) == 0) {
        if (cn < 10)
            return verdict(IMGCHK_MALFORMED, err, errlen, "the WebP's VP8X header is too short");
        bool animated = (cd[0] & 0x02) != 0;
        w = le24(cd + 4) + 1;
        h = le24(cd + 7) + 1;
        if ((uint64_t)w * h > UINT32_MAX)
            return verdict(IMGCHK_MALFORMED, err, errlen, "the WebP's canvas size is invalid");
        v = check_dims("WebP", w, h, lim, err, errlen);
        if (v != IMGCHK_OK) return v;
        /* The rest of the file must hold the image: one VP8/VP8L chunk of the canvas size, or
         * (animated) frames that each fit in the canvas and hold one. */
        size_t rest_at = rw.pos, rest_n = rw.end - rw.pos;
        bool found = false;
        uint32_t iw = 0, ih = 0;
        if (!animated) {
            v = webp_find_image(d + rest_at, rest_n, &iw, &ih, &found, err, errlen);
            if (v != IMGCHK_OK) return v;
            if (!found) return verdict(IMGCHK_MALFORMED, err, errlen, "the WebP has no image");
            if (iw != w || ih != h)
                return verdict(IMGCHK_MALFORMED, err, errlen,
                               "the WebP's image size differs from its canvas size");
        } else {
            unsigned frames = 0;
            while ((r = riff_next(&rw, &cc, &cd, &cn)) == 1) {
                if (memcmp(cc, "ANMF", 4) != 0) continue;
                if (cn < 16)
                    return verdict(IMGCHK_MALFORMED, err, errlen,
                                   "the WebP has an invalid animation frame");
                uint64_t fx = (uint64_t)le24(cd) * 2, fy = (uint64_t)le24(cd + 3) * 2;
                uint64_t fw = (uint64_t)le24(cd + 6) + 1, fh = (uint64_t)le24(cd + 9) + 1;
                if (fx + fw > w || fy + fh > h)
                    return verdict(IMGCHK_MALFORMED, err, errlen,
                                   "the WebP has an animation frame outside its canvas");
                v = webp_find_image(cd + 16, cn - 16, &iw, &ih, &found, err, errlen);
                if (v != IMGCHK_OK) return v;
                if (!found || iw != fw || ih != fh)
                    return verdict(IMGCHK_MALFORMED, err, errlen,
                                   "the WebP has an invalid animation frame");
                frames++;
            }
            if (r < 0)
                return verdict(IMGCHK_TRUNCATED, err, errlen,
                               "the WebP is truncated (it ends inside a chunk)");
            if (!frames) return verdict(IMGCHK_MALFORMED, err, errlen, "the WebP has no image");
        }
        set_info(info, IMG_WEBP, w, h);
        return IMGCHK_OK;
    } else {
        return verdict(IMGCHK_MALFORMED, err, errlen, "the WebP has no VP8, VP8L or VP8X header");
    }
    if (v != IMGCHK_OK) return v;
    v = check_dims("WebP", w, h, lim, err, errlen);
    if (v != IMGCHK_OK) return v;
    set_info(info, IMG_WEBP, w, h);
    return IMGCHK_OK;
}

/* ---- dispatch ------------------------------------------------------------------------------- */

imgchk_verdict imgchk_validate(const uint8_t *data, size_t len, const imgchk_limits *lim,
                               imgchk_info *info, char *err, size_t errlen)
{
    img_type t = img_sniff(data, len);
    switch (t) {
    case IMG_PNG:
        return imgchk_png(data, len, lim, info, err, errlen);
    case IMG_JPEG:
        return imgchk_jpeg(data, len, lim, info, err, errlen);
    case IMG_WEBP:
        return imgchk_webp(data, len, lim, info, err, errlen);
    default:
        set_info(info, t, 0, 0);
        return verdict(IMGCHK_NOT_IMAGE, err, errlen, "it is not a PNG, JPEG or WebP image");
    }
}

const char *imgchk_verdict_name(imgchk_verdict v)
{
    switch (v) {
    case IMGCHK_OK:
        return "ok";
    case IMGCHK_NOT_IMAGE:
        return "not an image";
    case IMGCHK_MALFORMED:
        return "malformed";
    case IMGCHK_TRUNCATED:
        return "truncated";
    case IMGCHK_TOO_LARGE:
        return "too large";
    }
    return "?";
}
