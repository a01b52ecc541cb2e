/* UTF-8 validation and truncation (see text.h). */
#include "comfy/text.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

bool ctext_utf8_valid(const char *str, size_t len)
{
    const unsigned char *s = (const unsigned char *)str;
    size_t i = 0;
    while (i < len) {
        unsigned c = s[i];
        if (c == 0) return false;
        if (c < 0x80) {
            i++;
            continue;
        }
        size_t n;
        uint32_t cp;
        if ((c & 0xe0) == 0xc0) {
            n = 2;
            cp = c & 0x1f;
        } else if ((c & 0xf0) == 0xe0) {
            n = 3;
            cp = c & 0x0f;
        } else if ((c & 0xf8) == 0xf0) {
            n = 4;
            cp = c & 0x07;
        } else {
            return false;
        }
        if (i + n > len) return false;
        for (size_t k = 1; k < n; k++) {
            if ((s[i + k] & 0xc0) != 0x80) return false;
            cp = (cp << 6) | (s[i + k] & 0x3f);
        }
        if ((n == 2 && cp < 0x80) || (n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) ||
            cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
            return false;
        i += n;
    }
    return true;
}

size_t ctext_utf8_len(const char *s)
{
    size_t n = 0;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        if ((*p & 0xc0) != 0x80) n++;
    return n;
}

char *ctext_truncate(const char *s, size_t max_chars)
{
    if (!s) s = "";
    size_t chars = 0, cut = 0;
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0;
    for (; p[i]; i++) {
        if ((p[i] & 0xc0) != 0x80) {
            if (chars == max_chars) break;
            cut = i;
            chars++;
        }
    }
    if (!p[i]) { /* fits */
        char *r = malloc(i + 1);
        if (!r) abort();
        memcpy(r, s, i + 1);
        return r;
    }
    /* keep max_chars-1 characters, then the ellipsis: cut is the start of the last kept char */
    size_t keep = max_chars == 0 ? 0 : cut;
    char *r = malloc(keep + 4);
    if (!r) abort();
    memcpy(r, s, keep);
    if (max_chars > 0) {
        memcpy(r + keep, "\xe2\x80\xa6", 3);
        keep += 3;
    }
    r[keep] = '\0';
    return r;
}

bool ctext_has_content(const char *s)
{
    if (!s) return false;
    for (; *s; s++)
        if (*s != ' ' && *s != '\t' && *s != '\n' && *s != '\r') return true;
    return false;
}
