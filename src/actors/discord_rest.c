/*
 * The discord_rest actor (see discord_rest.h). Owns the curl multi handle, the queue of
 * requests waiting for the rate limiter, the transfers in flight and the limiter itself;
 * everything here runs in the actor's turn on its scheduler worker (runtime.h, "I/O on a
 * scheduler worker") except discord_rest_new/discord_rest_free and the atomic counters.
 *
 * The actor has no event loop of its own: its worker's epoll_wait watches the sockets curl asks
 * to watch (curl's socket callback → rt_io_ctl) and sleeps until the earliest of curl's timer,
 * the limiter's next deadline and the stop deadline (rt_io_deadline). Messages (on_message),
 * ready sockets (on_io, each handed to curl_multi_socket_action for that socket only) and the
 * deadline (on_deadline) all end in one turn (rest_turn): hand queued requests the limiter lets
 * go to curl (in arrival order), run curl's expired timer, settle finished transfers (retry,
 * answer or fail), and set the next deadline. On the shared worker with the router and the
 * stats reporter, a request from them, its answer back and the next request are calls on one
 * thread that wake nobody; given a worker of its own (sched_actors without discord_rest), it
 * runs the same code on that thread.
 */
#include "actors/discord_rest.h"
#include "util/util_http.h"
#include "util/util_str.h"
#include "util/util_curl.h"

#include <errno.h>
#include <inttypes.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <curl/curl.h>

#include "discord/cmd.h"
#include "discord/rest_form.h"
#include "discord/rest_order.h"
#include "util/util_hash.h"
#include "fluxbot/log.h"
#include "msgs/rest.h"

#define ACTOR DISCORD_REST_ACTOR_NAME
#define POOL_MAX 64
#define TARGET_SLOTS 256
#define CLOSED_MAX 1024
#define CLOSED_SLOTS 2048
#define RQ_SPARE_MAX 64
/* Requests with files up to this many bytes send one form body built in memory (rest_form.h);
 * larger ones stream their files through curl_mime instead of holding a second copy. */
#define FORM_INLINE_MAX (1024 * 1024)
/* A message whose final write went out stays closed this long: longer than an interaction
 * token lives (15 min), after which nobody can write to an @original anyway. */
#define CLOSED_KEEP_MS (20 * 60 * 1000)

static const char SUPERSEDED[] = "superseded by the message's final write";

/* The fields before t start zeroed (rq_accept); t, h and errbuf (most of the size) are
 * initialized by their own functions. */
typedef struct rq {
    struct rq *prev, *next; /* queue links */
    rest_req_msg *m;        /* owned */
    CURL *easy;
    CURLU *url; /* the URL handle that goes with easy (see easy_slot) */
    curl_mime *mime;
    char *form;              /* owned: the form body sent with POSTFIELDS (rest_form.h) */
    struct curl_slist *hdrs; /* owned: only for requests with an audit reason or their own
                                form boundary */
    char *resp;
    size_t resp_len, resp_cap, max_resp;
    bool too_big;
    /* Per-message order (see rest_order.h): target is the message this request writes to (NULL:
     * unordered); o_prev/o_next link the outstanding writes to it, oldest first, and only the
     * oldest may be sent; t_next chains the newest write of each target in its table slot. */
    char *target;
    uint64_t target_hash;
    struct rq *o_prev, *o_next, *t_next;
    bool in_flight;
    rl_ticket t;
    rl_headers h;
    char errbuf[CURL_ERROR_SIZE];
} rq;

/* A file part's read cursor, so uploads stream from the message without a copy. */
typedef struct part_src {
    const uint8_t *data;
    size_t len, off;
} part_src;

struct discord_rest {
    discord_rest_config cfg;
    char *api_base;
    char *auth_header; /* "Authorization: Bot <token>": a secret */
    rt_system *sys;
    rt_actor *actor;
    CURLM *multi;
    rl_limiter *rl;
    /* Between on_thread_start and on_thread_exit: curl's socket callback registers with the
     * worker. Outside (curl_multi_cleanup in discord_rest_free) there is no worker to tell:
     * the sockets were taken out of its set at exit. */
    bool attached;
    bool stopping;          /* a stop was requested: finish, then exit */
    bool held;              /* rt_actor_hold while stopping with requests left */
    uint64_t stop_deadline; /* ms: what is left then is answered "shutting down" */
    uint64_t curl_timer_at; /* when curl wants CURL_SOCKET_TIMEOUT (ms); UINT64_MAX: never */
    /* Header lists shared by every request without an audit reason, indexed by
     * (authorized ? 4 : 0) | body, body being HDR_NONE, HDR_JSON or HDR_FORM (a form body
     * with the process's boundary); built once, read-only afterwards. */
    struct curl_slist *hdr_sets[8];
    /* The epoll registration of each descriptor curl watches, indexed by descriptor. */
    struct sock_reg *socks;
    size_t nsocks;
    char boundary[REST_FORM_BOUNDARY_LEN + 1];
    cmd_dms_fn dms_allowed; /* commands registered as usable in DMs */
    void *dms_ctx;

    rq *head, *tail;   /* waiting for the limiter, oldest first */
    rq *fhead, *ftail; /* in flight */
    size_t npending, ninflight;
    bool dirty; /* something changed: run the scheduler again before sleeping */
    struct easy_slot {
        CURL *easy;
        CURLU *url; /* a copy of base_url (NULL without it), its path and query per request */
    } pool[POOL_MAX];
    unsigned npool;
    /* The API base parsed once (scheme, host, port). Every pooled handle keeps a copy of it
     * (easy_slot.url) and a request sets only its path and query on that copy
     * (CURLOPT_CURLU), where CURLOPT_URL alone makes curl parse the whole URL and print it
     * back (its own printf, byte by byte) for every request. NULL when the base cannot take
     * that shortcut (a query, fragment or credentials in it): requests then go by CURLOPT_URL
     * alone. */
    CURLU *base_url;
    char *base_path; /* the base's path without a trailing '/' ("/api/v10", or "") */
    bool fatal_reported;
    bool https;              /* api_base is https:// (HTTP/2 may multiplex) */
    rq *tails[TARGET_SLOTS]; /* newest outstanding write per target, hashed */
    struct closed_target {   /* messages whose final write was accepted (ring) */
        uint64_t hash, at_ms;
        char *target;
        int next; /* the next entry in the same closed_slots chain, or -1 */
    } closed[CLOSED_MAX];
    /* The ring's entries chained by hash (first entry index, -1: none), so that a write looks
     * up its message in a chain of about one entry instead of scanning the ring. */
    int closed_slots[CLOSED_SLOTS];
    unsigned closed_next;
    /* Finished requests kept for the next ones: an rq is just over glibc's thread-cache
     * size limit, and every malloc of one took the allocator's slow path. */
    rq *rq_spare;
    unsigned nspare;

    _Atomic uint64_t requests, attempts, completed, failed, retries;
    _Atomic uint64_t r429_user, r429_global, r429_shared, network_errors, wait_ms;
    _Atomic uint64_t pending_n, inflight_n, bytes_out, bytes_in, superseded;
    _Atomic bool fatal;
};

