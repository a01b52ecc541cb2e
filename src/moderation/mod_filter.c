/* Content filter rules and prompt checks (see mod_filter.h). */
#define PCRE2_CODE_UNIT_WIDTH 8
#include "moderation/mod_filter.h"

#include <pcre2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "moderation/mod_fold.h"
#include "util/util_str.h"
#include "util/util_utf8.h"

const char *mod_kind_id(mod_kind k)
{
    switch (k) {
    case MOD_KIND_WORD:
        return "word";
    case MOD_KIND_REGEX:
        return "regex";
    case MOD_KIND_CONTEXT:
        return "context";
    default:
        return "none";
    }
}

const char *mod_kind_label(mod_kind k)
{
    switch (k) {
    case MOD_KIND_WORD:
        return "a banned word";
    case MOD_KIND_REGEX:
        return "a blocked pattern";
    case MOD_KIND_CONTEXT:
        return "a context rule";
    default:
        return "a rule";
    }
}

const char *mod_severity_canon(const char *s)
{
    if (!s || !*s) return "medium";
    static const char *const k[] = {"low", "medium", "high"};
    for (size_t i = 0; i < 3; i++)
        if (strcasecmp(s, k[i]) == 0) return k[i];
    return NULL;
}

static char *dup(const char *s)
{
    return util_strdup(s ? s : "");
}

/* ---- lifetime ------------------------------------------------------------------------------ */

mod_rules *mod_rules_new(void)
{
    mod_rules *r = calloc(1, sizeof *r);
    if (!r) abort();
    pcre2_match_context *mc = pcre2_match_context_create(NULL);
    if (!mc) abort();
    pcre2_set_match_limit(mc, MOD_MATCH_LIMIT);
    pcre2_set_depth_limit(mc, MOD_DEPTH_LIMIT);
    pcre2_set_heap_limit(mc, MOD_HEAP_LIMIT_KIB);
    r->mctx = mc;
    return r;
}

static void free_context(mod_context *c)
{
    free(c->trigger);
    for (unsigned i = 0; i < c->nallowed; i++)
        free(c->allowed[i]);
    for (unsigned i = 0; i < c->ndisallowed; i++)
        free(c->disallowed[i]);
    free(c->allowed);
    free(c->disallowed);
    free(c->description);
}

void mod_rules_free(mod_rules *r)
{
    if (!r) return;
    for (unsigned i = 0; i < r->nwords; i++) {
        free(r->words[i].text);
        free(r->words[i].folded);
    }
    for (unsigned i = 0; i < r->nregexes; i++) {
        mod_regex *x = &r->regexes[i];
        free(x->name);
        free(x->pattern);
        free(x->description);
        free(x->severity);
        pcre2_code_free(x->code);
    }
    for (unsigned i = 0; i < r->ncontexts; i++)
        free_context(&r->contexts[i]);
    free(r->words);
    free(r->regexes);
    free(r->contexts);
    pcre2_match_context_free(r->mctx);
    free(r);
}

static char **copy_list(char *const *l, unsigned n)
{
    if (!n) return NULL;
    char **out = calloc(n, sizeof *out);
    if (!out) abort();
    for (unsigned i = 0; i < n; i++)
        out[i] = dup(l[i]);
    return out;
}

static void *grow(void *p, unsigned count, size_t size)
{
    /* Arrays grow one element at a time: rules change rarely, by an administrator. */
    void *q = realloc(p, (count + 1) * size);
    if (!q) abort();
    return q;
}

