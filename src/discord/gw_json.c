/*
 * gw_json: validating JSON scanner over spans (see gw_json.h). Recursive descent with a depth
 * bound; string scanning uses a byte class table so the common case (plain text) costs one
 * table load per byte.
 */
#include "discord/gw_json.h"

#include <string.h>

#include "util/util_dec.h"

/* 1 for bytes that end the fast path inside a string: '"', '\\' and control characters. */
static const unsigned char str_special[256] = {
    [0] = 1,  [1] = 1,  [2] = 1,  [3] = 1,  [4] = 1,  [5] = 1,   [6] = 1,    [7] = 1,  [8] = 1,
    [9] = 1,  [10] = 1, [11] = 1, [12] = 1, [13] = 1, [14] = 1,  [15] = 1,   [16] = 1, [17] = 1,
    [18] = 1, [19] = 1, [20] = 1, [21] = 1, [22] = 1, [23] = 1,  [24] = 1,   [25] = 1, [26] = 1,
    [27] = 1, [28] = 1, [29] = 1, [30] = 1, [31] = 1, ['"'] = 1, ['\\'] = 1,
};

static inline size_t skip_ws(const char *b, size_t len, size_t i)
{
    while (i < len && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r'))
        i++;
    return i;
}

static inline int hexval(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* b[i] == '"'. Returns the index just past the closing quote, or -1. */
static long scan_string(const char *b, size_t len, size_t i)
{
    i++;
    for (;;) {
        while (i < len && !str_special[(unsigned char)b[i]])
            i++;
        if (i >= len) return -1;
        char c = b[i];
        if (c == '"') return (long)(i + 1);
        if (c != '\\') return -1; /* raw control character */
        if (i + 1 >= len) return -1;
        char e = b[i + 1];
        if (e == 'u') {
            if (i + 6 > len) return -1;
            for (size_t k = 2; k < 6; k++)
                if (hexval(b[i + k]) < 0) return -1;
            i += 6;
        } else if (e == '"' || e == '\\' || e == '/' || e == 'b' || e == 'f' || e == 'n' ||
                   e == 'r' || e == 't') {
            i += 2;
        } else {
            return -1;
        }
    }
}

static long scan_number(const char *b, size_t len, size_t i)
{
    if (i < len && b[i] == '-') i++;
    if (i >= len) return -1;
    if (b[i] == '0') {
        i++;
    } else if (b[i] >= '1' && b[i] <= '9') {
        while (i < len && b[i] >= '0' && b[i] <= '9')
            i++;
    } else {
        return -1;
    }
    if (i < len && b[i] == '.') {
        i++;
        size_t start = i;
        while (i < len && b[i] >= '0' && b[i] <= '9')
            i++;
        if (i == start) return -1;
    }
    if (i < len && (b[i] == 'e' || b[i] == 'E')) {
        i++;
        if (i < len && (b[i] == '+' || b[i] == '-')) i++;
        size_t start = i;
        while (i < len && b[i] >= '0' && b[i] <= '9')
            i++;
        if (i == start) return -1;
    }
    return (long)i;
}

static long scan_literal(const char *b, size_t len, size_t i, const char *lit, size_t n)
{
    if (len - i < n || memcmp(b + i, lit, n) != 0) return -1;
    return (long)(i + n);
}

/* Returns the index past the value starting at b[i] (no leading whitespace), or a negative
 * error code (GW_JSON_ESYNTAX / GW_JSON_EDEPTH). */
static long scan_value(const char *b, size_t len, size_t i, int depth)
{
    if (i >= len) return GW_JSON_ESYNTAX;
    long r;
    switch (b[i]) {
    case '"':
        r = scan_string(b, len, i);
        return r < 0 ? GW_JSON_ESYNTAX : r;
    case 't':
        r = scan_literal(b, len, i, "true", 4);
        return r < 0 ? GW_JSON_ESYNTAX : r;
    case 'f':
        r = scan_literal(b, len, i, "false", 5);
        return r < 0 ? GW_JSON_ESYNTAX : r;
    case 'n':
        r = scan_literal(b, len, i, "null", 4);
        return r < 0 ? GW_JSON_ESYNTAX : r;
    case '{':
    case '[': {
        if (depth >= GW_JSON_MAX_DEPTH) return GW_JSON_EDEPTH;
        const bool obj = b[i] == '{';
        const char close = obj ? '}' : ']';
        i = skip_ws(b, len, i + 1);
        if (i < len && b[i] == close) return (long)(i + 1);
        for (;;) {
            if (obj) {
                if (i >= len || b[i] != '"') return GW_JSON_ESYNTAX;
                r = scan_string(b, len, i);
                if (r < 0) return GW_JSON_ESYNTAX;
                i = skip_ws(b, len, (size_t)r);
                if (i >= len || b[i] != ':') return GW_JSON_ESYNTAX;
                i = skip_ws(b, len, i + 1);
            }
            r = scan_value(b, len, i, depth + 1);
            if (r < 0) return r;
            i = skip_ws(b, len, (size_t)r);
            if (i >= len) return GW_JSON_ESYNTAX;
            if (b[i] == close) return (long)(i + 1);
            if (b[i] != ',') return GW_JSON_ESYNTAX;
            i = skip_ws(b, len, i + 1);
        }
    }
    default:
        if (b[i] == '-' || (b[i] >= '0' && b[i] <= '9')) {
            r = scan_number(b, len, i);
            return r < 0 ? GW_JSON_ESYNTAX : r;
        }
        return GW_JSON_ESYNTAX;
    }
}

int gw_json_value(const char *buf, size_t len, size_t *pos, gw_span *out)
{
    if (!buf) return GW_JSON_ESYNTAX;
    size_t i = skip_ws(buf, len, *pos);
    long r = scan_value(buf, len, i, 0);
    if (r < 0) return (int)r;
    out->p = buf + i;
    out->len = (size_t)r - i;
    *pos = (size_t)r;
    return GW_JSON_OK;
}

int gw_json_parse_span(const char *buf, size_t len, gw_span *out)
{
    size_t pos = 0;
    int rc = gw_json_value(buf, len, &pos, out);
    if (rc != GW_JSON_OK) return rc;
    if (skip_ws(buf, len, pos) != len) return GW_JSON_ESYNTAX;
    return GW_JSON_OK;
}

gw_json_kind gw_json_kind_of(gw_span v)
{
    if (!v.p || v.len == 0) return GW_JSON_INVALID;
    switch (v.p[0]) {
    case '{':
        return GW_JSON_OBJECT;
    case '[':
        return GW_JSON_ARRAY;
    case '"':
        return GW_JSON_STRING;
    case 't':
        return GW_JSON_TRUE;
    case 'f':
        return GW_JSON_FALSE;
    case 'n':
        return GW_JSON_NULL;
    default:
        return (v.p[0] == '-' || (v.p[0] >= '0' && v.p[0] <= '9')) ? GW_JSON_NUMBER
                                                                   : GW_JSON_INVALID;
    }
}

/* Shared iterator over the members/elements of a container span. */
static int container_next(gw_span c, char open, size_t *iter, gw_span *key, gw_span *val)
{
    if (!c.p || c.len < 2 || c.p[0] != open) return GW_JSON_ETYPE;
    const char close = open == '{' ? '}' : ']';
    size_t i = *iter;
    if (i == 0) {
        i = skip_ws(c.p, c.len, 1);
        if (i < c.len && c.p[i] == close) {
            *iter = c.len;
            return 0;
        }
    } else if (i >= c.len) {
        return 0;
    }
    if (open == '{') {
        if (i >= c.len || c.p[i] != '"') return GW_JSON_ESYNTAX;
        long r = scan_string(c.p, c.len, i);
        if (r < 0) return GW_JSON_ESYNTAX;
        if (key) {
            key->p = c.p + i;
            key->len = (size_t)r - i;
        }
        i = skip_ws(c.p, c.len, (size_t)r);
        if (i >= c.len || c.p[i] != ':') return GW_JSON_ESYNTAX;
        i = skip_ws(c.p, c.len, i + 1);
    }
    long r = scan_value(c.p, c.len, i, 1);
    if (r < 0) return (int)r;
    val->p = c.p + i;
    val->len = (size_t)r - i;
    i = skip_ws(c.p, c.len, (size_t)r);
    if (i >= c.len) return GW_JSON_ESYNTAX;
    if (c.p[i] == close) {
        *iter = c.len;
    } else if (c.p[i] == ',') {
        *iter = skip_ws(c.p, c.len, i + 1);
    } else {
        return GW_JSON_ESYNTAX;
    }
    return 1;
}

int gw_json_object_next(gw_span obj, size_t *iter, gw_span *key, gw_span *val)
{
    return container_next(obj, '{', iter, key, val);
}

int gw_json_array_next(gw_span arr, size_t *iter, gw_span *elem)
{
    return container_next(arr, '[', iter, NULL, elem);
}

/* Compares a raw key span (with quotes) with s. */
static bool key_eq(gw_span key, const char *s, size_t slen)
{
    if (key.len < 2) return false;
    if (memchr(key.p + 1, '\\', key.len - 2) == NULL)
        return key.len - 2 == slen && memcmp(key.p + 1, s, slen) == 0;
    return gw_json_string_eq(key, s);
}

int gw_json_get(gw_span obj, const char *key, gw_span *val)
{
    if (gw_json_kind_of(obj) != GW_JSON_OBJECT) return GW_JSON_ETYPE;
    const size_t klen = strlen(key);
    size_t it = 0;
    gw_span k, v;
    int found = 0, rc;
    while ((rc = gw_json_object_next(obj, &it, &k, &v)) == 1) {
        if (key_eq(k, key, klen)) {
            *val = v;
            found = 1;
        }
    }
    return rc < 0 ? rc : found;
}

static size_t utf8_put(char *o, uint32_t cp)
{
    if (cp < 0x80) {
        o[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        o[0] = (char)(0xC0 | (cp >> 6));
        o[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        o[0] = (char)(0xE0 | (cp >> 12));
        o[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        o[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    o[0] = (char)(0xF0 | (cp >> 18));
    o[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    o[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    o[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

static uint32_t hex4(const char *p)
{
    return (uint32_t)(hexval(p[0]) << 12 | hexval(p[1]) << 8 | hexval(p[2]) << 4 | hexval(p[3]));
}

/* Decodes the escape at *pp (a validated string body, *pp < end, **pp == '\\') into tmp as
 * UTF-8 and advances *pp past it. Returns the byte count (1..4), or 0 for \u0000, which would
 * truncate C strings. Lone surrogates become U+FFFD. */
static size_t decode_escape(const char **pp, const char *end, char tmp[4])
{
    const char *p = *pp;
    char e = p[1];
    *pp = p + 2;
    switch (e) {
    case 'b':
        tmp[0] = '\b';
        return 1;
    case 'f':
        tmp[0] = '\f';
        return 1;
    case 'n':
        tmp[0] = '\n';
        return 1;
    case 'r':
        tmp[0] = '\r';
        return 1;
    case 't':
        tmp[0] = '\t';
        return 1;
    case 'u': {
        uint32_t cp = hex4(p + 2);
        p += 6;
        if (cp >= 0xD800 && cp <= 0xDBFF) {
            if (end - p >= 6 && p[0] == '\\' && p[1] == 'u') {
                uint32_t lo = hex4(p + 2);
                if (lo >= 0xDC00 && lo <= 0xDFFF) {
                    cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                    p += 6;
                } else {
                    cp = 0xFFFD;
                }
            } else {
                cp = 0xFFFD;
            }
        } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
            cp = 0xFFFD; /* lone low surrogate */
        }
        *pp = p;
        if (cp == 0) return 0;
        return utf8_put(tmp, cp);
    }
    default:
        tmp[0] = e; /* '"', '\\', '/' */
        return 1;
    }
}

int gw_json_string(gw_span v, char *out, size_t cap, size_t *out_len)
{
    if (gw_json_kind_of(v) != GW_JSON_STRING || v.len < 2) return GW_JSON_ETYPE;
    if (cap == 0) return GW_JSON_ETOOLONG;
    /* Validate even if the span came from elsewhere. */
    if (scan_string(v.p, v.len, 0) != (long)v.len) return GW_JSON_ESYNTAX;
    const char *p = v.p + 1, *end = v.p + v.len - 1;
    size_t n = 0;
    while (p < end) {
        if (*p != '\\') {
            const char *q = p;
            while (q < end && *q != '\\')
                q++;
            size_t run = (size_t)(q - p);
            if (n + run >= cap) return GW_JSON_ETOOLONG;
            memcpy(out + n, p, run);
            n += run;
            p = q;
            continue;
        }
        char tmp[4];
        size_t w = decode_escape(&p, end, tmp);
        if (w == 0) return GW_JSON_ERANGE; /* \u0000 would truncate C strings */
        if (n + w >= cap) return GW_JSON_ETOOLONG;
        memcpy(out + n, tmp, w);
        n += w;
    }
    out[n] = '\0';
    if (out_len) *out_len = n;
    return GW_JSON_OK;
}

/* Compares while decoding, so a string of any length can match (a fixed decode buffer made
 * every string of 256 bytes or more unequal to everything, itself included). */
bool gw_json_string_eq(gw_span v, const char *s)
{
    if (gw_json_kind_of(v) != GW_JSON_STRING || v.len < 2) return false;
    if (scan_string(v.p, v.len, 0) != (long)v.len) return false;
    const char *p = v.p + 1, *end = v.p + v.len - 1;
    const size_t slen = strlen(s);
    size_t n = 0;
    while (p < end) {
        if (*p != '\\') {
            const char *q = p;
            while (q < end && *q != '\\')
                q++;
            size_t run = (size_t)(q - p);
            if (run > slen - n || memcmp(s + n, p, run) != 0) return false;
            n += run;
            p = q;
            continue;
        }
        char tmp[4];
        size_t w = decode_escape(&p, end, tmp);
        if (w == 0 || w > slen - n || memcmp(s + n, tmp, w) != 0) return false;
        n += w;
    }
    return n == slen;
}

int gw_json_int64(gw_span v, int64_t *out)
{
    if (gw_json_kind_of(v) != GW_JSON_NUMBER) return GW_JSON_ETYPE;
    size_t i = 0;
    bool neg = false;
    if (v.p[0] == '-') {
        neg = true;
        i = 1;
    }
    if (i >= v.len) return GW_JSON_ESYNTAX;
    uint64_t acc = 0;
    const uint64_t limit = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
    for (; i < v.len; i++) {
        char c = v.p[i];
        if (c < '0' || c > '9') return GW_JSON_ETYPE; /* fraction or exponent */
        unsigned d = (unsigned)(c - '0');
        if (acc > (limit - d) / 10) return GW_JSON_ERANGE;
        acc = acc * 10 + d;
    }
    *out = neg ? (acc == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)acc) : (int64_t)acc;
    return GW_JSON_OK;
}

static int parse_u64_digits(const char *p, size_t n, uint64_t *out)
{
    int rc = util_dec_u64(p, n, out);
    return rc == UTIL_DEC_OK ? GW_JSON_OK : rc == UTIL_DEC_ERANGE ? GW_JSON_ERANGE : GW_JSON_ETYPE;
}

int gw_json_snowflake(gw_span v, uint64_t *out)
{
    uint64_t id;
    int rc;
    gw_json_kind k = gw_json_kind_of(v);
    if (k == GW_JSON_STRING) {
        if (v.len < 2) return GW_JSON_ESYNTAX;
        rc = parse_u64_digits(v.p + 1, v.len - 2, &id);
    } else if (k == GW_JSON_NUMBER) {
        rc = parse_u64_digits(v.p, v.len, &id);
    } else {
        return GW_JSON_ETYPE;
    }
    if (rc != GW_JSON_OK) return rc;
    if (id == 0) return GW_JSON_ERANGE;
    *out = id;
    return GW_JSON_OK;
}

int gw_json_escape(const char *s, char *out, size_t cap)
{
    static const char hex[] = "0123456789abcdef";
    size_t n = 0;
#define PUT(ch)                                                                                    \
    do {                                                                                           \
        if (n + 1 >= cap) return -1;                                                               \
        out[n++] = (ch);                                                                           \
    } while (0)
    PUT('"');
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        unsigned char c = *p;
        if (c == '"' || c == '\\') {
            PUT('\\');
            PUT((char)c);
        } else if (c < 0x20) {
            PUT('\\');
            PUT('u');
            PUT('0');
            PUT('0');
            PUT(hex[c >> 4]);
            PUT(hex[c & 15]);
        } else {
            PUT((char)c);
        }
    }
    PUT('"');
#undef PUT
    out[n] = '\0';
    return (int)n;
}

const char *gw_json_strerror(int err)
{
    switch (err) {
    case GW_JSON_OK:
        return "ok";
    case GW_JSON_ESYNTAX:
        return "malformed JSON";
    case GW_JSON_EDEPTH:
        return "JSON nested too deeply";
    case GW_JSON_ETYPE:
        return "unexpected JSON type";
    case GW_JSON_ERANGE:
        return "number out of range";
    case GW_JSON_ETOOLONG:
        return "string too long";
    default:
        return "unknown JSON error";
    }
}
