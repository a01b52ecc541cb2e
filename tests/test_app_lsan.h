#ifndef FLUXBOT_TEST_APP_LSAN_H
#define FLUXBOT_TEST_APP_LSAN_H

/*
 * For test binaries that run the whole bot (gateway and ComfyUI websocket both alive):
 * include in exactly one .c file of the binary.
 *
 * libwebsockets 4.1.6 leaks the CA store of all but one client context when several contexts
 * created with LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT are alive at once (the gateway's, and the
 * ComfyUI websocket's when a server is https; reproduced with two bare lws_create_context
 * calls; tests may run several bots and fakes in one process). It is freed
 * nowhere, once per context, at exit. Suppressed by the allocating library: ASan's fast
 * unwinder stops inside OpenSSL (no frame pointers), so the lws frame is not visible without
 * the slow unwinder, which triples the run time. Our code never allocates through OpenSSL.
 *
 * Binaries that draw the /stats chart (cairo) also load fontconfig, whose process-wide font
 * cache is built once and released only by FcFini, for the last user of the library: the
 * fluxbot executable calls it at exit (an_chart_release), a test binary that keeps drawing
 * until its end does not. Our code never allocates through fontconfig.
 */
const char *__lsan_default_suppressions(void);
const char *__lsan_default_suppressions(void)
{
    return "leak:libcrypto.so\nleak:libssl.so\nleak:libfontconfig.so\n";
}

#endif
