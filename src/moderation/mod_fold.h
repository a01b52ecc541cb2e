/*
 * mod_fold: the one text normalisation the content filter compares with. Owns the folding table
 * (below, in mod_fold.c) and the definition of a "word". Pure; any thread.
 *
 * Folding maps each code point of (untrusted) UTF-8 text to a canonical form so that look-alikes
 * of a banned word match it:
 *  - case: ASCII, Latin-1, Latin Extended-A, Greek and Cyrillic capitals become small letters;
 *  - compatibility forms (an NFKC-like subset): full-width ASCII (U+FF01..U+FF5E), mathematical
 *    alphanumerics (U+1D400..U+1D7FF, bold/italic/script/... letters and digits), circled
 *    letters (U+24B6..U+24E9) and the ligatures ﬀ ﬁ ﬂ ﬃ ﬄ ﬅ ﬆ become their ASCII letters;
 *  - diacritics: precomposed Latin letters with accents become the base letter (é → e,
 *    Å → a, ł → l), ß → ss, æ → ae, œ → oe, þ → th; combining marks (U+0300..U+036F,
 *    U+1AB0..U+1AFF, U+1DC0..U+1DFF, U+20D0..U+20FF, U+FE20..U+FE2F) are dropped;
 *  - Latin look-alikes from Cyrillic and Greek (а е о р с х у і ј ѕ, ο ν α ...) become the
 *    Latin letter they imitate;
 *  - invisible characters (zero-width space/joiners, word joiner, soft hyphen, BOM, variation
 *    selectors) are dropped, so "b\u200Bad" is "bad";
 *  - an invalid byte becomes a space (it separates words; it never joins two).
 * The table is deliberately small and bounded (about 300 code points plus a few ranges); what it
 * does not know stays as it is, which is never less strict than no folding.
 *
 * A word is a maximal run of word characters: ASCII letters and digits, and every code point
 * >= U+0080 that is not in a punctuation or space block (U+0080..U+00BF, U+2000..U+206F,
 * U+2E00..U+2E7F, U+3000..U+303F, U+FE10..U+FE1F, U+FE30..U+FE6F). Everything else separates.
 */
#ifndef FLUXBOT_MOD_FOLD_H
#define FLUXBOT_MOD_FOLD_H

#include <stdbool.h>
#include <stddef.h>

/* Folds len bytes of s into a malloc'd NUL-terminated string (caller frees; aborts on OOM).
 * The result is valid UTF-8 of at most 3 * len + 1 bytes. */
char *mod_fold(const char *s, size_t len);

/* The words of folded text, as views into it. */
typedef struct mod_words {
    const char **start;
    size_t *len;
    size_t count;
} mod_words;

/* Splits folded text into words (at most max; further words are ignored: callers bound the
 * input). Arrays are malloc'd; free with mod_words_free. */
void mod_words_split(const char *folded, size_t max, mod_words *out);
void mod_words_free(mod_words *w);

/* True when code point cp is a word character (see above). */
bool mod_is_word_cp(unsigned cp);

#endif
