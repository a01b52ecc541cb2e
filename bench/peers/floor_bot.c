/*
 * floor_bot: a benchmark yardstick for bench_peers, NOT a bot. It measures the least CPU and
 * the fewest system calls any bot can spend per /stats interaction against the project's fake
 * Discord on this machine: one thread, libc only, one epoll loop, plain TCP on loopback, no
 * TLS, no gateway compression, no JSON library, no allocation per interaction. What fluxbot
 * (or discord.py) spends above this floor is its libraries and its own code; what the floor
 * spends is the kernel and the wire.
 *
 * It does exactly the Discord work of fluxbot's /stats in the benchmark's stats mix and
 * nothing else:
 *   GET /gateway/bot; the websocket handshake (RFC 6455 client: a random Sec-WebSocket-Key, its
 *   Sec-WebSocket-Accept checked, masked client frames); HELLO -> IDENTIFY; heartbeats at the
 *   interval HELLO asks (the first after interval × a random fraction, as Discord documents;
 *   a heartbeat asked with op 1 is sent at once); READY; the bulk PUT of its one command
 *   (bench_peers waits for it before it injects); then per INTERACTION_CREATE of /stats: the
 *   ephemeral deferral (type 5, flags 64) POSTed to /interactions/{id}/{token}/callback on a
 *   keep-alive HTTP/1.1 connection, its answer read, then a PATCH of
 *   /webhooks/{app}/{token}/messages/@original with an embed of the size and shape of
 *   fluxbot's /stats edit without the chart (src/discord/stats_reply.c), its answer read.
 *
 * It skips everything a real bot needs: TLS, rate limits (no bucket is read), RESUME and
 * reconnects (a close, op 7 or op 9 ends it), zlib-stream, retries, logging, statistics (the
 * embed is a constant), any command but /stats. Anything it does not handle ends it with a
 * message on stderr and exit status 1; it never guesses. Buffers are bounded; a short read or
 * a partial frame only waits for more bytes; HTTP bodies may be Content-Length, chunked or
 * until-close.
 *
 *   DISCORD_TOKEN=... DISCORD_API_BASE=http://127.0.0.1:PORT/api/v10 floor_bot
 *
 * Owner: the peers benchmark (bench/bench_peers.c runs it as the "floor" row). Not product code:
 * nothing in src/ may use it.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define GW_MAX (1u << 20)      /* largest gateway message (and frame payload) accepted */
#define HTTP_IN_MAX (1u << 16) /* largest HTTP response (headers + body) accepted */
#define HTTP_OUT_MAX 8192      /* largest request written */
#define MAX_CONNS 8            /* REST connections, opened as requests need them */
#define QUEUE_MAX 4096         /* requests waiting for a free connection */
#define TOKEN_MAX 200          /* an interaction token (Discord's are ~170 characters) */
#define IDLE_REOPEN_NS                                                                             \
    3000000000ull /* reopen a connection idle this long (the fake closes at 5 s) */

/* The /stats edit: what fluxbot sends with --stats-chart false (src/discord/stats_reply.c),
 * captured from the wire after 3000 /stats of 50 users in this benchmark: the same members in
 * the same order, the same size (~540 bytes). A constant, so the floor spends nothing on
 * statistics. */
static const char k_edit_body[] =
    "{\"content\":\"\",\"embeds\":[{\"title\":\"Usage Statistics (Last 7 Days)\","
    "\"timestamp\":\"2026-12-07T12:52:46.889Z\",\"color\":3447003,\"footer\":{\"text\":"
    "\"2026-11-30 12:53:00 UTC \u2192 2026-12-07 12:52:46 UTC\"},\"fields\":[{\"name\":"
    "\"Image Generation\",\"value\":\"No data\"},{\"name\":\"Command Usage\",\"value\":"
    "\"Total Commands: 3000\\nPopular Commands:\\n1. /stats \u2014 3000\\nButtons pressed: 0\"},"
    "{\"name\":\"User Activity\",\"value\":\"Total Users: 50\\nActive Users: 50 (5+ events)\"},"
    "{\"name\":\"Popular Resolutions\",\"value\":\"No data\"}]}],\"attachments\":[],"
    "\"allowed_mentions\":{\"parse\":[]}}";
static const char k_defer_body[] = "{\"type\":5,\"data\":{\"flags\":64}}";
static const char k_commands_body[] =
    "[{\"name\":\"stats\",\"type\":1,\"description\":\"Usage statistics\","
    "\"options\":[{\"name\":\"days\",\"description\":\"Days to cover\",\"type\":4,"
    "\"required\":false}]}]";

static void die(const char *fmt, ...) __attribute__((noreturn, format(printf, 1, 2)));
static void die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("floor_bot: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    exit(1);
}

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts); /* vDSO: no system call */
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void random_bytes(void *out, size_t n)
{
    if (getrandom(out, n, 0) != (ssize_t)n) die("getrandom: %s", strerror(errno));
}

/* ---- SHA-1 and base64 (the handshake's Sec-WebSocket-Accept) -------------------------------- */

static uint32_t rol(uint32_t x, int n)
{
    return (x << n) | (x >> (32 - n));
}

