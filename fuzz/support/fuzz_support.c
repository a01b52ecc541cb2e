/*
 * fuzz_support: input splitting and output invariants for the fuzz harnesses (fuzz_support.h).
 */
#include "fuzz_support.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/util_utf8.h"

uint8_t fz_u8(fz_in *in)
{
    if (!in->len) return 0;
    uint8_t v = in->p[0];
    in->p++;
    in->len--;
    return v;
}

uint16_t fz_u16(fz_in *in)
{
    uint16_t hi = fz_u8(in);
    return (uint16_t)(hi << 8 | fz_u8(in));
}

uint32_t fz_u32(fz_in *in)
{
    uint32_t v = 0;
    for (int i = 0; i < 4; i++)
        v = v << 8 | fz_u8(in);
    return v;
}

uint64_t fz_u64(fz_in *in)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = v << 8 | fz_u8(in);
    return v;
}

bool fz_bool(fz_in *in)
{
    return fz_u8(in) & 1;
}

char *fz_text(fz_in *in, size_t max, size_t *len)
{
    const uint8_t *end = memchr(in->p, FZ_SEP, in->len);
    size_t n = end ? (size_t)(end - in->p) : in->len;
    size_t take = n < max ? n : max;
    char *s = malloc(take + 1);
    if (!s) abort();
    if (take) memcpy(s, in->p, take);
    s[take] = '\0';
    size_t used = end ? n + 1 : n;
    in->p += used;
    in->len -= used;
    if (len) *len = take;
    return s;
}

char *fz_rest(fz_in *in, size_t *len)
{
    char *s = malloc(in->len + 1);
    if (!s) abort();
    if (in->len) memcpy(s, in->p, in->len);
    s[in->len] = '\0';
    if (len) *len = in->len;
    in->p += in->len;
    in->len = 0;
    return s;
}

void fz_fail(const char *what, const char *text)
{
    fprintf(stderr, "fuzz invariant broken: %s\n", what);
    if (text) fprintf(stderr, "  in: %.600s%s\n", text, strlen(text) > 600 ? "..." : "");
    abort();
}

size_t fz_chars(const char *s, const char *what)
{
    size_t n = 0;
    if (!util_utf8_valid(s, strlen(s), &n)) fz_fail(what, s);
    return n;
}

cJSON *fz_json(const char *s, const char *what)
{
    FZ_ASSERT(s != NULL, what, "(NULL output)");
    size_t n = 0;
    FZ_ASSERT(util_utf8_valid(s, strlen(s), &n), "output is not valid UTF-8", s);
    cJSON *j = cJSON_ParseWithLength(s, strlen(s));
    FZ_ASSERT(j != NULL, "output is not valid JSON", s);
    return j;
}

/* A string member's length in code points (0 when absent); fails beyond max. */
static size_t str_limit(const cJSON *o, const char *key, size_t max, const char *what)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!v) return 0;
    FZ_ASSERT(cJSON_IsString(v) && v->valuestring, what, key);
    size_t n = fz_chars(v->valuestring, what);
    if (n > max) {
        char why[160];
        snprintf(why, sizeof why, "%s: %s has %zu characters, limit %zu", what, key, n, max);
        fz_fail(why, v->valuestring);
    }
    return n;
}

size_t fz_check_embed(const cJSON *e, const char *what)
{
    FZ_ASSERT(cJSON_IsObject(e), what, "embed is not an object");
    size_t total = str_limit(e, "title", 256, what) + str_limit(e, "description", 4096, what);
    const cJSON *footer = cJSON_GetObjectItemCaseSensitive(e, "footer");
    if (footer) total += str_limit(footer, "text", 2048, what);
    const cJSON *author = cJSON_GetObjectItemCaseSensitive(e, "author");
    if (author) total += str_limit(author, "name", 256, what);
    const cJSON *fields = cJSON_GetObjectItemCaseSensitive(e, "fields");
    if (fields) {
        FZ_ASSERT(cJSON_IsArray(fields), what, "fields is not an array");
        FZ_ASSERT(cJSON_GetArraySize(fields) <= 25, what, "more than 25 fields");
        const cJSON *f;
        cJSON_ArrayForEach(f, fields)
        {
            size_t name = str_limit(f, "name", 256, what);
            size_t value = str_limit(f, "value", 1024, what);
            /* Discord refuses empty field text with a 400. */
            FZ_ASSERT(name > 0 && value > 0, what, "empty field name or value");
            total += name + value;
        }
    }
    return total; /* the 6000 total is a per-message limit: fz_check_message asserts it */
}

