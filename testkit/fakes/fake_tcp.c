/* The loopback listener the small fakes share (see fake_tcp.h). */
#include "fakes/fake_tcp.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

struct fake_tcp {
    int listen_fd;
    int wake[2];
    int port;
    pthread_t thread;
    fake_tcp_serve_fn serve;
    void *ctx;
};

static void *accept_main(void *arg)
{
    fake_tcp *t = arg;
    for (;;) {
        struct pollfd p[2] = {{t->listen_fd, POLLIN, 0}, {t->wake[0], POLLIN, 0}};
        int n = poll(p, 2, -1);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 || p[1].revents) break;
        int fd = accept4(t->listen_fd, NULL, NULL, SOCK_CLOEXEC);
        if (fd < 0) continue;
        t->serve(t->ctx, fd);
        shutdown(fd, SHUT_WR);
        close(fd);
    }
    return NULL;
}

fake_tcp *fake_tcp_start(fake_tcp_serve_fn serve, void *ctx)
{
    fake_tcp *t = calloc(1, sizeof *t);
    if (!t) return NULL;
    t->serve = serve;
    t->ctx = ctx;
    t->wake[0] = t->wake[1] = -1;
    t->listen_fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    struct sockaddr_in a = {0};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t al = sizeof a;
    if (t->listen_fd < 0 || bind(t->listen_fd, (struct sockaddr *)&a, sizeof a) != 0 ||
        listen(t->listen_fd, 64) != 0 || getsockname(t->listen_fd, (struct sockaddr *)&a, &al) ||
        pipe2(t->wake, O_CLOEXEC) != 0)
        goto fail;
    t->port = ntohs(a.sin_port);
    if (pthread_create(&t->thread, NULL, accept_main, t) != 0) goto fail;
    return t;
fail:
    if (t->listen_fd >= 0) close(t->listen_fd);
    if (t->wake[0] >= 0) close(t->wake[0]);
    if (t->wake[1] >= 0) close(t->wake[1]);
    free(t);
    return NULL;
}

void fake_tcp_stop(fake_tcp *t)
{
    if (!t) return;
    char c = 1;
    ssize_t w;
    do {
        w = write(t->wake[1], &c, 1);
    } while (w < 0 && errno == EINTR);
    pthread_join(t->thread, NULL);
    close(t->listen_fd);
    close(t->wake[0]);
    close(t->wake[1]);
    free(t);
}

int fake_tcp_port(const fake_tcp *t)
{
    return t->port;
}

int fake_tcp_wake_fd(const fake_tcp *t)
{
    return t->wake[0];
}

void fake_tcp_send_all(int fd, const void *p, size_t n)
{
    const char *c = p;
    while (n > 0) {
        ssize_t w = send(fd, c, n, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return;
        c += w;
        n -= (size_t)w;
    }
}
