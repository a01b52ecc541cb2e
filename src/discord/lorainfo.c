/* /lorainfo reply builders (see lorainfo.h). */
#include "discord/lorainfo.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "discord/embed.h"
#include "discord/reply.h"

#define PAGE_MAX 999999u /* custom_id digits are bounded: "li:next:" + 6 digits */

unsigned lorainfo_pages(unsigned count)
{
    return count == 0 ? 1 : (count + LORAINFO_PER_PAGE - 1) / LORAINFO_PER_PAGE;
}

bool lorainfo_owns(const char *id)
{
    return id && strncmp(id, LORAINFO_ID_PREFIX, strlen(LORAINFO_ID_PREFIX)) == 0;
}

int lorainfo_parse_custom_id(const char *id, unsigned *page)
{
    if (!lorainfo_owns(id)) return -1;
    const char *p = id + strlen(LORAINFO_ID_PREFIX);
    static const char *const verbs[] = {"first:", "prev:", "next:", "last:", "page:"};
    const char *num = NULL;
    for (size_t i = 0; i < sizeof verbs / sizeof verbs[0] && !num; i++)
        if (strncmp(p, verbs[i], strlen(verbs[i])) == 0) num = p + strlen(verbs[i]);
    if (!num || !*num || strlen(num) > 6) return -1;
    unsigned v = 0;
    for (const char *q = num; *q; q++) {
        if (*q < '0' || *q > '9') return -1;
        v = v * 10 + (unsigned)(*q - '0');
    }
    *page = v;
    return 0;
}

/* A LoRA as field text: description, trigger words, default strength, link. */
static void lora_text(const loras_entry *e, char *out, size_t cap)
{
    int n = 0;
    if (e->description[0]) n += snprintf(out + n, cap - (size_t)n, "%s\n", e->description);
    if ((size_t)n < cap)
        n += snprintf(out + n, cap - (size_t)n, "Trigger words: %s\n",
                      e->trigger_words[0] ? e->trigger_words : "none");
    if ((size_t)n < cap)
        n += snprintf(out + n, cap - (size_t)n, "Default strength: %.2f", e->weight);
    if (e->url[0] && (size_t)n < cap)
        snprintf(out + n, cap - (size_t)n, "\n[More about it](%s)", e->url);
}

static char *text(const char *s)
{
    return reply_text_json(s, true);
}

char *lorainfo_page_json(const loras_set *s, unsigned page, bool update)
{
    unsigned count = s ? s->count : 0;
    if (count == 0) {
        if (!update) return text("No LoRAs are set up on this bot.");
        reply_msg m = {.content = "No LoRAs are set up on this bot.",
                       .set_embeds = true,
                       .set_components = true};
        return reply_callback_json(REPLY_CB_UPDATE, &m, NULL, 0);
    }
    unsigned pages = lorainfo_pages(count);
    if (page >= pages) page = pages - 1;
    embed e;
    embed_init(&e);
    char title[64];
    snprintf(title, sizeof title, "LoRAs (%u)", count);
    embed_set_title(&e, title);
    embed_set_description(&e, "Use one with the lora option of /comfy; /lorainfo name shows one.");
    for (unsigned i = page * LORAINFO_PER_PAGE; i < count && i < (page + 1) * LORAINFO_PER_PAGE;
         i++) {
        char value[1024];
        lora_text(&s->items[i], value, sizeof value);
        embed_add_field(&e, s->items[i].name, value, false);
    }
    char footer[64];
    snprintf(footer, sizeof footer, "Page %u of %u", page + 1, pages);
    embed_set_footer(&e, footer, NULL);

    char ids[5][32];
    unsigned last = pages - 1;
    snprintf(ids[0], sizeof ids[0], LORAINFO_ID_PREFIX "first:0");
    snprintf(ids[1], sizeof ids[1], LORAINFO_ID_PREFIX "prev:%u", page ? page - 1 : 0);
    snprintf(ids[2], sizeof ids[2], LORAINFO_ID_PREFIX "page:%u", page);
    snprintf(ids[3], sizeof ids[3], LORAINFO_ID_PREFIX "next:%u", page < last ? page + 1 : last);
    snprintf(ids[4], sizeof ids[4], LORAINFO_ID_PREFIX "last:%u", last);
    char label[32];
    snprintf(label, sizeof label, "%u / %u", page + 1, pages);
    reply_button b[5] = {
        {.style = REPLY_BTN_SECONDARY,
         .emoji = "\xe2\x8f\xae\xef\xb8\x8f",
         .custom_id = ids[0],
         .disabled = page == 0},
        {.style = REPLY_BTN_SECONDARY,
         .emoji = "\xe2\x97\x80\xef\xb8\x8f",
         .custom_id = ids[1],
         .disabled = page == 0},
        {.style = REPLY_BTN_SECONDARY, .label = label, .custom_id = ids[2], .disabled = true},
        {.style = REPLY_BTN_SECONDARY,
         .emoji = "\xe2\x96\xb6\xef\xb8\x8f",
         .custom_id = ids[3],
         .disabled = page == last},
        {.style = REPLY_BTN_SECONDARY,
         .emoji = "\xe2\x8f\xad\xef\xb8\x8f",
         .custom_id = ids[4],
         .disabled = page == last},
    };
    reply_row row = {.buttons = b, .nbuttons = 5};
    const embed *list[1] = {&e};
    reply_msg m = {.embeds = list,
                   .nembeds = 1,
                   .set_embeds = true,
                   .rows = pages > 1 ? &row : NULL,
                   .nrows = pages > 1 ? 1 : 0,
                   .set_components = true,
                   .flags = update ? 0 : REPLY_FLAG_EPHEMERAL};
    if (update) m.content = "";
    char *out = reply_callback_json(update ? REPLY_CB_UPDATE : REPLY_CB_MESSAGE, &m, NULL, 0);
    embed_free(&e);
    return out;
}

char *lorainfo_one_json(const loras_set *s, const char *name)
{
    const loras_entry *e = s ? loras_find(s, name) : NULL;
    if (!e && s) {
        const loras_entry *best[1];
        if (name && *name && loras_match(s, name, best, 1) == 1) e = best[0];
    }
    if (!e) {
        char msg[256];
        snprintf(msg, sizeof msg,
                 "No LoRA is called \"%.100s\". /lorainfo without a name lists them all.",
                 name ? name : "");
        return text(msg);
    }
    embed em;
    embed_init(&em);
    embed_set_title(&em, e->name);
    if (e->url[0]) embed_set_url(&em, e->url);
    if (e->description[0]) embed_set_description(&em, e->description);
    embed_add_field(&em, "Trigger words", e->trigger_words[0] ? e->trigger_words : "none", false);
    char w[32];
    snprintf(w, sizeof w, "%.2f", e->weight);
    embed_add_field(&em, "Default strength", w, true);
    if (e->url[0]) {
        char link[LORAS_URL_MAX + 32];
        snprintf(link, sizeof link, "[More about it](%s)", e->url);
        embed_add_field(&em, "Link", link, true);
    }
    const embed *list[1] = {&em};
    reply_msg m = {.embeds = list, .nembeds = 1, .flags = REPLY_FLAG_EPHEMERAL};
    char *out = reply_callback_json(REPLY_CB_MESSAGE, &m, NULL, 0);
    embed_free(&em);
    return out;
}
