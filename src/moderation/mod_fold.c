/* Text folding and word splitting for the content filter (see mod_fold.h). */
#include "moderation/mod_fold.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "util/util_utf8.h"

/* A run of code points [first, last] that all fold to the same ASCII text. */
typedef struct fold_run {
    uint32_t first, last;
    const char *to;
} fold_run;

/*
 * Precomposed letters with diacritics, Latin ligatures and the Cyrillic/Greek look-alikes of
 * Latin letters (after case folding, so only small letters are listed for those scripts).
 * Sorted by code point: looked up by binary search. A mistake here only ever makes the filter
 * stricter for the letters listed, never lets more through.
 */
static const fold_run k_runs[] = {
    {0x00C0, 0x00C5, "a"},
    {0x00C6, 0x00C6, "ae"},
    {0x00C7, 0x00C7, "c"},
    {0x00C8, 0x00CB, "e"},
    {0x00CC, 0x00CF, "i"},
    {0x00D0, 0x00D0, "d"},
    {0x00D1, 0x00D1, "n"},
    {0x00D2, 0x00D6, "o"},
    {0x00D8, 0x00D8, "o"},
    {0x00D9, 0x00DC, "u"},
    {0x00DD, 0x00DD, "y"},
    {0x00DE, 0x00DE, "th"},
    {0x00DF, 0x00DF, "ss"},
    {0x00E0, 0x00E5, "a"},
    {0x00E6, 0x00E6, "ae"},
    {0x00E7, 0x00E7, "c"},
    {0x00E8, 0x00EB, "e"},
    {0x00EC, 0x00EF, "i"},
    {0x00F0, 0x00F0, "d"},
    {0x00F1, 0x00F1, "n"},
    {0x00F2, 0x00F6, "o"},
    {0x00F8, 0x00F8, "o"},
    {0x00F9, 0x00FC, "u"},
    {0x00FD, 0x00FD, "y"},
    {0x00FE, 0x00FE, "th"},
    {0x00FF, 0x00FF, "y"},
    {0x0100, 0x0105, "a"},
    {0x0106, 0x010D, "c"},
    {0x010E, 0x0111, "d"},
    {0x0112, 0x011B, "e"},
    {0x011C, 0x0123, "g"},
    {0x0124, 0x0127, "h"},
    {0x0128, 0x0131, "i"},
    {0x0132, 0x0133, "ij"},
    {0x0134, 0x0135, "j"},
    {0x0136, 0x0138, "k"},
    {0x0139, 0x0142, "l"},
    {0x0143, 0x014B, "n"},
    {0x014C, 0x0151, "o"},
    {0x0152, 0x0153, "oe"},
    {0x0154, 0x0159, "r"},
    {0x015A, 0x0161, "s"},
    {0x0162, 0x0167, "t"},
    {0x0168, 0x0173, "u"},
    {0x0174, 0x0175, "w"},
    {0x0176, 0x0178, "y"},
    {0x0179, 0x017E, "z"},
    {0x017F, 0x017F, "s"},
    /* Greek (small letters, tonos forms) that pass for Latin ones. */
    {0x03AC, 0x03AC, "a"},
    {0x03AD, 0x03AD, "e"},
    {0x03AE, 0x03AE, "h"},
    {0x03AF, 0x03AF, "i"},
    {0x03B1, 0x03B1, "a"},
    {0x03B2, 0x03B2, "b"},
    {0x03B5, 0x03B5, "e"},
    {0x03B6, 0x03B6, "z"},
    {0x03B7, 0x03B7, "h"},
    {0x03B9, 0x03B9, "i"},
    {0x03BA, 0x03BA, "k"},
    {0x03BC, 0x03BC, "m"},
    {0x03BD, 0x03BD, "n"},
    {0x03BF, 0x03BF, "o"},
    {0x03C1, 0x03C1, "p"},
    {0x03C4, 0x03C4, "t"},
    {0x03C5, 0x03C5, "y"},
    {0x03C7, 0x03C7, "x"},
    {0x03CC, 0x03CC, "o"},
    {0x03CD, 0x03CD, "y"},
    /* Cyrillic. */
    {0x0430, 0x0430, "a"},
    {0x0432, 0x0432, "b"},
    {0x0435, 0x0435, "e"},
    {0x043A, 0x043A, "k"},
    {0x043C, 0x043C, "m"},
    {0x043D, 0x043D, "h"},
    {0x043E, 0x043E, "o"},
    {0x0440, 0x0440, "p"},
    {0x0441, 0x0441, "c"},
    {0x0442, 0x0442, "t"},
    {0x0443, 0x0443, "y"},
    {0x0445, 0x0445, "x"},
    {0x0451, 0x0451, "e"},
    {0x0455, 0x0455, "s"},
    {0x0456, 0x0457, "i"},
    {0x0458, 0x0458, "j"},
    {0x04BB, 0x04BB, "h"},
    {0x0501, 0x0501, "d"},
    {0x051B, 0x051B, "q"},
    {0x051D, 0x051D, "w"},
    /* Alphabetic presentation forms. */
    {0xFB00, 0xFB00, "ff"},
    {0xFB01, 0xFB01, "fi"},
    {0xFB02, 0xFB02, "fl"},
    {0xFB03, 0xFB03, "ffi"},
    {0xFB04, 0xFB04, "ffl"},
    {0xFB05, 0xFB06, "st"},
};

