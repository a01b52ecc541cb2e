/*
 * version: what `fluxbot --version` prints after its own version — the libraries the process
 * runs with (libwebsockets, libcurl, SQLite, cJSON, zlib, Concurrency Kit). Runtime versions
 * where the library reports one, next to the version the binary was built against, so an
 * operator can tell a library upgraded under the binary; compile-time only otherwise, and the
 * line says so.
 */
#ifndef FLUXBOT_APP_VERSION_H
#define FLUXBOT_APP_VERSION_H

#include <stdio.h>

void version_print_libraries(FILE *out);

#endif
