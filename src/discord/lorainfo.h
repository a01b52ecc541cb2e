/*
 * /lorainfo: the LoRA catalogue (config/loras.json) as paged, ephemeral embeds. Pure builders of
 * the interaction callback bodies; the router calls them with the catalogue it holds and sends
 * the result. Nothing is fetched: every word shown is the operator's, from loras.json.
 *
 *   /lorainfo          page 1: up to LORAINFO_PER_PAGE LoRAs, each with its description,
 *                      trigger words, default strength and the operator's link; buttons
 *                      first / previous / "page n of m" / next / last
 *   /lorainfo name     that LoRA alone (by name or file, else the best autocomplete match)
 *   a page button      the same message updated in place (callback type 7) to that page
 *
 * Page buttons carry their page in the custom_id ("li:next:3"), so they keep working after a
 * restart, and a page past the end (the list shrank on SIGHUP) shows the last page.
 */
#ifndef FLUXBOT_DISCORD_LORAINFO_H
#define FLUXBOT_DISCORD_LORAINFO_H

#include <stdbool.h>

#include "comfy/loras.h"

#define LORAINFO_PER_PAGE 5
#define LORAINFO_ID_PREFIX "li:"

/* Pages for count LoRAs (at least 1). */
unsigned lorainfo_pages(unsigned count);

/* The callback body for a page (0-based, clamped to the last): type 4 ephemeral for the
 * command, type 7 (update the message) for a page button. malloc'd; NULL only out of memory. */
char *lorainfo_page_json(const loras_set *s, unsigned page, bool update);

/* The callback body for /lorainfo name: one LoRA, or an ephemeral line saying none is called
 * that. malloc'd; NULL only out of memory. */
char *lorainfo_one_json(const loras_set *s, const char *name);

/* True for the custom_id of a /lorainfo page button. */
bool lorainfo_owns(const char *custom_id);
/* The page a button asks for: 0, or -1 when the id is not a well-formed page button. */
int lorainfo_parse_custom_id(const char *custom_id, unsigned *page);

#endif
