/* Input image validation (src/comfy/imgchk.c): PNG, JPEG and WebP accepted when complete
 * and within the dimension limits; a 65535×65535 PNG bomb, a truncated 60-byte PNG, a bad CRC,
 * broken JPEG and WebP files refused with a reason that names the problem; the type decided by
 * the bytes only. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "comfy/img.h"
#include "comfy/imgchk.h"
#include "fakes/image_fixture.h"

static const imgchk_limits lim = {.max_side = 16384, .max_pixels = 50000000};

/* Real libwebp output (1×1): lossy, lossless, lossy with alpha (VP8X), animated (VP8X+ANMF). */
static const uint8_t webp_lossy[] = {
    0x52, 0x49, 0x46, 0x46, 0x22, 0x00, 0x00, 0x00, 0x57, 0x45, 0x42, 0x50, 0x56, 0x50,
    0x38, 0x20, 0x16, 0x00, 0x00, 0x00, 0x30, 0x01, 0x00, 0x9d, 0x01, 0x2a, 0x01, 0x00,
    0x01, 0x00, 0x0e, 0xc0, 0xfe, 0x25, 0xa4, 0x00, 0x03, 0x70, 0x00, 0x00, 0x00, 0x00};
static const uint8_t webp_lossless[] = {0x52, 0x49, 0x46, 0x46, 0x1a, 0x00, 0x00, 0x00, 0x57,
                                        0x45, 0x42, 0x50, 0x56, 0x50, 0x38, 0x4c, 0x0d, 0x00,
                                        0x00, 0x00, 0x2f, 0x00, 0x00, 0x00, 0x10, 0x07, 0x10,
                                        0x11, 0x11, 0x88, 0x88, 0xfe, 0x07, 0x00};
static const uint8_t webp_alpha[] = {
    0x52, 0x49, 0x46, 0x46, 0x4a, 0x00, 0x00, 0x00, 0x57, 0x45, 0x42, 0x50, 0x56, 0x50,
    0x38, 0x58, 0x0a, 0x00, 0x00, 0x00, 0x10, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x41, 0x4c, 0x50, 0x48, 0x0c, 0x00, 0x00, 0x00, 0x11, 0x07, 0x10, 0x11,
    0xfd, 0x0f, 0x44, 0x44, 0xff, 0x03, 0x00, 0x00, 0x56, 0x50, 0x38, 0x20, 0x18, 0x00,
    0x00, 0x00, 0x14, 0x01, 0x00, 0x9d, 0x01, 0x2a, 0x01, 0x00, 0x01, 0x00, 0x00, 0x00,
    0xfe, 0x00, 0x00, 0x0d, 0xc0, 0x00, 0xfe, 0xe6, 0xb5, 0x00, 0x00, 0x00};
static const uint8_t webp_anim[] = {
    0x52, 0x49, 0x46, 0x46, 0x52, 0x00, 0x00, 0x00, 0x57, 0x45, 0x42, 0x50, 0x56, 0x50, 0x38,
    0x58, 0x0a, 0x00, 0x00, 0x00, 0x12, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x41, 0x4e, 0x49, 0x4d, 0x06, 0x00, 0x00, 0x00, 0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x41,
    0x4e, 0x4d, 0x46, 0x26, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x64, 0x00, 0x00, 0x00, 0x56, 0x50, 0x38, 0x4c, 0x0d, 0x00, 0x00,
    0x00, 0x2f, 0x00, 0x00, 0x00, 0x10, 0x07, 0x10, 0x11, 0x11, 0x88, 0x88, 0xfe, 0x07, 0x00};

static void put_be32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

/* Rewrites IHDR's size in an encoded PNG and fixes its CRC (so only the size is wrong). */
static void png_set_size(uint8_t *png, uint32_t w, uint32_t h)
{
    put_be32(png + 16, w);
    put_be32(png + 20, h);
    put_be32(png + 29, (uint32_t)crc32(0L, png + 12, 17));
}

/* A baseline JPEG's marker structure: SOI, APP0, DQT, SOF0 (w×h, 3 components), DHT, SOS,
 * entropy data with a stuffed 0xFF00 and a restart marker, EOI. */