static void sha1(const uint8_t *msg, size_t len, uint8_t out[20])
{
    uint32_t h[5] = {0x67452301, 0xEFCDAB89, 0x98BADCFE, 0x10325476, 0xC3D2E1F0};
    size_t total = ((len + 8) / 64 + 1) * 64;
    uint8_t block[64];
    for (size_t off = 0; off < total; off += 64) {
        for (size_t i = 0; i < 64; i++) {
            size_t at = off + i;
            uint8_t b = 0;
            if (at < len)
                b = msg[at];
            else if (at == len)
                b = 0x80;
            else if (at >= total - 8)
                b = (uint8_t)(((uint64_t)len * 8) >> (8 * (total - 1 - at)));
            block[i] = b;
        }
        uint32_t w[80];
        for (int i = 0; i < 16; i++)
            w[i] = (uint32_t)block[4 * i] << 24 | (uint32_t)block[4 * i + 1] << 16 |
                   (uint32_t)block[4 * i + 2] << 8 | block[4 * i + 3];
        for (int i = 16; i < 80; i++)
            w[i] = rol(w[i - 3] ^ w[i - 8] ^ w[i - 14] ^ w[i - 16], 1);
        uint32_t a = h[0], b = h[1], c = h[2], d = h[3], e = h[4];
        for (int i = 0; i < 80; i++) {
            uint32_t f, k;
            if (i < 20)
                f = (b & c) | (~b & d), k = 0x5A827999;
            else if (i < 40)
                f = b ^ c ^ d, k = 0x6ED9EBA1;
            else if (i < 60)
                f = (b & c) | (b & d) | (c & d), k = 0x8F1BBCDC;
            else
                f = b ^ c ^ d, k = 0xCA62C1D6;
            uint32_t t = rol(a, 5) + f + e + k + w[i];
            e = d, d = c, c = rol(b, 30), b = a, a = t;
        }
        h[0] += a, h[1] += b, h[2] += c, h[3] += d, h[4] += e;
    }
    for (int i = 0; i < 5; i++)
        for (int j = 0; j < 4; j++)
            out[4 * i + j] = (uint8_t)(h[i] >> (24 - 8 * j));
}

static void base64(const uint8_t *in, size_t n, char *out)
{
    static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t o = 0;
    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t)in[i] << 16 | (i + 1 < n ? (uint32_t)in[i + 1] << 8 : 0) |
                     (i + 2 < n ? in[i + 2] : 0);
        out[o++] = tab[v >> 18];
        out[o++] = tab[(v >> 12) & 63];
        out[o++] = i + 1 < n ? tab[(v >> 6) & 63] : '=';
        out[o++] = i + 2 < n ? tab[v & 63] : '=';
    }
    out[o] = '\0';
}

/* ---- JSON: just enough to find members (no tree, no copies) ---------------------------------- */

