/* The hostile attachment host (see fake_host.h). */
#include "fakes/fake_host.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "fakes/fake_tcp.h"
#include "util/util_str.h"

#define HEAD_MAX 8192

struct fake_host {
    fake_tcp *tcp;
    int port;
    char url[64], hostport[32];
    pthread_mutex_t mu;
    fake_host_mode mode;
    int status;
    char location[2048];
    uint8_t *body;
    size_t body_len;
    char content_type[128];
    unsigned requests;
    char last_head[HEAD_MAX];
};

/* Waits until the peer closes or the host stops (the STALL answer). */
static void wait_for_close(fake_host *h, int fd)
{
    for (;;) {
        struct pollfd p[2] = {{fd, POLLIN, 0}, {fake_tcp_wake_fd(h->tcp), POLLIN, 0}};
        int n = poll(p, 2, 1000);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 || p[1].revents) return;
        if (p[0].revents) {
            char b[256];
            ssize_t r = recv(fd, b, sizeof b, 0);
            if (r <= 0) return;
        }
    }
}

static void serve(fake_host *h, int fd)
{
    char head[HEAD_MAX];
    size_t len = 0;
    while (len < sizeof head - 1) {
        struct pollfd p = {fd, POLLIN, 0};
        if (poll(&p, 1, 3000) <= 0) return;
        ssize_t r = recv(fd, head + len, sizeof head - 1 - len, 0);
        if (r <= 0) return;
        len += (size_t)r;
        head[len] = '\0';
        if (strstr(head, "\r\n\r\n")) break;
    }
    pthread_mutex_lock(&h->mu);
    h->requests++;
    memcpy(h->last_head, head, len + 1);
    fake_host_mode mode = h->mode;
    int status = h->status;
    char location[sizeof h->location];
    memcpy(location, h->location, sizeof location);
    char ctype[128];
    memcpy(ctype, h->content_type, sizeof ctype);
    uint8_t *body = NULL;
    size_t blen = h->body_len;
    if (mode == FAKE_HOST_BODY && blen) {
        body = malloc(blen);
        if (!body) abort();
        memcpy(body, h->body, blen);
    }
    pthread_mutex_unlock(&h->mu);

    char out[3072];
    int n;
    switch (mode) {
    case FAKE_HOST_BODY:
        n = snprintf(out, sizeof out,
                     "HTTP/1.1 200 OK\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
                     "Connection: close\r\n\r\n",
                     ctype, blen);
        fake_tcp_send_all(fd, out, (size_t)n);
        if (blen) fake_tcp_send_all(fd, body, blen);
        break;
    case FAKE_HOST_REDIRECT:
        n = snprintf(out, sizeof out,
                     "HTTP/1.1 %d Redirect\r\nLocation: %s\r\nContent-Length: 0\r\n"
                     "Connection: close\r\n\r\n",
                     status, location);
        fake_tcp_send_all(fd, out, (size_t)n);
        break;
    case FAKE_HOST_STALL:
        n = snprintf(out, sizeof out,
                     "HTTP/1.1 200 OK\r\nContent-Type: image/png\r\nContent-Length: 100000\r\n"
                     "Connection: close\r\n\r\n\x89PNG");
        fake_tcp_send_all(fd, out, (size_t)n);
        wait_for_close(h, fd);
        break;
    case FAKE_HOST_STATUS:
        n = snprintf(out, sizeof out,
                     "HTTP/1.1 %d Status\r\nContent-Type: text/plain\r\nContent-Length: 4\r\n"
                     "Connection: close\r\n\r\nnope",
                     status);
        fake_tcp_send_all(fd, out, (size_t)n);
        break;
    }
    free(body);
}

static void serve_cb(void *ctx, int fd)
{
    serve(ctx, fd);
}

fake_host *fake_host_start(void)
{
    fake_host *h = calloc(1, sizeof *h);
    if (!h) return NULL;
    pthread_mutex_init(&h->mu, NULL);
    h->mode = FAKE_HOST_STATUS;
    h->status = 404;
    h->tcp = fake_tcp_start(serve_cb, h);
    if (!h->tcp) {
        pthread_mutex_destroy(&h->mu);
        free(h);
        return NULL;
    }
    h->port = fake_tcp_port(h->tcp);
    snprintf(h->url, sizeof h->url, "http://127.0.0.1:%d", h->port);
    snprintf(h->hostport, sizeof h->hostport, "127.0.0.1:%d", h->port);
    return h;
}

void fake_host_stop(fake_host *h)
{
    if (!h) return;
    fake_tcp_stop(h->tcp);
    pthread_mutex_destroy(&h->mu);
    free(h->body);
    free(h);
}

int fake_host_port(const fake_host *h)
{
    return h->port;
}

const char *fake_host_url(const fake_host *h)
{
    return h->url;
}

const char *fake_host_hostport(const fake_host *h)
{
    return h->hostport;
}

void fake_host_serve_body(fake_host *h, const uint8_t *body, size_t len, const char *content_type)
{
    uint8_t *copy = malloc(len ? len : 1);
    if (!copy) abort();
    if (len) memcpy(copy, body, len);
    pthread_mutex_lock(&h->mu);
    free(h->body);
    h->body = copy;
    h->body_len = len;
    snprintf(h->content_type, sizeof h->content_type, "%s",
             content_type ? content_type : "application/octet-stream");
    h->mode = FAKE_HOST_BODY;
    pthread_mutex_unlock(&h->mu);
}

void fake_host_redirect(fake_host *h, int status, const char *location)
{
    pthread_mutex_lock(&h->mu);
    h->mode = FAKE_HOST_REDIRECT;
    h->status = status;
    snprintf(h->location, sizeof h->location, "%s", location);
    pthread_mutex_unlock(&h->mu);
}

void fake_host_stall(fake_host *h)
{
    pthread_mutex_lock(&h->mu);
    h->mode = FAKE_HOST_STALL;
    pthread_mutex_unlock(&h->mu);
}

void fake_host_status(fake_host *h, int status)
{
    pthread_mutex_lock(&h->mu);
    h->mode = FAKE_HOST_STATUS;
    h->status = status;
    pthread_mutex_unlock(&h->mu);
}

unsigned fake_host_requests(fake_host *h)
{
    pthread_mutex_lock(&h->mu);
    unsigned n = h->requests;
    pthread_mutex_unlock(&h->mu);
    return n;
}

char *fake_host_last_head(fake_host *h)
{
    pthread_mutex_lock(&h->mu);
    char *s = util_strdup(h->last_head);
    pthread_mutex_unlock(&h->mu);
    return s;
}
