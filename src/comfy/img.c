/* Image sniffing (see img.h); the validators live in imgchk.c. */
#include "comfy/img.h"
#include "comfy/imgchk.h"

#include <string.h>

static const uint8_t png_sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};

static uint32_t be32(const uint8_t *p)
{
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

/* An APNG announces itself with acTL before the first IDAT; chunks are walked with bounds. */
static bool png_is_animated(const uint8_t *d, size_t len)
{
    size_t o = 8;
    for (int i = 0; i < 64 && o + 8 <= len; i++) {
        uint32_t cl = be32(d + o);
        if (memcmp(d + o + 4, "acTL", 4) == 0) return true;
        if (memcmp(d + o + 4, "IDAT", 4) == 0 || cl > len) return false;
        o += 12 + (size_t)cl;
    }
    return false;
}

/* The EBML header's DocType element (0x42 0x82, a one-byte size, the name) says webm or not;
 * it sits in the first few dozen bytes, so only those are looked at. */
static img_type ebml_kind(const uint8_t *d, size_t len)
{
    size_t lim = len < 64 ? len : 64;
    for (size_t i = 4; i + 3 <= lim; i++) {
        if (d[i] != 0x42 || d[i + 1] != 0x82 || !(d[i + 2] & 0x80)) continue;
        size_t n = d[i + 2] & 0x7f;
        if (i + 3 + n > len) break;
        return n == 4 && memcmp(d + i + 3, "webm", 4) == 0 ? IMG_WEBM : IMG_MKV;
    }
    return IMG_MKV;
}

img_type img_sniff(const uint8_t *d, size_t len)
{
    if (!d) return IMG_UNKNOWN;
    if (len >= 8 && memcmp(d, png_sig, 8) == 0) return png_is_animated(d, len) ? IMG_APNG : IMG_PNG;
    if (len >= 4 && d[0] == 0x1a && d[1] == 0x45 && d[2] == 0xdf && d[3] == 0xa3)
        return ebml_kind(d, len);
    if (len >= 12 && memcmp(d + 4, "ftypqt  ", 8) == 0) return IMG_MOV;
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
    case IMG_APNG:
        return "image/apng";
    case IMG_WEBM:
        return "video/webm";
    case IMG_MKV:
        return "video/x-matroska";
    case IMG_MOV:
        return "video/quicktime";
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
    case IMG_APNG:
        return "png";
    case IMG_WEBM:
        return "webm";
    case IMG_MKV:
        return "mkv";
    case IMG_MOV:
        return "mov";
    default:
        return "bin";
    }
}

bool img_is_video(img_type t)
{
    return t == IMG_MP4 || t == IMG_WEBM || t == IMG_MKV || t == IMG_MOV;
}

bool img_is_input_type(img_type t)
{
    return t == IMG_PNG || t == IMG_JPEG || t == IMG_WEBP;
}

int img_png_validate(const uint8_t *d, size_t len, uint32_t *width, uint32_t *height, char *err,
                     size_t errlen)
{
    imgchk_info info;
    if (imgchk_png(d, len, NULL, &info, err, errlen) != IMGCHK_OK) return -1;
    if (width) *width = info.width;
    if (height) *height = info.height;
    return 0;
}