mod_rules *mod_rules_copy(const mod_rules *r)
{
    mod_rules *c = mod_rules_new();
    for (unsigned i = 0; i < r->nwords; i++) {
        c->words = grow(c->words, c->nwords, sizeof *c->words);
        c->words[c->nwords++] =
            (mod_word){.text = dup(r->words[i].text), .folded = dup(r->words[i].folded)};
    }
    for (unsigned i = 0; i < r->nregexes; i++) {
        const mod_regex *x = &r->regexes[i];
        c->regexes = grow(c->regexes, c->nregexes, sizeof *c->regexes);
        pcre2_code *code = pcre2_code_copy(x->code);
        if (!code) abort();
        c->regexes[c->nregexes++] = (mod_regex){.name = dup(x->name),
                                                .pattern = dup(x->pattern),
                                                .description = dup(x->description),
                                                .severity = dup(x->severity),
                                                .code = code};
    }
    for (unsigned i = 0; i < r->ncontexts; i++) {
        const mod_context *x = &r->contexts[i];
        c->contexts = grow(c->contexts, c->ncontexts, sizeof *c->contexts);
        c->contexts[c->ncontexts++] =
            (mod_context){.trigger = dup(x->trigger),
                          .allowed = copy_list(x->allowed, x->nallowed),
                          .nallowed = x->nallowed,
                          .disallowed = copy_list(x->disallowed, x->ndisallowed),
                          .ndisallowed = x->ndisallowed,
                          .description = dup(x->description)};
    }
    return c;
}

/* ---- input checks -------------------------------------------------------------------------- */

static int text_ok(const char *s, size_t max_chars, const char *what, bool required, char *err,
                   size_t errlen)
{
    size_t chars = 0;
    if (!s) s = "";
    if (!util_utf8_valid(s, strlen(s), &chars)) {
        snprintf(err, errlen, "The %s is not valid text.", what);
        return -1;
    }
    if (required && chars == 0) {
        snprintf(err, errlen, "The %s is empty.", what);
        return -1;
    }
    if (chars > max_chars) {
        snprintf(err, errlen, "The %s is too long (%zu characters, at most %zu).", what, chars,
                 max_chars);
        return -1;
    }
    return 0;
}

/* The folded words of s joined by single spaces (malloc'd), or NULL when s has no word. */
static char *fold_words(const char *s, size_t max_words, size_t *nwords)
{
    char *f = mod_fold(s, strlen(s));
    mod_words w;
    mod_words_split(f, max_words + 1, &w);
    *nwords = w.count;
    char *out = NULL;
    if (w.count) {
        size_t total = 0;
        for (size_t i = 0; i < w.count; i++)
            total += w.len[i] + 1;
        out = malloc(total);
        if (!out) abort();
        size_t o = 0;
        for (size_t i = 0; i < w.count; i++) {
            if (i) out[o++] = ' ';
            memcpy(out + o, w.start[i], w.len[i]);
            o += w.len[i];
        }
        out[o] = '\0';
    }
    mod_words_free(&w);
    free(f);
    return out;
}

/* ---- words --------------------------------------------------------------------------------- */

int mod_rules_add_word(mod_rules *r, const char *word, char *err, size_t errlen)
{
    if (text_ok(word, MOD_WORD_CHARS_MAX, "word", true, err, errlen)) return -1;
    size_t n;
    char *folded = fold_words(word, 16, &n);
    if (!folded || n > 16) {
        free(folded);
        snprintf(err, errlen,
                 "A banned word needs letters or digits (a phrase: at most 16 "
                 "words).");
        return -1;
    }
    for (unsigned i = 0; i < r->nwords; i++)
        if (strcmp(r->words[i].folded, folded) == 0) {
            snprintf(err, errlen, "\"%s\" is already banned (as \"%s\").", word, r->words[i].text);
            free(folded);
            return -1;
        }
    if (r->nwords >= MOD_WORDS_MAX) {
        snprintf(err, errlen, "The list already holds %d banned words.", MOD_WORDS_MAX);
        free(folded);
        return -1;
    }
    r->words = grow(r->words, r->nwords, sizeof *r->words);
    r->words[r->nwords++] = (mod_word){.text = dup(word), .folded = folded};
    return 0;
}

int mod_rules_remove_word(mod_rules *r, const char *word)
{
    size_t n;
    char *folded = fold_words(word ? word : "", 17, &n);
    int rc = -1;
    for (unsigned i = 0; folded && i < r->nwords; i++)
        if (strcmp(r->words[i].folded, folded) == 0) {
            free(r->words[i].text);
            free(r->words[i].folded);
            memmove(&r->words[i], &r->words[i + 1], (r->nwords - i - 1) * sizeof *r->words);
            r->nwords--;
            rc = 0;
            break;
        }
    free(folded);
    return rc;
}

