/* Queue control message bodies (see qctl.h). */
#include "discord/qctl.h"

#include <stdbool.h>
#include <stddef.h>

#include "discord/reply.h"

#define CANCEL_EMOJI "\xe2\x9c\x96\xef\xb8\x8f" /* heavy multiplication x */

char *qctl_progress_json(const char *text, const char *cancel_id)
{
    if (!cancel_id || !*cancel_id) return reply_edit_text_json(text, false);
    reply_button b = {.style = REPLY_BTN_DANGER,
                      .label = "Cancel",
                      .emoji = CANCEL_EMOJI,
                      .custom_id = cancel_id};
    reply_row row = {.buttons = &b, .nbuttons = 1};
    reply_msg m = {.content = text ? text : "", .rows = &row, .nrows = 1, .set_components = true};
    return reply_message_json(&m, NULL, 0);
}

char *qctl_choice_json(const char *text, const qctl_choice *items, unsigned n)
{
    if (n > QCTL_CHOICES_MAX) n = QCTL_CHOICES_MAX;
    reply_button b[QCTL_CHOICES_MAX];
    reply_row rows[(QCTL_CHOICES_MAX + 4) / 5];
    unsigned nrows = 0;
    for (unsigned i = 0; i < n; i++) {
        b[i] = (reply_button){.style = REPLY_BTN_DANGER,
                              .label = items[i].label,
                              .emoji = CANCEL_EMOJI,
                              .custom_id = items[i].custom_id};
        if (i % 5 == 0) rows[nrows++] = (reply_row){.buttons = &b[i]};
        rows[nrows - 1].nbuttons++;
    }
    reply_msg m = {.content = text ? text : "",
                   .rows = rows,
                   .nrows = nrows,
                   .set_components = true,
                   .set_embeds = true};
    return reply_message_json(&m, NULL, 0);
}
