/* Bounded copy of an analytics event's text into one heap block (see an_event.h). */
#include "analytics/an_event.h"

#include <stdlib.h>
#include <string.h>

size_t an_utf8_cut(const char *s, size_t max)
{
    size_t n = strnlen(s, max + 1);
    if (n <= max) return n;
    n = max;
    /* Step back over continuation bytes so the cut lands before a lead byte. */
    while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80)
        n--;
    return n;
}

enum {
    F_COMMAND,
    F_PROMPT,
    F_RESOLUTION,
    F_LORAS,
    F_GENTYPE,
    F_ACTION,
    F_DETAILS,
    F_PARAMS,
    F_URL,
    F_COUNT
};

void an_event_set_text(an_event *ev, const an_event_text *t)
{
    const char *src[F_COUNT] = {t->command, t->prompt,  t->resolution, t->loras, t->generation_type,
                                t->action,  t->details, t->params,     t->url};
    static const size_t limit[F_COUNT] = {AN_MAX_NAME,    AN_MAX_PROMPT, AN_MAX_RESOLUTION,
                                          AN_MAX_LORAS,   AN_MAX_NAME,   AN_MAX_NAME,
                                          AN_MAX_DETAILS, AN_MAX_PARAMS, AN_MAX_URL};
    size_t len[F_COUNT];
    size_t total = 0;
    for (int i = 0; i < F_COUNT; i++) {
        len[i] = src[i] ? an_utf8_cut(src[i], limit[i]) : 0;
        if (src[i]) total += len[i] + 1;
    }
    const char *dst[F_COUNT] = {0};
    char *buf = NULL;
    if (total) {
        buf = malloc(total);
        if (!buf) abort();
        char *p = buf;
        for (int i = 0; i < F_COUNT; i++) {
            if (!src[i]) continue;
            memcpy(p, src[i], len[i]);
            p[len[i]] = '\0';
            dst[i] = p;
            p += len[i] + 1;
        }
    }
    ev->buf = buf;
    ev->command = dst[F_COMMAND];
    ev->prompt = dst[F_PROMPT];
    ev->resolution = dst[F_RESOLUTION];
    ev->loras = dst[F_LORAS];
    ev->generation_type = dst[F_GENTYPE];
    ev->action = dst[F_ACTION];
    ev->details = dst[F_DETAILS];
    ev->params = dst[F_PARAMS];
    ev->url = dst[F_URL];
}

void an_event_clear(an_event *ev)
{
    free(ev->buf);
    memset(ev, 0, sizeof *ev);
}

const char *an_cmd_kind_name(an_cmd_kind k)
{
    static const char *const names[AN_CMD_KIND_COUNT] = {"command", "button", "autocomplete",
                                                         "modal", "unknown"};
    return (unsigned)k < AN_CMD_KIND_COUNT ? names[k] : "unknown";
}

an_cmd_kind an_cmd_kind_parse(const char *s)
{
    for (int k = 0; s && k < AN_CMD_KIND_COUNT; k++)
        if (strcmp(s, an_cmd_kind_name((an_cmd_kind)k)) == 0) return (an_cmd_kind)k;
    return AN_CMD_UNKNOWN;
}