enum { HDR_NONE = 0, HDR_JSON = 1, HDR_FORM = 2, HDR_AUTH = 4 };

/* What epoll has for one descriptor. A connection socket (one this actor opened for curl, and
 * whose close it sees) stays registered while curl keeps the connection idle in its cache: the
 * next request on it usually wants the same events, and then costs no epoll_ctl, instead of a
 * DEL when a transfer ends and an ADD when the next begins. */
struct sock_reg {
    uint32_t events; /* registered events (EPOLLIN/EPOLLOUT), when registered */
    bool registered; /* in the epoll set */
    bool ours;       /* opened by open_socket: its close goes through close_socket */
    bool curl_wants; /* curl watches it now (between its callback's IN/OUT and REMOVE) */
};

/* ---- lists ---------------------------------------------------------------------------------- */

/* A request is on exactly one list at a time: queued (waiting) or in flight. */
static void l_push(rq **head, rq **tail, rq *r, bool front)
{
    if (front) {
        r->prev = NULL;
        r->next = *head;
        if (*head)
            (*head)->prev = r;
        else
            *tail = r;
        *head = r;
    } else {
        r->next = NULL;
        r->prev = *tail;
        if (*tail)
            (*tail)->next = r;
        else
            *head = r;
        *tail = r;
    }
}

static void l_unlink(rq **head, rq **tail, rq *r)
{
    if (r->prev)
        r->prev->next = r->next;
    else
        *head = r->next;
    if (r->next)
        r->next->prev = r->prev;
    else
        *tail = r->prev;
    r->prev = r->next = NULL;
}

static void q_push_back(discord_rest *d, rq *r)
{
    l_push(&d->head, &d->tail, r, false);
    atomic_store(&d->pending_n, ++d->npending);
}

static void q_push_front(discord_rest *d, rq *r)
{
    l_push(&d->head, &d->tail, r, true);
    atomic_store(&d->pending_n, ++d->npending);
}

static void q_unlink(discord_rest *d, rq *r)
{
    l_unlink(&d->head, &d->tail, r);
    atomic_store(&d->pending_n, --d->npending);
}

static void f_push(discord_rest *d, rq *r)
{
    r->in_flight = true;
    l_push(&d->fhead, &d->ftail, r, false);
    atomic_store(&d->inflight_n, ++d->ninflight);
}

static void f_unlink(discord_rest *d, rq *r)
{
    r->in_flight = false;
    l_unlink(&d->fhead, &d->ftail, r);
    atomic_store(&d->inflight_n, --d->ninflight);
}

static void rq_accept(discord_rest *d, rt_msg *m);

/* ---- per-message order ---------------------------------------------------------------------- */

/* The table link that points at r, the newest write to its message. */
static rq **tail_slot(discord_rest *d, const rq *r)
{
    rq **pp = &d->tails[r->target_hash % TARGET_SLOTS];
    while (*pp && *pp != r)
        pp = &(*pp)->t_next;
    return pp;
}

static rq *tail_find(discord_rest *d, const rq *r)
{
    for (rq *t = d->tails[r->target_hash % TARGET_SLOTS]; t; t = t->t_next)
        if (t->target_hash == r->target_hash && strcmp(t->target, r->target) == 0) return t;
    return NULL;
}

/* Appends r (target set) as the newest outstanding write to its message. */
static void order_link(discord_rest *d, rq *r)
{
    rq *tail = tail_find(d, r);
    if (tail) {
        rq **pp = tail_slot(d, tail);
        *pp = r;
        r->t_next = tail->t_next;
        tail->t_next = NULL;
        tail->o_next = r;
        r->o_prev = tail;
    } else {
        rq **slot = &d->tails[r->target_hash % TARGET_SLOTS];
        r->t_next = *slot;
        *slot = r;
    }
}

/* Removes r from its message's chain (any position); the next write may then be sent. */
static void order_unlink(discord_rest *d, rq *r)
{
    if (!r->target) return;
    if (!r->o_next) {
        rq **pp = tail_slot(d, r);
        if (r->o_prev) {
            *pp = r->o_prev;
            r->o_prev->t_next = r->t_next;
        } else {
            *pp = r->t_next;
        }
    } else {
        r->o_next->o_prev = r->o_prev;
        d->dirty = true;
    }
    if (r->o_prev) r->o_prev->o_next = r->o_next;
    r->o_prev = r->o_next = r->t_next = NULL;
    free(r->target);
    r->target = NULL;
}

static bool closed_has(discord_rest *d, const rq *r, uint64_t now)
{
    for (int i = d->closed_slots[r->target_hash % CLOSED_SLOTS]; i >= 0; i = d->closed[i].next) {
        const struct closed_target *c = &d->closed[i];
        if (c->target && c->hash == r->target_hash && now - c->at_ms < CLOSED_KEEP_MS &&
            strcmp(c->target, r->target) == 0)
            return true;
    }
    return false;
}

static void closed_add(discord_rest *d, const rq *r, uint64_t now)
{
    int idx = (int)d->closed_next;
    struct closed_target *c = &d->closed[idx];
    d->closed_next = (d->closed_next + 1) % CLOSED_MAX;
    if (c->target) { /* the oldest entry makes room: out of its chain first */
        int *pp = &d->closed_slots[c->hash % CLOSED_SLOTS];
        while (*pp != idx)
            pp = &d->closed[*pp].next;
        *pp = c->next;
        free(c->target);
    }
    c->target = util_strdup(r->target);
    c->hash = r->target_hash;
    c->at_ms = now;
    int *head = &d->closed_slots[c->hash % CLOSED_SLOTS];
    c->next = *head;
    *head = idx;
}

/* ---- answering --------------------------------------------------------------------------------
 */

static bool is_success(int status)
{
    return status >= 200 && status < 400;
}

/* Answers the requester (or logs a failure) and frees the request. */
static void finish(discord_rest *d, rq *r, int status, const char *error)
{
    if (is_success(status))
        atomic_fetch_add(&d->completed, 1);
    else
        atomic_fetch_add(&d->failed, 1);
    atomic_fetch_add(&d->wait_ms, r->t.waited_ms);
    rest_req_msg *m = r->m;
    if (m->reply_to) {
        /* The body moves into the reply (it is NUL-terminated): no second copy. */
        rest_res_msg *res = rest_res_msg_new(m->cookie, status, NULL, 0);
        res->body = r->resp;
        res->body_len = r->resp ? r->resp_len : 0;
        r->resp = NULL;
        if (error) snprintf(res->error, sizeof res->error, "%s", error);
        if (rt_send_spill(m->reply_to, &res->hdr) != 0) rt_msg_free(&res->hdr);
    } else if (error == SUPERSEDED) {
        LOG_DEBUG(ACTOR, "%s: %s", r->t.route.key, error);
    } else if (!is_success(status)) {
        /* Route, not path: paths hold interaction tokens. */
        char excerpt[160] = "";
        if (r->resp_len)
            snprintf(excerpt, sizeof excerpt, "%.*s", (int)(r->resp_len < 150 ? r->resp_len : 150),
                     r->resp);
        LOG_WARN(ACTOR, "%s failed: status %d%s%s %s", r->t.route.key, status, error ? ": " : "",
                 error ? error : "", excerpt);
    }
    order_unlink(d, r);
    rest_req_msg *then = m->then;
    m->then = NULL;
    free(r->resp);
    rt_msg_free(&m->hdr);
    if (d->nspare < RQ_SPARE_MAX) {
        r->next = d->rq_spare;
        d->rq_spare = r;
        d->nspare++;
    } else {
        free(r);
    }
    if (then) rq_accept(d, &then->hdr);
}

