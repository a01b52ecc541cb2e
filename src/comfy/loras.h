/*
 * The LoRA catalogue: config/loras.json — file, display name, weight, trigger words.
 *
 * Format:
 *   {"loras": [{"file": "x.safetensors", "name": "Display name", "weight": 0.8,
 *               "trigger_words": "word one, word two", "description": "...",
 *               "url": "https://..."}]}
 * The original bot's lora.json ({"available_loras": [{file, name, weight: "0.8", add_prompt,
 * is_active}]}) is accepted as well, so an operator can bring theirs; inactive entries are skipped.
 *
 * Validation at load: up to LORAS_MAX entries; names 1..100 bytes (a Discord choice), unique
 * ignoring ASCII case; files 1..255 bytes ending in .safetensors/.ckpt/.pt/.bin, without ".."
 * or a leading '/'; weight in -10..10; description up to 300 bytes; url an http(s) link of at most
 * 400 bytes without blanks or control characters (shown to users by /lorainfo). A loaded set is
 * immutable (lock-free reads).
 */
#ifndef FLUXBOT_COMFY_LORAS_H
#define FLUXBOT_COMFY_LORAS_H

#include <stddef.h>

#define LORAS_MAX 4096
#define LORAS_NAME_MAX 100
#define LORAS_FILE_MAX 255
#define LORAS_TRIGGER_MAX 512
#define LORAS_CHOICES_MAX 25
#define LORAS_DESC_MAX 300
#define LORAS_URL_MAX 400

typedef struct loras_entry {
    char name[LORAS_NAME_MAX + 1];
    char file[LORAS_FILE_MAX + 1];
    char trigger_words[LORAS_TRIGGER_MAX + 1];
    char description[LORAS_DESC_MAX + 1]; /* shown by /lorainfo; may be empty */
    char url[LORAS_URL_MAX + 1];          /* the operator's link, http(s); may be empty */
    double weight;
} loras_entry;

typedef struct loras_set {
    unsigned count;
    loras_entry *items; /* owned; free with loras_free */
} loras_set;

int loras_parse(loras_set *out, const char *json, const char *source, char *err, size_t errlen);
int loras_load_file(loras_set *out, const char *path, char *err, size_t errlen);
void loras_free(loras_set *set);

/* By display name (ASCII case-insensitive) or exact file name; NULL if unknown. */
const loras_entry *loras_find(const loras_set *set, const char *name_or_file);

/*
 * Autocomplete: fills out[] with up to max (≤ 25) entries matching what the user typed, best
 * first: name starts with it, then a word of the name starts with it, then the name contains it,
 * then the file or trigger words contain it (ASCII case-insensitive; empty text = the first
 * entries). Returns the count.
 */
unsigned loras_match(const loras_set *set, const char *typed, const loras_entry **out,
                     unsigned max);

/* The strength to use for a LoRA when n LoRAs are stacked: its weight alone, or at most 0.5
 * each when several (stacked full-strength LoRAs overcook Flux images). */
double loras_strength(const loras_entry *e, unsigned n_stacked);

/*
 * Appends the trigger words of the given LoRAs to prompt (", words"), skipping words the prompt
 * already contains. Returns a malloc'd string.
 */
char *loras_apply_triggers(const char *prompt, const loras_entry *const *loras, unsigned n);

#endif
