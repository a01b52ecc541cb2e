/*
 * Test helper: no internal address in user-visible text (see addr_check.h).
 */
#include "addr_check.h"

#include <ctype.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

bool addr_check_has_number(const char *text, unsigned num)
{
    char digits[16];
    int n = snprintf(digits, sizeof digits, "%u", num);
    for (const char *p = text; (p = strstr(p, digits)); p++)
        if ((p == text || !isdigit((unsigned char)p[-1])) && !isdigit((unsigned char)p[n]))
            return true;
    return false;
}

bool addr_check_find(const char *text, const int *ports, size_t nports, char *what, size_t cap)
{
    static const char *const hosts[] = {"127.0.0.1", "localhost", "://"};
    for (size_t i = 0; i < sizeof hosts / sizeof hosts[0]; i++)
        if (strstr(text, hosts[i])) {
            snprintf(what, cap, "\"%s\"", hosts[i]);
            return true;
        }
    for (size_t i = 0; i < nports; i++)
        if (ports[i] > 0 && addr_check_has_number(text, (unsigned)ports[i])) {
            snprintf(what, cap, "port %d", ports[i]);
            return true;
        }
    return false;
}

void addr_check_none(const char *text, const int *ports, size_t nports)
{
    char what[64];
    if (addr_check_find(text, ports, nports, what, sizeof what))
        fail_msg("user-visible text names %s: %s", what, text);
}
