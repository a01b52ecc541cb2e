/* Terminal rendering of embeds and the progress bar (see demo_render.h). */
#include "demo/demo_render.h"

#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

typedef struct tbuf {
    char *p;
    size_t len, cap;
} tbuf;

static void tb_put(tbuf *b, const char *s, size_t n)
{
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 1024;
        while (cap < b->len + n + 1)
            cap *= 2;
        char *np = realloc(b->p, cap);
        if (!np) return;
        b->p = np;
        b->cap = cap;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = 0;
}

static void tb_puts(tbuf *b, const char *s)
{
    tb_put(b, s, strlen(s));
}

static void tb_printf(tbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void tb_printf(tbuf *b, const char *fmt, ...)
{
    char tmp[256];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n > 0) tb_put(b, tmp, (size_t)n < sizeof tmp ? (size_t)n : sizeof tmp - 1);
}

void demo_render_strip_markdown(char *s)
{
    char *w = s;
    for (char *r = s; *r;) {
        if (r[0] == '\\' && r[1] && strchr("\\*_~`|>#-[]()!.", r[1])) {
            *w++ = r[1];
            r += 2;
        } else if ((r[0] == '*' && r[1] == '*') || (r[0] == '_' && r[1] == '_')) {
            r += 2;
        } else {
            *w++ = *r++;
        }
    }
    *w = 0;
}

/* Display width of UTF-8 text, counting each code point as one column (good enough for the
 * embeds' text: arrows and dashes are single width). */
static size_t columns(const char *s, size_t n)
{
    size_t c = 0;
    for (size_t i = 0; i < n; i++)
        if (((unsigned char)s[i] & 0xC0) != 0x80) c++;
    return c;
}

/* One logical line, wrapped at width columns at spaces, each piece prefixed. */
static void wrapped(tbuf *b, const char *prefix, const char *line, size_t n, unsigned width,
                    const char *style_on, const char *style_off)
{
    size_t avail =
        width > columns(prefix, strlen(prefix)) + 10 ? width - columns(prefix, strlen(prefix)) : 10;
    do {
        size_t take = n, cols = 0, last_space = 0;
        for (size_t i = 0; i < n; i++) {
            if (((unsigned char)line[i] & 0xC0) != 0x80) cols++;
            if (cols > avail) {
                take = last_space ? last_space : i;
                break;
            }
            if (line[i] == ' ') last_space = i;
        }
        if (take == 0) take = n; /* a single word longer than the line */
        tb_puts(b, prefix);
        tb_puts(b, style_on);
        tb_put(b, line, take);
        tb_puts(b, style_off);
        tb_puts(b, "\n");
        line += take;
        n -= take;
        while (n && *line == ' ') {
            line++;
            n--;
        }
    } while (n > 0);
}

static void block(tbuf *b, const char *prefix, const char *text, unsigned width,
                  const char *style_on, const char *style_off)
{
    char *t = strdup(text);
    if (!t) return;
    demo_render_strip_markdown(t);
    for (char *line = t; line;) {
        char *nl = strchr(line, '\n');
        size_t n = nl ? (size_t)(nl - line) : strlen(line);
        if (n == 0)
            tb_printf(b, "%s\n", prefix);
        else
            wrapped(b, prefix, line, n, width, style_on, style_off);
        line = nl ? nl + 1 : NULL;
    }
    free(t);
}

static void render_embed(tbuf *b, const cJSON *e, unsigned width, bool ansi)
{
    char bar[48];
    const cJSON *color = cJSON_GetObjectItem(e, "color");
    if (ansi && cJSON_IsNumber(color)) {
        unsigned c = (unsigned)color->valuedouble;
        snprintf(bar, sizeof bar, "  \033[38;2;%u;%u;%um\xe2\x96\x8c\033[0m ", (c >> 16) & 255,
                 (c >> 8) & 255, c & 255);
    } else {
        snprintf(bar, sizeof bar, "  %s ", ansi ? "\xe2\x96\x8c" : "|");
    }
    const char *bold = ansi ? "\033[1m" : "", *off = ansi ? "\033[0m" : "";
    const char *dim = ansi ? "\033[2m" : "";
    const char *title = cJSON_GetStringValue(cJSON_GetObjectItem(e, "title"));
    if (title) block(b, bar, title, width, bold, off);
    const char *desc = cJSON_GetStringValue(cJSON_GetObjectItem(e, "description"));
    if (desc) block(b, bar, desc, width, "", "");
    const cJSON *f;
    cJSON_ArrayForEach(f, cJSON_GetObjectItem(e, "fields"))
    {
        const char *name = cJSON_GetStringValue(cJSON_GetObjectItem(f, "name"));
        const char *value = cJSON_GetStringValue(cJSON_GetObjectItem(f, "value"));
        tb_printf(b, "%s\n", bar);
        if (name) block(b, bar, name, width, bold, off);
        if (value) {
            char inner[64];
            snprintf(inner, sizeof inner, "%s  ", bar);
            block(b, inner, value, width, "", "");
        }
    }
    const char *footer =
        cJSON_GetStringValue(cJSON_GetObjectItem(cJSON_GetObjectItem(e, "footer"), "text"));
    if (footer) {
        tb_printf(b, "%s\n", bar);
        block(b, bar, footer, width, dim, off);
    }
}

char *demo_render_message(const char *message_json, unsigned width, bool ansi)
{
    if (width < 20) width = 20;
    cJSON *m = message_json ? cJSON_Parse(message_json) : NULL;
    if (!m) return NULL;
    tbuf b = {0};
    const char *content = cJSON_GetStringValue(cJSON_GetObjectItem(m, "content"));
    if (content && *content) block(&b, "  ", content, width, "", "");
    const cJSON *e;
    bool first = true;
    cJSON_ArrayForEach(e, cJSON_GetObjectItem(m, "embeds"))
    {
        if (!first || b.len) tb_puts(&b, "\n");
        render_embed(&b, e, width, ansi);
        first = false;
    }
    cJSON_Delete(m);
    return b.p;
}

char *demo_render_bar(double frac, unsigned cells, bool unicode, char *out, size_t cap)
{
    if (!(frac >= 0)) frac = 0;
    if (frac > 1) frac = 1;
    size_t w = 0;
    unsigned full = (unsigned)floor(frac * cells + 1e-9);
    if (cap == 0) return out;
    if (!unicode) {
        if (w + 1 < cap) out[w++] = '[';
        for (unsigned i = 0; i < cells && w + 1 < cap; i++)
            out[w++] = i < full ? '#' : '-';
        if (w + 1 < cap) out[w++] = ']';
        out[w] = 0;
        return out;
    }
    /* Unicode: full blocks, then light shade for the rest (3 bytes each). */
    for (unsigned i = 0; i < cells && w + 4 < cap; i++) {
        const char *g = i < full ? "\xe2\x96\x88" : "\xe2\x96\x91";
        memcpy(out + w, g, 3);
        w += 3;
    }
    out[w] = 0;
    return out;
}