static void report_fatal(discord_rest *d)
{
    atomic_store(&d->fatal, true);
    if (d->fatal_reported) return;
    d->fatal_reported = true;
    LOG_ERROR(ACTOR, "Discord rejected the bot token (HTTP 401 Unauthorized). The token in "
                     "DISCORD_TOKEN / discord_token is wrong, was reset, or belongs to another "
                     "application: copy a fresh one from the Developer Portal (Bot -> Reset "
                     "Token). Stopping the bot.");
    rt_system_request_exit(d->sys, d->cfg.fatal_exit_code);
}

/* ---- curl plumbing ------------------------------------------------------------------------------
 */

static size_t on_body(char *p, size_t sz, size_t n, void *ud)
{
    rq *r = ud;
    size_t k = sz * n;
    if (r->resp_len + k > r->max_resp) {
        r->too_big = true;
        return 0; /* aborts the transfer */
    }
    if (r->resp_len + k > r->resp_cap) {
        size_t want = (r->resp_len + k) * 2 + 256;
        char *nb = realloc(r->resp, want + 1);
        if (!nb) return 0;
        r->resp = nb;
        r->resp_cap = want;
    }
    memcpy(r->resp + r->resp_len, p, k);
    r->resp_len += k;
    r->resp[r->resp_len] = '\0';
    return k;
}

static size_t on_header(char *p, size_t sz, size_t n, void *ud)
{
    rq *r = ud;
    size_t k = sz * n;
    if (k >= 5 && memcmp(p, "HTTP/", 5) == 0)
        rl_headers_init(&r->h); /* a new response (e.g. after 100 Continue) */
    else
        rl_headers_feed(&r->h, p, k);
    return k;
}

static size_t part_read(char *buf, size_t size, size_t nitems, void *arg)
{
    part_src *s = arg;
    size_t want = size * nitems, left = s->len - s->off;
    size_t n = want < left ? want : left;
    memcpy(buf, s->data + s->off, n);
    s->off += n;
    return n;
}

static int part_seek(void *arg, curl_off_t offset, int origin)
{
    part_src *s = arg;
    if (origin != SEEK_SET || offset < 0 || (size_t)offset > s->len) return CURL_SEEKFUNC_CANTSEEK;
    s->off = (size_t)offset;
    return CURL_SEEKFUNC_OK;
}

static curl_socket_t open_socket(void *clientp, curlsocktype purpose, struct curl_sockaddr *addr);
static int close_socket(void *clientp, curl_socket_t s);

/* A new easy handle with the options every request shares. Pooled handles keep them: a
 * request sets only what differs (URL, its own pointers, method and body, headers), so no
 * handle is ever curl_easy_reset (which frees and rebuilds all of its settings). */
static CURL *easy_new(discord_rest *d)
{
    CURL *e = curl_easy_init();
    if (!e) return NULL;
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)d->cfg.timeout_ms);
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS,
                     (long)(d->cfg.timeout_ms < 10000 ? d->cfg.timeout_ms : 10000));
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(e, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)d->cfg.max_response);
    /* HTTP/2 over TLS (Discord's API offers it): every request to discord.com shares one
     * multiplexed connection instead of one connection per concurrent request. Plain http://
     * (the fakes, a local rate-limit proxy) stays HTTP/1.1 with keep-alive. */
    curl_easy_setopt(e, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_2TLS);
    /* A request starting while the first TLS connection is still being set up waits to
     * multiplex on it rather than opening another. Only for https: on plain http the wait
     * would serialize a burst behind a connection that turns out to be HTTP/1.1. */
    if (d->https) curl_easy_setopt(e, CURLOPT_PIPEWAIT, 1L);
    curl_easy_setopt(e, CURLOPT_OPENSOCKETFUNCTION, open_socket);
    curl_easy_setopt(e, CURLOPT_OPENSOCKETDATA, d);
    curl_easy_setopt(e, CURLOPT_CLOSESOCKETFUNCTION, close_socket);
    curl_easy_setopt(e, CURLOPT_CLOSESOCKETDATA, d);
    return e;
}

/* A handle for r (r->easy, and r->url when the base allows CURLOPT_CURLU). -1 on failure. */
static int easy_get(discord_rest *d, rq *r)
{
    if (d->npool) {
        d->npool--;
        r->easy = d->pool[d->npool].easy;
        r->url = d->pool[d->npool].url;
        return 0;
    }
    r->easy = easy_new(d);
    r->url = r->easy && d->base_url ? curl_url_dup(d->base_url) : NULL;
    return r->easy ? 0 : -1;
}

static void easy_put(discord_rest *d, rq *r)
{
    if (d->npool < POOL_MAX) {
        d->pool[d->npool++] = (struct easy_slot){r->easy, r->url};
    } else {
        curl_easy_cleanup(r->easy);
        curl_url_cleanup(r->url);
    }
    r->easy = NULL;
    r->url = NULL;
}

/* Whether s[0..n) is made only of characters that a URL's path (query: also '?') keeps as they
 * are, and holds no "." or ".." segment: then setting it as the path of a parsed URL sends the
 * same request line as parsing the whole URL would (which removes dot segments, cuts at '#',
 * and normalizes percent-escapes). Anything else goes by CURLOPT_URL, parsed by curl. */
static bool url_char_plain(unsigned char c)
{
    if (((c | 0x20) >= 'a' && (c | 0x20) <= 'z') || (c >= '0' && c <= '9')) return true;
    switch (c) {
    case '-':
    case '.':
    case '_':
    case '~':
    case '/':
    case ':':
    case '@':
    case '!':
    case '$':
    case '&':
    case '\'':
    case '(':
    case ')':
    case '*':
    case '+':
    case ',':
    case ';':
    case '=':
        return true;
    default:
        return false;
    }
}

static bool url_part_plain(const char *s, size_t n, bool query)
{
    if (query && n == 0) return false; /* "path?": let curl decide what an empty query is */
    size_t seg = 0;                    /* start of the current path segment */
    for (size_t i = 0; i <= n; i++) {
        if (!query && (i == n || s[i] == '/')) {
            size_t len = i - seg;
            if ((len == 1 && s[seg] == '.') || (len == 2 && s[seg] == '.' && s[seg + 1] == '.'))
                return false;
            seg = i + 1;
        }
        if (i == n) break;
        if (!url_char_plain((unsigned char)s[i]) && !(query && s[i] == '?')) return false;
    }
    return true;
}

