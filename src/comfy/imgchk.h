/*
 * Input image validation: decides from the bytes alone (never the file name or the declared
 * content type) whether a downloaded input image is a complete, well-formed PNG, JPEG or WebP
 * whose declared dimensions are within the operator's limits, before it is uploaded to ComfyUI.
 *
 * What is checked, per type:
 *   PNG  — signature; every chunk's length and CRC; IHDR first with sane fields; declared
 *          dimensions against the limits BEFORE any inflation (a 65535×65535 header is refused
 *          without touching its IDAT); consecutive IDAT chunks whose zlib stream inflates to
 *          exactly the size the geometry implies; IEND.
 *   JPEG — SOI; every marker segment's length within the data; a frame header (SOF) with
 *          non-zero dimensions and a consistent component count before the first scan; the
 *          entropy-coded data walked to the EOI marker.
 *   WebP — RIFF size within the data; a VP8 (key frame, start code), VP8L (signature, version 0)
 *          or VP8X (canvas size, and an image or animation chunk inside) header with dimensions.
 * Pixel data of JPEG and WebP is not decoded: ComfyUI does that, and what reaches it is bounded.
 *
 * Why: ComfyUI decodes whatever it is given with the full declared geometry; a small file can
 * declare gigapixels (a decompression bomb) and a truncated file fails deep inside a workflow
 * with an error the user never sees. Refusing here gives the user a clear reason.
 *
 * Pure: buffer in, verdict out; no threads, sockets or allocation beyond zlib's own state, so
 * it can be unit-tested and fuzzed directly. The error text is meant for the user: it names
 * what is wrong and never contains a path or address.
 */
#ifndef FLUXBOT_COMFY_IMAGE_CHECK_H
#define FLUXBOT_COMFY_IMAGE_CHECK_H

#include <stddef.h>
#include <stdint.h>

#include "comfy/img.h"

/* From the configuration keys max_image_side / max_image_pixels, whose defaults live in the
 * key table (src/config/fb_config.c) only. */
typedef struct imgchk_limits {
    uint32_t max_side;   /* largest width or height accepted; 0 = no limit */
    uint64_t max_pixels; /* largest width × height accepted; 0 = no limit */
} imgchk_limits;

typedef enum imgchk_verdict {
    IMGCHK_OK = 0,
    IMGCHK_NOT_IMAGE, /* not a PNG, JPEG or WebP at all (by its bytes) */
    IMGCHK_MALFORMED, /* the structure is broken (bad CRC, bad header, bad segment, ...) */
    IMGCHK_TRUNCATED, /* the data ends before the image does */
    IMGCHK_TOO_LARGE, /* declared dimensions over the limits */
} imgchk_verdict;

typedef struct imgchk_info {
    img_type type; /* as sniffed (IMG_UNKNOWN when not an image) */
    uint32_t width, height;
} imgchk_info;

/*
 * Validates an input image. lim may be NULL (no dimension limit). info may be NULL.
 * On anything but IMGCHK_OK, err receives one user-facing clause without a trailing period,
 * e.g. "the PNG is truncated (its data ends inside a chunk)".
 */
imgchk_verdict imgchk_validate(const uint8_t *data, size_t len, const imgchk_limits *lim,
                               imgchk_info *info, char *err, size_t errlen);

/* The individual checks (data must already be of that type by its signature). */
imgchk_verdict imgchk_png(const uint8_t *data, size_t len, const imgchk_limits *lim,
                          imgchk_info *info, char *err, size_t errlen);
imgchk_verdict imgchk_jpeg(const uint8_t *data, size_t len, const imgchk_limits *lim,
                           imgchk_info *info, char *err, size_t errlen);
imgchk_verdict imgchk_webp(const uint8_t *data, size_t len, const imgchk_limits *lim,
                           imgchk_info *info, char *err, size_t errlen);

/* "not an image", "malformed", "truncated", "too large" (for logs and analytics reasons). */
const char *imgchk_verdict_name(imgchk_verdict v);

#endif
