/* The libraries' versions for --version (see version.h). */
#include "app/version.h"

#include <cjson/cJSON.h>
#include <curl/curl.h>
#include <libwebsockets.h>
#include <sqlite3.h>
#include <zlib.h>

/* Concurrency Kit has no version call and no version macro, and what fluxbot uses of it is
 * inlined from its headers: cmake/install.cmake passes the version pkg-config reported. */
#ifndef FLUXBOT_CK_VERSION
#error "version.c needs FLUXBOT_CK_VERSION from cmake/install.cmake"
#endif

#define STR2(x) #x
#define STR(x) STR2(x)

static void line(FILE *out, const char *name, const char *runtime, const char *built)
{
    fprintf(out, "  %-16s %-14s (runtime; built against %s)\n", name, runtime, built);
}

void version_print_libraries(FILE *out)
{
    fprintf(out, "libraries:\n");
    line(out, "libwebsockets", lws_get_library_version(), LWS_LIBRARY_VERSION);
    const curl_version_info_data *cv = curl_version_info(CURLVERSION_NOW);
    line(out, "libcurl", cv && cv->version ? cv->version : "unknown", LIBCURL_VERSION);
    line(out, "SQLite", sqlite3_libversion(), SQLITE_VERSION);
    line(out, "cJSON", cJSON_Version(),
         STR(CJSON_VERSION_MAJOR) "." STR(CJSON_VERSION_MINOR) "." STR(CJSON_VERSION_PATCH));
    line(out, "zlib", zlibVersion(), ZLIB_VERSION);
    fprintf(out, "  %-16s %-14s (compile-time: inlined from its headers, no runtime version)\n",
            "Concurrency Kit", FLUXBOT_CK_VERSION);
}