/* Points the handle at api_base + path: by the pooled URL handle when the path is plain (see
 * url_part_plain), else by CURLOPT_URL alone. CURLOPT_URL is set in both cases: curl takes it
 * as the transfer's URL (CURLINFO_EFFECTIVE_URL, and the retry of a request whose reused
 * connection died), while CURLOPT_CURLU, when set, is what it connects to and sends. */
static void easy_set_url(discord_rest *d, rq *r)
{
    const char *path = r->m->path;
    size_t plen = strlen(path);
    const char *q = memchr(path, '?', plen);
    size_t pathlen = q ? (size_t)(q - path) : plen;
    size_t blen = strlen(d->base_path);

    bool by_handle = r->url && url_part_plain(path, pathlen, false) &&
                     (!q || url_part_plain(q + 1, plen - pathlen - 1, true));
    char stack[512];
    if (by_handle) {
        char *full = blen + pathlen < sizeof stack ? stack : malloc(blen + pathlen + 1);
        if (!full) abort();
        memcpy(full, d->base_path, blen);
        memcpy(full + blen, path, pathlen);
        full[blen + pathlen] = '\0';
        by_handle = curl_url_set(r->url, CURLUPART_PATH, full, 0) == CURLUE_OK &&
                    curl_url_set(r->url, CURLUPART_QUERY, q ? q + 1 : NULL, 0) == CURLUE_OK;
        if (full != stack) free(full);
    }
    curl_easy_setopt(r->easy, CURLOPT_CURLU, by_handle ? r->url : NULL);

    size_t alen = strlen(d->api_base);
    char *url = alen + plen < sizeof stack ? stack : malloc(alen + plen + 1);
    if (!url) abort();
    memcpy(url, d->api_base, alen);
    memcpy(url + alen, path, plen + 1);
    curl_easy_setopt(r->easy, CURLOPT_URL, url); /* curl copies it */
    if (url != stack) free(url);
}

/* Sets the easy handle up for one attempt. 0 or -1 (error in r->errbuf). */
static int easy_setup(discord_rest *d, rq *r)
{
    rest_req_msg *m = r->m;
    if (easy_get(d, r) != 0) {
        snprintf(r->errbuf, sizeof r->errbuf, "curl_easy_init failed");
        return -1;
    }
    CURL *e = r->easy;
    r->errbuf[0] = '\0';
    rl_headers_init(&r->h);
    free(r->resp);
    r->resp = NULL;
    r->resp_len = r->resp_cap = 0;
    r->max_resp = d->cfg.max_response;
    r->too_big = false;

    easy_set_url(d, r);
    curl_easy_setopt(e, CURLOPT_PRIVATE, r);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, r->errbuf);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, r);
    curl_easy_setopt(e, CURLOPT_HEADERDATA, r);

    /* Interaction and webhook-token routes authenticate with their token, not the bot's. */
    const bool auth = !r->t.route.global_exempt;
    /* Files up to FORM_INLINE_MAX go as one form body; its boundary is the process's unless
     * some part's bytes contain it (then the request draws its own, and its own headers). */
    size_t form_bytes = 0;
    rest_form_file ff[REST_MAX_FILES];
    for (unsigned i = 0; i < m->nfiles; i++) {
        ff[i] = (rest_form_file){.filename = m->files[i].filename,
                                 .content_type = m->files[i].content_type,
                                 .data = m->files[i].data,
                                 .len = m->files[i].len};
        form_bytes += m->files[i].len;
    }
    const bool inline_form = m->nfiles > 0 && form_bytes <= FORM_INLINE_MAX;
    char own_boundary[REST_FORM_BOUNDARY_LEN + 1] = "";
    const char *boundary = d->boundary;
    if (inline_form && rest_form_collides(boundary, m->json, ff, m->nfiles)) {
        do
            rest_form_boundary(own_boundary);
        while (rest_form_collides(own_boundary, m->json, ff, m->nfiles));
        boundary = own_boundary;
    }
    int body = m->nfiles == 0 ? (m->json ? HDR_JSON : HDR_NONE)
                              : (inline_form && !own_boundary[0] ? HDR_FORM : HDR_NONE);
    struct curl_slist *h = d->hdr_sets[(auth ? HDR_AUTH : 0) | body];
    if (m->audit_reason[0] || own_boundary[0]) {
        /* Headers that vary per request: this request gets a list of its own. */
        struct curl_slist *own = NULL;
        for (const struct curl_slist *i = h; i; i = i->next)
            own = curl_slist_append(own, i->data);
        char line[512];
        if (own_boundary[0]) {
            snprintf(line, sizeof line, "Content-Type: multipart/form-data; boundary=%s",
                     own_boundary);
            own = curl_slist_append(own, line);
        }
        char *esc = m->audit_reason[0] ? curl_easy_escape(e, m->audit_reason, 0) : NULL;
        if (esc) {
            snprintf(line, sizeof line, "X-Audit-Log-Reason: %s", esc);
            own = curl_slist_append(own, line);
            curl_free(esc);
        }
        r->hdrs = own;
        h = own;
    }
    /* A pooled handle still carries the previous request's method and body: every branch
     * below sets the method (CUSTOMREQUEST, or NULL for the one the body implies) and the body
     * kind, so nothing of the previous request is sent again. */
    const char *method = rest_method_name(m->method);
    if (inline_form) {
        size_t len;
        r->form = rest_form_body(boundary, m->json, ff, m->nfiles, &len);
        curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
        curl_easy_setopt(e, CURLOPT_POSTFIELDS, r->form);
        curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, m->method != REST_POST ? method : NULL);
    } else if (m->nfiles > 0) {
        curl_mime *mime = curl_mime_init(e);
        curl_mimepart *part = curl_mime_addpart(mime);
        curl_mime_name(part, "payload_json");
        curl_mime_data(part, m->json ? m->json : "{}", CURL_ZERO_TERMINATED);
        curl_mime_type(part, "application/json");
        for (unsigned i = 0; i < m->nfiles; i++) {
            const rest_file *f = &m->files[i];
            part_src *src = malloc(sizeof *src);
            if (!src) abort();
            *src = (part_src){.data = f->data, .len = f->len};
            char name[24];
            snprintf(name, sizeof name, "files[%u]", i);
            part = curl_mime_addpart(mime);
            curl_mime_name(part, name);
            curl_mime_filename(part, f->filename);
            curl_mime_type(part, f->content_type);
            curl_mime_data_cb(part, (curl_off_t)f->len, part_read, part_seek, free, src);
        }
        r->mime = mime;
        curl_easy_setopt(e, CURLOPT_MIMEPOST, mime);
        curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, m->method != REST_POST ? method : NULL);
    } else if (m->json) {
        curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(m->json));
        curl_easy_setopt(e, CURLOPT_POSTFIELDS, m->json);
        curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, m->method != REST_POST ? method : NULL);
    } else if (m->method == REST_GET) {
        curl_easy_setopt(e, CURLOPT_HTTPGET, 1L);
        curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, NULL);
    } else if (m->method == REST_POST || m->method == REST_PUT || m->method == REST_PATCH) {
        curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE, 0L);
        curl_easy_setopt(e, CURLOPT_POSTFIELDS, "");
        curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, m->method != REST_POST ? method : NULL);
    } else {
        /* DELETE (and any other bodiless method): a GET on the wire, renamed. */
        curl_easy_setopt(e, CURLOPT_HTTPGET, 1L);
        curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, method);
    }
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, h);
    return 0;
}