/* ---- regular expressions ------------------------------------------------------------------- */

/* Runs code over text under the limits: 1 match, 0 none, -1 a limit was hit. */
static int run(const pcre2_code *code, pcre2_match_context *mc, const char *text, size_t len)
{
    pcre2_match_data *md = pcre2_match_data_create(1, NULL);
    if (!md) abort();
    int rc = pcre2_match(code, (PCRE2_SPTR)text, len, 0, 0, md, mc);
    pcre2_match_data_free(md);
    if (rc >= 0) return 1;
    if (rc == PCRE2_ERROR_NOMATCH) return 0;
    return -1; /* match, depth or heap limit; anything else is treated the same */
}

/* Inputs that make backtracking patterns explode: a pattern that runs out of its limits on
 * one of them would do it on a user's prompt too. */
static bool too_expensive(const pcre2_code *code, pcre2_match_context *mc)
{
    static const char *const seeds[] = {"a", "ab", "a ", "0", "x1"};
    char probe[512];
    for (size_t s = 0; s < sizeof seeds / sizeof seeds[0]; s++) {
        size_t k = strlen(seeds[s]), o = 0;
        while (o + k < 200) {
            memcpy(probe + o, seeds[s], k);
            o += k;
        }
        probe[o++] = '!';
        probe[o] = '\0';
        if (run(code, mc, probe, o) < 0) return true;
    }
    return false;
}

int mod_rules_add_regex(mod_rules *r, const char *name, const char *pattern,
                        const char *description, const char *severity, char *err, size_t errlen)
{
    if (text_ok(name, MOD_WORD_CHARS_MAX, "name", true, err, errlen) ||
        text_ok(pattern, MOD_PATTERN_CHARS_MAX, "pattern", true, err, errlen) ||
        text_ok(description, MOD_DESC_CHARS_MAX, "description", false, err, errlen))
        return -1;
    const char *sev = mod_severity_canon(severity);
    if (!sev) {
        snprintf(err, errlen, "The severity must be low, medium or high.");
        return -1;
    }
    for (unsigned i = 0; i < r->nregexes; i++)
        if (strcasecmp(r->regexes[i].name, name) == 0) {
            snprintf(err, errlen, "A pattern named \"%s\" exists already.", r->regexes[i].name);
            return -1;
        }
    if (r->nregexes >= MOD_REGEX_MAX) {
        snprintf(err, errlen, "The list already holds %d patterns.", MOD_REGEX_MAX);
        return -1;
    }
    pcre2_compile_context *cc = pcre2_compile_context_create(NULL);
    if (!cc) abort();
    pcre2_set_parens_nest_limit(cc, 32);
    int ec;
    PCRE2_SIZE off;
    pcre2_code *code = pcre2_compile(
        (PCRE2_SPTR)pattern, strlen(pattern),
        PCRE2_UTF | PCRE2_UCP | PCRE2_CASELESS | PCRE2_NEVER_BACKSLASH_C, &ec, &off, cc);
    pcre2_compile_context_free(cc);
    if (!code) {
        PCRE2_UCHAR msg[160];
        pcre2_get_error_message(ec, msg, sizeof msg);
        snprintf(err, errlen, "The pattern does not compile: %s (at character %zu).",
                 (const char *)msg, (size_t)off + 1);
        return -1;
    }
    if (too_expensive(code, r->mctx)) {
        pcre2_code_free(code);
        snprintf(err, errlen,
                 "The pattern backtracks too much (nested repeats such as (a+)+); rewrite it "
                 "without nested quantifiers.");
        return -1;
    }
    r->regexes = grow(r->regexes, r->nregexes, sizeof *r->regexes);
    r->regexes[r->nregexes++] = (mod_regex){.name = dup(name),
                                            .pattern = dup(pattern),
                                            .description = dup(description),
                                            .severity = dup(sev),
                                            .code = code};
    return 0;
}

