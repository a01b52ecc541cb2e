/*
 * Image fixtures: a minimal real PNG encoder (and APNG, animated WebP and WebM files as ComfyUI's
 * savers write them) (zlib IDAT, correct CRCs) for the fake ComfyUI's
 * /view, the demo's attachments and the tests. Test kit only: the bot never encodes images, it
 * sniffs and validates what it receives (comfy/img.h). Pure: no threads, no sockets.
 */
#ifndef FLUXBOT_FAKES_IMAGE_FIXTURE_H
#define FLUXBOT_FAKES_IMAGE_FIXTURE_H

#include <stddef.h>
#include <stdint.h>

/*
 * Encodes an 8-bit RGB PNG of w x h pixels. pattern 0 = a smooth gradient seeded by `seed`
 * (compresses well), 1 = pseudo-random noise from `seed` (barely compresses; used to make large
 * files). Returns a malloc'd buffer and its length in *out_len, or NULL on bad size/OOM.
 * Limits: 1..8192 per side.
 */
uint8_t *image_fixture_png(uint32_t w, uint32_t h, int pattern, uint64_t seed, size_t *out_len);

/* What ComfyUI's animation/video savers write, as far as a reader identifies them by their
 * bytes (malloc'd, length in *out_len; NULL on OOM):
 * - an APNG (SaveAnimatedPNG): the PNG above with an acTL chunk (2 frames) after IHDR and an
 *   fcTL before the IDAT;
 * - an animated WebP (SaveAnimatedWEBP): RIFF/WEBP with a VP8X header whose animation flag is
 *   set, an ANIM chunk and one ANMF frame;
 * - a WebM (SaveWEBM): an EBML header with DocType "webm" and a Segment with filler bytes. */
uint8_t *image_fixture_apng(uint32_t w, uint32_t h, uint64_t seed, size_t *out_len);
uint8_t *image_fixture_webp_anim(uint32_t w, uint32_t h, uint64_t seed, size_t *out_len);
uint8_t *image_fixture_webm(uint64_t seed, size_t *out_len);

#endif