/* Header lists may hold the Authorization line: wipe it before the memory goes back. */
static void slist_free_scrubbed(struct curl_slist *h)
{
    for (struct curl_slist *i = h; i; i = i->next)
        if (i->data) memset(i->data, 0, strlen(i->data));
    curl_slist_free_all(h);
}

static void easy_teardown(discord_rest *d, rq *r)
{
    if (r->easy) {
        curl_off_t up = 0, down = 0;
        curl_easy_getinfo(r->easy, CURLINFO_SIZE_UPLOAD_T, &up);
        curl_easy_getinfo(r->easy, CURLINFO_SIZE_DOWNLOAD_T, &down);
        atomic_fetch_add(&d->bytes_out, (uint64_t)up);
        atomic_fetch_add(&d->bytes_in, (uint64_t)down);
        easy_put(d, r);
    }
    curl_mime_free(r->mime);
    r->mime = NULL;
    free(r->form);
    r->form = NULL;
    slist_free_scrubbed(r->hdrs);
    r->hdrs = NULL;
}

static void start(discord_rest *d, rq *r)
{
    if (easy_setup(d, r) != 0 || curl_multi_add_handle(d->multi, r->easy) != CURLM_OK) {
        rl_release(d->rl, &r->t);
        char why[CURL_ERROR_SIZE + 32];
        snprintf(why, sizeof why, "cannot start request: %s", r->errbuf);
        easy_teardown(d, r);
        finish(d, r, 0, why);
        return;
    }
    f_push(d, r);
    atomic_fetch_add(&d->attempts, 1);
}

/* ---- scheduling and completion --------------------------------------------------------------- */

/* Sends what the limiter allows, oldest first. Returns the earliest time something waiting
 * may go (UINT64_MAX: nothing timed; completions will trigger another pass). */
static uint64_t schedule(discord_rest *d, uint64_t now)
{
    d->dirty = false;
    uint64_t wake = UINT64_MAX;
    for (rq *r = d->head, *next; r; r = next) {
        next = r->next;
        if (d->ninflight >= d->cfg.max_in_flight) break;
        if (r->o_prev) continue; /* an earlier write to the same message goes first */
        uint64_t at = 0;
        rl_verdict v = rl_acquire(d->rl, &r->t, now, &at);
        if (v == RL_SEND) {
            q_unlink(d, r);
            start(d, r);
        } else if (v == RL_WAIT) {
            if (at != RL_WAKE_ON_COMPLETION && at < wake) wake = at;
        } else {
            q_unlink(d, r);
            finish(d, r, 401, "the bot token was rejected (401); not sent");
        }
    }
    return wake;
}

static bool already_acknowledged(const rq *r)
{
    /* A retried callback whose first attempt did reach Discord: the interaction is answered. */
    return r->t.sends > 1 && r->resp && strstr(r->resp, "40060") != NULL &&
           strstr(r->t.route.key, "/callback") != NULL;
}

static const char *scope_name(rl_scope s)
{
    return s == RL_SCOPE_GLOBAL ? "global" : s == RL_SCOPE_SHARED ? "shared" : "user";
}

/* One warning per 429 saying what it paused and for how long (an hour-long pause used to be
 * one quiet line), and, when the request fails for it, why (into why, for the requester). */
static void log_429(const rq *r, rl_outcome out, char *why, size_t cap)
{
    const rl_429_info *i = &r->t.last_429;
    const double asked = (double)i->asked_ms / 1000.0, pause = (double)i->pause_ms / 1000.0;
    const bool capped = i->asked_ms > i->pause_ms;
    char what[160];
    if (i->paused_global)
        snprintf(what, sizeof what,
                 "every request except interaction callbacks and interaction webhooks is paused "
                 "for %.1f s",
                 pause);
    else
        snprintf(what, sizeof what, "this route's bucket is paused for %.1f s", pause);
    if (out == RL_GIVE_UP && capped) {
        snprintf(why, cap, "rate limited (%s): Discord asked to wait %.0f s, over the %.0f s cap",
                 scope_name(i->scope), asked, pause);
    } else if (out == RL_GIVE_UP) {
        snprintf(why, cap, "rate limited (%s): still limited after %u retries",
                 scope_name(i->scope), r->t.retries_429);
    }
    /* Route, not path: paths hold interaction tokens. */
    LOG_WARN(ACTOR, "429 (%s scope) on %s: %s (Retry-After %.1f s%s); %s", scope_name(i->scope),
             r->t.route.key, what, asked, capped ? ", capped" : "",
             out == RL_GIVE_UP ? "this request fails" : "it will be retried");
}

static void settle(discord_rest *d, rq *r, CURLcode rc, long code, uint64_t now)
{
    int status = rc == CURLE_OK ? (int)code : 0;
    if (rc == CURLE_FILESIZE_EXCEEDED || r->too_big) {
        rl_complete(d->rl, &r->t, (int)code, &r->h, now);
        finish(d, r, 0, "response too large");
        return;
    }
    if (status == 429) {
        rl_headers_feed_body(&r->h, r->resp, r->resp_len);
        rl_scope s = r->h.scope != RL_SCOPE_NONE ? r->h.scope
                     : r->h.global               ? RL_SCOPE_GLOBAL
                                                 : RL_SCOPE_USER;
        atomic_fetch_add(s == RL_SCOPE_GLOBAL   ? &d->r429_global
                         : s == RL_SCOPE_SHARED ? &d->r429_shared
                                                : &d->r429_user,
                         1);
    }
    if (status == 0) atomic_fetch_add(&d->network_errors, 1);
    rl_outcome out = rl_complete(d->rl, &r->t, status, &r->h, now);
    char why429[160] = "";
    if (status == 429) log_429(r, out, why429, sizeof why429);
    switch (out) {
    case RL_RETRY:
        atomic_fetch_add(&d->retries, 1);
        LOG_DEBUG(ACTOR, "%s: status %d (%s), retrying", r->t.route.key, status,
                  status ? "" : r->errbuf);
        q_push_front(d, r);
        return;
    case RL_FATAL_AUTH:
        report_fatal(d);
        finish(d, r, status, "unauthorized: the bot token was rejected");
        return;
    case RL_DONE:
    case RL_GIVE_UP:
        if (status == 400 && already_acknowledged(r)) {
            free(r->resp);
            r->resp = NULL;
            r->resp_len = 0;
            finish(d, r, 204, "acknowledged by an earlier attempt");
            return;
        }
        finish(d, r, status,
               status ? (out == RL_GIVE_UP ? (why429[0] ? why429 : "retries exhausted") : NULL)
                      : (r->errbuf[0] ? r->errbuf : curl_easy_strerror(rc)));
        return;
    }
}

