/*
 * fuzz_image: image bytes as a user attaches them (untrusted, whatever their declared type):
 * content sniffing (img_sniff), the input validator every attachment goes through before it is
 * uploaded (imgchk_validate: PNG, JPEG and WebP structure, declared size against the limits,
 * truncation), and the strict PNG validator (img_png_validate), which walks every chunk, checks
 * every CRC and inflates all IDAT data. (The encoder used for the round trip is the test kit's
 * PNG fixture.)
 *
 * Invariants asserted, beyond "no crash, no sanitizer report":
 *  - imgchk_validate: a refusal has a reason; an accepted image is a PNG, JPEG or WebP (as
 *    sniffed) with non-zero dimensions within the limits it was given;
 *  - img_png_validate: a refused image has a reason; an accepted one has a PNG signature,
 *    non-zero dimensions, and is sniffed as PNG;
 *  - images the encoder makes (sizes and pattern from the input) always validate with their
 *    own dimensions, and any single flipped byte inside one is either refused or still valid.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "comfy/img.h"
#include "comfy/imgchk.h"
#include "fakes/image_fixture.h"
#include "fuzz_support.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 4u << 20) return 0;
    /* An exact-size copy, so reading one byte past the end is caught. */
    uint8_t *img = malloc(size ? size : 1);
    if (!img) abort();
    memcpy(img, data, size);
    img_type t = img_sniff(img, size);
    (void)img_mime(t);
    (void)img_ext(t);
    (void)img_is_input_type(t);
    uint32_t w = 0, h = 0;
    char err[256] = "";
    /* small limits, so that the "too large" path is reached by small inputs too */
    imgchk_limits lim = {.max_side = 4096, .max_pixels = 4u << 20};
    imgchk_info info;
    if (imgchk_validate(img, size, &lim, &info, err, sizeof err) == IMGCHK_OK) {
        FZ_ASSERT(info.type == IMG_PNG || info.type == IMG_JPEG || info.type == IMG_WEBP,
                  "accepted image of another type", NULL);
        FZ_ASSERT(info.width > 0 && info.height > 0, "accepted image with a zero dimension", NULL);
        FZ_ASSERT(info.width <= lim.max_side && info.height <= lim.max_side &&
                      (uint64_t)info.width * info.height <= lim.max_pixels,
                  "accepted image over the limits", NULL);
    } else {
        FZ_ASSERT(err[0] != '\0', "image refused without a reason", NULL);
    }
    err[0] = '\0';
    if (img_png_validate(img, size, &w, &h, err, sizeof err) == 0) {
        FZ_ASSERT(t == IMG_PNG, "valid PNG not sniffed as PNG", NULL);
        FZ_ASSERT(w > 0 && h > 0, "valid PNG with a zero dimension", NULL);
    } else {
        FZ_ASSERT(err[0] != '\0', "PNG refused without a reason", NULL);
    }
    free(img);

    /* Round trip through the encoder, with one corrupted byte. */
    if (size >= 8) {
        uint32_t ew = 1 + data[0] % 64, eh = 1 + data[1] % 64;
        size_t len = 0;
        uint8_t *png = image_fixture_png(ew, eh, data[2] & 1, data[3], &len);
        FZ_ASSERT(png != NULL, "encoder failed", NULL);
        FZ_ASSERT(img_png_validate(png, len, &w, &h, err, sizeof err) == 0 && w == ew && h == eh,
                  "encoder output does not validate", err);
        size_t at = ((size_t)data[4] << 8 | data[5]) % len;
        png[at] ^= data[6] ? data[6] : 1;
        if (img_png_validate(png, len, &w, &h, err, sizeof err) != 0)
            FZ_ASSERT(err[0] != '\0', "corrupt PNG refused without a reason", NULL);
        /* Truncated anywhere: never valid (IEND is required). */
        size_t cut = ((size_t)data[7] * 131) % len;
        FZ_ASSERT(img_png_validate(png, cut, &w, &h, err, sizeof err) != 0,
                  "truncated PNG accepted", NULL);
        free(png);
    }
    return 0;
}