static const char *js_ws(const char *p, const char *e)
{
    while (p < e && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r'))
        p++;
    return p;
}

/* p at '"': the byte after the closing quote, or NULL. */
static const char *js_str_end(const char *p, const char *e)
{
    for (p++; p < e; p++) {
        if (*p == '\\') {
            if (++p == e) return NULL;
        } else if (*p == '"') {
            return p + 1;
        }
    }
    return NULL;
}

/* The byte after the value at p, or NULL when it is malformed or nested deeper than 64. */
static const char *js_skip(const char *p, const char *e, int depth)
{
    p = js_ws(p, e);
    if (p == e || depth > 64) return NULL;
    if (*p == '"') return js_str_end(p, e);
    if (*p == '{' || *p == '[') {
        char close = *p == '{' ? '}' : ']';
        p = js_ws(p + 1, e);
        if (p < e && *p == close) return p + 1;
        for (;;) {
            if (close == '}') {
                if (p == e || *p != '"' || !(p = js_str_end(p, e))) return NULL;
                p = js_ws(p, e);
                if (p == e || *p++ != ':') return NULL;
            }
            if (!(p = js_skip(p, e, depth + 1))) return NULL;
            p = js_ws(p, e);
            if (p == e) return NULL;
            if (*p == close) return p + 1;
            if (*p++ != ',') return NULL;
            p = js_ws(p, e);
        }
    }
    const char *s = p; /* number, true, false, null */
    while (p < e && ((*p && strchr("+-.0123456789eE", *p)) || (*p >= 'a' && *p <= 'z')))
        p++;
    return p > s ? p : NULL;
}

/* The value of member key of the object at p (whitespace skipped), or NULL. Keys are compared
 * byte for byte (ours have no escapes). */
static const char *js_get(const char *p, const char *e, const char *key)
{
    size_t kl = strlen(key);
    p = p ? js_ws(p, e) : NULL;
    if (!p || p == e || *p != '{') return NULL;
    p = js_ws(p + 1, e);
    while (p < e && *p == '"') {
        const char *k = p + 1, *ke = js_str_end(p, e);
        if (!ke) return NULL;
        p = js_ws(ke, e);
        if (p == e || *p++ != ':') return NULL;
        p = js_ws(p, e);
        if ((size_t)(ke - 1 - k) == kl && memcmp(k, key, kl) == 0) return p;
        if (!(p = js_skip(p, e, 1))) return NULL;
        p = js_ws(p, e);
        if (p == e || *p != ',') return NULL;
        p = js_ws(p + 1, e);
    }
    return NULL;
}

/* A string value without escapes into out (NUL-terminated). False if v is not such a string
 * or does not fit. */
static bool js_str(const char *v, const char *e, char *out, size_t cap)
{
    if (!v || v == e || *v != '"') return false;
    const char *s = v + 1, *q = s;
    while (q < e && *q != '"' && *q != '\\')
        q++;
    if (q == e || *q != '"' || (size_t)(q - s) >= cap) return false;
    memcpy(out, s, (size_t)(q - s));
    out[q - s] = '\0';
    return true;
}

/* A non-negative integer value (-1 when v is not one, e.g. null). */
static long long js_int(const char *v, const char *e)
{
    if (!v || v == e || *v < '0' || *v > '9') return -1;
    long long n = 0;
    for (; v < e && *v >= '0' && *v <= '9'; v++) {
        if (n > (LLONG_MAX - 9) / 10) return -1;
        n = n * 10 + (*v - '0');
    }
    return n;
}

/* Characters that may go into a URL path or a JSON string unescaped. */
static bool plain_token(const char *t)
{
    if (!*t) return false;
    for (; *t; t++)
        if (!((*t >= 'a' && *t <= 'z') || (*t >= 'A' && *t <= 'Z') || (*t >= '0' && *t <= '9') ||
              *t == '_' || *t == '-' || *t == '.'))
            return false;
    return true;
}

/* ---- HTTP/1.1 responses ------------------------------------------------------------------------
 */

typedef struct http_resp {
    int status;
    size_t total;     /* bytes of the whole response (headers + framed body) */
    bool close;       /* Connection: close */
    const char *body; /* into the buffer; chunked bodies are not reassembled (not needed) */
} http_resp;

/* 1: a complete response in p[0..n) (out filled), 0: more bytes needed, -1: malformed (why set).
 * eof: the peer closed, which ends a body framed by the close. */
static int http_parse(const char *p, size_t n, bool eof, http_resp *out, const char **why)
{
    const char *e = p + n, *hend = NULL;
    for (const char *q = p; q + 4 <= e; q++)
        if (q[0] == '\r' && q[1] == '\n' && q[2] == '\r' && q[3] == '\n') {
            hend = q + 4;
            break;
        }
    if (!hend) return 0;
    if (n < 12 || memcmp(p, "HTTP/1.", 7) != 0 || p[8] != ' ' || p[9] < '1' || p[9] > '5' ||
        p[10] < '0' || p[10] > '9' || p[11] < '0' || p[11] > '9') {
        *why = "not an HTTP/1.x status line";
        return -1;
    }
    memset(out, 0, sizeof *out);
    out->status = (p[9] - '0') * 100 + (p[10] - '0') * 10 + (p[11] - '0');
    long long clen = -1;
    bool chunked = false;
    /* header lines: after the status line, up to the empty line (hend - 2) */
    for (const char *l = (const char *)memchr(p, '\n', (size_t)(hend - p)) + 1; l < hend - 2;) {
        const char *le = memchr(l, '\n', (size_t)(hend - l));
        if (!le) break;
        const char *colon = memchr(l, ':', (size_t)(le - l));
        if (colon) {
            size_t kl = (size_t)(colon - l);
            const char *v = colon + 1;
            while (v < le && (*v == ' ' || *v == '\t'))
                v++;
            if (kl == 14 && strncasecmp(l, "content-length", 14) == 0) {
                clen = js_int(v, le);
                if (clen < 0) {
                    *why = "bad Content-Length";
                    return -1;
                }
            } else if (kl == 17 && strncasecmp(l, "transfer-encoding", 17) == 0) {
                chunked = le - v >= 7 && strncasecmp(v, "chunked", 7) == 0;
                if (!chunked) {
                    *why = "a transfer coding other than chunked";
                    return -1;
                }
            } else if (kl == 10 && strncasecmp(l, "connection", 10) == 0) {
                out->close = le - v >= 5 && strncasecmp(v, "close", 5) == 0;
            }
        }
        l = le + 1;
    }
    out->body = hend;
    size_t hl = (size_t)(hend - p);
    if (out->status / 100 == 1) {
        *why = "an interim (1xx) response, never asked for";
        return -1;
    }
    if (out->status == 204 || out->status == 304) {
        out->total = hl;
        return 1;
    }
    if (chunked) {
        const char *q = hend;
        for (;;) {
            unsigned long long sz = 0;
            const char *d = q;
            while (d < e && ((*d >= '0' && *d <= '9') || (*d >= 'a' && *d <= 'f') ||
                             (*d >= 'A' && *d <= 'F'))) {
                if (sz > HTTP_IN_MAX) {
                    *why = "a chunk larger than the response limit";
                    return -1;
                }
                sz = sz * 16 + (unsigned)(*d <= '9' ? *d - '0' : (*d | 0x20) - 'a' + 10);
                d++;
            }
            const char *le = d < e ? memchr(d, '\n', (size_t)(e - d)) : NULL;
            if (!le) return eof ? (*why = "closed inside a chunk header", -1) : 0;
            if (d == q) {
                *why = "a chunk without a size";
                return -1;
            }
            q = le + 1;
            if (sz == 0) { /* trailers, up to the empty line */
                for (;;) {
                    const char *te = q < e ? memchr(q, '\n', (size_t)(e - q)) : NULL;
                    if (!te) return eof ? (*why = "closed inside the trailers", -1) : 0;
                    bool empty = te == q || (te == q + 1 && *q == '\r');
                    q = te + 1;
                    if (empty) break;
                }
                out->total = (size_t)(q - p);
                return 1;
            }
            if ((size_t)(e - q) < sz + 2) return eof ? (*why = "closed inside a chunk", -1) : 0;
            q += sz;
            if (q[0] != '\r' || q[1] != '\n') {
                *why = "a chunk not followed by CRLF";
                return -1;
            }
            q += 2;
        }
    }
    if (clen >= 0) {
        if ((unsigned long long)clen > HTTP_IN_MAX - hl) {
            *why = "a body larger than the response limit";
            return -1;
        }
        if (n - hl < (size_t)clen) return eof ? (*why = "closed inside the body", -1) : 0;
        out->total = hl + (size_t)clen;
        return 1;
    }
    /* neither: the body runs to the close */
    if (!eof) return 0;
    out->total = n;
    out->close = true;
    return 1;
}

/* ---- state -------------------------------------------------------------------------------------
 */

typedef enum req_kind { REQ_COMMANDS, REQ_DEFER, REQ_EDIT } req_kind;

typedef struct req {
    req_kind kind;
    char id[24];
    char token[TOKEN_MAX + 1];
} req;

typedef struct hconn {
    int fd; /* -1: closed */
    bool busy;
    req cur;
    uint64_t last_ns; /* when its last response ended */
    char out[HTTP_OUT_MAX];
    size_t out_len, out_off;
    char in[HTTP_IN_MAX];
    size_t in_len;
} hconn;

typedef struct gw {
    int fd;
    char *in; /* raw frames */
    size_t in_len;
    char *msg; /* the message being reassembled from fragments */
    size_t msg_len;
    bool in_msg;
    char out[4096]; /* frames not yet written (the socket was full) */
    size_t out_len;
    uint64_t hb_interval_ns, hb_next_ns;
    bool hb_acked;
    long long seq; /* -1: none yet */
} gw;

static struct {
    const char *token;
    struct sockaddr_in api; /* the REST server */
    char api_host[64];      /* its Host header */
    char api_prefix[128];   /* "/api/v10" */
    char app_id[24];        /* from READY */
    int ep;
    gw g;
    hconn conns[MAX_CONNS];
    req queue[QUEUE_MAX];
    unsigned q_head, q_len;
    unsigned long long answered;
} S;

/* ---- sockets ------------------------------------------------------------------------------------
 */

/* A blocking connect (loopback: immediate), then non-blocking with TCP_NODELAY. */
static int tcp_connect(const struct sockaddr_in *to, bool nonblock)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) die("socket: %s", strerror(errno));
    if (connect(fd, (const struct sockaddr *)to, sizeof *to) != 0)
        die("connect to %s:%u: %s", inet_ntoa(to->sin_addr), ntohs(to->sin_port), strerror(errno));
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (nonblock && fcntl(fd, F_SETFL, O_NONBLOCK) != 0) die("fcntl: %s", strerror(errno));
    return fd;
}

