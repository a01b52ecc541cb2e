/* The Options dialog's payloads and custom_ids (see opts_dialog.h). */
#include "discord/opts_dialog.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "discord/embed.h"
#include "discord/reply.h"
#include "util/util_dec.h"
#include "util/util_utf8.h"

static const char *const verb_names[] = {
    [OPTS_DIALOG_V_NONE] = "none",     [OPTS_DIALOG_V_RESOLUTION] = "res",
    [OPTS_DIALOG_V_LORAS] = "lora",    [OPTS_DIALOG_V_PREV] = "prev",
    [OPTS_DIALOG_V_NEXT] = "next",     [OPTS_DIALOG_V_EDIT] = "edit",
    [OPTS_DIALOG_V_STRENGTHS] = "str", [OPTS_DIALOG_V_GO] = "go",
    [OPTS_DIALOG_V_MODAL] = "modal",   [OPTS_DIALOG_V_SMODAL] = "smodal"};
#define NVERBS (sizeof verb_names / sizeof verb_names[0])

static bool paged(opts_dialog_verb v)
{
    return v == OPTS_DIALOG_V_LORAS || v == OPTS_DIALOG_V_PREV || v == OPTS_DIALOG_V_NEXT;
}

const char *opts_dialog_verb_name(opts_dialog_verb v)
{
    return (unsigned)v < NVERBS ? verb_names[v] : "?";
}

int opts_dialog_custom_id(uint64_t sid, opts_dialog_verb verb, unsigned page, char *out,
                          size_t outlen)
{
    if (verb == OPTS_DIALOG_V_NONE || (unsigned)verb >= NVERBS || page >= OPTS_DIALOG_PAGES_MAX)
        return -1;
    int n = paged(verb) ? snprintf(out, outlen, OPTS_DIALOG_PREFIX "%016" PRIx64 ":%s:%u", sid,
                                   verb_names[verb], page)
                        : snprintf(out, outlen, OPTS_DIALOG_PREFIX "%016" PRIx64 ":%s", sid,
                                   verb_names[verb]);
    return n > 0 && (size_t)n < outlen && n <= 100 ? 0 : -1;
}

bool opts_dialog_owns(const char *custom_id)
{
    return custom_id && strncmp(custom_id, OPTS_DIALOG_PREFIX, strlen(OPTS_DIALOG_PREFIX)) == 0;
}

int opts_dialog_parse_id(const char *s, uint64_t *sid, opts_dialog_verb *verb, unsigned *page)
{
    *sid = 0;
    *verb = OPTS_DIALOG_V_NONE;
    *page = 0;
    if (!opts_dialog_owns(s) || strlen(s) > 100) return -1;
    const char *p = s + strlen(OPTS_DIALOG_PREFIX);
    uint64_t v = 0;
    for (int i = 0; i < 16; i++, p++) {
        char c = *p;
        unsigned d = c >= '0' && c <= '9'   ? (unsigned)(c - '0')
                     : c >= 'a' && c <= 'f' ? (unsigned)(c - 'a' + 10)
                                            : 16u;
        if (d == 16) return -1;
        v = v << 4 | d;
    }
    if (*p++ != ':' || v == 0) return -1;
    const char *colon = strchr(p, ':');
    size_t vl = colon ? (size_t)(colon - p) : strlen(p);
    opts_dialog_verb found = OPTS_DIALOG_V_NONE;
    for (unsigned i = 1; i < NVERBS; i++)
        if (strlen(verb_names[i]) == vl && strncmp(p, verb_names[i], vl) == 0)
            found = (opts_dialog_verb)i;
    if (found == OPTS_DIALOG_V_NONE || paged(found) != (colon != NULL)) return -1;
    if (colon) {
        const char *num = colon + 1;
        size_t n = strlen(num);
        uint64_t pg;
        /* one spelling per page: no sign, no leading zero, nothing after */
        if (n == 0 || n > 3 || strspn(num, "0123456789") != n || (n > 1 && num[0] == '0') ||
            util_dec_u64(num, n, &pg) != UTIL_DEC_OK || pg >= OPTS_DIALOG_PAGES_MAX)
            return -1;
        *page = (unsigned)pg;
    }
    *sid = v;
    *verb = found;
    return 0;
}

