/*
 * Test helper for death tests: runs a function in a forked child and keeps its exit status and
 * what it wrote to stderr, so a test can check that a debug-build rule aborts with its message.
 * Bodies in death.c (test-support library); each test judges the outcome its own way.
 */
#ifndef FLUXBOT_TEST_DEATH_H
#define FLUXBOT_TEST_DEATH_H

typedef struct death {
    int status;     /* as waitpid gives it */
    char err[4096]; /* the child's stderr, NUL-terminated (cut at the size) */
} death;

/* Runs fn(arg) in a child whose stderr is captured into d; the child exits 0 when fn returns.
 * Fails the calling cmocka test when the fork, pipe or wait fails. */
void death_run(void (*fn)(void *), void *arg, death *d);

#endif
