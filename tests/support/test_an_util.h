/*
 * Helpers shared by the analytics tests (tests/test_an_*.c): a scratch directory per test,
 * event builders and small SQL probes. Bodies in test_an_util.c (test-support library).
 */
#ifndef FLUXBOT_TEST_AN_UTIL_H
#define FLUXBOT_TEST_AN_UTIL_H

#include <fcntl.h>
#include <ftw.h>
#include <linux/fs.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sqlite3.h>

#include "analytics/an_event.h"

typedef struct tdir {
    char path[256];
} tdir;

void tdir_make(tdir *d);

void tdir_file(const tdir *d, const char *name, char *out, size_t outlen);

int tdir_rm_one(const char *p, const struct stat *sb, int flag, struct FTW *ftw);

void tdir_remove(tdir *d);

/* Makes a file unwritable even for root: the immutable attribute when running as root (root
 * ignores permission bits), mode 0444 otherwise. Returns 0 on success. */
int make_unwritable(const char *path, int on);

an_event ev_command(uint64_t seq, int64_t ts, uint64_t user, const char *name, bool ok);

/* A command_usage row of another kind (a button, an autocomplete, ...). */
an_event ev_interaction(uint64_t seq, int64_t ts, uint64_t user, const char *name, an_cmd_kind kind,
                        bool ok);

an_event ev_image(uint64_t seq, int64_t ts, uint64_t user, const char *res, uint32_t ms, bool video,
                  bool ok);

an_event ev_activity(uint64_t seq, int64_t ts, uint64_t user, const char *action);

/* First column of the first row of sql as an integer (-1 on error or no row). */
int64_t sql_int(sqlite3 *db, const char *sql);

/* Number of rows in the symmetric difference of two queries' results (0 = same multiset
 * of rows, as far as EXCEPT's set semantics go). */
int64_t sql_diff(sqlite3 *db, const char *q1, const char *q2);

/* A small deterministic PRNG (xorshift64*) so failures reproduce. */
uint64_t rnd_next(uint64_t *s);

/* Compares every rollup table with aggregates recomputed from the raw rows by plain SQL
 * (cmocka assertions: call it from a cmocka test). */
void assert_rollups_match_raw(sqlite3 *db);

#endif