unsigned opts_dialog_pages(const loras_set *loras)
{
    unsigned n = loras ? loras->count : 0;
    unsigned pages = (n + OPTS_DIALOG_PAGE_SIZE - 1) / OPTS_DIALOG_PAGE_SIZE;
    if (pages == 0) pages = 1;
    return pages > OPTS_DIALOG_PAGES_MAX ? OPTS_DIALOG_PAGES_MAX : pages;
}

static bool chosen(const opts_dialog_view *v, const char *name)
{
    for (unsigned i = 0; i < v->nloras; i++)
        if (strcmp(v->lora_name[i], name) == 0) return true;
    return false;
}

/* The embed field with text clipped to what a field holds ("" → the fallback). */
static void add_text_field(embed *em, const char *name, const char *text, const char *fallback)
{
    if (!text || !*text) {
        embed_add_field(em, name, fallback, false);
        return;
    }
    char *c = util_utf8_clip(text, 1000);
    embed_add_field(em, name, c, false);
    free(c);
}

static void settings_embed(const opts_dialog_view *v, unsigned pages, embed *em)
{
    embed_set_title(em, "\xe2\x9a\x99\xef\xb8\x8f Options for this result");
    embed_set_description(em, "Change what you like, then press **Regenerate with these "
                              "options**. Only you see this dialog.");
    embed_set_color(em, 0x5865F2);
    if (v->resolution_offered)
        embed_add_field(em, "Resolution", v->resolution[0] ? v->resolution : "default", true);
    char buf[64];
    if (v->has_seed)
        snprintf(buf, sizeof buf, "%" PRIu64, v->seed);
    else
        snprintf(buf, sizeof buf, "a new random seed");
    embed_add_field(em, "Seed", buf, true);
    if (v->lora_cap) {
        char list[OPTS_DIALOG_LORAS_MAX * (LORAS_NAME_MAX + 16) + 1] = "";
        size_t used = 0;
        for (unsigned i = 0; i < v->nloras; i++) {
            int w = snprintf(list + used, sizeof list - used, "%s%s (%.2f)", i ? ", " : "",
                             v->lora_name[i], v->lora_strength[i]);
            if (w < 0 || (size_t)w >= sizeof list - used) break;
            used += (size_t)w;
        }
        char name[64];
        snprintf(name, sizeof name, "LoRAs (%u of at most %u)", v->nloras, v->lora_cap);
        add_text_field(em, name, list, "none");
    }
    if (v->prompt_offered) add_text_field(em, "Prompt", v->prompt, "(none)");
    if (v->negative_offered) add_text_field(em, "Negative prompt", v->negative, "none");
    char foot[160];
    if (v->lora_cap && pages > 1)
        snprintf(foot, sizeof foot,
                 "LoRA page %u of %u \xc2\xb7 this dialog lasts 15 minutes after its last use",
                 v->page + 1, pages);
    else
        snprintf(foot, sizeof foot, "This dialog lasts 15 minutes after its last use");
    embed_set_footer(em, foot, NULL);
}