static void send_all_blocking(int fd, const char *p, size_t n)
{
    while (n) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) die("send: %s", strerror(errno));
        p += w, n -= (size_t)w;
    }
}

/* "http://A.B.C.D:PORT/prefix" into S.api, S.api_host, S.api_prefix. */
static void parse_api_base(const char *base)
{
    if (strncmp(base, "http://", 7) != 0)
        die("DISCORD_API_BASE must be http://IPv4:PORT/... (this yardstick speaks no TLS)");
    const char *h = base + 7, *slash = strchr(h, '/'), *colon = strchr(h, ':');
    if (!slash) slash = h + strlen(h);
    char host[64];
    if (!colon || colon > slash || (size_t)(colon - h) >= sizeof host)
        die("DISCORD_API_BASE needs an explicit IPv4 address and port");
    memcpy(host, h, (size_t)(colon - h));
    host[colon - h] = '\0';
    long port = strtol(colon + 1, NULL, 10);
    memset(&S.api, 0, sizeof S.api);
    S.api.sin_family = AF_INET;
    S.api.sin_port = htons((uint16_t)port);
    if (port <= 0 || port > 65535 || inet_pton(AF_INET, host, &S.api.sin_addr) != 1)
        die("DISCORD_API_BASE: bad address %s", host);
    snprintf(S.api_host, sizeof S.api_host, "%.*s", (int)(slash - h), h);
    size_t pl = strlen(slash);
    while (pl && slash[pl - 1] == '/')
        pl--;
    if (pl >= sizeof S.api_prefix) die("DISCORD_API_BASE: path too long");
    memcpy(S.api_prefix, slash, pl);
    S.api_prefix[pl] = '\0';
}

/* ---- the gateway -------------------------------------------------------------------------------
 */

static void ep_set(int fd, void *ptr, bool out)
{
    struct epoll_event ev = {.events = EPOLLIN | (out ? EPOLLOUT : 0), .data.ptr = ptr};
    if (epoll_ctl(S.ep, EPOLL_CTL_MOD, fd, &ev) != 0) die("epoll_ctl: %s", strerror(errno));
}

/* Writes what can be written now; the rest waits for EPOLLOUT. */
static void gw_flush(void)
{
    gw *g = &S.g;
    if (!g->out_len) return;
    ssize_t w = send(g->fd, g->out, g->out_len, MSG_NOSIGNAL);
    if (w < 0 && errno != EAGAIN && errno != EINTR) die("gateway send: %s", strerror(errno));
    if (w > 0) {
        memmove(g->out, g->out + w, g->out_len - (size_t)w);
        g->out_len -= (size_t)w;
        if (!g->out_len) ep_set(g->fd, g, false); /* it was waiting for EPOLLOUT */
        return;
    }
    ep_set(g->fd, g, true);
}

