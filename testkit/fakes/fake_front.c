/*
 * fake_front: TCP forwarder with a stall switch (see fake_front.h).
 *
 * One poll() loop: the listening socket, a self-pipe that wakes the loop for stop, and one
 * entry per accepted connection (client socket, backend socket or -1 when stalled). Data is
 * copied with blocking writes: both peers are on loopback and read continuously, so a write
 * never waits long, and a forwarder that preserves order needs no buffering of its own.
 */
#include "fakes/fake_front.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "fluxbot/log.h"

#define FAKE_FRONT_LOG "fake_front"
#define FAKE_FRONT_MAX 256

typedef struct fake_front_link {
    int cli, back; /* back == -1: stalled */
} fake_front_link;

struct fake_front {
    int lfd, backend_port, port;
    int wake[2];
    pthread_t th;
    bool th_started;
    atomic_bool stop, stall;
    pthread_mutex_t mu; /* guards st */
    fake_front_stats st;
    fake_front_link links[FAKE_FRONT_MAX];
    unsigned nlinks; /* service thread only */
};

static int connect_backend(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return -1;
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

static bool write_all(int fd, const char *p, size_t n)
{
    while (n) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return false;
        p += w;
        n -= (size_t)w;
    }
    return true;
}

static void link_close(fake_front *f, unsigned i)
{
    close(f->links[i].cli);
    if (f->links[i].back >= 0) close(f->links[i].back);
    f->links[i] = f->links[--f->nlinks];
    pthread_mutex_lock(&f->mu);
    f->st.open--;
    pthread_mutex_unlock(&f->mu);
}

static void on_accept(fake_front *f)
{
    int c = accept4(f->lfd, NULL, NULL, SOCK_CLOEXEC);
    if (c < 0) return;
    if (f->nlinks >= FAKE_FRONT_MAX) {
        close(c);
        return;
    }
    const bool stall = atomic_load(&f->stall);
    int b = -1;
    if (!stall) {
        b = connect_backend(f->backend_port);
        if (b < 0) {
            LOG_WARN(FAKE_FRONT_LOG, "cannot reach the backend port %d", f->backend_port);
            close(c);
            return;
        }
    }
    f->links[f->nlinks++] = (fake_front_link){.cli = c, .back = b};
    pthread_mutex_lock(&f->mu);
    f->st.accepted++;
    f->st.open++;
    if (stall)
        f->st.stalled++;
    else
        f->st.forwarded++;
    pthread_mutex_unlock(&f->mu);
}

static void *service_main(void *arg)
{
    fake_front *f = arg;
    struct pollfd pf[2 + 2 * FAKE_FRONT_MAX];
    char buf[65536];
    while (!atomic_load(&f->stop)) {
        unsigned n = 0;
        pf[n++] = (struct pollfd){.fd = f->wake[0], .events = POLLIN};
        pf[n++] = (struct pollfd){.fd = f->lfd, .events = POLLIN};
        const unsigned nl = f->nlinks;
        for (unsigned i = 0; i < nl; i++) {
            pf[n++] = (struct pollfd){.fd = f->links[i].cli, .events = POLLIN};
            pf[n++] = (struct pollfd){.fd = f->links[i].back, .events = POLLIN}; /* -1: skipped */
        }
        if (poll(pf, n, 1000) < 0) {
            if (errno == EINTR) continue;
            break;
        }
        if (pf[0].revents) {
            char x[16];
            while (read(f->wake[0], x, sizeof x) > 0) {
            }
        }
        /* Links are handled from the last so that closing one (swap with the last) keeps the
         * indices of those not yet visited. */
        for (unsigned i = nl; i-- > 0;) {
            fake_front_link *l = &f->links[i];
            bool dead = false;
            for (int dir = 0; dir < 2 && !dead; dir++) {
                short re = pf[2 + 2 * i + (unsigned)dir].revents;
                if (!re) continue;
                int from = dir == 0 ? l->cli : l->back, to = dir == 0 ? l->back : l->cli;
                ssize_t r = recv(from, buf, sizeof buf, 0);
                if (r <= 0) {
                    if (r < 0 && errno == EINTR) continue;
                    dead = true;
                } else if (to >= 0 && !write_all(to, buf, (size_t)r)) {
                    dead = true;
                }
            }
            if (dead) link_close(f, i);
        }
        if (pf[1].revents & POLLIN) on_accept(f);
    }
    while (f->nlinks)
        link_close(f, f->nlinks - 1);
    return NULL;
}

fake_front *fake_front_start(int backend_port)
{
    fake_front *f = calloc(1, sizeof *f);
    if (!f) return NULL;
    f->backend_port = backend_port;
    f->lfd = -1;
    f->wake[0] = f->wake[1] = -1;
    pthread_mutex_init(&f->mu, NULL);
    atomic_init(&f->stop, false);
    atomic_init(&f->stall, false);
    struct sockaddr_in a = {.sin_family = AF_INET};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t al = sizeof a;
    f->lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (f->lfd < 0 || bind(f->lfd, (struct sockaddr *)&a, sizeof a) != 0 ||
        listen(f->lfd, 64) != 0 || getsockname(f->lfd, (struct sockaddr *)&a, &al) != 0 ||
        pipe2(f->wake, O_CLOEXEC | O_NONBLOCK) != 0) {
        LOG_ERROR(FAKE_FRONT_LOG, "cannot listen on 127.0.0.1: %s", strerror(errno));
        fake_front_stop(f);
        return NULL;
    }
    f->port = ntohs(a.sin_port);
    if (pthread_create(&f->th, NULL, service_main, f) != 0) {
        fake_front_stop(f);
        return NULL;
    }
    f->th_started = true;
    return f;
}

void fake_front_stop(fake_front *f)
{
    if (!f) return;
    atomic_store(&f->stop, true);
    if (f->wake[1] >= 0) {
        ssize_t w = write(f->wake[1], "x", 1);
        (void)w;
    }
    if (f->th_started) pthread_join(f->th, NULL);
    if (f->lfd >= 0) close(f->lfd);
    if (f->wake[0] >= 0) close(f->wake[0]);
    if (f->wake[1] >= 0) close(f->wake[1]);
    pthread_mutex_destroy(&f->mu);
    free(f);
}

int fake_front_port(const fake_front *f)
{
    return f->port;
}

void fake_front_set_stall(fake_front *f, bool stall)
{
    atomic_store(&f->stall, stall);
}

void fake_front_get_stats(fake_front *f, fake_front_stats *out)
{
    pthread_mutex_lock(&f->mu);
    *out = f->st;
    pthread_mutex_unlock(&f->mu);
}