static void check_components(const cJSON *rows, const char *what)
{
    FZ_ASSERT(cJSON_IsArray(rows), what, "components is not an array");
    FZ_ASSERT(cJSON_GetArraySize(rows) <= 5, what, "more than 5 action rows");
    const cJSON *row;
    cJSON_ArrayForEach(row, rows)
    {
        const cJSON *items = cJSON_GetObjectItemCaseSensitive(row, "components");
        FZ_ASSERT(cJSON_IsArray(items), what, "action row without components");
        FZ_ASSERT(cJSON_GetArraySize(items) <= 5, what, "more than 5 components in a row");
        const cJSON *c;
        cJSON_ArrayForEach(c, items)
        {
            const cJSON *id = cJSON_GetObjectItemCaseSensitive(c, "custom_id");
            if (id) {
                size_t n = str_limit(c, "custom_id", 100, what);
                FZ_ASSERT(n >= 1, what, "empty custom_id");
            } else {
                FZ_ASSERT(cJSON_GetObjectItemCaseSensitive(c, "url") != NULL, what,
                          "component without custom_id or url");
            }
            str_limit(c, "label", 80, what);
            str_limit(c, "placeholder", 150, what);
        }
    }
}

void fz_check_message(const cJSON *msg, bool mentions_required, const char *what)
{
    FZ_ASSERT(cJSON_IsObject(msg), what, "message is not an object");
    str_limit(msg, "content", 2000, what);
    const cJSON *embeds = cJSON_GetObjectItemCaseSensitive(msg, "embeds");
    if (embeds) {
        FZ_ASSERT(cJSON_IsArray(embeds), what, "embeds is not an array");
        FZ_ASSERT(cJSON_GetArraySize(embeds) <= 10, what, "more than 10 embeds");
        size_t total = 0;
        const cJSON *e;
        cJSON_ArrayForEach(e, embeds) total += fz_check_embed(e, what);
        FZ_ASSERT(total <= 6000, what, "embeds of one message over 6000 characters");
    }
    const cJSON *rows = cJSON_GetObjectItemCaseSensitive(msg, "components");
    if (rows) check_components(rows, what);
    const cJSON *am = cJSON_GetObjectItemCaseSensitive(msg, "allowed_mentions");
    if (mentions_required) FZ_ASSERT(cJSON_IsObject(am), what, "no allowed_mentions");
    if (am) {
        /* "parse" may only ever be empty: text a user typed must not ping anyone. */
        const cJSON *parse = cJSON_GetObjectItemCaseSensitive(am, "parse");
        FZ_ASSERT(!parse || (cJSON_IsArray(parse) && cJSON_GetArraySize(parse) == 0), what,
                  "allowed_mentions.parse is not empty");
    }
}

void fz_check_callback(const cJSON *cb, bool mentions_required, const char *what)
{
    FZ_ASSERT(cJSON_IsObject(cb), what, "callback is not an object");
    const cJSON *type = cJSON_GetObjectItemCaseSensitive(cb, "type");
    FZ_ASSERT(cJSON_IsNumber(type), what, "callback without a numeric type");
    const cJSON *data = cJSON_GetObjectItemCaseSensitive(cb, "data");
    int t = type->valueint;
    if (t == 4 || t == 7) {
        FZ_ASSERT(cJSON_IsObject(data), what, "message callback without data");
        fz_check_message(data, mentions_required, what);
    } else if (t == 8) {
        FZ_ASSERT(cJSON_IsObject(data), what, "autocomplete callback without data");
        const cJSON *choices = cJSON_GetObjectItemCaseSensitive(data, "choices");
        FZ_ASSERT(cJSON_IsArray(choices), what, "autocomplete without choices");
        FZ_ASSERT(cJSON_GetArraySize(choices) <= 25, what, "more than 25 choices");
        const cJSON *c;
        cJSON_ArrayForEach(c, choices)
        {
            size_t n = str_limit(c, "name", 100, what);
            FZ_ASSERT(n >= 1, what, "empty choice name");
            const cJSON *v = cJSON_GetObjectItemCaseSensitive(c, "value");
            FZ_ASSERT(v != NULL, what, "choice without value");
            if (cJSON_IsString(v)) {
                size_t vn = str_limit(c, "value", 100, what);
                FZ_ASSERT(vn >= 1, what, "empty choice value");
            }
        }
    } else if (data) {
        fz_check_message(data, false, what);
    }
}