/* Characters that carry no letter and are dropped. */
static bool invisible(uint32_t cp)
{
    return cp == 0x00AD || cp == 0x180E || (cp >= 0x200B && cp <= 0x200F) ||
           (cp >= 0x202A && cp <= 0x202E) || (cp >= 0x2060 && cp <= 0x2064) ||
           (cp >= 0x206A && cp <= 0x206F) || (cp >= 0xFE00 && cp <= 0xFE0F) || cp == 0xFEFF ||
           (cp >= 0xE0000 && cp <= 0xE007F) || (cp >= 0xE0100 && cp <= 0xE01EF);
}

static bool combining(uint32_t cp)
{
    return (cp >= 0x0300 && cp <= 0x036F) || (cp >= 0x1AB0 && cp <= 0x1AFF) ||
           (cp >= 0x1DC0 && cp <= 0x1DFF) || (cp >= 0x20D0 && cp <= 0x20FF) ||
           (cp >= 0xFE20 && cp <= 0xFE2F);
}

bool mod_is_word_cp(unsigned cp)
{
    if (cp < 0x80)
        return (cp >= 'a' && cp <= 'z') || (cp >= 'A' && cp <= 'Z') || (cp >= '0' && cp <= '9');
    if (cp <= 0xBF || cp == 0xD7 || cp == 0xF7) return false;
    if ((cp >= 0x2000 && cp <= 0x206F) || (cp >= 0x2E00 && cp <= 0x2E7F) ||
        (cp >= 0x3000 && cp <= 0x303F) || (cp >= 0xFE10 && cp <= 0xFE1F) ||
        (cp >= 0xFE30 && cp <= 0xFE6F) || cp == 0xFFFD)
        return false;
    return true;
}

static uint32_t decode(const unsigned char *p, size_t n)
{
    switch (n) {
    case 1:
        return p[0];
    case 2:
        return ((uint32_t)(p[0] & 0x1F) << 6) | (p[1] & 0x3F);
    case 3:
        return ((uint32_t)(p[0] & 0x0F) << 12) | ((uint32_t)(p[1] & 0x3F) << 6) | (p[2] & 0x3F);
    default:
        return ((uint32_t)(p[0] & 0x07) << 18) | ((uint32_t)(p[1] & 0x3F) << 12) |
               ((uint32_t)(p[2] & 0x3F) << 6) | (p[3] & 0x3F);
    }
}

