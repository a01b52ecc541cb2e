/* The interaction payload parser into a reusable arena (see ix_json.h). The parsing functions
 * follow cJSON 1.7.15's as Debian ships it (parse_value, parse_string, parse_number,
 * parse_array, parse_object, with its two security fixes to the parser) step for step, so that
 * the two accept and build the same; only the allocation differs. */
#include "discord/ix_json.h"

#include <limits.h>
#include <locale.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define FIRST_BLOCK (64u * 1024u) /* a usual interaction needs a few KB */
#define NESTING_LIMIT 1000        /* CJSON_NESTING_LIMIT */

typedef struct ix_json_block {
    struct ix_json_block *next;
    size_t cap, used;
    _Alignas(16) unsigned char data[];
} ix_json_block;

static ix_json_block *block_new(size_t cap)
{
    ix_json_block *b = malloc(sizeof *b + cap);
    if (!b) return NULL;
    b->next = NULL;
    b->cap = cap;
    b->used = 0;
    return b;
}

/* n bytes, 16-aligned, from the arena; NULL when out of memory. */
static void *arena_alloc(ix_json_arena *a, size_t n)
{
    n = (n + 15u) & ~(size_t)15u;
    if (a->cur->cap - a->cur->used < n) {
        /* Blocks after the first only exist while a payload needs them (freed at reset). */
        ix_json_block *b = block_new(n > FIRST_BLOCK ? n : FIRST_BLOCK);
        if (!b) return NULL;
        a->cur->next = b;
        a->cur = b;
    }
    void *p = a->cur->data + a->cur->used;
    a->cur->used += n;
    return p;
}

/* Back to an empty first block: a large payload's extra blocks are not kept. */
static bool arena_reset(ix_json_arena *a)
{
    if (!a->first && !(a->first = block_new(FIRST_BLOCK))) return false;
    for (ix_json_block *b = a->first->next, *next; b; b = next) {
        next = b->next;
        free(b);
    }
    a->first->next = NULL;
    a->first->used = 0;
    a->cur = a->first;
    return true;
}

void ix_json_arena_free(ix_json_arena *a)
{
    for (ix_json_block *b = a->first, *next; b; b = next) {
        next = b->next;
        free(b);
    }
    a->first = a->cur = NULL;
}

typedef struct pbuf {
    const unsigned char *content;
    size_t length, offset, depth;
    ix_json_arena *a;
} pbuf;

#define CAN_READ(b, size) ((b)->offset + (size) <= (b)->length)
#define CAN_ACCESS(b, index) ((b)->offset + (index) < (b)->length)
#define AT(b) ((b)->content + (b)->offset)

static cJSON *new_item(pbuf *b)
{
    cJSON *c = arena_alloc(b->a, sizeof *c);
    if (c) memset(c, 0, sizeof *c);
    return c;
}

static void skip_whitespace(pbuf *b)
{
    if (!CAN_ACCESS(b, 0)) return;
    while (CAN_ACCESS(b, 0) && AT(b)[0] <= 32)
        b->offset++;
    /* cJSON steps back onto the last byte when the white space runs to the end: what follows
     * then fails on it, as it would on the end */
    if (b->offset == b->length) b->offset--;
}

static bool parse_value(cJSON *item, pbuf *b);

static bool parse_number(cJSON *item, pbuf *b)
{
    /* the whole run of number characters (Debian's cJSON reads it all since its fix of
     * CVE-2023-26819; the 1.7.15 release cut it at 63) */
    size_t n = 0;
    bool point = false;
    for (; CAN_ACCESS(b, n); n++) {
        unsigned char c = AT(b)[n];
        if (c == '.')
            point = true;
        else if (!((c >= '0' && c <= '9') || c == '+' || c == '-' || c == 'e' || c == 'E'))
            break;
    }
    unsigned char small[64], *num = small;
    if (n >= sizeof small && !(num = arena_alloc(b->a, n + 1))) return false;
    memcpy(num, AT(b), n);
    num[n] = '\0';
    if (point) {
        /* strtod reads the locale's decimal point, as cJSON makes it */
        const struct lconv *lc = localeconv();
        unsigned char dp = lc && lc->decimal_point ? (unsigned char)lc->decimal_point[0] : '.';
        for (size_t i = 0; i < n; i++)
            if (num[i] == '.') num[i] = dp;
    }
    char *end = NULL;
    double d = strtod((const char *)num, &end);
    if ((unsigned char *)end == num) return false;
    item->valuedouble = d;
    if (d >= INT_MAX)
        item->valueint = INT_MAX;
    else if (d <= (double)INT_MIN)
        item->valueint = INT_MIN;
    else
        item->valueint = (int)d;
    item->type = cJSON_Number;
    b->offset += (size_t)((unsigned char *)end - num);
    return true;
}

