/*
 * mod_filter: the content filter's rules and the check of one prompt against them. Pure (no
 * threads, no I/O); a mod_rules value is built by one thread, then published read-only
 * (mod_state.h swaps whole snapshots) and checked by any number of threads at once.
 *
 * Three kinds of rule, all compared with folded text (mod_fold.h), so case, full-width,
 * accented and Cyrillic/Greek look-alike spellings of a word are the same word:
 *  - banned words and phrases: whole words only ("ass" does not match "class"); a phrase
 *    matches its words in a row, whatever separates them;
 *  - regular expressions (PCRE2, UTF + UCP + caseless) with a name, a description and a
 *    severity (low, medium, high). They run on the folded prompt: write them in lowercase
 *    ASCII. Every match runs under a match limit, a depth limit and a heap limit (below), so a
 *    hostile pattern or prompt costs at most a few milliseconds; a pattern that blows the limits
 *    on a few adversarial probes is refused when it is added;
 *  - context rules: a trigger word is refused when one of its `disallowed` words stands within
 *    MOD_CONTEXT_WINDOW words of it, or, when `allowed` words are listed, when none of them does.
 *
 * A check that hits a match limit fails closed (MOD_CHECK_LIMIT: the prompt is refused without
 * a warning), because a prompt crafted to exhaust a pattern is exactly what must not slip by.
 */
#ifndef FLUXBOT_MOD_FILTER_H
#define FLUXBOT_MOD_FILTER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define MOD_WORDS_MAX 1000
#define MOD_REGEX_MAX 100
#define MOD_CONTEXT_MAX 100
#define MOD_WORD_CHARS_MAX 100    /* a banned word or phrase, a trigger, a rule name */
#define MOD_PATTERN_CHARS_MAX 500 /* a regular expression */
#define MOD_DESC_CHARS_MAX 200    /* a description */
#define MOD_CONTEXT_WORDS_MAX 20  /* allowed or disallowed words of one rule */
#define MOD_CONTEXT_WINDOW 3      /* "next to" = within this many words */
#define MOD_CHECK_WORDS_MAX 2000  /* words of a prompt examined (prompts are <= 6000 chars) */
#define MOD_MATCH_LIMIT 100000    /* pcre2_set_match_limit */
#define MOD_DEPTH_LIMIT 1000      /* pcre2_set_depth_limit */
#define MOD_HEAP_LIMIT_KIB 1024   /* pcre2_set_heap_limit */

typedef enum mod_kind {
    MOD_KIND_NONE = 0,
    MOD_KIND_WORD,
    MOD_KIND_REGEX,
    MOD_KIND_CONTEXT,
} mod_kind;

/* "word", "regex", "context" (as stored and as in user_activity details). */
const char *mod_kind_id(mod_kind k);
/* What a user is told matched: "a banned word", "a blocked pattern", "a context rule". */
const char *mod_kind_label(mod_kind k);

typedef struct mod_word {
    char *text;   /* as the administrator typed it */
    char *folded; /* its words, folded, joined by single spaces */
} mod_word;

typedef struct mod_regex {
    char *name, *pattern, *description, *severity;
    void *code; /* pcre2_code_8 */
} mod_regex;

typedef struct mod_context {
    char *trigger;                /* one word, folded */
    char **allowed, **disallowed; /* folded words */
    unsigned nallowed, ndisallowed;
    char *description;
} mod_context;

typedef struct mod_rules {
    mod_word *words;
    unsigned nwords;
    mod_regex *regexes;
    unsigned nregexes;
    mod_context *contexts;
    unsigned ncontexts;
    void *mctx; /* pcre2_match_context_8 with the limits, shared read-only by checks */
} mod_rules;

mod_rules *mod_rules_new(void);
/* A deep copy (patterns compiled again), for copy-on-write changes. Aborts on OOM. */
mod_rules *mod_rules_copy(const mod_rules *r);
void mod_rules_free(mod_rules *r);

/* Changes. 0, or -1 with a message for the administrator in err (bad length, not a word,
 * duplicate, full, the PCRE2 compile error and its offset, a pattern too expensive). Removals
 * return -1 when nothing had that name. `words` lists are comma-separated. */
int mod_rules_add_word(mod_rules *r, const char *word, char *err, size_t errlen);
int mod_rules_remove_word(mod_rules *r, const char *word);
int mod_rules_add_regex(mod_rules *r, const char *name, const char *pattern,
                        const char *description, const char *severity, char *err, size_t errlen);
int mod_rules_remove_regex(mod_rules *r, const char *name);
int mod_rules_add_context(mod_rules *r, const char *trigger, const char *allowed,
                          const char *disallowed, const char *description, char *err,
                          size_t errlen);
int mod_rules_remove_context(mod_rules *r, const char *trigger);

/* "low", "medium", "high" (case-insensitive) → canonical; NULL when none of them. "" or NULL
 * gives "medium". */
const char *mod_severity_canon(const char *s);

typedef enum mod_check_result {
    MOD_CHECK_OK = 0,
    MOD_CHECK_HIT,   /* a rule matched: hit says which */
    MOD_CHECK_LIMIT, /* a pattern hit its match limits: refused, not a violation */
} mod_check_result;

typedef struct mod_hit {
    mod_kind kind;
    char name[MOD_WORD_CHARS_MAX * 4 + 1]; /* the word, the regex's name, the trigger */
    char severity[8];                      /* regexes; "" otherwise */
} mod_hit;

/* Checks len bytes of untrusted text. Words first, then context rules, then patterns. */
mod_check_result mod_rules_check(const mod_rules *r, const char *text, size_t len, mod_hit *hit);

#endif
