/* UTF-8 validation, counting and clipping (see util_utf8.h). */
#include "util/util_utf8.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static const char ELLIPSIS[] = "\xE2\x80\xA6";    /* U+2026 */
static const char REPLACEMENT[] = "\xEF\xBF\xBD"; /* U+FFFD */

size_t util_utf8_seq(const char *s, size_t avail)
{
    const unsigned char *p = (const unsigned char *)s;
    unsigned char c = p[0];
    size_t need;
    uint32_t cp;
    if (c < 0x80) return 1;
    /* C0/C1 and F5..FF can only start overlong or out-of-range sequences */
    if (c >= 0xC2 && c <= 0xDF) {
        need = 1;
        cp = c & 0x1F;
    } else if (c >= 0xE0 && c <= 0xEF) {
        need = 2;
        cp = c & 0x0F;
    } else if (c >= 0xF0 && c <= 0xF4) {
        need = 3;
        cp = c & 0x07;
    } else {
        return 0;
    }
    if (need >= avail) return 0;
    for (size_t k = 1; k <= need; k++) {
        if ((p[k] & 0xC0) != 0x80) return 0;
        cp = (cp << 6) | (p[k] & 0x3F);
    }
    if ((need == 2 && cp < 0x800) || (need == 3 && (cp < 0x10000 || cp > 0x10FFFF)) ||
        (cp >= 0xD800 && cp <= 0xDFFF))
        return 0;
    return need + 1;
}

bool util_utf8_valid(const char *s, size_t len, size_t *chars)
{
    size_t i = 0, n = 0;
    while (i < len) {
        size_t k = util_utf8_seq(s + i, len - i);
        if (k == 0) return false;
        i += k;
        n++;
    }
    if (chars) *chars = n;
    return true;
}

size_t util_utf8_chars(const char *s)
{
    size_t n = 0;
    if (!s) return 0;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        if ((*p & 0xC0) != 0x80) n++;
    return n;
}

char *util_utf8_clip(const char *s, size_t max_chars)
{
    if (!s) s = "";
    size_t len = strlen(s);
    /* Worst case every byte becomes a 3-byte replacement character. */
    char *out = malloc(len * 3 + sizeof ELLIPSIS + 1);
    if (!out) abort();
    size_t i = 0, o = 0, chars = 0;
    size_t last_start = 0; /* where the last emitted character starts, for the ellipsis */
    bool cut = false;
    while (i < len) {
        if (chars == max_chars) {
            cut = true;
            break;
        }
        last_start = o;
        if ((unsigned char)s[i] < 0x80) {
            /* ASCII, most of every text: copied here, not through a call per byte */
            out[o++] = s[i++];
            chars++;
            continue;
        }
        size_t n = util_utf8_seq(s + i, len - i);
        if (n == 0) {
            memcpy(out + o, REPLACEMENT, 3);
            o += 3;
            i++;
        } else {
            memcpy(out + o, s + i, n);
            o += n;
            i += n;
        }
        chars++;
    }
    if (cut && max_chars > 0) {
        o = last_start; /* replace the last kept character by the ellipsis */
        memcpy(out + o, ELLIPSIS, 3);
        o += 3;
    }
    out[o] = '\0';
    return out;
}
