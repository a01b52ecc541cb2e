#include "death.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

void death_run(void (*fn)(void *), void *arg, death *d)
{
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(fds[0]);
        dup2(fds[1], 2);
        fn(arg);
        _exit(0);
    }
    close(fds[1]);
    size_t len = 0;
    ssize_t r;
    while ((r = read(fds[0], d->err + len, sizeof d->err - 1 - len)) > 0)
        len += (size_t)r;
    d->err[len] = '\0';
    close(fds[0]);
    assert_int_equal(waitpid(pid, &d->status, 0), pid);
}
