/* Users' texts about prompt enhancement (see enh_note.h). */
#include "discord/enh_note.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/util_utf8.h"

#define SPARKLES "\xe2\x9c\xa8"            /* ✨ */
#define WARNING "\xe2\x9a\xa0\xef\xb8\x8f" /* ⚠️ */
#define INFO "\xe2\x84\xb9\xef\xb8\x8f"    /* ℹ️ */

const char *enh_note_working(void)
{
    return SPARKLES " Enhancing your prompt\xe2\x80\xa6";
}

void enh_note_line(const cjob *j, char *out, size_t cap)
{
    if (!cap) return;
    out[0] = '\0';
    const char *why = NULL;
    switch (j->enhance) {
    case CJOB_ENH_NONE:
    case CJOB_ENH_COUNT:
        return;
    case CJOB_ENH_OK:
        snprintf(out, cap, SPARKLES " Prompt enhanced (creativity %u).", j->creativity);
        return;
    case CJOB_ENH_OFF:
        snprintf(out, cap,
                 INFO " Prompt enhancement is not enabled on this bot, so your prompt was used "
                      "as written.");
        return;
    case CJOB_ENH_TIMEOUT:
        why = "Prompt enhancement timed out";
        break;
    case CJOB_ENH_ERROR:
        why = "Prompt enhancement failed";
        break;
    case CJOB_ENH_FILTERED:
        why = "The enhanced prompt was blocked by the content filter";
        break;
    case CJOB_ENH_BUSY:
        why = "Prompt enhancement was not available just then";
        break;
    }
    snprintf(out, cap, WARNING " %s, so your prompt was used as written.", why);
}

char *enh_note_append(const char *text, const cjob *j)
{
    char line[ENH_NOTE_MAX];
    enh_note_line(j, line, sizeof line);
    const char *t = text ? text : "";
    size_t n = strlen(t) + strlen(line) + 2;
    char *out = malloc(n);
    if (!out) abort();
    if (!line[0])
        snprintf(out, n, "%s", t);
    else if (!*t)
        snprintf(out, n, "%s", line);
    else
        snprintf(out, n, "%s\n%s", t, line);
    return out;
}

void enh_note_embed(const cjob *j, embed *em)
{
    if (j->enhance != CJOB_ENH_OK || !j->enhanced_prompt || !*j->enhanced_prompt) return;
    char *v = util_utf8_clip(j->enhanced_prompt, EMBED_FIELD_VALUE_MAX);
    embed_add_field(em, SPARKLES " Enhanced prompt", v, false);
    free(v);
}
