/* Image sniffing (see image.h); the validators live in image_check.c. */
#include "comfy/image.h"
#include "comfy/image_check.h"

#include <string.h>

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

int img_png_validate(const uint8_t *d, size_t len, uint32_t *width, uint32_t *height, char *err,
                     size_t errlen)
{
    imgchk_info info;
    if (imgchk_png(d, len, NULL, &info, err, errlen) != IMGCHK_OK) return -1;
    if (width) *width = info.width;
    if (height) *height = info.height;
    return 0;
}