/* One masked client frame (RFC 6455 5.3: every client frame is masked, with a fresh key). */
static void gw_send(int opcode, const char *payload, size_t n)
{
    gw *g = &S.g;
    if (g->out_len + n + 8 > sizeof g->out) /* also keeps n within a 16-bit length */
        die("gateway: %zu bytes of frames would wait in the send buffer", g->out_len + n + 8);
    bool was_empty = g->out_len == 0;
    uint8_t *f = (uint8_t *)g->out + g->out_len, key[4];
    size_t h = 0;
    f[h++] = (uint8_t)(0x80 | opcode);
    if (n < 126) {
        f[h++] = (uint8_t)(0x80 | n);
    } else {
        f[h++] = 0x80 | 126;
        f[h++] = (uint8_t)(n >> 8);
        f[h++] = (uint8_t)n;
    }
    random_bytes(key, 4); /* a few frames a minute: the kernel's randomness is affordable */
    memcpy(f + h, key, 4);
    h += 4;
    for (size_t i = 0; i < n; i++)
        f[h + i] = (uint8_t)payload[i] ^ key[i & 3];
    g->out_len += h + n;
    if (was_empty) gw_flush();
}

static void gw_send_text(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void gw_send_text(const char *fmt, ...)
{
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof buf) die("gateway payload too long");
    gw_send(1, buf, (size_t)n);
}

static void heartbeat(void)
{
    gw *g = &S.g;
    if (!g->hb_acked) die("gateway: no heartbeat ACK since the last heartbeat (zombie connection)");
    g->hb_acked = false;
    if (g->seq >= 0)
        gw_send_text("{\"op\":1,\"d\":%lld}", g->seq);
    else
        gw_send_text("{\"op\":1,\"d\":null}");
    g->hb_next_ns = now_ns() + g->hb_interval_ns;
}

static void enqueue(req_kind kind, const char *id, const char *token);

static void on_dispatch(const char *t, size_t tl, const char *d, const char *e)
{
    if (tl == 5 && memcmp(t, "READY", 5) == 0) {
        if (!js_str(js_get(js_get(d, e, "application"), e, "id"), e, S.app_id, sizeof S.app_id))
            die("READY without application.id");
        printf("floor_bot ready (application %s)\n", S.app_id);
        fflush(stdout);
        enqueue(REQ_COMMANDS, "", "");
        return;
    }
    if (tl != 18 || memcmp(t, "INTERACTION_CREATE", 18) != 0) return; /* GUILD_CREATE ... */
    req r;
    char name[32];
    if (!js_str(js_get(d, e, "id"), e, r.id, sizeof r.id) ||
        !js_str(js_get(d, e, "token"), e, r.token, sizeof r.token) || !plain_token(r.token) ||
        !plain_token(r.id))
        die("INTERACTION_CREATE without a usable id and token");
    if (js_int(js_get(d, e, "type"), e) != 2 ||
        !js_str(js_get(js_get(d, e, "data"), e, "name"), e, name, sizeof name) ||
        strcmp(name, "stats") != 0)
        die("interaction %s is not /stats: this yardstick answers /stats only", r.id);
    enqueue(REQ_DEFER, r.id, r.token);
}

static void on_gateway_message(const char *p, size_t n)
{
    gw *g = &S.g;
    const char *e = p + n, *opv = js_get(p, e, "op");
    if (!opv || !js_skip(p, e, 0))
        die("gateway: not a JSON object: %.*s", (int)(n > 200 ? 200 : n), p);
    long long op = js_int(opv, e);
    const char *d = js_get(p, e, "d");
    switch (op) {
    case 0: {
        long long s = js_int(js_get(p, e, "s"), e);
        if (s > g->seq) g->seq = s;
        const char *t = js_get(p, e, "t"), *te = t && *t == '"' ? js_str_end(t, e) : NULL;
        if (!te || !d) die("gateway: a dispatch without t or d");
        on_dispatch(t + 1, (size_t)(te - t - 2), d, e);
        break;
    }
    case 1:
        g->hb_acked = true; /* asked for: send one now, whatever the last ACK */
        heartbeat();
        break;
    case 10: {
        long long iv = js_int(js_get(d, e, "heartbeat_interval"), e);
        if (iv <= 0 || iv > 3600000) die("HELLO without a usable heartbeat_interval");
        g->hb_interval_ns = (uint64_t)iv * 1000000ull;
        uint32_t r;
        random_bytes(&r, sizeof r);
        /* Discord: the first heartbeat after interval × jitter, jitter random in [0, 1) */
        g->hb_next_ns = now_ns() + (uint64_t)((double)g->hb_interval_ns * (r / 4294967296.0));
        g->hb_acked = true;
        gw_send_text("{\"op\":2,\"d\":{\"token\":\"%s\",\"intents\":1,\"properties\":{\"os\":"
                     "\"linux\",\"browser\":\"floor_bot\",\"device\":\"floor_bot\"}}}",
                     S.token);
        break;
    }
    case 11:
        g->hb_acked = true;
        break;
    case 7:
    case 9:
        die("gateway op %lld (reconnect / invalid session): this yardstick does not resume", op);
    default:
        die("gateway: unexpected op %lld", op);
    }
}

