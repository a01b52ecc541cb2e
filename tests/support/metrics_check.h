/*
 * Test helper: a strict reader of the Prometheus text format, used to prove that what the
 * exporter serves is well-formed (every sample after its family's # TYPE, families contiguous
 * and declared once, names and label syntax valid, values numeric) and to look values up.
 * Bodies in metrics_check.c (test-support library).
 */
#ifndef FLUXBOT_TEST_METRICS_CHECK_H
#define FLUXBOT_TEST_METRICS_CHECK_H

#include <ctype.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

bool metrics_check_name_ok(const char *s, size_t n, bool colon);

/* Does sample name `n` belong to family `fam` of type `type`? */
bool metrics_check_belongs(const char *n, size_t nl, const char *fam, const char *type);

/* Returns NULL when text is valid, else a static description of the first problem
 * (with the offending line copied into where). */
const char *metrics_check_validate(const char *text, char *where, size_t wcap);

/* The value of the sample whose text before the value is exactly `series` (e.g.
 * "fluxbot_actor_parks_total{actor=\"x\"}"); NAN when absent. */
double metrics_check_value(const char *text, const char *series);

/* GET /metrics from 127.0.0.1:port; returns the malloc'd body of a 200 answer, else NULL. */
char *metrics_check_scrape(unsigned port);

/* A port that was free a moment ago on 127.0.0.1, below the kernel's ephemeral range so that
 * no connect() can take it before the child binds it (for a child process's metrics_port). */
unsigned metrics_check_free_port(void);

#endif
