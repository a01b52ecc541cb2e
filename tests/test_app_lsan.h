#ifndef FLUXBOT_TEST_APP_LSAN_H
#define FLUXBOT_TEST_APP_LSAN_H

/*
 * For test binaries that run the whole bot (gateway and ComfyUI websocket both alive):
 * include in exactly one .c file of the binary.
 *
 * libwebsockets 4.1.6 leaks the CA store of all but one client context when several contexts
 * created with LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT are alive at once (the gateway's and the
 * ComfyUI websocket's are; reproduced with two bare lws_create_context calls). It is freed
 * nowhere, once per process, at exit. Suppressed by the allocating lws frame only, which needs
 * full unwinding through the uninstrumented libraries.
 */
const char *__asan_default_options(void);
const char *__asan_default_options(void)
{
    return "fast_unwind_on_malloc=0";
}
const char *__lsan_default_suppressions(void);
const char *__lsan_default_suppressions(void)
{
    return "leak:lws_create_vhost\n";
}

#endif