/* Parses every complete frame in the input buffer. */
static void gw_frames(void)
{
    gw *g = &S.g;
    size_t at = 0;
    for (;;) {
        const uint8_t *f = (const uint8_t *)g->in + at;
        size_t avail = g->in_len - at;
        if (avail < 2) break;
        int opcode = f[0] & 15;
        bool fin = f[0] & 0x80;
        if (f[0] & 0x70) die("gateway: a frame with RSV bits (no extension was negotiated)");
        if (f[1] & 0x80) die("gateway: a masked server frame (RFC 6455 5.1)");
        uint64_t len = f[1] & 127;
        size_t h = 2;
        if (len == 126) {
            if (avail < 4) break;
            len = (uint64_t)f[2] << 8 | f[3];
            h = 4;
        } else if (len == 127) {
            if (avail < 10) break;
            len = 0;
            for (int i = 0; i < 8; i++)
                len = len << 8 | f[2 + i];
            h = 10;
        }
        if (len > GW_MAX) die("gateway: a frame of %llu bytes", (unsigned long long)len);
        if (avail < h + len) break;
        const char *pl = (const char *)f + h;
        at += h + (size_t)len;
        switch (opcode) {
        case 0:
        case 1:
            if ((opcode == 1) == g->in_msg)
                die("gateway: a %s frame out of order", opcode ? "text" : "continuation");
            if (g->msg_len + len > GW_MAX) die("gateway: a message over %u bytes", GW_MAX);
            if (fin && !g->in_msg) {
                on_gateway_message(pl, (size_t)len); /* the common case: no copy */
                break;
            }
            memcpy(g->msg + g->msg_len, pl, (size_t)len);
            g->msg_len += (size_t)len;
            g->in_msg = !fin;
            if (fin) {
                on_gateway_message(g->msg, g->msg_len);
                g->msg_len = 0;
            }
            break;
        case 2:
            die("gateway: a binary frame (compression was not asked for)");
        case 8:
            die("gateway closed: code %d %.*s", len >= 2 ? (uint8_t)pl[0] << 8 | (uint8_t)pl[1] : 0,
                len > 2 ? (int)len - 2 : 0, pl + 2);
        case 9:
            if (!fin || len > 125) die("gateway: a bad ping frame");
            gw_send(10, pl, (size_t)len);
            break;
        case 10:
            break;
        default:
            die("gateway: frame opcode %d", opcode);
        }
    }
    if (at) {
        memmove(g->in, g->in + at, g->in_len - at);
        g->in_len -= at;
    }
}

static void gw_on_event(uint32_t events)
{
    gw *g = &S.g;
    if (events & EPOLLOUT) gw_flush();
    if (!(events & (EPOLLIN | EPOLLHUP | EPOLLERR))) return;
    size_t room = GW_MAX + 14 - g->in_len;
    if (!room) die("gateway: input buffer full");
    ssize_t r = recv(g->fd, g->in + g->in_len, room, 0);
    if (r == 0) die("gateway: the server closed the connection");
    if (r < 0) {
        if (errno == EAGAIN || errno == EINTR) return;
        die("gateway recv: %s", strerror(errno));
    }
    g->in_len += (size_t)r;
    gw_frames();
}

/* GET /gateway/bot on a connection of its own (start-up: blocking). url gets its "url". */
static void gateway_url(char *url, size_t cap)
{
    int fd = tcp_connect(&S.api, false);
    char buf[4096];
    int n = snprintf(buf, sizeof buf,
                     "GET %s/gateway/bot HTTP/1.1\r\nHost: %s\r\nAuthorization: Bot %s\r\n"
                     "User-Agent: DiscordBot (floor_bot, 1)\r\nConnection: close\r\n\r\n",
                     S.api_prefix, S.api_host, S.token);
    if (n < 0 || (size_t)n >= sizeof buf) die("GET /gateway/bot: request too long");
    send_all_blocking(fd, buf, (size_t)n);
    size_t len = 0;
    http_resp hr;
    const char *why = "";
    int rc;
    for (;;) {
        if (len == sizeof buf) die("GET /gateway/bot: answer over %zu bytes", sizeof buf);
        ssize_t r = recv(fd, buf + len, sizeof buf - len, 0);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) die("GET /gateway/bot: %s", strerror(errno));
        len += (size_t)r;
        if ((rc = http_parse(buf, len, r == 0, &hr, &why)) != 0) break;
        if (r == 0) die("GET /gateway/bot: closed before the answer was complete");
    }
    close(fd);
    if (rc < 0) die("GET /gateway/bot: %s", why);
    if (hr.status != 200) die("GET /gateway/bot: HTTP %d", hr.status);
    /* a chunked body would need reassembly first; the fake sends Content-Length */
    if (!js_str(js_get(hr.body, buf + hr.total, "url"), buf + hr.total, url, cap))
        die("GET /gateway/bot: no url in the answer");
}

/* Connects the gateway ("ws://A.B.C.D:PORT[/path]"), handshakes, leaves any bytes after the
 * 101's headers (HELLO may come with it) in g->in. */
