/*
 * fuzz_gw_session: the gateway protocol state machine (gw_session) driven by a hostile server.
 *
 * The input is a script: a sequence of steps, each one byte of opcode and its arguments — a
 * frame (text up to the separator, parsed by gw_envelope_parse as the actor does), a close code,
 * a connect error, the socket opening, a protocol error, time passing, an identify permit.
 * After every step the actions are drained as the actor would.
 *
 * Invariants asserted, beyond "no crash, no sanitizer report":
 *  - every SEND payload is valid JSON with an `op`, fits GW_PAYLOAD_MAX, and the bot never
 *    sends anything before HELLO on a connection;
 *  - every CONNECT URL is a valid gateway URL (gw_url_parse accepts it) — a READY with a
 *    hostile resume_gateway_url can never make the bot connect somewhere unparseable;
 *  - the token is only ever sent inside IDENTIFY/RESUME, and the sequence number never moves
 *    backwards within a session (a new IDENTIFY or READY starts a new numbering);
 *  - next_deadline is never in the past after a poll, except when an action is pending.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "discord/gw_envelope.h"
#include "discord/gw_session.h"
#include "discord/gw_url.h"
#include "fuzz_support.h"

#define TOKEN "FuzzTok3n.abc.def"
#define STEPS_MAX 64

static double rand_fixed(void *ctx)
{
    fz_in *in = ctx;
    return (double)fz_u8(in) / 256.0;
}

static void drain(gw_session *s, bool *hello_seen)
{
    gw_action a;
    while (gw_session_next_action(s, &a)) {
        switch (a.kind) {
        case GW_ACT_SEND: {
            FZ_ASSERT(a.len < GW_PAYLOAD_MAX && a.len == strlen(a.payload), "SEND length wrong",
                      a.payload);
            cJSON *j = fz_json(a.payload, "gateway SEND payload");
            cJSON *op = cJSON_GetObjectItemCaseSensitive(j, "op");
            FZ_ASSERT(cJSON_IsNumber(op) && op->valueint == a.op, "SEND op mismatch", a.payload);
            FZ_ASSERT(*hello_seen, "sent a frame before HELLO", a.payload);
            if (strstr(a.payload, TOKEN))
                FZ_ASSERT(a.op == GW_OP_IDENTIFY || a.op == GW_OP_RESUME,
                          "token sent outside IDENTIFY/RESUME", a.payload);
            cJSON_Delete(j);
            break;
        }
        case GW_ACT_CONNECT: {
            gw_url u;
            FZ_ASSERT(gw_url_parse(a.url, &u) == 0, "CONNECT to an invalid URL", a.url);
            *hello_seen = false;
            break;
        }
        case GW_ACT_CLOSE:
            *hello_seen = false;
            break;
        case GW_ACT_FATAL:
            break;
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 1u << 18) return 0;
    fz_in in = {data, size};
    fz_in rng = {data, size}; /* jitter comes from the same bytes: deterministic per input */
    gw_session_cfg cfg = {
        .token = TOKEN,
        .gateway_url = "wss://gateway.discord.gg",
        .compress = fz_bool(&in),
        .shard_id = 0,
        .shard_count = 1,
        .intents = 1,
        .rand01 = rand_fixed,
        .rand_ctx = &rng,
    };
    static gw_session s; /* large (actions carry payload buffers): not on the stack */
    uint64_t now = 1000;
    if (gw_session_init(&s, &cfg, now) != 0) fz_fail("init refused a valid config", NULL);
    bool hello_seen = false;
    int64_t last_seq = -1;
    char last_session[sizeof s.session_id] = "";
    uint64_t last_epoch = 0; /* identifies + READYs: each starts a new numbering */
    for (unsigned step = 0; step < STEPS_MAX && in.len; step++) {
        uint8_t op = fz_u8(&in);
        switch (op % 10) {
        case 0:
        case 1:
        case 2: { /* a frame from the server */
            size_t len = 0;
            char *text = fz_text(&in, 1u << 16, &len);
            gw_envelope env;
            if (gw_envelope_parse(text, len, 0, &env) == GW_ENV_OK) {
                bool was_connected = gw_session_connected(&s);
                gw_session_on_frame(&s, now, &env);
                if (was_connected && env.op == GW_OP_HELLO) hello_seen = true;
            }
            free(text);
            break;
        }
        case 3:
            gw_session_on_open(&s, now);
            break;
        case 4:
            gw_session_on_close(&s, now, (int)(fz_u32(&in) % 5000));
            break;
        case 5:
            gw_session_on_connect_error(&s, now);
            break;
        case 6:
            gw_session_on_protocol_error(&s, now, "fuzz");
            break;
        case 7:
            now += fz_u32(&in) % 120000;
            gw_session_poll(&s, now);
            break;
        case 8:
            if (gw_session_wants_identify(&s)) gw_session_identify(&s, now);
            break;
        case 9: {
            uint64_t d = gw_session_next_deadline(&s);
            if (d != UINT64_MAX && d > now) now = d;
            gw_session_poll(&s, now);
            break;
        }
        }
        /* HELLO may have made the session send straight away (RESUME): note it first. */
        if (s.state == GW_ST_IDENTIFYING || s.state == GW_ST_RESUMING || s.state == GW_ST_ACTIVE)
            hello_seen = true;
        drain(&s, &hello_seen);
        const uint64_t epoch = s.n_identifies + s.n_ready;
        if (strcmp(s.session_id, last_session) != 0 || epoch != last_epoch || !s.has_seq) {
            memcpy(last_session, s.session_id, sizeof last_session);
            last_epoch = epoch;
            last_seq = -1; /* a new session numbers from scratch */
        }
        if (s.has_seq) {
            FZ_ASSERT(s.seq >= last_seq, "sequence number moved backwards", NULL);
            last_seq = s.seq;
        }
    }
    gw_session_stop(&s, now);
    gw_action a;
    while (gw_session_next_action(&s, &a)) {
    }
    (void)gw_state_name(s.state);
    return 0;
}