static unsigned hex4(const unsigned char *in)
{
    unsigned h = 0;
    for (int i = 0; i < 4; i++) {
        unsigned char c = in[i];
        if (c >= '0' && c <= '9')
            h += (unsigned)(c - '0');
        else if (c >= 'A' && c <= 'F')
            h += 10u + (unsigned)(c - 'A');
        else if (c >= 'a' && c <= 'f')
            h += 10u + (unsigned)(c - 'a');
        else
            return 0; /* cJSON: an invalid digit makes the whole escape U+0000 */
        if (i < 3) h <<= 4;
    }
    return h;
}

/* \uXXXX (or a surrogate pair) at in, before end, as UTF-8 at *out: the escape's length, or 0
 * when refused. */
static unsigned utf16_to_utf8(const unsigned char *in, const unsigned char *end,
                              unsigned char **out)
{
    if (end - in < 6) return 0;
    unsigned first = hex4(in + 2), len;
    unsigned long cp;
    if (first >= 0xDC00 && first <= 0xDFFF) return 0;
    if (first >= 0xD800 && first <= 0xDBFF) {
        const unsigned char *second = in + 6;
        if (end - second < 6) return 0;
        if (second[0] != '\\' || second[1] != 'u') return 0;
        unsigned low = hex4(second + 2);
        if (low < 0xDC00 || low > 0xDFFF) return 0;
        cp = 0x10000 + (((first & 0x3FFul) << 10) | (low & 0x3FFul));
        len = 12;
    } else {
        cp = first;
        len = 6;
    }
    unsigned char *o = *out;
    if (cp < 0x80) {
        o[0] = (unsigned char)(cp & 0x7F);
        *out = o + 1;
    } else if (cp < 0x800) {
        o[0] = (unsigned char)(0xC0 | (cp >> 6));
        o[1] = (unsigned char)(0x80 | (cp & 0x3F));
        *out = o + 2;
    } else if (cp < 0x10000) {
        o[0] = (unsigned char)(0xE0 | (cp >> 12));
        o[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
        o[2] = (unsigned char)(0x80 | (cp & 0x3F));
        *out = o + 3;
    } else {
        o[0] = (unsigned char)(0xF0 | (cp >> 18));
        o[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3F));
        o[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
        o[3] = (unsigned char)(0x80 | (cp & 0x3F));
        *out = o + 4;
    }
    return len;
}

/* A string at the offset (its opening quote) into *out. */
static bool parse_string_to(char **out, pbuf *b)
{
    if (!CAN_ACCESS(b, 0) || AT(b)[0] != '"') return false;
    const unsigned char *start = AT(b) + 1, *end = start;
    size_t skipped = 0;
    while ((size_t)(end - b->content) < b->length && *end != '"') {
        if (end[0] == '\\') {
            if ((size_t)(end + 1 - b->content) >= b->length) return false;
            skipped++;
            end++;
        }
        end++;
    }
    if ((size_t)(end - b->content) >= b->length || *end != '"') return false;
    /* at most this much output: escapes never decode longer than they are written */
    unsigned char *o = arena_alloc(b->a, (size_t)(end - start) - skipped + 1);
    if (!o) return false;
    unsigned char *w = o;
    for (const unsigned char *p = start; p < end;) {
        if (*p != '\\') {
            *w++ = *p++;
            continue;
        }
        unsigned len = 2;
        switch (p[1]) {
        case 'b':
            *w++ = '\b';
            break;
        case 'f':
            *w++ = '\f';
            break;
        case 'n':
            *w++ = '\n';
            break;
        case 'r':
            *w++ = '\r';
            break;
        case 't':
            *w++ = '\t';
            break;
        case '"':
        case '\\':
        case '/':
            *w++ = p[1];
            break;
        case 'u':
            len = utf16_to_utf8(p, end, &w);
            if (len == 0) return false;
            break;
        default:
            return false;
        }
        p += len;
    }
    *w = '\0';
    *out = (char *)o;
    b->offset = (size_t)(end - b->content) + 1;
    return true;
}

static bool parse_string(cJSON *item, pbuf *b)
{
    if (!parse_string_to(&item->valuestring, b)) return false;
    item->type = cJSON_String;
    return true;
}

/* The elements of an array or the members of an object (close: ']' or '}'). */
static bool parse_list(cJSON *item, pbuf *b, unsigned char close)
{
    if (b->depth >= NESTING_LIMIT) return false;
    b->depth++;
    cJSON *head = NULL, *cur = NULL;
    b->offset++;
    skip_whitespace(b);
    if (CAN_ACCESS(b, 0) && AT(b)[0] == close) goto done;
    if (!CAN_ACCESS(b, 0)) return false;
    b->offset--;
    do {
        cJSON *n = new_item(b);
        if (!n) return false;
        if (!head) {
            head = cur = n;
        } else {
            cur->next = n;
            n->prev = cur;
            cur = n;
        }
        /* Debian's cJSON (its fix of CVE-2023-53154): nothing after the comma */
        if (close == '}' && !CAN_ACCESS(b, 1)) return false;
        b->offset++;
        skip_whitespace(b);
        if (close == '}') {
            if (!parse_string_to(&cur->string, b)) return false;
            skip_whitespace(b);
            if (!CAN_ACCESS(b, 0) || AT(b)[0] != ':') return false;
            b->offset++;
            skip_whitespace(b);
        }
        if (!parse_value(cur, b)) return false;
        skip_whitespace(b);
    } while (CAN_ACCESS(b, 0) && AT(b)[0] == ',');
    if (!CAN_ACCESS(b, 0) || AT(b)[0] != close) return false;
done:
    b->depth--;
    if (head) head->prev = cur; /* cJSON keeps the last element in the first's prev */
    item->type = close == '}' ? cJSON_Object : cJSON_Array;
    item->child = head;
    b->offset++;
    return true;
}

static bool parse_value(cJSON *item, pbuf *b)
{
    if (CAN_READ(b, 4) && memcmp(AT(b), "null", 4) == 0) {
        item->type = cJSON_NULL;
        b->offset += 4;
        return true;
    }
    if (CAN_READ(b, 5) && memcmp(AT(b), "false", 5) == 0) {
        item->type = cJSON_False;
        b->offset += 5;
        return true;
    }
    if (CAN_READ(b, 4) && memcmp(AT(b), "true", 4) == 0) {
        item->type = cJSON_True;
        item->valueint = 1;
        b->offset += 4;
        return true;
    }
    if (!CAN_ACCESS(b, 0)) return false;
    unsigned char c = AT(b)[0];
    if (c == '"') return parse_string(item, b);
    if (c == '-' || (c >= '0' && c <= '9')) return parse_number(item, b);
    if (c == '[') return parse_list(item, b, ']');
    if (c == '{') return parse_list(item, b, '}');
    return false;
}

const cJSON *ix_json_parse(ix_json_arena *a, const char *json, size_t len)
{
    if (!json || len == 0 || !arena_reset(a)) return NULL;
    pbuf b = {.content = (const unsigned char *)json, .length = len, .a = a};
    cJSON *root = new_item(&b);
    if (!root) return NULL;
    /* a UTF-8 byte-order mark (cJSON looks for it only with 5 bytes or more) */
    if (CAN_ACCESS(&b, 4) && memcmp(json, "\xEF\xBB\xBF", 3) == 0) b.offset += 3;
    skip_whitespace(&b);
    return parse_value(root, &b) ? root : NULL;
}