static size_t make_jpeg(uint8_t *out, uint16_t w, uint16_t h)
{
    size_t n = 0;
    static const uint8_t soi_app0[] = {0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x10, 'J',  'F',  'I',  'F',
                                       0x00, 0x01, 0x01, 0x00, 0x00, 0x01, 0x00, 0x01, 0x00, 0x00};
    memcpy(out + n, soi_app0, sizeof soi_app0);
    n += sizeof soi_app0;
    out[n++] = 0xFF, out[n++] = 0xDB, out[n++] = 0x00, out[n++] = 67, out[n++] = 0x00;
    for (int i = 0; i < 64; i++)
        out[n++] = (uint8_t)(1 + i);
    uint8_t sof[] = {0xFF,       0xC0,
                     0x00,       17,
                     8,          (uint8_t)(h >> 8),
                     (uint8_t)h, (uint8_t)(w >> 8),
                     (uint8_t)w, 3,
                     1,          0x22,
                     0,          2,
                     0x11,       1,
                     3,          0x11,
                     1};
    memcpy(out + n, sof, sizeof sof);
    n += sizeof sof;
    uint8_t dht[] = {0xFF, 0xC4, 0x00, 0x14, 0x00, 1, 0, 0, 0, 0, 0, 0,
                     0,    0,    0,    0,    0,    0, 0, 0, 0, 0, 0, 0x00};
    dht[3] = (uint8_t)(sizeof dht - 2);
    memcpy(out + n, dht, sizeof dht);
    n += sizeof dht;
    uint8_t sos[] = {0xFF, 0xDA, 0x00, 12, 3, 1, 0x00, 2, 0x11, 3, 0x11, 0x00, 0x3F, 0x00};
    memcpy(out + n, sos, sizeof sos);
    n += sizeof sos;
    uint8_t data[] = {0x12, 0x34, 0xFF, 0x00, 0x56, 0xFF, 0xD0, 0x78, 0x9a, 0xFF, 0xD9};
    memcpy(out + n, data, sizeof data);
    n += sizeof data;
    return n;
}

static void test_png_valid_and_dims(void **state)
{
    (void)state;
    size_t len;
    uint8_t *png = image_fixture_png(40, 30, 0, 5, &len);
    assert_non_null(png);
    imgchk_info info;
    char err[200];
    assert_int_equal(imgchk_validate(png, len, &lim, &info, err, sizeof err), IMGCHK_OK);
    assert_int_equal(info.type, IMG_PNG);
    assert_int_equal(info.width, 40);
    assert_int_equal(info.height, 30);
    /* a tighter limit refuses it by its declared size */
    imgchk_limits small = {.max_side = 32, .max_pixels = 0};
    assert_int_equal(imgchk_validate(png, len, &small, &info, err, sizeof err), IMGCHK_TOO_LARGE);
    assert_non_null(strstr(err, "40x30"));
    imgchk_limits area = {.max_side = 0, .max_pixels = 1000};
    assert_int_equal(imgchk_validate(png, len, &area, &info, err, sizeof err), IMGCHK_TOO_LARGE);
    assert_non_null(strstr(err, "megapixels"));
    free(png);
}

/* 65535×65535 declared in a small, otherwise valid PNG: refused from the header alone. */
static void test_png_bomb(void **state)
{
    (void)state;
    size_t len;
    uint8_t *png = image_fixture_png(64, 64, 0, 1, &len);
    png_set_size(png, 65535, 65535);
    char err[200];
    assert_int_equal(imgchk_validate(png, len, &lim, NULL, err, sizeof err), IMGCHK_TOO_LARGE);
    assert_non_null(strstr(err, "65535x65535"));
    assert_non_null(strstr(err, "16384"));
    /* without a limit it is still refused: the data cannot fill the declared size */
    assert_int_not_equal(imgchk_validate(png, len, NULL, NULL, err, sizeof err), IMGCHK_OK);
    free(png);
}