/* Builds the message (or the type-7 update) of the dialog. */
static char *dialog_json(const opts_dialog_view *v, const ratios_set *ratios,
                         const loras_set *loras, bool update)
{
    unsigned pages = opts_dialog_pages(loras);
    unsigned page = v->page < pages ? v->page : pages - 1;
    embed em;
    embed_init(&em);
    settings_embed(v, pages, &em);

    reply_row rows[REPLY_ROWS_MAX];
    unsigned nrows = 0;

    /* resolutions: the labels of ratios.json, the current one pre-selected */
    char res_id[101];
    reply_select_option res_opts[RATIOS_MAX];
    reply_select res_sel = {0};
    if (v->resolution_offered && ratios && ratios->count &&
        opts_dialog_custom_id(v->sid, OPTS_DIALOG_V_RESOLUTION, 0, res_id, sizeof res_id) == 0) {
        unsigned n = 0;
        for (unsigned i = 0; i < ratios->count && i < RATIOS_MAX; i++)
            res_opts[n++] = (reply_select_option){
                .label = ratios->items[i].label,
                .value = ratios->items[i].label,
                .is_default = strcmp(ratios->items[i].label, v->resolution) == 0};
        res_sel = (reply_select){.custom_id = res_id,
                                 .placeholder = "Resolution",
                                 .min_values = 1,
                                 .max_values = 1,
                                 .options = res_opts,
                                 .noptions = n};
        rows[nrows++] = (reply_row){.select = &res_sel};
    }

    /* LoRAs: this page's 25, the chosen ones pre-selected; the menu lets no more be picked
     * than the cap leaves after the LoRAs chosen on other pages */
    char lora_id[101], placeholder[160];
    reply_select_option lora_opts[OPTS_DIALOG_PAGE_SIZE];
    char descs[OPTS_DIALOG_PAGE_SIZE][101];
    reply_select lora_sel = {0};
    unsigned first = page * OPTS_DIALOG_PAGE_SIZE;
    if (v->lora_cap && loras && loras->count > first &&
        opts_dialog_custom_id(v->sid, OPTS_DIALOG_V_LORAS, page, lora_id, sizeof lora_id) == 0) {
        unsigned n = 0, here = 0;
        for (unsigned i = first; i < loras->count && n < OPTS_DIALOG_PAGE_SIZE; i++, n++) {
            const loras_entry *e = &loras->items[i];
            bool on = chosen(v, e->name);
            here += on;
            snprintf(descs[n], sizeof descs[n], "strength %.2f%s%.80s", e->weight,
                     e->trigger_words[0] ? " \xc2\xb7 " : "", e->trigger_words);
            lora_opts[n] = (reply_select_option){
                .label = e->name, .value = e->name, .description = descs[n], .is_default = on};
        }
        unsigned elsewhere = v->nloras - here;
        unsigned room = v->lora_cap > elsewhere ? v->lora_cap - elsewhere : 0;
        if (room)
            snprintf(placeholder, sizeof placeholder, "LoRAs, page %u of %u: pick up to %u",
                     page + 1, pages, room);
        else
            snprintf(placeholder, sizeof placeholder,
                     "%u LoRAs chosen: remove one on its page first", v->lora_cap);
        lora_sel = (reply_select){.custom_id = lora_id,
                                  .placeholder = placeholder,
                                  .min_values = 0,
                                  .max_values = room ? (room < n ? room : n) : 1,
                                  .options = lora_opts,
                                  .noptions = n,
                                  .disabled = room == 0};
        rows[nrows++] = (reply_row){.select = &lora_sel};
    }

    char prev_id[101], next_id[101];
    reply_button nav[2];
    if (v->lora_cap && pages > 1 &&
        opts_dialog_custom_id(v->sid, OPTS_DIALOG_V_PREV, page ? page - 1 : 0, prev_id,
                              sizeof prev_id) == 0 &&
        opts_dialog_custom_id(v->sid, OPTS_DIALOG_V_NEXT, page + 1 < pages ? page + 1 : page,
                              next_id, sizeof next_id) == 0) {
        nav[0] = (reply_button){.style = REPLY_BTN_SECONDARY,
                                .label = "Previous LoRAs",
                                .emoji = "\xe2\x97\x80\xef\xb8\x8f",
                                .custom_id = prev_id,
                                .disabled = page == 0};
        nav[1] = (reply_button){.style = REPLY_BTN_SECONDARY,
                                .label = "Next LoRAs",
                                .emoji = "\xe2\x96\xb6\xef\xb8\x8f",
                                .custom_id = next_id,
                                .disabled = page + 1 >= pages};
        rows[nrows++] = (reply_row){.buttons = nav, .nbuttons = 2};
    }

    char edit_id[101], str_id[101], go_id[101];
    reply_button acts[3];
    unsigned na = 0;
    opts_dialog_custom_id(v->sid, OPTS_DIALOG_V_EDIT, 0, edit_id, sizeof edit_id);
    opts_dialog_custom_id(v->sid, OPTS_DIALOG_V_STRENGTHS, 0, str_id, sizeof str_id);
    opts_dialog_custom_id(v->sid, OPTS_DIALOG_V_GO, 0, go_id, sizeof go_id);
    acts[na++] = (reply_button){.style = REPLY_BTN_SECONDARY,
                                .label = v->prompt_offered ? "Prompt and seed\xe2\x80\xa6"
                                                           : "Seed\xe2\x80\xa6",
                                .emoji = "\xe2\x9c\x8f\xef\xb8\x8f",
                                .custom_id = edit_id};
    if (v->lora_cap)
        acts[na++] = (reply_button){.style = REPLY_BTN_SECONDARY,
                                    .label = "LoRA strengths\xe2\x80\xa6",
                                    .emoji = "\xf0\x9f\x8e\x9a\xef\xb8\x8f",
                                    .custom_id = str_id,
                                    .disabled = v->nloras == 0};
    acts[na++] = (reply_button){.style = REPLY_BTN_SUCCESS,
                                .label = "Regenerate with these options",
                                .emoji = "\xf0\x9f\x94\x81",
                                .custom_id = go_id};
    rows[nrows++] = (reply_row){.buttons = acts, .nbuttons = na};

    const embed *list[1] = {&em};
    reply_msg m = {.content = v->note,
                   .embeds = list,
                   .nembeds = 1,
                   .rows = rows,
                   .nrows = nrows,
                   .set_components = true};
    char err[200];
    char *json = update ? reply_callback_json(REPLY_CB_UPDATE, &m, err, sizeof err)
                        : reply_message_json(&m, err, sizeof err);
    embed_free(&em);
    if (json) return json;
    /* our own parts within limits; should it still fail, the user gets a clear line */
    const char *text = "\xe2\x9d\x8c The Options dialog could not be shown.";
    return update ? reply_update_text_json(text) : reply_edit_text_json(text, true);
}

