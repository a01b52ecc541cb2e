/*
 * libcurl's process-wide initialisation, done once for every user of curl in the process
 * (REST actor, gateway, ComfyUI runner, operator commands). curl_global_init is not
 * thread-safe, and curl_easy_init calls it implicitly when nobody did, so every module must go
 * through this before creating a handle. There is deliberately no cleanup: other threads may
 * still use curl, and the process exit releases what it holds.
 */
#ifndef FLUXBOT_UTIL_CURL_H
#define FLUXBOT_UTIL_CURL_H

void util_curl_init(void);

#endif