static void harvest(discord_rest *d)
{
    CURLMsg *msg;
    int left;
    while ((msg = curl_multi_info_read(d->multi, &left))) {
        if (msg->msg != CURLMSG_DONE) continue;
        CURL *e = msg->easy_handle;
        CURLcode rc = msg->data.result;
        rq *r = NULL;
        long code = 0;
        curl_easy_getinfo(e, CURLINFO_PRIVATE, (char **)&r);
        curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &code);
        curl_multi_remove_handle(d->multi, e);
        f_unlink(d, r);
        easy_teardown(d, r);
        settle(d, r, rc, code, rt_now_ms());
        d->dirty = true;
    }
}

/* Answers everything queued or in flight with status 0 (used at the stop deadline). */
static void abort_all(discord_rest *d, const char *why)
{
    while (d->fhead) {
        rq *r = d->fhead;
        curl_multi_remove_handle(d->multi, r->easy);
        f_unlink(d, r);
        rl_release(d->rl, &r->t);
        easy_teardown(d, r);
        finish(d, r, 0, why);
    }
    while (d->head) {
        rq *r = d->head;
        q_unlink(d, r);
        finish(d, r, 0, why);
    }
}

/* Queues one request (from the mailbox, or chained after another with `then`). */
static void rq_accept(discord_rest *d, rt_msg *m)
{
    atomic_fetch_add(&d->requests, 1);
    /* A spare (see rq_spare) or malloc, and a memset of the links and pointers only: calloc
     * would zero the whole ~1 KiB every request; t is set by rl_ticket_init. */
    rq *r = d->rq_spare;
    if (r) {
        d->rq_spare = r->next;
        d->nspare--;
    } else if (!(r = malloc(sizeof *r))) {
        abort();
    }
    memset(r, 0, offsetof(rq, t));
    rl_headers_init(&r->h);
    r->errbuf[0] = '\0';
    r->m = (rest_req_msg *)m;
    const char *method = rest_method_name(r->m->method);
    if (rl_ticket_init(&r->t, method, r->m->path) != 0) {
        finish(d, r, 0, "invalid API path");
        return;
    }
    r->t.retry_until_ms = r->m->deliver_until_ms;
    char target[RL_PATH_MAX];
    if (rest_order_target(method, r->m->path, target, sizeof target)) {
        r->target = util_strdup(target);
        r->target_hash = util_fnv1a_str(target);
        uint64_t now = rt_now_ms();
        if (closed_has(d, r, now) && !r->m->final_write) {
            atomic_fetch_add(&d->superseded, 1);
            free(r->target);
            r->target = NULL;
            finish(d, r, 0, SUPERSEDED);
            return;
        }
        if (r->m->final_write) {
            /* writes to this message still waiting (not in flight) would only be overwritten */
            for (rq *p = tail_find(d, r), *prev; p; p = prev) {
                prev = p->o_prev;
                if (p->in_flight || p->m->final_write) continue;
                atomic_fetch_add(&d->superseded, 1);
                q_unlink(d, p);
                finish(d, p, 0, SUPERSEDED);
            }
            closed_add(d, r, now);
        }
        order_link(d, r);
    }
    q_push_back(d, r);
    d->dirty = true;
}

static void on_message(rt_actor *self, void *state, rt_msg *m)
{
    discord_rest *d = state;
    (void)self;
    if (m->type != MSG_REST_REQ) {
        LOG_WARN(ACTOR, "ignoring message type %u", m->type);
        rt_msg_free(m);
        return;
    }
    rq_accept(d, m);
}

/* ---- the event loop ------------------------------------------------------------------------
 */

static struct sock_reg *sock_reg_of(discord_rest *d, curl_socket_t s)
{
    if (s < 0) return NULL;
    if ((size_t)s >= d->nsocks) {
        size_t n = d->nsocks ? d->nsocks : 64;
        while (n <= (size_t)s)
            n *= 2;
        struct sock_reg *p = realloc(d->socks, n * sizeof *p);
        if (!p) abort();
        memset(p + d->nsocks, 0, (n - d->nsocks) * sizeof *p);
        d->socks = p;
        d->nsocks = n;
    }
    return &d->socks[s];
}

/* Connection sockets are opened and closed here, so that a descriptor left registered while
 * idle is known to be closed (and its number free for reuse) exactly when it is. The kernel
 * drops a closed descriptor from the epoll set by itself. */
static curl_socket_t open_socket(void *clientp, curlsocktype purpose, struct curl_sockaddr *addr)
{
    discord_rest *d = clientp;
    (void)purpose;
    curl_socket_t s = socket(addr->family, addr->socktype | SOCK_CLOEXEC, addr->protocol);
    struct sock_reg *g = s >= 0 ? sock_reg_of(d, s) : NULL;
    if (g) *g = (struct sock_reg){.ours = true};
    return s >= 0 ? s : CURL_SOCKET_BAD;
}

static int close_socket(void *clientp, curl_socket_t s)
{
    discord_rest *d = clientp;
    struct sock_reg *g = sock_reg_of(d, s);
    if (g) *g = (struct sock_reg){0};
    return close(s);
}

static int on_socket(CURL *e, curl_socket_t s, int what, void *userp, void *socketp)
{
    discord_rest *d = userp;
    (void)e;
    (void)socketp;
    struct sock_reg *g = sock_reg_of(d, s);
    if (!g) return 0;
    if (what == CURL_POLL_REMOVE) {
        g->curl_wants = false;
        /* An idle connection of ours stays registered (see sock_reg); if it turns readable
         * meanwhile (the server closed it), rest_on_io drops it then. Any other descriptor
         * may be closed without telling us: it leaves the set now. ENOENT and EBADF are
         * expected when curl closed it already. */
        if (g->registered && !g->ours) {
            if (d->attached) rt_io_ctl(d->actor, RT_IO_DEL, s, 0);
            g->registered = false;
        }
        return 0;
    }
    uint32_t ev =
        ((what & CURL_POLL_IN) ? RT_IO_IN : 0u) | ((what & CURL_POLL_OUT) ? RT_IO_OUT : 0u);
    g->curl_wants = true;
    if (g->registered && g->events == ev) return 0;
    if (!d->attached) return -1; /* no worker to watch it (never during a transfer) */
    int op = g->registered ? RT_IO_MOD : RT_IO_ADD;
    if (rt_io_ctl(d->actor, op, s, ev) != 0) {
        /* A descriptor number reused after a close we did not see, or one the kernel already
         * dropped: try the other operation once. */
        op = op == RT_IO_ADD ? RT_IO_MOD : RT_IO_ADD;
        int rc = rt_io_ctl(d->actor, op, s, ev);
        if (rc != 0) {
            LOG_ERROR(ACTOR, "cannot watch socket %d: %s", (int)s, strerror(-rc));
            g->registered = false;
            return -1; /* curl fails the transfers on this socket */
        }
    }
    g->registered = true;
    g->events = ev;
    return 0;
}

static int on_timer(CURLM *multi, long timeout_ms, void *userp)
{
    discord_rest *d = userp;
    (void)multi;
    /* Never act from inside the callback (curl forbids re-entering socket_action here): the
     * turn runs the timeout when it is due. */
    d->curl_timer_at = timeout_ms < 0 ? UINT64_MAX : rt_now_ms() + (uint64_t)timeout_ms;
    return 0;
}

