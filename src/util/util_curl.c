/* One curl_global_init per process (see util_curl.h). */
#include "util/util_curl.h"

#include <curl/curl.h>
#include <pthread.h>

static pthread_once_t g_once = PTHREAD_ONCE_INIT;

static void init_once(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
}

void util_curl_init(void)
{
    pthread_once(&g_once, init_once);
}