static void test_png_truncated_and_crc(void **state)
{
    (void)state;
    size_t len;
    uint8_t *png = image_fixture_png(32, 32, 1, 9, &len);
    assert_true(len > 200);
    char err[200];
    /* the 60-byte head of a PNG: signature, IHDR, part of IDAT */
    assert_int_equal(imgchk_validate(png, 60, &lim, NULL, err, sizeof err), IMGCHK_TRUNCATED);
    assert_non_null(strstr(err, "truncated"));
    /* every cut is refused */
    for (size_t cut = 1; cut < len; cut += 7)
        assert_int_not_equal(imgchk_validate(png, cut, &lim, NULL, err, sizeof err), IMGCHK_OK);
    /* no IEND */
    assert_int_equal(imgchk_validate(png, len - 12, &lim, NULL, err, sizeof err), IMGCHK_TRUNCATED);
    /* a flipped byte inside IDAT: its CRC fails */
    png[50] ^= 0x40;
    assert_int_equal(imgchk_validate(png, len, &lim, NULL, err, sizeof err), IMGCHK_MALFORMED);
    assert_non_null(strstr(err, "CRC"));
    assert_non_null(strstr(err, "IDAT"));
    free(png);
}

static void test_jpeg(void **state)
{
    (void)state;
    uint8_t j[256];
    size_t n = make_jpeg(j, 640, 480);
    imgchk_info info;
    char err[200];
    assert_int_equal(imgchk_validate(j, n, &lim, &info, err, sizeof err), IMGCHK_OK);
    assert_int_equal(info.type, IMG_JPEG);
    assert_int_equal(info.width, 640);
    assert_int_equal(info.height, 480);
    /* truncated anywhere (no EOI) */
    for (size_t cut = 3; cut < n; cut++)
        assert_int_not_equal(imgchk_validate(j, cut, &lim, NULL, err, sizeof err), IMGCHK_OK);
    assert_int_equal(imgchk_validate(j, n - 2, &lim, NULL, err, sizeof err), IMGCHK_TRUNCATED);
    assert_non_null(strstr(err, "JPEG is truncated"));
    /* 65535×65535 declared */
    n = make_jpeg(j, 65535, 65535);
    assert_int_equal(imgchk_validate(j, n, &lim, NULL, err, sizeof err), IMGCHK_TOO_LARGE);
    assert_non_null(strstr(err, "65535x65535"));
    /* no height (the DNL form): refused */
    n = make_jpeg(j, 100, 0);
    assert_int_equal(imgchk_validate(j, n, &lim, NULL, err, sizeof err), IMGCHK_MALFORMED);
    /* a segment length running past the end */
    n = make_jpeg(j, 10, 10);
    j[4] = 0x7F;
    assert_int_equal(imgchk_validate(j, n, &lim, NULL, err, sizeof err), IMGCHK_TRUNCATED);
    /* garbage where a marker belongs */
    n = make_jpeg(j, 10, 10);
    j[20] = 0x00;
    assert_int_equal(imgchk_validate(j, n, &lim, NULL, err, sizeof err), IMGCHK_MALFORMED);
    /* just the magic bytes */
    assert_int_not_equal(
        imgchk_validate((const uint8_t *)"\xff\xd8\xff\xe0", 4, &lim, NULL, err, sizeof err),
        IMGCHK_OK);
}