static void run_curl_timer(discord_rest *d, uint64_t now)
{
    if (d->curl_timer_at > now) return;
    d->curl_timer_at = UINT64_MAX; /* curl sets it again if it still wants one */
    int running = 0;
    curl_multi_socket_action(d->multi, CURL_SOCKET_TIMEOUT, 0, &running);
}

/* The end of everything that happens to the actor (a batch of messages, a ready socket, the
 * deadline, the stop): send what the limiter lets go, run curl's due timer, settle what
 * finished, until nothing changes; then the next deadline. While a stop waits for requests
 * still queued or in flight the actor holds its exit (rt_actor_hold), for at most
 * stop_grace_ms: after that they are answered "shutting down" (nothing is dropped silently). */
static void rest_turn(discord_rest *d)
{
    uint64_t wake;
    for (;;) {
        uint64_t now = rt_now_ms();
        wake = schedule(d, now);
        run_curl_timer(d, now);
        harvest(d);
        if (d->stopping && (d->npending || d->ninflight) && now >= d->stop_deadline) {
            LOG_WARN(ACTOR, "stop deadline: abandoning %zu queued and %zu in-flight requests",
                     d->npending, d->ninflight);
            abort_all(d, "shutting down");
        }
        if (!d->dirty) break; /* completions or new requests: schedule again first */
    }
    if (d->curl_timer_at < wake) wake = d->curl_timer_at;
    if (d->stopping) {
        bool busy = d->npending || d->ninflight;
        if (busy && d->stop_deadline < wake) wake = d->stop_deadline;
        if (busy != d->held) {
            d->held = busy;
            if (busy)
                rt_actor_hold(d->actor);
            else
                rt_actor_release(d->actor); /* the exit may go on */
        }
    }
    rt_io_deadline(d->actor, wake);
}

static int rest_on_start(rt_actor *self, void *state, unsigned index)
{
    discord_rest *d = state;
    (void)self;
    (void)index;
    d->attached = true;
    return 0;
}

static void rest_on_idle(rt_actor *self, void *state)
{
    (void)self;
    rest_turn(state);
}

static void rest_on_io(rt_actor *self, void *state, int fd, uint32_t events)
{
    discord_rest *d = state;
    struct sock_reg *g = sock_reg_of(d, fd);
    if (g && !g->curl_wants) {
        /* An idle connection that turned readable or hung up (the server closed it): out of
         * the set, or it would wake the worker every turn; curl finds it dead when it next
         * looks at it, and closes it. */
        rt_io_ctl(self, RT_IO_DEL, fd, 0);
        g->registered = false;
        return;
    }
    int mask = 0;
    if (events & (RT_IO_IN | RT_IO_HUP)) mask |= CURL_CSELECT_IN;
    if (events & RT_IO_OUT) mask |= CURL_CSELECT_OUT;
    if (events & RT_IO_ERR) mask |= CURL_CSELECT_ERR;
    int running = 0;
    curl_multi_socket_action(d->multi, fd, mask, &running);
    rest_turn(d);
}

static void rest_on_deadline(rt_actor *self, void *state)
{
    (void)self;
    rest_turn(state);
}

static void rest_on_stop(rt_actor *self, void *state)
{
    discord_rest *d = state;
    (void)self;
    d->stopping = true;
    d->stop_deadline = rt_now_ms() + d->cfg.stop_grace_ms;
    rest_turn(d);
}

static void rest_on_exit(rt_actor *self, void *state, unsigned index)
{
    discord_rest *d = state;
    (void)index;
    /* Nothing is left (the exit waited for it); whatever is, is answered, not dropped. */
    abort_all(d, "stopped");
    /* curl keeps idle connections open until discord_rest_free: out of the worker's set now,
     * the worker outlives this actor. */
    for (size_t s = 0; s < d->nsocks; s++) {
        if (!d->socks[s].registered) continue;
        rt_io_ctl(self, RT_IO_DEL, (int)s, 0);
        d->socks[s].registered = false;
    }
    rt_io_deadline(self, UINT64_MAX);
    if (d->held) {
        d->held = false;
        rt_actor_release(self);
    }
    d->attached = false;
}

/* ---- lifecycle
 * ----------------------------------------------------------------------------------- */

void discord_rest_config_from(discord_rest_config *out, const fb_config *cfg)
{
    memset(out, 0, sizeof *out);
    out->api_base = cfg->discord_api_base;
    out->token = cfg->discord_token;
    out->timeout_ms = cfg->rest_timeout_ms;
    out->lane_capacity = cfg->mailbox_capacity > 0 ? (unsigned)cfg->mailbox_capacity : 0;
}

/* Sets base_url and base_path when the API base is a plain scheme://host[:port][/path] (see
 * discord_rest.base_url); otherwise leaves them NULL. */
static void base_url_parse(discord_rest *d)
{
    CURLU *u = curl_url();
    char *path = NULL, *part = NULL;
    bool ok = u && curl_url_set(u, CURLUPART_URL, d->api_base, 0) == CURLUE_OK &&
              curl_url_get(u, CURLUPART_QUERY, &part, 0) == CURLUE_NO_QUERY &&
              curl_url_get(u, CURLUPART_FRAGMENT, &part, 0) == CURLUE_NO_FRAGMENT &&
              curl_url_get(u, CURLUPART_USER, &part, 0) == CURLUE_NO_USER &&
              curl_url_get(u, CURLUPART_PASSWORD, &part, 0) == CURLUE_NO_PASSWORD &&
              curl_url_get(u, CURLUPART_PATH, &path, 0) == CURLUE_OK && path[0] == '/';
    curl_free(part); /* set only if one of the checks above failed */
    if (ok) {
        size_t n = strlen(path);
        while (n > 0 && path[n - 1] == '/')
            n--;
        ok = url_part_plain(path, n, false);
        if (ok) d->base_path = util_strndup(path, n);
    }
    curl_free(path);
    if (ok && d->base_path) {
        d->base_url = u;
    } else {
        curl_url_cleanup(u);
        LOG_DEBUG(ACTOR, "the API base is not a plain URL: every request is parsed by curl");
    }
}

