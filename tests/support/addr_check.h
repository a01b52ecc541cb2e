/*
 * Test helper: checks that text a Discord user reads names no internal address, the fake
 * servers' loopback host nor their ports. A port is looked for as a number of its own: a plain
 * strstr of "41234" also matches inside a snowflake or a seed that happens to hold those digits
 * (test_llm_e2e failed at random that way, with nothing leaked), while "host:41234" or "port
 * 41234" is a leak. Bodies in addr_check.c (test-support library); used by every test that
 * checks a reply for an address, so the rule is the same everywhere.
 */
#ifndef FLUXBOT_TEST_ADDR_CHECK_H
#define FLUXBOT_TEST_ADDR_CHECK_H

#include <stdbool.h>
#include <stddef.h>

/* True when text holds the decimal number num with no digit right before or after it. */
bool addr_check_has_number(const char *text, unsigned num);

/* What text names of an address, written into what (cap bytes): a loopback host
 * ("127.0.0.1", "localhost"), a URL ("://"), or one of the nports ports as a number of its
 * own (ports <= 0 are skipped: a fake that is not running). False when it names none. */
bool addr_check_find(const char *text, const int *ports, size_t nports, char *what, size_t cap);

/* Fails the current cmocka test, naming what was found, when addr_check_find finds anything. */
void addr_check_none(const char *text, const int *ports, size_t nports);

#endif