static void test_webp(void **state)
{
    (void)state;
    const struct {
        const uint8_t *d;
        size_t n;
    } ok[] = {{webp_lossy, sizeof webp_lossy},
              {webp_lossless, sizeof webp_lossless},
              {webp_alpha, sizeof webp_alpha},
              {webp_anim, sizeof webp_anim}};
    char err[200];
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        imgchk_info info;
        assert_int_equal(imgchk_validate(ok[i].d, ok[i].n, &lim, &info, err, sizeof err),
                         IMGCHK_OK);
        assert_int_equal(info.type, IMG_WEBP);
        assert_int_equal(info.width, 1);
        assert_int_equal(info.height, 1);
        /* every truncation is refused */
        for (size_t cut = 0; cut < ok[i].n; cut++)
            assert_int_not_equal(imgchk_validate(ok[i].d, cut, &lim, NULL, err, sizeof err),
                                 IMGCHK_OK);
    }
    assert_int_equal(
        imgchk_validate(webp_lossy, sizeof webp_lossy - 4, &lim, NULL, err, sizeof err),
        IMGCHK_TRUNCATED);
    assert_non_null(strstr(err, "WebP is truncated"));
    uint8_t b[sizeof webp_alpha];
    /* VP8X canvas 16384×16384 + 1 (declared, over the side limit) */
    memcpy(b, webp_alpha, sizeof b);
    b[24] = 0x00, b[25] = 0x40, b[26] = 0x00; /* canvas width - 1 = 16384 */
    assert_int_equal(imgchk_validate(b, sizeof b, &lim, NULL, err, sizeof err), IMGCHK_TOO_LARGE);
    /* lossy: broken start code, not a key frame */
    uint8_t l[sizeof webp_lossy];
    memcpy(l, webp_lossy, sizeof l);
    l[23] = 0x00;
    assert_int_equal(imgchk_validate(l, sizeof l, &lim, NULL, err, sizeof err), IMGCHK_MALFORMED);
    memcpy(l, webp_lossy, sizeof l);
    l[20] |= 1;
    assert_int_equal(imgchk_validate(l, sizeof l, &lim, NULL, err, sizeof err), IMGCHK_MALFORMED);
    /* lossy declaring 16383×16383 (within the side limit, over the pixel limit) */
    memcpy(l, webp_lossy, sizeof l);
    l[26] = 0xff, l[27] = 0x3f, l[28] = 0xff, l[29] = 0x3f;
    assert_int_equal(imgchk_validate(l, sizeof l, &lim, NULL, err, sizeof err), IMGCHK_TOO_LARGE);
    /* lossless: bad signature, bad version */
    uint8_t ll[sizeof webp_lossless];
    memcpy(ll, webp_lossless, sizeof ll);
    ll[20] = 0x2e;
    assert_int_equal(imgchk_validate(ll, sizeof ll, &lim, NULL, err, sizeof err), IMGCHK_MALFORMED);
    memcpy(ll, webp_lossless, sizeof ll);
    ll[24] |= 0x20;
    assert_int_equal(imgchk_validate(ll, sizeof ll, &lim, NULL, err, sizeof err), IMGCHK_MALFORMED);
    /* RIFF size larger than the file */
    memcpy(ll, webp_lossless, sizeof ll);
    ll[4] = 0xff;
    assert_int_equal(imgchk_validate(ll, sizeof ll, &lim, NULL, err, sizeof err), IMGCHK_TRUNCATED);
    /* an unknown first chunk */
    memcpy(ll, webp_lossless, sizeof ll);
    memcpy(ll + 12, "JUNK", 4);
    assert_int_equal(imgchk_validate(ll, sizeof ll, &lim, NULL, err, sizeof err), IMGCHK_MALFORMED);
}

/* The bytes decide: what a name or a declared type says plays no part, and other types (GIF,
 * text) are refused as not an image. */
static void test_type_from_bytes(void **state)
{
    (void)state;
    char err[200];
    const char *txt = "just some text that says it is a PNG";
    assert_int_equal(
        imgchk_validate((const uint8_t *)txt, strlen(txt), &lim, NULL, err, sizeof err),
        IMGCHK_NOT_IMAGE);
    assert_non_null(strstr(err, "not a PNG, JPEG or WebP image"));
    assert_int_equal(
        imgchk_validate((const uint8_t *)"GIF89a\x01\x00\x01\x00", 10, &lim, NULL, err, sizeof err),
        IMGCHK_NOT_IMAGE);
    assert_int_equal(imgchk_validate(NULL, 0, &lim, NULL, err, sizeof err), IMGCHK_NOT_IMAGE);
    /* no message ever carries a path or address */
    assert_null(strchr(err, '/'));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_png_valid_and_dims),
        cmocka_unit_test(test_png_bomb),
        cmocka_unit_test(test_png_truncated_and_crc),
        cmocka_unit_test(test_jpeg),
        cmocka_unit_test(test_webp),
        cmocka_unit_test(test_type_from_bytes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
