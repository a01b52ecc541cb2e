/*
 * fuzz_catalog: the operator's catalogue files — config/ratios.json (ratios_parse) and
 * config/loras.json (loras_parse), the original bot's formats — and the lookups users drive
 * with what they type: ratios_find, loras_find and the LoRA autocomplete (loras_match).
 *
 * Input: a mode byte, the file text, then the typed text (FZ_SEP-separated). Seeds are the
 * shipped files.
 *
 * Invariants asserted, beyond "no crash, no sanitizer report":
 *  - a refused file has a message; a loaded one respects its documented bounds (1..25 ratios
 *    with unique labels of 1..100 bytes and sides in 64..8192; LoRA names 1..100 bytes, unique,
 *    weights in -10..10);
 *  - every entry is found again by its own label or name;
 *  - autocomplete returns at most the asked number of entries, each one of the set.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "comfy/loras.h"
#include "comfy/ratios.h"
#include "fuzz_support.h"

static void ratios_case(const char *text, const char *typed)
{
    static ratios_set set;
    char err[512] = "";
    if (ratios_parse(&set, text, "ratios.json", err, sizeof err) != 0) {
        FZ_ASSERT(err[0] != '\0', "ratios refused without a message", NULL);
        return;
    }
    FZ_ASSERT(set.count >= 1 && set.count <= RATIOS_MAX, "ratio count out of bounds", NULL);
    for (unsigned i = 0; i < set.count; i++) {
        const ratios_entry *e = &set.items[i];
        size_t n = strnlen(e->label, sizeof e->label);
        FZ_ASSERT(n >= 1 && n <= RATIOS_LABEL_MAX, "ratio label length out of bounds", NULL);
        FZ_ASSERT(e->width >= 64 && e->width <= 8192 && e->height >= 64 && e->height <= 8192,
                  "ratio side out of bounds", e->label);
        FZ_ASSERT(ratios_find(&set, e->label) == e, "a ratio is not found by its label", e->label);
    }
    FZ_ASSERT(ratios_default(&set) != NULL, "no default ratio", NULL);
    const ratios_entry *f = ratios_find(&set, typed);
    FZ_ASSERT(!f || (f >= set.items && f < set.items + set.count), "found outside the set", NULL);
}

static void loras_case(const char *text, const char *typed, unsigned max)
{
    loras_set set = {0};
    char err[512] = "";
    if (loras_parse(&set, text, "loras.json", err, sizeof err) != 0) {
        FZ_ASSERT(err[0] != '\0', "loras refused without a message", NULL);
        loras_free(&set);
        return;
    }
    FZ_ASSERT(set.count <= LORAS_MAX, "lora count out of bounds", NULL);
    for (unsigned i = 0; i < set.count; i++) {
        const loras_entry *e = &set.items[i];
        size_t n = strnlen(e->name, sizeof e->name);
        FZ_ASSERT(n >= 1 && n <= LORAS_NAME_MAX, "lora name length out of bounds", NULL);
        FZ_ASSERT(e->weight >= -10 && e->weight <= 10, "lora weight out of bounds", e->name);
        FZ_ASSERT(loras_find(&set, e->name) != NULL, "a lora is not found by its name", e->name);
        double s = loras_strength(e, 1 + i % 3);
        FZ_ASSERT(s == s, "lora strength is NaN", e->name);
    }
    const loras_entry *out[LORAS_CHOICES_MAX];
    unsigned n = loras_match(&set, typed, out, max);
    FZ_ASSERT(n <= max && n <= set.count, "autocomplete returned too many", NULL);
    for (unsigned i = 0; i < n; i++)
        FZ_ASSERT(out[i] >= set.items && out[i] < set.items + set.count,
                  "autocomplete entry outside the set", NULL);
    (void)loras_find(&set, typed);
    loras_free(&set);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 1u << 18 || size == 0) return 0;
    fz_in in = {data + 1, size - 1};
    char *text = fz_text(&in, 1u << 18, NULL);
    char *typed = fz_text(&in, 400, NULL);
    if (data[0] & 1)
        loras_case(text, typed, (data[0] >> 1) % (LORAS_CHOICES_MAX + 1));
    else
        ratios_case(text, typed);
    free(text);
    free(typed);
    return 0;
}