discord_rest *discord_rest_new(rt_system *sys, const discord_rest_config *cfg)
{
    if (!sys || !cfg || !cfg->api_base || !cfg->token || !*cfg->token) return NULL;
    discord_rest *d = calloc(1, sizeof *d);
    if (!d) return NULL;
    d->cfg = *cfg;
    if (d->cfg.timeout_ms <= 0) d->cfg.timeout_ms = 15000;
    if (!d->cfg.max_response) d->cfg.max_response = 1024 * 1024;
    if (!d->cfg.max_in_flight) d->cfg.max_in_flight = 64;
    if (!d->cfg.stop_grace_ms) d->cfg.stop_grace_ms = 5000;
    if (!d->cfg.lane_capacity) d->cfg.lane_capacity = 1024;
    if (!d->cfg.fatal_exit_code) d->cfg.fatal_exit_code = 4;
    d->sys = sys;

    size_t bl = strlen(cfg->api_base);
    while (bl > 0 && cfg->api_base[bl - 1] == '/')
        bl--;
    d->api_base = util_strndup(cfg->api_base, bl);
    size_t al = strlen(cfg->token) + 32;
    d->auth_header = malloc(al);
    if (!d->auth_header) goto fail;
    snprintf(d->auth_header, al, "Authorization: Bot %s", cfg->token);
    log_add_secret(cfg->token);
    d->cfg.api_base = d->api_base;
    d->cfg.token = NULL; /* kept only inside auth_header */

    d->https = strncmp(d->api_base, "https://", 8) == 0;
    d->curl_timer_at = UINT64_MAX;
    for (unsigned i = 0; i < CLOSED_SLOTS; i++)
        d->closed_slots[i] = -1;
    /* The shared header lists (see hdr_sets): "Expect:" drops the 100-continue round trip
     * before uploads. The User-Agent is one of their lines rather than CURLOPT_USERAGENT,
     * which curl formats anew ("User-Agent: %s\r\n", with its own printf) for every request;
     * a header in the list replaces curl's own. */
    char ua[192];
    snprintf(ua, sizeof ua, "User-Agent: " UTIL_HTTP_USER_AGENT_FOR("%s"),
             cfg->version ? cfg->version : FLUXBOT_VERSION);
    rest_form_boundary(d->boundary);
    char form_type[96];
    snprintf(form_type, sizeof form_type, "Content-Type: multipart/form-data; boundary=%s",
             d->boundary);
    for (unsigned i = 0; i < 8; i++) {
        if ((i & 3) == 3) continue; /* a body is JSON or a form, not both */
        struct curl_slist *h = NULL;
        if (i & HDR_AUTH) h = curl_slist_append(h, d->auth_header);
        h = curl_slist_append(h, ua);
        h = curl_slist_append(h, "Expect:");
        if (i & HDR_JSON) h = curl_slist_append(h, "Content-Type: application/json");
        if (i & HDR_FORM) h = curl_slist_append(h, form_type);
        if (!h) goto fail;
        d->hdr_sets[i] = h;
    }

    util_curl_init();
    base_url_parse(d);
    d->multi = curl_multi_init();
    d->rl = rl_new(cfg->limits);
    if (!d->multi || !d->rl) goto fail;
    curl_multi_setopt(d->multi, CURLMOPT_MAXCONNECTS, (long)d->cfg.max_in_flight);
    curl_multi_setopt(d->multi, CURLMOPT_SOCKETFUNCTION, on_socket);
    curl_multi_setopt(d->multi, CURLMOPT_SOCKETDATA, d);
    curl_multi_setopt(d->multi, CURLMOPT_TIMERFUNCTION, on_timer);
    curl_multi_setopt(d->multi, CURLMOPT_TIMERDATA, d);
    curl_multi_setopt(d->multi, CURLMOPT_PIPELINING, (long)CURLPIPE_MULTIPLEX);

    rt_actor_spec spec = {
        .name = ACTOR,
        .threads = 1,
        .lane_capacity = d->cfg.lane_capacity,
        .state = d,
        .ops =
            {
                .on_thread_start = rest_on_start,
                .on_message = on_message,
                .on_idle = rest_on_idle,
                .on_stop_requested = rest_on_stop,
                .on_thread_exit = rest_on_exit,
                .on_io = rest_on_io,
                .on_deadline = rest_on_deadline,
            },
    };
    d->actor = rt_actor_new(sys, &spec);
    if (!d->actor) goto fail;
    return d;
fail:
    discord_rest_free(d);
    return NULL;
}

rt_actor *discord_rest_actor(discord_rest *d)
{
    return d->actor;
}

const char *discord_rest_form_boundary(const discord_rest *d)
{
    return d->boundary;
}

void discord_rest_free(discord_rest *d)
{
    if (!d) return;
    while (d->npool) {
        d->npool--;
        curl_easy_cleanup(d->pool[d->npool].easy);
        curl_url_cleanup(d->pool[d->npool].url);
    }
    curl_url_cleanup(d->base_url);
    free(d->base_path);
    if (d->multi) curl_multi_cleanup(d->multi);
    for (unsigned i = 0; i < 8; i++)
        slist_free_scrubbed(d->hdr_sets[i]);
    free(d->socks);
    rl_free(d->rl);
    if (d->auth_header) {
        memset(d->auth_header, 0, strlen(d->auth_header));
        free(d->auth_header);
    }
    free(d->api_base);
    for (unsigned i = 0; i < CLOSED_MAX; i++)
        free(d->closed[i].target);
    while (d->rq_spare) {
        rq *r = d->rq_spare;
        d->rq_spare = r->next;
        free(r);
    }
    free(d);
}

void discord_rest_counters_get(discord_rest *d, discord_rest_counters *out)
{
    out->requests = atomic_load(&d->requests);
    out->attempts = atomic_load(&d->attempts);
    out->completed = atomic_load(&d->completed);
    out->failed = atomic_load(&d->failed);
    out->retries = atomic_load(&d->retries);
    out->r429_user = atomic_load(&d->r429_user);
    out->r429_global = atomic_load(&d->r429_global);
    out->r429_shared = atomic_load(&d->r429_shared);
    out->network_errors = atomic_load(&d->network_errors);
    out->wait_ms = atomic_load(&d->wait_ms);
    out->pending = atomic_load(&d->pending_n);
    out->in_flight = atomic_load(&d->inflight_n);
    out->bytes_out = atomic_load(&d->bytes_out);
    out->bytes_in = atomic_load(&d->bytes_in);
    out->superseded = atomic_load(&d->superseded);
    out->fatal = atomic_load(&d->fatal);
}

void discord_rest_set_command_dms(discord_rest *d, cmd_dms_fn dms_allowed, void *ctx)
{
    d->dms_allowed = dms_allowed;
    d->dms_ctx = ctx;
}

int discord_rest_register_commands(discord_rest *d, uint64_t application_id, const uint64_t *guilds,
                                   unsigned nguilds, const cmd_def *const *declared,
                                   unsigned ndeclared, const char *const *labels, unsigned nlabels,
                                   rt_actor *reply_to, uint64_t cookie, char *err, size_t errlen)
{
    char *json = cmd_table_json_all(declared, ndeclared, labels, nlabels, d->dms_allowed,
                                    d->dms_ctx, err, errlen);
    if (!json) return -1;
    int sent = 0;
    unsigned n = nguilds ? nguilds : 1;
    for (unsigned i = 0; i < n; i++) {
        char path[128];
        if (cmd_register_path(application_id, nguilds ? guilds[i] : 0, path, sizeof path) < 0) {
            snprintf(err, errlen, "command path too long");
            break;
        }
        rest_req_msg *m = rest_req_msg_new(REST_PUT, path, json);
        m->reply_to = reply_to;
        m->cookie = cookie + i;
        if (rt_send_wait(d->actor, &m->hdr, 2000) != 0) {
            rt_msg_free(&m->hdr);
            snprintf(err, errlen, "the REST actor does not accept requests");
            break;
        }
        sent++;
    }
    free(json);
    return sent == (int)n ? sent : -1;
}