char *opts_dialog_message_json(const opts_dialog_view *v, const ratios_set *ratios,
                               const loras_set *loras)
{
    return dialog_json(v, ratios, loras, false);
}

char *opts_dialog_update_json(const opts_dialog_view *v, const ratios_set *ratios,
                              const loras_set *loras)
{
    return dialog_json(v, ratios, loras, true);
}

char *opts_dialog_modal_json(const opts_dialog_view *v)
{
    char id[101], seed[24] = "";
    if (opts_dialog_custom_id(v->sid, OPTS_DIALOG_V_MODAL, 0, id, sizeof id) != 0) return NULL;
    if (v->has_seed) snprintf(seed, sizeof seed, "%" PRIu64, v->seed);
    reply_text_input in[3];
    unsigned n = 0;
    if (v->prompt_offered)
        in[n++] = (reply_text_input){.custom_id = OPTS_DIALOG_FIELD_PROMPT,
                                     .label = "Prompt",
                                     .paragraph = true,
                                     .min_length = 1,
                                     .max_length = REPLY_INPUT_VALUE_MAX,
                                     .required = true,
                                     .value = v->prompt};
    if (v->negative_offered)
        in[n++] = (reply_text_input){.custom_id = OPTS_DIALOG_FIELD_NEGATIVE,
                                     .label = "Negative prompt (empty: none)",
                                     .paragraph = true,
                                     .max_length = REPLY_INPUT_VALUE_MAX,
                                     .value = v->negative};
    in[n++] = (reply_text_input){.custom_id = OPTS_DIALOG_FIELD_SEED,
                                 .label = "Seed (empty: a new random one)",
                                 .max_length = 16,
                                 .value = seed,
                                 .placeholder = "0 to 9007199254740991"};
    reply_modal m = {.custom_id = id, .title = "Prompt and seed", .inputs = in, .ninputs = n};
    return reply_modal_json(&m, NULL, 0);
}

char *opts_dialog_strength_modal_json(const opts_dialog_view *v)
{
    if (!v->nloras) return NULL;
    char id[101];
    if (opts_dialog_custom_id(v->sid, OPTS_DIALOG_V_SMODAL, 0, id, sizeof id) != 0) return NULL;
    reply_text_input in[OPTS_DIALOG_LORAS_MAX];
    char ids[OPTS_DIALOG_LORAS_MAX][4], vals[OPTS_DIALOG_LORAS_MAX][24],
        labels[OPTS_DIALOG_LORAS_MAX][64];
    for (unsigned i = 0; i < v->nloras && i < OPTS_DIALOG_LORAS_MAX; i++) {
        snprintf(ids[i], sizeof ids[i], "s%u", i);
        snprintf(vals[i], sizeof vals[i], "%.2f", v->lora_strength[i]);
        char *nm = util_utf8_clip(v->lora_name[i], 36); /* labels hold 45 characters */
        snprintf(labels[i], sizeof labels[i], "%s strength", nm);
        free(nm);
        in[i] = (reply_text_input){.custom_id = ids[i],
                                   .label = labels[i],
                                   .min_length = 1,
                                   .max_length = 8,
                                   .required = true,
                                   .value = vals[i],
                                   .placeholder = "-2.0 to 2.0"};
    }
    reply_modal m = {
        .custom_id = id, .title = "LoRA strengths", .inputs = in, .ninputs = v->nloras};
    return reply_modal_json(&m, NULL, 0);
}