static size_t encode(uint32_t cp, char *out)
{
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (char)(0xC0 | (cp >> 6));
        out[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (char)(0xE0 | (cp >> 12));
        out[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        out[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    out[0] = (char)(0xF0 | (cp >> 18));
    out[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    out[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    out[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

static const char *run_of(uint32_t cp)
{
    size_t lo = 0, hi = sizeof k_runs / sizeof k_runs[0];
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (cp < k_runs[mid].first)
            hi = mid;
        else if (cp > k_runs[mid].last)
            lo = mid + 1;
        else
            return k_runs[mid].to;
    }
    return NULL;
}

/* Compatibility forms with a regular layout: one ASCII letter or digit, or 0. */
static char compat_ascii(uint32_t cp)
{
    if (cp >= 0xFF01 && cp <= 0xFF5E) { /* full-width ASCII */
        char c = (char)(cp - 0xFEE0);
        return (c >= 'A' && c <= 'Z') ? (char)(c + 32) : c;
    }
    if (cp >= 0x1D400 && cp <= 0x1D6A3) /* mathematical letters: 13 styles of A-Z a-z */
        return (char)('a' + (cp - 0x1D400) % 52 % 26);
    if (cp >= 0x1D7CE && cp <= 0x1D7FF) return (char)('0' + (cp - 0x1D7CE) % 10);
    if (cp >= 0x249C && cp <= 0x24B5) return (char)('a' + (cp - 0x249C)); /* (a) */
    if (cp >= 0x24B6 && cp <= 0x24CF) return (char)('a' + (cp - 0x24B6)); /* circled A */
    if (cp >= 0x24D0 && cp <= 0x24E9) return (char)('a' + (cp - 0x24D0)); /* circled a */
    if (cp >= 0x1F130 && cp <= 0x1F149) return (char)('a' + (cp - 0x1F130));
    if (cp >= 0x1F150 && cp <= 0x1F169) return (char)('a' + (cp - 0x1F150));
    if (cp >= 0x1F170 && cp <= 0x1F189) return (char)('a' + (cp - 0x1F170));
    if (cp >= 0x1F1E6 && cp <= 0x1F1FF) return (char)('a' + (cp - 0x1F1E6)); /* regional */
    return 0;
}

/* Small letter of a capital in the scripts the filter folds. */
static uint32_t lower(uint32_t cp)
{
    if (cp >= 'A' && cp <= 'Z') return cp + 32;
    if (cp >= 0x0391 && cp <= 0x03A9 && cp != 0x03A2) return cp + 32; /* Greek */
    if (cp >= 0x0386 && cp <= 0x038F) {                               /* Greek with tonos */
        static const uint32_t m[10] = {0x03AC, 0x0387, 0x03AD, 0x03AE, 0x03AF,
                                       0x038B, 0x03CC, 0x038D, 0x03CD, 0x03CE};
        return m[cp - 0x0386];
    }
    if (cp >= 0x0410 && cp <= 0x042F) return cp + 32; /* Cyrillic */
    if (cp >= 0x0400 && cp <= 0x040F) return cp + 80;
    return cp;
}

char *mod_fold(const char *s, size_t len)
{
    char *out = malloc(3 * len + 1);
    if (!out) abort();
    size_t o = 0, i = 0;
    const unsigned char *p = (const unsigned char *)s;
    while (i < len) {
        size_t n = util_utf8_seq(s + i, len - i);
        if (n == 0) {
            out[o++] = ' ';
            i++;
            continue;
        }
        uint32_t cp = decode(p + i, n);
        i += n;
        if (cp == 0) {
            out[o++] = ' ';
            continue;
        }
        if (invisible(cp) || combining(cp)) continue;
        char c = compat_ascii(cp);
        if (c) {
            out[o++] = c;
            continue;
        }
        cp = lower(cp);
        const char *to = run_of(cp);
        if (to) {
            size_t k = strlen(to);
            memcpy(out + o, to, k);
            o += k;
            continue;
        }
        o += encode(cp, out + o);
    }
    out[o] = '\0';
    return out;
}

void mod_words_split(const char *folded, size_t max, mod_words *out)
{
    memset(out, 0, sizeof *out);
    size_t cap = 0, len = strlen(folded), i = 0;
    const char *word = NULL;
    while (i <= len) {
        size_t n = i < len ? util_utf8_seq(folded + i, len - i) : 1;
        if (n == 0) n = 1;
        bool is_word =
            i < len && n > 0 && mod_is_word_cp(decode((const unsigned char *)folded + i, n));
        if (is_word && !word) word = folded + i;
        if (!is_word && word) {
            if (out->count == max) return;
            if (out->count == cap) {
                cap = cap ? cap * 2 : 16;
                out->start = realloc(out->start, cap * sizeof *out->start);
                out->len = realloc(out->len, cap * sizeof *out->len);
                if (!out->start || !out->len) abort();
            }
            out->start[out->count] = word;
            out->len[out->count] = (size_t)(folded + i - word);
            out->count++;
            word = NULL;
        }
        i += n;
    }
}

void mod_words_free(mod_words *w)
{
    free(w->start);
    free(w->len);
    memset(w, 0, sizeof *w);
}