static void gw_connect(const char *url)
{
    gw *g = &S.g;
    if (strncmp(url, "ws://", 5) != 0) die("gateway url %s: only ws:// (no TLS here)", url);
    const char *h = url + 5, *colon = strchr(h, ':'), *slash = strchr(h, '/');
    if (!slash) slash = h + strlen(h);
    char host[64];
    if (!colon || colon > slash || (size_t)(colon - h) >= sizeof host)
        die("gateway url %s: needs an IPv4 address and port", url);
    memcpy(host, h, (size_t)(colon - h));
    host[colon - h] = '\0';
    struct sockaddr_in to = {.sin_family = AF_INET,
                             .sin_port = htons((uint16_t)strtol(colon + 1, NULL, 10))};
    if (inet_pton(AF_INET, host, &to.sin_addr) != 1) die("gateway url %s: bad address", url);
    g->fd = tcp_connect(&to, false);

    uint8_t nonce[16], digest[20];
    char key[32], accept_want[32], buf[2048];
    random_bytes(nonce, sizeof nonce);
    base64(nonce, sizeof nonce, key);
    char concat[96];
    int cl = snprintf(concat, sizeof concat, "%s258EAFA5-E914-47DA-95CA-C5AB0DC85B11", key);
    sha1((const uint8_t *)concat, (size_t)cl, digest);
    base64(digest, sizeof digest, accept_want);
    const char *path = *slash ? slash : "/";
    size_t pl = strcspn(path, "?");
    int n = snprintf(buf, sizeof buf,
                     "GET %.*s?v=10&encoding=json HTTP/1.1\r\nHost: %.*s\r\nUpgrade: websocket\r\n"
                     "Connection: Upgrade\r\nSec-WebSocket-Key: %s\r\n"
                     "Sec-WebSocket-Version: 13\r\nUser-Agent: DiscordBot (floor_bot, 1)\r\n\r\n",
                     (int)pl, path, (int)(slash - h), h, key);
    if (n < 0 || (size_t)n >= sizeof buf) die("gateway url too long");
    send_all_blocking(g->fd, buf, (size_t)n);

    size_t len = 0;
    const char *hend = NULL;
    while (!hend) {
        if (len == sizeof buf) die("gateway handshake: answer headers over %zu bytes", sizeof buf);
        ssize_t r = recv(g->fd, buf + len, sizeof buf - len, 0);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) die("gateway handshake: %s", r ? strerror(errno) : "closed");
        len += (size_t)r;
        for (size_t i = 0; i + 4 <= len; i++)
            if (!memcmp(buf + i, "\r\n\r\n", 4)) {
                hend = buf + i + 4;
                break;
            }
    }
    if (len < 12 || memcmp(buf, "HTTP/1.1 101", 12) != 0)
        die("gateway handshake: not 101: %.*s", (int)strcspn(buf, "\r\n"), buf);
    /* Sec-WebSocket-Accept must be the hash of our key (RFC 6455 4.1) */
    bool accepted = false;
    for (const char *l = buf; l < hend;) {
        const char *le = memchr(l, '\n', (size_t)(hend - l));
        if (!le) break;
        if (le - l > 21 && !strncasecmp(l, "sec-websocket-accept:", 21)) {
            const char *v = l + 21;
            while (*v == ' ')
                v++;
            size_t al = strlen(accept_want);
            accepted = (size_t)(le - v) >= al && !memcmp(v, accept_want, al);
        }
        l = le + 1;
    }
    if (!accepted) die("gateway handshake: missing or wrong Sec-WebSocket-Accept");
    if (!(g->in = malloc(GW_MAX + 14)) || !(g->msg = malloc(GW_MAX))) die("out of memory");
    g->in_len = len - (size_t)(hend - buf);
    memcpy(g->in, hend, g->in_len);
    g->seq = -1;
    if (fcntl(g->fd, F_SETFL, O_NONBLOCK) != 0) die("fcntl: %s", strerror(errno));
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = g};
    if (epoll_ctl(S.ep, EPOLL_CTL_ADD, g->fd, &ev) != 0) die("epoll_ctl: %s", strerror(errno));
}

/* ---- REST ---------------------------------------------------------------------------------- */

static void conn_close(hconn *c)
{
    close(c->fd); /* also leaves the epoll set */
    c->fd = -1;
    c->in_len = 0;
}

static void conn_write(hconn *c)
{
    while (c->out_off < c->out_len) {
        ssize_t w = send(c->fd, c->out + c->out_off, c->out_len - c->out_off, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR) continue;
        if (w < 0 && errno == EAGAIN) {
            ep_set(c->fd, c, true);
            return;
        }
        if (w < 0) die("REST send: %s", strerror(errno));
        c->out_off += (size_t)w;
    }
}

/* Starts r on c (open, idle): writes the whole request. */
static void conn_start(hconn *c, const req *r)
{
    const char *method, *body;
    char path[320];
    switch (r->kind) {
    case REQ_COMMANDS:
        method = "PUT", body = k_commands_body;
        snprintf(path, sizeof path, "/applications/%s/commands", S.app_id);
        break;
    case REQ_DEFER:
        method = "POST", body = k_defer_body;
        snprintf(path, sizeof path, "/interactions/%s/%s/callback", r->id, r->token);
        break;
    default:
        method = "PATCH", body = k_edit_body;
        snprintf(path, sizeof path, "/webhooks/%s/%s/messages/@original", S.app_id, r->token);
        break;
    }
    size_t bl = strlen(body);
    /* the bot's token only where Discord needs it: interaction routes authenticate by theirs */
    char auth[300] = "";
    if (r->kind == REQ_COMMANDS) snprintf(auth, sizeof auth, "Authorization: Bot %s\r\n", S.token);
    int n = snprintf(c->out, sizeof c->out,
                     "%s %s%s HTTP/1.1\r\nHost: %s\r\n%sUser-Agent: DiscordBot (floor_bot, 1)\r\n"
                     "Content-Type: application/json\r\nContent-Length: %zu\r\n\r\n%s",
                     method, S.api_prefix, path, S.api_host, auth, bl, body);
    if (n < 0 || (size_t)n >= sizeof c->out) die("a request over %d bytes", HTTP_OUT_MAX);
    c->out_len = (size_t)n;
    c->out_off = 0;
    c->busy = true;
    c->cur = *r;
    conn_write(c);
}