int mod_rules_remove_regex(mod_rules *r, const char *name)
{
    for (unsigned i = 0; name && i < r->nregexes; i++) {
        mod_regex *x = &r->regexes[i];
        if (strcasecmp(x->name, name) != 0) continue;
        free(x->name);
        free(x->pattern);
        free(x->description);
        free(x->severity);
        pcre2_code_free(x->code);
        memmove(x, x + 1, (r->nregexes - i - 1) * sizeof *x);
        r->nregexes--;
        return 0;
    }
    return -1;
}

/* ---- context rules ------------------------------------------------------------------------- */

/* Splits a comma-separated list of single words into folded words. -1 with err when an entry
 * is not exactly one word or there are too many. */
static int word_list(const char *csv, char ***out, unsigned *n, const char *what, char *err,
                     size_t errlen)
{
    *out = NULL;
    *n = 0;
    if (!csv || !*csv) return 0;
    if (text_ok(csv, MOD_WORD_CHARS_MAX * 4, what, false, err, errlen)) return -1;
    char *copy = util_strdup(csv);
    int rc = 0;
    for (char *save = NULL, *tok = strtok_r(copy, ",", &save); tok;
         tok = strtok_r(NULL, ",", &save)) {
        size_t words;
        char *f = fold_words(tok, 1, &words);
        if (!f) continue; /* an empty entry ("a,,b") */
        if (words != 1) {
            snprintf(err, errlen, "Each %s entry must be one word (\"%.60s\" is not).", what, tok);
            free(f);
            rc = -1;
            break;
        }
        if (*n >= MOD_CONTEXT_WORDS_MAX) {
            snprintf(err, errlen, "At most %d %s words.", MOD_CONTEXT_WORDS_MAX, what);
            free(f);
            rc = -1;
            break;
        }
        *out = grow(*out, *n, sizeof **out);
        (*out)[(*n)++] = f;
    }
    free(copy);
    if (rc) {
        for (unsigned i = 0; i < *n; i++)
            free((*out)[i]);
        free(*out);
        *out = NULL;
        *n = 0;
    }
    return rc;
}

int mod_rules_add_context(mod_rules *r, const char *trigger, const char *allowed,
                          const char *disallowed, const char *description, char *err, size_t errlen)
{
    if (text_ok(trigger, MOD_WORD_CHARS_MAX, "trigger word", true, err, errlen) ||
        text_ok(description, MOD_DESC_CHARS_MAX, "description", false, err, errlen))
        return -1;
    size_t nw;
    char *t = fold_words(trigger, 1, &nw);
    if (!t || nw != 1) {
        free(t);
        snprintf(err, errlen, "The trigger must be exactly one word.");
        return -1;
    }
    for (unsigned i = 0; i < r->ncontexts; i++)
        if (strcmp(r->contexts[i].trigger, t) == 0) {
            snprintf(err, errlen, "A context rule for \"%s\" exists already; remove it first.", t);
            free(t);
            return -1;
        }
    if (r->ncontexts >= MOD_CONTEXT_MAX) {
        snprintf(err, errlen, "The list already holds %d context rules.", MOD_CONTEXT_MAX);
        free(t);
        return -1;
    }
    mod_context c = {.trigger = t, .description = dup(description)};
    if (word_list(allowed, &c.allowed, &c.nallowed, "allowed", err, errlen) ||
        word_list(disallowed, &c.disallowed, &c.ndisallowed, "disallowed", err, errlen)) {
        free_context(&c);
        return -1;
    }
    if (!c.nallowed && !c.ndisallowed) {
        snprintf(err, errlen, "Give allowed words, disallowed words, or both.");
        free_context(&c);
        return -1;
    }
    r->contexts = grow(r->contexts, r->ncontexts, sizeof *r->contexts);
    r->contexts[r->ncontexts++] = c;
    return 0;
}

