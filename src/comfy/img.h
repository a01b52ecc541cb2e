/*
 * Image bytes: content sniffing by magic bytes and a strict PNG validator (the input-image
 * checks of every type are in imgchk.h). (The PNG encoder the fakes serve lives in the test
 * kit: testkit/fakes/image_fixture.h.)
 *
 * Why here: attachments from Discord are untrusted (the declared content type can lie), and
 * tests must prove the final upload is a PNG a viewer would open. Pure: no threads, no sockets.
 */
#ifndef FLUXBOT_COMFY_IMAGE_H
#define FLUXBOT_COMFY_IMAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum img_type {
    IMG_UNKNOWN = 0,
    IMG_PNG,
    IMG_JPEG,
    IMG_WEBP,
    IMG_GIF,
    IMG_MP4,
    IMG_APNG, /* a PNG with an acTL chunk before its image data (SaveAnimatedPNG) */
    IMG_WEBM, /* EBML with DocType "webm" (SaveWEBM) */
    IMG_MKV,  /* other Matroska (EBML) files */
    IMG_MOV,  /* ISO media with the QuickTime brand "qt  " */
} img_type;

/* Identifies data by its leading bytes only (never by name or declared type). An animated WebP
 * is IMG_WEBP (same extension and content type as a still one). */
img_type img_sniff(const uint8_t *data, size_t len);
/* "image/png", ... ; "application/octet-stream" for IMG_UNKNOWN. */
const char *img_mime(img_type t);
/* "png", "jpg", "webp", "gif", "mp4", "webm", "mkv", "mov"; "bin" for IMG_UNKNOWN (an APNG
 * is a ".png" for every viewer). */
const char *img_ext(img_type t);
/* True for video containers (MP4, WebM, Matroska, QuickTime): sent as files, not embedded. */
bool img_is_video(img_type t);
/* True for the types accepted as generation inputs (PNG, JPEG, WebP). */
bool img_is_input_type(img_type t);

/* Checks signature, chunk order, every CRC, IHDR sanity, inflates all IDAT data and checks its
 * size against the declared geometry, and requires IEND (imgchk_png without dimension limits).
 * 0 if valid (width/height filled when non-NULL), else -1 with a reason in err. */
int img_png_validate(const uint8_t *data, size_t len, uint32_t *width, uint32_t *height, char *err,
                     size_t errlen);

#endif