/* An idle connection for a request (opened if none is; NULL when all are busy). */
static hconn *conn_free(void)
{
    uint64_t now = now_ns();
    hconn *closed = NULL;
    for (unsigned i = 0; i < MAX_CONNS; i++) {
        hconn *c = &S.conns[i];
        /* a connection idle for long may be closing on the server's side right now: a request
         * written into that race would be lost, so it is not reused */
        if (c->fd >= 0 && !c->busy && now - c->last_ns > IDLE_REOPEN_NS) conn_close(c);
        if (c->fd >= 0 && !c->busy) return c;
        if (c->fd < 0 && !closed) closed = c;
    }
    if (!closed) return NULL;
    closed->fd = tcp_connect(&S.api, true);
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = closed};
    if (epoll_ctl(S.ep, EPOLL_CTL_ADD, closed->fd, &ev) != 0) die("epoll_ctl: %s", strerror(errno));
    return closed;
}

static void enqueue(req_kind kind, const char *id, const char *token)
{
    req r = {.kind = kind};
    snprintf(r.id, sizeof r.id, "%s", id);
    snprintf(r.token, sizeof r.token, "%s", token);
    hconn *c = S.q_len ? NULL : conn_free();
    if (c) {
        conn_start(c, &r);
        return;
    }
    if (S.q_len == QUEUE_MAX) die("more than %d requests waiting for a connection", QUEUE_MAX);
    S.queue[(S.q_head + S.q_len++) % QUEUE_MAX] = r;
}

static void on_response(hconn *c, const http_resp *hr)
{
    req r = c->cur;
    static const char *const what[] = {"PUT commands", "the deferral", "the edit"};
    size_t bl = hr->total - (size_t)(hr->body - c->in);
    if (hr->status / 100 != 2)
        die("%s (interaction %s): HTTP %d: %.*s", what[r.kind], r.id, hr->status,
            (int)(bl > 300 ? 300 : bl), hr->body);
    if (r.kind == REQ_DEFER) enqueue(REQ_EDIT, r.id, r.token);
    if (r.kind == REQ_EDIT) S.answered++;
}

static void conn_on_event(hconn *c, uint32_t events)
{
    if (c->fd < 0) return; /* closed earlier in this batch of events */
    if (events & EPOLLOUT) {
        conn_write(c);
        if (c->out_off == c->out_len) ep_set(c->fd, c, false);
    }
    if (!(events & (EPOLLIN | EPOLLHUP | EPOLLERR))) return;
    if (c->in_len == sizeof c->in) die("REST: an answer over %u bytes", HTTP_IN_MAX);
    ssize_t r = recv(c->fd, c->in + c->in_len, sizeof c->in - c->in_len, 0);
    if (r < 0) {
        if (errno == EAGAIN || errno == EINTR) return;
        die("REST recv: %s", strerror(errno));
    }
    c->in_len += (size_t)r;
    if (!c->busy) {
        if (r == 0) { /* the server ended an idle keep-alive connection */
            conn_close(c);
            return;
        }
        die("REST: %zd bytes nobody asked for", r);
    }
    http_resp hr;
    const char *why = "";
    int rc = http_parse(c->in, c->in_len, r == 0, &hr, &why);
    if (rc < 0) die("REST answer: %s", why);
    if (rc == 0) {
        if (r == 0) die("REST: the server closed the connection before answering");
        return;
    }
    if (hr.total != c->in_len) die("REST: bytes after the answer (no request was pipelined)");
    on_response(c, &hr);
    c->busy = false;
    c->in_len = 0;
    c->last_ns = now_ns();
    if (hr.close || r == 0) conn_close(c);
    if (S.q_len) {
        hconn *n = conn_free();
        if (n) {
            conn_start(n, &S.queue[S.q_head]);
            S.q_head = (S.q_head + 1) % QUEUE_MAX;
            S.q_len--;
        }
    }
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    S.token = getenv("DISCORD_TOKEN");
    const char *base = getenv("DISCORD_API_BASE");
    if (!S.token || !plain_token(S.token) || strlen(S.token) > 200)
        die("DISCORD_TOKEN must be set (letters, digits, '.', '_', '-')");
    if (!base) die("DISCORD_API_BASE must be set (http://IPv4:PORT/api/v10)");
    parse_api_base(base);
    for (unsigned i = 0; i < MAX_CONNS; i++)
        S.conns[i].fd = -1;
    S.ep = epoll_create1(EPOLL_CLOEXEC);
    if (S.ep < 0) die("epoll_create1: %s", strerror(errno));

    char url[256];
    gateway_url(url, sizeof url);
    gw_connect(url);
    gw_frames(); /* HELLO may have come with the handshake's answer */

    struct epoll_event evs[32];
    for (;;) {
        int timeout = -1;
        if (S.g.hb_interval_ns) {
            uint64_t now = now_ns();
            if (now >= S.g.hb_next_ns) {
                heartbeat();
                continue;
            }
            timeout = (int)((S.g.hb_next_ns - now + 999999) / 1000000);
        }
        int n = epoll_wait(S.ep, evs, 32, timeout);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) die("epoll_wait: %s", strerror(errno));
        for (int i = 0; i < n; i++) {
            if (evs[i].data.ptr == &S.g)
                gw_on_event(evs[i].events);
            else
                conn_on_event(evs[i].data.ptr, evs[i].events);
        }
    }
}