int mod_rules_remove_context(mod_rules *r, const char *trigger)
{
    size_t nw;
    char *t = fold_words(trigger ? trigger : "", 1, &nw);
    int rc = -1;
    for (unsigned i = 0; t && i < r->ncontexts; i++)
        if (strcmp(r->contexts[i].trigger, t) == 0) {
            free_context(&r->contexts[i]);
            memmove(&r->contexts[i], &r->contexts[i + 1],
                    (r->ncontexts - i - 1) * sizeof *r->contexts);
            r->ncontexts--;
            rc = 0;
            break;
        }
    free(t);
    return rc;
}

/* ---- the check ----------------------------------------------------------------------------- */

static bool word_eq(const mod_words *w, size_t i, const char *s, size_t n)
{
    return w->len[i] == n && memcmp(w->start[i], s, n) == 0;
}

/* Does the phrase (folded words joined by ' ') occur at word i? */
static bool phrase_at(const mod_words *w, size_t i, const char *phrase)
{
    const char *p = phrase;
    for (;;) {
        const char *sp = strchr(p, ' ');
        size_t n = sp ? (size_t)(sp - p) : strlen(p);
        if (i >= w->count || !word_eq(w, i, p, n)) return false;
        if (!sp) return true;
        p = sp + 1;
        i++;
    }
}

static bool in_window(const mod_words *w, size_t at, char *const *list, unsigned n)
{
    size_t lo = at > MOD_CONTEXT_WINDOW ? at - MOD_CONTEXT_WINDOW : 0;
    size_t hi = at + MOD_CONTEXT_WINDOW < w->count ? at + MOD_CONTEXT_WINDOW : w->count - 1;
    for (size_t j = lo; j <= hi; j++) {
        if (j == at) continue;
        for (unsigned k = 0; k < n; k++)
            if (word_eq(w, j, list[k], strlen(list[k]))) return true;
    }
    return false;
}

static void set_hit(mod_hit *hit, mod_kind k, const char *name, const char *severity)
{
    hit->kind = k;
    snprintf(hit->name, sizeof hit->name, "%s", name);
    snprintf(hit->severity, sizeof hit->severity, "%s", severity ? severity : "");
}

mod_check_result mod_rules_check(const mod_rules *r, const char *text, size_t len, mod_hit *hit)
{
    memset(hit, 0, sizeof *hit);
    if (!r || (!r->nwords && !r->nregexes && !r->ncontexts)) return MOD_CHECK_OK;
    char *f = mod_fold(text ? text : "", text ? len : 0);
    mod_words w;
    mod_words_split(f, MOD_CHECK_WORDS_MAX, &w);
    mod_check_result res = MOD_CHECK_OK;
    for (unsigned k = 0; k < r->nwords && res == MOD_CHECK_OK; k++)
        for (size_t i = 0; i < w.count; i++)
            if (phrase_at(&w, i, r->words[k].folded)) {
                set_hit(hit, MOD_KIND_WORD, r->words[k].text, NULL);
                res = MOD_CHECK_HIT;
                break;
            }
    for (unsigned k = 0; k < r->ncontexts && res == MOD_CHECK_OK; k++) {
        const mod_context *c = &r->contexts[k];
        size_t tn = strlen(c->trigger);
        for (size_t i = 0; i < w.count; i++) {
            if (!word_eq(&w, i, c->trigger, tn)) continue;
            bool bad = (c->ndisallowed && in_window(&w, i, c->disallowed, c->ndisallowed)) ||
                       (c->nallowed && !in_window(&w, i, c->allowed, c->nallowed));
            if (bad) {
                set_hit(hit, MOD_KIND_CONTEXT, c->trigger, NULL);
                res = MOD_CHECK_HIT;
                break;
            }
        }
    }
    for (unsigned k = 0; k < r->nregexes && res == MOD_CHECK_OK; k++) {
        int m = run(r->regexes[k].code, r->mctx, f, strlen(f));
        if (m != 0) {
            set_hit(hit, MOD_KIND_REGEX, r->regexes[k].name, r->regexes[k].severity);
            res = m > 0 ? MOD_CHECK_HIT : MOD_CHECK_LIMIT;
        }
    }
    mod_words_free(&w);
    free(f);
    return res;
}
